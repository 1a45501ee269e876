"""Figure helpers shared by the chapters: one style, labelled axes, readable in dark mode."""
from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt

#: The book's colour cycle (matplotlib's tab10): figures colour their curves in turn with
#: :func:`color_of`; a colour belongs to a position in a figure, not to a named method.
PALETTE = plt.get_cmap("tab10").colors


def use_book_style() -> None:
    """Apply the book's matplotlib style.

    Figures get an opaque white background (a transparent PNG is unreadable on the dark theme
    of the online book), a light grid and sizes that fit the page.
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


def color_of(index: int):
    """The palette's colour number ``index`` (wrapping around)."""
    return PALETTE[index % len(PALETTE)]
