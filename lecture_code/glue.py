"""Numbers from the computation into the prose: myst-nb's ``glue``, where myst-nb is installed.

The book build (Jupyter Book, which brings myst-nb) replaces ``{glue:text}`name:.2f``` in a
chapter's text with the value a cell glued. A reader running the chapter on Colab or Binder has
no myst-nb, and needs none: there the values are printed by the cells, and ``glue`` does
nothing, so that the chapter runs the same everywhere.
"""
from __future__ import annotations

try:
    from myst_nb import glue as _myst_glue
except ImportError:                       # Colab, Binder: no book build, nothing to glue into
    _myst_glue = None


def glue(name: str, value, display: bool = False) -> None:
    """Store ``value`` under ``name`` for the page's ``{glue:...}`` roles (myst-nb's glue);
    without myst-nb, do nothing. Nothing is displayed in the cell unless ``display``."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"name must be a Python identifier, got {name!r}")
    if _myst_glue is not None:
        _myst_glue(name, value, display=display)
