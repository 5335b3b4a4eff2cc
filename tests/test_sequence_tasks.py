"""The sequence tasks (course_utils.sequence_tasks): the flip-flop and the oscillator bank.
The RNN with read-out is tested in test_models.py, the sequence training loop in
test_training.py."""

import numpy as np
import pytest

from course_utils.sequence_tasks import flipflop_batch, oscillator_bank, oscillator_modes


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


