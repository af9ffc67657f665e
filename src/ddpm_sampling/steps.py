r"""Forward and reverse steps of DDPM (Ho et al. 2020), one function per formula.

Each function reads its arguments in one block at its top and then computes its formula. Two
tensors of different floating dtypes (an image in float32, noise in float64, say) combine by
PyTorch's promotion: the result has the wider dtype. Every result is a new tensor, never a view of
an input, and a result that overflowed to inf is refused. Names follow the notation table of
:mod:`ddpm_sampling.schedule`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor

from . import _checks as check
from .schedule import Schedule, coef_at

Variance = Literal["beta", "beta_tilde"]
VARIANCES = ("beta", "beta_tilde")
Generators = torch.Generator | list[torch.Generator] | None


def noise(
    shape: Sequence[int], generator: Generators, dtype: torch.dtype = torch.float32, device: torch.device | None = None
) -> Tensor:
    """Standard normal noise of ``shape`` (C, H, W) or (B, C, H, W), drawn on the CPU and moved to ``device``.

    ``generator`` may be one ``torch.Generator`` or a list of B of them, one per image, so that
    image i of a batch sees exactly the noise of a single run seeded like ``generator[i]``. Drawn
    on the CPU, so a seed means the same noise on any device.
    """
    if isinstance(generator, (list, tuple)):
        z = torch.stack([torch.randn(tuple(shape[1:]), generator=g, dtype=dtype) for g in generator])
    else:
        z = torch.randn(tuple(shape), generator=generator, dtype=dtype)
    return z if device is None else z.to(device)  # .to the device it is on returns z itself


def noise_like(x: Tensor, generator: Generators) -> Tensor:
    """Standard normal noise with the shape, dtype and device of ``x``; see :func:`noise`."""
    return noise(x.shape, generator, x.dtype, x.device)


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
    check.instance(schedule, Schedule, "schedule", "cosine_schedule")
    check.images(x0=x0, eps=eps)
    t = check.timestep(t, 0, schedule.T, batch_of=x0)

    x_t = coef_at(schedule.sqrt_alpha_bar, t, x0) * x0 + coef_at(schedule.sqrt_one_minus_alpha_bar, t, x0) * eps
    return check.finite_result(x_t, "q_sample's x_t", "x0 or eps is too large")


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
    check.instance(schedule, Schedule, "schedule", "cosine_schedule")
    check.images(x_t=x_t, eps=eps)
    t = check.timestep(t, 1, schedule.T, batch_of=x_t)

    x0_hat = (x_t - coef_at(schedule.sqrt_one_minus_alpha_bar, t, x_t) * eps) / coef_at(schedule.sqrt_alpha_bar, t, x_t)
    return check.finite_result(x0_hat, "predict_x0's x0_hat", "x_t or eps is too large")


def predict_eps(x_t: Tensor, t: int | Tensor, x0: Tensor, schedule: Schedule) -> Tensor:
    r"""The noise that takes ``x0`` to ``x_t`` at step t: the forward formula solved for the noise.

    :math:`\epsilon = (x_t - \sqrt{\bar\alpha_t}\,x_0) / \sqrt{1-\bar\alpha_t}`. The oracle and the
    ideal denoiser turn their clean-image estimate into a noise prediction by this formula.

    Args:
        x_t: noisy image(s), a floating tensor (C, H, W) or (B, C, H, W) of finite values.
        t: an int in 1..T, or a (B,) tensor of a signed integer dtype.
        x0: the clean image(s), same shape as ``x_t``; its dtype may differ (the result is promoted).

    Returns:
        eps, a new tensor of ``x_t``'s shape, in the promoted dtype of ``x_t`` and ``x0``.
    """
    check.instance(schedule, Schedule, "schedule", "cosine_schedule")
    check.images(x_t=x_t, x0=x0)
    t = check.timestep(t, 1, schedule.T, batch_of=x_t)

    eps = (x_t - coef_at(schedule.sqrt_alpha_bar, t, x_t) * x0) / coef_at(schedule.sqrt_one_minus_alpha_bar, t, x_t)
    return check.finite_result(eps, "predict_eps's eps", "x_t or x0 is too large")


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
        t: an int in 1..T, or a (B,) tensor of a signed integer dtype. At t = 1 no noise is added
            (and for an int t = 1 none is drawn).
        eps: the model's noise prediction, same shape as ``x_t``.
        z: the fresh noise, same shape as ``x_t``; drawn from ``generator`` in ``x_t``'s dtype if ``None``.
        generator: a ``torch.Generator`` (or a list of B of them) for drawing ``z``.
        variance: ``"beta"`` for sigma_t^2 = beta_t (the lesson's choice) or
            ``"beta_tilde"`` for the posterior variance of DDPM eq. 7.

    Returns:
        x_{t-1}, a new tensor of ``x_t``'s shape, in the promoted dtype of ``x_t``, ``eps`` and ``z``.
    """
    check.instance(schedule, Schedule, "schedule", "cosine_schedule")
    check.images(x_t=x_t, eps=eps, **({} if z is None else {"z": z}))
    t = check.timestep(t, 1, schedule.T, batch_of=x_t)
    check.generator(generator, x_t.shape)
    sigma = {"beta": schedule.sigma, "beta_tilde": schedule.sigma_tilde}[check.choice(variance, "variance", VARIANCES)]

    # 1. the mean: remove the predicted noise, then undo the forward step's shrinkage (DDPM eq. 11)
    mean = coef_at(schedule.scale, t, x_t) * (x_t - coef_at(schedule.eps_coef, t, x_t) * eps)
    # 2. the last step commits: no noise at t = 1 (Algorithm 2, line 3)
    if isinstance(t, int) and t == 1:
        return check.finite_result(mean, "reverse_step's x_{t-1}", "x_t, eps or z is too large")
    # 3. fresh noise with standard deviation sigma_t, none for an image at t = 1
    z = noise_like(x_t, generator) if z is None else z
    not_last = coef_at((torch.arange(schedule.T + 1) > 1).to(sigma), t, mean)
    x = mean + not_last * coef_at(sigma, t, mean) * z
    return check.finite_result(x, "reverse_step's x_{t-1}", "x_t, eps or z is too large")
