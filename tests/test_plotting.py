import matplotlib.pyplot as plt
import pytest

from lecture_code.plotting import (SMALLEST_TEXT_KEY, _sharp_png, figure_png, png_size,
                                   png_text)


def test_figure_png_records_the_smallest_text_drawn_and_its_dpi():
    fig, ax = plt.subplots(figsize=(3, 2), dpi=100)
    ax.plot([0, 1], [0, 1])
    ax.set_title("title", fontsize=14)
    ax.tick_params(labelsize=7)
    ax.text(0.5, 0.5, "", fontsize=3)          # empty: draws nothing
    ax.text(0.5, 0.5, "hidden", fontsize=4, visible=False)
    png = figure_png(fig, scale=2.0)
    assert png_text(png)[SMALLEST_TEXT_KEY] == "7 pt 200 dpi"
    assert plt.get_fignums() == []             # closed by default


def test_tick_labels_outside_the_view_do_not_count():
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 10], [0, 1])
    ax.tick_params(labelsize=9)
    ax.set_xticks([0, 5, 10, 20], labels=["0", "5", "10", "far"])
    ax.set_xlim(0, 10)
    ax.get_xticklabels()[3].set_fontsize(2)   # tick 20 lies outside the view: never drawn
    assert png_text(figure_png(fig))[SMALLEST_TEXT_KEY].startswith("9 pt")


def test_sharp_png_doubles_the_pixels_and_halves_the_displayed_size():
    fig, ax = plt.subplots(figsize=(3, 2), dpi=100)
    ax.plot([0, 1])
    png, metadata = _sharp_png(fig)
    width, height = png_size(png)
    assert metadata == {"width": width // 2, "height": height // 2}
    assert 500 < width <= 600                  # 3 in at 200 dpi, trimmed to the drawn box
    assert plt.fignum_exists(fig.number)       # IPython's display leaves figures open
    plt.close(fig)
    assert _sharp_png(plt.figure()) is None    # an empty figure shows nothing
    plt.close("all")


def test_png_readers_refuse_other_data():
    with pytest.raises(ValueError, match="not PNG"):
        png_size(b"GIF89a" + b"\0" * 30)
    with pytest.raises(ValueError, match="scale"):
        figure_png(plt.figure(), scale=0)
    plt.close("all")
