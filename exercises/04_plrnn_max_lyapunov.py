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
# # The maximum Lyapunov exponent of a trained RNN: naive product vs QR
#
# A reconstruction that looks right may still be wrong in a quantitative way: it could be
# periodic where the system is chaotic, or chaotic at the wrong rate. The maximum Lyapunov
# exponent is an invariant of the dynamics, the same for every orbit on the attractor and
# unchanged by a smooth change of coordinates such as a delay
# embedding (Eckmann and Ruelle 1985). So the PLRNN
# trained on the delay-embedded Lorenz-63 data should have the exponent of Lorenz-63,
# $\lambda^*_{\max} = 0.906$ per time unit.
#
# **Goals**
# 1. See why the definition of $\lambda_{\max}$, implemented literally, fails on a chaotic
#    orbit (**Question 1** to argue, then **Task 1** and **Task 2** to verify the argument).
# 2. Compute $\lambda_{\max}$ of the trained model with the QR method, in the right units,
#    and compare it with the truth (**Question 2**: is the difference more than chance?).

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
import copy

import numpy as np
import matplotlib.pyplot as plt
import torch

from course_utils import runtime
from course_utils.runtime import pick
from course_utils.data import lorenz_dataset
from course_utils.pretrained import load_pretrained_plrnn
from course_utils.lyapunov import max_lyapunov, predicted_overflow_step
from course_utils.attractors import orbit_fates
from course_utils.checks import check_plrnn_jacobians, check_naive_norms

LAMBDA_TRUE = 0.906     # Lorenz-63 at (10, 28, 8/3), per time unit, natural log
torch.set_num_threads(1)
device = runtime.device()   # the GPU if there is one (COURSE_DEVICE=cpu overrides)
print("device:", device)

# %% [markdown]
# ## The model
#
# We use the PLRNN that ships with the course, trained with the default settings of the
# previous chapter (it is small: a state dict of about 8,000 numbers). If you trained
# your own model there, set `USE_MY_MODEL = True` to measure yours instead.

# %%
USE_MY_MODEL = False
model = load_pretrained_plrnn()
if USE_MY_MODEL:
    model.load_state_dict(torch.load("my_lorenz_plrnn.pt", weights_only=True))
print(model)

data = lorenz_dataset("lorenz_data.pt")
dt = data["settings"]["dt"]                  # the read-out interval of the data
print(f"read-out interval dt = {dt} time units")

# %% [markdown]
# ## The definition, and what goes wrong
#
# For an orbit $z_1, \dots, z_T$ of a map with Jacobians
# $J_t = \partial z_t / \partial z_{t-1}$, the maximum Lyapunov exponent is
#
# $$
# \lambda_{\max} = \lim_{T \to \infty} \frac{1}{T} \ln \left\| J_T J_{T-1} \cdots J_2 \right\|_2 .
# $$
#
# **Question 1** (3 points). What happens when you compute this product literally, one matrix after the
# other, along a *chaotic* orbit? Think about the size of the numbers, and about the
# directions in the product. Write down your argument before you read on.

# %% [markdown]
# _Write your answer here._

# %% [markdown]
# ## A chaotic orbit and its Jacobians
#
# We generate an orbit of the model from a point of the data, drop a transient so that it
# lies on the model's attractor, and keep $T$ states in float32, the precision of the
# trained model.

# %%
T = 15_000
Z_all = model.generate(data["test"][0], 1000 + T)
Z = Z_all[1000:]                                        # (T, M): z_1, ..., z_T
print("orbit", tuple(Z.shape), Z.dtype)

# %% [markdown]
# **Task 1.** Compute the Jacobians $J_t = \partial F_\theta / \partial z$ at every state of
# the orbit, `Z[t]`, as a tensor of shape `(T, M, M)` in the dtype of `Z`, with
# `torch.autograd.functional.jacobian`. Calling it once per state works but is slow for
# 15,000 states. A faster way: row $t$ of `model(Z)` depends on `Z[t]` only, so the
# Jacobian of the sum over the rows, `model(Z).sum(dim=0)` (shape `(M,)`), with respect to
# `Z` (shape `(T, M)`) has shape `(M, T, M)` and holds exactly the blocks $J_t$, with the
# time index in the middle. Pass `vectorize=True` to compute it in one batched sweep.

# %%
def orbit_jacobians(model, Z):
    """The Jacobians dF/dz at the states Z (T, M): shape (T, M, M)."""
    # your code here
    raise NotImplementedError('Task 1 (Jacobians along the orbit): your code here')


# %%
check_plrnn_jacobians(orbit_jacobians)
J = orbit_jacobians(model, Z).detach()
print("Jacobians", tuple(J.shape), J.dtype)

# %% [markdown]
# **Task 2.** Store the norms of the running products as the exercise sheet defines them,
# starting from the *end* of the orbit:
#
# $$
# \|J_T\|_2,\; \|J_T J_{T-1}\|_2,\; \|J_T J_{T-1} J_{T-2}\|_2,\; \dots,\;
# \|J_T \cdots J_1\|_2,
# $$
#
# computed in the dtype of the Jacobians (float32 here): multiply the next earlier Jacobian
# on the right, and take the spectral norm, `torch.linalg.matrix_norm(P, ord=2)`. Once the
# product is no longer finite, the remaining entries are `inf` (an SVD of a matrix with
# `inf` or `nan` fails, so stop multiplying there). Return a 1-D tensor of length $T$.

# %%
def naive_norms(J):
    """||J_T||, ||J_T J_{T-1}||, ..., ||J_T ... J_1|| (spectral norms), shape (T,)."""
    T = J.shape[0]
    norms = torch.full((T,), float("inf"), dtype=J.dtype)
    # your code here
    raise NotImplementedError('Task 2 (the naive product): your code here')
    return norms


# %%
check_naive_norms(naive_norms)

# %%
norms = naive_norms(J)
finite = torch.isfinite(norms)
n_overflow = int(finite.sum())                          # products before the first inf
print(f"the product of {n_overflow + 1} Jacobians is the first that is not finite "
      f"in float32 (of T = {T})")

# %% [markdown]
# ## The QR method
#
# The toolkit's `max_lyapunov` carries one tangent vector along the orbit and renormalises
# it at every step, $v_{t+1} = J_t v_t / \|J_t v_t\|$, adding up the logarithms of the
# stretching factors:
#
# $$
# \lambda_{\max} = \frac{1}{n\,\Delta t} \sum_{t=1}^{n} \ln \|J_t v_t\| .
# $$
#
# This is the QR method for a single direction (Benettin et al. 1980a; Benettin et al. 1980b). It
# never overflows,
# and after a few steps $v_t$ has turned into the most expanding direction. We run it in
# float64 on eight orbits of 20,000 steps, each after a transient of 1,000 steps. The
# model's time step is one read-out interval, $\Delta t = 0.01$ time units, so the exponent
# per step is divided by $\Delta t$ to give it per time unit, the unit of the true value.

# %%
model64 = copy.deepcopy(model).double().to(device)
starts = Z[:: T // 8][:8].double().to(device)         # 8 states on the attractor
n_qr = 20_000
lam, running = max_lyapunov(model64, starts, n_qr, jacobian=model64.jacobian,
                            transient=1000, dt=dt, return_history=True)
lam_max = lam.mean().item()
rel_error = abs(lam_max - LAMBDA_TRUE) / LAMBDA_TRUE
print(f"lambda_max = {lam_max:.3f} +- {lam.std().item():.3f} per time unit "
      f"(mean +- sd over {len(lam)} orbits of {n_qr} steps)")
print(f"truth {LAMBDA_TRUE}: relative error {100 * rel_error:.1f} %")

# %% tags=["nbval-check-output"]
print("within 5 % of the truth:", rel_error < 0.05)
# Expected output:
# within 5 % of the truth: True

# %% [markdown]
# **Question 2** (3 points). How large is the relative error of your $\lambda_{\max}$, and is its
# difference from the truth explained by the scatter of the eight orbits? Compare the
# difference with the standard error of the mean, $s / \sqrt{8}$, where $s$ is the standard
# deviation printed above, and say what the comparison tells you about the model.

# %% [markdown]
# _Write your answer here._

# %%
fig, (ax_naive, ax_qr) = plt.subplots(1, 2, figsize=(12, 4))
n = np.arange(1, T + 1)
ax_naive.semilogy(n[finite], norms[finite].numpy(), lw=1, label=r"$\|J_T \cdots J_{T-n+1}\|_2$")
lam_step = lam_max * dt                                 # per step
n_star = predicted_overflow_step(lam_step, "float32")
ax_naive.semilogy(n, np.exp(n * lam_step), "--", lw=1,
                  label=r"$e^{n \lambda_{\max} \Delta t}$")
ax_naive.axhline(torch.finfo(torch.float32).max, color="gray", lw=0.8)
ax_naive.axvline(n_star, color="tab:red", ls=":", label=f"predicted overflow, n = {n_star:.0f}")
ax_naive.set_ylim(1e-2, 1e45)
ax_naive.set_xlabel("factors in the product, $n$")
ax_naive.set_ylabel("spectral norm (float32)")
ax_naive.set_title("The naive product")
ax_naive.legend(loc="upper left")
steps = np.arange(1, n_qr + 1)
for b in range(len(lam)):
    ax_qr.plot(steps[9:], running[b, 9:].cpu().numpy(), lw=0.7)
ax_qr.axhline(LAMBDA_TRUE, color="k", ls="--", lw=1, label=f"Lorenz-63, {LAMBDA_TRUE}")
ax_qr.set_xscale("log")
ax_qr.set_xlabel("steps averaged, $n$")
ax_qr.set_ylabel(r"running $\lambda_{\max}$ (per time unit)")
ax_qr.legend()
ax_qr.set_title("QR method: running estimates, 8 orbits")
fig.tight_layout()
print(f"predicted overflow after n* = ln(max float32) / lambda_max = 88.72 / "
      f"{lam_step:.5f} = {n_star:.0f} factors; observed: {n_overflow + 1}")

# %% [markdown]
# **What to notice.**
# * The norms of the naive product grow along the line $e^{n \lambda_{\max} \Delta t}$, with
#   wiggles where the orbit passes regions of stronger or weaker stretching, and then stop:
#   the product has overflowed float32, close to the predicted step. In float64 the same
#   happens about eight times later; a longer orbit always gets there. The same growth
#   is why gradients through a chaotic orbit explode in training (Mikhaeil et al. 2022):
#   backpropagation through time multiplies the same Jacobians.
# * The QR estimates settle within a few thousand steps, and the eight orbits agree: the
#   exponent is a property of the attractor, not of the orbit. The remaining spread
#   shrinks like $1/\sqrt{n}$.
# * Forgetting to divide by $\Delta t$ gives about 0.009, a hundred times too small: the
#   model's exponent is per step, the truth per time unit.
# * A reconstruction with the right attractor and the wrong $\lambda_{\max}$ would predict
#   the wrong horizon of predictability. The shipped model is within a few per cent;
#   measured over eight orbits of 100,000 steps (`benchmarks/RESULTS.md`), which give
#   0.879 to 0.903, its $\lambda_{\max}$ is 0.893 per time unit, 1.4 % below the truth.

# %% [markdown]
# ## Chaotic for good, or only for a while?
#
# The mean above is only meaningful if the eight orbits do the same thing in the long run.
# A trained model can be chaotic for thousands of steps and still have no chaotic
# attractor: its chaotic set may be a *chaotic saddle*, which every orbit leaves sooner or
# later for a stable fixed point or cycle (Lai and Tél 2011). This *transient chaos* is a
# common failure of reconstructions, and a treacherous one: over a window of 20,000 steps
# most orbits still stretch perturbations, their exponents are positive, and the average
# looks like a respectable $\lambda_{\max}$, say 0.67, which is the exponent of no orbit
# at all. The free-running orbit looks right too, as long as one does not run it long
# enough, and $D_\mathrm{stsp}$ and $D_H$, measured over a stretch of the same length, do
# not see it either.
#
# So we look at each orbit's exponent, and follow orbits far beyond the window:
# `orbit_fates` runs each one for 100,000 steps and then asks what it does next. Does it
# come back to where it was after p steps (a fixed point for p = 1, a cycle of period p)?
# Does it still stretch perturbations ($\lambda_{\max}$ over the next 5,000 steps above
# zero: chaotic)? A model passes only if every orbit is still chaotic.
#
# Eight orbits are too few for that verdict. Suppose one orbit in ten leaves the chaotic
# set within the horizon: all eight stay with probability $0.9^8 \approx 0.43$, so the
# leak goes unseen almost half the time. Following orbits costs no QR steps, so we follow
# 64 (the eight with exponents and 56 more from other states of the same free run), which
# miss such a leak with probability $0.9^{64} \approx 0.001$.

# %%
print("lambda_max per orbit:", " ".join(f"{v:.3f}" for v in lam.tolist()), "per time unit")
followed = torch.cat([starts, Z[T // 112 :: T // 56][:56].double().to(device)])
fates = orbit_fates(model64, followed, horizon=pick(100_000, 5_000),
                    jacobian=model64.jacobian, dt=dt)
for b in range(len(starts)):
    print(f"orbit {b}: after {fates.horizon:,} steps {fates.describe(b)} "
          f"(lambda_max {fates.lambda_end[b]:.3f} per time unit over the next 5,000 steps)")
n_chaotic = sum(kind == "chaotic" for kind in fates.kind)
print(f"all {len(followed)} orbits followed: {n_chaotic} still chaotic after "
      f"{fates.horizon:,} steps")

# %% tags=["nbval-check-output"]
print("every orbit still chaotic:", fates.all_chaotic)
# Expected output:
# every orbit still chaotic: True

# %% [markdown]
# **What to notice.** The shipped model passes: all 64 orbits are still chaotic after
# 100,000 steps, the eight measured ones with exponents of the same size as in the first
# 20,000 (an estimate over 5,000 steps scatters more than one over 20,000). Had one orbit
# ended on a stable fixed point, its exponent after the horizon would be negative, and no
# mean over the eight would mean anything: the right report is "transient chaos, k of 64
# orbits leave". This is not hypothetical: in the run for this book, chapter 06 trains a
# model with chapter 03's settings whose exponents over 20,000 steps look right on every
# orbit, while 7 of the 64 orbits it follows leave the chaotic set within 100,000 steps,
# most of them for a stable fixed point.
# `course_utils.evaluation.evaluate_reconstruction` makes this check for every
# reconstruction (64 orbits followed, 8 with exponents), reports the exponents per orbit
# and where the orbits go (matching a fixed point with the model's exact fixed points,
# chapter 07), and gives a mean $\lambda_{\max}$ only when every orbit is still chaotic.


# %% [markdown]
# ## References
#
# * Benettin, G., Galgani, L., Giorgilli, A. and Strelcyn, J.-M. (1980a). Lyapunov characteristic exponents for smooth dynamical systems and for Hamiltonian systems; a method for computing all of them. Part 1: Theory. *Meccanica*, 15(1), 9–20.
# * Benettin, G., Galgani, L., Giorgilli, A. and Strelcyn, J.-M. (1980b). Lyapunov characteristic exponents for smooth dynamical systems and for Hamiltonian systems; a method for computing all of them. Part 2: Numerical application. *Meccanica*, 15(1), 21–30.
# * Eckmann, J.-P. and Ruelle, D. (1985). Ergodic theory of chaos and strange attractors. *Reviews of Modern Physics*, 57(3), 617–656.
# * Lai, Y.-C. and Tél, T. (2011). Transient Chaos: Complex Dynamics on Finite-Time Scales. Applied Mathematical Sciences 173. Springer. https://doi.org/10.1007/978-1-4419-6987-3
# * Mikhaeil, J. M., Monfared, Z. and Durstewitz, D. (2022). On the difficulty of learning chaotic dynamics with RNNs. In *Advances in Neural Information Processing Systems 35 (NeurIPS 2022)*.
