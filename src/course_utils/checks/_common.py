"""What every chapter's checks share: messages, hidden cases, and the checks of what the next
cell relies on (type, dtype, shape, device) and of inputs changed in place.

A check is ``check_x(fn, *, hidden=False)``. It runs the student's ``fn`` on the visible
cases, which are the same in the notebook and in grading, and raises ``AssertionError``
with a specific message (which value, for which input, the likely slip). With
``hidden=True`` (the grader) it then runs :func:`hidden_cases`: other seeds, sizes and
parameters, whose failures are reported without their inputs (:class:`HiddenCaseError`),
so that a solution written to fit the visible inputs fails and the feedback gives nothing
away.
"""

from __future__ import annotations

import contextlib
import copy
import sys
from typing import Any, Iterator

import numpy as np

__all__ = ["ok", "fmt", "fmt_pair", "HiddenCaseError", "hidden_case", "call_student",
           "expect_torch_tensor", "expect_tf_tensor", "type_name", "torch_result", "snapshot",
           "assert_unchanged"]


def ok(message: str) -> None:
    """Print the one-line confirmation of a passed check: ``✓ message``."""
    print(f"\u2713 {message}")


def fmt(a, precision: int = 6) -> str:
    """An array as a short string, ``[0.1, 0.2]``, for messages."""
    return np.array2string(np.asarray(a, dtype=float), precision=precision, separator=", ")


def fmt_pair(expected, got) -> str:
    """``expected [...], got [...]`` with as many digits as it takes for the two to differ
    visibly (up to 15), so that a message never shows two identical rows."""
    expected, got = np.asarray(expected, dtype=float), np.asarray(got, dtype=float)
    for precision in (6, 9, 12, 15):
        e, g = fmt(expected, precision), fmt(got, precision)
        if e != g:
            break
    return f"expected {e}, got {g}"


class HiddenCaseError(AssertionError):
    """A hidden case failed; the message names the kind of case, never its inputs."""


@contextlib.contextmanager
def hidden_case(label: str) -> Iterator[None]:
    """Run one hidden case; turn its failure into a :class:`HiddenCaseError`.

    ``label`` says what kind of input the case varies, without values (e.g. "another
    seed and batch size"). The original message, which may show the inputs, is dropped.
    """
    try:
        yield
    except HiddenCaseError:
        raise
    except AssertionError:
        raise HiddenCaseError(
            f"the visible check passes, but a hidden case fails ({label}): the result is "
            "wrong there. Does your code depend on something the visible inputs fix, such "
            "as a seed, a size or a parameter value?") from None
    except Exception as error:  # noqa: BLE001 - any error of the student's code counts
        raise HiddenCaseError(
            f"the visible check passes, but on a hidden case ({label}) your code raised "
            f"{type(error).__name__}. Does it depend on something the visible inputs fix, "
            "such as a size or a dtype?") from None


def call_student(fn, *args, **kwargs):
    """Call the student's ``fn`` with autograd enabled (a check may run inside
    ``torch.no_grad()``, but a correct solution may use ``torch.autograd``). PyTorch is
    not imported here: where nothing imported it (a Keras chapter), there is no grad mode."""
    torch = sys.modules.get("torch")
    if torch is None:
        return fn(*args, **kwargs)
    with torch.enable_grad():
        return fn(*args, **kwargs)


def expect_torch_tensor(got: Any, what: str, *, shape=None, dtype=None, device=None,
                        why: str = "") -> None:
    """Assert that ``got`` is a torch tensor with the given shape, dtype and device.

    ``what`` names the result ("naive_norms"); ``why`` says what the next cell does with it
    ("the next cell calls torch.isfinite on it"), so the message explains the requirement.
    """
    import torch

    because = f" ({why})" if why else ""
    if not isinstance(got, torch.Tensor):
        raise AssertionError(f"{what} must return a torch tensor{because}; got "
                             f"{type(got).__name__}")
    if shape is not None and tuple(got.shape) != tuple(shape):
        raise AssertionError(f"{what} must have shape {tuple(shape)}; got {tuple(got.shape)}")
    if dtype is not None and got.dtype != dtype:
        raise AssertionError(f"{what} must have dtype {dtype}{because}; got {got.dtype}")
    if device is not None and got.device != torch.device(device):
        raise AssertionError(f"{what} must be on the device of its inputs, {device}; got "
                             f"{got.device}")


def type_name(x) -> str:
    """How a message names the type of a result: "list", "a NumPy array (dtype int64)"."""
    if isinstance(x, np.ndarray):
        return f"a NumPy array (dtype {x.dtype})"
    return type(x).__name__


def torch_result(got, what: str, why: str):
    """``got`` detached, after asserting that it is a torch tensor; ``why`` says what the
    next cell does with it."""
    import torch

    if not isinstance(got, torch.Tensor):
        hint = (": compute with torch operations, or convert with torch.as_tensor"
                if isinstance(got, (np.ndarray, list, tuple, complex, float, int)) else "")
        raise AssertionError(f"{what} must be a torch tensor ({why}); got "
                             f"{type_name(got)}{hint}")
    return got.detach()


def expect_tf_tensor(got: Any, what: str, *, why: str = "") -> None:
    """Assert that ``got`` is a TensorFlow tensor (eager or symbolic) or variable."""
    import tensorflow as tf

    because = f" ({why})" if why else ""
    if not (tf.is_tensor(got) or isinstance(got, tf.Variable)):
        raise AssertionError(f"{what} must be a TensorFlow tensor{because}; got "
                             f"{type(got).__name__}. Compute with tf operations, not NumPy")


def snapshot(*values):
    """Deep copies of the inputs a check hands to the student (tensors, arrays, modules),
    to compare with :func:`assert_unchanged` afterwards."""
    return [copy.deepcopy(_detach(v)) for v in values]


def _detach(value):
    torch = sys.modules.get("torch")  # no tensor exists unless PyTorch was imported
    if torch is not None and isinstance(value, torch.Tensor):
        return value.detach().clone()
    if torch is not None and isinstance(value, torch.nn.Module):
        return {k: v.detach().clone() for k, v in value.state_dict().items()}
    if isinstance(value, np.ndarray):
        return value.copy()
    return value


def assert_unchanged(before, values, names) -> None:
    """Raise if the student's function changed one of its inputs in place.

    ``before`` is :func:`snapshot` of ``values`` taken before the call; ``names`` names them.
    """
    for old, new, name in zip(before, values, names):
        new = _detach(new)
        if isinstance(old, dict):
            same = all(_equal(old[k], new[k]) for k in old)
        else:
            same = _equal(old, new)
        if not same:
            raise AssertionError(
                f"your function changed its input {name} in place: later cells use it "
                "again. Work on a copy (x.clone(), x.copy()) or use out-of-place operations "
                "(x * 2 rather than x *= 2 or x.mul_(2))")


def _equal(a, b) -> bool:
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(a, torch.Tensor):
        return a.shape == b.shape and bool(torch.equal(a, b) or (
            a.is_floating_point() and torch.equal(a.isnan(), b.isnan())
            and torch.equal(torch.nan_to_num(a), torch.nan_to_num(b))))
    if isinstance(a, np.ndarray):
        return a.shape == np.shape(b) and np.array_equal(a, b, equal_nan=True)
    return True
