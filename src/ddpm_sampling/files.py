"""Writing files whole: through a temporary file beside the target and one rename, so that a crash never
leaves a half-written file and, unless asked, an existing file is never replaced; and their SHA-256."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import torch


def _readable(fd: int) -> None:
    """Give a temporary file the permissions of a file made with ``open`` (mkstemp makes it 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(fd, 0o666 & ~umask)


def _publish(tmp: str, path: Path, overwrite: bool) -> None:
    """Give the finished temporary file ``tmp`` its name ``path`` in one step.

    ``overwrite=False`` links it there instead of renaming: the link fails if ``path`` exists,
    so a file that appeared meanwhile is never replaced (``FileExistsError``).
    """
    if overwrite:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise FileExistsError(f"{path} exists; it is not replaced without --force (overwrite=True)") from None
    Path(tmp).unlink()


def save_atomic(obj: object, path: Path, *, overwrite: bool = True) -> None:
    """``torch.save`` to a temporary file beside ``path``, then rename: ``path`` is never half-written.

    ``overwrite=False`` refuses to replace an existing ``path`` (``FileExistsError``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        _readable(fd)
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
        _publish(tmp, path, overwrite)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(text: str, path: Path, *, overwrite: bool = True) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename (see :func:`save_atomic`)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        _readable(fd)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        _publish(tmp, path, overwrite)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sha256(path: Path) -> str:
    """The SHA-256 of the file at ``path``, in hex: what a training record keeps of its weights."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
