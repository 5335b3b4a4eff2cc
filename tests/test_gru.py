"""The stack of GRU layers (course_utils.gru.DeepGRU) against torch.nn.GRU run layer by
layer: shapes, the initial state of the first layer only, seeding, and bad shapes."""

import pytest
import torch

from course_utils.gru import DeepGRU


def test_deep_gru_shapes_and_a_single_layer():
    W, C, B, T = 4, 2, 3, 9
    g = torch.Generator().manual_seed(0)
    x0, x = torch.randn(B, W, C, generator=g), torch.randn(B, T, W, C, generator=g)
    deep = DeepGRU(W, C, 0, seed=0)
    gru = torch.nn.GRU(W * C, W * C, batch_first=True)
    gru.load_state_dict(deep.gru.state_dict())
    expected, _ = gru(x.reshape(B, T, W * C), x0.reshape(1, B, W * C))
    y = deep(x0, x)
    assert y.shape == (B, T, W, C)
    assert torch.allclose(y, expected.reshape(B, T, W, C), atol=1e-6)
    assert not torch.allclose(y, deep(torch.zeros_like(x0), x))   # x0 matters


def test_deep_gru_layers_after_the_first_start_at_zero():
    W, C, B, T = 3, 2, 2, 7
    g = torch.Generator().manual_seed(1)
    x0, x = torch.randn(B, W, C, generator=g), torch.randn(B, T, W, C, generator=g)
    deep = DeepGRU(W, C, 1, seed=1)
    assert deep.gru.num_layers == 2
    first, second = (torch.nn.GRU(W * C, W * C, batch_first=True) for _ in range(2))
    state = deep.gru.state_dict()
    first.load_state_dict({k: v for k, v in state.items() if "_l0" in k})
    second.load_state_dict({k.replace("_l1", "_l0"): v for k, v in state.items() if "_l1" in k})
    h, _ = first(x.reshape(B, T, W * C), x0.reshape(1, B, W * C))
    expected, _ = second(h)
    assert torch.allclose(deep(x0, x), expected.reshape(B, T, W, C), atol=1e-6)
    same, other = DeepGRU(W, C, 1, seed=1), DeepGRU(W, C, 1, seed=2)
    assert torch.equal(same(x0, x), deep(x0, x)) and not torch.equal(other(x0, x), deep(x0, x))


def test_deep_gru_rejects_bad_shapes():
    deep = DeepGRU(4, 2, 1, seed=0)
    with pytest.raises(ValueError, match=r"x0 must have shape \(B, W, C\).*got \(3, 2, 4\)"):
        deep(torch.zeros(3, 2, 4), torch.zeros(3, 5, 4, 2))
    with pytest.raises(ValueError, match=r"x must have shape \(B, T, W, C\).*got \(3, 5, 8\)"):
        deep(torch.zeros(3, 4, 2), torch.zeros(3, 5, 8))
    with pytest.raises(ValueError, match=r"x must.*B = 3.*got \(2, 5, 4, 2\)"):
        deep(torch.zeros(3, 4, 2), torch.zeros(2, 5, 4, 2))
    with pytest.raises(ValueError, match="n_layers"):
        DeepGRU(4, 2, -1)
