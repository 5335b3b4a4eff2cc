"""Repository-wide pytest hooks: notebook run times, and the executed notebooks.

* nbval reports every cell as a test; the tests that execute notebooks themselves record
  ``notebook_seconds`` with ``record_property``. Both are summed per notebook and printed at
  the end of the run, under the mode the run used (quick or full).
* ``--executed-dir DIR`` writes every notebook that nbval ran to ``DIR/NAME.ipynb`` with the
  outputs it produced (figures included), failed runs too: ``make test-full`` keeps them as
  the GPU workflow's artifacts.
"""

from collections import defaultdict
from pathlib import Path

import pytest

_TIMES: dict[str, float] = defaultdict(float)
_EXECUTED: dict[Path, object] = {}   # notebook path -> nbval's IPyNbFile (holds the notebook)
_RAN: dict[Path, int] = {}


def pytest_addoption(parser):
    parser.addoption("--executed-dir", default=None, metavar="DIR",
                     help="write the notebooks nbval ran, with their outputs, to DIR")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    yield
    # nbval's cell item keeps the notebook cell it ran (`cell`) and the outputs it collected
    # (`test_outputs`), also when the cell failed; record them in the notebook node.
    outputs = getattr(item, "test_outputs", None)
    cell = getattr(item, "cell", None)
    if outputs is None or cell is None or not item.config.getoption("executed_dir"):
        return
    path = Path(str(item.parent.path))
    ran = _RAN[path] = _RAN.get(path, 0) + 1       # the cells ran, numbered in order
    cell.outputs = list(outputs)
    cell.execution_count = ran
    for output in cell.outputs:
        if output.get("output_type") == "execute_result":
            output["execution_count"] = ran
    _EXECUTED[path] = item.parent


def pytest_sessionfinish(session):
    out = session.config.getoption("executed_dir")
    if not out or not _EXECUTED:
        return
    import nbformat

    Path(out).mkdir(parents=True, exist_ok=True)
    for path, notebook_file in _EXECUTED.items():
        nbformat.write(notebook_file.nb, Path(out) / path.name)


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::")[0]
    if path.endswith(".ipynb"):
        _TIMES[f"solution (nbval)  {path.rsplit('/', 1)[-1]}"] += report.duration
    properties = dict(getattr(report, "user_properties", ()))
    if report.when == "call" and "notebook_seconds" in properties:
        label = properties.get("notebook_label", report.nodeid)
        _TIMES[label] += properties["notebook_seconds"]


def pytest_terminal_summary(terminalreporter):
    if not _TIMES:
        return
    from course_utils.runtime import quick_mode

    mode = "quick mode, COURSE_QUICK=1" if quick_mode() else "full mode"
    terminalreporter.section(f"notebook run times ({mode})")
    for label, seconds in sorted(_TIMES.items()):
        terminalreporter.write_line(f"{seconds:8.1f} s  {label}")
