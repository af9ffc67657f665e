"""The snapshots of the reader's sampling loop: exactly the asked timesteps, each a copy of x at its time."""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor

from ._cases import LoopCase
from ._harness import CheckFailed, first_mismatch, read_tensor, within

EXERCISE = "sampling_loop"
HINT_SNAPSHOTS = (
    "keep a copy of x at each asked timestep: x_T before the loop if T is asked, then after the step from t "
    "store x under t - 1 (so under 0 after the last step); store x.clone(), not x"
)


def check_snapshots(snapshots: object, xs: dict[int, Tensor], case: LoopCase) -> None:
    """The returned snapshots hold exactly the asked timesteps, each equal to x at that time (``xs``)."""
    __tracebackhide__ = True
    keys = _snapshot_keys(snapshots, case)
    for t in case.snapshot_timesteps:
        name = f"snapshots[{t}]"
        got = read_tensor(snapshots[keys[t]], case.shape, name, EXERCISE, case.name, finite=False)
        tol = 1e-6 * (1 + xs[t].abs())
        if not within(got, xs[t], tol):
            hint = _which_x(got, xs, t, tol, name, case.schedule.T) + HINT_SNAPSHOTS
            raise CheckFailed(EXERCISE, case.name, first_mismatch(name, got, xs[t], tol) + f" (x at t = {t})", hint)


def _snapshot_keys(snapshots: object, case: LoopCase) -> dict[int, object]:
    """The keys of ``snapshots`` by their int timestep, if they are exactly the asked ones."""
    __tracebackhide__ = True
    asked = list(case.snapshot_timesteps)
    if not isinstance(snapshots, Mapping):
        what = "None" if snapshots is None else f"a {type(snapshots).__name__}"
        raise CheckFailed(EXERCISE, case.name, f"snapshots is {what}", "return snapshots as a dict {t: x_t}")
    try:
        keys = {int(k): k for k in snapshots}
    except (TypeError, ValueError, RuntimeError):
        problem = f"snapshots has keys {list(snapshots)}"
        raise CheckFailed(EXERCISE, case.name, problem, "use the int timestep t as the key") from None
    missing = [t for t in asked if t not in keys]
    if missing:
        problem = f"snapshots lacks t = {missing[0]} (asked for {asked}, got {sorted(keys, reverse=True)})"
        raise CheckFailed(EXERCISE, case.name, problem, HINT_SNAPSHOTS)
    extra = sorted(set(keys) - set(asked), reverse=True)
    if extra:
        problem = f"snapshots has t = {extra[0]}, which was not asked for (asked for {asked})"
        raise CheckFailed(EXERCISE, case.name, problem, "keep x only at the timesteps in snapshot_timesteps")
    return keys


def _which_x(got: Tensor, xs: dict[int, Tensor], t: int, tol: Tensor, name: str, T: int) -> str:
    """What a wrong snapshot holds instead, when it is x at another time; else nothing."""
    if t > 0 and within(got, xs[t - 1], tol):
        return f"{name} holds x_{t - 1}, one step too late; "
    if t < T and within(got, xs[t + 1], tol):
        return f"{name} holds x_{t + 1}, one step too early; "
    if within(got, xs[0], tol):
        return f"{name} holds the final x_0: was x changed in place after it was stored? "
    return ""
