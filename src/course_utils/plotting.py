"""Figures shared by the notebooks: labelled axes, units in the labels."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_orbit_2d", "plot_running_exponents"]


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
