"""What every self-check shares: its result, its failure, and how it reads and judges an answer.

A check calls the reader's function with :func:`call_reader`, reads what came back with
:func:`read_tensor` (or :func:`read_tuple`), compares it with the reference with
:func:`within`, and on a mismatch reports the first wrong element (:func:`first_mismatch`)
and the hint of the named mistake that reproduces the answer (:func:`name_the_mistake`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
from torch import Tensor

from ..schedule import Schedule

#: A check's table of the lesson's mistakes: what each one computes, and the hint that names it.
Mistakes = list[tuple[Tensor, str]]

HINT_TODO = "a TODO is still `...`: replace each `...` with your code"
HINT_RETURN = "did the function forget to `return` its result?"
HINT_GLOBAL = "use the schedule passed in (schedule.T, schedule.alpha, ...), not a global one"
HINT_PRECISION = (
    "the answer is right to about three digits but not to float32 rounding: is it computed in float16 or "
    "bfloat16, or with a rounded constant? Compute in float32 (the inputs' dtype) from the schedule's numbers"
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


def pristine(schedule: object) -> tuple[Schedule, Callable[[], Schedule]]:
    """The schedule a check computes its expected values from, and a maker of fresh copies for the reader.

    Both are copies taken before the reader's function runs: writing into the schedule it is given,
    or ignoring it for a global one, cannot move what the check expects.
    """
    from ..schedule import Schedule

    if schedule is None:
        from ._cases import book_schedule

        schedule = book_schedule()
    if not isinstance(schedule, Schedule):
        raise ValueError(f"schedule must be a Schedule (from cosine_schedule) or None, got {type(schedule).__name__}")
    reference = replace(schedule)  # the constructor copies every tensor
    return reference, lambda: replace(reference)


def image_checks(
    schedule: object, image_ts: Callable[[int], tuple[int, ...]]
) -> list[tuple[Schedule, Callable, int, tuple, str, str]]:
    """The cases of a check on images: ``(reference schedule, maker of the reader's copies, t, shape, name, note)``
    for each of ``image_ts(T)`` on ``schedule`` (see ``_cases.image_cases``), then one on a short schedule,
    whose note says to use the schedule passed in."""
    from ._cases import IMAGE, SHORT_t, describe, describe_short, image_cases, short_schedule

    s, fresh = pristine(schedule)
    short, fresh_short = pristine(short_schedule())
    cases = [(s, fresh, t, shape, describe(t, shape), "") for t, shape in image_cases(s, image_ts(s.T))]
    return [*cases, (short, fresh_short, SHORT_t, IMAGE, describe_short(IMAGE), HINT_GLOBAL)]


def with_note(hint: str, note: str) -> str:
    return f"{hint}; {note}" if note else hint


def require_callable(fn: object) -> None:
    if not callable(fn):
        raise ValueError(f"fn must be the function to check (a callable), got {fn!r} ({type(fn).__name__})")


def todo_or(err: Exception, hint: str) -> str:
    """``HINT_TODO`` when an error comes from a ``...`` left in place (Python's ``ellipsis``), else ``hint``."""
    return HINT_TODO if "ellipsis" in str(err) else hint


def raised(exercise: str, case: str, err: Exception, hint: str) -> CheckFailed:
    """The failure for an exception raised by the reader's function."""
    return CheckFailed(exercise, case, f"your function raised {type(err).__name__}: {err}", todo_or(err, hint))


def call_reader(fn: Callable, args: tuple, exercise: str, case: str, hint: str):
    """Call the reader's function; an exception it raises becomes a CheckFailed."""
    __tracebackhide__ = True
    try:
        return fn(*args)
    except CheckFailed:
        raise
    except Exception as err:
        raise raised(exercise, case, err, hint) from err


def read_tuple(value: object, length: int, exercise: str, case: str, hint: str) -> tuple | list:
    """The reader's return value as a tuple (or list) of ``length`` items, or a CheckFailed saying what it was."""
    __tracebackhide__ = True
    if isinstance(value, (tuple, list)) and len(value) == length:
        return value
    what = "None" if value is None else f"a {type(value).__name__}"
    if isinstance(value, (tuple, list)):
        what += f" of length {len(value)}"
    raise CheckFailed(exercise, case, f"the function returned {what}", hint)


def read_tensor(
    value: object, shape: tuple[int, ...], what: str, exercise: str, case: str, finite: bool = True
) -> Tensor:
    """The reader's return value as a float tensor of ``shape``, or a CheckFailed saying why not."""
    __tracebackhide__ = True
    if value is None:
        raise CheckFailed(exercise, case, f"{what} is None", HINT_RETURN)
    if value is Ellipsis:
        raise CheckFailed(exercise, case, f"{what} is `...`", HINT_TODO)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = torch.tensor(float(value))
    if not isinstance(value, Tensor):
        raise CheckFailed(
            exercise, case, f"{what} is a {type(value).__name__}", f"return a torch.Tensor of shape {shape}"
        )
    if tuple(value.shape) != tuple(shape):
        raise CheckFailed(
            exercise, case, f"{what} has shape {tuple(value.shape)}, expected {tuple(shape)}", _shape_hint(value, shape)
        )
    value = value.detach().cpu() if value.dtype.is_floating_point else value.detach().cpu().to(torch.float32)
    if finite and not torch.isfinite(value).all():
        raise CheckFailed(
            exercise,
            case,
            f"{what} holds non-finite values (NaN or inf)",
            "look for a division by something that is 0 at this t, or a sqrt of a negative number",
        )
    return value


def _shape_hint(value: Tensor, shape: tuple[int, ...]) -> str:
    try:
        torch.broadcast_shapes(tuple(value.shape), tuple(shape))
        note = "; it broadcasts, but the result must have exactly this shape"
    except RuntimeError:
        note = ""
    return f"keep the shape of the input{note}; per-timestep numbers are scalars that multiply whole images"


# --- the tolerance, from float32 rounding ----------------------------------------------------------

#: float32's unit roundoff: the schedule is stored in float32, and so is every input a check passes.
U = 2.0**-24


def rounding_tolerance(terms: Tensor, beta_t: Tensor, alpha_t: Tensor) -> Tensor:
    r"""How far a correct float32 answer may be from the float64 reference: the one tolerance of every check.

    ``terms`` is the sum of the magnitudes of the parts the formula adds up (for a reverse step
    :math:`|x_t/\sqrt{\alpha_t}| + |\text{eps term}| + |\sigma_t z|`). Each part is off by a few
    roundings of itself, ``8 * U`` of it. A coefficient formed as 1 minus a float32 number near 1
    (:math:`1-\bar\alpha_t`, :math:`1-\alpha_t`, or :math:`\alpha_t = 1-\beta_t` near T) keeps
    only the absolute rounding of that number, :math:`U`, so it is off by up to ``2 * U`` over the
    smallest of :math:`\beta_t \le 1-\bar\alpha_t` and :math:`\alpha_t` of itself: 2.9e-3 at t = 1
    of the book's schedule, where :math:`\beta_1` and :math:`1-\bar\alpha_1` (equal in exact
    arithmetic) differ by 5e-4 of their value. Every correct way of writing a formula (with
    :math:`1-\bar\alpha_t` or :math:`\beta_t`, the posterior-mean form of the step, float32 or
    float64) lands inside it; each named mistake lands outside.
    """
    near_one = torch.minimum(beta_t.double(), alpha_t.double())
    return (8 * U + 2 * U / near_one) * terms.double() + 1e-7


def within(got: Tensor, expected: Tensor, tol: Tensor | float) -> bool:
    """Whether every element of ``got`` is within ``tol`` of ``expected`` (compared in float64)."""
    return bool(((got.double() - expected.double()).abs() <= tol).all())


def first_mismatch(name: str, got: Tensor, expected: Tensor, tol: Tensor | float) -> str:
    """``"expected name[i, j] = a, got b"`` for the first element outside the tolerance."""
    bad = (got.double() - expected.double()).abs() > tol
    index = tuple(int(i) for i in torch.nonzero(bad)[0]) if expected.dim() else ()
    where = f"{name}[{', '.join(map(str, index))}]" if index else name
    return f"expected {where} = {float(expected[index]):.6g}, got {float(got[index]):.6g}"


def _distance(got: Tensor, value: Tensor, tol: Tensor | float) -> float:
    """How far ``got`` is from ``value``, in units of the tolerance (its worst element)."""
    return float(((got.double() - value.double()).abs() / tol).max())


def name_the_mistake(got: Tensor, expected: Tensor, tol: Tensor, mistakes: Mistakes, default: str) -> str:
    """The hint of the mistake that reproduces ``got`` (within the tolerance, measured at the mistake's own
    scale) better than the reference ``expected`` does; else ``default``, or, for an answer right to about
    three digits, the hint that it was computed at a lower precision."""
    best, hint = math.inf, default
    for value, text in mistakes:
        if value.shape != got.shape or not torch.isfinite(value).all():
            continue
        # each mistake is compared with its own scale: a mistake can make the values huge
        scale = tol + 1e-3 * value.abs()
        d = _distance(got, value, scale)
        if d <= 1 and d < _distance(got, expected, scale) and d < best:
            best, hint = d, text
    if best == math.inf and within(got, expected, tol + 2e-3 * expected.abs()):
        return HINT_PRECISION
    return hint
