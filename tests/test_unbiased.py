"""The kernel distance and the extrapolated Frechet distance against brute force and known cases."""

from __future__ import annotations

import pytest
import torch

from ddpm_sampling.evaluate import frechet_distance_gaussians, gaussian_statistics
from ddpm_sampling.unbiased import fit_inverse_n, frechet_extrapolated, kernel_distance, mmd2_unbiased


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_mmd2_unbiased_matches_its_sums_written_out():
    a = torch.randn(6, 3, generator=seeded(0), dtype=torch.float64)
    b = torch.randn(5, 3, generator=seeded(1), dtype=torch.float64) + 0.5

    def k(x, y):
        return (float(x @ y) / 3 + 1) ** 3

    m, n = len(a), len(b)
    within_a = sum(k(a[i], a[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    within_b = sum(k(b[i], b[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    across = sum(k(a[i], b[j]) for i in range(m) for j in range(n)) / (m * n)
    assert mmd2_unbiased(a, b) == pytest.approx(within_a + within_b - 2 * across, rel=1e-12)


def test_mmd2_with_the_linear_kernel_estimates_the_squared_mean_shift_without_bias():
    # k(x, y) = x.y / d: MMD^2 = ||mu_a - mu_b||^2 / d, here 4 / 2; the average of many small
    # draws is close to it, while the plug-in estimate ||mean_a - mean_b||^2 / d is biased upwards
    shift = torch.tensor([2.0, 0.0], dtype=torch.float64)
    g = seeded(2)
    draws = torch.randn(2000, 2, 8, 2, generator=g, dtype=torch.float64)  # 2,000 pairs of sets of 8
    unbiased = torch.tensor([mmd2_unbiased(a + shift, b, degree=1, coef0=0.0) for a, b in draws])
    plug_in = torch.tensor([float(((a + shift).mean(0) - b.mean(0)).pow(2).sum() / 2) for a, b in draws])
    se = unbiased.std() / len(draws) ** 0.5
    assert abs(unbiased.mean() - 2.0) < 3 * se
    assert plug_in.mean() - 2.0 > 5 * se  # the plug-in's bias: (1/8 + 1/8) * 2 / 2 = 0.25


def test_kernel_distance_of_one_distribution_is_zero_within_its_error_and_of_shifted_ones_is_not():
    g = seeded(3)
    a = torch.randn(2000, 4, generator=g, dtype=torch.float64)
    b = torch.randn(2000, 4, generator=g, dtype=torch.float64)
    same = kernel_distance(a, b, 200, generator=seeded(4))
    assert same.subsets == 10 and same.subset_size == 200
    assert abs(same.value) < 3 * same.standard_error
    itself = kernel_distance(a, a, 200, generator=seeded(5))  # disjoint subsets of one set
    assert abs(itself.value) < 3 * itself.standard_error
    shifted = kernel_distance(a + 0.5, b, 200, generator=seeded(4))
    assert shifted.value > 10 * shifted.standard_error


def test_kernel_distance_refuses_fewer_than_two_subsets_and_a_missing_generator():
    f = torch.zeros(10, 2)
    with pytest.raises(ValueError, match="subset_size = 6 leaves fewer than 2 subsets.*at most 5"):
        kernel_distance(f, f, 6, generator=seeded(0))
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        kernel_distance(f, f, 2, generator=0)
    with pytest.raises(ValueError, match=r"\(N, D\) with N >= 2"):
        mmd2_unbiased(f[:1], f)


def test_fit_inverse_n_recovers_a_line_in_one_over_n():
    sizes = [100, 200, 200, 1000]
    assert fit_inverse_n(sizes, [3.0 + 500 / n for n in sizes]) == pytest.approx((3.0, 500.0), rel=1e-10)
    with pytest.raises(ValueError, match="at least two distinct sizes"):
        fit_inverse_n([100, 100], [1.0, 2.0])


def test_frechet_extrapolated_finds_the_squared_shift_of_gaussians():
    # features N(delta, I) against the exact N(0, I) in 32 dimensions: the Frechet distance is
    # ||delta||^2 = 1, and at finite n it is biased upwards by about d / n from the mean alone;
    # the intercept is within 0.05 of 1, where every set of 500 is further off
    d, delta = 32, torch.zeros(32, dtype=torch.float64)
    delta[0] = 1.0
    features = torch.randn(20_000, d, generator=seeded(6), dtype=torch.float64) + delta
    reference = (torch.zeros(d, dtype=torch.float64), torch.eye(d, dtype=torch.float64))
    fit = frechet_extrapolated(features, reference, [500] * 4 + [1000] * 4 + [5000, 20_000], generator=seeded(7))
    largest = frechet_distance_gaussians(*gaussian_statistics(features), *reference)
    assert fit.distances[-1] == pytest.approx(largest)
    assert min(fit.distances[:4]) > 1.0 + 32 / 500 and fit.slope > 0
    assert abs(fit.value - 1.0) < 0.05 < min(fit.distances[:4]) - 1.0
    with pytest.raises(ValueError, match=r"sizes\[0\] = 1 is outside the valid range 2..20000"):
        frechet_extrapolated(features, reference, [1], generator=seeded(7))
