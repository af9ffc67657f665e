"""Author-year citations in round brackets, and a reference list labelled the same way.

sphinxcontrib-bibtex's ``author_year`` style writes ``[Ho et al., 2020]`` and ``Karras et al. [2022]``, and
pybtex's styles label the reference list ``[1]`` or ``[HJA20]``, which no citation in the text mentions. This
registers the two styles that ``_config.yml`` selects: ``author_year_round`` (``bibtex_reference_style``), in
which ``{cite:p}`ho2020denoising{Algorithm 2}``` gives (Ho et al., 2020, Algorithm 2), ``{cite:t}`` gives
Karras et al. (2022) and several works in one citation are separated by semicolons; and ``plain_author_year``
(``bibtex_default_style``), pybtex's ``plain`` (sorted by author, year, title) with each entry labelled as the
text cites it, "Ho et al., 2020".
"""

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

import pybtex.plugin
from pybtex.database import Entry
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle
from sphinx.application import Sphinx
from sphinxcontrib.bibtex.plugin import register_plugin
from sphinxcontrib.bibtex.style.referencing import BracketStyle
from sphinxcontrib.bibtex.style.referencing.author_year import AuthorYearReferenceStyle

REFERENCE_STYLE = "author_year_round"
LIST_STYLE = "plain_author_year"


class RoundAuthorYearStyle(AuthorYearReferenceStyle):
    """``author_year`` with round brackets and "; " between the works of one citation."""

    def __post_init__(self) -> None:
        for kind in ("textual", "parenthetical", "author", "label", "year"):
            setattr(self, f"bracket_{kind}", BracketStyle(left="(", right=")", sep="; "))
        super().__post_init__()


def author_year(entry: Entry) -> tuple[str, str]:
    """The authors and the year of an entry as the text cites them: ("Ho et al.", "2020"),
    ("Nichol and Dhariwal", "2021"). The readers' notebooks write their citations with it too."""
    names = [" ".join(p.prelast_names + p.last_names).strip("{}") for p in entry.persons["author"]]
    authors = names[0] if len(names) == 1 else " and ".join(names) if len(names) == 2 else f"{names[0]} et al."
    return authors, entry.fields["year"]


class AuthorYearLabelStyle(BaseLabelStyle):
    """Author-year labels; a label that two entries share gets a, b, ... appended."""

    def format_labels(self, sorted_entries: Iterable[Entry]) -> Iterator[str]:
        labels = [", ".join(author_year(entry)) for entry in sorted_entries]  # "Ho et al., 2020"
        count, seen = Counter(labels), Counter()
        for label in labels:
            yield label if count[label] == 1 else label + chr(ord("a") + seen[label])
            seen[label] += 1


class PlainAuthorYearStyle(PlainStyle):
    default_label_style = LIST_STYLE


def setup(app: Sphinx) -> dict[str, Any]:
    # Both are looked up by name when the builder starts, after every extension's setup().
    register_plugin("sphinxcontrib.bibtex.style.referencing", REFERENCE_STYLE, RoundAuthorYearStyle, force=True)
    pybtex.plugin.register_plugin("pybtex.style.labels", LIST_STYLE, AuthorYearLabelStyle, force=True)
    pybtex.plugin.register_plugin("pybtex.style.formatting", LIST_STYLE, PlainAuthorYearStyle, force=True)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
