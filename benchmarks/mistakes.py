"""How many of the typical mistakes of the corpus (``tests/checks/mistakes``) each
chapter's visible check (the notebook's own) rejects, and how many only the hidden cases
catch.

Every mistake is run as the tests run it (``tests/checks/test_mistakes.py``): its task
cell in a namespace like the notebook's, then the task's check on the visible cases; if
it passes there, on the hidden cases under one salt. Prints a Markdown table per chapter
and task: the mistakes, those the visible check rejects, those only the hidden cases
catch, and those nothing catches (none, if the checks are complete), then the names of
the mistakes that got a ✓ in the notebook, by how they are labelled in the corpus (an
over-fitted solution is meant to).

    .venv/bin/python benchmarks/mistakes.py [--chapter 03]

The corpus is the tests'; with ``PYTHONPATH=<another checkout>/src`` it judges another
version of the checks.
"""

import argparse
import contextlib
import io
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the corpus is the tests' own

from course_utils.checks.framework import run_check  # noqa: E402
from tests.checks.mistakes import corpus  # noqa: E402
from tests.notebook_cells import checks_and_object  # noqa: E402

SALT = 3


def verdict(chapter: str, task_id: str, mistake) -> str:
    """"visible", "hidden" or "none": which check rejects the mistake first."""
    checks, obj = checks_and_object(chapter, task_id, mistake.source, "benchmark")
    for hidden in (False, True):
        try:
            with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for check in checks:
                    run_check(check, (obj,), hidden=hidden, salt=SALT)
        except Exception:  # noqa: BLE001 - any rejection counts
            return "hidden" if hidden else "visible"
    return "none"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chapter", help="only this chapter (its number)")
    args = parser.parse_args()
    print("| chapter | task | mistakes | rejected visibly | only by hidden cases | not caught |")
    print("|---|---|---:|---:|---:|---:|")
    passed_visibly, totals = [], [0, 0, 0, 0]
    for chapter, tasks in corpus().items():
        if args.chapter and not chapter.startswith(args.chapter.zfill(2)):
            continue
        for task_id, mistakes in tasks.items():
            counts = {"visible": 0, "hidden": 0, "none": 0}
            for mistake in mistakes:
                found = verdict(chapter, task_id, mistake)
                counts[found] += 1
                if found != "visible":
                    passed_visibly.append(f"{chapter[:2]} {task_id} {mistake.name} "
                                          f"(corpus: {mistake.caught}; {found})")
            row = [len(mistakes), counts["visible"], counts["hidden"], counts["none"]]
            totals = [a + b for a, b in zip(totals, row)]
            print(f"| {chapter} | {task_id} | " + " | ".join(map(str, row)) + " |",
                  flush=True)
    print("| **all** | | " + " | ".join(f"**{v}**" for v in totals) + " |")
    print("\nAccepted by the visible check:")
    for line in passed_visibly:
        print(f"- {line}")


if __name__ == "__main__":
    main()
