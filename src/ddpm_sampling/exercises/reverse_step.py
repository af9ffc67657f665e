"""Exercise 2: one DDPM reverse step, ``fn(x_t, t, eps, schedule, z) -> x_{t-1}``."""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor

from ..schedule import Schedule
from ..steps import _q_sample
from ._cases import book_schedule, describe, image_cases, seeded_images
from ._harness import (
    CheckFailed,
    CheckResult,
    Mistakes,
    call_reader,
    first_mismatch,
    name_the_mistake,
    read_tensor,
    require_callable,
    within,
)
from .coefficients import HINT_ALPHA_BAR

EXERCISE = "reverse_step"
REVERSE_FORMULA = "x_{t-1} = 1/sqrt(alpha_t) * (x_t - beta_t/sqrt(1 - alpha_bar_t) * eps) + sigma_t * z"
HINT_Z_AT_1 = (
    "at t = 1 no noise is added: the last step commits to x_0, so use z = 0 there (add sigma_t * z only for t > 1)"
)


def step_and_mistakes(x: Tensor, t: int, eps: Tensor, s: Schedule, z: Tensor) -> tuple[Tensor, Mistakes]:
    """The reference x_{t-1} and what each named mistake gives instead, in float64."""
    x, eps, z = x.double(), eps.double(), z.double()
    a, ab, b = s.alpha.double()[t], s.alpha_bar.double()[t], s.beta.double()[t]
    scale, coef, sigma = 1 / a.sqrt(), b / (1 - ab).sqrt(), b.sqrt()
    keep = 1.0 if t > 1 else 0.0
    mean = scale * (x - coef * eps)
    expected = mean + keep * sigma * z
    mistakes = [
        (mean + sigma * z, HINT_Z_AT_1),
        ((x - coef * eps) / ab.sqrt() + keep * sigma * z, HINT_ALPHA_BAR),
        (mean + keep * b * z, "sigma_t is sqrt(beta_t), a standard deviation; beta_t is the variance"),
        (scale * (x - b / (1 - ab) * eps) + keep * sigma * z, "the noise correction is beta_t/sqrt(1 - alpha_bar_t)"),
        (scale * x - coef * eps + keep * sigma * z, "the scaling factor multiplies the whole bracket, eps term too"),
        (x - coef * eps + keep * sigma * z, "the step forgets the scaling factor 1/sqrt(alpha_t)"),
        (scale * (x + coef * eps) + keep * sigma * z, "the step removes predicted noise: subtract the eps term"),
        (mean, "for t > 1 the step adds fresh noise sigma_t * z; only the last step (t = 1) skips it"),
    ]
    return expected, mistakes


def step_tolerance(expected: Tensor) -> Tensor:
    return 1e-4 * (1 + expected.abs())


def check_reverse_step(fn: Callable, schedule: Schedule | None = None) -> CheckResult:
    r"""Check ``fn(x_t, t, eps, schedule, z) -> x_{t-1}``, one DDPM reverse step.

    :math:`x_{t-1} = \frac{1}{\sqrt{\alpha_t}}\big(x_t - \frac{\beta_t}{\sqrt{1-\bar\alpha_t}}\epsilon\big)
    + \sigma_t z` with :math:`\sigma_t = \sqrt{\beta_t}`, and no noise at t = 1: the check
    passes a nonzero ``z`` at t = 1 too, and the step must ignore it there. Cases:
    t = 500, 950, 50, 2, 1, T - 1 and T on one image (1, 8, 8), then t = 800 and t = 1 on a
    batch (3, 1, 8, 8) with an int ``t``; inputs are seeded. Tolerance 1e-4 (relative and
    absolute).

    Raises:
        CheckFailed: at the first wrong value, with a hint (the lesson's mistakes are named).
        ValueError: if ``fn`` is not callable.
    """
    __tracebackhide__ = True
    require_callable(fn)
    s = book_schedule() if schedule is None else schedule
    cases = image_cases(s, (500, 950, 50, 2, 1, s.T - 1, s.T))
    for k, (t, shape) in enumerate(cases):
        x0, eps, z = seeded_images(100 + k, shape)
        x_t = _q_sample(x0, t, eps, s)
        eps = eps + 0.1 * z.flip(-1)  # an imperfect prediction: the step must use the eps it is given
        case = describe(t, shape)
        args = (x_t.clone(), t, eps.clone(), s, z.clone())
        out = call_reader(fn, args, EXERCISE, case, f"fn(x_t, t, eps, schedule, z) should compute {REVERSE_FORMULA}")
        got = read_tensor(out, shape, "x_{t-1}", EXERCISE, case)
        expected, mistakes = step_and_mistakes(x_t, t, eps, s, z)
        tol = step_tolerance(expected)
        if not within(got, expected, tol):
            hint = name_the_mistake(got, tol, mistakes, f"compare term by term with {REVERSE_FORMULA}")
            raise CheckFailed(EXERCISE, case, first_mismatch("x_{t-1}", got, expected, tol), hint)
    return CheckResult(EXERCISE, len(cases))
