"""The book build: it succeeds strictly, it fails loudly and names the chapter when a
cell raises or a reference is broken, its exercise pages hold their figures, its
skeleton cells are not run, and it glues the numbers an earlier build glued (no chapter
is executed twice for that: the committed notebooks hold the earlier build's numbers)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml
from conftest import ROOT, build_failure

sys.path.insert(0, str(ROOT / "book" / "_ext"))
import plain_markdown as pm  # noqa: E402
import reader_notebooks as rn  # noqa: E402

pytestmark = pytest.mark.book

#: Each exercise page and the least number of figures (PNG images) it must show.
FIGURES = {
    "setup": 2,
    "ex1_coefficients": 1,
    "ex2_one_step": 1,
    "ex3_oneshot_vs_multistep": 3,
    "ex4_sampling_loop": 3,
    "generation": 3,
    "trained": 5,
    "fewer_steps": 1,
    "quality": 1,
    "first_step": 1,
    "cost": 2,
}
CHAPTERS = ["setup", "ex1_coefficients", "ex2_one_step", "ex3_oneshot_vs_multistep", "ex4_sampling_loop"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
HEADER = (ROOT / "book" / "setup.md").read_text().split("---\n", 2)[1]


def tiny_book(root: Path, chapters: dict[str, str]) -> Path:
    """A book in ``root`` with the real book's execution settings and the given chapters
    (name -> MyST body, each made a notebook with the real chapters' jupytext header)."""
    real = yaml.safe_load((ROOT / "_config.yml").read_text())
    config = {
        "title": "tiny",
        "only_build_toc_files": True,
        "execute": real["execute"],
        "repository": {"url": "https://github.com/example/tiny", "branch": "main"},
        "sphinx": {
            "local_extensions": {
                "notebook_downloads": str(ROOT / "book" / "_ext"),
            },
        },
    }
    (root / "book").mkdir(parents=True)
    (root / "_config.yml").write_text(yaml.safe_dump(config))
    names = list(chapters)
    toc = {"format": "jb-book", "root": f"book/{names[0]}", "chapters": [{"file": f"book/{n}"} for n in names[1:]]}
    (root / "_toc.yml").write_text(yaml.safe_dump(toc, sort_keys=False))
    for name, body in chapters.items():
        (root / "book" / f"{name}.md").write_text(f"---\n{HEADER}---\n\n{body}")
    (root / "pyproject.toml").write_text('[project]\nname = "tiny"\nversion = "0.1.0"\n')  # the package the
    (root / "src" / "tiny").mkdir(parents=True)  # notebooks install, at the commit that last changed it
    (root / "src" / "tiny" / "__init__.py").write_text("")
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t"}
    env["GIT_COMMITTER_EMAIL"] = "t@t"
    for command in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "a tiny book"]):
        subprocess.run(["git", *command], cwd=root, env=env, check=True, capture_output=True)
    return root


def test_strict_build_succeeds(book_html):
    for name in ["intro", *CHAPTERS, "takeaways", "exec_stats", "api"]:
        assert (book_html / "book" / f"{name}.html").is_file(), f"{name}.html is missing"
    assert not list((book_html / "reports").rglob("*.log")), "a chapter left an execution error report"


def test_the_chapters_tables_get_the_themes_classes_on_the_site(book_html):
    """The package writes a Table as plain HTML; the site (book/_ext/site_assets.py) gives it the
    classes that the theme styles in both colour modes."""
    page = (book_html / "book" / "setup.html").read_text()
    assert '<table class="table dataframe"><thead>' in page
    assert "<table><thead>" not in page


@pytest.fixture(scope="module")
def failed_build(build_book, tmp_path_factory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """A tiny book with a chapter whose cell raises and one with a broken reference, built strictly
    (``--keep-going``, so both are reported): the finished build and its output folder."""
    root = tmp_path_factory.mktemp("failed")
    src = tiny_book(
        root / "src",
        {
            "start": "# Start\n",
            "bad_chapter": "# Bad\n\n```{code-cell} ipython3\n"
            "x = 1\n```\n\n```{code-cell} ipython3\nraise ZeroDivisionError('planted')\n```\n",
            "dangling": "# Dangling\n\nSee {ref}`no-such-label`.\n",
        },
    )
    return build_book(src, root / "out"), root / "out"


def test_a_raising_cell_fails_the_build_naming_the_chapter(failed_build):
    proc, out = failed_build
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, build_failure(proc)
    assert "bad_chapter" in output, build_failure(proc)
    assert "ZeroDivisionError" in output and "planted" in output, "the traceback is not shown\n" + build_failure(proc)
    report = out / "_build" / "html" / "reports" / "book" / "bad_chapter.err.log"
    assert report.is_file(), "the execution report is not on disk\n" + build_failure(proc)
    assert "planted" in report.read_text()


def test_a_broken_reference_fails_the_build_naming_the_chapter(failed_build):
    proc, _ = failed_build
    assert proc.returncode != 0, build_failure(proc)
    assert re.search(r"dangling\.md:\d+: WARNING: .*no-such-label", proc.stdout + proc.stderr), build_failure(proc)


def page_pngs(html_file: Path) -> list[Path]:
    """The PNG files an HTML page shows through <img src=...>, resolved next to the page."""
    sources = re.findall(r'<img[^>]*\ssrc="([^"]+\.png)"', html_file.read_text())
    return [(html_file.parent / src).resolve() for src in sources]


def missing_figures(html_file: Path, least: int) -> str | None:
    """Why the page shows fewer than ``least`` real PNG figures, or ``None`` if it shows them."""
    pngs = page_pngs(html_file)
    if len(pngs) < least:
        return f"{html_file.stem}: expected at least {least} figures, found {len(pngs)}"
    for png in pngs:
        data = png.read_bytes() if png.is_file() else b""
        if not (data.startswith(PNG_MAGIC) and len(data) > 2000):
            return f"{png} is not a real figure"
    return None


@pytest.mark.parametrize("name", list(FIGURES))
def test_each_exercise_page_shows_its_figures(book_html, name):
    assert missing_figures(book_html / "book" / f"{name}.html", FIGURES[name]) is None


def draws(title: str, draw: str, tags: str = "") -> str:
    """A chapter that glues one number drawn by ``draw`` (a NumPy expression: what is checked is the
    build, and NumPy imports in a tenth of torch's time) and shows it in its prose."""
    return (
        f"# {title}\n\n```{{code-cell}} ipython3\n{tags}import numpy as np\nfrom myst_nb import glue\n"
        f"glue('x', float({draw}), display=False)\n```\n\nIt drew {{glue:text}}`x:.6f`.\n"
    )


@pytest.fixture(scope="module")
def built_twice(build_book, tmp_path_factory) -> tuple[Path, Path, Path]:
    """A tiny book built twice, the second time as a careless machine would (``MPLBACKEND=Agg``), with
    the notebooks ``make notebooks`` writes from the first: its source and the two build folders.

    Its chapters draw a figure, a seeded number, an unseeded one, and an unseeded one in a cell
    tagged ``timing``."""
    root = tmp_path_factory.mktemp("twice")
    figure = (
        "# Figure\n\n```{code-cell} ipython3\nimport matplotlib.pyplot as plt\nfrom myst_nb import glue\n"
        "fig, ax = plt.subplots()\nax.plot([0, 1], [1, 0])\nglue('fig', fig, display=False)\nfig\n```\n\n"
        "```{glue:figure} fig\nA line.\n```\n"
    )
    src = tiny_book(
        root / "src",
        {
            "start": "# Start\n",
            "figure": figure,
            "seeded": draws("Seeded", "np.random.default_rng(0).random()"),
            "unseeded": draws("Unseeded", "np.random.default_rng().random()"),
            "timed": draws("Timed", "np.random.default_rng().random()", tags=":tags: [timing]\n"),
        },
    )
    for out, env in (("one", None), ("two", {"MPLBACKEND": "Agg"})):
        proc = build_book(src, root / out, env=env)
        assert proc.returncode == 0, build_failure(proc)
        if out == "one":
            assert rn.main(["--root", str(src), "--build", str(root / out / "_build")]) == 0
    return src, root / "one" / "_build", root / "two" / "_build"


def test_the_figure_check_fails_when_the_build_loses_its_figures(built_twice):
    """Under MPLBACKEND=Agg the kernel has no inline backend: the build succeeds, the figures vanish."""
    _, good, agg = built_twice
    assert missing_figures(good / "html" / "book" / "figure.html", 2) is None
    assert "expected at least 2 figures, found 0" in missing_figures(agg / "html" / "book" / "figure.html", 2)


def test_the_trajectory_animation_plays_without_a_kernel(book_html):
    page = (book_html / "book" / "ex4_sampling_loop.html").read_text()
    frames = re.findall(r"data:image/png;base64,", page)
    assert len(frames) >= 20, f"the animation holds {len(frames)} frames"
    assert "<script" in page and "anim" in page


def executed(html: Path, name: str) -> nbformat.NotebookNode:
    """A chapter as the build executed it, its cached outputs put in (``notebook_downloads.py``)."""
    return nbformat.read(html.parent / "jupyter_execute" / "book" / f"{name}.ipynb", as_version=4)


@pytest.mark.parametrize("name", CHAPTERS[1:])
def test_skeletons_are_not_run_and_solutions_are(book_html, name):
    cells = [c for c in executed(book_html, name).cells if c.cell_type == "code"]
    tagged = {tag: [c for c in cells if tag in c.metadata.get("tags", [])] for tag in ("skeleton", "solution")}
    assert tagged["skeleton"] and len(tagged["skeleton"]) == len(tagged["solution"])
    assert all(c.execution_count is None and not c.outputs for c in tagged["skeleton"])
    assert all(c.execution_count is not None for c in tagged["solution"])


def is_glue(out: dict) -> bool:
    return "scrapbook" in out.get("metadata", {})


def timing_glue(build: Path) -> set[tuple[str, str]]:
    """The chapters and names glued by cells tagged ``timing`` in the build in ``build``: they
    measure this machine's speed, so no two builds need agree on them."""
    names = set()
    folder = build / "jupyter_execute"
    for path in folder.rglob("*.ipynb"):
        docname = path.relative_to(folder).with_suffix("").as_posix()
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if "timing" in cell.metadata.get("tags", []):
                glued = [o["metadata"]["scrapbook"]["name"] for o in cell.get("outputs", []) if is_glue(o)]
                names |= {(docname, name) for name in glued}
    return names


def notebooks_showing_other_values(root: Path, build: Path) -> list[str]:
    """The committed notebooks of the book in ``root`` (``notebooks/``, written by an earlier build with
    ``make notebooks``) that do not show the values the build in ``build`` glued, timings aside.

    Each glued number a page shows is written into its notebook, so two builds that glue other
    values make other notebooks: this is how a build is checked against an earlier one without
    executing any chapter twice."""
    timing, values = timing_glue(build), rn.last_build_values(build)

    def text_of(docname: str) -> rn.TextOf:
        value = values(docname)

        def text(name: str, spec: str) -> str:
            path, _, key = name.rpartition("::")
            timed = (pm.resolve(docname, path) if path else docname, key) in timing
            return rn.PLACEHOLDER if timed else value(name, spec)

        return text

    wanted = rn.committed_notebooks(root, text_of)
    return sorted(
        path.name
        for path, nb in wanted.items()
        if not path.is_file() or not rn.matches(nbformat.writes(nb) + "\n", path.read_text())
    )


def test_the_build_glues_the_numbers_an_earlier_build_wrote_into_the_notebooks(book_html):
    """Two builds print the same numbers: this one and the one that wrote ``notebooks/``."""
    differ = notebooks_showing_other_values(ROOT, book_html.parent)
    assert not differ, (
        f"these notebooks show other values than this build glued: {differ} (unseeded, or run `make notebooks`)"
    )


def test_the_value_check_catches_an_unseeded_chapter_and_leaves_timings_alone(built_twice):
    src, one, two = built_twice
    assert notebooks_showing_other_values(src, one) == []
    assert notebooks_showing_other_values(src, two) == ["unseeded.ipynb"]
