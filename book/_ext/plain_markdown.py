"""A chapter's MyST markdown as plain Markdown, for the notebooks made from it.

Glue roles (``{glue:text}`name:.3f```, ``{glue}`name```) become the glued value, formatted as the page formats
it; a ``{glue:figure}`` becomes its caption (the figure itself is the output of the cell that glued it);
admonitions and other directives become blockquotes with a bold title; ``{doc}`` becomes a link to the
published site; a citation (``{cite:p}``, ``{cite:t}``) is written out author-year from the bibliography, as
the page writes it, and links to the work on the site's References page; ``{py:func}`` and the other roles of
the API become code that links to the API reference; other roles become their text; targets ``(label)=`` and
comments ``%`` go. Code blocks stay as they are.
"""

import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import nbformat

#: Glue directives that show a whole output (the figure cell shows it in a notebook), and glue roles.
BLOCK_GLUE = {"glue", "glue:figure"}
INLINE_GLUE = {"glue", "glue:text"}
#: Directives whose content only the site can show.
SITE_ONLY = {"eval-rst", "nb-exec-table", "toctree", "tableofcontents", "bibliography", "raw", "include"}
FENCE = re.compile(r"^\s*(?P<fence>`{3,}|~{3,}|:{3,})(?P<info>.*)$")
DIRECTIVE = re.compile(r"^\{(?P<name>[\w:.+-]+)\}\s*(?P<arg>.*)$")
OPTION = re.compile(r"^:[\w-]+:")
ROLE = re.compile(r"\{(?P<name>[a-zA-Z][\w:.+-]*)\}`(?P<content>[^`]+)`")
TARGET_OR_COMMENT = re.compile(r"^\s*(\([\w.:-]+\)=\s*$|%)")
EXPLICIT_TITLE = re.compile(r"^(?P<title>.+?)\s*<(?P<target>[^<>]+)>$", re.DOTALL)
#: One work of a citation: ``{pre}key{post}``, ``key{post}`` or ``key`` (sphinxcontrib-bibtex's grammar).
CITED_WORK = re.compile(r"\s*(?:\{(?P<pre>[^{}]+)\})?\s*(?P<key>[^{}\s,]+)\s*(?:\{(?P<post>[^{}]+)\})?\s*")
#: The roles of the Python domain (``py:func`` or ``func``), shown as code; calls get "()" as on the page.
PY_ROLE = re.compile(r"^(?:py:)?(?P<kind>func|meth|class|mod|attr|data|const|exc|obj)$")

#: Formats the glued value ``name`` with a format spec, as a ``{glue:text}`` role shows it.
TextOf = Callable[[str, str], str]
#: The values glued by one chapter (myst-nb's ``<docname>.glue.json``), given its docname.
GlueData = Callable[[str], Mapping[str, Mapping]]


def block_glue_names(nb: nbformat.NotebookNode) -> set[str]:
    """The glued names that a directive of the chapter's Markdown shows as a whole output."""
    fences = (FENCE.match(line) for c in nb.cells if c.cell_type == "markdown" for line in c.source.splitlines())
    directives = (DIRECTIVE.match(fence["info"].strip()) for fence in fences if fence)
    return {d["arg"].strip() for d in directives if d and d["name"] in BLOCK_GLUE}


def glue_text(glued: GlueData, docname: str, missing: Callable[[str], None] | None = None) -> TextOf:
    """A :data:`TextOf` for the values glued by the chapter ``docname``, or by another one that a role names as
    ``path::key`` (the path relative to the chapter, as on the page). A value nobody glued raises ``KeyError``;
    with ``missing``, it is reported there instead and shown as ``?`` (the page, too, shows nothing and warns)."""
    from myst_nb.core.variables import format_plain_text

    def text_of(name: str, spec: str) -> str:
        path, _, key = name.rpartition("::")
        data = glued(resolve(docname, path) if path else docname)
        if key in data:
            return format_plain_text(data[key].get("data", {}).get("text/plain", ""), spec)
        if missing is None:
            raise KeyError(f"{docname}: no value glued as {name!r}; build the book first (`make book`)")
        missing(f"{docname}: no value glued as {name!r}")
        return "?"

    return text_of


@dataclass
class Markdown:
    """Turns one chapter's MyST markdown into plain Markdown; ``site`` is a ``reader_notebooks.Site``."""

    site: Any
    docname: str
    text_of: TextOf

    def convert(self, text: str) -> str:
        return "\n".join(self._lines(text.split("\n"))).strip("\n")

    def _lines(self, lines: list[str]) -> list[str]:
        out: list[str] = []
        i = 0
        while i < len(lines):
            if not (fence := FENCE.match(lines[i])):
                out += [] if TARGET_OR_COMMENT.match(lines[i]) else [self._roles(lines[i])]
                i += 1
                continue
            mark = fence["fence"]
            closing = re.compile(rf"^\s*{re.escape(mark[0])}{{{len(mark)},}}\s*$")
            close = next((k for k in range(i + 1, len(lines)) if closing.match(lines[k])), len(lines))
            if directive := DIRECTIVE.match(fence["info"].strip()):
                out += self._directive(directive["name"], directive["arg"].strip(), lines[i + 1 : close])
            else:  # a code block: as it is
                out += lines[i : close + 1]
            i = close + 1
        return out

    def _directive(self, name: str, arg: str, body: list[str]) -> list[str]:
        while body and OPTION.match(body[0]):
            body = body[1:]
        content = self._lines(body)
        text = [i for i, line in enumerate(content) if line.strip()]  # without the blank lines around it
        content = content[text[0] : text[-1] + 1] if text else []
        if name in SITE_ONLY:
            return []
        if name in BLOCK_GLUE:
            return [f"**Figure.** {content[0]}", *content[1:]] if content else []
        if name == "math":
            return ["$$", *body, "$$"]
        title = self._roles(arg) if name == "admonition" else name.capitalize() + (f": {self._roles(arg)}" * bool(arg))
        return [f"> **{title}**"] + [">"] * bool(content) + [f"> {line}".rstrip() for line in content]

    def _roles(self, text: str) -> str:
        return ROLE.sub(lambda m: self._role(m["name"], m["content"]), text)

    def _role(self, name: str, content: str) -> str:
        explicit = EXPLICIT_TITLE.match(content)
        title, target = (explicit["title"], explicit["target"]) if explicit else (None, content)
        if name in INLINE_GLUE:
            key, spec = content.rsplit(":", 1) if name == "glue:text" and ":" in content else (content, "")
            return self.text_of(key, spec)
        if name == "doc":
            docname = resolve(self.docname, target)
            return _link(title or self.site.title(docname), self.site.page(docname))
        if name == "math":
            return f"${content}$"
        if name in ("cite:p", "cite:t"):
            return self._citation(name == "cite:t", content)
        if py := PY_ROLE.match(name):
            name = target.lstrip("~.")
            shown = title or (name.rsplit(".", 1)[-1] if target.startswith("~") else name)
            return _link(f"`{shown}{'()' * (title is None and py['kind'] in ('func', 'meth'))}`", self.site.api(name))
        return title or target

    def _citation(self, textual: bool, content: str) -> str:
        """A citation as the page writes it: (Ho et al., 2020, sec. 2) or Heusel et al. (2017)."""
        works = []
        for item in re.split(r",(?![^{]*\})", content):  # the commas outside {...}
            work = CITED_WORK.fullmatch(item)
            if work is None:
                raise ValueError(f"{self.docname}: cannot read the citation {content!r}")
            if work["key"] not in self.site.works:
                raise ValueError(f"{self.docname}: cites {work['key']!r}, which is not in the bibliography")
            works.append((*self.site.works[work["key"]], work))
        written = []
        for _, authors, year, work in sorted(works, key=lambda w: w[0]):
            link = _link(year if textual else f"{authors}, {year}", self.site.reference(work["key"]))
            inner = ", ".join(filter(None, [f"{work['pre']} {link}" if work["pre"] else link, work["post"]]))
            written.append(f"{authors} ({inner})" if textual else inner)
        return "; ".join(written) if textual else f"({'; '.join(written)})"


def _link(text: str, url: str | None) -> str:
    return f"[{text}]({url})" if url else text


def resolve(docname: str, target: str) -> str:
    """The docname that ``target``, a path relative to the chapter ``docname`` (as roles write it), names."""
    return posixpath.normpath(posixpath.join(posixpath.dirname(docname), target.removesuffix(".md")))
