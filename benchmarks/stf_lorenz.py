"""Quality benchmark of the Lorenz-63 reconstructions (against the quality targets), trained from
scratch with the default settings the notebooks use: chapter 03 (STF, ``STF_DEFAULTS``),
chapter 06 (GTF with resets, ``GTF_DEFAULTS``) and chapter 05 (x alone,
``STF_X_DEFAULTS``).

Each model is judged by the long measurement: lambda_max per time unit by the QR method
(float64, analytic Jacobian) on ``n_orbits`` orbits of 100,000 steps after a transient of
10,000; 64 orbits (those and more, from other states of the same free run) followed for
``horizon`` steps to see whether they are still chaotic (``evaluate_reconstruction`` with
``n_fates=64``; the JSON gives ``n_still_chaotic`` of ``n_fates``, and
``lambda_orbits_chaotic`` for the ``n_orbits`` with exponents alone); and D_stsp and D_H of a 100,000-step free run
against the clean test series, beside the data set's noise floor (its own training series
against its test series). D_stsp of one stretch is one draw, so the JSON also gives
(``D_stsp_stretches``) D_stsp of 8 free runs of the model and of 8 stretches of the true
system in the set's coordinates (``course_utils.data.reference_orbit``: what a perfect
model would produce), each against the test and against the training series, and
(``true_system_over_target``) how many of the true system's stretches would miss the
D_stsp target themselves. For the single-variable model D_H is that of x alone, and
D_stsp that of the delay embeddings (x_t, x_{t-10}, x_{t-20}) of the generated and the
true x.

Targets, on the course data set (8 orbits, horizon 100,000):
  STF: |lambda error| <= 2 %, D_stsp <= 1.3 x floor, D_H <= floor + 0.02;
  GTF: |lambda error| <= 1.5 %, the same D targets, training no longer than STF's;
  x alone: |lambda error| <= 5 %.
With ``--external DIR`` (by hand only: the public Lorenz-63 sets of ../shared/external,
never read by tests) STF and GTF are also trained on the delay-embedded set
(lorenz63_tde_train/test.npy) and on the full-state noisy set (lorenz63_on0.05_train.npy
against lorenz63_test.npy), judged with 16 orbits and a horizon of 200,000 steps:
|lambda error| <= 3 %, D_stsp <= 1.5 x floor, every orbit still chaotic (the target asks
for 16 of 16, ``lambda_orbits_chaotic``; ``all_chaotic`` is the stricter 64 of 64).

Three study options (not targets): ``--sets y`` trains on "course y", the course's own orbit
with y instead of x delay-embedded (``make_lorenz_dataset(component=1)``, the observable of
lorenz63_tde; 5 % noise, judged like an external set), ``--sets clean`` on "course
clean", the course set without its noise (``make_lorenz_dataset(noise=0.0)``, judged like
the course set, against its own floors), and ``--sets tde-swapped`` on the lab's y
embedding with its two series swapped (trained on lorenz63_tde_test, judged against
lorenz63_tde_train: which of the two series a model is trained on, with everything else
the same); ``--add-noise F`` adds Gaussian noise
of F times each column's standard deviation to any training set (seed 12345; the floors
stay those of the set as it is); and ``--change KEY=VALUE ...`` changes a setting of every
model (``M=3`` for the model, ``train.n_steps=56000`` for training).

    .venv/bin/python benchmarks/stf_lorenz.py [--only stf gtf x checkpoint] [--external DIR]
        [--sets course tde full y clean tde-swapped] [--seed S] [--add-noise F]
        [--change KEY=VALUE ...] [--workers 2] [--out FILE] [--save DIR]
    .venv/bin/python benchmarks/stf_lorenz.py --plot FILE PNG

Each training runs on one CPU core; ``--workers`` runs that many at a time. (The shipped
checkpoint is chapter 03's settings with seed 2, ``CHECKPOINT_DEFAULTS``; pass ``--seed``
to train every model with another seed; ``--only checkpoint`` trains nothing and measures
the shipped checkpoint itself on the course data, against chapter 03's targets.) Prints one
JSON line per model (with the settings and seeds), then a summary; ``--save DIR`` also keeps
each trained model's state dict there.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import sys
import time
from pathlib import Path

LAMBDA_TRUE = 0.9056

#: Free runs of a model, and stretches of the true system, whose D_stsp against the test
#: and training series show the spread of the benchmark's single figure.
N_STRETCHES = 8

#: Orbits followed for the fates (the first n_orbits of them also give lambda_max): a
#: leak of one orbit in ten per horizon slips past 8 orbits almost half the time.
N_FATES = 64

#: Relative tolerances of lambda_max (the shipped checkpoint is judged as chapter 03's STF).
TARGETS = {"course": dict(stf=0.02, gtf=0.015, x=0.05), "external": 0.03}

#: The data sets: command-line name -> (name, n_orbits, horizon, targets). "course y",
#: "course clean" and "external tde swapped" are study sets with no targets of their own;
#: they are judged as an external set, as the course set and as an external set.
SETS = {"course": ("course", 8, 100_000, "course"),
        "tde": ("external tde", 16, 200_000, "external"),
        "full": ("external full state", 16, 200_000, "external"),
        "y": ("course y", 16, 200_000, "external"),
        "clean": ("course clean", 8, 100_000, "course"),
        "tde-swapped": ("external tde swapped", 16, 200_000, "external")}
EXTERNAL_FILES = {"external tde": ("lorenz63_tde_train.npy", "lorenz63_tde_test.npy"),
                  "external full state": ("lorenz63_on0.05_train.npy", "lorenz63_test.npy"),
                  "external tde swapped": ("lorenz63_tde_test.npy", "lorenz63_tde_train.npy")}


def _load(name, external):
    """(train (T, 3), test (T', 3), dt, reference) of a data set: float32 tensors, and the
    keywords of ``course_utils.data.reference_orbit`` that read the true system out in the
    set's coordinates (its embedding and standardisation)."""
    import numpy as np
    import torch

    from course_utils.data import lorenz_dataset, make_lorenz_dataset

    if name == "course":
        data = lorenz_dataset("lorenz_data.pt")
    elif name == "course y":    # the same orbit, but y delay-embedded, as in lorenz63_tde
        data = make_lorenz_dataset(component=1)
    elif name == "course clean":    # the same orbit and embedding, without the noise
        data = make_lorenz_dataset(noise=0.0)
    else:
        train, test = (torch.from_numpy(np.load(Path(external) / f).astype(np.float32))
                       for f in EXTERNAL_FILES[name])
        # the lab's sets: (y_t, y_{t+10}, y_{t+20}) and (x, y, z), each standardised by
        # its own statistics, which a long orbit's own stand in for
        reference = (dict(component=None) if name == "external full state"
                     else dict(component=1, delay=10, lead=True))
        return train, test, 0.01, reference
    reference = dict(component=data["settings"]["component"], delay=data["settings"]["delay"],
                     mean=data["mean"], std=data["std"])
    return data["train"], data["test"], data["settings"]["dt"], reference


def _spread(values):
    """A list of per-stretch figures as JSON: the values, their mean and spread."""
    import numpy as np

    return dict(mean=round(float(np.mean(values)), 4), sd=round(float(np.std(values)), 4),
                values=[round(float(v), 4) for v in values])


def _distance_study(model, train, test, dt, reference, *, n_stretches=N_STRETCHES,
                    transient=10_000, seed=1):
    """D_stsp of stretches as long as the test series, against the test and the training
    series: ``n_stretches`` free runs of the model (from observations spread over the test
    series, each after ``transient`` steps) and as many stretches of the true system in
    the set's coordinates (``reference_orbit``, a perfect model's free run). One stretch
    is one draw; these say how much the benchmark's single figure can vary, and what a
    perfect model would score."""
    import numpy as np

    from course_utils.data import reference_orbit
    from course_utils.metrics import state_space_divergences

    T, N = test.shape
    starts = test[np.linspace(0, T - 1, n_stretches).astype(int)]
    runs = model.observe(model.generate(starts, transient + T)[:, transient:])
    truth = reference_orbit(n_stretches * T, dt=dt, seed=seed, **reference)
    truth = truth.reshape(n_stretches, T, N)
    test, train = test.double().numpy(), train.double().numpy()
    return {f"{who}_vs_{what}": _spread(state_space_divergences(x, orbits))
            for who, orbits in (("model", runs.double()), ("true_system", truth))
            for what, x in (("test", test), ("train", train))}


def _settings(method, seed, changes):
    """The settings of ``method`` ("stf", "gtf", "x" or "checkpoint", the shipped model's):
    the notebooks' defaults, with ``seed`` (if not None) for the initial model and the
    batches, and ``changes``."""
    from course_utils.pretrained import CHECKPOINT_DEFAULTS
    from course_utils.reconstruction import GTF_DEFAULTS, STF_DEFAULTS, STF_X_DEFAULTS

    settings = dict(stf=STF_DEFAULTS, gtf=GTF_DEFAULTS, x=STF_X_DEFAULTS,
                    checkpoint=CHECKPOINT_DEFAULTS)[method]
    if seed is not None:
        settings = dict(settings, seed=seed, train=dict(settings["train"], seed=seed))
    return _changed(settings, changes)


def _changed(settings, changes):
    """``settings`` with ``changes`` applied: "KEY=VALUE" for the model, "train.KEY=VALUE"
    for a keyword of the training function (VALUE a Python literal)."""
    import ast
    import copy
    import inspect

    from course_utils.training import train_gtf, train_stf

    settings = copy.deepcopy(settings)
    trainer = train_gtf if settings.get("method") == "gtf" else train_stf
    keywords = set(inspect.signature(trainer).parameters) - {
        "model", "data", "forward", "record", "record_every", "show_progress", "desc"}
    for change in changes:
        key, sep, value = change.partition("=")
        if not sep:
            raise SystemExit(f"--change wants KEY=VALUE or train.KEY=VALUE; got {change!r}")
        target = settings["train"] if key.startswith("train.") else settings
        known = keywords if key.startswith("train.") else set(settings) - {"train", "method"}
        key = key.removeprefix("train.")
        if key not in known:
            raise SystemExit(f"--change {change!r}: no setting {key!r}; known: {sorted(known)}")
        target[key] = ast.literal_eval(value)
    return settings


def run(job):
    import numpy as np
    import torch

    from course_utils.data import delay_embed
    from course_utils.metrics import power_spectrum_distance, state_space_divergence
    from course_utils.pretrained import load_pretrained_plrnn
    from course_utils.reconstruction import train_reconstruction
    from course_utils.training import TrainingDiverged
    from course_utils.evaluation import evaluate_reconstruction

    method, key, external, seed, add_noise, changes, save = job
    set_name, n_orbits, horizon, targets = SETS[key]
    torch.set_num_threads(1)
    torch.manual_seed(0)
    settings = _settings(method, seed, changes)
    train, test, dt, reference = _load(set_name, external)
    floor_train = train         # the floor is the set's own: before any added noise
    if add_noise:               # a study option: more observation noise on the training data
        generator = torch.Generator().manual_seed(12345)
        train = train + add_noise * train.std(0) * torch.randn(train.shape, generator=generator)
    N = settings["N"]
    result = dict(method=method, data=set_name, settings=settings, n_orbits=n_orbits,
                  horizon=horizon, added_noise=add_noise, changes=list(changes))
    if method == "checkpoint":      # the shipped model, as it is
        model, history = load_pretrained_plrnn(N=N), None
        result["settings"] = dict(result["settings"], checkpoint=True)
    else:
        try:
            model, history = train_reconstruction(settings, train, show_progress=False)
        except TrainingDiverged as error:
            return dict(result, diverged=str(error))
    if save and history is not None:
        name = f"{method}_{set_name.replace(' ', '_')}_seed{settings['seed']}.pt"
        torch.save(model.state_dict(), Path(save) / name)
        result["saved"] = str(Path(save) / name)
    figures = evaluate_reconstruction(model, test[:, :N], dt=dt, transient=10_000,
                                      n_lyapunov=100_000, n_orbits=n_orbits,
                                      n_fates=N_FATES, horizon=horizon, reference=LAMBDA_TRUE)
    generated = figures["generated"].numpy()
    per_orbit = figures["lambda_per_orbit"]
    lam = float(per_orbit.mean())
    if N == 1:       # the embedded scalar series, and x's spectrum
        true = test[: len(generated), 0].numpy()
        D_stsp = state_space_divergence(delay_embed(true, 10), delay_embed(generated[:, 0], 10))
        floor = None
    else:
        D_stsp = figures["D_stsp"]
        floor = dict(D_stsp=round(state_space_divergence(test.numpy(), floor_train.numpy()), 4),
                     D_H=round(power_spectrum_distance(test.numpy(), floor_train.numpy()), 4))
    rel = lam / LAMBDA_TRUE - 1
    if history is not None:
        result.update(train_seconds=round(history["seconds"], 1),
                      final_loss=round(float(history["loss"][-500:].mean()), 5))
    result.update(
        lambda_max=round(lam, 4), lambda_rel_error=round(rel, 4),
        lambda_sd=round(float(per_orbit.std()), 4),
        lambda_per_orbit=[round(float(v), 4) for v in per_orbit],
        all_chaotic=figures["all_chaotic"], n_fates=figures["n_fates"],
        n_still_chaotic=figures["n_still_chaotic"],
        lambda_orbits_chaotic=all(f == "still chaotic" for f in figures["fates"]),
        verdict=figures["verdict"],
        D_stsp=round(D_stsp, 4), D_H=round(figures["D_H"], 4), floor=floor)
    if history is not None and "alpha" in history:
        result["final_alpha"] = round(float(history["alpha"][-1]), 4)
    if targets == "course":
        tol = TARGETS["course"]["stf" if method == "checkpoint" else method]
        met = dict(lambda_max=abs(rel) <= tol and figures["all_chaotic"])
        if floor:
            D_target = 1.3 * floor["D_stsp"]
            met.update(D_stsp=D_stsp <= D_target, D_H=figures["D_H"] <= floor["D_H"] + 0.02)
    else:
        tol, D_target = TARGETS["external"], 1.5 * floor["D_stsp"]
        met = dict(lambda_max=abs(rel) <= tol, D_stsp=D_stsp <= D_target,
                   all_chaotic=figures["all_chaotic"],
                   lambda_orbits_chaotic=result["lambda_orbits_chaotic"])
    result.update(lambda_tolerance=tol, met=met)
    if floor:       # how far one D_stsp figure can be trusted, and what the truth scores
        study = _distance_study(model, floor_train, test, dt, reference)
        result.update(D_stsp_target=round(D_target, 4), D_stsp_stretches=study,
                      true_system_over_target=sum(
                          v > D_target for v in study["true_system_vs_test"]["values"]))
    return result


def plot(lines_file, figure_file):
    """The D_stsp figure of RESULTS.md (stsp_stretches.png): for each model and data set in the JSON
    lines, D_stsp of the model's free runs and of the true system's stretches, against the
    test and the training series (one marker per stretch), with the floor and the D_stsp
    target."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in open(lines_file) if line.strip()]
    rows = [r for r in rows if "D_stsp_stretches" in r]
    if not rows:
        raise SystemExit(f"{lines_file} has no line with D_stsp_stretches to plot")
    series = [("model_vs_test", "model's free runs vs test", "tab:blue", "o"),
              ("true_system_vs_test", "true system vs test", "tab:green", "s"),
              ("model_vs_train", "model's free runs vs train", "tab:blue", "^"),
              ("true_system_vs_train", "true system vs train", "tab:green", "v")]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    for k, r in enumerate(rows):
        for j, (key, label, color, marker) in enumerate(series):
            values = r["D_stsp_stretches"][key]["values"]
            x = k + (j - 1.5) * 0.16
            ax.plot([x] * len(values), values, marker, color=color, alpha=0.6, ms=4,
                    mfc="none" if "train" in key else color, label=label)
        for y, style, label in ((r["floor"]["D_stsp"], ":", "noise floor (train vs test)"),
                                (r["D_stsp_target"], "--", "target")):
            ax.plot([k - 0.4, k + 0.4], [y, y], style, color="tab:red", lw=1.2, label=label)
        ax.plot(k - 0.4, r["D_stsp"], "*", color="k", ms=9, label="the benchmark's figure")
    names = [f"{r['method']}" + ("" if r["method"] == "checkpoint" else
                                 f", seed {r['settings']['seed']}")
             + f"\n{r['data'].removeprefix('external ')}" for r in rows]
    ax.set_xticks(range(len(rows)), names, fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel(r"$D_\mathrm{stsp}$ (nats, 30 bins per axis)")
    ax.set_title("D_stsp of 8 stretches as long as the test series (noisy training series: "
                 "every clean orbit scores high against them)", fontsize=9)
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    ax.legend(unique.values(), unique.keys(), fontsize=7, ncol=2, loc="upper left")
    fig.tight_layout()
    fig.savefig(figure_file, dpi=120)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", choices=("stf", "gtf", "x", "checkpoint"),
                        default=None, help="the models (default: stf gtf x; checkpoint: the "
                                           "shipped model, measured without training)")
    parser.add_argument("--external", default=None,
                        help="folder of the external Lorenz-63 sets (by hand only)")
    parser.add_argument("--sets", nargs="*", choices=tuple(SETS), default=None,
                        help="only these data sets (default: course, and both external "
                             "sets with --external)")
    parser.add_argument("--seed", type=int, default=None,
                        help="train every model with this seed (default: the settings')")
    parser.add_argument("--add-noise", type=float, default=0.0,
                        help="a study option: add Gaussian noise of this fraction of each "
                             "column's standard deviation to the training data (seed 12345; "
                             "the floors stay those of the set itself)")
    parser.add_argument("--change", nargs="*", default=[], metavar="KEY=VALUE",
                        help="a study option: change a setting of every model, KEY=VALUE for "
                             "the model (M, L) or train.KEY=VALUE for training (n_steps, "
                             "alpha, lr, ...)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default=None, help="also append the JSON lines to FILE")
    parser.add_argument("--save", default=None, metavar="DIR",
                        help="save each trained model's state dict in DIR")
    parser.add_argument("--plot", nargs=2, metavar=("FILE", "PNG"), default=None,
                        help="draw RESULTS.md's D_stsp figure from the JSON lines in FILE "
                             "into PNG, and train nothing")
    args = parser.parse_args(argv)
    if args.plot:
        plot(*args.plot)
        return 0
    methods = args.only or ["stf", "gtf", "x"]
    if args.sets is not None:
        sets = args.sets
    else:
        sets = ["course"] + (["tde", "full"] if args.external else [])
    if any(SETS[k][0] in EXTERNAL_FILES for k in sets) and not args.external:
        parser.error("the sets tde, full and tde-swapped need --external DIR")
    if "checkpoint" in methods and (args.seed is not None or args.change or args.add_noise):
        parser.error("the checkpoint is measured as shipped: no --seed, --change or "
                     "--add-noise with --only checkpoint")
    if args.save:
        Path(args.save).mkdir(parents=True, exist_ok=True)
    jobs = [(m, k, args.external, args.seed, args.add_noise, args.change, args.save)
            for k in sets
            for m in methods if not (m in ("x", "checkpoint") and k != "course")]
    for m in methods:       # a bad --change stops here, not inside a worker
        _settings(m, args.seed, args.change)
    import torch

    from course_utils.data import lorenz_dataset

    lorenz_dataset("lorenz_data.pt")      # made once here, not by each worker at once
    header = dict(machine=f"{platform.machine()} {platform.processor() or ''}".strip(),
                  cpus=os.cpu_count(), torch=torch.__version__, jobs=len(jobs))
    print(json.dumps(header), flush=True)
    start = time.perf_counter()
    results = []
    with multiprocessing.get_context("spawn").Pool(args.workers, maxtasksperchild=1) as pool:
        for result in pool.imap_unordered(run, jobs):
            line = json.dumps(result)
            print(line, flush=True)
            if args.out:
                with open(args.out, "a") as f:
                    f.write(line + "\n")
            results.append(result)
    summary = {f"{r['method']} on {r['data']}": (r.get("met"), r.get("lambda_rel_error"))
               for r in results}
    gtf, stf = ({r["data"]: r.get("train_seconds") for r in results if r["method"] == m}
                for m in ("gtf", "stf"))
    print(json.dumps({"summary (targets met, lambda error)": summary,
                      "gtf training no longer than stf": {
                          k: gtf[k] <= stf[k] for k in gtf if k in stf and gtf[k] and stf[k]},
                      "seconds": round(time.perf_counter() - start)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
