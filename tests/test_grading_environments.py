"""The grader in the Python installations instructors really use (issue: a venv gave every
student zero). Each test runs the command line with another interpreter:

* a virtual environment under /tmp, and a copy of it under a home-like folder (mode 0700, in
  $HOME): the model answer scores full marks there and the student version zero, and `check`
  proves the sandbox imports torch and numpy;
* the same venv with torch unreadable to the sandbox's user: `check` says so and why, and the
  canary (the model answer graded first) stops `grade` before it writes a single zero;
* a venv without torch: `check` names what is missing.

The venv gets torch, numpy, tqdm and IPython at the versions of this environment (pip takes
torch from the machine's local wheel); it sees the repository through PYTHONPATH, as a source
checkout does, so what it grades with is this checkout.
"""
import csv
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from system_packages import ensure_debian_package

from lecture_code.grading import authoring, sandbox

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = [f"{name}=={importlib.metadata.version(name)}"
            for name in ("torch", "numpy", "tqdm", "ipython")]


def run(python: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "VIRTUAL_ENV")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([str(python), "-m", "lecture_code.grading", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """A fresh venv under /tmp with the grader's runtime; the base interpreter, not this one."""
    ensure_debian_package("bwrap", "bubblewrap")
    path = tmp_path_factory.mktemp("venvs") / "grader-venv"
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(path)], check=True)
    subprocess.run([str(path / "bin" / "python"), "-m", "pip", "install", "-q",
                    "--disable-pip-version-check", *PACKAGES], check=True)
    assert str(path).startswith(tempfile.gettempdir())
    return path


@pytest.fixture(scope="module")
def home_venv(venv):
    """A copy of the venv in a private (0700) folder of the home directory."""
    home = Path(tempfile.mkdtemp(prefix=".lecture_code-test-", dir=Path.home()))
    assert (home.stat().st_mode & 0o777) == 0o700
    path = home / "course" / "venv"
    path.parent.mkdir()
    shutil.copytree(venv, path, symlinks=True)
    yield path
    shutil.rmtree(home)


def class_folder(folder: Path, name: str) -> None:
    folder.mkdir()
    assignment = authoring.load(name)
    for student, keep in (("model", True), ("student", False)):
        nb = authoring.student_notebook(assignment, keep_solutions=keep)
        (folder / f"{student}.ipynb").write_text(json.dumps(nb))


@pytest.mark.parametrize("where", ["tmp", "home"])
def test_grading_in_a_venv(where, venv, home_venv, tmp_path):
    python = (venv if where == "tmp" else home_venv) / "bin" / "python"
    check = run(python, "check", cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    assert "sandbox OK" in check.stdout and str(python.parent.parent) in check.stdout
    assert "torch 2." in check.stdout and "numpy" in check.stdout
    folder, out = tmp_path / "submissions", tmp_path / "grades.csv"
    class_folder(folder, "sgd_momentum")
    done = run(python, "grade", "sgd_momentum", str(folder), "--out", str(out), "--no-progress",
               "--jobs", "2", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    with out.open(newline="") as f:
        rows = {r["student_id"]: r for r in csv.DictReader(f)}
    assert rows["model"]["status"] == "graded" and rows["model"]["total"] == "7", rows["model"]
    assert rows["student"]["status"] == "graded" and rows["student"]["total"] == "0"
    assert "NotImplementedError" in rows["student"]["feedback"]


@pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox drops to another user only as root")
def test_unreadable_torch_is_diagnosed_and_the_canary_stops_grading(venv, tmp_path):
    broken = tmp_path / "broken-venv"
    shutil.copytree(venv, broken, symlinks=True)
    python = broken / "bin" / "python"
    site_packages = next((broken / "lib").glob("python3*/site-packages"))
    folder, out = tmp_path / "submissions", tmp_path / "grades.csv"
    class_folder(folder, "sgd_momentum")
    (folder / "student.ipynb").unlink()
    assert run(python, "grade", "sgd_momentum", str(folder), "--out", str(out), "--no-progress",
               cwd=tmp_path).returncode == 0
    before = out.read_bytes()
    class_folder(tmp_path / "more", "sgd_momentum")
    shutil.copy(tmp_path / "more" / "student.ipynb", folder / "late.ipynb")
    for path in [site_packages / "torch", *(site_packages / "torch").rglob("*")]:
        path.chmod(path.stat().st_mode & ~0o007)      # the host can read it, "nobody" cannot
    check = run(python, "check", cwd=tmp_path)
    assert check.returncode == 2
    assert "torch is not visible in the sandbox" in check.stderr
    assert "cannot read as an unprivileged user" in check.stderr
    done = run(python, "grade", "sgd_momentum", str(folder), "--out", str(out), "--no-progress",
               cwd=tmp_path)
    assert done.returncode == 2
    assert "the model answer of 'sgd_momentum' scored 0 of 7" in done.stderr
    assert "torch is not visible in the sandbox" in done.stderr
    assert out.read_bytes() == before                  # the row kept, no zero written
    assert not (tmp_path / "grades_feedback" / "late.md").exists()


def test_check_names_what_is_not_installed(tmp_path):
    path = tmp_path / "bare-venv"
    subprocess.run([getattr(sys, "_base_executable", sys.executable), "-m", "venv",
                    "--without-pip", str(path)], check=True)
    environment = sandbox.PythonEnvironment.of(path / "bin" / "python")
    assert environment.prefix == str(path)
    with pytest.raises(sandbox.SandboxUnavailable,
                       match=r"torch, numpy, IPython are not installed in the Python environment"):
        sandbox.check_environment(environment)
    # and this environment, which has them, passes
    assert sandbox.check_environment().startswith("sandbox OK")


def test_the_sandbox_mounts_the_environment_and_nothing_of_the_repository():
    environment = sandbox.PythonEnvironment.current()
    assert environment.executable == sys.executable          # not the base interpreter
    for d in environment.directories:
        assert not str(ROOT).startswith(d + os.sep) and d != str(ROOT)
    assert os.path.realpath(sys.prefix) in environment.directories or any(
        os.path.realpath(sys.prefix).startswith(d + os.sep) for d in environment.directories)
    secret = Path(environment.directories[-1]) / "answers"    # e.g. a repository in a venv
    with pytest.raises(sandbox.SandboxUnavailable, match=f"overlaps {secret}"):
        sandbox.PythonEnvironment.current(hidden=(secret,))
