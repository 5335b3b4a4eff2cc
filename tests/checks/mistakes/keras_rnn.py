"""The typical mistakes of chapter 02 (the Lyapunov spectrum of a Keras SimpleRNN), written
from the tasks' text."""

from tests.checks.mistakes import overfit, visible

CHAPTER = "02_keras_rnn_lyapunov"

#: Task 2's cell as the template hands it out, with the student's lines in {body}.
_EAGER = '''
# {name}
def lyapunov_spectrum_eager(cell, inputs, h0, k):
    """The k largest exponents per sequence, (B, k), per step, descending: an eager loop."""
    B, T, _ = inputs.shape
    H = h0.shape[1]
    h = tf.constant(h0, dtype=DTYPE)
    Q = tf.eye(H, k, batch_shape=[B], dtype=DTYPE)     # (B, H, k)
    log_sum = tf.zeros((B, k), dtype=DTYPE)
    for t in range(T):
        x = tf.constant(inputs[:, t], dtype=DTYPE)
        J = simple_rnn_jacobian(cell, x, h)             # at the state before the step
        h = cell(x, [h])[0]                              # then take the step
{body}
    return {result}
'''

_RESULT = "-np.sort(-(log_sum / T).numpy(), axis=1)"


def _eager(name: str, body: str, result: str = _RESULT) -> str:
    """Task 2's template cell with the student's loop lines ``body`` (indented by 8) and,
    where the student rewrote it, the return value ``result``."""
    lines = [line.strip() for line in body.strip("\n").splitlines()]
    indented = "\n".join(" " * 8 + line if line else "" for line in lines)
    return _EAGER.format(name=name, body=indented, result=result)


MISTAKES = {
    "task1": [
        visible(r"Your J is transposed", '''
# transposed: recurrent_kernel times diag(tanh'), the transpose of J
def simple_rnn_jacobian(cell, x, h):
    """d h_next / d h of a tanh SimpleRNN cell at (x, h), batched: (B, H, H)."""
    a = x @ cell.kernel + h @ cell.recurrent_kernel + cell.bias
    D = tf.linalg.diag(1.0 - tf.tanh(a) ** 2)
    return cell.recurrent_kernel @ D
'''),
        visible(r"W_h is the transpose of recurrent_kernel", '''
# kernel_not_transposed: diag(tanh') @ recurrent_kernel, as if recurrent_kernel were W_h
def simple_rnn_jacobian(cell, x, h):
    """d h_next / d h of a tanh SimpleRNN cell at (x, h), batched: (B, H, H)."""
    a = tf.matmul(x, cell.kernel) + tf.matmul(h, cell.recurrent_kernel) + cell.bias
    return tf.linalg.diag(1.0 - tf.tanh(a) ** 2) @ cell.recurrent_kernel
'''),
        visible(r"bias is missing from the pre-activation", '''
# no_bias: the pre-activation without the bias
def simple_rnn_jacobian(cell, x, h):
    """d h_next / d h of a tanh SimpleRNN cell at (x, h), batched: (B, H, H)."""
    a = tf.matmul(x, cell.kernel) + tf.matmul(h, cell.recurrent_kernel)
    dphi = 1.0 - tf.tanh(a) ** 2
    return dphi[:, :, None] * tf.transpose(cell.recurrent_kernel)[None, :, :]
'''),
        visible(r"input term is missing from the pre-activation", '''
# no_input: the input does not depend on h, so it was left out of the pre-activation
def simple_rnn_jacobian(cell, x, h):
    """d h_next / d h of a tanh SimpleRNN cell at (x, h), batched: (B, H, H)."""
    a = tf.matmul(h, cell.recurrent_kernel) + cell.bias
    dphi = 1.0 - tf.tanh(a) ** 2
    return dphi[:, :, None] * tf.transpose(cell.recurrent_kernel)[None, :, :]
'''),
        visible(r"tanh' at the state after the step", '''
# after_the_step: the pre-activation of the next step, from h_next
def simple_rnn_jacobian(cell, x, h):
    """d h_next / d h of a tanh SimpleRNN cell at (x, h), batched: (B, H, H)."""
    h_next = cell(x, [h])[0]
    a = x @ cell.kernel + h_next @ cell.recurrent_kernel + cell.bias
    dphi = 1.0 - tf.tanh(a) ** 2
    return dphi[:, :, None] * tf.transpose(cell.recurrent_kernel)[None]
'''),
        visible(r"1 - h\^2 uses the state before the step", '''
# one_minus_h_squared: tanh' as 1 - h^2 with the state before the step
def simple_rnn_jacobian(cell, x, h):
    """d h_next / d h of a tanh SimpleRNN cell at (x, h), batched: (B, H, H)."""
    dphi = 1.0 - h ** 2
    return dphi[:, :, None] * tf.transpose(cell.recurrent_kernel)[None]
'''),
        visible(r"not 1 - a\^2", '''
# one_minus_a_squared: 1 - a^2 instead of 1 - tanh(a)^2
def simple_rnn_jacobian(cell, x, h):
    """d h_next / d h of a tanh SimpleRNN cell at (x, h), batched: (B, H, H)."""
    a = x @ cell.kernel + h @ cell.recurrent_kernel + cell.bias
    return tf.einsum("bi,ji->bij", 1.0 - a ** 2, cell.recurrent_kernel)
'''),
        visible(r"the square is missing", '''
# no_square: 1 - tanh(a)
def simple_rnn_jacobian(cell, x, h):
    """d h_next / d h of a tanh SimpleRNN cell at (x, h), batched: (B, H, H)."""
    a = x @ cell.kernel + h @ cell.recurrent_kernel + cell.bias
    return tf.einsum("bi,ji->bij", 1.0 - tf.tanh(a), cell.recurrent_kernel)
'''),
        visible(r"scales the rows of J", '''
# columns_scaled: tanh' broadcast along the last axis, W_h diag(tanh')
def simple_rnn_jacobian(cell, x, h):
    """d h_next / d h of a tanh SimpleRNN cell at (x, h), batched: (B, H, H)."""
    a = x @ cell.kernel + h @ cell.recurrent_kernel + cell.bias
    dphi = 1.0 - tf.tanh(a) ** 2
    return tf.transpose(cell.recurrent_kernel)[None] * dphi[:, None, :]
'''),
        visible(r"derivative of tanh, 1 - tanh\(a\)\^2, is missing", '''
# no_derivative: only the recurrent weights, W_h for every sample
def simple_rnn_jacobian(cell, x, h):
    """d h_next / d h of a tanh SimpleRNN cell at (x, h), batched: (B, H, H)."""
    W_h = tf.transpose(cell.recurrent_kernel)
    return tf.repeat(W_h[None], x.shape[0], axis=0)
'''),
        visible(r"applied tanh to h_next once more", '''
# tanh_twice: tanh' evaluated at h_next instead of the pre-activation
def simple_rnn_jacobian(cell, x, h):
    """d h_next / d h of a tanh SimpleRNN cell at (x, h), batched: (B, H, H)."""
    h_next = cell(x, [h])[0]
    dphi = 1.0 - tf.tanh(h_next) ** 2
    return dphi[:, :, None] * tf.transpose(cell.recurrent_kernel)[None]
'''),
        visible(r"derivative of the sigmoid", '''
# sigmoid_derivative: s (1 - s), the derivative of the wrong activation
def simple_rnn_jacobian(cell, x, h):
    """d h_next / d h of a tanh SimpleRNN cell at (x, h), batched: (B, H, H)."""
    s = tf.sigmoid(x @ cell.kernel + h @ cell.recurrent_kernel + cell.bias)
    return (s * (1 - s))[:, :, None] * tf.transpose(cell.recurrent_kernel)[None]
'''),
        visible(r"sech\(a\)\^2", '''
# sech_not_squared: 1 / cosh(a), the square forgotten
def simple_rnn_jacobian(cell, x, h):
    """d h_next / d h of a tanh SimpleRNN cell at (x, h), batched: (B, H, H)."""
    a = x @ cell.kernel + h @ cell.recurrent_kernel + cell.bias
    return (1 / tf.cosh(a))[:, :, None] * tf.transpose(cell.recurrent_kernel)[None]
'''),
        visible(r"did not watch h", '''
# tape_not_watching: GradientTape on a constant h, which it does not watch
def simple_rnn_jacobian(cell, x, h):
    """d h_next / d h of a tanh SimpleRNN cell at (x, h), batched: (B, H, H)."""
    with tf.GradientTape() as tape:
        h_next = cell(x, [h])[0]
    return tape.batch_jacobian(h_next, h)
'''),
        visible(r"tape\.batch_jacobian", '''
# tape_jacobian: tape.jacobian, which also differentiates across the batch
def simple_rnn_jacobian(cell, x, h):
    """d h_next / d h of a tanh SimpleRNN cell at (x, h), batched: (B, H, H)."""
    with tf.GradientTape() as tape:
        tape.watch(h)
        h_next = cell(x, [h])[0]
    return tape.jacobian(h_next, h)
'''),
        visible(r"with respect to the input x", '''
# derivative_wrt_x: the tape watches x, the input, instead of the state
def simple_rnn_jacobian(cell, x, h):
    """d h_next / d h of a tanh SimpleRNN cell at (x, h), batched: (B, H, H)."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        h_next = cell(x, [h])[0]
    return tape.batch_jacobian(h_next, x)
'''),
        visible(r"One Jacobian for each sample of the batch", '''
# batch_averaged: one Jacobian, the mean over the batch
def simple_rnn_jacobian(cell, x, h):
    """d h_next / d h of a tanh SimpleRNN cell at (x, h), batched: (B, H, H)."""
    a = x @ cell.kernel + h @ cell.recurrent_kernel + cell.bias
    dphi = tf.reduce_mean(1.0 - tf.tanh(a) ** 2, axis=0)
    return dphi[:, None] * tf.transpose(cell.recurrent_kernel)
'''),
        visible(r"dtype float32, not float64", '''
# float32_result: computed in float32, "precision enough for a network"
def simple_rnn_jacobian(cell, x, h):
    """d h_next / d h of a tanh SimpleRNN cell at (x, h), batched: (B, H, H)."""
    K, W, b = (tf.cast(w, tf.float32) for w in (cell.kernel, cell.recurrent_kernel, cell.bias))
    a = tf.cast(x, tf.float32) @ K + tf.cast(h, tf.float32) @ W + b
    return (1.0 - tf.tanh(a) ** 2)[:, :, None] * tf.transpose(W)[None]
'''),
        visible(r"dtype error.*float32.*float64", '''
# eye_float32: tf.eye without a dtype is float32, the cell's weights float64
def simple_rnn_jacobian(cell, x, h):
    """d h_next / d h of a tanh SimpleRNN cell at (x, h), batched: (B, H, H)."""
    H = h.shape[1]
    a = x @ cell.kernel + h @ cell.recurrent_kernel + cell.bias
    D = (1.0 - tf.tanh(a) ** 2)[:, :, None] * tf.eye(H)[None]
    return D @ tf.transpose(cell.recurrent_kernel)
'''),
        visible(r"agree only to float32.s precision", '''
# float32_inside: the pre-activation in float32, the result cast back to float64
def simple_rnn_jacobian(cell, x, h):
    """d h_next / d h of a tanh SimpleRNN cell at (x, h), batched: (B, H, H)."""
    a = x @ cell.kernel + h @ cell.recurrent_kernel + cell.bias
    dphi = tf.cast(1.0 - tf.tanh(tf.cast(a, tf.float32)) ** 2, tf.float64)
    return dphi[:, :, None] * tf.transpose(cell.recurrent_kernel)[None]
'''),
        visible(r"raised an error on the case with other sizes.*Incompatible shapes.*a "
                r"batch of 8, 5 units", '''
# fixed_batch: the batch of 8 written into a reshape
def simple_rnn_jacobian(cell, x, h):
    """d h_next / d h of a tanh SimpleRNN cell at (x, h), batched: (B, H, H)."""
    a = x @ cell.kernel + h @ cell.recurrent_kernel + cell.bias
    dphi = tf.reshape(1.0 - tf.tanh(a) ** 2, (8, -1, 1))
    return dphi * tf.transpose(cell.recurrent_kernel)[None]
'''),
        visible(r"simple_rnn_jacobian raised InvalidArgumentError \(a tanh SimpleRNN\(5\) cell, "
                r"a batch of 8: B = 8, H = 5 units, input_dim = 3\): \"Input to reshape is a "
                r"tensor with 200 values[^{]*\"\. Is a size of the notebook.*written into the "
                r"code", '''
# notebook_units: the notebook's 32 units written into a reshape "to be sure of the shape"
def simple_rnn_jacobian(cell, x, h):
    """d h_next / d h of a tanh SimpleRNN cell at (x, h), batched: (B, H, H)."""
    a = x @ cell.kernel + h @ cell.recurrent_kernel + cell.bias
    J = tf.einsum("bi,ji->bij", 1.0 - tf.tanh(a) ** 2, cell.recurrent_kernel)
    return tf.reshape(J, (-1, 32, 32))
'''),
        visible(r"J\[0, 0, 0\] is wrong \(a tanh SimpleRNN\(5\) cell, a batch of 8\): expected "
                r".*tanh' at the state h itself", '''
# tanh_prime_of_h: tanh' evaluated at the state h instead of the pre-activation
def simple_rnn_jacobian(cell, x, h):
    """d h_next / d h of a tanh SimpleRNN cell at (x, h), batched: (B, H, H)."""
    dphi = 1.0 - tf.tanh(h) ** 2
    return dphi[:, :, None] * tf.transpose(cell.recurrent_kernel)[None]
'''),
        overfit('''
# squeezed: np.squeeze "to tidy the shape", which drops the batch axis of a batch of one
def simple_rnn_jacobian(cell, x, h):
    """d h_next / d h of a tanh SimpleRNN cell at (x, h), batched: (B, H, H)."""
    kernel, recurrent, bias = (np.asarray(w) for w in cell.get_weights())
    a = np.asarray(x) @ kernel + np.asarray(h) @ recurrent + bias
    return np.squeeze((1 - np.tanh(a) ** 2)[:, :, None] * recurrent.T[None])
'''),
    ],
    "task2": [
        visible(r"frame is not carried forward", _eager(
            "q_times_j: the frame multiplied from the left, Q @ J", """
            Q, R = tf.linalg.qr(Q @ J)
            log_sum += tf.math.log(tf.abs(tf.linalg.diag_part(R)))
            """)),
        visible(r"frame is not carried forward.*keep the new Q", _eager(
            "q_not_kept: only R is kept, Q stays the first frame", """
            _, R = tf.linalg.qr(J @ Q)
            log_sum += tf.math.log(tf.abs(tf.linalg.diag_part(R)))
            """)),
        visible(r"frame is not carried forward", _eager(
            "qr_of_j_alone: the QR of each Jacobian on its own, its first k diagonals", """
            Q, R = tf.linalg.qr(J)
            log_sum += tf.math.log(tf.abs(tf.linalg.diag_part(R)))[:, :k]
            """)),
        visible(r"natural log.*not log10", _eager(
            "log10: the base-10 logarithm", """
            Q, R = tf.linalg.qr(J @ Q)
            log_sum += np.log10(np.abs(tf.linalg.diag_part(R).numpy()))
            """)),
        visible(r"natural log.*not log2", _eager(
            "log2: the base-2 logarithm, exponents in bits per step", """
            Q, R = tf.linalg.qr(J @ Q)
            log_sum += tf.math.log(tf.abs(tf.linalg.diag_part(R))) / tf.math.log(
                tf.constant(2.0, dtype=DTYPE))
            """)),
        visible(r"got nan.*absolute value", _eager(
            "no_abs: the log of the diagonal itself, NaN where it is negative", """
            Q, R = tf.linalg.qr(J @ Q)
            log_sum += tf.math.log(tf.linalg.diag_part(R))
            """)),
        visible(r"negative diagonal entries.*absolute value", _eager(
            "nan_dropped: the NaNs of the negative diagonals replaced by zero", """
            Q, R = tf.linalg.qr(J @ Q)
            logs = tf.math.log(tf.linalg.diag_part(R))
            log_sum += tf.where(tf.math.is_nan(logs), tf.zeros_like(logs), logs)
            """)),
        visible(r"Add each step's log\|diag R\| to the running sum", _eager(
            "replaced: the sum replaced by the last step's logs", """
            Q, R = tf.linalg.qr(J @ Q)
            log_sum = tf.math.log(tf.abs(tf.linalg.diag_part(R)))
            """)),
        visible(r"twice the exponents.*log\(R_ii\^2\)", _eager(
            "log_of_square: log(R_ii^2) for the log of the absolute value", """
            Q, R = tf.linalg.qr(J @ Q)
            log_sum += tf.math.log(tf.linalg.diag_part(R) ** 2)
            """)),
        visible(r"divided by T twice", _eager(
            "divided_in_the_loop: the average taken at every step, and again at the end", """
            Q, R = tf.linalg.qr(J @ Q)
            log_sum += tf.math.log(tf.abs(tf.linalg.diag_part(R))) / T
            """)),
        visible(r"Divide the summed logs by the number of steps T", _eager(
            "not_averaged: the return rewritten without the division by T", """
            Q, R = tf.linalg.qr(J @ Q)
            log_sum += tf.math.log(tf.abs(tf.linalg.diag_part(R)))
            """, result="-np.sort(-log_sum.numpy(), axis=1)")),
        visible(r"Jacobian at the state after the step", _eager(
            "jacobian_after_the_step: the Jacobian evaluated again, at the new state", """
            J = simple_rnn_jacobian(cell, x, h)
            Q, R = tf.linalg.qr(J @ Q)
            log_sum += tf.math.log(tf.abs(tf.linalg.diag_part(R)))
            """)),
        visible(r"descending", _eager(
            "ascending: the return rewritten with np.sort, smallest exponent first", """
            Q, R = tf.linalg.qr(J @ Q)
            log_sum += tf.math.log(tf.abs(tf.linalg.diag_part(R)))
            """, result="np.sort((log_sum / T).numpy(), axis=1)")),
        visible(r"frame must keep its k columns.*full_matrices=False", _eager(
            "full_matrices: the complete QR, whose Q has H columns instead of k", """
            Q, R = tf.linalg.qr(J @ Q, full_matrices=True)
            log_sum += tf.math.log(tf.abs(tf.linalg.diag_part(R)))
            """)),
        visible(r"dtype error.*float32.*float64", _eager(
            "qr_in_float32: the factorisation in float32 to save time", """
            Q, R = tf.linalg.qr(tf.cast(J @ Q, tf.float32))
            log_sum += tf.cast(tf.math.log(tf.abs(tf.linalg.diag_part(R))), DTYPE)
            """)),
        visible(r"agree only to float32.s precision", _eager(
            "float32_round_trip: the QR in float32, its Q and logs cast back to float64", """
            Q, R = tf.linalg.qr(tf.cast(J @ Q, tf.float32))
            Q = tf.cast(Q, DTYPE)
            log_sum += tf.cast(tf.math.log(tf.abs(tf.linalg.diag_part(R))), DTYPE)
            """)),
        visible(r"on the case with other sizes.*Input to reshape.*3 sequences of 60 steps", _eager(
            "fixed_batch: the 3 sequences of the first case written into a reshape", """
            Q, R = tf.linalg.qr(J @ Q)
            log_sum += tf.reshape(tf.math.log(tf.abs(tf.linalg.diag_part(R))), (3, -1))
            """)),
        visible(r"changed its input h0 in place", '''
# state_in_h0: a NumPy rewrite that keeps the state in h0 itself
def lyapunov_spectrum_eager(cell, inputs, h0, k):
    """The k largest exponents per sequence, (B, k), per step, descending: an eager loop."""
    kernel, recurrent, bias = cell.get_weights()
    B, T, _ = inputs.shape
    h = h0
    Q = np.tile(np.eye(h0.shape[1], k), (B, 1, 1))
    log_sum = np.zeros((B, k))
    for t in range(T):
        a = inputs[:, t] @ kernel + h @ recurrent + bias
        J = (1 - np.tanh(a) ** 2)[:, :, None] * recurrent.T[None]
        h[:] = np.tanh(a)
        Q, R = np.linalg.qr(J @ Q)
        log_sum += np.log(np.abs(np.diagonal(R, axis1=1, axis2=2)))
    return -np.sort(-log_sum / T, axis=1)
'''),
        visible(r"exponents\[0, 0\] is wrong \(a tanh SimpleRNN\(5\), 3 sequences of 60 steps, "
                r"k = H = 5\): expected .*Q\^T J Q", _eager(
            "conjugated: the Jacobian taken into the frame, Q^T J Q, before the QR", """
            Q, R = tf.linalg.qr(tf.linalg.matrix_transpose(Q) @ J @ Q)
            log_sum += tf.math.log(tf.abs(tf.linalg.diag_part(R)))
            """)),
        visible(r"exponents\[1, 0\] is wrong \(a tanh SimpleRNN\(5\), 3 sequences of 60 steps, "
                r"k = H = 5\): expected .*Every sequence has the exponents of the first", _eager(
            "first_sequence_only: the diagonal of R[0], the first sequence's, for every row", """
            Q, R = tf.linalg.qr(J @ Q)
            log_sum += tf.math.log(tf.abs(tf.linalg.diag_part(R[0])))
            """)),
        overfit(_eager(
            "squeezed: the result squeezed, which drops the axes of one sequence or one "
            "exponent", """
            Q, R = tf.linalg.qr(J @ Q)
            log_sum += tf.math.log(tf.abs(tf.linalg.diag_part(R)))
            """, result="np.squeeze(-np.sort(-(log_sum / T).numpy(), axis=1))")),
    ],
}
