"""Grade an exercise group from the command line (the book's page "Grading").

    python -m course_utils.grading CHAPTER SUBMISSION [SUBMISSION ...] [--out grades]
        [--workers 2] [--timeout 60] [--memory-gb 4] [--sandbox auto|bwrap|none]
        [--solutions DIR] [--quiet] [--hidden-seed N]
        [--only NAME ...] [--shard K/N] [--no-cache]
        [--roster roster.csv] [--deadline TIME] [--late-penalty 10%/day|zero|none]
        [--export moodle|canvas ...] [--export-key idnumber|email] [--item NAME]

    python -m course_utils.grading merge OUT [SHARD_OUT ...] [--manual manual.csv]
        [--solutions DIR] [--export moodle|canvas ...] [--export-key idnumber|email] [--item NAME]

CHAPTER is a notebook name (``04_plrnn_max_lyapunov``) or its number (``04``); each
SUBMISSION a ``.zip``, a folder of notebooks, a folder with one sub-folder per student, or
a single ``.ipynb``. Given one notebook, the feedback is printed too: a student can grade
their own work before uploading it.

``merge`` runs no student code: it combines the outputs of shards (``--shard K/N`` runs)
into OUT, and merges the tutor's ``manual.csv`` (exported from ``manual.html``: the
written answers' points, and overrides of task points) into OUT's ``grades.csv``,
``results.json``, feedback and summary; ``--export`` then writes ``moodle.csv`` or
``canvas.csv`` into OUT.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

EXPORTS = {"moodle": "moodle.csv", "canvas": "canvas.csv"}


def _add_export(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--export", action="append", choices=tuple(EXPORTS), default=[],
                        help="also write the LMS import file into the output folder: "
                             "moodle.csv (Moodle's grade import) or canvas.csv (Canvas's "
                             "gradebook import); repeatable; needs the roster's ids")
    parser.add_argument("--export-key", choices=("idnumber", "email"), default="idnumber",
                        help="the column Moodle identifies students by (default: idnumber)")
    parser.add_argument("--item", default=None,
                        help="the grade item (Moodle) or assignment (Canvas) as the LMS names "
                             "it (default: 'Exercise sheet CHAPTER')")


def _shard(text: str) -> tuple[int, int]:
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shard takes K/N, e.g. 1/4; saw {text!r}") from None
    if not 1 <= k <= n:
        raise argparse.ArgumentTypeError(f"--shard K/N needs 1 <= K <= N; saw {text!r}")
    return k, n


def _export(out: Path, kinds: list[str], key: str, item: str | None) -> list[str]:
    """Write the LMS files ``kinds`` into ``out``; returns what to print about them."""
    from .lms import MOODLE_KEYS, export_grades
    from .report import read_results

    if not kinds:
        return []
    results = read_results(out)
    lines = []
    for kind in kinds:
        path, left_out = export_grades(results, kind, out / EXPORTS[kind], key=key, item=item)
        lines.append(f"wrote {path}")
        if left_out:
            what = MOODLE_KEYS[key] if kind == "moodle" else "ID or e-mail"
            lines.append(f"not in {path.name} (the roster gives them no {what}): "
                         + ", ".join(left_out))
    return lines


def _grade_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m course_utils.grading",
        description="Grade submissions of one chapter: per-task points, feedback for each "
                    "student, a summary of the class, and a page to grade the written "
                    "answers. 'python -m course_utils.grading merge --help': merge the "
                    "written answers' points or shards.")
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
                             "before (default: the one of the results in --out, else a fresh "
                             "random one, kept in results.json)")
    parser.add_argument("--only", action="append", default=None, metavar="NAME",
                        help="grade only this student again (repeatable); the others' "
                             "results in --out are kept")
    parser.add_argument("--shard", type=_shard, default=None, metavar="K/N",
                        help="grade the K-th of N deterministic shares of the class "
                             "(combine the shards with 'merge')")
    parser.add_argument("--no-cache", action="store_true",
                        help="grade every task again, ignoring the results cached in --out")
    parser.add_argument("--roster", default=None,
                        help="CSV mapping submission names to id and e-mail (and optionally "
                             "the submission time)")
    parser.add_argument("--deadline", default=None,
                        help="ISO 8601 time of the deadline, e.g. 2026-12-01T23:59+01:00 "
                             "(without a zone: UTC)")
    parser.add_argument("--late-penalty", default=None,
                        help="'10%%/day' (per started day), 'zero' or 'none' (default: none)")
    _add_export(parser)
    return parser


def _merge_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m course_utils.grading merge",
        description="Combine shards and merge the tutor's manual.csv into the grades, "
                    "without running any student code.")
    parser.add_argument("out", help="the output folder to write (and read, without shards)")
    parser.add_argument("shards", nargs="*", help="output folders of --shard runs to combine")
    parser.add_argument("--solutions", default=None,
                        help="folder of the solution sources (for the class pages of merged "
                             "shards)")
    parser.add_argument("--manual", default=None,
                        help="manual.csv exported from manual.html (written answers' points, "
                             "task overrides)")
    _add_export(parser)
    return parser


def merge_main(argv: list[str]) -> int:
    """``python -m course_utils.grading merge ...``."""
    args = _merge_parser().parse_args(argv)
    from .lms import RosterError
    from .manual import ManualError, merge_manual

    out = Path(args.out)
    try:
        if args.shards:
            from .cache import merge_outputs

            merge_outputs([Path(s) for s in args.shards], out, solutions=args.solutions)
            print(f"merged {len(args.shards)} shards into {out}")
        if args.manual:
            for line in merge_manual(out, args.manual):
                print(line)
            print(f"merged {args.manual} into {out / 'grades.csv'}")
        for line in _export(out, args.export, args.export_key, args.item):
            print(line)
    except (ManualError, RosterError, ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["merge"]:
        return merge_main(argv[1:])
    args = _grade_parser().parse_args(argv)

    from . import ReferenceFailed, grade
    from .lms import LatePolicy, RosterError, parse_time, read_roster

    start = time.perf_counter()
    try:
        roster = read_roster(args.roster) if args.roster else None
        deadline = parse_time(args.deadline, what="--deadline") if args.deadline else None
        policy = LatePolicy.parse(args.late_penalty) if args.late_penalty else None
        if (deadline is None) != (policy is None):
            raise ValueError("--deadline and --late-penalty go together: give both "
                             f"(saw --deadline {args.deadline!r}, --late-penalty "
                             f"{args.late_penalty!r})")
        results = grade(args.chapter, args.submissions, args.out, workers=args.workers,
                        timeout=args.timeout, memory_gb=args.memory_gb, sandbox=args.sandbox,
                        solutions=args.solutions, show_progress=not args.quiet,
                        hidden_seed=args.hidden_seed, only=args.only, shard=args.shard,
                        cache=not args.no_cache, roster=roster, deadline=deadline,
                        late_policy=policy)
        seconds = time.perf_counter() - start
        out = Path(args.out)
        exports = _export(out, args.export, args.export_key, args.item)
    except (ValueError, FileNotFoundError, ReferenceFailed, RosterError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if len(results) == 1 and len(args.submissions) == 1 and args.submissions[0].endswith(".ipynb"):
        print((out / "feedback" / f"{results[0].student}.md").read_text(encoding="utf-8"))
    n = len(results)
    print(f"graded {n} submission{'s' * (n != 1)} in {seconds:.0f} s "
          f"({seconds / max(n, 1):.1f} s each): {out / 'grades.csv'}, {out / 'summary.html'}, "
          f"{out / 'feedback'}/")
    if (out / "manual.html").exists():
        print(f"written answers to grade: open {out / 'manual.html'} in a browser, export "
              f"manual.csv, then: python -m course_utils.grading merge {out} --manual manual.csv")
    roster_info = _roster_info(out)
    for what, names in roster_info.items():
        print(f"{what}: {', '.join(names)}")
    for line in exports:
        print(line)
    return 0


def _roster_info(out: Path) -> dict[str, list[str]]:
    """The names the roster and the submissions do not share (from results.json)."""
    from .report import read_results

    try:
        extra = read_results(out).extra or {}
    except (FileNotFoundError, ValueError):
        return {}
    roster = extra.get("roster") or {}
    found = {}
    if roster.get("unknown"):
        found["submissions not in the roster"] = roster["unknown"]
    if roster.get("missing"):
        found["students in the roster without a submission"] = roster["missing"]
    return found


if __name__ == "__main__":
    sys.exit(main())
