"""The book's plots, grouped by what they show, in one style (:mod:`ddpm_sampling.plots.style`).

Every plot helper is here by name, so a chapter calls ``plots.image_row(...)`` or
``plots.cost_plot(...)`` whichever module draws it:

- :mod:`ddpm_sampling.plots.images`: images, trajectories, samples beside their nearest training images;
- :mod:`ddpm_sampling.plots.schedule`: the noise schedule, the reverse step's coefficients, the error gain;
- :mod:`ddpm_sampling.plots.trace`: what the ideal denoiser leans on along a chain, and when a sample is decided;
- :mod:`ddpm_sampling.plots.network`: the trained network's loss, its error at each t, what survives of an image;
- :mod:`ddpm_sampling.plots.tradeoff`: what a number of steps costs and gives (time, distance, quality).

Each helper draws on the ``ax`` or ``axes`` it is given, or into the figure or subfigure
``fig`` where it lays out panels of its own (a new figure of the right size when they are
``None``), returns the figure and never shows it: showing is the chapter's business.
"""

from .images import (
    image_bands,
    image_grid,
    image_row,
    sample_pairs,
    show_image,
    trajectory_animation,
    trajectory_strip,
    x0_hat_rows,
)
from .network import error_per_t, loss_curve, survival_plot
from .schedule import coefficient_panels, error_gain_plot, schedule_plot
from .style import BOOK_STYLE, COEFFICIENT_COLORS, PALETTE, use_book_style
from .trace import decision_plot, weight_sharing_plot
from .tradeoff import cost_plot, fewer_steps_figure, quality_vs_steps

__all__ = [
    "BOOK_STYLE",
    "COEFFICIENT_COLORS",
    "PALETTE",
    "coefficient_panels",
    "cost_plot",
    "decision_plot",
    "error_gain_plot",
    "error_per_t",
    "fewer_steps_figure",
    "image_bands",
    "image_grid",
    "image_row",
    "loss_curve",
    "quality_vs_steps",
    "sample_pairs",
    "schedule_plot",
    "show_image",
    "survival_plot",
    "trajectory_animation",
    "trajectory_strip",
    "use_book_style",
    "weight_sharing_plot",
    "x0_hat_rows",
]
