"""Interactive explorers for the regularization chapters, and the static figures they draw.

* :func:`plot_lambda_sweep` / :func:`lambda_explorer`: for one λ of a precomputed
  :func:`lecture_code.regularization.lambda_sweep`, the histogram of the trained weights and
  the training/validation curves, next to those of λ = 0.
* :func:`plot_dropout_masks` / :func:`dropout_explorer`: a small network with the units one
  dropout mask removes, and the masks of a whole mini-batch, for a drop probability p.

Each explorer is a slider over a small grid of settings. A setting's figure is drawn once, kept
as a PNG and shown in an ``ipywidgets.Image``, so moving back to it is instant and nothing is
trained while the slider moves. For the online book, which has no kernel, the chapters show the
same plotting functions' figures in kernel-free explorers
(:func:`lecture_code.widgets.static.frame_explorer`).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
import torch

from .._checks import check_int, check_real
from ..plotting import color_of, figure_png, png_size, use_book_style
from ..regularization import Dropout, LambdaSweep

__all__ = ["plot_lambda_sweep", "lambda_explorer", "plot_dropout_masks", "dropout_explorer"]


# --------------------------------------------------------------------------------------------
# λ: weight histogram and learning curves
# --------------------------------------------------------------------------------------------

def _closest(values: Sequence[float], value: float) -> float:
    return min(values, key=lambda v: abs(v - value))


def _loss_tick(value: float, position=None) -> str:
    """A log axis' tick label: ``%g`` for 1, 2, 3 and 5 times a power of ten, else none."""
    if value <= 0:
        return ""
    leading = value / 10 ** np.floor(np.log10(value) + 1e-9)
    return f"{value:g}" if any(abs(leading - d) < 1e-6 for d in (1, 2, 3, 5)) else ""


def plot_lambda_sweep(sweep: LambdaSweep, lam: float | None = None, seed_index: int = 0,
                      tol: float = 1e-2):
    """Weight histogram and train/validation curves of the run with penalty strength ``lam``.

    ``lam`` defaults to the sweep's best λ by validation loss; the λ = 0 run (if the sweep has
    one) is drawn in grey for reference. Losses are the data loss (cross-entropy) only.
    Returns the figure.
    """
    if not isinstance(sweep, LambdaSweep):
        raise TypeError(f"sweep must be a LambdaSweep, got {type(sweep).__name__}")
    lam = sweep.best("val_loss") if lam is None else _closest(sweep.lambdas, lam)
    check_int("seed_index", seed_index, low=0, high=len(sweep.seeds) - 1)
    fig = plt.figure(figsize=(7.8, 4.3))
    ax_hist, ax_curve = fig.subplots(1, 2)
    reference = 0.0 if 0.0 in sweep.lambdas and lam != 0.0 else None
    all_weights = np.concatenate([sweep.weights[l][seed_index] for l in sweep.lambdas])
    limit = np.abs(all_weights).max() * 1.02
    bins = np.linspace(-limit, limit, 61)
    penalty = sweep.penalty.upper()
    for l, colour, alpha in ((reference, "grey", 0.45), (lam, color_of(0), 0.8)):
        if l is None:
            continue
        w = sweep.weights[l][seed_index]
        near = (np.abs(w) < tol).mean()
        ax_hist.hist(w, bins=bins, color=colour, alpha=alpha, histtype="stepfilled",
                     label=f"λ = {l:g}: {near:.0%} of |w| < {tol:g}")
    ax_hist.set(xlabel="weight value", ylabel="number of weights", yscale="log",
                title=f"trained weights, {penalty} penalty")
    ax_hist.set_ylim(0.7, ax_hist.get_ylim()[1] * 10)  # headroom for the legend
    ax_hist.legend(fontsize=8, loc="upper center")
    for l, colour, style_alpha in ((reference, "grey", 0.6), (lam, None, 1.0)):
        if l is None:
            continue
        history = sweep.histories[l][seed_index]
        epochs = history["epoch"]
        for i, (split, dash) in enumerate((("train", "--"), ("val", "-"))):
            ax_curve.plot(epochs, history[f"{split}_loss"], dash, alpha=style_alpha,
                          color=colour or color_of(1 + i), label=f"{split}, λ = {l:g}")
    ax_curve.set(xlabel="epoch", ylabel="cross-entropy (data loss, nats)", yscale="log",
                 title="learning curves")
    low, high = ax_curve.get_ylim()
    if high / low < 30:     # a decade or so: label 1, 2, 3 and 5 times the powers of ten
        ax_curve.yaxis.set_major_formatter(mticker.FuncFormatter(_loss_tick))
        ax_curve.yaxis.set_minor_formatter(mticker.FuncFormatter(_loss_tick))
    else:                   # many decades: the powers of ten only, as plain numbers
        ax_curve.yaxis.set_major_formatter(mticker.FormatStrFormatter("%g"))
        ax_curve.yaxis.set_minor_formatter(mticker.NullFormatter())
    ax_curve.xaxis.set_major_locator(mticker.MaxNLocator(integer=True))
    # below the axes: inside, four curves leave no corner free in every run
    ax_curve.legend(fontsize=8, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.16))
    fig.suptitle(f"λ = {lam:g}: final validation accuracy "
                 f"{sweep.histories[lam][seed_index]['val_accuracy'][-1]:.1%}", fontsize=11)
    fig.subplots_adjust(left=0.09, right=0.98, bottom=0.25, top=0.85, wspace=0.3)  # no layout
    # engine: an explorer draws this figure once per frame
    return fig


def _image_explorer(slider, draw: Callable[[object], object]):
    """A slider and an Image; ``draw(value)`` returns the value's figure, which is rendered
    once and cached as PNG."""
    import ipywidgets as w

    cache: dict = {}
    image = w.Image(format="png")

    def show(change=None):
        value = slider.value
        if value not in cache:
            cache[value] = figure_png(draw(value), scale=2.0)
        image.value = cache[value]
        image.width = str(png_size(cache[value])[0] // 2)   # drawn at 2x, shown at 1x

    slider.observe(show, names="value")
    show()
    return w.VBox([slider, image])


def lambda_explorer(sweep: LambdaSweep, seed_index: int = 0):
    """A λ slider over the values of ``sweep`` (already trained, so moving it is instant)."""
    import ipywidgets as w

    if not isinstance(sweep, LambdaSweep):
        raise TypeError(f"sweep must be a LambdaSweep, got {type(sweep).__name__}")
    use_book_style()
    slider = w.SelectionSlider(options=[(f"{lam:g}", lam) for lam in sweep.lambdas],
                               value=sweep.best("val_loss"), description="λ",
                               continuous_update=False)
    return _image_explorer(slider, lambda lam: plot_lambda_sweep(sweep, lam, seed_index))


# --------------------------------------------------------------------------------------------
# Dropout masks
# --------------------------------------------------------------------------------------------

def plot_dropout_masks(p: float = 0.5, seed: int = 0, layers: Sequence[int] = (5, 8, 8, 3),
                       batch: int = 16, units: int = 64):
    """One dropout mask on a small network, and the masks of a mini-batch, for drop prob. ``p``.

    Left: a fully connected network with widths ``layers``; hidden units removed by the mask
    are hollow and crossed, and their connections disappear. Right: the masks of ``batch``
    examples on a hidden layer of ``units`` units (dark = dropped): every example gets its own
    mask. Masks come from :class:`lecture_code.regularization.Dropout` with a seeded generator.
    """
    check_real("p", p, low=0.0, high=1.0, high_open=True)
    check_int("batch", batch, low=1)
    check_int("units", units, low=1)
    if len(layers) < 3:
        raise ValueError(f"layers={list(layers)!r} needs an input, a hidden and an output layer")
    dropout = Dropout(p, generator=torch.Generator().manual_seed(seed))
    kept = [np.ones(layers[0], bool)]
    kept += [dropout.sample_mask(torch.empty(n)).bool().numpy() for n in layers[1:-1]]
    kept += [np.ones(layers[-1], bool)]
    batch_mask = dropout.sample_mask(torch.empty(batch, units)).numpy()

    fig = plt.figure(figsize=(7.8, 4.0))
    ax_net, ax_mask = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.1, 1]})
    positions = []
    for i, n in enumerate(layers):
        ys = np.linspace(-(n - 1) / 2, (n - 1) / 2, n)
        positions.append(np.stack([np.full(n, float(i)), ys], axis=1))
    for i in range(len(layers) - 1):
        for a, ka in zip(positions[i], kept[i]):
            for b, kb in zip(positions[i + 1], kept[i + 1]):
                if ka and kb:
                    ax_net.plot([a[0], b[0]], [a[1], b[1]], color="grey", lw=0.5, alpha=0.6,
                                zorder=1)
    for i, (pos, k) in enumerate(zip(positions, kept)):
        hidden = 0 < i < len(layers) - 1
        ax_net.scatter(pos[k, 0], pos[k, 1], s=140, color=color_of(0 if hidden else 2),
                       edgecolor="black", zorder=2,
                       label=("kept hidden unit" if i == 1 else None))
        ax_net.scatter(pos[~k, 0], pos[~k, 1], s=140, facecolor="white", edgecolor="black",
                       zorder=2, label=("dropped hidden unit" if i == 1 else None))
        ax_net.scatter(pos[~k, 0], pos[~k, 1], s=60, marker="x", color="crimson", zorder=3)
    ax_net.set_xticks(range(len(layers)),
                      ["input"] + [f"hidden {i}" for i in range(1, len(layers) - 1)] + ["output"])
    ax_net.set_yticks([])
    ax_net.grid(False)
    for side in ("left", "bottom"):
        ax_net.spines[side].set_visible(False)
    ax_net.set_ylim(-max(layers) / 2 - 1.6, max(layers) / 2 + 0.5)
    ax_net.legend(loc="lower center", ncol=2, fontsize=8)
    ax_net.set_title(f"one sampled sub-network\n(drop probability p = {p:g})")

    ax_mask.imshow(1 - batch_mask, cmap="Greys", vmin=0, vmax=1.25, aspect="auto",
                   interpolation="nearest")
    ax_mask.set(xlabel=f"hidden unit (of {units})", ylabel="example in the mini-batch",
                title=f"masks of a mini-batch ({batch} examples):\n"
                      f"{1 - batch_mask.mean():.0%} dropped (expected {p:.0%})")
    ax_mask.grid(False)
    fig.suptitle("dark = dropped; each forward pass draws new masks", fontsize=10)
    fig.tight_layout()
    return fig


def dropout_explorer(seed: int = 0,
                     values: Sequence[float] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)):
    """A drop-probability slider over ``values`` showing :func:`plot_dropout_masks`."""
    import ipywidgets as w

    values = [float(check_real(f"values[{i}]", v, low=0.0, high=1.0, high_open=True))
              for i, v in enumerate(values)]
    use_book_style()
    slider = w.SelectionSlider(options=[(f"{v:g}", v) for v in values],
                               value=_closest(values, 0.5), description="drop prob. p",
                               continuous_update=False)
    return _image_explorer(slider, lambda p: plot_dropout_masks(p, seed))
