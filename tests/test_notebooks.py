"""The chapters' committed form (nbval, in the same run, executes each of them)."""
import json
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from normalize_notebooks import normalized  # noqa: E402

NOTEBOOKS = sorted(p for p in (ROOT / "book").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
SETUP_LINE = 'if importlib.util.find_spec("lecture_code") is None:'


def toc_files() -> set[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return {toc["root"]} | {c["file"] for part in toc["parts"] for c in part["chapters"]}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_notebook_is_committed_normalized(path):
    nb = json.loads(path.read_text())
    assert nb == normalized(nb), f"run: python tools/normalize_notebooks.py ({path.name})"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_notebook_starts_with_the_setup_cell_and_is_in_the_toc(path):
    nb = json.loads(path.read_text())
    assert SETUP_LINE in "".join(nb["cells"][0]["source"])
    assert str(path.relative_to(ROOT).with_suffix("")) in toc_files()
