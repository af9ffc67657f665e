"""Fashion-MNIST through torchvision, with an offline path, never overwriting what is there.

Where the data is looked for, in order: the ``root`` argument, ``$FASHION_MNIST_ROOT``,
``./data``. A folder holds the data when ``<folder>/FashionMNIST/raw/`` has the four
uncompressed IDX files. Every load checks their headers and sizes first, so that a
truncated or edited file is reported by its path, with the fix, before torchvision reads it.

When no folder holds all four, the first searched folder is given the files it lacks:
from the Debian/Ubuntu package ``dataset-fashion-mnist`` if it is installed, and else by
torchvision's download. Filling only adds files: a file that is there is never
overwritten, truncated or deleted, and a damaged one stops the load with a
:class:`DataDamagedError`. Folders made for a fill that failed are removed again.
"""

from __future__ import annotations

import gzip
import math
import numbers
import os
import shutil
import tempfile
import zlib
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torchvision import datasets, transforms

from . import _checks as check

#: Where the Debian/Ubuntu package ``dataset-fashion-mnist`` installs the gzipped IDX files.
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
#: The IDX files: each name with its magic number and dimensions. An IDX file is a header of
#: big-endian int32s (the magic number, then one per dimension) and one byte per pixel or label.
IDX_LAYOUT = {
    "train-images-idx3-ubyte": (2051, (60000, 28, 28)),
    "train-labels-idx1-ubyte": (2049, (60000,)),
    "t10k-images-idx3-ubyte": (2051, (10000, 28, 28)),
    "t10k-labels-idx1-ubyte": (2049, (10000,)),
}
RAW_FILES = tuple(IDX_LAYOUT)
#: The ten classes, indexed by label.
CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
REINSTALL = "sudo apt-get install --reinstall dataset-fashion-mnist"


class DataNotFoundError(FileNotFoundError):
    """Fashion-MNIST is nowhere on disk and could not be downloaded."""


class DataDamagedError(ValueError):
    """A Fashion-MNIST file is damaged (truncated, edited, not decompressible); the message names it and the fix."""


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def raw_dir(root: str | os.PathLike) -> Path:
    """The folder in which torchvision expects the uncompressed files: ``root/FashionMNIST/raw``."""
    return check.folder(root, "root") / "FashionMNIST" / "raw"


def candidate_roots(root: str | os.PathLike | None = None) -> list[Path]:
    """The folders searched, in order: ``root``, ``$FASHION_MNIST_ROOT``, ``./data``."""
    found = [check.folder(root, "root")] if root is not None else []
    if os.environ.get("FASHION_MNIST_ROOT"):
        found.append(check.folder(os.environ["FASHION_MNIST_ROOT"], "$FASHION_MNIST_ROOT"))
    found.append(Path("data"))
    return found


# --- checking the IDX files ----------------------------------------------------------------------


def idx_problem(path: Path, name: str) -> str | None:
    """What is wrong with ``path`` as the IDX file ``name`` of ``RAW_FILES``, or None when nothing is.

    Checks the magic number, the dimensions, that the size is exactly header + payload, and
    that labels are 0..9. Reads the header and the labels only, never a whole image file.
    """
    magic, dims = IDX_LAYOUT[name]
    header_size = 4 * (1 + len(dims))
    payload = math.prod(dims)
    if not path.is_file():
        return "is not a regular file"
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        header = f.read(header_size)
        if len(header) < 4:
            return f"is {size} bytes long, too short for the 4-byte magic number"
        found = int.from_bytes(header[:4], "big")
        if found != magic:
            hint = " (it looks gzip-compressed: decompress it with gunzip)" if header[:2] == b"\x1f\x8b" else ""
            return f"starts with the magic number {found}, not {magic}{hint}"
        if len(header) < header_size:
            return f"is {size} bytes long, shorter than its {header_size}-byte header"
        shape = tuple(int.from_bytes(header[i : i + 4], "big") for i in range(4, header_size, 4))
        if shape != dims:
            return f"has dimensions {shape} in its header, not {dims}"
        if size != header_size + payload:
            what = "truncated" if size < header_size + payload else "longer than its header says"
            return f"is {size} bytes long, not {header_size} + {payload} = {header_size + payload}: it is {what}"
        if len(dims) == 1:
            labels = np.frombuffer(f.read(), dtype=np.uint8)
            if labels.max() >= len(CLASS_NAMES):
                i = int(np.argmax(labels >= len(CLASS_NAMES)))
                return f"holds the label {labels[i]} at index {i}; labels are 0..{len(CLASS_NAMES) - 1}"
    return None


def _check_present(raw: Path) -> list[str]:
    """Check every one of the four files that is in ``raw``; return the names of those that are absent."""
    absent = []
    for name in RAW_FILES:
        path = raw / name
        if not os.path.lexists(path):
            absent.append(name)
        elif problem := idx_problem(path, name):
            raise DataDamagedError(
                f"{path} {problem}.\n"
                "The loader leaves it as it is. To fix it, delete that file: the next load fetches it again, "
                "from the Debian package dataset-fashion-mnist if it is installed, or else from the internet."
            )
    return absent


# --- filling a folder with the files it lacks --------------------------------------------------


def _make_folders(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; return those this call created, outermost first."""
    missing = []
    for path in (folder, *folder.parents):
        if path.is_dir():
            break
        if os.path.lexists(path):
            raise NotADirectoryError(f"{path} is not a folder, so Fashion-MNIST cannot be put in {folder}")
        missing.append(path)
    created = []
    try:
        for path in reversed(missing):
            try:
                path.mkdir()
            except FileExistsError:  # made at the same moment by another process: theirs, not ours
                if not path.is_dir():
                    raise
            else:
                created.append(path)
    except BaseException:
        _remove_empty(created)
        raise
    return created


def _remove_empty(created: list[Path]) -> None:
    """Remove the folders this call created, innermost first, each only if it is still empty."""
    for path in reversed(created):
        try:
            path.rmdir()
        except OSError:  # something else put a file there meanwhile: leave it
            break


def _place_new(src: Path, dest: Path) -> None:
    """Give ``dest`` the file ``src`` unless ``dest`` exists by then (another process filling the same folder)."""
    try:
        os.link(src, dest)  # fails if dest exists: never an overwrite
    except FileExistsError:
        pass
    except OSError:  # a file system without hard links
        if not os.path.lexists(dest):
            os.replace(src, dest)


def _decompress_debian(names: list[str], debian_dir: Path, scratch: Path) -> None:
    """Decompress the Debian package's files ``names`` into ``scratch`` and check them."""
    for name in names:
        gz, out_path = debian_dir / f"{name}.gz", scratch / name
        try:
            with gzip.open(gz, "rb") as src, open(out_path, "wb") as out:
                shutil.copyfileobj(src, out)
        except (EOFError, gzip.BadGzipFile, zlib.error) as err:  # a truncated or damaged .gz
            raise DataDamagedError(
                f"{gz} cannot be decompressed ({type(err).__name__}: {err}).\nReinstall the package: {REINSTALL}"
            ) from err
        if problem := idx_problem(out_path, name):
            raise DataDamagedError(f"{gz} decompresses to a file that {problem}.\nReinstall the package: {REINSTALL}")


def _download(names: list[str], scratch: Path) -> None:
    """Let torchvision download into ``scratch``, check the files ``names`` and move them to its top."""
    datasets.FashionMNIST(scratch, train=True, download=True)
    for name in names:
        if problem := idx_problem(raw_dir(scratch) / name, name):
            raise DataDamagedError(f"the downloaded {name} {problem}; download it again by loading once more")
        os.replace(raw_dir(scratch) / name, scratch / name)


def _fill(raw: Path, names: list[str], debian_dir: Path, searched: list[Path]) -> None:
    """Put the files ``names`` into ``raw``, all checked before the first is placed; never overwrite one."""
    use_debian = all((debian_dir / f"{name}.gz").is_file() for name in names)
    with tempfile.TemporaryDirectory(dir=raw, prefix=".fill-") as scratch:
        if use_debian:
            _decompress_debian(names, debian_dir, Path(scratch))
        else:
            try:
                _download(names, Path(scratch))
            except DataDamagedError:
                raise
            except Exception as err:  # no network, a mirror down, a bad checksum: all end the same way
                raise _not_found(searched, err) from err
        for name in names:
            _place_new(Path(scratch) / name, raw / name)


def _not_found(searched: list[Path], reason: BaseException) -> DataNotFoundError:
    where = ", ".join(str(p.resolve()) for p in searched)
    return DataNotFoundError(
        f"Fashion-MNIST was not found (looked in: {where}) and could not be downloaded ({reason}).\n"
        "Get it in one of three ways:\n"
        "  1. On Debian/Ubuntu, install the package that ships it: sudo apt-get install dataset-fashion-mnist\n"
        "  2. Point FASHION_MNIST_ROOT (or the root argument) at a folder whose FashionMNIST/raw/ holds\n"
        f"     the four uncompressed files: {', '.join(RAW_FILES)}\n"
        "  3. Connect to the internet once, so that torchvision can download it into ./data"
    )


def ensure_fashion_mnist(root: str | os.PathLike | None = None, debian_dir: str | os.PathLike | None = None) -> Path:
    """Return a folder that holds Fashion-MNIST, checked, filling the first searched folder if none does.

    Args:
        root: a folder to look in first (see the module's docstring for the order).
        debian_dir: where the Debian package's ``.gz`` files are; ``DEBIAN_DIR`` by default.

    Raises:
        DataDamagedError: a file is damaged; the message names it and the fix. Nothing was written.
        DataNotFoundError: with the three ways to get the data, if every way failed. Nothing was left behind.
    """
    searched = candidate_roots(root)
    debian_dir = DEBIAN_DIR if debian_dir is None else check.folder(debian_dir, "debian_dir")
    for folder in searched:
        if all(os.path.lexists(raw_dir(folder) / name) for name in RAW_FILES):
            _check_present(raw_dir(folder))
            return folder
    target = searched[0]
    raw = raw_dir(target)
    absent = _check_present(raw)  # a damaged file stops the fill before anything is written
    created = _make_folders(raw)
    try:
        _fill(raw, absent, debian_dir, searched)
    except BaseException:
        _remove_empty(created)
        raise
    _check_present(raw)  # the files another process may have placed at the same moment
    return target


def load_fashion_mnist(train: bool = True, root: str | os.PathLike | None = None) -> datasets.FashionMNIST:
    """Fashion-MNIST with images scaled to [-1, 1]: each item is ((1, 28, 28) float32, label).

    ``.data`` holds the images as (N, 28, 28) uint8 and ``.targets`` the labels as (N,) int64.

    Args:
        train: the 60,000 training images, or the 10,000 test images if ``False``.
        root: a folder to look in first (see the module's docstring for the order).

    Raises:
        DataDamagedError: a file is damaged; the message names it and the fix.
        DataNotFoundError: the data is nowhere and could not be fetched; the message lists three ways to get it.
    """
    train = check.flag(train, "train")
    folder = ensure_fashion_mnist(root)
    to_range = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    return datasets.FashionMNIST(folder, train=train, download=False, transform=to_range)


# --- picking examples by class -------------------------------------------------------------------


def class_label(label: int | str) -> int:
    """The integer label of a class given by label (0..9) or by name (see ``CLASS_NAMES``).

    A label may be a Python or NumPy integer or an integer tensor of shape (), such as
    ``dataset.targets[i]``; never a bool or a float.
    """
    if isinstance(label, str):
        if label not in CLASS_NAMES:
            raise ValueError(f"label = {_show(label)} is not a class name; the names are {CLASS_NAMES}")
        return CLASS_NAMES.index(label)
    is_int_tensor = (
        isinstance(label, torch.Tensor)
        and label.dim() == 0
        and not (label.dtype.is_floating_point or label.dtype.is_complex or label.dtype == torch.bool)
    )
    if not (is_int_tensor or (isinstance(label, numbers.Integral) and not isinstance(label, bool))):
        raise TypeError(
            "label must be an integer 0..9 (int, NumPy integer or integer tensor of shape ()) or a class name, "
            f"got {_show(label)} ({type(label).__name__})"
        )
    value = int(label)
    if not 0 <= value < len(CLASS_NAMES):
        raise ValueError(f"label = {value} is outside the valid range 0..{len(CLASS_NAMES) - 1}")
    return value


def _targets(dataset: object) -> torch.Tensor:
    """``dataset.targets`` as a 1-d integer tensor, or a TypeError/ValueError naming ``dataset``."""
    targets = getattr(dataset, "targets", None)
    if targets is None:
        raise TypeError(
            "dataset must have .targets, the label of each example (as load_fashion_mnist's datasets do), "
            f"got {type(dataset).__name__}"
        )
    try:
        targets = torch.as_tensor(targets)
    except (TypeError, ValueError, RuntimeError) as err:
        raise TypeError(f"dataset.targets must be a sequence of integer labels ({err})") from err
    if targets.numel() == 0:  # an empty list becomes a float tensor, yet holds no wrong label
        targets = targets.long()
    if targets.dtype.is_floating_point or targets.dtype.is_complex or targets.dtype == torch.bool:
        raise TypeError(f"dataset.targets must hold integer labels, got dtype {targets.dtype}")
    if targets.dim() != 1:
        raise ValueError(f"dataset.targets must have shape (N,), one label per example, got {tuple(targets.shape)}")
    return targets


def first_index_of(dataset: datasets.FashionMNIST, label: int | str) -> int:
    """The index of the first example of a class, by label or name (see ``class_label``).

    Index 0 of the training set is an ankle boot, not a T-shirt: pick examples by label.
    """
    want = class_label(label)
    hits = torch.nonzero(_targets(dataset) == want)
    if hits.numel() == 0:
        raise ValueError(f"the dataset holds no example of class {want} ({CLASS_NAMES[want]})")
    return int(hits[0])


def one_per_class(dataset: datasets.FashionMNIST) -> list[int]:
    """The index of the first example of each class, in label order: a list of 10 ints."""
    return [first_index_of(dataset, label) for label in range(len(CLASS_NAMES))]


def training_tensors(train: bool = True) -> tuple[Tensor, Tensor]:
    """Fashion-MNIST as two tensors: images (N, 1, 28, 28) float32 in [-1, 1] and labels (N,)."""
    ds = load_fashion_mnist(train=train)
    images = ds.data[:, None].float().div(127.5).sub(1.0)
    return images, torch.as_tensor(ds.targets)
