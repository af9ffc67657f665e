"""What every self-check shares: its result, its failure, and the loop that runs and judges the reader's function.

An exercise states its cases as data: each :class:`Case` holds the arguments of one call and
the :class:`Expected` values, each computed first from a copy of the schedule the reader never
sees, with its tolerance and the exercise's table of named mistakes. :func:`run_cases` then
calls the reader's function on each case (:func:`call_reader`), reads what came back
(:func:`read_tuple`, :func:`read_tensor`) and judges each value (:func:`judge`): it must be
within the one float32 tolerance (:func:`rounding_tolerance`) of the reference; if not, the
failure names the first wrong element (:func:`first_mismatch`) and the mistake that reproduces
the answer better than the right answer does (:func:`name_the_mistake`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

#: A check's table of the lesson's mistakes: what each one computes, and the hint that names it.
Mistakes = list[tuple[Tensor, str]]

HINT_TODO = "a TODO is still `...`: replace each `...` with your code"
HINT_RETURN = "did the function forget to `return` its result?"
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


# --- the cases and the loop that judges them ------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    """One value the reader's function must return, and how a wrong one is explained.

    Attributes:
        name: the value's name in messages, e.g. ``"x_{t-1}"``.
        value: the reference, in float64, computed before the reader's function runs.
        tol: how far a correct float32 answer may be from it (:func:`rounding_tolerance`).
        mistakes: what each of the lesson's mistakes gives instead, with the hint that names it.
        hint: the hint for a wrong value that no named mistake explains.
    """

    name: str
    value: Tensor
    tol: Tensor | float
    mistakes: Mistakes
    hint: str


@dataclass(frozen=True)
class Case:
    """One call of the reader's function: its name in messages, its arguments and what it must return.

    ``expected`` holds one value for a function that returns a tensor, or one per item of the
    tuple it returns. The arguments carry the reader's own copies (of the schedule, of x_t):
    whatever the function does to them cannot move the expected values.
    """

    name: str
    args: tuple
    expected: tuple[Expected, ...]


def judge(got: Tensor, expected: Expected, exercise: str, case: str) -> None:
    """A CheckFailed unless ``got`` is within the tolerance of the reference; it names the best-matching mistake."""
    __tracebackhide__ = True
    if not within(got, expected.value, expected.tol):
        hint = name_the_mistake(got, expected.value, expected.tol, expected.mistakes, expected.hint)
        raise CheckFailed(exercise, case, first_mismatch(expected.name, got, expected.value, expected.tol), hint)


def run_cases(exercise: str, fn: Callable, cases: list[Case], call_hint: str) -> CheckResult:
    """Call ``fn`` on each case in turn and judge every value it returns; the first wrong one fails the check.

    ``call_hint`` is the hint for an exception that ``fn`` raises. A function with several
    expected values must return them as a tuple (or list) of that length.
    """
    __tracebackhide__ = True
    for case in cases:
        out = call_reader(fn, case.args, exercise, case.name, call_hint)
        if len(case.expected) == 1:
            values = (out,)
        else:
            names = ", ".join(e.name for e in case.expected)
            values = read_tuple(out, len(case.expected), exercise, case.name, f"return a tuple ({names})")
        for value, expected in zip(values, case.expected):
            got = read_tensor(value, tuple(expected.value.shape), expected.name, exercise, case.name)
            judge(got, expected, exercise, case.name)
    return CheckResult(exercise, len(cases))
