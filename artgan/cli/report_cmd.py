"""``artgan report``: one self-contained HTML page for a run folder."""

from __future__ import annotations

import click

from ..report import write_report

@click.command("report")
@click.argument("run", type=click.Path(file_okay=True, dir_okay=True))
@click.option("--out", type=click.Path(), default=None, metavar="PATH",
              help="Where to write the page [default: RUN/report.html]; a folder gets "
                   "report.html inside it.")
def report_command(run: str, out: str | None) -> None:
    """Write an HTML report of a run: losses, collapse watch, ADA, metrics with the best
    checkpoint, the sample-grid timeline, data, notes and config.

    One file with everything inside (plots as SVG, grids as embedded images): it opens
    offline and can be mailed on its own. Works on a run that is still going.

    \b
    artgan report runs/20261122-101500-dcgan-gan-folder
    artgan report runs/my-run --out ~/mail/my-run.html
    """

    path = write_report(run, out)
    size = path.stat().st_size
    click.echo(f"Report: {path} ({size / 1e6:.1f} MB)" if size >= 1e5
               else f"Report: {path} ({size / 1e3:.0f} kB)")
