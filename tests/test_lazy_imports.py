"""Importing course_utils (and its framework-free modules) imports neither TF nor torch,
and each framework's modules keep the other framework out."""

import subprocess
import sys

import pytest


def _imported_frameworks(modules):
    code = (f"import sys, {', '.join(modules)}; "
            "print(sorted(m for m in ('tensorflow', 'torch', 'keras') if m in sys.modules))")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_core_modules_do_not_import_tensorflow_or_torch():
    core = ["course_utils", "course_utils.henon", "course_utils.lorenz",
            "course_utils.lyapunov", "course_utils.checks", "course_utils.plotting",
            "course_utils.runtime", "course_utils.authoring.release", "course_utils.data",
            "course_utils.metrics", "course_utils.pretrained", "course_utils.sequence_tasks"]
    assert _imported_frameworks(core) == "[]"


@pytest.mark.parametrize("modules, expected", [
    (["course_utils.models", "course_utils.lyapunov"], "['torch']"),
    (["course_utils.training", "course_utils.data", "course_utils.pretrained"], "['torch']"),
    (["course_utils.linearization", "course_utils.lru", "course_utils.sequence_tasks"], "['torch']"),
    (["course_utils.keras_lyapunov", "course_utils.keras_cells"], "['keras', 'tensorflow']"),
])
def test_framework_modules_keep_the_other_framework_out(modules, expected):
    assert _imported_frameworks(modules) == expected


def test_numpy_checks_of_the_keras_chapter_import_no_framework():
    """Chapter 01's NumPy tasks are checked (hidden cases too) without PyTorch or
    TensorFlow: a Keras chapter's grading process never loads PyTorch."""
    code = ("import sys\n"
            "from course_utils.checks import check_henon_jacobian, check_lyapunov_qr\n"
            "from course_utils.henon import henon_jacobian\n"
            "from course_utils.lyapunov import lyapunov_from_jacobians\n"
            "check_henon_jacobian(henon_jacobian, hidden=True)\n"
            "check_lyapunov_qr(lambda J, transient=0: lyapunov_from_jacobians(J, transient="
            "transient), hidden=True)\n"
            "print(sorted(m for m in ('tensorflow', 'torch', 'keras') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip().splitlines()[-1] == "[]"
