"""Sphinx extension: every chapter with code offers its notebooks for readers (``reader_notebooks.py``).

When the HTML build ends, this writes the executed notebook of each page that is a notebook to
``_sources/<docname>.ipynb`` (over the theme's copy of myst-nb's notebook, which its ".ipynb" download button
offers) and the student notebook of each chapter with worked solutions to ``_sources/<docname>-student.ipynb``.
Both pin the package at the version built: HEAD's tag, else its commit (``repository.branch`` outside a git
checkout), so that a notebook downloaded today keeps working when the branch moves on. Under its title each
chapter with code gets a box (``div.nb-downloads``) with relative links to both and Colab's link to the
chapter's notebook committed under ``notebooks/`` at that version.

With ``execute_notebooks: cache``, myst-nb (1.4) renders each page from the cached, executed notebook but
writes the notebook it read, without outputs, to ``jupyter_execute/``: once every page is read, this puts the
cached outputs into those copies, which the notebooks above and the tests read.
"""

import posixpath
from functools import cache
from pathlib import Path
from typing import Any

import jupytext
import nbformat
import reader_notebooks as rn
from docutils import nodes
from jupyter_cache import get_cache
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)


def notebook_paths(docname: str) -> tuple[str, str]:
    """The executed and the student notebook's paths in the HTML output, relative to its root (posix)."""
    return f"_sources/{docname}.ipynb", f"_sources/{docname}{rn.STUDENT_SUFFIX}.ipynb"


def merge_cached_outputs(app: Sphinx, env: BuildEnvironment) -> None:
    if app.config.nb_execution_mode != "cache":
        return
    cached = get_cache(env.mystnb_config.execution_cache_path)  # the one myst-nb resolved
    for path in sorted((Path(app.outdir).parent / "jupyter_execute").rglob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        if any(cell.cell_type == "code" for cell in nb.cells):
            try:
                nbformat.write(cached.merge_match_into_notebook(nb)[1], path)
            except KeyError:
                logger.warning(f"{path.name}: no cached execution to put into {path}", type="notebook_downloads")


@cache
def book(app: Sphinx) -> tuple[rn.Site, dict, str]:
    """The book's site, its chapters with code (by docname) and the version built, read once per build."""
    site = rn.Site.from_config(Path(app.srcdir))
    return site, rn.chapters(Path(app.srcdir)), built_ref(Path(app.srcdir), site.branch)


def built_ref(root: Path, branch: str) -> str:
    """The version of the repository at ``root`` that is built (see the module's docstring)."""
    ref = rn.commit_ref(root)
    if ref is None:
        logger.info("notebook downloads: git does not say what is built; naming %s", branch)
    elif changes := rn.package_changes(root):
        logger.info(
            f"notebook downloads: the package has uncommitted changes ({', '.join(changes[:5])}); the notebooks "
            f"offered and the Colab links name {ref}, the package as committed, not as built"
        )
    return ref or branch


def add_download_box(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    site, chapters, ref = book(app)
    chapter = chapters.get(docname) if app.builder.format == "html" else None
    if chapter is None:
        return
    exercise, prefix = rn.is_exercise(chapter), "../" * app.builder.get_target_uri(docname).count("/")

    def link(kind: str, href: str, text: str) -> str:
        attributes = f'class="reference download nb-download-{kind}" href="{prefix}{href}"'
        return f'<a {attributes} download="{posixpath.basename(href)}">{text}</a>'

    executed, student = notebook_paths(docname)
    text = f"Download {link('executed', executed, 'the executed notebook')} "
    if exercise:
        text += f"(the worked solutions and their outputs) or {link('student', student, 'the student notebook')}"
        text += " (a TODO skeleton in place of each solution, to fill in and check yourself)."
    else:
        text += "(this page's code with its outputs)."
    if colab := site.colab(ref, f"{rn.COMMITTED_FOLDER}/{rn.committed_name(posixpath.basename(docname), exercise)}"):
        which = "the student notebook" if exercise else "this chapter's notebook"
        text += f' <a class="reference external nb-open-colab" href="{colab}">Open {which} in Colab</a>, '
        text += "which installs the package in its first cell."
    title = '<p class="admonition-title">Notebooks for this chapter</p>'
    html = f'<div class="admonition tip nb-downloads">\n{title}\n<p>{text}</p>\n</div>\n'
    section = next(iter(doctree.findall(nodes.section)), doctree)
    under_title = next((i + 1 for i, child in enumerate(section.children) if isinstance(child, nodes.title)), 0)
    section.insert(under_title, nodes.raw("", html, format="html"))


def write_notebooks(app: Sphinx, exception: BaseException | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    out, (site, chapters, ref) = Path(app.outdir), book(app)
    executed_dir = out.parent / "jupyter_execute"
    glued, package = rn.glue_loader(executed_dir), site.requirement(ref)
    for docname in sorted(app.env.found_docs):
        executed_path = executed_dir / f"{docname}.ipynb"
        if not executed_path.is_file():
            continue  # not a notebook (the tests see that every chapter offers its notebooks)
        chapter = chapters.get(docname) or jupytext.read(app.env.doc2path(docname))
        text_of = rn.glue_text(glued, docname, logger.warning)
        executed = nbformat.read(executed_path, as_version=4)
        try:
            notebooks = [rn.reader_notebook(chapter, docname, site, text_of, package, executed, glued(docname))]
            if rn.is_exercise(chapter):
                notebooks.append(rn.reader_notebook(chapter, docname, site, text_of, package))
        except (ValueError, SyntaxError) as err:
            raise ExtensionError(f"notebook downloads: {docname}: {err}") from err
        for rel, nb in zip(notebook_paths(docname), notebooks):
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, out / rel)
        logger.info("notebook downloads: wrote %s", ", ".join(notebook_paths(docname)[: len(notebooks)]))


def setup(app: Sphinx) -> dict[str, Any]:
    # The pages name the version built: as a setting that changes with it, a build after a commit reads
    # every page again (from the cache), not only those whose source changed.
    app.add_config_value("nb_built_ref", "", "env")
    app.connect("config-inited", lambda app, config: setattr(config, "nb_built_ref", book(app)[2]))
    app.connect("env-updated", merge_cached_outputs)
    app.connect("doctree-resolved", add_download_box)
    app.connect("build-finished", write_notebooks)
    return {"version": "3.0", "parallel_read_safe": True, "parallel_write_safe": True}
