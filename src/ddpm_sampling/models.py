r"""Stand-ins for a trained network: anything callable as ``model(x_t, t) -> eps``.

A model takes noisy images x_t, (C, H, W) or (B, C, H, W), and an int timestep in
1..T (or a (B,) integer tensor of them) and returns its noise prediction, a tensor of
x_t's shape, dtype and device. The samplers check that much of every prediction.

A model runs at every step of a sampler, so the models here read their arguments cheaply: the
types, shapes and timestep range, not every value of x_t (a non-finite x_t gives a non-finite
prediction, which the sampler reports at its end).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from . import _checks as check
from .schedule import Schedule, coef_at
from .steps import Generators, noise_like

Model = Callable[[Tensor, int | Tensor], Tensor]


class TargetOracle:
    r"""The lesson's oracle: it knows the clean image and returns the noise that explains x_t.

    :math:`\epsilon = (x_t - \sqrt{\bar\alpha_t}\,x_\text{target}) / \sqrt{1 - \bar\alpha_t}`,
    the forward formula solved for the noise (:func:`~ddpm_sampling.predict_eps`). It reconstructs
    ``x_target``; it does not generate anything new.

    Call it with ``x_t`` of ``x_target``'s shape, or with a batch (B, C, H, W) when ``x_target`` is
    one image (C, H, W); ``t`` as in :func:`~ddpm_sampling.reverse_step`. The prediction has
    ``x_t``'s dtype (computed in the wider of ``x_t``'s and ``x_target``'s dtypes).
    """

    def __init__(self, x_target: Tensor, schedule: Schedule):
        check.image(x_target, "x_target")
        check.instance(schedule, Schedule, "schedule", "cosine_schedule")
        self.x_target = x_target.detach().clone()
        self.schedule = schedule

    def __call__(self, x_t: Tensor, t: int | Tensor) -> Tensor:
        t = check.timestep(t, 1, self.schedule.T)
        check.tensor(x_t, "x_t")
        target = self.x_target.shape
        if x_t.shape != target and (len(target) != 3 or x_t.dim() != 4 or x_t.shape[1:] != target):
            raise ValueError(
                f"x_t has shape {tuple(x_t.shape)}; the oracle's target is {tuple(target)}, so x_t must have "
                f"that shape{' or be a batch of such images' if len(target) == 3 else ''}"
            )
        check.batch_timestep(t, x_t)
        if x_t.device != self.x_target.device:
            raise ValueError(f"x_t is on {x_t.device} but the oracle's target on {self.x_target.device}")
        s = self.schedule  # predict_eps's formula, read cheaply above: a model runs at every step
        eps = (x_t - coef_at(s.sqrt_alpha_bar, t, x_t) * self.x_target) / coef_at(s.sqrt_one_minus_alpha_bar, t, x_t)
        return eps if eps.dtype == x_t.dtype else eps.to(x_t.dtype)  # .to costs even when it does nothing

    def __repr__(self) -> str:
        return f"TargetOracle(x_target of shape {tuple(self.x_target.shape)}, T={self.schedule.T})"


def target_oracle(x_target: Tensor, schedule: Schedule) -> TargetOracle:
    """A model that predicts the exact noise for reaching ``x_target``.

    Args:
        x_target: the clean image(s), a floating tensor (C, H, W) or (B, C, H, W) of finite values.
            The oracle keeps its own copy: a later in-place edit of ``x_target`` does not reach it.
        schedule: the noise schedule.
    """
    return TargetOracle(x_target, schedule)


class NoisyModel:
    """Wraps a model and adds Gaussian error of standard deviation ``level`` to each prediction."""

    def __init__(self, model: Model, level: float, generator: Generators = None):
        check.model(model)
        self.level = check.std(level, "level")
        batched = isinstance(generator, (list, tuple))
        check.generator(generator, (len(generator), 1, 1, 1) if batched else (1, 1, 1))
        self.model, self.generator = model, list(generator) if batched else generator

    def __call__(self, x_t: Tensor, t: int | Tensor) -> Tensor:
        check.tensor(x_t, "x_t")
        eps = self.model(x_t, t)
        check.prediction(x_t, t, eps)
        if isinstance(self.generator, list):  # one generator per image: the batch must match
            check.generator(self.generator, eps.shape)
        # a standard normal draw stays well inside 64; beyond that the error would overflow the dtype
        if self.level * 64 > torch.finfo(eps.dtype).max:
            raise ValueError(
                f"level = {self.level!r} is outside the valid range for {eps.dtype} predictions: "
                f"at most {torch.finfo(eps.dtype).max / 64:.3g}, or the added error is inf"
            )
        return eps + self.level * noise_like(eps, self.generator)

    def __repr__(self) -> str:
        return f"NoisyModel({self.model!r}, level={self.level})"


def noisy_model(model: Model, level: float, generator: Generators = None) -> NoisyModel:
    """An imperfect model: ``model``'s prediction plus ``level`` times standard normal noise.

    Args:
        model: any ``model(x_t, t) -> eps``; its predictions are checked like a sampler's.
        level: the standard deviation of the added error, a finite real number >= 0.
        generator: the ``torch.Generator`` the error is drawn from (or a list, one per image).
    """
    return NoisyModel(model, level, generator)
