"""A chapter's MyST markdown as plain Markdown, for the notebooks made from it.

Glue roles (``{glue:text}`name:.3f```, ``{glue}`name```) become the glued value, formatted as
the page formats it; a ``{glue:figure}`` becomes its caption (the figure itself is the output of
the cell that glued it); admonitions and other directives become blockquotes with a bold title;
``{doc}`` becomes a link to the published site; a citation (``{cite:p}``, ``{cite:t}``) is
written out author-year from the bibliography, as the page writes it, and links to the work on
the site's References page; ``{py:func}`` and the other roles of the API become code that links
to the API reference; other roles become their text; targets ``(label)=`` and comments ``%``
go. Code blocks stay as they are.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import nbformat
import yaml

#: Glue directives that show a whole output (the figure cell shows it in a notebook).
BLOCK_GLUE = {"glue", "glue:", "glue:any", "glue:figure", "glue:md", "glue:math"}
INLINE_GLUE = {"glue", "glue:", "glue:any", "glue:text", "glue:md"}
ADMONITIONS = {
    "note": "Note",
    "tip": "Tip",
    "hint": "Hint",
    "important": "Important",
    "warning": "Warning",
    "caution": "Caution",
    "attention": "Attention",
    "danger": "Danger",
    "error": "Error",
    "seealso": "See also",
    "todo": "To do",
}
#: Directives whose content only the site can show.
SITE_ONLY = {"eval-rst", "nb-exec-table", "toctree", "tableofcontents", "bibliography", "raw", "include"}
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,}|:{3,})(?P<info>.*)$")
DIRECTIVE = re.compile(r"^\{(?P<name>[\w:.+-]+)\}\s*(?P<arg>.*)$")
OPTION = re.compile(r"^:(?P<key>[\w-]+):\s*(?P<value>.*)$")
ROLE = re.compile(r"\{(?P<name>[a-zA-Z][\w:.+-]*)\}`(?P<content>[^`]+)`")
TARGET = re.compile(r"^\s*\([\w.:-]+\)=\s*$")
COMMENT = re.compile(r"^\s*%")
LABELLED_MATH_END = re.compile(r"^(?P<math>\s*\$\$)\s*\([\w.:-]+\)\s*$")
EXPLICIT_TITLE = re.compile(r"^(?P<title>.+?)\s*<(?P<target>[^<>]+)>$", re.DOTALL)
#: Citation roles (sphinxcontrib-bibtex): ``cite``, ``cite:p``, ``cite:t``, ``footcite:ps``, ...
CITE = re.compile(r"^(?:foot)?cite(?::(?P<mode>\w+))?$")
#: One work of a citation: ``{pre}key{post}``, ``key{post}`` or ``key`` (sphinxcontrib-bibtex's grammar).
CITED_WORK = re.compile(r"\s*(?:\{(?P<pre>[^{}]+)\})?\s*(?P<key>[^{}\s,]+)\s*(?:\{(?P<post>[^{}]+)\})?\s*")
TEXTUAL = {"t", "ts", "ct", "cts"}
PARENTHETICAL = {"p", "ps"}
#: The roles of the Python domain (``py:func`` or ``func``), shown as code; calls get "()" as on the page.
PY_ROLE = re.compile(r"^(?:py:)?(?P<kind>func|meth|class|mod|attr|data|const|exc|obj)$")
CALLABLE_ROLES = {"func", "meth"}
#: Text that only MyST understands: roles, directive fences, targets, comments, block breaks.
MYST_ONLY = [
    ("a role", re.compile(r"\{[a-zA-Z][\w:.+-]*\}`")),
    ("a directive", re.compile(r"^\s*(`{3,}|~{3,}|:{3,})\s*\{", re.MULTILINE)),
    ("a target", re.compile(r"^\s*\([\w.:-]+\)=\s*$", re.MULTILINE)),
    ("a comment", re.compile(r"^%", re.MULTILINE)),
    ("a block break", re.compile(r"^\+\+\+", re.MULTILINE)),
    ("a directive option", re.compile(r"^:[\w-]+:\s", re.MULTILINE)),
    ("a substitution", re.compile(r"\{\{[^}]*\}\}")),
]


class Site(Protocol):
    """Where the chapters' pages are published."""

    def page(self, docname: str) -> str | None: ...

    def title(self, docname: str) -> str: ...

    def citation(self, key: str) -> tuple[str, str]:
        """The authors and the year of the work ``key`` of the bibliography; ``KeyError`` if it has none."""
        ...

    def rank(self, key: str) -> int:
        """The place of the work ``key`` in the reference list."""
        ...

    def reference(self, key: str) -> str | None:
        """The address of the work ``key`` on the site's References page, if the site has one."""
        ...

    def api(self, name: str) -> str | None:
        """The address of the Python object ``name`` in the site's API reference, if it is there."""
        ...


def myst_only(text: str) -> list[str]:
    """What in ``text`` only MyST understands, as short descriptions with the offending text."""
    found = []
    for what, pattern in MYST_ONLY:
        found += [f"{what}: {m.group(0).strip()!r}" for m in pattern.finditer(text)]
    return found


def block_glue_names(nb: nbformat.NotebookNode) -> set[str]:
    """The glued names that a directive of the chapter's Markdown shows as a whole output."""
    names = set()
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                fence = FENCE.match(line)
                directive = DIRECTIVE.match(fence["info"].strip()) if fence else None
                if directive and directive["name"] in BLOCK_GLUE:
                    names.add(directive["arg"].strip())
    return names


#: Formats the glued value ``name`` with a format spec, as a ``{glue:text}`` role shows it.
TextOf = Callable[[str, str], str]


#: The values glued by one chapter (myst-nb's ``<docname>.glue.json``), given its docname.
GlueData = Callable[[str], Mapping[str, Mapping]]


def glue_text(glued: GlueData, docname: str, missing: Callable[[str], None] | None = None) -> TextOf:
    """A :data:`TextOf` for the values glued by the chapter ``docname``, or by another one that
    a role names as ``path::key`` (the path relative to the chapter, as on the page).

    A value nobody glued raises ``KeyError``; with ``missing``, it is reported there instead
    and shown as ``?`` (the page, too, shows nothing and warns).
    """
    from myst_nb.core.variables import format_plain_text

    def text_of(name: str, spec: str) -> str:
        path, _, key = name.rpartition("::")
        data = glued(_resolve(docname, path) if path else docname)
        if key not in data:
            message = f"{docname}: no value glued as {name!r}"
            if missing is None:
                raise KeyError(f"{message}; build the book first (`make book`)")
            missing(message)
            return "?"
        shown = data[key].get("data", {})
        if spec == "md":
            return shown.get("text/markdown", shown.get("text/plain", ""))
        return format_plain_text(shown.get("text/plain", ""), spec)

    return text_of


@dataclass
class Markdown:
    """Turns one chapter's MyST markdown into plain Markdown."""

    site: Site
    docname: str
    text_of: TextOf

    def convert(self, text: str) -> str:
        return "\n".join(self._lines(text.split("\n"))).strip("\n")

    def _lines(self, lines: list[str]) -> list[str]:
        out: list[str] = []
        i = 0
        while i < len(lines):
            line = lines[i]
            fence = FENCE.match(line)
            if fence:
                close = _closing_fence(lines, i + 1, fence["fence"])
                body = lines[i + 1 : close]
                directive = DIRECTIVE.match(fence["info"].strip())
                if directive:
                    out += self._directive(directive["name"], directive["arg"].strip(), body)
                else:  # a code block: as it is
                    out += [line, *body] + ([lines[close]] if close < len(lines) else [])
                i = close + 1
                continue
            if not (TARGET.match(line) or COMMENT.match(line)):
                labelled = LABELLED_MATH_END.match(line)
                out.append(labelled["math"] if labelled else self._roles(line))
            i += 1
        return out

    def _directive(self, name: str, arg: str, body: list[str]) -> list[str]:
        options, content = _options(body)
        if name in SITE_ONLY:
            return []
        if name == "admonition" or name in ADMONITIONS:
            return _blockquote(self._roles(arg) if name == "admonition" else ADMONITIONS[name], self._lines(content))
        if name in BLOCK_GLUE:
            if name == "glue:md":
                return [self.text_of(arg, "md")]
            if name == "glue:math":
                return ["$$", self.text_of(arg, ""), "$$"]
            caption = self._lines(content)
            while caption and not caption[0].strip():
                caption = caption[1:]
            return [f"**Figure.** {caption[0]}", *caption[1:]] if caption else []
        if name == "math":
            return ["$$", *content, "$$"]
        if name in ("code-block", "code", "sourcecode"):
            return [f"```{arg}", *content, "```"]
        title = name.replace("-", " ").capitalize() + (f": {self._roles(arg)}" if arg else "")
        return _blockquote(title, self._lines(content))

    def _roles(self, text: str) -> str:
        return ROLE.sub(lambda m: self._role(m["name"], m["content"]), text)

    def _role(self, name: str, content: str) -> str:
        explicit = EXPLICIT_TITLE.match(content)
        title, target = (explicit["title"], explicit["target"]) if explicit else (None, content)
        if name in INLINE_GLUE:
            key, spec = content.rsplit(":", 1) if name == "glue:text" and ":" in content else (content, "")
            return self.text_of(key, "md" if name == "glue:md" else spec)
        if name == "doc":
            docname = _resolve(self.docname, target)
            url = self.site.page(docname)
            text = title or self.site.title(docname)
            return f"[{text}]({url})" if url else text
        if name == "math":
            return f"${content}$"
        if name == "eq":
            return f"({content})"
        if cite := CITE.match(name):
            return self._citation(cite["mode"] or "p", content)
        if py := PY_ROLE.match(name):
            return self._python(py["kind"], title, target)
        if name in ("sub", "sup"):
            return f"<{name}>{content}</{name}>"
        return title or target

    def _citation(self, mode: str, content: str) -> str:
        """A citation as the page writes it (``book/_ext/citation_style.py``): (Ho et al., 2020, sec. 2),
        Heusel et al. (2017); what the page links to the work's entry on the References page, this does."""
        cited = []
        for item in _split_outside_braces(content):
            work = CITED_WORK.fullmatch(item)
            if work is None:
                raise ValueError(f"{self.docname}: cannot read the citation {content!r}")
            try:
                cited.append((self.site.rank(work["key"]), work, *self.site.citation(work["key"])))
            except KeyError:
                raise ValueError(f"{self.docname}: cites {work['key']!r}, which is not in the bibliography") from None
        works = []
        for _, work, authors, year in sorted(cited, key=lambda c: c[0]):  # in the reference list's order
            url = self.site.reference(work["key"])
            pre, post = work["pre"], work["post"]
            if mode in TEXTUAL:
                inner = ", ".join(filter(None, [f"{pre} {_link(year, url)}" if pre else _link(year, url), post]))
                works.append(f"{authors} ({inner})")
                continue
            shown = authors if "author" in mode else year if "year" in mode else f"{authors}, {year}"
            works.append(", ".join(filter(None, [f"{pre} {_link(shown, url)}" if pre else _link(shown, url), post])))
        joined = "; ".join(works)
        bracketed = mode not in TEXTUAL and not mode.startswith("al") and (mode in PARENTHETICAL or "par" in mode)
        return f"({joined})" if bracketed else joined

    def _python(self, kind: str, title: str | None, target: str) -> str:
        """An object of the API as the page shows it: code, ``reverse_step()`` for ``~ddpm_sampling.reverse_step``."""
        name = target.lstrip("~.")
        if title is None:
            title = name.rsplit(".", 1)[-1] if target.startswith("~") else name
            title += "()" if kind in CALLABLE_ROLES else ""
        return _link(f"`{title}`", self.site.api(name))


def _link(text: str, url: str | None) -> str:
    return f"[{text}]({url})" if url else text


def _split_outside_braces(text: str) -> list[str]:
    """``text`` split at the commas that are not inside ``{...}``."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += {"{": 1, "}": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    return [*parts, text[start:]]


def _closing_fence(lines: list[str], start: int, fence: str) -> int:
    closing = re.compile(rf"^\s*{re.escape(fence[0])}{{{len(fence)},}}\s*$")
    return next((k for k in range(start, len(lines)) if closing.match(lines[k])), len(lines))


def _options(body: list[str]) -> tuple[dict[str, str], list[str]]:
    """A directive's options (``:key: value`` lines or a ``---`` YAML block) and its content."""
    options: dict[str, str] = {}
    i = 0
    if body and body[0].strip() == "---":
        end = next((k for k in range(1, len(body)) if body[k].strip() == "---"), None)
        if end is not None:
            options = yaml.safe_load("\n".join(body[1:end])) or {}
            i = end + 1
    while i < len(body) and (match := OPTION.match(body[i])):
        options[match["key"]] = match["value"]
        i += 1
    return options, body[i:]


def _blockquote(title: str, content: list[str]) -> list[str]:
    while content and not content[0].strip():
        content = content[1:]
    while content and not content[-1].strip():
        content = content[:-1]
    return [f"> **{title}**"] + [">"] * bool(content) + [f"> {line}".rstrip() for line in content]


def _resolve(docname: str, target: str) -> str:
    target = target.removesuffix(".md").removesuffix(".ipynb")
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(posixpath.dirname(docname), target))
