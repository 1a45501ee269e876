"""The exercises and their sandboxed autograder (lecture_code.grading).

* every assignment: the model answer scores full marks, the released student version scores zero
  and fails only at its stubs, and the release contains neither answers nor hidden tests;
* a folder of hostile submissions next to two honest ones: every row has the right status, the
  honest scores do not move, nothing escapes the sandbox;
* determinism and resuming; refusing to run without bubblewrap.

These tests need bubblewrap: as root they install Debian's package when it is missing;
elsewhere, without it, they fail loudly (`apt-get install -y bubblewrap`).
"""
import csv
import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from system_packages import ensure_debian_package

from lecture_code import grading
from lecture_code.grading import authoring, grader, sandbox

ASSIGNMENTS = sorted(p.parent.name for p in authoring.exercises_dir().glob("*/source.ipynb"))
FAST = sandbox.Limits(cell_timeout=20, call_timeout=10, notebook_timeout=90)
# Short enough to keep the timeouts quick, long enough for honest cells on a loaded machine
# (two test workers on two cores, sandboxes running in parallel).
HOSTILE = sandbox.Limits(cell_timeout=8, call_timeout=5, notebook_timeout=60,
                         memory=1536 * 1024 ** 2, max_processes=16, max_output=256 * 1024)


@pytest.fixture(scope="module", autouse=True)
def require_sandbox():
    ensure_debian_package("bwrap", "bubblewrap")
    try:
        sandbox.check_available()
    except sandbox.SandboxUnavailable as exc:
        pytest.fail(f"the autograder's tests need a working sandbox: {exc}", pytrace=False)


def write_nb(path: Path, nb: dict) -> Path:
    path.write_text(json.dumps(nb))
    return path


def read_csv(path: Path) -> dict:
    with path.open(newline="") as f:
        return {row["student_id"]: row for row in csv.DictReader(f)}


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_solution_full_marks_student_version_zero(name, tmp_path):
    assignment = authoring.load(name)
    assert assignment.manual, "every assignment has a question graded by hand"
    released = authoring.student_notebook(assignment)
    text = json.dumps(released)
    for marker in ("BEGIN SOLUTION", "HIDDEN TESTS", "hidden_test", "import lecture_code",
                   "from lecture_code"):
        assert marker not in text
    folder = tmp_path / "submissions"
    folder.mkdir()
    write_nb(folder / "model.ipynb", authoring.student_notebook(assignment, keep_solutions=True))
    write_nb(folder / "student.ipynb", released)
    outcomes = {}
    rows = grading.grade(name, folder, tmp_path / "grades.csv", limits=FAST, progress=False,
                         echo=lambda *a: None, outcomes=outcomes)
    model, student = rows
    assert model["status"] == "graded" and student["status"] == "graded"
    assert float(model["total"]) == assignment.max_points == float(model["max"])
    assert float(student["total"]) == 0
    for q in assignment.manual:
        assert model[q.name] == student[q.name] == "ungraded"
    assert (tmp_path / "grades_feedback" / "student.md").read_text().count("NotImplementedError")
    # the student version runs without error up to the stubs: every failing cell fails with
    # the stub's NotImplementedError (directly, or through a visible check calling a stub)
    outcome = outcomes["student"]
    assert outcome.cell_errors, "the stubs raise"
    assert all(msg.startswith("NotImplementedError") for _, msg in outcome.cell_errors), \
        outcome.cell_errors
    assert 0 not in [i for i, _ in outcome.cell_errors]       # the import cell runs


def test_release_command_line(tmp_path):
    out = subprocess.run([sys.executable, "-m", "lecture_code.grading", "release", "sgd_momentum",
                          "--out", str(tmp_path)], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    path = tmp_path / "sgd_momentum.ipynb"
    assert str(path) in out.stdout
    nb = json.loads(path.read_text())
    assert nb["metadata"]["grading"]["assignment"] == "sgd_momentum"
    sources = ["".join(c["source"]) for c in nb["cells"]]
    assert sum('raise NotImplementedError("replace this line with your code")' in s
               for s in sources) == 3
    assert not any("return x - lr * grad" in s for s in sources)
    assert all(c.get("outputs", []) == [] for c in nb["cells"])


# --- hostile submissions --------------------------------------------------------------------
def notebook(*cells: str, assignment: str | None = "sgd_momentum") -> dict:
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
          "cells": [{"cell_type": "code", "source": c, "metadata": {}, "outputs": [],
                     "execution_count": None} for c in cells]}
    if assignment:
        nb["metadata"]["grading"] = {"assignment": assignment}
    return nb


SOLUTION = '''
import torch
def sgd_step(x, grad, lr):
    return x - lr * grad
def momentum_step(x, v, grad, lr, rho):
    v = rho * v + grad
    return x - lr * v, v
def nesterov_step(x, v, grad, lr, rho):
    v = rho * v + grad
    return x - lr * (grad + rho * v), v
'''


def hostile_folder(folder: Path, outside: Path) -> dict:
    """The submissions and, for each, the (status, total) it must get."""
    adam = authoring.student_notebook(authoring.load("adam"))
    marker = outside / "escaped.txt"
    honest_a = folder / "honest_a.ipynb"
    escape = f'''
import os, socket
seen = []
for target in ({str(marker)!r}, {str(honest_a)!r}, "/escaped.txt", "/usr/escaped.txt"):
    try:
        open(target, "w").write("pwned")
        seen.append(target)
    except OSError:
        pass
for secret in ({str(authoring.load("sgd_momentum").path)!r}, {str(authoring.exercises_dir())!r},
               {str(folder)!r}, {str(honest_a)!r}, {str(outside)!r}):
    if os.path.exists(secret):
        seen.append(secret)
try:
    socket.create_connection(("1.1.1.1", 80), timeout=1)
    seen.append("network")
except OSError:
    pass
'''
    cases = {
        "honest_a": (notebook(SOLUTION), "graded", 7),
        "honest_b": (notebook(SOLUTION + '''
def momentum_step(x, v, grad, lr, rho):      # a wrong update: EMA instead of momentum
    v = rho * v + (1 - rho) * grad
    return x - lr * v, v
def nesterov_step(x, v, grad, lr, rho):
    raise NotImplementedError
'''), "graded", 2),
        "corrupt_json": ('{"nbformat": 4, "cells": [', "invalid notebook", 0),
        "not_a_notebook": (b"\x89PNG\r\n\x1a\n\x00\x00binary", "invalid notebook", 0),
        "notes": ("print('a text file that is not a notebook')", "invalid notebook", 0),
        "empty": (notebook(), "invalid notebook", 0),
        "wrong_assignment": (adam, "invalid notebook", 0),
        "infinite_loop": (notebook(SOLUTION, "while True:\n    pass"), "timeout", 7),
        "ignores_interrupts": (notebook(SOLUTION, '''
import signal
signal.signal(signal.SIGALRM, signal.SIG_IGN)
while True:
    try:
        while True:
            pass
    except BaseException:
        pass
'''), "timeout", 0),
        "fork_bomb": (notebook(SOLUTION, '''
import os
while True:
    os.fork()
'''), "crashed", 7),
        "memory_bomb": (notebook(SOLUTION, '''
def grab():
    hog = []
    while True:
        hog.append(bytearray(64 * 1024 ** 2))
grab()
'''), "memory limit", 7),
        "os_exit": (notebook(SOLUTION, "import os\nos._exit(3)"), "crashed", 0),
        "prints_gigabytes": (notebook(SOLUTION, '''
import os, sys
block = "x" * (1 << 20)
for _ in range(4096):
    print(block)
    os.write(1, block.encode())
'''), "crashed", 0),
        "escape_attempts": (notebook(escape + '''
import torch
def sgd_step(x, grad, lr):          # full marks only if nothing outside was seen
    return x - lr * grad if not seen else x
'''), "graded", 2),
        "rebinds_allclose": (notebook('''
import torch, numpy, math
torch.allclose = lambda *a, **k: True
numpy.allclose = lambda *a, **k: True
math.isclose = lambda *a, **k: True
torch.Tensor.__eq__ = lambda *a: True
def sgd_step(x, grad, lr):
    return torch.zeros_like(x)
def momentum_step(x, v, grad, lr, rho):
    return x, v
def nesterov_step(x, v, grad, lr, rho):
    return "all good"
'''), "graded", 0),
    }
    expected = {}
    for name, (content, status, total) in cases.items():
        suffix = ".txt" if name == "notes" else ".ipynb"
        path = folder / f"{name}{suffix}"
        if isinstance(content, dict):
            write_nb(path, content)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        expected[name] = (status, total)
    return expected


def test_hostile_submissions(tmp_path, monkeypatch):
    folder, outside = tmp_path / "submissions", tmp_path / "outside"
    folder.mkdir()
    outside.mkdir()
    expected = hostile_folder(folder, outside)
    honest_bytes = (folder / "honest_a.ipynb").read_bytes()
    out = tmp_path / "grades.csv"
    lines = []
    grading.grade("sgd_momentum", folder, out, limits=HOSTILE, progress=False,
                  echo=lines.append)
    rows = read_csv(out)
    assert list(rows) == sorted(expected)
    got = {name: (row["status"], float(row["total"])) for name, row in rows.items()}
    assert got == {name: (status, float(total)) for name, (status, total) in expected.items()}
    for name, row in rows.items():
        assert row["max"] == "7" and row["explain_valley"] == "ungraded" and row["feedback"]
        assert (tmp_path / "grades_feedback" / f"{name}.md").is_file()
    assert "printed more than" in rows["prints_gigabytes"]["feedback"]
    assert "process limit" in rows["fork_bomb"]["feedback"]
    assert "not valid JSON" in rows["corrupt_json"]["feedback"]
    assert "belongs to the assignment 'adam'" in rows["wrong_assignment"]["feedback"]
    assert "momentum_step" in rows["honest_b"]["feedback"]
    # nothing escaped: no file outside, the other submission untouched
    assert not (outside / "escaped.txt").exists()
    assert (folder / "honest_a.ipynb").read_bytes() == honest_bytes
    assert any("status:" in line for line in lines)

    # the honest scores are the same when graded alone
    alone = tmp_path / "alone"
    alone.mkdir()
    for name in ("honest_a", "honest_b"):
        shutil.copy(folder / f"{name}.ipynb", alone)
    grading.grade("sgd_momentum", alone, tmp_path / "alone.csv", limits=HOSTILE,
                  progress=False, echo=lambda *a: None)
    solo = read_csv(tmp_path / "alone.csv")
    for name in ("honest_a", "honest_b"):
        assert solo[name] == rows[name]

    # resuming: only the missing rows are graded again, and the CSV comes out byte-identical
    first = out.read_bytes()
    kept = [line for line in first.decode().splitlines(keepends=True)
            if not line.startswith(("os_exit,", "honest_b,"))]
    out.write_text("".join(kept))
    runs = []
    real_run = sandbox.run
    monkeypatch.setattr(sandbox, "run", lambda *a, **k: runs.append(1) or real_run(*a, **k))
    grading.grade("sgd_momentum", folder, out, limits=HOSTILE, progress=False,
                  echo=lambda *a: None)
    assert len(runs) == 1 + 2                     # the model answer (canary) and the two rows
    assert out.read_bytes() == first


def test_rerun_is_deterministic(tmp_path):
    folder = tmp_path / "submissions"
    folder.mkdir()
    write_nb(folder / "a.ipynb", notebook(SOLUTION))
    write_nb(folder / "b.ipynb", notebook("import torch\ndef sgd_step(x, grad, lr):\n"
                                          "    return x - 2 * lr * grad"))
    csvs = []
    for run in range(2):
        out = tmp_path / f"run{run}.csv"
        grading.grade("sgd_momentum", folder, out, limits=FAST, progress=False,
                      echo=lambda *a: None)
        csvs.append(out.read_bytes())
    assert csvs[0] == csvs[1]
    assert read_csv(tmp_path / "run0.csv")["b"]["total"] == "0"


def test_refuses_without_bubblewrap(tmp_path, monkeypatch):
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    with pytest.raises(sandbox.SandboxUnavailable, match="apt-get install -y bubblewrap"):
        grading.grade("sgd_momentum", tmp_path, tmp_path / "g.csv", progress=False)
    assert not (tmp_path / "g.csv").exists()


def test_authoring_errors(tmp_path):
    nb = notebook("# TEST: t\n# POINTS: 1\nprint(1)")           # no hidden block
    path = tmp_path / "broken" / "source.ipynb"
    path.parent.mkdir()
    write_nb(path, nb)
    with pytest.raises(authoring.AuthoringError, match="hidden-tests block"):
        authoring.load(path)
    with pytest.raises(authoring.AuthoringError, match="no assignment"):
        authoring.load("does_not_exist")


def test_the_sandbox_sees_no_repository():
    job = json.dumps({"cells": [
        f"import os\nprint('REPO' if os.path.exists({str(Path(authoring.__file__).parent)!r}) "
        "else 'HIDDEN', os.getuid())"], "calls": [], "cell_timeout": 10, "call_timeout": 5})
    result = sandbox.run(job.encode(), b"{}", FAST)
    assert b"HIDDEN" in result.output and b"REPO" not in result.output
    assert [e["event"] for e in result.events][-1] == "done"
    if os.geteuid() == 0:
        assert b"65534" in result.output              # root dropped in the sandbox


# --- classes of any size: parallel jobs, shards, merging ---------------------------------
def class_folder(folder: Path) -> None:
    """Six submissions with different outcomes; the fork bomb runs beside honest work."""
    folder.mkdir()
    write_nb(folder / "alice.ipynb", notebook(SOLUTION))
    write_nb(folder / "bob.ipynb", notebook("import torch\ndef sgd_step(x, grad, lr):\n"
                                            "    return x - lr * grad"))
    write_nb(folder / "carol.ipynb", notebook(SOLUTION, "import os\nwhile True:\n    os.fork()"))
    write_nb(folder / "dave.ipynb", notebook(SOLUTION, "import os\nos._exit(3)"))
    (folder / "erin.ipynb").write_text('{"nbformat": 4, "cells": [')
    write_nb(folder / "frank.ipynb", notebook(SOLUTION.replace("x - lr * v", "x + lr * v")))


def test_parallel_jobs_give_the_same_csv_and_resume(tmp_path, monkeypatch):
    folder = tmp_path / "class"
    class_folder(folder)
    serial, parallel = tmp_path / "serial.csv", tmp_path / "parallel.csv"
    grading.grade("sgd_momentum", folder, serial, limits=FAST, progress=False,
                  echo=lambda *a: None, jobs=1)
    grading.grade("sgd_momentum", folder, parallel, limits=FAST, progress=False,
                  echo=lambda *a: None, jobs=2)
    assert parallel.read_bytes() == serial.read_bytes()
    rows = read_csv(serial)
    assert {k: (r["status"], r["total"]) for k, r in rows.items()} == {
        "alice": ("graded", "7"), "bob": ("graded", "2"), "carol": ("crashed", "7"),
        "dave": ("crashed", "0"), "erin": ("invalid notebook", "0"), "frank": ("graded", "4")}
    for name in rows:
        assert ((tmp_path / "parallel_feedback" / f"{name}.md").read_text()
                == (tmp_path / "serial_feedback" / f"{name}.md").read_text())
    # an interrupted parallel run: only the missing rows run again, the CSV comes out the same
    first = parallel.read_bytes()
    parallel.write_text("".join(line for line in first.decode().splitlines(keepends=True)
                                if not line.startswith(("bob,", "frank,"))))
    runs = []
    real_run = sandbox.run
    monkeypatch.setattr(sandbox, "run", lambda *a, **k: runs.append(k.get("slot")) or
                        real_run(*a, **k))
    grading.grade("sgd_momentum", folder, parallel, limits=FAST, progress=False,
                  echo=lambda *a: None, jobs=2)
    assert len(runs) == 1 + 2 and parallel.read_bytes() == first


def test_shards_merge_into_the_single_run(tmp_path):
    folder = tmp_path / "class"
    class_folder(folder)
    for i in (1, 2, 3):
        grading.grade("sgd_momentum", folder, tmp_path / f"part{i}.csv", limits=FAST,
                      progress=False, echo=lambda *a: None, shard=(i, 3), jobs=2)
    parts = [read_csv(tmp_path / f"part{i}.csv") for i in (1, 2, 3)]
    names = [set(p) for p in parts]
    assert set().union(*names) == {p.stem for p in folder.iterdir()}
    assert sum(map(len, names)) == 6                    # disjoint (a shard may be empty)
    grading.grade("sgd_momentum", folder, tmp_path / "whole.csv", limits=FAST,
                  progress=False, echo=lambda *a: None)
    inputs = [tmp_path / f"part{i}.csv" for i in (1, 2, 3)]
    merged = tmp_path / "merged.csv"
    grader.merge("sgd_momentum", inputs, merged, submissions=folder, echo=lambda *a: None)
    assert merged.read_bytes() == (tmp_path / "whole.csv").read_bytes()
    assert sorted(p.name for p in (tmp_path / "merged_feedback").iterdir()) == sorted(
        p.name for p in (tmp_path / "whole_feedback").iterdir())
    # a lost shard is an error naming the files without a row, not a shorter gradebook
    with pytest.raises(ValueError, match="no row in any shard"):
        grader.merge("sgd_momentum", inputs[:2], tmp_path / "short.csv", submissions=folder,
                     echo=lambda *a: None)
    assert not (tmp_path / "short.csv").exists()
    # the same student with different rows in two CSVs
    other = tmp_path / "other.csv"
    other.write_text(merged.read_text().replace("alice,graded,", "alice,crashed,"))
    with pytest.raises(ValueError, match="'alice' has different rows"):
        grader.merge("sgd_momentum", [merged, other], tmp_path / "x.csv", echo=lambda *a: None)


def test_shard_and_jobs_arguments(tmp_path):
    assert grader.parse_shard("2/5") == (2, 5)
    for bad in ("0/3", "4/3", "1-3", "a/b", ""):
        with pytest.raises(ValueError, match="shard must be 'i/n'"):
            grader.parse_shard(bad)
    with pytest.raises(ValueError, match="jobs must be a whole number >= 1, got 0"):
        grading.grade("sgd_momentum", tmp_path, tmp_path / "g.csv", jobs=0, progress=False)
    for args, message in ((["--shard", "0/3"], "shard must be 'i/n'"),
                          (["--jobs", "0"], "must be a whole number >= 1")):
        done = subprocess.run([sys.executable, "-m", "lecture_code.grading", "grade",
                               "sgd_momentum", str(tmp_path), "--out", str(tmp_path / "g.csv"),
                               *args], capture_output=True, text=True)
        assert done.returncode == 2 and message in done.stderr


# --- the canary: no class-wide zero -------------------------------------------------------
def test_canary_stops_grading_and_keeps_the_csv(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    write_nb(folder / "alice.ipynb", notebook(SOLUTION))
    out = tmp_path / "grades.csv"
    grading.grade("sgd_momentum", folder, out, limits=FAST, progress=False, echo=lambda *a: None)
    before = out.read_bytes()
    write_nb(folder / "bob.ipynb", notebook(SOLUTION))
    starved = dataclasses.replace(FAST, memory=64 * 1024 ** 2)     # torch cannot even load
    with pytest.raises(grader.ModelAnswerFailed, match=r"model answer of 'sgd_momentum' scored "
                       r"0 of 7 .*nothing was written"):
        grading.grade("sgd_momentum", folder, out, limits=starved, progress=False,
                      echo=lambda *a: None)
    assert out.read_bytes() == before                     # alice kept, no zero for bob
    assert not (tmp_path / "grades_feedback" / "bob.md").exists()
