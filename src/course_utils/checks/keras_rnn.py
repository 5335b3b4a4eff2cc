"""Checks of chapter 02 (the Lyapunov spectrum of a Keras SimpleRNN): the cell's Jacobian and
the batched QR accumulation."""

from __future__ import annotations

import numpy as np

from ._common import fmt_pair, hidden_case, ok as _ok
from ._common import assert_unchanged
from .henon import _expect_float64, _expect_shape, _real_array

CHAPTER = "02_keras_rnn_lyapunov"
__all__ = ["check_simple_rnn_jacobian", "check_rnn_qr"]


def _small_simple_rnn(tf, units=5, input_dim=3, seed=0):
    """A built float64 tanh SimpleRNN cell with random weights and a clearly nonzero
    bias."""
    rng = np.random.default_rng(seed)
    rnn = tf.keras.layers.SimpleRNN(units, activation="tanh", dtype="float64")
    rnn.build((None, None, input_dim))
    rnn.cell.set_weights([rng.normal(size=(input_dim, units)),
                          1.5 * rng.normal(size=(units, units)) / np.sqrt(units),
                          rng.normal(size=units)])
    return rnn.cell


def _weights(cell):
    """The cell's kernel, recurrent kernel and bias as NumPy arrays (copies)."""
    return [np.array(w) for w in cell.get_weights()]


def _expect_weights_unchanged(cell, before) -> None:
    if not all(np.array_equal(b, a) for b, a in zip(before, _weights(cell))):
        raise AssertionError("your function changed the cell's weights (assign, assign_add, "
                             "...): the next cells use the same cell again. Read the weights, "
                             "never write them")


def _step(weights, x, h):
    """One step of the tanh cell in NumPy: (pre-activation a, h_next)."""
    kernel, recurrent, bias = weights
    a = x @ kernel + h @ recurrent + bias
    return a, np.tanh(a)


def _jacobian(weights, x, h):
    """The analytic Jacobians d h_next / d h, (B, H, H), in NumPy."""
    a, _ = _step(weights, x, h)
    return (1 - np.tanh(a) ** 2)[:, :, None] * weights[1].T[None]


# ------------------------------------------------------------------------------- task 1

_JACOBIAN_WHY = ("the next cells compare it with GradientTape's float64 Jacobians to 1e-12 "
                 "and multiply it onto the float64 frame Q, J @ Q")


def _jacobian_slips(weights, x, h):
    """The usual wrong Jacobians, each with its hint."""
    kernel, recurrent, bias = weights
    a, h_next = _step(weights, x, h)

    def rows(dphi, W=recurrent.T):
        return dphi[:, :, None] * W[None]

    expected = rows(1 - np.tanh(a) ** 2)
    return [
        (np.swapaxes(expected, 1, 2),
         "your J is transposed: row i must hold the derivatives of h_next[i], "
         "J[b, i, j] = d h_next[b, i] / d h[b, j]"),
        (rows(1 - np.tanh(a) ** 2, recurrent),
         "Keras computes h @ recurrent_kernel (row vectors), so W_h is the transpose of "
         "recurrent_kernel: J[b, i, j] = tanh'(a[b, i]) * recurrent_kernel[j, i]"),
        (rows(1 - np.tanh(a - bias) ** 2),
         "the bias is missing from the pre-activation a = x @ kernel + h @ recurrent_kernel "
         "+ bias"),
        (rows(1 - np.tanh(a - x @ kernel) ** 2),
         "the input term is missing from the pre-activation: a = x @ kernel + "
         "h @ recurrent_kernel + bias"),
        (rows(1 - np.tanh(x @ kernel + h_next @ recurrent + bias) ** 2),
         "you evaluated tanh' at the state after the step: the derivative belongs to the "
         "pre-activation of this step, a = x @ kernel + h @ recurrent_kernel + bias, with the "
         "state h before the step"),
        (rows(1 - h ** 2),
         "1 - h^2 uses the state before the step: tanh'(a) = 1 - tanh(a)^2 = 1 - h_next^2, "
         "with the pre-activation a of this step"),
        (rows(1 - a ** 2),
         "tanh'(a) = 1 - tanh(a)^2, not 1 - a^2"),
        (rows(1 - np.tanh(a)),
         "tanh'(a) = 1 - tanh(a)^2: the square is missing"),
        ((1 - np.tanh(a) ** 2)[:, None, :] * recurrent.T[None],
         "tanh'(a) scales the rows of J (the output unit i), not its columns"),
        (np.broadcast_to(recurrent.T, expected.shape),
         "the derivative of tanh, 1 - tanh(a)^2, is missing"),
    ]


def _check_jacobian_case(tf, jacobian_fn, cell, x: np.ndarray, h: np.ndarray, *,
                         slips: bool) -> None:
    weights = _weights(cell)
    x_t, h_t = tf.constant(x, dtype=tf.float64), tf.constant(h, dtype=tf.float64)
    expected = _jacobian(weights, x, h)  # equal to the tape's, to rounding (tested)
    got = jacobian_fn(cell, x_t, h_t)
    if got is not None and not (tf.is_tensor(got) or isinstance(got, np.ndarray)):
        raise AssertionError(f"simple_rnn_jacobian must return a TensorFlow tensor or a NumPy "
                             f"array (the next cells read J.shape and multiply J @ Q); got "
                             f"{type(got).__name__}")
    got = _real_array(got, "simple_rnn_jacobian", why=_JACOBIAN_WHY)
    _expect_weights_unchanged(cell, weights)
    _expect_float64(got, "simple_rnn_jacobian's result", _JACOBIAN_WHY)
    _expect_shape(got, expected.shape,
                  f"for x of shape {x.shape} and h of shape {h.shape} the Jacobians must have "
                  f"shape {expected.shape} (batch, H, H)")
    if np.allclose(got, expected, rtol=1e-10, atol=1e-12):
        return
    if slips:
        for wrong, hint in _jacobian_slips(weights, x, h):
            if np.allclose(got, wrong, rtol=1e-8, atol=1e-10):
                raise AssertionError(hint)
    bad = ~np.isclose(got, expected, rtol=1e-10, atol=1e-12)
    b, i, j = np.unravel_index(int(np.argmax(bad)), got.shape)
    raise AssertionError(
        f"J[{b}, {i}, {j}] is wrong: {fmt_pair(expected[b, i, j], got[b, i, j])} (the "
        "cell's derivative). J[b, i, j] = (1 - tanh(a[b, i])^2) * "
        "recurrent_kernel[j, i] with a = x @ kernel + h @ recurrent_kernel + bias")


def check_simple_rnn_jacobian(jacobian_fn, *, hidden: bool = False) -> None:
    """Check ``jacobian_fn(cell, x, h)``: the Jacobian d h_next / d h of a tanh
    ``SimpleRNNCell`` at the state ``h`` *before* the step, bias and input included,
    ``J[b, i, j] = (1 - tanh(a[b, i])^2) * recurrent_kernel[j, i]`` with
    ``a = x @ kernel + h @ recurrent_kernel + bias``, for a batch (``x`` of shape
    ``(B, input_dim)``, ``h`` of shape ``(B, H)``, TensorFlow tensors), returned as a float64
    tensor or array of shape ``(B, H, H)``; compared with the formula in NumPy (equal to
    ``GradientTape.batch_jacobian`` of the cell to rounding). The cell's weights must stay
    unchanged. Hidden cases: other numbers of units, input widths, batch sizes and
    weights."""
    from ..runtime import import_tensorflow

    tf = import_tensorflow()
    rng = np.random.default_rng(1)
    _check_jacobian_case(tf, jacobian_fn, _small_simple_rnn(tf),
                         rng.normal(size=(8, 3)), rng.uniform(-1, 1, size=(8, 5)), slips=True)
    if hidden:
        rng = np.random.default_rng(21)
        with hidden_case("another number of units, input width, batch size and weights"):
            _check_jacobian_case(tf, jacobian_fn, _small_simple_rnn(tf, 7, 2, seed=22),
                                 rng.normal(size=(3, 2)), rng.uniform(-1, 1, size=(3, 7)),
                                 slips=False)
        with hidden_case("a batch of one, a wider input and other weights"):
            _check_jacobian_case(tf, jacobian_fn, _small_simple_rnn(tf, 4, 6, seed=23),
                                 rng.normal(size=(1, 6)), rng.uniform(-1, 1, size=(1, 4)),
                                 slips=False)
    _ok("simple_rnn_jacobian: equals GradientTape.batch_jacobian of the cell")


# ------------------------------------------------------------------------------- task 2

def _spectrum(weights, inputs, h0, k, *, carry=True, accumulate=True):
    """The QR estimate in NumPy, right (the defaults) or with a slip: the frame not
    carried (Q stays the first k columns of the identity; with k = H this is also what
    Q @ J gives), the sum replaced at every step. Sorted descending, (B, k)."""
    B, T, _ = inputs.shape
    H = h0.shape[1]
    Q0 = np.broadcast_to(np.eye(H, k), (B, H, k)).copy()
    Q, h, total = Q0, h0, np.zeros((B, k))
    for t in range(T):
        J = _jacobian(weights, inputs[:, t], h)
        _, h = _step(weights, inputs[:, t], h)
        Q_new, R = np.linalg.qr(J @ Q)
        Q = Q_new if carry else Q0
        log_r = np.log(np.abs(np.diagonal(R, axis1=1, axis2=2)))
        total = total + log_r if accumulate else log_r
    return np.sort(total / T, axis=1)[:, ::-1]


_SPECTRUM_WHY = "the next cell compares it with the toolkit's float64 exponents to 1e-10"


def _expect_right_jacobian_function(spectrum_fn) -> None:
    """When the spectrum is wrong: if the notebook's ``simple_rnn_jacobian`` (Task 1), which
    the spectrum function calls at every step, is wrong itself, say so first."""
    from ..runtime import import_tensorflow

    jacobian_fn = getattr(spectrum_fn, "__globals__", {}).get("simple_rnn_jacobian")
    if not callable(jacobian_fn):
        return
    tf = import_tensorflow()
    cell = _small_simple_rnn(tf, 4, 2, seed=7)
    rng = np.random.default_rng(8)
    x, h = rng.normal(size=(3, 2)), rng.uniform(-1, 1, size=(3, 4))
    try:
        got = jacobian_fn(cell, tf.constant(x, dtype=tf.float64),
                          tf.constant(h, dtype=tf.float64))
        got = np.asarray(got.numpy() if callable(getattr(got, "numpy", None)) else got,
                         dtype=float)
        right = got.shape == (3, 4, 4) and np.allclose(got, _jacobian(_weights(cell), x, h),
                                                         rtol=1e-8, atol=1e-10)
    except Exception:  # noqa: BLE001 - an error of the student's function counts as wrong
        right = False
    if not right:
        raise AssertionError(
            "the exponents are wrong, and so is simple_rnn_jacobian (Task 1), which this "
            "function calls at every step: fix Task 1 first (check_simple_rnn_jacobian says "
            "what is wrong), then run this check again")


def _check_spectrum_case(spectrum_fn, cell, inputs: np.ndarray, h0: np.ndarray, k: int,
                         what: str, *, slips: bool) -> None:
    weights = _weights(cell)
    expected = _spectrum(weights, inputs, h0, k)
    x_copy, h_copy = inputs.copy(), h0.copy()
    got = _real_array(spectrum_fn(cell, x_copy, h_copy, k), "the spectrum function",
                      why=_SPECTRUM_WHY)
    assert_unchanged([inputs, h0], [x_copy, h_copy], ["inputs", "h0"])
    _expect_weights_unchanged(cell, weights)
    _expect_float64(got, "the spectrum function's result", _SPECTRUM_WHY)
    B, T, _ = inputs.shape
    _expect_shape(got, expected.shape, f"for {B} sequences and k={k} return the k "
                  f"exponents of each sequence, shape {expected.shape} (B, k)")
    if np.allclose(got, expected, rtol=1e-8, atol=1e-10):
        return
    _expect_right_jacobian_function(spectrum_fn)
    if np.any(np.isnan(got)):
        raise AssertionError("got NaN: the diagonal of R can be negative and its log is NaN; "
                             "take the log of the absolute value, "
                             "tf.math.log(tf.abs(tf.linalg.diag_part(R)))")
    if slips:
        hints = [
            (np.sort(got, axis=1)[:, ::-1], expected, "sort each row in descending order"),
            (got * np.log(10), expected, "use the natural log (tf.math.log), not log10"),
            (got / T, expected, "divide the summed logs by the number of steps T"),
            # with k = H, Q @ J has the R of J alone (Q is orthogonal): the same slip
            (got, _spectrum(weights, inputs, h0, k, carry=False),
             "the frame is not carried forward: multiply each new Jacobian from the left "
             "onto the current frame and keep the new Q, Q, R = tf.linalg.qr(J @ Q), at "
             "every step (not tf.linalg.qr(Q @ J), nor a Q that stays the identity)"),
            (got, _spectrum(weights, inputs, h0, k, accumulate=False),
             "add each step's log|diag R| to the running sum (log_sum += ...), rather than "
             "replacing it"),
        ]
        for mine, wrong, hint in hints:
            if np.allclose(mine, wrong, rtol=1e-8, atol=1e-10):
                raise AssertionError(hint)
    raise AssertionError(
        f"{what}: for the first sequence {fmt_pair(expected[0], got[0])}. At every step: "
        "Q, R = tf.linalg.qr(J @ Q), then add log|diag R| to the running sum")


def check_rnn_qr(spectrum_fn, *, hidden: bool = False) -> None:
    """Check ``spectrum_fn(cell, inputs, h0, k)``: the k largest Lyapunov exponents of a
    tanh SimpleRNN cell driven by ``inputs`` (``(B, T, input_dim)``) from ``h0``
    (``(B, H)``), NumPy arrays as in the notebook, batched over the B sequences: with
    ``Q_0`` the first k columns of the identity and ``J_t Q_{t-1} = Q_t R_t``,
    ``lambda = sum_t ln|diag R_t| / T`` per sequence, sorted descending, float64, shape
    ``(B, k)``; compared with a NumPy version of
    :func:`course_utils.keras_lyapunov.rnn_lyapunov_spectrum`. Cases: k = H, k < H, and a
    cell resting at h = 0 with unsorted rates. Hidden cases: other numbers of units,
    sequences, steps and k."""
    from ..runtime import import_tensorflow

    tf = import_tensorflow()
    cell = _small_simple_rnn(tf, seed=2)
    rng = np.random.default_rng(3)
    inputs = rng.uniform(-1, 1, size=(3, 60, 3))
    h0 = rng.uniform(-1, 1, size=(3, 5))
    # A cell that rests at h = 0 with J = diag(w), w not sorted: the raw order of the
    # exponents is not descending, so an unsorted result shows.
    resting = _small_simple_rnn(tf, seed=4)
    resting.set_weights([np.zeros((3, 5)), np.diag([0.2, 0.5, 0.9, 0.3, 0.7]), np.zeros(5)])
    cases = [(cell, h0, 5), (cell, h0, 2), (resting, np.zeros((3, 5)), 5)]
    for case, (c, start, k) in enumerate(cases):
        _check_spectrum_case(spectrum_fn, c, inputs, start, k,
                             f"for a tanh SimpleRNN(5) (case {case + 1} of 3), 3 sequences "
                             f"of 60 steps and k={k}", slips=True)
    if hidden:
        rng = np.random.default_rng(31)
        with hidden_case("another number of units, sequences, steps and k"):
            _check_spectrum_case(spectrum_fn, _small_simple_rnn(tf, 4, 2, seed=32),
                                 rng.uniform(-1, 1, size=(2, 25, 2)),
                                 rng.uniform(-1, 1, size=(2, 4)), 3, "hidden", slips=False)
        with hidden_case("a single sequence and a single exponent"):
            _check_spectrum_case(spectrum_fn, _small_simple_rnn(tf, 6, 2, seed=33),
                                 rng.uniform(-1, 1, size=(1, 30, 2)),
                                 rng.uniform(-1, 1, size=(1, 6)), 1, "hidden", slips=False)
    _ok("QR accumulation: matches the compiled toolkit for k = H and k < H")
