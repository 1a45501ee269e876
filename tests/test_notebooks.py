"""The chapters' committed form (nbval, in the same run, executes each of them)."""
import json
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import set_repository_url  # noqa: E402
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
    setup = "".join(nb["cells"][0]["source"])
    assert SETUP_LINE in setup
    # Colab installs the package from the repository that _config.yml names (one place:
    # python tools/set_repository_url.py changes them all).
    assert f"git+{set_repository_url.current_url()}\"" in setup
    assert str(path.relative_to(ROOT).with_suffix("")) in toc_files()


def test_the_repository_url_is_the_same_everywhere():
    url = set_repository_url.current_url()
    for path in set_repository_url.files_with_the_url():
        assert url in path.read_text(), f"{path.name} does not use the repository URL {url}"
