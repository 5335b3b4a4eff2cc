"""Checks of chapter 01 (the Henon map as a Keras RNN cell): the cell, its Jacobian and the
QR estimate of the Lyapunov spectrum."""

from __future__ import annotations

import re

import numpy as np

from ..henon import HENON_A, HENON_B, henon_jacobian, henon_map, henon_orbit
from ..lyapunov import lyapunov_from_jacobians
from ._common import (assert_unchanged, expect_tf_tensor, fmt as _fmt, fmt_pair, hidden_case,
                      ok as _ok)

CHAPTER = "01_henon_keras_rnn"
__all__ = ["check_henon_cell", "check_henon_jacobian", "check_lyapunov_qr"]

# States of the Henon map at which the checks evaluate (x, y): generic, not symmetric.
_STATES = np.array([[0.1, 0.1], [0.5, -0.2], [-1.1, 0.35], [0.9, 0.05]])
# A second parameter pair of the visible cases: a function that ignores its a and b shows.
_OTHER_AB = (1.2, 0.4)


# ------------------------------------------------------------------------------ helpers
# (shared with keras_rnn.py)

def _real_array(got, what: str, *, why: str = "") -> np.ndarray:
    """``got`` (a NumPy array, a TensorFlow tensor, a list) as a NumPy array of real
    numbers, its dtype kept; an ``AssertionError`` that names the problem otherwise."""
    because = f" ({why})" if why else ""
    if got is None:
        raise AssertionError(f"{what} returned None{because}: is the return statement "
                             "missing?")
    try:
        value = got.numpy() if callable(getattr(got, "numpy", None)) else got
        array = np.asarray(value)
    except Exception as error:  # noqa: BLE001 - a ragged list, a symbolic tensor, ...
        raise AssertionError(f"{what} could not be read as an array of numbers{because}: got "
                             f"{type(got).__name__} ({type(error).__name__})") from None
    if np.iscomplexobj(array):
        raise AssertionError(f"{what} has complex values (dtype {array.dtype}){because}; the "
                             "result is real: did a complex number enter the computation?")
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise AssertionError(f"{what} must hold numbers{because}; got {type(got).__name__}"
                             f" with dtype {array.dtype}")
    return array


def _expect_float64(array: np.ndarray, what: str, why: str) -> None:
    """Float64, with a hint for integer and lower-precision results."""
    if array.dtype == np.float64:
        return
    if np.issubdtype(array.dtype, np.integer) or array.dtype == bool:
        raise AssertionError(
            f"{what} has the integer dtype {array.dtype}: values assigned into an integer "
            "array are truncated. Create it as a float array (np.zeros(shape) is float64; "
            "not dtype=int, not np.zeros_like of an integer array)")
    raise AssertionError(f"{what} has dtype {array.dtype}, not float64 ({why}): keep "
                         "everything in float64, without casts to float32")


def _expect_shape(array: np.ndarray, shape, message: str, hint: str = "") -> None:
    if array.shape != tuple(shape):
        raise AssertionError(f"{message}; got shape {array.shape}"
                             + (f". {hint}" if hint else ""))




def _first_bad(got: np.ndarray, expected: np.ndarray, rtol: float, atol: float):
    """The index of the first entry where ``got`` differs from ``expected``, else None."""
    bad = ~np.isclose(got, expected, rtol=rtol, atol=atol)
    return None if not bad.any() else np.unravel_index(int(np.argmax(bad)), bad.shape)


def _error_text(error: BaseException) -> str:
    """The gist of an error message: Keras's bold line, else the first line, shortened."""
    text = str(error)
    bold = re.search(r"\x1b\[1m(.*?)\x1b\[0m", text, flags=re.S)
    text = bold.group(1) if bold else text
    text = re.sub(r"\x1b\[[0-9;]*m", "", text).strip()
    line = next((s.strip() for s in text.splitlines() if s.strip()), "")
    return line if len(line) <= 200 else line[:197] + "..."


# ------------------------------------------------------------------------------- task 1

_TF_WHY = ("the next cell calls .numpy() on the cell's output, and keras.layers.RNN, "
           "tf.function and GradientTape work only with TensorFlow operations")


def _call_cell(tf, cell, states: np.ndarray):
    """Call the cell on a batch of states under a tape; return (output, next, Jacobian)."""
    z = tf.constant(states, dtype=tf.float64)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(z)
        result = cell(tf.zeros((len(states), 1), dtype=tf.float64), [z])
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        length = f" of length {len(result)}" if isinstance(result, (tuple, list)) else ""
        raise AssertionError("call must return a pair (output, [next_state]), e.g. "
                             f"return z_next, [z_next]; got {type(result).__name__}{length}")
    output, new_states = result
    if not (isinstance(new_states, (tuple, list)) and len(new_states) == 1):
        length = f" of length {len(new_states)}" if isinstance(new_states, (tuple, list)) \
            else ""
        raise AssertionError(
            "the second returned item must be a list holding the next state, [z_next] "
            f"(keras.layers.RNN takes its states as a list); got "
            f"{type(new_states).__name__}{length}")
    expect_tf_tensor(output, "the cell's output", why=_TF_WHY)
    expect_tf_tensor(new_states[0], "the next state in [z_next]",
                     why="keras.layers.RNN feeds it back into call, inside tf.function")
    jacobian = None
    if tf.is_tensor(output) and output.shape == z.shape and output.dtype == z.dtype:
        jacobian = _row_jacobian(tf, tape, output, z)
    return output, new_states[0], jacobian


def _row_jacobian(tf, tape, output, z):
    """``batch_jacobian(output, z)`` for a map that acts row by row, by one gradient per
    output component (batch_jacobian traces a function at every call: slow)."""
    rows = []
    for i in range(2):
        weight = tf.one_hot(tf.fill(tf.shape(output)[:1], i), 2, dtype=output.dtype)
        gradient = tape.gradient(output, z, output_gradients=weight)
        rows.append(tf.zeros_like(z) if gradient is None else gradient)
    return tf.stack(rows, axis=1)


def _check_cell_step(tf, cell, states: np.ndarray, params, *, other: bool) -> None:
    """One eager call of the cell: structure, type, dtype, shape, values, and the tape's
    Jacobian."""
    for attr in ("state_size", "output_size"):
        value = getattr(cell, attr, None)
        if not (isinstance(value, (int, np.integer)) and value == 2):
            raise AssertionError(f"{attr} must be 2 (the Henon state is (x, y)); got "
                                 f"{value!r}")
    output, nxt, jacobian = _call_cell(tf, cell, states)
    if output.dtype != tf.float64:
        if getattr(cell, "compute_dtype", "float64") != "float64":
            raise AssertionError(
                f"the cell computes in {output.dtype.name}, not float64: Keras casts a "
                "layer's inputs to its float type, so call keras.config.set_floatx('float64') "
                "before creating the cell (import_tensorflow(floatx='float64') does it)")
        raise AssertionError(
            f"the cell's output has dtype {output.dtype.name}, not float64, although Keras "
            "hands it float64 states: compute with the states' dtype, without casts or "
            "constants of another float type (tf.constant(1.0) is float32)")
    if nxt.dtype != output.dtype:
        raise AssertionError(f"the next state has dtype {nxt.dtype.name} but the output "
                             f"{output.dtype.name}: return the same tensor twice")
    expected = henon_map(states, *params)
    out, nxt = output.numpy(), nxt.numpy()
    _expect_shape(out, expected.shape,
                  f"for a batch of states of shape {states.shape} the output must have shape "
                  f"{expected.shape}", "Work on the whole batch: x = z[:, 0], y = z[:, 1]")
    for k, (name, formula) in enumerate((("x", "1 - a x^2 + y"), ("y", "b x"))):
        bad = _first_bad(out[:, k], expected[:, k], 1e-12, 1e-12)
        if bad is not None:
            i = bad[0]
            raise AssertionError(
                f"the {name} component is wrong: for (x, y) = {_fmt(states[i])} with "
                f"a={params[0]}, b={params[1]} {fmt_pair(expected[i, k], out[i, k])}. The map "
                f"gives {name}_next = {formula}"
                + (" (did you use the cell's own a and b, self.a and self.b?)" if other
                   else ""))
    if not np.allclose(nxt, out, rtol=1e-12, atol=1e-12):
        raise AssertionError("the next state must equal the output: the cell outputs its "
                             "state (return z_next, [z_next])")
    want = henon_jacobian(states, *params)
    if jacobian is None or not np.any(jacobian.numpy()):
        raise AssertionError(
            "GradientTape finds no derivative of the cell's output with respect to the "
            "state: the tape records TensorFlow operations only, so the computation left "
            "TensorFlow somewhere (NumPy functions, .numpy(), tf.constant of a computed "
            "value, tf.stop_gradient). The next cells differentiate the cell with "
            "batch_jacobian: compute with tf operations only")
    bad = _first_bad(jacobian.numpy(), want, 1e-10, 1e-12)
    if bad is not None:
        n, i, j = bad
        raise AssertionError(
            f"the values are right, but GradientTape's Jacobian of the cell is wrong: "
            f"d {'xy'[i]}_next / d {'xy'[j]} at (x, y) = {_fmt(states[n])}, "
            f"{fmt_pair(want[n, i, j], jacobian.numpy()[n, i, j])}. Part of the computation "
            "is hidden from the tape (NumPy, .numpy(), tf.stop_gradient); the next cells "
            "compare this Jacobian with the analytic one")


def _graph_runner(tf, cell):
    """The next cells' use of the cell in graph mode, in one tf.function traced for any
    batch size and length: keras.layers.RNN(cell) over a dummy sequence (as generate(...)
    does), and the Jacobian of one step by GradientTape (as rnn_lyapunov_spectrum does)."""
    rnn = tf.keras.layers.RNN(cell, return_sequences=True)
    signature = [tf.TensorSpec([None, None, 1], tf.float64),
                 tf.TensorSpec([None, 2], tf.float64)]

    @tf.function(input_signature=signature)
    def run(u, z0):
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(z0)
            z1 = cell(u[:, 0], [z0])[1][0]
        return rnn(u, initial_state=[z0]), _row_jacobian(tf, tape, z1, z0)

    return run


def _check_in_graph(tf, run, z0: np.ndarray, n_steps: int, params) -> None:
    """Run ``run`` (from :func:`_graph_runner`) and compare with the orbit and the chain
    rule; translate a failure of tracing into what the student did."""
    try:
        Z, D = run(tf.zeros((len(z0), n_steps, 1), dtype=tf.float64),
                   tf.constant(z0, dtype=tf.float64))
    except Exception as error:  # noqa: BLE001 - any error while tracing or running
        where = ("the cell fails when keras.layers.RNN runs it inside tf.function, as the "
                 "next cells do (generate(...) and rnn_lyapunov_spectrum): there call "
                 "receives symbolic tensors, which have a shape but no values yet")
        text = _error_text(error)
        if "numpy" in text.lower():
            raise AssertionError(
                f"{where}. Your call uses NumPy on them (.numpy(), np.stack, np.array, "
                f"...): {type(error).__name__}: {text}. Use TensorFlow operations only "
                "(tf.stack, tf.concat)") from None
        if isinstance(error, tf.errors.OperatorNotAllowedInGraphError):
            raise AssertionError(
                f"{where}. Your call uses a tensor's value in a Python condition (if, "
                f"while, and, or): {text}. Compute both branches with tf.where, or avoid "
                "the condition") from None
        raise AssertionError(f"{where}, and the batch size is unknown (z.shape[0] is None; "
                             f"tf.shape(z)[0] is not). {type(error).__name__}: {text}"
                             ) from None
    want = henon_orbit(z0, n_steps + 1, *params)[:, 1:]
    Z = _real_array(Z, "keras.layers.RNN(cell) in tf.function")
    _expect_shape(Z, want.shape, f"keras.layers.RNN(cell, return_sequences=True) in "
                  f"tf.function, on {len(z0)} states and {n_steps} steps, must return shape "
                  f"{want.shape}")
    bad = _first_bad(Z, want, 1e-10, 1e-12)
    if bad is not None:
        b, t, _ = bad
        raise AssertionError(
            f"eager calls of the cell are right, but keras.layers.RNN(cell) in tf.function "
            f"gives a different orbit: state {t + 1} from z_0 = {_fmt(z0[b])}, "
            f"{fmt_pair(want[b, t], Z[b, t])}. Does call depend on Python state or on "
            "values that are fixed while tracing?")
    J = _real_array(D, "the Jacobian of one step in tf.function")
    if not np.allclose(J, henon_jacobian(z0, *params), rtol=1e-10, atol=1e-12):
        raise AssertionError(
            "the orbit through keras.layers.RNN is right, but inside tf.function "
            "GradientTape's Jacobian of one step is not [[-2 a x, 1], [b, 0]], as "
            "rnn_lyapunov_spectrum needs: part of call is hidden from the tape (NumPy, "
            "tf.stop_gradient) or depends on values fixed while tracing")


def check_henon_cell(cell_class, a: float = HENON_A, b: float = HENON_B, *,
                     hidden: bool = False) -> None:
    """Check a Keras Henon cell class: attributes, return structure, type and values, and
    its use by the next cells.

    The class must accept ``a`` and ``b`` as keyword arguments, have ``state_size`` and
    ``output_size`` equal to 2, and its ``call(inputs, states)`` must return
    ``(z_next, [z_next])``, TensorFlow tensors of dtype float64, with
    ``z_next = (1 - a x^2 + y, b x)`` row by row, for ``(a, b)`` and for another pair. As
    the next cells use it, GradientTape's Jacobian of the output by the state (what
    ``batch_jacobian`` gives) must be ``[[-2 a x, 1], [b, 0]]``, and inside a
    ``tf.function`` traced with the batch size unknown (as ``generate`` and
    ``rnn_lyapunov_spectrum`` run it) ``keras.layers.RNN(cell)`` must give the orbit and the
    tape the same Jacobian. Hidden cases: other ``a``, ``b`` and states, other batch sizes
    and numbers of steps.
    """
    from ..runtime import import_tensorflow

    if not isinstance(cell_class, type):
        raise AssertionError("check_henon_cell takes the class, check_henon_cell(HenonCell), "
                             f"not an instance; got {type(cell_class).__name__}")
    tf = import_tensorflow()
    for params in ((a, b), _OTHER_AB):
        _check_cell_step(tf, cell_class(a=params[0], b=params[1]), _STATES, params,
                         other=params != (a, b))
    run = _graph_runner(tf, cell_class(a=a, b=b))
    _check_in_graph(tf, run, _STATES, 3, (a, b))

    if hidden:
        rng = np.random.default_rng(11)
        params = (1.05, -0.35)
        with hidden_case("other parameters a and b, another batch of states"):
            _check_cell_step(tf, cell_class(a=params[0], b=params[1]),
                             rng.uniform(-1.2, 1.2, size=(7, 2)), params, other=True)
        with hidden_case("a single state and a longer sequence, through keras.layers.RNN "
                         "in tf.function"):
            _check_in_graph(tf, run, rng.uniform(-0.5, 0.5, size=(1, 2)), 6, (a, b))
        params = (1.25, 0.2)
        with hidden_case("other parameters and another batch size, through "
                         "keras.layers.RNN in tf.function"):
            _check_in_graph(tf, _graph_runner(tf, cell_class(a=params[0], b=params[1])),
                            rng.uniform(-0.5, 0.5, size=(9, 2)), 2, params)
    _ok("HenonCell: one step of the Henon map, batch-wise, output = next state")


# ------------------------------------------------------------------------------- task 2

_JACOBIAN_WHY = ("the next cells compare it with GradientTape's float64 Jacobians to 1e-12 "
                 "and multiply it out")


def _check_jacobians_at(jacobian_fn, states: np.ndarray, params, *, other: bool) -> None:
    expected = henon_jacobian(states, *params)
    z = states.copy()
    got = _real_array(jacobian_fn(z, *params), "henon_jacobian", why=_JACOBIAN_WHY)
    assert_unchanged([states], [z], ["z"])
    _expect_float64(got, "henon_jacobian's result", _JACOBIAN_WHY)
    _expect_shape(got, expected.shape,
                  f"for states of shape {states.shape} the Jacobians must have shape "
                  f"{expected.shape}, one 2 x 2 matrix per state")
    if (np.allclose(got, np.swapaxes(expected, -1, -2), rtol=1e-12, atol=1e-12)
            and not np.allclose(got, expected, rtol=1e-12, atol=1e-12)):
        raise AssertionError("you returned the transposes: row i of J holds the derivatives "
                             "of the i-th new component, J[i, j] = d z_next[i] / d z[j]")
    names = [["dx'/dx = -2 a x", "dx'/dy = 1"], ["dy'/dx = b", "dy'/dy = 0"]]
    for i in range(2):
        for j in range(2):
            bad = _first_bad(got[:, i, j], expected[:, i, j], 1e-12, 1e-12)
            if bad is not None:
                n = bad[0]
                raise AssertionError(
                    f"entry J[{i}, {j}] = {names[i][j]} is wrong at (x, y) = "
                    f"{_fmt(states[n])} with a={params[0]}, b={params[1]}: "
                    f"{fmt_pair(expected[n, i, j], got[n, i, j])}"
                    + (" (did you use the arguments a and b, not 1.4 and 0.3?)" if other
                       else ""))


def check_henon_jacobian(jacobian_fn, a: float = HENON_A, b: float = HENON_B, *,
                         hidden: bool = False) -> None:
    """Check ``jacobian_fn(z, a, b)``: the analytic Jacobians ``[[-2 a x, 1], [b, 0]]``
    for a batch of states ``z`` of shape ``(B, 2)`` (a NumPy array), returned as a float64
    array (or tensor) of shape ``(B, 2, 2)``, for ``(a, b)`` and for another pair, without
    changing ``z``. Hidden cases: other ``a``, ``b``, states and batch sizes."""
    for params in ((a, b), _OTHER_AB):
        _check_jacobians_at(jacobian_fn, _STATES, params, other=params != (a, b))
    if hidden:
        rng = np.random.default_rng(12)
        with hidden_case("other parameters a and b, another batch of states"):
            _check_jacobians_at(jacobian_fn, rng.uniform(-1.3, 1.3, size=(13, 2)),
                                (1.07, -0.45), other=True)
        with hidden_case("a batch of a single state"):
            _check_jacobians_at(jacobian_fn, rng.uniform(-1.3, 1.3, size=(1, 2)), (a, b),
                                other=False)
    _ok("henon_jacobian: [[-2 a x, 1], [b, 0]] at every state of the batch")


# ------------------------------------------------------------------------------- task 3

_QR_WHY = "the next cell formats lam[0] and calls lam.sum()"


def _qr_variant(jacobians: np.ndarray, transient: int = 0, *, carry: bool = True,
                skip: bool = False, divide_by_all: bool = False):
    """The QR estimate, right (the defaults) or with one of the usual slips: the frame
    not carried (the R of each Jacobian alone, which Q @ J also gives), the transient steps
    skipped without evolving Q, the sum divided by all T steps."""
    J = jacobians[transient:] if skip else jacobians
    start = 0 if skip else transient
    T, d, _ = J.shape
    Q, total = np.eye(d), np.zeros(d)
    for t in range(T):
        P = J[t] @ Q if carry else J[t]
        Q, R = np.linalg.qr(P)
        if t >= start:
            total += np.log(np.abs(np.diag(R)))
    return np.sort(total / (T if divide_by_all else T - start))[::-1]


def _qr_result(qr_fn, jacobians: np.ndarray, transient: int | None) -> np.ndarray:
    """Call the student's function on a copy; its result as a float64 NumPy array."""
    copy = jacobians.copy()
    got = qr_fn(copy) if transient is None else qr_fn(copy, transient=transient)
    if got is not None and not isinstance(got, np.ndarray):
        detail = (" (a TensorFlow tensor has no .sum(): compute with NumPy, or call "
                  ".numpy())" if callable(getattr(got, "numpy", None)) else
                  " (a list has no .sum(); for the order use np.sort(...)[::-1], not "
                  "sorted())" if isinstance(got, list)
                  else "")
        raise AssertionError(f"lyapunov_qr must return a NumPy array ({_QR_WHY}); got "
                             f"{type(got).__name__}{detail}")
    got = _real_array(got, "lyapunov_qr", why=_QR_WHY)
    _expect_float64(got, "lyapunov_qr's result", "the exponents are averages of many logs")
    d = jacobians.shape[-1]
    _expect_shape(got, (d,), f"for Jacobians of shape {jacobians.shape} return the {d} "
                  f"exponents, shape ({d},)")
    return got


def _check_qr_orbit(qr_fn, jacobians: np.ndarray, transient: int, what: str) -> None:
    want = lyapunov_from_jacobians(jacobians, transient=transient)
    got = _qr_result(qr_fn, jacobians, transient)
    if np.allclose(got, want, rtol=1e-8, atol=1e-10):
        return
    T = len(jacobians)
    if np.any(np.isnan(got)):
        raise AssertionError("got NaN: the diagonal of R can be negative and its log is NaN; "
                             "take the log of the absolute value, np.log(np.abs(np.diag(R)))")
    if np.allclose(np.sort(got)[::-1], want, rtol=1e-8, atol=1e-10):
        raise AssertionError(f"sort the exponents in descending order; got {_fmt(got)}")
    slips = [
        # Q @ J_t has the R of J_t alone (Q is orthogonal): one slip, one message
        (_qr_variant(jacobians, transient, carry=False),
         "your R is that of each Jacobian alone (as from np.linalg.qr(J_t), or from "
         "Q @ J_t, which has the same R): carry the frame forward, multiply each new "
         "Jacobian from the left onto the current Q, Q, R = np.linalg.qr(J_t @ Q), and keep "
         "the new Q"),
    ]
    if transient:
        slips += [
            (_qr_variant(jacobians, 0),
             f"with transient={transient}, leave the first {transient} steps out of the sum "
             "(they only align Q with the dynamics) and divide by T - transient"),
            (_qr_variant(jacobians, transient, skip=True),
             f"the first {transient} steps must still evolve Q (that is what aligns the "
             "frame with the dynamics); only their logs are left out of the sum"),
            (_qr_variant(jacobians, transient, divide_by_all=True),
             f"divide the sum by the number of steps summed, T - transient = "
             f"{T - transient}, not by T = {T}"),
        ]
    for wrong, hint in slips:
        if np.allclose(got, wrong, rtol=1e-8, atol=1e-10):
            raise AssertionError(f"{what}: {hint}")
    raise AssertionError(
        f"{what}: {fmt_pair(want, got)}. Multiply each new Jacobian onto the current Q "
        "(J_t @ Q), re-orthonormalise by QR, and accumulate log|diag R| of the steps after "
        "the transient only" + ("" if transient == 0 else " (divide by T - transient)"))


def check_lyapunov_qr(qr_fn, *, hidden: bool = False) -> None:
    """Check ``qr_fn(jacobians, transient=0)``: the QR estimate of the Lyapunov spectrum
    from Jacobians of shape ``(T, d, d)``: with ``Q_0 = I`` and ``J_t Q_{t-1} = Q_t R_t``,
    ``lambda_i = 1 / (T - transient) * sum_{t > transient} ln|(R_t)_ii|`` (natural log, per
    step), sorted descending, as a float64 NumPy array of shape ``(d,)``. Cases: a constant
    diagonal map (exponents ln|diag|), and a Henon orbit with and without a transient.
    Hidden cases: another dimension, length and transient; another orbit."""
    # 1. A constant diagonal map: the exponents are the logs of the diagonal's moduli.
    diag = np.array([0.5, -2.0, 1.0])
    constant = np.broadcast_to(np.diag(diag), (50, 3, 3)).copy()
    want = np.sort(np.log(np.abs(diag)))[::-1]
    got = _qr_result(qr_fn, constant, None)
    if np.any(np.isnan(got)):
        raise AssertionError("got NaN: the diagonal of R can be negative and its log is NaN; "
                             "take the log of the absolute value, np.log(np.abs(np.diag(R)))")
    if not np.allclose(got, want, atol=1e-10):
        if np.allclose(np.sort(got)[::-1], want, atol=1e-10):
            raise AssertionError(f"sort the exponents in descending order; got {_fmt(got)}")
        if np.allclose(got * np.log(10), want, atol=1e-10) \
                or np.allclose(got * np.log(2), want, atol=1e-10):
            raise AssertionError("use the natural log (np.log), not log10 or log2")
        if np.allclose(got / len(constant), want, atol=1e-10):
            raise AssertionError("divide the summed logs by the number of steps")
        raise AssertionError(f"for the constant map diag{_fmt(diag)} (all 50 Jacobians "
                             f"equal), {fmt_pair(want, got)}")

    # 2. Jacobians along a chaotic Henon orbit: compare with the reference, then the
    #    transient: it must be excluded from the average but still evolve Q.
    jacobians = henon_jacobian(henon_orbit([0.1, 0.1], 600, transient=100))
    for transient in (0, 100):
        _check_qr_orbit(qr_fn, jacobians, transient,
                        f"along a Henon orbit of {len(jacobians)} steps with "
                        f"transient={transient}")

    if hidden:
        rng = np.random.default_rng(13)
        with hidden_case("another dimension, length and transient"):
            random = rng.normal(size=(70, 4, 4)) / 2 + np.diag([1.2, 0.9, 0.6, 0.3])
            _check_qr_orbit(qr_fn, random, 9, "hidden")
        with hidden_case("another orbit, other parameters, length and transient"):
            orbit = henon_orbit([0.2, -0.1], 257, a=1.3, b=0.25, transient=50)
            _check_qr_orbit(qr_fn, henon_jacobian(orbit, 1.3, 0.25), 31, "hidden")
    _ok("lyapunov_qr: matches the reference on a diagonal map and on a Henon orbit")
