"""The DDPM sampling loop (Ho et al. 2020, Algorithm 2)."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor

from ._checks import check_image, check_timestep
from .models import Model, check_model_output
from .schedule import Schedule
from .steps import Generators, Variance, _predict_x0, _reverse_step, check_generator, check_variance, randn_like_batch


def _start(
    schedule: Schedule,
    shape: tuple[int, ...] | None,
    x_T: Tensor | None,
    start_t: int | None,
    generator: Generators,
) -> tuple[Tensor, int]:
    """Check a sampler's starting point and return (x at start_t, start_t)."""
    if (shape is None) == (x_T is None):
        raise ValueError("give exactly one of shape (to start from pure noise) or x_T (a given start)")
    start_t = schedule.T if start_t is None else start_t
    check_timestep(start_t, 1, schedule.T, name="start_t")
    if x_T is None:
        shape = tuple(shape)
        if len(shape) not in (3, 4) or any(not isinstance(n, int) or n < 1 for n in shape):
            raise ValueError(f"shape = {shape} must be (C, H, W) or (B, C, H, W) with positive ints")
        x = torch.empty(shape)
        check_generator(generator, x)
        return randn_like_batch(x, generator), start_t
    check_image(x_T, "x_T")
    check_generator(generator, x_T)
    return x_T.clone(), start_t


def check_result(x: Tensor) -> None:
    """A sampler's output must be finite; a model that diverged is an error, not an image."""
    if not torch.isfinite(x).all():
        raise ValueError("sampling produced non-finite values; check the model's predictions and the schedule")


def ddpm_sample(
    model: Model,
    schedule: Schedule,
    *,
    shape: tuple[int, ...] | None = None,
    x_T: Tensor | None = None,
    start_t: int | None = None,
    snapshot_timesteps: Iterable[int] = (),
    generator: Generators = None,
    variance: Variance = "beta",
) -> tuple[Tensor, dict[int, Tensor]]:
    """Algorithm 2 of DDPM: from x at ``start_t`` down to x_0, one reverse step at a time.

    Args:
        model: ``model(x_t, t) -> eps``, called once per step with an int t.
        schedule: the noise schedule.
        shape: (C, H, W) or (B, C, H, W) to start from pure noise x_T ~ N(0, I).
        x_T: the starting image(s) instead of ``shape``; it is x at ``start_t`` and is not modified.
        start_t: the timestep of the start, in 1..T (default T). The lesson's
            Exercise 3 starts from x_800.
        snapshot_timesteps: timesteps in 0..start_t at which to keep a copy of x.
        generator: the ``torch.Generator`` for x_T and every z, or a list of B of them
            so that each image of a batch matches its own single run.
        variance: ``"beta"`` or ``"beta_tilde"``, see :func:`reverse_step`.

    Returns:
        ``(x_0, snapshots)``: x_0 has the shape of the start and ``snapshots`` maps
        each asked timestep to x at that time.
    """
    x, start_t = _start(schedule, shape, x_T, start_t, generator)
    check_variance(variance)
    wanted = set()
    for t in snapshot_timesteps:
        check_timestep(t, 0, start_t, name="snapshot timestep")
        wanted.add(int(t))
    snapshots = {start_t: x.clone()} if start_t in wanted else {}
    for t in range(start_t, 0, -1):
        eps = model(x, t)
        if t == start_t:
            check_model_output(eps, x, t)
        x = _reverse_step(x, t, eps, schedule, None, generator, variance)
        if t - 1 in wanted:
            snapshots[t - 1] = x.clone()
    check_result(x)
    return x, dict(sorted(snapshots.items(), reverse=True))


def x0_predictions(model: Model, schedule: Schedule, snapshots: dict[int, Tensor]) -> dict[int, Tensor]:
    """The model's one-shot estimate of x_0 from each snapshot x_t (x_0 itself at t = 0).

    Beneath a trajectory, these show what the sampler "aims at" at each time.
    """
    out = {}
    for t, x_t in snapshots.items():
        check_timestep(t, 0, schedule.T, name="snapshot timestep")
        out[t] = x_t.clone() if t == 0 else _predict_x0(x_t, t, model(x_t, t), schedule)
    return out
