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
# # Sparse teacher forcing: reconstructing Lorenz-63 with a shallow PLRNN
#
# So far we have measured dynamical systems that were given. Now we *learn* one from data:
# a recurrent network is trained on a noisy time series of the Lorenz-63 system until, run
# freely, it produces an attractor of its own with the same geometry and the same rhythm.
# This is *dynamical systems reconstruction*{footcite:p}`durstewitz2023`. Its main difficulty
# is that the system is chaotic: gradients through long unrolled sequences explode, and
# short ones do not see the long-term behaviour{footcite:p}`mikhaeil2022`. *Sparse teacher
# forcing* (STF), proposed in the same work, is one answer.
#
# **Goals**
# 1. Know the data: a noisy delay embedding of the x component of Lorenz-63.
# 2. Implement sparse teacher forcing for the shallow PLRNN (**Task 1**).
# 3. Train the model, generate a long orbit from a point on the attractor, and compare it
#    with the data by eye and by two distances: the state-space divergence $D_\mathrm{stsp}$
#    and the power-spectrum distance $D_H$.
#
# The next chapter measures the trained model's maximum Lyapunov exponent.

# %%
import time

import numpy as np
import matplotlib.pyplot as plt
import torch

from course_utils.runtime import pick
from course_utils.data import lorenz_dataset, sample_batch
from course_utils.models import ShallowPLRNN
from course_utils.training import stf_forward_fused, prediction_loss
from course_utils.metrics import state_space_divergence, power_spectrum_distance
from course_utils.reconstruction import STF_DEFAULTS, trained_reconstruction
from course_utils.evaluation import FreeRunDistances
from course_utils.plotting import plot_orbits_3d, plot_series, plot_loss
from course_utils.checks import check_stf_forward

torch.manual_seed(0)
torch.set_num_threads(1)   # the matrices are small: one thread is fastest

# %% [markdown]
# ## The data
#
# The Lorenz-63 system{footcite:p}`lorenz1963`, $\dot x = \sigma (y - x)$, $\dot y = x(\rho - z) - y$,
# $\dot z = xy - \beta z$ with $(\sigma, \rho, \beta) = (10, 28, 8/3)$, is integrated
# accurately and read out every $\Delta t = 0.01$ time units. We pretend to observe only its
# first component $x$, and build from it the *delay embedding*
#
# $$
# \boldsymbol{x}_t = \left(x_t,\; x_{t-d},\; x_{t-2d}\right), \qquad d = 10 \text{ steps},
# $$
#
# which by Takens' theorem{footcite:p}`takens1981` is a faithful (smoothly deformed) picture of the attractor. Each
# column is standardised, and Gaussian observation noise with 5 % of the standard deviation
# is added. `lorenz_dataset` makes this data set from a fixed seed in a few seconds, or
# loads it from `lorenz_data.pt` if that file was made before. Besides the noisy training
# series (100,000 points) it holds a separate *clean* test stretch that we compare with.

# %%
data = lorenz_dataset("lorenz_data.pt")
X_train, X_test = data["train"], data["test"]          # (100000, 3) each, float32
dt = data["settings"]["dt"]
print("training data", tuple(X_train.shape), "| test data", tuple(X_test.shape),
      f"| dt = {dt} time units | delay d = {data['settings']['delay']} steps")

fig = plt.figure(figsize=(12, 4.5))
plot_orbits_3d([X_train[:5000]], ["noisy training data"],
               ax=fig.add_subplot(1, 2, 1, projection="3d"), title="Delay embedding of $x$")
ax = fig.add_subplot(1, 2, 2)
t = np.arange(800) * dt
ax.plot(t, X_train[:800, 0], lw=1, label="noisy (training)")
ax.plot(t, data["train_clean"][:800, 0], lw=1, label="clean")
ax.set_xlabel("time $t$ (time units)")
ax.set_ylabel("$x_t$ (standardised)")
ax.set_title("The first coordinate")
ax.legend();

# %% [markdown]
# ## The model and sparse teacher forcing
#
# The shallow piecewise-linear RNN (PLRNN) has $M$ latent units, a hidden layer of $L$
# units and a read-out of the first $N$ latent units:
#
# $$
# \boldsymbol{z}_t = F_\theta(\boldsymbol{z}_{t-1})
# = \boldsymbol{A} \odot \boldsymbol{z}_{t-1}
# + \boldsymbol{W}_1 \,\mathrm{ReLU}(\boldsymbol{W}_2 \boldsymbol{z}_{t-1} + \boldsymbol{h}_2)
# + \boldsymbol{h}_1, \qquad \hat{\boldsymbol{x}}_t = \boldsymbol{z}_t[1{:}N].
# $$
#
# `course_utils.models.ShallowPLRNN(M, L, N)` implements it, with the parameters
# `A (M,)`, `W1 (M, L)`, `W2 (L, M)`, `h1 (M,)` and `h2 (L,)` named as here. Like the
# PLRNN of {footcite:t}`koppe2019` and its dendritic extension{footcite:p}`brenner2022`, it is
# piecewise linear, which makes its fixed points computable exactly (chapter 07).
#
# Training on subsequences $\boldsymbol{x}_{t:t+T}$ with targets shifted by one step asks
# the model to predict $\boldsymbol{x}_{t'+1}$ from its state at $t'$. Run freely over a
# whole subsequence, a chaotic model would accumulate errors and its gradients would
# explode. With **sparse teacher forcing**, every $\tau_f$ steps the read-out units are
# reset to the data: at the forcing times $t' \in \{0, \tau_f, 2\tau_f, \dots\}$ the state
# $\boldsymbol{z}_{t'}$ is replaced by
#
# $$
# \tilde{\boldsymbol{z}}_{t'} = \left(x_{t',1}, \dots, x_{t',N},\; z_{t',N+1}, \dots, z_{t',M}\right),
# \qquad
# \boldsymbol{z}_{t'+1} =
# \begin{cases} F_\theta(\tilde{\boldsymbol{z}}_{t'}) & t' \text{ a forcing time}, \\
# F_\theta(\boldsymbol{z}_{t'}) & \text{otherwise.} \end{cases}
# $$
#
# The unobserved units $N+1, \dots, M$ are never overwritten: they carry the model's own
# memory across forcing times. The loss is the mean squared error of the read-outs
# $\hat{\boldsymbol{x}}_{t'+1} = \boldsymbol{z}_{t'+1}[1{:}N]$ against $\boldsymbol{x}_{t'+1}$.
# Forcing cuts the product of Jacobians in backpropagation through time after at most
# $\tau_f$ factors in the observed directions, so gradients cannot explode, while between
# forcing times the model still has to run on its own and learn from its own errors.
# Choosing $\tau_f$ near the system's predictability time balances the two.
#
# **Task 1.** Complete `stf_forward(model, x, tau_f)`: for forcing signals `x` of shape
# `(B, T, N)`, start from $\boldsymbol{z} = 0$ (shape `(B, M)`); at each step $t$ force
# the first $N$ units when $t$ is a multiple of `tau_f`, apply the model, and keep the
# read-out `model.observe(z)`. Return the predictions, shape `(B, T, N)`. Build the forced
# state with `torch.cat` rather than by writing into `z` in place: autograd needs the old
# state for the backward pass. The check runs your function on float64 models and on a
# float32 one like the notebook's, so make any new tensor from `x` (as `x.new_zeros`
# does) to keep its dtype.

# %%
def stf_forward(model, x, tau_f):
    """Sparsely forced predictions (B, T, N) of x[:, t + 1] from forcing signals x (B, T, N)."""
    B, T, N = x.shape
    z = x.new_zeros(B, model.M)
    predictions = []
    for t in range(T):
        # BEGIN SOLUTION Task 1 (sparse teacher forcing) [3 points]
        #   [reference: course_utils.training.stf_forward]
        #   [reference: course_utils.training.stf_forward_fused]
        #   [reference: course_utils.training.forced_forward]
        #   [reference: course_utils.training.forced_forward_fused]
        #   [reference: course_utils.training.forcing_times]
        #   [reference: course_utils.training.forcing_weights]
        #   [reference: course_utils.training._FusedForcing]
        if t % tau_f == 0:
            z = torch.cat([x[:, t], z[:, N:]], dim=-1)   # z~_t: data in the read-out units
        z = model(z)
        predictions.append(model.observe(z))
        # END SOLUTION
    return torch.stack(predictions, dim=1)


# %%
check_stf_forward(stf_forward)

# %% [markdown]
# ## The same computation, faster
#
# Autograd records every small operation of the loop above and replays it backwards. For
# a model this small, the bookkeeping costs more than the arithmetic. The course's
# `stf_forward_fused` does the same forward pass and writes out the backward pass through
# time by hand (the chain rule through $F_\theta$, with the gradient into the forced units
# set to zero, since they come from the data). It gives the same loss and gradients:

# %% tags=["nbval-check-output"]
M, L, N = STF_DEFAULTS["M"], STF_DEFAULTS["L"], STF_DEFAULTS["N"]
settings = STF_DEFAULTS["train"]
model = ShallowPLRNN(M, L, N, seed=STF_DEFAULTS["seed"])
x, y = sample_batch(X_train, settings["batch_size"], settings["seq_len"],
                    generator=torch.Generator().manual_seed(1))

timings, grads = {}, {}
for name, forward in (("yours (autograd)", stf_forward), ("fused", stf_forward_fused)):
    prediction_loss(forward(model, x, settings["tau_f"]), y).backward()   # first call, untimed
    start = time.perf_counter()
    for _ in range(5):
        loss = prediction_loss(forward(model, x, settings["tau_f"]), y)
        grads[name] = torch.autograd.grad(loss, list(model.parameters()))
    timings[name] = (time.perf_counter() - start) / 5
# float32 sums in another order differ in their last digits, so each parameter's
# gradient is compared as a whole: its relative error |a - b| / |b| (in norm)
same = all(float((a - b).norm() / b.norm()) < 1e-4
           for a, b in zip(grads["yours (autograd)"], grads["fused"]))
print("same gradients:", same)
# Expected output:
# same gradients: True

# %%
for name, seconds in timings.items():
    print(f"{name:17s} {1000 * seconds:6.1f} ms per update (forward and backward)")

# %% [markdown]
# Both use one CPU thread for the matrix products: `torch.set_num_threads(1)` above for
# autograd, and `stf_forward_fused` limits NumPy's BLAS to one thread itself (with
# `threadpoolctl`), so that the trained model does not depend on the thread count. What
# an update of the training below costs was measured (`benchmarks/forcing_update.py`,
# `benchmarks/RESULTS.md`): on a 2-core CPU one update (batch, forward and backward pass,
# loss, clipping, Adam) took 7.3 ms. Its 800 matrix products alone take 2.5 ms; the
# thousands of small NumPy calls between them in the 200 steps cost about as much again,
# the sums over all steps for the parameter gradients 1.2 ms, and the batch, clipping and
# Adam together about a millisecond. Where a second core is free, a helper process runs
# half of each batch (the sequences are independent), with the same numbers bit for bit;
# with one core it took 9.3 ms. On a GPU each of the 200 sequential steps would be a
# handful of tiny kernels, each launched on its own; a captured CUDA graph launches them
# all at once (`course_utils.graphed_forcing`), but whether that beats the CPU has not
# been measured yet (`benchmarks/forcing_gpu.py` does it), so the training stays on the
# CPU whatever the device.

# %% [markdown]
# ## Training
#
# The default settings: $M$ latent units, $L$ hidden units, batches of subsequences of
# `seq_len` steps, forcing every $\tau_f$ steps, Adam with a learning rate decaying
# exponentially from `lr` to `lr_end`, and the gradient norm clipped. The loop shows a
# progress bar, and stops with a clear message if the loss ever becomes `nan` or `inf`.
# In quick mode (`COURSE_QUICK=1`) it trains for a few hundred updates only, and the
# reconstruction below will be poor.
#
# Every 2,000 updates the run also lets the model run freely for 10,000 steps and measures
# how far that orbit is from the test data ($D_\mathrm{stsp}$ and $D_H$, introduced below;
# chapter 06 plots them), time not counted as training time. The model and this record are
# saved in the folder `trained_models/` under a fingerprint of the settings, the seed, the
# data and the code: chapter 06 compares STF with another method on exactly this model and
# loads it from there instead of training it again, and so does this cell when it runs a
# second time (delete the folder to train anew).
#
# The model is larger than a three-dimensional system seems to need: $M = 20$ latent and
# $L = 200$ hidden units. With half of each the reconstructions *look* right, but their
# maximum Lyapunov exponent (next chapter) comes out 2 to 5 % low, every seed alike. A
# study of the factors (training length, $\tau_f$, noise, learning-rate schedule, $M$ and
# $L$; `benchmarks/RESULTS.md`) found capacity to be the one that matters: a piecewise-linear
# map with few pieces smooths the sharpest stretching of the flow.

# %%
print(f"M = {M}, L = {L}, N = {N};", ", ".join(f"{k} = {v}" for k, v in settings.items()))
# ShallowPLRNN(M, L, N, seed=...) trained by train_stf(model, X_train, **settings), saved
# with its record (D_stsp and D_H every few thousand updates, for chapter 06) in
# trained_models/; a second run, or chapter 06, loads it from there
record = FreeRunDistances(X_test, n_generate=10_000)
model, history = trained_reconstruction(STF_DEFAULTS, X_train, n_steps=pick(None, 300),
                                        record=record, record_every=pick(2_000, 100))
print(f"{len(history['loss'])} updates in {history['seconds']:.0f} s; final loss "
      f"{history['loss'][-100:].mean():.4f}"
      + (f" (loaded from {history['loaded_from']})" if history["loaded_from"] else ""))
torch.save(model.state_dict(), "my_lorenz_plrnn.pt")    # the next chapter can load it
plot_loss(history["loss"], title="Sparse teacher forcing, training loss");

# %% [markdown]
# The loss cannot fall below the noise: predicting the noisy next observation from a
# perfect model leaves the noise variance, $0.05^2 = 0.0025$ per coordinate, plus the
# error the forced noisy states cause one step later.
#
# ## Running the model freely
#
# Now the real test: no more forcing. We take one point of the (clean) test data as the
# observed part of the initial state, set the other $M - N$ latent units to zero, and
# iterate the model for a long time. We drop the first 1,000 steps, in which the
# unobserved units settle.

# %%
# Figure: orbits
n_generate = pick(100_000, 20_000)
transient = 1000
Z = model.generate(X_test[0], transient + n_generate)[transient:]    # (n_generate, M)
X_gen = model.observe(Z).numpy()
X_true = X_test[:n_generate].numpy()

fig = plt.figure(figsize=(12, 5))
plot_orbits_3d([X_true], ["test data"], ax=fig.add_subplot(1, 2, 1, projection="3d"),
               title="Lorenz-63, delay embedding")
plot_orbits_3d([X_gen], ["generated by the PLRNN"], ax=fig.add_subplot(1, 2, 2,
               projection="3d"), title="Free-running PLRNN")
fig.tight_layout()

# %% [markdown]
# **Question 1** (2 points). Do the model's free-running orbits follow Lorenz-63? Judge from your
# figure: which features of the attractor does the generated orbit have, which does it
# lack, and would you expect it to stay close to the test orbit in time?
#
# <!-- BEGIN SOLUTION Question 1 (free-running orbits) [2 points] [figures: orbits] -->
# After full training, yes, in the sense that matters for a reconstruction. The generated
# orbit lies on a two-winged set like the delay embedding of the test data: the hole in the
# centre of each wing, the same extent in all three coordinates, and switches between the
# wings at irregular times. It is clean, although the model was trained on noisy data: the
# noise is not part of the dynamics it learned.
#
# It does not follow the test orbit in time, and it should not be expected to. Both are
# chaotic orbits: with $\lambda_{\max} \approx 0.9$ per time unit a difference in the
# state grows by a factor $e$ about every 1.1 time units, so that one of $10^{-3}$ reaches
# the size of the attractor within some 8 time units, and from then on the two are
# unrelated points of the same attractor (the next figure shows it).
# A reconstruction is judged by the geometry and the statistics of the motion on the
# attractor ($D_\mathrm{stsp}$, $D_H$ below) and by its invariants ($\lambda_{\max}$,
# next chapter), not by agreement point by point. In quick mode, after a few hundred
# updates, the figure typically shows no such attractor yet (a cycle, a point, or a cloud
# of the wrong size), and an answer from that figure should say so.
# <!-- RUBRIC
# [1 point] judges the geometry from the own figure: two wings with their holes, extent, switching (or what is missing)
# [1 point] tells short-term divergence (chaos) from long-term statistics: no point-by-point agreement is expected
# -->
# <!-- END SOLUTION -->

# %%
Z_start = model.generate(X_test[0], 1500)
plot_series([X_test[:1500], model.observe(Z_start)], ["test data", "PLRNN from x_0"], dt=dt,
            names=["$x_t$", "$x_{t-d}$", "$x_{t-2d}$"],
            title="The first 15 time units from the same initial observation");

# %% [markdown]
# **What to notice.** The two series start together and agree for a while, then drift
# apart: the phase of the oscillation and the timing of the switches between the wings
# differ. That is not a failure. Two orbits of a chaotic system that start a little apart
# separate like $e^{\lambda_{\max} t}$, and with $\lambda_{\max} \approx 0.9$ per time unit
# an initial difference of $10^{-3}$ reaches the size of the attractor within about 8 time
# units. A reconstruction is judged by what does not depend on the initial condition: the
# shape of the attractor, the statistics of the motion on it, and its invariants.
#
# ## Measuring the reconstruction
#
# **State-space divergence**{footcite:p}`koppe2019`. Cover the range of the true data (padded by 0.1 standard
# deviations) with $30^3$ boxes, count the fraction of points of each orbit in each box
# ($p_k$ true, $q_k$ generated, with a pseudo-count of $10^{-5}$ per box), and take the
# Kullback-Leibler divergence
#
# $$
# D_\mathrm{stsp} = \sum_k p_k \ln \frac{p_k}{q_k}.
# $$
#
# **Power-spectrum distance.** For each coordinate, z-score both series, take the power
# spectrum $|\mathrm{rfft}|^2$, smooth it with a Gaussian kernel of 20 frequency bins,
# normalise it to a probability distribution, and take the Hellinger distance
# $H(p, q) = \sqrt{1 - \sum_f \sqrt{p_f q_f}}$; $D_H$ is its mean over the coordinates.
#
# Both are 0 for identical orbits. Even a perfect model does not reach 0: two different
# stretches of the true system differ by chance. The clean training stretch against the test
# stretch shows this floor.

# %%
floor = data["train_clean"][:n_generate].numpy()
print(f"{'':28s}{'D_stsp':>8s}{'D_H':>8s}")
print(f"{'PLRNN vs test data':28s}{state_space_divergence(X_true, X_gen):8.3f}"
      f"{power_spectrum_distance(X_true, X_gen):8.3f}")
print(f"{'true system vs test data':28s}{state_space_divergence(X_true, floor):8.3f}"
      f"{power_spectrum_distance(X_true, floor):8.3f}")

# %% [markdown]
# **Question 2** (2 points). Why are the generated and the test series compared by $D_\mathrm{stsp}$
# and $D_H$, and not by their mean squared error over the whole run? And what does the
# second row of your table tell you about how to read the first?
#
# <!-- BEGIN SOLUTION Question 2 (why invariant statistics) [2 points] -->
# The mean squared error compares the two series point by point in time. Two orbits of a
# chaotic system separate within a few time units, so beyond that the error of even a
# perfect model is that of two independent points of the attractor, about twice the
# variance of each coordinate: 2 in standardised units (the course's trained model, run
# freely for 100,000 steps, gives 1.94). The mean squared error cannot tell a perfect model
# from any other with the right variance. $D_\mathrm{stsp}$ compares where the two orbits
# spend their time in the state space, $D_H$ their rhythm (the power spectrum of each
# coordinate); both are properties of the attractor, the same whatever the initial state.
#
# The second row, the true system against the test data, is the floor: two stretches of
# the true system differ by chance, because they are finite (in full mode about 0.08 for
# $D_\mathrm{stsp}$ and 0.085 for $D_H$). The model's row is read against it, not against
# 0: a model at or near the floor is as good as these measures can tell (the course's
# trained model gives about 0.11 and 0.07), and a value below the floor is chance too.
# <!-- RUBRIC
# [1 point] pointwise errors of a chaotic model grow past the predictability horizon, whatever its quality
# [1 point] says what D_stsp and D_H compare (occupation, spectrum) and reads the second row as the floor
# -->
# <!-- END SOLUTION -->

# %% [markdown]
# **What to notice.**
# * After full training the generated attractor has the two wings, the hole in each, and
#   the switching of Lorenz-63; $D_\mathrm{stsp}$ is a small fraction of the value for a
#   Gaussian cloud with the data's covariance (about 2) and $D_H$ is close to the floor.
# * The model was trained on noisy data but generates a clean orbit: the noise is not part
#   of the dynamics it learned.
# * Try other settings: a forcing interval $\tau_f$ of 1 (classical teacher forcing at every
#   step{footcite:p}`williams1989`) trains a good one-step predictor that may still generate
#   the wrong long-term behaviour; a very large $\tau_f$ lets gradients explode.
# * Generalized teacher forcing{footcite:p}`hess2023` (chapter 06) forces at every step, but only
#   partly: the state is pulled towards the data by a weighted average of the two, which
#   keeps the gradients bounded while the model still runs mostly on its own.
#
# The next chapter asks whether the model is chaotic in the right amount: its maximum
# Lyapunov exponent should be close to Lorenz-63's 0.906 per time unit.


# %% [markdown]
# ## References
#
# ```{footbibliography}
# ```
