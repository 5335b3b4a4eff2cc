"""Grade an exercise group from the command line (the book's page "Grading").

    python -m course_utils.grading CHAPTER SUBMISSION [SUBMISSION ...] [--out grades]
        [--workers 2] [--timeout 60] [--memory-gb 4] [--sandbox auto|bwrap|none]
        [--solutions DIR] [--quiet] [--hidden-seed N]

CHAPTER is a notebook name (``04_plrnn_max_lyapunov``) or its number (``04``); each
SUBMISSION a ``.zip``, a folder of notebooks, a folder with one sub-folder per student, or
a single ``.ipynb``. Given one notebook, the feedback is printed too: a student can grade
their own work before uploading it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m course_utils.grading",
        description="Grade submissions of one chapter: per-task points, feedback for each "
                    "student, and a summary of the class's mistakes.")
    parser.add_argument("chapter", help="notebook name or number, e.g. 04_plrnn_max_lyapunov or 04")
    parser.add_argument("submissions", nargs="+", help=".zip, folder or .ipynb")
    parser.add_argument("--out", default="grades", help="output folder (default: grades)")
    parser.add_argument("--workers", type=int, default=2, help="tasks at a time (default: 2)")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds for each task's cell and its check (default: 60)")
    parser.add_argument("--memory-gb", type=float, default=4.0,
                        help="memory of each task's processes and the files they write, "
                             "together, GB (default: 4)")
    parser.add_argument("--sandbox", choices=("auto", "bwrap", "none"), default="auto",
                        help="bubblewrap isolation: auto (where it works), bwrap (required), none")
    parser.add_argument("--solutions", default=None, help="folder of the solution sources")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--hidden-seed", type=int, default=None,
                        help="salt of the hidden cases' seeds, to grade again exactly as "
                             "before (default: a fresh random one, kept in results.json)")
    args = parser.parse_args(argv)

    from . import ReferenceFailed, grade

    start = time.perf_counter()
    try:
        results = grade(args.chapter, args.submissions, args.out, workers=args.workers,
                        timeout=args.timeout, memory_gb=args.memory_gb, sandbox=args.sandbox,
                        solutions=args.solutions, show_progress=not args.quiet,
                        hidden_seed=args.hidden_seed)
    except (ValueError, FileNotFoundError, ReferenceFailed) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - start
    out = Path(args.out)
    if len(results) == 1 and len(args.submissions) == 1 and args.submissions[0].endswith(".ipynb"):
        print((out / "feedback" / f"{results[0].student}.md").read_text(encoding="utf-8"))
    n = len(results)
    print(f"graded {n} submission{'s' * (n != 1)} in {seconds:.0f} s "
          f"({seconds / max(n, 1):.1f} s each): {out / 'grades.csv'}, {out / 'summary.html'}, "
          f"{out / 'feedback'}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
