"""What the two commands, ``python -m ddpm_sampling.train`` and ``python -m ddpm_sampling.evaluate``, share:
where they write by default, the checks of their arguments before any work, and one-line failures."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch

from . import _checks as check

#: Where ``python -m ddpm_sampling.train`` and ``python -m ddpm_sampling.evaluate`` write without
#: ``--out``: a folder of the current directory, never the installed package.
RUNS_DIR = Path("runs")


def output_folder(value: object, name: str = "--out") -> Path:
    """A folder to write into, checked before any work: an existing folder, or a path that can become one.

    ``ValueError`` if it is a file, lies under a file, or its nearest existing folder cannot be written.
    """
    path = check.folder(value, name)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{name} = {str(path)!r} is a file, not a folder; name a folder (it is made if missing)")
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"{name} = {str(path)!r} cannot be made: {str(existing)!r} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"{name} = {str(path)!r} cannot be written: {str(existing)!r} is not writable")
    return path


def refuse_replacing(paths: list[Path], how: str = "give --force to replace it, or another --out") -> None:
    """``FileExistsError`` naming the first of ``paths`` that exists (a folder there can never be replaced)."""
    for path in paths:
        if path.is_dir():
            raise FileExistsError(f"{path} is a folder where a file is to be written; move it away")
        if path.exists():
            raise FileExistsError(f"{path} exists and is not replaced: {how}")


def read_device(value: object, name: str = "--device") -> str:
    """A device the networks can run on here: ``cpu``, or ``cuda``/``cuda:N`` when that GPU is present."""
    accepted = "cpu, cuda or cuda:N"
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a device name ({accepted}), got {check.describe(value)}")
    try:
        device = torch.device(value)
    except (RuntimeError, ValueError):
        raise ValueError(f"{name} = {value!r} is not a device; give {accepted}") from None
    if device.type == "cpu":
        return value
    if device.type != "cuda":
        raise ValueError(f"{name} = {value!r} is not supported; give {accepted}")
    n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if n == 0:
        raise ValueError(f"{name} = {value!r}: no CUDA GPU is available here; give cpu")
    if device.index is not None and device.index >= n:
        raise ValueError(f"{name} = {value!r} is outside the GPUs here: cuda:0..cuda:{n - 1}")
    return value


def fail(parser: argparse.ArgumentParser, message: str) -> None:
    """End a command with one line that says what is wrong (exit status 2, as argparse does)."""
    parser.exit(2, f"{parser.prog}: error: {message}\n")
