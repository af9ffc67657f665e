"""`make venv` on bad input: one clear message, and nothing half-installed left behind.

The Makefile runs in a copy of what it needs (Makefile, requirements, pyproject.toml, scripts/),
so that no test can touch the real .venv; the interpreters it is given are small fakes that
stand for an old Python, an Intel Mac or a failing install. Also: scripts/check_python.py's
verdict on each kind of machine, and scripts/src_hash.py against the GNU pipeline it replaced.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check_python = load("check_python")

GOOD = {
    "executable": "/usr/bin/python3.12",
    "implementation": "CPython",
    "version": (3, 12, 1),
    "bits": 64,
    "system": "Linux",
    "machine": "x86_64",
    "glibc": (2, 36),
    "macos": None,
    "apple_silicon": False,
    "has_venv": True,
}
INTERPRETER, MACHINE = check_python.INTERPRETER, check_python.MACHINE


@pytest.mark.parametrize(
    ("changes", "status", "words"),
    [
        ({}, 0, []),
        ({"version": (3, 11, 5)}, 0, []),
        ({"version": (3, 13, 0)}, 0, []),
        ({"machine": "aarch64"}, 0, []),
        ({"system": "Darwin", "machine": "arm64", "macos": (14, 0), "glibc": None}, 0, []),
        ({"version": (3, 10, 12)}, INTERPRETER, ["3.10.12", "3.11 (3.11.5 or later), 3.12 or 3.13"]),
        ({"version": (3, 11, 4)}, INTERPRETER, ["3.11.4", "3.11.5"]),
        ({"version": (3, 14, 0)}, INTERPRETER, ["3.14.0", "3.13"]),
        ({"implementation": "PyPy"}, INTERPRETER, ["PyPy", "CPython"]),
        ({"bits": 32}, INTERPRETER, ["32-bit", "64-bit"]),
        ({"has_venv": False}, INTERPRETER, ["no venv module", "python3.12-venv"]),
        ({"system": "Darwin", "machine": "x86_64", "macos": (14, 5)}, MACHINE, ["Intel", "Apple silicon", "Colab"]),
        (
            {"system": "Darwin", "machine": "x86_64", "macos": (14, 5), "apple_silicon": True},
            INTERPRETER,
            ["Rosetta 2", "arm64 (native) Python"],
        ),
        ({"system": "Darwin", "machine": "arm64", "macos": (13, 6)}, MACHINE, ["macOS 13.6", "macOS 14.0"]),
        ({"machine": "ppc64le"}, MACHINE, ["ppc64le", "x86_64 and aarch64"]),
        ({"glibc": (2, 27)}, MACHINE, ["glibc 2.27", "2.28"]),
        ({"glibc": "musl"}, MACHINE, ["musl"]),
        ({"system": "Windows", "machine": "AMD64"}, MACHINE, ["WSL 2"]),
        ({"system": "MINGW64_NT-10.0-22631", "machine": "x86_64"}, MACHINE, ["WSL 2"]),
        ({"system": "FreeBSD", "machine": "amd64"}, MACHINE, ["FreeBSD amd64"]),
    ],
)
def test_check_python_says_what_is_wrong_and_whose_fault(changes, status, words):
    got, message = check_python.problem({**GOOD, **changes})
    assert got == status, message
    for word in words:
        assert word in message
    assert bool(message) == bool(status)


def test_check_python_accepts_the_interpreter_running_the_tests():
    assert subprocess.run([sys.executable, ROOT / "scripts" / "check_python.py"]).returncode == 0


# ------------------------------------------------------------------------------------------- make venv


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """What `make venv` reads, copied; a .venv here is this test's own."""
    root = tmp_path / "book"
    root.mkdir()
    for name in ("Makefile", "requirements.txt", "pyproject.toml"):
        shutil.copy(ROOT / name, root / name)
    shutil.copytree(ROOT / "scripts", root / "scripts")
    return root


def fake_python(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def patched(folder: Path, name: str, patch: str) -> Path:
    """A Python that runs scripts as the real one does, after `patch` (Python code) has run."""
    runner = f"import runpy, sys; {patch}; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"
    return fake_python(folder, name, f'exec "{sys.executable}" -c "{runner}" "$@"')


def make(checkout: Path, *args: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "TORCH", "PYTHON")}
    return subprocess.run(["make", "-C", str(checkout), *args], capture_output=True, text=True, env=env, timeout=120)


def test_an_old_python_is_named_with_what_is_supported_and_what_to_do(checkout, tmp_path):
    old = patched(tmp_path, "python3.10", "sys.version_info = (3, 10, 12, 'final', 0)")
    done = make(checkout, "book", f"PYTHON={old}")
    assert done.returncode != 0
    assert f"PYTHON={old}: " in done.stderr and "is CPython 3.10.12" in done.stderr
    assert "CPython 3.11 (3.11.5 or later), 3.12 or 3.13" in done.stderr and "WSL 2" in done.stderr
    assert "make PYTHON=/path/to/python3.x book" in done.stderr and "nothing was installed" in done.stderr
    assert not (checkout / ".venv").exists()


def test_an_intel_mac_is_told_no_python_will_do(checkout, tmp_path):
    intel = patched(
        tmp_path,
        "python3.12",
        "import platform; platform.system = lambda: 'Darwin'; platform.machine = lambda: 'x86_64'; "
        "platform.mac_ver = lambda: ('14.5', ('', '', ''), 'x86_64')",
    )
    done = make(checkout, "venv", f"PYTHON={intel}")
    assert done.returncode != 0
    assert "Intel (x86_64) Mac" in done.stderr and "No Python will do on this machine" in done.stderr
    assert not (checkout / ".venv").exists()


def test_a_program_that_is_not_python_is_named(checkout, tmp_path):
    done = make(checkout, "venv", f"PYTHON={fake_python(tmp_path, 'python3', 'exit 1')}")
    assert done.returncode != 0 and "does not run as Python 3 (exit status 1)" in done.stderr
    done = make(checkout, "venv", "PYTHON=no-such-python3")
    assert done.returncode != 0 and "PYTHON=no-such-python3: no such program" in done.stderr


def test_a_failed_install_leaves_no_venv_behind(checkout, tmp_path):
    """The venv is made, pip fails halfway: the half-filled .venv goes, with a message."""
    failing = fake_python(
        tmp_path,
        "python3.12",
        'if [ "$1" = -m ] && [ "$2" = venv ]; then\n'
        '  mkdir -p "$3/bin" "$3/lib/half-installed"\n'
        "  printf '#!/bin/sh\\necho \"ERROR: No matching distribution found for torch==2.14.1\" >&2\\nexit 1\\n'"
        ' > "$3/bin/python"\n'
        '  chmod +x "$3/bin/python"; exit 0\n'
        "fi\n"
        f'exec "{sys.executable}" "$@"',
    )
    # an older, complete venv: the new one replaces it, and its failure must not leave either
    (checkout / ".venv").mkdir()
    (checkout / ".venv" / ".installed").write_text("pypi\n")
    os.utime(checkout / ".venv" / ".installed", (0, 0))
    done = make(checkout, "venv", f"PYTHON={failing}")
    assert done.returncode != 0
    assert "No matching distribution found for torch==2.14.1" in done.stderr
    assert "setting up .venv failed" in done.stderr and "was removed" in done.stderr
    assert not (checkout / ".venv").exists()


def test_an_unknown_torch_build_is_refused_before_anything_is_done(checkout, tmp_path):
    done = make(checkout, "venv", "TORCH=cuda", f"PYTHON={sys.executable}")
    assert done.returncode != 0
    assert "TORCH=cuda is not a PyTorch build" in done.stderr and "TORCH=pypi" in done.stderr
    assert "TORCH=cpu" in done.stderr and not (checkout / ".venv").exists()


def test_asking_for_another_torch_build_makes_the_venv_again(checkout, tmp_path):
    """A venv records its build; TORCH=cpu over a PyPI venv remakes it (here: fails and removes it)."""
    (checkout / ".venv").mkdir()
    (checkout / ".venv" / ".installed").write_text("pypi\n")
    kept = make(checkout, "venv")  # newer than requirements.txt, the same build: nothing to do
    assert kept.returncode == 0 and "making .venv" not in kept.stdout
    no_venv_module = patched(tmp_path, "python3.12", "sys.modules['venv'] = None")
    done = make(checkout, "venv", "TORCH=cpu", f"PYTHON={no_venv_module}")
    assert done.returncode != 0 and "no venv module" in done.stderr
    assert (checkout / ".venv" / ".installed").read_text() == "pypi\n"  # refused before anything was removed


def test_an_interrupted_install_leaves_no_venv_behind(checkout, tmp_path):
    """Ctrl-C while pip runs (SIGINT to make's process group): the half-made .venv goes."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    slow = fake_python(
        tmp_path,
        "python3.12",
        'if [ "$1" = -m ] && [ "$2" = venv ]; then\n'
        '  mkdir -p "$3/bin" "$3/lib/half-installed"\n'
        '  printf \'#!/bin/sh\\ntouch "$0.started"\\nexec sleep 30\\n\' > "$3/bin/python"\n'
        '  chmod +x "$3/bin/python"; exit 0\n'
        "fi\n"
        f'exec "{sys.executable}" "$@"',
    )
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "TORCH", "PYTHON")}
    make_run = subprocess.Popen(
        ["make", "-C", str(checkout), "venv", f"PYTHON={slow}"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    started = checkout / ".venv" / "bin" / "python.started"
    for _ in range(300):
        if started.exists() or make_run.poll() is not None:
            break
        time.sleep(0.1)
    assert started.exists(), make_run.communicate(timeout=30)
    os.killpg(make_run.pid, signal.SIGINT)
    _, err = make_run.communicate(timeout=60)
    assert make_run.returncode != 0
    assert "interrupted: the half-made .venv was removed" in err
    assert not (checkout / ".venv").exists()
