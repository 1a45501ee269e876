"""Every chapter runs the way Colab runs it: installed by its own setup cell, outside the checkout.

A Colab-like runtime: a fresh venv with what Colab preinstalls and the chapters rely on --
``torch`` and ``numpy`` at the pinned versions, plus ``ipykernel`` and ``nbclient`` (Colab's
kernel; here they also execute the notebooks) and a current pip (Colab's pip is 24 or newer;
the venv's 23.2 cannot parse ``name @ git+file:///...``). Nothing else of the book is
installed. The repository's working tree is committed to a temporary git repository, and for
each chapter, in order:

* before the first chapter ``lecture_code`` is not installed (a fresh Colab runtime has none),
  so that chapter's setup cell installs it; later chapters find it, as on a runtime that
  already ran one chapter (a reinstall per chapter would cost a minute of the suite's budget
  and test the same install line, which every chapter shares: tests/test_notebooks.py);
* the chapter's setup cell, with its ``git+https://`` URL pointed at that repository
  (``git+file://``), and then the whole chapter run in a kernel of the venv whose working
  directory is outside the checkout;
* a last cell checks that ``lecture_code`` (and its ``bench.RESULTS``) came from the venv's
  site-packages, installed from the ``git+file://`` URL, and that ``torch`` is still the
  preinstalled one: same version, same files, not rewritten (a reinstall of the same version
  would change their modification times).
"""
from __future__ import annotations

import importlib.metadata
import json
import re
from pathlib import Path

import pytest

from fresh_venv import (ROOT, code_cell, environment, execute, make_venv, pins, pip, run,
                        setup_cell_index, snapshot, stdout_of)

CHAPTERS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "book").rglob("*.ipynb")
                  if ".ipynb_checkpoints" not in p.parts)

# torch's version, location and the modification times of its __init__.py and RECORD.
TORCH_STATE = '''
import json as _json, os as _os, pathlib as _pathlib
import torch as _torch
_record, = _pathlib.Path(_torch.__file__).parents[1].glob("torch-*.dist-info/RECORD")
torch_state = {"version": _torch.__version__, "file": _torch.__file__,
               "mtimes": [_os.stat(_torch.__file__).st_mtime_ns, _os.stat(_record).st_mtime_ns]}
'''

PROBE = TORCH_STATE + '''
import importlib.metadata, sys
import lecture_code
from lecture_code.bench import RESULTS
print("PROBE " + _json.dumps({
    "prefix": sys.prefix, "lecture_code": lecture_code.__file__, "results": str(RESULTS),
    "compare_csv": (RESULTS / "compare.csv").is_file(),
    "direct_url": _json.loads(importlib.metadata.distribution("lecture_code").read_text("direct_url.json")),
    "torch": torch_state}))
'''


@pytest.fixture(scope="module")
def colab(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("colab")
    env = environment(tmp)
    python = make_venv(tmp / "venv", env)
    wanted = pins(ROOT / "requirements.txt")
    pip(python, "install", "-q", "pip>=24", env=env)
    pip(python, "install", "-q", f"torch=={wanted['torch']}", f"numpy=={wanted['numpy']}",
        f"ipykernel=={wanted['ipykernel']}", f"nbclient=={importlib.metadata.version('nbclient')}",
        env=env)
    repo = snapshot(tmp / "repo", env)
    state = json.loads(run([str(python), "-c", TORCH_STATE + "print(_json.dumps(torch_state))"], env))
    outside = tmp / "colab-content"                         # Colab's /content: not the checkout
    outside.mkdir()
    return {"tmp": tmp, "env": env, "python": python, "repo": repo, "torch": state,
            "cwd": outside, "venv": (tmp / "venv").resolve()}


def colab_notebook(path: Path, repo: Path) -> dict:
    """The chapter with its setup cell installing from ``repo`` instead of the public URL."""
    nb = json.loads(path.read_text())
    cell = nb["cells"][setup_cell_index(nb)]
    source = "".join(cell["source"])
    pointed, n = re.subn(r"git\+https://[^\"'\s]+", f"git+file://{repo}", source)
    assert n == 1, f"{path.name}: the setup cell has {n} git+https URLs:\n{source}"
    cell["source"] = pointed
    nb["cells"].append(code_cell(PROBE))
    return nb


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_runs_on_colab(colab, chapter):
    python, env = colab["python"], colab["env"]
    if not colab.setdefault("installed", False):
        pip(python, "uninstall", "-q", "-y", "lecture_code", env=env)   # a warning if absent
        colab["installed"] = True
    nb = colab_notebook(colab["repo"] / chapter, colab["repo"])
    done = execute(python, nb, colab["cwd"], env, colab["tmp"] / "runs" / Path(chapter).stem)

    probe = json.loads(stdout_of(done["cells"][-1]).split("PROBE ", 1)[1])
    venv = colab["venv"]
    assert Path(probe["prefix"]).resolve() == venv
    assert Path(probe["lecture_code"]).resolve().is_relative_to(venv), probe
    assert Path(probe["results"]).resolve().is_relative_to(venv) and probe["compare_csv"], probe
    # lecture_code was absent before the first chapter: a setup cell installed it from the clone
    assert probe["direct_url"]["url"] == f"file://{colab['repo']}", probe["direct_url"]
    assert probe["torch"] == colab["torch"], "the setup cell reinstalled or changed torch"
