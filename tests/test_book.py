"""The book build: it succeeds strictly, it fails loudly and names the chapter when a
cell raises or a reference is broken, its exercise pages hold their figures, its
skeleton cells are not run, and two executions print the same numbers."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml
from conftest import ROOT, build_failure
from nbclient import NotebookClient

sys.path.insert(0, str(ROOT / "book" / "_ext"))
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
    "trained": 7,
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
        "sphinx": {
            "local_extensions": {
                "notebook_downloads": str(ROOT / "book" / "_ext"),
                "cached_outputs": str(ROOT / "book" / "_ext"),
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
    return root


def test_strict_build_succeeds(book_html):
    for name in ["intro", *CHAPTERS, "takeaways", "exec_stats", "api"]:
        assert (book_html / "book" / f"{name}.html").is_file(), f"{name}.html is missing"
    assert not list((book_html / "reports").rglob("*.log")), "a chapter left an execution error report"


def test_a_raising_cell_fails_the_build_naming_the_chapter(build_book, tmp_path):
    src = tiny_book(
        tmp_path / "src",
        {
            "start": "# Start\n",
            "bad_chapter": "# Bad\n\n```{code-cell} ipython3\n"
            "x = 1\n```\n\n```{code-cell} ipython3\nraise ZeroDivisionError('planted')\n```\n",
        },
    )
    proc = build_book(src, tmp_path / "out")
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, build_failure(proc)
    assert "bad_chapter" in output, build_failure(proc)
    assert "ZeroDivisionError" in output and "planted" in output, "the traceback is not shown\n" + build_failure(proc)
    report = tmp_path / "out" / "_build" / "html" / "reports" / "book" / "bad_chapter.err.log"
    assert report.is_file(), "the execution report is not on disk\n" + build_failure(proc)
    assert "planted" in report.read_text()


def test_a_raising_cell_fails_a_build_without_strict_flags_too(tmp_path):
    """``jupyter-book build`` as anyone types it, without ``-W``: the build still fails."""
    src = tiny_book(
        tmp_path / "src",
        {
            "start": "# Start\n",
            "bad_chapter": "# Bad\n\n```{code-cell} ipython3\nraise ZeroDivisionError('planted')\n```\n",
        },
    )
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    proc = subprocess.run(
        [str(jupyter_book), "build", str(src), "--path-output", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=env,
        cwd=src,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, build_failure(proc)
    assert "a cell raised, in: book/bad_chapter" in output, build_failure(proc)
    assert (tmp_path / "out" / "_build" / "html" / "reports" / "book" / "bad_chapter.err.log").is_file()


def test_a_broken_reference_fails_the_build_naming_the_chapter(build_book, tmp_path):
    src = tiny_book(tmp_path / "src", {"start": "# Start\n", "dangling": "# Dangling\n\nSee {ref}`no-such-label`.\n"})
    proc = build_book(src, tmp_path / "out")
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


def test_the_figure_check_fails_when_the_build_loses_its_figures(build_book, tmp_path):
    """Under MPLBACKEND=Agg the kernel has no inline backend: the build succeeds, the figures vanish."""
    figure = (
        "# Figure\n\n```{code-cell} ipython3\nimport matplotlib.pyplot as plt\nfrom myst_nb import glue\n"
        "fig, ax = plt.subplots()\nax.plot([0, 1], [1, 0])\nglue('fig', fig, display=False)\nfig\n```\n\n"
        "```{glue:figure} fig\nA line.\n```\n"
    )
    src = tiny_book(tmp_path / "src", {"start": "# Start\n", "figure": figure})
    page = tmp_path / "{}" / "_build" / "html" / "book" / "figure.html"
    for out, env in (("good", None), ("agg", {"MPLBACKEND": "Agg"})):
        proc = build_book(src, tmp_path / out, env=env)
        assert proc.returncode == 0, build_failure(proc)
    assert missing_figures(Path(str(page).format("good")), 2) is None
    assert "expected at least 2 figures, found 0" in missing_figures(Path(str(page).format("agg")), 2)


def test_the_trajectory_animation_plays_without_a_kernel(book_html):
    page = (book_html / "book" / "ex4_sampling_loop.html").read_text()
    frames = re.findall(r"data:image/png;base64,", page)
    assert len(frames) >= 20, f"the animation holds {len(frames)} frames"
    assert "<script" in page and "anim" in page


def executed(html: Path, name: str) -> nbformat.NotebookNode:
    """A chapter as the build executed it, with the outputs that myst-nb leaves in jupyter-cache."""
    nb = nbformat.read(html.parent / "jupyter_execute" / "book" / f"{name}.ipynb", as_version=4)
    return rn.with_cached_outputs(nb, html.parent / ".jupyter_cache")


@pytest.mark.parametrize("name", CHAPTERS[1:])
def test_skeletons_are_not_run_and_solutions_are(book_html, name):
    cells = [c for c in executed(book_html, name).cells if c.cell_type == "code"]
    tagged = {tag: [c for c in cells if tag in c.metadata.get("tags", [])] for tag in ("skeleton", "solution")}
    assert tagged["skeleton"] and len(tagged["skeleton"]) == len(tagged["solution"])
    assert all(c.execution_count is None and not c.outputs for c in tagged["skeleton"])
    assert all(c.execution_count is not None for c in tagged["solution"])


def is_glue(out: dict) -> bool:
    return "scrapbook" in out.get("metadata", {})


def printed_text(nb: nbformat.NotebookNode) -> tuple[list[str], set[str]]:
    """Every text the notebook printed or returned, cell by cell, and the names of the glued
    values; cells tagged ``timing`` are left out of the first and their glue names go in the second."""
    texts, timing_glue = [], set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        timing = "timing" in cell.metadata.get("tags", [])
        for out in cell.get("outputs", []):
            if is_glue(out):  # myst-nb keeps glued values out of the executed notebook, in <name>.glue.json
                if timing:
                    timing_glue.add(out["metadata"]["scrapbook"]["name"])
            elif not timing:
                texts.append(out.get("text") or out.get("data", {}).get("text/plain", ""))
    return texts, timing_glue


def glued_text(outputs: dict[str, dict], leave_out: set[str]) -> dict[str, str]:
    """Each glued value's text form (a number, or a figure's repr), by name. In a kernel's own
    output the MIME types carry glue's prefix; myst-nb's .glue.json has them without it."""
    prefix = "application/papermill.record/"
    return {
        name: out["data"].get("text/plain", out["data"].get(prefix + "text/plain"))
        for name, out in outputs.items()
        if name not in leave_out
    }


def run_again(path: Path) -> nbformat.NotebookNode:
    """Execute a chapter in a fresh kernel, in its own folder as the build runs it (the chapters
    import book/_ext's glue helpers); nbclient skips cells tagged skip-execution (the skeletons),
    as myst-nb does."""
    nb = jupytext.read(path)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb


def chapters_that_differ(source: Path, html: Path) -> tuple[list[str], int]:
    """Run every chapter of the book in ``source`` again in a fresh kernel and compare what it
    printed and glued with the build in ``html``, leaving out cells tagged ``timing`` (they
    measure this machine's speed). Return the chapters that differ and how many were compared.

    The chapters run as ``make book`` runs them (book/_ext/execute_chapters.py): one per core
    side by side, with the cores shared out as torch threads, and those that time the machine
    alone afterwards, so that each sees the thread count it was built with."""
    executed_dir = html.parent / "jupyter_execute" / "book"
    paths = [p for p in sorted((source / "book").glob("*.md")) if (executed_dir / f"{p.stem}.ipynb").is_file()]
    timing = [p for p in paths if any("timing" in c.metadata.get("tags", []) for c in jupytext.read(p).cells)]
    together = [p for p in paths if p not in timing]
    jobs = os.cpu_count() or 1
    before = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // jobs))  # the kernels inherit it
    try:
        with ThreadPoolExecutor(jobs) as pool:
            fresh = dict(zip(together, pool.map(run_again, together)))
    finally:
        if before is None:
            os.environ.pop("OMP_NUM_THREADS")
        else:
            os.environ["OMP_NUM_THREADS"] = before
    fresh.update({p: run_again(p) for p in timing})
    differ, compared = [], 0
    for path in paths:
        name, nb = path.stem, fresh[path]
        texts, timing_glue = printed_text(nb)
        first = executed(html, name)
        fresh_glue = {
            o["metadata"]["scrapbook"]["name"]: o for c in nb.cells for o in c.get("outputs", []) if is_glue(o)
        }
        glue_file = executed_dir / f"{name}.glue.json"
        first_glue = json.loads(glue_file.read_text()) if glue_file.is_file() else {}
        if texts != printed_text(first)[0] or glued_text(fresh_glue, timing_glue) != glued_text(
            first_glue, timing_glue
        ):
            differ.append(name)
        compared += 1
    return differ, compared


def test_a_second_execution_prints_the_same_numbers(book_html):
    differ, compared = chapters_that_differ(ROOT, book_html)
    assert not differ, f"these chapters printed or glued other values when run again: {differ}"
    assert compared >= 8, f"only {compared} chapters were compared"


def test_the_comparison_catches_an_unseeded_chapter(build_book, tmp_path):
    unseeded = "```{code-cell} ipython3\nimport torch\nfrom myst_nb import glue\nx = torch.rand(1).item()\n"
    src = tiny_book(
        tmp_path / "src",
        {
            "start": "# Start\n",
            "seeded": "# Seeded\n\n```{code-cell} ipython3\nimport torch\n"
            "torch.rand(2, generator=torch.Generator().manual_seed(0))\n```\n",
            "printed": "# Printed\n\n" + unseeded + "x\n```\n",
            "glued": "# Glued\n\n" + unseeded + "glue('x', x, display=False)\n```\n",
            "timed": "# Timed\n\n```{code-cell} ipython3\n:tags: [timing]\n" + unseeded.split("\n", 1)[1] + "x\n```\n",
        },
    )
    proc = build_book(src, tmp_path / "out")
    assert proc.returncode == 0, build_failure(proc)
    differ, compared = chapters_that_differ(src, tmp_path / "out" / "_build" / "html")
    assert (sorted(differ), compared) == (["glued", "printed"], 5)
