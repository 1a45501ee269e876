"""Grade a folder of submissions: one CSV row per file, whatever the file does."""
from __future__ import annotations

import collections
import csv
import dataclasses
import hashlib
import io
import json
import os
import re
import time
from pathlib import Path

from . import sandbox
from .authoring import Assignment, load, source
from .checks import RecordingCheck, ReplayCheck, collecting

STATUSES = ("graded", "timeout", "crashed", "invalid notebook", "memory limit")
MAX_NOTEBOOK_BYTES = 20 * 1024 ** 2
FEEDBACK_CHARS = 300


@dataclasses.dataclass
class PreparedTest:
    name: str
    points: float
    fn: object
    seed: int
    first_call: int
    n_calls: int


def prepare(assignment: Assignment) -> tuple[list[PreparedTest], list[dict]]:
    """Run the hidden tests' first pass (in this process, trusted code): the calls to make."""
    prepared, calls = [], []
    for test in assignment.tests:
        registered: list = []
        namespace = {"__name__": f"hidden_{test.name}"}
        with collecting(registered):
            exec(compile(test.hidden_code, f"<{assignment.name}:{test.name}>", "exec"), namespace)
        if len(registered) != 1:
            raise ValueError(f"{assignment.name}:{test.name}: the hidden block must define exactly "
                             f"one @hidden_test function, found {len(registered)}")
        fn, seed = registered[0]
        recorder = RecordingCheck()
        fn(recorder, _generator(seed))
        prepared.append(PreparedTest(test.name, test.points, fn, seed, len(calls),
                                     len(recorder.recorded)))
        calls.extend(recorder.recorded)
    return prepared, calls


def _generator(seed):
    import torch
    return torch.Generator().manual_seed(seed)


@dataclasses.dataclass
class Outcome:
    student_id: str
    sha256: str
    status: str
    scores: dict
    feedback: str
    details: list = dataclasses.field(default_factory=list)   # (test, points, max, message)
    notes: list = dataclasses.field(default_factory=list)
    seconds: float = 0.0
    cell_errors: list = dataclasses.field(default_factory=list)  # (code cell index, message)


def _head(path: Path) -> bytes:
    """At most MAX_NOTEBOOK_BYTES + 1 bytes of a file (a huge file is not read whole)."""
    with path.open("rb") as f:
        return f.read(MAX_NOTEBOOK_BYTES + 1)


def _short(text: str, n: int = FEEDBACK_CHARS) -> str:
    text = re.sub(r"\s+", " ", str(text)).strip()
    text = "".join(ch for ch in text if ch.isprintable())
    return text if len(text) <= n else text[:n - 3] + "..."


def parse_notebook(data: bytes, assignment: str) -> list[str]:
    """The code cells of a submission, or ValueError saying why it is not a usable notebook."""
    if len(data) > MAX_NOTEBOOK_BYTES:
        raise ValueError(f"the file is larger than {MAX_NOTEBOOK_BYTES // 1024 ** 2} MB")
    try:
        nb = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(f"the file is not a notebook (not valid JSON: {_short(exc, 80)})") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise ValueError("the file is JSON but not a Jupyter notebook (no list of cells)")
    if nb.get("nbformat") != 4:
        raise ValueError(f"expected a notebook in format version 4, got {nb.get('nbformat')!r}")
    meta = nb.get("metadata") if isinstance(nb.get("metadata"), dict) else {}
    grading = meta.get("grading") if isinstance(meta.get("grading"), dict) else {}
    other = grading.get("assignment")
    if other is not None and other != assignment:
        raise ValueError(f"this notebook belongs to the assignment {_short(other, 40)!r}, "
                         f"not {assignment!r}")
    cells = []
    for cell in nb["cells"]:
        if not isinstance(cell, dict) or not isinstance(cell.get("cell_type"), str):
            raise ValueError("a cell of the notebook is malformed")
        if cell["cell_type"] == "code":
            src = cell.get("source", "")
            if not (isinstance(src, str) or (isinstance(src, list)
                                             and all(isinstance(s, str) for s in src))):
                raise ValueError("a code cell's source is malformed")
            cells.append(source(cell))
    if not any(c.strip() for c in cells):
        raise ValueError("the notebook has no code")
    return cells


def grade_one(path: Path, assignment: Assignment, prepared, calls, limits: sandbox.Limits,
              device: str = "cpu") -> Outcome:
    student = path.stem
    data = _head(path)
    digest = hashlib.sha256(data).hexdigest()
    empty_scores = {t.name: 0.0 for t in prepared}
    try:
        cells = parse_notebook(data, assignment.name)
    except ValueError as exc:
        return Outcome(student, digest, "invalid notebook", empty_scores, _short(exc))
    job = {"cells": cells, "calls": calls, "cell_timeout": limits.cell_timeout,
           "call_timeout": limits.call_timeout, "device": device, "max_file": limits.max_file}
    result = sandbox.run(json.dumps(job).encode(), data, limits)
    results: list = [None] * len(calls)
    cell_errors, kinds, done = [], collections.Counter(), False
    for event in result.events:
        kind = event.get("kind")
        if kind in ("timeout", "memory", "process"):
            kinds[kind] += 1
        if event["event"] == "cell_end" and event.get("error"):
            cell_errors.append((event.get("index"), str(event["error"])))
        elif event["event"] == "call":
            index = event.get("index")
            if isinstance(index, int) and 0 <= index < len(calls) and results[index] is None:
                results[index] = {k: event[k] for k in ("result", "error") if k in event}
        elif event["event"] == "done":
            done = True
    notes = []
    if result.killed_reason == "timeout" or kinds["timeout"]:
        status = "timeout"
        notes.append(f"time limit exceeded (a cell may run {limits.cell_timeout:g} s, a "
                     f"function call {limits.call_timeout:g} s, the notebook "
                     f"{limits.notebook_timeout:g} s)")
    elif kinds["memory"]:
        status = "memory limit"
        notes.append(f"memory limit of {limits.memory // 1024 ** 2} MB exceeded")
    elif result.killed_reason == "output":
        status = "crashed"
        notes.append(f"the notebook printed more than {limits.max_output // 1024} kB; "
                     "it was stopped")
    elif result.killed_reason == "results":
        status = "crashed"
        notes.append("the functions returned too much data")
    elif kinds["process"]:
        status = "crashed"
        notes.append(f"process limit reached ({limits.max_processes} processes)")
    elif not done:
        status = "crashed"
        code = result.returncode
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        notes.append(f"the notebook's process ended early ({how})")
    else:
        status = "graded"
    scores, details = {}, []
    for test in prepared:
        replay = ReplayCheck(results[test.first_call:test.first_call + test.n_calls])
        try:
            test.fn(replay, _generator(test.seed))
            scores[test.name] = test.points
            details.append((test.name, test.points, test.points, "passed"))
        except AssertionError as exc:   # StudentError included
            scores[test.name] = 0.0
            details.append((test.name, 0.0, test.points, _short(exc, 200)))
        except Exception as exc:        # noqa: BLE001 - e.g. a result of the wrong kind
            scores[test.name] = 0.0
            details.append((test.name, 0.0, test.points, _short(f"{type(exc).__name__}: {exc}", 200)))
    failed = [msg if msg.startswith(name) else f"{name}: {msg}"
              for name, got, _, msg in details if msg != "passed"]
    passed = sum(1 for d in details if d[3] == "passed")
    parts = notes + [f"{passed}/{len(details)} tests passed"] + failed[:1]
    if cell_errors and status == "graded":
        index, error = cell_errors[0]
        parts.append(f"first error in code cell {index + 1 if isinstance(index, int) else '?'}: "
                     f"{error}")
    return Outcome(student, digest, status, scores, _short("; ".join(parts)), details,
                   notes + [f"code cell {i + 1 if isinstance(i, int) else '?'}: {_short(e, 200)}"
                            for i, e in cell_errors[:5]], result.seconds, cell_errors)


def columns(assignment: Assignment) -> list[str]:
    return (["student_id", "status"] + [t.name for t in assignment.tests]
            + [q.name for q in assignment.manual] + ["total", "max", "feedback", "sha256"])


def _fmt(x: float) -> str:
    return f"{x:g}"


def row(outcome: Outcome, assignment: Assignment) -> dict:
    r = {"student_id": outcome.student_id, "status": outcome.status,
         "total": _fmt(sum(outcome.scores.values())), "max": _fmt(assignment.max_points),
         "feedback": outcome.feedback, "sha256": outcome.sha256}
    r.update({name: _fmt(score) for name, score in outcome.scores.items()})
    r.update({q.name: "ungraded" for q in assignment.manual})
    return r


def write_feedback(outcome: Outcome, assignment: Assignment, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    total = sum(outcome.scores.values())
    lines = [f"# Feedback: {assignment.name}, {outcome.student_id}", "",
             f"**Status:** {outcome.status}  ", f"**Score:** {_fmt(total)} / "
             f"{_fmt(assignment.max_points)} (autograded; manually graded questions come later)",
             "", "| test | points | result |", "| --- | --- | --- |"]
    if outcome.details:
        for name, got, maximum, message in outcome.details:
            lines.append(f"| {name} | {_fmt(got)} / {_fmt(maximum)} | "
                         f"{message.replace('|', '/')} |")
    else:
        for test in assignment.tests:
            lines.append(f"| {test.name} | 0 / {_fmt(test.points)} | not run |")
    for q in assignment.manual:
        lines.append(f"| {q.name} (manual) | – / {_fmt(q.points)} | graded by hand |")
    lines += ["", "## Notes", ""] + [f"- {n}" for n in ([outcome.feedback] + outcome.notes)]
    (folder / f"{outcome.student_id}.md").write_text("\n".join(lines) + "\n")


def _write_csv(path: Path, rows: list[dict], fields: list[str]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for r in sorted(rows, key=lambda r: r["student_id"]):
        writer.writerow(r)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(buffer.getvalue())
    os.replace(tmp, path)


def _existing_rows(path: Path, fields: list[str]) -> dict:
    if not path.is_file():
        return {}
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != fields:
            return {}
        return {r["student_id"]: r for r in reader if None not in r.values()}


def grade(assignment_name: str, submissions: str | Path, out: str | Path, *,
          feedback_dir: str | Path | None = None, limits: sandbox.Limits | None = None,
          device: str = "cpu", progress: bool = True, echo=print,
          outcomes: dict | None = None) -> list[dict]:
    """Grade every file of ``submissions``; write ``out`` (CSV) and one feedback file each.

    Returns the rows, sorted by student id; ``outcomes`` (a dict), if given, receives the full
    :class:`Outcome` of every submission graded in this call.
    """
    sandbox.check_available()                      # refuse early, before anything runs
    limits = limits or sandbox.Limits()
    assignment = load(assignment_name)
    prepared, calls = prepare(assignment)
    folder = Path(submissions)
    if not folder.is_dir():
        raise FileNotFoundError(f"the submissions folder {folder} does not exist")
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    feedback_dir = Path(feedback_dir) if feedback_dir else out.with_name(out.stem + "_feedback")
    fields = columns(assignment)
    done = _existing_rows(out, fields)
    rows, start, timings = {}, time.monotonic(), []
    todo = []
    for path in files:
        previous = done.get(path.stem)
        digest = hashlib.sha256(_head(path)).hexdigest()
        if previous is not None and previous["sha256"] == digest:
            rows[path.stem] = previous
        else:
            todo.append(path)
    iterator = todo
    if progress and todo:
        from tqdm.auto import tqdm
        iterator = tqdm(todo, desc=f"grading {assignment.name}", unit="notebook")
    for path in iterator:
        outcome = grade_one(path, assignment, prepared, calls, limits, device)
        timings.append(outcome.seconds)
        if outcomes is not None:
            outcomes[path.stem] = outcome
        rows[path.stem] = row(outcome, assignment)
        write_feedback(outcome, assignment, feedback_dir)
        _write_csv(out, list(rows.values()), fields)
    _write_csv(out, list(rows.values()), fields)
    ordered = sorted(rows.values(), key=lambda r: r["student_id"])
    statuses = collections.Counter(r["status"] for r in ordered)
    totals = [float(r["total"]) for r in ordered]
    echo(f"\n{assignment.name}: {len(ordered)} submissions ({len(todo)} graded now, "
         f"{len(ordered) - len(todo)} kept from {out.name}) in {time.monotonic() - start:.1f} s")
    echo("  status: " + ", ".join(f"{s} {statuses[s]}" for s in STATUSES if statuses[s]))
    if totals:
        echo(f"  score: mean {sum(totals) / len(totals):.2f}, min {min(totals):g}, "
             f"max {max(totals):g} of {assignment.max_points:g} (autograded)")
    if assignment.manual:
        echo(f"  manual questions to grade by hand: {', '.join(q.name for q in assignment.manual)}")
    echo(f"  CSV: {out}   feedback: {feedback_dir}/")
    return ordered
