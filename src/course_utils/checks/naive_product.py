"""Checks of chapter 04 (the maximum Lyapunov exponent of the trained PLRNN): the Jacobians
along an orbit and the naive product's norms."""

from __future__ import annotations

import numpy as np

from ._common import fmt as _fmt, ok as _ok
from .stf import _small_plrnn

CHAPTER = "04_plrnn_max_lyapunov"
__all__ = ["check_plrnn_jacobians", "check_naive_norms"]

def check_plrnn_jacobians(fn) -> None:
    """Check ``fn(model, Z)``: the Jacobians dF/dz at each state Z[t] of an orbit (the
    state before the step), shape ``(T, M, M)``, equal to ``model.jacobian(Z)``."""
    import torch

    model = _small_plrnn(M=5, L=8, N=2)
    Z = torch.randn(7, 5, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    with torch.no_grad():
        expected = model.jacobian(Z)
        shifted = model.jacobian(model(Z))
    got = fn(model, Z)
    got = torch.as_tensor(got.detach() if hasattr(got, "detach") else got, dtype=torch.float64)
    if tuple(got.shape) != (7, 5, 5):
        hint = ""
        if got.numel() == 7 * 5 * 7 * 5:
            hint = (" You differentiated all outputs with respect to all states: take the "
                    "blocks J[:, t, :] of the sum over rows, or one state at a time")
        raise AssertionError(f"for T = 7 states of dimension M = 5 return shape (7, 5, 5); "
                             f"got {tuple(got.shape)}.{hint}")
    if torch.allclose(got, expected, rtol=1e-9, atol=1e-10):
        _ok("orbit Jacobians: dF/dz at every state, the state before each step")
        return
    if torch.allclose(got, expected.transpose(-1, -2), rtol=1e-9, atol=1e-10):
        raise AssertionError("you returned the transposes: J[t, i, j] = d F_i / d z_j at Z[t] "
                             "(with the sum trick, permute the blocks to (T, M_out, M_in))")
    if torch.allclose(got, shifted, rtol=1e-9, atol=1e-10):
        raise AssertionError("the Jacobians are evaluated at the next states F(Z[t]): "
                             "evaluate each at Z[t], the state before the step")
    t = int(((got - expected).abs().amax(dim=(1, 2)) > 1e-10).nonzero()[0])
    raise AssertionError(f"the Jacobian at state t = {t} is wrong: expected "
                         f"{_fmt(expected[t, 0])} in its first row, got {_fmt(got[t, 0])}")


def check_naive_norms(fn) -> None:
    """Check ``fn(J)``: the spectral norms ||J_T||, ||J_T J_{T-1}||, ..., ||J_T ... J_1||
    of the running products (not their logs), computed in the dtype of ``J`` (T, d, d),
    with ``inf`` (or ``nan``) from the first product that overflows."""
    import torch

    from ..lyapunov import naive_product_log_norms

    def as_tensor(a):
        return torch.as_tensor(a.detach() if hasattr(a, "detach") else np.asarray(a),
                               dtype=torch.float64)

    g = torch.Generator().manual_seed(4)
    J = torch.randn(30, 4, 4, generator=g, dtype=torch.float64) / 1.5
    J[:, 0, 1] += 2.0                           # far from normal: the order matters
    expected = torch.exp(naive_product_log_norms(J, dtype="float64"))
    got = as_tensor(fn(J))
    if got.shape != expected.shape:
        raise AssertionError(f"for T = 30 Jacobians return 30 norms (shape (30,)); got "
                             f"shape {tuple(got.shape)}")
    if not torch.allclose(got, expected, rtol=1e-8):
        forward, P = [], torch.eye(4, dtype=torch.float64)
        for Jt in J:
            P = Jt @ P
            forward.append(torch.linalg.matrix_norm(P, ord=2))
        wrong_side, P = [], torch.eye(4, dtype=torch.float64)
        for Jt in J.flip(0):
            P = Jt @ P
            wrong_side.append(torch.linalg.matrix_norm(P, ord=2))
        fro, P = [], torch.eye(4, dtype=torch.float64)
        for Jt in J.flip(0):
            P = P @ Jt
            fro.append(torch.linalg.matrix_norm(P))
        from_start, P = [], torch.eye(4, dtype=torch.float64)
        for Jt in J:
            P = P @ Jt
            from_start.append(torch.linalg.matrix_norm(P, ord=2))
        slips = {"return the norms, not their logarithms (the plot takes the log scale)":
                     torch.log(expected),
                 "use the spectral norm, torch.linalg.matrix_norm(P, ord=2); the default "
                 "is the Frobenius norm": torch.stack(fro),
                 "start from the end of the orbit, as the sheet does: J_T, then J_T J_{T-1}, "
                 "... (multiply the next earlier Jacobian on the right)": torch.stack(forward),
                 "start from the end of the orbit: the first norm is ||J_T||, then "
                 "||J_T J_{T-1}||, ...": torch.stack(from_start),
                 "multiply the earlier Jacobian on the right, P = P @ J_{T-n}: the product is "
                 "J_T J_{T-1} ..., not J_{T-1} J_T": torch.stack(wrong_side)}
        for slip, wrong in slips.items():
            if torch.allclose(got, wrong, rtol=1e-8):
                raise AssertionError(slip)
        n = int((~torch.isclose(got, expected, rtol=1e-8)).nonzero()[0])
        raise AssertionError(f"norm number {n + 1} (of the product of the last {n + 1} "
                             f"Jacobians) is wrong: expected {expected[n].item():.6g}, got "
                             f"{got[n].item():.6g}")
    # Overflow in float32: rotations stretched by 3 overflow after about 81 factors.
    angles = torch.rand(100, generator=g, dtype=torch.float64) * 6.28
    c, s_ = torch.cos(angles), torch.sin(angles)
    R = torch.stack([torch.stack([c, -s_], -1), torch.stack([s_, c], -1)], -2)
    J32 = (3.0 * R).to(torch.float32)
    reference = naive_product_log_norms(J32, dtype="float32")
    n_ref = int(torch.isfinite(reference).sum())
    got = as_tensor(fn(J32))
    if got.shape != reference.shape:
        raise AssertionError(f"for T = 100 Jacobians return 100 norms; got {tuple(got.shape)}")
    finite = torch.isfinite(got)
    n_got = int(finite.sum())
    if n_got > n_ref:
        raise AssertionError(
            f"the product should overflow float32 after {n_ref} finite norms (3^n > 3.4e38), "
            f"but you have {n_got} finite ones: compute in the Jacobians' dtype (float32), "
            "not in float64")
    if n_got < n_ref or not bool(finite[:n_ref].all()):
        raise AssertionError(f"expected {n_ref} finite norms before the overflow, then inf; "
                             f"got {n_got} finite ones")
    if not torch.allclose(got[:n_ref], torch.exp(reference[:n_ref]), rtol=1e-4):
        raise AssertionError("before the overflow the float32 norms should be 3^n")
    _ok("naive_norms: ||J_T ... J_{T-n+1}||_2 in the Jacobians' dtype, inf after the "
        "overflow")


