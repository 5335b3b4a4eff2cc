"""Eager vs tf.function: a Henon trajectory through keras.layers.RNN.

Prints JSON: for each length T, the seconds of the eager call and of the compiled call
(tracing excluded, best of `repeats`), their ratio, and whether the trajectories are equal.

    .venv/bin/python benchmarks/henon_tf_function.py
"""

import json
import os
import platform
import time

from course_utils.runtime import import_tensorflow

tf = import_tensorflow(floatx="float64")
from course_utils.keras_cells import HenonCell  # noqa: E402  (after quieting TensorFlow)


def best_of(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def main(lengths=(1_000, 10_000), repeats=3):
    rnn = tf.keras.layers.RNN(HenonCell(), return_sequences=True)
    z0 = tf.constant([[0.1, 0.1]], dtype=tf.float64)
    generate = tf.function(lambda u, z0: rnn(u, initial_state=[z0]))
    rows = []
    for T in lengths:
        u = tf.zeros((1, T, 1), dtype=tf.float64)
        t_eager, Z_eager = best_of(lambda: rnn(u, initial_state=[z0]), 1)
        generate(u, z0)  # trace
        t_graph, Z_graph = best_of(lambda: generate(u, z0), repeats)
        rows.append({"T": T, "eager_s": round(t_eager, 4), "tf_function_s": round(t_graph, 5),
                     "ratio": round(t_eager / t_graph, 1),
                     "identical": bool(tf.reduce_all(Z_eager == Z_graph))})
    print(json.dumps({"benchmark": "henon_tf_function", "machine": platform.machine(),
                      "cpus": os.cpu_count(), "tensorflow": tf.__version__,
                      "results": rows}, indent=2))


if __name__ == "__main__":
    main()
