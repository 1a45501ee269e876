"""Grade a folder of submissions: one CSV row per file, whatever the file does."""
from __future__ import annotations

import collections
import concurrent.futures
import csv
import dataclasses
import hashlib
import io
import json
import os
import queue
import re
import shutil
import time
from pathlib import Path

from . import sandbox
from .authoring import Assignment, load, source, student_notebook
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
              device: str = "cpu", *, environment: sandbox.PythonEnvironment | None = None,
              slot: int = 0) -> Outcome:
    """Grade one file (its first ``MAX_NOTEBOOK_BYTES + 1`` bytes)."""
    return grade_bytes(path.stem, _head(path), assignment, prepared, calls, limits, device,
                       environment=environment, slot=slot)


def grade_bytes(student: str, data: bytes, assignment: Assignment, prepared, calls,
                limits: sandbox.Limits, device: str = "cpu", *,
                environment: sandbox.PythonEnvironment | None = None, slot: int = 0) -> Outcome:
    digest = hashlib.sha256(data).hexdigest()
    empty_scores = {t.name: 0.0 for t in prepared}
    try:
        cells = parse_notebook(data, assignment.name)
    except ValueError as exc:
        return Outcome(student, digest, "invalid notebook", empty_scores, _short(exc))
    job = {"cells": cells, "calls": calls, "cell_timeout": limits.cell_timeout,
           "call_timeout": limits.call_timeout, "device": device, "max_file": limits.max_file}
    result = sandbox.run(json.dumps(job).encode(), data, limits, environment=environment,
                         slot=slot)
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


def write_csv(path: Path, rows: list[dict], fields: list[str], *, sort: bool = True) -> None:
    """Write ``rows`` (sorted by student id unless ``sort`` is false) atomically: a reader never
    sees half a file, and an interrupted run leaves the previous CSV whole."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(sorted(rows, key=lambda r: r["student_id"]) if sort else rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(buffer.getvalue(), encoding="utf-8")
    os.replace(tmp, path)


def read_csv(path: Path, what: str) -> tuple[list[str], list[dict]]:
    """The columns and rows of a CSV (a grades file, a roster); FileNotFoundError naming it."""
    if not path.is_file():
        raise FileNotFoundError(f"the {what} {path} does not exist")
    with path.open(newline="", encoding="utf-8-sig") as f:     # Excel writes a BOM
        reader = csv.DictReader(f)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def read_grades(path: Path, assignment: Assignment, what: str = "grades CSV") -> list[dict]:
    """The rows of a CSV written by :func:`grade`; ValueError unless it has the assignment's
    columns."""
    fields, rows = read_csv(Path(path), what)
    if fields != columns(assignment):
        raise ValueError(f"{path} does not have the columns of {assignment.name!r} "
                         f"({columns(assignment)}); got {fields}")
    return rows


def _existing_rows(path: Path, fields: list[str]) -> dict:
    """The complete rows of an earlier run's CSV (none if it is missing or of other columns)."""
    if not path.is_file():
        return {}
    found, rows = read_csv(path, "grades CSV")
    if found != fields:
        return {}
    return {r["student_id"]: r for r in rows if None not in r.values()}


class ModelAnswerFailed(sandbox.SandboxUnavailable):
    """The assignment's model answer did not score full marks in this sandbox, so every
    submission would be graded wrongly; nothing was graded."""


def canary(assignment: Assignment, prepared, calls, limits: sandbox.Limits, device: str = "cpu",
           *, environment: sandbox.PythonEnvironment | None = None) -> Outcome:
    """Grade the model answer in the sandbox every submission will run in; raise
    :class:`ModelAnswerFailed` (saying why) unless it scores full marks."""
    model = json.dumps(student_notebook(assignment, keep_solutions=True)).encode()
    outcome = grade_bytes("(model answer)", model, assignment, prepared, calls, limits, device,
                          environment=environment)
    total = sum(outcome.scores.values())
    if outcome.status == "graded" and total == assignment.max_points:
        return outcome
    try:
        diagnosis = sandbox.check_environment(environment, limits=limits)
        diagnosis = ("the sandbox itself works (" + diagnosis.removeprefix("sandbox OK: ") +
                     "), so look at the limits and at the assignment")
    except sandbox.SandboxUnavailable as exc:
        diagnosis = f"why: {exc}"
    raise ModelAnswerFailed(
        f"the model answer of {assignment.name!r} scored {_fmt(total)} of "
        f"{_fmt(assignment.max_points)} (status {outcome.status}: {outcome.feedback}) in this "
        f"sandbox, so every submission would be graded wrongly. Grading stopped before any "
        f"submission was graded; nothing was written. {diagnosis}")


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"`` (1 <= i <= n) as a pair; ValueError naming the argument otherwise."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(text))
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        raise ValueError(f"shard must be 'i/n' with 1 <= i <= n (e.g. '2/5'), got {text!r}")
    return int(match[1]), int(match[2])


def in_shard(student_id: str, shard: tuple[int, int] | None) -> bool:
    """Whether a submission belongs to shard ``(i, n)``: decided by its name alone (a hash), so
    that every machine computes the same split whatever else the folder holds."""
    if shard is None:
        return True
    i, n = shard
    return int(hashlib.sha256(student_id.encode()).hexdigest(), 16) % n == i - 1


def submission_files(folder: Path, shard: tuple[int, int] | None = None) -> list[Path]:
    """The files that get a row: every file not starting with a dot (in ``shard``, if given)."""
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
                  and in_shard(p.stem, shard))


def grade(assignment_name: str, submissions: str | Path, out: str | Path, *,
          feedback_dir: str | Path | None = None, limits: sandbox.Limits | None = None,
          device: str = "cpu", progress: bool = True, echo=print,
          outcomes: dict | None = None, jobs: int = 1, shard: tuple[int, int] | None = None,
          environment: sandbox.PythonEnvironment | None = None) -> list[dict]:
    """Grade every file of ``submissions``; write ``out`` (CSV) and one feedback file each.

    ``jobs`` submissions run at once, each in its own sandbox (the CSV does not depend on it);
    ``shard=(i, n)`` grades only the i-th of n disjoint parts of the folder (see :func:`merge`).
    Before any submission, the model answer is graded as a canary (:func:`canary`).
    Returns the rows, sorted by student id; ``outcomes`` (a dict), if given, receives the full
    :class:`Outcome` of every submission graded in this call.
    """
    sandbox.check_available()                      # refuse early, before anything runs
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise ValueError(f"jobs must be a whole number >= 1, got {jobs!r}")
    limits = limits or sandbox.Limits()
    assignment = load(assignment_name)
    prepared, calls = prepare(assignment)
    folder = Path(submissions)
    if not folder.is_dir():
        raise FileNotFoundError(f"the submissions folder {folder} does not exist")
    out = Path(out)
    environment = environment or sandbox.PythonEnvironment.current(
        hidden=(folder.resolve(), out.resolve().parent))
    files = submission_files(folder, shard)
    out.parent.mkdir(parents=True, exist_ok=True)
    feedback_dir = Path(feedback_dir) if feedback_dir else out.with_name(out.stem + "_feedback")
    fields = columns(assignment)
    done = _existing_rows(out, fields)
    rows, start = {}, time.monotonic()
    todo = []
    for path in files:
        previous = done.get(path.stem)
        digest = hashlib.sha256(_head(path)).hexdigest()
        if previous is not None and previous["sha256"] == digest:
            rows[path.stem] = previous
        else:
            todo.append(path)
    if todo:
        canary(assignment, prepared, calls, limits, device, environment=environment)
    bar = None
    if progress and todo:
        from tqdm.auto import tqdm
        bar = tqdm(total=len(todo), desc=f"grading {assignment.name}", unit="notebook")

    def record(path: Path, outcome: Outcome) -> None:
        if outcomes is not None:
            outcomes[path.stem] = outcome
        rows[path.stem] = row(outcome, assignment)
        write_feedback(outcome, assignment, feedback_dir)
        write_csv(out, list(rows.values()), fields)
        if bar is not None:
            bar.update()

    slots: queue.SimpleQueue = queue.SimpleQueue()       # sandbox slots: one uid each
    for slot in range(jobs):
        slots.put(slot)

    def work(path: Path) -> Outcome:
        slot = slots.get()
        try:
            return grade_one(path, assignment, prepared, calls, limits, device,
                             environment=environment, slot=slot)
        finally:
            slots.put(slot)
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(work, path): path for path in todo}
        for future in concurrent.futures.as_completed(futures):   # recorded in this thread
            record(futures[future], future.result())
    if bar is not None:
        bar.close()
    if not todo:
        write_csv(out, list(rows.values()), fields)       # e.g. an empty shard: its header
    ordered = sorted(rows.values(), key=lambda r: r["student_id"])
    statuses = collections.Counter(r["status"] for r in ordered)
    totals = [float(r["total"]) for r in ordered]
    part = f" (shard {shard[0]}/{shard[1]})" if shard else ""
    echo(f"\n{assignment.name}{part}: {len(ordered)} submissions ({len(todo)} graded now, "
         f"{len(ordered) - len(todo)} kept from {out.name}) in {time.monotonic() - start:.1f} s")
    echo("  status: " + ", ".join(f"{s} {statuses[s]}" for s in STATUSES if statuses[s]))
    if totals:
        echo(f"  score: mean {sum(totals) / len(totals):.2f}, min {min(totals):g}, "
             f"max {max(totals):g} of {assignment.max_points:g} (autograded)")
    if assignment.manual:
        echo(f"  manual questions to grade by hand: {', '.join(q.name for q in assignment.manual)}")
    echo(f"  CSV: {out}   feedback: {feedback_dir}/")
    return ordered


def merge(assignment_name: str, inputs: list[str | Path], out: str | Path, *,
          submissions: str | Path | None = None, feedback_dir: str | Path | None = None,
          echo=print) -> list[dict]:
    """Combine the CSVs of shard runs into the CSV one run over the whole folder would give.

    Every input must have this assignment's columns. A student in two inputs must have the same
    row in both (else ValueError). Each input's feedback folder (``<stem>_feedback/``), where it
    exists, is copied into ``feedback_dir`` (default ``<out stem>_feedback/``). With
    ``submissions``, every file of that folder must have a row whose SHA-256 matches it, so that
    a missing or stale shard is an error, not a silently lost row.
    """
    assignment = load(assignment_name)
    fields = columns(assignment)
    out = Path(out)
    rows: dict = {}
    for path in map(Path, inputs):
        for r in read_grades(path, assignment, "shard CSV"):
            previous = rows.get(r["student_id"])
            if previous is not None and previous[1] != r:
                raise ValueError(f"student {r['student_id']!r} has different rows in "
                                 f"{previous[0]} and {path}")
            rows[r["student_id"]] = (path, r)
    if submissions is not None:
        problems = []
        for file in submission_files(Path(submissions)):
            got = rows.get(file.stem)
            if got is None:
                problems.append(f"{file.name}: no row in any shard")
            elif got[1]["sha256"] != hashlib.sha256(_head(file)).hexdigest():
                problems.append(f"{file.name}: changed since it was graded (SHA-256 differs)")
        if problems:
            raise ValueError(f"the shards do not cover {submissions}: " + "; ".join(problems[:20])
                             + (f" and {len(problems) - 20} more" if len(problems) > 20 else ""))
    write_csv(out, [r for _, r in rows.values()], fields)
    feedback_dir = Path(feedback_dir) if feedback_dir else out.with_name(out.stem + "_feedback")
    for path in map(Path, inputs):
        source_dir = path.with_name(path.stem + "_feedback")
        if source_dir.is_dir() and source_dir.resolve() != feedback_dir.resolve():
            feedback_dir.mkdir(parents=True, exist_ok=True)
            for md in source_dir.glob("*.md"):
                shutil.copyfile(md, feedback_dir / md.name)
    echo(f"{assignment.name}: {len(rows)} rows from {len(inputs)} CSVs -> {out}")
    return sorted((r for _, r in rows.values()), key=lambda r: r["student_id"])
