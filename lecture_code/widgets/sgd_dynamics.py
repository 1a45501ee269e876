"""Figures and explorers of the two SGD chapters (their experiments: :mod:`lecture_code.sgd_dynamics`).

* :func:`plot_loss_curves`, :func:`batch_size_explorer` — the batch-size/learning-rate grid of
  :func:`~lecture_code.sgd_dynamics.loss_curve_grid` and its widget;
* :func:`plot_conditioning`, :func:`conditioning_explorer` — gradient descent on the
  ill-conditioned quadratic and its widget.
"""
from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np

from .._checks import check_int, check_real
from ..optimizers import SGD
from ..plotting import color_of
from ..sgd_dynamics import LossCurve
from ..surfaces import ill_conditioned_quadratic, trajectory
from .optimization import live_figure, plot_trajectories


def plot_loss_curves(curves: Mapping[tuple[int, float], LossCurve], batch_size: int, lr: float,
                     axes=None):
    """Left: training loss against examples processed for every batch size at learning rate
    ``lr``, the chosen ``batch_size`` drawn bold. Right: the final loss of every run of the grid
    as a heat map, the chosen cell outlined. Returns the two axes."""
    if (batch_size, lr) not in curves:
        raise ValueError(f"no run with batch_size={batch_size} and lr={lr} in the grid")
    batch_sizes = sorted({b for b, _ in curves})
    rates = sorted({r for _, r in curves})
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [1.4, 1]})
    left, right = axes
    for i, b in enumerate(batch_sizes):
        curve = curves[(b, lr)]
        chosen = b == batch_size
        label = f"B = {b}" + (" (diverged)" if curve.diverged else "")
        left.plot(curve.examples, curve.loss, color=color_of(i), linewidth=2.6 if chosen else 1.0,
                  alpha=1.0 if chosen else 0.55, label=label, zorder=3 if chosen else 2)
    chosen_curve = curves[(batch_size, lr)]
    left.set(xlabel="examples processed", ylabel="training loss (cross-entropy, nats)",
             title=f"SGD with learning rate α = {lr:g}: every batch size")
    left.set_ylim(top=max(2.5, min(5.0, float(np.nanmax([c.loss[0] for c in curves.values()])) * 1.05)),
                  bottom=0)
    left.legend(loc="lower left", fontsize=8, frameon=True, framealpha=0.85)

    table = np.array([[min(curves[(b, r)].final_loss, 10.0) for r in rates] for b in batch_sizes])
    image = right.imshow(table, cmap="viridis_r", origin="lower", aspect="auto")
    middle = (table.min() + table.max()) / 2
    right.set_xticks(range(len(rates)), [f"{r:g}" for r in rates])
    right.set_yticks(range(len(batch_sizes)), [str(b) for b in batch_sizes])
    for i, b in enumerate(batch_sizes):
        for j, r in enumerate(rates):
            curve = curves[(b, r)]
            text = "div." if curve.diverged else f"{curve.final_loss:.2f}"
            right.text(j, i, text, ha="center", va="center", fontsize=8,
                       color="white" if table[i, j] > middle else "black")
    i, j = batch_sizes.index(batch_size), rates.index(lr)
    right.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="red",
                                  linewidth=2.5, label="shown on the left"))
    right.grid(False)
    right.set(xlabel="learning rate α", ylabel="batch size B",
              title=f"final training loss after {int(chosen_curve.examples[-1])} examples")
    right.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize=8)
    right.figure.colorbar(image, ax=right, label="final training loss (nats)")
    return axes


def batch_size_explorer(curves: Mapping[tuple[int, float], LossCurve],
                        batch_size: int | None = None, lr: float | None = None):
    """A widget over a precomputed :func:`loss_curve_grid`: sliders for B and α, instant redraw.

    It shows :func:`plot_loss_curves` for the chosen setting (initially ``batch_size`` and
    ``lr``, by default the middle of the grid); nothing is trained when a slider moves.
    """
    import ipywidgets as w
    batch_sizes = sorted({b for b, _ in curves})
    rates = sorted({r for _, r in curves})
    style = {"description_width": "110px"}
    batch_size = batch_sizes[len(batch_sizes) // 2] if batch_size is None else batch_size
    lr = rates[len(rates) // 2] if lr is None else lr
    if (batch_size, lr) not in curves:
        raise ValueError(f"no run with batch_size={batch_size} and lr={lr} in the grid")
    b_slider = w.SelectionSlider(options=batch_sizes, value=batch_size,
                                 description="batch size B", style=style)
    lr_slider = w.SelectionSlider(options=rates, value=lr, description="learning rate α",
                                  style=style)

    def draw():
        fig, axes = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [1.4, 1]})
        plot_loss_curves(curves, b_slider.value, lr_slider.value, axes)
        return fig

    output = live_figure([b_slider, lr_slider], draw)
    return w.VBox([w.HBox([b_slider, lr_slider]), output])


def plot_conditioning(condition_number: float = 20.0, lr: float = 1.8, steps: int = 60,
                      axes=None):
    """Gradient descent (the book's SGD, exact gradients) on the quadratic of condition number κ.

    Left: the path on the contours. Right: the distance to the minimum along each axis, on a log
    scale: the steep y coordinate (curvature 1) shrinks by |1 − α| per step, the shallow x
    coordinate (curvature 1/κ) by |1 − α/κ|. Returns the two axes.
    """
    check_int("steps", steps, low=1)
    check_real("lr", lr, low=0.0, low_open=True)
    surface = ill_conditioned_quadratic(condition_number)
    path = trajectory(SGD, surface, steps=steps, lr=lr)
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [1.3, 1]})
    left, right = axes
    plot_trajectories(surface, {f"SGD, α = {lr:g}": path}, left,
                      title=f"κ = {condition_number:g}, α = {lr:g}: {len(path) - 1} steps")
    k = np.arange(len(path))
    with np.errstate(divide="ignore"):
        right.semilogy(k, np.abs(path[:, 1]), color=color_of(1),
                       label="|y|: steep direction (curvature 1)")
        right.semilogy(k, np.abs(path[:, 0]), color=color_of(0),
                       label=f"|x|: shallow direction (curvature 1/{condition_number:g})")
    right.set(xlabel="step k", ylabel="distance to the minimum along the axis",
              title="steep axis: fast (or oscillating); shallow axis: slow")
    right.set_ylim(bottom=max(1e-12, right.get_ylim()[0]))
    right.legend(loc="lower left", fontsize=8, frameon=True, framealpha=0.85)
    return axes


def conditioning_explorer(condition_number: float = 20.0, lr: float = 1.8, steps: int = 60):
    """Sliders for the condition number κ, the learning rate α and the number of steps, over
    :func:`plot_conditioning` (whose defaults are this widget's starting setting)."""
    import ipywidgets as w
    style = {"description_width": "110px"}
    kappa = w.FloatLogSlider(value=condition_number, base=10, min=0, max=3, step=0.05,
                             description="condition κ", style=style)
    rate = w.FloatSlider(value=lr, min=0.05, max=2.1, step=0.05, description="learning rate α",
                         style=style)
    count = w.IntSlider(value=steps, min=5, max=300, step=5, description="steps", style=style)

    def draw():
        fig, axes = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [1.3, 1]})
        plot_conditioning(kappa.value, rate.value, count.value, axes)
        return fig

    output = live_figure([kappa, rate, count], draw)
    return w.VBox([w.HBox([kappa, rate, count]), output])
