"""The augmentation chapter's gallery: random draws of the transforms of :mod:`lecture_code.augment`."""
from __future__ import annotations

import textwrap
from collections.abc import Callable

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from .._checks import check_choice, check_real
from ..augment import (Compose, RandomBrightness, RandomColorCast, RandomContrast, RandomGamma,
                       RandomHorizontalFlip, RandomPerspective, RandomResizedCrop, RandomRotation,
                       RandomSaturation)
from .optimization import live_figure

__all__ = ["default_gallery", "load_image", "gallery_figure", "gallery_transform",
           "gallery_overview", "gallery_widget"]


def default_gallery(size: int = 96) -> dict[str, Callable]:
    """One transform per slide bullet, at a visible strength, for the book's gallery."""
    return {
        "horizontal flip": RandomHorizontalFlip(p=0.5),
        "random crop + scale": RandomResizedCrop((size, size), scale=(0.2, 1.0)),
        "color cast": RandomColorCast(0.2),
        "contrast": RandomContrast((0.3, 1.7)),
        "brightness": RandomBrightness((0.4, 1.6)),
        "geometric distortion": RandomPerspective(0.3),
        "rotation": RandomRotation((-30.0, 30.0)),
        "photometric (gamma, saturation)": Compose([RandomGamma((0.5, 2.0)),
                                                    RandomSaturation((0.0, 2.0))]),
    }


def load_image(name: str = "astronaut", size: int = 96) -> torch.Tensor:
    """A colour image of ``skimage.data`` as a (3, size, size) tensor in [0, 1]."""
    from skimage import data
    names = ("astronaut", "chelsea", "coffee", "rocket")
    if name not in names:
        raise ValueError(f"name={name!r} is not one of {', '.join(map(repr, names))}")
    img = torch.as_tensor(getattr(data, name)(), dtype=torch.float32).permute(2, 0, 1) / 255
    h, w = img.shape[-2:]
    side = min(h, w)
    img = img[:, (h - side) // 2:(h - side) // 2 + side, (w - side) // 2:(w - side) // 2 + side]
    return F.interpolate(img[None], size=(size, size), mode="area")[0]


def gallery_figure(image: torch.Tensor, transform: Callable, *, rows: int = 2, cols: int = 4,
                   seed: int = 0, title: str = ""):
    """A grid of random draws of ``transform`` applied to ``image`` (the first is the original)."""
    n = rows * cols
    draws = transform(image.expand(n - 1, *image.shape).contiguous(),
                      generator=torch.Generator().manual_seed(seed))
    fig, axes = plt.subplots(rows, cols, figsize=(1.7 * cols, 1.8 * rows))
    for i, ax in enumerate(axes.flat):
        img = image if i == 0 else draws[i - 1]
        ax.imshow(img.permute(1, 2, 0).clamp(0, 1).numpy().squeeze(), cmap="gray", vmin=0, vmax=1)
        ax.set_title("original" if i == 0 else f"draw {i}", fontsize=8)
        ax.axis("off")
    fig.suptitle(title)
    # fixed margins, not tight_layout: an explorer draws this figure once per frame
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=1 - 0.45 / fig.get_figheight(),
                        wspace=0.05, hspace=0.25)
    return fig


def gallery_transform(kind: str, strength: float, size: int = 96) -> Callable:
    """The gallery's transform ``kind`` (a key of :func:`default_gallery`) at ``strength`` in
    [0, 1]: 0 changes nothing (or almost), 1 is the strongest setting of the widget."""
    check_choice("kind", kind, tuple(default_gallery(size)))
    s = check_real("strength", strength, low=0.0, high=1.0)
    return {
        "horizontal flip": RandomHorizontalFlip(p=s),
        "random crop + scale": RandomResizedCrop((size, size), scale=(max(1 - s, 0.05), 1.0)),
        "color cast": RandomColorCast(s * 0.4),
        "contrast": RandomContrast((1 - s, 1 + s)),
        "brightness": RandomBrightness((1 - s, 1 + s)),
        "geometric distortion": RandomPerspective(s * 0.5),
        "rotation": RandomRotation((-90 * s, 90 * s)),
        "photometric (gamma, saturation)": Compose([RandomGamma((max(1 - s, 0.1), 1 + 2 * s)),
                                                    RandomSaturation((1 - s, 1 + s))]),
    }[kind]


def gallery_overview(image: torch.Tensor, draws: int = 5, seed: int = 0):
    """One row per transform of :func:`default_gallery`: the original, then ``draws`` draws."""
    gallery = default_gallery(image.shape[-1])
    g = torch.Generator().manual_seed(seed)
    fig, axes = plt.subplots(len(gallery), draws + 1,
                             figsize=(1.1 * (draws + 1) + 1.0, 1.12 * len(gallery) + 0.3))
    for row, (name, transform) in zip(axes, gallery.items()):
        out = transform(image.expand(draws, *image.shape).contiguous(), generator=g)
        for j, ax in enumerate(row):
            ax.imshow((image if j == 0 else out[j - 1]).permute(1, 2, 0).clamp(0, 1).numpy())
            ax.set_xticks([]), ax.set_yticks([])
            ax.grid(False)
            ax.spines[:].set_visible(False)
        row[0].set_ylabel(textwrap.fill(name, 13), fontsize=9, rotation=0, ha="right",
                          va="center")
    axes[0, 0].set_title("original", fontsize=9)
    for j in range(1, draws + 1):
        axes[0, j].set_title(f"draw {j}", fontsize=9)
    fig.suptitle("One random draw per column, one transform per row")
    width, height = fig.get_size_inches()     # fixed margins: faster than tight_layout here
    fig.subplots_adjust(left=1.05 / width, right=0.995, bottom=0.05 / height,
                        top=1 - 0.7 / height, wspace=0.06, hspace=0.06)
    return fig


def gallery_widget(size: int = 96):
    """An ipywidgets gallery: pick an image, a transform and its strength; see 7 random draws."""
    import ipywidgets as widgets

    image = widgets.Dropdown(options=["astronaut", "chelsea", "coffee", "rocket"], description="image")
    kind = widgets.Dropdown(options=list(default_gallery(size)), description="transform")
    strength = widgets.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.05, description="strength")
    seed = widgets.IntSlider(value=0, min=0, max=20, description="seed")

    def draw():
        transform = gallery_transform(kind.value, strength.value, size)
        return gallery_figure(load_image(image.value, size), transform, seed=seed.value,
                              title=f"{kind.value}, strength {strength.value:.2f}")

    out = live_figure([image, kind, strength, seed], draw)
    return widgets.VBox([widgets.HBox([image, kind]), widgets.HBox([strength, seed]), out])
