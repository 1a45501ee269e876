"""Gradebook export (lecture_code.grading.export) on a made-up class: Canvas and Moodle uploads,
roster students without a submission, submissions without a roster entry."""
import csv
import subprocess
import sys
from pathlib import Path

import pytest

from lecture_code.grading import authoring, export
from lecture_code.grading.grader import columns

ROOT = Path(__file__).resolve().parents[1]


def write_csv(path: Path, fields: list[str], rows: list[dict]) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return path


def read(path: Path) -> list[dict]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture
def grades(tmp_path):
    assignment = authoring.load("sgd_momentum")
    fields = columns(assignment)

    def row(sid, total, manual="ungraded", status="graded"):
        return {"student_id": sid, "status": status, "sgd_step": "2", "momentum_step": "3",
                "nesterov_step": "2", "explain_valley": manual, "total": total, "max": "7",
                "feedback": f"feedback of {sid}", "sha256": "0" * 64}
    rows = [row("s001", "7", "2"), row("s002", "4", "1.5", "timeout"), row("s003", "0", "0"),
            row("walkin", "5", "1")]                     # walkin: not in the roster
    return write_csv(tmp_path / "grades.csv", fields, rows)


@pytest.fixture
def roster(tmp_path):
    fields = ["student_id", "Student", "ID", "SIS User ID", "SIS Login ID", "Section",
              "Email address"]
    rows = [{"student_id": f"s00{i}", "Student": f"Doe, Jo{i}", "ID": str(1000 + i),
             "SIS User ID": f"U{i}", "SIS Login ID": f"jo{i}", "Section": "A",
             "Email address": f"jo{i}@uni.example"} for i in (1, 2, 3, 4)]   # s004: absent
    return write_csv(tmp_path / "roster.csv", fields, rows)


def test_canvas_upload(grades, roster, tmp_path):
    out = tmp_path / "canvas.csv"
    lines = []
    result = export.export("sgd_momentum", grades, roster, out, lms="canvas",
                           title="Assignment 1 (4242)", echo=lines.append)
    rows = read(out)
    assert list(rows[0]) == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
                             "Assignment 1 (4242)"]
    assert [(r["ID"], r["Assignment 1 (4242)"]) for r in rows] == [
        ("1001", "7"), ("1002", "4"), ("1003", "0"), ("1004", "")]
    assert result.missing == ["s004"] and result.unmatched == ["walkin"]
    # the submission without a roster entry is listed and kept, whole
    assert any("walkin" in line and "NOT" in line for line in lines)
    assert read(result.unmatched_csv) == [r for r in read(grades) if r["student_id"] == "walkin"]


def test_moodle_upload_with_zero_for_missing_and_manual_points(grades, roster, tmp_path):
    out = tmp_path / "moodle.csv"
    export.export("sgd_momentum", grades, roster, out, lms="moodle", missing="zero",
                  include_manual=True, echo=lambda *a: None)
    rows = read(out)
    assert list(rows[0]) == ["Email address", "sgd_momentum", "Feedback"]
    assert [(r["Email address"], r["sgd_momentum"]) for r in rows] == [
        ("jo1@uni.example", "9"), ("jo2@uni.example", "5.5"), ("jo3@uni.example", "0"),
        ("jo4@uni.example", "0")]
    assert rows[0]["Feedback"] == "feedback of s001" and rows[3]["Feedback"] == "no submission"


def test_export_refuses_what_it_cannot_map(grades, roster, tmp_path):
    out = tmp_path / "x.csv"
    with pytest.raises(ValueError, match="'explain_valley' is 'ungraded', not a number"):
        fields = columns(authoring.load("sgd_momentum"))
        rows = read(grades)
        rows[0]["explain_valley"] = "ungraded"
        export.export("sgd_momentum", write_csv(tmp_path / "g2.csv", fields, rows), roster,
                      out, lms="canvas", include_manual=True, echo=lambda *a: None)
    with pytest.raises(ValueError, match="id_column 'Username' is not a column"):
        export.export("sgd_momentum", grades, roster, out, lms="moodle", id_column="Username",
                      echo=lambda *a: None)
    with pytest.raises(ValueError, match="lms must be one of"):
        export.export("sgd_momentum", grades, roster, out, lms="blackboard")
    bad = write_csv(tmp_path / "dup.csv", ["student_id", "ID"],
                    [{"student_id": "s001", "ID": "1"}, {"student_id": "s001", "ID": "2"}])
    with pytest.raises(ValueError, match="'s001' appears twice"):
        export.export("sgd_momentum", grades, bad, out, lms="canvas", echo=lambda *a: None)
    same = write_csv(tmp_path / "same.csv", ["student_id", "ID"],
                     [{"student_id": "s001", "ID": "1"}, {"student_id": "s002", "ID": "1"}])
    with pytest.raises(ValueError, match="same LMS identifier"):
        export.export("sgd_momentum", grades, same, out, lms="canvas", echo=lambda *a: None)
    with pytest.raises(ValueError, match="needs a 'student_id' column"):
        export.export("sgd_momentum", grades, write_csv(tmp_path / "r.csv", ["ID"], []), out,
                      lms="canvas", echo=lambda *a: None)
    with pytest.raises(ValueError, match="does not have the columns of 'adam'"):
        export.export("adam", grades, roster, out, lms="canvas", echo=lambda *a: None)
    assert not out.exists()


def test_export_command_line(grades, roster, tmp_path):
    out = tmp_path / "upload.csv"
    done = subprocess.run([sys.executable, "-m", "lecture_code.grading", "export",
                           "sgd_momentum", str(grades), "--roster", str(roster), "--lms",
                           "canvas", "--out", str(out)], capture_output=True, text=True,
                          cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert len(read(out)) == 4 and "walkin" in done.stdout
    done = subprocess.run([sys.executable, "-m", "lecture_code.grading", "export",
                           "sgd_momentum", str(grades), "--roster", str(tmp_path / "nope.csv"),
                           "--lms", "canvas", "--out", str(out)], capture_output=True, text=True,
                          cwd=ROOT)
    assert done.returncode == 2 and "roster CSV" in done.stderr and "does not exist" in done.stderr
