"""The plot helpers' readers: each reads one kind of argument where it enters a helper and
raises a ``TypeError`` or ``ValueError`` that names the argument and what it must be.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from .. import _checks as check
from .style import PALETTE


def gray_image(img: object, name: str = "img") -> Tensor:
    """A gray image, (1, H, W) or (H, W), as an (H, W) float32 or float64 tensor on the CPU for imshow.

    A floating tensor of any dtype (bfloat16 too) or a NumPy array of floats; NaN is drawn blank.
    """
    if isinstance(img, np.ndarray) and img.dtype.kind == "f":
        img = torch.from_numpy(np.ascontiguousarray(img))
    check.tensor(img, name)
    img = img.detach().cpu()
    if img.dtype not in (torch.float32, torch.float64):  # matplotlib draws no float16 or bfloat16
        img = img.float()
    if img.dim() == 3 and img.shape[0] == 1:
        img = img[0]
    if img.dim() != 2 or img.numel() == 0:
        raise ValueError(
            f"{name} must be a gray image (1, H, W) or (H, W) with H, W >= 1, got shape {tuple(img.shape)}"
        )
    return img


def images(images: object, name: str = "images") -> list:
    """A non-empty sequence of images: a list or tuple, or a tensor along its first dimension."""
    if isinstance(images, Tensor):
        if images.dim() < 3:
            raise ValueError(f"{name} must be a sequence of images, got a tensor of shape {tuple(images.shape)}")
        images = list(images)
    if isinstance(images, np.ndarray):
        if images.ndim < 3:
            raise ValueError(f"{name} must be a sequence of images, got an array of shape {images.shape}")
        images = list(images)
    if not isinstance(images, (list, tuple)):
        raise TypeError(f"{name} must be a list of images, got {check.describe(images)}")
    if not images:
        raise ValueError(f"{name} is empty; it needs at least one image")
    return list(images)


def image_titles(titles: object, n: int) -> list[str]:
    """The titles of ``n`` images: ``None`` (none) or a list or tuple of ``n`` str."""
    titles = [""] * n if titles is None else titles
    if isinstance(titles, str) or not isinstance(titles, (list, tuple)):
        raise TypeError(f"titles must be a list of str, one per image, got {check.describe(titles)}")
    if len(titles) != n:
        raise ValueError(f"got {n} images but {len(titles)} titles")
    for i, title in enumerate(titles):
        if not isinstance(title, str):
            raise TypeError(f"titles[{i}] must be a str, got {check.describe(title)}")
    return list(titles)


def titles(titles: object, n: int, name: str, per: str = "the images") -> list[str]:
    """``n`` titles, each a str, one per entry of the argument named ``per``."""
    titles = sequence(titles, name)
    if len(titles) != n:
        raise ValueError(f"{name} has {len(titles)} titles; it needs {n}, one per entry of {per}")
    for i, title in enumerate(titles):
        if not isinstance(title, str):
            raise TypeError(f"{name}[{i}] must be a str, got {check.describe(title)}")
    return titles


def snapshots(snapshots: object, name: str) -> dict[int, object]:
    """A non-empty dict from int timesteps (>= 0) to images."""
    if not isinstance(snapshots, dict):
        raise TypeError(f"{name} must be a dict {{t: image}}, got {check.describe(snapshots)}")
    return {check.count(t, f"{name} key", 0): img for t, img in snapshots.items()}


def trajectory(snaps: object, hats: object, needs: str) -> tuple[dict, dict | None, list[int]]:
    """The arguments ``snapshots`` and ``x0_hats`` (``None``, or an image at every snapshot's t) of a
    trajectory's plot, and its timesteps, noisiest first; ``needs`` says why an empty one will not do."""
    snaps = snapshots(snaps, "snapshots")
    hats = None if hats is None else snapshots(hats, "x0_hats")
    ts = sorted(snaps, reverse=True)
    if not ts:
        raise ValueError(f"snapshots is empty; {needs}")
    if hats is not None and not set(ts) <= set(hats):
        raise ValueError(f"x0_hats has no image at t = {sorted(set(ts) - set(hats), reverse=True)}")
    return snaps, hats, ts


def numbers(
    values: object, name: str, *, positive: bool = False, length: int | None = None, per: str = "steps"
) -> list[float]:
    """A non-empty sequence (list, NumPy array or 1-d tensor) of finite real numbers, as floats;
    ``positive``: each > 0 (for a log axis); ``length``: exactly that many, one per entry of the
    argument named ``per`` (both are named when the lengths differ)."""
    if isinstance(values, Tensor):
        if values.dim() != 1:
            raise ValueError(f"{name} must be a 1-d sequence of numbers, got a tensor of shape {tuple(values.shape)}")
        values = values.detach().cpu().double().tolist() if values.dtype.is_floating_point else values.tolist()
    elif hasattr(values, "tolist") and not isinstance(values, (str, bytes)):  # a NumPy array
        values = values.tolist()
    if isinstance(values, (str, bytes, dict)) or not isinstance(values, Sequence):
        raise TypeError(f"{name} must be a sequence of numbers, got {check.describe(values)}")
    read = [check.real(v, f"{name}[{i}]") for i, v in enumerate(values)]
    if not read:
        raise ValueError(f"{name} is empty; it needs at least one number")
    if length is not None and len(read) != length:
        raise ValueError(f"{name} has {len(read)} numbers; it needs {length}, one per entry of {per}")
    for i, v in enumerate(read):
        if not math.isfinite(v) or (positive and v <= 0):
            kind = "a finite number > 0 (drawn on a log axis)" if positive else "a finite number"
            raise ValueError(f"{name}[{i}] = {v!r} is outside the valid range: {kind}")
    return read


def step_counts(steps: object, name: str = "steps") -> list[int]:
    """A non-empty sequence of step counts, each an int >= 1 (drawn on a log axis)."""
    if hasattr(steps, "tolist") and not isinstance(steps, Tensor):
        steps = steps.tolist()
    counts = [check.count(n, f"{name}[{i}]") for i, n in enumerate(sequence(steps, name))]
    if not counts:
        raise ValueError(f"{name} is empty; it needs at least one step count")
    return counts


def sequence(values: object, name: str) -> list:
    """A list, tuple or tensor (along its first dimension) as a list of its items."""
    if isinstance(values, Tensor):
        if values.dim() == 0:
            raise ValueError(f"{name} must be a sequence, got a 0-d tensor")
        return list(values)
    if isinstance(values, (str, bytes, dict)) or not isinstance(values, Sequence):
        raise TypeError(f"{name} must be a sequence, got {check.describe(values)}")
    return list(values)


def series(value: object, name: str, keys: list[str] | None = None, most: int = len(PALETTE)) -> dict:
    """A dict from series names (str) to their data, with 1..``most`` series (one color each),
    and exactly ``keys`` when given."""
    if not isinstance(value, dict):
        raise TypeError(f"{name} must be a dict from series names to their values, got {check.describe(value)}")
    for key in value:
        if not isinstance(key, str):
            raise TypeError(f"{name} must have str keys (series names), got {key!r}")
    if keys is None and not 1 <= len(value) <= most:
        raise ValueError(f"{name} has {len(value)} series; it takes 1..{most}, one color or line style each")
    if keys is not None and list(value) != keys and set(value) != set(keys):
        raise ValueError(f"{name} must have the series {keys}, the same as the first argument, got {list(value)}")
    return value


def per_step(x: object, name: str, dims: int) -> Tensor:
    """``x`` on the CPU, checked to have ``dims`` dimensions and one row per timestep t = 0..T, T >= 1."""
    if not isinstance(x, Tensor) or x.dim() != dims or x.shape[0] < 2 or x.numel() == 0:
        rows = "(T + 1, B)" if dims == 2 else "(T + 1, B, K)"
        raise ValueError(f"{name} must be a tensor of shape {rows} with T, B >= 1, one row per timestep")
    check.tensor(x, name)
    x = x.detach().cpu()
    return x if x.dtype in (torch.float32, torch.float64) else x.float()  # matplotlib draws no float16
