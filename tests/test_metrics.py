"""The reconstruction measures (course_utils.metrics): the state-space divergence, the
power-spectrum distance and their helpers, on hand-made examples and on Lorenz-63 data."""

import math

import numpy as np
import pytest
import torch

from course_utils.data import make_lorenz_dataset, reference_orbit
from course_utils.metrics import (gaussian_smooth, hellinger_distance,
                                  power_spectrum_distance, state_space_divergence,
                                  state_space_divergences)


@pytest.fixture(scope="module")
def lorenz():
    """Two clean stretches of 20,000 points of the standardised Lorenz delay embedding,
    1000 read-outs apart on the same orbit (about 0.2 s to make)."""
    d = make_lorenz_dataset(n_train=20_000, n_test=20_000, noise=0.0, seed=0)
    return d["test"].double().numpy(), d["train_clean"].double().numpy()


def _gaussian_like(X, seed):
    rng = np.random.default_rng(seed)
    return rng.multivariate_normal(X.mean(axis=0), np.cov(X.T), size=len(X))


# --- state_space_divergence --------------------------------------------------------------

def test_divergence_of_identical_orbits_is_zero(lorenz):
    A, _ = lorenz
    assert abs(state_space_divergence(A, A)) < 1e-12
    assert abs(state_space_divergence(torch.from_numpy(A), A.copy())) < 1e-12


def test_divergence_ranks_a_gaussian_far_below_the_attractor(lorenz):
    A, B = lorenz
    G = _gaussian_like(A, seed=1)
    d_gauss = state_space_divergence(A, G)
    d_same = state_space_divergence(A, B)
    assert d_gauss > 1
    assert 0 < d_same < d_gauss / 3
    # torch input gives the same number
    assert state_space_divergence(torch.from_numpy(A), torch.from_numpy(G)) == d_gauss


def test_divergence_is_stable_across_seeds(lorenz):
    A, _ = lorenz
    d1 = state_space_divergence(A, _gaussian_like(A, seed=2))
    d2 = state_space_divergence(A, _gaussian_like(A, seed=3))
    assert abs(d1 - d2) < 0.1 * max(d1, d2)


def test_divergences_of_several_orbits_are_each_orbits_divergence(lorenz):
    A, B = lorenz
    G = _gaussian_like(A, seed=4)
    D = state_space_divergences(A, np.stack([B, G, A]), n_bins=20)
    assert D.shape == (3,)
    assert D.tolist() == [state_space_divergence(A, X, n_bins=20) for X in (B, G, A)]
    # a list of orbits of other lengths, and a torch batch, give the same figures
    assert state_space_divergences(A, [B[:5000], G]).tolist() == [
        state_space_divergence(A, B[:5000]), state_space_divergence(A, G)]
    assert np.array_equal(state_space_divergences(torch.from_numpy(A), torch.from_numpy(
        np.stack([B, G]))), state_space_divergences(A, np.stack([B, G])))


def test_divergences_of_the_true_system_scatter():
    """One finite stretch gives one draw: stretches of the true system (a perfect model)
    score differently against the same test series, all far below a Gaussian cloud."""
    d = make_lorenz_dataset(n_train=20_000, n_test=20_000, noise=0.0, seed=0)
    R = reference_orbit(80_000, mean=d["mean"], std=d["std"], component=0, seed=1)
    D = state_space_divergences(d["test"], R.reshape(4, 20_000, 3))
    gauss = state_space_divergence(d["test"], _gaussian_like(d["test"].double().numpy(), 5))
    assert D.max() - D.min() > 0.2 * D.mean()
    assert D.max() < gauss / 3


def test_divergences_need_a_batch_of_orbits(lorenz):
    A, _ = lorenz
    with pytest.raises(ValueError, match=r"\(K, T, N\).*shape \(20000, 3\)"):
        state_space_divergences(A, A)
    with pytest.raises(ValueError, match="empty"):
        state_space_divergences(A, [])


def test_divergence_of_an_orbit_outside_the_boxes(lorenz):
    A, _ = lorenz
    n_bins = 30
    far = state_space_divergence(A, A + 100.0, n_bins=n_bins)
    nonfinite = state_space_divergence(A, np.full_like(A, np.nan), n_bins=n_bins)
    # no generated point counts, so q is the uniform distribution: D = KL(p || uniform)
    pad = 0.1 * A.std(axis=0)
    edges = [np.linspace(A[:, i].min() - pad[i], A[:, i].max() + pad[i], n_bins + 1)
             for i in range(3)]
    counts = np.histogramdd(A, bins=edges)[0].ravel()
    p = (counts + 1e-5) / (counts.sum() + 1e-5 * counts.size)
    expected = float(np.sum(p * np.log(p * counts.size)))
    assert far == pytest.approx(expected, rel=1e-9)
    assert nonfinite == pytest.approx(expected, rel=1e-9)
    assert far > state_space_divergence(A, _gaussian_like(A, seed=1))


def test_divergence_by_hand_on_a_tiny_example():
    x_true = np.array([0.0, 1.0, 2.0, 3.0])
    # range [-0.1 sd, 3 + 0.1 sd] with sd = sqrt(1.25): two boxes split at 1.5;
    # 3.05 is inside thanks to the margin, -0.2 and 50 are outside and not counted
    x_gen = np.array([0.2, 0.4, 1.0, 3.05, -0.2, 50.0])
    alpha = 0.5
    p = np.array([2 + alpha, 2 + alpha]) / (4 + 2 * alpha)
    q = np.array([3 + alpha, 1 + alpha]) / (4 + 2 * alpha)
    expected = p[0] * math.log(p[0] / q[0]) + p[1] * math.log(p[1] / q[1])
    got = state_space_divergence(x_true, x_gen, n_bins=2, alpha=alpha)
    assert got == pytest.approx(expected, rel=1e-12)
    assert state_space_divergence(x_true[:, None], x_gen[:, None], n_bins=2,
                                  alpha=alpha) == got
    # without the margin 3.05 falls outside as well
    q0 = np.array([3 + alpha, 0 + alpha]) / (3 + 2 * alpha)
    expected0 = p[0] * math.log(p[0] / q0[0]) + p[1] * math.log(p[1] / q0[1])
    assert state_space_divergence(x_true, x_gen, n_bins=2, alpha=alpha, margin=0.0) == \
        pytest.approx(expected0, rel=1e-12)


def test_divergence_rejects_mismatched_dimensions():
    with pytest.raises(ValueError) as info:
        state_space_divergence(np.zeros((100, 3)), np.zeros((80, 2)))
    assert "(100, 3)" in str(info.value) and "(80, 2)" in str(info.value)


@pytest.mark.parametrize("kwargs", [dict(n_bins=0), dict(margin=-0.1), dict(alpha=0.0)])
def test_divergence_rejects_bad_settings(kwargs):
    rng = np.random.default_rng(0)
    name = next(iter(kwargs))
    with pytest.raises(ValueError, match=name):
        state_space_divergence(rng.standard_normal((50, 2)), rng.standard_normal((50, 2)),
                               **kwargs)


def test_divergence_rejects_non_finite_true_orbit():
    x_true = np.ones((10, 2))
    x_true[3, 1] = np.inf
    with pytest.raises(ValueError, match="x_true"):
        state_space_divergence(x_true, np.ones((10, 2)))


# --- gaussian_smooth ---------------------------------------------------------------------

def test_smoothing_with_sigma_zero_is_the_identity():
    x = np.random.default_rng(0).standard_normal(50)
    y = gaussian_smooth(x, 0)
    np.testing.assert_array_equal(y, x)
    y[0] = 123.0
    assert x[0] != 123.0                            # a copy


@pytest.mark.parametrize("sigma", [-1.0, float("nan")])
def test_smoothing_rejects_a_negative_sigma(sigma):
    with pytest.raises(ValueError, match="sigma"):
        gaussian_smooth(np.ones(10), sigma)


def test_smoothing_rejects_2d_input():
    with pytest.raises(ValueError, match=r"1-D.*\(3, 4\)"):
        gaussian_smooth(np.ones((3, 4)), 1.0)


@pytest.mark.parametrize("sigma", [0.7, 3.0, 20.0])
def test_smoothing_keeps_constants_and_the_sum(sigma):
    np.testing.assert_allclose(gaussian_smooth(np.full(200, 2.5), sigma), 2.5, rtol=1e-13)
    x = np.random.default_rng(1).random(500)
    y = gaussian_smooth(x, sigma)
    assert y.shape == x.shape
    # reflection at the ends hands back the weight beyond the edges: the sum is kept
    assert y.sum() == pytest.approx(x.sum(), rel=1e-12)
    assert y.std() < x.std()


def _kernel(sigma, truncate=4.0):
    radius = int(truncate * sigma + 0.5)
    k = np.arange(-radius, radius + 1)
    w = np.exp(-k ** 2 / (2 * sigma ** 2))
    return k, w / w.sum()


def test_smoothing_is_the_convolution_with_a_gaussian_kernel():
    x = np.random.default_rng(2).standard_normal(200)
    sigma = 3.0
    k, w = _kernel(sigma)
    y = gaussian_smooth(x, sigma)
    for i in (50, 100, 187):
        assert y[i] == pytest.approx(np.sum(w * x[i + k]), rel=1e-12, abs=1e-14)
    # at the left end the series is reflected: x[-1] -> x[0], x[-2] -> x[1], ...
    reflected = np.array([x[j] if j >= 0 else x[-1 - j] for j in 0 + k])
    assert y[0] == pytest.approx(np.sum(w * reflected), rel=1e-12, abs=1e-14)
    reflected = np.array([x[j] if j < len(x) else x[2 * len(x) - 1 - j]
                          for j in len(x) - 1 + k])
    assert y[-1] == pytest.approx(np.sum(w * reflected), rel=1e-12, abs=1e-14)
    # an interior impulse becomes the kernel
    delta = np.zeros(101)
    delta[50] = 1.0
    np.testing.assert_allclose(gaussian_smooth(delta, sigma)[50 + k], w, rtol=1e-12)


def test_smoothing_matches_scipy():
    ndimage = pytest.importorskip("scipy.ndimage")
    x = np.random.default_rng(3).standard_normal(300)
    for sigma in (0.5, 2.0, 7.5):
        np.testing.assert_allclose(gaussian_smooth(x, sigma),
                                   ndimage.gaussian_filter1d(x, sigma), rtol=1e-10,
                                   atol=1e-12)


# --- hellinger_distance ------------------------------------------------------------------

def test_hellinger_of_equal_and_disjoint_distributions():
    p = np.random.default_rng(4).random(40)
    p /= p.sum()
    assert hellinger_distance(p, p) < 1e-7
    assert hellinger_distance([1.0, 0.0, 0.0], [0.0, 0.5, 0.5]) == 1.0


def test_hellinger_by_hand_and_symmetric():
    assert hellinger_distance([0.5, 0.5], [1.0, 0.0]) == \
        pytest.approx(math.sqrt(1 - math.sqrt(0.5)), rel=1e-14)
    rng = np.random.default_rng(5)
    for _ in range(5):
        p, q = rng.random(10), rng.random(10)
        p, q = p / p.sum(), q / q.sum()
        h = hellinger_distance(p, q)
        assert 0 < h < 1
        assert h == pytest.approx(hellinger_distance(q, p), rel=1e-14)


def test_hellinger_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"\(3,\).*\(4,\)"):
        hellinger_distance(np.ones(3) / 3, np.ones(4) / 4)


# --- power_spectrum_distance -------------------------------------------------------------

def test_spectrum_distance_of_identical_orbits_is_zero(lorenz):
    A, _ = lorenz
    assert power_spectrum_distance(A, A) < 1e-6
    assert power_spectrum_distance(torch.from_numpy(A), A.copy()) < 1e-6


def test_spectrum_distance_separates_noise_from_a_shifted_window(lorenz):
    A, B = lorenz
    noise = np.random.default_rng(6).standard_normal(A.shape)
    d_noise = power_spectrum_distance(A, noise)
    d_shift = power_spectrum_distance(A, B)
    assert d_noise > 0.5
    assert 0 < d_shift < 0.2 and d_shift < d_noise / 4
    # one column at a time: the mean over columns
    per_column = [power_spectrum_distance(A[:, i], noise[:, i]) for i in range(3)]
    assert d_noise == pytest.approx(np.mean(per_column), rel=1e-12)


def test_spectrum_distance_lies_in_the_unit_interval(lorenz):
    A, B = lorenz
    rng = np.random.default_rng(7)
    n = 2000
    for x_gen in (B[:n], rng.standard_normal((n, 3)), np.cumsum(rng.standard_normal((n, 3)),
                                                                 axis=0), B[:n] ** 2):
        d = power_spectrum_distance(A[:n], x_gen)
        assert 0 <= d <= 1


def test_spectrum_distance_ignores_affine_rescaling(lorenz):
    A, B = lorenz
    d = power_spectrum_distance(A, B)
    assert power_spectrum_distance(A, 3.7 * B - 12.0) == pytest.approx(d, rel=1e-9)
    assert power_spectrum_distance(A, -0.01 * B + 5.0) == pytest.approx(d, rel=1e-9)
    assert power_spectrum_distance(0.5 * A + 1.0, B) == pytest.approx(d, rel=1e-9)


def test_spectrum_distance_of_a_constant_or_non_finite_generated_orbit_is_one(lorenz):
    A, B = lorenz
    assert power_spectrum_distance(A, np.full_like(A, 3.0)) == 1.0
    broken = B.copy()
    broken[100, :] = np.nan
    assert power_spectrum_distance(A, broken) == 1.0
    # one bad column out of three counts 1 for that column only
    partly = B.copy()
    partly[:, 2] = np.inf
    expected = (power_spectrum_distance(A[:, :2], B[:, :2]) * 2 + 1.0) / 3
    assert power_spectrum_distance(A, partly) == pytest.approx(expected, rel=1e-12)


def test_spectrum_distance_rejects_different_lengths_and_a_constant_true_orbit():
    with pytest.raises(ValueError) as info:
        power_spectrum_distance(np.random.default_rng(8).standard_normal((100, 2)),
                                np.random.default_rng(9).standard_normal((90, 2)))
    assert "(100, 2)" in str(info.value) and "(90, 2)" in str(info.value)
    with pytest.raises(ValueError, match="constant"):
        power_spectrum_distance(np.ones((100, 1)), np.arange(100.0))
