"""What every chapter's checks share: the three parts of a check, messages, hidden cases,
and the checks of what the next cell relies on (type, dtype, shape, device) and of inputs
changed in place.

A check is ``check_x(fn, *, hidden=False)``, made of three parts (a :class:`Check`):

* the **cases**: the inputs, described by seeds, sizes and parameters (:class:`Case`),
  the visible ones the same in the notebook and in grading, the hidden ones (the grader's,
  ``hidden=True``) other seeds, sizes and parameters, drawn anew for each grading;
* the **probe**: builds a case's inputs, calls the student's code on them
  (:func:`attempt`) and collects what came back (values, dtypes, shapes, gradients,
  inputs after the call, exceptions); it never computes an expected value;
* the **judge**: builds the same inputs, computes the expected values with the reference
  code and compares, raising ``AssertionError`` with a specific message (which value, for
  which input, the likely slip).

In the notebook :func:`run_check` runs the three in the student's process, the probe's
observations passed to the judge through the same encoding
(:mod:`course_utils.checks.observations`) as in grading. In grading only the probe runs
in the student's process; the judge runs in the grader's. A hidden case's failure is
reported without its inputs (:class:`HiddenCaseError`), so that a solution written to fit
the visible inputs fails and the feedback gives nothing away.
"""

from __future__ import annotations

import contextlib
import copy
import re
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np

from .observations import Failure, Raised, display_type, roundtrip

__all__ = ["ok", "fmt", "fmt_pair", "mismatch", "first_mismatch", "with_hint", "MISMATCH",
           "HiddenCaseError", "hidden_case", "call_student",
           "expect_torch_tensor", "type_name", "torch_result", "snapshot",
           "assert_unchanged", "Case", "Check", "StudentError", "attempt", "outcome",
           "salted", "module_state", "run_check", "observe", "judge_case", "judge_shown",
           "plain"]


@dataclass(frozen=True)
class Case:
    """One input of a check: ``label`` names it in the messages (for a hidden case, the
    kind of input it varies, never its values); ``params`` (JSON values) is all it takes
    to build its inputs, in the student's process and in the judge's alike."""

    label: str
    params: dict = field(default_factory=dict)
    hidden: bool = False


@dataclass(frozen=True)
class Check:
    """A check in its three parts (see the module's docstring).

    ``cases(hidden, salt, **params)`` lists the cases (the hidden ones too when
    ``hidden``; ``salt`` None keeps their seeds as written, the grader passes its own);
    ``probe(case, *objects)`` returns the observations of one case (a dict);
    ``judge(case, observations)`` raises ``AssertionError`` if they are wrong; ``passed``
    is the line printed after ✓; ``chapter`` is the chapter's notebook name (the task's
    declaration is found by it and the check's name, :mod:`course_utils.checks.declared`).
    """

    name: str
    cases: Callable[..., list]
    probe: Callable[..., dict]
    judge: Callable[[Case, dict], None]
    passed: str
    chapter: str = ""


class StudentError(Exception):
    """The student's code raised, seen from the judge: ``raised`` holds the exception's
    (safe) class name and message."""

    def __init__(self, raised: Raised):
        super().__init__(f"{raised.type_name}: {raised.message}")
        self.raised = raised

    @property
    def type_name(self) -> str:
        return self.raised.type_name

    def is_a(self, *names: str) -> bool:
        return self.raised.is_a(*names)


def attempt(fn, *args, **kwargs):
    """The probe's call of student code: ``fn(*args, **kwargs)`` with autograd enabled
    (:func:`call_student`), or a :class:`~course_utils.checks.observations.Failure`
    holding what it raised."""
    try:
        return call_student(fn, *args, **kwargs)
    except BaseException as error:  # noqa: BLE001 - everything the student's code raises
        return Failure(error)


def plain(value):
    """The probe's view of a student's result, as the encoding carries it: a subclass of
    str, tuple or list (``np.str_``, a namedtuple) as the plain type, which the encoding
    would otherwise send as an opaque object (copied through :func:`attempt`, since that
    can run the student's code)."""
    cls = type(value)
    if cls in (str, tuple, list):
        return value
    if issubclass(cls, str):
        return attempt(str.__str__, value)
    if issubclass(cls, tuple):
        return attempt(tuple, value)
    if issubclass(cls, list):
        return attempt(list, value)
    return value


def outcome(value):
    """The judge's view of something the probe got from the student's code: the value, or
    the exception raised again (the student's own, with its traceback, in the notebook;
    a :class:`StudentError` in grading)."""
    if isinstance(value, Raised):
        if value.original is not None:
            raise value.original
        raise StudentError(value)
    return value


def salted(seed: int, salt: int | None) -> int:
    """A hidden case's seed: as written without a salt, else mixed with the grader's salt
    (a fresh one for each grading), so that no one can know the hidden inputs before."""
    if salt is None:
        return seed
    return (seed * 1_000_003 + salt * 7_919 + 12_345) % (2**31 - 1)


def module_state(module) -> dict:
    """A PyTorch module's parameters and buffers after the student's call, as tensors
    (the probe observes them; the judge compares them with the inputs it built)."""
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def observe(check: Check, case: Case, objects: tuple):
    """The probe's observations of one case, or a Failure if the probe itself raised
    (a student object that breaks it)."""
    try:
        return check.probe(case, *objects)
    except BaseException as error:  # noqa: BLE001 - reported like the student's own error
        return Failure(error)


def judge_case(check: Check, case: Case, observations) -> None:
    """Judge one case's observations (as decoded): an exception of the probe itself is
    the student's exception; anything but a dict is malformed."""
    if isinstance(observations, Raised):
        outcome(observations)
    if not isinstance(observations, dict):
        raise TypeError("the observations of a case are not a dict")
    check.judge(case, observations)


def run_check(check: Check, objects: tuple, *, hidden: bool = False,
              params: dict | None = None, salt: int | None = None) -> None:
    """A check as the notebook runs it: the task's review (:mod:`.review`), then every
    case (the hidden ones too if ``hidden``, their seeds mixed with ``salt`` as the grader
    does): probe, the observations' round trip through their encoding, judge; then the ✓
    line."""
    from .review import declaration_of, review_objects

    review_objects(declaration_of(check.chapter, check.name), objects)
    for case in check.cases(hidden, salt, **(params or {})):
        judge_shown(check, case, roundtrip(observe(check, case, objects)))
    ok(check.passed)


def judge_shown(check: Check, case: Case, seen: Any) -> None:
    """:func:`judge_case`, with a hidden case's failure shown without its inputs
    (:func:`hidden_case`), as the notebook and the grader show it."""
    with hidden_case(case.label) if case.hidden else contextlib.nullcontext():
        judge_case(check, case, seen)


def ok(message: str) -> None:
    """Print the one-line confirmation of a passed check: ``✓ message``."""
    print(f"\u2713 {message}")


def fmt(a, precision: int = 6) -> str:
    """A number or an array as a short string for messages: ``0.0``, ``[0.1, 0.25]``, at
    most ``precision`` digits after the point (scientific below 1e-4 and from 1e6), rows
    beyond the first eight shown as ``...`` and the last two when there are more than ten."""
    array = np.asarray(a, dtype=float)
    if array.ndim:
        rows = [fmt(row, precision) for row in array[:8]]
        if len(array) > 10:
            rows += ["...", *(fmt(row, precision) for row in array[-2:])]
        else:
            rows += [fmt(row, precision) for row in array[8:]]
        return "[" + ", ".join(rows) + "]"
    value = float(array)
    if value != 0 and not 1e-4 <= abs(value) < 1e6:
        return np.format_float_scientific(value, precision=precision, trim="0")
    return np.format_float_positional(value, precision=precision, trim="0")


def fmt_pair(expected, got) -> str:
    """``expected [...], got [...]`` with as many digits as it takes for the two to differ
    visibly (up to 15), so that a message never shows two identical rows."""
    if np.iscomplexobj(expected) or np.iscomplexobj(got):
        return _fmt_complex_pair(expected, got)
    expected, got = np.asarray(expected, dtype=float), np.asarray(got, dtype=float)
    for precision in (6, 9, 12, 15):
        e, g = fmt(expected, precision), fmt(got, precision)
        if e != g:
            break
    return f"expected {e}, got {g}"


def _fmt_complex_pair(expected, got) -> str:
    """:func:`fmt_pair` of complex numbers, ``expected a+bj, got c+dj`` (arrays elementwise)."""
    expected, got = np.asarray(expected, dtype=complex), np.asarray(got, dtype=complex)

    def show(z, p):
        if z.ndim:
            return "[" + ", ".join(show(v, p) for v in z) + "]"
        return f"{z.real:.{p}f}{z.imag:+.{p}f}j"

    for precision in (4, 6, 9, 12, 15):
        e, g = show(expected, precision), show(got, precision)
        if e != g:
            break
    return f"expected {e}, got {g}"


#: The form of every message about a wrong value, in every chapter: the result's name, the
#: index of the first difference (as the student would index the result), the case, then
#: expected and got side by side (:func:`mismatch`). A hint may follow after ". ".
MISMATCH = re.compile(r"(?P<name>[\w.]+)(?P<index>\[-?\d+(, -?\d+)*\])? is wrong"
                      r"( \((?P<case>[^()]*(\([^()]*\)[^()]*)*)\))?: expected (?P<expected>.+?), "
                      r"got (?P<got>.+?)(\. |$)", re.S)


def mismatch(name: str, index=(), expected=None, got=None, case: str | None = None) -> str:
    """The message of a wrong value, the same in every chapter:
    ``name[i, j] is wrong (case): expected E, got G`` (:data:`MISMATCH`), with ``index``
    the position of the first difference (integers; empty for a scalar result), ``case``
    the visible case's label (None: not named) and the two values as :func:`fmt_pair`
    shows them. The caller appends its hint after ". "."""
    where = name + (f"[{', '.join(str(int(i)) for i in index)}]" if len(index) else "")
    label = f" ({case})" if case else ""
    return f"{where} is wrong{label}: {fmt_pair(expected, got)}"


def first_mismatch(name: str, expected, got, close=None, case: str | None = None) -> str:
    """:func:`mismatch` at the first index (in C order) where ``close`` (a boolean array
    of the shape of ``expected``; default: ``np.isclose`` with NaN never close) is False.
    ``expected`` and ``got`` are arrays of one shape (tensors are read as arrays)."""
    expected, got = _numbers(expected), _numbers(got)
    if close is None:
        close = np.isclose(got, expected)
    close = _numbers(close).astype(bool)
    wrong = np.argwhere(~close)
    index = tuple(int(i) for i in wrong[0]) if len(wrong) else (0,) * expected.ndim
    return mismatch(name, index, expected[index], got[index], case)


def with_hint(message: str, hint: str) -> str:
    """``message`` (a :func:`mismatch`) followed by ``hint`` as its own sentence, after ". ",
    its first letter capitalized."""
    return f"{message}. {hint[:1].upper()}{hint[1:]}"


def _numbers(value) -> np.ndarray:
    detach = getattr(value, "detach", None)
    if callable(detach):
        value = detach().cpu().numpy()
    return np.asarray(value)


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
    except StudentError as error:
        raise HiddenCaseError(
            f"the visible check passes, but on a hidden case ({label}) your code raised "
            f"{error.type_name}. Does it depend on something the visible inputs fix, "
            "such as a size or a dtype?") from None
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
                             f"{display_type(got)}")
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
    return display_type(x)


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


def snapshot(*values):
    """Deep copies of the inputs a check hands to the student (tensors, arrays, modules),
    to compare with :func:`assert_unchanged` afterwards."""
    return [copy.deepcopy(_detach(v)) for v in values]


def _detach(value):
    torch = sys.modules.get("torch")  # no tensor exists unless PyTorch was imported
    if torch is not None and isinstance(value, torch.Tensor):
        return value.detach().clone()
    if torch is not None and isinstance(value, torch.nn.Module):
        return module_state(value)
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
