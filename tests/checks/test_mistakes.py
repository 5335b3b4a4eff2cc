"""The corpus of typical mistakes (``tests/checks/mistakes``) against the notebooks' own
checks: each mistake, run as a task cell in a namespace like the notebook's, is either
rejected by the visible check with the message that names it, or, for a solution fitted to
the visible inputs, accepted there and caught by the hidden cases under every salt. Every
message that shows a wrong value has the one form of all chapters (``MISMATCH``)."""

from __future__ import annotations

import re

import pytest

from course_utils.checks.framework import MISMATCH, HiddenCaseError, run_check

from tests.checks.mistakes import corpus
from tests.notebook_cells import checks_and_object, reference_of

CORPUS = corpus()
MIN_MISTAKES = 10  # per task
SALTS = (3, 2024)  # the hidden cases' salts an over-fitted solution must fail under
ENTRIES = [(chapter, task_id, mistake) for chapter, tasks in CORPUS.items()
           for task_id, mistakes in tasks.items() for mistake in mistakes]
#: A message that shows a value beside another: "expected 0.5, got 0.7".
_SHOWS_VALUES = re.compile(r"expected [^,;]{1,80}, got (-?[\d\[(]|nan|inf)")


def test_every_task_has_its_corpus():
    """Every chapter with checks has a corpus; each task at least ``MIN_MISTAKES`` mistakes
    under distinct names."""
    from course_utils.checks import BY_CHAPTER

    assert sorted(CORPUS) == sorted(BY_CHAPTER)
    for chapter, tasks in CORPUS.items():
        assert sorted(tasks) == sorted(t.id for t in reference_of(chapter).tasks), chapter
        for task_id, mistakes in tasks.items():
            names = [m.name for m in mistakes]
            assert len(names) >= MIN_MISTAKES, (chapter, task_id, len(names))
            assert len(set(names)) == len(names), (chapter, task_id)
            for m in mistakes:
                assert m.caught in ("visible", "hidden"), m.name
                assert (m.caught == "visible") == bool(m.says), m.name


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's, from the mistakes' own code
@pytest.mark.parametrize("chapter, task_id, mistake", ENTRIES,
                         ids=[f"{c[:2]}-{t}-{m.name}" for c, t, m in ENTRIES])
def test_mistake_is_caught(chapter, task_id, mistake, capsys):
    checks, obj = checks_and_object(chapter, task_id, mistake.source, "mistake")
    if mistake.caught == "hidden":
        for check in checks:
            run_check(check, (obj,))
        assert capsys.readouterr().out.count("\u2713") == len(checks)
        for salt in SALTS:
            with pytest.raises(HiddenCaseError):
                for check in checks:
                    run_check(check, (obj,), hidden=True, salt=salt)
        return
    error = None
    for check in checks:
        try:
            run_check(check, (obj,))
        except Exception as raised:  # noqa: BLE001 - the check's or the student's own
            error = raised
            break
    out = capsys.readouterr().out
    assert error is not None, f"the visible check accepted {mistake.name}: {out}"
    assert not isinstance(error, HiddenCaseError)
    text = f"{type(error).__name__}: {error}"
    assert re.search(mistake.says, text, re.S), f"{mistake.name}: {text}"
    if _SHOWS_VALUES.search(str(error)):
        assert MISMATCH.search(str(error)), f"not in the form of MISMATCH: {text}"
