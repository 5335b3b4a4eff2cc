"""What the grader reads: the chapter's reference solution, and the students' submissions.

* :func:`load_reference` turns ``solutions/NAME.py`` into the reference notebook, with its
  tasks (:func:`course_utils.notebook_format.task_layout`: points, task and check cells) and the
  cell ids of the exercise template that students start from.
* :func:`collect` turns what the course platform hands out (a ``.zip``, a folder of
  notebooks, a folder with one sub-folder per student, or single files) into one
  :class:`Submission` per student, named by the sub-folder or the file name. A submission
  that is a symbolic link (a file, a folder, or a zip entry) is not graded: it could
  point at the solutions or at a classmate's notebook.
* :func:`read_notebook` and :func:`task_code` find a student's code for each task: the
  cells tagged with its task id, wherever the student moved them, with the cells the
  student added next to them (a split cell); without tags, the cell that defines the
  task's names.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import struct
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo
from pathlib import Path

from ..notebook_format import (METADATA_KEY, Question, Task, make_exercise, parse_python,
                               question_layout, task_layout, to_ipynb, top_level_definitions)
from .status import (EMPTY_NOTEBOOK, NO_NOTEBOOK, NOT_A_ZIP, NOT_GRADED_SYMLINK,
                     not_a_notebook, several_notebooks, wrong_chapter)

__all__ = ["Reference", "Submission", "load_reference", "find_solutions", "collect",
           "read_notebook", "task_code", "student_name", "submission_time", "entry_time"]

MAX_NOTEBOOK_BYTES = 50 << 20


@dataclass
class Reference:
    """The reference solution of a chapter, as the grader uses it."""

    chapter: str
    code_cells: list[str]  # the sources of its code cells, in order
    tasks: list[Task]
    template_ids: set[str]  # cell ids of the exercise template
    defined_names: dict[str, set[str]] = field(default_factory=dict)  # task id -> names
    questions: list[Question] = field(default_factory=list)  # its written questions
    templates: dict[str, str] = field(default_factory=dict)  # task id -> the template's cell

    @property
    def max_points(self) -> float:
        """The tasks' points and the written questions' points."""
        return sum(t.points for t in self.tasks) + sum(q.points for q in self.questions)


def find_solutions(solutions: str | Path | None = None) -> Path:
    """The folder of solution sources: ``solutions`` if given, else ``solutions/`` in the
    current folder, else in the repository this package was installed from."""
    candidates = [Path(solutions)] if solutions else [
        Path.cwd() / "solutions", Path(__file__).resolve().parents[3] / "solutions"]
    for folder in candidates:
        if folder.is_dir() and any(folder.glob("*.py")):
            return folder
    raise FileNotFoundError("no solution sources found (looked in "
                            f"{', '.join(str(c) for c in candidates)}); pass --solutions DIR")


def load_reference(chapter: str, solutions: str | Path | None = None) -> Reference:
    """The reference of ``chapter``: a notebook name (``04_plrnn_max_lyapunov``) or its
    number (``04``, ``4``). Raises ``ValueError`` naming the chapters found."""
    folder = find_solutions(solutions)
    sources = sorted(p for p in folder.glob("*.py") if not p.name.startswith("_"))
    matches = [p for p in sources if p.stem == chapter] or [
        p for p in sources if chapter.isdigit() and p.stem.split("_")[0].lstrip("0") ==
        chapter.lstrip("0")]
    if len(matches) != 1:
        raise ValueError(f"unknown chapter {chapter!r}; the chapters are: "
                         f"{', '.join(p.stem for p in sources)}")
    source = matches[0]
    text = source.read_text(encoding="utf-8")
    tasks = task_layout(text, source)
    if not tasks:
        raise ValueError(f"chapter {source.stem} has no tasks to grade")
    import nbformat

    solution = nbformat.reads(to_ipynb(text, f"solutions/{source.stem}"), as_version=4)
    template = nbformat.reads(to_ipynb(make_exercise(text, source), f"exercises/{source.stem}"),
                              as_version=4)
    code_cells = [c.source for c in solution.cells if c.cell_type == "code"]
    names = {t.id: _top_level_names(code_cells[t.code_cell]) for t in tasks}
    from .similarity import task_templates

    return Reference(source.stem, code_cells, tasks, {c.id for c in template.cells}, names,
                     question_layout(text, source), task_templates(text, source))


def _top_level_names(source: str) -> set[str]:
    try:
        return top_level_definitions(parse_python(source))
    except SyntaxError:
        return set()


@dataclass
class Submission:
    """One student's submission: the file to grade, or why there is none."""

    student: str
    path: Path | None
    problem: str | None = None  # e.g. "not a notebook" when there is nothing to grade
    digest: str = ""  # SHA-256 of the file's bytes (identical submissions)
    raw: str = ""  # the name as the file or folder had it, before cleaning

    @property
    def submitted(self):
        """When it was handed in: the notebook's modification time (a zip entry's own
        time, which :func:`collect` keeps when it unpacks), UTC; None without a file."""
        if self.path is None or not self.path.is_file():
            return None
        return submission_time(self.path)

    def __post_init__(self):
        if self.path is not None and self.problem is None:
            if _linked(self.path):
                self.problem, self.path = NOT_GRADED_SYMLINK, None
            else:
                try:
                    self.digest = hashlib.sha256(self.path.read_bytes()).hexdigest() \
                        if self.path.stat().st_size <= MAX_NOTEBOOK_BYTES else ""
                except OSError:
                    pass


def _linked(path: Path, root: Path | None = None) -> bool:
    """Is ``path``, or a folder between ``root`` and it, a symbolic link?"""
    path = Path(path)
    if path.is_symlink():
        return True
    if root is not None:
        for parent in path.relative_to(root).parents:
            if parent != Path(".") and (root / parent).is_symlink():
                return True
    return False

def student_name(text: str) -> str:
    """A student's name as the grader writes it (and names their feedback file): ``text``
    (a file or folder name) with every run of characters other than letters, digits and
    ``.@+-`` made one ``_``, without leading or trailing ``.`` and ``_``, at most 80
    characters; ``"student"`` where nothing is left."""
    name = re.sub(r"[^\w.@+-]+", "_", text).strip("._") or "student"
    return name[:80]


def _submission(raw: str, path: Path | None, problem: str | None = None) -> "Submission":
    return Submission(student_name(raw), path, problem, raw=raw)


def _visible(path: Path) -> bool:
    return not any(part.startswith((".", "__MACOSX")) for part in path.parts)


def _has_link(folder: Path) -> bool:
    """Does ``folder`` hold a symbolic link anywhere (not followed)?"""
    for root, dirs, files in os.walk(folder, followlinks=False):
        if any((Path(root) / name).is_symlink() for name in [*dirs, *files]):
            return True
    return False


def _notebooks_in(folder: Path) -> list[Path]:
    """The notebooks under ``folder``, without following symbolic links to folders; a
    linked notebook is listed (and refused later)."""
    found = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "__MACOSX")))
        found += [Path(root) / f for f in files if f.endswith(".ipynb")
                  and _visible((Path(root) / f).relative_to(folder))]
    return sorted(found)


def _from_folder(folder: Path) -> list[Submission]:
    entries = sorted(p for p in folder.iterdir() if _visible(p.relative_to(folder)))
    links = [p for p in entries if p.is_symlink()]
    entries = [p for p in entries if not p.is_symlink()]
    subdirs = [p for p in entries if p.is_dir()]
    files = [p for p in entries if p.is_file()]
    if len(subdirs) == 1 and not files and not links and len(_notebooks_in(subdirs[0])) > 1:
        return _from_folder(subdirs[0])  # a zip whose one top-level folder holds the group
    found = [_submission(p.stem if p.suffix else p.name, None, NOT_GRADED_SYMLINK) for p in links]
    found += [_submission(p.stem, p) for p in files]
    for sub in subdirs:
        notebooks = _notebooks_in(sub)
        if _has_link(sub):
            found.append(_submission(sub.name, None, NOT_GRADED_SYMLINK))
        elif len(notebooks) == 1:
            found.append(_submission(sub.name, notebooks[0]))
        elif not notebooks:
            found.append(_submission(sub.name, None, NO_NOTEBOOK))
        else:
            named = [p for p in notebooks if not p.name.endswith("-checkpoint.ipynb")]
            found.append(_submission(sub.name, named[0] if len(named) == 1 else None,
                                     None if len(named) == 1 else
                                     several_notebooks(len(named))))
    return found


def _is_link_entry(info: zipfile.ZipInfo) -> bool:
    return info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16)


def _extract(archive: Path, into: Path) -> Path:
    """Extract a zip safely: no paths outside ``into``, no more than 1 GB in all. A
    symbolic link entry becomes a symbolic link to nowhere (``/dev/null``), which
    :func:`collect` refuses, instead of a file holding the link's target."""
    with zipfile.ZipFile(archive) as zf:
        if sum(i.file_size for i in zf.infolist()) > 1 << 30:
            raise ValueError(f"{archive}: more than 1 GB unpacked")
        for info in zf.infolist():
            target = (into / info.filename).resolve()
            if not target.is_relative_to(into.resolve()):
                raise ValueError(f"{archive}: unsafe path {info.filename!r}")
        links = [i.filename.rstrip("/") + "/" for i in zf.infolist() if _is_link_entry(i)]
        for info in zf.infolist():
            if any(info.filename.startswith(link) for link in links):
                continue  # inside a linked folder: the link itself is refused
            if _is_link_entry(info):
                link = into / info.filename.rstrip("/")
                link.parent.mkdir(parents=True, exist_ok=True)
                if not link.exists() and not link.is_symlink():
                    link.symlink_to("/dev/null")
            else:
                written = Path(zf.extract(info, into))
                when = None if info.is_dir() else entry_time(info)
                if when is not None:  # the entry's time, for late penalties
                    os.utime(written, (when.timestamp(),) * 2, follow_symlinks=False)
    return into


def collect(paths: list[str | Path], scratch: Path) -> list[Submission]:
    """One :class:`Submission` per student from ``paths`` (zips are unpacked into
    ``scratch``). A student name that occurs twice gets a suffix, ``_2``."""
    found: list[Submission] = []
    for k, raw in enumerate(paths):
        path = Path(raw)
        if not path.exists() and not path.is_symlink():
            raise FileNotFoundError(f"submission {raw!r} does not exist")
        if path.is_symlink() and not path.is_dir():
            found.append(_submission(path.stem, None, NOT_GRADED_SYMLINK))
        elif path.is_dir():
            found += _from_folder(path)
        elif path.suffix.lower() == ".zip":
            target = scratch / f"zip{k}"
            target.mkdir(parents=True)
            try:
                found += _from_folder(_extract(path, target))
            except zipfile.BadZipFile:
                found.append(_submission(path.stem, None, NOT_A_ZIP))
            except (ValueError, OSError) as error:
                found.append(_submission(path.stem, None, "unsafe zip archive ("
                                         + re.sub(r"[^\w .,:/'()-]+", "_", str(error))[:160]
                                         + ")"))
        else:
            found.append(_submission(path.stem, path))
    # A student whose file or folder name is their name as written keeps it; a name that
    # only cleaning made equal to another ("victim .ipynb", "victim.ipynb") gets a suffix,
    # so that no one can take a classmate's row.
    used: set[str] = set()
    exact = [s for s in found if s.raw == s.student]
    for sub in [*exact, *(s for s in found if s.raw != s.student)]:
        name, k = sub.student, 1
        while name in used:
            k += 1
            name = f"{sub.student}_{k}"
        sub.student = name
        used.add(name)
    return found


def read_notebook(path: Path, chapter: str):
    """The notebook at ``path``, or ``(None, problem)``: "not a notebook" (not JSON, not
    nbformat), "empty notebook", or "wrong chapter (...)"."""
    import nbformat

    if _linked(path):
        return None, NOT_GRADED_SYMLINK
    if path.stat().st_size > MAX_NOTEBOOK_BYTES:
        return None, not_a_notebook("larger than 50 MB")
    try:
        raw = json.loads(path.read_bytes().decode("utf-8"))
        notebook = nbformat.reads(json.dumps(raw), as_version=4)
    except (UnicodeDecodeError, ValueError, TypeError, KeyError, AttributeError) as error:
        return None, not_a_notebook(type(error).__name__)
    except Exception as error:  # noqa: BLE001 - nbformat raises its own error types
        return None, not_a_notebook(type(error).__name__)
    if not isinstance(notebook.get("cells"), list):
        return None, not_a_notebook("no cells")
    if not all(isinstance(c, dict) and c.get("cell_type") in ("code", "markdown", "raw")
               and isinstance(c.get("source", ""), str) for c in notebook.cells):
        return None, not_a_notebook("a cell without a type or a source")
    if not [c for c in notebook.cells if c.get("cell_type") == "code"]:
        return None, EMPTY_NOTEBOOK
    meta = notebook.metadata.get(METADATA_KEY) or {}
    other = meta.get("chapter") if isinstance(meta, dict) else None
    if other and other != chapter:
        shown = re.sub(r"[^\w.-]+", "_", str(other))[:60]
        return None, wrong_chapter(shown)
    return notebook, None


def _task_of(cell) -> str | None:
    meta = cell.get("metadata", {}).get(METADATA_KEY)
    return meta.get("task") if isinstance(meta, dict) else None


def task_code(notebook, reference: Reference, task: Task) -> tuple[str | None, str]:
    """The student's code for ``task`` and how it was found ("tagged", "tagged, with N
    added cells", "by name ..."), or ``(None, "task cell not found")``."""
    cells = notebook.cells
    tagged = [i for i, c in enumerate(cells) if c.cell_type == "code" and _task_of(c) == task.id]
    if tagged:
        chosen = set(tagged)
        for i in tagged:  # cells the student added next to a task cell: a split cell
            for step in (-1, 1):
                j = i + step
                while 0 <= j < len(cells) and j not in chosen and _added(cells[j], reference):
                    chosen.add(j)
                    j += step
        extra = len(chosen) - len(tagged)
        how = "tagged" + (f", with {extra} cell{'s' * (extra > 1)} added beside it" if extra
                          else "")
        return "\n\n".join(cells[i].source for i in sorted(chosen)), how
    wanted = reference.defined_names.get(task.id) or set()
    if wanted:
        for cell in reversed(cells):
            if cell.cell_type == "code" and wanted <= _top_level_names(cell.source):
                return cell.source, f"by name ({', '.join(sorted(wanted))}): the task tag is missing"
    return None, "task cell not found"


def _added(cell, reference: Reference) -> bool:
    # Without cell ids (nbformat < 4.5) no cell can be told to be new: none is taken.
    return (cell.cell_type == "code" and cell.get("id") is not None
            and cell.get("id") not in reference.template_ids
            and _task_of(cell) is None and not (cell.get("metadata", {}).get(METADATA_KEY)))


def submission_time(path: str | Path, member: str | None = None, *,
                    zone: tzinfo = timezone.utc) -> datetime:
    """When a submission was made: the modification time of the file ``path``, or, with
    ``member``, the time of that entry of the zip archive ``path`` (its Info-ZIP extended
    timestamp, in UTC, where the archive has one; else its date_time, which has no zone
    and is read in ``zone``, UTC by default). A file unpacked from a zip has the time it
    was unpacked: ask the archive."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"submission_time: path {str(path)!r} does not exist")
    if member is None:
        if not path.is_file():
            raise ValueError(f"submission_time: path {str(path)!r} is not a file")
        return datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise ValueError(f"submission_time: path {str(path)!r} is not a zip archive, so it "
                         f"has no member {member!r}") from None
    with archive:
        name = str(member).replace("\\", "/")
        for candidate in (name, name.rstrip("/") + "/"):
            try:
                info = archive.getinfo(candidate)
                break
            except KeyError:
                continue
        else:
            raise ValueError(f"submission_time: member {member!r} is not in {str(path)!r}")
    when = entry_time(info, zone=zone)
    if when is None:
        raise ValueError(f"submission_time: member {member!r} of {str(path)!r} has no valid "
                         f"time (date_time {info.date_time})")
    return when


def entry_time(info: zipfile.ZipInfo, *, zone: tzinfo = timezone.utc) -> datetime | None:
    """The time of a zip entry: its Info-ZIP extended timestamp, in UTC, where it has one;
    else its date_time, which has no zone and is read in ``zone`` (UTC by default); None
    where neither is a valid time."""
    stamp = _extended_mtime(info.extra)
    try:
        if stamp is not None:
            return datetime.fromtimestamp(stamp, timezone.utc)
        return datetime(*info.date_time, tzinfo=zone)
    except (ValueError, OverflowError, OSError):
        return None


def _extended_mtime(extra: bytes) -> int | None:
    """The modification time of a zip entry's Info-ZIP extended timestamp field (0x5455),
    seconds since 1970 UTC, or None."""
    position = 0
    while position + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, position)
        data = extra[position + 4:position + 4 + size]
        if tag == 0x5455 and len(data) >= 5 and data[0] & 1:
            return struct.unpack_from("<i", data, 1)[0]
        position += 4 + size
    return None
