"""Small helpers that keep the book's cells short: seeded generators, the MSE, a table
that renders in a notebook and on the page, and a word that the page shows without quotes.

Gluing values and figures into the book's pages is the build's business, not the package's:
see ``book/_ext/glue_helpers.py``.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

import torch
from torch import Tensor

from . import _checks as check


def seeded(seed: int) -> torch.Generator:
    """A fresh CPU ``torch.Generator`` seeded with ``seed``: every random draw of the book goes through one.

    ``seed`` is an int (Python or NumPy) in 0..2**64 - 1, the range ``manual_seed`` takes.
    """
    return torch.Generator().manual_seed(check.count(seed, "seed", 0, 2**64 - 1))


def mse(a: Tensor, b: Tensor) -> float:
    """The mean squared difference of two tensors of the same shape, as a Python float, computed in float64.

    ``a`` and ``b`` are non-empty tensors of finite values, of any floating or integer dtype (each
    is converted to float64, so the two dtypes may differ), on the same device.
    """
    for x, name in ((a, "a"), (b, "b")):
        if not isinstance(x, Tensor) or x.dtype == torch.bool or x.dtype.is_complex:
            raise TypeError(f"{name} must be a tensor of real numbers, got {check.describe(x)}")
        if x.numel() == 0:
            raise ValueError(f"{name} is empty; the mean of no differences is undefined")
        check.finite(x.double(), name)
    check.same_shape(a, b, "a", "b")
    result = float(((a.double() - b.double()) ** 2).mean())
    if not math.isfinite(result):
        raise ValueError("a and b differ by more than float64 can square; their mean squared difference overflows")
    return result


class Table:
    """Rows of values under a header, shown as an HTML table in notebooks and in the book.

    ``formats`` gives one format spec per column (e.g. ``"d"``, ``".6f"``).
    """

    def __init__(self, header: Sequence[str], rows: Sequence[Sequence[object]], formats: Sequence[str]):
        if len(header) != len(formats) or any(len(row) != len(header) for row in rows):
            raise ValueError(f"every row and the formats need {len(header)} entries, one per column of the header")
        self.header, self.formats = list(header), list(formats)
        self.rows = [[format(value, spec) for value, spec in zip(row, formats)] for row in rows]

    def _repr_html_(self) -> str:
        # plain HTML: how the book's site styles it is the site's business (book/_ext/site_assets.py)
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.header)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in row) + "</tr>" for row in self.rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    def __repr__(self) -> str:
        widths = [max(len(h), *(len(r[i]) for r in self.rows)) for i, h in enumerate(self.header)]
        lines = [" | ".join(h.rjust(w) for h, w in zip(self.header, widths))]
        lines += [" | ".join(v.rjust(w) for v, w in zip(row, widths)) for row in self.rows]
        return "\n".join(lines)


class Word(str):
    """A string whose repr is itself, so that a value glued into the page's prose (a class name,
    say) shows without quotes."""

    def __repr__(self) -> str:
        return str(self)
