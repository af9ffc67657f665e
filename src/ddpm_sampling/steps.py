r"""Forward and reverse steps of DDPM (Ho et al. 2020).

Each public function checks its input once and then calls an unchecked
``_``-prefixed twin; samplers call the twins directly inside their loops.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from ._checks import check_batch_timestep, check_finite, check_image, check_same_shape, check_timestep
from .schedule import Schedule

Variance = Literal["beta", "beta_tilde"]
VARIANCES = ("beta", "beta_tilde")
Generators = torch.Generator | list[torch.Generator] | None


def _per_image(coef: Tensor, t: int | Tensor, x: Tensor) -> Tensor | float:
    """Look up ``coef[t]`` and shape it to broadcast against ``x``: a float, or (B, 1, 1, 1)."""
    if isinstance(t, Tensor) and t.dim() == 1:
        return coef[t].to(x).view(-1, *([1] * (x.dim() - 1)))
    return float(coef[t])


def randn_like_batch(x: Tensor, generator: Generators) -> Tensor:
    """Standard normal noise shaped like ``x`` (C, H, W) or (B, C, H, W).

    ``generator`` may be one ``torch.Generator`` or a list of B of them, one per image,
    so that image i of a batch sees exactly the noise of a single run seeded like
    ``generator[i]``.
    """
    if isinstance(generator, (list, tuple)):
        return torch.stack([torch.randn(x.shape[1:], generator=g, dtype=x.dtype) for g in generator]).to(x.device)
    return torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)


def check_generator(generator: Generators, x: Tensor) -> None:
    """A list of generators needs a batch with one image per generator."""
    if isinstance(generator, (list, tuple)):
        if x.dim() != 4 or len(generator) != x.shape[0]:
            raise ValueError(
                f"got {len(generator)} generators for x of shape {tuple(x.shape)}; "
                "a list needs one generator per image of a (B, C, H, W) batch"
            )
    elif generator is not None and not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator, a list of them or None, got {type(generator).__name__}")


def _check_image_noise_t(
    x: Tensor, name: str, eps: Tensor, t: int | Tensor, t_min: int, schedule: Schedule, other: str = "eps"
) -> None:
    """The checks every step function shares: an image, noise of its shape, t in t_min..T (one per image)."""
    check_image(x, name)
    check_finite(eps, other)
    check_same_shape(x, eps, name, other)
    check_timestep(t, t_min, schedule.T)
    check_batch_timestep(t, x)


def _q_sample(x0: Tensor, t: int | Tensor, eps: Tensor, schedule: Schedule) -> Tensor:
    return _per_image(schedule.sqrt_alpha_bar, t, x0) * x0 + _per_image(schedule.sqrt_one_minus_alpha_bar, t, x0) * eps


def q_sample(x0: Tensor, t: int | Tensor, eps: Tensor, schedule: Schedule) -> Tensor:
    r"""Jump from the clean image to step t in closed form (DDPM eq. 4).

    :math:`x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\epsilon`

    Args:
        x0: clean image(s), (C, H, W) or (B, C, H, W).
        t: an int in 0..T, or a (B,) integer tensor with one timestep per image.
        eps: the noise, same shape as ``x0``.

    Returns:
        x_t, same shape as ``x0``.
    """
    _check_image_noise_t(x0, "x0", eps, t, 0, schedule)
    return _q_sample(x0, t, eps, schedule)


def _predict_x0(x_t: Tensor, t: int | Tensor, eps: Tensor, schedule: Schedule) -> Tensor:
    return (x_t - _per_image(schedule.sqrt_one_minus_alpha_bar, t, x_t) * eps) / _per_image(
        schedule.sqrt_alpha_bar, t, x_t
    )


def predict_x0(x_t: Tensor, t: int | Tensor, eps: Tensor, schedule: Schedule) -> Tensor:
    r"""The one-shot estimate of the clean image: the forward formula solved for x_0.

    :math:`\hat x_0 = (x_t - \sqrt{1-\bar\alpha_t}\,\epsilon) / \sqrt{\bar\alpha_t}`

    Args:
        x_t: noisy image(s), (C, H, W) or (B, C, H, W).
        t: an int in 1..T, or a (B,) integer tensor.
        eps: the (predicted) noise, same shape as ``x_t``.

    Returns:
        x0_hat, same shape as ``x_t``.
    """
    _check_image_noise_t(x_t, "x_t", eps, t, 1, schedule)
    return _predict_x0(x_t, t, eps, schedule)


def _predict_eps(x_t: Tensor, t: int | Tensor, x0: Tensor, schedule: Schedule) -> Tensor:
    return (x_t - _per_image(schedule.sqrt_alpha_bar, t, x_t) * x0) / _per_image(
        schedule.sqrt_one_minus_alpha_bar, t, x_t
    )


def predict_eps(x_t: Tensor, t: int | Tensor, x0: Tensor, schedule: Schedule) -> Tensor:
    r"""The noise that takes ``x0`` to ``x_t`` at step t: the forward formula solved for the noise.

    :math:`\epsilon = (x_t - \sqrt{\bar\alpha_t}\,x_0) / \sqrt{1-\bar\alpha_t}`. The oracle and the
    ideal denoiser turn their clean-image estimate into a noise prediction this way.

    Args:
        x_t: noisy image(s), (C, H, W) or (B, C, H, W).
        t: an int in 1..T, or a (B,) integer tensor.
        x0: the clean image(s), same shape as ``x_t``.

    Returns:
        eps, same shape as ``x_t``.
    """
    _check_image_noise_t(x_t, "x_t", x0, t, 1, schedule, other="x0")
    return _predict_eps(x_t, t, x0, schedule)


def _clip_eps(x_t: Tensor, t: int | Tensor, eps: Tensor, schedule: Schedule) -> Tensor:
    """The noise prediction whose clean-image estimate is clipped to the data range [-1, 1].

    eps' = (x_t - c x0_clipped) / s = eps + (c / s)(x0_hat - x0_clipped), with c = sqrt(alpha_bar_t)
    and s = sqrt(1 - alpha_bar_t): the second form leaves eps exactly as it was wherever the
    estimate is already in range.
    """
    x0_hat = _predict_x0(x_t, t, eps, schedule)
    ratio = _per_image(schedule.sqrt_alpha_bar, t, x_t) / _per_image(schedule.sqrt_one_minus_alpha_bar, t, x_t)
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
    mean = _per_image(schedule.scale, t, x_t) * (x_t - _per_image(schedule.eps_coef, t, x_t) * eps)
    # 2. the last step commits: no noise at t = 1, whatever z is (Algorithm 2, line 3)
    if isinstance(t, int) or t.dim() == 0:
        if int(t) == 1:
            return mean
        keep = 1.0
    else:
        keep = (t > 1).to(x_t).view(-1, *([1] * (x_t.dim() - 1)))
    # 3. add fresh noise with standard deviation sigma_t (sqrt(beta_t) or sqrt(beta_tilde_t))
    sigma = schedule.sigma if variance == "beta" else schedule.sigma_tilde
    if z is None:
        z = randn_like_batch(x_t, generator)
    return mean + keep * _per_image(sigma, t, x_t) * z


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
        x_t: noisy image(s), (C, H, W) or (B, C, H, W).
        t: an int in 1..T, or a (B,) integer tensor. At t = 1 no noise is added.
        eps: the model's noise prediction, same shape as ``x_t``.
        z: the fresh noise, same shape as ``x_t``; drawn from ``generator`` if ``None``.
        generator: a ``torch.Generator`` (or a list of B of them) for drawing ``z``.
        variance: ``"beta"`` for sigma_t^2 = beta_t (the lesson's choice) or
            ``"beta_tilde"`` for the posterior variance of DDPM eq. 7.

    Returns:
        x_{t-1}, same shape as ``x_t``.
    """
    _check_image_noise_t(x_t, "x_t", eps, t, 1, schedule)
    if z is not None:
        check_finite(z, "z")
        check_same_shape(x_t, z, "x_t", "z")
    check_generator(generator, x_t)
    check_variance(variance)
    return _reverse_step(x_t, t, eps, schedule, z, generator, variance)


def check_variance(variance: str) -> None:
    if variance not in VARIANCES:
        raise ValueError(f"variance = {variance!r} is not one of {VARIANCES}")
