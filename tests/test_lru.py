"""The linear recurrence (loop, parallel scan, closed form), the LRU layer and the modal
dynamics of course_utils.lru, against each other, the definitions and autograd."""

import math

import pytest
import torch

from course_utils.lru import (LRU, AngleMagModalDynamics, LRUDynamics, ModalDynamics,
                              ModalDynamicsWithMLP, RealImagModalDynamics, autonomous_orbit,
                              linear_recurrence_loop, linear_recurrence_scan, modal_powers,
                              scan_operator)


def rel(x, y):
    return ((x - y).norm() / y.norm()).item()


def ring(H, g, dtype=torch.complex64, r=(0.9, 0.999)):
    """H eigenvalues with moduli in [r[0], r[1]] and phases in [0, 2 pi)."""
    real = torch.float64 if dtype == torch.complex128 else torch.float32
    mod = r[0] + (r[1] - r[0]) * torch.rand(H, generator=g, dtype=real)
    return torch.polar(mod, 2 * math.pi * torch.rand(H, generator=g, dtype=real))


def crandn(*shape, g, dtype=torch.complex64):
    return torch.randn(*shape, generator=g, dtype=dtype)


# ---------------------------------------------------------------- the scan operator

def test_scan_operator_is_associative_and_composes_two_steps():
    g = torch.Generator().manual_seed(0)
    e1, e2, e3 = [(crandn(5, g=g, dtype=torch.complex128), crandn(5, g=g, dtype=torch.complex128))
                  for _ in range(3)]
    left = scan_operator(scan_operator(e1, e2), e3)
    right = scan_operator(e1, scan_operator(e2, e3))
    for l, r in zip(left, right):
        assert torch.allclose(l, r, rtol=1e-12, atol=1e-12)
    x0 = crandn(5, g=g, dtype=torch.complex128)
    a, b = scan_operator(e1, e2)
    two_steps = linear_recurrence_loop(torch.stack([e1[0], e2[0]]), torch.stack([e1[1], e2[1]]),
                                       x0)[-1]
    assert torch.allclose(a * x0 + b, two_steps, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- scan == loop

@pytest.mark.parametrize("T", [1, 2, 3, 7, 16, 1000])
@pytest.mark.parametrize("a_shape, b_shape, x0_shape", [
    ((8,), (8,), None),                 # constant diagonal, no batch
    ((8,), (8,), (8,)),
    ((8,), (3, 8), (3, 8)),             # batch of sequences, constant diagonal
    ((3, "T", 8), (3, 8), (8,)),        # one a per step and sequence
    ((2, 1, "T", 8), (3, 8), None),     # a broadcast over a batch axis
])
def test_scan_equals_loop_complex128(T, a_shape, b_shape, x0_shape):
    g = torch.Generator().manual_seed(T)
    a_shape = tuple(T if s == "T" else s for s in a_shape)
    b_shape = b_shape[:-1] + (T,) + b_shape[-1:]
    a = torch.polar(0.5 + 0.5 * torch.rand(a_shape, generator=g, dtype=torch.float64),
                    torch.randn(a_shape, generator=g, dtype=torch.float64))
    b = crandn(*b_shape, g=g, dtype=torch.complex128)
    x0 = None if x0_shape is None else crandn(*x0_shape, g=g, dtype=torch.complex128)
    loop = linear_recurrence_loop(a, b, x0)
    scan = linear_recurrence_scan(a, b, x0)
    assert loop.shape == scan.shape == torch.broadcast_shapes(a.shape, b.shape)
    assert rel(scan, loop) < 1e-12
    # the loop itself follows the definition at the first and last steps
    a = a.expand(loop.shape)
    first = b[..., 0, :] if x0 is None else a[..., 0, :] * x0 + b[..., 0, :]
    assert torch.allclose(loop[..., 0, :], first.expand_as(loop[..., 0, :]))
    if T > 1:
        last = a[..., -1, :] * loop[..., -2, :] + b[..., -1, :]
        assert torch.allclose(loop[..., -1, :], last)


def test_scan_equals_loop_complex64_long_sequence():
    g = torch.Generator().manual_seed(1)
    H, T = 64, 10_000
    a = ring(H, g)
    b = crandn(2, T, H, g=g)
    x0 = crandn(2, H, g=g)
    loop = linear_recurrence_loop(a, b, x0)
    scan = linear_recurrence_scan(a, b, x0)
    assert scan.dtype == torch.complex64 and scan.shape == (2, T, H)
    assert rel(scan, loop) < 1e-5
    # and both are close to the double-precision truth
    truth = linear_recurrence_scan(a.to(torch.complex128), b.to(torch.complex128),
                                   x0.to(torch.complex128))
    assert rel(scan.to(torch.complex128), truth) < 1e-5


def test_scan_equals_loop_complex64_per_step_multipliers():
    g = torch.Generator().manual_seed(11)
    T, H = 10_000, 8
    a = torch.polar(0.9 + 0.099 * torch.rand(T, H, generator=g),
                    torch.rand(T, H, generator=g) * 0.1)
    b = crandn(T, H, g=g)
    x0 = crandn(H, g=g)
    assert rel(linear_recurrence_scan(a, b, x0), linear_recurrence_loop(a, b, x0)) < 1e-5


def test_scan_real_inputs_and_dtype_promotion():
    g = torch.Generator().manual_seed(2)
    a = torch.rand(5, generator=g, dtype=torch.float64)
    b = torch.randn(9, 5, generator=g, dtype=torch.float64)
    x = linear_recurrence_scan(a, b)
    assert x.dtype == torch.float64
    assert torch.allclose(x, linear_recurrence_loop(a, b))
    x = linear_recurrence_scan(a.float(), b.to(torch.complex128))
    assert x.dtype == torch.complex128


def _grads(fn, a, b, x0, weights):
    a, b, x0 = (t.detach().clone().requires_grad_() for t in (a, b, x0))
    x = fn(a, b, x0)
    loss = (x.abs() ** 2).sum() + (weights * x).sum().real
    return torch.autograd.grad(loss, (a, b, x0))


@pytest.mark.parametrize("dtype, T, tol", [(torch.complex64, 1000, 1e-5),
                                           (torch.complex128, 777, 1e-11)])
def test_scan_gradients_equal_loop_gradients(dtype, T, tol):
    g = torch.Generator().manual_seed(3)
    H = 16
    a = ring(H, g, dtype, r=(0.9, 0.999))
    b = crandn(T, H, g=g, dtype=dtype)
    x0 = crandn(H, g=g, dtype=dtype)
    w = crandn(T, H, g=g, dtype=dtype)
    from_loop = _grads(linear_recurrence_loop, a, b, x0, w)
    from_scan = _grads(linear_recurrence_scan, a, b, x0, w)
    for name, gl, gs in zip(("a", "b", "x0"), from_loop, from_scan):
        assert gl.shape == gs.shape and gs.dtype == dtype
        assert gl.norm() > 0, name
        assert rel(gs, gl) < tol, name
    if dtype == torch.complex64:      # the powers of a constant a are formed in double
        wide = [t.to(torch.complex128) for t in (a, b, x0, w)]
        truth = _grads(linear_recurrence_loop, *wide)
        for name, gs, gt in zip(("a", "b", "x0"), from_scan, truth):
            assert rel(gs.to(torch.complex128), gt) < 1e-6, name


def test_scan_gradient_with_per_step_a_matches_finite_difference():
    g = torch.Generator().manual_seed(4)
    a = torch.polar(0.8 + 0.2 * torch.rand(13, 3, generator=g, dtype=torch.float64),
                    torch.randn(13, 3, generator=g, dtype=torch.float64)).requires_grad_()
    b = crandn(13, 3, g=g, dtype=torch.complex128)
    assert torch.autograd.gradcheck(lambda a: linear_recurrence_scan(a, b).real.sum(), (a,))


def test_recurrence_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"b must have shape.*got \(5,\)"):
        linear_recurrence_scan(torch.ones(5), torch.ones(5))
    with pytest.raises(ValueError, match=r"broadcast.*a \(4,\), b \(7, 5\)"):
        linear_recurrence_loop(torch.ones(4), torch.ones(7, 5))
    with pytest.raises(ValueError, match=r"x0 \(4,\)"):
        linear_recurrence_scan(torch.ones(5), torch.ones(7, 5), torch.ones(4))


# ---------------------------------------------------------------- the closed form

@pytest.mark.parametrize("include_start", [True, False])
def test_modal_powers_equal_repeated_multiplication(include_start):
    g = torch.Generator().manual_seed(5)
    lam = torch.cat([ring(6, g, torch.complex128, r=(0.5, 1.0)),
                     torch.tensor([0.7, -0.9], dtype=torch.complex128)])
    P = modal_powers(lam, 200, include_start=include_start)
    assert P.shape == (200, 8) and P.dtype == torch.complex128
    power = torch.ones_like(lam) if include_start else lam.clone()
    for k in range(200):
        assert torch.allclose(P[k], power, rtol=1e-12, atol=1e-14), k
        power = power * lam
    assert torch.equal(P[0], torch.ones_like(lam)) == include_start
    assert modal_powers(lam.to(torch.complex64), 3).dtype == torch.complex64
    assert modal_powers(torch.tensor([0.5]), 3).dtype == torch.complex64


def test_modal_powers_complex64_are_rounded_once():
    g = torch.Generator().manual_seed(7)
    lam = ring(32, g, r=(0.999, 0.9999))                    # complex64, phases up to 2 pi
    P = modal_powers(lam, 10_000)
    exact = modal_powers(lam.to(torch.complex128), 10_000)  # powers of the same numbers
    assert P.dtype == torch.complex64
    err = (P.to(torch.complex128) - exact).abs() / exact.abs()
    assert err.max() < 1e-6
    lam = lam.clone().requires_grad_()
    (grad,) = torch.autograd.grad(modal_powers(lam, 5)[-1].real.sum(), lam)
    assert torch.allclose(grad, (4 * lam ** 3).conj().detach(), rtol=1e-5)


@pytest.mark.parametrize("include_start", [True, False])
def test_autonomous_orbit_equals_loop_without_input(include_start):
    g = torch.Generator().manual_seed(6)
    lam = ring(5, g, torch.complex128, r=(0.8, 0.99))
    x0 = crandn(3, 5, g=g, dtype=torch.complex128)
    n = 50
    loop = linear_recurrence_loop(lam, torch.zeros(3, n, 5, dtype=torch.complex128), x0)
    expected = torch.cat([x0[:, None], loop[:, :-1]], dim=1) if include_start else loop
    orbit = autonomous_orbit(lam, x0, n, include_start=include_start)
    assert orbit.shape == (3, n, 5)
    assert torch.allclose(orbit, expected, rtol=1e-12, atol=1e-14)
    single = autonomous_orbit(lam, x0[1], n, include_start=include_start)
    assert single.shape == (n, 5) and torch.allclose(single, orbit[1])
    with pytest.raises(ValueError, match=r"x0 must have shape .*H = 5.*got \(4,\)"):
        autonomous_orbit(lam, torch.ones(4), n)
    with pytest.raises(ValueError, match="lam must have shape"):
        modal_powers(lam[None], n)


# ---------------------------------------------------------------- the LRU layer

def test_lru_ring_initialisation_and_normalisation():
    r_min, r_max, max_phase = 0.4, 0.95, math.pi / 3
    lru = LRU(2, 2000, 3, r_min=r_min, r_max=r_max, max_phase=max_phase, seed=0,
              dtype=torch.float64)
    lam = lru.eigenvalues
    mod, phase = lam.abs(), lam.angle()
    assert lam.shape == (2000,) and lam.dtype == torch.complex128 and not lam.requires_grad
    assert mod.min() >= r_min - 1e-12 and mod.max() <= r_max + 1e-12
    assert phase.min() >= 0 and phase.max() <= max_phase + 1e-12
    # uniform in area: abs(lambda)^2 uniform on [r_min^2, r_max^2], phases uniform
    lo, hi = r_min ** 2, r_max ** 2
    sd = (hi - lo) / math.sqrt(12 * 2000)
    assert abs((mod ** 2).mean().item() - (lo + hi) / 2) < 4 * sd
    assert abs((mod ** 2).var().item() - (hi - lo) ** 2 / 12) < 0.1 * (hi - lo) ** 2 / 12
    assert abs(phase.mean().item() - max_phase / 2) < 4 * max_phase / math.sqrt(12 * 2000)
    assert torch.allclose(torch.exp(lru.gamma_log), torch.sqrt(1 - mod ** 2), rtol=1e-12)
    # the scale of B: complex variance 1/d_in
    assert abs((lru.B_re ** 2 + lru.B_im ** 2).mean().item() - 1 / 2) < 0.05


def test_lru_default_ring_and_float32_parameters():
    lru = LRU(1, 500, 1, seed=1)
    for name in ("nu_log", "theta_log", "gamma_log", "B_re", "B_im", "C_re", "C_im", "D"):
        p = getattr(lru, name)
        assert isinstance(p, torch.nn.Parameter) and p.dtype == torch.float32, name
        assert torch.isfinite(p).all(), name
    shapes = {"nu_log": (500,), "B_re": (500, 1), "C_im": (1, 500), "D": (1, 1)}
    assert all(tuple(getattr(lru, k).shape) == v for k, v in shapes.items())
    lam = lru.eigenvalues
    assert lam.dtype == torch.complex64 and lam.abs().max() <= 1
    assert lam.angle().remainder(2 * math.pi).max() > 5.0      # phases up to 2 pi


@pytest.mark.parametrize("kwargs", [dict(r_min=0.5, r_max=0.5), dict(r_min=-0.1),
                                    dict(r_max=1.1), dict(max_phase=0.0),
                                    dict(max_phase=7.0)])
def test_lru_rejects_bad_ring(kwargs):
    with pytest.raises(ValueError, match="r_min|max_phase"):
        LRU(1, 4, 1, **kwargs)


def test_lru_seed_gives_the_same_parameters():
    p1, p2, p3 = (dict(LRU(3, 16, 2, r_min=0.5, seed=s).named_parameters()) for s in (7, 7, 8))
    assert all(torch.equal(p1[k], p2[k]) for k in p1)
    assert all(not torch.equal(p1[k], p3[k]) for k in p1)
    double = dict(LRU(3, 16, 2, r_min=0.5, seed=7, dtype=torch.float64).named_parameters())
    assert all(torch.allclose(p1[k].double(), double[k], rtol=1e-6) for k in p1)


def _test_eigenvalues(dtype):
    cdtype = torch.complex64 if dtype == torch.float32 else torch.complex128
    return torch.tensor([0.9 * math.e ** 0.3j, 0.5 * math.e ** -2.0j, 0.999 * math.e ** 3.1j,
                         0.3 + 0j, -0.7 + 0j, 0.2 - 0.6j, 0.9999 * math.e ** -0.001j,
                         1e-3 * math.e ** 1.0j], dtype=cdtype)


@pytest.mark.parametrize("dtype, atol", [(torch.float32, 1e-6), (torch.float64, 1e-14)])
def test_lru_set_get_eigenvalues_round_trip(dtype, atol):
    lam = _test_eigenvalues(dtype)
    lru = LRU(2, 8, 1, seed=0, dtype=dtype)
    lru.set_eigenvalues(lam)
    assert torch.allclose(lru.eigenvalues, lam, rtol=0, atol=atol)
    assert torch.isfinite(lru.theta_log).all()
    theta = torch.exp(lru.theta_log)
    assert theta.min() > 0 and theta.max() <= 2 * math.pi * (1 + 1e-6)
    assert abs(theta[3].item() - 2 * math.pi) < 1e-5       # positive real: phase 2 pi
    gamma = torch.exp(lru.gamma_log)
    mod = lam.to(torch.complex128).abs()                  # 1 - mod^2 in double: no cancellation
    assert torch.allclose(gamma.double(), torch.sqrt(1 - mod ** 2), rtol=1e-6)
    old_gamma = lru.gamma_log.detach().clone()
    lru.set_eigenvalues(lam * 0.5, renormalise=False)
    assert torch.equal(lru.gamma_log, old_gamma)
    assert torch.allclose(lru.eigenvalues, lam * 0.5, rtol=0, atol=atol)


def test_lru_set_eigenvalues_rejects_what_it_cannot_represent():
    lru = LRU(1, 3, 1, seed=0)
    before = lru.eigenvalues
    with pytest.raises(ValueError, match=r"lam.*1\.2"):
        lru.set_eigenvalues(torch.tensor([0.5, 1.2j, 0.3], dtype=torch.complex64))
    with pytest.raises(ValueError, match=r"lam.*1\.0"):
        lru.set_eigenvalues(torch.tensor([0.5, -1.0, 0.3], dtype=torch.complex64))
    with pytest.raises(ValueError, match=r"lam.*0\.0"):
        lru.set_eigenvalues(torch.tensor([0.5, 0.0, 0.3], dtype=torch.complex64))
    with pytest.raises(ValueError, match=r"lam must have shape \(H,\) = \(3,\); got \(4,\)"):
        lru.set_eigenvalues(torch.full((4,), 0.5, dtype=torch.complex64))
    assert torch.equal(lru.eigenvalues, before)


def test_lru_forward_shapes_and_scan_equals_loop():
    g = torch.Generator().manual_seed(2)
    lru = LRU(3, 32, 2, r_min=0.9, r_max=0.999, seed=0)
    u = torch.randn(4, 500, 3, generator=g)
    x0 = crandn(4, 32, g=g)
    y_scan, x_scan = lru(u, x0, return_states=True)
    y_loop, x_loop = lru(u, x0, method="loop", return_states=True)
    assert y_scan.shape == (4, 500, 2) and x_scan.shape == (4, 500, 32)
    assert x_scan.dtype == torch.complex64 and y_scan.dtype == torch.float32
    assert rel(x_scan, x_loop) < 1e-5 and rel(y_scan, y_loop) < 1e-5
    y1 = lru(u[1], x0[1])                                   # unbatched
    assert y1.shape == (500, 2) and torch.allclose(y1, y_scan[1], atol=1e-5)
    assert lru(u, x0[0]).shape == (4, 500, 2)               # one x0 for the whole batch


def test_lru_output_matches_the_definition():
    g = torch.Generator().manual_seed(3)
    lru = LRU(2, 3, 2, r_min=0.5, r_max=0.9, seed=4, dtype=torch.float64)
    u = torch.randn(6, 2, generator=g, dtype=torch.float64)
    x0 = crandn(3, g=g, dtype=torch.complex128)
    with torch.no_grad():
        nu, theta = torch.exp(lru.nu_log), torch.exp(lru.theta_log)
        gamma = torch.exp(lru.gamma_log)
        B = lru.B_re + 1j * lru.B_im
        C = lru.C_re + 1j * lru.C_im
        x, ys = x0, []
        for k in range(6):
            x = torch.exp(-nu + 1j * theta) * x + gamma * (B @ u[k].to(torch.complex128))
            ys.append((C @ x).real + lru.D @ u[k])
        y = lru(u, x0)
    assert torch.allclose(y, torch.stack(ys), rtol=1e-12, atol=1e-12)


def test_lru_impulse_response_decays_and_oscillates():
    r, w = 0.95, 2 * math.pi / 12                           # period 12 steps
    lru = LRU(1, 1, 1, seed=0, dtype=torch.float64)
    lru.set_eigenvalues(torch.tensor([r * complex(math.cos(w), math.sin(w))],
                                     dtype=torch.complex128))
    T = 60
    u = torch.zeros(T, 1, dtype=torch.float64)
    u[0] = 1.0
    with torch.no_grad():
        y = lru(u)[:, 0] - lru.D[0, 0] * u[:, 0]            # the recurrent part
        gain = (lru.C_re + 1j * lru.C_im)[0, 0] * torch.exp(lru.gamma_log[0]) \
            * (lru.B_re + 1j * lru.B_im)[0, 0]
    k = torch.arange(T, dtype=torch.float64)
    expected = (gain * r ** k * torch.exp(1j * w * k)).real
    assert torch.allclose(y, expected, rtol=1e-10, atol=1e-13)
    # one period later the response is the same up to the decay r^12
    assert torch.allclose(y[12:], r ** 12 * y[:-12], rtol=1e-10, atol=1e-13)
    assert abs(math.sqrt(1 - r ** 2) - torch.exp(lru.gamma_log[0]).item()) < 1e-12


def test_lru_gradients_reach_the_eigenvalue_parameters():
    lru = LRU(1, 8, 1, r_min=0.5, r_max=0.9, seed=0)
    u = torch.randn(2, 40, 1, generator=torch.Generator().manual_seed(0))
    for method in ("scan", "loop"):
        lru.zero_grad()
        lru(u, method=method).pow(2).mean().backward()
        for name, p in lru.named_parameters():
            assert p.grad is not None and torch.isfinite(p.grad).all(), (method, name)
        assert lru.nu_log.grad.abs().sum() > 0 and lru.theta_log.grad.abs().sum() > 0


def test_lru_rejects_bad_inputs():
    lru = LRU(3, 4, 2, seed=0)
    with pytest.raises(ValueError, match=r"u must have shape \(T, d_in\) or \(B, T, d_in\) "
                                         r"with d_in = 3.*got \(5, 4\)"):
        lru(torch.zeros(5, 4))
    with pytest.raises(ValueError, match=r"u must.*got \(5,\)"):
        lru(torch.zeros(5))
    with pytest.raises(ValueError, match=r"u must.*got \(1, 2, 5, 3\)"):
        lru(torch.zeros(1, 2, 5, 3))
    with pytest.raises(ValueError, match=r"x0 must.*got x0 \(3, 4\)"):
        lru(torch.zeros(2, 5, 3), torch.zeros(3, 4, dtype=torch.complex64))
    with pytest.raises(ValueError, match=r"x0 must.*got x0 \(5,\)"):
        lru(torch.zeros(5, 3), torch.zeros(5, dtype=torch.complex64))
    with pytest.raises(ValueError, match=r'"scan" or "loop".*bogus'):
        lru(torch.zeros(5, 3), method="bogus")


# ---------------------------------------------------------------- modal dynamics

MODAL = [LRUDynamics, RealImagModalDynamics, AngleMagModalDynamics]


def test_modal_dynamics_is_abstract():
    with pytest.raises(TypeError):
        ModalDynamics(3)


@pytest.mark.parametrize("cls", MODAL)
def test_modal_set_get_round_trip_and_orbit(cls):
    lam = _test_eigenvalues(torch.float64)
    dyn = cls(8, seed=0, dtype=torch.float64)
    dyn.set_eigenvalues(lam)
    got = dyn.eigenvalues()
    assert got.dtype == torch.complex128
    assert torch.allclose(got, lam, rtol=0, atol=1e-14)
    dyn32 = cls(8, seed=0)
    dyn32.set_eigenvalues(lam.to(torch.complex64))
    assert torch.allclose(dyn32.eigenvalues(), lam.to(torch.complex64), rtol=0, atol=1e-6)
    x0 = crandn(8, g=torch.Generator().manual_seed(0), dtype=torch.complex128)
    orbit = dyn(x0, 30)
    assert orbit.shape == (30, 8) and torch.equal(orbit[0], x0)
    assert torch.allclose(orbit[1:], orbit[:-1] * lam, rtol=1e-12, atol=1e-15)
    batch = dyn(torch.stack([x0, 2 * x0, x0]), 30)
    assert batch.shape == (3, 30, 8) and torch.allclose(batch[1], 2 * orbit)
    with pytest.raises(ValueError, match=r"lam must have shape \(H,\) = \(8,\); got \(2, 8\)"):
        dyn.set_eigenvalues(lam[None].expand(2, 8))
    with pytest.raises(ValueError, match=r"x0 must have shape .*got \(7,\)"):
        dyn(x0[:7], 30)


@pytest.mark.parametrize("cls", MODAL)
def test_modal_include_start_false_starts_with_lambda_x0(cls):
    dyn = cls(5, r_min=0.5, r_max=0.9, include_start=False, seed=1)
    x0 = torch.ones(5, dtype=torch.complex64)
    orbit = dyn(x0, 10)
    lam = dyn.eigenvalues()
    assert torch.allclose(orbit[0], lam * x0)
    assert torch.allclose(orbit, linear_recurrence_loop(lam, torch.zeros(10, 5), x0))


@pytest.mark.parametrize("cls, kwargs", [(LRUDynamics, {}), (RealImagModalDynamics, {}),
                                         (AngleMagModalDynamics, {}),
                                         (RealImagModalDynamics, dict(min_phase=1.0,
                                                                      max_phase=2.0))])
def test_modal_ring_initialisation(cls, kwargs):
    dyn = cls(1000, r_min=0.6, r_max=0.8, seed=3, dtype=torch.float64, **kwargs)
    lam = dyn.eigenvalues().detach()
    assert lam.abs().min() >= 0.6 - 1e-12 and lam.abs().max() <= 0.8 + 1e-12
    phase = lam.angle().remainder(2 * math.pi)
    lo, hi = kwargs.get("min_phase", 0.0), kwargs.get("max_phase", 2 * math.pi)
    assert phase.min() >= lo - 1e-9 and phase.max() <= hi + 1e-9
    assert abs((lam.abs() ** 2).mean().item() - 0.5) < 0.01     # (0.36 + 0.64) / 2
    same = cls(1000, r_min=0.6, r_max=0.8, seed=3, dtype=torch.float64, **kwargs)
    assert torch.equal(same.eigenvalues(), dyn.eigenvalues())
    with pytest.raises(ValueError, match="r_min"):
        cls(3, r_min=0.9, r_max=0.8)


@pytest.mark.parametrize("cls", [RealImagModalDynamics, AngleMagModalDynamics])
def test_modal_clip_is_straight_through(cls):
    lam = torch.tensor([1.5 * math.e ** 0.4j, 0.5 * math.e ** -1.0j], dtype=torch.complex64)
    dyn = cls(2, seed=0)
    dyn.set_eigenvalues(lam)
    got = dyn.eigenvalues()
    assert torch.allclose(got.abs(), torch.tensor([1.0, 0.5]), atol=1e-6)
    assert torch.allclose(got.angle(), lam.angle(), atol=1e-6)   # the angle is kept
    param = dyn.real_imag if cls is RealImagModalDynamics else dyn.magnitudes
    (grad,) = torch.autograd.grad(got.abs().sum(), param)
    assert grad[0].abs().sum() > 0.5                             # passes through the clamp
    assert dyn(torch.ones(2, dtype=torch.complex64), 100).abs().max() <= 1 + 1e-5
    # a plain clamp would give no gradient; without clip the modulus is not clamped
    free = cls(2, clip=False, seed=0)
    free.set_eigenvalues(lam)
    assert torch.allclose(free.eigenvalues(), lam, atol=1e-6)


def test_lru_dynamics_clip_eigs():
    dyn = LRUDynamics(3, clip_eigs=True, seed=0)
    with torch.no_grad():
        dyn.nu_log.fill_(-30.0)                                 # modulus exp(-1e-13)
    assert dyn.eigenvalues().abs().max().item() <= math.exp(-1e-5) + 1e-7
    dyn.clip_eigs = False
    assert dyn.eigenvalues().abs().max().item() > math.exp(-1e-5) + 1e-7
    with pytest.raises(ValueError, match=r"lam.*1\.0"):
        dyn.set_eigenvalues(torch.tensor([0.5, 0.5, 1.0], dtype=torch.complex64))


def test_modal_dynamics_gradients_reach_parameters():
    for cls in MODAL:
        dyn = cls(4, r_min=0.5, r_max=0.9, seed=0)
        dyn(torch.ones(2, 4, dtype=torch.complex64), 20).abs().pow(2).sum().backward()
        grads = [p.grad for p in dyn.parameters()]
        assert all(gr is not None and gr.abs().sum() > 0 for gr in grads), cls.__name__


def test_modal_dynamics_with_mlp():
    dyn = LRUDynamics(6, r_min=0.8, r_max=0.95, seed=0)
    model = ModalDynamicsWithMLP(dyn, hidden=(16, 8), seed=0)
    x0 = crandn(3, 6, g=torch.Generator().manual_seed(0))
    out = model(x0, 25)
    linear = dyn(x0, 25)
    assert out.shape == (3, 25, 6) and out.dtype == torch.complex64
    assert model(x0[0], 25).shape == (25, 6)
    assert (out - linear).abs().max() > 1e-3
    # the definition: x * (re + i im) of the MLP of abs(x)^2
    hat = model.mlp(linear.abs() ** 2)
    assert torch.allclose(out, linear * torch.complex(hat[..., :6], hat[..., 6:]))
    widths = [m.out_features for m in model.mlp if isinstance(m, torch.nn.Linear)]
    assert widths == [16, 8, 12]
    again = ModalDynamicsWithMLP(LRUDynamics(6, r_min=0.8, r_max=0.95, seed=0), hidden=(16, 8),
                                 seed=0)
    assert torch.equal(again(x0, 25), out)
    out.abs().sum().backward()
    assert dyn.nu_log.grad is not None and model.mlp[0].weight.grad.abs().sum() > 0
