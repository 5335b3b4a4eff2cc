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

The written questions are the tutor's to grade: each student's answers and the outputs of
the figure cells they are about are taken from the notebook as data
(:mod:`~course_utils.grading.answers`) into ``manual.html``, where the tutor grades one
question across the class with its rubric; its ``manual.csv`` is merged into the grades
without running any code (:mod:`~course_utils.grading.manual`). The summary compares the
class's work, task by task and question by question
(:mod:`~course_utils.grading.similarity`); a roster gives ids, e-mails and late
penalties, and the grades go to Moodle or Canvas (:mod:`~course_utils.grading.lms`).

Each task's result is kept in ``OUT/cache/`` as soon as it is graded
(:mod:`~course_utils.grading.cache`): grading again reruns only the tasks whose code,
checks, reference or grader changed, an interrupted batch resumes where it stopped,
``only`` regrades some students and keeps the others' results, and ``shard`` grades a
share of a class too large for one machine (:func:`~course_utils.grading.cache.merge_outputs`
joins the shares).
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import warnings
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from .answers import extract_answers, question_results
from .cache import (CACHE, CacheKeys, ResultCache, check_shard, choose_salt, load_texts,
                    merge_outputs, read_previous, read_run, shard_of, store_texts, texts_path,
                    write_run, write_salt)
from .report import StudentResult, read_results, write_reports
from .runner import (Settings, TaskResult, clean_message, close_judges, run_reference,
                     run_task)
from .sandbox import resolve_sandbox
from .status import GRADED, NORMAL, Status, not_a_notebook
from .submissions import collect, load_reference, read_notebook, task_code

__all__ = ["grade", "merge_outputs", "refresh", "class_pages", "Settings", "StudentResult",
           "TaskResult", "ReferenceFailed", "NOT_FINISHED"]

#: The status of a student whose tasks were not all graded when grading stopped (their
#: finished tasks are cached: the next run resumes).
NOT_FINISHED = "not finished: grading stopped"


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


@dataclass
class _Unit:
    """One task of one submission to grade, with its cache key."""

    student: str
    task: object  # notebook_format.Task
    code: str | None
    found: str
    parts: dict
    key: str
    notebook: str  # the notebook's digest, recorded with the result


def _select(found, only, shard, run_shard):
    """The submissions to grade: those named in ``only`` (an unknown name is a
    ``ValueError`` listing the known ones), of the share ``shard``."""
    known = {sub.student for sub in found}
    if only is not None:
        unknown = [name for name in only if name not in known]
        if unknown:
            raise ValueError(f"only: unknown student{'s' * (len(unknown) > 1)} "
                             f"{', '.join(map(repr, unknown))}; the students are: "
                             f"{', '.join(sorted(known, key=str.lower)) or 'none'}")
        chosen = set(only)
        found = [sub for sub in found if sub.student in chosen]
    share = shard or run_shard
    if share is not None:
        k, n = share
        if only is not None:
            outside = [name for name in only if shard_of(name, n) != k]
            if outside:
                raise ValueError(f"only: {', '.join(map(repr, outside))} not in share {k} of "
                                 f"{n}, which this output holds")
        found = [sub for sub in found if shard_of(sub.student, n) == k]
    return found


def grade(chapter: str, submissions: list[str | Path], out: str | Path = "grades", *,
          workers: int = 2, timeout: float = 60.0, memory_gb: float = 4.0,
          sandbox: str = "auto", solutions: str | Path | None = None,
          show_progress: bool = True, hidden_seed: int | None = None,
          only: list[str] | None = None, shard: tuple[int, int] | None = None,
          cache: bool = True, roster=None, deadline=None,
          late_policy=None) -> list[StudentResult]:
    """Grade ``submissions`` (zips, folders, notebooks) of ``chapter`` into ``out``.

    Keyword arguments: ``workers`` tasks at a time (2); ``timeout`` seconds for each
    task's cell and for its check (60); ``memory_gb`` for each task's processes and the
    files they write, together (4); ``sandbox`` "auto" (bubblewrap where it works),
    "bwrap" or "none"; ``solutions`` the folder of solution sources (found by default);
    ``hidden_seed`` the salt of the hidden cases' seeds (default: the salt of the cache in
    ``out``, else a fresh random one; written to ``results.json``); ``only`` the students
    to grade (names as in ``grades.csv``), keeping every other student's result from
    ``out/results.json`` (None: all); ``shard`` ``(K, N)``: grade only the K-th of N shares
    of the students (:func:`~course_utils.grading.cache.shard_of`; needs ``hidden_seed``
    in a fresh ``out``), to be joined by
    :func:`~course_utils.grading.cache.merge_outputs`; ``cache`` False grades every task
    afresh, ignoring the results cached in ``out/cache`` (the fresh ones are stored
    still). What is cached and what is not: :mod:`~course_utils.grading.cache`.
    ``roster`` (a :class:`~course_utils.grading.lms.Roster`, default none) gives each
    student their id and e-mail, and the submission time where it has one (else the
    notebook's file time, or its zip entry's); with ``deadline`` (a timezone-aware
    ``datetime``) and ``late_policy`` (:class:`~course_utils.grading.lms.LatePolicy`) late
    work loses points (:func:`~course_utils.grading.lms.apply_roster`).

    Returns one :class:`StudentResult` per student; ``out`` receives ``grades.csv``,
    ``feedback/``, ``summary.html`` (with the similar work of the class:
    :mod:`~course_utils.grading.similarity`), ``pass_rates.png``, ``results.json``,
    ``manual.html`` (the written answers and figures, to grade in a browser:
    :mod:`~course_utils.grading.manual`; when the chapter has questions) and ``cache/``,
    also when grading stops early (its unfinished students have the status
    :data:`NOT_FINISHED`, and the next run resumes). Grading again into the same ``out``
    (all students, or ``only`` some) keeps the tutor's merged points for an answer whose
    text is unchanged, and an override of a task whose code is unchanged.
    """
    from ..runtime import progress

    out = Path(out)
    shard = check_shard(shard)
    if only is not None:
        if isinstance(only, str) or not all(isinstance(name, str) for name in only):
            raise ValueError(f"only must be a list of student names; got {only!r}")
        only = list(dict.fromkeys(only))
        if not only:
            raise ValueError("only: no student named (None grades them all)")
    reference = load_reference(chapter, solutions)
    previous = read_previous(out) if only is not None else None
    earlier = previous if only is not None else _earlier(out, reference.chapter)
    if previous is not None and previous.chapter != reference.chapter:
        raise ValueError(f"only: {out / 'results.json'} holds chapter {previous.chapter}, "
                         f"not {reference.chapter}")
    run_shard = None  # the share an output regraded with ``only`` holds
    if only is not None:
        try:
            run_shard = tuple(read_run(out)["shard"] or ()) or None
        except ValueError:
            pass
    if shard is not None and run_shard is not None and shard != run_shard:
        raise ValueError(f"shard={shard}: {out} holds share {run_shard[0]} of {run_shard[1]}")
    mode = resolve_sandbox(sandbox)
    if mode == "none":
        warnings.warn("grading without bubblewrap: each submission still runs in its own "
                      "process, folder and limits, but files outside its folder are not "
                      "protected by the operating system (see the book's page 'Grading')",
                      RuntimeWarning, stacklevel=2)
    salt = choose_salt(out, hidden_seed, shard=shard,
                       previous=None if previous is None else previous.hidden_seed)
    if previous is not None and previous.hidden_seed not in (None, salt):
        raise ValueError(f"only keeps the other students' results, graded with hidden seed "
                         f"{previous.hidden_seed}, not {salt}: pass hidden_seed="
                         f"{previous.hidden_seed}, or grade every student")
    settings = Settings(timeout=timeout, memory=int(memory_gb * 2**30), sandbox=mode,
                        salt=salt)
    keys = CacheKeys.of(reference, settings)
    store = ResultCache(out / CACHE, verify=mode == "none")
    package = Path(__file__).resolve().parents[1]
    before = _tree_digest(package) if mode == "none" else None  # read-only in the sandbox
    scratch = Path(tempfile.mkdtemp(prefix="course-grade-"))
    results: dict[str, StudentResult] = {}
    graded: set[str] = set()  # the students graded in this run
    submitted: dict = {}  # student -> when the notebook was handed in
    extra = None
    ready = False  # the students are chosen and the reference passed (or was not needed)
    texts_before = None  # without the sandbox: the kept texts' digests before any code ran
    try:
        found = _select(collect(submissions, scratch / "submissions"), only, shard, run_shard)
        if previous is not None:
            regraded = set(only)
            results = {s.student: s for s in previous.students if s.student not in regraded}
        units: list[_Unit] = []
        for sub in found:
            notebook, problem = (None, sub.problem) if sub.problem else read_notebook(
                sub.path, reference.chapter)
            results[sub.student] = StudentResult(sub.student, str(sub.path or ""),
                                                 problem or GRADED, digest=sub.digest)
            graded.add(sub.student)
            submitted[sub.student] = sub.submitted
            if notebook is None:
                continue
            try:
                codes = [(task, *task_code(notebook, reference, task))
                         for task in reference.tasks]
                answers = extract_answers(notebook, reference)
            except Exception as error:  # noqa: BLE001 - one notebook never stops the class
                results[sub.student].status = not_a_notebook(type(error).__name__)
                continue
            results[sub.student].questions = question_results(reference.questions, answers)
            if earlier is not None:
                _keep_tutors_points(out, results[sub.student], earlier, codes, answers)
            store_texts(out, sub.student, {task.id: code for task, code, _ in codes}, answers)
            for task, code, how in codes:
                parts = keys.parts(task, code, how)
                units.append(_Unit(sub.student, task, code, how, parts, CacheKeys.key(parts),
                                   sub.digest))
        if mode == "none":  # a submission could write into OUT: see what it changes
            texts_before = _texts_digests(out, results)
        todo = []
        for unit in units:
            cached = store.load(unit.student, unit.task.id, unit.key) if cache else None
            if cached is None:
                todo.append(unit)
            else:
                results[unit.student].tasks.append(cached)
        data = scratch / "reference"
        if todo:  # the reference run leaves the data files the tasks that run need
            data.mkdir()
            checked = run_reference(reference, settings, data)
            failed = [r for r in checked if r.status != Status.PASSED]
            if failed:
                raise ReferenceFailed(f"the reference solution of {reference.chapter} fails "
                                      f"its own grading at {failed[0].title}: "
                                      f"{failed[0].message}")
        write_salt(out, salt)  # before any result under it is stored
        ready = True

        def work(unit: _Unit):
            try:
                result = run_task(reference, unit.task, unit.code, unit.found, settings,
                                  scratch, data)
            except Exception as error:  # noqa: BLE001 - one unit never stops the batch
                result = TaskResult(unit.task.id, unit.task.title, 0, unit.task.points,
                                    Status.GRADER_ERROR,
                                    clean_message(f"{type(error).__name__}: {error}"),
                                    unit.found)
            try:  # kept at once: a batch stopped later resumes after this task
                store.store(unit.student, unit.task.id, unit.key, unit.parts, result,
                            unit.notebook)
            except OSError as error:
                warnings.warn(f"could not cache a result in {out / CACHE}: {error}",
                              RuntimeWarning, stacklevel=1)
            return unit.student, result

        hits = len(units) - len(todo)
        bar = progress(total=len(units), initial=hits, unit="task",
                       desc=f"grading {reference.chapter}" + (f" ({hits} cached)" * bool(hits)),
                       **({} if show_progress else {"disable": True}))
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            futures = [pool.submit(work, unit) for unit in todo]
            taken = set()
            try:
                for future in as_completed(futures):
                    student, result = future.result()
                    taken.add(future)
                    results[student].tasks.append(result)
                    bar.update(1)
            except BaseException:
                for future in futures:  # the queued tasks never start; the running finish
                    future.cancel()
                pool.shutdown(wait=True)
                for future in futures:
                    if future.done() and not future.cancelled() and future not in taken \
                            and future.exception() is None:
                        student, result = future.result()
                        results[student].tasks.append(result)
                raise
            finally:
                bar.close()
    finally:
        close_judges()
        if ready:
            order = {t.id: k for k, t in enumerate(reference.tasks)}
            for name in graded:
                student = results[name]
                student.tasks.sort(key=lambda t: order[t.task])
                if student.status == GRADED:
                    student.status = (_status(student.tasks)
                                      if len(student.tasks) == len(reference.tasks)
                                      else NOT_FINISHED)
            if texts_before is not None:
                _drop_changed_texts(out, texts_before)
            if results or shard is not None:
                from .lms import apply_roster

                extra = apply_roster(list(results.values()), roster, submitted,
                                     deadline=deadline, policy=late_policy) or None
                if previous is not None and previous.extra and not extra:
                    extra = previous.extra
                try:
                    similar = class_pages(out, reference, list(results.values()))
                except Exception as error:  # noqa: BLE001 - the grades are written regardless
                    warnings.warn(f"the class pages (similarity report, manual.html) could "
                                  f"not be made: {type(error).__name__}: {error}",
                                  RuntimeWarning, stacklevel=1)
                    similar = None
                write_reports(list(results.values()), reference.chapter, reference.tasks, out,
                              questions=reference.questions, hidden_seed=salt,
                              similarity=similar, extra=extra)
                write_run(out, chapter=reference.chapter, salt=salt, shard=shard or run_shard,
                          tasks=reference.tasks, students=results,
                          digests={"grader": keys.common["grader"],
                                   "reference": keys.common["reference"],
                                   "environment": keys.common["environment"]})
        if ready or store.ledger:
            try:
                store.write_ledger()
            except OSError:
                pass
        shutil.rmtree(scratch, ignore_errors=True)
    if before is not None and _tree_digest(package) != before:
        raise RuntimeError(f"the course_utils package in {package} changed during grading: "
                           "a submission wrote to it (run with the bubblewrap sandbox)")
    return sorted(results.values(), key=lambda r: r.student.lower())


def _texts_digests(out: Path, students) -> dict[str, str | None]:
    """The SHA-256 of each student's kept texts (:func:`~.cache.store_texts`); None where
    there are none."""
    digests = {}
    for name in students:
        try:
            digests[name] = hashlib.sha256(texts_path(out, name).read_bytes()).hexdigest()
        except (OSError, ValueError):
            digests[name] = None
    return digests


def _drop_changed_texts(out: Path, before: dict[str, str | None]) -> None:
    """Remove the kept texts that changed since ``before`` (:func:`_texts_digests`, taken
    before any submission ran): without the sandbox a submission can write into ``OUT``,
    and must not choose what a classmate's answers and code look like on the class
    pages."""
    now = _texts_digests(out, before)
    changed = sorted((name for name in before if now[name] != before[name]), key=str.lower)
    for name in changed:
        texts_path(out, name).unlink(missing_ok=True)
    if changed:
        warnings.warn(f"grading without bubblewrap, a submission changed what the grader kept "
                      f"of the notebooks of {', '.join(changed)} in {out / CACHE}: their "
                      "answers and code are left out of manual.html and the similarity "
                      "report; grade them again (only=[...]) with the sandbox",
                      RuntimeWarning, stacklevel=3)


def _earlier(out: Path, chapter: str):
    """The results of an earlier grading of ``chapter`` in ``out`` (whose tutor's points
    a new run keeps where the work is unchanged), or None."""
    try:
        found = read_previous(out)
    except ValueError:
        return None
    return found if found is not None and found.chapter == chapter else None


def _keep_tutors_points(out: Path, student: StudentResult, previous, codes, answers) -> None:
    """Carry a regraded student's earlier manual grades over: a graded answer whose text
    is unchanged, and an override of a task whose code is unchanged."""
    before = next((s for s in previous.students if s.student == student.student), None)
    texts = load_texts(out, [student.student]).get(student.student)
    if before is None or texts is None:
        return
    graded = {q.id: q for q in before.questions if q.points is not None}
    student.questions = [
        graded[q.id] if q.id in graded and q.id in answers and q.id in texts["answers"]
        and texts["answers"][q.id].text == answers[q.id].text else q
        for q in student.questions]
    code = {task.id: text for task, text, _ in codes}
    student.overrides = [o for o in before.overrides
                         if texts["codes"].get(o.task) == code.get(o.task)]


def class_pages(out: str | Path, reference, students: list[StudentResult]) -> dict:
    """From what each of ``students`` wrote (kept in ``out/cache``), the pages about the
    whole class: writes ``out/manual.html`` (the written answers and their figures, in a
    shuffled order, names hidden; when ``reference`` has questions) and returns the
    similarity report for the summary (:func:`~course_utils.grading.similarity.
    similarity_report`: the code of each task with the template's taken out, and each
    written answer, against each other and against the reference)."""
    from .manual import write_manual_page
    from .similarity import reference_sources, similarity_report

    texts = load_texts(out, [s.student for s in students])
    codes = {t.id: {name: kept["codes"].get(t.id) for name, kept in texts.items()}
             for t in reference.tasks}
    written = {q.id: {name: kept["answers"][q.id].text for name, kept in texts.items()
                      if q.id in kept["answers"] and kept["answers"][q.id].found != "missing"}
               for q in reference.questions}
    titles = {item.id: item.title for item in [*reference.tasks, *reference.questions]}
    report = similarity_report(
        codes, written, titles=titles,
        template={**reference.templates, **{q.id: q.prompt for q in reference.questions}},
        references={**reference_sources(reference.tasks),
                    **{q.id: q.answer for q in reference.questions}})
    if reference.questions:
        seed = int(hashlib.sha256(reference.chapter.encode()).hexdigest()[:8], 16)
        write_manual_page(out, reference.chapter, reference.questions,
                          {name: kept["answers"] for name, kept in texts.items()}, seed=seed)
    return report


def refresh(out: str | Path, solutions: str | Path | None = None) -> list[StudentResult]:
    """Write the class pages and every output in ``out`` again from its ``results.json``
    and what the students wrote (kept in ``out/cache``), without running any student
    code: after :func:`~course_utils.grading.cache.merge_outputs` has joined shares, the
    similarity report and ``manual.html`` cover the whole class. ``solutions``: the folder
    of solution sources (found by default). Returns the students' results."""
    kept = read_results(out)
    reference = load_reference(kept.chapter, solutions)
    write_reports(kept.students, kept.chapter, kept.tasks, out, questions=kept.questions,
                  hidden_seed=kept.hidden_seed,
                  similarity=class_pages(out, reference, kept.students), extra=kept.extra)
    return kept.students
