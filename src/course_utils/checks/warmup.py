"""Checks of chapter 05 (reconstruction from x alone): sparse teacher forcing with a
warm-up."""

from __future__ import annotations

import numpy as np

from .framework import Case, Check, run_check as _run_check
from .helpers import (forced_run, forcing_case, hidden_forcing_case, judge_predictions,
                      probe_forcing)

CHAPTER = "05_single_variable_reconstruction"
__all__ = ["check_stf_forward_warmup"]

#: The hidden cases of :func:`check_stf_forward_warmup`: (label, model sizes and seed, batch
#: size, sequence length, tau_f, warmup, data seed, dtype name). Their failures never show
#: these values. In grading both seeds are mixed with the grader's salt.
_HIDDEN_CASES = (
    ("another seed, batch size, sequence length, forcing interval and warm-up",
     dict(M=6, L=9, N=1, seed=19), 2, 26, 4, 3, 53, "float64"),
    ("more than one observed unit, and a warm-up longer than the forcing interval",
     dict(M=7, L=12, N=2, seed=23), 4, 21, 3, 11, 59, "float64"),
    ("a float32 model and float32 data, as in the notebook",
     dict(M=8, L=10, N=1, seed=31), 3, 44, 10, 6, 61, "float32"),
)


def _warmup_slips(model, x, tau_f, warmup, forced):
    """The typical mistakes of the forcing schedule of Task 1 of chapter 05, and what each
    gives (the slips of every forcing task follow, :func:`~.helpers.forcing_slips`)."""
    T = x.shape[1]
    t = np.arange(T)
    shifted = ("the forcing after the warm-up is shifted by one step: force every t < warmup, "
               "then t = warmup, warmup + tau_f, ... ((t - warmup) % tau_f == 0)")
    return [
        ("the data are never used: force every t < warmup, then t = warmup, warmup + tau_f, "
         "...", forced_run(model, x, np.zeros(T, bool))),
        ("the warm-up is not forced at every step: force every t < warmup",
         forced_run(model, x, t % tau_f == 0) if warmup else None),
        ("after the warm-up, count the forcing interval from its end: force at t = "
         "warmup, warmup + tau_f, ... ((t - warmup) % tau_f == 0)",
         forced_run(model, x, (t < warmup) | (t % tau_f == 0)) if warmup else None),
        ("after the warm-up the model is never forced again: force at t = warmup, "
         "warmup + tau_f, ... ((t - warmup) % tau_f == 0)",
         forced_run(model, x, t < warmup) if warmup < T else None),
        ("after the warm-up the model is forced at every step: then force only every "
         "tau_f steps", forced_run(model, x, np.ones(T, bool)) if tau_f > 1 else None),
        (shifted, forced_run(model, x, (t < warmup) | ((t - warmup) % tau_f == 1))
         if tau_f > 1 else None),
        (shifted, forced_run(model, x, (t < warmup) | ((t - warmup) % tau_f == tau_f - 1))
         if tau_f > 1 else None),
        ("the forcing after the warm-up starts one step late: the warm-up is t < warmup, "
         "and t = warmup is the first sparse forcing time ((t - warmup) % tau_f == 0)",
         forced_run(model, x, (t <= warmup) | ((t - warmup - 1) % tau_f == 0))
         if tau_f > 1 else None),
        ("the first sparse forcing time is skipped: the warm-up is t < warmup, and "
         "t = warmup is forced as the first sparse forcing time ((t - warmup) % tau_f == 0)",
         forced_run(model, x, forced & (t != warmup)) if warmup < T else None),
        ("the first state is not forced: t = 0 is a forcing time too",
         forced_run(model, x, forced & (t > 0))),
        ("the warm-up is one step short: force every t < warmup, t = 0, ..., warmup - 1 (not "
         "t < warmup - 1)", forced_run(model, x, (t < warmup - 1) | ((t - warmup) % tau_f == 0))
         if warmup else None),
        ("the warm-up steps are not all forced: without a branch for t < warmup, "
         "(t - warmup) % tau_f == 0 forces only t = warmup - tau_f, warmup - 2 tau_f, ... "
         "of them (Python's % of a negative number is not negative). Force every t < warmup, "
         "then t = warmup, warmup + tau_f, ...",
         forced_run(model, x, (t - warmup) % tau_f == 0) if warmup else None),
        ("the forcing after the warm-up is counted with t + warmup: force at t = warmup, "
         "warmup + tau_f, ... ((t - warmup) % tau_f == 0)",
         forced_run(model, x, (t < warmup) | ((t + warmup) % tau_f == 0)) if warmup else None),
        ("the forcing after the warm-up sets the unobserved units to zero: keep them at every "
         "forced step, z~_t = [x_t, z_t[N:]]",
         forced_run(model, x, forced, reset_hidden=t >= warmup) if warmup else None),
        ("the warm-up is forced with the next observation x[:, t + 1], the target of step t: "
         "force every step with x[:, t], the observation of the state that it starts from",
         forced_run(model, x, forced, ahead=t < warmup) if warmup else None),
    ]


#: The visible inputs of :func:`check_stf_forward_warmup` with one observed unit (one model
#: and one x for every tau_f and warm-up).
_VISIBLE = dict(sizes=dict(M=5, L=10, N=1, seed=5), B=3, T=30, seed=2, dtype="float64")
#: Two observed units: the task's function is written for any N.
_TWO_OBSERVED = dict(sizes=dict(M=5, L=10, N=2, seed=5), B=3, T=24, seed=2,
                     dtype="float64", tau_f=3, warmup=5)


def _as_in_the_notebook() -> Case:
    """The notebook's conditions, reduced: a float32 model with its N observed units, its
    forcing interval and warm-up (``STF_X_DEFAULTS``), and a sequence with the warm-up and
    three sparse forcing times after it, with a small model and batch."""
    from ..reconstruction import STF_X_DEFAULTS

    train = STF_X_DEFAULTS["train"]
    N, tau_f, warmup = STF_X_DEFAULTS["N"], train["tau_f"], train["warmup"]
    T = warmup + 2 * tau_f + 8
    return forcing_case(f"float32, tau_f = {tau_f}, warmup = {warmup}, T = {T}, as in the "
                        "notebook", dict(M=8, L=12, N=N, seed=5), 2, T, 2, "float32",
                        tau_f=tau_f, warmup=warmup)


def _warmup_cases(hidden: bool, salt: int | None) -> list[Case]:
    from ..training import forcing_times

    cases = [forcing_case(f"tau_f = {tau_f}, warmup = {warmup}", **_VISIBLE, tau_f=tau_f,
                          warmup=warmup) for tau_f, warmup in ((7, 9), (5, 4), (6, 0))]
    cases.append(forcing_case("N = 2 observed units, tau_f = 3, warmup = 5", **_TWO_OBSERVED))
    cases.append(_as_in_the_notebook())
    if hidden:
        cases += [hidden_forcing_case(label, sizes, B, T, seed, dtype, salt,
                                      forcing_times(T, tau_f, warmup), tau_f=tau_f,
                                      warmup=warmup)
                  for label, sizes, B, T, tau_f, warmup, seed, dtype in _HIDDEN_CASES]
    return cases


def _probe_warmup(case: Case, fn) -> dict:
    return probe_forcing(case, fn, case.params["tau_f"], case.params["warmup"])


def _judge_warmup(case: Case, seen: dict) -> None:
    from ..training import forcing_times

    tau_f, warmup = case.params["tau_f"], case.params["warmup"]
    forced = forcing_times(case.params["T"], tau_f, warmup)
    judge_predictions("stf_forward_warmup", case, seen, forced,
                      lambda model, x: _warmup_slips(model, x, tau_f, warmup, forced),
                      warmup=warmup)


STF_FORWARD_WARMUP = Check(
    "check_stf_forward_warmup", lambda hidden, salt: _warmup_cases(hidden, salt),
    _probe_warmup, _judge_warmup,
    "stf_forward_warmup: forced at every step of the warm-up, then every tau_f steps; "
    "predictions and gradients match the reference", CHAPTER)

#: The checks of this chapter, by name.
CHECKS = {check.name: check for check in (STF_FORWARD_WARMUP,)}


def check_stf_forward_warmup(fn, *, hidden: bool = False) -> None:
    """Check ``fn(model, x, tau_f, warmup)``: forcing at every t < warmup and at t = warmup
    + n tau_f, predictions of all T steps, shape ``(B, T, N)`` in the dtype of ``x``, equal
    to :func:`course_utils.training.stf_forward` in values and gradients.

    The visible cases: three forcing intervals and warm-ups (one longer than the interval,
    one 0) with one observed unit in float64, two observed units, and the notebook's own
    conditions at a reduced size (float32, its tau_f and warm-up). With ``hidden=True``
    (the grader) three more cases follow: other seeds, batch sizes, lengths, forcing
    intervals and warm-ups, two observed units, and float32 as in the notebook.
    """
    _run_check(STF_FORWARD_WARMUP, (fn,), hidden=hidden)
