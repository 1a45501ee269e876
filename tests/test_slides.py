"""The slide decks (book/_ext/slides.py): what goes on a deck, how its markdown is resolved, that
nbconvert's export loads nothing from the network, and that every chapter has a deck worth
presenting. (The browser test opens a built deck offline; test_self_study builds one in both
editions and checks the one without solutions for leaks.)"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nbformat
import pytest

from book_toc import chapter_notebooks

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))

import slides  # noqa: E402

MIN_SLIDES = 6


def cell(kind, source, slide=None, tags=(), outputs=None):
    metadata = {"tags": list(tags)} if tags else {}
    if slide:
        metadata["slideshow"] = {"slide_type": slide}
    if kind == "markdown":
        return nbformat.v4.new_markdown_cell(source, metadata=metadata)
    return nbformat.v4.new_code_cell(source, metadata=metadata, outputs=outputs or [])


def notebook(*cells):
    return nbformat.v4.new_notebook(cells=list(cells))


def figure_output():
    return nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=",
                                                        "text/plain": "<Figure>"})


def test_glued_values_are_formatted_as_on_the_page():
    assert slides.format_glued("0.123456", ".2f") == "0.12"
    assert slides.format_glued("459", "d") == "459"
    assert slides.format_glued("12.0", ".0f") == "12"
    assert slides.format_glued("'Adam'", "") == "Adam"          # the quotes of a str's repr go
    assert slides.format_glued("0.25", ".0%") == "25%"


def test_only_deck_cells_go_on_the_deck_with_their_glue_resolved():
    nb = notebook(
        cell("markdown", "# Title\n\nGap {glue:text}`gap:.1f` points.", "slide"),
        cell("markdown", "A page paragraph, not on the deck."),
        cell("code", "plot()", "-", outputs=[figure_output(),
             nbformat.v4.new_output("stream", name="stderr", text="a warning"),
             nbformat.v4.new_output("stream", name="stdout", text="table")]),
        cell("code", "def step(): ...", "slide", tags=["slides-code"]),
        cell("markdown", "Say {glue:text}`steps:d`.", "notes", tags=["remove-cell", "slides-only"]),
        cell("markdown", "See [Adam](../optimization/adaptive.ipynb#bias).", "slide"),
    )
    deck = slides.deck_notebook(nb, {"gap": "63.04", "steps": "459"},
                                "book/regularization/penalties")
    sources = [c["source"] for c in deck["cells"]]
    assert len(sources) == 5 and "A page paragraph" not in "".join(sources)
    assert sources[0] == "# Title\n\nGap 63.0 points." and sources[3] == "Say 459."
    plot, code = deck["cells"][1], deck["cells"][2]
    assert slides.HIDE_INPUT_TAG in plot["metadata"]["tags"]          # figure only
    assert slides.HIDE_INPUT_TAG not in code["metadata"].get("tags", [])   # the code is the point
    assert [o.get("name", o["output_type"]) for o in plot["outputs"]] == ["display_data", "stdout"]
    assert "](../book/optimization/adaptive.html#bias)" in sources[4]   # from html/slides/


@pytest.mark.parametrize("markup, what", [
    ("See {cite}`kingma2015adam`.", "role"),
    ("Back to {ref}`the-loop`.", "role"),
    (":::{admonition} Hint\nText\n:::", "directive"),
    ("```{note}\nText\n```", "directive"),
    ("(the-loop)=\n## The loop", "label"),
])
def test_myst_markup_that_would_show_raw_on_a_slide_is_refused(markup, what):
    nb = notebook(cell("markdown", "# Title", "slide"), cell("markdown", markup, "-"))
    with pytest.raises(ValueError, match=rf"book/x, cell 1: a MyST {what}"):
        slides.deck_notebook(nb, {}, "book/x")


def test_an_unknown_glue_name_and_a_deck_that_starts_mid_slide_are_refused():
    with pytest.raises(ValueError, match=r"cell 0: \{glue:text\}`nope:.1f` names no glued value"):
        slides.deck_notebook(notebook(cell("markdown", "{glue:text}`nope:.1f`", "slide")), {}, "book/x")
    with pytest.raises(ValueError, match=r"first cell \(cell 1\) must start a slide.*'notes'"):
        slides.deck_notebook(notebook(cell("markdown", "page"), cell("markdown", "n", "notes")),
                             {}, "book/x")


def test_the_edition_without_solutions_keeps_solution_cells_off_the_deck():
    nb = notebook(cell("markdown", "# T", "slide"),
                  cell("code", "print(42)", "-", tags=["solution", "hide-cell"]))
    assert len(slides.deck_notebook(nb, {}, "book/x")["cells"]) == 2
    assert len(slides.deck_notebook(nb, {}, "book/x", solutions=False)["cells"]) == 1


def test_the_exported_deck_loads_everything_from_the_site(tmp_path):
    executed, html = tmp_path / "jupyter_execute", tmp_path / "html"
    (executed / "book" / "part").mkdir(parents=True)
    nb = notebook(cell("markdown", "# A deck\n\n$\\alpha = {glue:text}`lr:.2f`$", "slide"),
                  cell("markdown", "Tell them {glue:text}`lr:.1e`.", "notes", ["remove-cell"]),
                  cell("code", "plot()", "slide", outputs=[figure_output()]))
    nbformat.write(nb, executed / "book" / "part" / "chapter.ipynb")
    (executed / "book" / "part" / "chapter.glue.json").write_text(
        json.dumps({"lr": {"data": {"text/plain": "0.001"}}}))
    written = slides.build_decks(executed, html, ["book/part/chapter", "book/part/missing"])
    assert written == [html / "slides" / "chapter.slides.html"]
    page = written[0].read_text()
    sources = re.findall(r'<(?:script|link|img)[^>]*(?:src|href)="([^"]+)"', page)
    assert sources and not [s for s in sources if re.match(r"(https?:)?//", s)], sources
    for asset in ("../_static/reveal.js/dist/reveal.js", "../_static/mathjax/tex-chtml.js",
                  "../_static/reveal.js/plugin/notes/notes.js", "../_static/widgets/require.js"):
        assert asset in page
        if asset.startswith("../_static/"):
            assert (ROOT / "vendor" / asset.removeprefix("../_static/")).is_file(), asset
    assert '<aside class="notes">' in page and "Tell them 1.0e-03." in page
    assert "\\alpha = 0.00" in page and "plot()" not in page and "data:image/png" in page
    assert 'href="../book/part/chapter.html"' in page               # back to the chapter's page


class AnyGluedName(dict):
    """Every name glued, as "0": the names themselves are checked by test_notebooks and by the
    deck's build (some chapters glue names made in a loop, which no static reading finds)."""

    def __contains__(self, name):
        return True

    def __getitem__(self, name):
        return "0"


@pytest.mark.parametrize("path", chapter_notebooks(), ids=lambda p: p.stem)
def test_every_chapter_has_a_deck_worth_presenting(path):
    """Slides, speaker notes, no raw markup, glued numbers that exist, sized for a lecture."""
    nb = nbformat.read(path, as_version=4)
    assert slides.has_deck(nb), f"{path.name} has no deck cells (slideshow metadata)"
    docname = path.relative_to(ROOT).with_suffix("").as_posix()
    deck = slides.deck_notebook(nb, AnyGluedName(), docname)  # raises on raw MyST
    kinds = [slides.slide_type(c) for c in deck["cells"]]
    assert MIN_SLIDES <= kinds.count("slide") <= 20, kinds.count("slide")
    assert "subslide" not in kinds, "one row of slides: the lecturer moves with one key"
    assert kinds.count("notes") >= kinds.count("slide") - 1, "a speaker note for (nearly) every slide"
    assert deck["cells"][0]["source"].startswith("# "), "the deck opens with the chapter's title"
    for c in nb.cells:  # a deck-only cell is hidden from the page
        tags = c.metadata.get("tags", [])
        if "slides-only" in tags:
            assert "remove-cell" in tags and slides.slide_type(c) in slides.ON_DECK


@pytest.mark.parametrize("tex, text", [
    (r"\beta_1^t", "β₁ᵗ"),
    (r"10^{-3}", "10⁻³"),
    (r"\alpha/(\sqrt{\hat v_t}+\epsilon)", "α/(√(v̂ₜ)+ε)"),
    (r"\frac{\alpha}{1-\rho}", "α/(1−ρ)"),
    (r"\mathbb E_S[g_S]", "𝔼_S[g_S]"),            # no subscript S in Unicode: the TeX form stays
    (r"\|g_t\|^2 \approx \sigma^2/B", "‖gₜ‖² ≈ σ²/B"),
    (r"\text{keep} = 1-p", "keep = 1−p"),
])
def test_speaker_notes_write_their_math_in_unicode(tex, text):
    assert slides.tex_to_text(tex) == text


def test_a_note_with_math_that_has_no_text_form_is_refused_and_slides_keep_their_math():
    nb = notebook(cell("markdown", "# T\n\n$\\beta_1$ on the slide", "slide"),
                  cell("markdown", "Say $\\beta_1 = 0.9$ and $x_{t+1}$.", "notes"),
                  cell("markdown", "Then $\\begin{pmatrix}1\\end{pmatrix}$.", "notes"))
    with pytest.raises(ValueError, match=r"cell 2: speaker notes show math as text.*'\\\\begin'"):
        slides.deck_notebook(nb, {}, "book/x")
    deck = slides.deck_notebook(notebook(*nb.cells[:2]), {}, "book/x")
    assert deck["cells"][0]["source"].endswith("$\\beta_1$ on the slide")   # MathJax typesets it
    assert deck["cells"][1]["source"] == "Say β₁ = 0.9 and xₜ₊₁."


def test_a_chapter_found_in_the_cache_keeps_its_outputs_on_the_deck(tmp_path):
    """A rebuild that finds a chapter in jupyter-cache writes jupyter_execute/<chapter>.ipynb
    without outputs: the deck takes them from the cache, merged into the source notebook."""
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    docname = "book/optimization/sgd"
    executed_nb = nbformat.read(ROOT / f"{docname}.ipynb", as_version=4)
    figure_cells = [c for c in executed_nb.cells if c.cell_type == "code"
                    and slides.slide_type(c) in slides.ON_DECK]
    for c in executed_nb.cells:
        if c.cell_type == "code":
            c.outputs = [figure_output()] if c in figure_cells else []
    cache = tmp_path / ".jupyter_cache"
    get_cache(str(cache)).cache_notebook_bundle(CacheBundleIn(executed_nb, ROOT / f"{docname}.ipynb"),
                                                check_validity=False)
    executed, html = tmp_path / "jupyter_execute", tmp_path / "html"
    stripped = nbformat.read(ROOT / f"{docname}.ipynb", as_version=4)   # no outputs at all
    (executed / "book" / "optimization").mkdir(parents=True)
    nbformat.write(stripped, executed / f"{docname}.ipynb")
    glue_names = {m for c in stripped.cells if c.cell_type == "markdown"
                  for m in re.findall(r"\{glue:text\}`([^`:]+)", c.source)}
    (executed / f"{docname}.glue.json").write_text(
        json.dumps({n: {"data": {"text/plain": "1"}} for n in glue_names}))
    without = slides.build_decks(executed, html, [docname])[0].read_text()
    with_cache = slides.build_decks(executed, html, [docname], cache=cache)[0].read_text()
    assert 'src="data:image/png' not in without
    assert with_cache.count('src="data:image/png') == len(figure_cells) >= 3
