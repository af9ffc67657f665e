"""Keep each page's scripts unique.

sphinx-thebe and sphinx-togglebutton register their inline configuration scripts twice in
a Jupyter Book build; the second ``const THEBE_JS_URL = ...`` then throws "Identifier has
already been declared" in every reader's console. Dropping exact repeats from the page's
script list removes the error without changing what the page runs.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx


def _key(script: Any) -> tuple:
    attributes = getattr(script, "attributes", {}) or {}
    filename = getattr(script, "filename", script) or ""  # an inline script is None or ""
    return (str(filename), tuple(sorted((k, str(v)) for k, v in attributes.items())))


def drop_repeated_scripts(app: Sphinx, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple] = set()
    unique = []
    for script in scripts:
        key = _key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique  # in place: later handlers still add to the same list


def setup(app: Sphinx) -> dict[str, Any]:
    # Early: html-page-context stops at the first handler that returns a template name.
    app.connect("html-page-context", drop_repeated_scripts, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
