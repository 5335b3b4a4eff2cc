"""The Lyapunov toolkit (course_utils.lyapunov), PyTorch and NumPy, against reference
values, exact rules and autograd.

References: Henon (1.4, 0.3) 0.41922, -1.62319 per step, sum ln 0.3; Lorenz-63
(10, 28, 8/3) 0.9056, 0, -14.5723 per time unit, sum -(sigma + 1 + beta).
"""

import math

import numpy as np
import pytest
import torch

from course_utils.henon import HENON_LYAPUNOV, henon_jacobian, henon_orbit
from course_utils.lorenz import (LORENZ_BETA, LORENZ_LYAPUNOV, LORENZ_SIGMA,
                                 lorenz63_rk4_jacobian, lorenz63_rk4_step)
from course_utils.lyapunov import (kaplan_yorke_dimension, lyapunov_from_jacobians,
                                   lyapunov_spectrum, max_lyapunov, naive_product_log_norms,
                                   predicted_overflow_step)
from course_utils.models import ShallowPLRNN

LN_03 = math.log(0.3)


def henon(z):
    """The Henon map for a batch of torch states (B, 2)."""
    x, y = z[:, 0], z[:, 1]
    return torch.stack([1.0 - 1.4 * x * x + y, 0.3 * x], dim=1)


def henon_jac(z):
    J = torch.zeros(z.shape[0], 2, 2, dtype=z.dtype)
    J[:, 0, 0] = -2.8 * z[:, 0]
    J[:, 0, 1] = 1.0
    J[:, 1, 0] = 0.3
    return J


def henon_starts(n, seed=0):
    """n states on the Henon attractor."""
    rng = np.random.default_rng(seed)
    return torch.tensor(henon_orbit(rng.uniform(-0.1, 0.1, (n, 2)), 1, transient=300)[:, 0])


def lorenz_starts(n, seed=0):
    """n states on the Lorenz attractor (10 time units after random starts)."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, 3, generator=g, dtype=torch.float64) * 5 + torch.tensor([0, 0, 25.0])
    for _ in range(1000):
        z = lorenz63_rk4_step(z)
    return z


def autograd_jacobians(f, z):
    return torch.stack([torch.autograd.functional.jacobian(lambda v: f(v[None])[0], zi)
                        for zi in z])


# ----------------------------------------------------------------- analytic Jacobians

def test_the_henon_jacobian_of_these_tests_agrees_with_autograd():
    """henon_jac, the analytic route of the tests below (the Jacobians of the package's
    maps and models are tested in test_lorenz.py and test_models.py)."""
    z = henon_starts(16)
    with torch.no_grad():
        analytic = henon_jac(z)
    torch.testing.assert_close(analytic, autograd_jacobians(henon, z), rtol=1e-10, atol=1e-10)


def test_autograd_and_analytic_routes_give_the_same_spectrum():
    z0 = henon_starts(3)
    auto = lyapunov_spectrum(henon, z0, 300, transient=20)
    analytic = lyapunov_spectrum(henon, z0, 300, transient=20, jacobian=henon_jac)
    torch.testing.assert_close(auto, analytic, rtol=1e-10, atol=1e-10)


# ----------------------------------------------------------------- reference values

def test_henon_reference_values_and_sum_rule():
    lam = lyapunov_spectrum(henon, henon_starts(32), 10_000, jacobian=henon_jac,
                            transient=100, reortho_every=4)
    mean = lam.mean(0)
    assert abs(mean[0] - HENON_LYAPUNOV[0]) < 0.002
    assert abs(mean[1] - HENON_LYAPUNOV[1]) < 0.002
    # det J = -b at every state: the sum is ln 0.3 along every orbit, at any length
    torch.testing.assert_close(lam.sum(1), torch.full((32,), LN_03, dtype=torch.float64),
                               rtol=1e-6, atol=0)


def test_lorenz_reference_values_per_time_unit_and_sum_rule():
    dt = 0.01
    lam = lyapunov_spectrum(lorenz63_rk4_step, lorenz_starts(64), 8_000, dt=dt,
                            jacobian=lorenz63_rk4_jacobian, transient=200, reortho_every=10)
    mean = lam.mean(0)
    for got, want, tol in zip(mean.tolist(), LORENZ_LYAPUNOV, (0.01, 0.01, 0.03)):
        assert abs(got - want) < tol, (mean, LORENZ_LYAPUNOV)
    divergence = -(LORENZ_SIGMA + 1 + LORENZ_BETA)
    torch.testing.assert_close(lam.sum(1), torch.full((64,), divergence, dtype=torch.float64),
                               rtol=1e-3, atol=0)


def test_linear_map_gives_log_moduli_of_its_eigenvalues():
    # A non-normal matrix with eigenvalues 1.5 e^{+-0.7i} and 0.2, as the affine map
    # f(z) = A (z - c) + c started at its fixed point c: the state stays put, and the
    # tangent dynamics are A at every step.
    rng = np.random.default_rng(1)
    P = rng.normal(size=(3, 3))
    rot = 1.5 * np.array([[np.cos(0.7), -np.sin(0.7)], [np.sin(0.7), np.cos(0.7)]])
    D = np.block([[rot, np.zeros((2, 1))], [np.zeros((1, 2)), np.array([[0.2]])]])
    A = torch.tensor(P @ D @ np.linalg.inv(P))
    c = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    f = lambda z: (z - c) @ A.T + c  # noqa: E731
    jac = lambda z: A.expand(len(z), 3, 3)  # noqa: E731
    want = torch.log(torch.tensor([1.5, 1.5, 0.2], dtype=torch.float64))
    lam = lyapunov_spectrum(f, c, 4000, transient=200, jacobian=jac)
    torch.testing.assert_close(lam, want, atol=2e-3, rtol=0)
    lam2 = lyapunov_spectrum(f, c, 4000, transient=200, k=2, jacobian=jac)
    torch.testing.assert_close(lam2, lam[:2], atol=1e-12, rtol=0)
    assert abs(max_lyapunov(f, c, 4000, transient=200, jacobian=jac) - math.log(1.5)) < 2e-3


def test_transient_and_order_match_the_numpy_reference():
    orbit = henon_orbit([0.1, 0.1], 1500, transient=100)
    z0 = torch.tensor(orbit[0])
    want = lyapunov_from_jacobians(henon_jacobian(orbit), transient=250)
    lam, history = lyapunov_spectrum(henon, z0, 1250, transient=250, jacobian=henon_jac,
                                     return_history=True)
    np.testing.assert_allclose(lam.numpy(), want, rtol=1e-10)
    assert history.shape == (1250, 2)
    torch.testing.assert_close(history[-1], lam)
    lam_m = lyapunov_spectrum(henon, z0, 1250, transient=250, jacobian=henon_jac,
                              reortho_every=5)
    np.testing.assert_allclose(lam_m.numpy(), want, rtol=1e-10)


def test_max_lyapunov_is_the_k1_spectrum_and_dt_divides():
    z0 = henon_starts(4)
    e1 = torch.tensor([1.0, 0.0], dtype=torch.float64)
    spectrum_k1 = lyapunov_spectrum(henon, z0, 500, k=1, transient=50, jacobian=henon_jac)
    jvp_route = max_lyapunov(henon, z0, 500, transient=50, v0=e1)
    analytic = max_lyapunov(henon, z0, 500, transient=50, v0=e1, jacobian=henon_jac, dt=0.5)
    torch.testing.assert_close(jvp_route, spectrum_k1[:, 0], rtol=1e-10, atol=0)
    torch.testing.assert_close(analytic, 2 * spectrum_k1[:, 0], rtol=1e-10, atol=0)
    lam, history = max_lyapunov(henon, z0[0], 500, return_history=True, seed=7)
    assert lam.shape == () and history.shape == (500,) and history[-1] == lam
    assert max_lyapunov(henon, z0[0], 500, seed=7) == lam  # the same seed, the same number


# ----------------------------------------------------------------- the naive product

@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_naive_product_overflows_at_the_predicted_step(dtype):
    predicted = predicted_overflow_step(HENON_LYAPUNOV[0], dtype)
    rng = np.random.default_rng(0)
    overflow_steps, rates = [], []
    for _ in range(16):
        orbit = henon_orbit(rng.uniform(-0.1, 0.1, 2), int(1.5 * predicted), transient=500)
        log_norms = naive_product_log_norms(henon_jacobian(orbit), dtype=dtype)
        n = int(torch.isinf(log_norms).nonzero()[0]) + 1   # factors in the first inf product
        assert torch.isfinite(log_norms[: n - 1]).all() and torch.isinf(log_norms[n - 1:]).all()
        half = int(predicted / 2)
        rates.append(float(log_norms[half - 1]) / half)
        overflow_steps.append(n)
    # before the overflow ln ||P_n|| grows like n lambda_1; single orbits fluctuate
    # (finite-time exponents), the median over orbits does not
    assert np.median(rates) == pytest.approx(HENON_LYAPUNOV[0], rel=0.05)
    assert np.median(overflow_steps) == pytest.approx(predicted, rel=0.05)


def test_naive_product_is_the_sheets_product_and_overflow_formula():
    rng = np.random.default_rng(2)
    J = rng.normal(size=(4, 3, 3))
    log_norms = naive_product_log_norms(J, dtype="float64")
    want = [J[3], J[3] @ J[2], J[3] @ J[2] @ J[1], J[3] @ J[2] @ J[1] @ J[0]]
    np.testing.assert_allclose(log_norms.numpy(), [np.log(np.linalg.norm(P, 2)) for P in want],
                               rtol=1e-12)
    assert predicted_overflow_step(1.0, "float32") == pytest.approx(math.log(3.4028235e38))
    assert predicted_overflow_step(0.5, torch.float64) == pytest.approx(709.782712893384 / 0.5)
    with pytest.raises(ValueError, match="lambda_max must be positive"):
        predicted_overflow_step(-0.1)
    with pytest.raises(ValueError, match=r"\(T, d, d\); got \(4, 3\)"):
        naive_product_log_norms(np.zeros((4, 3)))


def test_kaplan_yorke_dimension():
    assert kaplan_yorke_dimension(HENON_LYAPUNOV) == pytest.approx(1 + 0.41922 / 1.62319)
    assert kaplan_yorke_dimension(torch.tensor([0.0, -14.5723, 0.9056])) == pytest.approx(
        2 + 0.9056 / 14.5723)
    assert kaplan_yorke_dimension([-0.1, -0.5]) == 0.0
    assert kaplan_yorke_dimension([0.3, 0.1]) == 2.0
    assert kaplan_yorke_dimension([1.0, -0.5, -2.0]) == pytest.approx(2.25)


# ----------------------------------------------------------------- bad input

def test_z0_and_f_disagreeing_on_d():
    with pytest.raises(ValueError, match=r"shape \(1, 3\)"):
        lyapunov_spectrum(henon, torch.zeros(3), 10)         # henon reads z[:, 1] only
    model = ShallowPLRNN(5, 8, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"z0 of shape \(4, 3\)"):
        lyapunov_spectrum(model, torch.zeros(4, 3), 10)
    with pytest.raises(ValueError, match="parameters are torch.float32 but the states are torch.float64"):
        lyapunov_spectrum(ShallowPLRNN(5, 8, 2), torch.zeros(5), 10)


@pytest.mark.parametrize("k", [0, 3])
def test_k_outside_1_to_d(k):
    with pytest.raises(ValueError, match=rf"k must be in 1..2 .* got k={k}"):
        lyapunov_spectrum(henon, henon_starts(1)[0], 10, k=k)


def test_non_finite_states_and_jacobians_name_the_step():
    with pytest.raises(FloatingPointError, match="state became non-finite at step 3"):
        lyapunov_spectrum(lambda z: z * 1e100, torch.ones(2), 10)    # 1e400 = inf at step 3
    calls = []

    def broken_jacobian(z):
        calls.append(None)
        J = henon_jac(z)
        return J * math.nan if len(calls) == 8 else J

    with pytest.raises(FloatingPointError, match="Jacobian became non-finite at step 2 "):
        lyapunov_spectrum(henon, henon_starts(1)[0], 20, transient=5, jacobian=broken_jacobian)
    with pytest.raises(FloatingPointError, match="tangent vector J v became non-finite"):
        max_lyapunov(henon, henon_starts(1)[0], 20,
                     jacobian=lambda z: henon_jac(z) * math.inf)


def test_reortho_every_too_large_warns_with_the_rule_of_thumb():
    z0 = henon_starts(1)[0]
    with pytest.warns(RuntimeWarning, match=r"reortho_every=12 is too large .*Rule of thumb"):
        lyapunov_spectrum(henon, z0, 240, jacobian=henon_jac, reortho_every=12)
    with pytest.warns(RuntimeWarning, match="too large for float32"):
        lyapunov_spectrum(henon, z0, 240, jacobian=henon_jac, reortho_every=6,
                          dtype="float32")


# ------------------------------------------------------- NumPy: from stored Jacobians

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
