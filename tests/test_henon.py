"""The Henon map (course_utils.henon): one step by hand, its Jacobian against autograd, and
its orbits. Its Lyapunov exponents are tested with the estimators, in test_lyapunov.py."""

import numpy as np
import pytest

from course_utils.henon import henon_jacobian, henon_map, henon_orbit


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
