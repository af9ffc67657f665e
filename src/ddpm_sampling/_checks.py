"""Input checks shared by the public entry points.

Every public function validates once, at its entry; the sampling loop then calls
unchecked internals so that the checks cost nothing per step.
"""

from __future__ import annotations

import torch
from torch import Tensor


def check_timestep(t: int | Tensor, low: int, high: int, name: str = "t") -> None:
    """Raise ``ValueError`` unless every entry of ``t`` is an integer in ``low..high``."""
    if isinstance(t, Tensor):
        if t.dtype.is_floating_point or t.dtype.is_complex or t.dtype == torch.bool:
            raise ValueError(f"{name} must hold integers, got a tensor of dtype {t.dtype}")
        if t.dim() > 1:
            raise ValueError(f"{name} must be an int, a 0-d or a 1-d tensor, got shape {tuple(t.shape)}")
        if t.numel() == 0:
            raise ValueError(f"{name} is empty; it must hold timesteps in {low}..{high}")
        bad = t[(t < low) | (t > high)]
        if bad.numel():
            raise ValueError(f"{name} = {bad[0].item()} is outside the valid range {low}..{high}")
        return
    if isinstance(t, bool) or not isinstance(t, int):
        raise ValueError(f"{name} must be an int or an integer tensor, got {t!r} ({type(t).__name__})")
    if not low <= t <= high:
        raise ValueError(f"{name} = {t} is outside the valid range {low}..{high}")


def check_finite(x: Tensor, name: str) -> None:
    """Raise ``ValueError`` unless ``x`` is a floating tensor of finite values."""
    if not isinstance(x, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.dtype.is_floating_point:
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if not torch.isfinite(x).all():
        n_bad = int((~torch.isfinite(x)).sum())
        raise ValueError(f"{name} holds {n_bad} non-finite value(s) (NaN or inf); every value must be finite")


def check_image(x: Tensor, name: str) -> None:
    """Raise ``ValueError`` unless ``x`` is finite and shaped (C, H, W) or (B, C, H, W)."""
    check_finite(x, name)
    if x.dim() not in (3, 4):
        raise ValueError(f"{name} must have shape (C, H, W) or (B, C, H, W), got {tuple(x.shape)}")


def check_same_shape(a: Tensor, b: Tensor, name_a: str, name_b: str) -> None:
    """Raise ``ValueError`` unless ``a`` and ``b`` have the same shape."""
    if a.shape != b.shape:
        raise ValueError(f"{name_a} and {name_b} must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")


def check_batch_timestep(t: int | Tensor, x: Tensor, name: str = "t") -> None:
    """A 1-d ``t`` gives one timestep per image, so it needs a batch of the same size."""
    if isinstance(t, Tensor) and t.dim() == 1 and (x.dim() != 4 or t.shape[0] != x.shape[0]):
        raise ValueError(
            f"{name} has {t.shape[0]} timesteps but x has shape {tuple(x.shape)}; a 1-d {name} "
            "needs a batch (B, C, H, W) with B equal to its length"
        )
