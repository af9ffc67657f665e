"""The trained network: its training loss, its error at each t, and what survives of an image
noised to t and sampled back."""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .. import _checks as check
from . import read
from .style import GRAY, PALETTE, axes_grid, figure_of, one_axes


def loss_curve(loss: Sequence[tuple[int, float]], ax: Axes | None = None) -> Figure:
    """The training loss (mean over each logging interval) against the step, log-scaled loss."""
    pairs = read.sequence(loss, "loss")
    if not pairs:
        raise ValueError("loss is empty; it needs at least one (step, loss) pair")
    for i, pair in enumerate(pairs):
        if isinstance(pair, (str, bytes)) or not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise TypeError(f"loss[{i}] must be a pair (step, loss), got {check.describe(pair)}")
    steps = [check.count(p[0], f"loss[{i}][0]", 0) for i, p in enumerate(pairs)]
    values = read.numbers([p[1] for p in pairs], "the losses", positive=True)
    ax = one_axes(ax, (6.5, 3.2))
    ax.plot(steps, values, color=PALETTE[0], lw=1.5)
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("noise-prediction MSE (log)")
    ax.set_title("Training loss")
    return figure_of(ax)


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
    timesteps = read.step_counts(timesteps, "timesteps")
    n = len(timesteps)
    eps_rms = read.numbers(eps_rms, "eps_rms", positive=True, length=n, per="timesteps")
    x0_rms = read.numbers(x0_rms, "x0_rms", positive=True, length=n, per="timesteps")
    gain = read.numbers(gain, "gain", positive=True, length=n, per="timesteps")
    assumed = check.positive(assumed, "assumed", ": an RMS error on a log axis")
    mean_image_rms = check.positive(mean_image_rms, "mean_image_rms", ": an RMS error on a log axis")
    fig, grid = axes_grid(axes, 1, 2, (7.5, 3.4))
    axes = grid[0]
    ax = axes[0]
    ax.plot(timesteps, eps_rms, "o-", ms=3, color=PALETTE[0], label="trained network")
    ax.axhline(assumed, ls="--", color=PALETTE[1], label=f"Exercise 3's model ({assumed})")
    ax.set_yscale("log")
    ax.set_xlabel("timestep t")
    ax.set_ylabel(r"RMS error of $\hat\epsilon$ (log)")
    ax.set_title("Predicted noise")
    ax.legend(fontsize=9)
    ax = axes[1]
    ax.plot(timesteps, x0_rms, "o-", ms=3, color=PALETTE[0], label="trained network")
    ax.plot(timesteps, [assumed * g for g in gain], "--", color=PALETTE[1], label=f"{assumed} x error gain")
    ax.axhline(mean_image_rms, ls=":", color=PALETTE[2], label="the mean image")
    ax.set_yscale("log")
    ax.set_xlabel("timestep t")
    ax.set_ylabel(r"RMS error of one-shot $\hat x_0$ (log)")
    ax.set_title("One-shot clean image")
    ax.legend(fontsize=9)
    return fig


def survival_plot(
    start_t: Sequence[int], same_class: Sequence[float], rms: Sequence[float], axes: Sequence[Axes] | None = None
) -> Figure:
    """What survives of an image noised to t and sampled back: its class (left), its pixels (right)."""
    start_t = read.step_counts(start_t, "start_t")
    same_class = read.numbers(same_class, "same_class", length=len(start_t), per="start_t")
    if any(not 0 <= s <= 1 for s in same_class):
        raise ValueError(f"same_class = {same_class} must hold fractions in [0, 1]")
    rms = read.numbers(rms, "rms", length=len(start_t), per="start_t")
    fig, grid = axes_grid(axes, 1, 2, (7.5, 3.2))
    axes = grid[0]
    axes[0].plot(start_t, [100 * s for s in same_class], "o-", color=PALETTE[0])
    axes[0].axhline(10, ls=":", color=GRAY, label="chance (10%)")
    axes[0].set_ylim(0, 105)
    axes[0].set_ylabel("same class as the original (%)")
    axes[0].legend(fontsize=9)
    axes[1].plot(start_t, rms, "o-", color=PALETTE[1])
    axes[1].set_ylabel("median RMS distance to the original")
    axes[1].set_ylim(bottom=0)
    for ax in axes:
        ax.set_xlabel("start of the reverse chain, t")
    return fig
