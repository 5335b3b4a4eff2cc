"""Checks of chapter 03 (sparse teacher forcing of a shallow PLRNN) and the helpers that
chapter 05 (forcing with a warm-up) shares."""

from __future__ import annotations

import numpy as np

from ._common import (assert_unchanged as _assert_unchanged, call_student as _call_student,
                      expect_torch_tensor as _expect_torch_tensor, fmt_pair as _fmt_pair,
                      hidden_case as _hidden_case, ok as _ok, snapshot as _snapshot)

CHAPTER = "03_stf_lorenz"
__all__ = ["check_stf_forward"]

#: The hidden cases of :func:`check_stf_forward`: (label, model sizes and seed, batch size,
#: sequence length, tau_f, data seed, dtype name). Their failures never show these values.
_HIDDEN_CASES = (
    ("another seed, batch size, sequence length and forcing interval",
     dict(M=6, L=10, N=2, seed=17), 2, 31, 4, 41, "float64"),
    ("other numbers of latent, hidden and observed units",
     dict(M=8, L=13, N=3, seed=29), 5, 19, 6, 43, "float64"),
    ("a float32 model and float32 data, as in the notebook, with a longer forcing interval",
     dict(M=7, L=11, N=2, seed=37), 4, 40, 25, 47, "float32"),
)


def _small_plrnn(M=6, L=10, N=2, seed=5, dtype="float64"):
    """A PLRNN whose ReLU pattern changes from state to state, built in float64 and then
    converted to ``dtype``."""
    import torch

    from ..models import ShallowPLRNN

    model = ShallowPLRNN(M, L, N, seed=seed, dtype=torch.float64)
    with torch.no_grad():
        model.W1.mul_(4.0)                    # strong nonlinearity: slips show clearly
        model.A.uniform_(0.3, 0.95, generator=torch.Generator().manual_seed(seed))
    return model.to(getattr(torch, dtype))


def _signals(B, T, N, seed, dtype="float64"):
    """Forcing signals x of shape (B, T, N), drawn in float64 and converted to ``dtype``."""
    import torch

    x = torch.randn(B, T, N, generator=torch.Generator().manual_seed(seed),
                    dtype=torch.float64)
    return x.to(getattr(torch, dtype))


def _forced_run(model, x, forced, *, reset_hidden=False, lagged=False, ahead=False,
                swapped=False, damp_hidden=False):
    """Forcing with the per-step weights ``forced`` (True or 1: the observed units replaced
    by the data; w in (0, 1): z~_t[:N] = (1 - w) z_t[:N] + w x_t, as in GTF), with optional
    slips: forcing that zeroes the unobserved units, read-outs of the state before the
    step, forcing with the next observation x[:, t + 1] (None if that runs past the end),
    the weights of model and data swapped, or the unobserved units damped by 1 - w too."""
    import torch

    B, T, N = x.shape
    if ahead and forced[T - 1]:
        return None
    z = x.new_zeros(B, model.M)
    outputs = []
    with torch.enable_grad():
        for t in range(T):
            w = float(forced[t])
            if swapped and 0 < w < 1:
                w = 1 - w
            data = x[:, t + 1 if ahead else t] if w > 0 else None
            if w == 1:
                rest = torch.zeros_like(z[:, N:]) if reset_hidden else z[:, N:]
                z = torch.cat([data, rest], dim=-1)
            elif w > 0:
                rest = (1 - w) * z[:, N:] if damp_hidden else z[:, N:]
                z = torch.cat([(1 - w) * z[:, :N] + w * data, rest], dim=-1)
            before = z
            z = model(z)
            outputs.append(model.observe(before if lagged else z))
        return torch.stack(outputs, dim=1)


def _tolerance(dtype):
    """(rtol, atol relative to the scale of the reference) for values computed in ``dtype``:
    rounding differences between correct implementations stay well inside them, slips are
    far outside."""
    import torch

    return (1e-9, 1e-10) if dtype == torch.float64 else (2e-4, 2e-5)


def _close(got, expected, rtol, atol):
    """Elementwise: is ``got`` within the tolerance of ``expected`` (NaN is never close)?
    ``atol`` is relative to the largest finite entry of ``expected`` (at least 1)."""
    import torch

    finite = expected[torch.isfinite(expected)]
    scale = max(1.0, float(finite.abs().max())) if finite.numel() else 1.0
    return torch.isclose(got, expected, rtol=rtol, atol=atol * scale)


def _dtype_hint(error: BaseException) -> str | None:
    """A hint when the student's code failed because two dtypes were mixed, else None."""
    text = str(error)
    lowered = text.lower()
    if "dtype" in lowered or ("double" in lowered and "float" in lowered):
        return text.strip().splitlines()[0] if text.strip() else type(error).__name__
    return None


_STATE_DTYPE_HINT = ("Build every tensor from the inputs, in their dtype (x.new_zeros(...), "
                     "torch.cat([x[:, t], z[:, N:]], dim=-1)), without .float(), .double(), "
                     "or torch.zeros/torch.tensor without dtype=")


def _call(fn, args, *, dtype, what, hint=_STATE_DTYPE_HINT):
    """Call the student's ``fn(*args)``; a failure from mixed dtypes becomes an
    AssertionError that says so, with ``hint`` (the student's own traceback stays
    attached)."""
    try:
        return _call_student(fn, *args)
    except (RuntimeError, TypeError) as error:
        first_line = _dtype_hint(error)
        if first_line is None:
            raise
        raise AssertionError(
            f"your code raised {type(error).__name__} ({first_line}) for inputs of dtype "
            f"{dtype} ({what}): part of your computation uses another dtype. {hint}"
            ) from error


def _assert_model_dtype(model, dtypes, what):
    """Raise if the student's code changed the dtype of the model's parameters in place
    (model.double(), model.float() convert the model itself)."""
    for (pname, p), dtype in zip(model.named_parameters(), dtypes):
        if p.dtype != dtype:
            raise AssertionError(
                f"your function converted the model in place ({what}): its parameter {pname} "
                f"was {dtype} and is now {p.dtype}. model.double() and model.float() change "
                "the model itself, which later cells use again; do not convert it")


_STF_RECIPE = "At each step: force z if t is a forcing time, z = model(z), keep model.observe(z)"


def _check_predictions(name, fn, model, x, extra, forced, slips, what, *, warmup=0,
                       recipe=_STF_RECIPE):
    """Call ``fn(model, x, *extra)`` on a copy of ``x`` and check its result against the
    forced run at ``forced``: type, shape, dtype, device, values and gradients.

    ``slips`` pairs (or maps) a description of a typical mistake with what that mistake
    gives (None where it gives nothing different), computed, as the reference, before the
    student's code runs; ``what`` names the inputs for the messages; ``warmup`` gives the
    shape hint of a result without the warm-up; ``recipe`` says what each step does."""
    import torch

    B, T, N = x.shape
    with torch.enable_grad():
        expected = _forced_run(model, x, forced)
    given = x.clone()
    before = _snapshot(model, x)
    dtypes = [p.dtype for p in model.parameters()]
    got = _call(fn, (model, given, *extra), dtype=x.dtype, what=what)
    _assert_model_dtype(model, dtypes, what)
    _assert_unchanged(before, [model, given], ["model (its parameters)", "x"])

    if isinstance(got, np.ndarray):
        raise AssertionError(f"{name} must return a torch tensor (the next cell computes the "
                             "loss from it and backpropagates through it); got a NumPy array. "
                             "Keep the predictions as tensors: torch.stack(predictions, dim=1)")
    _expect_torch_tensor(got, name, why="torch.stack of the predictions; the next cell "
                         "computes the loss from it and backpropagates through it")
    if tuple(got.shape) != (B, T, N):
        hint = {(B, T, model.M): "return the read-outs model.observe(z) (the first N units), "
                                 "not the whole latent state",
                (B, T + 1, N): "one prediction per step: do not keep the initial state",
                (B, T - 1, N): "one prediction per input step, T in all",
                (T, B, N): "stack along dim=1: (batch, time, N)",
                (B, T * N): "torch.stack(predictions, dim=1), not torch.cat: one axis for "
                            "time, one for the N units"}
        if N == 1:
            hint[(B, T)] = "keep the last axis, of size N = 1: do not squeeze it"
        if warmup:
            hint[(B, T - warmup, N)] = ("return the predictions of all T steps; the loss "
                                        "(stf_loss with warmup=...) leaves out the warm-up")
        raise AssertionError(f"for x of shape {(B, T, N)} ({what}) the predictions must have "
                             f"shape {(B, T, N)}; got {tuple(got.shape)}. "
                             + hint.get(tuple(got.shape), ""))
    if got.dtype != x.dtype:
        raise AssertionError(
            f"the predictions must have the dtype of x and the model, {x.dtype} ({what}); got "
            f"{got.dtype}. Part of your computation ran in another dtype: build the states "
            "from x (x.new_zeros(...), torch.cat([x[:, t], z[:, N:]], dim=-1)), without "
            ".float(), .double(), or torch.zeros/torch.tensor without dtype=")
    _expect_torch_tensor(got, name, device=x.device)

    rtol, atol = _tolerance(x.dtype)
    close = _close(got.detach(), expected.detach(), rtol, atol)
    if not bool(close.all()):
        got_, expected_ = got.detach(), expected.detach()
        mismatched = [t for t in range(T) if not bool(close[:, t].all())]
        overwritten = [t for t in mismatched if t + 1 < T and forced[t + 1]
                       and bool(_close(got_[:, t], x[:, t + 1], rtol, atol).all())]
        if overwritten and overwritten == mismatched:
            raise AssertionError(
                f"your earlier predictions were overwritten by the data ({what}): writing "
                "x[:, t] into z in place also changes the read-out you stored from it. Build "
                "the forced state as a new tensor, torch.cat([x[:, t], z[:, N:]], dim=-1)")
        for slip, wrong in (slips.items() if isinstance(slips, dict) else slips):
            if wrong is None:
                continue
            wrong = wrong.detach()
            if (not bool(_close(wrong, expected_, rtol, atol).all())
                    and bool(_close(got_, wrong, rtol, atol).all())):
                raise AssertionError(f"{slip} ({what})")
        b, t, i = (int(v) for v in (~close).nonzero()[0])
        e, g = expected_[b, t, i].item(), got_[b, t, i].item()
        if not np.isfinite(g):
            raise AssertionError(
                f"the prediction at batch {b}, step t={t}, unit {i} is {g} ({what}); the "
                f"reference is {e:.6g}. {recipe}")
        deviation = float(((got_ - expected_).abs() / (1 + expected_.abs())).max())
        if x.dtype == torch.float64 and deviation < 1e-4:
            raise AssertionError(
                f"your predictions differ from the reference by up to {deviation:.1e} "
                f"({what}): more than rounding in float64 explains, as much as the precision "
                "of float32. x and the model are float64 here, so part of your computation "
                "ran in float32 (.float(), torch.zeros or torch.tensor without dtype=). Build "
                "the states from x, in its dtype (x.new_zeros(...), torch.cat([x[:, t], "
                "z[:, N:]], dim=-1))")
        raise AssertionError(
            f"wrong prediction at batch {b}, step t={t}, unit {i} ({what}): "
            f"{_fmt_pair(e, g)}. {recipe}")
    if not got.requires_grad:
        raise AssertionError(
            "the predictions carry no gradient: do not detach or convert them, and do not "
            "wrap the loop in torch.no_grad()")
    params = list(model.parameters())
    pnames = [pname for pname, _ in model.named_parameters()]
    weights = torch.linspace(-1, 1, B * T * N, dtype=torch.float64).reshape(B, T, N)
    with torch.enable_grad():
        try:
            grads = torch.autograd.grad((got * weights.to(got.dtype)).sum(), params,
                                        allow_unused=True)
        except RuntimeError as err:
            if "inplace" in str(err) or "in-place" in str(err):
                raise AssertionError(
                    "backpropagation fails because z was changed in place (e.g. z[:, :N] = "
                    "x[:, t]) after the model used it: build the forced state as a new tensor, "
                    "torch.cat([x[:, t], z[:, N:]], dim=-1)") from err
            raise AssertionError(
                f"backpropagation through your predictions fails ({type(err).__name__}: "
                f"{str(err).strip().splitlines()[0] if str(err).strip() else ''}): keep "
                "them in one autograd graph with the model's parameters") from err
        expected_grads = torch.autograd.grad((expected * weights.to(x.dtype)).sum(), params)
    grad_rtol, grad_atol = (1e-7, 1e-9) if x.dtype == torch.float64 else (2e-3, 2e-4)
    for pname, g, e in zip(pnames, grads, expected_grads):
        if g is None:
            raise AssertionError(f"no gradient reaches {pname}: is part of the loop detached "
                                 "(.detach(), .data, torch.no_grad())?")
        if not bool(_close(g, e, grad_rtol, grad_atol).all()):
            raise AssertionError(
                f"the gradient with respect to {pname} differs from the reference although "
                f"the predictions agree ({what}): part of the computation is detached from "
                "the graph (.detach(), .data, .item(), torch.no_grad(), or a tensor rebuilt "
                "with torch.tensor), so the gradient does not flow through all steps")
    return got


def _stf_slips(model, x, tau_f, forced):
    """The typical mistakes of Task 1 of chapter 03, and what each gives."""
    T = x.shape[1]
    t = np.arange(T)
    shifted = ("the forcing times are shifted by one: force at t = 0, tau_f, 2 tau_f, ... "
               "(t % tau_f == 0)")
    return [
        ("the data are never used: force z~_t = [x_t, z_t[N:]] at t = 0, tau_f, "
         "2 tau_f, ...", _forced_run(model, x, np.zeros(T, bool))),
        ("you force at every step: force only when t is a multiple of tau_f",
         _forced_run(model, x, np.ones(T, bool)) if tau_f > 1 else None),
        (shifted, _forced_run(model, x, t % tau_f == 1) if tau_f > 1 else None),
        (shifted, _forced_run(model, x, t % tau_f == tau_f - 1) if tau_f > 1 else None),
        ("forcing sets the unobserved units to zero: keep them, z~_t = [x_t, z_t[N:]]",
         _forced_run(model, x, forced, reset_hidden=True)),
        ("the predictions lag by one step: keep the read-out of the new state, "
         "model.observe(model(z)), the prediction of x_{t+1}",
         _forced_run(model, x, forced, lagged=True)),
        ("you force with the next observation x[:, t + 1], the target of step t: force "
         "with x[:, t], the observation of the state that the step starts from",
         _forced_run(model, x, forced, ahead=True)),
    ]


def _run_stf_case(fn, model, x, tau_f, what):
    from ..training import forcing_times

    forced = forcing_times(x.shape[1], tau_f)
    _check_predictions("stf_forward", fn, model, x, (tau_f,), forced,
                       _stf_slips(model, x, tau_f, forced), what)


def check_stf_forward(fn, *, hidden: bool = False) -> None:
    """Check ``fn(model, x, tau_f)``: sparse teacher forcing without warm-up, predictions
    of shape ``(B, T, N)`` in the dtype of ``x``, equal to
    :func:`course_utils.training.stf_forward` in values and gradients.

    With ``hidden=True`` (the grader) three more cases follow: other seeds, batch sizes,
    lengths, forcing intervals, model sizes, and float32 as in the notebook.
    """
    model = _small_plrnn()
    x = _signals(3, 23, 2, seed=1)
    for tau_f in (5, 7, 1):
        _run_stf_case(fn, model, x, tau_f, f"tau_f = {tau_f}")
    _ok("stf_forward: forced at t = 0, tau_f, 2 tau_f, ...; predictions and gradients "
        "match the reference")
    if hidden:
        for label, sizes, B, T, tau_f, seed, dtype in _HIDDEN_CASES:
            with _hidden_case(label):
                model = _small_plrnn(**sizes, dtype=dtype)
                _run_stf_case(fn, model, _signals(B, T, sizes["N"], seed, dtype), tau_f,
                              "a hidden case")
