"""The shipped Lorenz-63 PLRNN and the command that makes it: its maximum Lyapunov exponent
is Lorenz-63's within 5 %, it loads as a state dict with the sheet's keys, and the command
writes a loadable checkpoint."""

import math

import pytest
import torch

from course_utils.pretrained import (CHECKPOINT, CHECKPOINT_DEFAULTS, load_pretrained_plrnn, main)
from course_utils.evaluation import model_max_lyapunov


def test_checkpoint_is_a_small_state_dict_with_the_sheet_keys():
    state = torch.load(CHECKPOINT, weights_only=True)
    M, L = CHECKPOINT_DEFAULTS["M"], CHECKPOINT_DEFAULTS["L"]
    assert {k: tuple(v.shape) for k, v in state.items()} == {
        "A": (M,), "W1": (M, L), "W2": (L, M), "h1": (M,), "h2": (L,)}
    assert CHECKPOINT.stat().st_size < 40_000      # M = 20, L = 200: 8,440 numbers


def test_shipped_model_has_the_lorenz_exponent_within_5_percent():
    model = load_pretrained_plrnn()
    assert (model.M, model.L, model.N) == (CHECKPOINT_DEFAULTS["M"],
                                           CHECKPOINT_DEFAULTS["L"], 3)
    # states on the model's attractor: a free run from a point of the standardised data
    Z = model.generate(torch.tensor([0.5, 0.2, -0.3]), 3000)[1000:]
    assert torch.isfinite(Z).all()
    lam = model_max_lyapunov(model, Z[::250], n_steps=20_000, transient=500, dt=0.01)
    lam_max = lam.mean().item()
    assert abs(lam_max - 0.906) / 0.906 < 0.05, f"lambda_max = {lam_max:.4f} per time unit"
    # the orbits agree with each other: an invariant of the attractor, not of the orbit
    assert lam.std().item() < 0.05


def test_shipped_model_has_fixed_points_at_those_of_lorenz63():
    """Lorenz-63 has fixed points at the origin and at C+- = (+-c, +-c, rho - 1), c =
    sqrt(beta (rho - 1)); in the model's coordinates (the standardised delay embedding of
    x) they sit at (x* - mean) / std. The reconstruction should have one near each, with
    the character of Lorenz-63's: at C+- a complex pair just outside the unit circle (the
    unstable spiral of a wing), at the origin one real eigenvalue above 1 whose value is
    about exp(mu dt) of the flow's unstable eigenvalue mu."""
    import numpy as np

    from course_utils.data import delay_embed, lorenz63_orbit
    from course_utils.linearization import plrnn_fixed_points
    from course_utils.lorenz import LORENZ_BETA, LORENZ_RHO, lorenz63_jacobian

    model = load_pretrained_plrnn().double()
    E = delay_embed(lorenz63_orbit(100_020, seed=0)[:, 0], 10)   # the data set's statistics
    mean, std = E.mean(axis=0), E.std(axis=0)
    Z = model.generate(torch.tensor([0.5, 0.2, -0.3], dtype=torch.float64), 6000)[1000:]
    fps = plrnn_fixed_points(model, orbit=Z)
    assert (fps.residuals < 1e-8).all()
    c = math.sqrt(LORENZ_BETA * (LORENZ_RHO - 1))
    for x_star, p in ((0.0, (0.0, 0.0, 0.0)), (c, (c, c, LORENZ_RHO - 1)),
                      (-c, (-c, -c, LORENZ_RHO - 1))):
        target = torch.as_tensor((x_star - mean) / std)
        distance = (fps.points[:, :3] - target).norm(dim=1)
        k = int(distance.argmin())
        assert distance[k] < 0.2, f"no fixed point near {p}: nearest at {distance[k]:.3f}"
        lead = fps.eigenvalues[k][0]
        flow = np.linalg.eigvals(lorenz63_jacobian(np.array(p)))
        expected = np.exp(flow[np.argmax(flow.real)] * 0.01)
        assert 1 < abs(lead) < 1.2
        assert abs(abs(lead) - abs(expected)) < 0.02
        assert abs(abs(np.angle(lead.item())) - abs(np.angle(expected))) < 0.02


def test_loading_checks_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m course_utils.pretrained"):
        load_pretrained_plrnn(tmp_path / "missing.pt")
    torch.save({"A": torch.zeros(3)}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match=r"keys A, W1, W2, h1, h2; got \['A'\]"):
        load_pretrained_plrnn(tmp_path / "bad.pt")


def test_the_command_writes_a_loadable_checkpoint(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CI", "true")
    out = tmp_path / "model.pt"
    assert main(["--out", str(out), "--data", str(tmp_path / "data.pt"),
                 "--n-steps", "3"]) == 0
    model = load_pretrained_plrnn(out)
    assert (model.M, model.L, model.N) == (CHECKPOINT_DEFAULTS["M"],
                                           CHECKPOINT_DEFAULTS["L"], 3)
    assert f"wrote {out}" in capsys.readouterr().out
