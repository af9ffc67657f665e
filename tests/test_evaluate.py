"""Measures of sample quality against closed forms and known cases."""

from __future__ import annotations

import math

import pytest
import torch

from ddpm_sampling import cosine_schedule, frechet_distance, nearest_training, target_oracle
from ddpm_sampling.evaluate import load_evaluation
from ddpm_sampling.metrics import (
    class_shares,
    frechet_distance_gaussians,
    gaussian_statistics,
    noise_prediction_error,
    saturated,
)


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_frechet_distance_of_diagonal_gaussians_has_its_closed_form():
    mu1, mu2 = torch.tensor([0.0, 1.0, 2.0]), torch.tensor([1.0, 1.0, 0.0])
    a, b = torch.tensor([1.0, 4.0, 9.0]), torch.tensor([4.0, 1.0, 9.0])
    # ||mu1 - mu2||^2 + sum (sqrt(a) - sqrt(b))^2
    expected = 1 + 0 + 4 + (1 - 2) ** 2 + (2 - 1) ** 2 + 0
    got = frechet_distance_gaussians(mu1, torch.diag(a), mu2, torch.diag(b))
    assert got == pytest.approx(expected, rel=1e-10)


def test_frechet_distance_of_rotated_gaussians_matches_the_matrix_formula():
    # Sigma2 = R Sigma1 R^T: the cross term is tr((Sigma1 Sigma2)^(1/2)), computed here with a
    # general (non-symmetric) eigendecomposition, independent of the implementation's route
    g = seeded(0)
    a = torch.randn(4, 4, generator=g, dtype=torch.float64)
    s1 = a @ a.T + 0.1 * torch.eye(4, dtype=torch.float64)
    r, _ = torch.linalg.qr(torch.randn(4, 4, generator=g, dtype=torch.float64))
    s2 = r @ s1 @ r.T
    cross = torch.linalg.eigvals(s1 @ s2).sqrt().real.sum()
    expected = float(s1.trace() + s2.trace() - 2 * cross)
    zero = torch.zeros(4, dtype=torch.float64)
    assert frechet_distance_gaussians(zero, s1, zero, s2) == pytest.approx(expected, rel=1e-8)


def test_frechet_distance_of_samples_is_zero_for_the_same_set_and_grows_with_a_shift():
    f = torch.randn(500, 3, generator=seeded(1), dtype=torch.float64)
    assert frechet_distance(f, f) == pytest.approx(0.0, abs=1e-9)
    assert frechet_distance(f, f + torch.tensor([2.0, 0.0, 0.0])) == pytest.approx(4.0, rel=1e-9)
    mu, cov = gaussian_statistics(f)
    assert mu.shape == (3,) and cov.shape == (3, 3)
    with pytest.raises(ValueError, match=r"\(N, D\) with N >= 2"):
        gaussian_statistics(f[:1])


def test_class_shares_and_saturation():
    shares = class_shares(torch.tensor([0, 0, 3, 9]))
    assert shares.tolist() == [0.5, 0, 0, 0.25, 0, 0, 0, 0, 0, 0.25]
    with pytest.raises(TypeError, match="signed integer dtype"):
        class_shares(torch.tensor([0.5]))
    with pytest.raises(ValueError, match=r"labels holds 12, outside the valid range 0\.\.9"):
        class_shares(torch.tensor([0, 12]))
    images = torch.zeros(2, 1, 2, 2)
    images[1, 0, 0] = torch.tensor([1.5, -3.0])
    assert saturated(images).tolist() == [0.0, 0.5]


def test_nearest_training_finds_copies_across_chunks():
    data = torch.rand(25, 1, 5, 5, generator=seeded(2)) * 2 - 1
    samples = torch.stack([data[4], data[21] + 0.1, data[13]])
    index, rms = nearest_training(samples, data, chunk=7)
    assert index.tolist() == [4, 21, 13]
    assert rms[0].item() == 0.0 and rms[2].item() == 0.0
    torch.testing.assert_close(rms[1], torch.tensor(0.1, dtype=torch.float64), rtol=1e-5, atol=0)
    with pytest.raises(ValueError, match="differ in image size"):
        nearest_training(torch.zeros(1, 1, 4, 4), data)


def test_the_oracle_predicts_the_noise_without_error():
    s = cosine_schedule(100)
    images = torch.rand(4, 1, 6, 6, generator=seeded(3)) * 2 - 1

    def model(x_t, t):  # the oracle of each image: knows the clean batch
        return target_oracle(images, s)(x_t, t)

    eps_rms, x0_rms = noise_prediction_error(model, s, images, [5, 50, 95], seeded(4))
    assert eps_rms.max() < 1e-4 and x0_rms.max() < 1e-4
    zero = noise_prediction_error(lambda x, t: torch.zeros_like(x), s, images, [50], seeded(4))[0]
    assert zero.item() == pytest.approx(1.0, abs=0.2)  # predicting 0 misses unit-variance noise by ~1
    assert math.isfinite(zero.item())


def test_the_readme_quotes_the_committed_quality_table():
    """The README's quality figures are copied from evaluation.json; this keeps them in step."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    table = load_evaluation()
    ddpm = next(p for p in table["points"] if p["sampler"] == "DDPM" and p["clip_x0"])
    real = table["real_data"]
    expected = [
        f"| {ddpm['frechet']:.1f} | {real['frechet']:.1f} for 1,000 training images |",
        f"| {100 * min(ddpm['class_shares']):.1f}% to {100 * max(ddpm['class_shares']):.1f}% |",
        f"| {ddpm['nearest_median']:.3f} | {real['nearest_median']:.3f} for 1,000 test images |",
    ]
    for text in expected:
        assert text in readme, text


@pytest.mark.parametrize("module", ["ddpm_sampling.evaluate", "ddpm_sampling.train"])
def test_the_commands_run_as_modules_without_a_warning(module):
    """`python -m ddpm_sampling.evaluate` runs a module the package has not imported already."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-W", "error", "-m", module, "--help"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "usage: python -m " + module in done.stdout


def test_the_metrics_are_exported_by_the_package():
    import ddpm_sampling
    from ddpm_sampling import metrics

    assert {"frechet_distance", "nearest_training"} <= set(ddpm_sampling.__all__) & set(dir(ddpm_sampling))
    assert ddpm_sampling.nearest_training is nearest_training is metrics.nearest_training
    assert ddpm_sampling.frechet_distance is frechet_distance is metrics.frechet_distance
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = ddpm_sampling.nope
