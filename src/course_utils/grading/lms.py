"""The grades in the course's systems: the class roster, late penalties, and the grade
import files of Moodle and Canvas.

* :func:`read_roster` reads the roster, a CSV file with a header row (comma, semicolon or
  tab separated, UTF-8 with or without a byte-order mark). Its columns, named in any
  order and case: ``name`` or ``submission`` (the student's file or folder name as
  handed in, with or without ``.ipynb``/``.zip``), ``id`` (the institution's ID number;
  also ``idnumber``, ``id_number``, ``student_id``), ``email`` (may be empty), and the
  optional ``submitted`` (ISO 8601 time of submission), ``display_name`` (or
  ``full_name``), ``section`` and ``canvas_id`` (Canvas's own user ID). Other columns are
  ignored. A missing required column, a duplicate submission name, ID or email, or a bad
  time is a :class:`RosterError` naming the file, the row (the header is row 1) and the
  column.
* :func:`match_roster` pairs the grader's student names with roster entries the way the
  grader names students: the extension dropped, the grader's own name cleaning
  (``submissions.student_name``), case ignored. Submissions without an entry and entries
  without a submission are returned, never dropped.
* :class:`LatePolicy` takes points off late work: ``"10%/day"`` takes 10 % of the points
  for every started day after the deadline (one second to 24 hours late: 10 %; 1.5 days:
  20 %), at most all of them; ``"zero"`` scores any late work 0; ``"none"`` takes nothing.
  A time without a zone (in the roster, a deadline, a zip entry) is UTC.
  :func:`~course_utils.grading.submissions.submission_time` is a file's modification time or
  a zip entry's time;
  :func:`submitted_at` prefers the roster's ``submitted`` time. A file's or a zip entry's
  time is only as good as whoever made the file: the platform's download, or a student
  who hands in a zip of their own and picks its times. :func:`apply_roster` lists every
  submission time later than the grading run (:data:`FUTURE_SLACK`) for the summary; a
  time forged into the past cannot be told from a true one, so give the roster the
  platform's ``submitted`` times where late work loses points.
* :func:`write_moodle` and :func:`write_canvas` write the import files, UTF-8 without a
  byte-order mark, numbers with a dot and at most two decimals, every text cell through
  :func:`report.csv_cell <course_utils.grading.report.csv_cell>` (no spreadsheet
  formulas).

Moodle (grade import from CSV, https://docs.moodle.org/311/en/Grade_import and
https://docs.moodle.org/27/en/Grade_import): the header names are free, the teacher maps
them on the import page. "Map from" is the column that identifies users, "Map to" the
user field it holds (``useridnumber``: the ID number, ``useremail``: the email address;
the documentation warns that email addresses may be compared case-sensitively, so they
are written as the roster has them); every other column maps to a grade item, to
"Feedback for" an item, or is ignored; a grade ``-`` or empty is no grade. Importing
feedback alone would clear the item's grades, so the feedback column always comes with
the grade column. The file written here has the headers of Moodle's own export
(``grade/export/lib.php``, ``format_column_name``), which the import page of recent
Moodle pre-selects in an English-language site (``grade/import/grade_import_form.php``):
``ID number`` or ``Email address``, then ``<item> (Real)`` and ``<item> (Feedback)``,
where ``<item>`` is the grade item as Moodle names it (``Assignment: Sheet 4``).

Canvas (Gradebook import, as parsed by Canvas's ``GradebookImporter``,
https://github.com/instructure/canvas-lms/blob/master/app/models/gradebook_importer.rb,
and described in
https://teaching.resources.osu.edu/toolsets/carmencanvas/guides/calculating-final-grades/import-csv-file-carmen-grades):
the header is ``Student, ID, SIS User ID, SIS Login ID, Section``, then one column per
assignment, ``Assignment Name (assignment id)``; a header without the id matches an
assignment by its title, or creates a new one. A row whose first cell is ``Points
Possible`` gives each assignment's points (used for a new one). Canvas finds a student by
``ID`` (its own user ID), then ``SIS User ID``, then ``SIS Login ID``, then the name. The
file written here puts the roster's ``canvas_id`` (empty when not known) in ``ID``, the ID
number in ``SIS User ID`` and the email in ``SIS Login ID``. Canvas's gradebook import
takes scores only: the feedback is not written (a column Canvas does not know would
become a new assignment).
"""

from __future__ import annotations

import csv
import io
import math
import numbers
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path

from .report import csv_cell
from .submissions import student_name, submission_time

__all__ = ["RosterError", "RosterEntry", "Roster", "read_roster", "match_key",
           "match_roster", "parse_time", "LatePolicy", "submitted_at",
           "GradeRow", "write_moodle", "write_canvas", "MOODLE_KEYS", "CANVAS_COLUMNS",
           "apply_roster", "feedback_line", "export_grades", "FUTURE_SLACK"]

#: The Moodle user fields a grade file can be keyed by, and the header of that column.
MOODLE_KEYS = {"idnumber": "ID number", "email": "Email address"}
#: The student columns of a Canvas gradebook file, in order; the assignment follows.
CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
#: Header parts that make Canvas read a column as a computed total, not an assignment.
_CANVAS_RESERVED = ("Current Score", "Current Points", "Current Grade", "Final Score",
                    "Final Points", "Final Grade", "Override Score", "Override Grade",
                    "Override Status")

_DAY = timedelta(days=1)
#: A submission time later than the grading run by more than this is flagged: the largest
#: time zone offset, as a zip entry's time without a zone (its DOS date and time, the
#: platform's local time) is read as UTC.
FUTURE_SLACK = timedelta(hours=14)


class RosterError(ValueError):
    """A roster that cannot be read as it stands; the message names the file, the row and
    the column."""


@dataclass(frozen=True)
class RosterEntry:
    """One student of the roster."""

    name: str  # the submission's file or folder name, as the roster writes it
    student_id: str
    email: str = ""
    submitted: datetime | None = None  # time zone aware
    display_name: str = ""
    section: str = ""
    canvas_id: str = ""
    row: int = 0  # the row of the roster file (the header is row 1)

    @property
    def key(self) -> str:
        """The name as :func:`match_roster` compares it."""
        return match_key(self.name)


@dataclass
class Roster:
    """The students of a roster file, in the file's order."""

    path: Path
    entries: list[RosterEntry] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self):
        return iter(self.entries)


#: Roster columns: field -> the (normalised) header names accepted for it.
_COLUMNS = {
    "name": ("name", "submission"),
    "student_id": ("id", "idnumber", "id_number", "student_id"),
    "email": ("email", "email_address", "e_mail"),
    "submitted": ("submitted",),
    "display_name": ("display_name", "full_name"),
    "section": ("section",),
    "canvas_id": ("canvas_id",),
}
_REQUIRED = ("name", "student_id", "email")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


def _header_key(text: str) -> str:
    return re.sub(r"[\s-]+", "_", text.strip().lower())


def _cleaned(name: str) -> str:
    """``name`` without a trailing ``.ipynb`` or ``.zip``, cleaned as the grader cleans a
    student's name."""
    if not isinstance(name, str):
        raise TypeError(f"a student name must be a string, saw {name!r}")
    text = re.sub(r"\.(ipynb|zip)$", "", name.strip(), flags=re.IGNORECASE)
    cleaned = student_name(text)
    while student_name(cleaned) != cleaned:  # a name cut at 80 characters
        cleaned = student_name(cleaned)
    return cleaned


def match_key(name: str) -> str:
    """``name`` as the roster and the grader's names are compared: without a trailing
    ``.ipynb`` or ``.zip``, cleaned as the grader cleans a student's name, lower case."""
    return _cleaned(name).lower()


def parse_time(text: str, *, what: str = "time") -> datetime:
    """The time ``text`` (ISO 8601 with a date and a time, ``2024-05-01T23:59``,
    ``2024-05-01 23:59:00+02:00``, ``...Z``) as an aware datetime; without a zone it is
    UTC. ``what`` names the value in the error."""
    if not isinstance(text, str):
        raise TypeError(f"{what} must be an ISO 8601 time as text, saw {text!r}")
    stripped = text.strip()
    if not re.search(r"\d[T ]\d", stripped):
        raise ValueError(f"{what} must be an ISO 8601 date and time such as "
                         f"2024-05-01T23:59 or 2024-05-01T23:59+02:00, saw {text!r}")
    try:
        moment = datetime.fromisoformat(stripped)
    except ValueError:
        raise ValueError(f"{what} must be an ISO 8601 date and time such as "
                         f"2024-05-01T23:59 or 2024-05-01T23:59+02:00, saw {text!r}") from None
    return _aware(moment)


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def _delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in (",", ";", "\t")}
    return max(counts, key=lambda d: (counts[d], d == ","))


def read_roster(path: str | Path) -> Roster:
    """The roster in the CSV file ``path`` (columns in the module's description). Raises
    :class:`RosterError` naming the file, row and column of the first problem."""
    path = Path(path)
    text = path.read_text(encoding="utf-8-sig")
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise RosterError(f"{path}: the roster is empty; its first row must name the "
                          "columns (name, id, email, ...)")
    rows = list(csv.reader(io.StringIO(text), delimiter=_delimiter(lines[0])))
    header = [_header_key(h) for h in rows[0]]
    columns: dict[str, int] = {}
    for fieldname, names in _COLUMNS.items():
        found = [i for i, h in enumerate(header) if h in names]
        if len(found) > 1:
            shown = ", ".join(repr(rows[0][i]) for i in found)
            hint = (" (the submission's file or folder name goes in one of them; call the "
                    "student's full name display_name)" if fieldname == "name" else "")
            raise RosterError(f"{path}, row 1: columns {shown} say the same thing{hint}")
        if found:
            columns[fieldname] = found[0]
    for fieldname in _REQUIRED:
        if fieldname not in columns:
            wanted = " or ".join(map(repr, _COLUMNS[fieldname]))
            raise RosterError(f"{path}, row 1: no column {wanted}; the columns are "
                              f"{', '.join(map(repr, rows[0]))}")

    entries: list[RosterEntry] = []
    seen: dict[tuple[str, str], int] = {}
    for number, cells in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > len(header):
            raise RosterError(f"{path}, row {number}: {len(cells)} cells, the header has "
                              f"{len(header)} (a separator inside a value needs quotes)")
        values = {f: (cells[i].strip() if i < len(cells) else "") for f, i in columns.items()}

        def where(fieldname: str) -> str:
            return f"{path}, row {number}, column {rows[0][columns[fieldname]]!r}"

        for fieldname in ("name", "student_id"):
            if not values[fieldname]:
                raise RosterError(f"{where(fieldname)}: empty")
        if values["email"] and not _EMAIL.fullmatch(values["email"]):
            raise RosterError(f"{where('email')}: not an email address: {values['email']!r}")
        submitted = None
        if values.get("submitted"):
            try:
                submitted = parse_time(values["submitted"], what="the submission time")
            except ValueError as error:
                raise RosterError(f"{where('submitted')}: {error}") from None
        entry = RosterEntry(values["name"], values["student_id"], values["email"], submitted,
                            values.get("display_name", ""), values.get("section", ""),
                            values.get("canvas_id", ""), number)
        for fieldname, value in (("name", entry.key), ("student_id", entry.student_id),
                                 ("email", entry.email.lower())):
            if not value:
                continue
            if (fieldname, value) in seen:
                raise RosterError(f"{where(fieldname)}: {values[fieldname]!r} is also in row "
                                  f"{seen[(fieldname, value)]}")
            seen[(fieldname, value)] = number
        entries.append(entry)
    return Roster(path, entries)


def match_roster(roster: Roster, names: Iterable[str]
                 ) -> tuple[dict[str, RosterEntry], list[str], list[RosterEntry]]:
    """``(matched, unknown, missing)``: the roster entry of each of the grader's student
    ``names``, the names without one (in the given order), and the entries without a
    submission (in the roster's order). Names are compared by :func:`match_key`. Where
    several names fall on one entry, the one equal to the entry's cleaned name wins; if
    none is, none is matched, and all of them are listed as unknown."""
    by_key = {entry.key: entry for entry in roster}
    names = list(names)
    claims: dict[str, list[str]] = {}
    for name in names:
        key = match_key(name)
        if key in by_key:
            claims.setdefault(key, []).append(name)
    winners: dict[str, str] = {}
    for key, claimants in claims.items():
        if len(claimants) == 1:
            winners[claimants[0]] = key
        else:
            exact = [n for n in claimants if _cleaned(n) == _cleaned(by_key[key].name)]
            if len(exact) == 1:
                winners[exact[0]] = key
    matched = {name: by_key[winners[name]] for name in names if name in winners}
    unknown = [name for name in names if name not in winners]
    used = set(winners.values())
    missing = [entry for entry in roster if entry.key not in used]
    return matched, unknown, missing


@dataclass(frozen=True)
class LatePolicy:
    """How late work loses points: ``kind`` is ``"per_day"`` (``percent`` of the points per
    started day after the deadline, at most 100 %), ``"zero"`` (any late work scores 0) or
    ``"none"``."""

    kind: str
    percent: float = 0.0

    @classmethod
    def parse(cls, text: str) -> "LatePolicy":
        """The policy written as ``"10%/day"`` (also ``"10 % per day"``; 0 < percent <=
        100), ``"zero"`` or ``"none"``."""
        if not isinstance(text, str):
            raise TypeError(f"late policy must be text such as '10%/day', 'zero' or "
                            f"'none', saw {text!r}")
        word = text.strip().lower()
        if word in ("zero", "none"):
            return cls(word)
        match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*%\s*(?:/|per)\s*day", word)
        if match and 0 < float(match.group(1)) <= 100:
            return cls("per_day", float(match.group(1)))
        raise ValueError(f"late policy must be 'P%/day' with 0 < P <= 100 (e.g. '10%/day'), "
                         f"'zero' or 'none', saw {text!r}")

    def __str__(self) -> str:
        return f"{self.percent:g}%/day" if self.kind == "per_day" else self.kind

    @property
    def description(self) -> str:
        """The rule in words, for feedback."""
        if self.kind == "per_day":
            return (f"{self.percent:g} % of the points per started day late, "
                    "at most all of them")
        if self.kind == "zero":
            return "late work scores 0 points"
        return "no penalty for late work"

    def penalty(self, submitted: datetime, deadline: datetime) -> tuple[float, float]:
        """``(late_days, fraction)``: how late ``submitted`` is after ``deadline`` in days
        (0 when on time or exactly at the deadline), and the fraction of the points taken
        off, 0 to 1. Times without a zone are UTC."""
        for what, value in (("submitted", submitted), ("deadline", deadline)):
            if not isinstance(value, datetime):
                raise TypeError(f"{what} must be a datetime, saw {value!r}")
        late = _aware(submitted) - _aware(deadline)
        if late <= timedelta(0):
            return 0.0, 0.0
        days = late / _DAY
        if self.kind == "zero":
            return days, 1.0
        if self.kind == "none":
            return days, 0.0
        started = math.ceil(days)
        return days, min(100.0, started * self.percent) / 100


def submitted_at(entry: RosterEntry | None, path: str | Path, member: str | None = None, *,
                 zone: tzinfo = timezone.utc) -> datetime:
    """The submission time: the roster's ``submitted`` where the entry has one, else
    :func:`submission_time` of ``path`` (and ``member``)."""
    if entry is not None and entry.submitted is not None:
        return entry.submitted
    return submission_time(path, member, zone=zone)


@dataclass(frozen=True)
class GradeRow:
    """One student's grade for an LMS file: ``points`` (after any late penalty) of
    ``max_points``, and a short ``feedback`` text."""

    student: str  # the grader's name for the submission
    student_id: str  # the roster's ID number (Moodle "ID number", Canvas "SIS User ID")
    email: str
    points: float
    max_points: float
    feedback: str = ""
    display_name: str = ""  # Canvas "Student"; the student name when empty
    section: str = ""
    canvas_id: str = ""  # Canvas's own user ID, when known

    @classmethod
    def from_entry(cls, entry: RosterEntry, student: str, points: float, max_points: float,
                   feedback: str = "") -> "GradeRow":
        """The row of ``student`` (the grader's name) with the roster ``entry``."""
        return cls(student, entry.student_id, entry.email, points, max_points, feedback,
                   entry.display_name, entry.section, entry.canvas_id)


def _number(value, what: str) -> str:
    """``value`` with a dot and at most two decimals, no trailing zeros."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) \
            or not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, saw {value!r}")
    text = f"{round(float(value), 2):.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _text(value, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be text, saw {value!r}")
    return value


def _check_rows(rows) -> list[GradeRow]:
    rows = list(rows)
    for row in rows:
        if not isinstance(row, GradeRow):
            raise TypeError(f"rows must be GradeRow objects, saw {row!r}")
        if _number(row.points, f"points of {row.student!r}").startswith("-"):
            raise ValueError(f"points of {row.student!r} must not be negative, saw {row.points!r}")
        _number(row.max_points, f"max_points of {row.student!r}")
    return rows


def _write(path: str | Path, table: list[list[str]]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(table)
    return path


def write_moodle(path: str | Path, rows: Iterable[GradeRow], *, key: str = "idnumber",
                 item: str, feedback: bool = True) -> Path:
    """Write Moodle's grade import CSV to ``path``: the column that identifies the
    student, ``ID number`` (``key="idnumber"``, the row's ``student_id``) or ``Email
    address`` (``key="email"``), then ``<item> (Real)`` with the points and, with
    ``feedback`` (default), ``<item> (Feedback)`` with the feedback text. ``item`` is the
    grade item as Moodle names it (``"Assignment: Sheet 4"``). Returns the path."""
    if key not in MOODLE_KEYS:
        raise ValueError(f"key must be one of {', '.join(map(repr, MOODLE_KEYS))}, saw {key!r}")
    if not isinstance(item, str) or not item.strip() or re.search(r"[\r\n]", item):
        raise ValueError(f"item must be the grade item's name on one line, saw {item!r}")
    rows = _check_rows(rows)
    header = [MOODLE_KEYS[key], f"{item.strip()} (Real)"]
    if feedback:
        header.append(f"{item.strip()} (Feedback)")
    table = [[csv_cell(h) for h in header]]
    seen: dict[str, str] = {}
    for row in rows:
        value = _text(row.student_id if key == "idnumber" else row.email,
                      f"{key} of {row.student!r}").strip()
        if not value:
            raise ValueError(f"{row.student!r} has no {MOODLE_KEYS[key]} for key={key!r}")
        if value in seen:
            raise ValueError(f"{MOODLE_KEYS[key]} {value!r} is given to both "
                             f"{seen[value]!r} and {row.student!r}")
        seen[value] = row.student
        cells = [csv_cell(value), _number(row.points, f"points of {row.student!r}")]
        if feedback:
            cells.append(csv_cell(_text(row.feedback, f"feedback of {row.student!r}")))
        table.append(cells)
    return _write(path, table)


def write_canvas(path: str | Path, rows: Iterable[GradeRow], *, assignment: str,
                 points_possible: float, assignment_id: int | str | None = None) -> Path:
    """Write Canvas's gradebook import CSV to ``path``: the columns ``Student, ID, SIS
    User ID, SIS Login ID, Section`` and ``<assignment> (<assignment_id>)`` (without an
    id: ``<assignment>``, matched by title or created), a ``Points Possible`` row with
    ``points_possible``, then one row per student with the points. Feedback is not part of
    Canvas's gradebook import and is not written. Returns the path."""
    if not isinstance(assignment, str) or not assignment.strip() \
            or re.search(r"[\r\n]", assignment):
        raise ValueError(f"assignment must be the assignment's name on one line, "
                         f"saw {assignment!r}")
    assignment = assignment.strip()
    reserved = [word for word in _CANVAS_RESERVED if word in assignment]
    if reserved:
        raise ValueError(f"assignment {assignment!r} contains {reserved[0]!r}: Canvas would "
                         "read the column as a computed total, not an assignment")
    if assignment_id is None:
        if re.search(r"\s\(\d+\)$", assignment):
            raise ValueError(f"assignment {assignment!r} ends in a number in parentheses, "
                             "which Canvas reads as the assignment id; pass assignment_id")
        column = assignment
    else:
        if isinstance(assignment_id, bool) or not re.fullmatch(r"\d+", str(assignment_id)):
            raise ValueError(f"assignment_id must be Canvas's numeric assignment id, "
                             f"saw {assignment_id!r}")
        column = f"{assignment} ({assignment_id})"
    possible = _number(points_possible, "points_possible")
    if float(possible) <= 0:
        raise ValueError(f"points_possible must be positive, saw {points_possible!r}")
    rows = _check_rows(rows)
    table = [[*CANVAS_COLUMNS, csv_cell(column)],
             ["Points Possible", "", "", "", "", possible]]
    seen: dict[tuple[str, str], str] = {}
    for row in rows:
        ids = {"ID": _text(row.canvas_id, f"canvas_id of {row.student!r}").strip(),
               "SIS User ID": _text(row.student_id, f"student_id of {row.student!r}").strip(),
               "SIS Login ID": _text(row.email, f"email of {row.student!r}").strip()}
        if not any(ids.values()):
            raise ValueError(f"{row.student!r} has no ID, SIS User ID or email: Canvas "
                             "could only guess the student by name")
        for column_name, value in ids.items():
            if not value:
                continue
            if (column_name, value) in seen:
                raise ValueError(f"{column_name} {value!r} is given to both "
                                 f"{seen[(column_name, value)]!r} and {row.student!r}")
            seen[(column_name, value)] = row.student
        name = _text(row.display_name, f"display_name of {row.student!r}").strip() \
            or row.student
        table.append([csv_cell(name), csv_cell(ids["ID"]), csv_cell(ids["SIS User ID"]),
                      csv_cell(ids["SIS Login ID"]),
                      csv_cell(_text(row.section, f"section of {row.student!r}")),
                      _number(row.points, f"points of {row.student!r}")])
    return _write(path, table)


def apply_roster(results, roster: Roster | None, submitted: dict[str, datetime | None], *,
                 deadline: datetime | None = None, policy: LatePolicy | None = None,
                 now: datetime | None = None) -> dict:
    """Fill in each :class:`~course_utils.grading.report.StudentResult` of ``results``
    (changed in place): its roster ``student_id`` and ``email`` (with ``roster``), its
    submission time (the roster's ``submitted``, else ``submitted[name]``, the file's) and,
    with a ``deadline`` and a ``policy``, its late days and penalty. Returns what the
    class summary lists: ``{"roster": {"unknown": [...], "missing": [...]}, "deadline":
    ..., "late_policy": ..., "future": [...]}`` (the names without a roster entry, the
    roster's students without a submission, the students whose submission time is more
    than :data:`FUTURE_SLACK` after ``now``, the grading run, by default the current time:
    a wrong clock or zone, or a forged time; keys only where given or found)."""
    info: dict = {}
    now = _aware(now) if now is not None else datetime.now(timezone.utc)
    future: list[str] = []
    matched: dict[str, RosterEntry] = {}
    if roster is not None:
        matched, unknown, missing = match_roster(roster, [r.student for r in results])
        info["roster"] = {"file": roster.path.name, "unknown": unknown,
                          "missing": [entry.name for entry in missing]}
    if deadline is not None:
        info["deadline"] = _aware(deadline).isoformat()
    if policy is not None:
        info["late_policy"] = str(policy)
    for student in results:
        entry = matched.get(student.student)
        if entry is not None:
            student.student_id, student.email = entry.student_id, entry.email
        if entry is not None and entry.submitted:
            when = entry.submitted
        elif student.student in submitted:
            when = submitted[student.student]
        else:  # not graded in this run (kept from an earlier one): as it was
            continue
        student.submitted = _aware(when).isoformat() if when else ""
        if when and _aware(when) > now + FUTURE_SLACK:
            future.append(student.student)
        if when and deadline is not None and policy is not None:
            student.late_days, student.penalty = policy.penalty(when, deadline)
            student.late_days = round(student.late_days, 4)
            student.penalty_rule = str(policy)
    if future:
        info["future"] = sorted(future, key=str.lower)
    return info


def feedback_line(student, tasks, questions) -> str:
    """A one-line summary of ``student``'s points per task and question (for an LMS's
    feedback column): ``"task1 2/2, task2 0/2, q1 1/2; late: -10 %"``."""
    points = student.task_points()
    answers = {q.id: q for q in student.questions}
    parts = [f"{t.id} {_number(points.get(t.id, 0), t.id)}/{_number(t.points, t.id)}"
             for t in tasks]
    for q in questions:
        got = answers.get(q.id)
        value = "?" if got is None or got.points is None and got.status != "missing answer" \
            else _number(got.counted, q.id)
        parts.append(f"{q.id} {value}/{_number(q.points, q.id)}")
    text = ", ".join(parts)
    if student.penalty:
        text += f"; late: -{100 * student.penalty:g} %"
    return text


def export_grades(results_file, kind: str, path: str | Path, *, key: str = "idnumber",
                  item: str | None = None, assignment_id: int | str | None = None
                  ) -> tuple[Path, list[str]]:
    """Write the grade import file of ``kind`` (``"moodle"`` or ``"canvas"``) for the
    class of ``results_file`` (:func:`~course_utils.grading.report.read_results`) to
    ``path``: each student's total after any late penalty (and, for Moodle, the points of
    each task and question as feedback), keyed by the roster's ID number
    (``key="idnumber"``, default) or e-mail (``key="email"``, Moodle only). ``item`` names
    the grade item (Moodle) or the assignment (Canvas); default ``"Exercise sheet
    <chapter>"``. Returns the path and the students left out because the roster gives
    them no such key (the caller lists them)."""
    if kind not in ("moodle", "canvas"):
        raise ValueError(f"kind must be 'moodle' or 'canvas', saw {kind!r}")
    item = item or f"Exercise sheet {results_file.chapter}"
    rows = [GradeRow(s.student, s.student_id, s.email, s.total, results_file.max_points,
                     feedback_line(s, results_file.tasks, results_file.questions))
            for s in results_file.students]
    def keyed(row: GradeRow) -> bool:  # the LMS can find the student
        if kind == "moodle":
            return bool((row.student_id if key == "idnumber" else row.email).strip())
        return bool(row.student_id.strip() or row.email.strip())

    kept = [row for row in rows if keyed(row)]
    left_out = [row.student for row in rows if not keyed(row)]
    if kind == "moodle":
        return write_moodle(path, kept, key=key, item=item), left_out
    return write_canvas(path, kept, assignment=item, points_possible=results_file.max_points,
                        assignment_id=assignment_id), left_out
