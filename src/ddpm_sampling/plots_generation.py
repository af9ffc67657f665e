"""Plots of the generation and cost chapters, in the book's style (see :mod:`ddpm_sampling.plots`).

Each helper draws on the ``ax`` or ``axes`` it is given, or into the figure or subfigure ``fig``
where it lays out panels of its own (a new figure when they are ``None``), returns the figure
and never shows it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure
from torch import Tensor

from . import _checks as check
from .plots import BOOK_STYLE, _axes_grid, _figure_of, _figure_to_draw_in, _one_axes, show_image
from .schedule import Schedule

#: One color per sampler or model, kept across the two chapters.
SERIES_COLORS = ["#0969da", "#cf222e", "#1a7f37", "#8250df", "#bf8700"]


def _numbers(
    values: object, name: str, *, positive: bool = False, length: int | None = None, per: str = "steps"
) -> list[float]:
    """A non-empty sequence (list, NumPy array or 1-d tensor) of finite real numbers, as floats;
    ``positive``: each > 0 (for a log axis); ``length``: exactly that many, one per entry of the
    argument named ``per`` (both are named when the lengths differ)."""
    if isinstance(values, Tensor):
        if values.dim() != 1:
            raise ValueError(f"{name} must be a 1-d sequence of numbers, got a tensor of shape {tuple(values.shape)}")
        values = values.detach().cpu().double().tolist() if values.dtype.is_floating_point else values.tolist()
    elif hasattr(values, "tolist") and not isinstance(values, (str, bytes)):  # a NumPy array
        values = values.tolist()
    if isinstance(values, (str, bytes, dict)) or not isinstance(values, Sequence):
        raise TypeError(f"{name} must be a sequence of numbers, got {check.describe(values)}")
    read = [check.real(v, f"{name}[{i}]") for i, v in enumerate(values)]
    if not read:
        raise ValueError(f"{name} is empty; it needs at least one number")
    if length is not None and len(read) != length:
        raise ValueError(f"{name} has {len(read)} numbers; it needs {length}, one per entry of {per}")
    for i, v in enumerate(read):
        if not math.isfinite(v) or (positive and v <= 0):
            kind = "a finite number > 0 (drawn on a log axis)" if positive else "a finite number"
            raise ValueError(f"{name}[{i}] = {v!r} is outside the valid range: {kind}")
    return read


def _step_counts(steps: object, name: str = "steps") -> list[int]:
    """A non-empty sequence of step counts, each an int >= 1 (drawn on a log axis)."""
    if hasattr(steps, "tolist") and not isinstance(steps, Tensor):
        steps = steps.tolist()
    counts = [check.count(n, f"{name}[{i}]") for i, n in enumerate(_sequence(steps, name))]
    if not counts:
        raise ValueError(f"{name} is empty; it needs at least one step count")
    return counts


def _sequence(values: object, name: str) -> list:
    """A list, tuple or tensor (along its first dimension) as a list of its items."""
    if isinstance(values, Tensor):
        if values.dim() == 0:
            raise ValueError(f"{name} must be a sequence, got a 0-d tensor")
        return list(values)
    if isinstance(values, (str, bytes, dict)) or not isinstance(values, Sequence):
        raise TypeError(f"{name} must be a sequence, got {check.describe(values)}")
    return list(values)


def _titles(titles: object, n: int, name: str, per: str = "the images") -> list[str]:
    """``n`` titles, each a str, one per entry of the argument named ``per``."""
    titles = _sequence(titles, name)
    if len(titles) != n:
        raise ValueError(f"{name} has {len(titles)} titles; it needs {n}, one per entry of {per}")
    for i, title in enumerate(titles):
        if not isinstance(title, str):
            raise TypeError(f"{name}[{i}] must be a str, got {check.describe(title)}")
    return titles


def _series(value: object, name: str, keys: list[str] | None = None, most: int = len(SERIES_COLORS)) -> dict:
    """A dict from series names (str) to their data, with 1..``most`` series (one color each),
    and exactly ``keys`` when given."""
    if not isinstance(value, dict):
        raise TypeError(f"{name} must be a dict from series names to their values, got {check.describe(value)}")
    for key in value:
        if not isinstance(key, str):
            raise TypeError(f"{name} must have str keys (series names), got {key!r}")
    if keys is None and not 1 <= len(value) <= most:
        raise ValueError(f"{name} has {len(value)} series; it takes 1..{most}, one color or line style each")
    if keys is not None and list(value) != keys and set(value) != set(keys):
        raise ValueError(f"{name} must have the series {keys}, the same as the first argument, got {list(value)}")
    return value


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
        _titles(top_titles, n, "top_titles", "samples"),
        _titles(bottom_titles, n, "bottom_titles", "samples"),
    )
    bands = -(-n // ncols)
    fig, axes = _axes_grid(axes, 2 * bands, ncols, (0.92 * ncols, 2.5 * bands))
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
    rows = [check.count(b, f"rows[{i}]", 0, batch - 1) for i, b in enumerate(_sequence(rows, "rows"))]
    if not rows:
        raise ValueError("rows is empty; give at least one sample index")
    row_labels = _titles(row_labels, len(rows), "row_labels", per="rows")
    ts = sorted(x0_hats, reverse=True)
    fig, axes = _axes_grid(axes, len(rows), len(ts), (0.62 * len(ts) + 0.8, 0.75 * len(rows) + 0.6))
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


def _per_step(x: object, name: str, dims: int) -> Tensor:
    """``x`` on the CPU, checked to have ``dims`` dimensions and one row per timestep t = 0..T, T >= 1."""
    if not isinstance(x, Tensor) or x.dim() != dims or x.shape[0] < 2 or x.numel() == 0:
        rows = "(T + 1, B)" if dims == 2 else "(T + 1, B, K)"
        raise ValueError(f"{name} must be a tensor of shape {rows} with T, B >= 1, one row per timestep")
    check.tensor(x, name)
    x = x.detach().cpu()
    return x if x.dtype in (torch.float32, torch.float64) else x.float()  # matplotlib draws no float16


def weight_sharing_plot(schedule: Schedule, effective_number: Tensor, axes: Sequence[Axes] | None = None) -> Figure:
    """Why the weight of the ideal denoiser concentrates, and how fast.

    Left: the two numbers of the schedule in its weights, :math:`\\sqrt{\\bar\\alpha_t}` and the
    denominator :math:`2(1-\\bar\\alpha_t)`, against t. Right: the effective number of training
    images sharing the weight, ``effective_number`` (T + 1, B) of a :class:`~ddpm_sampling.trace.Trace`,
    one line per sample, on a log axis.
    """
    check.schedule(schedule)
    effective_number = _per_step(effective_number, "effective_number", 2)
    T = effective_number.shape[0] - 1
    if T != schedule.T:
        raise ValueError(f"effective_number has rows for T = {T} steps, the schedule has T = {schedule.T}")
    fig, grid = _axes_grid(axes, 1, 2, (7.5, 3.4))
    axes = grid[0]
    t = torch.arange(1, T + 1)
    ax = axes[0]
    ax.plot(t, schedule.sqrt_alpha_bar[1:], color=SERIES_COLORS[0], label="$\\sqrt{\\bar\\alpha_t}$")
    ax.plot(t, 2 * (1 - schedule.alpha_bar[1:]), color=SERIES_COLORS[1], label="$2(1-\\bar\\alpha_t)$")
    ax.set_ylim(0, 2.1)
    ax.set_xlabel("timestep t (sampling runs left to right)")
    ax.set_title("The schedule in the weights")
    ax.legend(fontsize=10, loc="center left")
    ax = axes[1]
    for b in range(effective_number.shape[1]):
        ax.plot(t, effective_number[1:, b], color=SERIES_COLORS[0], alpha=0.45, lw=1)
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
    top_weight = _per_step(top_weight, "top_weight", 2)
    class_weight = _per_step(class_weight, "class_weight", 3)
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
    fig, grid = _axes_grid(axes, 1, 2, (7.5, 3.6), width_ratios=[1.3, 1])
    axes = grid[0]
    t = torch.arange(1, T + 1)
    final = class_weight[1].argmax(dim=-1)  # (B,) the class each sample ends in
    own = class_weight[:, torch.arange(B), final]  # (T + 1, B)
    ax = axes[0]
    for b in range(B):
        ax.plot(t, own[1:, b], color=SERIES_COLORS[1], alpha=0.45, lw=1, label="its final class" if b == 0 else None)
        ax.plot(
            t, top_weight[1:, b], color=SERIES_COLORS[0], alpha=0.45, lw=1, label="heaviest image" if b == 0 else None
        )
    ax.axhline(threshold, color="#57606a", ls=":", lw=1)
    ax.set_xlim(T * 1.02, 0)
    ax.set_xlabel("timestep t (sampling runs left to right)")
    ax.set_ylabel("weight")
    ax.set_title("Weight of the final class and of one image")
    ax.legend(loc="lower right", fontsize=9)
    ax = axes[1]
    idx = torch.arange(B)
    percent = f"{100 * threshold:g}%"
    ax.scatter(class_decided, idx, color=SERIES_COLORS[1], label=f"class > {percent}", zorder=3)
    ax.scatter(image_decided, idx, color=SERIES_COLORS[0], marker="x", label=f"one image > {percent}", zorder=3)
    ax.set_xlim(T * 1.02, 0)
    ax.set_yticks(idx.tolist())
    ax.tick_params(axis="y", labelsize=9)
    ax.set_xlabel("timestep t")
    ax.set_ylabel("sample")
    ax.set_title("When each sample is decided")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=2, fontsize=9)
    return fig


def cost_plot(
    steps: Sequence[int], per_sample: dict[str, Sequence[float]], per_call: dict[str, float], ax: Axes | None = None
) -> Figure:
    """Seconds per sample against the number of steps, log-log, one series per model.

    Measured points are dots; the dashed line is steps x the model's measured cost per call,
    what the time would be if the sampler itself cost nothing.
    """
    steps = _step_counts(steps)
    per_sample = {
        name: _numbers(times, f"per_sample[{name!r}]", positive=True)
        for name, times in _series(per_sample, "per_sample").items()
    }
    for name, times in per_sample.items():
        if len(times) > len(steps):
            raise ValueError(f"per_sample[{name!r}] has {len(times)} times for the {len(steps)} step counts in steps")
    per_call = {
        name: check.positive(v, f"per_call[{name!r}]", ": seconds per model call")
        for name, v in _series(per_call, "per_call", list(per_sample)).items()
    }
    ax = _one_axes(ax, (7.5, 4.4))
    fewest_to_most = torch.tensor([min(steps), max(steps)], dtype=torch.float64)
    for color, (name, times) in zip(SERIES_COLORS, per_sample.items()):
        ax.plot(steps[: len(times)], times, "o-", color=color, label=name, lw=1.5)
        ax.plot(fewest_to_most, fewest_to_most * per_call[name], "--", color=color, lw=1, alpha=0.7)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("number of steps (model calls)")
    ax.set_ylabel("seconds per sample (log scale)")
    ax.set_title("Sampling time: steps times the cost of one model call")
    ax.legend(fontsize=9, loc="upper left")
    return _figure_of(ax)


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
    steps = _step_counts(steps)
    names = list(_series(seconds, "seconds"))
    seconds = {n: _numbers(seconds[n], f"seconds[{n!r}]", positive=True, length=len(steps)) for n in names}
    distance = _series(distance, "distance", names)
    distance = {n: _numbers(distance[n], f"distance[{n!r}]", length=len(steps)) for n in names}
    agree = _numbers(agree, "agree", length=len(steps))
    if any(not 0 <= a <= 1 for a in agree):
        raise ValueError(f"agree = {agree} must hold fractions in [0, 1]")
    samples = _series(samples, "samples", names)
    for n in names:
        rows = _sequence(samples[n], f"samples[{n!r}]")
        if len(rows) != len(steps):
            raise ValueError(
                f"samples[{n!r}] has {len(rows)} rows and steps has {len(steps)}: they need one row per step count"
            )
        for r, row in enumerate(rows):
            if len(_sequence(row, f"samples[{n!r}][{r}]")) < ncols:
                raise ValueError(f"samples[{n!r}][{r}] has {len(row)} images, fewer than ncols = {ncols}")
    with plt.rc_context(BOOK_STYLE):
        fig = _figure_to_draw_in(fig, (7.5, 3.2 + 0.8 * len(steps)))
        top, bottom = fig.subfigures(2, 1, height_ratios=[3.2, 0.8 * len(steps)])
        ax_t, ax_d, ax_a = top.subplots(1, 3)
        panels = bottom.subfigures(1, len(names), squeeze=False)[0]
    for color, name in zip(SERIES_COLORS, names):
        ax_t.plot(steps, seconds[name], "o-", color=color, label=name)
        ax_d.plot(steps, [max(d, floor) for d in distance[name]], "o-", color=color, label=name)
    ax_a.plot(steps, [100 * (1 - a) for a in agree], "s-", color=SERIES_COLORS[0], label="DDIM")
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
