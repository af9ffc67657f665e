"""Shared fixtures: one strict build of the real book per test session.

``make test`` builds the book first, with ``make book`` (``-W -n --keep-going --all``: any
warning, broken reference or raising cell fails it), and hands its HTML folder to the tests in
``$BOOK_HTML``: no chapter is executed a second time for the tests. Without ``$BOOK_HTML``
(``pytest`` run by hand) the session builds the book itself, from scratch, into ``_build/test``.

Under pytest-xdist, give ``--dist loadfile`` and ``$BOOK_HTML`` (``make test`` runs ``-n auto
--dist loadfile``): each test module then runs in one worker, so that the small books a module
builds (its module-scoped fixtures) are built once, and no worker builds the real book. The
slowest modules are collected first (:data:`SLOWEST_FIRST`), so that they start first and no
worker is left running one of them alone at the end. (``--dist loadgroup`` does not group with
pytest 9.2 and pytest-xdist 3.8: the group it appends to a test's id no longer reaches the
scheduler, pytest-xdist issue 1386.)

Built here, every chapter is executed afresh into an empty cache (by
``book/_ext/execute_chapters.py``, several side by side, as ``make book`` does), then the
build reads them from there (``execute_notebooks: cache``). Warnings and broken references
are errors (``-W -n --keep-going``), and a raising cell fails the build: a chapter that raised
is not cached, so the build executes it itself; myst-nb shows its traceback (``show_tb``),
saves it in ``html/reports`` and warns, and ``book/_ext/notebook_downloads.py`` stops the
build. The strict settings live in a derived copy of ``_config.yml`` written next to the
build, never in the file itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
JUPYTER_BOOK = Path(sys.executable).with_name("jupyter-book")
#: The jupytext header that makes a MyST markdown file a notebook, for the chapters tests write.
MYST_NOTEBOOK_HEADER = """\
---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---
"""
#: The test modules that take longest, slowest first (``make test`` on a 2-core machine):
#: collected before all others, so that pytest-xdist hands them out first.
SLOWEST_FIRST = ("test_site.py", "test_notebooks.py", "test_book.py")
#: Where the session's strict build goes; its ``html/reports`` keep the execution logs.
TEST_BUILD = ROOT / "_build" / "test"
EXECUTE_CHAPTERS = ROOT / "book" / "_ext" / "execute_chapters.py"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: each module keeps its order


def strict_config(source: Path, dest: Path, cache: Path) -> Path:
    """Write ``source/_config.yml`` with failing-loud execution from the fresh ``cache`` to ``dest``; return it."""
    config = yaml.safe_load((source / "_config.yml").read_text())
    execute = config.setdefault("execute", {})
    execute.update(execute_notebooks="cache", raise_on_error=False, show_tb=True, allow_errors=False)
    execute["cache"] = str(cache)
    # paths that jupyter-book resolves against the config file's folder must keep pointing into the book
    local = config.get("sphinx", {}).get("local_extensions") or {}
    for name, path in local.items():
        local[name] = str((source / path).resolve())
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(yaml.safe_dump(config, sort_keys=False))
    return dest


def strict_build(source: Path, out: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Build the book in ``source`` into ``out/html`` from scratch, strictly; return the finished process.

    ``out`` is emptied first. The process's ``stdout`` holds Sphinx's output and
    ``stderr`` its warnings and errors. ``env`` adds to the environment (a test may set
    what a careless machine would).
    """
    shutil.rmtree(out, ignore_errors=True)
    cache = out / "_build" / ".jupyter_cache"
    config = strict_config(source, out / "_config.strict.yml", cache)
    extra = env
    env = {**os.environ, "FASHION_MNIST_ROOT": os.environ.get("FASHION_MNIST_ROOT", str(ROOT / "data"))}
    env.pop("MPLBACKEND", None)  # the book's figures need the inline backend
    env.update(extra or {})
    pre = [sys.executable, str(EXECUTE_CHAPTERS), "--cache", str(cache), "--root", str(source)]
    executed = subprocess.run(pre, capture_output=True, text=True, env=env, cwd=source)
    if executed.returncode != 0:
        return executed
    cmd = [str(JUPYTER_BOOK), "build", str(source), "--config", str(config), "--path-output", str(out)]
    cmd += ["--all", "-W", "-n", "--keep-going"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=source)
    proc.stdout = executed.stdout + proc.stdout  # the chapters' execution times come first
    return proc


def build_failure(proc: subprocess.CompletedProcess[str]) -> str:
    """The end of a failed build's output, for an assertion message."""
    out, err = proc.stdout[-6000:], proc.stderr[-6000:]
    return f"exit status {proc.returncode}\n--- stdout (end) ---\n{out}\n--- stderr (end) ---\n{err}"


@pytest.fixture(scope="session")
def build_book() -> Callable[[Path, Path], subprocess.CompletedProcess[str]]:
    """The strict build as a function ``build_book(source, out)``, for building copies of the book."""
    return strict_build


#: Names the HTML folder of a strict build already made (``make test`` sets it to ``make book``'s).
BOOK_HTML = "BOOK_HTML"


@pytest.fixture(scope="session")
def book_html() -> Path:
    """The HTML folder of the real book, built strictly: ``$BOOK_HTML``, or else built here once.

    ``$BOOK_HTML`` must name the ``html`` folder of a finished build (``make test`` passes
    ``_build/html`` after ``make book``), beside its ``jupyter_execute`` folder. Without it the
    book is built here from scratch into ``_build/test``; a failing build fails every test that
    uses it with the build's output, and its execution reports stay in
    ``_build/test/_build/html/reports``.
    """
    given = os.environ.get(BOOK_HTML)
    if given:
        html = Path(given).resolve()
        missing = [p for p in (html / "index.html", html.parent / "jupyter_execute") if not p.exists()]
        if missing:
            pytest.fail(
                f"{BOOK_HTML}={given} is not the html folder of a finished build (no {', '.join(map(str, missing))}); "
                "run `make book`, or unset it to build the book here",
                pytrace=False,
            )
        return html
    if os.environ.get("PYTEST_XDIST_WORKER"):
        pytest.fail(
            f"under pytest-xdist the book is built once, before the tests: run `make book` and set "
            f"{BOOK_HTML}=_build/html (as `make test` does), or run pytest in one process",
            pytrace=False,
        )
    proc = strict_build(ROOT, TEST_BUILD)
    if proc.returncode != 0:
        pytest.fail("the strict book build failed\n" + build_failure(proc), pytrace=False)
    return TEST_BUILD / "_build" / "html"
