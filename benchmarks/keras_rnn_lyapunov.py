"""Lyapunov spectrum of a Keras SimpleRNN: the compiled toolkit vs a per-step eager loop.

The same work both ways: a SimpleRNN(32, tanh) in float64, 10 input sequences of T steps,
all 32 exponents (k=32), no transient. (a) ``rnn_lyapunov_spectrum`` (one tf.function over
the batch; its first call traces, the second is timed); (b) a straightforward eager loop,
one sequence at a time: each step reads the weights (``get_weights()``), builds the
Jacobian in NumPy, calls the cell eagerly and takes one ``tf.linalg.qr``. Prints JSON with
the seconds of each (for the toolkit also its first call, which traces, and the best of 3
further calls), the ratio eager / second call, and the largest difference between the
exponents; then the same for the toolkit with a QR every 4 steps instead of every step
(``reortho_every=4``, within the rule of thumb that is printed too).

    .venv/bin/python benchmarks/keras_rnn_lyapunov.py [--T 1000] [--seed 0]
"""

import argparse
import json
import os
import platform
import time

import numpy as np

from course_utils.runtime import import_tensorflow, progress

tf = import_tensorflow(floatx="float64")
from course_utils.keras_lyapunov import rnn_lyapunov_spectrum  # noqa: E402  (after quieting TF)

UNITS, INPUT_DIM, BATCH = 32, 2, 10
GAIN = 1.5  # recurrent kernel = GAIN * (orthogonal matrix): near the edge of chaos
REORTHO = 4  # the second toolkit run re-orthonormalises every REORTHO steps


def make_rnn(seed: int):
    rng = np.random.default_rng(seed)
    rnn = tf.keras.layers.SimpleRNN(UNITS, activation="tanh")
    rnn.build((None, None, INPUT_DIM))
    kernel = rng.normal(scale=1 / np.sqrt(INPUT_DIM), size=(INPUT_DIM, UNITS))
    recurrent = GAIN * np.linalg.qr(rng.normal(size=(UNITS, UNITS)))[0]
    bias = rng.normal(scale=0.1, size=UNITS)
    rnn.cell.set_weights([kernel, recurrent, bias])
    return rnn


def eager_spectrum(rnn, inputs, h0):
    """The straightforward way: per sequence, per step, eagerly, one QR at a time."""
    cell = rnn.cell
    B, T, _ = inputs.shape
    exponents = np.empty((B, UNITS))
    bar = progress(total=B * T, desc="eager loop", unit="step")
    for b in range(B):
        h = tf.constant(h0[b:b + 1])
        Q = tf.eye(UNITS, dtype=tf.float64)
        total = np.zeros(UNITS)
        for t in range(T):
            x = tf.constant(inputs[b:b + 1, t])
            kernel, recurrent, bias = cell.get_weights()
            a = x.numpy() @ kernel + bias + h.numpy() @ recurrent
            J = (1.0 - np.tanh(a[0]) ** 2)[:, None] * recurrent.T  # at the state before
            h = cell(x, [h], training=False)[1][0]
            Q, R = tf.linalg.qr(tf.constant(J) @ Q)
            total += np.log(np.abs(np.diagonal(R.numpy())))
            bar.update(1)
        exponents[b] = np.sort(total / T)[::-1]
    bar.close()
    return exponents


def main(T: int = 1000, seed: int = 0):
    rng = np.random.default_rng(seed + 1)
    rnn = make_rnn(seed)
    inputs = rng.uniform(-1.0, 1.0, size=(BATCH, T, INPUT_DIM))
    h0 = rng.uniform(-0.5, 0.5, size=(BATCH, UNITS))

    start = time.perf_counter()
    rnn_lyapunov_spectrum(rnn, inputs, h0, k=UNITS)  # traces
    t_first = time.perf_counter() - start
    start = time.perf_counter()
    compiled = rnn_lyapunov_spectrum(rnn, inputs, h0, k=UNITS)
    t_compiled = time.perf_counter() - start
    best = []
    for _ in range(3):
        start = time.perf_counter()
        rnn_lyapunov_spectrum(rnn, inputs, h0, k=UNITS)
        best.append(time.perf_counter() - start)

    # The same exponents with a QR every REORTHO steps (within the rule of thumb
    # reortho_every <= ln(1/eps) / (2 (λ_1 - λ_k)), which the toolkit checks and warns about).
    rnn_lyapunov_spectrum(rnn, inputs, h0, k=UNITS, reortho_every=REORTHO)  # traces
    start = time.perf_counter()
    sparse = rnn_lyapunov_spectrum(rnn, inputs, h0, k=UNITS, reortho_every=REORTHO)
    t_sparse = time.perf_counter() - start
    spread = float(np.max(compiled[:, 0] - compiled[:, -1]))

    start = time.perf_counter()
    eager = eager_spectrum(rnn, inputs, h0)
    t_eager = time.perf_counter() - start

    print(json.dumps({
        "benchmark": "keras_rnn_lyapunov", "machine": platform.machine(),
        "cpus": os.cpu_count(), "tensorflow": tf.__version__,
        "setup": {"units": UNITS, "activation": "tanh", "dtype": "float64", "batch": BATCH,
                  "T": T, "k": UNITS, "transient": 0, "recurrent_gain": GAIN,
                  "seed": seed},
        "toolkit_first_call_s": round(t_first, 4),
        "toolkit_s": round(t_compiled, 4),
        "toolkit_best_of_3_s": round(min(best), 4),
        "eager_loop_s": round(t_eager, 3),
        "ratio": round(t_eager / t_compiled, 1),
        "max_abs_diff": float(np.max(np.abs(compiled - eager))),
        "toolkit_reortho_every": REORTHO,
        "toolkit_reortho_s": round(t_sparse, 4),
        "ratio_reortho": round(t_eager / t_sparse, 1),
        "max_abs_diff_reortho": float(np.max(np.abs(sparse - eager))),
        "reortho_rule_of_thumb": int(0.5 * np.log(1 / np.finfo(np.float64).eps) / spread),
        "lambda_max_mean": float(compiled[:, 0].mean()),
    }, indent=2))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--T", type=int, default=1000, help="steps per sequence")
    parser.add_argument("--seed", type=int, default=0, help="seed for weights and data")
    args = parser.parse_args()
    main(args.T, args.seed)
