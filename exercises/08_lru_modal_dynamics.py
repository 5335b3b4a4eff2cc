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
# # Linear recurrent units: modal dynamics and the parallel scan
#
# The RNNs of the earlier chapters are nonlinear at every step, so their state has to be
# computed one step after the other, and their gradients pass through long products of
# Jacobians. The **linear recurrent unit** (LRU) of Orvieto et al. (2023) keeps the recurrence
# linear and diagonal, in complex numbers, and puts the nonlinearity outside it:
#
# $$
# x_k = \lambda \odot x_{k-1} + \gamma \odot (B u_k), \qquad
# y_k = \mathrm{Re}(C x_k) + D u_k,
# $$
#
# with a vector of eigenvalues $\lambda \in \mathbb{C}^H$ inside the unit disc, complex
# matrices $B$ and $C$, and a normalisation $\gamma$. Every component of $x$ is a **mode**:
# a damped oscillation that the input drives, independent of all other modes. Because the
# recurrence is linear, the whole sequence of states can be computed in $O(\log T)$
# parallel steps instead of $T$ sequential ones.
#
# **Goals**
# 1. Read an eigenvalue as a decay rate and a frequency, and see why $|\lambda|$ close to 1
#    means long memory.
# 2. Parametrise the eigenvalues so that they stay stable (**Task 1**), initialise them on a
#    ring, and normalise the input.
# 3. Write the associative operator of the linear recurrence (**Task 2**) and compare the
#    parallel scan with the loop.
# 4. Train an LRU and watch its eigenvalues move to the modes of the system it learns.

# %%
# Setup: makes the course's package course_utils importable. On Google Colab it is
# installed from the course repository (Colab already has PyTorch and TensorFlow);
# anywhere else this cell only checks that it is installed (see the README).
import importlib
import importlib.util
import os
import subprocess
import sys

if importlib.util.find_spec("course_utils") is None:
    if "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ:
        raise RuntimeError(
            "Cannot install course_utils on Colab: the course's repository URL is not "
            "configured (repository: url in book/_config.yml is empty). Ask the course team.")
    else:
        raise ModuleNotFoundError(
            "course_utils is not installed in this environment. In the course repository's "
            "folder run `pip install torch==2.13.0`, then "
            "`pip install -e '.[tf,torch,notebooks]'` (see the README), and restart the kernel.")

# %%
import math
import time

import numpy as np
import matplotlib.pyplot as plt
import torch

from course_utils import runtime
from course_utils.runtime import pick
from course_utils.lru import (LRU, autonomous_orbit, linear_recurrence_loop,
                              linear_recurrence_scan, RealImagModalDynamics,
                              AngleMagModalDynamics, LRUDynamics, ModalDynamicsWithMLP)
from course_utils.gru import DeepGRU
from course_utils.sequence_tasks import oscillator_bank, oscillator_modes
from course_utils.training import train_sequence_model
from course_utils.checks import check_lru_eigenvalues, check_scan_operator

torch.set_num_threads(1)

# %% [markdown]
# ## One mode: decay and frequency
#
# Without input, a mode evolves as $x_k = \lambda^k x_0$. Writing $\lambda = r e^{i\theta}$,
#
# $$
# \lambda^k = r^k e^{i k \theta} = e^{-k/\tau}\, e^{i k \theta}, \qquad \tau = -\frac{1}{\ln r},
# $$
#
# so the modulus $r$ sets the decay (time constant $\tau$ steps, half-life $\tau \ln 2$) and
# the phase $\theta$ the frequency ($2\pi/\theta$ steps per cycle). The impulse responses of
# a few modes:

# %%
modes = torch.tensor(oscillator_modes(periods=[40, 40, 10, 1e9], half_lives=[20, 100, 100, 30]),
                     dtype=torch.complex128)
response = autonomous_orbit(modes, torch.ones(4, dtype=torch.complex128), 200)   # (200, 4)
fig, ax = plt.subplots(figsize=(9, 3.5))
for j, lam in enumerate(modes):
    r, theta = lam.abs().item(), lam.angle().item()
    ax.plot(response[:, j].real, lw=1.2,
            label=fr"$r$ = {r:.4f}, $\theta$ = {theta:.3f}: $\tau$ = {-1 / math.log(r):.0f} steps"
                  + (f", period {2 * math.pi / theta:.0f}" if theta > 1e-6 else ", no rotation"))
ax.set_xlabel("step $k$")
ax.set_ylabel(r"Re $\lambda^k$")
ax.set_title("Impulse responses of single modes")
ax.legend(fontsize=8)
fig.tight_layout()

# %% [markdown]
# An input that arrived $k$ steps ago still contributes with weight $r^k$. To remember
# something for 1,000 steps a mode needs $r^{1000}$ not too small: $r = 0.999$ keeps
# $e^{-1} = 37\,\%$ of it, $r = 0.99$ keeps $4 \times 10^{-5}$. Long memory lives close to the
# unit circle, and a mode on or outside it would keep or amplify everything forever.
#
# ## A parametrisation that stays stable
#
# Training moves $\lambda$. To keep it strictly inside the unit disc whatever the optimiser
# does, the LRU stores two real parameters per mode and sets
#
# $$
# \lambda = \exp\!\left(-e^{\nu_{\log}} + i\, e^{\theta_{\log}}\right), \qquad
# |\lambda| = e^{-e^{\nu_{\log}}} \in (0, 1), \quad \arg \lambda = e^{\theta_{\log}} .
# $$
#
# The double exponential also gives fine resolution near $|\lambda| = 1$, where long
# memory lives: $\nu = e^{\nu_{\log}}$ is the decay rate $1/\tau$ itself, on a log scale.
#
# **Task 1.** Write `lru_eigenvalues(nu_log, theta_log)`, returning the complex tensor
# $\lambda$ of the same shape, in the precision of the parameters (complex128 for float64
# parameters; complex64 or complex128 for float32).

# %%
def lru_eigenvalues(nu_log, theta_log):
    """lambda = exp(-exp(nu_log) + i exp(theta_log)), elementwise: a complex tensor."""
    # your code here
    raise NotImplementedError('Task 1 (the eigenvalue parametrisation): your code here')


# %%
check_lru_eigenvalues(lru_eigenvalues)

# %% [markdown]
# ## Initialisation on a ring, and the normalisation
#
# The LRU draws its eigenvalues uniformly from a ring $r_{\min} \le |\lambda| \le r_{\max}$
# of the complex plane (uniform in area, so $|\lambda|^2$ is uniform in $[r_{\min}^2,
# r_{\max}^2]$), with phases in $[0, \theta_{\max}]$. A small $\theta_{\max}$ starts the
# model with slow oscillations, a ring close to 1 with long memory.
#
# Close to the unit circle there is a catch: for white-noise input of variance 1, the state
# of a mode has variance $\sum_k r^{2k} = 1/(1 - r^2)$, which is 500 for $r = 0.999$. The
# normalisation $\gamma = \sqrt{1 - |\lambda|^2}$ scales the input of each mode so that its
# state has variance 1 whatever $r$ is.

# %%
lru = LRU(d_in=1, d_hidden=256, d_out=1, r_min=0.9, r_max=0.999, max_phase=math.pi / 10,
          seed=0, dtype=torch.float64)
lam = lru.eigenvalues
noise = torch.randn(1, 20_000, 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
with torch.no_grad():
    _, x_norm = lru(noise, return_states=True)
    gamma_log = lru.gamma_log.clone()
    lru.gamma_log.zero_()                                  # gamma = 1: no normalisation
    _, x_raw = lru(noise, return_states=True)
    lru.gamma_log.copy_(gamma_log)
B_gain = (lru.B_re[:, 0] ** 2 + lru.B_im[:, 0] ** 2).detach()   # |B|^2 of each mode
var_norm = (x_norm[0, 2000:].abs() ** 2).mean(dim=0) / B_gain
var_raw = (x_raw[0, 2000:].abs() ** 2).mean(dim=0) / B_gain

fig, (ax_ring, ax_var) = plt.subplots(1, 2, figsize=(11, 4.2))
circle = np.exp(1j * np.linspace(0, 2 * np.pi, 400))
ax_ring.plot(circle.real, circle.imag, "k", lw=0.8)
ax_ring.plot(lam.real, lam.imag, ".", ms=3)
ax_ring.set_aspect("equal")
ax_ring.set_xlim(0.6, 1.05)
ax_ring.set_ylim(-0.05, 0.4)
ax_ring.set_xlabel(r"Re $\lambda$")
ax_ring.set_ylabel(r"Im $\lambda$")
ax_ring.set_title(r"Ring initialisation: $0.9 \leq |\lambda| \leq 0.999$, "
                  r"$\arg\lambda \leq \pi/10$")
r = lam.abs()
order = torch.argsort(r)
ax_var.semilogy(r, var_raw, ".", ms=3, label=r"$\gamma = 1$")
ax_var.semilogy(r[order], 1 / (1 - r[order] ** 2), "k--", lw=1, label=r"$1/(1 - r^2)$")
ax_var.semilogy(r, var_norm, ".", ms=3, label=r"$\gamma = \sqrt{1 - r^2}$")
ax_var.set_xlabel(r"modulus $r = |\lambda|$")
ax_var.set_ylabel(r"state variance / $|B|^2$ (white-noise input)")
ax_var.legend()
fig.tight_layout()
print(f"state variance per unit input: {var_raw.min():.1f} to {var_raw.max():.1f} without "
      f"normalisation, {var_norm.min():.2f} to {var_norm.max():.2f} with it")

# %% [markdown]
# ## The parallel scan
#
# One step of the recurrence, $x_k = a_k x_{k-1} + b_k$ (here $a_k = \lambda$ and $b_k =
# \gamma \odot B u_k$), is an affine map of the state, described by the pair $(a_k, b_k)$.
# Doing one step and then the next is again an affine map:
#
# $$
# x \;\mapsto\; a_2 (a_1 x + b_1) + b_2 = (a_2 a_1)\, x + (a_2 b_1 + b_2),
# \qquad (a_1, b_1) \bullet (a_2, b_2) = (a_2 a_1,\; a_2 b_1 + b_2).
# $$
#
# Composition of maps is associative, so the partial compositions $e_1 \bullet e_2
# \bullet \dots \bullet e_k$ for all $k$ (the states, for $x_0 = 0$) can be computed by a
# **parallel prefix scan** (Blelloch 1990): combine neighbours pairwise, recurse on the half-length
# sequence, and fill in the rest, $O(\log T)$ rounds of elementwise work.
#
# **Task 2.** Write the operator `combine(e1, e2)` for an earlier element `e1 = (a1, b1)`
# and a later one `e2 = (a2, b2)` (complex tensors, elementwise, keeping their precision),
# returning the pair `(a, b)`.

# %%
def combine(e1, e2):
    """(a1, b1) then (a2, b2): the pair (a2 a1, a2 b1 + b2)."""
    # your code here
    raise NotImplementedError('Task 2 (the associative operator): your code here')


# %%
check_scan_operator(combine)

# %% [markdown]
# Folding the sequence with your operator from the left is the loop; the toolkit's
# `linear_recurrence_scan` applies the same operator in $\lceil \log_2 T \rceil$ rounds. We
# check that the three agree on a sequence of $T = 10{,}000$ steps in complex64 and time
# the loop against the scan for growing $T$, on `device` (the GPU where there is one, where
# the gap should be larger; `benchmarks/RESULTS.md` has the CPU figures).

# %%
device = runtime.device()   # the GPU if there is one (COURSE_DEVICE=cpu overrides)
print("device:", device)
H = 64
g = torch.Generator().manual_seed(1)
a = torch.polar(0.9 + 0.099 * torch.rand(H, generator=g), 2 * math.pi * torch.rand(H, generator=g))
b = torch.randn(10_000, H, generator=g, dtype=torch.complex64)
a, b = a.to(device), b.to(device)
x_loop = linear_recurrence_loop(a, b)
x_scan = linear_recurrence_scan(a, b)
e = (a.expand(1, H), b[:1])
for k in range(1, 100):                                     # your operator, first 100 steps
    e = combine(e, (a, b[k]))
rel = lambda x, y: ((x - y).norm() / y.norm()).item()
print(f"scan vs loop, T = 10,000, complex64: relative difference {rel(x_scan, x_loop):.1e}")
print(f"your operator folded over 100 steps vs the loop: {rel(e[1][0], x_loop[99]):.1e}")

# %% tags=["nbval-check-output"]
print("scan equals the loop to 1e-5:", rel(x_scan, x_loop) < 1e-5)
# Expected output:
# scan equals the loop to 1e-5: True

# %%
def best_time(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()      # wait for the GPU before reading the clock
        times.append(time.perf_counter() - start)
    return min(times)


print(f"{'T':>8} {'loop (s)':>10} {'scan (s)':>10} {'speed-up':>9}")
for T in pick([1_000, 10_000, 100_000], [1_000, 10_000]):
    b = torch.randn(T, H, generator=g, dtype=torch.complex64).to(device)
    t_loop = best_time(lambda: linear_recurrence_loop(a, b), 1 if T > 10_000 else 3)
    t_scan = best_time(lambda: linear_recurrence_scan(a, b), 3)
    print(f"{T:>8,} {t_loop:>10.4f} {t_scan:>10.4f} {t_loop / t_scan:>8.0f}x")

# %% [markdown]
# **Question 1** (2 points). The scan does more arithmetic than the loop, yet your table shows it
# several times faster. Why? How does the speed-up change with $T$ in your table, and what
# would you expect on a GPU (or, if you ran on one, on a CPU)?

# %% [markdown]
# _Write your answer here._

# %% [markdown]
# ## Learning modes from data
#
# A bank of three damped oscillators, driven by sparse random kicks, is itself a linear
# recurrence with three complex modes; its output is the sum of their real parts. An LRU
# with eight modes should be able to reproduce it exactly, by moving three of its eigenvalues
# to the teacher's modes. We train it on the mean squared error of the output and record its
# eigenvalues every 25 updates.

# %%
teacher = oscillator_modes(periods=[25, 60, 8], half_lives=[40, 150, 15])
weights = np.array([1.0, 0.8j, 0.6 - 0.3j])
rng = np.random.default_rng(0)
student = LRU(d_in=1, d_hidden=8, d_out=1, r_min=0.8, r_max=0.999, max_phase=math.pi / 2,
              seed=0)
history = train_sequence_model(
    student, lambda step: oscillator_bank(32, 300, teacher, weights, seed=rng),
    n_steps=pick(3000, 300), lr=1e-2, lr_end=1e-3, record=lambda m: m.eigenvalues.numpy(),
    record_every=25, desc="LRU")
u_val, y_val = (torch.from_numpy(v) for v in oscillator_bank(1, 400, teacher, weights, seed=9))
with torch.no_grad():
    y_fit = student(u_val)
print(f"final training loss {history['loss'][-50:].mean():.2e} "
      f"(output variance {y_val.var().item():.2f}); {history['seconds']:.0f} s")

# %%
# Figure: eigenvalues
paths = np.stack(history["records"])                       # (records, 8) complex
fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
axes[0].semilogy(history["loss"], lw=0.5)
axes[0].set_xlabel("update")
axes[0].set_ylabel("mean squared error")
axes[0].set_title("Training loss")
ax = axes[1]
ax.plot(circle.real, circle.imag, "k", lw=0.8)
for j in range(paths.shape[1]):
    ax.plot(paths[:, j].real, paths[:, j].imag, lw=1, color="tab:blue", alpha=0.6)
ax.plot(paths[0].real, paths[0].imag, "o", ms=4, color="0.5", label="start")
ax.plot(paths[-1].real, paths[-1].imag, "o", ms=4, color="tab:blue", label="end")
ax.plot(teacher.real, teacher.imag, "*", ms=12, color="tab:red", label="teacher modes")
ax.set_aspect("equal")
ax.set_xlabel(r"Re $\lambda$")
ax.set_ylabel(r"Im $\lambda$")
ax.set_title("Eigenvalues during training")
ax.legend(loc="lower left", fontsize=8)
ax = axes[2]
ax.plot(u_val[0, :, 0], color="0.7", lw=0.8, label="input kicks $u_k$")
ax.plot(y_val[0, :, 0], lw=1.5, label="teacher output")
ax.plot(y_fit[0, :, 0], "--", lw=1.2, label="LRU output")
ax.set_xlabel("step $k$")
ax.set_ylabel("$y_k$")
ax.set_title("A new input sequence")
ax.legend(fontsize=8)
fig.tight_layout()

found = history["records"][-1]
for lam in teacher:
    j = int(np.argmin(np.abs(found - lam)))
    print(f"teacher mode {lam:.4f} (|.| {abs(lam):.4f}): nearest LRU eigenvalue "
          f"{found[j]:.4f}, distance {abs(found[j] - lam):.4f}")

# %% [markdown]
# **Question 2** (2 points). Your LRU has eight modes, the teacher three. From your figure of the
# eigenvalues and the printed distances: which modes does the trained model use, and what
# became of the others? How could you tell from the trained model alone, without the
# teacher's modes, which of its modes matter?

# %% [markdown]
# _Write your answer here._

# %% [markdown]
# **What to notice.**
# * Three eigenvalues travel to the teacher's modes: the frequency (angle) and the decay
#   (distance from the circle) of each oscillator are read off the trained model directly.
#   The other five modes are not needed. They end up next to a teacher mode, sharing its
#   work, or deep inside the disc, where they forget within a few steps.
# * A mode can only be used by the output through $\mathrm{Re}(C x)$, so one complex mode
#   carries a whole real oscillation, phase included; a real-valued linear RNN would need
#   a pair of conjugate eigenvalues for it.
# * The eigenvalues never left the unit disc: the parametrisation of Task 1 makes that
#   impossible.
#
# ## Other parametrisations of modal dynamics
#
# The LRU's $(\nu_{\log}, \theta_{\log})$ is one choice. Two others store the eigenvalue
# directly, as real and imaginary part or as modulus and angle, and keep it in the unit
# disc by clamping the modulus to at most 1 in the forward pass (with a straight-through
# gradient, so that the optimiser can still move a clamped mode back inside). With the same
# eigenvalues, all three give the same autonomous orbits $x_k = \lambda^k x_0$:

# %%
lam_demo = torch.tensor(oscillator_modes(periods=[30, 12], half_lives=[50, 20]),
                        dtype=torch.complex64)
x0 = torch.ones(2, dtype=torch.complex64)
orbits = {}
for cls in (LRUDynamics, RealImagModalDynamics, AngleMagModalDynamics):
    dyn = cls(2, seed=0)
    dyn.set_eigenvalues(lam_demo)
    with torch.no_grad():
        orbits[cls.__name__] = dyn(x0, 100)
reference = autonomous_orbit(lam_demo, x0, 100)
for name, orbit in orbits.items():
    print(f"{name:>24}: largest difference to lambda^k x0 = "
          f"{(orbit - reference).abs().max().item():.1e}")

clamped = RealImagModalDynamics(1, clip=True, seed=0)
clamped.set_eigenvalues(torch.tensor([1.2 * np.exp(0.3j)], dtype=torch.complex64))
with torch.no_grad():
    amplitude = clamped(torch.ones(1, dtype=torch.complex64), 50).abs()
print(f"a mode set to |lambda| = 1.2 runs with the clamped modulus: |x_49| = "
      f"{amplitude[-1].item():.3f} (unclamped it would be {1.2 ** 49:.0f})")

# %% [markdown]
# Two relatives complete the family. `ModalDynamicsWithMLP` keeps the linear modes but
# modulates them with a small network of their energies $|x_k|^2$, a nonlinearity outside
# the recurrence as in the LRU; `DeepGRU` is the nonlinear baseline, a stack of GRU layers
# run over a batch of sequences, whose state must be computed step by step.

# %%
varying = ModalDynamicsWithMLP(LRUDynamics(8, r_min=0.9, r_max=0.99, seed=0), hidden=(32, 32),
                               seed=0)
x0 = torch.ones(4, 8, dtype=torch.complex64)                # a batch of 4 initial states
with torch.no_grad():
    print("ModalDynamicsWithMLP:", tuple(varying(x0, 50).shape), "(batch, steps, modes)")
gru = DeepGRU(d_model=20, n_vars=3, n_layers=2, seed=0)
with torch.no_grad():
    out = gru(torch.zeros(10, 20, 3), torch.randn(10, 50, 20, 3))
print("DeepGRU:", tuple(out.shape), "(batch, steps, width, channels)")


# %% [markdown]
# ## References
#
# * Blelloch, G. E. (1990). Prefix sums and their applications. Technical report CMU-CS-90-190, School of Computer Science, Carnegie Mellon University.
# * Orvieto, A., Smith, S. L., Gu, A., Fernando, A., Gulcehre, C., Pascanu, R. and De, S. (2023). Resurrecting recurrent neural networks for long sequences. In *Proceedings of the 40th International Conference on Machine Learning*, Proceedings of Machine Learning Research 202.
