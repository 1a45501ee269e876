"""Exercises and their sandboxed autograder.

* ``python -m lecture_code.grading release ASSIGNMENT --out DIR`` writes the student version of
  ``exercises/ASSIGNMENT/source.ipynb`` (solutions replaced by stubs, hidden tests removed).
* ``python -m lecture_code.grading check`` proves the sandbox can grade with this Python.
* ``python -m lecture_code.grading grade ASSIGNMENT SUBMISSIONS_DIR --out grades.csv`` runs every
  submission in a bubblewrap sandbox and writes one CSV row and one feedback file per file
  (``--jobs``, ``--shard`` and ``merge`` for large classes).
* ``python -m lecture_code.grading export ASSIGNMENT grades.csv --roster R --lms canvas|moodle``
  writes the gradebook's upload CSV.

See ``exercises/README.md`` for the instructor's walk-through and the authoring conventions.
"""
from .authoring import Assignment, AuthoringError, load, release, student_notebook
from .checks import hidden_test
from .grader import STATUSES, ModelAnswerFailed, grade, merge, prepare
from .sandbox import (Limits, PythonEnvironment, SandboxUnavailable, check_available,
                      check_environment)

__all__ = ["Assignment", "AuthoringError", "Limits", "ModelAnswerFailed", "PythonEnvironment",
           "STATUSES", "SandboxUnavailable", "check_available", "check_environment", "grade",
           "hidden_test", "load", "merge", "prepare", "release", "student_notebook"]
