"""Teacher forcing for the shallow PLRNN, sparse (STF) and generalized (GTF): the forced
forward passes, one fast fused version of both with a hand-written backward pass, and the
training loops.

STF, in the notation of the exercise sheet: the first N latent units are replaced by the
observations, z~_t = [x_t, z_t[N:]], at the forcing times t in {T_W + n tau_f}; during an
optional warm-up (t < T_W) at every step. Between forcing times the model runs freely::

    z_{t+1} = F(z~_t) if t is a forcing time, else F(z_t),

and the loss is the mean squared error between the read-outs z_{t+1}[:N] and the next
observations x_{t+1}, over the steps after the warm-up.

GTF forces at every step, but only partly: the observed units become the interpolation
between the model's own read-out and the observation,
z~_t = [(1 - alpha) z_t[:N] + alpha x_t, z_t[N:]], so that the gradient through the
observed units is damped by (1 - alpha) at each step instead of cut every tau_f steps.
With N < M read-outs the data-inferred state is the inversion of the identity observation
model on the observed units; the unobserved units stay the model's own. alpha is adapted
during training from the Jacobians (:func:`gtf_alpha_estimate`).

Both are one forcing rule with per-step weights w_t in [0, 1] (:func:`forcing_weights`):
STF has w_t = 1 at the forcing times and 0 elsewhere; GTF has w_0 = 1 (the first state is
inferred from x_0) and w_t = alpha after; GTF with resets (``train_gtf(..., tau_f=...)``)
has w_t = 1 at STF's forcing times and alpha between. :func:`forced_forward` and the
fused :func:`forced_forward_fused` compute any of them.

On the CPU, with one BLAS thread: the fused passes (:func:`stf_forward_fused`,
:func:`forced_forward_fused`, :func:`forced_states`), which :func:`train_stf` and
:func:`train_gtf` use by default, compute in NumPy whatever the model's device (tensors on
a GPU are copied to the CPU, and the predictions and gradients back), with one BLAS
thread set by ``threadpoolctl`` whatever ``OPENBLAS_NUM_THREADS`` says; their loops
(:mod:`course_utils.forcing_loops`) reuse their arrays from pass to pass and, where a
second core is free, run half of each batch in a helper process, bit for bit as in one.
The time loop is sequential and its matrices small, so more BLAS threads have too little
work to share; one thread also makes the rounding, and hence a trained model, independent
of the thread count. A GPU launches a handful of tiny kernels per step;
:class:`course_utils.graphed_forcing.GraphedForcing` captures the whole pass as CUDA graphs
and can be passed as ``forward=``, but is not the default until it is measured faster
(timings: ``benchmarks/RESULTS.md``).

PyTorch is imported with this module. References: J. Mikhaeil, Z. Monfared, D.
Durstewitz, "On the difficulty of learning chaotic dynamics with RNNs", NeurIPS 2022
(sparse teacher forcing); M. Brenner et al., ICML 2022; F. Hess, Z. Monfared, M. Brenner,
D. Durstewitz, "Generalized teacher forcing for learning chaotic dynamics", ICML 2023.
"""

from __future__ import annotations

import contextlib
import functools
import math
import threading
import time

import numpy as np
import torch

from .data import sample_batch
from .forcing_loops import Workspace, run_backward, run_forward, shared_workspace_wanted
from .models import ShallowPLRNN
from .runtime import progress

__all__ = ["forcing_times", "forcing_weights", "as_forcing_weights", "stf_forward",
           "stf_forward_fused", "gtf_forward", "forced_forward", "forced_forward_fused",
           "forced_states", "gtf_alpha_estimate", "prediction_loss", "train_stf", "train_gtf",
           "train_sequence_model", "TrainingDiverged"]


class TrainingDiverged(FloatingPointError):
    """The loss or the parameters became non-finite during training."""


def forcing_times(T: int, tau_f: int, warmup: int = 0) -> np.ndarray:
    """A boolean mask of length ``T``: True at the steps t whose state is forced, i.e. every
    t < ``warmup`` and t = warmup + n ``tau_f`` (n = 0, 1, ...).
    """
    if tau_f < 1 or warmup < 0:
        raise ValueError(f"need tau_f >= 1 and warmup >= 0; got tau_f={tau_f}, "
                         f"warmup={warmup}")
    t = np.arange(T)
    return (t < warmup) | ((t - warmup) % tau_f == 0)


def forcing_weights(T: int, *, tau_f: int | None = None, alpha: float | None = None,
                    warmup: int = 0) -> np.ndarray:
    """The forcing weight w_t in [0, 1] of each of the ``T`` steps (float64, shape
    ``(T,)``): step t replaces the observed units by
    z~_t[:N] = (1 - w_t) z_t[:N] + w_t x_t. Give

    * ``tau_f``: sparse teacher forcing, w_t = 1 at :func:`forcing_times` and 0 elsewhere;
    * ``alpha``: generalized teacher forcing, w_t = 1 for t < max(1, ``warmup``) (the first
      state, and a warm-up, are inferred from the data) and w_t = alpha after;
    * both: generalized teacher forcing with resets, w_t = 1 at :func:`forcing_times`
      and alpha elsewhere (alpha = 0 is STF; with warmup = 0, tau_f >= T is GTF).
    """
    if tau_f is None and alpha is None:
        raise ValueError("give tau_f (STF), alpha (GTF) or both; got neither")
    if alpha is not None and (not 0.0 <= alpha <= 1.0 or warmup < 0):
        raise ValueError(f"need 0 <= alpha <= 1 and warmup >= 0; got alpha={alpha}, "
                         f"warmup={warmup}")
    if tau_f is not None:
        mask = forcing_times(T, tau_f, warmup)
        return np.where(mask, 1.0, 0.0 if alpha is None else float(alpha))
    w = np.full(T, float(alpha))
    w[: max(1, warmup)] = 1.0
    return w


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
    """The sparsely forced forward pass, written plainly with autograd: for forcing signals
    ``x`` of shape ``(B, T, N)``, starting from ``z0`` (default zeros, shape ``(B, M)``),
    step t replaces the first N units by ``x[:, t]`` when t is a forcing time
    (:func:`forcing_times`), then applies the model. Returns the read-outs z_{t+1}[:N],
    shape ``(B, T, N)``: the predictions of ``x[:, t + 1]``.
    """
    _check_inputs(model, x, warmup)
    return forced_forward(model, x, forcing_weights(x.shape[1], tau_f=tau_f, warmup=warmup),
                          z0=z0)


def gtf_forward(model: ShallowPLRNN, x: torch.Tensor, alpha: float, warmup: int = 0,
                z0: torch.Tensor | None = None) -> torch.Tensor:
    """The forward pass of generalized teacher forcing, plainly with autograd: for forcing
    signals ``x`` of shape ``(B, T, N)``, from ``z0`` (default zeros, ``(B, M)``), the first
    state takes ``x[:, 0]`` in its observed units (and so do the states t < ``warmup``), and
    every later step t first pulls the observed units towards the data,
    z~_t[:N] = (1 - alpha) z_t[:N] + alpha x_t (the unobserved units unchanged), then
    applies the model. Returns the read-outs z_{t+1}[:N], shape ``(B, T, N)``. alpha = 1
    forces fully at every step (teacher forcing), alpha = 0 runs freely after the first
    step.
    """
    _check_inputs(model, x, warmup)
    return forced_forward(model, x, forcing_weights(x.shape[1], alpha=alpha, warmup=warmup),
                          z0=z0)


def as_forcing_weights(weights, T: int) -> np.ndarray:
    """``weights`` (any array-like, e.g. from :func:`forcing_weights`) as a float64 array
    of ``T`` forcing weights w_t in [0, 1], the check every forced pass makes; else a
    ValueError naming the shape or the values seen."""
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != (T,):
        raise ValueError(f"weights must be T = {T} numbers in [0, 1]; got shape "
                         f"{weights.shape}")
    if not np.all((weights >= 0) & (weights <= 1)):
        raise ValueError(f"weights must be T = {T} numbers in [0, 1]; got values from "
                         f"{np.nanmin(weights)} to {np.nanmax(weights)}")
    return weights


def forced_forward(model: ShallowPLRNN, x: torch.Tensor, weights,
                   z0: torch.Tensor | None = None) -> torch.Tensor:
    """The forced forward pass with per-step forcing weights ``weights`` (shape ``(T,)``,
    :func:`forcing_weights`), with autograd: from ``z0`` (default zeros, ``(B, M)``), step t
    sets z~_t[:N] = (1 - w_t) z_t[:N] + w_t x_t and applies the model. Returns the read-outs
    z_{t+1}[:N], shape ``(B, T, N)``.
    """
    B, T, N = x.shape
    weights = as_forcing_weights(weights, T)
    z = x.new_zeros(B, model.M) if z0 is None else z0
    outputs = []
    for t in range(T):
        w = float(weights[t])
        if w == 1.0:
            z = torch.cat([x[:, t], z[:, N:]], dim=-1)
        elif w > 0.0:
            z = torch.cat([(1 - w) * z[:, :N] + w * x[:, t], z[:, N:]], dim=-1)
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
    """A context manager within which NumPy's BLAS (OpenBLAS, MKL, ...) uses
    ``_BLAS_THREADS`` threads (why: the module docstring)."""
    if _BLAS_THREADS is None:
        return contextlib.nullcontext()
    return _threadpool_controller().limit(limits=_BLAS_THREADS, user_api="blas")


class _Lease:
    """A workspace (:class:`course_utils.forcing_loops.Workspace`) lent to one pass for as
    long as the lease lives: the autograd context holds it until the graph is freed, so a
    second forward pass before the first one's backward gets a workspace of its own. It
    goes back to the pool when the lease is garbage-collected; the pool keeps two per
    shape, for the two most recent shapes."""

    _free: dict = {}          # (T, B, M, L, N, dtype) -> [workspaces]
    _lock = threading.Lock()
    _KEEP = 2

    def __init__(self, T, B, M, L, N, dtype):
        self.key = (T, B, M, L, N, np.dtype(dtype).str)
        with self._lock:
            free = self._free.get(self.key)
            self.ws = free.pop() if free else None
        if self.ws is None:
            self.ws = Workspace(T, B, M, L, N, dtype,
                                shared=shared_workspace_wanted(T, B, L))

    def __del__(self):
        ws, self.ws = getattr(self, "ws", None), None
        if ws is None:
            return
        with self._lock:
            free = self._free.pop(self.key, [])      # re-inserted: most recent shape last
            if len(free) < self._KEEP:
                free.append(ws)
            self._free[self.key] = free
            while len(self._free) > self._KEEP:
                del self._free[next(iter(self._free))]


def _lease_for(x, weights, A, W1, W2, h1, h2):
    """A workspace holding the inputs of a fused pass: x as (T, B, N), the forcing
    weights, and the parameters (and W1, W2 transposed)."""
    xs = x.detach().cpu().numpy().transpose(1, 0, 2)              # (T, B, N)
    T, B, N = xs.shape
    M, L = W1.shape
    lease = _Lease(T, B, M, L, N, xs.dtype)
    ws = lease.ws
    ws.xs[...] = xs
    ws.weights[...] = weights
    for name, p in (("a", A), ("w1", W1), ("w2", W2), ("b1", h1), ("b2", h2)):
        getattr(ws, name)[...] = p.detach().cpu().numpy()
    ws.w1t[...] = ws.w1.T
    ws.w2t[...] = ws.w2.T
    return lease


class _FusedForcing(torch.autograd.Function):
    """The forced forward pass (STF or GTF, by its per-step weights) and its backward pass
    through time, as two NumPy loops (:mod:`course_utils.forcing_loops`).

    Autograd records about five tensor operations per step and replays them backwards;
    for the small matrices of a PLRNN the per-operation overhead dominates. Here the
    forward loop stores only the states entering each step and the hidden activations,
    and the backward loop carries dL/dz back through z_{t+1} = A * z~_t + W1 relu(W2 z~_t
    + h2) + h1 and through the forcing (times 1 - w_t for the observed units: zero where
    STF forces, since those come from the data); the parameter gradients are then sums
    over all steps, done as a few large matrix products. The arrays live in a workspace
    that later passes reuse; on two cores a helper process runs half of the batch.
    """

    @staticmethod
    def forward(ctx, x, weights, A, W1, W2, h1, h2):
        lease = _lease_for(x, weights, A, W1, W2, h1, h2)
        # overflow is not an error here: the training loop reports a divergence
        with np.errstate(over="ignore", invalid="ignore"), _blas_threads_limited():
            run_forward(lease.ws)
        ctx.lease = lease
        ctx.device = x.device
        return torch.from_numpy(lease.ws.out.transpose(1, 0, 2).copy()).to(x.device)

    @staticmethod
    def backward(ctx, grad_out):
        ws = ctx.lease.ws
        N = ws.out.shape[-1]
        ws.grad_read[:, :, :N] = grad_out.detach().cpu().numpy().transpose(1, 0, 2)
        with np.errstate(over="ignore", invalid="ignore"), _blas_threads_limited():
            run_backward(ws)
        grads = (ws.gA, ws.gW1, ws.gW2, ws.gh1, ws.gh2)
        return (None, None) + tuple(torch.from_numpy(g.copy()).to(ctx.device) for g in grads)


def stf_forward_fused(model: ShallowPLRNN, x: torch.Tensor, tau_f: int,
                      warmup: int = 0) -> torch.Tensor:
    """The predictions of :func:`stf_forward` (from z0 = 0), shape ``(B, T, N)``, with a
    hand-written backward pass through time in NumPy (:func:`forced_forward_fused`): equal
    to autograd's gradients to rounding and faster for the small models of the course. On
    the CPU with one BLAS thread, whatever the model's device (see the module docstring).
    """
    _check_inputs(model, x, warmup)
    return forced_forward_fused(model, x, forcing_weights(x.shape[1], tau_f=tau_f,
                                                          warmup=warmup))


def forced_forward_fused(model: ShallowPLRNN, x: torch.Tensor, weights) -> torch.Tensor:
    """The predictions of :func:`forced_forward` from z0 = 0, shape ``(B, T, N)``, with the
    hand-written backward pass through time in NumPy (the class ``_FusedForcing``), for STF
    and GTF alike: equal to autograd's values and gradients to rounding, and faster. On the
    CPU with one BLAS thread, whatever the model's device (see the module docstring).
    """
    weights = as_forcing_weights(weights, x.shape[1])
    return _FusedForcing.apply(x, weights, model.A, model.W1, model.W2, model.h1, model.h2)


def prediction_loss(predictions: torch.Tensor, targets: torch.Tensor, warmup: int = 0):
    """The mean squared error over the steps t >= ``warmup`` (shapes ``(B, T, N)``),
    1/(B (T - T_W) N) Σ ||y_t - ŷ_t||², a scalar tensor."""
    if predictions.shape != targets.shape:
        raise ValueError(f"predictions and targets must have the same shape; got "
                         f"{tuple(predictions.shape)} and {tuple(targets.shape)}")
    return torch.mean((predictions[:, warmup:] - targets[:, warmup:]) ** 2)


def _update(optimizer, model, loss, clip: float, step: int, advice: str,
            flat=None) -> float:
    """One optimiser update on ``loss`` with the gradient norm clipped to ``clip``; raises
    TrainingDiverged (naming the update, with ``advice``) if the loss or the gradient norm
    is not finite. Returns the loss as a float. With ``flat`` (a ``_FlatParameters``), the
    optimiser steps the one flat parameter, whose gradient is gathered first."""
    optimizer.zero_grad(set_to_none=True)
    if flat is not None:
        flat.zero_grad()
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), clip).item()
    value = loss.item()
    if not (math.isfinite(value) and math.isfinite(norm)):
        raise TrainingDiverged(f"training diverged at update {step}: the loss is {value} and "
                               f"the gradient norm {norm}. {advice}")
    if flat is not None:
        flat.gather_gradients()
    optimizer.step()
    return value


#: Whether the forcing trainers step Adam on one flat tensor (``_FlatParameters``).
_FLAT_ADAM = True


class _FlatParameters:
    """The model's parameters as views of one flat tensor while the block runs, so that
    Adam updates one tensor instead of five: a dozen small operations per update instead
    of some fifty, each of which costs more than its arithmetic after a pass has filled the
    caches. Adam works element by element, so the updates are bit for bit those of Adam on
    the five parameters. On leaving the block each parameter gets its own memory again."""

    def __init__(self, model):
        self.params = list(model.parameters())
        self.flat = torch.nn.Parameter(torch.cat([p.detach().reshape(-1) for p in self.params]))

    def __enter__(self):
        offset = 0
        for p in self.params:
            p.data = self.flat.data[offset:offset + p.numel()].view_as(p)
            offset += p.numel()
        return self

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def gather_gradients(self):
        self.flat.grad = torch.cat([p.grad.reshape(-1) for p in self.params])

    def __exit__(self, *exc):
        for p in self.params:
            p.data = p.data.clone()
        return False


def forced_states(model: ShallowPLRNN, x: torch.Tensor, weights) -> torch.Tensor:
    """The states z~_t, shape ``(B, T, M)``, that enter each step of the forced pass with
    the forcing weights ``weights`` (:func:`forcing_weights`), after the forcing, without
    gradients: the forward loop of the fused pass, on the CPU. :func:`gtf_alpha_estimate`
    takes them.
    """
    lease = _lease_for(x, as_forcing_weights(weights, x.shape[1]), model.A, model.W1,
                       model.W2, model.h1, model.h2)
    with np.errstate(over="ignore", invalid="ignore"), _blas_threads_limited():
        run_forward(lease.ws)
    Z = lease.ws.Z[:-1]
    return torch.from_numpy(Z.transpose(1, 0, 2).copy())


def gtf_alpha_estimate(model: ShallowPLRNN, z: torch.Tensor) -> float:
    """The forcing strength alpha that keeps the gradients of generalized teacher forcing
    bounded, from the model's Jacobians J_t = diag(A) + W1 diag(1[W2 z_t + h2 > 0]) W2 along
    sequences of states ``z`` (shape ``(B, T, M)``): with G_b the geometric mean of the
    spectral norms ||J_t||_2 along sequence b, an upper bound on the growth per step of a
    product of Jacobians,

        alpha = max(0, 1 - 1 / max_b G_b),

    so that (1 - alpha) G <= 1: the damped product (1 - alpha)^T J_T ... J_1 cannot explode.
    A contracting model (G <= 1) gets alpha = 0. Reference: F. Hess et al., ICML 2023
    (the "product upper bound" estimate).
    """
    if z.ndim != 3 or z.shape[-1] != model.M:
        raise ValueError(f"z must have shape (B, T, M) with M = {model.M}; got "
                         f"{tuple(z.shape)}")
    with torch.no_grad():
        J = model.jacobian(z.to(model.A.dtype))                       # (B, T, M, M)
        norms = torch.linalg.matrix_norm(J, ord=2)                     # (B, T)
        G = torch.exp(torch.log(norms).mean(dim=1)).max()
    return max(0.0, 1.0 - 1.0 / float(G))


def _check_training_inputs(model, data, n_steps, batch_size, lr, lr_end):
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
    return data


def _batch_noise(data, noise: float, seed: int):
    """A function ``add(x, y)`` that adds fresh Gaussian noise of ``noise`` times each
    column's standard deviation to a batch, the same draw to a step's target y_t as to the
    next step's input x_{t+1}; from its own generator (seeded by ``seed``), so that the
    batches are those of ``noise = 0``. The draws are made on the CPU and moved to the
    batch's device, so that a model on a GPU sees the same noise as on the CPU."""
    if not (noise >= 0.0 and math.isfinite(noise)):
        raise ValueError(f"noise must be a finite number >= 0; got {noise}")
    scale = noise * data.std(dim=0)
    generator = torch.Generator().manual_seed(
        int(np.random.SeedSequence([seed, 1]).generate_state(1)[0]))

    def add(x, y):
        B, T, N = x.shape
        e = torch.randn(B, T + 1, N, generator=generator, dtype=x.dtype).to(x.device)
        e = e * scale
        return x + e[:, :-1], y + e[:, 1:]

    return add


def _train_forced(model, data, loss_of, *, n_steps, batch_size, seq_len, lr, lr_end, clip,
                  seed, show_progress, desc, advice, record=None, record_every=1000,
                  noise=0.0, flat_adam=False):
    """The training loop that STF and GTF share: Adam with an exponentially decaying
    learning rate (on one flat tensor with ``flat_adam``: ``_FlatParameters``), one BLAS
    thread, batches of random subsequences (with fresh noise of
    ``noise`` times each column's deviation, if > 0), clipping and the divergence check;
    ``loss_of(step, x, y)`` gives each update's loss; ``record(model)`` is called before
    the first update, every ``record_every`` updates and after the last."""
    if record_every < 1:
        raise ValueError(f"record_every must be >= 1; got {record_every}")
    data = _check_training_inputs(model, data, n_steps, batch_size, lr, lr_end)
    add_noise = _batch_noise(data, noise, seed) if noise else None
    generator = torch.Generator().manual_seed(seed)
    flat_adam = flat_adam and _FLAT_ADAM
    flat = _FlatParameters(model) if flat_adam else contextlib.nullcontext()
    optimizer = torch.optim.Adam([flat.flat] if flat_adam else model.parameters(), lr=lr)
    gamma = (lr_end / lr) ** (1.0 / max(1, n_steps - 1))
    schedule = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma)
    losses = np.empty(n_steps)
    bar = progress(range(n_steps), desc=desc, **({} if show_progress else {"disable": True}))
    start = time.perf_counter()
    # one BLAS thread for the whole loop too: the fused passes limit it themselves, but
    # switching OpenBLAS between 1 and 2 threads at every pass costs about 15 %
    steps, records, recording = [], [], 0.0
    with _blas_threads_limited(), flat:
        for step in bar:
            if record is not None and step % record_every == 0:
                tick = time.perf_counter()
                steps.append(step)
                records.append(record(model))
                recording += time.perf_counter() - tick
            x, y = sample_batch(data, batch_size, seq_len, generator=generator)
            if add_noise is not None:
                x, y = add_noise(x, y)
            losses[step] = _update(optimizer, model, loss_of(step, x, y), clip, step, advice,
                                   flat=flat if flat_adam else None)
            schedule.step()
            if step % 50 == 0 and hasattr(bar, "set_postfix"):
                bar.set_postfix(loss=f"{losses[step]:.4f}")
    history = dict(loss=losses, seconds=time.perf_counter() - start - recording)
    if record is not None:
        steps.append(n_steps)
        records.append(record(model))
        history.update(steps=np.array(steps), records=records)
    return history


def train_stf(model: ShallowPLRNN, data, *, n_steps: int = 5000, batch_size: int = 32,
              seq_len: int = 200, tau_f: int = 25, warmup: int = 0, lr: float = 3e-3,
              lr_end: float = 1e-5, clip: float = 10.0, seed: int = 0, noise: float = 0.0,
              forward=None, record=None, record_every: int = 1000,
              show_progress: bool = True, desc: str = "STF training") -> dict:
    """Train ``model`` in place by sparse teacher forcing on ``data`` (shape ``(T, N)``,
    N = model.N): ``n_steps`` Adam updates, each on ``batch_size`` random subsequences of
    ``seq_len`` steps (:func:`course_utils.data.sample_batch`), minimising
    :func:`prediction_loss` of the forced predictions. The learning rate decays
    exponentially from ``lr`` to ``lr_end``; the gradient norm is clipped to ``clip``.

    Keyword arguments

    * ``tau_f = 25``: the forcing interval, in steps (0.25 time units at dt = 0.01).
    * ``warmup = 0``: T_W, the first steps of each subsequence, forced at every step and
      left out of the loss.
    * ``seed = 0``: seeds the batches (the model has its own seed).
    * ``noise = 0.0``: Gaussian noise of ``noise`` times each column's standard deviation,
      drawn anew at each update from its own generator (the batches stay those of
      ``noise = 0``) and added to a step's target and to the next step's forcing signal
      alike, as observation noise would be: a regulariser that spreads the training states
      around the attractor.
    * ``forward = None``: the forced pass ``forward(model, x, tau_f, warmup)``; None is
      :func:`stf_forward_fused` (on the CPU: see the module docstring).
    * ``record = None``: a function ``record(model)`` called before the first update, every
      ``record_every`` updates and after the last, e.g. to follow D_stsp of a short free
      run; its time is not counted in ``seconds``.
    * ``show_progress = True``, ``desc = "STF training"``: a progress bar with the loss
      (silent when ``CI`` is set), and its label.

    The data are moved to the model's device. Returns a dict with ``loss`` (per update,
    NumPy) and ``seconds`` (the training time), and with ``record``, ``steps`` and
    ``records`` (the update numbers and results). Raises :class:`TrainingDiverged`, naming
    the update, as soon as the loss or a gradient is not finite.
    """
    flat_adam = forward is None       # a forward of one's own may hold the parameters' memory
    forward = stf_forward_fused if forward is None else forward

    def loss_of(step, x, y):
        return prediction_loss(forward(model, x, tau_f, warmup), y, warmup)

    return _train_forced(model, data, loss_of, n_steps=n_steps, batch_size=batch_size,
                         seq_len=seq_len, lr=lr, lr_end=lr_end, clip=clip, seed=seed,
                         show_progress=show_progress, desc=desc, record=record,
                         record_every=record_every, noise=noise, flat_adam=flat_adam,
                         advice=f"Lower the learning rate (lr={lr}) or the forcing interval "
                                f"(tau_f={tau_f}), or shorten seq_len={seq_len}")


#: train_gtf estimates alpha from every _ALPHA_STRIDE-th forced state of each sequence.
_ALPHA_STRIDE = 10


def train_gtf(model: ShallowPLRNN, data, *, n_steps: int = 5000, batch_size: int = 32,
              seq_len: int = 200, alpha: float = 1.0, adaptive: bool = True,
              alpha_every: int = 25, alpha_decay: float = 0.995,
              alpha_end: float | None = None, tau_f: int | None = None, warmup: int = 0,
              lr: float = 3e-3, lr_end: float = 1e-5, clip: float = 10.0, seed: int = 0,
              noise: float = 0.0, forward=None, record=None, record_every: int = 1000,
              show_progress: bool = True, desc: str = "GTF training") -> dict:
    """Train ``model`` in place by generalized teacher forcing on ``data`` (shape
    ``(T, N)``): the loop of :func:`train_stf` (batches, learning rate, clipping, ``noise``,
    ``record``), minimising :func:`prediction_loss` of the predictions with
    z~_t[:N] = (1 - alpha) z_t[:N] + alpha x_t at every step.

    Keyword arguments

    * ``alpha = 1.0``: the forcing strength, constant if ``adaptive`` is False, otherwise
      the value it starts from.
    * ``adaptive = True``: every ``alpha_every`` updates, alpha_hat =
      :func:`gtf_alpha_estimate` on every 10th forced state of the batch; alpha jumps up to
      alpha_hat if that is larger, and otherwise relaxes towards it,
      alpha <- ``alpha_decay`` alpha + (1 - ``alpha_decay``) alpha_hat: forcing as weak as
      the bound on the gradients allows, and strong at first, when the model is far from
      the data.
    * ``alpha_end = None``: with ``adaptive = False``, alpha decays exponentially from
      ``alpha`` at the first update to ``alpha_end`` at the last,
      alpha_k = alpha (alpha_end / alpha)^(k / (n_steps - 1)), so that late updates see
      longer free runs; None keeps alpha constant.
    * ``tau_f = None``: every ``tau_f``-th state is also forced fully, w_t = 1 as in
      :func:`train_stf` and alpha between (:func:`forcing_weights` with both), a method
      between STF (alpha = 0) and GTF; None forces by alpha alone.
    * ``warmup = 0``: steps forced fully (alpha = 1) and left out of the loss.
    * ``forward = None``: ``forward(model, x, weights)``; None is
      :func:`forced_forward_fused` (on the CPU: see the module docstring).
    * ``desc = "GTF training"``: the progress bar's label; the other keywords, and their
      defaults, are those of :func:`train_stf`.

    Returns the dict of :func:`train_stf` with ``alpha`` (per update, NumPy) added, and
    raises :class:`TrainingDiverged` as it does. Reference: F. Hess, Z. Monfared, M.
    Brenner, D. Durstewitz, "Generalized teacher forcing for learning chaotic dynamics",
    ICML 2023.
    """
    if not 0.0 <= alpha <= 1.0 or alpha_every < 1 or not 0.0 <= alpha_decay <= 1.0:
        raise ValueError(f"need 0 <= alpha <= 1, alpha_every >= 1 and 0 <= alpha_decay <= 1; "
                         f"got alpha={alpha}, alpha_every={alpha_every}, "
                         f"alpha_decay={alpha_decay}")
    if alpha_end is not None and (adaptive or not 0.0 < alpha_end <= 1.0 or not alpha > 0):
        raise ValueError(f"alpha_end needs adaptive=False, alpha > 0 and 0 < alpha_end <= 1; "
                         f"got alpha_end={alpha_end}, alpha={alpha}, adaptive={adaptive}")
    flat_adam = forward is None       # a forward of one's own may hold the parameters' memory
    forward = forced_forward_fused if forward is None else forward
    alphas = np.empty(n_steps)
    state = dict(alpha=float(alpha))

    def loss_of(step, x, y):
        if adaptive and step % alpha_every == 0:
            weights = forcing_weights(x.shape[1], alpha=state["alpha"], tau_f=tau_f,
                                      warmup=warmup)
            states = forced_states(model, x, weights)[:, ::_ALPHA_STRIDE]
            estimate = gtf_alpha_estimate(model, states)
            a = state["alpha"]
            state["alpha"] = estimate if estimate > a else alpha_decay * a + (
                1 - alpha_decay) * estimate
        elif alpha_end is not None:
            state["alpha"] = alpha * (alpha_end / alpha) ** (step / max(1, n_steps - 1))
        alphas[step] = state["alpha"]
        weights = forcing_weights(x.shape[1], alpha=state["alpha"], tau_f=tau_f,
                                  warmup=warmup)
        return prediction_loss(forward(model, x, weights), y, warmup)

    history = _train_forced(model, data, loss_of, n_steps=n_steps, batch_size=batch_size,
                            seq_len=seq_len, lr=lr, lr_end=lr_end, clip=clip, seed=seed,
                            show_progress=show_progress, desc=desc, record=record,
                            record_every=record_every, noise=noise, flat_adam=flat_adam,
                            advice=f"Lower the learning rate (lr={lr}), or force more "
                                   f"strongly (a larger alpha, or adaptive=True)")
    history["alpha"] = alphas
    return history


def train_sequence_model(model: torch.nn.Module, batches, *, n_steps: int = 1000,
                         lr: float = 1e-3, lr_end: float | None = None, clip: float = 1.0,
                         record=None, record_every: int = 50, show_progress: bool = True,
                         desc: str = "training") -> dict:
    """Train a sequence-to-sequence ``model`` in place with Adam, minimising the mean
    squared error mean((model(u) - y)^2): ``n_steps`` updates, each on a fresh batch
    ``u, y = batches(step)`` (tensors or NumPy arrays of shape ``(B, T, channels)``). If
    ``model(u)`` returns a tuple, its first item is the output (as for
    ``course_utils.models.RNNReadout``).

    Keyword arguments

    * ``lr = 1e-3``, ``lr_end = None``: the learning rate, decayed exponentially to
      ``lr_end`` over the run when that is given.
    * ``clip = 1.0``: the gradient norm is clipped to this value.
    * ``record = None``: a function ``record(model)`` called before the first update, every
      ``record_every`` updates and after the last, e.g. to follow the eigenvalues of a
      recurrent layer as training moves them.
    * ``show_progress = True``, ``desc = "training"``: a progress bar with the loss (silent
      when ``CI`` is set), and its label.

    Returns a dict with ``loss`` (per update, NumPy), ``steps`` and ``records`` (the update
    numbers and results of ``record``) and ``seconds``. Raises :class:`TrainingDiverged`,
    naming the update, as soon as the loss or the gradient norm is not finite.
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
