"""What the check tests share: a case graded as the grader does it (the observations
through their bytes, judged without the student's exception objects), the same in a
process where TensorFlow cannot be imported, and the probes run with the package's
reference withheld, as the grader's worker does."""

import contextlib
import io
import json
import os
import subprocess
import sys

import numpy as np

from course_utils.checks.framework import judge_case, observe
from course_utils.checks.observations import decode, encode, pack, unpack


def graded(check, case, fn):
    """The case as the grader runs it: the probe's observations through the bytes, then
    the judge, without the student's exception objects."""
    tree, blobs = encode(observe(check, case, (fn,)))
    message, blobs = unpack(io.BytesIO(pack({"v": tree}, blobs)).read)
    judge_case(check, case, decode(message["v"], blobs))


#: The judge in a process where TensorFlow cannot be imported: it reads frames of
#: (check, case, observations) from a file and prints, for each, None or its message.
_JUDGE_WITHOUT_TF = r"""
import importlib, json, sys

class NoTensorFlow:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "keras", "tf_keras"):
            raise ImportError("the judge imported " + name)

sys.meta_path.insert(0, NoTensorFlow())
from course_utils.checks.framework import Case, judge_case
from course_utils.checks.observations import decode, unpack

module = importlib.import_module(sys.argv[1])
results = []
with open(sys.argv[2], "rb") as stream:
    while True:
        try:
            message, blobs = unpack(stream.read)
        except EOFError:
            break
        case = Case(message["label"], message["params"], message["hidden"])
        try:
            judge_case(module.CHECKS[message["check"]], case, decode(message["v"], blobs))
            results.append(None)
        except AssertionError as error:
            results.append(str(error))
assert "tensorflow" not in sys.modules
print(json.dumps(results))
"""


def judged_without_tensorflow(module: str, runs, tmp_path) -> list:
    """Probe each (check, fn) of ``runs`` on all its cases here; judge them in a process
    without TensorFlow. Returns, per run, the list of its cases' results (None or the
    message), and checks that the judge here says the same."""
    frames, here, sizes = [], [], []
    for check, fn in runs:
        cases = check.cases(True, 5)
        sizes.append(len(cases))
        for case in cases:
            tree, blobs = encode(observe(check, case, (fn,)))
            frames.append(pack({"check": check.name, "label": case.label,
                                "params": case.params, "hidden": case.hidden, "v": tree},
                               blobs))
            message, copies = unpack(io.BytesIO(frames[-1]).read)
            try:
                judge_case(check, case, decode(message["v"], copies))
                here.append(None)
            except AssertionError as error:
                here.append(str(error))
    path = tmp_path / "observations.bin"
    path.write_bytes(b"".join(frames))
    result = subprocess.run([sys.executable, "-c", _JUDGE_WITHOUT_TF, module, str(path)],
                            capture_output=True, text=True, env=dict(os.environ))
    assert result.returncode == 0, result.stderr[-3000:]
    there = json.loads(result.stdout.strip().splitlines()[-1])
    assert there == here
    starts = np.cumsum([0] + sizes)
    return [there[start:end] for start, end in zip(starts[:-1], starts[1:])]


def assert_params_are_json(cases) -> None:
    """Every case's params are JSON values (they travel to the worker as such)."""
    for case in cases:
        json.dumps(case.params)
        tree, blobs = encode(case.params)
        json.dumps(tree)
        assert not blobs, case.label


@contextlib.contextmanager
def references_withheld(names):
    """The package objects ``names`` (qualified) replaced by stand-ins that raise, as the
    grader's worker withholds a task's references while the task is graded."""
    from course_utils.grading.worker import restore, withhold

    undo = withhold(names, {})
    try:
        yield
    finally:
        restore(undo)


def probe_without_references(check, objects, names, salt=31) -> list:
    """Every case's observations, probed with ``names`` withheld: the probe must need no
    reference (it computes no expected value)."""
    with references_withheld(names):
        return [observe(check, case, tuple(objects)) for case in check.cases(True, salt)]


def assert_forcing_probe_is_blind(module, check, probe, solution, monkeypatch) -> None:
    """The probe of a forcing check (chapters 03, 05, 06: ``module``'s ``check``, whose own
    probe function is ``probe``) computes no expected value: its source names no
    reference, and it runs, on every case, with the references and the judge's own
    helpers replaced by functions that raise."""
    import inspect

    import course_utils.training as training
    from course_utils.checks import helpers

    cases = check.cases(True, 31)
    assert_params_are_json(cases)
    references = ("forced_run", "forcing_times", "forcing_weights", "forced_forward",
                  "stf_forward(", "gtf_forward", "training", "fair_case", "_slips", "judge_")
    for function in (probe, helpers.probe_forcing, helpers.student_gradients,
                     helpers.forcing_inputs, helpers.small_plrnn, helpers.forcing_signals,
                     helpers.gradient_weights):
        source = inspect.getsource(function)
        assert not [name for name in references if name in source], function.__name__

    def forbidden(*args, **kwargs):
        raise AssertionError("the probe ran the reference")

    for name in ("forced_run", "fair_case"):
        monkeypatch.setattr(helpers, name, forbidden)
    if hasattr(module, "forced_run"):
        monkeypatch.setattr(module, "forced_run", forbidden)
    for name in ("stf_forward", "gtf_forward", "forced_forward", "forcing_times",
                 "forcing_weights"):
        monkeypatch.setattr(training, name, forbidden)
    for case in cases:
        seen = observe(check, case, (solution,))
        assert isinstance(seen, dict), seen
        assert set(seen) == {"got", "model", "x", "grads"}
        assert set(seen["grads"]) == {"A", "W1", "W2", "h1", "h2"}
