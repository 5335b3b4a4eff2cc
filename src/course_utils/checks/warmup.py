"""Checks of chapter 05 (reconstruction from x alone): sparse teacher forcing with a
warm-up."""

from __future__ import annotations

import numpy as np

from ._common import ok as _ok
from .stf import _check_predictions, _forced_run, _small_plrnn

CHAPTER = "05_single_variable_reconstruction"
__all__ = ["check_stf_forward_warmup"]

def check_stf_forward_warmup(fn) -> None:
    """Check ``fn(model, x, tau_f, warmup)``: forcing at every t < warmup and at t = warmup
    + n tau_f, predictions of all T steps, shape ``(B, T, N)``, equal to
    :func:`course_utils.training.stf_forward` in values and gradients."""
    import torch

    from ..training import forcing_times

    model = _small_plrnn(N=1, M=5)
    x = torch.randn(3, 30, 1, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    T = x.shape[1]
    t = np.arange(T)
    for tau_f, warmup in ((7, 9), (5, 4), (6, 0)):
        forced = forcing_times(T, tau_f, warmup)
        slips = {
            "the warm-up is not forced at every step: force every t < warmup":
                _forced_run(model, x, t % tau_f == 0) if warmup else None,
            "after the warm-up, count the forcing interval from its end: force at t = "
            "warmup, warmup + tau_f, ... ((t - warmup) % tau_f == 0)":
                _forced_run(model, x, (t < warmup) | (t % tau_f == 0)) if warmup else None,
            "after the warm-up the model is forced at every step: then force only every "
            "tau_f steps": _forced_run(model, x, np.ones(T, bool)),
            "forcing sets the unobserved units to zero: keep them, z~_t = [x_t, z_t[N:]]":
                _forced_run(model, x, forced, reset_hidden=True),
            "the predictions lag by one step: keep model.observe(model(z))":
                _forced_run(model, x, forced, lagged=True),
        }
        _check_predictions("stf_forward_warmup", fn, (model, x, tau_f, warmup),
                           _forced_run(model, x, forced), slips,
                           f"tau_f = {tau_f}, warmup = {warmup}")
    _ok("stf_forward_warmup: forced at every step of the warm-up, then every tau_f steps; "
        "predictions and gradients match the reference")


