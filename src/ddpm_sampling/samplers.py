"""The DDPM sampling loop (Ho et al. 2020, Algorithm 2), and the one chain every sampler runs.

A sampler is a list of reverse steps. Each step asks the model once, at its timestep t, and
moves x from t to an earlier time. :func:`reverse_chain` runs such a list and yields x after
every step; :func:`~ddpm_sampling.ddpm_sample` here and the fewer-step samplers of :mod:`ddpm_sampling.respacing`
only say which steps to take. Sampling never builds an autograd graph: each step runs
under ``torch.no_grad()``, so a network with trainable parameters keeps no step's graph alive;
between steps, while a chain is paused, the caller's grad mode is the caller's.

Every sampler reads its arguments once, before the first step; then each model output is checked
for its type, shape, dtype and device (cheap: no value is read), and the result for finite values.
An exception raised by the model itself passes through unchanged, with a note of the step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import partial
from typing import NamedTuple

import torch
from torch import Tensor

from . import _checks as check
from .models import Model
from .schedule import Schedule
from .steps import VARIANCES, Generators, Variance, _eps_of_clipped_x0, _predict_x0, _randn_like, _reverse_step_at

#: What a non-finite sample says about its cause.
DIVERGED = (
    "the chain diverged; check the model's predictions and the schedule (an unclipped one, max_beta=None, "
    "scales x by 1/sqrt(alpha_T), about 1e16, in its first step)"
)


class ReverseStep(NamedTuple):
    """One step of a sampler: ask the model at ``t``, then ``update(x, eps) -> x`` at ``t_next``."""

    t: int  # the timestep the model is asked at
    t_next: int  # the time x is at after the step (0: the clean image)
    update: Callable[[Tensor, Tensor], Tensor]


def _ask(model: Model, x: Tensor, t: int) -> Tensor:
    """The model's prediction at (x, t), checked for its shape and dtype; its own exceptions get a note."""
    try:
        eps = model(x, t)
    except Exception as err:
        err.add_note(f"(raised by the model, called at t = {t})")
        raise
    check.model_output(eps, x, t)
    return eps


def _reverse_chain(
    model: Model, schedule: Schedule, x: Tensor, steps: Iterable[ReverseStep], clip_x0: bool
) -> Iterator[tuple[int, Tensor]]:
    # no_grad around each step only, never across a yield: a paused chain leaves the caller's
    # grad mode as the caller set it, and a step that raises restores it on the way out
    for step in steps:
        with torch.no_grad():
            eps = _ask(model, x, step.t)
            if clip_x0:
                eps = _eps_of_clipped_x0(x, step.t, eps, schedule)
            x = step.update(x, eps)
        yield step.t_next, x


def reverse_chain(
    model: Model, schedule: Schedule, x: Tensor, steps: Iterable[ReverseStep], *, clip_x0: bool = False
) -> Iterator[tuple[int, Tensor]]:
    """Run ``steps`` from ``x``; yield ``(t_next, x)`` after each one.

    With ``clip_x0`` the model's clean-image estimate is clipped to the data range [-1, 1]
    at every step and the noise prediction re-derived from it (diffusers' ``clip_sample``).
    Every output of the model is checked for its shape and dtype (not scanned: cheap).

    Args:
        model: ``model(x_t, t) -> eps``.
        schedule: the noise schedule the model was trained with.
        x: the start, a floating tensor (C, H, W) or (B, C, H, W) of finite values. The chain runs
            lazily, from a copy taken when it is made: a later in-place edit of ``x`` does not reach it.
        steps: :class:`ReverseStep` s, each with ``t`` an int in 1..T and ``t_next`` in 0..t - 1.
    """
    check.callable_model(model)
    check.schedule(schedule)
    check.image(x, "x")
    check.flag(clip_x0, "clip_x0")
    if not isinstance(steps, Iterable):
        raise TypeError(f"steps must be an iterable of ReverseStep, got {check.describe(steps)}")

    def read(steps: Iterable[ReverseStep]) -> Iterator[ReverseStep]:
        for i, step in enumerate(steps):
            if not isinstance(step, ReverseStep):
                raise TypeError(f"steps[{i}] must be a ReverseStep, got {check.describe(step)}")
            t = check.count(step.t, f"steps[{i}].t", 1, schedule.T)
            t_next = check.count(step.t_next, f"steps[{i}].t_next", 0, t - 1)
            if not callable(step.update):
                raise TypeError(f"steps[{i}].update must be callable as update(x, eps) -> x")
            yield ReverseStep(t, t_next, step.update)

    return _reverse_chain(model, schedule, x.detach().clone(), read(steps), clip_x0)


def _last(chain: Iterator[tuple[int, Tensor]]) -> Tensor:
    """Run a chain to its end and return the last x (keeping no other)."""
    last = None
    for _, last in chain:  # noqa: B007 - the loop keeps only the latest x
        pass
    return last


def _starting_point(
    schedule: Schedule,
    shape: tuple[int, ...] | None,
    x_T: Tensor | None,
    start_t: int | None,
    generator: Generators,
) -> tuple[Tensor, int]:
    """Read a sampler's start and return (x at start_t, start_t): fresh noise for ``shape``, or a copy
    of ``x_T`` (the caller's tensor is never modified or kept)."""
    if (shape is None) == (x_T is None):
        raise ValueError("give exactly one of shape (to start from pure noise) or x_T (a given start)")
    start_t = schedule.T if start_t is None else check.count(start_t, "start_t", 1, schedule.T)
    if x_T is None:
        x = torch.empty(check.shape(shape))
        check.generator(generator, x)
        return _randn_like(x, generator), start_t
    check.image(x_T, "x_T")
    check.generator(generator, x_T)
    return x_T.detach().clone(), start_t


def _ddpm_steps(schedule: Schedule, start_t: int, generator: Generators, variance: Variance) -> Iterator[ReverseStep]:
    """Algorithm 2's steps from ``start_t`` down to 1: each one :func:`~ddpm_sampling.reverse_step`.

    The three coefficients are read from the schedule once, as Python floats (the same values
    :func:`~ddpm_sampling.reverse_step` reads), rather than indexed out of a tensor at every step.
    """
    scale, eps_coef = schedule.scale.tolist(), schedule.eps_coef.tolist()
    sigma = (schedule.sigma if variance == "beta" else schedule.sigma_tilde).tolist()
    for t in range(start_t, 0, -1):
        update = partial(
            _reverse_step_at, t=t, scale=scale[t], eps_coef=eps_coef[t], sigma=sigma[t], z=None, generator=generator
        )
        yield ReverseStep(t, t - 1, update)


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
        model: ``model(x_t, t) -> eps``, called once per step with an int t; it must return a
            tensor of x_t's shape, dtype and device.
        schedule: the noise schedule.
        shape: (C, H, W) or (B, C, H, W) to start from pure noise x_T ~ N(0, I), in float32.
        x_T: the starting image(s) instead of ``shape``, a floating tensor of finite values; it is
            x at ``start_t``, sets the dtype of the whole chain, and is not modified.
        start_t: the timestep of the start, an int in 1..T (default T). The lesson's
            Exercise 3 starts from x_800.
        snapshot_timesteps: timesteps in 0..start_t at which to keep a copy of x.
        generator: the ``torch.Generator`` for x_T and every z, or a list of B of them
            so that each image of a batch matches its own single run.
        variance: ``"beta"`` or ``"beta_tilde"``, see :func:`reverse_step`.
        clip_x0: clip the model's clean-image estimate to [-1, 1] at every step and re-derive
            the noise from it. Off by default: the loop is then exactly Algorithm 2.

    Returns:
        ``(x_0, snapshots)``: x_0 has the shape and dtype of the start and ``snapshots`` maps
        each asked timestep to a copy of x at that time, from the noisiest to the clean.
    """
    check.callable_model(model)
    check.schedule(schedule)
    x, start_t = _starting_point(schedule, shape, x_T, start_t, generator)
    check.choice(variance, "variance", VARIANCES)
    check.flag(clip_x0, "clip_x0")
    wanted = set(check.timesteps(snapshot_timesteps, 0, start_t, "snapshot_timesteps"))
    snapshots = {start_t: x.clone()} if start_t in wanted else {}
    chain = _reverse_chain(model, schedule, x, _ddpm_steps(schedule, start_t, generator, variance), clip_x0)
    for t, x_t in chain:
        if t in wanted:
            snapshots[t] = x_t.clone()
    check.finite_result(x_t, "ddpm_sample's x_0", DIVERGED)
    return x_t, dict(sorted(snapshots.items(), reverse=True))


def x0_predictions(model: Model, schedule: Schedule, snapshots: Mapping[int, Tensor]) -> dict[int, Tensor]:
    """The model's one-shot estimate of x_0 from each snapshot x_t (a copy of x_0 itself at t = 0).

    Beneath a trajectory, these show what the sampler "aims at" at each time.

    Args:
        model: ``model(x_t, t) -> eps``.
        schedule: the noise schedule.
        snapshots: a dict from timesteps in 0..T to images x_t, as :func:`ddpm_sample` returns.

    Returns:
        A dict with the same keys (as ints) and order, each value a new tensor of its x_t's shape.
    """
    check.callable_model(model)
    check.schedule(schedule)
    if not isinstance(snapshots, Mapping):
        raise TypeError(f"snapshots must be a dict {{t: x_t}}, got {check.describe(snapshots)}")
    out = {}
    with torch.no_grad():
        for key, x_t in snapshots.items():
            t = check.count(key, "snapshots key", 0, schedule.T)
            check.image(x_t, f"snapshots[{t}]")
            if t == 0:
                out[t] = x_t.clone()
                continue
            x0_hat = _predict_x0(x_t, t, _ask(model, x_t, t), schedule)
            out[t] = check.finite_result(x0_hat, f"the x_0 estimate at t = {t}", "the model's prediction is too large")
    return out
