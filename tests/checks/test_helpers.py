"""The checks' shared helpers (course_utils.checks.helpers): results read as arrays with
messages that name the problem, the tolerance of tensors, and the forcing run that the
judges of chapters 03, 05 and 06 compare with, against the toolkit's forced pass."""

import re

import numpy as np
import pytest
import torch

from course_utils.checks import helpers
from course_utils.training import forced_forward, forcing_weights


@pytest.mark.parametrize("got, message", [
    (None, "returned None (for the next cell): is the return statement missing?"),
    (np.array([1 + 2j]), "has complex values (dtype complex128) (for the next cell)"),
    (np.array(["a", "b"]), "must hold numbers (for the next cell)"),
    ([[1.0, 2.0], [3.0]], "could not be read as an array of numbers (for the next cell)"),
])
def test_real_array_names_what_is_wrong(got, message):
    with pytest.raises(AssertionError, match=re.escape(message)):
        helpers.real_array(got, "f", why="for the next cell")


def test_real_array_keeps_the_dtype_and_reads_lists():
    assert helpers.real_array(np.zeros(3, dtype=np.float32), "f").dtype == np.float32
    assert helpers.real_array([[1, 2], [3, 4]], "f").shape == (2, 2)


def test_expect_float64_tells_integers_from_lower_precision():
    helpers.expect_float64(np.zeros(2), "f", "why")
    with pytest.raises(AssertionError, match="integer dtype int64"):
        helpers.expect_float64(np.zeros(2, dtype=np.int64), "f", "why")
    with pytest.raises(AssertionError, match=r"dtype float32, not float64 \(why\)"):
        helpers.expect_float64(np.zeros(2, dtype=np.float32), "f", "why")


def test_expect_shape_names_the_shape_seen_and_the_hint():
    helpers.expect_shape(np.zeros((2, 3)), (2, 3), "wrong")
    with pytest.raises(AssertionError, match=r"must be \(2, 3\); got shape \(3, 2\). transpose"):
        helpers.expect_shape(np.zeros((3, 2)), (2, 3), "must be (2, 3)", "transpose")


def test_close_enough_scales_atol_by_the_largest_entry_and_never_accepts_nan():
    expected = torch.tensor([1000.0, 0.0, float("nan")])
    got = torch.tensor([1000.0, 0.5, float("nan")])
    assert helpers.close_enough(got, expected, rtol=0.0, atol=1e-3).tolist() == [
        True, True, False]                       # 0.5 < 1e-3 * 1000; NaN is never close
    assert not helpers.close_enough(got, expected, rtol=0.0, atol=1e-4)[1]


@pytest.mark.parametrize("schedule", [dict(tau_f=4), dict(alpha=0.3), dict(tau_f=5, alpha=0.2),
                                      dict(tau_f=3, warmup=4)])
def test_the_judges_forcing_run_is_the_toolkits_forced_pass(schedule):
    """Without slips, the forcing run the judges compare with is the toolkit's
    forced_forward for STF, GTF, GTF with resets and STF with a warm-up."""
    model = helpers.small_plrnn(M=6, L=10, N=2, seed=5)
    x = helpers.forcing_signals(3, 17, 2, seed=1)
    weights = forcing_weights(17, **schedule)
    with torch.no_grad():
        expected = forced_forward(model, x, weights)
    got = helpers.forced_run(model, x, weights).detach()
    torch.testing.assert_close(got, expected, rtol=0, atol=0)


@pytest.mark.parametrize("slip", ["reset_hidden", "lagged", "damp_hidden"])
def test_each_slip_changes_the_run(slip):
    model = helpers.small_plrnn(M=6, L=10, N=2, seed=5)
    x = helpers.forcing_signals(3, 17, 2, seed=1)
    weights = forcing_weights(17, tau_f=4, alpha=0.3)
    right = helpers.forced_run(model, x, weights).detach()
    wrong = helpers.forced_run(model, x, weights, **{slip: True}).detach()
    assert not torch.allclose(right, wrong)


def test_forcing_with_the_next_observation_runs_past_the_end_when_the_last_step_is_forced():
    model = helpers.small_plrnn()
    x = helpers.forcing_signals(2, 8, 2, seed=1)
    assert helpers.forced_run(model, x, forcing_weights(8, alpha=0.5), ahead=True) is None
    assert helpers.forced_run(model, x, forcing_weights(8, tau_f=3), ahead=True) is not None
