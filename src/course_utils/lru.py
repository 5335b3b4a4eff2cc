"""Linear recurrent units (LRU) and modal dynamics in PyTorch: the diagonal complex linear
recurrence ``x_k = a_k * x_{k-1} + b_k``, computed by a loop and by a parallel associative
scan, its closed form for the autonomous case, the LRU layer, parametrisations of modal
dynamics. The nonlinear baseline, a stacked GRU, is :class:`course_utils.gru.DeepGRU`.

Time is always the second-to-last axis and the hidden (mode) axis the last. Importing this
module imports torch. Reference: A. Orvieto, S. L. Smith, A. Gu, A. Fernando, C. Gulcehre,
R. Pascanu, S. De, "Resurrecting recurrent neural networks for long sequences", ICML 2023.
"""

from __future__ import annotations

import abc
import math

import torch
from torch import nn

from .models import reset_uniform, seeded_generator

__all__ = ["scan_operator", "linear_recurrence_loop", "linear_recurrence_scan",
           "modal_powers", "autonomous_orbit", "LRU", "ModalDynamics", "LRUDynamics",
           "RealImagModalDynamics", "AngleMagModalDynamics", "ModalDynamicsWithMLP"]

TWO_PI = 2 * math.pi


# ---------------------------------------------------------------- the linear recurrence

def scan_operator(e1, e2):
    """The associative operator of the linear recurrence ``x_k = a_k * x_{k-1} + b_k``,
    returning the composed element ``(a, b)``. An element ``(a, b)`` stands for the affine
    map ``x -> a * x + b``; for an earlier element ``e1 = (a1, b1)`` and a later one
    ``e2 = (a2, b2)`` the composition (first e1, then e2) is ``(a2 * a1, a2 * b1 + b2)``.
    Elementwise, with broadcasting, for real or complex tensors. Composition of maps is
    associative, which is what a parallel prefix scan needs. Reference: G. E. Blelloch,
    "Prefix sums and their applications", 1990.
    """
    a1, b1 = e1
    a2, b2 = e2
    return a2 * a1, a2 * b1 + b2


def _prepare(a, b, x0):
    """Check and broadcast the arguments of the recurrence; fold x0 into b_1. Returns a of
    shape (..., 1, H) when it is constant in time, else (..., T, H), and b (..., T, H)."""
    a, b = torch.as_tensor(a), torch.as_tensor(b)
    if b.ndim < 2 or b.shape[-2] < 1:
        raise ValueError(f"b must have shape (..., T, H) with T >= 1; got {tuple(b.shape)}")
    x0 = None if x0 is None else torch.as_tensor(x0)
    dtype = torch.promote_types(a.dtype, b.dtype)
    dtype = dtype if x0 is None else torch.promote_types(dtype, x0.dtype)
    a_t = a if a.ndim >= 2 else a.reshape(1, -1)             # (H,) -> (1, H): constant
    try:
        shape = torch.broadcast_shapes(a_t.shape, b.shape)
        if x0 is not None:
            shape = torch.broadcast_shapes(shape, x0.shape[:-1] + (1,) + x0.shape[-1:])
    except RuntimeError:
        raise ValueError(f"a (..., T, H) or (H,), b (..., T, H) and x0 (..., H) must "
                         f"broadcast; got a {tuple(a.shape)}, b {tuple(b.shape)}, x0 "
                         f"{None if x0 is None else tuple(x0.shape)}") from None
    a = a_t.to(dtype).expand(shape[:-2] + a_t.shape[-2:-1] + shape[-1:])
    b = b.to(dtype).expand(shape)
    if x0 is not None:
        b1 = a[..., :1, :] * x0.to(dtype)[..., None, :] + b[..., :1, :]
        b = torch.cat([b1, b[..., 1:, :]], dim=-2)
    return a, b


def linear_recurrence_loop(a, b, x0=None):
    """The states x_1, ..., x_T, shape ``(..., T, H)``, of the linear recurrence
    ``x_k = a_k * x_{k-1} + b_k`` (elementwise), computed one step after the other: the
    sequential reference for ``linear_recurrence_scan``. ``b`` has shape ``(..., T, H)``;
    ``a`` is broadcastable to it, e.g. ``(H,)`` for a constant diagonal of eigenvalues or
    ``(..., T, H)`` for one per step; real or complex. The result has the broadcast shape
    and the promoted dtype, and autograd differentiates it.

    Keyword arguments

    * ``x0 = None``: the state before the first step, shape ``(..., H)``; zeros if None.
    """
    a, b = _prepare(a, b, x0)
    # unbind once: indexing a[..., k, :] inside the loop would make the backward pass
    # scatter every step's gradient into a full (T, H) tensor, O(T^2) in all
    a_steps, b_steps = a.expand(b.shape).unbind(-2), b.unbind(-2)
    x = torch.zeros_like(b_steps[0])
    states = []
    for a_k, b_k in zip(a_steps, b_steps):
        x = a_k * x + b_k
        states.append(x)
    return torch.stack(states, dim=-2)


def _scan_offsets(a, b):
    """Offsets of the prefix compositions e_1 . e_2 . ... . e_k (the states for x0 = 0) of
    elements (a, b), a (..., T, H) or (..., 1, H) if constant in time, b (..., T, H): the
    odd/even recursion."""
    T = b.shape[-2]
    if T == 1:
        return b
    if a.shape[-2] == 1:                                     # the same a at every step
        a_lo = a_hi = a_fill = a
    else:
        a_lo, a_hi, a_fill = a[..., 0:T - 1:2, :], a[..., 1::2, :], a[..., 2::2, :]
    b_lo, b_hi = b[..., 0:T - 1:2, :], b[..., 1::2, :]       # pairs (e_1, e_2), (e_3, e_4), ...
    odd = _scan_offsets(a_hi * a_lo, a_hi.to(b.dtype) * b_lo + b_hi)   # x_2, x_4, ...
    n_fill = (T - 1) // 2                                    # x_3, x_5, ... from their left
    fill = a_fill.to(b.dtype) * odd[..., :n_fill, :] + b[..., 2::2, :]
    even = torch.cat([b[..., :1, :], fill], dim=-2)          # x_1, x_3, x_5, ...
    if T % 2:
        odd = torch.cat([odd, torch.zeros_like(odd[..., :1, :])], dim=-2)
    x = torch.stack([even, odd], dim=-2)                     # (..., ceil(T/2), 2, H)
    return x.reshape(x.shape[:-3] + (-1, x.shape[-1]))[..., :T, :]


def linear_recurrence_scan(a, b, x0=None):
    """The same states as ``linear_recurrence_loop``, shape ``(..., T, H)``,
    ``x_k = a_k * x_{k-1} + b_k``, by a parallel prefix scan with ``scan_operator`` in
    ceil(log2 T) rounds of elementwise work instead of T sequential steps. The
    work-efficient odd/even recursion (as in ``jax.lax.associative_scan``): compose
    neighbouring pairs ``(e_1, e_2), (e_3, e_4), ...``, scan the half-length sequence
    recursively (which gives x_2, x_4, ...), then fill in
    ``x_{2j+1} = a_{2j+1} * x_{2j} + b_{2j+1}``; any T works. ``x0`` is folded in as
    ``b_1 <- a_1 * x0 + b_1``. Only the offsets of the prefixes are formed (x0 = 0 after the
    folding), and out of place, so autograd differentiates it. When ``a`` is constant in
    time (shape ``(H,)`` or ``(..., 1, H)``, the LRU's case) the multipliers of the rounds
    are its powers a^2, a^4, ..., of shape ``(..., 1, H)``, formed in double precision:
    squaring in complex64 would double the relative rounding error at every round, 2^L eps
    after L rounds. With them, in complex64 the states and their gradients are at least as
    accurate as the loop's. A per-step ``a`` of shape ``(..., T, H)`` is multiplied in its
    own dtype.

    Keyword arguments

    * ``x0 = None``: the state before the first step, shape ``(..., H)``; zeros if None.

    Reference: G. E. Blelloch, "Prefix sums and their applications", 1990; E. Martin,
    C. Cundy, "Parallelizing linear recurrent neural nets over sequence length", ICLR 2018.
    """
    a, b = _prepare(a, b, x0)
    if a.shape[-2] == 1:                  # constant: its powers a^2, a^4, ... in double
        a = a.to(torch.promote_types(a.dtype, torch.float64))
    return _scan_offsets(a, b)


# ---------------------------------------------------------------- the autonomous case

def _complex_dtype(dtype: torch.dtype) -> torch.dtype:
    if dtype.is_complex:
        return dtype
    return torch.complex128 if dtype == torch.float64 else torch.complex64


def modal_powers(lam, n_steps: int, *, include_start: bool = True) -> torch.Tensor:
    """The powers of the eigenvalues ``lam`` (shape ``(H,)``), ``P`` of shape
    ``(n_steps, H)`` with ``P[j] = lam**k`` and k = j (k = 0, ..., n_steps - 1) when
    ``include_start``, else k = j + 1 (k = 1, ..., n_steps), in closed form as
    ``exp(k * log(lam))`` with the complex logarithm, returned in the complex dtype of
    ``lam`` (complex64 for a float32 input, complex128 for float64). The row ``k = 0`` is
    exactly 1. Precision: the rounding error of ``log(lam)`` is multiplied by k, about
    ``k * eps * abs(log(lam))`` relative in ``P[k]``, which in complex64 would be 2e-3 at
    k = 10,000 for phases near pi, far worse than k repeated multiplications (1e-5). The
    logarithm, the products with k and the exponential are therefore computed in complex128
    and rounded once, so ``P`` is the correctly rounded power of the given ``lam`` up to
    1e-16 k relative (1e-12 at k = 10,000). Differentiable in ``lam`` (except at
    ``lam = 0``).

    Keyword arguments

    * ``include_start = True``: start at k = 0 (the first row is 1) or at k = 1.
    """
    lam = torch.as_tensor(lam)
    if lam.ndim != 1:
        raise ValueError(f"lam must have shape (H,); got {tuple(lam.shape)}")
    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1; got {n_steps}")
    dtype = _complex_dtype(lam.dtype)
    wide = lam.to(torch.complex128)
    k = torch.arange(1, n_steps + 1 - int(include_start), dtype=torch.float64,
                     device=lam.device)
    P = torch.exp(k[:, None] * torch.log(wide))
    if include_start:
        P = torch.cat([torch.ones_like(wide)[None], P], dim=0)
    return P.to(dtype)


def autonomous_orbit(lam, x0, n_steps: int, *, include_start: bool = True) -> torch.Tensor:
    """The orbit ``x_k = lam**k * x0``, shape ``(n_steps, H)`` or ``(B, n_steps, H)``, of
    the autonomous modal dynamics ``x_k = lam * x_{k-1}`` (elementwise, eigenvalues ``lam``
    of shape ``(H,)``), for an initial state ``x0`` of shape ``(H,)`` or a batch ``(B, H)``:
    ``modal_powers(lam, n_steps) * x0``, in closed form. With ``include_start = True`` the
    first row is x0 itself (k = 0, ..., n_steps - 1), else ``lam * x0`` (k = 1, ...,
    n_steps, the convention of ``linear_recurrence_loop``). Precision as in
    ``modal_powers``.
    """
    P = modal_powers(lam, n_steps, include_start=include_start)
    x0 = torch.as_tensor(x0)
    if x0.ndim not in (1, 2) or x0.shape[-1] != P.shape[-1]:
        raise ValueError(f"x0 must have shape (H,) or (B, H) with H = {P.shape[-1]}; got "
                         f"{tuple(x0.shape)}")
    x0 = x0.to(torch.promote_types(P.dtype, x0.dtype))
    return P * x0 if x0.ndim == 1 else P[None] * x0[:, None, :]


# ---------------------------------------------------------------- helpers

def _check_ring(r_min, r_max, max_phase, min_phase=0.0):
    if not 0 <= r_min < r_max <= 1:
        raise ValueError(f"need 0 <= r_min < r_max <= 1; got r_min={r_min}, r_max={r_max}")
    if not 0 <= min_phase < max_phase <= TWO_PI:
        raise ValueError(f"need 0 <= min_phase < max_phase <= 2 pi; got min_phase="
                         f"{min_phase}, max_phase={max_phase}")


def _ring(H, r_min, r_max, min_phase, max_phase, g):
    """Checked ring parameters, then moduli uniform in area on the ring r_min <= r <= r_max
    and phases uniform in [min_phase, max_phase] (float64, drawn from the generator g)."""
    _check_ring(r_min, r_max, max_phase, min_phase)
    u1 = torch.rand(H, generator=g, dtype=torch.float64)
    u2 = torch.rand(H, generator=g, dtype=torch.float64)
    r2 = (u1 * (r_max ** 2 - r_min ** 2) + r_min ** 2).clamp(1e-300, 1 - 1e-16)
    return r2.sqrt(), min_phase + (max_phase - min_phase) * u2


def _lru_logs(r, phase):
    """(nu_log, theta_log) of the LRU parametrisation for moduli r and phases (float64)."""
    return torch.log(-torch.log(r)), torch.log(phase.clamp_min(1e-300))


def _lru_lambda(nu_log, theta_log, max_log_modulus=None):
    """lambda = exp(-exp(nu_log) + i exp(theta_log)), the log-modulus optionally clamped."""
    log_mod = -torch.exp(nu_log)
    if max_log_modulus is not None:
        log_mod = log_mod.clamp(max=max_log_modulus)
    return torch.exp(torch.complex(log_mod, torch.exp(theta_log)))


def _nu_theta_logs(lam, H):
    """(nu_log, theta_log) in float64 with lam = exp(-exp(nu_log) + i exp(theta_log))."""
    lam = torch.as_tensor(lam)
    if tuple(lam.shape) != (H,):
        raise ValueError(f"lam must have shape (H,) = ({H},); got {tuple(lam.shape)}")
    lam = lam.detach().to(torch.complex128).cpu()
    mod = lam.abs()
    bad = (mod >= 1) | (mod == 0)
    if bad.any():
        raise ValueError(f"lam must lie strictly inside the unit disc and be non-zero, "
                         f"0 < abs(lam) < 1; got moduli {mod[bad].tolist()} at indices "
                         f"{torch.nonzero(bad).flatten().tolist()}")
    theta = lam.angle()                                        # (-pi, pi]
    theta = torch.where(theta <= 0, theta + TWO_PI, theta)     # (0, 2 pi]
    return torch.log(-torch.log(mod)), torch.log(theta), mod


def _clamp_straight_through(m, lo=1e-8, hi=1.0):
    """The value of m.clamp(lo, hi) with the gradient of the identity."""
    return m + (m.clamp(lo, hi) - m).detach()


def _polar(m, angle):
    return torch.complex(m * torch.cos(angle), m * torch.sin(angle))


# ---------------------------------------------------------------- the LRU layer

class LRU(nn.Module):
    """The linear recurrent unit: H = ``d_hidden`` complex modes driven by the input
    ``u_k`` (``d_in`` channels) and read out linearly (``d_out`` channels)::

        x_k = lambda * x_{k-1} + gamma * (B u_k),    y_k = Re(C x_k) + D u_k,

    with ``*`` elementwise, the eigenvalues
    ``lambda = exp(-exp(nu_log) + i exp(theta_log))``, strictly inside the unit disc for any
    real parameters, and the input normalisation ``gamma = exp(gamma_log)``. Parameters
    (real, in ``dtype``, float32 by default): ``nu_log, theta_log, gamma_log (H,)``,
    ``B_re, B_im (H, d_in)``, ``C_re, C_im (d_out, H)``, ``D (d_out, d_in)``; the states are
    complex64 (complex128 for float64).

    Initialisation (seeded by ``seed``, drawn in float64 so that float32 and float64 models
    with the same seed agree): the eigenvalues uniformly on the ring
    ``r_min <= abs(lambda) <= r_max`` (uniform in area, so ``abs(lambda)**2`` is uniform in
    ``[r_min**2, r_max**2]``; by default 0 and 1) with phases uniform in ``[0, max_phase]``
    (radians, 2 pi by default); ``gamma = sqrt(1 - abs(lambda)**2)``, so that white noise of
    unit variance gives states of unit variance; the real and imaginary parts of B normal
    with variance ``1 / (2 d_in)`` (a complex Glorot scale), of C normal with variance
    ``1 / H``, and D normal with variance ``1 / d_in``.

    ``forward(u, x0=None, *, method="scan", return_states=False)`` takes real inputs of
    shape ``(T, d_in)`` or ``(B, T, d_in)`` and an optional complex initial state ``(H,)``
    or ``(B, H)``, and returns the outputs ``y`` of shape ``(..., T, d_out)``, and with
    ``return_states=True`` the pair ``(y, x)`` with the complex states ``(..., T, H)``.
    ``method`` is ``"scan"`` (``linear_recurrence_scan``) or ``"loop"``
    (``linear_recurrence_loop``).

    Reference: A. Orvieto et al., "Resurrecting recurrent neural networks for long
    sequences", ICML 2023.
    """

    def __init__(self, d_in: int, d_hidden: int, d_out: int, *, r_min: float = 0.0,
                 r_max: float = 1.0, max_phase: float = TWO_PI, seed: int | None = None,
                 dtype: torch.dtype = torch.float32):
        super().__init__()
        if min(d_in, d_hidden, d_out) < 1:
            raise ValueError(f"d_in, d_hidden and d_out must be >= 1; got {d_in}, {d_hidden}, "
                             f"{d_out}")
        self.d_in, self.d_hidden, self.d_out = d_in, d_hidden, d_out
        H, g = d_hidden, seeded_generator(seed)
        r, phase = _ring(H, r_min, r_max, 0.0, max_phase, g)
        nu_log, theta_log = _lru_logs(r, phase)

        def normal(shape, var):
            return torch.randn(shape, generator=g, dtype=torch.float64) * math.sqrt(var)

        def param(t):
            return nn.Parameter(t.to(dtype))

        self.nu_log = param(nu_log)
        self.theta_log = param(theta_log)
        self.gamma_log = param(0.5 * torch.log(-torch.expm1(2 * torch.log(r))))
        self.B_re = param(normal((H, d_in), 1 / (2 * d_in)))
        self.B_im = param(normal((H, d_in), 1 / (2 * d_in)))
        self.C_re = param(normal((d_out, H), 1 / H))
        self.C_im = param(normal((d_out, H), 1 / H))
        self.D = param(normal((d_out, d_in), 1 / d_in))

    def _lambda(self) -> torch.Tensor:
        return _lru_lambda(self.nu_log, self.theta_log)

    @property
    def eigenvalues(self) -> torch.Tensor:
        """The eigenvalues lambda, complex ``(H,)``, detached from the graph."""
        return self._lambda().detach()

    def set_eigenvalues(self, lam, *, renormalise: bool = True) -> None:
        """Set ``nu_log`` and ``theta_log`` so that ``eigenvalues`` returns ``lam``
        (complex, shape ``(H,)``, ``0 < abs(lam) < 1``; computed in float64, then rounded to
        the parameters' dtype). Phases are stored in (0, 2 pi]: a negative imaginary part
        gives a phase above pi, and a positive real eigenvalue (phase 0) is stored with
        phase 2 pi, so that ``theta_log`` stays finite. With ``renormalise = True`` also
        ``gamma = sqrt(1 - abs(lam)**2)``. Raises ValueError for another shape or for moduli
        outside (0, 1), which this parametrisation cannot represent.
        """
        nu_log, theta_log, mod = _nu_theta_logs(lam, self.d_hidden)
        with torch.no_grad():
            self.nu_log.copy_(nu_log)
            self.theta_log.copy_(theta_log)
            if renormalise:
                self.gamma_log.copy_(0.5 * torch.log1p(-mod ** 2))

    def forward(self, u: torch.Tensor, x0: torch.Tensor | None = None, *,
                method: str = "scan", return_states: bool = False):
        """Return the outputs ``y`` ``(..., T, d_out)`` for the real inputs ``u``, or with
        ``return_states=True`` the pair ``(y, x)`` with the complex states ``(..., T, H)``;
        ``x0`` the optional initial state, ``method`` ``"scan"`` or ``"loop"`` (see the
        class)."""
        if method not in ("scan", "loop"):
            raise ValueError(f'method must be "scan" or "loop"; got {method!r}')
        u = torch.as_tensor(u)
        if u.ndim not in (2, 3) or u.shape[-1] != self.d_in or u.shape[-2] < 1:
            raise ValueError(f"u must have shape (T, d_in) or (B, T, d_in) with d_in = "
                             f"{self.d_in} and T >= 1; got {tuple(u.shape)}")
        if u.is_complex():
            raise ValueError(f"u must be real; got dtype {u.dtype}")
        u = u.to(self.D.dtype)
        lam = self._lambda()
        if x0 is not None:
            x0 = torch.as_tensor(x0)
            ok = x0.ndim == 1 or (u.ndim == 3 and x0.ndim == 2 and x0.shape[0] in (1, u.shape[0]))
            if not ok or x0.shape[-1] != self.d_hidden:
                raise ValueError(f"x0 must have shape (H,) or (B, H) with H = {self.d_hidden} "
                                 f"and B = the batch of u; got x0 {tuple(x0.shape)} for u "
                                 f"{tuple(u.shape)}")
            x0 = x0.to(lam.dtype)
        Bu = torch.complex(u @ self.B_re.T, u @ self.B_im.T)            # (..., T, H)
        b = torch.exp(self.gamma_log) * Bu
        recurrence = linear_recurrence_scan if method == "scan" else linear_recurrence_loop
        x = recurrence(lam, b, x0)
        y = x.real @ self.C_re.T - x.imag @ self.C_im.T + u @ self.D.T
        return (y, x) if return_states else y

    def extra_repr(self) -> str:
        return f"d_in={self.d_in}, d_hidden={self.d_hidden}, d_out={self.d_out}"


# ---------------------------------------------------------------- modal dynamics

class ModalDynamics(nn.Module, metaclass=abc.ABCMeta):
    """Autonomous modal dynamics ``x_k = lambda * x_{k-1}`` (abstract) of H = ``d_hidden``
    complex modes (elementwise), parametrised by a subclass through ``eigenvalues()``, a
    method that returns the differentiable complex tensor lambda ``(H,)``, and
    ``set_eigenvalues(lam)``. ``forward(x0, n_steps)`` returns the orbit
    ``autonomous_orbit(eigenvalues(), x0, n_steps)`` for ``x0`` of shape ``(H,)`` or
    ``(B, H)``, of shape ``(n_steps, H)`` or ``(B, n_steps, H)``; its first row is x0 itself
    when ``include_start`` (else ``lambda * x0``).
    """

    def __init__(self, d_hidden: int, *, include_start: bool = True):
        super().__init__()
        if d_hidden < 1:
            raise ValueError(f"d_hidden must be >= 1; got {d_hidden}")
        self.d_hidden, self.include_start = d_hidden, include_start

    @abc.abstractmethod
    def eigenvalues(self) -> torch.Tensor:
        """The eigenvalues lambda, complex ``(H,)``, differentiable in the parameters."""

    @abc.abstractmethod
    def set_eigenvalues(self, lam) -> None:
        """Set the parameters so that ``eigenvalues()`` returns ``lam`` (complex ``(H,)``)."""

    def _check_lam(self, lam) -> torch.Tensor:
        lam = torch.as_tensor(lam)
        if tuple(lam.shape) != (self.d_hidden,):
            raise ValueError(f"lam must have shape (H,) = ({self.d_hidden},); got "
                             f"{tuple(lam.shape)}")
        return lam.detach().to(torch.complex128).cpu()

    def forward(self, x0: torch.Tensor, n_steps: int) -> torch.Tensor:
        """The orbit ``x`` from ``x0`` over ``n_steps`` steps, shape ``(n_steps, H)`` or
        ``(B, n_steps, H)``."""
        lam = self.eigenvalues()
        x0 = torch.as_tensor(x0)
        if x0.ndim not in (1, 2) or x0.shape[-1] != self.d_hidden:
            raise ValueError(f"x0 must have shape (H,) or (B, H) with H = {self.d_hidden}; "
                             f"got {tuple(x0.shape)}")
        return autonomous_orbit(lam, x0.to(lam.dtype), n_steps,
                                include_start=self.include_start)

    def extra_repr(self) -> str:
        return f"d_hidden={self.d_hidden}, include_start={self.include_start}"


class LRUDynamics(ModalDynamics):
    """Modal dynamics with the LRU's parametrisation ``lambda = exp(-exp(nu_log) + i
    exp(theta_log))`` (parameters ``nu_log, theta_log (H,)``), initialised on the ring
    ``r_min <= abs(lambda) <= r_max``, uniform in area, with phases uniform in ``[0,
    max_phase]`` as in ``LRU``. With ``clip_eigs = True`` the log-modulus
    ``-exp(nu_log)`` is clamped to at most -1e-5, so ``abs(lambda) <= exp(-1e-5)`` even
    where float32 would round it to 1 (the clamp stops the gradient of a clamped mode).
    ``set_eigenvalues(lam)`` stores phases in (0, 2 pi] and raises ValueError unless
    ``0 < abs(lam) < 1``, as ``LRU.set_eigenvalues``. See ``ModalDynamics`` for
    ``forward`` and ``include_start``. Defaults: ``r_min = 0``, ``r_max = 1``,
    ``max_phase = 2 pi``; the initial parameters are drawn from ``seed``, in ``dtype``
    (float32 by default).
    """

    def __init__(self, d_hidden: int, *, r_min: float = 0.0, r_max: float = 1.0,
                 max_phase: float = TWO_PI, clip_eigs: bool = False,
                 include_start: bool = True, seed: int | None = None,
                 dtype: torch.dtype = torch.float32):
        super().__init__(d_hidden, include_start=include_start)
        self.clip_eigs = clip_eigs
        nu_log, theta_log = _lru_logs(*_ring(d_hidden, r_min, r_max, 0.0, max_phase,
                                             seeded_generator(seed)))
        self.nu_log = nn.Parameter(nu_log.to(dtype))
        self.theta_log = nn.Parameter(theta_log.to(dtype))

    def eigenvalues(self) -> torch.Tensor:
        return _lru_lambda(self.nu_log, self.theta_log, -1e-5 if self.clip_eigs else None)

    def set_eigenvalues(self, lam) -> None:
        nu_log, theta_log, _ = _nu_theta_logs(lam, self.d_hidden)
        with torch.no_grad():
            self.nu_log.copy_(nu_log)
            self.theta_log.copy_(theta_log)


class RealImagModalDynamics(ModalDynamics):
    """Modal dynamics with the eigenvalues stored directly as real and imaginary parts,
    parameter ``real_imag (H, 2)``, ``lambda = real_imag[:, 0] + i real_imag[:, 1]``,
    initialised on the ring ``r_min <= abs(lambda) <= r_max`` (uniform in area) with phases
    uniform in ``[min_phase, max_phase]``. With ``clip = True`` the modulus is clamped to
    ``[1e-8, 1]`` in the forward pass, keeping the angle, with a straight-through
    gradient (the value of the clamp, the gradient of the identity), so that the optimiser
    can move a mode that left the unit disc back inside. ``set_eigenvalues(lam)`` stores
    any ``lam`` of shape ``(H,)``, also outside the disc (the clamp then applies). See
    ``ModalDynamics`` for ``forward`` and ``include_start``. Defaults: ``r_min = 0``,
    ``r_max = 1``, ``min_phase = 0``, ``max_phase = 2 pi``; the initial parameters are
    drawn from ``seed``, in ``dtype`` (float32 by default).
    """

    def __init__(self, d_hidden: int, *, r_min: float = 0.0, r_max: float = 1.0,
                 min_phase: float = 0.0, max_phase: float = TWO_PI, clip: bool = True,
                 include_start: bool = True, seed: int | None = None,
                 dtype: torch.dtype = torch.float32):
        super().__init__(d_hidden, include_start=include_start)
        self.clip = clip
        r, phase = _ring(d_hidden, r_min, r_max, min_phase, max_phase, seeded_generator(seed))
        self.real_imag = nn.Parameter(torch.stack([r * torch.cos(phase), r * torch.sin(phase)],
                                                  dim=-1).to(dtype))

    def eigenvalues(self) -> torch.Tensor:
        re, im = self.real_imag[:, 0], self.real_imag[:, 1]
        if not self.clip:
            return torch.complex(re, im)
        return _polar(_clamp_straight_through(torch.hypot(re, im)), torch.atan2(im, re))

    def set_eigenvalues(self, lam) -> None:
        lam = self._check_lam(lam)
        with torch.no_grad():
            self.real_imag.copy_(torch.stack([lam.real, lam.imag], dim=-1))


class AngleMagModalDynamics(ModalDynamics):
    """Modal dynamics with the eigenvalues stored as modulus and angle, parameters
    ``magnitudes (H,)`` and ``angles (H,)`` (radians),
    ``lambda = magnitudes * exp(i angles)``, initialised as ``RealImagModalDynamics`` (the
    same keyword arguments and defaults). With ``clip = True`` the modulus is clamped to
    ``[1e-8, 1]`` in the forward pass with a straight-through gradient.
    ``set_eigenvalues(lam)`` stores ``abs(lam)`` and the angle in (-pi, pi] of any ``lam``
    of shape ``(H,)``. See ``ModalDynamics`` for ``forward``.
    """

    def __init__(self, d_hidden: int, *, r_min: float = 0.0, r_max: float = 1.0,
                 min_phase: float = 0.0, max_phase: float = TWO_PI, clip: bool = True,
                 include_start: bool = True, seed: int | None = None,
                 dtype: torch.dtype = torch.float32):
        super().__init__(d_hidden, include_start=include_start)
        self.clip = clip
        r, phase = _ring(d_hidden, r_min, r_max, min_phase, max_phase, seeded_generator(seed))
        self.angles = nn.Parameter(phase.to(dtype))
        self.magnitudes = nn.Parameter(r.to(dtype))

    def eigenvalues(self) -> torch.Tensor:
        m = _clamp_straight_through(self.magnitudes) if self.clip else self.magnitudes
        return _polar(m, self.angles)

    def set_eigenvalues(self, lam) -> None:
        lam = self._check_lam(lam)
        with torch.no_grad():
            self.magnitudes.copy_(lam.abs())
            self.angles.copy_(lam.angle())


class ModalDynamicsWithMLP(nn.Module):
    """Linear modal dynamics modulated by a small network of the mode energies: the orbit
    ``x = dynamics(x0, n_steps)`` of a ``ModalDynamics`` (complex, ``(..., n_steps, H)``),
    then ``x_hat = MLP(abs(x)**2)`` with 2H real outputs split into ``x_hat_re, x_hat_im``,
    and the result ``x * (x_hat_re + i x_hat_im)``, of the same shape as x. The MLP
    (attribute ``mlp``) has ``nn.Linear`` layers of the widths ``hidden`` with GELU between
    them (``(64, 64)`` by default), PyTorch's default initialisation (uniform in
    +-1/sqrt(fan_in)) drawn from ``seed``, in the dtype of the dynamics' parameters.
    ``forward(x0, n_steps)`` as for ``ModalDynamics``.
    """

    def __init__(self, dynamics: ModalDynamics, hidden=(64, 64), *, seed: int | None = None):
        super().__init__()
        if not isinstance(dynamics, ModalDynamics):
            raise ValueError(f"dynamics must be a ModalDynamics; got {type(dynamics).__name__}")
        hidden = tuple(int(h) for h in hidden)
        if any(h < 1 for h in hidden):
            raise ValueError(f"hidden widths must be >= 1; got {hidden}")
        self.dynamics = dynamics
        H = dynamics.d_hidden
        dtype = next(dynamics.parameters()).dtype
        widths = (H,) + hidden + (2 * H,)
        layers = []
        for n_in, n_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Linear(n_in, n_out, dtype=dtype), nn.GELU()]
        self.mlp = nn.Sequential(*layers[:-1])
        reset_uniform(self.mlp, seeded_generator(seed))

    def forward(self, x0: torch.Tensor, n_steps: int) -> torch.Tensor:
        """The modulated orbit ``x`` from ``x0`` over ``n_steps`` steps, shape
        ``(n_steps, H)`` or ``(B, n_steps, H)``."""
        x = self.dynamics(x0, n_steps)
        x_hat = self.mlp(x.abs() ** 2)
        re, im = x_hat.chunk(2, dim=-1)
        return x * torch.complex(re, im)
