"""Reading a source notebook and generating its student version (our ``generate_assignment``).

Conventions (nbgrader's markers, our points syntax) -- see ``exercises/README.md``:

* ``### BEGIN SOLUTION`` / ``### END SOLUTION`` (code or markdown): replaced in the student
  version by a stub, ``raise NotImplementedError("...")`` in code (indented like the marker),
  ``YOUR ANSWER HERE`` in markdown.
* A graded code cell starts with ``# TEST: <name>`` and ``# POINTS: <n>``; its visible part (if
  any) stays for the student, its ``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS`` block
  is removed. The hidden block defines one function decorated with ``@hidden_test(...)``.
* A manually graded answer is a markdown cell containing ``<!-- MANUAL: <name> POINTS: <n> -->``.
"""
from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
TEST_RE = re.compile(r"^#\s*TEST:\s*([A-Za-z_][\w]*)\s*$", re.M)
POINTS_RE = re.compile(r"^#\s*POINTS:\s*(\d+(?:\.\d+)?)\s*$", re.M)
MANUAL_RE = re.compile(r"<!--\s*MANUAL:\s*([A-Za-z_]\w*)\s+POINTS:\s*(\d+(?:\.\d+)?)\s*-->")
STUB = 'raise NotImplementedError("replace this line with your code")'


class AuthoringError(ValueError):
    """The source notebook breaks the conventions."""


@dataclass
class GradedTest:
    name: str
    points: float
    hidden_code: str
    cell_index: int


@dataclass
class ManualQuestion:
    name: str
    points: float


@dataclass
class Assignment:
    name: str
    path: Path
    notebook: dict
    tests: list[GradedTest] = field(default_factory=list)
    manual: list[ManualQuestion] = field(default_factory=list)

    @property
    def max_points(self) -> float:
        return sum(t.points for t in self.tests)


def exercises_dir() -> Path:
    here = Path(__file__).resolve().parents[2] / "exercises"
    if here.is_dir():
        return here
    cwd = Path.cwd() / "exercises"
    if cwd.is_dir():
        return cwd
    raise AuthoringError("cannot find the exercises/ folder: run from the repository's root")


def source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def load(name_or_path: str | Path) -> Assignment:
    path = Path(name_or_path)
    if not path.suffix == ".ipynb":
        path = (path if path.is_dir() else exercises_dir() / str(name_or_path)) / "source.ipynb"
    if not path.is_file():
        available = sorted(p.parent.name for p in exercises_dir().glob("*/source.ipynb"))
        raise AuthoringError(f"no assignment {name_or_path!r}: expected {path}; available: "
                             f"{', '.join(available)}")
    notebook = json.loads(path.read_text())
    assignment = Assignment(path.parent.name, path, notebook)
    seen = set()
    for index, cell in enumerate(notebook["cells"]):
        text = source(cell)
        if cell["cell_type"] == "code":
            test, points = TEST_RE.search(text), POINTS_RE.search(text)
            if (BEGIN_HIDDEN in text) != bool(test) or bool(test) != bool(points):
                raise AuthoringError(f"{path} cell {index}: a graded cell needs '# TEST: name', "
                                     f"'# POINTS: n' and a hidden-tests block, all three")
            if test:
                hidden = _between(text, BEGIN_HIDDEN, END_HIDDEN, path, index)
                _unique(test.group(1), seen, path, index)
                assignment.tests.append(GradedTest(test.group(1), float(points.group(1)),
                                                   hidden, index))
        elif cell["cell_type"] == "markdown":
            for match in MANUAL_RE.finditer(text):
                _unique(match.group(1), seen, path, index)
                assignment.manual.append(ManualQuestion(match.group(1), float(match.group(2))))
    if not assignment.tests:
        raise AuthoringError(f"{path}: no graded test cells")
    return assignment


def _unique(name, seen, path, index):
    if name in seen:
        raise AuthoringError(f"{path} cell {index}: the name {name!r} is used twice")
    seen.add(name)


def _between(text, begin, end, path, index) -> str:
    if text.count(begin) != 1 or text.count(end) != 1 or text.index(begin) > text.index(end):
        raise AuthoringError(f"{path} cell {index}: expected one {begin!r} ... {end!r} block")
    return text[text.index(begin) + len(begin):text.index(end)]


def strip_solutions(text: str, markdown: bool) -> str:
    lines, out, inside = text.split("\n"), [], False
    for line in lines:
        stripped = line.strip()
        if stripped == BEGIN_SOLUTION:
            if inside:
                raise AuthoringError("nested BEGIN SOLUTION")
            inside = True
            indent = line[:len(line) - len(line.lstrip())]
            out.append("YOUR ANSWER HERE" if markdown else indent + STUB)
        elif stripped == END_SOLUTION:
            if not inside:
                raise AuthoringError("END SOLUTION without BEGIN SOLUTION")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise AuthoringError("BEGIN SOLUTION without END SOLUTION")
    return "\n".join(out)


def strip_hidden(text: str) -> str:
    begin, end = text.index(BEGIN_HIDDEN), text.index(END_HIDDEN) + len(END_HIDDEN)
    head = text[:begin].rstrip("\n")
    tail = text[end:].lstrip("\n")
    note = "# (hidden tests run here when your notebook is graded)"
    return "\n".join(part for part in (head, note, tail) if part)


def student_notebook(assignment: Assignment, *, keep_solutions: bool = False) -> dict:
    """The released notebook; ``keep_solutions=True`` gives the model answer as a student
    would submit it (hidden tests removed), which must score full marks."""
    nb = copy.deepcopy(assignment.notebook)
    for cell in nb["cells"]:
        text = source(cell)
        markdown = cell["cell_type"] == "markdown"
        if BEGIN_HIDDEN in text:
            text = strip_hidden(text)
        if not keep_solutions:
            text = strip_solutions(text, markdown)
        cell["source"] = text
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
        cell.get("metadata", {}).pop("grading", None)
    nb.setdefault("metadata", {})["grading"] = {"assignment": assignment.name}
    released = json.dumps(nb)
    markers = (BEGIN_HIDDEN, "hidden_test") if keep_solutions else \
        (BEGIN_HIDDEN, BEGIN_SOLUTION, "hidden_test")
    for marker in markers:
        if marker in released:
            raise AuthoringError(f"the student version of {assignment.name} still contains "
                                 f"{marker!r}: check the markers in {assignment.path}")
    return nb


def release(name_or_path, out_dir: str | Path) -> Path:
    """Write the student version of an assignment to ``out_dir/<assignment>.ipynb``."""
    assignment = load(name_or_path)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{assignment.name}.ipynb"
    target.write_text(json.dumps(student_notebook(assignment), indent=1, ensure_ascii=False)
                      + "\n")
    return target
