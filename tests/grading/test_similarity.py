"""The similarity checks (course_utils.grading.similarity) on a generated class of chapter
04 (tests/grading/similarity_class.py): copies rank above honest work with either engine,
copies of the reference implementation and answer are flagged, the template scores
nothing, and what students wrote is escaped in the summary's section."""

import json
import os
import subprocess
import sys

import pytest

from course_utils.grading.similarity import (REFERENCE_FLAG, reference_sources,
                                             similarity_html, similarity_report,
                                             strip_template, task_templates)
from course_utils.notebook_format import ANSWER_PLACEHOLDER, task_layout

from .similarity_class import (CHAPTER, COPIES, REFERENCE_COPIES, ROOT, STUDENTS, TASK2,
                               generated_class)

try:
    import copydetect
except ImportError:  # the similarity extra is not installed
    copydetect = None

ENGINES = ["builtin", pytest.param("copydetect", marks=pytest.mark.skipif(
    copydetect is None, reason="copydetect (the similarity extra) is not installed"))]


@pytest.fixture(scope="module")
def klass():
    return generated_class()


def _report(klass, engine, top=100):
    return similarity_report(klass.codes, klass.answers, template=klass.template,
                             references=klass.references, top=top, engine=engine)


def _scores(item) -> dict[frozenset, float]:
    return {frozenset(p["students"]): p["score"] for p in item["pairs"]}


@pytest.mark.parametrize("engine", ENGINES)
def test_copies_rank_above_honest_pairs(klass, engine):
    report = _report(klass, engine)
    assert report["engine_id"] == engine
    items = {item["id"]: item for item in report["items"]}
    assert set(items) == {"task1", "task2", "q1"}
    for name, item in items.items():
        scores = _scores(item)
        copies = [scores.get(pair, 0.0) for pair in klass.copies[name]]
        honest = {pair: scores.get(pair, 0.0) for pair in klass.honest(name)}
        worst = max(honest, key=honest.get)
        assert min(copies) > honest[worst], (name, copies, sorted(worst), honest[worst])
        assert min(copies) >= 0.8, (name, copies)
        # the top pairs are the copies, most similar first
        top = [frozenset(p["students"]) for p in item["pairs"][:len(klass.copies[name])]]
        assert set(top) == klass.copies[name]
        assert [p["score"] for p in item["pairs"]] == sorted(
            (p["score"] for p in item["pairs"]), reverse=True)


@pytest.mark.parametrize("engine", ENGINES)
def test_reference_copies_are_flagged_and_honest_code_is_not(klass, engine):
    report = _report(klass, engine)
    for item in report["items"]:
        flagged = {f["student"]: f["score"] for f in item["reference"]}
        assert set(flagged) == klass.reference_copies[item["id"]], (item["id"], flagged)
        assert all(score >= REFERENCE_FLAG for score in flagged.values())
        assert item["reference_text"] == klass.references[item["id"]]
        marks, reference_marks = item["reference"][0]["marks"]
        assert marks and reference_marks  # what matched, on both sides


@pytest.mark.parametrize("engine", ENGINES)
def test_the_template_alone_scores_nothing(klass, engine):
    report = _report(klass, engine)
    for item in report["items"]:
        named = {s for p in item["pairs"] for s in p["students"]}
        assert "hana" not in named and "hana" not in item["texts"], item["id"]
        assert item["students"] == len(STUDENTS) - 1  # hana has nothing of her own
    # a class of untouched templates (one with the check call pasted into the cell)
    templates = {task: {"x": code, "y": code + "\ncheck_naive_norms(naive_norms)\n"}
                 for task, code in klass.template.items() if task.startswith("task")}
    empty = similarity_report(templates, {"q1": {"x": ANSWER_PLACEHOLDER,
                                                 "y": ANSWER_PLACEHOLDER}},
                              template=klass.template, references=klass.references,
                              engine=engine)
    for item in empty["items"]:
        assert item["pairs"] == [] and item["reference"] == [] and item["students"] == 0


def test_strip_template_leaves_what_the_student_wrote(klass):
    template = klass.template["task2"]
    assert strip_template(template, template) == ""
    code = ("import numpy as np\nfrom torch.linalg import (matrix_norm,\n    svdvals)\n"
            + template.replace("    # your code here\n", "    #   your   code here\n")
            + "    P = J[-1]  # mine\ncheck_naive_norms(naive_norms)\n")
    assert strip_template(code, template) == "    P = J[-1]  # mine\n"
    assert "raise NotImplementedError" not in strip_template(TASK2["ada"], template)
    assert "prod = J[-1].clone()" in strip_template(TASK2["ada"], template)


def test_task_templates_and_reference_sources():
    text = CHAPTER.read_text(encoding="utf-8")
    templates = task_templates(text, CHAPTER)
    assert set(templates) == {"task1", "task2"}
    assert "def naive_norms(J):" in templates["task2"]
    assert "raise NotImplementedError" in templates["task2"]
    assert "matrix_norm" not in templates["task2"]  # the solution is not in it
    sources = reference_sources(task_layout(text, CHAPTER))
    assert "def naive_product_log_norms" in sources["task2"]
    assert "def jacobian" in sources["task1"] and "class Linearization" in sources["task1"]

    class Unknown:
        id, references = "task9", ("course_utils.no_such_module.f",)

    assert reference_sources([Unknown()]) == {}


@pytest.mark.parametrize("engine", ENGINES)
def test_hostile_text_is_escaped(klass, engine):
    hostile = "</pre><script>alert(1)</script>"
    bad_name = "<img src=x onerror=alert(2)>"
    codes = {"task2": {"ada": TASK2["ada"] + f"    # {hostile}\n    x = '{hostile}'\n",
                       bad_name: TASK2["ben"] + f"    x = '{hostile}'\n"},
             f"<b>{hostile}": {"a": "x = 1\n", "b": "x = 1\n"}}
    answers = {"q1": {"ada": f"{hostile} " * 10, bad_name: f"{hostile} " * 10}}
    report = similarity_report(codes, answers, template=klass.template,
                               references={"task2": hostile + klass.references["task2"],
                                           "q1": f"{hostile} " * 10},
                               titles={"q1": hostile}, engine=engine)
    page = similarity_html(report)
    assert "<script" not in page and "<img" not in page and "<b>" not in page
    assert "&lt;script&gt;" in page and "&lt;img src=x onerror=alert(2)&gt;" in page
    assert page.count("<pre") == page.count("</pre>") > 0
    assert "<mark>" in page
    assert page.startswith("<section") and page.endswith("</section>")


@pytest.mark.parametrize("engine", ENGINES)
def test_the_report_is_json_and_the_html_shows_pairs_side_by_side(klass, engine):
    report = _report(klass, engine, top=2)
    assert json.loads(json.dumps(report)) == report
    task2 = next(item for item in report["items"] if item["id"] == "task2")
    assert len(task2["pairs"]) == 2 and 0 <= task2["median"] < task2["pairs"][-1]["score"]
    assert set(task2["texts"]) == {s for p in task2["pairs"] for s in p["students"]} | set(
        REFERENCE_COPIES)
    page = similarity_html(report)
    assert page.count('class="side-by-side"') == 3 * 2 + 3 * len(REFERENCE_COPIES)
    assert report["engine"].split()[0] in page
    first = task2["pairs"][0]["students"]
    assert set(first) <= set(COPIES)
    assert f"{first[0]} and {first[1]}" in page


@pytest.mark.parametrize("engine", ENGINES)
def test_empty_and_one_student_classes(klass, engine):
    empty = similarity_report({}, {}, template={}, references={}, engine=engine)
    assert empty["items"] == []
    assert "<section" in similarity_html(empty)
    one = similarity_report({"task2": {"ada": TASK2["ada"]}, "task1": {}},
                            {"q1": {"ada": "The product overflows to inf."}},
                            template=klass.template,
                            references=klass.references, engine=engine)
    for item in one["items"]:
        assert item["pairs"] == [] and item["compared"] == 0 and item["median"] == 0.0
    assert [i["students"] for i in one["items"]] == [1, 0, 1]
    missing = similarity_report({"task2": {"ada": None, "ben": ""}}, {"q1": {"ada": None}},
                                template=klass.template, references={}, engine=engine)
    assert [i["students"] for i in missing["items"]] == [0, 0]
    assert "No two students" in similarity_html(one)


def test_code_that_does_not_tokenize_is_still_compared(klass):
    broken = TASK2["ada"] + '    s = """never closed\n'
    twice = {"task2": {"a": broken, "b": broken.replace("prod", "acc"),
                       "c": TASK2["dan"] + "  bad indent\n"}}
    report = similarity_report(twice, {}, template=klass.template, references={},
                               engine="builtin")
    scores = _scores(report["items"][0])
    assert scores[frozenset("ab")] > 0.8 > scores.get(frozenset("ac"), 0.0)


def test_engine_choice_and_bad_arguments(klass, monkeypatch):
    monkeypatch.setitem(sys.modules, "copydetect", None)  # as if not installed
    report = similarity_report({"task2": {"a": TASK2["ada"]}}, {}, template={},
                               references={})
    assert report["engine_id"] == "builtin" and "built-in" in report["engine"]
    with pytest.raises(ImportError, match="similarity"):
        similarity_report({}, {}, template={}, references={}, engine="copydetect")
    with pytest.raises(ValueError, match="engine must be one of"):
        similarity_report({}, {}, template={}, references={}, engine="moss")
    with pytest.raises(TypeError, match=r"codes must be a dict.*list"):
        similarity_report([], {}, template={}, references={})
    with pytest.raises(TypeError, match=r"codes\['task1'\]\['ada'\] must be text.*int"):
        similarity_report({"task1": {"ada": 3}}, {}, template={}, references={})
    with pytest.raises(TypeError, match=r"answers\['q1'\] must be a dict"):
        similarity_report({}, {"q1": "text"}, template={}, references={})
    with pytest.raises(TypeError, match="template must be a dict of text"):
        similarity_report({}, {}, template={"task1": None}, references={})
    with pytest.raises(ValueError, match="top must be a whole number >= 0; got -1"):
        similarity_report({}, {}, template={}, references={}, top=-1)
    with pytest.raises(TypeError, match="report must be the dict"):
        similarity_html([])



def test_the_report_is_the_same_in_every_run(tmp_path):
    """Python salts ``hash`` anew in each process: the scores must not depend on it."""
    engines = ["builtin"] + ["copydetect"] * (copydetect is not None)
    script = tmp_path / "run.py"
    script.write_text(
        "import json, sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from tests.grading.similarity_class import generated_class\n"
        "from course_utils.grading.similarity import similarity_report\n"
        "c = generated_class()\n"
        "print(json.dumps([similarity_report(c.codes, c.answers, template=c.template, "
        f"references=c.references, top=100, engine=e) for e in {engines!r}], "
        "sort_keys=True))\n")
    runs = [subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                           check=True, env={**os.environ, "PYTHONHASHSEED": seed}).stdout
            for seed in ("1", "2")]
    assert runs[0] == runs[1]
    assert [r["engine_id"] for r in json.loads(runs[0])] == engines


def test_reference_sources_are_read_without_importing_the_toolkit():
    """The task's reference implementations are read from the package's files, as
    inspect.getsource would give them, without importing PyTorch into the grader."""
    import inspect

    from course_utils import henon
    from course_utils.notebook_format import Task

    task = Task("task1", "Task 1 (x)", 1, 0, 1, ("check_x",), 1,
                references=("course_utils.henon.henon_jacobian",
                            "course_utils.models.ShallowPLRNN.jacobian",
                            "course_utils.henon.no_such_function"))
    text = reference_sources([task])["task1"]
    assert text.startswith(inspect.getsource(henon.henon_jacobian).rstrip("\n"))
    assert "def jacobian(self" in text and "no_such_function" not in text
    probe = ("import sys; from course_utils.grading.similarity import reference_sources\n"
             "from course_utils.notebook_format import Task\n"
             "reference_sources([Task('t', 'T', 1, 0, 1, (), 1, references="
             "('course_utils.models.ShallowPLRNN.jacobian',))])\n"
             "print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=120)
    assert result.stdout.strip() == "False", result.stderr[-2000:]
