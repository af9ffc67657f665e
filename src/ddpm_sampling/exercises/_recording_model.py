"""A model wrapper that records each call of the reader's sampling loop and stops a loop that goes wrong."""

from __future__ import annotations

import numbers
from collections.abc import Callable

import numpy as np
from torch import Tensor

from .._checks import SIGNED_INTEGERS

HINT_LOOP_DIRECTION = (
    "sampling runs backwards, from t = T down to t = 1: for t in range(schedule.T, 0, -1). "
    "There is no reverse step at t = 0, and counting up from 0 starts where the image should end"
)


class LoopError(Exception):
    """Raised by the recording model to stop a loop that went wrong, with a hint."""

    def __init__(self, problem: str, hint: str):
        super().__init__(problem)
        self.problem, self.hint = problem, hint


class RecordingModel:
    """Wraps ``model`` and records every (t, x_t, eps) the reader's loop asks for, in order."""

    def __init__(self, model: Callable, T: int):
        self.model, self.T = model, T
        self.calls: list[tuple[int, Tensor, Tensor]] = []

    def __call__(self, x_t: Tensor, t: int | Tensor) -> Tensor:
        t = self._read_call(x_t, t)
        eps = self.model(x_t, t)
        self.calls.append((t, x_t.detach().clone(), eps.detach().clone()))
        return eps

    def _read_call(self, x_t: object, t: object) -> int:
        """The int t of this call, or a LoopError if the call is not the next one of the loop."""
        # an int as the package reads one: a Python or NumPy integer (np.arange's), or a one-element
        # integer tensor; never a bool or a float
        integral = isinstance(t, numbers.Integral) and not isinstance(t, (bool, np.bool_))
        if integral or (isinstance(t, Tensor) and t.numel() == 1 and t.dtype in SIGNED_INTEGERS):
            t = int(t)
        if isinstance(t, bool) or not isinstance(t, int):
            raise LoopError(f"the model was called with t = {t!r}", "call model(x, t) with t an int in 1..T")
        if not isinstance(x_t, Tensor):
            raise LoopError(f"the model was called with x = {type(x_t).__name__}", "call model(x, t) with the tensor x")
        if not self.calls and t != self.T:
            raise LoopError(f"the first model call was at t = {t}, expected t = T = {self.T}", HINT_LOOP_DIRECTION)
        previous = self.calls[-1][0] if self.calls else t + 1
        if t == previous - 1:
            return t
        if not 1 <= t <= self.T:
            raise LoopError(f"the model was called at t = {t}, outside 1..T = 1..{self.T}", HINT_LOOP_DIRECTION)
        raise LoopError(
            f"after t = {previous} the model was called at t = {t}, expected t = {previous - 1}",
            "call the model once per step, with t counting down by one: " + HINT_LOOP_DIRECTION,
        )
