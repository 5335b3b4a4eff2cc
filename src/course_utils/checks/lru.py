"""Checks of chapter 07 (linear recurrent units): the eigenvalue parametrisation and the
scan's associative operator."""

from __future__ import annotations

import numpy as np

from ._common import ok as _ok

CHAPTER = "07_lru_modal_dynamics"
__all__ = ["check_lru_eigenvalues", "check_scan_operator"]

def check_lru_eigenvalues(fn) -> None:
    """Check ``fn(nu_log, theta_log) → lambda``: the LRU's eigenvalues
    lambda = exp(-exp(nu_log) + i exp(theta_log)), a complex tensor of the same shape."""
    import torch

    g = torch.Generator().manual_seed(4)
    nu_log = torch.randn(6, generator=g, dtype=torch.float64) - 2
    theta_log = torch.randn(6, generator=g, dtype=torch.float64) - 0.5
    expected = torch.exp(-torch.exp(nu_log) + 1j * torch.exp(theta_log))
    got = fn(nu_log, theta_log)
    assert isinstance(got, torch.Tensor), f"return a torch tensor; got {type(got).__name__}"
    assert got.is_complex(), (f"lambda must be a complex tensor; got dtype {got.dtype}. Build "
                              "the exponent as a complex number, -exp(nu_log) + 1j * "
                              "exp(theta_log)")
    assert tuple(got.shape) == (6,), f"one eigenvalue per mode: shape (6,); got {tuple(got.shape)}"
    if torch.allclose(got, expected, rtol=1e-10, atol=1e-12):
        mod = got.abs()
        _ok(f"lambda = exp(-exp(nu_log) + i exp(theta_log)): moduli in [{mod.min():.3f}, "
            f"{mod.max():.3f}], inside the unit disc for any real parameters")
        return
    slips = {
        "the modulus must be exp(-exp(nu_log)) < 1: the minus sign is missing":
            torch.exp(torch.exp(nu_log) + 1j * torch.exp(theta_log)),
        "nu_log is the log of nu: the modulus is exp(-exp(nu_log)), not exp(-nu_log)":
            torch.exp(-nu_log + 1j * torch.exp(theta_log)),
        "theta_log is the log of the phase: the phase is exp(theta_log), not theta_log":
            torch.exp(-torch.exp(nu_log) + 1j * theta_log),
        "modulus and phase are swapped: nu_log sets the modulus, theta_log the phase":
            torch.exp(-torch.exp(theta_log) + 1j * torch.exp(nu_log)),
    }
    for slip, wrong in slips.items():
        if torch.allclose(got.to(wrong.dtype), wrong, rtol=1e-10, atol=1e-12):
            raise AssertionError(slip)
    raise AssertionError(f"expected {np.round(expected.numpy(), 4)}, got "
                         f"{np.round(got.detach().numpy(), 4)}")


def check_scan_operator(fn) -> None:
    """Check ``fn(e1, e2) → (a, b)``: the associative operator of x_k = a_k x_{k-1} + b_k.
    For an earlier element e1 = (a1, b1) and a later one e2 = (a2, b2) it returns
    (a2 a1, a2 b1 + b2), elementwise, for complex tensors."""
    import torch

    g = torch.Generator().manual_seed(9)

    def draw():
        return (torch.randn(5, generator=g, dtype=torch.complex128),
                torch.randn(5, generator=g, dtype=torch.complex128))

    e1, e2, e3 = draw(), draw(), draw()
    got = fn(e1, e2)
    assert isinstance(got, (tuple, list)) and len(got) == 2, (
        f"return the pair (a, b); got {type(got).__name__}")
    a, b = got
    exp_a, exp_b = e2[0] * e1[0], e2[0] * e1[1] + e2[1]
    assert torch.allclose(torch.as_tensor(a), exp_a), (
        "the combined multiplier must be a2 * a1: applying both steps multiplies by both")
    if not torch.allclose(torch.as_tensor(b), exp_b):
        slips = {
            "the order is reversed: e1 is the earlier step, so the result is x -> a2 (a1 x "
            "+ b1) + b2, whose offset is a2 * b1 + b2": e1[0] * e2[1] + e1[1],
            "the earlier offset b1 passes through the later step, so it is multiplied by a2: "
            "a2 * b1 + b2": e1[1] + e2[1],
            "the later offset b2 is added after the later multiplication: a2 * b1 + b2":
                e2[0] * (e1[1] + e2[1]),
        }
        for slip, wrong in slips.items():
            if torch.allclose(torch.as_tensor(b), wrong):
                raise AssertionError(slip)
        raise AssertionError("the combined offset is wrong: (a1, b1) then (a2, b2) maps x to "
                             "a2 (a1 x + b1) + b2")
    left = fn(fn(e1, e2), e3)
    right = fn(e1, fn(e2, e3))
    assert all(torch.allclose(torch.as_tensor(p), torch.as_tensor(q))
               for p, q in zip(left, right)), (
        "the operator is not associative on these inputs")
    x0 = torch.randn(5, generator=g, dtype=torch.complex128)
    two_steps = e2[0] * (e1[0] * x0 + e1[1]) + e2[1]
    assert torch.allclose(a * x0 + b, two_steps)
    _ok("(a1, b1) then (a2, b2) gives (a2 a1, a2 b1 + b2): associative, and equal to two steps")
