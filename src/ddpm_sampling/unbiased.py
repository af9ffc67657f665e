r"""Quality measures that state their bias and noise: the kernel distance and the Frechet distance at n -> infinity.

The Frechet distance of :mod:`ddpm_sampling.metrics` is biased upwards: two sets drawn from one
distribution score above 0, by an amount that falls roughly as 1/n with the set's size n.

- :func:`kernel_distance`: the kernel distance (KID) of Bińkowski et al. 2018, an unbiased
  estimate of the squared maximum mean discrepancy with the kernel
  :math:`k(x, y) = (x^\top y / d + 1)^3`, averaged over disjoint subsets, with its standard error.
- :func:`frechet_extrapolated`: the Frechet distance at several set sizes, fitted against 1/n
  and read at 1/n = 0 (Chong & Forsyth 2020).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import Tensor

from . import _checks as check
from .metrics import frechet_distance_gaussians, gaussian_statistics


def _features(x: object, name: str, low: int = 2) -> Tensor:
    """A floating (N, D) tensor of finite values with N >= ``low``, as float64."""
    check.finite(x, name)
    if x.dim() != 2 or x.shape[0] < low or x.shape[1] < 1:
        raise ValueError(f"{name} must have shape (N, D) with N >= {low} and D >= 1, got {tuple(x.shape)}")
    return x.double()


def polynomial_kernel(a: Tensor, b: Tensor, degree: int = 3, coef0: float = 1.0) -> Tensor:
    r"""The kernel matrix :math:`k(a_i, b_j) = (a_i^\top b_j / d + c)^p`, (N, M), of features (N, D) and (M, D)."""
    return (a @ b.T / a.shape[1] + coef0) ** degree


def mmd2_unbiased(features_a: Tensor, features_b: Tensor, degree: int = 3, coef0: float = 1.0) -> float:
    r"""The unbiased estimate of the squared maximum mean discrepancy (Gretton et al. 2012, eq. 3).

    .. math:: \frac{1}{m(m-1)}\sum_{i\ne j} k(a_i, a_j) + \frac{1}{n(n-1)}\sum_{i\ne j} k(b_i, b_j)
              - \frac{2}{mn}\sum_{i,j} k(a_i, b_j)

    Its expectation is 0 when both sets are drawn from one distribution, whatever m and n; a single
    estimate can be negative. ``features_a`` (m, D) and ``features_b`` (n, D), m, n >= 2.
    """
    a, b = _features(features_a, "features_a"), _features(features_b, "features_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"features_a {tuple(a.shape)} and features_b {tuple(b.shape)} must have one D")
    degree = check.count(degree, "degree")
    coef0 = check.std(coef0, "coef0", ": the kernel's constant term")
    m, n = a.shape[0], b.shape[0]
    k_aa, k_bb = polynomial_kernel(a, a, degree, coef0), polynomial_kernel(b, b, degree, coef0)
    k_ab = polynomial_kernel(a, b, degree, coef0)
    within_a = (k_aa.sum() - k_aa.diagonal().sum()) / (m * (m - 1))
    within_b = (k_bb.sum() - k_bb.diagonal().sum()) / (n * (n - 1))
    return float(within_a + within_b - 2 * k_ab.mean())


class KernelDistance(NamedTuple):
    """The kernel distance as the mean of ``subsets`` estimates on disjoint subsets of ``subset_size``."""

    value: float  # the mean of the subsets' unbiased estimates
    standard_error: float  # their standard deviation / sqrt(subsets)
    subsets: int
    subset_size: int


def kernel_distance(
    features_a: Tensor, features_b: Tensor, subset_size: int = 1000, *, generator: torch.Generator
) -> KernelDistance:
    """The kernel distance (KID, Bińkowski et al. 2018) between two sets of features, with its standard error.

    Each set is shuffled with ``generator`` and cut into k disjoint subsets of ``subset_size``
    (k as many as the smaller set holds, at least 2); the i-th subsets of the two sets give one
    :func:`mmd2_unbiased` each. The k estimates are independent, so their mean has the standard
    error std / sqrt(k). Features (N, D) and (M, D), N and M >= 2 * subset_size; subset_size >= 2.
    """
    a, b = _features(features_a, "features_a"), _features(features_b, "features_b")
    subset_size = check.count(subset_size, "subset_size", 2)
    generator = check.instance(generator, torch.Generator, "generator")
    k = min(a.shape[0], b.shape[0]) // subset_size
    if k < 2:
        raise ValueError(
            f"subset_size = {subset_size} leaves fewer than 2 subsets of {a.shape[0]} and {b.shape[0]} features; "
            f"give at most {min(a.shape[0], b.shape[0]) // 2}"
        )
    pick_a = torch.randperm(a.shape[0], generator=generator)[: k * subset_size].view(k, subset_size)
    pick_b = torch.randperm(b.shape[0], generator=generator)[: k * subset_size].view(k, subset_size)
    estimates = torch.tensor([mmd2_unbiased(a[i], b[j]) for i, j in zip(pick_a, pick_b)], dtype=torch.float64)
    return KernelDistance(float(estimates.mean()), float(estimates.std() / math.sqrt(k)), k, subset_size)


class Extrapolation(NamedTuple):
    """A Frechet distance read at 1/n = 0 from the line ``value + slope / n`` fitted to ``distances``."""

    value: float  # the intercept: the distance at n -> infinity
    slope: float  # the bias at n is about slope / n
    sizes: list[int]  # the n of each draw
    distances: list[float]  # the Frechet distance of each draw


def fit_inverse_n(sizes: Sequence[int], values: Sequence[float]) -> tuple[float, float]:
    """The least-squares line ``intercept + slope / n`` through the points (n, value): (intercept, slope).

    At least two distinct sizes n >= 1, one value (a finite real number) per size.
    """
    ns = [check.count(n, f"sizes[{i}]") for i, n in enumerate(sizes)]
    ys = [
        check.number(v, f"values[{i}]", -math.inf, math.inf, low_open=True, high_open=True)
        for i, v in enumerate(values)
    ]
    if len(ns) != len(ys) or len(set(ns)) < 2:
        raise ValueError(
            f"give one value per size and at least two distinct sizes, got sizes {ns} and {len(ys)} values"
        )
    design = torch.tensor([[1.0, 1.0 / n] for n in ns], dtype=torch.float64)
    solution = torch.linalg.lstsq(design, torch.tensor(ys, dtype=torch.float64)[:, None]).solution
    return float(solution[0, 0]), float(solution[1, 0])


def frechet_extrapolated(
    features: Tensor, reference: tuple[Tensor, Tensor], sizes: Sequence[int], *, generator: torch.Generator
) -> Extrapolation:
    """The Frechet distance of ``features`` (N, D) to ``reference`` (its mean and covariance), at n -> infinity.

    For each n in ``sizes`` (ints in 2..N; repeat an n for several draws) a seeded choice of n of
    the features, without replacement, gives one Frechet distance; the line through them
    against 1/n, read at 1/n = 0, is the value (Chong & Forsyth 2020, "FID_infinity"). The
    reference keeps its own finite-size share of the bias.
    """
    f = _features(features, "features")
    ns = [check.count(n, f"sizes[{i}]", 2, f.shape[0]) for i, n in enumerate(sizes)]
    generator = check.instance(generator, torch.Generator, "generator")
    distances = []
    for n in ns:
        pick = torch.randperm(f.shape[0], generator=generator)[:n]
        distances.append(frechet_distance_gaussians(*gaussian_statistics(f[pick]), *reference))
    value, slope = fit_inverse_n(ns, distances)
    return Extrapolation(value, slope, ns, distances)
