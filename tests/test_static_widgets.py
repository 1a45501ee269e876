import base64
import html
import json
import re

import matplotlib.pyplot as plt
import pytest

from lecture_code.plotting import png_size
from lecture_code.widgets.static import (Control, FrameExplorer, frame_explorer, frame_slider,
                                         select, slider)


def draw(slope, colour="C0"):
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [0, slope], color=colour)
    return fig


def frames_of(page):
    return re.findall(r'<img alt="([^"]*)"( hidden)? style="width:(\d+)px[^"]*" '
                      r'src="data:image/png;base64,([^"]+)"', page)


def test_one_frame_per_combination_row_major_and_only_the_start_one_visible():
    plt.close("all")   # figures other tests left open
    explorer = frame_explorer(draw, slider("slope", [0.5, 1.0, 2.0], "slope a",
                                           label=lambda v: f"{v:.1f}", start=1),
                              select("colour", ["C0", "C3"], "colour", start=1),
                              description="A line")
    frames = frames_of(explorer._repr_html_())
    assert len(frames) == 6
    assert [hidden for _, hidden, _, _ in frames] == [
        " hidden", " hidden", " hidden", "", " hidden", " hidden"]   # (1, 1) -> 1 * 2 + 1
    assert frames[3][0] == "A line (slope a: 1.0, colour: C3)"
    pngs = [base64.b64decode(data) for *_, data in frames]
    assert all(png.startswith(b"\x89PNG") for png in pngs) and len(set(pngs)) == 6
    # shown at half the drawn width: sharp on high-dpi screens, the same size elsewhere
    assert all(int(width) == round(png_size(png)[0] / 2) for (_, _, width, _), png
               in zip(frames, pngs))
    assert plt.get_fignums() == []  # the frames' figures are closed, not shown twice


def test_the_controls_carry_what_the_page_script_needs():
    page = frame_explorer(draw, slider("slope", [1, 2, 3], label=lambda v: f"a={v}"),
                          select("colour", ["C0", "C1"]), description="d")._repr_html_()
    assert 'data-sizes="[3, 2]"' in page
    labels = re.search(r'data-labels="([^"]+)"', page).group(1)
    assert json.loads(html.unescape(labels)) == ["a=1", "a=2", "a=3"]
    assert '<select oninput=' in page and page.count('data-axis=') == 2
    assert 'max="2"' in page and '<option value="1">C1</option>' in page


def test_frame_slider_is_the_one_control_form():
    explorer = frame_slider("slope", [0.5, 1.0], draw, label=lambda v: f"a = {v}", start=1,
                            description="A line")
    assert explorer.start == 1 and explorer.alt(0) == "A line (slope: a = 0.5)"


def test_bad_arguments():
    with pytest.raises(ValueError, match="one frame per combination"):
        FrameExplorer("x", [slider("a", [1, 2])], [b""])
    with pytest.raises(ValueError, match="start"):
        slider("a", [1, 2], start=2)
    with pytest.raises(ValueError, match="param must be"):
        slider("not valid", [1])
    with pytest.raises(ValueError, match="kind must be"):
        Control("a", (1,), "a", kind="knob")
    with pytest.raises(ValueError, match="must not be empty"):
        select("a", [])
    with pytest.raises(ValueError, match="description"):
        FrameExplorer("", [slider("a", [1])], [b""])
