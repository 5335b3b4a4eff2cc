"""Checks of chapter 08 (linear recurrent units): the eigenvalue parametrisation and the
scan's associative operator."""

from __future__ import annotations

import math

from ._common import (assert_unchanged, call_student, hidden_case, ok as _ok, snapshot,
                      torch_result, type_name)

CHAPTER = "08_lru_modal_dynamics"
__all__ = ["check_lru_eigenvalues", "check_scan_operator"]


# ---------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------





def _tolerance(*tensors):
    """(rtol, atol): tight when everything is double precision, else single precision."""
    import torch

    single = any(t.dtype in (torch.complex64, torch.float32, torch.float16, torch.bfloat16,
                             torch.complex32) for t in tensors)
    return (1e-5, 1e-5) if single else (1e-10, 1e-12)


def _close(got, expected, rtol, atol) -> bool:
    """NaN-safe allclose in complex128, whatever the two dtypes (no dtype error between
    complex64 and complex128)."""
    import torch

    if tuple(got.shape) != tuple(expected.shape):
        return False
    return bool(torch.allclose(got.to(torch.complex128), expected.to(torch.complex128),
                               rtol=rtol, atol=atol))


def _first_mismatch(got, expected, rtol, atol):
    import torch

    bad = ~torch.isclose(got.to(torch.complex128), expected.to(torch.complex128), rtol=rtol,
                         atol=atol)
    return tuple(int(v) for v in bad.nonzero()[0])


def _fmt_complex_pair(expected: complex, got: complex) -> str:
    """``expected a+bj, got c+dj`` with as many digits as it takes for the two to differ."""
    def show(z, p):
        return f"{z.real:.{p}f}{z.imag:+.{p}f}j"

    for precision in (4, 6, 9, 12, 15):
        e, g = show(expected, precision), show(got, precision)
        if e != g:
            break
    return f"expected {e}, got {g}"


def _index(idx) -> str:
    return ", ".join(str(i) for i in idx)


# ---------------------------------------------------------------------------------------
# Task 1: the eigenvalue parametrisation
# ---------------------------------------------------------------------------------------

def _eigen_case(fn, nu_log, theta_log) -> None:
    import torch

    nu, th = nu_log.double(), theta_log.double()
    expected = torch.exp(-torch.exp(nu) + 1j * torch.exp(th))
    slips = [
        ("the modulus must be exp(-exp(nu_log)) < 1: the minus sign is missing",
         torch.exp(torch.exp(nu) + 1j * torch.exp(th))),
        ("nu_log is the log of nu: the modulus is exp(-exp(nu_log)), not exp(-nu_log)",
         torch.exp(-nu + 1j * torch.exp(th))),
        ("theta_log is the log of the phase: the phase is exp(theta_log), not theta_log",
         torch.exp(-torch.exp(nu) + 1j * th)),
        ("modulus and phase are swapped: nu_log sets the modulus, theta_log the phase",
         torch.exp(-torch.exp(th) + 1j * torch.exp(nu))),
        ("the phase is +exp(theta_log): your lambda is the complex conjugate, "
         "exp(-exp(nu_log) - i exp(theta_log))",
         torch.exp(-torch.exp(nu) - 1j * torch.exp(th))),
        ("lambda is the exponential of -exp(nu_log) + i exp(theta_log): apply torch.exp to "
         "the complex exponent", -torch.exp(nu) + 1j * torch.exp(th)),
    ]
    real_slips = [
        ("this is the modulus |lambda| = exp(-exp(nu_log)) alone: lambda also has the phase "
         "exp(theta_log)", expected.abs()),
        ("this is the real part of lambda alone", expected.real),
    ]

    copies = [nu_log.clone(), theta_log.clone()]
    before = snapshot(*copies)
    got = call_student(fn, *copies)
    assert_unchanged(before, copies, ["nu_log", "theta_log"])

    got = torch_result(got, "lambda", "the task asks for the complex tensor lambda, as the LRU "
                                 "computes it from its parameters")
    shape = tuple(nu_log.shape)
    rtol, atol = _tolerance(got, nu_log)
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
    if _close(got, expected, rtol, atol):
        return
    if not bool(got.isfinite().all()):
        raise AssertionError("lambda contains NaN or inf")
    for slip, wrong in slips:
        if _close(got, wrong, rtol, atol):
            raise AssertionError(slip)
    k = _first_mismatch(got, expected, rtol, atol)
    raise AssertionError(f"lambda[{_index(k)}]: "
                         f"{_fmt_complex_pair(complex(expected[k]), complex(got[k]))}, for "
                         f"nu_log = {nu[k].item():.6g} and theta_log = {th[k].item():.6g}. "
                         "lambda = exp(-exp(nu_log) + i exp(theta_log))")


def _ring_parameters(n, r_min, r_max, max_phase, seed):
    """nu_log and theta_log as the LRU's ring initialisation draws them (float64)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    u1, u2 = torch.rand(2, n, generator=g, dtype=torch.float64)
    r = torch.sqrt(u1 * (r_max ** 2 - r_min ** 2) + r_min ** 2)
    return torch.log(-torch.log(r)), torch.log(max_phase * u2.clamp_min(1e-3))


def check_lru_eigenvalues(fn, *, hidden: bool = False) -> None:
    """Check ``fn(nu_log, theta_log) → lambda``: the LRU's eigenvalues
    lambda = exp(-exp(nu_log) + i exp(theta_log)), a complex tensor of the same shape
    (complex64 or complex128)."""
    import torch

    g = torch.Generator().manual_seed(4)
    nu_log = torch.randn(6, generator=g, dtype=torch.float64) - 2
    theta_log = torch.randn(6, generator=g, dtype=torch.float64) - 0.5
    _eigen_case(fn, nu_log, theta_log)
    if hidden:
        with hidden_case("another seed and number of modes, parameters over a wider range"):
            g = torch.Generator().manual_seed(44)
            _eigen_case(fn, torch.rand(11, generator=g, dtype=torch.float64) * 7 - 6,
                        torch.rand(11, generator=g, dtype=torch.float64) * 4.5 - 3)
        with hidden_case("float32 parameters"):
            g = torch.Generator().manual_seed(45)
            _eigen_case(fn, torch.randn(3, generator=g) - 1, torch.randn(3, generator=g))
        with hidden_case("parameters of the ring initialisation, moduli close to one"):
            _eigen_case(fn, *_ring_parameters(16, 0.9, 0.999, math.pi / 10, seed=46))
    mod = torch.exp(-torch.exp(nu_log))
    _ok(f"lambda = exp(-exp(nu_log) + i exp(theta_log)): moduli in [{mod.min():.3f}, "
        f"{mod.max():.3f}], inside the unit disc for any real parameters")


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


def _call_combine(fn, e1, e2):
    """The student's combine on copies of e1 and e2 (tuples), checking for changes in
    place; returns the raw result."""
    copies = [v.clone() for v in (*e1, *e2)]
    before = snapshot(*copies)
    got = call_student(fn, tuple(copies[:2]), tuple(copies[2:]))
    assert_unchanged(before, copies, ["a1 = e1[0]", "b1 = e1[1]", "a2 = e2[0]", "b2 = e2[1]"])
    return got


def _scan_case(fn, e1, e2) -> None:
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
    b_slips = [
        ("the order is reversed: e1 is the earlier step, so the result is x -> a2 (a1 x + b1) "
         "+ b2, whose offset is a2 * b1 + b2", a1 * b2 + b1),
        ("the earlier offset b1 passes through the later step, so it is multiplied by a2: "
         "a2 * b1 + b2", b1 + b2),
        ("the later offset b2 is added after the later multiplication: a2 * b1 + b2",
         a2 * (b1 + b2)),
        ("the earlier offset b1 is multiplied by the later multiplier a2, not by a1: "
         "a2 * b1 + b2", a1 * b1 + b2),
    ]

    got = _call_combine(fn, e1, e2)
    a, b = _pair_result(got)
    rtol, atol = _tolerance(a, b, a1, b1)
    if _close(a, exp_b, rtol, atol) and _close(b, exp_a, rtol, atol) and not _close(
            a, exp_a, rtol, atol):
        raise AssertionError("return the pair in the order (a, b), the multiplier first: you "
                             "returned (b, a)")
    for name, got_v, want, inputs in (("a", a, exp_a, (a1, a2)), ("b", b, exp_b, (b1, b2))):
        if any(v.is_complex() for v in inputs) and not got_v.is_complex():
            raise AssertionError(f"{name} must be complex like the inputs; got dtype "
                                 f"{got_v.dtype} (did you take .real or .abs()?)")
        if tuple(got_v.shape) != tuple(want.shape):
            raise AssertionError(f"{name} must have the broadcast shape of the inputs, "
                                 f"{tuple(want.shape)}; got {tuple(got_v.shape)}. Combine "
                                 "elementwise (*, +), without matrix products or reductions")
    if not _close(a, exp_a, rtol, atol):
        for slip, wrong in a_slips:
            if _close(a, wrong, rtol, atol):
                raise AssertionError(slip)
        raise AssertionError("the combined multiplier must be a2 * a1: applying both steps "
                             "multiplies by both" + _where(a, exp_a, rtol, atol))
    if not _close(b, exp_b, rtol, atol):
        for slip, wrong in b_slips:
            if _close(b, wrong, rtol, atol):
                raise AssertionError(slip)
        raise AssertionError("the combined offset is wrong: (a1, b1) then (a2, b2) maps x to "
                             "a2 (a1 x + b1) + b2, whose offset is a2 * b1 + b2"
                             + _where(b, exp_b, rtol, atol))


def _where(got, expected, rtol, atol) -> str:
    k = _first_mismatch(got, expected, rtol, atol)
    return f" (at [{_index(k)}]: {_fmt_complex_pair(complex(expected[k]), complex(got[k]))})"


def _draw(g, shape, dtype):
    import torch

    return torch.randn(shape, generator=g, dtype=dtype)


def _fold_like_notebook(fn) -> None:
    """Fold the operator over a few steps as the notebook's next cell does: a multiplier of
    shape (H,) shared by all steps, the first element of shape (1, H), complex64."""
    import torch

    H, T = 4, 6
    g = torch.Generator().manual_seed(10)
    a = torch.polar(0.9 + 0.099 * torch.rand(H, generator=g),
                    2 * math.pi * torch.rand(H, generator=g))
    b = torch.randn(T, H, generator=g, dtype=torch.complex64)
    x = b[0]
    for k in range(1, T):
        x = a * x + b[k]
    e = (a.expand(1, H), b[:1])
    for k in range(1, T):
        e = _pair_result(_call_combine(fn, e, (a, b[k])),
                         "combine(e, (a, b[k])), folded as in the next cell,")
    if tuple(e[1].shape) != (1, H) or not _close(e[1][0], x, 1e-4, 1e-5):
        raise AssertionError("folding your operator over the steps, as the next cell does with "
                             "e = (a.expand(1, H), b[:1]) and combine(e, (a, b[k])) in "
                             "complex64, does not give the loop's state: the offset must keep "
                             f"the shape (1, H) = {(1, H)} and equal a * x + b[k] step by step")


def check_scan_operator(fn, *, hidden: bool = False) -> None:
    """Check ``fn(e1, e2) → (a, b)``: the associative operator of x_k = a_k x_{k-1} + b_k.
    For an earlier element e1 = (a1, b1) and a later one e2 = (a2, b2) it returns
    (a2 a1, a2 b1 + b2), elementwise, for complex tensors (broadcasting as ``*`` does)."""
    import torch

    g = torch.Generator().manual_seed(9)

    def draw():
        return _draw(g, 5, torch.complex128), _draw(g, 5, torch.complex128)

    e1, e2, e3 = draw(), draw(), draw()
    _scan_case(fn, e1, e2)
    left = _pair_result(_call_combine(fn, _pair_result(_call_combine(fn, e1, e2)), e3),
                        "combine(combine(e1, e2), e3)")
    right = _pair_result(_call_combine(fn, e1, _pair_result(_call_combine(fn, e2, e3))),
                         "combine(e1, combine(e2, e3))")
    rtol, atol = _tolerance(*left, *right)
    if not all(_close(p, q, rtol, atol) for p, q in zip(left, right)):
        raise AssertionError("the operator is not associative on these inputs: (e1 • e2) • e3 "
                             "differs from e1 • (e2 • e3); combine only with a2 * a1 and "
                             "a2 * b1 + b2")
    _fold_like_notebook(fn)
    if hidden:
        with hidden_case("complex64 elements with a time axis"):
            g = torch.Generator().manual_seed(90)
            _scan_case(fn, *[(_draw(g, (7, 3), torch.complex64),
                              _draw(g, (7, 3), torch.complex64)) for _ in range(2)])
        with hidden_case("a multiplier shared over time, offsets with a time axis"):
            g = torch.Generator().manual_seed(91)
            _scan_case(fn, *[(_draw(g, 4, torch.complex128),
                              _draw(g, (6, 4), torch.complex128)) for _ in range(2)])
        with hidden_case("another seed and number of modes, multipliers near the unit circle"):
            g = torch.Generator().manual_seed(92)
            pairs = []
            for _ in range(2):
                a = torch.polar(1 - 0.01 * torch.rand(50, generator=g, dtype=torch.float64),
                                2 * math.pi * torch.rand(50, generator=g, dtype=torch.float64))
                pairs.append((a, _draw(g, 50, torch.complex128)))
            _scan_case(fn, *pairs)
    _ok("(a1, b1) then (a2, b2) gives (a2 a1, a2 b1 + b2): associative, and equal to two steps")
