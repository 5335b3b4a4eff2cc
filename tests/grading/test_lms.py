"""The grades in the course's systems (course_utils.grading.lms): the roster and how it
matches the grader's student names, late penalties and submission times, and the grade
import files of Moodle and Canvas, column by column. No notebook is run here."""

import csv
import os
import struct
import zipfile
from datetime import datetime, timedelta, timezone

import pytest

from course_utils.grading.lms import (CANVAS_COLUMNS, GradeRow, LatePolicy, RosterEntry,
                                      RosterError, match_key, match_roster, parse_time,
                                      read_roster, submitted_at, write_canvas,
                                      write_moodle)
from course_utils.grading.submissions import collect, submission_time

UTC = timezone.utc
DEADLINE = parse_time("2024-05-01T23:59:00+02:00")


def _roster(tmp_path, text, name="roster.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _rows(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


# --- roster ---------------------------------------------------------------------------

ROSTER = """name,id,email,submitted,display_name
Alice Smith.ipynb,1001,alice@uni.example,2024-05-01T21:00:00Z,"Smith, Alice"
bob,1002,Bob@Uni.example,,Bob Brown
Carol.zip,1003,carol@uni.example,2024-05-02T10:00,Carol Clark
dora,1004,,,
"""


def test_read_roster(tmp_path):
    roster = read_roster(_roster(tmp_path, ROSTER))
    assert [e.name for e in roster] == ["Alice Smith.ipynb", "bob", "Carol.zip", "dora"]
    alice, bob, carol, dora = roster.entries
    assert (alice.student_id, alice.email, alice.display_name, alice.row) == \
        ("1001", "alice@uni.example", "Smith, Alice", 2)
    assert alice.submitted == datetime(2024, 5, 1, 21, 0, tzinfo=UTC)
    assert carol.submitted == datetime(2024, 5, 2, 10, 0, tzinfo=UTC)  # naive is UTC
    assert bob.submitted is None and bob.email == "Bob@Uni.example"  # kept as written
    assert dora.email == "" and dora.row == 5
    assert len(roster) == 4


def test_read_roster_header_variants(tmp_path):
    # semicolons (a spreadsheet in a comma-decimal locale), a byte-order mark, other case
    path = tmp_path / "r.csv"
    path.write_bytes("\ufeffSubmission;ID;E-Mail;Section;Canvas ID;Notes\n"
                     "eve.ipynb;2001;eve@uni.example;A;77;whatever\n".encode("utf-8"))
    (eve,) = read_roster(path).entries
    assert (eve.name, eve.student_id, eve.email, eve.section, eve.canvas_id) == \
        ("eve.ipynb", "2001", "eve@uni.example", "A", "77")


@pytest.mark.parametrize("text, expected", [
    ("name,email\nx,x@a.b\n", r"row 1: no column 'id'"),
    ("id,email\n1,x@a.b\n", r"row 1: no column 'name' or 'submission'"),
    ("name,id\nx,1\n", r"row 1: no column 'email'"),
    ("name,submission,id,email\nA,a,1,\n", r"row 1: columns 'name', 'submission'.*display_name"),
    ("name,id,email\nalice,1,\nbob,2,\nAlice.ipynb,3,\n",
     r"row 4, column 'name': 'Alice.ipynb' is also in row 2"),
    ("name,id,email\nalice,1,\nbob,1,\n", r"row 3, column 'id': '1' is also in row 2"),
    ("name,id,email\nalice,1,a@x.y\nbob,2,A@X.Y\n", r"row 3, column 'email': 'A@X.Y' is also"),
    ("name,id,email,submitted\nalice,1,,yesterday\n",
     r"row 2, column 'submitted': .*ISO 8601.*'yesterday'"),
    ("name,id,email,submitted\nalice,1,,2024-05-01\n", r"row 2, column 'submitted'.*'2024-05-01'"),
    ("name,id,email\nalice,,\n", r"row 2, column 'id': empty"),
    ("name,id,email\nalice,1,not-an-address\n", r"row 2, column 'email'.*'not-an-address'"),
    ("name,id,email\nalice,1,a@b.c,extra\n", r"row 2: 4 cells, the header has 3"),
    ("", r"empty"),
])
def test_read_roster_errors(tmp_path, text, expected):
    path = _roster(tmp_path, text)
    with pytest.raises(RosterError, match=expected) as caught:
        read_roster(path)
    assert str(path) in str(caught.value)


def test_blank_rows_are_skipped(tmp_path):
    roster = read_roster(_roster(tmp_path, "name,id,email\n\nalice,1,\n,,\n"))
    assert [(e.name, e.row) for e in roster] == [("alice", 3)]


# --- matching -------------------------------------------------------------------------

def test_match_key_is_the_graders_name():
    assert match_key("Alice Smith.ipynb") == match_key("Alice_Smith") == "alice_smith"
    assert match_key("Carol.ZIP") == "carol"
    assert match_key("x" * 79 + " y") == match_key("x" * 79 + "_")  # cut at 80 characters


def test_match_roster_names_as_the_grader_makes_them(tmp_path):
    roster = read_roster(_roster(tmp_path, ROSTER))
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("Alice Smith.ipynb", "BOB.ipynb", "carol.ipynb", "eve.ipynb"):
        (folder / name).write_text("{}", encoding="utf-8")
    names = [s.student for s in collect([folder], tmp_path / "scratch")]
    assert sorted(names) == ["Alice_Smith", "BOB", "carol", "eve"]
    matched, unknown, missing = match_roster(roster, names)
    assert {name: entry.student_id for name, entry in matched.items()} == \
        {"Alice_Smith": "1001", "BOB": "1002", "carol": "1003"}
    assert unknown == ["eve"]
    assert [e.name for e in missing] == ["dora"]


def test_match_roster_never_gives_one_entry_twice(tmp_path):
    roster = read_roster(_roster(tmp_path, "name,id,email\nbob,1,\nann,2,\n"))
    matched, unknown, missing = match_roster(roster, ["BOB", "bob", "bob_2"])
    assert list(matched) == ["bob"]  # the name as the roster writes it wins
    assert unknown == ["BOB", "bob_2"]
    assert [e.name for e in missing] == ["ann"]
    # no exact spelling: neither is matched, both are listed, the student is missing
    matched, unknown, missing = match_roster(roster, ["BOB", "Bob"])
    assert matched == {} and unknown == ["BOB", "Bob"]
    assert [e.name for e in missing] == ["bob", "ann"]
    # two names that both spell the roster's name: neither is matched
    matched, unknown, missing = match_roster(roster, ["bob.ipynb", "bob"])
    assert matched == {} and unknown == ["bob.ipynb", "bob"]
    assert [e.name for e in missing] == ["bob", "ann"]


def test_match_roster_rejects_non_text(tmp_path):
    roster = read_roster(_roster(tmp_path, "name,id,email\nbob,1,\n"))
    with pytest.raises(TypeError, match="student name must be a string, saw 3"):
        match_roster(roster, [3])


# --- late work ------------------------------------------------------------------------

@pytest.mark.parametrize("late, days, fraction", [
    (timedelta(minutes=-1), 0, 0),  # on time
    (timedelta(0), 0, 0),  # exactly at the deadline
    (timedelta(seconds=1), 1 / 86400, 0.1),  # a started day
    (timedelta(hours=1), 1 / 24, 0.1),
    (timedelta(days=1), 1, 0.1),
    (timedelta(days=1.5), 1.5, 0.2),
    (timedelta(days=3), 3, 0.3),
    (timedelta(days=10), 10, 1.0),
    (timedelta(days=10.5), 10.5, 1.0),  # capped
    (timedelta(days=40), 40, 1.0),
])
def test_ten_percent_per_started_day(late, days, fraction):
    policy = LatePolicy.parse("10%/day")
    got_days, got_fraction = policy.penalty(DEADLINE + late, DEADLINE)
    assert got_days == pytest.approx(days)
    assert got_fraction == fraction


def test_zero_and_none_policies():
    zero, none = LatePolicy.parse("zero"), LatePolicy.parse(" None ")
    assert zero.penalty(DEADLINE, DEADLINE) == (0.0, 0.0)
    assert zero.penalty(DEADLINE + timedelta(seconds=1), DEADLINE)[1] == 1.0
    assert zero.penalty(DEADLINE + timedelta(hours=1), DEADLINE) == \
        pytest.approx((1 / 24, 1.0))
    assert none.penalty(DEADLINE + timedelta(days=30), DEADLINE) == (30.0, 0.0)


def test_policy_text():
    assert LatePolicy.parse("2.5 % per day") == LatePolicy("per_day", 2.5)
    assert str(LatePolicy.parse("10%/day")) == "10%/day"
    assert str(LatePolicy.parse("zero")) == "zero"
    assert "started day" in LatePolicy.parse("10%/day").description
    assert LatePolicy.parse("2.5%/day").penalty(DEADLINE + timedelta(days=2.2),
                                                DEADLINE)[1] == 0.075


def test_time_zones():
    # 22:30 without a zone is UTC: 31 minutes after 23:59 in UTC+2
    submitted = datetime(2024, 5, 1, 22, 30)
    days, fraction = LatePolicy.parse("10%/day").penalty(submitted, DEADLINE)
    assert days * 24 * 60 == pytest.approx(31)
    assert fraction == 0.1
    assert parse_time("2024-05-01T21:59") == DEADLINE
    assert parse_time("2024-05-01 21:59:00Z") == DEADLINE
    assert parse_time("2024-05-01T23:59+02:00").utcoffset() == timedelta(hours=2)


@pytest.mark.parametrize("text, expected", [
    ("10%", r"late policy must be .*saw '10%'"),
    ("10/day", r"saw '10/day'"),
    ("150%/day", r"0 < P <= 100.*saw '150%/day'"),
    ("0%/day", r"saw '0%/day'"),
    ("-5%/day", r"saw '-5%/day'"),
    ("", r"saw ''"),
])
def test_bad_policies(text, expected):
    with pytest.raises(ValueError, match=expected):
        LatePolicy.parse(text)


def test_bad_times():
    with pytest.raises(TypeError, match="late policy must be text.*saw 10"):
        LatePolicy.parse(10)
    with pytest.raises(ValueError, match=r"deadline must be an ISO 8601 .*saw 'friday'"):
        parse_time("friday", what="deadline")
    with pytest.raises(ValueError, match=r"deadline .*date and time.*saw '2024-05-01'"):
        parse_time("2024-05-01", what="deadline")
    with pytest.raises(ValueError, match=r"saw '2024-13-01T10:00'"):
        parse_time("2024-13-01T10:00")
    with pytest.raises(TypeError, match=r"submitted must be a datetime, saw '2024-05-01'"):
        LatePolicy.parse("zero").penalty("2024-05-01", DEADLINE)
    with pytest.raises(TypeError, match=r"deadline must be a datetime, saw None"):
        LatePolicy.parse("zero").penalty(DEADLINE, None)


def test_submission_time_of_a_file(tmp_path):
    path = tmp_path / "alice.ipynb"
    path.write_text("{}", encoding="utf-8")
    stamp = datetime(2024, 5, 1, 20, 0, tzinfo=UTC).timestamp()
    os.utime(path, (stamp, stamp))
    assert submission_time(path) == datetime(2024, 5, 1, 20, 0, tzinfo=UTC)
    with pytest.raises(FileNotFoundError, match="nothere.ipynb"):
        submission_time(tmp_path / "nothere.ipynb")
    with pytest.raises(ValueError, match="is not a file"):
        submission_time(tmp_path)


def test_submission_time_of_a_zip_entry(tmp_path):
    archive = tmp_path / "all.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        plain = zipfile.ZipInfo("alice/sheet.ipynb", date_time=(2024, 5, 1, 22, 30, 0))
        zf.writestr(plain, "{}")
        stamped = zipfile.ZipInfo("bob/sheet.ipynb", date_time=(2020, 1, 1, 0, 0, 0))
        moment = int(datetime(2024, 5, 2, 8, 15, 0, tzinfo=UTC).timestamp())
        stamped.extra = struct.pack("<HHBi", 0x5455, 5, 1, moment)  # Info-ZIP "UT"
        zf.writestr(stamped, "{}")
    assert submission_time(archive, "alice/sheet.ipynb") == \
        datetime(2024, 5, 1, 22, 30, tzinfo=UTC)
    berlin = timezone(timedelta(hours=2))
    assert submission_time(archive, "alice/sheet.ipynb", zone=berlin) == \
        datetime(2024, 5, 1, 20, 30, tzinfo=UTC)
    assert submission_time(archive, "bob/sheet.ipynb") == \
        datetime(2024, 5, 2, 8, 15, tzinfo=UTC)  # the extended timestamp wins
    with pytest.raises(ValueError, match=r"member 'carol.ipynb' is not in"):
        submission_time(archive, "carol.ipynb")
    text = tmp_path / "notes.txt"
    text.write_text("x", encoding="utf-8")
    with pytest.raises(ValueError, match=r"is not a zip archive.*'a.ipynb'"):
        submission_time(text, "a.ipynb")


def test_the_rosters_time_wins(tmp_path):
    path = tmp_path / "alice.ipynb"
    path.write_text("{}", encoding="utf-8")
    given = datetime(2024, 5, 3, 9, 0, tzinfo=UTC)
    assert submitted_at(RosterEntry("alice", "1", submitted=given), path) == given
    assert submitted_at(RosterEntry("alice", "1"), path) == submission_time(path)
    assert submitted_at(None, path) == submission_time(path)


# --- exports --------------------------------------------------------------------------

ROWS = [
    GradeRow("alice", "1001", "alice@uni.example", 7.5, 10, "3 of 4 tasks; 1 day late (-10 %)",
             display_name="Smith, Alice", section="A"),
    GradeRow("bob", "1002", "Bob@Uni.example", 10, 10, "all tasks passed"),
    GradeRow("zoë", "1003", "zoe@uni.example", 3.3333333, 10, "=HYPERLINK(\"x\")",
             display_name="=cmd|' /C calc'!A0", canvas_id="555"),
    GradeRow("dan", "-1004", "dan@uni.example", 0, 10, "+1 for effort"),
]


def test_moodle_by_id_number(tmp_path):
    path = write_moodle(tmp_path / "out" / "moodle.csv", ROWS, item="Assignment: Sheet 4")
    rows = _rows(path)
    assert rows[0] == ["ID number", "Assignment: Sheet 4 (Real)",
                       "Assignment: Sheet 4 (Feedback)"]
    assert rows[1] == ["1001", "7.5", "3 of 4 tasks; 1 day late (-10 %)"]
    assert rows[2] == ["1002", "10", "all tasks passed"]
    assert rows[3] == ["1003", "3.33", "'=HYPERLINK(\"x\")"]  # no formula
    assert rows[4] == ["'-1004", "0", "'+1 for effort"]
    assert len(rows) == 5


def test_moodle_by_email_without_feedback(tmp_path):
    path = write_moodle(tmp_path / "moodle.csv", ROWS, key="email", item="Sheet 4",
                        feedback=False)
    rows = _rows(path)
    assert rows[0] == ["Email address", "Sheet 4 (Real)"]
    assert [r[0] for r in rows[1:]] == ["alice@uni.example", "Bob@Uni.example",
                                        "zoe@uni.example", "dan@uni.example"]
    assert all(len(r) == 2 for r in rows)


def test_canvas(tmp_path):
    path = write_canvas(tmp_path / "canvas.csv", ROWS, assignment="Sheet 4",
                        assignment_id=12345, points_possible=10)
    rows = _rows(path)
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
                       "Sheet 4 (12345)"]
    assert tuple(rows[0][:5]) == CANVAS_COLUMNS
    assert rows[1] == ["Points Possible", "", "", "", "", "10"]
    assert rows[2] == ["Smith, Alice", "", "1001", "alice@uni.example", "A", "7.5"]
    assert rows[3] == ["bob", "", "1002", "Bob@Uni.example", "", "10"]
    assert rows[4] == ["'=cmd|' /C calc'!A0", "555", "1003", "zoe@uni.example", "", "3.33"]
    assert rows[5] == ["dan", "", "'-1004", "dan@uni.example", "", "0"]
    assert len(rows) == 6
    assert "Feedback" not in path.read_text(encoding="utf-8")
    assert "zoë" not in path.read_text(encoding="utf-8")  # display name used instead


def test_canvas_without_an_id_and_utf8(tmp_path):
    rows = [GradeRow("zoë", "1", "z@u.example", 2.25, 4.5, display_name="Zoë Ünal")]
    path = write_canvas(tmp_path / "c.csv", rows, assignment="Blatt 4: Lyapunov",
                        points_possible=4.5)
    assert _rows(path) == [[*CANVAS_COLUMNS, "Blatt 4: Lyapunov"],
                           ["Points Possible", "", "", "", "", "4.5"],
                           ["Zoë Ünal", "", "1", "z@u.example", "", "2.25"]]
    assert path.read_bytes().startswith(b"Student,")  # UTF-8 without a byte-order mark


def test_rows_from_the_roster(tmp_path):
    roster = read_roster(_roster(tmp_path, ROSTER))
    matched, _, _ = match_roster(roster, ["Alice_Smith"])
    row = GradeRow.from_entry(matched["Alice_Smith"], "Alice_Smith", 6, 8, "ok")
    assert row == GradeRow("Alice_Smith", "1001", "alice@uni.example", 6, 8, "ok",
                           "Smith, Alice", "", "")


@pytest.mark.parametrize("call, error, expected", [
    (lambda p: write_moodle(p, ROWS, key="username", item="x"), ValueError,
     r"key must be one of 'idnumber', 'email', saw 'username'"),
    (lambda p: write_moodle(p, ROWS, item=""), ValueError, r"item must be .*saw ''"),
    (lambda p: write_moodle(p, ROWS, item="a\nb"), ValueError, r"item .*saw 'a\\nb'"),
    (lambda p: write_moodle(p, [GradeRow("x", "", "x@y.z", 1, 2)], item="i"), ValueError,
     r"'x' has no ID number for key='idnumber'"),
    (lambda p: write_moodle(p, [GradeRow("x", "1", "", 1, 2)], key="email", item="i"),
     ValueError, r"'x' has no Email address for key='email'"),
    (lambda p: write_moodle(p, [GradeRow("x", "1", "", 1, 2), GradeRow("y", "1", "", 1, 2)],
                            item="i"), ValueError, r"ID number '1' is given to both 'x' and 'y'"),
    (lambda p: write_moodle(p, [GradeRow("x", "1", "", float("nan"), 2)], item="i"),
     ValueError, r"points of 'x' must be a finite number, saw nan"),
    (lambda p: write_moodle(p, [GradeRow("x", "1", "", -1, 2)], item="i"), ValueError,
     r"points of 'x' must not be negative, saw -1"),
    (lambda p: write_moodle(p, [GradeRow("x", "1", "", "7", 2)], item="i"), ValueError,
     r"points of 'x' must be a finite number, saw '7'"),
    (lambda p: write_moodle(p, [("x", "1")], item="i"), TypeError,
     r"rows must be GradeRow objects, saw \('x', '1'\)"),
    (lambda p: write_canvas(p, ROWS, assignment="Sheet 4", points_possible=0), ValueError,
     r"points_possible must be positive, saw 0"),
    (lambda p: write_canvas(p, ROWS, assignment="Sheet 4", points_possible=float("inf")),
     ValueError, r"points_possible must be a finite number, saw inf"),
    (lambda p: write_canvas(p, ROWS, assignment="", points_possible=10), ValueError,
     r"assignment must be .*saw ''"),
    (lambda p: write_canvas(p, ROWS, assignment="Sheet (4)", points_possible=10), ValueError,
     r"assignment 'Sheet \(4\)' ends in a number in parentheses.*assignment_id"),
    (lambda p: write_canvas(p, ROWS, assignment="Final Grade check", points_possible=10),
     ValueError, r"contains 'Final Grade'"),
    (lambda p: write_canvas(p, ROWS, assignment="S", assignment_id="12a", points_possible=1),
     ValueError, r"assignment_id must be .* saw '12a'"),
    (lambda p: write_canvas(p, [GradeRow("x", "", "", 1, 2)], assignment="S",
                            points_possible=2), ValueError,
     r"'x' has no ID, SIS User ID or email"),
    (lambda p: write_canvas(p, [GradeRow("x", "1", "", 1, 2), GradeRow("y", "2", "x@y.z", 1, 2),
                                GradeRow("z", "1", "", 1, 2)], assignment="S",
                            points_possible=2), ValueError,
     r"SIS User ID '1' is given to both 'x' and 'z'"),
])
def test_bad_exports(tmp_path, call, error, expected):
    path = tmp_path / "out.csv"
    with pytest.raises(error, match=expected):
        call(path)
    assert not path.exists()


# --- the grader's use: roster applied, the class exported ------------------------------

def _class():
    from course_utils.grading.report import QuestionResult, StudentResult
    from course_utils.grading.runner import TaskResult

    def student(name, points, answer):
        return StudentResult(name, f"{name}.ipynb", "graded",
                             [TaskResult("task1", "Task 1 (x)", points, 2, "passed")],
                             questions=[QuestionResult("q1", "Question 1 (y)", 1, answer,
                                                       "graded" if answer is not None
                                                       else "to grade")])
    return [student("Alice Smith", 2, 1), student("bob", 2, 0), student("eve", 0, None)]


def test_apply_roster_fills_ids_times_and_penalties(tmp_path):
    from course_utils.grading.lms import apply_roster

    results = _class()
    roster = read_roster(_roster(tmp_path, ROSTER))
    files = {"bob": DEADLINE + timedelta(hours=30), "eve": DEADLINE}
    info = apply_roster(results, roster, files, deadline=DEADLINE,
                        policy=LatePolicy.parse("10%/day"))
    alice, bob, eve = results
    assert (alice.student_id, alice.email) == ("1001", "alice@uni.example")
    assert alice.penalty == 0 and alice.submitted.startswith("2024-05-01T21:00:00")
    # bob has no time in the roster: his file's, 30 hours late, two started days.
    assert (bob.late_days, bob.penalty, bob.penalty_rule) == (1.25, 0.2, "10%/day")
    assert bob.total == round(2 * 0.8, 2)  # 2 for the task, 0 for the answer
    assert eve.student_id == "" and eve.penalty == 0
    assert info["roster"]["unknown"] == ["eve"]
    assert info["roster"]["missing"] == ["Carol.zip", "dora"]
    assert info["late_policy"] == "10%/day" and info["deadline"] == "2024-05-01T23:59:00+02:00"


def test_a_student_kept_from_an_earlier_run_keeps_their_time(tmp_path):
    from course_utils.grading.lms import apply_roster

    results = _class()
    results[1].submitted, results[1].penalty = "2024-05-03T00:00:00+00:00", 0.2
    apply_roster(results, None, {"eve": DEADLINE}, deadline=DEADLINE,
                 policy=LatePolicy.parse("10%/day"))
    assert (results[1].submitted, results[1].penalty) == ("2024-05-03T00:00:00+00:00", 0.2)


def test_export_grades_writes_the_lms_files_and_names_who_is_left_out(tmp_path):
    from course_utils.grading.lms import apply_roster, export_grades, feedback_line
    from course_utils.grading.report import read_results, write_reports
    from course_utils.notebook_format import Question, Task

    results = _class()
    apply_roster(results, read_roster(_roster(tmp_path, ROSTER)), {})
    tasks = [Task("task1", "Task 1 (x)", 2, 0, 1, ("check_x",), 1)]
    questions = [Question("q1", "Question 1 (y)", 1, "Why?", "Because.", (("says", 1),), (), 1)]
    write_reports(results, "09_x", tasks, tmp_path / "out", questions=questions)
    kept = read_results(tmp_path / "out")
    assert feedback_line(kept.students[0], kept.tasks, kept.questions) == "task1 2/2, q1 1/1"
    assert feedback_line(kept.students[2], kept.tasks, kept.questions) == "task1 0/2, q1 ?/1"
    path, left_out = export_grades(kept, "moodle", tmp_path / "moodle.csv")
    assert left_out == ["eve"]
    assert _rows(path) == [["ID number", "Exercise sheet 09_x (Real)",
                            "Exercise sheet 09_x (Feedback)"],
                           ["1001", "3", "task1 2/2, q1 1/1"],
                           ["1002", "2", "task1 2/2, q1 0/1"]]
    path, left_out = export_grades(kept, "canvas", tmp_path / "canvas.csv", item="Sheet 9")
    rows = _rows(path)
    assert rows[0] == [*CANVAS_COLUMNS, "Sheet 9"] and rows[1][0] == "Points Possible"
    assert rows[1][-1] == "3" and [r[2] for r in rows[2:]] == ["1001", "1002"]
    with pytest.raises(ValueError, match="kind must be 'moodle' or 'canvas', saw 'blackboard'"):
        export_grades(kept, "blackboard", tmp_path / "x.csv")
