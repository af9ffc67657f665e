"""The built site in a real browser: Debian's Chromium driven by Playwright.

The strict build (``book_html``) is served on 127.0.0.1; every request to any other host
is aborted and counted as a failure, so the site must be complete offline. Every page is
opened in the light and in the dark theme, checked (no console error, no failed request,
every image loaded, math typeset) and saved as a full-page screenshot in
``test-artifacts/screenshots/<mode>/``.
"""

from __future__ import annotations

import functools
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import nbformat
import pytest

playwright_sync = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MODES = ("light", "dark")
#: TeX delimiters that must not survive typesetting in the visible text.
RAW_TEX = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$\$|\\frac|\\sqrt|\\bar|\\alpha")
TIMEOUT_MS = 30_000


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


def open_context(browser, site: str, mode: str):
    """A browser context in colour scheme ``mode`` that aborts every request off ``site``."""
    context = browser.new_context(color_scheme=mode, viewport={"width": 1280, "height": 900})
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

    context.on("page", on_page)
    return context, watch


@pytest.fixture(scope="session", params=MODES)
def mode_context(request, browser, site):
    context, watch = open_context(browser, site, request.param)
    yield request.param, context, watch
    context.close()


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


# Run in the page: wait for every image (lazy ones made eager) and for MathJax, then report.
INSPECT = """async () => {
  for (const img of document.images) img.loading = "eager";
  await Promise.all([...document.images].map(img => img.complete ? null :
      new Promise(done => { img.addEventListener("load", done); img.addEventListener("error", done); })));
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
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


def luminance(rgb: list[int]) -> float:
    r, g, b = (c / 255 for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_every_page_in_light_and_dark(mode_context, site, book_html):
    mode, context, watch = mode_context
    pages = site_pages(book_html)
    assert "search.html" in pages and len(pages) > 3
    out = SCREENSHOTS / mode
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    page = context.new_page()
    problems = []
    for rel in pages:
        watch.clear()
        page.goto(urljoin(site, rel), wait_until="load")
        page.wait_for_function(f"document.documentElement.dataset.theme === '{mode}'")
        report = page.evaluate(INSPECT)
        page.screenshot(path=str(out / (rel.replace("/", "__").removesuffix(".html") + ".png")), full_page=True)
        found = watch.problems()
        found += [f"image did not load: {src}" for src in report["broken"]]
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
        problems += [f"{rel} [{mode}]: {p}" for p in found]
    page.close()
    assert not problems, "\n".join(problems)


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
