"""The Lorenz-63 system and its fourth-order Runge-Kutta step, for NumPy arrays and
PyTorch tensors alike.

    dx/dt = sigma (y - x),    dy/dt = x (rho - z) - y,    dz/dt = x y - beta z

With the classical parameters sigma = 10, rho = 28, beta = 8/3 the flow has a strange
attractor whose Lyapunov exponents are 0.9056, 0 and -14.5723 per time unit (natural log);
their sum is the divergence of the vector field, -(sigma + 1 + beta), at every point.
A flow enters the Lyapunov toolkit as its integrator step: :func:`rk4_step` is the map
z_t -> z_{t+dt}, and :func:`rk4_step_jacobian` its exact Jacobian (the derivative of the
RK4 formula itself, not of the flow).

References: E. N. Lorenz, "Deterministic nonperiodic flow", J. Atmos. Sci. 20, 130-141
(1963); exponents from J. C. Sprott, "Chaos and Time-Series Analysis" (Oxford, 2003).
Every function works on a NumPy array or on a torch tensor of shape ``(..., 3)`` and
returns the same kind; nothing here imports torch.
"""

from __future__ import annotations

import numpy as np

__all__ = ["LORENZ_SIGMA", "LORENZ_RHO", "LORENZ_BETA", "LORENZ_LYAPUNOV", "lorenz63",
           "lorenz63_jacobian", "rk4_step", "rk4_step_jacobian", "lorenz63_rk4_step",
           "lorenz63_rk4_jacobian"]

LORENZ_SIGMA, LORENZ_RHO, LORENZ_BETA = 10.0, 28.0, 8.0 / 3.0
#: Lyapunov exponents of Lorenz-63 at (10, 28, 8/3), per time unit, natural log.
LORENZ_LYAPUNOV = (0.9056, 0.0, -14.5723)


def _is_torch(a) -> bool:
    return type(a).__module__.startswith("torch")


def _stack(parts, like):
    """Stack along a new last axis with the library of ``like``."""
    if _is_torch(like):
        import torch

        return torch.stack(parts, dim=-1)
    return np.stack(parts, axis=-1)


def _eye_like(z, d: int):
    if _is_torch(z):
        import torch

        return torch.eye(d, dtype=z.dtype, device=z.device)
    return np.eye(d)


def _check(z, name: str = "z"):
    if z.ndim == 0 or z.shape[-1] != 3:
        raise ValueError(f"{name} must have shape (3,) or (..., 3) holding (x, y, z); "
                         f"got shape {tuple(z.shape)}")
    return z


def lorenz63(z, sigma: float = LORENZ_SIGMA, rho: float = LORENZ_RHO,
             beta: float = LORENZ_BETA):
    """The Lorenz-63 vector field dz/dt at the states ``z`` (shape ``(..., 3)``), in units
    of 1/time; the parameters ``sigma, rho, beta`` are (10, 28, 8/3) by default.
    """
    z = _check(z if _is_torch(z) else np.asarray(z, dtype=np.float64))
    x, y, w = z[..., 0], z[..., 1], z[..., 2]
    return _stack([sigma * (y - x), x * (rho - w) - y, x * y - beta * w], z)


def lorenz63_jacobian(z, sigma: float = LORENZ_SIGMA, rho: float = LORENZ_RHO,
                      beta: float = LORENZ_BETA):
    """The Jacobian of the vector field, ``Df[..., i, j] = d f_i / d z_j``, shape
    ``(..., 3, 3)``, with the parameters ``sigma, rho, beta`` of :func:`lorenz63`. Its trace
    is -(sigma + 1 + beta) everywhere.
    """
    z = _check(z if _is_torch(z) else np.asarray(z, dtype=np.float64))
    x, y, w = z[..., 0], z[..., 1], z[..., 2]
    one, zero = x * 0 + 1, x * 0
    rows = [_stack([-sigma * one, sigma * one, zero], z),
            _stack([rho - w, -one, -x], z),
            _stack([y, x, -beta * one], z)]
    if _is_torch(z):
        import torch

        return torch.stack(rows, dim=-2)
    return np.stack(rows, axis=-2)


def rk4_step(field, z, dt: float):
    """One classical fourth-order Runge-Kutta step of dz/dt = field(z) with step ``dt``
    (time units): z_next = z + dt/6 (k1 + 2 k2 + 2 k3 + k4).
    """
    k1 = field(z)
    k2 = field(z + 0.5 * dt * k1)
    k3 = field(z + 0.5 * dt * k2)
    k4 = field(z + dt * k3)
    return z + (dt / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


def rk4_step_jacobian(field, field_jacobian, z, dt: float):
    """The exact Jacobian of the map :func:`rk4_step`, ``J = d z_next / d z`` at the state
    ``z`` before the step (``field_jacobian(z)`` is Df(z)), by the chain rule through the
    four stages: with K_1 = Df(z), K_2 = Df(z + dt/2 k_1) (I + dt/2 K_1),
    K_3 = Df(z + dt/2 k_2) (I + dt/2 K_2), K_4 = Df(z + dt k_3) (I + dt K_3), the Jacobian
    is I + dt/6 (K_1 + 2 K_2 + 2 K_3 + K_4). Shape ``(..., d, d)``.
    """
    identity = _eye_like(z, z.shape[-1])
    k1 = field(z)
    K1 = field_jacobian(z)
    z2 = z + 0.5 * dt * k1
    k2 = field(z2)
    K2 = field_jacobian(z2) @ (identity + 0.5 * dt * K1)
    z3 = z + 0.5 * dt * k2
    k3 = field(z3)
    K3 = field_jacobian(z3) @ (identity + 0.5 * dt * K2)
    K4 = field_jacobian(z + dt * k3) @ (identity + dt * K3)
    return identity + (dt / 6.0) * (K1 + 2.0 * K2 + 2.0 * K3 + K4)


def lorenz63_rk4_step(z, dt: float = 0.01):
    """One RK4 step z_next of Lorenz-63 at (10, 28, 8/3), with step ``dt`` (time units,
    default 0.01)."""
    return rk4_step(lorenz63, z, dt)


def lorenz63_rk4_jacobian(z, dt: float = 0.01):
    """The Jacobian J of :func:`lorenz63_rk4_step` at the state ``z`` before the step, shape
    ``(..., 3, 3)``."""
    return rk4_step_jacobian(lorenz63, lorenz63_jacobian, z, dt)
