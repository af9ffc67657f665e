"""The package a learner installs and imports holds the ideas, nothing of the book's build.

``pip install`` of it needs no Sphinx, docutils or myst-nb, and importing it (every module of
it) imports none of them: the extensions and the glue helpers live with the book in
``book/_ext``. Its modules import each other in one direction only: no cycles, and no module
imports the two commands (``train``, ``evaluate``), which sit on top.
"""

from __future__ import annotations

import ast
import graphlib
import importlib.util
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


#: Arrows that still point up, each to be removed: ``_checks.schedule`` imports the Schedule it
#: checks for (inside the function), while ``schedule`` imports ``_checks``.
KNOWN_UPWARD = {("ddpm_sampling._checks", "ddpm_sampling.schedule")}
#: The modules run as commands (``python -m``); the package imports neither of them.
COMMANDS = {"ddpm_sampling.train", "ddpm_sampling.evaluate"}


def import_graph(package=PACKAGE) -> dict[str, set[str]]:
    """Which of the package's modules each of its modules imports, anywhere in it (inside functions too)."""
    paths = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        paths[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {}
    for name, path in paths.items():
        here = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = importlib.util.resolve_name("." * node.level + (node.module or ""), here)
                # "from . import x" and "from .x import y": the module x, or x.y where that is a module
                found |= {f"{base}.{a.name}" if f"{base}.{a.name}" in paths else base for a in node.names}
        graph[name] = {m for m in found if m in paths and m != name}
    return graph


def test_the_import_graph_has_no_cycles():
    graph = import_graph()
    assert {"ddpm_sampling.ideal", "ddpm_sampling.samplers"} <= graph["ddpm_sampling.trace"]  # relative imports seen
    for source, target in KNOWN_UPWARD:
        graph[source].discard(target)
    try:
        list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as err:
        raise AssertionError(f"the package's imports go round in a cycle: {' -> '.join(err.args[1])}") from None


def test_no_module_imports_a_command():
    for name, imported in import_graph().items():
        assert not imported & COMMANDS, f"{name} imports {sorted(imported & COMMANDS)}"
