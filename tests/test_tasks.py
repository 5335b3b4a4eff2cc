"""The sequence tasks (flip-flop, oscillator bank), the RNN with read-out and the generic
sequence training loop."""

import numpy as np
import pytest
import torch

from course_utils.tasks import flipflop_batch, oscillator_bank, oscillator_modes


def test_flipflop_target_holds_the_last_pulse():
    u, y = flipflop_batch(8, 120, n_bits=3, p=0.1, seed=0)
    assert u.shape == y.shape == (8, 120, 3) and u.dtype == np.float32
    assert set(np.unique(u)) <= {-1.0, 0.0, 1.0} and set(np.unique(y)) <= {-1.0, 1.0}
    for b in range(8):                       # the definition, one channel at a time
        for i in range(3):
            last = None
            for t in range(120):
                if u[b, t, i] != 0:
                    last = u[b, t, i]
                assert y[b, t, i] == last


def test_flipflop_pulses_have_the_rate_and_are_seeded():
    u, _ = flipflop_batch(200, 500, p=0.05, seed=3)
    rate = np.mean(u[:, 1:] != 0)
    assert abs(rate - 0.05) < 0.005
    assert abs(np.mean(u[u != 0])) < 0.05                        # both signs, equally often
    assert np.all(u[:, 0] != 0)                                   # a pulse at t = 0
    np.testing.assert_array_equal(flipflop_batch(4, 50, seed=3)[0], flipflop_batch(4, 50, seed=3)[0])
    assert not np.array_equal(flipflop_batch(4, 50, seed=3)[0], flipflop_batch(4, 50, seed=4)[0])


def test_flipflop_rejects_bad_arguments():
    with pytest.raises(ValueError, match="p=1.5"):
        flipflop_batch(2, 10, p=1.5)


def test_oscillator_modes_have_the_period_and_half_life():
    lam = oscillator_modes([20, 50], [10, 30])
    np.testing.assert_allclose(2 * np.pi / np.angle(lam), [20, 50])
    np.testing.assert_allclose(np.abs(lam) ** np.array([10, 30]), 0.5)


def test_oscillator_bank_is_the_linear_recurrence():
    lam = oscillator_modes([25, 7], [30, 12])
    w = np.array([1.0 + 0.5j, -0.3j])
    u, y = oscillator_bank(3, 200, lam, w, p=0.2, seed=1)
    assert u.shape == y.shape == (3, 200, 1)
    # y is the input convolved with the impulse response Re(sum_j w_j lam_j^k)
    kernel = (w[None, :] * lam[None, :] ** np.arange(200)[:, None]).sum(axis=1).real
    for b in range(3):
        conv = np.convolve(u[b, :, 0].astype(float), kernel)[:200]
        np.testing.assert_allclose(y[b, :, 0], conv, atol=1e-5)


def test_oscillator_bank_rejects_unstable_modes_and_mismatched_weights():
    with pytest.raises(ValueError, match="unit disc"):
        oscillator_bank(1, 10, [1.01], [1.0])
    with pytest.raises(ValueError, match="same length"):
        oscillator_bank(1, 10, [0.5, 0.4], [1.0])


def test_rnn_readout_equals_its_parts_and_is_seeded():
    from course_utils.models import RNNReadout

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


def test_train_sequence_model_learns_and_records():
    from course_utils.models import RNNReadout
    from course_utils.training import train_sequence_model

    torch.manual_seed(0)
    net = RNNReadout(3, 32, 3, seed=0)
    rng = np.random.default_rng(0)
    hist = train_sequence_model(net, lambda s: flipflop_batch(32, 60, seed=rng), n_steps=200,
                                lr=5e-3, record=lambda m: m.rnn.weight_hh_l0.norm().item(),
                                record_every=50, show_progress=False)
    assert hist["loss"].shape == (200,)
    assert hist["loss"][-20:].mean() < 0.5 * hist["loss"][:20].mean()
    np.testing.assert_array_equal(hist["steps"], [0, 50, 100, 150, 200])
    assert len(hist["records"]) == 5 and hist["records"][0] != hist["records"][-1]


def test_train_sequence_model_stops_on_divergence_and_bad_targets():
    from course_utils.models import RNNReadout
    from course_utils.training import TrainingDiverged, train_sequence_model

    net = RNNReadout(1, 4, 1, seed=0)
    bad = lambda s: (np.full((2, 5, 1), np.nan, np.float32), np.zeros((2, 5, 1), np.float32))
    with pytest.raises(TrainingDiverged, match="update 0"):
        train_sequence_model(net, bad, n_steps=3, show_progress=False)
    wrong = lambda s: (np.zeros((2, 5, 1), np.float32), np.zeros((2, 5, 2), np.float32))
    with pytest.raises(ValueError, match=r"targets y have shape \(2, 5, 2\)"):
        train_sequence_model(net, wrong, n_steps=3, show_progress=False)
