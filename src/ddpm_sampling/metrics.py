r"""How good are samples? Measures in the features of the book's own classifier, and distances to the data.

- :func:`~ddpm_sampling.frechet_distance`: the Frechet distance between two sets of images, each summarised by
  the mean and covariance of its classifier features (the FID recipe of Heusel et al. 2017, with
  the small Fashion-MNIST classifier of :func:`~ddpm_sampling.load_classifier` in place of Inception).
- :func:`class_shares`: how the samples spread over the ten classes, by the classifier's vote.
- :func:`saturated`: the share of each image's pixels beyond the data range.
- :func:`~ddpm_sampling.nearest_training`: each image's nearest training image and the distance to it; a model
  that copies its training set has distance 0.
- :func:`noise_prediction_error`: how far a model's predicted noise is from the true noise, per t.

The quality table of the trained-network chapter, which puts these together, is made by
:mod:`ddpm_sampling.evaluate`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from . import _checks as check
from .data import CLASS_NAMES
from .models import Model
from .schedule import Schedule
from .steps import predict_x0, q_sample

#: Pixels further than this outside the data range [-1, 1] count as saturated.
SATURATION_MARGIN = 0.1


# --- features and the Frechet distance ---------------------------------------------------------


#: Images per call of the classifier: on a CPU, batches of 100 stay in cache and run about twice
#: as fast per image as batches of 1,000.
BATCH_SIZE = 100


@torch.no_grad()
def classifier_features(classifier: nn.Module, images: Tensor, batch_size: int = BATCH_SIZE) -> Tensor:
    """The classifier's penultimate features of ``images`` (N, 1, 28, 28): (N, 128) float64."""
    return features_and_labels(classifier, images, batch_size)[0]


@torch.no_grad()
def classify(classifier: nn.Module, images: Tensor, batch_size: int = BATCH_SIZE) -> Tensor:
    """The classifier's label for each image, (N,) long."""
    return features_and_labels(classifier, images, batch_size)[1]


@torch.no_grad()
def features_and_labels(classifier: nn.Module, images: Tensor, batch_size: int = BATCH_SIZE) -> tuple[Tensor, Tensor]:
    """The features (N, 128) float64 and the labels (N,) long of ``images``, from one pass of the classifier."""
    read_classifier_call(classifier, images, batch_size)
    features = [classifier.features(x) for x in images.split(batch_size)]
    labels = [classifier.head(f).argmax(1) for f in features]
    return torch.cat(features).double(), torch.cat(labels)


def read_classifier_call(classifier: object, images: object, batch_size: object = 1) -> None:
    """The book's classifier (``features`` and ``head``: :func:`~ddpm_sampling.load_classifier`), a batch of images."""
    parts = (getattr(classifier, name, None) for name in ("features", "head"))
    if not isinstance(classifier, nn.Module) or not all(callable(part) for part in parts):
        raise TypeError(f"classifier must be the book's Classifier (load_classifier), got {check.describe(classifier)}")
    check.image(images, "images")
    if images.dim() != 4 or images.shape[1:] != (1, 28, 28):
        raise ValueError(f"images must be a batch (N, 1, 28, 28), got shape {tuple(images.shape)}")
    check.count(batch_size, "batch_size")


def gaussian_statistics(features: Tensor) -> tuple[Tensor, Tensor]:
    """Mean (D,) and covariance (D, D) of features (N, D), in float64 (N >= 2)."""
    check.finite(features, "features")
    if features.dim() != 2 or features.shape[0] < 2:
        raise ValueError(f"features must have shape (N, D) with N >= 2, got {tuple(features.shape)}")
    f = features.double()
    return f.mean(0), torch.cov(f.T).reshape(f.shape[1], f.shape[1])  # cov gives a 0-d tensor for D = 1


def _sqrt_psd(m: Tensor) -> Tensor:
    """The square root of a symmetric positive semi-definite matrix, by its eigendecomposition."""
    w, v = torch.linalg.eigh((m + m.T) / 2)
    return (v * w.clamp_min(0).sqrt()) @ v.T


def _covariance(sigma: Tensor, name: str) -> None:
    """A covariance is symmetric and positive semi-definite, up to float64 rounding of its largest entry."""
    scale = float(sigma.abs().max()) if sigma.numel() else 0.0
    tol = 1e-9 * max(scale, 1e-300) * sigma.shape[0]
    asymmetry = float((sigma - sigma.T).abs().max()) if sigma.numel() else 0.0
    if asymmetry > tol:
        raise ValueError(
            f"{name} is not symmetric (entries differ from their transpose by {asymmetry:.3g}): not a covariance"
        )
    lowest = float(torch.linalg.eigvalsh((sigma + sigma.T) / 2).min()) if sigma.numel() else 0.0
    if lowest < -tol:
        raise ValueError(f"{name} has the eigenvalue {lowest:.3g} < 0: a covariance is positive semi-definite")


def frechet_distance_gaussians(mu1: Tensor, sigma1: Tensor, mu2: Tensor, sigma2: Tensor) -> float:
    r"""The Frechet (2-Wasserstein) distance squared between two Gaussians.

    .. math:: d^2 = \lVert\mu_1-\mu_2\rVert^2 + \operatorname{tr}\Big(\Sigma_1+\Sigma_2
              -2\big(\Sigma_1^{1/2}\Sigma_2\Sigma_1^{1/2}\big)^{1/2}\Big)

    This is the quantity FID reports. The symmetric form under the trace has the same
    trace as :math:`(\Sigma_1\Sigma_2)^{1/2}` and needs only symmetric eigendecompositions.
    Each covariance must be symmetric and positive semi-definite (to float64 rounding): a
    ``ValueError`` says which is not.
    """
    for x, name in ((mu1, "mu1"), (sigma1, "sigma1"), (mu2, "mu2"), (sigma2, "sigma2")):
        check.finite(x, name)
    mu1, mu2, sigma1, sigma2 = (x.double() for x in (mu1, mu2, sigma1, sigma2))
    if mu1.dim() != 1 or mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (len(mu1), len(mu1)):
        raise ValueError(
            f"the means must be (D,) and the covariances (D, D) of one D, got {tuple(mu1.shape)}, "
            f"{tuple(sigma1.shape)}, {tuple(mu2.shape)}, {tuple(sigma2.shape)}"
        )
    for sigma, name in ((sigma1, "sigma1"), (sigma2, "sigma2")):
        _covariance(sigma, name)
    root1 = _sqrt_psd(sigma1)
    cross = torch.linalg.eigvalsh(root1 @ sigma2 @ root1).clamp_min(0).sqrt().sum()
    d2 = (mu1 - mu2).pow(2).sum() + sigma1.trace() + sigma2.trace() - 2 * cross
    return float(d2.clamp_min(0))


def frechet_distance(features_a: Tensor, features_b: Tensor) -> float:
    """The Frechet distance between two sets of features, (N, D) and (M, D), each seen as a Gaussian.

    Both are floating tensors of finite values, N and M >= 2; their dtypes may differ (float64 inside).
    """
    for features, name in ((features_a, "features_a"), (features_b, "features_b")):
        check.finite(features, name)
        if features.dim() != 2 or features.shape[0] < 2:
            raise ValueError(f"{name} must have shape (N, D) with N >= 2, got {tuple(features.shape)}")
    if features_a.shape[1] != features_b.shape[1]:
        raise ValueError(
            f"features_a and features_b must be (N, D) and (M, D) of one D, got {tuple(features_a.shape)} "
            f"and {tuple(features_b.shape)}"
        )
    return frechet_distance_gaussians(*gaussian_statistics(features_a), *gaussian_statistics(features_b))


# --- simple measures --------------------------------------------------------------------------


def class_shares(labels: Tensor, num_classes: int = len(CLASS_NAMES)) -> Tensor:
    """The fraction of ``labels`` (N,) in each class, (num_classes,) float64, summing to 1.

    ``labels`` is a non-empty (N,) tensor of a signed integer dtype with values in 0..num_classes - 1.
    """
    num_classes = check.count(num_classes, "num_classes")
    if not isinstance(labels, Tensor) or labels.dtype not in check.SIGNED_INTEGERS:
        raise TypeError(f"labels must be a tensor of a signed integer dtype, got {check.describe(labels)}")
    if labels.dim() != 1 or labels.numel() == 0:
        raise ValueError(f"labels must be a non-empty (N,) integer tensor, got {labels.dtype} {tuple(labels.shape)}")
    outside = (labels < 0) | (labels >= num_classes)
    if bool(outside.any()):
        raise ValueError(f"labels holds {int(labels[outside][0])}, outside the valid range 0..{num_classes - 1}")
    return torch.bincount(labels, minlength=num_classes).double() / labels.numel()


def saturated(images: Tensor, margin: float = SATURATION_MARGIN) -> Tensor:
    """For each image (B, C, H, W), the fraction of its pixels outside [-1 - margin, 1 + margin], (B,).

    ``margin`` is a finite real number >= 0.
    """
    check.image(images, "images")
    if images.dim() != 4:
        raise ValueError(f"images must be a batch (B, C, H, W), got shape {tuple(images.shape)}")
    margin = check.std(margin, "margin", ": a distance beyond the data range")
    return (images.abs() > 1 + margin).flatten(1).double().mean(1)


@torch.no_grad()
def nearest_training(samples: Tensor, data: Tensor, chunk: int = 10_000) -> tuple[Tensor, Tensor]:
    """For each sample, the index of the nearest training image and the RMS distance per pixel.

    Args:
        samples: (B, C, H, W); data: (N, C, H, W). The data is taken ``chunk`` images at a time,
            so that 60,000 training images need no (B, 60000) matrix at once.

    Returns:
        ``(index, rms)``: (B,) long and (B,) float64.
    """
    check.image(samples, "samples")
    check.image(data, "data")
    chunk = check.count(chunk, "chunk")
    if samples.dim() != 4 or data.dim() != 4 or samples.shape[1:] != data.shape[1:]:
        raise ValueError(
            f"samples {tuple(samples.shape)} and data {tuple(data.shape)} differ in image size; both must be "
            "batches (B, C, H, W) and (N, C, H, W) of one C, H, W"
        )
    x = samples.reshape(samples.shape[0], -1).double()
    x_sq = (x * x).sum(1, keepdim=True)
    # squared distances of values beyond about 1e150 overflow float64, and every distance would be inf
    too_large = "holds values too large for squared distances in float64 (largest magnitude {:.3g}); scale the images"
    if not bool(torch.isfinite(x_sq).all()):
        raise ValueError("samples " + too_large.format(float(samples.abs().max())))
    best_d2 = torch.full((x.shape[0],), float("inf"), dtype=torch.float64)
    best_i = torch.zeros(x.shape[0], dtype=torch.long)
    for start in range(0, data.shape[0], chunk):
        y = data[start : start + chunk].reshape(-1, x.shape[1]).double()
        d2 = x_sq - 2 * x @ y.T + (y * y).sum(1)  # (B, chunk) squared distances
        if not bool(torch.isfinite(d2).all()):
            big = max(float(samples.abs().max()), float(y.abs().max()))
            raise ValueError("data (or samples) " + too_large.format(big))
        d2_min, i_min = d2.min(dim=1)
        closer = d2_min < best_d2
        best_d2[closer], best_i[closer] = d2_min[closer], i_min[closer] + start
    # the distance itself directly, not from the expansion, so that an exact copy gives 0
    nearest = data[best_i].reshape(x.shape).double()
    return best_i, (x - nearest).pow(2).mean(1).sqrt()


@torch.no_grad()
def noise_prediction_error(
    model: Model, schedule: Schedule, images: Tensor, timesteps: list[int], generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    r"""The RMS error of the model's noise prediction at each timestep, on clean ``images`` (B, C, H, W).

    For each t: draw fresh noise, form :math:`x_t` in closed form, ask the model, and compare.
    Also returns the RMS error of the one-shot estimate :math:`\hat x_0` it implies.

    Returns:
        ``(eps_rms, x0_rms)``: two (len(timesteps),) float64 tensors.
    """
    check.model(model)
    check.instance(schedule, Schedule, "schedule", "cosine_schedule")
    check.image(images, "images")
    timesteps = check.timesteps(timesteps, 1, schedule.T, "timesteps")
    if not timesteps:
        raise ValueError("timesteps is empty; give at least one timestep in 1..T")
    check.instance(generator, torch.Generator, "generator")
    eps_rms, x0_rms = [], []
    for t in timesteps:
        eps = torch.randn(images.shape, generator=generator)
        x_t = q_sample(images, t, eps, schedule)
        eps_hat = model(x_t, t)
        check.prediction(x_t, t, eps_hat)
        eps_rms.append((eps_hat - eps).double().pow(2).mean().sqrt())
        x0_rms.append((predict_x0(x_t, t, eps_hat, schedule) - images).double().pow(2).mean().sqrt())
    return torch.stack(eps_rms), torch.stack(x0_rms)
