"""How good a reconstruction is: the figures by which the chapters judge a trained PLRNN.

A free run of the model against a test orbit, by the state-space divergence D_stsp and
the power-spectrum distance D_H (:mod:`course_utils.metrics`); the largest Lyapunov
exponent λ_max of the model's orbits (:mod:`course_utils.lyapunov`, per step or, with
``dt``, per time unit, natural log); and the long-term fate of many orbits
(:mod:`course_utils.attractors`), so that a λ_max averaged over orbits that leave the
chaotic set is never reported. Importing this module imports torch. Reference: M.
Brenner et al., "Tractable dendritic RNNs for reconstructing nonlinear dynamical
systems", ICML 2022 (D_stsp, D_H).
"""

from __future__ import annotations

import copy
import hashlib
import math
from collections import Counter

import numpy as np
import torch

from .attractors import orbit_fates
from .linearization import plrnn_fixed_points
from .lorenz import LORENZ_LYAPUNOV
from .lyapunov import max_lyapunov
from .metrics import power_spectrum_distance, state_space_divergence
from .models import ShallowPLRNN

__all__ = ["model_max_lyapunov", "free_run_distances", "FreeRunDistances",
           "evaluate_reconstruction"]


def model_max_lyapunov(model: ShallowPLRNN, z0, *, n_steps: int = 20_000,
                       transient: int = 1_000, dt: float = 1.0, show_progress: bool = False):
    """The largest Lyapunov exponent λ_max of a PLRNN along the orbits from the latent
    states ``z0`` (``(M,)`` or ``(B, M)``), by :func:`course_utils.lyapunov.max_lyapunov`
    with the analytic Jacobian, on a float64 copy of the model: a tensor of shape ``()`` or
    ``(B,)``, natural log, per step, or per time unit with ``dt``. ``n_steps`` steps are
    averaged after a discarded ``transient``; ``show_progress`` shows a progress bar.
    """
    model64 = copy.deepcopy(model).double()
    return max_lyapunov(model64, torch.as_tensor(z0, dtype=torch.float64), n_steps,
                        jacobian=model64.jacobian, transient=transient, dt=dt,
                        show_progress=show_progress)


def free_run_distances(model: ShallowPLRNN, x_test, *, n_generate: int = 10_000,
                       transient: int = 1_000) -> tuple[float, float]:
    """Return ``(D_stsp, D_H)``, how far a free run of the model is from the test orbit
    ``x_test`` (shape ``(T, N)``): an orbit from ``x_test[0]`` (the other units at zero), of
    which the first ``transient`` (default 1,000) steps are dropped and the next
    ``n_generate`` (default 10,000) compared with ``x_test[:n_generate]`` by
    :func:`course_utils.metrics.state_space_divergence` and
    :func:`course_utils.metrics.power_spectrum_distance`. Cheap enough to follow a training
    run with (``record=`` of :func:`course_utils.training.train_stf` and
    :func:`course_utils.training.train_gtf`); an orbit that is not finite gives (inf, inf).
    """
    x_test = torch.as_tensor(x_test, dtype=model.A.dtype, device=model.A.device)
    n_generate = min(n_generate, len(x_test))
    orbit = model.observe(model.generate(x_test[0], transient + n_generate)[transient:])
    return _distances(x_test, orbit)


class FreeRunDistances:
    """A record of training (``record=`` of :func:`course_utils.training.train_stf`,
    :func:`course_utils.training.train_gtf` and
    :func:`course_utils.reconstruction.trained_reconstruction`): called with a model, it
    returns :func:`free_run_distances` ``(D_stsp, D_H)`` of a free run against ``x_test``,
    with ``n_generate`` (default 10,000) and ``transient`` (default 1,000) steps. Its
    ``fingerprint`` names these settings and the SHA-256 hash of ``x_test``, so that a
    stored training run is reused only for the same measurement.
    """

    def __init__(self, x_test, *, n_generate: int = 10_000, transient: int = 1_000):
        self.x_test = torch.as_tensor(x_test)
        if self.x_test.ndim != 2:
            raise ValueError(f"x_test must have shape (T, N); got {tuple(self.x_test.shape)}")
        self.n_generate, self.transient = int(n_generate), int(transient)
        data = np.ascontiguousarray(self.x_test.detach().cpu().numpy())
        self.fingerprint = (f"FreeRunDistances(n_generate={self.n_generate}, "
                            f"transient={self.transient}, x_test={data.dtype}"
                            f"{list(data.shape)} sha256 "
                            f"{hashlib.sha256(data.tobytes()).hexdigest()})")

    def __call__(self, model: ShallowPLRNN) -> tuple[float, float]:
        return free_run_distances(model, self.x_test, n_generate=self.n_generate,
                                  transient=self.transient)


def _distances(x_test: torch.Tensor, orbit: torch.Tensor) -> tuple[float, float]:
    """(D_stsp, D_H) of generated read-outs ``orbit`` against ``x_test[:len(orbit)]``;
    (inf, inf) for an orbit that is not finite."""
    if not torch.isfinite(orbit).all():
        return math.inf, math.inf
    target, orbit = x_test[: len(orbit)].cpu().numpy(), orbit.cpu().numpy()
    return state_space_divergence(target, orbit), power_spectrum_distance(target, orbit)


def evaluate_reconstruction(model: ShallowPLRNN, x_test, *, dt: float = 0.01,
                            n_generate: int | None = None, transient: int = 1_000,
                            n_lyapunov: int = 20_000, n_orbits: int = 8, n_fates: int = 64,
                            horizon: int = 100_000, reference: float = LORENZ_LYAPUNOV[0]) -> dict:
    """The quality figures of a reconstruction against a clean test orbit ``x_test`` (shape
    ``(T, N)``), as a dict (below): a free-running orbit from ``x_test[0]`` (the other units
    at zero), of which the first ``transient`` steps are dropped and the next
    ``n_generate`` (default ``len(x_test)``) compared with ``x_test[:n_generate]`` by
    :func:`course_utils.metrics.state_space_divergence` and
    :func:`course_utils.metrics.power_spectrum_distance`; and the long-term behaviour of
    orbits started from states of that generated orbit: λ_max per time unit (divided by
    ``dt``) of ``n_orbits`` of them, each over ``n_lyapunov`` steps after ``transient``, and
    the fate after ``horizon`` steps of those and of more, ``n_fates`` orbits in all
    (:func:`course_utils.attractors.orbit_fates`: still chaotic, a fixed point, a cycle,
    ...; a fixed point is matched with the model's exact fixed points,
    :func:`course_utils.linearization.plrnn_fixed_points`). Following orbits is cheap
    (batched, no QR), and a leak of one orbit in ten per horizon slips past 8 orbits
    almost half the time (0.9⁸ ≈ 0.43) but past 64 about once in 850: hence more fates than
    exponents.

    ``lambda_max`` is the mean of the ``n_orbits`` exponents only when every one of the
    ``n_fates`` orbits is still chaotic after the horizon; otherwise it is NaN and
    ``verdict`` says why, e.g. "transient chaos: 6 of 64 orbits leave the chaotic set
    within 100,000 steps (5 to a stable fixed point, 1 to a cycle of period 4)", since an
    average over orbits that end on different sets describes none of them. Returns a dict
    with ``lambda_max``, ``lambda_max_rel_error`` (against ``reference``),
    ``lambda_per_orbit`` (NumPy, ``(n_orbits,)``), ``fates`` (the fate of each of those
    orbits, in words), ``n_fates`` and ``n_still_chaotic`` (of all orbits followed),
    ``all_chaotic``, ``verdict``, ``D_stsp``, ``D_H`` (both inf, and the verdict
    "diverged", for an orbit that is not finite) and ``generated`` (the read-outs,
    ``(n_generate, N)``).

    Defaults: ``dt = 0.01`` (time units per step), ``transient = 1000``,
    ``n_lyapunov = 20000``, ``n_orbits = 8``, ``n_fates = 64``, ``horizon = 100000`` and
    ``reference`` the largest exponent of Lorenz-63, ``LORENZ_LYAPUNOV[0]`` (about 0.906
    per time unit).
    """
    if not 1 <= n_orbits <= n_fates:
        raise ValueError(f"need 1 <= n_orbits <= n_fates (the orbits with an exponent are "
                         f"followed too); got n_orbits={n_orbits}, n_fates={n_fates}")
    x_test = torch.as_tensor(x_test, dtype=model.A.dtype, device=model.A.device)
    n_generate = len(x_test) if n_generate is None else n_generate
    Z = model.generate(x_test[0], transient + n_generate)[transient:]
    generated = model.observe(Z)
    n_followed = n_chaotic = 0
    if not torch.isfinite(Z).all():
        lam, per_orbit, fates, chaotic = math.nan, np.full(n_orbits, math.nan), [], False
        verdict = "diverged: the generated orbit is not finite"
    else:
        first = list(range(0, n_generate, max(1, n_generate // n_orbits)))[:n_orbits]
        more = [i for i in np.linspace(0, n_generate, n_fates, endpoint=False).astype(int)
                if i not in first][:n_fates - len(first)]
        per_orbit = model_max_lyapunov(model, Z[first], n_steps=n_lyapunov,
                                       transient=transient, dt=dt).cpu().numpy()
        fates, chaotic, verdict = _long_term(model, Z[first + more], per_orbit, Z,
                                             horizon=horizon, dt=dt)
        n_followed, n_chaotic = len(fates), sum(f == "still chaotic" for f in fates)
        fates = fates[:len(first)]
        lam = float(per_orbit.mean()) if chaotic else math.nan
    D_stsp, D_H = _distances(x_test, generated)
    return dict(lambda_max=lam, lambda_max_rel_error=abs(lam - reference) / reference,
                lambda_per_orbit=per_orbit, fates=fates,
                n_fates=n_followed, n_still_chaotic=n_chaotic,
                all_chaotic=chaotic, verdict=verdict, D_stsp=D_stsp, D_H=D_H,
                generated=generated)


def _long_term(model, starts, per_orbit, Z, *, horizon, dt, threshold=1e-3):
    """(fates, all_chaotic, verdict) of the orbits from ``starts`` after ``horizon`` steps;
    ``per_orbit`` the exponents at first of the first len(per_orbit) of them, ``Z`` a
    generated orbit (it seeds the search for the model's exact fixed points)."""
    model64 = copy.deepcopy(model).double()
    fates = orbit_fates(model64, starts.double(), horizon=horizon, jacobian=model64.jacobian,
                        dt=dt, threshold=threshold)
    described = [fates.describe(b) for b in range(len(fates.kind))]
    if "fixed point" in fates.kind:                     # which one, with chapter 07's tool
        ends = fates.end[[k == "fixed point" for k in fates.kind]]
        exact = plrnn_fixed_points(model64, orbit=torch.cat([Z.double(), ends]))
        for b, kind in enumerate(fates.kind):
            if kind == "fixed point" and len(exact):
                k = int(torch.linalg.vector_norm(exact.points - fates.end[b], dim=-1).argmin())
                modulus = float(exact.eigenvalues[k].abs().max())
                described[b] = (f"a {'stable' if modulus < 1 else 'unstable'} fixed point "
                                f"(exact fixed point {k}, largest |eigenvalue| {modulus:.3f})")
    if fates.all_chaotic:
        return described, True, (f"chaotic: all {len(described)} orbits are still chaotic "
                                 f"after {horizon:,} steps")
    left = [b for b, k in enumerate(fates.kind) if k != "chaotic"]
    where = ", ".join(f"{n} to {d}" for d, n in Counter(described[b] for b in left).items())
    n, k = len(described), len(left)
    # chaotic at first, not at the end (an orbit without an exponent of its own started on
    # the same generated orbit: chaotic at first if any measured orbit was)
    at_first = [per_orbit[b] > threshold if b < len(per_orbit) else np.any(per_orbit > threshold)
                for b in left]
    if any(at_first):
        verdict = (f"transient chaos: {k} of {n} orbits leave the chaotic set within "
                   f"{horizon:,} steps ({where})")
    elif k < n:
        verdict = (f"not all orbits chaotic: {k} of {n} orbits were never chaotic; after "
                   f"{horizon:,} steps they go {where}")
    else:
        verdict = f"not chaotic: after {horizon:,} steps the orbits go {where}"
    return described, False, verdict
