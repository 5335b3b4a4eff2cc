"""The whole exercise sheet for a class of N students (default 30), timed step by step.

The class is the generated chapter 03 class of ``tests/grading/sheet_class.py`` (the
task's code written several ways, the usual mistakes, two written answers, copies among
them, the figure the first question asks about, a roster with one late submission),
repeated to N students. Steps, each timed as a tutor runs them:

1. ``python -m course_utils.grading 03 submissions.zip --roster ... --deadline ...
   --late-penalty 10%/day`` (the automatic part: every task in its sandboxed process,
   the answers and figures extracted, the similarity report, ``manual.html``);
2. the same command again (every task's result cached: nothing runs);
3. ``--only`` one student (that student's task rerun);
4. ``merge --manual manual.csv --export moodle`` with a ``manual.csv`` as the page exports
   it (every answer given 1 point), and ``merge`` of the class graded in two shards.

Also prints the similarity scores of the pairs the class copied and the largest of the
others, per task and question. Prints JSON.

    .venv/bin/python benchmarks/sheet.py [--n 30] [--workers 2]
"""

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the generated class is the tests' own

from tests.grading import sheet_class as sheet  # noqa: E402


def _run(*args, cwd) -> float:
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "course_utils.grading", *map(str, args)],
                            capture_output=True, text=True, cwd=cwd)
    if result.returncode != 0:
        raise SystemExit(result.stderr[-3000:])
    return round(time.perf_counter() - start, 1)


def _manual_csv(out: Path, path: Path) -> int:
    """A manual.csv giving every answer found 1 point (as the page exports it)."""
    data = json.loads((out / "results.json").read_text())
    rows = [(s["student"], q["id"]) for s in data["students"] for q in s["questions"]
            if q["status"] == "to grade"]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "item", "points", "rubric", "comment"])
        writer.writerows([name, item, 1, "", ""] for name, item in rows)
    return len(rows)


def _similarity() -> tuple[str, dict]:
    """The similarity report of the ten students of the class, as the grader makes it:
    per item, the scores of the pairs that copied and the largest of the others'."""
    from course_utils.grading.similarity import reference_sources, similarity_report
    from course_utils.grading.submissions import load_reference

    reference = load_reference("03", ROOT / "solutions")
    codes = {"task1": {name: spec[0] for name, spec in sheet.STUDENTS.items()}}
    answers = {qid: {name: spec[k] for name, spec in sheet.STUDENTS.items() if spec[k]}
               for k, qid in ((1, "q1"), (2, "q2"))}
    report = similarity_report(
        codes, answers,
        template={**reference.templates, **{q.id: q.prompt for q in reference.questions}},
        references={**reference_sources(reference.tasks),
                    **{q.id: q.answer for q in reference.questions}})
    scores = {}
    for item in report["items"]:
        copies = sheet.COPIES.get(item["id"], set())
        pairs = [(tuple(sorted(p["students"])), p["score"]) for p in item["pairs"]]
        scores[item["id"]] = {
            "copy pairs": {"-".join(pair): round(score, 3) for pair, score in pairs
                           if pair in copies},
            "largest other pair": round(max((s for pair, s in pairs if pair not in copies),
                                            default=0.0), 3),
            "median": item["median"]}
    return report["engine"], scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="sheet-bench-"))
    students = sheet.many(args.n)
    archive, roster = sheet.write_class(folder / "class", students)
    out = folder / "grades"
    grade = ["03", archive, "--out", out, "--roster", roster, "--deadline", sheet.DEADLINE,
             "--late-penalty", "10%/day", "--workers", args.workers, "--quiet",
             "--solutions", ROOT / "solutions"]
    times = {"grade": _run(*grade, cwd=folder), "grade again (cached)": _run(*grade, cwd=folder),
             "--only one student": _run(*grade, "--only", "ada", "--no-cache", cwd=folder)}
    answers = _manual_csv(out, folder / "manual.csv")
    times["merge --manual --export moodle"] = _run("merge", out, "--manual",
                                                   folder / "manual.csv", "--export", "moodle",
                                                   cwd=folder)
    seed = json.loads((out / "results.json").read_text())["hidden_seed"]
    shards = [folder / f"shard{k}" for k in (1, 2)]
    for k, shard_out in enumerate(shards, start=1):
        times[f"shard {k}/2"] = _run("03", archive, "--out", shard_out, "--roster", roster,
                                     "--deadline", sheet.DEADLINE, "--late-penalty", "10%/day",
                                     "--workers", args.workers, "--quiet", "--solutions",
                                     ROOT / "solutions", "--hidden-seed", seed,
                                     "--shard", f"{k}/2", cwd=folder)
    times["merge of 2 shards"] = _run("merge", folder / "merged", *shards, cwd=folder)
    merged = (folder / "merged" / "grades.csv").read_text()
    engine, scores = _similarity()
    print(json.dumps({
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, Python "
                   f"{platform.python_version()}",
        "students": args.n, "workers": args.workers, "answers graded": answers,
        "seconds": times, "merged shards have every student": all(
            name in merged for name in students),
        "similarity engine": engine, "similarity (the 10 students)": scores}, indent=1))


if __name__ == "__main__":
    main()
