"""``python -m lecture_code.bench grading``: how many submissions the autograder grades a minute.

A class of ``--submissions`` honest submissions of one assignment (its model answer, each copy
with the student's own name in a comment, so that every file differs) is graded from scratch
with ``--jobs`` 1 and 2 (each its own fresh CSV, sandbox and canary included), ``--repeats``
times. Writes ``benchmarks/grading.md`` with the median wall time and the rate.
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from . import RESULTS, provenance, write_report
from ..grading import authoring, grader


def make_class(folder: Path, assignment: str, n: int) -> None:
    nb = authoring.student_notebook(authoring.load(assignment), keep_solutions=True)
    for i in range(n):
        student = f"student{i:03d}"
        copy = json.loads(json.dumps(nb))
        copy["cells"].insert(0, {"cell_type": "code", "metadata": {}, "outputs": [],
                                 "execution_count": None, "source": f"# {student}\n"})
        (folder / f"{student}.ipynb").write_text(json.dumps(copy))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m lecture_code.bench grading")
    parser.add_argument("--assignment", default="sgd_momentum")
    parser.add_argument("--submissions", type=int, default=40)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", default=str(RESULTS / "grading.md"))
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "submissions"
        folder.mkdir()
        make_class(folder, args.assignment, args.submissions)
        for jobs in args.jobs:
            times = []
            for repeat in range(args.repeats):
                out = Path(tmp) / f"grades-{jobs}-{repeat}.csv"
                start = time.perf_counter()
                graded = grader.grade(args.assignment, folder, out, jobs=jobs, progress=False,
                                      echo=lambda *a: None)
                times.append(time.perf_counter() - start)
                full = sum(float(r["total"]) == float(r["max"]) for r in graded)
                if full != args.submissions:
                    raise RuntimeError(f"only {full} of {args.submissions} honest submissions "
                                       "scored full marks")
            seconds = statistics.median(times)
            rows.append((jobs, seconds, 60 * args.submissions / seconds))
            print(f"jobs {jobs}: {seconds:.1f} s for {args.submissions} submissions "
                  f"({rows[-1][2]:.1f} per minute)", flush=True)
    base = rows[0][1]
    lines = [f"# Autograder throughput ({args.submissions} honest submissions of "
             f"`{args.assignment}`)", "", provenance(),
             "Each run grades the whole folder from scratch into a fresh CSV, the model answer "
             "(the canary) included; the median of "
             f"{args.repeats} runs. Every submission scored full marks.", "",
             "| jobs | seconds | submissions per minute | speed-up |", "|---:|---:|---:|---:|"]
    lines += [f"| {j} | {s:.1f} | {r:.1f} | {base / s:.2f}× |" for j, s, r in rows]
    write_report(args.out, lines)
    return 0
