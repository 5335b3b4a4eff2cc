"""The tutors' manual grading of the written answers: one page in the browser, one CSV
back, merged into the grade file without running anything.

* :func:`write_manual_page` writes ``manual.html``: one self-contained file (no network,
  no server; it works opened from disk) with the class's answers and figures
  (:func:`~course_utils.grading.answers.extract_answers`) as data. It shows one question
  at a time, its reference answer and rubric on top, then the submissions one by one in a
  shuffled order, named "Submission 7" until the export; the tutor ticks rubric items
  (their points add up; a typed number replaces the sum), writes a comment or reuses one
  from the question's comment bank with one click (the bank grows with the comments
  typed), with the keyboard documented on the page. The grades live in the browser's
  storage, under the page's id (the chapter and a digest of its data), so a reload keeps
  them; "Export manual.csv" downloads them (and shows them for copying).
* :func:`read_manual_csv` reads that file back, checking every row (:class:`ManualError`
  names the row and the column of each problem); :func:`apply_manual` puts its points into
  the students' :class:`~course_utils.grading.report.QuestionResult` s, and its rows for a
  task (``item`` a task id) become :class:`~course_utils.grading.report.Override` s, with
  the comment as the reason shown in the feedback.
* :func:`merge_manual` does both for a grading's output folder and writes its reports
  again (:func:`~course_utils.grading.report.write_reports`) from ``results.json``.

``manual.csv`` has the columns ``student, item, points, rubric, comment``: the student's
name, the question id (``q1``) or task id (``task2``), the points, the ticked rubric items
(one a line) and the tutor's comment. The page writes text cells as ``grades.csv`` does
(:func:`~course_utils.grading.report.csv_cell`), and they are read back as written.

Everything a student wrote reaches the page as JSON inside a ``<script
type="application/json">`` block, with ``<``, ``>``, ``&``, the line separators U+2028
and U+2029 and any lone surrogate escaped, and is put into the page as text
(``textContent``), never as markup; images only as PNG or JPEG data checked when they were
read. A student's name is looked up in the page's records as an own property only (a
student called ``constructor`` is a student like any other). The page's content security
policy allows no network access and no script but its own.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import html
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from .answers import Answer
from .report import (TO_GRADE, Override, QuestionResult, StudentResult, csv_value,
                     read_results, write_reports)
from .status import GRADED

__all__ = ["write_manual_page", "ManualRow", "ManualError", "read_manual_csv", "apply_manual",
           "merge_manual", "MANUAL_COLUMNS", "KEYS"]

#: The columns of ``manual.csv``, in the order the page writes them.
MANUAL_COLUMNS = ("student", "item", "points", "rubric", "comment")
#: The page's keyboard commands, as documented on it.
KEYS = (("j / k", "next / previous submission"),
        ("n / p", "next / previous question"),
        ("u", "next answer not graded yet (any question)"),
        ("1 \u2013 9", "tick or untick rubric item 1 \u2013 9"),
        ("g", "mark the answer graded (0 points if nothing is ticked) or not graded"),
        ("c", "write a comment"),
        ("Escape", "leave the comment (or the points field)"),
        ("?", "show or hide these keys"))


# --- the page ---------------------------------------------------------------------------------

_SURROGATE = re.compile("[\ud800-\udfff]")


def _json_for_script(data) -> str:
    """``data`` as JSON that cannot end or change the ``<script>`` element it sits in."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    for raw, escaped in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"),
                         ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(raw, escaped)
    # A lone surrogate (only ever inside a JSON string) cannot be written as UTF-8.
    return _SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def _order(students, seed: int) -> list[str]:
    """The students in a shuffled order that depends only on ``seed`` and their names."""
    return sorted(students, key=lambda name: hashlib.sha256(
        f"{seed}\0{name}".encode()).hexdigest())


def _question_data(question) -> dict:
    return {"id": question.id, "title": question.title, "points": question.points,
            "prompt": question.prompt or "", "answer": question.answer or "",
            "rubric": [[str(text), points] for text, points in question.rubric],
            "figures": list(question.figures)}


def _answer_data(answer: Answer | None) -> dict:
    if answer is None:
        return {"text": "", "figures": [], "found": "missing"}
    return {"text": answer.text, "found": answer.found,
            "figures": [{"cell": f.cell, "images": [list(i) for i in f.images],
                         "text": f.text} for f in answer.figures]}


def write_manual_page(out: str | Path, chapter: str, questions, answers: dict, *,
                      seed: int = 0) -> Path:
    """Write ``out/manual.html``, the tutors' page for grading the written ``questions``
    (:class:`~course_utils.notebook_format.Question`) of ``chapter`` by hand, and return its
    path. ``answers`` maps each student to their answers by question id
    (:func:`~course_utils.grading.answers.extract_answers`; a question without an entry is
    shown as not answered). Keyword argument: ``seed`` of the submissions' shuffled order
    (default 0; the same seed and class give the same page, and keep what was graded on
    it).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    questions = list(questions)
    ids = [q.id for q in questions]
    if len(set(ids)) != len(ids):
        raise ValueError(f"questions: the ids must be unique, got {ids}")
    for student, given in answers.items():
        if not isinstance(given, dict):
            raise ValueError(f"answers[{student!r}]: expected a dict of answers by question id, "
                             f"got {type(given).__name__}")
    students = [{"name": name, "label": f"Submission {k}",
                 "answers": {q.id: _answer_data(answers[name].get(q.id)) for q in questions}}
                for k, name in enumerate(_order(answers, seed), start=1)]
    data = {"chapter": chapter, "questions": [_question_data(q) for q in questions],
            "students": students}
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]
    data["page"] = f"{chapter}:{digest}"
    script = _SCRIPT
    script_hash = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    policy = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
              f"script-src 'sha256-{script_hash}'; base-uri 'none'; form-action 'none'")
    keys = "".join(f"<dt><kbd>{html.escape(key)}</kbd></dt><dd>{html.escape(what)}</dd>"
                   for key, what in KEYS)
    parts = {"policy": html.escape(policy), "title": html.escape(f"Manual grading: {chapter}"),
             "style": _STYLE, "keys": keys, "data": _json_for_script(data), "script": script}
    page = _SLOT.sub(lambda match: parts[match.group(1)], _HTML)  # one pass: data stays data
    path = out / "manual.html"
    path.write_text(page, encoding="utf-8")
    return path


_SLOT = re.compile(r"\{(policy|title|style|keys|data|script)\}")
_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{policy}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{style}</style>
</head>
<body>
<header>
<h1 id="title">{title}</h1>
<p><span id="overall"></span> <span id="saved" role="status"></span></p>
<nav id="questions" aria-label="questions"></nav>
<details id="help"><summary>Keyboard</summary><dl class="keys">{keys}</dl>
<p>Points: the ticked rubric items add up; a number typed in the points field replaces the
sum until an item is ticked again. Ticking an item, typing points or a comment marks the
answer graded. An answer not found in a notebook counts 0 points unless you grade it.
The grades are kept in this browser, for this page; export them to hand them in.</p>
</details>
</header>
<main>
<section id="question-view" aria-labelledby="q-title">
<h2 id="q-title"></h2>
<p id="q-progress" class="progress"></p>
<div class="text" id="q-prompt"></div>
<details id="reference" open><summary>Reference answer and rubric</summary>
<div class="text reference" id="q-answer"></div>
<ol id="q-rubric"></ol>
</details>
</section>
<section id="answer-view" aria-labelledby="a-title">
<div class="bar"><button type="button" id="prev">&larr; previous (k)</button>
<h2 id="a-title"></h2><span id="a-position"></span>
<button type="button" id="next">next (j) &rarr;</button></div>
<p id="a-found"></p>
<div class="text student" id="a-text"></div>
<div id="a-figures"></div>
<div id="grading">
<ol id="items"></ol>
<p><label>Points <input type="number" id="points" min="0" step="any"></label>
<span id="points-max"></span>
<label><input type="checkbox" id="graded"> graded (g)</label></p>
<p><label for="comment">Comment (c; Escape to leave it)</label><br>
<textarea id="comment" rows="3"></textarea></p>
<div id="bank-view"><h3>Comment bank <small>(click to add)</small></h3><ul id="bank"></ul></div>
</div>
<nav id="strip" aria-label="submissions"></nav>
</section>
</main>
<section id="export-view">
<h2>Export</h2>
<p><button type="button" id="export">Export manual.csv</button>
<a id="download" download="manual.csv" hidden>download manual.csv again</a>
<label id="reveal-label" hidden><input type="checkbox" id="reveal"> show the students'
names</label></p>
<p id="export-note"></p>
<textarea id="csv" rows="8" readonly aria-label="manual.csv"></textarea>
</section>
<script type="application/json" id="manual-data">{data}</script>
<script>{script}</script>
</body></html>
"""

_STYLE = """
body{font-family:sans-serif;max-width:70em;margin:1em auto;padding:0 1em;line-height:1.4}
header{border-bottom:1px solid #ccc}
nav#questions button,nav#strip button{margin:.15em}
button[aria-current="true"]{outline:3px solid #4c72b0}
nav#strip button.done{background:#d9f0d9}
nav#strip button.missing{background:#eee}
.text{white-space:pre-wrap;overflow-wrap:anywhere;border-left:4px solid #ccc;
 padding:.3em .8em;margin:.5em 0}
.text.student{border-color:#4c72b0;background:#f5f8fc;min-height:2em}
.text.reference{border-color:#4a4}
.bar{display:flex;gap:1em;align-items:center}
.bar h2{margin:.3em 0}
figure{margin:.5em 0;border:1px solid #ddd;padding:.4em}
figure img{max-width:100%}
figure pre{white-space:pre-wrap;max-height:20em;overflow:auto}
#items li{margin:.2em 0}
#comment{width:100%}
#bank{padding-left:0}
#bank li{display:inline-block;margin:.15em}
#bank button.bank-entry{white-space:pre-wrap;text-align:left}
#csv{width:100%;font-family:monospace}
.progress,#overall{font-weight:bold}
#saved{color:#a00}
dl.keys{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}
dl.keys dd{margin:0}
"""

_SCRIPT = r"""
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("manual-data").textContent);
  var KEY = "course-utils-manual:" + DATA.page;
  var Q = DATA.questions, S = DATA.students;
  var IMAGE = /^image\/(png|jpeg)$/, BASE64 = /^[A-Za-z0-9+\/]*={0,2}$/;
  var $ = function (id) { return document.getElementById(id); };
  var url = null;

  function el(tag, props, children) {
    var node = document.createElement(tag);
    Object.keys(props || {}).forEach(function (name) {
      var value = props[name];
      if (name === "text") { node.textContent = value; }
      else if (name.slice(0, 2) === "on") { node.addEventListener(name.slice(2), value); }
      else { node.setAttribute(name, value); }
    });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }
  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }
  function fmt(value) { return String(Math.round(value * 1000) / 1000); }
  function unit(value) { return value === 1 ? "point" : "points"; }
  function index(value, n) {
    value = Number(value);
    return (isFinite(value) && value >= 0 && value < n) ? Math.floor(value) : 0;
  }

  // --- state, kept in the browser under the page's id -------------------------------------
  function load() {
    var saved = null;
    try { saved = JSON.parse(window.localStorage.getItem(KEY) || "null"); }
    catch (error) { saved = null; }
    var state = {grades: {}, bank: {}, q: 0, s: 0, revealed: false};
    if (saved && typeof saved === "object") {
      if (saved.grades && typeof saved.grades === "object") { state.grades = saved.grades; }
      if (saved.bank && typeof saved.bank === "object") { state.bank = saved.bank; }
      state.q = index(saved.q, Q.length);
      state.s = index(saved.s, S.length);
      state.revealed = saved.revealed === true;
    }
    return state;
  }
  var state = load();
  function save() {
    try {
      window.localStorage.setItem(KEY, JSON.stringify(state));
      $("saved").textContent = "";
    } catch (error) {
      $("saved").textContent = "Not saved in this browser (" + error.name +
        "): export before you close the page.";
    }
  }
  function own(record, key) { return Object.prototype.hasOwnProperty.call(record, key); }
  function entry(q, s, create) {
    var qid = Q[q].id, name = S[s].name;
    var byStudent = own(state.grades, qid) ? state.grades[qid] :
      (create ? (state.grades[qid] = {}) : null);
    if (!byStudent) { return null; }
    var found = own(byStudent, name) ? byStudent[name] : null;
    if (!found && create) {
      found = byStudent[name] = {items: Q[q].rubric.map(function () { return false; }),
                                 points: null, comment: "", graded: false};
    }
    return found || null;
  }
  function answer(q, s) {
    return own(S[s].answers, Q[q].id) ? S[s].answers[Q[q].id] :
      {text: "", figures: [], found: "missing"};
  }
  function points(q, e) {
    if (!e) { return 0; }
    if (e.points !== null && e.points !== undefined && isFinite(e.points)) { return e.points; }
    var sum = 0;
    Q[q].rubric.forEach(function (item, k) { if (e.items && e.items[k]) { sum += item[1]; } });
    return sum;
  }
  function done(q, s) {
    var e = entry(q, s, false);
    return e ? e.graded === true : answer(q, s).found === "missing";
  }
  function graded(q) {
    var n = 0;
    for (var s = 0; s < S.length; s++) { if (done(q, s)) { n++; } }
    return n;
  }
  function label(s) {
    return S[s].label + (state.revealed ? " (" + S[s].name + ")" : "");
  }
  function bank(q) {
    var list = own(state.bank, Q[q].id) ? state.bank[Q[q].id] : null;
    return Array.isArray(list) ? list : (state.bank[Q[q].id] = []);
  }
  function remember(q, text) {
    var list = bank(q), added = false;
    String(text).split("\n").forEach(function (line) {
      line = line.trim();
      if (line && list.indexOf(line) < 0) { list.push(line); added = true; }
    });
    return added;
  }

  // --- the page ----------------------------------------------------------------------------
  function renderNav() {
    var nav = $("questions");
    clear(nav);
    Q.forEach(function (question, q) {
      nav.appendChild(el("button", {type: "button", id: "question-" + question.id,
        "aria-current": String(q === state.q),
        text: question.id + " (" + graded(q) + "/" + S.length + ")",
        title: question.title, onclick: function () { go(q, state.s); }}));
    });
    var total = 0;
    Q.forEach(function (question, q) { total += graded(q); });
    $("overall").textContent = total + " of " + (Q.length * S.length) +
      " answers graded, all questions";
  }
  function renderQuestion() {
    var question = Q[state.q];
    $("q-title").textContent = question.title + " (" + fmt(question.points) + " " +
      unit(question.points) + ")";
    $("q-prompt").textContent = question.prompt;
    $("q-answer").textContent = question.answer;
    var rubric = $("q-rubric");
    clear(rubric);
    question.rubric.forEach(function (item) {
      rubric.appendChild(el("li", {text: item[0] + " (" + fmt(item[1]) + " " + unit(item[1]) +
                                         ")"}));
    });
  }
  function figure(shown) {
    var node = el("figure", {}, [el("figcaption", {text: "Figure: " + shown.cell})]);
    (shown.images || []).forEach(function (image) {
      if (IMAGE.test(image[0]) && BASE64.test(image[1])) {
        var img = el("img", {alt: "figure " + shown.cell});
        img.src = "data:" + image[0] + ";base64," + image[1];
        node.appendChild(img);
      }
    });
    if (shown.text) { node.appendChild(el("pre", {text: shown.text})); }
    if (!(shown.images || []).length && !shown.text) {
      node.appendChild(el("p", {text: "The cell has no output in the notebook."}));
    }
    return node;
  }
  function renderAnswer() {
    var q = state.q, s = state.s, question = Q[q], given = answer(q, s);
    var e = entry(q, s, false);
    $("a-title").textContent = label(s);
    $("a-position").textContent = (s + 1) + " of " + S.length;
    $("a-found").textContent = {
      id: "",
      position: "Found by its position (the answer cell's metadata is missing): check " +
                "that this is the answer.",
      missing: "No answer found in this notebook: 0 points unless you grade it."
    }[given.found] || "";
    $("a-text").textContent = given.text;
    var figures = $("a-figures");
    clear(figures);
    var names = (given.figures || []).map(function (f) { return f.cell; });
    question.figures.forEach(function (name) {
      if (names.indexOf(name) < 0) {
        figures.appendChild(el("figure", {}, [el("figcaption", {text: "Figure: " + name}),
          el("p", {text: "No such figure cell in the notebook."})]));
      }
    });
    (given.figures || []).forEach(function (shown) { figures.appendChild(figure(shown)); });
    var items = $("items");
    clear(items);
    question.rubric.forEach(function (item, k) {
      var box = el("input", {type: "checkbox", id: "item-" + (k + 1)});
      box.checked = !!(e && e.items && e.items[k]);
      box.addEventListener("change", function () { tick(k, box.checked); });
      items.appendChild(el("li", {}, [el("label", {"for": "item-" + (k + 1)}, [box,
        " " + (k < 9 ? "[" + (k + 1) + "] " : "") + item[0] + " (" + fmt(item[1]) + " " +
        unit(item[1]) + ")"])]));
    });
    $("points").max = String(question.points);
    $("points").value = e ? fmt(points(q, e)) : "";
    $("points-max").textContent = "of " + fmt(question.points);
    $("graded").checked = done(q, s);
    $("comment").value = e ? e.comment : "";
    renderBank();
    renderProgress();
  }
  function renderBank() {
    var list = $("bank");
    clear(list);
    bank(state.q).forEach(function (text, k) {
      list.appendChild(el("li", {}, [
        el("button", {type: "button", "class": "bank-entry", id: "bank-" + (k + 1), text: text,
                      onclick: function () { useComment(text); }}),
        el("button", {type: "button", "class": "bank-remove", title: "remove from the bank",
                      "aria-label": "remove from the bank", text: "\u00d7",
                      onclick: function () { bank(state.q).splice(k, 1); save(); renderBank(); }})
      ]));
    });
    $("bank-view").hidden = !bank(state.q).length;
  }
  function renderProgress() {
    var q = state.q, strip = $("strip");
    $("q-progress").textContent = graded(q) + " of " + S.length + " graded";
    clear(strip);
    S.forEach(function (student, s) {
      var e = entry(q, s, false), missing = answer(q, s).found === "missing";
      var said = done(q, s) ? (e ? "graded, " + fmt(points(q, e)) + " " +
                                     unit(points(q, e)) : "no answer, 0 points") : "to grade";
      strip.appendChild(el("button", {type: "button", id: "submission-" + (s + 1),
        "class": (done(q, s) ? "done" : "") + (missing ? " missing" : ""),
        "aria-current": String(s === state.s), title: label(s) + ": " + said,
        text: String(s + 1), onclick: function () { go(q, s); }}));
    });
    renderNav();
  }
  function render() {
    if (!Q.length || !S.length) {
      $("answer-view").hidden = true;
      $("q-title").textContent = Q.length ? "No submissions" : "No written questions";
      renderNav();
      return;
    }
    renderQuestion();
    renderAnswer();
  }

  // --- grading -----------------------------------------------------------------------------
  function changed() {
    save();
    var e = entry(state.q, state.s, false);
    $("points").value = e ? fmt(points(state.q, e)) : "";
    $("graded").checked = done(state.q, state.s);
    renderProgress();
  }
  function tick(k, on) {
    var e = entry(state.q, state.s, true);
    e.items[k] = on;
    e.points = null;
    e.graded = true;
    $("item-" + (k + 1)).checked = on;
    changed();
  }
  function setGraded(on) {
    var e = entry(state.q, state.s, true);
    e.graded = on;
    changed();
  }
  function useComment(text) {
    var e = entry(state.q, state.s, true);
    var lines = e.comment ? e.comment.split("\n") : [];
    if (lines.indexOf(text) < 0) { lines.push(text); }
    e.comment = lines.join("\n");
    e.graded = true;
    $("comment").value = e.comment;
    changed();
  }
  $("points").addEventListener("input", function () {
    var e = entry(state.q, state.s, true), value = $("points").value.trim();
    var number = parseFloat(value.replace(",", "."));
    if (value === "") { e.points = null; }
    else if (isFinite(number)) { e.points = Math.min(Math.max(number, 0), Q[state.q].points); }
    else { return; }
    e.graded = true;
    save();
    $("graded").checked = true;
    renderProgress();
  });
  $("points").addEventListener("change", function () { changed(); });
  $("graded").addEventListener("change", function () { setGraded($("graded").checked); });
  $("comment").addEventListener("input", function () {
    var e = entry(state.q, state.s, true);
    e.comment = $("comment").value;
    if (e.comment.trim()) { e.graded = true; $("graded").checked = true; }
    save();
    renderProgress();
  });
  $("comment").addEventListener("change", function () {
    if (remember(state.q, $("comment").value)) { save(); renderBank(); }
  });

  // --- moving around -----------------------------------------------------------------------
  function go(q, s) {
    if (!Q.length || !S.length) { return; }
    var active = document.activeElement;
    if (active && active.blur) { active.blur(); }
    var other = q !== state.q;
    state.q = index(q, Q.length);
    state.s = index(s, S.length);
    save();
    if (other) { renderQuestion(); }
    renderAnswer();
    window.scrollTo(0, other ? 0 : $("answer-view").offsetTop);
  }
  function nextOpen() {
    var n = Q.length * S.length, start = state.q * S.length + state.s;
    for (var k = 1; k <= n; k++) {
      var at = (start + k) % n, q = Math.floor(at / S.length), s = at % S.length;
      if (!done(q, s)) { go(q, s); return; }
    }
  }
  $("prev").addEventListener("click", function () { go(state.q, Math.max(state.s - 1, 0)); });
  $("next").addEventListener("click", function () {
    go(state.q, Math.min(state.s + 1, S.length - 1));
  });
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || !Q.length || !S.length) { return; }
    var target = event.target, tag = target && target.tagName;
    var typing = tag === "TEXTAREA" || tag === "SELECT" ||
                 (tag === "INPUT" && target.type !== "checkbox");
    if (typing) {
      if (event.key === "Escape") { target.blur(); event.preventDefault(); }
      return;
    }
    var key = event.key;
    if (key === "j") { go(state.q, Math.min(state.s + 1, S.length - 1)); }
    else if (key === "k") { go(state.q, Math.max(state.s - 1, 0)); }
    else if (key === "n") { go(Math.min(state.q + 1, Q.length - 1), state.s); }
    else if (key === "p") { go(Math.max(state.q - 1, 0), state.s); }
    else if (key === "u") { nextOpen(); }
    else if (key === "g") { setGraded(!done(state.q, state.s)); }
    else if (key === "c") { $("comment").focus(); }
    else if (key === "?") { $("help").open = !$("help").open; }
    else if (/^[1-9]$/.test(key) && Number(key) <= Q[state.q].rubric.length) {
      var k = Number(key) - 1, e = entry(state.q, state.s, false);
      tick(k, !(e && e.items && e.items[k]));
    } else { return; }
    event.preventDefault();
  });

  // --- export ------------------------------------------------------------------------------
  function cell(value) {
    if (typeof value === "number") { return fmt(value); }
    var text = String(value);
    if (/^[=+\-@\t\r\n]/.test(text)) { text = "'" + text; }
    return /[",\r\n]/.test(text) || text.trim() !== text ?
      "\"" + text.replace(/"/g, "\"\"") + "\"" : text;
  }
  function exportCsv() {
    var active = document.activeElement;
    if (active && active.blur) { active.blur(); }
    var rows = [["student", "item", "points", "rubric", "comment"]], open = 0;
    var order = S.map(function (student, s) { return s; }).sort(function (a, b) {
      var x = S[a].name.toLowerCase(), y = S[b].name.toLowerCase();
      return x < y ? -1 : x > y ? 1 : 0;
    });
    order.forEach(function (s) {
      Q.forEach(function (question, q) {
        var e = entry(q, s, false);
        if (e && e.graded) {
          var ticked = question.rubric.filter(function (item, k) {
            return e.items && e.items[k];
          }).map(function (item) { return item[0]; });
          rows.push([S[s].name, question.id, points(q, e), ticked.join("\n"), e.comment]);
        } else if (!done(q, s)) { open++; }
      });
    });
    var text = rows.map(function (row) { return row.map(cell).join(","); }).join("\r\n") +
      "\r\n";
    $("csv").value = text;
    var link = $("download");
    if (url) { URL.revokeObjectURL(url); }
    url = URL.createObjectURL(new Blob([text], {type: "text/csv;charset=utf-8"}));
    link.href = url;
    link.hidden = false;
    link.click();
    $("export-note").textContent = (rows.length - 1) + " graded answers exported" +
      (open ? "; " + open + " still to grade are left out." : ".") +
      " Merge the file into the grades with the grader's merge command.";
    state.revealed = true;
    $("reveal-label").hidden = false;
    $("reveal").checked = true;
    save();
    render();
  }
  $("export").addEventListener("click", exportCsv);
  $("reveal").addEventListener("change", function () {
    state.revealed = $("reveal").checked;
    save();
    render();
  });
  $("csv").addEventListener("focus", function () { $("csv").select(); });

  $("reveal-label").hidden = !state.revealed;
  $("reveal").checked = state.revealed;
  render();
})();
"""


# --- manual.csv --------------------------------------------------------------------------------

@dataclass
class ManualRow:
    """One row of ``manual.csv``: a tutor's points for a written answer (``item`` a question
    id) or for a task (``item`` a task id: an override, ``comment`` its reason)."""

    student: str
    item: str
    points: float
    rubric: list[str] = field(default_factory=list)  # the ticked rubric items
    comment: str = ""
    row: int = 0  # the row in the file, the header being row 1


class ManualError(ValueError):
    """``manual.csv`` has problems; the message names each one's row and column."""

    def __init__(self, path, problems: list[str]):
        self.problems = problems
        shown = problems[:20] + ([f"... and {len(problems) - 20} more"]
                                 if len(problems) > 20 else [])
        super().__init__(f"{path}: {len(problems)} problem{'s' * (len(problems) > 1)}:\n  "
                         + "\n  ".join(shown))


def _number(text: str) -> float | None:
    """The number in a cell (a decimal comma accepted), or None."""
    text = text.strip()
    if "," in text and "." not in text:
        text = text.replace(",", ".")
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _items(results: list[StudentResult]) -> dict[str, tuple[str, str, float]]:
    """Every item of the class: id -> (kind "task" or "question", title, max points)."""
    items: dict[str, tuple[str, str, float]] = {}
    for student in results:
        for task in student.tasks:
            items.setdefault(task.task, ("task", task.title, task.max_points))
        for question in student.questions:
            items.setdefault(question.id, ("question", question.title, question.max_points))
    return items


def _row_of(problem: str) -> int:
    """The row a problem names ("row 5, column points: ..."), for sorting."""
    match = re.match(r"row (\d+)", problem)
    return int(match.group(1)) if match else 0


def _listed(names, limit: int = 12) -> str:
    names = list(names)
    return ", ".join(names[:limit]) + (f", ... ({len(names)} in all)" if len(names) > limit
                                       else "")


def _row_problems(row: ManualRow, students: dict[str, StudentResult],
                  items: dict[str, tuple[str, str, float]]) -> list[str]:
    """What is wrong with ``row`` given the class's students and items."""
    where = f"row {row.row}"
    problems = []
    if row.student not in students:
        problems.append(f"{where}, column student: no student {row.student!r} in the results "
                        f"(the students: {_listed(sorted(students, key=str.lower))})")
    if row.item not in items:
        problems.append(f"{where}, column item: {row.item!r} is neither a task nor a question "
                        f"of this chapter (the items: {_listed(items)})")
    elif not 0 <= row.points <= items[row.item][2]:
        problems.append(f"{where}, column points: {row.points:g} is outside 0 to "
                        f"{items[row.item][2]:g}, the points of {row.item}")
    return problems


def read_manual_csv(path: str | Path, *, results: list[StudentResult] | None = None
                    ) -> list[ManualRow]:
    """The rows of the ``manual.csv`` at ``path`` (written by :func:`write_manual_page`'s
    page, or by hand), checked: the columns ``student, item, points`` (``rubric`` and
    ``comment`` may be left out), a name and an item in every row, points a number (a
    decimal comma is fine), not negative, each student's item once. Keyword argument:
    ``results`` the graded class (default None: not checked against one); given, every
    student must be one of them, every item one of their tasks or questions, and the points
    at most the item's. Raises :class:`ManualError` naming the row and column of every
    problem; empty rows are skipped."""
    path = Path(path)
    problems: list[str] = []
    rows: list[ManualRow] = []
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = [h.strip().lower() for h in next(reader, [])]
        missing = [c for c in ("student", "item", "points") if c not in header]
        unknown = [h for h in header if h not in MANUAL_COLUMNS]
        if missing or unknown or len(set(header)) != len(header):
            raise ManualError(path, [
                "row 1 (the header): expected the columns " + ", ".join(MANUAL_COLUMNS)
                + f", got {', '.join(header) or 'nothing'}"])
        column = {name: header.index(name) for name in header}
        seen: dict[tuple[str, str], int] = {}
        for number, cells in enumerate(reader, start=2):
            if not any(c.strip() for c in cells):
                continue
            if len(cells) > len(header):
                problems.append(f"row {number}: {len(cells)} cells, the header has "
                                f"{len(header)}")
                continue
            cells = cells + [""] * (len(header) - len(cells))
            value = {name: cells[k] for name, k in column.items()}
            student = csv_value(value["student"].strip())
            item = value["item"].strip()
            points = _number(value["points"])
            for name, text in (("student", student), ("item", item)):
                if not text:
                    problems.append(f"row {number}, column {name}: empty")
            if points is None:
                problems.append(f"row {number}, column points: {value['points']!r} is not a "
                                "number")
            elif points < 0:
                problems.append(f"row {number}, column points: {points:g} is negative")
            if not student or not item or points is None or points < 0:
                continue
            if (student, item) in seen:
                problems.append(f"row {number}: {student}'s {item} is given again (first in "
                                f"row {seen[(student, item)]})")
                continue
            seen[(student, item)] = number
            rubric = [line.strip() for line in csv_value(value.get("rubric", "")).splitlines()
                      if line.strip()]
            rows.append(ManualRow(student, item, points, rubric,
                                  csv_value(value.get("comment", "")).strip(), number))
    if results is not None:
        students = {r.student: r for r in results}
        items = _items(results)
        for row in rows:
            problems += _row_problems(row, students, items)
    if problems:
        raise ManualError(path, sorted(problems, key=_row_of))
    return rows


def apply_manual(results: list[StudentResult], rows: list[ManualRow]) -> list[str]:
    """Put the tutors' points of ``rows`` (:func:`read_manual_csv`) into ``results``, in
    place: a question's row grades that answer (points, ticked rubric items, comment;
    status ``"graded"``), a task's row replaces any earlier :class:`Override` of that task.
    Returns the problems of the rows that could not be applied (unknown student or item,
    points out of range), which are skipped."""
    students = {r.student: r for r in results}
    items = _items(results)
    order = {item: k for k, item in enumerate(items)}
    problems = []
    for row in rows:
        found = _row_problems(row, students, items)
        if found:
            problems += found
            continue
        student = students[row.student]
        kind, title, maximum = items[row.item]
        if kind == "task":
            student.overrides = [o for o in student.overrides if o.task != row.item]
            student.overrides.append(Override(row.item, row.points, row.comment))
            continue
        answer = next((q for q in student.questions if q.id == row.item), None)
        if answer is None:
            answer = QuestionResult(row.item, title, maximum)
            student.questions.append(answer)
            student.questions.sort(key=lambda q: order[q.id])
        answer.points, answer.status = row.points, GRADED
        answer.comment, answer.rubric = row.comment, list(row.rubric)
    return problems


def merge_manual(out: str | Path, manual_csv: str | Path) -> list[str]:
    """Merge the tutors' ``manual_csv`` into the grading output in ``out``: read
    ``out/results.json`` (:func:`~course_utils.grading.report.read_results`), apply the
    rows (:func:`apply_manual`) and write ``grades.csv``, ``results.json``, ``feedback/`` and
    ``summary.html`` again; no kernel starts and no student code runs. Raises
    :class:`ManualError` (and writes nothing) when a row is wrong. Returns what is still
    open, one line per question with answers not graded yet."""
    out = Path(out)
    data = read_results(out)
    rows = read_manual_csv(manual_csv, results=data.students)
    problems = apply_manual(data.students, rows)
    if problems:  # read_manual_csv checked the same; kept for safety
        raise ManualError(manual_csv, problems)
    write_reports(data.students, data.chapter, data.tasks, out, questions=data.questions,
                  hidden_seed=data.hidden_seed, similarity=data.similarity, extra=data.extra)
    open_ = {}
    for student in data.students:
        for question in student.questions:
            if question.status == TO_GRADE:
                open_.setdefault(question.id, []).append(student.student)
    return [f"{qid}: {len(names)} answer{'s' * (len(names) > 1)} still to grade "
            f"({_listed(names, 8)})" for qid, names in open_.items()]
