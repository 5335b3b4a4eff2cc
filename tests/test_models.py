"""The models (course_utils.models): the shallow PLRNN (parameters named and shaped as on
the sheet, seeding, its Jacobian against autograd, free-running generation), the RNN with
read-out, and the seeded initialisation the other models share (seeded_generator,
reset_uniform)."""

import math

import pytest
import torch
from torch import nn

from course_utils.models import RNNReadout, ShallowPLRNN, reset_uniform, seeded_generator


def _model(M=7, L=13, N=3, seed=1, dtype=torch.float64):
    return ShallowPLRNN(M, L, N, seed=seed, dtype=dtype)


# ----------------------------------------------------------------- the shallow PLRNN

def test_shallow_plrnn_parameters_and_seed():
    model = ShallowPLRNN(20, 50, 3, seed=4)
    shapes = {name: tuple(p.shape) for name, p in model.state_dict().items()}
    assert shapes == {"A": (20,), "W1": (20, 50), "W2": (50, 20), "h1": (20,), "h2": (50,)}
    again = ShallowPLRNN(20, 50, 3, seed=4)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(),
                                                 again.state_dict().values()))
    z = torch.randn(7, 20)
    assert model(z).shape == (7, 20) and model.observe(z).shape == (7, 3)
    with pytest.raises(ValueError, match="N=30"):
        ShallowPLRNN(20, 50, 30)


def test_state_dict_has_the_sheet_names_and_shapes():
    shapes = {k: tuple(v.shape) for k, v in _model(M=5, L=9, N=2).state_dict().items()}
    assert shapes == {"A": (5,), "W1": (5, 9), "W2": (9, 5), "h1": (5,), "h2": (9,)}


def test_plrnn_jacobian_agrees_with_autograd():
    g = torch.Generator().manual_seed(3)
    model = ShallowPLRNN(20, 50, 3, seed=1, dtype=torch.float64)
    z = torch.randn(16, 20, generator=g, dtype=torch.float64)
    with torch.no_grad():
        analytic = model.jacobian(z)
    autograd = torch.stack([torch.autograd.functional.jacobian(lambda v: model(v[None])[0], zi)
                            for zi in z])
    torch.testing.assert_close(analytic, autograd, rtol=1e-10, atol=1e-10)


def test_generate_iterates_the_model_from_the_observation():
    model = _model()
    x0 = torch.tensor([0.3, -0.2, 0.5], dtype=torch.float64)
    Z = model.generate(x0, 20)
    assert Z.shape == (20, 7)
    torch.testing.assert_close(Z[0], torch.cat([x0, torch.zeros(4, dtype=torch.float64)]))
    torch.testing.assert_close(Z[1:], model(Z[:-1]), rtol=0, atol=1e-15)
    batch = model.generate(torch.stack([x0, -x0]), 20)
    assert batch.shape == (2, 20, 7)
    torch.testing.assert_close(batch[0], Z)
    with pytest.raises(ValueError, match=r"x0 must have shape \(N,\) or \(B, N\) with N = 3"):
        model.generate(torch.zeros(2), 5)


# ----------------------------------------------------------------- the RNN with read-out

def test_rnn_readout_equals_its_parts_and_is_seeded():
    net = RNNReadout(3, 7, 2, seed=0, dtype=torch.float64)
    u = torch.randn(4, 9, 3, dtype=torch.float64)
    y, h = net(u)
    assert y.shape == (4, 9, 2) and h.shape == (4, 9, 7)
    h_t = torch.zeros(4, 7, dtype=torch.float64)
    for t in range(9):                        # the recurrence written out
        h_t = torch.tanh(u[:, t] @ net.rnn.weight_ih_l0.T + net.rnn.bias_ih_l0
                         + h_t @ net.rnn.weight_hh_l0.T + net.rnn.bias_hh_l0)
        torch.testing.assert_close(h[:, t], h_t)
    torch.testing.assert_close(y, h @ net.readout.weight.T + net.readout.bias)
    same = RNNReadout(3, 7, 2, seed=0, dtype=torch.float64)
    assert all(torch.equal(p, q) for p, q in zip(net.parameters(), same.parameters()))
    other = RNNReadout(3, 7, 2, seed=1, dtype=torch.float64)
    assert not torch.equal(net.rnn.weight_hh_l0, other.rnn.weight_hh_l0)
    with pytest.raises(ValueError, match=r"u must have shape .* got \(4, 9, 5\)"):
        net(torch.zeros(4, 9, 5, dtype=torch.float64))


# ----------------------------------------------------------------- seeded initialisation

def test_seeded_generator_gives_the_same_numbers_for_the_same_seed():
    a, b, c = seeded_generator(3), seeded_generator(3), seeded_generator(4)
    assert isinstance(a, torch.Generator) and a.device.type == "cpu"
    x = torch.rand(100, generator=a)
    assert torch.equal(x, torch.rand(100, generator=b))
    assert not torch.equal(x, torch.rand(100, generator=c))
    assert seeded_generator(None) is None          # PyTorch's global generator


def _layers():
    """Linear and GRU layers (reset) beside a layer that reset_uniform leaves alone."""
    return nn.ModuleDict({"mlp": nn.Sequential(nn.Linear(4, 9), nn.Tanh(), nn.Linear(9, 2)),
                          "norm": nn.LayerNorm(9), "gru": nn.GRU(3, 16, num_layers=2)})


def _state(module):
    return {name: p.detach().clone() for name, p in module.named_parameters()}


def test_reset_uniform_with_the_same_seed_gives_the_same_weights():
    first, second = _layers(), _layers()        # PyTorch's initialisation: two draws
    assert not torch.equal(first["mlp"][0].weight, second["mlp"][0].weight)
    reset_uniform(first, seeded_generator(7))
    reset_uniform(second, seeded_generator(7))
    one, two = _state(first), _state(second)
    assert all(torch.equal(one[name], two[name]) for name in one)
    reset_uniform(second, seeded_generator(8))
    assert not torch.equal(one["mlp.0.weight"], second["mlp"][0].weight)


def test_reset_uniform_without_a_generator_leaves_the_weights_untouched():
    module = _layers()
    before = _state(module)
    reset_uniform(module, None)
    after = _state(module)
    assert all(torch.equal(before[name], after[name]) for name in before)


def test_reset_uniform_draws_within_the_default_bounds():
    """Uniform in +-1/sqrt(n): n is the fan-in of a Linear layer, the hidden size of a GRU;
    other layers (here a LayerNorm) keep their weights."""
    module = _layers()
    reset_uniform(module, seeded_generator(0))
    for layer, k in ((module["mlp"][0], 1 / math.sqrt(4)), (module["mlp"][2], 1 / math.sqrt(9)),
                     (module["gru"], 1 / math.sqrt(16))):
        values = torch.cat([p.detach().flatten() for p in layer.parameters()])
        assert values.abs().max() <= k, layer
        assert values.abs().max() > 0.75 * k, layer   # the whole range, not a narrower one
        assert values.min() < 0 < values.max(), layer
    assert torch.equal(module["norm"].weight.detach(), torch.ones(9))
    assert torch.equal(module["norm"].bias.detach(), torch.zeros(9))
