"""The book's plot helpers: they return figures and never show them, each is found under
``plots`` by name, and the animation holds every frame."""

from __future__ import annotations

import inspect
import pkgutil
import re

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from ddpm_sampling import cosine_schedule, plots


@pytest.fixture(autouse=True)
def _no_show(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a plot helper called plt.show(); showing is the chapter's business")

    monkeypatch.setattr(plt, "show", refuse)
    yield
    plt.close("all")


def images(n: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return [torch.randn(1, 8, 8, generator=g) for _ in range(n)]


def test_helpers_return_their_figure():
    s = cosine_schedule(50)
    snaps = dict(zip([50, 25, 0], images(3), strict=True))
    figures = [
        plots.image_row(images(3), ["a", "b", "c"]),
        plots.image_grid(images(7), ncols=3),
        plots.trajectory_strip(snaps, snaps),
        plots.coefficient_panels(s, unclipped=cosine_schedule(50, max_beta=None)),
        plots.error_gain_plot(s, mark_t=[10]),
        plots.schedule_plot(s),
    ]
    assert all(isinstance(fig, Figure) for fig in figures)


def test_a_given_axis_is_drawn_on():
    fig, ax = plt.subplots()
    assert plots.error_gain_plot(cosine_schedule(50), ax=ax) is fig
    assert ax.get_yscale() == "log" and ax.lines


def test_titles_must_match_images():
    with pytest.raises(ValueError, match="3 images but 2 titles"):
        plots.image_row(images(3), ["a", "b"])


def test_animation_has_every_frame():
    snaps = dict(zip([30, 20, 10, 0], images(4), strict=True))
    html = plots.trajectory_animation(snaps, snaps)
    assert len(re.findall(r"data:image/png;base64", html)) == 4
    assert not plt.get_fignums(), "the animation's figure was left open"


def test_animation_needs_a_frame():
    with pytest.raises(ValueError, match="snapshots is empty"):
        plots.trajectory_animation({})


# ---- where a helper draws --------------------------------------------------------------------------

#: The modules of ``plots`` that draw no figure: the style (and where a helper draws), and the
#: readers of the helpers' arguments.
NOT_FIGURE_MODULES = {"style", "read"}
#: Public functions of the plot modules that are not figure helpers: the animation (HTML, from a
#: figure of its own that it closes).
NOT_FIGURE_HELPERS = {"trajectory_animation"}


def plot_helpers() -> dict[str, object]:
    """Every public function of every module of ``plots`` that draws, by name."""
    import importlib

    found = {}
    for info in pkgutil.iter_modules(plots.__path__):
        if info.name in NOT_FIGURE_MODULES:
            continue
        module = importlib.import_module(f"{plots.__name__}.{info.name}")
        for name, fn in vars(module).items():
            public = not name.startswith("_") and name not in NOT_FIGURE_HELPERS
            if public and inspect.isfunction(fn) and fn.__module__ == module.__name__:
                assert name not in found, f"two plot helpers named {name}"
                found[name] = fn
    return found


def test_every_plot_helper_is_called_by_its_name_under_plots():
    helpers = plot_helpers()
    assert {"image_row", "cost_plot", "survival_plot", "decision_plot", "schedule_plot"} <= set(helpers)
    for name, fn in {**helpers, "trajectory_animation": plots.trajectory_animation}.items():
        assert getattr(plots, name, None) is fn, f"plots.{name} is not the helper {fn.__module__}.{name}"
        assert name in plots.__all__, name


def test_a_chapter_figure_in_the_book_style_takes_the_palette_in_order():
    from matplotlib.colors import to_hex

    with plt.rc_context(plots.BOOK_STYLE):
        fig, ax = plt.subplots()
        lines = [ax.plot([0, 1])[0] for _ in range(3)]
    assert [to_hex(line.get_color()) for line in lines] == list(plots.PALETTE[:3])


def test_every_helper_draws_in_the_one_palette():
    from matplotlib.colors import to_hex

    allowed = {*plots.PALETTE, *plots.COEFFICIENT_COLORS.values(), "#57606a", "#6e7781"}
    for name, (_, call) in helper_calls().items():
        fig = call(None)
        for ax in all_axes(fig):
            for line in ax.lines:
                assert to_hex(line.get_color()) in allowed, f"{name} draws a line in {line.get_color()}"
        plt.close("all")


def helper_calls() -> dict[str, tuple]:
    """Each helper's call with ``where`` (its ax/axes/fig) and the grid of axes it draws, (rows, cols) or "fig"."""
    s = cosine_schedule(50)
    img, three = images(1)[0], torch.stack(images(3))
    snaps = dict(zip([50, 25, 0], images(3), strict=True))
    return {
        "show_image": ((1, 1), lambda w: plots.show_image(img, "x", ax=w)),
        "image_row": ((1, 3), lambda w: plots.image_row(images(3), ["a", "b", "c"], axes=w)),
        "image_grid": ((3, 3), lambda w: plots.image_grid(images(7), ncols=3, axes=w)),
        "trajectory_strip": ((2, 3), lambda w: plots.trajectory_strip(snaps, snaps, axes=w)),
        "coefficient_panels": ((3, 2), lambda w: plots.coefficient_panels(s, axes=w)),
        "error_gain_plot": ((1, 1), lambda w: plots.error_gain_plot(s, mark_t=[10], ax=w)),
        "schedule_plot": ((1, 2), lambda w: plots.schedule_plot(s, axes=w)),
        "sample_pairs": ((4, 2), lambda w: plots.sample_pairs(three, three, list("abc"), list("def"), ncols=2, axes=w)),
        "x0_hat_rows": ((2, 2), lambda w: plots.x0_hat_rows({50: three, 0: three}, [0, 2], ["p", "q"], axes=w)),
        "decision_plot": (
            (1, 2),
            lambda w: plots.decision_plot(
                torch.rand(51, 3),
                torch.rand(51, 3, 4).softmax(-1),
                torch.tensor([5, 9, 2]),
                torch.tensor([7, 9, 3]),
                axes=w,
            ),
        ),
        "weight_sharing_plot": ((1, 2), lambda w: plots.weight_sharing_plot(s, 1 + 9 * torch.rand(s.T + 1, 3), axes=w)),
        "cost_plot": ((1, 1), lambda w: plots.cost_plot([1, 10], {"net": [0.1, 1.0]}, {"net": 0.1}, ax=w)),
        "fewer_steps_figure": (
            "fig",
            lambda w: plots.fewer_steps_figure(
                [1, 10], {"a": [0.1, 1.0]}, {"a": [0.5, 0.0]}, [0.5, 1.0], {"a": [images(2), images(2)]}, 2, fig=w
            ),
        ),
        "loss_curve": ((1, 1), lambda w: plots.loss_curve([(1, 0.5), (2, 0.4)], ax=w)),
        "image_bands": ("fig", lambda w: plots.image_bands({"a": three, "b": three[:1]}, ncols=2, fig=w)),
        "error_per_t": (
            (1, 2),
            lambda w: plots.error_per_t([1, 2], [0.1, 0.2], [0.3, 0.4], 0.1, [1.0, 2.0], 0.5, axes=w),
        ),
        "quality_vs_steps": (
            (1, 2),
            lambda w: plots.quality_vs_steps(
                {"a": [1, 2]}, {"a": [3.0, 2.0]}, {"a": [0.1, 0.2]}, {"r": (1.0, 0.1)}, axes=w
            ),
        ),
        "survival_plot": ((1, 2), lambda w: plots.survival_plot([100, 200], [0.9, 0.5], [0.1, 0.2], axes=w)),
    }


def test_every_plot_helper_takes_where_to_draw_and_returns_the_figure():
    helpers, calls = plot_helpers(), helper_calls()
    assert sorted(helpers) == sorted(calls), "a plot helper without an example call here, or an example too many"
    for name, fn in helpers.items():
        params = inspect.signature(fn).parameters
        where = [p for p in ("ax", "axes", "fig") if p in params]
        assert len(where) == 1 and params[where[0]].default is None, f"{name} takes no ax, axes or fig = None"
        assert inspect.signature(fn).return_annotation in ("Figure", Figure), name


def all_axes(figure) -> list:
    """The axes of a figure or subfigure and of every subfigure inside it."""
    return list(figure.axes) + [ax for sub in figure.subfigs for ax in all_axes(sub)]


@pytest.mark.parametrize("name", sorted(helper_calls()))
def test_a_plot_helper_draws_where_it_is_told(name):
    grid, call = helper_calls()[name]
    assert isinstance(call(None), Figure)  # a new figure of its own
    fig = plt.figure(figsize=(7.5, 6))
    if grid == "fig":  # it lays out its own panels, here inside one half of the figure
        left, _ = fig.subfigures(1, 2)
        assert call(left) is fig
        assert all_axes(left) and not all_axes(fig.subfigs[1])
        return
    axes = fig.subplots(*grid, squeeze=False)
    given = axes[0, 0] if grid == (1, 1) else axes
    assert call(given) is fig
    assert all(ax.images or ax.lines or ax.collections or not ax.axison for ax in axes.flat)
    assert any(ax.images or ax.lines or ax.collections for ax in axes.flat)
    if grid != (1, 1):  # one Axes short is refused, naming what is needed
        with pytest.raises(ValueError, match=rf"axes must be {grid[0]} x {grid[1]} matplotlib Axes"):
            call(fig.subplots(grid[0], grid[1] - 1, squeeze=False) if grid[1] > 1 else axes[:-1])
    with pytest.raises(TypeError, match=r"(ax|axes) must .*Axes, got 'a' \(str\)"):
        call(np.full(grid, "a", dtype=object) if grid != (1, 1) else "a")


def test_a_count_of_columns_is_read_like_every_count():
    with pytest.raises(ValueError, match=r"ncols = 0 is outside the valid range: an int >= 1"):
        plots.image_grid(images(3), ncols=0)
    with pytest.raises(TypeError, match=r"ncols must be an int, got 2\.0"):
        plots.image_grid(images(3), ncols=2.0)
    with pytest.raises(ValueError, match=r"got 3 images but 2 titles"):
        plots.image_grid(images(3), ["a", "b"])
