"""Measures of how well a generated orbit reproduces the true one, for dynamical systems
reconstruction: the geometry of the attractor (:func:`state_space_divergence`) and its
temporal structure (:func:`power_spectrum_distance`). Neither compares the orbits point
by point, which for chaotic systems is meaningless after a few Lyapunov times.

Both take NumPy arrays or torch tensors of shape ``(T, N)`` (T time steps, N observed
dimensions) and return a float (:func:`state_space_divergences` takes several orbits and
returns one figure each); nothing here imports torch.

Reference: M. Hess, F. Hess, D. Durstewitz, "Generalized teacher forcing for learning
chaotic dynamics", ICML 2023; J. Mikhaeil, Z. Monfared, D. Durstewitz, NeurIPS 2022.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["state_space_divergence", "state_space_divergences", "power_spectrum_distance",
           "gaussian_smooth", "hellinger_distance"]


def _as_orbit(name: str, X) -> np.ndarray:
    if hasattr(X, "detach"):
        X = X.detach().cpu().numpy()
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2 or X.shape[0] < 2:
        raise ValueError(f"{name} must have shape (T, N) with T >= 2; got shape {X.shape}")
    return X


def _pair(x_true, x_gen):
    x_true, x_gen = _as_orbit("x_true", x_true), _as_orbit("x_gen", x_gen)
    if x_true.shape[1] != x_gen.shape[1]:
        raise ValueError(f"x_true and x_gen must have the same number of dimensions N; got "
                         f"shapes {x_true.shape} and {x_gen.shape}")
    if not np.all(np.isfinite(x_true)):
        raise ValueError("x_true contains non-finite values")
    return x_true, x_gen


def state_space_divergence(x_true, x_gen, *, n_bins: int = 30, margin: float = 0.1,
                           alpha: float = 1e-5) -> float:
    """The Kullback-Leibler divergence D_stsp between the occupation histograms of the true
    and the generated orbit in state space::

        D_stsp = Σ_k p_k ln(p_k / q_k),

    with p (true) and q (generated) the fractions of points in each of n_bins^N boxes,
    which cover [min - margin sd, max + margin sd] of the *true* orbit in each dimension.
    Empty boxes get Laplace smoothing: p_k = (n_k + alpha) / (n + alpha n_bins^N), with n
    the number of points inside the boxes. Points of ``x_gen`` outside the boxes (and
    non-finite ones) are not counted: an orbit that leaves the region altogether leaves
    q uniform and scores badly, while an orbit that leaves only partly is judged by the
    part inside. 0 for identical orbits; not symmetric.

    Keyword arguments

    * ``n_bins = 30``: boxes per dimension.
    * ``margin = 0.1``: padding of the range, in standard deviations of ``x_true``.
    * ``alpha = 1e-5``: pseudo-count per box.
    """
    x_true, x_gen = _pair(x_true, x_gen)
    if n_bins < 1 or margin < 0 or not alpha > 0:
        raise ValueError(f"need n_bins >= 1, margin >= 0 and alpha > 0; got n_bins={n_bins}, "
                         f"margin={margin}, alpha={alpha}")
    pad = margin * x_true.std(axis=0)
    lo, hi = x_true.min(axis=0) - pad, x_true.max(axis=0) + pad
    edges = [np.linspace(lo[i], hi[i], n_bins + 1) for i in range(x_true.shape[1])]

    def occupation(X):
        X = X[np.all(np.isfinite(X), axis=1)]
        counts, _ = np.histogramdd(X, bins=edges)
        return (counts.ravel() + alpha) / (counts.sum() + alpha * counts.size)

    p, q = occupation(x_true), occupation(x_gen)
    return float(np.sum(p * np.log(p / q)))


def state_space_divergences(x_true, orbits, **keywords) -> np.ndarray:
    """:func:`state_space_divergence` of each of K orbits against the same ``x_true``, an
    array ``D`` of shape ``(K,)``: ``orbits`` is an array of shape ``(K, T, N)`` (a batch of
    free runs, say, or one long orbit cut into stretches with ``reshape``) or a list of
    ``(T_k, N)`` arrays, and ``D[k] = D_stsp(x_true, orbits[k])``; the keywords (``n_bins``,
    ``margin``, ``alpha``) are those of :func:`state_space_divergence`. D_stsp of one finite
    stretch is a random number: it counts the points of ``x_true`` in boxes that the stretch
    happens to miss, so the same model, or the true system itself, scores differently
    stretch by stretch. The mean and spread of ``D`` say how far one figure can be trusted,
    and ``D`` of stretches of the true system (:func:`course_utils.data.reference_orbit`)
    says what a perfect model would score against ``x_true``.
    """
    if hasattr(orbits, "detach"):
        orbits = orbits.detach().cpu().numpy()
    if isinstance(orbits, np.ndarray) and orbits.ndim != 3:
        raise ValueError(f"orbits must have shape (K, T, N) or be a list of (T, N) arrays; "
                         f"got an array of shape {orbits.shape}")
    if len(orbits) == 0:
        raise ValueError("orbits is empty: need at least one orbit")
    return np.array([state_space_divergence(x_true, orbit, **keywords) for orbit in orbits])


def gaussian_smooth(x, sigma: float, *, truncate: float = 4.0) -> np.ndarray:
    """Convolve a 1-D array with a normalised Gaussian kernel of standard deviation
    ``sigma`` (in samples), cut at ``truncate`` (default 4) sigma, and return the smoothed
    array of the same length; the ends are extended by reflection (x[-1], x[-2], ... beyond
    the right end), as ``scipy.ndimage.gaussian_filter1d`` does by default.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"x must be 1-D; got shape {x.shape}")
    if sigma == 0:
        return x.copy()
    if not sigma > 0:
        raise ValueError(f"sigma must be positive; got {sigma}")
    radius = int(truncate * sigma + 0.5)
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    kernel /= kernel.sum()
    padded = np.pad(x, radius, mode="symmetric")
    return np.convolve(padded, kernel, mode="valid")


def hellinger_distance(p, q) -> float:
    """The Hellinger distance H = sqrt(1 - Σ_k sqrt(p_k q_k)) of two probability
    vectors (non-negative, each summing to 1): 0 for equal distributions, 1 for disjoint."""
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same shape; got {p.shape} and {q.shape}")
    return float(math.sqrt(max(0.0, 1.0 - np.sum(np.sqrt(p * q)))))


def _smoothed_spectrum(x, sigma):
    if not np.all(np.isfinite(x)) or x.std() == 0:
        return None
    power = np.abs(np.fft.rfft((x - x.mean()) / x.std())) ** 2
    power = gaussian_smooth(power, sigma)
    return power / power.sum()


def power_spectrum_distance(x_true, x_gen, *, smoothing: float = 20.0) -> float:
    """The Hellinger distance D_H between the power spectra of the true and the generated
    orbit, averaged over the N dimensions: each series is z-scored, its power spectrum
    ``|rfft|^2`` is smoothed with a Gaussian kernel of ``smoothing`` (default 20) frequency
    bins (:func:`gaussian_smooth`) and normalised to sum to 1, and::

        D_H = 1/N Σ_i H(p_i, q_i),   H(p, q) = sqrt(1 - Σ_f sqrt(p_f q_f)).

    0 for identical orbits, at most 1. Both orbits must have the same length T (the
    frequency grids must agree). A generated series that is constant or not finite counts
    as 1 (nothing in common).
    """
    x_true, x_gen = _pair(x_true, x_gen)
    if x_true.shape[0] != x_gen.shape[0]:
        raise ValueError(f"x_true and x_gen must have the same length T for their spectra to "
                         f"share frequencies; got shapes {x_true.shape} and {x_gen.shape}")
    distances = []
    for i in range(x_true.shape[1]):
        p = _smoothed_spectrum(x_true[:, i], smoothing)
        if p is None:
            raise ValueError(f"x_true[:, {i}] is constant: its spectrum cannot be normalised")
        q = _smoothed_spectrum(x_gen[:, i], smoothing)
        distances.append(1.0 if q is None else hellinger_distance(p, q))
    return float(np.mean(distances))
