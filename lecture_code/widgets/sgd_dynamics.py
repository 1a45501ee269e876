"""Figures and explorers of the two SGD chapters (their experiments: :mod:`lecture_code.sgd_dynamics`).

* :func:`plot_loss_curves`, :func:`batch_size_explorer`, :func:`batch_size_frames` — the
  batch-size/learning-rate grid of :func:`~lecture_code.sgd_dynamics.loss_curve_grid`, its
  widget and its kernel-free explorer;
* :func:`plot_conditioning`, :func:`conditioning_explorer`, :func:`conditioning_frames` —
  gradient descent on the ill-conditioned quadratic, its widget and its kernel-free explorer.

Every figure is drawn for the book's output column: at most 8 inches wide, no text under 8 pt.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import LogFormatter

from .._checks import check_int, check_real
from ..optimizers import SGD
from ..plotting import color_of
from ..sgd_dynamics import LossCurve
from ..surfaces import ill_conditioned_quadratic, trajectory
from .optimization import live_figure, plot_trajectories
from .static import frame_explorer, slider

#: Size of the two-panel figures of this module: the width of the book's output column.
FIGSIZE = (7.7, 3.6)
#: Where :func:`plot_conditioning` draws a distance that is exactly 0 on its log scale.
ZERO_FLOOR = 1e-16
#: The smallest font of these figures, in points (legends, tick labels, numbers in cells).
SMALL = 8


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def power_of_ten(x: float) -> str:
    """``x`` as a power of ten in plain text: ``10⁻⁴``, ``3×10¹`` (mantissa to 3 digits)."""
    check_real("x", x, low=0.0, low_open=True)
    exponent = math.floor(math.log10(x) + 1e-9)
    mantissa = x / 10.0 ** exponent
    power = "10" + str(exponent).translate(_SUPERSCRIPT)
    return power if abs(mantissa - 1) < 1e-6 else f"{mantissa:.3g}×{power}"


class PowerOfTenFormatter(LogFormatter):
    """Log-axis tick labels written by :func:`power_of_ten`, which ticks to label chosen as by
    matplotlib's own log formatter. Plain text, not mathtext: parsing the mathtext of the default
    labels took a third of the drawing time of an explorer's frame."""

    def _num_to_string(self, x, vmin, vmax):
        return power_of_ten(x)


def _whole(fig):
    """Make ``fig`` keep its whole canvas when saved with ``bbox_inches="tight"`` (as
    :func:`~lecture_code.plotting.figure_png` saves it), so that every frame of an explorer has
    the same size and the controls above it do not jump. Returns ``fig``."""
    fig.add_artist(plt.Rectangle((0, 0), 1, 1, transform=fig.transFigure, fill=False,
                                 linewidth=0))
    return fig


def plot_loss_curves(curves: Mapping[tuple[int, float], LossCurve], batch_size: int, lr: float,
                     axes=None):
    """Left: training loss against examples processed for every batch size at learning rate
    ``lr``, the chosen ``batch_size`` drawn bold. Right: the final loss of every run of the grid
    as a heat map, the chosen cell outlined. Returns the two axes (drawn on ``axes`` if given,
    else on a new figure of :func:`loss_curves_figure`)."""
    if (batch_size, lr) not in curves:
        raise ValueError(f"no run with batch_size={batch_size} and lr={lr} in the grid")
    if axes is None:
        return loss_curves_figure(curves, batch_size, lr).axes[:2]
    batch_sizes = sorted({b for b, _ in curves})
    rates = sorted({r for _, r in curves})
    left, right = axes
    for i, b in enumerate(batch_sizes):
        curve = curves[(b, lr)]
        chosen = b == batch_size
        label = f"B = {b}" + (" (diverged)" if curve.diverged else "")
        left.plot(curve.examples, curve.loss, color=color_of(i), linewidth=2.6 if chosen else 1.0,
                  alpha=1.0 if chosen else 0.55, label=label, zorder=3 if chosen else 2)
    chosen_curve = curves[(batch_size, lr)]
    left.set(xlabel="examples processed", ylabel="training loss (nats)",
             title=f"α = {lr:g}: every batch size, B = {batch_size} bold")
    # Room for every curve at this rate (an unstable one spikes), but no more than 5 nats.
    highest = max(float(np.max(c.loss[np.isfinite(c.loss)], initial=0.0))
                  for (_, r), c in curves.items() if r == lr)
    left.set_ylim(top=max(2.5, min(5.0, highest * 1.05)), bottom=0)
    left.ticklabel_format(axis="x", style="plain")
    left.legend(loc="lower left", fontsize=SMALL, frameon=True, framealpha=0.85)

    table = np.array([[min(curves[(b, r)].final_loss, 10.0) for r in rates] for b in batch_sizes])
    image = right.imshow(table, cmap="viridis_r", origin="lower", aspect="auto")
    middle = (table.min() + table.max()) / 2
    right.set_xticks(range(len(rates)), [f"{r:g}" for r in rates])
    right.set_yticks(range(len(batch_sizes)), [str(b) for b in batch_sizes])
    for i, b in enumerate(batch_sizes):
        for j, r in enumerate(rates):
            curve = curves[(b, r)]
            text = "div." if curve.diverged else f"{curve.final_loss:.2f}"
            right.text(j, i, text, ha="center", va="center", fontsize=SMALL + 1,
                       color="white" if table[i, j] > middle else "black")
    i, j = batch_sizes.index(batch_size), rates.index(lr)
    right.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="red",
                                  linewidth=2.5, clip_on=False, zorder=3))
    right.grid(False)
    right.set(xlabel="learning rate α", ylabel="batch size B",
              title=f"final loss after {int(chosen_curve.examples[-1])} examples\n"
                    f"(red: the run drawn bold)")
    colorbar = right.figure.colorbar(image, ax=right, label="final loss (nats)")
    colorbar.ax.tick_params(labelsize=SMALL)
    return axes


def loss_curves_figure(curves: Mapping[tuple[int, float], LossCurve], batch_size: int,
                       lr: float):
    """A new figure (:data:`FIGSIZE`) with :func:`plot_loss_curves` for one setting."""
    # Fixed margins, not a layout engine: the explorers draw a frame per setting, and
    # constrained layout would double the time of each (and shift the axes between frames).
    fig, axes = plt.subplots(1, 2, figsize=FIGSIZE, gridspec_kw={"width_ratios": [1.25, 1]})
    fig.subplots_adjust(left=0.08, right=0.97, bottom=0.14, top=0.87, wspace=0.3)
    plot_loss_curves(curves, batch_size, lr, axes)
    return _whole(fig)


def _grid_start(curves, batch_size, lr):
    """The grid's batch sizes and rates, and the setting to start at (default: the middle)."""
    batch_sizes = sorted({b for b, _ in curves})
    rates = sorted({r for _, r in curves})
    batch_size = batch_sizes[len(batch_sizes) // 2] if batch_size is None else batch_size
    lr = rates[len(rates) // 2] if lr is None else lr
    if (batch_size, lr) not in curves:
        raise ValueError(f"no run with batch_size={batch_size} and lr={lr} in the grid")
    return batch_sizes, rates, batch_size, lr


def batch_size_frames(curves: Mapping[tuple[int, float], LossCurve],
                      batch_size: int | None = None, lr: float | None = None):
    """The kernel-free form of :func:`batch_size_explorer`: sliders for B and α over frames of
    :func:`plot_loss_curves`, one per run of the grid, starting at ``batch_size`` and ``lr``
    (by default the middle of the grid). Nothing is trained: the frames re-plot ``curves``."""
    batch_sizes, rates, batch_size, lr = _grid_start(curves, batch_size, lr)
    return frame_explorer(
        lambda batch_size, lr: loss_curves_figure(curves, batch_size, lr),
        slider("batch_size", batch_sizes, "batch size B", start=batch_sizes.index(batch_size)),
        slider("lr", rates, "learning rate α", label=lambda r: f"{r:g}",
               start=rates.index(lr)),
        description=f"Left: training loss against examples processed at the chosen learning "
                    f"rate, one curve per batch size, the chosen one bold. Right: heat map of "
                    f"the final training loss of all {len(curves)} runs, batch size against "
                    f"learning rate, the chosen run outlined in red")


def batch_size_explorer(curves: Mapping[tuple[int, float], LossCurve],
                        batch_size: int | None = None, lr: float | None = None):
    """A widget over a precomputed :func:`loss_curve_grid`: sliders for B and α, instant redraw.

    It shows :func:`plot_loss_curves` for the chosen setting (initially ``batch_size`` and
    ``lr``, by default the middle of the grid); nothing is trained when a slider moves.
    """
    import ipywidgets as w
    batch_sizes, rates, batch_size, lr = _grid_start(curves, batch_size, lr)
    style = {"description_width": "110px"}
    b_slider = w.SelectionSlider(options=batch_sizes, value=batch_size,
                                 description="batch size B", style=style)
    lr_slider = w.SelectionSlider(options=rates, value=lr, description="learning rate α",
                                  style=style)

    def draw():
        return loss_curves_figure(curves, b_slider.value, lr_slider.value)

    output = live_figure([b_slider, lr_slider], draw)
    return w.VBox([w.HBox([b_slider, lr_slider]), output])


def plot_conditioning(condition_number: float = 20.0, lr: float = 1.8, steps: int = 60,
                      axes=None):
    """Gradient descent (the book's SGD, exact gradients) on the quadratic of condition number κ.

    Left: the path on the contours. Right: the distance to the minimum along each axis, on a log
    scale: the steep y coordinate (curvature 1) shrinks by |1 − α| per step, the shallow x
    coordinate (curvature 1/κ) by |1 − α/κ|. Returns the two axes (drawn on ``axes`` if given,
    else on a new figure of :func:`conditioning_figure`).
    """
    check_int("steps", steps, low=1)
    check_real("lr", lr, low=0.0, low_open=True)
    if axes is None:
        return conditioning_figure(condition_number, lr, steps).axes[:2]
    surface = ill_conditioned_quadratic(condition_number)
    path = trajectory(SGD, surface, steps=steps, lr=lr)
    left, right = axes
    plot_trajectories(surface, {f"SGD, α = {lr:g}": path}, left,
                      title=f"κ = {condition_number:g}, α = {lr:g}: {len(path) - 1} steps")
    k = np.arange(len(path))
    # A coordinate that lands exactly on 0 (α = 1 on the steep axis, say) has no logarithm: it
    # is drawn at ZERO_FLOOR, below every other value, and its legend entry says so.
    landed = False
    for column, color, label in ((1, color_of(1), "|y|: steep axis (curvature 1)"),
                                 (0, color_of(0), f"|x|: shallow axis (curvature "
                                                  f"1/{condition_number:g})")):
        distance = np.abs(path[:, column])
        zeros = np.flatnonzero(distance == 0)
        if len(zeros):
            landed = True
            label += f"\nexactly 0 from step {zeros[0]}"
        right.semilogy(k, np.where(distance == 0, ZERO_FLOOR, distance), color=color,
                       label=label)
    right.set(xlabel="step k", ylabel="distance to the minimum",
              title="along each axis" + (f" (0 drawn at {power_of_ten(ZERO_FLOOR)})"
                                         if landed else ""))
    right.yaxis.set_major_formatter(PowerOfTenFormatter())
    right.yaxis.set_minor_formatter(PowerOfTenFormatter(labelOnlyBase=False,
                                                        minor_thresholds=(2, 0.5)))
    right.set_ylim(bottom=ZERO_FLOOR / 10 if landed else max(1e-12, right.get_ylim()[0]))
    # Landed runs leave the middle of the log scale empty; the others its lower left corner.
    right.legend(loc="center right" if landed else "lower left", fontsize=SMALL, frameon=True,
                 framealpha=0.85)
    return axes


def conditioning_figure(condition_number: float = 20.0, lr: float = 1.8, steps: int = 60):
    """A new figure (:data:`FIGSIZE`) with :func:`plot_conditioning` for one setting."""
    fig, axes = plt.subplots(1, 2, figsize=FIGSIZE, gridspec_kw={"width_ratios": [1.2, 1]})
    fig.subplots_adjust(left=0.07, right=0.99, bottom=0.14, top=0.91, wspace=0.3)
    plot_conditioning(condition_number, lr, steps, axes)
    return _whole(fig)


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
        return conditioning_figure(kappa.value, rate.value, count.value)

    output = live_figure([kappa, rate, count], draw)
    return w.VBox([w.HBox([kappa, rate, count]), output])


def conditioning_frames(condition_numbers: Sequence[float], rates: Sequence[float],
                        steps: int = 60, condition_number: float | None = None,
                        lr: float | None = None):
    """The kernel-free form of :func:`conditioning_explorer`: sliders for κ and α over frames of
    :func:`plot_conditioning` with ``steps`` steps, one per pair, starting at
    ``condition_number`` and ``lr`` (by default the first of each list)."""
    check_int("steps", steps, low=1)
    condition_numbers, rates = list(condition_numbers), list(rates)
    condition_number = condition_numbers[0] if condition_number is None else condition_number
    lr = rates[0] if lr is None else lr
    for name, value, values in (("condition_number", condition_number, condition_numbers),
                                ("lr", lr, rates)):
        if value not in values:
            raise ValueError(f"{name}={value!r} is not one of the explorer's values {values}")
    return frame_explorer(
        lambda condition_number, lr: conditioning_figure(condition_number, lr, steps),
        slider("condition_number", condition_numbers, "condition κ", label=lambda k: f"{k:g}",
               start=condition_numbers.index(condition_number)),
        slider("lr", rates, "learning rate α", label=lambda r: f"{r:g}",
               start=rates.index(lr)),
        description=f"Left: {steps} steps of gradient descent on the quadratic "
                    f"½(x²/κ + y²), drawn over its contour lines. Right: the distance to the "
                    f"minimum along the steep y axis and the shallow x axis against the step, "
                    f"on a log scale")
