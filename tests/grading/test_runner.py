"""The runner's pure-Python parts (course_utils.grading.runner): the worker's job built from
the reference and a student's task cell, the review of a task cell with the names the
reference imports, and the messages it cleans. No task is run here."""

import marshal

import pytest

from course_utils.grading.runner import build_job, clean_message, review_task
from course_utils.grading.submissions import load_reference

CHAPTER = "04_plrnn_max_lyapunov"


@pytest.fixture(scope="module")
def reference(root):
    return load_reference(CHAPTER, root / "solutions")


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


# --- messages -------------------------------------------------------------------------------

def test_clean_message():
    assert clean_message("\x1b[1mbold\x1b[0m\nnext\tline\u2028x") == "bold next line x"
    assert len(clean_message("x" * 1000)) == 300
    assert clean_message("x" * 1000).endswith("...")
