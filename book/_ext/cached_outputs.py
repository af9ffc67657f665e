"""Put the cached outputs into the executed notebooks in ``jupyter_execute/``.

With ``nb_execution_mode: cache``, myst-nb (1.4) renders each page from the cached, executed
notebook, but the copy it writes to ``jupyter_execute/`` is the notebook it read, with no
outputs and no execution counts. The notebooks offered for download and the tests read that
copy, so once every page is read this extension merges the cached outputs back into it.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from jupyter_cache import get_cache
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util import logging

logger = logging.getLogger(__name__)


def merge_cached_outputs(app: Sphinx, env: BuildEnvironment) -> None:
    if app.config.nb_execution_mode != "cache":
        return
    folder = Path(app.outdir).parent / "jupyter_execute"
    # the cache myst-nb itself resolved (the configured one, or _build/.jupyter_cache)
    cache = get_cache(env.mystnb_config.execution_cache_path)
    for path in sorted(folder.rglob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        if not any(cell.cell_type == "code" for cell in nb.cells):
            continue
        try:
            _, merged = cache.merge_match_into_notebook(nb)
        except KeyError:
            logger.warning(f"{path.name}: no cached execution to put into {path}", type="cached_outputs")
            continue
        nbformat.write(merged, path)


def setup(app: Sphinx) -> dict:
    app.connect("env-updated", merge_cached_outputs)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
