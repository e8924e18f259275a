"""``artgan list``: every component, its package (or built-in module) and description;
``--options`` for details."""

from __future__ import annotations

import click

from ..core.options import describe
from ..core.registry import KIND_ALIASES, KINDS
from ..plugin_host import get_registry

_KIND_CHOICES = [*KINDS, *KIND_ALIASES]


@click.command("list")
@click.argument("kind", required=False, type=click.Choice(_KIND_CHOICES))
@click.option("--options", "show_options", is_flag=True,
              help="Also show each component's options: type, default and help.")
def list_command(kind: str | None, show_options: bool) -> None:
    """List registered components (all kinds, or one KIND)."""
    from rich.console import Console
    from rich.table import Table

    registry = get_registry()
    kinds = [KIND_ALIASES.get(kind, kind)] if kind else list(KINDS)
    console = Console()
    for k in kinds:
        entries = registry.entries(k)
        table = Table(title=f"{KINDS[k][1]} ({len(entries)})", title_justify="left",
                      show_lines=show_options)
        table.add_column("name", style="bold")
        table.add_column("plugin")
        table.add_column("description")
        if show_options:
            table.add_column("options (-o KIND.NAME=VALUE)")
        for e in entries:
            name = e.name + (f" ({', '.join(e.aliases)})" if e.aliases else "")
            row = [name, e.source, e.description]
            if show_options:
                row.append("\n".join(f"{o.name}: {o.type} = {o.default!r}  {o.help}"
                                     for o in describe(e.options)) or "-")
            table.add_row(*row)
        console.print(table)
