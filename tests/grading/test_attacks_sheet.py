"""The grader's written-answer surfaces against a student who has read the whole repository
(grader included) and wants the points, or wants to embarrass a classmate: what reaches
``manual.html`` (the tutors' page), ``summary.html`` (the similarity report, the students'
table, the roster section), the feedback files, ``grades.csv``, the Moodle and Canvas files,
``manual.csv`` (the page's export) and ``OUT/cache/texts/`` from text the student controls:
any cell's source, metadata, outputs and attachments, the file name, the zip entry's time.

Each test is one class of attack; those marked "was a hole" failed before the fix that
came with them:

* a lone surrogate (``"\\ud800"`` in the notebook's JSON) in an answer, a figure's output,
  a task's code or an exception message stopped manual.html, summary.html or the feedback,
  and with them every student's reports (was a hole);
* a question's cell of many lines made reading the answers quadratic: minutes per notebook
  (was a hole);
* a task cell of megabytes made the similarity report take minutes and the summary
  megabytes (was a hole);
* a student named ``constructor`` (or ``toString``, ...) could not be graded on the page:
  ticking an item threw in the page's script (was a hole); the page's export escapes
  spreadsheet formulas exactly as ``report.csv_cell`` does (regression);
* a malformed file in ``OUT/cache/texts`` stopped the class pages of everyone, and without
  the sandbox a submission could rewrite a classmate's kept answer before the pages were
  made (were holes); no student name leaves ``OUT/cache/texts`` (regression);
* a submission time later than the grading run went unnoticed (was a hole); the roster's
  time wins over the zip's (regression);
* markup and script in every student-controlled place stay text, the page stays one valid
  page of bounded size however many cells claim an answer or a figure, a code cell never
  becomes an answer, one cell never answers two questions, and a name starting a formula
  is escaped in every CSV file (regressions).

Similarity evasion (hiding copied code) is not a security problem and is not tested here.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import re
import shutil
import subprocess
import time
import warnings
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import nbformat
import pytest

import course_utils.grading as grading
from course_utils.grading import class_pages
from course_utils.grading.answers import (MAX_ANSWER_CHARS, MAX_IMAGE_BYTES, MAX_IMAGES,
                                          MAX_OUTPUT_CHARS, Answer, Figure, extract_answers)
from course_utils.grading.cache import (CACHE, TEXTS, _merged_extra, load_texts, store_texts,
                                        texts_path)
from course_utils.grading.lms import (FUTURE_SLACK, GradeRow, LatePolicy, apply_roster,
                                      read_roster, write_canvas, write_moodle)
from course_utils.grading.manual import _SCRIPT, read_manual_csv, write_manual_page
from course_utils.grading.report import (StudentResult, csv_cell, read_results,
                                         write_reports)
from course_utils.grading.runner import TaskResult
from course_utils.grading.similarity import (MAX_COMPARED_CHARS, similarity_html,
                                             similarity_report)
from course_utils.grading.submissions import student_name, collect, read_notebook
from course_utils.notebook_format import METADATA_KEY

from tests.grading.test_answers import (CHAPTER, PNG, QUESTIONS, REFERENCE, _index,
                                        b64, image_output, png, student_notebook)
from tests.grading.test_grade import ROOT
from tests.grading.test_manual import TASKS, page_data

SCRIPTY = "</script><script>alert(1)</script><!-- <script> \u2028\u2029 & <img src=x onerror=1>"


def _stream(text: str) -> dict:
    return nbformat.v4.new_output("stream", name="stdout", text=text)


def _script_block(page: str) -> str:
    start = page.index('<script type="application/json"')
    return page[page.index(">", start) + 1:page.index("</script>", start)]


def _assert_one_valid_page(page: str) -> dict:
    """The manual page as written: two scripts (its data and its code), data that cannot
    end its element, valid JSON."""
    assert page.count("<script") == 2 and page.count("</script>") == 2
    block = _script_block(page)
    for raw in ("<", ">", "&", "\u2028", "\u2029"):
        assert raw not in block
    return page_data(page)


# --- lone surrogates: one student's text stopped everyone's reports (was a hole) ---------

def test_a_lone_surrogate_in_an_answer_or_an_output_cannot_stop_manual_html(tmp_path):
    raw = nbformat.writes(student_notebook(
        {"q1": "SURROGATE-ANSWER \ud800 end", "q2": "fine"},
        outputs=[_stream("out \udfff put\n"), image_output({"image/png": b64(PNG)}),
                 nbformat.v4.new_output("error", ename="E\ud801", evalue="bad \udc00",
                                        traceback=[])]))
    notebook = json.loads(raw)  # as read from disk: "\ud800" escapes in the JSON
    answers = extract_answers(notebook, REFERENCE)
    assert answers["q1"].text == "SURROGATE-ANSWER \ufffd end"
    assert answers["q1"].figures[0].text == "out \ufffd put\nE\ufffd: bad \ufffd"
    path = write_manual_page(tmp_path, CHAPTER, QUESTIONS,
                             {"mallory": answers, "alice": {"q1": Answer("honest", [], "id")}})
    data = _assert_one_valid_page(path.read_text(encoding="utf-8"))
    assert {s["name"] for s in data["students"]} == {"mallory", "alice"}
    # Text that did not come through extract_answers (a stored file): escaped, kept as is.
    stored = {"mallory": {"q1": Answer("kept \ud800 as written", [], "id")}}
    path = write_manual_page(tmp_path / "stored", CHAPTER, QUESTIONS, stored)
    text = path.read_text(encoding="utf-8")
    assert "\\ud800" in _script_block(text)
    assert page_data(text)["students"][0]["answers"]["q1"]["text"] == "kept \ud800 as written"


def test_a_lone_surrogate_in_code_or_a_message_cannot_stop_the_summary_or_feedback(tmp_path):
    code = "def f(x):\n    y = x + 1  # \ud800\n    return y * 2 + g(x, y, 3)\n"
    report = similarity_report({"task1": {"mallory": code, "victim": code}}, {},
                               template={}, references={}, engine="builtin")
    task = TaskResult("task1", "Task 1 (f)", 0, 2, "failed",
                      "your task cell raised ValueError: \udcff", "tagged")
    results = [StudentResult("mallory", "m.ipynb", "failed (task1)", [task]),
               StudentResult("victim", "v.ipynb", "graded",
                             [TaskResult("task1", "Task 1 (f)", 2, 2, "passed")])]
    write_reports(results, CHAPTER, TASKS, tmp_path, similarity=report)
    summary = (tmp_path / "summary.html").read_text(encoding="utf-8")
    assert "# \ufffd" in summary and "ValueError: \ufffd" in summary
    for suffix in ("md", "html"):
        feedback = (tmp_path / "feedback" / f"mallory.{suffix}").read_text(encoding="utf-8")
        assert "ValueError: \ufffd" in feedback
    assert (tmp_path / "feedback" / "victim.html").is_file()
    assert read_results(tmp_path).students[0].tasks[0].message.endswith("\udcff")


# --- reading the answers stays linear (was a hole) ---------------------------------------

def test_a_question_cell_of_many_lines_is_read_in_linear_time():
    """The question's cell (found by its metadata or by its text) with tens of thousands
    of lines after a prompt that never quite matches, the answer cell emptied: each line
    used to join every line before it again."""
    notebook = student_notebook({"q1": ""})
    prompt = notebook.cells[_index(notebook, "question", "q1")]
    prompt.source += "X\n" + "a\n" * 30_000
    start = time.perf_counter()
    answers = extract_answers(notebook, REFERENCE)
    assert time.perf_counter() - start < 5  # it took about 20 s
    assert answers["q1"].found == "missing"
    # The same cell with the prompt intact: the lines below it are the answer.
    notebook.cells[_index(notebook, "question", "q1")].source = (
        QUESTIONS[0].prompt + "\n" + "my answer\n" * 30_000)
    answer = extract_answers(notebook, REFERENCE)["q1"]
    assert answer.found == "position" and answer.text.startswith("my answer\nmy answer")
    assert len(answer.text) < MAX_ANSWER_CHARS + 100


# --- the similarity report stays bounded (was a hole) -------------------------------------

def test_a_task_cell_of_megabytes_is_compared_and_shown_only_in_part():
    code = "def f(x):\n" + "".join(f"    y{i} = x * {i} + h(x, {i})\n" for i in range(50_000))
    assert len(code) > 30 * MAX_COMPARED_CHARS
    start = time.perf_counter()
    report = similarity_report({"task1": {"mallory": code, "copycat": code,
                                          "alice": "def f(x):\n    return 2 * x\n"}},
                               {"q1": {"mallory": "word " * 200_000}},
                               template={}, references={}, engine="builtin")
    section = similarity_html(report)
    assert time.perf_counter() - start < 30  # about 20 s for the task alone before
    [task, question] = report["items"]
    assert task["pairs"][0]["students"] == ["copycat", "mallory"]
    assert task["pairs"][0]["score"] == 1.0
    for name in ("copycat", "mallory"):
        text = task["texts"][name]
        assert len(text) < MAX_COMPARED_CHARS + 100
        assert re.search(r"… \(\d+ more characters, not compared\)$", text)
    assert len(section) < 6 * MAX_COMPARED_CHARS  # two texts side by side, marked
    assert len(json.dumps(report)) < 6 * MAX_COMPARED_CHARS


# --- the page's script: names as keys, the export's formulas ----------------------------

def test_astudent_named_like_an_object_property_is_graded_in_the_browser(browser, tmp_path):
    """Names the grader makes from file names (``constructor.ipynb``): the page looked
    them up as properties of a plain object, found Object's own, and threw on a tick. The
    export escapes a name or a comment that would start a formula, and reads back."""
    names = ["constructor", "toString", "-1+2", "@SUM_A1", "alice"]
    assert [student_name(n) for n in names] == names
    answers = {name: {"q1": Answer(f"answer of {name}", [], "id"),
                      "q2": Answer("", [], "missing")} for name in names}
    path = write_manual_page(tmp_path, CHAPTER, QUESTIONS, answers, seed=1)
    order = [s["name"] for s in page_data(path.read_text())["students"]]
    browser.get(path.as_uri())
    from tests.grading.test_manual_browser import Page

    page = Page(browser, order)
    for name in names:
        page.go(name)
        assert page.text("#a-text") == f"answer of {name}"
        assert not page.checked("#graded")
        page.keys("1")
        assert page.checked("#item-1") and page.checked("#graded")
    page.go("-1+2")
    page.keys("c")
    page.keys("=HYPERLINK(\"http://x\",\"click\")", "\ue00c")  # and Escape
    page.find("#export").click()
    exported = page.find("#csv").get_attribute("value")
    rows = list(csv.reader(io.StringIO(exported)))
    item = QUESTIONS[0].rubric[0][0]
    assert sorted(rows[1:]) == sorted(
        [[csv_cell(name), "q1", "1", item,
          csv_cell("=HYPERLINK(\"http://x\",\"click\")") if name == "-1+2" else ""]
         for name in names])
    assert [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"] == []
    manual = tmp_path / "manual.csv"
    manual.write_text(exported, encoding="utf-8")
    back = {row.student: row for row in read_manual_csv(manual)}
    assert sorted(back) == sorted(names)
    assert back["-1+2"].comment == "=HYPERLINK(\"http://x\",\"click\")"


def _js_function(name: str) -> str:
    """A multi-line function of the page's script, as written there."""
    return re.search(r"\n  function " + name + r"\(.*?\n  }\n", _SCRIPT, re.S).group(0)


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
def test_the_pages_export_escapes_formulas_as_csv_cell_does(tmp_path):
    values = ["=1+1", "+1", "-2+3", "@SUM(A1)", "\t=x", "\r=x", "\n=x", "plain", " =x",
              "'=x", "a,b", "say \"hi\"", "two\nlines", "", "−1", "＝1"]
    script = ("function fmt(value) { return String(value); }\n" + _js_function("cell")
              + f"process.stdout.write(JSON.stringify({json.dumps(values)}.map(cell)));")
    (tmp_path / "cell.js").write_text(script, encoding="utf-8")
    written = json.loads(subprocess.run(["node", str(tmp_path / "cell.js")], check=True,
                                        capture_output=True, text=True).stdout)
    for value, cell in zip(values, written):
        [[read]] = list(csv.reader(io.StringIO(cell))) or [[""]]
        assert read == csv_cell(value), value


# --- the cache of what each student wrote ------------------------------------------------

def test_nostudent_name_leaves_the_texts_folder(tmp_path):
    folder = tmp_path / "class"
    for raw in ("...x", ".hidden", "a..b", "-rf", "x\\..\\y", "con", "~root"):
        (folder / raw).mkdir(parents=True)
        (folder / raw / "n.ipynb").write_text("{}")
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../escape.ipynb", "{}")
    found = collect([folder], tmp_path / "scratch")
    assert collect([archive], tmp_path / "scratch2")[0].problem.startswith("unsafe zip")
    texts = (tmp_path / "out" / CACHE / TEXTS).resolve()
    for sub in found:
        path = texts_path(tmp_path / "out", sub.student)
        assert path.resolve().parent == texts, sub.student
        store_texts(tmp_path / "out", sub.student, {}, {})
    assert len(list(texts.iterdir())) == len(found)
    for bad in ("../x", "..", ".x", "a/b", "a\\b", "a\x00b", ""):
        with pytest.raises(ValueError):
            texts_path(tmp_path / "out", bad)
    assert load_texts(tmp_path / "out", ["../x", "..", ""]) == {}


def _one_figure(images) -> str:
    return json.dumps({"codes": {}, "answers": {"q1": {
        "text": "x", "found": "id", "figures": [{"cell": "orbits", "text": "",
                                                  "images": images}]}}})


MALFORMED = {
    "not_json": "{",
    "a_list": "[1, 2]",
    "answers_a_list": json.dumps({"codes": {}, "answers": []}),
    "codes_a_string": json.dumps({"codes": "task1", "answers": {}}),
    "code_a_number": json.dumps({"codes": {"task1": 42}, "answers": {}}),
    "text_a_number": json.dumps({"codes": {}, "answers": {
        "q1": {"text": 1, "figures": [], "found": "id"}}}),
    "found_a_property": json.dumps({"codes": {}, "answers": {
        "q1": {"text": "x", "figures": [], "found": "constructor"}}}),
    "image_not_an_image": _one_figure([["image/png", "x\" onerror=1"]]),
    "image_svg": _one_figure([["image/svg+xml", b64(b"<svg/>")]]),
    "image_one_part": _one_figure([["image/png"]]),
    "deeply_nested": "[" * 100_000 + "]" * 100_000,
}


def test_a_malformed_stored_file_is_skipped_not_fatal(tmp_path):
    out = tmp_path / "out"
    good = {"q1": Answer("a good answer", [Figure("orbits", [("image/png", b64(PNG))], "")],
                         "id")}
    store_texts(out, "alice", {"task1": "def f(): pass"}, good)
    for name, text in MALFORMED.items():
        texts_path(out, name).write_text(text)
    loaded = load_texts(out, ["alice", *MALFORMED])
    assert list(loaded) == ["alice"] and loaded["alice"]["answers"] == good
    # The class pages are made for everyone else.
    reference = copy.copy(REFERENCE)
    reference.tasks = list(TASKS)
    students = [StudentResult(name, "", "graded") for name in ["alice", *MALFORMED]]
    class_pages(out, reference, students)
    data = page_data((out / "manual.html").read_text())
    assert [s["name"] for s in data["students"]] == ["alice"]


CH03 = "03_stf_lorenz"
FORGED = "FORGED-ANSWER-OF-VICTIM"


def test_without_the_sandbox_a_submission_cannot_rewrite_a_classmates_kept_answer(
        tmp_path, monkeypatch):
    """Without bubblewrap a submission's code runs with the tutor's rights: it rewrites the
    victim's kept texts (after the grader stored them, before the class pages read them)
    and plants texts for a student who has none. The pages must not show either."""
    from tests.grading.sheet_class import notebook

    folder = tmp_path / "class"
    folder.mkdir()
    for name, q1 in (("mallory", "mine"), ("victim", "The victim's own answer."),
                     ("alice", "alice's answer")):
        nbformat.write(notebook(f"# {name}\n", q1, "q2", True), folder / f"{name}.ipynb")
    (folder / "nobody.ipynb").write_text("not a notebook")
    out = tmp_path / "out"

    def run_task(reference, task, code, found, settings, scratch, data):
        if code.startswith("# mallory"):  # what mallory's task cell does, unsandboxed
            forged = {"codes": {"task1": "x"}, "answers": {"q1": {
                "text": FORGED, "figures": [], "found": "id"}}}
            for name in ("victim", "nobody"):
                (out / CACHE / TEXTS / f"{name}.json").write_text(json.dumps(forged))
        return TaskResult(task.id, task.title, 0, task.points, "failed", "no", found)

    monkeypatch.setattr(grading, "run_reference", lambda *args, **kwargs: [])
    monkeypatch.setattr(grading, "run_task", run_task)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        grading.grade(CH03, [folder], out, sandbox="none", workers=1, show_progress=False,
                      solutions=ROOT / "solutions", hidden_seed=1)
    said = [str(w.message) for w in caught if "changed what the grader kept" in str(w.message)]
    assert len(said) == 1 and "nobody, victim" in said[0]
    page = (out / "manual.html").read_text()
    assert FORGED not in page and FORGED not in (out / "summary.html").read_text()
    assert "alice's answer" in page
    assert not texts_path(out, "victim").exists() and not texts_path(out, "nobody").exists()


# --- the time of a submission ---------------------------------------------------------------

def _zip_with_time(path: Path, entries: dict[str, datetime]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, when in entries.items():
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.extra = (b"UT" + (5).to_bytes(2, "little") + b"\x01"
                          + int(when.timestamp()).to_bytes(4, "little", signed=True))
            zf.writestr(info, "{}")
    return path


def test_a_submission_time_after_the_grading_is_flagged_and_the_roster_wins(tmp_path):
    now = datetime.now(timezone.utc)
    deadline = now - timedelta(days=2)
    future = now + timedelta(days=30)
    archive = _zip_with_time(tmp_path / "class.zip", {
        "mallory.ipynb": future,                # looks on time? no: in the future
        "rostered.ipynb": future,               # the roster's time wins over the zip's
        "forged_past.ipynb": deadline - timedelta(days=1),  # the zip's time, believed
        "honest.ipynb": deadline - timedelta(hours=1)})
    found = {sub.student: sub.submitted for sub in collect([archive], tmp_path / "scratch")}
    assert abs(found["mallory"] - future) < timedelta(seconds=2)
    roster = tmp_path / "roster.csv"
    late = (deadline + timedelta(hours=30)).isoformat()
    roster.write_text(f"name,id,email,submitted\nrostered.ipynb,1,r@x.example,{late}\n")
    results = [StudentResult(name, "", "graded",
                             [TaskResult("task1", "Task 1 (f)", 2, 2, "passed")])
               for name in found]
    extra = apply_roster(results, read_roster(roster), found, deadline=deadline,
                         policy=LatePolicy.parse("10%/day"))
    assert extra["future"] == ["mallory"]
    by_name = {r.student: r for r in results}
    assert by_name["mallory"].penalty == 1.0  # 32 days late: all points off
    assert by_name["rostered"].penalty == 0.2  # the roster's 30 hours, not the zip's time
    assert by_name["honest"].penalty == 0 == by_name["forged_past"].penalty
    write_reports(results, CHAPTER, TASKS, tmp_path / "out", extra=extra)
    summary = (tmp_path / "out" / "summary.html").read_text()
    assert re.search(r"Submission times later than the grading ran[^<]*: mallory\.", summary)
    assert read_results(tmp_path / "out").extra["future"] == ["mallory"]
    # Shares merged: every share's flagged students.
    write_reports(results[:1], CHAPTER, TASKS, tmp_path / "share2", extra={"future": ["zed"]})
    merged = _merged_extra([tmp_path / "out", tmp_path / "share2"], results)
    assert merged["future"] == ["mallory", "zed"]
    # Hours later than the grading (a zip's time without a zone, read as UTC): no note.
    assert "future" not in apply_roster([StudentResult("x", "", "graded")], None,
                                        {"x": now + FUTURE_SLACK}, now=now)


# --- regressions: markup stays text, the page stays bounded -----------------------------

def test_markup_in_every_place_a_student_controls_stays_text(tmp_path):
    notebook = student_notebook({"q1": SCRIPTY, "q2": "fine"}, outputs=[
        _stream(SCRIPTY),
        image_output({"image/png": b64(PNG) + '" onerror="alert(1)'}),
        image_output({"image/png": b64(b"<svg onload=alert(1)/>")}),
        image_output({"image/svg+xml": "<svg onload=alert(1)/>", "text/html": SCRIPTY}),
        image_output({"image/png;x=\"y\"": b64(PNG), "text/plain": "plain"})])
    notebook.metadata[METADATA_KEY] = {"chapter": {"<script>": ["x" * 10_000]}, "x": [1] * 1000}
    path = tmp_path / "mallory.ipynb"
    path.write_text(nbformat.writes(notebook), encoding="utf-8")
    refused, status = read_notebook(path, CHAPTER)
    assert refused is None and status.startswith("wrong chapter") and "<" not in status
    assert len(status) < 100
    for cell in notebook.cells:
        cell.metadata.setdefault(METADATA_KEY, {})
        if not cell.metadata[METADATA_KEY]:
            cell.metadata[METADATA_KEY] = [SCRIPTY]  # not a dict: ignored
    answers = extract_answers(json.loads(nbformat.writes(notebook)), REFERENCE)
    assert answers["q1"].text == SCRIPTY
    assert answers["q1"].figures == [Figure("orbits", [], f"{SCRIPTY}\nplain")]
    path = write_manual_page(tmp_path, CHAPTER, QUESTIONS, {"mallory": answers})
    data = _assert_one_valid_page(path.read_text())
    assert data["students"][0]["answers"]["q1"]["text"] == SCRIPTY
    # The similarity report's side-by-side view of a task's code and of two answers.
    code = f"def f(x):\n    return '{SCRIPTY}' + g(x, 1, 2) * h(x, 3)\n"
    report = similarity_report({"task1": {"a": code, "b": code}},
                               {"q1": {"a": SCRIPTY * 3, "b": SCRIPTY * 3}},
                               template={}, references={}, engine="builtin")
    section = similarity_html(report)
    assert "<script" not in section and "<img" not in section and "<!--" not in section


def test_the_page_stays_bounded_however_many_cells_claim_an_answer_or_a_figure(tmp_path):
    big = b64(png(64, 64))
    notebook = student_notebook({"q1": "first"})
    claims = []
    for k in range(2_000):  # markdown cells claiming q1, each with pasted images
        cell = nbformat.v4.new_markdown_cell(f"claim {k} " + "z" * 200,
                                             metadata={METADATA_KEY: {"answer": "q1"}})
        cell["attachments"] = {f"p{j}.png": {"image/png": big} for j in range(3)}
        claims.append(cell)
    figures = [nbformat.v4.new_code_cell(
        "# Figure: orbits", metadata={METADATA_KEY: {"figure": "orbits"}},
        outputs=[image_output({"image/png": big}) for _ in range(10)]
        + [_stream("y" * 3 * MAX_OUTPUT_CHARS)]) for _ in range(500)]
    others = [nbformat.v4.new_code_cell(
        f"# Figure: other{k}", outputs=[image_output({"image/png": big})]) for k in range(500)]
    notebook.cells += claims + figures + others
    start = time.perf_counter()
    answers = extract_answers(notebook, REFERENCE)
    assert time.perf_counter() - start < 20
    q1 = answers["q1"]
    assert len(q1.text) < MAX_ANSWER_CHARS + 100
    assert [f.cell for f in q1.figures] == ["orbits", "pasted image"]
    assert all(len(f.images) <= MAX_IMAGES and len(f.text) < MAX_OUTPUT_CHARS + 100
               for f in q1.figures)
    path = write_manual_page(tmp_path, CHAPTER, QUESTIONS, {"mallory": answers})
    _assert_one_valid_page(path.read_text())
    # The bound from the caps: every character of text escaped at most 6-fold (\u003c),
    # each question's figures and its pasted images at their caps.
    per_question = (6 * (MAX_ANSWER_CHARS + 100)
                    + (1 + max(len(q.figures) for q in QUESTIONS))
                    * (MAX_IMAGES * (4 * MAX_IMAGE_BYTES // 3 + 40) + 6 * (MAX_OUTPUT_CHARS + 100)))
    assert path.stat().st_size < 100_000 + len(QUESTIONS) * per_question
    assert path.stat().st_size < 2 * MAX_IMAGES * len(big) + 200_000  # what it is here


def test_a_code_cell_never_answers_and_one_cell_never_answers_two_questions():
    notebook = student_notebook({"q1": "answer one"})
    q2 = _index(notebook, "answer", "q2")
    notebook.cells[q2] = nbformat.v4.new_code_cell(
        "print('FULL MARKS')", metadata={METADATA_KEY: {"answer": "q2"}},
        outputs=[image_output({"text/html": "<b>FULL MARKS</b>", "text/plain": "FULL MARKS"})])
    notebook.cells[q2]["attachments"] = {"x.png": {"image/png": b64(PNG)}}
    answers = extract_answers(notebook, REFERENCE)
    assert answers["q2"] == Answer("", [], "missing")
    # q1's answer cell claims q2 instead, and a copy of it claims q2 too: q1 has none.
    claimed = student_notebook({"q1": "ONE CELL"})
    cell = claimed.cells[_index(claimed, "answer", "q1")]
    cell.metadata[METADATA_KEY] = {"answer": "q2"}
    claimed.cells.append(copy.deepcopy(cell))
    answers = extract_answers(claimed, REFERENCE)
    assert answers["q1"].found == "missing" and "ONE CELL" not in answers["q1"].text
    assert answers["q2"].found == "id"
    # Without metadata, the cell after a prompt answers that prompt's question only.
    bare = student_notebook({"q1": "POSITIONAL", "q2": "second"})
    for c in bare.cells:
        c.metadata.pop(METADATA_KEY, None)
    answers = extract_answers(bare, REFERENCE)
    assert answers["q1"].text == "POSITIONAL" and "POSITIONAL" not in answers["q2"].text


def test_a_name_that_starts_a_formula_is_escaped_in_every_csv(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    raws = ["-1+2", "+cmd", "@SUM(A1)", "=HYPERLINK(x)"]
    for raw in raws:
        (folder / f"{raw}.ipynb").write_text("{}")
    names = sorted(sub.student for sub in collect([folder], tmp_path / "scratch"))
    assert names == sorted(["-1+2", "+cmd", "@SUM_A1", "HYPERLINK_x"])
    results = [StudentResult(name, "", "graded",
                             [TaskResult("task1", "Task 1 (f)", 1, 2, "failed", "-1")])
               for name in names]
    write_reports(results, CHAPTER, TASKS, tmp_path / "out")
    for path in [tmp_path / "out" / "grades.csv",
                 write_moodle(tmp_path / "moodle.csv", [
                     GradeRow(n, f"-{k}", f"{n}@x.example", 1, 2, "=1+1")
                     for k, n in enumerate(names)], item="Sheet", key="idnumber"),
                 write_canvas(tmp_path / "canvas.csv", [
                     GradeRow(n, f"+{k}", f"@{k}", 1, 2, display_name=f"=cmd|{k}",
                              section="-A") for k, n in enumerate(names)],
                     assignment="Sheet", points_possible=2)]:
        for row in csv.reader(path.open(encoding="utf-8")):
            for cell in row:
                number = re.fullmatch(r"-?\d+(\.\d+)?", cell)
                assert number or not cell[:1] in "=+-@\t\r\n" or cell == "", (path.name, cell)
