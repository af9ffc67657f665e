"""The DDPM sampling loop (Ho et al. 2020, Algorithm 2), beside which this module reads line by line.

:func:`~ddpm_sampling.ddpm_sample` is Algorithm 2: draw x_T, then for t = T..1 ask the model for its noise
prediction and take one reverse step, adding fresh noise at every step but the last. The fewer-step
samplers of :mod:`ddpm_sampling.respacing` are the same loop over fewer timesteps. Every sampler
returns :class:`~ddpm_sampling.samplers.Samples`.

A sampler reads its arguments once, in one block at its top; the model is read as one whose every
prediction is checked for its type, shape, dtype and device (cheap: no value is read), and an
exception raised by the model itself passes through unchanged, with a note of the step. The result
is checked for finite values at the end. Sampling builds no autograd graph: the loop runs under
``torch.no_grad()``, which restores the caller's grad mode on the way out, also when the model raises.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import NamedTuple

import torch
from torch import Tensor

from . import _checks as check
from .models import Model
from .schedule import Schedule, coef_at
from .steps import VARIANCES, Generators, Variance, noise, noise_like

#: What a non-finite sample says about its cause.
DIVERGED = (
    "the chain diverged; check the model's predictions and the schedule (an unclipped one, max_beta=None, "
    "scales x by 1/sqrt(alpha_T), about 1e16, in its first step)"
)


class Samples(NamedTuple):
    """What every sampler returns: the samples and the snapshots asked for."""

    x0: Tensor  # the samples x_0, with the shape and dtype of the start
    snapshots: dict[int, Tensor]  # t -> a copy of x_t, from the noisiest to the clean; empty if none asked


def clipped_eps(x_t: Tensor, t: int, eps: Tensor, schedule: Schedule) -> Tensor:
    """The noise estimate whose clean image lies in the data range [-1, 1] (diffusers' ``clip_sample``).

    Predict x_0 from ``eps``, clip it to [-1, 1], and re-derive the noise from the clipped x_0:
    eps' = (x_t - c x0_clipped) / s = eps + (c / s)(x0_hat - x0_clipped), with c = sqrt(alpha_bar_t)
    and s = sqrt(1 - alpha_bar_t). The second form leaves eps exactly as it was wherever the
    estimate is already in range.
    """
    c, s = float(schedule.sqrt_alpha_bar[t]), float(schedule.sqrt_one_minus_alpha_bar[t])
    x0_hat = (x_t - s * eps) / c
    return eps + c / s * (x0_hat - x0_hat.clamp(-1.0, 1.0))


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
) -> Samples:
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
        variance: ``"beta"`` or ``"beta_tilde"``, see :func:`~ddpm_sampling.reverse_step`.
        clip_x0: clip the model's clean-image estimate to [-1, 1] at every step and re-derive
            the noise from it (:func:`~ddpm_sampling.samplers.clipped_eps`). Off by default: the
            loop is then exactly Algorithm 2.

    Returns:
        :class:`~ddpm_sampling.samplers.Samples` ``(x0, snapshots)``: x0 has the shape and dtype of the start and
        ``snapshots`` maps each asked timestep to a copy of x at that time, from the noisiest to the clean.
    """
    model = check.model(model)
    check.instance(schedule, Schedule, "schedule", "cosine_schedule")
    shape = check.start(shape, x_T, generator)
    start_t = schedule.T if start_t is None else check.count(start_t, "start_t", 1, schedule.T)
    snapshot_at = set(check.timesteps(snapshot_timesteps, 0, start_t, "snapshot_timesteps"))
    sigma = {"beta": schedule.sigma, "beta_tilde": schedule.sigma_tilde}[check.choice(variance, "variance", VARIANCES)]
    check.flag(clip_x0, "clip_x0")
    # the coefficients as Python floats, read from the schedule once
    scale, eps_coef, sigma = schedule.scale.tolist(), schedule.eps_coef.tolist(), sigma.tolist()

    # Algorithm 2, line by line
    with torch.no_grad():
        x = noise(shape, generator) if x_T is None else x_T.detach().clone()  # 1: x_T ~ N(0, I)
        snapshots = {start_t: x.clone()} if start_t in snapshot_at else {}
        for t in range(start_t, 0, -1):  # 2: for t = T, ..., 1
            eps = model(x, t)  # eps_theta(x_t, t)
            if clip_x0:
                eps = clipped_eps(x, t, eps, schedule)
            # 4: x_{t-1} = 1 / sqrt(alpha_t) (x_t - beta_t / sqrt(1 - alpha_bar_t) eps) + sigma_t z
            x = scale[t] * (x - eps_coef[t] * eps)
            if t > 1:  # 3: z ~ N(0, I) if t > 1, else z = 0
                x = x + sigma[t] * noise_like(x, generator)
            if t - 1 in snapshot_at:
                snapshots[t - 1] = x.clone()
    return Samples(check.finite_result(x, "ddpm_sample's x_0", DIVERGED), snapshots)  # 6: return x_0


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
    model = check.model(model)
    check.instance(schedule, Schedule, "schedule", "cosine_schedule")
    if not isinstance(snapshots, Mapping):
        raise TypeError(f"snapshots must be a dict {{t: x_t}}, got {check.describe(snapshots)}")
    x_ts = {}
    for key, x_t in snapshots.items():
        t = check.count(key, "snapshots key", 0, schedule.T)
        x_ts[t] = check.image(x_t, f"snapshots[{t}]")

    out = {}
    with torch.no_grad():
        for t, x_t in x_ts.items():
            if t == 0:
                out[t] = x_t.clone()
                continue
            eps = model(x_t, t)
            x0_hat = (x_t - coef_at(schedule.sqrt_one_minus_alpha_bar, t, x_t) * eps) / coef_at(
                schedule.sqrt_alpha_bar, t, x_t
            )
            out[t] = check.finite_result(x0_hat, f"the x_0 estimate at t = {t}", "the model's prediction is too large")
    return out
