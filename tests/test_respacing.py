"""Strided DDPM and DDIM against the full DDPM loop and against their own definitions."""

import pytest
import torch

from ddpm_sampling import (
    cosine_schedule,
    ddim_sample,
    ddpm_sample,
    ideal_denoiser,
    respaced_timesteps,
    strided_ddpm_sample,
)
from ddpm_sampling.respacing import respaced_schedule

T = 60
SHAPE = (3, 1, 6, 6)


@pytest.fixture(scope="module")
def setup():
    s = cosine_schedule(T)
    data = torch.rand(10, 1, 6, 6, generator=torch.Generator().manual_seed(0)) * 2 - 1
    return s, ideal_denoiser(data, s)


def test_respaced_timesteps():
    assert respaced_timesteps(10, 10) == list(range(1, 11))
    assert respaced_timesteps(1000, 1) == [1000]
    assert respaced_timesteps(1000, 4) == [250, 500, 750, 1000]
    for S in (3, 7, 99, 333, 999):
        taus = respaced_timesteps(1000, S)
        assert len(taus) == S and taus[-1] == 1000 and taus[0] >= 1
        assert all(b > a for a, b in zip(taus, taus[1:]))


def test_respaced_schedule_keeps_the_marginals():
    s = cosine_schedule(100)
    taus = [10, 40, 70, 100]
    short = respaced_schedule(s, taus)
    torch.testing.assert_close(short.alpha_bar[1:], s.alpha_bar[taus])
    # beta'_i = 1 - alpha_bar(tau_i) / alpha_bar(tau_{i-1})
    ab = s.alpha_bar.double()
    want = 1 - ab[taus] / ab[[0, *taus[:-1]]]
    torch.testing.assert_close(short.beta[1:].double(), want, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("variance", ["beta", "beta_tilde"])
def test_strided_with_every_step_is_ddpm(setup, variance):
    s, m = setup
    want, _ = ddpm_sample(m, s, shape=SHAPE, generator=torch.Generator().manual_seed(1), variance=variance)
    got, _ = strided_ddpm_sample(
        m, s, num_steps=T, shape=SHAPE, generator=torch.Generator().manual_seed(1), variance=variance
    )
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


def test_the_fewer_step_samplers_keep_the_snapshots_they_are_asked_for(setup):
    s, m = setup
    x_T = torch.randn(SHAPE, generator=torch.Generator().manual_seed(8))
    want = ddpm_sample(m, s, x_T=x_T, generator=torch.Generator().manual_seed(9), snapshot_timesteps=[T, 30, 1, 0])
    got = strided_ddpm_sample(
        m, s, num_steps=T, x_T=x_T, generator=torch.Generator().manual_seed(9), snapshot_timesteps=[0, 1, 30, T]
    )
    assert list(got.snapshots) == [T, 30, 1, 0]  # from the noisiest to the clean, as ddpm_sample keeps them
    torch.testing.assert_close(got.snapshots, want.snapshots, rtol=1e-4, atol=1e-4)
    assert torch.equal(got.snapshots[T], x_T) and torch.equal(got.snapshots[0], got.x0)
    taus = respaced_timesteps(T, 6)
    for sampler in (ddim_sample, strided_ddpm_sample):
        x0, snaps = sampler(m, s, num_steps=6, x_T=x_T, snapshot_timesteps=[0, *taus])
        assert list(snaps) == [*reversed(taus), 0] and torch.equal(snaps[0], x0) and snaps[0] is not x0
        assert sampler(m, s, num_steps=6, x_T=x_T).snapshots == {}
        with pytest.raises(ValueError, match=r"snapshot_timesteps\[1\] = 7 is not a timestep this chain visits"):
            sampler(m, s, num_steps=6, x_T=x_T, snapshot_timesteps=[taus[0], 7])
        with pytest.raises(ValueError, match=r"snapshot_timesteps\[0\] = 61 is outside the valid range 0..60"):
            sampler(m, s, num_steps=6, x_T=x_T, snapshot_timesteps=[61])


def test_ddim_eta_one_with_every_step_is_ddpm_beta_tilde(setup):
    s, m = setup
    want, _ = ddpm_sample(m, s, shape=SHAPE, generator=torch.Generator().manual_seed(2), variance="beta_tilde")
    got, _ = ddim_sample(m, s, num_steps=T, eta=1.0, shape=SHAPE, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


def test_ddim_with_the_oracle_lands_on_its_target():
    """Given the exact noise, every step keeps x on the line to x0, whatever the fresh noise."""
    s = cosine_schedule(2)
    x0 = torch.full((1, 1, 2, 2), 0.5)
    m = lambda x, t: (x - s.sqrt_alpha_bar[t] * x0) / s.sqrt_one_minus_alpha_bar[t]  # noqa: E731
    x_T = torch.randn(1, 1, 2, 2, generator=torch.Generator().manual_seed(3))
    out, _ = ddim_sample(m, s, num_steps=2, eta=1.0, x_T=x_T, generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(out, x0)  # an oracle lands on its target whatever the noise


def test_ddim_eta_zero_is_deterministic_given_x_T(setup):
    s, m = setup
    x_T = torch.randn(SHAPE, generator=torch.Generator().manual_seed(5))
    a, _ = ddim_sample(m, s, num_steps=12, x_T=x_T)
    b, _ = ddim_sample(m, s, num_steps=12, x_T=x_T.clone(), generator=torch.Generator().manual_seed(99))
    assert torch.equal(a, b)
    c, _ = ddim_sample(m, s, num_steps=12, eta=0.5, x_T=x_T, generator=torch.Generator().manual_seed(6))
    assert not torch.allclose(a, c)  # with eta > 0 the noise matters


def test_samplers_do_not_modify_x_T(setup):
    s, m = setup
    x_T = torch.randn(SHAPE, generator=torch.Generator().manual_seed(7))
    keep = x_T.clone()
    ddim_sample(m, s, num_steps=5, eta=1.0, x_T=x_T, generator=torch.Generator().manual_seed(1))
    strided_ddpm_sample(m, s, num_steps=5, x_T=x_T, generator=torch.Generator().manual_seed(1))
    assert torch.equal(x_T, keep)


def test_few_steps_still_finite_and_shaped(setup):
    s, m = setup
    for n in (1, 2, 7):
        for out, _ in (
            ddim_sample(m, s, num_steps=n, shape=(1, 6, 6), generator=torch.Generator().manual_seed(n)),
            strided_ddpm_sample(m, s, num_steps=n, shape=(1, 6, 6), generator=torch.Generator().manual_seed(n)),
        ):
            assert out.shape == (1, 6, 6) and torch.isfinite(out).all()


@pytest.mark.parametrize("num_steps", [0, T + 1])
def test_bad_num_steps(setup, num_steps):
    s, m = setup
    msg = rf"num_steps = .* is outside the valid range 1..{T}"
    with pytest.raises(ValueError, match=msg):
        ddim_sample(m, s, num_steps=num_steps, shape=SHAPE)
    with pytest.raises(ValueError, match=msg):
        strided_ddpm_sample(m, s, num_steps=num_steps, shape=SHAPE)


@pytest.mark.parametrize("num_steps", [2.5, 5.0, True, "10"])
def test_num_steps_of_another_type_is_a_type_error(setup, num_steps):
    s, m = setup
    for sampler in (ddim_sample, strided_ddpm_sample):
        with pytest.raises(TypeError, match=r"num_steps must be an int, got"):
            sampler(m, s, num_steps=num_steps, shape=SHAPE)


def test_eta_of_another_type_is_a_type_error(setup):
    s, m = setup
    with pytest.raises(TypeError, match=r"eta must be a real number"):
        ddim_sample(m, s, num_steps=5, eta="1", shape=SHAPE)


@pytest.mark.parametrize("eta", [-0.1, float("nan"), float("inf")])
def test_bad_eta(setup, eta):
    s, m = setup
    with pytest.raises(ValueError, match=r"eta = .* is outside the valid range \[0, inf\)"):
        ddim_sample(m, s, num_steps=5, eta=eta, shape=SHAPE)


def test_too_large_eta_names_the_limit(setup):
    s, m = setup
    with pytest.raises(ValueError, match=r"eta = 50.0 is outside the valid range 0..[0-9.]+ for 5 steps"):
        ddim_sample(m, s, num_steps=5, eta=50.0, shape=SHAPE)


def test_bad_start_and_variance(setup):
    s, m = setup
    with pytest.raises(ValueError, match="exactly one of shape"):
        ddim_sample(m, s, num_steps=5)
    with pytest.raises(ValueError, match="variance"):
        strided_ddpm_sample(m, s, num_steps=5, shape=SHAPE, variance="tiny")


def test_small_conv_net_cost_and_shape():
    from ddpm_sampling.cost import SmallConvNet, cost_curves

    net = SmallConvNet(channels=8, generator=torch.Generator().manual_seed(0))
    # multiply-adds of four 3x3 convolutions 1->8->8->8->1, times 2 flops, per pixel
    per_pixel = 2 * 9 * (1 * 8 + 8 * 8 + 8 * 8 + 8 * 1)
    assert net.flops(10, 12) == per_pixel * 120
    assert net(torch.zeros(1, 10, 12), 5).shape == (1, 10, 12)
    assert net(torch.zeros(2, 1, 10, 12), 5).shape == (2, 1, 10, 12)
    a = SmallConvNet(channels=8, generator=torch.Generator().manual_seed(0))
    assert all(torch.equal(p, q) for p, q in zip(net.parameters(), a.parameters()))  # seeded, not global
    s = cosine_schedule(30)
    per_call, per_sample = cost_curves({"net": (net, (1, 8, 8))}, s, [1, 2, 30], budget_s=1e-12)
    assert len(per_sample["net"]) == 1 and per_call["net"] > 0  # over budget: only the first count
    with pytest.raises(ValueError, match="channels = 0"):
        SmallConvNet(channels=0)
