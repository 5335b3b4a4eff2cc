"""The statuses of the grader, owned here and used by the whole grader: what became of a
task (:class:`Status`), and of a submission as a whole (:data:`GRADED`, or why it was not
graded).

Every task status but :attr:`Status.PASSED` scores 0 points. A task cell that uses what the
review flags (the package's own answer, introspection, dynamic code, another process) is
not scored automatically: its status is ``"review: <what it uses>"``
(:func:`review_status`), for the tutor to look at. A submission that is a symbolic link is
not graded at all (:data:`NOT_GRADED_SYMLINK`). The values are plain strings, so that
``grades.csv`` and ``results.json`` carry them as written here.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Status", "NORMAL", "review_status", "is_review", "GRADED", "NOT_GRADED_SYMLINK",
           "NO_NOTEBOOK", "NOT_A_ZIP", "EMPTY_NOTEBOOK", "not_a_notebook",
           "several_notebooks", "wrong_chapter"]


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

#: A submission whose tasks were all graded (the tasks' statuses say how each went).
GRADED = "graded"
#: A submission that is a symbolic link: not graded at all.
NOT_GRADED_SYMLINK = "not graded: symbolic link"
#: A student's folder without a notebook.
NO_NOTEBOOK = "no notebook"
#: A file named ``.zip`` that is not a zip archive.
NOT_A_ZIP = "not a zip archive"
#: A notebook without code in any cell.
EMPTY_NOTEBOOK = "empty notebook"


def not_a_notebook(why: str) -> str:
    """A file that cannot be read as a notebook, and why (``"no cells"``, an error's name)."""
    return f"not a notebook ({why})"


def several_notebooks(count: int) -> str:
    """A student's folder with ``count`` notebooks, none named for the chapter."""
    return f"several notebooks ({count})"


def wrong_chapter(shown: str) -> str:
    """A notebook of another chapter (``shown``: the chapter its metadata names)."""
    return f"wrong chapter ({shown})"


def review_status(findings: str) -> str:
    """The status of a task cell the review flagged: ``"review: <findings>"``."""
    return f"{Status.REVIEW}: {findings}"


def is_review(status: str) -> bool:
    """Whether ``status`` is a review status (:func:`review_status`)."""
    return status == Status.REVIEW or status.startswith(f"{Status.REVIEW}: ")
