"""Quality benchmark of the two Lorenz-63 reconstructions, trained from scratch with the
default settings the notebooks use (``course_utils.pretrained.STF_DEFAULTS`` and
``STF_X_DEFAULTS``).

For each: the wall time of training; then, against the clean test stretch of the data set,
a free-running orbit of 100,000 steps (after 1,000 dropped) and its state-space divergence
D_stsp and power-spectrum distance D_H; and lambda_max per time unit (QR method, 8 orbits
of 20,000 steps on the model's attractor, float64) with its relative error against 0.906.
For the single-variable model D_H is that of x alone, and D_stsp that of the delay
embeddings (x_t, x_{t-10}, x_{t-20}) of the generated and the true x.

Targets (the issue's): STF lambda_max within 5 %, D_stsp <= 0.3, D_H <= 0.1, in at most
5 minutes of training on a 2-core CPU; single variable lambda_max within 15 %, D_H <= 0.15.

    .venv/bin/python benchmarks/stf_lorenz.py [--only stf|x] [--data lorenz_data.pt]

With the same settings as ``python -m course_utils.pretrained`` (the training limits NumPy's
BLAS to one thread itself), the STF model it trains should be the shipped checkpoint bit
for bit on the same kind of CPU; the JSON says whether it is.

Prints JSON. Not a test: training takes minutes. Results go to benchmarks/RESULTS.md.
"""

import argparse
import json
import os
import platform

import torch

from course_utils.data import delay_embed, lorenz_dataset
from course_utils.metrics import state_space_divergence
from course_utils.pretrained import (CHECKPOINT, STF_DEFAULTS, STF_X_DEFAULTS,
                                     train_reconstruction)
from course_utils.training import evaluate_reconstruction

TARGETS = {"stf": dict(lambda_rel=0.05, D_stsp=0.3, D_H=0.1, train_seconds=300),
           "x": dict(lambda_rel=0.15, D_H=0.15)}


def run(name, settings, data):
    N = settings["N"]
    model, history = train_reconstruction(settings, data["train"])
    figures = evaluate_reconstruction(model, data["test"][:, :N], dt=data["settings"]["dt"])
    generated = figures.pop("generated").numpy()
    if N == 1:  # compare the delay embeddings of the scalar series
        delay = data["settings"]["delay"]
        true = data["test"][: len(generated), 0].numpy()
        figures["D_stsp"] = state_space_divergence(delay_embed(true, delay),
                                                   delay_embed(generated[:, 0], delay))
    result = dict(settings=settings, train_seconds=round(history["seconds"], 1),
                  final_loss=float(history["loss"][-100:].mean()),
                  lambda_max=round(figures["lambda_max"], 4),
                  lambda_max_rel_error=round(figures["lambda_max_rel_error"], 4),
                  lambda_per_orbit=[round(float(v), 4) for v in figures["lambda_per_orbit"]],
                  fates=figures["fates"], verdict=figures["verdict"],
                  D_stsp=round(figures["D_stsp"], 4), D_H=round(figures["D_H"], 4))
    target = TARGETS[name]
    met = {"lambda_max": figures["lambda_max_rel_error"] <= target["lambda_rel"],
           "D_H": figures["D_H"] <= target["D_H"]}
    if "D_stsp" in target:
        met["D_stsp"] = figures["D_stsp"] <= target["D_stsp"]
    if "train_seconds" in target:
        met["train_seconds"] = history["seconds"] <= target["train_seconds"]
    result.update(targets=target, met=met)
    if name == "stf":  # the shipped checkpoint is this model, if training is reproducible
        shipped = torch.load(CHECKPOINT, weights_only=True)
        result["identical_to_shipped_checkpoint"] = all(
            torch.equal(shipped[k], v) for k, v in model.state_dict().items())
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("stf", "x"), default=None)
    parser.add_argument("--data", default="lorenz_data.pt")
    args = parser.parse_args()
    torch.set_num_threads(1)          # as in the notebooks: small matrices, one thread
    data = lorenz_dataset(args.data)
    out = dict(machine=f"{platform.machine()} {platform.processor() or ''}".strip(),
               cpus=os.cpu_count(), torch=torch.__version__, threads=torch.get_num_threads())
    for name, settings in (("stf", STF_DEFAULTS), ("x", STF_X_DEFAULTS)):
        if args.only in (None, name):
            out[name] = run(name, settings, data)
            print(json.dumps({name: out[name]}), flush=True)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
