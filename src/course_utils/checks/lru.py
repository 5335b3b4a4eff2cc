"""Checks of chapter 08 (linear recurrent units): the eigenvalue parametrisation and the
scan's associative operator.

Each check is a :class:`~course_utils.checks.framework.Check`: its cases are described by
seeds, sizes, kinds and dtype names (``Case.params``); the probe rebuilds a case's inputs,
calls the student's function on them and observes what came back and the inputs after
the call; the judge rebuilds the same inputs, computes the expected values and compares.
"""

from __future__ import annotations

import math

from .framework import (Case, Check, assert_unchanged, attempt as _attempt,
                        first_mismatch as _first_mismatch,
                        plain as _plain_value, run_check as _run_check, salted as _salted,
                        snapshot, torch_result, type_name, with_hint as _with_hint)
from .helpers import returned_tensor
from .observations import Failure

CHAPTER = "08_lru_modal_dynamics"
__all__ = ["check_lru_eigenvalues", "check_scan_operator"]


# ---------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------

def _tolerance(*tensors):
    """(rtol, atol) for results computed from ``tensors`` (the inputs): tight when they
    are all double precision, else single precision."""
    import torch

    single = any(t.dtype in (torch.complex64, torch.float32, torch.float16, torch.bfloat16,
                             torch.complex32) for t in tensors)
    return (1e-5, 1e-5) if single else (1e-10, 1e-12)


#: (rtol, atol) within which a double-precision result computed partly in float32 lies.
_SINGLE = (1e-6, 1e-7)


def _double(*tensors) -> bool:
    """Are the inputs all double precision (float64 or complex128)?"""
    import torch

    return all(t.dtype in (torch.float64, torch.complex128) for t in tensors)


def _close(got, expected, rtol, atol) -> bool:
    """NaN-safe allclose in complex128, whatever the two dtypes (no dtype error between
    complex64 and complex128)."""
    import torch

    if tuple(got.shape) != tuple(expected.shape):
        return False
    return bool(torch.allclose(got.to(torch.complex128), expected.to(torch.complex128),
                               rtol=rtol, atol=atol))


def _wrong(name, got, expected, rtol, atol, case) -> str:
    """The first wrong value of ``got``, ``name[i] is wrong (case): expected E, got G``
    (:func:`~course_utils.checks.framework.first_mismatch`), compared in complex128."""
    import torch

    got, expected = got.to(torch.complex128), expected.to(torch.complex128)
    close = torch.isclose(got, expected, rtol=rtol, atol=atol)
    return _first_mismatch(name, expected, got, close, case)


def _shown(case) -> str | None:
    """The label a message names: the visible case's, none for a hidden one (its message
    is dropped anyway)."""
    return None if case.hidden else case.label


# ---------------------------------------------------------------------------------------
# Task 1: the eigenvalue parametrisation
# ---------------------------------------------------------------------------------------

#: The hidden cases of Task 1: (label, params without the seed, seed). Their failures
#: never show these values; the grader mixes its salt into the seeds.
_EIGEN_HIDDEN = (
    ("another seed and number of modes, parameters over a wider range",
     dict(kind="uniform", n=11, nu_range=[-6.0, 1.0], theta_range=[-3.0, 1.5],
          dtype="float64"), 44),
    ("float32 parameters",
     dict(kind="normal", n=3, nu_shift=-1.0, theta_shift=0.0, dtype="float32"), 45),
    ("parameters of the ring initialisation, moduli close to one",
     dict(kind="ring", n=16, r_min=0.9, r_max=0.999, max_phase=math.pi / 10,
          dtype="float64"), 46),
)

#: In float32 a phase exp(theta_log) above exp(3) = 20 would lose more digits to rounding
#: than the single-precision tolerance allows: such draws are redrawn.
_FLOAT32_MAX_THETA_LOG = 3.0


def _eigen_cases(hidden: bool, salt: int | None) -> list[Case]:
    """The visible cases: float64 parameters (the notebook's LRU in double precision) and
    float32 ones (the LRU's default dtype, the one the notebook trains); then the hidden
    ones."""
    cases = [Case("6 modes, float64", dict(kind="normal", n=6, nu_shift=-2.0,
                                            theta_shift=-0.5, dtype="float64", seed=4)),
             Case("4 modes, float32 as in the LRU by default",
                  dict(kind="normal", n=4, nu_shift=-3.0, theta_shift=-1.0, dtype="float32",
                       seed=7))]
    if hidden:
        cases += [Case(label, dict(params, seed=_salted(seed, salt)), hidden=True)
                  for label, params, seed in _EIGEN_HIDDEN]
    return cases


def _eigen_inputs(params: dict):
    """(nu_log, theta_log) of a case, the same in the probe and in the judge."""
    import torch

    kind, n, seed = params["kind"], params["n"], params["seed"]
    dtype = getattr(torch, params["dtype"])
    if kind == "ring":
        nu_log, theta_log = _ring_parameters(n, params["r_min"], params["r_max"],
                                             params["max_phase"], seed)
        return nu_log.to(dtype), theta_log.to(dtype)
    for attempt in range(100):
        g = torch.Generator().manual_seed(seed + attempt)
        if kind == "normal":
            nu_log = torch.randn(n, generator=g, dtype=dtype) + params["nu_shift"]
            theta_log = torch.randn(n, generator=g, dtype=dtype) + params["theta_shift"]
        elif kind == "uniform":
            (nu_lo, nu_hi), (th_lo, th_hi) = params["nu_range"], params["theta_range"]
            nu_log = torch.rand(n, generator=g, dtype=dtype) * (nu_hi - nu_lo) + nu_lo
            theta_log = torch.rand(n, generator=g, dtype=dtype) * (th_hi - th_lo) + th_lo
        else:
            raise ValueError(f"unknown kind of parameters {kind!r}")
        if dtype == torch.float64 or float(theta_log.max()) <= _FLOAT32_MAX_THETA_LOG:
            return nu_log, theta_log
    raise RuntimeError("no parameters within the float32 range")  # pragma: no cover


def _probe_eigenvalues(case: Case, fn) -> dict:
    nu_log, theta_log = _eigen_inputs(case.params)
    got = _attempt(fn, nu_log, theta_log)
    return {"got": got, "nu_log": nu_log.detach(), "theta_log": theta_log.detach()}


def _judge_eigenvalues(case: Case, seen: dict) -> None:
    import torch

    nu_log, theta_log = _eigen_inputs(case.params)
    nu, th = nu_log.double(), theta_log.double()
    expected = torch.exp(-torch.exp(nu) + 1j * torch.exp(th))
    slips = [
        ("The modulus must be exp(-exp(nu_log)) < 1: the minus sign is missing",
         torch.exp(torch.exp(nu) + 1j * torch.exp(th))),
        ("The modulus is exp(-exp(nu_log)), not exp(-nu_log): nu_log is the log of nu",
         torch.exp(-nu + 1j * torch.exp(th))),
        ("The phase is exp(theta_log), not theta_log: theta_log is the log of the phase",
         torch.exp(-torch.exp(nu) + 1j * th)),
        ("Modulus and phase are swapped: nu_log sets the modulus, theta_log the phase",
         torch.exp(-torch.exp(th) + 1j * torch.exp(nu))),
        ("The phase is +exp(theta_log): your lambda is the complex conjugate, "
         "exp(-exp(nu_log) - i exp(theta_log))",
         torch.exp(-torch.exp(nu) - 1j * torch.exp(th))),
        ("Apply torch.exp to the complex exponent: lambda is the exponential of "
         "-exp(nu_log) + i exp(theta_log)", -torch.exp(nu) + 1j * torch.exp(th)),
        ("torch.complex(real, imag) takes the real and imaginary parts, not the modulus "
         "and the phase: use torch.polar(exp(-exp(nu_log)), exp(theta_log)), or modulus * "
         "(cos(phase) + 1j * sin(phase))",
         torch.complex(torch.exp(-torch.exp(nu)), torch.exp(th))),
    ]
    real_slips = [
        ("this is the modulus |lambda| = exp(-exp(nu_log)) alone: lambda also has the phase "
         "exp(theta_log)", expected.abs()),
        ("this is the real part of lambda alone", expected.real),
    ]

    got = returned_tensor(seen["got"], dtype=nu_log.dtype, what=case.label,
                          hint="Compute from nu_log and theta_log in their dtype, without "
                               ".double() or .float()")
    assert_unchanged(snapshot(nu_log, theta_log), [seen["nu_log"], seen["theta_log"]],
                     ["nu_log", "theta_log"])

    label = _shown(case)
    what = f" ({label})" if label else ""
    got = torch_result(got, "lambda", "the task asks for the complex tensor lambda, as the LRU "
                                 "computes it from its parameters")
    shape = tuple(nu_log.shape)
    rtol, atol = _tolerance(nu_log, theta_log)
    if not got.is_complex():
        hint = ""
        for message, wrong in real_slips:
            if _close(got, wrong, rtol, atol):
                hint = f" ({message})"
        if tuple(got.shape) == shape + (2,):
            hint = (" (this looks like torch.view_as_real(lambda): return the complex tensor "
                    "itself)")
        raise AssertionError(f"lambda must be a complex tensor; got dtype {got.dtype}{hint}. "
                             "Build the exponent as a complex number, -exp(nu_log) + 1j * "
                             "exp(theta_log), or use torch.polar(exp(-exp(nu_log)), "
                             "exp(theta_log))")
    if tuple(got.shape) != shape:
        raise AssertionError(f"one eigenvalue per mode: lambda must have the shape of nu_log, "
                             f"{shape}; got {tuple(got.shape)}")
    if _double(nu_log, theta_log) and got.dtype != torch.complex128:
        raise AssertionError(
            f"lambda must keep the precision of its float64 parameters: dtype complex128"
            f"{what}; got {got.dtype}. complex64 keeps about 7 digits: every modulus within "
            "3e-8 of 1 (a time constant beyond some 3 x 10^7 steps) becomes 1, on the unit "
            "circle, where the double exponential is meant to resolve long memory finely. "
            "Compute from nu_log and theta_log as they are, without .to(torch.complex64), "
            "and without torch.tensor(...) of Python complex numbers (complex64 by default)")
    if _close(got, expected, rtol, atol):
        return
    wrong = _wrong("lambda", got, expected, rtol, atol, label)
    if not bool(got.isfinite().all()):
        raise AssertionError(f"{wrong}. lambda contains NaN or inf: lambda = "
                             "exp(-exp(nu_log) + i exp(theta_log)) is finite for any real "
                             "parameters")
    for slip, value in slips:
        if _close(got, value, rtol, atol):
            raise AssertionError(f"{wrong}. {slip}")
    if _double(nu_log, theta_log) and _close(got, expected, *_SINGLE):
        raise AssertionError(
            f"{wrong}. lambda agrees only to about 7 digits: part of the computation runs in "
            "float32 (a .float(), a tensor made as float32 or complex64, the phase or its cos "
            "and sin taken in float32). Keep everything in the parameters' float64")
    k = tuple(int(v) for v in (~torch.isclose(got.to(torch.complex128), expected, rtol=rtol,
                                              atol=atol)).nonzero()[0])
    raise AssertionError(f"{wrong}. For nu_log = {nu[k].item():.6g} and theta_log = "
                         f"{th[k].item():.6g}: lambda = exp(-exp(nu_log) + i exp(theta_log))")


def _ring_parameters(n, r_min, r_max, max_phase, seed):
    """nu_log and theta_log as the LRU's ring initialisation draws them (float64)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    u1, u2 = torch.rand(2, n, generator=g, dtype=torch.float64)
    r = torch.sqrt(u1 * (r_max ** 2 - r_min ** 2) + r_min ** 2)
    return torch.log(-torch.log(r)), torch.log(max_phase * u2.clamp_min(1e-3))


#: The moduli of the visible case's eigenvalues, for the line printed when the check passes
#: (a test recomputes them).
_VISIBLE_MODULI = (0.281, 0.973)

LRU_EIGENVALUES = Check(
    "check_lru_eigenvalues", lambda hidden, salt: _eigen_cases(hidden, salt),
    _probe_eigenvalues, _judge_eigenvalues,
    f"lambda = exp(-exp(nu_log) + i exp(theta_log)): moduli in [{_VISIBLE_MODULI[0]:.3f}, "
    f"{_VISIBLE_MODULI[1]:.3f}], inside the unit disc for any real parameters", CHAPTER)


def check_lru_eigenvalues(fn, *, hidden: bool = False) -> None:
    """Check ``fn(nu_log, theta_log) → lambda``: the LRU's eigenvalues
    lambda = exp(-exp(nu_log) + i exp(theta_log)), a complex tensor of the same shape, at
    least as precise as the parameters (complex128 for float64 ones; complex64 or
    complex128 for float32 ones). The visible cases: float64 parameters and float32 ones,
    the LRU's default dtype."""
    _run_check(LRU_EIGENVALUES, (fn,), hidden=hidden)


# ---------------------------------------------------------------------------------------
# Task 2: the associative operator of the scan
# ---------------------------------------------------------------------------------------

_PAIR_WHY = ("the next cell unpacks it, feeds it back into combine as e1 and compares its "
             "offset with the loop's state")


def _pair_result(got, what: str = "combine(e1, e2)"):
    """(a, b), detached, after asserting that ``got`` is a pair of torch tensors."""
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        size = f" of length {len(got)}" if isinstance(got, (tuple, list)) else ""
        raise AssertionError(f"{what} must return the pair (a, b), e.g. `return a, b` "
                             f"({_PAIR_WHY}); got {type_name(got)}{size}")
    return tuple(torch_result(v, f"{name} of {what}", _PAIR_WHY) for v, name in zip(got, "ab"))


_INPUT_NAMES = ["a1 = e1[0]", "b1 = e1[1]", "a2 = e2[0]", "b2 = e2[1]"]


def _observe_combine(fn, e1, e2) -> dict:
    """The probe's call of the student's combine on copies of e1 and e2 (tuples): what it
    returned, and the copies after the call."""
    copies = [v.clone() for v in (*e1, *e2)]
    got = _plain_value(_attempt(fn, tuple(copies[:2]), tuple(copies[2:])))
    return {"got": got, "inputs": copies}


def _next_element(got):
    """The probe's next input made of a result of the student's combine: the pair of
    tensors, detached, where the judge accepts it as a pair (else None: the judge stops
    there)."""
    import torch

    if type(got) not in (tuple, list) or len(got) != 2 \
            or not all(issubclass(type(v), torch.Tensor) for v in got):
        return None
    pair = _attempt(lambda: tuple(v.detach() for v in got))
    return None if isinstance(pair, Failure) else pair


def _judged_combine(step: dict, e1, e2, what: str = "combine(e1, e2)"):
    """The judge's side of :func:`_observe_combine`: the result (or the student's
    exception), the inputs unchanged, a pair of tensors (detached)."""
    got = returned_tensor(step["got"], dtype=e1[1].dtype, what=what.rstrip(","),
                          hint="Combine the tensors as they are, without casts or new tensors "
                               "of another dtype")
    assert_unchanged(snapshot(*e1, *e2), step["inputs"], _INPUT_NAMES)
    return _pair_result(got, what)


def _judge_pair(e1, e2, step: dict, label: str | None = None) -> None:
    """One call combine(e1, e2) against (a2 a1, a2 b1 + b2), with the typical slips;
    ``label`` names the case in the messages (None: a hidden case). The result keeps the
    precision of double-precision inputs; a complex128 result of complex64 inputs is
    accepted (more precise, and the next cell runs with it)."""
    (a1, b1), (a2, b2) = e1, e2
    exp_a, exp_b = a2 * a1, a2 * b1 + b2
    a_slips = [
        ("the combined multiplier is the product a2 * a1 (applying both steps multiplies by "
         "both), not the sum", a2 + a1),
        ("the combined multiplier must be a2 * a1: applying both steps multiplies by both",
         a1.expand(exp_a.shape)),
        ("the combined multiplier must be a2 * a1: applying both steps multiplies by both",
         a2.expand(exp_a.shape)),
    ]
    conjugated = ("a conjugate (.conj(), torch.conj, -1j in place of 1j) turns the rotation "
                  "the other way: multiply by a2 and a1 themselves")
    a_slips += [
        (f"the later multiplier a2 is conjugated: the combined multiplier is a2 * a1; "
         f"{conjugated}", a2.conj() * a1),
        (f"the earlier multiplier a1 is conjugated: the combined multiplier is a2 * a1; "
         f"{conjugated}", a2 * a1.conj()),
        (f"the product is conjugated: the combined multiplier is a2 * a1; {conjugated}",
         (a2 * a1).conj()),
    ]
    dropped = ("the multipliers and offsets are complex: a complex product keeps its "
               "imaginary part (.real keeps only the real part of a rotation); the offset is "
               "a2 * b1 + b2 with complex a2 and b1")
    b_slips = [
        ("the order is reversed: e1 is the earlier step, so the result is x -> a2 (a1 x + b1) "
         "+ b2, whose offset is a2 * b1 + b2", a1 * b2 + b1),
        (f"the imaginary part of a2 * b1 is dropped: {dropped}", (a2 * b1).real + b2),
        (f"the imaginary part of the later multiplier a2 is dropped: {dropped}",
         a2.real * b1 + b2),
        (f"the imaginary part of the earlier offset b1 is dropped: {dropped}",
         a2 * b1.real + b2),
        (f"the later multiplier a2 is conjugated: the offset is a2 * b1 + b2; {conjugated}",
         a2.conj() * b1 + b2),
        (f"the earlier offset b1 is conjugated: the offset is a2 * b1 + b2; {conjugated}",
         a2 * b1.conj() + b2),
        (f"the product is conjugated: the offset is a2 * b1 + b2; {conjugated}",
         (a2 * b1).conj() + b2),
        ("the earlier offset b1 passes through the later step, so it is multiplied by a2: "
         "a2 * b1 + b2", b1 + b2),
        ("the later offset b2 is added after the later multiplication: a2 * b1 + b2",
         a2 * (b1 + b2)),
        ("the earlier offset b1 is multiplied by the later multiplier a2, not by a1: "
         "a2 * b1 + b2", a1 * b1 + b2),
    ]

    got = returned_tensor(step["got"], dtype=e1[1].dtype, what=label or "a hidden case",
                          hint="Combine the tensors as they are, without casts or new tensors "
                               "of another dtype")
    assert_unchanged(snapshot(*e1, *e2), step["inputs"], _INPUT_NAMES)
    a, b = _pair_result(got)
    rtol, atol = _tolerance(a1, b1, a2, b2)
    what = f" ({label})" if label else ""
    if _close(a, exp_b, rtol, atol) and _close(b, exp_a, rtol, atol) and not _close(
            a, exp_a, rtol, atol):
        raise AssertionError("return the pair in the order (a, b), the multiplier first: you "
                             "returned (b, a)")
    for name, got_v, want, inputs in (("a", a, exp_a, (a1, a2)), ("b", b, exp_b, (b1, b2))):
        if any(v.is_complex() for v in inputs) and not got_v.is_complex():
            raise AssertionError(f"{name} must be complex like the inputs; got dtype "
                                 f"{got_v.dtype} (did you take .real or .abs()?)")
        if _double(a1, b1, a2, b2) and not _double(got_v):
            raise AssertionError(
                f"{name} must keep the precision of the inputs, complex128{what}; got "
                f"{got_v.dtype}. Casting to complex64 keeps about 7 digits, and a scan "
                "composes thousands of elements: no .to(torch.complex64), and no tensors "
                "created without the inputs' dtype")
        if tuple(got_v.shape) != tuple(want.shape):
            raise AssertionError(f"{name} must have the broadcast shape of the inputs, "
                                 f"{tuple(want.shape)}; got {tuple(got_v.shape)}. Combine "
                                 "elementwise (*, +), without matrix products or reductions")
    if not _close(a, exp_a, rtol, atol):
        wrong = _wrong("a", a, exp_a, rtol, atol, label)
        for slip, value in a_slips:
            if _close(a, value, rtol, atol):
                raise AssertionError(_with_hint(wrong, slip))
        raise AssertionError(f"{wrong}. The combined multiplier must be a2 * a1: applying "
                             "both steps multiplies by both")
    if not _close(b, exp_b, rtol, atol):
        wrong = _wrong("b", b, exp_b, rtol, atol, label)
        for slip, value in b_slips:
            if _close(b, value, rtol, atol):
                raise AssertionError(_with_hint(wrong, slip))
        raise AssertionError(f"{wrong}. The combined offset is wrong: (a1, b1) then (a2, b2) "
                             "maps x to a2 (a1 x + b1) + b2, whose offset is a2 * b1 + b2")


def _draw(g, shape, dtype):
    import torch

    return torch.randn(shape, generator=g, dtype=dtype)


#: The hidden cases of Task 2: (label, params without the seed, seed). Their failures
#: never show these values; the grader mixes its salt into the seeds.
_SCAN_HIDDEN = (
    ("complex64 elements with a time axis",
     dict(kind="pair", a_shape=[7, 3], b_shape=[7, 3], dtype="complex64"), 90),
    ("a multiplier shared over time, offsets with a time axis",
     dict(kind="pair", a_shape=[4], b_shape=[6, 4], dtype="complex128"), 91),
    ("another seed and number of modes, multipliers near the unit circle",
     dict(kind="near circle", n=50), 92),
)


def _scan_cases(hidden: bool, salt: int | None) -> list[Case]:
    """The visible cases: a pair of elements, associativity on three (the same first two),
    and the fold of the next cell; then the hidden pairs. The scan's arithmetic is exact
    up to rounding: any seed gives a fair case."""
    elements = dict(a_shape=[5], b_shape=[5], dtype="complex128", seed=9)
    cases = [Case("two elements of 5 modes", dict(kind="pair", **elements)),
             Case("three elements, associativity", dict(kind="associativity", **elements)),
             Case("folded as in the next cell", dict(kind="fold", H=4, T=6, seed=10))]
    if hidden:
        cases += [Case(label, dict(params, seed=_salted(seed, salt)), hidden=True)
                  for label, params, seed in _SCAN_HIDDEN]
    return cases


def _scan_elements(params: dict, count: int = 2) -> list:
    """``count`` elements (a, b) of a case of the kind "pair", "associativity" or "near
    circle", the same in the probe and in the judge."""
    import torch

    g = torch.Generator().manual_seed(params["seed"])
    if params["kind"] == "near circle":
        n, elements = params["n"], []
        for _ in range(count):
            a = torch.polar(1 - 0.01 * torch.rand(n, generator=g, dtype=torch.float64),
                            2 * math.pi * torch.rand(n, generator=g, dtype=torch.float64))
            elements.append((a, _draw(g, n, torch.complex128)))
        return elements
    dtype = getattr(torch, params["dtype"])
    return [(_draw(g, params["a_shape"], dtype), _draw(g, params["b_shape"], dtype))
            for _ in range(count)]


def _fold_inputs(params: dict):
    """The multiplier a (H,) shared by all steps and the offsets b (T, H), complex64, as
    in the notebook's next cell."""
    import torch

    H, T = params["H"], params["T"]
    g = torch.Generator().manual_seed(params["seed"])
    a = torch.polar(0.9 + 0.099 * torch.rand(H, generator=g, dtype=torch.float32),
                    2 * math.pi * torch.rand(H, generator=g, dtype=torch.float32))
    b = torch.randn(T, H, generator=g, dtype=torch.complex64)
    return a, b


def _probe_scan(case: Case, fn) -> dict:
    kind = case.params["kind"]
    if kind == "fold":
        a, b = _fold_inputs(case.params)
        H, T = a.shape[0], b.shape[0]
        e, steps = (a.expand(1, H), b[:1]), []
        for k in range(1, T):
            steps.append(_observe_combine(fn, e, (a, b[k])))
            e = _next_element(steps[-1]["got"])
            if e is None:
                break
        return {"steps": steps}
    if kind == "associativity":
        e1, e2, e3 = _scan_elements(case.params, 3)
        seen = {"e12": _observe_combine(fn, e1, e2)}
        e12 = _next_element(seen["e12"]["got"])
        if e12 is None:
            return seen
        seen["left"] = _observe_combine(fn, e12, e3)
        seen["e23"] = _observe_combine(fn, e2, e3)
        e23 = _next_element(seen["e23"]["got"])
        if e23 is None:
            return seen
        seen["right"] = _observe_combine(fn, e1, e23)
        return seen
    return {"pair": _observe_combine(fn, *_scan_elements(case.params))}


def _judge_fold(params: dict, seen: dict, label: str | None = None) -> None:
    """Fold the operator over a few steps as the notebook's next cell does: a multiplier of
    shape (H,) shared by all steps, the first element of shape (1, H), complex64; ``label``
    names the case in the messages."""
    a, b = _fold_inputs(params)
    H, T = a.shape[0], b.shape[0]
    x = b[0]
    for k in range(1, T):
        x = a * x + b[k]
    e, steps = (a.expand(1, H), b[:1]), seen["steps"]
    for k in range(1, T):
        e = _judged_combine(steps[k - 1], e, (a, b[k]),
                            "combine(e, (a, b[k])), folded as in the next cell,")
    fold = ("folding your operator over the steps, as the next cell does with e = "
            "(a.expand(1, H), b[:1]) and combine(e, (a, b[k])) in complex64")
    if tuple(e[1].shape) != (1, H):
        raise AssertionError(f"{fold}, does not give the loop's state: the offset must keep "
                             f"the shape (1, H) = {(1, H)}; got {tuple(e[1].shape)}")
    if not _close(e[1], x[None], 1e-4, 1e-5):
        raise AssertionError(f"{_wrong('b', e[1], x[None], 1e-4, 1e-5, label)}. The offset "
                             f"of the element, {fold}, must be the loop's state, "
                             "x = a * x + b[k] step by step")


def _judge_associativity(params: dict, seen: dict) -> None:
    e1, e2, e3 = _scan_elements(params, 3)
    e12 = _judged_combine(seen["e12"], e1, e2)
    left = _judged_combine(seen["left"], e12, e3, "combine(combine(e1, e2), e3)")
    e23 = _judged_combine(seen["e23"], e2, e3)
    right = _judged_combine(seen["right"], e1, e23, "combine(e1, combine(e2, e3))")
    rtol, atol = _tolerance(*e1, *e2, *e3)
    if not all(_close(p, q, rtol, atol) for p, q in zip(left, right)):
        raise AssertionError("the operator is not associative on these inputs: (e1 • e2) • e3 "
                             "differs from e1 • (e2 • e3); combine only with a2 * a1 and "
                             "a2 * b1 + b2")


def _judge_scan(case: Case, seen: dict) -> None:
    kind = case.params["kind"]
    if kind == "fold":
        _judge_fold(case.params, seen, _shown(case))
    elif kind == "associativity":
        _judge_associativity(case.params, seen)
    else:
        _judge_pair(*_scan_elements(case.params), seen["pair"], _shown(case))


SCAN_OPERATOR = Check(
    "check_scan_operator", lambda hidden, salt: _scan_cases(hidden, salt), _probe_scan,
    _judge_scan,
    "(a1, b1) then (a2, b2) gives (a2 a1, a2 b1 + b2): associative, and equal to two steps",
    CHAPTER)

#: The checks of this chapter, by name.
CHECKS = {check.name: check for check in (LRU_EIGENVALUES, SCAN_OPERATOR)}


def check_scan_operator(fn, *, hidden: bool = False) -> None:
    """Check ``fn(e1, e2) → (a, b)``: the associative operator of x_k = a_k x_{k-1} + b_k.
    For an earlier element e1 = (a1, b1) and a later one e2 = (a2, b2) it returns
    (a2 a1, a2 b1 + b2), elementwise, for complex tensors (broadcasting as ``*`` does), at
    least as precise as the inputs (complex128 for complex128 ones). The visible cases: a
    pair of complex128 elements, associativity on three, and the fold of the next cell
    (complex64, a multiplier shared by all steps, the first element of shape (1, H))."""
    _run_check(SCAN_OPERATOR, (fn,), hidden=hidden)
