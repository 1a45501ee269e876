"""Keep the test scaffolding of the chapters off the built pages (a Sphinx extension of the book).

nbval reads markers such as ``# NBVAL_CHECK_OUTPUT`` from the first line of a code cell; they
matter to the test suite, not to the reader. After a notebook is parsed, every such marker line
is dropped from the code cells' displayed source. The cells still execute, with the marker, in
the build and in nbval. (Assertion and glue cells are hidden by their ``remove-cell`` tag.)
"""
from docutils import nodes

MARKER = "# NBVAL_"


def strip_markers(source: str) -> str:
    """``source`` without its lines that are nbval markers (``# NBVAL_...`` and nothing else)."""
    kept = [line for line in source.split("\n")
            if not (line.strip().startswith(MARKER) and " " not in line.strip()[2:])]
    return "\n".join(kept).strip("\n")


def _strip_cells(app, doctree):
    for block in list(doctree.findall(nodes.literal_block)):
        parent = block.parent
        if not isinstance(parent, nodes.container) or "cell_input" not in parent.get("classes", []):
            continue
        text = block.astext()
        if MARKER not in text:
            continue
        fixed = strip_markers(text)
        block.children = []
        block += nodes.Text(fixed)
        block.rawsource = fixed


def setup(app):
    app.connect("doctree-read", _strip_cells)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
