"""Lyapunov exponents by the QR (Benettin) method.

This module starts with the NumPy estimator from a given sequence of Jacobians, which the
Henon notebook and the student checks use. It imports neither TensorFlow nor PyTorch.
"""

from __future__ import annotations

import numpy as np

__all__ = ["lyapunov_from_jacobians"]


def lyapunov_from_jacobians(jacobians, *, transient: int = 0, dt: float = 1.0,
                            return_history: bool = False):
    """lyapunov_from_jacobians(jacobians; transient=0, dt=1.0, return_history=False) -> λ

    The Lyapunov spectrum from the Jacobians J_1, ..., J_T of a map along one orbit (shape
    ``(T, d, d)``) or along a batch of orbits (shape ``(B, T, d, d)``), by repeated QR
    re-orthonormalisation: with Q_0 = I and J_t Q_{t-1} = Q_t R_t,

        λ_i = 1 / (T' dt) * Σ_t ln |(R_t)_ii|,

    summed over the steps after the ``transient``; T' is the number of steps summed.
    The first ``transient`` steps only evolve Q (they align it with the dynamics) and are
    not counted. The exponents come sorted in descending order, in natural log per step,
    or per time unit when ``dt`` (the time between two Jacobians) is given.

    Keyword arguments
    * ``transient = 0``: Jacobians used for aligning Q and excluded from the average.
    * ``dt = 1.0``: time per step; exponents are divided by it.
    * ``return_history = False``: also return the running estimate after each counted
      step, shape ``(T', d)`` (or ``(B, T', d)``), for convergence plots.

    Reference: G. Benettin, L. Galgani, A. Giorgilli, J.-M. Strelcyn, "Lyapunov
    characteristic exponents for smooth dynamical systems and for Hamiltonian systems;
    a method for computing all of them", Meccanica 15, 9-30 (1980).
    """
    J = np.asarray(jacobians, dtype=np.float64)
    if J.ndim not in (3, 4) or J.shape[-1] != J.shape[-2]:
        raise ValueError(f"jacobians must have shape (T, d, d) or (B, T, d, d); "
                         f"got shape {J.shape}")
    batched = J.ndim == 4
    if not batched:
        J = J[None]
    B, T, d, _ = J.shape
    if not 0 <= transient < T:
        raise ValueError(f"transient must be in 0..{T - 1} for {T} Jacobians; got {transient}")
    if not np.all(np.isfinite(J)):
        step = int(np.argmax(~np.isfinite(J).all(axis=(0, 2, 3))))
        raise ValueError(f"jacobians contain non-finite values (first at step {step})")

    Q = np.broadcast_to(np.eye(d), (B, d, d)).copy()
    log_r = np.zeros((B, T - transient, d))
    for t in range(T):
        Q, R = np.linalg.qr(J[:, t] @ Q)
        if t >= transient:
            log_r[:, t - transient] = np.log(np.abs(np.diagonal(R, axis1=-2, axis2=-1)))
    running = np.cumsum(log_r, axis=1) / (np.arange(1, T - transient + 1)[:, None] * dt)
    order = np.argsort(-running[:, -1], axis=-1)  # descending by the final estimate
    running = np.take_along_axis(running, order[:, None, :], axis=-1)
    exponents = running[:, -1]
    if not batched:
        exponents, running = exponents[0], running[0]
    return (exponents, running) if return_history else exponents
