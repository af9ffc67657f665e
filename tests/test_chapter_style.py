"""The book's code cells fit the page.

The book's code column shows about 78 characters; a longer line gets a horizontal
scrollbar and hides its end. Long cells are hard to follow in a chapter, so a visible
cell stays short too. "Visible" is every code cell that the page shows, folded or not:
cells tagged ``remove-cell`` or ``remove-input`` are left out, ``hide-input`` cells count
(readers expand them).
"""

from __future__ import annotations

from pathlib import Path

import jupytext
import pytest
from conftest import MYST_NOTEBOOK_HEADER

BOOK = Path(__file__).resolve().parents[1] / "book"
MAX_LINE = 78
MAX_CELL_LINES = 12
HIDDEN_TAGS = {"remove-cell", "remove-input"}
#: Visible cells allowed more than MAX_CELL_LINES lines: (chapter file name, first line) -> reason. None needed.
LONG_CELL_EXCEPTIONS: dict[tuple[str, str], str] = {}

CHAPTERS = sorted(BOOK.glob("*.md"))


def visible_code_cells(path: Path) -> list[str]:
    """The sources of the code cells of the chapter at ``path`` that its page shows."""
    nb = jupytext.read(path)
    return [
        cell.source
        for cell in nb.cells
        if cell.cell_type == "code" and not HIDDEN_TAGS & set(cell.metadata.get("tags", []))
    ]


def style_problems(path: Path) -> list[str]:
    """One message per visible code line longer than MAX_LINE and per visible cell longer than MAX_CELL_LINES."""
    problems = []
    for source in visible_code_cells(path):
        lines = source.splitlines()
        for line in lines:
            if len(line) > MAX_LINE:
                problems.append(f"{path.name}: line of {len(line)} > {MAX_LINE} characters: {line}")
        first = lines[0] if lines else ""
        if len(lines) > MAX_CELL_LINES and (path.name, first) not in LONG_CELL_EXCEPTIONS:
            problems.append(f"{path.name}: cell of {len(lines)} > {MAX_CELL_LINES} lines, starting: {first}")
    return problems


def test_the_book_has_chapters_with_visible_code():
    assert CHAPTERS, f"no chapters found in {BOOK}"
    assert sum(len(visible_code_cells(path)) for path in CHAPTERS) > 20


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda path: path.name)
def test_visible_code_fits_the_page(path):
    problems = style_problems(path)
    assert not problems, "\n".join(problems)


CHAPTER_HEADER = (
    MYST_NOTEBOOK_HEADER
    + """
# A tiny chapter

"""
)


def write_chapter(tmp_path: Path, *cells: tuple[str, str]) -> Path:
    """A chapter with one code cell per (tags line, source) pair; an empty tags line means no tags."""
    body = ""
    for tag_line, source in cells:
        options = f"{tag_line}\n\n" if tag_line else ""
        body += f"```{{code-cell}} ipython3\n{options}{source}\n```\n\n"
    path = tmp_path / "tiny.md"
    path.write_text(CHAPTER_HEADER + body)
    return path


def test_checker_reports_a_long_line_in_a_visible_or_folded_cell(tmp_path):
    long_line = "x = " + "1 + " * 20 + "1"
    assert len(long_line) == 85
    path = write_chapter(tmp_path, ("", "y = 2"), (":tags: [hide-input]", long_line))
    problems = style_problems(path)
    assert problems == [f"tiny.md: line of {len(long_line)} > 78 characters: {long_line}"]


def test_checker_reports_a_long_cell(tmp_path):
    source = "\n".join(f"x{i} = {i}" for i in range(13))
    problems = style_problems(write_chapter(tmp_path, ("", source)))
    assert problems == ["tiny.md: cell of 13 > 12 lines, starting: x0 = 0"]


def test_checker_accepts_limits_and_ignores_removed_cells(tmp_path):
    at_limit = "x = " + "1" * 74
    twelve = "\n".join(f"x{i} = {i}" for i in range(12))
    long_line = "y = " + "2" * 80
    path = write_chapter(
        tmp_path,
        ("", at_limit),
        ("", twelve),
        (":tags: [remove-cell]", long_line),
        (":tags: [remove-input]", long_line),
    )
    assert style_problems(path) == []
