"""The Python API: the CLI's shape, with objects allowed wherever a name is.

    trainer = artgan.make_trainer(gen="dcgan", loss="wgan-gp", data="demo:waves",
                                  resolution=32, max_steps=200, out="runs/waves")
    trainer.fit()

``gen``, ``disc``, ``loss`` and ``data`` each take a registered name, an instance, or a
class (instantiated with whichever of ``resolution``, ``channels`` and ``num_classes`` its
constructor accepts); ``metrics`` and ``augment`` take lists of names, instances and
classes. A plain ``nn.Module`` is wrapped so the trainer's shape checks apply; a plain
generator module needs a ``z_dim`` attribute. A registered network next to an object
network is built to match it: conditional when the object is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .builder import build_run
from .core.request import RunRequest
from .core.resolve import python_name, resolve  # noqa: F401 (python_name: public here)
from .plugin_host import get_registry, plugin_versions


def make_trainer(*, gen: Any = "dcgan", disc: Any = None, loss: Any = None, data: Any = None,
                 metrics: Any = (), augment: Any = None, recipe: str = "none",
                 out: str | Path | None = None, options: dict[str, dict] | None = None,
                 callbacks=None, **run: Any):
    """Build a ready :class:`artgan.core.trainer.Trainer`; call ``.fit()`` to train.

    ``options`` maps groups to component options (``{"gen": {"ngf": 32}}``, or a metric's
    or augmentation's name); ``run`` takes the settings of ``artgan run`` by name
    (``resolution``, ``batch_size``, ``epochs``, ``max_steps``, ``lr``, ``device``,
    ``precision``, ``seed``, ``ema``, ``r1``, ...; see ``artgan run --help``). ``recipe``
    is ``artgan run --recipe`` (default ``"none"``: nothing is chosen for you). The run
    folder (``out``, by default ``runs/<time>-<gen>-<loss>-<data>``), checkpoints and
    stats are the same as the CLI's; ``config.json`` is written now.
    """
    registry = get_registry()
    request = RunRequest({"gen": gen, "disc": disc, "loss": loss, "data": data,
                          "metrics": metrics or None, "augment": augment, "recipe": recipe,
                          "out": str(out) if out else None, **run}, options=options)
    plan = resolve(request, registry, plugin_versions=plugin_versions())
    return build_run(plan, registry, callbacks=callbacks)
