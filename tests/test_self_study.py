"""The self-study extension (book/_ext/self_study.py) on a two-page book built here: the
self-checks carry their answer keys from the computation (glue), and the edition without
solutions (``BOOK_SOLUTIONS=0``) has no solution, solution cell or answer key in its HTML, its
slide deck included.
(The browser test checks every self-check of the real book in Chromium.)"""
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from book_toc import chapter_notebooks

ROOT = Path(__file__).resolve().parents[1]
SECRET = "The worked solution says 41.5"

PAGE = {
    "cells": [
        {"cell_type": "markdown", "metadata": {"slideshow": {"slide_type": "slide"}},
         "source": ["# A page\n"]},
        {"cell_type": "code", "metadata": {"tags": ["remove-cell"]}, "execution_count": None,
         "outputs": [], "source": ["from myst_nb import glue\n", "glue('answer', 6 * 7, display=False)"]},
        {"cell_type": "markdown", "metadata": {}, "source": [
            ":::{numeric-check} What is six times seven?\n", ":tolerance: 0.5\n",
            "{glue:text}`answer`\n", ":::\n", "\n",
            ":::{quiz} Which is a regularizer?\n", ":answer: 2\n",
            "- Adam\n\n  An optimizer, not a regularizer.\n",
            "- Dropout\n\n  It limits what the network can memorise.\n", ":::\n", "\n",
            ":::{admonition} Hint\n", ":class: dropdown hint\n", "Multiply.\n", ":::\n", "\n",
            ":::{admonition} Solution\n", ":class: dropdown solution\n", f"{SECRET}.\n", ":::\n"]},
        {"cell_type": "code", "metadata": {"tags": ["solution", "hide-cell"],
                                           "slideshow": {"slide_type": "-"}},
         "execution_count": None, "outputs": [], "source": ["print('solution cell output', 6 * 7)"]},
    ],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                 "language_info": {"name": "python"}},
    "nbformat": 4, "nbformat_minor": 5}


def build(folder: Path, solutions: bool) -> str:
    static = ROOT / "book" / "_ext" / "static"
    (folder / "_config.yml").write_text(
        "title: t\nexecute:\n  execute_notebooks: force\nparse:\n  myst_enable_extensions: [colon_fence]\n"
        f"sphinx:\n  local_extensions:\n    self_study: {ROOT / 'book' / '_ext'}\n"
        f"    slides: {ROOT / 'book' / '_ext'}\n"
        f"  config:\n    html_static_path: ['{static}']\n    html_css_files: [book/layout.css]\n")
    (folder / "_toc.yml").write_text("format: jb-book\nroot: page\n")
    (folder / "page.ipynb").write_text(json.dumps(PAGE))
    env = {**os.environ, "BOOK_SOLUTIONS": "1" if solutions else "0"}
    env.pop("MPLBACKEND", None)
    result = subprocess.run(["jupyter-book", "build", "-W", "-n", str(folder)], env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return (folder / "_build" / "html" / "page.html").read_text()


@pytest.fixture(scope="module")
def editions(tmp_path_factory):
    full, student = tmp_path_factory.mktemp("full"), tmp_path_factory.mktemp("student")
    return build(full, True), build(student, False), full


def test_the_full_edition_has_checks_with_keys_from_the_computation(editions):
    html, _, folder = editions
    assert 'class="self-check numeric-check' in html and 'class="self-check quiz' in html
    key = html.split('class="answer-key')[1].split("</div>")[0]
    assert ">42<" in key.replace("\n", "")                    # the glued value, not a typed one
    assert SECRET in html and "solution cell output 42" in html
    assert "self_check.js" in html and "Multiply." in html
    deck = (folder / "_build" / "html" / "slides" / "page.slides.html").read_text()
    assert "solution cell output 42" in deck and 'class="deck-link' in html   # the full deck


def test_the_edition_without_solutions_leaks_nothing(editions):
    _, html, folder = editions
    assert "self-check numeric-check" in html and "Multiply." in html     # checks and hints stay
    for leak in (SECRET, "solution cell output", "answer-key", "6 * 7"):
        assert leak not in html, leak
    site = Path(str(folder).replace("full", "student")) / "_build" / "html"
    assert (site / "slides" / "page.slides.html").is_file()   # its deck is checked below too
    for path in site.rglob("*"):          # nor in any other file of the site (search index, ...)
        if path.is_file() and path.suffix in {".html", ".js", ".json", ".txt", ".ipynb"}:
            assert SECRET not in path.read_text(errors="ignore"), path


def test_a_check_without_its_tolerance_or_answer_fails_the_build(tmp_path):
    page = json.loads(json.dumps(PAGE))
    page["cells"][2]["source"] = [":::{numeric-check} A question\n", "42\n", ":::\n"]
    (tmp_path / "_config.yml").write_text(
        f"title: t\nparse:\n  myst_enable_extensions: [colon_fence]\nsphinx:\n  local_extensions:\n"
        f"    self_study: {ROOT / 'book' / '_ext'}\n")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: page\n")
    (tmp_path / "page.ipynb").write_text(json.dumps(page))
    result = subprocess.run(["jupyter-book", "build", "-W", str(tmp_path)], capture_output=True,
                            text=True, timeout=600)
    assert result.returncode != 0 and "tolerance" in result.stdout + result.stderr
    shutil.rmtree(tmp_path / "_build", ignore_errors=True)


def exercise_items(nb: dict) -> list[str]:
    """The text of each numbered item of the chapter's "## Exercises" section."""
    text, inside = [], False
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] != "markdown" or "slides-only" in cell["metadata"].get("tags", []):
            continue
        for line in source.splitlines():
            if line.startswith("## "):
                inside = line.strip() == "## Exercises"
            elif inside:
                text.append(line)
    return [item for item in re.split(r"(?m)^(?=\d+\. )", "\n".join(text)) if re.match(r"\d+\. ", item)]


@pytest.mark.parametrize("path", chapter_notebooks(), ids=lambda p: p.stem)
def test_every_exercise_has_a_hint_and_a_solution_and_the_chapter_its_questions(path):
    nb = json.loads(path.read_text())
    items = exercise_items(nb)
    assert len(items) >= 3, f"{path.name}: {len(items)} exercises"
    for item in items:
        number = item.split(".")[0]
        assert ":class: dropdown hint" in item, f"{path.name}: exercise {number} has no hint"
        assert ":class: dropdown solution" in item, f"{path.name}: exercise {number} has no solution"
    numbers = {int(item.split(".")[0]) for item in items}
    for cell in nb["cells"]:
        if "solution" in cell["metadata"].get("tags", []):
            first = "".join(cell["source"]).splitlines()[0]
            found = re.match(r"# Solution to exercise (\d+)\b", first)
            assert found and int(found.group(1)) in numbers, f"{path.name}: solution cell {first!r}"
    text = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    assert 3 <= text.count(":::{quiz}") <= 6, f"{path.name}: {text.count(':::{quiz}')} concept questions"
