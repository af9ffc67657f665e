"""The oracle's formula: the noise that explains x_t, ``fn(x_t, t, x0, schedule) -> eps``."""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor

from ..schedule import Schedule
from ..steps import _predict_eps, _q_sample
from ._cases import image_checks, seeded_images
from ._harness import Case, CheckResult, Expected, Mistakes, require_callable, rounding_tolerance, run_cases, with_note

EXERCISE = "oracle"
HINT_ORACLE = (
    "solve x_t = sqrt(alpha_bar_t) * x_0 + sqrt(1 - alpha_bar_t) * eps for eps: subtract "
    "sqrt(alpha_bar_t) * x_0, then divide by sqrt(1 - alpha_bar_t)"
)


def oracle_mistakes(x: Tensor, x0: Tensor, a: Tensor, ab: Tensor, ab_before: Tensor) -> Mistakes:
    """What each named mistake gives from x_t, x_0, alpha_t, alpha_bar_t and alpha_bar_{t-1} (float64)."""
    signal, noise = ab.sqrt(), (1 - ab).sqrt()  # the coefficients of x_0 and of eps in x_t
    return [
        (
            (x - a.sqrt() * x0) / (1 - a).sqrt(),
            "use alpha_bar_t, not alpha_t: x_t comes from x_0 in one jump over all t steps, "
            "and alpha_bar_t is the product of all alphas up to t",
        ),
        (
            (x - ab_before.sqrt() * x0) / (1 - ab_before).sqrt(),
            "use alpha_bar at t itself, schedule.alpha_bar[t], not at t - 1",
        ),
        ((x - ab * x0) / (1 - ab), "both coefficients are square roots: sqrt(alpha_bar_t) and sqrt(1 - alpha_bar_t)"),
        ((x - ab * x0) / noise, "the clean image is scaled by sqrt(alpha_bar_t): keep the square root"),
        ((x - signal * x0) / (1 - ab), "divide by sqrt(1 - alpha_bar_t): 1 - alpha_bar_t is the noise's variance"),
        ((x - signal * x0) / signal, "divide by sqrt(1 - alpha_bar_t), the noise's coefficient, not sqrt(alpha_bar_t)"),
        ((x - noise * x0) / signal, HINT_ORACLE + " (the two coefficients are swapped)"),
        ((x - signal * x0) * noise, "divide by sqrt(1 - alpha_bar_t); do not multiply"),
        ((x + signal * x0) / noise, "subtract the clean image's part sqrt(alpha_bar_t) * x_0; do not add it"),
        ((signal * x0 - x) / noise, "the sign is reversed: x_t minus sqrt(alpha_bar_t) * x_0, not the other way"),
        ((x - x0) / noise, "scale the clean image by sqrt(alpha_bar_t) before subtracting it"),
        (x - signal * x0, "after removing the clean image's part, divide by sqrt(1 - alpha_bar_t)"),
    ]


def oracle_tolerance(expected: Tensor, x: Tensor, x0: Tensor, s: Schedule, t: int) -> Tensor:
    """Float32 rounding (``_harness.rounding_tolerance``) of x_t and sqrt(alpha_bar_t) x_0 over
    sqrt(1 - alpha_bar_t), which magnifies it near t = 1, and of the divisor itself."""
    ab = s.alpha_bar.double()[t]
    terms = (x.abs() + ab.sqrt() * x0.abs()) / (1 - ab).sqrt() + expected.abs()
    return rounding_tolerance(terms, s.beta.double()[t], s.alpha.double()[t])


def oracle_cases(schedule: object) -> list[Case]:
    """Each x_t made from a seeded x_0 and noise, which the answer must recover (see :func:`check_oracle`)."""
    cases = []
    where = image_checks(schedule, lambda T: (800, 50, 2, 1, 500, T - 1, T))
    for k, (s, fresh, t, shape, name, note) in enumerate(where):
        x0, eps, _ = seeded_images(500 + k, shape)
        x_t = _q_sample(x0, t, eps, s)
        x, c, a, ab = x_t.double(), x0.double(), s.alpha.double(), s.alpha_bar.double()
        expected = _predict_eps(x, t, c, s).double()
        tol = oracle_tolerance(expected, x, c, s, t)
        mistakes = oracle_mistakes(x, c, a[t], ab[t], ab[t - 1])
        answer = Expected("eps", expected, tol, mistakes, with_note(HINT_ORACLE, note))
        cases.append(Case(name, (x_t.clone(), t, x0.clone(), fresh()), (answer,)))
    return cases


def check_oracle(fn: Callable, schedule: Schedule | None = None) -> CheckResult:
    r"""Check ``fn(x_t, t, x0, schedule) -> eps``, the oracle's noise: the forward formula solved for the noise.

    :math:`\epsilon = (x_t - \sqrt{\bar\alpha_t}\,x_0)/\sqrt{1-\bar\alpha_t}`. Cases: t = 800, 50,
    2, 1, 500, T - 1 and T on one image (1, 8, 8), then t = 800 and t = 1 on a batch
    (3, 1, 8, 8) with an int ``t``, then t = 7 on a short schedule T = 10 (a function that
    uses a global schedule fails it); each x_t is made from x_0 with a seeded noise, which the
    answer must recover. The expected values are computed first, from a copy of the schedule
    the function never sees. Tolerance: float32 rounding (``_harness.rounding_tolerance``),
    which :math:`1/\sqrt{1-\bar\alpha_t}` magnifies near t = 1.

    Args:
        fn: the reader's function.
        schedule: the schedule to check on (default: the book's cosine schedule, T = 1000).

    Returns:
        A :class:`CheckResult` if every case matches.

    Raises:
        CheckFailed: at the first wrong value, with a hint (the lesson's mistakes are named).
        ValueError: if ``fn`` is not callable or the schedule is not a Schedule.
    """
    __tracebackhide__ = True
    require_callable(fn)
    return run_cases(EXERCISE, fn, oracle_cases(schedule), HINT_ORACLE)
