import base64
import re

import matplotlib.pyplot as plt
import pytest

from lecture_code.widgets.static import FrameSlider, frame_slider


def draw(value):
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [0, value])
    return fig


def test_one_png_frame_per_setting_and_only_the_start_one_visible():
    plt.close("all")   # figures other tests left open
    slider = frame_slider("slope", [0.5, 1.0, 2.0], draw, label=lambda v: f"a = {v}", start=1)
    page = slider._repr_html_()
    frames = re.findall(r'style="display:(block|none)[^"]*" src="data:image/png;base64,([^"]+)"', page)
    assert [shown for shown, _ in frames] == ["none", "block", "none"]
    pngs = [base64.b64decode(data) for _, data in frames]
    assert all(png.startswith(b"\x89PNG") for png in pngs) and len(set(pngs)) == 3
    assert 'data-labels="a = 0.5|a = 1.0|a = 2.0"' in page and 'max="2"' in page
    assert plt.get_fignums() == []  # the frames' figures are closed, not shown twice


def test_bad_arguments():
    with pytest.raises(ValueError, match="one label per frame"):
        FrameSlider("x", ["a"], [])
    with pytest.raises(ValueError, match="start"):
        frame_slider("x", [1, 2], draw, start=2)
