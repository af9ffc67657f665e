"""Forward jump, one-shot estimate and one reverse step, checked against DDPM's formulas in float64."""

from __future__ import annotations

import math

import pytest
import torch

from ddpm_sampling import cosine_schedule, predict_x0, q_sample, reverse_step, target_oracle

T = 1000


def independent_chain(T: int, max_beta: float | None = 0.999, s: float = 0.008) -> tuple[list[float], list[float]]:
    """(alpha_bar, beta) of the cosine schedule in plain float64, clipped as Improved DDPM does."""
    f = [math.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2 for t in range(T + 1)]
    ab = [v / f[0] for v in f]
    beta = [0.0] + [1 - ab[t] / ab[t - 1] for t in range(1, T + 1)]
    if max_beta is not None:
        beta = [min(b, max_beta) for b in beta]
        ab = [1.0]
        for b in beta[1:]:
            ab.append(ab[-1] * (1 - b))
    return ab, beta


def posterior_mean(x0: torch.Tensor, x_t: torch.Tensor, t: int, ab: list[float], beta: list[float]) -> torch.Tensor:
    """mu_tilde_t(x_t, x_0) of q(x_{t-1} | x_t, x_0), DDPM eq. 7, in float64."""
    alpha_t = 1 - beta[t]
    c0 = math.sqrt(ab[t - 1]) * beta[t] / (1 - ab[t])
    ct = math.sqrt(alpha_t) * (1 - ab[t - 1]) / (1 - ab[t])
    return c0 * x0.double() + ct * x_t.double()


@pytest.fixture(scope="module")
def schedule():
    return cosine_schedule(T)


@pytest.fixture(scope="module")
def chain():
    return independent_chain(T)


def images(seed: int, shape=(2, 1, 8, 8), dtype=torch.float32) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


@pytest.mark.parametrize("t", [1, 2, 10, 100, 500, 900, 999, 1000])
def test_reverse_step_with_oracle_and_no_noise_is_the_posterior_mean(schedule, chain, t):
    x0 = images(0).clamp(-1, 1)
    x_t = images(1)  # any x_t: the oracle's eps makes the x_0 estimate exactly x0
    eps = target_oracle(x0, schedule)(x_t, t)
    got = reverse_step(x_t, t, eps, schedule, z=torch.zeros_like(x_t))
    expected = posterior_mean(x0, x_t, t, *chain)
    torch.testing.assert_close(got.double(), expected, rtol=0, atol=1e-4 if t == T else 2e-5)


@pytest.mark.parametrize("t", [3, 250, 750])
def test_reverse_step_with_oracle_on_the_forward_path_is_the_posterior_mean(schedule, chain, t):
    x0, eps = images(2).clamp(-1, 1), images(3)
    x_t = q_sample(x0, t, eps, schedule)
    # on the forward path the oracle returns the very noise that made x_t
    torch.testing.assert_close(target_oracle(x0, schedule)(x_t, t), eps, rtol=0, atol=2e-4)
    got = reverse_step(x_t, t, eps, schedule, z=torch.zeros_like(x_t))
    torch.testing.assert_close(got.double(), posterior_mean(x0, x_t, t, *chain), rtol=0, atol=2e-5)


def test_q_sample_is_the_closed_form_forward_jump(schedule, chain):
    ab, _ = chain
    x0, eps = images(4), images(5)
    for t in (0, 1, 300, 1000):
        expected = math.sqrt(ab[t]) * x0.double() + math.sqrt(1 - ab[t]) * eps.double()
        torch.testing.assert_close(q_sample(x0, t, eps, schedule).double(), expected, rtol=0, atol=1e-6)
    assert torch.equal(q_sample(x0, 0, eps, schedule), x0)  # t = 0 is the clean image


@pytest.mark.parametrize("t", [1, 7, 25, 49, 50])
def test_predict_x0_inverts_q_sample_in_float64(t):
    s = cosine_schedule(50)
    x0, eps = images(6, dtype=torch.float64), images(7, dtype=torch.float64)
    torch.testing.assert_close(predict_x0(q_sample(x0, t, eps, s), t, eps, s), x0, rtol=0, atol=1e-9)


@pytest.mark.parametrize("t", [1, 100, 500, 900])
def test_predict_x0_inverts_q_sample_in_float32(schedule, t):
    x0, eps = images(8), images(9)
    torch.testing.assert_close(predict_x0(q_sample(x0, t, eps, schedule), t, eps, schedule), x0, rtol=0, atol=1e-4)


def test_predict_x0_with_one_timestep_per_image(schedule):
    x0, eps = images(10, shape=(3, 1, 4, 4)), images(11, shape=(3, 1, 4, 4))
    t = torch.tensor([1, 400, 800])
    x_t = q_sample(x0, t, eps, schedule)
    for i, ti in enumerate(t.tolist()):
        torch.testing.assert_close(x_t[i], q_sample(x0[i], ti, eps[i], schedule), rtol=0, atol=0)
    torch.testing.assert_close(predict_x0(x_t, t, eps, schedule), x0, rtol=0, atol=1e-4)


@pytest.mark.parametrize("t", [1, torch.tensor(1)])
def test_no_noise_at_t_equal_one_whatever_z_is(schedule, t):
    x_t, eps = images(12), images(13)
    without = reverse_step(x_t, t, eps, schedule, z=torch.zeros_like(x_t))
    with_big_z = reverse_step(x_t, t, eps, schedule, z=torch.full_like(x_t, 1e3))
    drawn = reverse_step(x_t, t, eps, schedule, generator=torch.Generator().manual_seed(0))
    assert torch.equal(with_big_z, without)
    assert torch.equal(drawn, without)


def test_noise_is_added_above_t_equal_one(schedule, chain):
    _, beta = chain
    x_t, eps, z = images(14), images(15), images(16)
    for t in (2, 500):
        diff = reverse_step(x_t, t, eps, schedule, z=z) - reverse_step(x_t, t, eps, schedule, z=torch.zeros_like(z))
        torch.testing.assert_close(diff.double(), math.sqrt(beta[t]) * z.double(), rtol=0, atol=1e-6)


def test_beta_tilde_variance_uses_the_posterior_standard_deviation(schedule, chain):
    ab, beta = chain
    x_t, eps, z = images(17), images(18), images(19)
    for t in (2, 10, 500, 999):
        beta_tilde = beta[t] * (1 - ab[t - 1]) / (1 - ab[t])
        zero = torch.zeros_like(z)
        diff = reverse_step(x_t, t, eps, schedule, z=z, variance="beta_tilde") - reverse_step(
            x_t, t, eps, schedule, z=zero, variance="beta_tilde"
        )
        torch.testing.assert_close(diff.double(), math.sqrt(beta_tilde) * z.double(), rtol=0, atol=1e-6)
        assert math.sqrt(beta_tilde) < math.sqrt(beta[t])  # and it differs from the default


def test_per_image_timesteps_equal_per_image_int_calls(schedule):
    x_t, eps, z = images(20, shape=(4, 1, 6, 6)), images(21, shape=(4, 1, 6, 6)), images(22, shape=(4, 1, 6, 6))
    t = torch.tensor([1, 2, 600, 1000])
    batch = reverse_step(x_t, t, eps, schedule, z=z)
    for i, ti in enumerate(t.tolist()):
        single = reverse_step(x_t[i], ti, eps[i], schedule, z=z[i])
        torch.testing.assert_close(batch[i], single, rtol=1e-6, atol=1e-6)
    # image 0 sits at t = 1: no noise even inside a batch
    no_noise = reverse_step(x_t, t, eps, schedule, z=torch.zeros_like(z))
    assert torch.equal(batch[0], no_noise[0])
    assert not torch.equal(batch[1], no_noise[1])


def test_drawn_noise_is_reproducible_with_a_seeded_generator(schedule):
    x_t, eps = images(23), images(24)
    a = reverse_step(x_t, 500, eps, schedule, generator=torch.Generator().manual_seed(5))
    b = reverse_step(x_t, 500, eps, schedule, generator=torch.Generator().manual_seed(5))
    c = reverse_step(x_t, 500, eps, schedule, generator=torch.Generator().manual_seed(6))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_reverse_step_does_not_modify_its_inputs(schedule):
    x_t, eps, z = images(25), images(26), images(27)
    copies = [x.clone() for x in (x_t, eps, z)]
    reverse_step(x_t, 300, eps, schedule, z=z)
    for x, c in zip((x_t, eps, z), copies):
        assert torch.equal(x, c)


# ---- bad input -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("t", [0, -2, 51, torch.tensor(0), torch.tensor([5, 51])])
def test_reverse_step_and_predict_x0_reject_t_outside_1_to_T(t):
    s = cosine_schedule(50)
    x = images(28, shape=(2, 1, 4, 4))
    bad = t if isinstance(t, int) else int(t.flatten()[-1])
    with pytest.raises(ValueError, match=rf"t = {bad} is outside the valid range 1\.\.50"):
        reverse_step(x, t, x, s, z=x)
    with pytest.raises(ValueError, match=rf"t = {bad} is outside the valid range 1\.\.50"):
        predict_x0(x, t, x, s)


@pytest.mark.parametrize("t", [-1, 51])
def test_q_sample_rejects_t_outside_0_to_T(t):
    s = cosine_schedule(50)
    x = images(29)
    with pytest.raises(ValueError, match=rf"t = {t} is outside the valid range 0\.\.50"):
        q_sample(x, t, x, s)


def test_non_integer_timesteps_are_rejected(schedule):
    x = images(30)
    with pytest.raises(TypeError, match=r"t must be an int .*got 3\.0"):
        reverse_step(x, 3.0, x, schedule)
    with pytest.raises(TypeError, match=r"t must hold integers.*float"):
        predict_x0(x, torch.tensor([3.0, 4.0]), x, schedule)
    with pytest.raises(TypeError, match=r"t must be an int .*got True"):
        q_sample(x, True, x, schedule)


def test_shape_mismatches_are_rejected(schedule):
    x, other = images(31, shape=(2, 1, 4, 4)), images(32, shape=(2, 1, 4, 5))
    with pytest.raises(
        ValueError, match=r"x_t and eps must have the same shape, got \(2, 1, 4, 4\) and \(2, 1, 4, 5\)"
    ):
        reverse_step(x, 10, other, schedule)
    with pytest.raises(ValueError, match=r"x_t and eps must have the same shape"):
        predict_x0(x, 10, other, schedule)
    with pytest.raises(ValueError, match=r"x0 and eps must have the same shape"):
        q_sample(x, 10, other, schedule)
    with pytest.raises(ValueError, match=r"x_t and z must have the same shape"):
        reverse_step(x, 10, x, schedule, z=other)


def test_image_rank_and_per_image_timesteps_must_fit(schedule):
    with pytest.raises(ValueError, match=r"x_t must have shape \(C, H, W\) or \(B, C, H, W\), got \(4, 4\)"):
        reverse_step(torch.zeros(4, 4), 10, torch.zeros(4, 4), schedule)
    x = images(33, shape=(2, 1, 4, 4))
    with pytest.raises(ValueError, match=r"t has 3 timesteps but x has shape \(2, 1, 4, 4\)"):
        reverse_step(x, torch.tensor([1, 2, 3]), x, schedule)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_tensors_are_rejected(schedule, bad):
    good = images(34)
    broken = good.clone()
    broken[0, 0, 1, 2] = bad
    msg = r"holds 1 non-finite value\(s\) \(NaN or inf\); every value must be finite"
    with pytest.raises(ValueError, match="x_t " + msg):
        reverse_step(broken, 10, good, schedule)
    with pytest.raises(ValueError, match="eps " + msg):
        reverse_step(good, 10, broken, schedule)
    with pytest.raises(ValueError, match="z " + msg):
        reverse_step(good, 10, good, schedule, z=broken)
    with pytest.raises(ValueError, match="x0 " + msg):
        q_sample(broken, 10, good, schedule)
    with pytest.raises(ValueError, match="eps " + msg):
        predict_x0(good, 10, broken, schedule)


def test_integer_tensors_are_rejected_as_images(schedule):
    x = torch.zeros(1, 4, 4, dtype=torch.int64)
    with pytest.raises(TypeError, match=r"x_t must be a floating-point tensor, got dtype torch\.int64"):
        reverse_step(x, 10, x, schedule)


@pytest.mark.parametrize("variance", ["sigma", "Beta", None])
def test_unknown_variance_is_rejected(schedule, variance):
    x = images(35)
    with pytest.raises(ValueError, match=rf"variance = {variance!r} is not one of \('beta', 'beta_tilde'\)"):
        reverse_step(x, 10, x, schedule, variance=variance)


def test_bad_generators_are_rejected(schedule):
    x = images(36, shape=(2, 1, 4, 4))
    with pytest.raises(ValueError, match=r"got 3 generators for x of shape \(2, 1, 4, 4\)"):
        reverse_step(x, 10, x, schedule, generator=[torch.Generator() for _ in range(3)])
    with pytest.raises(TypeError, match=r"generator must be a torch\.Generator.*got 0 \(int\)"):
        reverse_step(x, 10, x, schedule, generator=0)
