"""Self-study on the static page: self-checks, concept questions, hints and solutions, and an
edition without solutions (a Sphinx extension of the book).

Two directives mark up what the reader can check without a kernel; ``self_check.js`` (shipped
with the book) turns them into controls in the browser:

* ``numeric-check``: a question whose answer is a number. The directive's body is the answer,
  parsed as MyST, so it can be a glued value (``{glue:text}`aug_test:.1f```) and always agrees
  with the computation. ``:tolerance:`` says how far an answer may be off::

      :::{numeric-check} By how many points did augmentation raise test accuracy?
      :tolerance: 0.5
      {glue:text}`gain_augmentation:.1f`
      :::

* ``quiz``: a multiple-choice question. The body is a bullet list, one item per option: the
  item's first paragraph is the option, the rest the explanation shown once it is chosen;
  ``:answer:`` is the number of the right option (1 is the first).

Hints and solutions are ordinary collapsed admonitions with the class ``hint`` or ``solution``
(``:class: dropdown solution``); a code cell that computes a solution carries the cell tag
``solution``.

**The edition without solutions.** ``BOOK_SOLUTIONS=0 jupyter-book build . --path-output
_build/no-solutions`` builds the book without any solution admonition, solution cell or answer
key (instructors who assign the chapter exercises publish that one); the self-checks then say
that their answers are not part of the edition. The default build includes everything.
"""
from __future__ import annotations

import os

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util.docutils import SphinxDirective

#: Classes of what the edition without solutions leaves out.
SOLUTION_CLASSES = {"solution", "answer-key", "tag_solution"}


def solutions_included() -> bool:
    """False when the environment variable ``BOOK_SOLUTIONS`` is 0, no, false or off."""
    return os.environ.get("BOOK_SOLUTIONS", "1").strip().lower() not in {"0", "no", "false", "off"}


def _nonnegative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise ValueError(f"tolerance must be a number >= 0, got {text!r}")
    return value


class _Check(SphinxDirective):
    """What both directives share: the question (the argument) in a container of the check."""

    has_content = True
    optional_arguments = 1
    final_argument_whitespace = True
    kind = ""

    def _frame(self) -> nodes.container:
        box = nodes.container(classes=["self-check", self.kind])
        self.set_source_info(box)
        if self.arguments:
            question = nodes.paragraph(classes=["self-check-question"])
            text_nodes, messages = self.state.inline_text(self.arguments[0], self.lineno)
            question += text_nodes
            box += question
            box += messages
        return box

    def _answer_key(self, node: nodes.Node) -> nodes.container:
        key = nodes.container(classes=["answer-key"])
        key += node
        return key


class NumericCheck(_Check):
    kind = "numeric-check"
    option_spec = {"tolerance": _nonnegative_float, "unit": directives.unchanged}

    def run(self):
        if "tolerance" not in self.options:
            raise self.error("numeric-check needs :tolerance: (how far an answer may be off, >= 0)")
        if not self.content:
            raise self.error("numeric-check needs its answer as its body (a number or a glued value)")
        box = self._frame()
        answer = nodes.container()
        self.state.nested_parse(self.content, self.content_offset, answer)
        box += self._answer_key(answer)
        box += nodes.container("", nodes.Text(repr(self.options["tolerance"])),
                               classes=["self-check-tolerance"])
        if self.options.get("unit"):
            box += nodes.container("", nodes.Text(self.options["unit"]), classes=["self-check-unit"])
        return [box]


class Quiz(_Check):
    kind = "quiz"
    option_spec = {"answer": directives.positive_int}

    def run(self):
        if "answer" not in self.options:
            raise self.error("quiz needs :answer: (the number of the right option, 1 for the first)")
        box = self._frame()
        body = nodes.container(classes=["quiz-options"])
        self.state.nested_parse(self.content, self.content_offset, body)
        lists = [n for n in body.children if isinstance(n, nodes.bullet_list)]
        if len(lists) != 1:
            raise self.error("quiz needs its options as one bullet list")
        options = len(lists[0].children)
        if not 2 <= options or self.options["answer"] > options:
            raise self.error(f"quiz :answer: {self.options['answer']} is not one of its "
                             f"{options} options")
        box += body
        box += self._answer_key(nodes.paragraph("", str(self.options["answer"])))
        return [box]


def _drop_solutions(app, doctree):
    """In the edition without solutions, remove every node that carries a solution class."""
    if app.config.self_study_solutions:
        return
    for node in list(doctree.findall(nodes.Element)):
        if SOLUTION_CLASSES & set(node.get("classes", [])) and node.parent is not None:
            node.parent.remove(node)


def _edition(app, config):
    """Without solutions, the site also ships no copy of the notebooks' sources (``_sources``
    and the page's download button would hand out the solutions)."""
    if config.self_study_solutions:
        return
    config.html_copy_source = False
    config.html_show_sourcelink = False
    config.html_theme_options = {**config.html_theme_options, "use_download_button": False}


def setup(app):
    app.add_config_value("self_study_solutions", solutions_included(), "env")
    app.connect("config-inited", _edition)
    app.add_directive("numeric-check", NumericCheck)
    app.add_directive("quiz", Quiz)
    app.connect("doctree-read", _drop_solutions)
    app.add_js_file("book/self_check.js")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
