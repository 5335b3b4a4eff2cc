"""The student checks of chapters 06 (linearization) and 07 (LRU): a right answer passes,
and each typical slip is caught with its own message."""

import numpy as np
import pytest
import torch

from course_utils import checks


# ---- chapter 06 -------------------------------------------------------------------------

def _pre(rnn, u, h, bias=True):
    a = rnn.weight_ih_l0 @ u + rnn.weight_hh_l0 @ h
    return a + rnn.bias_ih_l0 + rnn.bias_hh_l0 if bias else a


def jacobians_right(rnn, u, h):
    s = 1 - torch.tanh(_pre(rnn, u, h)) ** 2
    return s[:, None] * rnn.weight_hh_l0, s[:, None] * rnn.weight_ih_l0


def jacobians_autograd(rnn, u, h):
    J_u, J_h = torch.autograd.functional.jacobian(
        lambda uu, hh: rnn(uu[None, None], hh[None, None])[1].reshape(-1), (u, h))
    return J_h, J_u


def test_rnn_jacobians_right_answers_pass(capsys):
    checks.check_rnn_jacobians(jacobians_right)
    checks.check_rnn_jacobians(jacobians_autograd)
    assert capsys.readouterr().out.count("\u2713") == 2


@pytest.mark.parametrize("slip, message", [
    (lambda r, u, h: tuple(J.T if i == 0 else J for i, J in enumerate(jacobians_right(r, u, h))),
     "transposed"),
    (lambda r, u, h: (r.weight_hh_l0, r.weight_ih_l0), "chain rule"),
    (lambda r, u, h: ((1 - h ** 2)[:, None] * r.weight_hh_l0,
                      (1 - h ** 2)[:, None] * r.weight_ih_l0), "current state h"),
    (lambda r, u, h: ((1 - torch.tanh(_pre(r, u, h)))[:, None] * r.weight_hh_l0,
                      (1 - torch.tanh(_pre(r, u, h)))[:, None] * r.weight_ih_l0), r"not 1 - tanh\(a\)"),
    (lambda r, u, h: ((1 - torch.tanh(_pre(r, u, h, False)) ** 2)[:, None] * r.weight_hh_l0,
                      (1 - torch.tanh(_pre(r, u, h, False)) ** 2)[:, None] * r.weight_ih_l0),
     "biases"),
    (lambda r, u, h: (r.weight_hh_l0 * (1 - torch.tanh(_pre(r, u, h)) ** 2)[None, :],
                      jacobians_right(r, u, h)[1]), "columns"),
    (lambda r, u, h: (jacobians_right(r, u, h)[0][None], jacobians_right(r, u, h)[1]), "shape"),
    (lambda r, u, h: jacobians_right(r, u, h)[0], "pair"),
])
def test_rnn_jacobians_slips_are_named(slip, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_rnn_jacobians(slip)


def affine_right(rnn, u, h, du, dh):
    J_h, J_u = jacobians_right(rnn, u, h)
    return torch.tanh(_pre(rnn, u, h)) + dh @ J_h.T + J_u @ du


def test_affine_prediction_right_answer_passes(capsys):
    checks.check_affine_prediction(affine_right)
    assert "\u2713" in capsys.readouterr().out


def _exact(rnn, u, h, du, dh):
    return torch.tanh(rnn.weight_ih_l0 @ (u + du) + rnn.bias_ih_l0
                      + (h + dh) @ rnn.weight_hh_l0.T + rnn.bias_hh_l0)


@pytest.mark.parametrize("slip, message", [
    (lambda r, u, h, du, dh: affine_right(r, u, h, du, dh).T, "transpose"),
    (lambda r, u, h, du, dh: torch.tanh(_pre(r, u, h)) + dh @ jacobians_right(r, u, h)[0]
     + jacobians_right(r, u, h)[1] @ du, r"not dh @ J_h"),
    (lambda r, u, h, du, dh: h + dh @ jacobians_right(r, u, h)[0].T
     + jacobians_right(r, u, h)[1] @ du, "not from the current state"),
    (lambda r, u, h, du, dh: torch.tanh(_pre(r, u, h)) + dh @ jacobians_right(r, u, h)[0].T,
     "input perturbation"),
    (lambda r, u, h, du, dh: affine_right(r, u, h, du, dh) - torch.tanh(_pre(r, u, h)),
     "add the next state"),
    (_exact, "exact next state"),
])
def test_affine_prediction_slips_are_named(slip, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_affine_prediction(slip)


def classify_right(eigenvalues):
    m = eigenvalues.abs()
    kind = "stable" if bool((m < 1).all()) else "unstable" if bool((m > 1).all()) else "saddle"
    return kind + (" (oscillatory)" if bool((eigenvalues.imag.abs() > 1e-9).any()) else "")


def test_classification_right_answer_passes(capsys):
    checks.check_stability_classification(classify_right)
    assert "\u2713" in capsys.readouterr().out


def _flow_rule(eigenvalues):            # the criterion for flows, wrong for maps
    re = eigenvalues.real
    kind = "stable" if bool((re < 0).all()) else "unstable" if bool((re > 0).all()) else "saddle"
    return kind + (" (oscillatory)" if bool((eigenvalues.imag.abs() > 1e-9).any()) else "")


@pytest.mark.parametrize("slip, message", [
    (_flow_rule, "moduli"),
    (lambda ev: classify_right(ev).replace(" (oscillatory)", ""), "oscillatory"),
    (lambda ev: classify_right(ev.real + 0j), "oscillatory"),
    (lambda ev: ("stable" if bool((ev.real < 1).all()) else "unstable"
                 if bool((ev.real > 1).all()) else "saddle")
     + (" (oscillatory)" if bool((ev.imag.abs() > 1e-9).any()) else ""), "expected"),
    (lambda ev: 0, "string"),
])
def test_classification_slips_are_caught(slip, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_stability_classification(slip)


# ---- chapter 07 -------------------------------------------------------------------------

def test_lru_eigenvalues(capsys):
    checks.check_lru_eigenvalues(lambda nu, th: torch.exp(-torch.exp(nu) + 1j * torch.exp(th)))
    assert "\u2713" in capsys.readouterr().out


@pytest.mark.parametrize("slip, message", [
    (lambda nu, th: torch.exp(torch.exp(nu) + 1j * torch.exp(th)), "minus sign"),
    (lambda nu, th: torch.exp(-nu + 1j * torch.exp(th)), "not exp\\(-nu_log\\)"),
    (lambda nu, th: torch.exp(-torch.exp(nu) + 1j * th), "phase is exp"),
    (lambda nu, th: torch.exp(-torch.exp(th) + 1j * torch.exp(nu)), "swapped"),
    (lambda nu, th: torch.exp(-torch.exp(nu)) * torch.cos(torch.exp(th)), "complex"),
    (lambda nu, th: (torch.exp(-torch.exp(nu) + 1j * torch.exp(th))).numpy(), "torch tensor"),
    (lambda nu, th: torch.exp(-torch.exp(nu) + 1j * torch.exp(th)) * 1.01, "expected"),
])
def test_lru_eigenvalue_slips(slip, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_lru_eigenvalues(slip)


def test_scan_operator(capsys):
    checks.check_scan_operator(lambda e1, e2: (e2[0] * e1[0], e2[0] * e1[1] + e2[1]))
    assert "\u2713" in capsys.readouterr().out


@pytest.mark.parametrize("slip, message", [
    (lambda e1, e2: (e1[0] * e2[0], e1[0] * e2[1] + e1[1]), "order is reversed"),
    (lambda e1, e2: (e2[0] * e1[0], e1[1] + e2[1]), "multiplied by a2"),
    (lambda e1, e2: (e2[0] * e1[0], e2[0] * (e1[1] + e2[1])), "added after"),
    (lambda e1, e2: (e2[0] + e1[0], e2[0] * e1[1] + e2[1]), "a2 \\* a1"),
    (lambda e1, e2: e2[0] * e1[0], "pair"),
])
def test_scan_operator_slips(slip, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_scan_operator(slip)
