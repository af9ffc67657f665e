"""The GitHub workflows, checked offline: the workflow schema, zizmor's security audit, and
what the publishing brief asks of them (SHA-pinned actions, least privilege, caches keyed
on the package). Each checker is also shown to fail on a workflow that is made bad on purpose.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
BIN = Path(sys.executable).parent
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
SHA_LINE = re.compile(r"uses:\s*(\S+)\s*#\s*v\d+(\.\d+)*\s*$")


def check_jsonschema(path: Path) -> subprocess.CompletedProcess[str]:
    """Validate one workflow against the schema vendored in check-jsonschema (no download)."""
    cmd = [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(path)]
    return subprocess.run(cmd, capture_output=True, text=True)


def zizmor(folder: Path) -> subprocess.CompletedProcess[str]:
    """Audit the workflows in ``folder`` with zizmor, offline (exit status 0 means no findings)."""
    files = sorted(folder.glob("*.yml"))
    assert files
    cmd = [str(BIN / "zizmor"), "--offline", "--no-progress", *map(str, files)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    for path in files:  # it audited every file, not nothing
        assert f"completed {path}" in proc.stderr, proc.stderr
    return proc


def load(path: Path) -> dict:
    # YAML 1.1 reads the key `on` as True.
    data = yaml.safe_load(path.read_text())
    if True in data:
        data["on"] = data.pop(True)
    return data


def steps_using(workflow: dict, action: str) -> list[dict]:
    return [
        step
        for job in workflow["jobs"].values()
        for step in job.get("steps", [])
        if step.get("uses", "").startswith(action + "@")
    ]


def test_there_are_workflows():
    assert [p.name for p in WORKFLOWS] == ["book.yml"]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_matches_schema(path):
    proc = check_jsonschema(path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_zizmor_finds_nothing():
    proc = zizmor(ROOT / ".github" / "workflows")
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actions_pinned_to_commits_with_version_comments(path):
    uses_lines = [line for line in path.read_text().splitlines() if "uses:" in line]
    assert uses_lines
    for line in uses_lines:
        match = SHA_LINE.search(line)
        assert match, f"no '# vX.Y' comment after the action: {line.strip()}"
        assert PINNED.match(match.group(1)), f"not pinned to a full commit SHA: {line.strip()}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_least_privilege_and_no_persisted_credentials(path):
    workflow = load(path)
    assert workflow["permissions"] == {"contents": "read"}
    for name, job in workflow["jobs"].items():
        extra = job.get("permissions", {})
        assert set(extra) <= {"pages", "id-token"}, (name, extra)
        if extra:  # only the job that deploys, and it checks out nothing
            assert steps_using({"jobs": {name: job}}, "actions/deploy-pages"), name
            assert not steps_using({"jobs": {name: job}}, "actions/checkout"), name
    for step in steps_using(workflow, "actions/checkout"):
        assert step.get("with", {}).get("persist-credentials") is False


def test_pull_requests_test_and_main_deploys():
    workflow = load(ROOT / ".github" / "workflows" / "book.yml")
    assert "pull_request" in workflow["on"]
    assert workflow["on"]["push"]["branches"] == ["main"]
    runs = [step.get("run", "") for job in workflow["jobs"].values() for step in job["steps"]]
    # The same commands as the README: `.ci/run` ends in `make test`; the site is `make book`.
    assert ".ci/run" in runs
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    assert "make book" in runs
    uploads = steps_using(workflow, "actions/upload-artifact")
    reports = [step for step in uploads if "reports" in step["with"]["path"]]
    assert reports and all(step["if"] == "failure()" for step in reports)
    assert any("_build/test/_build/html/reports" in step["with"]["path"] for step in reports)
    assert steps_using(workflow, "actions/upload-pages-artifact")[0]["with"]["path"] == "_build/html"
    deploy = workflow["jobs"]["deploy"]
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["environment"]["name"] == "github-pages"


def test_caches_keyed_on_requirements_and_package():
    workflow = load(ROOT / ".github" / "workflows" / "book.yml")
    caches = {tuple(s["with"]["path"].split()): s["with"] for s in steps_using(workflow, "actions/cache")}
    pip = caches[("~/.cache/pip",)]
    assert "hashFiles('requirements.txt'" in pip["key"]
    # the cache carries the hash of src/ that `make book` compares, so a restored cache is reused
    jupyter = caches[("_build/.jupyter_cache", "_build/.src-hash")]
    for part in ("requirements.txt", "pyproject.toml", "src/**"):
        assert part in jupyter["key"]
    # A partial match may only reuse outputs made with the same package and requirements.
    for key in jupyter.get("restore-keys", "").splitlines():
        assert "src/**" in key and "requirements.txt" in key


def bad_copy(tmp_path: Path, old: str, new: str) -> Path:
    """A copy of the workflows folder with ``old`` replaced by ``new`` in book.yml."""
    folder = tmp_path / "workflows"
    shutil.copytree(ROOT / ".github" / "workflows", folder)
    path = folder / "book.yml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return folder


@pytest.mark.parametrize(
    ("old", "new", "finding"),
    [
        pytest.param(
            "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2",
            "actions/checkout@v4",
            "unpinned-uses",
            id="an unpinned action",
        ),
        pytest.param(
            "v4.2.2\n        with:\n          persist-credentials: false\n",
            "v4.2.2\n",
            "artipacked",
            id="persisted credentials",
        ),
        pytest.param(
            "run: .ci/run",
            'run: echo "${{ github.event.pull_request.title }}" && .ci/run',
            "template-injection",
            id="template injection",
        ),
    ],
)
def test_zizmor_fails_on_a_weakened_workflow(tmp_path, old, new, finding):
    proc = zizmor(bad_copy(tmp_path, old, new))
    assert proc.returncode != 0
    assert finding in proc.stdout


def test_schema_fails_on_a_broken_workflow(tmp_path):
    path = bad_copy(tmp_path, "runs-on: ubuntu-24.04", "runs_on: ubuntu-24.04") / "book.yml"
    proc = check_jsonschema(path)
    assert proc.returncode != 0
    assert "runs-on" in proc.stdout + proc.stderr
