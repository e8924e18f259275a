"""Recipes: named bundles of defaults that fit a situation, applied only where the user
chose nothing, and always recorded in the resolved config's notes.

``quickstart`` is what ``artgan run`` uses when no ``--data`` is given: the demo art at
32 px with half-width networks, sized to finish in a few minutes on a laptop CPU.
"""

from __future__ import annotations

from typing import Any

RECIPES: dict[str, dict[str, Any]] = {
    "quickstart": {"data": "demo", "resolution": 32, "epochs": 60,
                   "gen.ngf": 32, "disc.ndf": 32},
    "none": {},
}


def pick_recipe(name: str, data: str | None) -> str:
    """``auto`` means quickstart when no data source was named, else none."""
    if name == "auto":
        return "quickstart" if data is None else "none"
    if name not in RECIPES:
        from .config import ConfigError

        raise ConfigError(f"unknown recipe {name!r}; recipes: auto, {', '.join(RECIPES)}",
                          "--recipe")
    return name
