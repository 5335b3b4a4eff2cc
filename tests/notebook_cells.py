"""Task cells run as a notebook runs them, for the tests that hand the checks code written
as a student would write it (the correct variants of ``tests/grading/test_honest.py``, the
corpus of mistakes of ``tests/checks/mistakes``): a whole task cell as source, its first
line naming it (``# name: what it does``), run in a namespace like the notebook's at the
task (the imports of the reference cells before it, and the reference's earlier task
cells), under an ``<ipython-input-...>`` file name, so that the check's review reads it as
the notebook's check does."""

from __future__ import annotations

import ast
import functools
import itertools
import linecache
import textwrap
import types
from pathlib import Path

from course_utils.grading.submissions import load_reference
from course_utils.notebook_format import strip_check_calls

ROOT = Path(__file__).resolve().parents[1]


def variant_name(source: str) -> str:
    """A task cell's name, from its first line (``# name: what it does``)."""
    return source.strip().splitlines()[0].lstrip("# ").split(":")[0]


def cell(source: str) -> str:
    """A task cell as written in a test (indented, blank lines around) as it is handed in."""
    return textwrap.dedent(source).strip("\n") + "\n"


@functools.lru_cache(maxsize=None)
def reference_of(chapter: str):
    """The chapter's reference (:func:`course_utils.grading.submissions.load_reference`)."""
    return load_reference(chapter, ROOT / "solutions")


def task_of(chapter: str, task_id: str):
    """The reference's task ``task_id`` ("task1", ...) of ``chapter``."""
    tasks = {task.id: task for task in reference_of(chapter).tasks}
    return tasks[task_id]


_SETUP_CALLS = {"import_tensorflow"}


def _setup(source: str, namespace: dict) -> None:
    """Run the imports of a reference cell, and its assignments that only import or name
    something: ``tf = import_tensorflow(...)``, ``keras = tf.keras``, ``DTYPE = tf.float64``
    (an attribute of a module)."""
    for node in ast.parse(source).body:
        value = getattr(node, "value", None)
        root = value
        while isinstance(root, ast.Attribute):
            root = root.value
        if isinstance(node, (ast.Import, ast.ImportFrom)) or isinstance(node, ast.Assign) and (
                isinstance(value, ast.Attribute) and isinstance(root, ast.Name)
                and isinstance(namespace.get(root.id), types.ModuleType)
                or isinstance(value, ast.Call) and isinstance(value.func, ast.Name)
                and value.func.id in _SETUP_CALLS):
            module = ast.Module(body=[node], type_ignores=[])
            exec(compile(module, "<reference imports>", "exec"), namespace)


def namespace_at(reference, task) -> dict:
    """A notebook's globals at the task cell: the imports of the reference cells before it,
    and the reference's own earlier task cells (as the grader runs them)."""
    namespace = {"__name__": "__main__"}
    earlier = {t.code_cell for t in reference.tasks}
    for index, source in enumerate(reference.code_cells[:task.code_cell]):
        if index in earlier:
            exec(compile(strip_check_calls(source), f"<reference cell {index}>", "exec"),
                 namespace)
        else:
            _setup(source, namespace)
    return namespace


_COUNTER = itertools.count(1)


def run_cell(source: str, namespace: dict, tag: str = "test") -> None:
    """Run a task cell as IPython does: under an ``<ipython-input-...>`` file name whose
    lines linecache holds, so that the notebook's check reviews the cell as well."""
    filename = f"<ipython-input-{next(_COUNTER)}-{tag}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)


def defined_name(source: str) -> str:
    """The name the task cell defines for its check (its last top-level def or class)."""
    names = [node.name for node in ast.parse(source).body
             if isinstance(node, (ast.FunctionDef, ast.ClassDef))]
    return names[-1]


def checks_and_object(chapter: str, task_id: str, source: str, tag: str = "test"):
    """A task cell run as the notebook runs it (:func:`run_cell` in :func:`namespace_at`):
    the task's checks (:class:`~course_utils.checks.framework.Check`, in their order) and
    the object the cell defines for them."""
    from course_utils.checks import check_specs

    task = task_of(chapter, task_id)
    namespace = namespace_at(reference_of(chapter), task)
    run_cell(source, namespace, tag)
    specs = check_specs(chapter)
    return [specs[name] for name in task.checks], namespace[defined_name(source)]
