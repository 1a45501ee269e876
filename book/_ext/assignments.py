"""The graded assignments on the site (a Sphinx extension of the book).

At the end of every HTML build the student version of each assignment under ``exercises/`` is
released into the site, ``_build/html/assignments/<name>.ipynb``, by the same command an
instructor runs, ``python -m lecture_code.grading release <name> --out DIR``: the source
notebooks (with model answers and hidden tests) never reach the site. In a chapter the role
``{assignment}`name``` links to that student notebook::

    Graded assignment: {assignment}`sgd_momentum`.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from docutils import nodes
from sphinx.util import logging

logger = logging.getLogger(__name__)
EXERCISES = Path(__file__).resolve().parents[2] / "exercises"


def assignment_names() -> list[str]:
    return sorted(p.parent.name for p in EXERCISES.glob("*/source.ipynb"))


def _title(name: str) -> str:
    """The first heading of the assignment's notebook, without its '#'."""
    cells = json.loads((EXERCISES / name / "source.ipynb").read_text())["cells"]
    for cell in cells:
        text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        for line in text.splitlines():
            if cell["cell_type"] == "markdown" and line.startswith("# "):
                return line[2:].strip()
    return name


def assignment_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    """``{assignment}`sgd_momentum``` -> a link to the released student notebook."""
    key = text.strip()
    if key not in assignment_names():
        message = inliner.reporter.error(
            f"unknown assignment {key!r}: expected one of {assignment_names()}", line=lineno)
        return [inliner.problematic(rawtext, rawtext, message)], [message]
    env = inliner.document.settings.env
    depth = env.docname.count("/")
    uri = "../" * depth + f"assignments/{key}.ipynb"
    link = nodes.reference(rawtext, "", refuri=uri, classes=["assignment-link"])
    link += nodes.Text(f"{_title(key)} (student notebook, .ipynb)")
    return [link], []


def release_all(app, exception):
    """Release every assignment's student version into the site (HTML builds only)."""
    if exception is not None or app.builder.format != "html":
        return
    out = Path(app.outdir) / "assignments"
    out.mkdir(parents=True, exist_ok=True)
    for name in assignment_names():
        result = subprocess.run([sys.executable, "-m", "lecture_code.grading", "release", name,
                                 "--out", str(out)], capture_output=True, text=True,
                                cwd=EXERCISES.parent)
        if result.returncode != 0:
            raise RuntimeError(f"releasing assignment {name!r} failed: {result.stderr[-2000:]}")
    logger.info(f"released {len(assignment_names())} assignments into {out}")


def setup(app):
    app.add_role("assignment", assignment_role)
    app.connect("build-finished", release_all)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
