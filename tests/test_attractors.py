"""orbit_fates tells chaos from fixed points, cycles, tori and divergence."""

import math

import pytest
import torch

from course_utils.attractors import orbit_fates


def logistic(r):
    return lambda z: r * z * (1 - z)


def henon(z, a=1.4, b=0.3):
    return torch.stack([1 - a * z[..., 0] ** 2 + z[..., 1], b * z[..., 0]], dim=-1)


def rotation(angle):
    R = torch.tensor([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]],
                     dtype=torch.float64)
    return lambda z: z @ R.T


@pytest.mark.parametrize("r, kind, period", [
    (2.5, "fixed point", 1), (3.2, "cycle", 2), (3.5, "cycle", 4), (3.56, "cycle", 8),
    (4.0, "chaotic", 0)])
def test_logistic_map_fates(r, kind, period):
    fates = orbit_fates(logistic(r), torch.tensor([[0.2], [0.7]]), horizon=5_000, window=5_000)
    assert fates.kind == [kind, kind] and fates.period == [period, period]
    if kind == "chaotic":   # r = 4: lambda = ln 2 per step
        assert torch.allclose(fates.lambda_end, torch.full((2,), math.log(2.0),
                                                           dtype=torch.float64), atol=0.03)
    else:                   # stable sets attract: lambda < 0
        assert (fates.lambda_end < 0).all()
    assert fates.all_chaotic == (kind == "chaotic")


def test_henon_orbits_stay_chaotic_and_the_exponent_is_per_time_unit():
    z0 = torch.tensor([[0.1, 0.1], [0.3, -0.1], [-0.5, 0.2]], dtype=torch.float64)
    fates = orbit_fates(henon, z0, horizon=1_000, window=8_000, dt=0.5)
    assert fates.all_chaotic and fates.kind == ["chaotic"] * 3
    assert torch.allclose(fates.lambda_end, torch.full((3,), 0.41922 / 0.5,
                                                       dtype=torch.float64), atol=0.03)
    assert fates.describe(0) == "still chaotic"


def test_divergence_and_a_torus_are_named():
    fates = orbit_fates(logistic(4.0), torch.tensor([[1.5], [0.3]]), horizon=100, window=100)
    assert fates.kind == ["diverged", "chaotic"] and math.isnan(fates.lambda_end[0])
    assert fates.describe(0) == "infinity (diverged)"
    torus = orbit_fates(rotation(2 * math.pi * (math.sqrt(5) - 1) / 2),
                        torch.tensor([[1.0, 0.0]]), horizon=1_000, window=1_000)
    assert torus.kind == ["quasi-periodic"] and abs(float(torus.lambda_end[0])) < 1e-9


def test_a_rational_rotation_is_a_cycle_of_its_period():
    fates = orbit_fates(rotation(2 * math.pi / 7), torch.tensor([[1.0, 0.0]]), horizon=10,
                        window=10, max_period=10)
    assert fates.kind == ["cycle"] and fates.period == [7]
    assert fates.describe(0) == "a cycle of period 7"
    too_long = orbit_fates(rotation(2 * math.pi / 7), torch.tensor([[1.0, 0.0]]), horizon=10,
                           window=10, max_period=5)
    assert too_long.kind == ["quasi-periodic"]


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="horizon must be >= 1; got 0"):
        orbit_fates(henon, torch.zeros(2), horizon=0)
    with pytest.raises(ValueError, match="non-finite"):
        orbit_fates(henon, torch.tensor([math.nan, 0.0]))
