"""Kernel-free explorers: an experiment precomputed over a grid of settings, one frame each.

The online book has no Python kernel, so ipywidgets cannot recompute anything there. For the
main experiments the notebook also calls :func:`frame_explorer`: it renders one figure per
combination of settings when the book is built and embeds them in a small self-contained HTML
element -- real ``<input type="range">`` and ``<select>`` controls that show the frame of the
chosen settings, with no server, no library and no network. The frames come from the same
``lecture_code`` functions that the live widgets call, so the two cannot disagree.

Frames are stored row-major: with controls of sizes ``n_1, ..., n_k`` the frame of choices
``(i_1, ..., i_k)`` is number ``((i_1 * n_2) + i_2) * n_3 + ...``, as ``itertools.product``
enumerates them. Each frame's alt text is the explorer's description followed by its settings
("title: value, ...").
"""
from __future__ import annotations

import base64
import html
import itertools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .._checks import check_int
from ..plotting import figure_png, png_size

_IDENTIFIER_HINT = "a Python identifier (it names draw's keyword argument)"


@dataclass(frozen=True)
class Control:
    """One setting of an explorer: ``draw`` receives ``param=value`` for the chosen value.

    ``kind`` is ``"slider"`` (ordered values: a range input) or ``"select"`` (a drop-down);
    ``title`` is the text beside the control, ``labels`` the text of each value.
    """

    param: str
    values: tuple
    title: str
    kind: str = "slider"
    labels: tuple = field(default=())
    start: int = 0

    def __post_init__(self):
        if not isinstance(self.param, str) or not self.param.isidentifier():
            raise ValueError(f"param must be {_IDENTIFIER_HINT}, got {self.param!r}")
        if self.kind not in ("slider", "select"):
            raise ValueError(f"kind must be 'slider' or 'select', got {self.kind!r}")
        if len(self.values) == 0:
            raise ValueError(f"values of control {self.param!r} must not be empty")
        if self.labels and len(self.labels) != len(self.values):
            raise ValueError(f"labels of control {self.param!r}: need one per value, got "
                             f"{len(self.labels)} labels for {len(self.values)} values")
        check_int("start", self.start, low=0, high=len(self.values) - 1)

    @property
    def texts(self) -> list[str]:
        return [str(x) for x in (self.labels or self.values)]


def slider(param: str, values: Sequence, title: str | None = None,
           label: Callable = str, start: int = 0) -> Control:
    """A range input over ordered ``values``; ``label(value)`` is the readout beside it."""
    values = tuple(values)
    return Control(param, values, title or param, "slider",
                   tuple(label(v) for v in values), start)


def select(param: str, values: Sequence, title: str | None = None,
           label: Callable = str, start: int = 0) -> Control:
    """A drop-down over ``values`` (names of methods, say); ``label(value)`` is its option text."""
    values = tuple(values)
    return Control(param, values, title or param, "select",
                   tuple(label(v) for v in values), start)


class FrameExplorer:
    """Precomputed frames behind HTML controls; displays itself as HTML in a notebook.

    ``frames`` holds one PNG per combination of the controls' values, row-major (module
    docstring); ``scale`` is the PNGs' pixel density (2 for sharp text on high-dpi screens):
    each frame is shown at its width divided by ``scale``.
    """

    def __init__(self, description: str, controls: Sequence[Control],
                 frames: Sequence[bytes], scale: float = 2.0):
        if not description or not isinstance(description, str):
            raise ValueError(f"description must be a non-empty string (the frames' alt text), "
                             f"got {description!r}")
        controls = list(controls)
        if not controls:
            raise ValueError("an explorer needs at least one control")
        expected = 1
        for control in controls:
            expected *= len(control.values)
        if len(frames) != expected:
            raise ValueError(f"need one frame per combination of settings ({expected}), "
                             f"got {len(frames)} frames")
        if not scale > 0:
            raise ValueError(f"scale must be > 0, got {scale!r}")
        self.description, self.controls, self.frames = description, controls, list(frames)
        self.scale = float(scale)

    @property
    def start(self) -> int:
        """The frame shown first: the one of every control's ``start`` value."""
        index = 0
        for control in self.controls:
            index = index * len(control.values) + control.start
        return index

    def alt(self, index: int) -> str:
        """The alt text of frame ``index``: the description, then each control's setting."""
        parts = []
        for control in reversed(self.controls):
            index, choice = divmod(index, len(control.values))
            parts.append(f"{control.title}: {control.texts[choice]}")
        return f"{self.description} ({', '.join(reversed(parts))})"

    @staticmethod
    def _control_html(axis: int, control: Control, handler: str) -> str:
        title = html.escape(control.title)
        if control.kind == "select":
            options = "".join(
                f'<option value="{i}"{" selected" if i == control.start else ""}>'
                f'{html.escape(text)}</option>' for i, text in enumerate(control.texts))
            return (f'<label>{title} <select oninput="{handler}" data-axis="{axis}">'
                    f'{options}</select></label>')
        labels = html.escape(json.dumps(control.texts), quote=True)
        return (f'<label>{title} <input type="range" oninput="{handler}" data-axis="{axis}" '
                f'min="0" max="{len(control.values) - 1}" step="1" value="{control.start}" '
                f'data-labels="{labels}"/> <output class="frame-label">'
                f'{html.escape(control.texts[control.start])}</output></label>')

    def _repr_html_(self) -> str:
        sizes = json.dumps([len(c.values) for c in self.controls])
        images = []
        for i, frame in enumerate(self.frames):
            width, _ = png_size(frame)
            images.append(
                f'<img alt="{html.escape(self.alt(i), quote=True)}"'
                f'{"" if i == self.start else " hidden"} '
                f'style="width:{width / self.scale:.0f}px;max-width:100%;height:auto" '
                f'src="data:image/png;base64,{base64.b64encode(frame).decode()}"/>')
        # Every control recomputes the row-major index from all of them (module docstring).
        on_input = ("const box=this.closest('.frame-explorer');"
                    "const sizes=JSON.parse(box.dataset.sizes);let k=0;"
                    "box.querySelectorAll('[data-axis]').forEach(c=>{"
                    "k=k*sizes[+c.dataset.axis]+(+c.value);"
                    "if(c.dataset.labels){c.parentElement.querySelector('.frame-label')"
                    ".textContent=JSON.parse(c.dataset.labels)[+c.value];}});"
                    "box.querySelectorAll('.frame-explorer-frames>img')"
                    ".forEach((im,i)=>{im.hidden=(i!==k);});")
        handler = html.escape(on_input, quote=True)
        controls = "".join(self._control_html(axis, c, handler)
                           for axis, c in enumerate(self.controls))
        return (f'<div class="frame-explorer" data-sizes="{sizes}">'
                f'<div class="frame-controls">{controls}</div>'
                f'<div class="frame-explorer-frames">{"".join(images)}</div></div>')


def frame_explorer(draw: Callable, *controls: Control, description: str,
                   scale: float = 2.0) -> FrameExplorer:
    """Render ``draw(**settings)`` (a matplotlib figure) for every combination of the controls.

    Example: ``frame_explorer(draw, slider("lr", [0.01, 0.1]), select("method", ["SGD",
    "Adam"]), description="Loss curves")`` draws four figures, ``draw(lr=..., method=...)``.
    """
    frames = []
    for values in itertools.product(*(c.values for c in controls)):
        settings = {c.param: v for c, v in zip(controls, values)}
        frames.append(figure_png(draw(**settings), scale=scale))
    return FrameExplorer(description, controls, frames, scale)


def frame_slider(title: str, settings: Sequence, draw: Callable, label: Callable = str,
                 start: int = 0, description: str | None = None,
                 scale: float = 2.0) -> FrameExplorer:
    """One slider over ``settings``: ``draw(setting)`` for each, ``label(setting)`` beside it."""
    control = slider("setting", settings, title, label, start)
    return frame_explorer(lambda setting: draw(setting), control,
                          description=description or f"Figure for each {title}", scale=scale)
