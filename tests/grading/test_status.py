"""The statuses a graded task can end with (course_utils.grading.status): plain strings, as
grades.csv and results.json carry them; the normal ones; the review statuses, made and
recognised; and a symbolic link's, which is none of the task statuses."""

import json

from course_utils.grading.status import (NORMAL, NOT_GRADED_SYMLINK, Status, is_review,
                                         review_status)


def test_statuses_are_the_plain_strings_the_reports_carry():
    assert Status.PASSED == "passed" and str(Status.NOT_FOUND) == "task cell not found"
    assert f"{Status.TIMED_OUT}: task2" == "timed out: task2"
    assert json.loads(json.dumps({"status": Status.MEMORY_LIMIT})) == {"status": "memory limit"}
    assert len({str(status) for status in Status}) == len(Status)


def test_normal_statuses_are_those_of_a_submission_graded_without_incident():
    assert NORMAL == (Status.PASSED, Status.FAILED, Status.NOT_ATTEMPTED, Status.NOT_FOUND)
    incidents = set(Status) - set(NORMAL)
    assert {Status.TIMED_OUT, Status.CRASHED, Status.TAMPERED, Status.REVIEW} <= incidents


def test_a_review_status_names_what_the_review_found():
    status = review_status("exec (task1), line 3")
    assert status == "review: exec (task1), line 3"
    assert is_review(status) and is_review(Status.REVIEW) and is_review("review")
    assert [s for s in Status if is_review(s)] == [Status.REVIEW]
    for other in ("reviewed", "not reviewed: x", "failed: review", NOT_GRADED_SYMLINK):
        assert not is_review(other), other


def test_a_symbolic_link_is_not_graded_and_is_no_task_status():
    assert NOT_GRADED_SYMLINK == "not graded: symbolic link"
    assert NOT_GRADED_SYMLINK not in {str(status) for status in Status}
