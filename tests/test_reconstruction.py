"""The chapters' reconstruction settings and training a model from them
(course_utils.reconstruction)."""

import math
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import torch

from course_utils.models import ShallowPLRNN
from course_utils.reconstruction import STF_X_DEFAULTS, train_reconstruction


def test_train_reconstruction_uses_the_settings():
    g = torch.Generator().manual_seed(0)
    data = torch.randn(500, 3, generator=g).cumsum(0) / 20
    settings = {**STF_X_DEFAULTS, "M": 4, "L": 6,
                "train": {**STF_X_DEFAULTS["train"], "seq_len": 30, "warmup": 5,
                          "batch_size": 4}}
    model, history = train_reconstruction(settings, data, n_steps=7, show_progress=False)
    assert isinstance(model, ShallowPLRNN) and (model.M, model.L, model.N) == (4, 6, 1)
    assert history["loss"].shape == (7,) and all(map(math.isfinite, history["loss"]))


# --- the store of trained models ----------------------------------------------------------

def _small_settings(seed=0, method="stf"):
    from course_utils.reconstruction import GTF_DEFAULTS, STF_DEFAULTS

    base = GTF_DEFAULTS if method == "gtf" else STF_DEFAULTS
    return dict(base, M=6, L=12, seed=seed,
                train=dict(base["train"], n_steps=6, batch_size=4, seq_len=30, seed=seed))


def _toy_data(n=400, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, generator=g, dtype=torch.float32).cumsum(0) * 0.05


def test_a_stored_model_is_trained_once_and_loaded_with_its_record(tmp_path, monkeypatch):
    from course_utils import reconstruction
    from course_utils.evaluation import FreeRunDistances
    from course_utils.reconstruction import train_reconstruction, trained_reconstruction

    data = _toy_data()
    record = FreeRunDistances(data[:200], n_generate=100, transient=10)
    first, history = trained_reconstruction(_small_settings(), data, record=record,
                                            record_every=2, folder=tmp_path,
                                            show_progress=False)
    assert history["loaded_from"] is None and len(history["records"]) == 4
    calls = []
    monkeypatch.setattr(reconstruction, "train_reconstruction",
                        lambda *a, **k: calls.append(1) or train_reconstruction(*a, **k))
    again, loaded = trained_reconstruction(_small_settings(), data, record=record,
                                           record_every=2, folder=tmp_path,
                                           show_progress=False)
    assert calls == [] and loaded["loaded_from"].startswith(str(tmp_path))
    for name, value in first.state_dict().items():
        assert torch.equal(again.state_dict()[name], value)
    np.testing.assert_array_equal(loaded["loss"], history["loss"])
    assert loaded["records"] == history["records"] and loaded["seconds"] == history["seconds"]
    np.testing.assert_array_equal(loaded["steps"], history["steps"])


@pytest.mark.parametrize("change", ["seed", "n_steps", "data", "record", "record_every",
                                    "method"])
def test_anything_that_decides_the_model_makes_another_one(tmp_path, change):
    from course_utils.evaluation import FreeRunDistances
    from course_utils.reconstruction import trained_reconstruction

    data = _toy_data()
    kwargs = dict(record=FreeRunDistances(data[:200], n_generate=50, transient=5),
                  record_every=3, folder=tmp_path, show_progress=False)
    trained_reconstruction(_small_settings(), data, **kwargs)
    settings = _small_settings(seed=1) if change == "seed" else _small_settings(
        method="gtf") if change == "method" else _small_settings()
    if change == "n_steps":
        kwargs["n_steps"] = 5
    if change == "data":
        data = data.clone()
        data[7, 0] += 1e-3
    if change == "record":
        kwargs["record"] = FreeRunDistances(data[:200], n_generate=60, transient=5)
    if change == "record_every":
        kwargs["record_every"] = 2
    _, history = trained_reconstruction(settings, data, **kwargs)
    assert history["loaded_from"] is None
    assert len(list(tmp_path.glob("*.pt"))) == 2


def test_a_record_without_fingerprint_is_refused(tmp_path):
    from course_utils.reconstruction import trained_reconstruction

    with pytest.raises(TypeError, match="fingerprint"):
        trained_reconstruction(_small_settings(), _toy_data(), record=lambda m: 0.0,
                               folder=tmp_path)


@pytest.mark.skipif(sys.platform == "win32", reason="the lock needs fcntl")
def test_a_second_process_waits_for_the_first_and_loads_its_model(tmp_path):
    """Two processes that want the same model at once: one trains, the other waits on the
    lock, then loads the same model without training."""
    script = textwrap.dedent(f"""
        import sys, torch
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_reconstruction import _small_settings, _toy_data
        from course_utils.reconstruction import trained_reconstruction
        settings = _small_settings()
        settings["train"]["n_steps"] = 300
        model, history = trained_reconstruction(settings, _toy_data(), folder={str(tmp_path)!r},
                                                show_progress=False)
        print("loaded" if history["loaded_from"] else "trained", float(model.W1.sum()))
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outputs = sorted(p.communicate(timeout=240)[0].splitlines()[-1].split() for p in procs)
    assert [o[0] for o in outputs] == ["loaded", "trained"]
    assert outputs[0][1] == outputs[1][1]
