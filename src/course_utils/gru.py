"""A stack of GRU layers in PyTorch: the nonlinear baseline beside the linear recurrent
units of :mod:`course_utils.lru`. Importing this module imports torch.
"""

from __future__ import annotations

import torch
from torch import nn

from .models import reset_uniform, seeded_generator

__all__ = ["DeepGRU"]


class DeepGRU(nn.Module):
    """The nonlinear baseline: a stack of ``n_layers + 1`` GRU layers (attribute ``gru``, a
    ``torch.nn.GRU`` with ``input_size = hidden_size = d_model * n_vars``, batch first)
    over sequences of ``(W, C) = (d_model, n_vars)`` arrays. ``forward(x0, x)`` takes the
    initial state ``x0 (B, W, C)`` of the first layer (the other layers start at zero) and
    the inputs ``x (B, T, W, C)``, flattens (W, C) to W C features, and returns the
    outputs of the last layer reshaped to ``(B, T, W, C)``. Each layer computes
    ``h_t = (1 - z_t) * n_t + z_t * h_{t-1}`` with the update gate ``z_t``, the reset gate
    ``r_t`` and ``n_t = tanh(W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))``. PyTorch's
    default initialisation, uniform in +-1/sqrt(W C), drawn from ``seed``, in ``dtype``
    (default float32). Reference: K. Cho et al., "Learning phrase representations using RNN
    encoder-decoder for statistical machine translation", EMNLP 2014.
    """

    def __init__(self, d_model: int, n_vars: int, n_layers: int, *, seed: int | None = None,
                 dtype: torch.dtype = torch.float32):
        super().__init__()
        if d_model < 1 or n_vars < 1 or n_layers < 0:
            raise ValueError(f"need d_model >= 1, n_vars >= 1 and n_layers >= 0; got "
                             f"d_model={d_model}, n_vars={n_vars}, n_layers={n_layers}")
        self.d_model, self.n_vars, self.n_layers = d_model, n_vars, n_layers
        n = d_model * n_vars
        self.gru = nn.GRU(input_size=n, hidden_size=n, num_layers=n_layers + 1,
                          batch_first=True, dtype=dtype)
        reset_uniform(self.gru, seeded_generator(seed))

    def forward(self, x0: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Return the outputs ``y`` of the last layer, shape ``(B, T, W, C)``, for the initial
        state ``x0`` ``(B, W, C)`` and the inputs ``x`` ``(B, T, W, C)``."""
        W, C = self.d_model, self.n_vars
        if x0.ndim != 3 or tuple(x0.shape[1:]) != (W, C):
            raise ValueError(f"x0 must have shape (B, W, C) with (W, C) = ({W}, {C}); got "
                             f"{tuple(x0.shape)}")
        if x.ndim != 4 or tuple(x.shape[2:]) != (W, C) or x.shape[0] != x0.shape[0]:
            raise ValueError(f"x must have shape (B, T, W, C) with B = {x0.shape[0]} (the "
                             f"batch of x0) and (W, C) = ({W}, {C}); got {tuple(x.shape)}")
        B, T = x.shape[:2]
        dtype = self.gru.weight_ih_l0.dtype
        h0 = x0.reshape(1, B, W * C).to(dtype)
        h0 = torch.cat([h0, h0.new_zeros(self.n_layers, B, W * C)], dim=0)
        y, _ = self.gru(x.reshape(B, T, W * C).to(dtype), h0)
        return y.reshape(B, T, W, C)

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, n_vars={self.n_vars}, n_layers={self.n_layers}"
