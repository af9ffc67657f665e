"""The DDPM sampling loop (Ho et al. 2020, Algorithm 2), and the one chain every sampler runs.

A sampler is a list of reverse steps. Each step asks the model once, at its timestep t, and
moves x from t to an earlier time. :func:`reverse_chain` runs such a list and yields x after
every step; :func:`ddpm_sample` here and the fewer-step samplers of :mod:`ddpm_sampling.respacing`
only say which steps to take. Sampling never builds an autograd graph: the chain runs
under ``torch.no_grad()``, so a network with trainable parameters keeps no step's graph alive.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import NamedTuple

import torch
from torch import Tensor

from ._checks import check_image, check_timestep
from .models import Model, check_model_output
from .schedule import Schedule
from .steps import (
    Generators,
    Variance,
    _clip_eps,
    _predict_x0,
    _reverse_step,
    check_generator,
    check_variance,
    randn_like_batch,
)


class ReverseStep(NamedTuple):
    """One step of a sampler: ask the model at ``t``, then ``update(x, eps) -> x`` at ``t_next``."""

    t: int  # the timestep the model is asked at
    t_next: int  # the time x is at after the step (0: the clean image)
    update: Callable[[Tensor, Tensor], Tensor]


def reverse_chain(
    model: Model, schedule: Schedule, x: Tensor, steps: Iterable[ReverseStep], *, clip_x0: bool = False
) -> Iterator[tuple[int, Tensor]]:
    """Run ``steps`` from ``x``; yield ``(t_next, x)`` after each one.

    With ``clip_x0`` the model's clean-image estimate is clipped to the data range [-1, 1]
    at every step and the noise prediction re-derived from it (diffusers' ``clip_sample``).
    Every output of the model is checked for its shape and dtype (not scanned: cheap).
    """
    with torch.no_grad():
        for step in steps:
            eps = model(x, step.t)
            check_model_output(eps, x, step.t)
            if clip_x0:
                eps = _clip_eps(x, step.t, eps, schedule)
            x = step.update(x, eps)
            yield step.t_next, x


def final_image(chain: Iterator[tuple[int, Tensor]]) -> Tensor:
    """Run a :func:`reverse_chain` to its end and return the last x (keeping no other)."""
    last = None
    for _, last in chain:  # noqa: B007 - the loop keeps only the latest x
        pass
    return last


def start_noise(
    schedule: Schedule,
    shape: tuple[int, ...] | None,
    x_T: Tensor | None,
    start_t: int | None,
    generator: Generators,
) -> tuple[Tensor, int]:
    """Check a sampler's starting point and return (x at start_t, start_t): fresh noise for
    ``shape``, or a copy of ``x_T`` (the caller's tensor is never modified or kept)."""
    if (shape is None) == (x_T is None):
        raise ValueError("give exactly one of shape (to start from pure noise) or x_T (a given start)")
    start_t = schedule.T if start_t is None else start_t
    check_timestep(start_t, 1, schedule.T, name="start_t")
    if x_T is None:
        shape = tuple(shape)
        if len(shape) not in (3, 4) or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in shape):
            raise ValueError(f"shape = {shape} must be (C, H, W) or (B, C, H, W) with positive ints")
        x = torch.empty(shape)
        check_generator(generator, x)
        return randn_like_batch(x, generator), start_t
    check_image(x_T, "x_T")
    check_generator(generator, x_T)
    return x_T.clone(), start_t


def check_finite_result(x: Tensor) -> None:
    """A sampler's output must be finite; a model that diverged is an error, not an image."""
    if not torch.isfinite(x).all():
        raise ValueError("sampling produced non-finite values; check the model's predictions and the schedule")


def ddpm_steps(schedule: Schedule, start_t: int, generator: Generators, variance: Variance) -> Iterator[ReverseStep]:
    """Algorithm 2's steps from ``start_t`` down to 1: each one :func:`~ddpm_sampling.reverse_step`."""
    for t in range(start_t, 0, -1):
        yield ReverseStep(t, t - 1, lambda x, eps, t=t: _reverse_step(x, t, eps, schedule, None, generator, variance))


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
    clip_x0: bool = False,
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
        clip_x0: clip the model's clean-image estimate to [-1, 1] at every step and re-derive
            the noise from it. Off by default: the loop is then exactly Algorithm 2.

    Returns:
        ``(x_0, snapshots)``: x_0 has the shape of the start and ``snapshots`` maps
        each asked timestep to x at that time.
    """
    x, start_t = start_noise(schedule, shape, x_T, start_t, generator)
    check_variance(variance)
    check_flag(clip_x0, "clip_x0")
    wanted = set()
    for t in snapshot_timesteps:
        check_timestep(t, 0, start_t, name="snapshot timestep")
        wanted.add(int(t))
    snapshots = {start_t: x.clone()} if start_t in wanted else {}
    steps = ddpm_steps(schedule, start_t, generator, variance)
    for t, x_t in reverse_chain(model, schedule, x, steps, clip_x0=clip_x0):
        if t in wanted:
            snapshots[t] = x_t.clone()
    check_finite_result(x_t)
    return x_t, dict(sorted(snapshots.items(), reverse=True))


def check_flag(value: object, name: str) -> None:
    """Raise ``TypeError`` unless ``value`` is a bool (a truthy tensor or string is a mistake, not a yes)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r} ({type(value).__name__})")


def x0_predictions(model: Model, schedule: Schedule, snapshots: dict[int, Tensor]) -> dict[int, Tensor]:
    """The model's one-shot estimate of x_0 from each snapshot x_t (x_0 itself at t = 0).

    Beneath a trajectory, these show what the sampler "aims at" at each time.
    """
    out = {}
    with torch.no_grad():
        for t, x_t in snapshots.items():
            check_timestep(t, 0, schedule.T, name="snapshot timestep")
            out[t] = x_t.clone() if t == 0 else _predict_x0(x_t, t, model(x_t, t), schedule)
    return out
