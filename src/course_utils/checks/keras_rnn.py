"""Checks of chapter 02 (the Lyapunov spectrum of a Keras SimpleRNN): the cell's Jacobian and
the batched QR accumulation."""

from __future__ import annotations

import numpy as np

from ._common import fmt as _fmt, ok as _ok

CHAPTER = "02_keras_rnn_lyapunov"
__all__ = ["check_simple_rnn_jacobian", "check_rnn_qr"]

def _small_simple_rnn(tf, units=5, input_dim=3, seed=0):
    """A built tanh SimpleRNN cell with random weights and a clearly nonzero bias."""
    rng = np.random.default_rng(seed)
    rnn = tf.keras.layers.SimpleRNN(units, activation="tanh")
    rnn.build((None, None, input_dim))
    rnn.cell.set_weights([rng.normal(size=(input_dim, units)),
                          1.5 * rng.normal(size=(units, units)) / np.sqrt(units),
                          rng.normal(size=units)])
    return rnn.cell


def check_simple_rnn_jacobian(jacobian_fn) -> None:
    """Check ``jacobian_fn(cell, x, h)``: the Jacobian d h_next / d h of a tanh
    ``SimpleRNNCell`` at the state ``h`` *before* the step, bias and input included,
    for a batch (``x`` of shape ``(B, input_dim)``, ``h`` of shape ``(B, H)``), returned with
    shape ``(B, H, H)``; compared with ``GradientTape.batch_jacobian`` of the cell."""
    from ..runtime import import_tensorflow

    tf = import_tensorflow()
    cell = _small_simple_rnn(tf)
    rng = np.random.default_rng(1)
    x = tf.constant(rng.normal(size=(8, 3)), dtype=tf.float64)
    h = tf.constant(rng.uniform(-1, 1, size=(8, 5)), dtype=tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(h)
        h_next = cell(x, [h])[0]
    expected = tape.batch_jacobian(h_next, h).numpy()
    got = np.asarray(jacobian_fn(cell, x, h), dtype=float)
    assert got.shape == expected.shape, (
        f"for x of shape {tuple(x.shape)} and h of shape {tuple(h.shape)} the Jacobians must "
        f"have shape {expected.shape} (batch, H, H); got {got.shape}")
    if np.allclose(got, expected, rtol=1e-10, atol=1e-10):
        _ok("simple_rnn_jacobian: equals GradientTape.batch_jacobian of the cell")
        return
    kernel, recurrent, bias = (w.numpy() for w in (cell.kernel, cell.recurrent_kernel,
                                                   cell.bias))
    xn, hn = x.numpy(), h.numpy()

    def formula(a, W=recurrent.T):
        return (1 - np.tanh(a) ** 2)[:, :, None] * W[None]

    slips = [
        (np.swapaxes(expected, 1, 2),
         "your J is transposed: row i must hold the derivatives of h_next[i], "
         "J[b, i, j] = d h_next[b, i] / d h[b, j]"),
        (formula(xn @ kernel + hn @ recurrent + bias, recurrent),
         "Keras computes h @ recurrent_kernel (row vectors), so W_h is the transpose of "
         "recurrent_kernel: J[b, i, j] = tanh'(a[b, i]) * recurrent_kernel[j, i]"),
        (formula(xn @ kernel + hn @ recurrent),
         "the bias is missing from the pre-activation a = x @ kernel + h @ recurrent_kernel + bias"),
        (formula(hn @ recurrent + bias),
         "the input term is missing from the pre-activation: a = x @ kernel + "
         "h @ recurrent_kernel + bias"),
        (formula(xn @ kernel + h_next.numpy() @ recurrent + bias),
         "you evaluated tanh' at the state after the step: the derivative belongs to the "
         "pre-activation of this step, a = x @ kernel + h @ recurrent_kernel + bias, with the "
         "state h before the step"),
        ((1 - h_next.numpy() ** 2)[:, None, :] * recurrent.T[None],
         "tanh'(a) scales the rows of J (the output unit i), not its columns"),
        (recurrent.T[None].repeat(8, axis=0), "the derivative of tanh, 1 - tanh(a)^2, is missing"),
    ]
    for wrong, hint in slips:
        if np.allclose(got, wrong, rtol=1e-8, atol=1e-10):
            raise AssertionError(hint)
    b, i, j = np.unravel_index(np.argmax(np.abs(got - expected)), got.shape)
    raise AssertionError(
        f"J[{b}, {i}, {j}] = {got[b, i, j]:.6f} but the cell's derivative is "
        f"{expected[b, i, j]:.6f}. J[b, i, j] = (1 - tanh(a[b, i])^2) * W[j, i] with "
        "a = x @ kernel + h @ recurrent_kernel + bias and W = recurrent_kernel")


def _q_times_j_slip(tf, cell, inputs, h0):
    """The exponents that the slip Q @ J (instead of J @ Q) gives, sorted descending."""
    from ..keras_lyapunov import simple_rnn_jacobian

    B, T, _ = inputs.shape
    H = h0.shape[1]
    Q, h, total = np.broadcast_to(np.eye(H), (B, H, H)).copy(), h0, np.zeros((B, H))
    for t in range(T):
        J = simple_rnn_jacobian(cell, inputs[:, t], h).numpy()
        h = cell(tf.constant(inputs[:, t]), [tf.constant(h)])[0].numpy()
        Q, R = np.linalg.qr(Q @ J)
        total += np.log(np.abs(np.diagonal(R, axis1=1, axis2=2)))
    return np.sort(total / T, axis=1)[:, ::-1]


def check_rnn_qr(spectrum_fn) -> None:
    """Check ``spectrum_fn(cell, inputs, h0, k)``: the k largest Lyapunov exponents of a
    SimpleRNN cell driven by ``inputs`` (``(B, T, input_dim)``) from ``h0`` (``(B, H)``),
    batched over the B sequences, sorted descending, shape ``(B, k)``, per step; compared
    with :func:`course_utils.keras_lyapunov.rnn_lyapunov_spectrum`."""
    from ..runtime import import_tensorflow

    tf = import_tensorflow()
    from ..keras_lyapunov import rnn_lyapunov_spectrum

    cell = _small_simple_rnn(tf, seed=2)
    rng = np.random.default_rng(3)
    inputs = rng.uniform(-1, 1, size=(3, 60, 3))
    h0 = rng.uniform(-1, 1, size=(3, 5))
    # A cell that rests at h = 0 with J = diag(w), w not sorted: the raw order of the
    # exponents is not descending, so an unsorted result shows.
    resting = _small_simple_rnn(tf, seed=4)
    resting.set_weights([np.zeros((3, 5)), np.diag([0.2, 0.5, 0.9, 0.3, 0.7]), np.zeros(5)])
    cases = [(cell, 5), (cell, 2), (resting, 5)]
    for case, (cell, k) in enumerate(cases):
        if case == 2:
            h0 = np.zeros((3, 5))
        expected = rnn_lyapunov_spectrum(cell, inputs, h0, k=k)
        got = np.asarray(spectrum_fn(cell, tf.constant(inputs), tf.constant(h0), k),
                         dtype=float)
        assert got.shape == expected.shape, (
            f"for 3 sequences and k={k} return shape {expected.shape} (B, k); got {got.shape}")
        if np.allclose(got, expected, rtol=1e-8, atol=1e-10):
            continue
        if np.any(np.isnan(got)):
            raise AssertionError("got NaN: take the log of the absolute value of diag(R)")
        if np.allclose(np.sort(got, axis=1)[:, ::-1], expected, atol=1e-10):
            raise AssertionError("sort each row in descending order")
        if np.allclose(got * np.log(10), expected, atol=1e-10):
            raise AssertionError("use the natural log (tf.math.log), not log10")
        if np.allclose(got / inputs.shape[1], expected, atol=1e-10):
            raise AssertionError("divide the summed logs by the number of steps T")
        if case == 0 and np.allclose(np.sort(got, axis=1)[:, ::-1],
                                  _q_times_j_slip(tf, cell, inputs, h0), atol=1e-8):
            raise AssertionError("multiply the new Jacobian from the left, J_t @ Q: the frame "
                                 "is carried forward by the dynamics, Q_t R_t = J_t Q_{t-1}")
        raise AssertionError(
            f"for a tanh SimpleRNN(5) (case {case + 1} of 3), 3 sequences of 60 steps and "
            f"k={k}, expected (first "
            f"sequence) {_fmt(expected[0])}, got {_fmt(got[0])}. At every step: Q, R = "
            "tf.linalg.qr(J @ Q), then add log|diag R| to the running sum")
    _ok("QR accumulation: matches the compiled toolkit for k = H and k < H")


