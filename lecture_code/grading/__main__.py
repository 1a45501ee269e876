"""Command line: ``python -m lecture_code.grading {release,grade,check,list} ...``."""
from __future__ import annotations

import argparse
import sys

from . import authoring, grader, sandbox


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
    g.add_argument("--no-progress", action="store_true")
    sub.add_parser("check", help="check that a sandbox can be made here")
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
                         limits=limits, device=args.device, progress=not args.no_progress)
        elif args.command == "check":
            print(f"sandbox OK: {sandbox.check_available()}")
        elif args.command == "list":
            for path in sorted(authoring.exercises_dir().glob("*/source.ipynb")):
                a = authoring.load(path)
                manual = sum(q.points for q in a.manual)
                print(f"{a.name:20s} {a.max_points:g} autograded points in {len(a.tests)} tests"
                      f" + {manual:g} manual")
    except sandbox.SandboxUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (authoring.AuthoringError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
