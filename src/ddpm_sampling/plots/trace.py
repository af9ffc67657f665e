"""What the ideal denoiser leans on along a sampling chain (a :class:`~ddpm_sampling.trace.Trace`):
how many training images share its weight, and when each sample is decided."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import Tensor

from .. import _checks as check
from ..schedule import Schedule
from . import read
from .style import GRAY, PALETTE, axes_grid


def weight_sharing_plot(schedule: Schedule, effective_number: Tensor, axes: Sequence[Axes] | None = None) -> Figure:
    """Why the weight of the ideal denoiser concentrates, and how fast.

    Left: the two numbers of the schedule in its weights, :math:`\\sqrt{\\bar\\alpha_t}` and the
    denominator :math:`2(1-\\bar\\alpha_t)`, against t. Right: the effective number of training
    images sharing the weight, ``effective_number`` (T + 1, B) of a :class:`~ddpm_sampling.trace.Trace`,
    one line per sample, on a log axis.
    """
    check.instance(schedule, Schedule, "schedule", "cosine_schedule")
    effective_number = read.per_step(effective_number, "effective_number", 2)
    T = effective_number.shape[0] - 1
    if T != schedule.T:
        raise ValueError(f"effective_number has rows for T = {T} steps, the schedule has T = {schedule.T}")
    fig, grid = axes_grid(axes, 1, 2, (7.5, 3.4))
    axes = grid[0]
    t = torch.arange(1, T + 1)
    ax = axes[0]
    ax.plot(t, schedule.sqrt_alpha_bar[1:], color=PALETTE[0], label="$\\sqrt{\\bar\\alpha_t}$")
    ax.plot(t, 2 * (1 - schedule.alpha_bar[1:]), color=PALETTE[1], label="$2(1-\\bar\\alpha_t)$")
    ax.set_ylim(0, 2.1)
    ax.set_xlabel("timestep t (sampling runs left to right)")
    ax.set_title("The schedule in the weights")
    ax.legend(fontsize=10, loc="center left")
    ax = axes[1]
    for b in range(effective_number.shape[1]):
        ax.plot(t, effective_number[1:, b], color=PALETTE[0], alpha=0.45, lw=1)
    ax.set_yscale("log")
    ax.set_xlabel("timestep t")
    ax.set_ylabel("$1 / \\sum_i w_i^2$ (log scale)")
    ax.set_title("Images sharing the weight")
    for ax in axes:
        ax.set_xlim(T * 1.02, 0)
    return fig


def decision_plot(
    top_weight: Tensor,
    class_weight: Tensor,
    image_decided: Tensor,
    class_decided: Tensor,
    threshold: float = 0.99,
    axes: Sequence[Axes] | None = None,
) -> Figure:
    """When each sample of the ideal denoiser is decided.

    Left: over t, one line per sample, the total weight of the sample's final class (the class
    heaviest at t = 1 in ``class_weight``, (T + 1, B, K)) and the weight of the heaviest training
    image (``top_weight``, (T + 1, B)), both from a :class:`~ddpm_sampling.trace.Trace`; a dotted
    line marks ``threshold``. Right: per sample, the t from which on its class (``class_decided``,
    (B,)) and one training image (``image_decided``, (B,)) hold more than ``threshold``.
    """
    top_weight = read.per_step(top_weight, "top_weight", 2)
    class_weight = read.per_step(class_weight, "class_weight", 3)
    T, B = top_weight.shape[0] - 1, top_weight.shape[1]
    if class_weight.shape[:2] != top_weight.shape:
        raise ValueError(
            f"class_weight has shape {tuple(class_weight.shape)}; it needs the (T + 1, B) = "
            f"{tuple(top_weight.shape)} of top_weight, then one column per class"
        )
    for name, d in (("image_decided", image_decided), ("class_decided", class_decided)):
        if not isinstance(d, Tensor) or tuple(d.shape) != (B,):
            raise ValueError(f"{name} must be a tensor of shape ({B},), one t per sample")
    threshold = check.fraction(threshold, "threshold")
    fig, grid = axes_grid(axes, 1, 2, (7.5, 3.6), width_ratios=[1.3, 1])
    axes = grid[0]
    t = torch.arange(1, T + 1)
    final = class_weight[1].argmax(dim=-1)  # (B,) the class each sample ends in
    own = class_weight[:, torch.arange(B), final]  # (T + 1, B)
    ax = axes[0]
    for b in range(B):
        ax.plot(t, own[1:, b], color=PALETTE[1], alpha=0.45, lw=1, label="its final class" if b == 0 else None)
        ax.plot(t, top_weight[1:, b], color=PALETTE[0], alpha=0.45, lw=1, label="heaviest image" if b == 0 else None)
    ax.axhline(threshold, color=GRAY, ls=":", lw=1)
    ax.set_xlim(T * 1.02, 0)
    ax.set_xlabel("timestep t (sampling runs left to right)")
    ax.set_ylabel("weight")
    ax.set_title("Weight of the final class and of one image")
    ax.legend(loc="lower right", fontsize=9)
    ax = axes[1]
    idx = torch.arange(B)
    percent = f"{100 * threshold:g}%"
    ax.scatter(class_decided, idx, color=PALETTE[1], label=f"class > {percent}", zorder=3)
    ax.scatter(image_decided, idx, color=PALETTE[0], marker="x", label=f"one image > {percent}", zorder=3)
    ax.set_xlim(T * 1.02, 0)
    ax.set_yticks(idx.tolist())
    ax.tick_params(axis="y", labelsize=9)
    ax.set_xlabel("timestep t")
    ax.set_ylabel("sample")
    ax.set_title("When each sample is decided")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=2, fontsize=9)
    return fig
