"""The two commands, `python -m ddpm_sampling.train` and `python -m ddpm_sampling.evaluate`: they never
write into the installed package, never replace a file without --force, check every argument and
--out before any work, and answer a bad argument with one line that names it (no traceback)."""

from __future__ import annotations

import hashlib
import json

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ddpm_sampling import evaluate as ev
from ddpm_sampling import files
from ddpm_sampling import train as tr
from ddpm_sampling.pretrained import WEIGHTS_DIR

CLI = settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))


def shipped_files() -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(WEIGHTS_DIR.iterdir()) if p.is_file()}


@pytest.fixture
def quick(monkeypatch, tmp_path):
    """Commands that run in a fresh current folder on a few random images instead of Fashion-MNIST."""
    monkeypatch.chdir(tmp_path)
    calls = []

    def few(train: bool = True):
        calls.append(train)
        g = torch.Generator().manual_seed(0)
        n = 64 if train else 1000
        return torch.rand(n, 1, 28, 28, generator=g) * 2 - 1, torch.randint(10, (n,), generator=g)

    monkeypatch.setattr(tr, "training_tensors", few)
    return calls


@pytest.fixture(autouse=True)
def tiny_unet(monkeypatch):
    """A small U-Net for the commands, so that a two-step run takes a moment."""
    from ddpm_sampling.unet import UNetConfig

    monkeypatch.setattr(tr, "UNetConfig", lambda: UNetConfig(channels=(8, 16, 16), time_dim=32, groups=4))


def run_train(*args: str) -> None:
    tr.main(["unet", "--steps", "2", "--batch-size", "4", *args])


def one_line_error(capsys, call) -> str:
    with pytest.raises(SystemExit) as stop:
        call()
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


# --- files at risk ---------------------------------------------------------------------------------


def test_train_without_out_writes_to_runs_and_never_into_the_package(quick, tmp_path):
    before = shipped_files()
    run_train()
    assert shipped_files() == before
    record = json.loads((tmp_path / "runs" / "unet.json").read_text())
    assert record["steps"] == 2
    assert record["sha256"] == hashlib.sha256((tmp_path / "runs" / "unet.pt").read_bytes()).hexdigest()


def test_train_refuses_to_replace_a_checkpoint_or_weights_already_in_out(quick, tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "unet.pt").write_bytes(b"the user's own network")
    line = one_line_error(capsys, lambda: run_train("--out", str(out)))
    assert "unet.pt exists" in line and "--force" in line
    assert (out / "unet.pt").read_bytes() == b"the user's own network"
    assert quick == [], "no work is done before the refusal"


def test_train_force_replaces_the_files_in_out(quick, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "unet.pt").write_bytes(b"old")
    run_train("--out", str(out), "--force")
    assert torch.load(out / "unet.pt", weights_only=True)["config"]["channels"] == [8, 16, 16]


def test_train_a_fresh_run_does_not_write_over_a_checkpoint_it_could_resume(quick, tmp_path, capsys):
    run_train("--steps", "2")
    ckpt = tmp_path / "checkpoints" / "unet.ckpt"
    saved = ckpt.read_bytes()
    capsys.readouterr()
    line = one_line_error(capsys, lambda: run_train("--out", "other"))
    assert "unet.ckpt exists" in line and "--resume" in line
    assert ckpt.read_bytes() == saved


@pytest.mark.parametrize("flag", ["--out", "--checkpoints"])
def test_train_an_out_that_is_a_file_fails_before_any_work(quick, tmp_path, capsys, flag):
    (tmp_path / "afile").write_text("mine")
    line = one_line_error(capsys, lambda: run_train(flag, "afile"))
    assert f"{flag} = 'afile' is a file" in line
    line = one_line_error(capsys, lambda: run_train(flag, "afile/below"))
    assert "'afile' is a file" in line
    assert quick == [] and (tmp_path / "afile").read_text() == "mine"


def test_train_a_file_made_meanwhile_is_not_replaced(tmp_path):
    (tmp_path / "unet.pt").write_bytes(b"made meanwhile")
    with pytest.raises(FileExistsError, match="unet.pt exists"):
        files.save_atomic({"a": 1}, tmp_path / "unet.pt", overwrite=False)
    assert (tmp_path / "unet.pt").read_bytes() == b"made meanwhile"
    assert [p.name for p in tmp_path.iterdir()] == ["unet.pt"]
    files.write_text_atomic("{}", tmp_path / "new.json", overwrite=False)
    assert (tmp_path / "new.json").read_text() == "{}"


@pytest.fixture
def fake_evaluate(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    calls = []

    def table(*args, **kwargs):
        calls.append(args)
        return {"points": [], "n": args[0]}

    monkeypatch.setattr(ev, "evaluate", table)
    return calls


def test_evaluate_without_out_writes_to_runs_and_never_into_the_package(fake_evaluate, tmp_path):
    before = shipped_files()
    ev.main(["--n", "5", "--n-survive", "3"])
    assert shipped_files() == before
    assert json.loads((tmp_path / "runs" / "evaluation.json").read_text()) == {"points": [], "n": 5}


def test_evaluate_refuses_to_replace_an_evaluation_json_in_out(fake_evaluate, tmp_path, capsys):
    (tmp_path / "evaluation.json").write_text("the user's table")
    line = one_line_error(capsys, lambda: ev.main(["--out", "."]))
    assert "evaluation.json exists" in line and "--force" in line
    assert (tmp_path / "evaluation.json").read_text() == "the user's table"
    assert fake_evaluate == [], "no work is done before the refusal"
    ev.main(["--out", ".", "--force"])
    assert json.loads((tmp_path / "evaluation.json").read_text())["n"] == 1000


def test_evaluate_an_out_that_is_a_file_fails_before_any_work(fake_evaluate, tmp_path, capsys):
    (tmp_path / "afile").write_text("mine")
    line = one_line_error(capsys, lambda: ev.main(["--out", "afile"]))
    assert "--out = 'afile' is a file" in line
    assert fake_evaluate == [] and (tmp_path / "afile").read_text() == "mine"


def test_the_makefile_writes_to_runs_unless_told():
    from pathlib import Path

    makefile = (Path(__file__).parents[1] / "Makefile").read_text()
    assert "OUT ?= runs" in makefile
    assert '-m ddpm_sampling.train --out "$(OUT)"' in makefile
    assert '-m ddpm_sampling.evaluate --out "$(OUT)"' in makefile


# --- bad arguments: one line that names the value and what is accepted ------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--seed", str(2**70)], "--seed = 1180591620717411303424 is outside the valid range 0..18446744073709551615"),
        (["--seed", "-1"], "--seed = -1 is outside the valid range 0..18446744073709551615"),
        (["--threads", "-1"], "--threads = -1 is outside the valid range: an int >= 1"),
        (["--threads", "0"], "--threads = 0 is outside the valid range: an int >= 1"),
        (["--steps", "0"], "--steps = 0 is outside the valid range: an int >= 1"),
        (["--device", "foo"], "--device = 'foo' is not a device; give cpu, cuda or cuda:N"),
        (["--device", "meta"], "--device = 'meta' is not supported; give cpu, cuda or cuda:N"),
    ],
)
def test_train_bad_arguments_get_one_line(quick, capsys, args, expected):
    line = one_line_error(capsys, lambda: run_train(*args))
    assert line == f"python -m ddpm_sampling.train: error: {expected}"
    assert quick == []


def test_train_a_missing_gpu_gets_one_line(quick, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    line = one_line_error(capsys, lambda: run_train("--device", "cuda"))
    assert "--device = 'cuda': no CUDA GPU is available here; give cpu" in line


def test_train_names_a_network_once(quick, capsys):
    line = one_line_error(capsys, lambda: tr.main(["unet", "unet"]))
    assert "names one network twice" in line


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "cannot be read"),
        (b"PK\x03\x04 not a whole zip", "cannot be read"),
        ({"step": 3}, "is incomplete"),
        ([1, 2], "is incomplete"),
    ],
    ids=["empty", "corrupt", "incomplete", "a-list"],
)
def test_train_resume_from_a_damaged_checkpoint_gets_one_line(quick, tmp_path, capsys, content, expected):
    ckpt = tmp_path / "checkpoints" / "unet.ckpt"
    ckpt.parent.mkdir()
    if isinstance(content, bytes):
        ckpt.write_bytes(content)
    else:
        torch.save(content, ckpt)
    line = one_line_error(capsys, lambda: run_train("--resume"))
    assert f"the checkpoint checkpoints/unet.ckpt {expected}" in line and "without --resume" in line
    assert quick == []


def test_train_resume_with_other_options_gets_one_line(quick, tmp_path, capsys):
    run_train("--out", "first")
    capsys.readouterr()
    line = one_line_error(capsys, lambda: run_train("--resume", "--seed", "5"))
    assert line.startswith("python -m ddpm_sampling.train: error: --resume: the checkpoint checkpoints/unet.ckpt")
    assert "resume with the same options" in line


def test_train_resume_continues_where_the_run_stopped(quick, tmp_path, capsys):
    tr.main(["unet", "--steps", "4", "--batch-size", "4", "--out", "whole"])
    whole = torch.load(tmp_path / "whole" / "unet.pt", weights_only=True)["state_dict"]
    # the same run, stopped after step 2 as if interrupted, then resumed by the command
    run, loss_fn, _ = tr.unet_run(tr.replace(tr.RECIPES["unet"], steps=4, batch_size=4), "cpu")
    tr.train(run, loss_fn, checkpoint=tmp_path / "checkpoints" / "unet.ckpt", until=2)
    tr.main(["unet", "--steps", "4", "--batch-size", "4", "--out", "resumed", "--resume"])
    resumed = torch.load(tmp_path / "resumed" / "unet.pt", weights_only=True)["state_dict"]
    for key in whole:
        torch.testing.assert_close(whole[key], resumed[key])


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--seed", str(2**70)], "--seed = 1180591620717411303424 is outside the valid range 0..18446744073709551614"),
        (["--device", "foo"], "--device = 'foo' is not a device; give cpu, cuda or cuda:N"),
        (["--n", "1"], "--n = 1 is outside the valid range: an int >= 2"),
        (["--n", "10", "--n-survive", "11"], "--n-survive = 11 is outside the valid range 1..10"),
        (["--n-unclipped", "1"], "--n-unclipped = 1 is outside the valid range: an int >= 2"),
        (["--steps", "5", "1001"], "--steps[1] = 1001 is outside the valid range 1..1000"),
    ],
)
def test_evaluate_bad_arguments_get_one_line(fake_evaluate, capsys, args, expected):
    line = one_line_error(capsys, lambda: ev.main(args))
    assert line == f"python -m ddpm_sampling.evaluate: error: {expected}"
    assert fake_evaluate == []


def test_evaluate_weights_that_are_missing_get_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    line = one_line_error(capsys, lambda: ev.main(["--weights", "empty", "--n", "2", "--n-survive", "1"]))
    assert "--weights: the training record empty/unet.json is missing" in line
    assert not (tmp_path / "runs" / "evaluation.json").exists()


class WorkStarted(Exception):
    pass


@CLI
@given(
    seed=st.one_of(st.none(), st.integers(-(2**80), 2**80)),
    threads=st.one_of(st.none(), st.integers(-5, 10)),
    steps=st.one_of(st.none(), st.integers(-3, 3)),
    device=st.sampled_from(["cpu", "cuda", "cuda:7", "foo", "", "meta", "cpu:0", "CPU", "mps"]),
)
def test_train_arguments_either_start_the_work_or_get_one_line(seed, threads, steps, device):
    import contextlib
    import io
    import tempfile

    def start(recipe, device):
        raise WorkStarted(recipe, device)

    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    valid = (
        (seed is None or 0 <= seed < 2**64)
        and (threads is None or threads >= 1)
        and (steps is None or steps >= 1)
        and (device in ("cpu", "cpu:0") or (device == "cuda" and gpus > 0) or (device == "cuda:7" and gpus > 7))
    )
    err = io.StringIO()
    saved_threads = torch.get_num_threads()
    patch = pytest.MonkeyPatch()
    patch.setattr(tr, "unet_run", start)
    with tempfile.TemporaryDirectory() as folder:
        args = ["unet", "--device", device, "--out", f"{folder}/runs", "--checkpoints", f"{folder}/ckpt"]
        for flag, value in (("--seed", seed), ("--threads", threads), ("--steps", steps)):
            if value is not None:
                args += [flag, str(value)]
        try:
            with contextlib.redirect_stderr(err):
                tr.main(args)
        except WorkStarted as started:
            assert valid, args
            recipe, dev = started.args
            assert (seed is None or recipe.seed == seed) and (steps is None or recipe.steps == steps)
            assert dev == device
        except SystemExit as stop:
            assert not valid, err.getvalue()
            assert stop.code == 2
            lines = err.getvalue().strip().splitlines()
            assert len(lines) == 1 and "error: --" in lines[0], err.getvalue()
        else:
            raise AssertionError("neither worked nor refused")
        finally:
            patch.undo()
            torch.set_num_threads(saved_threads)


@CLI
@given(
    n=st.integers(-2, 12),
    n_survive=st.integers(-2, 14),
    n_unclipped=st.integers(-2, 4),
    seed=st.integers(-(2**80), 2**80),
    steps=st.lists(st.integers(-5, 1005), min_size=1, max_size=3),
    device=st.sampled_from(["cpu", "foo", "", "meta", "cuda:9"]),
)
def test_evaluate_arguments_either_start_the_work_or_get_one_line(n, n_survive, n_unclipped, seed, steps, device):
    import contextlib
    import io
    import tempfile

    def start(*args, **kwargs):
        raise WorkStarted(args)

    valid = (
        n >= 2
        and 1 <= n_survive <= n
        and n_unclipped >= 2
        and 0 <= seed <= 2**64 - 2
        and all(1 <= s <= 1000 for s in steps)
        and device == "cpu"
    )
    err = io.StringIO()
    patch = pytest.MonkeyPatch()
    patch.setattr(ev, "evaluate", start)
    with tempfile.TemporaryDirectory() as folder:
        args = ["--n", str(n), "--n-survive", str(n_survive), "--n-unclipped", str(n_unclipped), "--seed", str(seed)]
        args += ["--device", device, "--out", folder, "--steps", *map(str, steps)]
        try:
            with contextlib.redirect_stderr(err):
                ev.main(args)
        except WorkStarted:
            assert valid, args
        except SystemExit as stop:
            assert not valid, err.getvalue()
            assert stop.code == 2
            lines = err.getvalue().strip().splitlines()
            assert len(lines) == 1 and "error: --" in lines[0], err.getvalue()
        else:
            raise AssertionError("neither worked nor refused")
        finally:
            patch.undo()


def test_make_test_builds_the_book_once_strictly_and_the_tests_read_that_build():
    """``make test`` runs ``make book`` re-reading every page (``--all``, executing only what the cache
    lacks), with warnings and unresolved references as errors, and hands its HTML to pytest
    (``BOOK_HTML``), so that the tests execute no chapter of the real book a second time; pytest runs
    each test module in one worker of pytest-xdist, so that no small book is built twice."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    root = Path(__file__).parents[1]
    venv = Path(sys.executable).parent.parent
    args = [make, "-n", f"VENV={venv}", "-o", f"{venv}/.installed"]  # -n: print the commands, run none

    def commands(target: str) -> list[str]:
        return subprocess.run([*args, target], cwd=root, capture_output=True, text=True, check=True).stdout.splitlines()

    test = commands("test")
    (build,) = [i for i, line in enumerate(test) if "jupyter-book build" in line]
    (pytest_line,) = [i for i, line in enumerate(test) if "/bin/pytest" in line]
    assert build < pytest_line and f'BOOK_HTML="{root}/_build/html"' in test[pytest_line]
    assert test[pytest_line].endswith(" -n auto --maxprocesses 4 --dist loadfile --no-loadscope-reorder")
    assert {"-W", "-n", "--keep-going", "--all"} <= set(test[build].split())
    (book,) = [line for line in commands("book") if "jupyter-book build" in line]
    assert {"-W", "-n", "--keep-going"} <= set(book.split()) and "--all" not in book.split()
