"""Fashion-MNIST: found offline from the Debian files, a helpful error when it is nowhere, examples by class."""

from __future__ import annotations

import gzip
from pathlib import Path
from urllib.error import URLError

import pytest
import torch
import torchvision.datasets.mnist

import ddpm_sampling.data as data
from ddpm_sampling import CLASS_NAMES, DataNotFoundError, first_index_of, load_fashion_mnist, one_per_class

DEBIAN_FILES = [data.DEBIAN_DIR / f"{name}.gz" for name in data.RAW_FILES]


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def isolate(monkeypatch: pytest.MonkeyPatch, base: Path) -> tuple[Path, Path]:
    """Search only fresh folders under ``base``: $FASHION_MNIST_ROOT = base/root and cwd = base/cwd."""
    root, cwd = base / "root", base / "cwd"
    cwd.mkdir(parents=True)
    monkeypatch.setenv("FASHION_MNIST_ROOT", str(root))
    monkeypatch.chdir(cwd)
    return root, cwd


def fail_downloads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make every torchvision download fail as it does offline; return the URLs that were tried."""
    tried = []

    def offline(url, *args, **kwargs):
        tried.append(url)
        raise URLError("simulated: no network")

    monkeypatch.setattr(torchvision.datasets.mnist, "download_and_extract_archive", offline)
    return tried


@pytest.fixture(scope="module")
def offline_sets(tmp_path_factory):
    """Both splits loaded offline from the Debian files into a fresh folder, with downloads made to fail."""
    if not all(p.is_file() for p in DEBIAN_FILES):
        pytest.skip("the Debian package dataset-fashion-mnist is not installed")
    base = tmp_path_factory.mktemp("offline")
    with pytest.MonkeyPatch.context() as mp:
        root, _ = isolate(mp, base)
        tried = fail_downloads(mp)
        train = load_fashion_mnist(train=True)
        test = load_fashion_mnist(train=False)
    assert tried == []  # nothing was downloaded
    return root, train, test


def test_offline_load_fills_the_first_searched_folder_from_debian(offline_sets):
    root, train, _ = offline_sets
    raw = root / "FashionMNIST" / "raw"
    assert sorted(p.name for p in files_under(root)) == sorted(data.RAW_FILES)  # no leftovers beside them
    for name in data.RAW_FILES:
        with gzip.open(data.DEBIAN_DIR / f"{name}.gz", "rb") as f:
            head = f.read(4096)
        assert (raw / name).read_bytes()[:4096] == head
    assert Path(train.root) == root


def test_offline_load_sizes_shapes_and_range(offline_sets):
    _, train, test = offline_sets
    assert len(train) == 60000
    assert len(test) == 10000
    image, label = train[0]
    assert image.shape == (1, 28, 28)
    assert image.dtype == torch.float32
    assert isinstance(label, int)
    # [0, 255] bytes map linearly onto [-1, 1]
    torch.testing.assert_close(image[0], train.data[0].float() / 127.5 - 1, rtol=0, atol=1e-6)
    for i in (0, 1, 59999):
        x = train[i][0]
        assert x.min().item() >= -1.0 and x.max().item() <= 1.0
    assert train[0][0].min().item() == -1.0  # a black background pixel
    assert train.data.max().item() == 255 and train.data.min().item() == 0


def test_index_zero_is_an_ankle_boot_and_the_first_t_shirt_is_index_one(offline_sets):
    _, train, _ = offline_sets
    assert train[0][1] == 9
    assert CLASS_NAMES[train[0][1]] == "Ankle boot"
    assert train.targets[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
    assert first_index_of(train, "T-shirt/top") == 1
    assert first_index_of(train, 0) == 1
    assert first_index_of(train, "Ankle boot") == 0
    assert first_index_of(train, 3) == 3


def test_one_per_class_gives_the_first_of_each_label(offline_sets):
    _, train, _ = offline_sets
    indices = one_per_class(train)
    assert [train.targets[i].item() for i in indices] == list(range(10))
    for label, i in enumerate(indices):
        assert label not in train.targets[:i].tolist()


def test_class_names():
    assert len(CLASS_NAMES) == 10
    assert CLASS_NAMES[0] == "T-shirt/top"
    assert CLASS_NAMES[9] == "Ankle boot"


def test_search_order_is_root_then_env_then_cwd(tmp_path, monkeypatch):
    root, cwd = isolate(monkeypatch, tmp_path)
    arg = tmp_path / "arg"
    for folder in (arg, root, cwd / "data"):
        (folder / "FashionMNIST" / "raw").mkdir(parents=True)
        for name in data.RAW_FILES:
            (folder / "FashionMNIST" / "raw" / name).write_bytes(b"")
    assert data.ensure_fashion_mnist(arg) == arg
    assert data.ensure_fashion_mnist() == root
    monkeypatch.delenv("FASHION_MNIST_ROOT")
    assert data.ensure_fashion_mnist().resolve() == (cwd / "data").resolve()


def test_nothing_available_raises_the_helpful_error_and_writes_nothing(tmp_path, monkeypatch):
    root, cwd = isolate(monkeypatch, tmp_path / "search")
    empty = tmp_path / "no-debian"
    empty.mkdir()
    monkeypatch.setattr(data, "DEBIAN_DIR", empty)
    tried = fail_downloads(monkeypatch)
    with pytest.raises(DataNotFoundError) as info:
        load_fashion_mnist()
    message = str(info.value)
    assert tried  # torchvision really tried to download, and failed
    assert "apt-get install dataset-fashion-mnist" in message
    assert "FASHION_MNIST_ROOT" in message
    assert "download" in message
    assert str(root.resolve()) in message and str((cwd / "data").resolve()) in message
    assert "simulated: no network" in message  # the reason is passed on
    assert isinstance(info.value, FileNotFoundError)
    assert files_under(tmp_path) == []  # no half-written file anywhere
    assert not (cwd / "data").exists()


def test_partial_debian_files_count_as_no_debian_package(tmp_path, monkeypatch):
    root, _ = isolate(monkeypatch, tmp_path / "search")
    debian = tmp_path / "debian"
    debian.mkdir()
    (debian / f"{data.RAW_FILES[0]}.gz").write_bytes(gzip.compress(b"images"))  # one of four files only
    monkeypatch.setattr(data, "DEBIAN_DIR", debian)
    fail_downloads(monkeypatch)
    with pytest.raises(DataNotFoundError, match="three ways"):
        load_fashion_mnist()
    assert not root.exists() or files_under(root) == []


def test_failed_debian_decompression_leaves_no_partial_file(tmp_path, monkeypatch):
    root, _ = isolate(monkeypatch, tmp_path / "search")
    debian = tmp_path / "debian"
    debian.mkdir()
    payloads = {name: bytes(range(256)) * 400 for name in data.RAW_FILES}
    for name, payload in payloads.items():
        blob = gzip.compress(payload)
        if name == "t10k-images-idx3-ubyte":
            blob = blob[: len(blob) // 2]  # cut off mid-stream, as a broken install or full disk would leave it
        (debian / f"{name}.gz").write_bytes(blob)
    tried = fail_downloads(monkeypatch)
    with pytest.raises(data.DataNotFoundError, match=r"could not be decompressed \(EOFError.*--reinstall"):
        data.ensure_fashion_mnist(debian_dir=debian)
    assert tried == []
    raw = root / "FashionMNIST" / "raw"
    left = files_under(root)
    # the files before the broken one are whole; the broken one and everything after it are absent
    assert [p.name for p in left] == ["train-images-idx3-ubyte", "train-labels-idx1-ubyte"]
    for p in left:
        assert p.read_bytes() == payloads[p.name]
    assert not (raw / "t10k-images-idx3-ubyte").exists()


@pytest.mark.parametrize("label", [10, -1, True, 2.0, None])
def test_class_label_rejects_labels_outside_0_to_9(label):
    with pytest.raises(ValueError, match=rf"label = {label!r} is outside the valid range 0\.\.9"):
        data.class_label(label)


@pytest.mark.parametrize("name", ["T-shirt", "ankle boot", ""])
def test_class_label_rejects_unknown_names(name):
    with pytest.raises(ValueError, match=rf"class name {name!r} is not one of"):
        data.class_label(name)


def test_first_index_of_rejects_bad_labels_and_missing_classes():
    class Tiny:
        targets = torch.tensor([9, 0, 0, 3])

    assert first_index_of(Tiny(), "Dress") == 3
    with pytest.raises(ValueError, match=r"label = 12 is outside the valid range 0\.\.9"):
        first_index_of(Tiny(), 12)
    with pytest.raises(ValueError, match=r"class name 'Boot' is not one of"):
        first_index_of(Tiny(), "Boot")
    with pytest.raises(ValueError, match=r"holds no example of class 5 \(Sandal\)"):
        first_index_of(Tiny(), 5)
