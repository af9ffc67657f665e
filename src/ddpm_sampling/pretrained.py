"""The shipped networks, loaded in one call and checked against their training records.

Each network lives in ``weights/`` as ``<name>.pt`` next to ``<name>.json``, the record that
``make train`` wrote when it made the weights: recipe, seed, steps, wall time, device,
versions, the loss curve and the SHA-256 of the weights file. Loading refuses a file whose
hash differs from its record.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from torch import nn

from . import _checks as check
from .classifier import Classifier
from .files import sha256
from .unet import UNet, UNetConfig

#: The folder of the shipped weights, inside the package so that ``pip install`` brings them.
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
NETWORKS = ("unet", "classifier")


class WeightsError(OSError):
    """A shipped network's weights or training record are missing or do not match."""


def _weights_dir(folder: object) -> Path:
    """The folder of the weights: the package's ``weights/`` for ``None``, else ``folder`` read as a folder path."""
    return WEIGHTS_DIR if folder is None else check.folder(folder, "folder")


def training_record(name: str = "unet", folder: str | os.PathLike | None = None) -> dict:
    """The training record of a shipped network (``"unet"`` or ``"classifier"``), as a dict.

    ``folder``: where ``<name>.json`` is, a str or os.PathLike; the package's ``weights/`` for ``None``.
    """
    name = check.choice(name, "name", NETWORKS)
    path = _weights_dir(folder) / f"{name}.json"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise WeightsError(f"the training record {path} is missing; {_remedy(name)}") from err
    except IsADirectoryError as err:
        raise WeightsError(f"the training record {path} is a folder, not a file; {_remedy(name)}") from err
    except UnicodeDecodeError as err:
        raise WeightsError(f"the training record {path} is not UTF-8 text ({err.reason}); {_remedy(name)}") from err
    except json.JSONDecodeError as err:
        raise WeightsError(f"the training record {path} is not valid JSON ({err}); {_remedy(name)}") from err
    except OSError as err:
        raise WeightsError(f"the training record {path} cannot be read ({err.strerror}); {_remedy(name)}") from err
    if not isinstance(record, dict):
        raise WeightsError(
            f"the training record {path} holds a JSON {type(record).__name__}, not an object of fields; {_remedy(name)}"
        )
    return record


def _remedy(name: str) -> str:
    return (
        f"restore it with `git checkout -- src/ddpm_sampling/weights/` or make it again with "
        f'`make train OUT=src/ddpm_sampling/weights ARGS="--force {name}"` '
        f"(python -m ddpm_sampling.train {name} --out src/ddpm_sampling/weights --force)"
    )


def _checked_state(name: str, folder: str | os.PathLike | None) -> tuple[dict, dict]:
    """The saved ``{"config", "state_dict"}`` of a network, after checking its hash against the record."""
    record = training_record(name, folder)
    path = _weights_dir(folder) / f"{name}.pt"
    if path.is_dir():
        raise WeightsError(f"the weights file {path} is a folder, not a file; {_remedy(name)}")
    if not path.is_file():
        raise WeightsError(f"the weights file {path} is missing; {_remedy(name)}")
    try:
        digest = sha256(path)
    except OSError as err:
        raise WeightsError(f"the weights file {path} cannot be read ({err.strerror}); {_remedy(name)}") from err
    if digest != record.get("sha256"):
        raise WeightsError(
            f"the weights file {path} is damaged or not the one its record describes: its SHA-256 is "
            f"{digest[:16]}..., the record says {str(record.get('sha256'))[:16]}...; {_remedy(name)}"
        )
    saved = torch.load(path, map_location="cpu", weights_only=True)
    return saved, record


def _ready(model: nn.Module, state_dict: dict) -> nn.Module:
    model.load_state_dict(state_dict)
    return model.eval().requires_grad_(False)  # for sampling and judging only: no gradients, no graphs


def load_pretrained(folder: str | os.PathLike | None = None) -> UNet:
    """The trained noise predictor, ``model(x_t, t) -> eps``, in eval mode on the CPU.

    Args:
        folder: where ``unet.pt`` and ``unet.json`` are; the package's ``weights/`` by default.

    Raises:
        WeightsError: the weights or their record are missing, or the weights' SHA-256 is not
            the one in the record. The message says how to get them back (``make train``).
    """
    saved, _ = _checked_state("unet", folder)
    return _ready(UNet(UNetConfig.from_dict(saved["config"])), saved["state_dict"])


def load_classifier(folder: str | os.PathLike | None = None) -> Classifier:
    """The Fashion-MNIST classifier that judges samples, in eval mode on the CPU.

    ``model(x)`` gives class logits (B, 10) for images (B, 1, 28, 28) in [-1, 1];
    ``model.features(x)`` the (B, 128) features of the Frechet distance. Raises
    :class:`WeightsError` like :func:`load_pretrained`.
    """
    saved, _ = _checked_state("classifier", folder)
    config = saved["config"]
    return _ready(Classifier(tuple(config["channels"]), config["num_classes"]), saved["state_dict"])
