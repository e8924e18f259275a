"""Recipes: named bundles of defaults that fit a situation, applied only where the user
chose nothing, and always recorded in the resolved config's notes.

``quickstart`` is what ``artgan run`` uses when no ``--data`` is given: the demo art at
32 px with half-width networks, sized to finish in a few minutes on a laptop CPU.

``small-data`` is what ``--recipe auto`` picks when the data source counts fewer than
:data:`SMALL_DATA_LIMIT` images (a folder: its image files; the demo source renders any
number on demand and never counts as small, so the quickstart run is unchanged). It
fights the discriminator over-fitting a few hundred images (Karras et al. 2020, Zhao et
al. 2020): DiffAugment color+translation+cutout on everything D sees, an EMA of the
generator for samples (decay 0.99: CPU budgets are a few thousand steps) and R1 (gamma
1, lazily every 16 steps), and, unless ``--epochs`` is given, enough epochs for
:data:`SMALL_DATA_STEPS` steps. Spectral normalisation of D was tried and dropped: it made
the benchmark worse. bench/small_data.py measures the recipe against no recipe; see
bench/README.md.
"""

from __future__ import annotations

from typing import Any

SMALL_DATA = "small-data"
#: Folders with fewer images than this get the small-data recipe under ``--recipe auto``.
SMALL_DATA_LIMIT = 2000
#: Unless ``--epochs`` is given, the small-data recipe trains at least this many steps
#: (the 25 default epochs of 200 images at batch 64 would be only 75 steps).
SMALL_DATA_STEPS = 3000

RECIPES: dict[str, dict[str, Any]] = {
    "quickstart": {"data": "demo", "resolution": 32, "epochs": 60,
                   "gen.ngf": 32, "disc.ndf": 32},
    SMALL_DATA: {"augment": "color,translation,cutout", "ema": True, "ema_decay": 0.99,
                 "r1": 1.0},
    "none": {},
}


def pick_recipe(name: str, data: str | None, count: int | None = None) -> str:
    """``auto`` means quickstart when no data source was named, small-data when the data
    source counted fewer than :data:`SMALL_DATA_LIMIT` images, else none."""
    if name == "auto":
        if data is None:
            return "quickstart"
        return SMALL_DATA if count is not None and count < SMALL_DATA_LIMIT else "none"
    if name not in RECIPES:
        from .config import ConfigError

        raise ConfigError(f"unknown recipe {name!r}; recipes: auto, {', '.join(RECIPES)}",
                          "--recipe")
    return name
