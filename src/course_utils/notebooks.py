"""Generate exercise templates and paired notebooks from the solution sources.

Every notebook of the course has exactly one source that a person edits: the solution,
a Jupytext text notebook in the *py:percent* format, ``solutions/NAME.py``. From it,

    python -m course_utils.notebooks release

writes

* ``solutions/NAME.ipynb``: the same notebook as ``.ipynb``, without outputs;
* ``exercises/NAME.py`` and ``exercises/NAME.ipynb``: the student's template.

The solution notebook's task cells are tagged ``hide-input`` (the book shows them behind
a "Show solution" toggle). The template starts with a setup cell that installs
``course_utils`` on Colab from the repository configured in ``book/_config.yml``
(:mod:`course_utils.repository`).

The template is the solution with its marked regions taken out:

* in a code cell, the lines between ``# BEGIN SOLUTION <task>`` and ``# END SOLUTION`` are
  replaced, at the indentation of the ``BEGIN`` line, by ``# your code here`` and a
  ``raise NotImplementedError(...)`` that names the task;
* in a markdown cell, the lines between ``<!-- BEGIN SOLUTION -->`` and
  ``<!-- END SOLUTION -->`` are removed (a cell left empty is dropped).

Every task is gradable (:func:`task_layout`): its ``BEGIN`` line names it ``Task N (...)``
and declares its points, ``# BEGIN SOLUTION Task 2 (the naive product) [2 points]``; a code
cell holds at most one task, and a later code cell, before the next task, calls the task's
``check_*`` function (and the task's own cell calls none). The generated ``.ipynb`` files
carry this in their metadata, under ``"course_utils"``: the notebook its chapter, the task
cell ``{"task": "task2", "title": ..., "points": 2}``, the check cell ``{"check":
"task2"}``. The grader (:mod:`course_utils.grading`) finds a student's task cells by it,
wherever the student moved them.

``release --check`` writes nothing; it exits with status 1 and names every generated file
that is missing, out of date, or left over from a solution that no longer exists.
Malformed markers (unbalanced, nested, a task name missing, a code marker in markdown or a
markdown marker in code) raise :class:`MarkerError` naming the file and line, and then
nothing at all is written.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

from .checks.review import CHECK_CALL
from .references import check_citations, load_bibliography, plain_citations
from .repository import Repository, read_repository, setup_cell

__all__ = [
    "MarkerError",
    "Cell",
    "Task",
    "parse_percent",
    "task_layout",
    "make_exercise",
    "solution_tasks",
    "exercise_tasks",
    "to_ipynb",
    "expected_outputs",
    "nbval_ipynb",
    "release",
    "main",
]

CODE_BEGIN = re.compile(r"^(?P<indent>[ \t]*)#\s*BEGIN SOLUTION\b(?P<task>.*)$")
CODE_END = re.compile(r"^[ \t]*#\s*END SOLUTION\b(?P<rest>.*)$")
MD_BEGIN = re.compile(r"^#?\s*<!--\s*BEGIN SOLUTION\s*-->\s*$")
MD_END = re.compile(r"^#?\s*<!--\s*END SOLUTION\s*-->\s*$")
CELL_START = re.compile(r"^# %%(?P<rest>.*)$")
POINTS = re.compile(r"\s*\[\s*(?P<points>\d+(?:\.\d+)?)\s*points?\s*\]"
                    r"(?P<rest>(?:\s*\[\s*[A-Za-z]+\s*:[^\]]*\])*)\s*$")
#: A declaration beside a task's points: ``[reference: course_utils.x.f, ...]``, ``[allow: ...]``.
DECLARATION = re.compile(r"\[\s*(?P<key>[A-Za-z]+)\s*:(?P<names>[^\]]*)\]")
#: A comment line that continues a BEGIN line's declarations.
DECLARATION_LINE = re.compile(r"^[ \t]*#(?:\s*\[\s*[A-Za-z]+\s*:[^\]]*\])+\s*$")
QUALIFIED_NAME = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*$")
#: The generated table of the tasks' declarations, inside the package (see release).
DECLARED = Path("src") / "course_utils" / "checks" / "declared.py"
TASK_NUMBER = re.compile(r"^Task\s+(?P<number>\d+)\b")
METADATA_KEY = "course_utils"
#: A markdown answer in the solution notebooks (the book): collapsed until clicked.
ANSWER_OPEN = '<details class="course-answer"><summary>Show answer</summary>'
ANSWER_CLOSE = "</details>"
SETUP_HEADER = "# %%"  # the exercise's setup cell (see make_exercise)
SETUP_CELLS = 1  # code cells the template has before the solution's first one
HIDE_SOLUTION = {"code_prompt_show": "Show solution", "code_prompt_hide": "Hide solution"}

PLACEHOLDER = "# your code here"
BIBLIOGRAPHY = "book/references.bib"  # the works the chapters cite (course_utils.references)
CHECK_TAG = "nbval-check-output"
EXPECTED = re.compile(r"^#\s*Expected output:\s*$")


class MarkerError(ValueError):
    """A solution marker is malformed; the message names the file and the line."""

    def __init__(self, path: str | Path, line: int, message: str):
        self.path = str(path)
        self.line = line
        super().__init__(f"{path}:{line}: {message}")


@dataclass
class Cell:
    """One cell of a py:percent file: its header line, its kind and its body lines."""

    header: str  # the "# %% ..." line as written
    kind: str  # "code", "markdown" or "raw"
    first_line: int  # 1-based line number of the header in the file
    lines: list[str] = field(default_factory=list)


def parse_percent(text: str) -> tuple[list[str], list[Cell]]:
    """Split a py:percent text into its preamble (the Jupytext header) and its cells."""
    preamble: list[str] = []
    cells: list[Cell] = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = CELL_START.match(line)
        if match:
            rest = match.group("rest")
            kind = "markdown" if "[markdown]" in rest or "[md]" in rest else (
                "raw" if "[raw]" in rest else "code")
            cells.append(Cell(header=line, kind=kind, first_line=number))
        elif cells:
            cells[-1].lines.append(line)
        else:
            preamble.append(line)
    return preamble, cells


@dataclass(frozen=True)
class Task:
    """A gradable task of a solution source (see :func:`task_layout`)."""

    id: str  # "task2", from the name "Task 2 (...)"
    title: str  # the name as written, without the points: "Task 2 (the naive product)"
    points: float
    code_cell: int  # 0-based position of the task's cell among the code cells
    check_cell: int  # 0-based position of the cell that calls its check, among code cells
    checks: tuple[str, ...]  # the check functions that cell calls
    line: int  # the BEGIN line in the source
    references: tuple[str, ...] = ()  # package names that implement the task
    allowed: tuple[str, ...] = ()  # names a correct solution may use although flagged


def _split_task(raw: str) -> tuple[str, float | None]:
    """The task name of a ``BEGIN SOLUTION`` line and its declared points (or None)."""
    return _split_declaration(raw)[:2]


def _split_declaration(raw: str) -> tuple[str, float | None, str]:
    """The task name, the points (or None) and the declarations after the points of the
    rest of a ``BEGIN SOLUTION`` line."""
    match = POINTS.search(raw)
    points = float(match.group("points")) if match else None
    if points is not None and points.is_integer():
        points = int(points)
    name = raw[:match.start()] if match else raw
    return name.strip().lstrip(":").strip(), points, match.group("rest") if match else ""


def _declarations(text: str, path: str | Path, line: int) -> dict[str, tuple[str, ...]]:
    """``{"reference": (...), "allow": (...)}`` from the bracket groups in ``text``."""
    found: dict[str, list[str]] = {"reference": [], "allow": []}
    for group in DECLARATION.finditer(text):
        key = {"reference": "reference", "references": "reference", "allow": "allow",
               "allowed": "allow"}.get(group.group("key").lower())
        if key is None:
            raise MarkerError(path, line, f"unknown declaration [{group.group('key')}: ...]; "
                              "a task declares [reference: ...] and [allow: ...]")
        for name in (n.strip() for n in group.group("names").split(",")):
            if not QUALIFIED_NAME.match(name):
                raise MarkerError(path, line, f"[{key}: ...] takes qualified names separated "
                                  f"by commas; got {name!r}")
            if key == "reference" and not name.startswith("course_utils."):
                raise MarkerError(path, line, "a task's [reference: ...] names the package's "
                                  f"own functions, course_utils.<module>.<name>; got {name!r}")
            found[key].append(name)
    return {key: tuple(names) for key, names in found.items()}


def task_layout(text: str, path: str | Path = "<solution>") -> list[Task]:
    """The gradable tasks of a solution's text, validated; raises :class:`MarkerError`.

    Each task needs a name ``Task N (...)`` (``N`` unique in the file), declared points
    (``[2 points]`` at the end of its ``BEGIN`` line), a code cell of its own, and a later
    code cell, before the next task's, that calls a ``check_*`` function at its top level;
    the task's own cell must call none (the grader replaces the check cell by its own call
    and never runs a student's).
    """
    preamble, cells = parse_percent(text)
    solution_tasks(text, path)  # the markers themselves are well formed
    for number, line in enumerate(preamble, start=1):
        if line.strip() and not line.lstrip().startswith("#"):
            raise MarkerError(path, number, "code before the first '# %%' cell marker: "
                              "start every cell with '# %%'")
    code = [c for c in cells if c.kind == "code"]
    found: list[tuple[int, int, str, float | None]] = []
    for position, cell in enumerate(code):
        begins = []
        for offset, line in enumerate(cell.lines, start=1):
            if CODE_BEGIN.match(line):
                raw = CODE_BEGIN.match(line).group("task")
                for more in cell.lines[offset:]:  # declarations continued on comment lines
                    if not DECLARATION_LINE.match(more):
                        break
                    raw += " " + more.strip().lstrip("#")
                begins.append((cell.first_line + offset, raw))
        if len(begins) > 1:
            raise MarkerError(path, begins[1][0], "a code cell may hold only one task (the "
                              "grader replaces the whole cell): give each task a cell of its own")
        for line, raw in begins:
            found.append((position, line, *_split_declaration(raw)))
    tasks: list[Task] = []
    for k, (position, line, name, points, rest) in enumerate(found):
        number = TASK_NUMBER.match(name)
        if not number:
            raise MarkerError(path, line, f"a gradable task is named 'Task N (...)'; got {name!r}")
        if points is None:
            raise MarkerError(path, line, "declare the task's points at the end of its BEGIN "
                              f"line, e.g. '# BEGIN SOLUTION {name} [2 points]'")
        task_id = f"task{int(number.group('number'))}"
        if any(t.id == task_id for t in tasks):
            raise MarkerError(path, line, f"a second task numbered {number.group('number')}")
        own = _check_calls(code[position])
        if own:
            raise MarkerError(path, code[position].first_line, f"{name}: its cell calls "
                              f"{own[0]}; put the check in a cell of its own after the task")
        end = found[k + 1][0] if k + 1 < len(found) else len(code)
        check_cell = next((j for j in range(position + 1, end) if _check_calls(code[j])), None)
        if check_cell is None:
            raise MarkerError(path, line, f"{name} has no check: a code cell after the task's "
                              "(and before the next task) must call its check_* function")
        declared = _declarations(rest, path, line)
        tasks.append(Task(task_id, name, points, position, check_cell,
                          tuple(_check_calls(code[check_cell])), line,
                          declared["reference"], declared["allow"]))
    return tasks


def declared_module(chapters: dict[str, list[Task]]) -> str:
    """The text of the package's table of the tasks' declarations
    (:mod:`course_utils.checks.declared`), from each chapter's :func:`task_layout`."""
    import json

    table = {chapter: [{"task": t.id, "title": t.title, "points": t.points,
                        "checks": list(t.checks), "references": list(t.references),
                        "allowed": list(t.allowed)} for t in tasks]
             for chapter, tasks in sorted(chapters.items())}
    return ('"""The package names that implement each task, as the solution sources '
            'declare them.\n\nGenerated by ``python -m course_utils.notebooks release`` from '
            'the ``BEGIN SOLUTION``\nlines of ``solutions/*.py``; do not edit (``release '
            '--check`` fails when it is out of\ndate). Read it with '
            ':func:`course_utils.checks.review.declaration_of`.\n"""\n\n'
            f"TASKS = {json.dumps(table, indent=4, ensure_ascii=False)}\n")


def _check_calls(cell: Cell) -> list[str]:
    """The names of the ``check_*`` functions a code cell calls at its top level."""
    return [m.group("name") for m in map(CHECK_CALL.match, cell.lines) if m]


def _task_error_call(task: str) -> str:
    return f"raise NotImplementedError({f'{task}: your code here'!r})"


def _strip_code_cell(cell: Cell, path: str | Path, regions: list[str],
                     solved: int) -> list[str]:
    """The template's lines of a code cell; appends the task of each region to ``regions``.

    Regions whose running index (over the whole file) is below ``solved`` keep their
    solution lines, without the markers.
    """
    out: list[str] = []
    open_at: int | None = None
    keep = False
    for offset, line in enumerate(cell.lines, start=1):
        number = cell.first_line + offset
        if MD_BEGIN.match(line) or MD_END.match(line):
            raise MarkerError(path, number, "markdown solution marker in a code cell; "
                              "use '# BEGIN SOLUTION <task>' / '# END SOLUTION' in code")
        begin, end = CODE_BEGIN.match(line), CODE_END.match(line)
        if begin:
            if open_at is not None:
                raise MarkerError(path, number, f"nested BEGIN SOLUTION (the region opened "
                                  f"on line {open_at} is not closed)")
            task = _split_task(begin.group("task"))[0]
            if not task:
                raise MarkerError(path, number, "BEGIN SOLUTION needs a task name, e.g. "
                                  "'# BEGIN SOLUTION Task 1: the cell's call'")
            keep = len(regions) < solved
            regions.append(task)
            if not keep:
                indent = begin.group("indent")
                out += [indent + PLACEHOLDER, indent + _task_error_call(task)]
            open_at = number
        elif end:
            if open_at is None:
                raise MarkerError(path, number, "END SOLUTION without a BEGIN SOLUTION")
            if end.group("rest").strip():
                raise MarkerError(path, number, "unexpected text after END SOLUTION")
            open_at = None
        elif open_at is None or keep:
            out.append(line)
    if open_at is not None:
        raise MarkerError(path, open_at, "BEGIN SOLUTION is not closed within its cell")
    return out


def _strip_markdown_cell(cell: Cell, path: str | Path) -> list[str]:
    out: list[str] = []
    open_at: int | None = None
    for offset, line in enumerate(cell.lines, start=1):
        number = cell.first_line + offset
        if CODE_BEGIN.match(line) or CODE_END.match(line):
            raise MarkerError(path, number, "code solution marker in a markdown cell; "
                              "use '<!-- BEGIN SOLUTION -->' / '<!-- END SOLUTION -->' there")
        if MD_BEGIN.match(line):
            if open_at is not None:
                raise MarkerError(path, number, f"nested <!-- BEGIN SOLUTION --> (the region "
                                  f"opened on line {open_at} is not closed)")
            open_at = number
        elif MD_END.match(line):
            if open_at is None:
                raise MarkerError(path, number, "<!-- END SOLUTION --> without a BEGIN")
            open_at = None
        elif open_at is None:
            out.append(line)
    if open_at is not None:
        raise MarkerError(path, open_at, "<!-- BEGIN SOLUTION --> is not closed within its cell")
    return out


def make_exercise(text: str, path: str | Path = "<solution>", *, solved: int = 0,
                  repository: Repository | None = None) -> str:
    """Return the exercise template (py:percent text) generated from a solution's text.

    ``solved = k`` keeps the first ``k`` solution regions filled in (tests use it to check
    that each task's stub is the first thing that fails once the tasks before it are done).
    Before the first code cell the template gets a setup cell of its own
    (:func:`course_utils.repository.setup_cell`), which installs ``course_utils`` from
    ``repository`` (default None: not configured) when the notebook runs on Colab; so the
    template's code cell ``k + SETUP_CELLS`` is the solution's code cell ``k``.
    Raises :class:`MarkerError` (with ``path`` and the line) on a malformed marker.
    """
    preamble, cells = parse_percent(text)
    out = list(preamble)
    regions: list[str] = []
    setup = [SETUP_HEADER, *setup_cell(repository).splitlines(), ""]
    for cell in cells:
        if cell.kind == "code" and setup:
            out, setup = out + setup, []
        if cell.kind == "code":
            body = _strip_code_cell(cell, path, regions, solved)
        else:
            body = _strip_markdown_cell(cell, path)
            if cell.kind == "markdown" and not any(line.strip("# \t") for line in body):
                # Nothing but solution text in it: drop the cell and its trailing blank line.
                continue
        out += [cell.header, *body]
    return "\n".join(out).rstrip("\n") + "\n"


def solution_tasks(text: str, path: str | Path = "<solution>") -> list[str]:
    """The task names of a solution's regions, in order (validating all markers)."""
    preamble, cells = parse_percent(text)
    regions: list[str] = []
    for cell in cells:
        if cell.kind == "code":
            _strip_code_cell(cell, path, regions, solved=0)
        else:
            _strip_markdown_cell(cell, path)
    return regions


def to_ipynb(text: str, name: str, *, chapter: str | None = None,
             tasks: list[Task] = (), hide_solutions: bool = False) -> str:
    """Convert py:percent text to ``.ipynb`` JSON without outputs, deterministically.

    Cell ids are derived from ``name`` and the cell's position, so that the same source
    always gives the same file (the ``--check`` mode relies on it). With ``chapter`` and
    ``tasks`` (:func:`task_layout` of the solution), the notebook's metadata names the
    chapter, and each task cell and check cell carries its task under ``"course_utils"``
    (task cells cannot be deleted, check cells cannot be edited, in JupyterLab).
    ``hide_solutions=True`` (default False; the release uses it for the solutions) also
    tags each task cell ``hide-input`` with MyST-NB's prompts "Show solution" / "Hide
    solution", so that the book shows the task's code collapsed, its outputs open, and
    turns each markdown answer (``<!-- BEGIN SOLUTION -->`` ... ``<!-- END SOLUTION -->``)
    into a closed HTML ``<details>`` block, "Show answer", which the book and Jupyter both
    show collapsed.
    """
    import jupytext
    import nbformat

    notebook = jupytext.reads(text, fmt="py:percent")
    code_cells = []
    for index, cell in enumerate(notebook.cells):
        digest = hashlib.sha1(f"{name}:{index}".encode()).hexdigest()[:8]
        cell["id"] = f"cell-{index:03d}-{digest}"
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            code_cells.append(cell)
        elif cell.cell_type == "markdown" and hide_solutions:
            cell.source = _collapse_answers(cell.source)
    if chapter is not None:
        notebook.metadata[METADATA_KEY] = {"chapter": chapter}
    for task in tasks:
        code_cells[task.code_cell].metadata[METADATA_KEY] = {
            "task": task.id, "title": task.title, "points": task.points}
        code_cells[task.code_cell].metadata["deletable"] = False
        if hide_solutions:
            metadata = code_cells[task.code_cell].metadata
            metadata["tags"] = [*metadata.get("tags", []), "hide-input"]
            metadata["mystnb"] = dict(HIDE_SOLUTION)
        code_cells[task.check_cell].metadata[METADATA_KEY] = {"check": task.id}
        code_cells[task.check_cell].metadata.update(deletable=False, editable=False)
    notebook.nbformat, notebook.nbformat_minor = 4, 5
    return nbformat.writes(notebook) + "\n"


def _collapse_answers(source: str) -> str:
    """A markdown cell's solution regions as closed ``<details>`` blocks (blank lines
    around the answer, so that Jupyter and MyST render it as markdown)."""
    lines = []
    for line in source.split("\n"):
        if MD_BEGIN.match(line):
            lines += [ANSWER_OPEN, ""]
        elif MD_END.match(line):
            lines += ["", ANSWER_CLOSE]
        else:
            lines.append(line)
    return "\n".join(lines)


def expected_outputs(text: str, path: str | Path = "<solution>") -> list[str | None]:
    """For every code cell, the output it must print, or None if it is not checked.

    A code cell tagged ``nbval-check-output`` (``# %% tags=["nbval-check-output"]``) ends
    with a comment block that starts with ``# Expected output:``; each following line
    ``# text`` is one line of the expected standard output (``#`` alone: an empty line).
    A tagged cell without that block raises :class:`MarkerError`.
    """
    _, cells = parse_percent(text)
    found: list[str | None] = []
    for cell in cells:
        if cell.kind != "code":
            continue
        heads = [i for i, line in enumerate(cell.lines) if EXPECTED.match(line)]
        if CHECK_TAG not in cell.header:
            if heads:
                raise MarkerError(path, cell.first_line + heads[0] + 1,
                                  f"'# Expected output:' in a cell not tagged {CHECK_TAG!r}")
            found.append(None)
            continue
        if not heads:
            raise MarkerError(path, cell.first_line, f"cell tagged {CHECK_TAG!r} has no "
                              "'# Expected output:' comment block at its end")
        block = cell.lines[heads[-1] + 1:]
        while block and not block[-1].strip():
            block.pop()
        for offset, line in enumerate(block, start=heads[-1] + 2):
            if not line.startswith("#"):
                raise MarkerError(path, cell.first_line + offset, "the expected-output block "
                                  "must be the last thing in its cell, every line a comment")
        found.append("\n".join(line[2:] if line.startswith("# ") else line[1:]
                                for line in block) + "\n")
    return found


def nbval_ipynb(text: str, name: str, path: str | Path = "<solution>") -> str:
    """The solution as ``.ipynb`` for nbval: the cells tagged ``nbval-check-output`` carry
    their expected output (see :func:`expected_outputs`) as a stdout stream."""
    import nbformat

    notebook = nbformat.reads(to_ipynb(text, name), as_version=4)
    code_cells = [c for c in notebook.cells if c.cell_type == "code"]
    wanted = expected_outputs(text, path)
    if len(code_cells) != len(wanted):  # pragma: no cover - jupytext and our parser agree
        raise RuntimeError(f"{path}: found {len(wanted)} code cells, Jupytext {len(code_cells)}")
    for count, (cell, output) in enumerate(zip(code_cells, wanted), start=1):
        if output is not None:
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=output)]
            cell.execution_count = count  # nbval skips the outputs of "unrun" cells
    return nbformat.writes(notebook) + "\n"


def _outputs_for(solution: Path, root: Path,
                 repository: Repository | None = None,
                 references: dict | None = None) -> dict[Path, str]:
    text = solution.read_text(encoding="utf-8")
    exercise = make_exercise(text, solution.relative_to(root), repository=repository)
    if references is not None:  # the template's citations become plain text
        check_citations(text, references, solution.relative_to(root), BIBLIOGRAPHY)
        exercise = plain_citations(exercise, references, solution.relative_to(root))
    expected_outputs(text, solution.relative_to(root))  # validates the expected outputs
    tasks = task_layout(text, solution.relative_to(root))
    name = solution.stem
    return {
        root / "solutions" / f"{name}.ipynb": to_ipynb(text, f"solutions/{name}", chapter=name,
                                                       tasks=tasks, hide_solutions=True),
        root / "exercises" / f"{name}.py": exercise,
        root / "exercises" / f"{name}.ipynb": to_ipynb(exercise, f"exercises/{name}",
                                                       chapter=name,
                                                       tasks=exercise_tasks(tasks)),
    }


def exercise_tasks(tasks: list[Task]) -> list[Task]:
    """exercise_tasks(tasks) -> list[Task]

    The solution's ``tasks`` (:func:`task_layout`) with their code and check cells counted
    in the exercise template, which has ``SETUP_CELLS`` code cells more at its start.
    """
    return [replace(t, code_cell=t.code_cell + SETUP_CELLS,
                    check_cell=t.check_cell + SETUP_CELLS) for t in tasks]


def solution_sources(root: Path) -> list[Path]:
    """The solution sources under ``root/solutions``: every ``*.py`` not starting with ``_``."""
    return sorted(p for p in (root / "solutions").glob("*.py") if not p.name.startswith("_"))


def release(root: str | Path = ".", check: bool = False) -> list[Path]:
    """Generate (or, with ``check=True``, verify) every template and paired notebook.

    Returns the paths that were written (or, in check mode, that are out of date: missing,
    different from what the sources give, or generated files whose solution is gone).
    All sources are processed before anything is written, so a malformed marker in any
    of them leaves the tree untouched. Citations in the templates become plain text, with
    the works of ``root/book/references.bib`` (:mod:`course_utils.references`); a citation
    of a key that file lacks raises :class:`~course_utils.references.CitationError`. The
    exercises' setup cell installs the package from the repository of
    ``root/book/_config.yml`` (:func:`course_utils.repository.read_repository`).
    """
    root = Path(root).resolve()
    sources = solution_sources(root)
    if not sources:
        raise FileNotFoundError(f"no solution sources found in {root / 'solutions'}")
    repository = read_repository(root / "book" / "_config.yml")
    bib = root / BIBLIOGRAPHY
    references = load_bibliography(bib) if bib.exists() else {}
    wanted: dict[Path, str] = {}
    for source in sources:
        wanted.update(_outputs_for(source, root, repository, references))
    if (root / DECLARED).parent.is_dir():  # the package's table of the tasks' declarations
        wanted[root / DECLARED] = declared_module({
            s.stem: task_layout(s.read_text(encoding="utf-8"), s.relative_to(root))
            for s in sources})

    stale = [p for p, content in wanted.items()
             if not p.exists() or p.read_text(encoding="utf-8") != content]
    stems = {s.stem for s in sources}
    orphans = sorted(p for p in [*(root / "exercises").glob("*.py"),
                                 *(root / "exercises").glob("*.ipynb"),
                                 *(root / "solutions").glob("*.ipynb")]
                     if p.stem not in stems)
    if check:
        return sorted(stale) + orphans
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(wanted[path], encoding="utf-8")
    for path in orphans:
        path.unlink()
    return sorted(stale) + orphans


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m course_utils.notebooks",
        description="Generate exercise templates and paired .ipynb files from solutions/*.py.")
    sub = parser.add_subparsers(dest="command", required=True)
    rel = sub.add_parser("release", help="write (or check) the generated notebooks")
    rel.add_argument("--check", action="store_true",
                     help="write nothing; exit 1 and list the files that are out of date")
    rel.add_argument("--root", default=".", help="repository root (default: current folder)")
    val = sub.add_parser("nbval", help="write the solutions, with the expected outputs "
                         "of their checked cells, as notebooks for pytest --nbval-lax")
    val.add_argument("--out", required=True, help="folder to write NAME.ipynb into")
    val.add_argument("--root", default=".", help="repository root (default: current folder)")
    args = parser.parse_args(argv)

    if args.command == "nbval":
        root, out = Path(args.root).resolve(), Path(args.out)
        try:
            written = {s: nbval_ipynb(s.read_text(encoding="utf-8"), f"solutions/{s.stem}",
                                      s.relative_to(root)) for s in solution_sources(root)}
        except MarkerError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        out.mkdir(parents=True, exist_ok=True)
        for old_file in out.glob("*.ipynb"):
            old_file.unlink()
        for source, content in written.items():
            (out / f"{source.stem}.ipynb").write_text(content, encoding="utf-8")
        print(f"wrote {len(written)} notebook(s) to {out}")
        return 0
    try:
        changed = release(args.root, check=args.check)
    except ValueError as error:  # a MarkerError, or a malformed repository URL
        print(f"error: {error}\nnothing was written.", file=sys.stderr)
        return 2
    root = Path(args.root).resolve()
    names = [str(p.relative_to(root)) for p in changed]
    if args.check:
        if names:
            print("out of date (run `python -m course_utils.notebooks release`):",
                  *names, sep="\n  ", file=sys.stderr)
            return 1
        print("all generated notebooks are up to date")
        return 0
    if names:
        print("written or removed:", *names, sep="\n  ")
    else:
        print("nothing to do")
    return 0


if __name__ == "__main__":
    sys.exit(main())
