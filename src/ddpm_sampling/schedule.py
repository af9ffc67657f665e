r"""The cosine noise schedule and the coefficients of the DDPM reverse step.

Timesteps follow the DDPM paper: t = 1..T, and every per-timestep tensor has
length T + 1 with index 0 standing for the clean image (alpha_bar[0] = 1).
diffusers counts from 0 instead: its ``alphas_cumprod[k]`` is our
``alpha_bar[k + 1]``.

Notation, from the code's name to the paper's symbol (Ho et al. 2020; Song et al. 2021 for DDIM):

============================  =================================================  =============================
code                          symbol                                             meaning
============================  =================================================  =============================
``T``                         :math:`T`                                          number of diffusion steps
``t``                         :math:`t`                                          a timestep, 1..T (0: clean)
``beta``                      :math:`\beta_t`                                    variance of forward step t
``alpha``                     :math:`\alpha_t = 1 - \beta_t`
``alpha_bar``                 :math:`\bar\alpha_t = \prod_{s \le t} \alpha_s`    signal kept until t
``sqrt_alpha_bar``            :math:`\sqrt{\bar\alpha_t}`                        scale of x_0 in x_t
``sqrt_one_minus_alpha_bar``  :math:`\sqrt{1 - \bar\alpha_t}`                    scale of the noise in x_t
``scale``                     :math:`1 / \sqrt{\alpha_t}`                        the scaling factor
``eps_coef``                  :math:`\beta_t / \sqrt{1 - \bar\alpha_t}`          the noise correction
``sigma``                     :math:`\sigma_t = \sqrt{\beta_t}`                  noise injection (the lesson)
``beta_tilde``                :math:`\tilde\beta_t`, DDPM eq. 7                  the posterior variance
``sigma_tilde``               :math:`\sqrt{\tilde\beta_t}`                       its standard deviation
``x0``, ``x_t``               :math:`x_0`, :math:`x_t`                           clean and noisy images
``eps``                       :math:`\epsilon`, :math:`\epsilon_\theta(x_t, t)`  the noise, or its prediction
``x0_hat``                    :math:`\hat x_0`                                   the one-shot estimate of x_0
``z``                         :math:`z \sim \mathcal N(0, I)`                    fresh noise of a reverse step
``eta``                       :math:`\eta`                                       DDIM's share of fresh noise
``tau``                       :math:`\tau_i`                                     the respaced timesteps
============================  =================================================  =============================
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor

from . import _checks as check

#: The per-timestep tensors of a :class:`Schedule`, each of shape (T + 1,).
COEFFICIENTS = (
    "alpha_bar",
    "alpha",
    "beta",
    "sigma",
    "beta_tilde",
    "sigma_tilde",
    "sqrt_alpha_bar",
    "sqrt_one_minus_alpha_bar",
    "scale",
    "eps_coef",
)


@dataclass(frozen=True, eq=False)
class Schedule:
    r"""A noise schedule and every coefficient derived from it, as float32 tensors of shape (T + 1,).

    The fields are named as in the module's notation table.

    Index 0 is the clean image: ``alpha_bar[0] = alpha[0] = 1`` and ``beta[0] = 0``.
    Build one with :func:`cosine_schedule`; the derived tensors are computed once,
    in float64, so that the sampling loop only looks them up.

    The constructor keeps float32 copies of the tensors it is given (a later in-place edit of
    those leaves the schedule as it was) and refuses, with a ``ValueError``, any tensor that is
    not finite everywhere, and a schedule whose divisors vanish: :math:`\sqrt{\bar\alpha_t} > 0`
    for every t, and :math:`\sqrt{1-\bar\alpha_t} > 0` for t >= 1.
    """

    T: int
    alpha_bar: Tensor
    alpha: Tensor
    beta: Tensor
    sigma: Tensor
    beta_tilde: Tensor  # beta_t (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t)
    sigma_tilde: Tensor
    sqrt_alpha_bar: Tensor
    sqrt_one_minus_alpha_bar: Tensor
    scale: Tensor
    eps_coef: Tensor  # 0 at t = 0
    max_beta: float | None = None

    def __post_init__(self) -> None:
        T = check.count(self.T, "T")
        object.__setattr__(self, "T", T)
        if self.max_beta is not None:
            object.__setattr__(self, "max_beta", check.fraction(self.max_beta, "max_beta", " (or None)"))
        for name in COEFFICIENTS:
            value = check.tensor(getattr(self, name), name)
            if value.shape != (T + 1,):
                raise ValueError(f"{name} must have shape (T + 1,) = ({T + 1},), got {tuple(value.shape)}")
            value = value.detach().to(torch.float32, copy=True)
            _refuse_where(~torch.isfinite(value), f"{name} is not finite")
            object.__setattr__(self, name, value)
        _refuse_where(self.sqrt_alpha_bar <= 0, "sqrt_alpha_bar is 0: no x_0 can be estimated from x_t")
        _refuse_where(
            torch.cat([torch.zeros(1, dtype=torch.bool), self.sqrt_one_minus_alpha_bar[1:] <= 0]),
            "sqrt_one_minus_alpha_bar is 0: x_t holds no noise, and predicting the noise divides by 0",
        )

    @classmethod
    def from_alpha_bar(cls, alpha_bar: Tensor, max_beta: float | None = None) -> Schedule:
        """Derive a schedule from ``alpha_bar``: a floating tensor of shape (T + 1,), ``alpha_bar[0] = 1``,
        decreasing, with every later value in (0, 1).

        With ``max_beta`` in (0, 1], each beta_t is clipped to at most ``max_beta`` (alpha_t raised to
        at least 1 - max_beta) and alpha_bar is recomputed as the cumulative product of alpha, so that
        the forward process and the reverse step describe the same chain. Computed in float64 whatever
        the dtype of ``alpha_bar``; ``alpha_bar`` itself is not modified.
        """
        ab = check.finite(alpha_bar, "alpha_bar")
        if ab.dim() != 1 or ab.shape[0] < 2:
            raise ValueError(f"alpha_bar must have shape (T + 1,) with T >= 1, got {tuple(ab.shape)}")
        if max_beta is not None:
            max_beta = check.fraction(max_beta, "max_beta", " (or None for no clipping)")
        ab = ab.detach().to(torch.float64)
        if ab[0] != 1:
            raise ValueError(f"alpha_bar[0] must be 1 (index 0 is the clean image), got {float(ab[0])!r}")
        _refuse_where(ab <= 0, "alpha_bar is not > 0")
        _refuse_where(torch.cat([ab.new_zeros(1, dtype=torch.bool), ab[1:] > ab[:-1]]), "alpha_bar increases")

        alpha = torch.ones_like(ab)
        alpha[1:] = ab[1:] / ab[:-1]
        if max_beta is not None:
            alpha = alpha.clamp(min=1.0 - max_beta)  # beta_t = 1 - alpha_t <= max_beta
            ab = torch.cumprod(alpha, dim=0)
        _refuse_where(
            torch.cat([ab.new_zeros(1, dtype=torch.bool), ab[1:] >= 1]),
            "alpha_bar is 1 after t = 0: x_t holds no noise there",
        )
        _refuse_where(
            torch.cat([ab.new_zeros(1, dtype=torch.bool), alpha[1:] >= 1]),
            "alpha_bar does not decrease (beta_t = 0: the step adds no noise, and the reverse step has sigma_t = 0)",
        )
        beta = 1.0 - alpha
        one_minus_ab = 1.0 - ab
        beta_tilde = torch.zeros_like(ab)
        beta_tilde[1:] = beta[1:] * one_minus_ab[:-1] / one_minus_ab[1:]
        eps_coef = torch.zeros_like(ab)
        eps_coef[1:] = beta[1:] / one_minus_ab[1:].sqrt()
        try:
            return cls(
                T=len(ab) - 1,
                max_beta=max_beta,
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
        except ValueError as err:  # float32 rounds a coefficient to 0 or inf
            raise ValueError(f"alpha_bar gives a schedule whose {err}") from None


def _refuse_where(bad: Tensor, problem: str) -> None:
    """Raise ``ValueError(problem at t = ...)`` if any entry of the (T + 1,) mask ``bad`` is set."""
    if bool(bad.any()):
        where = torch.nonzero(bad).flatten().tolist()
        shown = ", ".join(map(str, where[:3])) + (", ..." if len(where) > 3 else "")
        raise ValueError(f"{problem} at t = {shown}")


def cosine_alpha_bar(T: int, s: float) -> Tensor:
    r"""The cosine schedule's :math:`\bar\alpha_t = f(t) / f(0)`, float64 of shape (T + 1,).

    :math:`f(t) = \cos^2\!\big(\tfrac{t/T + s}{1 + s} \cdot \tfrac{\pi}{2}\big)` (Nichol & Dhariwal
    2021, eq. 17). In exact arithmetic :math:`\bar\alpha_T = 0`; floating point leaves
    a tiny positive remainder.

    Args:
        T: number of diffusion steps, an int >= 1.
        s: the offset, a finite number > 0.
    """
    T = check.count(T, "T")
    s = check.positive(s, "s", ": the cosine offset s must be a finite number > 0")
    steps = torch.arange(T + 1, dtype=torch.float64)
    f = torch.cos((steps / T + s) / (1 + s) * (math.pi / 2)) ** 2
    return f / f[0]


def cosine_schedule(T: int = 1000, s: float = 0.008, max_beta: float | None = 0.999) -> Schedule:
    r"""The cosine schedule of Improved DDPM, computed in float64 and stored as float32.

    Args:
        T: number of diffusion steps, an int >= 1 (a Python or NumPy int).
        s: small offset that keeps beta_t from being tiny near t = 0; a finite number > 0.
        max_beta: upper bound on each beta_t, in (0, 1]. Improved DDPM uses 0.999 to
            avoid the singularity at t = T, where the unclipped beta_T is 1 and the
            scaling factor :math:`1/\sqrt{\alpha_T}` is infinite. ``None`` (or 1) keeps the
            raw, unclipped schedule, whose float64 remainder keeps :math:`\alpha_T` above 0.

    Returns:
        A :class:`Schedule` whose tensors have shape (T + 1,).

    Raises:
        TypeError: T is not an int, or s or max_beta not a real number.
        ValueError: an argument is outside its range, or the three give no usable schedule (an
            s so large, or a max_beta so small, that alpha_bar stays 1 and there is no noise).
    """
    T = check.count(T, "T")
    s = check.positive(s, "s", ": the cosine offset s must be a finite number > 0")
    if max_beta is not None:
        max_beta = check.fraction(max_beta, "max_beta", " (or None for no clipping)")
    try:
        return Schedule.from_alpha_bar(cosine_alpha_bar(T, s), max_beta=max_beta)
    except ValueError as err:
        raise ValueError(
            f"cosine_schedule(T={T}, s={s!r}, max_beta={max_beta!r}) gives no usable schedule: {err}; "
            "a smaller s or a larger max_beta avoids this (Improved DDPM: s = 0.008, max_beta = 0.999)"
        ) from None


def coef_at(coef: Tensor, t: int | Tensor, x: Tensor) -> float | Tensor:
    """``coef[t]`` ready to multiply ``x``: a Python float for one int t, or for a (B,) tensor of
    timesteps a (B, 1, ..., 1) column in ``x``'s dtype and on its device, one value per image."""
    if isinstance(t, Tensor) and t.dim() == 1:
        return coef[t.to(coef.device)].to(x).view(-1, *([1] * (x.dim() - 1)))
    return float(coef[t])


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
        t: an int in 1..T (a Python or NumPy int), or a tensor of a signed integer dtype and shape
            () or (B,) holding such ints. A bool or uint8 tensor is refused (``TypeError``).

    Returns:
        ``(scale, eps_coef, sigma)``, each a new float32 tensor with the shape of ``t``: never a view
        into the schedule, so editing them in place leaves the schedule alone.
    """
    check.instance(schedule, Schedule, "schedule", "cosine_schedule")
    t = check.timestep(t, 1, schedule.T)
    # .clone(): indexing with an int gives a view into the schedule
    return ReverseCoefficients(schedule.scale[t].clone(), schedule.eps_coef[t].clone(), schedule.sigma[t].clone())


def error_gain(schedule: Schedule, t: int | Tensor | None = None) -> Tensor:
    r"""How much an error in predicted noise grows in the one-shot estimate of x_0.

    :math:`\hat x_0 = (x_t - \sqrt{1-\bar\alpha_t}\,\hat\epsilon)/\sqrt{\bar\alpha_t}`, so an
    error :math:`\delta` in :math:`\hat\epsilon` moves :math:`\hat x_0` by
    :math:`\sqrt{1-\bar\alpha_t}/\sqrt{\bar\alpha_t}\cdot\delta`.

    Args:
        t: timestep(s) in 1..T, read as in :func:`reverse_coefficients`; ``None`` gives all of
            them, shape (T,).

    Returns:
        A new float32 tensor with the shape of ``t``, computed in float64.
    """
    check.instance(schedule, Schedule, "schedule", "cosine_schedule")
    t = torch.arange(1, schedule.T + 1) if t is None else check.timestep(t, 1, schedule.T)
    ab = schedule.alpha_bar.to(torch.float64)[t]
    return ((1 - ab).sqrt() / ab.sqrt()).to(torch.float32)
