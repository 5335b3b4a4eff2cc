"""The feedback check of chapter 06 (generalized teacher forcing): correct code in its many
forms passes, visibly and with the hidden cases; each typical mistake gets its own message;
a solution fitted to the visible inputs fails a hidden case without seeing it."""

import re

import pytest
import torch

from course_utils.checks import check_gtf_forward
from course_utils.checks import HiddenCaseError
from course_utils.checks.gtf import _HIDDEN_CASES
from course_utils.training import gtf_forward

from tests.checks.support import assert_forcing_probe_is_blind


def _forward(model, x, alpha, *, first=True, swap=False, damp=False, lagged=False,
             every=True):
    """A student's GTF loop, with switches for the typical mistakes."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    out = []
    a = 1 - alpha if swap else alpha
    for t in range(T):
        data = x[:, t]
        if t == 0 and first:
            z = torch.cat([data, z[:, N:]], dim=-1)
        elif every or t == 0:
            rest = (1 - a) * z[:, N:] if damp else z[:, N:]
            z = torch.cat([(1 - a) * z[:, :N] + a * data, rest], dim=-1)
        before = z
        z = model(z)
        out.append(model.observe(before if lagged else z))
    return torch.stack(out, dim=1)


# --- correct variants -------------------------------------------------------------------

def solution(model, x, alpha):
    """The notebook's solution."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        a = 1.0 if t == 0 else alpha
        z = torch.cat([(1 - a) * z[:, :N] + a * x[:, t], z[:, N:]], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)


def towards_the_data(model, x, alpha):
    """Written as a step towards the data, z + alpha (x - z), with the first state built
    before the loop."""
    B, T, N = x.shape
    z = torch.cat([x[:, 0], x.new_zeros(B, model.M - N)], dim=1)
    predictions = [model.observe(model(z))]
    z = model(z)
    for t in range(1, T):
        observed = z[:, :N] + alpha * (x[:, t] - z[:, :N])
        z = model(torch.cat((observed, z[:, N:]), 1))
        predictions.append(z[:, :N])
    return torch.stack(predictions, 1)


def mask_and_clone(model, x, alpha):
    """Forcing by writing into a copy, with a tensor of weights per step."""
    B, T, N = x.shape
    weights = torch.full((T,), float(alpha), dtype=x.dtype)
    weights[0] = 1
    z = torch.zeros(B, model.M, dtype=x.dtype)
    out = x.new_zeros(B, T, N)
    for t in range(T):
        z = z.clone()
        z[:, :N] = torch.lerp(z[:, :N], x[:, t], weights[t])
        z = model(z)
        out[:, t] = model.observe(z)
    return out


@pytest.mark.parametrize("student", [solution, towards_the_data, mask_and_clone, gtf_forward])
def test_correct_variants_pass_visible_and_hidden(student, capsys):
    check_gtf_forward(student)
    check_gtf_forward(student, hidden=True)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all(line.startswith("✓ gtf_forward") for line in lines)


# --- typical mistakes -------------------------------------------------------------------

@pytest.mark.parametrize("student, message", [
    (lambda m, x, a: _forward(m, x, a, every=False), "used only for the first state"),
    (lambda m, x, a: _forward(m, x, 1.0), "as if alpha were 1"),
    (lambda m, x, a: _forward(m, x, a, swap=True), "swapped"),
    (lambda m, x, a: _forward(m, x, a, damp=True), "unobserved units are damped"),
    (lambda m, x, a: _forward(m, x, a, first=False), "start from the data"),
    (lambda m, x, a: _forward(m, x, a, lagged=True), "lag by one step"),
    (lambda m, x, a: _forward(m, x, a)[:, :, :1], "must have shape"),
    (lambda m, x, a: _forward(m, x, a).detach(), "carry no gradient"),
    (lambda m, x, a: _forward(m, x, a).float(), "dtype"),
])
def test_each_slip_gets_its_message(student, message):
    with pytest.raises(AssertionError, match=re.escape(message)):
        check_gtf_forward(student)


def test_a_solution_fitted_to_the_visible_alphas_fails_a_hidden_case():
    """Right only for the visible forcing strengths (it ignores alpha and uses 0.3 unless
    alpha is one of the visible ones): passes the visible check, fails a hidden one, and
    the message does not reveal the hidden inputs."""
    def fitted(model, x, alpha):
        return solution(model, x, alpha if alpha in (0.3, 0.05, 1.0) else 0.3)

    check_gtf_forward(fitted)
    with pytest.raises(HiddenCaseError) as info:
        check_gtf_forward(fitted, hidden=True)
    text = str(info.value)
    assert "hidden" in text
    for label, sizes, B, T, alpha, seed, dtype in _HIDDEN_CASES:
        assert f"alpha = {alpha}" not in text


# --- cases, probe and judge ---------------------------------------------------------------

_CORRECT = [solution, towards_the_data, mask_and_clone, gtf_forward]


@pytest.mark.parametrize("salt", [0, 1, 2, 7, 123, 4_567, 98_765, 2**31 - 2])
def test_correct_variants_pass_the_hidden_cases_of_any_salt(salt, capsys):
    from course_utils.checks.framework import run_check
    from course_utils.checks.gtf import GTF_FORWARD

    for student in _CORRECT:
        run_check(GTF_FORWARD, (student,), hidden=True, salt=salt)
    assert capsys.readouterr().out.count("✓ gtf_forward") == len(_CORRECT)


def test_hidden_cases_mix_the_salt_into_both_seeds():
    from course_utils.checks.gtf import GTF_FORWARD

    plain = [c.params for c in GTF_FORWARD.cases(True, None) if c.hidden]
    salted = [c.params for c in GTF_FORWARD.cases(True, 99) if c.hidden]
    assert [c.params for c in GTF_FORWARD.cases(False, 99)] == \
        [c.params for c in GTF_FORWARD.cases(False, None)]
    for a, b in zip(plain, salted):
        assert a["seed"] != b["seed"] and a["sizes"]["seed"] != b["sizes"]["seed"]
    assert [(s["seed"], s["sizes"]["seed"]) for s in plain] == \
        [(seed, sizes["seed"]) for _, sizes, _, _, _, seed, _ in _HIDDEN_CASES]


def test_case_params_are_json_and_the_probe_computes_no_expected_value(monkeypatch):
    from course_utils.checks import gtf

    assert_forcing_probe_is_blind(gtf, gtf.GTF_FORWARD, gtf._probe_gtf, solution,
                                  monkeypatch)