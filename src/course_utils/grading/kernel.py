"""The grader's side inside a grading kernel: bind the checks before any student code runs,
watch for tampering, and run the checks on the student's definitions.

A grading notebook (:mod:`course_utils.grading.runner`) calls, in this order:

1. :func:`prepare` ``(chapter)``, the first cell: imports the chapter's checks and keeps
   the function objects, so that a student who redefines ``check_x`` in the notebook, or
   replaces ``course_utils.checks.check_x``, changes nothing the grader calls;
2. the reference cells before the task, then :func:`before_student`, which records the
   attributes of ``course_utils``, NumPy, PyTorch, TensorFlow, Keras and ``builtins``, and
   the running threads;
3. the student's task cell;
4. :func:`run` ``(nonce, "check_x", *args)`` for each check of the task, then
   :func:`passed` ``(nonce)``. Both first compare the recorded attributes: a task cell
   that replaced one of them (monkeypatching a check, ``torch.allclose``, ``print``...)
   or left a thread of its own running is reported as tampering and scores nothing.

This stops the tampering that ordinary Python code can do. It is no sandbox against an
attack on the interpreter itself (ctypes, or digging this module's state out with ``gc``);
the operating system's protection (:mod:`course_utils.grading.sandbox`) is what keeps
files and other submissions safe.
"""

from __future__ import annotations

import sys
import threading
import types

__all__ = ["TamperingError", "prepare", "before_student", "run", "passed"]

# Modules whose attributes a task cell must leave alone (with every course_utils module).
_WATCHED = ("builtins", "math", "cmath", "copy", "numpy", "numpy.linalg", "numpy.random",
            "torch", "torch.linalg", "torch.autograd", "torch.autograd.functional",
            "torch.nn", "torch.nn.functional", "torch.func", "tensorflow", "keras")
# Classes whose methods a check relies on.
_WATCHED_CLASSES = (("torch", "Tensor"), ("torch.nn", "Module"))
# Attributes that change on their own: IPython's output history, and the input() that
# ipykernel installs for each request.
_VOLATILE = {"_", "__", "___", "input", "raw_input", "__warningregistry__"}

_state: dict = {}
# The tools the guard itself uses, bound now, before any student code can replace them.
_id, _vars, _isinstance, _getattr, _type = id, vars, isinstance, getattr, type
_modules, _enumerate_threads, _print = sys.modules, threading.enumerate, print


class TamperingError(AssertionError):
    """The task cell changed what the grader relies on; it scores no points."""


def prepare(chapter: str) -> None:
    """Bind the chapter's check functions (call before any student code runs)."""
    from course_utils.checks import checks_of

    _state["checks"] = dict(checks_of(chapter))
    _state["chapter"] = chapter


def _fingerprint() -> dict[str, int]:
    """Ids of every watched attribute (and of the code and defaults of course_utils's
    functions and of the methods of watched classes)."""
    seen: dict[str, int] = {}
    names = [n for n in list(_modules) if n == "course_utils" or n.startswith("course_utils.")]
    for name in [*names, *_WATCHED]:
        module = _modules.get(name)
        if module is None:
            continue
        for attr, value in list(_vars(module).items()):
            if attr in _VOLATILE:
                continue
            seen[f"{name}.{attr}"] = _id(value)
            if name.startswith("course_utils") and _isinstance(value, types.FunctionType):
                for part in ("__code__", "__defaults__", "__kwdefaults__"):
                    seen[f"{name}.{attr}.{part}"] = _id(_getattr(value, part))
            if (name.startswith("course_utils") and _isinstance(value, type)
                    and value.__module__ == name):
                for key, member in list(_vars(value).items()):
                    seen[f"{name}.{attr}.{key}"] = _id(member)
    for module_name, class_name in _WATCHED_CLASSES:
        cls = _getattr(_modules.get(module_name), class_name, None)
        if cls is not None:
            for key, member in list(_vars(cls).items()):
                seen[f"{module_name}.{class_name}.{key}"] = _id(member)
    for name, check in _state.get("checks", {}).items():
        seen[f"checks.{name}"] = _id(check)
    seen["sys.modules"] = _id(sys.modules)
    for hook in ("gettrace", "getprofile"):
        seen[f"sys.{hook}()"] = _id(_getattr(sys, hook)())
    return seen


def _student_threads() -> list[str]:
    before = _state.get("threads", set())
    names = []
    for thread in _enumerate_threads():
        if thread.ident in before or not thread.is_alive():
            continue
        target = _getattr(thread, "_target", None)
        origin = _getattr(target, "__module__", None) or _type(thread).__module__
        if origin == "__main__":
            names.append(thread.name)
    return names


def before_student() -> None:
    """Record the watched attributes and the running threads (call right before the
    student's cell)."""
    _state["fingerprint"] = _fingerprint()
    _state["threads"] = {t.ident for t in _enumerate_threads()}


def _verify() -> None:
    old = _state.get("fingerprint")
    if old is None:
        raise TamperingError("the grader's record of the modules is gone: the task cell "
                             "tampered with the grader")
    new = _fingerprint()
    changed = []
    for key, value in old.items():
        if new.get(key, value) == value:
            continue
        current = _getattr(_modules.get(key.rsplit(".", 1)[0]), key.rsplit(".", 1)[1], None)
        if _isinstance(current, types.ModuleType):
            continue  # a lazily imported submodule taking its place
        changed.append(key)
    missing = [k for k in old if k not in new and not k.startswith("sys.")]
    if changed or missing:
        shown = ", ".join((changed + missing)[:3])
        raise TamperingError(f"the task cell replaced or removed {shown}: checks are the "
                             "grader's, and changing what they rely on scores no points")
    threads = _student_threads()
    if threads:
        raise TamperingError(f"the task cell left a thread running ({threads[0]}): stop "
                             "every thread you start before the cell ends")


def run(nonce: str, name: str, *args, **kwargs) -> None:
    """Run the bound check ``name`` with hidden cases on ``args`` (the student's
    definitions), after verifying that nothing was tampered with."""
    if _state.get("checks") is None:
        raise TamperingError("the grader's checks are gone: the task cell tampered with "
                             "the grader")
    _verify()
    try:
        check = _state["checks"][name]
    except KeyError:
        raise RuntimeError(f"chapter {_state.get('chapter')} has no check {name}") from None
    check(*args, hidden=True, **kwargs)
    _state.setdefault("done", set()).add((nonce, name))


def passed(nonce: str, names: list[str]) -> None:
    """Verify once more and print the pass line the grader looks for."""
    _verify()
    missing = [n for n in names if (nonce, n) not in _state.get("done", set())]
    if missing:
        raise TamperingError(f"the check {missing[0]} did not run")
    _print(f"{nonce} passed", flush=True)
