"""The whole exercise sheet, as a tutor grades it: a generated class of 10 students of
chapter 03 (tests/grading/sheet_class.py: the task's code, two written answers, the figure
the first question asks about, a roster with one late submission) graded with the command
line, the written answers graded in manual.html in a real browser (Debian's chromium,
headless, offline), merged with a tutor's override, and exported for Moodle. The parts are
tested on their own in test_answers, test_manual, test_similarity, test_lms, test_cache."""

from __future__ import annotations

import csv
import io
import subprocess
import sys

import pytest

from tests.grading import sheet_class as sheet
from tests.grading.test_grade import MEMORY_GB, ROOT, TIMEOUT
from tests.grading.test_manual import page_data
from tests.grading.test_manual_browser import Page

TASK_POINTS = 3  # chapter 03's one task


def _run(*args, cwd):
    result = subprocess.run([sys.executable, "-m", "course_utils.grading", *map(str, args)],
                            capture_output=True, text=True, timeout=1800, cwd=cwd)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The class graded by the command line, as in the book's walk-through."""
    folder = tmp_path_factory.mktemp("sheet")
    archive, roster = sheet.write_class(folder / "class")
    out = folder / "grades"
    stdout = _run("03", archive, "--out", out, "--roster", roster, "--deadline", sheet.DEADLINE,
                  "--late-penalty", "10%/day", "--timeout", TIMEOUT, "--memory-gb", MEMORY_GB,
                  "--solutions", ROOT / "solutions", "--quiet", cwd=folder)
    return {"folder": folder, "out": out, "stdout": stdout, "roster": roster}


def _grades(out) -> dict[str, dict]:
    return {row["student"]: row for row in
            csv.DictReader((out / "grades.csv").open(encoding="utf-8"))}


def test_the_automatic_part(graded):
    """Tasks graded, answers waiting for the tutor (empty cells), the one missing answer
    already 0, the roster's missing student listed, and the page to grade them written."""
    out, stdout = graded["out"], graded["stdout"]
    grades = _grades(out)
    assert set(grades) == set(sheet.STUDENTS)
    for name, (_, q1, q2, _, _, status) in sheet.STUDENTS.items():
        row = grades[name]
        assert row["task1"] == str(TASK_POINTS if status == "passed" else 0), name
        assert row["q1"] == ("" if q1 else "0") and row["q2"] == ("" if q2 else "0"), name
        assert row["max"] == "7"
    assert "students in the roster without a submission: zoe.ipynb" in stdout
    assert f"open {out / 'manual.html'}" in stdout
    summary = (out / "summary.html").read_text(encoding="utf-8")
    assert "Students in the roster without a submission: zoe.ipynb." in summary
    assert "1 late." in summary
    # The late student: 1.5 days late, two started days at 10 % a day.
    assert "submitted 1.5 days late: -20 %" in (out / "feedback" / "dan.md").read_text()


def test_similarity_ranks_the_copies_first(graded):
    """In the summary's similarity report, the copied pairs of each item rank above every
    pair that wrote their own."""
    import json

    report = json.loads((graded["out"] / "results.json").read_text())["similarity"]
    items = {item["id"]: item for item in report["items"]}
    for item, copies in sheet.COPIES.items():
        pairs = [(tuple(sorted(p["students"])), p["score"]) for p in items[item]["pairs"]]
        top = pairs[:len(copies)]
        assert {pair for pair, _ in top} == copies, (item, pairs)
        honest = [score for pair, score in pairs if pair not in copies]
        assert min(score for _, score in top) > max(honest, default=0), (item, pairs)
    summary = (graded["out"] / "summary.html").read_text(encoding="utf-8")
    assert "Question 1 (free-running orbits)" in summary and "ada" in summary


def test_a_tutor_grades_the_sheet_in_the_browser(graded, browser):
    """manual.html: every answer given graded by the keyboard (rubric item 1; ada's first
    answer both items), a missing answer left as it is, the figure shown; exported; an
    override of a task added; merged; the Moodle file written; the totals as computed."""
    out = graded["out"]
    page_path = out / "manual.html"
    data = page_data(page_path.read_text(encoding="utf-8"))
    order = [s["name"] for s in data["students"]]
    assert sorted(order) == sorted(sheet.STUDENTS)
    browser.get(page_path.as_uri())
    page = Page(browser, order)
    for k, question in enumerate(("q1", "q2")):
        assert page.question().startswith(f"Question {k + 1} ")
        for position, name in enumerate(order):
            page.go(name)
            given = data["students"][position]["answers"][question]
            if given["found"] == "missing":
                continue
            page.keys("1")
            if question == "q1" and name == "ada":
                page.keys("2")
        if question == "q1":  # the figure of a student who handed one in
            page.go("ada")
            assert browser.execute_script(
                "return document.querySelector('#a-figures img').naturalWidth") > 0
            page.keys("n")
    answered = sum(1 for spec in sheet.STUDENTS.values() for a in spec[1:3] if a)
    assert page.text("#overall") == "20 of 20 answers graded, all questions"
    page.find("#export").click()
    exported = page.find("#csv").get_attribute("value")
    rows = list(csv.reader(io.StringIO(exported)))
    assert rows[0] == ["student", "item", "points", "rubric", "comment"]
    assert len(rows) - 1 == answered
    # The tutor also gives eva a point for her task's code (its forcing is off by design).
    manual = graded["folder"] / "manual.csv"
    manual.write_text(exported.rstrip("\r\n") + "\r\neva,task1,1,,forcing at every step: "
                      "one point for a working loop\r\n", encoding="utf-8")

    stdout = _run("merge", out, "--manual", manual, "--export", "moodle", cwd=graded["folder"])
    assert f"wrote {out / 'moodle.csv'}" in stdout
    grades = _grades(out)
    expected = {}
    for name, (_, q1, q2, _, submitted, status) in sheet.STUDENTS.items():
        points = (TASK_POINTS if status == "passed" else 0) + (1 if q1 else 0) + (1 if q2 else 0)
        points += (name == "ada") + (name == "eva")
        expected[name] = round(points * (0.8 if submitted == sheet.LATE else 1), 2)
    assert {name: float(row["total"]) for name, row in grades.items()} == expected
    assert "one point for a working loop" in (out / "feedback" / "eva.md").read_text()

    with open(out / "moodle.csv", newline="", encoding="utf-8") as handle:
        moodle = list(csv.reader(handle))
    assert moodle[0] == ["ID number", "Exercise sheet 03_stf_lorenz (Real)",
                         "Exercise sheet 03_stf_lorenz (Feedback)"]
    ids = {f"s{1000 + k}": name for k, name in enumerate(sheet.STUDENTS)}
    assert {ids[row[0]]: float(row[1]) for row in moodle[1:]} == expected
    assert "late: -20 %" in {ids[row[0]]: row[2] for row in moodle[1:]}["dan"]


def test_the_book_walks_through_the_sheet():
    """The tutors' page names every step of the sheet, in order."""
    text = (ROOT / "book" / "grading.md").read_text(encoding="utf-8")
    text = text[text.index("## The whole sheet, step by step"):]
    text = text[:text.index("\n## ", 10)]
    steps = ["**1. Grade the code.**", "--roster roster.csv", "**2. Read the summary.**",
             "grades/summary.html", "**3. Grade the written answers.**", "grades/manual.html",
             "**4. Merge.**", "merge grades/ --manual manual.csv", "**5. Export",
             "merge grades/ --export moodle"]
    positions = [text.find(step) for step in steps]
    assert -1 not in positions and positions == sorted(positions), dict(zip(steps, positions))
