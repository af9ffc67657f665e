r"""The cosine noise schedule and the coefficients of the DDPM reverse step.

Timesteps follow the DDPM paper: t = 1..T, and every per-timestep tensor has
length T + 1 with index 0 standing for the clean image (alpha_bar[0] = 1).
diffusers counts from 0 instead: its ``alphas_cumprod[k]`` is our
``alpha_bar[k + 1]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor

from ._checks import check_timestep


@dataclass(frozen=True, eq=False)
class Schedule:
    r"""A noise schedule and every coefficient derived from it, as float32 tensors of shape (T + 1,).

    Index 0 is the clean image: ``alpha_bar[0] = alpha[0] = 1`` and ``beta[0] = 0``.
    Build one with :func:`cosine_schedule`; the derived tensors are computed once,
    in float64, so that the sampling loop only looks them up.
    """

    T: int
    alpha_bar: Tensor  # \bar\alpha_t = \prod_{s \le t} \alpha_s
    alpha: Tensor  # \alpha_t = 1 - \beta_t
    beta: Tensor  # \beta_t, the forward step's variance
    sigma: Tensor  # \sigma_t = \sqrt{\beta_t}, the lesson's noise injection
    beta_tilde: Tensor  # \tilde\beta_t = \beta_t (1 - \bar\alpha_{t-1}) / (1 - \bar\alpha_t), DDPM eq. 7
    sigma_tilde: Tensor  # \sqrt{\tilde\beta_t}
    sqrt_alpha_bar: Tensor  # \sqrt{\bar\alpha_t}
    sqrt_one_minus_alpha_bar: Tensor  # \sqrt{1 - \bar\alpha_t}
    scale: Tensor  # 1 / \sqrt{\alpha_t}, the scaling factor
    eps_coef: Tensor  # \beta_t / \sqrt{1 - \bar\alpha_t}, the noise correction (0 at t = 0)
    max_beta: float | None = None

    @classmethod
    def from_alpha_bar(cls, alpha_bar: Tensor, max_beta: float | None = None) -> Schedule:
        """Derive a schedule from ``alpha_bar`` (shape (T + 1,), ``alpha_bar[0] = 1``).

        With ``max_beta`` each beta_t is clipped to at most ``max_beta`` and alpha_bar
        is recomputed as the cumulative product of (1 - beta), so that the forward
        process and the reverse step describe the same chain.
        """
        ab = alpha_bar.to(torch.float64)
        alpha = torch.ones_like(ab)
        alpha[1:] = ab[1:] / ab[:-1]
        beta = 1.0 - alpha
        if max_beta is not None:
            beta = beta.clamp(max=max_beta)
            alpha = 1.0 - beta
            ab = torch.cumprod(alpha, dim=0)
        one_minus_ab = 1.0 - ab
        beta_tilde = torch.zeros_like(ab)
        beta_tilde[1:] = beta[1:] * one_minus_ab[:-1] / one_minus_ab[1:]
        eps_coef = torch.zeros_like(ab)
        eps_coef[1:] = beta[1:] / one_minus_ab[1:].sqrt()
        tensors = dict(
            alpha_bar=ab,
            alpha=alpha,
            beta=beta,
            sigma=beta.sqrt(),
            beta_tilde=beta_tilde,
            sigma_tilde=beta_tilde.sqrt(),
            sqrt_alpha_bar=ab.sqrt(),
            sqrt_one_minus_alpha_bar=one_minus_ab.sqrt(),
            scale=alpha.rsqrt(),
            eps_coef=eps_coef,
        )
        return cls(
            T=len(ab) - 1,
            max_beta=max_beta,
            **{k: v.to(torch.float32) for k, v in tensors.items()},
        )


def cosine_alpha_bar(T: int, s: float) -> Tensor:
    r"""The cosine schedule's :math:`\bar\alpha_t = f(t) / f(0)`, float64 of shape (T + 1,).

    :math:`f(t) = \cos^2\!\big(\tfrac{t/T + s}{1 + s} \cdot \tfrac{\pi}{2}\big)` (Nichol & Dhariwal
    2021, eq. 17). In exact arithmetic :math:`\bar\alpha_T = 0`; floating point leaves
    a tiny positive remainder.
    """
    steps = torch.arange(T + 1, dtype=torch.float64)
    f = torch.cos((steps / T + s) / (1 + s) * (math.pi / 2)) ** 2
    return f / f[0]


def cosine_schedule(T: int = 1000, s: float = 0.008, max_beta: float | None = 0.999) -> Schedule:
    r"""The cosine schedule of Improved DDPM, computed in float64 and stored as float32.

    Args:
        T: number of diffusion steps, at least 1.
        s: small offset that keeps beta_t from being tiny near t = 0; must be > 0.
        max_beta: upper bound on each beta_t, in (0, 1]. Improved DDPM uses 0.999 to
            avoid the singularity at t = T, where the unclipped beta_T is 1 and the
            scaling factor :math:`1/\sqrt{\alpha_T}` is infinite. ``None`` keeps the
            raw, unclipped schedule.

    Returns:
        A :class:`Schedule` whose tensors have shape (T + 1,).
    """
    if isinstance(T, bool) or not isinstance(T, int) or T < 1:
        raise ValueError(f"T = {T!r} is not a valid number of steps; T must be an int >= 1")
    if isinstance(s, bool) or not (isinstance(s, (int, float)) and math.isfinite(s) and s > 0):
        raise ValueError(f"s = {s!r} is not valid; the cosine offset s must be a finite number > 0")
    if max_beta is not None and (
        isinstance(max_beta, bool) or not (isinstance(max_beta, (int, float)) and 0 < max_beta <= 1)
    ):
        raise ValueError(f"max_beta = {max_beta!r} is outside the valid range (0, 1] (or None for no clipping)")
    return Schedule.from_alpha_bar(cosine_alpha_bar(T, s), max_beta=max_beta)


class ReverseCoefficients(NamedTuple):
    """The three coefficients of the DDPM reverse step at some timestep(s)."""

    scale: Tensor  # 1 / sqrt(alpha_t)
    eps_coef: Tensor  # beta_t / sqrt(1 - alpha_bar_t)
    sigma: Tensor  # sqrt(beta_t)


def reverse_coefficients(schedule: Schedule, t: int | Tensor) -> ReverseCoefficients:
    r"""The scaling factor, noise correction and noise injection of the reverse step.

    .. math:: x_{t-1} = \frac{1}{\sqrt{\alpha_t}}\Big(x_t - \frac{\beta_t}{\sqrt{1-\bar\alpha_t}}\,
              \epsilon_\theta(x_t, t)\Big) + \sigma_t z

    Args:
        schedule: the noise schedule.
        t: an int in 1..T, or an integer tensor of them (any shape up to 1-d).

    Returns:
        ``(scale, eps_coef, sigma)``, each a float32 tensor with the shape of ``t``.
    """
    check_timestep(t, 1, schedule.T)
    return ReverseCoefficients(schedule.scale[t], schedule.eps_coef[t], schedule.sigma[t])


def error_gain(schedule: Schedule, t: int | Tensor | None = None) -> Tensor:
    r"""How much an error in predicted noise grows in the one-shot estimate of x_0.

    :math:`\hat x_0 = (x_t - \sqrt{1-\bar\alpha_t}\,\hat\epsilon)/\sqrt{\bar\alpha_t}`, so an
    error :math:`\delta` in :math:`\hat\epsilon` moves :math:`\hat x_0` by
    :math:`\sqrt{1-\bar\alpha_t}/\sqrt{\bar\alpha_t}\cdot\delta`.

    Args:
        t: timestep(s) in 1..T; ``None`` gives all of them, shape (T,).
    """
    if t is None:
        t = torch.arange(1, schedule.T + 1)
    check_timestep(t, 1, schedule.T)
    ab = schedule.alpha_bar.to(torch.float64)[t]
    return ((1 - ab).sqrt() / ab.sqrt()).to(torch.float32)
