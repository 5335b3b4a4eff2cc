"""Sparse teacher forcing (STF) for the shallow PLRNN: the forced forward pass, a fast
fused version of it with a hand-written backward pass, and the training loop.

STF, in the notation of the exercise sheet: the first N latent units are replaced by the
observations, z~_t = [x_t, z_t[N:]], at the forcing times t in {T_W + n tau_f}; during an
optional warm-up (t < T_W) at every step. Between forcing times the model runs freely::

    z_{t+1} = F(z~_t) if t is a forcing time, else F(z_t),

and the loss is the mean squared error between the read-outs z_{t+1}[:N] and the next
observations x_{t+1}, over the steps after the warm-up.

PyTorch is imported with this module. References: J. Mikhaeil, Z. Monfared, D.
Durstewitz, "On the difficulty of learning chaotic dynamics with RNNs", NeurIPS 2022
(sparse teacher forcing); M. Brenner et al., ICML 2022.
"""

from __future__ import annotations

import contextlib
import functools
import math
import time

import numpy as np
import torch

from .data import sample_batch
from .models import ShallowPLRNN
from .runtime import progress

__all__ = ["forcing_times", "stf_forward", "stf_forward_fused", "stf_loss", "train_stf",
           "train_sequence_model",
           "TrainingDiverged"]


class TrainingDiverged(FloatingPointError):
    """The loss or the parameters became non-finite during training."""


def forcing_times(T: int, tau_f: int, warmup: int = 0) -> np.ndarray:
    """forcing_times(T, tau_f; warmup=0) → mask

    A boolean array of length ``T``: True at the steps t whose state is forced, i.e. every
    t < ``warmup`` and t = warmup + n ``tau_f`` (n = 0, 1, ...).
    """
    if tau_f < 1 or warmup < 0:
        raise ValueError(f"need tau_f >= 1 and warmup >= 0; got tau_f={tau_f}, "
                         f"warmup={warmup}")
    t = np.arange(T)
    return (t < warmup) | ((t - warmup) % tau_f == 0)


def _check_inputs(model, x, warmup):
    if not isinstance(model, ShallowPLRNN):
        raise TypeError(f"model must be a ShallowPLRNN; got {type(model).__name__}")
    if x.ndim != 3 or x.shape[-1] != model.N:
        raise ValueError(f"x must have shape (batch, T, N) with N = model.N = {model.N}; "
                         f"got {tuple(x.shape)}")
    if not 0 <= warmup < x.shape[1]:
        raise ValueError(f"warmup must be in 0..{x.shape[1] - 1} for sequences of length "
                         f"{x.shape[1]}; got {warmup}")


def stf_forward(model: ShallowPLRNN, x: torch.Tensor, tau_f: int, warmup: int = 0,
                z0: torch.Tensor | None = None) -> torch.Tensor:
    """stf_forward(model, x, tau_f; warmup=0, z0=None) → predictions

    The sparsely forced forward pass, written plainly with autograd: for forcing signals
    ``x`` of shape ``(B, T, N)``, starting from ``z0`` (default zeros, shape ``(B, M)``),
    step t replaces the first N units by ``x[:, t]`` when t is a forcing time
    (:func:`forcing_times`), then applies the model. Returns the read-outs z_{t+1}[:N],
    shape ``(B, T, N)``: the predictions of ``x[:, t + 1]``.
    """
    _check_inputs(model, x, warmup)
    B, T, N = x.shape
    z = x.new_zeros(B, model.M) if z0 is None else z0
    forced = forcing_times(T, tau_f, warmup)
    outputs = []
    for t in range(T):
        if forced[t]:
            z = torch.cat([x[:, t], z[:, N:]], dim=-1)
        z = model(z)
        outputs.append(model.observe(z))
    return torch.stack(outputs, dim=1)


#: BLAS threads of the fused NumPy passes (None: NumPy's default, one per core). One
#: thread is the fastest for these small matrices, keeps two trainings side by side from
#: fighting over the cores, and makes the results independent of OPENBLAS_NUM_THREADS.
_BLAS_THREADS = 1


@functools.lru_cache(maxsize=1)
def _threadpool_controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()     # found once (about 1 ms); limiting is then ~10 µs


def _blas_threads_limited():
    """_blas_threads_limited() → context manager

    Within it NumPy's BLAS (OpenBLAS, MKL, ...) uses ``_BLAS_THREADS`` threads (one), set
    with ``threadpoolctl`` and restored on exit, whatever ``OPENBLAS_NUM_THREADS`` or
    ``OMP_NUM_THREADS`` say. The fused STF passes run inside it, so that their rounding,
    and hence a trained model, does not depend on the thread count.
    """
    if _BLAS_THREADS is None:
        return contextlib.nullcontext()
    return _threadpool_controller().limit(limits=_BLAS_THREADS, user_api="blas")


def _forward_loop(xs, forced, z, Z, H, out, a, w1t, w2t, b1, b2):
    """The forced forward pass in NumPy, filling Z (states entering each step), H (hidden
    activations) and out (read-outs) in place; shapes (T, B, .)."""
    N = xs.shape[2]
    for t in range(xs.shape[0]):
        if forced[t]:
            z[:, :N] = xs[t]
        Z[t] = z
        h = z @ w2t
        h += b2
        np.maximum(h, 0, out=h)
        H[t] = h
        z = h @ w1t
        z += b1
        z += a * Z[t]
        out[t] = z[:, :N]


def _backward_loop(go, forced, dz, D, G, active, a, w1, w2):
    """Backpropagation through time in NumPy: from the read-out gradients go (T, B, N),
    fill D[t] = dL/dz_{t+1} and G[t] = dL/d(W2 z~_t + h2) in place."""
    N = go.shape[2]
    for t in range(go.shape[0] - 1, -1, -1):
        dz[:, :N] += go[t]
        D[t] = dz
        g = dz @ w1
        g *= active[t]
        G[t] = g
        dz = g @ w2
        dz += a * D[t]
        if forced[t]:
            dz[:, :N] = 0.0


class _FusedSTF(torch.autograd.Function):
    """The STF forward pass and its backward pass through time, as two NumPy loops.

    Autograd records about five tensor operations per step and replays them backwards;
    for the small matrices of a PLRNN the per-operation overhead dominates. Here the
    forward loop stores only the states entering each step and the hidden activations,
    and the backward loop carries dL/dz back through z_{t+1} = A * z~_t + W1 relu(W2 z~_t
    + h2) + h1 (zero for the forced units, which come from the data); the parameter
    gradients are then sums over all steps, done as a few large matrix products.
    """

    @staticmethod
    def forward(ctx, x, forced, A, W1, W2, h1, h2):
        xs = x.detach().cpu().numpy().transpose(1, 0, 2)          # (T, B, N)
        a, w1, w2, b1, b2 = (p.detach().cpu().numpy().copy() for p in (A, W1, W2, h1, h2))
        T, B, N = xs.shape
        M, L = w1.shape
        Z = np.empty((T, B, M), dtype=xs.dtype)                    # states entering steps
        H = np.empty((T, B, L), dtype=xs.dtype)                    # relu(W2 z~ + h2)
        out = np.empty((T, B, N), dtype=xs.dtype)
        w1t, w2t = np.ascontiguousarray(w1.T), np.ascontiguousarray(w2.T)
        z = np.zeros((B, M), dtype=xs.dtype)
        # overflow is not an error here: train_stf reports a divergence
        with np.errstate(over="ignore", invalid="ignore"), _blas_threads_limited():
            _forward_loop(xs, forced, z, Z, H, out, a, w1t, w2t, b1, b2)
        ctx.saved = (Z, H, forced, a, w1, w2)
        ctx.device = x.device
        return torch.from_numpy(out.transpose(1, 0, 2).copy()).to(x.device)

    @staticmethod
    def backward(ctx, grad_out):
        Z, H, forced, a, w1, w2 = ctx.saved
        go = grad_out.detach().cpu().numpy().transpose(1, 0, 2)   # (T, B, N)
        T, B, N = go.shape
        M, L = w1.shape
        D = np.empty((T, B, M), dtype=Z.dtype)                     # dL/dz_{t+1}
        G = np.empty((T, B, L), dtype=Z.dtype)                     # dL/d(W2 z~_t + h2)
        dz = np.zeros((B, M), dtype=Z.dtype)
        with np.errstate(over="ignore", invalid="ignore"), _blas_threads_limited():
            _backward_loop(go, forced, dz, D, G, H > 0, a, w1, w2)
            D2, G2 = D.reshape(-1, M), G.reshape(-1, L)
            grads = (np.einsum("km,km->m", D2, Z.reshape(-1, M)), D2.T @ H.reshape(-1, L),
                     G2.T @ Z.reshape(-1, M), D2.sum(axis=0), G2.sum(axis=0))
        return (None, None) + tuple(torch.from_numpy(g).to(ctx.device) for g in grads)


def stf_forward_fused(model: ShallowPLRNN, x: torch.Tensor, tau_f: int,
                      warmup: int = 0) -> torch.Tensor:
    """stf_forward_fused(model, x, tau_f; warmup=0) → predictions

    The same as :func:`stf_forward` (from z0 = 0), with a hand-written backward pass
    through time in NumPy (the class ``_FusedSTF``): several times faster on a CPU for
    the small models of the course, and equal to autograd's gradients to rounding. It
    computes on the CPU with one BLAS thread (``threadpoolctl``), so that its results do
    not depend on the thread count; tensors on a GPU are copied to the CPU and the
    predictions and gradients back. That is on purpose: the time loop is sequential and
    its matrices tiny, so a GPU would wait on one kernel launch per small operation
    (``benchmarks/RESULTS.md``).
    """
    _check_inputs(model, x, warmup)
    forced = forcing_times(x.shape[1], tau_f, warmup)
    return _FusedSTF.apply(x, forced, model.A, model.W1, model.W2, model.h1, model.h2)


def stf_loss(predictions: torch.Tensor, targets: torch.Tensor, warmup: int = 0):
    """stf_loss(predictions, targets; warmup=0) → the mean squared error over the steps
    t >= ``warmup`` (shapes ``(B, T, N)``), 1/(B (T - T_W) N) Σ ||y_t - ŷ_t||²."""
    if predictions.shape != targets.shape:
        raise ValueError(f"predictions and targets must have the same shape; got "
                         f"{tuple(predictions.shape)} and {tuple(targets.shape)}")
    return torch.mean((predictions[:, warmup:] - targets[:, warmup:]) ** 2)


def _update(optimizer, model, loss, clip: float, step: int, advice: str) -> float:
    """One optimiser update on ``loss`` with the gradient norm clipped to ``clip``; raises
    TrainingDiverged (naming the update, with ``advice``) if the loss or the gradient norm
    is not finite. Returns the loss as a float."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), clip).item()
    value = loss.item()
    if not (math.isfinite(value) and math.isfinite(norm)):
        raise TrainingDiverged(f"training diverged at update {step}: the loss is {value} and "
                               f"the gradient norm {norm}. {advice}")
    optimizer.step()
    return value


def train_stf(model: ShallowPLRNN, data, *, n_steps: int = 5000, batch_size: int = 32,
              seq_len: int = 200, tau_f: int = 25, warmup: int = 0, lr: float = 3e-3,
              lr_end: float = 1e-5, clip: float = 10.0, seed: int = 0, forward=None,
              show_progress: bool = True, desc: str = "STF training") -> dict:
    """train_stf(model, data; n_steps=5000, batch_size=32, seq_len=200, tau_f=25, warmup=0, lr=3e-3, lr_end=1e-5, clip=10.0, seed=0, forward=None, show_progress=True) → history

    Train ``model`` in place by sparse teacher forcing on a time series ``data`` (shape
    ``(T, N)``, N = model.N): ``n_steps`` Adam updates, each on ``batch_size`` random
    subsequences of ``seq_len`` steps (:func:`course_utils.data.sample_batch`), minimising
    :func:`stf_loss` of the forced predictions. The learning rate decays exponentially
    from ``lr`` to ``lr_end``; the gradient norm is clipped to ``clip``.

    Keyword arguments

    * ``tau_f = 25``: the forcing interval, in steps (0.25 time units at dt = 0.01).
      The defaults are those tuned for Lorenz-63 (``course_utils.pretrained``).
    * ``warmup = 0``: T_W, the first steps of each subsequence, forced at every step and
      left out of the loss.
    * ``seed = 0``: seeds the batches (the model has its own seed).
    * ``forward = None``: the forced forward pass, ``forward(model, x, tau_f, warmup)``;
      by default :func:`stf_forward_fused`, which computes on the CPU (one BLAS thread)
      whatever the model's device.
    * ``show_progress = True``: a progress bar with the loss (silent when ``CI`` is set).

    The data are moved to the model's device, and the model trains where it is; for the
    course's sizes the CPU is the fastest place (``benchmarks/RESULTS.md``). Returns a
    dict with ``loss`` (one value per update, NumPy) and ``seconds``. Raises
    :class:`TrainingDiverged` as soon as the loss or a gradient is not finite, naming the
    update, so that a diverging run stops instead of filling the model with NaN.
    """
    data = torch.as_tensor(data, dtype=model.A.dtype, device=model.A.device)
    if data.ndim != 2 or data.shape[1] != model.N:
        raise ValueError(f"data must have shape (T, N) with N = model.N = {model.N}; got "
                         f"{tuple(data.shape)}")
    if not torch.isfinite(data).all():
        raise ValueError("data contains non-finite values")
    if n_steps < 1 or batch_size < 1 or not lr > 0 or not lr_end > 0:
        raise ValueError(f"need n_steps >= 1, batch_size >= 1, lr > 0 and lr_end > 0; got "
                         f"n_steps={n_steps}, batch_size={batch_size}, lr={lr}, "
                         f"lr_end={lr_end}")
    forward = stf_forward_fused if forward is None else forward
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    gamma = (lr_end / lr) ** (1.0 / max(1, n_steps - 1))
    schedule = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma)
    losses = np.empty(n_steps)
    bar = progress(range(n_steps), desc=desc, **({} if show_progress else {"disable": True}))
    start = time.perf_counter()
    # one BLAS thread for the whole loop too: the fused passes limit it themselves, but
    # switching OpenBLAS between 1 and 2 threads at every pass costs about 15 %
    with _blas_threads_limited():
        for step in bar:
            x, y = sample_batch(data, batch_size, seq_len, generator=generator)
            loss = stf_loss(forward(model, x, tau_f, warmup), y, warmup)
            losses[step] = _update(optimizer, model, loss, clip, step,
                                   f"Lower the learning rate (lr={lr}) or the forcing "
                                   f"interval (tau_f={tau_f}), or shorten seq_len={seq_len}")
            schedule.step()
            if step % 50 == 0 and hasattr(bar, "set_postfix"):
                bar.set_postfix(loss=f"{losses[step]:.4f}")
    return dict(loss=losses, seconds=time.perf_counter() - start)


def train_sequence_model(model: torch.nn.Module, batches, *, n_steps: int = 1000,
                         lr: float = 1e-3, lr_end: float | None = None, clip: float = 1.0,
                         record=None, record_every: int = 50, show_progress: bool = True,
                         desc: str = "training") -> dict:
    """train_sequence_model(model, batches; n_steps=1000, lr=1e-3, lr_end=None, clip=1.0, record=None, record_every=50, show_progress=True) → history

    Train a sequence-to-sequence ``model`` in place by minimising the mean squared error
    between its outputs and the targets, mean((model(u) - y)^2), with Adam:
    ``n_steps`` updates, each on a fresh batch ``u, y = batches(step)`` (tensors or NumPy
    arrays of shape ``(B, T, channels)``). If ``model(u)`` returns a tuple, its first item
    is the output (as for ``course_utils.models.RNNReadout``).

    Keyword arguments

    * ``lr = 1e-3``, ``lr_end = None``: the learning rate, decayed exponentially to
      ``lr_end`` over the run when that is given.
    * ``clip = 1.0``: the gradient norm is clipped to this value.
    * ``record = None``: a function ``record(model)`` called before the first update and
      every ``record_every`` updates (and after the last); its results are returned, e.g.
      the eigenvalues of a recurrent layer as training moves them.
    * ``show_progress = True``: a progress bar with the loss (silent when ``CI`` is set).

    Returns a dict with ``loss`` (per update, NumPy), ``steps`` and ``records`` (the
    update numbers and results of ``record``) and ``seconds``. Raises
    :class:`TrainingDiverged`, naming the update, as soon as the loss or the gradient
    norm is not finite.
    """
    if n_steps < 1 or not lr > 0 or record_every < 1:
        raise ValueError(f"need n_steps >= 1, lr > 0 and record_every >= 1; got "
                         f"n_steps={n_steps}, lr={lr}, record_every={record_every}")
    dtype = next(model.parameters()).dtype
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = None
    if lr_end is not None:
        gamma = (lr_end / lr) ** (1.0 / max(1, n_steps - 1))
        schedule = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma)
    losses, steps, records = np.empty(n_steps), [], []
    bar = progress(range(n_steps), desc=desc, **({} if show_progress else {"disable": True}))
    start = time.perf_counter()
    for step in bar:
        if record is not None and step % record_every == 0:
            steps.append(step)
            records.append(record(model))
        u, y = (torch.as_tensor(a, dtype=dtype) for a in batches(step))
        out = model(u)
        out = out[0] if isinstance(out, tuple) else out
        if out.shape != y.shape:
            raise ValueError(f"the model's output has shape {tuple(out.shape)} but the "
                             f"targets y have shape {tuple(y.shape)}")
        losses[step] = _update(optimizer, model, torch.mean((out - y) ** 2), clip, step,
                               f"Lower the learning rate (lr={lr})")
        if schedule is not None:
            schedule.step()
        if step % 50 == 0 and hasattr(bar, "set_postfix"):
            bar.set_postfix(loss=f"{losses[step]:.4f}")
    if record is not None:
        steps.append(n_steps)
        records.append(record(model))
    return dict(loss=losses, steps=np.array(steps), records=records,
                seconds=time.perf_counter() - start)


def model_max_lyapunov(model: ShallowPLRNN, z0, *, n_steps: int = 20_000,
                       transient: int = 1_000, dt: float = 1.0, show_progress: bool = False):
    """model_max_lyapunov(model, z0; n_steps=20000, transient=1000, dt=1.0) → λ_max

    The largest Lyapunov exponent of a PLRNN along the orbits from the latent states ``z0``
    (``(M,)`` or ``(B, M)``), by :func:`course_utils.lyapunov.max_lyapunov` with the
    analytic Jacobian, on a float64 copy of the model: per step, or per time unit with
    ``dt``. A tensor of shape ``()`` or ``(B,)``.
    """
    import copy

    from .lyapunov import max_lyapunov

    model64 = copy.deepcopy(model).double()
    return max_lyapunov(model64, torch.as_tensor(z0, dtype=torch.float64), n_steps,
                        jacobian=model64.jacobian, transient=transient, dt=dt,
                        show_progress=show_progress)


def evaluate_reconstruction(model: ShallowPLRNN, x_test, *, dt: float = 0.01,
                            n_generate: int | None = None, transient: int = 1_000,
                            n_lyapunov: int = 20_000, n_orbits: int = 8,
                            horizon: int = 100_000, reference: float = 0.906) -> dict:
    """evaluate_reconstruction(model, x_test; dt=0.01, n_generate=len(x_test), transient=1000, n_lyapunov=20000, n_orbits=8, horizon=100000, reference=0.906) → figures

    The quality figures of a reconstruction against a clean test orbit ``x_test`` (shape
    ``(T, N)``): a free-running orbit from ``x_test[0]`` (the other units at zero), of which
    the first ``transient`` steps are dropped and the next ``n_generate`` compared with
    ``x_test[:n_generate]`` by :func:`course_utils.metrics.state_space_divergence` and
    :func:`course_utils.metrics.power_spectrum_distance`; and the long-term behaviour of
    ``n_orbits`` orbits started from states of that generated orbit: each one's λ_max per
    time unit (divided by ``dt``) over ``n_lyapunov`` steps after ``transient``, and its
    fate after ``horizon`` steps (:func:`course_utils.attractors.orbit_fates`: still
    chaotic, a fixed point, a cycle, ...; a fixed point is matched with the model's exact
    fixed points, :func:`course_utils.linearization.plrnn_fixed_points`).

    ``lambda_max`` is the mean of the orbits' exponents only when every orbit is still
    chaotic after the horizon; otherwise it is NaN and ``verdict`` says why, e.g.
    "transient chaos: 3 of 8 orbits leave the chaotic set within 100,000 steps (2 to a
    stable fixed point, 1 to a cycle of period 4)", since an average over orbits that end
    on different sets describes none of them. Returns a dict with ``lambda_max``,
    ``lambda_max_rel_error`` (against ``reference``), ``lambda_per_orbit`` (NumPy,
    ``(n_orbits,)``), ``fates`` (one description per orbit), ``all_chaotic``, ``verdict``,
    ``D_stsp``, ``D_H`` and ``generated`` (the read-outs, ``(n_generate, N)``).
    """
    from .metrics import power_spectrum_distance, state_space_divergence

    x_test = torch.as_tensor(x_test, dtype=model.A.dtype, device=model.A.device)
    n_generate = len(x_test) if n_generate is None else n_generate
    Z = model.generate(x_test[0], transient + n_generate)[transient:]
    generated = model.observe(Z)
    if not torch.isfinite(Z).all():
        lam, per_orbit, fates, chaotic = math.nan, np.full(n_orbits, math.nan), [], False
        verdict = "diverged: the generated orbit is not finite"
    else:
        starts = Z[:: max(1, n_generate // n_orbits)][:n_orbits]
        per_orbit = model_max_lyapunov(model, starts, n_steps=n_lyapunov, transient=transient,
                                       dt=dt).cpu().numpy()
        fates, chaotic, verdict = _long_term(model, starts, per_orbit, Z, horizon=horizon,
                                             dt=dt)
        lam = float(per_orbit.mean()) if chaotic else math.nan
    target, orbit = x_test[:n_generate].cpu().numpy(), generated.cpu().numpy()
    return dict(lambda_max=lam, lambda_max_rel_error=abs(lam - reference) / reference,
                lambda_per_orbit=per_orbit, fates=fates, all_chaotic=chaotic, verdict=verdict,
                D_stsp=state_space_divergence(target, orbit),
                D_H=power_spectrum_distance(target, orbit), generated=generated)


def _long_term(model, starts, per_orbit, Z, *, horizon, dt, threshold=1e-3):
    """(fates, all_chaotic, verdict) of the orbits from ``starts`` after ``horizon`` steps;
    ``per_orbit`` their exponents at first, ``Z`` a generated orbit (it seeds the search
    for the model's exact fixed points)."""
    import copy
    from collections import Counter

    from .attractors import orbit_fates
    from .linearization import plrnn_fixed_points

    model64 = copy.deepcopy(model).double()
    fates = orbit_fates(model64, starts.double(), horizon=horizon, jacobian=model64.jacobian,
                        dt=dt, threshold=threshold)
    described = [fates.describe(b) for b in range(len(fates.kind))]
    if "fixed point" in fates.kind:                     # which one, with chapter 06's tool
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
    if any(per_orbit[b] > threshold for b in left):       # chaotic at first, not at the end
        verdict = (f"transient chaos: {k} of {n} orbits leave the chaotic set within "
                   f"{horizon:,} steps ({where})")
    elif k < n:
        verdict = (f"not all orbits chaotic: {k} of {n} orbits were never chaotic; after "
                   f"{horizon:,} steps they go {where}")
    else:
        verdict = f"not chaotic: after {horizon:,} steps the orbits go {where}"
    return described, False, verdict
