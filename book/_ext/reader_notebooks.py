"""The notebooks a reader takes away from a chapter: plain Jupyter, no Sphinx, no MyST.

A chapter is a MyST markdown notebook whose cells glue values and figures into its page
(``glue_helpers.py``) and whose prose pastes them with ``{glue:text}`` roles and
``{glue:figure}`` directives. Outside the book none of that means anything, so every
notebook made for readers is rewritten from the chapter: its Markdown by
``plain_markdown.py`` (every glued value in place, directives as blockquotes, links to the
published site) and its code by ``plain_code.py`` (no glue plumbing; each figure shown by its
cell, which gets the id ``figure-<name>``).

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
to one commit of the repository, where ``ddpm_sampling`` is not importable (Colab); it does
nothing where the package is installed.

The book's build writes both for every chapter with code (``notebook_downloads.py``),
pinned to the commit it builds. Colab opens notebooks only from a repository, so the
notebook a reader runs there is committed under ``notebooks/`` (``<chapter>-student.ipynb``
for an exercise, ``<chapter>.ipynb`` otherwise), written by ``python
book/_ext/reader_notebooks.py`` (``make notebooks``) from the chapters and the values glued by
the last build. ``--check`` fails when a committed notebook differs from its chapter in
anything but those values, or names a commit that the checkout does not have.

A committed notebook pins the package at :func:`package_ref`, the last commit that changed
the package (``src/`` and ``pyproject.toml``). That commit is in every clone of the
repository and its package is the one checked out, so the pin holds while only chapters
change, and it never has to name the commit that holds the notebook itself (which cannot
be known before it is made). A version tag would be neither: nothing makes one when the
version changes, and a clone need not carry tags. The site's Colab link names the commit
the book is built from (:func:`commit_ref`), whose ``notebooks/`` the drift check holds to
its chapters.
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import os
import posixpath
import re
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import jupytext
import nbformat
import yaml
from execute_chapters import toc_chapters
from plain_code import plain_code
from plain_markdown import GlueData, Markdown, TextOf, block_glue_names, glue_text

#: Where the notebooks for Colab are committed, relative to the repository's root.
COMMITTED_FOLDER = "notebooks"
STUDENT_SUFFIX = "-student"
INSTALL_TAG = "install"
CHECK_IMPORT = re.compile(r"^\s*(check_\w+)\s*\(")


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


# ---------------------------------------------------------------------------- the site


@dataclass(frozen=True)
class Site:
    """Where the book lives: its repository, the branch it is built from, its published pages, its bibliography."""

    repository: str
    branch: str = "main"
    url: str | None = None  # the published site's root, ending in "/"
    root: Path = Path(".")  # the book's source folder, where the chapters' docnames start
    bibfiles: tuple[Path, ...] = ()  # the bibliography (``bibtex_bibfiles``), relative to root
    cite_id: str = ""  # sphinxcontrib-bibtex's ``bibtex_cite_id``: the id of each work on the References page
    _titles: dict = field(default_factory=dict, compare=False, repr=False)
    _found: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_config(cls, root: Path, config: Mapping) -> Site:
        """From ``_config.yml``: ``repository.url`` and ``.branch``, ``html.baseurl`` if set, and the bibliography."""
        repository = (config.get("repository") or {}).get("url") or ""
        branch = (config.get("repository") or {}).get("branch") or "main"
        url = (config.get("html") or {}).get("baseurl") or None
        sphinx = (config.get("sphinx") or {}).get("config") or {}
        bibfiles = config.get("bibtex_bibfiles") or sphinx.get("bibtex_bibfiles") or []
        return cls.make(root, repository, branch, url, bibfiles, sphinx.get("bibtex_cite_id") or "")

    @classmethod
    def make(
        cls,
        root: Path,
        repository: str,
        branch: str,
        url: str | None = None,
        bibfiles: Iterable[str | Path] = (),
        cite_id: str = "",
    ) -> Site:
        repository = repository.rstrip("/").removesuffix(".git")
        url = (url.rstrip("/") + "/") if url else pages_url(repository)
        return cls(repository, branch, url, Path(root), tuple(Path(f) for f in bibfiles), cite_id)

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

    def _pages(self) -> list[tuple[str, str]]:
        """Every page of ``_toc.yml`` that is there, as (docname, its text)."""
        if "pages" not in self._found:
            paths = toc_chapters(self.root) if (self.root / "_toc.yml").is_file() else []
            self._found["pages"] = [
                (path.relative_to(self.root).with_suffix("").as_posix(), path.read_text(encoding="utf8"))
                for path in paths
                if path.is_file()
            ]
        return self._found["pages"]

    def _works(self) -> dict:
        if "works" not in self._found:
            from pybtex.database import parse_file

            works = {}
            for bibfile in self.bibfiles:
                works.update(parse_file(str(self.root / bibfile), bib_format="bibtex").entries)
            self._found["works"] = works
        return self._found["works"]

    def rank(self, key: str) -> int:
        """The place of the work ``key`` in the reference list (sorted by author, year and title as
        ``citation_style.py``'s list is), the order the page gives the works of one citation."""
        if "ranks" not in self._found:
            from pybtex.plugin import find_plugin

            listed = find_plugin("pybtex.style.sorting", "author_year_title")().sort(self._works().values())
            self._found["ranks"] = {entry.key: i for i, entry in enumerate(listed)}
        return self._found["ranks"][key]

    def citation(self, key: str) -> tuple[str, str]:
        """The authors and the year of the work ``key`` as the page cites it; ``KeyError`` if none."""
        from citation_style import author_year

        return author_year(self._works()[key])

    def reference(self, key: str) -> str | None:
        """The address of the work ``key`` on the References page (the page with the ``bibliography`` directive)."""
        if "references" not in self._found:
            directive = re.compile(r"^\s*(`{3,}|:{3,})\{bibliography\}", re.MULTILINE)
            self._found["references"] = next((d for d, text in self._pages() if directive.search(text)), None)
        page = self.page(self._found["references"]) if self._found["references"] else None
        if page is None or not self.cite_id:
            return page
        from docutils.nodes import make_id

        return f"{page}#{make_id(self.cite_id.format(key=key, bibliography_count=1))}"

    def api(self, name: str) -> str | None:
        """The address of the Python object ``name`` on the page that documents it with autodoc, if one does."""
        documented = re.compile(rf"^\s*(\.\. auto\w+::|`{{3,}}\{{auto\w+\}})\s*{re.escape(name)}\s*$", re.MULTILINE)
        docname = next((d for d, text in self._pages() if documented.search(text)), None)
        page = self.page(docname) if docname else None
        return f"{page}#{name}" if page else None

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


#: What the package is made of: a commit that changed none of these installs the same package.
PACKAGE_PATHS = ("src", "pyproject.toml")


class RefError(RuntimeError):
    """The commit that committed notebooks pin the package at cannot be told (the message says why)."""


def git(root: Path, *args: str) -> subprocess.CompletedProcess[str] | None:
    """``git -C root args``, or ``None`` where git is not installed."""
    try:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=False)
    except OSError:
        return None


def commit_ref(root: Path) -> str | None:
    """The version of the repository at ``root`` that is checked out: its tag, if HEAD has one, else the
    commit; where git cannot tell, the commit a GitHub Actions run builds (``$GITHUB_SHA``), if any."""
    for command in (["describe", "--tags", "--exact-match", "HEAD"], ["rev-parse", "HEAD"]):
        done = git(root, *command)
        if done is None:
            break
        if done.returncode == 0 and done.stdout.strip():
            return done.stdout.strip()
    return os.environ.get("GITHUB_SHA") or None


def package_changes(root: Path) -> list[str]:
    """The uncommitted changes to the package in the checkout at ``root`` (``git status --porcelain`` lines:
    changed, staged, deleted or new files under :data:`PACKAGE_PATHS`; ignored files do not count)."""
    done = git(root, "status", "--porcelain", "--untracked-files=all", "--", *PACKAGE_PATHS)
    if done is None or done.returncode != 0:
        raise RefError(f"{root} is not a git checkout: the committed notebooks pin a commit of the package")
    return done.stdout.splitlines()


def package_ref(root: Path) -> str:
    """The last commit that changed the package (:data:`PACKAGE_PATHS`), whose package is HEAD's.

    Raises :class:`RefError`, saying what to do, where that commit cannot be told: outside a git
    checkout, with uncommitted changes to the package (its last commit is not the package checked
    out), or in a shallow clone that lacks the history back to that commit.
    """
    changes = package_changes(root)
    if changes:
        listed = ", ".join(line[3:] for line in changes[:5]) + (", ..." if len(changes) > 5 else "")
        raise RefError(
            f"the package has uncommitted changes ({listed}): the committed notebooks install the package as "
            "last committed, so commit (or stash) the changes to src/ and pyproject.toml first"
        )
    done = git(root, "log", "-1", "--format=%H", "HEAD", "--", *PACKAGE_PATHS)
    ref = done.stdout.strip() if done is not None and done.returncode == 0 else ""
    if not ref:
        raise RefError(f"no commit of {root} holds the package ({', '.join(PACKAGE_PATHS)})")
    shallow = git(root, "rev-parse", "--git-path", "shallow")
    boundary = Path(root, shallow.stdout.strip()) if shallow is not None and shallow.returncode == 0 else None
    if boundary is not None and boundary.is_file() and ref in boundary.read_text().split():
        raise RefError(
            f"{root} is a shallow clone: its oldest commit {ref[:12]} seems to add the package, which may have "
            "changed last in a commit before it; fetch the whole history (git fetch --unshallow; in GitHub "
            "Actions, actions/checkout with fetch-depth: 0)"
        )
    same = git(root, "diff", "--quiet", ref, "HEAD", "--", *PACKAGE_PATHS)
    if same is None or same.returncode != 0:
        raise RefError(f"the package at {ref[:12]}, the last commit that changed it, differs from HEAD's")
    return ref


def has_commit(root: Path, ref: str) -> bool:
    """Whether the git checkout at ``root`` has the commit ``ref`` (a commit, a tag or a branch)."""
    done = git(root, "cat-file", "-e", f"{ref}^{{commit}}")
    return done is not None and done.returncode == 0


def named_refs(text: str) -> list[str]:
    """Every version of a repository that ``text`` names: in a pip requirement ``git+<url>@<ref>`` and in
    a GitHub or Colab address ``github/<owner>/<name>/blob/<ref>/`` (``github.com/...`` too)."""
    pip = re.findall(r"git\+https?://[^\s\"'@\\]+@([^\s\"'#\\]+)", text)  # a backslash ends it in JSON
    blob = re.findall(r"github(?:\.com)?/[^/\s\"'\\]+/[^/\s\"'\\]+/blob/([^/\s\"'\\]+)/", text)
    return pip + blob


def requirement(site: Site, ref: str) -> str:
    """The pip requirement of the package at ``ref`` of the book's repository."""
    return f"git+{site.repository}@{ref}"


# ---------------------------------------------------------------------------- Markdown


# ---------------------------------------------------------------------------- code


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
    plain = _join_prose(plain)
    if shows_pyplot and "plt" not in _bound_by_imports(cell for cell, _ in plain):
        _import_pyplot(plain, imports_at)
    return plain


def _join_prose(plain: list) -> list:
    """One Markdown cell where a dropped code cell left two side by side."""
    joined: list = []
    for cell, figures in plain:
        if joined and cell.cell_type == "markdown" and joined[-1][0].cell_type == "markdown":
            joined[-1][0].source += "\n\n" + cell.source
        else:
            joined.append((cell, figures))
    return joined


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
    first_code = next((i for i, c in enumerate(out) if c.cell_type == "code"), None)
    if first_code is not None:
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
    docname: str,
    site: Site,
    package: str,
    glued: GlueData,
    missing: Callable[[str], None] | None = None,
) -> nbformat.NotebookNode:
    """The chapter as the book ran it: solutions and outputs, each glued figure as its cell's output.

    ``glued`` gives the values each chapter glued; ``missing`` reports a value that none did
    (see :func:`plain_markdown.glue_text`).
    """
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
    markdown = Markdown(site, docname, glue_text(glued, docname, missing))
    plain = _plain_cells(cells, markdown, block_glue_names(source))
    own = glued(docname)
    for cell, figures in plain:
        for name in figures:
            if name in own:
                metadata = {k: v for k, v in own[name].get("metadata", {}).items() if k != "scrapbook"}
                cell.outputs.append(nbformat.v4.new_output("display_data", data=own[name]["data"], metadata=metadata))
    return _finish(nb, plain, package)


def glue_loader(folder: Path) -> GlueData:
    """The values each chapter glued, from myst-nb's ``<folder>/<docname>.glue.json`` (none if it has none)."""
    cache: dict[str, Mapping] = {}

    def glued(docname: str) -> Mapping[str, Mapping]:
        if docname not in cache:
            path = folder.joinpath(*f"{docname}.glue.json".split("/"))
            cache[docname] = json.loads(path.read_text()) if path.is_file() else {}
        return cache[docname]

    return glued


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


def chapters(root: Path) -> dict[str, nbformat.NotebookNode]:
    """Every chapter of ``_toc.yml`` that is a notebook with code, by docname."""
    found = {}
    for path in toc_chapters(root):
        nb = read_chapter(path)
        if nb is not None:
            found[path.relative_to(root).with_suffix("").as_posix()] = nb
    return found


def load_config(root: Path) -> dict:
    return yaml.safe_load((root / "_config.yml").read_text()) or {}


def committed_notebooks(root: Path, text_of: Callable[[str], TextOf]) -> dict[Path, nbformat.NotebookNode]:
    """The notebook of every chapter for ``notebooks/``, keyed by its path; ``text_of(docname)`` gives its values."""
    site = Site.from_config(root, load_config(root))
    package = requirement(site, package_ref(root))
    out = {}
    for docname, source in chapters(root).items():
        stem = posixpath.basename(docname)
        nb = student_notebook(source, docname, site, text_of(docname), package)
        out[root / COMMITTED_FOLDER / committed_name(stem, is_exercise(source))] = nb
    return out


def last_build_values(build: Path) -> Callable[[str], TextOf]:
    """The values that the last build (``<build>/jupyter_execute``) glued, for each chapter."""
    glued = glue_loader(build / "jupyter_execute")
    return lambda docname: glue_text(glued, docname)


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
    try:
        if args.check:
            wanted = committed_notebooks(root, lambda docname: lambda name, spec: PLACEHOLDER)
        else:
            wanted = committed_notebooks(root, last_build_values(args.build or root / "_build"))
    except RefError as err:
        print(f"cannot {'check' if args.check else 'write'} {COMMITTED_FOLDER}/: {err}", file=sys.stderr)
        return 1
    texts = {p: nbformat.writes(nb) + "\n" for p, nb in wanted.items()}
    if args.check:
        stale = [p for p, text in texts.items() if not p.is_file() or not _matches(text, p.read_text())]
    else:
        stale = [p for p, text in texts.items() if not p.is_file() or p.read_text() != text]
    extra = sorted(p for p in folder.glob("*.ipynb") if p not in wanted) if folder.is_dir() else []
    if args.check:
        for p in sorted(folder.glob("*.ipynb")) if folder.is_dir() else []:
            for ref in named_refs(p.read_text()):
                if not has_commit(root, ref):
                    print(f"{p.relative_to(root)} names {ref}, which this checkout does not have")
        for p in stale:
            named, meant = (named_refs(p.read_text()) if p.is_file() else []), named_refs(texts[p])
            if p.is_file() and named != meant:
                print(
                    f"{p.relative_to(root)} installs the package at {', '.join(named) or 'no commit'}, but it "
                    f"last changed in {', '.join(meant)}: run `make notebooks`"
                )
            else:
                print(f"{p.relative_to(root)} differs from its chapter: run `make notebooks`")
        for p in extra:
            print(f"{p.relative_to(root)} has no chapter: remove it")
        unknown = any(not has_commit(root, r) for p in extra for r in named_refs(p.read_text()))
        return 1 if stale or extra or unknown else 0
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
