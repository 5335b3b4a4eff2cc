"""The shared figures label their axes (with units) and reject orbits of the wrong shape."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from course_utils.plotting import plot_loss, plot_orbits_3d, plot_series  # noqa: E402


def teardown_function():
    plt.close("all")


def test_orbits_3d_draws_each_orbit_with_labelled_axes():
    X = np.random.default_rng(0).standard_normal((500, 3))
    ax = plot_orbits_3d([X, 2 * X], ["data", "model"], n_points=100)
    assert len(ax.lines) == 2 and len(ax.lines[0].get_xdata()) == 100
    assert [ax.get_xlabel(), ax.get_ylabel(), ax.get_zlabel()] == [
        r"$x_t$", r"$x_{t-d}$", r"$x_{t-2d}$"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["data", "model"]
    with pytest.raises(ValueError, match=r"\(T, 3\); got \(500, 2\) for bad"):
        plot_orbits_3d([X[:, :2]], ["bad"])


def test_series_has_one_panel_per_dimension_and_time_in_units():
    S = np.zeros((300, 2))
    fig = plot_series([S, S + 1], ["a", "b"], dt=0.01, names=["$x$", "$y$"])
    axes = fig.axes
    assert len(axes) == 2 and [ax.get_ylabel() for ax in axes] == ["$x$", "$y$"]
    assert axes[-1].get_xlabel() == "time $t$ (time units)"
    assert axes[0].lines[0].get_xdata()[-1] == pytest.approx(2.99)


def test_loss_is_on_a_log_scale_with_a_running_mean():
    ax = plot_loss(np.linspace(1, 0.01, 200), window=50)
    assert ax.get_yscale() == "log" and len(ax.lines) == 2
    assert ax.get_xlabel() == "update" and "MSE" in ax.get_ylabel()
