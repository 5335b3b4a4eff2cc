"""Checks of chapter 02 (the Lyapunov spectrum of a Keras SimpleRNN): the cell's Jacobian and
the batched QR accumulation.

Each check is a :class:`~course_utils.checks.framework.Check` in three parts: the cases (sizes
and seeds), the probe (in the student's process: it builds the Keras cell with the case's
weights, calls the student's function and records what came back, with the cell's weights
after the call) and the judge (in the grader's process, without TensorFlow: the cell's
weights are a NumPy function of the case, and the expected values come from the NumPy
version of the cell's step, of its Jacobian and of the QR accumulation)."""

from __future__ import annotations

import re

import numpy as np

from .framework import (Case, Check, assert_unchanged, attempt as _attempt, first_mismatch,
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


#: TensorFlow's messages about tensors of two dtypes in one operation: the dtype it
#: expected and the one it got (TensorFlow's names: double, float, half).
_DTYPE_CLASH = re.compile(
    r"expected to be a (?P<want>\w+) tensor but is a (?P<got>\w+) tensor"
    r"|Tensor conversion requested dtype (?P<want2>\w+) for Tensor with dtype (?P<got2>\w+)")
_TF_DTYPES = {"double": "float64", "float": "float32", "half": "float16"}


def _tf_message(value: Raised) -> str:
    """The student's exception's message, without TensorFlow's prefix that names the op's
    function node and device, nor its empty "name:" at the end. (Not its class: a judge
    without TensorFlow cannot name TensorFlow's classes, and the message must be the
    notebook's.)"""
    message = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", value.message)
    return re.sub(r"\s*name:\s*$", "", message).strip()


def _student_result(value, what: str, case: Case):
    """The student's result (:func:`~course_utils.checks.framework.outcome`); where the
    student's code raised TensorFlow's error about two dtypes in one operation, an
    ``AssertionError`` that names it as a dtype error, caused by the student's own (in
    the notebook); where it raised on a visible case of other sizes than the first, or an
    error about shapes on the first, one that asks about sizes written into the code
    (:func:`_raised_on_sizes`)."""
    if isinstance(value, Raised):
        found = _DTYPE_CLASH.search(value.message)
        if found:
            want = found.group("want") or found.group("want2")
            got = found.group("got") or found.group("got2")
            want, got = _TF_DTYPES.get(want, want), _TF_DTYPES.get(got, got)
            raise AssertionError(
                f"{what} raised a dtype error: a {got} tensor where TensorFlow expected "
                f"{want} (\"{_tf_message(value)}\"). The cell computes in "
                "float64 (its weights, x and h are float64); a tensor made without a dtype "
                "(tf.eye(H), tf.ones(...), tf.constant(1.0)) or cast with tf.cast(..., "
                "tf.float32) is float32: give it dtype=tf.float64 (or x.dtype) and keep "
                "everything in float64") from value.original
    _raised_on_sizes(value, what, case)
    return _outcome(value)


#: An error message about sizes: TensorFlow's "Input to reshape is a tensor with 200
#: values, but the requested shape requires a multiple of 1024", "Incompatible shapes",
#: "Matrix size-incompatible", NumPy's broadcasting and index errors.
_SIZE_ERROR = re.compile(r"shape|size|dimension|broadcast|multiple of|out of range|index|rank",
                         re.I)

#: The notebook's sizes, which a student may write into the code, for each check's cases
#: (the key is in their params).
_NOTEBOOK_SIZES = {
    "batch": ("32 units, 2 inputs, the next cell's batch of 4",
              "B and H from h.shape, the input width from x.shape"),
    "data": ("32 units, 2 inputs, 10 sequences, k = 32",
             "B, T and the input width from inputs.shape, H from h0.shape, and k from the "
             "argument k"),
}


def _case_sizes(case: Case) -> str:
    """The sizes of a visible case, for a message: "B = 8, H = 5 units, input_dim = 3"."""
    p = case.params
    spec = p["cell"]
    units, input_dim = ((len(_RESTING_DIAG), 3) if spec.get("resting")
                        else (spec["units"], spec["input_dim"]))
    if "batch" in p:
        return f"B = {p['batch']}, H = {units} units, input_dim = {input_dim}"
    return (f"B = {p['data']['B']} sequences, T = {p['data']['T']} steps, H = {units} units, "
            f"input_dim = {input_dim}, k = {p['k']}")


def _raised_on_sizes(value, what: str, case: Case) -> None:
    """Where the student's code raised on a visible case, an ``AssertionError`` that asks
    about a size written into the code, caused by the student's own error (in the
    notebook): on a case whose sizes differ from the first's (``case.params["first"]``
    names those) for any error, whether the code depends on a size of the first case; on
    the first case for an error about sizes (:data:`_SIZE_ERROR`), with the case's sizes,
    whether it depends on a size of the notebook. The template's NotImplementedError is
    left as it is; so is any other error on the first case."""
    if (not isinstance(value, Raised) or case.hidden
            or value.is_a("NotImplementedError")):  # the template's own stays as it is
        return
    first = case.params.get("first")
    if first:
        raise AssertionError(
            f"{what} raised an error on the case with other sizes ({case.label}): "
            f"\"{_tf_message(value)}\". Does it depend on a size of the first case ({first}) "
            "written into the code? The next cells use other sizes again: take every size "
            "from the arguments' shapes") from value.original
    message = _tf_message(value)
    if _SIZE_ERROR.search(message):
        notebook, take = _NOTEBOOK_SIZES["batch" if "batch" in case.params else "data"]
        raise AssertionError(
            f"{what} raised {value.type_name} ({case.label}: {_case_sizes(case)}): "
            f"\"{message}\". Is a size of the notebook ({notebook}) written into the code? "
            f"The check's cells have other sizes: take every size from the arguments' "
            f"shapes ({take})") from value.original


def _float32_close(got: np.ndarray, expected: np.ndarray) -> bool:
    """``got`` agrees with ``expected`` to about float32's precision (relative 1e-5 of
    the largest value), not to float64's: something was computed in float32."""
    scale = max(1.0, float(np.max(np.abs(expected))))
    return bool(np.all(np.isfinite(got)) and np.max(np.abs(got - expected)) <= 1e-5 * scale)


_FLOAT32_HINT = ("The values agree only to float32's precision (about 1e-7 relative): "
                 "something was computed in float32 (tf.cast(..., tf.float32), np.float32, "
                 "a tensor made without a dtype) and cast back; keep everything in float64")


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
    sigmoid = 1 / (1 + np.exp(-a))
    return [
        (np.swapaxes(expected, 1, 2),
         "Your J is transposed: row i must hold the derivatives of h_next[i], "
         "J[b, i, j] = d h_next[b, i] / d h[b, j]"),
        (rows(1 - np.tanh(a) ** 2, recurrent),
         "Keras computes h @ recurrent_kernel (row vectors), so W_h is the transpose of "
         "recurrent_kernel: J[b, i, j] = tanh'(a[b, i]) * recurrent_kernel[j, i]"),
        (rows(1 - np.tanh(a - bias) ** 2),
         "The bias is missing from the pre-activation a = x @ kernel + h @ recurrent_kernel "
         "+ bias"),
        (rows(1 - np.tanh(a - x @ kernel) ** 2),
         "The input term is missing from the pre-activation: a = x @ kernel + "
         "h @ recurrent_kernel + bias"),
        (rows(1 - np.tanh(x @ kernel + h_next @ recurrent + bias) ** 2),
         "You evaluated tanh' at the state after the step: the derivative belongs to the "
         "pre-activation of this step, a = x @ kernel + h @ recurrent_kernel + bias, with the "
         "state h before the step"),
        (rows(1 - np.tanh(h) ** 2),
         "You evaluated tanh' at the state h itself: the derivative belongs to the "
         "pre-activation of this step, tanh'(a) = 1 - tanh(a)^2 = 1 - h_next^2 with "
         "a = x @ kernel + h @ recurrent_kernel + bias, not 1 - tanh(h)^2"),
        (rows(1 - np.tanh(h @ recurrent) ** 2),
         "The input term and the bias are missing from the pre-activation: a = x @ kernel + "
         "h @ recurrent_kernel + bias"),
        (rows(1 - h ** 2),
         "1 - h^2 uses the state before the step: tanh'(a) = 1 - tanh(a)^2 = 1 - h_next^2, "
         "with the pre-activation a of this step"),
        (rows(1 - np.tanh(h_next) ** 2),
         "You applied tanh to h_next once more: tanh'(a) = 1 - tanh(a)^2 = 1 - h_next^2, "
         "with h_next = tanh(a) itself, not 1 - tanh(h_next)^2"),
        (rows(1 - a ** 2),
         "tanh'(a) = 1 - tanh(a)^2, not 1 - a^2"),
        (rows(1 - np.tanh(a)),
         "tanh'(a) = 1 - tanh(a)^2: the square is missing"),
        (rows(1 / np.cosh(a)),
         "1 / cosh(a) is sech(a), but tanh'(a) = sech(a)^2 = 1 / cosh(a)^2 = 1 - tanh(a)^2"),
        (rows(sigmoid * (1 - sigmoid)),
         "s (1 - s) is the derivative of the sigmoid; the cell's activation is tanh, whose "
         "derivative is tanh'(a) = 1 - tanh(a)^2"),
        ((1 - np.tanh(a) ** 2)[:, None, :] * recurrent.T[None],
         "tanh'(a) scales the rows of J (the output unit i), not its columns"),
        (np.broadcast_to(recurrent.T, expected.shape),
         "The derivative of tanh, 1 - tanh(a)^2, is missing"),
        (np.zeros_like(expected),
         "J is zero everywhere. With tf.GradientTape: the tape only follows what it "
         "watches, and h is a constant, not a variable; it did not watch h: call "
         "tape.watch(h) inside the with block, before the step"),
    ]


def _jacobian_shape_hint(shape: tuple, x_shape: tuple, h_shape: tuple) -> str:
    """What a result of a wrong shape most likely is."""
    (B, H), width = h_shape, x_shape[1]
    if shape == (B, H, B, H):
        return ("tape.jacobian differentiates every sample's output by every sample's state, "
                "(B, H, B, H): use tape.batch_jacobian(h_next, h), one (H, H) Jacobian for "
                "each sample")
    if shape == (B, H, width):
        return ("(B, H, input_dim) is the derivative with respect to the input x; J is the "
                "derivative with respect to the state h (tape.watch(h), "
                "tape.batch_jacobian(h_next, h))")
    if shape == (H, H):
        return ("One Jacobian for each sample of the batch: keep the batch axis (no mean or "
                "sum over it, no loop that keeps only one sample)")
    return ""


def _jacobian_cases(hidden: bool, salt: int | None) -> list[Case]:
    """The visible cases: a 5-unit cell with 3 inputs on a batch of 8, and a cell laid out
    like the notebook's (2 inputs, the next cell's batch of 4; 6 units); the hidden ones:
    :data:`_HIDDEN_JACOBIAN_CASES`."""
    cases = [Case("a tanh SimpleRNN(5) cell, a batch of 8",
                  dict(cell=dict(units=5, input_dim=3, seed=0), seed=1, batch=8,
                       slips=True)),
             Case("a tanh SimpleRNN(6) cell with 2 inputs, a batch of 4 as in the next cell",
                  dict(cell=dict(units=6, input_dim=2, seed=5), seed=6, batch=4,
                       slips=True, first="a batch of 8, 5 units, 3 inputs"))]
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
    got = _student_result(seen["got"], "simple_rnn_jacobian", case)
    if got is not None and not (seen["is_tensor"] is True or isinstance(got, np.ndarray)):
        raise AssertionError(f"simple_rnn_jacobian must return a TensorFlow tensor or a NumPy "
                             f"array (the next cells read J.shape and multiply J @ Q); got "
                             f"{display_type(got)}")
    got = real_array(got, "simple_rnn_jacobian", why=_JACOBIAN_WHY)
    _expect_weights_unchanged(_outcome(seen["weights"]), weights)
    expect_float64(got, "simple_rnn_jacobian's result", _JACOBIAN_WHY)
    expect_shape(got, expected.shape,
                 f"for x of shape {x.shape} and h of shape {h.shape} the Jacobians must have "
                 f"shape {expected.shape} (batch, H, H)",
                 _jacobian_shape_hint(got.shape, x.shape, h.shape))
    close = np.isclose(got, expected, rtol=1e-10, atol=1e-12)
    if close.all():
        return
    wrong = first_mismatch("J", expected, got, close, None if case.hidden else case.label)
    if case.params["slips"]:
        for slip, hint in _jacobian_slips(weights, x, h):
            if np.allclose(got, slip, rtol=1e-8, atol=1e-10):
                raise AssertionError(f"{wrong}. {hint}")
        if _float32_close(got, expected):
            raise AssertionError(f"{wrong}. {_FLOAT32_HINT}")
    raise AssertionError(
        f"{wrong}. J[b, i, j] = (1 - tanh(a[b, i])^2) * recurrent_kernel[j, i] with "
        "a = x @ kernel + h @ recurrent_kernel + bias")


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
    unchanged. Visible cases: a 5-unit cell with 3 inputs on a batch of 8, and a 6-unit
    cell with the notebook's 2 inputs on the next cell's batch of 4. A wrong J is named by
    its first wrong entry and, where it is one, the slip (transposed, bias or input
    missing, tanh' at the wrong state or of the wrong function, float32 precision, a tape
    that did not watch h, ...); a wrong shape, dtype or a TensorFlow dtype error by what it
    is; an error about sizes with the case's sizes, as a size written into the code. Hidden
    cases: other numbers of units, input widths, batch sizes and weights."""
    _run_check(SIMPLE_RNN_JACOBIAN, (jacobian_fn,), hidden=hidden)


# ------------------------------------------------------------------------------- task 2

def _spectrum(weights, inputs, h0, k, *, carry=True, accumulate=True, signs="abs",
              late=False, conjugate=False):
    """The QR estimate in NumPy, right (the defaults) or with a slip: the frame not
    carried (Q stays the first k columns of the identity; with k = H this is also what
    Q @ J gives), the sum replaced at every step, the negative diagonal entries of R
    dropped (``signs="drop"``: their log, NaN, replaced by 0), the Jacobian evaluated at
    the state after the step (``late``), the QR of Q^T J Q instead of J Q (``conjugate``,
    k = H only). Sorted descending, (B, k)."""
    B, T, _ = inputs.shape
    H = h0.shape[1]
    Q0 = np.broadcast_to(np.eye(H, k), (B, H, k)).copy()
    Q, h, total = Q0, h0, np.zeros((B, k))
    for t in range(T):
        J = _jacobian(weights, inputs[:, t], h)
        _, h = _step(weights, inputs[:, t], h)
        if late:
            J = _jacobian(weights, inputs[:, t], h)
        P = np.swapaxes(Q, 1, 2) @ J @ Q if conjugate else J @ Q
        Q_new, R = np.linalg.qr(P)
        Q = Q_new if carry else Q0
        diagonal = np.diagonal(R, axis1=1, axis2=2)
        if signs == "drop":
            log_r = np.log(np.where(diagonal > 0, diagonal, 1.0))
        else:
            log_r = np.log(np.abs(diagonal))
        total = total + log_r if accumulate else log_r
    return np.sort(total / T, axis=1)[:, ::-1]


_SPECTRUM_WHY = "the next cell compares it with the toolkit's float64 exponents to 1e-10"


def _spectrum_cases(hidden: bool, salt: int | None) -> list[Case]:
    """The visible cases: k = H for a 5-unit cell with 3 inputs (3 sequences of 60 steps);
    k < H for a cell laid out like the notebook's (2 inputs; 6 units, 4 sequences of 40
    steps); the resting cell with unsorted rates. Each a different number of sequences,
    units or steps from the first, so that none of them can be written into the code.
    The hidden ones: :data:`_HIDDEN_SPECTRUM_CASES`."""
    first, data = dict(units=5, input_dim=3, seed=2), dict(seed=3, B=3, T=60)
    visible = [
        ("a tanh SimpleRNN(5), 3 sequences of 60 steps, k = H = 5", first, data, False, 5,
         None),
        ("a tanh SimpleRNN(6) with 2 inputs, 4 sequences of 40 steps, k = 4 < H",
         dict(units=6, input_dim=2, seed=4), dict(seed=6, B=4, T=40), False, 4,
         "3 sequences of 60 steps, 5 units, 3 inputs, k = 5"),
        ("a SimpleRNN(5) resting at h = 0 with unsorted rates, 3 sequences of 60 steps, k = 5",
         dict(resting=True), data, True, 5, None),
    ]
    cases = [Case(label, dict(cell=spec, data=d, zero_h0=zero, k=k, slips=True,
                              **({"first": sizes} if sizes else {})))
             for label, spec, d, zero, k, sizes in visible]
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
    pre-activations (inputs in [-1, 1]) lies within ``_SPECTRUM_MAX_PRE``. The first and
    the third visible case share one draw of the inputs (seed 3; the resting cell starts
    from h0 = 0)."""
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


# The QR of Q^T J Q does not damp rounding errors the way the QR of J Q does: two
# computations of it (NumPy's and TensorFlow's, products in another order) differ by about
# 1e-4 after 60 steps, while it differs from the right exponents by 0.02 or more.
_CONJUGATED_ATOL = 5e-3


def _spectrum_slips(weights, inputs, h0, k, got, expected):
    """The usual slips of the QR accumulation, given the student's result ``got`` and the
    reference ``expected``: (what ``got`` gives for the comparison, what it is compared
    with, the hint, and for a slip whose result depends on rounding, the absolute tolerance
    of the comparison)."""
    B, T, _ = inputs.shape
    H = h0.shape[1]
    scaled = [(1 / np.log(10), "Use the natural log (tf.math.log), not log10"),
              (1 / np.log(2), "Use the natural log (tf.math.log), not log2"),
              (2.0, "These are twice the exponents: log(R_ii^2) = 2 log|R_ii|; take the log "
                    "of the absolute value, tf.math.log(tf.abs(tf.linalg.diag_part(R)))"),
              (1 / T, "The exponents are divided by T twice: add log|diag R| itself to "
                      "log_sum at every step; the return line divides by T once"),
              (T, "Divide the summed logs by the number of steps T")]
    return [(np.sort(got, axis=1)[:, ::-1], expected, "Sort each row in descending order")] + [
        (got, expected * factor, hint) for factor, hint in scaled] + [
        # with k = H, Q @ J has the R of J alone (Q is orthogonal): the same slip
        (got, _spectrum(weights, inputs, h0, k, carry=False),
         "The frame is not carried forward: multiply each new Jacobian from the left "
         "onto the current frame and keep the new Q, Q, R = tf.linalg.qr(J @ Q), at "
         "every step (not tf.linalg.qr(Q @ J), nor a Q that stays the identity)"),
        (got, _spectrum(weights, inputs, h0, k, accumulate=False),
         "Add each step's log|diag R| to the running sum (log_sum += ...), rather than "
         "replacing it"),
        (got, _spectrum(weights, inputs, h0, k, signs="drop"),
         "The negative diagonal entries of R were dropped (their log is NaN, counted as 0): "
         "the signs of a QR factorisation are arbitrary, so the stretching is |R_ii|; take "
         "the log of the absolute value, tf.math.log(tf.abs(tf.linalg.diag_part(R)))"),
        (got, _spectrum(weights, inputs, h0, k, late=True),
         "That is the Jacobian at the state after the step: the loop's J = "
         "simple_rnn_jacobian(cell, x, h), computed before h = cell(x, [h])[0], belongs to "
         "this step; multiply that J onto the frame, without evaluating it again"),
    ] + ([] if B < 2 else [
        (got, np.broadcast_to(expected[:1], expected.shape),
         "Every sequence has the exponents of the first: the log|diag R| of sequence 0 "
         "(R[0], or diag_part(R)[0]) was added to every row of log_sum; "
         "tf.linalg.diag_part(R) gives the diagonals of the whole batch, (B, k), one row per "
         "sequence"),
    ]) + ([] if k != H else [
        (got, _spectrum(weights, inputs, h0, k, conjugate=True),
         "That is the QR of Q^T J Q, the Jacobian in the frame's coordinates: the QR method "
         "carries the frame with the Jacobian alone, Q, R = tf.linalg.qr(J @ Q), no Q^T on "
         "the left (with k < H, Q^T J Q is not even (H, k))", _CONJUGATED_ATOL),
    ])


def _expect_frame_of_k_columns(value, case: Case, B: int, H: int, k: int) -> None:
    """Where the student's code raised TensorFlow's error of adding H logs to the k
    columns of log_sum (k < H), an ``AssertionError`` that says the frame lost its k
    columns (a full QR), caused by the student's own error (in the notebook)."""
    if (isinstance(value, Raised) and k < H and not case.hidden
            and f"[{B},{k}]vs.[{B},{H}]" in value.message.replace(" ", "")):
        raise AssertionError(
            f"the spectrum function raised an error ({case.label}): "
            f"\"{_tf_message(value)}\". log_sum has k = {k} columns, but the log|diag R| "
            f"added to it has H = {H}: with k < H the frame must keep its k columns; "
            "tf.linalg.qr(J @ Q) with its default full_matrices=False gives Q of shape "
            "(B, H, k) and R of shape (B, k, k)") from value.original


def _judge_spectrum(case: Case, seen: dict) -> None:
    weights, inputs, h0 = _spectrum_inputs(case)
    k = case.params["k"]
    label = None if case.hidden else case.label
    B, H = inputs.shape[0], h0.shape[1]
    expected = _spectrum(weights, inputs, h0, k)
    _expect_frame_of_k_columns(seen["got"], case, B, H, k)
    got = real_array(_student_result(seen["got"], "the spectrum function", case),
                     "the spectrum function", why=_SPECTRUM_WHY)
    assert_unchanged([inputs, h0], [seen["inputs"], seen["h0"]], ["inputs", "h0"])
    _expect_weights_unchanged(_outcome(seen["weights"]), weights)
    expect_float64(got, "the spectrum function's result", _SPECTRUM_WHY)
    expect_shape(got, expected.shape, f"for {B} sequences and k={k} return the k "
                 f"exponents of each sequence, shape {expected.shape} (B, k)")
    close = np.isclose(got, expected, rtol=1e-8, atol=1e-10)
    if close.all():
        return
    _expect_right_jacobian_function(seen["task_one"])
    if np.any(np.isnan(got)):
        raise AssertionError(
            first_mismatch("exponents", expected, got, ~np.isnan(got), label)
            + ". The diagonal of R can be negative (the signs of a QR factorisation are "
            "arbitrary) and its log is NaN: take the log of the absolute value, "
            "tf.math.log(tf.abs(tf.linalg.diag_part(R)))")
    wrong = first_mismatch("exponents", expected, got, close, label)
    if case.params["slips"]:
        for mine, slip, hint, *atol in _spectrum_slips(weights, inputs, h0, k, got,
                                                           expected):
            if np.allclose(mine, slip, rtol=1e-8, atol=atol[0] if atol else 1e-10):
                raise AssertionError(f"{wrong}. {hint}")
        if _float32_close(got, expected):
            raise AssertionError(f"{wrong}. {_FLOAT32_HINT}")
    raise AssertionError(
        f"{wrong}. At every step: Q, R = tf.linalg.qr(J @ Q), then add log|diag R| to the "
        "running sum")


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
    :func:`course_utils.keras_lyapunov.rnn_lyapunov_spectrum`. Visible cases: k = H, k < H
    for a cell with the notebook's 2 inputs (other numbers of units, sequences and steps),
    and a cell resting at h = 0 with unsorted rates. A wrong result is named by its first
    wrong exponent and, where it is one, the slip (the frame not carried, the QR of
    Q^T J Q, the first sequence's diagonal of R for every sequence, the sum replaced, the
    log's base or of R_ii^2, T divided twice or not at all, NaN from a negative R_ii or
    such entries dropped, the Jacobian after the step, float32 precision); inputs changed
    in place and TensorFlow's dtype errors by what they are.
    Hidden cases: other numbers of units, sequences, steps and k."""
    _run_check(RNN_QR, (spectrum_fn,), hidden=hidden)
