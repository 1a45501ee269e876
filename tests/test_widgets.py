"""lecture_code.widgets: the figures have the artists they promise, and the controls redraw them.

An explorer's figure is read where :func:`~lecture_code.widgets.live_figure` shows it: every
call of ``IPython.display.display`` is recorded, so moving a control (setting its value) must
add a new, different figure.
"""
import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

pytest.importorskip("ipywidgets")

from lecture_code.surfaces import ill_conditioned_quadratic, trajectory  # noqa: E402
from lecture_code.optimizers import SGD, Adam  # noqa: E402
from lecture_code import widgets  # noqa: E402
from lecture_code.widgets import augmentation, sgd_dynamics  # noqa: E402


@pytest.fixture
def shown(monkeypatch):
    """The figures the explorers display, in order (closed by live_figure after display)."""
    import IPython.display

    figures = []
    monkeypatch.setattr(IPython.display, "display", figures.append)
    yield figures
    plt.close("all")


def controls_of(widget):
    """Every control under ``widget`` by its description."""
    found, stack = {}, [widget]
    while stack:
        node = stack.pop()
        stack.extend(getattr(node, "children", ()))
        if getattr(node, "description", ""):
            found[node.description] = node
    return found


def path_lines(ax):
    """The optimizers' paths: every line but the surface's minima and the start marker."""
    return [line for line in ax.get_lines() if line.get_label() not in ("minimum", "start")]


def test_plot_trajectories_draws_one_line_per_optimizer_and_the_start():
    surface = ill_conditioned_quadratic(10)
    paths = {"SGD": trajectory(SGD, surface, steps=20, lr=0.1),
             "Adam": trajectory(Adam, surface, steps=30, lr=0.1),
             "too fast": trajectory(SGD, surface, steps=60, lr=5.0)}
    ax = widgets.plot_trajectories(surface, paths, title="three runs")
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["minimum", "SGD", "Adam", "too fast (diverged)", "start"]
    assert [len(line.get_xdata()) for line in path_lines(ax)] == [21, 31, 61]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == labels
    assert ax.get_title() == "three runs"
    plt.close("all")


def test_diverged_and_distance_to_minimum_read_the_end_of_a_path():
    from lecture_code.surfaces import saddle
    from lecture_code.widgets.optimization import diverged, distance_to_minimum

    surface = ill_conditioned_quadratic(10)
    assert not diverged(np.array([[3.0, 4.0], [0.3, 0.4]]))
    assert diverged(np.array([[1.0, 1.0], [2e6, 0.0]])) and diverged(np.empty((0, 2)))
    assert distance_to_minimum(surface, np.array([[9.0, 9.0], [0.3, 0.4]])) == pytest.approx(0.5)
    assert distance_to_minimum(surface, np.array([[1.0, 1.0], [-3e6, 0.0]])) == np.inf
    assert np.isnan(distance_to_minimum(saddle(), np.array([[0.0, 0.0]])))   # no minima
    runaway = trajectory(SGD, surface, steps=60, lr=5.0)
    assert diverged(runaway) and distance_to_minimum(surface, runaway) == np.inf


def test_optimizer_path_sets_the_sliders_hyperparameters():
    from lecture_code.optimizers import RMSProp
    from lecture_code.widgets.optimization import optimizer_path

    surface = ill_conditioned_quadratic(20)
    np.testing.assert_array_equal(optimizer_path("SGD", surface, 0.1, 30, momentum=0.5),
                                  trajectory(SGD, surface, steps=30, lr=0.1, momentum=0.5))
    np.testing.assert_array_equal(optimizer_path("Adam", surface, 0.1, 30, beta1=0.5),
                                  trajectory(Adam, surface, steps=30, lr=0.1, betas=(0.5, 0.999)))
    np.testing.assert_array_equal(optimizer_path("RMSProp", surface, 0.01, 30, beta2=0.9),
                                  trajectory(RMSProp, surface, steps=30, lr=0.01, decay_rate=0.9))
    path = optimizer_path("Adam", surface, 0.1, 10, start=(1.0, -1.0), gradient_noise=0.5)
    assert path.shape == (11, 2) and tuple(path[0]) == (1.0, -1.0)
    assert not np.array_equal(path, optimizer_path("Adam", surface, 0.1, 10, start=(1.0, -1.0)))
    with pytest.raises(ValueError, match="unknown optimizer 'Adamm'"):
        optimizer_path("Adamm", surface, 0.1)


def test_trajectory_figure_fits_the_column_and_places_its_legend():
    from lecture_code.plotting import figure_png, png_size
    from lecture_code.widgets.optimization import trajectory_figure

    surface = ill_conditioned_quadratic(10)
    fig = trajectory_figure(surface, {"SGD": trajectory(SGD, surface, steps=20, lr=0.1)},
                            title="one run", legend_loc="lower left")
    ax = fig.axes[0]
    assert ax.get_title() == "one run" and tuple(fig.get_size_inches()) == (7.0, 4.5)
    assert [line.get_label() for line in path_lines(ax)] == ["SGD"]
    assert ax.get_legend()._loc == 3                      # matplotlib's code of "lower left"
    assert png_size(figure_png(fig, scale=1.0))[0] <= 800    # not shrunk in the 798 px column
    ax = widgets.plot_trajectories(surface, {"SGD": trajectory(SGD, surface, steps=5, lr=0.1)},
                                   legend_fontsize=9)
    assert {t.get_fontsize() for t in ax.get_legend().get_texts()} == {9}
    plt.close("all")


def test_trajectory_explorer_redraws_with_the_chosen_optimizers_and_rate(shown):
    explorer = widgets.trajectory_explorer(selected=("SGD", "Adam"), steps=40)
    assert len(shown) == 1
    first = path_lines(shown[-1].axes[0])
    assert [line.get_label() for line in first] == ["SGD", "Adam"]
    assert all(len(line.get_xdata()) == 41 for line in first)
    controls = controls_of(explorer)

    controls["optimizers"].value = ("SGD", "Adam", "RMSProp")
    assert [line.get_label() for line in path_lines(shown[-1].axes[0])] == ["SGD", "Adam",
                                                                           "RMSProp"]
    before = path_lines(shown[-1].axes[0])[0].get_xydata().copy()
    controls["learning rate"].value = 0.01
    after = path_lines(shown[-1].axes[0])[0].get_xydata()
    assert len(shown) == 3 and before.shape == after.shape and not np.allclose(before, after)
    controls["steps"].value = 100
    assert all(len(line.get_xdata()) == 101 for line in path_lines(shown[-1].axes[0]))


def test_conditioning_explorer_follows_its_sliders(shown):
    left, right = sgd_dynamics.plot_conditioning(20, 1.8, 30)
    assert [len(line.get_xdata()) for line in path_lines(left)] == [31]
    assert len(right.get_lines()) == 2 and right.get_yscale() == "log"
    plt.close("all")

    explorer = sgd_dynamics.conditioning_explorer(20, 1.8, 30)
    controls = controls_of(explorer)
    assert len(shown) == 1 and len(path_lines(shown[-1].axes[0])[0].get_xdata()) == 31
    controls["steps"].value = 50
    assert len(path_lines(shown[-1].axes[0])[0].get_xdata()) == 51
    before = shown[-1].axes[1].get_lines()[1].get_ydata().copy()
    controls["condition κ"].value = 100
    after = shown[-1].axes[1].get_lines()[1].get_ydata()
    assert len(shown) == 3 and not np.allclose(before, after)   # the shallow axis is slower


def _fake_grid():
    from lecture_code.sgd_dynamics import LossCurve

    curves = {}
    for b in (8, 32):
        for lr in (0.1, 0.3):
            examples = np.array([0.0, 100.0, 200.0])
            loss = np.array([2.3, 1.0 + lr + b / 100, 0.5 + lr])
            curves[b, lr] = LossCurve(b, lr, examples, examples / b, examples / 1000, loss,
                                      diverged=False)
    return curves


def test_batch_size_explorer_moves_the_bold_curve_and_the_outlined_cell(shown):
    curves = _fake_grid()
    left, right = sgd_dynamics.plot_loss_curves(curves, 32, 0.3)
    assert [line.get_label() for line in left.get_lines()] == ["B = 8", "B = 32"]
    assert [line.get_linewidth() for line in left.get_lines()] == [1.0, 2.6]
    assert len(right.texts) == 4 and len(right.patches) == 1
    plt.close("all")

    explorer = sgd_dynamics.batch_size_explorer(curves, 32, 0.3)
    controls = controls_of(explorer)
    controls["batch size B"].value = 8
    widths = [line.get_linewidth() for line in shown[-1].axes[0].get_lines()]
    assert widths == [2.6, 1.0]
    controls["learning rate α"].value = 0.1
    assert shown[-1].axes[0].get_lines()[0].get_ydata()[-1] == pytest.approx(0.6)
    assert len(shown) == 3


def test_gallery_widget_redraws_with_the_strength(shown):
    pytest.importorskip("skimage")
    explorer = augmentation.gallery_widget(size=24)
    controls = controls_of(explorer)
    first = shown[-1]
    assert len(first.axes) == 8 and first.axes[0].get_title() == "original"
    controls["transform"].value = "brightness"
    controls["strength"].value = 0.0
    unchanged = [ax.get_images()[0].get_array() for ax in shown[-1].axes]
    assert all(np.allclose(image, unchanged[0]) for image in unchanged)   # strength 0: no change
    controls["strength"].value = 1.0
    changed = [ax.get_images()[0].get_array() for ax in shown[-1].axes]
    assert not all(np.allclose(image, changed[0]) for image in changed[1:])
    assert shown[-1]._suptitle.get_text() == "brightness, strength 1.00"
