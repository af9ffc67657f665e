"""The exercises' self-checks: they pass correct solutions and catch the lesson's common mistakes.

The correct solutions here are written from the formulas with the schedule's tensors,
not with the package's step functions, so that a check that compared the package with
itself would still be caught.
"""

from __future__ import annotations

import pytest
import torch

import ddpm_sampling.exercises
from ddpm_sampling import (
    cosine_schedule,
    ddim_sample,
    ddpm_sample,
    predict_eps,
    predict_x0,
    reverse_coefficients,
    reverse_step,
    target_oracle,
)
from ddpm_sampling.exercises import (
    CheckFailed,
    CheckResult,
    check_coefficients,
    check_ddim_step,
    check_oracle,
    check_predict_x0,
    check_reverse_step,
    check_sampling_loop,
)

# ---------------------------------------------------------------------------- correct solutions


def coefficients(schedule, t):
    return 1 / schedule.alpha[t].sqrt(), schedule.beta[t] / (1 - schedule.alpha_bar[t]).sqrt(), schedule.beta[t].sqrt()


def oracle_noise(x_t, t, x0, schedule):
    return (x_t - schedule.alpha_bar[t].sqrt() * x0) / (1 - schedule.alpha_bar[t]).sqrt()


def step(x_t, t, eps, schedule, z):
    scale, coef, sigma = coefficients(schedule, t)
    noise = sigma * z if t > 1 else 0.0
    return scale * (x_t - coef * eps) + noise


def one_shot(x_t, t, eps, schedule):
    return (x_t - (1 - schedule.alpha_bar[t]).sqrt() * eps) / schedule.alpha_bar[t].sqrt()


def ddim(x_t, t, t_prev, eps, schedule, eta, z):
    ab, ab_prev = schedule.alpha_bar[t], schedule.alpha_bar[t_prev]
    sigma = eta * ((1 - ab_prev) / (1 - ab) * (1 - ab / ab_prev)).sqrt()
    x0_hat = (x_t - (1 - ab).sqrt() * eps) / ab.sqrt()
    return ab_prev.sqrt() * x0_hat + (1 - ab_prev - sigma**2).sqrt() * eps + sigma * z


def noise_always(x_t, t, eps, schedule, z):
    """The step with the lesson's first mistake: sigma_t z is added at t = 1 too."""
    scale, coef, sigma = coefficients(schedule, t)
    return scale * (x_t - coef * eps) + sigma * z


def loop(model, schedule, shape, snapshot_timesteps, generator):
    x = torch.randn(shape, generator=generator)
    snapshots = {schedule.T: x.clone()} if schedule.T in snapshot_timesteps else {}
    for t in range(schedule.T, 0, -1):
        eps = model(x, t)
        z = torch.randn(x.shape, generator=generator) if t > 1 else torch.zeros_like(x)
        x = step(x, t, eps, schedule, z)
        if t - 1 in snapshot_timesteps:
            snapshots[t - 1] = x.clone()
    return x, snapshots


def make_loop(*, order=None, step_fn=step, draw=None, start=None):
    """A sampling loop with one thing changed: the timesteps, the step, how z or how x_T is drawn."""

    def sample(model, schedule, shape, snapshot_timesteps, generator):
        x = start(shape, generator) if start else torch.randn(shape, generator=generator)
        snapshots = {schedule.T: x.clone()} if schedule.T in snapshot_timesteps else {}
        for t in order(schedule.T) if order else range(schedule.T, 0, -1):
            eps = model(x, t)
            z = draw(x, t, generator) if draw else torch.randn(x.shape, generator=generator)
            x = step_fn(x, t, eps, schedule, z)
            if t - 1 in snapshot_timesteps:
                snapshots[t - 1] = x.clone()
        return x, snapshots

    return sample


def with_snapshots(store):
    """The correct loop, but snapshots kept by ``store(snapshots, t, x_before, x_after, asked)``."""

    def sample(model, schedule, shape, snapshot_timesteps, generator):
        x, snapshots = torch.randn(shape, generator=generator), {}
        for t in range(schedule.T, 0, -1):
            z = torch.randn(x.shape, generator=generator) if t > 1 else torch.zeros_like(x)
            before, x = x, step(x, t, model(x, t), schedule, z)
            store(snapshots, t, before, x, snapshot_timesteps)
        return x, snapshots

    return sample


def failure(check, fn) -> CheckFailed:
    with pytest.raises(CheckFailed) as info:
        check(fn)
    return info.value


# ---------------------------------------------------------------------------- passing


@pytest.mark.parametrize(
    ("check", "fn", "name"),
    [
        (check_coefficients, coefficients, "coefficients"),
        (check_coefficients, lambda s, t: tuple(reverse_coefficients(s, t)), "coefficients"),
        (check_oracle, oracle_noise, "oracle"),
        (check_oracle, predict_eps, "oracle"),
        (check_oracle, lambda x, t, x0, s: target_oracle(x0, s)(x, t), "oracle"),
        (check_reverse_step, step, "reverse_step"),
        (check_reverse_step, lambda x, t, e, s, z: reverse_step(x, t, e, s, z=z), "reverse_step"),
        (check_predict_x0, one_shot, "predict_x0"),
        (check_predict_x0, predict_x0, "predict_x0"),
        (check_ddim_step, ddim, "ddim_step"),
        (check_sampling_loop, loop, "sampling_loop"),
        (
            check_sampling_loop,
            lambda m, s, shape, ts, g: ddpm_sample(m, s, shape=shape, snapshot_timesteps=ts, generator=g),
            "sampling_loop",
        ),
    ],
)
def test_a_correct_solution_passes_with_a_one_line_result(check, fn, name):
    result = check(fn)
    assert isinstance(result, CheckResult) and result
    assert result.exercise == name and result.cases >= 3
    assert str(result) == repr(result) == f"✓ {name}: all {result.cases} cases match the reference"


def test_coefficients_pass_on_a_floats_only_solution():
    # a reader may return Python floats; the check must accept them for an int t
    def floats(s, t):
        if isinstance(t, int):
            return tuple(float(v) for v in coefficients(s, t))
        return coefficients(s, t)

    assert check_coefficients(floats)


def test_a_loop_that_draws_z_at_t_1_but_zeroes_it_passes():
    # nothing is drawn after the last step, so an extra draw at t = 1 changes nothing
    def draw_then_zero(x, t, g):
        z = torch.randn(x.shape, generator=g)
        return z if t > 1 else torch.zeros_like(z)

    assert check_sampling_loop(make_loop(draw=draw_then_zero))


# ---------------------------------------------------------------------------- the lesson's mistakes


def test_alpha_bar_in_the_scaling_factor_is_named_in_the_coefficients():
    err = failure(check_coefficients, lambda s, t: (1 / s.alpha_bar[t].sqrt(), *coefficients(s, t)[1:]))
    assert isinstance(err, AssertionError)
    assert str(err).startswith("✗ coefficients at t = 50: expected scale = 1.00014, got 1.00402")
    assert "alpha_bar_t is the product of all alphas" in err.hint


def test_alpha_bar_in_the_scaling_factor_is_named_in_the_reverse_step():
    def wrong(x, t, eps, s, z):
        return 1 / s.alpha_bar[t].sqrt() * (x - coefficients(s, t)[1] * eps) + (s.beta[t].sqrt() * z if t > 1 else 0)

    err = failure(check_reverse_step, wrong)
    assert err.case.startswith("t = 500")
    assert "the scaling factor is 1/sqrt(alpha_t)" in str(err) and "alpha_bar" in err.hint


def test_z_not_zero_at_t_1_is_named_in_the_reverse_step():
    err = failure(check_reverse_step, noise_always)
    assert err.case.startswith("t = 1 ")
    assert "expected x_{t-1}[0, 0, 0] = " in err.problem
    assert "at t = 1 no noise is added" in str(err) and "z = 0" in err.hint


def test_dividing_by_sqrt_one_minus_alpha_bar_is_named_in_the_one_shot_estimate():
    err = failure(
        check_predict_x0, lambda x, t, e, s: (x - (1 - s.alpha_bar[t]).sqrt() * e) / (1 - s.alpha_bar[t]).sqrt()
    )
    assert err.case.startswith("t = 1 ")
    assert "divide by sqrt(alpha_bar_t), not by sqrt(1 - alpha_bar_t)" in err.hint


def alpha_bar(s, t):
    return s.alpha_bar[t]


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda x, t, x0, s: (x - s.alpha[t].sqrt() * x0) / (1 - s.alpha[t]).sqrt(), "use alpha_bar_t, not alpha_t"),
        (
            lambda x, t, x0, s: (x - alpha_bar(s, t - 1).sqrt() * x0) / (1 - alpha_bar(s, t - 1)).sqrt(),
            "schedule.alpha_bar[t], not at t - 1",
        ),
        (lambda x, t, x0, s: (x - alpha_bar(s, t) * x0) / (1 - alpha_bar(s, t)), "both coefficients are square roots"),
        (
            lambda x, t, x0, s: (x - alpha_bar(s, t).sqrt() * x0) / (1 - alpha_bar(s, t)),
            "1 - alpha_bar_t is the noise's variance",
        ),
        (
            lambda x, t, x0, s: (x - alpha_bar(s, t).sqrt() * x0) / alpha_bar(s, t).sqrt(),
            "divide by sqrt(1 - alpha_bar_t), the noise's coefficient, not sqrt(alpha_bar_t)",
        ),
        (
            lambda x, t, x0, s: (x - (1 - alpha_bar(s, t)).sqrt() * x0) / alpha_bar(s, t).sqrt(),
            "the two coefficients are swapped",
        ),
        (lambda x, t, x0, s: (x + alpha_bar(s, t).sqrt() * x0) / (1 - alpha_bar(s, t)).sqrt(), "do not add it"),
        (lambda x, t, x0, s: -oracle_noise(x, t, x0, s), "the sign is reversed"),
        (lambda x, t, x0, s: x - alpha_bar(s, t).sqrt() * x0, "divide by sqrt(1 - alpha_bar_t)"),
    ],
)
def test_the_oracles_formula_mistakes_are_named(wrong, hint):
    err = failure(check_oracle, wrong)
    assert err.case == "t = 800 (image of shape (1, 8, 8))" and err.problem.startswith("expected eps[0, 0, ")
    assert hint in err.hint


def test_an_oracle_right_on_one_image_but_not_on_a_batch_is_caught():
    def first_image_only(x_t, t, x0, schedule):
        eps = oracle_noise(x_t, t, x0, schedule)
        return eps if x_t.dim() == 3 else eps[:1].expand_as(eps)

    err = failure(check_oracle, first_image_only)
    assert err.case == "t = 800 (batch of shape (3, 1, 8, 8))" and "eps[1, 0, 0, 0]" in err.problem


def test_looping_from_0_up_to_T_is_named():
    err = failure(check_sampling_loop, make_loop(order=lambda T: range(0, T)))
    assert "first model call was at t = 0" in err.problem
    assert "from t = T down to t = 1" in err.hint and "range(schedule.T, 0, -1)" in err.hint


def test_looping_from_1_up_to_T_is_named():
    err = failure(check_sampling_loop, make_loop(order=lambda T: range(1, T + 1)))
    assert "first model call was at t = 1, expected t = T = 1000" in err.problem
    assert "from t = T down to t = 1" in err.hint


def test_z_not_zero_at_t_1_is_named_in_the_loop():
    err = failure(check_sampling_loop, make_loop(step_fn=noise_always))
    assert err.case.endswith("step t = 1")
    assert "the returned x_0" in err.problem and "at t = 1 no noise is added" in err.hint


def test_alpha_bar_in_the_scaling_factor_is_named_in_the_loop():
    def wrong_step(x, t, eps, s, z):
        return 1 / s.alpha_bar[t].sqrt() * (x - coefficients(s, t)[1] * eps) + (s.beta[t].sqrt() * z if t > 1 else 0)

    err = failure(check_sampling_loop, make_loop(step_fn=wrong_step))
    assert err.case.endswith("step t = 1000")
    assert "alpha_bar_t is the product of all alphas" in err.hint


# ---------------------------------------------------------------------------- other wrong answers


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda s, t: (*coefficients(s, t)[:2], s.beta[t]), "beta_t itself is the variance"),
        (lambda s, t: (coefficients(s, t)[0], s.beta[t] / (1 - s.alpha_bar[t]), s.sigma[t]), "keep the square root"),
        (lambda s, t: (*coefficients(s, t)[:2], s.sigma_tilde[t]), "beta_tilde"),
    ],
)
def test_other_coefficient_mistakes_get_their_own_hint(wrong, hint):
    assert hint in failure(check_coefficients, wrong).hint


def test_a_step_without_noise_for_t_above_1_is_named():
    err = failure(check_reverse_step, lambda x, t, e, s, z: step(x, t, e, s, torch.zeros_like(z)))
    assert "for t > 1 the step adds fresh noise" in err.hint


@pytest.mark.parametrize(
    ("check", "fn", "problem", "hint"),
    [
        (check_reverse_step, lambda x, t, e, s, z: None, "x_{t-1} is None", "forget to `return`"),
        (check_predict_x0, lambda x, t, e, s: None, "x0_hat is None", "forget to `return`"),
        (check_oracle, lambda x, t, x0, s: None, "eps is None", "forget to `return`"),
        (check_oracle, lambda x, t, x0, s: x[0], "has shape (8, 8), expected (1, 8, 8)", "keep the shape"),
        (check_sampling_loop, lambda m, s, sh, ts, g: (None, {}), "x_0 is None", "forget to `return`"),
        (check_sampling_loop, lambda m, s, sh, ts, g: None, "returned None", "return the pair (x_0, snapshots)"),
        (check_reverse_step, lambda x, t, e, s, z: x.tolist(), "x_{t-1} is a list", "return a torch.Tensor"),
        (check_reverse_step, lambda x, t, e, s, z: x[0], "has shape (8, 8), expected (1, 8, 8)", "keep the shape"),
        (check_predict_x0, lambda x, t, e, s: x.mean(), "has shape (), expected (1, 8, 8)", "keep the shape"),
        (check_coefficients, lambda s, t: None, "returned None", "return a tuple (scale, eps_coef, sigma)"),
        (check_coefficients, lambda s, t: (1.0, 2.0), "returned a tuple of length 2", "return a tuple"),
        (check_predict_x0, lambda x, t, e, s: x / 0 * 0, "non-finite", "division"),
    ],
)
def test_missing_or_misshapen_results_get_a_clear_message(check, fn, problem, hint):
    err = failure(check, fn)
    assert problem in err.problem and hint in err.hint


def test_a_todo_left_in_place_is_named():
    def skeleton(model, schedule, shape, snapshot_timesteps, generator):
        x = ...
        return x.clone(), {}

    assert failure(check_sampling_loop, skeleton).hint == "a TODO is still `...`: replace each `...` with your code"
    err = failure(check_coefficients, lambda s, t: (..., ..., ...))
    assert err.problem == "scale is `...`" and "replace each `...`" in err.hint
    assert "replace each `...`" in failure(check_predict_x0, lambda x, t, e, s: ...).hint
    assert "replace each `...`" in failure(check_oracle, lambda x, t, x0, s: (x - ...) / 2).hint


def test_the_ddim_steps_skeleton_as_given_is_named_a_todo():
    def ddim_step(x_t, t, t_prev, eps, schedule, eta, z):  # the book's skeleton
        alpha_bar, alpha_bar_prev = ...
        return ...

    assert failure(check_ddim_step, ddim_step).hint == "a TODO is still `...`: replace each `...` with your code"
    assert "x_{t_prev} is `...`" in failure(check_ddim_step, lambda *a: ...).problem


def test_an_exception_in_the_readers_function_becomes_a_failed_check():
    def broken(x, t, eps, schedule, z):
        raise NotImplementedError("TODO")

    err = failure(check_reverse_step, broken)
    assert err.problem == "your function raised NotImplementedError: TODO"
    assert isinstance(err.__cause__, NotImplementedError)


def test_a_loop_that_draws_x_T_from_the_global_generator_is_caught():
    err = failure(check_sampling_loop, make_loop(start=lambda shape, g: torch.randn(shape)))
    assert "did not receive x_T, the first draw from the generator" in err.problem
    assert "draw x_T = torch.randn(shape, generator=generator) first" in err.hint


def test_a_loop_that_draws_a_z_before_x_T_is_caught():
    def late_start(shape, g):
        torch.randn(shape, generator=g)
        return torch.randn(shape, generator=g)

    assert "before any z" in failure(check_sampling_loop, make_loop(start=late_start)).hint


def test_a_loop_that_returns_only_x_0_is_caught():
    err = failure(check_sampling_loop, lambda *args: loop(*args)[0])
    assert err.problem == "the function returned a Tensor" and "(x_0, snapshots)" in err.hint


def test_snapshots_taken_before_the_step_lack_t_0():
    def before(snapshots, t, x_before, x_after, asked):
        if t in asked:
            snapshots[t] = x_before.clone()

    err = failure(check_sampling_loop, with_snapshots(before))
    assert "snapshots lacks t = 0 (asked for [1000, 900, 500, 100, 2, 1, 0]" in err.problem
    assert "under 0 after the last step" in err.hint


def test_a_snapshot_one_step_late_is_named():
    def late(snapshots, t, x_before, x_after, asked):
        if t in asked:
            snapshots[t] = x_after.clone()
        if t == 1 and 0 in asked:
            snapshots[0] = x_after.clone()

    err = failure(check_sampling_loop, with_snapshots(late))
    assert "(x at t = 1000)" in err.problem and "snapshots[1000] holds x_999, one step too late" in err.hint


def test_snapshots_that_share_memory_with_an_updated_x_are_caught():
    def in_place(model, schedule, shape, snapshot_timesteps, generator):
        x = torch.randn(shape, generator=generator)
        snapshots = {schedule.T: x}
        for t in range(schedule.T, 0, -1):
            z = torch.randn(x.shape, generator=generator) if t > 1 else torch.zeros_like(x)
            x.copy_(step(x, t, model(x, t), schedule, z))
            if t - 1 in snapshot_timesteps:
                snapshots[t - 1] = x
        return x, snapshots

    err = failure(check_sampling_loop, in_place)
    assert "snapshots[1000] holds the final x_0" in err.hint and "x.clone()" in err.hint


def test_snapshots_must_be_exactly_the_asked_timesteps_in_a_dict():
    def every(snapshots, t, x_before, x_after, asked):
        snapshots[t - 1] = x_after.clone()

    err = failure(check_sampling_loop, with_snapshots(every))
    assert "snapshots lacks t = 1000" in err.problem

    def as_list(*args):
        x, snapshots = loop(*args)
        return x, list(snapshots.values())

    err = failure(check_sampling_loop, as_list)
    assert err.problem == "snapshots is a list" and "dict {t: x_t}" in err.hint

    def extra(model, schedule, shape, snapshot_timesteps, generator):
        x, snapshots = loop(model, schedule, shape, snapshot_timesteps, generator)
        return x, snapshots | {schedule.T - 1: x}

    assert "snapshots has t = 999, which was not asked for" in failure(check_sampling_loop, extra).problem


def test_a_loop_with_a_global_schedule_fails_on_the_short_schedule():
    book = cosine_schedule(1000)

    def global_schedule(model, schedule, shape, snapshot_timesteps, generator):
        return loop(model, book, shape, snapshot_timesteps, generator)

    err = failure(check_sampling_loop, global_schedule)
    assert "T = 10" in err.case and "first model call was at t = 1000, expected t = T = 10" in err.problem


def test_a_loop_that_draws_z_from_the_global_generator_is_caught():
    err = failure(check_sampling_loop, make_loop(draw=lambda x, t, g: torch.randn_like(x) if t > 1 else 0 * x))
    assert err.case.endswith("step t = 1000") and "generator=generator" in err.hint


def test_a_loop_that_calls_the_model_twice_per_step_is_caught():
    def twice(model, schedule, shape, snapshot_timesteps, generator):
        x = torch.randn(shape, generator=generator)
        for t in range(schedule.T, 0, -1):
            model(x, t)
            z = torch.randn(x.shape, generator=generator) if t > 1 else torch.zeros_like(x)
            x = step(x, t, model(x, t), schedule, z)
        return x, {}

    err = failure(check_sampling_loop, twice)
    assert "expected t = 999" in err.problem and "once per step" in err.hint


@pytest.mark.parametrize(
    "check",
    [check_coefficients, check_oracle, check_reverse_step, check_predict_x0, check_sampling_loop, check_ddim_step],
)
def test_something_not_callable_is_a_value_error(check):
    with pytest.raises(ValueError, match=r"fn must be the function to check \(a callable\), got 3 \(int\)"):
        check(3)


def test_a_short_schedule_works_and_a_too_short_one_is_refused():
    short = cosine_schedule(20)
    assert check_coefficients(coefficients, short) and check_reverse_step(step, short)
    assert check_predict_x0(one_shot, short) and check_oracle(oracle_noise, short)
    assert check_ddim_step(ddim, short)
    with pytest.raises(ValueError, match="schedule.T = 2 is too short"):
        check_coefficients(coefficients, cosine_schedule(2))


def test_the_checks_are_documented_and_raised_under_the_name_the_reader_imports():
    # the API reference documents them as ddpm_sampling.exercises.<name>, whichever module defines them
    for name in ddpm_sampling.exercises.__all__:
        assert getattr(ddpm_sampling.exercises, name).__module__ == "ddpm_sampling.exercises"


# ---------------------------------------------------------------------------- checks a learner can trust

BOOK = cosine_schedule(1000)  # a global schedule, as a reader's notebook may have one


def cheat_coefficients(s, t):
    for name in ("scale", "eps_coef", "sigma"):
        getattr(s, name)[t] = 7.0
    return 7.0, 7.0, 7.0


def cheat_oracle(x, t, x0, s):
    s.alpha_bar[t] = 0.5  # then the formula from the edited schedule
    return oracle_noise(x, t, x0, s)


def cheat_step(x, t, eps, s, z):
    s.alpha[t], s.alpha_bar[t], s.beta[t] = 1.0, 0.5, 0.0  # scale 1, no eps term, no noise: x_{t-1} = x_t
    return step(x, t, eps, s, z)


def cheat_one_shot(x, t, eps, s):
    s.alpha_bar[t] = 1.0  # x0_hat = x_t
    return one_shot(x, t, eps, s)


def cheat_ddim(x, t, t_prev, eps, s, eta, z):
    s.alpha_bar[t] = s.alpha_bar[t_prev] = 0.5  # sigma 0, x0_hat back at the same level: x_{t_prev} = x_t
    return ddim(x, t, t_prev, eps, s, eta, z)


def cheat_loop(model, schedule, shape, snapshot_timesteps, generator):
    schedule.beta.zero_()
    schedule.alpha.fill_(1.0)
    return loop(model, schedule, shape, snapshot_timesteps, generator)


@pytest.mark.parametrize(
    ("check", "cheat"),
    [
        (check_coefficients, cheat_coefficients),
        (check_oracle, cheat_oracle),
        (check_reverse_step, cheat_step),
        (check_predict_x0, cheat_one_shot),
        (check_sampling_loop, cheat_loop),
        (check_ddim_step, cheat_ddim),
    ],
)
def test_a_reader_that_writes_into_the_schedule_and_answers_from_it_fails(check, cheat):
    if check is check_sampling_loop:
        err = failure(check, cheat)
    else:
        mine = cosine_schedule(1000)
        before = {name: getattr(mine, name).clone() for name in ("alpha", "alpha_bar", "beta", "scale")}
        err = failure(lambda fn: check(fn, mine), cheat)
        for name, value in before.items():  # the schedule passed in is not the one the reader gets
            assert torch.equal(getattr(mine, name), value), name
    assert isinstance(err, CheckFailed)


@pytest.mark.parametrize(
    ("check", "fn"),
    [
        (check_coefficients, lambda s, t: coefficients(BOOK, t)),
        (check_oracle, lambda x, t, x0, s: oracle_noise(x, t, x0, BOOK)),
        (check_reverse_step, lambda x, t, e, s, z: step(x, t, e, BOOK, z)),
        (check_predict_x0, lambda x, t, e, s: one_shot(x, t, e, BOOK)),
        (check_ddim_step, lambda x, t, tp, e, s, eta, z: ddim(x, t, tp, e, BOOK, eta, z)),
    ],
)
def test_a_reader_that_ignores_its_schedule_for_a_global_one_fails(check, fn):
    err = failure(check, fn)
    assert err.case.startswith("t = 7 on a short schedule T = 10")
    assert "use the schedule passed in" in err.hint


def posterior_mean_step(x, t, eps, s, z):
    """DDPM eq. 7: the posterior mean from the clean-image estimate and x_t, plus sigma_t z for t > 1."""
    ab, ab_prev, a, b = s.alpha_bar[t], s.alpha_bar[t - 1], s.alpha[t], s.beta[t]
    x0_hat = (x - (1 - ab).sqrt() * eps) / ab.sqrt()
    mean = ab_prev.sqrt() * b / (1 - ab) * x0_hat + a.sqrt() * (1 - ab_prev) / (1 - ab) * x
    return mean + (s.sigma[t] * z if t > 1 else 0.0)


def float64_step(x, t, eps, s, z):
    a, ab = s.alpha.double()[t], s.alpha_bar.double()[t]
    out = (x.double() - (1 - a) / (1 - ab).sqrt() * eps.double()) / a.sqrt()
    return (out + ((1 - a).sqrt() * z.double() if t > 1 else 0.0)).float()


@pytest.mark.parametrize(
    ("check", "fn"),
    [
        (check_reverse_step, posterior_mean_step),
        (check_reverse_step, float64_step),
        (
            check_reverse_step,  # beta_t as 1 - alpha_t, and the noise coefficient as in DDPM's code
            lambda x, t, e, s, z: (
                (x - (1 - s.alpha[t]) / (1 - s.alpha_bar[t]).sqrt() * e) / s.alpha[t].sqrt()
                + ((1 - s.alpha[t]).sqrt() * z if t > 1 else 0)
            ),
        ),
        (
            check_predict_x0,  # DDPM's code: sqrt(1/alpha_bar) x_t - sqrt(1/alpha_bar - 1) eps
            lambda x, t, e, s: (1 / s.alpha_bar[t]).sqrt() * x - (1 / s.alpha_bar[t] - 1).sqrt() * e,
        ),
        (
            check_coefficients,
            lambda s, t: (
                (1 / (1 - s.beta[t])).sqrt(),
                (1 - s.alpha[t]) / (1 - s.alpha_bar[t]).sqrt(),
                (1 - s.alpha[t]).sqrt(),
            ),
        ),
        (
            check_sampling_loop,
            make_loop(
                step_fn=posterior_mean_step,
                draw=lambda x, t, g: torch.randn(x.shape, generator=g) if t > 1 else torch.zeros_like(x),
            ),
        ),
    ],
    ids=["posterior-mean", "float64", "one-minus-alpha", "ddpm-code-x0", "coefficients-from-alpha", "loop-posterior"],
)
def test_every_correct_formulation_passes_at_every_t(check, fn):
    assert check(fn)


def test_an_answer_off_by_5e_4_gets_no_hint_about_t_1():
    err = failure(check_reverse_step, lambda x, t, e, s, z: step(x, t, e, s, z) * (1 + 5e-4))
    assert err.case.startswith("t = 500")
    assert "no noise is added" not in err.hint
    assert "right to about three digits" in err.hint


def test_an_answer_computed_in_float16_gets_no_hint_about_t_1():
    def half(x, t, e, s, z):
        scale, coef, sigma = (torch.as_tensor(c).half() for c in coefficients(s, t))
        return (scale * (x.half() - coef * e.half()) + (sigma * z.half() if t > 1 else 0)).float()

    err = failure(check_reverse_step, half)
    assert "no noise is added" not in err.hint and "float16" in err.hint


def test_noise_only_for_t_above_2_is_named_as_missing_noise():
    def late(x, t, e, s, z):
        scale, coef, sigma = coefficients(s, t)
        return scale * (x - coef * e) + (sigma * z if t > 2 else 0)

    err = failure(check_reverse_step, late)
    assert err.case.startswith("t = 2 ")
    assert err.hint.startswith("for t > 1 the step adds fresh noise"), err.hint


def test_alpha_bar_of_t_minus_1_is_named_in_the_one_shot_estimate():
    err = failure(check_predict_x0, lambda x, t, e, s: one_shot(x, t - 1, e, s))
    assert "not at t - 1" in err.hint, err.hint
    assert "both coefficients are square roots" not in err.hint


def test_a_mistake_that_equals_the_right_answer_is_never_named():
    from ddpm_sampling.exercises._harness import HINT_PRECISION, name_the_mistake

    expected = torch.ones(4, dtype=torch.float64)
    tol = torch.full((4,), 1e-6, dtype=torch.float64)
    got = expected * (1 + 5e-4)
    # the first mistake is the right answer itself: it must not be named
    assert name_the_mistake(got, expected, tol, [(expected.clone(), "wrong hint")], "default") == HINT_PRECISION
    assert name_the_mistake(got * 3, expected, tol, [(expected.clone(), "wrong hint")], "default") == "default"
    assert name_the_mistake(got * 3, expected, tol, [(got * 3, "right hint")], "default") == "right hint"


def test_a_loop_over_np_arange_timesteps_passes():
    import numpy as np

    assert check_sampling_loop(
        make_loop(
            order=lambda T: np.arange(T, 0, -1),
            draw=lambda x, t, g: torch.randn(x.shape, generator=g) if t > 1 else torch.zeros_like(x),
        )
    )


def test_a_loop_with_bool_or_float_timesteps_is_still_refused():
    err = failure(check_sampling_loop, make_loop(order=lambda T: [float(t) for t in range(T, 0, -1)]))
    assert "call model(x, t) with t an int" in err.hint


# ---------------------------------------------------------------------------- the DDIM step


def ddim_with(*, coef=None, x0=None, level="prev", sigma=None, sign=1.0, direction=None):
    """The DDIM step with one thing changed, as a reader might write it wrongly."""

    def step(x, t, t_prev, e, s, eta, z):
        ab, ap = s.alpha_bar[t], s.alpha_bar[t_prev]
        ab_level = ap if level == "prev" else ab
        sigma_1 = ((1 - ap) / (1 - ab) * (1 - ab / ap)).sqrt()
        sig = sigma(eta, sigma_1, 1 - ab / ap) if sigma else eta * sigma_1
        x0_hat = x0(x, e, ab, ap) if x0 else (x - (1 - ab).sqrt() * e) / ab.sqrt()
        c = coef(ab, ap) if coef else ap.sqrt()
        d = direction(ap, sig) if direction else (1 - ab_level - sig**2).clamp(min=0).sqrt()
        return c * x0_hat + d * e + sign * sig * z

    return step


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (ddim_with(coef=lambda ab, ap: ap), "each alpha_bar enters as its square root"),
        (ddim_with(x0=lambda x, e, ab, ap: (x - (1 - ab).sqrt() * e) / ab), "each alpha_bar enters as its square root"),
        (ddim_with(coef=lambda ab, ap: ab.sqrt(), level="t"), "alpha_bar[t_prev] in sqrt(alpha_bar_prev) * x0_hat"),
        (ddim_with(level="t"), "alpha_bar[t_prev] in sqrt(alpha_bar_prev) * x0_hat"),
        (ddim_with(x0=lambda x, e, ab, ap: (x - (1 - ap).sqrt() * e) / ap.sqrt()), "alpha_bar[t] belongs in x0_hat"),
        (ddim_with(sigma=lambda eta, s1, b: s1), "sigma is eta times the standard deviation"),
        (ddim_with(sigma=lambda eta, s1, b: eta**2 * s1), "sigma is eta times the standard deviation"),
        (ddim_with(sign=-1.0), "the fresh noise is added"),
        (ddim_with(direction=lambda ap, sig: (1 - ap).sqrt()), "sqrt(1 - alpha_bar_prev - sigma^2)"),
        (ddim_with(direction=lambda ap, sig: (1 - ap - sig).clamp(min=0).sqrt()), "sqrt(1 - alpha_bar_prev - sigma^2)"),
        (ddim_with(sigma=lambda eta, s1, b: eta * b.sqrt()), "sigma^2 is the posterior variance of the step"),
    ],
    ids=[
        "alpha-bar-prev-without-sqrt",
        "x0-hat-over-alpha-bar",
        "alpha-bar-t-for-prev",
        "direction-at-t",
        "x0-hat-at-prev",
        "sigma-without-eta",
        "sigma-with-eta-squared",
        "noise-subtracted",
        "direction-without-sigma",
        "direction-with-sigma-not-squared",
        "sigma-from-beta",
    ],
)
def test_the_ddim_steps_mistakes_are_named(wrong, hint):
    assert hint in failure(check_ddim_step, wrong).hint


def ddim_from_coefficients(x, t, t_prev, e, s, eta, z):
    """The step as one coefficient of x_t and one of eps, in float64."""
    ab, ap = s.alpha_bar.double()[t], s.alpha_bar.double()[t_prev]
    sigma = eta * ((1 - ap) / (1 - ab) * (1 - ab / ap)).sqrt()
    eps_coef = (1 - ap - sigma**2).sqrt() - (ap * (1 - ab) / ab).sqrt()
    return ((ap / ab).sqrt() * x.double() + eps_coef * e.double() + sigma * z.double()).float()


def test_every_correct_formulation_of_the_ddim_step_passes():
    assert check_ddim_step(ddim_from_coefficients)
    assert check_ddim_step(lambda x, t, tp, e, s, eta, z: ddim(x, t, tp, e, s, float(eta), z.clone()))


def test_a_ddim_step_off_by_5e_4_or_in_float16_is_caught_and_no_mistake_is_named_for_it():
    off = failure(check_ddim_step, lambda *a: ddim(*a) * (1 + 5e-4))
    assert "right to about three digits" in off.hint
    # in float16 x0_hat loses every digit near T (x_t and the noise term cancel): no named mistake explains it
    half = failure(check_ddim_step, lambda x, t, tp, e, s, eta, z: ddim(x.half(), t, tp, e.half(), s, eta, z).float())
    assert half.hint.startswith(("the answer is right to about three digits", "compare term by term"))


def test_the_ddim_check_expects_the_packages_ddim_update():
    """One step of ``ddim_sample`` (from T to the next respaced timestep, the model a fixed eps) is the
    check's expected value at eta = 0 and at eta = 1, with the z ``ddim_sample`` draws."""
    from ddpm_sampling.exercises.ddim_step import ddim_and_mistakes

    s = cosine_schedule(1000)
    x_T, eps = (torch.randn(1, 8, 8, generator=torch.Generator().manual_seed(k)) for k in (1, 2))
    for eta, num_steps, t_prev in ((0.0, 10, 900), (1.0, 1000, 999), (1.0, 4, 750)):
        run = ddim_sample(
            lambda x, t: eps,
            s,
            num_steps=num_steps,
            eta=eta,
            x_T=x_T,
            snapshot_timesteps=[t_prev],
            generator=torch.Generator().manual_seed(3),
        )
        z = torch.randn(1, 8, 8, generator=torch.Generator().manual_seed(3))
        expected, tol, _ = ddim_and_mistakes(x_T, 1000, t_prev, eps, s, eta, z)
        assert ((run.snapshots[t_prev].double() - expected).abs() <= tol).all(), (eta, t_prev)


def test_at_eta_1_one_ddim_step_is_ddpms_reverse_step_with_beta_tilde():
    from ddpm_sampling.exercises.ddim_step import ddim_cases

    cases = [c for c in ddim_cases(None) if c.args[5] == 1.0 and c.args[2] == c.args[1] - 1]
    assert {c.args[1] for c in cases} >= {1000, 500, 2}
    for case in cases:
        x, t, _, e, s, _, z = case.args
        answer = case.expected[0]
        ddpm = reverse_step(x, t, e, s, z=z, variance="beta_tilde").double()
        assert ((ddpm - answer.value).abs() <= answer.tol).all(), case.name
        assert "DDPM's step with beta_tilde" in case.name
