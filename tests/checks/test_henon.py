"""The feedback checks of chapter 01 (the Henon map as a Keras RNN cell): correct code in its
many forms passes with a ✓ line, visibly and with the hidden cases; each typical mistake
gets its own message; a result of the wrong type gets a message, not a crash; a solution
fitted to the visible inputs fails a hidden case without learning its inputs."""

import re

import numpy as np
import pytest

from course_utils import checks
from course_utils.checks import HiddenCaseError
from course_utils.checks.henon import _qr_variant
from course_utils.henon import henon_jacobian, henon_orbit
from course_utils.lyapunov import lyapunov_from_jacobians


def _assert_hidden_message_is_clean(error) -> None:
    """A hidden failure names the kind of case, never its inputs: no number at all."""
    message = str(error.value)
    assert isinstance(error.value, HiddenCaseError)
    assert "hidden case" in message
    assert not re.search(r"\d", message), message


# ---- Task 1: the cell ------------------------------------------------------------------

def _cell_class(tf, step):
    """A Keras Henon cell as in the notebook, whose call is ``step(tf, self, states)``."""
    import keras

    class Cell(keras.layers.Layer):
        def __init__(self, a=1.4, b=0.3, **kwargs):
            super().__init__(**kwargs)
            self.a, self.b = a, b
            self.state_size = 2
            self.output_size = 2

        def call(self, inputs, states):
            return step(tf, self, states)

    return Cell


def cell_stack(tf, s, states):
    """The notebook's solution."""
    z = states[0]
    x, y = z[:, 0], z[:, 1]
    z_next = tf.stack([1.0 - s.a * x * x + y, s.b * x], axis=1)
    return z_next, [z_next]


def cell_concat(tf, s, states):
    """Column slices kept 2-D, joined by tf.concat; a tuple of states."""
    (z,) = states
    x, y = z[:, :1], z[:, 1:]
    z_next = tf.concat([1 - s.a * tf.square(x) + y, s.b * x], axis=-1)
    return z_next, (z_next,)


def cell_matrix(tf, s, states):
    """The linear part as a matrix product, the quadratic part added."""
    z = states[0]
    x = tf.unstack(z, axis=1)[0]
    linear = z @ tf.constant([[0.0, s.b], [1.0, 0.0]], dtype=z.dtype)   # (y, b x)
    quadratic = tf.stack([1.0 - s.a * x ** 2, tf.zeros_like(x)], axis=1)
    z_next = linear + quadratic
    return z_next, [z_next]


def cell_transpose(tf, s, states):
    """Rows built first and transposed; ones_like for the constant."""
    z = states[0]
    x, y = tf.unstack(z, axis=-1)
    z_next = tf.transpose(tf.convert_to_tensor([tf.ones_like(x) - s.a * x * x + y,
                                                s.b * x]))
    return z_next, [z_next]


@pytest.mark.parametrize("step", [cell_stack, cell_concat, cell_matrix, cell_transpose])
def test_cell_correct_variants_pass_visible_and_hidden(tf, step, capsys):
    Cell = _cell_class(tf, step)
    checks.check_henon_cell(Cell)
    checks.check_henon_cell(Cell, hidden=True)
    assert capsys.readouterr().out.count("\u2713 HenonCell") == 2


def test_reference_cell_passes(tf, capsys):
    from course_utils.keras_cells import HenonCell

    checks.check_henon_cell(HenonCell, hidden=True)
    assert "\u2713 HenonCell" in capsys.readouterr().out


def _new(tf, x_next, y_next):
    n = tf.stack([x_next, y_next], axis=1)
    return n, [n]


@pytest.mark.parametrize("step, message", [
    (lambda tf, s, st: _new(tf, 1.0 + s.a * st[0][:, 0] ** 2 + st[0][:, 1], s.b * st[0][:, 0]),
     r"the x component is wrong.*x_next = 1 - a x\^2 \+ y"),
    (lambda tf, s, st: _new(tf, 1.0 - s.a * st[0][:, 0] ** 2 + st[0][:, 1], s.b * st[0][:, 1]),
     r"the y component is wrong.*y_next = b x"),
    (lambda tf, s, st: _new(tf, 1.0 - 1.4 * st[0][:, 0] ** 2 + st[0][:, 1], 0.3 * st[0][:, 0]),
     "did you use the cell's own a and b"),
    (lambda tf, s, st: cell_stack(tf, s, st)[0], "must return a pair"),
    (lambda tf, s, st: (cell_stack(tf, s, st)[0],) * 2, "must be a list holding the next state"),
    (lambda tf, s, st: (cell_stack(tf, s, st)[0], st), "the next state must equal the output"),
    (lambda tf, s, st: (lambda n: (n, [n]))(
        tf.stack([1.0 - s.a * st[0][0, 0] ** 2 + st[0][0, 1], s.b * st[0][0, 0]])[None]),
     r"must have shape \(4, 2\)"),
    (lambda tf, s, st: (lambda n: (n, [n]))(tf.cast(cell_stack(tf, s, st)[0], tf.float32)),
     "although Keras hands it float64 states"),
    # a tf.stop_gradient: right values, a wrong tape Jacobian (the next cell compares it)
    (lambda tf, s, st: _new(tf, 1.0 - s.a * tf.stop_gradient(st[0][:, 0]) ** 2 + st[0][:, 1],
                            s.b * st[0][:, 0]),
     r"the values are right, but GradientTape's Jacobian of the cell is wrong: d x_next / "
     r"d x at \(x, y\) = \[0.1, 0.1\], expected -0.28, got 0"),
    # a value taken out of TensorFlow and put back: the tape sees nothing
    (lambda tf, s, st: (lambda n: (n, [n]))(tf.constant(cell_stack(tf, s, st)[0].numpy())),
     "GradientTape finds no derivative"),
])
def test_cell_mistakes_get_specific_messages(tf, step, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_henon_cell(_cell_class(tf, step))


def test_float32_cell_is_told_to_use_float64(tf):
    import keras

    keras.config.set_dtype_policy("float32")
    try:
        with pytest.raises(AssertionError, match=r"set_floatx\('float64'\)"):
            checks.check_henon_cell(_cell_class(tf, cell_stack))
    finally:
        keras.config.set_dtype_policy("float64")


# The known defect: a cell computing with NumPy on the states passed the check, and the next
# cells failed (.numpy() on the output; keras.layers.RNN inside tf.function).

def cell_np_stack(tf, s, states):
    z = states[0]
    x, y = z[:, 0], z[:, 1]
    z_next = np.stack([1.0 - s.a * x * x + y, s.b * x], axis=1)
    return z_next, [z_next]


def cell_dot_numpy(tf, s, states):
    z = states[0].numpy()
    z_next = np.stack([1.0 - s.a * z[:, 0] ** 2 + z[:, 1], s.b * z[:, 0]], axis=1)
    return z_next, [z_next]


def cell_numpy_on_the_side(tf, s, states):
    """Right in TensorFlow, but it reads the state's values (a debugging line)."""
    first_x = states[0].numpy()[0, 0]  # noqa: F841 - fails while tracing
    return cell_stack(tf, s, states)


def cell_python_if(tf, s, states):
    """A Python condition on a tensor's value: fine eagerly, fails while tracing."""
    z = states[0]
    if tf.reduce_any(tf.abs(z) > 1e6):
        z = tf.zeros_like(z)
    return cell_stack(tf, s, [z])


def cell_static_batch(tf, s, states):
    """z.shape[0] is None while tracing with an unknown batch size."""
    z_next, _ = cell_stack(tf, s, states)
    z_next = tf.reshape(z_next, (states[0].shape[0], 2))
    return z_next, [z_next]


@pytest.mark.parametrize("step, message", [
    (cell_np_stack, r"output must be a TensorFlow tensor \(the next cell calls \.numpy\(\).*"
                    r"got ndarray"),
    (cell_dot_numpy, r"must be a TensorFlow tensor.*got ndarray"),
    (cell_numpy_on_the_side, r"inside tf\.function.*Your call uses NumPy on them"),
    (cell_python_if, r"inside tf\.function.*Python condition"),
    (cell_static_batch, r"inside tf\.function.*batch size is unknown.*Error"),
])
def test_cells_that_break_the_next_cells_are_caught(tf, step, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_henon_cell(_cell_class(tf, step))


def test_the_numpy_cell_does_break_the_next_cells(tf):
    """Why the check rejects it: keras.layers.RNN in tf.function fails on it."""
    Cell = _cell_class(tf, cell_dot_numpy)
    z0 = tf.constant([[0.1, 0.1]], dtype=tf.float64)
    with pytest.raises(AttributeError):
        cell_out = Cell()(tf.zeros((1, 1), dtype=tf.float64), [z0])[0]
        cell_out.numpy()
    rnn = tf.keras.layers.RNN(Cell(), return_sequences=True)
    with pytest.raises(Exception, match="numpy"):
        tf.function(lambda u, z: rnn(u, initial_state=[z]))(
            tf.zeros((1, 3, 1), dtype=tf.float64), z0)


@pytest.mark.parametrize("step, message", [
    (lambda tf, s, st: None, r"must return a pair.*got NoneType"),
    (lambda tf, s, st: (cell_stack(tf, s, st)[0].numpy().tolist(), cell_stack(tf, s, st)[1]),
     r"must be a TensorFlow tensor.*got list"),
    (lambda tf, s, st: (cell_stack(tf, s, st)[0], [cell_stack(tf, s, st)[0].numpy()]),
     r"the next state in \[z_next\] must be a TensorFlow tensor \(keras.layers.RNN feeds it "
     r"back.*got ndarray"),
])
def test_cell_results_of_the_wrong_type_get_a_message(tf, step, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_henon_cell(_cell_class(tf, step))


def test_cell_fitted_to_the_visible_batch_fails_a_hidden_case(tf, capsys):
    def fixed_batch(tf, s, states):
        """tf.ones(4): the visible batch has 4 states."""
        x, y = states[0][:, 0], states[0][:, 1]
        z_next = tf.stack([tf.ones(4, dtype=tf.float64) - s.a * x * x + y, s.b * x], 1)
        return z_next, [z_next]

    Cell = _cell_class(tf, fixed_batch)
    checks.check_henon_cell(Cell)
    assert "\u2713 HenonCell" in capsys.readouterr().out
    with pytest.raises(HiddenCaseError) as error:
        checks.check_henon_cell(Cell, hidden=True)
    _assert_hidden_message_is_clean(error)
    assert "\u2713" not in capsys.readouterr().out


def test_cell_fitted_to_the_visible_parameters_fails_a_hidden_case(tf):
    def two_pairs(tf, s, states):
        """Knows the two visible parameter pairs, falls back to 1.4 and 0.3 otherwise."""
        a, b = (s.a, s.b) if (s.a, s.b) in {(1.4, 0.3), (1.2, 0.4)} else (1.4, 0.3)
        x, y = states[0][:, 0], states[0][:, 1]
        return _new(tf, 1.0 - a * x * x + y, b * x)

    checks.check_henon_cell(_cell_class(tf, two_pairs))
    with pytest.raises(HiddenCaseError) as error:
        checks.check_henon_cell(_cell_class(tf, two_pairs), hidden=True)
    _assert_hidden_message_is_clean(error)


# ---- Task 2: the Jacobians --------------------------------------------------------------

def jac_reference(z, a=1.4, b=0.3):
    """The notebook's solution."""
    z = np.asarray(z, dtype=np.float64)
    J = np.zeros((len(z), 2, 2))
    J[:, 0, 0] = -2.0 * a * z[:, 0]
    J[:, 0, 1] = 1.0
    J[:, 1, 0] = b
    return J


def jac_stack(z, a=1.4, b=0.3):
    """Blocks stacked, then the batch axis moved to the front."""
    x = np.asarray(z, dtype=np.float64)[:, 0]
    one, zero = np.ones_like(x), np.zeros_like(x)
    return np.moveaxis(np.array([[-2 * a * x, one], [b * one, zero]]), -1, 0)


def jac_loop(z, a=1.4, b=0.3):
    """One matrix per state, a list of arrays (np.allclose and the loops take it)."""
    return [np.array([[-2.0 * a * x, 1.0], [b, 0.0]]) for x, _ in np.asarray(z)]


def jac_tf(z, a=1.4, b=0.3):
    """In TensorFlow: a float64 tensor."""
    import tensorflow as tf

    x = tf.constant(np.asarray(z)[:, 0], dtype=tf.float64)
    one = tf.ones_like(x)
    return tf.stack([tf.stack([-2 * a * x, one], -1), tf.stack([b * one, 0 * x], -1)], 1)


def jac_broadcast(z, a=1.4, b=0.3):
    """A constant part plus the x-dependent corner."""
    z = np.asarray(z, dtype=np.float64)
    J = np.array([[0.0, 1.0], [b, 0.0]]) + np.zeros((z.shape[0], 1, 1))
    J[:, 0, 0] = -2 * a * z[:, 0]
    return J


@pytest.mark.parametrize("fn", [jac_reference, jac_stack, jac_loop, jac_tf, jac_broadcast,
                                henon_jacobian])
def test_jacobian_correct_variants_pass_visible_and_hidden(fn, capsys):
    checks.check_henon_jacobian(fn)
    checks.check_henon_jacobian(fn, hidden=True)
    assert capsys.readouterr().out.count("\u2713 henon_jacobian") == 2


def _with(entry, value):
    def fn(z, a=1.4, b=0.3):
        J = henon_jacobian(z, a, b)
        J[(slice(None),) + entry] = value(np.asarray(z), a, b)
        return J
    return fn


def _jac_in_place(z, a=1.4, b=0.3):
    z[:, 0] *= -2 * a                      # reuses the caller's array
    J = np.zeros((len(z), 2, 2))
    J[:, 0, 0], J[:, 0, 1], J[:, 1, 0] = z[:, 0], 1.0, b
    return J


@pytest.mark.parametrize("fn, message", [
    (lambda z, a, b: np.swapaxes(henon_jacobian(z, a, b), 1, 2), "transposes"),
    (_with((0, 0), lambda z, a, b: 2 * a * z[:, 0]), r"entry J\[0, 0\] = dx'/dx = -2 a x"),
    (_with((0, 0), lambda z, a, b: -a * z[:, 0]), r"entry J\[0, 0\].*expected .*got"),
    (_with((0, 1), lambda z, a, b: 0.0), r"entry J\[0, 1\] = dx'/dy = 1"),
    (_with((1, 0), lambda z, a, b: 0.3), r"entry J\[1, 0\].*did you use the arguments a and b"),
    (_with((0, 0), lambda z, a, b: -2.8 * z[:, 0]), "did you use the arguments a and b"),
    (_with((1, 1), lambda z, a, b: b), r"entry J\[1, 1\] = dy'/dy = 0"),
    (lambda z, a, b: henon_jacobian(z, a, b)[0], r"shape \(4, 2, 2\)"),
    (lambda z, a, b: henon_jacobian(z, a, b).reshape(-1, 4), r"shape \(4, 2, 2\)"),
    (_jac_in_place, "changed its input z in place"),
])
def test_jacobian_mistakes_get_specific_messages(fn, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_henon_jacobian(fn)


def _tf_float32(J):
    import tensorflow as tf

    return tf.cast(J, tf.float32)


@pytest.mark.parametrize("fn, message", [
    (lambda z, a, b: None, "returned None"),
    (lambda z, a, b: "J", "must hold numbers"),
    (lambda z, a, b: [[1.0, 2.0], [3.0]], "could not be read as an array of numbers"),
    (lambda z, a, b: henon_jacobian(z, a, b).astype(np.float32), "dtype float32, not float64"),
    (lambda z, a, b: _tf_float32(jac_tf(z, a, b)), "dtype float32"),
    (lambda z, a, b: henon_jacobian(z, a, b).astype(int), "integer dtype"),
    (lambda z, a, b: henon_jacobian(z, a, b) + 0j, "complex values"),
    (lambda z, a, b: henon_jacobian(z, a, b) * np.nan, r"entry J\[0, 0\].*got \[?nan"),
])
def test_jacobian_results_of_the_wrong_type_get_a_message(fn, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_henon_jacobian(fn)


def test_jacobian_fitted_to_the_visible_batch_fails_a_hidden_case(capsys):
    def four_states(z, a=1.4, b=0.3):
        J = np.zeros((4, 2, 2))
        J[:, 0, 0] = -2.0 * a * np.asarray(z)[:4, 0]
        J[:, 0, 1], J[:, 1, 0] = 1.0, b
        return J

    checks.check_henon_jacobian(four_states)
    with pytest.raises(HiddenCaseError) as error:
        checks.check_henon_jacobian(four_states, hidden=True)
    _assert_hidden_message_is_clean(error)


# ---- Task 3: the QR method --------------------------------------------------------------

def qr_reference(jacobians, transient=0):
    """The notebook's solution."""
    jacobians = np.asarray(jacobians, dtype=np.float64)
    T, d, _ = jacobians.shape
    Q = np.eye(d)
    log_stretch = np.zeros(d)
    for t in range(T):
        Q, R = np.linalg.qr(jacobians[t] @ Q)
        if t >= transient:
            log_stretch += np.log(np.abs(np.diag(R)))
    return np.sort(log_stretch / (T - transient))[::-1]


def qr_two_loops(jacobians, transient=0):
    """Transient and counted steps in two loops, logs kept in a list and averaged."""
    jacobians = np.asarray(jacobians, dtype=np.float64)
    Q = np.eye(jacobians.shape[1])
    for J in jacobians[:transient]:
        Q = np.linalg.qr(J @ Q)[0]
    logs = []
    for J in jacobians[transient:]:
        Q, R = np.linalg.qr(J @ Q)
        logs.append(np.log(np.abs(np.diagonal(R))))
    return -np.sort(-np.mean(logs, axis=0))


def qr_signs_fixed(jacobians, transient=0):
    """Householder signs normalised so that diag R > 0; the log of a product per step."""
    jacobians = np.asarray(jacobians, dtype=np.float64)
    T, d, _ = jacobians.shape
    Q, total = np.eye(d), np.zeros(d)
    for t in range(T):
        Q, R = np.linalg.qr(jacobians[t] @ Q)
        signs = np.sign(np.diag(R))
        Q, R = Q * signs, signs[:, None] * R
        if t >= transient:
            total += np.log(np.diag(R))
    return np.sort(total)[::-1] / (T - transient)


def qr_tf(jacobians, transient=0):
    """With tf.linalg.qr, returned as a NumPy array."""
    import tensorflow as tf

    J = tf.constant(np.asarray(jacobians, dtype=np.float64))
    Q = tf.eye(J.shape[1], dtype=tf.float64)
    total = tf.zeros(J.shape[1], dtype=tf.float64)
    for t in range(J.shape[0]):
        Q, R = tf.linalg.qr(J[t] @ Q)
        if t >= transient:
            total += tf.math.log(tf.abs(tf.linalg.diag_part(R)))
    return np.sort(total.numpy() / (J.shape[0] - transient))[::-1]


@pytest.mark.parametrize("fn", [qr_reference, qr_two_loops, qr_signs_fixed, qr_tf,
                                lambda J, transient=0: lyapunov_from_jacobians(
                                    J, transient=transient)])
def test_qr_correct_variants_pass_visible_and_hidden(fn, capsys):
    checks.check_lyapunov_qr(fn)
    checks.check_lyapunov_qr(fn, hidden=True)
    assert capsys.readouterr().out.count("\u2713 lyapunov_qr") == 2


def test_qr_reference_of_the_check_is_the_package_one():
    J = henon_jacobian(henon_orbit([0.1, 0.1], 300, transient=50))
    for transient in (0, 40):
        np.testing.assert_allclose(_qr_variant(J, transient),
                                   lyapunov_from_jacobians(J, transient=transient),
                                   rtol=1e-12)


def _qr(transient_rule=None, *, left=True, carry=True, log=np.log, divide=None, sort=True,
        absolute=True):
    """qr_reference with one of the usual slips."""
    def fn(jacobians, transient=0):
        jacobians = np.asarray(jacobians, dtype=np.float64)
        T, d, _ = jacobians.shape
        Q, total = np.eye(d), np.zeros(d)
        start = transient if transient_rule is None else transient_rule(transient)
        for t in range(T):
            J = jacobians[t]
            Q, R = np.linalg.qr((J @ Q if left else Q @ J) if carry else J)
            if t >= start:
                diag = np.diag(R)
                with np.errstate(invalid="ignore"):
                    total += log(np.abs(diag) if absolute else diag)
        lam = total / (T - start if divide is None else divide(T, transient))
        return np.sort(lam)[::-1] if sort else lam
    return fn


def _skip_transient(jacobians, transient=0):
    return qr_reference(np.asarray(jacobians)[transient:], 0)


@pytest.mark.parametrize("fn, message", [
    (_qr(sort=False), "descending"),
    (lambda J, transient=0: qr_reference(J, transient)[::-1], "descending"),
    (_qr(log=np.log10), "natural log"),
    (_qr(log=np.log2), "natural log"),
    (_qr(divide=lambda T, transient: 1), "divide the summed logs"),
    (_qr(absolute=False), "got NaN.*absolute value"),
    (_qr(carry=False), "your R is that of each Jacobian alone"),
    (_qr(left=False), r"Q @ J_t, which has the same R.*from the left onto the current Q"),
    # the transient ignored: averaged over all steps
    (_qr(transient_rule=lambda transient: 0), "transient=100, leave the first 100 steps out"),
    # the transient skipped without evolving Q through it
    (_skip_transient, "must still evolve Q"),
    (_qr(divide=lambda T, transient: T), r"divide the sum by .*T - transient = 500"),
    (lambda J, transient=0: qr_reference(J, transient)[:1], r"return the 3 exponents, shape"),
])
def test_qr_mistakes_get_specific_messages(fn, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_lyapunov_qr(fn)


def test_qr_wrong_rate_gets_the_general_message():
    with pytest.raises(AssertionError, match=r"along a Henon orbit.*expected \[.*got \["):
        checks.check_lyapunov_qr(lambda J, transient=0: qr_reference(J, transient)
                                 + (len(J) == 600) * 1e-6 * (np.arange(J.shape[1]) == 0))


@pytest.mark.parametrize("fn, message", [
    (lambda J, transient=0: __import__("tensorflow").constant(qr_reference(J, transient)),
     r"must return a NumPy array \(the next cell .* lam.sum\(\)\).*TensorFlow tensor"),
    (lambda J, transient=0: sorted(qr_reference(J, transient), reverse=True),
     r"must return a NumPy array.*got list.*np.sort\(\.\.\.\)\[::-1\], not sorted"),
    (lambda J, transient=0: None, "returned None"),
    (lambda J, transient=0: qr_reference(J, transient).astype(np.float32),
     "dtype float32, not float64"),
    (lambda J, transient=0: qr_reference(J, transient) + 0j, "complex values"),
])
def test_qr_results_of_the_wrong_type_get_a_message(fn, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_lyapunov_qr(fn)


def test_qr_input_changed_in_place_does_not_fool_the_check():
    def in_place(jacobians, transient=0):
        lam = qr_reference(jacobians, transient)
        jacobians *= 0                          # the check hands a copy
        return lam

    checks.check_lyapunov_qr(in_place, hidden=True)


def test_qr_fitted_to_the_visible_transient_fails_a_hidden_case():
    # The visible transients are 0 and 100: "transient or not" passes them.
    fitted = _qr(transient_rule=lambda transient: 100 if transient else 0)
    checks.check_lyapunov_qr(fitted)
    with pytest.raises(HiddenCaseError) as error:
        checks.check_lyapunov_qr(fitted, hidden=True)
    _assert_hidden_message_is_clean(error)


def test_qr_fitted_to_the_visible_dimensions_fails_a_hidden_case():
    def two_or_three(jacobians, transient=0):
        if np.shape(jacobians)[1] in (2, 3):
            return qr_reference(jacobians, transient)
        return np.zeros(np.shape(jacobians)[1])

    checks.check_lyapunov_qr(two_or_three)
    with pytest.raises(HiddenCaseError) as error:
        checks.check_lyapunov_qr(two_or_three, hidden=True)
    _assert_hidden_message_is_clean(error)


# ---- the three parts of the checks: cases, probe, judge ---------------------------------

import inspect  # noqa: E402

from course_utils.checks import henon as henon_checks  # noqa: E402
from course_utils.checks.framework import run_check  # noqa: E402

from tests.checks.support import graded, judged_without_tensorflow  # noqa: E402

SALTS = [1, 2, 3, 17, 99, 2024, 31337, 987654321]
#: For the other variants that run TensorFlow (slow), fewer salts.
FEW_SALTS = SALTS[:3]

CELL_STEPS = [cell_stack, cell_concat, cell_matrix, cell_transpose]
JACOBIAN_VARIANTS = [jac_reference, jac_stack, jac_loop, jac_tf, jac_broadcast, henon_jacobian]
QR_VARIANTS = [qr_reference, qr_two_loops, qr_signs_fixed, qr_tf,
               lambda J, transient=0: lyapunov_from_jacobians(J, transient=transient)]


@pytest.mark.parametrize("step", CELL_STEPS + [None],
                         ids=[s.__name__ for s in CELL_STEPS] + ["HenonCell"])
def test_correct_cells_pass_hidden_cases_with_any_salt(tf, step, capsys):
    if step is None:
        from course_utils.keras_cells import HenonCell as Cell
    else:
        Cell = _cell_class(tf, step)
    salts = SALTS if step is cell_stack else FEW_SALTS  # the notebook's solution: all
    for salt in salts:
        run_check(henon_checks.HENON_CELL, (Cell,), hidden=True, salt=salt)
    assert capsys.readouterr().out.count("\u2713 HenonCell") == len(salts)


@pytest.mark.parametrize("fn", JACOBIAN_VARIANTS + QR_VARIANTS,
                         ids=[f.__name__ for f in JACOBIAN_VARIANTS + QR_VARIANTS])
def test_correct_functions_pass_hidden_cases_with_any_salt(fn, capsys):
    check = (henon_checks.HENON_JACOBIAN if fn in JACOBIAN_VARIANTS
             else henon_checks.LYAPUNOV_QR)
    salts = FEW_SALTS if fn is qr_tf else SALTS
    for salt in salts:
        run_check(check, (fn,), hidden=True, salt=salt)
    assert capsys.readouterr().out.count("\u2713") == len(salts)


def test_the_parameters_a_and_b_reach_the_cases():
    cases = henon_checks.HENON_CELL.cases(True, None, a=1.3, b=0.2)
    assert [(c.params["a"], c.params["b"]) for c in cases] == [
        (1.3, 0.2), (1.2, 0.4), (1.3, 0.2), (1.05, -0.35), (1.3, 0.2), (1.25, 0.2)]
    assert [c.params.get("other") for c in cases[:2]] == [False, True]
    # the second visible pair is the checked one: not "another" pair
    cases = henon_checks.HENON_JACOBIAN.cases(False, None, a=1.2, b=0.4)
    assert [c.params["other"] for c in cases] == [False, False]


def test_visible_inputs_are_unchanged():
    for check in (henon_checks.HENON_CELL, henon_checks.HENON_JACOBIAN):
        for case in check.cases(False, None):
            np.testing.assert_array_equal(henon_checks._cell_states(case),
                                          henon_checks._STATES)
    cases = henon_checks.LYAPUNOV_QR.cases(False, None)
    np.testing.assert_array_equal(henon_checks._qr_inputs(cases[0]),
                                  np.broadcast_to(np.diag([0.5, -2.0, 1.0]), (50, 3, 3)))
    orbit = henon_jacobian(henon_orbit([0.1, 0.1], 600, transient=100))
    for case in cases[1:]:
        np.testing.assert_array_equal(henon_checks._qr_inputs(case), orbit)
    assert [c.params["transient"] for c in cases] == [None, 0, 100]


def test_hidden_inputs_are_fair_for_any_salt():
    """Every state away from x = 0 (where a drops out); every run's orbit bounded, although
    the probe never computes it; every QR input finite and far from singular."""
    for salt in range(300):
        for check in (henon_checks.HENON_CELL, henon_checks.HENON_JACOBIAN):
            for case in [c for c in check.cases(True, salt) if c.hidden]:
                states = henon_checks._cell_states(case)
                assert states.shape == (case.params["states"]["batch"], 2)
                assert np.abs(states[:, 0]).min() >= 0.05, (salt, case.label)
                if case.params.get("kind") == "graph":
                    orbit = henon_orbit(states, case.params["n_steps"] + 1,
                                        case.params["a"], case.params["b"])
                    assert np.abs(orbit).max() < 1.5, (salt, case.label)
        for case in [c for c in henon_checks.LYAPUNOV_QR.cases(True, salt) if c.hidden]:
            J = henon_checks._qr_inputs(case)
            assert np.all(np.isfinite(J)), (salt, case.label)
            assert np.linalg.svd(J, compute_uv=False).min() > 1e-3, (salt, case.label)
            np.testing.assert_array_equal(J, henon_checks._qr_inputs(case))


def test_error_gist_survives_a_long_traceback():
    """Keras's bold line may come after a long "in user code" traceback: the probe keeps
    it, with its codes, within what the observations carry."""
    message = ("in user code:\n\n" + "    File \"/a/long/path.py\", line 1, in f\n" * 80
               + "\x1b[1mCould not convert a symbolic tensor to a NumPy array.\x1b[0m\n\n"
               + "Arguments received ...\n" * 50)
    excerpt = henon_checks._error_excerpt(ValueError(message))
    assert len(excerpt) < 2000
    assert henon_checks._error_text(excerpt) == henon_checks._error_text(message) == (
        "Could not convert a symbolic tensor to a NumPy array.")
    plain = "\n\n  first line of the error\nsecond line"
    assert henon_checks._error_text(henon_checks._error_excerpt(KeyError(plain))) == \
        henon_checks._error_text(str(KeyError(plain)))


#: Everything that computes an expected value: no probe may reach it.
_REFERENCE_NAMES = ["henon_map", "henon_jacobian", "henon_orbit", "lyapunov_from_jacobians",
                    "_qr_variant", "course_utils.lyapunov", "keras_cells", "_first_bad",
                    "expected", "want"]
_PROBES = [henon_checks._probe_cell, henon_checks._probe_step, henon_checks._probe_graph,
           henon_checks._graph_runner, henon_checks._row_jacobian, henon_checks._cell_states,
           henon_checks._uniform_states, henon_checks._error_excerpt, henon_checks._plain,
           henon_checks._tensor, henon_checks._probe_jacobian, henon_checks._probe_qr]


@pytest.mark.parametrize("fn", _PROBES, ids=lambda f: f.__name__)
def test_probes_compute_no_expected_value(fn):
    source = inspect.getsource(fn)
    for name in _REFERENCE_NAMES:
        assert name not in source, (fn.__name__, name)


def test_qr_probe_builds_only_the_inputs():
    """The QR probe's inputs are Jacobians along an orbit (the input of lyapunov_qr); the
    estimate itself is computed only by the judge."""
    source = inspect.getsource(henon_checks._qr_inputs)
    assert "lyapunov_from_jacobians" not in source and "_qr_variant" not in source
    for case in henon_checks.LYAPUNOV_QR.cases(True, 3):
        assert set(henon_checks._probe_qr(case, lambda J, transient=0: None)) == {"got"}


def test_probe_observations_hold_no_expected_value(tf):
    """The cell's observations: what the student's code returned, its attributes, the
    tape's Jacobian of its output, the run through keras.layers.RNN."""
    Cell = _cell_class(tf, cell_stack)
    for case in henon_checks.HENON_CELL.cases(True, 7):
        seen = henon_checks.HENON_CELL.probe(case, Cell)
        if case.params["kind"] == "step":
            assert set(seen) == {"is_class", "cell", "state_size", "output_size", "result",
                                 "output_tensor", "next_tensor", "output_dtype",
                                 "next_dtype", "jacobian", "compute_dtype_differs"}
        else:
            assert set(seen) == {"is_class", "cell", "rnn", "graph", "Z", "D"}
    for case in henon_checks.HENON_JACOBIAN.cases(True, 7):
        seen = henon_checks.HENON_JACOBIAN.probe(case, lambda z, a, b: None)
        assert set(seen) == {"got", "z"} and seen["got"] is None


def test_judges_need_no_tensorflow(tf, tmp_path):
    runs = [(henon_checks.HENON_CELL, _cell_class(tf, cell_stack)),
            (henon_checks.HENON_CELL, _cell_class(tf, cell_python_if)),
            (henon_checks.HENON_CELL, _cell_class(tf, cell_numpy_on_the_side)),
            (henon_checks.HENON_CELL, _cell_class(tf, cell_np_stack)),
            (henon_checks.HENON_JACOBIAN, jac_tf),
            (henon_checks.HENON_JACOBIAN, lambda z, a, b: _tf_float32(jac_tf(z, a, b))),
            (henon_checks.LYAPUNOV_QR, qr_tf),
            (henon_checks.LYAPUNOV_QR,
             lambda J, transient=0: tf.constant(qr_reference(J, transient)))]
    results = judged_without_tensorflow("course_utils.checks.henon", runs, tmp_path)
    passed = [None] * 6
    assert results[0] == passed
    assert results[1][:2] == [None, None]
    assert re.search(r"inside tf\.function.*Python condition", results[1][2])
    assert re.search(r"inside tf\.function.*Your call uses NumPy on them", results[2][2])
    assert re.search(r"output must be a TensorFlow tensor.*got ndarray", results[3][0])
    assert results[4] == [None] * 4
    assert "dtype float32" in results[5][0]
    assert results[6] == [None] * 5
    assert re.search(r"must return a NumPy array.*got EagerTensor.*TensorFlow tensor",
                     results[7][0])


@pytest.mark.parametrize("step, message", [
    (cell_python_if, r"inside tf\.function.*Python condition"),
    (cell_static_batch, r"inside tf\.function.*batch size is unknown.*TypeError"),
    (lambda tf, s, st: _new(tf, 1.0 - 1.4 * st[0][:, 0] ** 2 + st[0][:, 1],
                            0.3 * st[0][:, 0]), "did you use the cell's own a and b"),
])
def test_graded_messages_are_the_notebooks(tf, step, message):
    with pytest.raises(AssertionError, match=message):
        for case in henon_checks.HENON_CELL.cases(False, None):
            graded(henon_checks.HENON_CELL, case, _cell_class(tf, step))
