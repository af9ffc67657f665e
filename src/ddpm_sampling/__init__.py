"""DDPM sampling, small and tested: the cosine schedule, forward and reverse steps,
the sampling loop and fewer-step samplers (strided DDPM, DDIM), oracle models, the
ideal denoiser and a small trained U-Net, measures of sample quality, Fashion-MNIST,
the exercises' self-checks and the book's plots.

Timesteps run t = 1..T as in the DDPM paper; per-timestep tensors have length T + 1
and index 0 is the clean image.
"""

from .data import CLASS_NAMES, DataDamagedError, DataNotFoundError, first_index_of, load_fashion_mnist, one_per_class
from .ideal import ideal_denoiser
from .metrics import frechet_distance, nearest_training
from .models import noisy_model, target_oracle
from .pretrained import WeightsError, load_classifier, load_pretrained, training_record
from .respacing import ddim_sample, respaced_timesteps, strided_ddpm_sample
from .samplers import ddpm_sample, x0_predictions
from .schedule import Schedule, cosine_schedule, error_gain, reverse_coefficients
from .steps import predict_eps, predict_x0, q_sample, reverse_step
from .unet import UNet

__all__ = [
    "CLASS_NAMES",
    "DataDamagedError",
    "DataNotFoundError",
    "Schedule",
    "UNet",
    "WeightsError",
    "cosine_schedule",
    "ddim_sample",
    "ddpm_sample",
    "error_gain",
    "first_index_of",
    "frechet_distance",
    "ideal_denoiser",
    "load_classifier",
    "load_fashion_mnist",
    "load_pretrained",
    "nearest_training",
    "noisy_model",
    "one_per_class",
    "predict_eps",
    "predict_x0",
    "q_sample",
    "respaced_timesteps",
    "reverse_coefficients",
    "reverse_step",
    "strided_ddpm_sample",
    "target_oracle",
    "training_record",
    "x0_predictions",
]
