"""Exercise 3: the one-shot estimate of the clean image, ``fn(x_t, t, eps, schedule) -> x0_hat``."""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor

from ..schedule import Schedule
from ..steps import _predict_x0, _q_sample
from ._cases import image_checks, seeded_images
from ._harness import Case, CheckResult, Expected, Mistakes, require_callable, rounding_tolerance, run_cases, with_note

EXERCISE = "predict_x0"
HINT_ONE_SHOT = (
    "solve x_t = sqrt(alpha_bar_t) * x_0 + sqrt(1 - alpha_bar_t) * eps for x_0: subtract "
    "sqrt(1 - alpha_bar_t) * eps, then divide by sqrt(alpha_bar_t), not by sqrt(1 - alpha_bar_t)"
)


def one_shot_mistakes(x: Tensor, e: Tensor, ab: Tensor, ab_before: Tensor) -> Mistakes:
    """What each named mistake gives from x_t, the predicted noise, alpha_bar_t and alpha_bar_{t-1} (float64)."""
    return [
        ((x - (1 - ab).sqrt() * e) / (1 - ab).sqrt(), HINT_ONE_SHOT),
        ((x - ab.sqrt() * e) / (1 - ab).sqrt(), HINT_ONE_SHOT + " (the two coefficients are swapped)"),
        ((x - (1 - ab).sqrt() * e) * ab.sqrt(), "divide by sqrt(alpha_bar_t); do not multiply"),
        ((x - (1 - ab) * e) / ab, "both coefficients are square roots: sqrt(1 - alpha_bar_t) and sqrt(alpha_bar_t)"),
        ((x + (1 - ab).sqrt() * e) / ab.sqrt(), "subtract the noise term; do not add it"),
        (x - (1 - ab).sqrt() * e, "after removing the noise, divide by sqrt(alpha_bar_t)"),
        (
            (x - (1 - ab_before).sqrt() * e) / ab_before.sqrt(),
            "use alpha_bar at t itself, schedule.alpha_bar[t], not at t - 1",
        ),
    ]


def one_shot_cases(schedule: object) -> list[Case]:
    """Each x_t with an imperfect noise prediction, so that x0_hat is not simply x_0 (see :func:`check_predict_x0`)."""
    cases = []
    where = image_checks(schedule, lambda T: (1, 50, 500, 800, 990, T))
    for k, (s, fresh, t, shape, name, note) in enumerate(where):
        x0, eps, z = seeded_images(200 + k, shape)
        x_t = _q_sample(x0, t, eps, s)
        eps = eps + 0.1 * z  # an imperfect prediction, so that the estimate is not simply x0
        x, e, ab = x_t.double(), eps.double(), s.alpha_bar.double()
        expected = _predict_x0(x, t, e, s).double()
        terms = (x.abs() + (1 - ab[t]).sqrt() * e.abs()) / ab[t].sqrt()
        tol = rounding_tolerance(terms, s.beta.double()[t], s.alpha.double()[t])
        mistakes = one_shot_mistakes(x, e, ab[t], ab[t - 1])
        answer = Expected("x0_hat", expected, tol, mistakes, with_note(HINT_ONE_SHOT, note))
        cases.append(Case(name, (x_t.clone(), t, eps.clone(), fresh()), (answer,)))
    return cases


def check_predict_x0(fn: Callable, schedule: Schedule | None = None) -> CheckResult:
    r"""Check ``fn(x_t, t, eps, schedule) -> x0_hat``, the one-shot estimate of the clean image.

    :math:`\hat x_0 = (x_t - \sqrt{1-\bar\alpha_t}\,\epsilon)/\sqrt{\bar\alpha_t}`. Cases: t = 1,
    50, 500, 800, 990 and T on one image (1, 8, 8), then t = 800 and t = 1 on a batch
    (3, 1, 8, 8) with an int ``t``, then t = 7 on a short schedule T = 10 (a function that
    uses a global schedule fails it). The expected values are computed first, from a copy of
    the schedule the function never sees. Tolerance: float32 rounding
    (``_harness.rounding_tolerance``), which :math:`1/\sqrt{\bar\alpha_t}` magnifies near T.

    Raises:
        CheckFailed: at the first wrong value, with a hint.
        ValueError: if ``fn`` is not callable or the schedule is not a Schedule.
    """
    __tracebackhide__ = True
    require_callable(fn)
    return run_cases(EXERCISE, fn, one_shot_cases(schedule), HINT_ONE_SHOT)
