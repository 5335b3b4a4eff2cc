"""Importing course_utils (and its framework-free modules) imports neither TF nor torch."""

import subprocess
import sys


def test_core_modules_do_not_import_tensorflow_or_torch():
    code = ("import sys, course_utils, course_utils.henon, course_utils.lyapunov, "
            "course_utils.checks, course_utils.plotting, course_utils.runtime, "
            "course_utils.notebooks; "
            "print(sorted(m for m in ('tensorflow', 'torch', 'keras') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"
