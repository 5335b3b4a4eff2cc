"""The reports (course_utils.grading.report): the grades table, the per-student feedback
in Markdown and HTML, the class summary with its most common mistakes, its sortable table
of students and the distribution of the totals, the written answers' points, the tutors'
overrides and the late penalty in all of them, results.json read back as it was written,
and what a student controls never becoming markup or a spreadsheet formula. No task is
run here."""

import base64
import csv
import json
import re

import pytest

from course_utils.grading.report import (MISSING_ANSWER, TO_GRADE, Override, QuestionResult,
                                         StudentResult, common_failures, csv_cell, csv_value,
                                         feedback_html, feedback_markdown, identical_groups,
                                         md_escape, normalise_message, read_results,
                                         write_reports)
from course_utils.grading.runner import TaskResult, clean_message
from course_utils.notebook_format import Question, Task

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
    summary = (out / "summary.html").read_text()
    feedback = (out / "feedback" / "x.html").read_text()
    for page in (summary, feedback):
        assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # The only script is the summary's own, which sorts its table of students.
    assert "<script>" not in feedback and summary.count("<script") == 1
    assert summary.index("<script>") > summary.index("</table>", summary.index('id="students"'))


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
    ("'quoted'", "'quoted'"), ("'", "'"),
])
def test_csv_cells_never_start_a_formula(value, cell):
    assert csv_cell(value) == cell
    assert csv_value(cell) == value  # read back as written


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


# --- written answers, overrides, late penalties; results.json read back -----------------------

QUESTIONS = [Question("q1", "Question 1 (orbits)", 2, "Do the orbits stay?", "Yes.",
                      (("says whether they stay", 1), ("cites the figure", 1)), ("orbits",), 30),
             Question("q2", "Question 2 (chaos)", 1, "Why chaos?", "A positive exponent.",
                      (("positive exponent", 1),), (), 40)]


def _q1(points=None, status=TO_GRADE, comment="", rubric=()):
    return QuestionResult("q1", "Question 1 (orbits)", 2, points, status, comment, list(rubric))


def _q2(points=None, status=TO_GRADE, comment="", rubric=()):
    return QuestionResult("q2", "Question 2 (chaos)", 1, points, status, comment, list(rubric))


def _written_class():
    return [
        StudentResult("alice", "a.ipynb", "graded", [_t1("passed"), _t2("passed")],
                      questions=[_q1(1.5, "graded", "Good figure.\n<b>Cite</b> [it](x)",
                                     ["says whether they stay"]),
                                 _q2(0, MISSING_ANSWER)],
                      student_id="s1", email="alice@example.org",
                      submitted="2024-05-03T12:00:00+02:00", late_days=1.5, penalty=0.15,
                      penalty_rule="10%/day"),
        StudentResult("Bob Builder+1", "b.ipynb", "review: exec (task1)",
                      [_t1("review: exec"), _t2("failed", WRONG_J)],
                      questions=[_q1(), _q2(1, "graded", rubric=["positive exponent"])],
                      overrides=[Override("task1", 1.5, "exec only loads the data file")]),
        StudentResult("dora", "d.txt", "not a notebook (JSONDecodeError)",
                      overrides=[Override("task2", 1, "graded by hand from the PDF")]),
    ]


def test_totals_with_questions_overrides_and_penalty():
    alice, bob, dora = _written_class()
    assert alice.raw_total == 2 + 1.5 + 1.5 + 0
    assert alice.total == round(5 * 0.85, 2) == 4.25
    assert bob.task_points() == {"task1": 1.5, "task2": 0}
    assert bob.raw_total == bob.total == 1.5 + 0 + 1  # q1 not graded yet counts nothing
    assert dora.raw_total == dora.total == 1  # an override of a task the student lacks
    odd = StudentResult("x", "x", "graded", [_t1("passed")], penalty=1 / 3)
    assert odd.total == 1.33


def test_written_answers_in_grades_csv(tmp_path):
    write_reports(_written_class(), CHAPTER, TASKS, tmp_path, questions=QUESTIONS)
    rows = list(csv.reader((tmp_path / "grades.csv").open()))
    assert rows == [
        ["student", "task1", "task2", "q1", "q2", "total", "max", "status"],
        ["alice", "2", "1.5", "1.5", "0", "4.25", "6.5", "graded"],
        ["Bob Builder+1", "1.5", "0", "", "1", "2.5", "6.5", "review: exec (task1)"],
        ["dora", "0", "1", "", "", "1", "6.5", "not a notebook (JSONDecodeError)"],
    ]


def test_feedback_shows_answers_overrides_and_the_late_penalty(tmp_path):
    alice, bob, dora = _written_class()
    text = feedback_markdown(alice, CHAPTER, 6.5)
    assert text.startswith(
        f"# Feedback: {CHAPTER}\n\n**Student:** alice  \n"
        "**Points:** 4.25 of 6.5 (5 before the late penalty)  \n"
        "**Late:** submitted 1.5 days late: -15 % (10%/day)  \n**Status:** graded\n")
    assert ("## Question 1 (orbits): 1.5 of 2 points\n\n- \u2713 says whether they stay\n\n"
            "**Comment:**\n\n> Good figure.  \n> \\<b\\>Cite\\</b\\> \\[it\\](x)\n\n"
            "## Question 2") in text
    assert ("## Question 2 (chaos): 0 of 1 point\n\n**No answer found**: the answer cell is "
            "missing or still holds the template's text.") in text
    headings = [line for line in text.splitlines() if line.startswith("#")]
    assert headings == [f"# Feedback: {CHAPTER}", "## \u2713 Task 1 (J): 2 of 2 points",
                        "## \u2713 Task 2 (norms): 1.5 of 1.5 points",
                        "## Question 1 (orbits): 1.5 of 2 points",
                        "## Question 2 (chaos): 0 of 1 point"]
    bob_text = feedback_markdown(bob, CHAPTER, 6.5)
    assert "**Points:** 2.5 of 6.5, 1 written answer not graded yet  \n" in bob_text
    assert "**Late:**" not in bob_text
    assert ("## \u2717 Task 1 (J): 1.5 of 2 points\n\n**review: exec**\n\n"
            "**Points set by the tutor: 1.5 of 2 (the grader gave 0): exec only loads the data "
            "file**\n") in bob_text
    assert "## Question 1 (orbits): not graded yet (2 points)\n" in bob_text
    dora_text = feedback_markdown(dora, CHAPTER, 6.5)
    assert "## task2\n\n**Points set by the tutor: 1: graded by hand from the PDF**" in dora_text
    assert "Nothing could be graded" not in dora_text

    page = feedback_html(alice, CHAPTER, 6.5)
    assert ("<strong>Points:</strong> 4.25 of 6.5 (5 before the late penalty)<br>"
            "<strong>Late:</strong> submitted 1.5 days late: -15 % (10%/day)<br>") in page
    assert "<h2>Question 1 (orbits): 1.5 of 2 points</h2>" in page
    assert "<ul><li>\u2713 says whether they stay</li></ul>" in page
    assert ("<blockquote><p>Good figure.<br>&lt;b&gt;Cite&lt;/b&gt; [it](x)</p></blockquote>"
            in page)
    assert "<b>" not in page
    assert ("<p><strong>Points set by the tutor: 1.5 of 2 (the grader gave 0): exec only loads "
            "the data file</strong></p>") in feedback_html(bob, CHAPTER, 6.5)


def test_summary_lists_the_students_sortable_and_linked(tmp_path):
    write_reports(_written_class(), CHAPTER, TASKS, tmp_path, questions=QUESTIONS)
    summary = (tmp_path / "summary.html").read_text()
    table = summary[summary.index('<table class="sortable" id="students">'):]
    table = table[:table.index("</table>") + len("</table>")]
    heads = re.findall(r"<th>([^<]*)</th>", table)
    assert heads == ["student", "task1", "task2", "q1", "q2", "total", "late", "status"]
    links = re.findall(r'<a href="([^"]*)">([^<]*)</a>', table)
    assert links == [("feedback/alice.html", "alice"),
                     ("feedback/Bob%20Builder%2B1.html", "Bob Builder+1"),
                     ("feedback/dora.html", "dora")]
    for href, _ in links:  # every link opens a feedback file that was written
        from urllib.parse import unquote
        assert (tmp_path / unquote(href)).is_file()
    assert ('<td data-value="1.5">1.5</td><td data-value="0">0 (missing)</td>'
            '<td data-value="4.25">4.25</td><td data-value="0.15">-15 %</td>') in table
    assert '<td data-value="">to grade</td>' in table
    assert "<h2>Written answers</h2>" in summary
    assert ("<tr><td>Question 1 (orbits)</td><td>2</td><td>1 of 2</td><td>0</td>"
            "<td>1.5</td></tr>") in summary
    histogram = re.search(r'alt="histogram of the students\' total points" '
                          r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', summary)
    assert base64.b64decode(histogram.group(1)).startswith(b"\x89PNG\r\n\x1a\n")
    assert "sort by this column" in summary  # the sorting script


def test_summary_names_are_escaped_in_the_table(tmp_path):
    nasty = StudentResult('"><img src=x onerror=alert(1)>', "x", "graded", [_t1("passed")])
    write_reports([nasty], CHAPTER, TASKS, tmp_path)
    summary = (tmp_path / "summary.html").read_text()
    assert "<img src=x" not in summary
    assert '"feedback/%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E.html"' in summary


def test_histogram_axes_are_labelled(monkeypatch):
    from matplotlib.axes import Axes

    from course_utils.grading import report

    labels = []
    monkeypatch.setattr(Axes, "set_xlabel", lambda self, text, *a, **k: labels.append(text))
    monkeypatch.setattr(Axes, "set_ylabel", lambda self, text, *a, **k: labels.append(text))
    assert report._totals_figure([1, 2.5, 6.5], 6.5).startswith(b"\x89PNG")
    assert labels == ["total points (of 6.5)", "students"]


def test_similarity_section_is_shown_and_kept(tmp_path, monkeypatch):
    from course_utils.grading import similarity

    seen = []
    monkeypatch.setattr(similarity, "similarity_html",
                        lambda report: seen.append(report) or '<section id="sim">pairs</section>')
    report = {"tasks": {"task1": [{"pair": ["alice", "dora"], "score": 0.9}]}}
    write_reports(_written_class(), CHAPTER, TASKS, tmp_path, questions=QUESTIONS,
                  similarity=report)
    assert seen == [report]
    assert '<section id="sim">pairs</section>' in (tmp_path / "summary.html").read_text()
    assert read_results(tmp_path).similarity == report
    write_reports(_written_class(), CHAPTER, TASKS, tmp_path)
    assert "sim" not in (tmp_path / "summary.html").read_text() and len(seen) == 1


def test_results_json_reads_back_as_written(tmp_path):
    written = _written_class()
    write_reports(written, CHAPTER, TASKS, tmp_path / "out", questions=QUESTIONS,
                  hidden_seed=1234, extra={"roster": "roster.csv", "deadline": None})
    back = read_results(tmp_path / "out")
    assert back.students == sorted(written, key=lambda r: r.student.lower())
    assert back.students[0].questions[0].rubric == ["says whether they stay"]
    assert back.tasks == TASKS and back.questions == QUESTIONS
    assert isinstance(back.questions[0], Question) and back.questions[0].rubric[0] == (
        "says whether they stay", 1)
    assert (back.chapter, back.max_points, back.hidden_seed) == (CHAPTER, 6.5, 1234)
    assert back.extra == {"roster": "roster.csv", "deadline": None}
    assert back.similarity is None
    assert read_results(tmp_path / "out" / "results.json") == back
    # Written again from what was read: the same files.
    before = {p.name: p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()}
    write_reports(back.students, back.chapter, back.tasks, tmp_path / "out",
                  questions=back.questions, hidden_seed=back.hidden_seed, extra=back.extra)
    after = {p.name: p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()}
    assert after == before
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [(s["raw_total"], s["total"]) for s in data["students"]] == [(5, 4.25), (2.5, 2.5),
                                                                        (1, 1)]


def test_read_results_refuses_what_is_not_a_results_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_results(tmp_path)
    (tmp_path / "results.json").write_text("{not json")
    with pytest.raises(ValueError, match="results.json is not a results file"):
        read_results(tmp_path)
    (tmp_path / "results.json").write_text('{"chapter": "x"}')
    with pytest.raises(ValueError, match="no list of students"):
        read_results(tmp_path)
