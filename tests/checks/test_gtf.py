"""The feedback check of chapter 06 (generalized teacher forcing): correct code in its many
forms passes, visibly and with the hidden cases; each typical mistake gets its own message;
a solution fitted to the visible inputs fails a hidden case without seeing it."""

import re

import pytest
import torch

from course_utils.checks import check_gtf_forward
from course_utils.checks import HiddenCaseError
from course_utils.checks.framework import MISMATCH
from course_utils.checks.gtf import _HIDDEN_CASES
from course_utils.training import gtf_forward

from tests.checks.support import assert_forcing_probe_is_blind


def _forward(model, x, alpha, *, first=True, swap=False, damp=False, lagged=False,
             every=True, reset=False, ahead=False, after=False, inplace=False):
    """A student's GTF loop, with switches for the typical mistakes."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    out = []
    a = 1 - alpha if swap else alpha
    for t in range(T):
        data = x[:, min(t + 1, T - 1) if ahead else t]
        if after:
            z = model(z)
        if inplace:
            w = 1.0 if t == 0 else a
            z[:, :N] = (1 - w) * z[:, :N] + w * data
        elif t == 0 and first:
            z = torch.cat([data, z[:, N:]], dim=-1)
        elif every or t == 0:
            rest = (1 - a) * z[:, N:] if damp else z[:, N:]
            rest = torch.zeros_like(rest) if reset else rest
            z = torch.cat([(1 - a) * z[:, :N] + a * data, rest], dim=-1)
        if after:
            out.append(model.observe(z))
            continue
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

def _swapped_everywhere(model, x, alpha):
    """a z + (1 - a) x with a = 1 at t = 0: the first state gets none of x_0."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    out = []
    for t in range(T):
        a = 1.0 if t == 0 else alpha
        z = model(torch.cat([a * z[:, :N] + (1 - a) * x[:, t], z[:, N:]], dim=-1))
        out.append(model.observe(z))
    return torch.stack(out, dim=1)


def _previous_observation(model, x, alpha):
    """Pulled towards x[:, t - 1] (x[:, -1] at t = 0)."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    out = []
    for t in range(T):
        a = 1.0 if t == 0 else alpha
        z = model(torch.cat([(1 - a) * z[:, :N] + a * x[:, t - 1], z[:, N:]], dim=-1))
        out.append(model.observe(z))
    return torch.stack(out, dim=1)


@pytest.mark.parametrize("student, message", [
    (lambda m, x, a: _forward(m, x, a, every=False), "used only for the first state"),
    (lambda m, x, a: _forward(m, x, 1.0), "as if alpha were 1"),
    (lambda m, x, a: _forward(m, x, a, swap=True), "swapped"),
    (_swapped_everywhere, "Alpha and 1 - alpha are swapped, in the first state too"),
    (_previous_observation, "You force with the previous observation x[:, t - 1]"),
    (lambda m, x, a: _forward(m, x, a, damp=True), "unobserved units are damped"),
    (lambda m, x, a: _forward(m, x, a, first=False), "start from the data"),
    (lambda m, x, a: _forward(m, x, a, lagged=True), "lag by one step"),
    (lambda m, x, a: _forward(m, x, a, reset=True), "Forcing sets the unobserved units to zero"),
    (lambda m, x, a: _forward(m, x, a, ahead=True), "You force with the next observation"),
    (lambda m, x, a: _forward(m, x, a, after=True), "You force after the step"),
    (lambda m, x, a: _forward(m, x, a)[:, :, :1], "must have shape"),
    (lambda m, x, a: _forward(m, x, a).detach(), "carry no gradient"),
    (lambda m, x, a: _forward(m, x, a).float(), "dtype"),
])
def test_each_slip_gets_its_message(student, message):
    with pytest.raises(AssertionError, match=re.escape(message)) as info:
        check_gtf_forward(student)
    if message[0].isupper() or message in ("swapped", "start from the data"):
        assert MISMATCH.match(str(info.value)), str(info.value)


def test_an_inplace_write_is_named_at_the_prediction_it_overwrites():
    """Written into z in place, each stored read-out (a view of z) takes the mixture of the
    next step: the message shows the first such prediction, at step 0, and names the
    in-place write, for a partial forcing as well as for alpha = 1."""
    with pytest.raises(AssertionError, match=r"^predictions\[0, 0, 0\] is wrong \(alpha = 0\.3\): "
                                             r"expected .*This prediction was right when you "
                                             r"stored it, but writing the forced state into z "
                                             r"in place"):
        check_gtf_forward(lambda m, x, a: _forward(m, x, a, inplace=True))
    with pytest.raises(AssertionError, match=r"is wrong \(alpha = 1\.0\): expected .*in place"):
        check_gtf_forward(lambda m, x, a: _forward(m, x, a, inplace=a == 1.0))


def _hidden_from_the_end(model, x, alpha):
    """The unobserved units taken as z[:, -(M - N):], which is all of z when N = M."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    out = []
    for t in range(T):
        a = 1.0 if t == 0 else alpha
        z = torch.cat([(1 - a) * z[:, :N] + a * x[:, t], z[:, -(model.M - N):]], dim=-1)
        z = model(z)
        out.append(model.observe(z))
    return torch.stack(out, dim=1)


def _float64_state(model, x, alpha):
    B, T, N = x.shape
    z = torch.zeros(B, model.M, dtype=torch.float64)
    out = []
    for t in range(T):
        a = 1.0 if t == 0 else alpha
        z = torch.cat([(1 - a) * z[:, :N] + a * x[:, t], z[:, N:]], dim=-1)
        z = model(z)
        out.append(model.observe(z))
    return torch.stack(out, dim=1)


@pytest.mark.parametrize("student, message", [
    (_hidden_from_the_end, r"for x of shape \(3, 23, 3\) and a model of M = 3 latent units "
                           r"\(every unit observed, N = M = 3, alpha = 0\.4\): a size in your "
                           r"code does not fit"),
    (_float64_state, r"raised RuntimeError \(expected m1 and m2 to have the same dtype.*for "
                     r"inputs of dtype torch\.float32 \(float32, N = 3, alpha = 0\.2, as in the "
                     r"notebook\)"),
])
def test_every_unit_observed_and_the_notebooks_dtype_are_visible(student, message):
    with pytest.raises(AssertionError, match=message):
        check_gtf_forward(student)


def test_the_visible_cases_hold_the_texts_edge_cases_and_the_notebooks_settings():
    from course_utils.checks.gtf import GTF_FORWARD
    from course_utils.reconstruction import GTF_DEFAULTS

    visible = [c.params for c in GTF_FORWARD.cases(False, None)]
    assert {0.0, 1.0} <= {p["alpha"] for p in visible}
    assert any(p["sizes"]["N"] == p["sizes"]["M"] for p in visible)
    assert any(p["dtype"] == "float32" and p["sizes"]["N"] == GTF_DEFAULTS["N"]
               and p["alpha"] == 0.2 for p in visible)       # the alpha of the next cell


def test_every_visible_case_is_fair():
    from course_utils.checks.gtf import GTF_FORWARD
    from course_utils.checks.helpers import fair_case, forcing_inputs
    from course_utils.training import forcing_weights

    for case in GTF_FORWARD.cases(False, None):
        weights = forcing_weights(case.params["T"], alpha=case.params["alpha"])
        assert fair_case(*forcing_inputs(case), weights), case.label


def test_a_solution_fitted_to_the_visible_alphas_fails_a_hidden_case():
    """Right only for the visible forcing strengths (it ignores alpha and uses 0.3 unless
    alpha is one of the visible ones): passes the visible check, fails a hidden one, and
    the message does not reveal the hidden inputs."""
    def fitted(model, x, alpha):
        return solution(model, x, alpha if alpha in (0.3, 0.05, 1.0, 0.0, 0.4, 0.2) else 0.3)

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