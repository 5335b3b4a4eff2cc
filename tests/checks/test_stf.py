"""The feedback check of chapter 03 (sparse teacher forcing): correct code in its many forms
passes with a ✓ line, visibly and with the hidden cases; each typical mistake gets its own
message; a solution fitted to the visible inputs fails a hidden case without seeing it."""

import re

import pytest
import torch
import torch.nn.functional as F

from course_utils.checks import check_stf_forward
from course_utils.checks import HiddenCaseError
from course_utils.checks.stf import _HIDDEN_CASES

from tests.checks.support import assert_forcing_probe_is_blind


def _forward(model, x, tau_f, warmup=0, *, when=None, inplace=False, reset=False,
             lagged=False, no_grad=False):
    """A student's forcing loop, with switches for the typical mistakes."""
    B, T, N = x.shape
    when = when or (lambda t: t < warmup or (t - warmup) % tau_f == 0)
    z = x.new_zeros(B, model.M)
    out = []
    with torch.set_grad_enabled(not no_grad):
        for t in range(T):
            if when(t):
                if inplace:
                    z[:, :N] = x[:, t]
                else:
                    rest = torch.zeros_like(z[:, N:]) if reset else z[:, N:]
                    z = torch.cat([x[:, t], rest], dim=-1)
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
    (dict(when=lambda t: False), "the data are never used"),
    (dict(when=lambda t: True), "you force at every step"),
    (dict(when="shifted"), "shifted by one"),
    (dict(when="shifted back"), "shifted by one"),
    (dict(reset=True), "sets the unobserved units to zero"),
    (dict(lagged=True), "lag by one step"),
    (dict(inplace=True), "overwritten by the data"),
    (dict(no_grad=True), "carry no gradient"),
])
def test_forcing_slips_are_named(slip, message):
    def student(model, x, tau_f):
        kwargs = dict(slip)
        if kwargs.get("when") == "shifted":
            kwargs["when"] = lambda t: t % tau_f == 1
        elif kwargs.get("when") == "shifted back":             # t counted from 1
            kwargs["when"] = lambda t: (t + 1) % tau_f == 0
        return _forward(model, x, tau_f, **kwargs)

    with pytest.raises(AssertionError, match=message):
        check_stf_forward(student)


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


def test_detached_and_inplace_graphs_are_named():
    with pytest.raises(AssertionError, match="gradient with respect to .* differs.*detached"):
        check_stf_forward(_detached_memory)
    with pytest.raises(AssertionError, match="backpropagation fails because z was changed "
                                             "in place"):
        check_stf_forward(_state_buffer)


@pytest.mark.parametrize("student, message", [
    (lambda m, x, tau_f: torch.zeros(*x.shape[:2], m.M), "not the whole latent state"),
    (lambda m, x, tau_f: _forward(m, x, tau_f).transpose(0, 1), r"stack along dim=1"),
    (lambda m, x, tau_f: _forward(m, x, tau_f)[:, :-1], "one prediction per input step"),
    (lambda m, x, tau_f: torch.cat(list(_forward(m, x, tau_f).unbind(1)), dim=1),
     r"shape \(3, 23, 2\); got \(3, 46\). torch.stack\(predictions, dim=1\), not torch.cat"),
    (lambda m, x, tau_f: _forward(m, x, tau_f) * 1.01, "wrong prediction at batch 0"),
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
    (lambda m, x, tau_f: _forward(m, x, tau_f) * float("nan"), r"is nan \(tau_f = 5\)"),
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
    assert "the precision of float32" in message and "overwritten" not in message


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


# --- hidden cases -----------------------------------------------------------------------

def _fixed_observed_units(model, x, tau_f):
    """Hard-codes N = 2, as in the visible inputs."""
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
    """Hard-codes the visible batch size and dtype."""
    z = torch.zeros(3, model.M, dtype=torch.float64)
    out = []
    for t in range(x.shape[1]):
        if t % tau_f == 0:
            z = torch.cat([x[:, t], z[:, 2:]], dim=-1)
        z = model(z)
        out.append(model.observe(z))
    return torch.stack(out, dim=1)


@pytest.mark.parametrize("student", [_fixed_observed_units, _fixed_batch_and_dtype])
def test_overfitted_solutions_fail_a_hidden_case(student, capsys):
    check_stf_forward(student)
    assert capsys.readouterr().out.startswith("✓")
    with pytest.raises(HiddenCaseError, match="the visible check passes, but"):
        check_stf_forward(student, hidden=True)


def test_hidden_messages_reveal_no_inputs():
    numbers = {n for _, sizes, B, T, tau_f, seed, _ in _HIDDEN_CASES
               for n in (*sizes.values(), B, T, tau_f, seed)}
    for student in (_fixed_observed_units, _fixed_batch_and_dtype):
        with pytest.raises(HiddenCaseError) as info:
            check_stf_forward(student, hidden=True)
        message = str(info.value)
        for n in numbers:
            assert not re.search(rf"(?<![\w.]){n}(?![\w.])", message), (n, message)
        assert info.value.__cause__ is None and info.value.__suppress_context__


def test_hidden_cases_vary_what_a_solution_could_fix():
    visible = dict(M=6, L=10, N=2, seed=5)
    kinds = set()
    for _, sizes, B, T, tau_f, seed, dtype in _HIDDEN_CASES:
        kinds |= {k for k in ("M", "L", "N") if sizes[k] != visible[k]}
        kinds |= {"B"} if B != 3 else set()
        kinds |= {"T"} if T != 23 else set()
        kinds |= {"tau_f"} if tau_f not in (5, 7, 1) else set()
        kinds |= {dtype}
    assert {"M", "L", "N", "B", "T", "tau_f", "float32", "float64"} <= kinds
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