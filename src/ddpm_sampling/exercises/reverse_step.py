"""Exercise 2: one DDPM reverse step, ``fn(x_t, t, eps, schedule, z) -> x_{t-1}``."""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor

from ..schedule import Schedule
from ..steps import _q_sample
from ._cases import image_checks, seeded_images
from ._harness import Case, CheckResult, Expected, Mistakes, require_callable, rounding_tolerance, run_cases, with_note
from .coefficients import HINT_ALPHA_BAR

EXERCISE = "reverse_step"
REVERSE_FORMULA = "x_{t-1} = 1/sqrt(alpha_t) * (x_t - beta_t/sqrt(1 - alpha_bar_t) * eps) + sigma_t * z"
HINT_CALL = f"fn(x_t, t, eps, schedule, z) should compute {REVERSE_FORMULA}"
HINT_Z_AT_1 = (
    "at t = 1 no noise is added: the last step commits to x_0, so use z = 0 there (add sigma_t * z only for t > 1)"
)


def step_and_mistakes(x: Tensor, t: int, eps: Tensor, s: Schedule, z: Tensor) -> tuple[Tensor, Tensor, Mistakes]:
    """The reference x_{t-1}, its tolerance and what each named mistake gives instead, in float64."""
    x, eps, z = x.double(), eps.double(), z.double()
    a, ab, b = s.alpha.double()[t], s.alpha_bar.double()[t], s.beta.double()[t]
    scale, coef, sigma = 1 / a.sqrt(), b / (1 - ab).sqrt(), b.sqrt()
    keep = 1.0 if t > 1 else 0.0
    mean = scale * (x - coef * eps)
    expected = mean + keep * sigma * z
    tol = rounding_tolerance((scale * x).abs() + (scale * coef * eps).abs() + (sigma * z).abs(), b, a)
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
    return expected, tol, mistakes


def step_cases(schedule: object) -> list[Case]:
    """Each x_t with an imperfect noise prediction and a nonzero z, at t = 1 too (see :func:`check_reverse_step`)."""
    cases = []
    where = image_checks(schedule, lambda T: (500, 950, 50, 2, 1, T - 1, T))
    for k, (s, fresh, t, shape, name, note) in enumerate(where):
        x0, eps, z = seeded_images(100 + k, shape)
        x_t = _q_sample(x0, t, eps, s)
        eps = eps + 0.1 * z.flip(-1)  # an imperfect prediction: the step must use the eps it is given
        expected, tol, mistakes = step_and_mistakes(x_t, t, eps, s, z)
        hint = with_note(f"compare term by term with {REVERSE_FORMULA}", note)
        answer = Expected("x_{t-1}", expected, tol, mistakes, hint)
        cases.append(Case(name, (x_t.clone(), t, eps.clone(), fresh(), z.clone()), (answer,)))
    return cases


def check_reverse_step(fn: Callable, schedule: Schedule | None = None) -> CheckResult:
    r"""Check ``fn(x_t, t, eps, schedule, z) -> x_{t-1}``, one DDPM reverse step.

    :math:`x_{t-1} = \frac{1}{\sqrt{\alpha_t}}\big(x_t - \frac{\beta_t}{\sqrt{1-\bar\alpha_t}}\epsilon\big)
    + \sigma_t z` with :math:`\sigma_t = \sqrt{\beta_t}`, and no noise at t = 1: the check
    passes a nonzero ``z`` at t = 1 too, and the step must ignore it there. The posterior-mean
    form (DDPM eq. 7, the coefficients of :math:`\hat x_0` and :math:`x_t`) passes as well.
    Cases: t = 500, 950, 50, 2, 1, T - 1 and T on one image (1, 8, 8), then t = 800 and t = 1
    on a batch (3, 1, 8, 8) with an int ``t``, then t = 7 on a short schedule T = 10 (a function
    that uses a global schedule fails it); inputs are seeded. The expected values are computed
    first, from a copy of the schedule the function never sees. Tolerance: float32 rounding
    (``_harness.rounding_tolerance``).

    Raises:
        CheckFailed: at the first wrong value, with a hint (the lesson's mistakes are named).
        ValueError: if ``fn`` is not callable or the schedule is not a Schedule.
    """
    __tracebackhide__ = True
    require_callable(fn)
    return run_cases(EXERCISE, fn, step_cases(schedule), HINT_CALL)
