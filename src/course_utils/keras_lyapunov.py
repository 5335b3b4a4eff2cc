"""Lyapunov spectra of Keras recurrent layers driven by input sequences (TensorFlow backend).

The QR (Benettin) method of ``course_utils.lyapunov.lyapunov_from_jacobians``, run
inside one compiled ``tf.function`` along the orbit of a Keras RNN cell, for a batch of
input sequences at once. Importing this module imports TensorFlow (quietly), never PyTorch.
"""

from __future__ import annotations

import weakref

import numpy as np

from .lyapunov import sort_by_final_estimate, warn_if_reortho_too_sparse
from .runtime import import_tensorflow

tf = import_tensorflow()
keras = tf.keras

__all__ = ["simple_rnn_jacobian", "cell_jacobian", "rnn_lyapunov_spectrum"]

_MODES = ("auto", "analytic", "autodiff")


def _activation_name(activation) -> str | None:
    """The name of a supported activation (tanh, relu, sigmoid, linear), else None."""
    known = {keras.activations.tanh: "tanh", keras.activations.relu: "relu",
             keras.activations.sigmoid: "sigmoid", keras.activations.linear: "linear",
             tf.math.tanh: "tanh", tf.nn.relu: "relu", tf.math.sigmoid: "sigmoid"}
    try:
        return known.get(activation)
    except TypeError:  # an unhashable callable object
        return None


def _describe(activation) -> str:
    return getattr(activation, "__name__", None) or repr(activation)


def _derivative(name: str, a):
    """phi'(a) for the activation ``name``."""
    if name == "tanh":
        return 1.0 - tf.square(tf.tanh(a))
    if name == "relu":
        return tf.cast(a > 0, a.dtype)
    if name == "sigmoid":
        s = tf.sigmoid(a)
        return s * (1.0 - s)
    return tf.ones_like(a)  # linear


def _check_step_shapes(x, h) -> None:
    if x.shape.rank is not None and x.shape.rank != 2:
        raise ValueError(f"x must have shape (batch, input_dim); got shape {tuple(x.shape)}")
    if h.shape.rank is not None and h.shape.rank != 2:
        raise ValueError(f"h must have shape (batch, H); got shape {tuple(h.shape)}")
    bx, bh = x.shape[0], h.shape[0]
    if bx is not None and bh is not None and bx != bh:
        raise ValueError(f"x and h must have the same batch size; got x of shape "
                         f"{tuple(x.shape)} and h of shape {tuple(h.shape)}")


def _step_tensors(cell, x, h):
    dtype = getattr(cell, "compute_dtype", None) or keras.config.floatx()
    x = tf.cast(tf.convert_to_tensor(x), dtype)
    h = tf.cast(tf.convert_to_tensor(h), dtype)
    _check_step_shapes(x, h)
    return x, h


def _simple_rnn_activation(cell) -> str:
    """The activation's name for a SimpleRNN cell with a supported one; else ValueError."""
    if not isinstance(cell, keras.layers.SimpleRNNCell):
        raise ValueError(f"simple_rnn_jacobian needs a keras.layers.SimpleRNNCell or "
                         f"SimpleRNN layer; got {type(cell).__name__}")
    name = _activation_name(cell.activation)
    if name is None:
        raise ValueError(f"simple_rnn_jacobian supports the activations tanh, relu, sigmoid "
                         f"and linear; got activation {_describe(cell.activation)!r}")
    return name


def simple_rnn_jacobian(cell, x, h):
    """The analytic Jacobian ``J`` of one step of a ``keras.layers.SimpleRNNCell`` (or of
    the cell of a ``keras.layers.SimpleRNN`` layer) with respect to the state, evaluated at
    the state ``h`` *before* the step, for a batch of inputs ``x`` (shape
    ``(B, input_dim)``) and states ``h`` (shape ``(B, H)``). With the pre-activation
    ``a = x @ kernel + h @ recurrent_kernel + bias`` (the bias only with ``use_bias``) and
    ``h_next = phi(a)``::

        J[b, i, j] = d h_next[b, i] / d h[b, j] = phi'(a[b, i]) * recurrent_kernel[j, i]

    Returns a tensor of shape ``(B, H, H)`` in the cell's compute dtype. Supported
    activations: ``tanh``, ``relu`` (derivative ``1[a > 0]``), ``sigmoid`` and ``linear``;
    any other raises ``ValueError`` (use :func:`cell_jacobian` for those). Dropout is not
    applied (the step is taken with ``training=False``).
    """
    cell = getattr(cell, "cell", cell)
    name = _simple_rnn_activation(cell)
    x, h = _step_tensors(cell, x, h)
    if not cell.built:
        cell.build(tuple(x.shape))
    kernel = tf.convert_to_tensor(cell.kernel)
    recurrent = tf.convert_to_tensor(cell.recurrent_kernel)
    a = tf.linalg.matmul(x, kernel)  # in the order SimpleRNNCell.call adds them
    if cell.bias is not None:
        a = a + tf.convert_to_tensor(cell.bias)
    a = a + tf.linalg.matmul(h, recurrent)
    return _derivative(name, a)[:, :, None] * tf.transpose(recurrent)[None]


def _next_state(cell, x, h):
    new_state = cell(x, [h], training=False)[1]
    if isinstance(new_state, (list, tuple)):
        new_state = new_state[0]
    return new_state


def cell_jacobian(cell, x, h):
    """The Jacobian ``J`` of one step of any Keras RNN cell with a single state tensor with
    respect to that state, by automatic differentiation
    (``tf.GradientTape.batch_jacobian``), evaluated at the state ``h`` *before* the step:
    ``J[b, i, j] = d h_next[b, i] / d h[b, j]`` with
    ``h_next = cell(x, [h], training=False)[1]``. ``x`` has shape ``(B, input_dim)``, ``h``
    shape ``(B, H)``; returns shape ``(B, H, H)`` in the cell's compute dtype.
    """
    cell = getattr(cell, "cell", cell)
    x, h = _step_tensors(cell, x, h)
    with tf.GradientTape() as tape:
        tape.watch(h)
        new_state = _next_state(cell, x, h)
    return tape.batch_jacobian(new_state, h)


def _state_width(cell) -> int:
    size = getattr(cell, "state_size", None)
    sizes = list(size) if isinstance(size, (list, tuple)) else [size]
    width = sizes[0] if len(sizes) == 1 else None
    if hasattr(width, "as_list"):
        width = width.as_list()
    if isinstance(width, (list, tuple)):
        width = width[0] if len(width) == 1 else None
    if not isinstance(width, (int, np.integer)) or isinstance(width, bool):
        raise ValueError(f"rnn_lyapunov_spectrum needs a cell whose state is a single tensor "
                         f"of shape (batch, H); got {type(cell).__name__} with "
                         f"state_size={size!r}")
    return int(width)


def _jacobian_function(cell, jacobian):
    """The Jacobian callable for the mode ``jacobian``, and a hashable key for it."""
    if callable(jacobian):
        return jacobian, jacobian
    if jacobian not in _MODES:
        raise ValueError(f"jacobian must be 'auto', 'analytic', 'autodiff' or a callable "
                         f"(cell, x, h) -> (B, H, H); got {jacobian!r}")
    if jacobian == "auto":
        analytic = (isinstance(cell, keras.layers.SimpleRNNCell)
                    and _activation_name(cell.activation) is not None)
        jacobian = "analytic" if analytic else "autodiff"
    if jacobian == "analytic":
        _simple_rnn_activation(cell)  # the errors now, not while tracing
        return simple_rnn_jacobian, "analytic"
    return cell_jacobian, "autodiff"


# cell -> {(jacobian mode, k, return_history, input_dim): tf.function}. The functions hold
# the cell only weakly, so that the cache does not keep a cell alive.
_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _compiled(cell, jacobian, k: int, history: bool, input_dim: int, reortho_every: int):
    """The compiled QR loop for this cell and settings (traced once, on first use)."""
    jac, mode = _jacobian_function(cell, jacobian)
    per_cell = _COMPILED.setdefault(cell, {})
    key = (mode, k, history, input_dim, reortho_every)
    if key in per_cell:
        return per_cell[key]

    cell_ref = weakref.ref(cell)
    H = _state_width(cell)
    dtype = tf.as_dtype(cell.compute_dtype)
    signature = [tf.TensorSpec([None, None, input_dim], dtype),  # inputs (B, T, input_dim)
                 tf.TensorSpec([None, H], dtype),                # h0 (B, H)
                 tf.TensorSpec([], tf.int32)]                    # transient

    @tf.function(input_signature=signature, autograph=False)
    def qr_loop(inputs, h0, transient):
        c = cell_ref()
        xs = tf.transpose(inputs, [1, 0, 2])  # time-major: xs[t] is (B, input_dim)
        T = tf.shape(xs)[0]
        batch = tf.shape(h0)[0]

        def orthonormalise(P):
            Q, R = tf.linalg.qr(P)                  # reduced: (B, H, k), (B, k, k)
            return Q, tf.math.log(tf.abs(tf.linalg.diag_part(R)))

        def step(t, h, Q, qr_now):
            x = xs[t]
            J = jac(c, x, h)                        # at the state before the step
            h_next = tf.ensure_shape(_next_state(c, x, h), h0.shape)
            P = tf.linalg.matmul(J, Q)
            if reortho_every == 1:
                return (h_next,) + orthonormalise(P)
            # between two QRs the Jacobians are only multiplied onto the frame
            Q_next, log_r = tf.cond(qr_now, lambda: orthonormalise(P),
                                    lambda: (P, tf.zeros([batch, k], dtype)))
            return h_next, Q_next, log_r

        def align(t, h, Q):  # transient: evolve h and Q, count nothing
            qr_now = ((t + 1) % reortho_every == 0) | (t + 1 == transient)
            h, Q, _ = step(t, h, Q, qr_now)
            return t + 1, h, Q

        Q0 = tf.tile(tf.eye(H, num_columns=k, dtype=dtype)[None], [batch, 1, 1])
        t, h, Q = tf.while_loop(lambda t, h, Q: t < transient, align,
                                (tf.constant(0), h0, Q0))

        def count(t, h, Q, total, logs):
            qr_now = ((t + 1 - transient) % reortho_every == 0) | (t + 1 == T)
            h, Q, log_r = step(t, h, Q, qr_now)
            if history:
                logs = logs.write(t - transient, log_r)
            return t + 1, h, Q, total + log_r, logs

        logs = tf.TensorArray(dtype, size=T - transient, element_shape=[None, k])
        total = tf.zeros([batch, k], dtype)
        _, _, _, total, logs = tf.while_loop(lambda t, *_: t < T, count,
                                             (t, h, Q, total, logs))
        if history:
            return total, tf.math.cumsum(tf.transpose(logs.stack(), [1, 0, 2]), axis=1)
        return total, tf.zeros([batch, 0, k], dtype)

    per_cell[key] = qr_loop
    return qr_loop


def rnn_lyapunov_spectrum(rnn, inputs, h0, *, k: int | None = None, transient: int = 0,
                          jacobian="auto", reortho_every: int = 1, dt: float = 1.0,
                          return_history: bool = False):
    """The ``k`` largest Lyapunov exponents λ of a Keras recurrent layer driven by input
    sequences, for a batch of B sequences at once, by repeated QR re-orthonormalisation
    along each orbit. With ``h_t = cell(x_t, h_{t-1})``, ``J_t = d h_t / d h_{t-1}``
    evaluated at ``(x_t, h_{t-1})``, ``Q_0`` the first ``k`` columns of the identity and
    the reduced QR decomposition ``J_t Q_{t-1} = Q_t R_t``::

        λ_i = 1 / (T' dt) * Σ_t ln |(R_t)_ii|,

    summed over the steps ``t`` after the ``transient``; ``T' = T - transient`` is the
    number of steps summed. The first ``transient`` steps evolve both the state and ``Q``
    (aligning ``Q`` with the dynamics) but are not counted. The whole loop runs in one
    compiled ``tf.function`` (traced once per cell, Jacobian mode, ``k`` and input width;
    new lengths T and batch sizes B reuse it), in the cell's compute dtype.

    ``rnn`` is a Keras RNN layer (``keras.layers.SimpleRNN``, ``keras.layers.RNN(cell)``)
    or a cell whose state is a single tensor; a layer's ``go_backwards`` is honoured.
    ``inputs`` has shape ``(B, T, input_dim)`` and ``h0``, the states before the first
    step, shape ``(B, H)`` (NumPy arrays or tensors, cast to the cell's compute dtype).

    Returns the exponents, sorted in descending order, as a NumPy array of shape
    ``(B, k)``: natural log per step, or per time unit when ``dt`` is given. With
    ``return_history=True`` returns ``(exponents, history)``, where ``history`` (shape
    ``(B, T', k)``) holds the running estimate after each counted step, its columns in
    the order of the final estimate (``history[:, -1] == exponents``).

    Keyword arguments

    * ``k = None``: the number of exponents, 1 to H (``None``: all H).
    * ``transient = 0``: steps used for aligning ``Q`` and excluded from the average,
      0 to T - 1.
    * ``jacobian = "auto"``: how ``J_t`` is computed: ``"analytic"``
      (:func:`simple_rnn_jacobian`, for SimpleRNN cells with a tanh, relu, sigmoid or
      linear activation), ``"autodiff"`` (:func:`cell_jacobian`, any cell), a callable
      ``(cell, x, h) -> J`` of shape ``(B, H, H)``, or ``"auto"``: analytic where it
      applies, autodiff otherwise.
    * ``reortho_every = 1``: steps between two QR factorisations; in between the
      Jacobians are only multiplied onto the frame. The exponents are the same (the
      diagonal of a product of triangular factors is the product of their diagonals), and
      the QRs, the costliest part, are fewer. It must stay below about
      ln(1/eps) / (2 (λ_1 - λ_k)) steps (eps: the dtype's machine epsilon), or the
      weakest directions are lost in rounding; a ``RuntimeWarning`` says so after the run.
      The running estimate is held constant between two QRs.
    * ``dt = 1.0``: time per step; exponents are divided by it.
    * ``return_history = False``: also return the running estimates, for convergence
      plots.

    Raises ``ValueError`` for inputs that are not 3-D, an ``h0`` that is not 2-D or not
    as wide as the cell's state, different batch sizes of ``inputs`` and ``h0``, ``k`` or
    ``transient`` out of range, and cells whose state is not a single tensor.

    Reference: G. Benettin, L. Galgani, A. Giorgilli, J.-M. Strelcyn, "Lyapunov
    characteristic exponents for smooth dynamical systems and for Hamiltonian systems;
    a method for computing all of them", Meccanica 15, 9-30 (1980).
    """
    cell = getattr(rnn, "cell", rnn)
    H = _state_width(cell)
    dtype = getattr(cell, "compute_dtype", None) or keras.config.floatx()
    inputs = tf.cast(tf.convert_to_tensor(inputs), dtype)
    h0 = tf.cast(tf.convert_to_tensor(h0), dtype)
    if inputs.shape.rank != 3:
        raise ValueError(f"inputs must have shape (B, T, input_dim); got shape "
                         f"{tuple(inputs.shape)}")
    if h0.shape.rank != 2:
        raise ValueError(f"h0 must have shape (B, H); got shape {tuple(h0.shape)}")
    B, T, input_dim = inputs.shape
    if h0.shape[0] != B:
        raise ValueError(f"inputs and h0 must have the same batch size; got inputs of shape "
                         f"{tuple(inputs.shape)} and h0 of shape {tuple(h0.shape)}")
    if h0.shape[1] != H:
        raise ValueError(f"h0 must have shape (B, {H}) for a state of size {H}; got shape "
                         f"{tuple(h0.shape)}")
    k = H if k is None else k
    if not isinstance(k, (int, np.integer)) or not 1 <= k <= H:
        raise ValueError(f"k must be in 1..{H} for a state of size {H}; got {k!r}")
    if not isinstance(transient, (int, np.integer)) or not 0 <= transient < T:
        raise ValueError(f"transient must be in 0..{T - 1} for {T} steps; got {transient!r}")
    if not isinstance(reortho_every, (int, np.integer)) or reortho_every < 1:
        raise ValueError(f"reortho_every must be a positive integer; got {reortho_every!r}")
    if getattr(rnn, "go_backwards", False):
        inputs = tf.reverse(inputs, axis=[1])
    if not cell.built:  # create the weights outside the compiled function
        _next_state(cell, inputs[:, 0], h0)

    qr_loop = _compiled(cell, jacobian, int(k), bool(return_history), int(input_dim),
                        int(reortho_every))
    total, cumulative = qr_loop(inputs, h0, tf.constant(transient, tf.int32))
    counted = T - transient
    if return_history:
        running = cumulative.numpy().astype(np.float64)
        running = running / (np.arange(1, counted + 1)[:, None] * dt)
    else:
        running = (total.numpy().astype(np.float64) / (counted * dt))[:, None, :]
    exponents, running = sort_by_final_estimate(running)
    if np.isnan(exponents).any() or np.isposinf(exponents).any():
        raise FloatingPointError(
            f"the exponents came out non-finite ({exponents[~(exponents < np.inf)][:3]}): "
            f"the Jacobians or their product over reortho_every={reortho_every} steps "
            "overflowed; re-orthonormalise more often or check the inputs")
    warn_if_reortho_too_sparse(exponents * dt, reortho_every, np.dtype(dtype))
    return (exponents, running) if return_history else exponents
