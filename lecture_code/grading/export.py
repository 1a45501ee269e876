"""Gradebook export: ``grades.csv`` plus a roster, as the grade-upload CSV of Canvas or Moodle.

The roster is a CSV with a ``student_id`` column (the submission's file name without
``.ipynb``, as in ``grades.csv``) and the learning-management system's own identifiers:

* **Canvas** ("Grades > Import", a CSV with the columns of the gradebook export): ``Student``,
  ``ID``, ``SIS User ID``, ``SIS Login ID``, ``Section``; at least one of ``ID``,
  ``SIS User ID`` and ``SIS Login ID`` is needed. The easiest roster is Canvas's own gradebook
  export with a ``student_id`` column added. The grade column is headed with the assignment's
  title (an existing assignment's title with its id, ``Title (1234)``, updates it; a new title
  creates one).
* **Moodle** ("Grades > Import > CSV file"): one identifier column (default ``Email address``;
  at import, map it to the matching user field), the grade column (map it to the grade item)
  and ``Feedback`` (map it to the item's feedback).

Every roster student gets a row: without a submission, an empty grade (the LMS leaves it blank)
or an explicit 0, as the instructor chooses. Graded submissions whose student is not in the
roster are never dropped: they are listed and written, with their whole grades row, to
``<out stem>_unmatched.csv``.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from .authoring import load
from .grader import columns, read_csv, read_grades, write_csv

CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
CANVAS_IDS = ("ID", "SIS User ID", "SIS Login ID")
LMS = ("canvas", "moodle")
MISSING = ("empty", "zero")


@dataclasses.dataclass
class ExportResult:
    out: Path
    rows: int
    missing: list[str]          # roster students without a submission
    unmatched: list[str]        # graded students without a roster entry
    unmatched_csv: Path | None


def _score(row: dict, manual: list[str], include_manual: bool) -> str:
    total = float(row["total"])
    if include_manual:
        for name in manual:
            value = row[name].strip()
            try:
                total += float(value)
            except ValueError:
                raise ValueError(f"student {row['student_id']!r}: the hand-graded question "
                                 f"{name!r} is {value!r}, not a number; grade it in the CSV "
                                 "first, or export without --include-manual") from None
    return f"{total:g}"


def export(assignment_name: str, grades: str | Path, roster: str | Path, out: str | Path, *,
           lms: str, title: str | None = None, missing: str = "empty",
           id_column: str = "Email address", include_manual: bool = False,
           echo=print) -> ExportResult:
    """Write ``out``, the upload CSV for ``lms`` (``"canvas"`` or ``"moodle"``).

    ``title`` heads the grade column (default: the assignment's name); ``missing`` is
    ``"empty"`` or ``"zero"`` for roster students without a submission; ``id_column`` is the
    roster's identifier column for Moodle; ``include_manual`` adds the hand-graded points
    (which must then be numbers in ``grades``) to the autograded total.
    """
    if lms not in LMS:
        raise ValueError(f"lms must be one of {LMS}, got {lms!r}")
    if missing not in MISSING:
        raise ValueError(f"missing must be one of {MISSING}, got {missing!r}")
    assignment = load(assignment_name)
    grade_rows = read_grades(Path(grades), assignment)
    grade_fields = columns(assignment)
    roster_fields, roster_rows = read_csv(Path(roster), "roster CSV")
    if "student_id" not in roster_fields:
        raise ValueError(f"the roster {roster} needs a 'student_id' column (the submission "
                         f"file names without .ipynb); its columns are {roster_fields}")
    if lms == "canvas":
        if not any(c in roster_fields for c in CANVAS_IDS):
            raise ValueError(f"a Canvas roster needs one of the columns {list(CANVAS_IDS)}; "
                             f"{roster} has {roster_fields}")
        identifiers = [c for c in CANVAS_IDS if c in roster_fields]
    else:
        if id_column not in roster_fields:
            raise ValueError(f"id_column {id_column!r} is not a column of the roster {roster} "
                             f"({roster_fields})")
        identifiers = [id_column]
    seen_students, seen_ids = set(), {}
    for r in roster_rows:
        sid = r["student_id"].strip()
        if not sid:
            raise ValueError(f"the roster {roster} has a row without a student_id: {r}")
        if sid in seen_students:
            raise ValueError(f"student_id {sid!r} appears twice in the roster {roster}")
        seen_students.add(sid)
        key = tuple(r[c].strip() for c in identifiers)
        if not any(key):
            raise ValueError(f"roster student {sid!r} has no LMS identifier ({identifiers})")
        if key in seen_ids:
            raise ValueError(f"roster students {seen_ids[key]!r} and {sid!r} have the same LMS "
                             f"identifier {dict(zip(identifiers, key))}")
        seen_ids[key] = sid
    manual = [q.name for q in assignment.manual]
    by_student = {r["student_id"]: r for r in grade_rows}
    title = title or assignment.name
    rows, absent = [], []
    for r in roster_rows:
        sid = r["student_id"].strip()
        graded = by_student.get(sid)
        if graded is None:
            absent.append(sid)
            score, feedback = ("" if missing == "empty" else "0"), "no submission"
        else:
            score, feedback = _score(graded, manual, include_manual), graded["feedback"]
        if lms == "canvas":
            rows.append({**{c: r.get(c, "") for c in CANVAS_COLUMNS}, title: score})
        else:
            rows.append({id_column: r[id_column], title: score, "Feedback": feedback})
    fields = list(CANVAS_COLUMNS) + [title] if lms == "canvas" else [id_column, title, "Feedback"]
    out = Path(out)
    write_csv(out, rows, fields, sort=False)
    unmatched = sorted(set(by_student) - seen_students)
    unmatched_csv = None
    if unmatched:
        unmatched_csv = out.with_name(out.stem + "_unmatched.csv")
        write_csv(unmatched_csv, [by_student[s] for s in unmatched], grade_fields)
    echo(f"{lms} upload for {assignment.name}: {len(rows)} roster students -> {out}"
         f" ({len(rows) - len(absent)} with a grade, {len(absent)} without a submission: "
         f"{'empty' if missing == 'empty' else '0'})")
    if not include_manual and manual:
        echo(f"  autograded points only; the hand-graded questions ({', '.join(manual)}) are not "
             "included (fill them in grades.csv and export with --include-manual)")
    if unmatched:
        echo(f"  WARNING: {len(unmatched)} graded submissions have no roster entry and are NOT "
             f"in the upload: {', '.join(unmatched[:20])}{' ...' if len(unmatched) > 20 else ''}"
             f"; their rows are in {unmatched_csv}")
    return ExportResult(out, len(rows), absent, unmatched, unmatched_csv)
