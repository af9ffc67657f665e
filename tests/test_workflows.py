"""The GitHub workflows, checked offline: the workflow schema, zizmor's security audit, and
what the publishing brief asks of them (SHA-pinned actions, least privilege, caches keyed
on the package), and that the weekly run of the committed notebooks runs every one of them,
each from its install cell alone. Each checker is also shown to fail on a workflow that is
made bad on purpose.
"""

from __future__ import annotations

import json
import os
import re
import shlex
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
    assert [p.name for p in WORKFLOWS] == ["book.yml", "notebooks.yml"]


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
    assert any("_build/html/reports" in step["with"]["path"].split() for step in reports)  # make test's build
    assert steps_using(workflow, "actions/upload-pages-artifact")[0]["with"]["path"] == "_build/html"
    deploy = workflow["jobs"]["deploy"]
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["environment"]["name"] == "github-pages"


def test_the_tests_see_the_whole_history():
    """The committed notebooks install the package at the commit that last changed it, and the tests ask
    git that it exists: a shallow clone may lack it (``reader_notebooks.package_ref`` refuses one)."""
    workflow = load(ROOT / ".github" / "workflows" / "book.yml")
    (checkout,) = steps_using({"jobs": {"test": workflow["jobs"]["test"]}}, "actions/checkout")
    assert checkout["with"]["fetch-depth"] == 0


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


# ---------------------------------------------------------------------------- the notebooks' weekly run

NOTEBOOKS_YML = ROOT / ".github" / "workflows" / "notebooks.yml"
RUNNER = ROOT / ".github" / "scripts" / "run_notebook.py"


def listed_notebooks(path: Path, tmp_path: Path) -> list[str]:
    """The notebooks the workflow at ``path`` runs: its matrix's list, or, where the matrix comes from the
    list job, what that job's step writes to ``$GITHUB_OUTPUT`` when run here, in the repository."""
    workflow = load(path)
    matrix = workflow["jobs"]["run"]["strategy"]["matrix"]["notebook"]
    if isinstance(matrix, list):
        return sorted(matrix)
    assert matrix.replace(" ", "") == "${{fromJSON(needs.list.outputs.notebooks)}}", matrix
    job = workflow["jobs"]["list"]
    assert job["outputs"]["notebooks"].replace(" ", "") == "${{steps.list.outputs.notebooks}}"
    (step,) = [s for s in job["steps"] if s.get("id") == "list"]
    output = tmp_path / "github-output"
    output.write_text("")
    env = {**os.environ, "GITHUB_OUTPUT": str(output)}
    subprocess.run(["bash", "-e", "-c", step["run"]], cwd=ROOT, env=env, check=True, capture_output=True)
    (line,) = [line for line in output.read_text().splitlines() if line.startswith("notebooks=")]
    return sorted(json.loads(line.removeprefix("notebooks=")))


def test_the_notebooks_run_weekly_and_on_demand_only():
    workflow = load(NOTEBOOKS_YML)
    assert set(workflow["on"]) == {"schedule", "workflow_dispatch"}
    (cron,) = [entry["cron"] for entry in workflow["on"]["schedule"]]
    minute, hour, day, month, weekday = cron.split()
    assert (day, month) == ("*", "*") and weekday.isdigit() and minute.isdigit() and hour.isdigit()


def test_the_notebooks_workflow_runs_every_committed_notebook(tmp_path):
    committed = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert committed
    assert listed_notebooks(NOTEBOOKS_YML, tmp_path) == committed
    assert not load(NOTEBOOKS_YML)["jobs"]["run"]["strategy"]["fail-fast"]  # one failure hides no other


def test_the_notebook_check_fails_on_a_workflow_that_leaves_one_out(tmp_path):
    committed = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "notebooks").glob("*.ipynb"))
    text = NOTEBOOKS_YML.read_text()
    path = tmp_path / "notebooks.yml"
    dynamic = "${{ fromJSON(needs.list.outputs.notebooks) }}"
    assert dynamic in text and "--list notebooks " in text
    path.write_text(text.replace(dynamic, json.dumps(committed[1:])))  # a list written out, one short
    assert listed_notebooks(path, tmp_path) == committed[1:] != committed
    path.write_text(text.replace("--list notebooks ", "--list notebooks/none "))  # a folder with none
    with pytest.raises(subprocess.CalledProcessError):
        listed_notebooks(path, tmp_path)


def test_each_notebook_runs_in_python_3_12_with_only_nbclient_and_ipykernel():
    workflow = load(NOTEBOOKS_YML)
    steps = workflow["jobs"]["run"]["steps"]
    (python,) = steps_using({"jobs": {"run": workflow["jobs"]["run"]}}, "actions/setup-python")
    assert str(python["with"]["python-version"]) == "3.12"
    runs = [step.get("run", "") for job in workflow["jobs"].values() for step in job["steps"]]
    installs = [
        shlex.split(line)
        for run in runs
        for line in run.splitlines()
        if re.search(r"\b(pip|uv|conda|apt-get|apt)\b.*\binstall\b", line)
    ]
    assert len(installs) == 1, installs
    words = installs[0]
    assert [w for w in words[words.index("install") + 1 :] if not w.startswith("-")] == ["nbclient", "ipykernel"]
    assert "venv" in " ".join(runs)  # a venv of its own, not the runner's Python
    # the package is shown missing before the notebook runs, and the notebook runs in that environment
    (missing,) = [i for i, step in enumerate(steps) if "find_spec" in step.get("run", "")]
    (run_step,) = [i for i, step in enumerate(steps) if "run_notebook.py" in step.get("run", "")]
    assert missing < run_step and "ddpm_sampling" in steps[missing]["run"]
    assert steps[run_step]["env"]["NOTEBOOK"].replace(" ", "") == "${{matrix.notebook}}"
    assert '"$NOTEBOOK"' in steps[run_step]["run"] and "$RUNNER_TEMP/clean/bin/python" in steps[run_step]["run"]


def runner():
    sys.path.insert(0, str(RUNNER.parent))
    try:
        import run_notebook
    finally:
        sys.path.remove(str(RUNNER.parent))
    return run_notebook


def test_the_runner_finds_each_chapters_worked_solutions_as_jupytext_does():
    import jupytext

    run_notebook = runner()
    students = sorted((ROOT / "notebooks").glob("*-student.ipynb"))
    assert students
    for path in students:
        chapter = run_notebook.chapter_of(path, ROOT / "book")
        expected = [c.source for c in jupytext.read(chapter).cells if "solution" in c.metadata.get("tags", [])]
        assert expected and run_notebook.solutions(chapter) == expected, path.name
        nb = run_notebook.with_solutions(json.loads(path.read_text()), expected, path.name)
        assert "TODO" not in json.dumps([c for c in nb["cells"] if "skeleton" in c["metadata"].get("tags", [])])


def test_the_runner_runs_a_student_notebook_with_its_solutions_and_fails_on_an_error(tmp_path):
    import nbformat

    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "one.md").write_text(
        "# One\n\n```{code-cell} ipython3\n:tags: [skeleton, skip-execution]\n\n"
        "def double(x):\n    raise NotImplementedError\n```\n\n"
        "```{code-cell} ipython3\n:tags: [solution, hide-input]\n\ndef double(x):\n    return 2 * x\n```\n"
    )
    install = nbformat.v4.new_code_cell("INSTALLED = True", id="install", metadata={"tags": ["install"]})
    skeleton = nbformat.v4.new_code_cell("def double(x):\n    ...  # TODO", id="s", metadata={"tags": ["skeleton"]})
    check = nbformat.v4.new_code_cell("assert INSTALLED and double(21) == 42\nprint('checked')", id="c")
    (tmp_path / "notebooks").mkdir()
    student = tmp_path / "notebooks" / "one-student.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[install, skeleton, check]), student)
    out = tmp_path / "executed" / "one-student.ipynb"
    command = [sys.executable, str(RUNNER), str(student), "--chapters", str(tmp_path / "book")]
    command += ["--cwd", str(tmp_path / "run"), "--out", str(out), "--timeout", "120"]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    ran = nbformat.read(out, as_version=4)
    assert ran.cells[2].outputs[0]["text"] == "checked\n"
    # without its solution (a notebook that is not a student one runs as it is), the check fails the run
    plain = tmp_path / "notebooks" / "one.ipynb"
    shutil.copy(student, plain)
    command[2] = str(plain)
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 1 and "failed" in done.stderr and "AssertionError" in done.stderr
    listed = subprocess.run([sys.executable, str(RUNNER), "--list", str(tmp_path / "notebooks")], capture_output=True)
    assert listed.stdout.decode() == 'notebooks=["notebooks/one-student.ipynb", "notebooks/one.ipynb"]\n'
