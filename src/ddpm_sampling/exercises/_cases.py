"""The inputs the checks try: small seeded images at chosen timesteps, on the book's schedule (or a copy
of the one given, :func:`pristine`), and the runs of the sampling loop's check (:class:`LoopCase`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import NamedTuple

import torch
from torch import Tensor

from ..models import noisy_model, target_oracle
from ..schedule import Schedule, cosine_schedule

#: The shape of a test image: small, so that a check of a 1000-step loop runs in a blink.
IMAGE = (1, 8, 8)
BATCH = (3, *IMAGE)

HINT_GLOBAL = "use the schedule passed in (schedule.T, schedule.alpha, ...), not a global one"


def book_schedule() -> Schedule:
    """The schedule the chapters use, and the checks when none is given."""
    return cosine_schedule(1000)


def pristine(schedule: object) -> tuple[Schedule, Callable[[], Schedule]]:
    """The schedule a check computes its expected values from, and a maker of fresh copies for the reader.

    Both are copies taken before the reader's function runs: writing into the schedule it is given,
    or ignoring it for a global one, cannot move what the check expects.
    """
    if schedule is None:
        schedule = book_schedule()
    if not isinstance(schedule, Schedule):
        raise ValueError(f"schedule must be a Schedule (from cosine_schedule) or None, got {type(schedule).__name__}")
    reference = replace(schedule)  # the constructor copies every tensor
    return reference, lambda: replace(reference)


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


class ImageCase(NamedTuple):
    """Where a check on images calls the reader's function: at ``t`` on an image (or batch) of ``shape``."""

    schedule: Schedule  # the reference copy, which the reader never sees
    fresh: Callable[[], Schedule]  # makes the reader's own copy
    t: int
    shape: tuple[int, ...]
    name: str
    note: str  # added to the hint of a wrong value: "" or HINT_GLOBAL


def image_checks(schedule: object, image_ts: Callable[[int], tuple[int, ...]]) -> list[ImageCase]:
    """The cases of a check on images: each of ``image_ts(T)`` on ``schedule`` (see :func:`image_cases`),
    then one on a short schedule, whose note says to use the schedule passed in."""
    s, fresh = pristine(schedule)
    short, fresh_short = pristine(short_schedule())
    cases = [ImageCase(s, fresh, t, shape, describe(t, shape), "") for t, shape in image_cases(s, image_ts(s.T))]
    return [*cases, ImageCase(short, fresh_short, SHORT_t, IMAGE, describe_short(IMAGE), HINT_GLOBAL)]


@dataclass
class LoopCase:
    """One run of the reader's sampling loop: its schedule, image shape, asked snapshots, seed and model."""

    name: str
    schedule: Schedule
    shape: tuple[int, ...]
    snapshot_timesteps: tuple[int, ...]
    seed: int
    target: Tensor
    model_noise: float  # 0: the exact oracle, so the run must end on the target

    def model(self) -> Callable:
        """The exact oracle of ``target``, or with Gaussian error of standard deviation ``model_noise``."""
        oracle = target_oracle(self.target, self.schedule)
        if not self.model_noise:
            return oracle
        return noisy_model(oracle, self.model_noise, torch.Generator().manual_seed(self.seed + 1000))


def loop_cases() -> list[LoopCase]:
    """An exact oracle on one image, an imperfect one on a batch, and a short schedule that catches a global T."""
    specs = [
        ("oracle, one image, T = 1000", book_schedule(), IMAGE, (1000, 900, 500, 100, 2, 1, 0), 0.0),
        ("oracle with error 0.3, batch, T = 1000", book_schedule(), BATCH, (1000, 500, 0), 0.3),
        ("oracle, one image, a short schedule T = 10", cosine_schedule(10), IMAGE, (10, 7, 3, 1, 0), 0.0),
    ]
    return [
        LoopCase(name, s, shape, snapshot_timesteps, 400 + k, seeded_images(300 + k, shape)[0], noise)
        for k, (name, s, shape, snapshot_timesteps, noise) in enumerate(specs)
    ]
