"""The Python API: the CLI's shape, with objects allowed wherever a name is.

    trainer = artgan.make_trainer(gen="dcgan", loss="wgan-gp", data="demo:waves",
                                  resolution=32, max_steps=200, out="runs/waves")
    trainer.fit()

``gen``, ``disc``, ``loss`` and ``data`` each take a registered name, an instance, or a
class (instantiated with whichever of ``resolution``, ``channels`` and ``num_classes`` its
constructor accepts). A plain ``nn.Module`` is wrapped so the trainer's shape checks
apply; a plain generator module needs a ``z_dim`` attribute.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from .core.config import Choice, ConfigError, optimizer_config, resolve_config
from .core.options import GROUPS
from .plugin_host import get_registry, plugin_versions


def python_name(obj: Any) -> str:
    cls = obj if isinstance(obj, type) else type(obj)
    return f"python:{cls.__module__}.{cls.__qualname__}"


def make_trainer(*, gen: Any = "dcgan", disc: Any = None, loss: Any = "gan", data: Any = None,
                 out: str | Path | None = None, options: dict[str, dict] | None = None,
                 callbacks=None, **run: Any):
    """Build a ready :class:`artgan.core.trainer.Trainer`; call ``.fit()`` to train.

    ``options`` maps groups to component options (``{"gen": {"ngf": 32}}``); ``run``
    takes the run-level settings of ``artgan run`` (``resolution``, ``batch_size``,
    ``epochs``, ``max_steps``, ``lr``, ``device``, ``precision``, ``seed``, ...). The run
    folder, checkpoints and stats are the same as the CLI's.
    """
    from .core.data import DataSource
    from .core.session import build_data, build_trainer, write_config

    registry = get_registry()
    given = {k: v for k, v in (("gen", gen), ("disc", disc), ("loss", loss), ("data", data))
             if v is not None and not isinstance(v, str)}
    names = {"gen": "dcgan" if "gen" in given else gen,
             "disc": None if "disc" in given else disc,
             "loss": "gan" if "loss" in given else loss,
             "data": "demo" if "data" in given else data}
    if isinstance(given.get("data"), DataSource):
        run.setdefault("resolution", given["data"].resolution)
        run.setdefault("channels", given["data"].channels)
    overrides = {g: dict((options or {}).get(g, {})) for g in GROUPS}
    for group in given:
        overrides[group] = {}  # options of an object are its own business
    config = resolve_config(registry, **names, overrides=overrides, out=str(out or ""),
                            plugin_versions=plugin_versions(), recipe="none", **run)
    config = _describe_objects(config, given, run)
    out = Path(out) if out else Path("runs") / "python"
    config = config.replace(out=str(out))
    data_obj = given.get("data") or build_data(config, registry)
    if isinstance(data_obj, type):
        data_obj = _instantiate(data_obj, resolution=config.resolution, channels=config.channels)
    networks = None
    if "gen" in given or "disc" in given:
        networks = _networks(config, registry, given, data_obj.num_classes)
    loss_obj = _instantiate(given["loss"]) if "loss" in given else None
    write_config(config, out)
    return build_trainer(config, registry, run_dir=out, data=data_obj, networks=networks,
                         loss=loss_obj, callbacks=callbacks)


def _describe_objects(config, given: dict, run: dict):
    """Record objects in the config by their Python name, and a loss object's settings."""
    changes = {group: Choice(python_name(obj)) for group, obj in given.items()}
    if "gen" in given and "disc" not in given:
        raise ConfigError("a generator object needs a discriminator too: pass disc=")
    if "loss" in given:
        loss = given["loss"]
        changes["n_critic"] = int(getattr(loss, "n_critic", 1))
        changes["optimizer"] = optimizer_config(getattr(loss, "optimizer", None),
                                          python_name(loss), run.get("lr"), run.get("lr_g"),
                                          run.get("lr_d"))
    return config.replace(**changes)


def _networks(config, registry, given: dict, num_classes: int):
    shape = {"resolution": config.resolution, "channels": config.channels,
             "num_classes": num_classes}
    G = _network("generator", given.get("gen"), shape) if "gen" in given else \
        registry.build("generator", config.gen.name, config.gen.options, **shape)
    D = _network("discriminator", given.get("disc"), shape) if "disc" in given else \
        registry.build("discriminator", config.disc.name, config.disc.options, **shape)
    return G, D


def _instantiate(obj: Any, **available: Any) -> Any:
    """Call a class with the keyword arguments its constructor accepts; pass objects through."""
    if not isinstance(obj, type):
        return obj
    params = inspect.signature(obj).parameters
    takes_all = any(p.kind is p.VAR_KEYWORD for p in params.values())
    return obj(**{k: v for k, v in available.items() if takes_all or k in params})


def _network(kind: str, obj: Any, shape: dict):
    from .core.wrappers import wrap_network

    return wrap_network(kind, _instantiate(obj, **shape), **shape)
