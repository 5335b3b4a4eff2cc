"""Recurrent models in PyTorch, written in the notation of the exercise sheets.

Importing this module imports torch; the rest of ``course_utils`` does not.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["ShallowPLRNN", "RNNReadout", "seeded_generator", "reset_uniform"]


class ShallowPLRNN(nn.Module):
    """The shallow piecewise-linear RNN with M latent units, L hidden units and N observed
    units::

        z_t = A * z_{t-1} + W1 ReLU(W2 z_{t-1} + h2) + h1,

    with a diagonal ``A`` (stored as a vector, ``*`` is elementwise) and the observation
    read out as the first N latent units, x_t = z_t[:N]. Parameters, named as on the sheet:
    ``A (M,)``, ``W1 (M, L)``, ``W2 (L, M)``, ``h1 (M,)``, ``h2 (L,)``, so a state dict has
    exactly those keys, in ``dtype`` (float32 by default).

    Initialisation (seeded by ``seed``): A uniform in [0.9, 1.0), W1 and W2 uniform in
    +-1/sqrt(fan_in) scaled by 0.5, h1 = 0, h2 uniform in +-1/sqrt(M). A map that samples
    a flow every dt is close to the identity, and a slowly decaying linear part starts the
    model there; it also keeps the unobserved units' memory across the forcing interval.
    Reference: M. Hess, F. Hess, D. Durstewitz, "Generalized teacher forcing for learning
    chaotic dynamics", ICML 2023 (the shallow PLRNN).
    """

    def __init__(self, M: int, L: int, N: int, *, seed: int | None = None,
                 dtype: torch.dtype = torch.float32):
        super().__init__()
        if not (M >= 1 and L >= 1 and 1 <= N <= M):
            raise ValueError(f"need M >= 1, L >= 1 and 1 <= N <= M; got M={M}, L={L}, N={N}")
        self.M, self.L, self.N = M, L, N
        g = torch.Generator().manual_seed(seed) if seed is not None else None

        def uniform(shape, bound):
            return (torch.rand(shape, generator=g, dtype=torch.float64) * 2 - 1) * bound

        self.A = nn.Parameter((0.9 + 0.1 * torch.rand(M, generator=g, dtype=torch.float64)).to(dtype))
        self.W1 = nn.Parameter((0.5 * uniform((M, L), 1 / math.sqrt(L))).to(dtype))
        self.W2 = nn.Parameter((0.5 * uniform((L, M), 1 / math.sqrt(M))).to(dtype))
        self.h1 = nn.Parameter(torch.zeros(M, dtype=dtype))
        self.h2 = nn.Parameter(uniform((L,), 1 / math.sqrt(M)).to(dtype))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """One step z_{t-1} -> z_t for states of shape ``(..., M)``."""
        return self.A * z + torch.relu(z @ self.W2.T + self.h2) @ self.W1.T + self.h1

    def jacobian(self, z: torch.Tensor) -> torch.Tensor:
        """The Jacobian of one step at the state ``z`` *before* the step,
        J = diag(A) + W1 diag(1[W2 z + h2 > 0]) W2, shape ``(..., M, M)``.
        """
        active = (z @ self.W2.T + self.h2 > 0).to(z.dtype)          # (..., L)
        return torch.diag(self.A) + (self.W1 * active[..., None, :]) @ self.W2

    def observe(self, z: torch.Tensor) -> torch.Tensor:
        """The read-out x_t = z_t[:N], shape ``(..., N)``."""
        return z[..., : self.N]

    def generate(self, x0: torch.Tensor, n_steps: int, *, z0: torch.Tensor | None = None,
                 show_progress: bool = False) -> torch.Tensor:
        """A free-running orbit Z = (z_0, z_1 = F(z_0), ..., z_{n_steps-1}), shape
        ``(n_steps, M)`` or ``(B, n_steps, M)``, without gradients. The initial state has
        the observation ``x0`` (shape ``(N,)`` or ``(B, N)``) in its first N units and zeros
        in the others, unless a whole initial state ``z0`` (``(M,)`` or ``(B, M)``) is given
        instead. The read-outs are ``Z[..., :N]``. On the model's device (``x0`` or ``z0``
        is moved there). ``show_progress`` shows a progress bar.
        """
        if z0 is None:
            x0 = torch.as_tensor(x0, dtype=self.A.dtype, device=self.A.device)
            if x0.shape[-1] != self.N or x0.ndim > 2:
                raise ValueError(f"x0 must have shape (N,) or (B, N) with N = {self.N}; got "
                                 f"{tuple(x0.shape)}")
            z = torch.cat([x0, x0.new_zeros(x0.shape[:-1] + (self.M - self.N,))], dim=-1)
        else:
            z = torch.as_tensor(z0, dtype=self.A.dtype, device=self.A.device)
            if z.shape[-1] != self.M or z.ndim > 2:
                raise ValueError(f"z0 must have shape (M,) or (B, M) with M = {self.M}; got "
                                 f"{tuple(z.shape)}")
        if n_steps < 1:
            raise ValueError(f"n_steps must be >= 1; got {n_steps}")
        out = z.new_empty(z.shape[:-1] + (n_steps, self.M))
        steps = range(n_steps)
        if show_progress:
            from .runtime import progress

            steps = progress(steps, desc="generating")
        with torch.no_grad():
            for t in steps:
                out[..., t, :] = z
                z = self(z)
        return out

    def extra_repr(self) -> str:
        return f"M={self.M}, L={self.L}, N={self.N}"


class RNNReadout(nn.Module):
    """A single-layer Elman RNN (``torch.nn.RNN``, batch first) with a linear read-out::

        h_t = phi(W_ih u_t + b_ih + W_hh h_{t-1} + b_hh),    y_t = W_out h_t + b_out,

    phi = tanh or ReLU (``nonlinearity``, "tanh" by default). The recurrent part is the
    attribute ``rnn``, so that ``course_utils.linearization.Linearization(model.rnn)``
    analyses its dynamics; the read-out is ``readout``. ``forward(u, h0=None)`` takes inputs
    ``(B, T, n_in)`` (or ``(T, n_in)``) and returns ``(y, h)``: the outputs
    ``(B, T, n_out)`` and the hidden states ``(B, T, n_hidden)`` of every step. Weights use
    PyTorch's default initialisation, seeded by ``seed``, in ``dtype`` (float32 by default).
    """

    def __init__(self, n_in: int, n_hidden: int, n_out: int, *, nonlinearity: str = "tanh",
                 seed: int | None = None, dtype: torch.dtype = torch.float32):
        super().__init__()
        if min(n_in, n_hidden, n_out) < 1:
            raise ValueError(f"n_in, n_hidden and n_out must be >= 1; got {n_in}, {n_hidden}, "
                             f"{n_out}")
        state = torch.random.get_rng_state()
        if seed is not None:
            torch.manual_seed(seed)
        try:
            self.rnn = nn.RNN(n_in, n_hidden, nonlinearity=nonlinearity, batch_first=True,
                              dtype=dtype)
            self.readout = nn.Linear(n_hidden, n_out, dtype=dtype)
        finally:
            if seed is not None:
                torch.random.set_rng_state(state)
        self.n_in, self.n_hidden, self.n_out = n_in, n_hidden, n_out

    def forward(self, u: torch.Tensor, h0: torch.Tensor | None = None):
        """Return ``(y, h)``, the outputs and the hidden states for the inputs ``u``, from
        the initial state ``h0`` (default zeros)."""
        if u.ndim not in (2, 3) or u.shape[-1] != self.n_in:
            raise ValueError(f"u must have shape (B, T, n_in) or (T, n_in) with n_in = "
                             f"{self.n_in}; got {tuple(u.shape)}")
        if h0 is not None:
            h0 = h0.reshape(1, -1, self.n_hidden) if u.ndim == 3 else h0.reshape(1, self.n_hidden)
        h, _ = self.rnn(u, h0)
        return self.readout(h), h

    def extra_repr(self) -> str:
        return f"n_in={self.n_in}, n_hidden={self.n_hidden}, n_out={self.n_out}"


def seeded_generator(seed: int | None):
    """A CPU ``torch.Generator`` seeded with ``seed``, or None for ``seed=None`` (PyTorch's
    global generator)."""
    return torch.Generator().manual_seed(seed) if seed is not None else None


def reset_uniform(module: nn.Module, g) -> None:
    """PyTorch's default initialisation of Linear and GRU layers, uniform in +-1/sqrt(n),
    n = fan-in (Linear) or hidden size (GRU), drawn from the generator g (if not None)."""
    if g is None:
        return
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.Linear):
                k = 1 / math.sqrt(m.in_features)
            elif isinstance(m, nn.GRU):
                k = 1 / math.sqrt(m.hidden_size)
            else:
                continue
            for p in m.parameters(recurse=False):
                p.uniform_(-k, k, generator=g)
