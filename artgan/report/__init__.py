"""``artgan report``: one self-contained HTML page for a run folder.

:func:`write_report` reads what a run wrote (``config.json``, ``stats.jsonl``,
``metrics.jsonl``, ``samples/``, ``checkpoints/``), tolerating runs that are partial or
still going, and writes ``report.html``: loss curves, the collapse watch, ADA, metrics
with the best checkpoint marked, the sample-grid timeline, the data summary with skipped
files, notes and the resolved config. Plots are matplotlib figures as inline SVG and the
grids are data URIs, so the file needs no network and no other file.

This module imports nothing heavy; matplotlib and Pillow load when a report is written.
"""

from __future__ import annotations

from pathlib import Path

from ..core.atomic import write_atomic
from ..core.version import __version__
from .grids import choose, embed_all, embed_final
from .page import render
from .plots import make_plots
from .rundata import ReportError, read_run

__all__ = ["ReportError", "write_report", "REPORT_NAME"]

#: The report's file name in the run folder.
REPORT_NAME = "report.html"


def write_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write the report of ``run_dir`` to ``out`` (default ``RUN/report.html``; an
    existing folder gets ``report.html`` inside it), atomically, and return its path.

    Raises :class:`ReportError` (an :class:`~artgan.core.errors.ArtganError`) when
    ``run_dir`` is not a run folder or a file in it, or ``out``, cannot be read or
    written. A run that is partial or still being written is not an error: the page
    says what is missing.
    """
    import matplotlib  # imported here: `artgan --help` must not pay for it

    run = read_run(run_dir)
    target = Path(out) if out is not None else run.path / REPORT_NAME
    if target.is_dir():
        target = target / REPORT_NAME
    plots = make_plots(run)
    timeline = embed_all(choose(run.grids), run.problems)
    final = embed_final(run.final, run.problems)
    html = render(run, plots, timeline, len(run.grids), final, version=__version__,
                  plot_library=f"matplotlib {matplotlib.__version__}")
    try:
        return write_atomic(target, lambda fh: fh.write(html.encode("utf-8")))
    except OSError as exc:
        raise ReportError(f"cannot write the report to {target}: "
                          f"{exc.strerror or exc}") from exc
