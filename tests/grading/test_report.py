"""The reports (course_utils.grading.report): the grades table, the per-student feedback
in Markdown and HTML, the class summary with its most common mistakes, and what a student
controls never becoming markup or a spreadsheet formula. No task is run here."""

import base64
import csv
import json
import re

import pytest

from course_utils.grading.report import (StudentResult, common_failures, csv_cell,
                                         feedback_html, feedback_markdown, identical_groups,
                                         md_escape, normalise_message, write_reports)
from course_utils.grading.runner import TaskResult, clean_message
from course_utils.notebook_format import Task

CHAPTER = "04_plrnn_max_lyapunov"


def test_normalise_message():
    one = normalise_message("J[0, 1] is 0.52, expected 0.49")
    assert one == "J[…] is #, expected #"
    assert normalise_message("J[2, 0] is 0.1, expected 0.3") == one
    assert normalise_message("  value -1.5e-05 at step 3  ") == "value # at step #"
    assert normalise_message("shape (3, 4), expected (3,)") == "shape (#, #), expected (#,)"
    assert normalise_message("J is 0.5, expected 0.4") != one


TASKS = [Task("task1", "Task 1 (J)", 2, 3, 4, ("check_j",), 10),
         Task("task2", "Task 2 (norms)", 1.5, 5, 6, ("check_n",), 20)]
WRONG_J = "J[0, 1] is 0.52, expected 0.49"


def _t1(status, message=""):
    return TaskResult("task1", "Task 1 (J)", 2 if status == "passed" else 0, 2, status,
                      message, "tagged", 1.0)


def _t2(status, message="", found="tagged"):
    return TaskResult("task2", "Task 2 (norms)", 1.5 if status == "passed" else 0, 1.5,
                      status, message, found, 2.0)


def _class():
    return [
        StudentResult("carol", "c.ipynb", "graded",
                      [_t1("failed", "J[2, 0] is 0.1, expected 0.3"),
                       _t2("not attempted", "the template's NotImplementedError is still there")]),
        StudentResult("alice", "a.ipynb", "graded", [_t1("failed", WRONG_J), _t2("passed")]),
        StudentResult("Bob", "b.ipynb", "timed out (task2)",
                      [_t1("failed", WRONG_J),
                       _t2("timed out", "the task did not finish within 60 s (an endless "
                                        "loop, or far too slow)")]),
        StudentResult("dora", "d.txt", "not a notebook (JSONDecodeError)"),
        StudentResult("emil", "e.ipynb", "graded", [_t1("passed"), _t2("passed", "",
                      "by name (naive_norms): the task tag is missing")]),
    ]


def test_common_failures():
    assert common_failures(_class()) == [
        ("Task 1 (J)", WRONG_J, 3),
        ("Task 2 (norms)", "the task did not finish within 60 s (an endless loop, or far "
                           "too slow)", 1),
        ("Task 2 (norms)", "the template's NotImplementedError is still there", 1),
    ]
    # Without a message, the status itself is the message.
    assert common_failures([StudentResult("x", "x", "graded", [_t1("task cell not found")])]) \
        == [("Task 1 (J)", "task cell not found", 1)]
    assert common_failures([StudentResult("x", "x", "graded", [_t1("passed")])]) == []


def test_feedback_markdown_says_exactly_what_was_found():
    alice = StudentResult("alice", "a.ipynb", "graded",
                          [_t1("failed", "J[0, 1] is 0.52 <b>, expected 0.49"),
                           _t2("passed", "", "by name (naive_norms): the task tag is missing")])
    assert feedback_markdown(alice, CHAPTER, 3.5) == (
        f"# Feedback: {CHAPTER}\n\n"
        "**Student:** alice  \n**Points:** 1.5 of 3.5  \n**Status:** graded\n\n"
        "## \u2717 Task 1 (J): 0 of 2 points\n\n"
        "**failed**: J\\[0, 1\\] is 0.52 \\<b\\>, expected 0.49\n\n"
        "## \u2713 Task 2 (norms): 1.5 of 1.5 points\n\n"
        "Correct: the check passes, on its visible and its hidden cases.\n\n"
        "_Your code for this task was found by name (naive_norms): the task tag is missing._\n")
    nothing = StudentResult("dora", "d.txt", "not a notebook (JSONDecodeError)")
    assert feedback_markdown(nothing, CHAPTER, 3.5).endswith(
        "**Status:** not a notebook (JSONDecodeError)\n\n"
        "Nothing could be graded: not a notebook (JSONDecodeError).\n")
    missing = StudentResult("x", "x", "graded", [_t1("task cell not found",
                                                     "task cell not found")])
    assert feedback_markdown(missing, CHAPTER, 2).endswith(
        "## \u2717 Task 1 (J): 0 of 2 points\n\n**task cell not found**\n")


def test_write_reports(tmp_path):
    out = tmp_path / "grades"
    written = write_reports(_class(), CHAPTER, TASKS, out)
    assert written == {"grades": out / "grades.csv", "summary": out / "summary.html",
                       "feedback": out / "feedback", "results": out / "results.json"}
    with open(out / "grades.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows == [
        ["student", "task1", "task2", "total", "max", "status"],
        ["alice", "0", "1.5", "1.5", "3.5", "graded"],
        ["Bob", "0", "0", "0", "3.5", "timed out (task2)"],
        ["carol", "0", "0", "0", "3.5", "graded"],
        ["dora", "0", "0", "0", "3.5", "not a notebook (JSONDecodeError)"],
        ["emil", "2", "1.5", "3.5", "3.5", "graded"],
    ]

    feedback = out / "feedback"
    assert sorted(p.name for p in feedback.iterdir()) == sorted(
        f"{s}.{ext}" for s in ("alice", "Bob", "carol", "dora", "emil") for ext in ("md", "html"))
    for student in _class():
        assert (feedback / f"{student.student}.md").read_text() == feedback_markdown(
            student, CHAPTER, 3.5)
    bob = (feedback / "Bob.md").read_text()
    assert "## \u2717 Task 1 (J): 0 of 2 points\n\n**failed**: " + md_escape(WRONG_J) in bob
    assert "**timed out**: the task did not finish within 60 s" in bob
    assert "b.ipynb" not in bob and "2.0" not in bob  # no file names, no timings
    page = (feedback / "Bob.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<title>Bob: " + CHAPTER in page
    assert f"<h1>Feedback: {CHAPTER}</h1>" in page
    assert "<h2>\u2717 Task 1 (J): 0 of 2 points</h2>" in page
    assert f"<p><strong>failed</strong>: {WRONG_J}</p>" in page
    assert "Nothing could be graded" in (feedback / "dora.html").read_text()

    png = (out / "pass_rates.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    summary = (out / "summary.html").read_text()
    embedded = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', summary)
    assert base64.b64decode(embedded.group(1)) == png
    assert "<p>5 submissions; mean 1.0 of 3.5 points.</p>" in summary
    assert "<tr><td>Task 1 (J)</td><td>2</td><td>20 %</td></tr>" in summary
    assert "<tr><td>Task 2 (norms)</td><td>1.5</td><td>40 %</td></tr>" in summary
    mistakes = re.findall(r"<tr><td>(\d+ of \d+)</td><td>([^<]*)</td><td>([^<]*)</td></tr>",
                          summary)
    assert mistakes[0] == ("3 of 5", "Task 1 (J)", WRONG_J)  # the most frequent first
    assert [m[0] for m in mistakes] == ["3 of 5", "1 of 5", "1 of 5"]
    assert "<tr><td>graded</td><td>3</td></tr>" in summary

    results = json.loads((out / "results.json").read_text())
    assert results["chapter"] == CHAPTER and results["max_points"] == 3.5
    assert [s["student"] for s in results["students"]] == ["alice", "Bob", "carol", "dora",
                                                           "emil"]
    alice = results["students"][0]
    assert {k: alice[k] for k in ("source", "status", "total")} == {
        "source": "a.ipynb", "status": "graded", "total": 1.5}
    assert alice["tasks"][0] == {"task": "task1", "title": "Task 1 (J)", "points": 0,
                                 "max_points": 2, "status": "failed", "message": WRONG_J,
                                 "found": "tagged", "seconds": 1.0, "findings": []}
    assert results["identical"] == [] and results["hidden_seed"] is None
    assert results["students"][3]["tasks"] == []


def test_write_reports_escapes_and_handles_a_class_that_passed(tmp_path):
    out = tmp_path / "grades"
    all_passed = [StudentResult("emil", "e.ipynb", "graded", [_t1("passed"), _t2("passed")])]
    write_reports(all_passed, CHAPTER, TASKS, out)
    summary = (out / "summary.html").read_text()
    assert "<p>None: every task passed.</p>" in summary
    assert "<p>1 submissions; mean 3.5 of 3.5 points.</p>" in summary
    nasty = [StudentResult("x", "x", "graded", [_t1("failed", "<script>alert(1)</script>")])]
    write_reports(nasty, CHAPTER, TASKS, out)
    for page in ((out / "summary.html").read_text(), (out / "feedback" / "x.html").read_text()):
        assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_write_reports_of_an_empty_class(tmp_path):
    out = tmp_path / "grades"
    write_reports([], CHAPTER, TASKS, out)
    assert (out / "grades.csv").read_text().splitlines() == [
        "student,task1,task2,total,max,status"]
    assert "<p>0 submissions; mean 0.0 of 3.5 points.</p>" in (out / "summary.html").read_text()


def test_text_a_student_controls_cannot_make_markup():
    forged = ("bad\n\n## \u2713 Task 2 (norms): 1.5 of 1.5 points\n[x](http://evil) "
              "<img src=x onerror=alert(1)> **bold** `code` | a |")
    student = StudentResult("=HYPERLINK(1)", "x", "graded",
                            [_t1("failed", clean_message(forged)), _t2("passed")])
    text = feedback_markdown(student, CHAPTER, 3.5)
    headings = [line for line in text.splitlines() if line.startswith("#")]
    assert headings == [f"# Feedback: {CHAPTER}", "## \u2717 Task 1 (J): 0 of 2 points",
                        "## \u2713 Task 2 (norms): 1.5 of 1.5 points"]
    assert "](" not in text.replace("\\](", "") and "<" not in text.replace("\\<", "")
    assert "\\<img src=x onerror=alert(1)\\>" in text and "\\`code\\`" in text
    page = feedback_html(student, CHAPTER, 3.5)
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert page.count("<h2>") == 2
    assert md_escape("a\nb\r\n# c") == "a b \\# c"


@pytest.mark.parametrize("value, cell", [
    ("=1+2", "'=1+2"), ("+1", "'+1"), ("-cmd", "'-cmd"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("alice", "alice"), ("review: exec (task1)", "review: exec (task1)"),
])
def test_csv_cells_never_start_a_formula(value, cell):
    assert csv_cell(value) == cell


def test_grades_csv_escapes_names_and_statuses(tmp_path):
    write_reports([StudentResult("-2+3", "x", "graded", [_t1("passed")])], CHAPTER, TASKS,
                  tmp_path)
    rows = list(csv.reader((tmp_path / "grades.csv").open()))
    assert rows[1][0] == "'-2+3" and rows[1][1] == "2"


def test_identical_submissions_are_named_in_the_summary(tmp_path):
    same = "a" * 64
    results = [StudentResult("bob", "b", "graded", [_t1("passed")], digest=same),
               StudentResult("Alice", "a", "graded", [_t1("passed")], digest=same),
               StudentResult("carol", "c", "graded", [_t1("failed")], digest="b" * 64),
               StudentResult("dora", "d", "not a notebook", [], digest=""),
               StudentResult("emil", "e", "not a notebook", [], digest="")]
    assert identical_groups(results) == [["Alice", "bob"]]
    write_reports(results, CHAPTER, TASKS, tmp_path)
    summary = (tmp_path / "summary.html").read_text()
    assert "<h2>Identical submissions</h2>" in summary and "<li>Alice, bob</li>" in summary
    assert json.loads((tmp_path / "results.json").read_text())["identical"] == [
        ["Alice", "bob"]]
    write_reports(results[2:], CHAPTER, TASKS, tmp_path)
    assert "None: no two notebooks are byte-identical" in (tmp_path / "summary.html").read_text()
