"""The chapters' Lorenz-63 reconstructions: their settings, and training a model from them.

* :data:`STF_DEFAULTS`, :data:`STF_X_DEFAULTS` and :data:`GTF_DEFAULTS`: model sizes and
  training settings of the STF chapter (the delay embedding, N = 3), of the
  single-variable chapter (x alone, N = 1, with a warm-up) and of the GTF chapter (the
  same data and model as the STF chapter). The notebooks and the benchmarks use them.
* :func:`train_reconstruction` builds a :class:`~course_utils.models.ShallowPLRNN` from
  such settings and trains it with :func:`~course_utils.training.train_stf` or, for
  settings with ``method="gtf"``, :func:`~course_utils.training.train_gtf`.
* :func:`trained_reconstruction` does the same once: it saves the model and its training
  record under a fingerprint of the settings, the data and the code, and a later
  notebook that asks for the same model loads them (chapter 06 takes chapter 03's STF
  model so).

A trained model is judged by :mod:`course_utils.evaluation`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path

import numpy as np

__all__ = ["STF_DEFAULTS", "STF_X_DEFAULTS", "GTF_DEFAULTS", "train_reconstruction",
           "trained_reconstruction", "TRAINED_FOLDER"]

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


#: The folder, relative to the working directory, where :func:`trained_reconstruction`
#: keeps its models (the notebooks of one folder share it).
TRAINED_FOLDER = "trained_models"


def trained_reconstruction(settings: dict, data, *, n_steps: int | None = None,
                           record=None, record_every: int = 1000,
                           folder=TRAINED_FOLDER, show_progress: bool = True):
    """:func:`train_reconstruction` with a store on disk, so that a model is trained once:
    return ``(model, history)`` for ``settings`` and ``data`` as that function does, loaded
    from ``folder`` (default ``"trained_models"`` in the working directory) when a run with
    the same fingerprint was saved there, else trained and saved there.

    The fingerprint is a SHA-256 hash of what decides the result: the settings (sizes,
    seeds, method, every training keyword and ``n_steps``), the data (the bytes of its first
    N columns), the record (``record.fingerprint`` and ``record_every``), and the code and
    libraries that train (the source of the model and training modules, the versions of
    PyTorch and NumPy, the machine type). The saved file holds the state dict, the whole
    history (losses, training seconds, recorded steps and results, alpha for GTF) and the
    fingerprint's parts; it is written in one step (:func:`course_utils.data.save_atomically`),
    and a lock file makes a second process that wants the same model while the first
    trains it wait and then load it (on systems with ``fcntl``).

    Keyword arguments

    * ``n_steps = None``: the number of updates, default that of ``settings``.
    * ``record = None``: an object called as ``record(model)`` during training (see
      :func:`course_utils.training.train_stf`) with a ``fingerprint`` attribute, a string
      that names what it measures and on which data, such as
      :class:`course_utils.evaluation.FreeRunDistances`.
    * ``record_every = 1000``: updates between records.
    * ``show_progress = True``: the training's progress bar.

    The history has the key ``loaded_from``: the file's path when the model was loaded,
    else None. Raises ``TypeError`` for a ``record`` without a fingerprint.
    """
    import torch

    from .data import save_atomically
    from .models import ShallowPLRNN

    if record is not None and not isinstance(getattr(record, "fingerprint", None), str):
        raise TypeError(f"record must have a string attribute 'fingerprint' naming what it "
                        f"measures (e.g. course_utils.evaluation.FreeRunDistances); got "
                        f"{type(record).__name__}")
    parts = _fingerprint_parts(settings, data, n_steps, record, record_every)
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()
    path = Path(folder) / f"{settings.get('method', 'stf')}_{digest[:16]}.pt"
    with _exclusive(path.with_name(path.name + ".lock")):
        if path.exists():
            saved = torch.load(path, weights_only=True)
            if saved.get("fingerprint") == parts:
                model = ShallowPLRNN(settings["M"], settings["L"], settings["N"])
                model.load_state_dict(saved["state_dict"])
                history = {k: (v.numpy() if isinstance(v, torch.Tensor) else v)
                           for k, v in saved["history"].items()}
                if "records" in history:
                    history["records"] = [tuple(r) for r in history["records"]]
                return model, dict(history, loaded_from=str(path))
        keywords = {} if record is None else dict(record=record, record_every=record_every)
        model, history = train_reconstruction(settings, data, n_steps=n_steps,
                                              show_progress=show_progress, **keywords)
        stored = {k: (torch.from_numpy(np.asarray(v)) if isinstance(v, np.ndarray) else v)
                  for k, v in history.items()}
        if "records" in stored:
            stored["records"] = [list(map(float, r)) for r in stored["records"]]
        save_atomically(dict(state_dict=model.state_dict(), history=stored,
                             fingerprint=parts), path)
    return model, dict(history, loaded_from=None)


def _fingerprint_parts(settings, data, n_steps, record, record_every) -> dict:
    """What decides a trained model, as JSON-able values (see trained_reconstruction)."""
    import platform

    import torch

    train = dict(settings["train"])
    if n_steps is not None:
        train["n_steps"] = n_steps
    columns = np.ascontiguousarray(np.asarray(data)[:, : settings["N"]], dtype=np.float32)
    here = Path(__file__).resolve().parent
    code = hashlib.sha256(b"".join((here / name).read_bytes() for name in _TRAINING_CODE))
    return dict(settings={k: v for k, v in settings.items() if k != "train"}, train=train,
                data=[list(columns.shape), hashlib.sha256(columns.tobytes()).hexdigest()],
                record=None if record is None else [record.fingerprint, record_every],
                code=code.hexdigest(), torch=str(torch.__version__), numpy=np.__version__,
                machine=platform.machine())


#: The modules whose source decides a trained model (trained_reconstruction's fingerprint).
_TRAINING_CODE = ("models.py", "training.py", "forcing_loops.py", "data.py",
                  "reconstruction.py")


@contextlib.contextmanager
def _exclusive(lock_path: Path):
    """Hold an exclusive lock on ``lock_path`` (made if needed) for the block; a process
    that finds it held says so once and waits. Without ``fcntl`` (Windows) no lock."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting for another process that trains this model ({lock_path.stem})",
                  flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
