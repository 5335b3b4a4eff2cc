"""Unit tests of the grader's pure-Python parts: no kernel is started here.

Submissions (collect, read_notebook, task_code, strip_check_calls), the reference
(load_reference), the grading notebook (build_notebook), the reports and the kernel's
environment. The end-to-end grading, with kernels, is tested elsewhere.
"""

import base64
import copy
import csv
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
import zipfile

import nbformat
import pytest

from course_utils.grading import sandbox
from course_utils.grading.report import (StudentResult, common_failures, feedback_markdown,
                                         normalise_message, write_reports)
from course_utils.grading.runner import _verdict_source, build_notebook, TaskResult
from course_utils.grading.submissions import (Submission, collect, load_reference,
                                              read_notebook, strip_check_calls, task_code)
from course_utils.notebooks import Task, parse_percent

CHAPTER = "04_plrnn_max_lyapunov"
GUARD = "import course_utils.grading.kernel as _grading_kernel\n_grading_kernel.before_student()"
NOTEBOOK = json.dumps(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]))


@pytest.fixture(scope="module")
def reference(root):
    return load_reference(CHAPTER, root / "solutions")


@pytest.fixture(scope="module")
def _template(root):
    return nbformat.read(root / "exercises" / f"{CHAPTER}.ipynb", as_version=4)


@pytest.fixture
def template(_template):
    """A fresh copy of the chapter's exercise template, as a student starts from it."""
    return copy.deepcopy(_template)


def _index_of_task(notebook, task_id):
    [index] = [i for i, c in enumerate(notebook.cells)
               if c.metadata.get("course_utils", {}).get("task") == task_id]
    return index


# --- collect --------------------------------------------------------------------------------

def _rows(submissions, base):
    """(student, path relative to base or None, problem) of each submission."""
    return [(s.student, s.path.relative_to(base).as_posix() if s.path else None, s.problem)
            for s in submissions]


def _write(path, text=NOTEBOOK):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_collect_a_folder_of_notebooks(tmp_path):
    folder = tmp_path / "in"
    _write(folder / "alice.ipynb")
    _write(folder / "Bob Smith (1).ipynb")
    _write(folder / "notes.txt", "not a notebook")
    _write(folder / ".DS_Store", "x")
    _write(folder / ".ipynb_checkpoints" / "alice-checkpoint.ipynb")
    _write(folder / "__MACOSX" / "._alice.ipynb", "x")
    found = collect([folder], tmp_path / "scratch")
    assert _rows(found, folder) == [
        ("Bob_Smith_1", "Bob Smith (1).ipynb", None),
        ("alice", "alice.ipynb", None),
        ("notes", "notes.txt", None),  # still a student: read_notebook says what is wrong
    ]
    assert all(isinstance(s, Submission) for s in found)
    assert read_notebook(found[2].path, CHAPTER) == (None, "not a notebook (JSONDecodeError)")


def _student_folders(base):
    _write(base / "alice" / "sheet04.ipynb")
    _write(base / "bob" / "work" / "deep" / "mine.ipynb")  # found recursively
    _write(base / "bob" / ".ipynb_checkpoints" / "mine-checkpoint.ipynb")
    _write(base / "bob" / "__MACOSX" / "._mine.ipynb", "x")
    _write(base / "carol" / "readme.txt", "I forgot")
    _write(base / "dave" / "a.ipynb")
    _write(base / "dave" / "b.ipynb")
    _write(base / "erin" / ".ipynb_checkpoints" / "x-checkpoint.ipynb")  # only a checkpoint


STUDENT_FOLDERS = [
    ("alice", "alice/sheet04.ipynb", None),
    ("bob", "bob/work/deep/mine.ipynb", None),
    ("carol", None, "no notebook"),
    ("dave", None, "several notebooks (2)"),
    ("erin", None, "no notebook"),
]


def test_collect_a_folder_of_student_folders(tmp_path):
    folder = tmp_path / "in"
    _student_folders(folder)
    _write(folder / "__MACOSX" / "alice" / "._sheet04.ipynb", "x")
    assert _rows(collect([folder], tmp_path / "scratch"), folder) == STUDENT_FOLDERS


def _zip(path, files):
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return path


def test_collect_a_zip_of_notebooks(tmp_path):
    archive = _zip(tmp_path / "group.zip", {"alice.ipynb": NOTEBOOK, "bob.ipynb": NOTEBOOK,
                                            "__MACOSX/._bob.ipynb": "x"})
    scratch = tmp_path / "scratch"
    found = collect([archive], scratch)
    assert _rows(found, scratch) == [("alice", "zip0/alice.ipynb", None),
                                     ("bob", "zip0/bob.ipynb", None)]
    assert json.loads(found[0].path.read_text()) == json.loads(NOTEBOOK)


@pytest.mark.parametrize("top", ["", "Abgaben Blatt 4/"])
def test_collect_a_zip_of_student_folders(tmp_path, top):
    """The folders at the top of the zip, or in its single top-level folder."""
    source = tmp_path / "source"
    _student_folders(source)
    files = {f"{top}{p.relative_to(source).as_posix()}": p.read_text()
             for p in source.rglob("*") if p.is_file()}
    files[f"__MACOSX/{top}._alice"] = "x"
    archive = _zip(tmp_path / "group.zip", files)
    scratch = tmp_path / "scratch"
    expected = [(s, p and f"zip0/{top}{p}", problem) for s, p, problem in STUDENT_FOLDERS]
    assert _rows(collect([archive], scratch), scratch) == expected


def test_collect_an_unsafe_zip_is_a_problem_not_an_exception(tmp_path):
    evil = _zip(tmp_path / "evil.zip", {"ok.ipynb": NOTEBOOK, "../evil.ipynb": NOTEBOOK})
    fake = _write(tmp_path / "fake.zip", "this is no zip")
    single = _write(tmp_path / "zoe.ipynb")
    scratch = tmp_path / "scratch"
    found = collect([evil, fake, single], scratch)
    assert [(s.student, s.path) for s in found] == [("evil", None), ("fake", None),
                                                    ("zoe", single)]
    assert found[0].problem == (f"unsafe zip archive ({evil}: unsafe path '../evil.ipynb')")
    assert found[1].problem == "not a zip archive"
    assert found[2].problem is None
    assert not (scratch / "evil.ipynb").exists() and not (tmp_path / "evil.ipynb").exists()
    assert not list((scratch / "zip0").iterdir())  # nothing of the unsafe zip is extracted


def test_collect_numbers_duplicate_students(tmp_path):
    for k in range(3):
        _write(tmp_path / f"group{k}" / "alice.ipynb")
    _write(tmp_path / "group2" / "bob.ipynb")
    found = collect([tmp_path / f"group{k}" for k in range(3)], tmp_path / "scratch")
    assert [s.student for s in found] == ["alice", "alice_2", "alice_3", "bob"]
    assert [s.path.parent.name for s in found] == ["group0", "group1", "group2", "group2"]


def test_collect_duplicate_suffix_does_not_collide_with_a_real_name(tmp_path):
    folder = tmp_path / "in"
    _write(folder / "alice.ipynb")
    _write(folder / "alice_2.ipynb")
    _write(folder / "alice" / "sheet.ipynb")
    names = [s.student for s in collect([folder], tmp_path / "scratch")]
    assert len(set(names)) == 3, names


def test_collect_a_missing_path_stops_with_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        collect([tmp_path / "nowhere.zip"], tmp_path / "scratch")


# --- read_notebook --------------------------------------------------------------------------

@pytest.mark.parametrize("content, problem", [
    (b"not json", "not a notebook (JSONDecodeError)"),
    (b"", "not a notebook (JSONDecodeError)"),
    (b"\xff\xfe\x00", "not a notebook (UnicodeDecodeError)"),
    (b'{"a": 1}', "not a notebook (ValidationError)"),
    (b"[1, 2]", "not a notebook (AttributeError)"),
    (b'"text"', "not a notebook (AttributeError)"),
    (json.dumps(nbformat.v4.new_notebook()).encode(), "empty notebook"),
    (json.dumps(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Hi")]))
     .encode(), "empty notebook"),
])
def test_read_notebook_problems(tmp_path, content, problem):
    path = tmp_path / "student.ipynb"
    path.write_bytes(content)
    assert read_notebook(path, CHAPTER) == (None, problem)


def test_read_notebook_of_another_chapter(tmp_path, template):
    template.metadata["course_utils"]["chapter"] = "03_stf_lorenz"
    path = tmp_path / "student.ipynb"
    nbformat.write(template, path)
    assert read_notebook(path, CHAPTER) == (None, "wrong chapter (03_stf_lorenz)")


def test_read_notebook_valid(tmp_path, template, root):
    path = tmp_path / "student.ipynb"
    nbformat.write(template, path)
    notebook, problem = read_notebook(path, CHAPTER)
    assert problem is None
    assert notebook == nbformat.read(root / "exercises" / f"{CHAPTER}.ipynb", as_version=4)
    del template.metadata["course_utils"]  # no chapter in the metadata: accepted
    nbformat.write(template, path)
    assert read_notebook(path, CHAPTER)[1] is None


# --- load_reference -------------------------------------------------------------------------

@pytest.mark.parametrize("name", [CHAPTER, "04", "4", "004"])
def test_load_reference_by_name_and_number(root, name):
    assert load_reference(name, root / "solutions").chapter == CHAPTER


def test_load_reference_unknown_chapter_names_the_chapters(root):
    from course_utils.notebooks import solution_sources

    with pytest.raises(ValueError) as info:
        load_reference("99", root / "solutions")
    stems = [p.stem for p in solution_sources(root)]
    assert str(info.value) == f"unknown chapter '99'; the chapters are: {', '.join(stems)}"
    with pytest.raises(ValueError, match="unknown chapter 'plrnn'"):
        load_reference("plrnn", root / "solutions")


def test_load_reference_tasks_and_names(reference, root):
    assert [(t.id, t.title, t.points) for t in reference.tasks] == [
        ("task1", "Task 1 (Jacobians along the orbit)", 2),
        ("task2", "Task 2 (the naive product)", 2)]
    assert [(t.code_cell, t.check_cell, t.checks) for t in reference.tasks] == [
        (3, 4, ("check_plrnn_jacobians",)), (5, 6, ("check_naive_norms",))]
    assert reference.max_points == 4
    assert reference.defined_names == {"task1": {"orbit_jacobians"}, "task2": {"naive_norms"}}
    _, cells = parse_percent((root / "solutions" / f"{CHAPTER}.py").read_text())
    assert len(reference.code_cells) == sum(c.kind == "code" for c in cells)  # all of them
    assert reference.code_cells[4].startswith("check_plrnn_jacobians(orbit_jacobians)\n")
    assert "# END SOLUTION" in reference.code_cells[3]  # the solution itself
    exercise = nbformat.read(root / "exercises" / f"{CHAPTER}.ipynb", as_version=4)
    assert reference.template_ids == {c.id for c in exercise.cells}


# --- task_code ------------------------------------------------------------------------------

def test_task_code_of_the_template(template, reference):
    task1, task2 = reference.tasks
    for task in reference.tasks:
        cell = template.cells[_index_of_task(template, task.id)]
        assert task_code(template, reference, task) == (cell.source, "tagged")
    assert "raise NotImplementedError('Task 1 (Jacobians along the orbit): your code here')" \
        in task_code(template, reference, task1)[0]


def test_task_code_after_the_task_cell_was_moved(template, reference):
    task1 = reference.tasks[0]
    index = _index_of_task(template, "task1")
    cell = template.cells.pop(index)
    cell.source = "def orbit_jacobians(model, Z):\n    return 1"
    template.cells.append(cell)  # after the last markdown cell
    assert task_code(template, reference, task1) == (cell.source, "tagged")
    # Next to a code cell of the template (the plot): that cell is not taken with it.
    template.cells.pop()
    [plot] = [i for i, c in enumerate(template.cells) if c.source.startswith("fig, (ax_naive")]
    template.cells.insert(plot + 1, cell)
    assert template.cells[plot].cell_type == "code"
    assert task_code(template, reference, task1) == (cell.source, "tagged")


def test_task_code_template_cells_beside_the_task_are_not_taken(template, reference):
    task1 = reference.tasks[0]
    index = _index_of_task(template, "task1")
    assert template.cells[index - 1].cell_type == "markdown"
    del template.cells[index - 1]  # the template's code cell before it is now its neighbour
    index -= 1
    assert template.cells[index - 1].cell_type == "code"
    assert "course_utils" not in template.cells[index - 1].metadata
    del template.cells[index + 1].metadata["course_utils"]  # an untagged check cell
    assert task_code(template, reference, task1) == (template.cells[index].source, "tagged")


@pytest.mark.parametrize("added_first", [False, True])
def test_task_code_joins_a_split_task_cell(template, reference, added_first):
    task2 = reference.tasks[1]
    index = _index_of_task(template, "task2")
    helper = "def _norm(P):\n    return torch.linalg.matrix_norm(P, ord=2)"
    main = "def naive_norms(J):\n    return torch.stack([_norm(j) for j in J])"
    template.cells[index].source = main
    added = nbformat.v4.new_code_cell(helper)  # a new cell: a new id, no metadata
    assert added.id not in reference.template_ids
    template.cells.insert(index if added_first else index + 1, added)
    parts = [helper, main] if added_first else [main, helper]
    assert task_code(template, reference, task2) == (
        "\n\n".join(parts), "tagged, with 1 cell added beside it")


def test_task_code_joins_cells_added_on_both_sides(template, reference):
    task2 = reference.tasks[1]
    index = _index_of_task(template, "task2")
    template.cells.insert(index + 1, nbformat.v4.new_code_cell("c = 3"))
    template.cells.insert(index + 1, nbformat.v4.new_code_cell("b = 2"))
    template.cells.insert(index, nbformat.v4.new_code_cell("a = 1"))
    code, how = task_code(template, reference, task2)
    assert code == "\n\n".join(["a = 1", template.cells[index + 1].source, "b = 2", "c = 3"])
    assert how == "tagged, with 3 cells added beside it"


def test_task_code_without_the_tag_is_found_by_name(template, reference):
    task1 = reference.tasks[0]
    index = _index_of_task(template, "task1")
    del template.cells[index].metadata["course_utils"]
    assert task_code(template, reference, task1) == (
        template.cells[index].source,
        "by name (orbit_jacobians): the task tag is missing")
    # Defined twice: the last definition in the notebook is the one that counts.
    template.cells.append(nbformat.v4.new_code_cell("def orbit_jacobians(model, Z):\n    "
                                                    "return 2"))
    assert task_code(template, reference, task1)[0].endswith("return 2")


def test_task_code_of_a_deleted_task_cell(template, reference):
    task1 = reference.tasks[0]
    del template.cells[_index_of_task(template, "task1")]
    assert task_code(template, reference, task1) == (None, "task cell not found")
    # A cell that only uses the name does not count as defining it.
    template.cells.append(nbformat.v4.new_code_cell("J = orbit_jacobians(model, Z)"))
    assert task_code(template, reference, task1) == (None, "task cell not found")


def test_task_code_without_cell_ids_does_not_take_template_cells(tmp_path, template,
                                                                  reference):
    task1 = reference.tasks[0]
    index = _index_of_task(template, "task1")
    del template.cells[index - 1]  # the markdown cell: a template code cell is its neighbour
    raw = json.loads(nbformat.writes(template))
    raw["nbformat_minor"] = 4
    for cell in raw["cells"]:
        del cell["id"]
    path = tmp_path / "student.ipynb"
    path.write_text(json.dumps(raw))
    notebook, problem = read_notebook(path, CHAPTER)
    assert problem is None
    assert task_code(notebook, reference, task1) == (notebook.cells[index - 1].source, "tagged")


# --- strip_check_calls ----------------------------------------------------------------------

@pytest.mark.parametrize("source, stripped", [
    ("x = 1\ncheck_f(f)\ny = 2", "x = 1\ny = 2"),
    ("check_f(\n    f,\n    tol=1e-3,\n)\nz = 3", "z = 3"),
    ("check_a(a)\ncheck_b(b)", ""),
    ("def t():\n    check_f(f)\nif True:\n    check_g(g)",
     "def t():\n    check_f(f)\nif True:\n    check_g(g)"),
    ("result = check_f(f)\nprint(check_f(f))\nchecker(f)\nobj.check_f(f)\ncheck_f",
     "result = check_f(f)\nprint(check_f(f))\nchecker(f)\nobj.check_f(f)\ncheck_f"),
    ("def check_mine(x):\n    return x\n", "def check_mine(x):\n    return x\n"),
    # A syntax error: the check calls are removed line by line.
    ("%matplotlib inline\ncheck_f(f)\nx = (", "%matplotlib inline\nx = ("),
    ("x = (\ncheck_f(f)\n  check_g(g)", "x = (\n  check_g(g)"),
])
def test_strip_check_calls(source, stripped):
    assert strip_check_calls(source) == stripped


def test_strip_check_calls_keeps_other_statements_on_the_line():
    assert strip_check_calls("x = 1; check_f(f)\ny = x") == "x = 1; None\ny = x"


def test_strip_check_calls_with_a_form_feed_in_a_string():
    source = 's = "a\x0cb"\ncheck_f(f)\nx = 1'
    assert strip_check_calls(source) == 's = "a\x0cb"\nx = 1'


# --- the grading notebook -------------------------------------------------------------------

def _roles(notebook):
    return [c.metadata["grading_role"] for c in notebook.cells]


def test_build_notebook(reference):
    task1, task2 = reference.tasks
    student = "def naive_norms(J):\n    return J\ncheck_naive_norms(naive_norms)\nprint(1)"
    nb = build_notebook(reference, task2, student, "NONCE")
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert _roles(nb) == ["setup", *["reference"] * 5, "guard", "student", "verdict"]
    assert nb.cells[0].source == ("import course_utils.grading.kernel as _grading_kernel\n"
                                  f"_grading_kernel.prepare('{CHAPTER}')")
    # The reference cells before the task, the earlier task with its solution, without
    # its check.
    assert [c.source for c in nb.cells[1:6]] == [
        *reference.code_cells[:4], strip_check_calls(reference.code_cells[4])]
    assert nb.cells[5].source == ("J = orbit_jacobians(model, Z).detach()\n"
                                  'print("Jacobians", tuple(J.shape), J.dtype)')
    assert not any(re.search(r"^check_", c.source, re.M) for c in nb.cells)
    assert nb.cells[6].source == GUARD
    assert nb.cells[7].source == "def naive_norms(J):\n    return J\nprint(1)"
    assert nb.cells[7].metadata["course_utils"] == {"task": "task2"}
    assert nb.cells[8].source == (
        "import course_utils.grading.kernel as _grading_kernel\n"
        "_grading_kernel.run('NONCE', 'check_naive_norms', naive_norms)\n"
        "_grading_kernel.passed('NONCE', ['check_naive_norms'])")
    assert nb.cells[8].metadata["course_utils"] == {"task": "task2"}
    nbformat.validate(nb)

    first = build_notebook(reference, task1, "def orbit_jacobians(m, Z):\n    pass", "N")
    assert _roles(first) == ["setup", "reference", "reference", "reference", "guard",
                             "student", "verdict"]
    assert "_grading_kernel.run('N', 'check_plrnn_jacobians', orbit_jacobians)" \
        in first.cells[-1].source


def test_build_notebook_of_the_reference_itself(reference):
    task1 = reference.tasks[0]
    nb = build_notebook(reference, task1, None, "N")
    assert nb.cells[-2].source == reference.code_cells[task1.code_cell]


def test_build_notebook_verifying_earlier_tasks(reference):
    task1, task2 = reference.tasks
    nb = build_notebook(reference, task2, None, "NONCE", verify_earlier=True)
    assert _roles(nb) == ["setup", "reference", "reference", "reference", "guard", "student",
                          "verdict", "reference", "guard", "student", "verdict"]
    assert nb.cells[4].source == "_grading_kernel.before_student()"
    assert nb.cells[5].source == reference.code_cells[task1.code_cell]
    assert nb.cells[5].metadata["course_utils"] == {"task": "task1"}
    assert nb.cells[6].source == (
        "import course_utils.grading.kernel as _grading_kernel\n"
        "_grading_kernel.run('NONCE:task1', 'check_plrnn_jacobians', orbit_jacobians)\n"
        "_grading_kernel.passed('NONCE:task1', ['check_plrnn_jacobians'])")
    assert nb.cells[6].metadata["course_utils"] == {"task": "task1"}
    assert nb.cells[7].source.startswith("J = orbit_jacobians(model, Z).detach()")
    assert nb.cells[8].source == GUARD
    assert nb.cells[9].source == reference.code_cells[task2.code_cell]
    assert nb.cells[10].source.splitlines()[1:] == [
        "_grading_kernel.run('NONCE:task2', 'check_naive_norms', naive_norms)",
        "_grading_kernel.passed('NONCE:task2', ['check_naive_norms'])"]
    assert nb.cells[10].metadata["course_utils"] == {"task": "task2"}


def test_build_notebook_verifying_earlier_tasks_keeps_the_check_cells_other_code(reference):
    task2 = reference.tasks[1]
    nb = build_notebook(reference, task2, None, "NONCE", verify_earlier=True)
    assert any("J = orbit_jacobians(model, Z).detach()" in c.source for c in nb.cells)


def test_verdict_source():
    source, names = _verdict_source("check_a(f, tol=1e-3)\nx = 1\nif x:\n    check_c(f)\n"
                                    "check_b(g, *rest)", "N")
    assert names == ["check_a", "check_b"]
    assert source == ("import course_utils.grading.kernel as _grading_kernel\n"
                      "_grading_kernel.run('N', 'check_a', f, tol=0.001)\n"
                      "_grading_kernel.run('N', 'check_b', g, *rest)\n"
                      "_grading_kernel.passed('N', ['check_a', 'check_b'])")
    compile(source, "<verdict>", "exec")


def test_verdict_source_with_double_star_arguments():
    source, _ = _verdict_source("check_a(f, **options)", "N")
    compile(source, "<verdict>", "exec")
    assert "_grading_kernel.run('N', 'check_a', f, **options)" in source


# --- reports --------------------------------------------------------------------------------

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
        "**failed**: J[0, 1] is 0.52 <b>, expected 0.49\n\n"
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
    assert "## \u2717 Task 1 (J): 0 of 2 points\n\n**failed**: " + WRONG_J in bob
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
                                 "found": "tagged", "seconds": 1.0}
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


# --- the kernel's environment and the sandbox mode ------------------------------------------

def test_kernel_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_TOKEN", "do not pass on")
    monkeypatch.setenv("COURSE_QUICK", "0")
    monkeypatch.setenv("LANG", "C.UTF-8")
    env = sandbox.kernel_environment(tmp_path)
    assert env["COURSE_QUICK"] == "1"  # quick mode
    assert env["CI"] == "true"  # no progress bars
    assert env["HOME"] == env["TMPDIR"] == str(tmp_path)
    assert env["MPLCONFIGDIR"] == str(tmp_path / ".mpl") and env["MPLBACKEND"] == "Agg"
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                 "TF_NUM_INTEROP_THREADS", "TF_NUM_INTRAOP_THREADS"):
        assert env[name] == "1"
    assert env["PATH"] == os.environ["PATH"] and env["LANG"] == "C.UTF-8"
    assert "SECRET_TOKEN" not in env
    assert set(env) <= set(sandbox._PASSED_ON) | {
        "HOME", "TMPDIR", "MPLCONFIGDIR", "MPLBACKEND", "CI", "PYTHONDONTWRITEBYTECODE",
        "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "TF_CPP_MIN_LOG_LEVEL",
        "TF_ENABLE_ONEDNN_OPTS", "KERAS_BACKEND", "TF_NUM_INTEROP_THREADS",
        "TF_NUM_INTRAOP_THREADS", "JUPYTER_PLATFORM_DIRS", "PYDEVD_DISABLE_FILE_VALIDATION",
        "COURSE_QUICK"}
    full = sandbox.kernel_environment(tmp_path, quick=False)
    assert "COURSE_QUICK" not in full and full["CI"] == "true"
    # What the course's own switches make of it.
    from course_utils import runtime

    for name in ("COURSE_QUICK", "CI"):
        monkeypatch.setenv(name, env[name])
    assert runtime.quick_mode() and runtime._env_flag("CI")


def test_resolve_sandbox(monkeypatch):
    assert sandbox.resolve_sandbox("none") == "none"
    with pytest.raises(ValueError, match="sandbox must be 'auto', 'bwrap' or 'none'; "
                                         "got 'docker'"):
        sandbox.resolve_sandbox("docker")
    monkeypatch.setattr(sandbox, "bwrap_available", lambda: False)
    assert sandbox.resolve_sandbox("auto") == "none"
    with pytest.raises(RuntimeError, match="bubblewrap cannot run here"):
        sandbox.resolve_sandbox("bwrap")
    monkeypatch.setattr(sandbox, "bwrap_available", lambda: True)
    assert sandbox.resolve_sandbox("auto") == "bwrap"
    assert sandbox.resolve_sandbox("bwrap") == "bwrap"


@pytest.mark.parametrize("mode", ["none", "bwrap"])
def test_kernel_command(tmp_path, mode):
    km = sandbox.SandboxedKernelManager(tmp_path, sandbox=mode, memory=1 << 30,
                                        file_size=1 << 20)
    command = km.format_kernel_cmd()
    launcher = [sys.executable, "-m", "course_utils.grading.launcher", "--memory",
                str(1 << 30), "--file-size", str(1 << 20), "--", "-f",
                str(tmp_path / ".kernel.json")]
    assert (km.transport, km.ip) == ("ipc", str(tmp_path / "ipc"))
    if mode == "none":
        assert command == launcher
    else:
        assert command[-len(launcher):] == launcher
        bwrap = command[:-len(launcher)]
        assert bwrap[0] == "bwrap" and bwrap[-2:] == ["--chdir", str(tmp_path)]
        for flag in ("--unshare-all", "--die-with-parent", "--new-session"):
            assert flag in bwrap
        assert bwrap[bwrap.index("--bind") + 1:bwrap.index("--bind") + 3] == [str(tmp_path)] * 2
        assert bwrap[bwrap.index("--cap-drop") + 1] == "ALL"
        assert bwrap[1:4] == ["--ro-bind", "/", "/"]


def test_bwrap_hides_solutions_and_submissions_but_never_the_environment(tmp_path, root):
    from course_utils.grading.sandbox import _bwrap_args

    folder, notebook = tmp_path / "subs", tmp_path / "alice.ipynb"
    folder.mkdir()
    notebook.write_text("{}")
    args = _bwrap_args(tmp_path / "work", (folder, notebook, tmp_path / "missing",
                                           Path(sys.prefix).parent, root / "src"))
    pairs = list(zip(args, args[1:]))
    assert ("--tmpfs", str(folder.resolve())) in pairs
    assert args[args.index(str(notebook.resolve())) - 1] == "/dev/null"
    assert str(tmp_path / "missing") not in args
    assert ("--tmpfs", str(Path(sys.prefix).parent.resolve())) not in pairs  # the environment
    assert ("--tmpfs", str((root / "src").resolve())) not in pairs           # the package
    # The masks come before the kernel's own folder, which stays writable.
    assert args.index(str(folder.resolve())) < args.index("--bind")


def test_bwrap_keeps_a_python_environment_that_lives_under_tmp(monkeypatch, tmp_path):
    """The sandbox's /tmp is empty: an environment or clone in /tmp (as CI may have it) is
    bound back read-only, and only the outermost of nested folders."""
    from course_utils.grading.sandbox import _bwrap_args

    env = Path(tempfile.mkdtemp(dir="/tmp"))
    (env / "lib" / "site").mkdir(parents=True)
    try:
        monkeypatch.setattr(sys, "path", [str(env / "lib" / "site"), str(env), "/usr/lib"])
        args = _bwrap_args(tmp_path / "work")
        binds = [args[k + 1] for k, a in enumerate(args) if a == "--ro-bind"]
        assert str(env.resolve()) in binds
        assert str((env / "lib" / "site").resolve()) not in binds  # inside env already
        assert "/usr/lib" not in binds                              # visible anyway
        assert args.index(str(env.resolve())) > args.index("/tmp")  # after the empty /tmp
    finally:
        shutil.rmtree(env)
