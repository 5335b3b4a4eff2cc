"""Figures shared by the notebooks: labelled axes, units in the labels."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_orbit_2d", "plot_running_exponents", "plot_orbits_3d", "plot_series",
           "plot_loss"]


def plot_orbit_2d(Z, ax=None, *, labels=("$x$", "$y$"), title=None, markersize=0.3,
                  color="k"):
    """Scatter the points of a planar orbit ``Z`` (shape ``(T, 2)``) and return the axes."""
    import matplotlib.pyplot as plt

    Z = np.asarray(Z)
    if Z.ndim != 2 or Z.shape[1] != 2:
        raise ValueError(f"Z must have shape (T, 2); got {Z.shape}")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4.5))
    ax.plot(Z[:, 0], Z[:, 1], ".", markersize=markersize, color=color)
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    if title:
        ax.set_title(title)
    return ax


def plot_running_exponents(history, reference=None, ax=None, *, unit="per step",
                           start=1):
    """Plot running Lyapunov estimates (shape ``(T, k)``) against the step count.

    ``reference`` (k values) is drawn as dashed lines; the y label states ``unit``.
    """
    import matplotlib.pyplot as plt

    history = np.asarray(history)
    if history.ndim != 2:
        raise ValueError(f"history must have shape (T, k); got {history.shape}")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    steps = np.arange(1, len(history) + 1)
    for i in range(history.shape[1]):
        line, = ax.plot(steps[start - 1:], history[start - 1:, i], label=f"$\\lambda_{i + 1}$")
        if reference is not None:
            ax.axhline(reference[i], ls="--", lw=1, color=line.get_color())
    ax.set_xscale("log")
    ax.set_xlabel("steps averaged, $T$")
    ax.set_ylabel(f"running estimate ({unit}, natural log)")
    ax.legend(loc="best")
    return ax


def plot_orbits_3d(orbits, labels, ax=None, *, axis_labels=(r"$x_t$", r"$x_{t-d}$",
                                                          r"$x_{t-2d}$"), n_points=20_000,
                   title=None):
    """Draw orbits of shape ``(T, 3)`` as lines in one 3-D axes (the first ``n_points`` of
    each), with a legend; ``axis_labels`` name the coordinates. Returns the axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        ax = plt.figure(figsize=(6, 5)).add_subplot(projection="3d")
    for X, label in zip(orbits, labels):
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != 3:
            raise ValueError(f"each orbit must have shape (T, 3); got {X.shape} for {label}")
        ax.plot(*X[:n_points].T, lw=0.3, label=label)
    ax.set_xlabel(axis_labels[0])
    ax.set_ylabel(axis_labels[1])
    ax.set_zlabel(axis_labels[2])
    if title:
        ax.set_title(title)
    ax.legend(loc="upper left")
    return ax


def plot_series(series, labels, *, dt=0.01, names=None, time_unit="time units",
                title=None):
    """Plot several multivariate time series ``(T, N)`` against time t = step × ``dt``, one
    panel per dimension (named by ``names``), the series overlaid with ``labels``.
    Returns the figure."""
    import matplotlib.pyplot as plt

    series = [np.asarray(s) for s in series]
    N = series[0].shape[1]
    names = names or [f"dimension {i + 1}" for i in range(N)]
    fig, axes = plt.subplots(N, 1, figsize=(10, 1.9 * N + 0.6), sharex=True, squeeze=False)
    for i, ax in enumerate(axes[:, 0]):
        for s, label in zip(series, labels):
            ax.plot(np.arange(len(s)) * dt, s[:, i], lw=1, label=label)
        ax.set_ylabel(names[i])
    axes[-1, 0].set_xlabel(f"time $t$ ({time_unit})")
    axes[0, 0].legend(loc="upper right", ncol=len(series))
    if title:
        axes[0, 0].set_title(title)
    fig.tight_layout()
    return fig


def plot_loss(loss, ax=None, *, window=50, title=None):
    """The training loss per update on a log scale, with its running mean over ``window``
    updates. Returns the axes."""
    import matplotlib.pyplot as plt

    loss = np.asarray(loss)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    ax.semilogy(loss, lw=0.4, alpha=0.5, color="tab:blue", label="per update")
    if len(loss) >= window:
        smooth = np.convolve(loss, np.ones(window) / window, mode="valid")
        ax.semilogy(np.arange(window - 1, len(loss)), smooth, color="tab:blue",
                    label=f"mean over {window} updates")
    ax.set_xlabel("update")
    ax.set_ylabel("MSE (standardised units$^2$)")
    if title:
        ax.set_title(title)
    ax.legend()
    return ax
