"""The one builder of a run: a :class:`~artgan.core.resolve.RunPlan` becomes a ready
:class:`~artgan.core.trainer.Trainer`. ``artgan run`` and ``artgan.make_trainer`` both
call :func:`build_run`.

It seeds, picks the device, builds the metrics (missing weights fail before any data
loads), the data, the networks (with what the data determines injected), the loss,
augmentation and regularisers, checks that they fit together, prepares the networks
(channels-last on the CPU, ``--sync-bn``, ``--compile``), restores a checkpoint when
resuming and writes ``config.json`` into the run folder.
"""

from __future__ import annotations

from typing import Any

import torch

from .core.augment import AugmentPipeline
from .core.config import RunConfig
from .core.data import DataSource
from .core.device import resolve_precision, seed_everything
from .core.distributed import Distributed, setup, sync_batchnorm
from .core.errors import ArtganError, CheckpointError, ConfigError
from .core.registry import Registry
from .core.regularizers import GradientPenalty
from .core.resolve import RunPlan, instantiate
from .core.run_folder import RunFolder
from .core.sizes import build_sized
from .core.trainer import Trainer, TrainerCallbacks
from .core.wrappers import wrap_network
from .evaluation.periodic import PeriodicEvaluation, check_metrics


def build_run(plan: RunPlan, registry: Registry, *, callbacks: TrainerCallbacks | None = None,
              dist: Distributed | None = None, checkpoint: dict[str, Any] | None = None,
              dry_run: bool = False) -> Trainer:
    """Build every component of ``plan`` and return the trainer (see the module doc).

    ``checkpoint``: a loaded checkpoint to continue from. ``dry_run``: build and check
    everything, write nothing. Under ``torchrun`` this joins the process group unless
    ``dist`` is given. The run folder is locked first (another run writing there is
    refused); the trainer releases the lock when it has fitted.
    """
    config = plan.config
    dist = dist if dist is not None else setup(config.runtime.device)
    precision = resolve_precision(config.runtime.precision, dist.device)
    folder = RunFolder(config.runtime.out, writer=dist.is_main and not dry_run)
    folder.lock(note=(callbacks or TrainerCallbacks()).on_warning)  # before any work
    try:
        return _build(plan, registry, callbacks, dist, checkpoint, precision, folder)
    except BaseException:
        folder.unlock()
        raise


def _build(plan: RunPlan, registry: Registry, callbacks, dist: Distributed, checkpoint,
           precision, folder: RunFolder) -> Trainer:
    config = plan.config
    metrics = build_metrics(plan, registry) if dist.is_main else {}  # only rank 0 evaluates
    seed_everything(config.runtime.seed)
    data = build_data(plan, registry)
    G, D = build_networks(plan, registry, data)
    loss = plan.objects.get("loss") or registry.build("loss", config.components.loss.name,
                                                      config.components.loss.options)
    check_fit(G, D, loss, data, config)
    G, D, config = prepare_networks(G, D, config, dist, loss)
    evaluation = None
    if metrics:
        evaluation = PeriodicEvaluation(
            metrics, every=config.evaluation.eval_every, images=config.evaluation.eval_images,
            data=data, data_spec=config.components.data.spec,
            data_options=config.components.data.options,
            real_images=config.evaluation.eval_real, seed=config.runtime.seed)
        evaluation.prepare(dist.device)
    trainer = Trainer(G, D, loss, data, config, folder=folder, device=dist.device,
                      precision=precision, callbacks=callbacks, evaluation=evaluation,
                      dist=dist, augment=build_augment(plan, registry),
                      regularizers=build_regularizers(config))
    if checkpoint is not None:
        restore(trainer, checkpoint)
    folder.write_config({**config.to_dict(), "data_summary": data_summary(data),
                         "world_size": dist.world_size})
    return trainer


def restore(trainer: Trainer, checkpoint: dict[str, Any]) -> None:
    """Continue from ``checkpoint``. One whose weights or optimiser state do not fit the
    networks its own config builds (a key missing, a tensor of another shape) is damaged
    or from an incompatible version: a :class:`CheckpointError`, not a traceback."""
    try:
        trainer.load_state_dict(checkpoint)
    except (KeyError, IndexError, RuntimeError, TypeError, ValueError) as exc:
        if isinstance(exc, ArtganError):
            raise
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[-1].strip()
        if isinstance(exc, KeyError):
            detail = f"{exc} is missing"
        raise CheckpointError(f"the checkpoint is damaged or from an incompatible version: "
                              f"it does not fit the networks and optimisers of its own "
                              f"config ({detail[:200]})") from exc


def build_metrics(plan: RunPlan, registry: Registry) -> dict[str, Any]:
    """The ``--metric`` objects, in order; each checks it can score ``--eval-images``."""
    given = plan.objects.get("metrics", {})
    metrics = {choice.name: given.get(choice.name) or
               registry.build("metric", choice.name, choice.options)
               for choice in plan.config.evaluation.metrics}
    check_metrics(metrics, plan.config.evaluation.eval_images)
    return metrics


def build_data(plan: RunPlan, registry: Registry) -> DataSource:
    """The data source, at the configured resolution and channels (or the object given)."""
    config = plan.config
    shape = {"resolution": config.image.resolution, "channels": config.image.channels,
             **_width(config)}
    if "data" in plan.objects:
        return instantiate(plan.objects["data"], **shape)
    choice = config.components.data
    return registry.build("data", choice.name, choice.options, choice.argument, **shape,
                          seed=config.runtime.seed)


def build_networks(plan: RunPlan, registry: Registry, data: DataSource):
    """Generator and discriminator with what the data determines injected. A registered
    network next to an object network gets the data's classes only if the object is
    conditional."""
    config = plan.config
    shape = {"resolution": config.image.resolution, "channels": config.image.channels,
             "num_classes": data.num_classes, **_width(config)}
    conditioned = {"condition_channels": data.condition_channels} \
        if data.condition_channels else {}
    objects = plan.objects
    G = _network("generator", objects["gen"], shape) if "gen" in objects else None
    D = _network("discriminator", objects["disc"], shape) if "disc" in objects else None
    partner = G if G is not None else D
    if partner is not None and not partner.conditional:
        shape = {**shape, "num_classes": 0}
    components = config.components
    if G is None:
        G = build_sized(registry, "generator", components.gen, **shape, **conditioned)
    if D is None:
        D = build_sized(registry, "discriminator", components.disc, **shape, **conditioned)
    return G, D


def _width(config: RunConfig) -> dict[str, int]:
    """``{"width": W}`` for non-square images (``--aspect``), else nothing: components
    that make square images only need not accept it."""
    return {} if config.image.square else {"width": config.image.width}


def _network(kind: str, obj: Any, shape: dict):
    return wrap_network(kind, instantiate(obj, **shape), **shape)


def check_fit(G, D, loss, data: DataSource, config: RunConfig) -> None:
    """The components fit together: labels, input images, BatchNorm, augmentation."""
    gen, disc = config.components.gen.name, config.components.disc.name
    if G.conditional and not D.conditional:
        raise ConfigError(f"--gen {gen} is conditional but --disc {disc} ignores labels, so "
                          f"the generator could not learn the classes; use a conditional "
                          f"discriminator (--disc cgan)", "--disc")
    if D.conditional and not G.conditional:
        raise ConfigError(f"--disc {disc} is conditional but --gen {gen} does not produce "
                          f"labelled images; use a conditional generator (--gen cgan) or "
                          f"--disc dcgan", "--disc")
    if data.condition_channels and not G.image_conditioned:
        raise ConfigError(f"--data {config.components.data.spec} gives an input image with "
                          f"each example, for image-to-image models, but --gen {gen} makes "
                          f"images from noise: use --gen unet (restoration) or --gen cyclegan "
                          f"(translation)", "--gen")
    if config.regularisation.augment and D.image_conditioned:
        raise ConfigError(f"--augment moves the images --disc {disc} judges but not their "
                          f"input images, so the pairs would no longer match; leave --augment "
                          f"off for image-to-image models", "--augment")
    if config.regularisation.mirror and data.condition_channels:
        raise ConfigError("--mirror flips the images but not their input images; leave it "
                          "off for image-to-image data", "--mirror")
    if config.evaluation.metrics and G.image_conditioned:
        raise ConfigError(f"--metric scores images generated from noise; --gen {gen} turns "
                          f"input images into images (its benchmarks in bench/ score it)",
                          "--metric")
    if getattr(loss, "forbids_batchnorm", False) and any(
            isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in D.modules()):
        raise ConfigError(f"--loss {config.components.loss.name} needs a discriminator "
                          f"without BatchNorm, but --disc {disc} has BatchNorm layers; "
                          f"choose a discriminator option without it (artgan list disc "
                          f"--options)", "--disc")


def prepare_networks(G, D, config: RunConfig, dist: Distributed, loss: Any = None):
    """Move to the device; synchronised BatchNorm (``--sync-bn``, several processes only)
    and ``torch.compile`` (``--compile``), both keeping the state-dict keys unchanged.
    Returns the networks and the config, with a note when D stays uncompiled."""
    G, D = G.to(dist.device), D.to(dist.device)
    if dist.device.type == "cpu":
        # oneDNN's convolutions are faster on NHWC weights (bench/README.md); not
        # measured on GPUs, so only here, and only for networks that gain from it
        G, D = (net.to(memory_format=torch.channels_last)
                if _wants_channels_last(net, config.runtime.precision) else net
                for net in (G, D))
    if config.runtime.sync_bn and dist.enabled:
        G, D = sync_batchnorm(G, dist.device), sync_batchnorm(D, dist.device)
    if config.runtime.compile:
        # Module.compile compiles in place: no "_orig_mod." prefix in the state dict,
        # and the checks of Generator/Discriminator.__call__ stay in eager mode
        G.compile()
        why = double_backward(config, loss)
        if why:
            config = config.replace(notes=(*config.notes, f"--compile: the discriminator stays "
                                           f"uncompiled: {why} needs double backward, which "
                                           f"torch.compile does not support"))
        else:
            D.compile()
    return G, D, config


def _wants_channels_last(net, precision: str) -> bool:
    wanted = getattr(net, "cpu_channels_last", True)
    return wanted if isinstance(wanted, bool) else precision in tuple(wanted)


def double_backward(config: RunConfig, loss: Any) -> str:
    """What differentiates through D's gradients (gradient penalties), or ''."""
    if getattr(loss, "needs_double_backward", False):
        return f"loss {config.components.loss.name!r}"
    reg = config.regularisation
    return " and ".join(name for name, gamma in (("the R1 penalty", reg.r1),
                                                 ("the R2 penalty", reg.r2)) if gamma > 0)


def build_augment(plan: RunPlan, registry: Registry):
    """The :class:`~artgan.core.augment.AugmentPipeline` of the augmentations, or None."""
    choices = plan.config.regularisation.augment
    if not choices:
        return None
    given = plan.objects.get("augment", {})
    modules = [instantiate(given[c.name]) if given.get(c.name) is not None else
               registry.build("augmentation", c.name, c.options) for c in choices]
    return AugmentPipeline(modules, [c.name for c in choices])


def build_regularizers(config: RunConfig) -> list[GradientPenalty]:
    """R1 and R2 (``--r1``, ``--r2``) as lazy discriminator phases."""
    reg = config.regularisation
    return [GradientPenalty(name, gamma, every) for name, gamma, every in
            (("r1", reg.r1, reg.r1_every), ("r2", reg.r2, reg.r2_every)) if gamma > 0]


def data_summary(data: DataSource) -> dict[str, Any]:
    """What ``config.json`` records about the data: images, class names, skipped files."""
    skipped = data.skipped
    return {"images": len(data), "classes": data.class_names, "skipped": skipped.count,
            "skipped_examples": [list(example) for example in skipped.examples]}
