"""The build's notebook downloads: a tiny book with two exercise chapters, built for real.

The executed and the student notebook of each exercise chapter must exist in the HTML
output, be valid notebooks with the right cells, and be linked from the chapter's page
by relative links that resolve to them.
"""

from __future__ import annotations

import json
import os
import posixpath
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest
from bs4 import BeautifulSoup
from conftest import MYST_NOTEBOOK_HEADER
from IPython.core.inputtransformer2 import TransformerManager

from ddpm_sampling import sphinx_notebooks as sn

JUPYTER_BOOK = Path(sys.executable).with_name("jupyter-book")
REPO = "https://github.com/example/tiny-book"
HEADER = MYST_NOTEBOOK_HEADER
FILES = {
    "_config.yml": f"""\
        title: Tiny
        author: Tests
        only_build_toc_files: true
        execute:
          execute_notebooks: force
          raise_on_error: true
        repository:
          url: {REPO}
        sphinx:
          extra_extensions:
            - ddpm_sampling.sphinx_notebooks
        """,
    "_toc.yml": """\
        format: jb-book
        root: intro
        chapters:
          - file: one
          - file: part/two
        """,
    "intro.md": "# Tiny\n\nNo exercise here.\n",
    "one.md": """
        # Chapter one

        ```{code-cell} ipython3
        :tags: [skeleton, skip-execution]
        :check: check_double(double)

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
        """,
    "part/two.md": """
        # Chapter two

        ```{code-cell} ipython3
        :tags: [skeleton, skip-execution]

        answer = ...  # TODO: six times seven
        ```

        ```{code-cell} ipython3
        :tags: [solution, hide-input]

        answer = 6 * 7  # SOLUTION-TWO
        ```

        ```{code-cell} ipython3
        :tags: [check]

        assert answer == 42, "not yet"
        print("answer =", answer)
        ```
        """,
}
CHAPTERS = {"one": "SOLUTION-ONE", "part/two": "SOLUTION-TWO"}


@pytest.fixture(scope="module")
def tiny_book(tmp_path_factory) -> Path:
    """Build the tiny book with the extension, strictly; return its HTML folder."""
    src = tmp_path_factory.mktemp("tiny-book")
    for name, text in FILES.items():
        path = src / name
        path.parent.mkdir(parents=True, exist_ok=True)
        header = HEADER if name.removesuffix(".md") in CHAPTERS else ""
        path.write_text(header + textwrap.dedent(text))
    out = tmp_path_factory.mktemp("tiny-out")
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    proc = subprocess.run(
        [str(JUPYTER_BOOK), "build", str(src), "--path-output", str(out), "-W", "-n", "--keep-going"],
        capture_output=True,
        text=True,
        env=env,
        cwd=src,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return out / "_build" / "html"


def read(path: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)  # raises on an invalid notebook
    return nb


def code(nb: nbformat.NotebookNode) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code")


@pytest.mark.parametrize("docname", CHAPTERS)
def test_both_notebooks_are_written_as_valid_json_notebooks(tiny_book, docname):
    for rel in sn.notebook_paths(docname):
        path = tiny_book / rel
        assert path.is_file(), f"{rel} missing; have {sorted(p.name for p in tiny_book.rglob('*.ipynb'))}"
        json.loads(path.read_text())
        read(path)


def test_a_page_without_solutions_gets_no_notebooks_and_no_box(tiny_book):
    assert not (tiny_book / "_notebooks" / "intro.ipynb").exists()
    assert not BeautifulSoup((tiny_book / "intro.html").read_text(), "html.parser").select(".nb-downloads")


@pytest.mark.parametrize(("docname", "marker"), CHAPTERS.items())
def test_the_student_notebook_has_the_skeleton_and_no_solution(tiny_book, docname, marker):
    nb = read(tiny_book / sn.notebook_paths(docname)[1])
    assert marker not in json.dumps(nb)
    skeletons = [c for c in nb.cells if "skeleton" in c.metadata.get("tags", [])]
    assert len(skeletons) == 1 and "TODO" in skeletons[0].source
    assert "skip-execution" not in skeletons[0].metadata["tags"]
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    assert "jupytext" not in nb.metadata and nb.metadata.kernelspec.name == "python3"


def test_the_student_notebook_runs_the_declared_self_check_after_the_skeleton(tiny_book):
    one = read(tiny_book / sn.notebook_paths("one")[1])
    tags = [c.metadata.get("tags", []) for c in one.cells]
    at = tags.index(["skeleton"])
    assert tags[at + 1] == ["check"]
    assert one.cells[at + 1].source == "from ddpm_sampling.exercises import check_double\n\ncheck_double(double)"
    two = read(tiny_book / sn.notebook_paths("part/two")[1])
    checks = [c for c in two.cells if "check" in c.metadata.get("tags", [])]
    assert len(checks) == 1 and checks[0].source.startswith("assert answer == 42")  # the chapter's own


@pytest.mark.parametrize("which", [0, 1])
def test_both_notebooks_start_with_the_install_cell_for_the_configured_repository(tiny_book, which):
    nb = read(tiny_book / sn.notebook_paths("one")[which])
    first = nb.cells[0]
    assert first.metadata["tags"] == ["install"] and first.id == "install"
    assert f'%pip install --quiet "git+{REPO}"' in first.source
    assert 'find_spec("ddpm_sampling") is None' in first.source
    # IPython turns the indented magic into a call, so the cell is valid where it runs
    compile(TransformerManager().transform_cell(first.source), "install", "exec")


@pytest.mark.parametrize(("docname", "marker"), CHAPTERS.items())
def test_the_executed_notebook_has_the_solutions_and_their_outputs(tiny_book, docname, marker):
    nb = read(tiny_book / sn.notebook_paths(docname)[0])
    assert marker in code(nb)
    assert not [c for c in nb.cells if "skeleton" in c.metadata.get("tags", [])]
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert printed == {"one": "double(21) = 42\n", "part/two": "answer = 42\n"}[docname]


@pytest.mark.parametrize("docname", CHAPTERS)
def test_the_page_links_both_notebooks_with_relative_links_that_resolve(tiny_book, docname):
    page = tiny_book / f"{docname}.html"
    boxes = BeautifulSoup(page.read_text(), "html.parser").select("div.nb-downloads")
    assert len(boxes) == 1
    links = boxes[0].select("a[download]")
    assert [a["download"] for a in links] == [
        f"{posixpath.basename(docname)}.ipynb",
        f"{posixpath.basename(docname)}-student.ipynb",
    ]
    for a, rel in zip(links, sn.notebook_paths(docname)):
        href = a["href"]
        assert "://" not in href and not href.startswith("/"), href
        target = (page.parent / href).resolve()
        assert target == (tiny_book / rel).resolve() and target.is_file()


def test_the_box_sits_under_the_chapter_title(tiny_book):
    soup = BeautifulSoup((tiny_book / "part" / "two.html").read_text(), "html.parser")
    title = soup.select_one("section h1")
    assert title.find_next_sibling("div")["class"] == ["admonition", "tip", "nb-downloads"]


# ---------------------------------------------------------------------------- without a build


def make_chapter() -> nbformat.NotebookNode:
    v4 = nbformat.v4
    return v4.new_notebook(
        cells=[
            v4.new_markdown_cell("# Title"),
            v4.new_code_cell("from myst_nb import glue", metadata={"tags": ["remove-cell"]}),
            v4.new_code_cell("x = ...", metadata={"tags": ["skeleton", "skip-execution"], "check": "check_x(x)"}),
            v4.new_code_cell("x = 1", metadata={"tags": ["solution", "hide-input"]}),
            v4.new_code_cell("glue('x', x)", outputs=[v4.new_output("stream", text="1\n")], execution_count=3),
        ],
        metadata={"jupytext": {"formats": "md:myst"}, "kernelspec": {"name": "python3", "display_name": "Python 3"}},
    )


def test_the_student_notebook_of_a_chapter_is_deterministic_and_valid():
    requirements = sn.install_requirements(make_chapter(), "git+https://example.org/repo")
    first = sn.student_notebook(make_chapter(), requirements)
    nbformat.validate(first)
    assert nbformat.writes(first) == nbformat.writes(sn.student_notebook(make_chapter(), requirements))
    sources = [c.source for c in first.cells]
    assert sources[1:] == [
        "# Title",
        "from myst_nb import glue",
        "x = ...",
        "from ddpm_sampling.exercises import check_x\n\ncheck_x(x)",
        "glue('x', x)",
    ]
    assert first.cells[-1].outputs == [] and first.cells[-1].execution_count is None


def test_a_chapter_that_glues_installs_myst_nb_too():
    requirements = sn.install_requirements(make_chapter(), "PKG")
    assert requirements[0] == "PKG" and requirements[1].startswith("myst-nb==")
    chapter = make_chapter()
    del chapter.cells[1]
    chapter.cells[-1].source = "x"
    assert sn.install_requirements(chapter, "PKG") == ["PKG"]


def test_is_exercise_needs_a_solution_cell():
    chapter = make_chapter()
    assert sn.is_exercise(chapter)
    del chapter.cells[3]
    assert not sn.is_exercise(chapter)


@pytest.mark.parametrize(
    ("url", "install", "expected"),
    [
        ("https://github.com/me/book/", "", "git+https://github.com/me/book"),
        ("", "", f"git+{sn.DEFAULT_REPOSITORY}"),
        (sn.JUPYTER_BOOK_DEFAULT, "", f"git+{sn.DEFAULT_REPOSITORY}"),
        ("https://github.com/me/book", "ddpm-sampling==0.1.0", "ddpm-sampling==0.1.0"),
    ],
)
def test_the_package_requirement_comes_from_the_repository_url(url, install, expected):
    class Config:
        html_theme_options = {"repository_url": url}
        notebook_downloads_install = install

    class App:
        config = Config()

    assert sn._package_requirement(App()) == expected


# ---------------------------------------------------------------------------- Colab and the committed copies


@pytest.mark.parametrize("docname", CHAPTERS)
def test_the_box_opens_the_committed_student_notebook_in_colab(tiny_book, docname):
    box = BeautifulSoup((tiny_book / f"{docname}.html").read_text(), "html.parser").select_one("div.nb-downloads")
    name = posixpath.basename(docname)
    # the tiny book names no branch, so Jupyter Book's default applies
    assert box.select_one("a.nb-open-colab")["href"] == (
        f"https://colab.research.google.com/github/example/tiny-book/blob/master/notebooks/{name}-student.ipynb"
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://github.com/o/r", "https://colab.research.google.com/github/o/r/blob/dev/notebooks/c-student.ipynb"),
        (
            "https://github.com/o/r.git/",
            "https://colab.research.google.com/github/o/r/blob/dev/notebooks/c-student.ipynb",
        ),
        ("https://gitlab.com/o/r", None),
    ],
)
def test_colab_links_only_github_repositories(url, expected):
    assert sn.colab_url(url, "dev", "book/c") == expected


def test_the_committed_student_notebooks_match_the_chapters():
    root = Path(__file__).resolve().parents[1]
    assert sn.main(["--root", str(root), "--check"]) == 0, "run `make notebooks` and commit notebooks/"
    assert sorted(p.name for p in (root / "notebooks").glob("*.ipynb")) == sorted(
        f"{p.stem}-student.ipynb" for p in (root / "book").glob("ex[0-9]_*.md")
    )


def test_the_check_fails_on_a_stale_or_orphaned_copy(tmp_path, capsys):
    (tmp_path / "book").mkdir()
    (tmp_path / "_config.yml").write_text(f"repository:\n  url: {REPO}\n")
    chapter = tmp_path / "book" / "one.md"
    chapter.write_text(HEADER + "\n# One\n\n```{code-cell} ipython3\n:tags: [solution]\nx = 1\n```\n")
    assert sn.main(["--root", str(tmp_path), "--check"]) == 1  # not written yet
    assert sn.main(["--root", str(tmp_path)]) == 0
    assert sn.main(["--root", str(tmp_path), "--check"]) == 0
    chapter.write_text(chapter.read_text().replace("# One", "# One, edited"))
    (tmp_path / "notebooks" / "gone-student.ipynb").write_text("{}")
    assert sn.main(["--root", str(tmp_path), "--check"]) == 1
    out = capsys.readouterr().out
    assert "one-student.ipynb differs from its chapter" in out and "gone-student.ipynb has no exercise chapter" in out
