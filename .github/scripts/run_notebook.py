"""Run one committed notebook as a reader does, in an environment that has only nbclient and ipykernel.

Used by ``.github/workflows/notebooks.yml``. Nothing of the book is imported or installed: the
notebook's own install cell must install the package (``git+<repository>@<commit>``) and with it
everything the notebook needs. A student notebook (``notebooks/<chapter>-student.ipynb``) runs
with the worked solutions of its chapter (``book/<chapter>.md``, the code cells tagged
``solution``, in order) in place of its TODO skeletons, as a reader who has done the exercises.

    python run_notebook.py --list notebooks             # GitHub's output line: notebooks=[...]
    python run_notebook.py NOTEBOOK --chapters book --cwd DIR --out EXECUTED.ipynb

It needs only the standard library to list, and nbclient (with nbformat) to run.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

STUDENT_SUFFIX = "-student"
FENCE = re.compile(r"^(`{3,})\{code-cell\}")
TAGS_OPTION = re.compile(r"^:tags:\s*\[(.*)\]\s*$")
TAGS_YAML = re.compile(r"^tags:\s*\[(.*)\]\s*$")


def notebooks(folder: Path) -> list[str]:
    """Every notebook in ``folder``, as posix paths relative to the folder's parent, sorted."""
    found = sorted(path for path in folder.glob("*.ipynb") if path.is_file())
    if not found:
        raise SystemExit(f"no notebooks in {folder}")
    return [path.relative_to(folder.parent).as_posix() for path in found]


def code_cells(text: str) -> list[tuple[list[str], str]]:
    """The code cells of a MyST markdown notebook (jupytext's ``md:myst``): each as (tags, source)."""
    lines = text.splitlines()
    cells, i = [], 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        i += 1
        if not fence:
            continue
        tags: list[str] = []
        if i < len(lines) and lines[i].strip() == "---":  # options as a YAML block
            end = lines.index("---", i + 1)
            for option in lines[i + 1 : end]:
                match = TAGS_YAML.match(option.strip())
                tags += [t.strip() for t in match[1].split(",")] if match else []
            i = end + 1
        else:
            while i < len(lines) and lines[i].startswith(":"):  # options as `:name: value` lines
                match = TAGS_OPTION.match(lines[i])
                tags += [t.strip() for t in match[1].split(",")] if match else []
                i += 1
        body = []
        while i < len(lines) and lines[i] != fence[1]:
            body.append(lines[i])
            i += 1
        if i == len(lines):
            raise ValueError(f"a code cell is not closed by {fence[1]}")
        i += 1
        cells.append(([t for t in tags if t], "\n".join(body).strip("\n")))
    return cells


def solutions(chapter: Path) -> list[str]:
    """The worked solutions of a chapter, in order: its code cells tagged ``solution``."""
    return [source for tags, source in code_cells(chapter.read_text(encoding="utf8")) if "solution" in tags]


def with_solutions(nb: dict, worked: list[str], where: str) -> dict:
    """The student notebook with each worked solution, in order, in place of its TODO skeleton."""
    skeletons = [c for c in nb["cells"] if "skeleton" in c.get("metadata", {}).get("tags", [])]
    if not skeletons or len(skeletons) != len(worked):
        raise SystemExit(f"{where}: {len(skeletons)} skeletons but {len(worked)} worked solutions in its chapter")
    for cell, source in zip(skeletons, worked, strict=True):
        cell["source"] = source
    return nb


def chapter_of(notebook: Path, chapters: Path) -> Path:
    stem = notebook.stem.removesuffix(STUDENT_SUFFIX)
    found = sorted(chapters.rglob(f"{stem}.md"))
    if len(found) != 1:
        raise SystemExit(f"{notebook}: expected one chapter {stem}.md under {chapters}, found {len(found)}")
    return found[0]


def run(notebook: Path, chapters: Path, cwd: Path, out: Path, timeout: int) -> None:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(notebook, as_version=4)
    if notebook.stem.endswith(STUDENT_SUFFIX):
        nb = with_solutions(nb, solutions(chapter_of(notebook, chapters)), str(notebook))
    if not any("install" in c.get("metadata", {}).get("tags", []) for c in nb.cells):
        raise SystemExit(f"{notebook} has no install cell")
    cwd.mkdir(parents=True, exist_ok=True)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}})
    try:
        client.execute()
    except CellExecutionError as err:
        print(f"{notebook} failed:\n{err}", file=sys.stderr)
        raise SystemExit(1) from None
    finally:
        out.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, out)
    print(f"{notebook} ran; executed copy in {out}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebook", nargs="?", type=Path, help="the notebook to run")
    parser.add_argument("--list", type=Path, metavar="FOLDER", help="print notebooks=<JSON list> for GITHUB_OUTPUT")
    parser.add_argument("--chapters", type=Path, default=Path("book"), help="where the chapters are")
    parser.add_argument("--cwd", type=Path, help="the folder the notebook runs in (default: a new one)")
    parser.add_argument("--out", type=Path, help="where to write the executed notebook")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds a cell may take")
    args = parser.parse_args(argv)
    if args.list is not None:
        print("notebooks=" + json.dumps(notebooks(args.list)))
        return 0
    if args.notebook is None or not args.notebook.is_file():
        parser.error(f"no notebook to run: {args.notebook}")
    cwd = args.cwd or Path.cwd() / "run"
    run(args.notebook, args.chapters, cwd, args.out or cwd / args.notebook.name, args.timeout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
