"""Keep each page's scripts unique, give the theme's and myst-nb's controls accessible names, and give the
chapters' tables the theme's classes.

sphinx-thebe and sphinx-togglebutton register their inline configuration scripts twice in a Jupyter Book
build; the second ``const THEBE_JS_URL = ...`` then throws "Identifier has already been declared" in every
reader's console. Dropping exact repeats from the page's script list removes the error without changing what
the page runs.

A few controls that every page has are named, for a screen reader, with words that are not the ones the page
shows (axe-core's ``label-content-name-mismatch``, of serious impact): the rendered page gets the small
changes of :data:`ACCESSIBLE_MARKUP` (the site tests run axe-core on every page).
"""

import re
from typing import Any

from sphinx.application import Sphinx

#: (a pattern of what the theme or myst-nb writes, what the page gets instead). Each matches an exact piece of
#: their markup: when a new release writes it differently, the replacement no longer applies and the site tests'
#: accessibility check fails again, naming the control.
ACCESSIBLE_MARKUP: tuple[tuple[re.Pattern[str], str], ...] = (
    # myst-nb's toggle of a hidden cell shows "Show code cell source" but is named "Toggle hidden
    # content"; without the aria-label it is named by what it shows, which also says its state.
    (re.compile(r'<summary aria-label="Toggle hidden content">'), "<summary>"),
    # The theme's search field shows "Search Ctrl+K" (or the Mac's key) and is named "Search":
    # without the aria-label it is named by what it shows, shortcut included.
    (
        re.compile(
            r'(<button class="btn search-button-field search-button__button pst-js-only" title="[^"]*")'
            r' aria-label="[^"]*"'
        ),
        r"\1",
    ),
    # The colour-mode button is named "Color mode", and the icon it shows carries the title of
    # the mode (Light, Dark, System Settings), which Font Awesome turns into text on the screen
    # that the name lacks. The button's own tooltip says "Color mode"; the icons need no title.
    (re.compile(r'(<i class="theme-switch [^"]*" data-mode="\w+")\s+title="[^"]*"'), r"\1"),
    # docutils writes the references page's entries as role="doc-biblioentry" inside a
    # role="list": ARIA has deprecated that role, so the list holds no list items and its
    # entries' links count as children it may not have (aria-required-children, critical).
    (re.compile(r'(<div class="citation" id="[^"]*") role="doc-biblioentry">'), r'\1 role="listitem">'),
    # A table that a chapter's cell shows (ddpm_sampling's Table writes plain HTML): the theme
    # styles tables of these classes, as pandas writes them, legibly in both colour modes.
    (re.compile(r"<table><thead>"), '<table class="table dataframe"><thead>'),
)


def accessible_markup(html: str) -> str:
    for theirs, ours in ACCESSIBLE_MARKUP:
        html = theirs.sub(ours, html)
    return html


def drop_repeated_scripts(app: Sphinx, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    scripts = context.get("script_files") or []
    unique: dict[tuple, Any] = {}
    for script in scripts:  # Sphinx's _JavaScript; an inline one's filename is None or ""
        attributes = tuple(sorted((k, str(v)) for k, v in script.attributes.items()))
        unique.setdefault((str(script.filename or ""), attributes), script)
    scripts[:] = unique.values()  # in place: later handlers still add to the same list


def render_accessible_pages(app: Sphinx) -> None:
    """Pass every page that the HTML builder renders through :func:`accessible_markup`: the theme's widgets come
    from its templates and myst-nb's toggles from its writer, and the finished page is the one place where both
    can be changed without copying their code."""
    if templates := getattr(app.builder, "templates", None):  # a builder that renders HTML pages
        render = templates.render
        templates.render = lambda template, context: accessible_markup(render(template, context))


def setup(app: Sphinx) -> dict[str, Any]:
    # Early: html-page-context stops at the first handler that returns a template name.
    app.connect("html-page-context", drop_repeated_scripts, priority=100)
    app.connect("builder-inited", render_accessible_pages)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
