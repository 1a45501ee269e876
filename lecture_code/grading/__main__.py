"""Command line: ``python -m lecture_code.grading {release,grade,merge,export,check,list} ...``."""
from __future__ import annotations

import argparse
import os
import sys

from . import authoring, export, grader, sandbox


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lecture_code.grading",
                                     description="Release exercises and grade submissions.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("release", help="write the student version of an assignment")
    p.add_argument("assignment", help="a folder name under exercises/ (or a source.ipynb path)")
    p.add_argument("--out", required=True, help="folder for <assignment>.ipynb")
    g = sub.add_parser("grade", help="grade every file of a folder of submissions")
    g.add_argument("assignment")
    g.add_argument("submissions", help="folder of <student_id>.ipynb files")
    g.add_argument("--out", required=True, help="the CSV to write (re-runs resume from it)")
    g.add_argument("--feedback", default=None,
                   help="folder for <student_id>.md feedback (default: <out stem>_feedback/)")
    defaults = sandbox.Limits()
    g.add_argument("--cell-timeout", type=float, default=defaults.cell_timeout, help="seconds")
    g.add_argument("--call-timeout", type=float, default=defaults.call_timeout, help="seconds")
    g.add_argument("--notebook-timeout", type=float, default=defaults.notebook_timeout,
                   help="seconds")
    g.add_argument("--memory-mb", type=int, default=defaults.memory // 1024 ** 2)
    g.add_argument("--max-processes", type=int, default=defaults.max_processes)
    g.add_argument("--max-output-kb", type=int, default=defaults.max_output // 1024)
    g.add_argument("--device", choices=("cpu",), default="cpu",
                   help="where the student's functions run (the sandbox has no GPU access)")
    g.add_argument("--jobs", type=_positive_int, default=os.cpu_count() or 1,
                   help="submissions graded at once, each in its own sandbox "
                        "(default: the number of cores)")
    g.add_argument("--shard", type=_shard, default=None, metavar="I/N",
                   help="grade only part I of N (1 <= I <= N) of the folder; combine the "
                        "parts' CSVs with `merge`")
    g.add_argument("--no-progress", action="store_true")
    m = sub.add_parser("merge", help="combine the CSVs of `grade --shard` runs into one")
    m.add_argument("assignment")
    m.add_argument("csvs", nargs="+", help="the shards' CSVs")
    m.add_argument("--out", required=True)
    m.add_argument("--submissions", default=None,
                   help="the submissions folder: check that every file in it has its row")
    m.add_argument("--feedback", default=None,
                   help="folder for the merged feedback (default: <out stem>_feedback/)")
    e = sub.add_parser("export", help="write the grade-upload CSV of Canvas or Moodle")
    e.add_argument("assignment")
    e.add_argument("grades", help="grades.csv written by `grade` (or `merge`)")
    e.add_argument("--roster", required=True,
                   help="CSV with student_id and the LMS's identifiers (see exercises/README.md)")
    e.add_argument("--lms", required=True, choices=export.LMS)
    e.add_argument("--out", required=True)
    e.add_argument("--title", default=None, help="the grade column's heading "
                   "(default: the assignment's name)")
    e.add_argument("--missing", choices=export.MISSING, default="empty",
                   help="grade of a roster student without a submission (default: empty)")
    e.add_argument("--id-column", default="Email address",
                   help="Moodle: the roster column that identifies the user")
    e.add_argument("--include-manual", action="store_true",
                   help="add the hand-graded points filled in grades.csv to the total")
    sub.add_parser("check", help="check that the sandbox can grade here (bubblewrap, and this "
                                 "Python environment's torch and numpy inside the sandbox)")
    sub.add_parser("list", help="list the assignments and their points")
    args = parser.parse_args(argv)
    try:
        if args.command == "release":
            print(authoring.release(args.assignment, args.out))
        elif args.command == "grade":
            limits = sandbox.Limits(cell_timeout=args.cell_timeout, call_timeout=args.call_timeout,
                                    notebook_timeout=args.notebook_timeout,
                                    memory=args.memory_mb * 1024 ** 2,
                                    max_processes=args.max_processes,
                                    max_output=args.max_output_kb * 1024)
            grader.grade(args.assignment, args.submissions, args.out, feedback_dir=args.feedback,
                         limits=limits, device=args.device, progress=not args.no_progress,
                         jobs=args.jobs, shard=args.shard)
        elif args.command == "merge":
            grader.merge(args.assignment, args.csvs, args.out, submissions=args.submissions,
                         feedback_dir=args.feedback)
        elif args.command == "export":
            export.export(args.assignment, args.grades, args.roster, args.out, lms=args.lms,
                          title=args.title, missing=args.missing, id_column=args.id_column,
                          include_manual=args.include_manual)
        elif args.command == "check":
            print(sandbox.check_environment())
        elif args.command == "list":
            for path in sorted(authoring.exercises_dir().glob("*/source.ipynb")):
                a = authoring.load(path)
                manual = sum(q.points for q in a.manual)
                print(f"{a.name:20s} {a.max_points:g} autograded points in {len(a.tests)} tests"
                      f" + {manual:g} manual")
    except sandbox.SandboxUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError) as exc:       # AuthoringError included
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _shard(text: str) -> tuple[int, int]:
    try:
        return grader.parse_shard(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}")
    return value


if __name__ == "__main__":
    sys.exit(main())
