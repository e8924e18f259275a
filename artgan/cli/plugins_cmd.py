"""``artgan plugins``: installed plugin packages, their versions and what they register
(components by kind, and commands)."""

from __future__ import annotations

import json
from dataclasses import asdict

import click

from ..plugin_host import plugin_infos, registration_problem


@click.command("plugins")
@click.option("--all", "show_all", is_flag=True, help="Include artgan's built-in plugins.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins_command(show_all: bool, as_json: bool) -> None:
    """List installed plugins and the components and commands each registers.

    Plugins that failed to load, plugins the switches left out, and two plugins
    registering the same name are listed and explained (the exit status stays 0)."""
    clash = registration_problem()
    infos = [p for p in plugin_infos(include_skipped=True, strict=False)
             if show_all or not p.builtin]
    if clash:
        click.echo(f"PROBLEM: {clash}", err=as_json)
    if as_json:
        click.echo(json.dumps([asdict(p) for p in infos], indent=2))
        return
    if not infos:
        click.echo("No third-party plugins installed (artgan plugins --all shows built-ins).")
        return
    for p in infos:
        where = "built-in" if p.builtin else f"{p.package} {p.version}"
        click.echo(f"{p.name} ({where})" + (f": {p.disabled}" if p.disabled else ""))
        for kind, names in sorted(p.components.items()):
            click.echo(f"  {kind}: {', '.join(names)}")
        if p.commands:
            click.echo(f"  commands: {', '.join(p.commands)}")
        for warning in p.warnings:
            click.echo(f"  WARNING: {warning}")
        if p.error:
            click.echo(f"  BROKEN: {p.error}")
