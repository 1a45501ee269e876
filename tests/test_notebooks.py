"""The chapters' committed form (nbval, in the same run, executes each of them)."""
import json
import re
import sys
from pathlib import Path

import pytest

from book_toc import toc_files

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import set_repository_url  # noqa: E402
from normalize_notebooks import normalized  # noqa: E402

NOTEBOOKS = sorted(p for p in (ROOT / "book").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
SETUP_LINE = 'if importlib.util.find_spec("lecture_code") is None:'


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_notebook_is_committed_normalized(path):
    nb = json.loads(path.read_text())
    assert nb == normalized(nb), f"run: python tools/normalize_notebooks.py ({path.name})"


def source(cell) -> str:
    return "".join(cell["source"])


def tags(cell) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_notebook_has_one_collapsed_setup_cell_below_the_title_and_is_in_the_toc(path):
    cells = json.loads(path.read_text())["cells"]
    setups = [i for i, cell in enumerate(cells) if SETUP_LINE in source(cell)]
    assert len(setups) == 1, f"{path.name}: {len(setups)} setup cells"
    setup = cells[setups[0]]
    # The title comes first; the setup cell sits below it, collapsed on the page.
    assert cells[0]["cell_type"] == "markdown" and source(cells[0]).startswith("# ")
    assert setups[0] == 1 and setup["cell_type"] == "code"
    assert {"hide-input", "hide-cell"} & set(tags(setup))
    # Colab installs the package from the repository that _config.yml names (one place:
    # python tools/set_repository_url.py changes them all).
    assert f"git+{set_repository_url.current_url()}\"" in source(setup)
    assert str(path.relative_to(ROOT).with_suffix("")) in toc_files()


GLUE_ROLE = re.compile(r"\{glue(?::text)?\}`([^`:]+)")
GLUE_CALL = re.compile(r"""glue\(\s*["']([^"']+)["']""")
GLUE_CALL_FSTRING = re.compile(r"""glue\(\s*(f["']|[A-Za-z_])""")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_scaffolding_is_hidden_and_every_glued_name_is_computed(path):
    """Assertions and glue calls run in the build and in nbval but are not shown on the page."""
    cells = json.loads(path.read_text())["cells"]
    glued, dynamic = set(), False
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        text = source(cell)
        checks = [line for line in text.split("\n") if re.match(r"\s*(assert |torch\.testing\.assert)", line)]
        calls = GLUE_CALL.findall(text)
        glued |= set(calls)
        dynamic |= bool(GLUE_CALL_FSTRING.search(text))
        if checks or calls:
            assert "remove-cell" in tags(cell), f"{path.name}: a visible cell asserts or glues: {text[:80]!r}"
    used = {name for cell in cells if cell["cell_type"] == "markdown"
            for name in GLUE_ROLE.findall(source(cell))}
    if not dynamic:
        assert used <= glued, f"{path.name}: glued in the prose but never computed: {used - glued}"


def test_the_build_strips_nbval_markers():
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    from hide_scaffolding import strip_markers
    assert strip_markers("# NBVAL_CHECK_OUTPUT\nprint(1)") == "print(1)"
    assert strip_markers("# NBVAL_IGNORE_OUTPUT\nexplorer()") == "explorer()"
    assert strip_markers("# NBVAL_CHECK_OUTPUT is what the cell starts with\nx = 1") == \
        "# NBVAL_CHECK_OUTPUT is what the cell starts with\nx = 1"
    assert strip_markers("x = 1\ny = 2") == "x = 1\ny = 2"


def test_the_repository_url_is_the_same_everywhere():
    url = set_repository_url.current_url()
    for path in set_repository_url.files_with_the_url():
        assert url in path.read_text(), f"{path.name} does not use the repository URL {url}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_chapter_imports_nothing_only_the_book_build_has(path):
    # Colab and Binder have no myst-nb (it comes with jupyter-book): glue through lecture_code.
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            source = "".join(cell["source"])
            assert "myst_nb" not in source, (
                f"{path.name}: import glue with `from lecture_code.glue import glue`, not from "
                "myst_nb (absent on Colab and Binder)")
