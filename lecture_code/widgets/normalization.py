"""Figures and widgets of the normalization chapters.

Every widget has a plain ``plot_...`` function that draws the figure for one setting. The
chapter shows that function's figures in a kernel-free explorer
(:func:`lecture_code.widgets.static.frame_explorer`, one frame per setting, drawn when the book
is built) and then the widget, which redraws the same function when a slider moves. The
figures are drawn for the book's column (at most 8 inches wide, text of at least 8 points).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
from matplotlib import patheffects
import numpy as np
import torch
from matplotlib.patches import Patch

from .._checks import check_int
from ..normalization import BATCH, INSTANCE, LAYER, Grouping, group
from ..plotting import color_of

#: Batch sizes offered by the batch-size slider.
BATCH_SIZES = (2, 4, 8, 16, 32, 64, 128, 256)


# --------------------------------------------------------------------------------------------
# How noisy are the mini-batch statistics?
# --------------------------------------------------------------------------------------------

def activation_population(num_values: int = 100_000, seed: int = 0) -> torch.Tensor:
    """A skewed stand-in for one unit's activations over a data set: ``relu(z + 0.5)``.

    ``z`` is standard normal; the result is the kind of distribution batch norm sees after a
    ReLU layer (a spike at zero and a long right tail).
    """
    check_int("num_values", num_values, low=2)
    gen = torch.Generator().manual_seed(seed)
    return torch.relu(torch.randn(num_values, generator=gen, dtype=torch.float64) + 0.5)


def batch_statistics(population: torch.Tensor, batch_size: int, num_batches: int = 2000,
                     seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Means and biased variances of ``num_batches`` random mini-batches drawn from ``population``.

    These are the :math:`\\mu_B` and :math:`\\sigma_B^2 = \\frac1B\\sum_i (x_i-\\mu_B)^2` that
    batch normalization (Ioffe & Szegedy 2015) divides by in training mode; their spread is
    the noise each sample's normalised value inherits from its batch-mates.
    """
    check_int("batch_size", batch_size, low=2, high=len(population))
    check_int("num_batches", num_batches, low=1)
    gen = torch.Generator().manual_seed(seed)
    index = torch.randint(len(population), (num_batches, batch_size), generator=gen)
    batches = population[index]
    return batches.mean(dim=1), batches.var(dim=1, unbiased=False)


def plot_batch_statistics_noise(batch_size: int = 16, *, num_batches: int = 2000,
                                seed: int = 0) -> plt.Figure:
    """Histograms of the batch mean and variance for ``batch_size``, and their spread vs B.

    Left and middle: where :math:`\\mu_B` and :math:`\\sigma^2_B` land over many mini-batches,
    with the population values. Right: the standard deviation of both estimates against the
    batch size (log-log), which falls like :math:`1/\\sqrt{B}`; the chosen B is marked.
    """
    check_int("batch_size", batch_size, low=2, high=4096)
    population = activation_population(seed=seed)
    mu, var = population.mean().item(), population.var(unbiased=False).item()
    means, variances = batch_statistics(population, batch_size, num_batches, seed)

    fig = plt.figure(figsize=(7.8, 6.4))     # fixed margins: much faster to draw than a layout
    grid = fig.add_gridspec(2, 2, height_ratios=(1, 1.05), left=0.09, right=0.98, bottom=0.08,
                            top=0.95, wspace=0.27, hspace=0.36)
    axes = [fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1]),
            fig.add_subplot(grid[1, :])]
    ax = axes[0]
    ax.hist(means.numpy(), bins=40, range=(mu - 2.0, mu + 2.0), color=color_of(0), alpha=0.8,
            histtype="stepfilled", label=f"{num_batches} mini-batches")
    ax.axvline(mu, color="black", linestyle="--", label=f"population\nmean {mu:.2f}")
    ax.set(xlabel="batch mean $\\mu_B$ (activation units)", ylabel="number of mini-batches",
           title=f"Batch mean, B = {batch_size}")
    ax.set_ylim(0, ax.get_ylim()[1] * 1.3)      # headroom for the legend
    ax.legend(loc="upper right", fontsize=8, frameon=True, framealpha=0.9, edgecolor="none")

    ax = axes[1]
    ax.hist(variances.numpy(), bins=40, range=(0, 3 * var), color=color_of(1), alpha=0.8,
            histtype="stepfilled", label=f"{num_batches} mini-batches")
    ax.axvline(var, color="black", linestyle="--", label=f"population\nvariance {var:.2f}")
    ax.axvline(variances.mean().item(), color=color_of(3), linestyle=":",
               label=f"average $\\sigma_B^2$ {variances.mean().item():.2f}")
    ax.set(xlabel="batch variance $\\sigma_B^2$ (squared units)",
           ylabel="number of mini-batches", title=f"Batch variance, B = {batch_size}")
    ax.set_ylim(0, ax.get_ylim()[1] * 1.3)
    ax.legend(loc="upper right", fontsize=8, frameon=True, framealpha=0.9, edgecolor="none")

    ax = axes[2]
    sizes = np.array(BATCH_SIZES)
    spread = np.array([[s.std().item() for s in batch_statistics(population, int(b), 500, seed)]
                       for b in sizes])
    ax.loglog(sizes, spread[:, 0], "o-", color=color_of(0), label="std of $\\mu_B$")
    ax.loglog(sizes, spread[:, 1], "s-", color=color_of(1), label="std of $\\sigma_B^2$")
    ax.loglog(sizes, spread[0, 0] * np.sqrt(sizes[0] / sizes), ":", color="grey",
              label="$\\propto 1/\\sqrt{B}$")
    ax.axvline(batch_size, color="black", linewidth=1, label=f"B = {batch_size}")
    ax.set_xticks(sizes, [str(b) for b in sizes])
    ax.set_yticks([0.05, 0.1, 0.2, 0.5], ["0.05", "0.1", "0.2", "0.5"])
    ax.minorticks_off()
    ax.set(xlabel="batch size B (samples)", ylabel="std over mini-batches",
           title="Noise of the estimates against the batch size")
    ax.legend(fontsize=9, ncol=2, loc="upper center", frameon=True, framealpha=0.95,
              edgecolor="none")
    return fig


def batch_statistics_noise_widget(batch_size: int = 16):
    """A batch-size slider redrawing :func:`plot_batch_statistics_noise`."""
    import ipywidgets as widgets

    slider = widgets.SelectionSlider(options=list(BATCH_SIZES), value=batch_size,
                                     description="batch size", continuous_update=False)

    def show(batch_size):
        plot_batch_statistics_noise(batch_size)
        plt.show()

    return widgets.VBox([slider, widgets.interactive_output(show, {"batch_size": slider})])


# --------------------------------------------------------------------------------------------
# Which entries are normalised together?
# --------------------------------------------------------------------------------------------

def _grouping_title(grouping: Grouping, num_channels: int) -> str:
    g = grouping.groups_for(num_channels)
    if grouping.across_batch:
        if grouping.num_groups is None:
            return "Batch norm"
        if g == num_channels:
            return f"Across the batch, G = {g} (= batch norm)"
        return f"Across the batch, G = {g}"
    if grouping.num_groups is None:
        return "Instance norm"
    if g == 1:
        return "Layer norm" if grouping is LAYER else "Group norm, G = 1 (= layer norm)"
    if g == num_channels:
        return f"Group norm, G = {g} (= instance norm)"
    return f"Group norm, G = {g}"


def plot_normalization_cubes(groupings: Sequence[Grouping] | None = None, *,
                             num_samples: int = 4, num_channels: int = 6,
                             num_positions: int = 5) -> plt.Figure:
    """The ``N × C × (H·W)`` cube of each grouping, one normalised set shaded.

    The shaded cells share one mean and one variance; they are computed from
    :meth:`Grouping.labels`, the same axis choice :func:`~lecture_code.normalization.normalize`
    reduces over (after Wu & He 2018, Figure 2).
    """
    if groupings is None:
        groupings = (BATCH, LAYER, INSTANCE, group(2 if num_channels % 2 == 0 else 1))
    cols = min(len(groupings), 2)                 # at most two cubes side by side
    rows = -(-len(groupings) // cols)
    fig = plt.figure(figsize=(3.3 * cols, 3.3 * rows + 0.8))
    for k, grouping in enumerate(groupings):
        labels = grouping.labels((num_samples, num_channels, num_positions))
        chosen = labels == labels[0, 0, 0]
        # axes of the picture: x = H·W, y = N (samples front to back), z = C (channels up)
        shaded = chosen.transpose(2, 0, 1)                      # (N, C, L) -> (L, N, C)
        colours = np.where(shaded, "#1f77b4e6", "#e6e6e680").astype(object)
        ax = fig.add_subplot(rows, cols, k + 1, projection="3d")
        ax.voxels(np.ones_like(shaded), facecolors=colours, edgecolor="#555555", linewidth=0.3)
        ax.set_xlabel("H·W (positions)", labelpad=-10, fontsize=9)
        ax.set_ylabel("N (samples)", labelpad=-10, fontsize=9)
        ax.set_zlabel("C (channels)", labelpad=-10, fontsize=9)
        ax.set_xticks([]), ax.set_yticks([]), ax.set_zticks([])
        ax.set_box_aspect((num_positions, num_samples, num_channels), zoom=0.95)
        ax.view_init(elev=20, azim=-50)
        ax.set_title(_grouping_title(grouping, num_channels), fontsize=10)
    fig.legend(handles=[Patch(color="#1f77b4", label="one normalised set: shares μ and σ²"),
                        Patch(color="#cccccc", label="other sets")],
               loc="lower center", ncol=2, fontsize=9)
    fig.suptitle("Which activations share a mean and a variance", fontsize=11)
    height = fig.get_figheight()
    fig.subplots_adjust(left=0.0, right=1.0, bottom=0.45 / height, top=1 - 0.55 / height,
                        wspace=0.0, hspace=0.1)
    return fig


def plot_group_membership(num_groups: int = 2, *, across_batch: bool = False,
                          num_channels: int = 8, num_samples: int = 2,
                          num_positions: int = 6) -> plt.Figure:
    """``num_groups`` groups of channels: one colour (and number) per normalised set.

    One panel per sample, channels down and positions across. Per sample
    (``across_batch=False``, group normalization), ``num_groups=1`` is layer normalization and
    ``num_groups=num_channels`` instance normalization (Wu & He 2018). With
    ``across_batch=True`` a group's statistics pool all samples too: ``num_groups=num_channels``
    is batch normalization, fewer groups the fifth member of the chapter's exercise.
    """
    check_int("num_groups", num_groups, low=1, high=num_channels)
    grouping = Grouping(num_groups, True, "across the batch") if across_batch else group(num_groups)
    labels = grouping.labels((num_samples, num_channels, num_positions))
    num_sets = labels.max() + 1
    cmap = plt.get_cmap("tab20", max(num_sets, 2))
    fig, axes = plt.subplots(1, num_samples, figsize=(3.3 * num_samples, 3.6), squeeze=False)
    fig.subplots_adjust(left=0.55 / fig.get_figwidth(), right=0.98, bottom=0.15, top=0.78,
                        wspace=0.2)                 # fixed margins: faster than a layout engine
    for n, ax in enumerate(axes[0]):
        ax.imshow(labels[n], cmap=cmap, vmin=-0.5, vmax=max(num_sets, 2) - 0.5,
                  aspect="auto", interpolation="nearest")
        for c in range(num_channels):
            for p in range(num_positions):
                ax.text(p, c, str(labels[n, c, p]), ha="center", va="center", fontsize=8,
                        color="black", path_effects=[patheffects.withStroke(linewidth=2,
                                                                             foreground="white")])
        ax.set_xticks(range(num_positions)), ax.set_yticks(range(num_channels))
        ax.set_xticks(np.arange(-0.5, num_positions), minor=True)
        ax.set_yticks(np.arange(-0.5, num_channels), minor=True)
        ax.grid(which="minor", color="white", linewidth=1.5)
        ax.grid(which="major", visible=False)
        ax.tick_params(which="minor", length=0)
        ax.set(xlabel="position ℓ (flattened H·W)", ylabel="channel c", title=f"sample n = {n}")
    fig.suptitle(f"{_grouping_title(grouping, num_channels)}: {num_sets} normalised "
                 f"set{'s' if num_sets > 1 else ''}\n(the number in a cell is its set; one μ "
                 f"and one σ² per set)", fontsize=10)
    return fig


#: The two choices of :func:`plot_group_membership`'s ``across_batch``, as the controls name them.
POOLING = {"each sample": False, "the whole mini-batch": True}


def group_membership_widget(num_channels: int = 8, num_groups: int = 2):
    """A slider over the divisors of ``num_channels`` and a choice of what the statistics pool
    (each sample, or the whole mini-batch), redrawing :func:`plot_group_membership`."""
    import ipywidgets as widgets

    divisors = [d for d in range(1, num_channels + 1) if num_channels % d == 0]
    slider = widgets.SelectionSlider(options=divisors, value=num_groups,
                                     description="groups G", continuous_update=False)
    pooling = widgets.Dropdown(options=list(POOLING.items()), value=False,
                               description="statistics over")

    def show(num_groups, across_batch):
        plot_group_membership(num_groups, across_batch=across_batch, num_channels=num_channels)
        plt.show()

    output = widgets.interactive_output(show, {"num_groups": slider, "across_batch": pooling})
    return widgets.VBox([slider, pooling, output])


# --------------------------------------------------------------------------------------------
# Figures of the experiments
# --------------------------------------------------------------------------------------------

def plot_layer_histograms(activations: Mapping[str, Sequence[torch.Tensor]],
                          max_value: float | None = None) -> plt.Figure:
    """One panel per model: the histogram of each hidden layer's (pre-nonlinearity) activations,
    stacked from the first layer (top) to the last, each scaled to its own peak.

    ``activations`` maps a model's name to the list of its layers' activation tensors; every
    panel shares the value axis ``[-max_value, max_value]``, so a layer whose values shrink
    shows as a narrowing spike. Each row is labelled with its standard deviation.
    """
    names = list(activations)
    depth = max(len(v) for v in activations.values())
    if max_value is None:
        max_value = max(float(t.abs().quantile(0.995)) for v in activations.values() for t in v)
    bins = np.linspace(-max_value, max_value, 61)
    centres = (bins[:-1] + bins[1:]) / 2
    fig, axes = plt.subplots(1, len(names), figsize=(3.9 * len(names), 0.5 * depth + 1.4),
                             sharex=True, sharey=True, constrained_layout=True, squeeze=False)
    for k, (ax, name) in enumerate(zip(axes[0], names)):
        for layer, values in enumerate(activations[name]):
            values = values.detach().reshape(-1).numpy()
            counts, _ = np.histogram(values, bins=bins)
            height = 0.9 * counts / max(counts.max(), 1)
            base = depth - 1 - layer                      # layer 1 at the top
            ax.fill_between(centres, base, base + height, step="mid", color=color_of(k),
                            alpha=0.75, linewidth=0)
            ax.text(0.98, base + 0.3, f"std {values.std():.2g}", transform=ax.get_yaxis_transform(),
                    ha="right", va="center", fontsize=9)
        ax.set_yticks(range(depth), [f"layer {depth - i}" for i in range(depth)])
        ax.set_ylim(-0.15, depth)
        ax.grid(axis="y", visible=False)
        ax.set(xlabel="activation value", title=name)
    fig.suptitle("Pre-activation values of each hidden layer on one mini-batch", fontsize=11)
    return fig


def plot_learning_rate_sweep(runs: Mapping[str, Mapping[float, Mapping]], show_lr: float,
                             accuracy_to_train: float) -> plt.Figure:
    """Left: mini-batch losses at ``show_lr``; right: final validation accuracy vs learning rate.

    ``runs[model][lr]`` is a mapping with ``"losses"`` (the finite mini-batch losses, in order)
    and ``"val_accuracy"`` (the final validation accuracy, or ``None`` when the loss became
    NaN). A run *trains* when it reaches ``accuracy_to_train``.
    """
    fig, (left, right) = plt.subplots(1, 2, figsize=(7.8, 4.0), constrained_layout=True)
    for k, (name, by_lr) in enumerate(runs.items()):
        run = by_lr[show_lr]
        losses = np.asarray(run["losses"], dtype=float)
        steps = np.arange(1, len(losses) + 1)
        if run["val_accuracy"] is None:
            left.plot(steps, losses, color=color_of(k), alpha=0.85,
                      label=f"{name}: loss NaN at step {len(losses) + 1}")
            left.plot([len(losses) + 1], [3.9], "x", color=color_of(k), markersize=10,
                      markeredgewidth=2, clip_on=False)
        else:
            left.plot(steps, losses, color=color_of(k), alpha=0.85, label=name)
        rates = sorted(by_lr)
        accuracy = [np.nan if by_lr[r]["val_accuracy"] is None else 100 * by_lr[r]["val_accuracy"]
                    for r in rates]
        right.semilogx(rates, accuracy, "o-", color=color_of(k), label=name)
        diverged = [r for r in rates if by_lr[r]["val_accuracy"] is None]
        if diverged:   # (an empty unclipped line would stretch the figure's bounding box)
            right.semilogx(diverged, [2] * len(diverged), "x", color=color_of(k),
                           markersize=10, markeredgewidth=2, clip_on=False)
    left.set(xlabel="SGD step", ylabel="mini-batch loss (cross-entropy)",
             title=f"Training at learning rate {show_lr:g}", ylim=(0, 4))
    left.legend(loc="upper center", bbox_to_anchor=(0.5, -0.17), fontsize=9)   # below: the
    # curves fill the panel
    right.axhline(100 * accuracy_to_train, color="grey", linestyle="--",
                  label=f"'trains': {100 * accuracy_to_train:.0f} %")
    right.plot([], [], "x", color="black", label="loss became NaN")
    right.set(xlabel="learning rate (log scale)", ylabel="final validation accuracy (%)",
              title="Which learning rates train?", ylim=(0, 100))
    right.legend(fontsize=8, loc="center left")
    return fig


def plot_accuracy_vs_batch_size(accuracies: Mapping[str, Mapping[int, float]]) -> plt.Figure:
    """Validation accuracy against the training batch size, one line per normalization."""
    fig, ax = plt.subplots(figsize=(6, 3.6), constrained_layout=True)
    for k, (name, by_size) in enumerate(accuracies.items()):
        sizes = sorted(by_size)
        ax.semilogx(sizes, [100 * by_size[b] for b in sizes], "o-", base=2, color=color_of(k),
                    label=name)
    all_sizes = sorted({b for by_size in accuracies.values() for b in by_size})
    ax.set_xticks(all_sizes, [str(b) for b in all_sizes])
    ax.minorticks_off()
    ax.set(xlabel="training batch size (samples, log scale)", ylabel="validation accuracy (%)",
           title="Small mini-batches: batch norm vs group norm")
    ax.legend()
    return fig


def plot_whitening(x: torch.Tensor, outputs: Mapping[str, torch.Tensor]) -> plt.Figure:
    """Scatter plots of a 2-feature batch before and after each normalization."""
    panels = {"input": x, **outputs}
    fig, axes = plt.subplots(1, len(panels), figsize=(2.6 * len(panels), 3.1),
                             constrained_layout=True)
    for k, (ax, (name, values)) in enumerate(zip(axes, panels.items())):
        v = values.detach().double()
        corr = torch.corrcoef(v.T)[0, 1].item()
        ax.scatter(v[:, 0], v[:, 1], s=6, alpha=0.6, color=color_of(k), label=f"corr {corr:+.2f}")
        ax.set_aspect("equal", adjustable="datalim")
        ax.set(xlabel="feature 1", ylabel="feature 2", title=name)
        ax.legend(loc="upper left", fontsize=8, frameon=True, framealpha=0.85, edgecolor="none")
    fig.suptitle("One mini-batch of two correlated features", fontsize=11)
    return fig
