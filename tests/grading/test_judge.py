"""The judge: observations decoded and judged into a status and a message (nothing a
student's process sent is quoted from a hidden case), and the judge's own process, which
takes the blows of hostile observations instead of the grader."""

import os
import signal
import time

import pytest
import torch

from course_utils.checks.naive_product import NAIVE_NORMS
from course_utils.checks.observations import Failure, encode
from course_utils.grading.judge import JudgeProcess, cases_of, judge_batch

from tests.grading.test_grade import NORMS_LOOP

CHAPTER = "04_plrnn_max_lyapunov"
CHECK = "check_naive_norms"


def _norm_function(source: str):
    namespace = {"torch": torch}
    exec(source, namespace)
    return namespace["naive_norms"]


_norms = _norm_function(NORMS_LOOP)  # a correct student's loop


def _batch(fn, *, hidden: bool, salt=5):
    """The cases of one batch, and the probe's observations of ``fn`` on them."""
    cases = [c for c in cases_of(CHAPTER, CHECK, salt) if c["hidden"] == hidden]
    from course_utils.checks.framework import Case, observe

    seen = [observe(NAIVE_NORMS, Case(c["label"], c["params"], c["hidden"]), (fn,))
            for c in cases]
    return cases, encode(seen)


def _judged(fn, *, hidden=False, memory=1 << 32):
    cases, (tree, blobs) = _batch(fn, hidden=hidden)
    return judge_batch(CHAPTER, CHECK, cases, tree, blobs, memory)


def test_cases_of_a_check_under_a_salt():
    plain, salted = cases_of(CHAPTER, CHECK, None), cases_of(CHAPTER, CHECK, 7)
    assert [c["params"] for c in plain if not c["hidden"]] == \
        [c["params"] for c in salted if not c["hidden"]]
    assert [c["params"] for c in plain if c["hidden"]] != \
        [c["params"] for c in salted if c["hidden"]]


def test_statuses_and_messages():
    assert _judged(_norms) == ("passed", "")
    assert _judged(_norms, hidden=True) == ("passed", "")
    status, message = _judged(lambda J: _norms(J).tolist())
    assert status == "failed" and "must return a torch tensor" in message
    status, message = _judged(lambda J: 1 / 0)
    assert (status, message) == ("failed", "your code, called by the check, raised "
                                           "ZeroDivisionError: division by zero")
    template = NotImplementedError("Task 2 (the naive product): your code here")
    assert _judged(lambda J: (_ for _ in ()).throw(template))[0] == "not attempted"
    assert _judged(lambda J: (_ for _ in ()).throw(MemoryError()), memory=3 << 30) == (
        "memory limit", "MemoryError: the task used more than 3 GB")


#: The lengths of the visible cases, which a student could read in the repository.
VISIBLE_T = {c["params"]["T"] for c in cases_of(CHAPTER, CHECK, None) if not c["hidden"]}


def test_a_hidden_case_quotes_nothing_the_student_wrote():
    def leaky(J):
        if J.shape[0] not in VISIBLE_T:
            raise ValueError(f"LEAK {J.shape} {J[0].tolist()}")
        return _norms(J)

    status, message = _judged(leaky, hidden=True)
    assert status == "failed" and "hidden case" in message and "raised ValueError" in message
    assert "LEAK" not in message and "[" not in message.split("(")[0]


def test_observations_the_judge_cannot_use():
    cases, (tree, blobs) = _batch(_norms, hidden=False)
    assert judge_batch(CHAPTER, CHECK, cases, {"t": "exec"}, [], 1 << 32)[0] == "tampered"
    assert judge_batch(CHAPTER, CHECK, cases[:1], tree, blobs, 1 << 32) == (
        "tampered", "the task's process sent results for other cases")
    # A dict of the wrong keys: the judge fails on it, and says so without a traceback.
    odd = encode([{"J": torch.zeros(3)} for _ in cases])
    status, message = judge_batch(CHAPTER, CHECK, cases, *odd, 1 << 32)
    assert (status, message) == ("failed", "the check could not judge what your code "
                                           "returned (KeyError)")
    raised = encode([Failure(KeyboardInterrupt())] + [{} for _ in cases[1:]])
    assert judge_batch(CHAPTER, CHECK, cases, *raised, 1 << 32)[0] == "failed"


def test_the_judge_process_answers_restarts_and_times_out():
    judge = JudgeProcess(memory=1 << 30)
    try:
        cases, (tree, blobs) = _batch(_norms, hidden=False)
        assert judge.judge(CHAPTER, CHECK, cases, tree, blobs, timeout=120) == ("passed", "")
        assert judge.cases(CHAPTER, CHECK, 7) == cases_of(CHAPTER, CHECK, 7)
        # A judge that dies (here: killed, as the kernel does when it runs out of memory)
        # is started afresh for the next task; the grader only waits for its answer.
        judge.process.kill()
        # After a failure the judge goes on (or starts afresh) for the next task.
        assert judge.judge(CHAPTER, CHECK, cases, tree, blobs, timeout=120) == ("passed", "")
        # A judge that takes too long is stopped, and started afresh next time.
        start = time.perf_counter()
        os.kill(judge.process.pid, signal.SIGSTOP)  # a judge that hangs
        assert judge.judge(CHAPTER, CHECK, cases, tree, blobs, timeout=2)[0] == "failed"
        assert time.perf_counter() - start < 30
        assert judge.judge(CHAPTER, CHECK, cases, tree, blobs, timeout=120) == ("passed", "")
    finally:
        judge.close()
    assert judge.process is None


@pytest.mark.parametrize("bad", [None, {"t": "raised"}, [1, 2]])
def test_malformed_batches_are_tampered(bad):
    cases = [c for c in cases_of(CHAPTER, CHECK, 1) if not c["hidden"]]
    assert judge_batch(CHAPTER, CHECK, cases, bad, [], 1 << 32)[0] == "tampered"
