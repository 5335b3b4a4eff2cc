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
# # The Lyapunov spectrum of a trained Keras RNN
#
# In the Hénon chapter the map was given and its exponents were known. Here the map is
# *learned*: a Keras `SimpleRNN` trained on a small memory task. Driven by its input
# sequence, the network is a dynamical system $h_t = F(h_{t-1}, x_t)$, and its Lyapunov
# spectrum tells us how it treats its own past: how fast differences in the hidden state
# are forgotten, and whether some survive.
#
# **Goals**
# 1. Train a small model with a `SimpleRNN(32, tanh)` layer on a toy task.
# 2. Write the Jacobian of the recurrent cell, evaluated where it belongs: at the state
#    *before* the step, with the input and the bias in the pre-activation.
# 3. Accumulate the QR method over a batch of input sequences, and compare it with the
#    course's compiled implementation.
# 4. See how the estimates depend on the transient and on the sequence length, and read
#    the spectra of an untrained, a trained and an over-excited network.
#
# **Your tasks** are *Task 1* (the Jacobian) and *Task 2* (the QR accumulation). After each,
# a check cell tells you whether your code is right, and if not, what is wrong. Two written
# questions ask you to interpret the spectra.

# %%
import time

import numpy as np
import matplotlib.pyplot as plt

from course_utils.runtime import import_tensorflow, pick, progress
from course_utils.checks import check_simple_rnn_jacobian, check_rnn_qr
from course_utils.lyapunov import kaplan_yorke_dimension
from course_utils.plotting import plot_running_exponents

tf = import_tensorflow(floatx="float64")  # quiet logs; Keras layers compute in float64
keras = tf.keras
from course_utils.keras_lyapunov import rnn_lyapunov_spectrum  # noqa: E402 (after TF)

DTYPE = tf.float64
SEED = 0
keras.utils.set_random_seed(SEED)  # seeds Python, NumPy and TensorFlow: reproducible runs
rng = np.random.default_rng(SEED)

# %% [markdown]
# ## A toy task that needs memory
#
# The *adding problem*{footcite:p}`hochreiter1997`: each input $x_t = (v_t, m_t)$
# carries a value $v_t$ drawn uniformly from $[0, 1]$ and a marker $m_t \in \{0, 1\}$.
# Exactly two steps of each sequence are marked, and the target is the sum of the two
# marked values. The network only sees the sequence one step at a time, so it has to keep
# the first marked value in its hidden state until the end.
#
# The model: $h_t = \tanh(W_x x_t + W_h h_{t-1} + b)$ with 32 hidden units, then two small
# dense layers read the sum off the last state $h_T$.

# %%
def adding_problem(n, T, rng):
    """n sequences of length T: inputs (n, T, 2) = (value, marker), targets (n,)."""
    values = rng.uniform(0, 1, size=(n, T))
    markers = np.zeros((n, T))
    for i in range(n):
        markers[i, rng.choice(T, size=2, replace=False)] = 1.0
    return np.stack([values, markers], axis=-1), (values * markers).sum(axis=1)


T_train = 20
X_train, y_train = adding_problem(pick(6000, 1500), T_train, rng)
X_test, y_test = adding_problem(1000, T_train, rng)

inputs = keras.Input(shape=(None, 2))            # any sequence length, 2 features
rnn_layer = keras.layers.SimpleRNN(32, activation="tanh", name="rnn")
z = rnn_layer(inputs)
z = keras.layers.Dense(32, activation="relu")(z)
z = keras.layers.Dense(16, activation="relu")(z)
model = keras.Model(inputs, keras.layers.Dense(1)(z))
model.compile(loss="mse", optimizer=keras.optimizers.Adam(1e-3))

initial_weights = rnn_layer.get_weights()       # kept to compare with the trained network
epochs = pick(40, 4)
history = model.fit(X_train, y_train, epochs=epochs, batch_size=32, verbose=0,
                    validation_data=(X_test, y_test))
mse = history.history["val_loss"][-1]
print(f"test MSE after {epochs} epochs: {mse:.4f} "
      f"(predicting the mean instead: {np.var(y_test):.4f})")

# %%
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.semilogy(np.arange(1, epochs + 1), history.history["loss"], "o-", label="training")
ax.semilogy(np.arange(1, epochs + 1), history.history["val_loss"], "s-", label="test")
ax.axhline(np.var(y_test), ls="--", color="gray", label="predicting the mean")
ax.set_xlabel("epoch")
ax.set_ylabel("mean squared error (sum$^2$)")
ax.set_title("Adding problem, SimpleRNN(32)")
ax.legend();

# %% [markdown]
# ## The Jacobian of the cell
#
# Keras stores the weights for row vectors: with `kernel` $= W_x^\top$ (shape
# `(2, 32)`), `recurrent_kernel` $= W_h^\top$ (shape `(32, 32)`) and `bias` $= b$, one step
# of the cell is
#
# $$
# a_t = x_t\,\mathtt{kernel} + h_{t-1}\,\mathtt{recurrent\_kernel} + b, \qquad
# h_t = \tanh(a_t).
# $$
#
# By the chain rule the Jacobian of the step with respect to the state is
#
# $$
# J_t = \frac{\partial h_t}{\partial h_{t-1}} = \mathrm{diag}\!\left(1 - \tanh^2(a_t)\right) W_h,
# \qquad (J_t)_{ij} = \left(1 - \tanh^2(a_{t,i})\right)\, \mathtt{recurrent\_kernel}_{ji} .
# $$
#
# It belongs to the step from $h_{t-1}$ to $h_t$, so $a_t$ is computed from the state
# *before* the step, $h_{t-1}$, and it contains the input and the bias: both shift the
# pre-activation and thereby decide which units are saturated ($\tanh' \approx 0$).
#
# **Task 1.** Write `simple_rnn_jacobian(cell, x, h)` for a batch: `x` of shape `(B, 2)`,
# `h` of shape `(B, 32)` (the states before the step), returning `(B, 32, 32)`. The weights
# are `cell.kernel`, `cell.recurrent_kernel` and `cell.bias`.

# %%
def simple_rnn_jacobian(cell, x, h):
    """d h_next / d h of a tanh SimpleRNN cell at (x, h), batched: (B, H, H)."""
    # BEGIN SOLUTION Task 1 (simple_rnn_jacobian) [2 points]
    #   [reference: course_utils.keras_lyapunov.simple_rnn_jacobian]
    #   [reference: course_utils.keras_lyapunov.cell_jacobian]
    a = tf.matmul(x, cell.kernel) + tf.matmul(h, cell.recurrent_kernel) + cell.bias
    dphi = 1.0 - tf.tanh(a) ** 2                               # (B, H): tanh'(a)
    return dphi[:, :, None] * tf.transpose(cell.recurrent_kernel)[None, :, :]
    # END SOLUTION


# %%
check_simple_rnn_jacobian(simple_rnn_jacobian)

# %% [markdown]
# The trained cell, at one input and state, against automatic differentiation:

# %% tags=["nbval-check-output"]
cell = rnn_layer.cell
x_1 = tf.constant(X_test[:4, 0])                          # (4, 2): the first inputs
h_0 = tf.constant(rng.uniform(-0.5, 0.5, size=(4, 32)))   # (4, 32): some states
with tf.GradientTape() as tape:
    tape.watch(h_0)
    h_1 = cell(x_1, [h_0])[0]
J_tape = tape.batch_jacobian(h_1, h_0)
J_1 = simple_rnn_jacobian(cell, x_1, h_0)
print("Jacobians:", tuple(J_1.shape), "| equal to batch_jacobian:",
      np.allclose(J_1, J_tape, rtol=0, atol=1e-12))
# Expected output:
# Jacobians: (4, 32, 32) | equal to batch_jacobian: True

# %% [markdown]
# ## The QR method over a batch of sequences
#
# As for the Hénon map, the exponents are the average logarithmic stretchings of an
# orthonormal frame carried along by the Jacobians. Now there are $B$ input sequences, and
# each gets its own orbit $h_0, h_1, \dots, h_T$ and its own frame; TensorFlow's
# `tf.linalg.qr` factorises a whole batch of matrices at once. With $Q_0$ the first $k$
# columns of the identity (shape `(B, 32, k)`):
#
# $$
# J_t\, Q_{t-1} = Q_t R_t, \qquad
# \lambda_i = \frac{1}{T} \sum_{t=1}^{T} \ln \left| (R_t)_{ii} \right| ,
# \qquad i = 1, \dots, k .
# $$
#
# **Task 2.** Complete the loop: at each step, multiply the Jacobian onto the frame, take the
# QR factorisation, keep $Q$, and add $\ln|\mathrm{diag}\, R|$ to `log_sum`
# (`tf.linalg.diag_part` takes the diagonals of a batch).

# %%
def lyapunov_spectrum_eager(cell, inputs, h0, k):
    """The k largest exponents per sequence, (B, k), per step, descending: an eager loop."""
    B, T, _ = inputs.shape
    H = h0.shape[1]
    h = tf.constant(h0, dtype=DTYPE)
    Q = tf.eye(H, k, batch_shape=[B], dtype=DTYPE)     # (B, H, k)
    log_sum = tf.zeros((B, k), dtype=DTYPE)
    for t in range(T):
        x = tf.constant(inputs[:, t], dtype=DTYPE)
        J = simple_rnn_jacobian(cell, x, h)             # at the state before the step
        h = cell(x, [h])[0]                              # then take the step
        # BEGIN SOLUTION Task 2 (the QR accumulation) [3 points]
        #   [reference: course_utils.keras_lyapunov.rnn_lyapunov_spectrum]
        #   [reference: course_utils.lyapunov.lyapunov_from_jacobians]
        Q, R = tf.linalg.qr(J @ Q)
        log_sum += tf.math.log(tf.abs(tf.linalg.diag_part(R)))
        # END SOLUTION
    return -np.sort(-(log_sum / T).numpy(), axis=1)


# %%
check_rnn_qr(lyapunov_spectrum_eager)

# %% [markdown]
# The same computation is in the course's toolkit,
# `course_utils.keras_lyapunov.rnn_lyapunov_spectrum`: it takes the layer itself, a batch
# of input sequences and initial states, and runs the whole loop inside one compiled
# `tf.function`. We drive the trained network with input sequences like the training ones
# (values uniform in $[0, 1]$, a marker with probability 0.1 per step, so that long
# sequences look like the training data), from random initial states.

# %%
def driving_inputs(B, T, rng):
    """Inputs like the task's: values in [0, 1], markers with probability 0.1."""
    return np.stack([rng.uniform(0, 1, size=(B, T)),
                     (rng.uniform(size=(B, T)) < 0.1).astype(float)], axis=-1)


B, T = 10, pick(400, 100)
X_drive = driving_inputs(B, T, rng)
H0 = rng.uniform(-0.5, 0.5, size=(B, 32))

start = time.perf_counter()
lam_eager = lyapunov_spectrum_eager(cell, X_drive, H0, k=32)
t_eager = time.perf_counter() - start
rnn_lyapunov_spectrum(rnn_layer, X_drive, H0)      # the first call traces the graph
start = time.perf_counter()
lam_toolkit = rnn_lyapunov_spectrum(rnn_layer, X_drive, H0)
t_toolkit = time.perf_counter() - start
print(f"{B} sequences x {T} steps: eager loop {t_eager:.2f} s, toolkit {t_toolkit:.3f} s "
      f"({t_eager / t_toolkit:.0f}x)")

# %% tags=["nbval-check-output"]
print("same exponents (to 1e-10):", np.allclose(lam_eager, lam_toolkit, rtol=0, atol=1e-10))
# Expected output:
# same exponents (to 1e-10): True

# %% [markdown]
# ## The spectrum of the trained network
#
# Now longer sequences, a transient of 100 steps to forget the random initial state, and the
# running estimates for convergence plots.

# %%
T_long, transient = pick(3000, 600), 100
X_long = driving_inputs(B, T_long, rng)
lam, running = rnn_lyapunov_spectrum(rnn_layer, X_long, H0, transient=transient,
                                     return_history=True)

fig, (ax_spec, ax_run) = plt.subplots(1, 2, figsize=(12, 4))
index = np.arange(1, 33)
for b in range(B):
    ax_spec.plot(index, lam[b], color="tab:blue", lw=0.6, alpha=0.5)
ax_spec.plot(index, lam.mean(axis=0), "o-", color="k", ms=3, label="mean over sequences")
ax_spec.axhline(0, color="gray", lw=0.8)
ax_spec.set_xlabel("index $i$")
ax_spec.set_ylabel(r"$\lambda_i$ (per step, natural log)")
ax_spec.set_title(f"Trained SimpleRNN(32): spectra of {B} sequences")
ax_spec.legend()
plot_running_exponents(running[0][:, :4], ax=ax_run, unit="per step")
ax_run.set_title("Running estimates, first sequence, $\\lambda_1 \\ldots \\lambda_4$")
fig.tight_layout()
print(f"lambda_1 = {lam[:, 0].mean():.3f} +- {lam[:, 0].std():.3f} per step "
      f"(mean +- sd over {B} sequences of {T_long - transient} steps)")
print(f"memory time 1/|lambda_1| = {1 / abs(lam[:, 0].mean()):.0f} steps")

# %% [markdown]
# **What to notice.**
# * All exponents are negative: driven by the same input, two copies of the network that
#   start from different states converge to the same trajectory. The network is
#   *contracting*, so its state is a function of the recent inputs only, as it should be
#   for a task whose answer depends on the inputs alone.
# * After full training a few exponents (three in the book's run) stand apart from the bulk,
#   closer to zero: slow directions of the state, in which the network can hold a marked
#   value while the other directions forget within a few steps. $1/|\lambda_1|$ is the
#   number of steps over which the slowest perturbation shrinks by a factor $e$; compare it
#   with the 20 steps over which the task asks for memory. (In quick mode the network is
#   barely trained and this structure is weaker.)
# * The exponents of different sequences agree closely, and the running estimates settle
#   within a few hundred steps: a driven, contracting network is far more regular than a
#   chaotic map. The first steps from a random initial state are still off.
#
# **Question 1** (2 points). The adding problem asks the network to keep a value for up to 19 steps.
# Compare that with your memory time $1/|\lambda_1|$: by what factor has a perturbation
# along the slowest direction shrunk after 19 steps? How can the network still solve the
# task (your test error against the error of predicting the mean)?
#
# <!-- BEGIN SOLUTION Question 1 (memory time and the task) [2 points] -->
# In a full-mode run $\lambda_1 = -0.119$ per step, a memory time $1/|\lambda_1|$ of about
# 8 steps, shorter than the 19 steps between a first marked value at the start and the
# read-out at the end. Along the slowest direction a perturbation shrinks by
# $e^{-0.119 \cdot 19} \approx 0.10$ over 19 steps: the marked value's trace in the state
# is about ten times weaker at the end, but it has not gone. Yet the test error is 0.005
# against 0.17 for predicting the mean: the network solves the task.
#
# The memory time is an $e$-folding time, not a horizon after which the information is
# lost. The network is deterministic, and a trained read-out can amplify a trace that is
# ten times weaker as long as it stays distinct from what the other inputs write into
# the state; that interference, not the decay alone, limits the memory. Training has made
# the other directions forget within a few steps, so that the unmarked values leave little
# trace, and kept a few slow directions for the marked ones. A task with much longer gaps
# would need $|\lambda_1|$ closer to 0.
# <!-- RUBRIC
# [1 point] computes the shrinking over 19 steps from the own lambda_1 (about exp(-19/8), a factor of about 0.1)
# [1 point] explains why a weakened trace suffices: an e-folding time is no horizon; interference limits the memory
# -->
# <!-- END SOLUTION -->
#
# ## Transient and sequence length
#
# The estimate from one sequence is a finite-time exponent: it depends on the sequence and
# on the initial state. Let us see how the spread over sequences, and the bias from the
# initial state, change with the length $T$, without and with a transient.

# %%
lengths = pick([20, 50, 200, 1000, 3000], [20, 50, 200, 500])
B_many = 50
X_many = driving_inputs(B_many, max(lengths) + 100, rng)
H0_many = rng.uniform(-1, 1, size=(B_many, 32))    # far from the network's usual states
rows = {}
for T_n in progress(lengths, desc="lengths"):
    for skip in (0, 100):
        lam_n = rnn_lyapunov_spectrum(rnn_layer, X_many[:, :skip + T_n], H0_many, k=1,
                                      transient=skip)[:, 0]
        rows[T_n, skip] = lam_n.mean(), lam_n.std()

fig, ax = plt.subplots(figsize=(6.5, 4))
for skip, marker in ((0, "o"), (100, "s")):
    means = [rows[T_n, skip][0] for T_n in lengths]
    sds = [rows[T_n, skip][1] for T_n in lengths]
    ax.errorbar(lengths, means, yerr=sds, marker=marker, capsize=3,
                label=f"transient {skip} steps")
ax.set_xscale("log")
ax.set_xlabel("steps averaged, $T$")
ax.set_ylabel(r"$\lambda_1$ (per step), mean $\pm$ sd over 50 sequences")
ax.set_title("Finite-time estimates of $\\lambda_1$")
ax.legend();

# %% [markdown]
# **What to notice.** With $T = 20$, the length of the training sequences, the estimates
# scatter widely and, without a transient, are biased by the first steps from an unusual
# initial state. The spread shrinks roughly like $1/\sqrt{T}$, and with a transient the
# mean hardly moves with $T$. A spectrum of a recurrent network needs sequences much longer
# than its memory time and a transient that discards the first steps.
#
# ## What the exponents say: untrained, trained, over-excited
#
# Keras initialises the recurrent kernel as a random *orthogonal* matrix: every direction is
# kept with norm one by the linear part, and only the saturation of the tanh contracts.
# Training reshapes this. Scaling the trained recurrent kernel up, $W_h \to 3 W_h$, drives
# the network into the chaotic regime, where nearby states separate ($\lambda_1 > 0$) and
# the state no longer depends on the recent input alone.

# %%
trained_weights = rnn_layer.get_weights()
spectra = {}
for name, (kernel, recurrent, bias) in {
        "untrained (initial)": initial_weights,
        "trained": trained_weights,
        "trained, recurrent x 3": (trained_weights[0], 3 * trained_weights[1],
                                   trained_weights[2])}.items():
    rnn_layer.set_weights([kernel, recurrent, bias])
    spectra[name] = rnn_lyapunov_spectrum(rnn_layer, X_long, H0, transient=transient)
rnn_layer.set_weights(trained_weights)                 # back to the trained network

fig, ax = plt.subplots(figsize=(6.5, 4))
for name, lam_n in spectra.items():
    ax.plot(index, lam_n.mean(axis=0), "o-", ms=3, label=name)
ax.axhline(0, color="gray", lw=0.8)
ax.set_xlabel("index $i$")
ax.set_ylabel(r"$\lambda_i$ (per step, natural log), mean over sequences")
ax.set_title("Lyapunov spectra of three networks")
ax.legend()
for name, lam_n in spectra.items():
    mean = lam_n.mean(axis=0)
    print(f"{name:24s} lambda_1 = {mean[0]:+.3f}, sum = {mean.sum():+.2f} per step, "
          f"Kaplan-Yorke dimension {kaplan_yorke_dimension(mean):.2f}")

# %% [markdown]
# **Question 2** (2 points). The network with the recurrent kernel scaled by 3 has $\lambda_1 > 0$ and
# yet a sum of its 32 exponents far below zero, and a Kaplan-Yorke dimension between 2
# and 3. What do these three numbers say about the set its state moves on, and why can it
# not solve a task whose answer depends on the inputs alone?
#
# <!-- BEGIN SOLUTION Question 2 (the over-excited network) [2 points] -->
# In a full-mode run the scaled network has $\lambda_1 = +0.061$ per step, a sum of
# $-86.9$ per step and a Kaplan-Yorke dimension of 2.25. $\lambda_1 > 0$: two copies of
# the network driven by the same input but started a little apart separate, by a factor
# $e$ about every 16 steps, so the state is not a function of the recent inputs; it also
# depends on where the network started, and a read-out cannot recover the answer from it.
# The very negative sum means that volumes in the 32-dimensional state space shrink
# fast: the state collapses onto a thin set. The Kaplan-Yorke dimension, $2 + (\lambda_1 +
# \lambda_2) / |\lambda_3|$, is 2.25 because $\lambda_1 + \lambda_2 \ge 0 > \lambda_1 +
# \lambda_2 + \lambda_3$: a fractal set of about 2.25 dimensions, an input-driven strange
# attractor, on which the state wanders chaotically. The trained network, with every
# exponent negative, collapses instead onto one input-driven trajectory (dimension 0).
# <!-- RUBRIC
# [1 point] lambda_1 > 0: nearby states separate, so the state depends on the start, not only on the inputs
# [1 point] reads the sum (fast contraction of volumes) and the dimension: a thin fractal set of about 2.25 dimensions
# -->
# <!-- END SOLUTION -->

# %% [markdown]
# **What to notice.**
# * *Untrained*: with an orthogonal recurrent kernel every exponent is close to zero. Each
#   direction of the state decays slowly and none is preferred: a long but unselective
#   memory, close to the edge of chaos. This is why orthogonal initialisation is popular.
# * *Trained*: most directions now contract several times faster, and only a few stay slow.
#   Training made the network forget what the task does not need, and keep what it does.
#   The Kaplan-Yorke dimension{footcite:p}`kaplan1979` is 0 for both: the state collapses
#   onto one input-driven
#   trajectory.
# * *Scaled up*: $\lambda_1 > 0$, so tiny differences in the state grow; the response to an
#   input sequence then depends on where the network started, and its state wanders on a
#   set of positive Kaplan-Yorke dimension. Such a network cannot solve a task that depends
#   on the inputs alone.
# * The boundary $\lambda_1 = 0$ between these regimes is the *edge of chaos*. Networks that
#   must remember sit just below it: information is neither destroyed quickly (very
#   negative $\lambda_1$) nor scrambled (positive $\lambda_1$).
# * Units: the exponents are per step of the network, natural log. The network has no
#   physical time step; if its steps stood for a time $\Delta t$, dividing by $\Delta t$
#   would give rates per time unit (`dt=` in the toolkit).


# %% [markdown]
# ## References
#
# ```{footbibliography}
# ```
