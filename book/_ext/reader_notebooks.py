"""The notebooks a reader takes away from a chapter: plain Jupyter, no Sphinx, no MyST.

A chapter glues values and figures into its page (``glue_helpers.py``), which means nothing outside the book:
every notebook made for readers is rewritten from the chapter, its Markdown by ``plain_markdown.py`` and its
code by ``plain_code.py`` (each glued figure shown by its cell, which gets the id ``figure-<name>``). The
``executed`` notebook is the chapter as the book ran it, with its outputs, minus the skeleton cells (they would
stop "Run all"). The ``student`` notebook (of a chapter with a cell tagged ``solution``) has no outputs, no
``solution`` cell, and each ``skeleton`` without ``skip-execution``, followed by a cell running its self-check
where it has a ``:check:`` option (e.g. ``check_reverse_step(reverse_step)``).

Both open with a cell that installs the package where ``ddpm_sampling`` is not importable (Colab), pinned to
one commit. The build offers both (``notebook_downloads.py``). Colab opens notebooks only from a repository:
``make notebooks`` (this script) commits the one a reader runs there under ``notebooks/``, with the values the
last build glued; ``--check`` fails when one differs from its chapter in anything but those values.

A committed notebook pins the package at :func:`package_ref`, the last commit that changed the package: it is
in every clone and its package is the one checked out, so the pin holds while only chapters change, and it
never has to name the commit that holds the notebook itself (which cannot be known before it is made).
"""

import argparse
import copy
import json
import posixpath
import re
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Self

import jupytext
import nbformat
import yaml
from citation_style import author_year
from docutils.nodes import make_id
from execute_chapters import code_chapters, toc_chapters
from plain_code import PYPLOT, plain_code
from plain_markdown import GlueData, Markdown, TextOf, block_glue_names, glue_text
from pybtex.database import parse_file
from pybtex.plugin import find_plugin

COMMITTED_FOLDER = "notebooks"
STUDENT_SUFFIX = "-student"
#: What the package is made of: a commit that changed none of these installs the same package.
PACKAGE_PATHS = ("src", "pyproject.toml")
#: What ``--check`` puts in place of each glued value: any value matches it.
PLACEHOLDER = "@@glued@@"
#: The first code cell of a notebook for readers: it installs the package only where it is not importable.
INSTALL = """\
# On Colab (or any fresh Python), install the book's package first, at the version of the
# book that made this notebook; where the package is installed, this cell does nothing.
import importlib
import importlib.util

if importlib.util.find_spec("ddpm_sampling") is None:
    %pip install --quiet "{package}"
    importlib.invalidate_caches()"""


def tags(cell: Mapping) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def is_exercise(nb: nbformat.NotebookNode) -> bool:
    return any(cell.cell_type == "code" and "solution" in tags(cell) for cell in nb.cells)


def chapters(root: Path) -> dict[str, nbformat.NotebookNode]:
    return {path.relative_to(root).with_suffix("").as_posix(): jupytext.read(path) for path in code_chapters(root)}


@dataclass(frozen=True)
class Site:
    """Where the book lives: its repository, the branch it is built from, its published pages, its bibliography."""

    root: Path  # the book's source folder, where the chapters' docnames start
    repository: str
    branch: str = "main"
    url: str | None = None  # the published site's root, ending in "/"
    bibfiles: tuple[str, ...] = ()  # the bibliography (``bibtex_bibfiles``), relative to root
    cite_id: str = ""  # sphinxcontrib-bibtex's ``bibtex_cite_id``: the id of each work on the References page

    @classmethod
    def make(cls, root: Path, repository: str, branch: str = "main", url: str | None = None, **bib) -> Self:
        """The site of a repository; ``url`` defaults to GitHub Pages' for a GitHub repository."""
        repository = repository.rstrip("/").removesuffix(".git")
        if not url and (github := re.fullmatch(r"https://github\.com/([^/]+)/([^/]+)", repository)):
            owner, name = github[1].lower(), github[2]
            url = f"https://{owner}.github.io/" + ("" if name.lower() == f"{owner}.github.io" else f"{name}/")
        return cls(Path(root), repository, branch, url and url.rstrip("/") + "/", **bib)

    @classmethod
    def from_config(cls, root: Path) -> Self:
        """From ``<root>/_config.yml``: ``repository``, ``html.baseurl`` and the bibliography's settings."""
        config = yaml.safe_load((root / "_config.yml").read_text()) or {}
        repository, sphinx = config.get("repository") or {}, (config.get("sphinx") or {}).get("config") or {}
        bib = {"bibfiles": tuple(config.get("bibtex_bibfiles") or ()), "cite_id": sphinx.get("bibtex_cite_id", "")}
        url = (config.get("html") or {}).get("baseurl")
        return cls.make(root, repository.get("url") or "", repository.get("branch") or "main", url, **bib)

    def page(self, docname: str) -> str | None:
        return f"{self.url}{docname}.html" if self.url else None

    @cached_property
    def _pages(self) -> dict[str, str]:
        paths = toc_chapters(self.root) if (self.root / "_toc.yml").is_file() else []
        return {p.relative_to(self.root).with_suffix("").as_posix(): p.read_text() for p in paths if p.is_file()}

    def title(self, docname: str) -> str:
        """The first heading of a chapter (its title on the site: the chapters open with it)."""
        heading = re.search(r"^# (.+)$", self._pages.get(docname, ""), re.MULTILINE)
        return heading[1].strip() if heading else posixpath.basename(docname)

    @cached_property
    def works(self) -> dict[str, tuple[int, str, str]]:
        """Each work of the bibliography by key: its place in the reference list (sorted as
        ``citation_style.py`` sorts it), and its authors and year as the page cites it."""
        entries = [e for f in self.bibfiles for e in parse_file(str(self.root / f), "bibtex").entries.values()]
        listed = find_plugin("pybtex.style.sorting", "author_year_title")().sort(entries)
        return {entry.key: (i, *author_year(entry)) for i, entry in enumerate(listed)}

    def _page_with(self, pattern: str) -> str | None:
        return next((self.page(d) for d, text in self._pages.items() if re.search(pattern, text, re.MULTILINE)), None)

    def reference(self, key: str) -> str | None:
        """The address of the work ``key`` on the References page (the page with the ``bibliography`` directive)."""
        page = self._page_with(r"^\s*(`{3,}|:{3,})\{bibliography\}")
        if page and self.cite_id:
            page += "#" + make_id(self.cite_id.format(key=key, bibliography_count=1))
        return page

    def api(self, name: str) -> str | None:
        """The address of the Python object ``name`` on the page that documents it with autodoc, if one does."""
        page = self._page_with(rf"^\s*(\.\. auto\w+::|`{{3,}}\{{auto\w+\}})\s*{re.escape(name)}\s*$")
        return f"{page}#{name}" if page else None

    def colab(self, ref: str, notebook: str) -> str | None:
        """Colab's address of a notebook committed in the repository at ``ref``, or ``None`` off GitHub."""
        github = re.fullmatch(r"https://github\.com/([^/]+/[^/]+)", self.repository)
        return f"https://colab.research.google.com/github/{github[1]}/blob/{ref}/{notebook}" if github else None

    def requirement(self, ref: str) -> str:
        return f"git+{self.repository}@{ref}"


class RefError(RuntimeError):
    """The commit that committed notebooks pin the package at cannot be told (the message says why)."""


def git(root: Path, *args: str) -> str | None:
    """What ``git -C root args`` prints, or ``None`` where it fails or git is not installed."""
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=False)
    except OSError:
        return None
    return done.stdout.rstrip() if done.returncode == 0 else None


def commit_ref(root: Path) -> str | None:
    """The version of the repository at ``root`` that is checked out: HEAD's tag, if it has one, else its commit."""
    return git(root, "describe", "--tags", "--exact-match", "HEAD") or git(root, "rev-parse", "HEAD")


def package_changes(root: Path) -> list[str]:
    """The files of the package (:data:`PACKAGE_PATHS`) changed, staged, deleted or new but not ignored in ``root``."""
    status = git(root, "status", "--porcelain", "--untracked-files=all", "--", *PACKAGE_PATHS)
    if status is None:
        raise RefError(f"{root} is not a git checkout: the committed notebooks pin a commit of the package")
    return [line[3:] for line in status.splitlines()]


def package_ref(root: Path) -> str:
    """The last commit that changed the package (:data:`PACKAGE_PATHS`), whose package is HEAD's; a
    :class:`RefError` says what to do where it cannot be told (no git, uncommitted changes, a shallow clone)."""
    if changes := package_changes(root):
        listed = ", ".join(changes[:5]) + (", ..." if len(changes) > 5 else "")
        raise RefError(
            f"the package has uncommitted changes ({listed}): the committed notebooks install the package as "
            "last committed, so commit (or stash) the changes to src/ and pyproject.toml first"
        )
    ref = git(root, "log", "-1", "--format=%H", "HEAD", "--", *PACKAGE_PATHS)
    if not ref:
        raise RefError(f"no commit of {root} holds the package ({', '.join(PACKAGE_PATHS)})")
    shallow = Path(root, git(root, "rev-parse", "--git-path", "shallow") or "")
    if shallow.is_file() and ref in shallow.read_text().split():
        raise RefError(
            f"{root} is a shallow clone: its oldest commit {ref[:12]} seems to add the package, which may have "
            "changed last in a commit before it; fetch the whole history (git fetch --unshallow; in GitHub "
            "Actions, actions/checkout with fetch-depth: 0)"
        )
    return ref


def check_cell(expression: str, cell_id: str) -> nbformat.NotebookNode:
    """A code cell that runs a self-check, importing it when it is one of the package's."""
    expression = expression.strip()
    match = re.match(r"(check_\w+)\s*\(", expression)
    source = f"from ddpm_sampling.exercises import {match[1]}\n\n{expression}" if match else expression
    return nbformat.v4.new_code_cell(source, id=cell_id, metadata={"tags": ["check"]})


def _plain_cells(cells: list[nbformat.NotebookNode], markdown: Markdown, block_names: set[str]) -> list:
    """The cells made plain (see the module's docstring), each with the glued names it shows; one
    Markdown cell where a dropped code cell left two side by side."""
    plain: list[tuple[nbformat.NotebookNode, list[str]]] = []
    live: set[str] = set()  # the names that the cells after this one read
    for cell in reversed(cells):
        figures = []
        if cell.cell_type == "markdown":
            cell.source = markdown.convert(cell.source)
        elif cell.cell_type == "code":
            code = plain_code(cell.source, live, block_names, guards="remove-cell" in tags(cell))
            cell.source, figures, live = code.source, code.figures, live | code.reads
            if PYPLOT in (code.source or "").split("\n"):
                live.discard("plt")  # imported here: no cell before needs it
        if not (cell.source or "").strip():
            continue
        if plain and cell.cell_type == plain[-1][0].cell_type == "markdown":
            cell.source += "\n\n" + plain.pop()[0].source
        plain.append((cell, figures))
    return plain[::-1]


def reader_notebook(
    chapter: nbformat.NotebookNode,
    docname: str,
    site: Site,
    text_of: TextOf,
    package: str,
    executed: nbformat.NotebookNode | None = None,
    glued: Mapping[str, Mapping] | None = None,
) -> nbformat.NotebookNode:
    """The executed notebook of a chapter, from the notebook that the book ran and the values it ``glued``;
    without ``executed``, the student notebook."""
    ran = iter(c for c in executed.cells if c.cell_type == "code") if executed else iter(())
    cells = []
    for cell in copy.deepcopy(chapter.cells):
        if ("skeleton" if executed else "solution") in tags(cell):
            continue
        if cell.cell_type == "code":
            match = next((c for c in ran if c.source == cell.source), None)
            outputs = copy.deepcopy(match.outputs) if match else []
            # as a reader sees them: without the values glued with display=False, and without glue's metadata
            cell.outputs = [o for o in outputs if not o.get("metadata", {}).pop("scrapbook", {}).get("mime_prefix")]
            cell.execution_count = match.execution_count if match else None
        cells.append(cell)
        if "skeleton" in tags(cell):
            cell.metadata["tags"] = [t for t in tags(cell) if t != "skip-execution"]
            if check := cell.metadata.pop("check", None):
                cells.append(check_cell(str(check), f"check-{len(cells)}"))
    plain = _plain_cells(cells, Markdown(site, docname, text_of), block_glue_names(chapter))
    for i, (cell, figures) in enumerate(plain):
        if figures:
            cell.id = "figure-" + re.sub(r"[^A-Za-z0-9_-]", "-", figures[0])[:56]
        elif not cell.get("id", "").startswith("check-"):
            cell.id = f"cell-{i}"
        cell.metadata = {"tags": tags(cell)} if tags(cell) else {}
        for name in (name for name in figures if name in (glued or {})):
            metadata = {k: v for k, v in glued[name].get("metadata", {}).items() if k != "scrapbook"}
            cell.outputs.append(nbformat.v4.new_output("display_data", data=glued[name]["data"], metadata=metadata))
    metadata = {k: v for k, v in (executed or chapter).metadata.items() if k in ("kernelspec", "language_info")}
    nb = nbformat.v4.new_notebook(cells=[cell for cell, _ in plain], metadata=copy.deepcopy(metadata))
    first_code = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), None)
    if first_code is not None:
        install = INSTALL.format(package=package)
        nb.cells.insert(first_code, nbformat.v4.new_code_cell(install, id="install", metadata={"tags": ["install"]}))
    nbformat.validate(nb)
    return nb


def glue_loader(folder: Path) -> GlueData:
    """The values each chapter glued, from myst-nb's ``<folder>/<docname>.glue.json`` (none if it has none)."""

    @cache
    def glued(docname: str) -> Mapping[str, Mapping]:
        path = folder / f"{docname}.glue.json"
        return json.loads(path.read_text()) if path.is_file() else {}

    return glued


def committed_name(stem: str, exercise: bool) -> str:
    return f"{stem}{STUDENT_SUFFIX if exercise else ''}.ipynb"


def committed_notebooks(root: Path, text_of: Callable[[str], TextOf]) -> dict[Path, nbformat.NotebookNode]:
    """The notebook of every chapter for ``notebooks/``, keyed by its path; ``text_of(docname)`` gives its values."""
    site = Site.from_config(root)
    package = site.requirement(package_ref(root))
    return {
        root / COMMITTED_FOLDER / committed_name(posixpath.basename(docname), is_exercise(chapter)): reader_notebook(
            chapter, docname, site, text_of(docname), package
        )
        for docname, chapter in chapters(root).items()
    }


def last_build_values(build: Path) -> Callable[[str], TextOf]:
    glued = glue_loader(build / "jupyter_execute")
    return lambda docname: glue_text(glued, docname)


def matches(expected: str, actual: str) -> bool:
    """Whether ``actual`` is ``expected`` with some value in place of each :data:`PLACEHOLDER`."""
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
    built = last_build_values(args.build or root / "_build")
    values = (lambda _: lambda name, spec: PLACEHOLDER) if args.check else built
    try:
        wanted = {path: nbformat.writes(nb) + "\n" for path, nb in committed_notebooks(root, values).items()}
    except RefError as err:
        print(f"cannot {'check' if args.check else 'write'} {COMMITTED_FOLDER}/: {err}", file=sys.stderr)
        return 1
    same = matches if args.check else str.__eq__
    stale = [path for path, text in wanted.items() if not path.is_file() or not same(text, path.read_text())]
    extra = sorted(set(folder.glob("*.ipynb")) - set(wanted))
    if args.check:
        for path in stale:  # its prose, its code or the commit its install cell names
            why = "differs from its chapter" if path.is_file() else "is missing"
            print(f"{path.relative_to(root)} {why}: run `make notebooks`")
        for path in extra:
            print(f"{path.relative_to(root)} has no chapter: remove it")
        return 1 if stale or extra else 0
    folder.mkdir(exist_ok=True)
    for path in stale:
        path.write_text(wanted[path])
        print(f"wrote {path.relative_to(root)}")
    for path in extra:
        path.unlink()
        print(f"removed {path.relative_to(root)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
