"""A student's written answers, read from their notebook as data for the tutors' manual
grading (:mod:`~course_utils.grading.manual`); nothing here runs or renders anything.

:func:`extract_answers` finds, for each written question of the reference
(:class:`~course_utils.notebook_format.Question`), the student's markdown answer:

* by id: the markdown cell whose metadata names the question
  (``{"course_utils": {"answer": "q1"}}``), with the markdown cells the student added right
  after it;
* else by position, when the metadata was stripped: the markdown cell right after the
  question's prompt cell (the one whose metadata is ``{"question": "q1"}``, or whose text
  is the question's prompt);
* else the answer is missing. An answer cell that still holds the template's text
  (:data:`~course_utils.notebook_format.ANSWER_PLACEHOLDER`) or nothing counts as missing.

The question's figures are the outputs of the code cells that make them (metadata
``{"figure": "orbits"}``, or ``# Figure: orbits`` as the cell's first line), as the student
handed them in: PNG and JPEG images whose bytes are what they claim, at most
:data:`MAX_IMAGE_BYTES` each and :data:`MAX_IMAGES` a figure, and the printed text, cut at
:data:`MAX_OUTPUT_CHARS`. Every other kind of output (HTML, SVG, JavaScript, widgets) is
dropped. Images pasted into the answer cell (its attachments) count as a figure of their own.

Everything kept is text that can be written as UTF-8: a lone surrogate (which JSON's
``"\\ud800"`` escape can put into a notebook) becomes U+FFFD. Figure cells that no question
asks for are not read at all.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field

from ..notebook_format import (ANSWER_PLACEHOLDER, FIGURE_LINE, FIGURE_NAME, METADATA_KEY,
                               utf8_safe)
from .report import MISSING_ANSWER, TO_GRADE, QuestionResult

__all__ = ["Answer", "Figure", "extract_answers", "question_results", "MAX_ANSWER_CHARS",
           "MAX_OUTPUT_CHARS", "MAX_IMAGE_BYTES", "MAX_IMAGES", "IMAGE_TYPES", "checked_image"]

#: Characters of a written answer kept (the rest is cut, and the cut said).
MAX_ANSWER_CHARS = 20_000
#: Characters of a figure cell's printed output kept.
MAX_OUTPUT_CHARS = 5_000
#: Bytes of one image, decoded; a larger one is dropped.
MAX_IMAGE_BYTES = 2 << 20
#: Images kept of one figure cell (or of one answer cell's attachments).
MAX_IMAGES = 6
#: The image types kept, and the bytes each starts with.
IMAGE_TYPES = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")


@dataclass
class Figure:
    """What a student's figure cell showed: ``cell`` the figure's name, ``images`` as
    ``(mime type, base64)`` pairs (PNG or JPEG, checked), ``text`` its printed output."""

    cell: str
    images: list[tuple[str, str]] = field(default_factory=list)
    text: str = ""


@dataclass
class Answer:
    """A student's answer to one question: the markdown as written (``text``), the
    question's figures, and how the answer cell was found: ``"id"``, ``"position"`` or
    ``"missing"``."""

    text: str
    figures: list[Figure] = field(default_factory=list)
    found: str = "missing"


def _source(cell) -> str:
    source = cell.get("source", "") if isinstance(cell, dict) else ""
    if isinstance(source, list):
        source = "".join(s for s in source if isinstance(s, str))
    return utf8_safe(source) if isinstance(source, str) else ""


def _meta(cell) -> dict:
    metadata = cell.get("metadata") if isinstance(cell, dict) else None
    meta = metadata.get(METADATA_KEY) if isinstance(metadata, dict) else None
    return meta if isinstance(meta, dict) else {}


def _kind(cell) -> str:
    return cell.get("cell_type", "") if isinstance(cell, dict) else ""


def _squash(text: str) -> str:
    return " ".join(text.split())


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n… ({len(text) - limit} more characters cut)"


def checked_image(mime: str, value) -> tuple[str, str] | None:
    """``(mime, base64)`` of an output's image when it is what it claims, else None."""
    if isinstance(value, list):
        value = "".join(v for v in value if isinstance(v, str))
    if mime not in IMAGE_TYPES or not isinstance(value, str):
        return None
    compact = re.sub(r"\s+", "", value)
    if len(compact) > (MAX_IMAGE_BYTES * 4) // 3 + 4:
        return None
    try:
        raw = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return None
    if not raw.startswith(IMAGE_TYPES[mime]) or len(raw) > MAX_IMAGE_BYTES:
        return None
    return mime, base64.b64encode(raw).decode("ascii")


def _text(value) -> str:
    if isinstance(value, list):
        value = "".join(v for v in value if isinstance(v, str))
    return utf8_safe(_ANSI.sub("", value)) if isinstance(value, str) else ""


def _figure(name: str, outputs) -> Figure:
    """The images and the text of a figure cell's outputs (other kinds dropped)."""
    images: list[tuple[str, str]] = []
    texts: list[str] = []
    for output in outputs if isinstance(outputs, list) else []:
        if not isinstance(output, dict):
            continue
        kind = output.get("output_type")
        if kind in ("display_data", "execute_result"):
            data = output.get("data") if isinstance(output.get("data"), dict) else {}
            shown = [image for mime in IMAGE_TYPES
                     if (image := checked_image(mime, data.get(mime))) is not None]
            images += shown
            if not shown and "text/plain" in data:
                texts.append(_text(data["text/plain"]))
        elif kind == "stream":
            texts.append(_text(output.get("text")))
        elif kind == "error":
            texts.append(f"{_text(output.get('ename'))}: {_text(output.get('evalue'))}")
    text = "\n".join(t.rstrip("\n") for t in texts if t.strip())
    return Figure(name, images[:MAX_IMAGES], _cut(text, MAX_OUTPUT_CHARS))


def _attachments(cells) -> Figure | None:
    """The images pasted into answer cells (their attachments), as one figure."""
    images = []
    for cell in cells:
        attachments = cell.get("attachments")
        for bundle in attachments.values() if isinstance(attachments, dict) else []:
            if isinstance(bundle, dict) and len(images) < MAX_IMAGES:
                images += [image for mime in IMAGE_TYPES
                           if (image := checked_image(mime, bundle.get(mime))) is not None]
    return Figure("pasted image", images[:MAX_IMAGES]) if images else None


def _figure_name(cell) -> str | None:
    name = _meta(cell).get("figure")
    if isinstance(name, str):
        return name
    lines = [line for line in _source(cell).splitlines() if line.strip()]
    match = FIGURE_LINE.match(lines[0].strip()) if lines else None
    return match.group("name") if match and FIGURE_NAME.match(match.group("name")) else None


def _added(cell, reference) -> bool:
    """A markdown cell the student added (its id is not the template's; no metadata)."""
    return (_kind(cell) == "markdown" and cell.get("id") is not None
            and cell.get("id") not in reference.template_ids and not _meta(cell))


def _is_prompt(cell, question) -> bool:
    if _kind(cell) != "markdown":
        return False
    if _meta(cell).get("question") == question.id:
        return True
    prompt = _squash(question.prompt or "")
    return bool(prompt) and _squash(_source(cell)).startswith(prompt)


def _answer_cells(cells, reference, question) -> tuple[list, str]:
    tagged = [i for i, c in enumerate(cells)
              if _kind(c) == "markdown" and _meta(c).get("answer") == question.id]
    if tagged:
        chosen = list(tagged)
        j = tagged[-1] + 1
        while j < len(cells) and _added(cells[j], reference):
            chosen.append(j)
            j += 1
        return [cells[i] for i in chosen], "id"
    others = [q for q in reference.questions if q.id != question.id]
    for i, cell in enumerate(cells):
        if _is_prompt(cell, question) and i + 1 < len(cells):
            after = cells[i + 1]
            meta = _meta(after)
            if (_kind(after) == "markdown" and not meta.get("question") and not meta.get("answer")
                    and not any(_is_prompt(after, q) for q in others)):
                return [after], "position"
            break
    return [], "missing"


def _below_prompt(cells, question) -> str:
    """What a student wrote into the question's own cell after the question's text (with
    the answer cell deleted or left as it was), or ``""``."""
    prompt = (question.prompt or "").strip()
    for cell in cells:
        if _is_prompt(cell, question) and prompt:
            lines, wanted, seen = _source(cell).strip().splitlines(), _squash(prompt), ""
            for cut, line in enumerate(lines, start=1):  # linear: the cell may be huge
                words = _squash(line)
                seen = f"{seen} {words}" if seen and words else seen or words
                if seen == wanted:
                    rest = "\n".join(lines[cut:]).strip()
                    return "" if _squash(rest) == _squash(ANSWER_PLACEHOLDER) else rest
                if not wanted.startswith(seen):
                    break
            return ""
    return ""


def extract_answers(notebook, reference) -> dict[str, Answer]:
    """Each written question's answer in ``notebook`` (an nbformat notebook, or its JSON as
    a dict), by question id: see the module's description for how answer cells and
    figures are found and what is kept. ``reference`` is the chapter's
    :class:`~course_utils.grading.submissions.Reference`."""
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    cells = [c for c in cells if isinstance(c, dict)] if isinstance(cells, list) else []
    placeholder = _squash(ANSWER_PLACEHOLDER)
    wanted = {name for question in reference.questions for name in question.figures}
    figures: dict[str, Figure] = {}
    for cell in cells:
        if _kind(cell) == "code":
            name = _figure_name(cell)
            if name in wanted and name not in figures:
                figures[name] = _figure(name, cell.get("outputs"))
    answers = {}
    for question in reference.questions:
        chosen, found = _answer_cells(cells, reference, question)
        parts = [_source(c).strip() for c in chosen]
        text = "\n\n".join(p for p in parts if p and _squash(p) != placeholder)
        if not text:  # written into the question's own cell, below the question
            text, found = _below_prompt(cells, question), "position"
        if not text:
            found = "missing"
        shown = [figures[name] for name in question.figures if name in figures]
        pasted = _attachments(chosen)
        answers[question.id] = Answer(_cut(text, MAX_ANSWER_CHARS),
                                      shown + ([pasted] if pasted else []), found)
    return answers


def question_results(questions, answers: dict[str, Answer]) -> list[QuestionResult]:
    """One :class:`~course_utils.grading.report.QuestionResult` per question: to grade, or
    ``"missing answer"`` (0 points) where :func:`extract_answers` found none."""
    results = []
    for question in questions:
        answer = answers.get(question.id)
        missing = answer is None or answer.found == "missing"
        results.append(QuestionResult(question.id, question.title, question.points,
                                      0 if missing else None,
                                      MISSING_ANSWER if missing else TO_GRADE))
    return results
