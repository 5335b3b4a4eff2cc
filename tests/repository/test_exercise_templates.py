"""The repository's exercise templates fail only at their "your code here" cells: with the
tasks before one solved, a template runs until that task's stub (quick mode)."""

import re
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from course_utils.authoring.release import solution_sources
from course_utils.notebook_format import make_exercise, solution_tasks, to_ipynb

ROOT = Path(__file__).resolve().parents[2]
SOURCES = solution_sources(ROOT)


@pytest.fixture(autouse=True)
def quick(monkeypatch):
    monkeypatch.setenv("COURSE_QUICK", "1")
    monkeypatch.setenv("CI", "true")  # no progress bars in the logs


def _cases():
    for source in SOURCES:
        tasks = solution_tasks(source.read_text(), source)
        for k, task in enumerate(tasks):
            yield pytest.param(source, k, task, id=f"{source.stem}-task{k + 1}")


@pytest.mark.parametrize("source, solved, task", list(_cases()))
def test_exercise_fails_only_at_its_stub(source, solved, task, record_property):
    """With the tasks before this one solved, the template runs until this task's stub and
    fails there with its NotImplementedError, never with another error before that.
    (solved=0 is exactly the committed template, as test_release_check_passes in
    test_generated_notebooks.py ensures.)"""
    text = make_exercise(source.read_text(), source, solved=solved)
    nb = nbformat.reads(to_ipynb(text, source.stem), as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(source.parent)}})
    start = time.perf_counter()
    with pytest.raises(CellExecutionError) as info:
        client.execute()
    record_property("notebook_seconds", time.perf_counter() - start)
    record_property("notebook_label", f"exercise (to task {solved + 1})  {source.stem}.ipynb")
    error = info.value
    assert error.ename == "NotImplementedError", f"failed before the stub:\n{error}"
    # Keras wraps an error raised in a layer's call with context, keeping its type.
    message = re.sub(r"\x1b\[[0-9;]*m", "", error.evalue)
    assert f"{task}: your code here" in message, message
