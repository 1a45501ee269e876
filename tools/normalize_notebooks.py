"""Bring every chapter notebook to the committed form (run after editing a notebook).

* notebook metadata: the python3 kernel only (no execution or widget state); nbformat 4.5,
  with an id on every cell (new cells get ``cell-<index>``);
* code cells: no outputs, except cells whose first line is ``# NBVAL_CHECK_OUTPUT``;
* widget cells (first line ``# NBVAL_IGNORE_OUTPUT``) keep no ``remove-output`` tag: the built
  page shows the widget's saved state (drawn by the vendored ipywidgets HTML manager).

``python tools/normalize_notebooks.py --check`` only reports notebooks that differ (CI uses it);
paths after the options limit it to those notebooks.
"""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KERNEL = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
          "language_info": {"name": "python"}}


def normalized(nb: dict) -> dict:
    nb = json.loads(json.dumps(nb))
    nb["metadata"] = KERNEL
    nb["nbformat"], nb["nbformat_minor"] = 4, max(nb.get("nbformat_minor", 0), 5)
    taken = {cell["id"] for cell in nb["cells"] if "id" in cell}
    for index, cell in enumerate(nb["cells"]):
        if "id" not in cell:                     # nbformat 4.5: every cell has a unique id
            cell_id, k = f"cell-{index}", 0
            while cell_id in taken:
                k += 1
                cell_id = f"cell-{index}-{k}"
            cell["id"] = cell_id
            taken.add(cell_id)
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        if not source.startswith("# NBVAL_CHECK_OUTPUT"):
            cell["outputs"], cell["execution_count"] = [], None
        tags = cell.setdefault("metadata", {}).get("tags", [])
        if source.startswith("# NBVAL_IGNORE_OUTPUT") and "remove-output" in tags:
            cell["metadata"]["tags"] = [t for t in tags if t != "remove-output"]
            if not cell["metadata"]["tags"]:
                del cell["metadata"]["tags"]
    return nb


def main(argv: list[str]) -> int:
    check = "--check" in argv
    chosen = [Path(arg).resolve() for arg in argv if not arg.startswith("--")]
    bad = []
    for path in chosen or sorted((ROOT / "book").rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        nb = json.loads(path.read_text())
        fixed = normalized(nb)
        if fixed != nb:
            bad.append(path.relative_to(ROOT))
            if not check:
                path.write_text(json.dumps(fixed, indent=1, ensure_ascii=False) + "\n")
    for path in bad:
        print(("not normalized: " if check else "normalized: ") + str(path))
    return 1 if check and bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
