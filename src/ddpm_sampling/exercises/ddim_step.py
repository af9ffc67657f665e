r"""Beyond Algorithm 2: one DDIM step, ``fn(x_t, t, t_prev, eps, schedule, eta, z) -> x_{t_prev}``."""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor

from ..schedule import Schedule
from ..steps import q_sample
from ._cases import BATCH, HINT_GLOBAL, IMAGE, SHORT_T, pristine, seeded_images, short_schedule
from ._harness import Case, CheckResult, Expected, Mistakes, require_callable, rounding_tolerance, run_cases, with_note

EXERCISE = "ddim_step"
DDIM_FORMULA = (
    "x_prev = sqrt(alpha_bar_prev) * x0_hat + sqrt(1 - alpha_bar_prev - sigma^2) * eps + sigma * z, with "
    "x0_hat = (x_t - sqrt(1 - alpha_bar_t) * eps) / sqrt(alpha_bar_t) and "
    "sigma = eta * sqrt((1 - alpha_bar_prev) / (1 - alpha_bar_t) * (1 - alpha_bar_t / alpha_bar_prev))"
)
HINT_CALL = f"fn(x_t, t, t_prev, eps, schedule, eta, z) should compute {DDIM_FORMULA}"
HINT_SQRT = (
    "each alpha_bar enters as its square root: sqrt(alpha_bar_prev) * x0_hat, and x0_hat divides by sqrt(alpha_bar_t)"
)
HINT_PREV = (
    "alpha_bar[t] belongs in x0_hat (and sigma), alpha_bar[t_prev] in sqrt(alpha_bar_prev) * x0_hat and "
    "sqrt(1 - alpha_bar_prev - sigma^2): the step puts the clean image x_t implies back at the noise level of t_prev"
)
HINT_ETA = "sigma is eta times the standard deviation: sigma = eta * sqrt(...) (eta = 0 adds no noise at all)"
HINT_SIGMA_SIGN = "the fresh noise is added: + sigma * z"
HINT_DIRECTION = "the direction term keeps the total variance: its coefficient is sqrt(1 - alpha_bar_prev - sigma^2)"
HINT_BETA_TILDE = (
    "at eta = 1 sigma^2 is the posterior variance of the step, (1 - alpha_bar_prev) / (1 - alpha_bar_t) * "
    "(1 - alpha_bar_t / alpha_bar_prev), not 1 - alpha_bar_t / alpha_bar_prev (the beta of the step)"
)

#: Where the check calls the step: (t, t_prev, eta) on one image, then on a batch. At eta = 1 with
#: t_prev = t - 1 the step is DDPM's reverse step with the posterior variance beta_tilde.
IMAGE_STEPS = (
    (1000, 900, 0.0),
    (500, 450, 0.0),
    (50, 0, 0.0),
    (1000, 999, 1.0),
    (500, 499, 1.0),
    (2, 1, 1.0),
    (1, 0, 1.0),
    (800, 600, 1.0),
    (300, 200, 0.5),
)
BATCH_STEPS = ((800, 700, 1.0), (1, 0, 0.0))
SHORT_STEP = (7, 4, 1.0)


def ddim_and_mistakes(
    x: Tensor, t: int, t_prev: int, eps: Tensor, s: Schedule, eta: float, z: Tensor
) -> tuple[Tensor, Tensor, Mistakes]:
    """The reference x_{t_prev}, its tolerance and what each named mistake gives instead, in float64."""
    x, e, z = x.double(), eps.double(), z.double()
    ab, ap = s.alpha_bar.double()[t], s.alpha_bar.double()[t_prev]
    step_beta = 1 - ab / ap  # the beta of the step from t to t_prev, a variance
    sigma1 = ((1 - ap) / (1 - ab) * step_beta).sqrt()  # sigma at eta = 1
    sigma = eta * sigma1
    x0, coef = (x - (1 - ab).sqrt() * e) / ab.sqrt(), ap.sqrt()
    direction = (1 - ap - sigma**2).sqrt()
    expected = coef * x0 + direction * e + sigma * z
    terms = coef * (x.abs() + (1 - ab).sqrt() * e.abs()) / ab.sqrt() + direction * e.abs() + (sigma * z).abs()
    # 1 - alpha_bar_prev - sigma^2 cancels to a small share of 1 - alpha_bar_prev at eta > 0 near T
    kept = direction**2 / (1 - ap) if t_prev > 0 else direction.new_tensor(1.0)
    tol = rounding_tolerance(terms, step_beta, kept)

    def step(x0=x0, coef=coef, sigma=sigma, direction=None, level=ap):
        """The step with one thing changed; the direction term follows the sigma and alpha_bar it is given."""
        if direction is None:
            direction = (1 - level - sigma**2).clamp(min=0).sqrt()
        return coef * x0 + direction * e + sigma * z

    x0_at = lambda a: (x - (1 - a).sqrt() * e) / a.sqrt()  # noqa: E731
    mistakes = [
        (step(coef=ap), HINT_SQRT),
        (step(x0=(x - (1 - ab).sqrt() * e) / ab), HINT_SQRT),
        (step(coef=ab.sqrt(), level=ab), HINT_PREV),
        (step(level=ab), HINT_PREV),
        (step(coef=ab.sqrt()), HINT_PREV),
        (step(x0=x0_at(ap)), HINT_PREV),
        (step(sigma=sigma1), HINT_ETA),
        (step(sigma=eta**2 * sigma1), HINT_ETA),
        (step(sigma=-sigma), HINT_SIGMA_SIGN),
        (step(sigma=sigma1, direction=direction), HINT_ETA),
        (step(direction=(1 - ap).sqrt()), HINT_DIRECTION),
        (step(direction=(1 - ap - sigma).clamp(min=0).sqrt()), HINT_DIRECTION),
        (step(sigma=eta * step_beta.sqrt()), HINT_BETA_TILDE),
        (step(sigma=eta * step_beta.sqrt(), direction=direction), HINT_BETA_TILDE),
    ]
    return expected, tol, mistakes


def describe(t: int, t_prev: int, eta: float, shape: tuple[int, ...], T: int | None = None) -> str:
    """The name of a case: ``t = 500 → t_prev = 499, eta = 1 (DDPM's step with beta_tilde) (image of shape ...)``."""
    ddpm = " (DDPM's step with beta_tilde)" if eta == 1 and t_prev == t - 1 else ""
    short = f" on a short schedule T = {T}" if T else ""
    kind = "batch" if len(shape) == 4 else "image"
    return f"t = {t}{short} → t_prev = {t_prev}, eta = {eta:g}{ddpm} ({kind} of shape {tuple(shape)})"


def ddim_cases(schedule: object) -> list[Case]:
    """Each x_t with an imperfect noise prediction and a nonzero z (see :func:`check_ddim_step`)."""
    s, fresh = pristine(schedule)
    short, fresh_short = pristine(short_schedule())
    where = [(s, fresh, *step, IMAGE, None, "") for step in IMAGE_STEPS if step[0] <= s.T]
    where += [(s, fresh, *step, BATCH, None, "") for step in BATCH_STEPS if step[0] <= s.T]
    where.append((short, fresh_short, *SHORT_STEP, IMAGE, SHORT_T, HINT_GLOBAL))
    cases = []
    for k, (ref, make, t, t_prev, eta, shape, T, note) in enumerate(where):
        x0, eps, z = seeded_images(500 + k, shape)
        x_t = q_sample(x0, t, eps, ref)
        eps = eps + 0.1 * z.flip(-1)  # an imperfect prediction: the step must use the eps it is given
        expected, tol, mistakes = ddim_and_mistakes(x_t, t, t_prev, eps, ref, eta, z)
        answer = Expected(
            "x_{t_prev}", expected, tol, mistakes, with_note(f"compare term by term with {DDIM_FORMULA}", note)
        )
        args = (x_t.clone(), t, t_prev, eps.clone(), make(), eta, z.clone())
        cases.append(Case(describe(t, t_prev, eta, shape, T), args, (answer,)))
    return cases


def check_ddim_step(fn: Callable, schedule: Schedule | None = None) -> CheckResult:
    r"""Check ``fn(x_t, t, t_prev, eps, schedule, eta, z) -> x_{t_prev}``, one DDIM step (Song et al. 2021, eq. 12).

    :math:`x_\text{prev} = \sqrt{\bar\alpha_\text{prev}}\,\hat x_0 + \sqrt{1-\bar\alpha_\text{prev}-\sigma^2}\,
    \epsilon + \sigma z` with :math:`\hat x_0 = (x_t - \sqrt{1-\bar\alpha_t}\,\epsilon)/\sqrt{\bar\alpha_t}` and
    :math:`\sigma = \eta\sqrt{(1-\bar\alpha_\text{prev})/(1-\bar\alpha_t)}\sqrt{1-\bar\alpha_t/\bar\alpha_\text{prev}}`,
    the update of :func:`~ddpm_sampling.ddim_sample`. Cases on one image (1, 8, 8): at eta = 0
    t = 1000 → 900, 500 → 450 and 50 → 0; at eta = 1 t = 1000 → 999, 500 → 499 and 2 → 1, where
    the step is DDPM's reverse step with the posterior variance beta_tilde, then 1 → 0 (sigma is
    0 there), and the strided 800 → 600; at eta = 0.5 t = 300 → 200. Then 800 → 700 at eta = 1
    and 1 → 0 at eta = 0 on a batch (3, 1, 8, 8), and 7 → 4 at eta = 1 on a short schedule
    T = 10 (a function that uses a global schedule fails it). Inputs are seeded; ``eta`` is a
    float, ``t`` and ``t_prev`` ints. The expected values are computed first, from a copy of the
    schedule the function never sees. Tolerance: float32 rounding (``_harness.rounding_tolerance``).

    Raises:
        CheckFailed: at the first wrong value, with a hint (the common mistakes are named).
        ValueError: if ``fn`` is not callable or the schedule is not a Schedule.
    """
    __tracebackhide__ = True
    require_callable(fn)
    return run_cases(EXERCISE, fn, ddim_cases(schedule), HINT_CALL)
