"""The oracle and the imperfect model that stand in for a trained network."""

from __future__ import annotations

import math

import pytest
import torch

from ddpm_sampling import cosine_schedule, noisy_model, target_oracle

T = 50


@pytest.fixture(scope="module")
def schedule():
    return cosine_schedule(T)


def randn(shape, seed: int) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def alpha_bar_f64(t: int, T: int = T, s: float = 0.008) -> float:
    f = lambda u: math.cos((u / T + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
    return f(t) / f(0)


@pytest.mark.parametrize("t", [1, 10, 30, 49])
def test_oracle_returns_the_noise_that_explains_x_t(schedule, t):
    x_target, x_t = randn((2, 1, 5, 5), 0), randn((2, 1, 5, 5), 1)
    ab = alpha_bar_f64(t)
    expected = (x_t.double() - math.sqrt(ab) * x_target.double()) / math.sqrt(1 - ab)
    got = target_oracle(x_target, schedule)(x_t, t)
    torch.testing.assert_close(got.double(), expected, rtol=1e-5, atol=1e-5)


def test_oracle_with_one_timestep_per_image(schedule):
    x_target, x_t = randn((3, 1, 5, 5), 2), randn((3, 1, 5, 5), 3)
    oracle = target_oracle(x_target, schedule)
    t = torch.tensor([1, 20, 45])
    got = oracle(x_t, t)
    for i, ti in enumerate(t.tolist()):
        single = target_oracle(x_target[i], schedule)(x_t[i], ti)
        torch.testing.assert_close(got[i], single, rtol=1e-6, atol=1e-6)


def test_oracle_keeps_its_own_copy_of_the_target(schedule):
    x_target, x_t = randn((1, 5, 5), 4), randn((1, 5, 5), 5)
    oracle = target_oracle(x_target, schedule)
    before = oracle(x_t, 10)
    x_target += 100  # changing the caller's tensor afterwards must not change the oracle
    assert torch.equal(oracle(x_t, 10), before)


@pytest.mark.parametrize("t", [0, T + 1])
def test_oracle_rejects_t_outside_1_to_T(schedule, t):
    oracle = target_oracle(randn((1, 5, 5), 6), schedule)
    with pytest.raises(ValueError, match=rf"t = {t} is outside the valid range 1\.\.{T}"):
        oracle(randn((1, 5, 5), 7), t)


@pytest.mark.parametrize("bad", [float("nan"), float("-inf")])
def test_oracle_rejects_a_non_finite_target(schedule, bad):
    x_target = torch.zeros(1, 5, 5)
    x_target[0, 0, 0] = bad
    with pytest.raises(ValueError, match=r"x_target holds 1 non-finite value\(s\)"):
        target_oracle(x_target, schedule)


def test_noisy_model_at_level_zero_is_the_model(schedule):
    oracle = target_oracle(randn((2, 1, 5, 5), 8), schedule)
    x_t = randn((2, 1, 5, 5), 9)
    assert torch.equal(noisy_model(oracle, 0, torch.Generator().manual_seed(0))(x_t, 20), oracle(x_t, 20))


@pytest.mark.parametrize("level", [0.1, 1.0, 3.0])
def test_noisy_model_adds_error_of_the_asked_standard_deviation(level):
    def zero(x_t, t):
        return torch.zeros_like(x_t)

    model = noisy_model(zero, level, torch.Generator().manual_seed(1))
    err = model(torch.zeros(4, 1, 64, 64), 5)  # 16,384 draws: the std is within about 1.1% (2 sigma)
    assert err.std().item() == pytest.approx(level, rel=0.03)
    assert abs(err.mean().item()) < 0.03 * level


def test_noisy_model_is_reproducible_and_seed_dependent(schedule):
    oracle = target_oracle(randn((1, 5, 5), 10), schedule)
    x_t = randn((1, 5, 5), 11)
    a = noisy_model(oracle, 0.5, torch.Generator().manual_seed(3))(x_t, 7)
    b = noisy_model(oracle, 0.5, torch.Generator().manual_seed(3))(x_t, 7)
    c = noisy_model(oracle, 0.5, torch.Generator().manual_seed(4))(x_t, 7)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_noisy_model_with_one_generator_per_image(schedule):
    x_target, x_t = randn((3, 1, 5, 5), 12), randn((3, 1, 5, 5), 13)
    batch = noisy_model(target_oracle(x_target, schedule), 0.5, [torch.Generator().manual_seed(i) for i in range(3)])
    got = batch(x_t, 15)
    for i in range(3):
        single = noisy_model(target_oracle(x_target[i], schedule), 0.5, torch.Generator().manual_seed(i))
        torch.testing.assert_close(got[i], single(x_t[i], 15), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("level", [-0.1, -1, float("nan"), float("inf")])
def test_noisy_model_rejects_a_level_outside_zero_to_infinity(schedule, level):
    oracle = target_oracle(randn((1, 5, 5), 14), schedule)
    with pytest.raises(ValueError, match=rf"level = {level!r} is outside the valid range \[0, inf\)"):
        noisy_model(oracle, level)


def test_noisy_model_rejects_a_non_callable_and_bad_generators(schedule):
    # wrong types are TypeErrors that name the type needed
    with pytest.raises(TypeError, match=r"model must be callable .*got a tensor"):
        noisy_model(torch.zeros(3), 0.1)
    with pytest.raises(TypeError, match=r"generator must be a torch\.Generator.*got 42 \(int\)"):
        noisy_model(target_oracle(randn((1, 5, 5), 15), schedule), 0.1, 42)
    with pytest.raises(TypeError, match=r"level must be a real number .*got '0.1'"):
        noisy_model(target_oracle(randn((1, 5, 5), 15), schedule), "0.1")


def test_noisy_model_with_a_generator_list_needs_a_matching_batch(schedule):
    model = noisy_model(target_oracle(randn((1, 5, 5), 16), schedule), 0.1, [torch.Generator() for _ in range(3)])
    with pytest.raises(ValueError, match=r"got 3 generators for x of shape \(4, 1, 5, 5\)"):
        model(randn((4, 1, 5, 5), 17), 5)
    unbatched = noisy_model(lambda x, t: torch.zeros_like(x), 0.1, [torch.Generator() for _ in range(3)])
    with pytest.raises(ValueError, match=r"got 3 generators for x of shape \(3, 5, 5\)"):
        unbatched(randn((3, 5, 5), 18), 5)  # an unbatched image: its channels are not images
