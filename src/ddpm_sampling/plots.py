"""Plot helpers with one book style. Each takes ``ax``/``axes=None``, returns the figure
and never show it: showing is the chapter's business.

Images are drawn in gray with the data range [-1, 1] mapped to black..white; noisy
images go beyond that range and are drawn saturated (the data is not changed).
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from torch import Tensor

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


def _as_hw(img: Tensor) -> Tensor:
    """(1, H, W) or (H, W) -> (H, W) on the CPU, for imshow."""
    img = img.detach().cpu()
    if img.dim() == 3 and img.shape[0] == 1:
        img = img[0]
    if img.dim() != 2:
        raise ValueError(f"expected a gray image (1, H, W) or (H, W), got shape {tuple(img.shape)}")
    return img


def show_image(ax: Axes, img: Tensor, title: str = "") -> None:
    """Draw one gray image in [-1, 1] on ``ax``, without ticks."""
    ax.imshow(_as_hw(img).numpy(), cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
    ax.set_title(title)
    ax.set_axis_off()


def image_row(
    images: Sequence[Tensor],
    titles: Sequence[str] | None = None,
    suptitle: str | None = None,
    axes: Sequence[Axes] | None = None,
    size: float = 2.2,
) -> Figure:
    """Images side by side, each (1, H, W) or (H, W), with a title under the figure's title."""
    titles = list(titles) if titles is not None else [""] * len(images)
    if len(titles) != len(images):
        raise ValueError(f"got {len(images)} images but {len(titles)} titles")
    if axes is None:
        with plt.rc_context(BOOK_STYLE):
            fig, axes = plt.subplots(1, len(images), figsize=(size * len(images), size + 0.6), squeeze=False)
        axes = axes[0]
    fig = axes[0].figure
    for ax, img, title in zip(axes, images, titles):
        show_image(ax, img, title)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def image_grid(
    images: Sequence[Tensor], titles: Sequence[str] | None = None, ncols: int = 5, suptitle: str | None = None
) -> Figure:
    """Images in a grid of ``ncols`` columns, each with its title."""
    if ncols < 1:
        raise ValueError(f"ncols = {ncols} must be >= 1")
    titles = list(titles) if titles is not None else [""] * len(images)
    nrows = -(-len(images) // ncols)
    with plt.rc_context(BOOK_STYLE):
        width = min(1.9, 7.5 / ncols)  # at most the page's width
        fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, (width + 0.2) * nrows), squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, img, title in zip(axes.flat, images, titles):
        show_image(ax, img, title)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def trajectory_strip(
    snapshots: dict[int, Tensor],
    x0_hats: dict[int, Tensor] | None = None,
    suptitle: str | None = None,
) -> Figure:
    """The images x_t at each snapshot time from left (noisy) to right, and optionally the
    predicted clean image at the same times beneath them. Unbatched images only.

    Sized for the page's width (about 7.5 inches for nine snapshots) so that the titles
    are not shrunk: each column is titled with its t, each row labelled on the left.
    """
    ts = sorted(snapshots, reverse=True)
    rows = 1 if x0_hats is None else 2
    with plt.rc_context(BOOK_STYLE):
        fig, axes = plt.subplots(rows, len(ts), figsize=(0.8 * len(ts) + 0.5, 0.95 * rows + 0.55), squeeze=False)
    for i, t in enumerate(ts):
        show_image(axes[0, i], snapshots[t], f"t={t}")
        if x0_hats is not None:
            show_image(axes[1, i], x0_hats[t])
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
    last: int = 12,
    first: int = 100,
) -> Figure:
    r"""The three reverse-step coefficients: the whole schedule (left) and close-ups of its ends (right).

    Left, t = 1..T on log axes, the scaling factor drawn as :math:`1/\sqrt{\alpha_t} - 1`, its
    distance from 1. Right: the scaling factor and the noise injection over the ``last``
    steps, with each value written on its point (and ``unclipped``'s last value, which no
    axis can hold, written beside it), and the noise correction over the ``first`` steps on
    a linear axis, where it dips before it rises. ``axes``: a 3 x 2 grid.
    """
    if axes is None:
        with plt.rc_context(BOOK_STYLE):
            fig, axes = plt.subplots(3, 2, figsize=(7.5, 8.6), width_ratios=[1.5, 1])
    fig = axes[0][0].figure
    T = schedule.T
    last, first = min(last, T), min(first, T)
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
    if ax is None:
        with plt.rc_context(BOOK_STYLE):
            fig, ax = plt.subplots(figsize=(6.5, 3.6))
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
    return ax.figure


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

    ts = sorted(snapshots, reverse=True)
    if not ts:
        raise ValueError("snapshots is empty; the animation needs at least one frame")
    cols = 1 if x0_hats is None else 2
    with plt.rc_context({**BOOK_STYLE, "figure.dpi": dpi, "savefig.dpi": dpi}):
        fig, axes = plt.subplots(1, cols, figsize=(size * cols, size + 0.5), squeeze=False)
        axes = axes[0]

        def draw(i: int) -> list:
            t = ts[i]
            for ax in axes:
                ax.clear()
            show_image(axes[0], snapshots[t], f"$x_{{{t}}}$")
            if x0_hats is not None:
                show_image(axes[1], x0_hats[t], rf"$\hat x_0$ at t={t}")
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
    :math:`1-\bar\alpha_t`, and the per-step variance :math:`\beta_t` on a log axis."""
    if axes is None:
        with plt.rc_context(BOOK_STYLE):
            fig, axes = plt.subplots(1, 2, figsize=(7.5, 3.2))
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
    return axes[0].figure
