"""The student checks of chapter 08 (linear recurrent units): correct solutions, written in
several ways, pass the visible and the hidden cases; each typical slip is named; solutions
fitted to the visible inputs fail a hidden case without learning its inputs."""

import cmath
import math
import re

import numpy as np
import pytest
import torch

from course_utils import checks
from course_utils.checks import HiddenCaseError
from course_utils.checks.framework import MISMATCH
from course_utils.lru import linear_recurrence_loop


def _assert_hidden_message_is_clean(error: HiddenCaseError) -> None:
    """A hidden failure names the kind of case, never its inputs: no number at all (but
    the names of dtypes)."""
    message = re.sub(r"(complex|float)(32|64|128)", "", str(error))
    assert "hidden case" in message
    assert not re.search(r"\d", message), message


# ---- Task 1: the eigenvalue parametrisation ---------------------------------------------

def eig_exp(nu, th):
    return torch.exp(-torch.exp(nu) + 1j * torch.exp(th))


def eig_polar(nu, th):
    return torch.polar(torch.exp(-torch.exp(nu)), torch.exp(th))


def eig_cos_sin(nu, th):
    r, phase = torch.exp(-torch.exp(nu)), torch.exp(th)
    return torch.complex(r * torch.cos(phase), r * torch.sin(phase))


def eig_product(nu, th):
    return torch.exp(-torch.exp(nu)) * torch.exp(1j * torch.exp(th))


def eig_cmath_loop(nu, th):
    """A Python loop with cmath: torch.tensor of Python complex numbers is complex64."""
    return torch.tensor([cmath.exp(-math.exp(n) + 1j * math.exp(t))
                         for n, t in zip(nu.tolist(), th.tolist())])


def eig_numpy(nu, th):
    return torch.from_numpy(np.exp(-np.exp(nu.numpy()) + 1j * np.exp(th.numpy())))


def eig_cmath_loop_complex128(nu, th):
    """A Python loop with cmath, the tensor made complex128 (at least the parameters'
    precision, float32 or float64)."""
    return torch.tensor([cmath.exp(-math.exp(n) + 1j * math.exp(t))
                         for n, t in zip(nu.tolist(), th.tolist())], dtype=torch.complex128)


def eig_complex64(nu, th):
    return torch.exp(torch.complex(-torch.exp(nu), torch.exp(th)).to(torch.complex64))


def eig_empty_filled(nu, th):
    """An empty complex tensor of the parameters' precision, filled part by part."""
    lam = torch.empty(nu.shape, dtype=(1j * nu).dtype)
    r, phase = torch.exp(-torch.exp(nu)), torch.exp(th)
    lam.real, lam.imag = r * torch.cos(phase), r * torch.sin(phase)
    return lam


EIG_VARIANTS = [eig_exp, eig_polar, eig_cos_sin, eig_product, eig_cmath_loop_complex128,
                eig_numpy, eig_empty_filled]


@pytest.mark.parametrize("fn", EIG_VARIANTS, ids=lambda f: f.__name__)
def test_lru_eigenvalues_correct_variants_pass_visible_and_hidden(fn, capsys):
    checks.check_lru_eigenvalues(fn)
    checks.check_lru_eigenvalues(fn, hidden=True)
    assert capsys.readouterr().out.count("\u2713") == 2


def test_lru_eigenvalues_complex64_result_is_compared_not_crashed_on():
    # a complex64 result is compared with the complex128 reference without a dtype error
    # inside the check: right for float32 parameters; for float64 ones it is a dtype error
    checks.check_lru_eigenvalues(_only_float32(eig_complex64), hidden=True)
    with pytest.raises(AssertionError, match="minus sign"):
        checks.check_lru_eigenvalues(_only_float32(
            lambda nu, th: torch.exp(torch.exp(nu) + 1j * torch.exp(th)).to(torch.complex64)))
    with pytest.raises(AssertionError, match=r"^lambda\[0\] is wrong \(4 modes, float32 as in "
                                             r"the LRU by default\): expected"):
        checks.check_lru_eigenvalues(_only_float32(lambda nu, th: eig_complex64(nu, th) * 1.01))


def _only_float32(fn):
    """``fn`` on float32 parameters; the reference's complex128 on float64 ones."""
    return lambda nu, th: fn(nu, th) if nu.dtype == torch.float32 else eig_exp(nu, th)


@pytest.mark.parametrize("fn", [eig_complex64, eig_cmath_loop,
                                lambda nu, th: eig_exp(nu, th).to(torch.complex64)])
def test_lru_eigenvalues_complex64_from_float64_is_a_dtype_error(fn):
    """float64 parameters give complex128 eigenvalues: a complex64 result (a cast, or
    torch.tensor of Python complex numbers) loses the resolution near the unit circle."""
    with pytest.raises(AssertionError, match=r"^lambda must keep the precision of its float64 "
                                             r"parameters: dtype complex128 \(6 modes, "
                                             r"float64\); got torch.complex64\. .*unit circle"):
        checks.check_lru_eigenvalues(fn)


def test_lru_eigenvalues_complex64_rounds_long_memory_onto_the_circle():
    # the claim of the message: a modulus within 3e-8 of 1 is 1 in complex64
    nu_log = torch.tensor([math.log(2e-8)], dtype=torch.float64)
    lam = eig_exp(nu_log, torch.tensor([-1.0], dtype=torch.float64))
    assert lam.abs().item() < 1 and lam.to(torch.complex64).abs().item() == 1.0


def test_lru_eigenvalues_float32_parameters_are_a_visible_case():
    """The LRU's default dtype is float32: code fixed to float64 fails visibly."""
    def float64_phase(nu, th):
        return torch.polar(torch.exp(-torch.exp(nu)), torch.exp(th).double())

    with pytest.raises(AssertionError, match=r"raised RuntimeError \(.*scalar type Double.*\) "
                                             r"for inputs of dtype torch.float32 \(4 modes, "
                                             r"float32 as in the LRU by default\): part of "
                                             r"your computation uses another dtype"):
        checks.check_lru_eigenvalues(float64_phase)
    cases = lru_checks.LRU_EIGENVALUES.cases(False, None)
    assert {c.params["dtype"] for c in cases} == {"float32", "float64"}


@pytest.mark.parametrize("slip, message", [
    (lambda nu, th: torch.exp(torch.exp(nu) + 1j * torch.exp(th)), "minus sign"),
    (lambda nu, th: torch.exp(-nu + 1j * torch.exp(th)), "not exp\\(-nu_log\\)"),
    (lambda nu, th: torch.exp(-torch.exp(nu) + 1j * th), "phase is exp"),
    (lambda nu, th: torch.exp(-torch.exp(th) + 1j * torch.exp(nu)), "swapped"),
    (lambda nu, th: torch.exp(-torch.exp(nu) - 1j * torch.exp(th)), "complex conjugate"),
    (lambda nu, th: -torch.exp(nu) + 1j * torch.exp(th), "Apply torch.exp"),
    (lambda nu, th: torch.complex(torch.exp(-torch.exp(nu)), torch.exp(th)),
     r"torch.complex\(real, imag\) takes the real and imaginary parts, not the modulus"),
    (lambda nu, th: torch.polar(torch.exp(-torch.exp(nu)), torch.exp(th).float().double()),
     r"^lambda\[\d+\] is wrong \(6 modes, float64\): expected .*agrees only to about 7 "
     r"digits: part of the computation runs in float32"),
    (lambda nu, th: eig_exp(nu, th) * (1 + 2e-8),
     r"agrees only to about 7 digits"),
    (lambda nu, th: torch.exp(-torch.exp(nu)) * torch.cos(torch.exp(th)), "complex.*real part"),
    (lambda nu, th: torch.exp(-torch.exp(nu)), "complex.*modulus"),
    (lambda nu, th: torch.view_as_real(eig_exp(nu, th)), "view_as_real"),
    (lambda nu, th: eig_exp(nu, th).numpy(), "torch tensor.*NumPy array"),
    (lambda nu, th: eig_exp(nu, th).tolist(), "torch tensor.*list"),
    (lambda nu, th: None, "torch tensor.*NoneType"),
    (lambda nu, th: eig_exp(nu, th)[:, None], r"shape of nu_log, \(6,\); got \(6, 1\)"),
    (lambda nu, th: eig_exp(nu, th) * complex("nan"), r"lambda\[0\] is wrong .*got nan.*NaN"),
    (lambda nu, th: eig_exp(nu, th) * 1.01,
     r"^lambda\[0\] is wrong \(6 modes, float64\): expected -?\d\.\d+[+-]\d\.\d+j, got "
     r"-?\d\.\d+[+-]\d\.\d+j\. For nu_log = "),
])
def test_lru_eigenvalue_slips_are_named(slip, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_lru_eigenvalues(slip)


def test_lru_eigenvalues_small_error_shows_differing_digits():
    with pytest.raises(AssertionError) as info:
        checks.check_lru_eigenvalues(lambda nu, th: eig_exp(nu, th) + 1e-9)
    found = MISMATCH.match(str(info.value))
    assert found and found["name"] == "lambda" and found["case"] == "6 modes, float64"
    assert found["expected"] != found["got"]


def test_lru_eigenvalues_changing_inputs_in_place_is_reported():
    def exp_in_place(nu, th):
        return torch.exp(-nu.exp_() + 1j * torch.exp(th))

    with pytest.raises(AssertionError, match="changed its input nu_log in place"):
        checks.check_lru_eigenvalues(exp_in_place)


def _visible_lambdas():
    """The eigenvalues of the visible cases' parameters, by number of modes."""
    out = {}
    for case in checks.lru.LRU_EIGENVALUES.cases(False, None):
        nu_log, theta_log = checks.lru._eigen_inputs(case.params)
        out[len(nu_log)] = eig_exp(nu_log, theta_log)
    return out


_VISIBLE_LAMBDA = _visible_lambdas()


def eig_hard_coded(nu, th):
    """The visible answers, whatever the parameters (cut or padded with zeros)."""
    stored = _VISIBLE_LAMBDA.get(len(nu), _VISIBLE_LAMBDA[6])[:len(nu)]
    return torch.cat([stored, stored.new_zeros(len(nu) - len(stored))])


def eig_six_or_four_modes(nu, th):
    """A loop over the visible numbers of modes: 6 in float64, 4 in float32."""
    n = 6 if nu.dtype == torch.float64 else 4
    return torch.stack([eig_exp(nu[k], th[k]) for k in range(min(n, len(nu)))]
                       + [eig_exp(nu[k], -th[k]) for k in range(n, len(nu))])


@pytest.mark.parametrize("fn", [eig_hard_coded, eig_six_or_four_modes], ids=lambda f: f.__name__)
def test_lru_eigenvalues_fitted_to_visible_inputs_fail_hidden(fn, capsys):
    checks.check_lru_eigenvalues(fn)
    assert "\u2713" in capsys.readouterr().out
    with pytest.raises(HiddenCaseError) as info:
        checks.check_lru_eigenvalues(fn, hidden=True)
    _assert_hidden_message_is_clean(info.value)


# ---- Task 2: the associative operator of the scan ---------------------------------------

def combine_right(e1, e2):
    a1, b1 = e1
    a2, b2 = e2
    return a2 * a1, a2 * b1 + b2


def combine_list(e1, e2):
    return [torch.mul(e2[0], e1[0]), torch.addcmul(e2[1], e2[0], e1[1])]


def combine_parts(e1, e2):
    """Complex products written out with real and imaginary parts."""
    (a1, b1), (a2, b2) = e1, e2

    def mul(x, y):
        return torch.complex(x.real * y.real - x.imag * y.imag,
                             x.real * y.imag + x.imag * y.real)
    return mul(a2, a1), mul(a2, b1) + b2


def combine_complex128(e1, e2):
    (a1, b1), (a2, b2) = ((x.to(torch.complex128) for x in e) for e in (e1, e2))
    return a2 * a1, a2 * b1 + b2


def combine_cloned_in_place(e1, e2):
    a1, b1 = e1
    a2, b2 = e2
    b = (a2 * b1).add_(b2)
    return torch.broadcast_tensors(a2, a1)[0].clone().mul_(a1), b


SCAN_VARIANTS = [combine_right, combine_list, combine_parts, combine_complex128,
                 combine_cloned_in_place]


@pytest.mark.parametrize("fn", SCAN_VARIANTS, ids=lambda f: f.__name__)
def test_scan_operator_correct_variants_pass_visible_and_hidden(fn, capsys):
    checks.check_scan_operator(fn)
    checks.check_scan_operator(fn, hidden=True)
    assert capsys.readouterr().out.count("\u2713") == 2


def _to64(fn):
    return lambda e1, e2: tuple(v.to(torch.complex64) for v in fn(e1, e2))


def test_scan_operator_complex64_result_is_compared_not_crashed_on():
    # a complex64 result is compared with a complex128 reference without a dtype error
    # inside the check; where the inputs are complex64 it passes, where they are
    # complex128 it is a dtype error
    def to64_where_complex64(fn):
        return lambda e1, e2: (_to64(fn)(e1, e2) if e1[1].dtype == torch.complex64
                               else fn(e1, e2))

    checks.check_scan_operator(to64_where_complex64(combine_right), hidden=True)
    with pytest.raises(AssertionError, match=r"a must keep the precision of the inputs, "
                                             r"complex128 \(two elements of 5 modes\); got "
                                             r"torch.complex64"):
        checks.check_scan_operator(_to64(combine_right))


def test_scan_operator_complex128_result_of_complex64_inputs_passes():
    """The next cell folds complex64 elements: a complex128 result is more precise, and the
    cell runs with it (the toolkit's scan forms its multipliers in double, too)."""
    def to128(e1, e2):
        return tuple(v.to(torch.complex128) for v in combine_right(e1, e2))

    checks.check_scan_operator(to128, hidden=True)
    case = [c for c in lru_checks.SCAN_OPERATOR.cases(False, None)
            if c.params["kind"] == "fold"][0]
    a, b = lru_checks._fold_inputs(case.params)
    assert a.dtype == b.dtype == torch.complex64


@pytest.mark.parametrize("slip, message", [
    (lambda e1, e2: (e1[0] * e2[0], e1[0] * e2[1] + e1[1]), "order is reversed"),
    (lambda e1, e2: (e2[0] * e1[0], e1[1] + e2[1]), "multiplied by a2"),
    (lambda e1, e2: (e2[0] * e1[0], e2[0] * (e1[1] + e2[1])), "added after"),
    (lambda e1, e2: (e2[0] * e1[0], e1[0] * e1[1] + e2[1]), "not by a1"),
    (lambda e1, e2: (e2[0] + e1[0], e2[0] * e1[1] + e2[1]), "a2 \\* a1.*not the sum"),
    (lambda e1, e2: (e2[0], e2[0] * e1[1] + e2[1]), "multiplies by both"),
    (lambda e1, e2: (e2[0] * e1[0], (e2[0] * e1[1]).real + e2[1]),
     r"^b\[0\] is wrong .*The imaginary part of a2 \* b1 is dropped"),
    (lambda e1, e2: (e2[0] * e1[0], e2[0].real * e1[1] + e2[1]),
     "imaginary part of the later multiplier a2 is dropped"),
    (lambda e1, e2: (e2[0] * e1[0], e2[0] * e1[1].real + e2[1]),
     "imaginary part of the earlier offset b1 is dropped"),
    (lambda e1, e2: (e2[0] * e1[0], e2[0].conj() * e1[1] + e2[1]),
     r"^b\[0\] is wrong .*The later multiplier a2 is conjugated: the offset"),
    (lambda e1, e2: (e2[0] * e1[0], e2[0] * e1[1].conj() + e2[1]),
     "The earlier offset b1 is conjugated"),
    (lambda e1, e2: (e2[0] * e1[0], torch.conj(e2[0] * e1[1]) + e2[1]),
     "The product is conjugated: the offset"),
    (lambda e1, e2: (e2[0].conj() * e1[0], e2[0].conj() * e1[1] + e2[1]),
     r"^a\[0\] is wrong .*The later multiplier a2 is conjugated: the combined multiplier"),
    (lambda e1, e2: (e2[0] * e1[0].conj(), e2[0] * e1[1] + e2[1]),
     "The earlier multiplier a1 is conjugated"),
    (lambda e1, e2: (e2[0] * e1[1] + e2[1], e2[0] * e1[0]),
     "order \\(a, b\\).*returned \\(b, a\\)"),
    (lambda e1, e2: (e2[0] * e1[0], (e2[0] * e1[1] + e2[1]).real), "b must be complex"),
    (lambda e1, e2: (e2[0] @ e1[0], e2[0] * e1[1] + e2[1]), "broadcast shape"),
    (lambda e1, e2: e2[0] * e1[0], "pair"),
    (lambda e1, e2: (e2[0] * e1[0], e2[0] * e1[1] + e2[1], None), "pair.*length 3"),
    (lambda e1, e2: tuple(v.numpy() for v in combine_right(e1, e2)), "torch tensor.*NumPy array"),
    (lambda e1, e2: (e2[0] * e1[0], None), "b of combine.*torch tensor.*NoneType"),
    (lambda e1, e2: (e2[0] * e1[0], e2[0] * e1[1] + e2[1] + 1e-3),
     r"^b\[0\] is wrong \(two elements of 5 modes\): expected -?\d\.\d+[+-]\d\.\d+j, got "
     r"-?\d\.\d+[+-]\d\.\d+j\. The combined offset is wrong"),
    (lambda e1, e2: (e2[0] * e1[0] * 1.01, e2[0] * e1[1] + e2[1]),
     r"^a\[0\] is wrong \(two elements of 5 modes\): expected .*multiplies by both"),
    (lambda e1, e2: (e1[0] * e2[0], e1[0] * e2[1] + e1[1]),
     r"^b\[0\] is wrong \(two elements of 5 modes\): expected .*The order is reversed"),
])
def test_scan_operator_slips(slip, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_scan_operator(slip)


def test_scan_operator_small_error_shows_differing_digits():
    with pytest.raises(AssertionError) as info:
        checks.check_scan_operator(lambda e1, e2: (e2[0] * e1[0], e2[0] * e1[1] + e2[1] + 1e-9))
    found = MISMATCH.match(str(info.value))
    assert found and found["name"] == "b" and found["index"] == "[0]"
    assert found["expected"] != found["got"]


def test_scan_operator_fold_shows_the_first_wrong_offset():
    """An operator right on elements of one shape, wrong where the multiplier is shared
    (the next cell's fold), shows the folded offset beside the loop's state."""
    def conjugates_shared(e1, e2):
        a, b = combine_right(e1, e2)
        return (a, b.conj()) if e1[0].shape != e2[0].shape else (a, b)

    with pytest.raises(AssertionError, match=r"^b\[0, 0\] is wrong \(folded as in the next "
                                             r"cell\): expected .*, got .*loop's state"):
        checks.check_scan_operator(conjugates_shared)


def test_scan_operator_changing_inputs_in_place_is_reported():
    def multiplies_in_place(e1, e2):
        a1, b1 = e1
        a2, b2 = e2
        return a2.mul_(a1), a2 * b1 + b2       # a2 is the notebook's shared `a`

    with pytest.raises(AssertionError, match=r"changed its input a2 = e2\[0\] in place"):
        checks.check_scan_operator(multiplies_in_place)


def test_scan_operator_folds_like_the_next_cell():
    # the next cell folds with e = (a.expand(1, H), b[:1]) and (a, b[k]) in complex64; an
    # operator that drops the leading axis works on the pairs but not there
    def squeezes(e1, e2):
        a, b = combine_right(e1, e2)
        return a.reshape(-1), b.reshape(-1)

    with pytest.raises(AssertionError, match="folding your operator"):
        checks.check_scan_operator(squeezes)


def test_scan_operator_check_matches_the_toolkit_loop():
    # the fold of the reference operator is the loop of course_utils.lru
    a = torch.polar(torch.full((3,), 0.9), torch.tensor([0.1, 1.0, 2.0]))
    b = torch.randn(5, 3, generator=torch.Generator().manual_seed(0), dtype=torch.complex64)
    e = (a.expand(1, 3), b[:1])
    for k in range(1, 5):
        e = combine_right(e, (a, b[k]))
    assert torch.allclose(e[1][0], linear_recurrence_loop(a, b)[4], atol=1e-6)


_G = torch.Generator().manual_seed(9)
_VISIBLE_E = [(torch.randn(5, generator=_G, dtype=torch.complex128),
               torch.randn(5, generator=_G, dtype=torch.complex128)) for _ in range(3)]


def combine_flattened(e1, e2):
    """Flattens everything: right for elements of one shape, wrong when a is shared."""
    (a1, b1), (a2, b2) = e1, e2
    a = (a2.reshape(-1) * a1.reshape(-1)).reshape(a1.shape)
    b = (a2.reshape(-1) * b1.reshape(-1)).reshape(b1.shape) + b2
    return a, b


def combine_fitted_to_shapes(e1, e2):
    """Right on the visible shapes only, (5,) and the fold's (1, 4) and (4,)."""
    if tuple(e1[0].shape) in ((5,), (1, 4)):
        return combine_right(e1, e2)
    return e2[0] * e1[0], e1[1] + e2[1]


@pytest.mark.parametrize("fn", [combine_flattened, combine_fitted_to_shapes],
                         ids=lambda f: f.__name__)
def test_scan_operator_fitted_to_visible_inputs_fails_hidden(fn, capsys):
    checks.check_scan_operator(fn)
    assert "\u2713" in capsys.readouterr().out
    with pytest.raises(HiddenCaseError) as info:
        checks.check_scan_operator(fn, hidden=True)
    _assert_hidden_message_is_clean(info.value)


# ---- the three parts of the checks: cases, probe, judge ---------------------------------

import inspect  # noqa: E402
import io  # noqa: E402

from course_utils.checks import lru as lru_checks  # noqa: E402
from course_utils.checks.framework import StudentError, judge_case, observe, run_check  # noqa: E402
from course_utils.checks.observations import decode, encode, pack, unpack  # noqa: E402

SALTS = [1, 2, 3, 17, 99, 2024, 31337, 987654321]

_CORRECT = [(lru_checks.LRU_EIGENVALUES, fn) for fn in EIG_VARIANTS] \
    + [(lru_checks.SCAN_OPERATOR, fn) for fn in SCAN_VARIANTS]


@pytest.mark.parametrize("check, fn", _CORRECT,
                         ids=[f"{c.name}-{f.__name__}" for c, f in _CORRECT])
def test_correct_variants_pass_hidden_cases_with_any_salt(check, fn, capsys):
    for salt in SALTS:
        run_check(check, (fn,), hidden=True, salt=salt)
    assert capsys.readouterr().out.count("\u2713") == len(SALTS)


def test_passed_line_shows_the_visible_moduli():
    g = torch.Generator().manual_seed(4)
    mod = torch.exp(-torch.exp(torch.randn(6, generator=g, dtype=torch.float64) - 2))
    assert f"moduli in [{mod.min():.3f}, {mod.max():.3f}]" in lru_checks.LRU_EIGENVALUES.passed
    nu_log, _ = lru_checks._eigen_inputs(lru_checks.LRU_EIGENVALUES.cases(False, None)[0].params)
    assert torch.equal(nu_log, torch.randn(6, generator=torch.Generator().manual_seed(4),
                                           dtype=torch.float64) - 2)


#: Everything that computes an expected value: no probe may reach it.
_REFERENCE_NAMES = ["course_utils.lru", "_lru_lambda", "scan_operator",
                    "linear_recurrence_loop", "linear_recurrence_scan", "_judge", "expected",
                    "exp_a", "exp_b", "_close", "torch.exp(", "a * x"]
_PROBES = [lru_checks._probe_eigenvalues, lru_checks._eigen_inputs,
           lru_checks._ring_parameters, lru_checks._probe_scan, lru_checks._observe_combine,
           lru_checks._next_element, lru_checks._plain_value, lru_checks._scan_elements,
           lru_checks._fold_inputs, lru_checks._draw]


@pytest.mark.parametrize("fn", _PROBES, ids=lambda f: f.__name__)
def test_probes_compute_no_expected_value(fn):
    source = inspect.getsource(fn)
    for name in _REFERENCE_NAMES:
        assert name not in source, (fn.__name__, name)


def test_probe_observations_hold_no_expected_value():
    for case in lru_checks.LRU_EIGENVALUES.cases(True, 7):
        seen = lru_checks.LRU_EIGENVALUES.probe(case, lambda nu, th: None)
        assert set(seen) == {"got", "nu_log", "theta_log"} and seen["got"] is None
    for case in lru_checks.SCAN_OPERATOR.cases(True, 7):
        seen = lru_checks.SCAN_OPERATOR.probe(case, combine_right)
        steps = seen.get("steps") or [seen[k] for k in ("pair", "e12", "left", "e23", "right")
                                      if k in seen]
        assert steps and all(set(step) == {"got", "inputs"} for step in steps)


def _graded(check, case, fn):
    """The case as the grader runs it: the probe's observations through the bytes, then
    the judge, without the student's exception objects."""
    tree, blobs = encode(observe(check, case, (fn,)))
    message, blobs = unpack(io.BytesIO(pack({"v": tree}, blobs)).read)
    judge_case(check, case, decode(message["v"], blobs))


@pytest.mark.parametrize("check, fn", [(lru_checks.LRU_EIGENVALUES, eig_exp),
                                       (lru_checks.LRU_EIGENVALUES, eig_cmath_loop_complex128),
                                       (lru_checks.SCAN_OPERATOR, combine_right),
                                       (lru_checks.SCAN_OPERATOR, combine_list)],
                         ids=lambda x: getattr(x, "name", getattr(x, "__name__", "")))
def test_graded_round_trip_passes_a_correct_solution(check, fn):
    for case in check.cases(True, 11):
        _graded(check, case, fn)


@pytest.mark.parametrize("check, slip", [
    (lru_checks.LRU_EIGENVALUES, lambda nu, th: torch.exp(torch.exp(nu) + 1j * torch.exp(th))),
    (lru_checks.LRU_EIGENVALUES, lambda nu, th: eig_exp(nu, th).numpy()),
    (lru_checks.LRU_EIGENVALUES, lambda nu, th: eig_exp(nu, th) * 1.01),
    (lru_checks.SCAN_OPERATOR, lambda e1, e2: (e1[0] * e2[0], e1[0] * e2[1] + e1[1])),
    (lru_checks.SCAN_OPERATOR, lambda e1, e2: (e2[0] * e1[0], None)),
    (lru_checks.SCAN_OPERATOR, lambda e1, e2: (e2[0] * e1[0], e2[0] * e1[1] + e2[1] + 1e-3)),
])
def test_graded_messages_are_the_notebooks(check, slip):
    with pytest.raises(AssertionError) as notebook:
        run_check(check, (slip,))
    for case in check.cases(False, None):
        try:
            _graded(check, case, slip)
        except AssertionError as error:
            assert str(error) == str(notebook.value)
            break
    else:
        pytest.fail("the graded run passed")


@pytest.mark.parametrize("make", [
    lambda: (lambda e1, e2: tuple(v.reshape(-1) for v in combine_right(e1, e2))),
    lambda: (lambda e1, e2: combine_right(e1, e2) if e1[0].dim() == 1 else 0),
    lambda: (lambda e1, e2: (e2[0] * e1[0], e1[1] + e2[1])),
], ids=["squeezes", "fold returns no pair", "associative but wrong"])
def test_graded_chained_calls_give_the_notebooks_message(make):
    # the associativity and the fold feed the student's results back into combine
    fn = make()
    with pytest.raises(AssertionError) as notebook:
        run_check(lru_checks.SCAN_OPERATOR, (fn,))
    for case in lru_checks.SCAN_OPERATOR.cases(False, None):
        try:
            _graded(lru_checks.SCAN_OPERATOR, case, fn)
        except AssertionError as error:
            assert str(error) == str(notebook.value)
            break
    else:
        pytest.fail("the graded run passed")


def test_graded_student_exception_is_reported_by_its_type():
    def raises(*args):
        raise ZeroDivisionError("no")

    for check in lru_checks.CHECKS.values():
        with pytest.raises(StudentError) as info:
            _graded(check, check.cases(False, None)[0], raises)
        assert info.value.type_name == "ZeroDivisionError"


def test_combine_returning_a_namedtuple_passes():
    from collections import namedtuple

    Element = namedtuple("Element", "a b")
    checks.check_scan_operator(lambda e1, e2: Element(*combine_right(e1, e2)), hidden=True)


@pytest.mark.parametrize("salt", [None, *SALTS, *range(100, 140)])
def test_hidden_float32_phases_stay_in_range_for_any_salt(salt):
    for case in lru_checks.LRU_EIGENVALUES.cases(True, salt):
        nu_log, theta_log = lru_checks._eigen_inputs(case.params)
        assert nu_log.dtype == getattr(torch, case.params["dtype"])
        if nu_log.dtype == torch.float32:
            assert float(theta_log.max()) <= 3.0
        first = lru_checks._eigen_inputs(case.params)
        assert torch.equal(first[0], nu_log) and torch.equal(first[1], theta_log)


@pytest.mark.parametrize("fn", [eig_hard_coded, eig_six_or_four_modes], ids=lambda f: f.__name__)
def test_lru_eigenvalues_fitted_to_visible_inputs_fail_hidden_with_any_salt(fn):
    for salt in SALTS:
        with pytest.raises(HiddenCaseError):
            run_check(lru_checks.LRU_EIGENVALUES, (fn,), hidden=True, salt=salt)


@pytest.mark.parametrize("fn", [combine_flattened, combine_fitted_to_shapes],
                         ids=lambda f: f.__name__)
def test_scan_operator_fitted_to_visible_inputs_fails_hidden_with_any_salt(fn):
    for salt in SALTS:
        with pytest.raises(HiddenCaseError):
            run_check(lru_checks.SCAN_OPERATOR, (fn,), hidden=True, salt=salt)
