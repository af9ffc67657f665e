"""The package a learner installs and imports holds the ideas, nothing of the book's build.

``pip install`` of it needs no Sphinx, docutils or myst-nb, and importing it (every module of
it) imports none of them: the extensions and the glue helpers live with the book in
``book/_ext``.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import tomllib

from conftest import ROOT

#: The build's tools, by their import names and by their distribution names.
BUILD_MODULES = {"sphinx", "docutils", "myst_nb", "myst_parser", "jupyter_book", "sphinx_book_theme", "jupyter_cache"}
BUILD_DISTRIBUTIONS = {"sphinx", "docutils", "myst-nb", "myst-parser", "jupyter-book", "sphinx-book-theme"}
PACKAGE = ROOT / "src" / "ddpm_sampling"


def distribution(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[@]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_installing_the_package_needs_none_of_the_build_tools():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    needs = project["project"].get("dependencies", []) + project["build-system"]["requires"]
    for extra in project["project"].get("optional-dependencies", {}).values():
        needs += extra
    assert not {distribution(r) for r in needs} & BUILD_DISTRIBUTIONS, needs


def test_no_module_of_the_package_imports_a_build_tool():
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            bad = {n.split(".")[0] for n in names} & BUILD_MODULES
            assert not bad, f"{path.relative_to(ROOT)}:{node.lineno} imports {bad}"


def test_importing_every_module_of_the_package_loads_no_build_tool():
    script = (
        "import importlib, json, pkgutil, sys\n"
        "import ddpm_sampling\n"
        "for m in pkgutil.walk_packages(ddpm_sampling.__path__, 'ddpm_sampling.'):\n"
        "    importlib.import_module(m.name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    loaded = {name.split(".")[0] for name in json.loads(done.stdout.splitlines()[-1])}
    assert "ddpm_sampling" in loaded
    assert not loaded & BUILD_MODULES, sorted(loaded & BUILD_MODULES)


def test_the_readers_of_arguments_import_no_module_of_the_package():
    """_checks is imported by every module, so that it imports none of them keeps the imports free of cycles."""
    tree = ast.parse((PACKAGE / "_checks.py").read_text())
    imported = [node for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level > 0]
    imported += [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Import) and any(a.name.startswith("ddpm_sampling") for a in node.names)
    ]
    assert not imported, [ast.unparse(node) for node in imported]
