"""Checks of chapter 01 (the Henon map as a Keras RNN cell): the cell, its Jacobian and the
QR estimate of the Lyapunov spectrum."""

from __future__ import annotations

import numpy as np

from ..henon import HENON_A, HENON_B, henon_jacobian, henon_map, henon_orbit
from ..lyapunov import lyapunov_from_jacobians
from ._common import fmt as _fmt, ok as _ok

CHAPTER = "01_henon_keras_rnn"
__all__ = ["check_henon_cell", "check_henon_jacobian", "check_lyapunov_qr"]

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
    from ..runtime import import_tensorflow

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


