r"""Self-checks for the book's exercises.

Each ``check_*`` runs the reader's function on several fixed, seeded cases and compares
it with the package's reference implementation:

- :func:`check_coefficients`: ``fn(schedule, t) -> (scale, eps_coef, sigma)`` (Exercise 1);
- :func:`check_oracle`: ``fn(x_t, t, x0, schedule) -> eps``, the oracle's noise (Exercise 2);
- :func:`check_reverse_step`: ``fn(x_t, t, eps, schedule, z) -> x_{t-1}`` (Exercise 2);
- :func:`check_predict_x0`: ``fn(x_t, t, eps, schedule) -> x0_hat`` (Exercise 3);
- :func:`check_sampling_loop`: ``fn(model, schedule, shape, snapshot_timesteps, generator) -> (x_0, snapshots)``
  (Exercise 4);
- :func:`check_ddim_step`: ``fn(x_t, t, t_prev, eps, schedule, eta, z) -> x_{t_prev}``, one DDIM step
  (Exercise 4, beyond Algorithm 2).

On success a check returns a :class:`CheckResult`, which shows as one line in a
notebook (``✓ reverse_step: all 9 cases match the reference``). On the first wrong
value it raises :class:`CheckFailed`, an ``AssertionError``, whose message names the
case, the expected and the received value and gives a hint; the lesson's common
mistakes are recognised and named. The checks never pass silently: a result you can
see, or an error that stops the notebook at the exercise to fix.

Each exercise has its module, with its cases and its table of named mistakes, as data; the
loop that runs the reader's function on them and judges each answer is written once, in
``_harness`` (``run_cases``), and the inputs the checks share are in ``_cases``.
"""

from __future__ import annotations

from ._harness import CheckFailed, CheckResult
from .coefficients import check_coefficients
from .ddim_step import check_ddim_step
from .oracle import check_oracle
from .predict_x0 import check_predict_x0
from .reverse_step import check_reverse_step
from .sampling_loop import check_sampling_loop

__all__ = [
    "CheckFailed",
    "CheckResult",
    "check_coefficients",
    "check_ddim_step",
    "check_oracle",
    "check_predict_x0",
    "check_reverse_step",
    "check_sampling_loop",
]

# Shown, documented and raised under the name the reader imports, not the module that defines them.
for _name in __all__:
    globals()[_name].__module__ = __name__
del _name
