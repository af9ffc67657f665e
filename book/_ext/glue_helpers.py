"""How a chapter's cells hand values and figures to its page: myst-nb's ``glue``, and ``glue_figure``.

The chapters import them as ``from _ext.glue_helpers import glue, glue_figure``: they run with
``book/`` as their working directory, in the book's kernels and on Binder. This is build
plumbing, not part of the package that readers import: the notebooks made for readers
(``reader_notebooks.py``) drop the import, drop the cells and statements that only glue, and
show each glued figure where its cell runs.

Without myst-nb (a chapter opened as a notebook on Binder) there is no page to glue to:
``glue`` then shows the value if asked to, and ``glue_figure`` shows the figure.
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
from IPython.display import display as show
from matplotlib.figure import Figure

from ddpm_sampling.plots import small_text

try:
    from myst_nb import glue as _myst_glue
except ImportError:  # no book build here: nothing reads the glued values
    _myst_glue = None

__all__ = ["glue", "glue_figure"]


def glue(name: str, value: Any, display: bool = True) -> None:
    """Glue ``value`` under ``name`` for the page's ``{glue:text}`` roles and ``{glue}`` directives (myst-nb)."""
    if _myst_glue is not None:
        _myst_glue(name, value, display=display)
    elif display:
        show(value)


def glue_figure(name: str, fig: Figure) -> None:
    """Glue ``fig`` under ``name`` for a ``{glue:figure}`` with a caption, and close it so
    that the cell does not show it a second time.

    Raises ``ValueError`` if any text of the figure would appear smaller than
    :data:`ddpm_sampling.plots.MIN_TEXT_PX` pixels on the page (see
    :func:`ddpm_sampling.plots.small_text`): the build fails rather than print it unreadable.
    """
    too_small = small_text(fig)
    if too_small:
        plt.close(fig)
        raise ValueError(f"figure {name!r} has text too small to read on the page: {', '.join(too_small)}")
    if _myst_glue is not None:
        _myst_glue(name, fig, display=False)
    else:
        show(fig)
    plt.close(fig)
