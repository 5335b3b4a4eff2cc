"""Lyapunov spectra of Keras RNN cells, against autodiff, the NumPy estimator and exact
values (Henon map, linear maps). All in float64."""

import numpy as np
import pytest

from course_utils.henon import HENON_LYAPUNOV, henon_jacobian, henon_orbit
from course_utils.lyapunov import lyapunov_from_jacobians


@pytest.fixture(scope="module")
def kl(tf):
    from course_utils import keras_lyapunov

    return keras_lyapunov


def simple_rnn(tf, units, input_dim, activation="tanh", seed=0, gain=1.0, bias=0.5):
    """A built SimpleRNN layer with random weights (a nonzero bias)."""
    rng = np.random.default_rng(seed)
    rnn = tf.keras.layers.SimpleRNN(units, activation=activation)
    rnn.build((None, None, input_dim))
    rnn.cell.set_weights([rng.normal(size=(input_dim, units)),
                          gain * rng.normal(size=(units, units)) / np.sqrt(units),
                          bias * rng.normal(size=units)])
    return rnn


def autodiff_jacobian(tf, cell, x, h):
    h = tf.constant(h)
    with tf.GradientTape() as tape:
        tape.watch(h)
        out = cell(tf.constant(x), [h])[1][0]
    return tape.batch_jacobian(out, h).numpy()


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_simple_rnn_jacobian_matches_autodiff_and_is_sensitive(tf, kl, activation):
    rng = np.random.default_rng(1)
    rnn = simple_rnn(tf, 6, 3, activation, bias=1.0)
    x, h = rng.normal(size=(64, 3)), rng.normal(size=(64, 6))
    reference = autodiff_jacobian(tf, rnn.cell, x, h)
    J = kl.simple_rnn_jacobian(rnn, x, h).numpy()  # the layer is accepted as well
    assert J.shape == (64, 6, 6)
    np.testing.assert_allclose(J, reference, rtol=0, atol=1e-10)

    # The test would catch the two usual slips: no bias, and phi' at the new state.
    kernel, recurrent, bias = rnn.cell.get_weights()
    dphi = {"tanh": lambda a: 1 - np.tanh(a) ** 2, "relu": lambda a: (a > 0) * 1.0}[activation]
    h_next = rnn.cell(x, [h])[0].numpy()
    for a in (x @ kernel + h @ recurrent, x @ kernel + h_next @ recurrent + bias):
        wrong = dphi(a)[:, :, None] * recurrent.T[None]
        assert np.abs(wrong - reference).max() > 1e-2


def test_simple_rnn_jacobian_errors(tf, kl):
    rnn = simple_rnn(tf, 4, 2)
    with pytest.raises(ValueError) as info:
        kl.simple_rnn_jacobian(rnn, np.zeros((3, 2)), np.zeros((5, 4)))
    assert "(3, 2)" in str(info.value) and "(5, 4)" in str(info.value)
    elu = tf.keras.layers.SimpleRNN(4, activation="elu")
    elu.build((None, None, 2))
    with pytest.raises(ValueError, match="elu"):
        kl.simple_rnn_jacobian(elu, np.zeros((3, 2)), np.zeros((3, 4)))


def test_cell_jacobian_of_henon_cell(tf, kl):
    from course_utils.keras_cells import HenonCell

    z = np.random.default_rng(2).uniform(-1.3, 1.3, size=(32, 2))
    J = kl.cell_jacobian(HenonCell(), np.zeros((32, 1)), z).numpy()
    np.testing.assert_allclose(J, henon_jacobian(z), rtol=1e-14, atol=1e-14)


def test_henon_exponents_and_sum_rule(tf, kl):
    from course_utils.keras_cells import HenonCell

    # 128 orbits of 4000 steps: the batch mean has a standard error of about 5e-4.
    z0 = np.random.default_rng(3).uniform(-0.1, 0.1, size=(128, 2))
    start = henon_orbit(z0, 1, transient=1000)[:, 0]  # on the attractor
    lam = kl.rnn_lyapunov_spectrum(tf.keras.layers.RNN(HenonCell()), np.zeros((128, 4000, 1)),
                                   start, transient=20)
    assert lam.shape == (128, 2)
    assert np.all(lam[:, 0] > lam[:, 1])
    np.testing.assert_allclose(lam.mean(axis=0), HENON_LYAPUNOV, atol=2e-3)
    np.testing.assert_allclose(lam.sum(axis=1), np.log(0.3), rtol=1e-6)  # every orbit


def test_linear_simple_rnn_gives_log_moduli_of_eigenvalues(tf, kl):
    # h_next = h @ W + ...: the Jacobian is W^T, non-normal, with eigenvalues
    # 0.9 e^{+-0.7i}, 0.5 and 0.2. Inputs and bias do not change a linear map's exponents.
    rng = np.random.default_rng(4)
    P = rng.normal(size=(4, 4))
    rot = 0.9 * np.array([[np.cos(0.7), -np.sin(0.7)], [np.sin(0.7), np.cos(0.7)]])
    D = np.zeros((4, 4))
    D[:2, :2], D[2, 2], D[3, 3] = rot, 0.5, 0.2
    W = P @ D @ np.linalg.inv(P)
    rnn = simple_rnn(tf, 4, 2, activation="linear")
    rnn.cell.recurrent_kernel.assign(W)
    lam = kl.rnn_lyapunov_spectrum(rnn, rng.normal(size=(2, 4000, 2)),
                                   rng.normal(size=(2, 4)), transient=200)
    expected = np.log([0.9, 0.9, 0.5, 0.2])
    np.testing.assert_allclose(lam, np.broadcast_to(expected, (2, 4)), atol=2e-3)


def test_tanh_rnn_agrees_with_numpy_estimator(tf, kl):
    rng = np.random.default_rng(5)
    B, T, H = 3, 150, 8
    rnn = simple_rnn(tf, H, 2, "tanh", gain=1.5)
    inputs, h0 = rng.uniform(-1, 1, size=(B, T, 2)), rng.uniform(-1, 1, size=(B, H))
    # The orbit step by step, and the Jacobians at the state before each step.
    states, h = [], h0
    for t in range(T):
        states.append(h)
        h = rnn.cell(inputs[:, t], [h])[0].numpy()
    states = np.stack(states, axis=1)                     # (B, T, H): h_0 .. h_{T-1}
    J = kl.simple_rnn_jacobian(rnn, inputs.reshape(B * T, 2), states.reshape(B * T, H))
    J = J.numpy().reshape(B, T, H, H)
    ref, ref_history = lyapunov_from_jacobians(J, transient=10, return_history=True)
    lam, history = kl.rnn_lyapunov_spectrum(rnn, inputs, h0, transient=10,
                                            return_history=True)
    assert lam.shape == (B, H) and history.shape == (B, T - 10, H)
    np.testing.assert_allclose(lam, ref, rtol=0, atol=1e-8)
    np.testing.assert_allclose(history, ref_history, rtol=0, atol=1e-8)
    np.testing.assert_array_equal(history[:, -1], lam)
    assert np.all(np.diff(lam, axis=1) <= 0)  # descending
    # The autodiff route and a user's callable give the same exponents.
    auto = kl.rnn_lyapunov_spectrum(rnn, inputs, h0, transient=10, jacobian="autodiff")
    np.testing.assert_allclose(auto, lam, rtol=0, atol=1e-10)
    own = kl.rnn_lyapunov_spectrum(rnn, inputs, h0, transient=10,
                                   jacobian=lambda cell, x, h: kl.cell_jacobian(cell, x, h))
    np.testing.assert_allclose(own, lam, rtol=0, atol=1e-10)


def test_k_dt_and_no_retracing(tf, kl):
    rng = np.random.default_rng(6)
    rnn = simple_rnn(tf, 6, 2, "tanh", gain=1.5, seed=6)
    inputs, h0 = rng.uniform(-1, 1, size=(4, 300, 2)), rng.uniform(-1, 1, size=(4, 6))
    full = kl.rnn_lyapunov_spectrum(rnn, inputs, h0, transient=5)
    top = kl.rnn_lyapunov_spectrum(rnn, inputs, h0, k=2, transient=5)
    assert top.shape == (4, 2)
    np.testing.assert_allclose(top, full[:, :2], rtol=0, atol=1e-10)
    np.testing.assert_allclose(kl.rnn_lyapunov_spectrum(rnn, inputs, h0, transient=5, dt=0.25),
                               full / 0.25, rtol=1e-12)
    # New lengths and batch sizes reuse the compiled function; new weights are seen.
    compiled = kl._compiled(rnn.cell, "auto", 6, False, 2, 1)
    traces = compiled.experimental_get_tracing_count()
    kl.rnn_lyapunov_spectrum(rnn, inputs[:2, :100], h0[:2])
    kl.rnn_lyapunov_spectrum(rnn, inputs[:3, :50], h0[:3], transient=7)
    assert compiled.experimental_get_tracing_count() == traces
    rnn.cell.recurrent_kernel.assign(0.5 * rnn.cell.recurrent_kernel)
    assert not np.allclose(kl.rnn_lyapunov_spectrum(rnn, inputs, h0, transient=5), full)


def test_reortho_every_gives_the_same_exponents_and_warns_when_too_sparse(tf, kl):
    rng = np.random.default_rng(7)
    rnn = simple_rnn(tf, 6, 2, "tanh", gain=1.5, seed=7)
    inputs, h0 = rng.uniform(-1, 1, size=(3, 203, 2)), rng.uniform(-1, 1, size=(3, 6))
    every, every_history = kl.rnn_lyapunov_spectrum(rnn, inputs, h0, transient=7,
                                                    return_history=True)
    fourth, history = kl.rnn_lyapunov_spectrum(rnn, inputs, h0, transient=7, reortho_every=4,
                                               return_history=True)
    np.testing.assert_allclose(fourth, every, rtol=0, atol=1e-10)   # 203 - 7 = 4 * 49
    np.testing.assert_allclose(history[:, 3::4], every_history[:, 3::4], rtol=0, atol=1e-10)
    spread = float(np.max(every[:, 0] - every[:, -1]))
    too_many = int(0.5 * np.log(1 / np.finfo(np.float64).eps) / spread) + 2
    with pytest.warns(RuntimeWarning, match=rf"reortho_every={too_many} is too large"):
        kl.rnn_lyapunov_spectrum(rnn, inputs, h0, transient=7, reortho_every=too_many)
    with pytest.raises(ValueError, match="reortho_every must be a positive integer; got 0"):
        kl.rnn_lyapunov_spectrum(rnn, inputs, h0, reortho_every=0)


def test_errors_name_the_argument_and_shapes(tf, kl):
    rnn = simple_rnn(tf, 4, 2)
    inputs, h0 = np.zeros((3, 10, 2)), np.zeros((3, 4))
    with pytest.raises(ValueError, match="batch size") as info:
        kl.rnn_lyapunov_spectrum(rnn, inputs, np.zeros((5, 4)))
    assert "(3, 10, 2)" in str(info.value) and "(5, 4)" in str(info.value)
    for k in (0, 5):
        with pytest.raises(ValueError, match=rf"k must be in 1\.\.4 .*got {k}"):
            kl.rnn_lyapunov_spectrum(rnn, inputs, h0, k=k)
    for transient in (-1, 10):
        with pytest.raises(ValueError, match=rf"transient must be in 0\.\.9 .*got {transient}"):
            kl.rnn_lyapunov_spectrum(rnn, inputs, h0, transient=transient)
    with pytest.raises(ValueError, match=r"inputs .*\(3, 2\)"):
        kl.rnn_lyapunov_spectrum(rnn, np.zeros((3, 2)), h0)
    with pytest.raises(ValueError, match=r"h0 .*\(3, 5\)"):
        kl.rnn_lyapunov_spectrum(rnn, inputs, np.zeros((3, 5)))
    with pytest.raises(ValueError, match=r"h0 .*\(3, 4, 1\)"):
        kl.rnn_lyapunov_spectrum(rnn, inputs, np.zeros((3, 4, 1)))
    with pytest.raises(ValueError, match="single tensor"):
        kl.rnn_lyapunov_spectrum(tf.keras.layers.LSTM(4), inputs, h0)
    with pytest.raises(ValueError, match="jacobian"):
        kl.rnn_lyapunov_spectrum(rnn, inputs, h0, jacobian="numeric")
