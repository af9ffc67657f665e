"""The set-up resolves on every platform the book promises, wheels only.

``make venv`` (what ``make book`` and ``make test`` run first) installs ``requirements.txt`` and
then the package with ``--no-deps``. Each is resolved here for each target with uv, which applies
that platform's own environment markers and wheel tags (pip's ``--platform`` keeps the markers of
the machine it runs on). The pinned file must also be complete there: everything the resolution
brings is pinned, at the pinned version. These tests reach PyPI; uv keeps its cache in
``~/.cache/uv`` (or ``$UV_CACHE_DIR``), so a second run takes a few seconds.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from conftest import ROOT

REQUIREMENTS = ROOT / "requirements.txt"

#: (uv's name for the platform, Python version). 3.11.5: the oldest 3.11 that the pins allow
#: (soupsieve 4 needs it) and that the Makefile accepts. manylinux_2_28: glibc 2.28, what PyTorch's
#: Linux wheels need. macOS: 14, what its macOS wheels need (MACOSX_DEPLOYMENT_TARGET below).
TARGETS = [
    ("x86_64-manylinux_2_28", "3.11.5"),
    ("x86_64-manylinux_2_28", "3.12"),
    ("x86_64-manylinux_2_28", "3.13"),
    ("aarch64-manylinux_2_28", "3.12"),
    ("aarch64-apple-darwin", "3.12"),
    ("aarch64-apple-darwin", "3.13"),
    ("x86_64-pc-windows-msvc", "3.12"),
]


def uv() -> str:
    here = Path(sys.executable).parent / ("uv.exe" if os.name == "nt" else "uv")
    found = str(here) if here.exists() else shutil.which("uv")
    if not found:
        pytest.fail("uv is not installed: it is pinned in requirements.txt (pip install -r requirements.txt)")
    return found


def compile_for(platform: str, python: str, requirements: Path) -> subprocess.CompletedProcess[str]:
    """uv's resolution of ``requirements`` for one platform and Python, wheels only."""
    env = {**os.environ, "MACOSX_DEPLOYMENT_TARGET": "14.0", "UV_PYTHON_DOWNLOADS": "never", "NO_COLOR": "1"}
    command = [uv(), "pip", "compile", "--no-header", "--no-annotate", "--no-config"]
    command += ["--python-platform", platform, "--python-version", python, "--only-binary", ":all:"]
    command += ["--python", sys.executable, str(requirements)]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, cwd=requirements.parent)


def pinned(text: str) -> dict[str, str]:
    """name -> version of each ``name==version`` line (markers and comments left out)."""
    pins = {}
    for line in text.splitlines():
        line = line.split("#")[0].split(";")[0].strip()
        if "==" in line:
            name, _, version = line.partition("==")
            pins[re.sub(r"[-_.]+", "-", name.strip()).lower()] = version.strip()
    return pins


@pytest.mark.parametrize(("platform", "python"), TARGETS, ids=[f"{p}-py{v}" for p, v in TARGETS])
def test_the_pinned_requirements_resolve_and_are_complete(platform, python):
    done = compile_for(platform, python, REQUIREMENTS)
    assert done.returncode == 0, f"requirements.txt does not resolve for {platform}, Python {python}:\n{done.stderr}"
    resolved, pins = pinned(done.stdout), pinned(REQUIREMENTS.read_text())
    assert "torch" in resolved and "jupyter-book" in resolved
    unpinned = {name: version for name, version in resolved.items() if pins.get(name) != version}
    assert not unpinned, f"{platform}, Python {python} installs these, not pinned at that version: {unpinned}"


@pytest.mark.parametrize(("platform", "python"), TARGETS, ids=[f"{p}-py{v}" for p, v in TARGETS])
def test_the_packages_own_dependencies_resolve(platform, python, tmp_path):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = tmp_path / "package.in"
    wanted.write_text("\n".join(project["dependencies"]) + "\n")
    done = compile_for(platform, python, wanted)
    assert done.returncode == 0, (
        f"pyproject.toml's dependencies do not resolve for {platform}, Python {python}:\n{done.stderr}"
    )
    assert {"torch", "torchvision", "matplotlib", "numpy"} <= set(pinned(done.stdout))


def test_the_requirements_file_needs_no_build_and_no_checkout():
    """Resolvable by itself: no editable install, no other file, no sdist-only option."""
    lines = [line.split("#")[0].strip() for line in REQUIREMENTS.read_text().splitlines()]
    assert not [line for line in lines if line.startswith("-")], "options and -e lines belong in the Makefile"
    assert all("==" in line for line in lines if line), "every requirement is pinned"


def test_a_cuda_pin_without_torchs_marker_does_not_resolve_on_macos(tmp_path):
    """The check can fail: the Linux freeze as it was, without markers, fails on macOS and Windows."""
    freeze = tmp_path / "requirements.txt"
    freeze.write_text("".join(line.split(";")[0] + "\n" for line in REQUIREMENTS.read_text().splitlines()))
    mac = compile_for("aarch64-apple-darwin", "3.12", freeze)
    assert mac.returncode != 0 and re.search(r"nvidia-|cuda-|triton", mac.stderr), mac.stderr
    windows = compile_for("x86_64-pc-windows-msvc", "3.12", freeze)
    assert windows.returncode != 0 and re.search(r"nvidia-|cuda-|triton", windows.stderr), windows.stderr


def test_an_intel_mac_has_no_torch_wheels():
    """Why scripts/check_python.py turns away macOS on x86_64: PyTorch ships nothing for it."""
    done = compile_for("x86_64-apple-darwin", "3.12", REQUIREMENTS)
    assert done.returncode != 0 and "torch" in done.stderr, done.stderr
