r"""Respacing: samplers that take fewer steps than T, strided DDPM and DDIM.

Both visit a subsequence :math:`\tau_1 < \dots < \tau_S` of 1..T, evenly spaced and ending
at T (see :func:`respaced_timesteps`), with :math:`\tau_0 = 0` standing for the clean image.
The model is always asked at the original timestep :math:`\tau_i`, so a model trained on
T steps needs no retraining.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import Tensor

from . import _checks as check
from .models import Model
from .samplers import DIVERGED, ReverseStep, _last, _reverse_chain, _starting_point
from .schedule import Schedule
from .steps import VARIANCES, Generators, Variance, _predict_x0, _randn_like, _reverse_step


def respaced_timesteps(T: int, num_steps: int) -> list[int]:
    """``num_steps`` timesteps evenly spaced in 1..T, the last one T: tau_i = round(i T / S), i = 1..S.

    With ``num_steps = T`` this is every step, 1..T. Consecutive values differ by at least 1
    because the spacing T / S is at least 1.

    Args:
        T: the number of steps of the full chain, an int >= 1.
        num_steps: S, an int in 1..T.
    """
    T = check.count(T, "T")
    S = check.count(num_steps, "num_steps", 1, T)
    return [(2 * i * T + S) // (2 * S) for i in range(1, S + 1)]


def respaced_schedule(schedule: Schedule, timesteps: Sequence[int]) -> Schedule:
    r"""The schedule of the shorter chain that visits only ``timesteps`` (increasing ints in 1..T).

    Its step i goes from :math:`\tau_i` to :math:`\tau_{i-1}` and keeps the marginals of
    the original: :math:`\bar\alpha'_i = \bar\alpha_{\tau_i}`, hence
    :math:`\beta'_i = 1 - \bar\alpha_{\tau_i} / \bar\alpha_{\tau_{i-1}}` (Nichol & Dhariwal 2021, sec. 4).
    """
    check.schedule(schedule)
    taus = check.timesteps(timesteps, 1, schedule.T, "timesteps")
    if not taus:
        raise ValueError("timesteps is empty; it must hold at least one timestep in 1..T")
    for i in range(1, len(taus)):
        if taus[i] <= taus[i - 1]:
            raise ValueError(f"timesteps must increase, but timesteps[{i}] = {taus[i]} follows {taus[i - 1]}")
    index = torch.tensor([0, *taus])
    return Schedule.from_alpha_bar(schedule.alpha_bar.to(torch.float64)[index], max_beta=None)


def strided_ddpm_sample(
    model: Model,
    schedule: Schedule,
    *,
    num_steps: int,
    shape: tuple[int, ...] | None = None,
    x_T: Tensor | None = None,
    generator: Generators = None,
    variance: Variance = "beta",
    clip_x0: bool = False,
) -> Tensor:
    """DDPM ancestral sampling (Algorithm 2) over ``num_steps`` respaced steps.

    With ``num_steps = T`` it is :func:`ddpm_sample` (same noise, drawn in the same order).

    Args:
        model: ``model(x_t, t) -> eps``, called once per step with the original timestep.
        schedule: the T-step schedule the model was trained with.
        num_steps: S, an int in 1..T.
        shape: (C, H, W) or (B, C, H, W) to start from pure noise, or else ``x_T``.
        x_T: the start at t = T, a floating tensor of finite values; sets the dtype, not modified.
        generator: ``torch.Generator`` (or one per image) for x_T and each step's noise.
        variance: ``"beta"`` or ``"beta_tilde"`` of the respaced chain.
        clip_x0: clip the clean-image estimate to [-1, 1] at every step, as in :func:`ddpm_sample`.

    Returns:
        x_0, a new tensor with the shape and dtype of the start.
    """
    check.callable_model(model)
    check.schedule(schedule)
    num_steps = check.count(num_steps, "num_steps", 1, schedule.T)
    check.choice(variance, "variance", VARIANCES)
    check.flag(clip_x0, "clip_x0")
    x, _ = _starting_point(schedule, shape, x_T, None, generator)
    taus = respaced_timesteps(schedule.T, num_steps)
    respaced = respaced_schedule(schedule, taus)
    # step i of the respaced chain goes from tau_i to tau_{i-1}; the model is asked at tau_i
    steps = [
        ReverseStep(
            taus[i - 1],
            taus[i - 2] if i > 1 else 0,
            lambda x, eps, i=i: _reverse_step(x, i, eps, respaced, None, generator, variance),
        )
        for i in range(num_steps, 0, -1)
    ]
    x_0 = _last(_reverse_chain(model, schedule, x, steps, clip_x0))
    return check.finite_result(x_0, "strided_ddpm_sample's x_0", DIVERGED)


class _DDIMStep(NamedTuple):
    """The coefficients of one DDIM step from ``t`` to ``prev``."""

    t: int
    prev: int
    sqrt_alpha_bar_prev: float
    direction: float  # sqrt(1 - alpha_bar_prev - sigma^2), the weight of the predicted noise
    sigma: float


def _ddim_steps(schedule: Schedule, num_steps: int, eta: float) -> list[_DDIMStep]:
    r"""Per step, from the first (t = T) to the last (prev = 0): the coefficients of DDIM's update.

    DDIM (Song et al. 2021, eq. 12), with prev = :math:`\tau_{i-1}`:

    .. math:: x_\text{prev} = \sqrt{\bar\alpha_\text{prev}}\,\hat x_0
              + \sqrt{1-\bar\alpha_\text{prev}-\sigma^2}\,\hat\epsilon + \sigma z,\qquad
              \sigma = \eta\sqrt{\frac{1-\bar\alpha_\text{prev}}{1-\bar\alpha_t}}
              \sqrt{1-\frac{\bar\alpha_t}{\bar\alpha_\text{prev}}}

    Computed in float64. For eta > 1, sigma^2 can exceed 1 - alpha_bar_prev; that eta is refused.
    """
    ab = schedule.alpha_bar.to(torch.float64)
    taus = respaced_timesteps(schedule.T, num_steps)
    prevs = [0, *taus[:-1]]
    steps, eta_max = [], math.inf
    for t, p in zip(reversed(taus), reversed(prevs)):
        ab_t, ab_p = float(ab[t]), float(ab[p])
        sigma1_sq = (1 - ab_p) / (1 - ab_t) * (1 - ab_t / ab_p)  # sigma^2 at eta = 1 (beta_tilde)
        if sigma1_sq > 0:
            eta_max = min(eta_max, math.sqrt((1 - ab_p) / sigma1_sq))
        sigma_sq = eta * eta * sigma1_sq
        steps.append(_DDIMStep(t, p, math.sqrt(ab_p), math.sqrt(max(1 - ab_p - sigma_sq, 0.0)), math.sqrt(sigma_sq)))
    if eta > eta_max * (1 + 1e-12):
        raise ValueError(
            f"eta = {eta} is outside the valid range 0..{eta_max:.6g} for {num_steps} steps: beyond it "
            "sigma^2 exceeds 1 - alpha_bar_prev and the step has no real direction term"
        )
    return steps


def ddim_sample(
    model: Model,
    schedule: Schedule,
    *,
    num_steps: int,
    eta: float = 0.0,
    shape: tuple[int, ...] | None = None,
    x_T: Tensor | None = None,
    generator: Generators = None,
    clip_x0: bool = False,
) -> Tensor:
    """DDIM sampling (Song et al. 2021) over ``num_steps`` evenly spaced timesteps.

    ``eta = 0`` is deterministic given x_T; ``eta = 1`` with ``num_steps = T`` is DDPM with the
    posterior variance beta_tilde, and draws its noise in the same order as
    ``ddpm_sample(..., variance="beta_tilde")``: x_T first, then one z per step except the last.

    Args:
        model: ``model(x_t, t) -> eps``, called once per step with an int t.
        schedule: the T-step schedule the model was trained with.
        num_steps: S, an int in 1..T.
        eta: a finite real number >= 0 (and at most about 1 for few steps: the error names the
            bound); how much fresh noise each step adds (0: none).
        shape, x_T, generator, clip_x0: as in :func:`ddpm_sample`.

    Returns:
        x_0, a new tensor with the shape and dtype of the start.
    """
    check.callable_model(model)
    check.schedule(schedule)
    num_steps = check.count(num_steps, "num_steps", 1, schedule.T)
    eta = check.std(eta, "eta", ": it scales a standard deviation")
    check.flag(clip_x0, "clip_x0")
    coefficients = _ddim_steps(schedule, num_steps, eta)
    x, _ = _starting_point(schedule, shape, x_T, None, generator)

    def ddim_update(x: Tensor, eps: Tensor, c: _DDIMStep) -> Tensor:
        # 1. the clean image the model implies (DDIM eq. 12, "predicted x0")
        x0_hat = _predict_x0(x, c.t, eps, schedule)
        # 2. move to the previous time along the predicted noise direction
        x = c.sqrt_alpha_bar_prev * x0_hat + c.direction * eps
        # 3. fresh noise, only where sigma > 0 (never at the last step, where prev = 0)
        return x + c.sigma * _randn_like(x, generator) if c.sigma > 0 else x

    steps = [ReverseStep(c.t, c.prev, lambda x, eps, c=c: ddim_update(x, eps, c)) for c in coefficients]
    x_0 = _last(_reverse_chain(model, schedule, x, steps, clip_x0))
    return check.finite_result(x_0, "ddim_sample's x_0", DIVERGED)
