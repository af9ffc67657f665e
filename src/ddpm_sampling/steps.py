r"""Forward and reverse steps of DDPM (Ho et al. 2020).

Each public function checks its input once and then calls an unchecked
``_``-prefixed twin; samplers call the twins directly inside their loops.

Two tensors of different floating dtypes (an image in float32, noise in float64, say) combine by
PyTorch's promotion: the result has the wider dtype. Every result is a new tensor, never a view of
an input, and a public function refuses a result that overflowed to inf.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from . import _checks as check
from .schedule import Schedule

Variance = Literal["beta", "beta_tilde"]
VARIANCES = ("beta", "beta_tilde")
Generators = torch.Generator | list[torch.Generator] | None


def _coef(coef: Tensor, t: int | Tensor, x: Tensor) -> Tensor | float:
    """``coef[t]`` shaped to broadcast against ``x``: a Python float, or (B, 1, 1, 1) for one t per image."""
    if isinstance(t, Tensor) and t.dim() == 1:
        return coef[t.to(coef.device)].to(x).view(-1, *([1] * (x.dim() - 1)))
    return float(coef[t])


def _randn_like(x: Tensor, generator: Generators) -> Tensor:
    """Standard normal noise shaped like ``x`` (C, H, W) or (B, C, H, W), in its dtype and on its device.

    ``generator`` may be one ``torch.Generator`` or a list of B of them, one per image,
    so that image i of a batch sees exactly the noise of a single run seeded like
    ``generator[i]``.
    """
    if isinstance(generator, (list, tuple)):
        return torch.stack([torch.randn(x.shape[1:], generator=g, dtype=x.dtype) for g in generator]).to(x.device)
    return torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)


def _read_step_args(
    x: Tensor, name: str, other: Tensor, other_name: str, t: object, t_min: int, schedule: Schedule
) -> int | Tensor:
    """What every step function reads: an image, a second tensor of its shape, t in t_min..T (one per image)."""
    check.schedule(schedule)
    check.image(x, name)
    check.image(other, other_name)
    check.same_shape(x, other, name, other_name)
    t = check.timestep(t, t_min, schedule.T)
    check.batch_timestep(t, x)
    return t


def _q_sample(x0: Tensor, t: int | Tensor, eps: Tensor, schedule: Schedule) -> Tensor:
    return _coef(schedule.sqrt_alpha_bar, t, x0) * x0 + _coef(schedule.sqrt_one_minus_alpha_bar, t, x0) * eps


def q_sample(x0: Tensor, t: int | Tensor, eps: Tensor, schedule: Schedule) -> Tensor:
    r"""Jump from the clean image to step t in closed form (DDPM eq. 4).

    :math:`x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\epsilon`

    Args:
        x0: clean image(s), a floating tensor (C, H, W) or (B, C, H, W) of finite values.
        t: an int in 0..T, or a (B,) tensor of a signed integer dtype with one timestep per image.
        eps: the noise, same shape as ``x0``; its dtype may differ (the result is promoted).

    Returns:
        x_t, a new tensor of ``x0``'s shape, in the promoted dtype of ``x0`` and ``eps``.
    """
    t = _read_step_args(x0, "x0", eps, "eps", t, 0, schedule)
    return check.finite_result(_q_sample(x0, t, eps, schedule), "q_sample's x_t", "x0 or eps is too large")


def _predict_x0(x_t: Tensor, t: int | Tensor, eps: Tensor, schedule: Schedule) -> Tensor:
    return (x_t - _coef(schedule.sqrt_one_minus_alpha_bar, t, x_t) * eps) / _coef(schedule.sqrt_alpha_bar, t, x_t)


def predict_x0(x_t: Tensor, t: int | Tensor, eps: Tensor, schedule: Schedule) -> Tensor:
    r"""The one-shot estimate of the clean image: the forward formula solved for x_0.

    :math:`\hat x_0 = (x_t - \sqrt{1-\bar\alpha_t}\,\epsilon) / \sqrt{\bar\alpha_t}`

    Args:
        x_t: noisy image(s), a floating tensor (C, H, W) or (B, C, H, W) of finite values.
        t: an int in 1..T, or a (B,) tensor of a signed integer dtype.
        eps: the (predicted) noise, same shape as ``x_t``; its dtype may differ (the result is promoted).

    Returns:
        x0_hat, a new tensor of ``x_t``'s shape, in the promoted dtype of ``x_t`` and ``eps``.
    """
    t = _read_step_args(x_t, "x_t", eps, "eps", t, 1, schedule)
    return check.finite_result(_predict_x0(x_t, t, eps, schedule), "predict_x0's x0_hat", "x_t or eps is too large")


def _predict_eps(x_t: Tensor, t: int | Tensor, x0: Tensor, schedule: Schedule) -> Tensor:
    return (x_t - _coef(schedule.sqrt_alpha_bar, t, x_t) * x0) / _coef(schedule.sqrt_one_minus_alpha_bar, t, x_t)


def predict_eps(x_t: Tensor, t: int | Tensor, x0: Tensor, schedule: Schedule) -> Tensor:
    r"""The noise that takes ``x0`` to ``x_t`` at step t: the forward formula solved for the noise.

    :math:`\epsilon = (x_t - \sqrt{\bar\alpha_t}\,x_0) / \sqrt{1-\bar\alpha_t}`. The oracle and the
    ideal denoiser turn their clean-image estimate into a noise prediction this way.

    Args:
        x_t: noisy image(s), a floating tensor (C, H, W) or (B, C, H, W) of finite values.
        t: an int in 1..T, or a (B,) tensor of a signed integer dtype.
        x0: the clean image(s), same shape as ``x_t``; its dtype may differ (the result is promoted).

    Returns:
        eps, a new tensor of ``x_t``'s shape, in the promoted dtype of ``x_t`` and ``x0``.
    """
    t = _read_step_args(x_t, "x_t", x0, "x0", t, 1, schedule)
    return check.finite_result(_predict_eps(x_t, t, x0, schedule), "predict_eps's eps", "x_t or x0 is too large")


def _eps_of_clipped_x0(x_t: Tensor, t: int | Tensor, eps: Tensor, schedule: Schedule) -> Tensor:
    """The noise prediction whose clean-image estimate is clipped to the data range [-1, 1].

    eps' = (x_t - c x0_clipped) / s = eps + (c / s)(x0_hat - x0_clipped), with c = sqrt(alpha_bar_t)
    and s = sqrt(1 - alpha_bar_t): the second form leaves eps exactly as it was wherever the
    estimate is already in range.
    """
    x0_hat = _predict_x0(x_t, t, eps, schedule)
    ratio = _coef(schedule.sqrt_alpha_bar, t, x_t) / _coef(schedule.sqrt_one_minus_alpha_bar, t, x_t)
    return eps + ratio * (x0_hat - x0_hat.clamp(-1.0, 1.0))


def _reverse_step(
    x_t: Tensor,
    t: int | Tensor,
    eps: Tensor,
    schedule: Schedule,
    z: Tensor | None,
    generator: Generators,
    variance: Variance,
) -> Tensor:
    # 1. the mean: remove the predicted noise, then undo the forward step's shrinkage (DDPM eq. 11)
    mean = _coef(schedule.scale, t, x_t) * (x_t - _coef(schedule.eps_coef, t, x_t) * eps)
    # 2. the last step commits: no noise at t = 1, whatever z is (Algorithm 2, line 3)
    if isinstance(t, int):
        if t == 1:
            return mean
        keep = 1.0
    else:
        keep = (t > 1).to(mean).view(-1, *([1] * (x_t.dim() - 1)))
    # 3. add fresh noise with standard deviation sigma_t (sqrt(beta_t) or sqrt(beta_tilde_t))
    sigma = schedule.sigma if variance == "beta" else schedule.sigma_tilde
    if z is None:
        z = _randn_like(x_t, generator)
    return mean + keep * _coef(sigma, t, mean) * z


def reverse_step(
    x_t: Tensor,
    t: int | Tensor,
    eps: Tensor,
    schedule: Schedule,
    *,
    z: Tensor | None = None,
    generator: Generators = None,
    variance: Variance = "beta",
) -> Tensor:
    r"""One step of DDPM sampling (Algorithm 2): from x_t to x_{t-1}.

    .. math:: x_{t-1} = \frac{1}{\sqrt{\alpha_t}}\Big(x_t - \frac{\beta_t}{\sqrt{1-\bar\alpha_t}}
              \,\epsilon\Big) + \sigma_t z

    Args:
        x_t: noisy image(s), a floating tensor (C, H, W) or (B, C, H, W) of finite values.
        t: an int in 1..T, or a (B,) tensor of a signed integer dtype. At t = 1 no noise is added.
        eps: the model's noise prediction, same shape as ``x_t``.
        z: the fresh noise, same shape as ``x_t``; drawn from ``generator`` in ``x_t``'s dtype if ``None``.
        generator: a ``torch.Generator`` (or a list of B of them) for drawing ``z``.
        variance: ``"beta"`` for sigma_t^2 = beta_t (the lesson's choice) or
            ``"beta_tilde"`` for the posterior variance of DDPM eq. 7.

    Returns:
        x_{t-1}, a new tensor of ``x_t``'s shape, in the promoted dtype of ``x_t``, ``eps`` and ``z``.
    """
    t = _read_step_args(x_t, "x_t", eps, "eps", t, 1, schedule)
    if z is not None:
        check.image(z, "z")
        check.same_shape(x_t, z, "x_t", "z")
    check.generator(generator, x_t)
    check.choice(variance, "variance", VARIANCES)
    x = _reverse_step(x_t, t, eps, schedule, z, generator, variance)
    return check.finite_result(x, "reverse_step's x_{t-1}", "x_t, eps or z is too large")
