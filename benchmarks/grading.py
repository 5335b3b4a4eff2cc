"""Wall time of the grader on a class of generated submissions of chapter 04.

Makes N submissions (default 30) from chapter 04's exercise template, as a class hands
them in: correct solutions written three ways, the usual mistakes (transposed Jacobians,
a list for a tensor, a hard-coded length caught by the hidden cases), a crash, a syntax
error, and untouched templates; zips them, and grades the zip with
``python -m course_utils.grade`` (``--workers``, default 2, and the default limits).
The solution variants are those of ``tests/test_grading.py``.

Prints JSON: seconds in all, seconds per submission, the machine, the sandbox used, and
the class's mean points, against the target of at most 300 s for 30 submissions with
``--workers 2`` on a 2-core machine.

    .venv/bin/python benchmarks/grading.py [--n 30] [--workers 2]
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import nbformat  # noqa: E402

from test_grading import (CH04, JAC_ANALYTIC, JAC_AUTOGRAD, JAC_LOOP,  # noqa: E402
                          JAC_TRANSPOSED, NORMS_HARDCODED, NORMS_LIST, NORMS_LOOP, NORMS_SVD,
                          _submission)

from course_utils.grading.sandbox import resolve_sandbox  # noqa: E402

CLASS = [  # (task 1, task 2), cycled over the class; {} is the untouched template
    {"task1": JAC_AUTOGRAD, "task2": NORMS_LOOP},
    {"task1": JAC_LOOP, "task2": NORMS_SVD},
    {"task1": JAC_ANALYTIC, "task2": NORMS_LOOP},
    {"task1": JAC_TRANSPOSED, "task2": NORMS_LIST},
    {"task1": JAC_AUTOGRAD, "task2": NORMS_HARDCODED},
    {"task1": "def orbit_jacobians(model, Z):\n    return 1 / 0\n", "task2": NORMS_SVD},
    {"task1": JAC_LOOP, "task2": "def naive_norms(J)\n    return J\n"},
    {"task1": JAC_AUTOGRAD, "task2": NORMS_LOOP},
    {},
    {"task1": JAC_TRANSPOSED, "task2": NORMS_LOOP},
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        archive = tmp / "class.zip"
        with zipfile.ZipFile(archive, "w") as zf:
            for k in range(args.n):
                notebook = _submission(CH04, CLASS[k % len(CLASS)])
                zf.writestr(f"class/student{k:02d}.ipynb", nbformat.writes(notebook))
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "course_utils.grade", "04", str(archive),
                        "--out", str(tmp / "grades"), "--workers", str(args.workers),
                        "--solutions", str(ROOT / "solutions"), "--quiet"],
                       check=True, capture_output=True, text=True, cwd=tmp)
        seconds = time.perf_counter() - start
        results = json.loads((tmp / "grades" / "results.json").read_text())
    totals = [s["total"] for s in results["students"]]
    print(json.dumps({
        "benchmark": "grade chapter 04", "submissions": args.n, "workers": args.workers,
        "sandbox": resolve_sandbox("auto"), "seconds": round(seconds, 1),
        "seconds_per_submission": round(seconds / args.n, 2),
        "target_seconds_for_30": 300, "mean_points": round(sum(totals) / len(totals), 2),
        "max_points": results["max_points"], "cpus": os.cpu_count(),
        "machine": platform.machine(), "python": platform.python_version()}, indent=1))


if __name__ == "__main__":
    main()
