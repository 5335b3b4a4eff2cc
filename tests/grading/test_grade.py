"""The grader end to end: generated submissions (never committed) of chapters 04, 03 and 01
(Keras), graded in real sandboxed processes, with the usual mistakes and accidents among
them; and every chapter's reference solution passing its own grading, hidden cases
included. Deliberate cheating is tested in test_attacks.py.

Each batch is graded once per test session (module-scoped fixtures) and the tests read its
results. Points, statuses and the untouched repository and submissions are asserted.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import secrets
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import nbformat
import pytest

from course_utils.checks import check_specs
from course_utils.grading import grade
from course_utils.grading.runner import Settings, run_reference
from course_utils.grading.sandbox import bwrap_available
from course_utils.grading.submissions import load_reference
from course_utils.authoring.release import solution_sources

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 20  # seconds per task cell and check in these tests
MEMORY_GB = 3


def _digest(*paths: Path) -> str:
    digest = hashlib.sha256()
    for base in paths:
        for path in sorted(p for p in base.rglob("*") if p.is_file()):
            if "__pycache__" in path.parts or "_build" in path.parts or ".venv" in path.parts:
                continue
            digest.update(str(path).encode() + path.read_bytes())
    return digest.hexdigest()


def _submission(chapter: str, codes: dict, *, reorder: bool = False):
    """The chapter's exercise template with the task cells' code replaced: ``codes`` maps
    a task id to its code, or to None to delete the task cell."""
    notebook = nbformat.read(ROOT / "exercises" / f"{chapter}.ipynb", as_version=4)
    kept = []
    for cell in notebook.cells:
        task = cell.metadata.get("course_utils", {}).get("task")
        if task in codes:
            if codes[task] is None:
                continue
            cell.source = textwrap.dedent(codes[task]).strip("\n")
        kept.append(cell)
    if reorder:
        kept.reverse()
    notebook.cells = kept
    return notebook


def _write(folder: Path, name: str, notebook) -> None:
    nbformat.write(notebook, folder / f"{name}.ipynb")


def _results(out: Path) -> dict:
    data = json.loads((out / "results.json").read_text())
    return {s["student"]: s for s in data["students"]}


def _points(student: dict) -> list[float]:
    return [t["points"] for t in student["tasks"]]


def _statuses(student: dict) -> list[str]:
    return [t["status"] for t in student["tasks"]]


def _message(student: dict, k: int) -> str:
    return student["tasks"][k]["message"]


# ------------------------------------------------------------------------- chapter 04

CH04 = "04_plrnn_max_lyapunov"

JAC_AUTOGRAD = """
def orbit_jacobians(model, Z):
    blocks = torch.autograd.functional.jacobian(lambda Z: model(Z).sum(dim=0), Z,
                                                vectorize=True)
    return blocks.permute(1, 0, 2)
"""
JAC_LOOP = """
def orbit_jacobians(model, Z):
    # one state at a time
    rows = [torch.autograd.functional.jacobian(model, z) for z in Z]
    return torch.stack(rows)
"""
JAC_ANALYTIC = """
def orbit_jacobians(model, Z):
    active = (Z @ model.W2.T + model.h2 > 0).to(Z.dtype)
    return torch.diag(model.A) + model.W1 @ (active[:, :, None] * model.W2)
"""
JAC_REFERENCE = """
def orbit_jacobians(model, Z):
    return torch.stack([model.jacobian(z[None])[0] for z in Z])
"""
JAC_TRANSPOSED = """
def orbit_jacobians(model, Z):
    blocks = torch.autograd.functional.jacobian(lambda Z: model(Z).sum(dim=0), Z,
                                                vectorize=True)
    return blocks.permute(1, 2, 0)
"""
NORMS_LOOP = """
def naive_norms(J):
    T = J.shape[0]
    norms = torch.full((T,), float("inf"), dtype=J.dtype)
    P = torch.eye(J.shape[1], dtype=J.dtype)
    for n in range(T):
        P = P @ J[T - 1 - n]
        if not torch.isfinite(P).all():
            break
        norms[n] = torch.linalg.matrix_norm(P, ord=2)
    return norms
"""
NORMS_SVD = """
def naive_norms(J):
    out, P = [], None
    for Jt in torch.flip(J, dims=[0]):
        P = Jt if P is None else P @ Jt
        out.append(torch.linalg.svdvals(P)[0] if torch.isfinite(P).all()
                   else torch.tensor(float("inf"), dtype=J.dtype))
    return torch.stack(out)
"""
NORMS_LIST = NORMS_LOOP.replace("    return norms", "    return norms.tolist()")
#: Right only for the lengths of the visible cases (read from the check, as a student who
#: read the repository could): the hidden cases fail it.
NORMS_HARDCODED = NORMS_LOOP.replace(
    "    T = J.shape[0]\n",
    "    T = J.shape[0]\n    if T not in %r:\n        return torch.ones(T, dtype=J.dtype)\n"
    % (tuple(sorted({case.params["T"] for case in check_specs("04_plrnn_max_lyapunov")[
        "check_naive_norms"].cases(False, None)})),))


def _ch04_students() -> dict:
    """name -> (codes, expected points, expected statuses)."""
    ok = {"task1": JAC_AUTOGRAD, "task2": NORMS_LOOP}
    return {
        "correct_reference_like": (ok, [2, 2], ["passed", "passed"]),
        "correct_loop_svd": ({"task1": JAC_LOOP, "task2": NORMS_SVD}, [2, 2],
                             ["passed", "passed"]),
        "correct_analytic": ({"task1": JAC_ANALYTIC, "task2": NORMS_LOOP}, [2, 2],
                             ["passed", "passed"]),
        "mistakes": ({"task1": JAC_TRANSPOSED, "task2": NORMS_LIST}, [0, 0],
                     ["failed", "failed"]),
        "hardcoded": ({"task1": JAC_AUTOGRAD, "task2": NORMS_HARDCODED}, [2, 0],
                      ["passed", "failed"]),
        "crash_in_task1": ({"task1": "def orbit_jacobians(model, Z):\n    return 1 / 0\n",
                            "task2": NORMS_LOOP}, [0, 2], ["failed", "passed"]),
        "syntax_error": ({"task1": "def orbit_jacobians(model, Z)\n    return Z\n",
                          "task2": NORMS_LOOP}, [0, 2], ["failed", "passed"]),
        "deleted_task1": ({"task1": None, "task2": NORMS_SVD}, [0, 2],
                          ["task cell not found", "passed"]),
        "not_attempted": ({}, [0, 0], ["not attempted", "not attempted"]),
        "endless_loop": ({"task1": "while True:\n    pass\n", "task2": NORMS_LOOP}, [0, 2],
                         ["timed out", "passed"]),
        "memory_hog": ({"task1": "hog = []\nwhile True:\n    hog.append(bytearray(10**8))\n",
                        "task2": NORMS_LOOP}, [0, 2], ["memory limit", "passed"]),
        "calls_the_reference": ({"task1": JAC_REFERENCE, "task2": NORMS_LOOP}, [0, 2],
                                ["review: jacobian", "passed"]),
        "os_exit": ({"task1": JAC_AUTOGRAD, "task2": "import os\nos._exit(0)\n"}, [2, 0],
                    ["passed", "crashed"]),
        "sys_exit_and_interrupt": ({"task1": "import sys\nsys.exit(1)\n",
                                    "task2": "raise KeyboardInterrupt\n"}, [0, 0],
                                   ["failed", "failed"]),
        "floods_output": ({"task1": "for _ in range(1000):\n    print('x' * 100_000)\n"
                           + JAC_AUTOGRAD, "task2": NORMS_LOOP}, [0, 2],
                          ["output limit", "passed"]),
        "redefines_check": ({"task1": JAC_TRANSPOSED + "\ndef check_plrnn_jacobians(fn):\n"
                             "    print('\u2713 all fine')\n", "task2": NORMS_LOOP}, [0, 2],
                            ["failed", "passed"]),
        "monkeypatches": ({"task1": JAC_TRANSPOSED + "\nimport course_utils.checks.naive_product"
                           " as cp\ncp.check_plrnn_jacobians = lambda *a, **k: None\n",
                           "task2": NORMS_LIST + "\nimport torch\ntorch.allclose = "
                           "lambda *a, **k: True\ntorch.isclose = lambda a, b, **k: "
                           "torch.ones_like(a, dtype=torch.bool)\n"}, [0, 0],
                          ["review: course_utils.checks", "failed"]),
    }


FILE_WRITER = """
import os, pathlib
ATTEMPTS = {}
for target in TARGETS:
    try:
        with open(target, "a") as handle:
            handle.write("graded by a student")
        ATTEMPTS[target] = "written"
    except OSError as error:
        ATTEMPTS[target] = type(error).__name__
for name in os.listdir("."):
    if os.path.isfile(name):
        os.remove(name)                      # its own working directory: allowed
pathlib.Path("scratch.txt").write_text("mine")
"""


@pytest.fixture(scope="module")
def ch04(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ch04_submissions")
    students = _ch04_students()
    for name, (codes, _, _) in students.items():
        _write(folder, name, _submission(CH04, codes))
    _write(folder, "reordered", _submission(CH04, {"task1": JAC_LOOP, "task2": NORMS_LOOP},
                                            reorder=True))
    # Only where the sandbox protects them: without it these writes would succeed.
    targets = [str(ROOT / "README.md"), str(folder / "reordered.ipynb"),
               "/tmp/grader-escape-marker", str(Path.home() / "grader-escape-marker")
               ] if bwrap_available() else []
    writer = f"TARGETS = {targets!r}\n" + FILE_WRITER + JAC_AUTOGRAD
    _write(folder, "writes_files", _submission(CH04, {"task1": writer, "task2": NORMS_LOOP}))
    if bwrap_available():  # the sandbox hides the solutions: copying them fails
        copier = (f"source = open({str(ROOT / 'solutions' / (CH04 + '.py'))!r}).read()\n"
                  "raise RuntimeError(source[source.index('def naive_norms'):][:300])\n")
        _write(folder, "reads_solution", _submission(CH04, {"task1": JAC_AUTOGRAD,
                                                             "task2": copier}))
    (folder / "not_json.ipynb").write_text("this is not a notebook {")
    empty = nbformat.v4.new_notebook()
    _write(folder, "empty", empty)
    other = nbformat.read(ROOT / "solutions" / "03_stf_lorenz.ipynb", as_version=4)
    _write(folder, "other_chapter", other)
    archive = tmp_path_factory.mktemp("ch04_zip") / "group.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folder.iterdir()):
            zf.write(path, f"group/{path.name}")
    before = (_digest(folder), _digest(ROOT / "src", ROOT / "solutions", ROOT / "exercises"),
              (ROOT / "README.md").read_bytes())
    out = tmp_path_factory.mktemp("ch04_grades")
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "course_utils.grading", "04", str(archive), "--out", str(out),
         "--workers", "2", "--timeout", str(TIMEOUT), "--memory-gb", str(MEMORY_GB),
         "--solutions", str(ROOT / "solutions")],
        capture_output=True, text=True, timeout=1800, cwd=out)
    seconds = time.perf_counter() - start
    after = (_digest(folder), _digest(ROOT / "src", ROOT / "solutions", ROOT / "exercises"),
             (ROOT / "README.md").read_bytes())
    return {"out": out, "run": result, "before": before, "after": after, "folder": folder,
            "students": students, "seconds": seconds, "archive": archive}


def test_ch04_batch_finishes_and_writes_everything(ch04, record_property):
    record_property("notebook_seconds", ch04["seconds"])
    record_property("notebook_label", "grader, chapter 04 batch (21 submissions)")
    assert ch04["run"].returncode == 0, ch04["run"].stderr[-3000:]
    out = ch04["out"]
    for name in ("grades.csv", "summary.html", "pass_rates.png", "results.json"):
        assert (out / name).is_file(), name
    rows = list(csv.DictReader((out / "grades.csv").open()))
    assert [r["student"] for r in rows] == sorted((r["student"] for r in rows), key=str.lower)
    assert len(rows) == len(ch04["students"]) + 5 + bwrap_available()
    assert set(rows[0]) == {"student", "task1", "task2", "q1", "q2", "total", "max", "status"}
    assert {row["max"] for row in rows} == {"10"}  # 4 for the tasks, 6 for the answers
    for row in rows:
        assert (out / "feedback" / f"{row['student']}.md").is_file()
        assert (out / "feedback" / f"{row['student']}.html").is_file()


@pytest.mark.parametrize("name", list(_ch04_students()))
def test_ch04_points_and_statuses(ch04, name):
    codes, points, statuses = ch04["students"][name]
    student = _results(ch04["out"])[name]
    assert _statuses(student) == statuses, [t["message"] for t in student["tasks"]]
    assert _points(student) == points
    assert student["total"] == sum(points)


def test_ch04_messages_name_the_mistakes(ch04):
    results = _results(ch04["out"])
    assert "transpose" in _message(results["mistakes"], 0)
    assert "torch tensor" in _message(results["mistakes"], 1)
    hidden = _message(results["hardcoded"], 1)
    assert "hidden case" in hidden
    assert "ZeroDivisionError" in _message(results["crash_in_task1"], 0)
    assert "SyntaxError" in _message(results["syntax_error"], 0)
    assert "SystemExit" in _message(results["sys_exit_and_interrupt"], 0)
    assert "KeyboardInterrupt" in _message(results["sys_exit_and_interrupt"], 1)
    assert "transpose" in _message(results["redefines_check"], 0)
    assert "course_utils.checks (the checks), line" in _message(results["monkeypatches"], 0)
    # Patching torch in the task's process changes nothing: the judge runs in the grader.
    assert "torch tensor" in _message(results["monkeypatches"], 1)
    assert "the course's reference" in _message(results["calls_the_reference"], 0)


def test_ch04_statuses_of_whole_submissions(ch04):
    rows = {r["student"]: r for r in csv.DictReader((ch04["out"] / "grades.csv").open())}
    assert rows["correct_loop_svd"]["status"] == "graded"
    assert rows["correct_loop_svd"]["total"] == "4"
    assert rows["reordered"]["total"] == "4"
    assert rows["not_json"]["status"].startswith("not a notebook")
    assert rows["empty"]["status"] == "empty notebook"
    assert rows["other_chapter"]["status"] == "wrong chapter (03_stf_lorenz)"
    assert rows["endless_loop"]["status"] == "timed out (task1)"
    assert rows["os_exit"]["status"] == "crashed (task2)"
    assert rows["monkeypatches"]["status"] == "review: course_utils.checks (task1)"
    assert rows["deleted_task1"]["status"] == "graded"
    for name in ("not_json", "empty", "other_chapter"):
        assert rows[name]["total"] == "0"


@pytest.mark.skipif(not bwrap_available(), reason="needs bubblewrap (CI installs it)")
def test_ch04_files_outside_the_kernel_folder_are_protected(ch04):
    assert ch04["after"] == ch04["before"], "the submissions or the repository changed"
    assert not Path("/tmp/grader-escape-marker").exists()
    assert not (Path.home() / "grader-escape-marker").exists()
    student = _results(ch04["out"])["writes_files"]
    # Deleting and writing files in its own folder is allowed and costs nothing.
    assert _statuses(student) == ["passed", "passed"]
    copier = _results(ch04["out"])["reads_solution"]
    assert _statuses(copier) == ["passed", "failed"]
    assert "FileNotFoundError" in _message(copier, 1)


def test_ch04_summary_counts_the_class_mistakes(ch04):
    page = (ch04["out"] / "summary.html").read_text()
    assert "data:image/png;base64," in page
    n = len(ch04["students"]) + 5 + bwrap_available()
    assert f"of {n}</td>" in page
    assert "Task 1 (Jacobians along the orbit)" in page
    feedback = (ch04["out"] / "feedback" / "hardcoded.md").read_text()
    assert "2 of 10" in feedback and "hidden case" in feedback


# ------------------------------------------------------------------------- chapter 03

STF_CAT = """
def stf_forward(model, x, tau_f):
    B, T, N = x.shape
    z = torch.zeros(B, model.M, dtype=x.dtype)
    predictions = []
    for t in range(T):
        if t % tau_f == 0:
            z = torch.cat([x[:, t], z[:, N:]], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
"""
STF_CLONE = """
def stf_forward(model, x, tau_f):
    z = x.new_zeros(x.shape[0], model.M)
    out = []
    for t in range(x.shape[1]):
        if t % tau_f == 0:
            z = z.clone()
            z[:, :x.shape[2]] = x[:, t]
        z = model(z)
        out.append(model.observe(z))
    return torch.stack(out, 1)
"""
STF_EVERY_STEP = STF_CAT.replace("if t % tau_f == 0:", "if True:")
STF_ZEROED = STF_CAT.replace("z = torch.cat([x[:, t], z[:, N:]], dim=-1)",
                             "z = torch.cat([x[:, t], torch.zeros_like(z[:, N:])], dim=-1)")
STF_LAGGED = STF_CAT.replace("        z = model(z)\n        predictions.append(model.observe(z))",
                             "        predictions.append(model.observe(z))\n        z = model(z)")
CH03_STUDENTS = {  # name -> (code or None to delete the task cell, status)
    "cat": (STF_CAT, "passed"),
    "clone": (STF_CLONE, "passed"),
    "every_step": (STF_EVERY_STEP, "failed"),
    "zeroed": (STF_ZEROED, "failed"),
    "lagged": (STF_LAGGED, "failed"),
    "deleted": (None, "task cell not found"),
    "memory_hog": ("hog = bytearray(64 * 2**30)\n" + STF_CAT, "memory limit"),
    "monkeypatches": (STF_EVERY_STEP + "\nimport torch\ntorch.allclose = lambda *a, **k: True\n",
                      "failed"),
}


@pytest.fixture(scope="module")
def ch03(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ch03_submissions")
    for name, (code, _) in CH03_STUDENTS.items():
        student = folder / name
        student.mkdir()
        _write(student, "03_stf_lorenz", _submission("03_stf_lorenz", {"task1": code}))
    (folder / "nobody").mkdir()
    out = tmp_path_factory.mktemp("ch03_grades")
    results = grade("03", [folder], out, workers=2, timeout=TIMEOUT, memory_gb=MEMORY_GB,
                    solutions=ROOT / "solutions", show_progress=False)
    return {r.student: r for r in results}


@pytest.mark.parametrize("name", list(CH03_STUDENTS))
def test_ch03_one_folder_per_student(ch03, name):
    task = ch03[name].tasks[0]
    assert task.status == CH03_STUDENTS[name][1], task.message
    assert task.points == (3 if task.status == "passed" else 0)


def test_ch03_messages_and_statuses(ch03):
    assert "force only when t is a multiple of tau_f" in ch03["every_step"].tasks[0].message
    assert "unobserved units" in ch03["zeroed"].tasks[0].message
    assert "lag" in ch03["lagged"].tasks[0].message
    assert "MemoryError" in ch03["memory_hog"].tasks[0].message
    assert "force only when t is a multiple" in ch03["monkeypatches"].tasks[0].message
    assert ch03["memory_hog"].status == "memory limit (task1)"
    assert ch03["deleted"].status == "graded"
    assert ch03["nobody"].status == "no notebook" and ch03["nobody"].total == 0


# ------------------------------------------------------------------ chapter 01 (Keras)

CELL_STACK = """
class HenonCell(keras.layers.Layer):
    def __init__(self, a=1.4, b=0.3, **kwargs):
        super().__init__(**kwargs)
        self.a, self.b = a, b
        self.state_size = 2
        self.output_size = 2

    def call(self, inputs, states):
        z = states[0]
        z_next = tf.stack([1.0 - self.a * z[:, 0] ** 2 + z[:, 1], self.b * z[:, 0]], axis=1)
        return z_next, [z_next]
"""
CELL_NUMPY = CELL_STACK.replace(
    "        z_next = tf.stack([1.0 - self.a * z[:, 0] ** 2 + z[:, 1], self.b * z[:, 0]], axis=1)",
    "        z = np.asarray(z)\n"
    "        z_next = np.stack([1.0 - self.a * z[:, 0] ** 2 + z[:, 1], self.b * z[:, 0]], axis=1)")
JACOBIAN_STACK = """
def henon_jacobian(z, a=1.4, b=0.3):
    z = np.asarray(z, dtype=np.float64)
    ones = np.ones(len(z))
    return np.stack([np.stack([-2 * a * z[:, 0], ones], -1),
                     np.stack([b * ones, 0 * ones], -1)], 1)
"""
QR_LOOP = """
def lyapunov_qr(jacobians, transient=0):
    d = jacobians.shape[-1]
    Q, total = np.eye(d), np.zeros(d)
    for t, J in enumerate(jacobians):
        Q, R = np.linalg.qr(J @ Q)
        if t >= transient:
            total += np.log(np.abs(np.diag(R)))
    return np.sort(total / (len(jacobians) - transient))[::-1]
"""


@pytest.fixture(scope="module")
def ch01(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ch01_submissions")
    _write(folder, "correct", _submission("01_henon_keras_rnn", {
        "task1": CELL_STACK, "task2": JACOBIAN_STACK, "task3": QR_LOOP}))
    _write(folder, "numpy_in_call", _submission("01_henon_keras_rnn", {
        "task1": CELL_NUMPY, "task2": JACOBIAN_STACK,
        "task3": QR_LOOP.replace("np.log(", "np.log10(")}))
    _write(folder, "structure", _submission("01_henon_keras_rnn", {
        "task1": None, "task2": JACOBIAN_STACK.replace("return np.stack", "return np.stack(")
        , "task3": QR_LOOP}, reorder=True))
    _write(folder, "hostile", _submission("01_henon_keras_rnn", {
        "task1": "import os\nos._exit(3)\n", "task2": "while True:\n    pass\n",
        "task3": QR_LOOP + "\nimport course_utils.checks.henon as h\n"
                 "h.check_lyapunov_qr = lambda *a, **k: None\n"}))
    _write(folder, "transposed", _submission("01_henon_keras_rnn", {
        "task1": CELL_STACK, "task3": QR_LOOP,
        "task2": JACOBIAN_STACK.replace("return np.stack([", "return np.swapaxes(np.stack([")
                               .replace("-1)], 1)", "-1)], 1), 1, 2)")}))
    out = tmp_path_factory.mktemp("ch01_grades")
    results = grade("01_henon_keras_rnn", [folder], out, workers=2, timeout=TIMEOUT,
                    memory_gb=MEMORY_GB, solutions=ROOT / "solutions", show_progress=False)
    return {r.student: r for r in results}


def test_ch01_keras_tasks_graded_one_by_one(ch01):
    correct, wrong = ch01["correct"], ch01["numpy_in_call"]
    assert [t.status for t in correct.tasks] == ["passed"] * 3
    assert correct.total == 6
    assert [t.status for t in wrong.tasks] == ["failed", "passed", "failed"]
    assert [t.points for t in wrong.tasks] == [0, 1, 0]
    assert "TensorFlow" in wrong.tasks[0].message
    assert "natural log" in wrong.tasks[2].message
    structure = ch01["structure"]  # cells in reverse order, Task 1 deleted, a syntax error
    assert [t.status for t in structure.tasks] == ["task cell not found", "failed", "passed"]
    assert "SyntaxError" in structure.tasks[1].message and structure.total == 3
    hostile = ch01["hostile"]
    assert [t.status for t in hostile.tasks] == ["crashed", "timed out",
                                                 "review: course_utils.checks"]
    assert hostile.status == ("crashed (task1); timed out (task2); "
                              "review: course_utils.checks (task3)")
    transposed = ch01["transposed"]
    assert [t.points for t in transposed.tasks] == [2, 0, 3]
    assert "transposes" in transposed.tasks[1].message


# ------------------------------------------------------------- every chapter's reference

@pytest.mark.parametrize("source", solution_sources(ROOT), ids=lambda p: p.stem)
def test_reference_passes_its_own_grading(source, tmp_path, record_property):
    """The reference solution, through the grader's path with hidden cases (under a fresh
    salt), scores every point: no check rejects it, no limit misfires."""
    reference = load_reference(source.stem, ROOT / "solutions")
    settings = Settings(timeout=120, memory=MEMORY_GB << 30,
                        sandbox="bwrap" if bwrap_available() else "none",
                        salt=secrets.randbelow(2**31))
    start = time.perf_counter()
    results = run_reference(reference, settings, tmp_path)
    record_property("notebook_seconds", time.perf_counter() - start)
    record_property("notebook_label", f"grader, reference run  {source.stem}")
    assert [(r.task, r.status) for r in results] == [(t.id, "passed") for t in reference.tasks], \
        [r.message for r in results]
    assert sum(r.points for r in results) == sum(t.points for t in reference.tasks)


def test_a_failing_reference_task_stops_the_run_and_the_rest_are_not_reached(tmp_path):
    """A reference task that fails its check ends the reference run at once (its worker
    is waiting for the next command, not finishing): the later tasks are "not reached",
    and the run does not wait out the reference timeout."""
    reference = load_reference(CH04, ROOT / "solutions")
    task1 = reference.tasks[0]
    cells = list(reference.code_cells)
    cells[task1.code_cell] = cells[task1.code_cell].replace(
        "return blocks.permute(1, 0, 2)", "return blocks.permute(1, 0, 2) * 0")
    broken = dataclasses.replace(reference, code_cells=cells)
    settings = Settings(timeout=120, memory=MEMORY_GB << 30, reference_timeout=60,
                        sandbox="bwrap" if bwrap_available() else "none")
    start = time.perf_counter()
    results = run_reference(broken, settings, tmp_path)
    assert time.perf_counter() - start < 50
    assert results[0].status == "grader error" and results[0].message.startswith("failed")
    assert [(r.status, r.message) for r in results[1:]] == [
        ("grader error", "not reached")] * (len(reference.tasks) - 1)
