"""Linearization and fixed points of recurrent networks, after Sussillo & Barak (2013).

* :class:`Linearization` takes one step F(h, u) of a single-layer ``torch.nn.RNN`` (tanh
  or ReLU) or of a :class:`course_utils.models.ShallowPLRNN`, its analytic Jacobians,
  the first-order (affine) prediction around a point and the eigendecomposition of J_h;
* :func:`find_fixed_points` finds fixed points numerically (minimise q(h) = 1/2
  ``||F(h, u*) - h||^2``, then polish with Newton) and :func:`plrnn_fixed_points` finds
  those of a shallow PLRNN exactly, one linear region at a time;
* :func:`classify_fixed_point` names a fixed point of a map by its eigenvalues, and
  :class:`FixedPoints` holds the points found;
* :func:`rnn_trajectories` and :func:`sample_states` supply initial states.

Importing this module imports torch.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .models import ShallowPLRNN

__all__ = ["Linearization", "classify_fixed_point", "FixedPoints", "find_fixed_points",
           "plrnn_fixed_points", "rnn_trajectories", "sample_states"]

_BOUNDARY_TOL = 1e-9     # |W2 z + h2| below this counts as on a region boundary
_REFINE_ROUNDS = 10      # pattern-refinement rounds of plrnn_fixed_points
_DEDUP_TOL = 1e-8        # exact PLRNN fixed points closer than this are one point


def _check_rnn(model, what: str = "model") -> None:
    """Raise a ValueError unless ``model`` is a single-layer, unidirectional nn.RNN."""
    if not isinstance(model, nn.RNN):
        raise ValueError(f"{what} must be a single-layer torch.nn.RNN (tanh or relu) or a "
                         f"course_utils.models.ShallowPLRNN; got {type(model).__name__}")
    if model.num_layers != 1:
        raise ValueError(f"{what} must have one layer; got num_layers={model.num_layers}: "
                         "linearise one layer at a time (a new nn.RNN with its weights)")
    if model.bidirectional:
        raise ValueError(f"{what} must be unidirectional; got bidirectional=True (a "
                         "backward pass over the sequence is not a map of the state)")
    if model.nonlinearity not in ("tanh", "relu"):  # pragma: no cover - nn.RNN refuses others
        raise ValueError(f"{what} must use tanh or relu; got {model.nonlinearity!r}")


class Linearization:
    """One step h_next = F(h, u) of a recurrent network ``model`` and its linearization at a
    point (u, h). For a single-layer ``torch.nn.RNN`` (``nonlinearity`` "tanh" or "relu",
    with or without bias, ``batch_first`` either way) with
    a = W_ih u + b_ih + W_hh h + b_hh::

        F(h, u) = φ(a),    J_h = diag(φ'(a)) W_hh,    J_u = diag(φ'(a)) W_ih,

    with φ'(a) = 1 - tanh(a)^2, or 1[a > 0] for ReLU (0 at a = 0, as autograd). For a
    ``ShallowPLRNN`` F(z) = A * z + W1 ReLU(W2 z + h2) + h1 has no input (I = 0: pass
    ``u=None`` or an empty tensor), J_h = ``model.jacobian(z)`` and J_u is ``(M, 0)``.

    The first-order prediction of the next state for perturbations (du, dh) of the point
    is::

        F(h + dh, u + du) ≈ F(h, u) + J_h dh + J_u du,

    with an error of O(``||dh||^2 + ||du||^2``) for tanh, and exact for ReLU as long as
    no pre-activation changes sign. ``u (I,)`` and ``h (H,)`` are one point each, moved to
    the model's device; results are detached tensors in the model's dtype (float32 or
    float64) on that device (attribute ``device``). The weights are read from
    ``model`` at every call, so a model trained further is linearised as it is then.

    Attributes: ``model``, ``kind`` ("rnn" or "plrnn"), ``nonlinearity`` ("tanh" or
    "relu"), ``hidden_size`` H, ``input_size`` I, ``dtype``. Calling ``lin(u, h, du, dh)``
    is ``lin.predict(u, h, du, dh)``.

    Reference: D. Sussillo, O. Barak, "Opening the black box: low-dimensional dynamics in
    high-dimensional recurrent neural networks", Neural Computation 25(3), 626-649 (2013).
    """

    def __init__(self, model):
        if isinstance(model, ShallowPLRNN):
            self.kind, self.nonlinearity = "plrnn", "relu"
            self.hidden_size, self.input_size = model.M, 0
            self.dtype = model.A.dtype
        else:
            _check_rnn(model)
            self.kind, self.nonlinearity = "rnn", model.nonlinearity
            self.hidden_size, self.input_size = model.hidden_size, model.input_size
            self.dtype = model.weight_hh_l0.dtype
        self.model = model

    @property
    def device(self) -> torch.device:
        """The device of the model's parameters, where every result is computed."""
        return (self.model.A if self.kind == "plrnn" else self.model.weight_hh_l0).device

    def __repr__(self) -> str:
        dtype = str(self.dtype).replace("torch.", "")
        return (f"Linearization({type(self.model).__name__}, {self.nonlinearity}, "
                f"H={self.hidden_size}, I={self.input_size}, {dtype})")

    # ------------------------------------------------------------------ batched internals

    def _weights(self):
        m = self.model
        if self.kind == "plrnn":
            return m.A.detach(), m.W1.detach(), m.W2.detach(), m.h1.detach(), m.h2.detach()
        b = 0
        if m.bias:
            b = m.bias_ih_l0.detach() + m.bias_hh_l0.detach()
        return m.weight_ih_l0.detach(), m.weight_hh_l0.detach(), b

    def _pre(self, h, u):
        """Pre-activations of a batch of states h (B, H) at one input u (I,)."""
        if self.kind == "plrnn":
            _, _, W2, _, h2 = self._weights()
            return h @ W2.T + h2
        W_ih, W_hh, b = self._weights()
        return h @ W_hh.T + (W_ih @ u + b)

    def _f(self, h, u):
        """The step F(h, u) for a batch of states h (B, H); differentiable in h."""
        if self.kind == "plrnn":
            return self.model(h)
        pre = self._pre(h, u)
        return torch.tanh(pre) if self.nonlinearity == "tanh" else torch.relu(pre)

    def _jacobians(self, h, u):
        """(J_h (B, H, H), J_u (B, H, I)) at a batch of states h (B, H)."""
        with torch.no_grad():
            if self.kind == "plrnn":
                J_h = self.model.jacobian(h).detach()
                return J_h, h.new_zeros(h.shape[0], self.hidden_size, 0)
            pre = self._pre(h, u)
            if self.nonlinearity == "tanh":
                slope = 1 - torch.tanh(pre) ** 2
            else:
                slope = (pre > 0).to(h.dtype)
            W_ih, W_hh, _ = self._weights()
            return slope[:, :, None] * W_hh, slope[:, :, None] * W_ih

    # ------------------------------------------------------------------ input checks

    def _input(self, u, name: str = "u"):
        """One input (I,) in the model's dtype; None means zeros."""
        I = self.input_size
        if u is None:
            return torch.zeros(I, dtype=self.dtype, device=self.device)
        u = torch.as_tensor(u.detach() if isinstance(u, torch.Tensor) else u, dtype=self.dtype,
                            device=self.device)
        if I == 0 and u.numel() == 0:
            return u.reshape(0)
        if u.ndim != 1:
            hint = ": pass one point, not a batch" if u.ndim > 1 else ""
            raise ValueError(f"{name} must be one input of shape (I,) = ({I},); got "
                             f"{tuple(u.shape)}{hint}")
        if u.shape[0] != I:
            extra = " (the ShallowPLRNN has no input: pass None)" if self.kind == "plrnn" else ""
            raise ValueError(f"{name} must have I = {I} entries, the model's input size; got "
                             f"shape {tuple(u.shape)}{extra}")
        return u

    def _state(self, h, name: str = "h", batch: bool = False):
        """One state (H,), or with ``batch`` a state or a batch of states (B, H)."""
        H = self.hidden_size
        h = torch.as_tensor(h.detach() if isinstance(h, torch.Tensor) else h, dtype=self.dtype,
                            device=self.device)
        if batch:
            if h.ndim not in (1, 2) or h.shape[-1] != H:
                raise ValueError(f"{name} must have shape (H,) or (B, H) with H = {H}; got "
                                 f"{tuple(h.shape)}")
            return h
        if h.ndim != 1:
            hint = ": pass one point, not a batch" if h.ndim > 1 else ""
            raise ValueError(f"{name} must be one state of shape (H,) = ({H},); got "
                             f"{tuple(h.shape)}{hint}")
        if h.shape[0] != H:
            raise ValueError(f"{name} must have H = {H} entries, the model's state size; got "
                             f"shape {tuple(h.shape)}")
        return h

    # ------------------------------------------------------------------ public methods

    def step(self, u, h) -> torch.Tensor:
        """One step h_next = F(h, u), shape ``(H,)``, from the state ``h (H,)`` with the
        input ``u (I,)``.
        """
        u, h = self._input(u), self._state(h)
        with torch.no_grad():
            return self._f(h[None], u)[0]

    def jacobian(self, u, h):
        """The analytic Jacobians ``(J_h, J_u)``, J_h = ∂F/∂h of shape ``(H, H)`` and
        J_u = ∂F/∂u of shape ``(H, I)``, of one step at the state ``h (H,)`` before the step
        and the input ``u (I,)``.
        """
        u, h = self._input(u), self._state(h)
        J_h, J_u = self._jacobians(h[None], u)
        return J_h[0], J_u[0]

    def predict(self, u, h, du=None, dh=None) -> torch.Tensor:
        """The first-order (affine) prediction of the next state, shape ``(B, H)`` or
        ``(H,)``: F(h, u) + J_h dh_b + J_u du, for every row dh_b of a batch of state
        perturbations ``dh (B, H)`` (or one, ``(H,)``, which returns ``(H,)``) and one input
        perturbation ``du (I,)``; ``None`` means zero.
        """
        u, h = self._input(u), self._state(h)
        du = self._input(du, "du")
        if dh is None:
            dh = torch.zeros(self.hidden_size, dtype=self.dtype, device=self.device)
        else:
            dh = self._state(dh, "dh", batch=True)
        with torch.no_grad():
            F = self._f(h[None], u)[0]
            J_h, J_u = (J[0] for J in self._jacobians(h[None], u))
            return F + dh @ J_h.T + J_u @ du

    __call__ = predict

    def eigendecomposition(self, u, h):
        """Return ``(real, imag, vectors)``: the eigenvalues λ_k = ``real[k] + i imag[k]``
        (shapes ``(H,)``) and eigenvectors (the columns of the complex ``vectors (H, H)``,
        J_h v_k = λ_k v_k) of J_h at (u, h), from ``torch.linalg.eig``, sorted by modulus in
        descending order.
        """
        J_h, _ = self.jacobian(u, h)
        values, vectors = torch.linalg.eig(J_h)
        order = torch.argsort(values.abs(), descending=True, stable=True)
        values = values[order]
        return values.real.clone(), values.imag.clone(), vectors[:, order]


# ---------------------------------------------------------------------------------------
# Classification and the container of fixed points
# ---------------------------------------------------------------------------------------

def _labels(eigenvalues: np.ndarray, tol: float) -> list[str]:
    """Labels for a batch of eigenvalue sets, shape (K, H), complex."""
    moduli = np.abs(eigenvalues)
    below, above = moduli < 1 - tol, moduli > 1 + tol
    saddle = below.any(-1) & above.any(-1)
    stable, unstable = below.all(-1), above.all(-1)
    oscillatory = (np.abs(np.imag(eigenvalues)) > tol).any(-1)
    kind = np.where(saddle, "saddle", np.where(stable, "stable",
                                               np.where(unstable, "unstable", "marginal")))
    return [str(k) + (" (oscillatory)" if o else "") for k, o in zip(kind, oscillatory)]


def _as_complex(values) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    return np.asarray(values).astype(np.complex128)


def classify_fixed_point(eigenvalues, *, tol: float = 1e-6) -> str:
    """The type of a fixed point of a map (discrete time), a label, from the eigenvalues λ_k
    of its Jacobian (a complex or real tensor, array or list of shape ``(H,)``), by their
    moduli compared with 1:

    * "stable" if every ``abs(λ_k) < 1 - tol`` (perturbations shrink in every direction);
    * "unstable" if every ``abs(λ_k) > 1 + tol``;
    * "saddle" if some ``abs(λ_k) < 1 - tol`` and some ``abs(λ_k) > 1 + tol``;
    * "marginal" otherwise, i.e. when some modulus lies within ``tol`` of 1 and the point
      is not a saddle: the linearization alone does not decide stability there (a point
      with some ``abs(λ_k) > 1 + tol`` and one on the unit circle is unstable all the
      same, but it is reported as marginal too).

    " (oscillatory)" is appended when some eigenvalue has ``abs(imag) > tol`` (rotation
    around the point). A negative real eigenvalue flips the sign of a perturbation at every
    step but is not oscillatory in this sense. Note that for a flow the rule would compare
    the real parts with 0 instead.

    Keyword arguments

    * ``tol = 1e-6``: how close to the unit circle a modulus counts as 1, and how large an
      imaginary part counts as non-zero.

    Reference: S. Strogatz, "Nonlinear Dynamics and Chaos", 2nd ed. (2015), chapter 10
    (fixed points of maps).
    """
    ev = _as_complex(eigenvalues)
    if ev.ndim != 1 or ev.size == 0:
        raise ValueError(f"eigenvalues must be the H eigenvalues of one fixed point, shape "
                         f"(H,) with H >= 1; got shape {ev.shape}")
    if not np.all(np.isfinite(ev)):
        raise ValueError(f"eigenvalues contain non-finite values: {ev}")
    if tol < 0:
        raise ValueError(f"tol must be >= 0; got {tol}")
    return _labels(ev[None], tol)[0]


@dataclass(eq=False, repr=False)
class FixedPoints:
    """The fixed points h* = F(h*, u*) found by :func:`find_fixed_points` or
    :func:`plrnn_fixed_points`, K of them in H dimensions, all float64:

    * ``points (K, H)``: the fixed points;
    * ``residuals (K,)``: ``||F(h*) - h*||``, computed with the model's step in float64;
    * ``eigenvalues (K, H)``: complex eigenvalues of J_h at each point, sorted by modulus
      in descending order;
    * ``labels``: a list of K strings from :func:`classify_fixed_point`;
    * ``counts (K,)``: for :func:`find_fixed_points` the number of initial states that
      converged to the point; for :func:`plrnn_fixed_points` the number of linear regions
      whose solution it is (1 unless it lies on a region boundary);
    * ``patterns (K, L)`` (bool, or None): for a PLRNN the ReLU pattern 1[W2 z + h2 > 0]
      of the region each point was solved in.

    ``len(fps)`` is K; ``fps.summary()`` (also its ``repr``) is a table of index, residual,
    largest modulus, count and label; ``fps.to(device)`` moves every tensor.
    """

    points: torch.Tensor
    residuals: torch.Tensor
    eigenvalues: torch.Tensor
    labels: list
    counts: torch.Tensor
    patterns: torch.Tensor | None = None

    def __post_init__(self):
        K = self.points.shape[0]
        sizes = {"residuals": self.residuals.shape[0], "eigenvalues": self.eigenvalues.shape[0],
                 "labels": len(self.labels), "counts": self.counts.shape[0]}
        if self.patterns is not None:
            sizes["patterns"] = self.patterns.shape[0]
        wrong = {k: v for k, v in sizes.items() if v != K}
        if self.points.ndim != 2 or wrong:
            raise ValueError(f"points must have shape (K, H) and every other field K rows; got "
                             f"points {tuple(self.points.shape)} and {wrong}")

    def __len__(self) -> int:
        return self.points.shape[0]

    def to(self, device) -> "FixedPoints":
        """The same fixed points, a new :class:`FixedPoints`, with every tensor on
        ``device`` (e.g. ``"cpu"`` after a search on a GPU, for NumPy and plotting)."""
        return FixedPoints(self.points.to(device), self.residuals.to(device),
                           self.eigenvalues.to(device), list(self.labels),
                           self.counts.to(device),
                           None if self.patterns is None else self.patterns.to(device))

    def summary(self) -> str:
        """A table as a string, one line per fixed point (index, residual, max modulus,
        count, label)."""
        K, H = self.points.shape
        if K == 0:
            return f"FixedPoints: none found (K = 0, H = {H})"
        lines = [f"FixedPoints: {K} fixed point{'s' * (K != 1)} in H = {H} dimensions",
                 f"{'#':>4}  {'residual':>9}  {'max |λ|':>8}  {'count':>5}  label"]
        moduli = self.eigenvalues.abs().amax(dim=1) if H else torch.zeros(K)
        for k in range(K):
            lines.append(f"{k:>4}  {self.residuals[k].item():9.1e}  {moduli[k].item():8.4f}  "
                         f"{int(self.counts[k]):>5}  {self.labels[k]}")
        return "\n".join(lines)

    __repr__ = summary


# ---------------------------------------------------------------------------------------
# Numerical fixed points (Sussillo & Barak)
# ---------------------------------------------------------------------------------------

def _merge(points: torch.Tensor, scores: torch.Tensor, merge_tol: float):
    """Greedy merging, best (lowest) score first: (representative indices, counts)."""
    order = torch.argsort(scores, stable=True)
    close = torch.cdist(points[order], points[order],
                        compute_mode="donot_use_mm_for_euclid_dist") <= merge_tol
    free = torch.ones(len(order), dtype=torch.bool, device=points.device)
    reps, counts = [], []
    while free.any():  # one pass per merged point, not per candidate
        i = int(torch.argmax(free.to(torch.int8)))
        members = close[i] & free
        reps.append(int(order[i]))
        counts.append(int(members.sum()))
        free &= ~members
    return (torch.tensor(reps, dtype=torch.long, device=points.device),
            torch.tensor(counts, dtype=torch.long, device=points.device))


def _assemble(lin: Linearization, u, points, counts, patterns=None) -> FixedPoints:
    """FixedPoints for float64 points (K, H): most counts first, then the most stable."""
    H = lin.hidden_size
    with torch.no_grad():
        residuals = torch.linalg.vector_norm(lin._f(points, u) - points, dim=-1)
        J_h, _ = lin._jacobians(points, u)
    values = torch.linalg.eigvals(J_h) if len(points) else \
        torch.zeros(0, H, dtype=torch.complex128, device=points.device)
    values = torch.take_along_dim(values, torch.argsort(values.abs(), dim=-1, descending=True,
                                                        stable=True), dim=-1)
    order = torch.argsort(values.abs()[:, 0], stable=True) if H else \
        torch.arange(len(points), device=points.device)
    order = order[torch.argsort(counts[order], descending=True, stable=True)]
    points, residuals, values = points[order], residuals[order], values[order]
    counts = counts[order]
    patterns = patterns[order] if patterns is not None else None
    labels = _labels(values.cpu().numpy(), 1e-6) if len(points) else []
    return FixedPoints(points, residuals, values, labels, counts, patterns)


def _float64_linearization(model) -> Linearization:
    if isinstance(model, Linearization):
        model = model.model
    Linearization(model)  # check the model before copying it
    # a frozen copy: minimising q(h) differentiates F in h only
    return Linearization(copy.deepcopy(model).double().requires_grad_(False))


def find_fixed_points(model, initial_states, u=None, *, n_iter: int = 2000, lr: float = 1e-2,
                      tol: float = 1e-8, merge_tol: float = 1e-4, newton_steps: int = 20,
                      noise: float = 0.0, seed: int | None = None,
                      show_progress: bool = False) -> FixedPoints:
    """The fixed points h* = F(h*, u*), a :class:`FixedPoints`, of an RNN (a single-layer
    ``torch.nn.RNN`` or a ``ShallowPLRNN``) at a constant input ``u`` (default zeros), found
    as Sussillo and Barak do: from each of the K0 ``initial_states (K0, H)`` (e.g. states
    sampled from trajectories, :func:`sample_states`) minimise the speed::

        q(h) = 1/2 ||F(h, u*) - h||^2

    for the whole batch at once with Adam, then polish every candidate with batched Newton
    steps on G(h) = F(h, u*) - h, h ← h - (J_h - I)^(-1) G(h), with the analytic Jacobian
    (a step is taken only where J_h - I is invertible and it lowers the residual). This
    brings true fixed points to ``||F(h*) - h*||`` below 1e-10. Candidates with residual
    below ``tol`` are kept, merged greedily within ``merge_tol`` (the one with the smallest
    residual represents each group, ``counts`` says how many candidates it stands for) and
    classified by the eigenvalues of J_h (:func:`classify_fixed_point`). Slow points
    (local minima of q with q > 0) are not returned; if none is found the result is empty
    (K = 0). Everything runs on a float64 copy of the model, on the model's device (the
    initial states are moved there), and the results are float64 tensors on that device,
    sorted by count in descending order, then by the largest eigenvalue modulus.

    Keyword arguments

    * ``n_iter = 2000``: Adam steps at most; they stop early once every candidate's
      residual is below ``tol``.
    * ``lr = 1e-2``: Adam's learning rate.
    * ``tol = 1e-8``: largest ``||F(h*) - h*||`` of a returned fixed point.
    * ``merge_tol = 1e-4``: candidates closer than this (Euclidean) are one fixed point.
    * ``newton_steps = 20``: Newton steps at most (0 switches the polish off).
    * ``noise = 0.0``: standard deviation of Gaussian jitter added to the initial states.
    * ``seed = None``: seed of that jitter.
    * ``show_progress = False``: show a progress bar over the Adam steps.

    Reference: D. Sussillo, O. Barak, "Opening the black box: low-dimensional dynamics in
    high-dimensional recurrent neural networks", Neural Computation 25(3), 626-649 (2013).
    """
    lin = _float64_linearization(model)
    H = lin.hidden_size
    u = lin._input(u)
    h = torch.as_tensor(initial_states.detach() if isinstance(initial_states, torch.Tensor)
                        else initial_states, dtype=torch.float64, device=lin.device)
    if h.ndim == 1:
        h = h[None]
    if h.ndim != 2 or h.shape[1] != H or h.shape[0] == 0:
        hint = (": pick states from trajectories (B, T, H) with sample_states"
                if h.ndim == 3 else "")
        raise ValueError(f"initial_states must have shape (K0, H) with K0 >= 1 and H = {H}; "
                         f"got {tuple(h.shape)}{hint}")
    for name, value in (("n_iter", n_iter), ("newton_steps", newton_steps), ("noise", noise)):
        if value < 0:
            raise ValueError(f"{name} must be >= 0; got {value}")
    if noise > 0:
        g = torch.Generator().manual_seed(seed) if seed is not None else None
        h = h + noise * torch.randn(h.shape, generator=g, dtype=torch.float64).to(h.device)

    h = h.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([h], lr=lr)
    steps = range(n_iter)
    if show_progress:
        from .runtime import progress

        steps = progress(steps, desc="fixed points")
    for _ in steps:
        q = 0.5 * ((lin._f(h, u) - h) ** 2).sum(dim=-1)
        if q.max().item() < 0.5 * tol ** 2:
            break
        optimizer.zero_grad()
        q.sum().backward()
        optimizer.step()
    if show_progress:
        steps.close()

    h = h.detach()
    eye = torch.eye(H, dtype=torch.float64, device=h.device)
    with torch.no_grad():
        residual = torch.linalg.vector_norm(lin._f(h, u) - h, dim=-1)
        for _ in range(newton_steps):
            J_h, _ = lin._jacobians(h, u)
            delta, info = torch.linalg.solve_ex(J_h - eye, (h - lin._f(h, u))[..., None])
            trial = h + delta[..., 0]
            trial_residual = torch.linalg.vector_norm(lin._f(trial, u) - trial, dim=-1)
            better = (info == 0) & torch.isfinite(trial).all(-1) & (trial_residual < residual)
            if not better.any():
                break
            h = torch.where(better[:, None], trial, h)
            residual = torch.where(better, trial_residual, residual)

    keep = torch.isfinite(h).all(-1) & (residual < tol)
    h, residual = h[keep], residual[keep]
    if len(h) == 0:
        return _assemble(lin, u, h.reshape(0, H), h.new_zeros(0, dtype=torch.long))
    reps, counts = _merge(h, residual, merge_tol)
    return _assemble(lin, u, h[reps], counts)


# ---------------------------------------------------------------------------------------
# Exact fixed points of the shallow PLRNN
# ---------------------------------------------------------------------------------------

def _unseen(patterns: torch.Tensor, tried: torch.Tensor) -> torch.Tensor:
    """The unique rows of ``patterns`` (P, L) that are not rows of ``tried``."""
    both = torch.cat([tried, patterns])
    _, inverse = torch.unique(both, dim=0, return_inverse=True)
    seen = torch.zeros(int(inverse.max()) + 1 if len(both) else 0, dtype=torch.bool,
                       device=patterns.device)
    seen[inverse[: len(tried)]] = True
    return torch.unique(patterns[~seen[inverse[len(tried):]]], dim=0)


def _solve_regions(weights, patterns: torch.Tensor, batch_size: int):
    """Solve every region's linear system; return (z (P, M), own patterns (P, L), ok (P,))."""
    A, W1, W2, h1, h2 = weights
    M, L = W1.shape
    outer = (W1.T[:, :, None] * W2[:, None, :]).reshape(L, M * M)  # row l: W1[:, l] W2[l, :]
    zs, owns, oks = [], [], []
    for chunk in torch.split(patterns, batch_size):
        d = chunk.to(W1.dtype)                                           # (P, L)
        system = torch.diag(1 - A) - (d @ outer).reshape(-1, M, M)       # I - A - W1 D W2
        z, info = torch.linalg.solve_ex(system, ((d * h2) @ W1.T + h1)[..., None])
        z = z[..., 0]
        pre = z @ W2.T + h2
        consistent = ((pre > 0) == chunk) | (pre.abs() <= _BOUNDARY_TOL)
        zs.append(z)
        owns.append(pre > 0)
        oks.append((info == 0) & torch.isfinite(z).all(-1) & consistent.all(-1))
    return torch.cat(zs), torch.cat(owns), torch.cat(oks)


def plrnn_fixed_points(model, *, orbit=None, max_enumerate: int = 16,
                       batch_size: int = 4096) -> FixedPoints:
    """The exact fixed points of a ``ShallowPLRNN``, a :class:`FixedPoints`, one linear
    region at a time. In the region of the ReLU pattern d ∈ {0, 1}^L, D = diag(d), the map
    is affine, F(z) = (diag(A) + W1 D W2) z + W1 D h2 + h1, so its fixed point solves::

        (I - diag(A) - W1 D W2) z = W1 D h2 + h1,

    and is a fixed point of the PLRNN only if it lies in that region,
    1[W2 z + h2 > 0] = d; a point within 1e-9 of a region boundary (some
    ``abs(W2 z + h2)`` below 1e-9) counts for both sides, where both pieces agree. Regions
    whose matrix is singular are skipped.

    With L <= ``max_enumerate`` all 2^L patterns are solved (batched, ``batch_size`` at a
    time): the search is exhaustive. With larger L an ``orbit (T, M)`` (e.g. a free run,
    ``model.generate``) is required, and the candidates are the patterns it visits, refined:
    where the solution of pattern d lies in another region d', d' is tried too, for a few
    rounds until no new pattern turns up; this finds fixed points in regions the orbit
    never visits, but the search is not exhaustive. Duplicates (closer than 1e-8 times
    1 + the largest coordinate) are merged; ``counts`` is the number of regions that gave
    the point, ``patterns`` the region each point was solved in. Points, residuals (with
    the model's own step) and eigenvalues are float64, the most stable point first (by the
    largest eigenvalue modulus), on the model's device; the model is copied to float64
    first. An orbit given for
    L <= ``max_enumerate`` is not needed and is ignored.

    Keyword arguments

    * ``orbit = None``: states ``(T, M)`` (or ``(B, T, M)``) whose regions seed the search;
      required when L > ``max_enumerate``.
    * ``max_enumerate = 16``: enumerate all 2^L regions up to this L.
    * ``batch_size = 4096``: regions solved per batched ``torch.linalg.solve``.

    Reference: Z. Monfared, D. Durstewitz, "Existence of n-cycles and border-collision
    bifurcations in piecewise-linear continuous maps with applications to recurrent neural
    networks", Nonlinear Dynamics 101, 1037-1052 (2020); D. Durstewitz, "A state space
    approach for piecewise-linear recurrent neural networks for identifying computational
    dynamics from neural measurements", PLoS Comput. Biol. 13(6), e1005542 (2017).
    """
    if not isinstance(model, ShallowPLRNN):
        raise ValueError(f"model must be a course_utils.models.ShallowPLRNN; got "
                         f"{type(model).__name__} (use find_fixed_points for an nn.RNN)")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}")
    lin = _float64_linearization(model)
    M, L = model.M, model.L
    weights = lin._weights()
    u = lin._input(None)
    if L <= max_enumerate:
        codes = torch.arange(2 ** L, dtype=torch.long, device=lin.device)
        patterns = ((codes[:, None] >> torch.arange(L, device=lin.device)) & 1).bool()
        rounds = 1
    else:
        if orbit is None:
            raise ValueError(f"L = {L} > max_enumerate = {max_enumerate}: enumerating all 2^{L} "
                             "regions is too costly, so pass orbit=... (states (T, M), e.g. "
                             "model.generate(...)) whose regions seed the search, or raise "
                             "max_enumerate")
        states = torch.as_tensor(orbit.detach() if isinstance(orbit, torch.Tensor) else orbit,
                                 dtype=torch.float64, device=lin.device)
        if states.ndim not in (2, 3) or states.shape[-1] != M or states.numel() == 0:
            raise ValueError(f"orbit must have shape (T, M) or (B, T, M) with M = {M} and T >= 1; "
                             f"got {tuple(states.shape)}")
        if not torch.isfinite(states).all():
            raise ValueError("orbit contains non-finite values")
        patterns = torch.unique(lin._pre(states.reshape(-1, M), u) > 0, dim=0)
        rounds = _REFINE_ROUNDS

    tried = patterns[:0]
    found_z, found_d = [], []
    for _ in range(rounds):
        z, own, ok = _solve_regions(weights, patterns, batch_size)
        found_z.append(z[ok])
        found_d.append(patterns[ok])
        tried = torch.cat([tried, patterns])
        patterns = _unseen(own[~ok & torch.isfinite(z).all(-1)], tried)
        if len(patterns) == 0:
            break
    z, d = torch.cat(found_z), torch.cat(found_d)
    if len(z) == 0:
        return _assemble(lin, u, z.reshape(0, M), z.new_zeros(0, dtype=torch.long),
                         d.reshape(0, L))
    with torch.no_grad():
        residual = torch.linalg.vector_norm(lin._f(z, u) - z, dim=-1)
    reps, counts = _merge(z, residual, _DEDUP_TOL * (1 + z.abs().max().item()))
    return _assemble(lin, u, z[reps], counts, d[reps])


# ---------------------------------------------------------------------------------------
# Initial states
# ---------------------------------------------------------------------------------------

def rnn_trajectories(rnn, inputs, h0=None) -> torch.Tensor:
    """The hidden states h_1, ..., h_T, shape ``(B, T, H)``, of a single-layer
    ``torch.nn.RNN`` driven by ``inputs``, batch first whatever the module's
    ``batch_first``, computed without gradients. The ``inputs`` follow the module's layout:
    ``(B, T, I)`` with ``batch_first=True``, ``(T, B, I)`` otherwise, or ``(T, I)`` for one
    sequence (B = 1). ``h0`` is the initial state, ``(H,)`` (shared by all sequences) or
    ``(B, H)``, zeros by default. Convenient for :func:`sample_states`, whose result starts
    :func:`find_fixed_points`. Computed on the RNN's device (the inputs are moved there).
    """
    _check_rnn(rnn, "rnn")
    dtype, H, I = rnn.weight_hh_l0.dtype, rnn.hidden_size, rnn.input_size
    x = torch.as_tensor(inputs.detach() if isinstance(inputs, torch.Tensor) else inputs,
                        dtype=dtype, device=rnn.weight_hh_l0.device)
    layout = "(B, T, I)" if rnn.batch_first else "(T, B, I)"
    if x.ndim not in (2, 3) or x.shape[-1] != I:
        raise ValueError(f"inputs must have shape {layout} (this RNN's layout) or (T, I) with "
                         f"I = {I}; got {tuple(x.shape)}")
    if x.ndim == 2:
        x = x[None] if rnn.batch_first else x[:, None]
    B = x.shape[0] if rnn.batch_first else x.shape[1]
    if h0 is not None:
        h0 = torch.as_tensor(h0.detach() if isinstance(h0, torch.Tensor) else h0, dtype=dtype,
                             device=x.device)
        batch = h0.reshape(-1, H).shape[0] if h0.ndim >= 2 and h0.shape[-1] == H else 1
        if h0.shape[-1:] != (H,) or h0.ndim > 3 or batch not in (1, B):
            raise ValueError(f"h0 must have shape (H,) or (B, H) with H = {H} and B = {B}; got "
                             f"{tuple(h0.shape)}")
        h0 = h0.reshape(1, -1, H).expand(1, B, H).contiguous()
    with torch.no_grad():
        states, _ = rnn(x, h0)
    return states if rnn.batch_first else states.transpose(0, 1).contiguous()


def sample_states(trajectories, n: int, *, seed: int | None = None) -> torch.Tensor:
    """``n`` states, shape ``(n, H)``, drawn at random, without replacement, from the states
    of ``trajectories (B, T, H)`` (or ``(T, H)``), e.g. the output of
    :func:`rnn_trajectories`: initial states for :func:`find_fixed_points` on the region of
    state space the network visits.

    Keyword arguments

    * ``seed = None``: seed of the draw (the global torch generator if None).
    """
    states = trajectories.detach() if isinstance(trajectories, torch.Tensor) else \
        torch.as_tensor(trajectories)
    if states.ndim not in (2, 3) or states.numel() == 0:
        raise ValueError(f"trajectories must have shape (B, T, H) or (T, H); got "
                         f"{tuple(states.shape)}")
    states = states.reshape(-1, states.shape[-1])
    if not 1 <= n <= states.shape[0]:
        raise ValueError(f"n must be in 1..{states.shape[0]} (the number of states in "
                         f"trajectories of shape {tuple(trajectories.shape)}); got {n}")
    g = torch.Generator().manual_seed(seed) if seed is not None else None
    return states[torch.randperm(states.shape[0], generator=g)[:n].to(states.device)].clone()
