"""The execution-times table says "passed" / "failed" in words (a Sphinx extension of the book).

myst-nb's ``{nb-exec-table}`` marks each notebook's status with the emoji ✅ or ❌. Fonts without
emoji (many Linux desktops, headless browsers) draw an empty box instead. After myst-nb has built
the table (its post-transform has priority 8), this one replaces the two emoji by words.
"""
from docutils import nodes
from sphinx.transforms.post_transforms import SphinxPostTransform

WORDS = {"✅": "passed", "❌": "failed"}


class ExecutionStatusWords(SphinxPostTransform):
    default_priority = 9   # after myst-nb's ExecutionStatsPostTransform (8)

    def run(self, **kwargs) -> None:
        for table in self.document.findall(nodes.table):
            for text in list(table.findall(nodes.Text)):
                if text.astext() in WORDS:
                    text.parent.replace(text, nodes.Text(WORDS[text.astext()]))


def setup(app):
    app.add_post_transform(ExecutionStatusWords)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
