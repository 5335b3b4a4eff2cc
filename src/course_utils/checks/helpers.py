"""Helpers that several chapters' checks share, public within :mod:`course_utils.checks`.

* Results as arrays: :func:`real_array`, :func:`expect_float64`, :func:`expect_shape`,
  :func:`observed_values` (what a probe observed, TensorFlow tensors read as arrays).
* Small PLRNNs, their inputs and tolerances: :func:`small_plrnn`, :func:`forcing_signals`,
  :func:`close_enough`, :func:`dtype_tolerance`, :func:`grad_tolerance`,
  :func:`returned_tensor`, :func:`assert_model_dtype`, :func:`dtype_hint`.
* Teacher forcing, shared by chapters 03 (STF), 05 (STF with a warm-up) and 06 (GTF): the
  cases (:func:`forcing_case`, :func:`hidden_forcing_case`), the reference run with the
  typical slips (:func:`forced_run`) and the slips every forcing task can make
  (:func:`forcing_slips`: the unobserved units zeroed, a read-out lag, forcing with the
  next or the previous observation or after the step, the forced state written in place),
  the probe that calls the student's forward pass and backpropagates through its predictions
  (:func:`probe_forcing`), and the judge of predictions and gradients
  (:func:`judge_predictions`), whose messages of wrong values have the form of every
  chapter (:func:`~course_utils.checks.framework.first_mismatch`).
"""

from __future__ import annotations

import copy

import numpy as np

from .framework import (Case, assert_unchanged as _assert_unchanged, attempt as _attempt,
                        expect_torch_tensor as _expect_torch_tensor,
                        first_mismatch as _first_mismatch,
                        module_state as _module_state, outcome as _outcome,
                        salted as _salted, snapshot as _snapshot, with_hint as _with_hint)
from .observations import Raised, TFValue, display_type

__all__ = ["json_number", "observed_values", "real_array", "expect_float64", "expect_shape",
           "small_plrnn", "forcing_signals", "close_enough", "dtype_tolerance", "dtype_hint",
           "returned_tensor", "assert_model_dtype", "grad_tolerance", "gradient_weights",
           "forced_run", "fair_case", "forcing_case", "forcing_inputs", "hidden_forcing_case",
           "student_gradients", "probe_forcing", "STF_STATE", "forcing_slips",
           "judge_gradients", "judge_predictions"]


# ------------------------------------------------------------------ results as arrays

def json_number(value):
    """A parameter as a JSON number (a NumPy scalar as its Python value)."""
    return value.item() if isinstance(value, np.generic) else value


def observed_values(value, depth: int = 0):
    """An observed result with its TensorFlow tensors replaced by their values (lists of
    tensors are read as arrays, as ``np.asarray`` reads lists of eager tensors)."""
    if isinstance(value, TFValue):
        return value.numpy()
    if isinstance(value, (list, tuple)) and depth < 8:
        return [observed_values(item, depth + 1) for item in value]
    return value


def real_array(got, what: str, *, why: str = "") -> np.ndarray:
    """``got`` (a NumPy array, a TensorFlow tensor as observed, a list) as a NumPy array
    of real numbers, its dtype kept; an ``AssertionError`` that names the problem
    otherwise."""
    because = f" ({why})" if why else ""
    if got is None:
        raise AssertionError(f"{what} returned None{because}: is the return statement "
                             "missing?")
    try:
        value = got.numpy() if callable(getattr(got, "numpy", None)) else observed_values(got)
        array = np.asarray(value)
    except Exception as error:  # noqa: BLE001 - a ragged list, a symbolic tensor, ...
        raise AssertionError(f"{what} could not be read as an array of numbers{because}: got "
                             f"{display_type(got)} ({type(error).__name__})") from None
    if np.iscomplexobj(array):
        raise AssertionError(f"{what} has complex values (dtype {array.dtype}){because}; the "
                             "result is real: did a complex number enter the computation?")
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise AssertionError(f"{what} must hold numbers{because}; got {display_type(got)}"
                             f" with dtype {array.dtype}")
    return array


def expect_float64(array: np.ndarray, what: str, why: str) -> None:
    """Float64, with a hint for integer and lower-precision results."""
    if array.dtype == np.float64:
        return
    if np.issubdtype(array.dtype, np.integer) or array.dtype == bool:
        raise AssertionError(
            f"{what} has the integer dtype {array.dtype}: values assigned into an integer "
            "array are truncated. Create it as a float array (np.zeros(shape) is float64; "
            "not dtype=int, not np.zeros_like of an integer array)")
    raise AssertionError(f"{what} has dtype {array.dtype}, not float64 ({why}): keep "
                         "everything in float64, without casts to float32")


def expect_shape(array: np.ndarray, shape, message: str, hint: str = "") -> None:
    if array.shape != tuple(shape):
        raise AssertionError(f"{message}; got shape {array.shape}"
                             + (f". {hint}" if hint else ""))


# ------------------------------------------------------ small PLRNNs and teacher forcing

def small_plrnn(M=6, L=10, N=2, seed=5, dtype="float64"):
    """A PLRNN whose ReLU pattern changes from state to state, built in float64 and then
    converted to ``dtype``."""
    import torch

    from ..models import ShallowPLRNN

    model = ShallowPLRNN(M, L, N, seed=seed, dtype=torch.float64)
    with torch.no_grad():
        model.W1.mul_(4.0)                    # strong nonlinearity: slips show clearly
        model.A.uniform_(0.3, 0.95, generator=torch.Generator().manual_seed(seed))
    return model.to(getattr(torch, dtype))


def forcing_signals(B, T, N, seed, dtype="float64"):
    """Forcing signals x of shape (B, T, N), drawn in float64 and converted to ``dtype``."""
    import torch

    x = torch.randn(B, T, N, generator=torch.Generator().manual_seed(seed),
                    dtype=torch.float64)
    return x.to(getattr(torch, dtype))


def _forced_state(z, data, w, N, *, reset_hidden=False, damp_hidden=False):
    """The state z~ that enters a step forced with weight ``w`` by ``data`` (of N units):
    the first N units of z replaced by the data (w = 1) or pulled towards them,
    (1 - w) z[:, :N] + w data (0 < w < 1); the others kept, or zeroed, or damped by
    1 - w (the slips ``reset_hidden``, ``damp_hidden``). ``w`` = 0 leaves z as it is."""
    import torch

    if w <= 0:
        return z
    rest = z[:, N:]
    if reset_hidden:
        rest = torch.zeros_like(rest)
    elif damp_hidden and w < 1:
        rest = (1 - w) * rest
    observed = data if w == 1 else (1 - w) * z[:, :N] + w * data
    return torch.cat([observed, rest], dim=-1)


def _at_step(switch, t) -> bool:
    """A slip's switch at step ``t``: one bool for every step, or one per step."""
    return bool(switch[t]) if np.ndim(switch) else bool(switch)


def forced_run(model, x, forced, *, reset_hidden=False, lagged=False, ahead=False,
               behind=False, after=False, late=False, inplace=False,
               damp_hidden=False, units=None, preactivations=None):
    """Forcing with the per-step weights ``forced`` (True or 1: the observed units replaced
    by the data; w in (0, 1): z~_t[:N] = (1 - w) z_t[:N] + w x_t, as in GTF; 0 or False: no
    forcing), from z = 0, each step z = model(z~_t) read out by model.observe; the
    predictions, shape (B, T, N), in one autograd graph with the model's parameters.

    The typical slips, one switch each:

    * ``reset_hidden``: forcing zeroes the unobserved units (True, or one bool per step:
      at the steps where it is True); ``damp_hidden``: a partial
      forcing (0 < w < 1) damps them by 1 - w too (weights of model and data
      swapped are other ``forced`` weights, 1 - w for w);
    * ``lagged``: the read-out of the state before the step;
    * ``ahead``: forcing with the next observation x[:, t + 1] (the last step, which has
      none, unforced; True, or one bool per step); ``behind``: forcing with the previous
      observation x[:, t - 1], which at t = 0 is x[:, -1], the last one, as Python indexes
      (True), or x[:, 0] ("clamped");
    * ``after``: the forcing applied after the step, to the new state, and that forced
      state read out; ``late``: the new state read out, then forced with x[:, t] (so that
      the forced state enters the next step);
    * ``inplace``: the forced state written into the tensor of the previous step's state:
      each stored read-out, a view of that tensor, shows the forced values of the next
      step where it is forced;
    * ``units``: only the first ``units`` observed units forced (a fixed N = 1), the others
      left to the model.

    ``preactivations``, a list, receives W2 z~_t + h2 of every step (for the choice of
    fair hidden cases, :func:`fair_case`)."""
    import torch

    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    outputs, entering = [], []
    with torch.enable_grad():
        for t in range(T):
            w = float(forced[t])
            step_ahead, reset = _at_step(ahead, t), _at_step(reset_hidden, t)
            if step_ahead and t + 1 >= T:
                w = 0.0
            step = t
            if step_ahead and w > 0:
                step = t + 1
            elif behind:
                step = max(t - 1, 0) if behind == "clamped" else t - 1
            data = x[:, step, :units]

            def force(state):
                return _forced_state(state, data, w, data.shape[-1],
                                     reset_hidden=reset, damp_hidden=damp_hidden)

            if after or late:
                z = model(z)
                if after:
                    z = force(z)
                outputs.append(model.observe(z))
                if late:
                    z = force(z)
                continue
            z = force(z)
            entering.append(z)
            if preactivations is not None:
                preactivations.append((z @ model.W2.T + model.h2).detach())
            before = z
            z = model(z)
            outputs.append(model.observe(before if lagged else z))
        if inplace:
            outputs = [model.observe(entering[t + 1]) if t + 1 < T and float(forced[t + 1]) > 0
                       else out for t, out in enumerate(outputs)]
        return torch.stack(outputs, dim=1)


def dtype_tolerance(dtype):
    """(rtol, atol relative to the scale of the reference) for values computed in ``dtype``:
    rounding differences between correct implementations stay well inside them, slips are
    far outside."""
    import torch

    return (1e-9, 1e-10) if dtype == torch.float64 else (2e-4, 2e-5)


def close_enough(got, expected, rtol, atol):
    """Elementwise: is ``got`` within the tolerance of ``expected`` (NaN is never close)?
    ``atol`` is relative to the largest finite entry of ``expected`` (at least 1)."""
    import torch

    finite = expected[torch.isfinite(expected)]
    scale = max(1.0, float(finite.abs().max())) if finite.numel() else 1.0
    return torch.isclose(got, expected, rtol=rtol, atol=atol * scale)


def dtype_hint(error: BaseException) -> str | None:
    """A hint when the student's code failed because two dtypes were mixed, else None."""
    text = str(error)
    lowered = text.lower()
    if "dtype" in lowered or ("double" in lowered and "float" in lowered):
        return text.strip().splitlines()[0] if text.strip() else type(error).__name__
    return None


_STATE_DTYPE_HINT = ("Build every tensor from the inputs, in their dtype (x.new_zeros(...), "
                     "torch.cat([x[:, t], z[:, N:]], dim=-1)): no casts (.float(), .double(), "
                     "dtype=torch.float64), no torch.zeros/torch.tensor without dtype=")


def returned_tensor(value, *, dtype, what, hint=_STATE_DTYPE_HINT):
    """What the student's call returned (the judge's side of :func:`attempt`); a failure
    from mixed dtypes becomes an AssertionError that says so, with ``hint`` (in the
    notebook the student's own traceback stays attached)."""
    if isinstance(value, Raised) and value.is_a("RuntimeError", "TypeError"):
        first_line = dtype_hint(value.message)
        if first_line is not None:
            raise AssertionError(
                f"your code raised {value.type_name} ({first_line}) for inputs of dtype "
                f"{dtype} ({what}): part of your computation uses another dtype. {hint}"
                ) from value.original
    return _outcome(value)


def assert_model_dtype(model, state, what):
    """Raise if the student's code changed the dtype of the model's parameters in place
    (model.double(), model.float() convert the model itself): ``model`` is the model as
    built for the case, ``state`` its parameters as the probe saw them after the call."""
    for pname, p in model.named_parameters():
        after = state.get(pname) if isinstance(state, dict) else None
        if after is None or not hasattr(after, "dtype"):
            raise AssertionError(f"your function removed the model's parameter {pname} "
                                 f"({what}); later cells use the model again")
        if after.dtype != p.dtype:
            raise AssertionError(
                f"your function converted the model in place ({what}): its parameter {pname} "
                f"was {p.dtype} and is now {after.dtype}. model.double() and model.float() "
                "change the model itself, which later cells use again; do not convert it")


_STF_RECIPE = "At each step: force z if t is a forcing time, z = model(z), keep model.observe(z)"


def grad_tolerance(dtype):
    """(rtol, atol relative to the scale of the reference) for gradients in ``dtype``."""
    import torch

    return (1e-7, 1e-9) if dtype == torch.float64 else (2e-3, 2e-4)


def gradient_weights(B, T, N):
    """The fixed weights of the predictions in the scalar whose gradients are compared:
    (B, T, N) values from -1 to 1, in float64 (converted to the predictions' dtype)."""
    import torch

    return torch.linspace(-1, 1, B * T * N, dtype=torch.float64).reshape(B, T, N)


# ---------------------------------------------------------------------------------------
# Cases: a model and forcing signals, described by sizes, seeds and the dtype

def forcing_case(label, sizes, B, T, seed, dtype, *, hidden=False, **task) -> Case:
    """A case of the forcing checks: the model ``small_plrnn(**sizes, dtype=dtype)``,
    the signals ``forcing_signals(B, T, N, seed, dtype)``, and the task's own arguments
    (``tau_f``, ``warmup``, ``alpha``)."""
    return Case(label, dict(sizes=dict(sizes), B=B, T=T, seed=seed, dtype=dtype, **task),
                hidden)


def forcing_inputs(case: Case):
    """The model and the signals x of a case, the same in the probe and in the judge."""
    p = case.params
    model = small_plrnn(**p["sizes"], dtype=p["dtype"])
    return model, forcing_signals(p["B"], p["T"], p["sizes"]["N"], p["seed"], p["dtype"])


#: Machine epsilon of float64 over that of float32 (2**-29): how much smaller the rounding
#: errors of a float64 computation are than those of the same computation in float32.
_EPS_RATIO = float(np.finfo(np.float64).eps / np.finfo(np.float32).eps)
#: How far inside the tolerance the rounding errors of a fair case stay.
_SAFETY = 20.0
#: How many times the rounding error of the pre-activations a fair case keeps them away
#: from the ReLU kink (where rounding could flip a unit, and with it the gradients).
_KINK_SAFETY = 50.0


def fair_case(model, x, forced) -> bool:
    """Whether every correct implementation in the case's dtype is sure to pass: the
    forced run in float32 and in float64 (of the same model and signals) differ, in the
    predictions and in the gradients, by at most 1/20 of the tolerance (scaled by the
    ratio of the machine epsilons for a float64 case), and no pre-activation W2 z~_t + h2
    lies within 50 times its rounding error of the ReLU kink.

    It runs the reference, so only :func:`hidden_forcing_case` calls it, where the cases
    are listed (the grader's process), never the probe."""
    import torch

    runs = {}
    for dtype in (torch.float64, torch.float32):
        twin = copy.deepcopy(model).to(dtype)
        pre: list = []
        with torch.enable_grad():
            P = forced_run(twin, x.to(dtype), forced, preactivations=pre)
            B, T, N = P.shape
            grads = torch.autograd.grad((P * gradient_weights(B, T, N).to(dtype)).sum(),
                                        list(twin.parameters()))
        runs[dtype] = (P.detach().double(), [g.double() for g in grads],
                       torch.stack(pre).double())
    (P64, G64, pre64), (P32, G32, pre32) = runs[torch.float64], runs[torch.float32]
    shrink = _SAFETY * (1.0 if x.dtype == torch.float32 else _EPS_RATIO)
    rtol, atol = dtype_tolerance(x.dtype)
    if not bool(close_enough(P32, P64, rtol / shrink, atol / shrink).all()):
        return False
    rtol, atol = grad_tolerance(x.dtype)
    if not all(bool(close_enough(g32, g64, rtol / shrink, atol / shrink).all())
               for g32, g64 in zip(G32, G64)):
        return False
    rounding = float((pre32 - pre64).abs().max())
    if x.dtype == torch.float64:
        rounding *= _EPS_RATIO
    return float(pre64.abs().min()) > _KINK_SAFETY * rounding


def hidden_forcing_case(label, sizes, B, T, seed, dtype, salt, forced, **task) -> Case:
    """A hidden case: the seeds of the model and of the signals mixed with the grader's
    ``salt``, then both redrawn (seed + 1, + 2, ...) until the case is fair (:func:`fair_case`,
    for the forcing weights ``forced`` of the task). The case holds the seeds it settled
    on, so that the probe and the judge build the same inputs without redrawing."""
    model_seed, data_seed = _salted(sizes["seed"], salt), _salted(seed, salt)
    for attempt in range(200):
        drawn = dict(sizes, seed=model_seed + attempt)
        case = forcing_case(label, drawn, B, T, data_seed + attempt, dtype, hidden=True,
                             **task)
        if fair_case(*forcing_inputs(case), forced):
            return case
    raise RuntimeError(f"no fair draw for the hidden case {label!r}")  # pragma: no cover


# ---------------------------------------------------------------------------------------
# The probe: the student's forward pass, the inputs after it, and its gradients

def student_gradients(got, model, shape):
    """The gradients of sum(weights * got) with respect to the model's parameters (by
    name; None for a parameter that gets none), through the student's own autograd graph;
    None when ``got`` is not a tensor of ``shape`` that requires grad. Called through
    :func:`attempt`: a failing backward pass (a state changed in place) is observed."""
    import torch

    if not (isinstance(got, torch.Tensor) and tuple(got.shape) == tuple(shape)
            and got.requires_grad):
        return None
    named = list(model.named_parameters())
    weights = gradient_weights(*shape).to(got.dtype)
    grads = torch.autograd.grad((got * weights).sum(), [p for _, p in named],
                                allow_unused=True)
    return {name: None if g is None else g.detach() for (name, _), g in zip(named, grads)}


def probe_forcing(case: Case, fn, *args) -> dict:
    """Call ``fn(model, x, *args)`` on the case's inputs; observe what it returned, the
    model's parameters and x after the call, and the gradients through its result."""
    model, x = forcing_inputs(case)
    given = x.clone()
    got = _attempt(fn, model, given, *args)
    state = _module_state(model)
    grads = _attempt(student_gradients, got, model, tuple(x.shape))
    return {"got": got, "model": state, "x": given.detach(), "grads": grads}


# ---------------------------------------------------------------------------------------
# The judge of predictions and gradients

_WHY = ("torch.stack of the predictions; the next cell computes the loss from it and "
        "backpropagates through it")

#: The forced state of sparse teacher forcing: as the messages write it, and as code.
STF_STATE = ("z~_t = [x_t, z_t[N:]]", "torch.cat([x[:, t], z[:, N:]], dim=-1)")

#: Words of a RuntimeError of PyTorch about sizes that do not fit together.
_SIZE_ERRORS = ("size of tensor", "sizes of tensors", "shapes cannot be multiplied",
                "shape '[", "size mismatch", "invalid for input of size")


def forcing_slips(model, x, forced, state=STF_STATE):
    """The slips that every forcing task can make, as pairs of a description and the
    predictions that slip gives (:func:`forced_run` with the slip's switch) for the
    forcing weights ``forced``: one observed unit forced of N > 1, the unobserved units
    zeroed, a read-out lag, forcing with x[:, t + 1] or x[:, t - 1] (x[:, -1] or x[:, 0] at
    t = 0), forcing after the step (two ways), the forced state written in place.
    ``state`` is the task's forced state (formula, code), as the hints write it."""
    formula, code = state
    N = x.shape[-1]
    return [
        (f"only the first observed unit is forced, as if N were 1: force all N = {N} of "
         "them with x[:, t] (N = x.shape[-1])",
         forced_run(model, x, forced, units=1) if N > 1 else None),
        (f"forcing sets the unobserved units to zero: keep them, {formula}",
         forced_run(model, x, forced, reset_hidden=True)),
        ("the predictions lag by one step: keep the read-out of the new state, "
         "model.observe(model(z~_t)), the prediction of x_{t+1}",
         forced_run(model, x, forced, lagged=True)),
        ("you force with the next observation x[:, t + 1], the target of step t: force "
         "with x[:, t], the observation of the state that the step starts from",
         forced_run(model, x, forced, ahead=True)),
        *[("you force with the previous observation x[:, t - 1]: force step t with x[:, t], "
           "the observation of the state that it starts from (at t = 0, x[:, t - 1] is "
           "x[:, -1], the last observation)", forced_run(model, x, forced, behind=behind))
          for behind in (True, "clamped")],
        ("you force after the step: at a forced step you keep the read-out of the forced "
         "state, not the model's prediction. Force z first, then z = model(z~_t), and keep "
         "model.observe(z)", forced_run(model, x, forced, after=True)),
        ("you force after the step: the state forced with x[:, t] enters step t + 1, not "
         "step t. Force z with x[:, t] before z = model(z)",
         forced_run(model, x, forced, late=True)),
        ("this prediction was right when you stored it, but writing the forced state into "
         "z in place (z[:, :N] = ...) at the next step changed it: model.observe(z) is a "
         f"view of z, not a copy. Build the forced state as a new tensor, {code}",
         forced_run(model, x, forced, inplace=True)),
    ]


def _raised_for_sizes(value, x, model, what, code) -> None:
    """Turn an IndexError at the end of x, or a RuntimeError of sizes that do not fit
    (not of dtypes), into a message that says what to index and which sizes to use."""
    if not isinstance(value, Raised):
        return
    text = value.message.strip()
    first = text.splitlines()[0] if text else value.type_name
    B, T, N = x.shape
    if value.is_a("IndexError") and "out of bounds" in text:
        raise AssertionError(
            f"your code raised IndexError ({first}) for x of shape {(B, T, N)} ({what}): "
            f"x[:, t] exists for t = 0, ..., T - 1 = {T - 1}. Loop over range(T) with T = "
            "x.shape[1], and force step t with x[:, t], the observation of the state that it "
            "starts from (x[:, t + 1] is its target, one past the end at the last step)"
            ) from value.original
    if (value.is_a("RuntimeError") and dtype_hint(text) is None
            and any(words in text.lower() for words in _SIZE_ERRORS)):
        raise AssertionError(
            f"your code raised RuntimeError ({first}) for x of shape {(B, T, N)} and a model "
            f"of M = {model.M} latent units ({what}): a size in your code does not fit these "
            "inputs. Take B, T and N from x.shape and M from model.M; the forced state has "
            f"the M units of z, {code}") from value.original


def judge_gradients(model, x, expected, grads, what, code=STF_STATE[1]) -> None:
    """The observed gradients (or the failure of the backward pass) against those of the
    reference predictions ``expected``, with the same weights; a wrong gradient is shown
    as ``W1.grad[i, j] is wrong (case): expected E, got G`` (:func:`first_mismatch`).
    ``code`` is the task's forced state as code, for the hint on a state changed in place."""
    import torch

    if isinstance(grads, Raised):
        if grads.is_a("RuntimeError"):
            text = grads.message
            if "inplace" in text or "in-place" in text:
                raise AssertionError(
                    "backpropagation fails because z was changed in place (e.g. z[:, :N] = "
                    "x[:, t]) after the model used it: build the forced state as a new tensor, "
                    f"{code}") from grads.original
            raise AssertionError(
                f"backpropagation through your predictions fails ({grads.type_name}: "
                f"{text.strip().splitlines()[0] if text.strip() else ''}): keep "
                "them in one autograd graph with the model's parameters") from grads.original
        _outcome(grads)
    if not isinstance(grads, dict):
        raise TypeError("the observed gradients are not a dict")
    named = list(model.named_parameters())
    B, T, N = x.shape
    with torch.enable_grad():
        expected_grads = torch.autograd.grad(
            (expected * gradient_weights(B, T, N).to(x.dtype)).sum(), [p for _, p in named])
    grad_rtol, grad_atol = grad_tolerance(x.dtype)
    for (pname, _), e in zip(named, expected_grads):
        g = grads[pname]
        if g is None:
            raise AssertionError(f"no gradient reaches {pname}: is part of the loop detached "
                                 "(.detach(), .data, torch.no_grad())?")
        close = close_enough(g, e, grad_rtol, grad_atol)
        if not bool(close.all()):
            raise AssertionError(
                f"{_first_mismatch(f'{pname}.grad', e, g, close, case=what)}. The predictions "
                f"agree, but the gradient with respect to {pname} differs from the reference: "
                "part of the computation is detached from the graph (.detach(), .data, "
                ".item(), torch.no_grad(), or a tensor rebuilt with torch.tensor), so the "
                "gradient does not flow through all steps")


def judge_predictions(name, case: Case, seen: dict, forced, slips, *, warmup=0,
                      recipe=_STF_RECIPE, state=STF_STATE):
    """Judge the observations of :func:`probe_forcing` against the forced run at
    ``forced``: type, shape, dtype, device, values and gradients.

    ``slips(model, x)`` lists the task's own typical mistakes, as pairs of a description
    and what that mistake gives (None where it gives nothing different); the slips every
    forcing task can make (:func:`forcing_slips`, with the task's forced ``state``) follow.
    A wrong value is shown as ``predictions[b, t, i] is wrong (case): expected E, got G``
    (:func:`first_mismatch`), then the slip whose predictions the student's match on every
    step but the last (where the guards of x[:, t + 1] differ; on every step for a slip
    that differs from the reference at the last step only), else ``recipe``, what each
    step does. ``warmup`` gives the shape hint of a result without the warm-up."""
    import torch

    model, x = forcing_inputs(case)
    what = "a hidden case" if case.hidden else case.label
    B, T, N = x.shape
    _raised_for_sizes(seen["got"], x, model, what, state[1])
    hint = _STATE_DTYPE_HINT
    if x.dtype == torch.float32:
        hint += (". The notebook's model and data are float32 too: there your code fails "
                 "in the same way")
    got = returned_tensor(seen["got"], dtype=x.dtype, what=what, hint=hint)
    assert_model_dtype(model, seen["model"], what)
    _assert_unchanged(_snapshot(model, x), [seen["model"], seen["x"]],
                      ["model (its parameters)", "x"])

    if isinstance(got, np.ndarray):
        raise AssertionError(f"{name} must return a torch tensor (the next cell computes the "
                             "loss from it and backpropagates through it); got a NumPy array. "
                             "Keep the predictions as tensors: torch.stack(predictions, dim=1)")
    _expect_torch_tensor(got, name, why=_WHY)
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
        else:
            hint.setdefault((B, T, 1), f"one read-out per observed unit: N = x.shape[-1] is "
                                       f"{N} here, do not fix N = 1")
        if warmup:
            hint[(B, T - warmup, N)] = ("return the predictions of all T steps; the loss "
                                        "(prediction_loss with warmup=...) leaves out the warm-up")
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

    expected = forced_run(model, x, forced)
    got_, expected_ = got.detach(), expected.detach()
    _judge_values(model, x, got_, expected_, forced, slips, what, recipe, state)
    if not got.requires_grad:
        raise AssertionError(
            "the predictions carry no gradient: do not detach or convert them, and do not "
            "wrap the loop in torch.no_grad()")
    judge_gradients(model, x, expected, seen["grads"], what, state[1])


def _judge_values(model, x, got, expected, forced, slips, what, recipe, state) -> None:
    """The predictions ``got`` against ``expected`` (see :func:`judge_predictions`)."""
    import torch

    rtol, atol = dtype_tolerance(x.dtype)
    close = close_enough(got, expected, rtol, atol)
    if bool(close.all()):
        return
    where = _first_mismatch("predictions", expected, got, close, case=what)
    b, t, i = (int(v) for v in (~close).nonzero()[0])
    if not np.isfinite(got[b, t, i].item()):
        raise AssertionError(
            f"{where}. A NaN or an infinite value where the reference is finite: a value "
            f"overflowed or was computed from another NaN. {recipe}")
    T = x.shape[1]
    steps = slice(None, T - 1) if T > 1 else slice(None)
    for slip, wrong in [*slips(model, x), *forcing_slips(model, x, forced, state)]:
        if wrong is None:
            continue
        wrong = wrong.detach()
        for part in (steps, slice(None)):
            if not bool(close_enough(wrong[:, part], expected[:, part], rtol, atol).all()):
                if bool(close_enough(got[:, part], wrong[:, part], rtol, atol).all()):
                    raise AssertionError(_with_hint(where, slip))
                break
    deviation = float(((got - expected).abs() / (1 + expected.abs())).max())
    if x.dtype == torch.float64 and deviation < 1e-4:
        raise AssertionError(
            f"{where}. Your predictions differ from the reference by up to {deviation:.1e}: "
            "more than rounding in float64 explains, as much as the precision of float32. x "
            "and the model are float64 here, so part of your computation ran in float32 "
            "(.float(), torch.zeros or torch.tensor without dtype=). Build the states from x, "
            "in its dtype (x.new_zeros(...), torch.cat([x[:, t], z[:, N:]], dim=-1))")
    raise AssertionError(f"{where}. {recipe}")
