"""Exercise 3: the one-shot estimate of the clean image, ``fn(x_t, t, eps, schedule) -> x0_hat``."""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor

from ..schedule import Schedule
from ..steps import _predict_x0, _q_sample
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

EXERCISE = "predict_x0"
HINT_ONE_SHOT = (
    "solve x_t = sqrt(alpha_bar_t) * x_0 + sqrt(1 - alpha_bar_t) * eps for x_0: subtract "
    "sqrt(1 - alpha_bar_t) * eps, then divide by sqrt(alpha_bar_t), not by sqrt(1 - alpha_bar_t)"
)


def one_shot_mistakes(x: Tensor, e: Tensor, ab: Tensor) -> Mistakes:
    """What each named mistake gives from x_t, the predicted noise and alpha_bar_t (float64)."""
    return [
        ((x - (1 - ab).sqrt() * e) / (1 - ab).sqrt(), HINT_ONE_SHOT),
        ((x - ab.sqrt() * e) / (1 - ab).sqrt(), HINT_ONE_SHOT + " (the two coefficients are swapped)"),
        ((x - (1 - ab).sqrt() * e) * ab.sqrt(), "divide by sqrt(alpha_bar_t); do not multiply"),
        ((x - (1 - ab) * e) / ab, "both coefficients are square roots: sqrt(1 - alpha_bar_t) and sqrt(alpha_bar_t)"),
        ((x + (1 - ab).sqrt() * e) / ab.sqrt(), "subtract the noise term; do not add it"),
        (x - (1 - ab).sqrt() * e, "after removing the noise, divide by sqrt(alpha_bar_t)"),
    ]


def check_predict_x0(fn: Callable, schedule: Schedule | None = None) -> CheckResult:
    r"""Check ``fn(x_t, t, eps, schedule) -> x0_hat``, the one-shot estimate of the clean image.

    :math:`\hat x_0 = (x_t - \sqrt{1-\bar\alpha_t}\,\epsilon)/\sqrt{\bar\alpha_t}`. Cases: t = 1,
    50, 500, 800, 990 and T on one image (1, 8, 8), then t = 800 and t = 1 on a batch
    (3, 1, 8, 8) with an int ``t``. Near T the estimate multiplies float32 rounding by
    :math:`1/\sqrt{\bar\alpha_t}`, and the tolerance grows with it.

    Raises:
        CheckFailed: at the first wrong value, with a hint.
        ValueError: if ``fn`` is not callable.
    """
    __tracebackhide__ = True
    require_callable(fn)
    s = book_schedule() if schedule is None else schedule
    cases = image_cases(s, (1, 50, 500, 800, 990, s.T))
    for k, (t, shape) in enumerate(cases):
        x0, eps, z = seeded_images(200 + k, shape)
        x_t = _q_sample(x0, t, eps, s)
        eps = eps + 0.1 * z  # an imperfect prediction, so that the estimate is not simply x0
        case = describe(t, shape)
        out = call_reader(fn, (x_t.clone(), t, eps.clone(), s), EXERCISE, case, HINT_ONE_SHOT)
        got = read_tensor(out, shape, "x0_hat", EXERCISE, case)
        x, e, ab = x_t.double(), eps.double(), s.alpha_bar.double()[t]
        expected = _predict_x0(x, t, e, s).double()
        tol = 1e-4 * (1 + expected.abs()) + 1e-6 * (x.abs() + e.abs()) / ab.sqrt()
        if not within(got, expected, tol):
            hint = name_the_mistake(got, tol, one_shot_mistakes(x, e, ab), HINT_ONE_SHOT)
            raise CheckFailed(EXERCISE, case, first_mismatch("x0_hat", got, expected, tol), hint)
    return CheckResult(EXERCISE, len(cases))
