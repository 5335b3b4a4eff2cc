"""The feedback check of chapter 03 (sparse teacher forcing): correct code in its many forms
passes with a ✓ line, visibly and with the hidden cases; each typical mistake gets its own
message; a solution fitted to the visible inputs fails a hidden case without seeing it."""

import re

import pytest
import torch
import torch.nn.functional as F

from course_utils.checks import check_stf_forward
from course_utils.checks import HiddenCaseError
from course_utils.checks.framework import MISMATCH
from course_utils.checks.stf import _HIDDEN_CASES

from tests.checks.support import assert_forcing_probe_is_blind


def _forward(model, x, tau_f, warmup=0, *, when=None, inplace=False, reset=False,
             lagged=False, no_grad=False, order="force, step"):
    """A student's forcing loop, with switches for the typical mistakes; ``order`` "step,
    force" forces the new state and reads it out, "step, read, force" forces it after the
    read-out."""
    B, T, N = x.shape
    when = when or (lambda t: t < warmup or (t - warmup) % tau_f == 0)
    z = x.new_zeros(B, model.M)
    out = []

    def force(z, t):
        if inplace:
            z[:, :N] = x[:, t]
            return z
        rest = torch.zeros_like(z[:, N:]) if reset else z[:, N:]
        return torch.cat([x[:, t], rest], dim=-1)

    with torch.set_grad_enabled(not no_grad):
        for t in range(T):
            if order != "force, step":
                z = model(z)
                if order == "step, force" and when(t):
                    z = force(z, t)
                out.append(model.observe(z))
                if order == "step, read, force" and when(t):
                    z = force(z, t)
                continue
            if when(t):
                z = force(z, t)
            before = z
            z = model(z)
            out.append(model.observe(before if lagged else z))
    return torch.stack(out, dim=1)


# --- correct variants -------------------------------------------------------------------

def solution(model, x, tau_f):
    """The notebook's solution."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        if t % tau_f == 0:
            z = torch.cat([x[:, t], z[:, N:]], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)


def clone_and_write(model, x, tau_f):
    """Forcing by writing into a copy of the state; predictions written into a tensor."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    out = x.new_empty(B, T, N)
    for t in range(T):
        if t % tau_f == 0:
            z = z.clone()
            z[:, :N] = x[:, t]
        z = model(z)
        out[:, t] = z[:, :N]
    return out


def where_mask(model, x, tau_f):
    """Forcing with torch.where and a padded copy of the data, forcing set built first."""
    B, T, N = x.shape
    M = model.M
    observed = torch.arange(M) < N
    forcing = set(range(0, T, tau_f))
    z = torch.zeros(B, M, dtype=x.dtype, device=x.device)
    predictions = []
    for t in range(T):
        if t in forcing:
            z = torch.where(observed, F.pad(x[:, t], (0, M - N)), z)
        z = model.forward(z)
        predictions.append(z[..., :N])
    return torch.stack(predictions).permute(1, 0, 2)


def additive_correction(model, x, tau_f):
    """Forcing as z + (x - z[:N]) in the observed units (equal up to rounding)."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        if not t % tau_f:
            z = z + F.pad(x[:, t] - z[:, :N], (0, model.M - N))
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)


def write_then_copy_readout(model, x, tau_f):
    """Forcing written into z in place, each read-out copied before the next write."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        if t % tau_f == 0:
            z[:, :N] = x[:, t]
        z = model(z)
        predictions.append(model.observe(z).clone())
    return torch.stack(predictions, dim=1)


def zeros_of_default_dtype(model, x, tau_f):
    """z = torch.zeros(B, M) without dtype: t = 0 is forced, and torch.cat promotes."""
    B, T, N = x.shape
    z = torch.zeros(B, model.M)
    predictions = []
    for t in range(T):
        if t % tau_f == 0:
            z = torch.concat([x[:, t], z[:, N:]], dim=1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)


@pytest.mark.parametrize("student", [solution, clone_and_write, where_mask,
                                     additive_correction, write_then_copy_readout,
                                     zeros_of_default_dtype])
def test_correct_variants_pass_visible_and_hidden(student, capsys):
    check_stf_forward(student)
    check_stf_forward(student, hidden=True)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all(line.startswith("✓ stf_forward") for line in lines)


def test_check_works_inside_no_grad():
    with torch.no_grad():
        check_stf_forward(solution, hidden=True)


# --- typical mistakes -------------------------------------------------------------------

@pytest.mark.parametrize("slip, message", [
    (dict(when=lambda t: False), "The data are never used"),
    (dict(when=lambda t: True), "You force at every step"),
    (dict(when="shifted"), "shifted by one"),
    (dict(when="shifted back"), "shifted by one"),
    (dict(when="not at 0"), "The first state is not forced"),
    (dict(reset=True), "Forcing sets the unobserved units to zero"),
    (dict(lagged=True), "lag by one step"),
    (dict(order="step, force"), "You force after the step: at a forced step you keep the "
                                "read-out of the forced state"),
    (dict(order="step, read, force"), r"You force after the step: the state forced with "
                                      r"x\[:, t\] enters step t \+ 1"),
    (dict(inplace=True), r"^predictions\[0, 4, 0\] is wrong \(tau_f = 5\): expected .*This "
                         r"prediction was right when you stored it, but writing the forced "
                         r"state into z in place"),
    (dict(no_grad=True), "carry no gradient"),
])
def test_forcing_slips_are_named(slip, message):
    """Each slip is named after the first wrong value, shown in the form of every chapter."""
    def student(model, x, tau_f):
        kwargs = dict(slip)
        if kwargs.get("when") == "shifted":
            kwargs["when"] = lambda t: t % tau_f == 1
        elif kwargs.get("when") == "shifted back":             # t counted from 1
            kwargs["when"] = lambda t: (t + 1) % tau_f == 0
        elif kwargs.get("when") == "not at 0":
            kwargs["when"] = lambda t: t > 0 and t % tau_f == 0
        return _forward(model, x, tau_f, **kwargs)

    with pytest.raises(AssertionError, match=message) as info:
        check_stf_forward(student)
    if "carry no gradient" not in message:
        assert MISMATCH.match(str(info.value)), str(info.value)


def _loop(model, x, tau_f, *, when=None, data_step=lambda t: t, mix=1.0):
    """A student's loop forced at ``when(t)`` with x[:, data_step(t)], the observed units
    replaced by the data (``mix`` 1) or mixed with them, (1 - mix) z + mix x."""
    B, T, N = x.shape
    when = when or (lambda t: t % tau_f == 0)
    z = x.new_zeros(B, model.M)
    out = []
    for t in range(T):
        if when(t):
            data = x[:, data_step(t)]
            z = torch.cat([data if mix == 1 else (1 - mix) * z[:, :N] + mix * data, z[:, N:]],
                          dim=-1)
        z = model(z)
        out.append(model.observe(z))
    return torch.stack(out, dim=1)


@pytest.mark.parametrize("student, message", [
    (lambda m, x, tau_f: _loop(m, x, tau_f, data_step=lambda t: t - 1),
     r"You force with the previous observation x\[:, t - 1\]"),
    (lambda m, x, tau_f: _loop(m, x, tau_f, when=lambda t: t // tau_f == 0),
     r"You force at every step of the first interval and never after it"),
    (lambda m, x, tau_f: _loop(m, x, tau_f, when=lambda t: t % tau_f == 0 or t == x.shape[1] - 1),
     r"^predictions\[0, 22, 0\] is wrong \(tau_f = 5\): expected .*You force the last step "
     r"t = T - 1 too"),
    (lambda m, x, tau_f: _loop(m, x, tau_f, mix=0.5),
     r"You mix the data into the observed units, 0\.5 z_t\[:N\] \+ 0\.5 x_t"),
])
def test_slips_of_the_forcing_schedule_and_state_are_named(student, message):
    """Forcing with x[:, t - 1], only in the first interval, also at the last step (a slip
    seen only there, at the step the judge otherwise leaves out), and a half-blend."""
    with pytest.raises(AssertionError, match=message) as info:
        check_stf_forward(student)
    assert MISMATCH.match(str(info.value)), str(info.value)


def _detached_memory(model, x, tau_f):
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    out = []
    for t in range(T):
        if t % tau_f == 0:
            z = torch.cat([x[:, t], z[:, N:].detach()], dim=-1)
        z = model(z)
        out.append(model.observe(z))
    return torch.stack(out, dim=1)


def _state_buffer(model, x, tau_f):
    """Values right, but the one state buffer is overwritten after the model used it."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    out = []
    for t in range(T):
        if t % tau_f == 0:
            z[:, :N] = x[:, t]
        z[:] = model(z)
        out.append(model.observe(z).clone())
    return torch.stack(out, dim=1)


def test_forcing_with_the_target_is_named():
    def ahead(model, x, tau_f):
        B, T, N = x.shape
        z = x.new_zeros(B, model.M)
        out = []
        for t in range(T):
            if t % tau_f == 0 and t + 1 < T:
                z = torch.cat([x[:, t + 1], z[:, N:]], dim=-1)
            z = model(z)
            out.append(model.observe(z))
        return torch.stack(out, dim=1)

    with pytest.raises(AssertionError, match=r"force with the next observation x\[:, t \+ 1\]"):
        check_stf_forward(ahead)


def test_forcing_past_the_end_of_x_is_explained():
    """x[:, t + 1] without a guard runs past the end of x where the last step is forced
    (tau_f = 1): the IndexError is explained."""
    def unguarded(model, x, tau_f):
        B, T, N = x.shape
        z = x.new_zeros(B, model.M)
        out = []
        for t in range(T):
            if t % tau_f == 0:
                z = torch.cat([x[:, t + 1], z[:, N:]], dim=-1)
            z = model(z)
            out.append(model.observe(z))
        return torch.stack(out, dim=1)

    from course_utils.checks.framework import judge_shown, observe
    from course_utils.checks.observations import roundtrip
    from course_utils.checks.stf import STF_FORWARD

    with pytest.raises(AssertionError, match="You force with the next observation"):
        check_stf_forward(unguarded)                 # tau_f = 5: the last step is not forced
    every_step = next(c for c in STF_FORWARD.cases(False, None) if c.params["tau_f"] == 1)
    with pytest.raises(AssertionError, match=r"raised IndexError \(index 23 is out of bounds.*"
                                             r"x\[:, t\] exists for t = 0, \.\.\., T - 1 = "
                                             r"22\. .*force step t with x\[:, t\]"):
        judge_shown(STF_FORWARD, every_step,
                    roundtrip(observe(STF_FORWARD, every_step, (unguarded,))))


def test_detached_and_inplace_graphs_are_named():
    with pytest.raises(AssertionError, match=r"^A\.grad\[\d+\] is wrong \(tau_f = 5\): expected "
                                             r".*gradient with respect to A differs.*"
                                             r"detached") as info:
        check_stf_forward(_detached_memory)
    assert MISMATCH.match(str(info.value))
    with pytest.raises(AssertionError, match="backpropagation fails because z was changed "
                                             "in place"):
        check_stf_forward(_state_buffer)


@pytest.mark.parametrize("student, message", [
    (lambda m, x, tau_f: torch.zeros(*x.shape[:2], m.M), "not the whole latent state"),
    (lambda m, x, tau_f: _forward(m, x, tau_f).transpose(0, 1), r"stack along dim=1"),
    (lambda m, x, tau_f: _forward(m, x, tau_f)[:, :-1], "one prediction per input step"),
    (lambda m, x, tau_f: torch.cat(list(_forward(m, x, tau_f).unbind(1)), dim=1),
     r"shape \(3, 23, 2\); got \(3, 46\). torch.stack\(predictions, dim=1\), not torch.cat"),
    (lambda m, x, tau_f: _forward(m, x, tau_f) * 1.01,
     r"^predictions\[0, 0, 0\] is wrong \(tau_f = 5\): expected -0\.299711, got -0\.30270\d\. "
     r"At each step: force z if t is a forcing time"),
])
def test_wrong_shapes_and_values_are_explained(student, message):
    with pytest.raises(AssertionError, match=message):
        check_stf_forward(student)


# --- result types, dtypes and devices ---------------------------------------------------

@pytest.mark.parametrize("student, message", [
    (lambda m, x, tau_f: _forward(m, x, tau_f).detach().numpy(),
     "must return a torch tensor .*got a NumPy array"),
    (lambda m, x, tau_f: list(_forward(m, x, tau_f).unbind(1)),
     r"must return a torch tensor \(torch.stack.*got list"),
    (lambda m, x, tau_f: None, "must return a torch tensor .*got NoneType"),
    (lambda m, x, tau_f: _forward(m, x, tau_f).float(),
     "must have the dtype of x and the model, torch.float64 .*got torch.float32"),
    (lambda m, x, tau_f: _forward(m, x, tau_f).to("meta"),
     "must be on the device of its inputs, cpu; got meta"),
    (lambda m, x, tau_f: _forward(m, x, tau_f) * float("nan"),
     r"predictions\[0, 0, 0\] is wrong \(tau_f = 5\): expected -0\.299711, got nan\. A NaN or "
     r"an infinite value"),
])
def test_wrong_result_types_get_a_clear_message(student, message):
    with pytest.raises(AssertionError, match=message):
        check_stf_forward(student)


def test_float32_rounding_is_a_dtype_message_not_a_slip():
    """Regression: a float32 rounding difference was reported as "overwritten in place"
    (an empty list of mismatched steps passed all([]))."""
    def rounded(model, x, tau_f):
        B, T, N = x.shape
        z = x.new_zeros(B, model.M)
        out = []
        for t in range(T):
            if t % tau_f == 0:
                z = torch.cat([x[:, t].float(), z[:, N:]], dim=-1)   # promoted back to float64
            z = model(z)
            out.append(model.observe(z))
        return torch.stack(out, dim=1)

    with pytest.raises(AssertionError) as info:
        check_stf_forward(rounded)
    message = str(info.value)
    assert "the precision of float32" in message and "in place" not in message


def test_a_float32_forced_state_is_told_about_the_dtype():
    def float32_state(model, x, tau_f):
        B, T, N = x.shape
        z = x.new_zeros(B, model.M)
        out = []
        for t in range(T):
            if t % tau_f == 0:
                forced = torch.zeros(B, model.M)          # float32: the model is float64
                forced[:, :N] = x[:, t]
                forced[:, N:] = z[:, N:]
                z = forced
            z = model(z)
            out.append(model.observe(z))
        return torch.stack(out, dim=1)

    with pytest.raises(AssertionError, match="raised RuntimeError .* for inputs of dtype "
                                             "torch.float64 .*uses another dtype"):
        check_stf_forward(float32_state)


def test_inputs_changed_in_place_are_reported():
    def zeroes_x(model, x, tau_f):
        out = solution(model, x, tau_f)
        x[:, 0] = 0.0
        return out

    def clamps_a(model, x, tau_f):
        with torch.no_grad():
            model.A.clamp_(max=0.5)
        return solution(model, x, tau_f)

    with pytest.raises(AssertionError, match="changed its input x in place"):
        check_stf_forward(zeroes_x)
    with pytest.raises(AssertionError, match=r"changed its input model \(its parameters\)"):
        check_stf_forward(clamps_a)


def test_a_model_converted_in_place_is_reported():
    def converts_model(model, x, tau_f):
        model.float()
        return solution(model, x.float(), tau_f).double()

    with pytest.raises(AssertionError, match="converted the model in place"):
        check_stf_forward(converts_model)


# --- the notebook's own conditions -------------------------------------------------------

def _fixed_observed_units(model, x, tau_f):
    """Hard-codes N = 2, as in the first visible cases."""
    B, T, _ = x.shape
    z = x.new_zeros(B, model.M)
    out = []
    for t in range(T):
        if t % tau_f == 0:
            z = torch.cat([x[:, t], z[:, 2:]], dim=-1)
        z = model(z)
        out.append(z[:, :2])
    return torch.stack(out, dim=1)


def _fixed_batch_and_dtype(model, x, tau_f):
    """Hard-codes the batch size and dtype of the first visible cases."""
    z = torch.zeros(3, model.M, dtype=torch.float64)
    out = []
    for t in range(x.shape[1]):
        if t % tau_f == 0:
            z = torch.cat([x[:, t], z[:, 2:]], dim=-1)
        z = model(z)
        out.append(model.observe(z))
    return torch.stack(out, dim=1)


def _float64_inside(model, x, tau_f):
    """Computes in float64 whatever the dtype of x: fails with the notebook's float32 model."""
    x = x.double()
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    out = []
    for t in range(T):
        if t % tau_f == 0:
            z = torch.cat([x[:, t], z[:, N:]], dim=-1)
        z = model(z)
        out.append(model.observe(z))
    return torch.stack(out, dim=1)


def _forced_twice_only(model, x, tau_f):
    """Forces at t = 0 and t = tau_f only: right while T < 2 tau_f."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    out = []
    for t in range(T):
        if t in (0, tau_f) or tau_f < 8 and t % tau_f == 0:
            z = torch.cat([x[:, t], z[:, N:]], dim=-1)
        z = model(z)
        out.append(model.observe(z))
    return torch.stack(out, dim=1)


@pytest.mark.parametrize("student, message", [
    (_fixed_observed_units, r"raised RuntimeError .*for x of shape \(2, 83, 3\) and a model of "
                            r"M = 7 latent units \(float32, N = 3, tau_f = 25, T = 83, as in "
                            r"the notebook\): a size in your code does not fit"),
    (_fixed_batch_and_dtype, r"raised RuntimeError \(Sizes of tensors must match.*for x of "
                             r"shape \(2, 83, 3\) .*\(float32, N = 3, tau_f = 25, T = 83, as in "
                             r"the notebook\): a size in your code does not fit"),
    (_float64_inside, r"raised RuntimeError \(expected m1 and m2 to have the same dtype.*for "
                      r"inputs of dtype torch\.float32 .*The notebook's model and data are "
                      r"float32 too"),
    (_forced_twice_only, r"^predictions\[0, 50, 0\] is wrong \(float32, N = 3, tau_f = 25, "
                         r"T = 83, as in the notebook\): expected "),
])
def test_the_notebooks_conditions_are_visible(student, message):
    """What the notebook's next cell runs (float32, N = 3, tau_f = 25, several forcing
    intervals) is a visible case: sizes and dtypes fitted to the other visible cases, and
    a schedule right only within two forcing intervals, fail in the notebook's check."""
    with pytest.raises(AssertionError, match=message):
        check_stf_forward(student)


def test_the_visible_cases_hold_the_notebooks_settings():
    from course_utils.checks.stf import STF_FORWARD
    from course_utils.reconstruction import STF_DEFAULTS

    tau_f, N = STF_DEFAULTS["train"]["tau_f"], STF_DEFAULTS["N"]
    visible = [c.params for c in STF_FORWARD.cases(False, None)]
    assert any(p["dtype"] == "float32" and p["sizes"]["N"] == N and p["tau_f"] == tau_f
               and p["T"] > 3 * tau_f for p in visible)
    assert {p["dtype"] for p in visible} == {"float32", "float64"}
    assert len({p["B"] for p in visible}) > 1 and len({p["sizes"]["M"] for p in visible}) > 1


def test_every_visible_case_is_fair():
    """Every correct implementation passes the visible cases, in float32 too
    (:func:`course_utils.checks.helpers.fair_case`)."""
    from course_utils.checks.helpers import fair_case, forcing_inputs
    from course_utils.checks.stf import STF_FORWARD
    from course_utils.training import forcing_times

    for case in STF_FORWARD.cases(False, None):
        forced = forcing_times(case.params["T"], case.params["tau_f"])
        assert fair_case(*forcing_inputs(case), forced), case.label


# --- hidden cases -----------------------------------------------------------------------

def _interval_table(model, x, tau_f):
    """The forcing interval looked up among the visible ones (right in the notebook)."""
    interval = {1: 1, 5: 5, 7: 7, 25: 25}.get(tau_f, 5)
    return solution(model, x, interval)


def _fitted_to_visible_lengths(model, x, tau_f):
    """Forces at t % tau_f == 0 only in sequences of the visible lengths and of the
    notebook's (200 steps); every step elsewhere."""
    return solution(model, x, tau_f if x.shape[1] in (23, 83, 200) else 1)


@pytest.mark.parametrize("student", [_interval_table, _fitted_to_visible_lengths])
def test_overfitted_solutions_fail_a_hidden_case(student, capsys):
    check_stf_forward(student)
    assert capsys.readouterr().out.startswith("✓")
    with pytest.raises(HiddenCaseError, match="the visible check passes, but"):
        check_stf_forward(student, hidden=True)


def test_hidden_messages_reveal_no_inputs():
    numbers = {n for _, sizes, B, T, tau_f, seed, _ in _HIDDEN_CASES
               for n in (*sizes.values(), B, T, tau_f, seed)}
    for student in (_interval_table, _fitted_to_visible_lengths):
        with pytest.raises(HiddenCaseError) as info:
            check_stf_forward(student, hidden=True)
        message = str(info.value)
        for n in numbers:
            assert not re.search(rf"(?<![\w.]){n}(?![\w.])", message), (n, message)
        assert info.value.__cause__ is None and info.value.__suppress_context__


def test_hidden_cases_vary_what_a_solution_could_fix():
    """Each size and parameter takes, in some hidden case, a value no visible case has."""
    from course_utils.checks.stf import STF_FORWARD

    visible = [c.params for c in STF_FORWARD.cases(False, None)]
    kinds = set()
    for _, sizes, B, T, tau_f, seed, dtype in _HIDDEN_CASES:
        kinds |= {k for k in ("M", "L") if sizes[k] not in {p["sizes"][k] for p in visible}}
        kinds |= {"B"} if B not in {p["B"] for p in visible} else set()
        kinds |= {"T"} if T not in {p["T"] for p in visible} else set()
        kinds |= {"tau_f"} if tau_f not in {p["tau_f"] for p in visible} else set()
        kinds |= {dtype}
    assert {"M", "L", "B", "T", "tau_f", "float32", "float64"} <= kinds
    for label, *_ in _HIDDEN_CASES:                     # labels name kinds, not values
        assert not re.search(r"\d", label.replace("float32", "")), label


# --- cases, probe and judge ---------------------------------------------------------------

_CORRECT = [solution, clone_and_write, where_mask, additive_correction,
            write_then_copy_readout, zeros_of_default_dtype]


@pytest.mark.parametrize("salt", [0, 1, 2, 7, 123, 4_567, 98_765, 2**31 - 2])
def test_correct_variants_pass_the_hidden_cases_of_any_salt(salt, capsys):
    from course_utils.checks.framework import run_check
    from course_utils.checks.stf import STF_FORWARD

    for student in _CORRECT:
        run_check(STF_FORWARD, (student,), hidden=True, salt=salt)
    assert capsys.readouterr().out.count("✓ stf_forward") == len(_CORRECT)


def test_hidden_cases_mix_the_salt_into_both_seeds():
    from course_utils.checks.stf import STF_FORWARD

    plain = [c.params for c in STF_FORWARD.cases(True, None) if c.hidden]
    salted = [c.params for c in STF_FORWARD.cases(True, 99) if c.hidden]
    assert [c.params for c in STF_FORWARD.cases(False, 99)] == \
        [c.params for c in STF_FORWARD.cases(False, None)]
    for a, b in zip(plain, salted):
        assert a["seed"] != b["seed"] and a["sizes"]["seed"] != b["sizes"]["seed"]
    assert [(s["seed"], s["sizes"]["seed"]) for s in plain] == \
        [(seed, sizes["seed"]) for _, sizes, _, _, _, seed, _ in _HIDDEN_CASES]


def test_case_params_are_json_and_the_probe_computes_no_expected_value(monkeypatch):
    from course_utils.checks import stf

    assert_forcing_probe_is_blind(stf, stf.STF_FORWARD, stf._probe_stf, solution,
                                  monkeypatch)