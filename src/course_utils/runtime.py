"""Run-time switches shared by notebooks, scripts and tests.

* ``COURSE_QUICK=1`` (or ``true``/``yes``) selects the quick mode, in which the notebooks
  run with small settings (for tests and CI); :func:`quick_mode` reads it and
  :func:`pick` chooses a setting by it.
* Progress bars (:func:`progress`) are shown in notebooks and scripts and are silent when
  ``CI`` is set, so CI logs stay readable.
* :func:`device` chooses the torch device: CUDA where there is a GPU, else the CPU;
  ``COURSE_DEVICE`` overrides it.
* :func:`import_tensorflow` imports TensorFlow with its and Keras's log noise switched off.
  Nothing here imports TensorFlow or PyTorch at module level.
"""

from __future__ import annotations

import os
from typing import Iterable, TypeVar

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on"}


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


def quick_mode() -> bool:
    """True when the environment variable ``COURSE_QUICK`` is set to 1/true/yes/on."""
    return _env_flag("COURSE_QUICK")


def pick(full: T, quick: T) -> T:
    """``quick`` in quick mode (``COURSE_QUICK=1``), otherwise ``full``."""
    return quick if quick_mode() else full


def progress(iterable: Iterable[T] | None = None, **kwargs) -> Iterable[T]:
    """A tqdm progress bar, disabled when ``CI`` is set (pass ``disable=`` to override).

    In a notebook this is ``tqdm.auto`` (a widget where available, text otherwise).
    """
    import warnings

    with warnings.catch_warnings():  # without ipywidgets tqdm.auto falls back to text bars
        warnings.simplefilter("ignore")
        from tqdm.auto import tqdm

    kwargs.setdefault("disable", _env_flag("CI"))
    kwargs.setdefault("mininterval", 0.5)
    return tqdm(iterable, **kwargs)


def device():
    """The ``torch.device`` the notebooks put their models and tensors on: ``cuda`` when
    PyTorch sees a CUDA GPU (``torch.cuda.is_available()``), else ``cpu``. The environment
    variable ``COURSE_DEVICE`` overrides the choice: ``cpu`` (e.g. to compare with a GPU
    run), ``cuda`` or ``cuda:N`` (the N-th GPU, from 0). Raises ``ValueError``, naming
    ``COURSE_DEVICE`` and its value, when that is not a device name, or names a CUDA device
    that is not there (saying which devices are). Imports torch.
    """
    import torch

    n_gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    name = os.environ.get("COURSE_DEVICE", "").strip()
    if not name:
        return torch.device("cuda" if n_gpus else "cpu")
    available = "cpu" + "".join(f", cuda:{i}" for i in range(n_gpus))
    try:
        chosen = torch.device(name)
    except (RuntimeError, ValueError) as err:
        raise ValueError(f"COURSE_DEVICE={name!r} is not a torch device name (such as "
                         f"'cpu', 'cuda' or 'cuda:1'); available here: {available}") from err
    if chosen.type == "cpu":
        return chosen
    if chosen.type != "cuda":
        raise ValueError(f"COURSE_DEVICE={name!r}: the course runs on 'cpu' or 'cuda' "
                         f"devices only; available here: {available}")
    if not n_gpus or (chosen.index is not None and chosen.index >= n_gpus):
        raise ValueError(f"COURSE_DEVICE={name!r} names a CUDA device that PyTorch does not "
                         f"see (CUDA available: {bool(n_gpus)}, {n_gpus} GPU(s)); available "
                         f"here: {available}. Unset COURSE_DEVICE or set it to 'cpu'")
    return chosen


def silence_tensorflow_environment() -> None:
    """Set the environment variables that quiet TensorFlow's C++ logging.

    Must run before TensorFlow is first imported to take full effect.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # no INFO/WARNING/ERROR from C++
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # no oneDNN banner, bitwise repeatable
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def import_tensorflow(floatx: str | None = None):
    """Import and return ``tensorflow`` with its and Keras's log noise switched off.

    ``floatx`` (e.g. ``"float64"``) sets Keras's default float type as well.
    """
    silence_tensorflow_environment()
    import logging

    import tensorflow as tf

    tf.get_logger().setLevel(logging.ERROR)
    try:
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:  # pragma: no cover - absl ships with TensorFlow
        pass
    if floatx is not None:
        # Keras 3 caches its global dtype policy when the first layer is built; setting the
        # policy too makes the choice hold even after that.
        tf.keras.config.set_floatx(floatx)
        tf.keras.config.set_dtype_policy(floatx)
    return tf
