"""Checks of chapter 01 (the Henon map as a Keras RNN cell): the cell, its Jacobian and the
QR estimate of the Lyapunov spectrum.

Each check is a :class:`~course_utils.checks.framework.Check` in three parts: the cases
(parameters, seeds and sizes), the probe (in the student's process: it builds the inputs,
calls the student's code, runs the cell the way the next cells do, with TensorFlow, and
records what came back) and the judge (in the grader's process, without TensorFlow: it
computes the expected values with the NumPy reference and compares)."""

from __future__ import annotations

import re

import numpy as np

from ..henon import HENON_A, HENON_B, henon_jacobian, henon_map, henon_orbit
from ..lyapunov import lyapunov_from_jacobians
from .framework import (Case, Check, assert_unchanged, attempt as _attempt, fmt as _fmt,
                      fmt_pair, outcome as _outcome, run_check as _run_check,
                      salted as _salted)
from .helpers import expect_float64, expect_shape, json_number, real_array
from .observations import Failure, Raised, display_type

CHAPTER = "01_henon_keras_rnn"
__all__ = ["check_henon_cell", "check_henon_jacobian", "check_lyapunov_qr"]

# States of the Henon map at which the checks evaluate (x, y): generic, not symmetric.
_STATES = np.array([[0.1, 0.1], [0.5, -0.2], [-1.1, 0.35], [0.9, 0.05]])
# A second parameter pair of the visible cases: a function that ignores its a and b shows.
_OTHER_AB = (1.2, 0.4)

#: The hidden cases of :func:`check_henon_cell`: (label, kind, (a, b), or None for the
#: pair being checked, seed, bounds of the uniform states' x and y, batch size, number of
#: steps). The initial states of the runs lie in Henon's trapping region for a = 1.4,
#: b = 0.3 (the quadrilateral of Henon 1976, which the map sends into itself), so their
#: orbits stay bounded: [-0.5, 0.5] x [-0.1, 0.1] lies inside it.
_HIDDEN_CELL_CASES = (
    ("other parameters a and b, another batch of states",
     "step", (1.05, -0.35), 11, (1.2, 1.2), 7, None),
    ("a single state and a longer sequence, through keras.layers.RNN in tf.function",
     "graph", None, 12, (0.5, 0.1), 1, 6),
    ("other parameters and another batch size, through keras.layers.RNN in tf.function",
     "graph", (1.25, 0.2), 13, (0.5, 0.1), 9, 2),
)

#: The hidden cases of :func:`check_henon_jacobian`: (label, (a, b) or None for the pair
#: being checked, seed, batch size).
_HIDDEN_JACOBIAN_CASES = (
    ("other parameters a and b, another batch of states", (1.07, -0.45), 12, 13),
    ("a batch of a single state", None, 112, 1),
)

# No state of a case lies within this distance of x = 0, where a drops out of the map
# and of its Jacobian (a cell or a Jacobian that ignores a would pass there).
_X_MARGIN = 0.05
# A drawn Henon orbit (the hidden orbit of check_lyapunov_qr) stays within this bound.
_ORBIT_BOUND = 4.0


def _first_bad(got: np.ndarray, expected: np.ndarray, rtol: float, atol: float):
    """The index of the first entry where ``got`` differs from ``expected``, else None."""
    bad = ~np.isclose(got, expected, rtol=rtol, atol=atol)
    return None if not bad.any() else np.unravel_index(int(np.argmax(bad)), bad.shape)


_BOLD = re.compile(r"\x1b\[1m(.*?)\x1b\[0m", flags=re.S)


def _error_text(text: str) -> str:
    """The gist of an error message: Keras's bold line, else the first line, shortened."""
    bold = _BOLD.search(text)
    text = bold.group(1) if bold else text
    text = re.sub(r"\x1b\[[0-9;]*m", "", text).strip()
    line = next((s.strip() for s in text.splitlines() if s.strip()), "")
    return line if len(line) <= 200 else line[:197] + "..."


def _error_excerpt(error: BaseException) -> str:
    """The probe's copy of an error message, short enough to travel whole: Keras's bold
    part with its codes (it may begin after a long "in user code" traceback), else the
    message from its first non-blank character. :func:`_error_text` reads both alike."""
    try:
        text = str(error)
    except BaseException:  # noqa: BLE001 - a student's __str__ may raise anything
        return ""
    bold = _BOLD.search(text)
    if bold:
        return "\x1b[1m" + bold.group(1).strip()[:1500] + "\x1b[0m"
    return text.lstrip()[:1500]


def _tensor(tf, value) -> bool:
    """The probe's test of a result: a TensorFlow tensor (eager or symbolic) or variable."""
    return bool(tf.is_tensor(value) or isinstance(value, tf.Variable))


def _plain(value):
    """A tuple or list that the student's code returned, as a plain tuple or list (a
    namedtuple, a wrapper), so that it travels as one; anything else as it is."""
    if isinstance(value, (tuple, list)) and type(value) not in (tuple, list):
        converted = _attempt(tuple if isinstance(value, tuple) else list, value)
        return value if isinstance(converted, Failure) else converted
    return value


def _uniform_states(seed: int, bounds, batch: int) -> np.ndarray:
    """``batch`` states (x, y) uniform in [-bx, bx] x [-by, by] (``bounds``), drawn again
    with seed + 1, + 2, ... until every x is at least ``_X_MARGIN`` from 0, so that any
    seed gives a fair case. (The orbits of a run through keras.layers.RNN stay bounded
    because the bounds keep the states in Henon's trapping region, not by a test here:
    the probe builds these states too, and must not compute the orbit.)"""
    bx, by = bounds
    for k in range(100):
        rng = np.random.default_rng(seed + k)
        states = np.stack([rng.uniform(-bx, bx, size=batch), rng.uniform(-by, by, size=batch)],
                          axis=1)
        if np.abs(states[:, 0]).min() >= _X_MARGIN:
            break
    return states


# ------------------------------------------------------------------------------- task 1

_TF_WHY = ("the next cell calls .numpy() on the cell's output, and keras.layers.RNN, "
           "tf.function and GradientTape work only with TensorFlow operations")


def _row_jacobian(tf, tape, output, z):
    """``batch_jacobian(output, z)`` for a map that acts row by row, by one gradient per
    output component (batch_jacobian traces a function at every call: slow)."""
    rows = []
    for i in range(2):
        weight = tf.one_hot(tf.fill(tf.shape(output)[:1], i), 2, dtype=output.dtype)
        gradient = tape.gradient(output, z, output_gradients=weight)
        rows.append(tf.zeros_like(z) if gradient is None else gradient)
    return tf.stack(rows, axis=1)


def _graph_runner(tf, cell, rnn=None):
    """The next cells' use of the cell in graph mode, in one tf.function traced for any
    batch size and length: keras.layers.RNN(cell) over a dummy sequence (as generate(...)
    does), and the Jacobian of one step by GradientTape (as rnn_lyapunov_spectrum does)."""
    rnn = rnn if rnn is not None else tf.keras.layers.RNN(cell, return_sequences=True)
    signature = [tf.TensorSpec([None, None, 1], tf.float64),
                 tf.TensorSpec([None, 2], tf.float64)]

    @tf.function(input_signature=signature)
    def run(u, z0):
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(z0)
            z1 = cell(u[:, 0], [z0])[1][0]
        return rnn(u, initial_state=[z0]), _row_jacobian(tf, tape, z1, z0)

    return run


def _cell_cases(hidden: bool, salt: int | None, a: float = HENON_A,
                b: float = HENON_B) -> list[Case]:
    a, b = json_number(a), json_number(b)
    cases = [
        Case("one step of the cell", dict(kind="step", a=a, b=b, other=False)),
        Case("one step of the cell with another a and b",
             dict(kind="step", a=_OTHER_AB[0], b=_OTHER_AB[1], other=_OTHER_AB != (a, b))),
        Case("keras.layers.RNN(cell) in tf.function",
             dict(kind="graph", a=a, b=b, n_steps=3)),
    ]
    if hidden:
        for label, kind, pair, seed, bounds, batch, n_steps in _HIDDEN_CELL_CASES:
            pa, pb = pair if pair is not None else (a, b)
            params = dict(kind=kind, a=pa, b=pb,
                          states=dict(seed=_salted(seed, salt), bounds=list(bounds),
                                      batch=batch))
            if kind == "step":
                params["other"] = True
            else:
                params["n_steps"] = n_steps
            cases.append(Case(label, params, hidden=True))
    return cases


def _cell_states(case: Case) -> np.ndarray:
    """The states of a case (the initial states of a run through keras.layers.RNN)."""
    p = case.params
    if p.get("states") is None:
        return _STATES.copy()
    s = p["states"]
    return _uniform_states(s["seed"], s["bounds"], s["batch"])


def _probe_cell(case: Case, cell_class) -> dict:
    seen = {"is_class": _attempt(isinstance, cell_class, type)}
    if seen["is_class"] is not True:
        seen["given"] = _attempt(lambda: type(cell_class).__name__)
        return seen
    from ..runtime import import_tensorflow

    tf = import_tensorflow()
    p = case.params
    cell = _attempt(cell_class, a=p["a"], b=p["b"])
    seen["cell"] = cell if isinstance(cell, Failure) else None
    if isinstance(cell, Failure):
        return seen
    if p["kind"] == "step":
        seen.update(_probe_step(tf, cell, _cell_states(case)))
    else:
        seen.update(_probe_graph(tf, cell, _cell_states(case), p["n_steps"]))
    return seen


def _probe_step(tf, cell, states: np.ndarray) -> dict:
    """One eager call of the cell under a tape: its attributes, what it returned, and the
    tape's Jacobian of the output by the state."""
    seen = {}
    for attr in ("state_size", "output_size"):
        value = _attempt(getattr, cell, attr, None)
        if not isinstance(value, Failure):
            value = {"int": _attempt(int, value) if isinstance(value, (int, np.integer))
                     else None, "repr": _attempt(repr, value)}
        seen[attr] = value
    z = tf.constant(states, dtype=tf.float64)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(z)
        result = _attempt(cell, tf.zeros((len(states), 1), dtype=tf.float64), [z])
    result = _plain(result)
    seen["result"] = result
    if type(result) not in (tuple, list) or len(result) != 2:
        return seen
    output, new_states = result[0], _plain(result[1])
    seen["result"] = type(result)((output, new_states))
    if type(new_states) not in (tuple, list) or len(new_states) != 1:
        return seen
    nxt = new_states[0]
    seen["output_tensor"], seen["next_tensor"] = _tensor(tf, output), _tensor(tf, nxt)
    if not (seen["output_tensor"] and seen["next_tensor"]):
        return seen
    seen["output_dtype"], seen["next_dtype"] = output.dtype.name, nxt.dtype.name
    seen["jacobian"] = None
    if tf.is_tensor(output) and output.shape == z.shape and output.dtype == z.dtype:
        seen["jacobian"] = _attempt(_row_jacobian, tf, tape, output, z)
    seen["compute_dtype_differs"] = _attempt(
        lambda: bool(getattr(cell, "compute_dtype", "float64") != "float64"))
    return seen


def _probe_graph(tf, cell, z0: np.ndarray, n_steps: int) -> dict:
    """keras.layers.RNN(cell) and one step's tape Jacobian in a tf.function traced with the
    batch size unknown: the orbit and the Jacobian, or the error and its gist."""
    rnn = _attempt(tf.keras.layers.RNN, cell, return_sequences=True)
    if isinstance(rnn, Failure):
        return {"rnn": rnn}
    run = _graph_runner(tf, cell, rnn)
    out = _attempt(run, tf.zeros((len(z0), n_steps, 1), dtype=tf.float64),
                   tf.constant(z0, dtype=tf.float64))
    if isinstance(out, Failure):
        return {"rnn": None, "graph": out, "graph_text": _error_excerpt(out.error)}
    Z, D = out
    return {"rnn": None, "graph": None, "Z": Z, "D": D}


def _expect_tf(is_tensor, got, what: str, why: str) -> None:
    if is_tensor is not True:
        raise AssertionError(f"{what} must be a TensorFlow tensor ({why}); got "
                             f"{display_type(got)}. Compute with tf operations, not NumPy")


def _judge_step(seen: dict, states: np.ndarray, params, *, other: bool) -> None:
    """One eager call of the cell: structure, type, dtype, shape, values, and the tape's
    Jacobian."""
    for attr in ("state_size", "output_size"):
        value = _outcome(seen[attr])
        number = _outcome(value["int"])
        if not (isinstance(number, int) and number == 2):
            raise AssertionError(f"{attr} must be 2 (the Henon state is (x, y)); got "
                                 f"{_outcome(value['repr'])}")
    result = _outcome(seen["result"])
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        length = f" of length {len(result)}" if isinstance(result, (tuple, list)) else ""
        raise AssertionError("call must return a pair (output, [next_state]), e.g. "
                             f"return z_next, [z_next]; got {display_type(result)}{length}")
    output, new_states = result
    if not (isinstance(new_states, (tuple, list)) and len(new_states) == 1):
        length = f" of length {len(new_states)}" if isinstance(new_states, (tuple, list)) \
            else ""
        raise AssertionError(
            "the second returned item must be a list holding the next state, [z_next] "
            f"(keras.layers.RNN takes its states as a list); got "
            f"{display_type(new_states)}{length}")
    nxt = new_states[0]
    _expect_tf(seen["output_tensor"], output, "the cell's output", _TF_WHY)
    _expect_tf(seen["next_tensor"], nxt, "the next state in [z_next]",
               "keras.layers.RNN feeds it back into call, inside tf.function")
    jacobian = _outcome(seen["jacobian"])
    output_dtype, next_dtype = seen["output_dtype"], seen["next_dtype"]
    if output_dtype != "float64":
        if _outcome(seen["compute_dtype_differs"]):
            raise AssertionError(
                f"the cell computes in {output_dtype}, not float64: Keras casts a "
                "layer's inputs to its float type, so call keras.config.set_floatx('float64') "
                "before creating the cell (import_tensorflow(floatx='float64') does it)")
        raise AssertionError(
            f"the cell's output has dtype {output_dtype}, not float64, although Keras "
            "hands it float64 states: compute with the states' dtype, without casts or "
            "constants of another float type (tf.constant(1.0) is float32)")
    if next_dtype != output_dtype:
        raise AssertionError(f"the next state has dtype {next_dtype} but the output "
                             f"{output_dtype}: return the same tensor twice")
    expected = henon_map(states, *params)
    out, nxt = output.numpy(), nxt.numpy()
    expect_shape(out, expected.shape,
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


def _judge_graph(seen: dict, z0: np.ndarray, n_steps: int, params) -> None:
    """The run of :func:`_graph_runner` against the orbit and the chain rule; a failure of
    tracing translated into what the student did."""
    _outcome(seen["rnn"])
    error = seen["graph"]
    if isinstance(error, Raised) and error.is_a("Exception"):
        where = ("the cell fails when keras.layers.RNN runs it inside tf.function, as the "
                 "next cells do (generate(...) and rnn_lyapunov_spectrum): there call "
                 "receives symbolic tensors, which have a shape but no values yet")
        excerpt = seen.get("graph_text")
        text = _error_text(excerpt if isinstance(excerpt, str) else error.message)
        if "numpy" in text.lower():
            raise AssertionError(
                f"{where}. Your call uses NumPy on them (.numpy(), np.stack, np.array, "
                f"...): {error.type_name}: {text}. Use TensorFlow operations only "
                "(tf.stack, tf.concat)") from None
        if error.is_a("OperatorNotAllowedInGraphError"):
            raise AssertionError(
                f"{where}. Your call uses a tensor's value in a Python condition (if, "
                f"while, and, or): {text}. Compute both branches with tf.where, or avoid "
                "the condition") from None
        raise AssertionError(f"{where}, and the batch size is unknown (z.shape[0] is None; "
                             f"tf.shape(z)[0] is not). {error.type_name}: {text}"
                             ) from None
    _outcome(error)
    want = henon_orbit(z0, n_steps + 1, *params)[:, 1:]
    Z = real_array(seen["Z"], "keras.layers.RNN(cell) in tf.function")
    expect_shape(Z, want.shape, f"keras.layers.RNN(cell, return_sequences=True) in "
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
    J = real_array(seen["D"], "the Jacobian of one step in tf.function")
    if not np.allclose(J, henon_jacobian(z0, *params), rtol=1e-10, atol=1e-12):
        raise AssertionError(
            "the orbit through keras.layers.RNN is right, but inside tf.function "
            "GradientTape's Jacobian of one step is not [[-2 a x, 1], [b, 0]], as "
            "rnn_lyapunov_spectrum needs: part of call is hidden from the tape (NumPy, "
            "tf.stop_gradient) or depends on values fixed while tracing")


def _judge_cell(case: Case, seen: dict) -> None:
    if not _outcome(seen["is_class"]):
        raise AssertionError("check_henon_cell takes the class, check_henon_cell(HenonCell), "
                             f"not an instance; got {_outcome(seen['given'])}")
    _outcome(seen["cell"])
    p = case.params
    states = _cell_states(case)
    if p["kind"] == "step":
        _judge_step(seen, states, (p["a"], p["b"]), other=p["other"])
    else:
        _judge_graph(seen, states, p["n_steps"], (p["a"], p["b"]))


HENON_CELL = Check(
    "check_henon_cell", _cell_cases, _probe_cell, _judge_cell,
    "HenonCell: one step of the Henon map, batch-wise, output = next state", CHAPTER)


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
    _run_check(HENON_CELL, (cell_class,), hidden=hidden, params={"a": a, "b": b})


# ------------------------------------------------------------------------------- task 2

_JACOBIAN_WHY = ("the next cells compare it with GradientTape's float64 Jacobians to 1e-12 "
                 "and multiply it out")


def _jacobian_cases(hidden: bool, salt: int | None, a: float = HENON_A,
                    b: float = HENON_B) -> list[Case]:
    a, b = json_number(a), json_number(b)
    cases = [Case("the Jacobians", dict(a=a, b=b, other=False)),
             Case("the Jacobians with another a and b",
                  dict(a=_OTHER_AB[0], b=_OTHER_AB[1], other=_OTHER_AB != (a, b)))]
    if hidden:
        for label, pair, seed, batch in _HIDDEN_JACOBIAN_CASES:
            pa, pb = pair if pair is not None else (a, b)
            cases.append(Case(label, dict(a=pa, b=pb, other=pair is not None,
                                          states=dict(seed=_salted(seed, salt),
                                                      bounds=[1.3, 1.3], batch=batch)),
                                  hidden=True))
    return cases


def _probe_jacobian(case: Case, jacobian_fn) -> dict:
    p = case.params
    z = _cell_states(case)
    return {"got": _attempt(jacobian_fn, z, p["a"], p["b"]), "z": z}


def _judge_jacobian(case: Case, seen: dict) -> None:
    p = case.params
    states, params, other = _cell_states(case), (p["a"], p["b"]), p["other"]
    expected = henon_jacobian(states, *params)
    got = real_array(_outcome(seen["got"]), "henon_jacobian", why=_JACOBIAN_WHY)
    assert_unchanged([states], [seen["z"]], ["z"])
    expect_float64(got, "henon_jacobian's result", _JACOBIAN_WHY)
    expect_shape(got, expected.shape,
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


HENON_JACOBIAN = Check(
    "check_henon_jacobian", _jacobian_cases, _probe_jacobian, _judge_jacobian,
    "henon_jacobian: [[-2 a x, 1], [b, 0]] at every state of the batch", CHAPTER)


def check_henon_jacobian(jacobian_fn, a: float = HENON_A, b: float = HENON_B, *,
                         hidden: bool = False) -> None:
    """Check ``jacobian_fn(z, a, b)``: the analytic Jacobians ``[[-2 a x, 1], [b, 0]]``
    for a batch of states ``z`` of shape ``(B, 2)`` (a NumPy array), returned as a float64
    array (or tensor) of shape ``(B, 2, 2)``, for ``(a, b)`` and for another pair, without
    changing ``z``. Hidden cases: other ``a``, ``b``, states and batch sizes."""
    _run_check(HENON_JACOBIAN, (jacobian_fn,), hidden=hidden, params={"a": a, "b": b})


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


# The constant diagonal map of the first case: its exponents are the logs of |diag|.
_DIAG = np.array([0.5, -2.0, 1.0])


def _qr_cases(hidden: bool, salt: int | None) -> list[Case]:
    orbit = dict(kind="orbit", z0=[0.1, 0.1], n_steps=600, orbit_transient=100,
                 a=HENON_A, b=HENON_B)
    cases = [Case("a constant diagonal map", dict(kind="constant", transient=None)),
             Case("a Henon orbit", dict(orbit, transient=0)),
             Case("a Henon orbit with a transient", dict(orbit, transient=100))]
    if hidden:
        cases += [
            Case("another dimension, length and transient",
                 dict(kind="random", seed=_salted(13, salt), T=70,
                      diag=[1.2, 0.9, 0.6, 0.3], transient=9), hidden=True),
            Case("another orbit, other parameters, length and transient",
                 dict(kind="orbit", seed=_salted(14, salt), n_steps=257, orbit_transient=50,
                      a=1.3, b=0.25, transient=31), hidden=True),
        ]
    return cases


def _qr_inputs(case: Case) -> np.ndarray:
    """The Jacobians of a case, the same in the probe and in the judge. Drawn ones are
    drawn again with seed + 1, + 2, ... until every Jacobian is far from singular (a random
    case) or the orbit stays bounded (a Henon orbit from a random start)."""
    p = case.params
    if p["kind"] == "constant":
        return np.broadcast_to(np.diag(_DIAG), (50, 3, 3)).copy()
    if p["kind"] == "random":
        d = len(p["diag"])
        for k in range(100):
            rng = np.random.default_rng(p["seed"] + k)
            J = rng.normal(size=(p["T"], d, d)) / 2 + np.diag(p["diag"])
            if np.linalg.svd(J, compute_uv=False).min() > 1e-3:
                break
        return J
    if "z0" in p:
        orbit = henon_orbit(p["z0"], p["n_steps"], p["a"], p["b"],
                            transient=p["orbit_transient"])
        return henon_jacobian(orbit, p["a"], p["b"])
    for k in range(100):
        z0 = np.random.default_rng(p["seed"] + k).uniform(-0.5, 0.5, size=2)
        try:
            orbit = henon_orbit(z0, p["n_steps"], p["a"], p["b"],
                                transient=p["orbit_transient"])
        except FloatingPointError:  # outside the basin of the attractor: draw again
            continue
        if np.abs(orbit).max() <= _ORBIT_BOUND:
            return henon_jacobian(orbit, p["a"], p["b"])
    raise RuntimeError("no bounded Henon orbit from 100 draws")  # pragma: no cover


def _probe_qr(case: Case, qr_fn) -> dict:
    jacobians = _qr_inputs(case)
    transient = case.params["transient"]
    if transient is None:
        return {"got": _attempt(qr_fn, jacobians)}
    return {"got": _attempt(qr_fn, jacobians, transient=transient)}


def _qr_result(value, jacobians: np.ndarray) -> np.ndarray:
    """The student's result (as observed) as a float64 NumPy array."""
    got = _outcome(value)
    if got is not None and not isinstance(got, np.ndarray):
        detail = (" (a TensorFlow tensor has no .sum(): compute with NumPy, or call "
                  ".numpy())" if callable(getattr(got, "numpy", None)) else
                  " (a list has no .sum(); for the order use np.sort(...)[::-1], not "
                  "sorted())" if isinstance(got, list)
                  else "")
        raise AssertionError(f"lyapunov_qr must return a NumPy array ({_QR_WHY}); got "
                             f"{display_type(got)}{detail}")
    got = real_array(got, "lyapunov_qr", why=_QR_WHY)
    expect_float64(got, "lyapunov_qr's result", "the exponents are averages of many logs")
    d = jacobians.shape[-1]
    expect_shape(got, (d,), f"for Jacobians of shape {jacobians.shape} return the {d} "
                  f"exponents, shape ({d},)")
    return got


def _judge_constant(seen: dict, constant: np.ndarray) -> None:
    want = np.sort(np.log(np.abs(_DIAG)))[::-1]
    got = _qr_result(seen["got"], constant)
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
        raise AssertionError(f"for the constant map diag{_fmt(_DIAG)} (all 50 Jacobians "
                             f"equal), {fmt_pair(want, got)}")


def _judge_qr_orbit(seen: dict, jacobians: np.ndarray, transient: int, what: str) -> None:
    want = lyapunov_from_jacobians(jacobians, transient=transient)
    got = _qr_result(seen["got"], jacobians)
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


def _judge_qr(case: Case, seen: dict) -> None:
    jacobians = _qr_inputs(case)
    transient = case.params["transient"]
    if transient is None:
        _judge_constant(seen, jacobians)
        return
    what = ("hidden" if case.hidden else
            f"along a Henon orbit of {len(jacobians)} steps with transient={transient}")
    _judge_qr_orbit(seen, jacobians, transient, what)


LYAPUNOV_QR = Check(
    "check_lyapunov_qr", lambda hidden, salt: _qr_cases(hidden, salt), _probe_qr, _judge_qr,
    "lyapunov_qr: matches the reference on a diagonal map and on a Henon orbit", CHAPTER)

#: The checks of this chapter, by name.
CHECKS = {check.name: check for check in (HENON_CELL, HENON_JACOBIAN, LYAPUNOV_QR)}


def check_lyapunov_qr(qr_fn, *, hidden: bool = False) -> None:
    """Check ``qr_fn(jacobians, transient=0)``: the QR estimate of the Lyapunov spectrum
    from Jacobians of shape ``(T, d, d)``: with ``Q_0 = I`` and ``J_t Q_{t-1} = Q_t R_t``,
    ``lambda_i = 1 / (T - transient) * sum_{t > transient} ln|(R_t)_ii|`` (natural log, per
    step), sorted descending, as a float64 NumPy array of shape ``(d,)``. Cases: a constant
    diagonal map (exponents ln|diag|), and a Henon orbit with and without a transient.
    Hidden cases: another dimension, length and transient; another orbit."""
    _run_check(LYAPUNOV_QR, (qr_fn,), hidden=hidden)
