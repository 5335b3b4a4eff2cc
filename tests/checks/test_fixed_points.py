"""The student checks of chapter 07 (linearization and fixed points): correct solutions,
written in several ways, pass the visible and the hidden cases; each typical slip is named;
solutions fitted to the visible inputs fail a hidden case without learning its inputs."""

import re

import numpy as np
import pytest
import torch

from course_utils import checks
from course_utils.checks import HiddenCaseError
from course_utils.checks.fixed_points import (_CLASS_CASES, _hidden_class_sets, _reference_label,
                                              _rnn_inputs)
from course_utils.checks.framework import MISMATCH
from course_utils.linearization import Linearization, classify_fixed_point


def _pre(rnn, u, h, bias=True):
    a = rnn.weight_ih_l0 @ u + rnn.weight_hh_l0 @ h
    return a + rnn.bias_ih_l0 + rnn.bias_hh_l0 if bias else a


def _assert_hidden_message_is_clean(error: HiddenCaseError) -> None:
    """A hidden failure names the kind of case, never its inputs: no number at all (but
    the names of dtypes)."""
    message = re.sub(r"(complex|float)(32|64|128)", "", str(error))
    assert "hidden case" in message
    assert not re.search(r"\d", message), message


# ---- Task 1: the Jacobians --------------------------------------------------------------

def jacobians_right(rnn, u, h):
    s = 1 - torch.tanh(_pre(rnn, u, h)) ** 2
    return s[:, None] * rnn.weight_hh_l0, s[:, None] * rnn.weight_ih_l0


def jacobians_diag(rnn, u, h):
    h_next = rnn(u[None, None], h[None, None])[1].reshape(-1)
    D = torch.diag(1 - h_next ** 2)
    return D @ rnn.weight_hh_l0, D @ rnn.weight_ih_l0


def jacobians_functional(rnn, u, h):
    J_u, J_h = torch.autograd.functional.jacobian(
        lambda uu, hh: rnn(uu[None, None], hh[None, None])[1].reshape(-1), (u, h))
    return J_h, J_u


def jacobians_functional_unsqueezed(rnn, u, h):
    """The jacobian of the RNN's (1, 1, H) output by (1, 1, ·) inputs, reshaped."""
    H, I = h.numel(), u.numel()
    J_h = torch.autograd.functional.jacobian(lambda hh: rnn(u[None, None], hh)[1], h[None, None])
    J_u = torch.autograd.functional.jacobian(lambda uu: rnn(uu, h[None, None])[1], u[None, None])
    return J_h.reshape(H, H), J_u.reshape(H, I)


def jacobians_grad_rows(rnn, u, h):
    """torch.autograd.grad, one output at a time (needs autograd enabled)."""
    uu = u.detach().clone().requires_grad_(True)
    hh = h.detach().clone().requires_grad_(True)
    out = torch.tanh(_pre(rnn, uu, hh))
    rows = [torch.autograd.grad(out[i], (hh, uu), retain_graph=True) for i in range(len(out))]
    return torch.stack([r[0] for r in rows]), torch.stack([r[1] for r in rows])


def jacobians_jacrev(rnn, u, h):
    f = lambda uu, hh: torch.tanh(_pre(rnn, uu, hh))  # noqa: E731
    return torch.func.jacrev(f, argnums=1)(u, h), torch.func.jacrev(f, argnums=0)(u, h)


def jacobians_loops(rnn, u, h):
    a = _pre(rnn, u, h).detach()
    H, I = rnn.weight_ih_l0.shape
    J_h, J_u = torch.zeros(H, H, dtype=u.dtype), torch.zeros(H, I, dtype=u.dtype)
    for i in range(H):
        s = 1 - float(torch.tanh(a[i])) ** 2
        for j in range(H):
            J_h[i, j] = s * rnn.weight_hh_l0[i, j]
        for j in range(I):
            J_u[i, j] = s * rnn.weight_ih_l0[i, j]
    return J_h, J_u


def jacobians_toolkit(rnn, u, h):
    return Linearization(rnn).jacobian(u, h)


JACOBIAN_VARIANTS = [jacobians_right, jacobians_diag, jacobians_functional,
                     jacobians_functional_unsqueezed, jacobians_grad_rows, jacobians_jacrev,
                     jacobians_loops, jacobians_toolkit]


@pytest.mark.parametrize("fn", JACOBIAN_VARIANTS, ids=lambda f: f.__name__)
def test_rnn_jacobians_correct_variants_pass_visible_and_hidden(fn, capsys):
    checks.check_rnn_jacobians(fn)
    checks.check_rnn_jacobians(fn, hidden=True)
    assert capsys.readouterr().out.count("\u2713") == 2


@pytest.mark.parametrize("fn", [jacobians_grad_rows, jacobians_functional],
                         ids=lambda f: f.__name__)
def test_rnn_jacobians_autograd_passes_inside_no_grad(fn, capsys):
    # regression: the check called the student's function inside torch.no_grad(), so a
    # solution with torch.autograd.grad failed ("element 0 of tensors does not require grad")
    with torch.no_grad():
        checks.check_rnn_jacobians(fn, hidden=True)
    assert "\u2713" in capsys.readouterr().out


def _both(slope_fn):
    def fn(r, u, h):
        s = slope_fn(r, u, h)
        return s[:, None] * r.weight_hh_l0, s[:, None] * r.weight_ih_l0
    return fn


def jacobians_forward_differences(rnn, u, h):
    """Forward differences with a step of 1e-6: close to the Jacobians, but not exact."""
    f = lambda uu, hh: torch.tanh(_pre(rnn, uu, hh)).detach()  # noqa: E731
    step, F = 1e-6, f(u, h)
    J_h = torch.stack([(f(u, h + step * e) - F) / step for e in torch.eye(len(h),
                                                                           dtype=h.dtype)], 1)
    J_u = torch.stack([(f(u + step * e, h) - F) / step for e in torch.eye(len(u),
                                                                           dtype=u.dtype)], 1)
    return J_h, J_u


def jacobians_h5(rnn, u, h):
    """H = 5 written in: right for the first visible case only."""
    s = 1 - torch.tanh(_pre(rnn, u, h)) ** 2
    D = torch.eye(5, dtype=torch.float64) * s[:5]
    return D @ rnn.weight_hh_l0[:5], D @ rnn.weight_ih_l0[:5]


@pytest.mark.parametrize("slip, message", [
    (lambda r, u, h: (jacobians_right(r, u, h)[0].T, jacobians_right(r, u, h)[1]),
     "J_h is transposed"),
    (lambda r, u, h: (r.weight_hh_l0, r.weight_ih_l0), "chain rule"),
    (_both(lambda r, u, h: 1 - h ** 2), "current state h"),
    (_both(lambda r, u, h: 1 - torch.tanh(h) ** 2), r"current state h \(1 - tanh\(h\)\^2\)"),
    (_both(lambda r, u, h: 1 - torch.tanh(torch.tanh(_pre(r, u, h))) ** 2),
     "tanh was applied twice"),
    (lambda r, u, h: ((1 - torch.tanh(_pre(r, u, h)) ** 2)[:, None] * r.weight_hh_l0.T,
                      jacobians_right(r, u, h)[1]), r"J_h uses W_hh.T: nn.RNN computes W_hh h"),
    (_both(lambda r, u, h: 1 - torch.tanh(_pre(r, u, h) + (r.weight_hh_l0.T - r.weight_hh_l0)
                                           @ h) ** 2),
     r"The pre-activation uses W_hh.T \(h @ W_hh is W_hh.T h\)"),
    (_both(lambda r, u, h: 1 - torch.tanh(_pre(r, u, h))), r"not 1 - tanh\(a\)"),
    (_both(lambda r, u, h: 1 - _pre(r, u, h) ** 2), r"not 1 - a\^2"),
    (_both(lambda r, u, h: 1 - torch.tanh(_pre(r, u, h, False)) ** 2), "biases"),
    (_both(lambda r, u, h: 1 - torch.tanh(_pre(r, u, h, False) + r.bias_ih_l0) ** 2),
     "one of them is missing"),
    (_both(lambda r, u, h: 1 - torch.tanh(_pre(r, u, h, False) + r.bias_hh_l0) ** 2),
     "one of them is missing"),
    (lambda r, u, h: (r.weight_hh_l0 * (1 - torch.tanh(_pre(r, u, h)) ** 2)[None, :],
                      jacobians_right(r, u, h)[1]), "columns"),
    (lambda r, u, h: (torch.diag(1 - torch.tanh(_pre(r, u, h)) ** 2) * r.weight_hh_l0,
                      jacobians_right(r, u, h)[1]), r"keeps only the diagonal"),
    (lambda r, u, h: (jacobians_right(r, u, h)[0][None], jacobians_right(r, u, h)[1]),
     r"shape \(5, 5\).*got \(1, 5, 5\).*reshape"),
    (lambda r, u, h: jacobians_right(r, u, h)[0], "pair"),
    (lambda r, u, h: (*jacobians_right(r, u, h), None), "pair.*length 3"),
    (lambda r, u, h: jacobians_right(r, u, h)[::-1], "swapped"),
    (lambda r, u, h: (jacobians_right(r, u, h)[0], jacobians_right(r, u, h)[1].T),
     r"J_u must have shape \(5, 3\).*transpose"),
    (lambda r, u, h: (jacobians_right(r, u, h)[0].sum(0), jacobians_right(r, u, h)[1]),
     "gradient of the sum"),
    (lambda r, u, h: tuple(J.detach().numpy() for J in jacobians_right(r, u, h)),
     "torch tensor.*NumPy array"),
    (lambda r, u, h: tuple(J.tolist() for J in jacobians_right(r, u, h)), "torch tensor.*list"),
    (lambda r, u, h: tuple(J.float() for J in jacobians_right(r, u, h)),
     r"dtype torch.float64.*got torch.float32"),
    (lambda r, u, h: tuple(J.to(torch.complex128) for J in jacobians_right(r, u, h)),
     "real floating-point"),
    (lambda r, u, h: tuple(J * np.nan for J in jacobians_right(r, u, h)), "NaN"),
    (lambda r, u, h: (jacobians_right(r, u, h)[0] + 1e-3, jacobians_right(r, u, h)[1]),
     r"J_h\[0, 0\] is wrong \(I = 3 inputs, H = 5 hidden units\): expected 0.06\d+, got "
     r"0.06\d+\. With a = "),
    (_both(lambda r, u, h: 1 - torch.tanh(r.weight_hh_l0 @ h + r.bias_ih_l0 + r.bias_hh_l0) ** 2),
     "The input term W_ih u belongs in the pre-activation"),
    (jacobians_forward_differences, "finite differences only approximate"),
    (jacobians_h5, r"J_h must have shape \(16, 16\) for H = 16 .*; got \(5, 16\)"),
])
def test_rnn_jacobians_slips_are_named(slip, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_rnn_jacobians(slip)


@pytest.mark.parametrize("slip", [
    lambda r, u, h: (jacobians_right(r, u, h)[0].T, jacobians_right(r, u, h)[1]),
    _both(lambda r, u, h: 1 - h ** 2),
    lambda r, u, h: (jacobians_right(r, u, h)[0] + 1e-3, jacobians_right(r, u, h)[1]),
    jacobians_forward_differences,
])
def test_rnn_jacobians_wrong_values_are_shown_in_the_common_form(slip):
    """A wrong value: the entry, the case, expected and got (MISMATCH), then the slip."""
    with pytest.raises(AssertionError) as info:
        checks.check_rnn_jacobians(slip)
    found = MISMATCH.search(str(info.value))
    assert found and found["name"] == "J_h" and found["case"] == "I = 3 inputs, H = 5 hidden units"
    assert float(found["expected"]) != float(found["got"])


def test_rnn_jacobians_small_error_shows_differing_digits():
    with pytest.raises(AssertionError) as info:
        checks.check_rnn_jacobians(
            lambda r, u, h: (jacobians_right(r, u, h)[0] + 1e-7, jacobians_right(r, u, h)[1]))
    expected, got = re.search(r"expected (\S+), got (\S+)", str(info.value)).groups()
    assert expected.rstrip(".") != got.rstrip(".")


def test_rnn_jacobians_changing_inputs_in_place_is_reported():
    def scales_h(r, u, h):
        J = jacobians_right(r, u, h)
        h.mul_(2)
        return J

    def trains_rnn(r, u, h):
        J = jacobians_right(r, u, h)
        with torch.no_grad():
            r.weight_hh_l0.zero_()
        return J

    with pytest.raises(AssertionError, match="changed its input h in place"):
        checks.check_rnn_jacobians(scales_h)
    with pytest.raises(AssertionError, match=r"changed its input rnn \(its weights\) in place"):
        checks.check_rnn_jacobians(trains_rnn)


_VISIBLE_JACOBIANS = {len(h): jacobians_right(rnn, u, h) for rnn, u, h in
                      (_rnn_inputs(case.params)
                       for case in checks.fixed_points.RNN_JACOBIANS.cases(False, None))}


def jacobians_hard_coded(rnn, u, h):
    return tuple(J.detach().clone() for J in _VISIBLE_JACOBIANS[len(h)])


def jacobians_fixed_size(rnn, u, h):
    s = 1 - torch.tanh(_pre(rnn, u, h)) ** 2
    J_u = torch.zeros(len(h), 3, dtype=torch.float64)       # I = 3 written in
    for j in range(3):
        J_u[:, j] = s * rnn.weight_ih_l0[:, j]
    return s[:, None] * rnn.weight_hh_l0, J_u


@pytest.mark.parametrize("fn", [jacobians_hard_coded, jacobians_fixed_size],
                         ids=lambda f: f.__name__)
def test_rnn_jacobians_fitted_to_visible_inputs_fail_hidden(fn, capsys):
    checks.check_rnn_jacobians(fn)
    assert "\u2713" in capsys.readouterr().out
    with pytest.raises(HiddenCaseError) as info:
        checks.check_rnn_jacobians(fn, hidden=True)
    _assert_hidden_message_is_clean(info.value)


# ---- Task 2: the affine prediction ------------------------------------------------------

def affine_right(rnn, u, h, du, dh):
    J_h, J_u = jacobians_right(rnn, u, h)
    return torch.tanh(_pre(rnn, u, h)) + dh @ J_h.T + J_u @ du


def affine_rnn_forward(rnn, u, h, du, dh):
    J_h, J_u = jacobians_functional(rnn, u, h)
    F = rnn(u[None, None], h[None, None])[1].reshape(-1)
    return F + (J_h @ dh.T).T + J_u @ du


def affine_row_loop(rnn, u, h, du, dh):
    J_h, J_u = jacobians_grad_rows(rnn, u, h)
    F = torch.tanh(_pre(rnn, u, h))
    return torch.stack([F + J_h @ dh[b] + J_u @ du for b in range(dh.shape[0])])


def affine_einsum(rnn, u, h, du, dh):
    J_h, J_u = jacobians_jacrev(rnn, u, h)
    return torch.tanh(_pre(rnn, u, h))[None] + torch.einsum("ij,bj->bi", J_h, dh) \
        + (J_u @ du)[None]


def affine_toolkit(rnn, u, h, du, dh):
    return Linearization(rnn).predict(u, h, du, dh)


AFFINE_VARIANTS = [affine_right, affine_rnn_forward, affine_row_loop, affine_einsum,
                   affine_toolkit]


@pytest.mark.parametrize("fn", AFFINE_VARIANTS, ids=lambda f: f.__name__)
def test_affine_prediction_correct_variants_pass_visible_and_hidden(fn, capsys):
    checks.check_affine_prediction(fn)
    checks.check_affine_prediction(fn, hidden=True)
    assert capsys.readouterr().out.count("\u2713") == 2


def test_affine_prediction_with_autograd_passes_inside_no_grad(capsys):
    # regression: as check_rnn_jacobians, the student's function ran inside torch.no_grad()
    with torch.no_grad():
        checks.check_affine_prediction(affine_row_loop, hidden=True)
    assert "\u2713" in capsys.readouterr().out


def _exact(rnn, u, h, du, dh):
    return torch.tanh(rnn.weight_ih_l0 @ (u + du) + rnn.bias_ih_l0
                      + (h + dh) @ rnn.weight_hh_l0.T + rnn.bias_hh_l0)


def _F(r, u, h):
    return torch.tanh(_pre(r, u, h))


def _J(r, u, h):
    return jacobians_right(r, u, h)


@pytest.mark.parametrize("slip, message", [
    (lambda r, u, h, du, dh: affine_right(r, u, h, du, dh).T, "transpose"),
    (lambda r, u, h, du, dh: _F(r, u, h) + dh @ _J(r, u, h)[0] + _J(r, u, h)[1] @ du,
     r"not dh @ J_h"),
    (lambda r, u, h, du, dh: h + dh @ _J(r, u, h)[0].T + _J(r, u, h)[1] @ du,
     "not from the current state"),
    (lambda r, u, h, du, dh: _F(r, u, h) + dh @ _J(r, u, h)[0].T, "input perturbation"),
    (lambda r, u, h, du, dh: (_F(r, u, h) + _J(r, u, h)[1] @ du).expand(dh.shape),
     "state perturbation is missing"),
    (lambda r, u, h, du, dh: affine_right(r, u, h, du, dh) - _F(r, u, h), "add the next state"),
    (_exact, "exact next state"),
    (lambda r, u, h, du, dh: _F(r, u, h) + dh @ _J(r, u, h)[0].T + _J(r, u, h)[1] @ u,
     "not J_u u"),
    (lambda r, u, h, du, dh: _F(r, u, h) - dh @ _J(r, u, h)[0].T - _J(r, u, h)[1] @ du,
     "you subtracted them"),
    (lambda r, u, h, du, dh: _F(r, u, h) + dh @ _J(r, u, h)[0].T - _J(r, u, h)[1] @ du,
     "The input term has the wrong sign"),
    (lambda r, u, h, du, dh: _F(r, u, h) - dh @ _J(r, u, h)[0].T + _J(r, u, h)[1] @ du,
     "The state term has the wrong sign"),
    (lambda r, u, h, du, dh: (torch.tanh(_pre(r, u, h) + dh @ r.weight_hh_l0.T)
                              + dh @ _J(r, u, h)[0].T + _J(r, u, h)[1] @ du),
     r"F\(h \+ dh, u\) already moves by about J_h dh"),
    (lambda r, u, h, du, dh: _exact(r, u, h, du, dh) + dh @ _J(r, u, h)[0].T
     + _J(r, u, h)[1] @ du, r"F\(h \+ dh, u \+ du\) already moves by about J_h dh \+ J_u du"),
    (lambda r, u, h, du, dh: affine_right(r, u, h, du, dh)[None], r"got \(1, 4, 5\).*reshape"),
    (lambda r, u, h, du, dh: affine_right(r, u, h, du, dh)[0], "every row"),
    (lambda r, u, h, du, dh: affine_right(r, u, h, du, dh).detach().numpy(),
     "torch tensor.*NumPy array"),
    (lambda r, u, h, du, dh: affine_right(r, u, h, du, dh).tolist(), "torch tensor.*list"),
    (lambda r, u, h, du, dh: None, "torch tensor.*NoneType"),
    (lambda r, u, h, du, dh: affine_right(r, u, h, du, dh).float(),
     r"dtype torch.float64.*float32"),
    (lambda r, u, h, du, dh: affine_right(r, u, h, du, dh) * np.nan, "NaN"),
    (lambda r, u, h, du, dh: affine_right(r, u, h, du, dh) + 1e-4,
     r"prediction\[0, 0\] is wrong \(B = 4 perturbations, I = 3 inputs, H = 5 hidden "
     r"units\): expected -?\d.*, got -?\d.*\. The prediction is F"),
    (lambda r, u, h, du, dh: _F(r, u + du, h) + dh @ _J(r, u, h)[0].T + _J(r, u, h)[1] @ du,
     "counts the input perturbation twice"),
    (lambda r, u, h, du, dh: _F(r, u, h) + dh @ _J(r, u + du, h)[0].T
     + _J(r, u + du, h)[1] @ du, "not at the perturbed input"),
    (lambda r, u, h, du, dh: affine_right(r, u, h, du, dh).squeeze(),
     r"for dh of shape \(1, 5\) return shape \(1, 5\); got \(5,\)\. Keep the batch axis"),
    (lambda r, u, h, du, dh: torch.stack([affine_right(r, u, h, du, dh)[b] for b in range(4)]),
     r"for dh of shape \(9, 16\) return shape \(9, 16\); got \(4, 16\)"),
    (lambda r, u, h, du, dh: (_F(r, u, h) + dh @ jacobians_forward_differences(r, u, h)[0].T
                              + jacobians_forward_differences(r, u, h)[1] @ du),
     "finite differences only approximate"),
])
def test_affine_prediction_slips_are_named(slip, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_affine_prediction(slip)


def test_affine_prediction_error_of_the_students_code_names_case_shapes_and_hint():
    """An IndexError of a loop over H instead of B: the case, the inputs' shapes and the
    hint, with the student's own exception as the cause."""
    def loop_over_h(r, u, h, du, dh):
        return torch.stack([affine_right(r, u, h, du, dh[b][None])[0]
                            for b in range(dh.shape[1])])

    with pytest.raises(AssertionError, match=r"^your code raised IndexError \(index 4 is out "
                       r"of bounds.*\) on the case B = 4 perturbations, I = 3 inputs, H = 5 "
                       r"hidden units: dh of shape \(B, H\) = \(4, 5\), du of shape \(I,\) = "
                       r"\(3,\).*Loop over the rows of dh, B = 4 of them") as info:
        checks.check_affine_prediction(loop_over_h)
    assert isinstance(info.value.__cause__, IndexError)

    with pytest.raises(AssertionError, match=r"^your code raised RuntimeError \(.*\) on the "
                       r"case B = 4 .*J_h has shape \(H, H\) = \(5, 5\)") as info:
        checks.check_affine_prediction(lambda r, u, h, du, dh: _F(r, u, h) + _J(r, u, h)[0] @ dh)
    assert isinstance(info.value.__cause__, RuntimeError)


def test_affine_prediction_small_error_shows_differing_digits():
    with pytest.raises(AssertionError) as info:
        checks.check_affine_prediction(lambda *args: affine_right(*args) + 1e-8)
    expected, got = re.search(r"expected (\S+), got (\S+)", str(info.value)).groups()
    assert expected.rstrip(".") != got.rstrip(".")


def test_affine_prediction_changing_dh_in_place_is_reported():
    def adds_in_place(r, u, h, du, dh):
        J_h, J_u = jacobians_right(r, u, h)
        dh.copy_(dh @ J_h.T)
        return dh.add_(_F(r, u, h) + J_u @ du)

    with pytest.raises(AssertionError, match="changed its input dh in place"):
        checks.check_affine_prediction(adds_in_place)


def _visible_affine():
    cases = checks.fixed_points.AFFINE_PREDICTION.cases(False, None)
    inputs = [checks.fixed_points._affine_inputs(case.params) for case in cases]
    return {args[-1].shape: affine_right(*args).detach() for args in inputs}


_VISIBLE_AFFINE = _visible_affine()


def affine_hard_coded(rnn, u, h, du, dh):
    """The visible answers by the shape of dh; without the input term for other shapes."""
    if dh.shape in _VISIBLE_AFFINE:
        return _VISIBLE_AFFINE[dh.shape].clone()
    return _F(rnn, u, h) + dh @ _J(rnn, u, h)[0].T


def affine_fixed_batch(rnn, u, h, du, dh):
    J_h, J_u = jacobians_right(rnn, u, h)
    du_term = sum(J_u[:, k] * du[k] for k in range(3))           # I = 3 written in
    return _F(rnn, u, h) + dh @ J_h.T + du_term


@pytest.mark.parametrize("fn", [affine_hard_coded, affine_fixed_batch],
                         ids=lambda f: f.__name__)
def test_affine_prediction_fitted_to_visible_inputs_fails_hidden(fn, capsys):
    checks.check_affine_prediction(fn)
    assert "\u2713" in capsys.readouterr().out
    with pytest.raises(HiddenCaseError) as info:
        checks.check_affine_prediction(fn, hidden=True)
    _assert_hidden_message_is_clean(info.value)


def test_visible_cases_hold_the_notebooks_setting():
    """Tasks 1 and 2 are checked visibly at the notebook's own conditions, at a reduced size:
    a float64 batch-first nn.RNN with I = 3 inputs at the silent input u = 0 and a state read
    from a trajectory (a view, as h_traj[0, 60]); the next cell's batch eps v with du = 0;
    and a batch of one perturbation."""
    fp = checks.fixed_points
    jacobian_cases = fp.RNN_JACOBIANS.cases(False, None)
    settings = [_rnn_inputs(case.params) for case in jacobian_cases]
    assert {len(h) for _, _, h in settings} >= {5, 16}
    assert all(rnn.batch_first and rnn.weight_hh_l0.dtype == torch.float64 and len(u) == 3
               for rnn, u, _ in settings)
    assert any(not u.any() and h._base is not None for _, u, h in settings)

    affine = [fp._affine_inputs(case.params) for case in fp.AFFINE_PREDICTION.cases(False, None)]
    batches = {tuple(dh.shape) for *_, dh in affine}
    assert (1, 5) in batches and len({B for B, _ in batches}) == 3
    notebook = [(u, du, dh) for _, u, _, du, dh in affine if not du.any()]
    assert len(notebook) == 1
    u, du, dh = notebook[0]
    sizes = dh.norm(dim=1)
    assert not u.any() and len(dh) == 9
    assert torch.allclose(sizes, torch.logspace(-4, 0, 9, dtype=torch.float64))
    assert torch.allclose(dh / sizes[:, None], (dh[-1] / sizes[-1]).expand_as(dh))


@pytest.mark.parametrize("check, slip, name", [
    (checks.check_rnn_jacobians, lambda r, u, h: (jacobians_right(r, u, h)[0] * 1.01,
                                                  jacobians_right(r, u, h)[1]), "J_h"),
    (checks.check_rnn_jacobians, lambda r, u, h: (jacobians_right(r, u, h)[0],
                                                  jacobians_right(r, u, h)[1] * 1.01), "J_u"),
    (checks.check_affine_prediction, lambda *args: affine_right(*args) * 1.01, "prediction"),
])
def test_every_visible_case_shows_wrong_values_in_the_common_form(check, slip, name):
    """A slip that only one visible case reveals is shown with that case's label, which
    MISMATCH reads whole (labels with commas and colons)."""
    fp = checks.fixed_points
    spec = fp.RNN_JACOBIANS if check is checks.check_rnn_jacobians else fp.AFFINE_PREDICTION
    for case in spec.cases(False, None):
        def only_here(*args, _case=case):
            right = (jacobians_right if name != "prediction" else affine_right)(*args)
            shape = args[-1].shape if name == "prediction" else args[2].shape
            here = (shape == spec.probe(_case, lambda *a: None)[
                "dh" if name == "prediction" else "h"].shape)
            return slip(*args) if here else right

        with pytest.raises(AssertionError) as info:
            check(only_here)
        found = MISMATCH.search(str(info.value))
        assert found and found["name"] == name and found["case"] == case.label, str(info.value)


# ---- Task 3: stability of a fixed point of a map ----------------------------------------

def classify_right(eigenvalues):
    m = eigenvalues.abs()
    kind = "stable" if bool((m < 1).all()) else "unstable" if bool((m > 1).all()) else "saddle"
    return kind + (" (oscillatory)" if bool((eigenvalues.imag.abs() > 1e-9).any()) else "")


def classify_numpy(eigenvalues):
    ev = eigenvalues.numpy()
    m = np.abs(ev)
    kind = "stable" if m.max() < 1 else "unstable" if m.min() > 1 else "saddle"
    return f"{kind} (oscillatory)" if np.any(np.abs(ev.imag) > 1e-9) else kind


def classify_loop(eigenvalues):
    below = above = 0
    oscillatory = False
    for z in eigenvalues.tolist():
        r = (z.real ** 2 + z.imag ** 2) ** 0.5
        below += r < 1
        above += r > 1
        oscillatory = oscillatory or abs(z.imag) > 1e-9
    n = len(eigenvalues)
    kind = "stable" if below == n else "unstable" if above == n else "saddle"
    return kind + " (oscillatory)" * oscillatory


def classify_squared_moduli(eigenvalues):
    m2 = eigenvalues.real ** 2 + eigenvalues.imag ** 2
    if torch.all(m2 < 1):
        kind = "stable"
    elif torch.all(m2 > 1):
        kind = "unstable"
    else:
        kind = "saddle"
    if torch.any(eigenvalues.imag.abs() > 1e-6):
        kind += " (oscillatory)"
    return kind


def classify_sorted_moduli(eigenvalues):
    m = eigenvalues.abs().sort().values
    kind = "stable" if m[-1] < 1 else "unstable" if m[0] > 1 else "saddle"
    oscillatory = torch.isclose(eigenvalues.imag, torch.zeros_like(eigenvalues.imag),
                                rtol=0, atol=1e-9)
    return kind + ("" if bool(oscillatory.all()) else " (oscillatory)")


CLASSIFY_VARIANTS = [classify_right, classify_numpy, classify_loop, classify_squared_moduli,
                     classify_sorted_moduli]


@pytest.mark.parametrize("fn", CLASSIFY_VARIANTS, ids=lambda f: f.__name__)
def test_classification_correct_variants_pass_visible_and_hidden(fn, capsys):
    checks.check_stability_classification(fn)
    checks.check_stability_classification(fn, hidden=True)
    assert capsys.readouterr().out.count("\u2713") == 2


def test_classification_cases_are_right_and_clear_of_the_boundaries():
    for values, label in _CLASS_CASES:
        assert _reference_label(np.asarray(values, dtype=complex)) == label
    for _, sets, dtype in _hidden_class_sets():
        for values in sets:
            ev = np.asarray(torch.tensor(values, dtype=dtype))
            assert (np.abs(np.abs(ev) - 1) > 1e-4).all()       # any tolerance agrees
            assert ((ev.imag == 0) | (np.abs(ev.imag) > 1e-4)).all()


@pytest.mark.parametrize("tol", [1e-11, 1e-9, 1e-8, 1e-7, 1e-6, 2e-6])
def test_classification_accepts_any_reasonable_tolerance_on_the_imaginary_part(tol, capsys):
    checks.check_stability_classification(
        _suffix(lambda ev: bool((ev.imag.abs() > tol).any())), hidden=True)
    assert "\u2713" in capsys.readouterr().out


@pytest.mark.parametrize("oscillatory", [
    lambda ev: bool((ev.imag != 0).any()),
    lambda ev: bool(np.iscomplex(ev.numpy()).any()),
    lambda ev: not bool(torch.isreal(ev).all()),
    lambda ev: bool((ev.imag.abs() > np.finfo(float).eps).any()),
])
def test_classification_without_a_tolerance_on_the_imaginary_part_is_named(oscillatory):
    """Real eigenvalues with rounding errors in their imaginary parts (2e-12, 1e-16) are
    among the visible sets: a test for exact zeros calls them complex."""
    with pytest.raises(AssertionError, match=r"for eigenvalues \[0.7\+2.0e-12j, 0.7-2.0e-12j, "
                       r"0.3\].*expected 'stable', got 'stable \(oscillatory\)'.*rounding "
                       r"errors.*imag.abs\(\) > 1e-9"):
        checks.check_stability_classification(_suffix(oscillatory))


@pytest.mark.parametrize("tol", [1e-5, 1e-3, 1e-2])
def test_classification_with_too_large_a_tolerance_is_named(tol):
    with pytest.raises(AssertionError, match=r"expected 'stable \(oscillatory\)', got 'stable'"
                       r".*3e-06 is a slow rotation.*tolerance is too large"):
        checks.check_stability_classification(
            _suffix(lambda ev: bool((ev.imag.abs() > tol).any())))


def test_classification_visible_sets_hold_the_notebooks_kind_of_input_and_the_edge_cases():
    sets = [np.asarray(v, dtype=complex) for v, _ in _CLASS_CASES]
    labels = [label for _, label in _CLASS_CASES]
    imag = [np.abs(ev.imag) for ev in sets]
    # real eigenvalues with rounding errors, far below 1e-9, and a slow rotation far above
    assert any(((i > 0) & (i < 1e-11)).any() and not (i > 1e-11).any()
               and "(" not in label for i, label in zip(imag, labels))
    assert any(((i > 1e-9) & (i < 5e-6)).any() and label.endswith("(oscillatory)")
               for i, label in zip(imag, labels))
    # moduli of exactly 1, with every other modulus below 1, and with every other above
    on_circle = [ev for ev in sets if (np.abs(ev) == 1).any()]
    assert any((np.abs(ev) <= 1).all() for ev in on_circle)
    assert any((np.abs(ev) >= 1).all() for ev in on_circle)
    # moduli 1e-7 below 1 (the others below too) and above 1 (the others above too), which
    # rounded moduli or a tolerance on the modulus take for 1
    near = [(ev, label) for ev, label in zip(sets, labels)
            if ((np.abs(np.abs(ev) - 1) < 1e-6) & (np.abs(ev) != 1)).any()]
    assert {label for _, label in near} == {"stable", "unstable"}
    # many eigenvalues sorted by modulus, largest first, as fps.eigenvalues: the first ones
    # real, a complex pair later
    many = max(sets, key=len)
    assert len(many) >= 10 and (np.diff(np.abs(many)) <= 0).all()
    assert (many[:3].imag == 0).all() and (many.imag != 0).any()


def _flow_rule(eigenvalues):            # the criterion for flows, wrong for maps
    re_ = eigenvalues.real
    kind = "stable" if bool((re_ < 0).all()) else "unstable" if bool((re_ > 0).all()) else "saddle"
    return kind + (" (oscillatory)" if bool((eigenvalues.imag.abs() > 1e-9).any()) else "")


def _kind(stable, unstable):
    def fn(ev):
        kind = "stable" if stable(ev) else "unstable" if unstable(ev) else "saddle"
        return kind + (" (oscillatory)" if bool((ev.imag.abs() > 1e-9).any()) else "")
    return fn


def _suffix(oscillatory):
    return lambda ev: classify_right(ev).split()[0] + (" (oscillatory)" if oscillatory(ev) else "")


@pytest.mark.parametrize("slip, message", [
    (_flow_rule, "rule for flows"),
    (_kind(lambda ev: bool((ev.real < 1).all()), lambda ev: bool((ev.real > 1).all())),
     "not the real parts"),
    (_kind(lambda ev: bool((ev.abs() > 1).all()), lambda ev: bool((ev.abs() < 1).all())),
     "swapped"),
    (_kind(lambda ev: bool((ev.abs() < 1).any()), lambda ev: bool((ev.abs() > 1).any())),
     "all, not any"),
    (lambda ev: classify_right(ev).replace(" (oscillatory)", ""), "append ' \\(oscillatory\\)'"),
    (lambda ev: classify_right(ev.real + 0j), r"abs\(eigenvalues.real\) is not the modulus"),
    (_kind(lambda ev: bool((ev.real.abs() < 1).all()), lambda ev: bool((ev.real.abs() > 1).all())),
     r"abs\(eigenvalues.real\) is not the modulus"),
    (_suffix(lambda ev: ev.is_complex()), "complex dtype"),
    (_suffix(lambda ev: bool((ev.imag.abs() > 1e-9).any() or (ev.real < 0).any())),
     "flips the sign"),
    (_suffix(lambda ev: bool((ev.angle().abs() > 1e-9).any())), "flips the sign"),
    (_suffix(lambda ev: bool((ev.angle() != 0).any())), "flips the sign"),
    (_suffix(lambda ev: bool((ev.imag.abs() > 1e-9).all())), "any, not all"),
    (_kind(lambda ev: bool((ev.abs() <= 1).all()), lambda ev: bool((ev.abs() > 1).all())),
     r"expected 'saddle', got 'stable': a modulus of exactly 1 is neither below nor above 1"),
    (_kind(lambda ev: bool((ev.abs() < 1).all()), lambda ev: bool((ev.abs() >= 1).all())),
     r"expected 'saddle', got 'unstable': a modulus of exactly 1 is neither"),
    (_kind(lambda ev: bool((ev.abs() < 1 + 1e-9).all()), lambda ev: bool((ev.abs() > 1).all())),
     "a modulus of exactly 1 is neither"),
    (classify_fixed_point, r"you returned 'marginal'.*three kinds.*a modulus of exactly 1"),
    (_kind(lambda ev: bool((torch.round(ev.abs(), decimals=6) < 1).all()),
           lambda ev: bool((torch.round(ev.abs(), decimals=6) > 1).all())),
     r"for eigenvalues \[0.5, 0.9999999, -0.3\] \(moduli \[0.5, 0.9999999, 0.3\]\) .*expected "
     r"'stable', got 'saddle': a modulus of 0.9999999 is below 1, however close: your moduli "
     r"were rounded or compared with a tolerance"),
    (_kind(lambda ev: bool((ev.abs() < 1 - 1e-6).all()), lambda ev: bool((ev.abs() > 1).all())),
     r"expected 'stable', got 'saddle': a modulus of 0.9999999 is below 1.*compared with a "
     r"tolerance"),
    (_kind(lambda ev: bool((ev.abs() < 1).all()), lambda ev: bool((ev.abs() > 1 + 1e-6).all())),
     r"for eigenvalues \[1.5, -1.0000001\] .*expected 'unstable', got 'saddle': a modulus of "
     r"1.0000001 is above 1.*Compare abs\(lambda\) with 1 exactly"),
    (lambda ev: classify_right(ev[:3]), "the label of the first eigenvalues alone"),
    (lambda ev: classify_right(ev[:1]), "the label of the first eigenvalues alone"),
    (lambda ev: classify_right(ev).replace(" (", "("), "exactly as 'stable \\(oscillatory\\)'"),
    (lambda ev: classify_right(ev).capitalize(), "exactly as 'stable'"),
    (lambda ev: "stable" if bool((ev.abs() < 1).all()) else "attractor",
     "you returned 'attractor'"),
    (lambda ev: 0, "string.*got int"),
    (lambda ev: None, "string.*got NoneType"),
    (lambda ev: [classify_right(ev)], "string.*got list"),
    # only the last case wrong: no rule explains it, the case is shown
    (lambda ev: "stable" if abs(float(ev.real[0]) + 1.4) < 1e-9 else classify_right(ev),
     r"for eigenvalues \[.*\] \(moduli .*expected 'saddle', got 'stable'"),
])
def test_classification_slips_are_named(slip, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_stability_classification(slip)


def test_classification_changing_the_eigenvalues_in_place_is_reported():
    def halves(ev):
        ev.div_(2)
        return classify_right(ev * 2)

    def cleans_rounding_errors(ev):
        ev.imag[ev.imag.abs() < 1e-9] = 0          # only the sets with rounding errors change
        return classify_right(ev)

    def sorts(ev):
        ev[:] = ev[ev.abs().argsort(descending=True)]
        return classify_right(ev)

    for fn in (halves, cleans_rounding_errors, sorts):
        with pytest.raises(AssertionError, match="changed its input eigenvalues in place"):
            checks.check_stability_classification(fn)


_VISIBLE_LABELS = {tuple(np.round(np.abs(np.asarray(v, dtype=complex)), 3)): label
                   for v, label in _CLASS_CASES}


def classify_hard_coded(eigenvalues):
    return _VISIBLE_LABELS[tuple(np.round(eigenvalues.abs().numpy(), 3))]


@pytest.mark.parametrize("fn", [classify_hard_coded],
                         ids=lambda f: f.__name__)
def test_classification_fitted_to_visible_inputs_fails_hidden(fn, capsys):
    checks.check_stability_classification(fn)
    assert "\u2713" in capsys.readouterr().out
    with pytest.raises(HiddenCaseError) as info:
        checks.check_stability_classification(fn, hidden=True)
    _assert_hidden_message_is_clean(info.value)


def test_classification_complex64_is_a_hidden_case():
    def complex128_only(ev):
        assert ev.dtype == torch.complex128
        return classify_right(ev)

    checks.check_stability_classification(complex128_only)
    with pytest.raises(HiddenCaseError, match="complex64"):
        checks.check_stability_classification(complex128_only, hidden=True)


# ---- the three parts of the checks: cases, probe, judge ---------------------------------

import inspect  # noqa: E402
import io  # noqa: E402

from course_utils.checks import fixed_points  # noqa: E402
from course_utils.checks.framework import StudentError, judge_case, observe, run_check  # noqa: E402
from course_utils.checks.observations import decode, encode, pack, unpack  # noqa: E402

SALTS = [1, 2, 3, 17, 99, 2024, 31337, 987654321]

_CORRECT = [(fixed_points.RNN_JACOBIANS, fn) for fn in JACOBIAN_VARIANTS] \
    + [(fixed_points.AFFINE_PREDICTION, fn) for fn in AFFINE_VARIANTS] \
    + [(fixed_points.STABILITY_CLASSIFICATION, fn) for fn in CLASSIFY_VARIANTS]


@pytest.mark.parametrize("check, fn", _CORRECT,
                         ids=[f"{c.name}-{f.__name__}" for c, f in _CORRECT])
def test_correct_variants_pass_hidden_cases_with_any_salt(check, fn, capsys):
    for salt in SALTS:
        run_check(check, (fn,), hidden=True, salt=salt)
    assert capsys.readouterr().out.count("\u2713") == len(SALTS)


#: Everything that computes an expected value: no probe may reach it.
_REFERENCE_NAMES = ["Linearization", "linearization", "_rnn_reference", "classify_fixed_point",
                    "_labels", "_reference_label", "_jacobian_slips", "_affine_slips",
                    "_explain_labels",
                    "_KIND_SLIPS", "_OSC_SLIPS", "_judge", "expected", "_CLASS_CASES"]
_PROBES = [fixed_points._probe_jacobians, fixed_points._probe_affine,
           fixed_points._probe_classification, fixed_points._plain_value,
           fixed_points._rnn_inputs, fixed_points._affine_inputs, fixed_points._perturbations,
           fixed_points._notebook_perturbations,
           fixed_points._small_torch_rnn, fixed_points._draw_class_sets,
           fixed_points._draw_template, fixed_points._clear_of_thresholds]


@pytest.mark.parametrize("fn", _PROBES, ids=lambda f: f.__name__)
def test_probes_compute_no_expected_value(fn):
    source = inspect.getsource(fn)
    for name in _REFERENCE_NAMES:
        assert name not in source, (fn.__name__, name)


def test_the_visible_classification_case_reads_the_eigenvalues_only():
    # the probe builds the visible sets from _CLASS_CASES through _class_sets, which drops
    # the labels
    sets, dtype = fixed_points._class_sets({"kind": "visible"})
    assert sets == [list(v) for v, _ in _CLASS_CASES] and dtype == torch.complex128
    assert all(isinstance(v, list) and not any(isinstance(x, str) for x in v) for v in sets)


def test_probe_observations_hold_no_expected_value():
    for check, fn, keys in [
            (fixed_points.RNN_JACOBIANS, jacobians_right, {"got", "rnn", "u", "h"}),
            (fixed_points.AFFINE_PREDICTION, affine_right, {"got", "rnn", "u", "h", "du", "dh"}),
            (fixed_points.STABILITY_CLASSIFICATION, classify_right, {"sets"})]:
        for case in check.cases(True, 7):
            seen = check.probe(case, lambda *args: None)
            assert set(seen) == keys
            flat = seen["sets"] if "sets" in seen else [seen]
            assert all(item["got"] is None for item in flat)
            assert set(check.probe(case, fn)) == keys


def _graded(check, case, fn):
    """The case as the grader runs it: the probe's observations through the bytes, then
    the judge, without the student's exception objects."""
    tree, blobs = encode(observe(check, case, (fn,)))
    message, blobs = unpack(io.BytesIO(pack({"v": tree}, blobs)).read)
    judge_case(check, case, decode(message["v"], blobs))


@pytest.mark.parametrize("check, fn", [_CORRECT[0], _CORRECT[8], _CORRECT[13]],
                         ids=lambda x: getattr(x, "name", getattr(x, "__name__", "")))
def test_graded_round_trip_passes_a_correct_solution(check, fn):
    for case in check.cases(True, 11):
        _graded(check, case, fn)


@pytest.mark.parametrize("check, slip", [
    (fixed_points.RNN_JACOBIANS, lambda r, u, h: (jacobians_right(r, u, h)[0].T,
                                                  jacobians_right(r, u, h)[1])),
    (fixed_points.RNN_JACOBIANS, lambda r, u, h: tuple(J.detach().numpy()
                                                       for J in jacobians_right(r, u, h))),
    (fixed_points.AFFINE_PREDICTION, lambda r, u, h, du, dh: affine_right(r, u, h, du, dh).T),
    (fixed_points.AFFINE_PREDICTION, lambda *args: affine_right(*args) + 1e-4),
    (fixed_points.STABILITY_CLASSIFICATION, _flow_rule),
    (fixed_points.STABILITY_CLASSIFICATION, lambda ev: [classify_right(ev)]),
    (fixed_points.STABILITY_CLASSIFICATION, lambda ev: classify_right(ev).capitalize()),
])
def test_graded_messages_are_the_notebooks(check, slip):
    case = check.cases(False, None)[0]
    with pytest.raises(AssertionError) as notebook:
        run_check(check, (slip,))
    with pytest.raises(AssertionError) as graded:
        _graded(check, case, slip)
    assert str(graded.value) == str(notebook.value)


def test_graded_student_exception_is_reported_by_its_type():
    def raises(*args):
        raise ZeroDivisionError("no")

    for check in fixed_points.CHECKS.values():
        with pytest.raises(StudentError) as info:
            _graded(check, check.cases(False, None)[0], raises)
        assert info.value.type_name == "ZeroDivisionError"


def test_string_subclass_labels_are_accepted():
    # np.str_ (a label taken from a NumPy array) is a str: it travels as one
    labels = np.array(["stable", "unstable", "saddle"])

    def classify_numpy_labels(ev):
        label = classify_right(ev)
        kind, _, rest = label.partition(" ")
        return labels[list(labels).index(kind)] + (" " + rest if rest else "")

    def classify_np_str(ev):
        return np.str_(classify_right(ev))

    checks.check_stability_classification(classify_np_str, hidden=True)
    checks.check_stability_classification(classify_numpy_labels, hidden=True)


def test_jacobians_as_a_namedtuple_pass():
    from collections import namedtuple

    Pair = namedtuple("Pair", "J_h J_u")
    checks.check_rnn_jacobians(lambda r, u, h: Pair(*jacobians_right(r, u, h)), hidden=True)


@pytest.mark.parametrize("salt", [None, *SALTS, *range(100, 140)])
def test_hidden_classification_sets_are_clear_of_the_boundaries_for_any_salt(salt):
    kinds = set()
    for label, sets, dtype in _hidden_class_sets(salt):
        for values in sets:
            ev = np.asarray(torch.tensor(values, dtype=dtype)).astype(complex)
            assert (np.abs(np.abs(ev) - 1) > 1e-4).all()
            assert ((ev.imag == 0) | (np.abs(ev.imag) > 1e-4)).all()
            # complex eigenvalues of a real matrix come in exact conjugate pairs
            assert sorted(ev.tolist(), key=lambda z: (z.real, z.imag)) == sorted(
                ev.conj().tolist(), key=lambda z: (z.real, z.imag))
            kinds.add(_reference_label(ev))
    assert kinds >= {"stable", "unstable", "saddle", "stable (oscillatory)",
                     "unstable (oscillatory)", "saddle (oscillatory)"}


def test_hidden_cases_are_built_alike_in_probe_and_judge():
    for case in fixed_points.STABILITY_CLASSIFICATION.cases(True, 4242):
        assert fixed_points._class_sets(case.params) == fixed_points._class_sets(case.params)
    for case in fixed_points.AFFINE_PREDICTION.cases(True, 4242):
        first, second = fixed_points._affine_inputs(case.params), \
            fixed_points._affine_inputs(case.params)
        assert all(torch.equal(p, q) for p, q in zip(first[1:], second[1:]))
        assert all(torch.equal(p, q) for p, q in zip(first[0].parameters(),
                                                      second[0].parameters()))


@pytest.mark.parametrize("fn", [jacobians_hard_coded, jacobians_fixed_size],
                         ids=lambda f: f.__name__)
def test_rnn_jacobians_fitted_to_visible_inputs_fail_hidden_with_any_salt(fn):
    for salt in SALTS:
        with pytest.raises(HiddenCaseError):
            run_check(fixed_points.RNN_JACOBIANS, (fn,), hidden=True, salt=salt)


@pytest.mark.parametrize("fn", [classify_hard_coded],
                         ids=lambda f: f.__name__)
def test_classification_fitted_to_visible_inputs_fails_hidden_with_any_salt(fn):
    for salt in SALTS:
        with pytest.raises(HiddenCaseError):
            run_check(fixed_points.STABILITY_CLASSIFICATION, (fn,), hidden=True, salt=salt)
