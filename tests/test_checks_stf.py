"""The feedback checks of the STF, Lyapunov and single-variable chapters: correct code
passes with a ✓ line, and each typical mistake gets its own message."""

import pytest
import torch

from course_utils.checks import (check_naive_norms, check_plrnn_jacobians,
                                 check_stf_forward, check_stf_forward_warmup)


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


def test_correct_forcing_passes(capsys):
    check_stf_forward(lambda m, x, tau_f: _forward(m, x, tau_f))
    check_stf_forward_warmup(_forward)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all(line.startswith("✓") for line in lines)


@pytest.mark.parametrize("slip, message", [
    (dict(when=lambda t: False), "the data are never used"),
    (dict(when=lambda t: True), "you force at every step"),
    (dict(when="shifted"), "shifted by one"),
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
        return _forward(model, x, tau_f, **kwargs)

    with pytest.raises(AssertionError, match=message):
        check_stf_forward(student)


@pytest.mark.parametrize("student, message", [
    (lambda m, x, tau_f: torch.zeros(*x.shape[:2], m.M), "not the whole latent state"),
    (lambda m, x, tau_f: _forward(m, x, tau_f).transpose(0, 1), r"stack along dim=1"),
    (lambda m, x, tau_f: _forward(m, x, tau_f).detach().numpy(), "must return a torch tensor"),
    (lambda m, x, tau_f: _forward(m, x, tau_f) * 1.01, "wrong prediction at batch 0"),
])
def test_wrong_shapes_types_and_values_are_explained(student, message):
    with pytest.raises(AssertionError, match=message):
        check_stf_forward(student)


@pytest.mark.parametrize("student, message", [
    (lambda m, x, tau_f, w: _forward(m, x, tau_f, w)[:, w:], "leaves out the warm-up"),
    (lambda m, x, tau_f, w: _forward(m, x, tau_f, when=lambda t: t % tau_f == 0),
     "not forced at every step"),
    (lambda m, x, tau_f, w: _forward(m, x, tau_f, when=lambda t: t < w or t % tau_f == 0),
     "count the forcing interval from its end"),
    (lambda m, x, tau_f, w: _forward(m, x, tau_f, when=lambda t: True),
     "forced at every step: then force only every"),
])
def test_warmup_slips_are_named(student, message):
    with pytest.raises(AssertionError, match=message):
        check_stf_forward_warmup(student)


def _jacobians(model, Z):
    blocks = torch.autograd.functional.jacobian(lambda Z: model(Z).sum(dim=0), Z,
                                                vectorize=True)
    return blocks.permute(1, 0, 2)


def test_orbit_jacobians(capsys):
    check_plrnn_jacobians(_jacobians)
    check_plrnn_jacobians(lambda m, Z: torch.stack(
        [torch.autograd.functional.jacobian(m, z) for z in Z]))
    assert capsys.readouterr().out.count("✓") == 2
    for student, message in [
            (lambda m, Z: _jacobians(m, Z).transpose(1, 2), "transposes"),
            (lambda m, Z: _jacobians(m, m(Z).detach()), "next states"),
            (lambda m, Z: torch.autograd.functional.jacobian(m, Z), "all states"),
            (lambda m, Z: _jacobians(m, Z) + 1e-3, "state t = 0 is wrong")]:
        with pytest.raises(AssertionError, match=message):
            check_plrnn_jacobians(student)


def _norms(J, *, reverse=False, ord=2, log=False, from_start=False):
    T = J.shape[0]
    order = list(range(T)) if from_start else list(range(T - 1, -1, -1))
    norms = torch.full((T,), float("inf"), dtype=J.dtype)
    P = torch.eye(J.shape[-1], dtype=J.dtype)
    for n, t in enumerate(order):
        P = J[t] @ P if reverse else P @ J[t]
        if not torch.isfinite(P).all():
            break
        norms[n] = torch.linalg.matrix_norm(P, ord=ord)
    return torch.log(norms) if log else norms


def test_naive_norms(capsys):
    check_naive_norms(_norms)
    assert capsys.readouterr().out.startswith("✓")
    for student, message in [
            (lambda J: _norms(J, log=True), "not their logarithms"),
            (lambda J: _norms(J, ord="fro"), "spectral norm"),
            (lambda J: _norms(J, from_start=True, reverse=True), "start from the end"),
            (lambda J: _norms(J, from_start=True), "start from the end of the orbit: the"),
            (lambda J: _norms(J, reverse=True), "J_T J_{T-1} ..., not J_{T-1} J_T"),
            (lambda J: _norms(J.double()), "compute in the Jacobians' dtype"),
            (lambda J: _norms(J)[:-1], "return 30 norms"),
            (lambda J: _norms(J) * 1.001, "norm number 1")]:
        with pytest.raises(AssertionError, match=message):
            check_naive_norms(student)
