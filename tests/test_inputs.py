"""Hostile but fair input: every public entry point returns a correct, finite result or raises a
ValueError or TypeError that names the argument. Never another exception, never a silent wrong result.

The named tests first (the worst cases found by hand), then properties tried by Hypothesis over
random dtypes, shapes, timestep kinds and values, non-finite inputs and models that misbehave.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ddpm_sampling import (
    Schedule,
    cosine_schedule,
    ddim_sample,
    ddpm_sample,
    error_gain,
    ideal_denoiser,
    noisy_model,
    predict_eps,
    predict_x0,
    q_sample,
    respaced_timesteps,
    reverse_coefficients,
    reverse_step,
    strided_ddpm_sample,
    target_oracle,
    x0_predictions,
)
from ddpm_sampling.respacing import respaced_schedule
from ddpm_sampling.schedule import COEFFICIENTS, cosine_alpha_bar

# modest counts keep the suite fast; no example database is written into the checkout
PROPERTY = settings(
    max_examples=80,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FEW = settings(PROPERTY, max_examples=40)


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def images(shape, seed: int = 0, dtype=torch.float32, scale: float = 1.0) -> torch.Tensor:
    return (torch.randn(shape, generator=seeded(seed), dtype=torch.float64) * scale).to(dtype)


# ---- the worst cases, by name -----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.uint8, torch.bool])
def test_a_uint8_or_bool_timestep_tensor_is_refused_not_taken_as_a_mask(dtype):
    s = cosine_schedule(10)
    t = torch.tensor(3, dtype=dtype) if dtype == torch.uint8 else torch.tensor(True)
    with pytest.raises(TypeError, match=rf"t must hold integers of a signed dtype .*got dtype {dtype}.*mask"):
        reverse_coefficients(s, t)  # as a mask, PyTorch would return all T + 1 values
    x = images((2, 1, 3, 3))
    for call in (
        lambda: q_sample(x, t, x, s),
        lambda: reverse_step(x, t, x, s),
        lambda: error_gain(s, t),
        lambda: target_oracle(x, s)(x, t),
        lambda: ideal_denoiser(x, s)(x, t),
    ):
        with pytest.raises(TypeError, match=r"t must hold integers of a signed dtype"):
            call()


def test_reverse_coefficients_are_copies_not_views_into_the_schedule():
    s = cosine_schedule(10)
    kept = {name: getattr(s, name).clone() for name in COEFFICIENTS}
    for t in (5, np.int64(5), torch.tensor(5), torch.tensor([5, 6])):
        scale, eps_coef, sigma = reverse_coefficients(s, t)
        scale *= 2
        eps_coef += 1
        sigma *= 2  # once changed schedule.sigma for every later step and sampler
        gain = error_gain(s, t)
        gain *= 3
    for name in COEFFICIENTS:
        assert torch.equal(getattr(s, name), kept[name]), name


def test_constructors_keep_copies_of_the_callers_tensors():
    s = cosine_schedule(10)
    x = images((2, 1, 3, 3), seed=1)
    for dtype in (torch.float32, torch.float64):  # float64 data was once kept as a view
        data = images((4, 1, 3, 3), seed=2, dtype=dtype)
        target = data[:2].clone()
        oracle, ideal = target_oracle(target, s), ideal_denoiser(data, s)
        before = oracle(x, 5), ideal(x, 5)
        data += 10
        target += 10
        assert torch.equal(oracle(x, 5), before[0]) and torch.equal(ideal(x, 5), before[1])
    alpha_bar = cosine_alpha_bar(10, 0.008)
    built = Schedule.from_alpha_bar(alpha_bar)
    kept = built.alpha_bar.clone()
    alpha_bar *= 0.5
    assert torch.equal(built.alpha_bar, kept)


def test_a_reverse_chain_starts_from_x_as_it_was_when_made():
    from ddpm_sampling.samplers import ReverseStep, reverse_chain

    s = cosine_schedule(10)
    x = images((1, 3, 3), seed=3)
    start = x.clone()
    keep = lambda x, eps: x  # noqa: E731 - a step that leaves x as it is
    chain = reverse_chain(target_oracle(x, s), s, x, [ReverseStep(5, 0, keep)])
    x += 100  # between making the chain and running it
    [(t, out)] = list(chain)
    assert t == 0 and torch.equal(out, start)
    out -= 1  # what the chain yields is not the caller's tensor either
    assert torch.equal(x, start + 100)


@pytest.mark.parametrize("t", [torch.tensor(-1), torch.tensor(0), torch.tensor(11), torch.tensor([3, 0])])
def test_the_oracle_and_the_ideal_denoiser_range_check_tensor_timesteps(t):
    s = cosine_schedule(10)
    x = images((2, 1, 3, 3))
    bad = int(t.flatten()[-1])
    for model in (target_oracle(x, s), ideal_denoiser(x, s)):
        # torch.tensor(-1) once meant T and torch.tensor(0) returned inf
        with pytest.raises(ValueError, match=rf"t = {bad} is outside the valid range 1\.\.10"):
            model(x, t)


def test_a_float_count_is_a_type_error_not_a_range_error():
    s = cosine_schedule(10)
    oracle = target_oracle(images((1, 3, 3)), s)
    for sampler in (ddim_sample, strided_ddpm_sample):
        with pytest.raises(TypeError, match=r"num_steps must be an int, got 5\.0 \(float\)"):
            sampler(oracle, s, num_steps=5.0, shape=(1, 3, 3))
    with pytest.raises(TypeError, match=r"T must be an int, got 5\.0"):
        cosine_schedule(5.0)
    with pytest.raises(TypeError, match=r"start_t must be an int"):
        ddpm_sample(oracle, s, x_T=images((1, 3, 3)), start_t=5.0)


@pytest.mark.parametrize("real", [np.float32, np.float64, float, torch.tensor])
def test_numpy_float32_and_float64_are_read_alike(real):
    s = cosine_schedule(10, s=real(0.008), max_beta=real(0.999))
    torch.testing.assert_close(s.alpha_bar, cosine_schedule(10).alpha_bar)
    oracle = target_oracle(images((1, 3, 3)), s)
    a = noisy_model(oracle, real(0.25), seeded(0))(images((1, 3, 3), 1), 4)
    b = noisy_model(oracle, 0.25, seeded(0))(images((1, 3, 3), 1), 4)
    torch.testing.assert_close(a, b)
    x_T = images((1, 3, 3), 2)
    got = ddim_sample(oracle, s, num_steps=np.int64(4), eta=real(0.5), x_T=x_T, generator=seeded(3))
    want = ddim_sample(oracle, s, num_steps=4, eta=0.5, x_T=x_T, generator=seeded(3))
    torch.testing.assert_close(got, want)


def test_every_accepted_cosine_schedule_is_finite_or_refused():
    # max_beta = 1 with the unclipped end once gave 1/sqrt(alpha_T) = inf
    for T in (1, 2, 3, 1000):
        s = cosine_schedule(T, max_beta=1.0)
        for name in COEFFICIENTS:
            assert torch.isfinite(getattr(s, name)).all(), (T, name)
    for kwargs in ({"s": 1e20}, {"s": 1e300}, {"max_beta": 1e-300}):
        with pytest.raises(ValueError, match=r"cosine_schedule\(T=10, .*\) gives no usable schedule"):
            cosine_schedule(10, **kwargs)


@st.composite
def cosine_parameters(draw):
    T = draw(st.integers(1, 3000))
    s = draw(st.floats(1e-12, 1e30, allow_nan=False, allow_infinity=False))
    max_beta = draw(st.one_of(st.none(), st.floats(1e-300, 1.0), st.sampled_from([1.0, 0.999, 1e-20])))
    return T, s, max_beta


@PROPERTY
@given(cosine_parameters())
def test_a_schedule_is_finite_with_nonzero_divisors_or_refused(params):
    try:
        s = cosine_schedule(*params)
    except ValueError as err:
        assert "cosine_schedule(T=" in str(err) and "no usable schedule" in str(err)
        return
    for name in COEFFICIENTS:
        tensor = getattr(s, name)
        assert tensor.dtype == torch.float32 and tensor.shape == (s.T + 1,)
        assert torch.isfinite(tensor).all(), name
    assert (s.sqrt_alpha_bar > 0).all() and (s.sqrt_one_minus_alpha_bar[1:] > 0).all()
    assert s.alpha_bar[0] == 1 and (s.beta >= 0).all() and (s.beta <= 1).all()


@PROPERTY
@given(
    st.lists(st.one_of(st.floats(-2, 2), st.sampled_from([math.nan, math.inf, 1e-310, 1e-45])), max_size=6),
    st.sampled_from([torch.float32, torch.float64, torch.float16, torch.int64]),
    st.one_of(st.none(), st.floats(-1, 2), st.just("0.5")),
)
def test_from_alpha_bar_builds_a_finite_schedule_or_names_the_problem(values, dtype, max_beta):
    alpha_bar = torch.tensor([1.0, *values]).to(dtype)
    try:
        s = Schedule.from_alpha_bar(alpha_bar, max_beta=max_beta)
    except TypeError as err:
        assert "alpha_bar" in str(err) or "max_beta" in str(err)
        return
    except ValueError as err:
        assert "alpha_bar" in str(err) or "max_beta" in str(err)
        return
    assert len(values) == s.T
    for name in COEFFICIENTS:
        assert torch.isfinite(getattr(s, name)).all(), name
    # and it is the chain it claims: alpha_bar is the cumulative product of alpha = 1 - beta
    torch.testing.assert_close(torch.cumprod(s.alpha.double(), 0), s.alpha_bar.double(), rtol=1e-5, atol=1e-30)


# ---- arguments, good and bad ------------------------------------------------------------------------


class Arg(NamedTuple):
    """One argument as drawn: its value, and the exception it alone must cause (None: it is fine)."""

    value: object
    error: type[Exception] | None = None


SCHEDULE_PARAMS = [(1, 0.008, 0.999), (2, 0.008, None), (3, 0.5, 1.0), (10, 0.008, 0.5), (50, 0.008, 0.999)]


@lru_cache
def schedule_of(params: tuple) -> Schedule:
    return cosine_schedule(*params)


schedules = st.sampled_from(SCHEDULE_PARAMS).map(schedule_of)
FLOATING = [torch.float32, torch.float64, torch.float16, torch.bfloat16]


@st.composite
def image_shapes(draw, batched: bool | None = None):
    batched = draw(st.booleans()) if batched is None else batched
    chw = (draw(st.integers(1, 2)), draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    return (draw(st.integers(1, 3)), *chw) if batched else chw


@st.composite
def good_images(draw, shape, dtypes=FLOATING):
    dtype = draw(st.sampled_from(dtypes))
    scale = draw(st.sampled_from([1e-3, 1.0, 30.0, 1e3]))
    return images(shape, draw(st.integers(0, 2**16)), dtype, scale)


@st.composite
def bad_images(draw, shape):
    """An argument that should have been a floating image of ``shape``, and the error it must cause."""
    x = images(shape, draw(st.integers(0, 2**16)))
    kind = draw(st.sampled_from(["int", "complex", "bool", "numpy", "list", "none", "nan", "inf", "rank", "empty"]))
    if kind == "int":
        return Arg(x.to(torch.int64), TypeError)
    if kind == "complex":
        return Arg(x.to(torch.complex64), TypeError)
    if kind == "bool":
        return Arg(x > 0, TypeError)
    if kind == "numpy":
        return Arg(x.numpy(), TypeError)
    if kind == "list":
        return Arg(x.tolist(), TypeError)
    if kind == "none":
        return Arg(None, TypeError)
    if kind in ("nan", "inf"):
        flat = x.flatten().clone()
        flat[draw(st.integers(0, flat.numel() - 1))] = (
            math.nan if kind == "nan" else draw(st.sampled_from([-1, 1])) * math.inf
        )
        return Arg(flat.view(shape), ValueError)
    if kind == "rank":
        return Arg(x.flatten() if draw(st.booleans()) else x.reshape(1, 1, *x.shape)[..., None], ValueError)
    return Arg(torch.empty(0, *shape[1:]), ValueError)


@st.composite
def good_timesteps(draw, low: int, high: int, batch: int | None):
    """A timestep in low..high of every accepted kind, and its value(s) as a list (one per image) or an int."""
    kinds = ["int", "np.int64", "np.int16", "0-d int64", "0-d int32", "0-d int8"] + (
        ["1-d int64", "1-d int32"] if batch else []
    )
    kind = draw(st.sampled_from(kinds))
    if kind.startswith("1-d"):
        values = draw(st.lists(st.integers(low, high), min_size=batch, max_size=batch))
        return Arg(torch.tensor(values, dtype=torch.int64 if kind == "1-d int64" else torch.int32)), values
    v = draw(st.integers(low, high))
    if kind == "int":
        return Arg(v), v
    if kind.startswith("np."):
        return Arg(getattr(np, kind[3:])(v)), v
    dtype = {"0-d int64": torch.int64, "0-d int32": torch.int32, "0-d int8": torch.int8}[kind]
    if dtype == torch.int8 and v > 127:
        dtype = torch.int16
    return Arg(torch.tensor(v, dtype=dtype)), v


@st.composite
def bad_timesteps(draw, low: int, high: int, batch: int | None, with_images: bool = True):
    v = draw(st.integers(low, high))
    kind = draw(
        st.sampled_from(
            ["float", "np.float32", "bool", "uint8", "bool tensor", "float tensor", "str", "none", "ndarray", "list"]
            + ["below", "above", "tensor below", "tensor above", "2-d", "empty"]
            + (["batch"] if with_images else [])
        )
    )
    type_errors = {
        "float": float(v),
        "np.float32": np.float32(v),
        "bool": bool(v % 2),
        "uint8": torch.tensor(min(v, 255), dtype=torch.uint8),
        "bool tensor": torch.tensor(True),
        "float tensor": torch.tensor(float(v)),
        "str": str(v),
        "none": None,
        "ndarray": np.array([v]),
        "list": [v],
    }
    if kind in type_errors:
        return Arg(type_errors[kind], TypeError)
    outside = draw(st.one_of(st.integers(-(2**40), low - 1), st.integers(high + 1, 2**40)))
    if kind in ("below", "above"):
        return Arg(
            low - 1 - draw(st.integers(0, 5)) if kind == "below" else high + 1 + draw(st.integers(0, 5)), ValueError
        )
    if kind.startswith("tensor"):
        return Arg(torch.tensor([v] * ((batch or 1) - 1) + [outside]) if batch else torch.tensor(outside), ValueError)
    if kind == "2-d":
        return Arg(torch.tensor([[v]]), ValueError)
    if kind == "empty":
        return Arg(torch.tensor([], dtype=torch.int64), ValueError)
    return Arg(torch.tensor([v] * ((batch or 0) + 1)), ValueError)  # one timestep too many for the batch


def names_one_of(err: BaseException, names) -> bool:
    return any(name in str(err) for name in names)


def check_outcome(call, bad: dict[str, Arg], allow_overflow: bool = False):
    """Run ``call``; if any argument is bad it must raise that argument's error, naming it. Return the result."""
    expected = {name: arg.error for name, arg in bad.items() if arg.error is not None}
    try:
        result = call()
    except (TypeError, ValueError) as err:
        if expected:
            assert names_one_of(err, expected), f"{type(err).__name__}: {err} names none of {list(expected)}"
            if len(expected) == 1:
                assert isinstance(err, next(iter(expected.values()))), f"{type(err).__name__}: {err}"
            return None
        if allow_overflow and "too large" in str(err):
            return None
        raise
    assert not expected, f"no error for bad {list(expected)}"
    return result


def per_image(coef: torch.Tensor, t, x: torch.Tensor) -> torch.Tensor:
    """The float64 coefficient(s) at t, shaped to broadcast against x."""
    c = coef.double()[t] if isinstance(t, int) else coef.double()[torch.tensor(t)]
    return c if isinstance(t, int) else c.view(-1, *([1] * (x.dim() - 1)))


def unchanged(a: torch.Tensor, b: torch.Tensor) -> bool:
    """The same values, NaN equal to NaN."""
    return torch.equal(a, b) or (a.is_floating_point() and torch.allclose(a, b, rtol=0, atol=0, equal_nan=True))


def dtype_eps(*tensors) -> float:
    return max(torch.finfo(x.dtype).eps for x in tensors)


# ---- the step functions ------------------------------------------------------------------------------

STEP_FUNCTIONS = {"q_sample": ("x0", "eps", 0), "predict_x0": ("x_t", "eps", 1), "predict_eps": ("x_t", "x0", 1)}


def step_reference(fn: str, x, t, other, s):
    """The formula in float64 from the schedule's stored coefficients, and a bound on the rounding of each term."""
    x, other = x.double(), other.double()
    c, r = per_image(s.sqrt_alpha_bar, t, x), per_image(s.sqrt_one_minus_alpha_bar, t, x)
    if fn == "q_sample":
        return c * x + r * other, (c * x).abs() + (r * other).abs()
    if fn == "predict_x0":
        return (x - r * other) / c, (x.abs() + (r * other).abs()) / c
    return (x - c * other) / r, (x.abs() + (c * other).abs()) / r


@PROPERTY
@pytest.mark.parametrize("fn", STEP_FUNCTIONS)
@given(data=st.data())
def test_step_functions_compute_their_formula_or_name_the_bad_argument(fn, data):
    x_name, other_name, t_min = STEP_FUNCTIONS[fn]
    function = {"q_sample": q_sample, "predict_x0": predict_x0, "predict_eps": predict_eps}[fn]
    s = data.draw(schedules)
    shape = data.draw(image_shapes())
    batch = shape[0] if len(shape) == 4 else None
    x, other = data.draw(good_images(shape)), data.draw(good_images(shape))
    t, t_value = data.draw(good_timesteps(t_min, s.T, batch))
    args = {x_name: Arg(x), "t": t, other_name: Arg(other), "schedule": Arg(s)}
    bad = data.draw(st.sampled_from([None, x_name, "t", other_name, "schedule", "shape"]))
    if bad == x_name:
        args[x_name] = data.draw(bad_images(shape))
    elif bad == other_name:
        args[other_name] = data.draw(bad_images(shape))
    elif bad == "t":
        args["t"] = data.draw(bad_timesteps(t_min, s.T, batch))
    elif bad == "schedule":
        args["schedule"] = Arg(data.draw(st.sampled_from([None, "cosine", {"T": 10}, s.alpha_bar])), TypeError)
    elif bad == "shape":  # two good images of different shapes
        args[other_name] = Arg(images((*shape[:-1], shape[-1] + 1)), ValueError)
    kept = {name: arg.value.clone() for name, arg in args.items() if isinstance(arg.value, torch.Tensor)}
    values = [args[n].value for n in (x_name, "t", other_name, "schedule")]
    out = check_outcome(lambda: function(*values), args, allow_overflow=True)
    for name, before in kept.items():  # the inputs are never modified
        assert unchanged(args[name].value, before), name
    if out is None:
        return
    want, bound = step_reference(fn, x, t_value, other, s)
    assert out.shape == x.shape and out.dtype == torch.promote_types(x.dtype, other.dtype)
    assert torch.isfinite(out).all()
    tol = 8 * dtype_eps(x, other) * bound + 1e-30
    assert ((out.double() - want).abs() <= tol).all(), (out.double() - want).abs().max()
    snapshot = out.clone()
    x += 1  # the result is a new tensor: a later in-place edit of an input does not reach it
    other += 1
    assert torch.equal(out, snapshot)


@PROPERTY
@given(data=st.data())
def test_reverse_step_is_the_formula_or_names_the_bad_argument(data):
    s = data.draw(schedules)
    shape = data.draw(image_shapes())
    batch = shape[0] if len(shape) == 4 else None
    x, eps, z = (data.draw(good_images(shape, [torch.float32, torch.float64])) for _ in range(3))
    t, t_value = data.draw(good_timesteps(1, s.T, batch))
    variance = data.draw(st.sampled_from(["beta", "beta_tilde"]))
    args = {"x_t": Arg(x), "t": t, "eps": Arg(eps), "schedule": Arg(s), "z": Arg(z), "variance": Arg(variance)}
    args["generator"] = Arg(None)
    bad = data.draw(st.sampled_from([None, "x_t", "t", "eps", "z", "variance", "generator"]))
    if bad in ("x_t", "eps", "z"):  # z = None is fine: it is drawn from the generator
        args[bad] = data.draw(bad_images(shape).filter(lambda arg: bad != "z" or arg.value is not None))
    elif bad == "t":
        args["t"] = data.draw(bad_timesteps(1, s.T, batch))
    elif bad == "variance":
        args["variance"] = Arg(data.draw(st.sampled_from(["sigma", "Beta", None, 1])), ValueError)
    elif bad == "generator":
        choices = [Arg(0, TypeError), Arg([seeded(0), 3], TypeError), Arg([seeded(0)] * ((batch or 0) + 1), ValueError)]
        args["generator"] = data.draw(st.sampled_from(choices))
        args["z"] = Arg(None)
    v = {name: arg.value for name, arg in args.items()}
    call = lambda: reverse_step(  # noqa: E731
        v["x_t"], v["t"], v["eps"], v["schedule"], z=v["z"], generator=v["generator"], variance=v["variance"]
    )
    out = check_outcome(call, args, allow_overflow=True)
    if out is None:
        return
    xd = x.double()
    sigma = s.sigma if variance == "beta" else s.sigma_tilde
    keep = 1.0 if isinstance(t_value, int) and t_value > 1 else 0.0
    if not isinstance(t_value, int):
        keep = (torch.tensor(t_value) > 1).double().view(-1, *([1] * (x.dim() - 1)))
    scale, eps_coef, sig = (per_image(c, t_value, xd) for c in (s.scale, s.eps_coef, sigma))
    want = scale * (xd - eps_coef * eps.double()) + keep * sig * z.double()
    bound = scale * (xd.abs() + (eps_coef * eps.double()).abs()) + (sig * z.double()).abs()
    assert out.shape == x.shape and torch.isfinite(out).all()
    assert ((out.double() - want).abs() <= 8 * dtype_eps(x, eps, z) * bound + 1e-30).all()


@PROPERTY
@given(data=st.data())
def test_reverse_coefficients_and_error_gain_read_every_timestep_kind(data):
    s = data.draw(schedules)
    batch = data.draw(st.integers(1, 4))
    if data.draw(st.booleans()):
        t, value = data.draw(good_timesteps(1, s.T, batch))
    else:
        t, value = data.draw(bad_timesteps(1, s.T, batch, with_images=False)), None
    schedule = Arg(s) if data.draw(st.booleans()) or t.error else Arg("cosine", TypeError)
    for fn in (reverse_coefficients, error_gain):
        if fn is error_gain and t.value is None:
            continue  # error_gain's None means every t
        out = check_outcome(lambda fn=fn: fn(schedule.value, t.value), {"t": t, "schedule": schedule})
        if out is None:
            continue
        index = torch.tensor(value)
        if fn is reverse_coefficients:
            for got, coef in zip(out, (s.scale, s.eps_coef, s.sigma)):
                assert torch.equal(got, coef[index])
        else:
            ab = s.alpha_bar.double()[index]
            torch.testing.assert_close(out, ((1 - ab).sqrt() / ab.sqrt()).float())
            assert torch.isfinite(out).all()


# ---- models ------------------------------------------------------------------------------------------


@PROPERTY
@given(data=st.data())
def test_the_oracle_predicts_the_noise_of_its_target_or_names_the_bad_argument(data):
    s = data.draw(schedules)
    target_shape = data.draw(image_shapes())
    target = data.draw(good_images(target_shape, [torch.float32, torch.float64]))
    oracle = target_oracle(target, s)
    # x_t: the target's shape, or a batch of such images when the target is one image
    batched_call = len(target_shape) == 3 and data.draw(st.booleans())
    shape = (data.draw(st.integers(1, 3)), *target_shape) if batched_call else target_shape
    batch = shape[0] if len(shape) == 4 else None
    x = data.draw(good_images(shape, [torch.float32, torch.float64, torch.float16]))
    t, t_value = data.draw(good_timesteps(1, s.T, batch))
    args = {"x_t": Arg(x), "t": t}
    bad = data.draw(st.sampled_from([None, "x_t", "t", "shape"]))
    if bad == "x_t":
        kind = data.draw(st.sampled_from(["int", "complex", "numpy", "none"]))
        value = {"int": x.long(), "complex": x.to(torch.complex64), "numpy": x.numpy(), "none": None}[kind]
        args["x_t"] = Arg(value, TypeError)
    elif bad == "t":
        args["t"] = data.draw(bad_timesteps(1, s.T, batch))
    elif bad == "shape":
        args["x_t"] = Arg(images((*shape[:-1], shape[-1] + 1)), ValueError)
    out = check_outcome(lambda: oracle(args["x_t"].value, args["t"].value), args)
    if out is None:
        return
    xd = x.double()
    want = (xd - per_image(s.sqrt_alpha_bar, t_value, xd) * target.double()) / per_image(
        s.sqrt_one_minus_alpha_bar, t_value, xd
    )
    bound = (xd.abs() + per_image(s.sqrt_alpha_bar, t_value, xd) * target.double().abs()) / per_image(
        s.sqrt_one_minus_alpha_bar, t_value, xd
    )
    assert out.shape == x.shape and out.dtype == x.dtype
    if torch.isfinite(want).all() and bound.max() < torch.finfo(x.dtype).max / 8:
        assert ((out.double() - want).abs() <= 8 * dtype_eps(x, target) * bound + 1e-30).all()


@PROPERTY
@given(data=st.data())
def test_the_ideal_denoiser_answers_every_method_or_names_the_bad_argument(data):
    s = data.draw(schedules)
    n = data.draw(st.integers(1, 4))
    image = data.draw(image_shapes(batched=False))
    train = images(
        (n, *image), data.draw(st.integers(0, 99)), data.draw(st.sampled_from([torch.float32, torch.float64]))
    )
    denoiser = ideal_denoiser(train, s)
    shape = data.draw(st.sampled_from([image, (data.draw(st.integers(1, 3)), *image)]))
    batch = shape[0] if len(shape) == 4 else None
    x = data.draw(good_images(shape, [torch.float32, torch.float64, torch.float16]))
    t, t_value = data.draw(good_timesteps(1, s.T, batch))
    args = {"x_t": Arg(x), "t": t}
    bad = data.draw(st.sampled_from([None, "x_t", "t", "shape"]))
    if bad == "x_t":
        args["x_t"] = Arg(data.draw(st.sampled_from([x.long(), x.numpy(), None, x.to(torch.complex64)])), TypeError)
    elif bad == "t":
        args["t"] = data.draw(bad_timesteps(1, s.T, batch))
    elif bad == "shape":
        args["x_t"] = Arg(images((*shape[:-1], shape[-1] + 1)), ValueError)
    method = data.draw(st.sampled_from(["__call__", "predict", "weights", "logits", "predict_x0"]))
    out = check_outcome(lambda: getattr(denoiser, method)(args["x_t"].value, args["t"].value), args)
    if out is None:
        return
    pred = denoiser.predict(x, t.value)
    w = pred.weights
    assert w.dtype == torch.float64 and w.shape == ((batch, n) if batch else (n,))
    torch.testing.assert_close(w.sum(-1), torch.ones_like(w.sum(-1)))
    assert pred.eps.dtype == x.dtype == pred.x0_hat.dtype and pred.eps.shape == x.shape
    # x0_hat is the weighted mean of the training images, eps the forward formula solved for the noise
    x0 = ((w if batch else w[None]) @ train.double().flatten(1)).view(x.shape)
    torch.testing.assert_close(pred.x0_hat.double(), x0.to(x.dtype).double())
    assert torch.isfinite(w).all() and torch.isfinite(pred.x0_hat).all()


@PROPERTY
@given(data=st.data())
def test_noisy_model_reads_its_level_and_generators(data):
    s = schedule_of((10, 0.008, 0.999))
    oracle = target_oracle(images((1, 3, 3)), s)
    level_kind = data.draw(st.sampled_from(["good", "negative", "nan", "inf", "str", "bool", "none"]))
    level = {
        "good": Arg(data.draw(st.sampled_from([0, 0.5, np.float32(0.5), np.float64(2.0), torch.tensor(0.1)]))),
        "negative": Arg(-0.1, ValueError),
        "nan": Arg(math.nan, ValueError),
        "inf": Arg(math.inf, ValueError),
        "str": Arg("0.1", TypeError),
        "bool": Arg(True, TypeError),
        "none": Arg(None, TypeError),
    }[level_kind]
    generator = data.draw(
        st.sampled_from([Arg(None), Arg(seeded(1)), Arg(5, TypeError), Arg([seeded(0), "g"], TypeError)])
    )
    model = data.draw(st.sampled_from([Arg(oracle), Arg(oracle.x_target, TypeError), Arg("oracle", TypeError)]))
    made = check_outcome(
        lambda: noisy_model(model.value, level.value, generator.value),
        {"level": level, "generator": generator, "model": model},
    )
    if made is None:
        return
    x = images((1, 3, 3), 3)
    out = made(x, 5)
    assert out.shape == x.shape and out.dtype == x.dtype and torch.isfinite(out).all()
    if float(level.value) == 0:
        assert torch.equal(out, oracle(x, 5))


# ---- samplers ----------------------------------------------------------------------------------------


class Boom(Exception):
    """What a model that raises raises: it must come out unchanged."""


MISBEHAVIOURS = ["wrong shape", "wrong dtype", "nan", "inf", "raises", "list", "numpy", "none"]


def misbehaving(model, kind: str, after: int):
    """``model`` until its call number ``after``, then wrong in the way ``kind`` says."""
    calls = []

    def wrapped(x, t):
        calls.append(t)
        eps = model(x, t)
        if len(calls) <= after:
            return eps
        if kind == "raises":
            raise Boom(f"model broke at t = {t}")
        return {
            "wrong shape": eps[..., :-1] if eps.shape[-1] > 1 else eps[None],
            "wrong dtype": eps.to(torch.float64 if eps.dtype != torch.float64 else torch.float32),
            "nan": torch.full_like(eps, math.nan),
            "inf": torch.full_like(eps, math.inf),
            "list": eps.tolist(),
            "numpy": eps.numpy(),
            "none": None,
        }[kind]

    return wrapped


EXPECTED = {"wrong shape": ValueError, "wrong dtype": TypeError, "nan": ValueError, "inf": ValueError}
EXPECTED |= {"list": TypeError, "numpy": TypeError, "none": TypeError, "raises": Boom}


@PROPERTY
@given(data=st.data())
def test_every_sampler_lands_an_oracle_on_its_target_or_names_what_went_wrong(data):
    s = data.draw(schedules)
    shape = data.draw(image_shapes())
    dtype = data.draw(st.sampled_from([torch.float32, torch.float64, torch.float16]))
    target = images(shape, data.draw(st.integers(0, 99))).clamp(-1, 1)
    sampler = data.draw(st.sampled_from(["ddpm", "strided", "ddim"]))
    num_steps = data.draw(st.integers(1, s.T))
    start_t = data.draw(st.integers(1, s.T)) if sampler == "ddpm" else s.T
    n_calls = start_t if sampler == "ddpm" else num_steps
    clip_x0 = data.draw(st.booleans())
    behaviour = data.draw(st.sampled_from(["oracle", "noisy", *MISBEHAVIOURS]))
    oracle = target_oracle(target, s)
    model = {"oracle": oracle, "noisy": noisy_model(oracle, 0.1, seeded(1))}.get(behaviour)
    if model is None:
        model = misbehaving(oracle, behaviour, data.draw(st.integers(0, n_calls - 1)))
    start = data.draw(st.sampled_from(["x_T", "shape"]))
    x_T = images(shape, 7, dtype) if start == "x_T" else None
    kwargs = {"x_T": x_T} if start == "x_T" else {"shape": shape}
    generator = [seeded(i) for i in range(shape[0])] if len(shape) == 4 and data.draw(st.booleans()) else seeded(2)
    if sampler == "ddpm":
        run = lambda: ddpm_sample(  # noqa: E731
            model, s, start_t=start_t, generator=generator, clip_x0=clip_x0, snapshot_timesteps=[0, start_t], **kwargs
        )[0]
    elif sampler == "strided":
        variance = data.draw(st.sampled_from(["beta", "beta_tilde"]))
        run = lambda: strided_ddpm_sample(  # noqa: E731
            model, s, num_steps=num_steps, generator=generator, variance=variance, clip_x0=clip_x0, **kwargs
        )
    else:
        eta = data.draw(st.sampled_from([0.0, 0.5, 1.0]))
        run = lambda: ddim_sample(  # noqa: E731
            model, s, num_steps=num_steps, eta=eta, generator=generator, clip_x0=clip_x0, **kwargs
        )
    kept = None if x_T is None else x_T.clone()
    if behaviour in EXPECTED:
        with pytest.raises(EXPECTED[behaviour]) as caught:
            run()
        if behaviour == "raises":  # the model's own exception, unchanged, with a note of the step
            assert "raised by the model, called at t = " in "\n".join(caught.value.__notes__)
        else:
            assert "model" in str(caught.value)
        return
    # an unclipped schedule's first step scales x by 1/sqrt(alpha_T), about 1e16: too much for float16
    overflows = 10 / float(s.sqrt_alpha_bar[-1]) > torch.finfo(dtype if x_T is not None else torch.float32).max / 10
    try:
        out = run()
    except ValueError as err:
        assert overflows and "the chain diverged; check the model's predictions and the schedule" in str(err)
        return
    if x_T is not None:
        assert torch.equal(x_T, kept)
    assert out.shape == shape and out.dtype == (dtype if x_T is not None else torch.float32)
    assert torch.isfinite(out).all()
    if behaviour == "oracle":
        # the last step is the one-shot estimate from x at the first visited t, which the oracle makes exact
        first = 1 if sampler == "ddpm" else respaced_timesteps(s.T, num_steps)[0]
        # the schedule's coefficients are float32, whatever the dtype of x
        eps = max(torch.finfo(out.dtype).eps, torch.finfo(torch.float32).eps)
        tol = 160 * eps / float(s.sqrt_alpha_bar[first])
        assert (out.double() - target.double()).abs().max() <= tol


@st.composite
def bad_sampler_arguments(draw, s, shape):
    """One bad argument of a sampler call: its name, value and the error it must cause."""
    name = draw(st.sampled_from(["model", "schedule", "shape", "x_T", "generator", "clip_x0", "num_steps", "no start"]))
    if name == "model":
        return name, draw(st.sampled_from([Arg(None, TypeError), Arg(images(shape), TypeError), Arg(3, TypeError)]))
    if name == "schedule":
        return name, Arg(draw(st.sampled_from([None, "cosine", 1000])), TypeError)
    if name == "shape":
        bad = [Arg((8, 8), ValueError), Arg((1, 0, 4), ValueError), Arg((1, 4.0, 4), TypeError), Arg(5, TypeError)]
        return name, draw(st.sampled_from(bad))
    if name == "x_T":
        arg = draw(bad_images(shape))
        return name, Arg(None, ValueError) if arg.value is None else arg  # None: no start at all
    if name == "generator":
        wrong = [seeded(0)] * (shape[0] + 1 if len(shape) == 4 else 2)
        return name, draw(st.sampled_from([Arg(0, TypeError), Arg("seed", TypeError), Arg(wrong, ValueError)]))
    if name == "clip_x0":
        return name, Arg(draw(st.sampled_from([1, "yes", None, torch.tensor(True)])), TypeError)
    if name == "num_steps":
        bad = [
            Arg(0, ValueError),
            Arg(s.T + 1, ValueError),
            Arg(5.0, TypeError),
            Arg(True, TypeError),
            Arg(None, TypeError),
        ]
        return name, draw(st.sampled_from(bad))
    return "x_T", Arg(None, ValueError)  # neither shape nor x_T: "give exactly one of shape ... or x_T"


@FEW
@given(data=st.data())
def test_every_sampler_names_its_bad_argument(data):
    s = schedule_of((10, 0.008, 0.999))
    shape = data.draw(image_shapes())
    name, arg = data.draw(bad_sampler_arguments(s, shape))
    kwargs = {"model": target_oracle(images(shape).clamp(-1, 1), s), "schedule": s, "x_T": images(shape, 1)}
    kwargs |= {"generator": seeded(0), "clip_x0": False}
    if name == "shape":
        kwargs.pop("x_T")
    kwargs[name] = arg.value
    sampler = data.draw(st.sampled_from(["ddpm", "strided", "ddim"]))
    if sampler == "ddpm":
        kwargs.pop("num_steps", None)
        if name == "num_steps":  # ddpm_sample's count is start_t, whose None means T
            kwargs["start_t"], name = arg.value, "start_t"
            arg = Arg(None) if arg.value is None else arg
    else:
        kwargs.setdefault("num_steps", 4)
    fn = {"ddpm": ddpm_sample, "strided": strided_ddpm_sample, "ddim": ddim_sample}[sampler]
    model, schedule = kwargs.pop("model"), kwargs.pop("schedule")
    check_outcome(lambda: fn(model, schedule, **kwargs), {name: arg})


@FEW
@given(data=st.data())
def test_ddpm_sample_reads_its_snapshots_and_ddim_its_eta(data):
    s = schedule_of((10, 0.008, 0.999))
    oracle = target_oracle(images((1, 3, 3)).clamp(-1, 1), s)
    start_t = data.draw(st.integers(1, 10))
    snapshots = data.draw(
        st.one_of(
            st.lists(st.integers(0, start_t), max_size=4).map(Arg),
            st.lists(st.integers(0, start_t), min_size=1, max_size=3).map(lambda v: Arg(torch.tensor(v))),
            st.sampled_from([Arg([start_t + 1], ValueError), Arg([-1], ValueError), Arg([2.0], TypeError)]),
            st.sampled_from(
                [Arg(5, TypeError), Arg("10", TypeError), Arg([None], TypeError), Arg(torch.tensor(3), ValueError)]
            ),
        )
    )
    out = check_outcome(
        lambda: ddpm_sample(oracle, s, x_T=images((1, 3, 3), 1), start_t=start_t, snapshot_timesteps=snapshots.value),
        {"snapshot_timesteps": snapshots},
    )
    if out is not None:
        x0, snaps = out
        asked = sorted({int(t) for t in snapshots.value}, reverse=True)
        assert list(snaps) == asked and all(type(t) is int for t in snaps)
        if 0 in snaps:
            assert torch.equal(snaps[0], x0) and snaps[0] is not x0
    eta = data.draw(
        st.one_of(
            st.floats(0, 1).map(Arg),
            st.sampled_from(
                [Arg(-0.1, ValueError), Arg(math.nan, ValueError), Arg(math.inf, ValueError), Arg(50.0, ValueError)]
            ),
            st.sampled_from([Arg("1", TypeError), Arg(None, TypeError), Arg(False, TypeError)]),
        )
    )
    x0 = check_outcome(
        lambda: ddim_sample(oracle, s, num_steps=5, eta=eta.value, x_T=images((1, 3, 3), 2)), {"eta": eta}
    )
    if x0 is not None:
        assert torch.isfinite(x0).all()


@FEW
@given(data=st.data())
def test_x0_predictions_read_every_snapshot(data):
    s = schedule_of((10, 0.008, 0.999))
    target = images((2, 1, 3, 3)).clamp(-1, 1)
    oracle = target_oracle(target, s)
    t = data.draw(st.integers(0, 10))
    entry = data.draw(
        st.sampled_from(
            [
                ("good", Arg({t: images((2, 1, 3, 3), 1)})),
                ("np key", Arg({np.int64(t): images((2, 1, 3, 3), 1)})),
                ("key above", Arg({11: images((2, 1, 3, 3), 1)}, ValueError)),
                ("float key", Arg({2.0: images((2, 1, 3, 3), 1)}, TypeError)),
                ("nan value", Arg({t: torch.full((2, 1, 3, 3), math.nan)}, ValueError)),
                ("list", Arg([images((2, 1, 3, 3), 1)], TypeError)),
            ]
        )
    )[1]
    behaviour = data.draw(st.sampled_from(["oracle", "wrong shape", "wrong dtype", "list"]))
    model = oracle if behaviour == "oracle" else misbehaving(oracle, behaviour, 0)
    failing_model = behaviour != "oracle" and entry.error is None and 0 not in entry.value
    args = {"snapshots": entry, "model": Arg(model, EXPECTED[behaviour] if failing_model else None)}
    out = check_outcome(lambda: x0_predictions(model, s, entry.value), args)
    if out is None:
        return
    for key, x0_hat in out.items():
        assert type(key) is int and torch.isfinite(x0_hat).all()
        if key > 0:
            torch.testing.assert_close(x0_hat, target, rtol=0, atol=1e-3)


@FEW
@given(st.integers(-3, 60), st.one_of(st.integers(-3, 60), st.sampled_from([2.5, True, None, "4"])))
def test_respaced_timesteps_and_schedule(T, num_steps):
    args = {"T": Arg(T, None if T >= 1 else ValueError)}
    if isinstance(num_steps, int) and not isinstance(num_steps, bool):
        error = None if T >= 1 and 1 <= num_steps <= T else ValueError
    else:
        error = TypeError
    args["num_steps"] = Arg(num_steps, error)
    if args["T"].error:
        args["num_steps"] = Arg(num_steps)  # T is read first
    taus = check_outcome(lambda: respaced_timesteps(T, num_steps), args)
    if taus is None:
        return
    assert len(taus) == num_steps and taus[-1] == T and all(b > a for a, b in zip([0, *taus], taus))
    s = cosine_schedule(T)
    short = respaced_schedule(s, taus)
    torch.testing.assert_close(short.alpha_bar[1:], s.alpha_bar[taus])
    for bad, error in (([], ValueError), ([taus[-1], taus[-1]], ValueError), ([T + 1], ValueError), ([1.5], TypeError)):
        with pytest.raises(error, match="timesteps"):
            respaced_schedule(s, bad)


# ---- what surrounds the samplers ---------------------------------------------------------------------


@FEW
@given(data=st.data())
def test_sample_with_trace_and_decided_at_read_their_arguments(data):
    from ddpm_sampling.trace import decided_at, sample_with_trace

    s = schedule_of((10, 0.008, 0.999))
    denoiser = ideal_denoiser(images((3, 1, 2, 2)), s)
    shape = data.draw(
        st.sampled_from(
            [
                Arg((2, 1, 2, 2)),
                Arg((1, 2, 2)),
                Arg((2, 1, 3, 3), ValueError),
                Arg((2, 1.0, 2, 2), TypeError),
                Arg(None, TypeError),
            ]
        )
    )
    who = data.draw(st.sampled_from([Arg(denoiser), Arg(target_oracle(images((1, 2, 2)), s), TypeError)]))
    trace = check_outcome(
        lambda: sample_with_trace(who.value, shape=shape.value, generator=seeded(0)), {"shape": shape, "denoiser": who}
    )
    if trace is not None:
        assert trace.x0.shape == shape.value and torch.isfinite(trace.x0).all()
        assert (trace.top_index[1:] >= 0).all()
    labels = data.draw(
        st.sampled_from(
            [
                Arg(torch.tensor([[0, 0], [1, 2], [1, 2], [3, 2]], dtype=torch.int8)),
                Arg(torch.zeros(300, 2, dtype=torch.int8)),  # T = 299 does not fit in int8
                Arg(torch.zeros(3, 2), TypeError),
                Arg(torch.zeros(1, 2, dtype=torch.long), ValueError),
                Arg([[0, 1], [1, 1]], TypeError),
            ]
        )
    )
    decided = check_outcome(lambda: decided_at(labels.value), {"labels": labels})
    if decided is not None:
        lab = labels.value.long()
        for b, t in enumerate(decided.tolist()):
            assert 1 <= t <= lab.shape[0] - 1
            assert (lab[1 : t + 1, b] == lab[1, b]).all()
            assert t == lab.shape[0] - 1 or lab[t + 1, b] != lab[1, b]


@FEW
@given(data=st.data())
def test_seeded_and_mse_read_their_arguments(data):
    from ddpm_sampling.chapter_helpers import mse
    from ddpm_sampling.chapter_helpers import seeded as book_seeded

    seed = data.draw(
        st.one_of(
            st.integers(0, 2**64 - 1).map(Arg),
            st.sampled_from(
                [
                    Arg(np.int64(3)),
                    Arg(-1, ValueError),
                    Arg(2**64, ValueError),
                    Arg(1.0, TypeError),
                    Arg(True, TypeError),
                ]
            ),
        )
    )
    g = check_outcome(lambda: book_seeded(seed.value), {"seed": seed})
    if g is not None:
        assert g.initial_seed() == int(seed.value)
    shape = data.draw(image_shapes())
    a = data.draw(good_images(shape, [torch.float32, torch.float64, torch.float16]))
    b = data.draw(
        st.sampled_from(
            [
                Arg(images(shape, 5)),
                Arg(images(shape, 5).long()),
                Arg(images((*shape[:-1], shape[-1] + 1)), ValueError),
                Arg(torch.full(shape, math.nan), ValueError),
                Arg(images(shape, 5) > 0, TypeError),
                Arg(images(shape, 5).numpy(), TypeError),
                Arg(torch.empty(0), ValueError),
            ]
        )
    )
    got = check_outcome(lambda: mse(a, b.value), {"b": b})
    if got is not None:
        want = float(((a.double() - b.value.double()) ** 2).mean())
        assert got == pytest.approx(want, rel=1e-12) and math.isfinite(got)


@FEW
@given(data=st.data())
def test_reverse_chain_reads_its_steps(data):
    from ddpm_sampling.samplers import ReverseStep, reverse_chain

    s = schedule_of((10, 0.008, 0.999))
    oracle = target_oracle(images((1, 3, 3)).clamp(-1, 1), s)
    halve = lambda x, eps: x / 2  # noqa: E731
    steps = data.draw(
        st.sampled_from(
            [
                Arg([ReverseStep(10, 4, halve), ReverseStep(4, 0, halve)]),
                Arg([ReverseStep(11, 0, halve)], ValueError),
                Arg([ReverseStep(3, 3, halve)], ValueError),
                Arg([ReverseStep(3.0, 0, halve)], TypeError),
                Arg([(3, 0, halve)], TypeError),
                Arg([ReverseStep(3, 0, "halve")], TypeError),
                Arg(5, TypeError),
            ]
        )
    )
    x = data.draw(st.sampled_from([Arg(images((1, 3, 3), 1)), Arg(torch.zeros(3, 3), ValueError)]))

    def run():
        return list(reverse_chain(oracle, s, x.value, steps.value))

    out = check_outcome(run, {"steps": steps, "x": x})
    if out is not None:
        assert [t for t, _ in out] == [4, 0]
        torch.testing.assert_close(out[-1][1], x.value / 4)


# ---- evaluation, cost and the network ----------------------------------------------------------------


@FEW
@given(data=st.data())
def test_the_frechet_distance_and_its_statistics_read_their_features(data):
    from ddpm_sampling import frechet_distance
    from ddpm_sampling.metrics import frechet_distance_gaussians, gaussian_statistics

    n, d = data.draw(st.integers(2, 6)), data.draw(st.integers(1, 3))
    a = images((n, d), 1, data.draw(st.sampled_from([torch.float32, torch.float64])))
    b = data.draw(
        st.sampled_from(
            [
                Arg(images((n + 1, d), 2)),
                Arg(images((n, d + 1), 2), ValueError),
                Arg(images((1, d), 2), ValueError),
                Arg(images((n,), 2), ValueError),
                Arg(torch.full((n, d), math.inf), ValueError),
                Arg(images((n, d), 2).long(), TypeError),
                Arg(images((n, d), 2).numpy(), TypeError),
            ]
        )
    )
    got = check_outcome(lambda: frechet_distance(a, b.value), {"features_b": b})
    if got is None:
        return
    assert math.isfinite(got) and got >= 0
    mu, cov = gaussian_statistics(b.value)
    assert got == pytest.approx(frechet_distance_gaussians(*gaussian_statistics(a), mu, cov))
    assert frechet_distance(a, a) == pytest.approx(0, abs=1e-6 * (1 + float(a.double().abs().max()) ** 2))
    with pytest.raises(ValueError, match="sigma2"):
        frechet_distance_gaussians(mu, cov, mu, torch.full_like(cov, math.nan))


@FEW
@given(data=st.data())
def test_class_shares_saturation_and_nearest_training_read_their_arguments(data):
    from ddpm_sampling import nearest_training
    from ddpm_sampling.metrics import class_shares, saturated

    labels = data.draw(
        st.one_of(
            st.lists(st.integers(0, 9), min_size=1, max_size=8).map(lambda v: Arg(torch.tensor(v))),
            st.sampled_from(
                [
                    Arg(torch.tensor([0, 10]), ValueError),
                    Arg(torch.tensor([-1]), ValueError),
                    Arg(torch.tensor([], dtype=torch.long), ValueError),
                    Arg(torch.tensor([1, 2], dtype=torch.uint8), TypeError),
                    Arg(torch.tensor([0.0]), TypeError),
                    Arg([1, 2], TypeError),
                ]
            ),
        )
    )
    shares = check_outcome(lambda: class_shares(labels.value), {"labels": labels})
    if shares is not None:
        assert shares.shape == (10,) and float(shares.sum()) == pytest.approx(1.0)
        assert torch.equal(shares * len(labels.value), torch.bincount(labels.value, minlength=10).double())
    shape = data.draw(image_shapes(batched=True))
    x = data.draw(good_images(shape, [torch.float32, torch.float64]))
    margin = data.draw(st.sampled_from([Arg(0.1), Arg(np.float32(0.2)), Arg(-1.0, ValueError), Arg("0.1", TypeError)]))
    frac = check_outcome(lambda: saturated(x, margin.value), {"margin": margin})
    if frac is not None:
        want = (x.abs() > 1 + float(margin.value)).flatten(1).double().mean(1)
        assert torch.equal(frac, want)
    # the same C, H, W; or another shape with the same pixel count, which is another image size
    other = data.draw(st.sampled_from([shape[1:], (shape[1], shape[3], shape[2]), (shape[1], shape[2] * shape[3], 1)]))
    data_arg = data.draw(
        st.sampled_from(
            [
                Arg(images((5, *other), 3), None if tuple(other) == tuple(shape[1:]) else ValueError),
                Arg(images((5, *shape[1:]), 3).flatten(1), ValueError),
                Arg(torch.full((5, *shape[1:]), math.nan), ValueError),
            ]
        )
    )
    chunk = data.draw(st.sampled_from([Arg(2), Arg(10_000), Arg(0, ValueError), Arg(2.0, TypeError)]))
    found = check_outcome(
        lambda: nearest_training(x, data_arg.value, chunk.value), {"data": data_arg, "samples": Arg(x), "chunk": chunk}
    )
    if found is not None:
        index, rms = found
        d = ((x.double().flatten(1)[:, None] - data_arg.value.double().flatten(1)[None]) ** 2).mean(-1)
        assert torch.allclose(rms, d.min(1).values.sqrt(), rtol=1e-6, atol=1e-9)
        assert torch.allclose(d[torch.arange(len(index)), index], d.min(1).values, rtol=1e-9, atol=1e-12)


@FEW
@given(data=st.data())
def test_noise_prediction_error_and_sample_point_read_their_arguments(data):
    from ddpm_sampling.evaluate import sample_point
    from ddpm_sampling.metrics import noise_prediction_error

    s = schedule_of((10, 0.008, 0.999))
    clean = images((2, 1, 3, 3)).clamp(-1, 1)
    timesteps = data.draw(
        st.one_of(
            st.lists(st.integers(1, 10), min_size=1, max_size=3).map(Arg),
            st.sampled_from([Arg([0], ValueError), Arg([], ValueError), Arg([2.5], TypeError), Arg(3, TypeError)]),
        )
    )
    generator = data.draw(st.sampled_from([Arg(seeded(0)), Arg(None, TypeError), Arg([seeded(0)], TypeError)]))
    model = data.draw(
        st.sampled_from(
            [Arg(target_oracle(clean, s)), Arg(lambda x, t: x[..., :2], ValueError), Arg("model", TypeError)]
        )
    )
    if (timesteps.error or generator.error) and model.error is ValueError:
        model = Arg(model.value)  # the arguments are read before the model is ever called
    errors = check_outcome(
        lambda: noise_prediction_error(model.value, s, clean, timesteps.value, generator.value),
        {"timesteps": timesteps, "generator": generator, "model": model},
    )
    if errors is not None:
        eps_rms, x0_rms = errors
        assert eps_rms.shape == x0_rms.shape == (len(timesteps.value),)
        assert eps_rms.max() < 1e-3 and x0_rms.max() < 1e-3  # the oracle knows the noise
    sampler = data.draw(
        st.sampled_from([Arg("DDIM"), Arg("strided DDPM"), Arg("ddim", ValueError), Arg(None, ValueError)])
    )
    steps = data.draw(st.sampled_from([Arg(3), Arg(0, ValueError), Arg(3.0, TypeError)]))
    if sampler.error:
        steps = Arg(steps.value)
    oracle = target_oracle(torch.zeros(1, 28, 28), s)
    x0 = check_outcome(
        lambda: sample_point(oracle, s, sampler.value, steps.value, 2, 0), {"sampler": sampler, "steps": steps}
    )
    if x0 is not None:
        assert x0.shape == (2, 1, 28, 28)
        torch.testing.assert_close(x0, torch.zeros_like(x0), rtol=0, atol=1e-3)


@FEW
@given(data=st.data())
def test_the_classifier_helpers_read_their_arguments(data):
    from ddpm_sampling.classifier import Classifier
    from ddpm_sampling.metrics import classifier_features, classify

    net = Classifier(channels=(2, 2)).eval()
    who = data.draw(st.sampled_from([Arg(net), Arg(torch.nn.Linear(2, 2), TypeError), Arg("net", TypeError)]))
    x = data.draw(
        st.sampled_from(
            [
                Arg(images((2, 1, 28, 28))),
                Arg(images((1, 28, 28)), ValueError),
                Arg(images((2, 1, 14, 14)), ValueError),
                Arg(torch.full((2, 1, 28, 28), math.nan), ValueError),
                Arg(images((2, 1, 28, 28)).long(), TypeError),
            ]
        )
    )
    batch_size = data.draw(st.sampled_from([Arg(1), Arg(1000), Arg(0, ValueError), Arg(1.5, TypeError)]))
    args = {"classifier": who, "images": x, "batch_size": batch_size}
    labels = check_outcome(lambda: classify(who.value, x.value, batch_size.value), args)
    features = check_outcome(lambda: classifier_features(who.value, x.value, batch_size.value), args)
    if labels is not None:
        assert labels.shape == (2,) and labels.dtype == torch.long and features.shape == (2, 128)
        assert torch.equal(labels, net(x.value).argmax(1))


@FEW
@given(data=st.data())
def test_the_cost_helpers_read_their_arguments(data):
    from ddpm_sampling.cost import SmallConvNet, cost_curves, cost_table, seconds, time_sampler, timed

    channels = data.draw(st.sampled_from([Arg(2), Arg(np.int64(3)), Arg(0, ValueError), Arg(2.0, TypeError)]))
    gen = data.draw(st.sampled_from([Arg(None), Arg(seeded(0)), Arg(0, TypeError)]))
    net = check_outcome(lambda: SmallConvNet(channels.value, gen.value), {"channels": channels, "generator": gen})
    if net is None:
        return
    x = data.draw(
        st.sampled_from(
            [
                Arg(images((1, 5, 6))),
                Arg(images((2, 1, 5, 6))),
                Arg(images((2, 5, 6)), ValueError),
                Arg(images((1, 5, 6), dtype=torch.float64), TypeError),
                Arg([1.0], TypeError),
            ]
        )
    )
    out = check_outcome(lambda: net(x.value, 3), {"x_t": x})
    if out is not None:
        assert out.shape == x.value.shape and torch.isfinite(out).all()
    size = data.draw(st.sampled_from([Arg(4), Arg(0, ValueError), Arg(4.0, TypeError)]))
    flops = check_outcome(lambda: net.flops(size.value, 5), {"height": size})
    if flops is not None:
        assert flops == net.flops(1, 1) * 4 * 5
    fn = data.draw(st.sampled_from([Arg(lambda: 1), Arg(None, TypeError)]))
    repeat = data.draw(st.sampled_from([Arg(1), Arg(0, ValueError), Arg(1.0, TypeError)]))
    took = check_outcome(lambda: seconds(fn.value, repeat.value), {"fn": fn, "repeat": repeat})
    assert took is None or took >= 0
    result = check_outcome(lambda: timed(fn.value), {"fn": fn})
    assert result is None or result[0] == 1
    s = schedule_of((10, 0.008, 0.999))
    sampler = data.draw(st.sampled_from([Arg("DDIM"), Arg("DDPM", ValueError)]))
    shape = data.draw(st.sampled_from([Arg((1, 4, 4)), Arg((2, 1, 4, 4)), Arg((4, 4), ValueError)]))
    per_image = check_outcome(
        lambda: time_sampler(sampler.value, net, s, 2, shape.value, repeat=1), {"sampler": sampler, "shape": shape}
    )
    assert per_image is None or per_image > 0
    steps = data.draw(
        st.sampled_from([Arg([1, 2]), Arg([2, 1], ValueError), Arg([0], ValueError), Arg([], ValueError)])
    )
    models = data.draw(
        st.sampled_from([Arg({"net": (net, (1, 4, 4))}), Arg({"net": net}, TypeError), Arg({}, TypeError)])
    )
    budget = data.draw(st.sampled_from([Arg(10.0), Arg(0.0, ValueError), Arg("1", TypeError)]))
    curves = check_outcome(
        lambda: cost_curves(models.value, s, steps.value, budget.value),
        {"steps": steps, "models": models, "budget_s": budget},
    )
    if curves is not None:
        per_call, per_sample = curves
        assert per_call["net"] > 0 and len(per_sample["net"]) == 2
        table = cost_table(per_call, per_sample, steps.value)
        assert len(table.rows) == 1
        with pytest.raises(ValueError, match="per_sample"):
            cost_table({}, per_sample, steps.value)


@FEW
@given(data=st.data())
def test_the_unet_reads_its_call(data):
    from ddpm_sampling.unet import UNet, UNetConfig

    torch.manual_seed(0)
    net = UNet(UNetConfig(channels=(4, 4, 4), time_dim=8, groups=2)).eval()
    shape = data.draw(st.sampled_from([(1, 8, 8), (2, 1, 4, 8)]))
    x = data.draw(
        st.sampled_from(
            [
                Arg(images(shape)),
                Arg(images((*shape[:-1], 6)), ValueError),
                Arg(images((*shape[:-3], 2, *shape[-2:])), ValueError),
                Arg(images(shape).double(), TypeError),
                Arg(images(shape).long(), TypeError),
                Arg(images(shape).numpy(), TypeError),
            ]
        )
    )
    batch = shape[0] if len(shape) == 4 else None
    t = data.draw(
        st.one_of(
            good_timesteps(0, 1000, batch).map(lambda pair: pair[0]),
            st.sampled_from(
                [Arg(-1, ValueError), Arg(torch.tensor(2, dtype=torch.uint8), TypeError), Arg(2.0, TypeError)]
            ),
        )
    )
    with torch.no_grad():
        out = check_outcome(lambda: net(x.value, t.value), {"x_t": x, "t": t})
    if out is not None:
        assert out.shape == x.value.shape and out.dtype == torch.float32 and torch.isfinite(out).all()


@FEW
@given(data=st.data())
def test_a_unet_config_is_read_field_by_field(data):
    from ddpm_sampling.unet import UNet, UNetConfig

    fields = {
        "image_channels": data.draw(
            st.sampled_from([Arg(1), Arg(np.int64(2)), Arg(0, ValueError), Arg(1.0, TypeError), Arg(True, TypeError)])
        ),
        "channels": data.draw(
            st.sampled_from(
                [
                    Arg((4, 4, 4)),
                    Arg([2, 4, 6]),
                    Arg((4, 4), ValueError),
                    Arg((4, 0, 4), ValueError),
                    Arg((4, 4.0, 4), TypeError),
                    Arg("444", TypeError),
                ]
            )
        ),
        "time_dim": data.draw(st.sampled_from([Arg(2), Arg(8), Arg(7, ValueError), Arg(0, ValueError)])),
        "groups": data.draw(st.sampled_from([Arg(1), Arg(2), Arg(0, ValueError), Arg(2.0, TypeError)])),
        "max_period": data.draw(
            st.sampled_from(
                [Arg(10.0), Arg(np.float32(1e4)), Arg(0.0, ValueError), Arg(math.inf, ValueError), Arg("1", TypeError)]
            )
        ),
    }
    if data.draw(st.booleans()) and not fields["channels"].error:  # groups that do not divide the channels
        fields["groups"] = Arg(3, ValueError)
    config = check_outcome(lambda: UNetConfig(**{k: a.value for k, a in fields.items()}), fields)
    if config is None:
        return
    assert isinstance(config.channels, tuple) and all(type(c) is int for c in config.channels)
    assert UNetConfig.from_dict(config.to_dict()) == config
    net = UNet(config).eval()
    x = images((2, config.image_channels, 4, 8))
    with torch.no_grad():
        out = net(x, torch.tensor([0, 999]))
    assert out.shape == x.shape and torch.isfinite(out).all()
    with pytest.raises(TypeError, match=r"config must be a UNetConfig or None, got \{"):
        UNet(config.to_dict())


@pytest.fixture(scope="module")
def weights_copy(tmp_path_factory):
    """A copy of the shipped weights and records in a folder of its own."""
    import shutil

    from ddpm_sampling.pretrained import WEIGHTS_DIR

    folder = tmp_path_factory.mktemp("weights")
    for f in WEIGHTS_DIR.glob("*.*"):
        shutil.copy(f, folder / f.name)
    return folder


@settings(PROPERTY, max_examples=15)
@given(data=st.data())
def test_the_shipped_networks_load_from_a_folder_or_name_the_bad_argument(weights_copy, data):
    from ddpm_sampling import WeightsError, load_classifier, load_pretrained, training_record
    from ddpm_sampling.classifier import Classifier
    from ddpm_sampling.unet import UNet

    folder = data.draw(
        st.sampled_from(
            [
                Arg(None),
                Arg(str(weights_copy)),
                Arg(weights_copy),
                Arg("", ValueError),  # once read as "the package's folder"
                Arg("wei\0ghts", ValueError),
                Arg(5, TypeError),
                Arg(bytes(weights_copy), TypeError),
                Arg([str(weights_copy)], TypeError),
            ]
        )
    )
    name = data.draw(
        st.sampled_from(
            [Arg("unet"), Arg("classifier"), Arg("UNet", ValueError), Arg(3, ValueError), Arg(None, ValueError)]
        )
    )
    record = check_outcome(lambda: training_record(name.value, folder.value), {"name": name, "folder": folder})
    if record is not None:
        assert record["sha256"] and record == training_record(name.value)
    kind = data.draw(st.sampled_from([(load_pretrained, UNet), (load_classifier, Classifier)]))
    network = check_outcome(lambda: kind[0](folder.value), {"folder": folder})
    if network is not None:
        assert isinstance(network, kind[1]) and not network.training
        assert not any(p.requires_grad for p in network.parameters())
    with pytest.raises(WeightsError, match=r"is missing"):  # a folder without them: the error that says how to fix it
        kind[0](weights_copy / "nowhere")


@FEW
@given(data=st.data())
def test_first_index_of_and_one_per_class_read_their_dataset(data):
    from types import SimpleNamespace

    from ddpm_sampling import first_index_of, one_per_class

    targets = data.draw(
        st.one_of(
            st.lists(st.integers(0, 9), min_size=1, max_size=40).map(lambda v: Arg(SimpleNamespace(targets=v))),
            st.sampled_from(
                [
                    Arg(SimpleNamespace(targets=torch.arange(10).flip(0))),
                    Arg(SimpleNamespace(targets=torch.zeros(3)), TypeError),
                    Arg(SimpleNamespace(targets=torch.zeros(2, 10, dtype=torch.long)), ValueError),
                    Arg(SimpleNamespace(), TypeError),
                    Arg(list(range(10)), TypeError),
                ]
            ),
        )
    )
    labels = getattr(targets.value, "targets", None)
    present = set(torch.as_tensor(labels).flatten().tolist()) if targets.error is None else set()
    if targets.error is None and present != set(range(10)):
        targets = Arg(targets.value, ValueError)  # a class with no example: the dataset is named
    got = check_outcome(lambda: one_per_class(targets.value), {"dataset": targets})
    if got is not None:
        listed = torch.as_tensor(labels).tolist()
        assert got == [listed.index(c) for c in range(10)]
        assert all(first_index_of(targets.value, c) == i for c, i in enumerate(got))
