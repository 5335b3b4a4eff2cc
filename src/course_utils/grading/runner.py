"""Grade one task of one submission: the reference cells before the task, then the
student's task cell, in a fresh sandboxed process (:mod:`course_utils.grading.worker`);
the check's probe runs there, and its judge in a judge process of the grader's
(:mod:`course_utils.grading.judge`), which never runs student code.

:func:`run_task`

1. reviews the task cell (:func:`course_utils.checks.review.review`, in this process,
   nothing run): a cell that uses the task's own reference from the package,
   introspection or dynamic code is not scored (status ``review: ...``);
2. starts the worker with the job: the reference's code cells before the task, compiled
   here and sent without their source (earlier tasks with the reference solution, so a
   student's earlier mistakes cost nothing here; the checks of earlier tasks left out),
   then the student's cell without any ``check_*`` call of theirs;
3. for each check of the task sends the visible cases, has them judged, and only then
   sends the hidden ones, their seeds mixed with this grading's salt
   (:func:`course_utils.checks.framework.salted`), and has those judged;
4. lists the threads and processes the task left running, and classifies the outcome as
   a :class:`TaskResult`.

The worker's frames are data (:mod:`course_utils.checks.observations`), read in bounded
chunks and passed on to the judge without being decoded here; a message of the
student's is cut and stripped of markup before it is kept, and none is quoted once the
hidden cases are in the student's process.
"""

from __future__ import annotations

import ast
import marshal
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..checks.observations import (MalformedObservation, Raised, TooLarge, decode, pack,
                                   unpack)
from ..checks.review import Declaration, namespace_of_source, review
from ..notebook_format import Task, find_check_calls, strip_check_calls
from .judge import JudgeProcess, clean_message, raised_outcome
from .sandbox import HOME, ResourceMonitor, TaskProcess, kernel_environment
from .status import Status, review_status
from .submissions import Reference

__all__ = ["Settings", "TaskResult", "run_task", "run_reference", "build_job",
           "clean_message", "review_task", "judge_process", "close_judges"]


@dataclass
class Settings:
    """How each task is run."""

    timeout: float = 60.0  # seconds for the student's cell, and for the check's probes
    reference_timeout: float = 600.0  # seconds for each reference cell
    memory: int = 4 << 30  # bytes: the task's processes and the files they write, together
    file_size: int = 256 << 20  # bytes: the largest file a task may write
    kill_output: int = 32 << 20  # bytes of printed output after which the task is stopped
    max_results: int = 32 << 20  # bytes of observations a task may send
    sandbox: str = "none"  # "bwrap" or "none" (see sandbox.resolve_sandbox)
    salt: int | None = None  # mixed into the hidden cases' seeds (None: as written)
    review: bool = True  # False runs even the cells the review flags (to test the sandbox)


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
    findings: list[str] = field(default_factory=list)  # what the review found


class _Stop(Exception):
    """The task ended early: ``status`` and ``message``."""

    def __init__(self, status: str, message: str):
        super().__init__(message)
        self.status, self.message = status, message


# ------------------------------------------------------------------------------ the job

def _code_blob(source: str, name: str) -> bytes:
    return marshal.dumps(compile(source, name, "exec", dont_inherit=True))


def _args_blob(call: ast.Call) -> bytes:
    """The positional arguments of a check call, as compiled code of a tuple."""
    source = "(" + "".join(f"{ast.unparse(a)}, " for a in call.args) + ")"
    return marshal.dumps(compile(source, "<check arguments>", "eval", dont_inherit=True))


def _check_args(source: str) -> dict[str, ast.Call]:
    """The check calls of a reference cell (:func:`find_check_calls`), parsed."""
    return {call.name: call.node for call in find_check_calls(source) if call.node is not None}


def build_job(reference: Reference, task: Task, student_code: str | None, *,
              verify: bool = False) -> tuple[dict, list[bytes]]:
    """The worker's job for ``task``: the reference's code cells before it, then the task
    cell (``student_code``, or the reference's own when None). With ``verify`` (the
    reference run) every task up to ``task`` is a task step, each followed by the cells
    up to the next task."""
    blobs: list[bytes] = []
    steps: list[dict] = []
    checks = {t.check_cell: t for t in reference.tasks}
    tasks = {t.code_cell: t for t in reference.tasks}

    def add(blob: bytes) -> int:
        blobs.append(blob)
        return len(blobs) - 1

    def task_step(t: Task, code: str | None) -> dict:
        calls = _check_args(reference.code_cells[t.check_cell])
        step = {"task": t.id, "args": {name: add(_args_blob(call))
                                       for name, call in calls.items()},
                "references": list(t.references)}
        if code is None:
            step["code"] = add(_code_blob(reference.code_cells[t.code_cell],
                                          f"<reference cell {t.code_cell}>"))
        else:
            step["source"] = strip_check_calls(code)
        return step

    for index, source in enumerate(reference.code_cells[:task.code_cell]):
        if index in tasks and verify:
            steps.append(task_step(tasks[index], None))
            continue
        if index in checks:
            source = strip_check_calls(source)  # the check cell's other code
        steps.append({"run": add(_code_blob(source, f"<reference cell {index}>")),
                      "cell": index})
    steps.append(task_step(task, None if verify else student_code or ""))
    return {"kind": "job", "chapter": reference.chapter, "steps": steps}, blobs


def declaration(task: Task) -> Declaration:
    return Declaration(task.title, tuple(task.references), tuple(task.allowed))


def review_task(reference: Reference, task: Task, code: str) -> list[str]:
    """What keeps ``code`` from being scored for ``task`` (see :mod:`.review`), given the
    names the reference cells before it import."""
    prefix = "\n".join(reference.code_cells[:task.code_cell])
    findings = review(code, declaration(task),
                      namespace=namespace_of_source(prefix))
    return [clean_message(f, 100) for f in findings[:10]]


# --------------------------------------------------------------------------- a session

class _Session:
    """The worker process of one task, its frames, its limits."""

    def __init__(self, settings: Settings, workdir: Path, *, data: Path | None = None,
                 home: Path | None = None):
        self.settings = settings
        env = kernel_environment(HOME if settings.sandbox == "bwrap" else workdir)
        # -P: the task's folder, where its cell may write files, is not on sys.path
        command = [sys.executable, "-P", "-m", "course_utils.grading.worker",
                   "--memory", str(settings.memory), "--file-size", str(settings.file_size)]
        self.task = TaskProcess(command, sandbox=settings.sandbox, workdir=workdir, env=env,
                                kill_output=settings.kill_output, data=data, home=home)
        self.monitor = ResourceMonitor(self.task, settings.memory)
        self.monitor.start()
        self.frames: queue.Queue = queue.Queue()
        self.received = 0
        self.results_exceeded = False
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read_exact(self, n: int) -> bytes:
        parts, left = [], n
        while left:
            chunk = os.read(self.task.results, min(left, 1 << 20))
            if not chunk:
                break
            parts.append(chunk)
            left -= len(chunk)
            self.received += len(chunk)
            if self.received > self.settings.max_results:
                self.results_exceeded = True
                self.task.kill()
                raise EOFError
        return b"".join(parts)

    def _read(self) -> None:
        while True:
            try:
                message, blobs = unpack(self._read_exact,
                                        max_bytes=self.settings.max_results)
            except EOFError:
                self.frames.put(("eof", None, None))
                return
            except TooLarge:
                self.results_exceeded = True
                self.task.kill()
                self.frames.put(("eof", None, None))
                return
            except MalformedObservation as error:
                self.frames.put(("malformed", str(error), None))
                self.task.kill()
                return
            except OSError:
                self.frames.put(("eof", None, None))
                return
            self.frames.put(("frame", message, blobs))

    def send(self, message: dict, blobs=()) -> None:
        data = memoryview(pack(message, list(blobs)))
        try:
            while data:
                data = data[os.write(self.task.commands, data):]
        except OSError:
            pass  # the process is gone: receive() says why

    def stopped(self, what: str, timeout: float | None) -> _Stop:
        """Why the task's process stopped answering."""
        if self.monitor.exceeded and self.monitor.reason != "memory":
            return _Stop(Status.MEMORY_LIMIT, f"the task started {self.monitor.reason}")
        if self.monitor.exceeded:
            return _Stop(Status.MEMORY_LIMIT, f"the task's processes and the files they wrote "
                         f"used more than {self.settings.memory / 2**30:g} GB together")
        if self.task.output_exceeded:
            return _Stop(Status.OUTPUT_LIMIT, f"the task printed more than "
                         f"{self.settings.kill_output >> 20} MB; it was stopped")
        if self.results_exceeded:
            return _Stop(Status.OUTPUT_LIMIT, f"the task sent more than "
                         f"{self.settings.max_results >> 20} MB of results; it was stopped")
        if what == "timeout":
            return _Stop(Status.TIMED_OUT, f"the task did not finish within {timeout:g} s (an "
                         "endless loop, or far too slow)")
        if what == "malformed":
            return _Stop(Status.TAMPERED, "the task's process sent malformed results (something "
                         "in the task cell wrote to the grader's channel)")
        return _Stop(Status.CRASHED, "the process running the task died (os._exit, a crash, a "
                     "signal, or more memory than the limit allows)")

    def receive(self, kind: str, timeout: float, *, limit: float | None = None
                ) -> tuple[dict, list[bytes]]:
        """The next frame, which must be of ``kind``, within ``timeout`` seconds (the
        messages name ``limit``, the phase's whole time, if given); raises
        :class:`_Stop`."""
        deadline = time.monotonic() + timeout
        limit = timeout if limit is None else limit
        while True:
            left = deadline - time.monotonic()
            try:
                what, message, blobs = self.frames.get(timeout=max(left, 0.0))
            except queue.Empty:
                self.task.kill()
                raise self.stopped("timeout", limit) from None
            if what != "frame":
                time.sleep(0.05)  # let the monitor and the output drain notice first
                raise self.stopped(what, limit)
            if message.get("kind") == kind:
                return message, blobs
            if message.get("kind") == "error" and kind in ("started", "progress"):
                # A reference cell failed (before any student code ran: trusted).
                raised = _raised(message.get("raised"))
                text = (f"{raised.type_name}: {raised.message}" if raised is not None
                        else "unknown error")
                raise _Stop(Status.GRADER_ERROR, f"a reference cell failed ({clean_message(text)})")
            raise _Stop(Status.TAMPERED, "the task's process sent a message out of turn (something "
                        "in the task cell wrote to the grader's channel)")

    def close(self) -> None:
        self.monitor.stop()
        self.task.close()
        self.reader.join(timeout=5)


def _raised(tree) -> Raised | None:
    """The exception a task cell raised, from its ``cell`` frame (nothing else is decoded
    here: the grader never builds what a student's process sends)."""
    if tree is None:
        return None
    if not isinstance(tree, dict) or tree.get("t") != "raised":
        raise _Stop(Status.TAMPERED, "the task's process sent malformed results")
    try:
        return decode(tree, [])
    except (MalformedObservation, RecursionError, ValueError, TypeError):
        raise _Stop(Status.TAMPERED, "the task's process sent malformed results") from None


def _cell_outcome(raised: Raised | None, settings: Settings) -> _Stop | None:
    """What the student's cell raised, as a result (None: it ran)."""
    if raised is None:
        return None
    return _Stop(*raised_outcome(raised, settings.memory, "your task cell"))


def _threads_stop(names, *, quote: bool) -> _Stop | None:
    """A thread left running; its name is quoted only before the hidden cases."""
    if not names:
        return None
    shown = (f" ({clean_message(names[0], 60)})"
             if quote and isinstance(names, list) and isinstance(names[0], str) else "")
    return _Stop(Status.LEFT_RUNNING, f"the task cell left a thread running{shown}: stop every "
                 "thread you start before the cell ends")


_JUDGES: list[JudgeProcess] = []
_LOCAL = threading.local()
_CASES: dict = {}
_CASES_LOCK = threading.Lock()


def judge_process(settings: Settings) -> JudgeProcess:
    """This thread's judge process (one per grading thread, started on first use)."""
    judge = getattr(_LOCAL, "judge", None)
    if judge is None or judge.memory != settings.memory:
        judge = _LOCAL.judge = JudgeProcess(settings.memory)
        _JUDGES.append(judge)
    return judge


def close_judges() -> None:
    """Stop every judge process (the end of a grading)."""
    while _JUDGES:
        _JUDGES.pop().close()
    _LOCAL.__dict__.clear()


def _cases(judge: JudgeProcess, chapter: str, check: str, salt) -> list[dict]:
    """The cases of ``check`` under ``salt``, listed once per grading by a judge process
    (making a hidden case may run the reference)."""
    key = (chapter, check, salt)
    with _CASES_LOCK:
        if key in _CASES:
            return _CASES[key]
    cases = judge.cases(chapter, check, salt)
    with _CASES_LOCK:
        if len(_CASES) > 256:
            _CASES.clear()
        _CASES[key] = cases
    return cases


def _verdict(session: _Session, reference: Reference, task: Task, cell: dict,
             blobs: list[bytes]) -> None:
    """Probe and judge every check of ``task``; raises :class:`_Stop` on anything but a
    pass."""
    settings = session.settings
    stop = _cell_outcome(_raised(cell.get("raised")), settings)
    if stop is None:
        stop = _threads_stop(cell.get("threads"), quote=True)
    if stop is not None:
        raise stop
    judge = judge_process(settings)
    deadline = time.monotonic() + settings.timeout
    for name in task.checks:
        cases = _cases(judge, reference.chapter, name, settings.salt)
        for batch in ([c for c in cases if not c["hidden"]], [c for c in cases if c["hidden"]]):
            if not batch:
                continue
            hidden = batch[0]["hidden"]
            session.send({"kind": "probe", "check": name, "cases": batch})
            message, blobs = session.receive("observations",
                                             max(deadline - time.monotonic(), 0.0),
                                             limit=settings.timeout)
            status, text = judge.judge(reference.chapter, name, batch, message.get("value"),
                                       blobs, timeout=settings.timeout)
            if status != Status.PASSED:
                raise _Stop(status, text)
            stop = _threads_stop(message.get("threads"), quote=not hidden)
            if stop is not None:
                raise stop


def run_task(reference: Reference, task: Task, student_code: str | None, found: str,
             settings: Settings, scratch: Path, data: Path | None = None) -> TaskResult:
    """Grade ``task`` with ``student_code`` in a fresh worker (with the files of ``data``,
    the reference run's data files)."""
    start = time.perf_counter()

    def result(status: str, message: str = "", findings=()) -> TaskResult:
        return TaskResult(task.id, task.title, task.points if status == Status.PASSED else 0,
                          task.points, status, message, found, time.perf_counter() - start,
                          list(findings))

    if student_code is None:
        return result(Status.NOT_FOUND, "task cell not found")
    findings = review_task(reference, task, student_code) if settings.review else []
    if findings:
        names = ", ".join(dict.fromkeys(f.split(" (")[0] for f in findings))
        return result(review_status(clean_message(names, 120)),
                      "not scored automatically: your task cell uses "
                      + "; ".join(findings) + ". Your tutor reviews it", findings)
    workdir = Path(tempfile.mkdtemp(prefix=f"{task.id}-", dir=scratch))
    session = None
    try:
        session = _Session(settings, workdir, data=data)
        job, blobs = build_job(reference, task, student_code)
        session.send(job, blobs)
        session.receive("started", settings.reference_timeout)
        for step in job["steps"][:-1]:
            session.receive("progress", settings.reference_timeout)
        cell, blobs = session.receive("cell", settings.timeout)
        _verdict(session, reference, task, cell, blobs)
        left = session.task.leftover()
        if left:
            raise _Stop(Status.LEFT_RUNNING, f"the task cell left {len(left)} process"
                        f"{'es' * (len(left) > 1)} running: end every process you start")
        session.send({"kind": "end"})
        session.receive("done", settings.timeout)
        return result(Status.PASSED)
    except _Stop as stop:
        return result(stop.status, stop.message)
    finally:
        if session is not None:
            session.close()
        shutil.rmtree(workdir, ignore_errors=True)


def run_reference(reference: Reference, settings: Settings, workdir: Path) -> list[TaskResult]:
    """Run the reference solution through the grader's own path, every task probed and
    judged with hidden cases, in ``workdir`` (which keeps the data files it makes, for the
    students' runs). Returns one result per task; all must pass."""
    start = time.perf_counter()
    last = reference.tasks[-1]
    job, blobs = build_job(reference, last, None, verify=True)
    results: list[TaskResult] = []
    session = _Session(settings, workdir, home=workdir if settings.sandbox == "bwrap" else None)
    try:
        session.send(job, blobs)
        session.receive("started", settings.reference_timeout)
        by_id = {t.id: t for t in reference.tasks}
        for step in job["steps"]:
            if "run" in step:
                session.receive("progress", settings.reference_timeout)
                continue
            task = by_id[step["task"]]
            cell, cell_blobs = session.receive("cell", settings.reference_timeout)
            try:
                _verdict(session, reference, task, cell, cell_blobs)
                results.append(TaskResult(task.id, task.title, task.points, task.points,
                                          Status.PASSED, "", "reference",
                                          time.perf_counter() - start))
            except _Stop as stop:
                results.append(TaskResult(task.id, task.title, 0, task.points, Status.GRADER_ERROR,
                                          f"{stop.status}: {stop.message}", "reference",
                                          time.perf_counter() - start))
                break
            session.send({"kind": "continue"})
        else:  # a failed task leaves the worker waiting: the rest are "not reached"
            session.receive("done", settings.reference_timeout)
    except _Stop as stop:
        done = {r.task for r in results}
        results += [TaskResult(t.id, t.title, 0, t.points, Status.GRADER_ERROR,
                               f"{stop.status}: {stop.message}", "reference",
                               time.perf_counter() - start)
                    for t in reference.tasks if t.id not in done]
    finally:
        session.close()
    done = {r.task for r in results}
    results += [TaskResult(t.id, t.title, 0, t.points, Status.GRADER_ERROR, "not reached",
                           "reference", time.perf_counter() - start)
                for t in reference.tasks if t.id not in done]
    return results
