"""scripts/src_hash.py: the hash of what the chapters' outputs depend on, made without GNU tools."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess

import pytest
from conftest import ROOT


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


src_hash = load("src_hash")


def test_the_source_hash_is_the_one_the_gnu_pipeline_made():
    """Caches made before the Makefile lost its GNU tools stay valid."""
    if not all(shutil.which(tool) for tool in ("find", "sort", "xargs", "sha256sum", "cut")):
        pytest.skip("GNU coreutils are not here to compare with")
    pipeline = (
        "find src book/_ext/glue_helpers.py -type f \\( -name '*.py' -o -path '*/weights/*' \\) -print0"
        " | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16"
    )
    gnu = subprocess.run(
        pipeline, shell=True, cwd=ROOT, capture_output=True, text=True, env={**os.environ, "LC_ALL": "C"}
    )
    assert gnu.stdout.strip() == src_hash.src_hash(ROOT)


def test_the_source_hash_follows_code_weights_and_glue_helpers_only(tmp_path):
    (tmp_path / "src" / "pkg" / "weights").mkdir(parents=True)
    (tmp_path / "book" / "_ext").mkdir(parents=True)
    files = {
        "src/pkg/a.py": "x = 1\n",
        "src/pkg/weights/net.pt": "w",
        "book/_ext/glue_helpers.py": "g = 1\n",
        "src/pkg/notes.txt": "n",
        "book/_ext/other.py": "o",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    first = src_hash.src_hash(tmp_path)
    assert len(first) == 16 and first == src_hash.src_hash(tmp_path)
    for name in ("src/pkg/notes.txt", "book/_ext/other.py"):
        (tmp_path / name).write_text("changed")
        assert src_hash.src_hash(tmp_path) == first, name
    seen = {first}
    for name in ("src/pkg/a.py", "src/pkg/weights/net.pt", "book/_ext/glue_helpers.py"):
        (tmp_path / name).write_text("changed")
        now = src_hash.src_hash(tmp_path)
        assert now not in seen, name
        seen.add(now)
