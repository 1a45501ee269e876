"""The built book in a real browser: headless Chromium (Debian's) driven by Playwright.

Builds the book first when ``_build/html`` is missing (or ``BOOK_REBUILD=1``), serves it on
127.0.0.1 and opens every page with the network otherwise cut off, as a reader offline would.
Checks: no console errors, every image loaded, every internal link resolves, equations
rendered by the vendored MathJax, every saved widget drawn by the vendored ipywidgets HTML
manager, launch buttons on every chapter notebook, and every kernel-free slider switches its
frame when moved. A screenshot of each
page is written to ``screenshots/`` (not committed) for people to look at.
"""
from __future__ import annotations

import functools
import http.server
import os
import subprocess
import threading
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse

import pytest
import yaml

from system_packages import ensure_debian_package

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "_build" / "html"
SHOTS = ROOT / "screenshots"


def toc_pages() -> list[str]:
    """Every page of ``_toc.yml`` as a path relative to the site, e.g. book/intro.html."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]
    for part in toc.get("parts", []):
        pages += [chapter["file"] for chapter in part["chapters"]]
    return [f"{page}.html" for page in pages]


def chromium_path() -> str:
    path = ensure_debian_package("chromium", "chromium")
    if path is None:
        pytest.fail("Debian's chromium is needed for the browser test: apt-get install chromium")
    return path


@pytest.fixture(scope="module")
def site_url():
    if not (SITE / "index.html").exists() or os.environ.get("BOOK_REBUILD"):
        env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # keep figures inline
        subprocess.run(["jupyter-book", "build", "-W", "-n", "--keep-going", str(ROOT)],
                       check=True, cwd=ROOT, env=env)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(SITE))
    handler.func.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium_path(),
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"])
        yield browser
        browser.close()


def visit(browser, url: str):
    """Open ``url`` with every request outside 127.0.0.1 refused; return page and problems."""
    context = browser.new_context(viewport={"width": 1280, "height": 2000})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    context.route(lambda u: urlparse(u).hostname not in ("127.0.0.1", None),
                  lambda route: route.abort())
    page.goto(url, wait_until="load")
    page.wait_for_timeout(500)
    return context, page, problems


@pytest.mark.parametrize("path", toc_pages())
def test_page_renders_offline(browser, site_url, path):
    context, page, problems = visit(browser, urljoin(site_url, path))
    try:
        source = (SITE / path).read_text()
        views = source.count('type="application/vnd.jupyter.widget-view+json"')
        notebook = ROOT / path.replace(".html", ".ipynb")
        if notebook.exists() and "# NBVAL_IGNORE_OUTPUT" in notebook.read_text():
            assert views > 0, "the chapter's widget left no saved state on the page"
        if views:
            # The manager replaces each view's script with a drawn widget, offline.
            page.wait_for_function(
                f"document.querySelectorAll('.widget-subarea > .jupyter-widgets').length >= {views}",
                timeout=20_000)
            controls = page.locator(".widget-subarea .widget-slider, .widget-subarea "
                                    ".widget-dropdown, .widget-subarea .widget-toggle-buttons")
            assert controls.count() > 0, "the saved widgets show no control"
            page.wait_for_timeout(500)   # its figures load
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SHOTS / (path.replace("/", "_").replace(".html", ".png"))),
                        full_page=True)
        assert problems == [], "\n".join(problems)

        broken = page.eval_on_selector_all(
            "img", "imgs => imgs.filter(i => !(i.complete && i.naturalWidth > 0))"
                   ".map(i => i.getAttribute('src'))")
        assert broken == [], f"images that did not load: {broken}"

        hrefs = page.eval_on_selector_all("a[href]", "as => as.map(a => a.href)")
        for href in hrefs:
            target, _ = urldefrag(href)
            if not target.startswith(site_url):
                continue
            local = SITE / urlparse(target).path.lstrip("/")
            assert local.exists() or (local / "index.html").exists(), f"broken link {href}"

        if "\\(" in source or "\\[" in source or 'class="math' in source:
            page.wait_for_function("document.querySelectorAll('mjx-container').length > 0",
                                   timeout=10_000)
        for slider in page.locator(".frame-slider").all():
            shown = "imgs => imgs.findIndex(i => i.style.display !== 'none')"
            before = slider.locator("img").evaluate_all(shown)
            last = int(slider.locator("input[type=range]").get_attribute("max"))
            target = 0 if before != 0 else last
            slider.locator("input[type=range]").evaluate(
                "(el, v) => { el.value = v; el.dispatchEvent(new Event('input')); }", target)
            assert slider.locator("img").evaluate_all(shown) == target, "the slider moved no frame"
            label = slider.locator(".frame-label").inner_text()
            assert label == slider.get_attribute("data-labels").split("|")[target]
        if notebook.exists():
            figures = page.locator(".cell_output img").count()
            assert figures > 0, "a chapter shows at least one figure computed when it was built"
            launch = page.locator("a[href*='mybinder.org'], a[href*='colab.research.google.com']")
            assert launch.count() >= 2, "a chapter needs its Binder and Colab launch buttons"
            assert page.locator("[onclick*='initThebe']").count() >= 1, "no Live code button"
            colab = page.locator("a[href*='colab.research.google.com']").first
            assert colab.get_attribute("href").endswith(path.replace(".html", ".ipynb"))
    finally:
        context.close()


# --- the reader's page at a laptop's and a phone's width -----------------------------------
OVERFLOW = r"""
() => {
  const article = document.querySelector('article.bd-article');
  const edge = article.getBoundingClientRect().right + 4;   // glyph overhang of inline math
  const scrolls = el => {
    for (let p = el.parentElement; p && p !== article; p = p.parentElement)
      if (['auto', 'scroll'].includes(getComputedStyle(p).overflowX)) return true;
    return false;
  };
  const out = [];
  for (const el of article.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (el.closest('mjx-assistive-mml')) continue;           // for screen readers, not drawn
    if (r.width === 0 || r.right <= edge || scrolls(el)) continue;
    if (['auto', 'scroll'].includes(getComputedStyle(el).overflowX)) continue;
    if (out.some(o => o.contains(el))) continue;
    out.push(el);
  }
  return out.map(el => `${el.tagName}.${el.className} (+${Math.round(el.getBoundingClientRect().right - edge)} px): `
                       + (el.innerText || '').slice(0, 60));
}
"""


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("path", toc_pages())
def test_nothing_runs_past_the_article_and_no_scaffolding_shows(browser, site_url, path, width):
    context = browser.new_context(viewport={"width": width, "height": 900})
    context.route(lambda u: urlparse(u).hostname not in ("127.0.0.1", None),
                  lambda route: route.abort())
    page = context.new_page()
    try:
        page.goto(urljoin(site_url, path), wait_until="load")
        page.wait_for_timeout(1000)                       # MathJax typesets
        assert page.evaluate(OVERFLOW) == []
        text = page.locator("article.bd-article").inner_text()
        assert "NBVAL" not in text, "an nbval marker is visible"
        shown = page.eval_on_selector_all(
            ".cell_input pre", "els => els.filter(e => e.offsetParent !== null)"
                                ".map(e => e.innerText)")
        assert not any(line.lstrip().startswith("assert ") for code in shown
                       for line in code.splitlines()), "a visible cell holds an assert"
    finally:
        context.close()


def test_the_phone_menu_opens_the_table_of_contents(browser, site_url):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    try:
        page.goto(urljoin(site_url, "book/optimization/momentum.html"), wait_until="load")
        toggle = page.locator("button[aria-label='Toggle primary sidebar']")
        assert toggle.is_visible()
        # the theme moves the sidebar's contents (and classes) into a dialog when it opens
        link = page.locator(".bd-sidebar-primary a[href*='adaptive']").first
        assert not link.is_visible()
        toggle.click()
        page.wait_for_timeout(500)
        assert link.is_visible(), "the menu button did not open the table of contents"
        link.click()
        page.wait_for_load_state("load")
        assert page.url.endswith("adaptive.html")
    finally:
        context.close()
