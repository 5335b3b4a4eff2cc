"""The feedback check of chapter 05 (sparse teacher forcing with a warm-up): correct code in
its many forms passes, visibly and with the hidden cases; each typical mistake gets its own
message; a solution fitted to the visible inputs fails a hidden case without seeing it."""

import re

import pytest
import torch

from course_utils.checks import check_stf_forward_warmup
from course_utils.checks import HiddenCaseError
from course_utils.checks.framework import MISMATCH
from course_utils.checks.warmup import _HIDDEN_CASES

from tests.checks.support import assert_forcing_probe_is_blind


def _forward(model, x, tau_f, warmup, *, when=None, inplace=False, reset=False,
             lagged=False, data_step=lambda t: t):
    """A student's forcing loop, with switches for the typical mistakes: ``reset`` True or
    a function of t (the unobserved units zeroed where it is True), forced with
    x[:, data_step(t)]."""
    B, T, N = x.shape
    when = when or (lambda t: t < warmup or (t - warmup) % tau_f == 0)
    z = x.new_zeros(B, model.M)
    out = []
    for t in range(T):
        if when(t):
            if inplace:
                z[:, :N] = x[:, t]
            else:
                zeroed = reset(t) if callable(reset) else reset
                rest = torch.zeros_like(z[:, N:]) if zeroed else z[:, N:]
                z = torch.cat([x[:, data_step(t)], rest], dim=-1)
        before = z
        z = model(z)
        out.append(model.observe(before if lagged else z))
    return torch.stack(out, dim=1)


# --- correct variants -------------------------------------------------------------------

def solution(model, x, tau_f, warmup):
    """The notebook's solution."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        if t < warmup or (t - warmup) % tau_f == 0:
            z = torch.cat([x[:, t], z[:, N:]], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)


def two_loops(model, x, tau_f, warmup):
    """The warm-up in one loop, the sparse forcing in a second, with a step counter."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(warmup):
        z = model(torch.cat([x[:, t], z[:, N:]], dim=-1))
        predictions.append(z[:, :N])
    since = 0
    for t in range(warmup, T):
        if since == 0:
            z = torch.cat([x[:, t], z[:, N:]], dim=-1)
        z = model(z)
        predictions.append(z[:, :N])
        since = (since + 1) % tau_f
    return torch.stack(predictions, dim=1)


def mask_and_clone(model, x, tau_f, warmup):
    """A boolean forcing mask built first; forcing by writing into a copy."""
    B, T, N = x.shape
    t = torch.arange(T)
    forced = (t < warmup) | ((t - warmup) % tau_f == 0)
    z = torch.zeros(B, model.M, dtype=x.dtype)
    out = x.new_zeros(B, T, N)
    for step in range(T):
        if forced[step]:
            z = z.clone()
            z[:, :N] = x[:, step]
        z = model(z)
        out[:, step] = model.observe(z)
    return out


def same_remainder(model, x, tau_f, warmup):
    """t = warmup + n tau_f written as t % tau_f == warmup % tau_f."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        if t < warmup or (t >= warmup and t % tau_f == warmup % tau_f):
            z = torch.cat((x[:, t], z[:, N:]), 1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, 1)


@pytest.mark.parametrize("student", [solution, two_loops, mask_and_clone, same_remainder])
def test_correct_variants_pass_visible_and_hidden(student, capsys):
    check_stf_forward_warmup(student)
    check_stf_forward_warmup(student, hidden=True)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all(line.startswith("✓ stf_forward_warmup") for line in lines)


# --- typical mistakes -------------------------------------------------------------------

@pytest.mark.parametrize("student, message", [
    (lambda m, x, tau_f, w: _forward(m, x, tau_f, w)[:, w:], "leaves out the warm-up"),
    (lambda m, x, tau_f, w: _forward(m, x, tau_f, w, when=lambda t: t % tau_f == 0),
     "not forced at every step"),
    (lambda m, x, tau_f, w: _forward(m, x, tau_f, w, when=lambda t: t < w or t % tau_f == 0),
     "count the forcing interval from its end"),
    (lambda m, x, tau_f, w: _forward(m, x, tau_f, w, when=lambda t: True),
     "forced at every step: then force only every"),
    (lambda m, x, tau_f, w: _forward(m, x, tau_f, w,
                                     when=lambda t: t < w or (t - w) % tau_f == 1),
     "after the warm-up is shifted by one step"),
    (lambda m, x, tau_f, w: _forward(m, x, tau_f, w,
                                     when=lambda t: t <= w or (t - w - 1) % tau_f == 0),
     "starts one step late"),
    (lambda m, x, tau_f, w: _forward(m, x, tau_f, w, reset=True),
     "sets the unobserved units to zero"),
    (lambda m, x, tau_f, w: _forward(m, x, tau_f, w, lagged=True), "lag by one step"),
    (lambda m, x, tau_f, w: _forward(m, x, tau_f, w,
                                     when=lambda t: t < w or (t - w + 1) % tau_f == 0),
     "after the warm-up is shifted by one step"),
    (lambda m, x, tau_f, w: _forward(m, x, tau_f, w, inplace=True),
     r"^predictions\[0, 0, 0\] is wrong \(tau_f = 7, warmup = 9\): expected .*This prediction "
     r"was right when you stored it, but writing the forced state into z in place"),
    (lambda m, x, tau_f, w: _forward(m, x, tau_f, w, when=lambda t: t < w),
     "After the warm-up the model is never forced again"),
    (lambda m, x, tau_f, w: _forward(m, x, tau_f, w,
                                     when=lambda t: t < w or t > w and (t - w) % tau_f == 0),
     "The first sparse forcing time is skipped"),
    (lambda m, x, tau_f, w: _forward(m, x, tau_f, w, when=lambda t: False),
     "The data are never used"),
    (lambda m, x, tau_f, w: _forward(m, x, tau_f, w,
                                     when=lambda t: t < w - 1 or (t - w) % tau_f == 0),
     "The warm-up is one step short"),
    (lambda m, x, tau_f, w: _forward(m, x, tau_f, w, when=lambda t: (t - w) % tau_f == 0),
     "The warm-up steps are not all forced: without a branch for t < warmup"),
    (lambda m, x, tau_f, w: _forward(m, x, tau_f, w,
                                     when=lambda t: t < w or (t + w) % tau_f == 0),
     r"counted with t \+ warmup"),
    (lambda m, x, tau_f, w: _forward(m, x, tau_f, w, reset=lambda t: t >= w),
     "The forcing after the warm-up sets the unobserved units to zero"),
    (lambda m, x, tau_f, w: _forward(m, x, tau_f, w, data_step=lambda t: t + 1 if t < w else t),
     r"The warm-up is forced with the next observation x\[:, t \+ 1\]"),
    (lambda m, x, tau_f, w: _forward(m, x, tau_f, w, data_step=lambda t: t - 1),
     r"You force with the previous observation x\[:, t - 1\]"),
    (lambda m, x, tau_f, w: _forward(m, x, tau_f, w).detach(), "carry no gradient"),
    (lambda m, x, tau_f, w: _forward(m, x, tau_f, w) + 1e-3,
     r"^predictions\[0, 0, 0\] is wrong \(tau_f = 7, warmup = 9\): expected -0\.686025, got "
     r"-0\.685025\. At each step"),
])
def test_warmup_slips_are_named(student, message):
    with pytest.raises(AssertionError, match=message) as info:
        check_stf_forward_warmup(student)
    if "carry no gradient" not in message and "leaves out" not in message:
        assert MISMATCH.match(str(info.value)), str(info.value)


# --- result types, dtypes, devices and inputs -------------------------------------------

@pytest.mark.parametrize("student, message", [
    (lambda m, x, tau_f, w: _forward(m, x, tau_f, w).detach().numpy(),
     "must return a torch tensor .*got a NumPy array"),
    (lambda m, x, tau_f, w: list(_forward(m, x, tau_f, w)),
     "must return a torch tensor .*got list"),
    (lambda m, x, tau_f, w: _forward(m, x, tau_f, w).squeeze(-1),
     r"got \(3, 30\). keep the last axis, of size N = 1: do not squeeze it"),
    (lambda m, x, tau_f, w: _forward(m, x, tau_f, w).float(),
     "must have the dtype of x and the model, torch.float64"),
    (lambda m, x, tau_f, w: _forward(m, x, tau_f, w).to("meta"),
     "must be on the device of its inputs, cpu; got meta"),
    (lambda m, x, tau_f, w: _forward(m, x.float(), tau_f, w),
     "raised RuntimeError .*uses another dtype"),
])
def test_wrong_result_types_get_a_clear_message(student, message):
    with pytest.raises(AssertionError, match=message):
        check_stf_forward_warmup(student)


def test_rounding_through_float32_is_a_dtype_message():
    def rounded(model, x, tau_f, warmup):
        return solution(model, x.float().double(), tau_f, warmup)

    with pytest.raises(AssertionError, match="the precision of float32") as info:
        check_stf_forward_warmup(rounded)
    assert "overwritten" not in str(info.value)


def test_inputs_changed_in_place_are_reported():
    def normalises_x(model, x, tau_f, warmup):
        x -= x.mean()
        return solution(model, x, tau_f, warmup)

    with pytest.raises(AssertionError, match="changed its input x in place"):
        check_stf_forward_warmup(normalises_x)


# --- any number of observed units, and the notebook's own conditions ---------------------

def _one_observed_unit(model, x, tau_f, warmup):
    """Hard-codes N = 1, the chapter's number of observed units."""
    B, T, _ = x.shape
    z = x.new_zeros(B, model.M)
    out = []
    for t in range(T):
        if t < warmup or (t - warmup) % tau_f == 0:
            z = torch.cat([x[:, t, :1], z[:, 1:]], dim=-1)
        z = model(z)
        out.append(z[:, :1])
    return torch.stack(out, dim=1)


def _forces_one_unit(model, x, tau_f, warmup):
    """Forces x[:, t, :1] only, and reads out all N units."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    out = []
    for t in range(T):
        if t < warmup or (t - warmup) % tau_f == 0:
            z = torch.cat([x[:, t, :1], z[:, 1:]], dim=-1)
        z = model(z)
        out.append(model.observe(z))
    return torch.stack(out, dim=1)


def _fixed_length(model, x, tau_f, warmup):
    """Hard-codes the sequence length of the first visible cases."""
    B, _, N = x.shape
    z = x.new_zeros(B, model.M)
    out = []
    for t in range(30):
        if t < warmup or (t - warmup) % tau_f == 0:
            z = torch.cat([x[:, t], z[:, N:]], dim=-1)
        z = model(z)
        out.append(model.observe(z))
    return torch.stack(out, dim=1)


def _float64_inside(model, x, tau_f, warmup):
    return solution(model, x, tau_f, warmup).double()


@pytest.mark.parametrize("student, message", [
    (_one_observed_unit, r"\(N = 2 observed units, tau_f = 3, warmup = 5\) the predictions must "
                         r"have shape \(3, 24, 2\); got \(3, 24, 1\)\. one read-out per "
                         r"observed unit: N = x\.shape\[-1\] is 2 here, do not fix N = 1"),
    (_forces_one_unit, r"\(N = 2 observed units, tau_f = 3, warmup = 5\): expected .*Only the "
                       r"first observed unit is forced, as if N were 1"),
    (_fixed_length, r"raised IndexError \(index \d+ is out of bounds.*\(N = 2 observed units, "
                    r"tau_f = 3, warmup = 5\): x\[:, t\] exists for t = 0, \.\.\., T - 1 = 23\. "
                    r"Loop over range\(T\)"),
    (_float64_inside, r"must have the dtype of x and the model, torch\.float32 \(float32, "
                      r"tau_f = 25, warmup = 50, T = 108, as in the notebook\); got "
                      r"torch\.float64"),
])
def test_any_n_and_the_notebooks_dtype_are_visible(student, message):
    """The task's function is written for any N: two observed units are a visible case, and
    so are the notebook's float32 model, forcing interval and warm-up."""
    with pytest.raises(AssertionError, match=message):
        check_stf_forward_warmup(student)


def test_the_visible_cases_hold_the_notebooks_settings():
    from course_utils.checks.warmup import STF_FORWARD_WARMUP
    from course_utils.reconstruction import STF_X_DEFAULTS

    train = STF_X_DEFAULTS["train"]
    visible = [c.params for c in STF_FORWARD_WARMUP.cases(False, None)]
    assert any(p["dtype"] == "float32" and p["sizes"]["N"] == STF_X_DEFAULTS["N"]
               and p["tau_f"] == train["tau_f"] and p["warmup"] == train["warmup"]
               and p["T"] > p["warmup"] + 2 * p["tau_f"] for p in visible)
    assert {p["sizes"]["N"] for p in visible} >= {1, 2}
    assert {p["warmup"] for p in visible} >= {0}
    assert any(p["warmup"] > p["tau_f"] for p in visible)


def test_every_visible_case_is_fair():
    from course_utils.checks.helpers import fair_case, forcing_inputs
    from course_utils.checks.warmup import STF_FORWARD_WARMUP
    from course_utils.training import forcing_times

    for case in STF_FORWARD_WARMUP.cases(False, None):
        p = case.params
        assert fair_case(*forcing_inputs(case), forcing_times(p["T"], p["tau_f"], p["warmup"]))


# --- hidden cases -----------------------------------------------------------------------

def _warmup_table(model, x, tau_f, warmup):
    """The warm-up looked up by the forcing interval, as in the visible cases."""
    return solution(model, x, tau_f, {7: 9, 5: 4, 6: 0, 3: 5, 25: 50}.get(tau_f, warmup + 1))


def _fitted_to_visible_lengths(model, x, tau_f, warmup):
    """Forces the warm-up only in sequences of the visible lengths."""
    if x.shape[1] in (30, 24, 108):
        return solution(model, x, tau_f, warmup)
    return solution(model, x, tau_f, 0)


@pytest.mark.parametrize("student", [_warmup_table, _fitted_to_visible_lengths])
def test_overfitted_solutions_fail_a_hidden_case(student, capsys):
    check_stf_forward_warmup(student)
    assert capsys.readouterr().out.startswith("✓")
    with pytest.raises(HiddenCaseError, match="the visible check passes, but"):
        check_stf_forward_warmup(student, hidden=True)


def test_hidden_messages_reveal_no_inputs():
    numbers = {n for _, sizes, B, T, tau_f, warmup, seed, _ in _HIDDEN_CASES
               for n in (*sizes.values(), B, T, tau_f, warmup, seed)}
    for student in (_warmup_table, _fitted_to_visible_lengths):
        with pytest.raises(HiddenCaseError) as info:
            check_stf_forward_warmup(student, hidden=True)
        message = str(info.value)
        for n in numbers:
            assert not re.search(rf"(?<![\w.]){n}(?![\w.])", message), (n, message)
        assert info.value.__cause__ is None and info.value.__suppress_context__
    for label, *_ in _HIDDEN_CASES:                     # labels name kinds, not values
        assert not re.search(r"\d", label.replace("float32", "")), label


def test_hidden_cases_vary_what_a_solution_could_fix():
    from course_utils.checks.warmup import STF_FORWARD_WARMUP

    visible = [c.params for c in STF_FORWARD_WARMUP.cases(False, None)]
    assert any(dtype == "float32" for *_, dtype in _HIDDEN_CASES)
    assert {T for _, _, _, T, *_ in _HIDDEN_CASES} - {p["T"] for p in visible}
    assert {(tau_f, w) for _, _, _, _, tau_f, w, *_ in _HIDDEN_CASES}.isdisjoint(
        {(p["tau_f"], p["warmup"]) for p in visible})
    assert any(w > tau_f for _, _, _, _, tau_f, w, *_ in _HIDDEN_CASES)


# --- cases, probe and judge ---------------------------------------------------------------

_CORRECT = [solution, two_loops, mask_and_clone, same_remainder]


@pytest.mark.parametrize("salt", [0, 1, 2, 7, 123, 4_567, 98_765, 2**31 - 2])
def test_correct_variants_pass_the_hidden_cases_of_any_salt(salt, capsys):
    from course_utils.checks.framework import run_check
    from course_utils.checks.warmup import STF_FORWARD_WARMUP

    for student in _CORRECT:
        run_check(STF_FORWARD_WARMUP, (student,), hidden=True, salt=salt)
    assert capsys.readouterr().out.count("✓ stf_forward_warmup") == len(_CORRECT)


def test_hidden_cases_mix_the_salt_into_both_seeds():
    from course_utils.checks.warmup import STF_FORWARD_WARMUP

    plain = [c.params for c in STF_FORWARD_WARMUP.cases(True, None) if c.hidden]
    salted = [c.params for c in STF_FORWARD_WARMUP.cases(True, 99) if c.hidden]
    assert [c.params for c in STF_FORWARD_WARMUP.cases(False, 99)] == \
        [c.params for c in STF_FORWARD_WARMUP.cases(False, None)]
    for a, b in zip(plain, salted):
        assert a["seed"] != b["seed"] and a["sizes"]["seed"] != b["sizes"]["seed"]
    assert [(s["seed"], s["sizes"]["seed"]) for s in plain] == \
        [(seed, sizes["seed"]) for _, sizes, _, _, _, _, seed, _ in _HIDDEN_CASES]


def test_case_params_are_json_and_the_probe_computes_no_expected_value(monkeypatch):
    from course_utils.checks import warmup

    assert_forcing_probe_is_blind(warmup, warmup.STF_FORWARD_WARMUP, warmup._probe_warmup, solution,
                                  monkeypatch)