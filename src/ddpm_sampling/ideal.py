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
from .schedule import Schedule
from .steps import _predict_eps


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
        check.schedule(schedule)
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
        eps = _predict_eps(x_t.detach().to(torch.float64), t, x0, self.schedule)  # in float64 too
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
