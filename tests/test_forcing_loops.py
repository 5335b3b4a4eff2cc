"""The loops of the fused forced pass and their helper process: split between two
processes the pass gives bit for bit the results of one process, whatever happens to the
helper; the helper is used where it should be and not where it should not."""

import os
import sys
import time

import numpy as np
import pytest
import torch

from course_utils import forcing_loops
from course_utils.models import ShallowPLRNN
from course_utils.training import (forced_forward_fused, forced_states, forcing_weights,
                                   prediction_loss)

linux_only = pytest.mark.skipif(not forcing_loops._helper_wanted(10**6, 32, 10**3),
                                reason="the helper needs Linux (memfd) and two cores")

WEIGHTS = {"stf": dict(tau_f=25), "gtf": dict(alpha=0.1),
           "gtf with resets": dict(tau_f=25, alpha=0.1)}


def _pass(model, x, y, weights):
    """Predictions, forced states and parameter gradients of one fused pass."""
    model.zero_grad()
    predictions = forced_forward_fused(model, x, weights)
    prediction_loss(predictions, y).backward()
    return [predictions.detach(), forced_states(model, x, weights)] + [
        p.grad.clone() for p in model.parameters()]


def _batch(B=32, T=120, N=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(B, T, N, generator=g) for _ in range(2))


def _ready_helper(monkeypatch, model, x, y, weights):
    """Make passes of this size use the helper, and wait until it has started."""
    monkeypatch.setattr(forcing_loops, "HELPER_MIN_WORK", 1)
    monkeypatch.setenv("COURSE_FUSED_HELPER", "1")
    _pass(model, x, y, weights)            # creates a shared workspace and the helper
    helper = forcing_loops._helper
    deadline = time.monotonic() + 30
    while not helper._is_ready():
        assert not helper.broken and time.monotonic() < deadline, "the helper did not start"
        time.sleep(0.05)
    return helper


@linux_only
@pytest.mark.parametrize("method", sorted(WEIGHTS))
def test_the_helper_gives_the_results_of_one_process_bit_for_bit(monkeypatch, method):
    model = ShallowPLRNN(20, 60, 3, seed=1)
    x, y = _batch(B=31)                               # an odd batch: halves of 15 and 16
    weights = forcing_weights(x.shape[1], **WEIGHTS[method])
    helper = _ready_helper(monkeypatch, model, x, y, weights)
    served = helper.served
    split = _pass(model, x, y, weights)
    assert helper.served > served                     # the helper took part
    monkeypatch.setenv("COURSE_FUSED_HELPER", "0")
    monkeypatch.setattr(forcing_loops, "HELPER_MIN_WORK", 10**12)
    alone = _pass(model, x, y, weights)
    for a, b in zip(split, alone):
        assert torch.equal(a, b)


@linux_only
def test_a_helper_that_dies_costs_time_not_results(monkeypatch):
    model = ShallowPLRNN(12, 40, 3, seed=2)
    x, y = _batch()
    weights = forcing_weights(x.shape[1], tau_f=10)
    helper = _ready_helper(monkeypatch, model, x, y, weights)
    expected = _pass(model, x, y, weights)
    helper.proc.kill()
    helper.proc.wait()
    after = _pass(model, x, y, weights)
    assert helper.broken
    for a, b in zip(after, expected):
        assert torch.equal(a, b)
    forcing_loops._helper = None                      # the next test starts a new one


@linux_only
def test_a_forked_child_starts_its_own_helper(monkeypatch):
    """A child made by fork (the tests' notebook runner does so) must not talk to its
    parent's helper: it starts its own and gets the same results."""
    model = ShallowPLRNN(12, 40, 3, seed=3)
    x, y = _batch()
    weights = forcing_weights(x.shape[1], tau_f=10, alpha=0.2)
    helper = _ready_helper(monkeypatch, model, x, y, weights)
    expected = _pass(model, x, y, weights)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:                                      # the child
        ok = 0
        try:
            os.close(read)
            deadline = time.monotonic() + 30
            while True:
                got = _pass(model, x, y, weights)
                own = forcing_loops._helper
                if own is not helper and own._is_ready() and own.served:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError("no helper of its own")
                time.sleep(0.05)
            ok = int(all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(got, expected)))
        finally:
            os.write(write, bytes([ok]))
            os._exit(0)
    os.close(write)
    answer = os.read(read, 1)
    os.waitpid(pid, 0)
    assert answer == b"\x01"
    assert not helper.broken
    assert torch.equal(_pass(model, x, y, weights)[-1], expected[-1])   # parent's still works


def test_the_faster_way_is_chosen_and_the_other_tried_now_and_then():
    choice = forcing_loops._Choice()
    assert choice.wants_helper()                      # first the helper is tried
    choice.record(True, 0.010)
    assert not choice.wants_helper()                  # then one process alone
    choice.record(False, 0.007)
    ways = [choice.wants_helper() for _ in range(2 * choice.EXPLORE)]
    assert ways.count(True) == 2                      # alone is faster; the helper retried
    choice.record(True, 0.030)                        # one slow pass changes nothing
    choice.record(True, 0.004)
    assert not choice.wants_helper()
    for _ in range(choice.KEPT):
        choice.record(True, 0.004)                    # the machine changed: split is faster
    assert sum(choice.wants_helper() for _ in range(choice.EXPLORE)) == choice.EXPLORE - 1


def test_small_passes_and_the_switch_keep_the_helper_out(monkeypatch):
    assert not forcing_loops._helper_wanted(10, 4, 10)            # too little work
    monkeypatch.setenv("COURSE_FUSED_HELPER", "0")
    assert not forcing_loops._helper_wanted(10**4, 64, 10**3)
    ws = forcing_loops.Workspace(5, 4, 3, 7, 2, np.float32, shared=False)
    assert ws.fd is None and forcing_loops._helper_for(ws) is None


def test_the_workspace_starts_with_zero_padding_and_distinct_arrays():
    ws = forcing_loops.Workspace(6, 5, 4, 7, 2, np.float64, shared=sys.platform == "linux")
    assert not ws.grad_read.any() and not ws.c.any()
    names = ["xs", "Z", "H", "D", "G", "grad_read", "c", "out", "w1", "w1t", "gW1"]
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not np.shares_memory(getattr(ws, a), getattr(ws, b)), (a, b)
    assert ws.Z.shape == (7, 5, 4) and ws.H.shape == (6, 5, 7) and ws.active.dtype == bool


@linux_only
def test_a_process_that_runs_a_few_passes_starts_no_helper():
    """Checks and tests run a few passes: the helper starts only after HELPER_AFTER_PASSES
    large ones, as in a training."""
    import subprocess

    script = """
import os, torch
os.environ.pop("COURSE_FUSED_HELPER", None)
from course_utils import forcing_loops
from course_utils.models import ShallowPLRNN
from course_utils.training import forced_forward_fused, forcing_weights, prediction_loss
model = ShallowPLRNN(20, 200, 3, seed=0)
x = torch.randn(32, 200, 3)
weights = forcing_weights(200, tau_f=25)
def passes(n):
    for _ in range(n):
        prediction_loss(forced_forward_fused(model, x, weights), x).backward()
passes(10)
print(forcing_loops._helper is None)
passes(forcing_loops.HELPER_AFTER_PASSES)
print(forcing_loops._helper is not None)
"""
    env = {k: v for k, v in os.environ.items() if k != "COURSE_FUSED_HELPER"}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env=env, timeout=120, check=True).stdout.split()
    assert out == ["True", "True"]
