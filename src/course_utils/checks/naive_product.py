"""Checks of chapter 04 (the maximum Lyapunov exponent of the trained PLRNN): the Jacobians
along an orbit and the naive product's norms."""

from __future__ import annotations

import math

import numpy as np

from .framework import (Case, Check, assert_unchanged as _assert_unchanged,
                        attempt as _attempt, expect_torch_tensor as _expect_torch_tensor,
                        first_mismatch as _first_mismatch, mismatch as _mismatch,
                        module_state as _module_state, run_check as _run_check,
                        salted as _salted, snapshot as _snapshot,
                        with_hint as _with_hint)
from .observations import Raised
from .helpers import assert_model_dtype, close_enough, returned_tensor, small_plrnn

CHAPTER = "04_plrnn_max_lyapunov"
__all__ = ["check_plrnn_jacobians", "check_naive_norms"]

#: The hidden cases of :func:`check_plrnn_jacobians`: (label, model sizes and seed, number of
#: states T, seed of the states, their scale, dtype name). Their failures never show them.
_HIDDEN_JACOBIAN_CASES = (
    ("another orbit length, model size and seed",
     dict(M=4, L=9, N=1, seed=13), 12, 21, 1.0, "float64"),
    ("a float32 model and orbit, as in the notebook",
     dict(M=6, L=11, N=2, seed=17), 9, 23, 1.5, "float32"),
    ("a longer float32 orbit of a larger model",
     dict(M=8, L=7, N=3, seed=19), 40, 27, 0.7, "float32"),
)

#: The hidden cases of :func:`check_naive_norms`: (label, kind, T, d, seed, dtype name,
#: stretch, contract). "mixed": random non-normal Jacobians; "rotations": rotations
#: stretched by ``stretch`` that overflow, the last ``contract`` factors of the product
#: shrunk by 1 / stretch.
_HIDDEN_NORM_CASES = (
    ("another seed, orbit length and dimension",
     "mixed", 23, 3, 31, "float64", None, 0),
    ("float32 Jacobians that do not overflow, as in the notebook",
     "mixed", 40, 5, 37, "float32", None, 0),
    ("float32 Jacobians that overflow after another number of factors, then contract",
     "rotations", 110, 2, 41, "float32", 2.5, 10),
)


# ---------------------------------------------------------------------------------------
# Task 1: the Jacobians along an orbit

def _states(T, M, seed, scale, dtype, model=None):
    """T random states in float64, scaled and converted to ``dtype``. With ``model``, the
    draw is repeated with the next seed until no pre-activation W2 z + h2 lies within 1e-3
    of a ReLU kink, where rounding could flip a unit (any seed gives a fair case)."""
    import torch

    for attempt in range(100):
        Z = torch.randn(T, M, generator=torch.Generator().manual_seed(seed + attempt),
                        dtype=torch.float64)
        Z = (scale * Z).to(getattr(torch, dtype))
        if model is None:
            return Z
        with torch.no_grad():
            pre = Z.double() @ model.W2.double().T + model.h2.double()
        if float(pre.abs().min()) > 1e-3:
            return Z
    raise RuntimeError("no states away from the ReLU kinks")  # pragma: no cover


def _jacobian_slips(model, Z, expected):
    """The typical mistakes of Task 1, and what each gives (float64 is enough: only for
    the messages)."""
    import torch

    T, M = Z.shape
    with torch.no_grad():
        shifted = model.jacobian(model(Z))
        no_mask = (torch.diag(model.A) + model.W1 @ model.W2).expand(T, M, M)
        no_linear = expected - torch.diag(model.A)
        pre = Z @ model.W2.T
        inverted = torch.diag(model.A) + (model.W1 * (pre + model.h2 < 0).to(Z.dtype)
                                          [..., None, :]) @ model.W2
        no_bias = torch.diag(model.A) + (model.W1 * (pre > 0).to(Z.dtype)[..., None, :]) @ model.W2
    return [
        ("you returned the transposes: J[t, i, j] = d F_i / d z_j at Z[t] (with the sum "
         "trick, permute the blocks to (T, M_out, M_in))", expected.transpose(-1, -2)),
        ("the Jacobians are evaluated at the next states F(Z[t]): evaluate each at Z[t], "
         "the state before the step", shifted),
        ("the blocks are scrambled: the sum trick gives shape (M, T, M), and reshape does "
         "not move the time index to the front; use blocks.permute(1, 0, 2)",
         expected.permute(1, 0, 2).reshape(T, M, M)),
        ("the derivative of the ReLU is missing: J_t = diag(A) + W1 diag(1[W2 z_t + h2 > 0]) "
         "W2 depends on the state through the active units", no_mask),
        ("the linear part is missing: F(z) = A * z + W1 ReLU(W2 z + h2) + h1, so J_t = "
         "diag(A) + W1 diag(1[W2 z_t + h2 > 0]) W2", no_linear),
        ("the ReLU's derivative is 1 where the pre-activation is positive: your mask keeps "
         "the inactive units, 1[W2 z_t + h2 < 0]; J_t = diag(A) + W1 diag(1[W2 z_t + h2 > 0]) "
         "W2", inverted),
        ("the bias h2 is missing from the ReLU's mask: the active units are those with "
         "W2 z_t + h2 > 0, not W2 z_t > 0", no_bias),
    ]


def _jacobian_cases(hidden: bool, salt: int | None) -> list[Case]:
    """The visible cases: a float64 model and orbit, and a float32 one of other sizes, the
    dtype of the notebook's model; then the hidden ones."""
    cases = [Case("T = 7, M = 5, float64", dict(sizes=dict(M=5, L=8, N=2, seed=5), T=7,
                                                 seed=3, scale=1.0, dtype="float64")),
             Case("T = 10, M = 4, float32 as in the notebook",
                  dict(sizes=dict(M=4, L=9, N=2, seed=7), T=10, seed=29, scale=1.0,
                       dtype="float32"))]
    if hidden:
        cases += [Case(label, dict(sizes=sizes, T=T, seed=_salted(seed, salt), scale=scale,
                                   dtype=dtype), hidden=True)
                  for label, sizes, T, seed, scale, dtype in _HIDDEN_JACOBIAN_CASES]
    return cases


def _jacobian_inputs(case: Case):
    """The model and the states of a case, the same in the probe and in the judge."""
    p = case.params
    model = small_plrnn(**p["sizes"], dtype=p["dtype"])
    return model, _states(p["T"], p["sizes"]["M"], p["seed"], p["scale"], p["dtype"],
                          model=model)


def _probe_jacobians(case: Case, fn) -> dict:
    model, Z = _jacobian_inputs(case)
    given = Z.clone()
    got = _attempt(fn, model, given)
    return {"got": got, "model": _module_state(model), "Z": given.detach()}


def _judge_jacobians(case: Case, seen: dict) -> None:
    import torch

    model, Z = _jacobian_inputs(case)
    what = "a hidden case" if case.hidden else case.label
    T, M = Z.shape
    got = returned_tensor(seen["got"], dtype=Z.dtype, what=what,
                    hint="Keep the dtype of Z and the model: no .double() or .float(), and "
                         "torch.eye/torch.zeros with dtype=Z.dtype")
    assert_model_dtype(model, seen["model"], what)
    _assert_unchanged(_snapshot(model, Z), [seen["model"], seen["Z"]],
                      ["model (its parameters)", "Z"])
    with torch.no_grad():
        expected = model.jacobian(Z)

    why = "the next cell calls .detach() on it and passes it to naive_norms"
    if isinstance(got, (list, tuple)):
        raise AssertionError(f"orbit_jacobians must return a torch tensor ({why}); got a "
                             f"{type(got).__name__}. Stack the Jacobians: torch.stack(...)")
    if isinstance(got, np.ndarray):
        raise AssertionError(f"orbit_jacobians must return a torch tensor ({why}); got a "
                             "NumPy array. Compute with torch, without .numpy()")
    _expect_torch_tensor(got, "orbit_jacobians", why=why)
    if tuple(got.shape) != (T, M, M):
        hint = ""
        if tuple(got.shape) == (T, M, T, M):
            hint = (" You differentiated all outputs with respect to all states, T^2 M^2 "
                    "numbers (hundreds of GB for the notebook's orbit, so do not take its "
                    "diagonal either): take the Jacobian of the sum over rows, "
                    "model(Z).sum(dim=0), or one state at a time")
        elif tuple(got.shape) == (M, T, M):
            hint = (" The sum trick gives the blocks with the time index in the middle, "
                    "(M, T, M): move it to the front with permute(1, 0, 2)")
        elif tuple(got.shape) in ((T, T, M), (M, T, T)):
            hint = (" The time index appears twice: model(Z).sum(dim=1) adds up the M "
                    "outputs of each state. Sum over the states instead, model(Z).sum(dim=0), "
                    "whose Jacobian with respect to Z has the blocks (M, T, M); then "
                    "permute(1, 0, 2)")
        elif tuple(got.shape) == (M, M, T):
            hint = (" The time index is last: move it to the front, permute(2, 0, 1)")
        elif tuple(got.shape) == (T, M):
            hint = " That is one vector per state: return the whole M x M matrix per state"
        raise AssertionError(f"for T = {T} states of dimension M = {M} ({what}) return shape "
                             f"({T}, {M}, {M}); got {tuple(got.shape)}.{hint}")
    if got.dtype != Z.dtype:
        raise AssertionError(
            f"the Jacobians must have the dtype of Z and the model, {Z.dtype} ({what}); got "
            f"{got.dtype}. naive_norms multiplies them in this dtype, and in the notebook "
            "(float32) that decides where the product overflows: do not convert the model, "
            "Z or the result")
    _expect_torch_tensor(got, "orbit_jacobians", device=Z.device)

    got = got.detach()
    rtol, atol = (1e-9, 1e-10) if Z.dtype == torch.float64 else (1e-5, 1e-6)
    close = close_enough(got, expected, rtol, atol)
    if bool(close.all()):
        return
    wrong = _first_mismatch("J", expected, got, close, what)
    for slip, value in _jacobian_slips(model, Z, expected):  # only a failure needs them
        if bool(close_enough(got, value, rtol, atol).all()):
            raise AssertionError(_with_hint(wrong, slip))
    deviation = float(((got - expected).abs() / (1 + expected.abs())).max())
    if Z.dtype == torch.float64 and deviation < 1e-4:
        raise AssertionError(
            f"{wrong}. Your Jacobians differ from the reference by up to {deviation:.1e}: "
            "more than rounding in float64 explains, as much as the precision of float32. Z "
            "and the model are float64 here, so part of your computation ran in float32: "
            "keep the dtype of Z and the model (no .float(), torch.eye/torch.zeros with "
            "dtype=Z.dtype)")
    raise AssertionError(f"{wrong}. J[t] = dF/dz at Z[t], the state before the step: "
                         "J[t, i, j] = d F_i / d z_j")


PLRNN_JACOBIANS = Check(
    "check_plrnn_jacobians", lambda hidden, salt: _jacobian_cases(hidden, salt),
    _probe_jacobians, _judge_jacobians,
    "orbit Jacobians: dF/dz at every state, the state before each step", CHAPTER)


def check_plrnn_jacobians(fn, *, hidden: bool = False) -> None:
    """Check ``fn(model, Z)``: the Jacobians dF/dz at each state Z[t] of an orbit (the
    state before the step), shape ``(T, M, M)`` in the dtype of ``Z``, equal to
    ``model.jacobian(Z)``.

    The visible cases: a float64 model and orbit, and a float32 one of other sizes, as the
    notebook's model is float32. With ``hidden=True`` (the grader) three more cases follow:
    other sizes and seeds, in float64 and float32.
    """
    _run_check(PLRNN_JACOBIANS, (fn,), hidden=hidden)


# ---------------------------------------------------------------------------------------
# Task 2: the norms of the naive product

def _mixed_jacobians(T, d, seed, dtype):
    """Random Jacobians far from normal (the order of the factors matters), no overflow."""
    import torch

    J = torch.randn(T, d, d, generator=torch.Generator().manual_seed(seed),
                    dtype=torch.float64) / 1.5
    J[:, 0, 1] += 2.0
    return J.to(getattr(torch, dtype))


def _rotations(T, seed, stretch, dtype, contract=0):
    """Rotations stretched by ``stretch``, the first ``contract`` of them (the last factors
    of the product J_T ... J_1) shrunk by 1 / stretch: the norm of the product of the last
    n is stretch^n while n <= T - contract, then falls again by a factor stretch per
    factor."""
    import torch

    g = torch.Generator().manual_seed(seed)
    angles = torch.rand(T, generator=g, dtype=torch.float64) * 6.28
    c, s = torch.cos(angles), torch.sin(angles)
    R = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)
    scale = torch.full((T, 1, 1), float(stretch), dtype=torch.float64)
    scale[:contract] = 1.0 / stretch
    return (scale * R).to(getattr(torch, dtype))


def _running_norms(factors, *, right=True, ord=2, start=None):
    """Norms of the running products of ``factors`` (in their order), in float64, from the
    identity or from the matrix ``start``."""
    import torch

    out = []
    P = torch.eye(factors.shape[-1], dtype=torch.float64) if start is None else start.double()
    for F in factors.double():
        P = P @ F if right else F @ P
        out.append(torch.linalg.matrix_norm(P, ord=ord))
    return torch.stack(out)


def _norm_slips(J, expected):
    """The typical mistakes of Task 2 on Jacobians that do not overflow, and what each
    gives."""
    import torch

    single = torch.linalg.matrix_norm(J.double().flip(0), ord=2)
    shifted = torch.cat([expected[1:], expected.new_full((1,), float("inf"))])
    logs = "return the norms, not their logarithms (the plot takes the log scale)"
    P, radii = torch.eye(J.shape[-1], dtype=torch.float64), []
    for Jt in J.double().flip(0):
        P = P @ Jt
        radii.append(torch.linalg.eigvals(P).abs().max())
    return [
        (logs, torch.log(expected)),
        (logs, torch.log10(expected)),
        ("the spectral norm is the largest singular value, torch.linalg.matrix_norm(P, "
         "ord=2), not the largest |eigenvalue|", torch.stack(radii)),
        ("use the spectral norm, torch.linalg.matrix_norm(P, ord=2); the default is the "
         "Frobenius norm", _running_norms(J.flip(0), ord="fro")),
        *[(f"use the spectral norm, torch.linalg.matrix_norm(P, ord=2), the largest "
           f"singular value; you took another matrix norm (ord={name})",
           _running_norms(J.flip(0), ord=order))
          for order, name in ((math.inf, "inf"), (1, "1"), ("nuc", "'nuc'"), (-2, "-2"))],
        ("the product starts from J_T and then multiplies J_T again: start from the "
         "identity (P = torch.eye(d, dtype=J.dtype)), or from J_T and then multiply "
         "J_{T-1}, J_{T-2}, ...", _running_norms(J.flip(0), start=J[-1])),
        ("start from the end of the orbit, as the sheet does: J_T, then J_T J_{T-1}, ... "
         "(multiply the next earlier Jacobian on the right)", _running_norms(J, right=False)),
        ("start from the end of the orbit: the first norm is ||J_T||, then ||J_T J_{T-1}||, "
         "...", _running_norms(J)),
        ("multiply the earlier Jacobian on the right, P = P @ J_{T-n}: the product is "
         "J_T J_{T-1} ..., not J_{T-1} J_T", _running_norms(J.flip(0), right=False)),
        ("these are the norms of the single Jacobians ||J_T||, ||J_{T-1}||, ...: take the "
         "norms of the running products, P = P @ J[T - 1 - n]", single),
        ("you multiplied the norms, ||J_T|| ||J_{T-1}|| ...: take the norm of the product "
         "of the matrices, which is smaller", torch.cumprod(single, 0)),
        ("one factor too many: the first norm is ||J_T|| alone, the second ||J_T J_{T-1}||",
         shifted),
    ]


def _norm_cases(hidden: bool, salt: int | None) -> list[Case]:
    """The visible cases: float32 Jacobians as in the notebook, float64 ones (the task asks
    for the Jacobians' dtype, whichever it is), and float32 stretched rotations whose
    product overflows after 80 finite norms while the last 14 factors contract, so that a
    product computed in float64 comes back below float32's largest number; then the
    hidden ones."""
    cases = [Case("T = 40 float32 Jacobians, as in the notebook",
                  dict(kind="mixed", T=40, d=4, seed=5, dtype="float32")),
             Case("T = 30 float64 Jacobians",
                  dict(kind="mixed", T=30, d=4, seed=4, dtype="float64")),
             Case("T = 100 float32 Jacobians: the product overflows, later factors contract",
                  dict(kind="rotations", T=100, d=2, seed=6, dtype="float32", stretch=3.0,
                       contract=14))]
    if hidden:
        cases += [Case(label, dict(kind=kind, T=T, d=d, seed=_salted(seed, salt),
                                   dtype=dtype, stretch=stretch, contract=contract),
                       hidden=True)
                  for label, kind, T, d, seed, dtype, stretch, contract in _HIDDEN_NORM_CASES]
    return cases


def _norm_inputs(case: Case):
    """The Jacobians of a case, in orbit order J_1, ..., J_T: random non-normal matrices
    ("mixed"), or stretched rotations ("rotations", :func:`_rotations`)."""
    p = case.params
    if p["kind"] == "mixed":
        return _mixed_jacobians(p["T"], p["d"], p["seed"], p["dtype"])
    return _rotations(p["T"], p["seed"], p["stretch"], p["dtype"], p["contract"])


def _probe_norms(case: Case, fn) -> dict:
    J = _norm_inputs(case)
    given = J.clone()
    return {"got": _attempt(fn, given), "J": given.detach()}


def _returned_norms(seen: dict, J, what):
    """The norms the student's function returned for ``J``: ``J`` unchanged, a tensor of
    shape (T,) in the dtype and on the device of ``J``."""
    T = J.shape[0]
    value = seen["got"]
    if isinstance(value, Raised) and value.is_a("RuntimeError"):
        text = value.message
        if "linalg" in text and ("converge" in text or "finite" in text):
            raise AssertionError(
                f"your code raised RuntimeError from a linear-algebra routine ({what}): the "
                "norm (an SVD) of a product with inf or nan entries fails. Test "
                "torch.isfinite(P).all() before taking the norm, and stop there; the "
                "remaining norms stay inf") from value.original
    got = returned_tensor(value, dtype=J.dtype, what=what,
                    hint="Compute in the dtype of J: torch.eye(d, dtype=J.dtype), "
                         "torch.full((T,), float('inf'), dtype=J.dtype), no .double()")
    _assert_unchanged(_snapshot(J), [seen["J"]], ["J"])
    why = "the next cell calls torch.isfinite on it"
    if isinstance(got, (list, tuple)):
        raise AssertionError(
            f"naive_norms must return a torch tensor ({why}); got a {type(got).__name__}. Fill "
            "the tensor norms = torch.full((T,), float('inf'), dtype=J.dtype) of the template")
    if isinstance(got, np.ndarray):
        raise AssertionError(f"naive_norms must return a torch tensor ({why}); got a NumPy "
                             "array. Compute with torch, without .numpy()")
    _expect_torch_tensor(got, "naive_norms", why=why)
    if tuple(got.shape) != (T,):
        raise AssertionError(f"for T = {T} Jacobians ({what}) return {T} norms, shape ({T},); "
                             f"got shape {tuple(got.shape)}")
    if got.dtype != J.dtype:
        raise AssertionError(
            f"the norms must have the dtype of the Jacobians, {J.dtype} ({what}); got "
            f"{got.dtype}. The product is computed in the Jacobians' dtype (float32 in the "
            "notebook, where it overflows): norms = torch.full((T,), float('inf'), "
            "dtype=J.dtype), and no .double() or .float()")
    _expect_torch_tensor(got, "naive_norms", device=J.device)
    if got.requires_grad:
        raise AssertionError("the norms must not require a gradient (the plot calls .numpy() "
                             "on them): the Jacobians have none, so do not create norms with "
                             "requires_grad=True")
    return got


_PRODUCT = "the spectral norm of the product of the last {k} Jacobians, J_T ... J_{{T-{n}}}"


def _judge_norm_values(J, seen, what):
    """Jacobians that do not overflow: every norm against the reference, computed in the
    Jacobians' dtype."""
    import torch

    from ..lyapunov import naive_product_log_norms

    dtype = "float64" if J.dtype == torch.float64 else "float32"
    got = _returned_norms(seen, J, what).to(torch.float64)
    expected = torch.exp(naive_product_log_norms(J, dtype=dtype))
    rtol = 1e-8 if J.dtype == torch.float64 else 1e-4
    close = close_enough(got, expected, rtol, 0.0)
    if bool(close.all()):
        return
    n = int((~close).nonzero()[0])
    wrong = _mismatch("norms", (n,), expected[n].item(), got[n].item(), what)
    for slip, value in _norm_slips(J, expected):
        if bool(close_enough(got, value, rtol, 0.0).all()):
            raise AssertionError(_with_hint(wrong, slip))
    product = _PRODUCT.format(k=n + 1, n=n)
    if bool(torch.isnan(got[n])):
        raise AssertionError(f"{wrong}. That is {product}, a finite product: where does "
                             "your nan come from (inf - inf, 0 * inf, an uninitialised "
                             "entry)?")
    if not bool(torch.isfinite(got[n])):
        raise AssertionError(
            f"{wrong}. That is {product}, a finite product: does your loop stop too early, "
            "or fill only part of norms? There is one norm for every n = 1, ..., T")
    raise AssertionError(f"{wrong}. norms[n] is {_PRODUCT.format(k='n + 1', n='n')}, "
                         "torch.linalg.matrix_norm(P, ord=2)")


def _judge_overflow(J, seen, what):
    """Float32 stretched rotations whose product overflows: the finite norms, then inf
    for every later product, as the task says (not nan, and never finite again: a product
    computed in float64 falls back below float32's largest number when the later factors
    contract)."""
    import torch

    from ..lyapunov import naive_product_log_norms

    got = _returned_norms(seen, J, what).to(torch.float64)
    reference = naive_product_log_norms(J, dtype="float32")
    n_ref = int(torch.isfinite(reference).sum())
    expected = torch.exp(reference)                  # the finite norms, then inf
    finite = torch.isfinite(got)
    first = int((~finite).nonzero()[0]) if not bool(finite.all()) else len(got)
    close = close_enough(got[:min(first, n_ref)], expected[:min(first, n_ref)], 1e-4, 0.0)
    if not bool(close.all()):
        n = int((~close).nonzero()[0])
        raise AssertionError(
            f"{_mismatch('norms', (n,), expected[n].item(), got[n].item(), what)}. Before the "
            f"overflow norms[n] is {_PRODUCT.format(k='n + 1', n='n')}, of the product "
            "computed in float32: here the norm of the product of n + 1 rotations stretched "
            "by the same factor is that factor to the power n + 1")
    if first < n_ref:
        raise AssertionError(
            f"{_mismatch('norms', (first,), expected[first].item(), got[first].item(), what)}"
            f". That is {_PRODUCT.format(k=first + 1, n=first)}, still finite in float32: "
            "stop only when the product itself is no longer finite (torch.isfinite(P).all())")
    if first > n_ref:  # then n_ref < len(got)
        wrong = _mismatch("norms", (n_ref,), math.inf, got[n_ref].item(), what)
        if n_ref and bool(got[n_ref] < got[n_ref - 1]):
            raise AssertionError(
                f"{wrong}. From norms[{n_ref}] on the product has overflowed float32, and "
                "every norm is inf: leave inf where the product is not finite (the template "
                "fills norms with inf), and stop multiplying there")
        raise AssertionError(
            f"{wrong}. The product overflows float32 after {n_ref} finite norms, but your "
            f"first {first} norms are finite: compute the product literally, in the "
            "Jacobians' dtype (float32), not in float64 and without rescaling it, and leave "
            "inf from the first product that is not finite")
    later = got[n_ref:]
    if bool(torch.isnan(later).any()):
        k = n_ref + int(torch.isnan(later).nonzero()[0])
        raise AssertionError(
            f"{_mismatch('norms', (k,), math.inf, math.nan, what)}. Once the product is no "
            "longer finite the task asks for inf in every remaining entry: stop multiplying "
            "at the first product that is not finite and leave the template's inf (going on "
            "gives nan, from inf - inf and 0 * inf)")
    if bool(finite[n_ref:].any()):
        k = n_ref + int(finite[n_ref:].nonzero()[0])
        wrong = _mismatch("norms", (k,), math.inf, got[k].item(), what)
        again = finite.clone()
        again[:n_ref] = False
        in_float64 = _running_norms(J.flip(0))
        if bool(close_enough(got[again], in_float64[again], 1e-4, 0.0).all()):
            raise AssertionError(
                f"{wrong}. Your norms after the overflow are those of the exact product, "
                "as computed in float64 (or rescaled): its norm falls back below float32's "
                "largest number when the later factors contract, while the float32 product "
                f"overflowed for good at norms[{n_ref}]. Compute the product literally, in "
                "the Jacobians' dtype, float32 as in the notebook: no .double(), no "
                "rescaling, torch.eye/torch.zeros with dtype=J.dtype")
        raise AssertionError(
            f"{wrong}. After the first product that overflows every later norm is inf; "
            "yours is finite again. Stop multiplying at the first product that is not "
            "finite")
    if not bool((later == math.inf).all()):
        k = n_ref + int((later != math.inf).nonzero()[0])
        raise AssertionError(
            f"{_mismatch('norms', (k,), math.inf, got[k].item(), what)}. Once the product "
            "is no longer finite the remaining entries are inf, as the template fills them")


def _judge_norms(case: Case, seen: dict) -> None:
    J = _norm_inputs(case)
    what = "a hidden case" if case.hidden else case.label
    if "rotations" in case.params["kind"]:
        _judge_overflow(J, seen, what)
    else:
        _judge_norm_values(J, seen, what)


NAIVE_NORMS = Check(
    "check_naive_norms", lambda hidden, salt: _norm_cases(hidden, salt), _probe_norms,
    _judge_norms, "naive_norms: ||J_T ... J_{T-n+1}||_2 in the Jacobians' dtype, inf after "
                  "the overflow", CHAPTER)

#: The checks of this chapter, by name.
CHECKS = {check.name: check for check in (PLRNN_JACOBIANS, NAIVE_NORMS)}


def check_naive_norms(fn, *, hidden: bool = False) -> None:
    """Check ``fn(J)``: the spectral norms ||J_T||, ||J_T J_{T-1}||, ..., ||J_T ... J_1||
    of the running products (not their logs), computed in the dtype of ``J`` (T, d, d) and
    returned as a tensor of shape (T,) in that dtype, with ``inf`` from the first product
    that is not finite on.

    The visible cases: float32 Jacobians as in the notebook, float64 Jacobians, and float32
    stretched rotations whose product overflows and whose last factors contract (a product
    computed in float64 would come back below float32's largest number). With
    ``hidden=True`` (the grader) three more cases follow: another seed, length and
    dimension; float32 Jacobians; and an overflow after another number of factors.
    """
    _run_check(NAIVE_NORMS, (fn,), hidden=hidden)
