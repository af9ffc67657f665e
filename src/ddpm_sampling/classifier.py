"""A small Fashion-MNIST classifier, used to judge samples: its class predictions, and its
penultimate features as the space in which the Frechet distance is measured (the FID recipe of
Heusel et al. 2017, with this network in place of Inception)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from . import _checks as check

#: Width of the feature vector (the penultimate layer).
FEATURES = 128


class Classifier(nn.Module):
    """Two blocks of 3x3 convolutions with max-pooling (28 -> 14 -> 7), then two linear layers.

    ``model(x)`` takes images (B, 1, 28, 28) in [-1, 1] and returns class logits (B, 10);
    ``model.features(x)`` returns the (B, 128) vectors the logits are computed from.
    """

    def __init__(self, channels: tuple[int, int] = (32, 64), num_classes: int = 10):
        super().__init__()
        if isinstance(channels, (str, bytes)) or not isinstance(channels, (tuple, list)) or len(channels) != 2:
            raise TypeError(f"channels must be a pair of ints (c1, c2), got {check.describe(channels)}")
        c1, c2 = (check.count(c, f"channels[{i}]") for i, c in enumerate(channels))
        num_classes = check.count(num_classes, "num_classes", 2)
        self.channels, self.num_classes = (c1, c2), num_classes

        def block(c_in: int, c_out: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(c_in, c_out, 3, padding=1),
                nn.BatchNorm2d(c_out),
                nn.ReLU(),
                nn.Conv2d(c_out, c_out, 3, padding=1),
                nn.BatchNorm2d(c_out),
                nn.ReLU(),
                nn.MaxPool2d(2),
            )

        self.body = nn.Sequential(block(1, c1), block(c1, c2), nn.Flatten(), nn.Dropout(0.3))
        self.embed = nn.Sequential(nn.Linear(c2 * 7 * 7, FEATURES), nn.ReLU())
        self.head = nn.Linear(FEATURES, num_classes)
        # channels last, as the U-Net: on a CPU its convolutions run about 20% faster per image that way;
        # loading weights into the network keeps it
        self.to(memory_format=torch.channels_last)

    def features(self, x: Tensor) -> Tensor:
        """The penultimate activations, (B, 128), of images ``x`` (B, 1, 28, 28) of the network's dtype and device."""
        check.tensor(x, "x")
        if x.dim() != 4 or tuple(x.shape[1:]) != (1, 28, 28) or x.shape[0] == 0:
            raise ValueError(f"x must be a batch of images (B, 1, 28, 28) with B >= 1, got shape {tuple(x.shape)}")
        weight = self.head.weight
        if x.dtype != weight.dtype:
            raise TypeError(f"x has dtype {x.dtype}; the classifier computes in {weight.dtype}: convert x with .to()")
        if x.device != weight.device:
            raise ValueError(f"x is on {x.device}, the classifier on {weight.device}: move one of them")
        return self.embed(self.body(x.contiguous(memory_format=torch.channels_last)))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))  # (B, 10) logits

    def config(self) -> dict:
        return {"channels": list(self.channels), "num_classes": self.num_classes}
