"""Exercise 4: DDPM sampling, ``fn(model, schedule, shape, snapshot_timesteps, generator) -> (x_0, snapshots)``.

The reader's loop runs on a model that records each call; the check then draws x_T and
the z's again from a generator seeded like the reader's and replays each step with the
reference, so that a failure names the first step that went wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import torch
from torch import Tensor

from ._cases import LoopCase, loop_cases
from ._harness import (
    CheckFailed,
    CheckResult,
    Expected,
    first_mismatch,
    judge,
    raised,
    read_tensor,
    read_tuple,
    require_callable,
    within,
)
from ._recording_model import HINT_LOOP_DIRECTION, LoopError, RecordingModel
from ._snapshots import check_snapshots
from .reverse_step import HINT_Z_AT_1, REVERSE_FORMULA, step_and_mistakes

EXERCISE = "sampling_loop"
SIGNATURE = "fn(model, schedule, shape, snapshot_timesteps, generator) should return (x_0, snapshots)"


def run_loop(fn: Callable, case: LoopCase) -> tuple[Tensor, object, list[tuple[int, Tensor, Tensor]]]:
    """Run the reader's loop on a recording model: its x_0, its snapshots and the model's calls, one per step."""
    __tracebackhide__ = True
    T, generator = case.schedule.T, torch.Generator().manual_seed(case.seed)
    model = RecordingModel(case.model(), T)
    try:
        # the reader's own copy of the schedule: the replay computes from case.schedule, which it never sees
        out = fn(model, replace(case.schedule), case.shape, list(case.snapshot_timesteps), generator)
    except LoopError as err:
        raise CheckFailed(EXERCISE, case.name, err.problem, err.hint) from None
    except Exception as err:
        wrong_t = isinstance(err, (IndexError, ValueError)) and "0" in str(err)
        raise raised(EXERCISE, case.name, err, HINT_LOOP_DIRECTION if wrong_t else SIGNATURE) from err
    x_0, snapshots = read_tuple(out, 2, EXERCISE, case.name, "return the pair (x_0, snapshots)")
    # finiteness is left to the replay, which finds the step where the values blew up
    x_0 = read_tensor(x_0, case.shape, "x_0", EXERCISE, case.name, finite=False)
    if len(model.calls) != T:
        last = model.calls[-1][0] if model.calls else None
        raise CheckFailed(
            EXERCISE,
            case.name,
            f"the model was called {len(model.calls)} times (last at t = {last}), expected T = {T} calls",
            "call the model once per step for t = T, T - 1, ..., 1; " + HINT_LOOP_DIRECTION,
        )
    return x_0, snapshots, model.calls


def replay(calls: list[tuple[int, Tensor, Tensor]], x_0: Tensor, case: LoopCase) -> None:
    """Draw x_T and each z as the reference does, and compare every step of the reader's run with it."""
    __tracebackhide__ = True
    draws = torch.Generator().manual_seed(case.seed)
    x_T = torch.randn(case.shape, generator=draws)
    if calls[0][1].shape != x_T.shape or not within(calls[0][1], x_T, 1e-6):
        raise CheckFailed(
            EXERCISE,
            case.name,
            "the first model call did not receive x_T, the first draw from the generator",
            "draw x_T = torch.randn(shape, generator=generator) first, before any z, and start the loop from it",
        )
    for i, (t, x, eps) in enumerate(calls):
        # at t = 1 the reference adds nothing; the next draw is what a loop that wrongly adds noise would use
        z = torch.randn(x.shape, generator=draws)
        after = calls[i + 1][1] if i + 1 < len(calls) else x_0
        name = f"x_{t - 1}" if t > 1 else "the returned x_0"
        step = Expected(name, *step_and_mistakes(x, t, eps, case.schedule, z), _step_hint(case.schedule.T))
        judge(after, step, EXERCISE, f"{case.name}, step t = {t}")


def _step_hint(T: int) -> str:
    hint = (
        f"compare the step with {REVERSE_FORMULA}; draw z = torch.randn(x.shape, generator=generator) "
        "once per step for t > 1 and nothing else from the generator"
    )
    return hint if T == 1000 else hint + "; use the schedule passed in (schedule.T, schedule.alpha, ...), not globals"


def check_sampling_loop(fn: Callable) -> CheckResult:
    r"""Check ``fn(model, schedule, shape, snapshot_timesteps, generator) -> (x_0, snapshots)``, DDPM sampling.

    The loop first draws ``x_T = torch.randn(shape, generator=generator)``, then for t = T
    down to 1 calls ``eps = model(x, t)`` once with an int t, draws
    ``z = torch.randn(x.shape, generator=generator)`` for t > 1 only (z = 0 at t = 1, and
    nothing else is drawn from ``generator``), and takes one reverse step. It returns x_0
    and a dict ``snapshots`` that maps each timestep of ``snapshot_timesteps`` (in 0..T;
    T and 0 are always among them) to a copy of x at that time. This is the order
    :func:`ddpm_sampling.ddpm_sample` draws in.

    The check runs three cases: an exact oracle on one image (1, 8, 8) with T = 1000, an
    oracle with error 0.3 on a batch (3, 1, 8, 8), and a short schedule T = 10 (a loop
    that uses a global T or global tensors fails it). It records every model call, draws
    x_T and the z's again from a generator seeded like the reader's, checks that the
    first call received that x_T, replays each step with the reference and reports the
    first step whose result differs; then it compares each snapshot with x at its time.
    Behaviourally, the exact oracle's run must end on its target (at t = 1,
    alpha_bar_1 = alpha_1 and the step lands exactly there).

    Raises:
        CheckFailed: at the first wrong step or value, with a hint (looping from 0 up to T,
            z not zero at t = 1 and alpha_bar in the scaling factor are named).
        ValueError: if ``fn`` is not callable.
    """
    __tracebackhide__ = True
    require_callable(fn)
    cases = loop_cases()
    for case in cases:
        x_0, snapshots, calls = run_loop(fn, case)
        replay(calls, x_0, case)
        # the float32 rounding of the last step, as the replay allows it
        _, x_1, eps_1 = calls[-1]
        _, tol, _ = step_and_mistakes(x_1, 1, eps_1, case.schedule, torch.zeros_like(x_1))
        if not case.model_noise and not within(x_0, case.target, tol):
            raise CheckFailed(
                EXERCISE,
                case.name,
                first_mismatch("x_0", x_0, case.target, tol) + " (the oracle's target)",
                "with the exact oracle the last step lands on the target; " + HINT_Z_AT_1,
            )
        check_snapshots(snapshots, {t: x for t, x, _ in calls} | {0: x_0}, case)
    return CheckResult(EXERCISE, len(cases))
