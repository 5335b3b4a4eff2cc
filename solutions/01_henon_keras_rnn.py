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
# # The Hénon map as a Keras RNN cell
#
# A recurrent neural network is a discrete-time dynamical system: its cell maps the state
# $z_{t-1}$ (and an input) to the next state $z_t$. Nothing stops us from putting a
# *known* map into that slot. In this chapter we write the Hénon map as a custom Keras
# cell, let `keras.layers.RNN` iterate it, and then use TensorFlow's automatic
# differentiation to get the Jacobians that Lyapunov exponents are made of.
#
# **Goals**
# 1. Write a custom RNN cell and generate a 10,000-step trajectory with `keras.layers.RNN`.
# 2. Compile the loop with `tf.function` and see what that buys.
# 3. Get the Jacobian of every step along the orbit with `GradientTape.batch_jacobian`,
#    and understand why a tape around the whole RNN layer does *not* give them.
# 4. Compute the two Lyapunov exponents of the map by the QR method.
#
# **Your tasks** are marked *Task 1* to *Task 3*. After each one, a check cell tells you
# whether your code is right, and if not, what is wrong. Two written questions at the end
# ask you to interpret your results.

# %%
import time

import numpy as np
import matplotlib.pyplot as plt

from course_utils.runtime import import_tensorflow, pick
from course_utils.checks import check_henon_cell, check_henon_jacobian, check_lyapunov_qr
from course_utils.lyapunov import kaplan_yorke_dimension
from course_utils.henon import HENON_LYAPUNOV
from course_utils.plotting import plot_orbit_2d, plot_running_exponents

tf = import_tensorflow(floatx="float64")  # quiet logs; Keras layers compute in float64
keras = tf.keras
from course_utils.keras_lyapunov import rnn_lyapunov_spectrum  # noqa: E402 (after TF)
DTYPE = tf.float64  # tf.zeros and tf.constant default to float32: we always say float64

# %% [markdown]
# ## The map and the cell
#
# The Hénon map{footcite:p}`henon1976` acts on the state $z_t = (x_t, y_t)$ by
#
# $$
# z_{t+1} = F(z_t) = \begin{pmatrix} 1 - a\,x_t^2 + y_t \\ b\,x_t \end{pmatrix},
# \qquad a = 1.4,\; b = 0.3 .
# $$
#
# A Keras RNN cell is any layer that declares `state_size` and `output_size` and whose
# `call(inputs, states)` returns `(output, new_states)`. Both arguments are batched: the
# state arrives as a list holding one tensor of shape `(batch, state_size)`. The Hénon map
# has no input, so the cell ignores `inputs`; it outputs its new state.
#
# **Task 1.** Complete `call`: take $z$ from `states`, apply the map to the whole batch
# at once, and return the new state both as the output and as the (one-element list of)
# next states. Use TensorFlow operations only (`tf.stack` helps): no NumPy, no `.numpy()`,
# no Python `if` on a tensor's value, since the cell will also run inside
# `keras.layers.RNN` compiled by `tf.function`, where $z$ has no values yet.

# %%
class HenonCell(keras.layers.Layer):
    """One step of the Hénon map as a Keras RNN cell; the state is z = (x, y)."""

    def __init__(self, a=1.4, b=0.3, **kwargs):
        super().__init__(**kwargs)
        self.a, self.b = a, b
        self.state_size = 2   # dimension of z
        self.output_size = 2  # the cell outputs its state

    def call(self, inputs, states):
        # BEGIN SOLUTION Task 1 (HenonCell.call) [2 points]
        #   [reference: course_utils.keras_cells.HenonCell, course_utils.henon.henon_map]
        z = states[0]                      # (batch, 2); the inputs are not used
        x, y = z[:, 0], z[:, 1]
        z_next = tf.stack([1.0 - self.a * x * x + y, self.b * x], axis=1)
        return z_next, [z_next]
        # END SOLUTION


# %%
check_henon_cell(HenonCell)

# %% [markdown]
# One step by hand: from $z_0 = (0.1, 0.1)$ we expect
# $x_1 = 1 - 1.4 \cdot 0.1^2 + 0.1 = 1.086$ and $y_1 = 0.3 \cdot 0.1 = 0.03$.

# %% tags=["nbval-check-output"]
cell = HenonCell(a=1.4, b=0.3)
z0 = tf.constant([[0.1, 0.1]], dtype=DTYPE)        # a batch of one state, shape (1, 2)
z1, _ = cell(tf.zeros((1, 1), dtype=DTYPE), [z0])  # a dummy input of shape (batch, 1)
print(np.round(z1.numpy(), 6))
# Expected output:
# [[1.086 0.03 ]]

# %% [markdown]
# ## A trajectory through `keras.layers.RNN`
#
# `keras.layers.RNN(cell, return_sequences=True)` applies the cell once per time step of
# its input sequence and returns every output. Our cell ignores its input, so we feed a
# *dummy* sequence of zeros, of shape `(batch, T, 1)`: its length $T$ sets the number of
# steps. The starting point goes in as `initial_state`.
#
# Called directly, the layer runs *eagerly*: Python drives the loop and dispatches a few
# small operations per step. Wrapped in `tf.function`, the loop is traced once into a graph
# and then runs without Python in between. We time both on the same stretch.

# %%
n_steps = 10_000
u = tf.zeros((1, n_steps, 1), dtype=DTYPE)   # dummy inputs: only their length matters
henon_rnn = keras.layers.RNN(HenonCell(), return_sequences=True)

n_timed = pick(n_steps, 1_000)  # quick mode times the slow eager call on a shorter stretch

start = time.perf_counter()
Z_eager = henon_rnn(u[:, :n_timed], initial_state=[z0])
t_eager = time.perf_counter() - start


@tf.function
def generate(u, z0):
    """The same RNN call, compiled into a TensorFlow graph."""
    return henon_rnn(u, initial_state=[z0])


generate(u[:, :n_timed], z0)          # the first call traces the graph: not timed
start = time.perf_counter()
Z_graph = generate(u[:, :n_timed], z0)
t_graph = time.perf_counter() - start

print(f"{n_timed} steps: eager {t_eager:.3f} s, tf.function {t_graph:.4f} s, "
      f"ratio {t_eager / t_graph:.0f}x")
differ = np.flatnonzero(np.any(Z_eager[0].numpy() != Z_graph[0].numpy(), axis=1))
note = "" if differ.size == 0 else f" (they first differ at step {differ[0] + 1})"
print(f"identical trajectories: {differ.size == 0}{note}")

Z = generate(u, z0)[0].numpy()       # the full orbit z_1, ..., z_T, shape (T, 2)
print("orbit shape:", Z.shape)

# %%
fig, (ax_full, ax_zoom) = plt.subplots(1, 2, figsize=(11, 4.2))
Z_att = Z[100:]                        # drop the first steps, still on their way in
plot_orbit_2d(Z_att, ax=ax_full, title=f"Hénon attractor, a = 1.4, b = 0.3, {len(Z_att):,} points")
box = (0.55, 0.80, 0.15, 0.23)        # x_min, x_max, y_min, y_max of the zoom window
ax_full.add_patch(plt.Rectangle((box[0], box[2]), box[1] - box[0], box[3] - box[2],
                                fill=False, color="tab:red"))
x_att, y_att = Z_att[:, 0], Z_att[:, 1]
inside = (x_att > box[0]) & (x_att < box[1]) & (y_att > box[2]) & (y_att < box[3])
plot_orbit_2d(Z_att[inside], ax=ax_zoom, markersize=1.0, color="tab:red",
              title="zoom: the 'lines' are bands of finer lines")
fig.tight_layout()

# %% [markdown]
# **What to notice.** The orbit never settles on a point or a cycle, yet it stays on a
# thin, curved set. Zooming in shows each curve split into several parallel ones: the
# layered, self-similar structure of a strange attractor.
#
# The compiled loop gives the very same numbers as the eager one, about a hundred times
# faster, because Python no longer runs between the steps. "The very same" is to the last
# bit, and on a chaotic orbit it has to be: write `x**2` instead of `x * x` in the cell and
# the graph may compute the square with another kernel whose result differs in the last
# bit now and then. Such a difference of $10^{-16}$ grows by a factor $e^{\lambda_1}
# \approx 1.5$ per step, and after about $\ln(10^{16}) / 0.42 \approx 90$ steps the two
# trajectories are unrelated: the same attractor, but different points on it.
#
# ## Jacobians along the orbit
#
# The Jacobian of the map, evaluated at the state *before* the step, is
#
# $$
# J(z_t) = \frac{\partial F(z_t)}{\partial z_t} =
# \begin{pmatrix} -2 a x_t & 1 \\ b & 0 \end{pmatrix}.
# $$
#
# **Task 2.** Write `henon_jacobian(z, a, b)` for a batch of states `z` of shape `(T, 2)`
# (a NumPy array), returning a float64 NumPy array of shape `(T, 2, 2)` whose entry
# `[t, i, j]` is $\partial z_{t+1, i} / \partial z_{t, j}$.

# %%
def henon_jacobian(z, a=1.4, b=0.3):
    """Analytic Jacobians of the Hénon map at the states z (shape (T, 2)) -> (T, 2, 2)."""
    z = np.asarray(z, dtype=np.float64)
    # BEGIN SOLUTION Task 2 (henon_jacobian) [1 point]
    #   [reference: course_utils.henon.henon_jacobian]
    #   [reference: course_utils.keras_lyapunov.cell_jacobian]
    J = np.zeros((len(z), 2, 2))
    J[:, 0, 0] = -2.0 * a * z[:, 0]
    J[:, 0, 1] = 1.0
    J[:, 1, 0] = b
    return J
    # END SOLUTION


# %%
check_henon_jacobian(henon_jacobian)

# %% [markdown]
# Automatic differentiation gives the same Jacobians without any algebra. The trick is to
# treat the orbit as one big *batch* of independent states: apply the cell once to all of
# them inside a `GradientTape`, and ask for `batch_jacobian`, which differentiates the
# $t$-th output row by the $t$-th input row only.

# %% tags=["nbval-check-output"]
states = tf.constant(Z, dtype=DTYPE)               # (T, 2): every state of the orbit
with tf.GradientTape() as tape:
    tape.watch(states)
    next_states, _ = cell(tf.zeros((n_steps, 1), dtype=DTYPE), [states])
J_tape = tape.batch_jacobian(next_states, states)  # (T, 2, 2)

J = henon_jacobian(Z)
print("Jacobians:", tuple(J_tape.shape))
print("tape == analytic (to 1e-12):", np.allclose(J_tape.numpy(), J, rtol=0, atol=1e-12))
# Expected output:
# Jacobians: (10000, 2, 2)
# tape == analytic (to 1e-12): True

# %% [markdown]
# ## Why a tape around the RNN layer does not give step-to-step Jacobians
#
# It is tempting to record the whole RNN call and differentiate one output step by the
# previous one. Let us try on a short stretch.

# %% tags=["nbval-check-output"]
with tf.GradientTape(persistent=True) as tape:
    tape.watch(z0)
    Z_short = henon_rnn(u[:, :5], initial_state=[z0])   # z_1, ..., z_5
    z_1, z_2, z_5 = Z_short[:, 0], Z_short[:, 1], Z_short[:, 4]  # slices on the tape

print("d z_2 / d z_1 through the layer:", tape.gradient(z_2, z_1))
# Expected output:
# d z_2 / d z_1 through the layer: None

# %% [markdown]
# The answer is `None`: TensorFlow finds no path from `z_1` to `z_2`. The layer computed
# $z_2$ from its *internal* loop state; `Z_short[:, 0]` is a slice of the stacked output,
# a new tensor made after the loop, and nothing downstream of it leads to `z_2`. A tape
# can only differentiate with respect to tensors that the computation actually used.
# (`batch_jacobian` on the same pair silently returns zeros instead of `None`, which is
# worse: it looks like an answer.) Two correct routes:
#
# 1. **One step at a time**, as above: feed the stored states to the *cell* as a batch and
#    differentiate its output by its input.
# 2. **With respect to something the loop really started from**: the initial state. By the
#    chain rule, $\partial z_{t} / \partial z_0 = J(z_{t-1}) \cdots J(z_1) J(z_0)$, the
#    product of the step Jacobians. We check that for $t = 5$.

# %% tags=["nbval-check-output"]
D_tape = tape.batch_jacobian(z_5, z0)[0].numpy()             # d z_5 / d z_0
z_path = np.concatenate([z0.numpy(), Z_short[0, :4].numpy()])  # z_0, ..., z_4
D_chain = np.eye(2)
for J_t in henon_jacobian(z_path):
    D_chain = J_t @ D_chain                                  # J(z_4) ... J(z_0)
del tape
print("d z_5 / d z_0 == J(z_4) ... J(z_0):", np.allclose(D_tape, D_chain, rtol=1e-12))
# Expected output:
# d z_5 / d z_0 == J(z_4) ... J(z_0): True

# %% [markdown]
# ## Lyapunov exponents by the QR method
#
# A small perturbation $\delta z_0$ evolves, to first order, as
# $\delta z_T = J(z_{T-1}) \cdots J(z_0)\, \delta z_0$. The Lyapunov exponents are the
# average logarithmic growth rates of this product along the orbit{footcite:p}`eckmann1985`.
# Multiplying the
# Jacobians out directly fails on a chaotic orbit: the product grows like
# $e^{\lambda_1 T}$, overflows, and all its columns collapse onto the most unstable
# direction. The QR method{footcite:p}`benettin1980a,benettin1980b` keeps an orthonormal
# frame instead:
# starting from $Q_0 = I$, at every step
#
# $$
# J(z_t)\, Q_{t} = Q_{t+1} R_{t+1}, \qquad
# \lambda_i = \frac{1}{T} \sum_{t=1}^{T} \ln \left| (R_t)_{ii} \right| ,
# $$
#
# where the diagonal of the triangular factor $R$ holds the stretching of each direction
# in that step. The first steps, the *transient*, only align the frame with the dynamics;
# they are not counted. The exponents are in natural log *per step* of the map.
#
# **Task 3.** Write `lyapunov_qr(jacobians, transient=0)` for Jacobians of shape
# `(T, d, d)`: accumulate $\ln|\mathrm{diag}\,R|$ over the steps after the transient, divide
# by their number, and return the $d$ exponents in descending order. `np.linalg.qr` does the
# factorisation.

# %%
def lyapunov_qr(jacobians, transient=0):
    """Lyapunov exponents (per step, natural log, descending) from Jacobians (T, d, d)."""
    jacobians = np.asarray(jacobians, dtype=np.float64)
    T, d, _ = jacobians.shape
    # BEGIN SOLUTION Task 3 (lyapunov_qr) [3 points]
    #   [reference: course_utils.lyapunov.lyapunov_from_jacobians]
    #   [reference: course_utils.lyapunov.lyapunov_spectrum]
    #   [reference: course_utils.keras_lyapunov.rnn_lyapunov_spectrum]
    Q = np.eye(d)
    log_stretch = np.zeros(d)
    for t in range(T):
        Q, R = np.linalg.qr(jacobians[t] @ Q)
        if t >= transient:
            log_stretch += np.log(np.abs(np.diag(R)))
    return np.sort(log_stretch / (T - transient))[::-1]
    # END SOLUTION


# %%
check_lyapunov_qr(lyapunov_qr)

# %% tags=["nbval-check-output"]
lam = lyapunov_qr(J, transient=100)
print(f"lambda_1 = {lam[0]:.3f}, lambda_2 = {lam[1]:.3f} per step "
      f"(reference {HENON_LYAPUNOV[0]:.3f}, {HENON_LYAPUNOV[1]:.3f})")
print(f"sum = {lam.sum():.6f}, ln b = ln 0.3 = {np.log(0.3):.6f}")
# Expected output:
# lambda_1 = 0.419, lambda_2 = -1.623 per step (reference 0.419, -1.623)
# sum = -1.203973, ln b = ln 0.3 = -1.203973

# %% [markdown]
# The course's toolkit does all of this directly on the RNN layer:
# `course_utils.keras_lyapunov.rnn_lyapunov_spectrum(layer, inputs, initial_states)`
# iterates the cell, takes the Jacobian of each step with `batch_jacobian` (at the state
# before the step, for any custom cell), and accumulates the QR method, all inside one
# compiled `tf.function` and for a whole batch of orbits at once. We give it our Hénon layer
# and eight starting points on the attractor, and ask for the running estimates too.

# %%
# Figure: running
starts = Z[:: n_steps // 8][:8]                     # (8, 2): states on the attractor
u_batch = tf.zeros((8, n_steps, 1), dtype=DTYPE)    # dummy inputs: T steps per orbit
lam_batch, running = rnn_lyapunov_spectrum(henon_rnn, u_batch, starts, transient=100,
                                           return_history=True)
for i in range(2):
    print(f"lambda_{i + 1} = {lam_batch[:, i].mean():.4f} +- {lam_batch[:, i].std():.4f} "
          f"over 8 orbits (reference {HENON_LYAPUNOV[i]}); your QR, one orbit: {lam[i]:.4f}")
print("sum rule on every orbit:", np.allclose(lam_batch.sum(axis=1), np.log(0.3), rtol=1e-6))
print(f"Kaplan-Yorke dimension: {kaplan_yorke_dimension(lam_batch.mean(axis=0)):.3f}")
ax = plot_running_exponents(running[0], reference=HENON_LYAPUNOV, unit="per step")
ax.set_title("Hénon map: running QR estimates, one orbit (dashed: reference values)");

# %% [markdown]
# **What to notice.**
# * $\lambda_1 \approx 0.42 > 0$: nearby orbits separate exponentially, on average by a
#   factor $e^{0.42} \approx 1.5$ per step. This is the signature of chaos.
# * $\lambda_2 \approx -1.62 < 0$: the other direction contracts strongly, which is why the
#   orbit lives on a thin set.
# * With $10^4$ steps both estimates agree with the reference values to three decimals,
#   but the plot shows how far they wander on the way: over a few hundred steps they are
#   still off in the second decimal. A chaotic orbit needs long averages.
# * $\lambda_1 + \lambda_2 = \ln 0.3$ to rounding error, for *any* orbit length: the
#   determinant of every Jacobian is $-b$, so areas shrink by the factor $b = 0.3$ each step
#   and the sum of the logarithmic stretchings is $\ln |\det J| = \ln b$ at every step.
# * The Kaplan-Yorke dimension{footcite:p}`kaplan1979` $1 + \lambda_1 / |\lambda_2| \approx 1.26$ says the
#   attractor is more than a curve and less than an area, as the zoom suggested.
# * The eight orbits give slightly different finite-time exponents. What their spread says
#   about the error of a single estimate is the subject of Question 1.

# %% [markdown]
# **Question 1** (3 points). Your QR estimate of $\lambda_1$ from one orbit (Task 3) differs from the
# reference 0.41922 in the fourth decimal. Is that a bug, or what you should expect?
# Estimate the statistical error of an estimate from one orbit of $10^4$ steps, from the
# eight orbits and your plot of the running estimates (mind how the eight starting points
# were chosen), and how many steps one orbit would need to pin $\lambda_1$ down to
# $\pm 0.0001$.
#
# <!-- BEGIN SOLUTION Question 1 (the error of a finite orbit) [3 points] [figures: running] -->
# It is what to expect. The run prints $\lambda_1 = 0.4193$ from the orbit of Task 3,
# 0.0001 from the reference, and $0.4189 \pm 0.0011$ (mean $\pm$ standard deviation) over
# the eight orbits. Each estimate is a time average over a finite orbit, with a
# statistical error; the running estimates show it, wandering in the second decimal over
# the first few hundred steps and settling slowly.
#
# The spread of the eight, 0.0011, understates that error. Their starting points are
# states of the same orbit `Z`, 1,250 steps apart, and the map is computed with the same
# arithmetic, so the eight orbits are stretches of one orbit that overlap by up to 8,750
# of their $10^4$ steps: their estimates share most of their terms. Orbits far apart
# (independent ones) of $10^4$ steps scatter by about 0.004. The difference of 0.0001 is
# well within either.
#
# The spread of a time average shrinks like $1/\sqrt{T}$. From about 0.004 at $10^4$ steps
# down to 0.0001 an orbit must be about $(0.004 / 0.0001)^2 \approx 1{,}600$ times longer,
# over $10^7$ steps (with the spread of the overlapping stretches one would wrongly
# conclude about $10^6$). The spread of $\lambda_2$ is always that of $\lambda_1$: the sum
# $\lambda_1 + \lambda_2 = \ln b$ is exact on every orbit, so their errors are equal and
# opposite.
# <!-- RUBRIC
# [1 point] compares the difference with the scatter of finite-orbit estimates: a statistical error, not a bug
# [1 point] notices that the eight orbits are overlapping stretches of one orbit, so their spread understates the error
# [1 point] uses the 1/sqrt(T) law for the length needed (over 10^7 steps with an error of about 0.004 at 10^4)
# -->
# <!-- END SOLUTION -->

# %% [markdown]
# **Question 2** (2 points). In this chapter the compiled and the eager loop give the same orbit to the
# last bit; with `x**2` in the cell they might not, and after about 90 steps the two orbits
# would be unrelated. Would the Lyapunov exponents computed from the two orbits then
# differ, and by how much? Argue from your results.
#
# <!-- BEGIN SOLUTION Question 2 (exponents of two different orbits) [2 points] -->
# They would agree within the statistical error of a finite orbit, a few thousandths
# after $10^4$ steps (Question 1). The Lyapunov exponents are averages over the attractor:
# by the multiplicative ergodic theorem they are the same for almost every orbit on it,
# however different the orbits are point by point. The results show it: the orbit of Task
# 3 and eight stretches of it that start at different points all give $\lambda_1$ within
# about a thousandth of the reference, and independent orbits within a few thousandths.
# The sum $\lambda_1 + \lambda_2 = \ln 0.3$ would even agree to rounding error on both
# orbits, since $|\det J| = b$ at every step. A last-bit difference changes the orbit, the
# points of the figure, but not what we measure of the attractor.
# <!-- RUBRIC
# [1 point] the exponents are properties of the attractor, the same for almost every orbit, not of one orbit
# [1 point] quantifies: they differ by the finite-time scatter only (a few thousandths at 10^4 steps)
# -->
# <!-- END SOLUTION -->


# %% [markdown]
# ## References
#
# ```{footbibliography}
# ```
