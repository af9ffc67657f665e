"""Fashion-MNIST: found offline from the Debian files, never overwritten, damage reported by path, examples by class."""

from __future__ import annotations

import gzip
import math
import os
import shutil
import tempfile
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest
import torch
import torchvision.datasets.mnist
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ddpm_sampling.data as data
from ddpm_sampling import (
    CLASS_NAMES,
    DataDamagedError,
    DataNotFoundError,
    first_index_of,
    load_fashion_mnist,
    one_per_class,
)

DEBIAN_FILES = [data.DEBIAN_DIR / f"{name}.gz" for name in data.RAW_FILES]
IMAGES, LABELS = "train-images-idx3-ubyte", "train-labels-idx1-ubyte"
TEST_IMAGES, TEST_LABELS = "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"
#: The fix a damaged file's message gives: delete it, and the next load fetches it again.
DELETE_FIX = "delete that file: the next load fetches it again"
#: Examples drawn the same way on every run, with nothing written to a .hypothesis folder.
PROPERTY = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=100,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def snapshot(folder: Path) -> dict[str, tuple]:
    """Every entry under ``folder``; for a file its size, modification time and, when small, its bytes."""
    found = {}
    for p in sorted(folder.rglob("*")):
        if p.is_dir():
            found[str(p.relative_to(folder))] = "folder"
            continue
        st_ = p.lstat()
        small = p.is_file() and st_.st_size < 100_000
        found[str(p.relative_to(folder))] = (st_.st_size, st_.st_mtime_ns, p.read_bytes() if small else None)
    return found


def write_idx(path: Path, name: str, *, magic=None, dims=None, extra: int = 0, payload: bytes = b"") -> None:
    """Write a valid IDX file for ``name`` (payload zeros unless given), or one with ``magic``/``dims``/size changed.

    The zeros are a hole in a sparse file, so that a 47 MB image file costs no time.
    """
    good_magic, good_dims = data.IDX_LAYOUT[name]
    dims = good_dims if dims is None else dims
    header = b"".join(v.to_bytes(4, "big") for v in (good_magic if magic is None else magic, *dims))
    with open(path, "wb") as f:
        f.write(header + payload)
        f.truncate(len(header) + math.prod(dims) + extra)


def head(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read(64)


def synthetic_folder(root: Path, skip: tuple[str, ...] = ()) -> Path:
    """``root/FashionMNIST/raw`` with the four files valid (all images black, all labels 0) but those in ``skip``."""
    raw = data.raw_dir(root)
    raw.mkdir(parents=True, exist_ok=True)
    for name in data.RAW_FILES:
        if name not in skip:
            write_idx(raw / name, name)
    return raw


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


def fake_debian(folder: Path, names=data.RAW_FILES, blobs: dict[str, bytes] | None = None) -> Path:
    """A stand-in for the Debian package: ``names`` gzipped (valid, from ``write_idx``) unless given in ``blobs``."""
    folder.mkdir(parents=True, exist_ok=True)
    blobs = blobs or {}
    for name in names:
        if name in blobs:
            blob = blobs[name]
        else:
            write_idx(folder / name, name)
            blob = gzip.compress((folder / name).read_bytes(), compresslevel=1)
            (folder / name).unlink()
        (folder / f"{name}.gz").write_bytes(blob)
    return folder


# --- the real data, loaded offline ---------------------------------------------------------------


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
            start = f.read(4096)
        assert (raw / name).read_bytes()[:4096] == start
        assert data.idx_problem(raw / name, name) is None  # the real files pass the check
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
    assert train.data.shape == (60000, 28, 28) and train.targets.shape == (60000,)  # what train.py reads


def test_index_zero_is_an_ankle_boot_and_the_first_t_shirt_is_index_one(offline_sets):
    _, train, _ = offline_sets
    assert train[0][1] == 9
    assert CLASS_NAMES[train[0][1]] == "Ankle boot"
    assert train.targets[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
    assert first_index_of(train, "T-shirt/top") == 1
    assert first_index_of(train, 0) == 1
    assert first_index_of(train, "Ankle boot") == 0
    assert first_index_of(train, 3) == 3
    assert first_index_of(train, train.targets[3]) == 3  # a label straight from the dataset


def test_one_per_class_gives_the_first_of_each_label(offline_sets):
    _, train, _ = offline_sets
    indices = one_per_class(train)
    assert [train.targets[i].item() for i in indices] == list(range(10))
    for label, i in enumerate(indices):
        assert label not in train.targets[:i].tolist()


def test_one_file_missing_and_one_edited_by_the_user_fills_the_gap_and_keeps_the_edit(
    offline_sets, tmp_path, monkeypatch
):
    """Issue 11: the loader refilled such a folder from the Debian package and overwrote the user's file."""
    real_raw = offline_sets[0] / "FashionMNIST" / "raw"
    root, _ = isolate(monkeypatch, tmp_path)
    raw = data.raw_dir(root)
    raw.mkdir(parents=True)
    for name in (IMAGES, LABELS, TEST_IMAGES):  # the test labels are missing
        shutil.copyfile(real_raw / name, raw / name)
    with open(raw / TEST_IMAGES, "r+b") as f:  # the user whitens the first test image: still a valid file
        f.seek(16)
        f.write(b"\xff" * 28 * 28)
    edited = (raw / TEST_IMAGES).read_bytes()
    tried = fail_downloads(monkeypatch)

    test = load_fashion_mnist(train=False)

    assert tried == []
    assert (raw / TEST_IMAGES).read_bytes() == edited  # the user's file is kept as it was
    assert (raw / TEST_LABELS).read_bytes() == (real_raw / TEST_LABELS).read_bytes()  # the gap is filled
    assert sorted(p.name for p in files_under(root)) == sorted(data.RAW_FILES)
    assert test.data[0].min().item() == 255 and test[0][0].min().item() == 1.0


def test_a_truncated_file_is_reported_by_path_with_the_fix_not_by_torchvision(offline_sets, tmp_path, monkeypatch):
    """Issue 11: "shape '[60000, 28, 28]' is invalid for input of size 999984" named neither the file nor the fix."""
    real_raw = offline_sets[0] / "FashionMNIST" / "raw"
    root, _ = isolate(monkeypatch, tmp_path)
    raw = data.raw_dir(root)
    raw.mkdir(parents=True)
    for name in data.RAW_FILES:
        shutil.copyfile(real_raw / name, raw / name)
    with open(raw / IMAGES, "r+b") as f:
        f.truncate(16 + 999984)  # cut off, as an interrupted copy leaves it
    before = snapshot(tmp_path)

    with pytest.raises(DataDamagedError) as info:
        load_fashion_mnist()

    message = str(info.value)
    assert str(raw / IMAGES) in message
    assert "is 1000000 bytes long, not 16 + 47040000 = 47040016: it is truncated" in message
    assert DELETE_FIX in message
    assert isinstance(info.value, ValueError)
    assert snapshot(tmp_path) == before  # nothing was changed, the damaged file included


# --- where the data is looked for, and what a fill may write -------------------------------------


def test_search_order_is_root_then_env_then_cwd(tmp_path, monkeypatch):
    root, cwd = isolate(monkeypatch, tmp_path)
    arg = tmp_path / "arg"
    for folder in (arg, root, cwd / "data"):
        synthetic_folder(folder)
    assert data.ensure_fashion_mnist(arg) == arg
    assert data.ensure_fashion_mnist(str(arg)) == arg
    assert data.ensure_fashion_mnist() == root
    monkeypatch.delenv("FASHION_MNIST_ROOT")
    assert data.ensure_fashion_mnist().resolve() == (cwd / "data").resolve()


def test_a_damaged_folder_stops_the_search_instead_of_being_passed_over(tmp_path, monkeypatch):
    root, cwd = isolate(monkeypatch, tmp_path)
    synthetic_folder(root)
    synthetic_folder(cwd / "data")
    write_idx(data.raw_dir(root) / LABELS, LABELS, extra=-1)
    with pytest.raises(DataDamagedError, match=str(data.raw_dir(root) / LABELS)):
        data.ensure_fashion_mnist()


def test_load_reads_the_split_asked_for_from_a_checked_folder(tmp_path, monkeypatch):
    isolate(monkeypatch, tmp_path)
    synthetic_folder(tmp_path / "arg")
    assert len(load_fashion_mnist(train=False, root=tmp_path / "arg")) == 10000
    assert len(load_fashion_mnist(train=np.bool_(True), root=tmp_path / "arg")) == 60000


def test_nothing_available_raises_the_helpful_error_and_leaves_nothing_behind(tmp_path, monkeypatch):
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
    assert not root.exists()  # the folders made for the fill are removed again
    assert not (cwd / "data").exists()


def test_a_failed_fill_removes_only_the_folders_it_made(tmp_path, monkeypatch):
    isolate(monkeypatch, tmp_path / "search")
    fail_downloads(monkeypatch)
    monkeypatch.setattr(data, "DEBIAN_DIR", tmp_path / "no-debian")
    deep = tmp_path / "mine" / "a" / "b"
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("the user's")
    with pytest.raises(DataNotFoundError):
        data.ensure_fashion_mnist(deep)
    assert not (tmp_path / "mine" / "a").exists()
    assert (tmp_path / "mine" / "notes.txt").read_text() == "the user's"
    # a folder that was there, empty, stays
    (tmp_path / "kept").mkdir()
    with pytest.raises(DataNotFoundError):
        data.ensure_fashion_mnist(tmp_path / "kept")
    assert (tmp_path / "kept").is_dir() and list((tmp_path / "kept").iterdir()) == []


def test_partial_debian_files_count_as_no_debian_package(tmp_path, monkeypatch):
    root, _ = isolate(monkeypatch, tmp_path / "search")
    debian = tmp_path / "debian"
    debian.mkdir()
    (debian / f"{IMAGES}.gz").write_bytes(gzip.compress(b"images"))  # one of four files only
    monkeypatch.setattr(data, "DEBIAN_DIR", debian)
    tried = fail_downloads(monkeypatch)
    with pytest.raises(DataNotFoundError, match="three ways"):
        load_fashion_mnist()
    assert tried
    assert not root.exists()


def test_only_the_absent_files_are_taken_from_debian(tmp_path, monkeypatch):
    root, _ = isolate(monkeypatch, tmp_path / "search")
    raw = synthetic_folder(root, skip=(TEST_IMAGES, TEST_LABELS))
    debian = fake_debian(tmp_path / "debian", names=(TEST_IMAGES, TEST_LABELS))  # has only what is missing
    kept = snapshot(raw)
    tried = fail_downloads(monkeypatch)
    assert data.ensure_fashion_mnist(debian_dir=debian) == root
    assert tried == []
    assert {k: v for k, v in snapshot(raw).items() if k in kept} == kept
    assert sorted(p.name for p in files_under(root)) == sorted(data.RAW_FILES)  # no scratch folder left


def test_an_undecompressible_debian_file_is_named_and_nothing_is_placed(tmp_path, monkeypatch):
    root, _ = isolate(monkeypatch, tmp_path / "search")
    raw = synthetic_folder(root, skip=(TEST_IMAGES, TEST_LABELS))
    blob = gzip.compress(bytes(range(256)) * 400)
    blobs = {TEST_IMAGES: blob[: len(blob) // 2]}  # cut off mid-stream, as a broken install or full disk leaves it
    debian = fake_debian(tmp_path / "debian", names=(TEST_IMAGES, TEST_LABELS), blobs=blobs)
    before = snapshot(root)
    tried = fail_downloads(monkeypatch)
    with pytest.raises(DataDamagedError) as info:
        data.ensure_fashion_mnist(debian_dir=debian)
    message = str(info.value)
    assert f"{debian / TEST_IMAGES}.gz cannot be decompressed (EOFError" in message
    assert "sudo apt-get install --reinstall dataset-fashion-mnist" in message
    assert tried == []
    assert snapshot(root) == before  # the valid test labels were not placed either: all or nothing
    assert raw.is_dir()  # the folder was there before, so it stays


def test_a_debian_file_with_the_wrong_content_is_named_with_the_reinstall_fix(tmp_path, monkeypatch):
    root, _ = isolate(monkeypatch, tmp_path / "search")
    synthetic_folder(root, skip=(TEST_LABELS,))
    blobs = {TEST_LABELS: gzip.compress(b"\0\0\x08\x01" + b"\0" * 20)}
    debian = fake_debian(tmp_path / "debian", names=(TEST_LABELS,), blobs=blobs)
    before = snapshot(root)
    fail_downloads(monkeypatch)
    with pytest.raises(DataDamagedError, match=r"t10k-labels-idx1-ubyte\.gz decompresses to a file that") as info:
        data.ensure_fashion_mnist(debian_dir=debian)
    assert "--reinstall dataset-fashion-mnist" in str(info.value)
    assert snapshot(root) == before


def test_a_file_placed_meanwhile_by_another_process_is_not_overwritten(tmp_path, monkeypatch):
    src, dest = tmp_path / "ours", tmp_path / "theirs"
    src.write_bytes(b"ours")
    dest.write_bytes(b"theirs")
    data._place_new(src, dest)
    assert dest.read_bytes() == b"theirs"

    def no_hard_links(*args):
        raise PermissionError("hard links are not supported here")

    monkeypatch.setattr(os, "link", no_hard_links)
    data._place_new(src, dest)
    assert dest.read_bytes() == b"theirs"
    data._place_new(src, tmp_path / "new")
    assert (tmp_path / "new").read_bytes() == b"ours"


DAMAGE = {
    "empty": (IMAGES, lambda p: p.write_bytes(b""), "is 0 bytes long, too short for the 4-byte magic number"),
    "bad magic": (IMAGES, lambda p: write_idx(p, IMAGES, magic=2049), "starts with the magic number 2049, not 2051"),
    "gzipped": (
        TEST_LABELS,
        lambda p: p.write_bytes(gzip.compress(b"\0" * 10008)),
        "(it looks gzip-compressed: decompress it with gunzip)",
    ),
    "header cut": (IMAGES, lambda p: p.write_bytes(b"\0\0\x08\x03\0\0"), "shorter than its 16-byte header"),
    "wrong image size": (
        TEST_IMAGES,
        lambda p: write_idx(p, TEST_IMAGES, dims=(10000, 32, 32)),
        "has dimensions (10000, 32, 32) in its header, not (10000, 28, 28)",
    ),
    "label count disagrees with images": (
        LABELS,
        lambda p: write_idx(p, LABELS, dims=(59999,)),
        "has dimensions (59999,) in its header, not (60000,)",
    ),
    "extra bytes": (TEST_LABELS, lambda p: write_idx(p, TEST_LABELS, extra=3), "it is longer than its header says"),
    "label out of range": (
        TEST_LABELS,
        lambda p: write_idx(p, TEST_LABELS, payload=b"\x03\x0a"),
        "holds the label 10 at index 1; labels are 0..9",
    ),
    "a folder": (TEST_IMAGES, lambda p: p.mkdir(), "is not a regular file"),
}


@pytest.mark.parametrize("case", DAMAGE)
def test_a_damaged_file_is_named_with_its_fix_and_left_as_it_is(case, tmp_path, monkeypatch):
    isolate(monkeypatch, tmp_path / "search")
    name, damage, problem = DAMAGE[case]
    raw = synthetic_folder(tmp_path / "arg", skip=(name,))
    damage(raw / name)
    before = snapshot(tmp_path)
    with pytest.raises(DataDamagedError) as info:
        load_fashion_mnist(root=tmp_path / "arg")
    message = str(info.value)
    assert message.startswith(f"{raw / name} ")
    assert problem in message
    assert DELETE_FIX in message
    assert snapshot(tmp_path) == before


def test_a_damaged_file_beside_a_missing_one_stops_the_fill_before_it_writes(tmp_path, monkeypatch):
    isolate(monkeypatch, tmp_path / "search")
    raw = synthetic_folder(tmp_path / "arg", skip=(TEST_LABELS,))
    write_idx(raw / TEST_IMAGES, TEST_IMAGES, extra=-100)
    debian = fake_debian(tmp_path / "debian", names=(TEST_LABELS,))
    before = snapshot(tmp_path / "arg")
    with pytest.raises(DataDamagedError, match=str(raw / TEST_IMAGES)):
        data.ensure_fashion_mnist(tmp_path / "arg", debian_dir=debian)
    assert snapshot(tmp_path / "arg") == before  # the missing labels were not filled in either


def test_a_root_that_is_a_file_is_refused_and_left_alone(tmp_path, monkeypatch):
    isolate(monkeypatch, tmp_path / "search")
    tried = fail_downloads(monkeypatch)
    (tmp_path / "notes").write_text("not a folder")
    with pytest.raises(NotADirectoryError, match=rf"{tmp_path / 'notes'} is not a folder"):
        data.ensure_fashion_mnist(tmp_path / "notes", debian_dir=tmp_path / "no-debian")
    assert tried == []
    assert (tmp_path / "notes").read_text() == "not a folder"


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"root": 5}, TypeError, r"root must be a folder as a str or os\.PathLike, got 5 \(int\)"),
        ({"root": b"data"}, TypeError, r"root must be a folder as a str or os\.PathLike, got b'data' \(bytes\)"),
        ({"root": ""}, ValueError, r"root = '' is not a folder path"),
        ({"root": "da\0ta"}, ValueError, r"root = 'da\\x00ta' is not a folder path"),
        ({"train": "test"}, TypeError, r"train must be True or False, got 'test' \(str\)"),
        ({"train": 0}, TypeError, r"train must be True or False, got 0 \(int\)"),
        ({"train": None}, TypeError, r"train must be True or False, got None \(NoneType\)"),
    ],
)
def test_load_refuses_arguments_of_the_wrong_type_or_value(kwargs, error, message, tmp_path, monkeypatch):
    isolate(monkeypatch, tmp_path)
    with pytest.raises(error, match=message):
        load_fashion_mnist(**kwargs)
    assert list(tmp_path.rglob("*")) == [tmp_path / "cwd"]


def test_debian_dir_of_the_wrong_type_is_refused(tmp_path, monkeypatch):
    isolate(monkeypatch, tmp_path)
    with pytest.raises(TypeError, match=r"debian_dir must be a folder as a str or os\.PathLike, got 3"):
        data.ensure_fashion_mnist(debian_dir=3)


NOT_FLAGS_OR_PATHS = st.one_of(
    st.integers(),
    st.floats(allow_nan=True),
    st.binary(max_size=8),
    st.lists(st.integers(), max_size=2),
    st.builds(object),
    st.integers(0, 1).map(torch.tensor),
)


@PROPERTY
@given(train=st.one_of(NOT_FLAGS_OR_PATHS, st.text(max_size=8), st.none()))
def test_load_says_train_must_be_true_or_false_for_anything_else(train):
    with pytest.raises(TypeError) as info:
        load_fashion_mnist(train=train)
    assert str(info.value).startswith("train must be True or False, got ")


@PROPERTY
@given(root=NOT_FLAGS_OR_PATHS)
def test_load_says_root_must_be_a_folder_path_for_anything_else(root):
    with pytest.raises(TypeError) as info:
        load_fashion_mnist(root=root)
    assert str(info.value).startswith("root must be a folder as a str or os.PathLike")


# --- the IDX check against arbitrary files -------------------------------------------------------


@PROPERTY
@given(name=st.sampled_from(data.RAW_FILES), content=st.binary(max_size=40))
def test_any_short_file_is_reported_as_damaged_by_its_path(name, content):
    with tempfile.TemporaryDirectory() as tmp:
        raw = synthetic_folder(Path(tmp), skip=(name,))
        (raw / name).write_bytes(content)
        with pytest.raises(DataDamagedError) as info:
            data.ensure_fashion_mnist(tmp)
        assert str(info.value).startswith(f"{raw / name} ") and DELETE_FIX in str(info.value)
        assert (raw / name).read_bytes() == content


@PROPERTY
@given(
    name=st.sampled_from(data.RAW_FILES),
    edit=st.one_of(
        st.tuples(st.just("cut"), st.integers(0, 10**8)),
        st.tuples(st.just("append"), st.integers(1, 100)),
        st.tuples(st.just("byte"), st.integers(0, 63), st.integers(0, 255)),
    ),
)
def test_a_valid_file_truncated_lengthened_or_edited_is_checked_exactly(name, edit):
    """Damage (a cut, extra bytes, a changed header, a label above 9) is named; an edit that keeps it valid passes."""
    magic, dims = data.IDX_LAYOUT[name]
    header_size, total = 4 * (1 + len(dims)), 4 * (1 + len(dims)) + math.prod(dims)
    with tempfile.TemporaryDirectory() as tmp:
        raw = synthetic_folder(Path(tmp))
        path = raw / name
        original = head(path)
        if edit[0] == "cut":
            os.truncate(path, edit[1] % total)
            damaged = True
        elif edit[0] == "append":
            with open(path, "ab") as f:
                f.write(b"\0" * edit[1])
            damaged = True
        else:
            _, at, value = edit
            with open(path, "r+b") as f:
                f.seek(at)
                f.write(bytes([value]))
            in_header = at < header_size and value != original[at]
            damaged = in_header or (len(dims) == 1 and at >= header_size and value > 9)
        after = head(path), path.stat().st_size
        if damaged:
            with pytest.raises(DataDamagedError) as info:
                data.ensure_fashion_mnist(tmp)
            assert str(info.value).startswith(f"{path} ")
        else:
            assert data.ensure_fashion_mnist(tmp) == Path(tmp)
        assert (head(path), path.stat().st_size) == after  # never repaired by rewriting


# --- picking examples by class -------------------------------------------------------------------


def test_class_names():
    assert len(CLASS_NAMES) == 10
    assert CLASS_NAMES[0] == "T-shirt/top"
    assert CLASS_NAMES[9] == "Ankle boot"


@pytest.mark.parametrize(
    ("label", "expected"),
    [(0, 0), (9, 9), (np.int64(3), 3), (np.uint8(7), 7), (torch.tensor(4), 4), (torch.tensor(5, dtype=torch.uint8), 5)]
    + [(name, i) for i, name in enumerate(CLASS_NAMES)],
)
def test_class_label_accepts_integer_labels_and_names(label, expected):
    got = data.class_label(label)
    assert got == expected and type(got) is int


@pytest.mark.parametrize("label", [10, -1, np.int64(12), torch.tensor(-3)])
def test_class_label_rejects_labels_outside_0_to_9(label):
    with pytest.raises(ValueError, match=rf"label = {int(label)} is outside the valid range 0\.\.9"):
        data.class_label(label)


@pytest.mark.parametrize(
    "label", [True, np.bool_(False), 2.0, np.float64(2.0), None, b"Bag", torch.tensor(2.0), torch.tensor([2])]
)
def test_class_label_says_which_types_it_takes(label):
    with pytest.raises(TypeError, match=r"label must be an integer 0\.\.9 .* or a class name, got"):
        data.class_label(label)


@pytest.mark.parametrize("name", ["T-shirt", "ankle boot", ""])
def test_class_label_rejects_unknown_names(name):
    with pytest.raises(ValueError, match=rf"label = {name!r} is not a class name; the names are"):
        data.class_label(name)


INTEGER_DTYPES = (torch.int8, torch.uint8, torch.int16, torch.int32, torch.int64)


def integer_tensors() -> st.SearchStrategy:
    return st.tuples(st.sampled_from(INTEGER_DTYPES), st.integers(0, 127)).map(lambda d: torch.tensor(d[1], dtype=d[0]))


def expected_label(x) -> int | type[Exception]:
    """The right answer for any object, worked out from what it is, not from how ``class_label`` does it."""
    if isinstance(x, str):
        return CLASS_NAMES.index(x) if x in CLASS_NAMES else ValueError
    if isinstance(x, torch.Tensor):
        if x.dim() != 0 or x.dtype not in INTEGER_DTYPES:
            return TypeError
    elif isinstance(x, bool) or not isinstance(x, int | np.integer):
        return TypeError
    return int(x) if 0 <= int(x) <= 9 else ValueError


@PROPERTY
@given(
    label=st.one_of(
        st.integers(-(2**70), 2**70),
        st.integers(-3, 12),
        st.sampled_from(CLASS_NAMES),
        st.text(max_size=12),
        st.integers(-128, 127).map(np.int8),
        st.integers(0, 2**64 - 1).map(np.uint64),
        integer_tensors(),
        st.floats(allow_nan=True),
        st.floats(-1, 12).map(torch.tensor),
        st.booleans(),
        st.booleans().map(torch.tensor),
        st.lists(st.integers(0, 9), max_size=2).map(torch.tensor),
        st.none(),
        st.binary(max_size=4),
        st.lists(st.integers(0, 9), max_size=2),
    )
)
def test_class_label_gives_the_right_int_or_an_error_naming_label(label):
    expected = expected_label(label)
    if isinstance(expected, int):
        got = data.class_label(label)
        assert got == expected and type(got) is int
        return
    with pytest.raises(expected) as info:
        data.class_label(label)
    assert str(info.value).startswith("label ")


def test_first_index_of_rejects_bad_labels_and_missing_classes():
    class Tiny:
        targets = torch.tensor([9, 0, 0, 3])

    assert first_index_of(Tiny(), "Dress") == 3
    with pytest.raises(ValueError, match=r"label = 12 is outside the valid range 0\.\.9"):
        first_index_of(Tiny(), 12)
    with pytest.raises(ValueError, match=r"label = 'Boot' is not a class name"):
        first_index_of(Tiny(), "Boot")
    with pytest.raises(ValueError, match=r"holds no example of class 5 \(Sandal\)"):
        first_index_of(Tiny(), 5)


def test_first_index_of_says_what_a_dataset_must_have():
    class Targets:
        def __init__(self, targets):
            self.targets = targets

    assert first_index_of(Targets([9, 0, 3]), 3) == 2  # a plain list of labels will do
    with pytest.raises(TypeError, match=r"dataset must have \.targets, the label of each example"):
        first_index_of(torch.zeros(3), 0)
    with pytest.raises(TypeError, match=r"dataset\.targets must hold integer labels, got dtype torch\.float32"):
        first_index_of(Targets(torch.zeros(3)), 0)
    with pytest.raises(TypeError, match=r"dataset\.targets must be a sequence of integer labels"):
        first_index_of(Targets(["a", "b"]), 0)
    with pytest.raises(ValueError, match=r"dataset\.targets must have shape \(N,\), one label per example"):
        first_index_of(Targets(torch.zeros(2, 2, dtype=torch.long)), 0)


@PROPERTY
@given(targets=st.lists(st.integers(0, 11), max_size=40), label=st.integers(0, 9), as_tensor=st.booleans())
def test_first_index_of_finds_the_first_match_or_says_there_is_none(targets, label, as_tensor):
    class Targets:
        pass

    dataset = Targets()
    dataset.targets = torch.tensor(targets, dtype=torch.long) if as_tensor else targets
    if label in targets:
        assert first_index_of(dataset, label) == targets.index(label)
        assert first_index_of(dataset, CLASS_NAMES[label]) == targets.index(label)
    else:
        with pytest.raises(ValueError, match=rf"holds no example of class {label} "):
            first_index_of(dataset, label)
    if all(c in targets for c in range(10)):
        assert one_per_class(dataset) == [targets.index(c) for c in range(10)]
    else:
        with pytest.raises(ValueError, match="holds no example of class"):
            one_per_class(dataset)
