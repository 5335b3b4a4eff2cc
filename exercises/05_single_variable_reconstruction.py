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
# # Reconstruction from a single variable, with a warm-up
#
# In the STF chapter the model saw a three-dimensional delay embedding: we had built the
# coordinates of the attractor for it. Can a PLRNN find them itself, from the scalar series
# $x_t$ alone? By Takens' theorem (Takens 1981) the information is there: the past
# of $x$ determines the state. Sauer et al. (1991) made this precise for attractors of
# fractal (box-counting) dimension $d$: almost every delay map into more than $2d$
# dimensions is one-to-one on the attractor. The model has to store what it needs of that past in its unobserved latent units.
#
# **Goals**
# 1. Train a PLRNN with a single read-out unit, $N = 1$, on the $x$ component of the data.
# 2. Give the unobserved units a *warm-up*: force the read-out at every step for the first
#    $T_W$ steps of each subsequence, so that the latent state has settled before the
#    model is asked to predict (**Task 1**).
# 3. Check the reconstruction: the generated series against the data, the power spectra,
#    and the maximum Lyapunov exponent.

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

from course_utils.runtime import pick
from course_utils.data import lorenz_dataset, delay_embed
from course_utils.evaluation import model_max_lyapunov
from course_utils.attractors import orbit_fates
from course_utils.metrics import power_spectrum_distance, state_space_divergence
from course_utils.reconstruction import STF_X_DEFAULTS, train_reconstruction
from course_utils.plotting import plot_loss, plot_orbits_3d
from course_utils.checks import check_stf_forward_warmup

LAMBDA_TRUE = 0.906     # Lorenz-63, per time unit
torch.manual_seed(0)
torch.set_num_threads(1)

# %% [markdown]
# ## The data: one column
#
# The first column of the delay-embedded data set is the standardised, noisy $x_t$. That
# is all the model gets now.

# %%
data = lorenz_dataset("lorenz_data.pt")
x_train = data["train"][:, :1]                 # (100000, 1): x_t only
x_test = data["test"][:, :1]
dt = data["settings"]["dt"]
print("training data", tuple(x_train.shape), f"| dt = {dt} time units")

# %% [markdown]
# ## Why a warm-up
#
# With $N = 1$, forcing sets one of the $M$ latent units to the data; the other $M - 1$
# start each training subsequence at zero, which is not a state of the model's attractor.
# With sparse forcing alone the first predictions of every subsequence would be made from
# this wrong state, and the model would learn to cope with an artificial situation that
# never occurs when it runs freely. The remedy is a warm-up of $T_W$ steps at the start of
# each subsequence, in which the read-out is forced at *every* step: the model is driven by
# the data, and its unobserved units converge to the values that go with the recent past
# of $x$. The predictions of the warm-up are left out of the loss. After it, sparse forcing
# continues as before, at $t = T_W, T_W + \tau_f, T_W + 2\tau_f, \dots$:
#
# $$
# \text{forced at } t \iff t < T_W \;\text{ or }\; (t - T_W) \bmod \tau_f = 0,
# \qquad
# \mathcal{L} = \frac{1}{B\,(T - T_W)\,N} \sum_{b} \sum_{t = T_W}^{T-1}
# \|\boldsymbol{x}_{t+1} - \hat{\boldsymbol{x}}_{t+1}\|^2 .
# $$
#
# **Task 1.** Complete `stf_forward_warmup(model, x, tau_f, warmup)`. It returns the
# predictions for all $T$ steps, shape `(B, T, N)`; the training loop's loss
# (`course_utils.training.prediction_loss`) drops the first `warmup` of them.

# %%
def stf_forward_warmup(model, x, tau_f, warmup):
    """Predictions (B, T, N) with forcing at every t < warmup, then every tau_f steps."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        # your code here
        raise NotImplementedError('Task 1 (forcing with a warm-up): your code here')
        z = model(z)
        predictions.append(model.observe(z))
    return torch.stack(predictions, dim=1)


# %%
check_stf_forward_warmup(stf_forward_warmup)

# %% [markdown]
# **Question 1** (2 points). In chapter 03 the unobserved units also started every subsequence at
# zero, and there was no warm-up. Why does the model that sees $x$ alone need one, and
# how long should the warm-up be at least?

# %% [markdown]
# _Write your answer here._

# %% [markdown]
# ## Training
#
# With one observed unit the model needs more latent units than before, to hold the
# delayed information; the other settings are as in the STF chapter, plus the warm-up.
# `train_stf` (called by `train_reconstruction`) runs your forcing schedule in its fast,
# fused form (its `warmup` argument).
# In quick mode it trains for a few hundred updates only.

# %%
M, L, N = STF_X_DEFAULTS["M"], STF_X_DEFAULTS["L"], STF_X_DEFAULTS["N"]
settings = STF_X_DEFAULTS["train"]
print(f"M = {M}, L = {L}, N = {N};", ", ".join(f"{k} = {v}" for k, v in settings.items()))
# ShallowPLRNN(M, L, N, seed=...) trained by train_stf(model, x_train, **settings):
model, history = train_reconstruction(STF_X_DEFAULTS, x_train, n_steps=pick(None, 300))
print(f"{len(history['loss'])} updates in {history['seconds']:.0f} s; final loss "
      f"{history['loss'][-100:].mean():.4f}")
plot_loss(history["loss"], title="Single variable, STF with warm-up");

# %% [markdown]
# ## The generated series
#
# To start the free run we do what the warm-up does: drive the model with the first
# $T_W$ test observations, forcing its read-out at every step, and then let it go. The
# first latent unit is the model's $x$.

# %%
warmup = settings["warmup"]
with torch.no_grad():
    z = torch.zeros(1, M)
    for t in range(warmup):
        z = model(torch.cat([x_test[t:t + 1], z[:, N:]], dim=-1))
n_generate = min(pick(100_000, 20_000), len(x_test) - warmup)    # as long as the data
Z = model.generate(None, n_generate, z0=z[0])                   # (n_generate, M)
x_gen = model.observe(Z).numpy()                                # the first latent unit
x_true = x_test[warmup:warmup + n_generate].numpy()

fig, ax = plt.subplots(figsize=(11, 3.2))
t = np.arange(2000) * dt
ax.plot(t, x_true[:2000, 0], lw=1, label="test data $x_t$")
ax.plot(t, x_gen[:2000, 0], lw=1, label="first latent unit $z_{t,1}$ (generated)")
ax.set_xlabel("time $t$ (time units)")
ax.set_ylabel("$x$ (standardised)")
ax.set_title("After the warm-up the model runs freely")
ax.legend(loc="upper right");

# %% [markdown]
# The generated series alone does not show an attractor, but its own delay embedding
# does: we embed the generated $z_{t,1}$ exactly as the data were embedded, and compare.

# %%
# Figure: embedding
delay = data["settings"]["delay"]
E_gen = delay_embed(x_gen[:, 0], delay)
E_true = delay_embed(x_true[:, 0], delay)
fig = plt.figure(figsize=(12, 5))
plot_orbits_3d([E_true], ["test data"], ax=fig.add_subplot(1, 2, 1, projection="3d"),
               title="Delay embedding of the data")
plot_orbits_3d([E_gen], ["generated"], ax=fig.add_subplot(1, 2, 2, projection="3d"),
               title="Delay embedding of the generated $z_1$")
fig.tight_layout()

# %% [markdown]
# ## Quality: spectrum, geometry and the maximum Lyapunov exponent
#
# The power-spectrum distance $D_H$ compares the rhythm of $x$ directly; the state-space
# divergence $D_\mathrm{stsp}$ compares the embedded orbits. $\lambda_{\max}$ is computed
# by the QR method along eight orbits on the model's attractor (in float64, with the
# analytic Jacobian) and divided by $\Delta t$.

# %%
D_H = power_spectrum_distance(x_true, x_gen)
D_stsp = state_space_divergence(E_true, E_gen)
starts = Z[:: n_generate // 8][:8]
lam = model_max_lyapunov(model, starts, n_steps=20_000, transient=1000, dt=dt)
lam_max = lam.mean().item()
print(f"D_H = {D_H:.3f}, D_stsp (embedded) = {D_stsp:.3f}")
print(f"lambda_max = {lam_max:.3f} +- {lam.std().item():.3f} per time unit; truth "
      f"{LAMBDA_TRUE}, relative error {100 * abs(lam_max - LAMBDA_TRUE) / LAMBDA_TRUE:.1f} %")
print("per orbit:", " ".join(f"{v:.3f}" for v in lam.tolist()))
# Chaotic for good? (chapter 04): follow these 8 orbits and 56 more far beyond the window.
model64 = copy.deepcopy(model).double()
followed = torch.cat([starts, Z[n_generate // 112 :: n_generate // 56][:56]])
fates = orbit_fates(model64, followed.double(), horizon=pick(100_000, 5_000),
                    jacobian=model64.jacobian, dt=dt)
ends = sorted({fates.describe(b) for b in range(len(fates.kind))})
n_chaotic = sum(kind == "chaotic" for kind in fates.kind)
print(f"after {fates.horizon:,} steps the {len(followed)} orbits are: {', '.join(ends)} "
      f"({n_chaotic} still chaotic); every orbit still chaotic: {fates.all_chaotic}")

# %% [markdown]
# **Question 2** (3 points). Did the model that saw only $x$ reconstruct Lorenz-63, and about as well
# as the model of chapters 03 and 04 that saw the delay embedding? Judge from your
# numbers ($D_H$, $D_\mathrm{stsp}$ of the embedded series, $\lambda_{\max}$ with its
# spread over the orbits, where the 64 orbits end up) and from your figure of the delay
# embeddings.

# %% [markdown]
# _Write your answer here._

# %% [markdown]
# **What to notice.**
# * From $x$ alone the model generates a series with the rhythm of Lorenz-63: oscillations
#   that grow around one wing and then switch to the other, at irregular times. Its delay
#   embedding has the two-winged shape of the embedded data.
# * The exponent is close to Lorenz-63's: the latent units have built a state space in
#   which the dynamics are chaotic at the right rate. The model never saw $y$ or $z$. In
#   full mode every one of the 64 orbits followed is still chaotic after 100,000 steps,
#   so the mean is the exponent of one chaotic attractor, not an average over transients
#   (chapter 04).
# * Without the warm-up (set `warmup` to 0 in the settings and train again) the first
#   predictions of every subsequence come from an arbitrary latent state, training is
#   slower, and the reconstruction is usually worse.
# * The single-variable problem is harder in principle: the model must build the missing
#   coordinates itself. With these settings it still does about as well as the embedded
#   one, but it needs the warm-up and enough latent units; with fewer updates or another
#   seed, expect more variation than in the STF chapter.


# %% [markdown]
# ## References
#
# * Sauer, T., Yorke, J. A. and Casdagli, M. (1991). Embedology. *Journal of Statistical Physics*, 65(3–4), 579–616.
# * Takens, F. (1981). Detecting strange attractors in turbulence. In D. Rand and L.-S. Young (eds.), *Dynamical Systems and Turbulence, Warwick 1980*, Lecture Notes in Mathematics 898, pp. 366–381. Springer.
