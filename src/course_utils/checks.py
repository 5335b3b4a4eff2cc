"""Immediate, specific feedback for the exercise notebooks.

Each ``check_*`` function runs a student's implementation on a few inputs, compares it with
the reference code of this package, and either prints a one-line confirmation or raises
``AssertionError`` with a message that says what is wrong (which component, for which
input, what was expected) and a hint. TensorFlow is imported only by the checks that need it.
"""

from __future__ import annotations

import numpy as np

from .henon import HENON_A, HENON_B, henon_jacobian, henon_map, henon_orbit
from .lyapunov import lyapunov_from_jacobians

__all__ = ["check_henon_cell", "check_henon_jacobian", "check_lyapunov_qr",
           "check_simple_rnn_jacobian", "check_rnn_qr"]

# States of the Henon map at which the checks evaluate (x, y): generic, not symmetric.
_STATES = np.array([[0.1, 0.1], [0.5, -0.2], [-1.1, 0.35], [0.9, 0.05]])


def _fmt(a) -> str:
    return np.array2string(np.asarray(a, dtype=float), precision=6, separator=", ")


def _ok(message: str) -> None:
    print(f"\u2713 {message}")


def check_henon_cell(cell_class, a: float = HENON_A, b: float = HENON_B) -> None:
    """Check a Keras Henon cell class: attributes, return structure and values.

    The class must accept ``a`` and ``b`` as keyword arguments, have ``state_size`` and
    ``output_size`` equal to 2, and its ``call(inputs, states)`` must return
    ``(z_next, [z_next])`` with ``z_next = (1 - a x^2 + y, b x)`` row by row.
    """
    from .runtime import import_tensorflow

    tf = import_tensorflow()
    for params in ((a, b), (1.2, 0.4)):
        cell = cell_class(a=params[0], b=params[1])
        for attr in ("state_size", "output_size"):
            value = getattr(cell, attr, None)
            assert value == 2, (f"{attr} must be 2 (the Henon state is (x, y)); got {value!r}")
        z = tf.constant(_STATES, dtype=tf.float64)
        result = cell(tf.zeros((len(_STATES), 1), dtype=tf.float64), [z])
        assert isinstance(result, (tuple, list)) and len(result) == 2, (
            "call must return a pair (output, [next_state]); got "
            f"{type(result).__name__}{'' if not hasattr(result, '__len__') else f' of length {len(result)}'}")
        output, states = result
        assert isinstance(states, (tuple, list)) and len(states) == 1, (
            "the second returned item must be a list holding the next state, [z_next]; got "
            f"{type(states).__name__}")
        output, nxt = np.asarray(output), np.asarray(states[0])
        expected = henon_map(_STATES, *params)
        assert output.shape == expected.shape, (
            f"for a batch of states of shape {_STATES.shape} the output must have shape "
            f"{expected.shape}; got {output.shape}. Work on the whole batch: x = z[:, 0], "
            "y = z[:, 1]")
        assert output.dtype == np.float64, (
            f"the cell computes in {output.dtype}, not float64: Keras casts a layer's inputs "
            "to its float type, so call keras.config.set_floatx('float64') before creating "
            "the cell (import_tensorflow(floatx='float64') does it)")
        for k, (name, formula) in enumerate((("x", "1 - a x^2 + y"), ("y", "b x"))):
            bad = ~np.isclose(output[:, k], expected[:, k], rtol=1e-12, atol=1e-12)
            if bad.any():
                i = int(np.argmax(bad))
                raise AssertionError(
                    f"the {name} component is wrong: for (x, y) = {_fmt(_STATES[i])} with "
                    f"a={params[0]}, b={params[1]} expected {expected[i, k]:.6f}, got "
                    f"{output[i, k]:.6f}. The map gives {name}_next = {formula}"
                    + (" (did you use the cell's own a and b?)" if params != (a, b) else ""))
        assert np.allclose(nxt, output, rtol=0, atol=0), (
            "the next state must equal the output: the cell outputs its state")
    _ok("HenonCell: one step of the Henon map, batch-wise, output = next state")


def check_henon_jacobian(jacobian_fn, a: float = HENON_A, b: float = HENON_B) -> None:
    """Check ``jacobian_fn(z, a, b)``: the analytic Jacobians ``[[-2 a x, 1], [b, 0]]``
    for a batch of states ``z`` of shape ``(B, 2)``, returned with shape ``(B, 2, 2)``."""
    expected = henon_jacobian(_STATES, a, b)
    got = np.asarray(jacobian_fn(_STATES, a, b), dtype=float)
    assert got.shape == expected.shape, (
        f"for states of shape {_STATES.shape} the Jacobians must have shape "
        f"{expected.shape}; got {got.shape}")
    if np.allclose(got, np.swapaxes(expected, -1, -2)) and not np.allclose(got, expected):
        raise AssertionError("you returned the transposes: row i of J holds the derivatives "
                             "of the i-th new component, J[i, j] = d z_next[i] / d z[j]")
    names = [["dx'/dx", "dx'/dy"], ["dy'/dx", "dy'/dy"]]
    for i in range(2):
        for j in range(2):
            bad = ~np.isclose(got[:, i, j], expected[:, i, j], rtol=1e-12, atol=1e-12)
            if bad.any():
                n = int(np.argmax(bad))
                raise AssertionError(
                    f"entry J[{i}, {j}] = {names[i][j]} is wrong at (x, y) = "
                    f"{_fmt(_STATES[n])}: expected {expected[n, i, j]:.6f}, got "
                    f"{got[n, i, j]:.6f}")
    _ok("henon_jacobian: [[-2 a x, 1], [b, 0]] at every state of the batch")


def check_lyapunov_qr(qr_fn) -> None:
    """Check ``qr_fn(jacobians, transient=0)``: the QR estimate of the Lyapunov spectrum
    (descending, natural log, per step) from Jacobians of shape ``(T, d, d)``."""
    # 1. A constant diagonal map: the exponents are the logs of the diagonal's moduli.
    diag = np.array([0.5, -2.0, 1.0])
    constant = np.broadcast_to(np.diag(diag), (50, 3, 3))
    want = np.sort(np.log(np.abs(diag)))[::-1]
    got = np.asarray(qr_fn(constant), dtype=float)
    assert got.shape == want.shape, (
        f"for Jacobians of shape {constant.shape} return {want.shape[0]} exponents; "
        f"got shape {got.shape}")
    if np.any(np.isnan(got)):
        raise AssertionError("got NaN: take the log of the *absolute* diagonal of R")
    if np.allclose(np.sort(got)[::-1], want) and not np.allclose(got, want):
        raise AssertionError(f"sort the exponents in descending order; got {_fmt(got)}")
    if np.allclose(got * np.log(10), want):
        raise AssertionError("use the natural log (np.log), not log10")
    if np.allclose(got / 50, want):
        raise AssertionError("divide the summed logs by the number of steps")
    assert np.allclose(got, want, atol=1e-10), (
        f"for the constant map diag{_fmt(diag)} expected {_fmt(want)}, got {_fmt(got)}")

    # 2. Jacobians along a chaotic Henon orbit: compare with the reference, then the
    #    transient: it must be excluded from the average but still evolve Q.
    orbit = henon_orbit([0.1, 0.1], 600, transient=100)
    jacobians = henon_jacobian(orbit)
    for transient in (0, 100):
        want = lyapunov_from_jacobians(jacobians, transient=transient)
        got = np.asarray(qr_fn(jacobians, transient=transient), dtype=float)
        assert np.allclose(got, want, rtol=1e-8, atol=1e-10), (
            f"along a Henon orbit of {len(jacobians)} steps with transient={transient} "
            f"expected {_fmt(want)}, got {_fmt(got)}. Multiply each new Jacobian onto the "
            "current Q (J_t @ Q), re-orthonormalise by QR, and accumulate log|diag R| of "
            "the steps after the transient only" + ("" if transient == 0 else
                                                    " (divide by T - transient)"))
    _ok("lyapunov_qr: matches the reference on a diagonal map and on a Henon orbit")


# ------------------------------------------------------------------ Keras RNN spectrum

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
    from .runtime import import_tensorflow

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
    from .keras_lyapunov import simple_rnn_jacobian

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
    from .runtime import import_tensorflow

    tf = import_tensorflow()
    from .keras_lyapunov import rnn_lyapunov_spectrum

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
