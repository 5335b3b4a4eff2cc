"""Checks of chapter 02 (the Lyapunov spectrum of a Keras SimpleRNN): the cell's Jacobian and
the batched QR accumulation.

Each check is a :class:`~course_utils.checks.framework.Check` in three parts: the cases (sizes
and seeds), the probe (in the student's process: it builds the Keras cell with the case's
weights, calls the student's function and records what came back, with the cell's weights
after the call) and the judge (in the grader's process, without TensorFlow: the cell's
weights are a NumPy function of the case, and the expected values come from the NumPy
version of the cell's step, of its Jacobian and of the QR accumulation)."""

from __future__ import annotations

import numpy as np

from .framework import (Case, Check, assert_unchanged, attempt as _attempt, fmt_pair,
                      outcome as _outcome, run_check as _run_check, salted as _salted)
from .helpers import expect_float64, expect_shape, real_array, observed_values
from .observations import Raised, display_type

CHAPTER = "02_keras_rnn_lyapunov"
__all__ = ["check_simple_rnn_jacobian", "check_rnn_qr"]

#: The hidden cases of :func:`check_simple_rnn_jacobian`: (label, units, input width, seed
#: of the weights, seed of x and h, batch size).
_HIDDEN_JACOBIAN_CASES = (
    ("another number of units, input width, batch size and weights", 7, 2, 22, 21, 3),
    ("a batch of one, a wider input and other weights", 4, 6, 23, 24, 1),
)

#: The hidden cases of :func:`check_rnn_qr`: (label, units, input width, seed of the
#: weights, seed of the inputs and h0, number of sequences, steps, k).
_HIDDEN_SPECTRUM_CASES = (
    ("another number of units, sequences, steps and k", 4, 2, 32, 31, 2, 25, 3),
    ("a single sequence and a single exponent", 6, 2, 33, 34, 1, 30, 1),
)

# The cell that rests at h = 0 with J = diag(w), w not sorted (the third visible case of
# check_rnn_qr): the raw order of the exponents is not descending, so an unsorted result
# shows.
_RESTING_DIAG = [0.2, 0.5, 0.9, 0.3, 0.7]

# A drawn case is drawn again (seeds + 1, + 2, ...) until a bound of its pre-activations
# a = x @ kernel + h @ recurrent_kernel + bias, from the weights and the largest |x| and
# |h| alone (|h| <= 1 after a tanh step), lies within these: far out, tanh' is so small
# that J hardly depends on the formula, or that rounding grows with the condition of J.
# A bound, not the pre-activations themselves: the probe builds the inputs too, and must
# not run the cell's reference step. The visible draws lie within them.
_JACOBIAN_MAX_PRE = 14.0
_SPECTRUM_MAX_PRE = 10.0


def _pre_activation_bound(weights, x_max: float) -> float:
    """max_i of sum_j |x_j| |kernel[j, i]| + sum_j |h_j| |recurrent[j, i]| + |bias[i]| over
    all |x_j| <= x_max and |h_j| <= 1."""
    kernel, recurrent, bias = weights
    return float((x_max * np.abs(kernel).sum(0) + np.abs(recurrent).sum(0)
                  + np.abs(bias)).max())


def _rnn_weights(units=5, input_dim=3, seed=0):
    """The kernel, recurrent kernel and bias of the checks' cells, in NumPy: random, with a
    clearly nonzero bias (what the judge uses; the probe sets them in a Keras cell)."""
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(input_dim, units)),
            1.5 * rng.normal(size=(units, units)) / np.sqrt(units),
            rng.normal(size=units)]


def _resting_weights():
    """The weights of the resting cell: no input, no bias, a diagonal recurrent kernel."""
    units = len(_RESTING_DIAG)
    return [np.zeros((3, units)), np.diag(_RESTING_DIAG), np.zeros(units)]


def _small_simple_rnn(tf, units=5, input_dim=3, seed=0, *, weights=None):
    """A built float64 tanh SimpleRNN cell with the weights :func:`_rnn_weights` draws (or
    ``weights``)."""
    if weights is None:
        weights = _rnn_weights(units, input_dim, seed)
    input_dim, units = weights[0].shape
    rnn = tf.keras.layers.SimpleRNN(units, activation="tanh", dtype="float64")
    rnn.build((None, None, input_dim))
    rnn.cell.set_weights(weights)
    return rnn.cell


def _weights(cell):
    """The cell's kernel, recurrent kernel and bias as NumPy arrays (copies)."""
    return [np.array(w) for w in cell.get_weights()]


def _expect_weights_unchanged(after, before) -> None:
    """``after``: the cell's weights as the probe saw them after the student's call."""
    if not all(np.array_equal(b, a) for b, a in zip(before, after)):
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


def _case_weights(spec: dict, k: int = 0):
    """The weights of a case's cell (``k``: the redraw, see :func:`_jacobian_inputs`)."""
    if spec.get("resting"):
        return _resting_weights()
    return _rnn_weights(spec["units"], spec["input_dim"], spec["seed"] + k)


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


def _jacobian_cases(hidden: bool, salt: int | None) -> list[Case]:
    cases = [Case("a tanh SimpleRNN(5) cell, a batch of 8",
                  dict(cell=dict(units=5, input_dim=3, seed=0), seed=1, batch=8,
                       slips=True))]
    if hidden:
        cases += [Case(label, dict(cell=dict(units=units, input_dim=input_dim,
                                             seed=_salted(wseed, salt)),
                                   seed=_salted(seed, salt), batch=batch, slips=False),
                       hidden=True)
                  for label, units, input_dim, wseed, seed, batch in _HIDDEN_JACOBIAN_CASES]
    return cases


def _jacobian_inputs(case: Case):
    """The weights and the inputs x (B, input_dim) and h (B, H) of a case, the same in the
    probe and in the judge; drawn again with the next seeds until the bound of the
    pre-activations lies within ``_JACOBIAN_MAX_PRE``."""
    p = case.params
    for k in range(100):
        weights = _case_weights(p["cell"], k)
        input_dim, units = weights[0].shape
        rng = np.random.default_rng(p["seed"] + k)
        x, h = rng.normal(size=(p["batch"], input_dim)), rng.uniform(-1, 1,
                                                                      size=(p["batch"], units))
        if _pre_activation_bound(weights, float(np.abs(x).max())) < _JACOBIAN_MAX_PRE:
            break
    return weights, x, h


def _probe_jacobian(case: Case, jacobian_fn) -> dict:
    from ..runtime import import_tensorflow

    tf = import_tensorflow()
    weights, x, h = _jacobian_inputs(case)
    cell = _small_simple_rnn(tf, weights=weights)
    got = _attempt(jacobian_fn, cell, tf.constant(x, dtype=tf.float64),
                   tf.constant(h, dtype=tf.float64))
    return {"got": got, "is_tensor": bool(tf.is_tensor(got)),
            "weights": _attempt(_weights, cell)}


def _judge_jacobian(case: Case, seen: dict) -> None:
    weights, x, h = _jacobian_inputs(case)
    expected = _jacobian(weights, x, h)  # equal to the tape's, to rounding (tested)
    got = _outcome(seen["got"])
    if got is not None and not (seen["is_tensor"] is True or isinstance(got, np.ndarray)):
        raise AssertionError(f"simple_rnn_jacobian must return a TensorFlow tensor or a NumPy "
                             f"array (the next cells read J.shape and multiply J @ Q); got "
                             f"{display_type(got)}")
    got = real_array(got, "simple_rnn_jacobian", why=_JACOBIAN_WHY)
    _expect_weights_unchanged(_outcome(seen["weights"]), weights)
    expect_float64(got, "simple_rnn_jacobian's result", _JACOBIAN_WHY)
    expect_shape(got, expected.shape,
                  f"for x of shape {x.shape} and h of shape {h.shape} the Jacobians must have "
                  f"shape {expected.shape} (batch, H, H)")
    if np.allclose(got, expected, rtol=1e-10, atol=1e-12):
        return
    if case.params["slips"]:
        for wrong, hint in _jacobian_slips(weights, x, h):
            if np.allclose(got, wrong, rtol=1e-8, atol=1e-10):
                raise AssertionError(hint)
    bad = ~np.isclose(got, expected, rtol=1e-10, atol=1e-12)
    b, i, j = np.unravel_index(int(np.argmax(bad)), got.shape)
    raise AssertionError(
        f"J[{b}, {i}, {j}] is wrong: {fmt_pair(expected[b, i, j], got[b, i, j])} (the "
        "cell's derivative). J[b, i, j] = (1 - tanh(a[b, i])^2) * "
        "recurrent_kernel[j, i] with a = x @ kernel + h @ recurrent_kernel + bias")


SIMPLE_RNN_JACOBIAN = Check(
    "check_simple_rnn_jacobian", lambda hidden, salt: _jacobian_cases(hidden, salt),
    _probe_jacobian, _judge_jacobian,
    "simple_rnn_jacobian: equals GradientTape.batch_jacobian of the cell", CHAPTER)


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
    _run_check(SIMPLE_RNN_JACOBIAN, (jacobian_fn,), hidden=hidden)


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


def _spectrum_cases(hidden: bool, salt: int | None) -> list[Case]:
    cell = dict(units=5, input_dim=3, seed=2)
    data = dict(seed=3, B=3, T=60)
    visible = [(cell, False, 5), (cell, False, 2), (dict(resting=True), True, 5)]
    cases = [Case(f"for a tanh SimpleRNN(5) (case {n + 1} of 3), 3 sequences of 60 steps "
                  f"and k={k}", dict(cell=spec, data=data, zero_h0=zero, k=k, slips=True))
             for n, (spec, zero, k) in enumerate(visible)]
    if hidden:
        cases += [Case(label, dict(cell=dict(units=units, input_dim=input_dim,
                                             seed=_salted(wseed, salt)),
                                   data=dict(seed=_salted(seed, salt), B=B, T=T),
                                   zero_h0=False, k=k, slips=False), hidden=True)
                  for label, units, input_dim, wseed, seed, B, T, k in _HIDDEN_SPECTRUM_CASES]
    return cases


def _spectrum_inputs(case: Case):
    """The weights, the inputs (B, T, input_dim) and h0 (B, H) of a case, the same in the
    probe and in the judge; drawn again with the next seeds until the bound of the
    pre-activations (inputs in [-1, 1]) lies within ``_SPECTRUM_MAX_PRE``. The visible
    cases share one draw (the inputs and h0 from seed 3; the resting cell starts from
    h0 = 0)."""
    p = case.params
    d = p["data"]
    for k in range(100):
        weights = _case_weights(p["cell"], k)
        input_dim, units = weights[0].shape
        rng = np.random.default_rng(d["seed"] + k)
        inputs = rng.uniform(-1, 1, size=(d["B"], d["T"], input_dim))
        h0 = rng.uniform(-1, 1, size=(d["B"], units))
        if p["zero_h0"]:
            h0 = np.zeros_like(h0)
        if _pre_activation_bound(weights, 1.0) < _SPECTRUM_MAX_PRE:
            break
    return weights, inputs, h0


def _task_one_inputs():
    """The cell's weights and the x, h on which the notebook's simple_rnn_jacobian (Task 1)
    is tried when the spectrum is wrong."""
    rng = np.random.default_rng(8)
    return _rnn_weights(4, 2, 7), rng.normal(size=(3, 2)), rng.uniform(-1, 1, size=(3, 4))


def _probe_task_one(tf, spectrum_fn):
    """The notebook's simple_rnn_jacobian (Task 1), which the spectrum function calls, on
    a small cell: what it returns (None if the function's module has none)."""
    scope = _attempt(getattr, spectrum_fn, "__globals__", {})
    jacobian_fn = scope.get("simple_rnn_jacobian") if type(scope) is dict else None
    if not callable(jacobian_fn):
        return None
    weights, x, h = _task_one_inputs()
    cell = _small_simple_rnn(tf, weights=weights)
    return {"got": _attempt(jacobian_fn, cell, tf.constant(x, dtype=tf.float64),
                            tf.constant(h, dtype=tf.float64))}


def _probe_spectrum(case: Case, spectrum_fn) -> dict:
    from ..runtime import import_tensorflow

    tf = import_tensorflow()
    weights, inputs, h0 = _spectrum_inputs(case)
    cell = _small_simple_rnn(tf, weights=weights)
    x_copy, h_copy = inputs.copy(), h0.copy()
    got = _attempt(spectrum_fn, cell, x_copy, h_copy, case.params["k"])
    return {"got": got, "inputs": x_copy, "h0": h_copy, "weights": _attempt(_weights, cell),
            "task_one": _probe_task_one(tf, spectrum_fn)}


def _expect_right_jacobian_function(task_one) -> None:
    """When the spectrum is wrong: if the notebook's ``simple_rnn_jacobian`` (Task 1), which
    the spectrum function calls at every step, is wrong itself, say so first."""
    if task_one is None:
        return
    weights, x, h = _task_one_inputs()
    got = task_one["got"]
    try:
        right = not isinstance(got, Raised)
        if right:
            got = np.asarray(got.numpy() if callable(getattr(got, "numpy", None))
                             else observed_values(got), dtype=float)
            right = got.shape == (3, 4, 4) and np.allclose(
                got, _jacobian(weights, x, h), rtol=1e-8, atol=1e-10)
    except Exception:  # noqa: BLE001 - an error of the student's function counts as wrong
        right = False
    if not right:
        raise AssertionError(
            "the exponents are wrong, and so is simple_rnn_jacobian (Task 1), which this "
            "function calls at every step: fix Task 1 first (check_simple_rnn_jacobian says "
            "what is wrong), then run this check again")


def _judge_spectrum(case: Case, seen: dict) -> None:
    weights, inputs, h0 = _spectrum_inputs(case)
    k = case.params["k"]
    what = "hidden" if case.hidden else case.label
    expected = _spectrum(weights, inputs, h0, k)
    got = real_array(_outcome(seen["got"]), "the spectrum function", why=_SPECTRUM_WHY)
    assert_unchanged([inputs, h0], [seen["inputs"], seen["h0"]], ["inputs", "h0"])
    _expect_weights_unchanged(_outcome(seen["weights"]), weights)
    expect_float64(got, "the spectrum function's result", _SPECTRUM_WHY)
    B, T, _ = inputs.shape
    expect_shape(got, expected.shape, f"for {B} sequences and k={k} return the k "
                  f"exponents of each sequence, shape {expected.shape} (B, k)")
    if np.allclose(got, expected, rtol=1e-8, atol=1e-10):
        return
    _expect_right_jacobian_function(seen["task_one"])
    if np.any(np.isnan(got)):
        raise AssertionError("got NaN: the diagonal of R can be negative and its log is NaN; "
                             "take the log of the absolute value, "
                             "tf.math.log(tf.abs(tf.linalg.diag_part(R)))")
    if case.params["slips"]:
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


RNN_QR = Check(
    "check_rnn_qr", lambda hidden, salt: _spectrum_cases(hidden, salt), _probe_spectrum,
    _judge_spectrum, "QR accumulation: matches the compiled toolkit for k = H and k < H",
    CHAPTER)

#: The checks of this chapter, by name.
CHECKS = {check.name: check for check in (SIMPLE_RNN_JACOBIAN, RNN_QR)}


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
    _run_check(RNN_QR, (spectrum_fn,), hidden=hidden)
