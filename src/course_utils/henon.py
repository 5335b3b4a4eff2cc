"""The Henon map, in NumPy: the reference that the Keras notebook and its checks use.

    x_{t+1} = 1 - a x_t^2 + y_t,    y_{t+1} = b x_t

With the classical parameters a = 1.4, b = 0.3 the orbit settles on a strange attractor
whose Lyapunov exponents are 0.41922 and -1.62319 per step (natural log); their sum is
ln|det J| = ln b = ln 0.3 exactly, because the Jacobian's determinant is -b everywhere.
Reference: M. Henon, "A two-dimensional mapping with a strange attractor",
Commun. Math. Phys. 50, 69-77 (1976).
"""

from __future__ import annotations

import numpy as np

__all__ = ["HENON_A", "HENON_B", "HENON_LYAPUNOV", "henon_map", "henon_jacobian",
           "henon_orbit"]

HENON_A = 1.4
HENON_B = 0.3
#: Lyapunov exponents of the classical Henon map, per step, natural log.
HENON_LYAPUNOV = (0.41922, -1.62319)


def _states(z, name: str = "z") -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    if z.ndim == 0 or z.shape[-1] != 2:
        raise ValueError(f"{name} must have shape (2,) or (..., 2); got shape {z.shape}")
    return z


def henon_map(z, a: float = HENON_A, b: float = HENON_B) -> np.ndarray:
    """One step of the Henon map for states ``z`` of shape ``(2,)`` or ``(..., 2)`` holding
    ``(x, y)``: ``(1 - a x^2 + y, b x)``. Returns an array of the same shape (float64).
    """
    z = _states(z)
    x, y = z[..., 0], z[..., 1]
    return np.stack([1.0 - a * x * x + y, b * x], axis=-1)


def henon_jacobian(z, a: float = HENON_A, b: float = HENON_B) -> np.ndarray:
    """The Jacobian ``J`` of the Henon map at the states ``z`` (shape ``(..., 2)``),
    evaluated at the state *before* the step: ``[[-2 a x, 1], [b, 0]]``, shape
    ``(..., 2, 2)``.
    """
    z = _states(z)
    J = np.zeros(z.shape[:-1] + (2, 2))
    J[..., 0, 0] = -2.0 * a * z[..., 0]
    J[..., 0, 1] = 1.0
    J[..., 1, 0] = b
    return J


def henon_orbit(z0, n_steps: int, a: float = HENON_A, b: float = HENON_B,
                transient: int = 0) -> np.ndarray:
    """Iterate the map from ``z0`` (shape ``(2,)`` or ``(B, 2)``), discard ``transient``
    steps, and return the next ``n_steps`` states, shape ``(n_steps, 2)`` or
    ``(B, n_steps, 2)``. The first returned state is the one after the transient (``z0``
    itself when ``transient == 0``).
    """
    if n_steps < 1 or transient < 0:
        raise ValueError(f"need n_steps >= 1 and transient >= 0; got n_steps={n_steps}, "
                         f"transient={transient}")
    z = _states(z0, "z0").copy()
    out = np.empty((n_steps,) + z.shape)
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging orbit is reported below
        for _ in range(transient):
            z = henon_map(z, a, b)
        for t in range(n_steps):
            out[t] = z
            z = henon_map(z, a, b)
    if not np.all(np.isfinite(out)):
        first = int(np.argmax(~np.all(np.isfinite(out.reshape(n_steps, -1)), axis=1)))
        raise FloatingPointError(f"the orbit from z0={np.asarray(z0).tolist()} diverged at "
                                 f"step {first}: start inside the basin of the attractor")
    return np.moveaxis(out, 0, -2)
