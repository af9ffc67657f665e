"""CITATION.cff follows the Citation File Format 1.2.0 and agrees with the rest of the repository.

The schema is the one check-jsonschema ships (``vendor.citation-file-format``), so the check
needs no network.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import yaml
from conftest import ROOT

CFF = ROOT / "CITATION.cff"
CHECK_JSONSCHEMA = Path(sys.executable).with_name("check-jsonschema")


def validate(path: Path) -> subprocess.CompletedProcess[str]:
    cmd = [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.citation-file-format", str(path)]
    return subprocess.run(cmd, capture_output=True, text=True)


def test_citation_file_follows_the_schema():
    proc = validate(CFF)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_schema_check_rejects_a_misspelt_key(tmp_path):
    bad = tmp_path / "CITATION.cff"
    bad.write_text(CFF.read_text().replace("\nlicense: MIT", "\nlicence: MIT"))
    proc = validate(bad)
    assert proc.returncode != 0 and "licence" in proc.stdout + proc.stderr


def test_citation_file_agrees_with_the_package_the_site_and_the_licences():
    cff = yaml.safe_load(CFF.read_text())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    book = cff["preferred-citation"]
    assert cff["version"] == book["version"] == project["version"]
    assert cff["repository-code"] == book["repository-code"] == config["repository"]["url"]
    assert cff["title"] == book["title"] == config["title"]
    assert cff["authors"] == book["authors"] == [{"name": config["author"]}]
    assert str(book["year"]) == str(config["copyright"])
    assert (cff["license"], book["license"]) == ("MIT", "CC-BY-4.0")
    notice = f"Copyright (c) {config['copyright']} {config['author']}\n"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n\n" + notice)
    text = (ROOT / "LICENSE-text").read_text()
    assert "Creative Commons Attribution 4.0 International Public License" in text
    assert "https://creativecommons.org/licenses/by/4.0/legalcode" in text
