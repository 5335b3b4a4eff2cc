"""The toolkit on a GPU gives the CPU's results: the Lyapunov spectrum and maximum exponent
of a PLRNN, the LRU's scan, the fixed-point searches and STF training, each computed on
``device`` and compared with the same computation on the CPU, and its results on
``device``. Every test runs twice: on "cpu" (so that the comparison itself runs
everywhere) and on "cuda", marked ``gpu`` and skipped without a CUDA device
(``pytest -m gpu`` selects those).

Tolerances: float64 computations agree to 1e-9 relative (the GPU's matrix products and
QR round differently, a few ulp per step, over a few hundred steps on a non-chaotic
orbit); the complex64 scan to 1e-5 relative to the largest state.
"""

import copy

import pytest
import torch

from course_utils.linearization import find_fixed_points, plrnn_fixed_points
from course_utils.lru import LRU, linear_recurrence_loop, linear_recurrence_scan
from course_utils.lyapunov import lyapunov_spectrum, max_lyapunov
from course_utils.models import ShallowPLRNN
from course_utils.training import train_stf

DEVICES = ["cpu", pytest.param("cuda", marks=[
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
])]
CPU = torch.device("cpu")


def _on(device: str) -> torch.device:
    return torch.device(device)


def _plrnn(M=6, L=20, seed=3):
    return ShallowPLRNN(M, L, 3, seed=seed, dtype=torch.float64)


def _close(a, b, rtol=1e-9, atol=1e-12):
    torch.testing.assert_close(a.cpu(), b.cpu(), rtol=rtol, atol=atol)


@pytest.mark.parametrize("device", DEVICES)
def test_lyapunov_spectrum_and_max_exponent(device):
    model = _plrnn()
    z0 = torch.randn(16, model.M, generator=torch.Generator().manual_seed(0),
                     dtype=torch.float64)
    on = copy.deepcopy(model).to(_on(device))
    expected = lyapunov_spectrum(model, z0, 300, jacobian=model.jacobian, transient=50)
    got = lyapunov_spectrum(on, z0.to(_on(device)), 300, jacobian=on.jacobian, transient=50)
    assert got.device.type == device and got.shape == (16, model.M)
    _close(got, expected)
    # autograd Jacobians (vmap of jacrev) on the device, z0 given on the CPU
    _close(lyapunov_spectrum(on, z0, 100, k=2), lyapunov_spectrum(model, z0, 100, k=2))
    v0 = torch.ones(model.M, dtype=torch.float64)
    lam = max_lyapunov(on, z0, 300, v0=v0.to(_on(device)), transient=50)   # jvp
    assert lam.device.type == device
    _close(lam, max_lyapunov(model, z0, 300, v0=v0, transient=50))
    _close(max_lyapunov(on, z0, 300, jacobian=on.jacobian, seed=1),
           max_lyapunov(model, z0, 300, jacobian=model.jacobian, seed=1))


@pytest.mark.parametrize("device", DEVICES)
def test_lru_scan(device):
    g = torch.Generator().manual_seed(0)
    H, T = 32, 1000
    lam = torch.polar(0.9 + 0.099 * torch.rand(H, generator=g, dtype=torch.float64),
                      6.28 * torch.rand(H, generator=g, dtype=torch.float64)).to(torch.complex64)
    b = torch.randn(4, T, H, generator=g, dtype=torch.complex64)
    expected = linear_recurrence_loop(lam.to(torch.complex128), b.to(torch.complex128))
    got = linear_recurrence_scan(lam.to(_on(device)), b.to(_on(device)))
    assert got.device.type == device and got.dtype == torch.complex64
    scale = expected.abs().max().item()
    assert (got.cpu().to(torch.complex128) - expected).abs().max().item() < 1e-5 * scale

    lru = LRU(3, H, 2, r_min=0.9, r_max=0.999, seed=0)
    u = torch.randn(4, 200, 3, generator=g)
    lru_on = copy.deepcopy(lru).to(_on(device))
    y_cpu = lru(u)
    y = lru_on(u.to(_on(device)))
    assert y.device.type == device
    torch.testing.assert_close(y.cpu(), y_cpu, rtol=1e-4, atol=1e-5)
    y.square().mean().backward()
    y_cpu.square().mean().backward()
    for p, q in zip(lru_on.parameters(), lru.parameters()):
        torch.testing.assert_close(p.grad.cpu(), q.grad, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("device", DEVICES)
def test_fixed_point_searches(device):
    rnn = torch.nn.RNN(2, 12, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        for p in rnn.parameters():
            p.copy_(torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel()),
                                dtype=torch.float64) * 0.6)
    starts = torch.randn(20, 12, generator=torch.Generator().manual_seed(1),
                         dtype=torch.float64)
    expected = find_fixed_points(rnn, starts, n_iter=300)
    got = find_fixed_points(copy.deepcopy(rnn).to(_on(device)), starts, n_iter=300)
    assert len(expected) >= 1 and len(got) == len(expected)
    assert got.points.device.type == device
    _close(got.points, expected.points, rtol=1e-8, atol=1e-9)
    assert got.labels == expected.labels
    assert (got.residuals < 1e-8).all()

    plrnn = _plrnn(M=4, L=8, seed=5)
    exact_cpu = plrnn_fixed_points(plrnn)
    exact = plrnn_fixed_points(copy.deepcopy(plrnn).to(_on(device)))
    assert len(exact) == len(exact_cpu) >= 1 and exact.points.device.type == device
    _close(exact.points, exact_cpu.points)
    assert torch.equal(exact.patterns.cpu(), exact_cpu.patterns)


@pytest.mark.parametrize("noise", [0.0, 0.05])
@pytest.mark.parametrize("device", DEVICES)
def test_stf_training_takes_a_model_on_the_device(device, noise):
    """train_stf trains a model where it is (the fused pass computes on the CPU and hands
    the gradients back); the same run on the CPU gives the same parameters to rounding,
    with fresh batch noise too (drawn on the CPU, the same draws on either device)."""
    t = torch.arange(2000, dtype=torch.float64) * 0.05
    data = torch.stack([torch.sin(t), torch.cos(1.3 * t), torch.sin(0.7 * t)], dim=1)
    model = _plrnn(M=5, L=16, seed=2)
    on = copy.deepcopy(model).to(_on(device))
    settings = dict(n_steps=20, batch_size=8, seq_len=30, tau_f=5, noise=noise,
                    show_progress=False)
    train_stf(model, data, **settings)
    train_stf(on, data, **settings)            # data on the CPU, model on the device
    for p, q in zip(on.parameters(), model.parameters()):
        assert p.device.type == device
        _close(p, q, rtol=1e-9, atol=1e-12)


def test_fixed_points_move_between_devices():
    fps = plrnn_fixed_points(_plrnn(M=4, L=8, seed=5))
    moved = fps.to("cpu")
    assert moved is not fps and moved.labels == fps.labels and moved.labels is not fps.labels
    for name in ("points", "residuals", "eigenvalues", "counts", "patterns"):
        assert torch.equal(getattr(moved, name), getattr(fps, name)), name
