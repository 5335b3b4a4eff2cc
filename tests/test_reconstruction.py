"""The chapters' reconstruction settings and training a model from them
(course_utils.reconstruction)."""

import math

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
