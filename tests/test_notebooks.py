"""The notebooks a reader takes away: plain Jupyter, runnable without the book's build.

A tiny book, a git checkout with an exercise chapter, a chapter with code and no exercise,
a page without code and a bibliography, is built for real with the book's extension
(``book/_ext/notebook_downloads.py``). Its notebooks must be valid, hold what the page
shows (every figure as an output, every glued number as its value, every citation written
out, no MyST), install the
package at the commit that was built, be linked from the page and from the theme's download
button, and the student one must run in a plain kernel. Then the same for the real book
(marked ``book``): each exercise's student notebook runs with the worked solutions put back,
in a kernel that cannot import Sphinx, docutils, myst-nb or the book's extensions, and draws
every figure; the other chapters' notebooks hold the code the build has just run, and are read,
not run again (a name no cell defines, an import a plain kernel lacks, a figure cell that shows
nothing). Last,
the rewriting itself, cell by cell, and the committed copies.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import posixpath
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml
from bs4 import BeautifulSoup
from conftest import MYST_NOTEBOOK_HEADER, ROOT
from IPython.core.inputtransformer2 import TransformerManager
from nbclient import NotebookClient

sys.path.insert(0, str(ROOT / "book" / "_ext"))
import notebook_downloads as nd  # noqa: E402
import plain_code as pc  # noqa: E402
import plain_markdown as pm  # noqa: E402
import reader_notebooks as rn  # noqa: E402

JUPYTER_BOOK = Path(sys.executable).with_name("jupyter-book")
REPO = "https://github.com/example/tiny-book"
SITE = "https://example.github.io/tiny-book/"
FILES = {
    "_config.yml": f"""\
        title: Tiny
        author: Tests
        only_build_toc_files: true
        execute:
          execute_notebooks: cache
          raise_on_error: false
          timeout: 600
        repository:
          url: {REPO}
          branch: dev
        launch_buttons:
          binderhub_url: https://mybinder.org
        bibtex_bibfiles: [refs.bib]
        sphinx:
          local_extensions:
            notebook_downloads: {ROOT / "book" / "_ext"}
            citation_style: {ROOT / "book" / "_ext"}
          config:
            bibtex_reference_style: author_year_round
            bibtex_default_style: plain_author_year
            bibtex_cite_id: "cite-{{key}}"
        """,
    "refs.bib": """\
        @article{doe2020doubling,
          author = {Doe, Jane and Roe, Richard},
          title = {Doubling},
          journal = {Journal of Small Numbers},
          year = {2020},
        }
        """,
    "references.md": "# References\n\n```{bibliography}\n```\n",
    "pyproject.toml": '[project]\nname = "tiny"\nversion = "9.8.7"\n',
    "_toc.yml": """\
        format: jb-book
        root: intro
        chapters:
          - file: one
          - file: part/two
          - file: summary
          - file: references
        """,
    "intro.md": "# Tiny\n\nNo code here.\n",
    "one.md": """
        # Chapter one

        ```{code-cell} ipython3
        :tags: [remove-cell]

        import matplotlib.pyplot as plt
        from _ext.glue_helpers import glue, glue_figure
        ```

        ```{admonition} Predict first
        :class: tip

        What is twice 21? See {doc}`part/two` and {doc}`the start <intro>`.
        ```

        ```{code-cell} ipython3
        :tags: [skeleton, skip-execution]
        :check: assert double(21) == 42, "not yet"

        def double(x):
            raise NotImplementedError  # TODO: return twice x
        ```

        ```{code-cell} ipython3
        :tags: [solution, hide-input]

        def double(x):
            return 2 * x  # SOLUTION-ONE
        ```

        ```{code-cell} ipython3
        print("double(21) =", double(21))
        ```

        ```{code-cell} ipython3
        :tags: [hide-input]

        fig, ax = plt.subplots(figsize=(4, 3))
        ax.plot([0, 1], [0, double(1)])
        ax.set_title("A line")
        glue_figure("fig_line", fig)
        ```

        (fig-line-label)=
        ```{glue:figure} fig_line
        :name: fig-line
        :alt: A rising line.

        The line from 0 to {glue:text}`two:.1f`.
        ```

        ```{code-cell} ipython3
        :tags: [remove-cell]

        # only for the text
        plumbing = double(21)  # PLUMBING
        glue("answer", plumbing, display=False)
        glue("two", double(1), display=False)
        ```

        ```{code-cell} ipython3
        :tags: [remove-cell]

        # the prose says so: GUARD
        checked = double(21)
        assert checked == 42, "GUARD"
        if checked != 2 * 21:
            raise RuntimeError("GUARD")
        ```

        % a comment for the authors
        The answer is {glue:text}`answer:.2f`, or {glue:text}`answer` plain. Doubling is
        old {cite:p}`doe2020doubling{p. 3}`, as {cite:t}`doe2020doubling` show.
        """,
    "part/two.md": """
        # Chapter two

        ```{code-cell} ipython3
        :tags: [remove-cell]

        from myst_nb import glue
        ```

        ```{code-cell} ipython3
        answer = 6 * 7
        glue("answer", answer, display=False)
        answer
        ```

        ```{note}
        Six times seven is {glue:text}`answer`.
        ```
        """,
    "summary.md": """
        # Summary

        Chapter one found {glue:text}`one.md::answer:.1f`; see {doc}`one`.
        """,
}
CHAPTERS = {"one": True, "part/two": False}  # docname -> has worked solutions


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t"}
    env["GIT_COMMITTER_EMAIL"] = "t@t"
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def tiny_book(tmp_path_factory) -> Path:
    """Build the tiny book (a git checkout) with the extension, strictly, twice; return its HTML folder.

    The first build executes the chapters into jupyter-cache; the second takes them from there,
    as the book's builds do (``book/_ext/execute_chapters.py`` executes them first). A commit
    comes between the two, and the second build is incremental (no ``--all``): every page must
    name the commit of the second build all the same.
    """
    src = tmp_path_factory.mktemp("tiny-book")
    for name, text in FILES.items():
        path = src / name
        path.parent.mkdir(parents=True, exist_ok=True)
        header = MYST_NOTEBOOK_HEADER if name.removesuffix(".md") in [*CHAPTERS, "summary"] else ""
        path.write_text(header + textwrap.dedent(text))
    shutil.copytree(ROOT / "book" / "_ext", src / "_ext", ignore=shutil.ignore_patterns("__pycache__"))
    git(src, "init", "-q")
    git(src, "add", ".")
    git(src, "commit", "-q", "-m", "tiny")
    out = tmp_path_factory.mktemp("tiny-out")
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    for again in (False, True):
        if again:
            git(src, "commit", "-q", "--allow-empty", "-m", "a commit that changes no page")
        proc = subprocess.run(
            [str(JUPYTER_BOOK), "build", str(src), "--path-output", str(out), "-W", "-n", "--keep-going"],
            capture_output=True,
            text=True,
            env=env,
            cwd=src,
        )
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "Using cached notebook" in proc.stdout or "cached" in proc.stdout.lower(), proc.stdout[-2000:]
    html = out / "_build" / "html"
    (html / ".commit").write_text(git(src, "rev-parse", "HEAD"))
    (html / ".source").write_text(str(src))
    return html


def read(path: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)  # raises on an invalid notebook
    return nb


def code(nb: nbformat.NotebookNode) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code")


def markdown(nb: nbformat.NotebookNode) -> str:
    return "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def images(cell: nbformat.NotebookNode) -> list[dict]:
    """The outputs of a cell that show an image: a PNG, or HTML that embeds PNG frames (an animation)."""
    return [
        o
        for o in cell.get("outputs", [])
        if "image/png" in o.get("data", {}) or "data:image/png" in str(o.get("data", {}).get("text/html", ""))
    ]


#: The keys of the book's bibliography: none may be left in a notebook's prose (a citation not written out).
BIB_KEYS = re.findall(r"^@\w+\s*\{\s*([^,\s]+)\s*,", (ROOT / "book" / "references.bib").read_text(), re.MULTILINE)


def raw_keys(text: str) -> list[str]:
    """The bibliography keys in ``text`` outside link targets (a link to a work's entry names its key)."""
    shown = re.sub(r"\]\([^)\s]*\)", "]", text)
    return [key for key in BIB_KEYS if re.search(rf"\b{re.escape(key)}\b", shown)]


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


def myst_only(text: str) -> list[str]:
    """What in ``text`` only MyST understands, as short descriptions with the offending text."""
    return [f"{what}: {m.group(0).strip()!r}" for what, pattern in MYST_ONLY for m in pattern.finditer(text)]


def named_refs(text: str) -> list[str]:
    """Every version of a repository that ``text`` names: in a pip requirement ``git+<url>@<ref>`` and in
    a GitHub or Colab address ``github/<owner>/<name>/blob/<ref>/`` (``github.com/...`` too)."""
    pip = re.findall(r"git\+https?://[^\s\"'@\\]+@([^\s\"'#\\]+)", text)  # a backslash ends it in JSON
    blob = re.findall(r"github(?:\.com)?/[^/\s\"'\\]+/[^/\s\"'\\]+/blob/([^/\s\"'\\]+)/", text)
    return pip + blob


def assert_no_myst(nb: nbformat.NotebookNode, where: str) -> None:
    """No MyST-only syntax (a role such as a raw citation, a directive, ...) and no bare citation key."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            assert not myst_only(cell.source), f"{where}, cell {cell.id}: {myst_only(cell.source)}"
            assert not raw_keys(cell.source), f"{where}, cell {cell.id}: citation keys {raw_keys(cell.source)}"


# ---------------------------------------------------------------------------- the tiny book


@pytest.mark.parametrize("docname", CHAPTERS)
def test_each_chapter_with_code_gets_its_notebooks_and_no_other_page_does(tiny_book, docname):
    executed, student = (tiny_book / rel for rel in nd.notebook_paths(docname))
    read(executed)
    assert student.is_file() == CHAPTERS[docname]
    if CHAPTERS[docname]:
        json.loads(student.read_text())
        read(student)
    assert not (tiny_book / "_sources" / "intro.ipynb").exists()
    assert not BeautifulSoup((tiny_book / "intro.html").read_text(), "html.parser").select(".nb-downloads")


def test_a_cached_build_keeps_its_cache_in_the_build_and_gives_the_executed_notebooks_their_outputs(tiny_book):
    """No ``execute.cache`` in ``_config.yml``: myst-nb's cache is ``<build>/.jupyter_cache``, and
    ``notebook_downloads.py`` reads it there (not a new, empty one in the folder the build runs in)."""
    assert not (Path((tiny_book / ".source").read_text()) / ".jupyter_cache").exists()
    executed = read(tiny_book.parent / "jupyter_execute" / "part" / "two.ipynb")
    shown = [o["data"].get("text/plain") for c in executed.cells for o in c.get("outputs", []) if "data" in o]
    assert "42" in shown, executed.cells


def test_a_page_that_is_a_notebook_without_code_offers_its_prose_with_the_values_of_other_chapters(tiny_book):
    nb = read(tiny_book / "_sources" / "summary.ipynb")
    assert [c.cell_type for c in nb.cells] == ["markdown"]  # no install cell: nothing to run
    assert nb.cells[0].source == f"# Summary\n\nChapter one found 42.0; see [Chapter one]({SITE}one.html)."
    assert not BeautifulSoup((tiny_book / "summary.html").read_text(), "html.parser").select(".nb-downloads")


def test_the_executed_notebook_shows_what_the_page_shows(tiny_book):
    nb = read(tiny_book / nd.notebook_paths("one")[0])
    assert "SOLUTION-ONE" in code(nb) and not [c for c in nb.cells if "skeleton" in c.metadata.get("tags", [])]
    figure = next(c for c in nb.cells if c.id == "figure-fig_line")
    assert len(images(figure)) == 1, figure.outputs
    assert figure.source.endswith("plt.show()") and "glue" not in figure.source
    text = markdown(nb)
    assert "**Figure.** The line from 0 to 2.0." in text
    assert "The answer is 42.00, or 42 plain." in text
    work = f"{SITE}references.html#cite-doe2020doubling"
    assert f"old ([Doe and Roe, 2020]({work}), p. 3), as Doe and Roe ([2020]({work})) show." in text
    assert "> **Predict first**\n>\n> What is twice 21? See " in text
    assert f"[Chapter two]({SITE}part/two.html) and [the start]({SITE}intro.html)." in text
    assert "a comment for the authors" not in text and "fig-line-label" not in text
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert printed == "double(21) = 42\n"
    assert_no_myst(nb, "one.ipynb")


def test_the_glue_plumbing_is_gone_from_both_notebooks(tiny_book):
    for rel in nd.notebook_paths("one"):
        source = code(read(tiny_book / rel))
        assert "PLUMBING" not in source and "only for the text" not in source, rel
        assert "glue" not in source and "_ext" not in source, rel
        assert "import matplotlib.pyplot as plt" in source


def guards(nb: nbformat.NotebookNode) -> list[str]:
    """The guards of the prose's claims in a notebook: an ``assert`` or an ``if`` that only raises, in a
    cell the page hides (``remove-cell``), which Jupyter and Colab would run and show."""
    found = []
    for cell in nb.cells:
        if cell.cell_type == "code" and "remove-cell" in cell.metadata.get("tags", []):
            tree = ast.parse(TransformerManager().transform_cell(cell.source))
            found += [f"cell {cell.id}, line {node.lineno}" for node in ast.walk(tree) if pc._is_guard(node)]
    return found


def test_the_hidden_guards_of_the_prose_are_not_in_the_notebooks(tiny_book):
    for rel in nd.notebook_paths("one"):
        nb = read(tiny_book / rel)
        assert "GUARD" not in json.dumps(nb) and not guards(nb), rel
    chapter = jupytext.read(Path((tiny_book / ".source").read_text()) / "one.md")
    assert len(guards(chapter)) == 2  # and the scan finds them where they are


def test_a_hidden_cell_loses_its_guards_and_what_only_they_read():
    source = "# for the prose\nx = f()\ny = g(x)\nassert y > 0, 'so it says'\nif x:\n    raise ValueError(x)\nshow(x)"
    assert pc.plain_code(source, set(), set(), guards=True).source == "# for the prose\nx = f()\nshow(x)"
    assert pc.plain_code(source, {"y"}, set(), guards=True).source == "# for the prose\nx = f()\ny = g(x)\nshow(x)"
    assert pc.plain_code(source, set(), set()).source == source  # a cell the page shows keeps its checks
    assert pc.plain_code("z = h()\nassert z", set(), set(), guards=True).source is None  # nothing left: dropped
    kept = "if bad:\n    raise ValueError('no')\nelse:\n    ok()"
    assert pc.plain_code(kept, set(), set(), guards=True).source == kept  # not only a raise


def test_a_chapter_without_exercise_keeps_its_code_without_the_glue(tiny_book):
    nb = read(tiny_book / nd.notebook_paths("part/two")[0])
    cells = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.source for c in cells[1:]] == ["answer = 6 * 7\nanswer"]  # the import cell went, emptied
    assert cells[1].outputs[0]["data"]["text/plain"] == "42"
    assert "> **Note**\n>\n> Six times seven is 42." in markdown(nb)


def test_the_student_notebook_has_the_skeleton_its_check_and_no_solution(tiny_book):
    nb = read(tiny_book / nd.notebook_paths("one")[1])
    assert "SOLUTION-ONE" not in json.dumps(nb)
    tags = [c.metadata.get("tags", []) for c in nb.cells]
    at = tags.index(["skeleton"])
    assert "TODO" in nb.cells[at].source
    assert tags[at + 1] == ["check"]
    assert nb.cells[at + 1].source == 'assert double(21) == 42, "not yet"'
    assert all(c.outputs == [] and c.execution_count is None for c in nb.cells if c.cell_type == "code")
    assert "jupytext" not in nb.metadata and nb.metadata.kernelspec.name == "python3"
    assert "The answer is 42.00, or 42 plain." in markdown(nb)
    assert_no_myst(nb, "one-student.ipynb")


@pytest.mark.parametrize("which", [0, 1])
def test_the_install_cell_pins_the_commit_that_was_built(tiny_book, which):
    nb = read(tiny_book / nd.notebook_paths("one")[which])
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert first.metadata["tags"] == ["install"] and first.id == "install"
    commit = (tiny_book / ".commit").read_text()
    assert f'%pip install --quiet "git+{REPO}@{commit}"' in first.source
    assert 'find_spec("ddpm_sampling") is None' in first.source
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# Chapter one")
    # IPython turns the indented magic into a call, so the cell is valid where it runs
    compile(TransformerManager().transform_cell(first.source), "install", "exec")


def test_the_student_notebook_runs_in_a_plain_kernel_and_draws_its_figure(tiny_book, tmp_path):
    nb = read(tiny_book / nd.notebook_paths("one")[1])
    executed = run_plain(with_solutions(nb, ["def double(x):\n    return 2 * x"]), tmp_path)
    figure = next(c for c in executed.cells if c.id == "figure-fig_line")
    assert len(images(figure)) == 1


@pytest.mark.parametrize("docname", CHAPTERS)
def test_the_page_links_its_notebooks_with_relative_links_that_resolve(tiny_book, docname):
    page = tiny_book / f"{docname}.html"
    soup = BeautifulSoup(page.read_text(), "html.parser")
    boxes = soup.select("div.nb-downloads")
    assert len(boxes) == 1
    links = boxes[0].select("a[download]")
    name = posixpath.basename(docname)
    assert [a["download"] for a in links] == [f"{name}.ipynb", f"{name}-student.ipynb"][: 1 + CHAPTERS[docname]]
    for a, rel in zip(links, nd.notebook_paths(docname)):
        href = a["href"]
        assert "://" not in href and not href.startswith("/"), href
        target = (page.parent / href).resolve()
        assert target == (tiny_book / rel).resolve() and target.is_file()
    # the theme's download button offers the same executed notebook
    button = soup.select_one(".dropdown-download-buttons a[href$='.ipynb']")
    assert button is not None, "the theme offers no .ipynb download"
    assert (page.parent / button["href"]).resolve() == (tiny_book / nd.notebook_paths(docname)[0]).resolve()


def test_the_box_sits_under_the_chapter_title(tiny_book):
    soup = BeautifulSoup((tiny_book / "part" / "two.html").read_text(), "html.parser")
    title = soup.select_one("section h1")
    assert title.find_next_sibling("div")["class"] == ["admonition", "tip", "nb-downloads"]


@pytest.mark.parametrize("docname", CHAPTERS)
def test_the_box_opens_the_committed_notebook_of_the_commit_built_in_colab(tiny_book, docname):
    box = BeautifulSoup((tiny_book / f"{docname}.html").read_text(), "html.parser").select_one("div.nb-downloads")
    name = posixpath.basename(docname) + ("-student" if CHAPTERS[docname] else "")
    commit = (tiny_book / ".commit").read_text()
    assert box.select_one("a.nb-open-colab")["href"] == (
        f"https://colab.research.google.com/github/example/tiny-book/blob/{commit}/notebooks/{name}.ipynb"
    )


def unknown_refs(checkout: Path, text: str) -> list[str]:
    """The versions of the repository that ``text`` names (install cells, Colab and GitHub links) and that
    the git checkout does not have, asking git itself."""
    refs = named_refs(text)
    return [
        ref
        for ref in refs
        if subprocess.run(
            ["git", "-C", str(checkout), "cat-file", "-e", f"{ref}^{{commit}}"], capture_output=True
        ).returncode
        != 0
    ]


def assert_the_site_names_only_versions_the_checkout_has(html: Path, checkout: Path, chapters: dict) -> None:
    """Every page and notebook of the site at ``html`` names only versions that the checkout has; each
    chapter's Colab link names the commit built, and so does each of its notebooks, once (its install
    cell). ``chapters``: docname -> whether it has a student notebook."""
    built = rn.commit_ref(checkout)
    pages = sorted(html.rglob("*.html")) + sorted((html / "_sources").rglob("*.ipynb"))
    named = {path: named_refs(path.read_text()) for path in pages}
    for docname, exercise in chapters.items():
        page = BeautifulSoup((html / f"{docname}.html").read_text(), "html.parser")
        assert named_refs(page.select_one("div.nb-downloads a.nb-open-colab")["href"]) == [built], docname
        assert built in named[html / f"{docname}.html"]
        for rel in nd.notebook_paths(docname)[: 1 + exercise]:
            assert named[html / rel] == [built], rel
    for path in pages:
        assert not unknown_refs(checkout, path.read_text()), path


def test_every_version_the_tiny_site_names_is_one_its_checkout_has(tiny_book):
    checkout = Path((tiny_book / ".source").read_text())
    assert_the_site_names_only_versions_the_checkout_has(tiny_book, checkout, CHAPTERS)
    # and the same check finds a version that the checkout lacks, as the old release tag was
    page = (tiny_book / "one.html").read_text()
    commit = (tiny_book / ".commit").read_text()
    assert unknown_refs(checkout, page.replace(commit, "v0.1.0")) == ["v0.1.0"]
    assert unknown_refs(checkout, page.replace(commit, "0" * 40)) == ["0" * 40]


def test_the_notebooks_cite_as_the_page_does_and_link_the_same_entry(tiny_book):
    page = BeautifulSoup((tiny_book / "one.html").read_text(), "html.parser")
    cited = [(a.get_text(), a["href"]) for a in page.select("a[href*='references.html#']")]
    entry = "references.html#cite-doe2020doubling"
    assert cited == [("Doe and Roe, 2020", entry), ("2020", entry)]
    assert "(Doe and Roe, 2020, p. 3)" in page.get_text() and "Doe and Roe (2020) show" in page.get_text()
    references = BeautifulSoup((tiny_book / "references.html").read_text(), "html.parser")
    assert references.find(id="cite-doe2020doubling") is not None
    for rel in nd.notebook_paths("one"):
        assert f"([Doe and Roe, 2020]({SITE}{entry}), p. 3)" in markdown(read(tiny_book / rel)), rel


# ---------------------------------------------------------------------------- the real book


def with_solutions(nb: nbformat.NotebookNode, solutions: list[str]) -> nbformat.NotebookNode:
    """The student notebook with each worked solution, in order, in place of its skeleton."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    skeletons = [c for c in nb.cells if "skeleton" in c.metadata.get("tags", [])]
    assert len(skeletons) == len(solutions), f"{len(skeletons)} skeletons, {len(solutions)} solutions"
    for cell, solution in zip(skeletons, solutions):
        cell.source = solution
    return nb


#: The build's tools: a reader's kernel has none of them.
BUILD_TOOLS = {
    "sphinx",
    "docutils",
    "myst_nb",
    "myst_parser",
    "jupyter_book",
    "_ext",
    "glue_helpers",
    "reader_notebooks",
    "notebook_downloads",
}
#: A first cell for a kernel that has none of the build's tools: only the package and its dependencies.
PLAIN_KERNEL = f"""\
import sys


class NoBuildTools:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {sorted(BUILD_TOOLS)!r}:
            raise ModuleNotFoundError(f"{{name}} is not installed in a plain kernel")


sys.meta_path.insert(0, NoBuildTools())
"""


def run_plain(nb: nbformat.NotebookNode, cwd: Path, threads: int | None = None) -> nbformat.NotebookNode:
    """Run a notebook top to bottom in a fresh kernel in ``cwd`` that cannot import the build's tools
    (with ``threads``, torch's threads in it)."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    nb.cells.insert(0, nbformat.v4.new_code_cell(PLAIN_KERNEL, id="plain-kernel"))
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # the figures need the inline backend
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    client = NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(cwd)}})
    client.execute(env=env)
    return nb


def real_chapters() -> dict[str, nbformat.NotebookNode]:
    return rn.chapters(ROOT)


@pytest.mark.book
@pytest.mark.parametrize("docname", list(real_chapters()))
def test_each_chapter_offers_notebooks_without_myst_and_with_every_figure(book_html, docname):
    chapter = real_chapters()[docname]
    executed_path, student_path = (book_html / rel for rel in nd.notebook_paths(docname))
    executed = read(executed_path)
    assert_no_myst(executed, executed_path.name)
    figures = pm.block_glue_names(chapter)
    shown = {c.id: c for c in executed.cells if c.id.startswith("figure-")}
    assert sorted(shown) == sorted(f"figure-{name}" for name in figures)
    for cell in shown.values():
        assert images(cell), f"{executed_path.name}: {cell.id} shows no image"
    assert student_path.is_file() == rn.is_exercise(chapter)
    if rn.is_exercise(chapter):
        assert_no_myst(read(student_path), student_path.name)


@pytest.mark.book
def test_every_notebook_the_site_offers_is_plain_jupyter(book_html):
    """The box's links and the theme's download button, on every page that is a notebook."""
    offered = sorted((book_html / "_sources").rglob("*.ipynb"))
    assert len(offered) >= len(real_chapters())
    for path in offered:
        assert_no_myst(read(path), str(path.relative_to(book_html)))
        assert not guards(read(path)), path.name


@pytest.mark.book
def test_every_link_into_the_site_from_a_notebook_resolves(book_html):
    """Links to chapters, to the API reference and to each cited work's entry name a page and an id it has."""
    site = rn.Site.from_config(ROOT).url
    ids: dict[Path, set[str]] = {}
    links, cited = 0, 0
    for path in sorted((book_html / "_sources").rglob("*.ipynb")):
        for url in re.findall(rf"\]\(({re.escape(site)}[^)\s]*)\)", markdown(read(path))):
            page, _, anchor = url.removeprefix(site).partition("#")
            target = book_html / page
            assert target.is_file(), f"{path.name}: {url} is no page of the site"
            if anchor:
                if target not in ids:
                    soup = BeautifulSoup(target.read_text(), "html.parser")
                    ids[target] = {tag["id"] for tag in soup.find_all(id=True)}
                assert anchor in ids[target], f"{path.name}: {url} names no id of {page}"
            links += 1
            cited += "references.html#cite-" in url
    assert links and cited, f"{links} links into the site, {cited} of them to a cited work"


@pytest.mark.book
def test_each_notebook_cites_the_works_of_its_page_in_the_same_order(book_html):
    cited = 0
    for path in sorted((book_html / "_sources").rglob("*.ipynb")):
        page = book_html / path.relative_to(book_html / "_sources").with_suffix(".html")
        if path.stem.endswith(rn.STUDENT_SUFFIX):
            page = page.with_name(page.name.replace(rn.STUDENT_SUFFIX, ""))
        links = BeautifulSoup(page.read_text(), "html.parser").select("a[href*='references.html#cite-']")
        on_page = [a["href"].partition("#")[2] for a in links]
        in_notebook = re.findall(r"\]\([^)\s]*references\.html#(cite-[^)\s]*)\)", markdown(read(path)))
        assert in_notebook == on_page, path.name
        cited += len(on_page)
    assert cited, "no page cites a work"


@pytest.mark.book
def test_every_version_the_site_names_is_one_the_checkout_has(book_html):
    """The Colab links and the install cells of the notebooks offered name the commit built, which git has."""
    chapters = {docname: rn.is_exercise(nb) for docname, nb in real_chapters().items()}
    assert_the_site_names_only_versions_the_checkout_has(book_html, ROOT, chapters)


def plain_notebook(book_html: Path, docname: str) -> nbformat.NotebookNode:
    """The notebook a reader runs: the student one with each worked solution in place of its skeleton, or,
    for a chapter without exercise, the executed one without its outputs."""
    chapter = real_chapters()[docname]
    if rn.is_exercise(chapter):
        solutions = [c.source for c in chapter.cells if "solution" in c.metadata.get("tags", [])]
        return with_solutions(read(book_html / nd.notebook_paths(docname)[1]), solutions)
    nb = read(book_html / nd.notebook_paths(docname)[0])
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def why_it_would_not_run(nb: nbformat.NotebookNode, where: Path) -> list[str]:
    """What would stop a notebook from running in a plain kernel, read without running it: a name that
    no cell before defines (ruff's F821, cells in order), an import of the build's tools or of a module
    that is not installed, and a figure cell that does not end on what it shows. The notebook is
    written to ``where`` (a ``.ipynb`` path) for ruff."""
    nbformat.write(nb, where)
    ruff = Path(sys.executable).with_name("ruff")
    checked = subprocess.run(
        [str(ruff), "check", "--isolated", "--no-cache", "--select", "F821,F822,F823", "--output-format", "concise"]
        + [str(where)],
        capture_output=True,
        text=True,
    )
    problems = [line for line in checked.stdout.splitlines() if where.name in line]
    for cell in (c for c in nb.cells if c.cell_type == "code"):
        tree = ast.parse(TransformerManager().transform_cell(cell.source))
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            names += [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else []
            for top in {name.split(".")[0] for name in names}:
                if top in BUILD_TOOLS or importlib.util.find_spec(top) is None:
                    problems.append(f"cell {cell.id}: imports {top}, which a plain kernel does not have")
        if cell.id.startswith("figure-") and not (tree.body and isinstance(tree.body[-1], ast.Expr)):
            problems.append(f"cell {cell.id}: a figure cell that does not end on the figure shows nothing")
    return problems


def names(cell: nbformat.NotebookNode) -> tuple[set[str], set[str]]:
    """The names a code cell binds (assigned, defined, imported, or changed in place: ``x[i] = ...``,
    ``x.a = ...``) and the names it reads, anywhere in it: more than it needs, never fewer."""
    tree = ast.parse(TransformerManager().transform_cell(cell.source))
    bound, read = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (bound if isinstance(node.ctx, ast.Store) else read).add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.Attribute | ast.Subscript) and isinstance(node.ctx, ast.Store):
            while isinstance(node, ast.Attribute | ast.Subscript):
                node = node.value
            bound |= {node.id} if isinstance(node, ast.Name) else set()
    return bound, read


def exercise_part(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The cells of a student notebook (its solutions in place) that its exercises need: each skeleton and
    self-check, and every cell before them that binds a name one of those reads, and so on back. The other
    cells are the chapter's own code, which the build has just run (their figures are checked in its
    executed notebook, and :func:`why_it_would_not_run` reads them for a plain kernel)."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    needed, kept = set(), set()
    for i, cell in reversed(list(enumerate(nb.cells))):
        if cell.cell_type != "code":
            continue
        bound, read = names(cell)
        if {"skeleton", "check"} & set(cell.metadata.get("tags", [])) or bound & needed:
            needed |= read
            kept.add(i)
    nb.cells = [cell for i, cell in enumerate(nb.cells) if cell.cell_type != "code" or i in kept]
    return nb


@pytest.fixture(scope="module")
def plain_runs(book_html, tmp_path_factory) -> dict[str, nbformat.NotebookNode | Exception]:
    """Each exercise's student notebook, worked solutions in place, run in a plain kernel in a folder of
    its own: the cells its exercises need (:func:`exercise_part`), so that no chapter's heavy computation
    is done twice. The run, or what it raised."""
    exercises = [d for d, nb in real_chapters().items() if rn.is_exercise(nb)]

    def run(docname: str) -> nbformat.NotebookNode | Exception:
        folder = tmp_path_factory.mktemp(posixpath.basename(docname))
        try:
            return run_plain(exercise_part(plain_notebook(book_html, docname)), folder)
        except Exception as err:  # reported by the chapter's own test
            return err

    return {d: run(d) for d in exercises}


@pytest.mark.book
@pytest.mark.parametrize("docname", list(real_chapters()))
def test_each_chapter_would_run_in_a_plain_kernel_and_its_exercises_do(book_html, plain_runs, docname, tmp_path):
    """The reader's run: Jupyter without Sphinx, in a folder of its own, the TODOs filled in. Every
    notebook is read for what would stop it; each exercise's own cells run, with what they need."""
    problems = why_it_would_not_run(plain_notebook(book_html, docname), tmp_path / "plain.ipynb")
    assert not problems, f"{docname} would not run in a plain kernel:\n" + "\n".join(problems)
    if docname in plain_runs:
        executed = plain_runs[docname]
        if isinstance(executed, Exception):
            pytest.fail(f"{docname} raised in a plain kernel:\n{executed}", pytrace=False)
        checks = [c for c in executed.cells if "check" in c.metadata.get("tags", [])]
        assert checks and all(c.execution_count for c in checks), f"{docname}: a self-check did not run"
        for cell in (c for c in executed.cells if c.id.startswith("figure-")):
            assert images(cell), f"{docname}: {cell.id} draws no image"


def test_the_exercise_part_keeps_what_the_exercises_read_and_drops_the_rest():
    cells = [
        ("import torch\nimport numpy as np", []),
        ("big = torch.ones(3)\nsmall = np.zeros(2)", []),
        ("table = {}\ntable['k'] = small", []),
        ("heavy = big.sum()", []),
        ("def f(x):\n    return x + table['k']", ["skeleton"]),
        ("%time print(heavy)", []),
        ("check(f)", ["check"]),
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src, metadata={"tags": t}) for src, t in cells])
    kept = [c.source for c in exercise_part(nb).cells]
    assert kept == [cells[i][0] for i in (0, 1, 2, 4, 6)], kept


@pytest.mark.parametrize(
    ("cell_with", "plant", "found"),
    [
        ("def double", lambda src: "pass", "F821 Undefined name `double`"),
        ("print(", lambda src: "from myst_nb import glue\n" + src, "imports myst_nb"),
        ("print(", lambda src: "import no_such_module_here\n" + src, "imports no_such_module_here"),
        ("plt.subplots", lambda src: src + "\nshown = 1", "does not end on the figure"),
    ],
)
def test_reading_a_notebook_finds_what_would_stop_it(tiny_book, tmp_path, cell_with, plant, found):
    nb = with_solutions(read(tiny_book / nd.notebook_paths("one")[1]), ["def double(x):\n    return 2 * x"])
    assert why_it_would_not_run(nb, tmp_path / "clean.ipynb") == []
    cell = next(c for c in nb.cells if c.cell_type == "code" and cell_with in c.source)
    cell.source = plant(cell.source)
    problems = why_it_would_not_run(nb, tmp_path / "planted.ipynb")
    assert any(found in p for p in problems), problems


# ---------------------------------------------------------------------------- Markdown, cell by cell


def convert(text: str, values: dict | None = None, docname: str = "book/ch") -> str:
    values = values or {}
    site = rn.Site.make(ROOT, "https://github.com/o/r", "main")
    return pm.Markdown(site, docname, lambda name, spec: format(values[name], spec)).convert(text)


def test_glue_roles_become_their_values_formatted_as_on_the_page():
    text = "Is {glue:text}`a:.3f`, {glue:text}`n:,` and {glue}`w`; not `{x}` code."
    assert convert(text, {"a": 0.12345, "n": 60000, "w": "boot"}) == "Is 0.123, 60,000 and boot; not `{x}` code."


def test_admonitions_and_other_directives_become_blockquotes_with_a_bold_title():
    text = "```{admonition} Predict {glue:text}`t`\n:class: tip\n\n1. One\n2. Two\n```\n\n:::{warning}\nCareful.\n:::"
    assert convert(text, {"t": 500}) == "> **Predict 500**\n>\n> 1. One\n> 2. Two\n\n> **Warning**\n>\n> Careful."
    assert convert("````{note}\n```python\nx = 1\n```\n````") == "> **Note**\n>\n> ```python\n> x = 1\n> ```"


def test_a_glued_figure_becomes_its_caption_and_math_stays_math():
    text = "```{glue:figure} fig\n:name: fig-x\n:alt: Alt.\n\nA caption\non two lines.\n```\n$$\nx\n$$"
    assert convert(text) == "**Figure.** A caption\non two lines.\n$$\nx\n$$"
    assert convert("```{math}\na = b\n```\n{math}`c`") == "$$\na = b\n$$\n$c$"


def test_doc_roles_link_the_published_site_and_other_roles_keep_their_text():
    text = "See {doc}`ex2_one_step`, {doc}`that page <../intro>`, {ref}`here <sec-x>` and {term}`DDPM`."
    expected = (
        "See [Exercise 2: one reverse step at t = 500, traced](https://o.github.io/r/book/ex2_one_step.html), "
        "[that page](https://o.github.io/r/intro.html), here and DDPM."
    )
    assert convert(text) == expected


def cite(text: str, **site: str) -> str:
    """``text`` converted with the book's bibliography, on a site with ``site``'s settings."""
    settings = {"repository": "https://github.com/o/r", "bibfiles": ["book/references.bib"], **site}
    book = rn.Site.make(ROOT, settings.pop("repository"), "main", **settings)
    return pm.Markdown(book, "book/ch", lambda name, spec: "").convert(text)


def test_citations_are_written_out_from_the_bibliography_as_the_page_writes_them():
    entry = "https://o.github.io/r/book/references.html#cite-"
    on_site = {"cite_id": "cite-{key}"}
    assert cite("Step {cite:p}`ho2020denoising{Algorithm 2}`.", **on_site) == (
        f"Step ([Ho et al., 2020]({entry}ho2020denoising), Algorithm 2)."
    )
    assert cite("{cite:p}`{see}nichol2021improved{sec. 4, eq. 9}, song2021denoising`", **on_site) == (
        f"(see [Nichol and Dhariwal, 2021]({entry}nichol2021improved), sec. 4, eq. 9; "
        f"[Song et al., 2021]({entry}song2021denoising))"
    )
    assert cite("as {cite:t}`heusel2017gans` did", **on_site) == f"as Heusel et al. ([2017]({entry}heusel2017gans)) did"
    # the works of one citation in the order of the reference list, as on the page
    assert cite("{cite:t}`somepalli2023diffusion, kadkhodaie2024generalization`") == (
        "Kadkhodaie et al. ([2024](https://o.github.io/r/book/references.html)); "
        "Somepalli et al. ([2023](https://o.github.io/r/book/references.html))"
    )
    # no anchor configured: the References page itself; no site: the text alone
    assert cite("{cite:p}`wu2018group`") == "([Wu and He, 2018](https://o.github.io/r/book/references.html))"
    assert cite("{cite:t}`wu2018group`", repository="") == "Wu and He (2018)"


def test_a_citation_of_a_work_that_is_not_in_the_bibliography_is_refused():
    with pytest.raises(ValueError, match="book/ch: cites 'nosuchkey2099', which is not in the bibliography"):
        cite("{cite:p}`ho2020denoising, nosuchkey2099{p. 1}`")


def test_api_roles_become_code_that_links_the_api_reference():
    api = "https://o.github.io/r/book/api.html#ddpm_sampling."
    text = "{py:func}`~ddpm_sampling.reverse_step`, {py:func}`q_sample(x0, t) <ddpm_sampling.q_sample>`, {func}`nope.x`"
    assert cite(text) == f"[`reverse_step()`]({api}reverse_step), [`q_sample(x0, t)`]({api}q_sample), `nope.x()`"


def test_the_notebook_scan_fails_on_a_raw_citation_and_on_a_bare_key():
    def notebook(text: str) -> nbformat.NotebookNode:
        return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(text, id="prose")])

    with pytest.raises(AssertionError, match="a role: '\\{cite:p\\}`'"):
        assert_no_myst(notebook("Algorithm 2 {cite:p}`ho2020denoising` in words."), "planted")
    with pytest.raises(AssertionError, match=r"citation keys \['ho2020denoising'\]"):
        assert_no_myst(notebook("Algorithm 2 (ho2020denoising{Algorithm 2}) in words."), "planted")
    written = cite("Algorithm 2 {cite:p}`ho2020denoising` in words.", cite_id="cite-{key}")
    assert_no_myst(notebook(written), "written out")  # the key only in the link's target


def test_code_blocks_targets_and_comments():
    text = "(label)=\n# Title\n% a comment\n```python\n{glue:text}`not_a_role`\n```"
    assert convert(text) == "# Title\n```python\n{glue:text}`not_a_role`\n```"


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("{glue:text}`x`", "a role"),
        ("```{note}\nx\n```", "a directive"),
        (":::{note}\nx\n:::", "a directive"),
        ("(my-label)=", "a target"),
        ("% comment", "a comment"),
        ("+++", "a block break"),
        (":class: tip", "a directive option"),
        ("{{ name }}", "a substitution"),
        ("DDPM {cite:p}`ho2020denoising{sec. 3.2}` tried two", "a role"),
        ("as {cite:t}`somepalli2023diffusion,kadkhodaie2024generalization` show", "a role"),
    ],
)
def test_the_scan_finds_myst_only_syntax(text, found):
    assert myst_only(text) and myst_only(text)[0].startswith(found)
    assert not myst_only("Plain: $x_{500}$, `code`, [link](u), > quote, **bold**, {a, b}.")


# ---------------------------------------------------------------------------- code, cell by cell


def test_glue_calls_go_and_what_only_they_read_goes_with_them():
    source = "# for the text\nmean = a * 2\nkept = a + 1\nglue('m', mean, display=False)\nglue('k', kept)"
    assert pc.plain_code(source, {"kept"}, set()).source == "kept = a + 1"
    assert pc.plain_code(source, set(), set()).source is None  # all plumbing: the cell is dropped


def test_an_expression_is_never_dropped_and_a_cell_without_glue_is_left_alone():
    assert pc.plain_code("x = 1\nglue('x', x, display=False)\nshow(x)", set(), set()).source == "x = 1\nshow(x)"
    assert pc.plain_code("unused = 1", set(), set()).source == "unused = 1"


def test_loops_that_only_glue_go():
    source = "for t in (1, 2):\n    label = names[t]\n    glue(f'c_{t}', label, display=False)\nz = 3"
    assert pc.plain_code(source, {"z"}, set()).source == "z = 3"
    assert pc.plain_code(source, {"z", "label"}, set()).source == "for t in (1, 2):\n    label = names[t]\nz = 3"
    source = "if ok:\n    glue('a', 1, display=False)\nelse:\n    print('no')"
    assert pc.plain_code(source, set(), set()).source == "if ok:\n    pass\nelse:\n    print('no')"


def test_figures_are_shown_where_their_cell_runs():
    figure = pc.plain_code("fig = plot(x)\nfig.suptitle('t')\nglue_figure('fig_x', fig)", set(), {"fig_x"})
    assert (figure.source, figure.figures, "plt" in figure.reads) == (
        "fig = plot(x)\nfig.suptitle('t')\nplt.show()",
        ["fig_x"],
        True,
    )
    html = pc.plain_code("anim = HTML(a)\nglue('anim', anim, display=False)", set(), {"anim"})
    assert (html.source, html.figures) == ("anim = HTML(a)\ndisplay(anim)", ["anim"])


def test_glue_imports_go_and_pyplot_comes_in_their_place_when_a_figure_needs_it():
    imports = (
        "import math\n\nimport torch\nfrom ddpm_sampling.chapter_helpers import Word, glue_figure\n"
        "from myst_nb import glue\n\nschedule = 1"
    )
    figure = "fig = plot(schedule)\nglue_figure('fig_s', fig)"
    site = rn.Site.make(ROOT, "", "main")

    def plain(*sources: str) -> list:
        cells = [nbformat.v4.new_code_cell(source) for source in sources]
        return rn._plain_cells(cells, pm.Markdown(site, "ch", lambda n, s: ""), {"fig_s"})

    first, shown = plain(imports, figure)
    assert first[0].source == (
        "import math\n\nimport matplotlib.pyplot as plt\nimport torch\n"
        "from ddpm_sampling.chapter_helpers import Word\n\nschedule = 1"
    )
    assert (shown[0].source, shown[1]) == ("fig = plot(schedule)\nplt.show()", ["fig_s"])
    twice = plain("from myst_nb import glue\nx = 1", imports, figure)  # pyplot comes in once
    assert [cell.source.count("import matplotlib.pyplot") for cell, _ in twice] == [0, 1, 0]


def test_a_glue_call_that_shares_its_line_is_refused():
    with pytest.raises(ValueError, match=r"give each glue statement \(or guard\) a line of its own"):
        pc.plain_code("x = 1; glue('x', x)", set(), set())


def test_a_self_check_of_the_package_is_imported_from_it():
    assert rn.check_cell("check_reverse_step(step)", "c").source == (
        "from ddpm_sampling.exercises import check_reverse_step\n\ncheck_reverse_step(step)"
    )


def test_the_student_notebook_is_deterministic_and_valid(tmp_path):
    chapter = jupytext.reads(MYST_NOTEBOOK_HEADER + textwrap.dedent(FILES["one.md"]), fmt="md:myst")
    (tmp_path / "refs.bib").write_text(textwrap.dedent(FILES["refs.bib"]))
    site = rn.Site.make(tmp_path, REPO, "dev", bibfiles=["refs.bib"])

    def make():
        return rn.reader_notebook(chapter, "one", site, lambda n, s: "V", "git+X@abc")

    first = make()
    nbformat.validate(first)
    assert nbformat.writes(first) == nbformat.writes(make())
    ids = [c.id for c in first.cells]
    assert len(set(ids)) == len(ids) and "install" in ids and "figure-fig_line" in ids


# ---------------------------------------------------------------------------- the chapters' glue helpers


def test_glue_figure_refuses_an_unreadable_figure():
    import glue_helpers
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3))
    ax.set_title("tiny", fontsize=5)
    with pytest.raises(ValueError, match="figure 'fig_tiny' has text too small to read on the page: 'tiny'"):
        glue_helpers.glue_figure("fig_tiny", fig)
    assert not plt.fignum_exists(fig.number)


def test_small_text_finds_text_that_the_page_shrinks_below_the_limit():
    import matplotlib.pyplot as plt
    from glue_helpers import MIN_TEXT_PX, PAGE_WIDTH_PX, small_text

    fig, ax = plt.subplots(figsize=(PAGE_WIDTH_PX / 100, 3), dpi=100)
    ax.set_title("readable", fontsize=10)
    ax.tick_params(labelsize=10)
    assert small_text(fig) == []
    ax.set_xlabel("tiny", fontsize=6)
    assert small_text(fig) == [f"'tiny' at {6 * 100 / 72:.1f} px"]
    # the same 10-point text in a figure twice as wide as the page is shown at half size
    fig.set_figwidth(2 * PAGE_WIDTH_PX / 100)
    assert any(f"{10 * 100 / 72 / 2:.1f} px" in s for s in small_text(fig))
    assert MIN_TEXT_PX > 10 * 100 / 72 / 2
    plt.close("all")


def trajectory_html(n: int) -> str:
    import torch

    from ddpm_sampling import plots

    g = torch.Generator().manual_seed(0)
    snaps = {t: torch.randn(1, 8, 8, generator=g) for t in range(10 * (n - 1), -1, -10)}
    return plots.trajectory_animation(snaps, snaps)


def test_an_animation_on_the_page_asks_nothing_of_another_host():
    from glue_helpers import animation_html

    raw = trajectory_html(4)
    assert re.search(r"<link[^>]*font-awesome", raw)  # what matplotlib makes: icons from a CDN
    html = animation_html(raw, "a shirt")
    assert len(re.findall(r"data:image/png;base64", html)) == 4
    assert not re.search(r"(src|href)=\"(https?:)?//", html), "the animation loads something from another host"


def test_an_animation_on_the_page_is_described_labelled_and_fits_a_narrow_column():
    from glue_helpers import animation_html

    html = animation_html(trajectory_html(2), 'noise "becomes" a shirt')
    assert re.search(r'<img id="_anim_img\w+" alt="noise &quot;becomes&quot; a shirt">', html)
    assert re.search(r'<input id="_anim_slider\w+" type="range" class="anim-slider" aria-label="Frame"', html)
    assert "input[type=range].anim-slider { max-width: 100%; }" in html  # matplotlib's 374 px at most the column
    with pytest.raises(TypeError, match="alt must be a str"):
        animation_html(trajectory_html(2), None)


def test_a_glued_animation_is_shown_as_it_is_in_a_readers_notebook():
    cell = 'animation = HTML(make())\nglue_animation(\n    "anim", animation,\n    alt="a shirt",\n)'
    plain = pc.plain_code(cell, set(), {"anim"})
    assert plain.source == "animation = HTML(make())\ndisplay(animation)" and plain.figures == ["anim"]
    assert pc.plain_code("from _ext.glue_helpers import glue, glue_animation\nx = 1", {"x"}, set()).source == "x = 1"


def test_without_myst_nb_the_glue_helpers_show_what_they_would_glue(monkeypatch):
    """A chapter opened as a notebook on Binder, where there is no page to glue to."""
    import glue_helpers
    import matplotlib.pyplot as plt

    shown = []
    monkeypatch.setattr(glue_helpers, "_myst_glue", None)
    monkeypatch.setattr(glue_helpers, "show", shown.append)
    fig, ax = plt.subplots(figsize=(4, 3))
    glue_helpers.glue_figure("fig", fig)
    glue_helpers.glue("quiet", 1, display=False)
    glue_helpers.glue("loud", 2)
    assert shown == [fig, 2] and not plt.fignum_exists(fig.number)


# ---------------------------------------------------------------------------- versions, the site, Colab


def test_the_version_built_is_the_tag_of_head_or_else_its_commit(tmp_path):
    assert rn.commit_ref(tmp_path) is None  # not a git checkout
    git(tmp_path, "init", "-q")
    (tmp_path / "f").write_text("x")
    git(tmp_path, "add", "f")
    git(tmp_path, "commit", "-q", "-m", "one")
    assert rn.commit_ref(tmp_path) == git(tmp_path, "rev-parse", "HEAD")
    git(tmp_path, "tag", "v1.2.3")
    assert rn.commit_ref(tmp_path) == "v1.2.3"


def commit_all(checkout: Path, message: str) -> str:
    git(checkout, "add", "-A")
    git(checkout, "commit", "-q", "-m", message)
    return git(checkout, "rev-parse", "HEAD")


def commit_as_a_checkout(root: Path) -> str:
    """Make ``root``, a small book, a git checkout with a package (``src/``) and commit it all."""
    (root / "src").mkdir(exist_ok=True)
    (root / "src" / "a.py").write_text("A = 1\n")
    git(root, "init", "-q")
    return commit_all(root, "a book")


def test_the_package_is_pinned_at_the_last_commit_that_changed_it(tmp_path):
    with pytest.raises(rn.RefError, match="is not a git checkout"):
        rn.package_ref(tmp_path)
    git(tmp_path, "init", "-q")
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    (tmp_path / "src" / "pkg" / "a.py").write_text("A = 1\n")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "pkg"\nversion = "1"\n')
    (tmp_path / ".gitignore").write_text("__pycache__/\n")
    (tmp_path / "one.md").write_text("# One\n")
    first = commit_all(tmp_path, "the package")
    assert rn.package_ref(tmp_path) == first
    (tmp_path / "one.md").write_text("# One, edited\n")
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "one.ipynb").write_text("{}")
    commit_all(tmp_path, "a chapter and its notebook")
    assert rn.package_ref(tmp_path) == first  # stable while only chapters change
    (tmp_path / "src" / "pkg" / "__pycache__").mkdir()
    (tmp_path / "src" / "pkg" / "__pycache__" / "a.pyc").write_text("ignored")
    assert rn.package_ref(tmp_path) == first  # an ignored file is no change to the package
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "pkg"\nversion = "2"\n')
    second = commit_all(tmp_path, "version 2")
    assert rn.package_ref(tmp_path) == second
    (tmp_path / "one.md").write_text("# One, again\n")
    commit_all(tmp_path, "a chapter")
    assert rn.package_ref(tmp_path) == second


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda root: (root / "src" / "pkg" / "a.py").write_text("A = 2\n"), "src/pkg/a.py"),
        (lambda root: (root / "src" / "pkg" / "new.py").write_text("B = 1\n"), "src/pkg/new.py"),
        (lambda root: (root / "src" / "pkg" / "a.py").unlink(), "src/pkg/a.py"),
        (lambda root: (root / "pyproject.toml").write_text("[project]\n"), "pyproject.toml"),
    ],
    ids=["changed", "new", "deleted", "pyproject"],
)
def test_uncommitted_changes_to_the_package_are_refused_with_what_to_do(tmp_path, capsys, change, named):
    git(tmp_path, "init", "-q")
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    (tmp_path / "src" / "pkg" / "a.py").write_text("A = 1\n")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "pkg"\n')
    commit_all(tmp_path, "the package")
    change(tmp_path)
    with pytest.raises(rn.RefError, match=rf"uncommitted changes \({re.escape(named)}\).*commit \(or stash\)"):
        rn.package_ref(tmp_path)
    git(tmp_path, "add", "-A")  # staged is not committed either
    with pytest.raises(rn.RefError, match=re.escape(named)):
        rn.package_ref(tmp_path)
    # `make notebooks` and the check stop with that message and write nothing
    (tmp_path / "_config.yml").write_text(f"repository:\n  url: {REPO}\n")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: one\n")
    (tmp_path / "one.md").write_text(MYST_NOTEBOOK_HEADER + "\n# One\n\n```{code-cell} ipython3\nx = 1\n```\n")
    for check in ([], ["--check"]):
        assert rn.main(["--root", str(tmp_path), *check]) == 1
        assert "uncommitted changes" in capsys.readouterr().err
    assert not (tmp_path / "notebooks").exists()


def test_a_shallow_clone_that_may_lack_the_commit_says_to_fetch_the_history(tmp_path):
    origin = tmp_path / "origin"
    origin.mkdir()
    git(origin, "init", "-q")
    (origin / "src").mkdir()
    (origin / "src" / "a.py").write_text("A = 1\n")
    commit_all(origin, "the package")
    (origin / "src" / "a.py").write_text("A = 2\n")
    package = commit_all(origin, "the package again")
    for n in range(2):
        (origin / "one.md").write_text(f"# One {n}\n")
        commit_all(origin, f"chapter {n}")
    for depth in (1, 2, 3, 4):
        clone = tmp_path / f"depth{depth}"
        git(tmp_path, "clone", "-q", "--depth", str(depth), f"file://{origin}", str(clone))
        if depth < 4:  # the oldest commit fetched seems to add the package: git cannot tell when it changed
            with pytest.raises(rn.RefError, match="shallow clone.*fetch-depth: 0"):
                rn.package_ref(clone)
        else:  # the package's last change lies inside the history fetched
            assert rn.package_ref(clone) == package
    git(tmp_path / "depth1", "fetch", "-q", "--unshallow")
    assert rn.package_ref(tmp_path / "depth1") == package


def test_the_site_names_the_commit_built_and_says_when_the_package_is_not_the_one_committed(tmp_path, monkeypatch):
    from types import SimpleNamespace

    said = []
    monkeypatch.setattr(nd, "logger", SimpleNamespace(info=lambda message, *args: said.append(message % args)))

    def built() -> str:
        return nd.built_ref(tmp_path, "dev")

    assert built() == "dev" and "git does not say what is built; naming dev" in said.pop()
    head = commit_as_a_checkout(tmp_path)
    assert built() == head and not said
    (tmp_path / "src" / "a.py").write_text("A = 2\n")
    assert built() == head
    assert said == [
        "notebook downloads: the package has uncommitted changes (src/a.py); the notebooks offered and the "
        f"Colab links name {head}, the package as committed, not as built"
    ]


def test_named_refs_finds_install_cells_and_colab_links_and_unknown_refs_asks_git(tmp_path):
    git(tmp_path, "init", "-q")
    (tmp_path / "f").write_text("x")
    head = commit_all(tmp_path, "one")
    git(tmp_path, "tag", "v1")
    assert unknown_refs(tmp_path, f"git+{REPO}@{head} git+{REPO}@v1 git+{REPO}@v0.1.0") == ["v0.1.0"]
    cell = json.dumps({"source": f'    %pip install --quiet "git+{REPO}@{head}"\n'})
    link = '<a href="https://colab.research.google.com/github/o/r/blob/v1/notebooks/x.ipynb">'
    github = "[source](https://github.com/o/r/blob/main/book/x.md)"
    assert named_refs(cell + link + github) == [head, "v1", "main"]
    assert named_refs("no version here: https://github.com/o/r and git+https://github.com/o/r") == []


@pytest.mark.parametrize(
    ("url", "pages", "colab"),
    [
        (
            "https://github.com/O/r",
            "https://o.github.io/r/",
            "https://colab.research.google.com/github/O/r/blob/v1/n.ipynb",
        ),
        (
            "https://github.com/o/r.git/",
            "https://o.github.io/r/",
            "https://colab.research.google.com/github/o/r/blob/v1/n.ipynb",
        ),
        (
            "https://github.com/o/o.github.io",
            "https://o.github.io/",
            "https://colab.research.google.com/github/o/o.github.io/blob/v1/n.ipynb",
        ),
        ("https://gitlab.com/o/r", None, None),
    ],
)
def test_the_site_and_colab_addresses_come_from_the_repository(url, pages, colab):
    site = rn.Site.make(ROOT, url, "main")
    assert (site.url, site.colab("v1", "n.ipynb")) == (pages, colab)
    assert rn.Site.make(ROOT, url, "main", "https://book.example.org").url == "https://book.example.org/"


def test_the_configured_repository_is_the_one_the_notebooks_install_from():
    site = rn.Site.from_config(ROOT)
    config = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    assert (site.repository, site.branch) == (config["url"], config["branch"])
    assert site.requirement("abc123") == f"git+{config['url']}@abc123"


# ---------------------------------------------------------------------------- the committed notebooks


def test_the_committed_notebooks_match_the_chapters():
    assert rn.main(["--root", str(ROOT), "--check"]) == 0, "run `make notebooks` and commit notebooks/"
    expected = {rn.committed_name(posixpath.basename(d), rn.is_exercise(nb)) for d, nb in real_chapters().items()}
    assert sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb")) == sorted(expected)
    package = rn.package_ref(ROOT)
    for path in (ROOT / "notebooks").glob("*.ipynb"):
        nb = read(path)
        assert_no_myst(nb, path.name)
        assert not guards(nb), f"{path.name} holds the hidden guards of its chapter: {guards(nb)}"
        assert f"git+{rn.Site.from_config(ROOT).repository}@{package}" in code(nb)


def test_the_notebooks_written_from_the_chapters_hold_no_hidden_guard():
    """What ``make notebooks`` writes from the chapters, whose pages hide guards (notebooks/ holds the same)."""
    assert sum(len(guards(chapter)) for chapter in real_chapters().values()) > 10
    wanted = rn.committed_notebooks(ROOT, lambda docname: lambda name, spec: rn.PLACEHOLDER)
    for path, nb in wanted.items():
        assert not guards(nb), f"{path.name}: {guards(nb)}"


def test_every_version_a_committed_notebook_names_is_one_the_checkout_has():
    paths = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert paths
    for path in paths:
        text = path.read_text()
        assert len(named_refs(text)) == 1, path.name  # its install cell
        assert not unknown_refs(ROOT, text), f"{path.name}: run `make notebooks` and commit notebooks/"
    # a notebook that names a version the checkout lacks fails it: the old release tag, a made-up commit
    text = paths[0].read_text()
    (ref,) = named_refs(text)
    for planted in ("v0.1.0", "f" * 40):
        assert unknown_refs(ROOT, text.replace(f"@{ref}", f"@{planted}")) == [planted]


def test_the_check_fails_on_a_committed_notebook_that_names_an_unknown_version(tmp_path, capsys):
    (tmp_path / "book").mkdir()
    (tmp_path / "_config.yml").write_text(f"repository:\n  url: {REPO}\n")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/one\n")
    (tmp_path / "book" / "one.md").write_text(MYST_NOTEBOOK_HEADER + "\n# One\n\n```{code-cell} ipython3\nx = 1\n```\n")
    package = commit_as_a_checkout(tmp_path)
    assert rn.main(["--root", str(tmp_path)]) == 0
    written = tmp_path / "notebooks" / "one.ipynb"
    assert named_refs(written.read_text()) == [package]
    commit_all(tmp_path, "its notebook")
    assert rn.main(["--root", str(tmp_path), "--check"]) == 0
    capsys.readouterr()
    written.write_text(written.read_text().replace(f"@{package}", "@v0.1.0"))
    assert rn.main(["--root", str(tmp_path), "--check"]) == 1
    out = capsys.readouterr().out
    assert "notebooks/one.ipynb differs from its chapter: run `make notebooks`" in out


def test_the_check_fails_on_a_stale_or_orphaned_copy_but_not_on_other_values(tmp_path, capsys):
    (tmp_path / "book").mkdir()
    (tmp_path / "_config.yml").write_text(f"repository:\n  url: {REPO}\n")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/one\n")
    chapter = tmp_path / "book" / "one.md"
    glued = "```{code-cell} ipython3\nx = 1\nglue('x', x, display=False)\n```\n\nx is {glue:text}`x:.2f`.\n"
    chapter.write_text(MYST_NOTEBOOK_HEADER + "\n# One\n\n" + glued)
    build = tmp_path / "_build" / "jupyter_execute" / "book"
    build.mkdir(parents=True)
    (build / "one.glue.json").write_text(json.dumps({"x": {"data": {"text/plain": "1"}}}))
    commit_as_a_checkout(tmp_path)
    assert rn.main(["--root", str(tmp_path), "--check"]) == 1  # not written yet
    assert rn.main(["--root", str(tmp_path)]) == 0
    written = tmp_path / "notebooks" / "one.ipynb"
    assert "x is 1.00." in written.read_text()
    assert rn.main(["--root", str(tmp_path), "--check"]) == 0
    written.write_text(written.read_text().replace("x is 1.00.", "x is 2.50."))  # another build's value
    assert rn.main(["--root", str(tmp_path), "--check"]) == 0
    chapter.write_text(chapter.read_text().replace("# One", "# One, edited"))
    (tmp_path / "notebooks" / "gone-student.ipynb").write_text("{}")
    assert rn.main(["--root", str(tmp_path), "--check"]) == 1
    out = capsys.readouterr().out
    assert "one.ipynb differs from its chapter" in out and "gone-student.ipynb has no chapter" in out


def test_writing_without_a_build_says_to_build_first(tmp_path):
    (tmp_path / "book").mkdir()
    (tmp_path / "_config.yml").write_text(f"repository:\n  url: {REPO}\n")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/one\n")
    (tmp_path / "book" / "one.md").write_text(
        MYST_NOTEBOOK_HEADER + "\n# One\n\n```{code-cell} ipython3\nx = 1\n```\n\n{glue:text}`x`\n"
    )
    commit_as_a_checkout(tmp_path)
    with pytest.raises(KeyError, match="build the book first"):
        rn.main(["--root", str(tmp_path)])


# ---------------------------------------------------------------------------- Binder

#: What only building, testing or linting the book needs.
NOT_FOR_READERS = {"pytest", "ruff", "playwright", "zizmor", "check-jsonschema", "sphinx", "jupyter-book", "myst-nb"}


def pins(path: Path) -> dict[str, str]:
    lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    return {name.lower(): version for name, _, version in (line.partition("==") for line in lines if "==" in line)}


def test_binder_installs_only_what_reading_and_running_needs_at_the_books_versions():
    binder, book = pins(ROOT / "binder" / "requirements.txt"), pins(ROOT / "requirements.txt")
    assert binder["torch"].endswith("+cpu") and binder["torchvision"].endswith("+cpu"), "Binder has no GPU"
    public = {name: version.removesuffix("+cpu") for name, version in binder.items()}  # 2.14.1+cpu: 2.14.1's CPU build
    assert {name: book.get(name) for name in public} == public, "binder/requirements.txt must pin the book's versions"
    assert {"torch", "torchvision", "matplotlib", "jupytext"} <= set(binder)
    assert not set(binder) & NOT_FOR_READERS
    lines = (ROOT / "binder" / "requirements.txt").read_text().splitlines()
    assert "-e ." in lines and not any(line.startswith("-r") for line in lines)


def test_binder_opens_the_chapters_as_notebooks(tmp_path):
    post_build = ROOT / "binder" / "postBuild"
    assert os.access(post_build, os.X_OK)
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(tmp_path),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    subprocess.run([str(post_build)], env=env, check=True, capture_output=True)
    settings = json.loads((tmp_path / "labconfig" / "default_setting_overrides.json").read_text())
    assert settings["@jupyterlab/docmanager-extension:plugin"]["defaultViewers"]["markdown"] == "Jupytext Notebook"
