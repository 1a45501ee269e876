"""The built book in a real browser: headless Chromium (Debian's) driven by Playwright.

Builds the book first when ``_build/html`` is missing (or ``BOOK_REBUILD=1``), serves it on
127.0.0.1 and opens every page with the network otherwise cut off, as a reader offline would.
Checks: no console errors, every image loaded, every internal link resolves, equations
rendered by the vendored MathJax, every saved widget drawn by the vendored ipywidgets HTML
manager, launch buttons on every chapter notebook, every control of every kernel-free explorer
switches its frame, no control of a saved widget can be operated, every image has alt text,
every figure's text is at least 10 px where it is shown, and axe-core (vendored) finds no
serious or critical accessibility violation. A screenshot of each
page is written to ``screenshots/`` (not committed) for people to look at.
"""
from __future__ import annotations

import base64
import functools
import http.server
import json
import os
import re
import subprocess
import threading
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse

import pytest

from book_toc import chapter_notebooks, toc_files
from system_packages import ensure_debian_package

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "_build" / "html"
SHOTS = ROOT / "screenshots"
AXE = ROOT / "tests" / "vendor" / "axe-core" / "axe.min.js"
SMALLEST_TEXT_PX = 10.0   # at the displayed size, in a 1280 px window


def toc_pages() -> list[str]:
    """Every page of ``_toc.yml`` as a path relative to the site, e.g. book/intro.html."""
    return [f"{page}.html" for page in toc_files()]


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


def visit(browser, url: str, viewport=(1280, 2000)):
    """Open ``url`` with every request outside 127.0.0.1 refused; return page and problems."""
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
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


SHOWN = "imgs => imgs.filter(i => !i.hidden).length === 1 ? imgs.findIndex(i => !i.hidden) : -1"


def check_explorer(explorer):
    """Every control of a kernel-free explorer switches the picture, and its readout follows."""
    frames = explorer.locator(".frame-explorer-frames > img")
    for control in explorer.locator("[data-axis]").all():
        before = frames.evaluate_all(SHOWN)
        assert before >= 0, "an explorer must show exactly one frame"
        last = int(control.get_attribute("max") or control.locator("option").count() - 1)
        value = int(control.evaluate("el => +el.value"))
        target = 0 if value != 0 else last
        control.evaluate("(el, v) => { el.value = String(v); "
                         "el.dispatchEvent(new Event('input', {bubbles: true})); }", target)
        after = frames.evaluate_all(SHOWN)
        assert after >= 0 and after != before, "an explorer control changed no frame"
        labels = control.get_attribute("data-labels")
        if labels:
            readout = control.evaluate("el => el.parentElement.querySelector('.frame-label')"
                                       ".textContent")
            assert readout == json.loads(labels)[target], "the readout did not follow"
        alt = frames.nth(after).get_attribute("alt")
        assert alt, "an explorer frame has no alt text"


# Saved widgets are snapshots: offline.js disables every part of them one could operate.
OPERABLE_SAVED_CONTROLS = r"""
() => [...document.querySelectorAll('.widget-subarea input, .widget-subarea select, '
                                     + '.widget-subarea button, .widget-subarea textarea, '
                                     + '.widget-subarea [tabindex], .widget-subarea [contenteditable]')]
  .filter(el => !el.disabled && (el.tabIndex >= 0 || el.isContentEditable))
  .map(el => el.outerHTML.slice(0, 80))
"""

# Alt text that says what an image shows: not missing, not the file name Sphinx falls back on.
IMAGES_WITHOUT_ALT = r"""
() => [...document.querySelectorAll('article.bd-article img')]
  .filter(i => { const a = (i.getAttribute('alt') || '').trim();
                 return a.length < 12 || /\.(png|svg|jpe?g)$/i.test(a) || a.includes('_images/'); })
  .map(i => (i.getAttribute('src') || '').slice(0, 60))
"""

FIGURE_SIZES = r"""
() => {
  const out = [];
  for (const img of document.querySelectorAll('article.bd-article .cell_output img')) {
    const hidden = img.hidden;
    img.hidden = false;                        // an explorer's other frames, measured shown
    out.push([img.getAttribute('src'), img.getBoundingClientRect().width, img.naturalWidth]);
    img.hidden = hidden;
  }
  return out;
}
"""


def small_figure_text(page, site_url) -> list[str]:
    """Figures whose smallest drawn text is under SMALLEST_TEXT_PX where they are shown.

    ``lecture_code.plotting.figure_png`` records the smallest text it drew, in points, and the
    dpi, in the PNG; shown ``width`` px wide out of ``natural`` px, that text is
    points * dpi / 72 * width / natural CSS px tall.
    """
    from lecture_code.plotting import SMALLEST_TEXT_KEY, png_text

    small = []
    for src, width, natural in page.evaluate(FIGURE_SIZES):
        if src.startswith("data:image/png;base64,"):
            png = base64.b64decode(src.split(",", 1)[1])
        elif src.startswith("data:"):
            continue                           # not a PNG figure
        else:
            local = SITE / urlparse(urljoin(page.url, src)).path.lstrip("/")
            if local.suffix != ".png":
                continue
            png = local.read_bytes()
        record = png_text(png).get(SMALLEST_TEXT_KEY)
        if record is None:
            small.append(f"{src[:60]}: no smallest-text record (not drawn by figure_png)")
            continue
        points, _, dpi, _ = record.split()
        px = float(points) * float(dpi) / 72 * width / natural
        if px < SMALLEST_TEXT_PX:
            small.append(f"{src[:60]}: {px:.1f} px")
    return small


def serious_accessibility_violations(page) -> list[str]:
    """axe-core's serious and critical violations on the page (vendored: no network)."""
    page.add_script_tag(path=str(AXE))
    results = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['id']} ({v['impact']}): {v['help']}; e.g. "
            + "; ".join(n["html"][:80] for n in v["nodes"][:3])
            for v in results["violations"] if v["impact"] in ("serious", "critical")]


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
        for explorer in page.locator(".frame-explorer").all():
            check_explorer(explorer)
        assert page.evaluate(OPERABLE_SAVED_CONTROLS) == [], \
            "a saved widget's control can still be operated on the static page"
        assert page.evaluate(IMAGES_WITHOUT_ALT) == [], "images without alt text"
        assert small_figure_text(page, site_url) == [], "figures with text under 10 px"
        assert serious_accessibility_violations(page) == []
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


# A printed table (columns aligned by runs of spaces) must not wrap its lines: it scrolls.
WRAPPED_TABLES = r"""
() => [...document.querySelectorAll('article.bd-article .cell_output pre')]
  .filter(pre => pre.textContent.split('\n').filter(l => /\S {2,}\S/.test(l)).length >= 2)
  .filter(pre => {
    const lines = pre.textContent.replace(/\n$/, '').split('\n').length;
    const style = getComputedStyle(pre);
    const inner = pre.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom);
    return inner > (lines + 0.5) * parseFloat(style.lineHeight);
  })
  .map(pre => pre.textContent.slice(0, 60))
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
        assert page.evaluate(WRAPPED_TABLES) == [], "printed tables whose lines wrap"
        searches = page.locator(".search-button__button").evaluate_all(
            "els => els.filter(e => e.offsetParent !== null).length")
        assert searches == 1, f"{searches} search controls on the page, not one"
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


def test_the_execution_table_says_passed_in_words(site_url):
    page = (SITE / "book" / "execution_times.html").read_text()
    assert "✅" not in page and "❌" not in page, "emoji are empty boxes without an emoji font"
    assert page.count("<p>passed</p>") == len(list((ROOT / "book").rglob("*.ipynb")))


def pages_with_self_checks() -> list[str]:
    return [p for p in toc_pages() if (SITE / p).exists() and "self-check " in (SITE / p).read_text()]


def test_every_self_check_accepts_its_answer_and_rejects_a_wrong_one(browser, site_url):
    """As a student would: type the answer key's number (right) and one far outside the
    tolerance (wrong) into every numeric check; choose the right option and a wrong one of
    every concept question, whose explanation must then show."""
    pages = pages_with_self_checks()
    assert pages, "no page has a self-check"
    for path in pages:
        context, page, problems = visit(browser, urljoin(site_url, path))
        try:
            checks = page.locator(".self-check.numeric-check")
            for i in range(checks.count()):
                box = checks.nth(i)
                key = float(box.locator(".answer-key").text_content().strip().replace("\u2212", "-"))
                tolerance = float(box.locator(".self-check-tolerance").text_content())
                for given, verdict in ((key, "correct"), (key + 10 * tolerance + 1, "wrong")):
                    box.locator("input").fill(f"{given:g}")
                    box.locator("button").click()
                    result = box.locator(".self-check-result")
                    assert verdict in (result.get_attribute("class") or ""), (path, i, given)
            quizzes = page.locator(".self-check.quiz")
            for i in range(quizzes.count()):
                box = quizzes.nth(i)
                answer = int(box.locator(".answer-key").text_content())
                options = box.locator("input[type=radio]")
                wrong = 1 if answer != 1 else 2
                for choice, verdict in ((wrong, "wrong"), (answer, "correct")):
                    box.locator("label.quiz-option").nth(choice - 1).click()
                    result = box.locator(".self-check-result")
                    assert verdict in (result.get_attribute("class") or ""), (path, i, choice)
                    shown = box.locator(".quiz-explanation:visible")
                    assert shown.count() == 1 and shown.inner_text().strip(), (path, i, choice)
                assert options.count() >= 2
            assert problems == [], problems
        finally:
            context.close()


def test_the_site_has_every_assignment_without_answers_or_hidden_tests(site_url):
    """The build releases each assignment's student version into the site; no model answer and
    no hidden test of any source notebook reaches any file of ``_build/html``."""
    from lecture_code.grading import authoring

    names = sorted(p.parent.name for p in (ROOT / "exercises").glob("*/source.ipynb"))
    squash = lambda text: " ".join(text.split())        # whitespace does not hide a leak
    blocks = []
    for name in names:
        assert (SITE / "assignments" / f"{name}.ipynb").exists(), f"{name} is not on the site"
        for cell in authoring.load(name).notebook["cells"]:
            text = authoring.source(cell)
            for begin, end in ((authoring.BEGIN_SOLUTION, authoring.END_SOLUTION),
                               (authoring.BEGIN_HIDDEN, authoring.END_HIDDEN)):
                while begin in text and end in text[text.index(begin):]:
                    start = text.index(begin) + len(begin)
                    block = squash(text[start:text.index(end, start)])
                    if len(block) > 40:
                        blocks.append(block)
                    text = text[text.index(end, start) + len(end):]
    assert len(blocks) >= len(names), "too few model answers and hidden tests found to look for"
    files = [p for p in SITE.rglob("*") if p.is_file() and "_static" not in p.parts
             and p.suffix in {".html", ".ipynb", ".js", ".txt", ".json"}]
    site_text = squash("\n".join(p.read_text(errors="ignore") for p in files))
    for marker in (authoring.BEGIN_SOLUTION, authoring.BEGIN_HIDDEN, "@hidden_test"):
        assert marker not in site_text, f"{marker!r} is on the site"
    leaked = [block[:80] for block in blocks if block in site_text]
    assert not leaked, f"{len(leaked)} model answers or hidden tests on the site: {leaked[:3]}"
    pages = [p for p in toc_pages() if "assignments/" in (SITE / p).read_text()]
    assert len(pages) >= len(names), "not every assignment is linked from a chapter"


def chapter_notebook_pages() -> list[str]:
    return [f"{p.relative_to(ROOT).with_suffix('').as_posix()}.html" for p in chapter_notebooks()]


def test_every_chapter_links_its_deck_and_every_deck_is_built(site_url):
    pages = chapter_notebook_pages()
    assert len(pages) >= 15
    for path in pages:
        deck = SITE / "slides" / f"{Path(path).stem}.slides.html"
        assert deck.is_file(), f"no deck for {path}"
        html = (SITE / path).read_text()
        links = re.findall(r'<a[^>]*class="[^"]*deck-link-anchor[^"]*"[^>]*href="([^"]+)"', html) or \
            re.findall(r'<a[^>]*href="([^"]+)"[^>]*class="[^"]*deck-link-anchor', html)
        assert len(links) == 1, f"{path} links its deck {len(links)} times"
        assert (SITE / path).parent.joinpath(links[0]).resolve() == deck.resolve(), (path, links)


def test_a_deck_works_offline_as_a_lecturer_steps_through_it(browser, site_url):
    """Open the SGD deck with the network cut off, move to the third slide with the arrow key:
    its equations are typeset by the vendored MathJax, every request stayed on 127.0.0.1, and
    S opens the speaker view with that slide's notes, their math written out as text."""
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    outside, problems = [], []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))

    def refuse(route):
        outside.append(route.request.url)
        route.abort()

    context.route(lambda u: urlparse(u).hostname not in ("127.0.0.1", None), refuse)
    try:
        page.goto(urljoin(site_url, "slides/sgd.slides.html"), wait_until="load")
        page.wait_for_function("window.Reveal && Reveal.isReady()", timeout=15000)
        page.wait_for_timeout(300)
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        page.wait_for_timeout(800)
        assert page.evaluate("Reveal.getIndices().h") == 2
        present = page.locator(".reveal .slides > section.present")
        assert present.locator("mjx-container").count() >= 1, "no typeset math on the third slide"
        assert present.locator("img").count() >= 1, "the third slide shows its figure"
        assert page.locator("aside.notes").count() >= 5
        assert "\\(" not in present.inner_text() and "$" not in present.inner_text()
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SHOTS / "slides_sgd_slide-3.png"))
        with context.expect_page() as opened:       # S: the speaker view, in its own window
            page.keyboard.press("s")
        speaker = opened.value
        speaker.wait_for_selector(".speaker-controls-notes", timeout=10000)
        speaker.wait_for_timeout(1000)
        notes = speaker.locator(".speaker-controls-notes").inner_text()
        assert len(notes) > 80 and "$" not in notes and "\\" not in notes, notes[:200]
        assert outside == [] and problems == [], (outside, problems)
    finally:
        context.close()


def test_no_slide_of_any_deck_runs_off_its_slide(browser, site_url):
    """Every slide of every deck at the projector's 1280x720: its content ends above the
    slide's bottom edge, its equations typeset without errors, its images loaded."""
    import sys

    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    import slides

    decks = sorted((SITE / "slides").glob("*.slides.html"))
    assert decks, "no decks were built"
    too_tall = []
    for deck in decks:
        context, page, _ = visit(browser, urljoin(site_url, f"slides/{deck.name}"), (1280, 720))
        try:
            page.wait_for_function("window.Reveal && Reveal.isReady()", timeout=15000)
            page.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise",
                                   timeout=15000)
            page.evaluate("MathJax.startup.promise")
            for index in range(page.evaluate("Reveal.getTotalSlides()")):
                page.evaluate(f"Reveal.slide({index})")
                bottom = page.evaluate(slides.SLIDE_CONTENT_BOTTOM_JS)
                if bottom > 0.98 * slides.SLIDE_HEIGHT:   # as tools/preview_deck.py reports it
                    too_tall.append(f"{deck.name} slide {index + 1}: {bottom} px")
            assert page.locator("mjx-merror").count() == 0, f"{deck.name}: a MathJax error"
            broken = page.evaluate("[...document.images].filter(i => !i.complete || "
                                   "i.naturalWidth === 0).length")
            assert broken == 0, f"{deck.name}: {broken} images did not load"
        finally:
            context.close()
    assert not too_tall, too_tall
