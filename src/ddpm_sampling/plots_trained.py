"""Plots of the trained-network chapter, in the book's style (see :mod:`ddpm_sampling.plots`).

Each helper draws on the ``ax`` or ``axes`` it is given, or into the figure or subfigure ``fig``
where it lays out panels of its own (a new figure when they are ``None``), returns the figure
and never shows it. Figures are at most 7.5 inches wide (the page's text column at 100 dpi)
with text of at least 9 points.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure
from torch import Tensor

from . import _checks as check
from .plots import BOOK_STYLE, _axes_grid, _figure_of, _figure_to_draw_in, _one_axes, show_image
from .plots_generation import SERIES_COLORS, _numbers, _sequence, _series, _step_counts


def loss_curve(loss: Sequence[tuple[int, float]], ax: Axes | None = None) -> Figure:
    """The training loss (mean over each logging interval) against the step, log-scaled loss."""
    pairs = _sequence(loss, "loss")
    if not pairs:
        raise ValueError("loss is empty; it needs at least one (step, loss) pair")
    for i, pair in enumerate(pairs):
        if isinstance(pair, (str, bytes)) or not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise TypeError(f"loss[{i}] must be a pair (step, loss), got {check.describe(pair)}")
    steps = [check.count(p[0], f"loss[{i}][0]", 0) for i, p in enumerate(pairs)]
    values = _numbers([p[1] for p in pairs], "the losses", positive=True)
    ax = _one_axes(ax, (6.5, 3.2))
    ax.plot(steps, values, color=SERIES_COLORS[0], lw=1.5)
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("noise-prediction MSE (log)")
    ax.set_title("Training loss")
    return _figure_of(ax)


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
    titles = {} if titles is None else _series(titles, "titles", most=len(bands) if isinstance(bands, dict) else 0)
    bands = _series(bands, "bands", most=100)
    for name, x in bands.items():
        check.image(x, f"bands[{name!r}]", scan=False)  # drawn as they are: saturated or blank
        if x.dim() != 4:
            raise ValueError(f"bands[{name!r}] must be a batch (B, 1, H, W), got shape {tuple(x.shape)}")
        if name in titles and len(titles[name]) != x.shape[0]:
            raise ValueError(f"titles[{name!r}] has {len(titles[name])} titles for {x.shape[0]} images")
    rows = {name: -(-x.shape[0] // ncols) for name, x in bands.items()}
    with plt.rc_context(BOOK_STYLE):
        fig = _figure_to_draw_in(fig, (0.85 * ncols + 0.3, sum(0.95 * r + 0.45 for r in rows.values())))
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


def error_per_t(
    timesteps: Sequence[int],
    eps_rms: Sequence[float],
    x0_rms: Sequence[float],
    assumed: float,
    gain: Sequence[float],
    mean_image_rms: float,
    axes: Sequence[Axes] | None = None,
) -> Figure:
    """Left: the network's noise-prediction error against t, next to the assumed constant error.
    Right: the error of the one-shot estimate it implies, next to ``assumed`` x error gain and
    ``mean_image_rms``, the RMS error of always answering with the mean image."""
    timesteps = _step_counts(timesteps, "timesteps")
    n = len(timesteps)
    eps_rms = _numbers(eps_rms, "eps_rms", positive=True, length=n, per="timesteps")
    x0_rms = _numbers(x0_rms, "x0_rms", positive=True, length=n, per="timesteps")
    gain = _numbers(gain, "gain", positive=True, length=n, per="timesteps")
    assumed = check.positive(assumed, "assumed", ": an RMS error on a log axis")
    mean_image_rms = check.positive(mean_image_rms, "mean_image_rms", ": an RMS error on a log axis")
    fig, grid = _axes_grid(axes, 1, 2, (7.5, 3.4))
    axes = grid[0]
    ax = axes[0]
    ax.plot(timesteps, eps_rms, "o-", ms=3, color=SERIES_COLORS[0], label="trained network")
    ax.axhline(assumed, ls="--", color=SERIES_COLORS[1], label=f"Exercise 3's model ({assumed})")
    ax.set_yscale("log")
    ax.set_xlabel("timestep t")
    ax.set_ylabel(r"RMS error of $\hat\epsilon$ (log)")
    ax.set_title("Predicted noise")
    ax.legend(fontsize=9)
    ax = axes[1]
    ax.plot(timesteps, x0_rms, "o-", ms=3, color=SERIES_COLORS[0], label="trained network")
    ax.plot(timesteps, [assumed * g for g in gain], "--", color=SERIES_COLORS[1], label=f"{assumed} x error gain")
    ax.axhline(mean_image_rms, ls=":", color=SERIES_COLORS[2], label="the mean image")
    ax.set_yscale("log")
    ax.set_xlabel("timestep t")
    ax.set_ylabel(r"RMS error of one-shot $\hat x_0$ (log)")
    ax.set_title("One-shot clean image")
    ax.legend(fontsize=9)
    return fig


def quality_vs_steps(
    steps: dict[str, Sequence[int]],
    frechet: dict[str, Sequence[float]],
    imbalance: dict[str, Sequence[float]],
    references: dict[str, tuple[float, float]],
    axes: Sequence[Axes] | None = None,
) -> Figure:
    """Frechet distance (left) and class imbalance (right) against the number of steps, per sampler.

    ``references`` maps a name to its (Frechet distance, imbalance), drawn as horizontal lines.
    """
    names = list(_series(steps, "steps"))
    steps = {n: _step_counts(steps[n], f"steps[{n!r}]") for n in names}
    frechet, imbalance = _series(frechet, "frechet", names), _series(imbalance, "imbalance", names)
    frechet = {
        n: _numbers(frechet[n], f"frechet[{n!r}]", positive=True, length=len(steps[n]), per=f"steps[{n!r}]")
        for n in names
    }
    imbalance = {
        n: _numbers(imbalance[n], f"imbalance[{n!r}]", length=len(steps[n]), per=f"steps[{n!r}]") for n in names
    }
    references = {
        name: tuple(_numbers(pair, f"references[{name!r}]", length=2, per="the pair (Frechet distance, imbalance)"))
        for name, pair in _series(references, "references", most=2).items()
    }
    if any(fd <= 0 for fd, _ in references.values()):
        raise ValueError(f"references = {references}: each Frechet distance must be > 0 (drawn on a log axis)")
    fig, grid = _axes_grid(axes, 1, 2, (7.5, 3.6))
    axes = grid[0]
    for color, name in zip(SERIES_COLORS, steps):
        axes[0].plot(steps[name], frechet[name], "o-", color=color, label=name)
        axes[1].plot(steps[name], imbalance[name], "o-", color=color, label=name)
    for (name, (fd, imb)), style in zip(references.items(), ["--", ":"]):
        axes[0].axhline(fd, ls=style, color="#57606a", label=name)
        axes[1].axhline(imb, ls=style, color="#57606a", label=name)
    axes[0].set_yscale("log")
    axes[0].set_ylabel("Frechet distance to test set (log)")
    axes[0].set_title("Quality")
    axes[1].set_ylabel("largest |class share - 10%|")
    axes[1].set_title("Class balance")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("number of steps")
    axes[0].legend(fontsize=9)
    return fig


def survival_plot(
    start_t: Sequence[int], same_class: Sequence[float], rms: Sequence[float], axes: Sequence[Axes] | None = None
) -> Figure:
    """What survives of an image noised to t and sampled back: its class (left), its pixels (right)."""
    start_t = _step_counts(start_t, "start_t")
    same_class = _numbers(same_class, "same_class", length=len(start_t), per="start_t")
    if any(not 0 <= s <= 1 for s in same_class):
        raise ValueError(f"same_class = {same_class} must hold fractions in [0, 1]")
    rms = _numbers(rms, "rms", length=len(start_t), per="start_t")
    fig, grid = _axes_grid(axes, 1, 2, (7.5, 3.2))
    axes = grid[0]
    axes[0].plot(start_t, [100 * s for s in same_class], "o-", color=SERIES_COLORS[0])
    axes[0].axhline(10, ls=":", color="#57606a", label="chance (10%)")
    axes[0].set_ylim(0, 105)
    axes[0].set_ylabel("same class as the original (%)")
    axes[0].legend(fontsize=9)
    axes[1].plot(start_t, rms, "o-", color=SERIES_COLORS[1])
    axes[1].set_ylabel("median RMS distance to the original")
    axes[1].set_ylim(bottom=0)
    for ax in axes:
        ax.set_xlabel("start of the reverse chain, t")
    return fig
