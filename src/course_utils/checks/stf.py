"""Checks of chapter 03 (sparse teacher forcing of a shallow PLRNN) and the helpers that
chapter 05 (forcing with a warm-up) shares."""

from __future__ import annotations

import numpy as np

from ._common import fmt as _fmt, ok as _ok

CHAPTER = "03_stf_lorenz"
__all__ = ["check_stf_forward"]

def _small_plrnn(M=6, L=10, N=2, seed=5):
    """A float64 PLRNN whose ReLU pattern changes from state to state."""
    import torch

    from ..models import ShallowPLRNN

    model = ShallowPLRNN(M, L, N, seed=seed, dtype=torch.float64)
    with torch.no_grad():
        model.W1.mul_(4.0)                    # strong nonlinearity: slips show clearly
        model.A.uniform_(0.3, 0.95, generator=torch.Generator().manual_seed(seed))
    return model


def _forced_run(model, x, forced, *, reset_hidden=False, lagged=False):
    """Sparse forcing at the steps where ``forced`` is True, with optional slips: forcing
    that zeroes the unobserved units, or read-outs of the state before the step."""
    import torch

    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    outputs = []
    for t in range(T):
        if forced[t]:
            rest = torch.zeros_like(z[:, N:]) if reset_hidden else z[:, N:]
            z = torch.cat([x[:, t], rest], dim=-1)
        before = z
        z = model(z)
        outputs.append(model.observe(before if lagged else z))
    return torch.stack(outputs, dim=1)


def _check_predictions(name, fn, args, expected, slips, what):
    """Shape, values and gradients of ``fn(*args)`` against ``expected``; ``slips`` maps a
    description of a typical mistake to what that mistake gives."""
    import torch

    model, x = args[0], args[1]
    B, T, N = x.shape
    got = fn(*args)
    assert isinstance(got, torch.Tensor), (
        f"{name} must return a torch tensor (torch.stack of the predictions); got "
        f"{type(got).__name__}")
    if tuple(got.shape) != (B, T, N):
        hint = {(B, T, model.M): "return the read-outs model.observe(z) (the first N units), "
                                 "not the whole latent state",
                (B, T + 1, N): "one prediction per step: do not keep the initial state",
                (B, T - 1, N): "one prediction per input step, T in all",
                (T, B, N): "stack along dim=1: (batch, time, N)"}
        if len(args) > 3 and tuple(got.shape) == (B, T - args[3], N):
            hint[(B, T - args[3], N)] = ("return the predictions of all T steps; the loss "
                                         "(stf_loss with warmup=...) leaves out the warm-up")
        raise AssertionError(f"for x of shape {(B, T, N)} ({what}) the predictions must have "
                             f"shape {(B, T, N)}; got {tuple(got.shape)}. "
                             + hint.get(tuple(got.shape), ""))
    if not torch.allclose(got, expected, rtol=1e-9, atol=1e-10):
        mismatched = [t for t in range(T) if not torch.allclose(got[:, t], expected[:, t])]
        if all(t + 1 < T and torch.equal(got[:, t], x[:, t + 1]) for t in mismatched):
            raise AssertionError(
                f"your earlier predictions were overwritten by the data ({what}): writing "
                "x[:, t] into z in place also changes the read-out you stored from it. Build "
                "the forced state as a new tensor, torch.cat([x[:, t], z[:, N:]], dim=-1)")
        for slip, wrong in slips.items():
            if wrong is not None and torch.allclose(got, wrong, rtol=1e-9, atol=1e-10):
                raise AssertionError(f"{slip} ({what})")
        bad = (got - expected).abs() > 1e-10 + 1e-9 * expected.abs()
        b, t, i = (int(v) for v in bad.nonzero()[0])
        raise AssertionError(
            f"wrong prediction at batch {b}, step t={t}, unit {i} ({what}): expected "
            f"{expected[b, t, i].item():.6f}, got {got[b, t, i].item():.6f}. At each step: "
            "force z if t is a forcing time, z = model(z), keep model.observe(z)")
    assert got.requires_grad, (
        "the predictions carry no gradient: do not detach or convert them, and do not wrap "
        "the loop in torch.no_grad()")
    params = list(model.parameters())
    weights = torch.linspace(-1, 1, B * T * N, dtype=got.dtype).reshape(B, T, N)
    try:
        grads = torch.autograd.grad((got * weights).sum(), params, allow_unused=True)
    except RuntimeError as err:
        if "inplace" in str(err) or "in-place" in str(err):
            raise AssertionError(
                "backpropagation fails because z was changed in place (e.g. z[:, :N] = "
                "x[:, t]) after the model used it: build the forced state as a new tensor, "
                "torch.cat([x[:, t], z[:, N:]], dim=-1)") from err
        raise
    expected_grads = torch.autograd.grad((expected * weights).sum(), params)
    for pname, g, e in zip(("A", "W1", "W2", "h1", "h2"), grads, expected_grads):
        assert g is not None, f"no gradient reaches {pname}: is part of the loop detached?"
        assert torch.allclose(g, e, rtol=1e-8, atol=1e-10), (
            f"the gradient with respect to {pname} differs from the reference although the "
            "predictions agree: part of the computation is detached from the graph")


def check_stf_forward(fn) -> None:
    """Check ``fn(model, x, tau_f)``: sparse teacher forcing without warm-up, predictions
    of shape ``(B, T, N)``, equal to :func:`course_utils.training.stf_forward` in values
    and gradients."""
    import torch

    from ..training import forcing_times

    model = _small_plrnn()
    x = torch.randn(3, 23, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    T = x.shape[1]
    for tau_f in (5, 7, 1):
        forced = forcing_times(T, tau_f)
        t = np.arange(T)
        slips = {
            "the data are never used: force z~_t = [x_t, z_t[N:]] at t = 0, tau_f, "
            "2 tau_f, ...": _forced_run(model, x, np.zeros(T, bool)),
            "you force at every step: force only when t is a multiple of tau_f":
                _forced_run(model, x, np.ones(T, bool)) if tau_f > 1 else None,
            "the forcing times are shifted by one: force at t = 0, tau_f, 2 tau_f, ... "
            "(t % tau_f == 0)": _forced_run(model, x, t % tau_f == 1) if tau_f > 1 else None,
            "forcing sets the unobserved units to zero: keep them, z~_t = [x_t, z_t[N:]]":
                _forced_run(model, x, forced, reset_hidden=True),
            "the predictions lag by one step: keep the read-out of the new state, "
            "model.observe(model(z)), the prediction of x_{t+1}":
                _forced_run(model, x, forced, lagged=True),
        }
        _check_predictions("stf_forward", fn, (model, x, tau_f), _forced_run(model, x, forced),
                           slips, f"tau_f = {tau_f}")
    _ok("stf_forward: forced at t = 0, tau_f, 2 tau_f, ...; predictions and gradients "
        "match the reference")


