"""The statuses a graded task can end with, owned here and used by the whole grader.

Every status but :attr:`Status.PASSED` scores 0 points. A task cell that uses what the
review flags (the package's own answer, introspection, dynamic code, another process) is
not scored automatically: its status is ``"review: <what it uses>"``
(:func:`review_status`), for the tutor to look at. A submission that is a symbolic link is
not graded at all (:data:`NOT_GRADED_SYMLINK`). The values are plain strings, so that
``grades.csv`` and ``results.json`` carry them as written here.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Status", "NORMAL", "NOT_GRADED_SYMLINK", "review_status", "is_review"]


class Status(StrEnum):
    """What became of one task of one submission."""

    PASSED = "passed"
    FAILED = "failed"
    NOT_ATTEMPTED = "not attempted"
    NOT_FOUND = "task cell not found"
    REVIEW = "review"
    TIMED_OUT = "timed out"
    MEMORY_LIMIT = "memory limit"
    CRASHED = "crashed"
    OUTPUT_LIMIT = "output limit"
    LEFT_RUNNING = "left running"
    TAMPERED = "tampered"
    GRADER_ERROR = "grader error"


#: The statuses of a submission graded without incident (the others are reported in the
#: grader's summary line).
NORMAL = (Status.PASSED, Status.FAILED, Status.NOT_ATTEMPTED, Status.NOT_FOUND)

#: The status of every task of a submission that is a symbolic link.
NOT_GRADED_SYMLINK = "not graded: symbolic link"


def review_status(findings: str) -> str:
    """The status of a task cell the review flagged: ``"review: <findings>"``."""
    return f"{Status.REVIEW}: {findings}"


def is_review(status: str) -> bool:
    """Whether ``status`` is a review status (:func:`review_status`)."""
    return status == Status.REVIEW or status.startswith(f"{Status.REVIEW}: ")
