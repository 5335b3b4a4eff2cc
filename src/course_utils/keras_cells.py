"""Keras recurrent cells for dynamical systems (TensorFlow backend, Keras 3).

Importing this module imports TensorFlow (quietly); the rest of ``course_utils`` does not.
"""

from __future__ import annotations

from .henon import HENON_A, HENON_B
from .runtime import import_tensorflow

tf = import_tensorflow()
keras = tf.keras

__all__ = ["HenonCell"]


class HenonCell(keras.layers.Layer):
    """A Keras RNN cell: one step of the Henon map, z_next = (1 - a x^2 + y, b x), for a
    batch of states z = (x, y) of shape ``(batch, 2)``; the input is ignored and the output
    is the new state. Use it in ``keras.layers.RNN(HenonCell(), return_sequences=True)``
    with a dummy input sequence whose length sets the number of steps. Computes in Keras's
    float type (set ``keras.config.set_floatx("float64")`` for double precision). The
    defaults are the classical a = 1.4, b = 0.3; other keyword arguments go to
    ``keras.layers.Layer``.
    """

    def __init__(self, a: float = HENON_A, b: float = HENON_B, **kwargs):
        super().__init__(**kwargs)
        self.a, self.b = a, b
        self.state_size = 2
        self.output_size = 2

    def call(self, inputs, states):
        z = states[0]
        x, y = z[:, 0], z[:, 1]
        z_next = tf.stack([1.0 - self.a * x * x + y, self.b * x], axis=1)
        return z_next, [z_next]
