"""The forced training pass of the shallow PLRNN (STF, GTF, GTF with resets) as CUDA graphs:
the forward pass and its backward pass through time, each captured once and replayed as
one launch per training update.

:class:`GraphedForcing` computes the predictions of
:func:`course_utils.training.forced_forward` from z0 = 0: with per-step forcing weights
w_t (:func:`course_utils.training.forcing_weights`), step t sets
z~_t[:N] = (1 - w_t) z_t[:N] + w_t x_t and applies the model, and the read-outs
z_{t+1}[:N], shape ``(B, T, N)``, are returned, connected to the model's parameters so that
``loss.backward()`` adds their gradients to ``.grad`` as autograd would. The backward pass
is written by hand as in :func:`course_utils.training.forced_forward_fused` (the gradient
dL/dz carried back through the steps, times 1 - w_t on the observed units; the parameter
gradients then as a few large products over all steps), in PyTorch on the model's device,
so that a step costs five kernels forward and six backward.

On a GPU the plain autograd loop (:func:`~course_utils.training.forced_forward`)
launches 30 to 45 small kernels per step, some 6,000 to 9,000 per update at T = 200, one
after the other, and the GPU waits on the launches rather than computes. Captured as two
CUDA graphs (one for the forward pass, one for the backward pass), the 2,200 kernels of
this pass at T = 200 cost one launch per graph; they still run one after the other, since
each step needs the one before. On the CPU, and with ``capture=False``, the same kernels
run eagerly (no graph): the pass that a GPU captures is the one tested on the CPU.

Imports torch. Reference: PyTorch, "CUDA Graphs" (CUDA semantics notes,
https://pytorch.org/docs/stable/notes/cuda.html#cuda-graphs) and
``torch.cuda.CUDAGraph``.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from .models import ShallowPLRNN
from .training import as_forcing_weights

__all__ = ["GraphedForcing"]

_NAMES = ("A", "W1", "W2", "h1", "h2")


class _Pass(torch.autograd.Function):
    """Hands the static buffers of a :class:`GraphedForcing` to autograd: the forward pass
    copies x in and runs (replays) the forward kernels, the backward pass copies the
    read-outs' gradient in, runs the backward kernels and returns copies of the parameter
    gradients."""

    @staticmethod
    def forward(ctx, runner, x, A, W1, W2, h1, h2):
        runner._X.copy_(x)
        runner._run(runner._forward_graph, runner._forward_kernels)
        runner._generation += 1
        ctx.runner, ctx.generation = runner, runner._generation
        return runner._OUT.clone()

    @staticmethod
    def backward(ctx, grad_out):
        runner = ctx.runner
        if ctx.generation != runner._generation:
            raise RuntimeError(
                f"GraphedForcing: a later forward pass (number {runner._generation}) has "
                f"overwritten the static buffers of this one (number {ctx.generation}) before "
                f"its backward pass; call backward() after each forward pass, or use one "
                f"GraphedForcing per pass in flight")
        runner._GO.copy_(grad_out)
        runner._run(runner._backward_graph, runner._backward_kernels)
        return (None, None) + tuple(g.clone() for g in runner._grads)


class GraphedForcing:
    """The forced pass of a :class:`~course_utils.models.ShallowPLRNN` ``model`` for batches
    of ``batch_size`` sequences of ``seq_len`` steps, captured as CUDA graphs when the model
    is on a CUDA device. Calling it as ``graphed(model, x, weights)`` (the ``forward`` of
    :func:`~course_utils.training.train_gtf`) returns the read-outs z_{t+1}[:N], shape
    ``(B, T, N)``, of :func:`~course_utils.training.forced_forward` from z0 = 0 for the
    forcing signals ``x`` (``(B, T, N)``, on the model's device and in its dtype) and the
    per-step forcing weights ``weights`` (``T`` numbers in [0, 1],
    :func:`~course_utils.training.forcing_weights`); ``graphed.stf(model, x, tau_f,
    warmup)`` is the ``forward`` of :func:`~course_utils.training.train_stf`. Gradients
    reach the parameters' ``.grad`` through ``backward()``, as autograd's would; ``x`` gets
    none.

    Keyword arguments

    * ``capture = None``: capture the passes as CUDA graphs; None captures on a CUDA
      device and runs the same kernels eagerly (no graph) on the CPU, True requires a CUDA
      device (a ``ValueError`` otherwise), False never captures (on a GPU: to tell a
      problem of the capture from one of the pass).
    * ``warmup_iters = 3``: forward and backward passes run on a side stream before the
      capture, as PyTorch's CUDA graph notes require (cuBLAS and the allocator set up
      outside the graph); they change no parameter and no ``.grad``.

    Static buffers: the graphs read and write fixed tensors. A call copies ``x`` into the
    input buffer and, when they differ from the last call's, the weights into two weight
    buffers (an adaptive GTF alpha needs no new capture); the parameters are read where
    they are, so in-place updates (an optimiser's step, ``load_state_dict``) are seen by
    the next replay. The predictions and gradients handed out are copies. One pass at a
    time: the backward pass of a call must come before the next call's forward pass
    (a ``RuntimeError`` otherwise), as in a training loop.

    No silent fallback: another model object, a batch of another shape, dtype or device,
    parameters replaced since the capture (``model.to(...)``, a new ``Parameter``) or
    ``x`` that requires a gradient raise a ``ValueError`` naming what was expected and seen;
    a failed capture raises a ``RuntimeError`` with the cause (``capture=False`` runs the
    same pass without graphs, :func:`~course_utils.training.forced_forward` is plain
    autograd). float32 and float64 models; the GPU's float32 products agree with the CPU to
    about 1e-6 relative while TF32 is off (PyTorch's default float32 matmul precision,
    "highest").

    When it is faster: on a GPU, where the plain autograd loop is bound by kernel launches
    (some 6,000 to 9,000 per update at the chapters' T = 200); whether a whole training
    update beats the fused NumPy pass on the CPU (the training default) is measured by
    ``benchmarks/forcing_gpu.py``. On the CPU it is slower than that fused pass and is
    there to test the pass. Attributes: ``captured`` (True when CUDA graphs replay),
    ``capture_seconds`` (warm-up and capture), ``device``, ``dtype``, ``batch_size``,
    ``seq_len``.

    Reference: PyTorch, "CUDA Graphs" (https://pytorch.org/docs/stable/notes/cuda.html
    #cuda-graphs), ``torch.cuda.CUDAGraph`` and ``torch.cuda.graph``.
    """

    def __init__(self, model: ShallowPLRNN, batch_size: int, seq_len: int, *,
                 capture: bool | None = None, warmup_iters: int = 3):
        if not isinstance(model, ShallowPLRNN):
            raise TypeError(f"model must be a ShallowPLRNN; got {type(model).__name__}")
        if int(batch_size) != batch_size or int(seq_len) != seq_len or batch_size < 1 \
                or seq_len < 1:
            raise ValueError(f"batch_size and seq_len must be integers >= 1; got "
                             f"batch_size={batch_size!r}, seq_len={seq_len!r}")
        if int(warmup_iters) != warmup_iters or warmup_iters < 1:
            raise ValueError(f"warmup_iters must be an integer >= 1; got {warmup_iters!r}")
        if capture not in (None, True, False):
            raise ValueError(f"capture must be None, True or False; got {capture!r}")
        params = [getattr(model, name) for name in _NAMES]
        devices = {p.device for p in params}
        dtypes = {p.dtype for p in params}
        if len(devices) != 1 or len(dtypes) != 1:
            raise ValueError(f"the model's parameters must share one device and dtype; got "
                             f"devices {sorted(map(str, devices))} and dtypes "
                             f"{sorted(map(str, dtypes))}")
        self.device, self.dtype = devices.pop(), dtypes.pop()
        if self.dtype not in (torch.float32, torch.float64):
            raise ValueError(f"the model must be float32 or float64; got {self.dtype}")
        on_cuda = self.device.type == "cuda"
        if capture and not on_cuda:
            raise ValueError(f"capture=True needs a model on a CUDA device; got a model on "
                             f"{self.device}")
        self.captured = on_cuda if capture is None else bool(capture)
        self.batch_size, self.seq_len = int(batch_size), int(seq_len)
        self._model = model
        self._params = [p.detach() for p in params]
        self._pointers = [p.data_ptr() for p in params]
        self._generation = 0
        self._weights = None
        self._allocate()
        self._forward_graph = self._backward_graph = None
        start = time.perf_counter()
        if self.captured:
            self._capture(int(warmup_iters))
        self.capture_seconds = time.perf_counter() - start

    # -- buffers and kernels ------------------------------------------------------------

    def _allocate(self):
        B, T = self.batch_size, self.seq_len
        M, L, N = self._model.M, self._model.L, self._model.N
        new = dict(device=self.device, dtype=self.dtype)
        self._X = torch.zeros(B, T, N, **new)          # the forcing signals (input)
        self._w = torch.zeros(T, 1, 1, **new)          # w_t (input)
        self._keep = torch.ones(T, M, **new)           # 1 - w_t on the observed units, 1 else
        self._WX = torch.zeros(T, B, M, **new)         # w_t x_t, zero on the other units
        self._R = torch.zeros(T + 1, B, M, **new)      # z_t before the forcing (z_0 = 0)
        self._S = torch.zeros(T + 1, B, M, **new)      # z~_t after the forcing
        self._H = torch.zeros(T, B, L, **new)          # relu(W2 z~_t + h2)
        self._OUT = torch.zeros(B, T, N, **new)        # read-outs z_{t+1}[:N] (output)
        self._GO = torch.zeros(B, T, N, **new)         # their gradient (input)
        self._GR = torch.zeros(T, B, M, **new)         # the same, zero-padded to M
        self._active = torch.zeros(T, B, L, device=self.device, dtype=torch.bool)
        self._E = torch.zeros(T, B, M, **new)          # dL/dz_{t+1}
        self._G = torch.zeros(T, B, L, **new)          # dL/d(W2 z~_t + h2)
        self._carry = torch.zeros(B, M, **new)         # dL/dz_t from the later steps
        self._ES = torch.zeros(T, B, M, **new)         # dL/dz_{t+1} * z~_t, for dA
        self._grads = [torch.zeros_like(p) for p in self._params]

    def _forward_kernels(self):
        """The forward pass over the static buffers: five kernels per step."""
        A, W1, W2, h1, h2 = self._params
        R, S, H, keep, WX = self._R, self._S, self._H, self._keep, self._WX
        N = self._model.N
        with torch.no_grad():
            torch.mul(self._X.transpose(0, 1), self._w, out=WX[:, :, :N])
            for t in range(self.seq_len):
                torch.addcmul(WX[t], keep[t], R[t], out=S[t])   # forcing: (1 - w) z + w x
                torch.addmm(h2, S[t], W2.t(), out=H[t])
                H[t].relu_()
                torch.addmm(h1, H[t], W1.t(), out=R[t + 1])
                R[t + 1].addcmul_(A, S[t])                        # z_{t+1}
            self._OUT.copy_(R[1:, :, :N].transpose(0, 1))

    def _backward_kernels(self):
        """The backward pass through time over the static buffers (six kernels per step),
        then the parameter gradients as sums over all steps and sequences."""
        A, W1, W2, h1, h2 = self._params
        E, G, S, keep, active, carry = (self._E, self._G, self._S, self._keep,
                                        self._active, self._carry)
        T, B, M = E.shape
        L = G.shape[-1]
        N = self._model.N
        with torch.no_grad():
            self._GR[:, :, :N].copy_(self._GO.transpose(0, 1))
            torch.gt(self._H, 0, out=active)
            carry.zero_()
            for t in range(T - 1, -1, -1):
                torch.add(carry, self._GR[t], out=E[t])
                torch.mm(E[t], W1, out=G[t])
                G[t].mul_(active[t])
                torch.mm(G[t], W2, out=carry)
                carry.addcmul_(A, E[t])                  # dL/dz~_t
                carry.mul_(keep[t])                      # dL/dz_t: the forcing's 1 - w_t
            E2, G2 = E.view(T * B, M), G.view(T * B, L)
            S2 = S[:T].view(T * B, M)
            gA, gW1, gW2, gh1, gh2 = self._grads
            torch.mul(E, S[:T], out=self._ES)
            torch.sum(self._ES.view(T * B, M), dim=0, out=gA)
            torch.mm(E2.t(), self._H.view(T * B, L), out=gW1)
            torch.mm(G2.t(), S2, out=gW2)
            torch.sum(E2, dim=0, out=gh1)
            torch.sum(G2, dim=0, out=gh2)

    def _capture(self, warmup_iters):
        """Warm up on a side stream, then capture the forward and the backward kernels as
        two CUDA graphs on that stream (PyTorch's CUDA graph notes)."""
        try:
            with torch.cuda.device(self.device):
                stream = torch.cuda.Stream(device=self.device)
                stream.wait_stream(torch.cuda.current_stream(self.device))
                with torch.cuda.stream(stream):
                    for _ in range(warmup_iters):
                        self._forward_kernels()
                        self._backward_kernels()
                torch.cuda.current_stream(self.device).wait_stream(stream)
                forward_graph, backward_graph = torch.cuda.CUDAGraph(), torch.cuda.CUDAGraph()
                with torch.cuda.graph(forward_graph, stream=stream):
                    self._forward_kernels()
                with torch.cuda.graph(backward_graph, stream=stream):
                    self._backward_kernels()
                torch.cuda.synchronize(self.device)
        except Exception as err:
            raise RuntimeError(
                f"capturing the forced pass as CUDA graphs failed on {self.device} "
                f"({torch.cuda.get_device_name(self.device)}), batch_size="
                f"{self.batch_size}, seq_len={self.seq_len}, dtype={self.dtype}: "
                f"{type(err).__name__}: {err}. GraphedForcing(..., capture=False) runs the "
                f"same pass without graphs; course_utils.training.forced_forward is plain "
                f"autograd") from err
        self._forward_graph, self._backward_graph = forward_graph, backward_graph

    def _run(self, graph, kernels):
        if graph is None:
            kernels()
        elif self.device.index is None or self.device.index == torch.cuda.current_device():
            graph.replay()
        else:
            with torch.cuda.device(self.device):
                graph.replay()

    # -- calls ---------------------------------------------------------------------------

    def _check(self, model, x):
        if model is not self._model:
            raise ValueError(f"this GraphedForcing was built for another model object "
                             f"(ShallowPLRNN({self._model.extra_repr()}) at "
                             f"{id(self._model):#x}); got {type(model).__name__} at "
                             f"{id(model):#x}: make one GraphedForcing per model")
        for name, ptr in zip(_NAMES, self._pointers):
            p = getattr(model, name)
            if p.data_ptr() != ptr or p.device != self.device or p.dtype != self.dtype:
                raise ValueError(f"the model's parameter {name} was replaced since the "
                                 f"GraphedForcing was built (now on {p.device}, {p.dtype}; "
                                 f"built for {self.device}, {self.dtype}), e.g. by "
                                 f"model.to(...) or a new Parameter: make a new "
                                 f"GraphedForcing; in-place updates need none")
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch.Tensor; got {type(x).__name__}")
        expected = (self.batch_size, self.seq_len, self._model.N)
        if tuple(x.shape) != expected:
            raise ValueError(f"x must have the shape (batch_size, seq_len, N) = {expected} "
                             f"this GraphedForcing was built for; got {tuple(x.shape)}")
        if x.device != self.device or x.dtype != self.dtype:
            raise ValueError(f"x must be on the model's device {self.device} in its dtype "
                             f"{self.dtype}; got {x.device}, {x.dtype}")
        if x.requires_grad:
            raise ValueError("x requires a gradient, which GraphedForcing does not compute "
                             "(only the parameters'); pass x.detach(), or use "
                             "course_utils.training.forced_forward")

    def _set_weights(self, weights):
        if isinstance(weights, torch.Tensor):
            weights = weights.detach().cpu().numpy()
        T = self.seq_len
        weights = as_forcing_weights(weights, T)
        if self._weights is not None and np.array_equal(weights, self._weights):
            return
        keep = np.ones((T, self._model.M))
        keep[:, : self._model.N] = (1.0 - weights)[:, None]
        self._w.copy_(torch.from_numpy(weights).view(T, 1, 1))
        self._keep.copy_(torch.from_numpy(keep))
        self._weights = weights.copy()

    def __call__(self, model: ShallowPLRNN, x: torch.Tensor, weights) -> torch.Tensor:
        """The read-outs z_{t+1}[:N], shape ``(B, T, N)``, of the pass forced with
        ``weights``: ``forward(model, x, weights)`` of
        :func:`~course_utils.training.train_gtf`."""
        self._check(model, x)
        self._set_weights(weights)
        return _Pass.apply(self, x.detach(), *(getattr(model, name) for name in _NAMES))

    def stf(self, model: ShallowPLRNN, x: torch.Tensor, tau_f: int,
            warmup: int = 0) -> torch.Tensor:
        """Sparse teacher forcing with interval ``tau_f`` and ``warmup`` steps forced at
        every step (:func:`~course_utils.training.forcing_weights`): ``forward(model, x,
        tau_f, warmup)`` of :func:`~course_utils.training.train_stf`."""
        from .training import forcing_weights

        if not 0 <= warmup < self.seq_len:
            raise ValueError(f"warmup must be in 0..{self.seq_len - 1} for sequences of "
                             f"length {self.seq_len}; got {warmup}")
        return self(model, x, forcing_weights(self.seq_len, tau_f=tau_f, warmup=warmup))

    def __repr__(self) -> str:
        how = "CUDA graphs" if self.captured else "eager"
        return (f"GraphedForcing(ShallowPLRNN({self._model.extra_repr()}), batch_size="
                f"{self.batch_size}, seq_len={self.seq_len}, {self.device}, {self.dtype}, "
                f"{how})")
