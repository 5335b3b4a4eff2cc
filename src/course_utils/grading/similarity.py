"""Similar work in a class, for the class summary: task code that two students share, task
code taken from the package's reference implementation, and written answers that read
alike.

Each task's code is compared without what the template gave every student
(:func:`strip_template`): the lines of the template's task cell (its ``def`` line,
docstring, placeholder comment and ``raise NotImplementedError(...)``), the calls of
``check_*`` functions (:func:`course_utils.notebook_format.strip_check_calls`) and import
statements are left out, and so is every fingerprint of the template's text. What is left
is fingerprinted by winnowing (Schleimer, Wilkerson and Aiken 2003, "Winnowing: local
algorithms for document fingerprinting", SIGMOD): hashes of k consecutive tokens, of which
each window of w consecutive hashes keeps its smallest; code shorter than k tokens is not
compared. The tokens are Python's, with names, numbers and strings replaced by one symbol
each and comments left out, so that renamed variables, rewritten comments, changed spacing
and reordered lines change little. The engine is copydetect (the optional extra
``similarity``; pygments tokens) where it is installed, else a built-in one on the
standard library's :mod:`tokenize`; the report names the one that ran.

A pair's score is the larger of the two shares of tokens that the shared fingerprints
cover (0 to 1): a student whose code is all in a classmate's scores 1. Copying the
reference is the share of the student's tokens found in the reference's source. Written
answers are compared the same way on their lower-cased words (word 3-grams, every one
kept), without the words of the template's answer cell.

A score is a prompt to look at two submissions side by side, not a verdict: honest
solutions of a short task with one natural solution score high as well, which the
median score of each task puts in proportion.

A student's code (or answer) is compared, and shown, up to its first
:data:`MAX_COMPARED_CHARS` characters (the cut is said): a task cell of megabytes costs
neither minutes of fingerprinting nor a summary of megabytes. Every text is escaped where
the summary's section is written, a lone surrogate (not writable as UTF-8) as U+FFFD.
"""

from __future__ import annotations

from pathlib import Path

import hashlib
import html
import io
import keyword
import re
import statistics
import tokenize
from dataclasses import dataclass
from itertools import combinations

from ..notebook_format import ANSWER_PLACEHOLDER, strip_check_calls, utf8_safe

__all__ = ["similarity_report", "similarity_html", "strip_template", "task_templates",
           "reference_sources", "ENGINES", "REFERENCE_FLAG", "MAX_COMPARED_CHARS"]

#: The engines of :func:`similarity_report`: ``"auto"`` is copydetect where installed.
ENGINES = ("auto", "copydetect", "builtin")
#: A student's code (or answer) is flagged as taken from the reference when this share of
#: its tokens (words) is found in the reference.
REFERENCE_FLAG = 0.5
#: Built-in engine: k-grams of this many normalised tokens, winnowing window.
CODE_K, CODE_WINDOW = 8, 3
#: copydetect: k-grams of this many characters of its filtered code, winnowing window. The
#: window stays 1 (every k-gram kept): copydetect hashes with Python's ``hash``, salted
#: anew in each process, so a wider window would keep other k-grams, and give other
#: scores, in every run.
COPYDETECT_K, COPYDETECT_WINDOW = 12, 1
#: Written answers: shingles of this many words, every one kept.
TEXT_K, TEXT_WINDOW = 3, 1
#: Characters of a student's code (or answer) compared and shown; the rest is cut.
MAX_COMPARED_CHARS = 50_000

_WORD = re.compile(r"\w+")
_IMPORT = re.compile(r"^\s*(import\s|from\s+[\w.]+\s+import\s)")
_FALLBACK_TOKEN = re.compile(r"[A-Za-z_]\w*|\d[\w.]*|'[^'\n]*'|\"[^\"\n]*\"|\S")
_SKIPPED = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
            tokenize.DEDENT, tokenize.ENCODING, tokenize.ENDMARKER}


# --- what is compared ----------------------------------------------------------------

def _squeeze(line: str) -> str:
    return re.sub(r"\s+", "", line)


def strip_template(code: str, template: str = "") -> str:
    """``code`` as it is compared: without the calls of ``check_*`` functions, without
    import statements (everyone imports the same modules), and without every line that,
    ignoring white space, is a line of ``template`` (the template's task cell); runs of
    blank lines become one. Empty if nothing else is left."""
    try:
        code = strip_check_calls(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        pass
    given = {_squeeze(line) for line in template.splitlines()} - {""}
    kept, depth, continued = [], 0, False
    for line in code.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if depth > 0 or continued or _IMPORT.match(line):  # an import, maybe over lines
            depth = max(depth + line.count("(") - line.count(")"), 0)
            continued = line.rstrip().endswith("\\")
            continue
        if _squeeze(line) not in given:
            kept.append(line.rstrip())
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(kept))
    return text.strip("\n") + "\n" if text.strip() else ""


def task_templates(text: str, path="<solution>") -> dict[str, str]:
    """The exercise template's code cell of each task of a solution source (its
    py:percent ``text``), by task id: what every student started from."""
    from ..notebook_format import SETUP_CELLS, make_exercise, parse_percent, task_layout

    cells = [c for c in parse_percent(make_exercise(text, path))[1] if c.kind == "code"]
    return {task.id: "\n".join(cells[task.code_cell + SETUP_CELLS].lines)
            for task in task_layout(text, path)}


def _source_of(name: str) -> str | None:
    """The source text of the function or class ``name`` (``course_utils.module.f``, or a
    method ``course_utils.module.Class.f``), read from its module's file without importing
    it (the grader never imports PyTorch or TensorFlow for this); None where there is none."""
    import ast
    import importlib.util

    parts = name.split(".")
    for cut in range(1, len(parts)):  # the packages down to the first plain module
        try:
            spec = importlib.util.find_spec(".".join(parts[:cut]))
        except (ImportError, ValueError):
            return None
        if spec is None or not spec.origin or not spec.origin.endswith(".py"):
            return None
        if spec.submodule_search_locations is not None:  # a package: look further down
            continue
        text = Path(spec.origin).read_text(encoding="utf-8")
        node = ast.parse(text)
        for part in parts[cut:]:
            node = next((child for child in getattr(node, "body", [])
                         if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                               ast.ClassDef)) and child.name == part), None)
            if node is None:
                return None
        return ast.get_source_segment(text, node)
    return None


def reference_sources(tasks) -> dict[str, str]:
    """The source text of each task's ``[reference: ...]`` functions and classes, joined,
    by task id, read from the package's files (nothing is imported). A name without a
    source is left out; a task with none is absent."""
    found: dict[str, str] = {}
    for task in tasks:
        texts = [text for text in map(_source_of, getattr(task, "references", ())) if text]
        if texts:
            found[task.id] = "\n\n".join(texts)
    return found


# --- fingerprints ----------------------------------------------------------------------

@dataclass
class _Doc:
    """A text's fingerprints: hash -> the k-grams (by first token) that gave it, the
    character span of every token, and how many tokens the fingerprints cover."""

    text: str
    spans: list[tuple[int, int]]
    hashes: dict[int, list[int]]
    k: int
    covered: int = 0

    def __post_init__(self):
        self.covered = len(_covered(self, self.hashes))


def _covered(doc: _Doc, hashes) -> set[int]:
    return {i + j for h in hashes for i in doc.hashes.get(h, ()) for j in range(doc.k)}


def _hash(gram) -> int:
    return int.from_bytes(hashlib.blake2b("\x1f".join(gram).encode(), digest_size=8)
                          .digest(), "big")


def _winnow(hashes: list[int], window: int) -> list[int]:
    """The positions that robust winnowing keeps: the smallest hash of each window of
    ``window`` consecutive hashes (the rightmost of equal ones), each position once."""
    if window <= 1 or len(hashes) <= 1:
        return list(range(len(hashes)))
    kept: list[int] = []
    for start in range(max(len(hashes) - window + 1, 1)):
        part = hashes[start:start + window]
        low = min(part)
        pick = start + max(j for j, h in enumerate(part) if h == low)
        if not kept or kept[-1] != pick:
            kept.append(pick)
    return kept


def _fingerprint(text: str, symbols: list[str], spans: list[tuple[int, int]], k: int,
                 window: int, boilerplate: set[int] = frozenset()) -> _Doc:
    grams = [_hash(symbols[i:i + k]) for i in range(len(symbols) - k + 1)]
    hashes: dict[int, list[int]] = {}
    for i in _winnow(grams, window):
        if grams[i] not in boilerplate:
            hashes.setdefault(grams[i], []).append(i)
    return _Doc(text, spans, hashes, k)


def _python_tokens(code: str) -> tuple[list[str], list[tuple[int, int]]]:
    """Normalised tokens of Python code and their character spans: a name is ``V``,
    except a keyword and a name after a dot (an attribute or a module's member, such as
    ``matrix_norm`` in ``torch.linalg.matrix_norm``, which renaming leaves alone), a
    number ``N``, a string ``S``; comments and layout are left out. Code that the
    tokenizer refuses is split by a simple pattern instead."""
    starts = [0]
    for line in io.StringIO(code).readlines():  # the lines as the tokenizer reads them
        starts.append(starts[-1] + len(line))

    def offset(position):
        row, col = position
        return starts[min(row - 1, len(starts) - 1)] + col

    symbols, spans = [], []
    try:
        fstring = 0
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            kind = tok.type
            if kind in _SKIPPED:
                continue
            name = tokenize.tok_name.get(kind, "")
            if name == "FSTRING_START":
                fstring += 1
                if fstring > 1:
                    continue
                symbol = "S"
            elif name in ("FSTRING_MIDDLE", "FSTRING_END") or fstring:
                fstring -= name == "FSTRING_END"
                continue
            elif kind == tokenize.NAME:
                symbol = tok.string if (keyword.iskeyword(tok.string) or symbols[-1:] == ["."]) \
                    else "V"
            elif kind == tokenize.NUMBER:
                symbol = "N"
            elif kind == tokenize.STRING:
                symbol = "S"
            elif kind == tokenize.ERRORTOKEN and not tok.string.strip():
                continue
            else:
                symbol = tok.string
            symbols.append(symbol)
            spans.append((offset(tok.start), offset(tok.end)))
        return symbols, spans
    except (tokenize.TokenError, SyntaxError, ValueError):
        pass
    symbols, spans = [], []
    text = re.sub(r"#[^\n]*", lambda m: " " * len(m.group()), code)
    for match in _FALLBACK_TOKEN.finditer(text):
        word = match.group()
        symbol = (word if keyword.iskeyword(word) or symbols[-1:] == ["."] else "V") if (
            word[0].isalpha() or word[0] == "_") else (
            "N" if word[0].isdigit() else "S" if word[0] in "'\"" else word)
        symbols.append(symbol)
        spans.append(match.span())
    return symbols, spans


def _word_tokens(text: str) -> tuple[list[str], list[tuple[int, int]]]:
    matches = list(_WORD.finditer(text))
    return [m.group().lower() for m in matches], [m.span() for m in matches]


class _Builtin:
    """Winnowing of normalised Python tokens (:func:`_python_tokens`)."""

    name = "builtin"

    def __init__(self, k: int = CODE_K, window: int = CODE_WINDOW):
        self.k, self.window = k, window
        self.label = (f"built-in winnowing (Python tokens, names and literals normalised; "
                      f"k = {k} tokens, window {window})")

    def boilerplate(self, template: str) -> set[int]:
        return set(self.fingerprint(template).hashes) if template.strip() else set()

    def fingerprint(self, code: str, boilerplate: set[int] = frozenset()) -> _Doc:
        return _fingerprint(code, *_python_tokens(code), self.k, self.window, boilerplate)

    def compare(self, a: _Doc, b: _Doc):
        shared = a.hashes.keys() & b.hashes.keys()
        if not shared:
            return 0.0, 0.0, [], []
        on_a, on_b = _covered(a, shared), _covered(b, shared)
        return (len(on_a) / a.covered, len(on_b) / b.covered,
                _merge(a.spans, on_a), _merge(b.spans, on_b))


class _Text(_Builtin):
    """Winnowing of lower-cased words, for written answers."""

    name = "words"

    def __init__(self, k: int = TEXT_K, window: int = TEXT_WINDOW):
        self.k, self.window = k, window
        self.label = f"word {k}-grams" + (f", window {window}" if window > 1 else "")

    def fingerprint(self, text: str, boilerplate: set[int] = frozenset()) -> _Doc:
        return _fingerprint(text, *_word_tokens(text), self.k, self.window, boilerplate)


class _Copydetect:
    """copydetect's fingerprints (pygments tokens, filtered) and comparison."""

    name = "copydetect"

    def __init__(self, k: int = COPYDETECT_K, window: int = COPYDETECT_WINDOW):
        from importlib.metadata import version

        import copydetect

        self.module = copydetect
        self.k, self.window = k, window
        self.label = (f"copydetect {version('copydetect')} (winnowing over pygments tokens; "
                      f"k = {k} characters of filtered code, window {window})")

    def boilerplate(self, template: str) -> set[int]:
        if not template.strip():
            return set()
        return set(self.fingerprint(template).hashes)

    def fingerprint(self, code: str, boilerplate: set[int] = frozenset()):
        return self.module.CodeFingerprint("task.py", self.k, self.window,
                                           boilerplate=sorted(boilerplate),
                                           fp=io.StringIO(code), language="python")

    def compare(self, a, b):
        if not a.hashes or not b.hashes or not (a.hashes & b.hashes):
            return 0.0, 0.0, [], []
        _, (sa, sb), (slices_a, slices_b) = self.module.compare_files(a, b)
        return (min(float(sa), 1.0), min(float(sb), 1.0),
                _slices(slices_a, len(a.raw_code)), _slices(slices_b, len(b.raw_code)))


def _merge(spans: list[tuple[int, int]], tokens: set[int]) -> list[list[int]]:
    """The character ranges of ``tokens`` (indices into ``spans``), adjacent ones merged."""
    out: list[list[int]] = []
    for i in sorted(tokens):
        start, end = spans[i]
        if out and (i - 1 in tokens or start <= out[-1][1]):
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return out


def _slices(slices, length: int) -> list[list[int]]:
    if len(slices) == 0 or len(slices[0]) == 0:
        return []
    pairs = sorted((max(0, min(int(s), length)), max(0, min(int(e), length)))
                   for s, e in zip(slices[0], slices[1]))
    out: list[list[int]] = []
    for start, end in pairs:
        if end <= start:
            continue
        if out and start <= out[-1][1]:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return out


def _neutral_self(source: str) -> str:
    """``source`` with ``self`` and ``cls`` spelt as other names of the same length, so that
    a method copied into a function (``self`` renamed) still matches; pygments keeps them
    as they are, unlike other names."""
    return re.sub(r"\b(?:self|cls)\b", lambda m: {"self": "s_lf", "cls": "c_s"}[m.group()],
                  source)


def _engine(engine: str):
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}; got {engine!r}")
    if engine in ("auto", "copydetect"):
        try:
            return _Copydetect()
        except ImportError:
            if engine == "copydetect":
                raise ImportError("engine='copydetect' needs copydetect: pip install "
                                  "'course-utils[similarity]'") from None
    return _Builtin()


# --- the report ------------------------------------------------------------------------

def _checked(argument: str, value, *, allow_none: bool) -> dict[str, dict[str, str | None]]:
    if not isinstance(value, dict):
        raise TypeError(f"{argument} must be a dict (item -> student -> text); got "
                        f"{type(value).__name__}")
    for item, by_student in value.items():
        if not isinstance(item, str):
            raise TypeError(f"{argument} has a key that is not text: {item!r}")
        if not isinstance(by_student, dict):
            raise TypeError(f"{argument}[{item!r}] must be a dict (student -> text); got "
                            f"{type(by_student).__name__}")
        for student, text in by_student.items():
            if not isinstance(student, str) or not (isinstance(text, str) or (
                    allow_none and text is None)):
                raise TypeError(f"{argument}[{item!r}][{student!r}] must be text (str"
                                f"{' or None' if allow_none else ''}); got "
                                f"{type(text).__name__}")
    return value


def _flat(argument: str, value) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                              for k, v in value.items()):
        raise TypeError(f"{argument} must be a dict of text (item -> str); got "
                        f"{type(value).__name__}")
    return value


def _by_name(student: str) -> tuple[str, str]:
    return student.lower(), student


def _score(sa: float, sb: float) -> float:
    return round(max(sa, sb), 3)


def _capped(text: str) -> tuple[str, int]:
    """``text`` cut at :data:`MAX_COMPARED_CHARS` (at a line break where there is one
    near), and how many characters were cut."""
    if len(text) <= MAX_COMPARED_CHARS:
        return text, 0
    kept = text[:MAX_COMPARED_CHARS]
    kept = kept[:kept.rfind("\n") + 1] if "\n" in kept[-2000:] else kept
    return kept, len(text) - len(kept)


def _item(kind: str, item: str, title: str, texts: dict[str, str], reference: str,
          engine, boilerplate: set[int], top: int, cut: dict[str, int]) -> dict:
    docs = {s: engine.fingerprint(t, boilerplate) for s, t in texts.items() if t.strip()}
    docs = {s: d for s, d in docs.items() if d.hashes}
    pairs, scores = [], []
    for a, b in combinations(sorted(docs, key=_by_name), 2):
        sa, sb, marks_a, marks_b = engine.compare(docs[a], docs[b])
        score = _score(sa, sb)
        scores.append(score)
        if score > 0:
            pairs.append({"students": [a, b], "score": score,
                          "shares": [round(sa, 3), round(sb, 3)],
                          "marks": [marks_a, marks_b]})
    pairs.sort(key=lambda p: (-p["score"], *map(_by_name, p["students"])))
    pairs = pairs[:top]
    flagged = []
    if reference.strip() and docs:
        ref = engine.fingerprint(_neutral_self(reference))
        for student in sorted(docs, key=_by_name):
            share, _, marks, ref_marks = engine.compare(docs[student], ref)
            if share >= REFERENCE_FLAG:
                flagged.append({"student": student, "score": round(share, 3),
                                "marks": [marks, ref_marks]})
        flagged.sort(key=lambda f: (-f["score"], _by_name(f["student"])))
    shown = {s for p in pairs for s in p["students"]} | {f["student"] for f in flagged}
    return {"kind": kind, "id": item, "title": title, "students": len(docs),
            "compared": len(scores),
            "median": round(statistics.median(scores), 3) if scores else 0.0,
            "pairs": pairs, "reference": flagged,
            "texts": {s: texts[s] + (f"\n… ({cut[s]} more characters, not compared)"
                                     if cut.get(s) else "")
                      for s in sorted(shown, key=_by_name)},
            "reference_text": reference if flagged else ""}


def similarity_report(codes, answers, *, template, references, top: int = 5,
                      engine: str = "auto", titles=None) -> dict:
    """The similar work of a class, as a JSON-able dict for the summary
    (:func:`similarity_html`) and ``results.json``.

    ``codes[task_id][student]`` is a student's code for a task (:func:`submissions.task_code
    <course_utils.grading.submissions.task_code>`; None or empty where there is none),
    ``answers[question_id][student]`` a written answer (markdown text).
    ``template[item]`` is what every student was given for a task or question: the
    template's task cell (:func:`task_templates`) or answer cell; it is taken out before
    comparing (:func:`strip_template`). ``references[item]`` is the reference's text: the
    source of a task's ``[reference: ...]`` implementations (:func:`reference_sources`) or
    a question's reference answer; a student whose share of code (words) found in it is
    at least :data:`REFERENCE_FLAG` is flagged, with that share. ``top`` (default 5): the
    most similar pairs kept per item, each with both texts and the ranges the engine
    matched. ``engine`` (default ``"auto"``, copydetect where installed, else
    ``"builtin"``; see :data:`ENGINES`) compares the code; answers are always compared by
    their words. ``titles[item]`` (optional) names an item in the summary.

    Returns ``{"engine", "engine_id", "answers_engine", "reference_flag", "top", "items":
    [...]}`` (``engine``: the engine that ran and its settings, in words); an
    item holds ``kind`` ("task" or "question"), ``id``, ``title``, ``students`` (with
    something of their own to compare), ``compared`` (pairs), ``median`` (pair score),
    ``pairs`` (``students``, ``score``, ``shares``, ``marks``), ``reference`` (flagged
    students: ``student``, ``score``, ``marks``), ``texts`` (what was compared, of the
    students shown) and ``reference_text``.
    """
    codes = _checked("codes", codes, allow_none=True)
    answers = _checked("answers", answers or {}, allow_none=True)
    template, references = _flat("template", template), _flat("references", references)
    titles = _flat("titles", titles)
    if not isinstance(top, int) or isinstance(top, bool) or top < 0:
        raise ValueError(f"top must be a whole number >= 0; got {top!r}")
    code_engine, text_engine = _engine(engine), _Text()
    items = []
    for task, by_student in codes.items():
        given = template.get(task, "")
        capped = {s: _capped(c) for s, c in by_student.items() if c}
        texts = {s: strip_template(c, given) for s, (c, _) in capped.items()}
        items.append(_item("task", task, titles.get(task, task), texts,
                           references.get(task, ""), code_engine,
                           code_engine.boilerplate(given), top,
                           {s: n for s, (_, n) in capped.items()}))
    for question, by_student in answers.items():
        boilerplate = (text_engine.boilerplate(template.get(question, ""))
                       | text_engine.boilerplate(ANSWER_PLACEHOLDER))
        capped = {s: _capped(a) for s, a in by_student.items() if a}
        items.append(_item("question", question, titles.get(question, question),
                           {s: text for s, (text, _) in capped.items()},
                           references.get(question, ""), text_engine, boilerplate, top,
                           {s: n for s, (_, n) in capped.items()}))
    return {"engine": code_engine.label, "engine_id": code_engine.name,
            "answers_engine": text_engine.label, "reference_flag": REFERENCE_FLAG,
            "top": top, "items": items}


# --- the summary's section -------------------------------------------------------------

def _escape(text) -> str:
    """``text`` as HTML text that can be written as UTF-8."""
    return utf8_safe(html.escape(str(text)))


def _marked(text: str, marks) -> str:
    """``text`` escaped, with the ranges ``marks`` in ``<mark>``."""
    out, at = [], 0
    for start, end in sorted((int(s), int(e)) for s, e in marks or ()):
        start, end = max(start, at), min(end, len(text))
        if end <= start:
            continue
        out += [_escape(text[at:start]), "<mark>", _escape(text[start:end]), "</mark>"]
        at = end
    out.append(_escape(text[at:]))
    return "".join(out)


def _side_by_side(left: tuple[str, str, list], right: tuple[str, str, list]) -> str:
    columns = "".join(
        f"<div style=\"min-width:0\"><p><strong>{_escape(name)}</strong></p>"
        f"<pre style=\"white-space:pre-wrap;background:#f6f6f6;padding:.5em\">"
        f"{_marked(text, marks)}</pre></div>" for name, text, marks in (left, right))
    return ("<div class=\"side-by-side\" style=\"display:grid;grid-template-columns:1fr 1fr;"
            f"gap:1em\">{columns}</div>")


def similarity_html(report: dict) -> str:
    """The report of :func:`similarity_report` as a ``<section>`` of the class summary:
    per task and question the most similar pairs, with their score and the two texts side
    by side (matched ranges marked), and the students flagged for the reference's code or
    answer. Every text (names, code, answers, ids) is escaped."""
    e = _escape
    if not isinstance(report, dict):
        raise TypeError(f"report must be the dict of similarity_report; got "
                        f"{type(report).__name__}")
    parts = ["<section class=\"similarity\"><h2>Similar work</h2>",
             f"<p>Code compared by {e(str(report.get('engine', '')))}, written answers by "
             f"{e(str(report.get('answers_engine', '')))}, without what the template gave "
             "everyone. A score (0 to 1) is the share of a student's code or answer also "
             "found in the other's: a prompt to look, not a verdict. Honest solutions of a "
             "short task score high too; compare with the task's median.</p>"]
    for item in report.get("items", []):
        texts = item.get("texts", {})
        parts.append(f"<h3>{e(str(item.get('title') or item.get('id')))}</h3>"
                     f"<p>{int(item.get('students', 0))} students compared, "
                     f"median pair score {float(item.get('median', 0)):.2f}.</p>")
        pairs = item.get("pairs", [])
        if pairs:
            parts.append("<table><tr><th>score</th><th>students</th></tr>" + "".join(
                f"<tr><td>{float(p['score']):.2f}</td><td>{e(p['students'][0])} and "
                f"{e(p['students'][1])}</td></tr>" for p in pairs) + "</table>")
            for p in pairs:
                (a, b), (marks_a, marks_b) = p["students"], p.get("marks", [[], []])
                parts.append(f"<details><summary>{e(a)} and {e(b)}: {float(p['score']):.2f}"
                             "</summary>" + _side_by_side((a, texts.get(a, ""), marks_a),
                                                          (b, texts.get(b, ""), marks_b))
                             + "</details>")
        else:
            parts.append("<p>No two students share anything beyond the template.</p>")
        flagged = item.get("reference", [])
        if flagged:
            what = "reference implementation" if item.get("kind") == "task" else \
                "reference answer"
            parts.append(f"<p>Taken from the {what} (share of the student's text found in "
                         "it):</p><ul>" + "".join(
                             f"<li>{e(f['student'])}: {float(f['score']):.2f}</li>"
                             for f in flagged) + "</ul>")
            for f in flagged:
                marks, ref_marks = f.get("marks", [[], []])
                parts.append(f"<details><summary>{e(f['student'])} and the {what}: "
                             f"{float(f['score']):.2f}</summary>" + _side_by_side(
                                 (f["student"], texts.get(f["student"], ""), marks),
                                 (what, item.get("reference_text", ""), ref_marks))
                             + "</details>")
    parts.append("</section>")
    return "\n".join(parts)
