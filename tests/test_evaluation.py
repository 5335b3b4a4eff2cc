"""How good a reconstruction is (course_utils.evaluation): the maximum Lyapunov exponent of
a model, the free-run distances, and the long-term fate of its orbits (chaotic, transient
chaos, a stable fixed point, divergence)."""

import math

import numpy as np
import pytest
import torch

from course_utils.evaluation import evaluate_reconstruction, model_max_lyapunov
from course_utils.models import ShallowPLRNN


def _model(M=7, L=13, N=3, seed=1, dtype=torch.float64):
    return ShallowPLRNN(M, L, N, seed=seed, dtype=dtype)


def test_max_lyapunov_of_a_linear_plrnn_is_the_log_of_the_largest_a():
    """With W1 = 0 the map is z -> A * z + h1, whose exponents are ln |A_i|."""
    model = _model(M=4, L=3, N=1)
    with torch.no_grad():
        model.W1.zero_()
        model.A.copy_(torch.tensor([0.5, 0.9, -0.95, 0.2]))
    lam = model_max_lyapunov(model, torch.randn(3, 4, dtype=torch.float64), n_steps=2000,
                             transient=100, dt=0.01)
    torch.testing.assert_close(lam, torch.full((3,), math.log(0.95) / 0.01,
                                               dtype=torch.float64), rtol=1e-3, atol=0)


def test_evaluation_of_the_model_against_its_own_orbit_gives_zero_distances():
    """Test data made by the model itself from the same initial observation: the generated
    orbit is the test orbit, so both distances vanish."""
    model = _model(M=5, L=20, N=2, seed=4)
    x_test = model.observe(model.generate(torch.tensor([0.1, 0.2], dtype=torch.float64),
                                          1000))
    figures = evaluate_reconstruction(model, x_test, transient=0, n_lyapunov=500,
                                      n_orbits=2, dt=0.5)
    assert figures["D_stsp"] == pytest.approx(0.0, abs=1e-12)
    assert figures["D_H"] == pytest.approx(0.0, abs=1e-7)
    torch.testing.assert_close(figures["generated"], x_test)
    assert len(figures["lambda_per_orbit"]) == len(figures["fates"]) == 2
    # A mean exponent only for orbits that are all still chaotic at the end.
    assert math.isfinite(figures["lambda_max"]) == figures["all_chaotic"]
    if figures["all_chaotic"]:
        assert figures["lambda_max"] == pytest.approx(figures["lambda_per_orbit"].mean())
        assert figures["lambda_max_rel_error"] == pytest.approx(
            abs(figures["lambda_max"] - 0.906) / 0.906)


def test_evaluation_of_a_diverging_model_says_so():
    """A linear model that doubles its state every step: the orbit overflows, and the
    figures say it diverged (no exponents, infinite distances) instead of failing."""
    model = _model(M=2, L=3, N=2, seed=0)
    with torch.no_grad():
        model.A.fill_(2.0)
        model.W1.zero_()
    x_test = torch.ones(2000, 2, dtype=torch.float64)
    figures = evaluate_reconstruction(model, x_test, transient=0, n_lyapunov=10, n_orbits=2)
    assert figures["verdict"] == "diverged: the generated orbit is not finite"
    assert math.isnan(figures["lambda_max"]) and not figures["all_chaotic"]
    assert figures["D_stsp"] == figures["D_H"] == math.inf


def _tent_plrnn(s):
    """A PLRNN with M = N = 1, L = 2: on [0, 1] the tent map of slope s (chaotic, lambda =
    ln s per step); below -1 a branch of slope 0.5 towards the stable fixed point
    z* = 1 - 2s. For s > 2 the tent's top leaves [0, 1]: orbits are chaotic for about
    1 / (1 - 2/s) steps, then escape and settle on z* (transient chaos); for s < 2 they
    stay chaotic; for s < 1 they go to the fixed point 0."""
    model = ShallowPLRNN(1, 2, 1, seed=0, dtype=torch.float64)
    with torch.no_grad():
        model.A.fill_(s)
        model.W1.copy_(torch.tensor([[-2 * s, s - 0.5]]))
        model.W2.copy_(torch.tensor([[1.0], [-1.0]]))
        model.h2.copy_(torch.tensor([-0.5, -1.0]))
        model.h1.zero_()
    return model


def _evaluate_tent(s, horizon):
    model = _tent_plrnn(s)
    x_test = model.observe(model.generate(torch.tensor([0.3141], dtype=torch.float64), 300))
    return evaluate_reconstruction(model, x_test, transient=0, n_generate=200, n_lyapunov=100,
                                   n_orbits=8, dt=1.0, horizon=horizon)


def test_evaluation_flags_transient_chaos_instead_of_averaging_it():
    figures = _evaluate_tent(2.002, horizon=20_000)
    # Chaotic at first: every orbit's exponent over 100 steps is ln s ...
    np.testing.assert_allclose(figures["lambda_per_orbit"], math.log(2.002), rtol=1e-6)
    # ... but every one leaves for the stable fixed point 1 - 2s (eigenvalue 0.5).
    assert not figures["all_chaotic"] and math.isnan(figures["lambda_max"])
    assert math.isnan(figures["lambda_max_rel_error"])
    assert figures["verdict"].startswith(
        "transient chaos: 64 of 64 orbits leave the chaotic set within 20,000 steps (64 to a "
        "stable fixed point"), figures["verdict"]
    assert len(figures["fates"]) == 8 and figures["n_fates"] == 64
    assert figures["n_still_chaotic"] == 0
    assert all("largest |eigenvalue| 0.500" in fate for fate in figures["fates"])


def test_evaluation_of_a_chaotic_attractor_and_of_a_contracting_map():
    chaotic = _evaluate_tent(1.9, horizon=2_000)
    assert chaotic["all_chaotic"] and chaotic["fates"] == ["still chaotic"] * 8
    assert chaotic["n_fates"] == chaotic["n_still_chaotic"] == 64
    assert chaotic["verdict"] == "chaotic: all 64 orbits are still chaotic after 2,000 steps"
    assert chaotic["lambda_max"] == pytest.approx(math.log(1.9), rel=1e-6)
    contracting = _evaluate_tent(0.8, horizon=2_000)
    assert math.isnan(contracting["lambda_max"])
    np.testing.assert_allclose(contracting["lambda_per_orbit"], math.log(0.8), rtol=1e-6)
    assert contracting["verdict"].startswith(
        "not chaotic: after 2,000 steps the orbits go 64 to a stable fixed point"), contracting
    assert "largest |eigenvalue| 0.800" in contracting["fates"][0]


def test_evaluation_follows_more_orbits_than_it_measures_exponents_of():
    """The fates are judged on n_fates orbits, the first n_orbits of which have exponents;
    fewer fates than exponents is an error naming both."""
    figures = _evaluate_tent(1.9, horizon=200)
    assert len(figures["lambda_per_orbit"]) == len(figures["fates"]) == 8
    few = evaluate_reconstruction(_tent_plrnn(1.9), figures["generated"], transient=0,
                                  n_lyapunov=100, n_orbits=3, n_fates=5, dt=1.0, horizon=200)
    assert (len(few["fates"]), few["n_fates"], few["n_still_chaotic"]) == (3, 5, 5)
    with pytest.raises(ValueError, match=r"n_orbits=8, n_fates=4"):
        evaluate_reconstruction(_tent_plrnn(1.9), figures["generated"], n_orbits=8, n_fates=4)


def test_an_orbit_without_an_exponent_that_leaves_is_transient_chaos():
    """One orbit on the tent's chaotic attractor (s = 1.9, on [0, 1]) with its exponent,
    and one more from z = -2, on the branch that leads to the stable fixed point 1 - 2s:
    the second has no exponent of its own, but it started where the measured orbit was
    chaotic, so the verdict is transient chaos, 1 of 2, not "never chaotic"."""
    from course_utils.evaluation import _long_term

    model = _tent_plrnn(1.9)
    starts = torch.tensor([[0.3141], [-2.0]], dtype=torch.float64)
    Z = model.generate(torch.tensor([0.3141], dtype=torch.float64), 200)
    fates, chaotic, verdict = _long_term(model, starts, np.array([math.log(1.9)]), Z,
                                         horizon=500, dt=1.0)
    assert fates[0] == "still chaotic" and not chaotic
    assert verdict.startswith("transient chaos: 1 of 2 orbits leave the chaotic set within "
                              "500 steps (1 to a stable fixed point"), verdict


def test_free_run_distances_as_a_record_names_what_it_measures():
    """FreeRunDistances gives free_run_distances' numbers, and its fingerprint changes
    with the test data and the settings, so a stored training record is reused only for
    the same measurement."""
    from course_utils.evaluation import FreeRunDistances, free_run_distances
    from course_utils.models import ShallowPLRNN

    g = torch.Generator().manual_seed(0)
    x_test = torch.randn(400, 3, generator=g)
    model = ShallowPLRNN(5, 9, 3, seed=0)
    record = FreeRunDistances(x_test, n_generate=200, transient=20)
    assert record(model) == free_run_distances(model, x_test, n_generate=200, transient=20)
    other = x_test.clone()
    other[3, 1] += 1e-6
    prints = {record.fingerprint,
              FreeRunDistances(other, n_generate=200, transient=20).fingerprint,
              FreeRunDistances(x_test, n_generate=201, transient=20).fingerprint,
              FreeRunDistances(x_test, n_generate=200, transient=21).fingerprint}
    assert len(prints) == 4
    assert FreeRunDistances(x_test.clone(), n_generate=200, transient=20).fingerprint == \
        record.fingerprint
    with pytest.raises(ValueError, match=r"x_test must have shape \(T, N\); got \(400,\)"):
        FreeRunDistances(x_test[:, 0])
