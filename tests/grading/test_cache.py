"""The grader's cache (course_utils.grading.cache): a second run reruns nothing, ``only``
regrades one student and keeps the others, an interrupted batch resumes with its finished
tasks, a changed check reruns exactly its tasks, and a class graded in two shares and
merged is the class graded at once.

One small generated class of chapter 04 (five students, ten tasks) is graded once per
session (``first``); each test copies that output and grades it again with
``run_task`` counted (each student's task cells start with ``# student: NAME``, so a call
names its student).
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import time
from pathlib import Path

import pytest

import course_utils.grading as grading
from course_utils.grading import NOT_FINISHED, grade
from course_utils.grading import cache as cache_module
from course_utils.grading.cache import (CACHE, ResultCache, check_shard, merge_outputs,
                                        shard_of)
from course_utils.grading.runner import TaskResult

from tests.grading.test_grade import (CH04, JAC_AUTOGRAD, JAC_TRANSPOSED, NORMS_HARDCODED,
                                      NORMS_LIST, NORMS_LOOP, NORMS_SVD, ROOT, _submission,
                                      _write)

SEED = 1234
TIMEOUT = 20  # seconds per task cell and check
WORKERS = 2


def _marked(name: str, code: str) -> str:
    return f"# student: {name}\n{code.strip()}\n"


#: name -> the codes of their task cells (None deletes the cell; eve hands in the template)
STUDENTS = {
    "ada": {"task1": JAC_AUTOGRAD, "task2": NORMS_LOOP},
    "ben": {"task1": JAC_TRANSPOSED, "task2": NORMS_LIST},
    "cleo": {"task1": JAC_AUTOGRAD, "task2": NORMS_HARDCODED},
    "dev": {"task1": None, "task2": NORMS_SVD},
    "eve": {},
}
UNITS = {(name, task) for name in STUDENTS for task in ("task1", "task2")}


def _owner(code: str | None) -> str:
    """The student whose task cell ``code`` is (dev's task 1 is missing, eve's cells are
    the template's)."""
    if code is None:
        return "dev"
    match = re.search(r"# student: (\w+)", code)
    return match.group(1) if match else "eve"


class Counted:
    """``run_task``, recording (student, task) of each call."""

    def __init__(self):
        self.calls: list[tuple[str, str]] = []
        self.real = grading.run_task

    def __call__(self, reference, task, code, found, *args, **kwargs):
        self.calls.append((_owner(code), task.id))
        return self.real(reference, task, code, found, *args, **kwargs)


def _write_class(folder: Path, students: dict) -> None:
    for name, codes in students.items():
        marked = {t: None if c is None else _marked(name, c) for t, c in codes.items()}
        _write(folder, name, _submission(CH04, marked))


def _grade(folder: Path, out: Path, monkeypatch, **kwargs):
    counted = Counted()
    monkeypatch.setattr(grading, "run_task", counted)
    options = dict(workers=WORKERS, timeout=TIMEOUT, memory_gb=3,
                   solutions=ROOT / "solutions", show_progress=False)
    start = time.perf_counter()
    results = grade(CH04, [folder], out, **{**options, **kwargs})
    return results, counted.calls, time.perf_counter() - start


def _json(out: Path) -> dict:
    return json.loads((out / "results.json").read_text())


def _students(out: Path) -> dict:
    return {s["student"]: s for s in _json(out)["students"]}


def _timeless(data):
    """``data`` (results.json) without the tasks' seconds, which differ between runs."""
    if isinstance(data, dict):
        return {k: _timeless(v) for k, v in data.items() if k != "seconds"}
    if isinstance(data, list):
        return [_timeless(v) for v in data]
    return data


def _entries(out: Path) -> set[tuple[str, str]]:
    return {(p.parent.name, p.stem) for p in (out / CACHE / "tasks").glob("*/*.json")}


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cache_class")
    _write_class(folder, STUDENTS)
    out = tmp_path_factory.mktemp("cache_first") / "grades"
    with pytest.MonkeyPatch.context() as monkeypatch:
        results, calls, seconds = _grade(folder, out, monkeypatch, hidden_seed=SEED)
    return {"folder": folder, "out": out, "results": results, "calls": calls,
            "seconds": seconds}


@pytest.fixture
def copy(first, tmp_path):
    """A copy of the first grading's output, to grade into again."""
    target = tmp_path / "grades"
    shutil.copytree(first["out"], target)
    return target


def test_first_run_grades_every_task_and_caches_it(first):
    assert sorted(first["calls"]) == sorted(UNITS)
    totals = {r.student: r.total for r in first["results"]}
    assert totals == {"ada": 4, "ben": 0, "cleo": 2, "dev": 2, "eve": 0}
    assert _entries(first["out"]) == UNITS
    assert json.loads((first["out"] / CACHE / "salt.json").read_text()) == {"salt": SEED}
    entry = json.loads((first["out"] / CACHE / "tasks" / "ben" / "task2.json").read_text())
    assert entry["result"]["status"] == "failed" and len(entry["notebook"]) == 64
    assert entry["parts"]["salt"] == SEED and set(entry["parts"]["checks"]) == {
        "check_naive_norms"}


def test_second_run_reruns_nothing_and_reuses_the_salt(first, copy, monkeypatch):
    def no_reference(*args, **kwargs):
        raise AssertionError("the reference ran although every task is cached")

    monkeypatch.setattr(grading, "run_reference", no_reference)
    results, calls, seconds = _grade(first["folder"], copy, monkeypatch)  # no hidden_seed
    assert calls == []
    assert _json(copy) == _json(first["out"])  # the cached seconds included
    assert (copy / "grades.csv").read_bytes() == (first["out"] / "grades.csv").read_bytes()
    assert seconds < first["seconds"]


def test_another_hidden_seed_reuses_nothing(first, copy, monkeypatch):
    class Reached(Exception):
        pass

    def reference(*args, **kwargs):
        raise Reached

    monkeypatch.setattr(grading, "run_reference", reference)
    with pytest.raises(Reached):  # the reference runs: some task is not cached
        _grade(first["folder"], copy, monkeypatch, cache=False)
    with pytest.raises(Reached):
        _grade(first["folder"], copy, monkeypatch, hidden_seed=SEED + 1)
    # Nothing was graded under the new seed: the cache keeps the old one.
    assert json.loads((copy / CACHE / "salt.json").read_text()) == {"salt": SEED}


def test_only_regrades_that_student_and_keeps_the_others(first, copy, monkeypatch):
    results, calls, _ = _grade(first["folder"], copy, monkeypatch, only=["ben"], cache=False)
    assert sorted(calls) == [("ben", "task1"), ("ben", "task2")]
    before, after = _students(first["out"]), _students(copy)
    assert set(after) == set(STUDENTS)
    for name in STUDENTS:
        if name == "ben":
            assert _timeless(after[name]) == _timeless(before[name])
        else:
            assert after[name] == before[name]
    assert [r.student for r in results] == sorted(STUDENTS)
    assert _json(copy)["hidden_seed"] == SEED


def test_only_with_a_changed_notebook_reruns_the_changed_task(first, copy, monkeypatch,
                                                              tmp_path):
    folder = tmp_path / "class"
    shutil.copytree(first["folder"], folder)
    _write_class(folder, {"ben": {"task1": JAC_TRANSPOSED, "task2": NORMS_LOOP}})
    _, calls, _ = _grade(folder, copy, monkeypatch, only=["ben"])
    assert calls == [("ben", "task2")]
    after, before = _students(copy), _students(first["out"])
    assert [t["points"] for t in after["ben"]["tasks"]] == [0, 2]
    assert after["ben"]["tasks"][0] == before["ben"]["tasks"][0]
    assert {n: s for n, s in after.items() if n != "ben"} == {
        n: s for n, s in before.items() if n != "ben"}


def test_only_names_an_unknown_student(first, copy, monkeypatch):
    with pytest.raises(ValueError, match=r"unknown student 'bob'; the students are: "
                                         r"ada, ben, cleo, dev, eve"):
        _grade(first["folder"], copy, monkeypatch, only=["bob"])
    with pytest.raises(ValueError, match="graded with hidden seed 1234, not 99"):
        _grade(first["folder"], copy, monkeypatch, only=["ben"], hidden_seed=99)
    with pytest.raises(ValueError, match="list of student names"):
        _grade(first["folder"], copy, monkeypatch, only="ben")


def test_an_interrupted_batch_resumes_with_its_finished_tasks(first, tmp_path, monkeypatch):
    stop_after = 3

    class Bar:
        def __init__(self, **kwargs):
            self.n = 0

        def update(self, n=1):
            self.n += n
            if self.n == stop_after:
                raise KeyboardInterrupt

        def close(self):
            pass

    out = tmp_path / "grades"
    with monkeypatch.context() as patched:
        patched.setattr("course_utils.runtime.progress", Bar)
        with pytest.raises(KeyboardInterrupt):
            _grade(first["folder"], out, patched, hidden_seed=SEED)
    kept = _entries(out)
    # the tasks counted before the interrupt, and those already running then
    assert stop_after <= len(kept) <= stop_after + WORKERS < len(UNITS)
    stopped = _students(out)
    assert any(s["status"] == NOT_FINISHED for s in stopped.values())
    assert sum(len(s["tasks"]) for s in stopped.values()) == len(kept)

    _, calls, _ = _grade(first["folder"], out, monkeypatch)
    assert sorted(calls) == sorted(UNITS - kept)
    assert _timeless(_json(out)) == _timeless(_json(first["out"]))


def test_a_changed_check_reruns_exactly_its_tasks(first, copy, monkeypatch):
    real = cache_module.check_digest

    def changed(chapter, name):
        digest = real(chapter, name)
        return "changed" + digest if name == "check_naive_norms" else digest

    monkeypatch.setattr(cache_module, "check_digest", changed)
    _, calls, _ = _grade(first["folder"], copy, monkeypatch)
    assert sorted(calls) == sorted((name, "task2") for name in STUDENTS)
    assert _timeless(_json(copy)) == _timeless(_json(first["out"]))
    before, after = _students(first["out"]), _students(copy)
    assert all(after[n]["tasks"][0] == before[n]["tasks"][0] for n in STUDENTS)  # reused


def test_shares_merged_equal_the_class_graded_at_once(first, tmp_path, monkeypatch):
    assert {shard_of(name, 2) for name in STUDENTS} == {1, 2}  # neither share is empty
    shares = [tmp_path / "share-1", tmp_path / "share-2"]
    for k, out in enumerate(shares, start=1):
        results, calls, _ = _grade(first["folder"], out, monkeypatch, hidden_seed=SEED,
                                   shard=(k, 2))
        names = {n for n in STUDENTS if shard_of(n, 2) == k}
        assert {r.student for r in results} == names == set(_students(out))
        assert {student for student, _ in calls} == names
    merged = tmp_path / "merged"
    results = merge_outputs(shares, merged)
    assert [r.student for r in results] == sorted(STUDENTS)
    assert _timeless(_json(merged)) == _timeless(_json(first["out"]))
    assert (merged / "grades.csv").read_bytes() == (first["out"] / "grades.csv").read_bytes()
    assert ((merged / "feedback" / "cleo.md").read_text()
            == (first["out"] / "feedback" / "cleo.md").read_text())
    assert _entries(merged) == UNITS
    rows = list(csv.DictReader((merged / "grades.csv").open()))
    assert [r["total"] for r in rows] == ["4", "0", "2", "2", "0"]

    # The merged output is an output like any: one student regraded there, from its cache.
    _, calls, _ = _grade(first["folder"], merged, monkeypatch, only=["cleo"])
    assert calls == []
    assert _timeless(_json(merged)) == _timeless(_json(first["out"]))

    # Shares that do not belong together.
    with pytest.raises(ValueError, match=r"share\(s\) 1 of 2 given twice"):
        merge_outputs([shares[0], shares[0], shares[1]], tmp_path / "bad")
    with pytest.raises(ValueError, match=r"share\(s\) 2 of 2 missing"):
        merge_outputs([shares[0]], tmp_path / "bad")
    salted = tmp_path / "salted"
    shutil.copytree(shares[1], salted)
    run = json.loads((salted / CACHE / "run.json").read_text())
    (salted / CACHE / "run.json").write_text(json.dumps({**run, "salt": 7}))
    with pytest.raises(ValueError, match="differ in salt"):
        merge_outputs([shares[0], salted], tmp_path / "bad")
    twice = tmp_path / "twice"
    shutil.copytree(shares[0], twice)
    run = json.loads((twice / CACHE / "run.json").read_text())
    (twice / CACHE / "run.json").write_text(json.dumps({**run, "shard": [2, 2]}))
    with pytest.raises(ValueError, match=r"student 'ben' is in two outputs"):
        merge_outputs([shares[0], twice], tmp_path / "bad")
    with pytest.raises(ValueError, match="not the output of a grading"):
        merge_outputs([shares[0], first["folder"]], tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


def test_a_share_needs_a_hidden_seed_and_a_valid_split(first, tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="pass hidden_seed, the same for every share"):
        _grade(first["folder"], tmp_path / "out", monkeypatch, shard=(1, 2))
    for bad in [(0, 2), (3, 2), "1/2", (1.5, 2), (True, 2)]:
        with pytest.raises(ValueError, match="shard must be"):
            check_shard(bad)
    assert check_shard((2, 3)) == (2, 3) and check_shard(None) is None
    # The share of a name is its SHA-256 modulo N, plus one: fixed, whatever the class.
    assert [shard_of(n, 3) for n in ("ada", "ben", "cleo")] == [
        1 + int(__import__("hashlib").sha256(n.encode()).hexdigest(), 16) % 3
        for n in ("ada", "ben", "cleo")]


def _result(status: str, task: str = "task1") -> TaskResult:
    return TaskResult(task, task.title(), 0, 2, status, "why", "tagged", 1.5)


def test_the_cache_keeps_whole_entries_and_not_the_machine_s_outcomes(tmp_path):
    store = ResultCache(tmp_path)
    assert store.store("ada", "task1", "k1", {"salt": 1}, _result("failed"))
    for status in ("grader error", "timed out", "crashed"):
        assert not store.store("ben", "task1", "k1", {}, _result(status))
    assert store.load("ada", "task1", "k1") == _result("failed")
    assert store.load("ada", "task1", "another key") is None
    assert store.load("ada", "task2", "k1") is None  # no entry
    assert store.load("ben", "task1", "k1") is None
    assert [p.name for p in (tmp_path / "tasks" / "ada").iterdir()] == ["task1.json"]
    (tmp_path / "tasks" / "ada" / "task1.json").write_text('{"key": "k1", "resu')
    assert store.load("ada", "task1", "k1") is None  # a torn entry is a miss, not an error


def test_without_the_sandbox_only_recorded_entries_are_reused(tmp_path):
    """A submission graded without bubblewrap could write into the cache: entries whose
    bytes the grader did not record at the end of a run are not reused."""
    store = ResultCache(tmp_path, verify=True)
    store.store("ada", "task1", "k1", {}, _result("failed"))
    store.store("ada", "task2", "k2", {}, _result("failed", "task2"))
    store.write_ledger()
    forged = json.loads((tmp_path / "tasks" / "ada" / "task2.json").read_text())
    forged["result"].update(status="passed", points=2)
    (tmp_path / "tasks" / "ada" / "task2.json").write_text(json.dumps(forged))
    again = ResultCache(tmp_path, verify=True)
    assert again.load("ada", "task1", "k1") == _result("failed")
    assert again.load("ada", "task2", "k2") is None
    assert ResultCache(tmp_path).load("ada", "task2", "k2").status == "passed"  # sandboxed


def test_the_grades_are_written_when_the_class_pages_fail(first, copy, monkeypatch):
    """A failure of the similarity report or manual.html (the class pages) is a warning:
    grades.csv, the feedback and results.json are written all the same."""
    def broken(*args, **kwargs):
        raise RuntimeError("similarity engine broke")

    for name in ("grades.csv", "results.json", "summary.html"):
        (copy / name).unlink()
    monkeypatch.setattr(grading, "class_pages", broken)
    with pytest.warns(RuntimeWarning, match="could not be made: RuntimeError: similarity "
                                            "engine broke"):
        _grade(first["folder"], copy, monkeypatch)
    assert (copy / "grades.csv").read_bytes() == (first["out"] / "grades.csv").read_bytes()
    assert _json(copy)["similarity"] is None
    assert "Similar work" not in (copy / "summary.html").read_text()


def test_grading_again_keeps_the_tutors_merged_points(first, copy, monkeypatch):
    """Points merged from manual.csv (an answer, an override of a task) survive grading
    the class again into the same folder, where the work is unchanged."""
    from course_utils.grading.manual import merge_manual

    manual = copy.parent / "manual.csv"
    manual.write_text("student,item,points,rubric,comment\r\n"
                      "ada,q1,1,,a good try at the overflow\r\n"
                      "ben,task1,1,,partial credit for the loop\r\n", encoding="utf-8")
    assert merge_manual(copy, manual) is not None
    merged = _students(copy)
    results, calls, _ = _grade(first["folder"], copy, monkeypatch)
    assert calls == []
    again = _students(copy)
    for name in ("ada", "ben"):
        assert again[name]["questions"] == merged[name]["questions"], name
        assert again[name]["overrides"] == merged[name]["overrides"], name
        assert again[name]["total"] == merged[name]["total"], name
    assert again["ada"]["total"] == _total(first, "ada") + 1
    assert "partial credit for the loop" in (copy / "feedback" / "ben.md").read_text()


def _total(first, name: str) -> float:
    return {r.student: r.total for r in first["results"]}[name]
