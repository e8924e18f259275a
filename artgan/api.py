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

import inspect
import re
from pathlib import Path
from typing import Any

from .core.config import Choice, ConfigError, optimizer_config, resolve_config
from .core.options import GROUPS
from .plugin_host import get_registry, plugin_versions


def python_name(obj: Any) -> str:
    cls = obj if isinstance(obj, type) else type(obj)
    return f"python:{cls.__module__}.{cls.__qualname__}"


def make_trainer(*, gen: Any = "dcgan", disc: Any = None, loss: Any = "gan", data: Any = None,
                 metrics: Any = (), augment: Any = None, recipe: str = "none",
                 out: str | Path | None = None, options: dict[str, dict] | None = None,
                 callbacks=None, **run: Any):
    """Build a ready :class:`artgan.core.trainer.Trainer`; call ``.fit()`` to train.

    ``options`` maps groups to component options (``{"gen": {"ngf": 32}}``, or a metric's
    or augmentation's name); ``run`` takes the run-level settings of ``artgan run``
    (``resolution``, ``batch_size``, ``epochs``, ``max_steps``, ``lr``, ``device``,
    ``precision``, ``seed``, ``ema``, ``r1``, ...). ``recipe`` is ``artgan run --recipe``
    (default ``"none"``: nothing is chosen for you). The run folder, checkpoints and
    stats are the same as the CLI's.
    """
    from .core.data import DataSource
    from .core.session import build_trainer, data_summary, write_config

    registry = get_registry()
    given = {k: v for k, v in (("gen", gen), ("disc", disc), ("loss", loss), ("data", data))
             if v is not None and not isinstance(v, str)}
    if "gen" in given and disc is None:
        raise ConfigError("a generator object needs a discriminator too: pass disc= "
                          "(a name, an instance or a class)")
    loss_obj = _instantiate(given["loss"]) if "loss" in given else None
    # objects stand in config resolution behind placeholder names, replaced afterwards
    names = {"gen": "dcgan" if "gen" in given else gen,
             "disc": None if "disc" in given else disc,
             "loss": python_name(loss_obj) if "loss" in given else loss,
             "data": "demo" if "data" in given else data}
    if isinstance(given.get("data"), DataSource):
        run.setdefault("resolution", given["data"].resolution)
        run.setdefault("channels", given["data"].channels)
    metric_list, augment_list = _as_list(metrics), _as_list(augment)
    config = resolve_config(registry, **names, overrides=_overrides(options, given),
                            out=str(out or ""), plugin_versions=plugin_versions(),
                            recipe=recipe, loss_object=loss_obj, metrics=_names(metric_list),
                            augment=augment if augment is None or isinstance(augment, str)
                            else _names(augment_list), **run)
    config, metric_objs = _metric_choices(config, registry, metric_list)
    config, pipeline = _augment_choices(config, registry, augment_list)
    config = _describe_objects(config, given)
    out = Path(out) if out else Path("runs") / "python"
    config = config.replace(out=str(out))
    data_obj = _data(config, registry, given.get("data"))
    networks = None
    if "gen" in given or "disc" in given:
        networks = _networks(config, registry, given, data_obj.num_classes)
    trainer = build_trainer(config, registry, run_dir=out, data=data_obj, networks=networks,
                            loss=loss_obj, callbacks=callbacks, metrics=metric_objs,
                            augment=pipeline)
    write_config(config, out, {"data_summary": data_summary(data_obj),
                               "world_size": trainer.dist.world_size})
    return trainer


def _overrides(options: dict[str, dict] | None, given: dict) -> dict[str, dict]:
    """Component options by group (and by metric or augmentation name), none for objects:
    the options of an object are its own business."""
    overrides = {g: {} for g in GROUPS}
    overrides.update({g: dict(v) for g, v in (options or {}).items()})
    overrides.update({group: {} for group in given})
    return overrides


def _as_list(value: Any) -> list:
    """``metrics`` / ``augment`` as a list: comma-separated names, a sequence, or one object."""
    if value is None:
        return []
    if isinstance(value, str):
        return [n.strip() for n in value.split(",") if n.strip()]
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _names(items: list) -> tuple[str, ...]:
    return tuple(item for item in items if isinstance(item, str))


def _metric_choices(config, registry, items: list):
    """Put metric objects into ``config.metrics`` in the order given (the first ranks
    ``best.pt``); return the config and every metric built, or None to build by name."""
    if all(isinstance(item, str) for item in items):
        return config, None
    by_name = {choice.name: choice for choice in config.metrics}
    choices, built = {}, {}
    for item in items:
        if isinstance(item, str):
            choice = by_name[registry.get("metric", item).name]
            obj = registry.build("metric", choice.name, choice.options)
        else:
            obj = _instantiate(item)
            choice = Choice(python_name(obj))
            if choice.name in choices:
                raise ConfigError(f"two metrics are {choice.name}: give each once", "metrics")
        choices.setdefault(choice.name, choice)
        built.setdefault(choice.name, obj)
    return config.replace(metrics=tuple(choices.values())), built


def _augment_choices(config, registry, items: list):
    """Put augmentation objects (instances or ``nn.Module`` classes) into ``config.augment``
    in the order given; return the config and their pipeline, or None to build by name."""
    from .core.augment import AugmentPipeline

    if all(isinstance(item, str) for item in items):
        return config, None
    names, modules = [], []
    for item in items:
        if isinstance(item, str):
            name = registry.get("augmentation", item).name
            module = registry.build("augmentation", name, config.augment_options.get(name, {}))
        else:
            module = _instantiate(item)
            name = python_name(module)
        if name not in names:
            names.append(name)
            modules.append(module)
    return config.replace(augment=tuple(names)), AugmentPipeline(modules, names)


def _data(config, registry, obj: Any):
    """The data source: the object given (a class is instantiated), or built by name."""
    from .core.session import build_data

    if obj is None:
        return build_data(config, registry)
    return _instantiate(obj, resolution=config.resolution, channels=config.channels)


def _describe_objects(config, given: dict):
    """Record network and data objects in the config by their Python name, dropping the
    notes about options of the registered components they replace."""
    changes = {group: Choice(python_name(obj)) for group, obj in given.items()
               if group != "loss"}  # resolve_config named the loss object
    notes = tuple(note for note in config.notes
                  if not any(re.match(rf"(recipe \S+: )?{group}\.", note) for group in changes))
    return config.replace(notes=notes, **changes)


def _networks(config, registry, given: dict, num_classes: int):
    """G and D where at least one is an object; a registered partner is built to match
    the object: given the data's classes only if the object is conditional."""
    shape = {"resolution": config.resolution, "channels": config.channels,
             "num_classes": num_classes}
    if "gen" in given:
        G = _network("generator", given["gen"], shape)
        D = _network("discriminator", given["disc"], shape) if "disc" in given else \
            _registered(registry, "discriminator", config.disc, shape, G.conditional)
    else:
        D = _network("discriminator", given["disc"], shape)
        G = _registered(registry, "generator", config.gen, shape, D.conditional)
    return G, D


def _registered(registry, kind: str, choice: Choice, shape: dict, conditional: bool):
    """Build a registered network, with the data's classes only if ``conditional``."""
    shape = {**shape, "num_classes": shape["num_classes"] if conditional else 0}
    try:
        return registry.build(kind, choice.name, choice.options, **shape)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc  # the message names the flags


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
