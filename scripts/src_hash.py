"""Print a hash of what the chapters' executed outputs depend on besides their own source.

The package's Python files and shipped weights (src/**/*.py, src/**/weights/*) and the chapters'
glue helpers (book/_ext/glue_helpers.py): `make book` keeps it in _build/.src-hash and executes
every chapter again when it changes. The same value as the shell pipeline it replaces (GNU
find -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16, in the C locale), made
without GNU tools so that the Makefile runs with macOS's own.

Usage: python scripts/src_hash.py [ROOT]   (ROOT: the repository, by default this script's parent's)
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import sys
from pathlib import Path

GLUE_HELPERS = "book/_ext/glue_helpers.py"


def tracked(root: Path) -> list[str]:
    """The paths, relative to root with '/' separators, sorted bytewise as `sort -z` in the C locale."""
    paths = []
    for folder, dirs, files in os.walk(root / "src"):
        dirs.sort()
        for name in files:
            full = Path(folder) / name
            relative = full.relative_to(root).as_posix()
            if full.is_symlink() or not full.is_file():
                continue  # find -type f
            if fnmatch.fnmatchcase(name, "*.py") or fnmatch.fnmatchcase(relative, "*/weights/*"):
                paths.append(relative)
    if (root / GLUE_HELPERS).is_file():
        paths.append(GLUE_HELPERS)
    return sorted(paths, key=lambda p: p.encode())


def src_hash(root: Path) -> str:
    listing = b"".join(
        hashlib.sha256((root / path).read_bytes()).hexdigest().encode() + b"  " + path.encode() + b"\n"
        for path in tracked(root)
    )
    return hashlib.sha256(listing).hexdigest()[:16]


if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent
    print(src_hash(root))
