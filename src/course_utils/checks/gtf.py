"""Checks of chapter 06 (generalized teacher forcing of the shallow PLRNN)."""

from __future__ import annotations

from .framework import Case, Check, run_check as _run_check
from .helpers import (forced_run, forcing_case, hidden_forcing_case, judge_predictions,
                      probe_forcing)

CHAPTER = "06_gtf_lorenz"
__all__ = ["check_gtf_forward"]

#: The hidden cases of :func:`check_gtf_forward`: (label, model sizes and seed, batch size,
#: sequence length, alpha, data seed, dtype name). Their failures never show these values.
#: In grading both seeds are mixed with the grader's salt.
_HIDDEN_CASES = (
    ("another seed, batch size, sequence length and forcing strength",
     dict(M=7, L=12, N=2, seed=13), 2, 27, 0.73, 67, "float64"),
    ("every latent unit observed (N = M)",
     dict(M=3, L=9, N=3, seed=43), 3, 18, 0.2, 71, "float64"),
    ("no forcing after the first state",
     dict(M=6, L=8, N=1, seed=47), 2, 15, 0.0, 73, "float64"),
    ("a float32 model and float32 data, as in the notebook",
     dict(M=8, L=11, N=3, seed=53), 4, 40, 0.12, 79, "float32"),
)

_RECIPE = ("At each step: z~_t = [(1 - alpha) z_t[:N] + alpha x_t, z_t[N:]] (the first "
           "state takes x_0 whole), z = model(z~_t), keep model.observe(z)")
#: The forced state of GTF, as the hints write it and as code.
_STATE = ("z~_t = [(1 - alpha) z_t[:N] + alpha x_t, z_t[N:]]",
          "torch.cat([(1 - a) * z[:, :N] + a * x[:, t], z[:, N:]], dim=-1)")


def _gtf_slips(model, x, alpha, weights):
    """The typical mistakes of the forcing weights of Task 1 of chapter 06, and what each
    gives (the slips of every forcing task follow, :func:`~.helpers.forcing_slips`)."""
    import numpy as np

    T, N = x.shape[1], x.shape[2]
    first_only = np.zeros(T)
    first_only[0] = 1.0
    return [
        ("the data are never used: start from z~_0 = [x_0, 0, ..., 0] and pull the "
         "observed units towards x_t at every later step", forced_run(model, x, np.zeros(T))),
        ("the data are used only for the first state: pull the observed units towards x_t "
         "at every step", forced_run(model, x, first_only) if alpha > 0 else None),
        ("the observed units are replaced by the data at every step, as if alpha were 1: "
         "interpolate, (1 - alpha) z_t[:N] + alpha x_t",
         forced_run(model, x, np.ones(T)) if alpha < 1 else None),
        ("alpha and 1 - alpha are swapped: alpha is the weight of the data, z~ = (1 - alpha) "
         "z + alpha x", forced_run(model, x, np.where((0 < weights) & (weights < 1),
                                                   1 - weights, weights))
         if 0 < alpha < 1 and alpha != 0.5 else None),
        ("alpha and 1 - alpha are swapped, in the first state too (its weight 1 on the data "
         "became 0): alpha is the weight of the data, z~ = (1 - alpha) z + alpha x, and the "
         "first state takes x_0 whole", forced_run(model, x, 1 - weights)),
        ("the unobserved units are damped too: only the observed units are pulled towards "
         "the data, z~_t = [(1 - alpha) z_t[:N] + alpha x_t, z_t[N:]]",
         forced_run(model, x, weights, damp_hidden=True)
         if 0 < alpha < 1 and model.M > N else None),
        ("the first state is forced with weight alpha from z = 0: start from the data, "
         "z~_0 = [x_0, 0, ..., 0], and interpolate from the second step on",
         forced_run(model, x, np.full(T, float(alpha))) if alpha < 1 else None),
    ]


#: The visible inputs of :func:`check_gtf_forward` (one model and one x for every alpha:
#: partial forcing, weak, full, and none after the first state).
_VISIBLE = dict(sizes=dict(M=6, L=10, N=2, seed=5), B=3, T=23, seed=3, dtype="float64")
_VISIBLE_ALPHAS = (0.3, 0.05, 1.0, 0.0)
#: Every latent unit observed (N = M), the case the chapter's bound on the gradients is for.
_ALL_OBSERVED = dict(sizes=dict(M=3, L=9, N=3, seed=5), B=3, T=23, seed=3, dtype="float64",
                     alpha=0.4)
#: The forcing strength of the notebook's cell after the check (it compares the gradients
#: of the student's gtf_forward with those of the fused pass at this alpha).
_NOTEBOOK_ALPHA = 0.2


def _as_in_the_notebook() -> Case:
    """The notebook's next cell, reduced: a float32 model with its N observed units
    (``GTF_DEFAULTS``) and the alpha of that cell, with a small model and batch."""
    from ..reconstruction import GTF_DEFAULTS

    N = GTF_DEFAULTS["N"]
    return forcing_case(f"float32, N = {N}, alpha = {_NOTEBOOK_ALPHA}, as in the notebook",
                        dict(M=N + 4, L=12, N=N, seed=5), 2, 40, 3, "float32",
                        alpha=_NOTEBOOK_ALPHA)


def _gtf_cases(hidden: bool, salt: int | None) -> list[Case]:
    from ..training import forcing_weights

    cases = [forcing_case(f"alpha = {alpha}", **_VISIBLE, alpha=alpha)
             for alpha in _VISIBLE_ALPHAS]
    cases.append(forcing_case("every unit observed, N = M = 3, alpha = 0.4", **_ALL_OBSERVED))
    cases.append(_as_in_the_notebook())
    if hidden:
        cases += [hidden_forcing_case(label, sizes, B, T, seed, dtype, salt,
                                      forcing_weights(T, alpha=alpha), alpha=alpha)
                  for label, sizes, B, T, alpha, seed, dtype in _HIDDEN_CASES]
    return cases


def _probe_gtf(case: Case, fn) -> dict:
    return probe_forcing(case, fn, case.params["alpha"])


def _judge_gtf(case: Case, seen: dict) -> None:
    from ..training import forcing_weights

    alpha = case.params["alpha"]
    weights = forcing_weights(case.params["T"], alpha=alpha)
    judge_predictions("gtf_forward", case, seen, weights,
                      lambda model, x: _gtf_slips(model, x, alpha, weights), recipe=_RECIPE,
                      state=_STATE)


GTF_FORWARD = Check(
    "check_gtf_forward", lambda hidden, salt: _gtf_cases(hidden, salt), _probe_gtf,
    _judge_gtf, "gtf_forward: the observed units pulled towards the data by alpha at every "
                "step; predictions and gradients match the reference", CHAPTER)

#: The checks of this chapter, by name.
CHECKS = {check.name: check for check in (GTF_FORWARD,)}


def check_gtf_forward(fn, *, hidden: bool = False) -> None:
    """Check ``fn(model, x, alpha)``: generalized teacher forcing, the first state from
    x_0 and then z~_t[:N] = (1 - alpha) z_t[:N] + alpha x_t at every step, predictions of
    shape ``(B, T, N)`` in the dtype of ``x``, equal to
    :func:`course_utils.training.gtf_forward` in values and gradients.

    The visible cases: alpha = 0.3, 0.05, 1 and 0 in float64, every unit observed
    (N = M), and the notebook's own conditions at a reduced size (float32, its N and the
    alpha of its next cell). With ``hidden=True`` (the grader) four more cases follow:
    other seeds, sizes and strengths, a fully observed model, alpha = 0, and float32 as in
    the notebook.
    """
    _run_check(GTF_FORWARD, (fn,), hidden=hidden)
