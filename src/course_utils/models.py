"""Recurrent models in PyTorch, written in the notation of the exercise sheets.

Importing this module imports torch; the rest of ``course_utils`` does not.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["ShallowPLRNN"]


class ShallowPLRNN(nn.Module):
    """ShallowPLRNN(M, L, N; seed=None, dtype=torch.float32) → model

    The shallow piecewise-linear RNN with M latent units, L hidden units and N observed
    units::

        z_t = A * z_{t-1} + W1 ReLU(W2 z_{t-1} + h2) + h1,

    with a diagonal ``A`` (stored as a vector, ``*`` is elementwise) and the observation
    read out as the first N latent units, x_t = z_t[:N]. Parameters, named as on the sheet:
    ``A (M,)``, ``W1 (M, L)``, ``W2 (L, M)``, ``h1 (M,)``, ``h2 (L,)``, so a state dict has
    exactly those keys.

    Initialisation (seeded by ``seed``): A uniform in [0.5, 0.9] (a stable linear part),
    W1 and W2 uniform in +-1/sqrt(fan_in) scaled by 0.5, h1 = 0, h2 uniform in +-1/sqrt(M).
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

        self.A = nn.Parameter((0.5 + 0.4 * torch.rand(M, generator=g, dtype=torch.float64)).to(dtype))
        self.W1 = nn.Parameter((0.5 * uniform((M, L), 1 / math.sqrt(L))).to(dtype))
        self.W2 = nn.Parameter((0.5 * uniform((L, M), 1 / math.sqrt(M))).to(dtype))
        self.h1 = nn.Parameter(torch.zeros(M, dtype=dtype))
        self.h2 = nn.Parameter(uniform((L,), 1 / math.sqrt(M)).to(dtype))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """One step z_{t-1} -> z_t for states of shape ``(..., M)``."""
        return self.A * z + torch.relu(z @ self.W2.T + self.h2) @ self.W1.T + self.h1

    def jacobian(self, z: torch.Tensor) -> torch.Tensor:
        """jacobian(z) → J, shape ``(..., M, M)``

        The Jacobian of one step at the state ``z`` *before* the step,
        J = diag(A) + W1 diag(1[W2 z + h2 > 0]) W2.
        """
        active = (z @ self.W2.T + self.h2 > 0).to(z.dtype)          # (..., L)
        return torch.diag(self.A) + (self.W1 * active[..., None, :]) @ self.W2

    def observe(self, z: torch.Tensor) -> torch.Tensor:
        """The read-out x_t = z_t[:N], shape ``(..., N)``."""
        return z[..., : self.N]

    def extra_repr(self) -> str:
        return f"M={self.M}, L={self.L}, N={self.N}"
