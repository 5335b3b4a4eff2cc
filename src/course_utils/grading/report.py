"""What the grader writes: ``grades.csv``, one feedback file per student (Markdown and
HTML), the class summary (``summary.html`` with ``pass_rates.png``) and ``results.json``.

The summary groups failure messages by their text with the numbers taken out, so that
"J[0, 1] is 0.52, expected 0.49" and "J[2, 0] is 0.1, expected 0.3" count as one mistake,
shows the most frequent ones first: "11 of 30: ...", and names the students who handed
in byte-identical notebooks.

Text that a student controls (their name, from the file name, and the messages that quote
their code's exceptions) is escaped where it is written: it cannot add a heading, a link
or HTML to the feedback, and a ``grades.csv`` cell never starts a spreadsheet formula.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import re
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .runner import TaskResult
from .status import Status

__all__ = ["StudentResult", "write_reports", "feedback_markdown", "feedback_html",
           "common_failures", "normalise_message", "md_escape", "csv_cell", "identical_groups"]


@dataclass
class StudentResult:
    """Everything graded for one student."""

    student: str
    source: str  # the submitted file, as given
    status: str  # "graded", "not a notebook", "timed out (task2)", ...
    tasks: list[TaskResult] = field(default_factory=list)
    digest: str = ""  # SHA-256 of the submitted notebook (identical submissions)

    @property
    def total(self) -> float:
        return sum(t.points for t in self.tasks)


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


def _task_lines(task: TaskResult) -> tuple[str, str, str | None]:
    """(heading, what happened, how the code was found or None) of one task, as plain
    text."""
    mark = "\u2713" if task.status == Status.PASSED else "\u2717"
    unit = "point" if task.max_points == 1 else "points"
    heading = (f"{mark} {task.title}: {_points(task.points)} of {_points(task.max_points)} "
               f"{unit}")
    if task.status == Status.PASSED:
        said = "Correct: the check passes, on its visible and its hidden cases."
    else:
        said = (f": {_plain(task.message)}" if task.message and task.message != task.status
                else "")
    found = (f"Your code for this task was found {_plain(task.found)}."
             if task.found not in ("", "tagged", "task cell not found") else None)
    return heading, said, found


def feedback_markdown(student: StudentResult, chapter: str, max_points: float) -> str:
    """The feedback for one student, as Markdown; every text is escaped, so nothing a
    student wrote can add a heading, a link or HTML."""
    lines = [f"# Feedback: {md_escape(chapter)}", "",
             f"**Student:** {md_escape(student.student)}  ",
             f"**Points:** {_points(student.total)} of {_points(max_points)}  ",
             f"**Status:** {md_escape(student.status)}", ""]
    if not student.tasks:
        lines += [f"Nothing could be graded: {md_escape(student.status)}.", ""]
    for task in student.tasks:
        heading, said, found = _task_lines(task)
        lines += [f"## {md_escape(heading)}", ""]
        lines.append(md_escape(said) if task.status == Status.PASSED
                     else f"**{md_escape(task.status)}**{md_escape(said)}")
        if found:
            lines += ["", f"_{md_escape(found)}_"]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def feedback_html(student: StudentResult, chapter: str, max_points: float) -> str:
    """The feedback for one student, as a self-contained HTML page (every text
    escaped)."""
    e = html.escape
    body = [f"<h1>Feedback: {e(chapter)}</h1>",
            f"<p><strong>Student:</strong> {e(_plain(student.student))}<br>"
            f"<strong>Points:</strong> {_points(student.total)} of {_points(max_points)}<br>"
            f"<strong>Status:</strong> {e(_plain(student.status))}</p>"]
    if not student.tasks:
        body.append(f"<p>Nothing could be graded: {e(_plain(student.status))}.</p>")
    for task in student.tasks:
        heading, said, found = _task_lines(task)
        body.append(f"<h2>{e(heading)}</h2>")
        body.append(f"<p>{e(said)}</p>" if task.status == Status.PASSED
                    else f"<p><strong>{e(_plain(task.status))}</strong>{e(said)}</p>")
        if found:
            body.append(f"<p><em>{e(found)}</em></p>")
    return _page(f"{_plain(student.student)}: {chapter}", "\n".join(body))


def csv_cell(value) -> str:
    """A ``grades.csv`` cell: text that a spreadsheet would read as a formula (starting
    with ``=``, ``+``, ``-``, ``@``, a tab or a line break) gets a leading apostrophe."""
    text = str(value)
    if isinstance(value, str) and text[:1] in ("=", "+", "-", "@", "\t", "\r", "\n"):
        return "'" + text
    return text


def _page(title: str, body: str) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>body{{font-family:sans-serif;"
            "max-width:60em;margin:2em auto;line-height:1.4}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}"
            "</style></head>\n<body>\n" + body + "\n</body></html>\n")


def _pass_rate_figure(titles: list[str], rates: list[float]) -> bytes:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 0.6 * len(titles) + 1.2))
    ax.barh(range(len(titles)), [100 * r for r in rates], color="#4c72b0")
    ax.set_yticks(range(len(titles)), titles)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("students who passed the task (%)")
    ax.set_title("Pass rate per task")
    for k, rate in enumerate(rates):
        ax.text(min(100 * rate + 1, 92), k, f"{100 * rate:.0f} %", va="center")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


def identical_groups(results: list[StudentResult]) -> list[list[str]]:
    """Students who handed in byte-identical notebooks, in groups of two or more."""
    by_digest: dict[str, list[str]] = defaultdict(list)
    for student in results:
        if student.digest:
            by_digest[student.digest].append(student.student)
    return sorted(sorted(names, key=str.lower) for names in by_digest.values()
                  if len(names) > 1)


def write_reports(results: list[StudentResult], chapter: str, tasks, out: Path, *,
                  hidden_seed: int | None = None) -> dict:
    """Write every output into ``out``; returns the paths written, by kind."""
    out.mkdir(parents=True, exist_ok=True)
    max_points = sum(t.points for t in tasks)
    results = sorted(results, key=lambda r: r.student.lower())
    with open(out / "grades.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", *[t.id for t in tasks], "total", "max", "status"])
        for student in results:
            points = {t.task: t.points for t in student.tasks}
            writer.writerow([csv_cell(student.student),
                             *[_points(points.get(t.id, 0)) for t in tasks],
                             _points(student.total), _points(max_points),
                             csv_cell(student.status)])
    feedback = out / "feedback"
    feedback.mkdir(exist_ok=True)
    for student in results:
        text = feedback_markdown(student, chapter, max_points)
        (feedback / f"{student.student}.md").write_text(text, encoding="utf-8")
        (feedback / f"{student.student}.html").write_text(
            feedback_html(student, chapter, max_points), encoding="utf-8")

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
    body = (f"<h1>Class summary: {html.escape(chapter)}</h1>"
            f"<p>{n} submissions; mean {mean:.1f} of {_points(max_points)} points.</p>"
            f"<img alt=\"pass rate per task\" src=\"data:image/png;base64,"
            f"{base64.b64encode(png).decode()}\">"
            f"<h2>Tasks</h2><table><tr><th>task</th><th>points</th><th>passed</th></tr>"
            f"{rows}</table>"
            "<h2>Most frequent mistakes</h2>"
            + (f"<table><tr><th>students</th><th>task</th><th>message</th></tr>{mistakes}"
               "</table>" if mistakes else "<p>None: every task passed.</p>")
            + f"<h2>Submissions</h2><table><tr><th>status</th><th>students</th></tr>"
              f"{status_rows}</table>"
            + "<h2>Identical submissions</h2>"
            + (f"<p>These students handed in byte-identical notebooks:</p><ul>{identical}</ul>"
               if identical else "<p>None: no two notebooks are byte-identical.</p>"))
    (out / "summary.html").write_text(_page(f"Summary: {chapter}", body), encoding="utf-8")
    (out / "results.json").write_text(json.dumps(
        {"chapter": chapter, "max_points": max_points, "hidden_seed": hidden_seed,
         "identical": groups,
         "students": [{**{k: v for k, v in asdict(r).items() if k != "tasks"},
                       "total": r.total, "tasks": [asdict(t) for t in r.tasks]}
                      for r in results]}, indent=1), encoding="utf-8")
    return {"grades": out / "grades.csv", "summary": out / "summary.html",
            "feedback": feedback, "results": out / "results.json"}
