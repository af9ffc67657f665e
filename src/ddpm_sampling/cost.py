"""What sampling costs: a stand-in network of realistic cost, and timing helpers.

The network is untrained and used only for how long one call takes; its output is
not a meaningful noise prediction.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn

from . import _checks as check
from .models import Model
from .respacing import ddim_sample, strided_ddpm_sample
from .schedule import Schedule


class SmallConvNet(nn.Module):
    """Four 3x3 convolutions (1 -> c -> c -> c -> 1) with SiLU, the timestep ignored.

    A real denoiser (a U-Net) is far larger; this one only shows how the cost of a
    model call, which grows with the number of pixels, multiplies with the number of steps.
    """

    def __init__(self, channels: int = 32, generator: torch.Generator | None = None):
        super().__init__()
        c = check.count(channels, "channels")
        check.generator(generator, (1, 1, 1))
        self.net = nn.Sequential(
            nn.Conv2d(1, c, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(c, c, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(c, c, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(c, 1, 3, padding=1),
        )
        with torch.no_grad():  # explicit, seeded initialisation instead of the global RNG
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=generator) * 0.05)

    @torch.no_grad()
    def forward(self, x_t: Tensor, t: int | Tensor) -> Tensor:
        """``x_t`` (1, H, W) or (B, 1, H, W) in the network's dtype (float32 unless converted); ``t`` is ignored.

        The values of ``x_t`` are not scanned: this network exists to be timed.
        """
        check.image(x_t, "x_t", scan=False)
        dtype = self.net[0].weight.dtype
        if x_t.shape[-3] != 1:
            raise ValueError(f"x_t must have one channel, got shape {tuple(x_t.shape)}")
        if x_t.dtype != dtype:
            raise TypeError(f"x_t must have the network's dtype {dtype}, got {x_t.dtype}")
        squeeze = x_t.dim() == 3
        out = self.net(x_t[None] if squeeze else x_t)
        return out[0] if squeeze else out

    def flops(self, height: int, width: int) -> int:
        """Multiply-adds times 2 for one image of ``height`` x ``width`` (ints >= 1)."""
        height, width = check.count(height, "height"), check.count(width, "width")
        return sum(2 * m.weight.numel() * height * width for m in self.net if isinstance(m, nn.Conv2d))


def _callable(fn: object) -> None:
    if not callable(fn):
        raise TypeError(f"fn must be callable with no arguments, got {check.describe(fn)}")


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one thread inside the block: on a machine shared with other work,
    multi-threaded kernels wait for busy cores and their timings scatter widely."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def seconds(fn: Callable[[], object], repeat: int = 3, warmup: bool = True) -> float:
    """The fastest of ``repeat`` runs of ``fn()`` (after one warm-up run), in seconds, on one thread."""
    _callable(fn)
    repeat = check.count(repeat, "repeat")
    warmup = check.flag(warmup, "warmup")
    best = float("inf")
    with one_thread():
        if warmup:
            fn()
        for _ in range(repeat):
            t0 = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t0)
    return best


SAMPLERS = {"DDIM": ddim_sample, "strided DDPM": strided_ddpm_sample}


def time_sampler(
    sampler: str, model: Model, schedule: Schedule, num_steps: int, shape: tuple[int, ...], repeat: int = 3
) -> float:
    """Seconds per image to sample a batch of ``shape`` with ``num_steps`` steps (best of ``repeat``, one thread).

    Args:
        sampler: ``"DDIM"`` or ``"strided DDPM"``; the other arguments as the sampler takes them.
    """
    fn = SAMPLERS[check.choice(sampler, "sampler", tuple(SAMPLERS))]
    shape = check.shape(shape)
    repeat = check.count(repeat, "repeat")
    batch = shape[0] if len(shape) == 4 else 1
    run = lambda: fn(model, schedule, num_steps=num_steps, shape=shape, generator=torch.Generator().manual_seed(0))  # noqa: E731
    return seconds(run, repeat, warmup=False) / batch


def cost_curves(
    models: dict[str, tuple[Model, tuple[int, ...]]],
    schedule: Schedule,
    steps: list[int],
    budget_s: float = 0.5,
) -> tuple[dict[str, float], dict[str, list[float]]]:
    """Time one model call and DDIM sampling at each step count, for each model.

    Args:
        models: name -> (model, shape of one image, (C, H, W)).
        steps: increasing step counts; a count is skipped (with all larger ones) once its
            expected time, steps x the cost of one call, exceeds ``budget_s``.

    Returns:
        ``(per_call, per_sample)``: seconds per model call, and seconds per sample for each
        measured step count (a prefix of ``steps``).
    """
    if not isinstance(models, dict) or not models:
        raise TypeError(f"models must be a non-empty dict name -> (model, shape), got {check.describe(models)}")
    check.instance(schedule, Schedule, "schedule", "cosine_schedule")
    steps = check.timesteps(steps, 1, schedule.T, "steps")
    if not steps or any(b <= a for a, b in zip(steps, steps[1:])):
        raise ValueError(f"steps = {steps} must be a non-empty increasing list of step counts")
    budget_s = check.positive(budget_s, "budget_s", ": a time in seconds")
    for name, entry in models.items():
        if not isinstance(entry, tuple) or len(entry) != 2:
            raise TypeError(f"models[{name!r}] must be a pair (model, shape), got {check.describe(entry)}")
        check.model(entry[0], f"models[{name!r}][0]")
        check.shape(entry[1], f"models[{name!r}][1]")
    per_call, per_sample = {}, {}
    for name, (model, shape) in models.items():
        x = torch.randn(shape, generator=torch.Generator().manual_seed(0))
        per_call[name] = seconds(lambda model=model, x=x: model(x, schedule.T // 2), repeat=5)
        affordable = [s for s in steps if s * per_call[name] <= budget_s] or steps[:1]
        per_sample[name] = [time_sampler("DDIM", model, schedule, s, shape) for s in affordable]
    return per_call, per_sample


def timed(fn: Callable[[], object]) -> tuple[object, float]:
    """Run ``fn()`` once on one thread; return its result and the seconds it took."""
    _callable(fn)
    with one_thread():
        t0 = time.perf_counter()
        result = fn()
        return result, time.perf_counter() - t0


def cost_table(per_call: dict[str, float], per_sample: dict[str, list[float]], steps: list[int]):
    """A table of each model's cost per call and for the most steps measured, next to the prediction."""
    from .chapter_helpers import Table

    for name, times in per_sample.items():
        if name not in per_call or not 1 <= len(times) <= len(steps):
            raise ValueError(
                f"per_sample[{name!r}] needs a per_call entry and 1..{len(steps)} times, one per step count"
            )
    rows = []
    for name, times in per_sample.items():
        n = steps[len(times) - 1]
        rows.append([name, f"{1e3 * per_call[name]:.3f}", str(n), f"{times[-1]:.3f}", f"{n * per_call[name]:.3f}"])
    header = ["model", "one call (ms)", "most steps measured", "seconds per sample", "steps x one call (s)"]
    return Table(header, rows, ["s"] * len(header))
