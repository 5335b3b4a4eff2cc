"""The linear recurrence of the LRU, x_k = lambda * x_{k-1} + b_k: the parallel scan
``linear_recurrence_scan`` against the sequential ``linear_recurrence_loop``.

One sequence (batch 1) of H = 64 complex64 modes with moduli in [0.9, 0.999] (long memory,
as after the LRU's ring initialisation) and random phases, for T = 1,000, 10,000 and
100,000 steps; the forward pass alone and forward + backward (the gradient of
sum(abs(x)^2) with respect to lambda, b and x0). Timings are the median of a few repeats
after one warm-up call (only one repeat of the loop at T >= 100,000, which takes seconds).

Prints JSON: seconds of each, the speed-up of the scan over the loop, and the relative
differences between the two: for the states the largest over the steps,
max_k norm(x_scan_k - x_loop_k) / norm(x_loop_k), and for each gradient that of the whole
tensor.

    .venv/bin/python benchmarks/lru_scan.py [--device cpu|cuda] [--T 1000 10000 100000]
                                            [--repeats 5] [--threads N] [--seed 0]
"""

import argparse
import json
import math
import os
import platform
import statistics
import time

import torch

from course_utils.lru import linear_recurrence_loop, linear_recurrence_scan

H = 64


def timed(fn, device, repeats):
    """Median wall-clock seconds of fn() over `repeats` calls (after one warm-up call)."""
    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    fn()
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def forward_backward(fn, lam, b, x0):
    """The states and the gradients of sum(abs(x)^2) with respect to lam, b and x0."""
    lam, b, x0 = (t.detach().requires_grad_() for t in (lam, b, x0))
    x = fn(lam, b, x0)
    grads = torch.autograd.grad((x.abs() ** 2).sum(), (lam, b, x0))
    return x, grads


def max_rel_diff(x, ref):
    """Largest relative difference per step (norm over the modes), over all steps."""
    return float(((x - ref).abs().norm(dim=-1) / ref.abs().norm(dim=-1)).max())


def main(Ts=(1000, 10_000, 100_000), device="cpu", repeats=5, seed=0):
    device = torch.device(device)
    g = torch.Generator().manual_seed(seed)
    mod = 0.9 + 0.099 * torch.rand(H, generator=g)
    lam = torch.polar(mod, 2 * math.pi * torch.rand(H, generator=g)).to(device)
    x0 = torch.randn(1, H, generator=g, dtype=torch.complex64).to(device)
    rows = {}
    for T in Ts:
        b = torch.randn(1, T, H, generator=g, dtype=torch.complex64).to(device)
        loop_repeats = 1 if T >= 100_000 else repeats
        with torch.no_grad():
            x_loop = linear_recurrence_loop(lam, b, x0)
            x_scan = linear_recurrence_scan(lam, b, x0)
            fwd = {"loop": timed(lambda: linear_recurrence_loop(lam, b, x0), device,
                                 loop_repeats),
                   "scan": timed(lambda: linear_recurrence_scan(lam, b, x0), device, repeats)}
        _, grads_loop = forward_backward(linear_recurrence_loop, lam, b, x0)
        _, grads_scan = forward_backward(linear_recurrence_scan, lam, b, x0)
        bwd = {"loop": timed(lambda: forward_backward(linear_recurrence_loop, lam, b, x0),
                             device, loop_repeats),
               "scan": timed(lambda: forward_backward(linear_recurrence_scan, lam, b, x0),
                             device, repeats)}
        rows[str(T)] = {
            "forward_s": {k: round(v, 5) for k, v in fwd.items()},
            "forward_speedup": round(fwd["loop"] / fwd["scan"], 1),
            "forward_backward_s": {k: round(v, 5) for k, v in bwd.items()},
            "forward_backward_speedup": round(bwd["loop"] / bwd["scan"], 1),
            "repeats": {"loop": loop_repeats, "scan": repeats},
            "max_rel_diff_states": max_rel_diff(x_scan, x_loop),
            "max_rel_diff_grads": {name: float((gs - gl).norm() / gl.norm())
                                   for name, gs, gl in zip(("lambda", "b", "x0"),
                                                           grads_scan, grads_loop)},
        }
    print(json.dumps({
        "benchmark": "lru_scan", "machine": platform.machine(), "cpus": os.cpu_count(),
        "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
        "device": str(device) if device.type != "cuda" else torch.cuda.get_device_name(device),
        "setup": {"H": H, "batch": 1, "dtype": "complex64", "moduli": [0.9, 0.999],
                  "seed": seed, "statistic": "median"},
        "runs": rows,
    }, indent=2))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                        help="where to run (cuda synchronises around every timing)")
    parser.add_argument("--T", type=int, nargs="+", default=[1000, 10_000, 100_000],
                        help="sequence lengths")
    parser.add_argument("--repeats", type=int, default=5,
                        help="timed repeats (the loop at T >= 100,000: 1)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch.set_num_threads (default: torch's default)")
    parser.add_argument("--seed", type=int, default=0, help="seed of eigenvalues and inputs")
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda, but CUDA is not available")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    main(args.T, args.device, args.repeats, args.seed)
