"""Plot helpers with one book style. Each takes ``ax``/``axes=None``, returns the figure
and never show it: showing is the chapter's business.

Images are drawn in gray with the data range [-1, 1] mapped to black..white; noisy
images go beyond that range and are drawn saturated (the data is not changed).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
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
        fig, axes = plt.subplots(nrows, ncols, figsize=(1.9 * ncols, 2.1 * nrows), squeeze=False)
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
    axes: Sequence[Axes] | None = None,
) -> Figure:
    r"""The three reverse-step coefficients over t = 1..T, on log axes so that both the
    flat middle and the last steps are readable.

    The scaling factor is drawn as :math:`1/\sqrt{\alpha_t} - 1`, its distance from 1,
    which spans orders of magnitude. ``unclipped`` adds the raw schedule as a dashed line.
    """
    if axes is None:
        with plt.rc_context(BOOK_STYLE):
            fig, axes = plt.subplots(3, 1, figsize=(7.5, 8.4), sharex=True)
    fig = axes[0].figure
    t = torch.arange(1, schedule.T + 1).numpy()
    panels = [
        ("scale", r"scaling factor: $1/\sqrt{\alpha_t} - 1$", lambda s: s.scale[1:] - 1),
        ("eps_coef", r"noise correction: $\beta_t/\sqrt{1-\bar\alpha_t}$", lambda s: s.eps_coef[1:]),
        ("sigma", r"noise injection: $\sigma_t=\sqrt{\beta_t}$", lambda s: s.sigma[1:]),
    ]
    for ax, (key, title, value) in zip(axes, panels):
        if unclipped is not None:
            ax.plot(t, value(unclipped).numpy(), color="#6e7781", ls="--", lw=1.2, label="unclipped")
        label = f"clipped at {schedule.max_beta}" if schedule.max_beta is not None else "unclipped"
        ax.plot(t, value(schedule).numpy(), color=COLORS[key], lw=2, label=label)
        ax.set_yscale("log")
        ax.set_title(title)
        ax.set_ylabel("value (log scale)")
        for m in mark_t:
            ax.axvline(m, color="#6e7781", lw=0.8, ls=":")
        _mark_end(ax, schedule)
        ax.legend(loc="upper left", fontsize=9)
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
) -> str:
    """The trajectory as a self-contained HTML animation (play, pause, scrub), with no kernel
    and no network needed: every frame is a PNG inside the page's own JavaScript.

    One frame per snapshot, noisiest first; with ``x0_hats``, the predicted clean image
    at the same time is drawn beside x_t. Keep to a few dozen frames: each one is
    stored in the page. Returns the HTML, for ``IPython.display.HTML``.
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
    return re.sub(r"<link[^>]*font-awesome[^>]*>\n?", "", out)


def schedule_plot(schedule: Schedule, axes: Sequence[Axes] | None = None) -> Figure:
    r"""Two panels over t = 0..T: the signal and noise fractions :math:`\bar\alpha_t` and
    :math:`1-\bar\alpha_t`, and the per-step variance :math:`\beta_t` on a log axis."""
    if axes is None:
        with plt.rc_context(BOOK_STYLE):
            fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
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
