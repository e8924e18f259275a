"""Turn a :class:`RunConfig` into live components and a ready :class:`Trainer`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .config import ConfigError, RunConfig
from .data import DataSource
from .device import resolve_device, resolve_precision, seed_everything
from .registry import Registry
from .trainer import Trainer, TrainerCallbacks


def build_data(config: RunConfig, registry: Registry) -> DataSource:
    """The data source of ``config``, at the configured resolution and channels."""
    choice = config.data
    return registry.build("data", choice.name, choice.options, choice.argument,
                          resolution=config.resolution, channels=config.channels,
                          seed=config.seed)


def build_networks(config: RunConfig, registry: Registry, num_classes: int):
    """Generator and discriminator, with what the data determines injected."""
    shape = {"resolution": config.resolution, "channels": config.channels,
             "num_classes": num_classes}
    try:
        G = registry.build("generator", config.gen.name, config.gen.options, **shape)
        D = registry.build("discriminator", config.disc.name, config.disc.options, **shape)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc  # the message names the flags
    return G, D


def check_conditioning(G, D, config: RunConfig) -> None:
    """Generator and discriminator must agree on using labels."""
    if G.conditional and not D.conditional:
        raise ConfigError(f"--gen {config.gen.name} is conditional but --disc "
                          f"{config.disc.name} ignores labels, so the generator could not learn "
                          f"the classes; use a conditional discriminator (--disc cgan)", "--disc")
    if D.conditional and not G.conditional:
        raise ConfigError(f"--disc {config.disc.name} is conditional but --gen {config.gen.name} "
                          f"does not produce labelled images; use a conditional generator "
                          f"(--gen cgan) or --disc dcgan", "--disc")


def build_trainer(config: RunConfig, registry: Registry, *, run_dir: str | Path,
                  data: DataSource | None = None, networks: tuple | None = None,
                  loss: Any = None, callbacks: TrainerCallbacks | None = None) -> Trainer:
    """Seed, pick the device, build every component and return the trainer.

    ``data``, ``networks`` (G, D) and ``loss`` may be given as ready objects; the rest
    is built from the config's names.
    """
    device = resolve_device(config.device)
    precision = resolve_precision(config.precision, device)
    seed_everything(config.seed)
    data = data if data is not None else build_data(config, registry)
    G, D = networks if networks is not None else build_networks(config, registry,
                                                                 data.num_classes)
    check_conditioning(G, D, config)
    if loss is None:
        loss = registry.build("loss", config.loss.name, config.loss.options)
    check_loss_requirements(loss, D, config)
    return Trainer(G, D, loss, data, config, run_dir=run_dir, device=device,
                   precision=precision, callbacks=callbacks,
                   augment=build_augment(config, registry))


def build_augment(config: RunConfig, registry: Registry):
    """The :class:`~artgan.core.augment.AugmentPipeline` of ``config.augment``, or None."""
    if not config.augment:
        return None
    from .augment import AugmentPipeline

    return AugmentPipeline([registry.build("augmentation", name) for name in config.augment],
                           config.augment)


def check_loss_requirements(loss, D, config: RunConfig) -> None:
    """Refuse a discriminator with BatchNorm when the loss forbids it (e.g. wgan-gp)."""
    import torch

    if getattr(loss, "forbids_batchnorm", False) and any(
            isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in D.modules()):
        raise ConfigError(f"--loss {config.loss.name} needs a discriminator without BatchNorm, "
                          f"but --disc {config.disc.name} has BatchNorm layers; choose a "
                          f"discriminator option without it (artgan list disc --options)",
                          "--disc")


def write_config(config: RunConfig, run_dir: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Write the resolved config as ``config.json`` into the run folder (before step 0)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "config.json"
    path.write_text(json.dumps({**config.to_dict(), **(extra or {})}, indent=2) + "\n")
    return path
