"""The contract every chapter's checks keep (course_utils.checks.framework): each check is
registered under its name and chapter, its cases travel as JSON values, the grader's salt
changes the hidden cases and nothing else, and a hidden case's label names a kind of input,
never its values."""

import json
import re

import pytest

from course_utils.checks import BY_CHAPTER, check_specs
from course_utils.checks.observations import encode

CHECKS = [(chapter, name) for chapter, module in sorted(BY_CHAPTER.items())
          for name in module.CHECKS]


@pytest.mark.parametrize("chapter", sorted(BY_CHAPTER))
def test_checks_are_registered_under_their_names(chapter):
    module = BY_CHAPTER[chapter]
    assert set(module.CHECKS) == set(module.__all__) == set(check_specs(chapter))
    for name, check in module.CHECKS.items():
        assert check.name == name and check.chapter == chapter == module.CHAPTER
        assert check.passed and callable(check.probe) and callable(check.judge)


@pytest.mark.parametrize("chapter, name", CHECKS)
@pytest.mark.parametrize("salt", [None, 5, 2**31 - 2])
def test_case_params_are_json(chapter, name, salt):
    for case in check_specs(chapter)[name].cases(True, salt):
        assert json.loads(json.dumps(case.params)) == case.params
        tree, blobs = encode(case.params)
        json.dumps(tree)
        assert not blobs


@pytest.mark.parametrize("chapter, name", CHECKS)
def test_the_salt_changes_the_hidden_cases_only(chapter, name):
    check = check_specs(chapter)[name]
    plain, salted = check.cases(True, None), check.cases(True, 5)
    assert [c for c in plain if not c.hidden] == [c for c in salted if not c.hidden]
    assert [c for c in plain if not c.hidden] == check.cases(False, 5)
    hidden = [(p, s) for p, s in zip(plain, salted) if p.hidden]
    assert hidden and all(p.label == s.label and p.params != s.params for p, s in hidden)


@pytest.mark.parametrize("chapter, name", CHECKS)
def test_hidden_labels_name_no_values(chapter, name):
    for case in check_specs(chapter)[name].cases(True, 7):
        if case.hidden:
            assert not re.search(r"\d", case.label.replace("float32", "").replace(
                "float64", "").replace("complex64", "").replace("complex128", "")), case.label


def test_mismatch_has_one_form():
    from course_utils.checks.framework import MISMATCH, first_mismatch, mismatch

    import numpy as np

    message = first_mismatch("J", np.zeros((2, 3)), np.array([[0, 0, 0], [0, 1.5, 2.0]]),
                             case="the notebook's sizes (float32)") + ". A hint."
    assert message.startswith("J[1, 1] is wrong (the notebook's sizes (float32)): expected "
                              "0.0, got 1.5. A hint.")
    found = MISMATCH.match(message)
    assert found["name"] == "J" and found["index"] == "[1, 1]"
    assert found["case"] == "the notebook's sizes (float32)"
    assert (found["expected"], found["got"]) == ("0.0", "1.5")
    scalar = mismatch("lambda_max", (), 0.41922, 0.5)
    assert scalar == "lambda_max is wrong: expected 0.41922, got 0.5"
    assert MISMATCH.match(scalar)["index"] is None
    # a close mask decides where the first difference is; complex values side by side
    close = np.array([True, False, True])
    assert first_mismatch("lam", np.array([1j, 2j, 3j]), np.array([1j, 2.5j, 0]),
                          close) == "lam[1] is wrong: expected 0.0000+2.0000j, got " \
                                    "0.0000+2.5000j"
    assert not MISMATCH.match("x must have shape (3,); got (2,)")


def test_numbers_are_shown_readably():
    from course_utils.checks.framework import fmt, fmt_pair

    import numpy as np

    assert fmt(0.0) == "0.0" and fmt(-0.0) == "-0.0" and fmt([1.0, 2.5]) == "[1.0, 2.5]"
    assert fmt(1.23456789e-7) == "1.234568e-07" and fmt(np.nan) == "nan"
    assert fmt(np.arange(30.0)).endswith("7.0, ..., 28.0, 29.0]")
    # as many digits as it takes for the two to differ
    assert fmt_pair(0.41922, 0.4192201) == "expected 0.41922, got 0.4192201"
