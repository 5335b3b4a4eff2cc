"""One training update of chapters 03 and 06 (batch, fused pass, loss, clipping, Adam),
profiled and compared with the training code of an earlier revision, side by side in one
process.

    .venv/bin/python benchmarks/forcing_update.py --profile [--updates 300]
    .venv/bin/python benchmarks/forcing_update.py --compare REV [--updates 200] [--rounds 6]

``--profile`` splits the time of an update of ``train_stf`` with ``STF_DEFAULTS`` (batches
of 32 x 200 steps, M = 20, L = 200, one BLAS thread) into its parts, in one process
alone (the helper process off) and then with the helper: the batch (sampling), the forward
and backward loops, the parameter gradients, the rest of the pass (the copies between
PyTorch and NumPy, the loss and autograd) and the rest of the update (clipping, Adam, the
learning-rate schedule, the loop). For the loops it also times their 800 matrix products
alone, in a bare loop of the same shapes: the arithmetic, against which the rest of a
loop is the cost of its calls (Python and NumPy dispatch, and the element-wise work).

``--compare REV`` times whole updates of ``train_stf`` (``STF_DEFAULTS``) and ``train_gtf``
(``GTF_DEFAULTS``, GTF with resets) by the current code and by ``course_utils/training.py``
of the git revision ``REV`` (run against the current package, so REV must use no module
that has changed its interface since), ``updates`` updates per round, the two taking turns
with the order alternating from round to round; once on the machine as it is and once
with a process busy on another core (a pure-Python loop). It also times the fused pass
alone (forward, loss and backward on one batch) with the current code, for the update's
overhead beyond the pass. Prints one JSON line per measurement (median and quartiles in
ms), then the speed-ups (baseline / current median) and the overhead (update minus pass,
in % of the pass).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--profile", action="store_true", help="split one update into its parts")
    p.add_argument("--compare", metavar="REV", help="compare with training.py of git REV")
    p.add_argument("--updates", type=int, default=200)
    p.add_argument("--rounds", type=int, default=6)
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    if args.profile:
        _profile(args.updates)
    if args.compare:
        _compare(args.compare, args.updates, args.rounds)
    if not (args.profile or args.compare):
        p.error("give --profile or --compare REV")


def _data():
    import tempfile

    from course_utils.data import lorenz_dataset

    with tempfile.TemporaryDirectory() as folder:
        return lorenz_dataset(Path(folder) / "lorenz_data.pt")["train"]


def _cpu():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _emit(**record):
    print(json.dumps(dict(record, cpus=os.cpu_count(), cpu=_cpu())), flush=True)


# --- the profile -------------------------------------------------------------------------

def _profile(updates):
    import numpy as np
    import torch

    from course_utils import forcing_loops, training
    from course_utils.models import ShallowPLRNN
    from course_utils.reconstruction import STF_DEFAULTS

    X = _data()
    settings = dict(STF_DEFAULTS["train"])
    spent = {}

    def timed(module, name, label):
        original = getattr(module, name)
        setattr(module, name, _timed_function(original, spent, label))
        return original

    originals = [
        (training, "sample_batch", timed(training, "sample_batch", "batch (sampling)")),
        (training, "run_forward", timed(training, "run_forward", "forward loop")),
        (training, "run_backward",
         timed(training, "run_backward", "backward loop and parameter gradients")),
        (forcing_loops, "_gradients_of_A_W1_h1",
         timed(forcing_loops, "_gradients_of_A_W1_h1", "parameter gradients")),
        (forcing_loops, "_gradients_of_W2_h2",
         timed(forcing_loops, "_gradients_of_W2_h2", "parameter gradients")),
    ]
    forward, backward = training._FusedForcing.forward, training._FusedForcing.backward
    training._FusedForcing.forward = staticmethod(_timed_function(forward, spent, "pass"))
    training._FusedForcing.backward = staticmethod(_timed_function(backward, spent, "pass"))
    try:
        for helper in ("0", "1"):
            os.environ["COURSE_FUSED_HELPER"] = helper
            training._Lease._free.clear()       # new workspaces: shared with a helper or not
            model = ShallowPLRNN(20, 200, 3, seed=0)
            training.train_stf(model, X, **dict(settings, n_steps=20), show_progress=False)
            spent.clear()
            start = time.perf_counter()
            training.train_stf(model, X, **dict(settings, n_steps=updates), show_progress=False)
            total = time.perf_counter() - start
            ms = {k: v / updates * 1e3 for k, v in spent.items()}
            loops = ms["forward loop"] + ms["backward loop and parameter gradients"]
            parts = {
                "batch (sampling)": ms["batch (sampling)"],
                "forward loop": ms["forward loop"],
                "backward loop": ms["backward loop and parameter gradients"]
                - ms["parameter gradients"],
                "parameter gradients": ms["parameter gradients"],
                "rest of the pass (copies, loss, autograd)":
                    ms["pass"] - loops + _loss_ms(training, X, settings),
                "rest of the update (clipping, Adam, schedule, loop)": None,
            }
            parts["rest of the update (clipping, Adam, schedule, loop)"] = (
                total / updates * 1e3 - sum(v for v in parts.values() if v is not None))
            _emit(profile="update", helper=helper == "1", updates=updates,
                  ms_per_update=round(total / updates * 1e3, 3),
                  parts_ms={k: round(v, 3) for k, v in parts.items()})
    finally:
        for module, name, original in originals:
            setattr(module, name, original)
        training._FusedForcing.forward = staticmethod(forward)
        training._FusedForcing.backward = staticmethod(backward)
        os.environ.pop("COURSE_FUSED_HELPER", None)
    # the arithmetic of the loops: their matrix products alone, the same shapes, one thread
    rng = np.random.default_rng(0)
    B, M, L, T = 32, 20, 200, 200
    z, h = (rng.standard_normal(s).astype(np.float32) for s in ((B, M), (B, L)))
    w2t, w1t, w1, w2 = (rng.standard_normal(s).astype(np.float32)
                        for s in ((M, L), (L, M), (M, L), (L, M)))
    outL, outM = np.empty((B, L), np.float32), np.empty((B, M), np.float32)
    with training._blas_threads_limited():
        best = []
        for _ in range(20):
            start = time.perf_counter()
            for _ in range(T):
                np.matmul(z, w2t, out=outL)
                np.matmul(h, w1t, out=outM)
                np.matmul(z, w1, out=outL)
                np.matmul(h, w2, out=outM)
            best.append(time.perf_counter() - start)
    _emit(profile="the loops' 800 matrix products alone", ms=round(float(np.median(best)) * 1e3, 3),
          gflop=round(4 * T * 2 * B * M * L / 1e9, 3))


def _timed_function(function, spent, label):
    def wrapper(*a, **k):
        start = time.perf_counter()
        try:
            return function(*a, **k)
        finally:
            spent[label] = spent.get(label, 0.0) + time.perf_counter() - start
    return wrapper


def _loss_ms(training, X, settings):
    """The loss and its backward on a batch's predictions (outside _FusedForcing)."""
    import torch

    x, y = training.sample_batch(X, settings["batch_size"], settings["seq_len"],
                                 generator=torch.Generator().manual_seed(0))
    predictions = y.clone().requires_grad_()
    start = time.perf_counter()
    for _ in range(200):
        training.prediction_loss(predictions, y).backward()
    return (time.perf_counter() - start) / 200 * 1e3


# --- the comparison ----------------------------------------------------------------------

def _baseline(revision):
    """course_utils/training.py of git ``revision`` as the module course_utils._baseline."""
    source = subprocess.run(["git", "show", f"{revision}:src/course_utils/training.py"],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout
    import course_utils

    spec = importlib.util.spec_from_loader("course_utils._baseline", loader=None)
    module = importlib.util.module_from_spec(spec)
    module.__package__ = course_utils.__name__
    exec(compile(source, f"{revision}:training.py", "exec"), module.__dict__)
    return module


@contextlib.contextmanager
def _busy_core(busy):
    """A process busy on another core for the block (if ``busy``)."""
    if not busy:
        yield
        return
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        yield
    finally:
        proc.kill()
        proc.wait()


def _compare(revision, updates, rounds):
    import numpy as np
    import torch

    from course_utils import training
    from course_utils.models import ShallowPLRNN
    from course_utils.reconstruction import GTF_DEFAULTS, STF_DEFAULTS

    X = _data()
    versions = {revision: _baseline(revision), "current": training}
    methods = {"stf": ("train_stf", STF_DEFAULTS), "gtf with resets": ("train_gtf", GTF_DEFAULTS)}
    summary = {}
    for phase in ("idle", "other core busy"):
        with _busy_core(phase != "idle"):
            for method, (trainer, settings) in methods.items():
                train = {k: v for k, v in settings["train"].items()}
                times = {v: [] for v in versions}
                for version, module in versions.items():          # untimed first calls
                    getattr(module, trainer)(ShallowPLRNN(20, 200, 3, seed=0), X[:, :3],
                                             **dict(train, n_steps=20), show_progress=False)
                for k in range(rounds):
                    order = list(versions) if k % 2 == 0 else list(versions)[::-1]
                    for version in order:
                        model = ShallowPLRNN(20, 200, 3, seed=0)
                        start = time.perf_counter()
                        getattr(versions[version], trainer)(
                            model, X[:, :3], **dict(train, n_steps=updates),
                            show_progress=False)
                        times[version].append((time.perf_counter() - start) / updates * 1e3)
                for version, t in times.items():
                    q1, med, q3 = np.percentile(t, [25, 50, 75])
                    summary[(phase, method, version)] = float(med)
                    _emit(phase=phase, method=method, version=version,
                          ms_per_update=round(float(med), 3),
                          quartiles=[round(float(q1), 3), round(float(q3), 3)],
                          updates=updates, rounds=rounds)
                pass_ms = _pass_ms(training, X, settings)
                summary[(phase, method, "pass")] = pass_ms
                _emit(phase=phase, method=method, version="current", measure="pass alone",
                      ms_per_pass=round(pass_ms, 3))
    for phase in ("idle", "other core busy"):
        for method in methods:
            before, after = summary[(phase, method, revision)], summary[(phase, method, "current")]
            pass_ms = summary[(phase, method, "pass")]
            _emit(phase=phase, method=method, speedup=round(before / after, 3),
                  overhead_beyond_pass_percent=round(100 * (after - pass_ms) / pass_ms, 1))


def _pass_ms(training, X, settings, passes=200):
    """The fused pass alone (forward, loss, backward) on one batch, current code."""
    import numpy as np
    import torch

    from course_utils.models import ShallowPLRNN

    train = settings["train"]
    model = ShallowPLRNN(20, 200, 3, seed=0)
    x, y = training.sample_batch(X[:, :3], train["batch_size"], train["seq_len"],
                                 generator=torch.Generator().manual_seed(0))
    weights = training.forcing_weights(x.shape[1], tau_f=train["tau_f"],
                                       alpha=train.get("alpha"))
    times = []
    with training._blas_threads_limited():
        for _ in range(30):                   # untimed: the helper starts, the way is chosen
            model.zero_grad(set_to_none=True)
            training.prediction_loss(training.forced_forward_fused(model, x, weights),
                                     y).backward()
        for _ in range(passes // 10):
            start = time.perf_counter()
            for _ in range(10):
                model.zero_grad(set_to_none=True)
                training.prediction_loss(training.forced_forward_fused(model, x, weights),
                                         y).backward()
            times.append((time.perf_counter() - start) / 10 * 1e3)
    return float(np.median(times))


if __name__ == "__main__":
    main()
