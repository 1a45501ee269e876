"""Figure helpers shared by the chapters: one style, labelled axes, readable in dark mode."""
from __future__ import annotations

import io
import struct
import zlib

import matplotlib as mpl
import matplotlib.pyplot as plt
from matplotlib.text import Text

#: The book's colour cycle (matplotlib's tab10): figures colour their curves in turn with
#: :func:`color_of`; a colour belongs to a position in a figure, not to a named method.
PALETTE = plt.get_cmap("tab10").colors


def use_book_style() -> None:
    """Apply the book's matplotlib style.

    Figures get an opaque white background (a transparent PNG is unreadable on the dark theme
    of the online book), a light grid and sizes that fit the page. In IPython, figures are
    shown drawn at twice their dpi, at their size (sharp text on high-dpi screens).
    """
    mpl.rcParams.update({
        "figure.figsize": (7.0, 4.0),
        "figure.dpi": 100,
        "figure.facecolor": "white",
        "axes.facecolor": "white",
        "savefig.facecolor": "white",
        "savefig.transparent": False,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "legend.frameon": False,
        "font.size": 10,
    })
    _show_figures_sharp()


def color_of(index: int):
    """The palette's colour number ``index`` (wrapping around)."""
    return PALETTE[index % len(PALETTE)]


# --- figures drawn for where they are shown ------------------------------------------------
#: PNG text key under which :func:`figure_png` records the smallest text it drew, as
#: ``"<points> pt <dpi> dpi"``: the browser test turns it into pixels at the displayed width.
SMALLEST_TEXT_KEY = "book:smallest-text"


class _DrawnText:
    """Records the size of every non-empty, visible text artist drawn while it is active."""

    def __enter__(self):
        self.sizes: list[float] = []
        self._draw = Text.draw
        recorder = self

        def draw(text, renderer):
            if text.get_visible() and text.get_text().strip():
                recorder.sizes.append(text.get_fontsize())
            return recorder._draw(text, renderer)

        Text.draw = draw
        return self

    def __exit__(self, *exc):
        Text.draw = self._draw


def figure_png(fig, scale: float = 2.0, close: bool = True, tight: bool = True) -> bytes:
    """The figure as PNG bytes at ``scale`` times its dpi (2: sharp on high-dpi screens).

    The smallest text actually drawn (tick labels outside the view are not) is written into the
    PNG under :data:`SMALLEST_TEXT_KEY`. ``tight`` trims the canvas to what is drawn (one more
    draw); a figure with a fixed layout that leaves room for every label can skip it.
    ``close`` closes the figure, so a notebook does not also show it inline.
    """
    if not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale!r}")
    dpi = fig.dpi * scale
    buffer = io.BytesIO()
    with _DrawnText() as drawn:          # recorded while savefig draws: no extra draw
        fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight" if tight else None)
    if close:
        plt.close(fig)
    record = f"{min(drawn.sizes, default=0.0):g} pt {dpi:g} dpi"
    return _with_text_chunk(buffer.getvalue(), SMALLEST_TEXT_KEY, record)


def _with_text_chunk(png: bytes, key: str, value: str) -> bytes:
    """``png`` with a tEXt chunk ``key: value`` inserted after its IHDR chunk."""
    body = key.encode("latin-1") + b"\0" + value.encode("latin-1")
    crc = zlib.crc32(b"tEXt" + body)
    chunk = struct.pack(">I", len(body)) + b"tEXt" + body + struct.pack(">I", crc)
    end_of_header = 8 + 12 + struct.unpack(">I", png[8:12])[0]
    return png[:end_of_header] + chunk + png[end_of_header:]


def show_png(png: bytes, scale: float = 2.0) -> None:
    """Display PNG bytes drawn at ``scale`` times the figure's dpi at 1x size, in IPython
    (nothing elsewhere)."""
    try:
        from IPython import get_ipython
        from IPython.display import Image, display
    except ImportError:
        return
    if get_ipython() is not None:
        width, height = png_size(png)
        display(Image(data=png, format="png", width=round(width / scale),
                      height=round(height / scale)))


def png_size(png: bytes) -> tuple[int, int]:
    """``(width, height)`` in pixels of PNG bytes, read from the IHDR chunk."""
    if png[:8] != b"\x89PNG\r\n\x1a\n" or png[12:16] != b"IHDR":
        raise ValueError("png: not PNG data (no PNG signature and IHDR chunk)")
    return struct.unpack(">II", png[16:24])


def png_text(png: bytes) -> dict[str, str]:
    """The PNG's text chunks (tEXt, zTXt, iTXt) as a dict keyword -> text."""
    png_size(png)   # validates the signature
    texts, at = {}, 8
    while at + 8 <= len(png):
        length, kind = struct.unpack(">I4s", png[at:at + 8])
        body = png[at + 8:at + 8 + length]
        if kind == b"tEXt":
            key, _, value = body.partition(b"\0")
            texts[key.decode("latin-1")] = value.decode("latin-1")
        elif kind == b"zTXt":
            key, _, rest = body.partition(b"\0")
            texts[key.decode("latin-1")] = zlib.decompress(rest[1:]).decode("latin-1")
        elif kind == b"iTXt":
            key, _, rest = body.partition(b"\0")
            compressed, rest = rest[0], rest[2:]
            _, _, rest = rest.partition(b"\0")   # language tag
            _, _, value = rest.partition(b"\0")  # translated keyword
            texts[key.decode("latin-1")] = (zlib.decompress(value) if compressed else
                                            value).decode("utf-8")
        elif kind == b"IEND":
            break
        at += 12 + length
    return texts


def _sharp_png(fig):
    """IPython's PNG formatter for figures: drawn at 2x, shown at 1x (width/height metadata)."""
    if not fig.axes and not fig.texts:
        return None                         # an empty figure shows nothing, as inline does
    png = figure_png(fig, scale=2.0, close=False)
    width, height = png_size(png)
    return png, {"width": width // 2, "height": height // 2}


def _show_figures_sharp() -> None:
    """In IPython, show every figure through :func:`_sharp_png` (no-op outside IPython)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    try:  # the inline backend installs its own formatter when it loads: let it load first
        import matplotlib_inline.backend_inline  # noqa: F401
    except ImportError:
        pass
    from matplotlib.figure import Figure
    shell.display_formatter.formatters["image/png"].for_type(Figure, _sharp_png)
