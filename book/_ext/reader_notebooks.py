"""The notebooks a reader takes away from a chapter: plain Jupyter, no Sphinx, no MyST.

A chapter is a MyST markdown notebook whose cells glue values and figures into its page
(``glue_helpers.py``) and whose prose pastes them with ``{glue:text}`` roles and
``{glue:figure}`` directives. Outside the book none of that means anything, so every
notebook made for readers is rewritten from the chapter:

- **Markdown.** Glue roles become the glued value, formatted as on the page; a
  ``{glue:figure}`` becomes its caption (the figure is the output of the cell above);
  admonitions and other directives become blockquotes with a bold title; ``{doc}`` becomes
  a link to the published site; other roles become their text; labels and comments go.
- **Code.** The imports of ``glue`` and ``glue_figure`` go; ``glue_figure(name, fig)``
  becomes ``plt.show()`` and gluing a value that a directive shows becomes ``display(value)``;
  every other ``glue(...)`` goes, and so does what a cell computed only for it (an
  assignment that no later cell reads). A cell left empty is dropped: in a chapter, the
  cells tagged ``remove-cell`` that glue numbers into the prose. A figure cell gets the id
  ``figure-<name>``.

From that, two notebooks:

``executed``
    myst-nb's executed copy of the chapter with its outputs, minus the skeleton cells
    (they would stop "Run all"), each figure as the output of its cell.
``student`` (chapters with a cell tagged ``solution``)
    the chapter without outputs, every ``solution`` cell removed and its ``skeleton`` kept
    (without ``skip-execution``); a skeleton whose metadata has ``check: <expression>``
    (in MyST a ``:check:`` option, e.g. ``check_reverse_step(reverse_step)``) is followed by
    a cell running that self-check from ``ddpm_sampling.exercises``.

Both open with an install cell (before the first code cell) that installs the package, pinned
to one version of the repository, where ``ddpm_sampling`` is not importable (Colab); it does
nothing where the package is installed.

The book's build writes both for every chapter with code (``notebook_downloads.py``),
pinned to the commit it builds. Colab opens notebooks only from a repository, so the
notebook a reader runs there is committed under ``notebooks/`` (``<chapter>-student.ipynb``
for an exercise, ``<chapter>.ipynb`` otherwise), pinned to the release tag ``v<version>`` of
``pyproject.toml`` and written by ``python book/_ext/reader_notebooks.py`` (``make
notebooks``) from the chapters and the values glued by the last build. ``--check`` fails when
a committed notebook differs from its chapter in anything but those values.
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import posixpath
import re
import subprocess
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import jupytext
import nbformat
import yaml

#: Where the notebooks for Colab are committed, relative to the repository's root.
COMMITTED_FOLDER = "notebooks"
STUDENT_SUFFIX = "-student"
INSTALL_TAG = "install"
#: The modules a chapter imports ``glue`` and ``glue_figure`` from.
GLUE_MODULES = {"myst_nb", "glue_helpers", "_ext.glue_helpers"}
GLUE_NAMES = {"glue", "glue_figure"}
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
CHECK_IMPORT = re.compile(r"^\s*(check_\w+)\s*\(")
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,}|:{3,})(?P<info>.*)$")
DIRECTIVE = re.compile(r"^\{(?P<name>[\w:.+-]+)\}\s*(?P<arg>.*)$")
OPTION = re.compile(r"^:(?P<key>[\w-]+):\s*(?P<value>.*)$")
ROLE = re.compile(r"\{(?P<name>[a-zA-Z][\w:.+-]*)\}`(?P<content>[^`]+)`")
TARGET = re.compile(r"^\s*\([\w.:-]+\)=\s*$")
COMMENT = re.compile(r"^\s*%")
LABELLED_MATH_END = re.compile(r"^(?P<math>\s*\$\$)\s*\([\w.:-]+\)\s*$")
EXPLICIT_TITLE = re.compile(r"^(?P<title>.+?)\s*<(?P<target>[^<>]+)>$", re.DOTALL)
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


def tags(cell: Mapping) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def has_code(nb: nbformat.NotebookNode) -> bool:
    return any(cell.cell_type == "code" and cell.source.strip() for cell in nb.cells)


def is_exercise(nb: nbformat.NotebookNode) -> bool:
    """Whether a chapter has a worked solution, i.e. a code cell tagged ``solution``."""
    return any(cell.cell_type == "code" and "solution" in tags(cell) for cell in nb.cells)


def read_chapter(path: Path) -> nbformat.NotebookNode | None:
    """The chapter at ``path`` as a notebook if it is one with code cells, else ``None``."""
    if path.suffix not in (".md", ".ipynb") or not path.is_file():
        return None
    if path.suffix == ".md" and not path.read_text(encoding="utf8").startswith("---\njupytext:"):
        return None
    nb = jupytext.read(path)
    return nb if has_code(nb) else None


def myst_only(text: str) -> list[str]:
    """What in ``text`` only MyST understands, as short descriptions with the offending text."""
    found = []
    for what, pattern in MYST_ONLY:
        found += [f"{what}: {m.group(0).strip()!r}" for m in pattern.finditer(text)]
    return found


# ---------------------------------------------------------------------------- the site


@dataclass(frozen=True)
class Site:
    """Where the book lives: its repository, the branch it is built from, its published pages."""

    repository: str
    branch: str = "main"
    url: str | None = None  # the published site's root, ending in "/"
    root: Path = Path(".")  # the book's source folder, where the chapters' docnames start
    _titles: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_config(cls, root: Path, config: Mapping) -> Site:
        """From ``_config.yml``: ``repository.url`` and ``.branch``, and ``html.baseurl`` if set."""
        repository = (config.get("repository") or {}).get("url") or ""
        branch = (config.get("repository") or {}).get("branch") or "main"
        url = (config.get("html") or {}).get("baseurl") or None
        return cls.make(root, repository, branch, url)

    @classmethod
    def make(cls, root: Path, repository: str, branch: str, url: str | None = None) -> Site:
        repository = repository.rstrip("/").removesuffix(".git")
        return cls(repository, branch, (url.rstrip("/") + "/") if url else pages_url(repository), Path(root))

    def github(self) -> tuple[str, str] | None:
        """The owner and name of a GitHub repository, or ``None``."""
        match = re.fullmatch(r"https://github\.com/([^/]+)/([^/]+)", self.repository)
        return (match[1], match[2]) if match else None

    def page(self, docname: str) -> str | None:
        return f"{self.url}{docname}.html" if self.url else None

    def title(self, docname: str) -> str:
        """The first heading of a chapter (its title on the site), or its name if it has none."""
        if docname not in self._titles:
            title = posixpath.basename(docname)
            for suffix in (".md", ".ipynb"):
                path = self.root.joinpath(*f"{docname}{suffix}".split("/"))
                if path.is_file():
                    nb = jupytext.read(path)
                    heading = next(
                        (
                            line[2:].strip()
                            for cell in nb.cells
                            if cell.cell_type == "markdown"
                            for line in cell.source.splitlines()
                            if line.startswith("# ")
                        ),
                        None,
                    )
                    title = heading or title
                    break
            self._titles[docname] = title
        return self._titles[docname]

    def colab(self, ref: str, notebook: str) -> str | None:
        """Colab's address of a notebook committed in the repository at ``ref``, or ``None`` off GitHub."""
        github = self.github()
        if github is None:
            return None
        return f"https://colab.research.google.com/github/{github[0]}/{github[1]}/blob/{ref}/{notebook}"


def pages_url(repository: str) -> str | None:
    """GitHub Pages' address of a GitHub repository's site, or ``None``."""
    match = re.fullmatch(r"https://github\.com/([^/]+)/([^/]+)", repository)
    if not match:
        return None
    owner, name = match[1].lower(), match[2]
    return (
        f"https://{owner}.github.io/" if name.lower() == f"{owner}.github.io" else f"https://{owner}.github.io/{name}/"
    )


def commit_ref(root: Path) -> str | None:
    """The version of the repository at ``root`` that is checked out: its tag, if HEAD has one, else the commit."""
    for command in (["describe", "--tags", "--exact-match", "HEAD"], ["rev-parse", "HEAD"]):
        try:
            done = subprocess.run(["git", "-C", str(root), *command], capture_output=True, text=True, check=False)
        except OSError:
            return None
        if done.returncode == 0 and done.stdout.strip():
            return done.stdout.strip()
    return None


def release_ref(root: Path) -> str | None:
    """The release tag of the package's version in ``root/pyproject.toml`` (``v0.1.0``), or ``None``."""
    path = root / "pyproject.toml"
    if not path.is_file():
        return None
    version = tomllib.loads(path.read_text()).get("project", {}).get("version")
    return f"v{version}" if version else None


def requirement(site: Site, ref: str) -> str:
    """The pip requirement of the package at ``ref`` of the book's repository."""
    return f"git+{site.repository}@{ref}"


# ---------------------------------------------------------------------------- Markdown


#: Formats the glued value ``name`` with a format spec, as a ``{glue:text}`` role shows it.
TextOf = Callable[[str, str], str]


def glue_text(glue_data: Mapping[str, Mapping], docname: str) -> TextOf:
    """A :data:`TextOf` for values glued by one execution of the chapter ``docname`` (myst-nb's ``.glue.json``)."""
    from myst_nb.core.variables import format_plain_text

    def text_of(name: str, spec: str) -> str:
        if name not in glue_data:
            raise KeyError(f"{docname}: no value glued as {name!r}; build the book first (`make book`)")
        data = glue_data[name].get("data", {})
        if spec == "md":
            return data.get("text/markdown", data.get("text/plain", ""))
        return format_plain_text(data.get("text/plain", ""), spec)

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
        if name.startswith("cite"):
            keys = "; ".join(k.strip() for k in content.split(","))
            url = self.site.page(self.docname)
            return f"[{keys}]({url})" if url else f"({keys})"
        if name in ("sub", "sup"):
            return f"<{name}>{content}</{name}>"
        return title or target


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


# ---------------------------------------------------------------------------- code


@dataclass
class PlainCode:
    """A code cell made plain: its new source (``None`` when dropped), the glued names it shows, the names it reads."""

    source: str | None
    figures: list[str]
    reads: set[str]
    shows_pyplot: bool = False  # it calls plt.show()
    glue_import_at: int | None = None  # the line (0-based) of the glue import it had


def _names_read(node: ast.AST | Iterable[ast.AST]) -> set[str]:
    nodes = [node] if isinstance(node, ast.AST) else list(node)
    return {n.id for top in nodes for n in ast.walk(top) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _bound(stmt: ast.stmt) -> set[str]:
    """The names a statement binds."""
    targets: list[ast.AST] = []
    if isinstance(stmt, ast.Assign):
        targets = list(stmt.targets)
    elif isinstance(stmt, ast.AnnAssign | ast.AugAssign | ast.For | ast.AsyncFor):
        targets = [stmt.target]
    elif isinstance(stmt, ast.With | ast.AsyncWith):
        targets = [item.optional_vars for item in stmt.items if item.optional_vars is not None]
    elif isinstance(stmt, ast.Import | ast.ImportFrom):
        return {(a.asname or a.name).split(".")[0] for a in stmt.names}
    names = {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    for body in _bodies(stmt):
        for inner in body:
            names |= _bound(inner)
    return names


def _bodies(stmt: ast.stmt) -> list[list[ast.stmt]]:
    bodies = [getattr(stmt, key) for key in ("body", "orelse", "finalbody") if getattr(stmt, key, None)]
    if isinstance(stmt, ast.Try):
        bodies += [handler.body for handler in stmt.handlers]
    return bodies


def _call_to(stmt: ast.stmt, name: str) -> ast.Call | None:
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        func = stmt.value.func
        if isinstance(func, ast.Name) and func.id == name:
            return stmt.value
    return None


def _glue_name(call: ast.Call) -> str | None:
    first = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "name"), None)
    return first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None


def _glued_value(call: ast.Call) -> ast.expr:
    if len(call.args) > 1:
        return call.args[1]
    return next(k.value for k in call.keywords if k.arg in ("variable", "value", "fig"))


def _imports_glue(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.ImportFrom) and (
        stmt.module in GLUE_MODULES or any(alias.name in GLUE_NAMES for alias in stmt.names)
    )


class _CodeEdit:
    """Line edits on one cell's source, found from its syntax tree."""

    def __init__(self, source: str, block_names: set[str]):
        self.source = source
        self.lines = source.split("\n")
        self.block_names = block_names
        self.tree = ast.parse(source)
        self.replace: dict[int, tuple[int, list[str]]] = {}  # first line (0-based) -> (last line, new lines)
        self.first_line: dict[int, int] = {}  # id of a removed statement -> the first line it takes along
        self.plain = PlainCode(None, [], set())
        self.glue_calls_removed = False

    def _own_lines(self, stmt: ast.stmt) -> str:
        """The indentation of a statement that has its lines to itself."""
        first, last = self.lines[stmt.lineno - 1], self.lines[stmt.end_lineno - 1]
        rest = last[stmt.end_col_offset :].strip()
        if first[: stmt.col_offset].strip() or (rest and not rest.startswith("#")):
            raise ValueError(f"line {stmt.lineno}: give each glue statement a line of its own:\n{self.source}")
        return first[: stmt.col_offset]

    def _remove(self, stmt: ast.stmt) -> None:
        indent = self._own_lines(stmt)
        first = stmt.lineno - 1
        while first > 0 and self.lines[first - 1].startswith(indent + "#"):  # its comment goes with it
            first -= 1
        self.replace[first] = (stmt.end_lineno - 1, [])
        self.first_line[id(stmt)] = first

    def _substitute(self, stmt: ast.stmt, text: str) -> None:
        first = self.first_line.pop(id(stmt), stmt.lineno - 1)
        self.replace[first] = (stmt.end_lineno - 1, [self._own_lines(stmt) + text])

    def unglue(self, body: list[ast.stmt]) -> bool:
        """Remove or replace the glue in ``body`` (recursively); return whether all of ``body`` went."""
        for stmt in body:
            if _imports_glue(stmt):
                kept = [a for a in stmt.names if a.name not in GLUE_NAMES] if stmt.module not in GLUE_MODULES else []
                if kept:
                    self._substitute(stmt, ast.unparse(ast.ImportFrom(stmt.module, kept, stmt.level)))
                else:
                    if self.plain.glue_import_at is None:
                        self.plain.glue_import_at = stmt.lineno - 1
                    self._remove(stmt)
            elif (call := _call_to(stmt, "glue_figure")) is not None:
                self._substitute(stmt, "plt.show()")
                self.plain.figures.append(_glue_name(call) or "figure")
                self.plain.shows_pyplot = True
            elif (call := _call_to(stmt, "glue")) is not None:
                name = _glue_name(call)
                if name in self.block_names:
                    self._substitute(stmt, f"display({ast.get_source_segment(self.source, _glued_value(call))})")
                    self.plain.figures.append(name)
                else:
                    self._remove(stmt)
                    self.glue_calls_removed = True
            elif bodies := _bodies(stmt):
                emptied = [self.unglue(b) for b in bodies]
                if all(emptied):
                    self._remove(stmt)
                else:
                    for b, gone in zip(bodies, emptied):
                        if gone:
                            self._substitute(b[0], "pass")
        return all(id(stmt) in self.first_line for stmt in body)

    def kept(self, body: list[ast.stmt]) -> list[ast.stmt]:
        return [s for s in body if id(s) not in self.first_line]

    def pure_binding(self, stmt: ast.stmt) -> bool:
        """Whether a statement only binds names (nothing shown, nothing called for its effect)."""
        if isinstance(stmt, ast.Assign | ast.AnnAssign | ast.AugAssign | ast.Import | ast.ImportFrom):
            return True
        if isinstance(stmt, ast.For | ast.With | ast.If):
            return all(self.pure_binding(s) for b in _bodies(stmt) for s in self.kept(b))
        return False

    def reads(self, stmt: ast.stmt) -> set[str]:
        """The names a kept statement reads, leaving out its removed parts."""
        names: set[str] = set()
        for child in ast.iter_child_nodes(stmt):
            if isinstance(child, ast.stmt):
                if id(child) not in self.first_line:
                    names |= self.reads(child)
            else:
                names |= _names_read(child)
        return names

    def drop_dead(self, live: set[str]) -> set[str]:
        """Remove the top-level assignments that only fed the removed glue; return what the rest reads."""
        reads: set[str] = set()
        for stmt in reversed(self.kept(self.tree.body)):
            if self.glue_calls_removed and self.pure_binding(stmt) and not _bound(stmt) & (live | reads):
                self._remove(stmt)
                continue
            reads |= self.reads(stmt)
        return reads

    def result(self) -> str | None:
        out: list[str] = []
        i = 0
        while i < len(self.lines):
            if i in self.replace:
                last, new = self.replace[i]
                out += new
                i = last + 1
            else:
                out.append(self.lines[i])
                i += 1
        text = re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip("\n")
        code = [line for line in text.split("\n") if line.strip() and not line.lstrip().startswith("#")]
        return text if code else None


def plain_code(source: str, live_after: set[str], block_names: set[str]) -> PlainCode:
    """One code cell made plain (see the module's docstring); ``live_after``: the names later cells read."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython syntax (a magic): no glue to find, and it may read any name it mentions
        if re.search(r"\bglue(_figure)?\b", source):
            raise
        return PlainCode(source, [], set(re.findall(r"[A-Za-z_]\w*", source)))
    if not any(_imports_glue(n) or isinstance(n, ast.Name) and n.id in GLUE_NAMES for n in ast.walk(tree)):
        return PlainCode(source, [], _names_read(tree))
    edit = _CodeEdit(source, block_names)
    edit.unglue(edit.tree.body)
    reads = edit.drop_dead(live_after)
    edit.plain.source = edit.result()
    edit.plain.reads = reads if edit.plain.source is not None else set()
    return edit.plain


# ---------------------------------------------------------------------------- notebooks


def install_cell(package: str) -> nbformat.NotebookNode:
    """A cell that pip-installs ``package`` only where ``ddpm_sampling`` is not importable."""
    source = (
        "# On Colab (or any fresh Python), install the book's package first, at the version of the\n"
        "# book that made this notebook; where the package is installed, this cell does nothing.\n"
        "import importlib\n"
        "import importlib.util\n"
        "\n"
        'if importlib.util.find_spec("ddpm_sampling") is None:\n'
        f'    %pip install --quiet "{package}"\n'
        "    importlib.invalidate_caches()"
    )
    return nbformat.v4.new_code_cell(source, id="install", metadata={"tags": [INSTALL_TAG]})


def check_cell(expression: str, cell_id: str) -> nbformat.NotebookNode:
    """A code cell that runs a self-check, importing it when it is one of the package's."""
    expression = expression.strip()
    match = CHECK_IMPORT.match(expression)
    source = f"from ddpm_sampling.exercises import {match.group(1)}\n\n{expression}" if match else expression
    return nbformat.v4.new_code_cell(source, id=cell_id, metadata={"tags": ["check"]})


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


def _cell_id(name: str) -> str:
    return "figure-" + re.sub(r"[^A-Za-z0-9_-]", "-", name)[:56]


def _plain_cells(cells: list[nbformat.NotebookNode], markdown: Markdown, block_names: set[str]) -> list:
    """The chapter's cells made plain (see the module's docstring), each with the glued names it shows."""
    plain: list[tuple[nbformat.NotebookNode, list[str]]] = []
    live: set[str] = set()
    shows_pyplot = False
    imports_at: tuple[nbformat.NotebookNode, int] | None = None
    for cell in reversed(cells):
        cell = copy.deepcopy(cell)
        if cell.cell_type == "markdown":
            cell.source = markdown.convert(cell.source)
            if cell.source.strip():
                plain.append((cell, []))
            continue
        if cell.cell_type != "code":
            plain.append((cell, []))
            continue
        code = plain_code(cell.source, live, block_names)
        if code.source is None:
            continue
        live |= code.reads
        shows_pyplot |= code.shows_pyplot
        if code.glue_import_at is not None:
            imports_at = (cell, code.glue_import_at)
        cell.source = code.source
        plain.append((cell, code.figures))
    plain.reverse()
    if shows_pyplot and "plt" not in _bound_by_imports(cell for cell, _ in plain):
        _import_pyplot(plain, imports_at)
    return plain


def _bound_by_imports(cells: Iterable[nbformat.NotebookNode]) -> set[str]:
    names = set()
    for cell in cells:
        if cell.cell_type == "code":
            for line in cell.source.splitlines():
                match = re.match(r"\s*import\s+[\w.]+\s+as\s+(\w+)\s*$", line)
                names |= {match[1]} if match else set()
    return names


def _import_pyplot(plain: list, imports_at: tuple[nbformat.NotebookNode, int] | None) -> None:
    """Import pyplot in the cell that imported the glue helpers, in order among its plain imports (or atop
    the first figure cell)."""
    if imports_at is None:
        first = next(cell for cell, figures in plain if figures)
        first.source = "import matplotlib.pyplot as plt\n\n" + first.source
        return
    cell, at = imports_at
    lines = cell.source.split("\n")
    imports = [s for s in ast.parse(cell.source).body if isinstance(s, ast.Import)]
    later = [s.lineno - 1 for s in imports if s.names[0].name > "matplotlib.pyplot"]
    earlier = [s.end_lineno for s in imports if s.names[0].name < "matplotlib.pyplot"]
    lines.insert(
        later[0] if later else earlier[-1] if earlier else min(at, len(lines)), "import matplotlib.pyplot as plt"
    )
    cell.source = "\n".join(lines)


def _finish(nb: nbformat.NotebookNode, cells: list, package: str) -> nbformat.NotebookNode:
    """Put the install cell before the first code cell, number the cells, keep only the notebook's own metadata."""
    out = []
    for i, (cell, figures) in enumerate(cells):
        if figures:
            cell["id"] = _cell_id(figures[0])
        elif cell.get("id") != "install" and not str(cell.get("id", "")).startswith("check-"):
            cell["id"] = f"cell-{i}"
        cell.metadata = {k: v for k, v in cell.metadata.items() if k in ("tags",)}
        if "tags" in cell.metadata and not cell.metadata["tags"]:
            del cell.metadata["tags"]
        out.append(cell)
    first_code = next((i for i, c in enumerate(out) if c.cell_type == "code"), len(out))
    out.insert(first_code, install_cell(package))
    nb.cells = out
    nb.metadata = {k: v for k, v in nb.metadata.items() if k in ("kernelspec", "language_info")}
    nb.nbformat, nb.nbformat_minor = 4, 5
    nbformat.validate(nb)
    return nb


def student_notebook(
    source: nbformat.NotebookNode, docname: str, site: Site, text_of: TextOf, package: str
) -> nbformat.NotebookNode:
    """The chapter for a reader to run: skeletons instead of solutions, checks after them, no outputs."""
    nb = copy.deepcopy(source)
    cells = []
    for cell in source.cells:
        cell_tags = tags(cell)
        if "solution" in cell_tags:
            continue
        cell = copy.deepcopy(cell)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        if "skeleton" in cell_tags:
            cell.metadata["tags"] = [t for t in cell_tags if t != "skip-execution"]
            check = cell.metadata.pop("check", None)
            cells.append(cell)
            if check:
                cells.append(check_cell(str(check), f"check-{len(cells)}"))
            continue
        cells.append(cell)
    plain = _plain_cells(cells, Markdown(site, docname, text_of), block_glue_names(source))
    return _finish(nb, plain, package)


def _shown(outputs: list) -> list:
    """The outputs a reader sees: without the values glued with ``display=False``, and without glue's metadata."""
    shown = []
    for output in copy.deepcopy(outputs):
        glued = output.get("metadata", {}).pop("scrapbook", None)
        if glued is None or not glued.get("mime_prefix"):
            shown.append(output)
    return shown


def executed_notebook(
    source: nbformat.NotebookNode,
    executed: nbformat.NotebookNode,
    glue_data: Mapping[str, Mapping],
    docname: str,
    site: Site,
    package: str,
) -> nbformat.NotebookNode:
    """The chapter as the book ran it: solutions and outputs, each glued figure as its cell's output."""
    nb = copy.deepcopy(executed)
    ran = iter([c for c in executed.cells if c.cell_type == "code"])
    cells = []
    for cell in source.cells:
        cell = copy.deepcopy(cell)
        if cell.cell_type == "code":
            match = next((c for c in ran if c.source == cell.source), None)
            cell.outputs = _shown(match.outputs) if match else []
            cell.execution_count = match.execution_count if match else None
            if "skeleton" in tags(cell):
                continue
        cells.append(cell)
    plain = _plain_cells(cells, Markdown(site, docname, glue_text(glue_data, docname)), block_glue_names(source))
    for cell, figures in plain:
        for name in figures:
            if name in glue_data:
                shown = glue_data[name]
                metadata = {k: v for k, v in shown.get("metadata", {}).items() if k != "scrapbook"}
                cell.outputs.append(nbformat.v4.new_output("display_data", data=shown["data"], metadata=metadata))
    return _finish(nb, plain, package)


def with_cached_outputs(executed: nbformat.NotebookNode, cache: Path | None) -> nbformat.NotebookNode:
    """The executed notebook with its outputs from jupyter-cache, where it has them.

    A chapter that myst-nb takes from the cache (``execute_notebooks: cache``; the book's
    builds execute every chapter into the cache first) is written to ``jupyter_execute``
    without its outputs: myst-nb merges them into another copy than the one it writes.
    """
    if cache is None or not Path(cache).is_dir():
        return executed
    from jupyter_cache import get_cache

    try:
        return get_cache(str(cache)).merge_match_into_notebook(executed)[1]
    except KeyError:  # not in the cache: executed by the build itself, with its outputs
        return executed


def committed_name(stem: str, exercise: bool) -> str:
    """The file name of a chapter's notebook under ``notebooks/``."""
    return f"{stem}{STUDENT_SUFFIX if exercise else ''}.ipynb"


# ---------------------------------------------------------------------------- the committed notebooks


def toc_files(root: Path) -> list[str]:
    """The docnames of ``_toc.yml``, in order."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries: list[dict]) -> None:
        for entry in entries:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("chapters", []) + entry.get("sections", []))

    for part in toc.get("parts", [toc]):
        walk(part.get("chapters", []))
    return files


def chapters(root: Path) -> dict[str, nbformat.NotebookNode]:
    """Every chapter of ``_toc.yml`` that is a notebook with code, by docname."""
    found = {}
    for docname in toc_files(root):
        for suffix in (".md", ".ipynb"):
            nb = read_chapter(root.joinpath(*f"{docname}{suffix}".split("/")))
            if nb is not None:
                found[docname] = nb
                break
    return found


def load_config(root: Path) -> dict:
    return yaml.safe_load((root / "_config.yml").read_text()) or {}


def committed_notebooks(root: Path, text_of: Callable[[str], TextOf]) -> dict[Path, nbformat.NotebookNode]:
    """The notebook of every chapter for ``notebooks/``, keyed by its path; ``text_of(docname)`` gives its values."""
    site = Site.from_config(root, load_config(root))
    package = requirement(site, release_ref(root) or site.branch)
    out = {}
    for docname, source in chapters(root).items():
        stem = posixpath.basename(docname)
        nb = student_notebook(source, docname, site, text_of(docname), package)
        out[root / COMMITTED_FOLDER / committed_name(stem, is_exercise(source))] = nb
    return out


def last_build_values(root: Path, build: Path) -> Callable[[str], TextOf]:
    """The values that the last build (``<build>/jupyter_execute``) glued, for each chapter."""

    def text_of(docname: str) -> TextOf:
        path = build.joinpath("jupyter_execute", *f"{docname}.glue.json".split("/"))
        data = json.loads(path.read_text()) if path.is_file() else {}
        return glue_text(data, docname)

    return text_of


PLACEHOLDER = "@@glued@@"


def _matches(expected: str, actual: str) -> bool:
    """Whether ``actual`` is ``expected`` with some value in place of each placeholder."""
    parts = [re.escape(p) for p in expected.split(PLACEHOLDER)]
    return re.fullmatch(r'(?:[^"\\\n]|\\.)+?'.join(parts), actual) is not None


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check``, compare) the committed notebooks; the exit status says."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[2], help="the repository")
    parser.add_argument("--build", type=Path, help="the last build's folder (default: <root>/_build)")
    parser.add_argument("--check", action="store_true", help="fail if a committed notebook is stale or missing")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    folder = root / COMMITTED_FOLDER
    if args.check:
        wanted = committed_notebooks(root, lambda docname: lambda name, spec: PLACEHOLDER)
    else:
        wanted = committed_notebooks(root, last_build_values(root, args.build or root / "_build"))
    texts = {p: nbformat.writes(nb) + "\n" for p, nb in wanted.items()}
    if args.check:
        stale = [p for p, text in texts.items() if not p.is_file() or not _matches(text, p.read_text())]
    else:
        stale = [p for p, text in texts.items() if not p.is_file() or p.read_text() != text]
    extra = sorted(p for p in folder.glob("*.ipynb") if p not in wanted) if folder.is_dir() else []
    if args.check:
        for p in stale:
            print(f"{p.relative_to(root)} differs from its chapter: run `make notebooks`")
        for p in extra:
            print(f"{p.relative_to(root)} has no chapter: remove it")
        return 1 if stale or extra else 0
    folder.mkdir(exist_ok=True)
    for p in stale:
        p.write_text(texts[p])
        print(f"wrote {p.relative_to(root)}")
    for p in extra:
        p.unlink()
        print(f"removed {p.relative_to(root)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
