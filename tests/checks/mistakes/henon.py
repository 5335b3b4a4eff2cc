"""The typical mistakes of chapter 01 (the Henon map as a Keras RNN cell), written from the
tasks' text."""

from tests.checks.mistakes import overfit, visible

CHAPTER = "01_henon_keras_rnn"

#: Task 1's cell as the template hands it out, with the student's lines of call in {body}
#: and, where the student rewrote it, the def line of __init__ in {init}.
_CELL = '''
# {name}
class HenonCell(keras.layers.Layer):
    """One step of the Hénon map as a Keras RNN cell; the state is z = (x, y)."""

    {init}
        super().__init__(**kwargs)
        self.a, self.b = a, b
        self.state_size = 2   # dimension of z
        self.output_size = 2  # the cell outputs its state

    def call(self, inputs, states):
{body}
'''

_INIT = "def __init__(self, a=1.4, b=0.3, **kwargs):"


def _cell(name: str, body: str, init: str = _INIT) -> str:
    """Task 1's template cell with the student's lines of call ``body`` (indented by 8)."""
    lines = [line.rstrip() for line in body.strip("\n").splitlines()]
    indent = min(len(line) - len(line.lstrip()) for line in lines if line)
    indented = "\n".join(" " * 8 + line[indent:] if line else "" for line in lines)
    return _CELL.format(name=name, body=indented, init=init)


MISTAKES = {
    "task1": [
        visible(r"z_next\[0, 0\] is wrong .*the sign of a x\^2 is wrong", _cell(
            "sign_of_a_x2: x_next = 1 + a x^2 + y", """
            z = states[0]
            x, y = z[:, 0], z[:, 1]
            z_next = tf.stack([1.0 + self.a * x * x + y, self.b * x], axis=1)
            return z_next, [z_next]
            """)),
        visible(r"z_next\[\d, 0\] is wrong .*x and y are swapped: x = z\[:, 0\]", _cell(
            "columns_swapped: y taken from column 0 and x from column 1", """
            z = states[0]
            y, x = z[:, 0], z[:, 1]
            z_next = tf.stack([1.0 - self.a * x * x + y, self.b * x], axis=1)
            return z_next, [z_next]
            """)),
        visible(r"z_next\[0, 1\] is wrong .*takes the x of the state before the step", _cell(
            "new_x_for_y: x updated first, then y_next = b * (the new x)", """
            z = states[0]
            x, y = z[:, 0], z[:, 1]
            x = 1.0 - self.a * x * x + y
            y = self.b * x
            z_next = tf.stack([x, y], axis=1)
            return z_next, [z_next]
            """)),
        visible(r"z_next\[0, 0\] is wrong \(one step of the cell with another a and b\).*"
                r"use the cell's own a and b, self\.a and self\.b", _cell(
            "constants_not_parameters: the classical 1.4 and 0.3 written into call", """
            z = states[0]
            x, y = z[:, 0], z[:, 1]
            z_next = tf.stack([1.0 - 1.4 * x * x + y, 0.3 * x], axis=1)
            return z_next, [z_next]
            """)),
        visible(r"\(one step from z_0 = \(0\.1, 0\.1\), a batch of one state as in the next "
                r"cell\) the output must have shape \(1, 2\); got shape \(2,\)\. A batch may "
                r"hold a single state", _cell(
            "squeezed_batch: tf.split columns, stacked, then squeezed (drops a batch of one)",
            """
            x, y = tf.split(states[0], 2, axis=1)          # (batch, 1) each
            z_next = tf.squeeze(tf.stack([1.0 - self.a * x * x + y, self.b * x], axis=1))
            return z_next, [z_next]
            """)),
        visible(r"Stack the components along axis=1", _cell(
            "stacked_on_axis_0: tf.stack without axis=1 gives shape (2, batch)", """
            z = states[0]
            x, y = z[:, 0], z[:, 1]
            z_next = tf.stack([1.0 - self.a * x * x + y, self.b * x])
            return z_next, [z_next]
            """)),
        visible(r"the cell raised InvalidArgumentError .*a dtype error.*float32", _cell(
            "float32_constant: tf.constant(1.0) is float32, the states are float64", """
            z = states[0]
            x, y = z[:, 0], z[:, 1]
            z_next = tf.stack([tf.constant(1.0) - self.a * x * x + y, self.b * x], axis=1)
            return z_next, [z_next]
            """)),
        visible(r"output has dtype float32, not float64", _cell(
            "cast_to_float32: the state cast to float32 'to save memory'", """
            z = tf.cast(states[0], tf.float32)
            x, y = z[:, 0], z[:, 1]
            z_next = tf.stack([1.0 - self.a * x * x + y, self.b * x], axis=1)
            return z_next, [z_next]
            """)),
        visible(r"z_next\[0, 0\] is wrong .*to about 7 digits only, the precision of "
                r"float32", _cell(
            "float32_inside: computed in float32 and cast back to the states' dtype", """
            z = tf.cast(states[0], tf.float32)
            x, y = z[:, 0], z[:, 1]
            z_next = tf.stack([1.0 - self.a * x * x + y, self.b * x], axis=1)
            z_next = tf.cast(z_next, states[0].dtype)
            return z_next, [z_next]
            """)),
        visible(r"the cell's output must be a TensorFlow tensor.*got ndarray", _cell(
            "numpy_stack: np.stack on the state's columns", """
            z = states[0]
            x, y = z[:, 0], z[:, 1]
            z_next = np.stack([1.0 - self.a * x * x + y, self.b * x], axis=1)
            return z_next, [z_next]
            """)),
        visible(r"GradientTape finds no derivative", _cell(
            "numpy_values: the columns taken out as NumPy arrays, stacked back by tf.stack",
            """
            z = states[0].numpy()
            x, y = z[:, 0], z[:, 1]
            z_next = tf.stack([1.0 - self.a * x * x + y, self.b * x], axis=1)
            return z_next, [z_next]
            """)),
        visible(r"z_next\[0, 0\] is wrong .*the output is the state before the step", _cell(
            "outputs_old_state: the state before the step returned as the output", """
            z = states[0]
            x, y = z[:, 0], z[:, 1]
            z_next = tf.stack([1.0 - self.a * x * x + y, self.b * x], axis=1)
            return z, [z_next]
            """)),
        visible(r"must be a list holding the next state", _cell(
            "state_not_in_list: the next state returned bare, not as [z_next]", """
            z = states[0]
            x, y = z[:, 0], z[:, 1]
            z_next = tf.stack([1.0 - self.a * x * x + y, self.b * x], axis=1)
            return z_next, z_next
            """)),
        visible(r"raised .* on states \[z\].*The state is states\[0\]", _cell(
            "state_from_inputs: z taken from inputs, the dummy input sequence's step", """
            x, y = inputs[:, 0], inputs[:, 1]
            z_next = tf.stack([1.0 - self.a * x * x + y, self.b * x], axis=1)
            return z_next, [z_next]
            """)),
        visible(r"inside tf\.function.*Python condition", _cell(
            "python_if_guard: a Python if on the state's values against divergence", """
            z = states[0]
            if tf.reduce_max(tf.abs(z)) > 1e3:
                z = tf.zeros_like(z)
            x, y = z[:, 0], z[:, 1]
            z_next = tf.stack([1.0 - self.a * x * x + y, self.b * x], axis=1)
            return z_next, [z_next]
            """)),
        visible(r"inside tf\.function.*batch size is unknown", _cell(
            "static_batch_ones: tf.ones(z.shape[0]) for the constant 1", """
            z = states[0]
            x, y = z[:, 0], z[:, 1]
            one = tf.ones(z.shape[0], dtype=z.dtype)
            z_next = tf.stack([one - self.a * x * x + y, self.b * x], axis=1)
            return z_next, [z_next]
            """)),
        visible(r"HenonCell\(\) raised TypeError without arguments.*keep the defaults", _cell(
            "no_defaults: a and b made required arguments of __init__", """
            z = states[0]
            x, y = z[:, 0], z[:, 1]
            z_next = tf.stack([1.0 - self.a * x * x + y, self.b * x], axis=1)
            return z_next, [z_next]
            """, init="def __init__(self, a, b, **kwargs):")),
        visible(r"Z\[0, 0, 0\] is wrong \(HenonCell\(\) through keras\.layers\.RNN in "
                r"tf\.function\)"
                r".*are the defaults of __init__ a=1\.4, b=0\.3", _cell(
            "swapped_defaults: the defaults of __init__ written as a=0.3, b=1.4", """
            z = states[0]
            x, y = z[:, 0], z[:, 1]
            z_next = tf.stack([1.0 - self.a * x * x + y, self.b * x], axis=1)
            return z_next, [z_next]
            """, init="def __init__(self, a=0.3, b=1.4, **kwargs):")),
        overfit(_cell(
            "parameters_looked_up: a and b taken from a table of the visible pairs, "
            "1.4 and 0.3 for any other", """
            known = {(1.4, 0.3): (1.4, 0.3), (1.2, 0.4): (1.2, 0.4)}
            a, b = known.get((self.a, self.b), (1.4, 0.3))
            z = states[0]
            x, y = z[:, 0], z[:, 1]
            z_next = tf.stack([1.0 - a * x * x + y, b * x], axis=1)
            return z_next, [z_next]
            """)),
    ],
    "task2": [
        visible(r"J\[0, 0, 0\] is wrong .*the sign is wrong; x_next = 1 - a x\^2 \+ y", '''
# sign_flipped: dx'/dx written as +2 a x
def henon_jacobian(z, a=1.4, b=0.3):
    """Analytic Jacobians of the Hénon map at the states z (shape (T, 2)) -> (T, 2, 2)."""
    z = np.asarray(z, dtype=np.float64)
    J = np.zeros((len(z), 2, 2))
    J[:, 0, 0] = 2.0 * a * z[:, 0]
    J[:, 0, 1] = 1.0
    J[:, 1, 0] = b
    return J
'''),
        visible(r"J\[0, 0, 0\] is wrong .*the derivative of a x\^2 is 2 a x, so", '''
# factor_two_missing: dx'/dx written as -a x
def henon_jacobian(z, a=1.4, b=0.3):
    """Analytic Jacobians of the Hénon map at the states z (shape (T, 2)) -> (T, 2, 2)."""
    z = np.asarray(z, dtype=np.float64)
    J = np.zeros((len(z), 2, 2))
    J[:, 0, 0] = -a * z[:, 0]
    J[:, 0, 1] = 1.0
    J[:, 1, 0] = b
    return J
'''),
        visible(r"J\[\d, 0, 0\] is wrong .*derivative by x = z\[:, 0\], not by y", '''
# y_column: the second column of z taken as x
def henon_jacobian(z, a=1.4, b=0.3):
    """Analytic Jacobians of the Hénon map at the states z (shape (T, 2)) -> (T, 2, 2)."""
    z = np.asarray(z, dtype=np.float64)
    J = np.zeros((len(z), 2, 2))
    J[:, 0, 0] = -2.0 * a * z[:, 1]
    J[:, 0, 1] = 1.0
    J[:, 1, 0] = b
    return J
'''),
        visible(r"you returned the transposes", '''
# transposed: column i holds the derivatives of the i-th component
def henon_jacobian(z, a=1.4, b=0.3):
    """Analytic Jacobians of the Hénon map at the states z (shape (T, 2)) -> (T, 2, 2)."""
    z = np.asarray(z, dtype=np.float64)
    J = np.zeros((len(z), 2, 2))
    J[:, 0, 0] = -2.0 * a * z[:, 0]
    J[:, 1, 0] = 1.0
    J[:, 0, 1] = b
    return J
'''),
        visible(r"J\[0, 0, 0\] is wrong \(the Jacobians with another a and b\).*"
                r"use the arguments a and b, not the numbers 1\.4 and 0\.3", '''
# constants_not_arguments: the classical 1.4 and 0.3 written in
def henon_jacobian(z, a=1.4, b=0.3):
    """Analytic Jacobians of the Hénon map at the states z (shape (T, 2)) -> (T, 2, 2)."""
    z = np.asarray(z, dtype=np.float64)
    J = np.zeros((len(z), 2, 2))
    J[:, 0, 0] = -2.8 * z[:, 0]
    J[:, 0, 1] = 1.0
    J[:, 1, 0] = 0.3
    return J
'''),
        visible(r"J\[0, 1, 0\] is wrong .*linear in x, so dy'/dx = b, a constant", '''
# b_times_x: dy'/dx written as b x, the map's component rather than its derivative
def henon_jacobian(z, a=1.4, b=0.3):
    """Analytic Jacobians of the Hénon map at the states z (shape (T, 2)) -> (T, 2, 2)."""
    z = np.asarray(z, dtype=np.float64)
    J = np.zeros((len(z), 2, 2))
    J[:, 0, 0] = -2.0 * a * z[:, 0]
    J[:, 0, 1] = 1.0
    J[:, 1, 0] = b * z[:, 0]
    return J
'''),
        visible(r"henon_jacobian's result has the integer dtype int64", '''
# integer_array: the result array created with dtype=int
def henon_jacobian(z, a=1.4, b=0.3):
    """Analytic Jacobians of the Hénon map at the states z (shape (T, 2)) -> (T, 2, 2)."""
    z = np.asarray(z, dtype=np.float64)
    J = np.zeros((len(z), 2, 2), dtype=int)
    J[:, 0, 0] = -2.0 * a * z[:, 0]
    J[:, 0, 1] = 1
    J[:, 1, 0] = b
    return J
'''),
        visible(r"henon_jacobian's result has dtype float32, not float64", '''
# float32_array: the result array created in float32
def henon_jacobian(z, a=1.4, b=0.3):
    """Analytic Jacobians of the Hénon map at the states z (shape (T, 2)) -> (T, 2, 2)."""
    z = np.asarray(z, dtype=np.float64)
    J = np.zeros((len(z), 2, 2), dtype=np.float32)
    J[:, 0, 0] = -2.0 * a * z[:, 0]
    J[:, 0, 1] = 1.0
    J[:, 1, 0] = b
    return J
'''),
        visible(r"J\[0, 0, 0\] is wrong .*to about 7 digits only, the precision of float32", '''
# float32_states: the states read as float32, the result float64
def henon_jacobian(z, a=1.4, b=0.3):
    """Analytic Jacobians of the Hénon map at the states z (shape (T, 2)) -> (T, 2, 2)."""
    z = np.asarray(z, dtype=np.float32)
    J = np.zeros((len(z), 2, 2))
    J[:, 0, 0] = -2.0 * a * z[:, 0]
    J[:, 0, 1] = 1.0
    J[:, 1, 0] = b
    return J
'''),
        visible(r"changed its input z in place", '''
# scaled_in_place: the x column of the caller's array scaled by -2 a
def henon_jacobian(z, a=1.4, b=0.3):
    """Analytic Jacobians of the Hénon map at the states z (shape (T, 2)) -> (T, 2, 2)."""
    z = np.asarray(z, dtype=np.float64)
    z[:, 0] *= -2.0 * a
    J = np.zeros((len(z), 2, 2))
    J[:, 0, 0] = z[:, 0]
    J[:, 0, 1] = 1.0
    J[:, 1, 0] = b
    return J
'''),
        visible(r"must have shape \(4, 2, 2\), one 2 x 2 matrix per state; got shape "
                r"\(2, 2, 4\)", '''
# batch_axis_last: the blocks stacked into (2, 2, T)
def henon_jacobian(z, a=1.4, b=0.3):
    """Analytic Jacobians of the Hénon map at the states z (shape (T, 2)) -> (T, 2, 2)."""
    z = np.asarray(z, dtype=np.float64)
    x = z[:, 0]
    return np.array([[-2.0 * a * x, np.ones_like(x)], [b * np.ones_like(x), np.zeros_like(x)]])
'''),
        visible(r"henon_jacobian\(z, a, b\) raised ValueError|"
                r"henon_jacobian\(z\) raised ValueError for states z of shape \(7, 2\)", '''
# four_states: the result allocated for the 4 states of the first check
def henon_jacobian(z, a=1.4, b=0.3):
    """Analytic Jacobians of the Hénon map at the states z (shape (T, 2)) -> (T, 2, 2)."""
    z = np.asarray(z, dtype=np.float64)
    J = np.zeros((4, 2, 2))
    J[:, 0, 0] = -2.0 * a * z[:, 0]
    J[:, 0, 1] = 1.0
    J[:, 1, 0] = b
    return J
'''),
        visible(r"henon_jacobian\(z\) raised TypeError.*keep the defaults", '''
# no_defaults: a and b made required arguments
def henon_jacobian(z, a, b):
    """Analytic Jacobians of the Hénon map at the states z (shape (T, 2)) -> (T, 2, 2)."""
    z = np.asarray(z, dtype=np.float64)
    J = np.zeros((len(z), 2, 2))
    J[:, 0, 0] = -2.0 * a * z[:, 0]
    J[:, 0, 1] = 1.0
    J[:, 1, 0] = b
    return J
'''),
        visible(r"J\[0, 1, 1\] is wrong \(the Jacobians at 4 states\): expected 0\.0, got nan\. "
                r"J\[0, 1, 1\] differs between two calls with the same input.*never written "
                r"\(np\.empty leaves the memory as it was\).*np\.zeros", '''
# empty_unwritten: np.empty, and dy'/dy = 0 never written ("it is zero anyway")
def henon_jacobian(z, a=1.4, b=0.3):
    """Analytic Jacobians of the Hénon map at the states z (shape (T, 2)) -> (T, 2, 2)."""
    z = np.asarray(z, dtype=np.float64)
    J = np.empty((len(z), 2, 2))
    J[:, 0, 0] = -2.0 * a * z[:, 0]
    J[:, 0, 1] = 1.0
    J[:, 1, 0] = b
    return J
'''),
        overfit('''
# parameters_looked_up: a and b taken from a table of the visible pairs, 1.4 and 0.3 else
def henon_jacobian(z, a=1.4, b=0.3):
    """Analytic Jacobians of the Hénon map at the states z (shape (T, 2)) -> (T, 2, 2)."""
    z = np.asarray(z, dtype=np.float64)
    a, b = {(1.4, 0.3): (1.4, 0.3), (1.2, 0.4): (1.2, 0.4)}.get((a, b), (1.4, 0.3))
    J = np.zeros((len(z), 2, 2))
    J[:, 0, 0] = -2.0 * a * z[:, 0]
    J[:, 0, 1] = 1.0
    J[:, 1, 0] = b
    return J
'''),
    ],
    "task3": [
        visible(r"lam\[\d\] is wrong .*got nan\. The log of a negative diagonal entry", '''
# no_abs: the log of diag R taken without the absolute value
def lyapunov_qr(jacobians, transient=0):
    """Lyapunov exponents (per step, natural log, descending) from Jacobians (T, d, d)."""
    jacobians = np.asarray(jacobians, dtype=np.float64)
    T, d, _ = jacobians.shape
    Q = np.eye(d)
    log_stretch = np.zeros(d)
    for t in range(T):
        Q, R = np.linalg.qr(jacobians[t] @ Q)
        if t >= transient:
            log_stretch += np.log(np.diag(R))
    return np.sort(log_stretch / (T - transient))[::-1]
'''),
        visible(r"lam\[0\] is wrong \(a constant diagonal map\).*Sort the exponents in "
                r"descending order", '''
# ascending: np.sort alone, smallest exponent first
def lyapunov_qr(jacobians, transient=0):
    """Lyapunov exponents (per step, natural log, descending) from Jacobians (T, d, d)."""
    jacobians = np.asarray(jacobians, dtype=np.float64)
    T, d, _ = jacobians.shape
    Q = np.eye(d)
    log_stretch = np.zeros(d)
    for t in range(T):
        Q, R = np.linalg.qr(jacobians[t] @ Q)
        if t >= transient:
            log_stretch += np.log(np.abs(np.diag(R)))
    return np.sort(log_stretch / (T - transient))
'''),
        visible(r"lam\[0\] is wrong \(a constant diagonal map\).*Use the natural log", '''
# log10: the stretchings in decimal logs
def lyapunov_qr(jacobians, transient=0):
    """Lyapunov exponents (per step, natural log, descending) from Jacobians (T, d, d)."""
    jacobians = np.asarray(jacobians, dtype=np.float64)
    T, d, _ = jacobians.shape
    Q = np.eye(d)
    log_stretch = np.zeros(d)
    for t in range(T):
        Q, R = np.linalg.qr(jacobians[t] @ Q)
        if t >= transient:
            log_stretch += np.log10(np.abs(np.diag(R)))
    return np.sort(log_stretch / (T - transient))[::-1]
'''),
        visible(r"lam\[0\] is wrong \(a constant diagonal map\).*Divide the summed logs", '''
# not_averaged: the summed logs returned without dividing by the number of steps
def lyapunov_qr(jacobians, transient=0):
    """Lyapunov exponents (per step, natural log, descending) from Jacobians (T, d, d)."""
    jacobians = np.asarray(jacobians, dtype=np.float64)
    T, d, _ = jacobians.shape
    Q = np.eye(d)
    log_stretch = np.zeros(d)
    for t in range(T):
        Q, R = np.linalg.qr(jacobians[t] @ Q)
        if t >= transient:
            log_stretch += np.log(np.abs(np.diag(R)))
    return np.sort(log_stretch)[::-1]
'''),
        visible(r"lam\[0\] is wrong \(a Henon orbit\).*Your R is that of each Jacobian alone",
                '''
# frame_not_carried: the QR of each Jacobian on its own
def lyapunov_qr(jacobians, transient=0):
    """Lyapunov exponents (per step, natural log, descending) from Jacobians (T, d, d)."""
    jacobians = np.asarray(jacobians, dtype=np.float64)
    T, d, _ = jacobians.shape
    log_stretch = np.zeros(d)
    for t in range(T):
        Q, R = np.linalg.qr(jacobians[t])
        if t >= transient:
            log_stretch += np.log(np.abs(np.diag(R)))
    return np.sort(log_stretch / (T - transient))[::-1]
'''),
        visible(r"lam\[0\] is wrong \(a Henon orbit\).*or from Q @ J_t, which has the same R",
                '''
# frame_on_the_left: Q @ J_t instead of J_t @ Q
def lyapunov_qr(jacobians, transient=0):
    """Lyapunov exponents (per step, natural log, descending) from Jacobians (T, d, d)."""
    jacobians = np.asarray(jacobians, dtype=np.float64)
    T, d, _ = jacobians.shape
    Q = np.eye(d)
    log_stretch = np.zeros(d)
    for t in range(T):
        Q, R = np.linalg.qr(Q @ jacobians[t])
        if t >= transient:
            log_stretch += np.log(np.abs(np.diag(R)))
    return np.sort(log_stretch / (T - transient))[::-1]
'''),
        visible(r"lam\[0\] is wrong \(a Henon orbit with a transient\).*With transient=100, "
                r"leave the first 100 steps out", '''
# transient_ignored: every step summed, the transient argument unused
def lyapunov_qr(jacobians, transient=0):
    """Lyapunov exponents (per step, natural log, descending) from Jacobians (T, d, d)."""
    jacobians = np.asarray(jacobians, dtype=np.float64)
    T, d, _ = jacobians.shape
    Q = np.eye(d)
    log_stretch = np.zeros(d)
    for t in range(T):
        Q, R = np.linalg.qr(jacobians[t] @ Q)
        log_stretch += np.log(np.abs(np.diag(R)))
    return np.sort(log_stretch / T)[::-1]
'''),
        visible(r"lam\[0\] is wrong \(a Henon orbit with a transient\).*must still evolve Q",
                '''
# transient_cut_off: the transient's Jacobians dropped, the frame starts again from I
def lyapunov_qr(jacobians, transient=0):
    """Lyapunov exponents (per step, natural log, descending) from Jacobians (T, d, d)."""
    jacobians = np.asarray(jacobians, dtype=np.float64)
    T, d, _ = jacobians.shape
    Q = np.eye(d)
    log_stretch = np.zeros(d)
    for t in range(transient, T):
        Q, R = np.linalg.qr(jacobians[t] @ Q)
        log_stretch += np.log(np.abs(np.diag(R)))
    return np.sort(log_stretch / (T - transient))[::-1]
'''),
        visible(r"lam\[0\] is wrong \(a Henon orbit with a transient\).*Divide the sum by "
                r"the number of steps summed, T - transient = 500, not by T = 600", '''
# divided_by_T: the steps after the transient summed, but divided by all T
def lyapunov_qr(jacobians, transient=0):
    """Lyapunov exponents (per step, natural log, descending) from Jacobians (T, d, d)."""
    jacobians = np.asarray(jacobians, dtype=np.float64)
    T, d, _ = jacobians.shape
    Q = np.eye(d)
    log_stretch = np.zeros(d)
    for t in range(T):
        Q, R = np.linalg.qr(jacobians[t] @ Q)
        if t >= transient:
            log_stretch += np.log(np.abs(np.diag(R)))
    return np.sort(log_stretch / T)[::-1]
'''),
        visible(r"lam\[\d\] is wrong \(a constant diagonal map\).*The sum begins one step late", '''
# one_step_late: t > transient, so the first counted step is left out
def lyapunov_qr(jacobians, transient=0):
    """Lyapunov exponents (per step, natural log, descending) from Jacobians (T, d, d)."""
    jacobians = np.asarray(jacobians, dtype=np.float64)
    T, d, _ = jacobians.shape
    Q = np.eye(d)
    log_stretch = np.zeros(d)
    for t in range(T):
        Q, R = np.linalg.qr(jacobians[t] @ Q)
        if t > transient:
            log_stretch += np.log(np.abs(np.diag(R)))
    return np.sort(log_stretch / (T - transient))[::-1]
'''),
        visible(r"lyapunov_qr\(jacobians\) raised ValueError for jacobians of shape "
                r"\(50, 3, 3\).*does your code assume d = 2", '''
# two_dimensional_only: the frame and the sums sized for the Henon map, d = 2
def lyapunov_qr(jacobians, transient=0):
    """Lyapunov exponents (per step, natural log, descending) from Jacobians (T, d, d)."""
    jacobians = np.asarray(jacobians, dtype=np.float64)
    T, d, _ = jacobians.shape
    Q = np.eye(2)
    log_stretch = np.zeros(2)
    for t in range(T):
        Q, R = np.linalg.qr(jacobians[t] @ Q)
        if t >= transient:
            log_stretch += np.log(np.abs(np.diag(R)))
    return np.sort(log_stretch / (T - transient))[::-1]
'''),
        visible(r"lam\[1\] is wrong \(a Henon orbit\): expected -1\.6\d*, got -inf\. An "
                r"exponent of \+-inf.*underflowed", '''
# product_of_stretchings: |diag R| multiplied up over the steps, one log at the end
def lyapunov_qr(jacobians, transient=0):
    """Lyapunov exponents (per step, natural log, descending) from Jacobians (T, d, d)."""
    jacobians = np.asarray(jacobians, dtype=np.float64)
    T, d, _ = jacobians.shape
    Q = np.eye(d)
    stretch = np.ones(d)
    for t in range(T):
        Q, R = np.linalg.qr(jacobians[t] @ Q)
        if t >= transient:
            stretch *= np.abs(np.diag(R))
    with np.errstate(divide="ignore"):
        return np.sort(np.log(stretch) / (T - transient))[::-1]
'''),
        visible(r"lam\[1\] is wrong \(a Henon orbit\).*the contracting direction was lost", '''
# product_then_qr: the Jacobians multiplied out, one QR of the product at the end
def lyapunov_qr(jacobians, transient=0):
    """Lyapunov exponents (per step, natural log, descending) from Jacobians (T, d, d)."""
    jacobians = np.asarray(jacobians, dtype=np.float64)
    T, d, _ = jacobians.shape
    P = np.eye(d)
    for t in range(transient, T):
        P = jacobians[t] @ P
    Q, R = np.linalg.qr(P)
    return np.sort(np.log(np.abs(np.diag(R))) / (T - transient))[::-1]
'''),
        visible(r"lyapunov_qr changed its input jacobians in place", '''
# product_stored_in_input: each J_t @ Q written back into the caller's array
def lyapunov_qr(jacobians, transient=0):
    """Lyapunov exponents (per step, natural log, descending) from Jacobians (T, d, d)."""
    jacobians = np.asarray(jacobians, dtype=np.float64)
    T, d, _ = jacobians.shape
    Q = np.eye(d)
    log_stretch = np.zeros(d)
    for t in range(T):
        jacobians[t] = jacobians[t] @ Q
        Q, R = np.linalg.qr(jacobians[t])
        if t >= transient:
            log_stretch += np.log(np.abs(np.diag(R)))
    return np.sort(log_stretch / (T - transient))[::-1]
'''),
        visible(r"lam\[1\] is wrong \(a Henon orbit\).*to about 7 digits only, the "
                r"precision of float32", '''
# float32_jacobians: the template's conversion changed to float32, the rest in float64
def lyapunov_qr(jacobians, transient=0):
    """Lyapunov exponents (per step, natural log, descending) from Jacobians (T, d, d)."""
    jacobians = np.asarray(jacobians, dtype=np.float32)
    T, d, _ = jacobians.shape
    Q = np.eye(d)
    log_stretch = np.zeros(d)
    for t in range(T):
        Q, R = np.linalg.qr(jacobians[t] @ Q)
        if t >= transient:
            log_stretch += np.log(np.abs(np.diag(R)))
    return np.sort(log_stretch / (T - transient))[::-1]
'''),
        visible(r"lyapunov_qr's result has dtype float32, not float64", '''
# float32_throughout: Jacobians, frame and sums in float32
def lyapunov_qr(jacobians, transient=0):
    """Lyapunov exponents (per step, natural log, descending) from Jacobians (T, d, d)."""
    jacobians = np.asarray(jacobians, dtype=np.float32)
    T, d, _ = jacobians.shape
    Q = np.eye(d, dtype=np.float32)
    log_stretch = np.zeros(d, dtype=np.float32)
    for t in range(T):
        Q, R = np.linalg.qr(jacobians[t] @ Q)
        if t >= transient:
            log_stretch += np.log(np.abs(np.diag(R)))
    return np.sort(log_stretch / (T - transient))[::-1]
'''),
        visible(r"must return a NumPy array.*got list.*not sorted\(\)", '''
# sorted_list: sorted(..., reverse=True) returns a list
def lyapunov_qr(jacobians, transient=0):
    """Lyapunov exponents (per step, natural log, descending) from Jacobians (T, d, d)."""
    jacobians = np.asarray(jacobians, dtype=np.float64)
    T, d, _ = jacobians.shape
    Q = np.eye(d)
    log_stretch = np.zeros(d)
    for t in range(T):
        Q, R = np.linalg.qr(jacobians[t] @ Q)
        if t >= transient:
            log_stretch += np.log(np.abs(np.diag(R)))
    return sorted(log_stretch / (T - transient), reverse=True)
'''),
        visible(r"lyapunov_qr\(jacobians, transient=0\) raised TypeError .*unexpected keyword "
                r"argument 'transient'.*Keep the task's def line", '''
# keyword_renamed: the transient argument renamed n_skip
def lyapunov_qr(jacobians, n_skip=0):
    """Lyapunov exponents (per step, natural log, descending) from Jacobians (T, d, d)."""
    jacobians = np.asarray(jacobians, dtype=np.float64)
    T, d, _ = jacobians.shape
    Q = np.eye(d)
    log_stretch = np.zeros(d)
    for t in range(T):
        Q, R = np.linalg.qr(jacobians[t] @ Q)
        if t >= n_skip:
            log_stretch += np.log(np.abs(np.diag(R)))
    return np.sort(log_stretch / (T - n_skip))[::-1]
'''),
        overfit('''
# transient_of_the_notebook: any nonzero transient taken as the notebook's 100
def lyapunov_qr(jacobians, transient=0):
    """Lyapunov exponents (per step, natural log, descending) from Jacobians (T, d, d)."""
    jacobians = np.asarray(jacobians, dtype=np.float64)
    T, d, _ = jacobians.shape
    start = 100 if transient else 0
    Q = np.eye(d)
    log_stretch = np.zeros(d)
    for t in range(T):
        Q, R = np.linalg.qr(jacobians[t] @ Q)
        if t >= start:
            log_stretch += np.log(np.abs(np.diag(R)))
    return np.sort(log_stretch / (T - start))[::-1]
'''),
    ],
}
