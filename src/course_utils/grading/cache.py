"""The grader's memory between runs: each task's result is kept under ``OUT/cache/``, so
that grading again reruns only what changed, an interrupted batch resumes where it
stopped, one student is regraded alone (``only``), and a class larger than one machine is
graded in shares (``shard``) whose outputs :func:`merge_outputs` joins.

**What is cached.** The :class:`~course_utils.grading.runner.TaskResult` of every task of
every notebook, written as soon as the task finishes (a temporary file renamed into
place, so a batch stopped at any moment leaves only whole entries), in
``OUT/cache/tasks/<student>/<task>.json``. An entry is reused only when its key, the
SHA-256 of these parts (:class:`CacheKeys`), is unchanged:

* the student's code for the task and how it was found (the notebook's digest is
  recorded beside it, not keyed: editing another task's cell reruns only that task);
* the reference solution: its code cells and task layout, and the package modules and
  data files (the pretrained checkpoints) its cells import, with what those import;
* the grader's code: every file of the ``grading`` package, ``notebook_format.py``, the
  checks' framework modules (every module of ``course_utils.checks`` but the chapters'),
  and the package modules they import;
* the task's checks: for each check its cell calls (``Task.checks``), the module that
  defines it and the package modules that module imports (:func:`check_digest`), so a
  changed check reruns exactly the tasks that call it;
* the salt of the hidden cases, the limits (every field of
  :class:`~course_utils.grading.runner.Settings`: timeouts, memory, file and output sizes,
  sandbox, review), and the environment (Python, the machine's architecture, the versions
  of NumPy, SciPy, PyTorch, TensorFlow, Keras and nbformat).

**What is not cached.** The outcomes the machine rather than the code may have caused
(:data:`UNCACHED`): a grader error, a timeout (a loaded machine is slower) and a crash (the
system's out-of-memory killer looks like one); they are graded again on every run.
Whether a submission could be read, and which student it is, is decided afresh each run
(it takes no kernel). The reference run is needed only for the data files of the tasks
that run: when every task is cached it is skipped, and so is every kernel. Without the
bubblewrap sandbox a submission runs with the tutor's rights and could write into
``OUT``; the grader then reuses only the entries it recorded itself at the end of a run
(``OUT/cache/ledger.json``), so after a hard kill (not Ctrl-C) such a run grades the
unrecorded tasks again.

**The hidden seed.** A run in an ``OUT`` that holds a cache reuses its salt
(``OUT/cache/salt.json``) unless ``hidden_seed`` is given; results under another salt are
never reused (the salt is part of every key).

**Regrading some students** (``grade(..., only=[names])``): only those students are
graded (their names as the grader writes them in ``grades.csv``; an unknown name is an
error that lists the known ones); every other student's result is kept as
``OUT/results.json`` has it, and the hidden seed is that file's.

**Shards** (``grade(..., shard=(K, N))``): a run grades only the students whose name's
SHA-256, read as a number, modulo ``N`` is ``K - 1`` (:func:`shard_of`): a deterministic
share that needs no list of names, so each machine is given the same submissions and
finds its own. Each share writes the usual outputs for its students, and
``OUT/cache/run.json`` (chapter, salt, share, tasks, and digests of the grader and the
reference) for :func:`merge_outputs`, which checks that the shares belong together (same
chapter, salt, tasks and code; every share from 1 to N exactly once; no student twice),
and writes the class's ``grades.csv``, ``results.json``, feedback and summary, with the
shares' cache entries, so the merged folder can be regraded with ``only``. Every share
must use the same hidden seed: a share run without one in a fresh ``OUT`` is an error.

A GitHub Actions matrix (the submissions reach each job as the course keeps them, e.g.
a private artifact)::

    jobs:
      grade:
        runs-on: ubuntu-latest
        strategy: {matrix: {shard: [1, 2, 3, 4]}}
        steps:
          - uses: actions/checkout@v4
          - run: sudo apt-get install -y bubblewrap && pip install -e ".[grading]"
          - run: >-
              python -m course_utils.grading 04 submissions.zip --shard ${{ matrix.shard }}/4
              --hidden-seed ${{ vars.HIDDEN_SEED }} --out grades-${{ matrix.shard }}
          - uses: actions/upload-artifact@v4
            with: {name: "grades-${{ matrix.shard }}", path: "grades-${{ matrix.shard }}"}
      merge:
        needs: grade
        runs-on: ubuntu-latest
        steps:
          - uses: actions/checkout@v4
          - run: pip install -e ".[grading]"
          - uses: actions/download-artifact@v4
            with: {pattern: "grades-*"}
          - run: python -m course_utils.grading merge grades grades-*

A Slurm job array (``sbatch grade.sh``, then ``sbatch --dependency=afterok:JOBID
merge.sh``; a share that was stopped resumes from its cache when submitted again)::

    #!/bin/bash
    #SBATCH --array=1-8 --cpus-per-task=4 --mem=16G --time=02:00:00
    python -m course_utils.grading 04 submissions.zip --workers 4 --hidden-seed 271828 \\
        --out grades-$SLURM_ARRAY_TASK_ID --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT

    # merge.sh
    python -m course_utils.grading merge grades grades-*
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import platform
import secrets
import shutil
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

from ..notebook_format import Task, parse_python
from .report import StudentResult, write_reports
from .runner import Settings, TaskResult
from .status import Status
from .submissions import Reference

__all__ = ["CACHE", "UNCACHED", "FORMAT", "CacheKeys", "ResultCache", "grader_digest",
           "reference_digest", "check_digest", "environment", "read_salt", "write_salt",
           "choose_salt",
           "shard_of", "check_shard", "read_previous", "Previous", "read_run", "write_run",
           "merge_outputs", "store_texts", "load_texts", "texts_path", "TEXTS"]

#: The cache's folder inside the grader's output folder.
CACHE = "cache"
#: The folder in ``OUT/cache`` with what each student wrote (:func:`store_texts`).
TEXTS = "texts"
#: The task statuses never cached: the machine, not the code, may have caused them.
UNCACHED = frozenset(s.value for s in (Status.GRADER_ERROR, Status.TIMED_OUT, Status.CRASHED))
#: The layout of an entry; part of every key, so a new layout never reads an old one.
FORMAT = 1

PACKAGE = Path(__file__).resolve().parents[1]  # the course_utils package folder
_ROOT = PACKAGE.name  # "course_utils"


# ------------------------------------------------------------------------- what a key holds

def _sha256(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def _files_digest(files) -> str:
    """The SHA-256 of ``files`` (paths inside the package), by their path relative to the
    package and their bytes, so moving the installation changes nothing."""
    digest = hashlib.sha256()
    for path in sorted(set(files)):
        digest.update(str(path.relative_to(PACKAGE.parent)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def _module_file(name: str) -> Path | None:
    """The file of package module ``name`` (``course_utils.checks.helpers``), or None."""
    parts = name.split(".")
    if parts[0] != _ROOT:
        return None
    base = PACKAGE.joinpath(*parts[1:])
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _imported(tree: ast.AST, package: str) -> set[str]:
    """The package modules ``tree`` imports anywhere (also inside functions); relative
    imports are resolved against ``package``, the importing module's package."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{a.name}" for a in node.names)  # a submodule, if one
    return {n for n in names if n.split(".")[0] == _ROOT}


def _closure(roots, *, stop=frozenset()) -> set[Path]:
    """The files of package modules ``roots`` and of every package module they import,
    transitively, with the packages around them, not entering the modules in ``stop``."""
    files: set[Path] = set()
    todo = list(roots)
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = _module_file(name)
        if path is None or (name in stop and name not in roots):
            continue
        parts = name.split(".")
        todo += [".".join(parts[:k]) for k in range(1, len(parts))]  # the packages around it
        files.add(path)
        package = name if path.name == "__init__.py" else ".".join(parts[:-1])
        tree = ast.parse(path.read_bytes(), str(path))
        todo += sorted(_imported(tree, package) - seen)
    return files


def _chapter_modules() -> frozenset[str]:
    from ..checks import BY_CHAPTER

    return frozenset(module.__name__ for module in BY_CHAPTER.values())


def grader_digest() -> str:
    """The SHA-256 of the grader's own code: every file of the ``grading`` package,
    ``notebook_format.py``, the checks' framework modules (all of ``course_utils.checks``
    but the chapters' modules), and the package modules these import."""
    grading = Path(__file__).resolve().parent
    chapters = _chapter_modules()
    files = {p for p in grading.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    roots = {f"{_ROOT}.grading.{p.stem}" for p in grading.glob("*.py")}
    roots |= {f"{_ROOT}.notebook_format", f"{_ROOT}.checks"}
    roots |= {f"{_ROOT}.checks.{p.stem}" for p in (PACKAGE / "checks").glob("*.py")
              if p.stem != "__init__"} - chapters
    return _files_digest(files | _closure(roots, stop=chapters))


def reference_digest(reference: Reference) -> str:
    """The SHA-256 of the reference solution as the grader uses it: its chapter, code
    cells and task layout, the package modules its cells import (with what those import;
    not the chapters' checks modules, keyed per task) and the package's data files."""
    roots: set[str] = set()
    for source in reference.code_cells:
        try:
            roots |= _imported(parse_python(source), _ROOT)
        except SyntaxError:
            continue
    data = {p for p in PACKAGE.rglob("*") if p.is_file() and p.suffix != ".py"
            and not {"__pycache__", "grading", "authoring"} & set(p.relative_to(PACKAGE).parts)}
    layout = json.dumps({"chapter": reference.chapter, "cells": reference.code_cells,
                         "tasks": [asdict(t) for t in reference.tasks]}, sort_keys=True)
    return _sha256(layout + _files_digest(data | _closure(roots, stop=_chapter_modules())))


def check_digest(chapter: str, name: str) -> str:
    """The SHA-256 of check ``name`` of ``chapter``: the module that defines it (its
    cases, probe and judge) and the package modules that module imports, transitively
    (not the other chapters' checks modules). Raises ``KeyError`` for an unknown check."""
    from ..checks import check_specs

    specs = check_specs(chapter)
    if name not in specs:
        raise KeyError(f"chapter {chapter} has no check {name!r}; its checks: "
                       f"{', '.join(sorted(specs))}")
    spec = specs[name]
    roots = {getattr(part, "__module__", None) for part in (spec.cases, spec.probe, spec.judge)}
    roots = {r for r in roots if r}
    return _files_digest(_closure(roots, stop=_chapter_modules()))


def environment() -> dict:
    """What of the machine a task's result may depend on: the Python version and
    implementation, the architecture, and the versions of the numerical libraries (None
    for one not installed)."""
    versions = {}
    for package in ("numpy", "scipy", "torch", "tensorflow", "keras", "nbformat"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {"python": platform.python_version(), "implementation": sys.implementation.name,
            "machine": platform.machine(), "system": platform.system(), "packages": versions}


@dataclass
class CacheKeys:
    """The parts of every task's key that one grading shares (computed once), and the
    digest of each check of the chapter."""

    common: dict
    checks: dict[str, str]

    @classmethod
    def of(cls, reference: Reference, settings: Settings) -> "CacheKeys":
        limits = {k: v for k, v in asdict(settings).items() if k != "salt"}
        common = {"format": FORMAT, "grader": grader_digest(),
                  "reference": reference_digest(reference), "salt": settings.salt,
                  "limits": limits, "environment": environment()}
        names = sorted({name for task in reference.tasks for name in task.checks})
        return cls(common, {name: check_digest(reference.chapter, name) for name in names})

    def parts(self, task: Task, code: str | None, found: str) -> dict:
        """Everything the result of ``task`` with ``code`` (found as ``found``) depends
        on, as a JSON-able dict."""
        return {**self.common, "task": task.id, "found": found,
                "code": None if code is None else _sha256(code),
                "checks": {name: self.checks[name] for name in task.checks}}

    @staticmethod
    def key(parts: dict) -> str:
        return _sha256(json.dumps(parts, sort_keys=True))


# --------------------------------------------------------------------------- the entries

def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder, renamed
    into place: a reader sees the old file or the whole new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp",
                                         dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class ResultCache:
    """The task results under ``folder`` (``OUT/cache``). With ``verify`` (grading
    without the sandbox, where a submission could write there) an entry is reused only
    if its bytes are those the grader recorded in the ledger at the end of a run."""

    def __init__(self, folder: str | Path, *, verify: bool = False):
        self.folder = Path(folder)
        self.verify = verify
        self.ledger: dict[str, str] = {}  # entry -> SHA-256 of its bytes, as written here
        try:  # read before any submission runs
            self.trusted = dict(json.loads((self.folder / "ledger.json").read_text("utf-8")))
        except (OSError, ValueError, TypeError):
            self.trusted = {}
        self.hits = 0
        self.stored = 0

    @staticmethod
    def _name(student: str, task: str) -> str:
        return f"tasks/{student}/{task}.json"

    def load(self, student: str, task: str, key: str) -> TaskResult | None:
        """The cached result of ``task`` of ``student`` under ``key``, or None."""
        name = self._name(student, task)
        try:
            raw = (self.folder / name).read_bytes()
            entry = json.loads(raw.decode("utf-8"))
            if self.verify and self.trusted.get(name) != _sha256(raw):
                return None
            if entry.get("key") != key or entry.get("student") != student:
                return None
            result = TaskResult(**entry["result"])
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            return None
        if result.task != task or result.status in UNCACHED:
            return None
        self.ledger[name] = _sha256(raw)
        self.hits += 1
        return result

    def store(self, student: str, task: str, key: str, parts: dict, result: TaskResult,
              notebook: str = "") -> bool:
        """Keep ``result`` (unless its status is one of :data:`UNCACHED`); returns whether
        it was written."""
        if result.status in UNCACHED:
            return False
        name = self._name(student, task)
        text = json.dumps({"key": key, "student": student, "task": task, "notebook": notebook,
                           "parts": parts, "result": asdict(result)}, indent=1)
        _write_atomic(self.folder / name, text)
        self.ledger[name] = _sha256(text)
        self.stored += 1
        return True

    def write_ledger(self) -> None:
        """Record the entries this run wrote or reused, with those recorded before (see
        ``verify``)."""
        _write_atomic(self.folder / "ledger.json",
                      json.dumps({**self.trusted, **self.ledger}, indent=0, sort_keys=True))


# ----------------------------------------------------------------------- the hidden seed

def read_salt(out: str | Path) -> int | None:
    """The salt kept in ``out``'s cache, or None."""
    try:
        return int(json.loads((Path(out) / CACHE / "salt.json").read_text("utf-8"))["salt"])
    except (OSError, ValueError, TypeError, KeyError):
        return None


def write_salt(out: str | Path, salt: int) -> None:
    _write_atomic(Path(out) / CACHE / "salt.json", json.dumps({"salt": int(salt)}))


def choose_salt(out: str | Path, hidden_seed: int | None, *, previous: int | None = None,
                shard: tuple[int, int] | None = None) -> int:
    """The salt of a grading into ``out``: ``hidden_seed`` if given, else the salt of the
    cache in ``out``, else ``previous`` (the hidden seed of the results kept), else a fresh
    random one; a share (``shard``) never takes a random one (raises ``ValueError``)."""
    if hidden_seed is not None:
        return int(hidden_seed)
    for salt in (read_salt(out), previous):
        if salt is not None:
            return int(salt)
    if shard is not None:
        raise ValueError(f"shard={shard}: pass hidden_seed, the same for every share (their "
                         "results are merged only when their hidden cases are the same)")
    return secrets.randbelow(2**31)


# ------------------------------------------------------------------------------ shares

def shard_of(student: str, n: int) -> int:
    """The share, from 1 to ``n``, of ``student``: 1 + (the SHA-256 of the name's UTF-8
    bytes, read as a big-endian number) modulo ``n``."""
    return 1 + int(hashlib.sha256(student.encode("utf-8")).hexdigest(), 16) % n


def check_shard(shard) -> tuple[int, int] | None:
    """``shard`` as ``(K, N)`` with ``1 <= K <= N``, or None; raises ``ValueError``."""
    if shard is None:
        return None
    try:
        k, n = shard
        if isinstance(k, bool) or isinstance(n, bool) or int(k) != k or int(n) != n:
            raise ValueError
        k, n = int(k), int(n)
    except (TypeError, ValueError):
        raise ValueError(f"shard must be (K, N), two whole numbers; got {shard!r}") from None
    if not 1 <= k <= n:
        raise ValueError(f"shard must be (K, N) with 1 <= K <= N; got {shard!r}")
    return k, n


# ---------------------------------------------------------- what a previous run left there

@dataclass
class Previous:
    """The results in an output folder (its ``results.json``)."""

    chapter: str
    hidden_seed: int | None
    students: list[StudentResult]
    questions: list = field(default_factory=list)
    extra: dict | None = None


def read_previous(out: str | Path) -> Previous | None:
    """The results of ``out/results.json`` (:func:`report.read_results
    <course_utils.grading.report.read_results>`), or None when there is none; raises
    ``ValueError`` for a file that cannot be read."""
    from .report import read_results

    path = Path(out) / "results.json"
    if not path.is_file():
        return None
    try:
        found = read_results(Path(out))
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path} cannot be read ({type(error).__name__}: {error})") from None
    return Previous(found.chapter, found.hidden_seed, list(found.students),
                    list(found.questions or []), found.extra)


def write_run(out: str | Path, *, chapter: str, salt: int, shard: tuple[int, int] | None,
              tasks, students, digests: dict) -> None:
    """Record in ``out/cache/run.json`` what :func:`merge_outputs` checks and needs."""
    _write_atomic(Path(out) / CACHE / "run.json", json.dumps(
        {"chapter": chapter, "salt": salt, "shard": list(shard) if shard else None,
         "tasks": [asdict(t) for t in tasks], "students": sorted(students),
         "digests": digests}, indent=1))


def read_run(out: str | Path) -> dict:
    """The record of the grading in ``out`` (:func:`write_run`); raises ``ValueError``
    when ``out`` holds no grader output."""
    path = Path(out) / CACHE / "run.json"
    try:
        run = json.loads(path.read_text("utf-8"))
        run["tasks"] = [Task(**{k: tuple(v) if isinstance(v, list) else v
                                for k, v in t.items()}) for t in run["tasks"]]
        return run
    except FileNotFoundError:
        raise ValueError(f"{out} is not the output of a grading (no {CACHE}/run.json)") from None
    except (OSError, ValueError, TypeError, KeyError) as error:
        raise ValueError(f"{path} cannot be read ({type(error).__name__}: {error})") from None


# ------------------------------------------------------------------------------ merging

def store_texts(out: str | Path, student: str, codes: dict[str, str | None],
                answers: dict) -> None:
    """Keep what ``student`` wrote, for the class pages (similarity, ``manual.html``) that
    are made again after a merge or an ``only`` run: the code of each task (``codes``, by
    task id) and each written answer (``answers``: :class:`~course_utils.grading.answers.
    Answer` by question id, figures included), in ``OUT/cache/texts/<student>.json``."""
    data = {"codes": codes, "answers": {qid: asdict(answer) for qid, answer in answers.items()}}
    _write_atomic(texts_path(out, student), json.dumps(data))


def texts_path(out: str | Path, student: str) -> Path:
    """Where :func:`store_texts` keeps ``student``'s texts: ``OUT/cache/texts/<student>.json``;
    raises ``ValueError`` for a name that is not one plain file name (the grader's names,
    :func:`~course_utils.grading.submissions.student_name`,
    always are)."""
    if (not isinstance(student, str) or not student or student.startswith(".")
            or any(c in student for c in "/\\\0")):
        raise ValueError(f"not a student name the grader makes: {student!r}")
    return Path(out) / CACHE / TEXTS / f"{student}.json"


def _kept_texts(data) -> dict:
    """What :func:`store_texts` wrote, as :func:`load_texts` returns it; raises
    ``ValueError`` unless every part has the type the grader writes (a figure's images
    checked again, as when they were read from the notebook)."""
    from .answers import IMAGE_TYPES, Answer, Figure, checked_image

    def text(value) -> str:
        if not isinstance(value, str):
            raise ValueError("not text")
        return value

    codes, answers = data["codes"], data["answers"]
    if not isinstance(codes, dict) or not isinstance(answers, dict):
        raise ValueError("codes and answers must be objects")
    kept = {}
    for qid, a in answers.items():
        if a["found"] not in ("id", "position", "missing") or not isinstance(a["figures"], list):
            raise ValueError(f"answer {qid!r} is malformed")
        figures = []
        for f in a["figures"]:
            images = [checked_image(i[0], i[1]) if len(i) == 2 and i[0] in IMAGE_TYPES else None
                      for i in f["images"]]
            if None in images:
                raise ValueError(f"answer {qid!r} has an image that is not one")
            figures.append(Figure(text(f["cell"]), images, text(f["text"])))
        kept[text(qid)] = Answer(text(a["text"]), figures, a["found"])
    return {"codes": {text(task): None if code is None else text(code)
                      for task, code in codes.items()}, "answers": kept}


def load_texts(out: str | Path, students) -> dict[str, dict]:
    """What :func:`store_texts` kept for each of ``students`` that has it: ``{student:
    {"codes": {...}, "answers": {qid: Answer}}}``. A file that is not as the grader writes
    it (damaged, or written by something else) is skipped: that student's texts are left
    out of the class pages, and no one else's."""
    found = {}
    for student in students:
        try:
            found[student] = _kept_texts(json.loads(texts_path(out, student).read_text("utf-8")))
        except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError,
                RecursionError):
            continue
    return found


def _merged_extra(dirs: list[Path], students: list[StudentResult]) -> dict | None:
    """The shares' roster and deadline notes as one class's: a roster student is missing
    only if no share has their submission."""
    from .lms import match_key
    from .report import read_results

    extras = []
    for d in dirs:
        try:
            extras.append(read_results(d).extra or {})
        except (OSError, ValueError):
            continue
    merged: dict = {}
    for extra in extras:
        for key, value in extra.items():
            if key == "future":  # every share's students with a time after its grading
                merged[key] = sorted({*merged.get(key, []), *value}, key=str.lower)
            elif key != "roster":
                merged.setdefault(key, value)
    rosters = [e["roster"] for e in extras if e.get("roster")]
    if rosters:
        present = {match_key(s.student) for s in students}
        merged["roster"] = {
            "file": rosters[0].get("file", ""),
            "unknown": sorted({n for r in rosters for n in r.get("unknown", [])}, key=str.lower),
            "missing": sorted({n for r in rosters for n in r.get("missing", [])
                               if match_key(n) not in present}, key=str.lower)}
    return merged or None


def merge_outputs(dirs: list[str | Path], out: str | Path, *,
                  solutions: str | Path | None = None) -> list[StudentResult]:
    """Join the outputs of the shares in ``dirs`` (each an ``OUT`` of
    ``grade(..., shard=(K, N))``) into one set in ``out``: ``grades.csv``,
    ``results.json``, ``feedback/``, ``summary.html`` (its similarity report made over
    the whole class), ``manual.html`` and the shares' cache entries (``solutions``: the
    folder of solution sources, found by default). Raises ``ValueError`` unless every folder is a grader's output of the same chapter,
    salt, tasks, grader and reference, the shares are 1 to N of one N, each once (folders
    without a share are taken as they are), and no student is in two of them. Returns
    the students' results, sorted by name."""
    dirs = [Path(d) for d in dirs]
    if not dirs:
        raise ValueError("dirs: no output folders to merge")
    runs = [read_run(d) for d in dirs]
    first = runs[0]
    for d, run in zip(dirs, runs):
        for what in ("chapter", "salt"):
            if run[what] != first[what]:
                raise ValueError(f"the outputs differ in {what}: {dirs[0]} has "
                                 f"{first[what]!r}, {d} has {run[what]!r}")
        if [asdict(t) for t in run["tasks"]] != [asdict(t) for t in first["tasks"]]:
            raise ValueError(f"the outputs differ in their tasks: {dirs[0]} and {d}")
        for part in ("grader", "reference"):
            if run["digests"].get(part) != first["digests"].get(part):
                raise ValueError(f"the outputs were graded with different {part} code: "
                                 f"{dirs[0]} and {d}")
    shares = [tuple(run["shard"]) for run in runs if run["shard"]]
    if shares:
        n = shares[0][1]
        if any(s[1] != n for s in shares):
            raise ValueError(f"the shares are of different splits: "
                             f"{', '.join(f'{k}/{m}' for k, m in shares)}")
        counts = {k: sum(1 for s in shares if s[0] == k) for k in range(1, n + 1)}
        missing = [k for k, c in counts.items() if c == 0]
        twice = [k for k, c in counts.items() if c > 1]
        if twice:
            raise ValueError(f"share(s) {', '.join(map(str, twice))} of {n} given twice")
        if missing:
            raise ValueError(f"share(s) {', '.join(map(str, missing))} of {n} missing")
    owners: dict[str, Path] = {}
    students: list[StudentResult] = []
    questions: list = []
    for d in dirs:
        previous = read_previous(d)
        if previous is None:
            raise ValueError(f"{d} is not the output of a grading (no results.json)")
        if previous.chapter != first["chapter"] or previous.hidden_seed != first["salt"]:
            raise ValueError(f"{d}/results.json is not of the grading its cache records")
        questions = questions or previous.questions
        for student in previous.students:
            if student.student in owners:
                raise ValueError(f"student {student.student!r} is in two outputs: "
                                 f"{owners[student.student]} and {d}")
            owners[student.student] = d
            students.append(student)
    out = Path(out)
    for d in dirs:
        for part in ("tasks", TEXTS):
            source = d / CACHE / part
            if source.is_dir() and source.resolve() != (out / CACHE / part).resolve():
                shutil.copytree(source, out / CACHE / part, dirs_exist_ok=True)
    extra = {"questions": questions} if questions else {}
    write_reports(students, first["chapter"], first["tasks"], out, hidden_seed=first["salt"],
                  extra=_merged_extra(dirs, students), **extra)
    write_salt(out, first["salt"])
    write_run(out, chapter=first["chapter"], salt=first["salt"], shard=None,
              tasks=first["tasks"], students=owners, digests=first["digests"])
    ledger: dict = {}
    for d in dirs:
        try:
            ledger.update(json.loads((d / CACHE / "ledger.json").read_text("utf-8")))
        except (OSError, ValueError):
            pass
    _write_atomic(out / CACHE / "ledger.json", json.dumps(ledger, indent=0, sort_keys=True))
    from . import refresh

    refresh(out, solutions)  # the similarity report and manual.html over the whole class
    return sorted(students, key=lambda r: r.student.lower())
