"""How a chapter's cells hand values, figures and animations to its page: myst-nb's ``glue``, ``glue_figure``
and ``glue_animation``, and what the page needs of them (:func:`small_text`).

The chapters import them as ``from _ext.glue_helpers import glue, glue_figure``: they run with ``book/`` as
their working directory, in the book's kernels and on Binder. This is build plumbing, not part of the package
that readers import: the notebooks made for readers drop it (``plain_code.py``). Without myst-nb (a chapter
opened as a notebook on Binder) there is no page to glue to: ``glue`` then shows the value if asked to, and
``glue_figure`` and ``glue_animation`` show what they are given.
"""

import html
import re
from typing import Any

import matplotlib.pyplot as plt
from IPython.display import HTML
from IPython.display import display as show
from matplotlib.figure import Figure
from matplotlib.text import Text

try:
    from myst_nb import glue as _myst_glue
except ImportError:  # no book build here: nothing reads the glued values
    _myst_glue = None

__all__ = ["glue", "glue_animation", "glue_figure"]

#: The width in CSS pixels of the page's text column in a 1280-pixel-wide window (the site
#: tests check it): a wider figure is scaled down to it, and its text with it.
PAGE_WIDTH_PX = 700
#: The smallest text, in CSS pixels on the page, that a figure may have.
MIN_TEXT_PX = 9.0


def small_text(fig: Figure, page_px: float = PAGE_WIDTH_PX, min_px: float = MIN_TEXT_PX) -> list[str]:
    """A description of every visible text of ``fig`` that the page shows smaller than ``min_px`` CSS pixels: a
    figure saved at ``fig.dpi`` is ``width x dpi`` pixels wide and shown at most ``page_px`` wide, so a text of
    ``s`` points appears ``s x dpi / 72 x min(1, page_px / (width x dpi))`` pixels high."""
    scale = min(1.0, page_px / (fig.get_figwidth() * fig.dpi))
    found = []
    for text in fig.findobj(Text):
        px = text.get_fontsize() * fig.dpi / 72 * scale
        if text.get_visible() and text.get_text().strip() and px < min_px - 1e-9:
            found.append(f"{text.get_text()[:40]!r} at {px:.1f} px")
    return found


def glue(name: str, value: Any, display: bool = True) -> None:
    """Glue ``value`` under ``name`` for the page's ``{glue:text}`` roles and ``{glue}`` directives (myst-nb)."""
    if _myst_glue is not None:
        _myst_glue(name, value, display=display)
    elif display:
        show(value)


def glue_figure(name: str, fig: Figure) -> None:
    """Glue ``fig`` under ``name`` for a ``{glue:figure}`` and close it, so that the cell does not show it twice;
    a ``ValueError`` fails the build rather than print a text too small to read (:func:`small_text`)."""
    if too_small := small_text(fig):
        plt.close(fig)
        raise ValueError(f"figure {name!r} has text too small to read on the page: {', '.join(too_small)}")
    glue(name, fig, display=_myst_glue is None)  # without a page to glue to, the figure is shown here
    plt.close(fig)


def animation_html(animation: str, alt: str) -> str:
    """Matplotlib's HTML animation (``to_jshtml``) made fit for the page: complete offline, described
    for readers who cannot see it (``alt``, the frame's alt text), labelled, and no wider than the text column."""
    if not isinstance(alt, str):
        raise TypeError(f"alt must be a str, got {alt!r} ({type(alt).__name__})")
    # matplotlib links Font Awesome from a CDN for the button icons; the site ships its own copy
    # (the theme's), and a page that reaches off its host is not complete offline
    out = re.sub(r"<link[^>]*font-awesome[^>]*>\n?", "", animation)
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


def glue_animation(name: str, animation: HTML, alt: str) -> None:
    """Glue an HTML animation (``HTML(plots.trajectory_animation(...))``) under ``name`` for a
    ``{glue:figure}``, made fit for the page by :func:`animation_html` with the description ``alt``."""
    glue(name, HTML(animation_html(animation.data, alt)), display=_myst_glue is None)
