"""The exercise data: Lorenz-63 orbits, their delay embedding, and training batches.

* :func:`lorenz63_orbit` integrates Lorenz-63 accurately (RK4 with small sub-steps) and
  reads the state out every ``dt`` time units, after a discarded transient;
* :func:`delay_embed` builds the delay vectors (x_t, x_{t-d}, x_{t-2d}, ...);
* :func:`reference_orbit` is the true system in a data set's coordinates (the same
  embedding and standardisation), a yardstick for what a perfect model would score;
* :func:`make_lorenz_dataset` makes the exercise data set (the counterpart of the sheet's
  ``lorenz_data.pt``): a standardised, noisy delay embedding of the x component (or
  another, ``component``) for training, a separate clean stretch for evaluation, and the
  clean states;
  :func:`save_lorenz_dataset`, :func:`load_lorenz_dataset` and :func:`lorenz_dataset`
  (load if the file holds the same settings, otherwise make and save) keep it as a
  ``.pt`` file;
* :func:`sample_batch` draws random subsequences with forcing signals and targets shifted
  by one step.

Orbits are NumPy arrays; the data set holds torch tensors, and torch is imported only by
the functions that make, save, load or sample it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .lorenz import LORENZ_BETA, LORENZ_RHO, LORENZ_SIGMA

__all__ = ["lorenz63_orbit", "delay_embed", "reference_orbit", "make_lorenz_dataset",
           "save_lorenz_dataset", "load_lorenz_dataset", "lorenz_dataset", "sample_batch",
           "save_atomically", "DATASET_DEFAULTS"]

#: The settings of the exercise data set (keyword arguments of :func:`make_lorenz_dataset`).
DATASET_DEFAULTS = dict(n_train=100_000, n_test=100_000, dt=0.01, delay=10, noise=0.05,
                        seed=0, component=0)


def lorenz63_orbit(n_steps: int, *, dt: float = 0.01, z0=None, transient: float = 50.0,
                   substeps: int = 4, seed: int = 0, sigma: float = LORENZ_SIGMA,
                   rho: float = LORENZ_RHO, beta: float = LORENZ_BETA) -> np.ndarray:
    """A Lorenz-63 orbit read out every ``dt`` time units: ``Z`` of shape ``(n_steps, 3)``
    holds (x, y, z) at times t_0, t_0 + dt, ..., where t_0 = ``transient`` (time units
    integrated and discarded, so that the orbit lies on the attractor). The integrator is
    the classical RK4 with ``substeps`` steps of dt/substeps per read-out (2.5e-3 time units
    by default, a local error far below float32 resolution), written on Python floats
    (faster than NumPy for one 3-vector).

    Keyword arguments

    * ``z0 = None``: the initial state; by default (1, 1, 1) plus a standard normal
      perturbation drawn with ``seed``.
    * ``transient = 50.0``: time units integrated before the first read-out.
    * ``dt = 0.01``: time units between read-outs.
    * ``substeps = 4``: RK4 steps per read-out.
    * ``seed = 0``: seeds the perturbation of the default initial state.
    * ``sigma, rho, beta``: the parameters, (10, 28, 8/3) by default.

    Reference: E. N. Lorenz, J. Atmos. Sci. 20, 130-141 (1963).
    """
    if n_steps < 1 or substeps < 1 or not dt > 0 or transient < 0:
        raise ValueError(f"need n_steps >= 1, substeps >= 1, dt > 0 and transient >= 0; got "
                         f"n_steps={n_steps}, substeps={substeps}, dt={dt}, "
                         f"transient={transient}")
    if z0 is None:
        z0 = np.ones(3) + np.random.default_rng(seed).standard_normal(3)
    z0 = np.asarray(z0, dtype=np.float64)
    if z0.shape != (3,) or not np.all(np.isfinite(z0)):
        raise ValueError(f"z0 must be 3 finite numbers (x, y, z); got {z0!r}")
    h = dt / substeps

    def field(x, y, z):
        return sigma * (y - x), x * (rho - z) - y, x * y - beta * z

    def rk4(x, y, z):
        a1, b1, c1 = field(x, y, z)
        a2, b2, c2 = field(x + 0.5 * h * a1, y + 0.5 * h * b1, z + 0.5 * h * c1)
        a3, b3, c3 = field(x + 0.5 * h * a2, y + 0.5 * h * b2, z + 0.5 * h * c2)
        a4, b4, c4 = field(x + h * a3, y + h * b3, z + h * c3)
        s = h / 6.0
        return (x + s * (a1 + 2 * a2 + 2 * a3 + a4), y + s * (b1 + 2 * b2 + 2 * b3 + b4),
                z + s * (c1 + 2 * c2 + 2 * c3 + c4))

    x, y, z = (float(v) for v in z0)
    for _ in range(int(round(transient / h))):
        x, y, z = rk4(x, y, z)
    out = np.empty((n_steps, 3))
    for t in range(n_steps):
        out[t] = x, y, z
        for _ in range(substeps):
            x, y, z = rk4(x, y, z)
    if not np.all(np.isfinite(out)):
        raise FloatingPointError("the Lorenz-63 orbit became non-finite: dt is too large")
    return out


def delay_embed(x, delay: int = 10, dim: int = 3) -> np.ndarray:
    """The delay embedding ``X`` of a scalar series ``x`` (shape ``(T,)``): row i of ``X``
    is (x_t, x_{t-d}, ..., x_{t-(dim-1)d}) with t = i + (dim-1) d and d = ``delay`` (in
    samples), so ``X`` has shape ``(T - (dim-1) d, dim)``. By Takens' theorem a delay
    embedding of one generic observable of Lorenz-63 in dim >= 3 reconstructs its attractor
    (up to a smooth change of coordinates). Reference: F. Takens, Lecture Notes in
    Mathematics 898, 366-381 (1981).
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"x must be one scalar series of shape (T,); got shape {x.shape}")
    if delay < 1 or dim < 1:
        raise ValueError(f"need delay >= 1 and dim >= 1; got delay={delay}, dim={dim}")
    span = (dim - 1) * delay
    if len(x) <= span:
        raise ValueError(f"x has {len(x)} samples, too few for dim={dim} and delay={delay} "
                         f"(need more than {span})")
    T = len(x) - span
    return np.stack([x[span - j * delay: span - j * delay + T] for j in range(dim)], axis=1)


def reference_orbit(n_steps: int, *, component: int | None = None, delay: int = 10,
                    lead: bool = False, mean=None, std=None, dt: float = 0.01,
                    seed: int = 1) -> np.ndarray:
    """The true system in a data set's coordinates: a clean Lorenz-63 orbit
    (:func:`lorenz63_orbit`, read out every ``dt``, from its own ``seed``, default 1) read
    out as the data set reads its orbit, ``X`` of shape ``(n_steps, 3)``. With
    ``component`` (0, 1 or 2 for x, y, z) the rows are the delay vectors
    (s_t, s_{t-d}, s_{t-2d}) of that component with d = ``delay`` samples
    (:func:`delay_embed`), or (s_t, s_{t+d}, s_{t+2d}) with ``lead``;
    without it, the states (x, y, z). Each column is then standardised,
    (X - mean) / std, with the data set's ``mean`` and ``std`` (``data["mean"]``,
    ``data["std"]`` of :func:`make_lorenz_dataset`) or, where they are not known, with
    the orbit's own. A free run of a perfect model of the data is such an orbit, so the
    distances of its stretches to a test series (for instance by
    :func:`course_utils.metrics.state_space_divergences`) say what a perfect
    reconstruction would score there.
    """
    if component not in (None, 0, 1, 2):
        raise ValueError(f"component must be None (the state), 0 (x), 1 (y) or 2 (z); got "
                         f"component={component!r}")
    if lead and component is None:
        raise ValueError("lead=True orders delay vectors: it needs a component")
    if (mean is None) != (std is None):
        raise ValueError("give both mean and std of the standardisation, or neither")
    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1; got {n_steps}")
    span = 0 if component is None else 2 * delay
    Z = lorenz63_orbit(n_steps + span, dt=dt, seed=seed)
    X = Z if component is None else delay_embed(Z[:, component], delay)
    if lead:            # (s_{t-2d}, s_{t-d}, s_t) is (s_u, s_{u+d}, s_{u+2d}) with u = t - 2d
        X = X[:, ::-1]
    if mean is None:
        mean, std = X.mean(axis=0), X.std(axis=0)
    mean, std = (np.asarray(v, dtype=np.float64) for v in (mean, std))
    if mean.shape != (3,) or std.shape != (3,) or not np.all(std > 0):
        raise ValueError(f"mean and std must be 3 numbers each, std positive; got shapes "
                         f"{mean.shape} and {std.shape}, std {std}")
    return (X - mean) / std


def make_lorenz_dataset(n_train: int = 100_000, n_test: int = 100_000, *, dt: float = 0.01,
                        delay: int = 10, noise: float = 0.05, seed: int = 0,
                        gap: int = 1_000, component: int = 0) -> dict:
    """Make the exercise data set, a dict (described below). One Lorenz-63 orbit
    (:func:`lorenz63_orbit`, read out every ``dt`` = 0.01 time units) is cut into a training
    stretch of ``n_train`` = 100,000 read-outs and, ``gap`` = 1,000 read-outs later, a test
    stretch of ``n_test`` = 100,000. Of each, the observed component (x by default,
    ``component = 0``; 1 is y, 2 is z) is
    delay-embedded as (x_t, x_{t-d}, x_{t-2d}) with d = ``delay`` = 10 samples
    (:func:`delay_embed`), and each column is standardised with the mean
    and standard deviation of the clean training embedding. The training data then get
    Gaussian observation noise of standard deviation ``noise`` = 0.05 (a fraction of each
    column's standard deviation, which is 1 after standardising); the test stretch stays
    clean. The same ``seed`` (default 0) gives the same data, bit for bit (the noise is
    drawn from the seed and the component).

    Returns a dict of torch tensors (float32 data, float64 statistics) and settings:
    ``train (n_train, 3)`` the noisy embedding to train on, ``train_clean``, ``test
    (n_test, 3)`` the clean test embedding, ``states_train`` and ``states_test`` the
    Lorenz states (x, y, z) at the same times, ``mean (3,)`` and ``std (3,)`` of the
    standardisation, and ``settings`` (a dict with n_train, n_test, dt, delay, noise, seed,
    gap, component). The single-variable data set of the bonus task is ``train[:, :1]``.
    """
    import torch

    if n_train < 2 or n_test < 2 or gap < 0 or noise < 0:
        raise ValueError(f"need n_train >= 2, n_test >= 2, gap >= 0 and noise >= 0; got "
                         f"n_train={n_train}, n_test={n_test}, gap={gap}, noise={noise}")
    if component not in (0, 1, 2):
        raise ValueError(f"component must be 0 (x), 1 (y) or 2 (z) of the Lorenz-63 state; "
                         f"got component={component!r}")
    span = 2 * delay
    n_orbit = span + n_train + gap + span + n_test
    Z = lorenz63_orbit(n_orbit, dt=dt, seed=seed)
    test_start = span + n_train + gap
    E_train = delay_embed(Z[:span + n_train, component], delay)
    E_test = delay_embed(Z[test_start:, component], delay)
    mean, std = E_train.mean(axis=0), E_train.std(axis=0)
    train_clean, test = (E_train - mean) / std, (E_test - mean) / std
    rng = np.random.default_rng([seed, 1 + component])
    train = train_clean + noise * rng.standard_normal(train_clean.shape)

    def f32(a):
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))

    settings = dict(n_train=n_train, n_test=n_test, dt=dt, delay=delay, noise=noise,
                    seed=seed, gap=gap, component=component)
    return dict(train=f32(train), train_clean=f32(train_clean), test=f32(test),
                states_train=f32(Z[span:span + n_train]), states_test=f32(Z[test_start + span:]),
                mean=torch.from_numpy(mean), std=torch.from_numpy(std), settings=settings)


def save_atomically(obj, path) -> Path:
    """``torch.save(obj)`` to ``path`` (its folder is made if needed) by way of a temporary
    file in the same folder that then replaces ``path`` in one step, so that a notebook
    reading ``path`` while another writes it sees the old file or the new one, never half
    of one. Returns the path."""
    import tempfile

    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                         suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            torch.save(obj, file)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def save_lorenz_dataset(data: dict, path) -> Path:
    """Write a data set to the ``.pt`` file ``path`` (its folder is made if needed, and the
    file replaced in one step: :func:`save_atomically`); return the path."""
    return save_atomically(data, path)


def load_lorenz_dataset(path) -> dict:
    """Read and return a data set written by :func:`save_lorenz_dataset` (tensors and plain
    settings only: ``weights_only``)."""
    import torch

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no data set at {path}: make it with make_lorenz_dataset() "
                                f"or lorenz_dataset({str(path)!r})")
    data = torch.load(path, weights_only=True)
    missing = {"train", "test", "mean", "std", "settings"} - set(data)
    if missing:
        raise ValueError(f"{path} is not a Lorenz data set: it lacks {sorted(missing)}")
    return data


def lorenz_dataset(path="lorenz_data.pt", **settings) -> dict:
    """The exercise data set with ``DATASET_DEFAULTS`` updated by the keyword arguments
    ``settings``: loaded from ``path`` (default ``"lorenz_data.pt"``) when that file holds
    a data set made with the same settings, otherwise made by :func:`make_lorenz_dataset`
    and saved there.
    """
    wanted = {**DATASET_DEFAULTS, **settings}
    unknown = set(wanted) - set(DATASET_DEFAULTS)
    if unknown:
        raise TypeError(f"unknown data set settings {sorted(unknown)}; known: "
                        f"{sorted(DATASET_DEFAULTS)}")
    path = Path(path)
    if path.exists():
        data = load_lorenz_dataset(path)
        if all(data["settings"].get(k) == v for k, v in wanted.items()):
            return data
    data = make_lorenz_dataset(**wanted)
    save_lorenz_dataset(data, path)
    return data


def sample_batch(data, batch_size: int, seq_len: int, *, generator=None):
    """Return ``(x, y)``, random subsequences of a time series ``data`` (shape ``(T, N)``,
    a tensor): for ``batch_size`` start times s drawn uniformly (with the torch
    ``generator``), the forcing signals x = data[s : s + seq_len] and the targets
    y = data[s + 1 : s + seq_len + 1], each of shape ``(batch_size, seq_len, N)``: the
    target of step t is the next observation.
    """
    import torch

    data = torch.as_tensor(data)
    if data.ndim != 2:
        raise ValueError(f"data must have shape (T, N); got {tuple(data.shape)}")
    T = data.shape[0]
    if not 1 <= seq_len <= T - 1:
        raise ValueError(f"seq_len must be in 1..{T - 1} for data of length {T}; "
                         f"got {seq_len}")
    starts = torch.randint(0, T - seq_len, (batch_size,), generator=generator)
    window = data[starts[:, None] + torch.arange(seq_len + 1)]   # (B, seq_len + 1, N)
    return window[:, :-1], window[:, 1:]

