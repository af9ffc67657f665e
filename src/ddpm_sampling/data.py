"""Fashion-MNIST through torchvision, with an offline path.

Where the data is looked for, in order: the ``root`` argument, ``$FASHION_MNIST_ROOT``,
``./data``. A folder holds the data when ``<folder>/FashionMNIST/raw/`` has the four
uncompressed IDX files. When none does, the first of those folders is filled from
the Debian/Ubuntu package ``dataset-fashion-mnist`` if it is installed, and else by
torchvision's download.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
import zlib
from pathlib import Path

import torch
from torchvision import datasets, transforms

#: Where the Debian/Ubuntu package ``dataset-fashion-mnist`` installs the gzipped IDX files.
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
RAW_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
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


class DataNotFoundError(FileNotFoundError):
    """Fashion-MNIST is nowhere on disk and could not be downloaded."""


def raw_dir(root: str | os.PathLike) -> Path:
    """The folder in which torchvision expects the uncompressed files."""
    return Path(root) / "FashionMNIST" / "raw"


def _has_data(root: Path) -> bool:
    return all((raw_dir(root) / name).is_file() for name in RAW_FILES)


def candidate_roots(root: str | os.PathLike | None = None) -> list[Path]:
    """The folders searched, in order: ``root``, ``$FASHION_MNIST_ROOT``, ``./data``."""
    found = [Path(root)] if root is not None else []
    if os.environ.get("FASHION_MNIST_ROOT"):
        found.append(Path(os.environ["FASHION_MNIST_ROOT"]))
    found.append(Path("data"))
    return found


def _install_from_debian(root: Path, debian_dir: Path) -> None:
    """Decompress the Debian package's files into ``root``; each file appears whole or not at all."""
    dest = raw_dir(root)
    dest.mkdir(parents=True, exist_ok=True)
    for name in RAW_FILES:
        fd, tmp = tempfile.mkstemp(dir=dest, prefix=f".{name}.")
        try:
            with gzip.open(debian_dir / f"{name}.gz", "rb") as src, os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(src, out)
            os.replace(tmp, dest / name)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _download(root: Path) -> None:
    """Let torchvision download into a scratch folder, then move the finished files into place."""
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root, prefix=".download-") as scratch:
        datasets.FashionMNIST(scratch, train=True, download=True)
        raw_dir(root).mkdir(parents=True, exist_ok=True)
        for name in RAW_FILES:
            os.replace(raw_dir(scratch) / name, raw_dir(root) / name)


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


def ensure_fashion_mnist(root: str | os.PathLike | None = None, debian_dir: Path | None = None) -> Path:
    """Return a folder that holds Fashion-MNIST, fetching it first if no searched folder does.

    Raises:
        DataNotFoundError: with the three ways to get the data, if every way failed.
    """
    searched = candidate_roots(root)
    for folder in searched:
        if _has_data(folder):
            return folder
    target = searched[0]
    debian_dir = DEBIAN_DIR if debian_dir is None else Path(debian_dir)
    if all((debian_dir / f"{name}.gz").is_file() for name in RAW_FILES):
        try:
            _install_from_debian(target, debian_dir)
        except (EOFError, gzip.BadGzipFile, zlib.error) as err:  # a truncated or damaged .gz
            raise DataNotFoundError(
                f"the Fashion-MNIST files in {debian_dir} could not be decompressed ({type(err).__name__}: {err}); "
                "reinstall them: sudo apt-get install --reinstall dataset-fashion-mnist"
            ) from err
        return target
    try:
        _download(target)
    except Exception as err:  # no network, a mirror down, a bad checksum: all end the same way
        raise _not_found(searched, err) from err
    return target


def load_fashion_mnist(train: bool = True, root: str | os.PathLike | None = None) -> datasets.FashionMNIST:
    """Fashion-MNIST with images scaled to [-1, 1]: each item is ((1, 28, 28) float32, label).

    Args:
        train: the 60,000 training images, or the 10,000 test images if ``False``.
        root: a folder to look in first (see the module's docstring for the order).
    """
    folder = ensure_fashion_mnist(root)
    to_range = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    return datasets.FashionMNIST(folder, train=train, download=False, transform=to_range)


def class_label(label: int | str) -> int:
    """The integer label of a class given by label (0..9) or by name (see ``CLASS_NAMES``)."""
    if isinstance(label, str):
        if label not in CLASS_NAMES:
            raise ValueError(f"class name {label!r} is not one of {CLASS_NAMES}")
        return CLASS_NAMES.index(label)
    if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label < len(CLASS_NAMES):
        raise ValueError(f"label = {label!r} is outside the valid range 0..{len(CLASS_NAMES) - 1}")
    return label


def first_index_of(dataset: datasets.FashionMNIST, label: int | str) -> int:
    """The index of the first example of a class, by label or name.

    Index 0 of the training set is an ankle boot, not a T-shirt: pick examples by label.
    """
    want = class_label(label)
    hits = torch.nonzero(torch.as_tensor(dataset.targets) == want)
    if hits.numel() == 0:
        raise ValueError(f"the dataset holds no example of class {want} ({CLASS_NAMES[want]})")
    return int(hits[0])


def one_per_class(dataset: datasets.FashionMNIST) -> list[int]:
    """The index of the first example of each class, in label order."""
    return [first_index_of(dataset, label) for label in range(len(CLASS_NAMES))]
