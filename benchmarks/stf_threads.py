"""STF training and the BLAS thread count: the per-update time of ``train_stf`` at the
smaller sizes of chapter 03's model (``SIZES``: M=10, L=100, N=3, batches of 32 x 200 steps), with
NumPy's BLAS left at its default (one thread per core: as without the library's
limit) and with the library's limit of one BLAS thread (``threadpoolctl``, around
the training loop and each fused forward and backward pass), once as the machine is and
once with a CPU-burning process on another core. For comparison: the limit around the
whole loop only (from outside), and plain autograd (``stf_forward``) with one and with two
torch threads.

Also: whether a short training gives bit-identical parameters with one and with two BLAS
threads, without and with the limit.

    .venv/bin/python benchmarks/stf_threads.py [--updates 50] [--repeats 3]

Run it with no OPENBLAS_NUM_THREADS / OMP_NUM_THREADS set (the script refuses otherwise),
on an otherwise idle machine. Prints JSON; figures go to benchmarks/RESULTS.md.
"""

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    if _name in os.environ:
        sys.exit(f"unset {_name} (it is {os.environ[_name]!r}): the script compares thread "
                 "settings itself")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from threadpoolctl import threadpool_info, threadpool_limits  # noqa: E402

from course_utils import training  # noqa: E402
from course_utils.data import lorenz_dataset  # noqa: E402
from course_utils.models import ShallowPLRNN  # noqa: E402
from course_utils.reconstruction import STF_DEFAULTS  # noqa: E402

#: Chapter 03's settings with a smaller model (the measurements in RESULTS.md are of these).
SIZES = dict(STF_DEFAULTS, M=10, L=100)
SETTINGS = dict(SIZES["train"])


def blas_threads() -> int:
    return max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")


def per_update_ms(data, variant: str, updates: int, repeats: int) -> float:
    """The median over ``repeats`` runs of the mean time per update (ms) of ``updates``
    updates of train_stf (a fresh model each run, after 3 warm-up updates)."""
    forward, limit_inside, limit_loop, torch_threads = {
        "fused, BLAS default threads (before)": (None, False, False, 1),
        "fused, 1 BLAS thread (after: the library's limit)": (None, True, False, 1),
        "fused, 1 BLAS thread around the loop only": (None, False, True, 1),
        "autograd stf_forward, 1 torch thread": (training.stf_forward, True, False, 1),
        "autograd stf_forward, 2 torch threads": (training.stf_forward, True, False, 2),
    }[variant]
    training._BLAS_THREADS = 1 if limit_inside else None
    torch.set_num_threads(torch_threads)
    times = []
    for r in range(repeats):
        model = ShallowPLRNN(SIZES["M"], SIZES["L"], SIZES["N"], seed=r)
        keywords = dict(SETTINGS, n_steps=updates, seed=r, forward=forward,
                        show_progress=False)
        with threadpool_limits(1, user_api="blas") if limit_loop else contextlib.nullcontext():
            training.train_stf(model, data, **dict(keywords, n_steps=3))
            times.append(training.train_stf(model, data, **keywords)["seconds"] / updates)
    training._BLAS_THREADS = 1
    torch.set_num_threads(1)
    return round(1000 * statistics.median(times), 2)


def identical_params(data, limited: bool, updates: int = 40) -> bool:
    """Train the same small model twice, with BLAS capped at 1 and at 2 threads from the
    outside; are the final parameters bit for bit the same?"""
    training._BLAS_THREADS = 1 if limited else None
    results = []
    for outer in (1, 2):
        with threadpool_limits(outer, user_api="blas"):
            model = ShallowPLRNN(SIZES["M"], SIZES["L"], SIZES["N"],
                                 seed=0)
            training.train_stf(model, data, **dict(SETTINGS, n_steps=updates,
                                                   show_progress=False))
            results.append([p.detach().clone() for p in model.parameters()])
    training._BLAS_THREADS = 1
    return all(torch.equal(a, b) for a, b in zip(*results))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--updates", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data", default="lorenz_data.pt")
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = lorenz_dataset(args.data)["train"][:, : SIZES["N"]]
    out = dict(machine=f"{platform.machine()} {platform.processor() or ''}".strip(),
               cpus=os.cpu_count(), torch=torch.__version__, numpy=np.__version__,
               blas_default_threads=blas_threads(), updates=args.updates,
               repeats=args.repeats, sizes=dict(M=SIZES["M"], L=SIZES["L"],
                                                N=SIZES["N"],
                                                batch_size=SETTINGS["batch_size"],
                                                seq_len=SETTINGS["seq_len"]))
    out["identical_1_vs_2_blas_threads"] = {
        "without the limit": identical_params(data, limited=False),
        "with the limit": identical_params(data, limited=True)}
    print(json.dumps(out), flush=True)
    variants = ["fused, BLAS default threads (before)",
                "fused, 1 BLAS thread (after: the library's limit)",
                "fused, 1 BLAS thread around the loop only",
                "autograd stf_forward, 1 torch thread",
                "autograd stf_forward, 2 torch threads"]
    for condition in ("as is", "one core busy"):
        out[f"load average before '{condition}'"] = round(os.getloadavg()[0], 2)
        burner = None
        if condition != "as is":
            burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            time.sleep(1.0)
        try:
            out[condition] = {v: per_update_ms(data, v, args.updates, args.repeats)
                              for v in variants}
        finally:
            if burner is not None:
                burner.kill()
                burner.wait()
        print(json.dumps({condition: out[condition]}), flush=True)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
