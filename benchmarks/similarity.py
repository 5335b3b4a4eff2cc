"""How well and how fast the similarity checks' engines rank copies above honest work.

On the generated class of chapter 04 (``tests/grading/similarity_class.py``: an original
solution, copies with renamed variables, reordered lines and changed comments and
spacing, honest solutions written differently, a copy of the reference implementation,
the template; written answers copied and lightly reworded, or independent), prints per
engine and per task or question the scores of the copy pairs and of the honest pairs (min
copy, max honest, and their difference, the margin: above 0 means every copy ranks above
every honest pair), the reference shares of the students who copied the reference and
the largest of the others' (whether flagged or not), and the time of
``similarity_report`` on this class and on a class of ``--n`` students (the eight
repeated, each with a line of its own). Prints JSON.

    .venv/bin/python benchmarks/similarity.py [--n 200] [--repeat 3]
"""

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the generated class is the tests' own

from course_utils.grading import similarity  # noqa: E402
from course_utils.grading.similarity import similarity_report  # noqa: E402
from tests.grading.similarity_class import STUDENTS, generated_class  # noqa: E402


def _engines() -> list[str]:
    try:
        import copydetect
    except ImportError:
        copydetect = None
    if copydetect is None:
        print("copydetect is not installed (pip install 'course-utils[similarity]'); "
              "measuring the built-in engine only", file=sys.stderr)
        return ["builtin"]
    return ["builtin", "copydetect"]


def _report(klass, engine: str, top: int):
    return similarity_report(klass.codes, klass.answers, template=klass.template,
                             references=klass.references, top=top, engine=engine)


def _seconds(klass, engine: str, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        _report(klass, engine, top=5)
        best = min(best, time.perf_counter() - start)
    return best


def _large(klass, n: int):
    """A class of n students: the generated ones over and over, each with a comment (in
    the code) or a sentence (in the answer) of its own."""
    codes = {task: {f"s{i:03d}": by[STUDENTS[i % len(STUDENTS)]] + f"    # student {i}\n"
                    for i in range(n)} for task, by in klass.codes.items()}
    answers = {q: {f"s{i:03d}": by[STUDENTS[i % len(STUDENTS)]] + f"\nI am student {i}."
                   for i in range(n)} for q, by in klass.answers.items()}
    return type(klass)(codes, answers, klass.template, klass.references)


def _reference_shares(klass, engine: str) -> dict[str, dict[str, float]]:
    """Every student's share of code (words) found in the reference, flagged or not."""
    flag = similarity.REFERENCE_FLAG
    similarity.REFERENCE_FLAG = 0.0
    try:
        report = _report(klass, engine, top=0)
    finally:
        similarity.REFERENCE_FLAG = flag
    return {item["id"]: {f["student"]: f["score"] for f in item["reference"]}
            for item in report["items"]}


def measure(engine: str, klass, large, repeat: int) -> dict:
    report = _report(klass, engine, top=10_000)
    every_share = _reference_shares(klass, engine)
    items = {}
    for item in report["items"]:
        scores = {frozenset(p["students"]): p["score"] for p in item["pairs"]}
        copies = sorted(scores.get(p, 0.0) for p in klass.copies[item["id"]])
        honest = sorted(scores.get(p, 0.0) for p in klass.honest(item["id"]))
        shares = {f["student"]: f["score"] for f in item["reference"]}
        items[item["id"]] = {  # the scores of the honest pairs, largest first
            "copy pairs": copies, "honest pairs": honest[::-1],
            "min copy": copies[0], "max honest": honest[-1],
            "margin": round(copies[0] - honest[-1], 3),
            "honest median": honest[len(honest) // 2],
            "flagged for the reference": shares,
            "expected flagged": sorted(klass.reference_copies[item["id"]]),
            "largest reference share of the others": max(
                (v for s, v in every_share[item["id"]].items()
                 if s not in klass.reference_copies[item["id"]]), default=0.0)}
    return {"engine": report["engine"], "answers": report["answers_engine"],
            "items": items,
            "seconds, 8 students": round(_seconds(klass, engine, repeat), 4),
            f"seconds, {len(next(iter(large.codes.values())))} students":
                round(_seconds(large, engine, 1), 3)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="students in the large class")
    parser.add_argument("--repeat", type=int, default=3, help="timings of the small class")
    args = parser.parse_args(argv)
    klass = generated_class()
    large = _large(klass, args.n)
    results = [measure(engine, klass, large, args.repeat) for engine in _engines()]
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
