"""lecture_code.source: the code the chapters show, without reST docstrings."""
import ast

import pytest

from lecture_code.optimizers.classic import adagrad_rule
from lecture_code.source import code_without_docstrings


class Example:
    """Class docstring with :math:`x`."""

    def method(self, x):
        r"""Method docstring.

        .. math:: y = 2x
        """
        return 2 * x   # the comment stays

    def only_doc(self):
        """Nothing else."""


def test_docstrings_are_removed_and_code_and_comments_kept():
    code = code_without_docstrings(Example)
    assert ":math:" not in code and "docstring" not in code and "Nothing else" not in code
    assert "return 2 * x   # the comment stays" in code
    ast.parse(code)                                   # still valid Python
    namespace = {}
    exec(code, namespace)
    assert namespace["Example"]().method(3) == 6 and namespace["Example"]().only_doc() is None


def test_a_library_function_loses_its_math_markup_only():
    code = code_without_docstrings(adagrad_rule)
    assert ".. math::" not in code and ":math:" not in code
    assert code.startswith("def adagrad_rule(") and "sum_of_squares += grad * grad" in code


def test_rejects_what_has_no_source():
    with pytest.raises(TypeError, match="obj must be a function"):
        code_without_docstrings(3)
