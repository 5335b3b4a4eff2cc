"""Lyapunov exponents by the QR (Benettin) method: the course's measuring stick.

* :func:`lyapunov_spectrum` and :func:`max_lyapunov` iterate a map (or a flow's integrator
  step) in PyTorch, batched over orbits, with Jacobians from autograd or given
  analytically;
* :func:`naive_product_log_norms` and :func:`predicted_overflow_step` show why the plain
  Jacobian product fails on a chaotic orbit;
* :func:`kaplan_yorke_dimension` turns a spectrum into a dimension;
* :func:`lyapunov_from_jacobians` is the NumPy estimator from stored Jacobians, which the
  Henon notebook and the student checks use.

Exponents are in natural log, per step of the map, or per time unit when ``dt`` is given.
PyTorch is imported only when a PyTorch function runs; TensorFlow never (the Keras
counterpart is :mod:`course_utils.keras_lyapunov`).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from .runtime import progress

__all__ = ["lyapunov_spectrum", "max_lyapunov", "naive_product_log_norms",
           "predicted_overflow_step", "kaplan_yorke_dimension", "lyapunov_from_jacobians",
           "warn_if_reortho_too_sparse", "sort_by_final_estimate", "initial_states"]


def _float_name(dtype) -> str:
    """"float16", "float32" or "float64" for a NumPy or torch dtype or such a name."""
    name = str(dtype).replace("torch.", "")
    try:
        name = np.dtype(name).name
    except TypeError as err:
        raise ValueError(f"dtype must be a floating type; got {dtype!r}") from err
    if name not in ("float16", "float32", "float64"):
        raise ValueError(f"dtype must be a floating type; got {dtype!r}")
    return name


def _as_numpy(values) -> np.ndarray:
    """A float64 NumPy array from a NumPy array, a list or a (possibly tracked) tensor."""
    if hasattr(values, "detach"):
        values = values.detach().cpu()
    return np.asarray(values, dtype=np.float64)


def sort_by_final_estimate(running: np.ndarray):
    """Sort running estimates ``(B, T', k)`` by their last row, descending, per batch
    entry; return ``(exponents (B, k), running)`` with the columns in that order."""
    order = np.argsort(-running[:, -1], axis=-1)
    running = np.take_along_axis(running, order[:, None, :], axis=-1)
    return running[:, -1], running


def lyapunov_from_jacobians(jacobians, *, transient: int = 0, dt: float = 1.0,
                            return_history: bool = False):
    """The Lyapunov spectrum λ from the Jacobians J_1, ..., J_T of a map along one orbit
    (shape ``(T, d, d)``) or along a batch of orbits (shape ``(B, T, d, d)``), by repeated
    QR re-orthonormalisation: with Q_0 = I and J_t Q_{t-1} = Q_t R_t::

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
    exponents, running = sort_by_final_estimate(running)
    if not batched:
        exponents, running = exponents[0], running[0]
    return (exponents, running) if return_history else exponents


# --------------------------------------------------------------------------------------
# PyTorch: iterate a map and its tangent dynamics
# --------------------------------------------------------------------------------------

def _torch_dtype(dtype):
    """A torch dtype from a torch dtype, a NumPy dtype or a name such as "float32"."""
    import torch

    return dtype if isinstance(dtype, torch.dtype) else getattr(torch, _float_name(dtype))


def initial_states(f, z0, dtype):
    """The initial states ``z0`` (shape ``(d,)`` or ``(B, d)``) of orbits of ``f``, checked
    and as a ``(B, d)`` tensor of ``dtype`` on the device of f's parameters (that of z0
    when f is not a module with parameters); returns ``(z, batched)``. Raises ValueError
    for a wrong shape, non-finite values, or a dtype other than the model's."""
    import torch

    z = torch.as_tensor(z0).to(_torch_dtype(dtype))
    params = list(f.parameters()) if isinstance(f, torch.nn.Module) else []
    if params:
        z = z.to(params[0].device)
    if z.ndim not in (1, 2) or z.shape[-1] < 1:
        raise ValueError(f"z0 must have shape (d,) or (B, d); got shape {tuple(z.shape)}")
    batched = z.ndim == 2
    z = z if batched else z[None]
    if not torch.isfinite(z).all():
        raise ValueError("z0 contains non-finite values")
    if params and params[0].dtype != z.dtype:
        raise ValueError(f"the model's parameters are {params[0].dtype} but the states are "
                         f"{z.dtype}: convert the model (model.double() for float64) or pass "
                         f"dtype={params[0].dtype}")
    with torch.no_grad():
        try:
            out = f(z)
        except RuntimeError as err:  # e.g. a matrix product with the wrong inner size
            raise ValueError(f"f cannot be applied to the states z0 of shape "
                             f"{tuple(z.shape)} (batch, d={z.shape[-1]}): {err}") from err
    if not isinstance(out, torch.Tensor) or out.shape != z.shape:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"f must map a batch of states (B, d) to (B, d); for z0 of shape "
                         f"{tuple(z.shape)} it returned {shape}: z0 and f disagree on d")
    if out.dtype != z.dtype:
        raise ValueError(f"f returned {out.dtype} for {z.dtype} states: convert the model "
                         f"(e.g. model.double()) or pass dtype={out.dtype}")
    return z, batched


def _step_and_jacobian(f, jacobian):
    """A function z -> (f(z), J(z)) for a batch of states, J of shape (B, d, d)."""
    if jacobian is not None:
        return lambda z: (f(z), jacobian(z))
    from torch.func import jacrev, vmap

    def single(z):  # one state (d,) -> f(z) (d,), with f(z) as auxiliary output
        out = f(z[None])[0]
        return out, out

    batched = vmap(jacrev(single, has_aux=True))

    def step(z):
        J, out = batched(z)
        return out, J

    return step


def _steps(n: int, show_progress: bool, desc: str):
    """The steps ``range(n)``, with a progress bar when asked for (silent in CI all the
    same)."""
    return progress(range(n), desc=desc) if show_progress else range(n)


def _raise_non_finite(what: str, t: int, transient: int):
    phase = "transient step" if t < transient else "step"
    raise FloatingPointError(
        f"the {what} became non-finite at {phase} {t if t < transient else t - transient} "
        f"(step {t} counting from z0): the orbit diverges, or the map is not defined there")


def lyapunov_spectrum(f, z0, n_steps: int, *, k: int | None = None, jacobian=None,
                      transient: int = 0, reortho_every: int = 1, dt: float = 1.0,
                      return_history: bool = False, show_progress: bool = False,
                      dtype="float64"):
    """The ``k`` largest Lyapunov exponents λ of the map z_{t+1} = f(z_t) along the orbits
    starting at ``z0``, by the QR method: a frame Q_0 (the first k columns of the identity)
    is carried along by the Jacobians J_t = ∂f/∂z(z_t), evaluated at the state before each
    step, and re-orthonormalised, J_t Q_t = Q_{t+1} R_{t+1}; then::

        λ_i = 1 / (n_steps dt) * Σ_t ln |(R_t)_ii|.

    ``f`` maps a batch of states ``(B, d) -> (B, d)`` (row by row); ``z0`` is ``(d,)`` or
    ``(B, d)``, and the result has shape ``(k,)`` or ``(B, k)``, sorted in descending
    order, a torch tensor. It is computed on the device of ``f``'s parameters when ``f``
    is a module that has some (``z0`` is moved there), else on that of ``z0``, and the
    result stays on it: a GPU helps with large batches of orbits. A flow enters as its
    integrator step (e.g. an RK4 step of length ``dt``); pass that ``dt`` to get exponents
    per time unit.

    Keyword arguments

    * ``k = None``: how many exponents (1..d); None gives all d.
    * ``jacobian = None``: an analytic ``jacobian(z) -> (B, d, d)`` at a batch of states.
      Without it the Jacobians come from autograd, batched with ``torch.func.vmap`` of
      ``torch.func.jacrev``.
    * ``transient = 0``: steps run first that evolve both the state and the frame (aligning
      it with the dynamics) but are not averaged; then ``n_steps`` steps are averaged.
    * ``reortho_every = 1``: steps between two QR factorisations; the Jacobians in between
      are multiplied onto the frame. Larger values save QRs but lose the weak directions
      in rounding once m (λ_1 - λ_k) exceeds about ln(1/eps)/2 (m = reortho_every, eps the
      dtype's machine epsilon); a warning says so after the run.
    * ``dt = 1.0``: time per step; the exponents are divided by it.
    * ``return_history = False``: also return the running estimate after every QR of the
      averaged phase, shape ``(n_qr, k)`` or ``(B, n_qr, k)`` (``n_qr = n_steps`` when
      ``reortho_every = 1``), with the columns in the order of the result.
    * ``show_progress = False``: a progress bar over the steps (silent when ``CI`` is set).
    * ``dtype = "float64"``: the precision of states, Jacobians and QR; ``f`` must
      compute in it.

    Raises ``ValueError`` for a ``z0`` that ``f`` does not accept, ``k`` outside 1..d or a
    negative ``transient``, and ``FloatingPointError`` (naming the step) when the state or
    a Jacobian becomes non-finite.

    Reference: G. Benettin, L. Galgani, A. Giorgilli, J.-M. Strelcyn, Meccanica 15, 9-30
    (1980); the interface follows ``lyapunovspectrum`` of ChaosTools.jl.
    """
    import torch

    z, batched = initial_states(f, z0, dtype)
    B, d = z.shape
    k = d if k is None else k
    if not 1 <= k <= d:
        raise ValueError(f"k must be in 1..{d} for states of dimension d={d}; got k={k}")
    if n_steps < 1 or transient < 0 or reortho_every < 1:
        raise ValueError(f"need n_steps >= 1, transient >= 0 and reortho_every >= 1; got "
                         f"n_steps={n_steps}, transient={transient}, "
                         f"reortho_every={reortho_every}")
    step = _step_and_jacobian(f, jacobian)
    Q = torch.eye(d, k, dtype=z.dtype, device=z.device).expand(B, d, k).clone()
    log_sum = torch.zeros(B, k, dtype=z.dtype, device=z.device)
    history, n_total = [], transient + n_steps
    with torch.no_grad():
        for t in _steps(n_total, show_progress, "Lyapunov spectrum"):
            z_next, J = step(z)
            if t == 0 and J.shape != (B, d, d):
                raise ValueError(f"jacobian must return shape (B, d, d) = {(B, d, d)}; "
                                 f"got {tuple(J.shape)}")
            if not torch.isfinite(z_next).all():
                _raise_non_finite("state", t, transient)
            Q = J @ Q
            z = z_next
            # A QR at the end of each block of reortho_every steps and at the end of each
            # phase, so that the transient never leaks into the average.
            phase_step = t + 1 - (transient if t >= transient else 0)
            if phase_step % reortho_every == 0 or t + 1 in (transient, n_total):
                Q, R = torch.linalg.qr(Q)
                log_r = torch.log(torch.abs(torch.diagonal(R, dim1=-2, dim2=-1)))
                if not (log_r < math.inf).all():  # NaN or +inf; -inf is a true exponent
                    if not torch.isfinite(J).all():
                        _raise_non_finite("Jacobian", t, transient)
                    raise FloatingPointError(
                        f"the product of the Jacobians of {reortho_every} steps overflowed "
                        f"by step {t}: re-orthonormalise more often (reortho_every)")
                if t >= transient:
                    log_sum += log_r
                    if return_history:
                        history.append(log_sum / ((t + 1 - transient) * dt))
    exponents = log_sum / (n_steps * dt)
    order = torch.argsort(exponents, dim=-1, descending=True)
    exponents = torch.gather(exponents, -1, order)
    warn_if_reortho_too_sparse(exponents * dt, reortho_every, z.dtype)
    if return_history:
        running = torch.gather(torch.stack(history, dim=1), -1,
                               order[:, None, :].expand(B, len(history), k))
        return (exponents, running) if batched else (exponents[0], running[0])
    return exponents if batched else exponents[0]


def warn_if_reortho_too_sparse(exponents_per_step, reortho_every: int, dtype) -> bool:
    """Warn (``RuntimeWarning``) when the QR frame was re-orthonormalised too rarely for the
    precision: between two QRs the directions' stretchings differ by
    exp(m (λ_1 - λ_k)) with m = ``reortho_every``, and once that exceeds about
    1/sqrt(eps) the weakest directions lose half their digits. The rule of thumb is
    m <= ln(1/eps) / (2 (λ_1 - λ_k)), with the exponents per step, sorted descending
    (shape ``(k,)`` or ``(B, k)``) and eps the machine epsilon of ``dtype`` (a NumPy or
    torch dtype or its name). Returns whether it warned.
    """
    lam = _as_numpy(exponents_per_step)
    if reortho_every == 1 or lam.shape[-1] < 2:
        return False
    spread = float(np.max(lam[..., 0] - lam[..., -1]))
    name = _float_name(dtype)
    budget = 0.5 * math.log(1.0 / float(np.finfo(name).eps))
    if not reortho_every * spread > budget:
        return False
    warnings.warn(
        f"reortho_every={reortho_every} is too large for {name}: the exponents span "
        f"λ_1 - λ_k = {spread:.3g} per step, so between two QRs the directions' stretchings "
        f"differ by e^{reortho_every * spread:.0f} and the weakest are lost in rounding. "
        f"Rule of thumb: reortho_every <= ln(1/eps)/(2 (λ_1 - λ_k)) = "
        f"{max(1, int(budget / spread))} here", RuntimeWarning, stacklevel=3)
    return True


def max_lyapunov(f, z0, n_steps: int, *, jacobian=None, transient: int = 0,
                 dt: float = 1.0, v0=None, seed: int = 0, return_history: bool = False,
                 show_progress: bool = False, dtype="float64"):
    """The largest Lyapunov exponent λ_1 of the map z_{t+1} = f(z_t) along the orbits from
    ``z0``, by repeated renormalisation of one tangent vector:
    v_{t+1} = J_t v_t / ||J_t v_t||, and::

        λ_1 = 1 / (n_steps dt) * Σ_t ln ||J_t v_t||.

    This is the QR method with k = 1, and cheaper than :func:`lyapunov_spectrum`: without
    an analytic ``jacobian`` the product J_t v_t comes from one forward-mode pass
    (``torch.func.jvp``), without forming J_t. ``z0`` is ``(d,)`` or ``(B, d)``; the
    result is a scalar tensor or shape ``(B,)``; natural log per step, or per time unit
    with ``dt``. On the device of ``f``'s parameters or of ``z0``, as
    :func:`lyapunov_spectrum`.

    Keyword arguments

    * ``jacobian = None``: an analytic ``jacobian(z) -> (B, d, d)``.
    * ``transient = 0``: steps that evolve the state and v but are not averaged.
    * ``dt = 1.0``: time per step; the exponent is divided by it.
    * ``v0 = None``: the initial tangent vector(s), ``(d,)`` or ``(B, d)``; by default a
      random unit vector drawn with ``seed`` (default 0).
    * ``return_history = False``: also return the running estimate after every averaged
      step, shape ``(n_steps,)`` or ``(B, n_steps)``.
    * ``show_progress``, ``dtype``: as in :func:`lyapunov_spectrum`.

    Reference: G. Benettin, L. Galgani, J.-M. Strelcyn, Phys. Rev. A 14, 2338 (1976).
    """
    import torch

    z, batched = initial_states(f, z0, dtype)
    B, d = z.shape
    if n_steps < 1 or transient < 0:
        raise ValueError(f"need n_steps >= 1 and transient >= 0; got n_steps={n_steps}, "
                         f"transient={transient}")
    if v0 is None:
        g = torch.Generator().manual_seed(seed)
        v = torch.randn(B, d, generator=g, dtype=torch.float64).to(z.device, z.dtype)
    else:
        v = torch.as_tensor(v0).to(z.device, z.dtype).expand(B, d).clone()
    v = v / torch.linalg.vector_norm(v, dim=-1, keepdim=True)
    if jacobian is None:
        from torch.func import jvp

        def tangent_step(z, v):
            return jvp(f, (z,), (v,))
    else:
        def tangent_step(z, v):
            return f(z), (jacobian(z) @ v[..., None])[..., 0]
    log_sum = torch.zeros(B, dtype=z.dtype, device=z.device)
    history = []
    with torch.no_grad(), warnings.catch_warnings():
        # torch's first jvp imports decompositions that use the deprecated torch.jit.script
        warnings.filterwarnings("ignore", "`torch.jit.script` is deprecated")
        for t in _steps(transient + n_steps, show_progress, "max Lyapunov exponent"):
            z_next, w = tangent_step(z, v)
            if not torch.isfinite(z_next).all():
                _raise_non_finite("state", t, transient)
            if not torch.isfinite(w).all():
                _raise_non_finite("tangent vector J v", t, transient)
            norm = torch.linalg.vector_norm(w, dim=-1)
            v, z = w / norm[:, None], z_next
            if t >= transient:
                log_sum += torch.log(norm)
                if return_history:
                    history.append(log_sum / ((t + 1 - transient) * dt))
    lam = log_sum / (n_steps * dt)
    if return_history:
        running = torch.stack(history, dim=1)
        return (lam, running) if batched else (lam[0], running[0])
    return lam if batched else lam[0]


def naive_product_log_norms(jacobians, *, dtype="float32"):
    """The logarithms ln ||P_n|| of the spectral norms of the running Jacobian products as
    the exercise sheet writes them, without any renormalisation::

        P_1 = J_T,  P_2 = J_T J_{T-1},  ...,  P_T = J_T J_{T-1} ... J_1,

    computed in ``dtype`` (float32 by default), for Jacobians ``J_1, ..., J_T`` of shape
    ``(T, d, d)`` (in orbit order; NumPy or torch). Returns a float64 tensor of length T, on
    the device of ``jacobians``; on a chaotic orbit ln ||P_n||_2 grows like n λ_1 until the
    product overflows, and from that product on the entry is ``inf``. Compare with
    :func:`predicted_overflow_step`.
    """
    import torch

    J = torch.as_tensor(np.asarray(jacobians) if not isinstance(jacobians, torch.Tensor)
                        else jacobians)
    if J.ndim != 3 or J.shape[-1] != J.shape[-2]:
        raise ValueError(f"jacobians must have shape (T, d, d); got {tuple(J.shape)}")
    J = J.detach().to(_torch_dtype(dtype))
    T = J.shape[0]
    products = torch.empty_like(J)
    P = J[T - 1]
    products[0] = P
    overflow = T
    for n in range(1, T):
        if not torch.isfinite(P).all():
            overflow = n - 1
            break
        P = P @ J[T - 1 - n]
        products[n] = P
    else:
        if not torch.isfinite(P).all():
            overflow = T - 1
    out = torch.full((T,), math.inf, dtype=torch.float64, device=J.device)
    if overflow > 0:
        norms = torch.linalg.matrix_norm(products[:overflow], ord=2).to(torch.float64)
        out[:overflow] = torch.log(norms)
    return out


def predicted_overflow_step(lambda_max: float, dtype="float32") -> float:
    """The number of factors n after which a Jacobian product growing like exp(n λ_max)
    exceeds the largest finite number of ``dtype`` (float32 by default):
    n = ln(max float) / λ_max, with ``lambda_max`` per step (natural log). About
    88.7 / λ_max in float32 and 709.8 / λ_max in float64.
    """
    lambda_max = float(lambda_max)
    if not lambda_max > 0:
        raise ValueError(f"lambda_max must be positive (per step) for the product to "
                         f"overflow; got {lambda_max}")
    return math.log(float(np.finfo(_float_name(dtype)).max)) / lambda_max


def kaplan_yorke_dimension(exponents) -> float:
    """The Kaplan-Yorke (Lyapunov) dimension D_KY of a spectrum λ_1 >= ... >= λ_d (sorted
    here): with j the largest index whose partial sum λ_1 + ... + λ_j is non-negative::

        D_KY = j + (λ_1 + ... + λ_j) / |λ_{j+1}|,

    0 when λ_1 < 0, and d when the whole sum is non-negative. For Henon about 1.26, for
    Lorenz-63 about 2.06. Reference: J. L. Kaplan, J. A. Yorke, Lecture Notes in
    Mathematics 730, 204-227 (1979).
    """
    lam = np.sort(_as_numpy(exponents).ravel())[::-1]
    if lam.size == 0 or not np.all(np.isfinite(lam[:1])):
        raise ValueError(f"exponents must be a non-empty vector with finite λ_1; got {lam}")
    partial = np.cumsum(lam)
    if partial[0] < 0:
        return 0.0
    j = int(np.flatnonzero(partial >= 0)[-1]) + 1  # number of exponents in the sum
    if j == lam.size:
        return float(j)
    return float(j + partial[j - 1] / abs(lam[j]))
