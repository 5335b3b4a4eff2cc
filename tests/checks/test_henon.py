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
     r"z_next\[0, 0\] is wrong \(one step of the cell on a batch of 4 states\): expected "
     r"1\.086, got 1\.114\. At the state z\[0\] = \(x, y\) = \[0\.1, 0\.1\] with a = 1\.4, "
     r"b = 0\.3: the sign of a x\^2 is wrong"),
    (lambda tf, s, st: _new(tf, 1.0 - s.a * st[0][:, 0] ** 2 + st[0][:, 1], s.b * st[0][:, 1]),
     r"z_next\[1, 1\] is wrong .*expected 0\.15, got -0\.06\..*y_next = b x, not b y"),
    (lambda tf, s, st: _new(tf, 1.0 - 1.4 * st[0][:, 0] ** 2 + st[0][:, 1], 0.3 * st[0][:, 0]),
     r"z_next\[0, 0\] is wrong \(one step of the cell with another a and b\).*use the "
     r"cell's own a and b, self\.a and self\.b"),
    (lambda tf, s, st: cell_stack(tf, s, st)[0], "must return a pair"),
    (lambda tf, s, st: (cell_stack(tf, s, st)[0],) * 2, "must be a list holding the next state"),
    (lambda tf, s, st: (cell_stack(tf, s, st)[0], st), "the next state must equal the output"),
    (lambda tf, s, st: (lambda n: (n, [n]))(
        tf.stack([1.0 - s.a * st[0][0, 0] ** 2 + st[0][0, 1], s.b * st[0][0, 0]])[None]),
     r"must have shape \(4, 2\)"),
    (lambda tf, s, st: _new(tf, 1.0 - s.a * st[0][:, 0] ** 2 + st[0][:, 1],
                            s.b * (1.0 - s.a * st[0][:, 0] ** 2 + st[0][:, 1])),
     r"z_next\[0, 1\] is wrong .*takes the x of the state before the step"),
    (lambda tf, s, st: _new(tf, 1.0 - s.a * st[0][:, 1] ** 2 + st[0][:, 0], s.b * st[0][:, 1]),
     r"z_next\[1, 0\] is wrong .*x and y are swapped"),
    (lambda tf, s, st: _new(tf, 1.0 - s.a * st[0][:, 0] ** 2, s.b * st[0][:, 0]),
     r"the \+ y is missing"),
    (lambda tf, s, st: _new(tf, 1.0 - (s.a * st[0][:, 0]) ** 2 + st[0][:, 1], s.b * st[0][:, 0]),
     r"a x\^2 is a \* x \* x, not \(a x\)\^2"),
    (lambda tf, s, st: _new(tf, s.b * st[0][:, 0], 1.0 - s.a * st[0][:, 0] ** 2 + st[0][:, 1]),
     r"the components are in the wrong order"),
    (lambda tf, s, st: (st[0], [cell_stack(tf, s, st)[0]]),
     r"the output is the state before the step"),
    (lambda tf, s, st: (lambda n: (n, [n]))(tf.stack([1.0 - s.a * st[0][:, 0] ** 2 + st[0][:, 1],
                                                      s.b * st[0][:, 0]])),
     r"got shape \(2, 4\)\. Stack the components along axis=1"),
    (lambda tf, s, st: (lambda n: (n, [n]))(tf.squeeze(cell_stack(tf, s, st)[0])),
     r"\(one step from z_0 = \(0\.1, 0\.1\), a batch of one state as in the next cell\) the "
     r"output must have shape \(1, 2\); got shape \(2,\)\. A batch may hold a single state"),
    (lambda tf, s, st: (lambda n: (n, [n]))(tf.cast(tf.cast(cell_stack(tf, s, st)[0],
                                                            tf.float32), tf.float64)),
     r"z_next\[0, 0\] is wrong .*to about 7 digits only, the precision of float32"),
    (lambda tf, s, st: _new(tf, tf.constant(1.0) - s.a * st[0][:, 0] ** 2 + st[0][:, 1],
                            s.b * st[0][:, 0]),
     r"the cell raised InvalidArgumentError on states \[z\] with z of shape \(4, 2\), float64 "
     r"\(one step of the cell on a batch of 4 states\): a dtype error, cannot compute Sub .*"
     r"double tensor \[Op:Sub\]\. Keras hands the cell float64 states"),
    (lambda tf, s, st: _new(tf, 1.0 - s.a * st[1][:, 0] ** 2, s.b * st[1][:, 0]),
     r"the cell raised (IndexError|InvalidArgumentError).*The state is states\[0\], a tensor "
     r"of shape \(batch, 2\)"),
    (lambda tf, s, st: (lambda n: (n, [n]))(tf.cast(cell_stack(tf, s, st)[0], tf.float32)),
     "although Keras hands it float64 states"),
    # a tf.stop_gradient: right values, a wrong tape Jacobian (the next cell compares it)
    (lambda tf, s, st: _new(tf, 1.0 - s.a * tf.stop_gradient(st[0][:, 0]) ** 2 + st[0][:, 1],
                            s.b * st[0][:, 0]),
     r"J_tape\[0, 0, 0\] is wrong \(one step of the cell on a batch of 4 states\): expected "
     r"-0\.28, got 0\.0\. The values are right, but GradientTape's Jacobian of the cell .*"
     r"d x_next / d x, is wrong at the state z\[0\] = \(x, y\) = \[0\.1, 0\.1\]"),
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


def test_cell_with_a_fixed_batch_size_fails_the_next_cells_batch_of_one(tf, capsys):
    """tf.ones(4) fits the first visible batch; the next cell's z0 is a batch of one."""
    def fixed_batch(tf, s, states):
        x, y = states[0][:, 0], states[0][:, 1]
        z_next = tf.stack([tf.ones(4, dtype=tf.float64) - s.a * x * x + y, s.b * x], 1)
        return z_next, [z_next]

    with pytest.raises(AssertionError, match=r"the cell raised InvalidArgumentError on states "
                       r"\[z\] with z of shape \(1, 2\).*A batch may hold a single state"):
        checks.check_henon_cell(_cell_class(tf, fixed_batch))
    assert "\u2713" not in capsys.readouterr().out


def test_cell_created_as_the_next_cells_create_it(tf):
    """The run through keras.layers.RNN creates HenonCell() with its defaults, as the next
    cells do: required a and b, or other defaults, are reported."""
    import keras

    def cell_with_init(init):
        class Cell(keras.layers.Layer):
            __init__ = init

            def call(self, inputs, states):
                return cell_stack(tf, self, states)
        return Cell

    def required(self, a, b, **kwargs):
        keras.layers.Layer.__init__(self, **kwargs)
        self.a, self.b, self.state_size, self.output_size = a, b, 2, 2

    def other_defaults(self, a=1.3, b=0.3, **kwargs):
        required(self, a, b, **kwargs)

    with pytest.raises(AssertionError, match=r"HenonCell\(\) raised TypeError without "
                       r"arguments .*keep the defaults of __init__, a=1\.4, b=0\.3"):
        checks.check_henon_cell(cell_with_init(required))
    with pytest.raises(AssertionError, match=r"Z\[0, 0, 0\] is wrong \(HenonCell\(\) through "
                       r"keras\.layers\.RNN in tf\.function\): expected 1\.086, got 1\.087\..*"
                       r"are the defaults of __init__ a=1\.4, b=0\.3\?"):
        checks.check_henon_cell(cell_with_init(other_defaults))
    # with other parameters than the defaults, the run passes them as keywords
    checks.check_henon_cell(cell_with_init(required), a=1.3, b=0.25)


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


def jac_empty(z, a=1.4, b=0.3):
    """np.empty, every entry written."""
    z = np.asarray(z, dtype=np.float64)
    J = np.empty((len(z), 2, 2))
    J[:, 0, 0], J[:, 0, 1] = -2.0 * a * z[:, 0], 1.0
    J[:, 1, 0], J[:, 1, 1] = b, 0.0
    return J


@pytest.mark.parametrize("fn", [jac_reference, jac_stack, jac_loop, jac_tf, jac_broadcast,
                                jac_empty, henon_jacobian])
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
    (_with((0, 0), lambda z, a, b: 2 * a * z[:, 0]),
     r"J\[0, 0, 0\] is wrong \(the Jacobians at 4 states\): expected -0\.28, got 0\.28\. At "
     r"the state z\[0\] = \(x, y\) = \[0\.1, 0\.1\] with a = 1\.4, b = 0\.3: the sign is "
     r"wrong; x_next = 1 - a x\^2 \+ y, so dx'/dx = -2 a x"),
    (_with((0, 0), lambda z, a, b: -a * z[:, 0]),
     r"J\[0, 0, 0\] is wrong .*expected -0\.28, got -0\.14\..*the derivative of a x\^2 is 2 a x"),
    (_with((0, 0), lambda z, a, b: -2 * a * z[:, 1]), r"J\[1, 0, 0\].*not by y"),
    (_with((0, 0), lambda z, a, b: -2 * z[:, 0]), r"J\[0, 0, 0\].*a is missing"),
    (_with((0, 0), lambda z, a, b: -2 * a * z[:, 0] ** 2), r"J\[0, 0, 0\].*J\[t, 0, 0\] is "
     r"dx'/dx = -2 a x$"),
    (_with((0, 1), lambda z, a, b: 0.0), r"J\[0, 0, 1\] is wrong .*dx'/dy = 1"),
    (_with((1, 0), lambda z, a, b: 0.3),
     r"J\[0, 1, 0\] is wrong \(the Jacobians with another a and b\).*use the arguments a and "
     r"b, not the numbers 1\.4 and 0\.3"),
    (_with((1, 0), lambda z, a, b: b * z[:, 0]), r"J\[0, 1, 0\].*linear in x"),
    (_with((0, 0), lambda z, a, b: -2.8 * z[:, 0]), "use the arguments a and b"),
    (_with((1, 1), lambda z, a, b: b), r"J\[0, 1, 1\] is wrong .*dy'/dy = 0"),
    (lambda z, a, b: henon_jacobian(np.asarray(z, dtype=np.float32), a, b),
     r"J\[0, 0, 0\] is wrong .*to about 7 digits only, the precision of float32"),
    (lambda z, a, b: henon_jacobian(z, a, b)[0], r"shape \(4, 2, 2\)"),
    (lambda z, a, b: henon_jacobian(z, a, b).reshape(-1, 4), r"shape \(4, 2, 2\)"),
    (_jac_in_place, "changed its input z in place"),
    (lambda z, a, b: henon_jacobian(z, a, b).tolist() + [[[0.0, 0.0], [0.0, 0.0]]],
     r"must have shape \(4, 2, 2\).*got shape \(5, 2, 2\)"),
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
    (lambda z, a, b: henon_jacobian(z, a, b) * np.nan, r"J\[0, 0, 0\] is wrong .*got nan"),
])
def test_jacobian_results_of_the_wrong_type_get_a_message(fn, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_henon_jacobian(fn)


def _unwritten(entry, temporary=False):
    """np.empty with the entry ``entry`` never written (after a temporary of the result's
    size, which takes the first freed block, if ``temporary``)."""
    def fn(z, a=1.4, b=0.3):
        z = np.asarray(z, dtype=np.float64)
        if temporary:
            scratch = np.empty((len(z), 2, 2))
            scratch[:] = 0.0
        J = np.empty((len(z), 2, 2))
        for (i, j), value in {(0, 0): -2.0 * a * z[:, 0], (0, 1): 1.0, (1, 0): b,
                              (1, 1): 0.0}.items():
            if (i, j) != entry:
                J[:, i, j] = value
        return J
    return fn


@pytest.mark.parametrize("entry", [(1, 1), (0, 1), (0, 0)])
@pytest.mark.parametrize("temporary", [False, True])
def test_jacobian_entries_never_written_are_named(entry, temporary):
    """An entry left as np.empty gave it is found at every run, visibly and in a hidden
    case (a batch of 13, of 1), whatever the memory held before."""
    fn = _unwritten(entry, temporary)
    i, j = entry
    message = (rf"J\[0, {i}, {j}\] is wrong \(the Jacobians at 4 states\): expected "
               rf"-?[\d.]+, got nan\. J\[0, {i}, {j}\] differs between two calls with the "
               r"same input \(nan, then -7\.25\): an entry was never written \(np\.empty "
               r"leaves the memory as it was\): start from np\.zeros")
    for _ in range(20):
        with pytest.raises(AssertionError, match=message):
            checks.check_henon_jacobian(fn)
    for case in henon_checks.HENON_JACOBIAN.cases(True, 5)[3:]:
        seen = henon_checks.HENON_JACOBIAN.probe(case, fn)
        with pytest.raises(AssertionError, match="differs between two calls"):
            henon_checks.HENON_JACOBIAN.judge(case, seen)


def test_jacobian_that_changes_between_calls_is_named():
    """Entries that differ between two calls with the same input (not NaN) are named
    with the value of the call that is wrong."""
    calls = []

    def drifting(z, a=1.4, b=0.3):
        calls.append(1)
        J = henon_jacobian(z, a, b)
        J[:, 1, 1] = 0.0 if len(calls) % 2 else 0.5
        return J

    with pytest.raises(AssertionError, match=r"J\[0, 1, 1\] is wrong \(the Jacobians at 4 "
                       r"states\): expected 0\.0, got 0\.5\. J\[0, 1, 1\] differs between two "
                       r"calls with the same input \(0\.0, then 0\.5\)"):
        checks.check_henon_jacobian(drifting)


def test_jacobian_with_a_fixed_batch_size_fails_visibly():
    """A result sized for the first visible batch fails on the stretch of the notebook's
    orbit, as it would on the notebook's orbit."""
    def four_states(z, a=1.4, b=0.3):
        J = np.zeros((4, 2, 2))
        J[:, 0, 0] = -2.0 * a * np.asarray(z)[:4, 0]
        J[:, 0, 1], J[:, 1, 0] = 1.0, b
        return J

    with pytest.raises(AssertionError, match=r"for states of shape \(7, 2\) the Jacobians must "
                       r"have shape \(7, 2, 2\).*got shape \(4, 2, 2\)"):
        checks.check_henon_jacobian(four_states)


def test_jacobian_is_called_as_the_next_cells_call_it():
    """henon_jacobian(z) without a and b: the defaults must be there, and be 1.4 and 0.3."""
    def required(z, a, b):
        return henon_jacobian(z, a, b)

    def other_defaults(z, a=1.4, b=0.2):
        return henon_jacobian(z, a, b)

    with pytest.raises(AssertionError, match=r"henon_jacobian\(z\) raised TypeError for states "
                       r"z of shape \(7, 2\) .*keep the defaults of the def line, a=1\.4, "
                       r"b=0\.3"):
        checks.check_henon_jacobian(required)
    with pytest.raises(AssertionError, match=r"J\[0, 1, 0\] is wrong \(7 states of an orbit, "
                       r"henon_jacobian\(z\) with the default a and b\): expected 0\.3, got 0\.2"):
        checks.check_henon_jacobian(other_defaults)


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
    (_qr(divide=lambda T, transient: 1), "Divide the summed logs"),
    (_qr(absolute=False), r"lam\[0\] is wrong \(a constant diagonal map\): expected 0\.693147, "
                          r"got nan\. The log of a negative .*absolute value"),
    (_qr(carry=False), "Your R is that of each Jacobian alone"),
    (_qr(left=False), r"Q @ J_t, which has the same R.*from the left onto the current Q"),
    # the transient ignored: averaged over all steps
    (_qr(transient_rule=lambda transient: 0), "transient=100, leave the first 100 steps out"),
    # the transient skipped without evolving Q through it
    (_skip_transient, "must still evolve Q"),
    (_qr(divide=lambda T, transient: T), r"Divide the sum by .*T - transient = 500"),
    # t > transient: one step left out, on the constant map (transient 0) already
    (_qr(transient_rule=lambda transient: transient + 1,
         divide=lambda T, transient: T - transient),
     r"lam\[0\] is wrong \(a constant diagonal map\).*The sum begins one step late"),
    # ... and with the count matched to the steps summed, on the orbit
    (_qr(transient_rule=lambda transient: transient + 1),
     r"lam\[\d\] is wrong \(a Henon orbit\).*The sum begins one step late"),
    # the Jacobians rounded to float32, the rest in float64
    (lambda J, transient=0: qr_reference(np.asarray(J, dtype=np.float32).astype(np.float64),
                                         transient),
     r"lam\[1\] is wrong \(a Henon orbit\).*the precision of float32"),
    (lambda J, transient=0: qr_reference(J, transient)[:1], r"return the 3 exponents, shape"),
])
def test_qr_mistakes_get_specific_messages(fn, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_lyapunov_qr(fn)


def test_qr_wrong_rate_gets_the_general_message():
    with pytest.raises(AssertionError, match=r"^lam\[0\] is wrong \(a Henon orbit\): expected "
                       r"0\.447847, got 0\.447857\. Multiply each new Jacobian onto the current Q"):
        checks.check_lyapunov_qr(lambda J, transient=0: qr_reference(J, transient)
                                 + (len(J) == 600) * 1e-5 * (np.arange(J.shape[1]) == 0))


def test_qr_results_that_overflowed_are_named():
    def product(jacobians, transient=0):
        """The stretchings multiplied, one log at the end: the product underflows."""
        jacobians = np.asarray(jacobians, dtype=np.float64)
        T, d, _ = jacobians.shape
        Q, stretch = np.eye(d), np.ones(d)
        for t in range(T):
            Q, R = np.linalg.qr(jacobians[t] @ Q)
            if t >= transient:
                stretch *= np.abs(np.diag(R))
        with np.errstate(divide="ignore"):
            return np.sort(np.log(stretch) / (T - transient))[::-1]

    with pytest.raises(AssertionError, match=r"lam\[1\] is wrong \(a Henon orbit\): expected "
                       r"-1\.65182, got -inf\. An exponent of \+-inf or NaN: a product over- or "
                       r"underflowed"):
        checks.check_lyapunov_qr(product)


def test_qr_errors_are_reported_with_their_input():
    def eye_two(jacobians, transient=0):
        Q = np.eye(2)
        for J in np.asarray(jacobians):
            Q, R = np.linalg.qr(J @ Q)
        return np.zeros(2)

    with pytest.raises(AssertionError, match=r"^lyapunov_qr\(jacobians\) raised ValueError for "
                       r"jacobians of shape \(50, 3, 3\) \(a constant diagonal map\): matmul.*"
                       r"does your code assume d = 2") as error:
        checks.check_lyapunov_qr(eye_two)
    assert isinstance(error.value.__cause__, ValueError)  # the student's own, attached
    # a hidden case reports the student's exception by its type only
    with pytest.raises(HiddenCaseError, match="your code raised ValueError"):
        checks.check_lyapunov_qr(lambda J, transient=0: qr_reference(J, transient)
                                 if np.shape(J)[1] < 4 else eye_two(J), hidden=True)


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


def test_qr_input_changed_in_place_is_reported():
    def in_place(jacobians, transient=0):
        lam = qr_reference(jacobians, transient)
        jacobians *= 0                          # the notebook's J
        return lam

    with pytest.raises(AssertionError, match="lyapunov_qr changed its input jacobians in place"):
        checks.check_lyapunov_qr(in_place)
    with pytest.raises(HiddenCaseError):
        for case in henon_checks.LYAPUNOV_QR.cases(True, 3):
            if case.hidden:
                judge_shown(henon_checks.LYAPUNOV_QR, case,
                            roundtrip(observe(henon_checks.LYAPUNOV_QR, case, (in_place,))))


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
from course_utils.checks.framework import judge_shown, observe, run_check  # noqa: E402
from course_utils.checks.observations import roundtrip  # noqa: E402

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
        (1.3, 0.2), (1.2, 0.4), (1.3, 0.2), (1.3, 0.2), (1.05, -0.35), (1.3, 0.2), (1.25, 0.2)]
    assert [c.params.get("other") for c in cases[:3]] == [False, True, False]
    # HenonCell() with its defaults only where the pair checked is the notebook's
    assert cases[3].params["defaults"] is False
    assert henon_checks.HENON_CELL.cases(False, None)[3].params["defaults"] is True
    # the second visible pair is the checked one: not "another" pair
    cases = henon_checks.HENON_JACOBIAN.cases(False, None, a=1.2, b=0.4)
    assert [c.params["other"] for c in cases] == [False, False, False]
    # henon_jacobian(z) is checked against the defaults of the notebook's def line
    assert (cases[2].params["a"], cases[2].params["b"], cases[2].params["defaults"]) == (
        1.4, 0.3, True)


def test_visible_inputs_are_unchanged():
    fixed = {"batch": henon_checks._STATES, "single": np.array([[0.1, 0.1]]),
             "orbit": henon_checks._ORBIT_STATES}
    for check, names in ((henon_checks.HENON_CELL, ["batch", "batch", "single", "batch"]),
                         (henon_checks.HENON_JACOBIAN, ["batch", "batch", "orbit"])):
        cases = check.cases(False, None)
        assert len(cases) == len(names)
        for case, name in zip(cases, names):
            np.testing.assert_array_equal(henon_checks._cell_states(case), fixed[name])
    # the stretch of the notebook's orbit from z_0 = (0.1, 0.1), every x away from 0
    np.testing.assert_allclose(henon_checks._ORBIT_STATES, henon_orbit([0.1, 0.1], 7),
                               atol=1e-6)
    assert np.abs(henon_checks._ORBIT_STATES[:, 0]).min() >= 0.05
    # the visible run's orbits stay bounded
    assert np.abs(henon_orbit(henon_checks._STATES, henon_checks._GRAPH_STEPS + 1)).max() < 1.5
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
           henon_checks._tensor, henon_checks._probe_jacobian, henon_checks._dirty_memory,
           henon_checks._probe_qr]


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
        seen = henon_checks._probe_qr(case, lambda J, transient=0: None)
        assert set(seen) == {"got", "jacobians"}
        np.testing.assert_array_equal(seen["jacobians"], henon_checks._qr_inputs(case))


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
        seen = henon_checks.HENON_JACOBIAN.probe(case, lambda z, a=1.4, b=0.3: None)
        assert set(seen) == {"got", "again", "z", "z_again"}
        assert seen["got"] is None and seen["again"] is None


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
    assert results[0] == [None] * 7
    assert results[1][:3] == [None] * 3
    assert re.search(r"inside tf\.function.*Python condition", results[1][3])
    assert re.search(r"inside tf\.function.*Your call uses NumPy on them", results[2][3])
    assert re.search(r"output must be a TensorFlow tensor.*got ndarray", results[3][0])
    assert results[4] == [None] * 5
    assert "dtype float32" in results[5][0]
    assert results[6] == [None] * 5
    assert re.search(r"must return a NumPy array.*got EagerTensor.*TensorFlow tensor",
                     results[7][0])


@pytest.mark.parametrize("step, message", [
    (cell_python_if, r"inside tf\.function.*Python condition"),
    (cell_static_batch, r"inside tf\.function.*batch size is unknown.*TypeError"),
    (lambda tf, s, st: _new(tf, 1.0 - 1.4 * st[0][:, 0] ** 2 + st[0][:, 1],
                            0.3 * st[0][:, 0]), "use the cell's own a and b"),
    (lambda tf, s, st: _new(tf, tf.constant(1.0) - s.a * st[0][:, 0] ** 2 + st[0][:, 1],
                            s.b * st[0][:, 0]),
     r"^the cell raised InvalidArgumentError on states \[z\] .*: a dtype error"),
])
def test_graded_messages_are_the_notebooks(tf, step, message):
    with pytest.raises(AssertionError, match=message):
        for case in henon_checks.HENON_CELL.cases(False, None):
            graded(henon_checks.HENON_CELL, case, _cell_class(tf, step))


def test_the_template_stub_and_limits_stay_as_raised(tf):
    """The unfilled template's NotImplementedError (the grader's "not attempted") and a
    MemoryError (its "memory limit") reach the notebook as raised, not explained away."""
    def stub(tf, self, states):
        raise NotImplementedError("Task 1 (HenonCell.call): your code here")

    with pytest.raises(NotImplementedError, match="your code here"):
        checks.check_henon_cell(_cell_class(tf, stub))

    def out_of_memory(z, a=1.4, b=0.3):
        raise MemoryError()

    with pytest.raises(MemoryError):
        checks.check_henon_jacobian(out_of_memory)


def test_jacobian_that_changes_its_input_on_a_repeated_call_is_reported():
    """The probe calls henon_jacobian twice with the same states; a change in place at the
    second call is seen as well as at the first."""
    calls = {}

    def second_call_writes(z, a=1.4, b=0.3):
        key = (np.asarray(z).tobytes(), a, b)
        calls[key] = calls.get(key, 0) + 1
        x = np.asarray(z, dtype=np.float64)[:, 0].copy()
        J = np.zeros((len(x), 2, 2))
        J[:, 0, 0], J[:, 0, 1], J[:, 1, 0] = -2 * a * x, 1.0, b
        if calls[key] >= 2:
            z[:] = 123.0
        return J

    with pytest.raises(AssertionError, match="changed its input z in place"):
        checks.check_henon_jacobian(second_call_writes)
