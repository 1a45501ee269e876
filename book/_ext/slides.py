"""Every chapter as a reveal.js slide deck, offline (a Sphinx extension of the book, and a command).

The deck of a chapter is made from the same notebook as its page, with the outputs of the book's
own execution (``_build/jupyter_execute/<chapter>.ipynb`` and its glued values), by
``jupyter nbconvert``'s slides exporter with the template in ``slides_templates/book_deck``. It
loads reveal.js, MathJax and require.js from the site's ``_static`` folder (vendored by
``tools/vendor_js.sh``), so it needs no network. The HTML build writes every deck to
``_build/html/slides/<chapter>.slides.html`` and puts a link to it under the chapter's title;
after editing only slide cells, ``python book/_ext/slides.py`` rebuilds the decks from the last
build's executed notebooks. In a page, ``{deck}`sgd``` links to a chapter's deck.

Which cells go on the deck is Jupyter's slideshow metadata (View > Cell Toolbar > Slideshow in
the classic notebook, the property inspector in JupyterLab):

* ``slide``, ``subslide``, ``fragment`` and ``-`` (continue the slide) put a cell on the deck;
  ``notes`` makes it a speaker note (press S in the deck for the speaker view). Cells without
  slideshow metadata stay off the deck: a deck is the lecture's subset of a chapter, not all
  of it.
* A cell written only for the deck (a slide's bullet points, a speaker note, a figure redrawn
  for a 16:9 slide) is tagged ``remove-cell``, so that the chapter's page does not show it,
  and ``slides-only``, which says why.
* A code cell shows only its outputs on the deck (a figure, a printed table), unless it is
  tagged ``slides-code``, for the code that is the point of a slide.
* Markdown on a deck is Markdown, math and ``{glue:text}`name:format``` (the glued value,
  formatted as on the page); links to other chapters become links to their pages. Any other MyST
  markup (roles, directives, labels) would show raw on a slide, so it fails the deck's build.
  The speaker view shows notes without MathJax, so the math of a note is written out in
  Unicode (``$\beta_1^t$`` becomes β₁ᵗ); a command with no plain-text form fails the build.

In the edition without solutions (``BOOK_SOLUTIONS=0``) cells tagged ``solution`` never reach a
deck.
"""
from __future__ import annotations

import copy
import json
import posixpath
import re
import sys
from pathlib import Path

from docutils import nodes
# a glued value formatted exactly as {glue:text}`name:spec` formats it on the page
from myst_nb.core.variables import format_plain_text as format_glued

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = Path(__file__).resolve().parent / "slides_templates"
ON_DECK = {"slide", "subslide", "fragment", "-", "notes"}
HIDE_INPUT_TAG = "slides-hide-input"

#: JavaScript, run in a deck: how far down the current slide its content reaches, in slide
#: pixels (speaker notes excluded). A slide is 720 high; tools/preview_deck.py and the browser
#: test report a slide whose content runs past it.
SLIDE_CONTENT_BOTTOM_JS = """(() => {
  const slide = Reveal.getCurrentSlide();
  let bottom = 0;
  for (const child of slide.querySelectorAll(":scope > *:not(aside)")) {
    bottom = Math.max(bottom, child.offsetTop + child.offsetHeight);
  }
  return bottom;
})()"""
SLIDE_HEIGHT = 720

_GLUE = re.compile(r"\{glue(?::text)?\}`([^`]+)`")
_MYST = [
    (re.compile(r"\{[A-Za-z][\w:.-]*\}`[^`]*`"), "a MyST role"),
    (re.compile(r"^\s*(?:`{3,}|:{3,})\s*\{", re.M), "a MyST directive"),
    (re.compile(r"^\(\S+\)=\s*$", re.M), "a MyST label"),
]
_NOTEBOOK_LINK = re.compile(r"\]\((?!https?:|#)([^)\s#]+)\.ipynb(#[^)\s]*)?\)")


def slide_type(cell) -> str | None:
    return cell.get("metadata", {}).get("slideshow", {}).get("slide_type")


def has_deck(notebook: dict) -> bool:
    """Whether any cell of the notebook carries slideshow metadata that puts it on a deck."""
    return any(slide_type(cell) in ON_DECK for cell in notebook["cells"])


def _resolve_markdown(source: str, glued: dict[str, str], where: str, link_prefix: str) -> str:
    def glue_value(match):
        name, _, spec = match.group(1).partition(":")
        if name not in glued:
            raise ValueError(f"{where}: {{glue:text}}`{match.group(1)}` names no glued value "
                             f"(the chapter glues {len(glued)} names)")
        return format_glued(glued[name], spec)

    text = _GLUE.sub(glue_value, source)
    for pattern, what in _MYST:
        found = pattern.search(text)
        if found:
            raise ValueError(f"{where}: {what} would show raw on a slide: {found.group(0)!r}; "
                             "slides take Markdown, math and {glue:text}`name:format`")
    return _NOTEBOOK_LINK.sub(
        lambda m: f"]({posixpath.normpath(link_prefix + m.group(1))}.html{m.group(2) or ''})", text)


# Speaker notes: reveal.js's speaker view shows the notes as plain HTML, without MathJax, so
# their math is written out in Unicode when the deck is built (β₁, 10⁻³, √κ, α/(1−ρ)).
_GREEK = {name: chr(code) for name, code in [
    ("alpha", 0x3B1), ("beta", 0x3B2), ("gamma", 0x3B3), ("delta", 0x3B4), ("epsilon", 0x3B5),
    ("varepsilon", 0x3B5), ("zeta", 0x3B6), ("eta", 0x3B7), ("theta", 0x3B8), ("iota", 0x3B9),
    ("kappa", 0x3BA), ("lambda", 0x3BB), ("mu", 0x3BC), ("nu", 0x3BD), ("xi", 0x3BE),
    ("pi", 0x3C0), ("rho", 0x3C1), ("sigma", 0x3C3), ("tau", 0x3C4), ("phi", 0x3C6),
    ("varphi", 0x3C6), ("chi", 0x3C7), ("psi", 0x3C8), ("omega", 0x3C9), ("Gamma", 0x393),
    ("Delta", 0x394), ("Theta", 0x398), ("Lambda", 0x39B), ("Xi", 0x39E), ("Pi", 0x3A0),
    ("Sigma", 0x3A3), ("Phi", 0x3A6), ("Psi", 0x3A8), ("Omega", 0x3A9)]}
_SYMBOLS = {
    "approx": "≈", "cdot": "·", "times": "×", "le": "≤", "leq": "≤", "ge": "≥", "geq": "≥",
    "ne": "≠", "neq": "≠", "pm": "±", "infty": "∞", "to": "→", "rightarrow": "→",
    "leftarrow": "←", "ast": "*", "top": "ᵀ", "odot": "⊙", "nabla": "∇", "ell": "ℓ",
    "sum": "Σ", "prod": "Π", "partial": "∂", "in": "∈", "mid": "|", "ldots": "…", "dots": "…",
    "lVert": "‖", "rVert": "‖", "Vert": "‖", "lvert": "|", "rvert": "|", "sim": "~",
    "propto": "∝", "gg": "≫", "ll": "≪", "circ": "∘", "ln": "ln", "log": "log", "exp": "exp",
    "max": "max", "min": "min", "arg": "arg", "lim": "lim", "quad": " ",
    "qquad": " ", ",": " ", ";": " ", "!": "", " ": " ", "%": "%", "{": "{", "}": "}", "|": "‖",
    "left": "", "right": "", "big": "", "Big": "", **_GREEK}
_SUPERSCRIPT = dict(zip("0123456789+-−=()abcdefghijklmnoprstuvwxyzABDEGHIJKLMNOPRTUVW",
                       "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁻⁼⁽⁾ᵃᵇᶜᵈᵉᶠᵍʰⁱʲᵏˡᵐⁿᵒᵖʳˢᵗᵘᵛʷˣʸᶻᴬᴮᴰᴱᴳᴴᴵᴶᴷᴸᴹᴺᴼᴾᴿᵀᵁⱽᵂ"))
_SUBSCRIPT = dict(zip("0123456789+-−=()aehijklmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉₊₋₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ"))
_BLACKBOARD = {"E": "𝔼", "R": "ℝ", "N": "ℕ", "Z": "ℤ", "P": "ℙ"}
_ACCENTS = {"hat": "\u0302", "bar": "\u0304", "tilde": "\u0303", "dot": "\u0307"}


def _tex_group(tex: str, i: int) -> tuple[str, int]:
    """The argument starting at tex[i] (a {...} group, a command or one character)."""
    while i < len(tex) and tex[i] == " ":
        i += 1
    if i >= len(tex):
        raise ValueError("an argument is missing")
    if tex[i] == "{":
        depth, j = 0, i
        while j < len(tex):
            depth += {"{": 1, "}": -1}.get(tex[j], 0)
            if depth == 0:
                return tex[i + 1:j], j + 1
            j += 1
        raise ValueError("a brace is not closed")
    if tex[i] == "\\":
        j = i + 1
        while j < len(tex) and tex[j].isalpha():
            j += 1
        return tex[i:max(j, i + 2)], max(j, i + 2)
    return tex[i], i + 1


def _script(text: str, table: dict, mark: str) -> str:
    if text in {"*", "′", "ᵀ"} and mark == "^":
        return text
    if text and all(ch in table for ch in text):
        return "".join(table[ch] for ch in text)
    return f"{mark}({text})" if len(text) > 1 else f"{mark}{text}"


def tex_to_text(tex: str) -> str:
    """Inline TeX as Unicode text, for the speaker notes: ``\\beta_1^t`` -> ``β₁ᵗ``.

    Covers the notation of the book's notes (Greek letters, scripts, roots, fractions, accents,
    relations); anything else raises ``ValueError`` naming the command.
    """
    out, i = [], 0
    while i < len(tex):
        ch = tex[i]
        if ch in "^_":
            argument, i = _tex_group(tex, i + 1)
            text = tex_to_text(argument)
            out.append(_script(text, _SUPERSCRIPT if ch == "^" else _SUBSCRIPT, ch))
        elif ch == "{" or ch == "}":
            i += 1
        elif ch == "\\":
            command, i = _tex_group(tex, i)
            name = command[1:]
            if name in _SYMBOLS:
                out.append(_SYMBOLS[name])
            elif name in {"sqrt"}:
                argument, i = _tex_group(tex, i)
                text = tex_to_text(argument)
                out.append(f"√{text}" if len(text) == 1 else f"√({text})")
            elif name in {"frac", "tfrac", "dfrac"}:
                top, i = _tex_group(tex, i)
                bottom, i = _tex_group(tex, i)
                top, bottom = tex_to_text(top), tex_to_text(bottom)
                wrap = lambda t: t if len(t) == 1 or t.isalnum() else f"({t})"
                out.append(f"{wrap(top)}/{wrap(bottom)}")
            elif name == "mathbb":
                argument, i = _tex_group(tex, i)
                out.append(_BLACKBOARD.get(argument, argument))
            elif name in _ACCENTS:
                argument, i = _tex_group(tex, i)
                out.append(tex_to_text(argument) + _ACCENTS[name])
            elif name in {"text", "mathrm", "mathbf", "mathit", "mathcal", "operatorname",
                          "boldsymbol", "textrm"}:
                argument, i = _tex_group(tex, i)
                out.append(tex_to_text(argument) if name != "text" else argument)
            else:
                raise ValueError(f"the TeX command {command!r} has no plain-text form")
        elif ch == "-":
            out.append("−")
            i += 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


_NOTES_MATH = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$", re.S)


def _notes_text(source: str, where: str) -> str:
    """Speaker notes with their math written out in Unicode (Markdown's own characters escaped)."""
    def plain(match):
        tex = match.group(1) or match.group(2)
        try:
            text = tex_to_text(tex.strip())
        except ValueError as error:
            raise ValueError(f"{where}: speaker notes show math as text, and {error} "
                             f"(in ${tex}$)") from None
        return re.sub(r"([\\`*_\[\]<>])", r"\\\1", text)

    return _NOTES_MATH.sub(plain, source)


def _keep_output(output: dict) -> bool:
    if output.get("output_type") == "stream":
        return output.get("name") == "stdout"
    data = output.get("data", {})
    if "application/vnd.jupyter.widget-view+json" in data:
        return False  # a widget needs a kernel or its saved state; its static figure is a cell
    return "scrapbook" not in output.get("metadata", {})


def deck_notebook(notebook: dict, glued: dict[str, str], docname: str,
                  solutions: bool = True) -> dict:
    """The notebook of the chapter's deck: its deck cells only, resolved for nbconvert.

    ``glued`` maps each glued name to its text/plain value; ``docname`` is the chapter's path in
    the book without suffix (``book/optimization/sgd``), for messages and for links.
    """
    deck = copy.deepcopy(notebook)
    chapter_dir = posixpath.dirname(docname)
    link_prefix = posixpath.relpath(chapter_dir or ".", "slides") + "/"
    cells = []
    for index, cell in enumerate(deck["cells"]):
        kind = slide_type(cell)
        if kind not in ON_DECK:
            continue
        tags = cell.get("metadata", {}).get("tags", [])
        if not solutions and "solution" in tags:
            continue
        if not cells and kind != "slide":
            raise ValueError(f"{docname}: the deck's first cell (cell {index}) must start a "
                             f"slide (slideshow slide_type 'slide'), not {kind!r}")
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            where = f"{docname}, cell {index}"
            cell["source"] = _resolve_markdown(source, glued, where, link_prefix)
            if kind == "notes":
                cell["source"] = _notes_text(cell["source"], where)
        elif cell["cell_type"] == "code":
            cell["outputs"] = [out for out in cell.get("outputs", []) if _keep_output(out)]
            if "slides-code" not in tags:
                cell["metadata"]["tags"] = [*tags, HIDE_INPUT_TAG]
        cells.append(cell)
    deck["cells"] = cells
    deck["metadata"].pop("widgets", None)
    return deck


def _title(notebook: dict) -> str:
    for cell in notebook["cells"]:
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            for line in source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return ""


def _exporter(static: str):
    from nbconvert import SlidesExporter
    from traitlets.config import Config

    config = Config()
    config.SlidesExporter.template_name = "book_deck"
    config.SlidesExporter.extra_template_basedirs = [str(TEMPLATES)]
    config.SlidesExporter.exclude_anchor_links = True
    config.SlidesExporter.reveal_url_prefix = f"{static}/reveal.js"
    config.SlidesExporter.reveal_theme = "white"  # the one theme tools/vendor_js.sh vendors
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_input_tags = {HIDE_INPUT_TAG}
    return SlidesExporter(config=config)


def _executed_notebook(docname: str, executed: Path, cache: Path | None):
    """The chapter's notebook with the outputs of the book's execution, or None.

    With the build's jupyter-cache, its outputs are merged into the source notebook: a build
    that found a chapter in the cache writes ``jupyter_execute/<chapter>.ipynb`` without them.
    Without a cache (tools/preview_deck.py), the executed notebook is read as it is.
    """
    import nbformat

    if cache is not None and cache.is_dir() and (ROOT / f"{docname}.ipynb").exists():
        from jupyter_cache import get_cache

        try:
            _, notebook = get_cache(str(cache)).merge_match_into_notebook(
                nbformat.read(ROOT / f"{docname}.ipynb", as_version=4))
            return notebook
        except KeyError:  # not in the cache: fall back to the executed copy
            pass
    path = executed / f"{docname}.ipynb"
    return nbformat.read(path, as_version=4) if path.exists() else None


def build_decks(executed: Path, html: Path, docnames: list[str], solutions: bool = True,
                cache: Path | None = None) -> list[Path]:
    """Write the deck of every chapter in ``docnames`` that has deck cells into ``html/slides``.

    ``executed`` is the book build's ``jupyter_execute`` folder (its glued values, and the
    outputs where ``cache``, the build's jupyter-cache, has none). Returns the decks written.
    """
    import nbformat

    static = "../_static"  # the site's static folder, relative to html/slides
    exporter = _exporter(static)
    out = html / "slides"
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for docname in docnames:
        notebook = _executed_notebook(docname, executed, cache)
        if notebook is None or not has_deck(notebook):
            continue
        glue_file = executed / f"{docname}.glue.json"
        glued = {}
        if glue_file.exists():
            glued = {name: output.get("data", {}).get("text/plain", "")
                     for name, output in json.loads(glue_file.read_text()).items()}
        deck = nbformat.from_dict(deck_notebook(notebook, glued, docname, solutions))
        stem = posixpath.basename(docname)
        page = posixpath.relpath(f"{docname}.html", "slides")
        body, _ = exporter.from_notebook_node(deck, resources={
            "metadata": {"name": _title(notebook) or stem},
            "deck": {"static": static, "page": page}})
        target = out / f"{stem}.slides.html"
        target.write_text(body, encoding="utf-8")
        written.append(target)
    return written


def deck_uri(chapter: str, page: str) -> str:
    """The deck of ``chapter`` (a docname or its stem), relative to the page ``page``."""
    return posixpath.relpath(f"slides/{posixpath.basename(chapter)}.slides.html",
                             posixpath.dirname(page) or ".")


def deck_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    """``{deck}`sgd``` -> a link to the chapter's deck (for the teaching guide's tables)."""
    env = inliner.document.settings.env
    stem = text.strip()
    chapters = sorted(d for d in env.found_docs if posixpath.basename(d) == stem
                      and Path(env.doc2path(d)).suffix == ".ipynb")
    problem = None
    if len(chapters) != 1:
        problem = f"deck {stem!r}: expected the name of one chapter notebook, found {chapters}"
    elif not has_deck(json.loads(Path(env.doc2path(chapters[0])).read_text())):
        problem = f"deck {stem!r}: the chapter {chapters[0]} has no deck cells"
    if problem:
        message = inliner.reporter.error(problem, line=lineno)
        return [inliner.problematic(rawtext, rawtext, message)], [message]
    link = nodes.reference(rawtext, "", refuri=deck_uri(stem, env.docname),
                           classes=["deck-role"])
    link += nodes.Text("slides")
    return [link], []


def link_the_deck(app, doctree):
    """Under the chapter's title: a link to its deck (only chapters whose notebook has one)."""
    docname = app.env.docname
    source = Path(app.env.doc2path(docname))
    if source.suffix != ".ipynb" or not has_deck(json.loads(source.read_text())):
        return
    section = next(iter(doctree.findall(nodes.section)), None)
    if section is None:
        return
    para = nodes.paragraph(classes=["deck-link"])
    para += nodes.Text("Lecture slides: ")
    link = nodes.reference("", "", refuri=deck_uri(docname, docname), classes=["deck-link-anchor"])
    link += nodes.Text("this chapter as a slide deck")
    para += link
    para += nodes.Text(" (arrow keys to move, S for the speaker notes, F for full screen).")
    section.insert(1, para)


def _solutions() -> bool:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from self_study import solutions_included

    return solutions_included()


def decks_after_build(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    docnames = sorted(d for d in app.env.found_docs
                      if Path(app.env.doc2path(d)).suffix == ".ipynb")
    build = Path(app.outdir).parent
    cache = Path(getattr(app.config, "nb_execution_cache_path", "") or build / ".jupyter_cache")
    written = build_decks(build / "jupyter_execute", Path(app.outdir), docnames,
                          solutions=_solutions(), cache=cache)
    from sphinx.util import logging

    logging.getLogger(__name__).info(f"wrote {len(written)} slide decks into {app.outdir}/slides")


def setup(app):
    app.add_role("deck", deck_role)
    app.connect("doctree-read", link_the_deck)
    app.connect("build-finished", decks_after_build)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def main(argv: list[str] | None = None) -> int:
    """``python book/_ext/slides.py [BUILD_DIR]``: rebuild the decks from the last book build."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("build_dir", nargs="?", default=str(ROOT / "_build"),
                        help="the book's build folder (default: _build)")
    args = parser.parse_args(argv)
    build = Path(args.build_dir)
    executed, html = build / "jupyter_execute", build / "html"
    if not executed.is_dir() or not html.is_dir():
        parser.error(f"build_dir {str(build)!r} holds no built book (no jupyter_execute/ and "
                     "html/): build the book first (jupyter-book build .)")
    docnames = sorted(str(p.relative_to(executed).with_suffix("")).replace("\\", "/")
                      for p in executed.rglob("*.ipynb"))
    written = build_decks(executed, html, docnames, solutions=_solutions(),
                          cache=build / ".jupyter_cache")
    print(f"wrote {len(written)} decks into {html / 'slides'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
