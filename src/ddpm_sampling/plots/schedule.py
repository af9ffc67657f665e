"""The noise schedule over t: its fractions and per-step variance, the reverse step's three
coefficients, and the error gain of the one-shot estimate."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .. import _checks as check
from ..schedule import Schedule, error_gain
from .style import COEFFICIENT_COLORS, GRAY, LIGHT_GRAY, axes_grid, figure_of, one_axes


def _mark_end(ax: Axes, schedule: Schedule) -> None:
    ax.set_xlim(0, schedule.T * 1.02)
    ax.set_xlabel("timestep t")


def schedule_plot(schedule: Schedule, axes: Sequence[Axes] | None = None) -> Figure:
    r"""Two panels over t = 0..T: the signal and noise fractions :math:`\bar\alpha_t` and
    :math:`1-\bar\alpha_t`, and the per-step variance :math:`\beta_t` on a log axis. ``axes``: two."""
    check.instance(schedule, Schedule, "schedule", "cosine_schedule")
    fig, grid = axes_grid(axes, 1, 2, (7.5, 3.2))
    axes = grid[0]
    t = torch.arange(schedule.T + 1).numpy()
    ax = axes[0]
    ax.plot(t, schedule.alpha_bar.numpy(), color=COEFFICIENT_COLORS["gain"], lw=2, label=r"signal $\bar\alpha_t$")
    ax.plot(t, (1 - schedule.alpha_bar).numpy(), color=LIGHT_GRAY, lw=1.5, ls="--", label=r"noise $1-\bar\alpha_t$")
    ax.set_title(r"signal and noise fractions")
    ax.set_ylabel("fraction of variance")
    ax.legend(loc="center left", fontsize=9)
    ax = axes[1]
    ax.plot(t[1:], schedule.beta[1:].numpy(), color=COEFFICIENT_COLORS["sigma"], lw=2)
    ax.set_yscale("log")
    ax.set_title(r"per-step variance $\beta_t$")
    ax.set_ylabel(r"$\beta_t$ (log scale)")
    for ax in axes:
        _mark_end(ax, schedule)
    return fig


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
    fig, axes = axes_grid(axes, 3, 2, (7.5, 8.6), width_ratios=[1.5, 1])
    t = torch.arange(1, T + 1)
    rows = [
        ("scale", r"scaling factor $1/\sqrt{\alpha_t}$", schedule.scale, True),
        ("eps_coef", r"noise correction $\beta_t/\sqrt{1-\bar\alpha_t}$", schedule.eps_coef, False),
        ("sigma", r"noise injection $\sigma_t=\sqrt{\beta_t}$", schedule.sigma, True),
    ]
    for (key, title, value, at_end), (whole, close) in zip(rows, axes):
        shown = value[1:] - 1 if key == "scale" else value[1:]
        whole.plot(t.numpy(), shown.numpy(), color=COEFFICIENT_COLORS[key], lw=2)
        whole.set_yscale("log")
        whole.set_title(title + (r" $- 1$" if key == "scale" else "") + ", all t")
        whole.set_ylabel("log scale")
        for m in mark_t:
            whole.axvline(m, color=LIGHT_GRAY, lw=0.8, ls=":")
        _mark_end(whole, schedule)
        ts = torch.arange(T - last + 1, T + 1) if at_end else torch.arange(1, first + 1)
        close.plot(ts.numpy(), value[ts].numpy(), "o-" if at_end else "-", color=COEFFICIENT_COLORS[key], ms=3, lw=1.5)
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
            close.plot([low], [float(value[low])], "o", color=COEFFICIENT_COLORS[key], ms=5)
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
            color=GRAY,
        )
    return fig


def error_gain_plot(schedule: Schedule, mark_t: Sequence[int] = (), ax: Axes | None = None) -> Figure:
    r"""The one-shot error gain :math:`\sqrt{1-\bar\alpha_t}/\sqrt{\bar\alpha_t}` over t, log scale."""
    check.instance(schedule, Schedule, "schedule", "cosine_schedule")
    mark_t = check.timesteps(mark_t, 1, schedule.T, "mark_t")
    ax = one_axes(ax, (6.5, 3.6))
    t = torch.arange(1, schedule.T + 1).numpy()
    gain = error_gain(schedule)
    ax.plot(t, gain.numpy(), color=COEFFICIENT_COLORS["gain"], lw=2)
    for m in mark_t:
        ax.axvline(m, color=LIGHT_GRAY, lw=0.8, ls=":")
        ax.plot([m], [float(gain[m - 1])], "o", color=COEFFICIENT_COLORS["gain"], ms=5)
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
    return figure_of(ax)
