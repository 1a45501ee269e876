"""Kernel-free sliders: an experiment precomputed over a grid of settings, one frame each.

The online book has no Python kernel, so ipywidgets cannot recompute anything there. For the
main experiments the notebook also calls :func:`frame_slider`: it renders one figure per setting
when the book is built and embeds them in a small self-contained HTML element — an ``<input
type="range">`` that shows the frame of the chosen setting, with no server, no library and no
network. The frames come from the same ``lecture_code`` functions that the live widgets call,
so the two cannot disagree.
"""
from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt

from .._checks import check_int


def figure_png(fig, dpi: int = 80) -> bytes:
    """The figure as PNG bytes (closed afterwards, so it is not also shown inline)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


class FrameSlider:
    """Precomputed frames behind a range slider; displays itself as HTML in a notebook."""

    def __init__(self, name: str, labels: Sequence[str], frames: Sequence[bytes], start: int = 0):
        if len(labels) != len(frames) or not frames:
            raise ValueError(f"need one label per frame, got {len(labels)} labels and "
                             f"{len(frames)} frames")
        self.name, self.labels, self.frames = name, list(labels), list(frames)
        self.start = check_int("start", start, low=0, high=len(frames) - 1)

    def _repr_html_(self) -> str:
        images = "".join(
            f'<img alt="{html.escape(self.name)}: {html.escape(label)}" '
            f'style="display:{"block" if i == self.start else "none"};max-width:100%" '
            f'src="data:image/png;base64,{base64.b64encode(frame).decode()}"/>'
            for i, (label, frame) in enumerate(zip(self.labels, self.frames)))
        labels = html.escape("|".join(self.labels), quote=True)
        on_input = ("const box=this.closest('.frame-slider');"
                    "box.querySelectorAll('img').forEach((im,i)=>{im.style.display="
                    "(i==this.value)?'block':'none'});"
                    "box.querySelector('.frame-label').textContent="
                    "box.dataset.labels.split('|')[this.value];")
        return (f'<div class="frame-slider" data-labels="{labels}">'
                f'<label style="display:block;font-family:sans-serif">{html.escape(self.name)}: '
                f'<input type="range" min="0" max="{len(self.frames) - 1}" step="1" '
                f'value="{self.start}" oninput="{html.escape(on_input, quote=True)}" '
                f'style="width:50%;vertical-align:middle"/> '
                f'<span class="frame-label">{html.escape(self.labels[self.start])}</span></label>'
                f'{images}</div>')


def frame_slider(name: str, settings: Sequence, draw: Callable, label: Callable = str,
                 start: int = 0, dpi: int = 80) -> FrameSlider:
    """Render ``draw(setting)`` (which returns a matplotlib figure) for every setting.

    ``label(setting)`` is the text shown beside the slider; ``start`` the index shown first.
    """
    frames = [figure_png(draw(setting), dpi=dpi) for setting in settings]
    return FrameSlider(name, [label(s) for s in settings], frames, start)
