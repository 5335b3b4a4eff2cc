"""No ✓ is followed by a crash: every solution the notebook's check accepts, the correct
variants of ``tests/grading/test_honest.py`` and the over-fitted solutions of the corpus of
mistakes (``tests/checks/mistakes``), is put in its task's place in the solution notebook,
which then runs to its end in quick mode (``tests/next_cells.py``): its check and every
later cell must run.

The control, in chapter 03: a correct forcing loop in a cell that also rebinds a name a
later cell uses; its check passes, and the run must find the later cell it breaks."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.checks.mistakes import corpus
from tests.grading.test_honest import VARIANTS
from tests.notebook_cells import ROOT, cell, reference_of, variant_name

TIMEOUT = 900  # seconds per chapter, all its variants

#: A correct forcing loop whose cell also rebinds ``time``, which the notebook's cell after
#: the check uses (``time.perf_counter()``): the check passes, a later cell fails.
_CONTROL = cell('''
# control_shadows_time: correct, but the cell rebinds a name a later cell uses
time = None


def stf_forward(model, x, tau_f):
    """Sparsely forced predictions (B, T, N) of x[:, t + 1] from forcing signals x (B, T, N)."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        if t % tau_f == 0:
            z = torch.cat([x[:, t], z[:, N:]], dim=-1)
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)
''')


def accepted(chapter: str) -> dict:
    """The solutions the chapter's visible checks accept, by task: the correct variants
    and the corpus's over-fitted ones."""
    overfits = corpus().get(chapter, {})
    return {task: list(VARIANTS[chapter][task]) + [m.source for m in overfits.get(task, [])
                                                   if m.caught == "hidden"]
            for task in VARIANTS[chapter]}


def run_variants(chapter: str, variants: dict, folder) -> list[dict]:
    """``tests/next_cells.py`` in ``folder`` (where the notebook writes its files)."""
    (folder / "variants.json").write_text(json.dumps(variants))
    env = dict(os.environ, COURSE_QUICK="1", MPLBACKEND="Agg", CI="true", OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-m", "tests.next_cells", chapter,
                           "variants.json", "results.json"], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((folder / "results.json").read_text())


@pytest.mark.parametrize("chapter", sorted(VARIANTS))
def test_accepted_solutions_leave_the_next_cells_running(chapter, tmp_path, record_property):
    variants = accepted(chapter)
    control = chapter == "03_stf_lorenz"
    if control:
        variants["task1"] = variants["task1"] + [_CONTROL]
    results = run_variants(chapter, variants, tmp_path)
    expected = sorted((task, variant_name(source))
                      for task, sources in variants.items() for source in sources)
    assert sorted((r["task"], r["variant"]) for r in results) == expected
    cells = reference_of(chapter).code_cells
    failures = [f"{r['task']} {r['variant']}: code cell {r['cell']} failed: {r['error']}\n"
                f"{cells[r['cell']][:300] if r['cell'] is not None else ''}"
                for r in results if not r["ok"] and r["variant"] != "control_shadows_time"]
    assert not failures, "\n\n".join(failures)
    record_property("variants", len(results))
    if control:
        (result,) = [r for r in results if r["variant"] == "control_shadows_time"]
        task_cell = reference_of(chapter).tasks[0].code_cell
        assert not result["ok"] and result["cell"] > task_cell + 1, result
        assert result["checks"] >= 1 and "perf_counter" in result["error"], result
