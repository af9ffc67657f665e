"""Images: one, a row, a grid, a trajectory (strip or animation), samples beside their nearest
training images, and bands of labelled batches.

Images are drawn in gray with the data range [-1, 1] mapped to black..white; noisy images go
beyond that range and are drawn saturated (the data is not changed).
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure
from torch import Tensor

from .. import _checks as check
from . import read
from .style import BOOK_STYLE, axes_grid, figure_of, figure_to_draw_in, one_axes


def show_image(img: Tensor, title: str = "", ax: Axes | None = None) -> Figure:
    """Draw one gray image in [-1, 1], (1, H, W) or (H, W), without ticks."""
    hw = read.gray_image(img)
    if not isinstance(title, str):
        raise TypeError(f"title must be a str, got {check.describe(title)}")
    ax = one_axes(ax, (2.2, 2.8))
    ax.imshow(hw.numpy(), cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
    ax.set_title(title)
    ax.set_axis_off()
    return figure_of(ax)


def image_row(
    images: Sequence[Tensor],
    titles: Sequence[str] | None = None,
    suptitle: str | None = None,
    axes: Sequence[Axes] | None = None,
    size: float = 2.2,
) -> Figure:
    """Images side by side, each (1, H, W) or (H, W), with a title under the figure's title.

    ``axes``: one per image; ``size``: the width of each image in inches, a number > 0.
    """
    images = [read.gray_image(img, f"images[{i}]") for i, img in enumerate(read.images(images))]
    titles = read.image_titles(titles, len(images))
    size = check.positive(size, "size", ": the width of each image in inches")
    fig, grid = axes_grid(axes, 1, len(images), (size * len(images), size + 0.6))
    for ax, img, title in zip(grid[0], images, titles):
        show_image(img, title, ax=ax)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def image_grid(
    images: Sequence[Tensor],
    titles: Sequence[str] | None = None,
    ncols: int = 5,
    suptitle: str | None = None,
    axes: Sequence[Sequence[Axes]] | None = None,
) -> Figure:
    """Images in a grid of ``ncols`` columns, each with its title; ``axes``: that grid, rows x ncols."""
    ncols = check.count(ncols, "ncols")
    images = [read.gray_image(img, f"images[{i}]") for i, img in enumerate(read.images(images))]
    titles = read.image_titles(titles, len(images))
    nrows = -(-len(images) // ncols)
    width = min(1.9, 7.5 / ncols)  # at most the page's width
    fig, grid = axes_grid(axes, nrows, ncols, (width * ncols, (width + 0.2) * nrows))
    for ax in grid.flat:
        ax.set_axis_off()
    for ax, img, title in zip(grid.flat, images, titles):
        show_image(img, title, ax=ax)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def trajectory_strip(
    snapshots: dict[int, Tensor],
    x0_hats: dict[int, Tensor] | None = None,
    suptitle: str | None = None,
    axes: Sequence[Sequence[Axes]] | None = None,
) -> Figure:
    """The images x_t at each snapshot time from left (noisy) to right, and optionally the
    predicted clean image at the same times beneath them. Unbatched images only.

    Sized for the page's width (about 7.5 inches for nine snapshots) so that the titles
    are not shrunk: each column is titled with its t, each row labelled on the left.
    ``axes``: one row (two with ``x0_hats``) of one Axes per snapshot.
    """
    snapshots, x0_hats, ts = read.trajectory(snapshots, x0_hats, "the strip needs at least one image")
    rows = 1 if x0_hats is None else 2
    fig, axes = axes_grid(axes, rows, len(ts), (0.8 * len(ts) + 0.5, 0.95 * rows + 0.55))
    for i, t in enumerate(ts):
        show_image(snapshots[t], f"t={t}", ax=axes[0, i])
        if x0_hats is not None:
            show_image(x0_hats[t], ax=axes[1, i])
    labels = ["$x_t$", r"$\hat x_0$"][:rows]
    for row, label in enumerate(labels):
        axes[row, 0].text(-0.12, 0.5, label, transform=axes[row, 0].transAxes, ha="right", va="center", fontsize=12)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def trajectory_animation(
    snapshots: dict[int, Tensor],
    x0_hats: dict[int, Tensor] | None = None,
    interval: int = 250,
    size: float = 1.9,
    dpi: int = 72,
) -> str:
    """The trajectory as an HTML animation (play, pause, scrub) that needs no kernel: every
    frame is a PNG inside its own JavaScript (matplotlib's ``to_jshtml``).

    One frame per snapshot, noisiest first; with ``x0_hats``, the predicted clean image
    at the same time is drawn beside x_t. Keep to a few dozen frames: each one is stored
    in the HTML. Returns the HTML, for ``IPython.display.HTML``.
    """
    from matplotlib.animation import FuncAnimation

    snapshots, x0_hats, ts = read.trajectory(snapshots, x0_hats, "the animation needs at least one frame")
    for t in ts:  # every frame is read before the first is drawn
        read.gray_image(snapshots[t], f"snapshots[{t}]")
        if x0_hats is not None:
            read.gray_image(x0_hats[t], f"x0_hats[{t}]")
    interval = check.count(interval, "interval", 1)  # milliseconds between frames
    size = check.positive(size, "size", ": the width of each image in inches")
    dpi = check.count(dpi, "dpi", 1)
    cols = 1 if x0_hats is None else 2
    with plt.rc_context({**BOOK_STYLE, "figure.dpi": dpi, "savefig.dpi": dpi}):
        fig, axes = plt.subplots(1, cols, figsize=(size * cols, size + 0.5), squeeze=False)
        axes = axes[0]

        def draw(i: int) -> list:
            t = ts[i]
            for ax in axes:
                ax.clear()
            show_image(snapshots[t], f"$x_{{{t}}}$", ax=axes[0])
            if x0_hats is not None:
                show_image(x0_hats[t], rf"$\hat x_0$ at t={t}", ax=axes[1])
            return list(axes)

        anim = FuncAnimation(fig, draw, frames=len(ts), interval=interval, blit=False)
        out = anim.to_jshtml(default_mode="once")
    plt.close(fig)
    return out


def sample_pairs(
    samples: Tensor,
    nearest: Tensor,
    top_titles: Sequence[str],
    bottom_titles: Sequence[str],
    ncols: int = 8,
    axes: Sequence[Sequence[Axes]] | None = None,
) -> Figure:
    """Each sample (B, 1, H, W) above its nearest training image, ``ncols`` pairs per band.

    ``axes``: (2 x bands) rows of ``ncols``, a band being one row of samples and one of their neighbours.
    """
    ncols = check.count(ncols, "ncols")
    for x, name in ((samples, "samples"), (nearest, "nearest")):
        check.tensor(x, name)
        if x.dim() != 4 or min(x.shape) == 0:
            raise ValueError(f"{name} must be a batch (B, 1, H, W) with B, H, W >= 1, got shape {tuple(x.shape)}")
    n = samples.shape[0]
    if nearest.shape != samples.shape:
        raise ValueError(f"need {n} nearest images of shape {tuple(samples.shape)}, got {tuple(nearest.shape)}")
    top_titles, bottom_titles = (
        read.titles(top_titles, n, "top_titles", "samples"),
        read.titles(bottom_titles, n, "bottom_titles", "samples"),
    )
    bands = -(-n // ncols)
    fig, axes = axes_grid(axes, 2 * bands, ncols, (0.92 * ncols, 2.5 * bands))
    for ax in axes.flat:
        ax.set_axis_off()
    for i in range(n):
        band, c = divmod(i, ncols)
        show_image(samples[i], top_titles[i], ax=axes[2 * band, c])
        show_image(nearest[i], bottom_titles[i], ax=axes[2 * band + 1, c])
        axes[2 * band, c].title.set_fontsize(9)
        axes[2 * band + 1, c].title.set_fontsize(9)
    return fig


def x0_hat_rows(
    x0_hats: dict[int, Tensor],
    rows: Sequence[int],
    row_labels: Sequence[str],
    suptitle: str | None = None,
    axes: Sequence[Sequence[Axes]] | None = None,
) -> Figure:
    """A grid of predicted clean images: one row per sample index in ``rows``, one column per t
    (from ``x0_hats``, each (B, 1, H, W)), the largest t on the left. ``axes``: that grid."""
    if not isinstance(x0_hats, dict) or not x0_hats:
        raise ValueError(f"x0_hats must be a non-empty dict {{t: (B, 1, H, W) images}}, got {check.describe(x0_hats)}")
    x0_hats = {check.count(t, "x0_hats key", 0): x for t, x in x0_hats.items()}
    batch = None
    for t, x in x0_hats.items():
        check.tensor(x, f"x0_hats[{t}]")
        if x.dim() != 4 or (batch is not None and x.shape[0] != batch):
            raise ValueError(f"x0_hats[{t}] must be a batch (B, 1, H, W) of one B for every t, got {tuple(x.shape)}")
        batch = x.shape[0]
    rows = [check.count(b, f"rows[{i}]", 0, batch - 1) for i, b in enumerate(read.sequence(rows, "rows"))]
    if not rows:
        raise ValueError("rows is empty; give at least one sample index")
    row_labels = read.titles(row_labels, len(rows), "row_labels", per="rows")
    ts = sorted(x0_hats, reverse=True)
    fig, axes = axes_grid(axes, len(rows), len(ts), (0.62 * len(ts) + 0.8, 0.75 * len(rows) + 0.6))
    for r, (b, label) in enumerate(zip(rows, row_labels)):
        for c, t in enumerate(ts):
            show_image(x0_hats[t][b], f"t={t}" if r == 0 else "", ax=axes[r, c])
            axes[r, c].title.set_fontsize(9)
        axes[r, 0].set_axis_on()
        axes[r, 0].set_xticks([])
        axes[r, 0].set_yticks([])
        axes[r, 0].grid(False)
        axes[r, 0].set_ylabel(label, fontsize=9, rotation=0, ha="right", va="center")
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def image_bands(
    bands: dict[str, Tensor],
    ncols: int = 8,
    titles: dict[str, Sequence[str]] | None = None,
    fig: Figure | SubFigure | None = None,
) -> Figure:
    """Several sets of images (B, 1, H, W), each a labelled band of rows of ``ncols`` images.

    Images outside [-1, 1] are drawn saturated (black or white); the data is not changed.
    ``fig``: the figure or subfigure to lay the bands out in.
    """
    ncols = check.count(ncols, "ncols")
    titles = {} if titles is None else read.series(titles, "titles", most=len(bands) if isinstance(bands, dict) else 0)
    bands = read.series(bands, "bands", most=100)
    for name, x in bands.items():
        check.image(x, f"bands[{name!r}]", scan=False)  # drawn as they are: saturated or blank
        if x.dim() != 4:
            raise ValueError(f"bands[{name!r}] must be a batch (B, 1, H, W), got shape {tuple(x.shape)}")
        if name in titles and len(titles[name]) != x.shape[0]:
            raise ValueError(f"titles[{name!r}] has {len(titles[name])} titles for {x.shape[0]} images")
    rows = {name: -(-x.shape[0] // ncols) for name, x in bands.items()}
    with plt.rc_context(BOOK_STYLE):
        fig = figure_to_draw_in(fig, (0.85 * ncols + 0.3, sum(0.95 * r + 0.45 for r in rows.values())))
        panels = fig.subfigures(len(bands), 1, height_ratios=[0.95 * r + 0.45 for r in rows.values()], squeeze=False)
    for panel, (name, x) in zip(panels[:, 0], bands.items()):
        axes = panel.subplots(rows[name], ncols, squeeze=False)
        for ax in axes.flat:
            ax.set_axis_off()
        for i in range(x.shape[0]):
            names = titles.get(name)
            show_image(x[i], names[i] if names else "", ax=axes.flat[i])
            axes.flat[i].title.set_fontsize(9)
        panel.suptitle(name, fontsize=11)
    return fig.figure
