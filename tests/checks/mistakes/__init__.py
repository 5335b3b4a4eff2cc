"""The corpus of typical mistakes, one module per checks module (``henon.py`` for
:mod:`course_utils.checks.henon`, ...), each a whole task cell as a student would hand it
in, written from the task's text.

A module holds ``CHAPTER`` (the notebook's name) and ``MISTAKES``: for each task id
("task1", ...) a list of entries, each made by

* :func:`visible` (``says``, cell): the visible check (the notebook's own) rejects it, and
  its message matches the regular expression ``says`` (searched in "ExceptionType:
  message", so that a check that names a slip says so); or
* :func:`overfit` (cell): a solution fitted to the visible inputs (a seed, a size, a
  parameter value the visible cases fix). The visible check accepts it; only the hidden
  cases catch it; and it still runs in the notebook's next cells
  (``tests/repository/test_next_cells.py``).

A cell's first line names it: ``# name: what it gets wrong``. ``tests/checks/
test_mistakes.py`` runs them all; ``benchmarks/mistakes.py`` counts them.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass

from tests.notebook_cells import cell as _cell, variant_name


@dataclass(frozen=True)
class Mistake:
    """One mistake of the corpus: its task cell, and how it must be caught: ``caught`` is
    "visible" (with ``says``, a regular expression the message must match) or "hidden"."""

    source: str
    caught: str
    says: str = ""

    @property
    def name(self) -> str:
        return variant_name(self.source)


def visible(says: str, source: str) -> Mistake:
    """A mistake the notebook's check rejects with a message matching ``says``."""
    return Mistake(_cell(source), "visible", says)


def overfit(source: str) -> Mistake:
    """A solution fitted to the visible inputs: accepted there, caught by the hidden cases."""
    return Mistake(_cell(source), "hidden")


def corpus() -> dict:
    """Every corpus module's mistakes, ``{chapter: {task id: [Mistake, ...]}}``."""
    found = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        found[module.CHAPTER] = module.MISTAKES
    return dict(sorted(found.items()))
