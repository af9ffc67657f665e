"""Performance figures for the package and the book, as ratios measured in one process.

    python benchmarks/run.py                  # the package: a few seconds to a minute
    python benchmarks/run.py --chapters       # each chapter executed alone against one import (minutes)
    python benchmarks/run.py --chapters trained cost   # only these chapters
    python benchmarks/run.py --threads 1 --unet   # the U-Net's GFLOP/s against a matmul's, on one thread
    python benchmarks/run.py --book           # the package, every chapter, then make book and make test

Goals: ddpm_sample at most 1.3x a minimal loop with every coefficient precomputed; a batch of
64 at least 5x faster per image than 64 single calls; each chapter's execution (a fresh kernel,
its cells, as the build runs it beside another chapter: one torch thread) at most 8 times one
import (a fresh kernel that imports torch, torchvision and the package, timed as a chapter is);
``make book`` from a fresh cache at most 2.5 times (chapters with code x one import), an
unchanged rebuild executing nothing and a change under src/ re-executing every chapter; and
``make test`` from a fresh clone at most 1.5 times a cold ``make book``: no chapter is executed
twice. ``--book`` measures the three side by side in one run and prints the ratios. The builds
run in fresh clones of the committed HEAD (``git clone``), with this venv.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import torch

from ddpm_sampling import cosine_schedule, ddpm_sample, ideal_denoiser, target_oracle

ROOT = Path(__file__).resolve().parents[1]


def best_of(fn, repeat: int) -> float:
    """The fastest of ``repeat`` runs, in seconds: the least disturbed by other work on the machine."""
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def best_of_pair(fa, fb, repeat: int) -> tuple[float, float]:
    """Like :func:`best_of` for two functions, alternated so that both meet the same machine load."""
    fa(), fb()
    ta, tb = [], []
    for _ in range(repeat):
        for fn, times in ((fa, ta), (fb, tb)):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    return min(ta), min(tb)


def minimal_loop(model, schedule, x_T: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Algorithm 2 with every coefficient a precomputed Python float, no checks, no snapshots."""
    scale = schedule.scale.tolist()
    eps_coef = schedule.eps_coef.tolist()
    sigma = schedule.sigma.tolist()
    x = x_T
    for t in range(schedule.T, 0, -1):
        x = scale[t] * (x - eps_coef[t] * model(x, t))
        if t > 1:
            x = x + sigma[t] * torch.randn(x.shape, generator=generator)
    return x


def bench_sampler(repeat: int) -> None:
    s = cosine_schedule(1000)
    print("## ddpm_sample against a minimal loop (T = 1000, target oracle)")
    for batch in (1, 64):
        target = torch.rand(batch, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
        oracle = target_oracle(target, s)
        x_T = torch.randn(target.shape, generator=torch.Generator().manual_seed(1))

        def package(x_T=x_T, oracle=oracle):
            ddpm_sample(oracle, s, x_T=x_T, generator=torch.Generator().manual_seed(2))

        def minimal(x_T=x_T, oracle=oracle):
            minimal_loop(oracle, s, x_T, torch.Generator().manual_seed(2))

        tp, tm = best_of_pair(package, minimal, repeat)
        ratio = f"ratio {tp / tm:.2f}x (goal <= 1.3x)"
        print(f"batch {batch:3d}: package {tp * 1e3:7.1f} ms, minimal {tm * 1e3:7.1f} ms, {ratio}")

    print("## one batch of 64 against 64 single calls (T = 1000, target oracle)")
    target = torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    oracles = [target_oracle(target[i], s) for i in range(64)]
    batched = target_oracle(target, s)

    def one_batch():
        ddpm_sample(batched, s, shape=(64, 1, 28, 28), generator=torch.Generator().manual_seed(3))

    def single_calls():
        for i in range(64):
            ddpm_sample(oracles[i], s, shape=(1, 28, 28), generator=torch.Generator().manual_seed(i))

    t_batch, t_single = best_of_pair(one_batch, single_calls, repeat)
    speedup = f"speed-up per image {t_single / t_batch:.1f}x (goal >= 5x)"
    print(f"64 single calls {t_single:.2f} s, one batch {t_batch:.3f} s, {speedup}")


def direct_ideal(x_t, t, data, schedule):
    """The ideal denoiser written plainly: every difference image materialised, (B, N, D)."""
    ab = schedule.alpha_bar.to(torch.float64)[t]
    x = x_t.to(torch.float64).flatten(1)[:, None]
    y = data.to(torch.float64).flatten(1)[None]
    w = torch.softmax(-((x - ab.sqrt() * y) ** 2).sum(-1) / (2 * (1 - ab)), dim=1)
    x0 = w @ y[0]
    return ((x_t.to(torch.float64).flatten(1) - ab.sqrt() * x0) / (1 - ab).sqrt()).view_as(x_t).float()


def bench_ideal(repeat: int) -> None:
    s = cosine_schedule(1000)
    B, N, D = 16, 2000, 784
    data = torch.rand(N, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    m = ideal_denoiser(data, s)
    x = torch.randn(B, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    print(f"## ideal denoiser, {B} images against {N} training images of {D} pixels, one call at t = 500")
    t_pkg = best_of(lambda: m(x, 500), repeat * 5)
    t_dir = best_of(lambda: direct_ideal(x, 500, data, s), repeat)
    print(f"package {t_pkg * 1e3:.2f} ms, direct broadcast {t_dir * 1e3:.1f} ms: {t_dir / t_pkg:.0f}x faster")
    # its work is two (B x D) by (D x N) float64 matmuls; compare with the machine's own rate for them
    a = torch.randn(B, D, dtype=torch.float64)
    b = torch.randn(N, D, dtype=torch.float64)
    t_mm = best_of(lambda: a @ b.T, repeat * 5)
    flops = 2 * B * N * D
    print(
        f"float64 matmul of that size: {flops / t_mm / 1e9:.1f} GFLOP/s on this machine; "
        f"the denoiser does 2 of them and runs at {2 * flops / t_pkg / 1e9:.1f} GFLOP/s "
        f"({2 * t_mm / t_pkg:.0%} of the matmul rate)"
    )


def bench_unet(repeat: int) -> None:
    """The trained U-Net's forward pass in GFLOP/s (its FLOPs counted by torch), beside a float32
    matmul's rate on the same threads: how near the network runs to what the CPU can do."""
    from torch.utils.flop_counter import FlopCounterMode

    from ddpm_sampling import load_pretrained

    model = load_pretrained()
    print("## the trained U-Net's forward pass")
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    t_mm = best_of(lambda: a @ b, repeat * 5)
    mm_rate = 2 * 1024**3 / t_mm / 1e9
    for batch in (1, 4, 8, 16):
        x = torch.randn(batch, 1, 28, 28, generator=torch.Generator().manual_seed(0))
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            model(x, 500)
        flops = counter.get_total_flops()
        with torch.no_grad():
            t = best_of(lambda x=x: model(x, 500), repeat * 4)
        print(
            f"batch {batch:2d}: {flops / batch / 1e6:.0f} MFLOP per image, {t / batch * 1e3:.2f} ms per image, "
            f"{flops / t / 1e9:.1f} GFLOP/s ({flops / t / 1e9 / mm_rate:.0%} of a 1024 x 1024 matmul's "
            f"{mm_rate:.1f} GFLOP/s)"
        )


def make(target: str, src: Path, label: str, must_pass: bool = True) -> tuple[float, str, int]:
    """``make target`` in ``src`` with this venv (never remade there); return seconds, its output
    and its exit status. A failing ``make book`` stops the benchmark; ``make test`` is timed either way."""
    env = dict(os.environ, FASHION_MNIST_ROOT=os.environ.get("FASHION_MNIST_ROOT", str(ROOT / "data")))
    env.pop("BOOK_HTML", None)
    venv = Path(sys.executable).parent.parent
    # -o: the venv counts as made, whatever the clone's file times say
    cmd = ["make", target, f"VENV={venv}", "-o", f"{venv}/.installed"]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, cwd=src, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    text = out.stdout + out.stderr
    if out.returncode:
        print(text[-3000:])
        if must_pass:
            raise SystemExit(f"the {label} build failed")
        print(f"the {label} run failed (exit status {out.returncode}); its time still counts")
    return seconds, text, out.returncode


def make_book(src: Path, label: str) -> tuple[float, int]:
    """``make book`` in ``src`` with this venv; return seconds and the number of chapters executed."""
    seconds, text, _ = make("book", src, label)
    found = re.search(r"execute_chapters: (\d+) executed", text)
    return seconds, int(found.group(1)) if found else 0


def fresh_clone(dest: Path) -> Path:
    """A clone of the committed HEAD in ``dest``: no cache, no build, no venv (the tests ask git)."""
    if subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout.strip():
        print("note: the working tree has uncommitted changes; the builds measure the committed HEAD")
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(dest)], check=True)
    return dest


class Timing(NamedTuple):
    """A notebook's run: wall-clock seconds, and the CPU seconds of its kernel process (user + system),
    which other work on a shared machine disturbs far less."""

    wall: float
    cpu: float


#: The last cell of every notebook timed: the kernel's own CPU time, printed for the benchmark to read.
CPU_CELL = "import os as _os\n_t = _os.times()\nprint('kernel cpu', _t.user + _t.system)"


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def import_seconds(repeat: int = 3, threads: int | None = None) -> Timing:
    """The median time of a fresh kernel importing torch, torchvision and the package, timed as a
    chapter is (:func:`execute_chapter`: from kernel start to the end of its one cell): what every
    chapter pays before its first line, and what no build can avoid."""
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import torch, torchvision, ddpm_sampling")])
    runs = [run_notebook(nb, ROOT / "book", threads) for _ in range(repeat)]
    return Timing(median([r.wall for r in runs]), median([r.cpu for r in runs]))


def execute_chapter(path: Path, threads: int | None, timeout: int = 1200) -> Timing:
    """One chapter in a fresh kernel, from kernel start to its last cell, as the build runs it
    (``book/`` the working directory, ``threads`` torch threads); a failing cell raises."""
    import jupytext

    return run_notebook(jupytext.read(path), path.parent, threads, timeout)


def run_notebook(nb, cwd: Path, threads: int | None, timeout: int = 1200) -> Timing:
    """Run ``nb`` in a fresh kernel in ``cwd`` (``threads`` torch threads, or torch's choice), and time it."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.from_dict(nb)
    nb.cells.append(nbformat.v4.new_code_cell(CPU_CELL))
    before = os.environ.get("OMP_NUM_THREADS")
    if threads is not None:
        os.environ["OMP_NUM_THREADS"] = str(threads)  # the kernel inherits it
    try:
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}})
        t0 = time.perf_counter()
        client.execute()
        wall = time.perf_counter() - t0
    finally:
        if before is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = before
    printed = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    return Timing(wall, float(re.search(r"kernel cpu ([\d.]+)", printed).group(1)))


def chapter_figures(names: list[str] | None = None, threads: int = 1) -> dict:
    """Each chapter with code executed alone, one after the other, against the import time of one
    kernel measured in the same run (median of 3 before the chapters and 3 after).

    Returns ``{"import_s": s, "import_cpu_s": s, "chapters": {name: {"seconds": s, "ratio": s / import_s,
    "cpu_s": s, "cpu_ratio": cpu_s / import_cpu_s}}}``; the goal is a ratio of at most
    :data:`CHAPTER_GOAL` for every chapter.
    """
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    from execute_chapters import code_chapters

    chapters = code_chapters(ROOT)
    known = [p.stem for p in chapters]
    if names:
        unknown = [n for n in names if n not in known]
        if unknown:
            raise SystemExit(f"no chapter with code is called {', '.join(unknown)}; they are: {', '.join(known)}")
        chapters = [p for p in chapters if p.stem in names]
    before = import_seconds(threads=threads)
    runs = {}
    for path in chapters:
        runs[path.stem] = execute_chapter(path, threads)
        print(f"  {path.stem}: {runs[path.stem].wall:.1f} s ({runs[path.stem].cpu:.1f} s CPU)", flush=True)
    after = import_seconds(threads=threads)
    wall, cpu = (before.wall + after.wall) / 2, (before.cpu + after.cpu) / 2
    return {
        "import_s": wall,
        "import_cpu_s": cpu,
        "chapters": {
            name: {"seconds": r.wall, "ratio": r.wall / wall, "cpu_s": r.cpu, "cpu_ratio": r.cpu / cpu}
            for name, r in runs.items()
        },
    }


CHAPTER_GOAL = 8.0


def bench_chapters(names: list[str] | None = None, threads: int = 1) -> dict:
    print(f"## each chapter executed alone in a fresh kernel, {threads} torch thread(s), against one import")
    figures = chapter_figures(names, threads)
    imports, cpu = figures["import_s"], figures["import_cpu_s"]
    print(
        f"import torch, torchvision, ddpm_sampling in a fresh kernel: {imports:.2f} s, {cpu:.2f} s CPU "
        "(median of 3, before and after the chapters)"
    )
    print(f"{'chapter':<28} {'seconds':>8} {'x import':>9} {'CPU s':>8} {'x import':>9}  (goal <= {CHAPTER_GOAL:g}x)")
    for name, row in figures["chapters"].items():
        flag = "" if row["ratio"] <= CHAPTER_GOAL else "  over the goal"
        print(
            f"{name:<28} {row['seconds']:8.1f} {row['ratio']:8.2f}x {row['cpu_s']:8.1f} {row['cpu_ratio']:8.2f}x{flag}"
        )
    return figures


BOOK_GOAL = 2.5
TEST_GOAL = 1.5


def bench_book() -> None:
    """Each chapter alone, then ``make book`` (cold, unchanged, after a change under src/) and a cold
    ``make test``, each in a fresh clone; then the three ratios of the goals side by side."""
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    from execute_chapters import code_chapters

    chapters = bench_chapters()
    n_code = len(code_chapters(ROOT))
    print(f"## the book: make book and make test, each in a fresh clone (fresh cache), {n_code} chapters with code")
    with tempfile.TemporaryDirectory() as tmp:
        src = fresh_clone(Path(tmp) / "book")
        before = import_seconds()
        cold, n_cold = make_book(src, "cold")
        warm, n_warm = make_book(src, "unchanged")
        with open(src / "src" / "ddpm_sampling" / "schedule.py", "a") as f:
            f.write("\n# a change under src/\n")
        changed, n_changed = make_book(src, "changed")
        shutil.rmtree(src)
        test, test_text, status = make("test", fresh_clone(Path(tmp) / "test"), "cold make test", must_pass=False)
        after = import_seconds()
    imports = (before.wall + after.wall) / 2
    budget = n_code * imports
    passed = re.findall(r"=+ (.*(?:passed|failed).*) =+", test_text)
    print(
        f"import torch, torchvision, ddpm_sampling in a fresh kernel: {imports:.1f} s (median of 3, before and after)"
    )
    print(f"cold build {cold:.1f} s executing {n_cold} chapters")
    print(f"unchanged rebuild {warm:.1f} s executing {n_warm} chapters (goal: 0 chapters)")
    print(f"after a change under src/ {changed:.1f} s executing {n_changed} chapters (goal: all {n_code})")
    print(f"cold make test {test:.1f} s (exit status {status}; pytest: {passed[-1] if passed else 'no summary'})")
    slowest, row = max(chapters["chapters"].items(), key=lambda item: item[1]["ratio"])
    print("## the three goals, measured in this run")
    rows = [
        (f"slowest chapter ({slowest}) / one import", row["ratio"], CHAPTER_GOAL),
        (f"cold make book / ({n_code} chapters x one import)", cold / budget, BOOK_GOAL),
        ("cold make test / cold make book", test / cold, TEST_GOAL),
    ]
    for what, ratio, goal in rows:
        print(f"{what:<52} {ratio:6.2f}x  (goal <= {goal:g}x){'' if ratio <= goal else '  over the goal'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--book",
        action="store_true",
        help="also every chapter alone, make book (cold, unchanged, after a change) and a cold make test",
    )
    parser.add_argument(
        "--chapters",
        nargs="*",
        metavar="NAME",
        default=None,
        help="only the chapters' execution against one import: all chapters with code, or those named",
    )
    parser.add_argument(
        "--unet", action="store_true", help="only the U-Net's forward pass in GFLOP/s, beside a matmul's rate"
    )
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement; the fastest counts")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads (default: torch's choice); on a busy machine 1 gives the steadiest figures",
    )
    args = parser.parse_args()
    if args.threads is not None:
        if args.threads < 1:
            raise SystemExit(f"--threads = {args.threads} is outside the valid range: an int >= 1")
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs")
    if args.chapters is not None:
        bench_chapters(args.chapters or None)
        return
    if args.unet:
        bench_unet(args.repeat)
        return
    bench_sampler(args.repeat)
    bench_ideal(args.repeat)
    bench_unet(args.repeat)
    if args.book:
        bench_book()


if __name__ == "__main__":
    main()
