"""The book's plot helpers: they return figures, never show them, and the animation
is complete offline."""

from __future__ import annotations

import re

import matplotlib.pyplot as plt
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


def test_animation_has_every_frame_and_no_request_off_the_page():
    snaps = dict(zip([30, 20, 10, 0], images(4), strict=True))
    html = plots.trajectory_animation(snaps, snaps)
    assert len(re.findall(r"data:image/png;base64", html)) == 4
    assert not re.search(r"(src|href)=\"(https?:)?//", html), "the animation loads something from another host"


def test_animation_is_described_labelled_and_fits_a_narrow_column():
    snaps = dict(zip([20, 0], images(2), strict=True))
    html = plots.trajectory_animation(snaps, alt='noise "becomes" a shirt')
    assert re.search(r'<img id="_anim_img\w+" alt="noise &quot;becomes&quot; a shirt">', html)
    assert re.search(r'<input id="_anim_slider\w+" type="range" class="anim-slider" aria-label="Frame"', html)
    assert "input[type=range].anim-slider { max-width: 100%; }" in html  # matplotlib's 374 px at most the column


def test_animation_needs_a_frame():
    with pytest.raises(ValueError, match="snapshots is empty"):
        plots.trajectory_animation({})


def test_small_text_finds_text_that_the_page_shrinks_below_the_limit():
    import matplotlib.pyplot as plt

    from ddpm_sampling.plots import MIN_TEXT_PX, PAGE_WIDTH_PX, small_text

    fig, ax = plt.subplots(figsize=(PAGE_WIDTH_PX / 100, 3), dpi=100)
    ax.set_title("readable", fontsize=10)
    ax.tick_params(labelsize=10)
    assert small_text(fig) == []
    ax.set_xlabel("tiny", fontsize=6)
    assert small_text(fig) == [f"'tiny' at {6 * 100 / 72:.1f} px"]
    # the same 10-point text in a figure twice as wide as the page is shown at half size
    fig.set_figwidth(2 * PAGE_WIDTH_PX / 100)
    assert any(f"{10 * 100 / 72 / 2:.1f} px" in s for s in small_text(fig))
    assert MIN_TEXT_PX > 10 * 100 / 72 / 2
    plt.close("all")
