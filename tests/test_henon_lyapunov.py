"""The Henon reference and the QR estimator, against published values and exact rules."""

import numpy as np
import pytest

from course_utils.henon import (HENON_LYAPUNOV, henon_jacobian, henon_map, henon_orbit)
from course_utils.lyapunov import lyapunov_from_jacobians


def test_one_step_by_hand():
    np.testing.assert_allclose(henon_map([0.1, 0.1]), [1.086, 0.03], rtol=1e-14)
    np.testing.assert_allclose(henon_map([[0.0, 0.0]], a=1.2, b=0.4), [[1.0, 0.0]])


def test_analytic_jacobian_matches_autograd(tf):
    z = np.random.default_rng(0).uniform(-1.3, 1.3, size=(64, 2))
    zt = tf.constant(z, dtype=tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(zt)
        x, y = zt[:, 0], zt[:, 1]
        out = tf.stack([1.0 - 1.4 * x * x + y, 0.3 * x], axis=1)
    auto = tape.batch_jacobian(out, zt).numpy()
    np.testing.assert_allclose(henon_jacobian(z), auto, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(out.numpy(), henon_map(z), rtol=1e-14)


def test_henon_exponents_match_reference_and_sum_rule():
    orbit = henon_orbit([0.1, 0.1], 100_000, transient=1_000)
    lam = lyapunov_from_jacobians(henon_jacobian(orbit), transient=100)
    assert abs(lam[0] - HENON_LYAPUNOV[0]) < 0.002
    assert abs(lam[1] - HENON_LYAPUNOV[1]) < 0.002
    assert lam.sum() == pytest.approx(np.log(0.3), rel=1e-6)


def test_linear_map_gives_log_moduli_of_eigenvalues():
    # A non-normal matrix with eigenvalues 1.5 e^{+-0.7i} and 0.2: the exponents are the
    # logs of the moduli, although the matrix itself stretches far more than that.
    rng = np.random.default_rng(1)
    P = rng.normal(size=(3, 3))
    rot = 1.5 * np.array([[np.cos(0.7), -np.sin(0.7)], [np.sin(0.7), np.cos(0.7)]])
    D = np.block([[rot, np.zeros((2, 1))], [np.zeros((1, 2)), np.array([[0.2]])]])
    A = P @ D @ np.linalg.inv(P)
    lam = lyapunov_from_jacobians(np.broadcast_to(A, (4000, 3, 3)), transient=200)
    np.testing.assert_allclose(lam, np.log([1.5, 1.5, 0.2]), atol=2e-3)


def test_batch_history_dt_and_order():
    orbits = henon_orbit(np.array([[0.1, 0.1], [0.3, -0.1]]), 2000, transient=100)
    J = henon_jacobian(orbits)                      # (2, 2000, 2, 2)
    lam, history = lyapunov_from_jacobians(J, transient=10, dt=0.5, return_history=True)
    assert lam.shape == (2, 2) and history.shape == (2, 1990, 2)
    np.testing.assert_allclose(history[:, -1], lam)
    for b in range(2):
        single = lyapunov_from_jacobians(J[b], transient=10)
        np.testing.assert_allclose(lam[b], single / 0.5, rtol=1e-12)
        assert single[0] > single[1]


@pytest.mark.parametrize("bad, match", [
    (np.zeros((5, 2, 3)), "shape"),
    (np.zeros((5, 2)), "shape"),
])
def test_bad_shapes_are_named(bad, match):
    with pytest.raises(ValueError, match=match) as info:
        lyapunov_from_jacobians(bad)
    assert str(bad.shape) in str(info.value)


def test_non_finite_and_transient_errors():
    J = np.broadcast_to(np.eye(2), (10, 2, 2)).copy()
    J[6, 0, 0] = np.inf
    with pytest.raises(ValueError, match="step 6"):
        lyapunov_from_jacobians(J)
    with pytest.raises(ValueError, match="transient must be in 0..9"):
        lyapunov_from_jacobians(np.ones((10, 2, 2)), transient=10)


def test_diverging_orbit_says_so():
    with pytest.raises(FloatingPointError, match="diverged"):
        henon_orbit([3.0, 3.0], 50)
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        henon_map([1.0, 2.0, 3.0])


def test_orbit_is_reproducible_and_on_the_attractor():
    a = henon_orbit([0.1, 0.1], 500, transient=100)
    b = henon_orbit([0.1, 0.1], 500, transient=100)
    np.testing.assert_array_equal(a, b)
    assert np.all(np.abs(a[:, 0]) < 1.3) and np.all(np.abs(a[:, 1]) < 0.4)
