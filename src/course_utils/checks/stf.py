"""Checks of chapter 03 (sparse teacher forcing of a shallow PLRNN). The cases, probe and
judge of teacher forcing that chapters 05 and 06 share are in
:mod:`course_utils.checks.helpers`."""

from __future__ import annotations

import numpy as np

from .framework import Case, Check, run_check as _run_check
from .helpers import (forced_run, forcing_case, hidden_forcing_case, judge_predictions,
                      probe_forcing)

CHAPTER = "03_stf_lorenz"
__all__ = ["check_stf_forward"]

#: The hidden cases of :func:`check_stf_forward`: (label, model sizes and seed, batch size,
#: sequence length, tau_f, data seed, dtype name). Their failures never show these values.
#: In grading both seeds are mixed with the grader's salt (:func:`hidden_forcing_case`).
_HIDDEN_CASES = (
    ("another seed, batch size, sequence length and forcing interval",
     dict(M=6, L=10, N=2, seed=17), 2, 31, 4, 41, "float64"),
    ("other numbers of latent, hidden and observed units",
     dict(M=8, L=13, N=3, seed=29), 5, 19, 6, 43, "float64"),
    ("a float32 model and float32 data, as in the notebook, with a longer forcing interval",
     dict(M=7, L=11, N=2, seed=37), 4, 40, 25, 47, "float32"),
)


def _stf_slips(model, x, tau_f, forced):
    """The typical mistakes of the forcing schedule and of the forced state of Task 1 of
    chapter 03, and what each gives (the slips of every forcing task follow,
    :func:`~.helpers.forcing_slips`)."""
    T = x.shape[1]
    t = np.arange(T)
    shifted = ("the forcing times are shifted by one: force at t = 0, tau_f, 2 tau_f, ... "
               "(t % tau_f == 0)")
    return [
        ("the data are never used: force z~_t = [x_t, z_t[N:]] at t = 0, tau_f, "
         "2 tau_f, ...", forced_run(model, x, np.zeros(T, bool))),
        ("you force at every step: force only when t is a multiple of tau_f",
         forced_run(model, x, np.ones(T, bool)) if tau_f > 1 else None),
        (shifted, forced_run(model, x, t % tau_f == 1) if tau_f > 1 else None),
        (shifted, forced_run(model, x, t % tau_f == tau_f - 1) if tau_f > 1 else None),
        ("the first state is not forced: t = 0 is a forcing time too, z~_0 = [x_0, 0, ..., 0]",
         forced_run(model, x, forced & (t > 0))),
        ("you force at every step of the first interval and never after it (t // tau_f == 0 "
         "is t < tau_f): force at t = 0, tau_f, 2 tau_f, ... (t % tau_f == 0)",
         forced_run(model, x, t < tau_f) if tau_f < T else None),
        ("you force the last step t = T - 1 too: force only when t is a multiple of tau_f "
         "(t % tau_f == 0)",
         forced_run(model, x, forced | (t == T - 1)) if not forced[-1] else None),
        ("you mix the data into the observed units, 0.5 z_t[:N] + 0.5 x_t: sparse teacher "
         "forcing replaces them, z~_t = [x_t, z_t[N:]]",
         forced_run(model, x, np.where(forced, 0.5, 0.0))),
    ]


#: The visible inputs of :func:`check_stf_forward`: one model and one x for the forcing
#: intervals 5, 7 and 1 (float64, N = 2), and the notebook's own conditions at a reduced
#: size (:func:`_as_in_the_notebook`).
_VISIBLE = dict(sizes=dict(M=6, L=10, N=2, seed=5), B=3, T=23, seed=1, dtype="float64")


def _as_in_the_notebook() -> Case:
    """The case of the notebook's next cell, reduced: a float32 model with the notebook's
    N observed units, its forcing interval tau_f (``STF_DEFAULTS``) and a sequence of
    three forcing intervals and more, with a small model and batch."""
    from ..reconstruction import STF_DEFAULTS

    N, tau_f = STF_DEFAULTS["N"], STF_DEFAULTS["train"]["tau_f"]
    T = 3 * tau_f + 8
    return forcing_case(f"float32, N = {N}, tau_f = {tau_f}, T = {T}, as in the notebook",
                        dict(M=N + 4, L=12, N=N, seed=5), 2, T, 1, "float32", tau_f=tau_f)


def _stf_cases(hidden: bool, salt: int | None) -> list[Case]:
    from ..training import forcing_times

    cases = [forcing_case(f"tau_f = {tau_f}", **_VISIBLE, tau_f=tau_f) for tau_f in (5, 7, 1)]
    cases.append(_as_in_the_notebook())
    if hidden:
        cases += [hidden_forcing_case(label, sizes, B, T, seed, dtype, salt,
                                      forcing_times(T, tau_f), tau_f=tau_f)
                  for label, sizes, B, T, tau_f, seed, dtype in _HIDDEN_CASES]
    return cases


def _probe_stf(case: Case, fn) -> dict:
    return probe_forcing(case, fn, case.params["tau_f"])


def _judge_stf(case: Case, seen: dict) -> None:
    from ..training import forcing_times

    tau_f = case.params["tau_f"]
    forced = forcing_times(case.params["T"], tau_f)
    judge_predictions("stf_forward", case, seen, forced,
                      lambda model, x: _stf_slips(model, x, tau_f, forced))


STF_FORWARD = Check(
    "check_stf_forward", lambda hidden, salt: _stf_cases(hidden, salt), _probe_stf,
    _judge_stf, "stf_forward: forced at t = 0, tau_f, 2 tau_f, ...; predictions and "
                "gradients match the reference", CHAPTER)

#: The checks of this chapter, by name.
CHECKS = {check.name: check for check in (STF_FORWARD,)}


def check_stf_forward(fn, *, hidden: bool = False) -> None:
    """Check ``fn(model, x, tau_f)``: sparse teacher forcing without warm-up, predictions
    of shape ``(B, T, N)`` in the dtype of ``x``, equal to
    :func:`course_utils.training.stf_forward` in values and gradients.

    The visible cases: the forcing intervals 5, 7 and 1 in float64, and the notebook's own
    conditions at a reduced size (float32, its N and tau_f, several forcing intervals).
    With ``hidden=True`` (the grader) three more cases follow: other seeds, batch sizes,
    lengths, forcing intervals, model sizes, and float32 as in the notebook.
    """
    _run_check(STF_FORWARD, (fn,), hidden=hidden)
