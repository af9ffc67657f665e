"""What every self-check shares: its result, its failure, and how it reads and judges an answer.

A check calls the reader's function with :func:`call_reader`, reads what came back with
:func:`read_tensor` (or :func:`read_tuple`), compares it with the reference with
:func:`within`, and on a mismatch reports the first wrong element (:func:`first_mismatch`)
and the hint of the named mistake that reproduces the answer (:func:`name_the_mistake`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

#: A check's table of the lesson's mistakes: what each one computes, and the hint that names it.
Mistakes = list[tuple[Tensor, str]]

HINT_TODO = "a TODO is still `...`: replace each `...` with your code"
HINT_RETURN = "did the function forget to `return` its result?"


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


def within(got: Tensor, expected: Tensor, tol: Tensor | float) -> bool:
    """Whether every element of ``got`` is within ``tol`` of ``expected`` (compared in float64)."""
    return bool(((got.double() - expected.double()).abs() <= tol).all())


def first_mismatch(name: str, got: Tensor, expected: Tensor, tol: Tensor | float) -> str:
    """``"expected name[i, j] = a, got b"`` for the first element outside the tolerance."""
    bad = (got.double() - expected.double()).abs() > tol
    index = tuple(int(i) for i in torch.nonzero(bad)[0]) if expected.dim() else ()
    where = f"{name}[{', '.join(map(str, index))}]" if index else name
    return f"expected {where} = {float(expected[index]):.6g}, got {float(got[index]):.6g}"


def name_the_mistake(got: Tensor, tol: Tensor | float, mistakes: Mistakes, default: str) -> str:
    """The hint of the first mistake in the table that reproduces ``got``, else ``default``."""
    for value, hint in mistakes:
        # each mistake is compared with its own scale: a mistake can make the values huge
        if value.shape == got.shape and torch.isfinite(value).all() and within(got, value, tol + 1e-3 * value.abs()):
            return hint
    return default
