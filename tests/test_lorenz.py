"""Lorenz-63 and its RK4 step (course_utils.lorenz): the exact Jacobians against autograd,
NumPy and PyTorch agreeing, and the divergence rule."""

import numpy as np
import pytest
import torch

from course_utils.lorenz import (LORENZ_BETA, LORENZ_SIGMA, lorenz63, lorenz63_jacobian,
                                 lorenz63_rk4_jacobian, lorenz63_rk4_step)

from tests.test_lyapunov import autograd_jacobians, lorenz_starts


@pytest.mark.parametrize("name", ["lorenz field", "lorenz rk4"])
def test_analytic_jacobians_agree_with_autograd(name):
    if name == "lorenz field":
        f, jac, z = lorenz63, lorenz63_jacobian, lorenz_starts(16)
    else:
        f, jac, z = lorenz63_rk4_step, lorenz63_rk4_jacobian, lorenz_starts(16)
    with torch.no_grad():
        analytic = jac(z)
    torch.testing.assert_close(analytic, autograd_jacobians(f, z), rtol=1e-10, atol=1e-10)


def test_lorenz_numpy_and_torch_agree_and_divergence_rule():
    z = lorenz_starts(8)
    np.testing.assert_allclose(lorenz63_rk4_step(z.numpy()), lorenz63_rk4_step(z).numpy(),
                               rtol=1e-14)
    np.testing.assert_allclose(lorenz63_rk4_jacobian(z.numpy()),
                               lorenz63_rk4_jacobian(z).numpy(), rtol=1e-13, atol=1e-13)
    trace = np.trace(lorenz63_jacobian(z.numpy()), axis1=-2, axis2=-1)
    np.testing.assert_allclose(trace, -(LORENZ_SIGMA + 1 + LORENZ_BETA), rtol=1e-14)
    with pytest.raises(ValueError, match=r"\(x, y, z\); got shape \(4, 2\)"):
        lorenz63(np.zeros((4, 2)))
