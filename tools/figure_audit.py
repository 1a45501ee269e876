"""Execute chapter notebooks and report each figure's smallest text at its displayed size.

    python tools/figure_audit.py book/optimization/sgd.ipynb [more notebooks]

A figure is shown at the width its output metadata asks for (the book draws PNGs at 2x and
asks for half), shrunk to the output column: 798 px wide in the article at a 1280 px window
(measured in Chromium). The smallest text is read from the PNG, where
:func:`lecture_code.plotting.figure_png` records it; frames of kernel-free explorers count
too. Figures under 10 px are flagged; the browser test holds the built book to the same rule.
"""
import base64
import html
import os
import re
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from lecture_code.plotting import SMALLEST_TEXT_KEY, png_size, png_text  # noqa: E402

COLUMN = 798     # px: the output column at 1280 px
SMALLEST = 10.0  # px


def text_px(png: bytes, shown_width: float | None) -> float | None:
    """The smallest drawn text in CSS pixels when ``png`` is shown ``shown_width`` px wide."""
    record = png_text(png).get(SMALLEST_TEXT_KEY)
    if record is None:
        return None
    points, _, dpi, _ = record.split()
    natural = png_size(png)[0]
    shown = min(shown_width or natural, COLUMN)
    return float(points) * float(dpi) / 72 * shown / natural


def figures(nb):
    """(cell index, displayed size in px or None, alt text or None) of every PNG output."""
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        alt = cell.metadata.get("mystnb", {}).get("image", {}).get("alt")
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "image/png" in data:
                png = base64.b64decode(data["image/png"])
                width = output.get("metadata", {}).get("image/png", {}).get("width")
                yield index, text_px(png, width), alt
            for match in re.finditer(r'<img alt="([^"]*)"[^>]*?width:(\d+)px[^>]*'
                                     r'src="data:image/png;base64,([^"]+)"',
                                     data.get("text/html", "")):
                png = base64.b64decode(match.group(3))
                yield index, text_px(png, float(match.group(2))), html.unescape(match.group(1))


def main(paths):
    os.environ.pop("MPLBACKEND", None)   # figures inline, as in the book's build
    bad = 0
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        NotebookClient(nb, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(Path(path).parent)}}).execute()
        print(f"== {path}")
        for index, px, alt in figures(nb):
            flag = "" if px is not None and px >= SMALLEST else "  <-- small"
            bad += bool(flag) or not alt
            size = "no record" if px is None else f"{px:.1f} px"
            print(f"cell {index:3d}: smallest text {size}{flag}; alt: {alt or '<-- none'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
