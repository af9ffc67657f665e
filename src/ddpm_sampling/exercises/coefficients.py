"""Exercise 1: the three coefficients of the reverse step, ``fn(schedule, t) -> (scale, eps_coef, sigma)``."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ..schedule import Schedule
from ._cases import book_schedule
from ._harness import (
    CheckFailed,
    CheckResult,
    Mistakes,
    call_reader,
    first_mismatch,
    name_the_mistake,
    read_tensor,
    read_tuple,
    require_callable,
    within,
)

EXERCISE = "coefficients"
NAMES = ("scale", "eps_coef", "sigma")
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


def check_coefficients(fn: Callable, schedule: Schedule | None = None) -> CheckResult:
    r"""Check ``fn(schedule, t) -> (scale, eps_coef, sigma)`` against ``ddpm_sampling.reverse_coefficients``.

    ``scale`` is :math:`1/\sqrt{\alpha_t}`, ``eps_coef`` is :math:`\beta_t/\sqrt{1-\bar\alpha_t}`
    and ``sigma`` is :math:`\sqrt{\beta_t}`. Cases: t = 1, 2, 50, 500, 800, 950, T - 1 and
    T as ints (each number may be a float or a 0-d tensor), then all of them at once as a
    1-d tensor of timesteps (three tensors of that length). Tolerance: relative 2e-3,
    the float32 rounding of 1 - alpha_bar near t = 1.

    Args:
        fn: the reader's function.
        schedule: the schedule to check on (default: the book's cosine schedule, T = 1000).

    Returns:
        A :class:`CheckResult` if every case matches.

    Raises:
        CheckFailed: at the first wrong value, with a hint.
        ValueError: if ``fn`` is not callable or the schedule is too short (T < 3).
    """
    __tracebackhide__ = True
    require_callable(fn)
    s = book_schedule() if schedule is None else schedule
    if s.T < 3:
        raise ValueError(f"schedule.T = {s.T} is too short for the check; it needs T >= 3")
    ts = sorted({t for t in (1, 2, 50, 500, 800, 950, s.T - 1, s.T) if 1 <= t <= s.T})
    cases: list[int | Tensor] = [*ts, torch.tensor(ts)]
    f64 = {k: getattr(s, k).double() for k in ("alpha", "alpha_bar", "beta", "beta_tilde")}
    for t in cases:
        shape = tuple(t.shape) if isinstance(t, Tensor) else ()
        case = f"t = {t}" if not shape else f"t = torch.tensor({ts}) (all at once)"
        hint = "fn(schedule, t) should return the three numbers (scale, eps_coef, sigma)"
        out = call_reader(fn, (s, t), EXERCISE, case, hint)
        out = read_tuple(out, 3, EXERCISE, case, "return a tuple (scale, eps_coef, sigma)")
        mistakes = coefficient_mistakes(*(f64[k][t] for k in ("alpha", "alpha_bar", "beta", "beta_tilde")))
        for name, value, want in zip(NAMES, out, (s.scale[t], s.eps_coef[t], s.sigma[t])):
            got = read_tensor(value, shape, name, EXERCISE, case)
            tol = 2e-3 * want.abs() + 1e-7
            if not within(got, want, tol):
                hint = name_the_mistake(got, tol, mistakes[name], f"compare with {FORMULAS[name]}")
                raise CheckFailed(EXERCISE, case, first_mismatch(name, got, want, tol), hint)
    return CheckResult(EXERCISE, len(cases))
