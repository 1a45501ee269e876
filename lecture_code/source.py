"""Show the book's code on a page: the source of a function or class without its docstrings.

The docstrings are written for ``help()`` and Sphinx (reST roles such as ``:math:``); on a
chapter page, where the equation is already typeset in the text, they would appear as raw
markup. ``code_without_docstrings`` keeps the code, its comments and its layout, and drops only
the docstring of the object and of every function and class nested in it.
"""
from __future__ import annotations

import ast
import inspect
import textwrap


def code_without_docstrings(obj) -> str:
    """The source of ``obj`` (a function, method, class or property getter), docstrings removed."""
    if not (inspect.isfunction(obj) or inspect.ismethod(obj) or inspect.isclass(obj)):
        raise TypeError(f"obj must be a function, method or class, got {obj!r} "
                        f"of type {type(obj).__name__}")
    source = textwrap.dedent(inspect.getsource(obj))
    lines = source.split("\n")
    drop: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        first = node.body[0] if node.body else None
        if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)):
            drop |= set(range(first.lineno - 1, first.end_lineno))
            if len(node.body) == 1:            # a body that is only a docstring needs a statement
                indent = lines[first.lineno - 1][:first.col_offset]
                lines[first.lineno - 1] = indent + "..."
                drop.discard(first.lineno - 1)
    return "\n".join(line for k, line in enumerate(lines) if k not in drop).rstrip() + "\n"


def show_code(obj) -> None:
    """Print ``code_without_docstrings(obj)`` (what the chapters call to show the code)."""
    print(code_without_docstrings(obj), end="")
