"""The repository as a whole: generated files up to date, exercise templates failing only
at their "your code here" cells, and the book building without warnings (quick mode)."""

import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from course_utils.notebooks import make_exercise, solution_sources, solution_tasks, to_ipynb

ROOT = Path(__file__).resolve().parents[1]
SOURCES = solution_sources(ROOT)


@pytest.fixture(autouse=True)
def quick(monkeypatch):
    monkeypatch.setenv("COURSE_QUICK", "1")
    monkeypatch.setenv("CI", "true")  # no progress bars in the logs


def test_release_check_passes():
    result = subprocess.run([sys.executable, "-m", "course_utils.notebooks", "release",
                             "--check", "--root", str(ROOT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def _cases():
    for source in SOURCES:
        tasks = solution_tasks(source.read_text(), source)
        for k, task in enumerate(tasks):
            yield pytest.param(source, k, task, id=f"{source.stem}-task{k + 1}")


@pytest.mark.parametrize("source, solved, task", list(_cases()))
def test_exercise_fails_only_at_its_stub(source, solved, task, record_property):
    """With the tasks before this one solved, the template runs until this task's stub and
    fails there with its NotImplementedError, never with another error before that.
    (solved=0 is exactly the committed template, as test_release_check_passes ensures.)"""
    text = make_exercise(source.read_text(), source, solved=solved)
    nb = nbformat.reads(to_ipynb(text, source.stem), as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(source.parent)}})
    start = time.perf_counter()
    with pytest.raises(CellExecutionError) as info:
        client.execute()
    record_property("notebook_seconds", time.perf_counter() - start)
    record_property("notebook_label", f"exercise (to task {solved + 1})  {source.stem}.ipynb")
    error = info.value
    assert error.ename == "NotImplementedError", f"failed before the stub:\n{error}"
    # Keras wraps an error raised in a layer's call with context, keeping its type.
    message = re.sub(r"\x1b\[[0-9;]*m", "", error.evalue)
    assert f"{task}: your code here" in message, message


def test_book_builds_without_warnings(book, record_property):
    """The book (the session's one build, tests/conftest.py, shared with test_book.py)."""
    record_property("notebook_seconds", book.seconds)
    record_property("notebook_label", "book build, all chapters")
    result, html = book.result, book.html
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (html / "book" / "intro.html").exists()
    for source in SOURCES:
        page = (html / "solutions" / f"{source.stem}.html").read_text()
        assert "<img" in page, f"{source.stem}: no figure rendered"
        assert "Traceback" not in page
    henon = (html / "solutions" / "01_henon_keras_rnn.html").read_text()
    assert "lambda_1 = 0.4" in henon and "ln b = ln 0.3 = -1.203973" in henon
    chapter2 = (html / "solutions" / "02_keras_rnn_lyapunov.html").read_text()
    assert "equal to batch_jacobian: True" in chapter2 and "Kaplan-Yorke dimension" in chapter2
    stf = (html / "solutions" / "03_stf_lorenz.html").read_text()
    assert "same gradients: True" in stf and "PLRNN vs test data" in stf
    naive_qr = (html / "solutions" / "04_plrnn_max_lyapunov.html").read_text()
    assert "within 5 % of the truth: True" in naive_qr and "predicted overflow" in naive_qr
    assert "Argument." in naive_qr          # the solution's answer to the question
    single = (html / "solutions" / "05_single_variable_reconstruction.html").read_text()
    assert "lambda_max = " in single and "per time unit" in single
    fixed = (html / "solutions" / "07_rnn_fixed_points.html").read_text()
    assert "linearization error ~ eps^" in fixed and "Lorenz-63 fixed point" in fixed
    lru = (html / "solutions" / "08_lru_modal_dynamics.html").read_text()
    assert "scan vs loop, T = 10,000" in lru and "teacher mode" in lru
    api = (html / "book" / "api.html").read_text()
    for name in ("lyapunov_spectrum", "max_lyapunov", "naive_product_log_norms",
                 "predicted_overflow_step", "kaplan_yorke_dimension", "rnn_lyapunov_spectrum",
                 "ShallowPLRNN", "make_lorenz_dataset", "train_stf", "stf_forward_fused",
                 "state_space_divergence", "power_spectrum_distance", "load_pretrained_plrnn",
                 "Linearization", "find_fixed_points", "plrnn_fixed_points",
                 "linear_recurrence_scan", "LRU", "DeepGRU", "flipflop_batch",
                 "orbit_fates", "OrbitFates", "runtime.device"):
        assert f'id="course_utils.' in api and name in api, f"API page lacks {name}"
    assert "Benettin" in api and "per time unit" in api
