"""Immediate, specific feedback for the exercise notebooks.

Each ``check_*`` function runs a student's implementation on a few inputs, compares it with
the reference code of this package, and either prints a one-line confirmation or raises
``AssertionError`` with a message that says what is wrong (which component, for which
input, what was expected) and a hint. TensorFlow is imported only by the checks that need it.
"""

from __future__ import annotations

import numpy as np

from .henon import HENON_A, HENON_B, henon_jacobian, henon_map, henon_orbit
from .lyapunov import lyapunov_from_jacobians

__all__ = ["check_henon_cell", "check_henon_jacobian", "check_lyapunov_qr",
           "check_simple_rnn_jacobian", "check_rnn_qr", "check_stf_forward",
           "check_stf_forward_warmup", "check_plrnn_jacobians", "check_naive_norms",
           "check_rnn_jacobians", "check_affine_prediction", "check_stability_classification",
           "check_lru_eigenvalues", "check_scan_operator"]

# States of the Henon map at which the checks evaluate (x, y): generic, not symmetric.
_STATES = np.array([[0.1, 0.1], [0.5, -0.2], [-1.1, 0.35], [0.9, 0.05]])


def _fmt(a) -> str:
    return np.array2string(np.asarray(a, dtype=float), precision=6, separator=", ")


def _ok(message: str) -> None:
    print(f"\u2713 {message}")


def check_henon_cell(cell_class, a: float = HENON_A, b: float = HENON_B) -> None:
    """Check a Keras Henon cell class: attributes, return structure and values.

    The class must accept ``a`` and ``b`` as keyword arguments, have ``state_size`` and
    ``output_size`` equal to 2, and its ``call(inputs, states)`` must return
    ``(z_next, [z_next])`` with ``z_next = (1 - a x^2 + y, b x)`` row by row.
    """
    from .runtime import import_tensorflow

    tf = import_tensorflow()
    for params in ((a, b), (1.2, 0.4)):
        cell = cell_class(a=params[0], b=params[1])
        for attr in ("state_size", "output_size"):
            value = getattr(cell, attr, None)
            assert value == 2, (f"{attr} must be 2 (the Henon state is (x, y)); got {value!r}")
        z = tf.constant(_STATES, dtype=tf.float64)
        result = cell(tf.zeros((len(_STATES), 1), dtype=tf.float64), [z])
        assert isinstance(result, (tuple, list)) and len(result) == 2, (
            "call must return a pair (output, [next_state]); got "
            f"{type(result).__name__}{'' if not hasattr(result, '__len__') else f' of length {len(result)}'}")
        output, states = result
        assert isinstance(states, (tuple, list)) and len(states) == 1, (
            "the second returned item must be a list holding the next state, [z_next]; got "
            f"{type(states).__name__}")
        output, nxt = np.asarray(output), np.asarray(states[0])
        expected = henon_map(_STATES, *params)
        assert output.shape == expected.shape, (
            f"for a batch of states of shape {_STATES.shape} the output must have shape "
            f"{expected.shape}; got {output.shape}. Work on the whole batch: x = z[:, 0], "
            "y = z[:, 1]")
        assert output.dtype == np.float64, (
            f"the cell computes in {output.dtype}, not float64: Keras casts a layer's inputs "
            "to its float type, so call keras.config.set_floatx('float64') before creating "
            "the cell (import_tensorflow(floatx='float64') does it)")
        for k, (name, formula) in enumerate((("x", "1 - a x^2 + y"), ("y", "b x"))):
            bad = ~np.isclose(output[:, k], expected[:, k], rtol=1e-12, atol=1e-12)
            if bad.any():
                i = int(np.argmax(bad))
                raise AssertionError(
                    f"the {name} component is wrong: for (x, y) = {_fmt(_STATES[i])} with "
                    f"a={params[0]}, b={params[1]} expected {expected[i, k]:.6f}, got "
                    f"{output[i, k]:.6f}. The map gives {name}_next = {formula}"
                    + (" (did you use the cell's own a and b?)" if params != (a, b) else ""))
        assert np.allclose(nxt, output, rtol=0, atol=0), (
            "the next state must equal the output: the cell outputs its state")
    _ok("HenonCell: one step of the Henon map, batch-wise, output = next state")


def check_henon_jacobian(jacobian_fn, a: float = HENON_A, b: float = HENON_B) -> None:
    """Check ``jacobian_fn(z, a, b)``: the analytic Jacobians ``[[-2 a x, 1], [b, 0]]``
    for a batch of states ``z`` of shape ``(B, 2)``, returned with shape ``(B, 2, 2)``."""
    expected = henon_jacobian(_STATES, a, b)
    got = np.asarray(jacobian_fn(_STATES, a, b), dtype=float)
    assert got.shape == expected.shape, (
        f"for states of shape {_STATES.shape} the Jacobians must have shape "
        f"{expected.shape}; got {got.shape}")
    if np.allclose(got, np.swapaxes(expected, -1, -2)) and not np.allclose(got, expected):
        raise AssertionError("you returned the transposes: row i of J holds the derivatives "
                             "of the i-th new component, J[i, j] = d z_next[i] / d z[j]")
    names = [["dx'/dx", "dx'/dy"], ["dy'/dx", "dy'/dy"]]
    for i in range(2):
        for j in range(2):
            bad = ~np.isclose(got[:, i, j], expected[:, i, j], rtol=1e-12, atol=1e-12)
            if bad.any():
                n = int(np.argmax(bad))
                raise AssertionError(
                    f"entry J[{i}, {j}] = {names[i][j]} is wrong at (x, y) = "
                    f"{_fmt(_STATES[n])}: expected {expected[n, i, j]:.6f}, got "
                    f"{got[n, i, j]:.6f}")
    _ok("henon_jacobian: [[-2 a x, 1], [b, 0]] at every state of the batch")


def check_lyapunov_qr(qr_fn) -> None:
    """Check ``qr_fn(jacobians, transient=0)``: the QR estimate of the Lyapunov spectrum
    (descending, natural log, per step) from Jacobians of shape ``(T, d, d)``."""
    # 1. A constant diagonal map: the exponents are the logs of the diagonal's moduli.
    diag = np.array([0.5, -2.0, 1.0])
    constant = np.broadcast_to(np.diag(diag), (50, 3, 3))
    want = np.sort(np.log(np.abs(diag)))[::-1]
    got = np.asarray(qr_fn(constant), dtype=float)
    assert got.shape == want.shape, (
        f"for Jacobians of shape {constant.shape} return {want.shape[0]} exponents; "
        f"got shape {got.shape}")
    if np.any(np.isnan(got)):
        raise AssertionError("got NaN: take the log of the *absolute* diagonal of R")
    if np.allclose(np.sort(got)[::-1], want) and not np.allclose(got, want):
        raise AssertionError(f"sort the exponents in descending order; got {_fmt(got)}")
    if np.allclose(got * np.log(10), want):
        raise AssertionError("use the natural log (np.log), not log10")
    if np.allclose(got / 50, want):
        raise AssertionError("divide the summed logs by the number of steps")
    assert np.allclose(got, want, atol=1e-10), (
        f"for the constant map diag{_fmt(diag)} expected {_fmt(want)}, got {_fmt(got)}")

    # 2. Jacobians along a chaotic Henon orbit: compare with the reference, then the
    #    transient: it must be excluded from the average but still evolve Q.
    orbit = henon_orbit([0.1, 0.1], 600, transient=100)
    jacobians = henon_jacobian(orbit)
    for transient in (0, 100):
        want = lyapunov_from_jacobians(jacobians, transient=transient)
        got = np.asarray(qr_fn(jacobians, transient=transient), dtype=float)
        assert np.allclose(got, want, rtol=1e-8, atol=1e-10), (
            f"along a Henon orbit of {len(jacobians)} steps with transient={transient} "
            f"expected {_fmt(want)}, got {_fmt(got)}. Multiply each new Jacobian onto the "
            "current Q (J_t @ Q), re-orthonormalise by QR, and accumulate log|diag R| of "
            "the steps after the transient only" + ("" if transient == 0 else
                                                    " (divide by T - transient)"))
    _ok("lyapunov_qr: matches the reference on a diagonal map and on a Henon orbit")


# ------------------------------------------------------------------ Keras RNN spectrum

def _small_simple_rnn(tf, units=5, input_dim=3, seed=0):
    """A built tanh SimpleRNN cell with random weights and a clearly nonzero bias."""
    rng = np.random.default_rng(seed)
    rnn = tf.keras.layers.SimpleRNN(units, activation="tanh")
    rnn.build((None, None, input_dim))
    rnn.cell.set_weights([rng.normal(size=(input_dim, units)),
                          1.5 * rng.normal(size=(units, units)) / np.sqrt(units),
                          rng.normal(size=units)])
    return rnn.cell


def check_simple_rnn_jacobian(jacobian_fn) -> None:
    """Check ``jacobian_fn(cell, x, h)``: the Jacobian d h_next / d h of a tanh
    ``SimpleRNNCell`` at the state ``h`` *before* the step, bias and input included,
    for a batch (``x`` of shape ``(B, input_dim)``, ``h`` of shape ``(B, H)``), returned with
    shape ``(B, H, H)``; compared with ``GradientTape.batch_jacobian`` of the cell."""
    from .runtime import import_tensorflow

    tf = import_tensorflow()
    cell = _small_simple_rnn(tf)
    rng = np.random.default_rng(1)
    x = tf.constant(rng.normal(size=(8, 3)), dtype=tf.float64)
    h = tf.constant(rng.uniform(-1, 1, size=(8, 5)), dtype=tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(h)
        h_next = cell(x, [h])[0]
    expected = tape.batch_jacobian(h_next, h).numpy()
    got = np.asarray(jacobian_fn(cell, x, h), dtype=float)
    assert got.shape == expected.shape, (
        f"for x of shape {tuple(x.shape)} and h of shape {tuple(h.shape)} the Jacobians must "
        f"have shape {expected.shape} (batch, H, H); got {got.shape}")
    if np.allclose(got, expected, rtol=1e-10, atol=1e-10):
        _ok("simple_rnn_jacobian: equals GradientTape.batch_jacobian of the cell")
        return
    kernel, recurrent, bias = (w.numpy() for w in (cell.kernel, cell.recurrent_kernel,
                                                   cell.bias))
    xn, hn = x.numpy(), h.numpy()

    def formula(a, W=recurrent.T):
        return (1 - np.tanh(a) ** 2)[:, :, None] * W[None]

    slips = [
        (np.swapaxes(expected, 1, 2),
         "your J is transposed: row i must hold the derivatives of h_next[i], "
         "J[b, i, j] = d h_next[b, i] / d h[b, j]"),
        (formula(xn @ kernel + hn @ recurrent + bias, recurrent),
         "Keras computes h @ recurrent_kernel (row vectors), so W_h is the transpose of "
         "recurrent_kernel: J[b, i, j] = tanh'(a[b, i]) * recurrent_kernel[j, i]"),
        (formula(xn @ kernel + hn @ recurrent),
         "the bias is missing from the pre-activation a = x @ kernel + h @ recurrent_kernel + bias"),
        (formula(hn @ recurrent + bias),
         "the input term is missing from the pre-activation: a = x @ kernel + "
         "h @ recurrent_kernel + bias"),
        (formula(xn @ kernel + h_next.numpy() @ recurrent + bias),
         "you evaluated tanh' at the state after the step: the derivative belongs to the "
         "pre-activation of this step, a = x @ kernel + h @ recurrent_kernel + bias, with the "
         "state h before the step"),
        ((1 - h_next.numpy() ** 2)[:, None, :] * recurrent.T[None],
         "tanh'(a) scales the rows of J (the output unit i), not its columns"),
        (recurrent.T[None].repeat(8, axis=0), "the derivative of tanh, 1 - tanh(a)^2, is missing"),
    ]
    for wrong, hint in slips:
        if np.allclose(got, wrong, rtol=1e-8, atol=1e-10):
            raise AssertionError(hint)
    b, i, j = np.unravel_index(np.argmax(np.abs(got - expected)), got.shape)
    raise AssertionError(
        f"J[{b}, {i}, {j}] = {got[b, i, j]:.6f} but the cell's derivative is "
        f"{expected[b, i, j]:.6f}. J[b, i, j] = (1 - tanh(a[b, i])^2) * W[j, i] with "
        "a = x @ kernel + h @ recurrent_kernel + bias and W = recurrent_kernel")


def _q_times_j_slip(tf, cell, inputs, h0):
    """The exponents that the slip Q @ J (instead of J @ Q) gives, sorted descending."""
    from .keras_lyapunov import simple_rnn_jacobian

    B, T, _ = inputs.shape
    H = h0.shape[1]
    Q, h, total = np.broadcast_to(np.eye(H), (B, H, H)).copy(), h0, np.zeros((B, H))
    for t in range(T):
        J = simple_rnn_jacobian(cell, inputs[:, t], h).numpy()
        h = cell(tf.constant(inputs[:, t]), [tf.constant(h)])[0].numpy()
        Q, R = np.linalg.qr(Q @ J)
        total += np.log(np.abs(np.diagonal(R, axis1=1, axis2=2)))
    return np.sort(total / T, axis=1)[:, ::-1]


def check_rnn_qr(spectrum_fn) -> None:
    """Check ``spectrum_fn(cell, inputs, h0, k)``: the k largest Lyapunov exponents of a
    SimpleRNN cell driven by ``inputs`` (``(B, T, input_dim)``) from ``h0`` (``(B, H)``),
    batched over the B sequences, sorted descending, shape ``(B, k)``, per step; compared
    with :func:`course_utils.keras_lyapunov.rnn_lyapunov_spectrum`."""
    from .runtime import import_tensorflow

    tf = import_tensorflow()
    from .keras_lyapunov import rnn_lyapunov_spectrum

    cell = _small_simple_rnn(tf, seed=2)
    rng = np.random.default_rng(3)
    inputs = rng.uniform(-1, 1, size=(3, 60, 3))
    h0 = rng.uniform(-1, 1, size=(3, 5))
    # A cell that rests at h = 0 with J = diag(w), w not sorted: the raw order of the
    # exponents is not descending, so an unsorted result shows.
    resting = _small_simple_rnn(tf, seed=4)
    resting.set_weights([np.zeros((3, 5)), np.diag([0.2, 0.5, 0.9, 0.3, 0.7]), np.zeros(5)])
    cases = [(cell, 5), (cell, 2), (resting, 5)]
    for case, (cell, k) in enumerate(cases):
        if case == 2:
            h0 = np.zeros((3, 5))
        expected = rnn_lyapunov_spectrum(cell, inputs, h0, k=k)
        got = np.asarray(spectrum_fn(cell, tf.constant(inputs), tf.constant(h0), k),
                         dtype=float)
        assert got.shape == expected.shape, (
            f"for 3 sequences and k={k} return shape {expected.shape} (B, k); got {got.shape}")
        if np.allclose(got, expected, rtol=1e-8, atol=1e-10):
            continue
        if np.any(np.isnan(got)):
            raise AssertionError("got NaN: take the log of the absolute value of diag(R)")
        if np.allclose(np.sort(got, axis=1)[:, ::-1], expected, atol=1e-10):
            raise AssertionError("sort each row in descending order")
        if np.allclose(got * np.log(10), expected, atol=1e-10):
            raise AssertionError("use the natural log (tf.math.log), not log10")
        if np.allclose(got / inputs.shape[1], expected, atol=1e-10):
            raise AssertionError("divide the summed logs by the number of steps T")
        if case == 0 and np.allclose(np.sort(got, axis=1)[:, ::-1],
                                  _q_times_j_slip(tf, cell, inputs, h0), atol=1e-8):
            raise AssertionError("multiply the new Jacobian from the left, J_t @ Q: the frame "
                                 "is carried forward by the dynamics, Q_t R_t = J_t Q_{t-1}")
        raise AssertionError(
            f"for a tanh SimpleRNN(5) (case {case + 1} of 3), 3 sequences of 60 steps and "
            f"k={k}, expected (first "
            f"sequence) {_fmt(expected[0])}, got {_fmt(got[0])}. At every step: Q, R = "
            "tf.linalg.qr(J @ Q), then add log|diag R| to the running sum")
    _ok("QR accumulation: matches the compiled toolkit for k = H and k < H")


# --------------------------------------------------------------------------------------
# PyTorch: sparse teacher forcing and the naive Jacobian product (torch imported lazily)
# --------------------------------------------------------------------------------------

def _small_plrnn(M=6, L=10, N=2, seed=5):
    """A float64 PLRNN whose ReLU pattern changes from state to state."""
    import torch

    from .models import ShallowPLRNN

    model = ShallowPLRNN(M, L, N, seed=seed, dtype=torch.float64)
    with torch.no_grad():
        model.W1.mul_(4.0)                    # strong nonlinearity: slips show clearly
        model.A.uniform_(0.3, 0.95, generator=torch.Generator().manual_seed(seed))
    return model


def _forced_run(model, x, forced, *, reset_hidden=False, lagged=False):
    """Sparse forcing at the steps where ``forced`` is True, with optional slips: forcing
    that zeroes the unobserved units, or read-outs of the state before the step."""
    import torch

    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    outputs = []
    for t in range(T):
        if forced[t]:
            rest = torch.zeros_like(z[:, N:]) if reset_hidden else z[:, N:]
            z = torch.cat([x[:, t], rest], dim=-1)
        before = z
        z = model(z)
        outputs.append(model.observe(before if lagged else z))
    return torch.stack(outputs, dim=1)


def _check_predictions(name, fn, args, expected, slips, what):
    """Shape, values and gradients of ``fn(*args)`` against ``expected``; ``slips`` maps a
    description of a typical mistake to what that mistake gives."""
    import torch

    model, x = args[0], args[1]
    B, T, N = x.shape
    got = fn(*args)
    assert isinstance(got, torch.Tensor), (
        f"{name} must return a torch tensor (torch.stack of the predictions); got "
        f"{type(got).__name__}")
    if tuple(got.shape) != (B, T, N):
        hint = {(B, T, model.M): "return the read-outs model.observe(z) (the first N units), "
                                 "not the whole latent state",
                (B, T + 1, N): "one prediction per step: do not keep the initial state",
                (B, T - 1, N): "one prediction per input step, T in all",
                (T, B, N): "stack along dim=1: (batch, time, N)"}
        if len(args) > 3 and tuple(got.shape) == (B, T - args[3], N):
            hint[(B, T - args[3], N)] = ("return the predictions of all T steps; the loss "
                                         "(stf_loss with warmup=...) leaves out the warm-up")
        raise AssertionError(f"for x of shape {(B, T, N)} ({what}) the predictions must have "
                             f"shape {(B, T, N)}; got {tuple(got.shape)}. "
                             + hint.get(tuple(got.shape), ""))
    if not torch.allclose(got, expected, rtol=1e-9, atol=1e-10):
        mismatched = [t for t in range(T) if not torch.allclose(got[:, t], expected[:, t])]
        if all(t + 1 < T and torch.equal(got[:, t], x[:, t + 1]) for t in mismatched):
            raise AssertionError(
                f"your earlier predictions were overwritten by the data ({what}): writing "
                "x[:, t] into z in place also changes the read-out you stored from it. Build "
                "the forced state as a new tensor, torch.cat([x[:, t], z[:, N:]], dim=-1)")
        for slip, wrong in slips.items():
            if wrong is not None and torch.allclose(got, wrong, rtol=1e-9, atol=1e-10):
                raise AssertionError(f"{slip} ({what})")
        bad = (got - expected).abs() > 1e-10 + 1e-9 * expected.abs()
        b, t, i = (int(v) for v in bad.nonzero()[0])
        raise AssertionError(
            f"wrong prediction at batch {b}, step t={t}, unit {i} ({what}): expected "
            f"{expected[b, t, i].item():.6f}, got {got[b, t, i].item():.6f}. At each step: "
            "force z if t is a forcing time, z = model(z), keep model.observe(z)")
    assert got.requires_grad, (
        "the predictions carry no gradient: do not detach or convert them, and do not wrap "
        "the loop in torch.no_grad()")
    params = list(model.parameters())
    weights = torch.linspace(-1, 1, B * T * N, dtype=got.dtype).reshape(B, T, N)
    try:
        grads = torch.autograd.grad((got * weights).sum(), params, allow_unused=True)
    except RuntimeError as err:
        if "inplace" in str(err) or "in-place" in str(err):
            raise AssertionError(
                "backpropagation fails because z was changed in place (e.g. z[:, :N] = "
                "x[:, t]) after the model used it: build the forced state as a new tensor, "
                "torch.cat([x[:, t], z[:, N:]], dim=-1)") from err
        raise
    expected_grads = torch.autograd.grad((expected * weights).sum(), params)
    for pname, g, e in zip(("A", "W1", "W2", "h1", "h2"), grads, expected_grads):
        assert g is not None, f"no gradient reaches {pname}: is part of the loop detached?"
        assert torch.allclose(g, e, rtol=1e-8, atol=1e-10), (
            f"the gradient with respect to {pname} differs from the reference although the "
            "predictions agree: part of the computation is detached from the graph")


def check_stf_forward(fn) -> None:
    """Check ``fn(model, x, tau_f)``: sparse teacher forcing without warm-up, predictions
    of shape ``(B, T, N)``, equal to :func:`course_utils.training.stf_forward` in values
    and gradients."""
    import torch

    from .training import forcing_times

    model = _small_plrnn()
    x = torch.randn(3, 23, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    T = x.shape[1]
    for tau_f in (5, 7, 1):
        forced = forcing_times(T, tau_f)
        t = np.arange(T)
        slips = {
            "the data are never used: force z~_t = [x_t, z_t[N:]] at t = 0, tau_f, "
            "2 tau_f, ...": _forced_run(model, x, np.zeros(T, bool)),
            "you force at every step: force only when t is a multiple of tau_f":
                _forced_run(model, x, np.ones(T, bool)) if tau_f > 1 else None,
            "the forcing times are shifted by one: force at t = 0, tau_f, 2 tau_f, ... "
            "(t % tau_f == 0)": _forced_run(model, x, t % tau_f == 1) if tau_f > 1 else None,
            "forcing sets the unobserved units to zero: keep them, z~_t = [x_t, z_t[N:]]":
                _forced_run(model, x, forced, reset_hidden=True),
            "the predictions lag by one step: keep the read-out of the new state, "
            "model.observe(model(z)), the prediction of x_{t+1}":
                _forced_run(model, x, forced, lagged=True),
        }
        _check_predictions("stf_forward", fn, (model, x, tau_f), _forced_run(model, x, forced),
                           slips, f"tau_f = {tau_f}")
    _ok("stf_forward: forced at t = 0, tau_f, 2 tau_f, ...; predictions and gradients "
        "match the reference")


def check_stf_forward_warmup(fn) -> None:
    """Check ``fn(model, x, tau_f, warmup)``: forcing at every t < warmup and at t = warmup
    + n tau_f, predictions of all T steps, shape ``(B, T, N)``, equal to
    :func:`course_utils.training.stf_forward` in values and gradients."""
    import torch

    from .training import forcing_times

    model = _small_plrnn(N=1, M=5)
    x = torch.randn(3, 30, 1, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    T = x.shape[1]
    t = np.arange(T)
    for tau_f, warmup in ((7, 9), (5, 4), (6, 0)):
        forced = forcing_times(T, tau_f, warmup)
        slips = {
            "the warm-up is not forced at every step: force every t < warmup":
                _forced_run(model, x, t % tau_f == 0) if warmup else None,
            "after the warm-up, count the forcing interval from its end: force at t = "
            "warmup, warmup + tau_f, ... ((t - warmup) % tau_f == 0)":
                _forced_run(model, x, (t < warmup) | (t % tau_f == 0)) if warmup else None,
            "after the warm-up the model is forced at every step: then force only every "
            "tau_f steps": _forced_run(model, x, np.ones(T, bool)),
            "forcing sets the unobserved units to zero: keep them, z~_t = [x_t, z_t[N:]]":
                _forced_run(model, x, forced, reset_hidden=True),
            "the predictions lag by one step: keep model.observe(model(z))":
                _forced_run(model, x, forced, lagged=True),
        }
        _check_predictions("stf_forward_warmup", fn, (model, x, tau_f, warmup),
                           _forced_run(model, x, forced), slips,
                           f"tau_f = {tau_f}, warmup = {warmup}")
    _ok("stf_forward_warmup: forced at every step of the warm-up, then every tau_f steps; "
        "predictions and gradients match the reference")


def check_plrnn_jacobians(fn) -> None:
    """Check ``fn(model, Z)``: the Jacobians dF/dz at each state Z[t] of an orbit (the
    state before the step), shape ``(T, M, M)``, equal to ``model.jacobian(Z)``."""
    import torch

    model = _small_plrnn(M=5, L=8, N=2)
    Z = torch.randn(7, 5, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    with torch.no_grad():
        expected = model.jacobian(Z)
        shifted = model.jacobian(model(Z))
    got = fn(model, Z)
    got = torch.as_tensor(got.detach() if hasattr(got, "detach") else got, dtype=torch.float64)
    if tuple(got.shape) != (7, 5, 5):
        hint = ""
        if got.numel() == 7 * 5 * 7 * 5:
            hint = (" You differentiated all outputs with respect to all states: take the "
                    "blocks J[:, t, :] of the sum over rows, or one state at a time")
        raise AssertionError(f"for T = 7 states of dimension M = 5 return shape (7, 5, 5); "
                             f"got {tuple(got.shape)}.{hint}")
    if torch.allclose(got, expected, rtol=1e-9, atol=1e-10):
        _ok("orbit Jacobians: dF/dz at every state, the state before each step")
        return
    if torch.allclose(got, expected.transpose(-1, -2), rtol=1e-9, atol=1e-10):
        raise AssertionError("you returned the transposes: J[t, i, j] = d F_i / d z_j at Z[t] "
                             "(with the sum trick, permute the blocks to (T, M_out, M_in))")
    if torch.allclose(got, shifted, rtol=1e-9, atol=1e-10):
        raise AssertionError("the Jacobians are evaluated at the next states F(Z[t]): "
                             "evaluate each at Z[t], the state before the step")
    t = int(((got - expected).abs().amax(dim=(1, 2)) > 1e-10).nonzero()[0])
    raise AssertionError(f"the Jacobian at state t = {t} is wrong: expected "
                         f"{_fmt(expected[t, 0])} in its first row, got {_fmt(got[t, 0])}")


def check_naive_norms(fn) -> None:
    """Check ``fn(J)``: the spectral norms ||J_T||, ||J_T J_{T-1}||, ..., ||J_T ... J_1||
    of the running products (not their logs), computed in the dtype of ``J`` (T, d, d),
    with ``inf`` (or ``nan``) from the first product that overflows."""
    import torch

    from .lyapunov import naive_product_log_norms

    def as_tensor(a):
        return torch.as_tensor(a.detach() if hasattr(a, "detach") else np.asarray(a),
                               dtype=torch.float64)

    g = torch.Generator().manual_seed(4)
    J = torch.randn(30, 4, 4, generator=g, dtype=torch.float64) / 1.5
    J[:, 0, 1] += 2.0                           # far from normal: the order matters
    expected = torch.exp(naive_product_log_norms(J, dtype="float64"))
    got = as_tensor(fn(J))
    if got.shape != expected.shape:
        raise AssertionError(f"for T = 30 Jacobians return 30 norms (shape (30,)); got "
                             f"shape {tuple(got.shape)}")
    if not torch.allclose(got, expected, rtol=1e-8):
        forward, P = [], torch.eye(4, dtype=torch.float64)
        for Jt in J:
            P = Jt @ P
            forward.append(torch.linalg.matrix_norm(P, ord=2))
        wrong_side, P = [], torch.eye(4, dtype=torch.float64)
        for Jt in J.flip(0):
            P = Jt @ P
            wrong_side.append(torch.linalg.matrix_norm(P, ord=2))
        fro, P = [], torch.eye(4, dtype=torch.float64)
        for Jt in J.flip(0):
            P = P @ Jt
            fro.append(torch.linalg.matrix_norm(P))
        from_start, P = [], torch.eye(4, dtype=torch.float64)
        for Jt in J:
            P = P @ Jt
            from_start.append(torch.linalg.matrix_norm(P, ord=2))
        slips = {"return the norms, not their logarithms (the plot takes the log scale)":
                     torch.log(expected),
                 "use the spectral norm, torch.linalg.matrix_norm(P, ord=2); the default "
                 "is the Frobenius norm": torch.stack(fro),
                 "start from the end of the orbit, as the sheet does: J_T, then J_T J_{T-1}, "
                 "... (multiply the next earlier Jacobian on the right)": torch.stack(forward),
                 "start from the end of the orbit: the first norm is ||J_T||, then "
                 "||J_T J_{T-1}||, ...": torch.stack(from_start),
                 "multiply the earlier Jacobian on the right, P = P @ J_{T-n}: the product is "
                 "J_T J_{T-1} ..., not J_{T-1} J_T": torch.stack(wrong_side)}
        for slip, wrong in slips.items():
            if torch.allclose(got, wrong, rtol=1e-8):
                raise AssertionError(slip)
        n = int((~torch.isclose(got, expected, rtol=1e-8)).nonzero()[0])
        raise AssertionError(f"norm number {n + 1} (of the product of the last {n + 1} "
                             f"Jacobians) is wrong: expected {expected[n].item():.6g}, got "
                             f"{got[n].item():.6g}")
    # Overflow in float32: rotations stretched by 3 overflow after about 81 factors.
    angles = torch.rand(100, generator=g, dtype=torch.float64) * 6.28
    c, s_ = torch.cos(angles), torch.sin(angles)
    R = torch.stack([torch.stack([c, -s_], -1), torch.stack([s_, c], -1)], -2)
    J32 = (3.0 * R).to(torch.float32)
    reference = naive_product_log_norms(J32, dtype="float32")
    n_ref = int(torch.isfinite(reference).sum())
    got = as_tensor(fn(J32))
    if got.shape != reference.shape:
        raise AssertionError(f"for T = 100 Jacobians return 100 norms; got {tuple(got.shape)}")
    finite = torch.isfinite(got)
    n_got = int(finite.sum())
    if n_got > n_ref:
        raise AssertionError(
            f"the product should overflow float32 after {n_ref} finite norms (3^n > 3.4e38), "
            f"but you have {n_got} finite ones: compute in the Jacobians' dtype (float32), "
            "not in float64")
    if n_got < n_ref or not bool(finite[:n_ref].all()):
        raise AssertionError(f"expected {n_ref} finite norms before the overflow, then inf; "
                             f"got {n_got} finite ones")
    if not torch.allclose(got[:n_ref], torch.exp(reference[:n_ref]), rtol=1e-4):
        raise AssertionError("before the overflow the float32 norms should be 3^n")
    _ok("naive_norms: ||J_T ... J_{T-n+1}||_2 in the Jacobians' dtype, inf after the "
        "overflow")


# ----------------------------------------------------------------------------------------
# Chapter 06: linearization and fixed points of an nn.RNN
# ----------------------------------------------------------------------------------------

def _small_torch_rnn(seed=7, n_in=3, n_hidden=5):
    """A float64 tanh ``nn.RNN`` with non-zero biases and a point (u, h) to linearise at."""
    import torch

    g = torch.Generator().manual_seed(seed)
    rnn = torch.nn.RNN(n_in, n_hidden, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        for p in rnn.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64) * 0.8)
    u = torch.randn(n_in, generator=g, dtype=torch.float64)
    h = torch.randn(n_hidden, generator=g, dtype=torch.float64) * 0.5
    return rnn, u, h


def _rnn_reference(rnn, u, h):
    """F(h, u), J_h and J_u of an nn.RNN at one point, by the toolkit's Linearization."""
    from .linearization import Linearization

    lin = Linearization(rnn)
    return (lin.step(u, h), *lin.jacobian(u, h))


def _as_float64(x, what: str):
    import torch

    if isinstance(x, torch.Tensor):
        x = x.detach()
    try:
        return torch.as_tensor(np.asarray(x), dtype=torch.float64)
    except (TypeError, ValueError) as err:
        raise AssertionError(f"{what} must be a tensor or array; got {type(x).__name__}") from err


def check_rnn_jacobians(fn) -> None:
    """Check ``fn(rnn, u, h) → (J_h, J_u)`` for a single-layer tanh ``nn.RNN`` at one input
    ``u (I,)`` and state ``h (H,)``: J_h = diag(1 - tanh(a)^2) W_hh and J_u = diag(1 -
    tanh(a)^2) W_ih, with a = W_ih u + b_ih + W_hh h + b_hh."""
    import torch

    rnn, u, h = _small_torch_rnn()
    with torch.no_grad():
        h_next, J_h, J_u = _rnn_reference(rnn, u, h)
        got = fn(rnn, u, h)
    assert isinstance(got, (tuple, list)) and len(got) == 2, (
        f"return the pair (J_h, J_u); got {type(got).__name__}")
    got_h, got_u = (_as_float64(g, name) for g, name in zip(got, ("J_h", "J_u")))
    H, I = J_u.shape
    for name, g, e in (("J_h", got_h, J_h), ("J_u", got_u, J_u)):
        if tuple(g.shape) != tuple(e.shape):
            hint = (" (H outputs by the size of what you differentiate by; squeeze the "
                    "batch and layer axes)")
            raise AssertionError(f"{name} must have shape {tuple(e.shape)} for H = {H} hidden "
                                 f"units and I = {I} inputs; got {tuple(g.shape)}{hint}")
    with torch.no_grad():
        pre_no_bias = rnn.weight_ih_l0 @ u + rnn.weight_hh_l0 @ h
    slips = {
        "J_h is transposed: row i holds the derivatives of h_next[i], J_h[i, j] = "
        "d h_next[i] / d h[j]": (J_h.T, J_u),
        "you used W_hh and W_ih alone: the chain rule multiplies each row i by tanh'(a_i) "
        "= 1 - tanh(a_i)^2 at the pre-activation a": (rnn.weight_hh_l0, rnn.weight_ih_l0),
        "tanh' was evaluated at the current state h (1 - h^2) instead of at the "
        "pre-activation a of this step (1 - tanh(a)^2 = 1 - h_next^2)":
            ((1 - h ** 2)[:, None] * rnn.weight_hh_l0, (1 - h ** 2)[:, None] * rnn.weight_ih_l0),
        "the derivative of tanh is 1 - tanh(a)^2, not 1 - tanh(a)":
            ((1 - h_next)[:, None] * rnn.weight_hh_l0, (1 - h_next)[:, None] * rnn.weight_ih_l0),
        "the biases b_ih and b_hh are part of the pre-activation a: leave them in":
            ((1 - pre_no_bias.tanh() ** 2)[:, None] * rnn.weight_hh_l0,
             (1 - pre_no_bias.tanh() ** 2)[:, None] * rnn.weight_ih_l0),
        "the diagonal factor multiplies the columns instead of the rows: use "
        "slope[:, None] * W (or torch.diag(slope) @ W)":
            (rnn.weight_hh_l0 * (1 - h_next ** 2)[None, :], J_u),
    }
    ok_h = torch.allclose(got_h, J_h, rtol=1e-8, atol=1e-10)
    ok_u = torch.allclose(got_u, J_u, rtol=1e-8, atol=1e-10)
    if ok_h and ok_u:
        _ok("J_h and J_u of the tanh RNN step agree with the chain rule at a point with "
            "non-zero biases")
        return
    for slip, (wh, wu) in slips.items():
        if torch.allclose(got_h, wh, rtol=1e-8, atol=1e-10) and (
                ok_u or torch.allclose(got_u, wu, rtol=1e-8, atol=1e-10)):
            raise AssertionError(slip)
    name, g, e = ("J_h", got_h, J_h) if not ok_h else ("J_u", got_u, J_u)
    i, j = (int(v) for v in ((g - e).abs() > 1e-10).nonzero()[0])
    raise AssertionError(f"{name}[{i}, {j}] is {g[i, j].item():.6f}, expected "
                         f"{e[i, j].item():.6f}. With a = W_ih u + b_ih + W_hh h + b_hh, "
                         "J_h = diag(1 - tanh(a)^2) W_hh and J_u = diag(1 - tanh(a)^2) W_ih")


def check_affine_prediction(fn) -> None:
    """Check ``fn(rnn, u, h, du, dh) → (B, H)``: the first-order prediction of the next
    state for a batch of state perturbations ``dh (B, H)`` and one input perturbation
    ``du (I,)``, F(h, u) + J_h dh_b + J_u du for every row b."""
    import torch

    rnn, u, h = _small_torch_rnn(seed=11)
    g = torch.Generator().manual_seed(12)
    dh = 1e-2 * torch.randn(4, h.numel(), generator=g, dtype=torch.float64)
    du = 1e-2 * torch.randn(u.numel(), generator=g, dtype=torch.float64)
    with torch.no_grad():
        F, J_h, J_u = _rnn_reference(rnn, u, h)
        expected = F + dh @ J_h.T + J_u @ du
        got = fn(rnn, u, h, du, dh)
    got = _as_float64(got, "the prediction")
    B, H = dh.shape
    if tuple(got.shape) != (B, H):
        hint = {(H, B): " You returned the transpose: one row per perturbation, dh @ J_h.T",
                (H,): " Predict every row of the batch dh, not one state",
                (1, B, H): " Squeeze the layer axis of the RNN's output"}.get(tuple(got.shape), "")
        raise AssertionError(f"for dh of shape {(B, H)} return shape {(B, H)}; got "
                             f"{tuple(got.shape)}.{hint}")
    if torch.allclose(got, expected, rtol=1e-8, atol=1e-10):
        _ok("affine prediction F(h, u) + J_h dh + J_u du, row by row for a batch of dh")
        return
    slips = {
        "the state term is dh @ J_h.T (row b is J_h dh_b), not dh @ J_h": F + dh @ J_h + J_u @ du,
        "start from the next state F(h, u), not from the current state h":
            h + dh @ J_h.T + J_u @ du,
        "the input perturbation is missing: add J_u du": F + dh @ J_h.T,
        "the state perturbation is missing: add J_h dh for each row": (F + J_u @ du).expand(B, H),
        "these are the perturbations of the next state alone: add the next state F(h, u)":
            dh @ J_h.T + J_u @ du,
    }
    for slip, wrong in slips.items():
        if torch.allclose(got, wrong, rtol=1e-8, atol=1e-10):
            raise AssertionError(slip)
    with torch.no_grad():
        exact = torch.tanh(rnn.weight_ih_l0 @ (u + du) + rnn.bias_ih_l0
                           + (h + dh) @ rnn.weight_hh_l0.T + rnn.bias_hh_l0)
    if torch.allclose(got, exact, rtol=1e-8, atol=1e-10):
        raise AssertionError("this is the exact next state F(h + dh, u + du); the task is its "
                             "first-order (affine) approximation at (h, u)")
    b, i = (int(v) for v in ((got - expected).abs() > 1e-10).nonzero()[0])
    raise AssertionError(f"row {b}, unit {i}: expected {expected[b, i].item():.6f}, got "
                         f"{got[b, i].item():.6f}")


def _eig_case(moduli, angles):
    return np.asarray(moduli) * np.exp(1j * np.asarray(angles, dtype=float))


def check_stability_classification(fn) -> None:
    """Check ``fn(eigenvalues) → str`` for the fixed point of a map, given its eigenvalues
    as a complex torch tensor (as ``torch.linalg.eigvals`` returns them): "stable" if every
    eigenvalue has modulus below 1, "unstable" if every modulus is above 1, "saddle"
    otherwise, with " (oscillatory)" appended when an eigenvalue is complex."""
    import torch

    cases = [
        (_eig_case([0.5, 0.9, 0.2], [0, np.pi, 0]), "stable"),
        (_eig_case([0.95, 0.95, 0.3], [0.4, -0.4, 0]), "stable (oscillatory)"),
        (_eig_case([1.5, 2.0], [0, np.pi]), "unstable"),
        (_eig_case([1.2, 1.2], [2.0, -2.0]), "unstable (oscillatory)"),
        (_eig_case([1.3, 0.6, 0.1], [0, 0, np.pi]), "saddle"),
        (_eig_case([1.05, 1.05, 0.5], [0.1, -0.1, 0]), "saddle (oscillatory)"),
        (_eig_case([0.8, 0.3], [np.pi, np.pi]), "stable"),          # negative real parts
        (_eig_case([1.4, 0.5], [np.pi, 0]), "saddle"),              # flip, not stable
    ]
    hints = {
        ("stable", "unstable"): "negative eigenvalues are not unstable for a map: compare the "
                                "moduli abs(lambda) with 1, not the real parts with 0",
        ("saddle", "stable"): "a map is stable when abs(lambda) < 1 for every eigenvalue: compare "
                              "moduli with 1, not real parts with 0 (that is the rule for flows)",
    }
    for eigenvalues, expected in cases:
        for kind, arg in (("complex tensor", torch.as_tensor(eigenvalues)),):
            got = fn(arg)
            assert isinstance(got, str), f"return a string such as 'saddle'; got {got!r}"
            if got != expected:
                hint = hints.get((expected.split()[0], got.split()[0]), "")
                if not hint and expected.endswith("(oscillatory)") != got.endswith("(oscillatory)"):
                    hint = ("append ' (oscillatory)' exactly when some eigenvalue has a "
                            "non-zero imaginary part")
                raise AssertionError(
                    f"for eigenvalues {np.round(eigenvalues, 3)} (moduli "
                    f"{np.round(np.abs(eigenvalues), 3)}) given as a {kind} expected "
                    f"{expected!r}, got {got!r}. {hint}".rstrip())
    _ok("stable / unstable / saddle by the moduli of the eigenvalues, oscillatory when complex")


# ----------------------------------------------------------------------------------------
# Chapter 07: linear recurrent units
# ----------------------------------------------------------------------------------------

def check_lru_eigenvalues(fn) -> None:
    """Check ``fn(nu_log, theta_log) → lambda``: the LRU's eigenvalues
    lambda = exp(-exp(nu_log) + i exp(theta_log)), a complex tensor of the same shape."""
    import torch

    g = torch.Generator().manual_seed(4)
    nu_log = torch.randn(6, generator=g, dtype=torch.float64) - 2
    theta_log = torch.randn(6, generator=g, dtype=torch.float64) - 0.5
    expected = torch.exp(-torch.exp(nu_log) + 1j * torch.exp(theta_log))
    got = fn(nu_log, theta_log)
    assert isinstance(got, torch.Tensor), f"return a torch tensor; got {type(got).__name__}"
    assert got.is_complex(), (f"lambda must be a complex tensor; got dtype {got.dtype}. Build "
                              "the exponent as a complex number, -exp(nu_log) + 1j * "
                              "exp(theta_log)")
    assert tuple(got.shape) == (6,), f"one eigenvalue per mode: shape (6,); got {tuple(got.shape)}"
    if torch.allclose(got, expected, rtol=1e-10, atol=1e-12):
        mod = got.abs()
        _ok(f"lambda = exp(-exp(nu_log) + i exp(theta_log)): moduli in [{mod.min():.3f}, "
            f"{mod.max():.3f}], inside the unit disc for any real parameters")
        return
    slips = {
        "the modulus must be exp(-exp(nu_log)) < 1: the minus sign is missing":
            torch.exp(torch.exp(nu_log) + 1j * torch.exp(theta_log)),
        "nu_log is the log of nu: the modulus is exp(-exp(nu_log)), not exp(-nu_log)":
            torch.exp(-nu_log + 1j * torch.exp(theta_log)),
        "theta_log is the log of the phase: the phase is exp(theta_log), not theta_log":
            torch.exp(-torch.exp(nu_log) + 1j * theta_log),
        "modulus and phase are swapped: nu_log sets the modulus, theta_log the phase":
            torch.exp(-torch.exp(theta_log) + 1j * torch.exp(nu_log)),
    }
    for slip, wrong in slips.items():
        if torch.allclose(got.to(wrong.dtype), wrong, rtol=1e-10, atol=1e-12):
            raise AssertionError(slip)
    raise AssertionError(f"expected {np.round(expected.numpy(), 4)}, got "
                         f"{np.round(got.detach().numpy(), 4)}")


def check_scan_operator(fn) -> None:
    """Check ``fn(e1, e2) → (a, b)``: the associative operator of x_k = a_k x_{k-1} + b_k.
    For an earlier element e1 = (a1, b1) and a later one e2 = (a2, b2) it returns
    (a2 a1, a2 b1 + b2), elementwise, for complex tensors."""
    import torch

    g = torch.Generator().manual_seed(9)

    def draw():
        return (torch.randn(5, generator=g, dtype=torch.complex128),
                torch.randn(5, generator=g, dtype=torch.complex128))

    e1, e2, e3 = draw(), draw(), draw()
    got = fn(e1, e2)
    assert isinstance(got, (tuple, list)) and len(got) == 2, (
        f"return the pair (a, b); got {type(got).__name__}")
    a, b = got
    exp_a, exp_b = e2[0] * e1[0], e2[0] * e1[1] + e2[1]
    assert torch.allclose(torch.as_tensor(a), exp_a), (
        "the combined multiplier must be a2 * a1: applying both steps multiplies by both")
    if not torch.allclose(torch.as_tensor(b), exp_b):
        slips = {
            "the order is reversed: e1 is the earlier step, so the result is x -> a2 (a1 x "
            "+ b1) + b2, whose offset is a2 * b1 + b2": e1[0] * e2[1] + e1[1],
            "the earlier offset b1 passes through the later step, so it is multiplied by a2: "
            "a2 * b1 + b2": e1[1] + e2[1],
            "the later offset b2 is added after the later multiplication: a2 * b1 + b2":
                e2[0] * (e1[1] + e2[1]),
        }
        for slip, wrong in slips.items():
            if torch.allclose(torch.as_tensor(b), wrong):
                raise AssertionError(slip)
        raise AssertionError("the combined offset is wrong: (a1, b1) then (a2, b2) maps x to "
                             "a2 (a1 x + b1) + b2")
    left = fn(fn(e1, e2), e3)
    right = fn(e1, fn(e2, e3))
    assert all(torch.allclose(torch.as_tensor(p), torch.as_tensor(q))
               for p, q in zip(left, right)), (
        "the operator is not associative on these inputs")
    x0 = torch.randn(5, generator=g, dtype=torch.complex128)
    two_steps = e2[0] * (e1[0] * x0 + e1[1]) + e2[1]
    assert torch.allclose(a * x0 + b, two_steps)
    _ok("(a1, b1) then (a2, b2) gives (a2 a1, a2 b1 + b2): associative, and equal to two steps")
