"""The process that runs one submission's task (or the reference run), in the sandbox.

    python -m course_utils.grading.worker --memory BYTES --file-size BYTES
        --commands-fd N --results-fd M [--data DIR]

It is a plain Python process, not a Jupyter kernel: no input history, no IPython hooks,
nothing of the grader's in the student's namespace. It sets its limits, reads one job
from the grader (the reference cells before the task as compiled code, without their
source; the student's cell as text), and talks to the grader in frames
(:func:`course_utils.checks.observations.pack`):

1. the reference cells run in a fresh ``__main__`` namespace (``progress`` after each);
2. the package names that the task declares as its reference are withheld: every
   reference to them, in the package's modules and in the namespace, is replaced by a
   stand-in that raises, so that no path to them, however it is spelled, gives the answer;
3. the student's task cell runs (``cell``: what it raised, and the threads it left);
4. for each ``probe`` command the check's probe (:mod:`course_utils.checks`) runs on the
   cases the grader sends, the visible ones first and the hidden ones only after the
   grader has judged those, and its observations go back as data (``observations``);
5. ``done``, and the process ends.

Nothing it sends is a verdict: the grader judges the observations in its own process.
"""

from __future__ import annotations

import _thread
import argparse
import builtins
import gc
import importlib
import linecache
import marshal
import os
import resource
import shutil
import sys
import threading
import types
from pathlib import Path

from ..checks.observations import Failure, encode, pack, unpack

_write, _read, _exit = os.write, os.read, os._exit
_enumerate, _frames = threading.enumerate, sys._current_frames
_start_new_thread = _thread.start_new_thread
_raw_threads: set[int] = set()  # threads started with _thread directly, still running
_raw_lock = _thread.allocate_lock()


def _tracked_start_new_thread(function, args, kwargs=None):
    """``_thread.start_new_thread`` that keeps count of the threads it starts (a thread
    without a Python frame is invisible to ``sys._current_frames``)."""
    def run(*inner):
        ident = _thread.get_ident()
        with _raw_lock:
            _raw_threads.add(ident)
        try:
            return function(*inner, **(kwargs or {}))
        finally:
            with _raw_lock:
                _raw_threads.discard(ident)

    return _start_new_thread(run, tuple(args))


def track_threads(on: bool = True) -> None:
    """Count the threads started with ``_thread`` from now on (the worker does this
    before any notebook code runs); ``on=False`` undoes it."""
    function = _tracked_start_new_thread if on else _start_new_thread
    _thread.start_new_thread = function
    threading._start_new_thread = function


class _Channel:
    def __init__(self, commands: int, results: int):
        self.commands, self.results = commands, results
        # Keep the pipes out of the way of the student's code: high descriptors that no
        # child process inherits.
        for name in ("commands", "results"):
            fd = getattr(self, name)
            high = os.dup2(fd, 900 + fd) if fd < 900 else fd
            if high != fd:
                os.close(fd)
            os.set_inheritable(high, False)
            setattr(self, name, high)

    def send(self, message: dict, blobs=()) -> None:
        data = memoryview(pack(message, list(blobs)))
        while data:
            written = _write(self.results, data)
            data = data[written:]

    def read(self, n: int) -> bytes:
        parts, left = [], n
        while left:
            chunk = _read(self.commands, min(left, 1 << 20))
            if not chunk:
                break
            parts.append(chunk)
            left -= len(chunk)
        return b"".join(parts)

    def receive(self) -> tuple[dict, list[bytes]]:
        return unpack(self.read, max_bytes=1 << 30)


def _threads(baseline: set[int]) -> list[str]:
    """The Python threads started since ``baseline`` that are still alive: those of the
    threading module and those started with ``_thread`` directly."""
    names = []
    known = set()
    for thread in _enumerate():
        known.add(thread.ident)
        if thread.ident in baseline or not thread.is_alive():
            continue
        names.append(str(thread.name)[:60])
    with _raw_lock:
        raw = set(_raw_threads)
    for ident in raw | set(_frames()):
        if ident not in baseline and ident not in known:
            names.append("a thread started with _thread")
    return names


class _WithheldType(type):
    def __getattr__(cls, name):
        if name.startswith("__"):
            raise AttributeError(name)
        raise RuntimeError(cls.message)


class _Withheld(metaclass=_WithheldType):
    """What stands in for a task's reference class while the task is graded: using it,
    its attributes or a class built on it raises."""

    message = ""

    def __init_subclass__(cls, stand_in: bool = False, **kwargs):
        if not stand_in:  # a class of the student's built on the stand-in
            raise RuntimeError(cls.message)

    def __new__(cls, *args, **kwargs):
        raise RuntimeError(cls.message)


def _message(name: str) -> str:
    return (f"{name} is the course's reference for this task: it is withheld while the task "
            "is graded. Write the computation yourself")


def _stand_in(name: str, original):
    """A stand-in for ``original`` (a function, a class, a method, a property) that
    raises when used."""
    message = _message(name)
    if isinstance(original, type):
        return types.new_class(original.__name__, (_Withheld,), {"stand_in": True},
                               lambda body: body.update(message=message,
                                                        __module__="withheld"))

    def withheld(*args, **kwargs):
        raise RuntimeError(message)

    withheld.__name__ = withheld.__qualname__ = getattr(original, "__name__", "withheld")
    if isinstance(original, property):
        return property(withheld)
    if isinstance(original, staticmethod):
        return staticmethod(withheld)
    if isinstance(original, classmethod):
        return classmethod(withheld)
    return withheld


def _resolve(name: str):
    """(owner, attribute) of a qualified package name: a module and its function or
    class, or a class and its method."""
    parts = name.split(".")
    for k in range(len(parts) - 1, 0, -1):
        try:
            owner = importlib.import_module(".".join(parts[:k]))
        except ImportError:
            continue
        for attr in parts[k:-1]:
            owner = getattr(owner, attr)
        getattr(owner, parts[-1])  # it exists
        return owner, parts[-1]
    raise ImportError(name)


class _Undo(list):
    def set(self, holder, key, value) -> None:
        if isinstance(holder, type):
            self.append((holder, key, vars(holder)[key]))
            setattr(holder, key, value)
        elif isinstance(holder, types.CellType):
            self.append((holder, None, holder.cell_contents))
            holder.cell_contents = value
        else:
            self.append((holder, key, holder[key]))
            holder[key] = value


def _owner_class(holder: dict):
    """The class whose ``__dict__`` ``holder`` is, or None (a class's dict is changed
    through ``setattr``, so that Python's attribute cache notices)."""
    for referrer in gc.get_referrers(holder):
        if isinstance(referrer, type) and vars(referrer).keys() == holder.keys():
            return referrer
    return None


def _replace_everywhere(target, stand_in, undo: _Undo) -> None:
    """Replace every reference to ``target`` in a dict (a module's, a class's, a
    registry's), a list or a closure cell by ``stand_in``."""
    for holder in gc.get_referrers(target):
        if isinstance(holder, dict):
            owner = _owner_class(holder)
            for key, value in list(holder.items()):
                if value is target:
                    undo.set(owner if owner is not None else holder, key, stand_in)
        elif isinstance(holder, list):
            for k, value in enumerate(holder):
                if value is target:
                    undo.set(holder, k, stand_in)
        elif isinstance(holder, types.CellType):
            undo.set(holder, None, stand_in)


def withhold(names, namespace: dict) -> list:
    """Replace every reference to the package objects ``names`` (qualified) by a stand-in
    that raises: in the modules and classes that hold them, in any dict, list or closure
    cell that refers to them (found by ``gc.get_referrers``), and in ``namespace``; a
    class's own methods and properties are replaced too (for the instances that exist).
    Returns what to put back (:func:`restore`)."""
    undo = _Undo()
    for name in names:
        try:
            owner, attr = _resolve(name)
        except (ImportError, AttributeError):
            continue
        raw = vars(owner).get(attr) if isinstance(owner, type) else getattr(owner, attr)
        if raw is None or (isinstance(raw, type) and issubclass(raw, _Withheld)):
            continue
        if isinstance(raw, type):
            for key, value in list(vars(raw).items()):
                if not key.startswith("__") and isinstance(
                        value, (types.FunctionType, property, staticmethod, classmethod)):
                    undo.set(raw, key, _stand_in(f"{name}.{key}", value))
        _replace_everywhere(raw, _stand_in(name, raw), undo)
        function = getattr(raw, "__func__", getattr(raw, "fget", None))
        if function is not None:  # the function inside a static/class method or property
            _replace_everywhere(function, _stand_in(name, function), undo)
        for key, value in list(namespace.items()):
            if value is raw:
                undo.set(namespace, key, _stand_in(name, raw))
    return undo


def restore(undo: list) -> None:
    """Put back what :func:`withhold` replaced."""
    for holder, key, value in reversed(undo):
        if isinstance(holder, type):
            setattr(holder, key, value)
        elif isinstance(holder, types.CellType):
            holder.cell_contents = value
        else:
            holder[key] = value


def _namespace() -> dict:
    """A fresh ``__main__`` for the notebook's code."""
    module = types.ModuleType("__main__")
    module.__dict__["__builtins__"] = builtins
    module.__dict__["display"] = _display
    sys.modules["__main__"] = module
    return module.__dict__


def _display(*objects, **_):
    """IPython's ``display``, as far as a task needs it: print the objects."""
    for obj in objects:
        print(repr(obj))


def _copy_data(source: Path) -> None:
    for path in source.iterdir():
        if path.is_file() and not path.is_symlink():
            shutil.copy2(path, Path.cwd() / path.name)


def _run_task(step: dict, blobs: list[bytes], namespace: dict, channel: _Channel,
              checks: dict) -> None:
    undo = withhold(step.get("references", ()), namespace)
    baseline = {t.ident for t in _enumerate()} | set(_frames())
    with _raw_lock:
        baseline |= _raw_threads
    raised = None
    try:
        if "source" in step:
            source = step["source"]
            linecache.cache["<task cell>"] = (len(source), None, source.splitlines(True),
                                              "<task cell>")
            code = compile(source, "<task cell>", "exec")
        else:
            code = marshal.loads(blobs[step["code"]])
        exec(code, namespace)
    except BaseException as error:  # noqa: BLE001 - the student's cell raised
        raised = Failure(error)
    tree, data = encode(raised)
    channel.send({"kind": "cell", "task": step["task"], "raised": tree,
                  "threads": _threads(baseline)}, data)
    objects: dict[str, object] = {}
    while True:
        command, _ = channel.receive()
        if command.get("kind") != "probe":
            break
        name = command["check"]
        if name not in objects:
            try:
                objects[name] = eval(marshal.loads(blobs[step["args"][name]]), namespace)
            except BaseException as error:  # noqa: BLE001 - a name the cell did not define
                objects[name] = Failure(error)
        from ..checks.framework import Case, observe

        check = checks[name]
        found = []
        for raw in command["cases"]:
            case = Case(raw["label"], raw["params"], raw["hidden"])
            target = objects[name]
            found.append(target if isinstance(target, Failure)
                         else observe(check, case, tuple(target)))
        tree, data = encode(found)
        channel.send({"kind": "observations", "check": name, "value": tree,
                      "threads": _threads(baseline)}, data)
    restore(undo)  # the reference run goes on with the next cells


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m course_utils.grading.worker")
    parser.add_argument("--memory", type=int, required=True, help="address space, bytes")
    parser.add_argument("--file-size", type=int, required=True, help="largest file, bytes")
    parser.add_argument("--commands-fd", type=int, required=True)
    parser.add_argument("--results-fd", type=int, required=True)
    parser.add_argument("--data", default=None, help="folder of the reference's data files")
    args = parser.parse_args(argv)
    for limit, value in ((resource.RLIMIT_AS, args.memory),
                         (resource.RLIMIT_FSIZE, args.file_size),
                         (resource.RLIMIT_CORE, 0)):
        resource.setrlimit(limit, (value, value))
    track_threads()
    channel = _Channel(args.commands_fd, args.results_fd)
    job, blobs = channel.receive()
    if args.data and Path(args.data).is_dir():
        _copy_data(Path(args.data))
    from ..checks import check_specs

    checks = check_specs(job["chapter"])
    try:  # tqdm's monitor thread would outlive a task cell that shows a progress bar
        import tqdm

        tqdm.tqdm.monitor_interval = 0
    except ImportError:  # pragma: no cover - tqdm is a dependency
        pass
    namespace = _namespace()
    channel.send({"kind": "started"})
    for number, step in enumerate(job["steps"]):
        if "run" in step:
            try:
                exec(marshal.loads(blobs[step["run"]]), namespace)
            except BaseException as error:  # noqa: BLE001 - reported to the grader
                tree, data_ = encode(Failure(error))
                channel.send({"kind": "error", "step": number, "raised": tree}, data_)
                _exit(3)
            channel.send({"kind": "progress", "step": number})
        else:
            _run_task(step, blobs, namespace, channel, checks)
    channel.send({"kind": "done", "threads": []})
    sys.stdout.flush()
    sys.stderr.flush()
    _exit(0)


if __name__ == "__main__":
    main()
