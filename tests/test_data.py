"""The exercise data (course_utils.data): the Lorenz-63 orbit, the delay embedding, the
standardised noisy data set and its .pt file, and the training batches."""

import re

import numpy as np
import pytest
import torch

import course_utils.data as data_module
from course_utils.data import (delay_embed, load_lorenz_dataset, lorenz63_orbit,
                               lorenz_dataset, make_lorenz_dataset, reference_orbit,
                               sample_batch, save_lorenz_dataset)
from course_utils.lorenz import lorenz63_rk4_step

TENSOR_KEYS = ("train", "train_clean", "test", "states_train", "states_test", "mean", "std")


@pytest.fixture(scope="module")
def noisy_data():
    """A data set long enough for noise statistics (about 0.2 s to make)."""
    return make_lorenz_dataset(n_train=20_000, n_test=2_000, delay=10, noise=0.05, seed=3)


@pytest.fixture(scope="module")
def small_data():
    return make_lorenz_dataset(n_train=2_000, n_test=1_500, delay=7, noise=0.1, seed=5)


def _unstandardise(data, column):
    X = data["train_clean"] if column[0] == "train" else data["test"]
    j = column[1]
    return X[:, j].double().numpy() * data["std"][j].item() + data["mean"][j].item()


def _find_rows(Z, rows):
    """The index i with Z[i:i + len(rows)] == rows (float32), or fail."""
    hits = np.flatnonzero(np.all(Z.astype(np.float32) == rows[0], axis=1))
    for i in hits:
        if np.array_equal(Z[i:i + len(rows)].astype(np.float32), rows):
            return int(i)
    raise AssertionError("the rows are not a contiguous stretch of the orbit")


# --- lorenz63_orbit ----------------------------------------------------------------------

def test_orbit_agrees_with_iterated_numpy_rk4_steps():
    z0 = np.array([1.0, 2.0, 20.0])
    n, dt, substeps = 200, 0.01, 4
    Z = lorenz63_orbit(n, dt=dt, substeps=substeps, transient=0, z0=z0)
    assert Z.shape == (n, 3) and Z.dtype == np.float64
    z, reference = z0.copy(), []
    for _ in range(n):
        reference.append(z)
        for _ in range(substeps):
            z = lorenz63_rk4_step(z, dt / substeps)
    reference = np.array(reference)
    np.testing.assert_array_equal(Z[0], z0)
    np.testing.assert_allclose(Z, reference, rtol=0, atol=1e-9)
    # and it moved a long way: the comparison is not trivial
    assert np.abs(Z[-1] - Z[0]).max() > 5


def test_orbit_transient_is_integrated_and_dropped():
    z0 = (-3.0, 4.0, 25.0)
    dt, substeps = 0.01, 4
    skip = 30                                   # read-outs worth of transient
    Z = lorenz63_orbit(50, dt=dt, substeps=substeps, transient=skip * dt, z0=z0)
    Z_full = lorenz63_orbit(50 + skip, dt=dt, substeps=substeps, transient=0, z0=z0)
    np.testing.assert_allclose(Z, Z_full[skip:], rtol=0, atol=1e-12)


def test_orbit_stays_on_the_attractor():
    Z = lorenz63_orbit(5_000, seed=2)
    assert np.all(np.isfinite(Z))
    assert np.abs(Z[:, 0]).max() < 25 and np.abs(Z[:, 1]).max() < 35
    assert Z[:, 2].min() > 0 and Z[:, 2].max() < 55
    # both wings are visited
    assert Z[:, 0].min() < -5 and Z[:, 0].max() > 5


def test_orbit_seed_determines_the_orbit():
    a = lorenz63_orbit(300, seed=11)
    b = lorenz63_orbit(300, seed=11)
    c = lorenz63_orbit(300, seed=12)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)


def test_orbit_that_blows_up_raises():
    with pytest.raises(FloatingPointError, match="dt"):
        lorenz63_orbit(20, dt=1.0, substeps=1, transient=0, z0=(1.0, 1.0, 1.0))


@pytest.mark.parametrize("kwargs, name", [
    (dict(n_steps=0), "n_steps"),
    (dict(n_steps=10, dt=0.0), "dt"),
    (dict(n_steps=10, substeps=0), "substeps"),
    (dict(n_steps=10, transient=-1.0), "transient"),
    (dict(n_steps=10, z0=(1.0, 2.0)), "z0"),
    (dict(n_steps=10, z0=np.ones((3, 1))), "z0"),
    (dict(n_steps=10, z0=(1.0, np.nan, 2.0)), "z0"),
    (dict(n_steps=10, z0=(1.0, np.inf, 2.0)), "z0"),
])
def test_orbit_rejects_bad_arguments(kwargs, name):
    n_steps = kwargs.pop("n_steps")
    with pytest.raises(ValueError, match=name):
        lorenz63_orbit(n_steps, **kwargs)


# --- delay_embed -------------------------------------------------------------------------

@pytest.mark.parametrize("T, delay, dim", [(30, 4, 3), (25, 1, 3), (12, 5, 2), (9, 3, 1)])
def test_delay_embed_columns_are_delayed_copies(T, delay, dim):
    x = np.arange(T, dtype=float)
    X = delay_embed(x, delay=delay, dim=dim)
    span = (dim - 1) * delay
    assert X.shape == (T - span, dim)
    for i in range(T - span):
        t = i + span
        assert X[i].tolist() == [t - j * delay for j in range(dim)]


def test_delay_embed_accepts_a_list_and_defaults_to_delay_10_dim_3():
    X = delay_embed(list(range(25)))
    assert X.shape == (5, 3)
    assert X[0].tolist() == [20, 10, 0] and X[-1].tolist() == [24, 14, 4]


def test_delay_embed_rejects_a_2d_series():
    with pytest.raises(ValueError, match=r"x must be.*\(3, 4\)"):
        delay_embed(np.zeros((3, 4)))


def test_delay_embed_rejects_a_too_short_series():
    with pytest.raises(ValueError) as info:
        delay_embed(np.zeros(20), delay=10, dim=3)
    message = str(info.value)
    assert "20" in message and "delay=10" in message and "dim=3" in message


@pytest.mark.parametrize("delay, dim", [(0, 3), (2, 0)])
def test_delay_embed_rejects_non_positive_delay_or_dim(delay, dim):
    with pytest.raises(ValueError, match="delay"):
        delay_embed(np.zeros(50), delay=delay, dim=dim)


# --- make_lorenz_dataset -----------------------------------------------------------------

def test_dataset_shapes_dtypes_and_settings(small_data):
    d = small_data
    assert d["train"].shape == d["train_clean"].shape == d["states_train"].shape == (2000, 3)
    assert d["test"].shape == d["states_test"].shape == (1500, 3)
    for key in ("train", "train_clean", "test", "states_train", "states_test"):
        assert d[key].dtype == torch.float32, key
    assert d["mean"].shape == d["std"].shape == (3,)
    assert d["mean"].dtype == d["std"].dtype == torch.float64
    assert d["settings"] == dict(n_train=2000, n_test=1500, dt=0.01, delay=7, noise=0.1,
                                 seed=5, gap=1000, component=0)


def test_dataset_embeds_the_component_asked_for():
    x = make_lorenz_dataset(n_train=2000, n_test=500, seed=7)
    y = make_lorenz_dataset(n_train=2000, n_test=500, seed=7, component=1)
    d = y["settings"]["delay"]
    for data, k in ((x, 0), (y, 1)):
        s = data["states_train"][:, k].double()     # column 0: the component at time t
        assert torch.allclose(data["train_clean"][:, 0].double(),
                              (s - s.mean()) / s.std(unbiased=False), atol=1e-4), k
        lagged = data["test"][2 * d:, 2].double() * data["std"][2] + data["mean"][2]
        assert torch.allclose(lagged, data["states_test"][:-2 * d, k].double(), atol=1e-4), k
    assert y["settings"]["component"] == 1
    assert not torch.allclose(x["train"], y["train"])
    for key in ("states_train", "states_test"):     # the same orbit underneath
        assert torch.equal(x[key], y[key]), key


# --- reference_orbit ---------------------------------------------------------------------

@pytest.mark.parametrize("component", [0, 1])
def test_reference_orbit_in_a_data_sets_coordinates_is_its_clean_embedding(component):
    d = make_lorenz_dataset(n_train=2000, n_test=500, seed=4, component=component)
    R = reference_orbit(2000, component=component, mean=d["mean"], std=d["std"], seed=4)
    assert R.shape == (2000, 3) and R.dtype == np.float64
    # the same seed gives the data set's own orbit: its clean training embedding
    np.testing.assert_allclose(R, d["train_clean"].double().numpy(), atol=1e-5)
    other = reference_orbit(2000, component=component, mean=d["mean"], std=d["std"], seed=5)
    assert np.abs(other - R).max() > 1       # another seed, another stretch of the orbit


def test_reference_orbit_leading_delays_and_own_standardisation():
    d, raw = 10, dict(mean=np.zeros(3), std=np.ones(3))
    R = reference_orbit(5000, component=1, delay=d, lead=True, seed=2, **raw)
    np.testing.assert_array_equal(R[d:, 0], R[:-d, 1])          # (s_t, s_{t+d}, s_{t+2d})
    np.testing.assert_array_equal(R[2 * d:, 0], R[:-2 * d, 2])
    lagging = reference_orbit(5000, component=1, delay=d, seed=2, **raw)
    np.testing.assert_array_equal(lagging[d:, 1], lagging[:-d, 0])  # (s_t, s_{t-d}, ...)
    np.testing.assert_array_equal(R[:, ::-1], lagging)          # the same vectors reversed
    own = reference_orbit(5000, component=1, delay=d, lead=True, seed=2)
    np.testing.assert_allclose(own.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(own.std(axis=0), 1, atol=1e-12)
    np.testing.assert_allclose(own, (R - R.mean(axis=0)) / R.std(axis=0), atol=1e-12)


def test_reference_orbit_of_the_state_is_the_standardised_orbit():
    Z = lorenz63_orbit(3000, seed=6)
    R = reference_orbit(3000, seed=6)
    np.testing.assert_allclose(R, (Z - Z.mean(axis=0)) / Z.std(axis=0), atol=1e-12)


@pytest.mark.parametrize("kwargs, words", [
    (dict(component=3), "component"), (dict(lead=True), "lead"),
    (dict(mean=np.zeros(3)), "mean and std"),
    (dict(mean=np.zeros(2), std=np.ones(2)), "shapes (2,) and (2,)"),
    (dict(mean=np.zeros(3), std=np.array([1.0, 0.0, 1.0])), "std positive"),
    (dict(n_steps=0), "n_steps")])
def test_reference_orbit_rejects_bad_arguments(kwargs, words):
    kwargs = dict(dict(n_steps=100), **kwargs)
    with pytest.raises(ValueError, match=re.escape(words)):
        reference_orbit(kwargs.pop("n_steps"), **kwargs)


def test_train_clean_is_standardised_with_its_own_statistics(noisy_data):
    X = noisy_data["train_clean"].double().numpy()
    np.testing.assert_allclose(X.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(X.std(axis=0), 1, atol=1e-5)
    assert np.all(noisy_data["std"].numpy() > 1)   # the raw x has a std of about 8


def test_training_noise_has_the_requested_size_and_is_white(noisy_data):
    noise = (noisy_data["train"].double() - noisy_data["train_clean"].double()).numpy()
    np.testing.assert_allclose(noise.std(axis=0), 0.05, rtol=0.05)
    np.testing.assert_allclose(noise.mean(axis=0), 0, atol=4 * 0.05 / np.sqrt(len(noise)))
    C = np.corrcoef(noise.T)
    assert np.abs(C - np.eye(3)).max() < 0.05          # independent across columns
    lag1 = np.corrcoef(noise[1:, 0], noise[:-1, 0])[0, 1]
    assert abs(lag1) < 0.05                             # independent in time
    signal = noisy_data["train_clean"].double().numpy()
    assert abs(np.corrcoef(noise[:, 0], signal[:, 0])[0, 1]) < 0.05


def test_zero_noise_gives_the_clean_embedding():
    d = make_lorenz_dataset(n_train=300, n_test=200, noise=0.0, seed=1, gap=50)
    assert torch.equal(d["train"], d["train_clean"])


@pytest.mark.parametrize("stretch", ["train", "test"])
def test_delay_structure_survives_standardisation(small_data, stretch):
    d, delay = small_data, small_data["settings"]["delay"]
    x0, x1, x2 = (_unstandardise(d, (stretch, j)) for j in range(3))
    # column j at time t is column 0 at time t - j*delay, in the unstandardised units
    np.testing.assert_allclose(x1[delay:], x0[:-delay], rtol=0, atol=1e-4)
    np.testing.assert_allclose(x2[2 * delay:], x0[:-2 * delay], rtol=0, atol=1e-4)
    # the columns are standardised differently: without mean/std the identity fails
    X = (d["train_clean"] if stretch == "train" else d["test"]).numpy()
    assert np.abs(X[delay:, 1] - X[:-delay, 0]).max() > 1e-3


def test_noisy_training_data_break_the_delay_structure(small_data):
    d, delay = small_data, small_data["settings"]["delay"]
    X = d["train"].double().numpy() * d["std"].numpy() + d["mean"].numpy()
    residual = X[delay:, 1] - X[:-delay, 0]
    # two independent noise samples of 0.1 std each, in raw units
    expected = 0.1 * np.sqrt(d["std"][0].item() ** 2 + d["std"][1].item() ** 2)
    assert 0.8 * expected < residual.std() < 1.2 * expected


def test_states_are_the_orbit_at_the_embedding_times(small_data):
    d = small_data
    s = d["settings"]
    for stretch, states in (("train", "states_train"), ("test", "states_test")):
        np.testing.assert_allclose(_unstandardise(d, (stretch, 0)),
                                   d[states][:, 0].double().numpy(), rtol=0, atol=1e-4)
    # both stretches lie on one orbit of the seed, the test stretch more than `gap`
    # read-outs after the training stretch
    span = 2 * s["delay"]
    Z = lorenz63_orbit(s["n_train"] + s["gap"] + s["n_test"] + 2 * span + 200, dt=s["dt"],
                       seed=s["seed"])
    i_train = _find_rows(Z, d["states_train"].numpy())
    i_test = _find_rows(Z, d["states_test"].numpy())
    assert i_train >= span
    assert i_test - (i_train + s["n_train"]) >= s["gap"]
    # the standardisation uses the statistics of the clean raw training embedding
    E = delay_embed(Z[i_train - span:i_train + s["n_train"], 0], s["delay"])
    assert E.shape == (s["n_train"], 3)
    np.testing.assert_allclose(d["mean"].numpy(), E.mean(axis=0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(d["std"].numpy(), E.std(axis=0), rtol=1e-12)
    np.testing.assert_allclose(d["train_clean"].numpy(),
                               (E - E.mean(axis=0)) / E.std(axis=0), rtol=0, atol=1e-5)


def test_test_stretch_differs_from_the_training_stretch(small_data):
    d = small_data
    n = min(len(d["train_clean"]), len(d["test"]))
    assert np.abs(d["train_clean"][:n].numpy() - d["test"][:n].numpy()).mean() > 0.1
    assert not torch.equal(d["states_train"][:n], d["states_test"][:n])


def test_dataset_is_deterministic_in_the_seed():
    a = make_lorenz_dataset(n_train=2000, n_test=500, seed=7)
    b = make_lorenz_dataset(n_train=2000, n_test=500, seed=7)
    c = make_lorenz_dataset(n_train=2000, n_test=500, seed=8)
    for key in TENSOR_KEYS:
        assert torch.equal(a[key], b[key]), key
    assert a["settings"] == b["settings"]
    for key in ("train", "test", "states_train"):
        assert not torch.allclose(a[key], c[key]), key


@pytest.mark.parametrize("kwargs, name", [
    (dict(n_train=1), "n_train"), (dict(n_test=1), "n_test"), (dict(gap=-1), "gap"),
    (dict(noise=-0.1), "noise"), (dict(component=3), "component"),
])
def test_dataset_rejects_bad_arguments(kwargs, name):
    settings = dict(n_train=100, n_test=100)
    settings.update(kwargs)
    with pytest.raises(ValueError, match=f"{name}={kwargs[name]}"):
        make_lorenz_dataset(**settings)


# --- save / load / lorenz_dataset --------------------------------------------------------

def test_save_and_load_round_trip(small_data, tmp_path):
    path = tmp_path / "sub" / "dir" / "lorenz.pt"
    assert save_lorenz_dataset(small_data, path) == path
    assert path.is_file()
    loaded = load_lorenz_dataset(str(path))
    for key in TENSOR_KEYS:
        assert loaded[key].dtype == small_data[key].dtype, key
        assert torch.equal(loaded[key], small_data[key]), key
    assert loaded["settings"] == small_data["settings"]


def test_load_of_a_missing_file_names_the_path(tmp_path):
    path = tmp_path / "nothing_here.pt"
    with pytest.raises(FileNotFoundError, match="nothing_here.pt"):
        load_lorenz_dataset(path)


def test_load_of_another_file_names_what_is_missing(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"train": torch.zeros(3), "mean": torch.zeros(3)}, path)
    with pytest.raises(ValueError, match=r"settings.*std.*test"):
        load_lorenz_dataset(path)


def test_lorenz_dataset_makes_then_loads_then_remakes(tmp_path, monkeypatch):
    path = tmp_path / "lorenz_data.pt"
    first = lorenz_dataset(path, n_train=500, n_test=400, seed=2)
    assert path.is_file()
    assert first["train"].shape == (500, 3) and first["test"].shape == (400, 3)
    assert first["settings"]["seed"] == 2 and first["settings"]["noise"] == 0.05

    def fail(*args, **kwargs):
        raise AssertionError("make_lorenz_dataset was called")

    monkeypatch.setattr(data_module, "make_lorenz_dataset", fail)
    second = lorenz_dataset(path, n_train=500, n_test=400, seed=2)   # loaded, not made
    for key in TENSOR_KEYS:
        assert torch.equal(second[key], first[key]), key
    with pytest.raises(AssertionError, match="was called"):   # other settings: remade
        lorenz_dataset(path, n_train=600, n_test=400, seed=2)

    monkeypatch.undo()
    third = lorenz_dataset(path, n_train=600, n_test=400, seed=2)
    assert third["train"].shape == (600, 3)
    assert load_lorenz_dataset(path)["settings"]["n_train"] == 600   # and saved
    fourth = lorenz_dataset(path, n_train=600, n_test=400, seed=2, noise=0.2)
    assert fourth["settings"]["noise"] == 0.2
    diff = (fourth["train"] - fourth["train_clean"]).double().std().item()
    assert 0.15 < diff < 0.25


def test_lorenz_dataset_rejects_unknown_settings(tmp_path):
    path = tmp_path / "lorenz_data.pt"
    with pytest.raises(TypeError, match="n_trian"):
        lorenz_dataset(path, n_trian=500)
    assert not path.exists()


# --- sample_batch ------------------------------------------------------------------------

def test_sample_batch_shapes_and_shift():
    data = torch.randn(200, 4, generator=torch.Generator().manual_seed(0))
    x, y = sample_batch(data, 16, 25, generator=torch.Generator().manual_seed(1))
    assert x.shape == y.shape == (16, 25, 4)
    assert x.dtype == y.dtype == data.dtype
    assert torch.equal(y[:, :-1], x[:, 1:])


def test_sample_batch_windows_are_contiguous_slices_of_the_data():
    T, S = 150, 20
    data = torch.randn(T, 3, generator=torch.Generator().manual_seed(2))
    x, y = sample_batch(data, 32, S, generator=torch.Generator().manual_seed(3))
    for b in range(len(x)):
        starts = torch.nonzero(torch.all(data == x[b, 0], dim=1)).flatten()
        assert len(starts) == 1
        s = int(starts[0])
        assert s + S + 1 <= T
        assert torch.equal(x[b], data[s:s + S])
        assert torch.equal(y[b], data[s + 1:s + S + 1])


def test_sample_batch_reaches_every_start_time():
    T, S = 10, 4
    data = torch.arange(T, dtype=torch.float32)[:, None]
    x, y = sample_batch(data, 2000, S, generator=torch.Generator().manual_seed(4))
    starts = set(x[:, 0, 0].long().tolist())
    assert starts == set(range(T - S))          # 0 .. T - S - 1, the last window included
    assert y.max().item() == T - 1


def test_sample_batch_is_reproducible_with_a_seeded_generator():
    data = torch.randn(500, 2, generator=torch.Generator().manual_seed(5))
    a = sample_batch(data, 8, 30, generator=torch.Generator().manual_seed(6))
    b = sample_batch(data, 8, 30, generator=torch.Generator().manual_seed(6))
    c = sample_batch(data, 8, 30, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


@pytest.mark.parametrize("seq_len", [50, 60, 0])
def test_sample_batch_rejects_a_bad_seq_len(seq_len):
    data = torch.zeros(50, 3)
    with pytest.raises(ValueError, match=f"seq_len.*got {seq_len}"):
        sample_batch(data, 4, seq_len)


def test_sample_batch_rejects_1d_data():
    with pytest.raises(ValueError, match=r"\(T, N\)"):
        sample_batch(torch.zeros(50), 4, 10)


def test_saving_replaces_the_file_in_one_step_and_leaves_no_temporary(tmp_path):
    """A reader sees the old file or the new one: the new one is written beside it and
    moved over it; a failed save leaves the old file as it was and nothing else."""
    import threading

    from course_utils.data import save_atomically

    path = tmp_path / "sub" / "data.pt"
    save_atomically({"x": torch.zeros(3)}, path)
    save_atomically({"x": torch.ones(3)}, path)
    assert torch.equal(torch.load(path, weights_only=True)["x"], torch.ones(3))
    with pytest.raises(Exception):
        save_atomically({"lock": threading.Lock()}, path)       # cannot be pickled
    assert torch.equal(torch.load(path, weights_only=True)["x"], torch.ones(3))
    assert [p.name for p in path.parent.iterdir()] == ["data.pt"]
