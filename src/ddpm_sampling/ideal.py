r"""The ideal denoiser: the exact minimiser of the denoising loss for a finite training set.

For training images :math:`y_1..y_N` and :math:`x_t = \sqrt{\bar\alpha_t}\,y + \sqrt{1-\bar\alpha_t}\,\epsilon`
with :math:`y` drawn uniformly from them, the posterior over which image was noised is

.. math:: w_i(x_t) = \operatorname{softmax}_i\Big(-\frac{\lVert x_t - \sqrt{\bar\alpha_t}\,y_i\rVert^2}
          {2(1-\bar\alpha_t)}\Big),

so :math:`E[x_0 \mid x_t] = \sum_i w_i y_i` and the best noise prediction follows from the forward
formula (Karras et al. 2022, "Elucidating the design space", appendix B.3). A network trained
to perfection on those N images would compute exactly this; it is a model that generates,
unlike the oracle that knows its target, and it can only ever return its training images.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from . import _checks as check
from .samplers import ddpm_sample
from .schedule import Schedule, coef_at
from .steps import Generators, Variance


class IdealPrediction(NamedTuple):
    """Everything the ideal denoiser computes for one call."""

    eps: Tensor  # the noise prediction, shape of x_t
    x0_hat: Tensor  # E[x_0 | x_t], shape of x_t
    weights: Tensor  # (B, N) float64 posterior over the training images; rows sum to 1


class IdealDenoiser:
    """Callable as ``model(x_t, t) -> eps``, like the oracles; see :func:`~ddpm_sampling.ideal_denoiser`.

    Every method takes ``x_t`` (C, H, W) or (B, C, H, W) with the training images' C, H, W, of
    any floating dtype, and ``t`` an int in 1..T or a (B,) tensor of a signed integer dtype.
    It computes in float64 and returns ``eps`` and ``x0_hat`` in ``x_t``'s dtype. Like every model,
    it reads x_t's type and shape, not each value (it runs at every step of a sampler).
    """

    def __init__(self, data: Tensor, schedule: Schedule):
        check.finite(data, "data")
        if data.dim() != 4 or min(data.shape) < 1:
            raise ValueError(
                f"data must have shape (N, C, H, W) with N >= 1 and no empty dimension, got {tuple(data.shape)}"
            )
        check.instance(schedule, Schedule, "schedule", "cosine_schedule")
        self.schedule = schedule
        self.image_shape = tuple(data.shape[1:])
        # a float64 copy (.to alone would share a float64 caller's memory), flattened: (N, D)
        self.images = data.detach().to(torch.float64, copy=True).reshape(data.shape[0], -1)
        self.images_sq = (self.images * self.images).sum(1)  # (N,) ||y_i||^2
        # \sqrt{\bar\alpha_t} and 1 - \bar\alpha_t in float64; 1 - alpha_bar comes from its stored
        # square root, which keeps full relative precision near t = 1 where alpha_bar is ~1.
        self.sqrt_alpha_bar = schedule.sqrt_alpha_bar.to(torch.float64)
        self.one_minus_alpha_bar = schedule.sqrt_one_minus_alpha_bar.to(torch.float64) ** 2

    @property
    def N(self) -> int:
        return self.images.shape[0]

    def _read(self, x_t: Tensor, t: object) -> int | Tensor:
        """Read ``x_t`` and ``t``; return t as an int or a (B,) long tensor."""
        t = check.timestep(t, 1, self.schedule.T)
        check.tensor(x_t, "x_t")
        if x_t.dim() not in (3, 4) or tuple(x_t.shape[-3:]) != self.image_shape or x_t.numel() == 0:
            raise ValueError(
                f"x_t has shape {tuple(x_t.shape)}; the training images are {self.image_shape}, "
                "so x_t must be (C, H, W) or (B, C, H, W) with those C, H, W"
            )
        check.batch_timestep(t, x_t)
        return t

    def _columns(self, t: int | Tensor, batch: int) -> tuple[Tensor, Tensor]:
        """(B, 1) float64 columns of sqrt(alpha_bar_t) and 1 - alpha_bar_t."""
        if isinstance(t, Tensor):
            t = t.to(self.sqrt_alpha_bar.device)
            return self.sqrt_alpha_bar[t].view(-1, 1), self.one_minus_alpha_bar[t].view(-1, 1)
        return self.sqrt_alpha_bar[t].expand(batch, 1), self.one_minus_alpha_bar[t].expand(batch, 1)

    def _logits(self, x_t: Tensor, t: int | Tensor) -> Tensor:
        x = x_t.detach().reshape(-1, self.images.shape[1]).to(torch.float64)  # (B, D)
        c, v = self._columns(t, x.shape[0])
        # ||x - c y||^2 = ||x||^2 - 2c x.y + c^2 ||y||^2: one matmul, memory O(B x N).
        # Rounding can make a true zero slightly negative; a squared distance is >= 0.
        d2 = (x * x).sum(1, keepdim=True) - 2 * c * (x @ self.images.T) + c * c * self.images_sq
        logits = -d2.clamp_min(0) / (2 * v)
        return logits if x_t.dim() == 4 else logits[0]

    def logits(self, x_t: Tensor, t: int | Tensor) -> Tensor:
        """The unnormalised log-weights, (B, N) float64 (or (N,) for one image)."""
        return self._logits(x_t, self._read(x_t, t))

    def predict(self, x_t: Tensor, t: int | Tensor) -> IdealPrediction:
        """eps, x0_hat and the weights at once (one matmul for the weights, one for x0_hat)."""
        t = self._read(x_t, t)
        w = torch.softmax(self._logits(x_t, t), dim=-1)  # log-sum-exp inside: stable at every t
        x0 = ((w if x_t.dim() == 4 else w[None]) @ self.images).reshape(x_t.shape)  # float64
        x, s = x_t.detach().to(torch.float64), self.schedule  # eps in float64 too, as predict_eps computes it
        eps = (x - coef_at(s.sqrt_alpha_bar, t, x) * x0) / coef_at(s.sqrt_one_minus_alpha_bar, t, x)
        return IdealPrediction(eps.to(x_t.dtype), x0.to(x_t.dtype), w)

    def weights(self, x_t: Tensor, t: int | Tensor) -> Tensor:
        """The posterior weight of each training image, (B, N) float64 (or (N,)); rows sum to 1."""
        return torch.softmax(self.logits(x_t, t), dim=-1)

    def predict_x0(self, x_t: Tensor, t: int | Tensor) -> Tensor:
        """E[x_0 | x_t], the weighted mean of the training images, shape and dtype of ``x_t``."""
        return self.predict(x_t, t).x0_hat

    def __call__(self, x_t: Tensor, t: int | Tensor) -> Tensor:
        return self.predict(x_t, t).eps

    def __repr__(self) -> str:
        return f"IdealDenoiser(N={self.N} images of shape {self.image_shape}, T={self.schedule.T})"


def ideal_denoiser(data: Tensor, schedule: Schedule) -> IdealDenoiser:
    """The ideal denoiser for the training images ``data``, (N, C, H, W): a model ``model(x_t, t) -> eps``.

    Also offers ``.weights(x_t, t)`` (B, N), ``.predict_x0(x_t, t)`` and ``.predict(x_t, t)``
    for all three at once. Computed in float64 with log-sum-exp, so it is finite at every
    t in 1..T, including t = 1 where 1 - alpha_bar_t is tiny. It keeps a float64 copy of ``data``:
    a later in-place edit of ``data`` does not reach it.
    """
    return IdealDenoiser(data, schedule)


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
        denoiser: an :class:`IdealDenoiser`.
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
