"""Checks of chapter 01 (the Henon map as a Keras RNN cell): the cell, its Jacobian and the
QR estimate of the Lyapunov spectrum.

Each check is a :class:`~course_utils.checks.framework.Check` in three parts: the cases
(parameters, seeds and sizes), the probe (in the student's process: it builds the inputs,
calls the student's code, runs the cell the way the next cells do, with TensorFlow, and
records what came back) and the judge (in the grader's process, without TensorFlow: it
computes the expected values with the NumPy reference and compares).

The visible cases hold the conditions of the notebook's next cells: float64 states, a batch
of one state (the step by hand from z_0 = (0.1, 0.1)) and a batch of several,
``HenonCell()`` and ``henon_jacobian(z)`` called with their default a and b, Jacobians of
``d = 2`` and another dimension, with and without a transient. A wrong value is reported
in the form of every chapter (:func:`~course_utils.checks.framework.mismatch`), followed
by the slip it shows where one is recognised (a sign, a missing term, x and y swapped, the
new x used for y, the constants 1.4 and 0.3 instead of a and b, float32 precision, the
frame of the QR method not carried, the transient miscounted, a product that over- or
underflowed, an entry of the Jacobians never written); an error of the student's code is
reported with the input it was called with and, for mixed dtypes, as a dtype error; an input
changed in place is reported as such."""

from __future__ import annotations

import re

import numpy as np

from ..henon import HENON_A, HENON_B, henon_jacobian, henon_map, henon_orbit
from ..lyapunov import lyapunov_from_jacobians
from .framework import (Case, Check, assert_unchanged, attempt as _attempt, first_mismatch,
                        fmt as _fmt, mismatch, outcome as _outcome, run_check as _run_check,
                        salted as _salted, with_hint)
from .helpers import expect_float64, expect_shape, json_number, observed_values, real_array
from .observations import Failure, Raised, display_type

CHAPTER = "01_henon_keras_rnn"
__all__ = ["check_henon_cell", "check_henon_jacobian", "check_lyapunov_qr"]

# States of the Henon map at which the checks evaluate (x, y): generic, not symmetric.
_STATES = np.array([[0.1, 0.1], [0.5, -0.2], [-1.1, 0.35], [0.9, 0.05]])
# The state of the next cell's step by hand, z_0 = (0.1, 0.1), as a batch of one.
_SINGLE = np.array([[0.1, 0.1]])
# The first seven states of the notebook's orbit from z_0 = (0.1, 0.1) (rounded): the next
# cells hand henon_jacobian such a stretch of an orbit (z_path, and the whole orbit Z).
_ORBIT_STATES = np.array([[0.1, 0.1], [1.086, 0.03], [-0.621154, 0.3258],
                          [0.785634, -0.186346], [-0.050456, 0.23569],
                          [1.232126, -0.015137], [-1.140525, 0.369638]])
#: The fixed states of the visible cases, by name.
_FIXED_STATES = {"batch": _STATES, "single": _SINGLE, "orbit": _ORBIT_STATES}
# A second parameter pair of the visible cases: a function that ignores its a and b shows.
_OTHER_AB = (1.2, 0.4)
# The steps of the visible run through keras.layers.RNN (its orbits from _STATES stay
# within |z| < 1.3).
_GRAPH_STEPS = 6

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
# An error message that speaks of dtypes: TensorFlow's "expected to be a double tensor
# but is a float tensor", "types [float64, float32] that don't all match", NumPy's dtypes.
_DTYPE_ERROR = re.compile(r"dtype|double|float(16|32|64)|bfloat|half", re.I)


def _first_bad(got: np.ndarray, expected: np.ndarray, rtol: float, atol: float):
    """The index of the first entry where ``got`` differs from ``expected``, else None."""
    bad = ~np.isclose(got, expected, rtol=rtol, atol=atol)
    return None if not bad.any() else np.unravel_index(int(np.argmax(bad)), bad.shape)


def _float32_close(got: np.ndarray, expected: np.ndarray, rtol: float = 1e-6,
                   atol: float = 1e-7) -> bool:
    """Does ``got`` agree with ``expected`` to float32 precision (about 7 digits), the
    tolerance that of one step (an average over many steps: ``rtol`` and ``atol`` given)?"""
    return bool(np.all(np.isfinite(got))
                and np.allclose(got, expected, rtol=rtol, atol=atol))


_FLOAT32_HINT = ("your values agree with the expected ones to about 7 digits only, the "
                 "precision of float32: does part of your computation run in float32 "
                 "({how})? Keep everything in float64")

_BOLD = re.compile(r"\x1b\[1m(.*?)\x1b\[0m", flags=re.S)


_TF_NOISE = re.compile(r"\{\{function_node [^}]*\}\}\s*|\s*name:\s*\S*$")


def _error_text(text: str) -> str:
    """The gist of an error message: Keras's bold line, else the first line, without
    TensorFlow's function node and op name, shortened."""
    bold = _BOLD.search(text)
    text = bold.group(1) if bold else text
    text = re.sub(r"\x1b\[[0-9;]*m", "", text).strip()
    line = next((s.strip() for s in text.splitlines() if s.strip()), "")
    line = _TF_NOISE.sub("", line).strip()
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


def _student_value(value, case: Case, who: str, where: str, hint):
    """What the student's code returned, as the judge sees it. If it raised: on a visible
    case an ``AssertionError`` that says on which input ("``who`` raised ValueError
    ``where`` (case): ...") and, for mixed dtypes, that it is a dtype error, followed by
    ``hint(text, is_dtype)`` (the student's own exception stays attached in the notebook);
    on a hidden case the student's exception itself, which the hidden case reports by its
    type only. The template's ``NotImplementedError`` (a task not attempted), a
    ``MemoryError`` (a limit) and what is no ``Exception`` (an interrupt) stay as raised."""
    if (not isinstance(value, Raised) or case.hidden
            or value.is_a("NotImplementedError", "MemoryError") or not value.is_a("Exception")):
        return _outcome(value)
    text = _error_text(value.message)
    is_dtype = bool(_DTYPE_ERROR.search(text))
    kind = "a dtype error, " if is_dtype else ""
    where = f" {where}" if where else ""
    raise AssertionError(f"{who} raised {value.type_name}{where} ({case.label}): {kind}"
                         f"{text}. {hint(text, is_dtype)}") from value.original


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


def _cell_states(case: Case) -> np.ndarray:
    """The states of a case (the initial states of a run through keras.layers.RNN): fixed
    ones by name, or drawn ones (a hidden case's seed, bounds and batch size)."""
    s = case.params.get("states", "batch")
    if isinstance(s, str):
        return _FIXED_STATES[s].copy()
    return _uniform_states(s["seed"], s["bounds"], s["batch"])


def _at(states: np.ndarray, n: int, a, b) -> str:
    """Where a wrong value is: the state and the parameters, for a message."""
    return f"the state z[{n}] = (x, y) = {_fmt(states[n])} with a = {a}, b = {b}"


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
    """The visible cases: one eager step on a batch of 4 states, with (a, b) and with
    another pair; the step by hand of the next cell (a batch of one state, z_0 = (0.1,
    0.1)); keras.layers.RNN in tf.function with the batch size unknown, on a cell created
    as the next cells create it (``HenonCell()`` with its defaults, when (a, b) are the
    notebook's). The hidden ones: other parameters, states, batch sizes and lengths."""
    a, b = json_number(a), json_number(b)
    defaults = (a, b) == (HENON_A, HENON_B)
    cases = [
        Case("one step of the cell on a batch of 4 states",
             dict(kind="step", a=a, b=b, other=False, states="batch")),
        Case("one step of the cell with another a and b",
             dict(kind="step", a=_OTHER_AB[0], b=_OTHER_AB[1], other=_OTHER_AB != (a, b),
                  states="batch")),
        Case("one step from z_0 = (0.1, 0.1), a batch of one state as in the next cell",
             dict(kind="step", a=a, b=b, other=False, states="single")),
        Case("HenonCell() through keras.layers.RNN in tf.function" if defaults else
             "the cell through keras.layers.RNN in tf.function",
             dict(kind="graph", a=a, b=b, n_steps=_GRAPH_STEPS, defaults=defaults,
                  states="batch")),
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


def _probe_cell(case: Case, cell_class) -> dict:
    seen = {"is_class": _attempt(isinstance, cell_class, type)}
    if seen["is_class"] is not True:
        seen["given"] = _attempt(lambda: type(cell_class).__name__)
        return seen
    from ..runtime import import_tensorflow

    tf = import_tensorflow()
    p = case.params
    if p.get("defaults"):
        cell = _attempt(cell_class)  # as the next cells create it: HenonCell()
    else:
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


_OWN_AB = ("use the cell's own a and b, self.a and self.b (the values it was created with), "
           "not the numbers 1.4 and 0.3")


def _cell_slips(states: np.ndarray, a: float, b: float) -> list:
    """The usual slips of the cell's step: (component, its values for every state, hint)."""
    x, y = states[:, 0], states[:, 1]
    x_next = 1.0 - a * x * x + y
    return [
        (0, 1.0 + a * x * x + y, "the sign of a x^2 is wrong; x_next = 1 - a x^2 + y"),
        (0, 1.0 - a * y * y + x, "x and y are swapped: x = z[:, 0] and y = z[:, 1], the "
                                 "columns of the state"),
        (0, b * x, "the components are in the wrong order: z_next = (x_next, y_next) = "
                   "(1 - a x^2 + y, b x)"),
        (0, 1.0 - b * x * x + y, "a and b are swapped: x_next = 1 - a x^2 + y, y_next = b x"),
        (0, 1.0 - a * x * x, "the + y is missing: x_next = 1 - a x^2 + y"),
        (0, 1.0 - a * x + y, "x must be squared: x_next = 1 - a x^2 + y"),
        (0, 1.0 - (a * x) ** 2 + y, "a x^2 is a * x * x, not (a x)^2"),
        (0, 1.0 - HENON_A * x * x + y, _OWN_AB),
        (1, b * x_next, "y_next = b x takes the x of the state before the step, not the new "
                        "x_next: was x overwritten before y_next was computed?"),
        (1, b * y, "y_next = b x, not b y"),
        (1, a * x, "a and b are swapped: y_next = b x"),
        (1, HENON_B * x, _OWN_AB),
    ]


def _cell_shape_hint(shape: tuple, batch: int) -> str:
    """What a wrong shape of the cell's output says of the slip."""
    if shape == (2, batch):
        return ("Stack the components along axis=1, one row (x_next, y_next) per state: "
                "tf.stack([x_next, y_next], axis=1)")
    if batch == 1 and len(shape) < 2:
        return ("A batch may hold a single state (the next cell's z0 has shape (1, 2)): keep "
                "the batch axis, no tf.squeeze and no reshape to (2,)")
    if shape == (batch, 2, 1):
        return ("Your components are columns of shape (batch, 1): join them with "
                "tf.concat(..., axis=1), or take x = z[:, 0], y = z[:, 1]")
    return "Work on the whole batch: x = z[:, 0], y = z[:, 1]"


def _cell_raised_hint(states: np.ndarray):
    def hint(text: str, is_dtype: bool) -> str:
        if is_dtype:
            return ("Keras hands the cell float64 states; part of your computation is "
                    "float32 (tf.constant(1.0), tf.ones(...) and tf.cast(..., tf.float32) "
                    "are float32 unless told otherwise). Compute from x and y with Python "
                    "numbers (1.0, self.a), or give dtype=z.dtype")
        single = (" A batch may hold a single state: keep the batch axis."
                  if len(states) == 1 else "")
        return ("The state is states[0], a tensor of shape (batch, 2), one row (x, y) per "
                "state; inputs is the dummy input of shape (batch, 1), which the cell "
                "ignores. Take x, y = z[:, 0], z[:, 1] and use TensorFlow operations" + single)
    return hint


def _judge_step(seen: dict, case: Case, states: np.ndarray, params, *, other: bool) -> None:
    """One eager call of the cell: structure, type, dtype, shape, values, and the tape's
    Jacobian."""
    for attr in ("state_size", "output_size"):
        value = _outcome(seen[attr])
        number = _outcome(value["int"])
        if not (isinstance(number, int) and number == 2):
            raise AssertionError(f"{attr} must be 2 (the Henon state is (x, y)); got "
                                 f"{_outcome(value['repr'])}")
    result = _student_value(seen["result"], case, "the cell",
                            f"on states [z] with z of shape {states.shape}, float64",
                            _cell_raised_hint(states))
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
    a, b = params
    expected = henon_map(states, a, b)
    out, nxt = output.numpy(), nxt.numpy()
    expect_shape(out, expected.shape,
                 f"for a batch of states of shape {states.shape} ({case.label}) the output "
                 f"must have shape {expected.shape}", _cell_shape_hint(out.shape, len(states)))
    bad = _first_bad(out, expected, 1e-12, 1e-12)
    if bad is not None:
        n, k = bad
        hint = None
        if np.allclose(out, states, rtol=1e-12, atol=1e-12):
            hint = ("the output is the state before the step, z itself: compute the new "
                    "state and return it, return z_next, [z_next]")
        elif _float32_close(out, expected):
            hint = _FLOAT32_HINT.format(how="tf.cast(..., tf.float32), tf.constant without "
                                            "dtype") + ", the dtype of the states"
        else:
            hint = next((h for c, values, h in _cell_slips(states, a, b)
                         if c == k and np.allclose(out[:, k], values, rtol=1e-10,
                                                   atol=1e-12)), None)
        if hint is None:
            formula = ("x_next = 1 - a x^2 + y", "y_next = b x")[k]
            hint = f"the map gives {formula}" + (
                " (did you use the cell's own a and b, self.a and self.b?)" if other else "")
        raise AssertionError(
            f"{mismatch('z_next', (n, k), expected[n, k], out[n, k], case.label)}. "
            f"At {_at(states, n, a, b)}: {hint}")
    if not np.allclose(nxt, out, rtol=1e-12, atol=1e-12):
        raise AssertionError("the next state must equal the output: the cell outputs its "
                             "state (return z_next, [z_next])")
    want = henon_jacobian(states, a, b)
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
        wrong = mismatch("J_tape", (n, i, j), want[n, i, j], jacobian.numpy()[n, i, j],
                         case.label)
        raise AssertionError(
            f"{wrong}. The values are right, but GradientTape's Jacobian of the cell (what "
            f"batch_jacobian gives the next cells), d {'xy'[i]}_next / d {'xy'[j]}, is wrong "
            f"at {_at(states, n, a, b)}: part of the computation is hidden from the tape "
            "(NumPy, .numpy(), tf.stop_gradient); the next cells compare this Jacobian with "
            "the analytic one")


_DEFAULTS_HINT = (" This case creates the cell as the next cells do, HenonCell() without "
                  "arguments: are the defaults of __init__ a=1.4, b=0.3?")


def _judge_graph(seen: dict, case: Case, z0: np.ndarray, n_steps: int, params) -> None:
    """The run of :func:`_graph_runner` against the orbit and the chain rule; a failure of
    tracing translated into what the student did."""
    _outcome(seen["rnn"])
    defaults = _DEFAULTS_HINT if case.params.get("defaults") else ""
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
        n, t, k = bad
        raise AssertionError(
            f"{mismatch('Z', (n, t, k), want[n, t, k], Z[n, t, k], case.label)}. Eager calls "
            f"of the cell are right, but keras.layers.RNN(cell) in tf.function gives another "
            f"orbit: state z_{t + 1} from z_0 = {_fmt(z0[n])}. Does call depend on Python "
            f"state or on values that are fixed while tracing?{defaults}")
    J = real_array(seen["D"], "the Jacobian of one step in tf.function")
    want = henon_jacobian(z0, *params)
    bad = _first_bad(J, want, 1e-10, 1e-12)
    if bad is not None:
        n, i, j = bad
        raise AssertionError(
            f"{mismatch('J_tape', (n, i, j), want[n, i, j], J[n, i, j], case.label)}. The "
            "orbit through keras.layers.RNN is right, but inside tf.function GradientTape's "
            "Jacobian of one step is not [[-2 a x, 1], [b, 0]], as rnn_lyapunov_spectrum "
            "needs: part of call is hidden from the tape (NumPy, tf.stop_gradient) or "
            f"depends on values fixed while tracing{defaults}")


def _judge_cell(case: Case, seen: dict) -> None:
    if not _outcome(seen["is_class"]):
        raise AssertionError("check_henon_cell takes the class, check_henon_cell(HenonCell), "
                             f"not an instance; got {_outcome(seen['given'])}")
    p = case.params
    if p.get("defaults"):
        _student_value(seen["cell"], case, "HenonCell()", "without arguments",
                       lambda text, is_dtype: "The next cells create HenonCell() without "
                       "arguments: keep the defaults of __init__, a=1.4, b=0.3")
    else:
        _student_value(seen["cell"], case, f"HenonCell(a={p['a']}, b={p['b']})", "",
                       lambda text, is_dtype: "__init__ must take a and b as keyword "
                       "arguments: def __init__(self, a=1.4, b=0.3, **kwargs)")
    states = _cell_states(case)
    if p["kind"] == "step":
        _judge_step(seen, case, states, (p["a"], p["b"]), other=p["other"])
    else:
        _judge_graph(seen, case, states, p["n_steps"], (p["a"], p["b"]))


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
    ``z_next = (1 - a x^2 + y, b x)`` row by row, for a batch of states with ``(a, b)`` and
    with another pair, and for a batch of one state (the next cell's step by hand). As the
    next cells use it, GradientTape's Jacobian of the output by the state (what
    ``batch_jacobian`` gives) must be ``[[-2 a x, 1], [b, 0]]``, and inside a
    ``tf.function`` traced with the batch size unknown (as ``generate`` and
    ``rnn_lyapunov_spectrum`` run it) ``keras.layers.RNN(HenonCell())``, the cell created
    with its default arguments, must give the orbit and the tape the same Jacobian.
    Hidden cases: other ``a``, ``b`` and states, other batch sizes and numbers of steps.
    """
    _run_check(HENON_CELL, (cell_class,), hidden=hidden, params={"a": a, "b": b})


# ------------------------------------------------------------------------------- task 2

_JACOBIAN_WHY = ("the next cells compare it with GradientTape's float64 Jacobians to 1e-12 "
                 "and multiply it out")


def _jacobian_cases(hidden: bool, salt: int | None, a: float = HENON_A,
                    b: float = HENON_B) -> list[Case]:
    """The visible cases: 4 states with (a, b) and with another pair, and a stretch of 7
    states of the notebook's orbit with the default a and b, called as the next cells call
    it, ``henon_jacobian(z)``. The hidden ones: other parameters, states and batch sizes
    (a single state among them)."""
    a, b = json_number(a), json_number(b)
    cases = [Case("the Jacobians at 4 states", dict(a=a, b=b, other=False, states="batch")),
             Case("the Jacobians with another a and b",
                  dict(a=_OTHER_AB[0], b=_OTHER_AB[1], other=_OTHER_AB != (a, b),
                       states="batch")),
             Case("7 states of an orbit, henon_jacobian(z) with the default a and b",
                  dict(a=HENON_A, b=HENON_B, other=False, states="orbit", defaults=True))]
    if hidden:
        for label, pair, seed, batch in _HIDDEN_JACOBIAN_CASES:
            pa, pb = pair if pair is not None else (a, b)
            cases.append(Case(label, dict(a=pa, b=pb, other=pair is not None,
                                          states=dict(seed=_salted(seed, salt),
                                                      bounds=[1.3, 1.3], batch=batch)),
                                  hidden=True))
    return cases


# The probe calls henon_jacobian twice on the same states, each time just after freeing
# blocks of the result's size that hold one of these numbers: NumPy keeps up to 7 freed
# blocks of each size below 1 KiB (every visible case's result) and hands them out again,
# last freed first, so that np.empty returns one of them with its content. An entry that
# the student's code never writes comes back as NaN from the first call, as the other
# number from the second.
_DIRTY_FILLS = (np.nan, -7.25)
_DIRTY_BLOCKS = 7


def _dirty_memory(size: int, fill: float) -> None:
    """Leave NumPy's allocator with freed float64 blocks of ``size`` numbers that hold
    ``fill``, for the next allocations of that size."""
    blocks = [np.full(size, fill) for _ in range(_DIRTY_BLOCKS)]
    del blocks


def _probe_jacobian(case: Case, jacobian_fn) -> dict:
    """The student's Jacobians, from two calls with the same states, each after freed
    memory of the result's size was filled with another number (:data:`_DIRTY_FILLS`), and
    the states of each call after it (changed in place or not: ``z``, ``z_again``)."""
    p = case.params
    seen = {}
    for key, fill in zip(("got", "again"), _DIRTY_FILLS):
        states = seen["z" if key == "got" else "z_again"] = _cell_states(case)
        _dirty_memory(4 * len(states), fill)
        if p.get("defaults"):  # as the next cells call it
            seen[key] = _attempt(jacobian_fn, states)
        else:
            seen[key] = _attempt(jacobian_fn, states, p["a"], p["b"])
    return seen


def _expect_written(got: np.ndarray, again, expected: np.ndarray, label: str) -> None:
    """Raise if an entry of the Jacobians is NaN or differs between the two calls with the
    same states (``got`` and ``again``, as observed): it was never written, and holds what
    the memory held before (np.empty)."""
    if isinstance(again, Raised):
        return
    try:
        again = np.asarray(again.numpy() if callable(getattr(again, "numpy", None))
                           else observed_values(again), dtype=float)
    except Exception:  # noqa: BLE001 - the first call's result is judged by itself
        return
    if again.shape != got.shape:
        return
    unwritten = np.isnan(got) & ~np.isnan(expected)
    unwritten |= ~((got == again) | (np.isnan(got) & np.isnan(again)))
    if not unwritten.any():
        return
    n, i, j = (int(k) for k in np.argwhere(unwritten)[0])
    first, second = got[n, i, j], again[n, i, j]
    shown = second if np.isclose(first, expected[n, i, j], rtol=1e-12, atol=1e-12) else first
    entry = f"J[{n}, {i}, {j}]"
    if np.isnan(first) and np.isnan(second):
        how = f"{entry} is NaN"
    else:
        how = (f"{entry} differs between two calls with the same input ({_fmt(first)}, then "
               f"{_fmt(second)})")
    raise AssertionError(
        f"{mismatch('J', (n, i, j), expected[n, i, j], shown, label)}. {how}: an entry "
        "was never written (np.empty leaves the memory as it was): start from np.zeros, or "
        "write every entry")


def _jacobian_slips(states: np.ndarray, a: float, b: float) -> list:
    """The usual slips of the Jacobian: ((i, j), the entry for every state, hint)."""
    x, y = states[:, 0], states[:, 1]
    zero, one = np.zeros_like(x), np.ones_like(x)
    own = "use the arguments a and b, not the numbers 1.4 and 0.3"
    return [
        ((0, 0), 2 * a * x, "the sign is wrong; x_next = 1 - a x^2 + y, so dx'/dx = -2 a x"),
        ((0, 0), -a * x, "the derivative of a x^2 is 2 a x, so dx'/dx = -2 a x"),
        ((0, 0), -2 * a * y, "J[t, 0, 0] is the derivative by x = z[:, 0], not by y: "
                             "dx'/dx = -2 a x"),
        ((0, 0), -2 * x, "a is missing: dx'/dx = -2 a x"),
        ((0, 0), -2 * HENON_A * x, own),
        ((0, 1), zero, "dx'/dy = 1: x_next = 1 - a x^2 + y"),
        ((1, 0), b * x, "y_next = b x is linear in x, so dy'/dx = b, a constant"),
        ((1, 0), zero, "dy'/dx = b: y_next = b x"),
        ((1, 0), HENON_B * one, own),
        ((1, 1), b * one, "dy'/dy = 0: y_next = b x does not depend on y"),
    ]


_JACOBIAN_ENTRIES = [["dx'/dx = -2 a x", "dx'/dy = 1"], ["dy'/dx = b", "dy'/dy = 0"]]


def _jacobian_raised_hint(defaults: bool):
    def hint(text: str, is_dtype: bool) -> str:
        if defaults and "argument" in text:
            return ("The next cells call henon_jacobian(Z) without a and b: keep the "
                    "defaults of the def line, a=1.4, b=0.3")
        return ("z is a NumPy array of shape (T, 2), one state (x, y) per row: take "
                "x = z[:, 0], and build the (T, 2, 2) result with NumPy")
    return hint


def _judge_jacobian(case: Case, seen: dict) -> None:
    p = case.params
    states, params, other = _cell_states(case), (p["a"], p["b"]), p["other"]
    a, b = params
    expected = henon_jacobian(states, *params)
    call = "henon_jacobian(z)" if p.get("defaults") else "henon_jacobian(z, a, b)"
    got = _student_value(seen["got"], case, call, f"for states z of shape {states.shape}",
                         _jacobian_raised_hint(bool(p.get("defaults"))))
    assert_unchanged([states, states], [seen["z"], seen["z_again"]], ["z", "z"])
    got = real_array(got, "henon_jacobian", why=_JACOBIAN_WHY)
    expect_float64(got, "henon_jacobian's result", _JACOBIAN_WHY)
    expect_shape(got, expected.shape,
                 f"for states of shape {states.shape} the Jacobians must have shape "
                 f"{expected.shape}, one 2 x 2 matrix per state")
    _expect_written(got, seen.get("again"), expected, case.label)
    if (np.allclose(got, np.swapaxes(expected, -1, -2), rtol=1e-12, atol=1e-12)
            and not np.allclose(got, expected, rtol=1e-12, atol=1e-12)):
        raise AssertionError("you returned the transposes: row i of J holds the derivatives "
                             "of the i-th new component, J[i, j] = d z_next[i] / d z[j]")
    bad = _first_bad(got, expected, 1e-12, 1e-12)
    if bad is None:
        return
    n, i, j = bad
    if _float32_close(got, expected):
        hint = _FLOAT32_HINT.format(how="astype(np.float32), dtype=np.float32")
    else:
        hint = next((h for entry, values, h in _jacobian_slips(states, a, b)
                     if entry == (i, j) and np.allclose(got[:, i, j], values, rtol=1e-10,
                                                        atol=1e-12)), None)
        if hint is None:
            hint = f"J[t, {i}, {j}] is {_JACOBIAN_ENTRIES[i][j]}" + (
                " (did you use the arguments a and b, not 1.4 and 0.3?)" if other else "")
    raise AssertionError(
        f"{mismatch('J', (n, i, j), expected[n, i, j], got[n, i, j], case.label)}. "
        f"At {_at(states, n, a, b)}: {hint}")


HENON_JACOBIAN = Check(
    "check_henon_jacobian", _jacobian_cases, _probe_jacobian, _judge_jacobian,
    "henon_jacobian: [[-2 a x, 1], [b, 0]] at every state of the batch", CHAPTER)


def check_henon_jacobian(jacobian_fn, a: float = HENON_A, b: float = HENON_B, *,
                         hidden: bool = False) -> None:
    """Check ``jacobian_fn(z, a, b)``: the analytic Jacobians ``[[-2 a x, 1], [b, 0]]``
    for a batch of states ``z`` of shape ``(B, 2)`` (a NumPy array), returned as a float64
    array (or tensor) of shape ``(B, 2, 2)``, for ``(a, b)`` and for another pair, and
    called as the next cells call it, ``jacobian_fn(z)`` with its default a = 1.4, b = 0.3,
    on a stretch of an orbit; ``z`` must be left unchanged. It is called twice on each
    case's states, each time after freed memory of the result's size was filled with
    another number: an entry that is NaN or differs between the two calls was never
    written (np.empty). Hidden cases: other ``a``, ``b``, states and batch sizes."""
    _run_check(HENON_JACOBIAN, (jacobian_fn,), hidden=hidden, params={"a": a, "b": b})


# ------------------------------------------------------------------------------- task 3

_QR_WHY = "the next cell formats lam[0] and calls lam.sum()"


def _qr_variant(jacobians: np.ndarray, transient: int = 0, *, carry: bool = True,
                skip: bool = False, divide_by_all: bool = False, late: int = 0,
                divide_by_counted: bool = False):
    """The QR estimate, right (the defaults) or with one of the usual slips: the frame
    not carried (the R of each Jacobian alone, which Q @ J also gives), the transient steps
    skipped without evolving Q, the sum divided by all T steps, the sum begun ``late``
    steps after the transient (``t > transient``), divided by T - transient or, with
    ``divide_by_counted``, by the number of steps summed."""
    J = jacobians[transient:] if skip else jacobians
    start = 0 if skip else transient
    T, d, _ = J.shape
    Q, total = np.eye(d), np.zeros(d)
    for t in range(T):
        P = J[t] @ Q if carry else J[t]
        Q, R = np.linalg.qr(P)
        if t >= start + late:
            total += np.log(np.abs(np.diag(R)))
    divisor = T if divide_by_all else T - start - (late if divide_by_counted else 0)
    return np.sort(total / divisor)[::-1]


# The constant diagonal map of the first case: its exponents are the logs of |diag|.
_DIAG = np.array([0.5, -2.0, 1.0])


def _qr_cases(hidden: bool, salt: int | None) -> list[Case]:
    """The visible cases: a constant diagonal map of dimension 3 (the default transient),
    and the Jacobians of a Henon orbit (d = 2, as in the next cell) with transient 0 and
    100. The hidden ones: another dimension, length and transient; another orbit."""
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
    """The student's estimate, and its input after the call (changed in place or not)."""
    jacobians = _qr_inputs(case)
    transient = case.params["transient"]
    if transient is None:
        return {"got": _attempt(qr_fn, jacobians), "jacobians": jacobians}
    return {"got": _attempt(qr_fn, jacobians, transient=transient), "jacobians": jacobians}


def _qr_raised_hint(d: int):
    def hint(text: str, is_dtype: bool) -> str:
        if "argument" in text:
            return ("Keep the task's def line, lyapunov_qr(jacobians, transient=0): the "
                    "next cell calls lyapunov_qr(J, transient=100), and transient is 0 "
                    "when not given")
        if d != 2 and re.search(r"shape|dimension|broadcast|size|index", text, re.I):
            return (f"These Jacobians are {d} x {d}: does your code assume d = 2 (np.eye(2), "
                    "np.zeros(2))? Take T and d from jacobians.shape")
        return ("jacobians is a float64 NumPy array of shape (T, d, d); Q starts as "
                "np.eye(d), and Q, R = np.linalg.qr(jacobians[t] @ Q) at every step")
    return hint


def _qr_result(seen: dict, case: Case, jacobians: np.ndarray) -> np.ndarray:
    """The student's result (as observed) as a float64 NumPy array, after the checks that
    the call did not raise and left its input unchanged."""
    transient = case.params["transient"]
    call = ("lyapunov_qr(jacobians)" if transient is None else
            f"lyapunov_qr(jacobians, transient={transient})")
    got = _student_value(seen["got"], case, call,
                         f"for jacobians of shape {jacobians.shape}",
                         _qr_raised_hint(jacobians.shape[-1]))
    after = seen.get("jacobians")
    if not (isinstance(after, np.ndarray) and after.shape == jacobians.shape
            and np.array_equal(after, jacobians, equal_nan=True)):
        raise AssertionError(
            "lyapunov_qr changed its input jacobians in place: the notebook's J would no "
            "longer hold the Jacobians of the orbit, and running the cell again would give "
            "other exponents. Work on new arrays (P = jacobians[t] @ Q), not on the input "
            "(jacobians[t] = ..., jacobians *= ...); np.asarray does not copy a float64 "
            "array")
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


_NAN_HINT = ("The log of a negative diagonal entry of R is NaN (the diagonal of R can be "
             "negative): take the log of the absolute value, np.log(np.abs(np.diag(R)))")
_OVERFLOW_HINT = ("An exponent of +-inf or NaN: a product over- or underflowed (the "
                  "stretchings of the contracting direction multiply to e^(-1.6 T), 0 in "
                  "float64 after about 450 Henon steps; the Jacobians multiplied out grow "
                  "like e^(0.42 T)). Sum log|diag R| step by step, never a product")


def _nonfinite(got: np.ndarray, want: np.ndarray, label: str) -> None:
    """A result with NaN or inf: the log of a negative number, or a product that over- or
    underflowed."""
    finite = np.isfinite(got)
    if finite.all():
        return
    hint = _NAN_HINT if not np.any(np.isinf(got)) else _OVERFLOW_HINT
    raise AssertionError(f"{first_mismatch('lam', want, got, close=finite, case=label)}. "
                         f"{hint}")


def _judge_constant(seen: dict, case: Case, constant: np.ndarray) -> None:
    want = np.sort(np.log(np.abs(_DIAG)))[::-1]
    got = _qr_result(seen, case, constant)
    _nonfinite(got, want, case.label)
    if np.allclose(got, want, atol=1e-10):
        return
    wrong = first_mismatch("lam", want, got, close=np.isclose(got, want, atol=1e-10),
                           case=case.label)
    if np.allclose(np.sort(got)[::-1], want, atol=1e-10):
        hint = "Sort the exponents in descending order, np.sort(...)[::-1]"
    elif np.allclose(got * np.log(10), want, atol=1e-10) \
            or np.allclose(got * np.log(2), want, atol=1e-10):
        hint = "Use the natural log (np.log), not log10 or log2"
    elif np.allclose(got / len(constant), want, atol=1e-10):
        hint = "Divide the summed logs by the number of steps"
    elif np.allclose(got, want * (len(constant) - 1) / len(constant), atol=1e-10):
        hint = (f"The sum begins one step late: with the default transient=0 every step "
                f"t = 0, ..., {len(constant) - 1} (counting from 0) counts, "
                f"{len(constant)} of them; t >= transient, not t > transient")
    else:
        hint = (f"For the constant map diag{_fmt(_DIAG)} (all 50 Jacobians equal) the "
                "exponents are ln|diag|, sorted descending")
    raise AssertionError(f"{wrong}. {hint}")


def _judge_qr_orbit(seen: dict, case: Case, jacobians: np.ndarray, transient: int) -> None:
    want = lyapunov_from_jacobians(jacobians, transient=transient)
    got = _qr_result(seen, case, jacobians)
    _nonfinite(got, want, case.label)
    if np.allclose(got, want, rtol=1e-8, atol=1e-10):
        return
    T = len(jacobians)
    wrong = first_mismatch("lam", want, got, close=np.isclose(got, want, rtol=1e-8,
                                                              atol=1e-10), case=case.label)
    if np.allclose(np.sort(got)[::-1], want, rtol=1e-8, atol=1e-10):
        raise AssertionError(f"{wrong}. Sort the exponents in descending order, "
                             "np.sort(...)[::-1]")
    late = (f"The sum begins one step late: the steps after the transient are t = "
            f"{transient}, ..., {T - 1} (counting from 0), T - transient = {T - transient} "
            f"of them; t >= transient, not t > transient")
    slips = [
        # Q @ J_t has the R of J_t alone (Q is orthogonal): one slip, one message
        (_qr_variant(jacobians, transient, carry=False),
         "Your R is that of each Jacobian alone (as from np.linalg.qr(J_t), or from "
         "Q @ J_t, which has the same R): carry the frame forward, multiply each new "
         "Jacobian from the left onto the current Q, Q, R = np.linalg.qr(J_t @ Q), and keep "
         "the new Q"),
        (_qr_variant(jacobians, transient, late=1), late),
        (_qr_variant(jacobians, transient, late=1, divide_by_counted=True), late),
    ]
    if transient:
        slips += [
            (_qr_variant(jacobians, 0),
             f"With transient={transient}, leave the first {transient} steps out of the sum "
             "(they only align Q with the dynamics) and divide by T - transient"),
            (_qr_variant(jacobians, transient, skip=True),
             f"The first {transient} steps must still evolve Q (that is what aligns the "
             "frame with the dynamics); only their logs are left out of the sum"),
            (_qr_variant(jacobians, transient, divide_by_all=True),
             f"Divide the sum by the number of steps summed, T - transient = "
             f"{T - transient}, not by T = {T}"),
        ]
    for variant, hint in slips:
        if np.allclose(got, variant, rtol=1e-8, atol=1e-10):
            raise AssertionError(f"{wrong}. {hint}")
    if len(got) > 1 and abs(got[0] - want[0]) < 0.05 and got[-1] > want[-1] + 0.5:
        raise AssertionError(
            f"{wrong}. The largest exponent is about right, but the smallest is far too "
            "large: the contracting direction was lost to rounding, as when the Jacobians "
            "are multiplied out before one QR (the columns of the product all turn towards "
            "the most unstable direction). Re-orthonormalise at every step: "
            "Q, R = np.linalg.qr(J_t @ Q)")
    if _float32_close(got, want, rtol=2e-6, atol=5e-7):
        hint = _FLOAT32_HINT.format(how="astype(np.float32), dtype=np.float32, tf.float32")
        raise AssertionError(with_hint(wrong, hint))
    raise AssertionError(
        f"{wrong}. Multiply each new Jacobian onto the current Q (J_t @ Q), "
        "re-orthonormalise by QR, and accumulate log|diag R| of the steps after the "
        "transient only" + ("" if transient == 0 else " (divide by T - transient)"))


def _judge_qr(case: Case, seen: dict) -> None:
    jacobians = _qr_inputs(case)
    transient = case.params["transient"]
    if transient is None:
        _judge_constant(seen, case, jacobians)
    else:
        _judge_qr_orbit(seen, case, jacobians, transient)


LYAPUNOV_QR = Check(
    "check_lyapunov_qr", lambda hidden, salt: _qr_cases(hidden, salt), _probe_qr, _judge_qr,
    "lyapunov_qr: matches the reference on a diagonal map and on a Henon orbit", CHAPTER)

#: The checks of this chapter, by name.
CHECKS = {check.name: check for check in (HENON_CELL, HENON_JACOBIAN, LYAPUNOV_QR)}


def check_lyapunov_qr(qr_fn, *, hidden: bool = False) -> None:
    """Check ``qr_fn(jacobians, transient=0)``: the QR estimate of the Lyapunov spectrum
    from Jacobians of shape ``(T, d, d)``: with ``Q_0 = I`` and ``J_t Q_{t-1} = Q_t R_t``,
    ``lambda_i = 1 / (T - transient) * sum_{t > transient} ln|(R_t)_ii|`` (natural log, per
    step), sorted descending, as a float64 NumPy array of shape ``(d,)``, without changing
    ``jacobians``. Cases: a constant diagonal map (exponents ln|diag|), and a Henon orbit
    with and without a transient. Hidden cases: another dimension, length and transient;
    another orbit."""
    _run_check(LYAPUNOV_QR, (qr_fn,), hidden=hidden)
