r"""A small U-Net that predicts the noise: ``model(x_t, t) -> eps``, like every model of the book.

Three named parts, read top to bottom:

1. :func:`timestep_embedding`, the sinusoidal code of t (as in the Transformer and in DDPM),
   turned by a small MLP into a vector that every residual block adds to its features;
2. :class:`ResBlock`, two 3x3 convolutions with GroupNorm and SiLU and a skip connection;
3. :class:`UNet`, a path down (28 -> 14 -> 7 pixels), a middle, and a path back up that
   concatenates the features saved on the way down.

Sizes are for Fashion-MNIST (1 x 28 x 28); the defaults give 518,561 parameters.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from . import _checks as check


@dataclass(frozen=True)
class UNetConfig:
    """Everything that fixes the network's shape; stored with the weights."""

    image_channels: int = 1
    channels: tuple[int, ...] = (32, 64, 96)  # features at 28x28, 14x14 and 7x7
    time_dim: int = 128  # width of the timestep embedding
    groups: int = 8  # GroupNorm groups; divides every entry of ``channels``
    max_period: float = 10_000.0  # longest wavelength of the sinusoidal code

    def __post_init__(self) -> None:
        """Read every field as the network needs it: a ``TypeError`` or ``ValueError`` names the field."""
        setattr_ = object.__setattr__  # the dataclass is frozen
        setattr_(self, "image_channels", check.count(self.image_channels, "image_channels"))
        if isinstance(self.channels, (str, bytes)) or not isinstance(self.channels, (tuple, list)):
            raise TypeError(f"channels must be a tuple of 3 ints, got {check.describe(self.channels)}")
        if len(self.channels) != 3:
            raise ValueError(f"channels = {tuple(self.channels)} must hold 3 ints, the features at 3 resolutions")
        setattr_(self, "channels", tuple(check.count(c, f"channels[{i}]") for i, c in enumerate(self.channels)))
        time_dim = check.count(self.time_dim, "time_dim", 2)
        if time_dim % 2:
            raise ValueError(f"time_dim = {time_dim} must be even: the timestep code is half sines, half cosines")
        setattr_(self, "time_dim", time_dim)
        groups = check.count(self.groups, "groups")
        if any(c % groups for c in self.channels):
            raise ValueError(f"groups = {groups} must divide every entry of channels = {self.channels} (GroupNorm)")
        setattr_(self, "groups", groups)
        setattr_(
            self, "max_period", check.positive(self.max_period, "max_period", ": a wavelength of the timestep code")
        )

    def to_dict(self) -> dict:
        return {**asdict(self), "channels": list(self.channels)}

    @classmethod
    def from_dict(cls, d: dict) -> UNetConfig:
        return cls(**{**d, "channels": tuple(d["channels"])})


def timestep_embedding(t: Tensor, dim: int, max_period: float = 10_000.0) -> Tensor:
    r"""Sinusoidal code of the timesteps ``t`` (B,): (B, dim), sines then cosines.

    Frequencies fall geometrically from 1 to 1/max_period:
    :math:`[\sin(t\,\omega_k), \cos(t\,\omega_k)]` with :math:`\omega_k = \text{max\_period}^{-k/(dim/2)}`.
    """
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    angles = t.float()[:, None] * freqs[None]  # (B, half)
    return torch.cat([angles.sin(), angles.cos()], dim=1)  # (B, dim)


class ResBlock(nn.Module):
    """GroupNorm -> SiLU -> conv, the timestep added, GroupNorm -> SiLU -> conv, plus the input."""

    def __init__(self, c_in: int, c_out: int, time_dim: int, groups: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.time = nn.Linear(time_dim, c_out)
        self.norm2 = nn.GroupNorm(groups, c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        # SiLU and the additions work in place on tensors made here: fewer passes over memory
        h = self.conv1(F.silu(self.norm1(x), inplace=True))  # (B, c_out, H, W)
        h += self.time(emb)[:, :, None, None]  # the same shift at every pixel
        h = self.conv2(F.silu(self.norm2(h), inplace=True))
        return h.add_(self.skip(x))


class UNet(nn.Module):
    """The noise predictor: (B, 1, 28, 28) noisy images and (B,) timesteps in, (B, 1, 28, 28) noise out.

    Call it as ``model(x_t, t)`` with ``x_t`` (C, H, W) or (B, C, H, W) and ``t`` an int or a (B,)
    integer tensor, like the oracles. Height and width must be divisible by 4.
    """

    def __init__(self, config: UNetConfig | None = None):
        super().__init__()
        if config is not None and not isinstance(config, UNetConfig):
            raise TypeError(f"config must be a UNetConfig or None, got {check.describe(config)}")
        self.config = cfg = UNetConfig() if config is None else config
        c1, c2, c3 = cfg.channels
        d, g = cfg.time_dim, cfg.groups
        self.time_mlp = nn.Sequential(nn.Linear(d, d), nn.SiLU(), nn.Linear(d, d))
        self.stem = nn.Conv2d(cfg.image_channels, c1, 3, padding=1)
        # down: 28 -> 14 -> 7, keeping each level's output for the skip connection
        self.down1 = ResBlock(c1, c1, d, g)
        self.pool1 = nn.Conv2d(c1, c1, 3, stride=2, padding=1)
        self.down2 = ResBlock(c1, c2, d, g)
        self.pool2 = nn.Conv2d(c2, c2, 3, stride=2, padding=1)
        self.middle = ResBlock(c2, c3, d, g)
        # up: 7 -> 14 -> 28, each level seeing the upsampled features next to its skip
        self.up2 = ResBlock(c3 + c2, c2, d, g)
        self.up1 = ResBlock(c2 + c1, c1, d, g)
        self.head = nn.Sequential(
            nn.GroupNorm(g, c1), nn.SiLU(inplace=True), nn.Conv2d(c1, cfg.image_channels, 3, padding=1)
        )
        nn.init.zeros_(self.head[-1].weight)  # start by predicting zero noise: a calm first step
        nn.init.zeros_(self.head[-1].bias)
        # channels last (pixels outer, features inner): the layout in which the CPU's convolutions and
        # group norms run fastest; loading weights into the network keeps it
        self.to(memory_format=torch.channels_last)

    def forward(self, x_t: Tensor, t: int | Tensor) -> Tensor:
        t = self._read(x_t, t)
        single = x_t.dim() == 3
        x = (x_t[None] if single else x_t).contiguous(memory_format=torch.channels_last)  # (B, C, H, W)
        t = torch.as_tensor(t, device=x.device).reshape(-1).expand(x.shape[0])  # (B,)
        emb = self.time_mlp(timestep_embedding(t, self.config.time_dim, self.config.max_period))  # (B, d)
        h1 = self.down1(self.stem(x), emb)  # (B, c1, 28, 28)
        h2 = self.down2(self.pool1(h1), emb)  # (B, c2, 14, 14)
        h = self.middle(self.pool2(h2), emb)  # (B, c3, 7, 7)
        h = self.up2(torch.cat([F.interpolate(h, scale_factor=2.0), h2], dim=1), emb)  # (B, c2, 14, 14)
        h = self.up1(torch.cat([F.interpolate(h, scale_factor=2.0), h1], dim=1), emb)  # (B, c1, 28, 28)
        eps = self.head(h)  # (B, C, 28, 28)
        return eps[0] if single else eps

    def _read(self, x_t: Tensor, t: object) -> int | Tensor:
        """Check a call's arguments, cheaply (no scan of the values: a sampler calls this at every step)."""
        check.image(x_t, "x_t", scan=False)
        c, h, w = x_t.shape[-3:]
        if c != self.config.image_channels or h % 4 or w % 4:
            raise ValueError(
                f"x_t has shape {tuple(x_t.shape)}; it needs {self.config.image_channels} channel(s) and a height "
                "and width divisible by 4"
            )
        weight = self.stem.weight
        if x_t.dtype != weight.dtype:
            raise TypeError(f"x_t has dtype {x_t.dtype}; the network computes in {weight.dtype}")
        if x_t.device != weight.device:
            raise ValueError(f"x_t is on {x_t.device}; the network is on {weight.device}")
        t = check.timestep(t, 0, None)
        check.batch_timestep(t, x_t)
        return t

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
