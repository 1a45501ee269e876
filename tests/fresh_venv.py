"""Helpers for the tests that install the book into a fresh virtual environment (Binder, Colab).

Everything is installed with the venv's own pip from the package index pip is configured with;
torch is always named with its exact pinned version, so pip takes the wheel that is already
on disk (or in the cache) and never resolves an unpinned torch.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETUP_LINE = 'if importlib.util.find_spec("lecture_code") is None:'

# Executes a notebook with nbclient in the interpreter that runs this script (the venv's), so
# the kernel is that venv's ipykernel: jupyter_client replaces the kernelspec's "python" by
# sys.executable.
# The kernel talks over IPC sockets (files in the working folder), not TCP: two kernels that
# pick the same free TCP port at the same moment (nbval runs its own beside this one) hang
# both ends without an error.
_RUNNER = '''
import sys
import nbformat
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
km = KernelManager(kernel_name="python3", transport="ipc", ip=sys.argv[4])
NotebookClient(nb, km=km, timeout=300, resources={"metadata": {"path": sys.argv[2]}}).execute()
nbformat.write(nb, sys.argv[3])
'''


def pins(path: Path) -> dict[str, str]:
    """``name -> version`` of the ``name==version`` lines of a requirements file."""
    out = {}
    for line in path.read_text().splitlines():
        m = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)==(\S+)\s*(#.*)?", line)
        if m:
            out[m.group(1).lower().replace("_", "-")] = m.group(2)
    return out


def environment(tmp: Path) -> dict[str, str]:
    """The test process's environment without anything that would let the venv see the
    checkout or the user's Jupyter set-up."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update(PIP_NO_INPUT="1", JUPYTER_DATA_DIR=str(tmp / "jupyter-data"),
               JUPYTER_CONFIG_DIR=str(tmp / "jupyter-config"), IPYTHONDIR=str(tmp / "ipython"),
               MPLCONFIGDIR=str(tmp / "matplotlib"))
    return env


def run(cmd: list[str], env: dict, cwd: Path | None = None, timeout: int = 900) -> str:
    """Run a command; on failure, fail with its output."""
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode:
        raise AssertionError(f"{' '.join(map(str, cmd))} exited {proc.returncode}:\n"
                             f"{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}")
    return proc.stdout


def make_venv(path: Path, env: dict) -> Path:
    """A fresh venv at ``path`` (no system site-packages); its python."""
    run([sys.executable, "-m", "venv", str(path)], env)
    return path / "bin" / "python"


def pip(python: Path, *args: str, env: dict, cwd: Path | None = None) -> str:
    return run([str(python), "-m", "pip", *args], env, cwd)


def snapshot(dest: Path, env: dict) -> Path:
    """A git repository at ``dest`` with one commit holding the working tree's files (tracked
    and untracked-but-not-ignored, as they are on disk): what ``git+file://`` installs is then
    what is being tested, committed or not (in CI, a clean clone, it is HEAD)."""
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           cwd=ROOT, capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, files):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid",
           "-c", "commit.gpgsign=false", "-C", str(dest)]
    run(["git", "init", "-q", str(dest)], env)
    run([*git, "add", "-A"], env)
    run([*git, "commit", "-q", "-m", "snapshot of the working tree"], env)
    return dest


def setup_cell_index(nb: dict) -> int:
    found = [i for i, c in enumerate(nb["cells"]) if SETUP_LINE in "".join(c["source"])]
    assert len(found) == 1, f"{len(found)} setup cells"
    return found[0]


def execute(python: Path, nb: dict, cwd: Path, env: dict, work: Path) -> dict:
    """Execute notebook ``nb`` (a dict) with the venv's nbclient, its kernel started in ``cwd``;
    the executed notebook."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "runner.py").write_text(_RUNNER)
    (work / "in.ipynb").write_text(json.dumps(nb))
    run([str(python), str(work / "runner.py"), str(work / "in.ipynb"), str(cwd),
         str(work / "out.ipynb"), str(work / "kernel-ipc")], env, cwd=cwd, timeout=600)
    return json.loads((work / "out.ipynb").read_text())


def code_cell(source: str) -> dict:
    return {"cell_type": "code", "execution_count": None, "id": "probe", "metadata": {},
            "outputs": [], "source": source}


def stdout_of(cell: dict) -> str:
    texts = [o.get("text", "") for o in cell["outputs"] if o.get("name") == "stdout"]
    return "".join(t if isinstance(t, str) else "".join(t) for t in texts)
