"""Lyapunov spectrum of a shallow PLRNN (M=20, L=50) in PyTorch: the batched toolkit vs a
per-step autograd loop.

The same model (float64, seeded) and the same number of steps everywhere, all M exponents:

* the toolkit ``lyapunov_spectrum`` on a batch of 256 trajectories, with the analytic
  Jacobian ``model.jacobian`` and with autograd (``vmap(jacrev)``), re-orthonormalising
  every step and (analytic only) every 5 steps;
* ``max_lyapunov`` on the same batch (jvp and analytic);
* a straightforward loop on one trajectory: per step ``torch.autograd.functional.jacobian``,
  one QR, one log.

Prints JSON: trajectory-steps per second of each, the ratios to the loop, and the largest
difference between the loop's exponents and the toolkit's for the same trajectory.

    .venv/bin/python benchmarks/plrnn_lyapunov.py [--steps 1000] [--batch 256] [--seed 0]
"""

import argparse
import json
import os
import platform
import time

import torch

from course_utils.lyapunov import lyapunov_spectrum, max_lyapunov
from course_utils.models import ShallowPLRNN
from course_utils.runtime import progress

M, L, N = 20, 50, 3


def per_step_autograd_loop(model, z0, n_steps):
    """The straightforward way: one trajectory, autograd Jacobian and one QR per step."""
    z, Q = z0.clone(), torch.eye(M, dtype=z0.dtype)
    total = torch.zeros(M, dtype=z0.dtype)
    for _ in progress(range(n_steps), desc="per-step loop"):
        J = torch.autograd.functional.jacobian(model, z)  # at the state before the step
        with torch.no_grad():
            z = model(z)
            Q, R = torch.linalg.qr(J @ Q)
            total += torch.log(torch.abs(torch.diagonal(R)))
    return torch.sort(total / n_steps, descending=True).values


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def main(n_steps=1000, batch=256, seed=0):
    model = ShallowPLRNN(M, L, N, seed=seed, dtype=torch.float64)
    g = torch.Generator().manual_seed(seed + 1)
    z0 = torch.randn(batch, M, generator=g, dtype=torch.float64)
    runs = {
        "spectrum_analytic": lambda: lyapunov_spectrum(model, z0, n_steps,
                                                        jacobian=model.jacobian),
        "spectrum_analytic_reortho5": lambda: lyapunov_spectrum(
            model, z0, n_steps, jacobian=model.jacobian, reortho_every=5),
        "spectrum_autograd": lambda: lyapunov_spectrum(model, z0, n_steps),
        "max_lyapunov_analytic": lambda: max_lyapunov(model, z0, n_steps,
                                                      jacobian=model.jacobian),
        "max_lyapunov_jvp": lambda: max_lyapunov(model, z0, n_steps),
    }
    lyapunov_spectrum(model, z0[:2], 5)  # warm-up: torch.func's first call is slow
    max_lyapunov(model, z0[:2], 5)
    results, rows = {}, {}
    for name, run in runs.items():
        seconds, results[name] = timed(run)
        rows[name] = {"seconds": round(seconds, 3),
                      "trajectory_steps_per_s": round(batch * n_steps / seconds)}
    seconds, loop = timed(lambda: per_step_autograd_loop(model, z0[0], n_steps))
    baseline = n_steps / seconds
    rows["per_step_autograd_loop"] = {"seconds": round(seconds, 3),
                                      "trajectory_steps_per_s": round(baseline)}
    for name in runs:
        rows[name]["ratio_to_loop"] = round(rows[name]["trajectory_steps_per_s"] / baseline, 1)
    diff = {name: float((results[name][0] - loop).abs().max())
            for name in ("spectrum_analytic", "spectrum_analytic_reortho5", "spectrum_autograd")}
    diff["max_lyapunov_analytic"] = float((results["max_lyapunov_analytic"][0] - loop[0]).abs())
    diff["max_lyapunov_jvp"] = float((results["max_lyapunov_jvp"][0] - loop[0]).abs())
    print(json.dumps({
        "benchmark": "plrnn_lyapunov", "machine": platform.machine(), "cpus": os.cpu_count(),
        "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
        "setup": {"M": M, "L": L, "batch": batch, "steps": n_steps, "k": M,
                  "dtype": "float64", "seed": seed},
        "runs": rows,
        "lambda_max_trajectory_0": float(loop[0]),
        "max_abs_diff_to_loop_trajectory_0": diff,
    }, indent=2))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000, help="steps per trajectory")
    parser.add_argument("--batch", type=int, default=256, help="trajectories in the batch")
    parser.add_argument("--seed", type=int, default=0, help="seed of model and states")
    args = parser.parse_args()
    main(args.steps, args.batch, args.seed)
