"""Execute the book's chapters into jupyter-cache before ``jupyter-book build``, several at a time.

    python book/_ext/execute_chapters.py --cache _build/.jupyter_cache [--jobs 2]

``jupyter-book build`` with ``execute_notebooks: cache`` then finds every chapter in the cache and executes
nothing. Jupyter Book 1.x executes one chapter after the other; most of the book's time is kernels starting
and importing torch, which this runs side by side.

The chapters are those of ``_toc.yml`` that are notebooks with code (a jupytext header). Those with a cell
tagged ``timing`` measure this machine's speed: they run alone, after the others, so that no other chapter runs
beside their measurements. The others run ``--jobs`` at a time, longest first by the times of the last run
(kept in ``<cache>/../.chapter-times.json``), each kernel's torch on ``cores // jobs`` threads so that the
kernels side by side do not fight for cores. A chapter that raises is not cached and is reported here; the
build then executes it again itself and fails with its traceback and report, as it would without this step.
"""

import argparse
import json
import os
import re
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml
from jupyter_cache import get_cache
from jupyter_cache.executors.utils import create_cache_bundle, single_nb_execution

ROOT = Path(__file__).resolve().parents[2]


def toc_chapters(root: Path) -> list[Path]:
    """The files of ``_toc.yml``, in order, as paths to their ``.md`` sources."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())

    def files(entries: list[dict]) -> list[str]:
        return [f for e in entries for f in [e.get("file"), *files(e.get("chapters", []) + e.get("sections", []))] if f]

    return [root / f"{f}.md" for f in [toc["root"], *files(toc.get("parts", [toc]))]]


def code_chapters(root: Path) -> list[Path]:
    texts = {path: path.read_text() for path in toc_chapters(root)}
    return [path for path, text in texts.items() if text.startswith("---\njupytext:") and "```{code-cell}" in text]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, required=True, help="the jupyter-cache folder the build reads")
    parser.add_argument("--root", type=Path, default=ROOT, help="the book's folder (with _toc.yml)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs = {args.jobs} is outside the valid range: at least 1")
    started, chapters = time.perf_counter(), code_chapters(args.root.resolve())
    cache, lock = get_cache(str(args.cache.resolve())), threading.Lock()  # the cache's database under the lock
    for path in chapters:
        cache.add_nb_to_project(str(path), read_data={"name": "myst_nb_md", "type": "plugin"})  # as myst-nb reads it
    unexecuted = {Path(record.uri) for record in cache.list_unexecuted()}
    todo = [path for path in chapters if path in unexecuted]
    if not todo:
        print(f"execute_chapters: all {len(chapters)} chapters are cached; nothing to execute")
        return 0
    times_file = args.cache.resolve().parent / ".chapter-times.json"
    last = json.loads(times_file.read_text()) if times_file.is_file() else {}
    seconds, failed = {}, []

    def run(path: Path) -> None:
        with lock:
            project_nb = cache.get_project_notebook(str(path))
        result = single_nb_execution(project_nb.nb, cwd=str(path.parent), timeout=args.timeout, allow_errors=False)
        seconds[path.stem] = result.time
        with lock:
            if result.err is None:
                bundle = create_cache_bundle(project_nb, str(path.parent), None, result.time, result.exc_string)
                cache.cache_notebook_bundle(bundle, check_validity=False, overwrite=True)
                print(f"  {path.stem}: {result.time:.1f} s", flush=True)
            else:
                failed.append(path.stem)
                why = f"FAILED after {result.time:.1f} s ({type(result.err).__name__})"
                print(f"  {path.stem}: {why}; the build will execute it again and report it", flush=True)

    alone = [path for path in todo if re.search(r"^:tags:.*\btiming\b", path.read_text(), re.MULTILINE)]
    together = sorted((p for p in todo if p not in alone), key=lambda p: -last.get(p.stem, float("inf")))
    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    each = f"{args.jobs} at a time ({threads} torch thread(s) each)"
    print(f"execute_chapters: {len(together)} chapters, {each}, then {len(alone)} alone", flush=True)
    os.environ["OMP_NUM_THREADS"] = str(threads)  # the kernels inherit it
    with ThreadPoolExecutor(args.jobs) as pool:
        list(pool.map(run, together))
    for path in alone:
        run(path)
    times_file.write_text(json.dumps({**last, **seconds}, indent=1) + "\n")
    failures = f"; failed: {', '.join(failed)}" if failed else ""
    print(f"execute_chapters: {len(todo)} executed in {time.perf_counter() - started:.1f} s{failures}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
