"""The Keras recurrent cells (course_utils.keras_cells): the Henon cell's Jacobian is the
analytic one of course_utils.henon."""

import numpy as np

from course_utils.henon import henon_jacobian


def test_reference_cell_jacobian_is_the_analytic_one(tf):
    from course_utils.keras_cells import HenonCell

    z = tf.constant(np.random.default_rng(3).uniform(-1, 1, (16, 2)), dtype=tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(z)
        z_next, _ = HenonCell()(tf.zeros((16, 1), dtype=tf.float64), [z])
    np.testing.assert_allclose(tape.batch_jacobian(z_next, z).numpy(),
                               henon_jacobian(z.numpy()), rtol=1e-12, atol=1e-12)
