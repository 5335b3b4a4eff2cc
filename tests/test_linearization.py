"""Linearization and fixed points of RNNs against the modules themselves, autograd, Taylor's
theorem and fixed points known by hand (after Sussillo & Barak 2013)."""

import itertools

import numpy as np
import pytest
import torch

from course_utils.linearization import (FixedPoints, Linearization, classify_fixed_point,
                                        find_fixed_points, plrnn_fixed_points,
                                        rnn_trajectories, sample_states)
from course_utils.models import ShallowPLRNN

F64 = torch.float64


def random_rnn(nonlinearity="tanh", batch_first=True, bias=True, I=3, H=5, seed=0, scale=0.8,
               dtype=F64):
    g = torch.Generator().manual_seed(seed)
    rnn = torch.nn.RNN(I, H, nonlinearity=nonlinearity, batch_first=batch_first, bias=bias,
                       dtype=dtype)
    with torch.no_grad():
        for p in rnn.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=F64) * scale)
    return rnn


def point(I=3, H=5, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(I, generator=g, dtype=F64), 0.5 * torch.randn(H, generator=g, dtype=F64)


def module_step(rnn, u, h):
    """F(h, u) by running the nn.RNN module itself for one step."""
    _, h_n = rnn(u.reshape(1, 1, -1), h.reshape(1, 1, -1))
    return h_n.reshape(-1)


def plrnn(M, L, seed, A=None, W1=None, W2=None, h1=None, h2=None):
    """A float64 ShallowPLRNN with the given parameters (the others seeded at random)."""
    m = ShallowPLRNN(M, L, 1, seed=seed, dtype=F64)
    g = torch.Generator().manual_seed(seed)
    given = {"A": A, "W1": W1, "W2": W2, "h1": h1, "h2": h2}
    default = {"A": 0.2 + 0.6 * torch.rand(M, generator=g, dtype=F64),
               "W1": torch.randn(M, L, generator=g, dtype=F64),
               "W2": torch.randn(L, M, generator=g, dtype=F64),
               "h1": 0.5 * torch.randn(M, generator=g, dtype=F64),
               "h2": torch.randn(L, generator=g, dtype=F64)}
    with torch.no_grad():
        for name, value in given.items():
            getattr(m, name).copy_(torch.as_tensor(value if value is not None else default[name],
                                                   dtype=F64))
    return m


def in_region(model, z, pattern, tol=1e-9):
    pre = z @ model.W2.detach().T + model.h2.detach()
    return bool((((pre > 0) == pattern) | (pre.abs() <= tol)).all())


def nearest_distances(a, b):
    """For every row of a, the distance to the nearest row of b."""
    return torch.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist").min(dim=1).values


# ------------------------------------------------------------------- steps and Jacobians

@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("bias", [True, False])
def test_step_and_jacobians_equal_the_module_and_autograd(nonlinearity, batch_first, bias):
    rnn = random_rnn(nonlinearity, batch_first, bias)
    u, h = point()
    lin = Linearization(rnn)
    assert (lin.hidden_size, lin.input_size, lin.dtype) == (5, 3, F64)
    with torch.no_grad():
        expected = module_step(rnn, u, h)
    torch.testing.assert_close(lin.step(u, h), expected, rtol=1e-13, atol=1e-14)

    J_h, J_u = lin.jacobian(u, h)
    auto_h = torch.autograd.functional.jacobian(lambda x: module_step(rnn, u, x), h)
    auto_u = torch.autograd.functional.jacobian(lambda x: module_step(rnn, x, h), u)
    assert J_h.shape == (5, 5) and J_u.shape == (5, 3)
    torch.testing.assert_close(J_h, auto_h, rtol=1e-12, atol=1e-13)
    torch.testing.assert_close(J_u, auto_u, rtol=1e-12, atol=1e-13)


def test_float32_model_is_linearised_in_float32():
    rnn = random_rnn(dtype=torch.float32)
    u, h = point()
    lin = Linearization(rnn)
    J_h, J_u = lin.jacobian(u, h)
    assert lin.step(u, h).dtype == J_h.dtype == J_u.dtype == torch.float32
    with torch.no_grad():
        expected = module_step(rnn, u.float(), h.float())
    torch.testing.assert_close(lin.step(u, h), expected)


def test_plrnn_step_and_jacobian_equal_the_model_and_autograd():
    model = plrnn(4, 6, seed=3)
    z = torch.randn(4, generator=torch.Generator().manual_seed(2), dtype=F64)
    lin = Linearization(model)
    assert (lin.hidden_size, lin.input_size) == (4, 0)
    with torch.no_grad():
        expected = model(z)
    for u in (None, torch.empty(0, dtype=F64)):
        torch.testing.assert_close(lin.step(u, z), expected, rtol=1e-14, atol=1e-15)
        J_h, J_u = lin.jacobian(u, z)
        auto = torch.autograd.functional.jacobian(model, z)
        torch.testing.assert_close(J_h, auto, rtol=1e-13, atol=1e-14)
        assert J_u.shape == (4, 0)


# ------------------------------------------------------------------- the affine prediction

def log_log_slope(epsilons, errors):
    return np.polyfit(np.log10(epsilons), np.log10(errors), 1)[0]


def test_linearization_error_is_second_order_in_the_perturbation():
    rnn = random_rnn("tanh", seed=4)
    u, h = point(seed=5)
    lin = Linearization(rnn)
    g = torch.Generator().manual_seed(6)
    v = torch.randn(5, generator=g, dtype=F64)
    w = torch.randn(3, generator=g, dtype=F64)
    epsilons = np.array([1e-1, 1e-2, 1e-3])
    with torch.no_grad():
        state_errors = [(module_step(rnn, u, h + e * v) - lin.predict(u, h, None, e * v)).norm()
                        for e in epsilons]
        input_errors = [(module_step(rnn, u + e * w, h) - lin.predict(u, h, e * w, None)).norm()
                        for e in epsilons]
        zeroth_order = [(module_step(rnn, u, h + e * v) - lin.step(u, h)).norm() for e in epsilons]
    assert 1.8 <= log_log_slope(epsilons, state_errors) <= 2.2
    assert 1.8 <= log_log_slope(epsilons, input_errors) <= 2.2
    assert 0.8 <= log_log_slope(epsilons, zeroth_order) <= 1.2  # without J_h dh: first order


def test_plrnn_prediction_is_exact_inside_a_linear_region():
    model = plrnn(4, 6, seed=3)
    lin = Linearization(model)
    z = torch.randn(4, generator=torch.Generator().manual_seed(2), dtype=F64)
    dz = torch.randn(8, 4, generator=torch.Generator().manual_seed(3), dtype=F64)
    dz = dz / dz.norm(dim=1, keepdim=True)
    with torch.no_grad():
        margin = (z @ model.W2.T + model.h2).abs().min() / torch.linalg.matrix_norm(model.W2, 2)
        inside = 0.5 * margin * dz              # no pre-activation changes sign
        torch.testing.assert_close(lin.predict(None, z, None, inside), model(z + inside),
                                   rtol=1e-13, atol=1e-13)
        across = 20 * margin * dz               # far enough to cross a boundary
        assert (lin(None, z, None, across) - model(z + across)).abs().max() > 1e-6


def test_predict_on_a_batch_equals_one_prediction_per_row():
    rnn = random_rnn("relu", batch_first=False, seed=8)
    u, h = point(seed=9)
    lin = Linearization(rnn)
    g = torch.Generator().manual_seed(10)
    dh = 0.1 * torch.randn(6, 5, generator=g, dtype=F64)
    du = 0.1 * torch.randn(3, generator=g, dtype=F64)
    batch = lin.predict(u, h, du, dh)
    assert batch.shape == (6, 5)
    rows = torch.stack([lin(u, h, du, row) for row in dh])
    assert lin(u, h, du, dh[0]).shape == (5,)
    torch.testing.assert_close(batch, rows, rtol=1e-14, atol=1e-15)
    J_h, J_u = lin.jacobian(u, h)
    torch.testing.assert_close(batch[2], lin.step(u, h) + J_h @ dh[2] + J_u @ du)
    torch.testing.assert_close(lin.predict(u, h, None, dh),
                               lin.predict(u, h, torch.zeros(3, dtype=F64), dh))


def test_eigendecomposition_is_sorted_and_consistent():
    rnn = random_rnn("tanh", seed=12, H=6, scale=1.0)
    u, h = point(H=6, seed=13)
    lin = Linearization(rnn)
    real, imag, vectors = lin.eigendecomposition(u, h)
    assert real.shape == imag.shape == (6,) and vectors.shape == (6, 6) and vectors.is_complex()
    values = torch.complex(real, imag)
    assert (imag.abs() > 1e-8).any(), "the test needs a complex pair"
    J_h, _ = lin.jacobian(u, h)
    torch.testing.assert_close(J_h.to(vectors.dtype) @ vectors, vectors * values[None, :],
                               rtol=1e-10, atol=1e-12)
    moduli = values.abs()
    assert bool((moduli[:-1] >= moduli[1:]).all())
    reference = torch.linalg.eigvals(J_h)
    torch.testing.assert_close(moduli, reference.abs().sort(descending=True).values)
    torch.testing.assert_close(values.sum(), reference.sum())     # trace: real and imag match


# ------------------------------------------------------------------- input checks

def test_bad_points_raise_errors_naming_the_argument():
    lin = Linearization(random_rnn())
    u, h = point()
    with pytest.raises(ValueError, match=r"^h must be one state .*\(2, 5\).*not a batch"):
        lin.step(u, torch.stack([h, h]))
    with pytest.raises(ValueError, match=r"^u must be one input .*\(4, 3\).*not a batch"):
        lin.jacobian(torch.stack([u] * 4), h)
    with pytest.raises(ValueError, match=r"^u must have I = 3 entries.*\(4,\)"):
        lin.predict(torch.zeros(4, dtype=F64), h)
    with pytest.raises(ValueError, match=r"^h must have H = 5 entries"):
        lin.step(u, h[:4])
    with pytest.raises(ValueError, match=r"^du must have I = 3"):
        lin.predict(u, h, torch.zeros(2, dtype=F64), None)
    with pytest.raises(ValueError, match=r"^dh must have shape \(H,\) or \(B, H\)"):
        lin.predict(u, h, None, torch.zeros(2, 4, dtype=F64))
    with pytest.raises(ValueError, match=r"^u must have I = 0 entries.*pass None"):
        Linearization(plrnn(2, 3, seed=0)).step(torch.ones(2), torch.zeros(2))


@pytest.mark.parametrize("model, match", [
    (torch.nn.LSTM(3, 4), "single-layer torch.nn.RNN.*got LSTM"),
    (torch.nn.GRU(3, 4), "got GRU"),
    (torch.nn.Linear(3, 4), "got Linear"),
    (torch.nn.RNN(3, 4, num_layers=2), "num_layers=2"),
    (torch.nn.RNN(3, 4, bidirectional=True), "bidirectional"),
])
def test_unsupported_models_are_rejected(model, match):
    with pytest.raises(ValueError, match=match):
        Linearization(model)
    with pytest.raises(ValueError, match=match):
        find_fixed_points(model, torch.zeros(1, 4))


# ------------------------------------------------------------------- classification

def polar(moduli, angles):
    return torch.as_tensor(np.asarray(moduli) * np.exp(1j * np.asarray(angles, dtype=float)))


@pytest.mark.parametrize("eigenvalues, expected", [
    (polar([0.5, 0.9, 0.2], [0, np.pi, 0]), "stable"),
    (polar([0.95, 0.95, 0.3], [0.4, -0.4, 0]), "stable (oscillatory)"),
    (polar([1.5, 2.0], [0, np.pi]), "unstable"),
    (polar([1.2, 1.2], [2.0, -2.0]), "unstable (oscillatory)"),
    (polar([1.3, 0.6, 0.1], [0, 0, np.pi]), "saddle"),
    (polar([1.05, 1.05, 0.5], [0.1, -0.1, 0]), "saddle (oscillatory)"),
    (polar([1.0, 0.5], [0, 0]), "marginal"),
    (polar([1.0, 1.0, 2.0], [0.3, -0.3, 0]), "marginal (oscillatory)"),
    (polar([1.0, 2.0, 0.5], [0, 0, 0]), "saddle"),            # saddle wins over marginal
    (np.array([-0.5, 0.3]), "stable"),                          # real NumPy input
    ([1.0 + 1e-9, 0.2], "marginal"),                            # within tol of 1
    ([0.9, 0.2 + 1e-9j], "stable"),                             # imag within tol of 0
])
def test_classify_fixed_point(eigenvalues, expected):
    assert classify_fixed_point(eigenvalues) == expected


def test_classify_fixed_point_tol_and_errors():
    assert classify_fixed_point([0.999, 0.5], tol=1e-2) == "marginal"
    assert classify_fixed_point([0.999, 0.5], tol=1e-4) == "stable"
    with pytest.raises(ValueError, match="eigenvalues must be"):
        classify_fixed_point(torch.zeros(2, 2))
    with pytest.raises(ValueError, match="non-finite"):
        classify_fixed_point([float("nan"), 0.5])


# ------------------------------------------------------------------- numerical fixed points

def tanh_fixed_point(w=2.0):
    """The positive root of h = tanh(w h), by bisection."""
    lo, hi = 1e-3, 1.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if np.tanh(w * mid) > mid else (lo, mid)
    return 0.5 * (lo + hi)


def test_find_fixed_points_of_a_decoupled_tanh_rnn():
    """h_i = tanh(2 h_i) per unit: 0 (unstable) and +-h* (stable), so 3^2 points for H = 2."""
    rnn = torch.nn.RNN(2, 2, bias=False, dtype=F64)
    with torch.no_grad():
        rnn.weight_hh_l0.copy_(2 * torch.eye(2))
        rnn.weight_ih_l0.zero_()
    grid = torch.linspace(-1, 1, 9, dtype=F64)
    fps = find_fixed_points(rnn, torch.cartesian_prod(grid, grid))
    assert isinstance(fps, FixedPoints) and len(fps) == 9
    assert fps.points.dtype == F64 and fps.eigenvalues.is_complex()
    assert int(fps.counts.sum()) == 81
    h_star = tanh_fixed_point()
    values = torch.tensor([-h_star, 0.0, h_star], dtype=F64)
    expected = torch.cartesian_prod(values, values)
    assert float(nearest_distances(expected, fps.points).max()) < 1e-12
    assert float(fps.residuals.max()) < 1e-8
    with torch.no_grad():
        next_states = rnn(torch.zeros(1, 9, 2, dtype=F64), fps.points[None])[1][0]
    residuals = (next_states - fps.points).norm(dim=1)
    assert float(residuals.max()) < 1e-8
    zeros = (fps.points.abs() < 1e-12).sum(dim=1)
    expected_labels = {0: "stable", 1: "saddle", 2: "unstable"}
    assert fps.labels == [expected_labels[int(n)] for n in zeros]
    assert [fps.labels.count(k) for k in ("stable", "saddle", "unstable")] == [4, 4, 1]
    stable = fps.points[[i for i, label in enumerate(fps.labels) if label == "stable"]]
    slope = 2 * (1 - h_star ** 2)
    torch.testing.assert_close(fps.eigenvalues[fps.labels.index("stable")].real,
                               torch.full((2,), slope, dtype=F64))
    assert torch.allclose(stable.abs(), torch.full_like(stable, h_star))
    summary = fps.summary()
    assert len(summary.splitlines()) == 2 + 9 and "saddle" in summary and repr(fps) == summary


def test_find_fixed_points_of_a_random_rnn_are_fixed_points_of_the_module():
    rnn = random_rnn("tanh", I=2, H=6, seed=21, scale=0.7, dtype=torch.float32)
    inputs = torch.randn(4, 30, 2, generator=torch.Generator().manual_seed(22))
    states = sample_states(rnn_trajectories(rnn, inputs), 40, seed=0)
    u = torch.tensor([0.3, -0.2])
    fps = find_fixed_points(rnn, states, u, n_iter=500)
    assert len(fps) >= 1 and rnn.weight_hh_l0.dtype == torch.float32  # the model is untouched
    module = random_rnn("tanh", I=2, H=6, seed=21, scale=0.7)
    with torch.no_grad():
        module.load_state_dict({k: v.double() for k, v in rnn.state_dict().items()})
        x = u.double().expand(len(fps), 1, 2)
        next_states = module(x, fps.points[None])[1][0]
    assert float((next_states - fps.points).norm(dim=1).max()) < 1e-8


def test_find_fixed_points_is_reproducible_with_a_seed():
    rnn = random_rnn("tanh", I=2, H=4, seed=30, scale=1.2)
    states = torch.randn(30, 4, generator=torch.Generator().manual_seed(31), dtype=F64)
    runs = [find_fixed_points(rnn, states, noise=0.1, seed=5, n_iter=300) for _ in range(2)]
    assert len(runs[0]) >= 1
    for field in ("points", "residuals", "eigenvalues", "counts"):
        assert torch.equal(getattr(runs[0], field), getattr(runs[1], field))
    assert runs[0].labels == runs[1].labels


def test_find_fixed_points_input_checks_and_show_progress():
    rnn = random_rnn(H=4)
    with pytest.raises(ValueError, match=r"initial_states must .*\(K0, H\).*sample_states"):
        find_fixed_points(rnn, torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match=r"^u must have I = 3"):
        find_fixed_points(rnn, torch.zeros(2, 4), torch.zeros(2))
    fps = find_fixed_points(rnn, torch.zeros(4), n_iter=5, show_progress=True)  # one state (H,)
    assert int(fps.counts.sum()) <= 1


# ------------------------------------------------------------------- exact PLRNN fixed points

def test_plrnn_fixed_points_of_a_one_dimensional_plrnn_by_hand():
    """z' = 0.5 z + ReLU(z) + h1: for h1 = -0.5 the fixed points are -1 (slope 0.5, stable)
    and 1 (slope 1.5, unstable); for h1 = +0.5 the map has none (z' - z > 0 everywhere)."""
    model = plrnn(1, 1, seed=0, A=[0.5], W1=[[1.0]], W2=[[1.0]], h1=[-0.5], h2=[0.0])
    starts = torch.linspace(-3, 3, 13)[:, None]
    for fps in (plrnn_fixed_points(model), find_fixed_points(model, starts)):
        order = torch.argsort(fps.points[:, 0])
        torch.testing.assert_close(fps.points[order, 0], torch.tensor([-1.0, 1.0], dtype=F64))
        assert [fps.labels[i] for i in order] == ["stable", "unstable"]
        torch.testing.assert_close(fps.eigenvalues[order, 0].real,
                                   torch.tensor([0.5, 1.5], dtype=F64))
    none = plrnn(1, 1, seed=0, A=[0.5], W1=[[1.0]], W2=[[1.0]], h1=[0.5], h2=[0.0])
    for fps in (plrnn_fixed_points(none), find_fixed_points(none, torch.linspace(-3, 3, 7)[:, None],
                                                            n_iter=200)):
        assert len(fps) == 0 and fps.points.shape == (0, 1) and "none found" in fps.summary()


def numpy_plrnn_fixed_points(model):
    """Every region's fixed point by numpy.linalg.solve, kept if it lies in its region."""
    A, W1, W2, h1, h2 = (getattr(model, n).detach().numpy() for n in ("A", "W1", "W2", "h1", "h2"))
    found = []
    for d in itertools.product([0.0, 1.0], repeat=len(h2)):
        D = np.diag(d)
        z = np.linalg.solve(np.eye(len(A)) - np.diag(A) - W1 @ D @ W2, W1 @ D @ h2 + h1)
        if np.array_equal((W2 @ z + h2 > 0).astype(float), np.array(d)):
            found.append(z)
    return np.array(found)


def test_plrnn_fixed_points_of_a_two_dimensional_plrnn_against_numpy():
    model = plrnn(2, 2, seed=0, A=[0.5, 0.4], W1=[[1.2, 0.2], [-0.1, 1.3]],
                  W2=[[1.0, 0.3], [-0.2, 1.0]], h1=[-0.3, -0.25], h2=[0.1, -0.1])
    reference = torch.tensor(numpy_plrnn_fixed_points(model))
    assert len(reference) >= 3
    fps = plrnn_fixed_points(model)
    assert len(fps) == len(reference)
    assert float(nearest_distances(reference, fps.points).max()) < 1e-12
    assert fps.patterns.shape == (len(fps), 2)
    assert all(in_region(model, z, d) for z, d in zip(fps.points, fps.patterns))
    assert set(fps.labels) >= {"stable"} and fps.counts.tolist() == [1] * len(fps)


def test_plrnn_fixed_points_of_a_random_plrnn_contain_the_numerical_ones():
    model = plrnn(3, 6, seed=5)
    fps = plrnn_fixed_points(model)
    assert len(fps) >= 2
    with torch.no_grad():
        assert float((model(fps.points) - fps.points).norm(dim=1).max()) < 1e-8
    assert all(in_region(model, z, d) for z, d in zip(fps.points, fps.patterns))
    starts = 3 * torch.randn(200, 3, generator=torch.Generator().manual_seed(1), dtype=F64)
    numerical = find_fixed_points(model, starts, n_iter=500)
    assert len(numerical) >= 1
    assert float(nearest_distances(numerical.points, fps.points).max()) < 1e-6


def test_orbit_search_finds_what_enumeration_finds_in_the_visited_regions():
    model = plrnn(3, 12, seed=14)
    exhaustive = plrnn_fixed_points(model)
    assert len(exhaustive) >= 1
    orbit = 2 * torch.randn(400, 3, generator=torch.Generator().manual_seed(8), dtype=F64)
    searched = plrnn_fixed_points(model, orbit=orbit, max_enumerate=4)
    assert len(searched) <= len(exhaustive)
    if len(searched):
        assert float(nearest_distances(searched.points, exhaustive.points).max()) < 1e-10
    visited = torch.unique(orbit @ model.W2.detach().T + model.h2.detach() > 0, dim=0)
    on_orbit = [(visited == d).all(dim=1).any() for d in exhaustive.patterns]
    assert any(on_orbit)
    wanted = exhaustive.points[torch.tensor(on_orbit)]
    assert float(nearest_distances(wanted, searched.points).max()) < 1e-10


def test_orbit_search_with_many_hidden_units_finds_the_attracting_fixed_point():
    model = ShallowPLRNN(3, 20, 1, seed=1, dtype=F64)
    with torch.no_grad():
        model.A.fill_(0.5)
        model.h1.copy_(torch.tensor([0.3, -0.2, 0.1]))
    start = torch.tensor([20.0, -30.0, 10.0], dtype=F64)
    orbit = model.generate(None, 300, z0=start)
    with torch.no_grad():
        assert float((model(orbit[-1]) - orbit[-1]).norm()) < 1e-12  # it has converged
    fps = plrnn_fixed_points(model, orbit=orbit)
    assert float(nearest_distances(orbit[-1:], fps.points)[0]) < 1e-10
    # From the start alone: its region is not the fixed point's, so refinement must find it.
    alone = plrnn_fixed_points(model, orbit=start[None])
    start_pattern = start @ model.W2.detach().T + model.h2.detach() > 0
    assert not torch.equal(start_pattern, alone.patterns[0])
    assert float(nearest_distances(orbit[-1:], alone.points)[0]) < 1e-10
    assert alone.labels[0].startswith("stable")


def test_plrnn_fixed_points_input_checks():
    model = ShallowPLRNN(3, 20, 1, seed=1, dtype=F64)
    with pytest.raises(ValueError, match=r"L = 20 > max_enumerate = 16.*orbit"):
        plrnn_fixed_points(model)
    with pytest.raises(ValueError, match=r"orbit must have shape \(T, M\)"):
        plrnn_fixed_points(model, orbit=torch.zeros(10, 2))
    with pytest.raises(ValueError, match="ShallowPLRNN.*find_fixed_points"):
        plrnn_fixed_points(random_rnn())


# ------------------------------------------------------------------- initial states

@pytest.mark.parametrize("batch_first", [True, False])
def test_rnn_trajectories_are_batch_first_hidden_states(batch_first):
    rnn = random_rnn(batch_first=batch_first)
    x = torch.randn(4, 7, 3, generator=torch.Generator().manual_seed(0), dtype=F64)
    h0 = torch.randn(5, generator=torch.Generator().manual_seed(1), dtype=F64)
    layout = x if batch_first else x.transpose(0, 1)
    states = rnn_trajectories(rnn, layout, h0)
    assert states.shape == (4, 7, 5) and not states.requires_grad
    lin = Linearization(rnn)
    h = h0
    for t in range(7):  # step by step from the shared h0, for sequence 2
        h = lin.step(x[2, t], h)
        torch.testing.assert_close(states[2, t], h, rtol=1e-13, atol=1e-14)
    one = rnn_trajectories(rnn, x[2], h0)
    assert one.shape == (1, 7, 5)
    torch.testing.assert_close(one[0], states[2])
    with pytest.raises(ValueError, match=r"inputs must have shape"):
        rnn_trajectories(rnn, torch.zeros(4, 7, 2))


def test_sample_states_draws_distinct_states_reproducibly():
    trajectories = torch.arange(2 * 10 * 3, dtype=F64).reshape(2, 10, 3)
    picked = sample_states(trajectories, 8, seed=4)
    assert picked.shape == (8, 3)
    assert torch.equal(picked, sample_states(trajectories, 8, seed=4))
    rows = trajectories.reshape(-1, 3)
    assert all((rows == p).all(dim=1).any() for p in picked)
    assert len(torch.unique(picked, dim=0)) == 8
    assert sample_states(trajectories[0], 10, seed=0).shape == (10, 3)
    with pytest.raises(ValueError, match=r"n must be in 1\.\.20"):
        sample_states(trajectories, 21)
