"""Change the book's repository URL everywhere it appears, from one command.

The URL is set in ``_config.yml`` (``repository.url``: launch buttons, "edit this page", issue
links); each chapter's setup cell installs ``lecture_code`` from it on Colab, and
CONTRIBUTING.md shows that cell; book/how_to_use.md links to the repository's folders. ``tests/test_notebooks.py`` checks that they agree.

    python tools/set_repository_url.py https://github.com/OWNER/NAME
"""
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
URL = re.compile(r"^https://github\.com/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


def current_url() -> str:
    return yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]


def files_with_the_url() -> list[Path]:
    notebooks = sorted(p for p in (ROOT / "book").rglob("*.ipynb")
                       if ".ipynb_checkpoints" not in p.parts)
    return [ROOT / "_config.yml", ROOT / "CONTRIBUTING.md", ROOT / "book" / "how_to_use.md",
            *notebooks]


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not URL.match(argv[0]):
        print(__doc__)
        print(f"error: expected one URL like https://github.com/OWNER/NAME, got {argv!r}")
        return 2
    old, new = current_url(), argv[0]
    whole_url = re.compile(re.escape(old) + r"(?![A-Za-z0-9_-]|\.[A-Za-z0-9])")   # not longer
    for path in files_with_the_url():
        text = path.read_text()
        updated = whole_url.sub(new, text)
        if updated != text:
            path.write_text(updated)
            print(f"updated {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
