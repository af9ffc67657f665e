"""The book's citations and its bibliography agree, checked without a build.

The chapters cite with sphinxcontrib-bibtex roles (``{cite:p}`key```, ``{cite:t}`key```,
several keys separated by commas, each with optional ``{pre}`` and ``{post}`` text) and the
References page lists ``book/references.bib``. Every cited key must be in that file (the
strict build fails on a missing one too, but only after executing every chapter), and every
entry of the file must be cited somewhere, so that the References page lists only what the
book relies on. And no chapter writes a citation out as text ("Ho et al., 2020"), which would
neither link to the References page nor be checked.
"""

from __future__ import annotations

import re
import shutil
from collections import Counter
from pathlib import Path

import yaml
from conftest import ROOT

BOOK = ROOT / "book"
BIB = BOOK / "references.bib"
#: A citation role and its target: {cite}, {cite:p}, {cite:t}, {cite:ps}, {footcite:t}, ...
CITE_ROLE = re.compile(r"\{(?:foot)?cite(?::\w+)*\}`([^`]*)`")
#: The {pre} and {post} text around a key in a role's target.
PRE_POST = re.compile(r"\{[^{}]*\}")
#: The start of a bibliography entry, "@inproceedings{key,"; @string, @preamble and @comment are no entries.
ENTRY = re.compile(r"^@(?!(?:string|preamble|comment)\b)\w+\s*\{\s*([^,\s]+)\s*,", re.MULTILINE | re.IGNORECASE)
#: A citation written out instead of a role: "Ho et al., 2020", "Nichol & Dhariwal 2021", "Wu and He (2018)".
WRITTEN_CITATION = re.compile(r"\b[A-Z][\w-]+(?: et al\.| (?:and|&) [A-Z][\w-]+),? \(?(?:19|20)\d\d\b")


def role_keys(target: str) -> list[str]:
    """The keys of one role's target: ``{see}a{p. 3}, b`` -> ``["a", "b"]``."""
    return [key.strip() for key in PRE_POST.sub("", target).split(",") if key.strip()]


def cited_keys(book: Path) -> dict[str, list[str]]:
    """Each key cited in ``book/*.md`` -> the files that cite it, in order."""
    cited: dict[str, list[str]] = {}
    for path in sorted(book.glob("*.md")):
        for match in CITE_ROLE.finditer(path.read_text()):
            for key in role_keys(match.group(1)):
                files = cited.setdefault(key, [])
                if path.name not in files:
                    files.append(path.name)
    return cited


def bib_keys(bib: Path) -> list[str]:
    """The keys of the entries of ``bib``, in file order (a repeated key appears twice)."""
    return ENTRY.findall(bib.read_text())


def citation_problems(book: Path, bib: Path) -> list[str]:
    """One message per cited key missing from ``bib``, per entry cited nowhere and per repeated key."""
    cited = cited_keys(book)
    entries = bib_keys(bib)
    known = set(entries)
    problems = [
        f"{', '.join(files)}: cites {key!r}, which is not in {bib.name}"
        for key, files in cited.items()
        if key not in known
    ]
    problems += [f"{bib.name}: {key!r} is cited in no chapter" for key in entries if key not in cited]
    problems += [f"{bib.name}: {key!r} has {n} entries" for key, n in Counter(entries).items() if n > 1]
    return problems


def written_citations(book: Path) -> list[str]:
    """One message per citation in ``book/*.md`` written as text, which neither links nor is checked."""
    return [
        f"{path.name}:{number}: {match.group(0)!r} is written out; cite with a {{cite:p}} or {{cite:t}} role"
        for path in sorted(book.glob("*.md"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        for match in WRITTEN_CITATION.finditer(line)
    ]


def test_every_citation_has_an_entry_and_every_entry_is_cited():
    assert cited_keys(BOOK), "no citation roles found in the chapters"
    problems = citation_problems(BOOK, BIB)
    assert not problems, "\n".join(problems)


def test_no_chapter_writes_a_citation_out():
    problems = written_citations(BOOK)
    assert not problems, "\n".join(problems)


def test_the_book_is_configured_to_list_the_bibliography():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["bibtex_bibfiles"] == ["book/references.bib"]
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [chapter["file"] for part in toc["parts"] for chapter in part["chapters"]]
    assert "book/references" in files
    assert "```{bibliography}" in (BOOK / "references.md").read_text()


def test_role_keys_reads_several_keys_and_skips_pre_and_post_text():
    assert role_keys("ho2020denoising") == ["ho2020denoising"]
    assert role_keys("ho2020denoising{Algorithm 2}") == ["ho2020denoising"]
    assert role_keys('{see}a{"the ideal denoiser"}, b ,c{p. 3}') == ["a", "b", "c"]


def book_copy(tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the chapters and the bibliography in ``tmp_path/book``; returns (book, bib)."""
    book = tmp_path / "book"
    book.mkdir()
    for path in BOOK.glob("*.md"):
        shutil.copy(path, book)
    shutil.copy(BIB, book)
    return book, book / BIB.name


def test_the_check_reports_a_cited_key_that_is_not_in_the_bibliography(tmp_path):
    book, bib = book_copy(tmp_path)
    assert citation_problems(book, bib) == []
    (book / "planted.md").write_text("# Planted\n\nAs shown before {cite:p}`ho2020denoising, nosuchkey2099{sec. 2}`.\n")
    assert citation_problems(book, bib) == ["planted.md: cites 'nosuchkey2099', which is not in references.bib"]


def test_the_check_reports_an_entry_that_no_chapter_cites_and_a_repeated_key(tmp_path):
    book, bib = book_copy(tmp_path)
    entry = "\n@misc{uncited2001,\n  author = {Nobody, Anne},\n  title = {Unused},\n  year = {2001},\n}\n"
    repeated = "\n@misc{xiao2017fashion,\n  title = {Again},\n  year = {2017},\n}\n"
    bib.write_text(bib.read_text() + entry + repeated)
    assert citation_problems(book, bib) == [
        "references.bib: 'uncited2001' is cited in no chapter",
        "references.bib: 'xiao2017fashion' has 2 entries",
    ]


def test_the_check_reports_a_citation_written_out(tmp_path):
    book, _ = book_copy(tmp_path)
    assert written_citations(book) == []
    (book / "planted.md").write_text(
        "# Planted\n\nThe schedule of Improved DDPM (Nichol & Dhariwal, 2021) and\nof Karras et al. 2022.\n"
    )
    assert written_citations(book) == [
        "planted.md:3: 'Nichol & Dhariwal, 2021' is written out; cite with a {cite:p} or {cite:t} role",
        "planted.md:4: 'Karras et al. 2022' is written out; cite with a {cite:p} or {cite:t} role",
    ]
