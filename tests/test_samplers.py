"""The sampling loop: where it ends, what it records, and that its randomness is explicit."""

from __future__ import annotations

import pytest
import torch

from ddpm_sampling import (
    cosine_schedule,
    ddim_sample,
    ddpm_sample,
    ideal_denoiser,
    noisy_model,
    reverse_step,
    strided_ddpm_sample,
    target_oracle,
    x0_predictions,
)

T = 50
SHAPE = (1, 8, 8)


@pytest.fixture(scope="module")
def schedule():
    return cosine_schedule(T)


def targets(n: int | None = None, seed: int = 0) -> torch.Tensor:
    shape = SHAPE if n is None else (n, *SHAPE)
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# Why the oracle lands exactly on its target: at t = 1, alpha_bar_1 = alpha_1 (alpha_bar_0 = 1) and
# beta_1 = 1 - alpha_1, so the last update is
#     x_0 = (x_1 - beta_1 / sqrt(1 - alpha_bar_1) * eps) / sqrt(alpha_1)
#         = (x_1 - sqrt(1 - alpha_bar_1) * eps) / sqrt(alpha_bar_1),
# the one-shot estimate of x_0, and no noise is added at t = 1. The oracle's eps is
# (x_1 - sqrt(alpha_bar_1) x_target) / sqrt(1 - alpha_bar_1), so x_0 = x_target whatever x_1 is:
# only float32 rounding is left.
@pytest.mark.parametrize("steps, max_beta", [(T, 0.999), (1000, 0.999), (1000, None)])
def test_oracle_sampling_ends_exactly_on_the_target(steps, max_beta):
    s = cosine_schedule(steps, max_beta=max_beta)
    x_target = targets(2, seed=1)
    x_0, snaps = ddpm_sample(
        target_oracle(x_target, s), s, shape=x_target.shape, generator=seeded(0), snapshot_timesteps=[1]
    )
    torch.testing.assert_close(x_0, x_target, rtol=0, atol=1e-6)
    assert (snaps[1] - x_target).abs().max() > 1e-3  # x_1 itself is still noisy: the last step does it all


def test_the_last_step_maps_any_x1_onto_the_target(schedule):
    x_target = targets(seed=2)
    oracle = target_oracle(x_target, schedule)
    for scale in (0.0, 1.0, 30.0):
        x_1 = scale * torch.randn(SHAPE, generator=seeded(3))
        x_0 = reverse_step(x_1, 1, oracle(x_1, 1), schedule, z=torch.randn(SHAPE, generator=seeded(4)))
        torch.testing.assert_close(x_0, x_target, rtol=0, atol=1e-5)


def test_snapshots_are_exactly_the_asked_timesteps(schedule):
    oracle = target_oracle(targets(3), schedule)
    x_T = torch.randn(3, *SHAPE, generator=seeded(5))
    asked = [T, 37, 10, 1, 0, 10]
    x_0, snaps = ddpm_sample(oracle, schedule, x_T=x_T, snapshot_timesteps=asked, generator=seeded(6))
    assert list(snaps) == [T, 37, 10, 1, 0]  # each once, from noisy to clean
    assert torch.equal(snaps[T], x_T)
    assert torch.equal(snaps[0], x_0)
    assert all(v.shape == x_T.shape for v in snaps.values())
    _, none = ddpm_sample(oracle, schedule, x_T=x_T, generator=seeded(6))
    assert none == {}


def test_snapshots_follow_algorithm_2_step_by_step(schedule):
    x_target = targets(2, seed=4)
    model = target_oracle(x_target, schedule)
    x_0, snaps = ddpm_sample(model, schedule, shape=(2, *SHAPE), generator=seeded(7), snapshot_timesteps=range(T + 1))
    # the same chain written out: x_T ~ N(0, I), then one reverse step per t, noise from the same generator
    g = seeded(7)
    x = torch.randn((2, *SHAPE), generator=g)
    assert torch.equal(snaps[T], x)
    for t in range(T, 0, -1):
        x = reverse_step(x, t, model(x, t), schedule, generator=g)
        torch.testing.assert_close(snaps[t - 1], x, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(x_0, x, rtol=1e-6, atol=1e-6)


def test_snapshots_are_copies(schedule):
    x_0, snaps = ddpm_sample(
        target_oracle(targets(), schedule), schedule, shape=SHAPE, generator=seeded(8), snapshot_timesteps=[20, 0]
    )
    kept = snaps[20].clone()
    x_0 += 1
    assert not torch.equal(snaps[0], x_0)
    assert torch.equal(snaps[20], kept)


def test_start_t_starts_from_the_given_image(schedule):
    x_target = targets(seed=5)
    oracle = target_oracle(x_target, schedule)
    x_start = torch.randn(SHAPE, generator=seeded(9))
    calls = []

    def recording(x_t, t):
        calls.append(t)
        return oracle(x_t, t)

    x_0, snaps = ddpm_sample(
        recording, schedule, x_T=x_start, start_t=40, snapshot_timesteps=[40, 39, 0], generator=seeded(10)
    )
    assert calls == list(range(40, 0, -1))  # the model is asked at t = 40, 39, ..., 1 and nowhere else
    assert torch.equal(snaps[40], x_start)
    assert list(snaps) == [40, 39, 0]
    torch.testing.assert_close(x_0, x_target, rtol=0, atol=1e-6)
    # the first step is one reverse step from x_start at t = 40 with the generator's first draw
    g = seeded(10)
    expected = reverse_step(x_start, 40, oracle(x_start, 40), schedule, generator=g)
    torch.testing.assert_close(snaps[39], expected, rtol=1e-6, atol=1e-6)


def test_x_T_is_not_modified(schedule):
    x_T = torch.randn(2, *SHAPE, generator=seeded(11))
    kept = x_T.clone()
    ddpm_sample(target_oracle(targets(2), schedule), schedule, x_T=x_T, generator=seeded(12))
    ddpm_sample(target_oracle(targets(2), schedule), schedule, x_T=x_T, start_t=20, generator=seeded(12))
    assert torch.equal(x_T, kept)


def test_seeded_generator_reproduces_and_seeds_differ(schedule):
    def run(seed, model_seed=100):
        m = noisy_model(target_oracle(targets(2), schedule), 0.5, seeded(model_seed))
        return ddpm_sample(m, schedule, shape=(2, *SHAPE), generator=seeded(seed), snapshot_timesteps=[25])

    a, snaps_a = run(13)
    b, snaps_b = run(13)
    c, snaps_c = run(14)
    assert torch.equal(a, b)
    assert torch.equal(snaps_a[25], snaps_b[25])
    assert not torch.equal(snaps_a[25], snaps_c[25])
    assert not torch.equal(a, c)
    assert not torch.equal(run(13, model_seed=101)[0], a)  # the model's own generator matters too


def test_batch_with_one_generator_per_image_equals_single_runs(schedule):
    x_target = targets(4, seed=6)
    batch, snaps = ddpm_sample(
        target_oracle(x_target, schedule),
        schedule,
        shape=(4, *SHAPE),
        generator=[seeded(20 + i) for i in range(4)],
        snapshot_timesteps=[T, 30],
    )
    for i in range(4):
        single, single_snaps = ddpm_sample(
            target_oracle(x_target[i], schedule),
            schedule,
            shape=SHAPE,
            generator=seeded(20 + i),
            snapshot_timesteps=[T, 30],
        )
        assert torch.equal(snaps[T][i], single_snaps[T])  # the same starting noise
        torch.testing.assert_close(snaps[30][i], single_snaps[30], rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(batch[i], single, rtol=1e-6, atol=1e-6)


def test_batch_with_a_noisy_model_equals_single_runs_seeded_alike(schedule):
    # the imperfect model draws its error per image too, so nothing ends on the target and
    # every image's result depends on both its sampling and its model generator
    x_target = targets(4, seed=7)
    model = noisy_model(target_oracle(x_target, schedule), 0.3, [seeded(40 + i) for i in range(4)])
    batch, snaps = ddpm_sample(
        model, schedule, shape=(4, *SHAPE), generator=[seeded(30 + i) for i in range(4)], snapshot_timesteps=[10]
    )
    for i in range(4):
        single_model = noisy_model(target_oracle(x_target[i], schedule), 0.3, seeded(40 + i))
        single, single_snaps = ddpm_sample(
            single_model, schedule, shape=SHAPE, generator=seeded(30 + i), snapshot_timesteps=[10]
        )
        torch.testing.assert_close(snaps[10][i], single_snaps[10], rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(batch[i], single, rtol=1e-6, atol=1e-6)
    assert (batch - x_target).abs().max() > 1e-3


def test_beta_tilde_sampling_also_ends_on_the_target(schedule):
    x_target = targets(2, seed=8)
    oracle = target_oracle(x_target, schedule)
    a, _ = ddpm_sample(oracle, schedule, shape=(2, *SHAPE), generator=seeded(1), variance="beta_tilde")
    b, snaps_b = ddpm_sample(oracle, schedule, shape=(2, *SHAPE), generator=seeded(1), snapshot_timesteps=[25])
    _, snaps_a = ddpm_sample(
        oracle, schedule, shape=(2, *SHAPE), generator=seeded(1), variance="beta_tilde", snapshot_timesteps=[25]
    )
    torch.testing.assert_close(a, x_target, rtol=0, atol=1e-6)
    assert not torch.equal(snaps_a[25], snaps_b[25])  # a smaller injected variance gives another path


def test_x0_predictions_of_the_oracle_are_the_target(schedule):
    x_target = targets(2, seed=9)
    oracle = target_oracle(x_target, schedule)
    _, snaps = ddpm_sample(oracle, schedule, shape=(2, *SHAPE), generator=seeded(2), snapshot_timesteps=[45, 20, 1, 0])
    preds = x0_predictions(oracle, schedule, snaps)
    assert list(preds) == [45, 20, 1, 0]
    assert torch.equal(preds[0], snaps[0])
    for t in (20, 1):
        torch.testing.assert_close(preds[t], x_target, rtol=0, atol=1e-4)


# ---- bad input -------------------------------------------------------------------------------------------


def test_exactly_one_of_shape_and_x_T(schedule):
    oracle = target_oracle(targets(), schedule)
    with pytest.raises(ValueError, match=r"exactly one of shape .* or x_T"):
        ddpm_sample(oracle, schedule)
    with pytest.raises(ValueError, match=r"exactly one of shape .* or x_T"):
        ddpm_sample(oracle, schedule, shape=SHAPE, x_T=torch.zeros(SHAPE))


@pytest.mark.parametrize("shape", [(8, 8), (1, 1, 1, 8, 8), (1, 0, 8)])
def test_bad_shapes_are_rejected(schedule, shape):
    with pytest.raises(ValueError, match=r"shape = .* must be \(C, H, W\) or \(B, C, H, W\)"):
        ddpm_sample(target_oracle(targets(), schedule), schedule, shape=shape)


def test_a_shape_of_floats_is_a_type_error(schedule):
    with pytest.raises(TypeError, match=r"shape\[1\] must be an int, got 8\.0"):
        ddpm_sample(target_oracle(targets(), schedule), schedule, shape=(1, 8.0, 8))


@pytest.mark.parametrize("start_t", [0, -1, T + 1])
def test_start_t_outside_1_to_T_is_rejected(schedule, start_t):
    with pytest.raises(ValueError, match=rf"start_t = {start_t} is outside the valid range 1\.\.{T}"):
        ddpm_sample(target_oracle(targets(), schedule), schedule, x_T=torch.zeros(SHAPE), start_t=start_t)


@pytest.mark.parametrize("snapshot", [-1, T + 1])
def test_snapshot_outside_0_to_T_is_rejected(schedule, snapshot):
    with pytest.raises(ValueError, match=rf"snapshot_timesteps\[1\] = {snapshot} is outside the valid range 0\.\.{T}"):
        ddpm_sample(target_oracle(targets(), schedule), schedule, shape=SHAPE, snapshot_timesteps=[10, snapshot])


def test_snapshot_above_start_t_is_rejected(schedule):
    with pytest.raises(ValueError, match=r"snapshot_timesteps\[0\] = 30 is outside the valid range 0\.\.20"):
        ddpm_sample(
            target_oracle(targets(), schedule), schedule, x_T=torch.zeros(SHAPE), start_t=20, snapshot_timesteps=[30]
        )


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_x_T_is_rejected(schedule, bad):
    x_T = torch.zeros(SHAPE)
    x_T[0, 3, 3] = bad
    with pytest.raises(ValueError, match=r"x_T holds 1 non-finite value\(s\)"):
        ddpm_sample(target_oracle(targets(), schedule), schedule, x_T=x_T)


@pytest.mark.parametrize("variance", ["linear", ""])
def test_bad_variance_is_rejected_by_the_sampler(schedule, variance):
    with pytest.raises(ValueError, match=rf"variance = {variance!r} is not one of"):
        ddpm_sample(target_oracle(targets(), schedule), schedule, shape=SHAPE, variance=variance)


def test_model_with_the_wrong_output_shape_is_rejected(schedule):
    with pytest.raises(ValueError, match=rf"the model returned \(1, 8, 7\) at t = {T}; .*shape \(1, 8, 8\)"):
        ddpm_sample(lambda x, t: torch.zeros(1, 8, 7), schedule, shape=SHAPE)


def test_generator_list_must_match_the_batch(schedule):
    with pytest.raises(ValueError, match=r"got 2 generators for x of shape \(3, 1, 8, 8\)"):
        ddpm_sample(target_oracle(targets(3), schedule), schedule, shape=(3, *SHAPE), generator=[seeded(0), seeded(1)])
    with pytest.raises(ValueError, match=r"got 1 generators for x of shape \(1, 8, 8\)"):
        ddpm_sample(target_oracle(targets(), schedule), schedule, shape=SHAPE, generator=[seeded(0)])


# --- clipping the clean-image estimate, and no autograd graph ----------------------------------

SAMPLERS = {
    "ddpm": lambda m, s, x, clip: ddpm_sample(m, s, x_T=x, generator=seeded(1), clip_x0=clip).x0,
    "strided": lambda m, s, x, clip: (
        strided_ddpm_sample(m, s, num_steps=7, x_T=x, generator=seeded(1), clip_x0=clip).x0
    ),
    "ddim": lambda m, s, x, clip: ddim_sample(m, s, num_steps=7, x_T=x, clip_x0=clip).x0,
}


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_clipping_leaves_in_range_estimates_unchanged(schedule, sampler):
    data = targets(6, seed=11)
    x_T = torch.randn(3, *SHAPE, generator=seeded(12))
    for model in (target_oracle(data[:3], schedule), ideal_denoiser(data, schedule)):
        plain = SAMPLERS[sampler](model, schedule, x_T, False)
        clipped = SAMPLERS[sampler](model, schedule, x_T, True)
        torch.testing.assert_close(clipped, plain, rtol=0, atol=1e-5)


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_clipping_bounds_an_estimate_outside_the_data_range(schedule, sampler):
    far = 3 * targets(2, seed=13)  # an oracle aiming at an image far outside [-1, 1]
    x_T = torch.randn(2, *SHAPE, generator=seeded(14))
    plain = SAMPLERS[sampler](target_oracle(far, schedule), schedule, x_T, False)
    clipped = SAMPLERS[sampler](target_oracle(far, schedule), schedule, x_T, True)
    assert plain.abs().max() > 2
    assert clipped.abs().max() <= 1 + 1e-5
    torch.testing.assert_close(clipped, far.clamp(-1, 1), rtol=0, atol=1e-4)  # the clipped target


def test_clip_x0_must_be_a_bool(schedule):
    oracle = target_oracle(targets(), schedule)
    with pytest.raises(TypeError, match="clip_x0 must be True or False"):
        ddpm_sample(oracle, schedule, shape=SHAPE, clip_x0="yes")
    with pytest.raises(TypeError, match="clip_x0 must be True or False"):
        ddim_sample(oracle, schedule, num_steps=3, shape=SHAPE, clip_x0=1)


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_sampling_a_network_with_parameters_builds_no_graph(sampler):
    from ddpm_sampling.unet import UNet, UNetConfig

    s = cosine_schedule(20)
    net = UNet(UNetConfig(channels=(8, 8, 8), time_dim=16, groups=4))
    assert all(p.requires_grad for p in net.parameters())
    x_T = torch.randn(2, 1, 8, 8, generator=seeded(15))
    out = SAMPLERS[sampler](net, s, x_T, True)
    assert out.grad_fn is None and not out.requires_grad
    snaps = x0_predictions(net, s, {5: x_T})
    assert snaps[5].grad_fn is None


# --- grad mode: sampling switches gradients off while it runs, and only then ------------------------


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_a_sampler_leaves_grad_mode_as_found_and_runs_its_model_without_gradients(schedule, sampler):
    oracle = target_oracle(targets(), schedule)
    modes = []

    def model(x, t):
        modes.append(torch.is_grad_enabled())
        return oracle(x, t)

    for enabled in (True, False):
        with torch.set_grad_enabled(enabled):
            SAMPLERS[sampler](model, schedule, torch.randn(1, *SHAPE, generator=seeded(4)), False)
            assert torch.is_grad_enabled() is enabled
    assert modes and not any(modes)
    assert torch.is_grad_enabled()


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_a_sampler_interrupted_by_the_model_leaves_grad_mode_as_found(schedule, sampler):
    oracle = target_oracle(targets(), schedule)

    def failing(x, t):
        if t < schedule.T - 2:
            raise RuntimeError("the model broke")
        return oracle(x, t)

    for enabled in (True, False):
        with torch.set_grad_enabled(enabled):
            with pytest.raises(RuntimeError, match="the model broke"):
                SAMPLERS[sampler](failing, schedule, torch.randn(1, *SHAPE, generator=seeded(5)), False)
            assert torch.is_grad_enabled() is enabled
    assert torch.is_grad_enabled()


def test_a_model_output_of_another_dtype_is_refused(schedule):
    with pytest.raises(TypeError, match="must return x_t's dtype"):
        ddpm_sample(lambda x, t: torch.zeros_like(x, dtype=torch.float64), schedule, shape=SHAPE)
