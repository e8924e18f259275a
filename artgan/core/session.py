"""Turn a :class:`RunConfig` into live components and a ready :class:`Trainer`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from .config import ConfigError, RunConfig
from .data import DataSource
from .device import resolve_precision, seed_everything
from .distributed import Distributed, setup, sync_batchnorm
from .evaluation import PeriodicEvaluation, check_metrics
from .metric import Metric
from .registry import Registry
from .trainer import Trainer, TrainerCallbacks


def build_data(config: RunConfig, registry: Registry) -> DataSource:
    """The data source of ``config``, at the configured resolution and channels."""
    choice = config.data
    return registry.build("data", choice.name, choice.options, choice.argument,
                          resolution=config.resolution, channels=config.channels,
                          seed=config.seed)


def build_metrics(config: RunConfig, registry: Registry) -> dict[str, Metric]:
    """The ``--metric`` objects, in order. Metrics that need weights find and check them
    when built, and each metric checks that it can score ``--eval-images`` images, so a
    missing file or an impossible setting fails here, before any data is loaded."""
    metrics = {choice.name: registry.build("metric", choice.name, choice.options)
               for choice in config.metrics}
    check_metrics(metrics, config.eval_images)
    return metrics


def build_evaluation(config: RunConfig, metrics: dict[str, Metric],
                     data: DataSource) -> PeriodicEvaluation | None:
    """Periodic evaluation against the training data, or None without metrics."""
    if not metrics:
        return None
    return PeriodicEvaluation(metrics, every=config.eval_every, images=config.eval_images,
                              data=data, data_spec=config.data.spec,
                              data_options=config.data.options, real_images=config.eval_real,
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
                  loss: Any = None, callbacks: TrainerCallbacks | None = None,
                  metrics: dict[str, Metric] | None = None,
                  dist: Distributed | None = None,
                  augment: torch.nn.Module | None = None) -> Trainer:
    """Seed, pick the device, build every component and return the trainer.

    ``data``, ``networks`` (G, D), ``loss``, ``metrics`` and ``augment`` (applied to what
    D sees, e.g. an :class:`~artgan.core.augment.AugmentPipeline`) may be given as ready
    objects; the rest is built from the config's names. Under ``torchrun`` this joins the
    process group (:func:`artgan.core.distributed.setup`) unless ``dist`` is given.
    """
    dist = dist if dist is not None else setup(config.device)
    device = dist.device
    precision = resolve_precision(config.precision, device)
    if not dist.is_main:
        metrics = {}  # only rank 0 evaluates
    elif metrics is None:
        metrics = build_metrics(config, registry)
    seed_everything(config.seed)
    data = data if data is not None else build_data(config, registry)
    G, D = networks if networks is not None else build_networks(config, registry,
                                                                 data.num_classes)
    check_conditioning(G, D, config)
    if loss is None:
        loss = registry.build("loss", config.loss.name, config.loss.options)
    check_loss_requirements(loss, D, config)
    G, D = prepare_networks(G, D, config, dist, loss)
    evaluation = build_evaluation(config, metrics, data)
    if evaluation is not None:
        evaluation.prepare(device)
    return Trainer(G, D, loss, data, config, run_dir=run_dir, device=device,
                   precision=precision, callbacks=callbacks, evaluation=evaluation, dist=dist,
                   augment=augment if augment is not None else build_augment(config, registry))


def prepare_networks(G, D, config: RunConfig, dist: Distributed, loss: Any = None):
    """Move to the device; synchronised BatchNorm (``--sync-bn``, several processes only)
    and ``torch.compile`` (``--compile``), both keeping the state-dict keys unchanged.

    D is not compiled where double backward is needed (gradient penalties, R1).
    """
    G, D = G.to(dist.device), D.to(dist.device)
    if dist.device.type == "cpu":
        # oneDNN's convolutions are faster on NHWC weights (DCGAN 64px step: 5-18% less
        # time on a 2-core CPU, bench/README.md); not measured on GPUs, so only here
        G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
    if config.sync_bn and dist.enabled:
        G, D = sync_batchnorm(G, dist.device), sync_batchnorm(D, dist.device)
    if config.compile:
        # Module.compile compiles in place: no "_orig_mod." prefix in the state dict,
        # and the shape checks of Generator/Discriminator.__call__ stay in eager mode
        G.compile()
        if not (getattr(loss, "needs_double_backward", False) or config.r1 > 0):
            D.compile()
    return G, D


def build_augment(config: RunConfig, registry: Registry):
    """The :class:`~artgan.core.augment.AugmentPipeline` of ``config.augment``, or None."""
    if not config.augment:
        return None
    from .augment import AugmentPipeline

    return AugmentPipeline([registry.build("augmentation", name,
                                           config.augment_options.get(name, {}))
                            for name in config.augment], config.augment)


def check_loss_requirements(loss, D, config: RunConfig) -> None:
    """Refuse a discriminator with BatchNorm when the loss forbids it (e.g. wgan-gp)."""
    import torch

    if getattr(loss, "forbids_batchnorm", False) and any(
            isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in D.modules()):
        raise ConfigError(f"--loss {config.loss.name} needs a discriminator without BatchNorm, "
                          f"but --disc {config.disc.name} has BatchNorm layers; choose a "
                          f"discriminator option without it (artgan list disc --options)",
                          "--disc")


def data_summary(data: DataSource) -> dict[str, Any]:
    """What ``config.json`` records about the data: images, class names, skipped files."""
    return {"images": len(data), "classes": data.class_names, "skipped": data.skipped.count}


def write_config(config: RunConfig, run_dir: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Write the resolved config as ``config.json`` into the run folder (before step 0).

    Under ``torchrun`` only rank 0 writes.
    """
    run_dir = Path(run_dir)
    if os.environ.get("RANK", "0") != "0":
        return run_dir / "config.json"
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "config.json"
    path.write_text(json.dumps({**config.to_dict(), **(extra or {})}, indent=2) + "\n")
    return path
