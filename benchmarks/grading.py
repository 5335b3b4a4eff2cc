"""Wall time and peak memory of the grader on a class of generated submissions of chapter 04.

Makes N submissions (default 30) from chapter 04's exercise template, as a class hands
them in: correct solutions written three ways, the usual mistakes (transposed Jacobians,
a list for a tensor, a hard-coded length caught by the hidden cases), a crash, a syntax
error, and untouched templates; zips them, and grades the zip with
``python -m course_utils.grading`` (``--workers``, default 2, and the default limits). The
solution variants are those of ``tests/grading/test_grade.py``.

With ``--before REV`` the same class is graded, in the same run, by the grader of the git
revision REV as well (checked out into a temporary worktree and run with this
environment), so that the two times compare on one machine. With ``--hostile`` a class of
N hostile submissions (output floods, floods of the result pipe, huge exception messages,
memory and file hogs, threads left running, ...) is graded too, to compare the grader's
own peak memory with the honest class's.

Each grader runs in a process of its own that reports its peak resident memory
(``ru_maxrss``, the grader's process only, not its tasks'). Prints JSON.

    .venv/bin/python benchmarks/grading.py [--n 30] [--workers 2] [--before REV] [--hostile]
"""

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the class's solution variants are the grading tests' own

import nbformat  # noqa: E402

from tests.grading.test_grade import (CH04, JAC_ANALYTIC, JAC_AUTOGRAD,  # noqa: E402
                                      JAC_LOOP, JAC_TRANSPOSED, NORMS_HARDCODED, NORMS_LIST,
                                      NORMS_LOOP, NORMS_SVD, _submission)

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

# What a hostile class sends: every kind of flood the grader must absorb without growing.
_FORGE = """
import os, json, struct
for fd in range(900, 1000):
    try:
        header = json.dumps({"kind": "observations", "value": None}).encode()
        os.write(fd, struct.pack("<II", len(header), 1) + header + struct.pack("<Q", 1 << 40))
        os.write(fd, b"x" * (40 << 20))
    except OSError:
        pass
"""
HOSTILE = [
    {"task1": "import sys\nwhile True:\n    sys.stdout.write('x' * 1_000_000)\n",
     "task2": "print('\\n' * 10**8)\n"},
    {"task1": _FORGE + JAC_AUTOGRAD, "task2": _FORGE + NORMS_LOOP},
    {"task1": "def orbit_jacobians(model, Z):\n    raise ValueError('x' * 10**8)\n",
     "task2": "def naive_norms(J):\n    out = []\n    for _ in range(10**6):\n"
              "        out = [out]\n    return out\n"},
    {"task1": "def orbit_jacobians(model, Z):\n    return [torch.zeros(1000, 1000)] * 200\n",
     "task2": "hog = bytearray(100 * 2**30)\n"},
    {"task1": "for k in range(64):\n    open(f'/dev/shm/f{k}', 'wb').write(b'x' * (200 << 20))\n",
     "task2": "import threading\nthreading.Timer(1000, print).start()\n" + NORMS_LOOP},
]


def _make_zip(path: Path, n: int, kinds: list) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        for k in range(n):
            notebook = _submission(CH04, kinds[k % len(kinds)])
            zf.writestr(f"class/student{k:02d}.ipynb", nbformat.writes(notebook))


def _grade(archive: Path, out: Path, workers: int, solutions: Path,
           pythonpath: str | None = None) -> dict:
    """Run one grader in a process of its own; its wall time, peak memory and results."""
    argv = ["04", str(archive), "--out", str(out), "--workers", str(workers),
            "--solutions", str(solutions), "--quiet"]
    # an older revision's grader was the module course_utils.grade
    code = ("import importlib.util, resource, runpy, sys\n"
            "cli = ('course_utils.grading' if importlib.util.find_spec("
            "'course_utils.grading.__main__') else 'course_utils.grade')\n"
            f"sys.argv = [cli, *{argv!r}]\n"
            "try:\n    runpy.run_module(cli, run_name='__main__')\n"
            "except SystemExit:\n    pass\n"
            "print('PEAK_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n")
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    start = time.perf_counter()
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=out.parent, env=env, check=True)
    seconds = time.perf_counter() - start
    peak = [line for line in run.stdout.splitlines() if line.startswith("PEAK_KB")]
    results = json.loads((out / "results.json").read_text())
    totals = [s["total"] for s in results["students"]]
    return {"seconds": round(seconds, 1), "seconds_per_submission": round(seconds / len(totals), 2),
            "grader_peak_mb": round(int(peak[-1].split()[1]) / 1024),
            "mean_points": round(sum(totals) / len(totals), 2),
            "max_points": results["max_points"],
            "statuses": sorted({s["status"] for s in results["students"]})}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--before", default=None, help="git revision of the grader to compare")
    parser.add_argument("--hostile", action="store_true", help="grade a hostile class too")
    args = parser.parse_args()
    report = {"benchmark": "grade chapter 04", "submissions": args.n, "workers": args.workers,
              "sandbox": resolve_sandbox("auto"), "cpus": os.cpu_count(),
              "machine": platform.machine(), "processor": platform.processor(),
              "python": platform.python_version()}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        archive = tmp / "class.zip"
        _make_zip(archive, args.n, CLASS)
        if args.before:
            worktree = tmp / "before"
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q",
                            str(worktree), args.before], check=True)
            try:
                (tmp / "grades-before").mkdir()
                report["before"] = {"revision": args.before, **_grade(
                    archive, tmp / "grades-before", args.workers, worktree / "solutions",
                    pythonpath=str(worktree / "src"))}
            finally:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                                str(worktree)], check=False)
                shutil.rmtree(worktree, ignore_errors=True)
        (tmp / "grades").mkdir()
        report["after"] = _grade(archive, tmp / "grades", args.workers, ROOT / "solutions")
        if args.before:
            report["ratio_after_to_before"] = round(
                report["after"]["seconds"] / report["before"]["seconds"], 2)
        if args.hostile:
            hostile = tmp / "hostile.zip"
            _make_zip(hostile, args.n, HOSTILE)
            (tmp / "grades-hostile").mkdir()
            report["hostile"] = _grade(hostile, tmp / "grades-hostile", args.workers,
                                       ROOT / "solutions")
            report["hostile_peak_minus_honest_mb"] = (report["hostile"]["grader_peak_mb"]
                                                      - report["after"]["grader_peak_mb"])
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
