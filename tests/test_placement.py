"""The placement rule of the package: library modules never import ``lecture_code.widgets``.

A topic's figures and explorers live in ``lecture_code/widgets/<topic>.py`` and import the
library, never the other way round (so the library imports without ipywidgets or a display).
"""
import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "lecture_code"


def widget_imports(path: Path) -> list[str]:
    """``lecture_code.widgets`` imports in ``path`` (absolute or relative), as ``line: text``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = ["lecture_code", *path.relative_to(PACKAGE).parent.parts]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            names = [module] + [f"{module}.{alias.name}" for alias in node.names]
        else:
            continue
        if any(name == "lecture_code.widgets" or name.startswith("lecture_code.widgets.")
               for name in names):
            found.append(f"{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_library_module_imports_the_widgets():
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if "widgets" in path.relative_to(PACKAGE).parts[:1]:
            continue
        if found := widget_imports(path):
            offenders[str(path.relative_to(PACKAGE.parent))] = found
    assert not offenders, f"library modules import lecture_code.widgets: {offenders}"


def test_the_check_sees_every_form_of_the_import(tmp_path, monkeypatch):
    fake = tmp_path / "lecture_code"
    (fake / "bench").mkdir(parents=True)
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    forms = ["from .widgets import live_figure", "from . import widgets",
             "import lecture_code.widgets.static", "from lecture_code.widgets import x"]
    for i, line in enumerate(forms):
        (fake / f"m{i}.py").write_text(f"def f():\n    {line}\n")
        assert widget_imports(fake / f"m{i}.py") == [f"2: {line}"], line
    (fake / "bench" / "b.py").write_text("from ..widgets import hyperparameters_for\n")
    assert widget_imports(fake / "bench" / "b.py")
    (fake / "ok.py").write_text("from .optimizers import hyperparameters_for\nimport widgets\n")
    assert widget_imports(fake / "ok.py") == []
