"""Recipes: named bundles of defaults that fit a situation, applied only where the user
chose nothing, and always recorded in the resolved config's notes.

A recipe maps setting names (``resolution``, ``ema``) and component options
(``gen.ngf``, applied only when the chosen component has that option) to values; a
``step_budget`` makes the resolver pick enough epochs for that many steps when the user
gives no ``--epochs``.

``quickstart`` is what ``artgan run`` uses when no ``--data`` is given: the demo art at
32 px with half-width networks, sized to finish in a few minutes on a laptop CPU. Where
the user names no ``--gen`` it trains the demo's styles as classes (``cgan``: every
sample is drawn in one named style, and ``artgan sample --class waves`` picks one) with
a 10-dimensional label embedding (at cgan's default 50 the label drowned the latent and
every style collapsed to one picture), the hinge loss with a spectrally normalised
discriminator (steadier and more varied than the non-saturating loss over three seeds)
and the learning rates decaying linearly to 0 over the second half, so the last weights
are not caught mid-swing. bench/quickstart.py measures it (bench/README.md); an
unconditional DCGAN at the same budget put a third of its samples in a style.

``small-data`` is what ``--recipe auto`` picks when the data source counts fewer than
:data:`SMALL_DATA_LIMIT` images (a folder: its image files; a data source opts in by
counting, see :class:`artgan.core.data.DataSource`; the demo source renders any number on
demand and does not count, so the quickstart run is unchanged). It fights the
discriminator over-fitting a few hundred images (Karras et al. 2020, Zhao et al. 2020):
DiffAugment color+translation+cutout on everything D sees, an EMA of the generator for
samples (decay 0.99: CPU budgets are a few thousand steps) and R1 (gamma 1, lazily every
16 steps), and, unless ``--epochs`` is given, enough epochs for :data:`SMALL_DATA_STEPS`
steps. bench/small_data.py measures the recipe against no recipe (bench/README.md).
Where the user names no generator it also picks ``--gen fastgan`` (with its
discriminator and hinge loss): on a CPU at width 16 and batch 16, where at equal CPU time
its samples were closer to the folder and far more varied than DCGAN's
(bench/architectures.py); on a CUDA device at full width, as the paper trains it (not
measured here: bench/gpu.sh is ready for that). Below 64 px, where fastgan cannot go,
DCGAN stays.

``large-data`` (folders of :data:`SMALL_DATA_LIMIT` images or more) keeps the generator
EMA (decay 0.999) and puts the same augmentations under ADA (target 0.6): their strength
starts at 0 and rises only if the discriminator starts to over-fit, so a large folder
trains as without them unless it needs them (Karras et al. 2020); fastgan on a GPU.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

#: Folders with fewer images than this get the small-data recipe under ``--recipe auto``.
SMALL_DATA_LIMIT = 2000
#: Unless ``--epochs`` is given, the small-data recipe trains at least this many steps
#: (the 25 default epochs of 200 images at batch 64 would be only 75 steps).
SMALL_DATA_STEPS = 3000
#: What the quick start trains where the user names no ``--gen`` (see the module docstring).
QUICKSTART_ARCHITECTURE = {"gen": "cgan", "gen.embed_dim": 10, "loss": "hinge",
                           "disc.spectral_norm": True, "lr_decay": 0.5}


@dataclass(frozen=True)
class Recipe:
    """Defaults for a situation; see the module docstring."""

    name: str
    values: dict[str, Any] = field(default_factory=dict)
    step_budget: int = 0  # with a counted data set and no --epochs: epochs for this many steps
    why: str = ""  # shown in the notes
    #: The architecture it picks (``gen`` with its widths and batch size) where the user
    #: names no ``--gen``, on a CPU and on a CUDA device, and why.
    architecture: dict[str, Any] = field(default_factory=dict)
    architecture_gpu: dict[str, Any] = field(default_factory=dict)
    why_architecture: str = ""

    def with_architecture(self, gpu: bool) -> "Recipe":
        """This recipe with the architecture it picks on a CUDA device (``gpu``) or not."""
        extra = self.architecture_gpu if gpu else self.architecture
        return replace(self, values={**self.values, **extra})

    def settings(self) -> dict[str, Any]:
        """The run settings it sets (``resolution``), not component options."""
        return {k: v for k, v in self.values.items() if "." not in k}

    def options(self) -> dict[str, dict[str, Any]]:
        """Component options it sets, by group: ``{"gen": {"ngf": 32}}``."""
        out: dict[str, dict[str, Any]] = {}
        for key, value in self.values.items():
            group, dot, name = key.partition(".")
            if dot:
                out.setdefault(group, {})[name] = value
        return out


RECIPES: dict[str, Recipe] = {r.name: r for r in (
    Recipe("quickstart", {"data": "demo", "resolution": 32, "epochs": 50,
                          "gen.ngf": 32, "disc.ndf": 32}, why="no --data given",
           architecture=QUICKSTART_ARCHITECTURE, architecture_gpu=QUICKSTART_ARCHITECTURE,
           why_architecture="cgan, one class per demo style, with a small label "
                            "embedding, hinge loss, a spectrally normalised discriminator "
                            "and the learning rates decaying over the second half "
                            "(bench/quickstart.py: nearly every sample in its style, where "
                            "an unconditional DCGAN got a third)"),
    Recipe("small-data", {"augment": "color,translation,cutout", "ema": True,
                          "ema_decay": 0.99, "r1": 1.0}, step_budget=SMALL_DATA_STEPS,
           why=f"fewer than {SMALL_DATA_LIMIT} images",
           architecture={"gen": "fastgan", "gen.ngf": 16, "disc.ndf": 16, "batch_size": 16},
           architecture_gpu={"gen": "fastgan"},
           why_architecture="fastgan (width 16 and batch 16 on a CPU, where at equal CPU "
                            "time its samples were closer to the folder and as varied as "
                            "it while DCGAN's collapsed, bench/architectures.py; full width "
                            "on a GPU, as in the paper)"),
    Recipe("large-data", {"augment": "color,translation,cutout", "ada_target": 0.6,
                          "ema": True},
           why=f"{SMALL_DATA_LIMIT} images or more", architecture_gpu={"gen": "fastgan"},
           why_architecture="fastgan on a GPU (Liu et al. 2021)"),
    Recipe("none"),
)}


def pick_recipe(name: str, data_given: bool, count: int | None = None) -> Recipe:
    """``auto`` means quickstart when no data source was named, small-data when the data
    source counted fewer than :data:`SMALL_DATA_LIMIT` images, large-data when it counted
    more, else (a source that does not count, such as demo) none. Unknown names raise
    ``KeyError`` (the CLI restricts the choice)."""
    if name == "auto":
        if not data_given:
            return RECIPES["quickstart"]
        if count is None:
            return RECIPES["none"]
        return RECIPES["small-data" if count < SMALL_DATA_LIMIT else "large-data"]
    return RECIPES[name]
