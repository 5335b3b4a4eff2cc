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


@pytest.mark.parametrize("slip", ["reset_hidden", "lagged", "damp_hidden", "ahead", "behind",
                                  "after", "late", "inplace", "units"])
def test_each_slip_changes_the_run(slip):
    model = helpers.small_plrnn(M=6, L=10, N=2, seed=5)
    x = helpers.forcing_signals(3, 17, 2, seed=1)
    weights = forcing_weights(17, tau_f=4, alpha=0.3)
    right = helpers.forced_run(model, x, weights).detach()
    wrong = helpers.forced_run(model, x, weights, **{slip: 1 if slip == "units" else True})
    assert not torch.allclose(right, wrong.detach())


def test_forcing_with_the_next_observation_leaves_the_last_step_unforced():
    """The slip of x[:, t + 1], guarded at the last step (which has no next observation):
    the run is defined wherever the last step is forced."""
    model = helpers.small_plrnn()
    x = helpers.forcing_signals(2, 8, 2, seed=1)
    weights = forcing_weights(8, alpha=0.5)
    ahead = helpers.forced_run(model, x, weights, ahead=True).detach()
    shifted = torch.cat([x[:, 1:], x[:, -1:]], dim=1)        # x[:, t + 1], and x[:, T - 1] last
    last_unforced = weights.copy()
    last_unforced[-1] = 0.0
    expected = helpers.forced_run(model, shifted, last_unforced).detach()
    torch.testing.assert_close(ahead, expected, rtol=0, atol=0)


def _loop(model, x, weights, data_step, reset_at=lambda t: False):
    """A student's GTF/STF loop forced with ``x[:, data_step(t)]``, the unobserved units
    zeroed where ``reset_at(t)``."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    out = []
    for t in range(T):
        w = float(weights[t])
        if w > 0:
            rest = torch.zeros_like(z[:, N:]) if reset_at(t) else z[:, N:]
            z = torch.cat([(1 - w) * z[:, :N] + w * x[:, data_step(t)], rest], dim=-1)
        z = model(z)
        out.append(model.observe(z))
    return torch.stack(out, dim=1)


@pytest.mark.parametrize("behind, data_step", [(True, lambda t: t - 1),
                                               ("clamped", lambda t: max(t - 1, 0))])
def test_forcing_with_the_previous_observation_is_what_such_a_loop_does(behind, data_step):
    """``behind``: x[:, t - 1], which Python reads as x[:, -1] at t = 0, or x[:, 0] there
    ("clamped")."""
    model = helpers.small_plrnn()
    x = helpers.forcing_signals(2, 9, 2, seed=1)
    weights = forcing_weights(9, alpha=0.4)
    torch.testing.assert_close(helpers.forced_run(model, x, weights, behind=behind),
                               _loop(model, x, weights, data_step), rtol=0, atol=0)


def test_switches_of_single_steps_act_at_those_steps_only():
    """``reset_hidden`` and ``ahead`` as one bool per step act where they are True: all
    True is the switch itself, all False no slip, and a mix what such a loop does."""
    model = helpers.small_plrnn()
    x = helpers.forcing_signals(2, 12, 2, seed=1)
    weights = forcing_weights(12, tau_f=3, warmup=4)
    t = np.arange(12)
    right = helpers.forced_run(model, x, weights)
    for slip in ("reset_hidden", "ahead"):
        torch.testing.assert_close(helpers.forced_run(model, x, weights, **{slip: t >= 0}),
                                   helpers.forced_run(model, x, weights, **{slip: True}))
        torch.testing.assert_close(helpers.forced_run(model, x, weights, **{slip: t < 0}),
                                   right)
    torch.testing.assert_close(helpers.forced_run(model, x, weights, reset_hidden=t >= 4),
                               _loop(model, x, weights, lambda s: s, lambda s: s >= 4))
    torch.testing.assert_close(helpers.forced_run(model, x, weights, ahead=t < 4),
                               _loop(model, x, weights, lambda s: s + 1 if s < 4 else s))


def _written_in_place(model, x, weights):
    """A student's loop that writes the forced state into z in place, its read-outs views."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    out = []
    for t in range(T):
        w = float(weights[t])
        if w > 0:
            z[:, :N] = (1 - w) * z[:, :N] + w * x[:, t]
        z = model(z)
        out.append(model.observe(z))
    return torch.stack(out, dim=1)


@pytest.mark.parametrize("schedule", [dict(tau_f=4), dict(tau_f=1), dict(alpha=0.3),
                                      dict(tau_f=5, alpha=0.2)])
def test_the_inplace_slip_is_what_an_inplace_write_does(schedule):
    """The judge finds an in-place write by what it does: the run of the ``inplace`` slip
    equals, in values and gradients, a loop that writes into z in place."""
    model = helpers.small_plrnn(M=6, L=10, N=2, seed=5)
    x = helpers.forcing_signals(3, 17, 2, seed=1)
    weights = forcing_weights(17, **schedule)
    emulated = helpers.forced_run(model, x, weights, inplace=True)
    student = _written_in_place(model, x, weights)
    torch.testing.assert_close(student, emulated, rtol=1e-12, atol=1e-12)
    assert not torch.allclose(emulated, helpers.forced_run(model, x, weights))
    g = helpers.gradient_weights(3, 17, 2)
    for a, b in zip(torch.autograd.grad((student * g).sum(), list(model.parameters())),
                    torch.autograd.grad((emulated * g).sum(), list(model.parameters()))):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_forcing_after_the_step_is_what_such_a_loop_does():
    """``after`` forces the new state and reads it out; ``late`` reads it out, then forces
    it with x[:, t]."""
    model = helpers.small_plrnn(M=6, L=10, N=2, seed=5)
    x = helpers.forcing_signals(2, 11, 2, seed=1)
    forced = forcing_weights(11, tau_f=3)
    for order in ("after", "late"):
        z, out = x.new_zeros(2, model.M), []
        for t in range(11):
            z = model(z)
            if order == "after" and forced[t]:
                z = torch.cat([x[:, t], z[:, 2:]], dim=-1)
            out.append(model.observe(z))
            if order == "late" and forced[t]:
                z = torch.cat([x[:, t], z[:, 2:]], dim=-1)
        torch.testing.assert_close(torch.stack(out, dim=1).detach(),
                                   helpers.forced_run(model, x, forced, **{order: True}).detach(),
                                   rtol=0, atol=0)


def test_the_common_slips_are_named_and_each_gives_a_run():
    model = helpers.small_plrnn(M=6, L=10, N=2, seed=5)
    x = helpers.forcing_signals(2, 11, 2, seed=1)
    slips = helpers.forcing_slips(model, x, forcing_weights(11, tau_f=3))
    names = " ".join(slip for slip, _ in slips)
    for words in ("as if N were 1", "to zero", "lag by one step", "x[:, t + 1]",
                  "after the step", "in place"):
        assert words in names, words
    assert all(run is not None for _, run in slips)
    one_unit = helpers.forcing_signals(2, 11, 1, seed=1)
    model1 = helpers.small_plrnn(M=6, L=10, N=1, seed=5)
    assert helpers.forcing_slips(model1, one_unit, forcing_weights(11, tau_f=3))[0][1] is None
