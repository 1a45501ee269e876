"""Preview one chapter's slide deck while writing it: execute the notebook, build its deck, and
save every slide as a 1280x720 PNG, reporting slides whose content runs past the slide.

    python tools/preview_deck.py book/optimization/sgd.ipynb --out /tmp/sgd-deck

The deck is built exactly as the book build builds it (book/_ext/slides.py), from a fresh
execution of the notebook (not the book's cache), into OUT/html/slides/<chapter>.slides.html;
the PNGs are OUT/slide-NN.png. Needs Chromium (apt-get install chromium) for the PNGs;
--no-shots only builds the deck.
"""
from __future__ import annotations

import argparse
import functools
import http.server
import json
import shutil
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))

import slides  # noqa: E402  (book/_ext/slides.py)


def execute(notebook_path: Path, out: Path) -> str:
    """Execute the notebook into OUT/jupyter_execute as the book build does; returns its docname."""
    import nbclient
    import nbformat
    from jupyter_client import KernelManager
    from myst_nb.ext.glue import extract_glue_data

    docname = notebook_path.resolve().relative_to(ROOT).with_suffix("").as_posix()
    nb = nbformat.read(notebook_path, as_version=4)
    # IPC, not TCP: kernels started at the same time on one machine cannot take each other's ports
    # (the sockets at an absolute path: the kernel runs in the notebook's folder, not ours)
    kernel = KernelManager(kernel_name="python3", transport="ipc",
                           ip=str(Path(tempfile.mkdtemp(prefix="deck-kernel-")) / "kernel"))
    nbclient.NotebookClient(nb, km=kernel, timeout=300, resources={
        "metadata": {"path": str(notebook_path.parent)}}).execute()

    class _Log:
        def warning(self, message, **kwargs):
            print("warning:", message)

    glued = extract_glue_data(nb, list(range(len(nb.cells))), _Log())
    target = out / "jupyter_execute" / f"{docname}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    target.with_suffix(".glue.json").write_text(json.dumps({k: dict(v) for k, v in glued.items()}))
    return docname


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def screenshots(deck: Path, site: Path, out: Path) -> list[str]:
    """PNGs of every slide; returns the problems found (overflow, errors, external requests)."""
    from playwright.sync_api import sync_playwright

    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/{deck.relative_to(site).as_posix()}"
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        page.on("request", lambda r: problems.append(f"external request {r.url}")
                if not r.url.startswith(("http://127.0.0.1", "data:", "blob:")) else None)
        page.on("pageerror", lambda e: problems.append(f"page error {e}"))
        page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
                if r.status >= 400 else None)
        page.goto(url)
        page.wait_for_function("window.Reveal && Reveal.isReady()", timeout=15000)
        page.wait_for_timeout(1500)  # MathJax
        total = page.evaluate("Reveal.getTotalSlides()")
        for index in range(total):
            page.evaluate(f"Reveal.slide({index})")
            page.wait_for_timeout(300)
            height = page.evaluate(slides.SLIDE_CONTENT_BOTTOM_JS)
            if height > 0.98 * slides.SLIDE_HEIGHT:
                problems.append(f"slide {index + 1}: content is {height} px high, the slide "
                                f"{slides.SLIDE_HEIGHT}")
            page.screenshot(path=str(out / f"slide-{index + 1:02d}.png"))
        browser.close()
    server.shutdown()
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebook", type=Path, help="a chapter notebook under book/")
    parser.add_argument("--out", type=Path, required=True, help="folder for the deck and PNGs")
    parser.add_argument("--no-shots", action="store_true", help="build the deck, take no PNGs")
    args = parser.parse_args(argv)
    if args.notebook.suffix != ".ipynb" or not args.notebook.is_file():
        parser.error(f"notebook {str(args.notebook)!r} is not a notebook file")
    args.out.mkdir(parents=True, exist_ok=True)
    docname = execute(args.notebook, args.out)
    site = args.out / "html"
    shutil.copytree(ROOT / "vendor", site / "_static", dirs_exist_ok=True)
    decks = slides.build_decks(args.out / "jupyter_execute", site, [docname])
    if not decks:
        parser.error(f"notebook {str(args.notebook)!r} has no deck cells (slideshow metadata)")
    print(f"deck: {decks[0]}")
    if args.no_shots:
        return 0
    problems = screenshots(decks[0], site, args.out)
    print(f"slides: {len(list(args.out.glob('slide-*.png')))} PNGs in {args.out}")
    for problem in problems:
        print("PROBLEM:", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
