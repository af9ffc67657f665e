"""Keep the execution report of a chapter that failed, under ``<html>/reports/``.

With ``execute.raise_on_error`` a raising cell aborts the build before myst-nb writes
its report (it writes one only when errors are mere warnings). This extension listens
for the end of a failed build and writes the failing chapter's traceback to
``<outdir>/reports/<docname>.err.log``, where myst-nb would have put it, so that CI
can upload it.
"""

from __future__ import annotations

import traceback
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)


def _failed_notebook(exception: BaseException) -> Path | None:
    """The notebook path that myst-nb's ``ExecutionError`` names, if that is what ended the build."""
    from myst_nb.core.execute.base import ExecutionError

    err: BaseException | None = exception
    while err is not None:  # Sphinx may wrap the error it caught
        if isinstance(err, ExecutionError):
            return Path(str(err.args[0])) if err.args else None
        err = err.__cause__ or err.__context__
    return None


def write_report(app: Sphinx, exception: BaseException | None) -> None:
    if exception is None:
        return
    notebook = _failed_notebook(exception)
    if notebook is None:
        return
    try:
        docname = notebook.resolve().relative_to(Path(app.srcdir).resolve()).with_suffix("").as_posix()
    except ValueError:
        docname = notebook.stem
    report = Path(app.outdir, "reports", *f"{docname}.err.log".split("/"))
    report.parent.mkdir(parents=True, exist_ok=True)
    cause = exception.__cause__ or exception
    report.write_text("".join(traceback.format_exception(cause)), encoding="utf8")
    logger.error(f"{docname}: a cell raised; the report is saved in {report}")


def setup(app: Sphinx) -> dict:
    app.connect("build-finished", write_report)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
