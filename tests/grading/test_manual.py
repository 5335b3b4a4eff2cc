"""The tutors' manual grading (course_utils.grading.manual): manual.html is one file that
needs no network, with the class's answers as data that cannot break out of their script
element; manual.csv read back with every problem named by row and column; its points put
into the results and merged into every output without running anything. The page itself,
in a browser, is tested in test_manual_browser.py."""

import base64
import csv
import hashlib
import html
import json
import re

import pytest

from course_utils.grading import manual
from course_utils.grading.answers import Answer, extract_answers, question_results
from course_utils.grading.manual import (KEYS, ManualError, ManualRow, apply_manual,
                                         merge_manual, read_manual_csv, write_manual_page)
from course_utils.grading.report import (MISSING_ANSWER, TO_GRADE, Override, StudentResult,
                                         read_results, write_reports)
from course_utils.grading.runner import TaskResult
from course_utils.notebook_format import Task
from tests.grading.test_answers import (CHAPTER, PNG, QUESTIONS, REFERENCE, b64,
                                        student_notebook)

TASKS = [Task("task1", "Task 1 (f)", 2, 1, 2, ("check_f",), 5)]
HOSTILE = "</script><script>alert(1)</script> <!-- & \u2028 \u2029 --> <img src=x>"


def class_answers() -> dict:
    """Four students' answers, read from their notebooks as the grader reads them."""
    texts = {"alice": {"q1": "They stay on the attractor.", "q2": "Positive exponent."},
             "bob": {"q1": HOSTILE, "q2": "Because."},
             "carol": {"q2": "λ > 0 & more"},
             "dora": {"q1": "Yes, see the figure.", "q2": ""}}
    return {name: extract_answers(student_notebook(given), REFERENCE)
            for name, given in texts.items()}


def class_results(answers: dict) -> list[StudentResult]:
    results = []
    for name, given in answers.items():
        task = TaskResult("task1", "Task 1 (f)", 2 if name != "bob" else 0, 2,
                          "passed" if name != "bob" else "review: exec")
        results.append(StudentResult(name, f"{name}.ipynb", "graded", [task],
                                     questions=question_results(QUESTIONS, given)))
    results.append(StudentResult("emil", "e.txt", "not a notebook (JSONDecodeError)"))
    return results


def page_data(page: str) -> dict:
    match = re.search(r'<script type="application/json" id="manual-data">(.*?)</script>',
                      page, re.S)
    return json.loads(match.group(1))


# --- the page ---------------------------------------------------------------------------------

@pytest.fixture
def page(tmp_path):
    path = write_manual_page(tmp_path / "out", CHAPTER, QUESTIONS, class_answers(), seed=3)
    return path


def test_the_page_is_one_file_that_needs_no_network(page):
    assert page == page.parent / "manual.html"
    assert [p.name for p in page.parent.iterdir()] == ["manual.html"]
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>")
    assert "http://" not in text and "https://" not in text
    markup = re.sub(r"<(script|style)\b[^>]*>.*?</\1>", "", text, flags=re.S)
    # (The content security policy's script hash is base64, which may hold "//".)
    assert "//" not in re.sub(r"'sha256-[A-Za-z0-9+/=]+'", "", markup)
    # No attribute that loads anything: no src, no href (the download link gets its blob
    # address only when the tutor exports; images get data: addresses from the script).
    assert not re.search(r"\s(src|href|srcset|action|formaction|background)\s*=", markup,
                         re.I)
    assert text.count("<script") == 2 and text.count("</script>") == 2
    assert not re.search(r"<(link|iframe|object|embed|form|base)\b", text, re.I)
    # The content security policy allows no network and no script but the page's own.
    policy = html.unescape(re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"',
                                     text).group(1))
    script = re.search(r"<script>(.*?)</script>", text, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert policy == ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
                      f"script-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'")
    assert "innerHTML" not in script and "outerHTML" not in script
    assert "insertAdjacentHTML" not in script and "document.write" not in script
    assert "eval(" not in script and "new Function" not in script


def test_student_text_is_data_that_cannot_end_its_script(page):
    text = page.read_text()
    block = text[text.index('<script type="application/json"'):]
    block = block[:block.index("</script>")]
    for raw in ("<", ">", "&", "\u2028", "\u2029"):
        assert raw not in block[block.index(">") + 1:]
    data = page_data(text)
    bob = next(s for s in data["students"] if s["name"] == "bob")
    assert bob["answers"]["q1"]["text"] == HOSTILE
    assert "\\u003c/script\\u003e\\u003cscript\\u003ealert(1)" in text


def test_the_page_holds_the_questions_answers_and_figures(page):
    data = page_data(page.read_text())
    assert data["chapter"] == CHAPTER
    assert [q["id"] for q in data["questions"]] == ["q1", "q2"]
    assert data["questions"][0] == {
        "id": "q1", "title": "Question 1 (orbits)", "points": 2,
        "prompt": QUESTIONS[0].prompt, "answer": QUESTIONS[0].answer,
        "rubric": [["says whether the orbits stay on the attractor, citing the figure", 1],
                   ["distinguishes short-term divergence from long-term statistics", 1]],
        "figures": ["orbits"]}
    students = {s["name"]: s for s in data["students"]}
    assert sorted(students) == ["alice", "bob", "carol", "dora"]
    assert [s["label"] for s in data["students"]] == [f"Submission {k}" for k in range(1, 5)]
    alice = students["alice"]["answers"]
    assert alice["q1"] == {"text": "They stay on the attractor.", "found": "id",
                           "figures": [{"cell": "orbits", "images": [["image/png", b64(PNG)]],
                                        "text": "orbits"}]}
    assert students["carol"]["answers"]["q1"]["found"] == "missing"
    assert students["dora"]["answers"]["q2"] == {"text": "", "found": "missing", "figures": []}
    assert data["page"].startswith(f"{CHAPTER}:") and len(data["page"]) == len(CHAPTER) + 17


def test_the_keys_are_documented_on_the_page(page):
    text = page.read_text()
    for key, what in KEYS:
        assert f"<dt><kbd>{html.escape(key)}</kbd></dt><dd>{html.escape(what)}</dd>" in text
    assert [key for key, _ in KEYS] == ["j / k", "n / p", "u", "1 \u2013 9", "g", "c",
                                        "Escape", "?"]


def test_the_order_is_shuffled_by_the_seed_and_the_page_is_reproducible(tmp_path):
    answers = {f"student{k:02d}": {"q1": Answer(f"answer {k}", [], "id")} for k in range(12)}

    def order(seed):
        path = write_manual_page(tmp_path / str(seed), CHAPTER, QUESTIONS[:1], answers,
                                 seed=seed)
        return [s["name"] for s in page_data(path.read_text())["students"]], path

    first, path = order(0)
    assert sorted(first) == sorted(answers) and first != sorted(answers)
    assert order(1)[0] != first
    again, same = order(0)
    assert again == first and same.read_bytes() == path.read_bytes()
    # The page's id (its grades' key in the browser) changes with what it shows.
    changed = dict(answers, student00={"q1": Answer("changed", [], "id")})
    other = write_manual_page(tmp_path / "changed", CHAPTER, QUESTIONS[:1], changed)
    assert page_data(other.read_text())["page"] != page_data(path.read_text())["page"]


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(ValueError, match=r"answers\['alice'\]: expected a dict"):
        write_manual_page(tmp_path, CHAPTER, QUESTIONS, {"alice": ["q1"]})
    with pytest.raises(ValueError, match="questions: the ids must be unique"):
        write_manual_page(tmp_path, CHAPTER, QUESTIONS * 2, {})


def test_data_that_looks_like_the_pages_slots_stays_data(tmp_path):
    answers = {"x": {"q1": Answer("{script} {data} {policy}", [], "id")}}
    path = write_manual_page(tmp_path, "{title}", QUESTIONS, answers)
    text = path.read_text()
    assert page_data(text)["students"][0]["answers"]["q1"]["text"] == "{script} {data} {policy}"
    assert page_data(text)["chapter"] == "{title}"
    assert text.count("<script") == 2


# --- manual.csv -------------------------------------------------------------------------------

def write_csv(path, rows, header=manual.MANUAL_COLUMNS):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_read_manual_csv(tmp_path):
    path = write_csv(tmp_path / "manual.csv", [
        ["alice", "q1", "1.5", "says whether\ncites the figure", "Good."],
        [],
        ["'-2+3", "q2", "0,5", "", "'=not a formula"],
        [" bob ", " task1 ", "2", "", "exec only loads data"],
    ])
    assert read_manual_csv(path) == [
        ManualRow("alice", "q1", 1.5, ["says whether", "cites the figure"], "Good.", 2),
        ManualRow("-2+3", "q2", 0.5, [], "=not a formula", 4),
        ManualRow("bob", "task1", 2, [], "exec only loads data", 5)]
    # Columns in any order, rubric and comment may be left out, a spreadsheet's BOM is fine.
    path.write_bytes("\ufeffitem,points,student\r\nq1,2,alice\r\n".encode())
    assert read_manual_csv(path) == [ManualRow("alice", "q1", 2, [], "", 2)]


def test_read_manual_csv_names_every_problem_by_row_and_column(tmp_path):
    path = write_csv(tmp_path / "manual.csv", [
        ["alice", "q1", "abc", "", ""],
        ["", "q1", "1", "", ""],
        ["bob", "q1", "-1", "", ""],
        ["carol", "q1", "nan", "", ""],
        ["dora", "q1", "1", "", ""],
        ["dora", "q1", "2", "", ""],
        ["emil", "q1", "1", "", "", "extra"],
    ])
    with pytest.raises(ManualError) as error:
        read_manual_csv(path)
    assert error.value.problems == [
        "row 2, column points: 'abc' is not a number",
        "row 3, column student: empty",
        "row 4, column points: -1 is negative",
        "row 5, column points: 'nan' is not a number",
        "row 7: dora's q1 is given again (first in row 6)",
        "row 8: 6 cells, the header has 5"]
    assert str(error.value).startswith(f"{path}: 6 problems:\n  row 2, column points:")
    write_csv(path, [], header=["student", "item", "pionts"])
    with pytest.raises(ManualError, match="row 1 \\(the header\\): expected the columns "
                                          "student, item, points, rubric, comment, got "
                                          "student, item, pionts"):
        read_manual_csv(path)


def test_read_manual_csv_checks_rows_against_the_results(tmp_path):
    results = class_results(class_answers())
    path = write_csv(tmp_path / "manual.csv", [
        ["alice", "q1", "2", "", ""],
        ["mallory", "q1", "1", "", ""],
        ["alice", "q9", "1", "", ""],
        ["bob", "q2", "1.5", "", ""],
        ["bob", "task1", "3", "", ""],
    ])
    with pytest.raises(ManualError) as error:
        read_manual_csv(path, results=results)
    assert error.value.problems == [
        "row 3, column student: no student 'mallory' in the results (the students: alice, "
        "bob, carol, dora, emil)",
        "row 4, column item: 'q9' is neither a task nor a question of this chapter (the "
        "items: task1, q1, q2)",
        "row 5, column points: 1.5 is outside 0 to 1, the points of q2",
        "row 6, column points: 3 is outside 0 to 2, the points of task1"]


def test_apply_manual_grades_answers_and_overrides_tasks():
    results = class_results(class_answers())
    by_name = {r.student: r for r in results}
    assert [q.status for q in by_name["carol"].questions] == [MISSING_ANSWER, TO_GRADE]
    rows = [ManualRow("alice", "q1", 1.5, ["says whether"], "Cite the figure.", 2),
            ManualRow("carol", "q1", 1, [], "Answered below the figure.", 3),
            ManualRow("bob", "task1", 1, [], "first reason", 4),
            ManualRow("bob", "task1", 2, [], "exec only loads the data", 5),
            ManualRow("emil", "q2", 1, [], "from the PDF", 6),
            ManualRow("mallory", "q1", 1, [], "", 7)]
    problems = apply_manual(results, rows)
    assert problems == ["row 7, column student: no student 'mallory' in the results (the "
                        "students: alice, bob, carol, dora, emil)"]
    alice = by_name["alice"].questions[0]
    assert (alice.points, alice.status, alice.rubric, alice.comment) == (
        1.5, "graded", ["says whether"], "Cite the figure.")
    assert by_name["carol"].questions[0].status == "graded"  # a missing answer found by hand
    assert by_name["bob"].overrides == [Override("task1", 2, "exec only loads the data")]
    assert by_name["bob"].task_points() == {"task1": 2}
    emil = by_name["emil"].questions
    assert [(q.id, q.title, q.max_points, q.points) for q in emil] == [
        ("q2", "Question 2 (chaos)", 1, 1)]
    assert by_name["emil"].total == 1


# --- merging ----------------------------------------------------------------------------------

@pytest.fixture
def graded(tmp_path, monkeypatch):
    """A grading's output with written answers to grade (as the grader writes it)."""
    from course_utils.grading import runner

    def forbidden(*args, **kwargs):
        raise AssertionError("merging must not run any code of the students")

    monkeypatch.setattr(runner, "run_task", forbidden)
    monkeypatch.setattr(runner, "run_reference", forbidden)
    out = tmp_path / "grades"
    write_reports(class_results(class_answers()), CHAPTER, TASKS, out, questions=QUESTIONS,
                  hidden_seed=7, extra={"deadline": "2024-05-01"})
    return out


def test_merge_manual_fills_every_output(graded, tmp_path):
    before = (graded / "grades.csv").read_text().splitlines()
    assert before[1] == "alice,2,,,2,5,graded"  # answers to grade: empty cells
    path = write_csv(tmp_path / "manual.csv", [
        ["alice", "q1", "2", "says whether\ndistinguishes", "Very good."],
        ["alice", "q2", "0.5", "", "Which exponent?"],
        ["bob", "q1", "0", "", "</script> is not an answer"],
        ["bob", "task1", "1.5", "", "exec only loads the data file"],
        ["dora", "q1", "1", "", ""],
    ])
    assert merge_manual(graded, path) == ["q2: 2 answers still to grade (bob, carol)"]
    rows = list(csv.reader((graded / "grades.csv").open()))
    assert rows == [
        ["student", "task1", "q1", "q2", "total", "max", "status"],
        ["alice", "2", "2", "0.5", "4.5", "5", "graded"],
        ["bob", "1.5", "0", "", "1.5", "5", "graded"],
        ["carol", "2", "0", "", "2", "5", "graded"],
        ["dora", "2", "1", "0", "3", "5", "graded"],
        ["emil", "0", "", "", "0", "5", "not a notebook (JSONDecodeError)"],
    ]
    alice = (graded / "feedback" / "alice.md").read_text()
    assert "## Question 1 (orbits): 2 of 2 points\n\n- \u2713 says whether\n" in alice
    assert "**Comment:**\n\n> Very good.\n" in alice and "> Which exponent?\n" in alice
    bob = (graded / "feedback" / "bob.html").read_text()
    assert "Points set by the tutor: 1.5 of 2 (the grader gave 0): exec only loads" in bob
    assert "&lt;/script&gt; is not an answer" in bob and "</script>" not in bob
    summary = (graded / "summary.html").read_text()
    assert "<p>5 submissions; mean 2.2 of 5 points.</p>" in summary
    back = read_results(graded)
    assert back.hidden_seed == 7 and back.extra == {"deadline": "2024-05-01"}
    assert back.questions == QUESTIONS and back.tasks == TASKS
    assert [s.total for s in back.students] == [4.5, 1.5, 2, 3, 0]
    # Merging the same file again changes nothing.
    first = {p.name: p.read_bytes() for p in graded.rglob("*") if p.is_file()}
    merge_manual(graded, path)
    assert {p.name: p.read_bytes() for p in graded.rglob("*") if p.is_file()} == first


def test_merge_manual_writes_nothing_when_a_row_is_wrong(graded, tmp_path):
    before = {p.name: p.read_bytes() for p in graded.rglob("*") if p.is_file()}
    path = write_csv(tmp_path / "manual.csv", [["alice", "q1", "2", "", ""],
                                               ["alice", "q2", "3", "", ""]])
    with pytest.raises(ManualError, match="row 3, column points: 3 is outside 0 to 1"):
        merge_manual(graded, path)
    assert {p.name: p.read_bytes() for p in graded.rglob("*") if p.is_file()} == before
    with pytest.raises(FileNotFoundError):
        merge_manual(tmp_path / "nowhere", path)
