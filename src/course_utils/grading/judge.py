"""The judge: what a task's probe observed, decoded and compared with the reference, in a
process of the grader's that never runs student code.

    python -m course_utils.grading.judge --memory BYTES

:func:`judge_batch` decodes one batch of observations (the visible or the hidden cases of
one check), runs the check's judge on each case in order, and returns the task's status
and message. :func:`cases_of` lists a check's cases under a salt (making a hidden case
may run the reference, to keep its draw fair). The grader runs both in a
:class:`JudgeProcess`: its address space is limited, so observations built to make a
judge allocate (a huge array broadcast against an expected one) cost that process a
``MemoryError``, not the grader its memory; and a judge that takes too long is stopped
and started afresh.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import threading

from ..checks import check_specs
from ..checks.framework import Case, StudentError, judge_shown
from ..checks.observations import MalformedObservation, decode, pack, unpack
from ..notebook_format import is_placeholder_message
from .status import Status

__all__ = ["judge_batch", "cases_of", "JudgeProcess", "clean_message", "raised_outcome"]

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069]+")


def clean_message(text, limit: int = 300) -> str:
    """A message fit for the feedback: no terminal codes, no control characters or line
    breaks, whitespace collapsed, at most ``limit`` characters."""
    text = _ANSI.sub("", str(text))
    text = _CONTROL.sub(" ", text)
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[:limit - 3].rstrip() + "..."


def raised_outcome(raised, memory: int, doing: str) -> tuple[Status, str]:
    """The status and message of an exception that the student's code raised (``raised``,
    a :class:`~course_utils.checks.observations.Raised`): the memory limit (``memory``
    bytes), the template's placeholder (not attempted), or a failure that names it;
    ``doing`` says where it was raised ("your task cell")."""
    if raised.is_a("MemoryError"):
        return Status.MEMORY_LIMIT, f"MemoryError: the task used more than {memory / 2**30:g} GB"
    if raised.is_a("NotImplementedError") and is_placeholder_message(raised.message):
        return Status.NOT_ATTEMPTED, "the template's NotImplementedError is still there"
    return Status.FAILED, f"{doing} raised {raised.type_name}: {clean_message(raised.message)}"


def cases_of(chapter: str, check: str, salt: int | None) -> list[dict]:
    """The cases of ``check`` (visible and hidden) under ``salt``, as JSON values."""
    spec = check_specs(chapter)[check]
    return [{"label": c.label, "params": c.params, "hidden": c.hidden}
            for c in spec.cases(True, salt)]


def judge_batch(chapter: str, check: str, cases: list[dict], tree, blobs: list[bytes],
                memory: int) -> tuple[str, str]:
    """(status, message) of one batch of observations: ``"passed"`` and ``""``, or the
    first failure. Nothing the student's process sent is quoted from a hidden case."""
    spec = check_specs(chapter)[check]
    cases = [Case(c["label"], c["params"], c["hidden"]) for c in cases]
    try:
        observations = decode(tree, blobs)
    except (MalformedObservation, ValueError, TypeError, OverflowError, MemoryError,
            RecursionError):
        return Status.TAMPERED, "the task's process sent malformed results"
    if not isinstance(observations, list) or len(observations) != len(cases):
        return Status.TAMPERED, "the task's process sent results for other cases"
    for case, seen in zip(cases, observations):
        try:
            judge_shown(spec, case, seen)
        except AssertionError as error:
            return Status.FAILED, clean_message(error, 500)
        except StudentError as error:
            if error.is_a("NameError"):
                return Status.FAILED, (f"{clean_message(error.raised.message)}: the task cell "
                                       "must define it")
            return raised_outcome(error.raised, memory, "your code, called by the check,")
        except BaseException as error:  # noqa: BLE001 - observations the judge cannot use
            if isinstance(error, (KeyboardInterrupt, SystemExit)):
                raise
            return Status.FAILED, ("the check could not judge what your code returned "
                              f"({type(error).__name__})")
    return Status.PASSED, ""


def _serve(memory: int) -> None:
    """The judge process's loop: one request frame in, one answer frame out."""
    commands, answers = sys.stdin.buffer, sys.stdout.buffer

    def read(n):
        return commands.read(n)

    while True:
        try:
            request, blobs = unpack(read, max_bytes=1 << 40)
        except EOFError:
            return
        try:
            if request["kind"] == "cases":
                answer = {"cases": cases_of(request["chapter"], request["check"],
                                            request["salt"])}
            else:
                status, message = judge_batch(request["chapter"], request["check"],
                                              request["cases"], request["value"], blobs,
                                              memory)
                answer = {"status": status, "message": message}
        except MemoryError:
            answer = {"status": Status.FAILED, "message": "the check could not judge what your "
                      "code returned (MemoryError)"}
        answers.write(pack(answer))
        answers.flush()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m course_utils.grading.judge")
    parser.add_argument("--memory", type=int, required=True, help="address space, bytes")
    args = parser.parse_args(argv)
    resource.setrlimit(resource.RLIMIT_AS, (args.memory, args.memory))
    _serve(args.memory)


class JudgeProcess:
    """A judge process of the grader's, started on first use and again after it failed:
    :meth:`cases` and :meth:`judge` send it a request and wait for its answer, at most
    ``timeout`` seconds."""

    def __init__(self, memory: int):
        self.memory = int(memory)
        self.process = None
        self.lock = threading.Lock()

    def _start(self) -> None:
        env = dict(os.environ)
        env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
                   CUDA_VISIBLE_DEVICES="", COURSE_DEVICE="cpu", PYTHONDONTWRITEBYTECODE="1")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "course_utils.grading.judge", "--memory",
             str(max(self.memory, 3 << 30))],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)

    def _ask(self, request: dict, blobs=(), timeout: float = 600.0) -> dict | None:
        """The answer to ``request``, or None if the judge took too long or died twice
        (it is then stopped, and started afresh next time)."""
        with self.lock:
            for attempt in range(2):
                if self.process is None or self.process.poll() is not None:
                    self.close()
                    self._start()
                process = self.process
                answer: list = []

                def exchange():
                    try:
                        process.stdin.write(pack(request, list(blobs)))
                        process.stdin.flush()
                        answer.append(unpack(process.stdout.read)[0])
                    except (OSError, EOFError, MalformedObservation, ValueError):
                        pass

                worker = threading.Thread(target=exchange, daemon=True)
                worker.start()
                worker.join(timeout)
                if answer:
                    return answer[0]
                timed_out = worker.is_alive()
                self.close()
                worker.join(5)
                if timed_out:
                    return None
            return None

    def cases(self, chapter: str, check: str, salt: int | None) -> list[dict]:
        answer = self._ask({"kind": "cases", "chapter": chapter, "check": check,
                            "salt": salt})
        if answer is None:
            raise RuntimeError(f"the judge could not list the cases of {check}")
        return answer["cases"]

    def judge(self, chapter: str, check: str, cases: list[dict], tree, blobs,
              timeout: float) -> tuple[str, str]:
        answer = self._ask({"kind": "judge", "chapter": chapter, "check": check,
                            "cases": cases, "value": tree}, blobs, timeout)
        if answer is None:
            return Status.FAILED, ("the check could not judge what your code returned in "
                              f"{timeout:g} s")
        return answer["status"], answer["message"]

    def close(self) -> None:
        if self.process is not None:
            try:
                self.process.kill()
                self.process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):  # pragma: no cover
                pass
            for stream in (self.process.stdin, self.process.stdout):
                try:
                    stream.close()
                except OSError:  # pragma: no cover
                    pass
            self.process = None


if __name__ == "__main__":
    main()
