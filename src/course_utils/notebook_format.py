"""The course's notebook format, owned here and used by the release tool
(:mod:`course_utils.authoring.release`), the checks and the grader alike.

Every notebook has one source a person edits: the solution, a Jupytext *py:percent* text
``solutions/NAME.py``. A task's code lies between ``# BEGIN SOLUTION Task N (...) [k
points]`` and ``# END SOLUTION``; the template (:func:`make_exercise`) has, in its place,
the placeholder ``# your code here`` and a ``raise NotImplementedError(...)`` naming the
task. A later code cell calls the task's ``check_*`` function (:func:`find_check_calls`).

Every written answer is a question (:func:`question_layout`): in a markdown cell, after
the question's prompt, its reference answer lies between ``<!-- BEGIN SOLUTION Question N
(...) [k points] -->`` (optionally followed by ``[figures: name, ...]``) and ``<!-- END
SOLUTION -->``, with the tutors' rubric inside, a block from ``<!-- RUBRIC`` to ``-->``
whose lines ``[k points] text`` add up to the question's points. A figure the answer is
judged from is a code cell whose first line is ``# Figure: name`` (:func:`figure_cells`).
The template puts, in the region's place, a markdown cell of its own holding
:data:`ANSWER_PLACEHOLDER`, where the student writes the answer.

The generated ``.ipynb`` files (:func:`to_ipynb`) carry the chapter, the tasks and their
check cells, the questions' prompt and answer cells and the figure cells in their metadata
under :data:`METADATA_KEY`, by which the grader finds a student's cells wherever they were
moved; the rubric is in no ``.ipynb``. Malformed markers raise :class:`MarkerError` naming
the file and the line.

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
    "MarkerError", "Cell", "Task", "Question", "CheckCall", "METADATA_KEY", "PLACEHOLDER",
    "ANSWER_PLACEHOLDER", "SETUP_CELLS",
    "parse_percent", "task_layout", "question_layout", "figure_cells", "solution_tasks",
    "make_exercise", "to_ipynb",
    "find_check_calls", "check_call_names", "strip_check_calls", "placeholder_error",
    "parse_python", "top_level_definitions",
    "is_placeholder_message", "utf8_safe",
]

CODE_BEGIN = re.compile(r"^(?P<indent>[ \t]*)#\s*BEGIN SOLUTION\b(?P<task>.*)$")
CODE_END = re.compile(r"^[ \t]*#\s*END SOLUTION\b(?P<rest>.*)$")
#: The first line of a written answer's region, ``<!-- BEGIN SOLUTION Question N (...) ... -->``
#: (in the py:percent source, or in a notebook's markdown, without the ``#``).
MD_BEGIN = re.compile(r"^#?\s*<!--\s*BEGIN SOLUTION\b(?P<name>.*?)-->\s*$")
MD_END = re.compile(r"^#?\s*<!--\s*END SOLUTION\s*-->\s*$")
#: A markdown solution marker anywhere in a line (as a line of its own: MD_BEGIN, MD_END).
MD_MENTION = re.compile(r"<!--\s*(?:BEGIN|END)\s+SOLUTION\b")
QUESTION_EXAMPLE = "'<!-- BEGIN SOLUTION Question 1 (the overflow) [2 points] -->'"
CELL_START = re.compile(r"^# %%(?P<rest>.*)$")
POINTS = re.compile(r"\s*\[\s*(?P<points>\d+(?:\.\d+)?)\s*points?\s*\]"
                    r"(?P<rest>(?:\s*\[\s*[A-Za-z]+\s*:[^\]]*\])*)\s*$")
#: A declaration beside a task's points: ``[reference: course_utils.x.f, ...]``, ``[allow: ...]``.
DECLARATION = re.compile(r"\[\s*(?P<key>[A-Za-z]+)\s*:(?P<names>[^\]]*)\]")
#: A comment line that continues a BEGIN line's declarations.
DECLARATION_LINE = re.compile(r"^[ \t]*#(?:\s*\[\s*[A-Za-z]+\s*:[^\]]*\])+\s*$")
QUALIFIED_NAME = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*$")
TASK_NUMBER = re.compile(r"^Task\s+(?P<number>\d+)\b")
QUESTION_NUMBER = re.compile(r"^Question\s+(?P<number>\d+)\b")
#: The tutors' rubric inside a question's region: ``<!-- RUBRIC``, lines ``[k points] text``, ``-->``.
RUBRIC_BEGIN = re.compile(r"^#?\s*<!--\s*RUBRIC\s*$")
RUBRIC_MENTION = re.compile(r"<!--\s*RUBRIC\b")
RUBRIC_END = re.compile(r"^#?\s*-->\s*$")
RUBRIC_ITEM = re.compile(r"^\[\s*(?P<points>\d+(?:\.\d+)?)\s*points?\s*\]\s*(?P<text>\S.*?)\s*$")
#: The first non-blank line of a figure cell: ``# Figure: name``.
FIGURE_LINE = re.compile(r"^#\s*Figure\s*:\s*(?P<name>.*?)\s*$")
FIGURE_NAME = re.compile(r"^[a-z0-9_-]+$")
#: The text of a template's answer cell, where the student writes a question's answer.
ANSWER_PLACEHOLDER = "_Write your answer here._"
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


@dataclass(frozen=True)
class Question:
    """A written question of a solution source (see :func:`question_layout`)."""

    id: str  # "q1", from the name "Question 1 (...)"
    title: str  # the name as written, without the points: "Question 1 (free-running orbits)"
    points: float
    prompt: str  # markdown: the question's cell before its region, without the "# " prefix
    answer: str  # markdown: the reference answer, without the rubric
    rubric: tuple[tuple[str, float], ...]  # (what earns the points, points), in order
    figures: tuple[str, ...]  # the figure cells (figure_cells) the answer is judged from
    line: int  # the BEGIN line in the source


@dataclass
class _Region:
    """A written answer's region in a markdown cell, as written (see _markdown_regions)."""

    begin: int  # index in the cell's lines of the BEGIN line
    line: int  # 1-based number of the BEGIN line in the file
    raw: str  # what the BEGIN line says after "BEGIN SOLUTION"
    end: int = -1  # index of the END line
    answer: list[str] = field(default_factory=list)  # the region's lines, rubric left out
    rubric: list[tuple[str, float]] = field(default_factory=list)
    rubric_line: int | None = None  # 1-based number of the "<!-- RUBRIC" line


def _uncomment(line: str) -> str:
    """A markdown line of a py:percent cell without its comment prefix ("# " or "#")."""
    return line[2:] if line.startswith("# ") else line[1:] if line.startswith("#") else line


def _markdown_text(lines: list[str]) -> str:
    """Markdown lines of a py:percent cell as markdown text: uncommented, without blank
    lines at the start and the end."""
    text = [_uncomment(line).rstrip() for line in lines]
    while text and not text[0].strip():
        text.pop(0)
    while text and not text[-1].strip():
        text.pop()
    return "\n".join(text)


def _number(text: str) -> float:
    value = float(text)
    return int(value) if value.is_integer() else value


def _markdown_regions(cell: Cell, path: str | Path) -> list[_Region]:
    """The written answers' regions of a markdown (or raw) cell, their markers checked."""
    regions: list[_Region] = []
    open_at: int | None = None  # the BEGIN line of the open region
    in_rubric = False
    for index, line in enumerate(cell.lines):
        number = cell.first_line + 1 + index
        if CODE_BEGIN.match(line) or CODE_END.match(line):
            raise MarkerError(path, number, "code solution marker in a markdown cell; use "
                              f"{QUESTION_EXAMPLE} / '<!-- END SOLUTION -->' there")
        begin, end = MD_BEGIN.match(line), MD_END.match(line)
        if in_rubric:
            if begin or end or MD_MENTION.search(line):
                raise MarkerError(path, regions[-1].rubric_line, "the rubric is not closed: "
                                  "end it with a line '-->' before the END SOLUTION line")
            if RUBRIC_END.match(line):
                in_rubric = False
                continue
            item = _uncomment(line).strip()
            if not item:
                continue
            match = RUBRIC_ITEM.match(item)
            if not match:
                raise MarkerError(path, number, "a rubric line is '[k points] what earns "
                                  f"them', e.g. '[1 point] names the overflow'; got {item!r}")
            regions[-1].rubric.append((match.group("text"), _number(match.group("points"))))
        elif begin:
            if open_at is not None:
                raise MarkerError(path, number, f"nested <!-- BEGIN SOLUTION --> (the region "
                                  f"opened on line {open_at} is not closed)")
            if not begin.group("name").strip():
                raise MarkerError(path, number, "every written answer is a question: name it "
                                  f"and declare its points, e.g. {QUESTION_EXAMPLE}")
            regions.append(_Region(index, number, begin.group("name")))
            open_at = number
        elif end:
            if open_at is None:
                raise MarkerError(path, number, "<!-- END SOLUTION --> without a BEGIN")
            regions[-1].end = index
            open_at = None
        elif MD_MENTION.search(line):
            raise MarkerError(path, number, "a solution marker is a line of its own, "
                              f"{QUESTION_EXAMPLE} or '<!-- END SOLUTION -->'")
        elif RUBRIC_MENTION.search(line):
            if open_at is None:
                raise MarkerError(path, number, "a rubric belongs inside a question's region, "
                                  "between its BEGIN and END SOLUTION lines")
            if not RUBRIC_BEGIN.match(line):
                raise MarkerError(path, number, "write '<!-- RUBRIC' on a line of its own, "
                                  "the items '[k points] ...' below it and '-->' after them")
            if regions[-1].rubric_line is not None:
                raise MarkerError(path, number, "a second rubric in the region opened on "
                                  f"line {open_at}")
            regions[-1].rubric_line = number
            in_rubric = True
        elif open_at is not None:
            regions[-1].answer.append(line)
    if in_rubric:
        raise MarkerError(path, regions[-1].rubric_line, "the rubric is not closed: end it "
                          "with a line '-->' before the END SOLUTION line")
    if open_at is not None:
        raise MarkerError(path, open_at, "<!-- BEGIN SOLUTION --> is not closed within its cell")
    return regions


def _figure_names(text: str, path: str | Path, line: int) -> tuple[str, ...]:
    """The names of ``[figures: a, b]`` in the declarations after a question's points."""
    names: list[str] = []
    for group in DECLARATION.finditer(text):
        if group.group("key").lower() not in ("figures", "figure"):
            raise MarkerError(path, line, f"unknown declaration [{group.group('key')}: ...]; "
                              "a question declares [figures: name, ...]")
        for name in (n.strip() for n in group.group("names").split(",")):
            if not FIGURE_NAME.match(name):
                raise MarkerError(path, line, "[figures: ...] takes figure names (lower-case "
                                  f"letters, digits, '_', '-') separated by commas; got {name!r}")
            names.append(name)
    return tuple(names)


def _cell_questions(cell: Cell, path: str | Path) -> list[tuple[_Region, Question]]:
    """The questions of one markdown cell (at most one), each with its region; checks
    everything about a question that its cell alone shows."""
    regions = _markdown_regions(cell, path)
    if regions and cell.kind != "markdown":
        raise MarkerError(path, regions[0].line, "a question belongs in a markdown cell")
    if len(regions) > 1:
        raise MarkerError(path, regions[1].line, "a markdown cell may hold only one question "
                          "(the template puts an answer cell in its place): give each "
                          "question a cell of its own")
    found = []
    for region in regions:
        name, points, rest = _split_declaration(region.raw)
        number = QUESTION_NUMBER.match(name)
        if not number:
            raise MarkerError(path, region.line, "a written answer's region is named "
                              f"'Question N (...)', e.g. {QUESTION_EXAMPLE}; got {name!r}")
        if points is None:
            raise MarkerError(path, region.line, "declare the question's points at the end of "
                              f"its BEGIN line, e.g. '<!-- BEGIN SOLUTION {name} [2 points] -->'")
        figures = _figure_names(rest, path, region.line)
        if region.rubric_line is None:
            raise MarkerError(path, region.line, f"{name} has no rubric: add, inside its "
                              "region, '<!-- RUBRIC', lines '[k points] what earns them' adding "
                              f"up to its {points} points, and '-->'")
        total = _number(f"{sum(p for _, p in region.rubric):.10g}")
        if not region.rubric or total != points:
            raise MarkerError(path, region.rubric_line, f"the rubric of {name} gives {total} "
                              f"points in all, the question {points}")
        prompt = _markdown_text(cell.lines[:region.begin])
        if not prompt:
            raise MarkerError(path, region.line, f"{name} has no prompt: the question's text "
                              "comes before its region, in the same markdown cell")
        answer = _markdown_text(region.answer)
        if not answer:
            raise MarkerError(path, region.line, f"{name} has no reference answer: write it "
                              "between the BEGIN and END SOLUTION lines")
        found.append((region, Question(f"q{int(number.group('number'))}", name, points, prompt,
                                       answer, tuple(region.rubric), figures, region.line)))
    return found


def figure_cells(text: str, path: str | Path = "<solution>") -> dict[str, int]:
    """The figure cells of a py:percent text: figure name -> 0-based position among the
    code cells. A figure cell is a code cell whose first non-blank line is ``# Figure:
    name`` (the name of lower-case letters, digits, ``_`` and ``-``, unique in the file);
    it holds no task and calls no check. Raises :class:`MarkerError`."""
    _, cells = parse_percent(text)
    found: dict[str, int] = {}
    code = [cell for cell in cells if cell.kind == "code"]
    for position, cell in enumerate(code):
        first = next((k for k, line in enumerate(cell.lines) if line.strip()), None)
        match = None if first is None else FIGURE_LINE.match(cell.lines[first].strip())
        if not match:
            continue
        number, name = cell.first_line + 1 + first, match.group("name")
        if not FIGURE_NAME.match(name):
            raise MarkerError(path, number, "a figure's name is lower-case letters, digits, "
                              f"'_' and '-', as in '# Figure: orbits'; got {name!r}")
        if name in found:
            raise MarkerError(path, number, f"a second figure cell named {name!r}")
        if any(CODE_BEGIN.match(line) for line in cell.lines) or _check_calls(cell):
            raise MarkerError(path, number, f"the figure cell {name!r} holds a task or calls "
                              "a check: give the figure a cell of its own")
        found[name] = position
    return found


def question_layout(text: str, path: str | Path = "<solution>") -> list[Question]:
    """The written questions of a solution's text, in order, validated; raises
    :class:`MarkerError` naming the file and the line.

    Each question is a region ``<!-- BEGIN SOLUTION Question N (...) [k points] -->`` ...
    ``<!-- END SOLUTION -->`` in a markdown cell, after the question's prompt (one question
    per cell). Its name is ``Question N (...)`` with ``N`` unique in the file (its id is
    ``qN``); its points are declared at the end of the BEGIN line, optionally followed by
    ``[figures: name, ...]``, figure cells of the same file (:func:`figure_cells`). Inside
    the region lie the reference answer and the rubric, a block ``<!-- RUBRIC`` ... ``-->``
    of lines ``[k points] what earns them`` whose points add up to the question's.
    """
    _, cells = parse_percent(text)
    figures = figure_cells(text, path)
    questions: list[Question] = []
    for cell in cells:
        if cell.kind == "code":
            continue
        for _, question in _cell_questions(cell, path):
            if any(q.id == question.id for q in questions):
                raise MarkerError(path, question.line, "a second question numbered "
                                  f"{question.id[1:]}")
            for name in question.figures:
                if name not in figures:
                    raise MarkerError(path, question.line, f"{question.title} names the figure "
                                      f"{name!r}, but no code cell starts with '# Figure: {name}'")
            questions.append(question)
    return questions


def _blank(line: str) -> bool:
    """Whether a line of a py:percent markdown cell is empty (blank, or ``#`` alone)."""
    return not line.strip("# \t")


def _template_markdown_cell(cell: Cell, path: str | Path) -> list[tuple[str, list[str]]]:
    """The template's cells (header, lines) for a markdown or raw cell of the solution: the
    cell as written, or, for a question's cell, its prompt, an answer cell holding
    :data:`ANSWER_PLACEHOLDER`, and the cell's text after the region in a cell of its own."""
    questions = _cell_questions(cell, path)
    if not questions:
        return [(cell.header, cell.lines)]
    region = questions[0][0]
    prompt = cell.lines[:region.begin]
    while prompt and _blank(prompt[-1]):
        prompt.pop()
    after = cell.lines[region.end + 1:]
    while after and _blank(after[0]) and not all(map(_blank, after)):
        after.pop(0)
    out = [(cell.header, [*prompt, ""]), ("# %% [markdown]", [f"# {ANSWER_PLACEHOLDER}", ""])]
    if not all(map(_blank, after)):
        out.append(("# %% [markdown]", after))
    return out


def make_exercise(text: str, path: str | Path = "<solution>", *, solved: int = 0,
                  setup: str = "") -> str:
    """Return the exercise template (py:percent text) generated from a solution's text.

    ``solved = k`` keeps the first ``k`` solution regions filled in (tests use it to check
    that each task's stub is the first thing that fails once the tasks before it are done).
    Before the first code cell the template gets a setup cell of its own with the code
    ``setup`` (default empty; the release tool passes the Colab install of
    :func:`course_utils.authoring.repository.setup_cell`), so the template's code cell
    ``k + SETUP_CELLS`` is the solution's code cell ``k``. A question's region (with its
    reference answer and rubric) becomes a markdown cell of its own holding
    :data:`ANSWER_PLACEHOLDER`; the text of its cell after the region continues in another
    markdown cell.
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
            out += [cell.header, *_strip_code_cell(cell, path, regions, solved)]
            continue
        for header, body in _template_markdown_cell(cell, path):
            if cell.kind == "markdown" and all(map(_blank, body)):
                continue  # an empty markdown cell: dropped with its trailing blank line
            out += [header, *body]
    question_layout(text, path)  # numbers unique, figures found
    return "\n".join(out).rstrip("\n") + "\n"


def solution_tasks(text: str, path: str | Path = "<solution>") -> list[str]:
    """The task names of a solution's regions, in order (validating all markers)."""
    preamble, cells = parse_percent(text)
    regions: list[str] = []
    for cell in cells:
        if cell.kind == "code":
            _strip_code_cell(cell, path, regions, solved=0)
        else:
            _cell_questions(cell, path)
    return regions


def to_ipynb(text: str, name: str, *, chapter: str | None = None,
             tasks: list[Task] = (), questions: list[Question] = (),
             figures: dict[str, int] | None = None, hide_solutions: bool = False) -> str:
    """Convert py:percent text to ``.ipynb`` JSON without outputs, deterministically.

    Cell ids are derived from ``name`` and the cell's position, so that the same source
    always gives the same file (the ``--check`` mode relies on it). With ``chapter`` and
    ``tasks`` (:func:`task_layout` of the solution), the notebook's metadata names the
    chapter, and each task cell and check cell carries its task under ``"course_utils"``
    (task cells cannot be deleted, check cells cannot be edited, in JupyterLab).

    ``questions`` (:func:`question_layout` of the solution; default none) mark the cells of
    the written questions. In a solution, the cell that holds a question's prompt and
    region carries ``{"question": "q1", "title": ..., "points": ..., "figures": [...]}``;
    in a template (:func:`make_exercise`), the prompt's cell carries ``{"question": "q1"}``
    and the answer cell after it, the k-th cell holding :data:`ANSWER_PLACEHOLDER` for the
    k-th question, ``{"answer": "q1", "title": ..., "points": ...}`` (and cannot be
    deleted). ``figures`` (:func:`figure_cells`, counted in ``text``'s code cells; default
    none) mark the figure cells ``{"figure": name}``. The rubric blocks are left out of
    every markdown cell.

    ``hide_solutions=True`` (default False; the release uses it for the solutions) also
    tags each task cell ``hide-input`` with MyST-NB's prompts "Show solution" / "Hide
    solution", so that the book shows the task's code collapsed, its outputs open, and
    turns each written answer (``<!-- BEGIN SOLUTION ... -->`` ... ``<!-- END SOLUTION
    -->``) into a closed HTML ``<details>`` block, "Show answer", which the book and Jupyter
    both show collapsed.
    Raises ValueError where ``questions`` or ``figures`` do not fit the notebook's cells.
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
    _mark_questions(notebook.cells, list(questions), name)
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = _strip_rubrics(cell.source)
            if hide_solutions:
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
    for figure, position in (figures or {}).items():
        if not 0 <= position < len(code_cells):
            raise ValueError(f"{name}: the figure cell {figure!r} is code cell {position}, "
                             f"but the notebook has {len(code_cells)}")
        metadata = code_cells[position].metadata
        if METADATA_KEY in metadata:
            raise ValueError(f"{name}: the figure cell {figure!r} (code cell {position}) is "
                             f"also marked {dict(metadata[METADATA_KEY])}")
        metadata[METADATA_KEY] = {"figure": figure}
    notebook.nbformat, notebook.nbformat_minor = 4, 5
    return nbformat.writes(notebook) + "\n"


def _mark_questions(cells: list, questions: list[Question], name: str) -> None:
    """Put the questions' metadata on a notebook's markdown cells (see :func:`to_ipynb`)."""
    if not questions:
        return
    regions: dict[str, int] = {}
    for index, cell in enumerate(cells):
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.split("\n"):
            begin = MD_BEGIN.match(line)
            number = begin and QUESTION_NUMBER.match(_split_task(begin.group("name"))[0])
            if number:
                regions[f"q{int(number.group('number'))}"] = index
    if regions:  # a solution: one cell holds the prompt and the region
        for question in questions:
            if question.id not in regions:
                raise ValueError(f"{name}: no region of {question.title} in the notebook")
            cells[regions[question.id]].metadata[METADATA_KEY] = {
                "question": question.id, "title": question.title, "points": question.points,
                "figures": list(question.figures)}
        return
    answers = [index for index, cell in enumerate(cells) if cell.cell_type == "markdown"
               and cell.source.strip() == ANSWER_PLACEHOLDER]
    if len(answers) != len(questions):
        raise ValueError(f"{name}: {len(answers)} answer cells ({ANSWER_PLACEHOLDER!r}) for "
                         f"{len(questions)} questions")
    for question, index in zip(questions, answers):
        if index == 0 or cells[index - 1].cell_type != "markdown":
            raise ValueError(f"{name}: the answer cell of {question.title} does not follow "
                             "its prompt")
        cells[index - 1].metadata[METADATA_KEY] = {"question": question.id}
        cells[index].metadata[METADATA_KEY] = {
            "answer": question.id, "title": question.title, "points": question.points}
        cells[index].metadata["deletable"] = False


def _strip_rubrics(source: str) -> str:
    """A markdown cell's text without its rubric blocks (``<!-- RUBRIC`` ... ``-->``)."""
    lines, in_rubric = [], False
    for line in source.split("\n"):
        if in_rubric:
            in_rubric = not RUBRIC_END.match(line)
        elif RUBRIC_BEGIN.match(line):
            in_rubric = True
        else:
            lines.append(line)
    return "\n".join(lines)


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


_SURROGATE = re.compile("[\ud800-\udfff]")


def utf8_safe(text: str) -> str:
    """``text`` with every lone surrogate (not writable as UTF-8, but a notebook's JSON
    ``"\\ud800"`` escape or a student's exception message can carry one) replaced by
    U+FFFD: how the grader writes what students wrote into its reports and pages."""
    return _SURROGATE.sub("\ufffd", text)
