"""The cosine schedule and the reverse-step coefficients, against values computed outside the package."""

from __future__ import annotations

import math

import pytest
import torch

from ddpm_sampling import cosine_schedule, error_gain, reverse_coefficients

# Reference values of the unclipped cosine schedule (T = 1000, s = 0.008), as the source
# lesson prints them in float32 to six digits. The package computes in float64 and
# stores float32, which moves the sixth digit by up to 2e-6; 5e-6 covers that and the
# rounding of the printed values.
REF_ATOL = 5e-6
REFERENCE_ROWS = [
    # t, 1/sqrt(alpha_t), beta_t/sqrt(1 - alpha_bar_t), sigma_t
    (950, 1.019958, 0.038870, 0.196855),
    (800, 1.004836, 0.010088, 0.097989),
    (500, 1.001577, 0.004421, 0.056086),
    (200, 1.000522, 0.003280, 0.032308),
    (50, 1.000140, 0.003132, 0.016734),
]


def cosine_alpha_bar_f64(T: int, s: float = 0.008) -> list[float]:
    """alpha_bar_t = f(t) / f(0) with f(t) = cos^2(((t/T + s) / (1 + s)) * pi/2), in plain Python floats."""
    f = [math.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2 for t in range(T + 1)]
    return [v / f[0] for v in f]


@pytest.fixture(scope="module")
def raw():
    return cosine_schedule(1000, max_beta=None)


@pytest.fixture(scope="module")
def clipped():
    return cosine_schedule(1000)


@pytest.mark.parametrize("t, scale, eps_coef, sigma", REFERENCE_ROWS)
def test_unclipped_schedule_matches_reference_table(raw, t, scale, eps_coef, sigma):
    assert raw.scale[t].item() == pytest.approx(scale, abs=REF_ATOL)
    assert raw.eps_coef[t].item() == pytest.approx(eps_coef, abs=REF_ATOL)
    assert raw.sigma[t].item() == pytest.approx(sigma, abs=REF_ATOL)
    coefs = reverse_coefficients(raw, t)
    assert coefs.scale.item() == pytest.approx(scale, abs=REF_ATOL)
    assert coefs.eps_coef.item() == pytest.approx(eps_coef, abs=REF_ATOL)
    assert coefs.sigma.item() == pytest.approx(sigma, abs=REF_ATOL)


def test_unclipped_schedule_matches_reference_scalars(raw):
    assert raw.alpha_bar[500].item() == pytest.approx(0.4938, abs=5e-5)
    assert raw.beta[500].item() == pytest.approx(0.003146, abs=REF_ATOL)
    assert raw.sigma[500].item() == pytest.approx(0.056086, abs=REF_ATOL)
    assert raw.alpha[500].item() == pytest.approx(0.996854, abs=REF_ATOL)
    assert raw.alpha_bar[999].item() == pytest.approx(0.000002, abs=5e-7)
    # float64 moves the sixth digit: the careful values are 0.056088 and 0.004422
    assert raw.sigma[500].item() == pytest.approx(0.056088, abs=1e-6)
    assert raw.eps_coef[500].item() == pytest.approx(0.004422, abs=1e-6)


def test_unclipped_scaling_factor_is_not_close_to_one_near_the_end(raw):
    assert raw.scale[990].item() == pytest.approx(1.10, abs=5e-3)
    assert raw.scale[999].item() == pytest.approx(2.0, abs=5e-3)
    assert raw.beta[1000].item() == pytest.approx(1.0, abs=1e-6)
    assert raw.scale[1000].item() > 1e4  # the singularity that clipping removes


@pytest.mark.parametrize("T", [1, 2, 50, 1000])
@pytest.mark.parametrize("max_beta", [None, 0.999])
def test_shapes_dtypes_and_index_zero(T, max_beta):
    s = cosine_schedule(T, max_beta=max_beta)
    assert s.T == T
    names = ("alpha_bar", "alpha", "beta", "sigma", "beta_tilde", "sigma_tilde", "scale", "eps_coef")
    for name in names:
        tensor = getattr(s, name)
        assert tensor.dtype == torch.float32, name
        assert tensor.shape == (T + 1,), name
    assert s.alpha_bar[0].item() == 1.0
    assert s.alpha[0].item() == 1.0
    assert s.beta[0].item() == 0.0


def test_alpha_bar_follows_the_cosine_formula():
    T = 50
    expected = torch.tensor(cosine_alpha_bar_f64(T), dtype=torch.float64)
    s = cosine_schedule(T, max_beta=None)
    torch.testing.assert_close(s.alpha_bar.double(), expected, rtol=1e-6, atol=1e-7)
    # and the chain is consistent: alpha_t = alpha_bar_t / alpha_bar_{t-1}, beta_t = 1 - alpha_t
    ratio = expected[1:] / expected[:-1]
    torch.testing.assert_close(s.alpha[1:].double(), ratio, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(s.beta[1:].double(), 1 - ratio, rtol=1e-5, atol=1e-7)


def test_clipping_touches_only_the_last_step_for_T_1000(raw, clipped):
    changed = torch.nonzero(raw.beta != clipped.beta).flatten().tolist()
    assert changed == [1000]
    assert clipped.beta[1000].item() == pytest.approx(0.999, abs=1e-7)
    # alpha_bar is recomputed as a cumulative product; before T it only moves by rounding
    torch.testing.assert_close(clipped.alpha_bar[:1000], raw.alpha_bar[:1000], rtol=1e-5, atol=1e-12)
    assert clipped.scale[1000].item() == pytest.approx(1 / math.sqrt(0.001), rel=1e-6)


@pytest.mark.parametrize("max_beta", [0.999, 0.5, 0.02, 1.0])
def test_clipped_beta_is_bounded_and_alpha_bar_is_its_cumulative_product(max_beta):
    s = cosine_schedule(200, max_beta=max_beta)
    # max_beta itself is stored as float32 (0.999 becomes 0.99900001), so compare in float32
    assert bool((s.beta <= torch.tensor(max_beta, dtype=torch.float32)).all())
    assert s.beta.max().item() == pytest.approx(max_beta, rel=1e-7)  # the last step always reaches the bound
    assert s.max_beta == max_beta
    beta = s.beta.double()
    cumprod = torch.cumprod(1 - beta, dim=0)
    torch.testing.assert_close(s.alpha_bar.double(), cumprod, rtol=1e-5, atol=1e-9)
    torch.testing.assert_close(s.alpha.double(), 1 - beta, rtol=1e-6, atol=1e-7)


def test_tight_clip_changes_many_steps():
    raw, tight = cosine_schedule(200, max_beta=None), cosine_schedule(200, max_beta=0.02)
    clipped_steps = int((raw.beta > 0.02).sum())
    assert clipped_steps > 1
    assert int((tight.beta != raw.beta).sum()) == clipped_steps
    torch.testing.assert_close(tight.beta[raw.beta > 0.02], torch.full((clipped_steps,), 0.02))


def test_noise_correction_dips_before_it_rises(raw):
    c = raw.eps_coef
    # the lesson's float32 value is 0.00642; 1 - alpha_bar_1 (about 4e-5) loses digits in float32,
    # and float64 gives 0.006425, hence the wider tolerance at t = 1
    assert c[1].item() == pytest.approx(0.00642, abs=1e-5)
    assert c[50].item() == pytest.approx(0.00313, abs=5e-6)
    assert c[1] > c[50] < c[500] < c[800] < c[950]
    t_min = int(torch.argmin(c[1:])) + 1
    assert 1 < t_min < 500  # the minimum lies inside the schedule, not at t = 1


def test_beta_tilde_is_the_posterior_variance(clipped):
    # independent float64 chain: the cosine alpha_bar, clipped only at t = T (beta_T = 0.999)
    ab = torch.tensor(cosine_alpha_bar_f64(1000), dtype=torch.float64)
    ab[1000] = ab[999] * (1 - 0.999)
    beta = 1 - ab[1:] / ab[:-1]
    beta = torch.cat([torch.zeros(1, dtype=torch.float64), beta])
    expected = torch.zeros_like(ab)
    for t in range(1, clipped.T + 1):
        expected[t] = beta[t] * (1 - ab[t - 1]) / (1 - ab[t])
    torch.testing.assert_close(clipped.beta_tilde.double(), expected, rtol=1e-5, atol=1e-12)
    torch.testing.assert_close(clipped.sigma_tilde.double(), expected.sqrt(), rtol=1e-5, atol=1e-7)
    assert clipped.beta_tilde[1].item() == 0.0  # alpha_bar_0 = 1: at t = 1 the posterior is certain
    assert bool((clipped.beta_tilde[1:] <= clipped.beta[1:]).all())


def test_reverse_coefficients_with_a_tensor_of_timesteps(clipped):
    t = torch.tensor([1, 50, 500, 1000])
    coefs = reverse_coefficients(clipped, t)
    for name, row in zip(("scale", "eps_coef", "sigma"), coefs):
        assert row.shape == (4,)
        for i, ti in enumerate(t.tolist()):
            assert row[i].item() == getattr(clipped, name)[ti].item()
    ab = torch.tensor(cosine_alpha_bar_f64(1000), dtype=torch.float64)
    for ti in (1, 50, 500, 999):
        alpha = ab[ti] / ab[ti - 1]
        scale, eps_coef, sigma = reverse_coefficients(clipped, ti)
        assert scale.item() == pytest.approx((1 / alpha.sqrt()).item(), rel=1e-6)
        assert eps_coef.item() == pytest.approx(((1 - alpha) / (1 - ab[ti]).sqrt()).item(), rel=1e-5)
        assert sigma.item() == pytest.approx((1 - alpha).sqrt().item(), rel=1e-5)


def test_error_gain_is_the_one_shot_amplification(clipped):
    ab = clipped.alpha_bar.double()
    expected = ((1 - ab[1:]) / ab[1:]).sqrt()
    torch.testing.assert_close(error_gain(clipped).double(), expected, rtol=1e-5, atol=0)
    assert error_gain(clipped, 1).item() < 0.01
    assert error_gain(clipped, 1000).item() > 1e3


@pytest.mark.parametrize("T", [0, -3])
def test_T_below_one_is_rejected(T):
    with pytest.raises(ValueError, match=rf"T = {T} .*>= 1"):
        cosine_schedule(T)


@pytest.mark.parametrize("T", [2.5, 10.0, "10", True])
def test_T_must_be_an_int(T):
    # a wrong type is a TypeError that names the type needed, not a range error
    with pytest.raises(TypeError, match=r"T must be an int, got"):
        cosine_schedule(T)


@pytest.mark.parametrize("name", ["s", "max_beta"])
@pytest.mark.parametrize("value", [True, "0.5", None, [0.5]])
def test_s_and_max_beta_must_be_real_numbers(name, value):
    if name == "max_beta" and value is None:
        return  # None means no clipping
    with pytest.raises(TypeError, match=rf"{name} must be a real number"):
        cosine_schedule(50, **{name: value})


@pytest.mark.parametrize("s", [0, -0.1, float("nan"), float("inf")])
def test_s_must_be_positive_and_finite(s):
    with pytest.raises(ValueError, match=rf"s = {s!r} .*> 0"):
        cosine_schedule(50, s=s)


@pytest.mark.parametrize("max_beta", [0, 0.0, -0.5, 1.5, 1.000001, float("nan")])
def test_max_beta_outside_zero_one_is_rejected(max_beta):
    with pytest.raises(ValueError, match=rf"max_beta = {max_beta!r} is outside the valid range \(0, 1\]"):
        cosine_schedule(50, max_beta=max_beta)


@pytest.mark.parametrize("t", [0, -1, 51])
def test_reverse_coefficients_reject_timesteps_outside_1_to_T(t):
    s = cosine_schedule(50)
    with pytest.raises(ValueError, match=rf"t = {t} is outside the valid range 1\.\.50"):
        reverse_coefficients(s, t)
    with pytest.raises(ValueError, match=rf"t = {t} is outside the valid range 1\.\.50"):
        reverse_coefficients(s, torch.tensor([3, t]))
    with pytest.raises(ValueError, match=rf"t = {t} is outside the valid range 1\.\.50"):
        error_gain(s, t)


def test_reverse_coefficients_reject_non_integer_timesteps():
    s = cosine_schedule(50)
    with pytest.raises(TypeError, match=r"t must be an int .*got 2\.0"):
        reverse_coefficients(s, 2.0)
    with pytest.raises(TypeError, match=r"t must hold integers.*float32"):
        reverse_coefficients(s, torch.tensor([2.0]))
