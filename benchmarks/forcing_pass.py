"""Cost of one fused forced pass (forward and backward) for STF, GTF and GTF with resets,
measured side by side in one process: the passes of the methods take turns, so that a
change of load on the machine falls on all of them alike. Whole trainings side by side
scatter by about 10 % on a 2-core virtual machine; this is the measure for differences
of a few per cent.

    .venv/bin/python benchmarks/forcing_pass.py [--rounds 15] [--passes 10] [--M 20]
        [--L 200] [--batch 32] [--T 200]
    .venv/bin/python benchmarks/forcing_pass.py --updates 250 [--rounds 6]

The forcing is chapter 03's and 06's: tau_f of ``STF_DEFAULTS`` for STF, alpha of
``GTF_DEFAULTS`` for GTF, and both of ``GTF_DEFAULTS`` for GTF with resets. Prints one JSON
line per method: the median and quartiles of the time per pass (ms) over ``rounds``
rounds of ``passes`` passes each, the ratio to STF's median, and the forcing used.

With ``--updates K`` it times whole training updates instead (batch, pass, loss, clipping,
Adam): chapter 03's ``STF_DEFAULTS`` and chapter 06's ``GTF_DEFAULTS`` (GTF with resets)
by ``train_reconstruction`` on the course training data, ``K`` updates per method and
round, the order of the two methods alternating from round to round; one JSON line per
method with the median and quartiles of the time per update (ms), after two untimed
updates of each.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def main(argv=None):
    import torch

    from course_utils.models import ShallowPLRNN
    from course_utils.reconstruction import GTF_DEFAULTS, STF_DEFAULTS
    from course_utils.training import forced_forward_fused, forcing_weights, prediction_loss

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--passes", type=int, default=10)
    p.add_argument("--M", type=int, default=GTF_DEFAULTS["M"])
    p.add_argument("--L", type=int, default=GTF_DEFAULTS["L"])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--T", type=int, default=200)
    p.add_argument("--updates", type=int, default=0,
                   help="time whole training updates, this many per method and round")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    if args.updates:
        return _time_updates(args)
    model = ShallowPLRNN(args.M, args.L, GTF_DEFAULTS["N"], seed=0)
    g = torch.Generator().manual_seed(0)
    x, y = (torch.randn(args.batch, args.T, model.N, generator=g) for _ in range(2))
    gtf = GTF_DEFAULTS["train"]
    forcing = {"stf": dict(tau_f=STF_DEFAULTS["train"]["tau_f"]),
               "gtf": dict(alpha=gtf["alpha"]),
               "gtf with resets": dict(tau_f=gtf["tau_f"], alpha=gtf["alpha"])}
    methods = {name: forcing_weights(args.T, **kw) for name, kw in forcing.items()}
    times = {name: [] for name in methods}
    for _ in range(args.rounds):
        for name, weights in methods.items():
            start = time.perf_counter()
            for _ in range(args.passes):
                model.zero_grad()
                prediction_loss(forced_forward_fused(model, x, weights), y).backward()
            times[name].append((time.perf_counter() - start) / args.passes * 1e3)
    _print_times(times, "ms_per_pass", lambda name: dict(
        **forcing[name], M=args.M, L=args.L, batch=args.batch, T=args.T,
        rounds=args.rounds, passes=args.passes))


def _print_times(times, unit, details):
    """One JSON line per method: the median and quartiles of its times (ms) as ``unit``,
    its ratio to STF's median, and ``details(method)``."""
    import numpy as np

    ref = float(np.median(times["stf"]))
    for name, t in times.items():
        q1, med, q3 = np.percentile(t, [25, 50, 75])
        print(json.dumps({"method": name, unit: round(float(med), 3),
                          "quartiles": [round(float(q1), 3), round(float(q3), 3)],
                          "ratio_to_stf": round(float(med) / ref, 3), **details(name),
                          "cpu": platform.processor() or platform.machine()}))


def _time_updates(args):
    """Time per update of train_reconstruction with each chapter's defaults, alternating."""
    import tempfile
    from pathlib import Path

    from course_utils.data import lorenz_dataset
    from course_utils.reconstruction import GTF_DEFAULTS, STF_DEFAULTS, train_reconstruction

    with tempfile.TemporaryDirectory() as folder:
        X = lorenz_dataset(Path(folder) / "lorenz_data.pt")["train"]
    settings = {"stf": STF_DEFAULTS, "gtf with resets": GTF_DEFAULTS}
    times = {name: [] for name in settings}
    for name in settings:       # warm up (first calls, allocations), untimed
        train_reconstruction(settings[name], X, n_steps=2, show_progress=False)
    for k in range(args.rounds):
        for name in (list(settings) if k % 2 == 0 else list(settings)[::-1]):
            start = time.perf_counter()
            train_reconstruction(settings[name], X, n_steps=args.updates, show_progress=False)
            times[name].append((time.perf_counter() - start) / args.updates * 1e3)
    _print_times(times, "ms_per_update",
                 lambda name: dict(updates=args.updates, rounds=args.rounds))


if __name__ == "__main__":
    main()
