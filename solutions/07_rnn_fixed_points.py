# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Opening the black box: linearization and fixed points of trained RNNs
#
# A trained RNN is a dynamical system, $h_t = F(h_{t-1}, u_t)$, and we can study it with
# the tools of the earlier chapters: where it comes to rest, how it responds to a small
# push, and which directions grow or shrink. Near a point $(h^*, u^*)$ the map is close
# to its first-order (affine) approximation
#
# $$
# F(h^* + \delta h,\, u^* + \delta u) \approx F(h^*, u^*) + J_h\, \delta h + J_u\, \delta u,
# \qquad J_h = \frac{\partial F}{\partial h}, \quad J_u = \frac{\partial F}{\partial u},
# $$
#
# and at a **fixed point**, $F(h^*, u^*) = h^*$, the eigenvalues of $J_h$ say whether the
# network returns there after a perturbation ($|\lambda| < 1$ in every direction: stable),
# runs away ($|\lambda| > 1$: unstable) or both (a saddle). {footcite:t}`sussillo2013`
# found such points in trained networks by minimising the *speed*
# $q(h) = \frac{1}{2}\|F(h, u^*) - h\|^2$ from many starting states, and explained what
# the networks compute with the points they found.
#
# **Goals**
# 1. Train a small RNN on a memory task, the 3-bit flip-flop.
# 2. Linearize it (**Task 1**: the Jacobians, **Task 2**: the affine prediction) and see
#    how good the linearization is.
# 3. Find its fixed points, classify them (**Task 3**) and see how they implement the
#    memory.
# 4. Find the fixed points of the PLRNN trained on Lorenz-63 exactly, and compare them with
#    those of the Lorenz system.

# %%
import copy

import numpy as np
import matplotlib.pyplot as plt
import torch

from course_utils import runtime
from course_utils.runtime import pick
from course_utils.sequence_tasks import flipflop_batch
from course_utils.models import RNNReadout
from course_utils.training import train_sequence_model
from course_utils.linearization import (Linearization, find_fixed_points, plrnn_fixed_points,
                                        classify_fixed_point, sample_states)
from course_utils.checks import (check_rnn_jacobians, check_affine_prediction,
                                 check_stability_classification)

torch.set_num_threads(1)
device = runtime.device()   # the fixed-point searches run here (COURSE_DEVICE=cpu overrides)
print("device:", device)

# %% [markdown]
# ## The 3-bit flip-flop
#
# Three input channels carry occasional pulses of $+1$ or $-1$; each output channel has to
# hold the sign of the last pulse on its input channel until the next one; one of the
# networks that {footcite:t}`sussillo2013` took apart was trained on this task. The network has
# to store three bits, $2^3 = 8$ patterns, for as long as the inputs stay silent.

# %%
n_bits, T = 3, 100
u_demo, y_demo = flipflop_batch(1, T, n_bits=n_bits, seed=1)
fig, axes = plt.subplots(n_bits, 1, figsize=(9, 4), sharex=True)
for i, ax in enumerate(axes):
    ax.plot(u_demo[0, :, i], color="0.6", lw=1, label="input $u_t$")
    ax.plot(y_demo[0, :, i], color="tab:blue", lw=1.5, label="target $y_t$")
    ax.set_ylabel(f"bit {i + 1}")
axes[0].legend(loc="upper right", ncol=2)
axes[-1].set_xlabel("time step $t$")
fig.tight_layout()

# %% [markdown]
# A tanh RNN with $H = 64$ units and a linear read-out, $h_t = \tanh(W_{ih} u_t + b_{ih} +
# W_{hh} h_{t-1} + b_{hh})$, $y_t = W_{out} h_t + b_{out}$, trained with Adam on fresh
# random batches. It takes about 15 seconds.

# %%
H = 64
net = RNNReadout(n_bits, H, n_bits, seed=0)
rng = np.random.default_rng(0)
history = train_sequence_model(net, lambda step: flipflop_batch(64, T, n_bits=n_bits, seed=rng),
                               n_steps=pick(2000, 300), lr=3e-3, lr_end=1e-4,
                               desc="flip-flop")
u_test, y_test = (torch.from_numpy(a) for a in flipflop_batch(200, 2 * T, seed=2))
with torch.no_grad():
    y_net, h_net = net(u_test)
accuracy = (torch.sign(y_net) == y_test).float().mean().item()
print(f"trained for {len(history['loss'])} updates in {history['seconds']:.1f} s; "
      f"final loss {history['loss'][-50:].mean():.4f}")
print(f"sign of the output right at {100 * accuracy:.2f} % of the steps of 200 test sequences "
      f"of {2 * T} steps (twice the training length)")

# %%
fig, ax = plt.subplots(figsize=(6, 3))
ax.semilogy(history["loss"], lw=0.5)
ax.set_xlabel("update")
ax.set_ylabel("mean squared error")
ax.set_title("Training the flip-flop RNN")
fig.tight_layout()

# %% [markdown]
# ## Linearization
#
# For one step of the tanh RNN, with the pre-activation $a = W_{ih} u + b_{ih} + W_{hh} h +
# b_{hh}$ and $F(h, u) = \tanh(a)$, the chain rule gives
#
# $$
# J_h = \operatorname{diag}\!\left(1 - \tanh^2(a)\right) W_{hh}, \qquad
# J_u = \operatorname{diag}\!\left(1 - \tanh^2(a)\right) W_{ih}.
# $$
#
# **Task 1.** Write `rnn_jacobians(rnn, u, h)` for a single-layer tanh `nn.RNN` at one
# input `u` (shape `(I,)`) and one state `h` (shape `(H,)`), returning `(J_h, J_u)` of
# shapes `(H, H)` and `(H, I)`. The weights are `rnn.weight_ih_l0`, `rnn.weight_hh_l0`,
# `rnn.bias_ih_l0` and `rnn.bias_hh_l0`. (You may also use
# `torch.autograd.functional.jacobian`; the formula is shorter.)

# %%
def rnn_jacobians(rnn, u, h):
    """J_h (H, H) and J_u (H, I) of one step of a tanh nn.RNN at the input u and state h."""
    # BEGIN SOLUTION Task 1 (the Jacobians) [2 points]
    #   [reference: course_utils.linearization.Linearization]
    #   [allow: torch.autograd.functional.jacobian]
    a = rnn.weight_ih_l0 @ u + rnn.bias_ih_l0 + rnn.weight_hh_l0 @ h + rnn.bias_hh_l0
    slope = 1 - torch.tanh(a) ** 2
    return slope[:, None] * rnn.weight_hh_l0, slope[:, None] * rnn.weight_ih_l0
    # END SOLUTION


# %%
check_rnn_jacobians(rnn_jacobians)

# %% [markdown]
# **Task 2.** Write `affine_prediction(rnn, u, h, du, dh)`: the first-order prediction of the
# next state, $F(h, u) + J_h\, \delta h + J_u\, \delta u$, for one input perturbation `du`
# (shape `(I,)`) and a *batch* of state perturbations `dh` (shape `(B, H)`, one per row),
# returning shape `(B, H)`. Use your `rnn_jacobians`; one step of the network itself is
# `torch.tanh(...)` of the pre-activation, or `rnn(u[None, None], h[None, None])`.

# %%
def affine_prediction(rnn, u, h, du, dh):
    """F(h, u) + J_h dh_b + J_u du for every row dh_b of dh (B, H): shape (B, H)."""
    # BEGIN SOLUTION Task 2 (the affine prediction) [2 points]
    #   [reference: course_utils.linearization.Linearization]
    J_h, J_u = rnn_jacobians(rnn, u, h)
    h_next = torch.tanh(rnn.weight_ih_l0 @ u + rnn.bias_ih_l0 + rnn.weight_hh_l0 @ h
                        + rnn.bias_hh_l0)
    return h_next + dh @ J_h.T + J_u @ du
    # END SOLUTION


# %%
check_affine_prediction(affine_prediction)

# %% [markdown]
# How good is the prediction? We take a state from a test trajectory, push it by $\delta h =
# \varepsilon v$ with a random unit vector $v$, and compare the predicted next state with the
# true one, for $\varepsilon$ from $10^{-4}$ to $1$. By Taylor's theorem the error of a
# first-order approximation is of second order, $O(\varepsilon^2)$: a slope of 2 on
# log-log axes. The toolkit's `Linearization` does the same for any single-layer `nn.RNN`
# (and the PLRNN) and is used from here on.

# %%
rnn = net.rnn.double()          # the recurrent part, in float64 for the analysis
net.readout.double()
lin = Linearization(rnn)
with torch.no_grad():
    _, h_traj = net(u_test.double())                      # (200, 2T, H) hidden states
u0 = torch.zeros(n_bits, dtype=torch.float64)              # silent input, u* = 0
h0 = h_traj[0, 60]
v = torch.randn(H, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
v /= v.norm()
eps = np.logspace(-4, 0, 9)
dh = torch.as_tensor(eps, dtype=torch.float64)[:, None] * v   # (9, H), one size per row
predicted = affine_prediction(rnn, u0, h0, torch.zeros_like(u0), dh).detach()
with torch.no_grad():                         # (outside: your Jacobians may use autograd)
    exact = torch.stack([lin.step(u0, h0 + d) for d in dh])
error = (predicted - exact).norm(dim=1).numpy()
slope = np.polyfit(np.log(eps[:5]), np.log(error[:5]), 1)[0]
print(f"linearization error ~ eps^{slope:.2f} for small eps")
print(f"at eps = {eps[4]:.0e}: |true change| = {(exact[4] - lin.step(u0, h0)).norm():.2e}, "
      f"|prediction error| = {error[4]:.2e}")

# %% tags=["nbval-check-output"]
print("the error is of second order:", 1.8 < slope < 2.2)
# Expected output:
# the error is of second order: True

# %%
fig, ax = plt.subplots(figsize=(5, 3.5))
ax.loglog(eps, error, "o-", label=r"$\|F(h + \varepsilon v) - \mathrm{affine}\|$")
ax.loglog(eps, error[0] * (eps / eps[0]) ** 2, "k--", lw=1, label=r"$\propto \varepsilon^2$")
ax.set_xlabel(r"size of the perturbation, $\varepsilon = \|\delta h\|$")
ax.set_ylabel("error of the prediction")
ax.legend()
fig.tight_layout()

# %% [markdown]
# ## Fixed points of the flip-flop network
#
# With the input silent, $u^* = 0$, the network has to keep whatever it holds. We start the
# search for slow points from 256 states visited by the test trajectories (with a little
# noise), minimise $q(h)$ for all of them at once, polish the candidates with Newton steps,
# keep those with $\|F(h^*) - h^*\| < 10^{-8}$, and merge duplicates.

# %%
starts = sample_states(h_traj, 256, seed=0)
fps = find_fixed_points(copy.deepcopy(rnn).to(device), starts, u0, n_iter=pick(2000, 500),
                        noise=0.02, seed=0, show_progress=True).to("cpu")   # back for the analysis
print(fps.summary())

# %% [markdown]
# **Task 3.** Classify a fixed point of a map by the eigenvalues of its Jacobian:
# `"stable"` if every eigenvalue has modulus $|\lambda| < 1$, `"unstable"` if every modulus
# is above 1, `"saddle"` otherwise (a modulus of exactly 1 is neither below nor above 1, so
# such a point is a saddle by this rule), and append `" (oscillatory)"` when some eigenvalue
# is complex (imaginary part above $10^{-9}$ in size; real eigenvalues computed in floating
# point may carry imaginary parts of $10^{-12}$ and less, which do not count). The argument
# is a complex tensor, as
# `torch.linalg.eigvals` returns it. (Careful: the rule for flows, $\mathrm{Re}\,\lambda <
# 0$, is not the rule for maps.)

# %%
def classify(eigenvalues):
    """'stable', 'unstable' or 'saddle', with ' (oscillatory)' if an eigenvalue is complex."""
    # BEGIN SOLUTION Task 3 (stability of a fixed point of a map) [1 point]
    #   [reference: course_utils.linearization.classify_fixed_point]
    #   [reference: course_utils.linearization._labels]
    moduli = eigenvalues.abs()
    if bool((moduli < 1).all()):
        kind = "stable"
    elif bool((moduli > 1).all()):
        kind = "unstable"
    else:
        kind = "saddle"
    return kind + (" (oscillatory)" if bool((eigenvalues.imag.abs() > 1e-9).any()) else "")
    # END SOLUTION


# %%
check_stability_classification(classify)
labels = [classify(eigenvalues) for eigenvalues in fps.eigenvalues]    # those of J_h at each point
for label in sorted(set(labels)):
    print(f"{labels.count(label):3d} x {label}")
n_unstable = (fps.eigenvalues.abs() > 1).sum(dim=1)
print("unstable directions (|lambda| > 1) per point:", n_unstable.tolist())

# %% [markdown]
# **Question 1** (2 points). A pulse has moved the state close to another corner, and the input is
# silent again. From the largest moduli $|\lambda|$ of the stable points in your table:
# after how many steps has the distance to the new fixed point shrunk by a factor of 100?
# What would it mean for the flip-flop if the largest modulus were 0.99 instead?
#
# <!-- BEGIN SOLUTION Question 1 (how fast a memory settles) [2 points] -->
# Near a stable fixed point a perturbation shrinks, in its slowest direction, by the
# largest modulus per step. In the full run the stable points have largest moduli between
# 0.61 and 0.63, so a factor of 100 takes $\ln 100 / |\ln 0.63| \approx 10$ steps (9 to 10
# from 0.61 to 0.63): the output has switched, and the state settled, within about ten
# steps of a pulse, fast against the gaps between pulses.
#
# With a largest modulus of 0.99 the same takes $\ln 100 / |\ln 0.99| \approx 460$ steps. The
# point would still be stable, but the state would creep towards it, the output would lag
# behind the pulses, and noise in the state would add up along the slow direction (its
# variance grows like $1/(1 - r^2)$, about 50 for $r = 0.99$ against 1.7 for $r = 0.63$),
# so that a disturbance could carry the state across a basin boundary and flip a bit.
# <!-- RUBRIC
# [1 point] computes the settling time from the own largest moduli: ln 100 / |ln 0.63|, about 10 steps
# [1 point] for 0.99: some 460 steps; a lagging output and noise adding up along the slow direction, bits flip
# -->
# <!-- END SOLUTION -->

# %% [markdown]
# We look at the fixed points in the space of the first three principal components of the
# hidden states, together with a few trajectories.

# %%
states = h_traj.reshape(-1, H)
mean = states.mean(dim=0)
_, _, V = torch.linalg.svd(states - mean, full_matrices=False)
pcs = V[:3].T                                               # (H, 3)
explained = (((states - mean) @ pcs).var(dim=0).sum() / states.var(dim=0).sum()).item()
proj_traj = (h_traj[:20] - mean) @ pcs
proj_fp = ((fps.points - mean) @ pcs).numpy()
stable = np.array([lab.startswith("stable") for lab in labels])

fig = plt.figure(figsize=(11, 4.5))
ax = fig.add_subplot(1, 2, 1, projection="3d")
for tr in proj_traj:
    ax.plot(*tr.T.numpy(), color="0.75", lw=0.5)
ax.scatter(*proj_fp[stable].T, color="tab:blue", s=40, label="stable")
ax.scatter(*proj_fp[~stable].T, color="tab:red", marker="x", s=40, label="saddle / unstable")
ax.set_xlabel("PC 1")
ax.set_ylabel("PC 2")
ax.set_zlabel("PC 3")
ax.set_title(f"Fixed points at $u^*=0$ ({100 * explained:.0f} % of the variance shown)")
ax.legend(loc="upper left")

ax = fig.add_subplot(1, 2, 2)
circle = np.exp(1j * np.linspace(0, 2 * np.pi, 200))
ax.plot(circle.real, circle.imag, "k", lw=0.8)
i_stable = int(np.flatnonzero(stable)[0])
ax.plot(fps.eigenvalues[i_stable].real, fps.eigenvalues[i_stable].imag, "o", ms=4,
        color="tab:blue", label=f"stable point {i_stable}")
if (~stable).any():
    i_saddle = int(np.flatnonzero(~stable)[0])
    ax.plot(fps.eigenvalues[i_saddle].real, fps.eigenvalues[i_saddle].imag, "x", ms=5,
            color="tab:red", label=f"{labels[i_saddle]} point {i_saddle}")
ax.set_aspect("equal")
ax.set_xlabel(r"Re $\lambda$")
ax.set_ylabel(r"Im $\lambda$")
ax.set_title("Eigenvalues of $J_h$ and the unit circle")
ax.legend(loc="lower left", fontsize=8)
fig.tight_layout()

# %% [markdown]
# **What to notice.**
# * There are eight stable fixed points, one per stored bit pattern, at the corners of a
#   (distorted) cube: the network holds a pattern by resting at the matching attractor. A
#   pulse moves the state into the basin of another corner.
# * The stable points have all their eigenvalues well inside the unit circle (the largest
#   modulus is about 0.6 in the full run): a perturbation shrinks by almost half at every
#   step, so noise in the state does not erase the memory.
# * Most saddles have one eigenvalue outside the circle and all others inside (see the
#   count above): one unstable direction, along which the state falls towards one of two
#   neighbouring corners. They sit on the boundaries between the basins of the memories; a
#   saddle with two unstable directions sits where four basins meet.
# * All of this was found from the trained weights alone, with a linearization that is
#   accurate to second order in the distance from the point.

# %% [markdown]
# ## The Lorenz PLRNN: fixed points exactly
#
# For the shallow PLRNN of the Lorenz chapters, $z_t = A z_{t-1} + W_1 \mathrm{ReLU}(W_2
# z_{t-1} + h_2) + h_1$, no search is needed. In each linear region, where the pattern
# $d \in \{0, 1\}^L$ of active ReLUs is fixed, $D = \operatorname{diag}(d)$, the map is
# affine, and a fixed point solves a linear system{footcite:p}`koppe2019,brenner2022`:
#
# $$
# (I - A - W_1 D W_2)\, z^* = W_1 D h_2 + h_1 .
# $$
#
# The solution is a true fixed point only if it lies in its region, $\mathbb{1}[W_2 z^* + h_2
# > 0] = d$. With $L = 200$ hidden units there are $2^{200}$ regions, so we try the regions
# an orbit of the model visits, and follow each solution into the region where it lands
# until nothing new turns up (`plrnn_fixed_points`).
#
# Lorenz-63{footcite:p}`lorenz1963` has three fixed points, the origin and $C_\pm = (\pm\sqrt{\beta(\rho - 1)},
# \pm\sqrt{\beta(\rho - 1)}, \rho - 1)$. The model sees the standardised delay embedding
# $(x_t, x_{t-10}, x_{t-20})$; at a fixed point $x$ is constant, so a fixed point of
# Lorenz-63 appears in the model's observation space as $((x^* - \mu_i)/\sigma_i)_{i=1,2,3}$,
# with the mean $\mu$ and standard deviation $\sigma$ of the embedding.

# %%
from course_utils.data import lorenz_dataset
from course_utils.pretrained import load_pretrained_plrnn
from course_utils.lorenz import LORENZ_BETA, LORENZ_RHO, lorenz63_jacobian

plrnn = load_pretrained_plrnn().double()
data = lorenz_dataset("lorenz_data.pt")
dt = data["settings"]["dt"]
Z = plrnn.generate(data["test"][0].double(), pick(20_000, 5_000))[1000:]
pl_fps = plrnn_fixed_points(copy.deepcopy(plrnn).to(device), orbit=Z).to("cpu")
print(pl_fps.summary())

c = np.sqrt(LORENZ_BETA * (LORENZ_RHO - 1))
lorenz_fps = {"origin": np.array([0.0, 0.0, 0.0]), "C+": np.array([c, c, LORENZ_RHO - 1]),
              "C-": np.array([-c, -c, LORENZ_RHO - 1])}
mu, sd = data["mean"].numpy(), data["std"].numpy()
observed = pl_fps.points[:, :3].numpy()
print("\nLorenz-63 fixed point, in the model's coordinates -> nearest PLRNN fixed point")
distances = []
for name, p in lorenz_fps.items():
    target = (p[0] - mu) / sd
    k = int(np.argmin(np.linalg.norm(observed - target, axis=1)))
    flow_eigs = np.linalg.eigvals(lorenz63_jacobian(p))
    map_eigs = np.exp(flow_eigs * dt)                # the flow over one step dt
    map_eigs = map_eigs[np.argsort(-np.abs(map_eigs))]
    distances.append(np.linalg.norm(observed[k] - target))
    print(f"{name:>6} at {np.round(target, 3)} -> point {k} at {np.round(observed[k], 3)}: "
          f"distance {np.linalg.norm(observed[k] - target):.3f}, {pl_fps.labels[k]}")
    print(f"        Lorenz-63, exp(mu dt):       {np.round(map_eigs, 4)}")
    print(f"        PLRNN, largest 3 eigenvalues: "
          f"{np.round(pl_fps.eigenvalues[k][:3].numpy(), 4)}")

# %% tags=["nbval-check-output"]
print("a PLRNN fixed point within 0.2 of each of the three:", max(distances) < 0.2)
# Expected output:
# a PLRNN fixed point within 0.2 of each of the three: True

# %% [markdown]
# **Question 2** (2 points). At the fixed point near $C_+$ the model's leading pair of eigenvalues is
# close to Lorenz-63's $e^{\mu \Delta t}$. What do the modulus and the angle of this pair
# say about the orbit near $C_+$, in steps and in time units, and how well does the model
# match them? Why is the third eigenvalue matched less well?
#
# <!-- BEGIN SOLUTION Question 2 (the spiral around C+) [2 points] -->
# The pair is a spiral, and the angle is the rotation per step: the model's $0.997 \pm
# 0.105i$ has the angle 0.1053 rad, a turn in $2\pi / 0.1053 \approx 60$ steps, 0.60 time
# units; Lorenz-63's $0.9957 \pm 0.1019i$ gives 0.1020 rad, 62 steps, 0.62 time units. The
# model turns around the wing at the right rate, to about 3 %. The modulus is the growth
# per step: the model's 1.0026 is a growth of 0.26 per time unit (a factor $e$ in about 4
# time units), Lorenz-63's 1.0009 one of 0.09 (in about 11). Both are weakly unstable
# spirals, which slowly throw the orbit off the wing, but the model's grows about three
# times too fast near $C_+$ (at $C_-$, 1.0012, much closer). The growth is about a per
# mille per step, and the model errs by less than two per mille per step: a small number,
# hard to learn exactly from orbits that pass the fixed point at a distance.
#
# The third eigenvalue, Lorenz-63's strongly contracting 0.871 (real), comes out 0.95 (and
# complex) in the model. Perturbations in that direction die out within a few steps, so
# the orbit hardly ever lies off the attractor in it, and the data, orbits on the
# attractor with noise, say little about how fast the flow pulls back onto it.
# <!-- RUBRIC
# [1 point] angle as the rotation per step (period about 60 steps, 0.6 time units, both) and modulus as the growth
# [1 point] the contracting direction is hardly sampled by orbits on the attractor, so the data say little of it
# -->
# <!-- END SOLUTION -->

# %%
fig, ax = plt.subplots(figsize=(5.5, 5))
ax.plot(Z[:, 0], Z[:, 1], color="0.7", lw=0.3, label="PLRNN orbit")
ax.scatter(observed[:, 0], observed[:, 1], color="tab:red", marker="x", s=50, zorder=3,
           label="PLRNN fixed points")
for name, p in lorenz_fps.items():
    target = (p[0] - mu) / sd
    ax.scatter(target[0], target[1], facecolor="none", edgecolor="k", s=120, zorder=3)
    ax.annotate(name, target[:2], xytext=(6, 6), textcoords="offset points")
ax.set_xlabel(r"$x_t$ (standardised)")
ax.set_ylabel(r"$x_{t-10}$ (standardised)")
ax.set_title("Fixed points: PLRNN (x) and Lorenz-63 (o)")
ax.legend(loc="lower right")
fig.tight_layout()

# %% [markdown]
# **What to notice.**
# * The model has one fixed point near each fixed point of Lorenz-63, although it was
#   trained on orbits only and never saw a fixed point: close to $C_\pm$, the centres of
#   the two wings the orbit spirals around, and close to the origin, where the orbit
#   switches wings. (All three lie on the diagonal $x_t = x_{t-10} = x_{t-20}$ of the
#   embedding, as a fixed point must.)
# * The leading eigenvalues match too. At $C_\pm$ a complex pair lies just outside the unit
#   circle, a weakly unstable spiral: its angle is the rotation per step around the wing,
#   its modulus the slow growth that eventually throws the orbit to the other wing. At the
#   origin one real eigenvalue above 1 is the unstable direction of the saddle. The
#   strongly contracting directions of Lorenz-63 (moduli 0.80 and 0.87) are matched less
#   well: the orbit hardly samples them, so the data say little about them.
# * A piecewise-linear model has exact fixed points, one linear solve per region. The search
#   over regions is not exhaustive for large $L$: it finds the fixed points of the regions
#   that the orbit visits and of those the solutions lead to.


# %% [markdown]
# ## References
#
# ```{footbibliography}
# ```
