"""Repository-wide pytest hooks: report how long each notebook took.

nbval reports every cell as a test; the tests that execute notebooks themselves record
``notebook_seconds`` with ``record_property``. Both are summed per notebook and printed at
the end of the run.
"""

from collections import defaultdict

_TIMES: dict[str, float] = defaultdict(float)


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
    terminalreporter.section("notebook run times (COURSE_QUICK=1)")
    for label, seconds in sorted(_TIMES.items()):
        terminalreporter.write_line(f"{seconds:8.1f} s  {label}")
