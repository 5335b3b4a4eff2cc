"""The grader's command line (python -m course_utils.grading, course_utils/grading/__main__):
a student grades their own notebook and reads its feedback; an unknown chapter is a clear
error. The command grading whole classes is tested in test_grade.py."""

import subprocess
import sys

import nbformat

from tests.grading.test_grade import CH04, JAC_AUTOGRAD, NORMS_LIST, ROOT, TIMEOUT, _submission


def test_single_notebook_prints_its_feedback(tmp_path):
    """A student grades their own notebook before uploading it."""
    notebook = tmp_path / "me.ipynb"
    nbformat.write(_submission(CH04, {"task1": JAC_AUTOGRAD, "task2": NORMS_LIST}), notebook)
    result = subprocess.run(
        [sys.executable, "-m", "course_utils.grading", CH04, str(notebook), "--out",
         str(tmp_path / "out"), "--quiet", "--timeout", str(TIMEOUT),
         "--solutions", str(ROOT / "solutions")],
        capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "# Feedback: 04_plrnn_max_lyapunov" in result.stdout
    # 2 of the tasks' 4 points; the 6 of the two written answers are the tutor's to give.
    assert "**Points:** 2 of 10" in result.stdout and "torch tensor" in result.stdout
    assert "## Question 1 (why the naive product fails): 0 of 3 points" in result.stdout
    assert "No answer found" in result.stdout
    assert f"open {tmp_path / 'out' / 'manual.html'}" in result.stdout
    assert "graded 1 submission in" in result.stdout


def test_unknown_chapter_is_a_clear_error(tmp_path):
    result = subprocess.run([sys.executable, "-m", "course_utils.grading", "99", str(tmp_path),
                             "--solutions", str(ROOT / "solutions")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "unknown chapter '99'" in result.stderr and "04_plrnn_max_lyapunov" in result.stderr
