"""Run a chapter's solution as the notebook runs it, and at each task cell, for each given
variant of the task (a whole task cell), the rest of the notebook with that variant in the
task's place: its check, then every later cell (later tasks as the reference has them).

A variant runs in a forked copy of the process that ran the cells before the task, so the
cells before it run once for all its variants (in a TensorFlow chapter, in passes: see
:func:`run`). A variant that the check accepts must leave
every later cell running (``tests/repository/test_next_cells.py``): a ✓ followed by a crash
is what this finds.

``python -m tests.next_cells CHAPTER VARIANTS.json RESULTS.json`` (in the folder where the
notebook's files may be written), with VARIANTS ``{task id: [cell source, ...]}``; it writes
one result per variant: ``{"task", "variant", "ok", "cell", "error", "checks"}`` where
``cell`` is the index of the first code cell that failed (None if none), ``checks`` the
number of ✓ lines printed.
"""

from __future__ import annotations

import functools
import io
import json
import os
import signal
import sys
import traceback
from contextlib import redirect_stderr, redirect_stdout

from tests.notebook_cells import ROOT, reference_of, run_cell, variant_name

#: Seconds a variant may take for the rest of its notebook, in quick mode.
VARIANT_TIMEOUT = 300
#: How many variants run at once (each in its own process, with one BLAS thread).
PARALLEL = max(1, min(4, os.cpu_count() or 1))


def _run_cells(cells: list[str], start: int, substitutes: dict, namespace: dict) -> dict:
    """The code cells from ``start`` on, cell ``i`` replaced by ``substitutes[i]`` where
    given; the first failure stops them."""
    output = io.StringIO()
    failed, error = None, None
    with redirect_stdout(output), redirect_stderr(output):
        for index in range(start, len(cells)):
            try:
                run_cell(substitutes.get(index, cells[index]), namespace, "next")
            except BaseException as raised:  # noqa: BLE001 - what the notebook would show
                failed = index
                error = "".join(traceback.format_exception_only(type(raised), raised)).strip()
                break
    return {"ok": failed is None, "cell": failed, "error": error,
            "checks": output.getvalue().count("\u2713"), "output": output.getvalue()[-3000:]}


def _start(work) -> tuple[int, int]:
    """``work()`` (a dict) in a forked child; returns the child's pid and the read end of
    the pipe its result comes back through (:func:`_finish`)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read)
        signal.alarm(VARIANT_TIMEOUT)
        try:
            result = work()
        except BaseException as raised:  # noqa: BLE001 - reported, never raised in a fork
            result = {"ok": False, "cell": None, "error": repr(raised), "checks": 0}
        with os.fdopen(write, "w") as stream:
            json.dump(result, stream)
        os._exit(0)
    os.close(write)
    return pid, read


def _finish(started: tuple[int, int]) -> dict:
    pid, read = started
    with os.fdopen(read) as stream:
        text = stream.read()
    _, status = os.waitpid(pid, 0)
    if not text:
        return {"ok": False, "cell": None, "checks": 0,
                "error": f"the process running the variant ended with status {status}"}
    return json.loads(text)


def _forked(works: list) -> list[dict]:
    """Each of ``works`` in a forked child, :data:`PARALLEL` at a time; their results."""
    results = []
    for first in range(0, len(works), PARALLEL):
        started = [_start(work) for work in works[first:first + PARALLEL]]
        results += [_finish(handle) for handle in started]
    return results


def _uses_tensorflow(cells: list[str]) -> bool:
    return any("tensorflow" in source for source in cells)


def run(chapter: str, variants: dict) -> list[dict]:
    """Every variant of ``variants`` (``{task id: [cell, ...]}``) run in the notebook of
    ``chapter``, each followed by the rest of the notebook; one result per variant.

    TensorFlow's thread pools do not survive a fork, so in a TensorFlow chapter the
    variants run in passes instead, each pass the whole notebook in a child forked before
    any cell ran, with variant k of every task in pass k (a failure names the pass's
    variants)."""
    reference = reference_of(chapter)
    at = {task.code_cell: task for task in reference.tasks}
    cells = reference.code_cells
    if _uses_tensorflow(cells):
        return _in_passes(reference, variants)
    namespace = {"__name__": "__main__"}
    results = []
    for index, source in enumerate(cells):
        task = at.get(index)
        chosen = variants.get(task.id, []) if task else []
        works = [functools.partial(_run_cells, cells, index, {index: variant}, namespace)
                 for variant in chosen]
        for variant, result in zip(chosen, _forked(works)):
            results.append({"task": task.id, "variant": variant_name(variant), **result})
        with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
            run_cell(source, namespace, "reference")
    return results


def _in_passes(reference, variants: dict) -> list[dict]:
    passes = []
    for k in range(max((len(v) for v in variants.values()), default=0)):
        passes.append({task.code_cell: (task.id, variants[task.id][k])
                       for task in reference.tasks if k < len(variants.get(task.id, []))})
    works = [functools.partial(_run_cells, reference.code_cells, 0,
                               {index: source for index, (_, source) in chosen.items()},
                               {"__name__": "__main__"}) for chosen in passes]
    results = []
    for chosen, result in zip(passes, _forked(works)):
        names = ", ".join(variant_name(source) for _, source in chosen.values())
        for index, (task_id, source) in sorted(chosen.items()):
            ok = result["ok"] or result["cell"] is not None and result["cell"] < index
            results.append({**result, "ok": ok, "task": task_id,
                            "variant": variant_name(source),
                            "error": None if ok else f"{result['error']} (in the run of "
                                                     f"{names})"})
    return results


def main(argv: list[str]) -> None:
    chapter, variants, out = argv
    os.environ.setdefault("COURSE_QUICK", "1")
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.path.insert(0, str(ROOT))
    results = run(chapter, json.loads(open(variants, encoding="utf-8").read()))
    with open(out, "w", encoding="utf-8") as stream:
        json.dump(results, stream, indent=1)


if __name__ == "__main__":
    main(sys.argv[1:])
