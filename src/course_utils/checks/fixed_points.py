"""Checks of chapter 07 (linearization and fixed points of an nn.RNN): the Jacobians, the
affine prediction and the stability of a fixed point of a map.

Each check is a :class:`~course_utils.checks.framework.Check`: its cases are described by
seeds, sizes and kinds (``Case.params``); the probe rebuilds a case's inputs, calls the
student's function on them and observes what came back and the inputs after the call
(the rnn's parameters by :func:`~course_utils.checks.framework.module_state`); the judge
rebuilds the same inputs, computes the reference and compares.

The visible cases include the notebook's own setting at a reduced size: a float64,
batch-first ``nn.RNN`` linearised at the silent input u = 0 and a state read from a
trajectory (a view into it), the batch of perturbations ``eps v`` of the next cell with
du = 0, a batch of one perturbation, and eigenvalue sets as ``torch.linalg.eigvals``
gives them (complex128, real ones with rounding errors in their imaginary parts, many
of them sorted by modulus), besides the edge cases of the task's rule (moduli of exactly
1, moduli 1e-7 below and above 1 that only a strict comparison with 1 classifies right,
slow rotations). A wrong value is reported in the form of every chapter
(:func:`~course_utils.checks.framework.mismatch`), followed by the likely slip.
"""

from __future__ import annotations

import cmath
import re

import numpy as np

from .framework import (Case, Check, assert_unchanged, attempt as _attempt, first_mismatch,
                        module_state as _module_state, outcome as _outcome,
                        plain as _plain_value,
                        run_check as _run_check, salted as _salted, snapshot, torch_result,
                        type_name)
from .observations import Opaque, Raised

CHAPTER = "07_rnn_fixed_points"
__all__ = ["check_rnn_jacobians", "check_affine_prediction", "check_stability_classification"]

_RTOL, _ATOL = 1e-8, 1e-10      # float64 results: analytic and autograd agree to ~1e-15


# ---------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------

def _small_torch_rnn(seed=7, n_in=3, n_hidden=5, scale=0.8):
    """A float64 tanh ``nn.RNN`` (batch first, as the notebook's) with non-zero biases and a
    point (u, h) to linearise at."""
    import torch

    g = torch.Generator().manual_seed(seed)
    rnn = torch.nn.RNN(n_in, n_hidden, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        for p in rnn.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64) * scale)
    u = torch.randn(n_in, generator=g, dtype=torch.float64)
    h = torch.randn(n_hidden, generator=g, dtype=torch.float64) * 0.5
    return rnn, u, h


def _rnn_reference(rnn, u, h):
    """F(h, u), J_h and J_u of an nn.RNN at one point, by the toolkit's Linearization."""
    from ..linearization import Linearization

    lin = Linearization(rnn)
    return (lin.step(u, h), *lin.jacobian(u, h))


def _weights(rnn):
    return tuple(p.detach().clone() for p in (rnn.weight_ih_l0, rnn.weight_hh_l0,
                                              rnn.bias_ih_l0, rnn.bias_hh_l0))


def _isclose(got, expected, rtol=_RTOL, atol=_ATOL):
    """Elementwise closeness of two tensors of one shape (NaN never close), in float64."""
    import torch

    return torch.isclose(got.to(torch.float64), expected.to(torch.float64), rtol=rtol,
                         atol=atol)


def _close(got, expected, rtol=_RTOL, atol=_ATOL) -> bool:
    """NaN-safe allclose of two tensors of one shape, in float64 or complex128."""
    import torch

    if tuple(got.shape) != tuple(expected.shape):
        return False
    dtype = torch.complex128 if (got.is_complex() or expected.is_complex()) else torch.float64
    return bool(torch.allclose(got.to(dtype), expected.to(dtype), rtol=rtol, atol=atol))


def _where(name: str, got, expected, case: Case) -> str:
    """``name[i, j] is wrong (case): expected E, got G`` at the first entry that differs."""
    return first_mismatch(name, expected, got, close=_isclose(got, expected),
                          case=None if case.hidden else case.label)


def _nearly(got, expected) -> bool:
    """Wrong, but everywhere within 1e-4 of the largest entry's size: an approximation of
    the right value (finite differences), not a wrong formula."""
    scale = float(expected.abs().max()) or 1.0
    return bool(((got - expected).abs() <= 1e-4 * scale).all())


def _expect_float(got, what: str, dtype, why: str) -> None:
    if got.is_complex() or not got.is_floating_point():
        raise AssertionError(f"{what} must be a real floating-point tensor of dtype {dtype} "
                             f"({why}); got dtype {got.dtype}")
    if got.dtype != dtype:
        raise AssertionError(f"{what} must have dtype {dtype}, the dtype of the rnn's weights "
                             f"({why}); got {got.dtype}. Do not convert: compute with the "
                             "weights and inputs as they are")


_APPROXIMATE = ("finite differences only approximate the derivatives. Use the formula, or "
                "autograd (torch.autograd.functional.jacobian), which are exact to rounding")


# ---------------------------------------------------------------------------------------
# Task 1: the Jacobians
# ---------------------------------------------------------------------------------------

def _jacobian_slips(rnn, u, h, J_h, J_u):
    """(message, wrong J_h, wrong J_u) for the typical slips."""
    import torch

    W_ih, W_hh, b_ih, b_hh = _weights(rnn)
    a = W_ih @ u + W_hh @ h
    full = a + b_ih + b_hh
    s = 1 - torch.tanh(full) ** 2

    def rows(slope):
        return slope[:, None] * W_hh, slope[:, None] * W_ih

    one_bias = ("Both biases b_ih and b_hh belong in the pre-activation a = W_ih u + b_ih + "
                "W_hh h + b_hh: one of them is missing")
    a_t = W_ih @ u + W_hh.T @ h + b_ih + b_hh          # h @ W_hh in the pre-activation
    s_t = 1 - torch.tanh(a_t) ** 2
    transposed = ("nn.RNN computes W_hh h (h @ W_hh.T for a row h), so J_h = diag(1 - "
                  "tanh(a)^2) W_hh with W_hh = rnn.weight_hh_l0 as it is, not its transpose")
    return [
        ("J_h is transposed: row i holds the derivatives of h_next[i], J_h[i, j] = "
         "d h_next[i] / d h[j]", J_h.T, J_u),
        (f"J_h uses W_hh.T: {transposed}", s[:, None] * W_hh.T, J_u),
        (f"The pre-activation and J_h use W_hh.T (h @ W_hh is W_hh.T h): {transposed}; "
         "a = W_ih u + b_ih + W_hh h + b_hh", s_t[:, None] * W_hh.T, s_t[:, None] * W_ih),
        ("The pre-activation uses W_hh.T (h @ W_hh is W_hh.T h): nn.RNN computes a = W_ih u "
         "+ b_ih + W_hh h + b_hh, with W_hh = rnn.weight_hh_l0 as it is (h @ W_hh.T for a "
         "row h)", *rows(s_t)),
        ("You used W_hh and W_ih alone: the chain rule multiplies each row i by tanh'(a_i) "
         "= 1 - tanh(a_i)^2 at the pre-activation a", W_hh, W_ih),
        ("The derivative tanh' was evaluated at the current state h (1 - h^2) instead of at "
         "the pre-activation a of this step (1 - tanh(a)^2 = 1 - h_next^2)", *rows(1 - h ** 2)),
        ("The derivative tanh' was evaluated at the current state h (1 - tanh(h)^2) instead "
         "of at the pre-activation a of this step: tanh'(a) = 1 - tanh(a)^2 = 1 - h_next^2",
         *rows(1 - torch.tanh(h) ** 2)),
        ("tanh was applied twice: 1 - tanh(h_next)^2 is tanh' at the new state, but the "
         "derivative is taken at the pre-activation a, tanh'(a) = 1 - tanh(a)^2 = 1 - "
         "h_next^2 with h_next = tanh(a)", *rows(1 - torch.tanh(torch.tanh(full)) ** 2)),
        ("The derivative of tanh is 1 - tanh(a)^2, not 1 - tanh(a)",
         *rows(1 - torch.tanh(full))),
        ("The derivative of tanh at a is 1 - tanh(a)^2, not 1 - a^2: apply tanh first",
         *rows(1 - full ** 2)),
        ("The biases b_ih and b_hh are part of the pre-activation a: leave them in",
         *rows(1 - torch.tanh(a) ** 2)),
        (one_bias, *rows(1 - torch.tanh(a + b_ih) ** 2)),
        (one_bias, *rows(1 - torch.tanh(a + b_hh) ** 2)),
        ("The input term W_ih u belongs in the pre-activation a = W_ih u + b_ih + W_hh h + "
         "b_hh: tanh' is taken at the whole of it (the notebook's u = 0 hides this slip, "
         "other inputs do not)", *rows(1 - torch.tanh(W_hh @ h + b_ih + b_hh) ** 2)),
        ("The diagonal factor multiplies the columns instead of the rows: use "
         "slope[:, None] * W (or torch.diag(slope) @ W)", W_hh * s[None, :], W_ih),
        ("The product torch.diag(slope) * W is elementwise and keeps only the diagonal of W: "
         "use the matrix product torch.diag(slope) @ W (or slope[:, None] * W)",
         torch.diag(s) * W_hh, J_u),
    ]


#: The visible cases of Task 1: a small network at a random point, and the notebook's
#: setting (the silent input u = 0, a state read from a trajectory, I = 3 inputs).
_JACOBIAN_VISIBLE = (
    Case("I = 3 inputs, H = 5 hidden units", dict(seed=7, n_in=3, n_hidden=5, scale=0.8)),
    Case("as in the notebook: the silent input u = 0 and a state h of a trajectory, "
         "I = 3 inputs, H = 16 hidden units",
         dict(seed=8, n_in=3, n_hidden=16, scale=0.3, silent=True)),
)

#: The hidden cases of Task 1: (label, seed, I, H, weight scale). Their failures never
#: show these values; the grader mixes its salt into the seeds.
_JACOBIAN_HIDDEN = (
    ("another seed, more hidden units than inputs", 101, 2, 8, 0.8),
    ("another seed, more inputs than hidden units, saturated units", 202, 6, 3, 1.6),
    ("a larger network with small weights", 303, 4, 16, 0.3),
)


def _jacobian_cases(hidden: bool, salt: int | None) -> list[Case]:
    cases = list(_JACOBIAN_VISIBLE)
    if hidden:
        cases += [Case(label, dict(seed=_salted(seed, salt), n_in=n_in, n_hidden=n_hidden,
                                   scale=scale), hidden=True)
                  for label, seed, n_in, n_hidden, scale in _JACOBIAN_HIDDEN]
    return cases


def _rnn_inputs(params: dict):
    """The rnn and the point (u, h) of a case, the same in the probe and in the judge (a
    tanh RNN is smooth: any seed gives a fair case). With ``silent``, as in the notebook:
    u = 0 and h a row of a trajectory of states (a view into it, like ``h_traj[0, 60]``)."""
    import torch

    rnn, u, h = _small_torch_rnn(params["seed"], params["n_in"], params["n_hidden"],
                                 params["scale"])
    if params.get("silent"):
        g = torch.Generator().manual_seed(params["seed"] + 1)
        trajectory = torch.tanh(torch.randn(4, params["n_hidden"], generator=g,
                                            dtype=torch.float64))
        u, h = torch.zeros_like(u), trajectory[2]
    return rnn, u, h


def _probe_jacobians(case: Case, fn) -> dict:
    rnn, u, h = _rnn_inputs(case.params)
    got = _plain_value(_attempt(fn, rnn, u, h))
    return {"got": got, "rnn": _module_state(rnn), "u": u.detach(), "h": h.detach()}


def _judge_jacobians(case: Case, seen: dict) -> None:
    """One point (rnn, u, h): the student's (J_h, J_u) against the chain rule."""
    rnn, u, h = _rnn_inputs(case.params)
    _, J_h, J_u = _rnn_reference(rnn, u, h)
    H, I = J_u.shape
    dtype = rnn.weight_hh_l0.dtype

    got = _outcome(seen["got"])
    assert_unchanged(snapshot(rnn, u, h), [seen["rnn"], seen["u"], seen["h"]],
                     ["rnn (its weights)", "u", "h"])

    if not isinstance(got, (tuple, list)) or len(got) != 2:
        size = f" of length {len(got)}" if isinstance(got, (tuple, list)) else ""
        raise AssertionError(f"return the pair (J_h, J_u), e.g. `return J_h, J_u`; got "
                             f"{type_name(got)}{size}")
    why = "Task 2 multiplies it with the torch tensors dh and du, dh @ J_h.T and J_u @ du"
    got_h, got_u = (torch_result(g, name, why) for g, name in zip(got, ("J_h", "J_u")))

    shape_h, shape_u = tuple(got_h.shape), tuple(got_u.shape)
    if H != I and shape_h == (H, I) and shape_u == (H, H):
        raise AssertionError(f"J_h and J_u are swapped: return (J_h, J_u), J_h of shape "
                             f"{(H, H)} first (torch.autograd.functional.jacobian(f, (u, h)) "
                             "returns them in the order of its inputs, u first)")
    for name, g, e, wrt in (("J_h", got_h, J_h, "h"), ("J_u", got_u, J_u, "u")):
        shape, want = tuple(g.shape), tuple(e.shape)
        if shape == want:
            continue
        if len(shape) == 2 and shape == want[::-1]:
            hint = (f" This is the transpose: row i holds the derivatives of h_next[i] with "
                    f"respect to {wrt}")
        elif g.numel() == e.numel():
            hint = (f" Remove the batch and layer axes of the RNN's input and output, e.g. "
                    f".reshape{want}")
        elif len(shape) == 1 and shape[0] in (H, e.shape[1]):
            hint = (" One vector is not the Jacobian: it has one row per output h_next[i] "
                    "(a gradient of the sum of the outputs gives only the column sums; "
                    "differentiate each output, or use torch.autograd.functional.jacobian)")
        else:
            hint = (f" (H outputs by the size of what you differentiate by, {wrt})")
        raise AssertionError(f"{name} must have shape {want} for H = {H} hidden units and "
                             f"I = {I} inputs; got {shape}.{hint}")
    for name, g in (("J_h", got_h), ("J_u", got_u)):
        _expect_float(g, name, dtype, "Task 2 multiplies it with perturbations of that dtype, "
                                      "and a matrix product needs one dtype")
        if g.device != J_h.device:
            raise AssertionError(f"{name} must be on the device of the rnn, {J_h.device}; got "
                                 f"{g.device}")

    ok_h, ok_u = _close(got_h, J_h), _close(got_u, J_u)
    if ok_h and ok_u:
        return
    for name, g in (("J_h", got_h), ("J_u", got_u)):
        if not bool(g.isfinite().all()):
            raise AssertionError(f"{name} contains NaN or inf; the Jacobian of a tanh RNN is "
                                 "finite everywhere")
    name, g, e = ("J_h", got_h, J_h) if not ok_h else ("J_u", got_u, J_u)
    where = _where(name, g, e, case)
    for slip, wh, wu in _jacobian_slips(rnn, u, h, J_h, J_u):  # only a failure needs them
        if (ok_h or _close(got_h, wh)) and (ok_u or _close(got_u, wu)):
            raise AssertionError(f"{where}. {slip}")
    if _nearly(got_h, J_h) and _nearly(got_u, J_u):
        raise AssertionError(f"{where}. J_h and J_u are close to the chain rule, but "
                             f"not equal: {_APPROXIMATE}")
    raise AssertionError(f"{where}. With a = W_ih u + b_ih + W_hh h + b_hh, J_h = "
                         "diag(1 - tanh(a)^2) W_hh and J_u = diag(1 - tanh(a)^2) W_ih")


RNN_JACOBIANS = Check(
    "check_rnn_jacobians", lambda hidden, salt: _jacobian_cases(hidden, salt),
    _probe_jacobians, _judge_jacobians,
    "J_h and J_u of the tanh RNN step agree with the chain rule at a point with non-zero "
    "biases", CHAPTER)


def check_rnn_jacobians(fn, *, hidden: bool = False) -> None:
    """Check ``fn(rnn, u, h) → (J_h, J_u)`` for a single-layer tanh ``nn.RNN`` at one input
    ``u (I,)`` and state ``h (H,)``: J_h = diag(1 - tanh(a)^2) W_hh and J_u = diag(1 -
    tanh(a)^2) W_ih, with a = W_ih u + b_ih + W_hh h + b_hh. Torch tensors of the rnn's
    dtype, shapes (H, H) and (H, I); computed by the formula or by autograd. The visible
    cases include the notebook's setting: the silent input u = 0 and a state read from a
    trajectory; the inputs and the rnn must stay unchanged."""
    _run_check(RNN_JACOBIANS, (fn,), hidden=hidden)


# ---------------------------------------------------------------------------------------
# Task 2: the affine prediction
# ---------------------------------------------------------------------------------------

def _perturbations(seed, B, H, I, scale=1e-2):
    import torch

    g = torch.Generator().manual_seed(seed)
    dh = scale * torch.randn(B, H, generator=g, dtype=torch.float64)
    du = scale * torch.randn(I, generator=g, dtype=torch.float64)
    return du, dh


def _notebook_perturbations(seed, B, H, I):
    """The next cell's perturbations: du = 0 and dh = eps v, one size eps per row (from 1e-4
    to 1, evenly on a log scale) along one random unit vector v."""
    import torch

    g = torch.Generator().manual_seed(seed)
    v = torch.randn(H, generator=g, dtype=torch.float64)
    v = v / v.norm()
    eps = torch.logspace(-4, 0, B, dtype=torch.float64)
    return torch.zeros(I, dtype=torch.float64), eps[:, None] * v


#: The visible cases of Task 2: a small network with random perturbations, the next cell's
#: setting (u = du = 0, a batch of perturbations eps v of very different sizes) and a batch
#: of one perturbation.
_AFFINE_VISIBLE = (
    Case("B = 4 perturbations, I = 3 inputs, H = 5 hidden units",
         dict(seed=11, n_in=3, n_hidden=5, scale=0.8, p_seed=12, B=4, p_scale=1e-2)),
    Case("as in the notebook: u = du = 0 and B = 9 perturbations eps v along one direction "
         "v, eps from 1e-4 to 1, I = 3 inputs, H = 16 hidden units",
         dict(seed=13, n_in=3, n_hidden=16, scale=0.3, silent=True, p_seed=14, B=9,
              layout="notebook")),
    Case("a single perturbation, B = 1, I = 3 inputs, H = 5 hidden units",
         dict(seed=15, n_in=3, n_hidden=5, scale=0.8, p_seed=16, B=1, p_scale=1e-2)),
)

#: The hidden cases of Task 2: (label, rnn seed, I, H, perturbation seed, B, scale).
#: Their failures never show these values; the grader mixes its salt into the seeds.
_AFFINE_HIDDEN = (
    ("another seed and network size, a single perturbation", 111, 2, 7, 112, 1, 1e-2),
    ("another seed, as many perturbations as hidden units", 121, 4, 6, 122, 6, 1e-3),
    ("another seed, a larger batch of larger perturbations", 131, 3, 4, 132, 9, 1e-1),
)


def _affine_cases(hidden: bool, salt: int | None) -> list[Case]:
    cases = list(_AFFINE_VISIBLE)
    if hidden:
        cases += [Case(label, dict(seed=_salted(seed, salt), n_in=n_in, n_hidden=n_hidden,
                                   scale=0.8, p_seed=_salted(p_seed, salt), B=B,
                                   p_scale=p_scale), hidden=True)
                  for label, seed, n_in, n_hidden, p_seed, B, p_scale in _AFFINE_HIDDEN]
    return cases


def _affine_inputs(params: dict):
    """The rnn, the point (u, h) and the perturbations (du, dh) of a case."""
    rnn, u, h = _rnn_inputs(params)
    if params.get("layout") == "notebook":
        du, dh = _notebook_perturbations(params["p_seed"], params["B"], params["n_hidden"],
                                         params["n_in"])
    else:
        du, dh = _perturbations(params["p_seed"], params["B"], params["n_hidden"],
                                params["n_in"], params["p_scale"])
    return rnn, u, h, du, dh


def _probe_affine(case: Case, fn) -> dict:
    rnn, u, h, du, dh = _affine_inputs(case.params)
    got = _attempt(fn, rnn, u, h, du, dh)
    return {"got": got, "rnn": _module_state(rnn), "u": u.detach(), "h": h.detach(),
            "du": du.detach(), "dh": dh.detach()}


def _affine_slips(rnn, u, h, du, dh, F, J_h, J_u):
    """(message, wrong prediction) for the typical slips of Task 2."""
    import torch

    B, H = dh.shape
    W_ih, W_hh, b_ih, b_hh = _weights(rnn)

    def F_at(hh, uu):
        return torch.tanh(W_ih @ uu + b_ih + hh @ W_hh.T + b_hh)

    exact, F_moved = F_at(h + dh, u + du), F_at(h, u + du)
    _, J_h_moved, J_u_moved = _rnn_reference(rnn, u + du, h)

    at_perturbed = ("Start from F(h, u), the next state at the point itself: F(h + dh, u) "
                    "already moves by about J_h dh, and J_h dh adds it a second time")
    return [
        ("The state term is dh @ J_h.T (row b is J_h dh_b), not dh @ J_h",
         F + dh @ J_h + J_u @ du),
        (at_perturbed, F_at(h + dh, u) + dh @ J_h.T + J_u @ du),
        (at_perturbed.replace("F(h + dh, u)", "F(h + dh, u + du)").replace(
            "J_h dh", "J_h dh + J_u du"), F_at(h + dh, u + du) + dh @ J_h.T + J_u @ du),
        ("The input term has the wrong sign: F(h, u) + J_h dh + J_u du, each perturbation "
         "moves the next state by + its Jacobian times it", F + dh @ J_h.T - J_u @ du),
        ("The state term has the wrong sign: F(h, u) + J_h dh + J_u du, each perturbation "
         "moves the next state by + its Jacobian times it", F - dh @ J_h.T + J_u @ du),
        ("Start from the next state F(h, u), not from the current state h",
         h + dh @ J_h.T + J_u @ du),
        ("The input perturbation is missing: add J_u du (the notebook's du = 0 hides this "
         "slip, other inputs do not)", F + dh @ J_h.T),
        ("The state perturbation is missing: add J_h dh_b for each row b",
         (F + J_u @ du).expand(B, H)),
        ("These are the perturbations of the next state alone: add the next state F(h, u)",
         dh @ J_h.T + J_u @ du),
        ("The input term is J_u du, with the perturbation du, not J_u u",
         F + dh @ J_h.T + J_u @ u),
        ("Add the first-order terms, F(h, u) + J_h dh + J_u du; you subtracted them",
         F - dh @ J_h.T - J_u @ du),
        ("Start from F(h, u), the next state at the point itself: F(h, u + du) counts the "
         "input perturbation twice, once more in J_u du", F_moved + dh @ J_h.T + J_u @ du),
        ("The Jacobians are taken at the point (h, u), not at the perturbed input u + du",
         F + dh @ J_h_moved.T + J_u_moved @ du),
        ("This is the exact next state F(h + dh, u + du); the task is its first-order "
         "(affine) approximation at (h, u)", exact),
    ]


#: A RuntimeError of PyTorch about sizes (not dtypes): "The size of tensor a (5) must match
#: ...", "mat1 and mat2 shapes cannot be multiplied", "shape '[4, 5]' is invalid", ...
_SIZE_ERROR = re.compile(r"size of tensor|shapes cannot be multiplied|size mismatch|shape '|"
                         r"dimension|broadcast", re.I)


def _affine_outcome(value, case: Case, u, h, du, dh):
    """The student's result; an IndexError or a size mismatch their code raised on a visible
    case becomes an AssertionError that names the case and the shapes of the inputs, with a
    hint, caused by the student's own exception (in the notebook)."""
    if (isinstance(value, Raised) and not case.hidden
            and (value.is_a("IndexError")
                 or value.is_a("RuntimeError") and _SIZE_ERROR.search(value.message))):
        (B, H), I = dh.shape, du.shape[0]
        if value.is_a("IndexError"):
            hint = (f"Loop over the rows of dh, B = {B} of them (range(len(dh)) or "
                    f"range(dh.shape[0])), not over the H = {H} entries of a row "
                    "(len(dh[0]), dh.shape[1]); or use no loop: dh @ J_h.T")
        else:
            hint = (f"J_h has shape (H, H) = {(H, H)} and J_u (H, I) = {(H, I)}: a row dh_b "
                    "gives J_h @ dh_b, the whole batch dh @ J_h.T, and the input term is "
                    "J_u @ du; take every size from the inputs' shapes")
        first_line = value.message.strip().splitlines()[0] if value.message.strip() else ""
        raise AssertionError(
            f"your code raised {value.type_name} ({first_line}) on the case {case.label}: "
            f"dh of shape (B, H) = {(B, H)}, du of shape (I,) = {(I,)}, h of shape (H,) = "
            f"{(H,)}, u of shape (I,) = {(I,)}. {hint}") from value.original
    return _outcome(value)


def _judge_affine(case: Case, seen: dict) -> None:
    """The student's prediction for a batch dh against F(h, u) + J_h dh_b + J_u du."""
    rnn, u, h, du, dh = _affine_inputs(case.params)
    F, J_h, J_u = _rnn_reference(rnn, u, h)
    B, H = dh.shape
    expected = F + dh @ J_h.T + J_u @ du

    got = _affine_outcome(seen["got"], case, u, h, du, dh)
    assert_unchanged(snapshot(rnn, u, h, du, dh),
                     [seen["rnn"], seen["u"], seen["h"], seen["du"], seen["dh"]],
                     ["rnn (its weights)", "u", "h", "du", "dh"])

    got = torch_result(got, "the prediction", "the next cell subtracts the exact next states, a "
                                         "torch tensor, and takes .norm(dim=1)")
    shape = tuple(got.shape)
    if shape != (B, H):
        if B != H and shape == (H, B):
            hint = " You returned the transpose: one row per perturbation, dh @ J_h.T"
        elif shape == (H,) and B == 1:
            hint = (" Keep the batch axis, also for B = 1: squeeze only the axes you added "
                    "(x[0], x.squeeze(0), x.reshape(dh.shape)), not every axis of size 1 "
                    "(x.squeeze())")
        elif shape == (H,):
            hint = " Predict every row of the batch dh, not one state"
        elif len(shape) == 2 and shape[1] == H:
            hint = (" One row per perturbation: take the batch size from dh (dh.shape[0]), "
                    "not a number written in")
        elif got.numel() == B * H:
            hint = (" Remove the extra axes (of the RNN's output, for instance) with "
                    f".reshape({B}, {H})")
        else:
            hint = ""
        raise AssertionError(f"for dh of shape {(B, H)} return shape {(B, H)}; got "
                             f"{shape}.{hint}")
    _expect_float(got, "the prediction", rnn.weight_hh_l0.dtype,
                  "the next cell measures prediction errors down to 1e-9, far below what "
                  "float32 resolves")
    if _close(got, expected):
        return
    if not bool(got.isfinite().all()):
        raise AssertionError("the prediction contains NaN or inf")
    where = _where("prediction", got, expected, case)
    for slip, wrong in _affine_slips(rnn, u, h, du, dh, F, J_h, J_u):
        if _close(got, wrong):
            raise AssertionError(f"{where}. {slip}")
    if _nearly(got, expected):
        raise AssertionError(f"{where}. The prediction is close to F(h, u) + J_h dh + "
                             f"J_u du, but not equal: {_APPROXIMATE}")
    raise AssertionError(f"{where}. The prediction is F(h, u) + J_h dh_b + J_u du for each "
                         "row dh_b")


AFFINE_PREDICTION = Check(
    "check_affine_prediction", lambda hidden, salt: _affine_cases(hidden, salt),
    _probe_affine, _judge_affine,
    "affine prediction F(h, u) + J_h dh + J_u du, row by row for a batch of dh", CHAPTER)


def check_affine_prediction(fn, *, hidden: bool = False) -> None:
    """Check ``fn(rnn, u, h, du, dh) → (B, H)``: the first-order prediction of the next
    state for a batch of state perturbations ``dh (B, H)`` and one input perturbation
    ``du (I,)``, F(h, u) + J_h dh_b + J_u du for every row b, a float64 torch tensor.
    The visible cases include the next cell's setting (u = du = 0, perturbations eps v of
    sizes 1e-4 to 1) and a batch of one perturbation."""
    _run_check(AFFINE_PREDICTION, (fn,), hidden=hidden)


# ---------------------------------------------------------------------------------------
# Task 3: stability of a fixed point of a map
# ---------------------------------------------------------------------------------------

def _pair(r, angle):
    """A complex-conjugate pair r e^{±i angle} (exact conjugates)."""
    z = cmath.rect(r, angle)
    return [z, z.conjugate()]


#: The task's threshold: an eigenvalue is complex when its imaginary part is above this in
#: size.
_IMAG_TOL = 1e-9


def _reference_label(ev: np.ndarray) -> str:
    moduli = np.abs(ev)
    kind = ("stable" if (moduli < 1).all() else "unstable" if (moduli > 1).all()
            else "saddle")
    return kind + (" (oscillatory)" if (np.abs(ev.imag) > _IMAG_TOL).any() else "")


#: Many eigenvalues sorted by modulus, largest first, as ``fps.eigenvalues`` holds them:
#: the largest are real, the complex ones come later.
_MANY = [0.93, -0.88, 0.85, *_pair(0.67, 0.46), *_pair(0.64, 2.47), 0.45, *_pair(0.4, 1.05),
         -0.3, 0.05]

#: The visible cases, complex128 as in the notebook. Eigenvalues of a real matrix are
#: real (imaginary part 0) or come in conjugate pairs; those computed in floating point
#: may carry rounding errors in their imaginary parts (a close pair of real eigenvalues,
#: complex arithmetic), far below the task's 1e-9, while a slow rotation has a small
#: imaginary part far above it: every tolerance between about 1e-11 and 1e-6 gives these
#: labels. Moduli of exactly 1 are neither below nor above 1 (the rule's "otherwise"); moduli
#: of 0.9999999 and 1.0000001 are, which rounded moduli or a tolerance miss.
_CLASS_CASES = [
    ([0.5, -0.9, 0.2], "stable"),
    (_pair(0.95, 0.4) + [0.3], "stable (oscillatory)"),
    ([1.5, -2.0], "unstable"),
    (_pair(1.2, 2.0), "unstable (oscillatory)"),
    ([1.3, 0.6, 0.1], "saddle"),
    (_pair(1.05, 0.1) + [0.5], "saddle (oscillatory)"),
    ([-0.8, -0.3], "stable"),               # negative real eigenvalues
    ([-1.4, 0.5], "saddle"),                # a flip, not stable
    ([complex(0.7, 2e-12), complex(0.7, -2e-12), 0.3], "stable"),        # rounding errors
    ([complex(1.3, 1.2e-16), complex(-0.4, -3e-17), complex(0.1, 5e-17)], "saddle"),
    ([complex(0.8, 3e-6), complex(0.8, -3e-6), 0.5], "stable (oscillatory)"),  # slow rotation
    ([1.0, 0.5, -0.3], "saddle"),           # a modulus of exactly 1
    ([-1.0, 1.5, 2.0], "saddle"),
    (_MANY, "stable (oscillatory)"),
    ([0.5, 0.9999999, -0.3], "stable"),     # moduli just below and just above 1: only a
    ([1.5, -1.0000001], "unstable"),        # strict comparison with 1 itself gets them
]


def _kind_by(rule_stable, rule_unstable):
    def kind(ev):
        return ("stable" if rule_stable(ev) else "unstable" if rule_unstable(ev)
                else "saddle")
    return kind


_ON_THE_CIRCLE = ("a modulus of exactly 1 is neither below nor above 1: 'stable' needs every "
                  "abs(lambda) < 1 and 'unstable' every abs(lambda) > 1, strictly, so a point "
                  "with an eigenvalue on the unit circle is 'saddle' by the task's rule "
                  "(otherwise)")

_ALL_NOT_ANY = ("stable needs every modulus below 1, unstable every modulus above 1 (all, not "
                "any); a mix is a saddle")

#: Wrong rules for the kind: (message, rule).
_KIND_SLIPS = [
    ("for a map compare the moduli abs(lambda) with 1: comparing the real parts with 0 is "
     "the rule for flows (continuous time), and a map with eigenvalue -0.9 is stable",
     _kind_by(lambda ev: (ev.real < 0).all(), lambda ev: (ev.real > 0).all())),
    ("compare the moduli abs(lambda) with 1, not the real parts: a negative or complex "
     "eigenvalue can have a real part below 1 and a modulus above 1",
     _kind_by(lambda ev: (ev.real < 1).all(), lambda ev: (ev.real > 1).all())),
    ("abs(eigenvalues.real) is not the modulus: a complex eigenvalue's modulus is "
     "sqrt(re^2 + im^2), eigenvalues.abs()",
     _kind_by(lambda ev: (np.abs(ev.real) < 1).all(), lambda ev: (np.abs(ev.real) > 1).all())),
    ("stable and unstable are swapped: abs(lambda) < 1 shrinks a perturbation at every step "
     "(stable), abs(lambda) > 1 grows it",
     _kind_by(lambda ev: (np.abs(ev) > 1).all(), lambda ev: (np.abs(ev) < 1).all())),
    (_ALL_NOT_ANY,
     _kind_by(lambda ev: (np.abs(ev) < 1).any(), lambda ev: (np.abs(ev) > 1).any())),
    (_ALL_NOT_ANY,
     _kind_by(lambda ev: (np.abs(ev) < 1).all() and not (np.abs(ev) > 1).any(),
              lambda ev: (np.abs(ev) > 1).any())),
    (_ALL_NOT_ANY,
     _kind_by(lambda ev: not (np.abs(ev) > 1).any(), lambda ev: (np.abs(ev) > 1).any())),
    (_ALL_NOT_ANY,
     _kind_by(lambda ev: (np.abs(ev) < 1).all(), lambda ev: not (np.abs(ev) < 1).all())),
    (_ON_THE_CIRCLE,
     _kind_by(lambda ev: (np.abs(ev) <= 1).all(), lambda ev: (np.abs(ev) > 1).all())),
    (_ON_THE_CIRCLE,
     _kind_by(lambda ev: (np.abs(ev) < 1).all(), lambda ev: (np.abs(ev) >= 1).all())),
    (_ON_THE_CIRCLE,
     _kind_by(lambda ev: (np.abs(ev) <= 1).all(), lambda ev: (np.abs(ev) >= 1).all())),
]

_NO_TOLERANCE = ("real eigenvalues computed in floating point can carry rounding errors in "
                 "their imaginary parts (1e-12 for a close pair of real eigenvalues, 1e-16 "
                 "from complex arithmetic): they are real. Compare the size of the imaginary "
                 "part with the task's threshold, eigenvalues.imag.abs() > 1e-9, not with 0 "
                 "(imag != 0, np.iscomplex and torch.isreal test for exact zeros)")
_TOO_TOLERANT = ("an imaginary part of 3e-06 is a slow rotation, and the task counts an "
                 "eigenvalue as complex when its imaginary part is above 1e-9 in size: "
                 "your tolerance is too large (or you rounded the eigenvalues)")

#: Wrong rules for ' (oscillatory)': (message, rule).
_OSC_SLIPS = [
    ("append ' (oscillatory)' when some eigenvalue is complex (imaginary part above 1e-9 in "
     "size)", lambda ev: False),
    ("a complex dtype does not make an eigenvalue complex: torch.linalg.eigvals returns real "
     "eigenvalues as complex numbers with imaginary part 0. Test the imaginary parts, "
     "eigenvalues.imag", lambda ev: True),
    (_NO_TOLERANCE, lambda ev: bool((ev.imag != 0).any())),
    (_TOO_TOLERANT, lambda ev: bool((np.abs(ev.imag) > 1e-4).any())),
    ("a negative real eigenvalue flips the sign of a perturbation at every step but does not "
     "rotate it: ' (oscillatory)' only when some imaginary part is non-zero",
     lambda ev: bool((ev.real < 0).any() or (np.abs(ev.imag) > _IMAG_TOL).any())),
    ("one complex eigenvalue (pair) is enough for ' (oscillatory)': use any, not all",
     lambda ev: bool((np.abs(ev.imag) > _IMAG_TOL).all())),
]

_LABEL = re.compile(r"^\s*(stable|unstable|saddle)\b", re.IGNORECASE)


def _parse_label(label: str):
    """(kind, oscillatory) of a label written a little differently, or None."""
    m = _LABEL.match(label)
    if m is None:
        return None
    return m.group(1).lower(), "oscill" in label.lower()


def _number(x: float, sign: str = "") -> str:
    """A real number with 4 significant digits, or with all of them when it is within 1e-3
    of 1 in size but not 1 (0.9999999 is not shown as 1)."""
    if abs(x) != 1 and abs(abs(x) - 1) < 1e-3:
        return f"{x:{sign}.12g}"
    return f"{x:{sign}.4g}"


def _show(z: complex) -> str:
    """One eigenvalue as a message shows it: a tiny imaginary part in full."""
    if z.imag == 0:
        return _number(z.real)
    imag = f"{z.imag:+.1e}" if abs(z.imag) < 1e-3 else _number(z.imag, "+")
    return f"{_number(z.real)}{imag}j"


def _describe(ev: np.ndarray) -> str:
    return (f"eigenvalues [{', '.join(_show(complex(z)) for z in ev)}] (moduli "
            f"[{', '.join(_number(m) for m in np.abs(ev))}])")


#: The hidden cases of Task 3: (label, kind of eigenvalue sets, seed). Their failures never
#: show the eigenvalues; the grader mixes its salt into the seeds.
_CLASS_HIDDEN = (
    ("eigenvalues in complex64", "complex64", 62),
    ("real eigenvalues only, other numbers of them", "real", 63),
    ("many eigenvalues, as torch.linalg.eigvals returns them for a Jacobian", "jacobian", 61),
)

#: How to draw the hidden sets of the kinds "complex64" and "real", one tuple of
#: eigenvalues per set: ("real", lowest modulus, highest modulus, sign) with sign 1, -1 or
#: 0 (either); ("pair", lowest and highest modulus, lowest and highest angle), a conjugate
#: pair; ("zero",), the eigenvalue 0. The ranges keep every modulus at least 1e-3 from 1.
_CLASS_TEMPLATES = {
    "complex64": (
        (("pair", 0.3, 0.9, 0.5, 2.8), ("pair", 0.1, 0.6, 0.5, 3.0),      # stable (osc.)
         ("real", 0.5, 0.97, 1), ("real", 0.2, 0.9, -1)),
        (("real", 1.3, 2.0, 1), ("real", 1.05, 1.5, -1), ("real", 1.002, 1.03, 1)),
        (("pair", 0.95, 0.995, 0.02, 0.1), ("real", 1.1, 1.6, 1),          # saddle (osc.)
         ("real", 0.05, 0.3, 1), ("real", 0.2, 0.6, -1)),
        (("pair", 1.2, 1.8, 0.1, 0.5), ("pair", 1.03, 1.2, 1.0, 2.5)),     # unstable (osc.)
    ),
    "real": (
        (("real", 0.05, 0.95, -1),),                                        # one eigenvalue
        (("real", 1.005, 1.05, 1),),
        (("real", 1.2, 2.0, -1), ("real", 0.98, 0.998, 1), ("real", 0.1, 0.4, 1),
         ("real", 0.5, 0.9, -1)),                                           # saddle
        (("real", 0.995, 0.999, 1), ("real", 0.995, 0.999, -1), ("zero",)),  # stable
        (("real", 1.5, 2.5, 1), ("real", 2.0, 3.5, -1), ("real", 1.05, 1.2, 1),
         ("real", 1.02, 1.1, -1), ("real", 3.0, 5.0, 1)),                  # unstable
        (("pair", 0.3, 0.8, 0.001, 0.003), ("real", 0.05, 0.2, 1)),        # small imag part
        (("real", 0.1, 0.9, 1), ("real", 0.1, 0.9, -1), ("real", 0.0, 0.5, 0),
         ("real", 1.05, 1.5, 0)),                                           # the last decides
    ),
}

#: A hidden set is redrawn (the next seed) unless every modulus is this far from 1 and
#: every imaginary part is 0 or at least _IMAG_MARGIN in size, after rounding to the dtype:
#: then every reasonable tolerance (==, 1e-9, 1e-6) gives the reference's label.
_MODULUS_MARGIN, _IMAG_MARGIN = 5e-4, 2e-4


def _class_cases(hidden: bool, salt: int | None) -> list[Case]:
    cases = [Case("the visible eigenvalue sets", dict(kind="visible"))]
    if hidden:
        cases += [Case(label, dict(kind=kind, seed=_salted(seed, salt)), hidden=True)
                  for label, kind, seed in _CLASS_HIDDEN]
    return cases


def _rounded(z: complex) -> complex:
    """``z`` with real and imaginary parts rounded to 8 decimals: the same on every machine
    even where the last bits of a sine or an eigenvalue routine differ."""
    return complex(round(z.real, 8), round(z.imag, 8))


def _draw_template(rng, template) -> list:
    values = []
    for kind, *bounds in template:
        if kind == "zero":
            values.append(0j)
        elif kind == "real":
            lo, hi, sign = bounds
            x = lo + (hi - lo) * float(rng.random())
            if sign < 0 or (sign == 0 and rng.random() < 0.5):
                x = -x
            values.append(complex(round(x, 8), 0.0))
        else:
            r_lo, r_hi, a_lo, a_hi = bounds
            z = _rounded(cmath.rect(r_lo + (r_hi - r_lo) * float(rng.random()),
                                    a_lo + (a_hi - a_lo) * float(rng.random())))
            values += [z, z.conjugate()]
    return values


def _draw_class_sets(kind: str, seed: int) -> list:
    """The eigenvalue sets of a hidden case (Python complex numbers) from one seed."""
    if kind == "jacobian":
        import torch

        g = torch.Generator().manual_seed(seed)
        sets = []
        for scale in (0.05, 0.12, 0.2):
            for _ in range(2):
                J = torch.randn(32, 32, generator=g, dtype=torch.float64) * scale
                # rounded and in a fixed order, so that the probe and the judge agree even
                # where their eigenvalue routines differ in the last bits
                sets.append(sorted((_rounded(z) for z in torch.linalg.eigvals(J).tolist()),
                                   key=lambda z: (z.real, z.imag)))
        return sets
    rng = np.random.default_rng(seed)
    return [_draw_template(rng, template) for template in _CLASS_TEMPLATES[kind]]


def _clear_of_thresholds(values, dtype) -> bool:
    import torch

    ev = np.asarray(torch.tensor(values, dtype=dtype)).astype(np.complex128)
    moduli, imag = np.abs(ev), np.abs(ev.imag)
    return bool((np.abs(moduli - 1) > _MODULUS_MARGIN).all()
                and ((imag == 0) | (imag > _IMAG_MARGIN)).all())


def _class_sets(params: dict):
    """(eigenvalue sets as lists of Python numbers, torch dtype) of a case, the same in the
    probe and in the judge. A hidden case is drawn again with the next seed until every
    eigenvalue is clear of the unit circle and of the test for complex eigenvalues."""
    import torch

    kind = params["kind"]
    if kind == "visible":
        return [list(values) for values, _ in _CLASS_CASES], torch.complex128
    dtype = torch.complex64 if kind == "complex64" else torch.complex128
    if kind not in ("complex64", "real", "jacobian"):
        raise ValueError(f"unknown kind of eigenvalue sets {kind!r}")
    for attempt in range(100):
        sets = _draw_class_sets(kind, params["seed"] + attempt)
        if all(_clear_of_thresholds(values, dtype) for values in sets):
            return sets, dtype
    raise RuntimeError("no eigenvalue sets clear of the thresholds")  # pragma: no cover


def _hidden_class_sets(salt: int | None = None):
    """The hidden eigenvalue sets, by kind of variation (no values in the labels):
    (label, sets, dtype) for each hidden case."""
    return [(case.label, *_class_sets(case.params))
            for case in _class_cases(True, salt) if case.hidden]


def _probe_classification(case: Case, fn) -> dict:
    import torch

    sets, dtype = _class_sets(case.params)
    seen = []
    for values in sets:
        eigenvalues = torch.tensor(values, dtype=dtype)
        got = _plain_value(_attempt(fn, eigenvalues))
        seen.append({"got": got, "eigenvalues": eigenvalues.detach()})
    return {"sets": seen}


def _shown(got) -> str:
    """How the message shows a result that is not a string (as ``repr`` does)."""
    if isinstance(got, Opaque):
        shown = f"<{got.module + '.' if got.module else ''}{got.type_name} object>"
    else:
        shown = repr(got)
    return shown if len(shown) < 80 else shown[:77] + "..."


def _judged_labels(sets, dtype, seen: dict) -> list:
    """The student's labels for ``sets``, as the probe observed them: each set's result
    (or exception), the eigenvalues unchanged, a string."""
    import torch

    observed = seen["sets"]
    if not isinstance(observed, list) or len(observed) != len(sets):
        raise ValueError("the observations do not hold one result per eigenvalue set")
    labels = []
    for values, item in zip(sets, observed):
        got = _outcome(item["got"])
        assert_unchanged([torch.tensor(values, dtype=dtype)], [item["eigenvalues"]],
                         ["eigenvalues"])
        if not isinstance(got, str):
            raise AssertionError(
                "return a string such as 'saddle' or 'stable (oscillatory)' (the next cell "
                "counts the labels and tests label.startswith('stable')); got "
                f"{type_name(got)}: {_shown(got)}")
        labels.append(got)
    return labels


def _judge_classification(case: Case, seen: dict) -> None:
    import torch

    sets, dtype = _class_sets(case.params)
    labels = _judged_labels(sets, dtype, seen)
    if not case.hidden:
        cases = [np.asarray(values, dtype=complex) for values, _ in _CLASS_CASES]
        expected = [label for _, label in _CLASS_CASES]
        if labels != expected:
            _explain_labels(cases, expected, labels)
        return
    want = [_reference_label(np.asarray(torch.tensor(v, dtype=dtype))) for v in sets]
    if labels != want:
        raise AssertionError("wrong label")


STABILITY_CLASSIFICATION = Check(
    "check_stability_classification", lambda hidden, salt: _class_cases(hidden, salt),
    _probe_classification, _judge_classification,
    "stable / unstable / saddle by the moduli of the eigenvalues, oscillatory when complex",
    CHAPTER)

#: The checks of this chapter, by name.
CHECKS = {check.name: check for check in (RNN_JACOBIANS, AFFINE_PREDICTION,
                                          STABILITY_CLASSIFICATION)}


def check_stability_classification(fn, *, hidden: bool = False) -> None:
    """Check ``fn(eigenvalues) → str`` for the fixed point of a map, given its eigenvalues
    as a complex torch tensor (as ``torch.linalg.eigvals`` returns them): "stable" if every
    eigenvalue has modulus below 1, "unstable" if every modulus is above 1, "saddle"
    otherwise (a modulus of exactly 1 included), with " (oscillatory)" appended when an
    eigenvalue is complex, its imaginary part above 1e-9 in size (rounding errors of 1e-12
    and below are real, a slow rotation of 3e-6 is complex). The input must stay
    unchanged."""
    _run_check(STABILITY_CLASSIFICATION, (fn,), hidden=hidden)


#: A set of at least this many eigenvalues is "many": a label that only the first of them
#: explain is named as such (in a smaller set, only when the first eigenvalues explain
#: every wrong label).
_MANY_EIGENVALUES = 6


def _kind_hint(ev: np.ndarray) -> str:
    moduli = np.abs(ev)
    if (moduli == 1).any():
        return _ON_THE_CIRCLE
    near = moduli[np.abs(moduli - 1) < 1e-4]
    if len(near):
        side = "below" if near[0] < 1 else "above"
        return (f"a modulus of {near[0]:.12g} is {side} 1, however close: your moduli were "
                "rounded or compared with a tolerance. Compare abs(lambda) with 1 exactly, "
                "abs(lambda) < 1 and abs(lambda) > 1, without rounding (torch.round, round, "
                "np.round) or a margin such as 1 - 1e-6")
    return ("compare every modulus abs(lambda) with 1: all below, stable; all above, "
            "unstable; otherwise a saddle")


def _oscillatory_hint(ev: np.ndarray, want_osc: bool) -> str:
    imag = np.abs(ev.imag)
    if want_osc:
        if imag.max() < 1e-4:
            return _TOO_TOLERANT
        return ("append ' (oscillatory)' exactly when some eigenvalue has an imaginary part "
                "above 1e-9 in size")
    if (imag > 0).any():
        return _NO_TOLERANCE
    if (ev.real < 0).any():
        return ("a negative real eigenvalue flips the sign of a perturbation at every step "
                "but does not rotate it: these eigenvalues are all real (imaginary parts 0), "
                "no ' (oscillatory)'")
    return "these eigenvalues are all real (imaginary parts 0): no ' (oscillatory)'"


def _explain_labels(cases, expected, labels) -> None:
    """Raise the most specific message for a wrong list of labels: the first wrong set, its
    eigenvalues, the expected and the returned label, and the slip (a wrong rule that
    explains every answer, else the part of the rule that this set gets wrong)."""
    # 1. the right label, written differently
    for ev, want, got in zip(cases, expected, labels):
        if got != want and _parse_label(got) == _parse_label(want):
            how = ("lower case, one space before '(oscillatory)'" if "(" in want
                   else "lower case, nothing before or after")
            raise AssertionError(f"write the label exactly as {want!r} ({how}); got {got!r}")
    parsed = [_parse_label(got) for got in labels]
    for ev, got, p in zip(cases, labels, parsed):
        if p is None:
            if got.strip().lower().startswith("marginal"):
                raise AssertionError(
                    f"for {_describe(ev)} you returned {got!r}: the task has three kinds, "
                    f"'stable', 'unstable' and 'saddle'; {_ON_THE_CIRCLE}")
            raise AssertionError(f"for {_describe(ev)} you returned {got!r}: return 'stable', "
                                 "'unstable' or 'saddle', followed by ' (oscillatory)' when "
                                 "some eigenvalue is complex")
    kinds = [p[0] for p in parsed]
    oscs = [p[1] for p in parsed]
    want_kinds = [w.split()[0] for w in expected]
    want_oscs = [w.endswith("(oscillatory)") for w in expected]
    ev, want, got, kind, osc, want_kind, want_osc = next(
        item for item in zip(cases, expected, labels, kinds, oscs, want_kinds, want_oscs)
        if item[1] != item[2])
    shown = f"for {_describe(ev)} given as a complex tensor expected {want!r}, got {got!r}"
    # 2. a known wrong rule explains every answer
    if kinds != want_kinds:
        for message, rule in _KIND_SLIPS:
            if kinds == [rule(ev) for ev in cases]:
                raise AssertionError(f"{shown}: {message}")
    if oscs != want_oscs:
        for message, rule in _OSC_SLIPS:
            if oscs == [rule(ev) for ev in cases]:
                raise AssertionError(f"{shown}: {message}")
    # 3. the first wrong set, with the part of the rule that it gets wrong
    if all(g == w or any(g == _reference_label(e[:k]) for k in range(1, len(e)))
           for e, w, g in zip(cases, expected, labels)) or len(ev) >= _MANY_EIGENVALUES and any(
            got == _reference_label(ev[:k]) for k in range(1, len(ev))):
        hint = (f"that is the label of the first eigenvalues alone: classify by all {len(ev)} "
                "of them (fps.eigenvalues lists the largest moduli first; a complex pair may "
                "come after real eigenvalues)")
    elif kind != want_kind:
        hint = _kind_hint(ev)
    else:
        hint = _oscillatory_hint(ev, want_osc)
    raise AssertionError(f"{shown}: {hint}")
