"""Cost of a whole training update on a GPU with the forced pass captured as CUDA graphs
(``course_utils.graphed_forcing.GraphedForcing``), beside the fused NumPy pass on the CPU
(the training default, model on the CPU) and plain autograd on the GPU
(``forced_forward`` on CUDA tensors), measured side by side in one process: the three
ways take turns, the order rotating from round to round, so that a change of load on the
machine falls on all of them alike.

    .venv/bin/python benchmarks/forcing_gpu.py [--method gtf|stf] [--rounds 7]
        [--updates 50]
    .venv/bin/python benchmarks/forcing_gpu.py --smoke

An update is one of ``train_gtf`` (chapter 06's ``GTF_DEFAULTS``, GTF with resets: alpha
= 0.1, tau_f = 25; the default) or ``train_stf`` (chapter 03's ``STF_DEFAULTS``, tau_f =
25; ``--method stf``): batch, forced pass, loss, backward pass, clipping and Adam, at the
chapters' sizes (M = 20, L = 200, N = 3, 32 sequences of 200 steps), on the course's
Lorenz data (a training stretch of 20,000 read-outs). Each way trains its own model from
the same seed, ``updates`` updates per round, after two untimed updates (and, for the
graphs, the capture). Prints one JSON line per way: the median and quartiles of the time
per update (ms) over the rounds, the ratio of the median to the fused CPU pass's, the loss
of the second untimed update (after one Adam step, so it checks the gradients too: the
three ways agree to rounding), the device, the GPU's name and the CPU; then a last line
saying whether the graph path is at least 3 times faster than the fused CPU pass.

Without a CUDA device (``course_utils.runtime.device()`` is the CPU, which
``COURSE_DEVICE=cpu`` also forces) it prints one line saying that nothing was measured and
exits with status 0. ``--smoke`` runs the same code on the CPU, with ``GraphedForcing``
running its kernels eagerly (no capture), for 2 rounds of 3 updates on 1,000 read-outs:
the tests run it; its lines carry ``"smoke": true`` and its last line no verdict.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} cores)"
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()} ({os.cpu_count()} cores)"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--method", choices=["gtf", "stf"], default="gtf")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--updates", type=int, default=50, help="timed updates per way and round")
    p.add_argument("--smoke", action="store_true",
                   help="run the code path on the CPU (no capture) for a few updates")
    args = p.parse_args(argv)
    if args.rounds < 1 or args.updates < 1:
        p.error(f"--rounds and --updates must be >= 1; got {args.rounds} and {args.updates}")

    import numpy as np
    import torch

    from course_utils import runtime
    from course_utils.data import make_lorenz_dataset
    from course_utils.graphed_forcing import GraphedForcing
    from course_utils.models import ShallowPLRNN
    from course_utils.reconstruction import GTF_DEFAULTS, STF_DEFAULTS
    from course_utils.training import forced_forward, stf_forward, train_gtf, train_stf

    if args.smoke:
        device, rounds, updates, n_train = torch.device("cpu"), 2, 3, 1_000
    else:
        device, rounds, updates, n_train = runtime.device(), args.rounds, args.updates, 20_000
        if device.type != "cuda":
            chosen = os.environ.get("COURSE_DEVICE", "").strip()
            why = f"COURSE_DEVICE={chosen}" if chosen else "torch.cuda.is_available() is False"
            print(f"no CUDA device (course_utils.runtime.device() is {device}: {why}): "
                  f"nothing measured")
            return 0
    torch.set_num_threads(1)
    gtf = args.method == "gtf"
    settings = GTF_DEFAULTS if gtf else STF_DEFAULTS
    train, trainer = dict(settings["train"]), (train_gtf if gtf else train_stf)
    B, T, N = train["batch_size"], train["seq_len"], settings["N"]
    data = make_lorenz_dataset(n_train=n_train, n_test=2)["train"][:, :N]

    def model_on(where):
        return ShallowPLRNN(settings["M"], settings["L"], N, seed=settings["seed"]).to(where)

    cpu = torch.device("cpu")
    fused = (model_on(cpu), data, None)
    plain = model_on(device)
    autograd = (plain, data.to(device), forced_forward if gtf else stf_forward)
    graphed_model = model_on(device)
    graphed = GraphedForcing(graphed_model, B, T)
    graph = (graphed_model, data.to(device), graphed if gtf else graphed.stf)
    where = "CUDA graphs" if graphed.captured else "eager, no capture"
    ways = {"fused NumPy pass, CPU": fused,
            f"plain autograd, {device}": autograd,
            f"GraphedForcing ({where}), {device}": graph}

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    def run(way, n):
        model, series, forward = ways[way]
        keywords = dict(train, n_steps=n, show_progress=False)
        if forward is not None:
            keywords["forward"] = forward
        sync()
        start = time.perf_counter()
        history = trainer(model, series, **keywords)
        sync()
        return (time.perf_counter() - start) / n * 1e3, float(history["loss"][-1])

    second_loss = {way: run(way, 2)[1] for way in ways}          # untimed
    times = {way: [] for way in ways}
    names = list(ways)
    for k in range(rounds):
        for way in names[k % len(names):] + names[: k % len(names)]:
            times[way].append(run(way, updates)[0])

    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else None
    ref = float(np.median(times[names[0]]))
    medians = {}
    for way, (model, _, _) in ways.items():
        q1, med, q3 = np.percentile(times[way], [25, 50, 75])
        medians[way] = float(med)
        line = {"way": way, "ms_per_update": round(float(med), 3),
                "quartiles": [round(float(q1), 3), round(float(q3), 3)],
                "ratio_to_fused_cpu": round(float(med) / ref, 3),
                "second_loss": second_loss[way], "device": str(model.A.device),
                "method": args.method, "M": settings["M"], "L": settings["L"], "N": N,
                "batch": B, "T": T, "rounds": rounds, "updates": updates,
                "gpu": gpu, "cpu": _cpu_name()}
        if model is graphed_model:
            line["capture_seconds"] = round(graphed.capture_seconds, 3)
        if args.smoke:
            line["smoke"] = True
        print(json.dumps(line))
    speedup = ref / medians[names[2]]
    if args.smoke:
        print(json.dumps({"graph_speedup_vs_fused_cpu": round(speedup, 3), "at_least_3x": None,
                          "verdict": "smoke run on the CPU without capture: no GPU timing, "
                                     "no verdict", "smoke": True}))
    else:
        fast = speedup >= 3.0
        print(json.dumps({"graph_speedup_vs_fused_cpu": round(speedup, 3), "at_least_3x": fast,
                          "verdict": f"the CUDA-graph update is {speedup:.2f}x as fast as the "
                                     f"fused CPU pass's: "
                                     f"{'at least' if fast else 'less than'} 3x",
                          "gpu": gpu, "cpu": _cpu_name()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
