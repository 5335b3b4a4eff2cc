"""The student checks accept correct work and reject typical mistakes with specific hints."""

import numpy as np
import pytest

from course_utils import checks
from course_utils.henon import henon_jacobian
from course_utils.lyapunov import lyapunov_from_jacobians


def _cell_class(tf, step):
    """A Keras Henon cell whose step is ``step(z, a, b) -> (output, states)``."""
    import keras

    class Cell(keras.layers.Layer):
        def __init__(self, a=1.4, b=0.3, **kwargs):
            super().__init__(**kwargs)
            self.a, self.b = a, b
            self.state_size = 2
            self.output_size = 2

        def call(self, inputs, states):
            return step(tf, states[0], self.a, self.b)

    return Cell


def _right(tf, z, a, b):
    x, y = z[:, 0], z[:, 1]
    new = tf.stack([1.0 - a * x * x + y, b * x], axis=1)
    return new, [new]


def test_reference_cell_passes(tf, capsys):
    from course_utils.keras_cells import HenonCell

    checks.check_henon_cell(HenonCell)
    assert "\u2713 HenonCell" in capsys.readouterr().out


def test_reference_cell_jacobian_is_the_analytic_one(tf):
    from course_utils.keras_cells import HenonCell

    z = tf.constant(np.random.default_rng(3).uniform(-1, 1, (16, 2)), dtype=tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(z)
        z_next, _ = HenonCell()(tf.zeros((16, 1), dtype=tf.float64), [z])
    np.testing.assert_allclose(tape.batch_jacobian(z_next, z).numpy(),
                               henon_jacobian(z.numpy()), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("step, message", [
    (lambda tf, z, a, b: (tf.stack([1.0 + a * z[:, 0] ** 2 + z[:, 1], b * z[:, 0]], 1),) * 2,
     "must be a list holding the next state"),
    (lambda tf, z, a, b: _right(tf, z, a, b)[0], "must return a pair"),
    (lambda tf, z, a, b: [tf.stack([1.0 - a * z[:, 0] ** 2 + z[:, 1], b * z[:, 1]], 1)] * 1
     + [[tf.stack([1.0 - a * z[:, 0] ** 2 + z[:, 1], b * z[:, 1]], 1)]],
     "the y component is wrong"),
    (lambda tf, z, a, b: (lambda n: (n, [n]))(
        tf.stack([1.0 - 1.4 * z[:, 0] ** 2 + z[:, 1], 0.3 * z[:, 0]], 1)),
     "did you use the cell's own a and b"),
    (lambda tf, z, a, b: (lambda n: (n, [n]))(
        tf.stack([1.0 - a * z[0, 0] ** 2 + z[0, 1], b * z[0, 0]])[None]),
     "must have shape"),
])
def test_wrong_cells_get_specific_messages(tf, step, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_henon_cell(_cell_class(tf, step))


def test_float32_cell_is_told_to_use_float64(tf):
    import keras

    keras.config.set_dtype_policy("float32")
    try:
        with pytest.raises(AssertionError, match=r"set_floatx\('float64'\)"):
            checks.check_henon_cell(_cell_class(tf, _right))
    finally:
        keras.config.set_dtype_policy("float64")


def test_jacobian_check():
    checks.check_henon_jacobian(henon_jacobian)
    with pytest.raises(AssertionError, match="transposes"):
        checks.check_henon_jacobian(lambda z, a, b: np.swapaxes(henon_jacobian(z, a, b), 1, 2))

    def wrong_sign(z, a, b):
        J = henon_jacobian(z, a, b)
        J[:, 0, 0] *= -1
        return J
    with pytest.raises(AssertionError, match=r"entry J\[0, 0\]"):
        checks.check_henon_jacobian(wrong_sign)
    with pytest.raises(AssertionError, match=r"shape \(4, 2, 2\)"):
        checks.check_henon_jacobian(lambda z, a, b: henon_jacobian(z, a, b)[0])


def _reference(jacobians, transient=0):
    return lyapunov_from_jacobians(jacobians, transient=transient)


def test_qr_check_accepts_reference():
    checks.check_lyapunov_qr(_reference)


@pytest.mark.parametrize("wrong, message", [
    (lambda J, transient=0: _reference(J, transient)[::-1], "descending"),
    (lambda J, transient=0: _reference(J, transient) / np.log(10), "natural log"),
    (lambda J, transient=0: _reference(J, transient) * len(J), "divide the summed logs"),
    # the transient ignored: averaged over all steps
    (lambda J, transient=0: _reference(J, 0), "transient=100"),
    # the transient skipped without evolving Q through it
    (lambda J, transient=0: _reference(np.asarray(J)[transient:], 0), "transient=100"),
])
def test_qr_check_rejects_typical_mistakes(wrong, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_lyapunov_qr(wrong)


# ------------------------------------------------------------- Keras RNN spectrum checks

def _rnn_jacobian(tf, slip=None):
    """A SimpleRNN Jacobian function, right or with one of the usual slips."""
    def jacobian(cell, x, h):
        W = cell.recurrent_kernel
        a = tf.matmul(x, cell.kernel) + tf.matmul(h, W) + cell.bias
        if slip == "no bias":
            a = a - cell.bias
        if slip == "after the step":
            a = tf.matmul(x, cell.kernel) + tf.matmul(cell(x, [h])[0], W) + cell.bias
        J = (1.0 - tf.tanh(a) ** 2)[:, :, None] * tf.transpose(W)[None]
        return tf.transpose(J, [0, 2, 1]) if slip == "transposed" else J
    return jacobian


def test_simple_rnn_jacobian_check_accepts_the_right_one(tf, capsys):
    from course_utils.keras_lyapunov import simple_rnn_jacobian

    checks.check_simple_rnn_jacobian(_rnn_jacobian(tf))
    checks.check_simple_rnn_jacobian(simple_rnn_jacobian)
    assert capsys.readouterr().out.count("\u2713 simple_rnn_jacobian") == 2


@pytest.mark.parametrize("slip, message", [
    ("transposed", "transpose"),
    ("no bias", "bias is missing"),
    ("after the step", "state after the step"),
])
def test_simple_rnn_jacobian_check_names_the_slip(tf, slip, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_simple_rnn_jacobian(_rnn_jacobian(tf, slip))


def _rnn_spectrum(tf, slip=None):
    """An eager QR loop over a batch of sequences, right or with one of the usual slips."""
    from course_utils.keras_lyapunov import simple_rnn_jacobian

    def spectrum(cell, inputs, h0, k):
        B, T, _ = inputs.shape
        h, Q = h0, tf.eye(h0.shape[1], k, batch_shape=[B], dtype=tf.float64)
        total = tf.zeros((B, k), dtype=tf.float64)
        for t in range(T):
            J = simple_rnn_jacobian(cell, inputs[:, t], h)
            h = cell(inputs[:, t], [h])[0]
            Q, R = tf.linalg.qr(Q @ J if slip == "Q @ J" else J @ Q)
            log = tf.math.log(tf.abs(tf.linalg.diag_part(R)))
            total += log / np.log(10) if slip == "log10" else log
        lam = (total / T).numpy()
        return lam if slip == "unsorted" else -np.sort(-lam, axis=1)
    return spectrum


def test_rnn_qr_check_accepts_the_right_loop(tf, capsys):
    checks.check_rnn_qr(_rnn_spectrum(tf))
    assert "\u2713 QR accumulation" in capsys.readouterr().out


@pytest.mark.parametrize("slip, message", [
    ("Q @ J", "from the left, J_t @ Q"),
    ("log10", "natural log"),
    ("unsorted", "descending"),
])
def test_rnn_qr_check_names_the_slip(tf, slip, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_rnn_qr(_rnn_spectrum(tf, slip))
