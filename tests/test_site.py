"""The built site in a real browser: Debian's Chromium driven by Playwright.

The strict build (``book_html``) is served on 127.0.0.1; every request to any other host
is aborted and counted as a failure, so the site must be complete offline. Every page is
checked in the light and in the dark theme (no console error, no failed request, every image
loaded, math typeset, no accessibility violation of serious or critical impact found by
axe-core) in a desktop window, then again on a phone's 390-pixel-wide screen (no page wider
than the screen, figures scaled down to it). The window opens each page in light mode and
switches it to dark, the phone the other way round: both a page's first paint and the theme's
switch are seen in each mode, with one page load per screen.

With ``$SITE_SCREENSHOTS`` set to a folder (CI uploads ``test-artifacts/screenshots``), each
check also saves a full-page screenshot in ``<folder>/<mode>/`` and ``<folder>/phone-<mode>/``.
"""

from __future__ import annotations

import functools
import os
import re
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "book" / "_ext"))
from glue_helpers import PAGE_WIDTH_PX  # noqa: E402

playwright_sync = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
#: Where the full-page screenshots go, if anywhere (they take a third of the checks' time).
SCREENSHOTS = os.environ.get("SITE_SCREENSHOTS")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: The colour modes, in the order the desktop window sees them (the phone, the other way round).
MODES = ("light", "dark")
#: TeX delimiters that must not survive typesetting in the visible text.
RAW_TEX = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$\$|\\frac|\\sqrt|\\bar|\\alpha")
TIMEOUT_MS = 30_000
#: The desktop window every page is checked in, and a phone's screen (CSS pixels).
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

#: axe-core, vendored (tests/vendor/README.md says where from), injected into every page.
AXE = ROOT / "tests" / "vendor" / "axe.min.js"
AXE_VERSION = "4.14.1"
#: The impacts that fail the check: axe-core's two highest of minor, moderate, serious, critical.
BLOCKING_IMPACTS = ("serious", "critical")
#: Violations of serious or critical impact that stay, each with the reason: (axe rule, a piece
#: of the element's CSS selector as axe reports it) -> why it is not fixed. Keep it empty where
#: possible: a fix in the book (alt text, a label) or in book/_ext/site_assets.py comes first.
AXE_ALLOWED: dict[tuple[str, str], str] = {}
#: The axe-core rules whose outcome depends on the colours: a page is checked with every rule in
#: the colour mode it opens in, and with these again in the other (half the time of every rule).
COLOUR_RULES = ("color-contrast", "link-in-text-block")


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


@pytest.fixture(scope="session")
def site(book_html: Path) -> Iterator[str]:
    """The built site served over http on a free port of 127.0.0.1; yields its base url."""
    handler = functools.partial(QuietHandler, directory=str(book_html))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (`apt-get install chromium`)")
    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class Watch:
    """What went wrong while a page was open."""

    offsite: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    pending: set = field(default_factory=set)  # the requests of the page not yet answered

    def clear(self) -> None:
        self.offsite.clear()
        self.console.clear()
        self.failed.clear()

    def problems(self) -> list[str]:
        return (
            [f"request off the site: {u}" for u in self.offsite]
            + [f"console: {m}" for m in self.console]
            + [f"failed request: {u}" for u in self.failed]
        )


def open_context(browser, site: str, mode: str, phone: bool = False):
    """A browser context in colour scheme ``mode`` that aborts every request off ``site``: a
    desktop window, or with ``phone`` a phone's screen (touch, and a page laid out for its width)."""
    if phone:
        context = browser.new_context(color_scheme=mode, viewport=PHONE, is_mobile=True, has_touch=True)
    else:
        context = browser.new_context(color_scheme=mode, viewport=DESKTOP)
    context.set_default_timeout(TIMEOUT_MS)
    watch = Watch()
    host = urlsplit(site).netloc

    def route(r):
        if urlsplit(r.request.url).netloc == host:
            r.continue_()
        else:
            watch.offsite.append(r.request.url)
            r.abort()

    context.route("**/*", route)

    def on_page(page):
        page.on("console", lambda m: m.type == "error" and watch.console.append(f"{m.text} ({m.location})"))
        page.on("pageerror", lambda e: watch.console.append(f"uncaught: {e}"))
        page.on("requestfailed", lambda r: watch.failed.append(f"{r.url} ({r.failure})"))
        page.on("response", lambda r: r.status >= 400 and watch.failed.append(f"{r.url} (HTTP {r.status})"))
        page.on("request", lambda r: watch.pending.add(r))
        page.on("requestfinished", lambda r: watch.pending.discard(r))
        page.on("requestfailed", lambda r: watch.pending.discard(r))

    context.on("page", on_page)
    return context, watch


def settle(page, watch: Watch) -> None:
    """Wait until every request the page made is answered (MathJax fetches its fonts after the
    load event): leaving a page earlier aborts them, which would be reported as failed requests
    of a page that has no fault."""
    for _ in range(TIMEOUT_MS // 20):
        if not watch.pending:
            return
        page.wait_for_timeout(20)
    raise AssertionError(f"requests still unanswered after {TIMEOUT_MS} ms: {[r.url for r in watch.pending]}")


def switch(page, mode: str) -> None:
    """Switch the open page to colour mode ``mode``, as a reader's system setting does."""
    page.emulate_media(color_scheme=mode)
    page.wait_for_function(f"document.documentElement.dataset.theme === '{mode}'")


def check_every_page(context, watch: Watch, site: str, pages: list[str], modes, screen: str, inspect) -> list[str]:
    """Open each of ``pages`` in colour mode ``modes[0]`` (its first paint in that mode) and switch it to each
    mode in turn. Once it has loaded and settled, ``inspect(page, rel, mode)`` lists what is wrong there, and so
    do axe-core (every rule in the first mode, its colour rules in the others) and the watch; a screenshot goes
    to ``<screen><mode>/`` if asked for. Returns every problem, named by page, screen and mode."""
    page = context.new_page()
    problems = []
    for rel in pages:
        watch.clear()
        page.emulate_media(color_scheme=modes[0])
        page.goto(urljoin(site, rel), wait_until="load")
        for mode in modes:
            switch(page, mode)
            page.evaluate(LOADED)
            settle(page, watch)
            found = inspect(page, rel, mode)
            screenshot(page, f"{screen}{mode}", rel)
            found += axe_violations(page, colour_only=mode != modes[0]) + watch.problems()
            watch.clear()
            problems += [f"{rel} [{screen}{mode}]: {p}" for p in found]
    page.close()
    return problems


def screenshot(page, folder: str, rel: str) -> None:
    """Save a full-page screenshot of ``rel`` in ``$SITE_SCREENSHOTS/<folder>/``, if asked to."""
    if SCREENSHOTS:
        out = Path(SCREENSHOTS) / folder
        out.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out / (rel.replace("/", "__").removesuffix(".html") + ".png")), full_page=True)


def site_pages(html: Path) -> list[str]:
    """Every html page of the site, relative to its root (theme templates, reports and the
    root's redirect excluded)."""
    pages = []
    for path in sorted(html.rglob("*.html")):
        rel = path.relative_to(html).as_posix()
        if rel.split("/")[0] in {"_static", "_sources", "_images", "reports"}:
            continue
        if 'http-equiv="refresh"' in path.read_text().lower():
            continue
        pages.append(rel)
    return pages


# Run in the page first: wait for every image (lazy ones made eager), for MathJax and its fonts,
# and for the colour transitions of a theme switch to end (axe reads the colours as drawn).
LOADED = """async () => {
  for (const img of document.images) img.loading = "eager";
  await Promise.all([...document.images].map(img => img.complete ? null :
      new Promise(done => { img.addEventListener("load", done); img.addEventListener("error", done); })));
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  await document.fonts.ready;
  // a transition that another style change cancels is replaced by a new one: wait for those too
  const running = () => document.getAnimations().filter(a => a instanceof CSSTransition && a.playState === "running");
  for (let i = 0; i < 10 && running().length; i++) await Promise.all(running().map(a => a.finished.catch(() => null)));
}"""

# Run in the page: what the desktop checks read.
INSPECT = """() => {
  const article = document.querySelector("article") || document.body;
  const copy = article.cloneNode(true);
  copy.querySelectorAll("pre, code, script, style, mjx-container, .highlight").forEach(e => e.remove());
  const rgb = getComputedStyle(document.body).backgroundColor.match(/\\d+/g).map(Number);
  return {
    theme: document.documentElement.dataset.theme,
    background: rgb,
    broken: [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src),
    dimmed: [...document.querySelectorAll(".cell_output img")]
        .filter(i => getComputedStyle(i).filter !== "none").map(i => i.src),
    mathSource: document.querySelectorAll(".math").length,
    mathTypeset: document.querySelectorAll("mjx-container").length,
    text: copy.textContent,
  };
}"""


# The width of the text column: the content box of the article, where the text and figures go.
COLUMN_WIDTH = """() => {
  // the search page has no article: its main column stands in
  const article = document.querySelector("article.bd-article") || document.querySelector("main") || document.body;
  const style = getComputedStyle(article);
  return article.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
}"""


# Run in the page after axe.min.js: the violations of a blocking impact, one entry per element.
AXE_RUN = """async ([blocking, only]) => {
  const options = {resultTypes: ["violations"]};
  if (only) options.runOnly = {type: "rule", values: only};
  const {violations} = await axe.run(document, options);
  return violations.flatMap(v => v.nodes.filter(n => blocking.includes(n.impact)).map(n => ({
    rule: v.id, impact: n.impact, help: v.help, target: n.target.join(" "), html: n.html.slice(0, 160)})));
}"""


def axe_violations(page, colour_only: bool = False) -> list[str]:
    """Run axe-core in ``page`` (every rule, or with ``colour_only`` the rules of
    :data:`COLOUR_RULES`); one line per element with a violation of serious or critical impact
    that :data:`AXE_ALLOWED` does not explain."""
    if page.evaluate("typeof axe === 'undefined'"):
        page.add_script_tag(path=str(AXE))
    assert page.evaluate("axe.version") == AXE_VERSION, "tests/vendor/axe.min.js is not the release named here"
    found = []
    for v in page.evaluate(AXE_RUN, [list(BLOCKING_IMPACTS), list(COLOUR_RULES) if colour_only else None]):
        if any(rule == v["rule"] and part in v["target"] for rule, part in AXE_ALLOWED):
            continue
        found.append(f"axe {v['rule']} ({v['impact']}): {v['help']}: {v['target']} {v['html']!r}")
    return found


def luminance(rgb: list[int]) -> float:
    r, g, b = (c / 255 for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


@pytest.fixture(scope="session")
def desktop(browser, site):
    context, watch = open_context(browser, site, MODES[0])
    yield context, watch
    context.close()


def test_every_page_in_light_and_dark(desktop, site, book_html):
    """In a desktop window, every page in both themes: no console error or failed request, every
    image loaded and drawn unfiltered, math typeset, the theme's background, no axe-core violation
    of serious or critical impact; and the text column of every chapter at least PAGE_WIDTH_PX
    wide (the figures are drawn for that width: glue_helpers.small_text checks their text)."""
    context, watch = desktop
    pages = site_pages(book_html)
    assert "search.html" in pages and len(pages) > 3
    assert any(rel.startswith("book/") for rel in pages), "no chapter page"

    def inspect(page, rel: str, mode: str) -> list[str]:
        report = page.evaluate(INSPECT)
        found = [f"image did not load: {src}" for src in report["broken"]]
        # Figures are shown as drawn: no filter changing their gray levels (site-theme.css).
        found += [f"figure drawn through a filter: {src}" for src in report["dimmed"]]
        if report["mathSource"] and not report["mathTypeset"]:
            found.append(f"{report['mathSource']} math elements but nothing typeset")
        raw = RAW_TEX.search(report["text"])
        if raw:
            start = max(raw.start() - 60, 0)
            found.append(f"raw TeX visible: ...{report['text'][start : raw.end() + 60]!r}")
        dark = luminance(report["background"]) < 0.5
        if dark != (mode == "dark"):
            found.append(f"background {report['background']} is not a {mode} theme")
        if rel.startswith("book/") and (width := page.evaluate(COLUMN_WIDTH)) < PAGE_WIDTH_PX:
            found.append(f"text column {width:.0f} px wide in a {DESKTOP['width']} px window, under {PAGE_WIDTH_PX}")
        return found

    problems = check_every_page(context, watch, site, pages, MODES, "", inspect)
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="session")
def phone(browser, site):
    context, watch = open_context(browser, site, MODES[-1], phone=True)
    yield context, watch
    context.close()


# Run in the page on a phone, once it has loaded: measure how wide the page is, what
# sticks out of the screen (the innermost elements, outside any box that scrolls or clips), and
# every visible image of the article against the screen and the text column.
PHONE_INSPECT = """() => {
  const root = document.documentElement, screen = root.clientWidth;
  const out = el => { const r = el.getBoundingClientRect(); return r.width > 0 && r.right > screen + 0.5; };
  const contained = el => {
    for (let a = el; a && a !== root; a = a.parentElement) {
      const style = getComputedStyle(a);
      if (style.position === "fixed" || (a !== el && style.overflowX !== "visible")) return true;
    }
    return false;
  };
  const wide = [...document.body.querySelectorAll("*")]
      .filter(el => out(el) && !contained(el) && ![...el.children].some(out))
      .slice(0, 5).map(el => `${el.tagName.toLowerCase()}.${[...el.classList].join(".")} ` +
          `(right edge at ${Math.round(el.getBoundingClientRect().right)} px): ` +
          JSON.stringify((el.textContent || "").trim().slice(0, 50)));
  // the search page has no article: its main column stands in
  const article = document.querySelector("article.bd-article") || document.querySelector("main") || document.body;
  const style = getComputedStyle(article);
  const column = article.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  const images = [...article.querySelectorAll("img")].filter(i => i.getBoundingClientRect().width > 0).map(i => {
    const r = i.getBoundingClientRect();
    return {src: i.src.split("/").pop().slice(0, 40), left: r.left, right: r.right, width: r.width,
            natural: i.naturalWidth};
  });
  return {screen, page: root.scrollWidth, wide, column, images};
}"""


def test_every_page_fits_a_phone(phone, site, book_html):
    """On a phone's 390-pixel-wide screen, in both themes, no page scrolls sideways, every figure
    is scaled down to the text column, and axe-core finds no violation of serious or critical
    impact (the header has other buttons there)."""
    context, watch = phone
    scaled = []  # whether each figure is shown narrower than it was drawn

    def inspect(page, rel: str, mode: str) -> list[str]:
        report = page.evaluate(PHONE_INSPECT)
        found = []
        if report["page"] > report["screen"]:
            found.append(f"the page is {report['page']} px wide on a {report['screen']} px screen: {report['wide']}")
        for img in report["images"]:
            if img["left"] < -0.5 or img["right"] > report["screen"] + 0.5 or img["width"] > report["column"] + 0.5:
                found.append(
                    f"image {img['src']} is {img['width']:.0f} px wide from {img['left']:.0f} px: it does not"
                    f" fit the {report['column']:.0f} px column of the {report['screen']} px screen"
                )
            scaled.append(img["natural"] > img["width"] + 0.5)
        return found

    problems = check_every_page(context, watch, site, site_pages(book_html), MODES[::-1], "phone-", inspect)
    assert not problems, "\n".join(problems)
    assert any(scaled), "no figure is wider than a phone's column: the check that figures scale down checked nothing"


def test_root_opens_the_book(light_page, site):
    page, watch = light_page
    page.goto(site)
    page.wait_for_url("**/book/intro.html")
    page.wait_for_selector("article h1")
    assert not watch.problems()


@pytest.fixture
def light_page(browser, site):
    context, watch = open_context(browser, site, "light")
    page = context.new_page()
    yield page, watch
    context.close()


def test_math_is_typeset_somewhere(light_page, site, book_html):
    """The book has math and MathJax (from the site itself) typesets it."""
    page, watch = light_page
    with_math = [rel for rel in site_pages(book_html) if 'class="math' in (book_html / rel).read_text()]
    assert with_math, "no page has math"
    page.goto(urljoin(site, with_math[0]))
    page.wait_for_selector("mjx-container")
    scripts = page.eval_on_selector_all("script[src]", "els => els.map(e => e.src)")
    assert any("/_static/mathjax/tex-chtml.js" in s for s in scripts)
    assert not watch.problems()


def test_solution_dropdown_opens(light_page, site, book_html):
    page, watch = light_page
    with_solution = [rel for rel in site_pages(book_html) if "tag_solution" in (book_html / rel).read_text()]
    assert with_solution, "no page has a cell tagged solution"
    page.goto(urljoin(site, with_solution[0]))
    details = page.locator(".tag_solution details").first
    assert details.get_attribute("open") is None
    code = details.locator(".highlight").first
    assert not code.is_visible()
    details.locator("summary").first.click()
    page.wait_for_function("el => el.open", arg=details.element_handle())
    assert code.is_visible()
    assert not watch.problems()


def test_search_finds_reverse_step(light_page, site):
    page, watch = light_page
    page.goto(urljoin(site, "search.html?q=reverse+step"))
    results = page.locator("#search-results ul.search li")
    results.first.wait_for()
    links = results.locator("a").evaluate_all("els => els.map(e => e.href)")
    assert any("/book/" in href for href in links), links
    assert not watch.problems()


def notebook_links(book_html: Path, site: str) -> dict[str, str]:
    """Each .ipynb linked from a page (absolute url) -> the page that links it."""
    links = {}
    for rel in site_pages(book_html):
        for href in re.findall(r'href="([^"#?]+\.ipynb)"', (book_html / rel).read_text()):
            url = urljoin(urljoin(site, rel), href)
            if urlsplit(url).netloc == urlsplit(site).netloc:
                links.setdefault(url, rel)
    return links


def tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def test_download_links_serve_notebooks(light_page, site, book_html):
    """Every linked notebook answers 200 with a valid notebook; each exercise page links its
    executed notebook (worked solutions, outputs) and the student one (TODO skeletons instead)."""
    page, _ = light_page
    links = notebook_links(book_html, site)
    assert links, "no page links a notebook"
    notebooks = {}
    for url, rel in links.items():
        response = page.request.get(url)
        assert response.status == 200, (url, rel, response.status)
        notebook = nbformat.reads(response.body().decode(), as_version=4)
        nbformat.validate(notebook)
        assert notebook.cells, url
        notebooks[url] = notebook
    students = [url for url in notebooks if url.endswith("-student.ipynb")]
    assert len(students) >= 4, sorted(notebooks)  # one per exercise chapter
    for student_url in students:
        executed_url = student_url.removesuffix("-student.ipynb") + ".ipynb"
        assert links.get(executed_url) == links[student_url], f"{links[student_url]} lacks {executed_url}"
        executed, student = notebooks[executed_url], notebooks[student_url]
        assert len(executed.cells) == len(student.cells), student_url
        assert any("solution" in tags(c) for c in executed.cells), executed_url
        assert any(c.get("outputs") for c in executed.cells if c.cell_type == "code"), executed_url
        assert not any("solution" in tags(c) for c in student.cells), student_url
        skeletons = [c for c in student.cells if "skeleton" in tags(c)]
        assert skeletons and all("TODO" in c.source for c in skeletons), student_url
        assert not any(c.get("outputs") for c in student.cells if c.cell_type == "code"), student_url
