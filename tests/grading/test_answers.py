"""The written answers (course_utils.grading.answers): a student's markdown answer found by
the answer cell's metadata, by position when the metadata is gone, or missing (the
template's text counts as missing); the figures' outputs kept only as checked PNG or JPEG
images and capped text, every other kind of output dropped. The notebooks are generated
from a small solution source by the notebook format, as the release makes them."""

import base64
import copy
import struct
import textwrap
import zlib

import nbformat
import pytest

from course_utils.grading.answers import (MAX_ANSWER_CHARS, MAX_IMAGE_BYTES, MAX_IMAGES,
                                          MAX_OUTPUT_CHARS, Answer, Figure, extract_answers,
                                          question_results)
from course_utils.grading.report import MISSING_ANSWER, TO_GRADE, QuestionResult
from course_utils.grading.submissions import Reference
from course_utils.notebook_format import (ANSWER_PLACEHOLDER, METADATA_KEY, figure_cells,
                                          make_exercise, question_layout, to_ipynb)

CHAPTER = "09_written"
SOURCE = textwrap.dedent("""\
    # ---
    # jupyter:
    #   kernelspec:
    #     display_name: Python 3
    #     language: python
    #     name: python3
    # ---

    # %% [markdown]
    # # Orbits
    #
    # **Question 1.** Do the model's free-running orbits stay on the attractor?
    # <!-- BEGIN SOLUTION Question 1 (orbits) [2 points] [figures: orbits] -->
    # Yes: they stay on the attractor, although they diverge from the data.
    # <!-- RUBRIC
    # [1 point] says whether the orbits stay on the attractor, citing the figure
    # [1 point] distinguishes short-term divergence from long-term statistics
    # -->
    # <!-- END SOLUTION -->
    #
    # Now the figure.

    # %%
    # Figure: orbits
    print("orbits")

    # %% [markdown]
    # **Question 2.** Why is the system chaotic?
    # <!-- BEGIN SOLUTION Question 2 (chaos) [1 point] -->
    # Its largest Lyapunov exponent is positive.
    # <!-- RUBRIC
    # [1 point] names the positive largest exponent
    # -->
    # <!-- END SOLUTION -->
    """)
QUESTIONS = question_layout(SOURCE, "written.py")
_EXERCISE = make_exercise(SOURCE, "written.py")
TEMPLATE = nbformat.reads(to_ipynb(_EXERCISE, f"exercises/{CHAPTER}", chapter=CHAPTER,
                                   questions=QUESTIONS,
                                   figures=figure_cells(_EXERCISE, "written.py")), as_version=4)
REFERENCE = Reference(CHAPTER, [], [], {c.id for c in TEMPLATE.cells}, {}, QUESTIONS)


def png(width=2, height=2, rgb=(200, 30, 30)) -> bytes:
    """A valid PNG image of one colour."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))
    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                              0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


PNG = png()
JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + b"\x00" * 40 + b"\xff\xd9"


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def image_output(data: dict) -> dict:
    return nbformat.v4.new_output("display_data", data=data)


def _index(notebook, key, value):
    [index] = [i for i, c in enumerate(notebook.cells)
               if c.metadata.get(METADATA_KEY, {}).get(key) == value]
    return index


def student_notebook(answers: dict, *, outputs=None):
    """The template with ``answers`` (question id -> markdown) written into the answer
    cells and ``outputs`` (default: a PNG and a printed line) in the figure cell."""
    notebook = copy.deepcopy(TEMPLATE)
    for qid, text in answers.items():
        notebook.cells[_index(notebook, "answer", qid)].source = text
    figure = notebook.cells[_index(notebook, "figure", "orbits")]
    figure.outputs = outputs if outputs is not None else [
        nbformat.v4.new_output("stream", name="stdout", text="orbits\n"),
        image_output({"image/png": b64(PNG), "text/plain": "<Figure size 640x480>"})]
    return notebook


def strip_metadata(notebook):
    for cell in notebook.cells:
        cell.metadata.pop(METADATA_KEY, None)
    return notebook


def test_the_template_has_answer_cells_for_both_questions():
    assert [q.id for q in QUESTIONS] == ["q1", "q2"]
    for qid in ("q1", "q2"):
        assert TEMPLATE.cells[_index(TEMPLATE, "answer", qid)].source == ANSWER_PLACEHOLDER
    assert extract_answers(TEMPLATE, REFERENCE) == {
        "q1": Answer("", [Figure("orbits")], "missing"), "q2": Answer("", [], "missing")}


def test_answers_found_by_their_cells_metadata_wherever_they_moved():
    notebook = student_notebook({"q1": "They stay on it, see the figure.", "q2": "λ₁ > 0"})
    # The student moves the second answer cell to the top: it is still found by its id.
    notebook.cells.insert(0, notebook.cells.pop(_index(notebook, "answer", "q2")))
    answers = extract_answers(notebook, REFERENCE)
    assert answers["q1"] == Answer("They stay on it, see the figure.",
                                   [Figure("orbits", [("image/png", b64(PNG))], "orbits")], "id")
    assert answers["q2"] == Answer("λ₁ > 0", [], "id")


def test_markdown_cells_the_student_added_after_the_answer_belong_to_it():
    notebook = student_notebook({"q2": "First part."})
    at = _index(notebook, "answer", "q2")
    notebook.cells.insert(at + 1, nbformat.v4.new_markdown_cell("Second part."))
    assert extract_answers(notebook, REFERENCE)["q2"].text == "First part.\n\nSecond part."
    # A template cell after the answer (the text that follows the region) is not taken.
    notebook = student_notebook({"q1": "Mine."})
    assert extract_answers(notebook, REFERENCE)["q1"].text == "Mine."


def test_answers_found_by_position_when_the_metadata_is_stripped():
    notebook = strip_metadata(student_notebook({"q1": "By position.", "q2": "Also."}))
    answers = extract_answers(notebook, REFERENCE)
    assert answers["q1"].found == answers["q2"].found == "position"
    assert answers["q1"].text == "By position." and answers["q2"].text == "Also."
    # The figure is found by its first line, # Figure: orbits.
    assert answers["q1"].figures == [Figure("orbits", [("image/png", b64(PNG))], "orbits")]


def test_a_prompt_cell_found_by_its_metadata_when_the_student_edited_its_text():
    notebook = student_notebook({"q2": "Answer two."})
    at = _index(notebook, "question", "q2")
    notebook.cells[at].source = "I rewrote the question."
    notebook.cells[at + 1].metadata.pop(METADATA_KEY)
    assert extract_answers(notebook, REFERENCE)["q2"] == Answer("Answer two.", [], "position")


def test_missing_answers():
    notebook = strip_metadata(student_notebook({"q2": "Answer two."}))
    del notebook.cells[_index(TEMPLATE, "answer", "q2")]  # the answer cell deleted
    assert extract_answers(notebook, REFERENCE)["q2"] == Answer("", [], "missing")
    # The next markdown cell is another question's prompt (known by its text): not an answer.
    notebook = strip_metadata(student_notebook({"q2": "Answer two."}))
    del notebook.cells[_index(TEMPLATE, "answer", "q1"):_index(TEMPLATE, "question", "q2")]
    assert [c.source[:20] for c in notebook.cells] == [
        "# Orbits\n\n**Question", "**Question 2.** Why ", "Answer two."]
    answers = extract_answers(notebook, REFERENCE)
    assert answers["q1"] == Answer("", [], "missing")
    assert answers["q2"] == Answer("Answer two.", [], "position")
    # The next cell is code: no answer either.
    notebook.cells.insert(1, nbformat.v4.new_code_cell("x = 1"))
    assert extract_answers(notebook, REFERENCE)["q1"].found == "missing"


@pytest.mark.parametrize("text", [ANSWER_PLACEHOLDER, f"  {ANSWER_PLACEHOLDER}\n\n", "", "  \n"])
def test_the_placeholder_untouched_or_nothing_counts_as_missing(text):
    answers = extract_answers(student_notebook({"q1": text, "q2": text}), REFERENCE)
    assert answers["q1"].found == answers["q2"].found == "missing"
    assert answers["q1"].text == answers["q2"].text == ""
    # The figure the student made is still shown to the tutor.
    assert answers["q1"].figures[0].images == [("image/png", b64(PNG))]
    assert question_results(QUESTIONS, answers) == [
        QuestionResult("q1", "Question 1 (orbits)", 2, 0, MISSING_ANSWER),
        QuestionResult("q2", "Question 2 (chaos)", 1, 0, MISSING_ANSWER)]


def test_question_results_to_grade():
    answers = extract_answers(student_notebook({"q1": "Yes."}), REFERENCE)
    assert [(r.id, r.points, r.status) for r in question_results(QUESTIONS, answers)] == [
        ("q1", None, TO_GRADE), ("q2", 0, MISSING_ANSWER)]
    assert question_results(QUESTIONS, {})[0].status == MISSING_ANSWER


def test_a_notebook_as_plain_json_with_list_sources():
    notebook = student_notebook({"q2": "line one\nline two"})
    data = {"cells": [{**c, "source": c["source"].splitlines(keepends=True)}
                      for c in notebook.cells]}
    assert extract_answers(data, REFERENCE)["q2"] == Answer("line one\nline two", [], "id")
    assert extract_answers({"cells": "nonsense"}, REFERENCE)["q1"].found == "missing"


def _figure(outputs):
    notebook = student_notebook({"q1": "See the figure."}, outputs=outputs)
    [figure] = extract_answers(notebook, REFERENCE)["q1"].figures
    return figure


def test_hostile_outputs_are_dropped():
    hostile = [
        image_output({"image/svg+xml": "<svg onload=alert(1)></svg>"}),
        image_output({"text/html": "<script>alert(1)</script>"}),
        image_output({"application/javascript": "alert(1)"}),
        image_output({"text/markdown": "[x](javascript:alert(1))"}),
        image_output({"image/gif": b64(b"GIF89a" + b"\x00" * 20)}),
        image_output({"application/vnd.jupyter.widget-view+json": {"model_id": "x"}}),
    ]
    assert _figure(hostile) == Figure("orbits", [], "")


def test_images_are_checked_by_their_bytes():
    not_png = b64(b"<html><script>alert(1)</script></html>")
    outputs = [image_output({"image/png": not_png, "text/plain": "fake"}),
               image_output({"image/png": b64(JPEG)}),  # a JPEG that says it is a PNG
               image_output({"image/png": "not base64 at all!"}),
               image_output({"image/jpeg": b64(JPEG)}),
               image_output({"image/png": b64(PNG)[:10] + "\n" + b64(PNG)[10:]})]
    figure = _figure(outputs)
    # The fake PNG's text/plain stands in for it; the real images are kept, re-encoded.
    assert figure.images == [("image/jpeg", b64(JPEG)), ("image/png", b64(PNG))]
    assert figure.text == "fake"


def test_images_are_capped_in_size_and_number():
    huge = b"\x89PNG\r\n\x1a\n" + b"\x00" * MAX_IMAGE_BYTES
    assert _figure([image_output({"image/png": b64(huge)})]).images == []
    many = [image_output({"image/png": b64(png(rgb=(k, 0, 0)))}) for k in range(MAX_IMAGES + 3)]
    assert len(_figure(many).images) == MAX_IMAGES


def test_text_outputs_are_kept_as_text_and_capped():
    outputs = [nbformat.v4.new_output("stream", name="stdout",
                                      text="\x1b[31mred\x1b[0m <b>bold</b>\n"),
               nbformat.v4.new_output("execute_result", data={"text/plain": "42"},
                                      execution_count=1),
               nbformat.v4.new_output("error", ename="ValueError", evalue="bad <i>",
                                      traceback=["\x1b[31m..."])]
    assert _figure(outputs).text == "red <b>bold</b>\n42\nValueError: bad <i>"
    huge = _figure([nbformat.v4.new_output("stream", name="stdout", text="x" * 10**6)])
    assert len(huge.text) < MAX_OUTPUT_CHARS + 100
    assert huge.text.startswith("x" * 100) and huge.text.endswith("characters cut)")


def test_a_huge_answer_is_capped():
    answer = extract_answers(student_notebook({"q2": "y" * 10**6}), REFERENCE)["q2"]
    assert len(answer.text) < MAX_ANSWER_CHARS + 100 and answer.text.endswith("characters cut)")


def test_images_pasted_into_the_answer_cell():
    notebook = student_notebook({"q2": "![sketch](attachment:sketch.png)"})
    cell = notebook.cells[_index(notebook, "answer", "q2")]
    cell["attachments"] = {"sketch.png": {"image/png": b64(PNG)},
                           "evil.svg": {"image/svg+xml": "<svg onload=alert(1)/>"}}
    assert extract_answers(notebook, REFERENCE)["q2"].figures == [
        Figure("pasted image", [("image/png", b64(PNG))])]


def test_a_figure_cell_without_outputs():
    assert _figure([]) == Figure("orbits", [], "")
    notebook = student_notebook({"q1": "x"})
    del notebook.cells[_index(notebook, "figure", "orbits")]
    assert extract_answers(notebook, REFERENCE)["q1"].figures == []


def test_an_answer_written_into_the_questions_own_cell():
    """A student who deleted the answer cell and wrote below the question, in its cell."""
    notebook = copy.deepcopy(TEMPLATE)
    prompt = _index(notebook, "question", "q2")
    notebook.cells[prompt].source += "\n\nThe largest exponent is positive, so: chaos."
    del notebook.cells[_index(notebook, "answer", "q2")]
    answer = extract_answers(notebook, REFERENCE)["q2"]
    assert answer.text == "The largest exponent is positive, so: chaos."
    assert answer.found == "position"
    # The question's cell left as it was: still missing.
    untouched = copy.deepcopy(TEMPLATE)
    del untouched.cells[_index(untouched, "answer", "q2")]
    assert extract_answers(untouched, REFERENCE)["q2"].found == "missing"
