"""Each planted bug is caught by the monitor meant for it, and each fixed script trains."""
import math

import numpy as np
import pytest
import torch

from lecture_code import buglab

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def fixed_runs():
    return {}


def fixed(name, cache):
    if name not in cache:
        cache[name] = buglab.BUGS[name][0](fixed=True)
    return cache[name]


def assert_trains(run):
    assert run.error is None
    assert run.history["val_accuracy"][-1] > 0.9
    assert run.history["train_loss"][-1] < 0.2


def test_high_learning_rate_nan_guard_names_the_softmax(fixed_runs):
    bug = buglab.high_learning_rate()
    step, kind, layer, message = bug.monitors["nan_guard"].first
    assert (kind, layer) == ("activation", "5") and "NaiveSoftmax" in message
    assert 5 < step < 100                                   # after some iterations
    ratios = bug.monitors["update_ratio"].ratios["0.weight"]
    assert np.median(ratios) > 5e-2                          # far above 1e-3
    good = fixed("high_learning_rate", fixed_runs)
    assert_trains(good)
    assert np.median(good.monitors["update_ratio"].ratios["0.weight"]) < 2e-2


def test_missing_zero_grad_gradient_norm_grows(fixed_runs):
    bug = buglab.missing_zero_grad()
    norms = np.array(bug.monitors["grad_norm"].total)
    good = fixed("missing_zero_grad", fixed_runs)
    good_norms = np.array(good.monitors["grad_norm"].total)
    assert np.median(norms[-50:]) > 50 * np.median(good_norms[-50:])
    assert norms[20] > 5 * norms[0]                          # accumulating from the start
    assert bug.history["val_accuracy"][-1] < 0.3
    assert_trains(good)


def test_train_mode_at_test_is_seen_by_the_mode_monitor():
    bug = buglab.train_mode_at_test()
    assert bug.monitors["modes"].wrong["eval_pass_in_train_mode"] > 0
    reported = np.array(bug.extra["reported_val_accuracy"])
    assert np.all(reported < bug.history["val_accuracy"])    # dropout at test time hurts
    good = buglab.train_mode_at_test(fixed=True)
    assert good.monitors["modes"].wrong == {"train_pass_in_eval_mode": 0,
                                            "eval_pass_in_train_mode": 0}
    assert good.extra["reported_val_accuracy"] == pytest.approx(list(good.history["val_accuracy"]))
    assert_trains(good)


def test_shuffled_labels_validation_stays_at_chance():
    bug = buglab.shuffled_labels()
    assert bug.history["val_accuracy"].max() < 0.25
    assert bug.history["train_loss"][-1] > 1.5
    assert_trains(buglab.shuffled_labels(fixed=True))


def test_softmax_twice_loss_floor():
    bug = buglab.softmax_twice()
    floor = math.log(9 + math.e) - 1
    assert bug.history["train_loss"].min() > floor
    assert bug.history["train_accuracy"][-1] > 0.7           # it learns, the loss cannot show it
    assert bug.monitors["grad_norm"].total[0] < 0.2


def test_zero_init_every_relu_dead(fixed_runs):
    bug = buglab.zero_init()
    for fractions in bug.monitors["dead_relu"].fractions.values():
        assert all(f == 1.0 for f in fractions)
    assert bug.history["val_accuracy"][-1] < 0.2
    assert_trains(fixed("zero_init", fixed_runs))


def test_large_init_activations_and_initial_loss(fixed_runs):
    bug = buglab.large_init()
    good = fixed("large_init", fixed_runs)
    assert bug.history.step_loss[0] > 20 * math.log(10)
    assert good.history.step_loss[0] == pytest.approx(math.log(10), rel=0.1)
    std_bug = bug.monitors["histograms"].stats(1)["2"]["std"]
    std_good = good.monitors["histograms"].stats(1)["2"]["std"]
    assert std_bug > 30 * std_good
    assert_trains(good)


def test_unnormalized_data_first_layer_scale(fixed_runs):
    bug = buglab.unnormalized_data()
    good = fixed("unnormalized_data", fixed_runs)
    assert bug.monitors["histograms"].stats(1)["0"]["std"] > 30 * good.monitors["histograms"].stats(1)["0"]["std"]
    assert bug.monitors["update_ratio"].ratios["0.weight"][0] > 10 * good.monitors["update_ratio"].ratios["0.weight"][0]
    assert bug.history["val_accuracy"][-1] < 0.3
    assert_trains(good)


def test_tiny_validation_interval_is_wide():
    bug = buglab.tiny_validation()
    assert bug.extra["noise"].n_val == 20
    assert bug.extra["noise"].high - bug.extra["noise"].low > 0.1
    values = bug.history["val_accuracy"] * 20
    assert np.allclose(values, np.round(values))             # steps of 1/20
    good = buglab.tiny_validation(fixed=True)
    assert good.extra["noise"].high - good.extra["noise"].low < 0.05
    assert_trains(good)


def test_fixed_flag_is_validated():
    with pytest.raises(TypeError, match="fixed"):
        buglab.zero_init(fixed=1)


def test_dashboard_fits_the_column_with_one_legend(fixed_runs):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from lecture_code.plotting import png_size, png_text, SMALLEST_TEXT_KEY

    bug = buglab.high_learning_rate()                          # stops early: no epoch metrics
    fig = buglab.dashboard(bug, fixed("high_learning_rate", fixed_runs), title="t")
    assert fig.get_size_inches() == pytest.approx((8.0, 8.64))
    assert [ax.get_subplotspec().get_geometry()[:2] for ax in fig.axes] == [(3, 2)] * 6
    assert all(ax.get_legend() is None for ax in fig.axes)    # no legend covers a curve
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels[:2] == ["buggy", "fixed"] and "1e-3 rule of thumb" in labels
    assert "'0.weight'" in fig.axes[2].get_title()
    assert "stopped before the end" in fig.axes[1].texts[0].get_text()
    fig.canvas.draw()
    box = fig.get_tightbbox()                                 # show draws the whole canvas:
    assert box.x0 >= 0 and box.y0 >= 0 and box.x1 <= 8.0 and box.y1 <= 8.64   # nothing cut
    png = buglab.show(fig)                                    # outside IPython: only the PNG
    assert png_size(png) == (1600, 1728)                      # 8 x 8.64 in at 2x 100 dpi
    points = float(png_text(png)[SMALLEST_TEXT_KEY].split()[0])
    assert points >= 8                                        # 8 pt at 1x is 11 px
    assert fig.number not in plt.get_fignums()                # show closed the figure
    single = buglab.dashboard(bug, width=6.0)
    assert single.get_size_inches()[0] == 6.0
    assert [t.get_text() for t in single.legends[0].get_texts()][0] == "this run"
    plt.close(single)
    with pytest.raises(ValueError, match="width"):
        buglab.dashboard(bug, width=0)
