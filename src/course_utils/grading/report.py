"""What the grader writes: ``grades.csv``, one feedback file per student (Markdown and
HTML), the class summary (``summary.html`` with ``pass_rates.png``) and ``results.json``,
which :func:`read_results` reads back, so that every other output can be written again
(after the tutors' manual grading, :mod:`~course_utils.grading.manual`) without a kernel.

A student's points are their tasks' points (a tutor's :class:`Override` replacing a
task's), plus their written answers' points once a tutor graded them
(:class:`QuestionResult`); a late penalty takes a fraction of that off
(:attr:`StudentResult.total`).

The summary groups failure messages by their text with the numbers taken out, so that
"J[0, 1] is 0.52, expected 0.49" and "J[2, 0] is 0.1, expected 0.3" count as one mistake,
shows the most frequent ones first: "11 of 30: ...", names the students who handed in
byte-identical notebooks, lists the students in a table sortable by any column, each name
linked to their feedback, and shows the distribution of the totals.

Text that a student controls (their name, from the file name, the messages that quote
their code's exceptions) and the tutors' comments are escaped where they are written: they
cannot add a heading, a link or HTML to the feedback, and a ``grades.csv`` cell never starts
a spreadsheet formula. A lone surrogate (which a student's exception message can carry,
and which UTF-8 cannot encode) is written as U+FFFD in the feedback and the summary, so no
text of one student can stop the class's reports from being written.
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import html
import io
import json
import re
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import quote

from .runner import TaskResult
from ..notebook_format import utf8_safe
from .status import GRADED, Status

__all__ = ["StudentResult", "QuestionResult", "Override", "ResultsFile", "write_reports",
           "read_results", "feedback_markdown", "feedback_html", "common_failures",
           "normalise_message", "md_escape", "csv_cell", "csv_value", "identical_groups",
           "TO_GRADE", "MISSING_ANSWER", "QUESTION_STATUSES"]

#: A written answer that a tutor has not graded yet (no points; an empty ``grades.csv`` cell).
TO_GRADE = "to grade"
#: A written answer not found in the notebook, or still the template's text: 0 points.
MISSING_ANSWER = "missing answer"
#: The statuses of a :class:`QuestionResult`: to grade, graded (:data:`~.status.GRADED`),
#: missing answer.
QUESTION_STATUSES = (TO_GRADE, GRADED, MISSING_ANSWER)


@dataclass
class QuestionResult:
    """A written answer of one student: its points once a tutor graded it."""

    id: str  # "q1"
    title: str  # "Question 1 (free-running orbits)"
    max_points: float
    points: float | None = None  # None until graded
    status: str = TO_GRADE  # TO_GRADE, GRADED or MISSING_ANSWER
    comment: str = ""  # the tutor's comment
    rubric: list[str] = field(default_factory=list)  # the rubric items the tutor ticked

    @property
    def counted(self) -> float:
        """The points this answer adds to the total (0 until graded)."""
        return float(self.points or 0) if self.status != TO_GRADE else 0.0


@dataclass
class Override:
    """A tutor's points for a task, replacing the grader's (a task in ``review``, say)."""

    task: str  # the task id, "task2"
    points: float
    reason: str = ""  # shown in the student's feedback


@dataclass
class StudentResult:
    """Everything graded for one student."""

    student: str
    source: str  # the submitted file, as given
    status: str  # "graded", "not a notebook", "timed out (task2)", ...
    tasks: list[TaskResult] = field(default_factory=list)
    digest: str = ""  # SHA-256 of the submitted notebook (identical submissions)
    questions: list[QuestionResult] = field(default_factory=list)
    overrides: list[Override] = field(default_factory=list)
    student_id: str = ""  # from the roster
    email: str = ""  # from the roster
    submitted: str = ""  # when it was handed in, ISO 8601
    late_days: float = 0  # days after the deadline
    penalty: float = 0  # fraction 0..1 of the points taken off for lateness
    penalty_rule: str = ""  # the late policy as given, "10%/day"

    def task_points(self) -> dict[str, float]:
        """Each task's points, a tutor's override replacing the grader's; an override of a
        task the student has no result for counts as well."""
        points = {t.task: t.points for t in self.tasks}
        points.update({o.task: o.points for o in self.overrides})
        return points

    @property
    def raw_total(self) -> float:
        """The tasks' points (overrides included) and the graded answers' points."""
        return (sum(self.task_points().values())
                + sum(q.counted for q in self.questions))

    @property
    def total(self) -> float:
        """:attr:`raw_total` less the late penalty, rounded to 2 decimals."""
        return round(self.raw_total * (1 - self.penalty), 2)


@dataclass
class ResultsFile:
    """The contents of ``results.json`` (:func:`read_results`)."""

    chapter: str
    max_points: float
    hidden_seed: int | None
    tasks: list
    questions: list
    students: list[StudentResult]
    similarity: dict | None = None
    extra: dict | None = None


def _points(value: float) -> str:
    return f"{value:g}"


def normalise_message(message: str) -> str:
    """The message with numbers and quoted values replaced, for counting alike mistakes."""
    text = re.sub(r"\[[^\[\]]*\d[^\[\]]*\]", "[…]", message)
    text = re.sub(r"-?\d+(\.\d+)?(e[-+]?\d+)?", "#", text)
    return text.strip()


def common_failures(results: list[StudentResult]) -> list[tuple[str, str, int]]:
    """(task title, a representative message, how many students) for every failure
    message, most frequent first."""
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for student in results:
        for task in student.tasks:
            if task.status != Status.PASSED:
                message = task.message or task.status
                groups[(task.title, normalise_message(message))].append(message)
    rows = [(title, Counter(messages).most_common(1)[0][0], len(messages))
            for (title, _), messages in groups.items()]
    return sorted(rows, key=lambda row: (-row[2], row[0], row[1]))


#: Characters that can make a link, an image, code, a tag, an entity, a table or (at the
#: start of a line) a heading in Markdown; escaped in any text a student controls.
#: Emphasis (``*``, ``_``) is left alone: it cannot do harm, and messages use it (J_T).
_MARKDOWN_SPECIAL = re.compile(r"([\\`\[\]#!|<>&])")


def _plain(text) -> str:
    """One line of text: no line breaks or control characters (they could start a
    heading or a list in the feedback)."""
    return re.sub(r"\s+", " ", re.sub(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]", " ",
                                      str(text))).strip()


def md_escape(text) -> str:
    """``text`` as literal Markdown: one line, every character with a meaning in Markdown
    or HTML escaped with a backslash."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", _plain(text))


def _comment_lines(text: str) -> list[str]:
    """A tutor's comment as its non-empty lines, each one line of plain text."""
    return [_plain(line) for line in str(text).splitlines() if _plain(line)]


def _unit(value: float) -> str:
    return "point" if value == 1 else "points"


def _task_lines(task: TaskResult) -> tuple[str, str, str | None]:
    """(heading, what happened, how the code was found or None) of one task, as plain
    text."""
    mark = "\u2713" if task.status == Status.PASSED else "\u2717"
    heading = (f"{mark} {task.title}: {_points(task.points)} of {_points(task.max_points)} "
               f"{_unit(task.max_points)}")
    if task.status == Status.PASSED:
        said = "Correct: the check passes, on its visible and its hidden cases."
    else:
        said = (f": {_plain(task.message)}" if task.message and task.message != task.status
                else "")
    found = (f"Your code for this task was found {_plain(task.found)}."
             if task.found not in ("", "tagged", "task cell not found") else None)
    return heading, said, found


def _override_line(override: Override, task: TaskResult | None) -> str:
    """What a tutor's override says, as plain text."""
    grader = (f" (the grader gave {_points(task.points)})" if task is not None
              and task.points != override.points else "")
    reason = f": {_plain(override.reason)}" if _plain(override.reason) else ""
    of = f" of {_points(task.max_points)}" if task is not None else ""
    return (f"Points set by the tutor: {_points(override.points)}{of}"
            f"{grader}{reason}")


def _question_heading(question: QuestionResult) -> str:
    if question.status == TO_GRADE:
        return (f"{question.title}: not graded yet ({_points(question.max_points)} "
                f"{_unit(question.max_points)})")
    return (f"{question.title}: {_points(question.counted)} of "
            f"{_points(question.max_points)} {_unit(question.max_points)}")


def _late_line(student: StudentResult) -> str | None:
    if student.penalty <= 0:
        return None
    rule = f" ({_plain(student.penalty_rule)})" if _plain(student.penalty_rule) else ""
    return (f"submitted {_points(round(student.late_days, 2))} "
            f"day{'s' * (student.late_days != 1)} late: "
            f"-{_points(round(100 * student.penalty, 2))} %{rule}")


def _points_line(student: StudentResult, max_points: float) -> str:
    text = f"{_points(student.total)} of {_points(max_points)}"
    if student.penalty > 0:
        text += f" ({_points(round(student.raw_total, 2))} before the late penalty)"
    waiting = sum(1 for q in student.questions if q.status == TO_GRADE)
    if waiting:
        text += f", {waiting} written answer{'s' * (waiting > 1)} not graded yet"
    return text


def _extra_overrides(student: StudentResult) -> list[Override]:
    """Overrides of tasks the student has no result for."""
    own = {t.task for t in student.tasks}
    return [o for o in student.overrides if o.task not in own]


def feedback_markdown(student: StudentResult, chapter: str, max_points: float) -> str:
    """The feedback for one student, as Markdown; every text is escaped, so nothing a
    student wrote can add a heading, a link or HTML."""
    lines = [f"# Feedback: {md_escape(chapter)}", "",
             f"**Student:** {md_escape(student.student)}  ",
             f"**Points:** {md_escape(_points_line(student, max_points))}  "]
    late = _late_line(student)
    if late:
        lines.append(f"**Late:** {md_escape(late)}  ")
    lines += [f"**Status:** {md_escape(student.status)}", ""]
    overrides = {o.task: o for o in student.overrides}
    if not student.tasks and not student.questions and not student.overrides:
        lines += [f"Nothing could be graded: {md_escape(student.status)}.", ""]
    for task in student.tasks:
        override = overrides.get(task.task)
        shown = task if override is None else dataclasses.replace(task, points=override.points)
        heading, said, found = _task_lines(shown)
        lines += [f"## {md_escape(heading)}", ""]
        lines.append(md_escape(said) if task.status == Status.PASSED
                     else f"**{md_escape(task.status)}**{md_escape(said)}")
        if found:
            lines += ["", f"_{md_escape(found)}_"]
        if override is not None:
            lines += ["", f"**{md_escape(_override_line(override, task))}**"]
        lines.append("")
    for override in _extra_overrides(student):
        lines += [f"## {md_escape(override.task)}", "",
                  f"**{md_escape(_override_line(override, None))}**", ""]
    for question in student.questions:
        lines += [f"## {md_escape(_question_heading(question))}", ""]
        if question.status == MISSING_ANSWER:
            lines += ["**No answer found**: the answer cell is missing or still holds the "
                      "template's text.", ""]
        for item in question.rubric:
            lines.append(f"- \u2713 {md_escape(item)}")
        if question.rubric:
            lines.append("")
        comment = _comment_lines(question.comment)
        if comment:
            lines += ["**Comment:**", "", "  \n".join(f"> {md_escape(line)}" for line in comment),
                      ""]
    return "\n".join(lines).rstrip() + "\n"


def feedback_html(student: StudentResult, chapter: str, max_points: float) -> str:
    """The feedback for one student, as a self-contained HTML page (every text
    escaped)."""
    e = html.escape
    late = _late_line(student)
    body = [f"<h1>Feedback: {e(chapter)}</h1>",
            f"<p><strong>Student:</strong> {e(_plain(student.student))}<br>"
            f"<strong>Points:</strong> {e(_points_line(student, max_points))}<br>"
            + (f"<strong>Late:</strong> {e(late)}<br>" if late else "")
            + f"<strong>Status:</strong> {e(_plain(student.status))}</p>"]
    overrides = {o.task: o for o in student.overrides}
    if not student.tasks and not student.questions and not student.overrides:
        body.append(f"<p>Nothing could be graded: {e(_plain(student.status))}.</p>")
    for task in student.tasks:
        override = overrides.get(task.task)
        shown = task if override is None else dataclasses.replace(task, points=override.points)
        heading, said, found = _task_lines(shown)
        body.append(f"<h2>{e(heading)}</h2>")
        body.append(f"<p>{e(said)}</p>" if task.status == Status.PASSED
                    else f"<p><strong>{e(_plain(task.status))}</strong>{e(said)}</p>")
        if found:
            body.append(f"<p><em>{e(found)}</em></p>")
        if override is not None:
            body.append(f"<p><strong>{e(_override_line(override, task))}</strong></p>")
    for override in _extra_overrides(student):
        body += [f"<h2>{e(_plain(override.task))}</h2>",
                 f"<p><strong>{e(_override_line(override, None))}</strong></p>"]
    for question in student.questions:
        body.append(f"<h2>{e(_question_heading(question))}</h2>")
        if question.status == MISSING_ANSWER:
            body.append("<p><strong>No answer found</strong>: the answer cell is missing or "
                        "still holds the template's text.</p>")
        if question.rubric:
            body.append("<ul>" + "".join(f"<li>\u2713 {e(_plain(item))}</li>"
                                         for item in question.rubric) + "</ul>")
        comment = _comment_lines(question.comment)
        if comment:
            body.append("<p><strong>Comment:</strong></p><blockquote><p>"
                        + "<br>".join(e(line) for line in comment) + "</p></blockquote>")
    return _page(f"{_plain(student.student)}: {chapter}", "\n".join(body))


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def csv_cell(value) -> str:
    """A ``grades.csv`` cell: text that a spreadsheet would read as a formula (starting
    with ``=``, ``+``, ``-``, ``@``, a tab or a line break) gets a leading apostrophe."""
    text = str(value)
    if isinstance(value, str) and text[:1] in _FORMULA_START:
        return "'" + text
    return text


def csv_value(cell: str) -> str:
    """The text a :func:`csv_cell` was written from: its leading apostrophe taken off
    where :func:`csv_cell` added one."""
    return cell[1:] if cell[:1] == "'" and cell[1:2] in _FORMULA_START else cell


def _write_text(path: Path, text: str) -> None:
    """Write ``text`` as UTF-8, every lone surrogate as U+FFFD."""
    path.write_text(utf8_safe(text), encoding="utf-8")


def _page(title: str, body: str, script: str = "") -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>body{{font-family:sans-serif;"
            "max-width:60em;margin:2em auto;line-height:1.4}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}"
            "th.sortable{cursor:pointer;user-select:none}"
            "</style></head>\n<body>\n" + body
            + (f"\n<script>{script}</script>" if script else "") + "\n</body></html>\n")


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _pass_rate_figure(titles: list[str], rates: list[float]) -> bytes:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 0.6 * len(titles) + 1.2))
    ax.barh(range(len(titles)), [100 * r for r in rates], color="#4c72b0")
    ax.set_yticks(range(len(titles)), titles)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("students who passed the task (%)")
    ax.set_title("Pass rate per task")
    for k, rate in enumerate(rates):
        ax.text(min(100 * rate + 1, 92), k, f"{100 * rate:.0f} %", va="center")
    return _png(fig)


def _totals_figure(totals: list[float], max_points: float) -> bytes:
    """A histogram of the students' totals, 0 to ``max_points``."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.2))
    top = max([max_points, *totals, 1])
    bins = min(20, max(5, int(round(top))))
    ax.hist(totals, bins=bins, range=(0, top), color="#4c72b0", edgecolor="white")
    ax.set_xlim(0, top)
    ax.set_xlabel(f"total points (of {_points(max_points)})")
    ax.set_ylabel("students")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_title("Distribution of the totals")
    return _png(fig)


def identical_groups(results: list[StudentResult]) -> list[list[str]]:
    """Students who handed in byte-identical notebooks, in groups of two or more."""
    by_digest: dict[str, list[str]] = defaultdict(list)
    for student in results:
        if student.digest:
            by_digest[student.digest].append(student.student)
    return sorted(sorted(names, key=str.lower) for names in by_digest.values()
                  if len(names) > 1)


#: Sorts the summary's student table by the column whose head is clicked (again:
#: the other way round); numbers by value, text alphabetically.
_SORT_SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  var heads = table.querySelectorAll("th");
  heads.forEach(function (th, column) {
    th.classList.add("sortable");
    th.title = "sort by this column";
    th.addEventListener("click", function () {
      var down = th.getAttribute("aria-sort") !== "ascending";
      heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", down ? "ascending" : "descending");
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      function key(row) {
        var cell = row.cells[column];
        var value = cell.getAttribute("data-value");
        return value === null ? cell.textContent : value;
      }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b), nx = parseFloat(x), ny = parseFloat(y);
        var order = (x !== "" && y !== "" && !isNaN(nx) && !isNaN(ny)) ? nx - ny
          : x.localeCompare(y, undefined, {sensitivity: "base"});
        return down ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""


def _student_table(results: list[StudentResult], tasks, questions) -> str:
    e = html.escape
    late = any(r.penalty > 0 for r in results)
    heads = (["student"] + [t.id for t in tasks] + [q.id for q in questions] + ["total"]
             + (["late"] if late else []) + ["status"])
    rows = []
    for student in results:
        points = student.task_points()
        answers = {q.id: q for q in student.questions}
        cells = [f'<td data-value="{e(student.student.lower())}"><a href="feedback/'
                 f'{e(quote(student.student, safe=""))}.html">{e(_plain(student.student))}'
                 "</a></td>"]
        for task in tasks:
            value = _points(points.get(task.id, 0))
            cells.append(f'<td data-value="{value}">{value}</td>')
        for question in questions:
            answer = answers.get(question.id)
            if answer is None or answer.status == TO_GRADE:
                value, shown = "", "" if answer is None else "to grade"
            else:
                value = _points(answer.counted)
                shown = f"{value} (missing)" if answer.status == MISSING_ANSWER else value
            cells.append(f'<td data-value="{value}">{shown}</td>')
        cells.append(f'<td data-value="{_points(student.total)}">{_points(student.total)}</td>')
        if late:
            shown = f"-{_points(round(100 * student.penalty, 2))} %" if student.penalty else ""
            cells.append(f'<td data-value="{student.penalty:g}">{shown}</td>')
        cells.append(f"<td>{e(_plain(student.status))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return ('<table class="sortable" id="students"><thead><tr>'
            + "".join(f"<th>{e(h)}</th>" for h in heads) + "</tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>")


def _as_dict(item) -> dict:
    """A task's or a question's fields, as JSON-able data."""
    if dataclasses.is_dataclass(item):
        return asdict(item)
    if hasattr(item, "_asdict"):
        return dict(item._asdict())
    return dict(item)


def _roster_html(extra: dict, results: list[StudentResult]) -> str:
    """The summary's section on the roster and the deadline (``extra`` of
    :func:`~course_utils.grading.lms.apply_roster`): the names the roster and the
    submissions do not share, the submission times later than the grading, and the late
    submissions."""
    e = html.escape
    parts = []
    roster = extra.get("roster")
    if isinstance(roster, dict):
        for label, names in (("Submissions not in the roster", roster.get("unknown", [])),
                             ("Students in the roster without a submission",
                              roster.get("missing", []))):
            parts.append(f"<p>{label}: " + (", ".join(e(_plain(n)) for n in names) or "none")
                         + ".</p>")
    future = extra.get("future")
    if isinstance(future, list) and future:
        parts.append("<p>Submission times later than the grading ran (a wrong clock or time "
                     "zone, or a forged time; check them on the platform): "
                     + ", ".join(e(_plain(n)) for n in future) + ".</p>")
    if extra.get("deadline"):
        late = [r for r in results if r.late_days > 0]
        rows = "".join(f"<tr><td>{e(_plain(r.student))}</td><td>{e(r.submitted)}</td>"
                       f"<td>{r.late_days:.2f}</td><td>{100 * r.penalty:g} %</td></tr>"
                       for r in late)
        parts.append(f"<p>Deadline {e(str(extra['deadline']))}, late policy "
                     f"{e(str(extra.get('late_policy', 'none')))}: {len(late)} late.</p>"
                     + (f"<table><tr><th>student</th><th>submitted</th><th>days late</th>"
                        f"<th>penalty</th></tr>{rows}</table>" if rows else ""))
    return ("<h2>Roster and deadline</h2>" + "".join(parts)) if parts else ""


def write_reports(results: list[StudentResult], chapter: str, tasks, out: Path, *,
                  questions=(), hidden_seed: int | None = None, similarity: dict | None = None,
                  extra: dict | None = None) -> dict:
    """Write every output into ``out``; returns the paths written, by kind.

    ``tasks`` are the chapter's tasks (:class:`~course_utils.notebook_format.Task`),
    ``questions`` its written questions (:class:`~course_utils.notebook_format.Question`,
    default none). Keyword arguments: ``hidden_seed`` the salt of the hidden cases' seeds
    (kept in ``results.json``); ``similarity`` the report of
    :func:`~course_utils.grading.similarity.similarity_report` (shown in the summary and kept);
    ``extra`` any JSON-able data to keep in ``results.json`` (default none).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tasks, questions = list(tasks), list(questions)
    max_points = sum(t.points for t in tasks) + sum(q.points for q in questions)
    results = sorted(results, key=lambda r: r.student.lower())
    with open(out / "grades.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", *[t.id for t in tasks], *[q.id for q in questions],
                         "total", "max", "status"])
        for student in results:
            points = student.task_points()
            answers = {q.id: q for q in student.questions}
            writer.writerow([csv_cell(student.student),
                             *[_points(points.get(t.id, 0)) for t in tasks],
                             *["" if q.id not in answers or answers[q.id].status == TO_GRADE
                               else _points(answers[q.id].counted) for q in questions],
                             _points(student.total), _points(max_points),
                             csv_cell(student.status)])
    feedback = out / "feedback"
    feedback.mkdir(exist_ok=True)
    for student in results:
        text = feedback_markdown(student, chapter, max_points)
        _write_text(feedback / f"{student.student}.md", text)
        _write_text(feedback / f"{student.student}.html",
                    feedback_html(student, chapter, max_points))

    n = len(results)
    rates = [sum(1 for r in results for t in r.tasks if t.task == task.id and
                 t.status == Status.PASSED) / n if n else 0.0 for task in tasks]
    png = _pass_rate_figure([t.title for t in tasks], rates)
    (out / "pass_rates.png").write_bytes(png)
    statuses = Counter(r.status for r in results)
    failures = common_failures(results)
    totals = [r.total for r in results]
    rows = "".join(f"<tr><td>{html.escape(t.title)}</td><td>{_points(t.points)}</td>"
                   f"<td>{100 * rate:.0f} %</td></tr>" for t, rate in zip(tasks, rates))
    question_rows = ""
    for question in questions:
        answers = [a for r in results for a in r.questions if a.id == question.id]
        graded = [a for a in answers if a.status != TO_GRADE]
        mean = (_points(round(sum(a.counted for a in graded) / len(graded), 2)) if graded
                else "–")
        question_rows += (f"<tr><td>{html.escape(question.title)}</td>"
                          f"<td>{_points(question.points)}</td>"
                          f"<td>{len(graded)} of {len(answers)}</td>"
                          f"<td>{sum(a.status == MISSING_ANSWER for a in answers)}</td>"
                          f"<td>{mean}</td></tr>")
    mistakes = "".join(f"<tr><td>{count} of {n}</td><td>{html.escape(title)}</td>"
                       f"<td>{html.escape(message)}</td></tr>"
                       for title, message, count in failures[:15])
    status_rows = "".join(f"<tr><td>{html.escape(s)}</td><td>{c}</td></tr>"
                          for s, c in statuses.most_common())
    mean = sum(totals) / n if n else 0.0
    groups = identical_groups(results)
    by_name = {r.student: r for r in results}
    identical = "".join(
        "<li>" + ", ".join(html.escape(name) for name in group)
        + (" (the untouched template)" if all(
            t.status == Status.NOT_ATTEMPTED for name in group for t in by_name[name].tasks)
           else "") + "</li>" for group in groups)
    histogram = _totals_figure(totals, max_points)
    roster_notes = _roster_html(extra if isinstance(extra, dict) else {}, results)
    similar = ""
    if similarity is not None:
        from .similarity import similarity_html

        similar = similarity_html(similarity)
    body = (f"<h1>Class summary: {html.escape(chapter)}</h1>"
            f"<p>{n} submissions; mean {mean:.1f} of {_points(max_points)} points.</p>"
            f"<img alt=\"pass rate per task\" src=\"data:image/png;base64,"
            f"{base64.b64encode(png).decode()}\">"
            f"<h2>Tasks</h2><table><tr><th>task</th><th>points</th><th>passed</th></tr>"
            f"{rows}</table>"
            + ("<h2>Written answers</h2><table><tr><th>question</th><th>points</th>"
               "<th>graded</th><th>missing</th><th>mean points</th></tr>"
               f"{question_rows}</table>" if questions else "")
            + "<h2>Most frequent mistakes</h2>"
            + (f"<table><tr><th>students</th><th>task</th><th>message</th></tr>{mistakes}"
               "</table>" if mistakes else "<p>None: every task passed.</p>")
            + f"<h2>Submissions</h2><table><tr><th>status</th><th>students</th></tr>"
              f"{status_rows}</table>"
            + "<h2>Students</h2><p>Click a column's head to sort by it; a name opens the "
              "student's feedback.</p>" + _student_table(results, tasks, questions)
            + "<h2>Distribution of the totals</h2>"
              "<img alt=\"histogram of the students' total points\" "
              f"src=\"data:image/png;base64,{base64.b64encode(histogram).decode()}\">"
            + roster_notes
            + "<h2>Identical submissions</h2>"
            + (f"<p>These students handed in byte-identical notebooks:</p><ul>{identical}</ul>"
               if identical else "<p>None: no two notebooks are byte-identical.</p>")
            + similar)
    _write_text(out / "summary.html", _page(f"Summary: {chapter}", body, _SORT_SCRIPT))
    (out / "results.json").write_text(json.dumps(
        {"chapter": chapter, "max_points": max_points, "hidden_seed": hidden_seed,
         "identical": groups,
         "tasks": [_as_dict(t) for t in tasks],
         "questions": [_as_dict(q) for q in questions],
         "students": [{**{k: v for k, v in asdict(r).items() if k != "tasks"},
                       "raw_total": r.raw_total, "total": r.total,
                       "tasks": [asdict(t) for t in r.tasks]}
                      for r in results],
         "similarity": similarity, "extra": extra}, indent=1), encoding="utf-8")
    return {"grades": out / "grades.csv", "summary": out / "summary.html",
            "feedback": feedback, "results": out / "results.json"}


def _tuples(value):
    """Lists (JSON arrays) as tuples, nested ones too."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def _build(kind, data: dict, *, frozen_tuples: bool = False):
    """``kind(**data)`` with only the fields ``kind`` has (later fields keep their
    defaults); arrays as tuples for the frozen layout types."""
    names = {f.name for f in dataclasses.fields(kind)}
    if not isinstance(data, dict):
        raise ValueError(f"results.json: expected an object for {kind.__name__}, got "
                         f"{type(data).__name__}")
    return kind(**{k: _tuples(v) if frozen_tuples else v for k, v in data.items()
                   if k in names})


def read_results(out: str | Path) -> ResultsFile:
    """What :func:`write_reports` wrote to ``out/results.json`` (``out`` the folder or the
    file itself), as the objects it was written from: the chapter's tasks (and questions)
    as :class:`~course_utils.notebook_format.Task` (and ``Question``), each student as a
    :class:`StudentResult`. Raises ``FileNotFoundError`` without a results file and
    ``ValueError`` naming the file when it cannot be read."""
    from ..notebook_format import Question, Task

    path = Path(out)
    path = path / "results.json" if path.is_dir() else path
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not a results file of the grader: {error}") from None
    if not isinstance(data, dict) or not isinstance(data.get("students"), list):
        raise ValueError(f"{path} is not a results file of the grader (no list of students)")
    students = []
    for entry in data["students"]:
        student = _build(StudentResult, entry)
        student.tasks = [_build(TaskResult, t) for t in entry.get("tasks", [])]
        student.questions = [_build(QuestionResult, q) for q in entry.get("questions", [])]
        student.overrides = [_build(Override, o) for o in entry.get("overrides", [])]
        students.append(student)
    return ResultsFile(
        chapter=data.get("chapter", ""), max_points=data.get("max_points", 0),
        hidden_seed=data.get("hidden_seed"),
        tasks=[_build(Task, t, frozen_tuples=True) for t in data.get("tasks", [])],
        questions=[_build(Question, q, frozen_tuples=True) for q in data.get("questions", [])],
        students=students, similarity=data.get("similarity"), extra=data.get("extra"))
