"""The tutors' grader: a whole exercise group graded in one command, task by task, in
isolated processes, into one grade file.

For tutors. Run it as ``python -m course_utils.grading 04 submissions.zip --out grades/``
(or ``course-grade``; options in :mod:`~course_utils.grading.__main__`); it needs the
``grading`` extra and, on Linux, bubblewrap.

:func:`grade` reads the submissions (:mod:`~course_utils.grading.submissions`), runs the
chapter's reference solution once through the grader's own path (it must score full
points, and it leaves the data files the students' runs reuse), then grades every task of
every submission on its own (:mod:`~course_utils.grading.runner`): the reference cells
before the task and the student's task cell, in a fresh process
(:mod:`~course_utils.grading.worker`), sandboxed where Linux allows it
(:mod:`~course_utils.grading.sandbox`), under time, memory and output limits, with the
task's declared references withheld. There only the checks' probes run; their judges,
with the expected values and the hidden cases' expectations, run in judge processes of
the grader's that never run student code (:mod:`~course_utils.grading.judge`). It writes
``grades.csv``, a feedback file per student and the class summary
(:mod:`~course_utils.grading.report`).
"""

from __future__ import annotations

import hashlib
import secrets
import shutil
import tempfile
import warnings
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from .report import StudentResult, write_reports
from .runner import (Settings, TaskResult, clean_message, close_judges, run_reference,
                     run_task)
from .sandbox import resolve_sandbox
from .status import GRADED, NORMAL, Status, not_a_notebook
from .submissions import collect, load_reference, read_notebook, task_code

__all__ = ["grade", "Settings", "StudentResult", "TaskResult", "ReferenceFailed"]


class ReferenceFailed(RuntimeError):
    """The reference solution does not pass its own grading: nothing is graded."""


def _tree_digest(*folders: Path) -> str:
    digest = hashlib.sha256()
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def _status(tasks: list[TaskResult]) -> str:
    problems = [f"{t.status} ({t.task})" for t in tasks if t.status not in NORMAL]
    return "; ".join(problems) or GRADED


def grade(chapter: str, submissions: list[str | Path], out: str | Path = "grades", *,
          workers: int = 2, timeout: float = 60.0, memory_gb: float = 4.0,
          sandbox: str = "auto", solutions: str | Path | None = None,
          show_progress: bool = True, hidden_seed: int | None = None) -> list[StudentResult]:
    """Grade ``submissions`` (zips, folders, notebooks) of ``chapter`` into ``out``.

    Keyword arguments: ``workers`` tasks at a time (2); ``timeout`` seconds for each
    task's cell and for its check (60); ``memory_gb`` for each task's processes and the
    files they write, together (4); ``sandbox`` "auto" (bubblewrap where it works),
    "bwrap" or "none"; ``solutions`` the folder of solution sources (found by default);
    ``hidden_seed`` the salt of the hidden cases' seeds (default: a fresh random one,
    written to ``results.json``). Returns one :class:`StudentResult` per student; ``out``
    receives ``grades.csv``, ``feedback/``, ``summary.html``, ``pass_rates.png`` and
    ``results.json``, also when grading stops early.
    """
    from ..runtime import progress

    reference = load_reference(chapter, solutions)
    mode = resolve_sandbox(sandbox)
    if mode == "none":
        warnings.warn("grading without bubblewrap: each submission still runs in its own "
                      "process, folder and limits, but files outside its folder are not "
                      "protected by the operating system (see the book's page 'Grading')",
                      RuntimeWarning, stacklevel=2)
    salt = secrets.randbelow(2**31) if hidden_seed is None else int(hidden_seed)
    settings = Settings(timeout=timeout, memory=int(memory_gb * 2**30), sandbox=mode,
                        salt=salt)
    package = Path(__file__).resolve().parents[1]
    before = _tree_digest(package) if mode == "none" else None  # read-only in the sandbox
    scratch = Path(tempfile.mkdtemp(prefix="course-grade-"))
    results: dict[str, StudentResult] = {}
    try:
        found = collect(submissions, scratch / "submissions")
        data = scratch / "reference"
        data.mkdir()
        checked = run_reference(reference, settings, data)
        failed = [r for r in checked if r.status != Status.PASSED]
        if failed:
            raise ReferenceFailed(f"the reference solution of {reference.chapter} fails its "
                                  f"own grading at {failed[0].title}: {failed[0].message}")
        units = []
        for sub in found:
            notebook, problem = (None, sub.problem) if sub.problem else read_notebook(
                sub.path, reference.chapter)
            results[sub.student] = StudentResult(sub.student, str(sub.path or ""),
                                                 problem or GRADED, digest=sub.digest)
            if notebook is None:
                continue
            try:
                codes = [(task, *task_code(notebook, reference, task))
                         for task in reference.tasks]
            except Exception as error:  # noqa: BLE001 - one notebook never stops the class
                results[sub.student].status = not_a_notebook(type(error).__name__)
                continue
            units += [(sub.student, task, code, how) for task, code, how in codes]

        def work(unit):
            student, task, code, how = unit
            try:
                return student, run_task(reference, task, code, how, settings, scratch, data)
            except Exception as error:  # noqa: BLE001 - one unit never stops the batch
                return student, TaskResult(task.id, task.title, 0, task.points,
                                           Status.GRADER_ERROR,
                                           clean_message(f"{type(error).__name__}: {error}"),
                                           how)

        bar = progress(total=len(units), desc=f"grading {reference.chapter}", unit="task",
                       **({} if show_progress else {"disable": True}))
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for future in as_completed([pool.submit(work, u) for u in units]):
                student, result = future.result()
                results[student].tasks.append(result)
                bar.update(1)
        bar.close()
        order = {t.id: k for k, t in enumerate(reference.tasks)}
        for student in results.values():
            student.tasks.sort(key=lambda t: order[t.task])
            if student.status == GRADED:
                student.status = _status(student.tasks)
    finally:
        close_judges()
        if results:
            write_reports(list(results.values()), reference.chapter, reference.tasks, Path(out),
                          hidden_seed=salt)
        shutil.rmtree(scratch, ignore_errors=True)
    if before is not None and _tree_digest(package) != before:
        raise RuntimeError(f"the course_utils package in {package} changed during grading: "
                           "a submission wrote to it (run with the bubblewrap sandbox)")
    return sorted(results.values(), key=lambda r: r.student.lower())
