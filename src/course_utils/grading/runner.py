"""Grade one task of one submission: the reference notebook with only that task's cell
replaced by the student's, run in a fresh sandboxed kernel, up to the task's check.

The grading notebook (:func:`build_notebook`) is

1. ``prepare(chapter)``: the checks are bound before any student code runs;
2. the reference's code cells before the task (earlier tasks with the reference
   solution, so a student's earlier mistakes cost nothing here; the checks of earlier
   tasks are left out);
3. ``before_student()``: the tampering guard's record;
4. the student's code for the task, without any ``check_*`` call of theirs;
5. the verdict: the bound checks with ``hidden=True`` on the student's definitions, and a
   pass line with a fresh random nonce that the student's code cannot know.

:func:`run_task` executes it with ``nbclient`` in a fresh kernel
(:class:`~course_utils.grading.sandbox.SandboxedKernelManager`), under a time limit per
cell, and classifies the outcome as a :class:`TaskResult`.
"""

from __future__ import annotations

import ast
import os
import re
import secrets
import shutil
import signal
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from ..notebooks import METADATA_KEY, Task
from .sandbox import SandboxedKernelManager, kernel_environment
from .submissions import Reference, check_calls, copy_tree_files, strip_check_calls

__all__ = ["Settings", "TaskResult", "build_notebook", "run_task", "run_reference",
           "STATUSES"]

#: Every status a task can end with; all but "passed" score 0 points.
STATUSES = ("passed", "failed", "not attempted", "task cell not found", "timed out",
            "memory limit", "kernel died", "output limit", "tampered", "grader error")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_ROLE = "grading_role"


@dataclass
class Settings:
    """How each task is run."""

    timeout: float = 60.0  # seconds for the student's cell and for the check
    reference_timeout: float = 600.0  # seconds for each reference cell
    memory: int = 4 << 30  # bytes of address space for the kernel
    file_size: int = 256 << 20  # bytes: the largest file the kernel may write
    max_output: int = 1 << 20  # bytes of output kept per cell
    kill_output: int = 32 << 20  # bytes of output after which the kernel is stopped
    sandbox: str = "none"  # "bwrap" or "none" (see sandbox.resolve_sandbox)
    hide: tuple = ()  # paths the sandboxed kernel must not see (solutions, submissions)


@dataclass
class TaskResult:
    """The outcome of one task of one submission."""

    task: str
    title: str
    points: float
    max_points: float
    status: str
    message: str = ""
    found: str = ""  # how the task's code was found
    seconds: float = 0.0


def _verdict_source(check_cell: str, nonce: str) -> tuple[str, list[str]]:
    """The grader's verdict cell for a reference check cell: each top-level
    ``check_x(args)`` becomes ``run(nonce, "check_x", args)``."""
    calls, names = [], []
    for call in check_calls(ast.parse(check_cell)):
        name = call.func.id
        args = [ast.unparse(a) for a in call.args] + [
            f"{k.arg}={ast.unparse(k.value)}" if k.arg else f"**{ast.unparse(k.value)}"
            for k in call.keywords]
        calls.append(f"_grading_kernel.run({nonce!r}, {name!r}, {', '.join(args)})")
        names.append(name)
    lines = ["import course_utils.grading.kernel as _grading_kernel", *calls,
             f"_grading_kernel.passed({nonce!r}, {names!r})"]
    return "\n".join(lines), names


def build_notebook(reference: Reference, task: Task, student_code: str | None, nonce: str,
                   *, verify_earlier: bool = False):
    """The grading notebook for ``task`` (see the module's docstring). ``student_code``
    None runs the reference's own task cell. With ``verify_earlier`` every earlier task is
    verified too (the reference run), each with the nonce ``f"{nonce}:{task id}"``."""
    import nbformat

    v4 = nbformat.v4

    def cell(source, role, task_id=None):
        made = v4.new_code_cell(source)
        made.metadata[_ROLE] = role
        if task_id:
            made.metadata[METADATA_KEY] = {"task": task_id}
        return made

    cells = [cell(f"import course_utils.grading.kernel as _grading_kernel\n"
                  f"_grading_kernel.prepare({reference.chapter!r})", "setup")]
    checks = {t.check_cell: t for t in reference.tasks}
    tasks = {t.code_cell: t for t in reference.tasks}
    for index, source in enumerate(reference.code_cells[:task.code_cell]):
        if index in checks and verify_earlier:
            earlier = checks[index]
            cells.append(cell(_verdict_source(source, f"{nonce}:{earlier.id}")[0], "verdict",
                              earlier.id))
            cells.append(cell(strip_check_calls(source), "reference"))  # the cell's other code
        elif index in checks:
            cells.append(cell(strip_check_calls(source), "reference"))
        elif index in tasks and verify_earlier:
            cells.append(cell("_grading_kernel.before_student()", "guard"))
            cells.append(cell(source, "student", tasks[index].id))
        else:
            cells.append(cell(source, "reference"))
    cells.append(cell("import course_utils.grading.kernel as _grading_kernel\n"
                      "_grading_kernel.before_student()", "guard"))
    code = reference.code_cells[task.code_cell] if student_code is None else student_code
    cells.append(cell(strip_check_calls(code), "student", task.id))
    verdict, _ = _verdict_source(reference.code_cells[task.check_cell],
                                 f"{nonce}:{task.id}" if verify_earlier else nonce)
    cells.append(cell(verdict, "verdict", task.id))
    notebook = v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    return notebook


def _client_class():
    from nbclient import NotebookClient

    class LimitedClient(NotebookClient):
        """Keeps at most ``max_output`` bytes of each cell's output, and stops the kernel
        once a cell has printed ``kill_output`` bytes."""

        def __init__(self, *args, max_output, kill_output, **kwargs):
            super().__init__(*args, **kwargs)
            self.max_output, self.kill_output = max_output, kill_output
            self.sizes = defaultdict(int)
            self.output_exceeded = False

        def output(self, outs, msg, display_id, cell_index):
            content = msg.get("content", {})
            self.sizes[cell_index] += len(str(content.get("text", ""))) + len(
                str(content.get("data", ""))) + len(str(content.get("traceback", "")))
            if self.sizes[cell_index] > self.kill_output and not self.output_exceeded:
                self.output_exceeded = True
                _kill(self.km)
            if self.sizes[cell_index] > self.max_output:
                return None
            return super().output(outs, msg, display_id, cell_index)

    return LimitedClient


def _kill(km) -> None:
    process = getattr(getattr(km, "provisioner", None), "process", None)
    if process is not None and process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except OSError:
            process.kill()


def _timeout_for(settings: Settings):
    def timeout(cell):
        return (settings.timeout if cell.metadata.get(_ROLE) in ("student", "verdict")
                else settings.reference_timeout)
    return timeout


def _execute(notebook, workdir: Path, settings: Settings):
    """Run ``notebook`` in a fresh kernel in ``workdir``; returns (exception or None,
    client). The kernel is always shut down."""
    from jupyter_core.utils import run_sync

    client_class = _client_class()
    km = SandboxedKernelManager(workdir, sandbox=settings.sandbox, memory=settings.memory,
                                file_size=settings.file_size, hide=settings.hide)
    client = client_class(notebook, km=km, timeout_func=_timeout_for(settings),
                          kernel_name="python3", allow_errors=False, record_timing=False,
                          max_output=settings.max_output, kill_output=settings.kill_output,
                          startup_timeout=120, shutdown_kernel="immediate")
    error = None
    with open(workdir / ".kernel.log", "wb") as log:
        try:
            client.execute(env=kernel_environment(workdir), cwd=str(workdir),
                           stdout=log, stderr=log)
        except BaseException as caught:  # noqa: BLE001 - every failure is a result
            if isinstance(caught, (KeyboardInterrupt, SystemExit)):
                raise  # the grader's own interrupt: the kernel is killed below
            error = caught
        finally:
            _kill(km)  # the kernel, and with the sandbox everything it started
            try:
                if km.has_kernel:
                    run_sync(km.shutdown_kernel)(now=True)
            except Exception:  # noqa: BLE001 - the kernel is gone already
                pass
    return error, client


def _failing_cell(notebook):
    """The role of the cell that raised and its error output, or (None, None)."""
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return cell.metadata.get(_ROLE), output
    return None, None


def _printed(cells) -> str:
    """What ``cells`` printed to their streams."""
    return "".join(o.get("text", "") for c in cells for o in c.get("outputs", [])
                   if o.get("output_type") == "stream")


def _clean(text: str, limit: int = 400) -> str:
    text = _ANSI.sub("", str(text)).strip()
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _classify(error, client, notebook, nonce: str, settings: Settings) -> tuple[str, str]:
    """(status, message) of a finished run."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    role, output = _failing_cell(notebook)
    if client.output_exceeded:
        return "output limit", (f"the cell printed more than {settings.kill_output >> 20} MB; "
                                "the kernel was stopped")
    if isinstance(error, CellTimeoutError) or (error is not None and "Timeout" in
                                                type(error).__name__):
        return "timed out", (f"the task did not finish within {settings.timeout:g} s "
                             "(an endless loop, or far too slow)")
    if isinstance(error, DeadKernelError) or (error is not None and "died" in str(error)):
        return "kernel died", ("the kernel died while running the task: os._exit, a crash, "
                               "or more memory than the limit allows")
    if output is not None:
        ename, evalue = output.get("ename", ""), _clean(output.get("evalue", ""))
        if role == "student" or (role == "verdict" and ename not in (
                "AssertionError", "HiddenCaseError", "TamperingError")):
            if ename == "MemoryError":
                return "memory limit", (f"MemoryError: the task used more than "
                                        f"{settings.memory / 2**30:g} GB")
            if ename == "NotImplementedError" and "your code here" in evalue:
                return "not attempted", "the template's NotImplementedError is still there"
            if ename == "NameError" and role == "verdict":
                return "failed", f"{evalue}: the task cell must define it"
            where = "your task cell" if role == "student" else "your code, called by the check,"
            return "failed", f"{where} raised {ename}: {evalue}"
        if role == "verdict" and ename == "TamperingError":
            return "tampered", evalue
        if role == "verdict":
            return "failed", evalue
        return "grader error", f"a reference cell failed ({ename}: {evalue})"
    if error is not None:
        return "grader error", _clean(f"{type(error).__name__}: {error}")
    if f"{nonce} passed" in _printed(notebook.cells[-1:]):
        return "passed", ""
    return "tampered", "the check's pass line is missing: the task cell interfered with it"


def run_task(reference: Reference, task: Task, student_code: str | None, found: str,
             settings: Settings, scratch: Path, data: Path | None = None) -> TaskResult:
    """Grade ``task`` with ``student_code`` in a fresh kernel in a new folder under
    ``scratch`` (with the files of ``data``, the reference run's caches, copied in)."""
    start = time.perf_counter()
    if student_code is None:
        return TaskResult(task.id, task.title, 0, task.points, "task cell not found",
                          "task cell not found", found)
    workdir = Path(tempfile.mkdtemp(prefix=f"{task.id}-", dir=scratch))
    try:
        if data is not None:
            copy_tree_files(data, workdir)
        nonce = secrets.token_hex(16)
        notebook = build_notebook(reference, task, student_code, nonce)
        error, client = _execute(notebook, workdir, settings)
        status, message = _classify(error, client, notebook, nonce, settings)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return TaskResult(task.id, task.title, task.points if status == "passed" else 0,
                      task.points, status, message, found, time.perf_counter() - start)


def run_reference(reference: Reference, settings: Settings, workdir: Path) -> list[TaskResult]:
    """Run the reference solution through the grader's own path, every task verified
    with hidden cases, in ``workdir`` (which keeps the data files it makes, for the
    students' runs). Returns one result per task; all must pass."""
    nonce = secrets.token_hex(16)
    last = reference.tasks[-1]
    notebook = build_notebook(reference, last, None, nonce, verify_earlier=True)
    start = time.perf_counter()
    error, client = _execute(notebook, workdir, settings)
    _, output = _failing_cell(notebook)
    results = []
    for task in reference.tasks:
        cells = [c for c in notebook.cells if c.metadata.get(_ROLE) == "verdict"
                 and c.metadata.get(METADATA_KEY, {}).get("task") == task.id]
        ok = f"{nonce}:{task.id} passed" in _printed(cells)
        message = "" if ok else (_clean(f"{output.get('ename')}: {output.get('evalue')}")
                                 if output else _clean(repr(error)))
        results.append(TaskResult(task.id, task.title, task.points if ok else 0, task.points,
                                  "passed" if ok else "grader error", message, "reference",
                                  time.perf_counter() - start))
    return results
