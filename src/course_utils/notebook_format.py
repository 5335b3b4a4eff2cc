"""The course's notebook format, owned here and used by the release tool
(:mod:`course_utils.authoring.release`), the checks and the grader alike.

Every notebook has one source a person edits: the solution, a Jupytext *py:percent* text
``solutions/NAME.py``. A task's code lies between ``# BEGIN SOLUTION Task N (...) [k
points]`` and ``# END SOLUTION``; the template (:func:`make_exercise`) has, in its place,
the placeholder ``# your code here`` and a ``raise NotImplementedError(...)`` naming the
task. A written answer lies between ``<!-- BEGIN SOLUTION -->`` and ``<!-- END SOLUTION
-->``. A later code cell calls the task's ``check_*`` function (:func:`find_check_calls`).
The generated ``.ipynb`` files (:func:`to_ipynb`) carry the chapter, the tasks and their
check cells in their metadata under :data:`METADATA_KEY`, by which the grader finds a
student's task cells wherever they were moved. Malformed markers raise
:class:`MarkerError` naming the file and the line.

This module imports only the standard library (and Jupytext and nbformat inside
:func:`to_ipynb`).
"""

from __future__ import annotations

import ast
import hashlib
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "MarkerError", "Cell", "Task", "CheckCall", "METADATA_KEY", "PLACEHOLDER", "SETUP_CELLS",
    "parse_percent", "task_layout", "solution_tasks", "make_exercise", "to_ipynb",
    "find_check_calls", "check_call_names", "strip_check_calls", "placeholder_error",
    "parse_python", "top_level_definitions",
    "is_placeholder_message",
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
TASK_NUMBER = re.compile(r"^Task\s+(?P<number>\d+)\b")
METADATA_KEY = "course_utils"
#: A markdown answer in the solution notebooks (the book): collapsed until clicked.
ANSWER_OPEN = '<details class="course-answer"><summary>Show answer</summary>'
ANSWER_CLOSE = "</details>"
SETUP_HEADER = "# %%"  # the exercise's setup cell (see make_exercise)
SETUP_CELLS = 1  # code cells the template has before the solution's first one
HIDE_SOLUTION = {"code_prompt_show": "Show solution", "code_prompt_hide": "Hide solution"}

#: The words a template puts where a task's code goes, and its error message carries.
PLACEHOLDER_TEXT = "your code here"
PLACEHOLDER = f"# {PLACEHOLDER_TEXT}"
#: A line that calls a check, when a cell does not parse as Python.
CHECK_CALL = re.compile(r"^(?P<name>check_\w+)\s*\(")


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


@dataclass(frozen=True)
class CheckCall:
    """A call of a ``check_*`` function that is a statement of its own at the top level of
    a cell: its name, its first and last line (1-based) and, where the cell parses, the
    UTF-8 byte offsets of the call in those lines and the parsed call."""

    name: str
    first_line: int
    last_line: int
    start: int | None = None
    end: int | None = None
    node: ast.Call | None = field(default=None, compare=False, repr=False)


_PARSE_LOCK = threading.Lock()


def parse_python(source: str) -> ast.Module:
    """``ast.parse(source)``, one thread at a time: CPython 3.11 keeps the depth of its
    conversion to Python AST objects per interpreter, so two threads that parse at once
    (the grader's) can fail with ``SystemError: AST constructor recursion depth
    mismatch`` (CPython issue 106905)."""
    with _PARSE_LOCK:
        return ast.parse(source)


def _lines(source: str) -> list[str]:
    """The lines of a cell, split as Python reads them (``\\r\\n``, ``\\r`` and ``\\n`` end a
    line), so that the parser's line numbers index them."""
    return source.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def top_level_definitions(tree: ast.Module) -> set[str]:
    """The names that unconditional ``def`` and ``class`` statements at the top level of a
    parsed cell bind (what a task cell defines)."""
    return {node.name for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}


def _parsed(source: str, lines: list[str]) -> ast.Module | None:
    """The cell (``source``, split into ``lines``) as parsed Python; where it does not
    parse as written, with IPython's magic and shell lines (starting with ``%`` or ``!``)
    read as blank; None if it still does not parse."""
    errors = (SyntaxError, ValueError, RecursionError, MemoryError)
    try:
        return parse_python(source)
    except errors:
        pass
    try:
        return parse_python("\n".join("" if line.lstrip().startswith(("%", "!")) else line
                                      for line in lines))
    except errors:
        return None


def find_check_calls(source: str) -> list[CheckCall]:
    """The top-level calls of ``check_*`` functions in a code cell, in order.

    The cell is read as Python; where it does not parse, with IPython's magic and shell
    lines (starting with ``%`` or ``!``) read as blank. A cell that still does not parse is
    read line by line: a line that starts with ``check_...(`` is a call (and only that
    line is its extent). The release tool (which cell checks a task) and the grader (which
    calls to take out of a student's cell, and the arguments of the reference's calls)
    both ask this function.
    """
    lines = _lines(source)
    tree = _parsed(source, lines)
    if tree is None:
        return [CheckCall(m.group("name"), number, number)
                for number, m in enumerate(map(CHECK_CALL.match, lines), start=1) if m]
    return [CheckCall(node.value.func.id, node.value.lineno, node.value.end_lineno,
                      node.value.col_offset, node.value.end_col_offset, node.value)
            for node in tree.body
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Name)
            and node.value.func.id.startswith("check_")]


def check_call_names(source: str) -> list[str]:
    """The names of the checks a code cell calls (:func:`find_check_calls`)."""
    return [call.name for call in find_check_calls(source)]


def strip_check_calls(source: str) -> str:
    """``source`` without its check calls (:func:`find_check_calls`): a call alone on its
    lines is removed, one that shares a line with other statements becomes ``None`` (in a
    cell that does not parse, the line of the call is removed); the rest is left as
    written. The grader runs its own checks, never a student's."""
    lines = [line.encode() for line in _lines(source)]
    for call in reversed(find_check_calls(source)):
        first, last = call.first_line - 1, call.last_line - 1
        if call.start is None:
            del lines[first]
            continue
        before, after = lines[first][:call.start], lines[last][call.end:]
        if before.strip() or after.strip():  # other statements on its lines: keep them
            lines[first:last + 1] = [before + b"None" + after]
        else:
            del lines[first:last + 1]
    return "\n".join(line.decode() for line in lines)


def _check_calls(cell: Cell) -> list[str]:
    return check_call_names("\n".join(cell.lines))


def placeholder_error(task: str) -> str:
    """The line a template runs in place of ``task``'s code."""
    return f"raise NotImplementedError({f'{task}: {PLACEHOLDER_TEXT}'!r})"


def is_placeholder_message(message: str) -> bool:
    """Whether an error message is a template's placeholder error (a task not attempted)."""
    return PLACEHOLDER_TEXT in message


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
                out += [indent + PLACEHOLDER, indent + placeholder_error(task)]
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
                  setup: str = "") -> str:
    """Return the exercise template (py:percent text) generated from a solution's text.

    ``solved = k`` keeps the first ``k`` solution regions filled in (tests use it to check
    that each task's stub is the first thing that fails once the tasks before it are done).
    Before the first code cell the template gets a setup cell of its own with the code
    ``setup`` (default empty; the release tool passes the Colab install of
    :func:`course_utils.authoring.repository.setup_cell`), so the template's code cell
    ``k + SETUP_CELLS`` is the solution's code cell ``k``.
    Raises :class:`MarkerError` (with ``path`` and the line) on a malformed marker.
    """
    preamble, cells = parse_percent(text)
    out = list(preamble)
    regions: list[str] = []
    setup = [SETUP_HEADER, *setup.splitlines(), ""]
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
