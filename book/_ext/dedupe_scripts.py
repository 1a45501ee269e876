"""Drop repeated scripts from the built pages (a Sphinx extension of the book).

sphinx-thebe 0.3.1 and sphinx-togglebutton, which Jupyter Book 1 always loads, can register the
same inline script twice, and the browser then reports "Identifier 'THEBE_JS_URL' has already
been declared". After the build, every page keeps only the first copy of each identical
``<script>`` line.
"""
from pathlib import Path


def dedupe_page(html: str) -> str:
    seen, lines = set(), []
    for line in html.splitlines(keepends=True):
        tag = line.strip()
        if tag.startswith("<script") and tag.endswith("</script>"):
            if tag in seen:
                continue
            seen.add(tag)
        lines.append(line)
    return "".join(lines)


def _dedupe_site(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    for page in Path(app.outdir).rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        fixed = dedupe_page(html)
        if fixed != html:
            page.write_text(fixed, encoding="utf-8")


def setup(app):
    app.connect("build-finished", _dedupe_site)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
