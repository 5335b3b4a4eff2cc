"""Why is the STF reconstruction's λ_max low? A screen of the factors.

Trains chapter 03's shallow PLRNN by sparse teacher forcing, from smaller settings than
the chapter's (``BASE``: M = 10, L = 100; the chapter uses M = 20, L = 200), on the course's delay-embedded Lorenz-63 data with one factor changed
at a time, over several seeds, and judges every model with long orbits: λ_max per time unit on 8 orbits of
100,000 steps after a transient of 10,000 (each orbit's value kept), where every orbit
is after a further horizon of 100,000 steps (``evaluate_reconstruction``), and D_stsp and
D_H against the clean test series, beside the data set's noise floor (its noisy training
series against the test series). Prints one JSON line per run, then a summary.

    python benchmarks/lambda_bias.py [--workers 2] [--only NAME ...] [--seeds S ...] [--out FILE]
    python benchmarks/lambda_bias.py --plot FILE benchmarks/lambda_bias.png

Each run trains on one CPU core (about 4.5 minutes for 40,000 updates on a 2-core Intel
Xeon); ``--workers`` runs that many at a time. The true exponent is 0.9056 per time unit.
"""

from __future__ import annotations

import argparse
import copy
import json
import multiprocessing
import sys
import time

LAMBDA_TRUE = 0.9056

#: The smaller STF settings the screen starts from (M=10, L=100): every run changes these.
BASE = dict(M=10, L=100, N=3, seed=0,
            train=dict(n_steps=40_000, batch_size=32, seq_len=200, tau_f=25, warmup=0,
                       lr=3e-3, lr_end=1e-5, clip=10.0, seed=0))

#: (name, changes to BASE, changes to the training keywords, data noise, seeds)
RUNS = [
    ("updates 80k", {}, dict(n_steps=80_000), 0.05, (0, 1)),
    ("L = 200", dict(L=200), {}, 0.05, (0, 1)),
    ("default", {}, {}, 0.05, (0, 1, 2)),
    ("tau_f = 10", {}, dict(tau_f=10), 0.05, (0, 1)),
    ("tau_f = 50", {}, dict(tau_f=50), 0.05, (0, 1)),
    ("clean data", {}, {}, 0.0, (0, 1)),
    ("constant lr", {}, dict(lr_end=3e-3), 0.05, (0, 1)),
    ("updates 20k", {}, dict(n_steps=20_000), 0.05, (0, 1)),
    # capacity, noise level, learning-rate schedule
    ("L = 400", dict(L=400), {}, 0.05, (0,)),
    ("M = 20, L = 200", dict(M=20, L=200), {}, 0.05, (0,)),
    ("M = 20", dict(M=20), {}, 0.05, (0, 1)),
    ("lr 1e-3", {}, dict(lr=1e-3), 0.05, (0,)),
    ("noise 10 %", {}, {}, 0.10, (0,)),
    ("noise 2 %", {}, {}, 0.02, (0,)),
    # does little noise hurt the chapter's settings too? (the y embedding has ~1 %)
    ("M = 20, L = 200, noise 1 %", dict(M=20, L=200), {}, 0.01, (0,)),
]


def _data(noise):
    from course_utils.data import make_lorenz_dataset

    return make_lorenz_dataset(noise=noise, seed=0)


def run(job):
    name, model_changes, train_changes, noise, seed = job
    import torch

    from course_utils.metrics import power_spectrum_distance, state_space_divergence
    from course_utils.reconstruction import train_reconstruction
    from course_utils.training import TrainingDiverged
    from course_utils.evaluation import evaluate_reconstruction

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    settings = copy.deepcopy(BASE)
    settings.update(model_changes, seed=seed)
    settings["train"].update(train_changes, seed=seed)
    data = _data(noise)
    try:
        model, history = train_reconstruction(settings, data["train"], show_progress=False)
    except TrainingDiverged as error:       # a finding too: report it, go on with the rest
        return dict(run=name, seed=seed, noise=noise, settings=settings, diverged=str(error))
    figures = evaluate_reconstruction(model, data["test"], dt=data["settings"]["dt"],
                                      transient=10_000, n_lyapunov=100_000, n_orbits=8,
                                      horizon=100_000, reference=LAMBDA_TRUE)
    per_orbit = figures["lambda_per_orbit"]
    train, test = data["train"].numpy(), data["test"].numpy()
    return dict(
        run=name, seed=seed, noise=noise, settings=settings,
        train_seconds=round(history["seconds"], 1),
        final_loss=round(float(history["loss"][-500:].mean()), 5),
        lambda_per_orbit=[round(float(v), 4) for v in per_orbit],
        lambda_mean=round(float(per_orbit.mean()), 4),
        lambda_sd=round(float(per_orbit.std()), 4),
        lambda_rel_error=round(float(per_orbit.mean() / LAMBDA_TRUE - 1), 4),
        all_chaotic=figures["all_chaotic"], verdict=figures["verdict"], fates=figures["fates"],
        D_stsp=round(figures["D_stsp"], 4), D_H=round(figures["D_H"], 4),
        floor_D_stsp=round(state_space_divergence(test, train), 4),
        floor_D_H=round(power_spectrum_distance(test, train), 4))


def plot(lines_file, figure_file):
    """The figure of RESULTS.md: each run's λ_max (mean over its 8 orbits, one marker per
    seed) by factor, against the truth, from the JSON lines that a run appended."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    latest = {}                          # the last line of each (run, seed) counts
    for line in open(lines_file):
        if line.strip():
            r = json.loads(line)
            latest[r["run"], r["seed"]] = r
    results = [r for r in latest.values() if "diverged" not in r]
    order = ["updates 20k", "default", "updates 80k", "tau_f = 10", "tau_f = 50", "L = 200",
             "L = 400", "M = 20", "M = 20, L = 200", "constant lr", "lr 1e-3", "clean data",
             "noise 2 %", "noise 10 %", "M = 20, L = 200, noise 1 %"]
    names = [name for name in order if any(r["run"] == name for r in results)]
    fig, ax = plt.subplots(figsize=(10, 4.2))
    low = 0.845                          # the axis' bottom; lower values are drawn there
    for k, name in enumerate(names):
        runs = [r for r in results if r["run"] == name and r["all_chaotic"]]
        means = [r["lambda_mean"] for r in runs]
        ax.errorbar([k] * len(runs), means, yerr=[r["lambda_sd"] / 8 ** 0.5 for r in runs],
                    fmt="o", color="tab:blue", alpha=0.8, capsize=2)
        if means:
            ax.plot([k - 0.25, k + 0.25], [sum(means) / len(means)] * 2, color="k", lw=1.5)
        # Not every orbit chaotic in the long run: no lambda_max; the mean of all 8 orbits
        # over the window is drawn as a cross, for what it would have pretended.
        for r in results:
            if r["run"] == name and not r["all_chaotic"]:
                shown = max(r["lambda_mean"], low)      # far below: at the bottom edge
                ax.plot(k, shown, "x", color="tab:red", ms=8,
                        label="not every orbit chaotic after 100,000 steps: no lambda_max")
                if shown != r["lambda_mean"]:
                    ax.annotate(f"{r['lambda_mean']:.2f}", (k, shown), xytext=(6, 2),
                                textcoords="offset points", fontsize=7, color="tab:red")
    ax.set_ylim(low, 0.93)
    ax.axhline(LAMBDA_TRUE, color="tab:red", ls="--", lw=1, label=f"Lorenz-63, {LAMBDA_TRUE}")
    ax.axhspan(LAMBDA_TRUE * 0.98, LAMBDA_TRUE * 1.02, color="tab:red", alpha=0.08,
               label="within 2 %")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_ylabel(r"$\lambda_{\max}$ (per time unit)")
    ax.set_title("STF reconstructions of the course data, from M = 10, L = 100 with one factor "
                 "changed (the last: the noise, from M = 20, L = 200): one marker per seed "
                 "(8 orbits x 100,000 steps)", fontsize=9)
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    ax.legend(unique.values(), unique.keys(), loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(figure_file, dpi=120)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--only", nargs="*", default=None, help="run only these names")
    parser.add_argument("--seeds", nargs="*", type=int, default=None,
                        help="these seeds instead of each run's own")
    parser.add_argument("--out", default=None, help="also append the JSON lines to FILE")
    parser.add_argument("--plot", nargs=2, metavar=("LINES", "FIGURE"), default=None,
                        help="only draw the figure of the JSON lines in LINES into FIGURE")
    args = parser.parse_args(argv)
    if args.plot:
        plot(*args.plot)
        return 0
    jobs = [(name, m, t, noise, seed) for name, m, t, noise, seeds in RUNS
            if args.only is None or name in args.only for seed in (args.seeds or seeds)]
    start = time.perf_counter()
    results = []
    context = multiprocessing.get_context("spawn")
    with context.Pool(args.workers, maxtasksperchild=1) as pool:
        for result in pool.imap_unordered(run, jobs):
            line = json.dumps(result)
            print(line, flush=True)
            if args.out:
                with open(args.out, "a") as f:
                    f.write(line + "\n")
            results.append(result)
    summary = {}
    for r in results:
        summary.setdefault(r["run"], []).append(r.get("lambda_mean", "diverged"))
    print(json.dumps({"summary (mean lambda_max per seed)": summary,
                      "seconds": round(time.perf_counter() - start)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
