"""Explorers and figures of the optimization chapters: optimizers' paths on 2-D surfaces.

:func:`live_figure` — a figure redrawn whenever a control changes — is what every live explorer
of the book is built on. Every explorer is a thin ipywidgets layer over a plotting function that
the notebook also calls directly for the default setting, so the online book (which has no
kernel) still shows a figure and the live widget (Binder, Colab, a local Jupyter) can never
disagree with it. The kernel-free explorers of the online book (:mod:`.static`) draw their
frames with the same pieces: :func:`optimizer_path` runs an optimizer with the sliders'
hyperparameters, :func:`trajectory_figure` draws the paths for the book's column.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from ..optimizers import OPTIMIZERS, hyperparameters_for
from ..plotting import color_of
from ..surfaces import SURFACES, Surface, ill_conditioned_quadratic, trajectory


def live_figure(controls, draw):
    """An ipywidgets Output showing ``draw()`` — a function that returns a matplotlib figure
    made from the controls' current values — drawn again whenever one of ``controls`` changes.

    Every live explorer of the book is a few controls plus one of these.
    """
    import ipywidgets as w
    from IPython.display import display

    output = w.Output()

    def redraw(change=None):
        with output:
            output.clear_output(wait=True)
            fig = draw()
            display(fig)
            plt.close(fig)

    for control in controls:
        control.observe(redraw, names="value")
    redraw()
    return output


def plot_surface(surface: Surface, ax=None, levels: int = 30):
    """Filled contours of ``surface`` with its minima marked; returns the axes."""
    ax = ax or plt.subplots(figsize=(7, 4.5))[1]
    xs, ys, values = surface.grid()
    if surface.log_levels:
        values = np.log10(values - values.min() + 1e-3)
    ax.contourf(xs, ys, values, levels=levels, cmap="Greys", alpha=0.55)
    ax.contour(xs, ys, values, levels=levels, colors="grey", linewidths=0.4, alpha=0.6)
    for i, (mx, my) in enumerate(surface.minima):
        ax.plot(mx, my, marker="*", color="gold", markeredgecolor="black", markersize=14,
                linestyle="none", label="minimum" if i == 0 else None)
    x0, x1, y0, y1 = surface.extent
    ax.set(xlim=(x0, x1), ylim=(y0, y1), xlabel="parameter $x$", ylabel="parameter $y$",
           title=surface.name)
    ax.grid(False)
    return ax


#: A path whose coordinates reach this size counts as diverged (:func:`diverged`).
DIVERGED_SIZE = 1e6


def diverged(path: np.ndarray) -> bool:
    """Whether a path (as from :func:`trajectory`) ran away: empty, or some |coordinate| >= 1e6.

    :func:`trajectory` stops a run that leaves the finite numbers, so a diverged path is finite
    but ends far out.
    """
    return not (len(path) and np.abs(path).max() < DIVERGED_SIZE)


def distance_to_minimum(surface: Surface, path: np.ndarray) -> float:
    """Distance from the last point of ``path`` to the nearest of ``surface``'s minima.

    ``inf`` for a path that :func:`diverged`; ``nan`` for a surface without minima.
    """
    if diverged(path):
        return float("inf")
    if not surface.minima:
        return float("nan")
    return float(min(np.hypot(*(path[-1] - np.asarray(m))) for m in surface.minima))


def plot_trajectories(surface: Surface, paths: Mapping[str, np.ndarray], ax=None,
                      title: str | None = None, *, legend_loc: str = "upper right",
                      legend_fontsize: float = 8):
    """Draw each labelled path (an array of points, as from :func:`trajectory`) on ``surface``.

    A path that :func:`diverged` gets " (diverged)" after its label; ``legend_loc`` and
    ``legend_fontsize`` place and size the legend (matplotlib's ``loc`` and points).
    """
    ax = plot_surface(surface, ax)
    for i, (label, path) in enumerate(paths.items()):
        suffix = " (diverged)" if diverged(path) else ""
        ax.plot(path[:, 0], path[:, 1], "-o", color=color_of(i), markersize=2.5, linewidth=1.3,
                label=f"{label}{suffix}")
    if paths:
        first = next(iter(paths.values()))
        ax.plot(*first[0], marker="o", color="black", markersize=7, linestyle="none",
                label="start")
    ax.legend(loc=legend_loc, fontsize=legend_fontsize, framealpha=0.8, frameon=True)
    if title:
        ax.set_title(title)
    return ax


def trajectory_figure(surface: Surface, paths: Mapping[str, np.ndarray],
                      title: str | None = None, figsize: tuple[float, float] = (7.0, 4.5),
                      legend_loc: str = "upper right"):
    """A new figure of :func:`plot_trajectories`, sized for the book's output column (at most
    8 inches wide: its text is not shrunk); returns the figure (a frame of an explorer)."""
    fig, ax = plt.subplots(figsize=figsize)
    plot_trajectories(surface, paths, ax, title=title, legend_loc=legend_loc)
    return fig


def optimizer_path(name: str, surface: Surface, lr: float, steps: int = 100, start=None, *,
                   momentum: float = 0.9, beta1: float = 0.9, beta2: float = 0.999,
                   gradient_noise: float = 0.0) -> np.ndarray:
    """The path of the book's optimizer ``name`` (a key of ``OPTIMIZERS``) on ``surface``.

    Its hyperparameters mean what the explorer's sliders mean (:func:`hyperparameters_for`:
    ``momentum`` is SGD's ρ, ``beta2`` RMSProp's decay rate, ``beta1``/``beta2`` Adam's betas);
    the live explorer and the book's kernel-free frames both compute their paths here.
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose from {sorted(OPTIMIZERS)}")
    cls = OPTIMIZERS[name]
    hyper = hyperparameters_for(cls, lr=lr, momentum=momentum, beta1=beta1, beta2=beta2)
    return trajectory(cls, surface, start, steps, gradient_noise=gradient_noise, **hyper)


def trajectory_explorer(optimizer_names: Sequence[str] | None = None,
                        surface_names: Sequence[str] | None = None,
                        selected: Sequence[str] = ("SGD", "Adam"), steps: int = 100):
    """An ipywidgets explorer: pick a surface and optimizers, move the sliders, see the paths.

    Sliders: learning rate (log scale), SGD's momentum ρ, β1, β2, the quadratic's condition
    number, the start point, the number of steps and the gradient noise.
    """
    import ipywidgets as w

    optimizer_names = list(optimizer_names or OPTIMIZERS)
    surface_names = list(surface_names or SURFACES)
    style = {"description_width": "110px"}
    controls = {
        "surface": w.Dropdown(options=surface_names, description="surface", style=style),
        "optimizers": w.SelectMultiple(options=optimizer_names, rows=6, description="optimizers",
                                       value=tuple(n for n in selected if n in optimizer_names),
                                       style=style),
        "lr": w.FloatLogSlider(value=0.1, base=10, min=-4, max=0.5, step=0.1,
                               description="learning rate", style=style),
        "momentum": w.FloatSlider(value=0.9, min=0.0, max=0.99, step=0.01,
                                  description="SGD momentum ρ", style=style),
        "beta1": w.FloatSlider(value=0.9, min=0.0, max=0.99, step=0.01, description="β1",
                               style=style),
        "beta2": w.FloatSlider(value=0.999, min=0.5, max=0.9999, step=0.0005, readout_format=".4f",
                               description="β2 / decay", style=style),
        "condition_number": w.FloatLogSlider(value=20, base=10, min=0, max=3, step=0.1,
                                             description="condition κ", style=style),
        "start_x": w.FloatSlider(value=np.nan, min=-10, max=10, step=0.1,
                                 description="start x", style=style),
        "start_y": w.FloatSlider(value=np.nan, min=-4, max=4, step=0.05,
                                 description="start y", style=style),
        "steps": w.IntSlider(value=steps, min=10, max=500, step=10, description="steps",
                             style=style),
        "gradient_noise": w.FloatSlider(value=0.0, min=0.0, max=2.0, step=0.05,
                                        description="gradient noise", style=style),
    }
    def surface_from(name: str, condition_number: float) -> Surface:
        if name == "ill-conditioned quadratic":
            return ill_conditioned_quadratic(condition_number)
        return SURFACES[name]()

    def reset_start(change=None):
        surface = surface_from(controls["surface"].value, controls["condition_number"].value)
        x0, x1, y0, y1 = surface.extent
        for key, (low, high), value in (("start_x", (x0, x1), surface.start[0]),
                                        ("start_y", (y0, y1), surface.start[1])):
            slider = controls[key]
            slider.min, slider.max = min(low, slider.min), max(high, slider.max)
            slider.min, slider.max, slider.value = low, high, value

    def draw():
        values = {k: c.value for k, c in controls.items()}
        surface = surface_from(values["surface"], values["condition_number"])
        paths = {name: optimizer_path(name, surface, values["lr"], values["steps"],
                                      (values["start_x"], values["start_y"]),
                                      momentum=values["momentum"], beta1=values["beta1"],
                                      beta2=values["beta2"],
                                      gradient_noise=values["gradient_noise"])
                 for name in values["optimizers"]}
        return trajectory_figure(surface, paths)

    controls["surface"].observe(reset_start, names="value")
    reset_start()
    output = live_figure(controls.values(), draw)
    left = w.VBox([controls[k] for k in ("surface", "optimizers", "lr", "momentum", "beta1",
                                         "beta2")])
    right = w.VBox([controls[k] for k in ("condition_number", "start_x", "start_y", "steps",
                                          "gradient_noise")])
    return w.VBox([w.HBox([left, right]), output])
