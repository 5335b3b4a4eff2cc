"""The chapters' Lorenz-63 reconstructions: their settings, and training a model from them.

* :data:`STF_DEFAULTS`, :data:`STF_X_DEFAULTS` and :data:`GTF_DEFAULTS`: model sizes and
  training settings of the STF chapter (the delay embedding, N = 3), of the
  single-variable chapter (x alone, N = 1, with a warm-up) and of the GTF chapter (the
  same data and model as the STF chapter). The notebooks and the benchmarks use them.
* :func:`train_reconstruction` builds a :class:`~course_utils.models.ShallowPLRNN` from
  such settings and trains it with :func:`~course_utils.training.train_stf` or, for
  settings with ``method="gtf"``, :func:`~course_utils.training.train_gtf`.

A trained model is judged by :mod:`course_utils.evaluation`.
"""

from __future__ import annotations

__all__ = ["STF_DEFAULTS", "STF_X_DEFAULTS", "GTF_DEFAULTS", "train_reconstruction"]

#: Settings of the STF chapter: model sizes (M, L, N), seed, and the training keywords.
STF_DEFAULTS = dict(M=20, L=200, N=3, seed=0,
                    train=dict(n_steps=40_000, batch_size=32, seq_len=200, tau_f=25,
                               warmup=0, lr=3e-3, lr_end=1e-5, clip=10.0, seed=0))

#: Settings of the single-variable chapter (x alone, with a warm-up).
STF_X_DEFAULTS = dict(M=15, L=100, N=1, seed=0,
                      train=dict(n_steps=10_000, batch_size=32, seq_len=200, tau_f=25,
                                 warmup=50, lr=3e-3, lr_end=1e-5, clip=10.0, seed=0))

#: Settings of the GTF chapter: the model of STF_DEFAULTS, trained by generalized teacher
#: forcing with resets (``course_utils.training.train_gtf`` with ``tau_f``): the observed
#: units are forced fully every tau_f = 25 steps, as in STF, and with a constant alpha =
#: 0.1 at the steps between. Without the resets (Hess et al.'s GTF, constant or adaptive
#: alpha) lambda_max comes out further off (benchmarks/RESULTS.md).
GTF_DEFAULTS = dict(M=20, L=200, N=3, seed=0, method="gtf",
                    train=dict(n_steps=40_000, batch_size=32, seq_len=200, tau_f=25,
                               alpha=0.1, adaptive=False, warmup=0, lr=3e-3, lr_end=1e-5,
                               clip=10.0, seed=0))


def train_reconstruction(settings: dict, data, *, n_steps: int | None = None,
                         show_progress: bool = True, **keywords):
    """Return ``(model, history)``: a new ``ShallowPLRNN(M, L, N, seed=seed)`` from
    ``settings`` (``STF_DEFAULTS``, ``STF_X_DEFAULTS`` or ``GTF_DEFAULTS``), trained on the
    first N columns of ``data`` (shape ``(T, >= N)``) with ``settings["train"]`` by
    :func:`~course_utils.training.train_stf`, or by :func:`~course_utils.training.train_gtf`
    where ``settings["method"]`` is ``"gtf"``; ``n_steps`` overrides the number of updates,
    ``show_progress`` (default True) shows a progress bar, and further ``keywords`` (such as
    ``record``) go to the training function, whose history dict is returned.
    """
    from .models import ShallowPLRNN
    from .training import train_gtf, train_stf

    method = settings.get("method", "stf")
    if method not in ("stf", "gtf"):
        raise ValueError(f"settings['method'] must be 'stf' or 'gtf'; got {method!r}")
    model = ShallowPLRNN(settings["M"], settings["L"], settings["N"], seed=settings["seed"])
    train = dict(settings["train"], **keywords)
    if n_steps is not None:
        train["n_steps"] = n_steps
    trainer = train_gtf if method == "gtf" else train_stf
    history = trainer(model, data[:, : settings["N"]], show_progress=show_progress, **train)
    return model, history
