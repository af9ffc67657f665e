"""The inputs the checks try: small seeded images at chosen timesteps, on the book's schedule."""

from __future__ import annotations

import torch
from torch import Tensor

from ..schedule import Schedule, cosine_schedule

#: The shape of a test image: small, so that a check of a 1000-step loop runs in a blink.
IMAGE = (1, 8, 8)
BATCH = (3, *IMAGE)


def book_schedule() -> Schedule:
    """The schedule the chapters use, and the checks when none is given."""
    return cosine_schedule(1000)


def seeded_images(seed: int, shape: tuple[int, ...]) -> tuple[Tensor, Tensor, Tensor]:
    """A clean image in [-1, 1], a noise and a fresh z of ``shape``, from one seed."""
    g = torch.Generator().manual_seed(seed)
    x0 = torch.rand(shape, generator=g) * 2 - 1
    return x0, torch.randn(shape, generator=g), torch.randn(shape, generator=g)


def image_cases(s: Schedule, image_ts: tuple[int, ...]) -> list[tuple[int, tuple[int, ...]]]:
    """(t, shape) cases: each of ``image_ts`` (in range, once) on one image, then t = 800 and 1 on a batch."""
    ts = [t for t in dict.fromkeys(image_ts) if 1 <= t <= s.T]
    return [(t, IMAGE) for t in ts] + [(t, BATCH) for t in dict.fromkeys((min(800, s.T), 1))]


def describe(t: int, shape: tuple[int, ...]) -> str:
    """The name of a case in a failure message: ``t = 500 (image of shape (1, 8, 8))``."""
    return f"t = {t} ({'batch' if len(shape) == 4 else 'image'} of shape {tuple(shape)})"


#: A case on this short schedule catches a function that ignores its ``schedule`` for a global one.
SHORT_T, SHORT_t = 10, 7


def short_schedule() -> Schedule:
    return cosine_schedule(SHORT_T)


def describe_short(shape: tuple[int, ...]) -> str:
    kind = "batch" if len(shape) == 4 else "image"
    return f"t = {SHORT_t} on a short schedule T = {SHORT_T} ({kind} of shape {tuple(shape)})"
