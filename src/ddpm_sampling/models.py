r"""Stand-ins for a trained network: anything callable as ``model(x_t, t) -> eps``.

A model takes noisy images x_t, (C, H, W) or (B, C, H, W), and an int timestep in
1..T (or a (B,) tensor of them) and returns its noise prediction, same shape as x_t.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from ._checks import check_batch_timestep, check_image, check_timestep
from .schedule import Schedule
from .steps import Generators, _predict_eps, check_generator, randn_like_batch

Model = Callable[[Tensor, int | Tensor], Tensor]


class TargetOracle:
    r"""The lesson's oracle: it knows the clean image and returns the noise that explains x_t.

    :math:`\epsilon = (x_t - \sqrt{\bar\alpha_t}\,x_\text{target}) / \sqrt{1 - \bar\alpha_t}`,
    the forward formula solved for the noise. It reconstructs ``x_target``; it does
    not generate anything new.
    """

    def __init__(self, x_target: Tensor, schedule: Schedule):
        check_image(x_target, "x_target")
        self.x_target = x_target.clone()
        self.schedule = schedule

    def __call__(self, x_t: Tensor, t: int | Tensor) -> Tensor:
        if isinstance(t, int) and not 1 <= t <= self.schedule.T:  # cheap, once per call
            check_timestep(t, 1, self.schedule.T)
        return _predict_eps(x_t, t, self.x_target, self.schedule)

    def __repr__(self) -> str:
        return f"TargetOracle(x_target of shape {tuple(self.x_target.shape)}, T={self.schedule.T})"


def target_oracle(x_target: Tensor, schedule: Schedule) -> TargetOracle:
    """A model that predicts the exact noise for reaching ``x_target`` ((C, H, W) or (B, C, H, W))."""
    return TargetOracle(x_target, schedule)


class NoisyModel:
    """Wraps a model and adds Gaussian error of standard deviation ``level`` to each prediction."""

    def __init__(self, model: Model, level: float, generator: Generators = None):
        if not callable(model):
            raise ValueError(f"model must be callable as model(x_t, t), got {type(model).__name__}")
        if isinstance(level, bool) or not isinstance(level, (int, float)) or not (math.isfinite(level) and level >= 0):
            raise ValueError(f"level = {level!r} is outside the valid range [0, inf): it is a standard deviation")
        self.model, self.level, self.generator = model, float(level), generator

    def __call__(self, x_t: Tensor, t: int | Tensor) -> Tensor:
        eps = self.model(x_t, t)
        if isinstance(self.generator, (list, tuple)):  # one generator per image: the batch must match
            check_generator(self.generator, eps)
        return eps + self.level * randn_like_batch(eps, self.generator)

    def __repr__(self) -> str:
        return f"NoisyModel({self.model!r}, level={self.level})"


def noisy_model(model: Model, level: float, generator: Generators = None) -> NoisyModel:
    """An imperfect model: ``model``'s prediction plus ``level`` times standard normal noise.

    Args:
        model: any ``model(x_t, t) -> eps``.
        level: the standard deviation of the added error, >= 0.
        generator: the ``torch.Generator`` the error is drawn from (or one per image).
    """
    if isinstance(generator, (list, tuple)):
        check_generator(generator, torch.empty(len(generator), 1, 1, 1))
    else:
        check_generator(generator, torch.empty(1, 1, 1))
    return NoisyModel(model, level, generator)


def check_model_output(eps: Tensor, x_t: Tensor, t: int | Tensor) -> None:
    """Raise ``ValueError`` if a model's prediction cannot be used for x_t."""
    check_batch_timestep(t, x_t)
    if not isinstance(eps, Tensor) or eps.shape != x_t.shape:
        shape = tuple(eps.shape) if isinstance(eps, Tensor) else type(eps).__name__
        raise ValueError(f"the model returned {shape} at t = {t}; it must return a tensor of shape {tuple(x_t.shape)}")
    if eps.dtype != x_t.dtype:
        raise TypeError(f"the model returned dtype {eps.dtype} at t = {t}; it must return x_t's dtype, {x_t.dtype}")
