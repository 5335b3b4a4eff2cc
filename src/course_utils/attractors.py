"""Where orbits go in the long run: a chaotic set, a fixed point, a cycle, or infinity.

A reconstruction can look right for thousands of steps and still be wrong in the long
run: its chaos may be *transient*, a chaotic saddle that orbits leave after a while for a
stable fixed point or cycle. Averaging Lyapunov exponents over such orbits gives a
number ("λ_max = 0.67") that describes no orbit at all. :func:`orbit_fates` follows each
orbit for a long horizon and says what it does at the end, so that a transient can be
told from an attractor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = ["OrbitFates", "orbit_fates"]


@dataclass
class OrbitFates:
    """What each orbit of :func:`orbit_fates` does after the horizon.

    ``kind[b]`` is ``"chaotic"``, ``"fixed point"``, ``"cycle"``, ``"diverged"`` or
    ``"quasi-periodic"`` (no period up to ``max_period`` and λ_max ≤ threshold: a torus,
    a very long cycle, or a very slow approach); ``period[b]`` the cycle's period (1 for a
    fixed point, 0 otherwise); ``lambda_end[b]`` λ_max over the window after the horizon
    (per time unit with ``dt``; NaN for a diverged orbit); ``end`` the states after the
    horizon, ``(B, d)``; ``horizon`` the number of steps followed.
    """

    kind: list[str]
    period: list[int]
    lambda_end: torch.Tensor
    end: torch.Tensor
    horizon: int

    @property
    def all_chaotic(self) -> bool:
        """True when every orbit is still chaotic after the horizon."""
        return all(k == "chaotic" for k in self.kind)

    def describe(self, b: int) -> str:
        """One orbit's fate in words, e.g. "a cycle of period 4"."""
        kind = self.kind[b]
        if kind == "cycle":
            return f"a cycle of period {self.period[b]}"
        return {"chaotic": "still chaotic", "fixed point": "a fixed point",
                "diverged": "infinity (diverged)",
                "quasi-periodic": "quasi-periodic (no period found, lambda_max <= 0)"}[kind]


def orbit_fates(f, z0, *, horizon: int = 100_000, window: int = 5_000, jacobian=None,
                dt: float = 1.0, threshold: float = 1e-3, max_period: int = 64,
                tol: float = 1e-9, bound: float = 1e6, show_progress: bool = False,
                dtype="float64") -> OrbitFates:
    """Follow the orbits of the map z_{t+1} = f(z_t) from ``z0`` (``(d,)`` or ``(B, d)``)
    for ``horizon`` steps and classify each by what it does next; return an
    :class:`OrbitFates`. The fates, in the order they are tested:

    * **diverged**: a state not finite, or larger than ``bound`` (max norm);
    * **fixed point** / **cycle**: the smallest period p ≤ ``max_period`` with
      ‖z_{h+p} − z_h‖_∞ ≤ ``tol`` (1 + ‖z_h‖_∞), looked for over the ``max_period`` steps
      after the horizon h;
    * **chaotic**: λ_max over the ``window`` steps after the horizon (by
      :func:`course_utils.lyapunov.max_lyapunov`, per time unit with ``dt``) is above
      ``threshold``;
    * **quasi-periodic**: none of these.

    An orbit still chaotic after a long horizon is on (or very near) a chaotic attractor;
    one that is chaotic at first and then ends on a fixed point or cycle shows *transient
    chaos*. The computation is batched over the orbits, in ``dtype`` (float64) on the
    device of ``f``'s parameters or of ``z0``, without gradients.

    Keyword arguments

    * ``horizon = 100_000``: steps followed before the fate is judged.
    * ``window = 5_000``: steps of the λ_max estimate after the horizon.
    * ``jacobian = None``: an analytic ``jacobian(z) -> (B, d, d)`` for λ_max.
    * ``dt = 1.0``: time per step (λ_max per time unit).
    * ``threshold = 1e-3``: λ_max above it counts as chaotic (same unit as λ_max).
    * ``max_period = 64``, ``tol = 1e-9``: the longest cycle looked for, and the relative
      tolerance of a return.
    * ``bound = 1e6``: a state beyond it counts as diverged.
    * ``show_progress = False``: a progress bar over the horizon.
    * ``dtype = "float64"``: the floating-point type of the computation.

    Reference: Y.-C. Lai, T. Tél, *Transient Chaos: Complex Dynamics on Finite-Time
    Scales*, Applied Mathematical Sciences 173, Springer (2011), chapter 1.
    """
    from .lyapunov import initial_states, max_lyapunov
    from .runtime import progress

    for name, value in (("horizon", horizon), ("window", window), ("max_period", max_period)):
        if value < 1:
            raise ValueError(f"{name} must be >= 1; got {value}")
    z, _ = initial_states(f, z0, dtype)
    steps = progress(range(horizon), desc="following orbits", disable=not show_progress)
    with torch.no_grad():
        for _ in steps:
            z = f(z)
        end = z.clone()
        after = [end]
        for _ in range(max_period):
            z = f(z)
            after.append(z)
    after = torch.stack(after, dim=1)                                  # (B, 1 + P, d)
    size = end.abs().amax(dim=-1)
    diverged = ~torch.isfinite(after).all(dim=(1, 2)) | (after.abs().amax(dim=(1, 2)) > bound)
    returns = (after[:, 1:] - end[:, None]).abs().amax(dim=-1) <= tol * (1 + size[:, None])
    period = torch.where(returns.any(dim=1), returns.int().argmax(dim=1) + 1, 0)
    lam = torch.full((len(end),), math.nan, dtype=end.dtype, device=end.device)
    alive = ~diverged
    if alive.any():
        lam[alive] = max_lyapunov(f, end[alive], window, jacobian=jacobian, dt=dt, dtype=dtype)
    kind, periods = [], []
    for b in range(len(end)):
        p = 0 if diverged[b] else int(period[b])
        if diverged[b]:
            kind.append("diverged")
        elif p == 1:
            kind.append("fixed point")
        elif p > 1:
            kind.append("cycle")
        elif lam[b] > threshold:
            kind.append("chaotic")
        else:
            kind.append("quasi-periodic")
        periods.append(p)
    return OrbitFates(kind=kind, period=periods, lambda_end=lam, end=end, horizon=horizon)
