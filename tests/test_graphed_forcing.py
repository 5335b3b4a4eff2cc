"""GraphedForcing gives the forced pass's predictions and parameter gradients of plain
autograd (forced_forward) and of the fused NumPy pass (forced_forward_fused), for STF, GTF
and GTF with resets; refills its static buffers with each call's data and weights; sees
in-place parameter updates; trains as the CPU path does; and names what it was given when
it refuses. Each comparison runs twice, as in test_gpu.py: on "cpu", where the class runs
its kernels eagerly (so that the pass a GPU captures is tested everywhere), and on "cuda",
where it replays CUDA graphs, marked ``gpu`` and skipped without a CUDA device
(``pytest -m gpu tests/test_graphed_forcing.py`` selects those).

Tolerances: float32, relative 1e-4 in norm per prediction tensor and per parameter
gradient (measured on the CPU: about 2e-6); float64 trainings agree to 1e-9 relative.
"""

import copy
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from course_utils.graphed_forcing import GraphedForcing
from course_utils.models import ShallowPLRNN
from course_utils.training import (forced_forward, forced_forward_fused, forcing_weights,
                                   stf_forward, train_gtf, train_stf)

ROOT = Path(__file__).resolve().parents[1]
DEVICES = ["cpu", pytest.param("cuda", marks=[
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
])]
CPU = torch.device("cpu")
B, T = 16, 200
FORCING = {"stf": dict(tau_f=25), "gtf": dict(alpha=0.1),
           "gtf with resets": dict(alpha=0.1, tau_f=25)}


def _model(M=20, L=200, N=3, seed=0, dtype=torch.float32):
    return ShallowPLRNN(M, L, N, seed=seed, dtype=dtype)


def _batch(seed, N=3, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(B, T, N, generator=g, dtype=dtype),
            torch.randn(B, T, N, generator=g, dtype=dtype))


def _pass(forward, model, x, y, weights):
    """Predictions and parameter gradients (on the CPU) of the loss mean((pred - y)^2)."""
    model.zero_grad(set_to_none=True)
    pred = forward(model, x, weights)
    torch.mean((pred - y) ** 2).backward()
    return (pred.detach().cpu().clone(),       # copies: .cpu() of a CPU tensor is itself
            [p.grad.detach().cpu().clone() for p in model.parameters()])


def _rel(a, b):
    return ((a - b).norm() / b.norm()).item()


def _assert_close(got, expected, tol=1e-4):
    (pred, grads), (pred_ref, grads_ref) = got, expected
    assert _rel(pred, pred_ref) < tol, _rel(pred, pred_ref)
    for (name, _), g, r in zip(_model().named_parameters(), grads, grads_ref):
        assert r.norm() > 0, name
        assert _rel(g, r) < tol, (name, _rel(g, r))


@pytest.mark.parametrize("forcing", list(FORCING))
@pytest.mark.parametrize("device", DEVICES)
def test_matches_autograd_and_the_fused_pass(device, forcing):
    model = _model()
    on = copy.deepcopy(model).to(device)
    graphed = GraphedForcing(on, B, T)
    assert graphed.captured == (device == "cuda")
    x, y = _batch(0)
    weights = forcing_weights(T, **FORCING[forcing])
    got = _pass(graphed, on, x.to(device), y.to(device), weights)
    _assert_close(got, _pass(forced_forward, model, x, y, weights))
    _assert_close(got, _pass(forced_forward_fused, model, x, y, weights))
    # the forcing matters: unforced after the first step the predictions differ
    free = _pass(forced_forward, model, x, y, forcing_weights(T, alpha=0.0))
    assert _rel(got[0], free[0]) > 1e-2


@pytest.mark.parametrize("device", DEVICES)
def test_stf_adapter_with_a_warmup(device):
    model = _model()
    on = copy.deepcopy(model).to(device)
    graphed = GraphedForcing(on, B, T)
    x, y = _batch(1)

    def graphed_stf(m, x, weights):
        return graphed.stf(m, x, 25, 10)

    def plain_stf(m, x, weights):
        return stf_forward(m, x, 25, 10)

    _assert_close(_pass(graphed_stf, on, x.to(device), y.to(device), None),
                  _pass(plain_stf, model, x, y, None))


@pytest.mark.parametrize("device", DEVICES)
def test_new_data_and_weights_refill_the_static_buffers(device):
    model = _model()
    on = copy.deepcopy(model).to(device)
    graphed = GraphedForcing(on, B, T)
    (x1, y1), (x2, y2) = _batch(2), _batch(3)
    w1 = forcing_weights(T, alpha=0.1, tau_f=25)
    w2 = forcing_weights(T, alpha=0.3)
    first = _pass(graphed, on, x1.to(device), y1.to(device), w1)
    kept = first[0].clone()
    second = _pass(graphed, on, x2.to(device), y2.to(device), w1)
    _assert_close(second, _pass(forced_forward_fused, model, x2, y2, w1))
    assert _rel(second[1][1], first[1][1]) > 1e-2          # W1's gradient moved
    assert torch.equal(first[0], kept)                     # handed-out predictions are copies
    third = _pass(graphed, on, x2.to(device), y2.to(device), w2)   # new weights, same data
    _assert_close(third, _pass(forced_forward_fused, model, x2, y2, w2))
    assert _rel(third[0], second[0]) > 1e-3
    again = _pass(graphed, on, x1.to(device), y1.to(device), w1)
    _assert_close(again, first, tol=1e-6)


@pytest.mark.parametrize("device", DEVICES)
def test_gradients_accumulate_and_optimizer_steps_are_seen(device):
    model = _model()
    on = copy.deepcopy(model).to(device)
    graphed = GraphedForcing(on, B, T)
    x, y = _batch(4)
    weights = forcing_weights(T, alpha=0.1, tau_f=25)
    before, grads = _pass(graphed, on, x.to(device), y.to(device), weights)
    # a second backward, on other data, without zeroing adds to .grad as autograd does
    x2, y2 = _batch(6)
    torch.mean((graphed(on, x2.to(device), weights) - y2.to(device)) ** 2).backward()
    _, grads2 = _pass(forced_forward_fused, model, x2, y2, weights)
    for p, g, g2 in zip(on.parameters(), grads, grads2):
        assert _rel(p.grad.cpu(), g + g2) < 1e-4
    torch.optim.Adam(on.parameters(), lr=1e-2).step()      # updates in place
    after = _pass(graphed, on, x.to(device), y.to(device), weights)
    moved = copy.deepcopy(on).to(CPU)
    assert _rel(after[0], before) > 1e-3
    _assert_close(after, _pass(forced_forward_fused, moved, x, y, weights))


@pytest.mark.parametrize("device", DEVICES)
def test_training_gives_the_losses_of_the_cpu_path(device):
    t = torch.arange(3000, dtype=torch.float64) * 0.05
    data = torch.stack([torch.sin(t), torch.cos(1.3 * t), torch.sin(0.7 * t)], dim=1)
    settings = dict(n_steps=6, batch_size=B, seq_len=T, show_progress=False)
    runs = [("gtf", train_gtf, dict(alpha=0.1, tau_f=25, adaptive=False)),
            ("adaptive gtf", train_gtf, dict(alpha=0.5, adaptive=True, alpha_every=2)),
            ("stf", train_stf, dict(tau_f=25, noise=0.05))]
    for name, trainer, keywords in runs:
        model = _model(M=8, L=32, seed=5, dtype=torch.float64)
        on = copy.deepcopy(model).to(device)
        graphed = GraphedForcing(on, B, T)
        forward = graphed.stf if trainer is train_stf else graphed
        expected = trainer(model, data, **settings, **keywords)
        got = trainer(on, data, forward=forward, **settings, **keywords)
        np.testing.assert_allclose(got["loss"], expected["loss"], rtol=1e-9, err_msg=name)
        if "alpha" in expected:
            np.testing.assert_allclose(got["alpha"], expected["alpha"], rtol=1e-9)
        for p, q in zip(on.parameters(), model.parameters()):
            torch.testing.assert_close(p.detach().cpu(), q.detach(), rtol=1e-8, atol=1e-10)
        assert not np.allclose(got["loss"][-1], got["loss"][0])


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_graphs_replay_the_eager_kernels_and_name_the_device():
    model = _model().to("cuda")
    graphed = GraphedForcing(model, B, T)
    eager = GraphedForcing(model, B, T, capture=False)
    assert graphed.captured and not eager.captured and "CUDA graphs" in repr(graphed)
    x, y = _batch(5)
    weights = forcing_weights(T, alpha=0.1, tau_f=25)
    _assert_close(_pass(graphed, model, x.cuda(), y.cuda(), weights),
                  _pass(eager, model, x.cuda(), y.cuda(), weights), tol=1e-6)
    with pytest.raises(ValueError, match=r"device cuda:\d+ in its dtype torch.float32; got "
                                         r"cpu"):
        graphed(model, x, weights)
    model.to("cpu")
    with pytest.raises(ValueError, match="parameter A was replaced .* now on cpu"):
        graphed(model, x, weights)


def test_bad_input_is_named():
    model = _model(M=6, L=10)
    graphed = GraphedForcing(model, 4, 30)
    assert "eager" in repr(graphed) and not graphed.captured
    x = torch.zeros(4, 30, 3)
    w = forcing_weights(30, tau_f=5)
    with pytest.raises(ValueError, match=r"\(4, 30, 3\).*got \(4, 31, 3\)"):
        graphed(model, torch.zeros(4, 31, 3), w)
    with pytest.raises(ValueError, match=r"float32; got cpu, torch.float64"):
        graphed(model, x.double(), w)
    with pytest.raises(ValueError, match="another model object"):
        graphed(_model(M=6, L=10), x, w)
    with pytest.raises(ValueError, match="requires a gradient"):
        graphed(model, x.requires_grad_(), w)
    with pytest.raises(TypeError, match="x must be a torch.Tensor; got ndarray"):
        graphed(model, np.zeros((4, 30, 3), np.float32), w)
    with pytest.raises(ValueError, match=r"weights must be T = 30 .* shape \(29,\)"):
        graphed(model, torch.zeros(4, 30, 3), w[:29])
    with pytest.raises(ValueError, match="values from -0.5 to 1.0"):
        graphed(model, torch.zeros(4, 30, 3), np.where(w > 0, 1.0, -0.5))
    with pytest.raises(ValueError, match=r"warmup must be in 0..29 .* got 30"):
        graphed.stf(model, torch.zeros(4, 30, 3), 5, 30)
    with pytest.raises(TypeError, match="ShallowPLRNN; got Linear"):
        GraphedForcing(torch.nn.Linear(3, 3), 4, 30)
    with pytest.raises(ValueError, match="batch_size=0"):
        GraphedForcing(model, 0, 30)
    with pytest.raises(ValueError, match="capture=True needs a model on a CUDA device; got "
                                         "a model on cpu"):
        GraphedForcing(model, 4, 30, capture=True)
    with pytest.raises(ValueError, match="float32 or float64; got torch.float16"):
        GraphedForcing(_model(M=6, L=10).half(), 4, 30)
    # a forward pass whose backward comes after a later forward pass
    first = graphed(model, torch.ones(4, 30, 3), w)
    graphed(model, torch.zeros(4, 30, 3), w)
    with pytest.raises(RuntimeError, match="a later forward pass .* overwritten"):
        first.sum().backward()
    # parameters replaced (not updated in place) since the GraphedForcing was built
    model.double()
    with pytest.raises(ValueError, match="parameter A was replaced .* torch.float64"):
        graphed(model, torch.zeros(4, 30, 3, dtype=torch.float64), w)


def _benchmark():
    spec = importlib.util.spec_from_file_location("forcing_gpu",
                                                  ROOT / "benchmarks" / "forcing_gpu.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_smoke_prints_json_lines(capsys):
    assert _benchmark().main(["--smoke", "--method", "stf"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 4
    ways, verdict = lines[:3], lines[3]
    assert [w["way"].split(",")[0] for w in ways] == [
        "fused NumPy pass", "plain autograd", "GraphedForcing (eager"]
    for w in ways:
        assert w["smoke"] is True and w["device"] == "cpu" and w["method"] == "stf"
        assert 0 < w["quartiles"][0] <= w["ms_per_update"] <= w["quartiles"][1]
        assert w["M"] == 20 and w["L"] == 200 and w["batch"] == 32 and w["T"] == 200
    assert ways[0]["ratio_to_fused_cpu"] == 1.0
    # the three ways train alike: the loss after one update agrees to float32 rounding
    losses = [w["second_loss"] for w in ways]
    assert max(losses) - min(losses) < 1e-4 * abs(losses[0])
    assert verdict["at_least_3x"] is None and verdict["graph_speedup_vs_fused_cpu"] > 0


def test_benchmark_without_cuda_measures_nothing():
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "forcing_gpu.py")],
                            capture_output=True, text=True,
                            env={**os.environ, "COURSE_DEVICE": "cpu"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines() == [
        "no CUDA device (course_utils.runtime.device() is cpu: COURSE_DEVICE=cpu): "
        "nothing measured"]
