"""What a number of steps costs and gives: time per sample, distance to the training set and
agreement with the most steps, and the quality of the samples."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure
from torch import Tensor

from .. import _checks as check
from . import read
from .images import show_image
from .style import BOOK_STYLE, GRAY, PALETTE, axes_grid, figure_of, figure_to_draw_in, one_axes


def cost_plot(
    steps: Sequence[int], per_sample: dict[str, Sequence[float]], per_call: dict[str, float], ax: Axes | None = None
) -> Figure:
    """Seconds per sample against the number of steps, log-log, one series per model.

    Measured points are dots; the dashed line is steps x the model's measured cost per call,
    what the time would be if the sampler itself cost nothing.
    """
    steps = read.step_counts(steps)
    per_sample = {
        name: read.numbers(times, f"per_sample[{name!r}]", positive=True)
        for name, times in read.series(per_sample, "per_sample").items()
    }
    for name, times in per_sample.items():
        if len(times) > len(steps):
            raise ValueError(f"per_sample[{name!r}] has {len(times)} times for the {len(steps)} step counts in steps")
    per_call = {
        name: check.positive(v, f"per_call[{name!r}]", ": seconds per model call")
        for name, v in read.series(per_call, "per_call", list(per_sample)).items()
    }
    ax = one_axes(ax, (7.5, 4.4))
    fewest_to_most = torch.tensor([min(steps), max(steps)], dtype=torch.float64)
    for color, (name, times) in zip(PALETTE, per_sample.items()):
        ax.plot(steps[: len(times)], times, "o-", color=color, label=name, lw=1.5)
        ax.plot(fewest_to_most, fewest_to_most * per_call[name], "--", color=color, lw=1, alpha=0.7)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("number of steps (model calls)")
    ax.set_ylabel("seconds per sample (log scale)")
    ax.set_title("Sampling time: steps times the cost of one model call")
    ax.legend(fontsize=9, loc="upper left")
    return figure_of(ax)


def fewer_steps_figure(
    steps: Sequence[int],
    seconds: dict[str, Sequence[float]],
    distance: dict[str, Sequence[float]],
    agree: Sequence[float],
    samples: dict[str, Sequence[Tensor]],
    ncols: int = 4,
    floor: float = 1e-12,
    fig: Figure | SubFigure | None = None,
) -> Figure:
    """Time, distance and agreement against the number of steps (top) and the samples (below).

    ``seconds``/``distance``/``samples`` map a sampler name to one entry per step count;
    ``agree`` is the fraction of DDIM samples landing on the same training image as with the
    most steps. Distances are drawn on a log axis; one below ``floor`` (an exact copy) is
    drawn at ``floor``. ``fig``: the figure or subfigure to lay the panels out in.
    """
    ncols = check.count(ncols, "ncols")
    floor = check.positive(floor, "floor", ": the smallest distance drawn on the log axis")
    steps = read.step_counts(steps)
    names = list(read.series(seconds, "seconds"))
    seconds = {n: read.numbers(seconds[n], f"seconds[{n!r}]", positive=True, length=len(steps)) for n in names}
    distance = read.series(distance, "distance", names)
    distance = {n: read.numbers(distance[n], f"distance[{n!r}]", length=len(steps)) for n in names}
    agree = read.numbers(agree, "agree", length=len(steps))
    if any(not 0 <= a <= 1 for a in agree):
        raise ValueError(f"agree = {agree} must hold fractions in [0, 1]")
    samples = read.series(samples, "samples", names)
    for n in names:
        rows = read.sequence(samples[n], f"samples[{n!r}]")
        if len(rows) != len(steps):
            raise ValueError(
                f"samples[{n!r}] has {len(rows)} rows and steps has {len(steps)}: they need one row per step count"
            )
        for r, row in enumerate(rows):
            if len(read.sequence(row, f"samples[{n!r}][{r}]")) < ncols:
                raise ValueError(f"samples[{n!r}][{r}] has {len(row)} images, fewer than ncols = {ncols}")
    with plt.rc_context(BOOK_STYLE):
        fig = figure_to_draw_in(fig, (7.5, 3.2 + 0.8 * len(steps)))
        top, bottom = fig.subfigures(2, 1, height_ratios=[3.2, 0.8 * len(steps)])
        ax_t, ax_d, ax_a = top.subplots(1, 3)
        panels = bottom.subfigures(1, len(names), squeeze=False)[0]
    for color, name in zip(PALETTE, names):
        ax_t.plot(steps, seconds[name], "o-", color=color, label=name)
        ax_d.plot(steps, [max(d, floor) for d in distance[name]], "o-", color=color, label=name)
    ax_a.plot(steps, [100 * (1 - a) for a in agree], "s-", color=PALETTE[0], label="DDIM")
    for ax in (ax_t, ax_d, ax_a):
        ax.set_xscale("log")
        ax.set_xlabel("steps")
    ax_t.set_yscale("log")
    ax_t.set_ylabel("seconds per sample (log)")
    ax_t.set_title("Time")
    ax_t.legend(fontsize=9, loc="upper left")
    ax_d.set_yscale("log")
    ax_d.set_ylabel("mean RMS to nearest (log)")
    ax_d.set_title("Distance to training set")
    ax_a.set_ylim(-5, 105)
    ax_a.set_ylabel("% not on 1000-step image")
    ax_a.set_title("DDIM changes image")
    for panel, name in zip(panels, names):
        axes = panel.subplots(len(steps), ncols, squeeze=False)
        for r, num_steps in enumerate(steps):
            for c in range(ncols):
                show_image(samples[name][r][c], ax=axes[r, c])
            axes[r, 0].set_axis_on()
            axes[r, 0].set_xticks([])
            axes[r, 0].set_yticks([])
            axes[r, 0].grid(False)
            axes[r, 0].set_ylabel(f"{num_steps} steps", fontsize=9, rotation=0, ha="right", va="center")
        panel.suptitle(f"{name}, same $x_T$ in every row", fontsize=10)
    return fig.figure


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
    names = list(read.series(steps, "steps"))
    steps = {n: read.step_counts(steps[n], f"steps[{n!r}]") for n in names}
    frechet, imbalance = read.series(frechet, "frechet", names), read.series(imbalance, "imbalance", names)
    frechet = {
        n: read.numbers(frechet[n], f"frechet[{n!r}]", positive=True, length=len(steps[n]), per=f"steps[{n!r}]")
        for n in names
    }
    imbalance = {
        n: read.numbers(imbalance[n], f"imbalance[{n!r}]", length=len(steps[n]), per=f"steps[{n!r}]") for n in names
    }
    references = {
        name: tuple(read.numbers(pair, f"references[{name!r}]", length=2, per="the pair (Frechet distance, imbalance)"))
        for name, pair in read.series(references, "references", most=2).items()
    }
    if any(fd <= 0 for fd, _ in references.values()):
        raise ValueError(f"references = {references}: each Frechet distance must be > 0 (drawn on a log axis)")
    fig, grid = axes_grid(axes, 1, 2, (7.5, 3.6))
    axes = grid[0]
    for color, name in zip(PALETTE, steps):
        axes[0].plot(steps[name], frechet[name], "o-", color=color, label=name)
        axes[1].plot(steps[name], imbalance[name], "o-", color=color, label=name)
    for (name, (fd, imb)), style in zip(references.items(), ["--", ":"]):
        axes[0].axhline(fd, ls=style, color=GRAY, label=name)
        axes[1].axhline(imb, ls=style, color=GRAY, label=name)
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
