"""Unit tests of the grader's pure-Python parts: no task is run here.

Submissions (collect, read_notebook, task_code, symbolic links), the
reference (load_reference), the worker's job (build_job), the reports (escaping, formulas,
identical submissions) and the task's environment. The end-to-end grading is tested in
test_grading.py and test_grading_attacks.py, the sandbox in test_grading_sandbox.py.
"""

import base64
import copy
import csv
import json
import marshal
import re
import stat
import zipfile

import nbformat
import pytest

from course_utils.grading.report import (StudentResult, common_failures, csv_cell,
                                         feedback_html, feedback_markdown, identical_groups,
                                         md_escape, normalise_message, write_reports)
from course_utils.grading.runner import TaskResult, build_job, clean_message, review_task
from course_utils.grading.submissions import (SYMLINK, Submission, collect, load_reference,
                                              read_notebook, task_code)
from course_utils.notebooks import Task, parse_percent

CHAPTER = "04_plrnn_max_lyapunov"
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


# --- the worker's job -----------------------------------------------------------------------

def _code(blob):
    return marshal.loads(blob)


def test_build_job(reference):
    task1, task2 = reference.tasks
    student = "def naive_norms(J):\n    return J\ncheck_naive_norms(naive_norms)\nprint(1)"
    job, blobs = build_job(reference, task2, student)
    assert job["kind"] == "job" and job["chapter"] == CHAPTER
    runs, last = job["steps"][:-1], job["steps"][-1]
    # The reference cells before the task, as compiled code without their source, the
    # earlier task with its solution, its check cell without the check.
    assert [step["cell"] for step in runs] == list(range(task2.code_cell))
    for step in runs:
        code = _code(blobs[step["run"]])
        assert code.co_filename == f"<reference cell {step['cell']}>"
    assert all(isinstance(b, bytes) for b in blobs)
    assert not any(reference.code_cells[0].encode() in b for b in blobs)  # no source text
    check_cell = _code(blobs[runs[task1.check_cell]["run"]])
    assert "check_plrnn_jacobians" not in check_cell.co_names
    assert last == {"task": "task2", "source": "def naive_norms(J):\n    return J\nprint(1)",
                    "args": {"check_naive_norms": last["args"]["check_naive_norms"]},
                    "references": ["course_utils.lyapunov.naive_product_log_norms"]}
    args = _code(blobs[last["args"]["check_naive_norms"]])
    assert eval(args, {"naive_norms": "mine"}) == ("mine",)
    first, _ = build_job(reference, task1, "def orbit_jacobians(m, Z):\n    pass")
    assert len(first["steps"]) == task1.code_cell + 1


def test_build_job_of_the_reference_verifies_every_task(reference):
    task1, task2 = reference.tasks
    job, blobs = build_job(reference, task2, None, verify=True)
    tasks = [s for s in job["steps"] if "task" in s]
    assert [s["task"] for s in tasks] == ["task1", "task2"]
    assert all("code" in s and "source" not in s for s in tasks)
    position = job["steps"].index(tasks[0])
    assert position == task1.code_cell
    # After task 1, the cells up to task 2 run, the check cell without its check.
    assert [s.get("cell") for s in job["steps"][position + 1:-1]] == list(
        range(task1.code_cell + 1, task2.code_cell))


def test_review_task_uses_the_names_the_reference_imports(reference):
    task1, task2 = reference.tasks
    assert review_task(reference, task1, reference.code_cells[task1.code_cell]) == []
    assert review_task(reference, task2, "def naive_norms(J):\n    return J") == []
    found = review_task(reference, task1, "def orbit_jacobians(model, Z):\n"
                                          "    return model.jacobian(Z)")
    assert found == ["jacobian (the course's reference for this task), line 2"]
    # max_lyapunov is imported by the reference's first cell: known to be the package's.
    found = review_task(reference, task2, "import inspect\nx = inspect.getsource(max_lyapunov)")
    assert [f.split(" (")[0] for f in found] == ["inspect"]


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
    for page in ((out / "summary.html").read_text(), (out / "feedback" / "x.html").read_text()):
        assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


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


def test_clean_message():
    assert clean_message("\x1b[1mbold\x1b[0m\nnext\tline\u2028x") == "bold next line x"
    assert len(clean_message("x" * 1000)) == 300
    assert clean_message("x" * 1000).endswith("...")


@pytest.mark.parametrize("value, cell", [
    ("=1+2", "'=1+2"), ("+1", "'+1"), ("-cmd", "'-cmd"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("alice", "alice"), ("review: exec (task1)", "review: exec (task1)"),
])
def test_csv_cells_never_start_a_formula(value, cell):
    assert csv_cell(value) == cell


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


# --- symbolic links -------------------------------------------------------------------------

def test_a_linked_notebook_is_not_graded(tmp_path):
    target = _write(tmp_path / "elsewhere" / "solution.ipynb")
    group = tmp_path / "group"
    _write(group / "alice.ipynb")
    (group / "bob.ipynb").symlink_to(target)
    (group / "carol").mkdir()
    (group / "carol" / "sheet.ipynb").symlink_to(group / "alice.ipynb")
    (group / "dora").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (group / "emil").mkdir()
    (group / "emil" / "work").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    found = {s.student: (s.path, s.problem) for s in collect([group], tmp_path / "scratch")}
    assert found["alice"][1] is None
    for name in ("bob", "carol", "dora", "emil"):
        assert found[name] == (None, SYMLINK), name
    single = tmp_path / "me.ipynb"
    single.symlink_to(target)
    [me] = collect([single], tmp_path / "scratch2")
    assert (me.student, me.path, me.problem) == ("me", None, SYMLINK)
    assert read_notebook(single, CHAPTER) == (None, SYMLINK)


def test_a_symbolic_link_in_a_zip_is_not_graded(tmp_path):
    archive = tmp_path / "group.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("alice.ipynb", NOTEBOOK)
        link = zipfile.ZipInfo("bob.ipynb")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/work/solutions/04_plrnn_max_lyapunov.ipynb")
        folder = zipfile.ZipInfo("carol")
        folder.create_system = 3
        folder.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(folder, "/etc")
        zf.writestr("carol/x.ipynb", NOTEBOOK)
    found = {s.student: s for s in collect([archive], tmp_path / "scratch")}
    assert found["alice"].problem is None and found["alice"].digest
    assert found["bob"].problem == SYMLINK and found["bob"].path is None
    assert found["carol"].problem == SYMLINK
    assert not list((tmp_path / "scratch").rglob("x.ipynb"))


def test_submissions_carry_the_digest_of_their_bytes(tmp_path):
    a = _write(tmp_path / "a.ipynb")
    b = _write(tmp_path / "b.ipynb")
    c = _write(tmp_path / "c.ipynb", NOTEBOOK + " ")
    digests = {s.student: s.digest for s in collect([a, b, c], tmp_path / "s")}
    assert digests["a"] == digests["b"] != digests["c"]
