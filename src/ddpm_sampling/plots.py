"""Plot helpers with one book style. Each draws on the ``ax`` or ``axes`` it is given (a new
figure of the right size when they are ``None``), returns the figure and never shows it:
showing is the chapter's business. Given axes must be as many as the helper draws, in the
grid it draws them in; anything else is a ``ValueError`` that says what is needed.

Images are drawn in gray with the data range [-1, 1] mapped to black..white; noisy
images go beyond that range and are drawn saturated (the data is not changed).
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure
from matplotlib.ticker import MaxNLocator
from torch import Tensor

from . import _checks as check
from .schedule import Schedule, error_gain

#: The rcParams of every figure of the book. A white background and dark ink read in the
#: light theme and inside the light box that the dark theme draws around images.
BOOK_STYLE = {
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "text.color": "#1f2328",
    "axes.labelcolor": "#1f2328",
    "axes.edgecolor": "#57606a",
    "xtick.color": "#57606a",
    "ytick.color": "#57606a",
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
#: One color per coefficient, kept across chapters.
COLORS = {"scale": "#8250df", "eps_coef": "#cf222e", "sigma": "#1a7f37", "gain": "#0969da"}


#: The width in CSS pixels of the page's text column in a 1280-pixel-wide window (the site
#: tests check it): a wider figure is scaled down to it, and its text with it.
PAGE_WIDTH_PX = 700
#: The smallest text, in CSS pixels on the page, that a figure may have.
MIN_TEXT_PX = 9.0


def small_text(fig: Figure, page_px: float = PAGE_WIDTH_PX, min_px: float = MIN_TEXT_PX) -> list[str]:
    """Every visible text of ``fig`` that the page shows smaller than ``min_px`` CSS pixels.

    A figure saved at ``fig.dpi`` is ``width x dpi`` pixels wide and shown at most
    ``page_px`` wide, so a text of ``s`` points appears ``s x dpi / 72 x min(1, page_px /
    (width x dpi))`` pixels high. Returns one description per offending text.
    """
    from matplotlib.text import Text

    scale = min(1.0, page_px / (fig.get_figwidth() * fig.dpi))
    found = []
    for text in fig.findobj(Text):
        if not text.get_visible() or not text.get_text().strip():
            continue
        px = text.get_fontsize() * fig.dpi / 72 * scale
        if px < min_px - 1e-9:
            found.append(f"{text.get_text()[:40]!r} at {px:.1f} px")
    return found


def use_book_style() -> None:
    """Apply :data:`BOOK_STYLE` to every later figure of this process."""
    plt.rcParams.update(BOOK_STYLE)


def _figure_of(ax: Axes) -> Figure:
    """The whole figure ``ax`` is drawn in (the one a chapter saves), even inside a subfigure."""
    return ax.figure.figure


def _axes_grid(
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
    return _figure_of(grid[0, 0]), grid


def _one_axes(ax: object, figsize: tuple[float, float]) -> Axes:
    """The given ``ax``, or the one Axes of a new figure of ``figsize``."""
    return _axes_grid(ax, 1, 1, figsize, name="ax")[1][0, 0]


def _figure_to_draw_in(fig: object, figsize: tuple[float, float]) -> Figure | SubFigure:
    """The given figure or subfigure, or a new figure of ``figsize`` (call inside the book's style)."""
    if fig is None:
        return plt.figure(figsize=figsize)
    if not isinstance(fig, (Figure, SubFigure)):
        raise TypeError(f"fig must be a matplotlib Figure or SubFigure, got {check.describe(fig)}")
    return fig


def _as_hw(img: object, name: str = "img") -> Tensor:
    """A gray image, (1, H, W) or (H, W), as an (H, W) float32 or float64 tensor on the CPU for imshow.

    A floating tensor of any dtype (bfloat16 too) or a NumPy array of floats; NaN is drawn blank.
    """
    if isinstance(img, np.ndarray) and img.dtype.kind == "f":
        img = torch.from_numpy(np.ascontiguousarray(img))
    check.tensor(img, name)
    img = img.detach().cpu()
    if img.dtype not in (torch.float32, torch.float64):  # matplotlib draws no float16 or bfloat16
        img = img.float()
    if img.dim() == 3 and img.shape[0] == 1:
        img = img[0]
    if img.dim() != 2 or img.numel() == 0:
        raise ValueError(
            f"{name} must be a gray image (1, H, W) or (H, W) with H, W >= 1, got shape {tuple(img.shape)}"
        )
    return img


def _images(images: object, name: str = "images") -> list:
    """A non-empty sequence of images: a list or tuple, or a tensor along its first dimension."""
    if isinstance(images, Tensor):
        if images.dim() < 3:
            raise ValueError(f"{name} must be a sequence of images, got a tensor of shape {tuple(images.shape)}")
        images = list(images)
    if isinstance(images, np.ndarray):
        if images.ndim < 3:
            raise ValueError(f"{name} must be a sequence of images, got an array of shape {images.shape}")
        images = list(images)
    if not isinstance(images, (list, tuple)):
        raise TypeError(f"{name} must be a list of images, got {check.describe(images)}")
    if not images:
        raise ValueError(f"{name} is empty; it needs at least one image")
    return list(images)


def _titles(titles: object, n: int) -> list[str]:
    titles = [""] * n if titles is None else titles
    if isinstance(titles, str) or not isinstance(titles, (list, tuple)):
        raise TypeError(f"titles must be a list of str, one per image, got {check.describe(titles)}")
    if len(titles) != n:
        raise ValueError(f"got {n} images but {len(titles)} titles")
    for i, title in enumerate(titles):
        if not isinstance(title, str):
            raise TypeError(f"titles[{i}] must be a str, got {check.describe(title)}")
    return list(titles)


def _snapshots(snapshots: object, name: str) -> dict[int, object]:
    """A non-empty dict from int timesteps (>= 0) to images."""
    if not isinstance(snapshots, dict):
        raise TypeError(f"{name} must be a dict {{t: image}}, got {check.describe(snapshots)}")
    return {check.count(t, f"{name} key", 0): img for t, img in snapshots.items()}


def show_image(img: Tensor, title: str = "", ax: Axes | None = None) -> Figure:
    """Draw one gray image in [-1, 1], (1, H, W) or (H, W), without ticks."""
    hw = _as_hw(img)
    if not isinstance(title, str):
        raise TypeError(f"title must be a str, got {check.describe(title)}")
    ax = _one_axes(ax, (2.2, 2.8))
    ax.imshow(hw.numpy(), cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
    ax.set_title(title)
    ax.set_axis_off()
    return _figure_of(ax)


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
    images = [_as_hw(img, f"images[{i}]") for i, img in enumerate(_images(images))]
    titles = _titles(titles, len(images))
    size = check.positive(size, "size", ": the width of each image in inches")
    fig, grid = _axes_grid(axes, 1, len(images), (size * len(images), size + 0.6))
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
    images = [_as_hw(img, f"images[{i}]") for i, img in enumerate(_images(images))]
    titles = _titles(titles, len(images))
    nrows = -(-len(images) // ncols)
    width = min(1.9, 7.5 / ncols)  # at most the page's width
    fig, grid = _axes_grid(axes, nrows, ncols, (width * ncols, (width + 0.2) * nrows))
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
    snapshots = _snapshots(snapshots, "snapshots")
    x0_hats = None if x0_hats is None else _snapshots(x0_hats, "x0_hats")
    ts = sorted(snapshots, reverse=True)
    if not ts:
        raise ValueError("snapshots is empty; the strip needs at least one image")
    if x0_hats is not None and not set(ts) <= set(x0_hats):
        raise ValueError(f"x0_hats has no image at t = {sorted(set(ts) - set(x0_hats), reverse=True)}")
    rows = 1 if x0_hats is None else 2
    fig, axes = _axes_grid(axes, rows, len(ts), (0.8 * len(ts) + 0.5, 0.95 * rows + 0.55))
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


def _mark_end(ax: Axes, schedule: Schedule) -> None:
    ax.set_xlim(0, schedule.T * 1.02)
    ax.set_xlabel("timestep t")


def coefficient_panels(
    schedule: Schedule,
    unclipped: Schedule | None = None,
    mark_t: Sequence[int] = (),
    axes: Sequence[Sequence[Axes]] | None = None,
    last: int | None = None,
    first: int | None = None,
) -> Figure:
    r"""The three reverse-step coefficients: the whole schedule (left) and close-ups of its ends (right).

    Left, t = 1..T on log axes, the scaling factor drawn as :math:`1/\sqrt{\alpha_t} - 1`, its
    distance from 1. Right: the scaling factor and the noise injection over the ``last``
    steps, with each value written on its point (and ``unclipped``'s last value, which no
    axis can hold, written beside it), and the noise correction over the ``first`` steps on
    a linear axis, where it dips before it rises. ``axes``: a 3 x 2 grid. ``last`` and ``first``
    are ints in 1..T; by default 12 and 100, or T for a schedule of fewer steps. ``mark_t``:
    timesteps in 1..T, marked with a dotted line.
    """
    check.instance(schedule, Schedule, "schedule", "cosine_schedule")
    if unclipped is not None:
        check.instance(unclipped, Schedule, "unclipped", "cosine_schedule")
    T = schedule.T
    mark_t = check.timesteps(mark_t, 1, T, "mark_t")
    last = min(12, T) if last is None else check.count(last, "last", 1, T)
    first = min(100, T) if first is None else check.count(first, "first", 1, T)
    fig, axes = _axes_grid(axes, 3, 2, (7.5, 8.6), width_ratios=[1.5, 1])
    t = torch.arange(1, T + 1)
    rows = [
        ("scale", r"scaling factor $1/\sqrt{\alpha_t}$", schedule.scale, True),
        ("eps_coef", r"noise correction $\beta_t/\sqrt{1-\bar\alpha_t}$", schedule.eps_coef, False),
        ("sigma", r"noise injection $\sigma_t=\sqrt{\beta_t}$", schedule.sigma, True),
    ]
    for (key, title, value, at_end), (whole, close) in zip(rows, axes):
        shown = value[1:] - 1 if key == "scale" else value[1:]
        whole.plot(t.numpy(), shown.numpy(), color=COLORS[key], lw=2)
        whole.set_yscale("log")
        whole.set_title(title + (r" $- 1$" if key == "scale" else "") + ", all t")
        whole.set_ylabel("log scale")
        for m in mark_t:
            whole.axvline(m, color="#6e7781", lw=0.8, ls=":")
        _mark_end(whole, schedule)
        ts = torch.arange(T - last + 1, T + 1) if at_end else torch.arange(1, first + 1)
        close.plot(ts.numpy(), value[ts].numpy(), "o-" if at_end else "-", color=COLORS[key], ms=3, lw=1.5)
        close.set_xlabel("timestep t")
        close.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
        if at_end:
            close.set_yscale("log")
            close.set_ylim(top=float(value[T]) * 1.8)
            close.set_title(f"the last {last} steps")
            for tt in range(max(1, T - 2), T + 1):
                close.annotate(
                    f"{float(value[tt]):.3g}",
                    (tt, float(value[tt])),
                    textcoords="offset points",
                    xytext=(-4, 6),
                    ha="right",
                    fontsize=9,
                )
        else:
            low = int(value[1 : first + 1].argmin()) + 1
            close.plot([low], [float(value[low])], "o", color=COLORS[key], ms=5)
            close.annotate(
                f"lowest at t = {low}",
                (low, float(value[low])),
                textcoords="offset points",
                xytext=(0, 10),
                ha="center",
                fontsize=9,
            )
            close.set_title(f"the first {first} steps")
    if unclipped is not None:
        top = axes[0][1]
        top.text(
            0.03,
            0.95,
            f"unclipped at t = {T}:\n{float(unclipped.scale[T]):.2g} (off the axis)",
            transform=top.transAxes,
            va="top",
            fontsize=9,
            color="#57606a",
        )
    return fig


def error_gain_plot(schedule: Schedule, mark_t: Sequence[int] = (), ax: Axes | None = None) -> Figure:
    r"""The one-shot error gain :math:`\sqrt{1-\bar\alpha_t}/\sqrt{\bar\alpha_t}` over t, log scale."""
    check.instance(schedule, Schedule, "schedule", "cosine_schedule")
    mark_t = check.timesteps(mark_t, 1, schedule.T, "mark_t")
    ax = _one_axes(ax, (6.5, 3.6))
    t = torch.arange(1, schedule.T + 1).numpy()
    gain = error_gain(schedule)
    ax.plot(t, gain.numpy(), color=COLORS["gain"], lw=2)
    for m in mark_t:
        ax.axvline(m, color="#6e7781", lw=0.8, ls=":")
        ax.plot([m], [float(gain[m - 1])], "o", color=COLORS["gain"], ms=5)
        ax.annotate(
            f"t={m}: {float(gain[m - 1]):.3g}",
            (m, float(gain[m - 1])),
            textcoords="offset points",
            xytext=(8, 6) if m < schedule.T / 2 else (-8, 6),
            ha="left" if m < schedule.T / 2 else "right",
            fontsize=9,
        )
    ax.set_yscale("log")
    ax.set_title(r"error gain of the one-shot estimate: $\sqrt{1-\bar\alpha_t}/\sqrt{\bar\alpha_t}$")
    ax.set_ylabel("gain (log scale)")
    _mark_end(ax, schedule)
    return _figure_of(ax)


def trajectory_animation(
    snapshots: dict[int, Tensor],
    x0_hats: dict[int, Tensor] | None = None,
    interval: int = 250,
    size: float = 1.9,
    dpi: int = 72,
    alt: str = "",
) -> str:
    """The trajectory as a self-contained HTML animation (play, pause, scrub), with no kernel
    and no network needed: every frame is a PNG inside the page's own JavaScript.

    One frame per snapshot, noisiest first; with ``x0_hats``, the predicted clean image
    at the same time is drawn beside x_t. Keep to a few
    dozen frames: each one is stored in the page. ``alt`` describes the animation for
    readers who cannot see it (the frame image's alt text). Returns the HTML, for
    ``IPython.display.HTML``.
    """
    from matplotlib.animation import FuncAnimation

    snapshots = _snapshots(snapshots, "snapshots")
    x0_hats = None if x0_hats is None else _snapshots(x0_hats, "x0_hats")
    ts = sorted(snapshots, reverse=True)
    if not ts:
        raise ValueError("snapshots is empty; the animation needs at least one frame")
    if x0_hats is not None and not set(ts) <= set(x0_hats):
        raise ValueError(f"x0_hats has no image at t = {sorted(set(ts) - set(x0_hats), reverse=True)}")
    for t in ts:  # every frame is read before the first is drawn
        _as_hw(snapshots[t], f"snapshots[{t}]")
        if x0_hats is not None:
            _as_hw(x0_hats[t], f"x0_hats[{t}]")
    interval = check.count(interval, "interval", 1)  # milliseconds between frames
    size = check.positive(size, "size", ": the width of each image in inches")
    dpi = check.count(dpi, "dpi", 1)
    if not isinstance(alt, str):
        raise TypeError(f"alt must be a str, got {check.describe(alt)}")
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
    # matplotlib links Font Awesome from a CDN for the button icons; the site ships its own copy
    # (the theme's), and a page that reaches off its host is not complete offline
    out = re.sub(r"<link[^>]*font-awesome[^>]*>\n?", "", out)
    out = re.sub(r'<img id="(_anim_img\w+)">', lambda m: f'<img id="{m[1]}" alt="{html.escape(alt)}">', out)
    # the frame slider has no label of its own (a screen reader announces a bare "slider")
    out = re.sub(r'(<input id="_anim_slider\w+" type="range" class="anim-slider")', r'\1 aria-label="Frame"', out)
    # matplotlib draws the slider 374 pixels wide: on a narrow screen (a phone) it, the
    # frame and the buttons shrink to the column instead of widening the page
    return out + _ANIMATION_FITS


_ANIMATION_FITS = """
<style>
.animation { max-width: 100%; }
.animation img { max-width: 100%; height: auto; }
input[type=range].anim-slider { max-width: 100%; }
</style>
"""


def schedule_plot(schedule: Schedule, axes: Sequence[Axes] | None = None) -> Figure:
    r"""Two panels over t = 0..T: the signal and noise fractions :math:`\bar\alpha_t` and
    :math:`1-\bar\alpha_t`, and the per-step variance :math:`\beta_t` on a log axis. ``axes``: two."""
    check.instance(schedule, Schedule, "schedule", "cosine_schedule")
    fig, grid = _axes_grid(axes, 1, 2, (7.5, 3.2))
    axes = grid[0]
    t = torch.arange(schedule.T + 1).numpy()
    ax = axes[0]
    ax.plot(t, schedule.alpha_bar.numpy(), color=COLORS["gain"], lw=2, label=r"signal $\bar\alpha_t$")
    ax.plot(t, (1 - schedule.alpha_bar).numpy(), color="#6e7781", lw=1.5, ls="--", label=r"noise $1-\bar\alpha_t$")
    ax.set_title(r"signal and noise fractions")
    ax.set_ylabel("fraction of variance")
    ax.legend(loc="center left", fontsize=9)
    ax = axes[1]
    ax.plot(t[1:], schedule.beta[1:].numpy(), color=COLORS["sigma"], lw=2)
    ax.set_yscale("log")
    ax.set_title(r"per-step variance $\beta_t$")
    ax.set_ylabel(r"$\beta_t$ (log scale)")
    for ax in axes:
        _mark_end(ax, schedule)
    return fig
