"""Exercises and their sandboxed autograder.

* ``python -m lecture_code.grading release ASSIGNMENT --out DIR`` writes the student version of
  ``exercises/ASSIGNMENT/source.ipynb`` (solutions replaced by stubs, hidden tests removed).
* ``python -m lecture_code.grading grade ASSIGNMENT SUBMISSIONS_DIR --out grades.csv`` runs every
  submission in a bubblewrap sandbox and writes one CSV row and one feedback file per file.

See ``exercises/README.md`` for the instructor's walk-through and the authoring conventions.
"""
from .authoring import Assignment, AuthoringError, load, release, student_notebook
from .checks import hidden_test
from .grader import STATUSES, grade, prepare
from .sandbox import Limits, SandboxUnavailable, check_available

__all__ = ["Assignment", "AuthoringError", "Limits", "STATUSES", "SandboxUnavailable",
           "check_available", "grade", "hidden_test", "load", "prepare", "release",
           "student_notebook"]
