"""Sphinx extension: every chapter with code offers its notebooks, made for readers, from its page.

For each page that is a notebook the HTML build writes, with ``reader_notebooks.py``:

``_sources/<docname>.ipynb``
    the executed notebook: the page's code with its outputs and figures, its prose in plain
    Markdown with every glued number in place (also those glued by another chapter).
    sphinx-book-theme's download button (".ipynb") offers a file of this name: the theme
    copies myst-nb's executed notebook there while it writes the page, and this extension
    writes the reader's notebook over it when the build ends.
``_sources/<docname>-student.ipynb`` (chapters with worked solutions)
    the student notebook: a TODO skeleton in place of each solution, no outputs.

Both install the package, where it is missing, pinned to the version of the repository
that is built (its tag if HEAD has one, else the commit; ``$GITHUB_SHA`` where there is no
git checkout, ``repository.branch`` where there is neither): a notebook downloaded today keeps
working when the branch moves on. Built with uncommitted changes to the package, the build
says that the notebooks install the package as committed, not as built.

Under its title each chapter with code gets a box (``div.nb-downloads``) with relative links to
both and a link that opens the chapter's notebook in Colab. Colab opens notebooks only from
a repository, so it opens the copy committed under ``notebooks/`` at the same version that
is built (``make notebooks`` writes them and the tests hold them to the chapters; each
installs the package at the last commit that changed it; see ``reader_notebooks.py``).

A chapter whose cell raised fails the build, whatever the command line: myst-nb (with
``execute.raise_on_error: false``) writes the traceback to ``<html>/reports/<docname>.err.log``
and warns, and this extension then stops the build with the list of failed chapters.
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any

import jupytext
import nbformat
import reader_notebooks as rn
from docutils import nodes
from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)

FOLDER = "_sources"
#: Jupyter Book's own default for ``repository.url``: not a repository of this book.
JUPYTER_BOOK_DEFAULT = "https://github.com/executablebooks/jupyter-book"


def notebook_paths(docname: str) -> tuple[str, str]:
    """The executed and the student notebook's paths in the HTML output, relative to its root (posix)."""
    return f"{FOLDER}/{docname}.ipynb", f"{FOLDER}/{docname}{rn.STUDENT_SUFFIX}.ipynb"


def _is_html(app: Sphinx) -> bool:
    return getattr(app.builder, "format", "") == "html"


def _chapter(app: Sphinx, docname: str):
    return rn.read_chapter(Path(app.env.doc2path(docname)))


def site(app: Sphinx) -> rn.Site:
    """The book's repository, published site and bibliography, from the configuration Jupyter Book derives
    from ``_config.yml`` (the bibliography's settings exist only where sphinxcontrib-bibtex is loaded)."""
    options = app.config.html_theme_options or {}
    url = (options.get("repository_url") or "").rstrip("/")
    branch = options.get("repository_branch") or "main"
    bibfiles = getattr(app.config, "bibtex_bibfiles", None) or []
    cite_id = getattr(app.config, "bibtex_cite_id", "") or ""
    repository = "" if url == JUPYTER_BOOK_DEFAULT else url
    return rn.Site.make(Path(app.srcdir), repository, branch, app.config.html_baseurl, bibfiles, cite_id)


def package(app: Sphinx, book: rn.Site) -> str:
    """The pip requirement of the package at the version being built (``notebook_downloads_install`` overrides it)."""
    if app.config.notebook_downloads_install:
        return app.config.notebook_downloads_install
    if not book.repository:
        logger.info("notebook downloads: no repository.url; the install cell names the package only")
        return "ddpm-sampling"
    return rn.requirement(book, built_ref(app, book))


def built_ref(app: Sphinx, book: rn.Site) -> str:
    """The version of the repository that is built (see the module's docstring), said once per build."""
    if not hasattr(app, "_nb_built_ref"):
        root = Path(app.srcdir)
        ref = rn.commit_ref(root)
        if ref is None:
            ref = book.branch
            logger.info("notebook downloads: neither git nor $GITHUB_SHA says what is built; naming %s", ref)
        else:
            try:
                changes = rn.package_changes(root)
            except rn.RefError:
                changes = []  # not a git checkout: $GITHUB_SHA is what is built
            if changes:
                logger.info(
                    "notebook downloads: the package has uncommitted changes (%s); the notebooks offered and "
                    "the Colab links name %s, the package as committed, not as built",
                    ", ".join(line[3:] for line in changes[:5]),
                    ref,
                )
        app._nb_built_ref = ref
    return app._nb_built_ref


def _box(prefix: str, docname: str, exercise: bool, colab: str | None) -> nodes.raw:
    executed, student = notebook_paths(docname)
    name = posixpath.basename(docname)
    executed_link = (
        f'<a class="reference download nb-download-executed" href="{prefix}{executed}" '
        f'download="{name}.ipynb">the executed notebook</a>'
    )
    if exercise:
        links = (
            f"Download {executed_link} (the worked solutions and their outputs) or "
            f'<a class="reference download nb-download-student" href="{prefix}{student}" '
            f'download="{name}{rn.STUDENT_SUFFIX}.ipynb">the student notebook</a> (a TODO skeleton in place of '
            "each solution, to fill in and check yourself)."
        )
        which = "the student notebook"
    else:
        links = f"Download {executed_link} (this page's code with its outputs)."
        which = "this chapter's notebook"
    open_in_colab = (
        f' <a class="reference external nb-open-colab" href="{colab}">Open {which} in Colab</a>, '
        "which installs the package in its first cell."
        if colab
        else ""
    )
    html = (
        '<div class="admonition tip nb-downloads">\n'
        '<p class="admonition-title">Notebooks for this chapter</p>\n'
        f"<p>{links}{open_in_colab}</p>\n"
        "</div>\n"
    )
    return nodes.raw("", html, format="html")


def add_download_box(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """Put the notebooks' links under the title of each chapter with code."""
    if not _is_html(app):
        return
    chapter = _chapter(app, docname)
    if chapter is None:
        return
    exercise = rn.is_exercise(chapter)
    prefix = "../" * app.builder.get_target_uri(docname).count("/")
    notebook = f"{rn.COMMITTED_FOLDER}/{rn.committed_name(posixpath.basename(docname), exercise)}"
    book = site(app)
    colab = book.colab(built_ref(app, book), notebook)
    box = _box(prefix, docname, exercise, colab)
    section = next(iter(doctree.findall(nodes.section)), None)
    if section is None:
        doctree.insert(0, box)
        return
    titles = [i for i, child in enumerate(section.children) if isinstance(child, nodes.title)]
    section.insert(titles[0] + 1 if titles else 0, box)


def fail_on_execution_errors(app: Sphinx, exception: BaseException | None) -> None:
    """Stop the build if a chapter's execution failed (myst-nb only warned, and saved the traceback)."""
    if exception is not None:
        return
    from myst_nb.sphinx_ import NbMetadataCollector

    failed = []
    for docname in sorted(app.env.found_docs):
        data = NbMetadataCollector.get_exec_data(app.env, docname)
        if data and not data.get("succeeded", True):
            failed.append(f"{docname} ({data.get('error')}; see {Path(app.outdir, 'reports', docname)}.err.log)")
    if failed:
        raise ExtensionError("a cell raised, in: " + ", ".join(failed))


def write_notebooks(app: Sphinx, exception: BaseException | None) -> None:
    """Write the executed notebook of every page that is a notebook, and the student notebook
    of every chapter with worked solutions, into the HTML output."""
    if exception is not None or not _is_html(app):
        return
    out = Path(app.outdir)
    executed_dir = out.parent / "jupyter_execute"
    glued = rn.glue_loader(executed_dir)
    book = site(app)
    requirement = package(app, book)
    config = app.env.mystnb_config
    cache = Path(config.execution_cache_path) if config.execution_mode == "cache" else None
    for docname in sorted(app.env.found_docs):
        chapter = _chapter(app, docname)
        executed_path = executed_dir.joinpath(*f"{docname}.ipynb".split("/"))
        if not executed_path.is_file():
            if chapter is not None:
                raise ExtensionError(f"notebook downloads: {docname} has no executed notebook at {executed_path}")
            continue  # not a notebook
        source = chapter if chapter is not None else jupytext.read(app.env.doc2path(docname))
        executed = rn.with_cached_outputs(nbformat.read(executed_path, as_version=4), cache)
        try:
            notebooks = [rn.executed_notebook(source, executed, docname, book, requirement, glued, logger.warning)]
            if chapter is not None and rn.is_exercise(chapter):
                values = rn.glue_text(glued, docname, logger.warning)
                notebooks.append(rn.student_notebook(chapter, docname, book, values, requirement))
        except (ValueError, SyntaxError) as err:
            raise ExtensionError(f"notebook downloads: {docname}: {err}") from err
        for rel, nb in zip(notebook_paths(docname), notebooks):
            path = out.joinpath(*rel.split("/"))
            path.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, path)
        logger.info("notebook downloads: wrote %s", ", ".join(notebook_paths(docname)[: len(notebooks)]))


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("notebook_downloads_install", "", "html", types=[str])
    app.connect("doctree-resolved", add_download_box)
    app.connect("build-finished", fail_on_execution_errors, priority=400)
    app.connect("build-finished", write_notebooks, priority=600)
    return {"version": "2.0", "parallel_read_safe": True, "parallel_write_safe": True}
