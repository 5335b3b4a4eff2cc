"""The feedback checks of chapter 02 (the Lyapunov spectrum of a Keras SimpleRNN): correct
code in its many forms passes with a ✓ line, visibly and with the hidden cases; each typical
mistake gets its own message; a result of the wrong type gets a message, not a crash; a
solution fitted to the visible inputs fails a hidden case without learning its inputs."""

import re

import numpy as np
import pytest

from course_utils import checks
from course_utils.checks import HiddenCaseError
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


def test_rnn_jacobian_slips_differ_from_the_answer_and_from_each_other(tf):
    """Each hint can only fire on its own slip in the visible case."""
    cell = _small_simple_rnn(tf)
    rng = np.random.default_rng(1)
    x, h = rng.normal(size=(8, 3)), rng.uniform(-1, 1, size=(8, 5))
    arrays = [_jacobian(_weights(cell), x, h)] + [w for w, _ in
                                                   _jacobian_slips(_weights(cell), x, h)]
    for i in range(len(arrays)):
        for j in range(i):
            assert not np.allclose(arrays[i], arrays[j], rtol=1e-6, atol=1e-6), (i, j)


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
                "1 - a^2": 1 - a ** 2,
                "no square": 1 - tf.tanh(a),
                }.get(kind, 1 - tf.tanh(a) ** 2)
        if kind == "columns":
            return dphi[:, None, :] * tf.transpose(W)[None]
        if kind == "no derivative":
            return tf.tile(tf.transpose(W)[None], [x.shape[0], 1, 1])
        J = dphi[:, :, None] * (W if kind == "W not transposed" else tf.transpose(W))[None]
        return tf.transpose(J, [0, 2, 1]) if kind == "transposed" else J
    return fn


@pytest.mark.parametrize("kind, message", [
    ("transposed", r"your J is transposed"),
    ("W not transposed", r"W_h is the transpose of recurrent_kernel"),
    ("no bias", "bias is missing"),
    ("no input", "input term is missing"),
    ("after the step", "state after the step"),
    ("1 - h^2", r"1 - h\^2 uses the state before the step"),
    ("1 - a^2", r"not 1 - a\^2"),
    ("no square", "the square is missing"),
    ("columns", "scales the rows of J"),
    ("no derivative", r"derivative of tanh, 1 - tanh\(a\)\^2, is missing"),
])
def test_rnn_jacobian_slips_get_specific_messages(tf, kind, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_simple_rnn_jacobian(_slip(kind))


def test_rnn_jacobian_other_errors_get_the_general_message(tf):
    def off(cell, x, h):
        return jac_solution(cell, x, h) * 1.001

    with pytest.raises(AssertionError, match=r"J\[0, 0, 0\] is wrong: expected .*, got "):
        checks.check_simple_rnn_jacobian(off)


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


def test_rnn_jacobian_fitted_to_the_visible_sizes_fails_a_hidden_case(tf, capsys):
    def fixed_sizes(cell, x, h):
        """Loops over the visible batch (8) and units (5)."""
        J = np.zeros((8, 5, 5))
        a = (x @ cell.kernel + h @ cell.recurrent_kernel + cell.bias).numpy()
        W = cell.recurrent_kernel.numpy()
        for b in range(8):
            for i in range(5):
                J[b, i] = (1 - np.tanh(a[b, i]) ** 2) * W[:, i]
        return J

    checks.check_simple_rnn_jacobian(fixed_sizes)
    assert "\u2713" in capsys.readouterr().out
    with pytest.raises(HiddenCaseError) as error:
        checks.check_simple_rnn_jacobian(fixed_sizes, hidden=True)
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


@pytest.mark.parametrize("fn, message", [
    (_eager(_q_times_j), "the frame is not carried forward.*not tf.linalg.qr\\(Q @ J\\)"),
    (_eager(_q_not_kept), "the frame is not carried forward.*keep the new Q"),
    (_eager(_log10), "natural log"),
    (_eager(_no_abs), "got NaN.*absolute value"),
    (_eager(_replaced), r"add each step's log\|diag R\| to the running sum"),
    (_eager(finish=lambda log_sum, T: (log_sum / T).numpy()), "descending"),
    (_eager(finish=lambda log_sum, T: -np.sort(-log_sum.numpy(), axis=1)),
     "divide the summed logs by the number of steps T"),
    (_eager(finish=lambda log_sum, T: -np.sort(-(log_sum / T).numpy(), axis=1)[:, :1]),
     r"for 3 sequences and k=5 return .* shape \(3, 5\) \(B, k\)"),
    (_eager(finish=lambda log_sum, T: -np.sort(-(log_sum / T).numpy(), axis=1) * 1.001),
     r"case 1 of 3.*expected \[.*got \["),
])
def test_rnn_qr_slips_get_specific_messages(tf, fn, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_rnn_qr(fn)


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


def test_rnn_qr_fitted_to_the_visible_sizes_fails_a_hidden_case(tf, capsys):
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

    checks.check_rnn_qr(fixed_frame)
    assert "\u2713" in capsys.readouterr().out
    with pytest.raises(HiddenCaseError) as error:
        checks.check_rnn_qr(fixed_frame, hidden=True)
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


def test_visible_inputs_are_unchanged():
    """The weights as _small_simple_rnn drew them with the cell, the data from the same
    generators as before the cases were split."""
    (case,) = rnn_checks.SIMPLE_RNN_JACOBIAN.cases(False, None)
    weights, x, h = rnn_checks._jacobian_inputs(case)
    rng = np.random.default_rng(1)
    np.testing.assert_array_equal(x, rng.normal(size=(8, 3)))
    np.testing.assert_array_equal(h, rng.uniform(-1, 1, size=(8, 5)))
    rng = np.random.default_rng(0)
    old = [rng.normal(size=(3, 5)), 1.5 * rng.normal(size=(5, 5)) / np.sqrt(5),
           rng.normal(size=5)]
    for w, o in zip(weights, old):
        np.testing.assert_array_equal(w, o)
    cases = rnn_checks.RNN_QR.cases(False, None)
    rng = np.random.default_rng(3)
    inputs, h0 = rng.uniform(-1, 1, size=(3, 60, 3)), rng.uniform(-1, 1, size=(3, 5))
    resting = [np.zeros((3, 5)), np.diag([0.2, 0.5, 0.9, 0.3, 0.7]), np.zeros(5)]
    expected = [(rnn_checks._rnn_weights(5, 3, 2), h0, 5), (rnn_checks._rnn_weights(5, 3, 2),
                                                            h0, 2),
                (resting, np.zeros((3, 5)), 5)]
    for case, (w_old, h_old, k) in zip(cases, expected):
        weights, got_inputs, got_h0 = rnn_checks._spectrum_inputs(case)
        np.testing.assert_array_equal(got_inputs, inputs)
        np.testing.assert_array_equal(got_h0, h_old)
        for w, o in zip(weights, w_old):
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
    Jacobian and spectrum are the cell's, its tape's and the toolkit's, on hidden cases
    too."""
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
        for case in rnn_checks.RNN_QR.cases(True, salt)[3:]:
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
                log_sum / T, axis=1, direction="DESCENDING")))]
    results = judged_without_tensorflow("course_utils.checks.keras_rnn", runs, tmp_path)
    assert results[0] == [None] * 3
    assert all("changed the cell's weights" in r for r in results[1])
    assert re.search(r"must return a TensorFlow tensor or a NumPy array.*got list",
                     results[2][0])
    assert results[3] == [None] * 5
    # (the resting cell has no bias: there the slip of Task 1 changes nothing)
    assert [r is None for r in results[4]] == [False, False, True, False, False]
    assert all(re.search(r"simple_rnn_jacobian \(Task 1\).*fix Task 1", r)
               for r in results[4] if r is not None)
    assert results[5] == [None] * 5


@pytest.mark.parametrize("fn, message", [
    (_slip("no bias"), "bias is missing"),
    (_changes_the_bias, "changed the cell's weights"),
    (lambda cell, x, h: __import__("tensorflow").cast(jac_solution(cell, x, h), "float32"),
     r"dtype float32, not float64 \(.*J @ Q"),
])
def test_graded_messages_are_the_notebooks(tf, fn, message):
    (case,) = rnn_checks.SIMPLE_RNN_JACOBIAN.cases(False, None)
    with pytest.raises(AssertionError, match=message):
        graded(rnn_checks.SIMPLE_RNN_JACOBIAN, case, fn)
