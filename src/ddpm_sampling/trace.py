r"""What the ideal denoiser leans on while it samples: the generation chapter's trace.

:func:`sample_with_trace` runs DDPM with an :class:`~ddpm_sampling.ideal.IdealDenoiser` and
records, at each t, the posterior weights over the training images: which image carries the
most weight, how many images share it (:math:`1/\sum_i w_i^2`) and, given labels, how the
weight splits over the classes. :func:`decided_at` reads from such a record the step from
which on a sample's image (or class) no longer changes.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from . import _checks as check
from .ideal import IdealDenoiser
from .samplers import ddpm_sample
from .steps import Generators, Variance


class Trace(NamedTuple):
    """A DDPM run with the ideal denoiser and what it leaned on at each step.

    Every per-step tensor has one row per timestep t = 0..T; row t is what the model computed
    from x_t, and row 0 (no model call) is unused.
    """

    x0: Tensor  # (B, C, H, W) the samples
    snapshots: dict[int, Tensor]  # x_t at the asked timesteps
    top_index: Tensor  # (T + 1, B) long: index of the heaviest training image at each t (row 0: -1)
    top_weight: Tensor  # (T + 1, B) float64: its weight (row 0: 0)
    effective_number: Tensor  # (T + 1, B) float64: 1 / sum_i w_i^2, from 1 (one image) to N (all equal)
    class_weight: Tensor | None  # (T + 1, B, K) float64: total weight of each class, or None without labels


def _class_indicator(labels: object, num_classes: object, n_images: int) -> Tensor:
    """Read ``labels`` and ``num_classes`` of :func:`sample_with_trace`; return the (N, K) float64 one-hot matrix."""
    if not isinstance(labels, Tensor) or labels.dtype not in check.SIGNED_INTEGERS:
        raise TypeError(
            f"labels must be a tensor of class indices of a signed integer dtype such as torch.int64, "
            f"got {check.describe(labels)}"
        )
    if labels.dim() != 1 or labels.shape[0] != n_images:
        raise ValueError(
            f"labels must have shape ({n_images},), one class index per training image, got {tuple(labels.shape)}"
        )
    labels = labels.to(torch.long)
    smallest, largest = int(labels.min()), int(labels.max())
    if smallest < 0:
        raise ValueError(f"labels hold {smallest}, outside the valid range: class indices are ints >= 0")
    K = largest + 1 if num_classes is None else check.count(num_classes, "num_classes", 1)
    if largest >= K:
        raise ValueError(f"labels hold {largest}, outside the valid range 0..{K - 1} (num_classes = {K})")
    return torch.nn.functional.one_hot(labels.cpu(), K).to(torch.float64)


def sample_with_trace(
    denoiser: IdealDenoiser,
    *,
    shape: tuple[int, ...],
    generator: Generators = None,
    snapshot_timesteps=(),
    variance: Variance = "beta",
    labels: Tensor | None = None,
    num_classes: int | None = None,
) -> Trace:
    """Run :func:`~ddpm_sampling.ddpm_sample` with the ideal denoiser and record, at each t, how it
    weighs the training images. Same samples as ``ddpm_sample`` with the same generator.

    At each t it records which training image carries the most weight and that weight, the
    effective number of images that share the weight, :math:`1/\\sum_i w_i^2`, and, given the
    training images' class labels, the total weight of each class (each row sums to 1).

    Args:
        denoiser: an :class:`~ddpm_sampling.ideal.IdealDenoiser`.
        shape: (C, H, W) or (B, C, H, W) with the training images' C, H, W; ``generator``,
            ``snapshot_timesteps`` and ``variance`` as in :func:`~ddpm_sampling.ddpm_sample`.
        labels: optional (N,) tensor of a signed integer dtype, the class index of each of the
            denoiser's N training images, each in 0..num_classes - 1.
        num_classes: the number K of classes, an int >= 1 (only with ``labels``); by default
            the largest label + 1.

    Returns:
        A :class:`Trace`; its ``class_weight`` is None when no ``labels`` are given.
    """
    check.instance(denoiser, IdealDenoiser, "denoiser", "ideal_denoiser")
    shape = check.shape(shape)
    if shape[-3:] != denoiser.image_shape:
        raise ValueError(f"shape = {shape} does not end in the training images' shape {denoiser.image_shape}")
    if labels is None and num_classes is not None:
        raise ValueError("num_classes is given without labels; it counts the classes of the labels")
    indicator = None if labels is None else _class_indicator(labels, num_classes, denoiser.N)
    T = denoiser.schedule.T
    batch = shape[0] if len(shape) == 4 else 1
    top_index = torch.full((T + 1, batch), -1, dtype=torch.long)
    top_weight = torch.zeros(T + 1, batch, dtype=torch.float64)
    effective_number = torch.zeros(T + 1, batch, dtype=torch.float64)
    class_weight = None if indicator is None else torch.zeros(T + 1, batch, indicator.shape[1], dtype=torch.float64)

    def model(x_t: Tensor, t: int) -> Tensor:
        pred = denoiser.predict(x_t, t)
        w = pred.weights.reshape(batch, -1).cpu()
        top_weight[t], top_index[t] = w.max(dim=-1)
        effective_number[t] = 1 / (w * w).sum(dim=-1)
        if class_weight is not None:
            class_weight[t] = w @ indicator
        return pred.eps

    x0, snaps = ddpm_sample(
        model,
        denoiser.schedule,
        shape=shape,
        generator=generator,
        snapshot_timesteps=snapshot_timesteps,
        variance=variance,
    )
    return Trace(x0, snaps, top_index, top_weight, effective_number, class_weight)


def decided_at(labels: Tensor) -> Tensor:
    """For each sample, the largest t from which on (down to t = 1) ``labels[t]`` no longer changes.

    With a condition as ``labels`` (a bool tensor such as ``trace.top_weight > 0.99``) that holds
    at t = 1, this is the largest t from which on it holds to the end.

    Args:
        labels: (T + 1, B) labels per timestep, a tensor of an integer (or bool) dtype, T >= 1
            (row 0 is ignored).

    Returns:
        For each sample, as a (B,) long tensor, the t such that labels[s] == labels[1] for
        every s in 1..t while labels[t + 1] differs (T if the label never changes).
    """
    if not isinstance(labels, Tensor) or labels.dtype.is_floating_point or labels.dtype.is_complex:
        raise TypeError(f"labels must be a tensor of integer labels, got {check.describe(labels)}")
    if labels.dim() != 2 or labels.shape[0] < 2:
        raise ValueError(f"labels must have shape (T + 1, B) with T >= 1, got {tuple(labels.shape)}")
    lab = labels[1:]  # (T, B), row k is t = k + 1
    differs = lab != lab[0]
    T = lab.shape[0]
    # first row (counting up from t = 1) where the label differs; all-same -> T
    first_diff = torch.where(differs.any(0), differs.float().argmax(0), torch.tensor(T))
    return first_diff  # the row index of the first change equals the last unchanged t
