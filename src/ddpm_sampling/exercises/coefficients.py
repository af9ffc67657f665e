"""Exercise 1: the three coefficients of the reverse step, ``fn(schedule, t) -> (scale, eps_coef, sigma)``."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ..schedule import Schedule
from ._cases import HINT_GLOBAL, SHORT_T, SHORT_t, pristine, short_schedule
from ._harness import (
    Case,
    CheckResult,
    Expected,
    Mistakes,
    require_callable,
    rounding_tolerance,
    run_cases,
    with_note,
)

EXERCISE = "coefficients"
NAMES = ("scale", "eps_coef", "sigma")
HINT_CALL = "fn(schedule, t) should return the three numbers (scale, eps_coef, sigma)"
HINT_ALPHA_BAR = (
    "the scaling factor is 1/sqrt(alpha_t), with alpha_t = 1 - beta_t of this one step; "
    "alpha_bar_t is the product of all alphas up to t and belongs only in the noise correction"
)
#: What each coefficient should be, for a wrong value that no named mistake explains.
FORMULAS = {
    "scale": "1/sqrt(alpha_t), alpha_t = 1 - beta_t",
    "eps_coef": "beta_t/sqrt(1 - alpha_bar_t)",
    "sigma": "sqrt(beta_t)",
}


def coefficient_mistakes(a: Tensor, ab: Tensor, b: Tensor, bt: Tensor) -> dict[str, Mistakes]:
    """The named mistakes of each coefficient, from alpha_t, alpha_bar_t, beta_t and beta_tilde_t."""
    return {
        "scale": [
            (1 / ab.sqrt(), HINT_ALPHA_BAR),
            (a.sqrt(), "the scaling factor is 1 over sqrt(alpha_t), not sqrt(alpha_t)"),
            (1 / a, "the scaling factor takes the square root: 1/sqrt(alpha_t)"),
        ],
        "eps_coef": [
            (b / (1 - ab), "the noise correction divides by sqrt(1 - alpha_bar_t): keep the square root"),
            (b / (1 - a).sqrt(), "the noise correction divides by sqrt(1 - alpha_bar_t), with alpha_bar, not alpha"),
            (b / ab.sqrt(), "the noise correction divides by sqrt(1 - alpha_bar_t), not by sqrt(alpha_bar_t)"),
        ],
        "sigma": [
            (b, "sigma_t is a standard deviation, sqrt(beta_t); beta_t itself is the variance"),
            (bt.sqrt(), "that is sqrt(beta_tilde_t), the posterior's choice; the exercise uses sqrt(beta_t)"),
        ],
    }


def coefficient_case(s: Schedule, fresh: Callable[[], Schedule], t: int | Tensor, name: str, note: str) -> Case:
    """The call ``fn(copy of s, t)`` and its three expected coefficients, from ``s`` in float64."""
    a, ab, b, bt = (getattr(s, k).double()[t] for k in ("alpha", "alpha_bar", "beta", "beta_tilde"))
    mistakes = coefficient_mistakes(a, ab, b, bt)
    expected = []
    for coefficient in NAMES:
        want = getattr(s, coefficient)[t].double()
        tol = rounding_tolerance(want.abs(), b, a)
        hint = with_note(f"compare with {FORMULAS[coefficient]}", note)
        expected.append(Expected(coefficient, want, tol, mistakes[coefficient], hint))
    return Case(name, (fresh(), t), tuple(expected))


def coefficient_cases(schedule: object) -> list[Case]:
    """Each t as an int, then all at once as a tensor, then a short schedule (see :func:`check_coefficients`)."""
    s, fresh = pristine(schedule)
    if s.T < 3:
        raise ValueError(f"schedule.T = {s.T} is too short for the check; it needs T >= 3")
    ts = sorted({t for t in (1, 2, 50, 500, 800, 950, s.T - 1, s.T) if 1 <= t <= s.T})
    short, fresh_short = pristine(short_schedule())
    cases = [coefficient_case(s, fresh, t, f"t = {t}", "") for t in ts]
    cases.append(coefficient_case(s, fresh, torch.tensor(ts), f"t = torch.tensor({ts}) (all at once)", ""))
    cases.append(
        coefficient_case(short, fresh_short, SHORT_t, f"t = {SHORT_t} on a short schedule T = {SHORT_T}", HINT_GLOBAL)
    )
    return cases


def check_coefficients(fn: Callable, schedule: Schedule | None = None) -> CheckResult:
    r"""Check ``fn(schedule, t) -> (scale, eps_coef, sigma)`` against ``ddpm_sampling.reverse_coefficients``.

    ``scale`` is :math:`1/\sqrt{\alpha_t}`, ``eps_coef`` is :math:`\beta_t/\sqrt{1-\bar\alpha_t}`
    and ``sigma`` is :math:`\sqrt{\beta_t}`. Cases: t = 1, 2, 50, 500, 800, 950, T - 1 and
    T as ints (each number may be a float or a 0-d tensor), then all of them at once as a
    1-d tensor of timesteps (three tensors of that length), then t = 7 on a short schedule
    T = 10 (a function that uses a global schedule fails it). The expected values are computed
    first, from a copy of the schedule the function never sees; each call gets its own copy.
    Tolerance: float32 rounding (``_harness.rounding_tolerance``).

    Args:
        fn: the reader's function.
        schedule: the schedule to check on (default: the book's cosine schedule, T = 1000).

    Returns:
        A :class:`CheckResult` if every case matches.

    Raises:
        CheckFailed: at the first wrong value, with a hint.
        ValueError: if ``fn`` is not callable, or the schedule is not a Schedule or too short (T < 3).
    """
    __tracebackhide__ = True
    require_callable(fn)
    return run_cases(EXERCISE, fn, coefficient_cases(schedule), HINT_CALL)
