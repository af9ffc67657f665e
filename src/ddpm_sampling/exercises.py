r"""Self-checks for the book's four exercises.

Each ``check_*`` runs the reader's function on several fixed, seeded cases and compares
it with the package's reference implementation:

- :func:`check_coefficients`: ``fn(schedule, t) -> (scale, eps_coef, sigma)`` (Exercise 1);
- :func:`check_reverse_step`: ``fn(x_t, t, eps, schedule, z) -> x_{t-1}`` (Exercise 2);
- :func:`check_predict_x0`: ``fn(x_t, t, eps, schedule) -> x0_hat`` (Exercise 3);
- :func:`check_sampling_loop`: ``fn(model, schedule, shape, snapshot_timesteps, generator) -> (x_0, snapshots)``
  (Exercise 4).

On success a check returns a :class:`CheckResult`, which shows as one line in a
notebook (``✓ reverse_step: all 9 cases match the reference``). On the first wrong
value it raises :class:`CheckFailed`, an ``AssertionError``, whose message names the
case, the expected and the received value and gives a hint; the lesson's common
mistakes are recognised and named. The checks never pass silently: a result you can
see, or an error that stops the notebook at the exercise to fix.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
from torch import Tensor

from .models import noisy_model, target_oracle
from .schedule import Schedule, cosine_schedule
from .steps import _predict_x0, _q_sample

__all__ = [
    "CheckFailed",
    "CheckResult",
    "check_coefficients",
    "check_predict_x0",
    "check_reverse_step",
    "check_sampling_loop",
]

#: The shape of a test image: small, so that a check of a 1000-step loop runs in a blink.
IMAGE = (1, 8, 8)
BATCH = (3, *IMAGE)

REVERSE_FORMULA = "x_{t-1} = 1/sqrt(alpha_t) * (x_t - beta_t/sqrt(1 - alpha_bar_t) * eps) + sigma_t * z"
HINT_Z_AT_1 = (
    "at t = 1 no noise is added: the last step commits to x_0, so use z = 0 there (add sigma_t * z only for t > 1)"
)
HINT_ALPHA_BAR = (
    "the scaling factor is 1/sqrt(alpha_t), with alpha_t = 1 - beta_t of this one step; "
    "alpha_bar_t is the product of all alphas up to t and belongs only in the noise correction"
)
HINT_LOOP_DIRECTION = (
    "sampling runs backwards, from t = T down to t = 1: for t in range(schedule.T, 0, -1). "
    "There is no reverse step at t = 0, and counting up from 0 starts where the image should end"
)
HINT_ONE_SHOT = (
    "solve x_t = sqrt(alpha_bar_t) * x_0 + sqrt(1 - alpha_bar_t) * eps for x_0: subtract "
    "sqrt(1 - alpha_bar_t) * eps, then divide by sqrt(alpha_bar_t), not by sqrt(1 - alpha_bar_t)"
)


@dataclass(frozen=True)
class CheckResult:
    """A passed check: which exercise and how many cases matched. Truthy."""

    exercise: str
    cases: int

    def __bool__(self) -> bool:
        return True

    def __str__(self) -> str:
        return f"✓ {self.exercise}: all {self.cases} cases match the reference"

    __repr__ = __str__


class CheckFailed(AssertionError):
    """The reader's function gave a wrong value (or none) on one case.

    Attributes:
        exercise: the name of the check, e.g. ``"reverse_step"``.
        case: the case that failed, e.g. ``"t = 1, x_t of shape (1, 8, 8)"``.
        problem: what was wrong (the first wrong value, or why nothing could be compared).
        hint: what is the likely cause and how to fix it.
    """

    def __init__(self, exercise: str, case: str, problem: str, hint: str):
        self.exercise, self.case, self.problem, self.hint = exercise, case, problem, hint
        super().__init__(f"✗ {exercise} at {case}: {problem} — hint: {hint}")


# ----------------------------------------------------------------------------------------------
# shared helpers


def _check_callable(fn: object) -> None:
    if not callable(fn):
        raise ValueError(f"fn must be the function to check (a callable), got {fn!r} ({type(fn).__name__})")


HINT_TODO = "a TODO is still `...`: replace each `...` with your code"


def _todo(err: Exception, hint: str) -> str:
    """``HINT_TODO`` when an error comes from a ``...`` left in place (Python's ``ellipsis``), else ``hint``."""
    return HINT_TODO if "ellipsis" in str(err) else hint


def _call(fn: Callable, args: tuple, exercise: str, case: str, hint: str):
    """Call the reader's function; an exception it raises becomes a CheckFailed."""
    __tracebackhide__ = True
    try:
        return fn(*args)
    except CheckFailed:
        raise
    except Exception as err:
        raise CheckFailed(
            exercise, case, f"your function raised {type(err).__name__}: {err}", _todo(err, hint)
        ) from err


def _as_tensor(
    value: object, shape: tuple[int, ...], what: str, exercise: str, case: str, finite: bool = True
) -> Tensor:
    """The reader's return value as a float tensor of ``shape``, or a CheckFailed saying why not."""
    __tracebackhide__ = True
    if value is None:
        raise CheckFailed(exercise, case, f"{what} is None", "did the function forget to `return` its result?")
    if value is Ellipsis:
        raise CheckFailed(exercise, case, f"{what} is `...`", HINT_TODO)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = torch.tensor(float(value))
    if not isinstance(value, Tensor):
        raise CheckFailed(
            exercise, case, f"{what} is a {type(value).__name__}", f"return a torch.Tensor of shape {shape}"
        )
    if tuple(value.shape) != tuple(shape):
        try:
            torch.broadcast_shapes(tuple(value.shape), tuple(shape))
            note = "; it broadcasts, but the result must have exactly this shape"
        except RuntimeError:
            note = ""
        raise CheckFailed(
            exercise,
            case,
            f"{what} has shape {tuple(value.shape)}, expected {tuple(shape)}",
            f"keep the shape of the input{note}; per-timestep numbers are scalars that multiply whole images",
        )
    if not value.dtype.is_floating_point:
        value = value.to(torch.float32)
    value = value.detach().cpu()
    if finite and not torch.isfinite(value).all():
        raise CheckFailed(
            exercise,
            case,
            f"{what} holds non-finite values (NaN or inf)",
            "look for a division by something that is 0 at this t, or a sqrt of a negative number",
        )
    return value


def _close(got: Tensor, expected: Tensor, tol: Tensor | float) -> bool:
    return bool(((got.double() - expected.double()).abs() <= tol).all())


def _first_wrong(got: Tensor, expected: Tensor, tol: Tensor | float) -> tuple[tuple[int, ...], float, float]:
    """The index and values of the first element outside the tolerance."""
    bad = (got.double() - expected.double()).abs() > tol
    index = tuple(int(i) for i in torch.nonzero(bad)[0]) if expected.dim() else ()
    return index, float(expected[index]), float(got[index])


def _problem(name: str, got: Tensor, expected: Tensor, tol: Tensor | float) -> str:
    index, want, have = _first_wrong(got, expected, tol)
    where = f"{name}[{', '.join(map(str, index))}]" if index else name
    return f"expected {where} = {want:.6g}, got {have:.6g}"


def _diagnose(got: Tensor, tol: Tensor | float, variants: list[tuple[Tensor, str]], default: str) -> str:
    """The hint of the first known mistake that reproduces ``got``, else ``default``."""
    for value, hint in variants:
        # each variant is compared with its own scale: a mistake can make the values huge
        if value.shape == got.shape and torch.isfinite(value).all() and _close(got, value, tol + 1e-3 * value.abs()):
            return hint
    return default


def _images(seed: int, shape: tuple[int, ...]) -> tuple[Tensor, Tensor, Tensor]:
    """A clean image in [-1, 1], a noise and a fresh z of ``shape``, from one seed."""
    g = torch.Generator().manual_seed(seed)
    x0 = torch.rand(shape, generator=g) * 2 - 1
    return x0, torch.randn(shape, generator=g), torch.randn(shape, generator=g)


def _image_cases(s: Schedule, image_ts: tuple[int, ...]) -> list[tuple[int, tuple[int, ...]]]:
    """(t, shape) cases: each of ``image_ts`` (in range, once) on one image, then t = 800 and 1 on a batch."""
    ts = [t for t in dict.fromkeys(image_ts) if 1 <= t <= s.T]
    return [(t, IMAGE) for t in ts] + [(t, BATCH) for t in dict.fromkeys((min(800, s.T), 1))]


def _default_schedule() -> Schedule:
    return cosine_schedule(1000)


def _describe(t: int, shape: tuple[int, ...], extra: str = "") -> str:
    return f"t = {t} ({'batch' if len(shape) == 4 else 'image'} of shape {tuple(shape)}{extra})"


# ----------------------------------------------------------------------------------------------
# Exercise 1: the three coefficients


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
    _check_callable(fn)
    s = _default_schedule() if schedule is None else schedule
    if s.T < 3:
        raise ValueError(f"schedule.T = {s.T} is too short for the check; it needs T >= 3")
    exercise = "coefficients"
    ts = sorted({t for t in (1, 2, 50, 500, 800, 950, s.T - 1, s.T) if 1 <= t <= s.T})
    cases: list[int | Tensor] = [*ts, torch.tensor(ts)]
    names = ("scale", "eps_coef", "sigma")
    f64 = {k: getattr(s, k).double() for k in ("alpha", "alpha_bar", "beta", "beta_tilde")}
    for t in cases:
        shape = tuple(t.shape) if isinstance(t, Tensor) else ()
        case = f"t = {t}" if not shape else f"t = torch.tensor({ts}) (all at once)"
        out = _call(
            fn, (s, t), exercise, case, "fn(schedule, t) should return the three numbers (scale, eps_coef, sigma)"
        )
        if not isinstance(out, (tuple, list)) or len(out) != 3:
            what = (
                "None"
                if out is None
                else f"a {type(out).__name__}" + (f" of length {len(out)}" if isinstance(out, (tuple, list)) else "")
            )
            raise CheckFailed(
                exercise, case, f"the function returned {what}", "return a tuple (scale, eps_coef, sigma)"
            )
        a, ab, b, bt = (f64[k][t] for k in ("alpha", "alpha_bar", "beta", "beta_tilde"))
        expected = (s.scale[t], s.eps_coef[t], s.sigma[t])
        mistakes = (
            [
                (1 / ab.sqrt(), HINT_ALPHA_BAR),
                (a.sqrt(), "the scaling factor is 1 over sqrt(alpha_t), not sqrt(alpha_t)"),
                (1 / a, "the scaling factor takes the square root: 1/sqrt(alpha_t)"),
            ],
            [
                (b / (1 - ab), "the noise correction divides by sqrt(1 - alpha_bar_t): keep the square root"),
                (
                    b / (1 - a).sqrt(),
                    "the noise correction divides by sqrt(1 - alpha_bar_t), with alpha_bar, not alpha",
                ),
                (b / ab.sqrt(), "the noise correction divides by sqrt(1 - alpha_bar_t), not by sqrt(alpha_bar_t)"),
            ],
            [
                (b, "sigma_t is a standard deviation, sqrt(beta_t); beta_t itself is the variance"),
                (bt.sqrt(), "that is sqrt(beta_tilde_t), the posterior's choice; the exercise uses sqrt(beta_t)"),
            ],
        )
        for name, value, want, known in zip(names, out, expected, mistakes):
            got = _as_tensor(value, shape, name, exercise, case)
            tol = 2e-3 * want.abs() + 1e-7
            if not _close(got, want, tol):
                default = (
                    "compare with "
                    + {
                        "scale": "1/sqrt(alpha_t), alpha_t = 1 - beta_t",
                        "eps_coef": "beta_t/sqrt(1 - alpha_bar_t)",
                        "sigma": "sqrt(beta_t)",
                    }[name]
                )
                raise CheckFailed(exercise, case, _problem(name, got, want, tol), _diagnose(got, tol, known, default))
    return CheckResult(exercise, len(cases))


# ----------------------------------------------------------------------------------------------
# Exercise 2: one reverse step


def _step_variants(x: Tensor, t: int, eps: Tensor, s: Schedule, z: Tensor) -> tuple[Tensor, list[tuple[Tensor, str]]]:
    """The reference x_{t-1} and the results of the known mistakes, in float64."""
    x, eps, z = x.double(), eps.double(), z.double()
    a, ab, b = s.alpha.double()[t], s.alpha_bar.double()[t], s.beta.double()[t]
    scale, coef, sigma = 1 / a.sqrt(), b / (1 - ab).sqrt(), b.sqrt()
    keep = 1.0 if t > 1 else 0.0
    mean = scale * (x - coef * eps)
    expected = mean + keep * sigma * z
    variants = [
        (mean + sigma * z, HINT_Z_AT_1),
        ((x - coef * eps) / ab.sqrt() + keep * sigma * z, HINT_ALPHA_BAR),
        (mean + keep * b * z, "sigma_t is sqrt(beta_t), a standard deviation; beta_t is the variance"),
        (scale * (x - b / (1 - ab) * eps) + keep * sigma * z, "the noise correction is beta_t/sqrt(1 - alpha_bar_t)"),
        (scale * x - coef * eps + keep * sigma * z, "the scaling factor multiplies the whole bracket, eps term too"),
        (x - coef * eps + keep * sigma * z, "the step forgets the scaling factor 1/sqrt(alpha_t)"),
        (scale * (x + coef * eps) + keep * sigma * z, "the step removes predicted noise: subtract the eps term"),
        (mean, "for t > 1 the step adds fresh noise sigma_t * z; only the last step (t = 1) skips it"),
    ]
    return expected, variants


def _step_tol(expected: Tensor) -> Tensor:
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
    _check_callable(fn)
    s = _default_schedule() if schedule is None else schedule
    exercise = "reverse_step"
    cases = _image_cases(s, (500, 950, 50, 2, 1, s.T - 1, s.T))
    for k, (t, shape) in enumerate(cases):
        x0, eps, z = _images(100 + k, shape)
        x_t = _q_sample(x0, t, eps, s)
        eps = eps + 0.1 * z.flip(-1)  # an imperfect prediction: the step must use the eps it is given
        case = _describe(t, shape)
        args = (x_t.clone(), t, eps.clone(), s, z.clone())
        out = _call(fn, args, exercise, case, f"fn(x_t, t, eps, schedule, z) should compute {REVERSE_FORMULA}")
        got = _as_tensor(out, shape, "x_{t-1}", exercise, case)
        expected, variants = _step_variants(x_t, t, eps, s, z)
        tol = _step_tol(expected)
        if not _close(got, expected, tol):
            hint = _diagnose(got, tol, variants, f"compare term by term with {REVERSE_FORMULA}")
            raise CheckFailed(exercise, case, _problem("x_{t-1}", got, expected, tol), hint)
    return CheckResult(exercise, len(cases))


# ----------------------------------------------------------------------------------------------
# Exercise 3: the one-shot estimate


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
    _check_callable(fn)
    s = _default_schedule() if schedule is None else schedule
    exercise = "predict_x0"
    cases = _image_cases(s, (1, 50, 500, 800, 990, s.T))
    for k, (t, shape) in enumerate(cases):
        x0, eps, z = _images(200 + k, shape)
        x_t = _q_sample(x0, t, eps, s)
        eps = eps + 0.1 * z  # an imperfect prediction, so that the estimate is not simply x0
        case = _describe(t, shape)
        out = _call(fn, (x_t.clone(), t, eps.clone(), s), exercise, case, HINT_ONE_SHOT)
        got = _as_tensor(out, shape, "x0_hat", exercise, case)
        x, e = x_t.double(), eps.double()
        ab = s.alpha_bar.double()[t]
        expected = _predict_x0(x, t, e, s).double()
        tol = 1e-4 * (1 + expected.abs()) + 1e-6 * (x.abs() + e.abs()) / ab.sqrt()
        if not _close(got, expected, tol):
            variants = [
                ((x - (1 - ab).sqrt() * e) / (1 - ab).sqrt(), HINT_ONE_SHOT),
                ((x - ab.sqrt() * e) / (1 - ab).sqrt(), HINT_ONE_SHOT + " (the two coefficients are swapped)"),
                ((x - (1 - ab).sqrt() * e) * ab.sqrt(), "divide by sqrt(alpha_bar_t); do not multiply"),
                (
                    (x - (1 - ab) * e) / ab,
                    "both coefficients are square roots: sqrt(1 - alpha_bar_t) and sqrt(alpha_bar_t)",
                ),
                ((x + (1 - ab).sqrt() * e) / ab.sqrt(), "subtract the noise term; do not add it"),
                (x - (1 - ab).sqrt() * e, "after removing the noise, divide by sqrt(alpha_bar_t)"),
            ]
            raise CheckFailed(
                exercise, case, _problem("x0_hat", got, expected, tol), _diagnose(got, tol, variants, HINT_ONE_SHOT)
            )
    return CheckResult(exercise, len(cases))


# ----------------------------------------------------------------------------------------------
# Exercise 4: the sampling loop


class _LoopError(Exception):
    """Raised by the recording model to stop a loop that went wrong, with a hint."""

    def __init__(self, problem: str, hint: str):
        super().__init__(problem)
        self.problem, self.hint = problem, hint


class _Recorder:
    """A model wrapper that records every (t, x_t, eps) the reader's loop asks for."""

    def __init__(self, model: Callable, T: int):
        self.model, self.T = model, T
        self.calls: list[tuple[int, Tensor, Tensor]] = []

    def __call__(self, x_t: Tensor, t: int | Tensor) -> Tensor:
        if isinstance(t, Tensor) and t.numel() == 1 and not t.dtype.is_floating_point:
            t = int(t)
        if isinstance(t, bool) or not isinstance(t, int):
            raise _LoopError(f"the model was called with t = {t!r}", "call model(x, t) with t an int in 1..T")
        if not isinstance(x_t, Tensor):
            raise _LoopError(
                f"the model was called with x = {type(x_t).__name__}", "call model(x, t) with the tensor x"
            )
        n = len(self.calls)
        if n == 0 and t != self.T:
            raise _LoopError(f"the first model call was at t = {t}, expected t = T = {self.T}", HINT_LOOP_DIRECTION)
        if n > 0 and t != self.calls[-1][0] - 1:
            if not 1 <= t <= self.T:
                raise _LoopError(f"the model was called at t = {t}, outside 1..T = 1..{self.T}", HINT_LOOP_DIRECTION)
            raise _LoopError(
                f"after t = {self.calls[-1][0]} the model was called at t = {t}, expected t = {self.calls[-1][0] - 1}",
                "call the model once per step, with t counting down by one: " + HINT_LOOP_DIRECTION,
            )
        eps = self.model(x_t, t)
        self.calls.append((t, x_t.detach().clone(), eps.detach().clone()))
        return eps


@dataclass
class _LoopCase:
    name: str
    schedule: Schedule
    shape: tuple[int, ...]
    snapshot_timesteps: tuple[int, ...]
    seed: int
    target: Tensor
    model_noise: float  # 0: the exact oracle, so the run must end on the target


def _loop_cases() -> list[_LoopCase]:
    book = _default_schedule()
    short = cosine_schedule(10)
    specs = [
        ("oracle, one image, T = 1000", book, IMAGE, (1000, 900, 500, 100, 2, 1, 0), 0.0),
        ("oracle with error 0.3, batch, T = 1000", book, BATCH, (1000, 500, 0), 0.3),
        ("oracle, one image, a short schedule T = 10", short, IMAGE, (10, 7, 3, 1, 0), 0.0),
    ]
    cases = []
    for k, (name, s, shape, snapshot_timesteps, noise) in enumerate(specs):
        target = _images(300 + k, shape)[0]
        cases.append(_LoopCase(name, s, shape, snapshot_timesteps, 400 + k, target, noise))
    return cases


def _make_model(case: _LoopCase) -> Callable:
    oracle = target_oracle(case.target, case.schedule)
    if not case.model_noise:
        return oracle
    return noisy_model(oracle, case.model_noise, torch.Generator().manual_seed(case.seed + 1000))


HINT_SNAPSHOTS = (
    "keep a copy of x at each asked timestep: x_T before the loop if T is asked, then after the step from t "
    "store x under t - 1 (so under 0 after the last step); store x.clone(), not x"
)


def _check_snapshots(snapshots: object, xs: dict[int, Tensor], case: _LoopCase, exercise: str) -> None:
    """The returned snapshots hold exactly the asked timesteps, each equal to x at that time (``xs``)."""
    __tracebackhide__ = True
    asked, T = list(case.snapshot_timesteps), case.schedule.T
    if not isinstance(snapshots, Mapping):
        what = "None" if snapshots is None else f"a {type(snapshots).__name__}"
        raise CheckFailed(exercise, case.name, f"snapshots is {what}", "return snapshots as a dict {t: x_t}")
    try:
        keys = {int(k): k for k in snapshots}
    except (TypeError, ValueError, RuntimeError):
        raise CheckFailed(
            exercise, case.name, f"snapshots has keys {list(snapshots)}", "use the int timestep t as the key"
        ) from None
    missing = [t for t in asked if t not in keys]
    if missing:
        got = sorted(keys, reverse=True)
        raise CheckFailed(
            exercise, case.name, f"snapshots lacks t = {missing[0]} (asked for {asked}, got {got})", HINT_SNAPSHOTS
        )
    extra = sorted(set(keys) - set(asked), reverse=True)
    if extra:
        raise CheckFailed(
            exercise,
            case.name,
            f"snapshots has t = {extra[0]}, which was not asked for (asked for {asked})",
            "keep x only at the timesteps in snapshot_timesteps",
        )
    for t in asked:
        name = f"snapshots[{t}]"
        got = _as_tensor(snapshots[keys[t]], case.shape, name, exercise, case.name, finite=False)
        tol = 1e-6 * (1 + xs[t].abs())
        if _close(got, xs[t], tol):
            continue
        hint = HINT_SNAPSHOTS
        if t > 0 and _close(got, xs[t - 1], tol):
            hint = f"{name} holds x_{t - 1}, one step too late; " + HINT_SNAPSHOTS
        elif t < T and _close(got, xs[t + 1], tol):
            hint = f"{name} holds x_{t + 1}, one step too early; " + HINT_SNAPSHOTS
        elif _close(got, xs[0], tol):
            hint = f"{name} holds the final x_0: was x changed in place after it was stored? " + HINT_SNAPSHOTS
        raise CheckFailed(exercise, case.name, _problem(name, got, xs[t], tol) + f" (x at t = {t})", hint)


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
    _check_callable(fn)
    exercise = "sampling_loop"
    signature = "fn(model, schedule, shape, snapshot_timesteps, generator) should return (x_0, snapshots)"
    for case in _loop_cases():
        s, T = case.schedule, case.schedule.T
        model = _Recorder(_make_model(case), T)
        try:
            out = fn(model, s, case.shape, list(case.snapshot_timesteps), torch.Generator().manual_seed(case.seed))
        except _LoopError as err:
            raise CheckFailed(exercise, case.name, err.problem, err.hint) from None
        except Exception as err:
            hint = signature
            if isinstance(err, (IndexError, ValueError)) and "0" in str(err):
                hint = HINT_LOOP_DIRECTION
            raise CheckFailed(
                exercise, case.name, f"your function raised {type(err).__name__}: {err}", _todo(err, hint)
            ) from err
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            what = "None" if out is None else f"a {type(out).__name__}"
            if isinstance(out, (tuple, list)):
                what += f" of length {len(out)}"
            raise CheckFailed(exercise, case.name, f"the function returned {what}", "return the pair (x_0, snapshots)")
        out, snapshots = out
        # finiteness is left to the replay below, which finds the step where the values blew up
        got = _as_tensor(out, case.shape, "x_0", exercise, case.name, finite=False)
        calls = model.calls
        if len(calls) != T:
            last = calls[-1][0] if calls else None
            raise CheckFailed(
                exercise,
                case.name,
                f"the model was called {len(calls)} times (last at t = {last}), expected T = {T} calls",
                "call the model once per step for t = T, T - 1, ..., 1; " + HINT_LOOP_DIRECTION,
            )
        replay = torch.Generator().manual_seed(case.seed)
        x_T = torch.randn(case.shape, generator=replay)
        if calls[0][1].shape != x_T.shape or not _close(calls[0][1], x_T, 1e-6):
            raise CheckFailed(
                exercise,
                case.name,
                "the first model call did not receive x_T, the first draw from the generator",
                "draw x_T = torch.randn(shape, generator=generator) first, before any z, and start the loop from it",
            )
        for i, (t, x, eps) in enumerate(calls):
            # at t = 1 the reference adds nothing; the next draw is what a loop that wrongly adds noise would use
            z = torch.randn(x.shape, generator=replay)
            nxt = calls[i + 1][1] if i + 1 < T else got
            expected, variants = _step_variants(x, t, eps, s, z)
            tol = _step_tol(expected)
            if not _close(nxt, expected, tol):
                default = (
                    f"compare the step with {REVERSE_FORMULA}; draw z = torch.randn(x.shape, generator=generator) "
                    "once per step for t > 1 and nothing else from the generator"
                )
                if T != 1000:
                    default += "; use the schedule passed in (schedule.T, schedule.alpha, ...), not globals"
                step = f"x_{t - 1}" if t > 1 else "the returned x_0"
                raise CheckFailed(
                    exercise,
                    f"{case.name}, step t = {t}",
                    _problem(step, nxt, expected, tol),
                    _diagnose(nxt.double(), tol, variants, default),
                )
        if not case.model_noise and not _close(got, case.target, 1e-4 * (1 + case.target.abs())):
            raise CheckFailed(
                exercise,
                case.name,
                _problem("x_0", got, case.target, 1e-4 * (1 + case.target.abs())) + " (the oracle's target)",
                "with the exact oracle the last step lands on the target; " + HINT_Z_AT_1,
            )
        xs = {t: x for t, x, _ in calls} | {0: got}
        _check_snapshots(snapshots, xs, case, exercise)
    return CheckResult(exercise, 3)
