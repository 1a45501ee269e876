"""What Binder installs (``binder/``, which repo2docker reads instead of the root's files).

``binder/requirements.txt`` is the chapters' runtime: the versions of ``requirements.txt``,
torch as the CPU-only build from the PyTorch CPU wheel index, ``lecture_code`` from the
repository, and none of the tools that build or test the book. The second test installs
exactly that into a fresh venv -- torch's line becomes the same pinned version of the local
CPU wheel, the index line is dropped, pip runs in the repository's root as repo2docker's
does -- adds ``nbclient`` (Binder's image has Jupyter; here it only executes the notebook) and
runs one chapter in it.
"""
from __future__ import annotations

import importlib.metadata
import json
import re

import pytest

from fresh_venv import ROOT, environment, execute, make_venv, pins, pip, snapshot

BINDER = ROOT / "binder" / "requirements.txt"
CPU_INDEX = "--extra-index-url https://download.pytorch.org/whl/cpu"
# In requirements.txt to build or test the book, not to run its chapters.
BUILD_AND_TEST = {"jupyter-book", "sphinxcontrib-bibtex", "jupytext", "pytest", "pytest-xdist",
                  "nbval", "pytorch-optimizer", "kornia", "playwright", "nbconvert"}
# A short chapter that reads committed results and the shipped weights.
CHAPTER = "book/transfer/transfer_learning.ipynb"


def lines(path):
    return [line.strip() for line in path.read_text().splitlines()
            if line.strip() and not line.strip().startswith("#")]


def test_binder_pins_agree_with_requirements():
    wanted, binder = pins(ROOT / "requirements.txt"), pins(BINDER)
    assert binder.pop("torch") == wanted["torch"] + "+cpu"
    assert CPU_INDEX in lines(BINDER)
    assert binder == {name: v for name, v in wanted.items()
                      if name not in BUILD_AND_TEST | {"torch"}}
    # nothing else: the pins, the CPU index and lecture_code from the repository
    assert sorted(set(lines(BINDER)) - {f"{n}=={v}" for n, v in pins(BINDER).items()}) == \
        sorted([CPU_INDEX, "-e ."])
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == "python-3.11"


def local(line: str) -> str | None:
    """binder/requirements.txt's line as installed here: torch's CPU wheel is on disk."""
    if line == CPU_INDEX:
        return None
    return re.sub(r"^torch==(\S+)\+cpu$", r"torch==\1", line)


@pytest.fixture(scope="module")
def binder(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("binder")
    env = environment(tmp)
    python = make_venv(tmp / "venv", env)
    repo = snapshot(tmp / "repo", env)
    (tmp / "requirements.txt").write_text(
        "\n".join(filter(None, map(local, lines(repo / "binder" / "requirements.txt")))) + "\n")
    pip(python, "install", "-q", "-r", str(tmp / "requirements.txt"), env=env, cwd=repo)
    installed = {d["name"].lower().replace("_", "-"): d["version"] for d in json.loads(
        pip(python, "list", "--format", "json", env=env))}
    pip(python, "install", "-q", f"nbclient=={importlib.metadata.version('nbclient')}", env=env)
    return {"tmp": tmp, "env": env, "python": python, "repo": repo, "installed": installed}


def test_binder_runtime_runs_a_chapter(binder):
    installed = binder["installed"]
    for name, version in pins(binder["repo"] / "binder" / "requirements.txt").items():
        assert installed[name] == version, name             # torch too: the wheel here is +cpu
    assert "lecture-code" in installed
    assert not BUILD_AND_TEST & set(installed), "a build or test tool came in as a dependency"
    nb = json.loads((binder["repo"] / CHAPTER).read_text())
    folder = (binder["repo"] / CHAPTER).parent              # Jupyter starts a kernel there
    execute(binder["python"], nb, folder, binder["env"], binder["tmp"] / "run")
