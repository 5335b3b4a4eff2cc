"""The feedback checks of chapter 02 (the Lyapunov spectrum of a Keras SimpleRNN): correct
code in its many forms passes with a ✓ line, visibly and with the hidden cases; each typical
mistake gets its own message; a result of the wrong type gets a message, not a crash; a
solution fitted to the visible inputs fails a hidden case without learning its inputs."""

import re

import numpy as np
import pytest

from course_utils import checks
from course_utils.checks import HiddenCaseError
from course_utils.checks.framework import MISMATCH
from course_utils.checks.keras_rnn import (_jacobian, _jacobian_slips, _small_simple_rnn,
                                           _spectrum, _weights)


def _assert_hidden_message_is_clean(error) -> None:
    """A hidden failure names the kind of case, never its inputs: no number at all."""
    message = str(error.value)
    assert isinstance(error.value, HiddenCaseError)
    assert "hidden case" in message
    assert not re.search(r"\d", message), message


# ---- Task 1: the Jacobian of the cell ------------------------------------------------------

def jac_solution(cell, x, h):
    """The notebook's solution."""
    import tensorflow as tf

    a = tf.matmul(x, cell.kernel) + tf.matmul(h, cell.recurrent_kernel) + cell.bias
    dphi = 1.0 - tf.tanh(a) ** 2
    return dphi[:, :, None] * tf.transpose(cell.recurrent_kernel)[None, :, :]


def jac_tape(cell, x, h):
    """Automatic differentiation of one step of the cell."""
    import tensorflow as tf

    with tf.GradientTape() as tape:
        tape.watch(h)
        h_next = cell(x, [h])[0]
    return tape.batch_jacobian(h_next, h)


def jac_einsum_from_the_step(cell, x, h):
    """tanh' from the new state, 1 - h_next^2, and an einsum."""
    import tensorflow as tf

    h_next = cell(x, [h])[0]
    return tf.einsum("bi,ji->bij", 1 - h_next ** 2, cell.recurrent_kernel)


def jac_numpy(cell, x, h):
    """In NumPy from the weights' values: an array (J @ Q and J.shape work on it)."""
    kernel, recurrent, bias = (np.asarray(w) for w in cell.get_weights())
    a = np.asarray(x) @ kernel + np.asarray(h) @ recurrent + bias
    return np.stack([np.diag(1 - np.tanh(row) ** 2) @ recurrent.T for row in a])


def jac_diag_matmul(cell, x, h):
    """diag(tanh'(a)) @ W_h with W_h = recurrent_kernel^T, batched."""
    import tensorflow as tf

    a = x @ cell.kernel + cell.bias + h @ cell.recurrent_kernel
    return tf.linalg.diag(1 - tf.square(tf.tanh(a))) @ tf.transpose(cell.recurrent_kernel)


def jac_loop(cell, x, h):
    """One sample at a time, stacked."""
    import tensorflow as tf

    W = tf.transpose(cell.recurrent_kernel)
    rows = []
    for b in range(x.shape[0]):
        a = tf.linalg.matvec(tf.transpose(cell.kernel), x[b]) + tf.linalg.matvec(W, h[b]) \
            + cell.bias
        rows.append((1 - tf.tanh(a) ** 2)[:, None] * W)
    return tf.stack(rows)


@pytest.mark.parametrize("fn", [jac_solution, jac_tape, jac_einsum_from_the_step, jac_numpy,
                                jac_diag_matmul, jac_loop])
def test_rnn_jacobian_correct_variants_pass_visible_and_hidden(tf, fn, capsys):
    checks.check_simple_rnn_jacobian(fn)
    checks.check_simple_rnn_jacobian(fn, hidden=True)
    assert capsys.readouterr().out.count("\u2713 simple_rnn_jacobian") == 2


def test_toolkit_jacobian_passes_and_equals_the_tape(tf, capsys):
    from course_utils.keras_lyapunov import simple_rnn_jacobian

    checks.check_simple_rnn_jacobian(simple_rnn_jacobian, hidden=True)
    assert "\u2713 simple_rnn_jacobian" in capsys.readouterr().out
    # the check's NumPy formula is the cell's derivative
    cell = _small_simple_rnn(tf, 6, 2, seed=5)
    rng = np.random.default_rng(6)
    x, h = rng.normal(size=(4, 2)), rng.uniform(-1, 1, size=(4, 6))
    np.testing.assert_allclose(_jacobian(_weights(cell), x, h),
                               jac_tape(cell, tf.constant(x), tf.constant(h)).numpy(),
                               rtol=1e-12, atol=1e-14)


def test_rnn_jacobian_slips_differ_from_the_answer_and_from_each_other():
    """Each hint can only fire on its own slip, in every visible case."""
    for case in rnn_checks.SIMPLE_RNN_JACOBIAN.cases(False, None):
        weights, x, h = rnn_checks._jacobian_inputs(case)
        arrays = [_jacobian(weights, x, h)] + [w for w, _ in _jacobian_slips(weights, x, h)]
        for i in range(len(arrays)):
            for j in range(i):
                assert not np.allclose(arrays[i], arrays[j], rtol=1e-6, atol=1e-6), (
                    case.label, i, j)


def _slip(kind):
    """A Jacobian with one of the usual slips."""
    def fn(cell, x, h):
        import tensorflow as tf

        K, W, bias = cell.kernel, cell.recurrent_kernel, cell.bias
        a = x @ K + h @ W + bias
        h_next = tf.tanh(a)
        dphi = {"no bias": 1 - tf.tanh(x @ K + h @ W) ** 2,
                "no input": 1 - tf.tanh(h @ W + bias) ** 2,
                "after the step": 1 - tf.tanh(x @ K + h_next @ W + bias) ** 2,
                "1 - h^2": 1 - h ** 2,
                "tanh' at h": 1 - tf.tanh(h) ** 2,
                "h @ W only": 1 - tf.tanh(h @ W) ** 2,
                "tanh twice": 1 - tf.tanh(h_next) ** 2,
                "1 - a^2": 1 - a ** 2,
                "no square": 1 - tf.tanh(a),
                "sech": 1 / tf.cosh(a),
                "sigmoid": tf.sigmoid(a) * (1 - tf.sigmoid(a)),
                "zero": tf.zeros_like(a),
                "float32": tf.cast(1 - tf.tanh(tf.cast(a, tf.float32)) ** 2, tf.float64),
                }.get(kind, 1 - tf.tanh(a) ** 2)
        if kind == "columns":
            return dphi[:, None, :] * tf.transpose(W)[None]
        if kind == "no derivative":
            return tf.tile(tf.transpose(W)[None], [x.shape[0], 1, 1])
        J = dphi[:, :, None] * (W if kind == "W not transposed" else tf.transpose(W))[None]
        return tf.transpose(J, [0, 2, 1]) if kind == "transposed" else J
    return fn


@pytest.mark.parametrize("kind, message", [
    ("transposed", r"Your J is transposed"),
    ("W not transposed", r"W_h is the transpose of recurrent_kernel"),
    ("no bias", "bias is missing"),
    ("no input", "input term is missing"),
    ("after the step", "state after the step"),
    ("1 - h^2", r"1 - h\^2 uses the state before the step"),
    ("tanh' at h", r"tanh' at the state h itself.*not 1 - tanh\(h\)\^2"),
    ("h @ W only", "input term and the bias are missing"),
    ("tanh twice", "applied tanh to h_next once more"),
    ("1 - a^2", r"not 1 - a\^2"),
    ("no square", "the square is missing"),
    ("sech", r"tanh'\(a\) = sech\(a\)\^2"),
    ("sigmoid", "derivative of the sigmoid"),
    ("zero", r"J is zero everywhere.*tape.watch\(h\)"),
    ("float32", r"agree only to float32's precision"),
    ("columns", "scales the rows of J"),
    ("no derivative", r"derivative of tanh, 1 - tanh\(a\)\^2, is missing"),
])
def test_rnn_jacobian_slips_get_specific_messages(tf, kind, message):
    """Each slip is named after the first wrong entry, in the one form of all chapters."""
    with pytest.raises(AssertionError, match=message) as error:
        checks.check_simple_rnn_jacobian(_slip(kind))
    found = MISMATCH.match(str(error.value))
    assert found and found["name"] == "J", str(error.value)
    assert found["case"] == "a tanh SimpleRNN(5) cell, a batch of 8"


def test_rnn_jacobian_other_errors_get_the_general_message(tf):
    def off(cell, x, h):
        return jac_solution(cell, x, h) * 1.001

    with pytest.raises(AssertionError, match=r"J\[0, 0, 0\] is wrong \(a tanh SimpleRNN\(5\) "
                                             r"cell, a batch of 8\): expected .*, got ") as error:
        checks.check_simple_rnn_jacobian(off)
    assert MISMATCH.match(str(error.value))
    assert "J[b, i, j] = (1 - tanh(a[b, i])^2) * recurrent_kernel[j, i]" in str(error.value)


def test_rnn_jacobian_first_wrong_entry_is_named():
    """The index is that of the first wrong entry, the values those of that entry."""
    (case, _) = rnn_checks.SIMPLE_RNN_JACOBIAN.cases(False, None)
    weights, x, h = rnn_checks._jacobian_inputs(case)
    got = _jacobian(weights, x, h)
    got[2, 3, 1] += 0.5
    with pytest.raises(AssertionError) as error:
        rnn_checks._judge_jacobian(case, {"got": got, "is_tensor": False, "weights": weights})
    found = MISMATCH.match(str(error.value))
    assert found["index"] == "[2, 3, 1]"
    assert float(found["got"]) == pytest.approx(got[2, 3, 1], abs=1e-6)


def _eye_without_dtype(cell, x, h):
    """tf.eye without a dtype: float32, against the float64 weights."""
    import tensorflow as tf

    a = x @ cell.kernel + h @ cell.recurrent_kernel + cell.bias
    D = (1 - tf.tanh(a) ** 2)[:, :, None] * tf.eye(h.shape[1])[None]
    return D @ tf.transpose(cell.recurrent_kernel)


def _fixed_batch(cell, x, h):
    """The first visible case's batch of 8 written into a reshape."""
    import tensorflow as tf

    a = x @ cell.kernel + h @ cell.recurrent_kernel + cell.bias
    return tf.reshape(1 - tf.tanh(a) ** 2, (8, -1, 1)) * tf.transpose(cell.recurrent_kernel)


def _tape(watch_x=False, full=False):
    def fn(cell, x, h):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(x if watch_x else h)
            h_next = cell(x, [h])[0]
        if full:
            return tape.jacobian(h_next, h)
        return tape.batch_jacobian(h_next, x if watch_x else h)
    return fn


@pytest.mark.parametrize("fn, message", [
    (_eye_without_dtype, r"simple_rnn_jacobian raised a dtype error: a float32 tensor where "
                         r"TensorFlow expected float64 \(\"cannot compute .*double.*\"\)\. "
                         r".*tf\.eye\(H\).*dtype=tf\.float64"),
    (_fixed_batch, r"raised an error on the case with other sizes \(a tanh "
                   r"SimpleRNN\(6\) cell with 2 inputs, a batch of 4 as in the next cell\): "
                   r"\"Incompatible shapes.*\"\. Does it depend on a size of the first case "
                   r"\(a batch of 8, 5 units, 3 inputs\)"),
    (_tape(full=True), r"got shape \(8, 5, 8, 5\)\. tape.jacobian .* use tape.batch_jacobian"),
    (_tape(watch_x=True), r"got shape \(8, 5, 3\)\. \(B, H, input_dim\) is the derivative with "
                          r"respect to the input x"),
    (lambda cell, x, h: __import__("tensorflow").reduce_mean(jac_solution(cell, x, h), 0),
     r"got shape \(5, 5\)\. One Jacobian for each sample of the batch"),
])
def test_rnn_jacobian_errors_are_named(tf, fn, message):
    """A TensorFlow dtype error, an error on the second case's sizes and the usual wrong
    shapes are named for what they are."""
    with pytest.raises(AssertionError, match=message) as error:
        checks.check_simple_rnn_jacobian(fn)
    assert "{{function_node" not in str(error.value)


def _notebook_units(cell, x, h):
    """The notebook's 32 units written into a reshape."""
    import tensorflow as tf

    return tf.reshape(jac_solution(cell, x, h), (-1, 32, 32))


def _unknown_attribute(cell, x, h):
    return x @ cell.W_x


def test_rnn_jacobian_size_error_on_the_first_case_names_its_sizes(tf):
    """An error about sizes on the first case: the case and its sizes, TensorFlow's message
    without its node prefix, the question about a size of the notebook; the student's own
    error is the cause. Another error is left as the student's own."""
    with pytest.raises(AssertionError) as error:
        checks.check_simple_rnn_jacobian(_notebook_units)
    text = str(error.value)
    assert text.startswith(
        "simple_rnn_jacobian raised InvalidArgumentError (a tanh SimpleRNN(5) cell, a batch "
        "of 8: B = 8, H = 5 units, input_dim = 3): \"Input to reshape is a tensor with 200 "
        "values, but the requested shape requires a multiple of 1024"), text
    assert "Is a size of the notebook (32 units, 2 inputs, the next cell's batch of 4) " \
           "written into the code?" in text
    assert "B and H from h.shape" in text and "{{function_node" not in text
    assert type(error.value.__cause__).__name__ == "InvalidArgumentError"
    with pytest.raises(AttributeError, match="W_x"):
        checks.check_simple_rnn_jacobian(_unknown_attribute)


def test_rnn_jacobian_named_errors_keep_the_students_own_as_cause(tf):
    """In the notebook the student's exception, with its traceback, is the cause."""
    with pytest.raises(AssertionError) as error:
        checks.check_simple_rnn_jacobian(_eye_without_dtype)
    assert type(error.value.__cause__).__name__ == "InvalidArgumentError"


def test_rnn_jacobian_visible_cases_have_the_next_cells_layout():
    """The second visible case has the notebook's 2 inputs and the next cell's batch of 4;
    its sizes all differ from the first's."""
    first, second = rnn_checks.SIMPLE_RNN_JACOBIAN.cases(False, None)
    w1, x1, h1 = rnn_checks._jacobian_inputs(first)
    w2, x2, h2 = rnn_checks._jacobian_inputs(second)
    assert x2.shape == (4, 2) and h2.shape[0] == 4
    assert x1.shape[0] != x2.shape[0] and x1.shape[1] != x2.shape[1] and h1.shape[1] != h2.shape[1]


def _changes_the_bias(cell, x, h):
    J = jac_solution(cell, x, h)
    cell.bias.assign(cell.bias * 0)
    return J


@pytest.mark.parametrize("fn, message", [
    (lambda cell, x, h: [J for J in jac_solution(cell, x, h)],
     r"must return a TensorFlow tensor or a NumPy array \(.*J @ Q\); got list"),
    (lambda cell, x, h: None, "returned None"),
    (lambda cell, x, h: __import__("tensorflow").cast(jac_solution(cell, x, h), "float32"),
     r"dtype float32, not float64 \(.*J @ Q"),
    (lambda cell, x, h: jac_numpy(cell, x, h).astype(np.float32), "dtype float32"),
    (lambda cell, x, h: jac_numpy(cell, x, h) + 0j, "complex values"),
    (lambda cell, x, h: jac_solution(cell, x, h)[0], r"must have shape \(8, 5, 5\)"),
    (_changes_the_bias, "changed the cell's weights"),
])
def test_rnn_jacobian_wrong_results_get_a_message(tf, fn, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_simple_rnn_jacobian(fn)


def test_rnn_jacobian_with_the_first_cases_sizes_fails_visibly(tf):
    """Sizes of the first visible case written into the code fail the second visible case
    (the next cell's batch of 4, other units and inputs), not only a hidden one."""
    def fixed_sizes(cell, x, h):
        """Loops over the first visible case's batch (8) and units (5)."""
        J = np.zeros((8, 5, 5))
        a = (x @ cell.kernel + h @ cell.recurrent_kernel + cell.bias).numpy()
        W = cell.recurrent_kernel.numpy()
        for b in range(8):
            for i in range(5):
                J[b, i] = (1 - np.tanh(a[b, i]) ** 2) * W[:, i]
        return J

    with pytest.raises(AssertionError, match=r"raised an error on the case with other "
                                             r"sizes.*a batch of 8, 5 units"):
        checks.check_simple_rnn_jacobian(fixed_sizes)


def test_rnn_jacobian_squeezed_fails_a_hidden_case(tf, capsys):
    """np.squeeze keeps the visible batches (and the notebook's), and drops the batch axis
    of the hidden batch of one."""
    def squeezed(cell, x, h):
        return np.squeeze(jac_numpy(cell, x, h))

    checks.check_simple_rnn_jacobian(squeezed)
    assert "\u2713" in capsys.readouterr().out
    with pytest.raises(HiddenCaseError) as error:
        checks.check_simple_rnn_jacobian(squeezed, hidden=True)
    _assert_hidden_message_is_clean(error)


# ---- Task 2: the QR accumulation -----------------------------------------------------------

def _eager(body=None, *, finish=None):
    """The notebook's lyapunov_spectrum_eager, with the student's lines ``body(tf, J, Q,
    log_sum) -> (Q, log_sum)`` and, for the slips of a rewritten ending, ``finish``."""
    def spectrum(cell, inputs, h0, k):
        import tensorflow as tf
        from course_utils.keras_lyapunov import simple_rnn_jacobian

        B, T, _ = inputs.shape
        H = h0.shape[1]
        h = tf.constant(h0, dtype=tf.float64)
        Q = tf.eye(H, k, batch_shape=[B], dtype=tf.float64)
        log_sum = tf.zeros((B, k), dtype=tf.float64)
        for t in range(T):
            x = tf.constant(inputs[:, t], dtype=tf.float64)
            J = simple_rnn_jacobian(cell, x, h)
            h = cell(x, [h])[0]
            Q, log_sum = (body or qr_solution)(tf, J, Q, log_sum)
        if finish is not None:
            return finish(log_sum, T)
        return -np.sort(-(log_sum / T).numpy(), axis=1)
    return spectrum


def qr_solution(tf, J, Q, log_sum):
    """The notebook's solution."""
    Q, R = tf.linalg.qr(J @ Q)
    return Q, log_sum + tf.math.log(tf.abs(tf.linalg.diag_part(R)))


def qr_matmul(tf, J, Q, log_sum):
    """tf.matmul; the log of the whole |R| before its diagonal (log 0 = -inf elsewhere)."""
    Q, R = tf.linalg.qr(tf.matmul(J, Q), full_matrices=False)
    return Q, log_sum + tf.linalg.diag_part(tf.math.log(tf.math.abs(R)))


def qr_numpy(tf, J, Q, log_sum):
    """The factorisation in NumPy, the sum kept a tensor."""
    Q, R = np.linalg.qr(np.asarray(J) @ np.asarray(Q))
    return tf.constant(Q), log_sum + np.log(np.abs(np.diagonal(R, axis1=1, axis2=2)))


def qr_einsum(tf, J, Q, log_sum):
    """An einsum for the product, the log of a product of |R_ii| per step."""
    Q, R = tf.linalg.qr(tf.einsum("bij,bjk->bik", J, Q))
    return Q, log_sum + tf.math.log(tf.sqrt(tf.linalg.diag_part(R) ** 2))


def spectrum_per_sequence(cell, inputs, h0, k):
    """A rewrite: one sequence at a time, in NumPy, returned as a tensor."""
    import tensorflow as tf

    kernel, recurrent, bias = cell.get_weights()
    B, T, _ = inputs.shape
    rows = []
    for b in range(B):
        h, Q, total = np.asarray(h0)[b], np.eye(h0.shape[1], k), np.zeros(k)
        for t in range(T):
            a = inputs[b, t] @ kernel + h @ recurrent + bias
            J = (1 - np.tanh(a) ** 2)[:, None] * recurrent.T
            h = np.tanh(a)
            Q, R = np.linalg.qr(J @ Q)
            total += np.log(np.abs(np.diag(R)))
        rows.append(np.sort(total / T)[::-1])
    return tf.constant(np.array(rows))


@pytest.mark.parametrize("fn", [_eager(qr_solution), _eager(qr_matmul), _eager(qr_numpy),
                                _eager(qr_einsum), spectrum_per_sequence])
def test_rnn_qr_correct_variants_pass_visible_and_hidden(tf, fn, capsys):
    checks.check_rnn_qr(fn)
    checks.check_rnn_qr(fn, hidden=True)
    assert capsys.readouterr().out.count("\u2713 QR accumulation") == 2


def test_rnn_qr_reference_of_the_check_is_the_toolkit(tf):
    from course_utils.keras_lyapunov import rnn_lyapunov_spectrum

    cell = _small_simple_rnn(tf, seed=2)
    rng = np.random.default_rng(3)
    inputs, h0 = rng.uniform(-1, 1, size=(3, 60, 3)), rng.uniform(-1, 1, size=(3, 5))
    for k in (5, 2):
        np.testing.assert_allclose(_spectrum(_weights(cell), inputs, h0, k),
                                   rnn_lyapunov_spectrum(cell, inputs, h0, k=k),
                                   rtol=1e-10, atol=1e-12)


def _q_times_j(tf, J, Q, log_sum):
    Q, R = tf.linalg.qr(Q @ J)
    return Q, log_sum + tf.math.log(tf.abs(tf.linalg.diag_part(R)))


def _q_not_kept(tf, J, Q, log_sum):
    _, R = tf.linalg.qr(J @ Q)
    return Q, log_sum + tf.math.log(tf.abs(tf.linalg.diag_part(R)))


def _log10(tf, J, Q, log_sum):
    Q, R = tf.linalg.qr(J @ Q)
    return Q, log_sum + tf.math.log(tf.abs(tf.linalg.diag_part(R))) / np.log(10)


def _no_abs(tf, J, Q, log_sum):
    Q, R = tf.linalg.qr(J @ Q)
    return Q, log_sum + tf.math.log(tf.linalg.diag_part(R))


def _replaced(tf, J, Q, log_sum):
    Q, R = tf.linalg.qr(J @ Q)
    return Q, tf.math.log(tf.abs(tf.linalg.diag_part(R)))


def _log2(tf, J, Q, log_sum):
    Q, R = tf.linalg.qr(J @ Q)
    return Q, log_sum + tf.math.log(tf.abs(tf.linalg.diag_part(R))) / np.log(2)


def _log_of_square(tf, J, Q, log_sum):
    Q, R = tf.linalg.qr(J @ Q)
    return Q, log_sum + tf.math.log(tf.linalg.diag_part(R) ** 2)


def _nan_to_zero(tf, J, Q, log_sum):
    Q, R = tf.linalg.qr(J @ Q)
    logs = tf.math.log(tf.linalg.diag_part(R))
    return Q, log_sum + tf.where(tf.math.is_nan(logs), tf.zeros_like(logs), logs)


def _float32_qr(tf, J, Q, log_sum):
    """The factorisation in float32, everything cast back to float64."""
    Q, R = tf.linalg.qr(tf.cast(J @ Q, tf.float32))
    return (tf.cast(Q, tf.float64),
            log_sum + tf.cast(tf.math.log(tf.abs(tf.linalg.diag_part(R))), tf.float64))


def _conjugated(tf, J, Q, log_sum):
    Q, R = tf.linalg.qr(tf.matmul(Q, J @ Q, transpose_a=True))
    return Q, log_sum + tf.math.log(tf.abs(tf.linalg.diag_part(R)))


def _first_sequence(tf, J, Q, log_sum):
    Q, R = tf.linalg.qr(J @ Q)
    return Q, log_sum + tf.math.log(tf.abs(tf.linalg.diag_part(R)))[0]


def _late(cell, inputs, h0, k):
    """The Jacobian evaluated again after the step, at the new state."""
    import tensorflow as tf
    from course_utils.keras_lyapunov import simple_rnn_jacobian

    B, T, _ = inputs.shape
    h = tf.constant(h0, dtype=tf.float64)
    Q = tf.eye(h0.shape[1], k, batch_shape=[B], dtype=tf.float64)
    log_sum = tf.zeros((B, k), dtype=tf.float64)
    for t in range(T):
        x = tf.constant(inputs[:, t], dtype=tf.float64)
        h = cell(x, [h])[0]
        Q, R = tf.linalg.qr(simple_rnn_jacobian(cell, x, h) @ Q)
        log_sum += tf.math.log(tf.abs(tf.linalg.diag_part(R)))
    return -np.sort(-(log_sum / T).numpy(), axis=1)


@pytest.mark.parametrize("fn, message", [
    (_eager(_q_times_j), "The frame is not carried forward.*not tf.linalg.qr\\(Q @ J\\)"),
    (_eager(_q_not_kept), "The frame is not carried forward.*keep the new Q"),
    (_eager(_log10), "natural log.*not log10"),
    (_eager(_log2), "natural log.*not log2"),
    (_eager(_log_of_square), r"twice the exponents: log\(R_ii\^2\) = 2 log\|R_ii\|"),
    (_eager(_no_abs), r"got nan\. The diagonal of R can be negative.*absolute value"),
    (_eager(_nan_to_zero), "negative diagonal entries of R were dropped"),
    (_eager(_replaced), r"Add each step's log\|diag R\| to the running sum"),
    (_eager(_float32_qr), r"agree only to float32's precision"),
    (_late, "the Jacobian at the state after the step"),
    (_eager(_conjugated), r"exponents\[0, 0\] is wrong .*That is the QR of Q\^T J Q.*"
                          r"tf\.linalg\.qr\(J @ Q\), no Q\^T on the left"),
    (_eager(_first_sequence), r"exponents\[1, 0\] is wrong .*Every sequence has the exponents "
                              r"of the first.*one row per sequence"),
    (_eager(finish=lambda log_sum, T: (log_sum / T).numpy()), "descending"),
    (_eager(finish=lambda log_sum, T: -np.sort(-log_sum.numpy(), axis=1)),
     "Divide the summed logs by the number of steps T"),
    (_eager(finish=lambda log_sum, T: -np.sort(-(log_sum / T / T).numpy(), axis=1)),
     "divided by T twice"),
    (_eager(finish=lambda log_sum, T: -np.sort(-(log_sum / T).numpy(), axis=1) * 1.001),
     r"At every step: Q, R = tf.linalg.qr\(J @ Q\)"),
])
def test_rnn_qr_slips_get_specific_messages(tf, fn, message):
    """Each slip is named after the first wrong exponent, in the one form of all
    chapters."""
    with pytest.raises(AssertionError, match=message) as error:
        checks.check_rnn_qr(fn)
    found = MISMATCH.match(str(error.value))
    assert found and found["name"] == "exponents", str(error.value)
    # the first case, or the resting cell's for an unsorted result (the QR method's raw
    # order is already descending for the others)
    assert found["case"] in [c.label for c in rnn_checks.RNN_QR.cases(False, None)[::2]]


def test_rnn_qr_slips_differ_from_the_answer_and_from_each_other():
    """Each hint can only fire on its own slip, in every visible case (the comparison
    arrays of the slips that compare the student's result transformed are the expected
    exponents transformed back)."""
    for case in rnn_checks.RNN_QR.cases(False, None):
        weights, inputs, h0 = rnn_checks._spectrum_inputs(case)
        k = case.params["k"]
        expected = _spectrum(weights, inputs, h0, k)
        T = inputs.shape[1]
        scaled = [expected * f for f in (1 / np.log(10), 1 / np.log(2), 2.0, 1 / T, T)]
        others = [_spectrum(weights, inputs, h0, k, **kw) for kw in (
            dict(carry=False), dict(accumulate=False), dict(signs="drop"), dict(late=True))]
        others.append(np.broadcast_to(expected[:1], expected.shape))
        if k == h0.shape[1] and not case.params["cell"].get("resting"):
            conjugated = _spectrum(weights, inputs, h0, k, conjugate=True)
            # matched to rnn_checks._CONJUGATED_ATOL: far from the answer by more than that
            assert np.abs(conjugated - expected).max() > 4 * rnn_checks._CONJUGATED_ATOL
            others.append(conjugated)
        arrays = [expected] + scaled + others
        if case.params["cell"].get("resting"):
            # the resting cell: J is the same diagonal at every step, so the frame, the
            # step and the signs change nothing; only the scale slips show there
            arrays = [expected] + scaled
        else:
            arrays.append(expected[:, ::-1])
        for i in range(len(arrays)):
            for j in range(i):
                assert not np.allclose(arrays[i], arrays[j], rtol=1e-6, atol=1e-6), (
                    case.label, i, j)


def _full_qr(tf, J, Q, log_sum):
    Q, R = tf.linalg.qr(J @ Q, full_matrices=True)
    return Q, log_sum + tf.math.log(tf.abs(tf.linalg.diag_part(R)))


def _qr_float32_only(tf, J, Q, log_sum):
    Q, R = tf.linalg.qr(tf.cast(J @ Q, tf.float32))
    return Q, log_sum + tf.cast(tf.math.log(tf.abs(tf.linalg.diag_part(R))), tf.float64)


def _fixed_batch_of_3(tf, J, Q, log_sum):
    Q, R = tf.linalg.qr(J @ Q)
    return Q, log_sum + tf.reshape(tf.math.log(tf.abs(tf.linalg.diag_part(R))), (3, -1))


@pytest.mark.parametrize("fn, message", [
    (_eager(_full_qr), r"raised an error \(a tanh "
                       r"SimpleRNN\(6\) with 2 inputs, 4 sequences of 40 steps, k = 4 < H\): "
                       r"\"Incompatible shapes: \[4,4\] vs. \[4,6\] \[Op:AddV2\]\"\. "
                       r"log_sum has k = 4 columns, but the log\|diag R\| added to it has "
                       r"H = 6.*full_matrices=False"),
    (_eager(_qr_float32_only), r"the spectrum function raised a dtype error: a float32 tensor "
                               r"where TensorFlow expected float64"),
    (_eager(_fixed_batch_of_3), r"raised an error on the case "
                                r"with other sizes.*Does it depend on a size of the first case "
                                r"\(3 sequences of 60 steps"),
])
def test_rnn_qr_errors_are_named(tf, fn, message):
    """A full QR with k < H, a TensorFlow dtype error, and an error on the second case's
    sizes are named for what they are; TensorFlow's node prefix is left out."""
    with pytest.raises(AssertionError, match=message) as error:
        checks.check_rnn_qr(fn)
    assert "{{function_node" not in str(error.value)
    assert type(error.value.__cause__).__name__ == "InvalidArgumentError"


def test_rnn_qr_visible_cases_vary_the_sizes():
    """The second visible case has the notebook's 2 inputs and other numbers of
    sequences, units, steps than the first, with k < H; the first has k = H."""
    first, second, resting = rnn_checks.RNN_QR.cases(False, None)
    w1, x1, h1 = rnn_checks._spectrum_inputs(first)
    w2, x2, h2 = rnn_checks._spectrum_inputs(second)
    assert first.params["k"] == h1.shape[1] and second.params["k"] < h2.shape[1]
    assert x2.shape[2] == 2
    assert all(a != b for a, b in zip(x1.shape + h1.shape[1:], x2.shape + h2.shape[1:]))


def _changes_h0(cell, inputs, h0, k):
    result = _eager()(cell, inputs, h0, k)
    h0 *= 0.5
    return result


@pytest.mark.parametrize("fn, message", [
    (_eager(finish=lambda log_sum, T: None), "returned None"),
    (_eager(finish=lambda log_sum, T: (log_sum / T).numpy().astype(np.float32)),
     r"dtype float32, not float64 \(the next cell compares"),
    (_eager(finish=lambda log_sum, T: [[1.0, 2.0], [3.0]]), "could not be read as an array"),
    (_eager(finish=lambda log_sum, T: (log_sum / T).numpy() + 0j), "complex values"),
    (_changes_h0, "changed its input h0 in place"),
])
def test_rnn_qr_wrong_results_get_a_message(tf, fn, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_rnn_qr(fn)


def test_rnn_qr_tensor_result_is_accepted(tf, capsys):
    """np.allclose in the next cell takes a float64 tensor as well."""
    checks.check_rnn_qr(_eager(finish=lambda log_sum, T: tf.sort(log_sum / T, axis=1,
                                                                 direction="DESCENDING")))
    assert "\u2713 QR accumulation" in capsys.readouterr().out


def test_rnn_qr_with_the_first_cases_sizes_fails_visibly(tf):
    """The frame made for the first visible case (3 sequences, 5 units, 60 steps) fails
    the second visible case, not only a hidden one."""
    def fixed_frame(cell, inputs, h0, k):
        """The frame made for 3 sequences of a 5-unit cell."""
        from course_utils.keras_lyapunov import simple_rnn_jacobian

        h, Q = tf.constant(h0), tf.eye(5, k, batch_shape=[3], dtype=tf.float64)
        log_sum = 0.0
        for t in range(60):
            x = tf.constant(inputs[:, t])
            J = simple_rnn_jacobian(cell, x, h)
            h = cell(x, [h])[0]
            Q, R = tf.linalg.qr(J @ Q)
            log_sum += tf.math.log(tf.abs(tf.linalg.diag_part(R)))
        return -np.sort(-(log_sum / 60).numpy(), axis=1)

    with pytest.raises(AssertionError, match=r"on the case with other sizes"):
        checks.check_rnn_qr(fixed_frame)


def test_rnn_qr_squeezed_fails_a_hidden_case(tf, capsys):
    """A squeezed result keeps the visible shapes (and the notebook's), and loses the
    axes of the hidden case of one sequence and one exponent."""
    squeezed = _eager(finish=lambda log_sum, T: np.squeeze(-np.sort(-(log_sum / T).numpy(),
                                                                    axis=1)))
    checks.check_rnn_qr(squeezed)
    assert "\u2713" in capsys.readouterr().out
    with pytest.raises(HiddenCaseError) as error:
        checks.check_rnn_qr(squeezed, hidden=True)
    _assert_hidden_message_is_clean(error)


def test_rnn_qr_names_a_wrong_jacobian_of_task_one(tf):
    """In the notebook the loop calls the student's simple_rnn_jacobian: when that is wrong,
    the message sends the student back to Task 1."""
    namespace = {"tf": tf, "np": np, "simple_rnn_jacobian": _slip("no bias")}
    exec(
        "def lyapunov_spectrum_eager(cell, inputs, h0, k):\n"
        "    B, T, _ = inputs.shape\n"
        "    h = tf.constant(h0, dtype=tf.float64)\n"
        "    Q = tf.eye(h0.shape[1], k, batch_shape=[B], dtype=tf.float64)\n"
        "    log_sum = tf.zeros((B, k), dtype=tf.float64)\n"
        "    for t in range(T):\n"
        "        x = tf.constant(inputs[:, t], dtype=tf.float64)\n"
        "        J = simple_rnn_jacobian(cell, x, h)\n"
        "        h = cell(x, [h])[0]\n"
        "        Q, R = tf.linalg.qr(J @ Q)\n"
        "        log_sum += tf.math.log(tf.abs(tf.linalg.diag_part(R)))\n"
        "    return -np.sort(-(log_sum / T).numpy(), axis=1)\n", namespace)
    with pytest.raises(AssertionError, match=r"simple_rnn_jacobian \(Task 1\).*fix Task 1"):
        checks.check_rnn_qr(namespace["lyapunov_spectrum_eager"])
    namespace["simple_rnn_jacobian"] = jac_solution      # Task 1 fixed: the check passes
    checks.check_rnn_qr(namespace["lyapunov_spectrum_eager"], hidden=True)


# ---- the three parts of the checks: cases, probe, judge ---------------------------------

import inspect  # noqa: E402

from course_utils.checks import keras_rnn as rnn_checks  # noqa: E402
from course_utils.checks.framework import run_check  # noqa: E402

from tests.checks.support import graded, judged_without_tensorflow  # noqa: E402

SALTS = [1, 2, 3, 17, 99, 2024, 31337, 987654321]
#: For the other variants that run TensorFlow eagerly step by step (slow), fewer salts.
FEW_SALTS = SALTS[:3]

JACOBIAN_VARIANTS = [jac_solution, jac_tape, jac_einsum_from_the_step, jac_numpy,
                     jac_diag_matmul, jac_loop]
SPECTRUM_VARIANTS = [_eager(qr_solution), _eager(qr_matmul), _eager(qr_numpy),
                     _eager(qr_einsum), spectrum_per_sequence]


@pytest.mark.parametrize("fn", JACOBIAN_VARIANTS + [None],
                         ids=[f.__name__ for f in JACOBIAN_VARIANTS] + ["toolkit"])
def test_correct_jacobians_pass_hidden_cases_with_any_salt(tf, fn, capsys):
    if fn is None:
        from course_utils.keras_lyapunov import simple_rnn_jacobian as fn
    for salt in SALTS:
        run_check(rnn_checks.SIMPLE_RNN_JACOBIAN, (fn,), hidden=True, salt=salt)
    assert capsys.readouterr().out.count("\u2713 simple_rnn_jacobian") == len(SALTS)


@pytest.mark.parametrize("index", range(len(SPECTRUM_VARIANTS)))
def test_correct_spectra_pass_hidden_cases_with_any_salt(tf, index, capsys):
    # the notebook's solution and the NumPy rewrite: all salts
    salts = SALTS if index in (0, len(SPECTRUM_VARIANTS) - 1) else FEW_SALTS
    for salt in salts:
        run_check(rnn_checks.RNN_QR, (SPECTRUM_VARIANTS[index],), hidden=True, salt=salt)
    assert capsys.readouterr().out.count("\u2713 QR accumulation") == len(salts)


def test_visible_inputs_are_the_documented_draws():
    """The visible cases' weights, x, h, inputs and h0 are the draws of their seeds (none
    drawn again for a bound), with the sizes their labels give."""
    shapes = [((8, 3), (8, 5)), ((4, 2), (4, 6))]
    for case, seed, wseed, (x_shape, h_shape) in zip(
            rnn_checks.SIMPLE_RNN_JACOBIAN.cases(False, None), (1, 6), (0, 5), shapes):
        weights, x, h = rnn_checks._jacobian_inputs(case)
        rng = np.random.default_rng(seed)
        np.testing.assert_array_equal(x, rng.normal(size=x_shape))
        np.testing.assert_array_equal(h, rng.uniform(-1, 1, size=h_shape))
        rng = np.random.default_rng(wseed)
        units, width = h_shape[1], x_shape[1]
        drawn = [rng.normal(size=(width, units)),
                 1.5 * rng.normal(size=(units, units)) / np.sqrt(units), rng.normal(size=units)]
        for w, o in zip(weights, drawn):
            np.testing.assert_array_equal(w, o)
    cases = rnn_checks.RNN_QR.cases(False, None)
    rng = np.random.default_rng(3)
    inputs, h0 = rng.uniform(-1, 1, size=(3, 60, 3)), rng.uniform(-1, 1, size=(3, 5))
    rng = np.random.default_rng(6)
    inputs2, h02 = rng.uniform(-1, 1, size=(4, 40, 2)), rng.uniform(-1, 1, size=(4, 6))
    resting = [np.zeros((3, 5)), np.diag([0.2, 0.5, 0.9, 0.3, 0.7]), np.zeros(5)]
    expected = [(rnn_checks._rnn_weights(5, 3, 2), inputs, h0, 5),
                (rnn_checks._rnn_weights(6, 2, 4), inputs2, h02, 4),
                (resting, inputs, np.zeros((3, 5)), 5)]
    for case, (w_drawn, x_drawn, h_drawn, k) in zip(cases, expected):
        weights, got_inputs, got_h0 = rnn_checks._spectrum_inputs(case)
        np.testing.assert_array_equal(got_inputs, x_drawn)
        np.testing.assert_array_equal(got_h0, h_drawn)
        for w, o in zip(weights, w_drawn):
            np.testing.assert_array_equal(w, o)
        assert case.params["k"] == k


def test_hidden_inputs_are_fair_for_any_salt():
    """No draw whose pre-activations can saturate tanh; the same inputs on every call."""
    for salt in range(300):
        for case in [c for c in rnn_checks.SIMPLE_RNN_JACOBIAN.cases(True, salt) if c.hidden]:
            weights, x, h = rnn_checks._jacobian_inputs(case)
            assert x.shape == (case.params["batch"], case.params["cell"]["input_dim"])
            assert h.shape == (case.params["batch"], case.params["cell"]["units"])
            assert np.abs(rnn_checks._step(weights, x, h)[0]).max() < 14
        for case in [c for c in rnn_checks.RNN_QR.cases(True, salt) if c.hidden]:
            weights, inputs, h0 = rnn_checks._spectrum_inputs(case)
            assert rnn_checks._pre_activation_bound(weights, 1.0) < 10
            assert np.all(np.isfinite(rnn_checks._spectrum(weights, inputs, h0,
                                                            case.params["k"])))
            again = rnn_checks._spectrum_inputs(case)
            np.testing.assert_array_equal(again[1], inputs)


def test_numpy_cell_of_the_judge_is_the_keras_cell_of_the_probe(tf):
    """The judge's NumPy weights are those the probe sets in the Keras cell; the NumPy step,
    Jacobian and spectrum are the cell's, its tape's and the toolkit's, on the visible and
    the hidden cases."""
    from course_utils.keras_lyapunov import rnn_lyapunov_spectrum

    for salt in (None, 4):
        for case in rnn_checks.SIMPLE_RNN_JACOBIAN.cases(True, salt):
            weights, x, h = rnn_checks._jacobian_inputs(case)
            cell = rnn_checks._small_simple_rnn(tf, weights=weights)
            for w, kept in zip(weights, rnn_checks._weights(cell)):
                np.testing.assert_array_equal(w, kept)
            np.testing.assert_allclose(rnn_checks._step(weights, x, h)[1],
                                       cell(tf.constant(x), [tf.constant(h)])[0].numpy(),
                                       rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(rnn_checks._jacobian(weights, x, h),
                                       jac_tape(cell, tf.constant(x), tf.constant(h)).numpy(),
                                       rtol=1e-12, atol=1e-14)
        for case in rnn_checks.RNN_QR.cases(True, salt)[(0 if salt is None else 3):]:
            weights, inputs, h0 = rnn_checks._spectrum_inputs(case)
            cell = rnn_checks._small_simple_rnn(tf, weights=weights)
            k = case.params["k"]
            np.testing.assert_allclose(rnn_checks._spectrum(weights, inputs, h0, k),
                                       rnn_lyapunov_spectrum(cell, inputs, h0, k=k),
                                       rtol=1e-10, atol=1e-12)


#: Everything that computes an expected value: no probe may reach it.
_REFERENCE_NAMES = ["_jacobian(", "_spectrum(", "_step(", "_jacobian_slips", "keras_lyapunov",
                    "np.tanh", "expected", "want"]
_PROBES = [rnn_checks._probe_jacobian, rnn_checks._probe_spectrum, rnn_checks._probe_task_one,
           rnn_checks._jacobian_inputs, rnn_checks._spectrum_inputs, rnn_checks._case_weights,
           rnn_checks._rnn_weights, rnn_checks._resting_weights, rnn_checks._small_simple_rnn,
           rnn_checks._pre_activation_bound, rnn_checks._task_one_inputs, rnn_checks._weights]


@pytest.mark.parametrize("fn", _PROBES, ids=lambda f: f.__name__)
def test_probes_compute_no_expected_value(fn):
    source = inspect.getsource(fn)
    for name in _REFERENCE_NAMES:  # as a name of its own (not _probe_jacobian)
        assert not re.search(r"(?<![\w.])" + re.escape(name), source), (fn.__name__, name)


def test_probe_observations_hold_no_expected_value(tf):
    for case in rnn_checks.SIMPLE_RNN_JACOBIAN.cases(True, 7):
        seen = rnn_checks.SIMPLE_RNN_JACOBIAN.probe(case, lambda cell, x, h: None)
        assert set(seen) == {"got", "is_tensor", "weights"} and seen["got"] is None
    for case in rnn_checks.RNN_QR.cases(True, 7):
        seen = rnn_checks.RNN_QR.probe(case, lambda cell, inputs, h0, k: None)
        assert set(seen) == {"got", "inputs", "h0", "weights", "task_one"}
        assert seen["got"] is None and seen["task_one"] is None


def _task_one_wrong(tf):
    """The notebook's loop, whose module-level simple_rnn_jacobian (Task 1) is wrong."""
    namespace = {"tf": tf, "np": np, "simple_rnn_jacobian": _slip("no bias")}
    exec(
        "def lyapunov_spectrum_eager(cell, inputs, h0, k):\n"
        "    B, T, _ = inputs.shape\n"
        "    h = tf.constant(h0, dtype=tf.float64)\n"
        "    Q = tf.eye(h0.shape[1], k, batch_shape=[B], dtype=tf.float64)\n"
        "    log_sum = tf.zeros((B, k), dtype=tf.float64)\n"
        "    for t in range(T):\n"
        "        x = tf.constant(inputs[:, t], dtype=tf.float64)\n"
        "        J = simple_rnn_jacobian(cell, x, h)\n"
        "        h = cell(x, [h])[0]\n"
        "        Q, R = tf.linalg.qr(J @ Q)\n"
        "        log_sum += tf.math.log(tf.abs(tf.linalg.diag_part(R)))\n"
        "    return -np.sort(-(log_sum / T).numpy(), axis=1)\n", namespace)
    return namespace["lyapunov_spectrum_eager"]


def test_judges_need_no_tensorflow(tf, tmp_path):
    runs = [(rnn_checks.SIMPLE_RNN_JACOBIAN, jac_solution),
            (rnn_checks.SIMPLE_RNN_JACOBIAN, _changes_the_bias),
            (rnn_checks.SIMPLE_RNN_JACOBIAN, lambda cell, x, h: [J for J in
                                                                 jac_solution(cell, x, h)]),
            (rnn_checks.RNN_QR, _eager()),
            (rnn_checks.RNN_QR, _task_one_wrong(tf)),
            (rnn_checks.RNN_QR, _eager(finish=lambda log_sum, T: tf.sort(
                log_sum / T, axis=1, direction="DESCENDING"))),
            (rnn_checks.SIMPLE_RNN_JACOBIAN, _eye_without_dtype),
            (rnn_checks.RNN_QR, _eager(_no_abs))]
    results = judged_without_tensorflow("course_utils.checks.keras_rnn", runs, tmp_path)
    assert results[0] == [None] * 4
    assert all("changed the cell's weights" in r for r in results[1])
    assert re.search(r"must return a TensorFlow tensor or a NumPy array.*got list",
                     results[2][0])
    assert results[3] == [None] * 5
    # (the resting cell has no bias: there the slip of Task 1 changes nothing)
    assert [r is None for r in results[4]] == [False, False, True, False, False]
    assert all(re.search(r"simple_rnn_jacobian \(Task 1\).*fix Task 1", r)
               for r in results[4] if r is not None)
    assert results[5] == [None] * 5
    assert all(re.search(r"raised a dtype error: a float32 tensor where TensorFlow expected "
                         r"float64 \(\"cannot compute", r)
               for r in results[6])
    assert all(MISMATCH.match(r) and "got nan. The diagonal of R can be negative" in r
               for r in results[7][:2]), results[7]


@pytest.mark.parametrize("fn, index, message", [
    (_slip("no bias"), 0, r"J\[0, 0, 0\] is wrong \(a tanh SimpleRNN\(5\) cell, a batch of 8\)"
                          r": expected .*bias is missing"),
    (_changes_the_bias, 0, "changed the cell's weights"),
    (lambda cell, x, h: __import__("tensorflow").cast(jac_solution(cell, x, h), "float32"), 0,
     r"dtype float32, not float64 \(.*J @ Q"),
    (_eye_without_dtype, 0, r"raised a dtype error: a float32 tensor where TensorFlow "
                            r"expected float64 \(\"cannot compute Mul"),
    (_fixed_batch, 1, r"raised an error on the case with other sizes.*Incompatible shapes"),
])
def test_graded_messages_are_the_notebooks(tf, fn, index, message):
    """In grading (the student's exception only as its type and message) the messages are
    the notebook's, without TensorFlow's node prefix."""
    case = rnn_checks.SIMPLE_RNN_JACOBIAN.cases(False, None)[index]
    with pytest.raises(AssertionError, match=message) as error:
        graded(rnn_checks.SIMPLE_RNN_JACOBIAN, case, fn)
    assert "{{function_node" not in str(error.value)


def test_unfilled_template_is_not_taken_for_a_size_error(tf):
    """The template's NotImplementedError is the student's own, on every case."""
    def unfilled(cell, x, h):
        raise NotImplementedError("Task 1 (simple_rnn_jacobian): your code here")

    second = rnn_checks.SIMPLE_RNN_JACOBIAN.cases(False, None)[1]
    with pytest.raises(NotImplementedError):
        checks.check_simple_rnn_jacobian(unfilled)
    with pytest.raises(Exception) as error:
        graded(rnn_checks.SIMPLE_RNN_JACOBIAN, second, unfilled)
    assert "other sizes" not in str(error.value)
