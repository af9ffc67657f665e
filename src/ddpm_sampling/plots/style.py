"""The book's style: one palette, the rcParams of every figure, and where a helper draws.

Each plot helper draws on the ``ax`` or ``axes`` it is given, or into the figure or subfigure
``fig`` where it lays out panels of its own (a new figure of the right size when they are
``None``), returns the figure and never shows it: showing is the chapter's business. Given axes
must be as many as the helper draws, in the grid it draws them in; anything else is a
``ValueError`` that says what is needed (:func:`axes_grid`).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import cycler
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure

from .. import _checks as check

#: The book's one palette: a plot's series take its colors in this order (the first sampler,
#: model or curve blue, the second red, ...), so one sampler keeps its color across a chapter.
PALETTE = ("#0969da", "#cf222e", "#1a7f37", "#8250df", "#bf8700")
#: Each reverse-step coefficient's color from :data:`PALETTE`, the same in every chapter.
COEFFICIENT_COLORS = {"gain": PALETTE[0], "eps_coef": PALETTE[1], "sigma": PALETTE[2], "scale": PALETTE[3]}
#: The gray of what a plot compares against: reference and threshold lines, notes.
GRAY = "#57606a"
#: A lighter gray, for marks that stay behind the data (a marked timestep, a second curve).
LIGHT_GRAY = "#6e7781"
#: The color of text.
INK = "#1f2328"


#: The rcParams of every figure of the book. A white background and dark ink read in the
#: light theme and inside the light box that the dark theme draws around images; a line
#: drawn without a color takes the next of :data:`PALETTE`.
BOOK_STYLE = {
    "axes.prop_cycle": cycler(color=PALETTE),
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "text.color": INK,
    "axes.labelcolor": INK,
    "axes.edgecolor": GRAY,
    "xtick.color": GRAY,
    "ytick.color": GRAY,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "figure.titlesize": 13,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "figure.constrained_layout.use": True,
}


def use_book_style() -> None:
    """Apply :data:`BOOK_STYLE` to every later figure of this process."""
    plt.rcParams.update(BOOK_STYLE)


def figure_of(ax: Axes) -> Figure:
    """The whole figure ``ax`` is drawn in (the one a chapter saves), even inside a subfigure."""
    return ax.figure.figure


def axes_grid(
    axes: object, nrows: int, ncols: int, figsize: tuple[float, float], name: str = "axes", **subplots
) -> tuple[Figure, np.ndarray]:
    """An (nrows, ncols) array of Axes and their figure: the given ``axes``, or new ones in a figure of ``figsize``.

    ``axes`` may be an array or nested lists of that shape, or a flat sequence when ``nrows`` is 1.
    Another shape is a ``ValueError`` naming the shape needed (a helper never draws on fewer axes
    than it has images, nor leaves some out); anything but Axes in it a ``TypeError``.
    """
    if axes is None:
        with plt.rc_context(BOOK_STYLE):
            fig, grid = plt.subplots(nrows, ncols, figsize=figsize, squeeze=False, **subplots)
        return fig, grid
    try:
        grid = np.asarray(axes, dtype=object)
    except ValueError:  # lists of different lengths
        grid = np.empty(0, dtype=object)
    if grid.ndim <= 1 and nrows == 1:
        grid = grid.reshape(1, -1)
    if grid.shape != (nrows, ncols):
        flat = f" (or a list of {ncols})" if nrows == 1 and ncols > 1 else ""
        raise ValueError(
            f"{name} must be {nrows} x {ncols} matplotlib Axes{flat} here, got {grid.size} in shape {grid.shape}"
        )
    for ax in grid.flat:
        if not isinstance(ax, Axes):
            raise TypeError(f"{name} must hold matplotlib Axes, got {check.describe(ax)}")
    return figure_of(grid[0, 0]), grid


def one_axes(ax: object, figsize: tuple[float, float]) -> Axes:
    """The given ``ax``, or the one Axes of a new figure of ``figsize``."""
    return axes_grid(ax, 1, 1, figsize, name="ax")[1][0, 0]


def figure_to_draw_in(fig: object, figsize: tuple[float, float]) -> Figure | SubFigure:
    """The given figure or subfigure, or a new figure of ``figsize`` (call inside the book's style)."""
    if fig is None:
        return plt.figure(figsize=figsize)
    if not isinstance(fig, (Figure, SubFigure)):
        raise TypeError(f"fig must be a matplotlib Figure or SubFigure, got {check.describe(fig)}")
    return fig
