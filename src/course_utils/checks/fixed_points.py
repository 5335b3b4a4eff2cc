"""Checks of chapter 06 (linearization and fixed points of an nn.RNN): the Jacobians, the
affine prediction and the stability of a fixed point of a map."""

from __future__ import annotations

import numpy as np

from ._common import ok as _ok

CHAPTER = "06_rnn_fixed_points"
__all__ = ["check_rnn_jacobians", "check_affine_prediction", "check_stability_classification"]

def _small_torch_rnn(seed=7, n_in=3, n_hidden=5):
    """A float64 tanh ``nn.RNN`` with non-zero biases and a point (u, h) to linearise at."""
    import torch

    g = torch.Generator().manual_seed(seed)
    rnn = torch.nn.RNN(n_in, n_hidden, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        for p in rnn.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64) * 0.8)
    u = torch.randn(n_in, generator=g, dtype=torch.float64)
    h = torch.randn(n_hidden, generator=g, dtype=torch.float64) * 0.5
    return rnn, u, h


def _rnn_reference(rnn, u, h):
    """F(h, u), J_h and J_u of an nn.RNN at one point, by the toolkit's Linearization."""
    from ..linearization import Linearization

    lin = Linearization(rnn)
    return (lin.step(u, h), *lin.jacobian(u, h))


def _as_float64(x, what: str):
    import torch

    if isinstance(x, torch.Tensor):
        x = x.detach()
    try:
        return torch.as_tensor(np.asarray(x), dtype=torch.float64)
    except (TypeError, ValueError) as err:
        raise AssertionError(f"{what} must be a tensor or array; got {type(x).__name__}") from err


def check_rnn_jacobians(fn) -> None:
    """Check ``fn(rnn, u, h) → (J_h, J_u)`` for a single-layer tanh ``nn.RNN`` at one input
    ``u (I,)`` and state ``h (H,)``: J_h = diag(1 - tanh(a)^2) W_hh and J_u = diag(1 -
    tanh(a)^2) W_ih, with a = W_ih u + b_ih + W_hh h + b_hh."""
    import torch

    rnn, u, h = _small_torch_rnn()
    with torch.no_grad():
        h_next, J_h, J_u = _rnn_reference(rnn, u, h)
        got = fn(rnn, u, h)
    assert isinstance(got, (tuple, list)) and len(got) == 2, (
        f"return the pair (J_h, J_u); got {type(got).__name__}")
    got_h, got_u = (_as_float64(g, name) for g, name in zip(got, ("J_h", "J_u")))
    H, I = J_u.shape
    for name, g, e in (("J_h", got_h, J_h), ("J_u", got_u, J_u)):
        if tuple(g.shape) != tuple(e.shape):
            hint = (" (H outputs by the size of what you differentiate by; squeeze the "
                    "batch and layer axes)")
            raise AssertionError(f"{name} must have shape {tuple(e.shape)} for H = {H} hidden "
                                 f"units and I = {I} inputs; got {tuple(g.shape)}{hint}")
    with torch.no_grad():
        pre_no_bias = rnn.weight_ih_l0 @ u + rnn.weight_hh_l0 @ h
    slips = {
        "J_h is transposed: row i holds the derivatives of h_next[i], J_h[i, j] = "
        "d h_next[i] / d h[j]": (J_h.T, J_u),
        "you used W_hh and W_ih alone: the chain rule multiplies each row i by tanh'(a_i) "
        "= 1 - tanh(a_i)^2 at the pre-activation a": (rnn.weight_hh_l0, rnn.weight_ih_l0),
        "tanh' was evaluated at the current state h (1 - h^2) instead of at the "
        "pre-activation a of this step (1 - tanh(a)^2 = 1 - h_next^2)":
            ((1 - h ** 2)[:, None] * rnn.weight_hh_l0, (1 - h ** 2)[:, None] * rnn.weight_ih_l0),
        "the derivative of tanh is 1 - tanh(a)^2, not 1 - tanh(a)":
            ((1 - h_next)[:, None] * rnn.weight_hh_l0, (1 - h_next)[:, None] * rnn.weight_ih_l0),
        "the biases b_ih and b_hh are part of the pre-activation a: leave them in":
            ((1 - pre_no_bias.tanh() ** 2)[:, None] * rnn.weight_hh_l0,
             (1 - pre_no_bias.tanh() ** 2)[:, None] * rnn.weight_ih_l0),
        "the diagonal factor multiplies the columns instead of the rows: use "
        "slope[:, None] * W (or torch.diag(slope) @ W)":
            (rnn.weight_hh_l0 * (1 - h_next ** 2)[None, :], J_u),
    }
    ok_h = torch.allclose(got_h, J_h, rtol=1e-8, atol=1e-10)
    ok_u = torch.allclose(got_u, J_u, rtol=1e-8, atol=1e-10)
    if ok_h and ok_u:
        _ok("J_h and J_u of the tanh RNN step agree with the chain rule at a point with "
            "non-zero biases")
        return
    for slip, (wh, wu) in slips.items():
        if torch.allclose(got_h, wh, rtol=1e-8, atol=1e-10) and (
                ok_u or torch.allclose(got_u, wu, rtol=1e-8, atol=1e-10)):
            raise AssertionError(slip)
    name, g, e = ("J_h", got_h, J_h) if not ok_h else ("J_u", got_u, J_u)
    i, j = (int(v) for v in ((g - e).abs() > 1e-10).nonzero()[0])
    raise AssertionError(f"{name}[{i}, {j}] is {g[i, j].item():.6f}, expected "
                         f"{e[i, j].item():.6f}. With a = W_ih u + b_ih + W_hh h + b_hh, "
                         "J_h = diag(1 - tanh(a)^2) W_hh and J_u = diag(1 - tanh(a)^2) W_ih")


def check_affine_prediction(fn) -> None:
    """Check ``fn(rnn, u, h, du, dh) → (B, H)``: the first-order prediction of the next
    state for a batch of state perturbations ``dh (B, H)`` and one input perturbation
    ``du (I,)``, F(h, u) + J_h dh_b + J_u du for every row b."""
    import torch

    rnn, u, h = _small_torch_rnn(seed=11)
    g = torch.Generator().manual_seed(12)
    dh = 1e-2 * torch.randn(4, h.numel(), generator=g, dtype=torch.float64)
    du = 1e-2 * torch.randn(u.numel(), generator=g, dtype=torch.float64)
    with torch.no_grad():
        F, J_h, J_u = _rnn_reference(rnn, u, h)
        expected = F + dh @ J_h.T + J_u @ du
        got = fn(rnn, u, h, du, dh)
    got = _as_float64(got, "the prediction")
    B, H = dh.shape
    if tuple(got.shape) != (B, H):
        hint = {(H, B): " You returned the transpose: one row per perturbation, dh @ J_h.T",
                (H,): " Predict every row of the batch dh, not one state",
                (1, B, H): " Squeeze the layer axis of the RNN's output"}.get(tuple(got.shape), "")
        raise AssertionError(f"for dh of shape {(B, H)} return shape {(B, H)}; got "
                             f"{tuple(got.shape)}.{hint}")
    if torch.allclose(got, expected, rtol=1e-8, atol=1e-10):
        _ok("affine prediction F(h, u) + J_h dh + J_u du, row by row for a batch of dh")
        return
    slips = {
        "the state term is dh @ J_h.T (row b is J_h dh_b), not dh @ J_h": F + dh @ J_h + J_u @ du,
        "start from the next state F(h, u), not from the current state h":
            h + dh @ J_h.T + J_u @ du,
        "the input perturbation is missing: add J_u du": F + dh @ J_h.T,
        "the state perturbation is missing: add J_h dh for each row": (F + J_u @ du).expand(B, H),
        "these are the perturbations of the next state alone: add the next state F(h, u)":
            dh @ J_h.T + J_u @ du,
    }
    for slip, wrong in slips.items():
        if torch.allclose(got, wrong, rtol=1e-8, atol=1e-10):
            raise AssertionError(slip)
    with torch.no_grad():
        exact = torch.tanh(rnn.weight_ih_l0 @ (u + du) + rnn.bias_ih_l0
                           + (h + dh) @ rnn.weight_hh_l0.T + rnn.bias_hh_l0)
    if torch.allclose(got, exact, rtol=1e-8, atol=1e-10):
        raise AssertionError("this is the exact next state F(h + dh, u + du); the task is its "
                             "first-order (affine) approximation at (h, u)")
    b, i = (int(v) for v in ((got - expected).abs() > 1e-10).nonzero()[0])
    raise AssertionError(f"row {b}, unit {i}: expected {expected[b, i].item():.6f}, got "
                         f"{got[b, i].item():.6f}")


def _eig_case(moduli, angles):
    return np.asarray(moduli) * np.exp(1j * np.asarray(angles, dtype=float))


def check_stability_classification(fn) -> None:
    """Check ``fn(eigenvalues) → str`` for the fixed point of a map, given its eigenvalues
    as a complex torch tensor (as ``torch.linalg.eigvals`` returns them): "stable" if every
    eigenvalue has modulus below 1, "unstable" if every modulus is above 1, "saddle"
    otherwise, with " (oscillatory)" appended when an eigenvalue is complex."""
    import torch

    cases = [
        (_eig_case([0.5, 0.9, 0.2], [0, np.pi, 0]), "stable"),
        (_eig_case([0.95, 0.95, 0.3], [0.4, -0.4, 0]), "stable (oscillatory)"),
        (_eig_case([1.5, 2.0], [0, np.pi]), "unstable"),
        (_eig_case([1.2, 1.2], [2.0, -2.0]), "unstable (oscillatory)"),
        (_eig_case([1.3, 0.6, 0.1], [0, 0, np.pi]), "saddle"),
        (_eig_case([1.05, 1.05, 0.5], [0.1, -0.1, 0]), "saddle (oscillatory)"),
        (_eig_case([0.8, 0.3], [np.pi, np.pi]), "stable"),          # negative real parts
        (_eig_case([1.4, 0.5], [np.pi, 0]), "saddle"),              # flip, not stable
    ]
    hints = {
        ("stable", "unstable"): "negative eigenvalues are not unstable for a map: compare the "
                                "moduli abs(lambda) with 1, not the real parts with 0",
        ("saddle", "stable"): "a map is stable when abs(lambda) < 1 for every eigenvalue: compare "
                              "moduli with 1, not real parts with 0 (that is the rule for flows)",
    }
    for eigenvalues, expected in cases:
        for kind, arg in (("complex tensor", torch.as_tensor(eigenvalues)),):
            got = fn(arg)
            assert isinstance(got, str), f"return a string such as 'saddle'; got {got!r}"
            if got != expected:
                hint = hints.get((expected.split()[0], got.split()[0]), "")
                if not hint and expected.endswith("(oscillatory)") != got.endswith("(oscillatory)"):
                    hint = ("append ' (oscillatory)' exactly when some eigenvalue has a "
                            "non-zero imaginary part")
                raise AssertionError(
                    f"for eigenvalues {np.round(eigenvalues, 3)} (moduli "
                    f"{np.round(np.abs(eigenvalues), 3)}) given as a {kind} expected "
                    f"{expected!r}, got {got!r}. {hint}".rstrip())
    _ok("stable / unstable / saddle by the moduli of the eigenvalues, oscillatory when complex")


