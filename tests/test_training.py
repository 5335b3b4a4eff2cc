"""Training (course_utils.training): sparse teacher forcing (the forcing schedule, the fused
forward/backward pass against autograd, the training loop: progress, determinism,
divergence), generalized teacher forcing, and training a sequence model."""

import functools
import math

import numpy as np
import pytest
import torch

from course_utils.models import ShallowPLRNN
from course_utils.sequence_tasks import flipflop_batch
from course_utils.training import (TrainingDiverged, forcing_times, stf_forward, stf_forward_fused, prediction_loss, train_stf)


def _model(M=7, L=13, N=3, seed=1, dtype=torch.float64):
    return ShallowPLRNN(M, L, N, seed=seed, dtype=dtype)


@pytest.mark.parametrize("T, tau_f, warmup", [(10, 3, 0), (12, 5, 4), (7, 1, 2), (9, 20, 0)])
def test_forcing_times_follow_the_definition(T, tau_f, warmup):
    mask = forcing_times(T, tau_f, warmup)
    expected = [t < warmup or (t - warmup) % tau_f == 0 for t in range(T)]
    assert mask.tolist() == expected
    with pytest.raises(ValueError, match="tau_f"):
        forcing_times(T, 0)


def test_forced_units_hold_the_data_at_forcing_times():
    """With forcing at every step the prediction is F([x_t, z_t[N:]]) read out: compare with
    one step of the model from the forced state, built by hand."""
    model = _model()
    x = torch.randn(2, 6, 3, dtype=torch.float64)
    pred = stf_forward(model, x, tau_f=1)
    z = torch.zeros(2, 7, dtype=torch.float64)
    for t in range(6):
        z = model(torch.cat([x[:, t], z[:, 3:]], dim=-1))
        torch.testing.assert_close(pred[:, t], z[:, :3], rtol=0, atol=1e-14)


@pytest.mark.parametrize("tau_f, warmup", [(1, 0), (4, 0), (7, 5), (30, 3)])
def test_fused_pass_equals_autograd(tau_f, warmup):
    model = _model()
    g = torch.Generator().manual_seed(tau_f)
    x = torch.randn(5, 25, 3, generator=g, dtype=torch.float64)
    y = torch.randn(5, 25, 3, generator=g, dtype=torch.float64)
    params = list(model.parameters())
    ref = prediction_loss(stf_forward(model, x, tau_f, warmup), y, warmup)
    grads_ref = torch.autograd.grad(ref, params)
    fused_pred = stf_forward_fused(model, x, tau_f, warmup)
    torch.testing.assert_close(fused_pred, stf_forward(model, x, tau_f, warmup),
                               rtol=0, atol=1e-13)
    grads = torch.autograd.grad(prediction_loss(fused_pred, y, warmup), params)
    for name, a, b in zip(("A", "W1", "W2", "h1", "h2"), grads, grads_ref):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-13, msg=f"gradient of {name}")


def test_fused_pass_in_float32_matches_float64_to_single_precision():
    model = _model(dtype=torch.float32)
    x = torch.randn(4, 40, 3)
    pred32 = stf_forward_fused(model, x, 8)
    pred64 = stf_forward(model.double(), x.double(), 8)
    assert pred32.dtype == torch.float32
    torch.testing.assert_close(pred32.double(), pred64, rtol=1e-4, atol=1e-5)


def test_loss_leaves_out_the_warmup():
    pred = torch.zeros(2, 10, 1)
    target = torch.zeros(2, 10, 1)
    target[:, :4] = 100.0               # errors only in the warm-up
    target[:, 4:] = 1.0
    assert prediction_loss(pred, target, warmup=4).item() == pytest.approx(1.0)
    assert prediction_loss(pred, target).item() > 1.0
    with pytest.raises(ValueError, match=r"\(2, 10, 1\) and \(2, 9, 1\)"):
        prediction_loss(pred, target[:, :9])


def test_bad_inputs_name_the_shapes():
    model = _model(N=3)
    with pytest.raises(ValueError, match=r"N = model.N = 3; got \(2, 5, 2\)"):
        stf_forward_fused(model, torch.zeros(2, 5, 2, dtype=torch.float64), 2)
    with pytest.raises(ValueError, match="warmup must be in 0..4"):
        stf_forward(model, torch.zeros(2, 5, 3, dtype=torch.float64), 2, warmup=5)
    with pytest.raises(ValueError, match=r"data must have shape \(T, N\) with N = model.N = 3"):
        train_stf(model, torch.zeros(100, 2), n_steps=1, show_progress=False)
    data = torch.zeros(100, 3)
    data[50, 1] = math.nan
    with pytest.raises(ValueError, match="non-finite"):
        train_stf(model, data, n_steps=1, show_progress=False)


def _sine_data(T=3000, dt=0.05):
    t = np.arange(T) * dt
    return torch.tensor(np.stack([np.sin(t), np.cos(t), np.sin(2 * t)], axis=1),
                        dtype=torch.float32)


def test_training_lowers_the_loss_and_is_reproducible():
    data = _sine_data()
    runs = []
    for _ in range(2):
        model = ShallowPLRNN(8, 16, 3, seed=0)
        history = train_stf(model, data, n_steps=300, batch_size=8, seq_len=30, tau_f=10,
                            lr=1e-2, seed=3, show_progress=False)
        runs.append((history["loss"], model.state_dict()))
    loss = runs[0][0]
    assert loss.shape == (300,) and np.all(np.isfinite(loss))
    assert loss[-20:].mean() < 0.3 * loss[:20].mean()
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    for k in runs[0][1]:
        assert torch.equal(runs[0][1][k], runs[1][1][k]), k


def test_training_with_a_student_forward_uses_it():
    calls = []

    def forward(model, x, tau_f, warmup):
        calls.append((tuple(x.shape), tau_f, warmup))
        return stf_forward(model, x, tau_f, warmup)

    train_stf(ShallowPLRNN(4, 8, 3, seed=0), _sine_data(), n_steps=3, batch_size=2,
              seq_len=12, tau_f=5, warmup=2, forward=forward, show_progress=False)
    assert calls == [((2, 12, 3), 5, 2)] * 3


def test_a_diverging_run_stops_with_a_clear_message():
    model = ShallowPLRNN(6, 12, 3, seed=0)
    with torch.no_grad():
        model.A.fill_(3.0)                 # every orbit explodes within the sequence
    with pytest.raises(TrainingDiverged, match=r"diverged at update 0: the loss is (inf|nan)"):
        train_stf(model, _sine_data(), n_steps=5, batch_size=4, seq_len=400, tau_f=400,
                  show_progress=False)


# ---------------------------------------------------------------- BLAS threads

_TRAIN_IN_SUBPROCESS = """
import sys, numpy as np, torch
from course_utils.models import ShallowPLRNN
from course_utils.training import train_stf
torch.set_num_threads(1)
t = np.arange(3000) * 0.05
data = np.stack([np.sin(t), np.cos(1.3 * t), np.sin(0.7 * t + 1)], axis=1)
data = torch.tensor(data + 0.05 * np.random.default_rng(0).standard_normal(data.shape),
                    dtype=torch.float32)
model = ShallowPLRNN(64, 1000, 3, seed=0)
train_stf(model, data, n_steps=24, batch_size=64, seq_len=16, tau_f=4, lr=1e-3,
          show_progress=False)
torch.save(model.state_dict(), sys.argv[1])
"""


def test_training_is_bit_identical_whatever_the_blas_threads(tmp_path):
    """The same training in two processes started with one and with two BLAS threads
    (OPENBLAS_NUM_THREADS, OMP_NUM_THREADS, MKL_NUM_THREADS) gives the same parameters bit
    for bit: the library runs its fused NumPy passes with one BLAS thread (threadpoolctl).
    The model is wide (M = 64, L = 1000) because on a 2-core x86 machine with OpenBLAS
    0.3.31 two threads round differently only for such matrix products (M = 10, L = 100
    gives the same bits); without the limit this test fails there."""
    import os
    import subprocess
    import sys

    states = []
    for threads in ("1", "2"):
        env = dict(os.environ, OPENBLAS_NUM_THREADS=threads, OMP_NUM_THREADS=threads,
                   MKL_NUM_THREADS=threads, CI="1")
        path = tmp_path / f"threads{threads}.pt"
        subprocess.run([sys.executable, "-c", _TRAIN_IN_SUBPROCESS, str(path)], env=env,
                       check=True, timeout=300)
        states.append(torch.load(path, weights_only=True))
    start = ShallowPLRNN(64, 1000, 3, seed=0).state_dict()
    assert not all(torch.equal(states[0][k], start[k]) for k in start)   # it trained
    for name in start:
        assert torch.equal(states[0][name], states[1][name]), \
            f"{name} differs between 1 and 2 BLAS threads"


def test_fused_passes_run_with_one_blas_thread(monkeypatch):
    """Inside the fused forward and backward loops NumPy's BLAS has one thread, even when
    the caller allowed two; afterwards the caller's setting is back."""
    from threadpoolctl import threadpool_info, threadpool_limits

    from course_utils import forcing_loops

    def blas_threads():
        return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}

    seen = {}
    for name in ("forward_rows", "backward_rows"):
        original = getattr(forcing_loops, name)

        def recording(*args, _name=name, _original=original):
            seen[_name] = blas_threads()
            return _original(*args)

        monkeypatch.setattr(forcing_loops, name, recording)
    model = _model(M=5, L=9)
    x = torch.randn(3, 12, 3, dtype=torch.float64)
    with threadpool_limits(2, user_api="blas"):
        outside = blas_threads()
        prediction_loss(stf_forward_fused(model, x, tau_f=4), x).backward()
        assert blas_threads() == outside
    assert seen == {"forward_rows": {1}, "backward_rows": {1}}


def test_a_second_pass_before_the_first_backward_keeps_its_own_arrays():
    """The fused passes reuse their arrays from pass to pass; two passes whose graphs are
    alive at once each keep their own, so the gradients of their sum are autograd's."""
    model = _model(M=6, L=11)
    g = torch.Generator().manual_seed(3)
    x1, x2, y = (torch.randn(4, 30, 3, dtype=torch.float64, generator=g) for _ in range(3))
    for pass_ in (stf_forward, stf_forward_fused):
        model.zero_grad()
        loss = prediction_loss(pass_(model, x1, 5), y) + prediction_loss(pass_(model, x2, 7), y)
        loss.backward()
        grads = [p.grad.clone() for p in model.parameters()]
        if pass_ is stf_forward:
            expected = grads
    for a, b in zip(grads, expected):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


# --- generalized teacher forcing --------------------------------------------------------

from course_utils.training import (forced_forward, forced_forward_fused,  # noqa: E402
                                   forcing_weights, gtf_alpha_estimate, gtf_forward,
                                   train_gtf)


def test_forcing_weights_of_stf_and_gtf():
    np.testing.assert_array_equal(forcing_weights(7, tau_f=3), [1, 0, 0, 1, 0, 0, 1])
    np.testing.assert_array_equal(forcing_weights(6, tau_f=2, warmup=3), [1, 1, 1, 1, 0, 1])
    np.testing.assert_array_equal(forcing_weights(4, alpha=0.25), [1, 0.25, 0.25, 0.25])
    np.testing.assert_array_equal(forcing_weights(5, alpha=0.5, warmup=3), [1, 1, 1, .5, .5])
    np.testing.assert_array_equal(forcing_weights(7, tau_f=3, alpha=0.1),    # with resets
                                  [1, .1, .1, 1, .1, .1, 1])
    np.testing.assert_array_equal(forcing_weights(6, tau_f=3, alpha=0.0),
                                  forcing_weights(6, tau_f=3))
    np.testing.assert_array_equal(forcing_weights(6, tau_f=6, alpha=0.4),
                                  forcing_weights(6, alpha=0.4))
    with pytest.raises(ValueError, match="give tau_f .*got neither"):
        forcing_weights(5)
    with pytest.raises(ValueError, match="alpha=-0.1"):
        forcing_weights(5, tau_f=2, alpha=-0.1)
    with pytest.raises(ValueError, match="alpha=1.5"):
        forcing_weights(5, alpha=1.5)


def test_gtf_interpolates_only_the_observed_units():
    """One GTF step by hand: z~_1 = [(1 - a) z_1[:N] + a x_1, z_1[N:]] with z_1 = F([x_0, 0])."""
    model = _model(M=5, L=7, N=2)
    x = torch.randn(3, 2, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    a = 0.3
    z1 = model(torch.cat([x[:, 0], x.new_zeros(3, 3)], dim=-1))
    z1_forced = torch.cat([(1 - a) * z1[:, :2] + a * x[:, 1], z1[:, 2:]], dim=-1)
    pred = gtf_forward(model, x, a)
    torch.testing.assert_close(pred[:, 0], z1[:, :2])
    torch.testing.assert_close(pred[:, 1], model(z1_forced)[:, :2])


def test_the_reference_is_stf_at_alpha_one_and_a_free_run_at_alpha_zero():
    """gtf_forward with alpha = 1 is teacher forcing at every step (STF with tau_f = 1);
    with alpha = 0 the model runs freely from [x_0, 0]."""
    model = ShallowPLRNN(5, 7, 2, seed=3, dtype=torch.float64)
    x = torch.randn(2, 12, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(gtf_forward(model, x, 1.0), stf_forward(model, x, 1))
    free = model.generate(x[:, 0], 13)[:, 1:, :2]
    torch.testing.assert_close(gtf_forward(model, x, 0.0), free)



@pytest.mark.parametrize("alpha, warmup", [(0.3, 0), (0.0, 0), (1.0, 0), (0.1, 6), (0.7, 1)])
def test_fused_gtf_matches_autograd_values_and_gradients(alpha, warmup):
    model = _model(M=6, L=11, N=2)
    x = torch.randn(4, 30, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    y = torch.randn(4, 30, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    weights = forcing_weights(30, alpha=alpha, warmup=warmup)
    ref = prediction_loss(gtf_forward(model, x, alpha, warmup), y, warmup)
    ref_grads = torch.autograd.grad(ref, list(model.parameters()))
    fused = prediction_loss(forced_forward_fused(model, x, weights), y, warmup)
    fused_grads = torch.autograd.grad(fused, list(model.parameters()))
    torch.testing.assert_close(fused, ref, rtol=1e-12, atol=1e-12)
    for g, e in zip(fused_grads, ref_grads):
        torch.testing.assert_close(g, e, rtol=1e-9, atol=1e-11)


def test_fused_pass_with_a_different_weight_at_every_step_matches_autograd():
    """Any schedule of forcing weights, not only STF's 0/1 or GTF's constant alpha: the
    backward pass scales each step by its own 1 - w_t."""
    model = _model(M=6, L=11, N=2)
    g = torch.Generator().manual_seed(7)
    x, y = (torch.randn(3, 25, 2, dtype=torch.float64, generator=g) for _ in range(2))
    weights = torch.rand(25, dtype=torch.float64, generator=g).numpy()
    weights[[0, 5, 9]] = 1.0
    weights[[3, 12]] = 0.0
    ref = prediction_loss(forced_forward(model, x, weights), y)
    fused = prediction_loss(forced_forward_fused(model, x, weights), y)
    torch.testing.assert_close(fused, ref, rtol=1e-12, atol=1e-12)
    for a, b in zip(torch.autograd.grad(fused, list(model.parameters())),
                    torch.autograd.grad(ref, list(model.parameters()))):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-11)


def test_forced_passes_reject_bad_weights():
    model = _model(N=3)
    x = torch.zeros(2, 5, 3, dtype=torch.float64)
    for forward in (forced_forward, forced_forward_fused):
        with pytest.raises(ValueError, match=r"T = 5 numbers in \[0, 1\]; got shape \(4,\)"):
            forward(model, x, np.ones(4))
        with pytest.raises(ValueError, match=r"T = 5 numbers in \[0, 1\]; got values from "
                                             r"-0.5 to 1.2"):
            forward(model, x, [0.0, 1.2, 0.5, -0.5, 1.0])


def test_alpha_estimate_follows_the_jacobian_norm():
    """A purely linear model, z -> diag(A) z (W1 = 0): every Jacobian is diag(A), whose
    spectral norm is max |A|, so alpha = 1 - 1/max|A| when that exceeds 1, else 0."""
    model = _model(M=4, L=5, N=2)
    with torch.no_grad():
        model.W1.zero_()
        model.A.copy_(torch.tensor([0.5, 1.25, -0.9, 1.0], dtype=torch.float64))
    z = torch.randn(3, 8, 4, dtype=torch.float64)
    assert gtf_alpha_estimate(model, z) == pytest.approx(1 - 1 / 1.25)
    with torch.no_grad():
        model.A.copy_(torch.tensor([0.5, 0.8, -0.9, 0.2], dtype=torch.float64))
    assert gtf_alpha_estimate(model, z) == 0.0
    with pytest.raises(ValueError, match=r"\(B, T, M\) with M = 4; got \(8, 4\)"):
        gtf_alpha_estimate(model, z[0])


def test_alpha_estimate_takes_the_worst_sequence_geometric_mean():
    """Two sequences whose states switch a ReLU unit on or off: the estimate comes from the
    larger geometric mean of the norms, computed here by hand."""
    model = _model(M=2, L=1, N=1)
    with torch.no_grad():
        model.A.copy_(torch.tensor([1.0, 1.0], dtype=torch.float64))
        model.W2.copy_(torch.tensor([[1.0, 0.0]], dtype=torch.float64))
        model.h2.zero_()
        model.W1.copy_(torch.tensor([[1.0], [0.0]], dtype=torch.float64))
    # unit on (z[0] > 0): J = [[2, 0], [0, 1]], norm 2; off: J = I, norm 1
    z = torch.tensor([[[1.0, 0.0], [-1.0, 0.0]], [[1.0, 0.0], [1.0, 0.0]]], dtype=torch.float64)
    assert gtf_alpha_estimate(model, z) == pytest.approx(1 - 1 / 2.0)      # sequence 2
    assert gtf_alpha_estimate(model, z[:1]) == pytest.approx(1 - 1 / 2 ** 0.5)


def test_gtf_training_lowers_the_loss_adapts_alpha_and_is_reproducible():
    """GTF's own loss changes meaning as alpha moves, so the yardstick is the same for the
    model before and after: the error of 30-step predictions forced every 10 steps."""
    data = _sine_data()
    x, y = data[None, 100:130], data[None, 101:131]
    runs, before = [], None
    for _ in range(2):
        model = ShallowPLRNN(8, 16, 3, seed=0)
        with torch.no_grad():
            before = float(prediction_loss(stf_forward(model, x, 10), y))
        history = train_gtf(model, data, n_steps=300, batch_size=8, seq_len=30, lr=1e-2,
                            alpha=1.0, alpha_every=5, alpha_decay=0.95, seed=3,
                            show_progress=False)
        runs.append((history, model.state_dict()))
    with torch.no_grad():
        after = float(prediction_loss(stf_forward(model, x, 10), y))
    history = runs[0][0]
    loss, alpha = history["loss"], history["alpha"]
    assert loss.shape == alpha.shape == (300,) and np.all(np.isfinite(loss))
    assert after < 0.1 * before
    assert alpha[0] <= 1.0 and alpha[-1] < 0.5 * alpha[0]      # relaxed from the start
    assert np.all((alpha >= 0) & (alpha <= 1))
    np.testing.assert_array_equal(runs[0][0]["loss"], runs[1][0]["loss"])
    for k in runs[0][1]:
        assert torch.equal(runs[0][1][k], runs[1][1][k]), k


def _recording_forward():
    """A forced forward pass that records the forcing weights of every call."""
    calls = []

    def forward(model, x, weights):
        calls.append(np.asarray(weights).copy())
        return forced_forward(model, x, weights)

    return calls, forward


def test_gtf_with_a_constant_alpha_keeps_it_and_uses_the_student_forward():
    calls, forward = _recording_forward()
    history = train_gtf(ShallowPLRNN(4, 8, 3, seed=0), _sine_data(), n_steps=3,
                        batch_size=2, seq_len=6, alpha=0.2, adaptive=False, warmup=2,
                        forward=forward, show_progress=False)
    np.testing.assert_array_equal(history["alpha"], [0.2] * 3)
    for w in calls:
        np.testing.assert_allclose(w, [1, 1, 0.2, 0.2, 0.2, 0.2])


def test_gtf_with_resets_forces_every_tau_f_th_state_fully():
    calls, forward = _recording_forward()
    train_gtf(ShallowPLRNN(4, 8, 3, seed=0), _sine_data(), n_steps=2, batch_size=2,
              seq_len=7, alpha=0.2, adaptive=False, tau_f=3, forward=forward,
              show_progress=False)
    for w in calls:
        np.testing.assert_allclose(w, [1, 0.2, 0.2, 1, 0.2, 0.2, 1])


def test_gtf_with_resets_and_alpha_zero_is_stf():
    """alpha = 0 with resets every tau_f steps is sparse teacher forcing, update for update."""
    runs = []
    for train in (train_stf, functools.partial(train_gtf, alpha=0.0, adaptive=False)):
        model = ShallowPLRNN(4, 8, 3, seed=3)
        history = train(model, _sine_data(), n_steps=20, batch_size=4, seq_len=30,
                        tau_f=7, seed=2, show_progress=False)
        runs.append((history["loss"], [p.detach().clone() for p in model.parameters()]))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    assert runs[0][0][-1] < runs[0][0][0]                   # it trained
    for a, b in zip(runs[0][1], runs[1][1]):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_training_records_at_the_given_updates():
    seen = []
    history = train_gtf(ShallowPLRNN(4, 8, 3, seed=0), _sine_data(), n_steps=7, batch_size=2,
                        seq_len=6, record=lambda m: seen.append(1) or float(m.A.detach().sum()),
                        record_every=3, show_progress=False)
    np.testing.assert_array_equal(history["steps"], [0, 3, 6, 7])
    assert len(history["records"]) == 4 and len(seen) == 4
    assert history["records"][0] != history["records"][-1]     # the model moved
    with pytest.raises(ValueError, match="record_every must be >= 1; got 0"):
        train_stf(ShallowPLRNN(4, 8, 3, seed=0), _sine_data(), n_steps=2, record_every=0,
                  show_progress=False)


def test_a_diverging_gtf_run_stops_with_a_clear_message():
    model = ShallowPLRNN(6, 12, 3, seed=0)
    with torch.no_grad():
        model.A.fill_(3.0)
    with pytest.raises(TrainingDiverged, match=r"diverged at update 0.*force more strongly"):
        train_gtf(model, _sine_data(), n_steps=5, batch_size=4, seq_len=400, alpha=0.0,
                  adaptive=False, show_progress=False)
    with pytest.raises(ValueError, match="alpha=2"):
        train_gtf(model, _sine_data(), n_steps=1, alpha=2, show_progress=False)


def test_gtf_alpha_decays_from_alpha_to_alpha_end_and_the_passes_use_it():
    calls, forward = _recording_forward()
    history = train_gtf(ShallowPLRNN(4, 8, 3, seed=0), _sine_data(), n_steps=5,
                        batch_size=2, seq_len=6, alpha=0.2, adaptive=False, alpha_end=0.0125,
                        forward=forward, show_progress=False)
    alpha = history["alpha"]
    np.testing.assert_allclose(alpha, 0.2 * 0.5 ** np.arange(5))   # 0.2 ... 0.0125
    for a, w in zip(alpha, calls):
        np.testing.assert_allclose(w, [1] + [a] * 5)
    for bad in (dict(adaptive=True, alpha_end=0.01), dict(adaptive=False, alpha_end=0.0),
                dict(adaptive=False, alpha_end=1.5)):
        with pytest.raises(ValueError, match="alpha_end needs adaptive=False"):
            train_gtf(ShallowPLRNN(4, 8, 3, seed=0), _sine_data(), n_steps=2, alpha=0.2,
                      show_progress=False, **bad)


def test_batch_noise_is_fresh_scaled_per_column_and_leaves_the_batches_alone():
    """noise > 0 adds a new draw at each update, of noise times each column's deviation,
    to the same subsequences that noise = 0 trains on, and is itself reproducible."""
    data = _sine_data() * torch.tensor([1.0, 2.0, 4.0])
    seen = {}
    for noise in (0.0, 0.1, 0.1):
        xs = []

        def forward(model, x, tau_f, warmup):
            xs.append(x.detach().clone())
            return stf_forward(model, x, tau_f, warmup)

        train_stf(ShallowPLRNN(4, 8, 3, seed=0), data, n_steps=3, batch_size=64, seq_len=50,
                  tau_f=10, lr=1e-12, lr_end=1e-12, noise=noise, forward=forward, seed=5,
                  show_progress=False)
        seen.setdefault(noise, []).append(torch.stack(xs))
    clean, noisy, again = seen[0.0][0], seen[0.1][0], seen[0.1][1]
    assert torch.equal(noisy, again)                               # reproducible
    e = noisy - clean                                              # same batches underneath
    std = e.reshape(3, -1, 3).std(dim=1)                           # per update and column
    np.testing.assert_allclose(std, 0.1 * data.std(dim=0).expand(3, 3), rtol=0.06)
    assert not torch.allclose(e[0], e[1])                          # fresh at each update


def test_batch_noise_is_observation_noise_and_bad_levels_are_refused():
    from course_utils.training import _batch_noise

    data = _sine_data()
    add = _batch_noise(data, 0.2, seed=1)
    x, y = add(torch.zeros(4, 9, 3), torch.zeros(4, 9, 3))
    torch.testing.assert_close(y[:, :-1], x[:, 1:])                # y_t is x_{t+1}
    assert x.abs().min() > 0
    for bad in (-0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match=f"noise must be a finite number >= 0; got {bad}"):
            train_stf(ShallowPLRNN(4, 8, 3, seed=0), data, n_steps=1, noise=bad,
                      show_progress=False)


# --- sequence models --------------------------------------------------------------------

def test_train_sequence_model_learns_and_records():
    from course_utils.models import RNNReadout
    from course_utils.training import train_sequence_model

    torch.manual_seed(0)
    net = RNNReadout(3, 32, 3, seed=0)
    rng = np.random.default_rng(0)
    hist = train_sequence_model(net, lambda s: flipflop_batch(32, 60, seed=rng), n_steps=200,
                                lr=5e-3, record=lambda m: m.rnn.weight_hh_l0.norm().item(),
                                record_every=50, show_progress=False)
    assert hist["loss"].shape == (200,)
    assert hist["loss"][-20:].mean() < 0.5 * hist["loss"][:20].mean()
    np.testing.assert_array_equal(hist["steps"], [0, 50, 100, 150, 200])
    assert len(hist["records"]) == 5 and hist["records"][0] != hist["records"][-1]


def test_train_sequence_model_stops_on_divergence_and_bad_targets():
    from course_utils.models import RNNReadout
    from course_utils.training import TrainingDiverged, train_sequence_model

    net = RNNReadout(1, 4, 1, seed=0)
    bad = lambda s: (np.full((2, 5, 1), np.nan, np.float32), np.zeros((2, 5, 1), np.float32))
    with pytest.raises(TrainingDiverged, match="update 0"):
        train_sequence_model(net, bad, n_steps=3, show_progress=False)
    wrong = lambda s: (np.zeros((2, 5, 1), np.float32), np.zeros((2, 5, 2), np.float32))
    with pytest.raises(ValueError, match=r"targets y have shape \(2, 5, 2\)"):
        train_sequence_model(net, wrong, n_steps=3, show_progress=False)


def test_adam_on_one_flat_tensor_gives_the_updates_of_adam_on_each_parameter(monkeypatch):
    """The trainers step Adam on the parameters gathered into one flat tensor (fewer
    operations per update); the trained model is bit for bit Adam's on the five
    parameters, and afterwards each parameter has its own memory again."""
    from course_utils import training

    data = _sine_data()
    results = {}
    for flat in (True, False):
        monkeypatch.setattr(training, "_FLAT_ADAM", flat)
        model = ShallowPLRNN(6, 13, 3, seed=0)
        history = train_gtf(model, data, n_steps=25, batch_size=4, seq_len=40, alpha=0.2,
                            adaptive=False, tau_f=9, show_progress=False, seed=3)
        results[flat] = model, history["loss"]
    (flat_model, flat_loss), (plain_model, plain_loss) = results[True], results[False]
    assert np.array_equal(flat_loss, plain_loss)
    for a, b in zip(flat_model.parameters(), plain_model.parameters()):
        assert torch.equal(a, b)
    pointers = {p.untyped_storage().data_ptr() for p in flat_model.parameters()}
    assert len(pointers) == 5
