"""The resolved run configuration: what the CLI (or Python) asked for, checked and complete.

:func:`resolve_config` sits between Click and the trainer. It looks up every name,
validates every option, fills in defaults (including those a data source or a loss
recommends) and returns a :class:`RunConfig` that is written into the run folder and
into every checkpoint, so a run can be reproduced and resumed from it alone.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from typing import Any

from .options import GROUPS, OptionError, as_dict, build_options
from .recipes import RECIPES, SMALL_DATA, SMALL_DATA_STEPS, pick_recipe
from .registry import Registry


from .errors import ConfigError  # noqa: E402  (re-exported: artgan.core.config.ConfigError)


@dataclass(frozen=True)
class Choice:
    """A component picked by name, with its full effective options."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)
    argument: str | None = None  # data sources only: the text after "NAME:"

    @property
    def spec(self) -> str:
        return f"{self.name}:{self.argument}" if self.argument else self.name


@dataclass(frozen=True)
class OptimizerConfig:
    name: str
    lr_g: float
    lr_d: float
    betas: tuple[float, float]
    weight_decay: float = 0.0
    source: str = ""  # who chose these settings, e.g. "recommended by loss 'gan'"


@dataclass(frozen=True)
class RunConfig:
    """Everything a run needs. Round-trips through :meth:`to_dict` / :meth:`from_dict`."""

    gen: Choice
    disc: Choice
    loss: Choice
    data: Choice
    resolution: int
    channels: int
    batch_size: int  # the global batch: split over the ranks under torchrun
    epochs: int
    max_steps: int | None
    n_critic: int
    optimizer: OptimizerConfig
    device: str = "auto"
    precision: str = "fp32"
    seed: int = 0
    out: str = ""
    log_every: int = 10
    checkpoint_every: int = 500
    sample_every: int = 50  # end-of-epoch grid/watch/checkpoint at least this many steps apart
    sync_bn: bool = False  # several processes: BatchNorm statistics over the global batch
    compile: bool = False  # torch.compile G and D
    plugin_versions: dict[str, str] = field(default_factory=dict)
    augment: tuple[str, ...] = ()  # DiffAugment augmentations applied wherever D sees images
    augment_options: dict[str, dict[str, Any]] = field(default_factory=dict)  # -o NAME.KEY=V
    mirror: bool = False  # random horizontal flips of the real images
    ema: bool = False  # keep an EMA of the generator; samples and metrics use it
    ema_decay: float = 0.999
    r1: float = 0.0  # R1 gamma (0 = off)
    r1_every: int = 16  # lazy R1: every k steps, scaled by k
    ada_target: float = 0.0  # adaptive augmentation (ADA): target E[sign(D(real))]; 0 = off
    ada_ramp_images: int = 100_000  # ADA: images for the probability to go from 0 to 1
    notes: tuple[str, ...] = ()  # decisions made for the user, e.g. a norm a loss required
    metrics: tuple[Choice, ...] = ()  # evaluated during training; the first ranks best.pt
    eval_every: int = 500  # steps between evaluations (and one at the end)
    eval_images: int = 1000  # generated images per evaluation
    eval_real: int | None = None  # reference images (the first N of the data; None: all)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["optimizer"]["betas"] = list(self.optimizer.betas)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunConfig":
        d = dict(d)
        for key in ("gen", "disc", "loss", "data"):
            d[key] = Choice(**d[key])
        opt = dict(d["optimizer"])
        opt["betas"] = tuple(opt["betas"])
        d["optimizer"] = OptimizerConfig(**opt)
        d["notes"] = tuple(d.get("notes", ()))
        d["metrics"] = tuple(Choice(**m) for m in d.get("metrics", ()))
        d["augment"] = tuple(d.get("augment", ()))
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def replace(self, **changes: Any) -> "RunConfig":
        return dataclasses.replace(self, **changes)


_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9_-]*):(.*)$", re.S)


def parse_data_spec(spec: str, registry: Registry) -> tuple[str, str | None]:
    """Split ``folder:./paintings`` into ("folder", "./paintings"); strict, with hints."""
    spec = spec.strip()
    match = _SCHEME_RE.match(spec)
    windows_drive = match is not None and len(match.group(1)) == 1 and \
        match.group(2)[:1] in ("\\", "/")
    if match and not windows_drive:
        return match.group(1), match.group(2) or None
    if windows_drive or os.path.sep in spec or "/" in spec or os.path.exists(spec):
        raise ConfigError(f"{spec!r} looks like a path; did you mean --data folder:{spec} ?",
                          "--data")
    return spec, None


def _component(registry: Registry, kind: str, name: str, values: dict[str, Any], flag: str,
               argument: str | None = None) -> tuple[Choice, Any, Any]:
    entry = registry.get(kind, name)
    try:
        opts = build_options(entry.options, values, owner=f"{flag} {entry.name}")
    except OptionError as exc:
        raise ConfigError(str(exc), "-o") from exc
    return Choice(entry.name, as_dict(opts), argument), entry, opts


def resolve_config(registry: Registry, *, gen: str = "dcgan", disc: str | None = None,
                   loss: str = "gan", data: str | None = None, resolution: int | None = None,
                   channels: int = 3, batch_size: int = 64, epochs: int | None = None,
                   max_steps: int | None = None, lr: float | None = None,
                   lr_g: float | None = None, lr_d: float | None = None,
                   optimizer: str | None = None, betas: tuple[float, float] | None = None,
                   device: str = "auto", precision: str = "fp32", seed: int = 0,
                   out: str = "", overrides: dict[str, dict[str, Any]] | None = None,
                   log_every: int = 10, checkpoint_every: int = 500, sample_every: int = 50,
                   plugin_versions: dict[str, str] | None = None,
                   recipe: str = "auto", metrics: tuple[str, ...] | list[str] = (),
                   eval_every: int = 500, eval_images: int = 1000,
                   eval_real: int | None = None, sync_bn: bool = False,
                   compile: bool = False, augment: str | tuple[str, ...] | None = None,
                   mirror: bool | None = None, ema: bool | None = None,
                   ema_decay: float | None = None, r1: float | None = None,
                   r1_every: int = 16, ada_target: float = 0.0,
                   ada_ramp_images: int = 100_000, loss_object: Any = None) -> RunConfig:
    """Check every choice and fill every default; raise :class:`ConfigError` naming flags.

    ``None`` for ``data``, ``resolution``, ``epochs``, ``augment``, ``mirror``, ``ema``
    or ``r1`` means "not chosen": the recipe, then the data source's recommendation (or
    off), fills it in. ``augment`` is a list of augmentation names or a comma-separated
    string (``"none"`` or ``""``: no augmentation). ``loss_object`` is a ready loss used
    instead of building ``loss``, which then only names it in the config; its
    ``forbids_batchnorm``, ``n_critic`` and ``optimizer`` count as a registered loss's do.
    """
    overrides = {group: dict(values) for group, values in (overrides or {}).items()}
    count = _count_images(registry, data, overrides)
    recipe = pick_recipe(recipe, data, count)
    notes: list[str] = []
    run = {"data": data, "resolution": resolution, "epochs": epochs, "augment": augment,
           "mirror": mirror, "ema": ema, "ema_decay": ema_decay, "r1": r1}
    for key, value in RECIPES[recipe].items():
        group, _, option_name = key.partition(".")
        if key in run:
            if run[key] is not None:
                continue
            run[key] = value
        elif not (option_name and option_name not in overrides.setdefault(group, {}) and
                  _has_option(registry, group, gen if group == "gen" else (disc or gen),
                              option_name)):
            continue
        else:
            overrides[group][option_name] = value
        notes.append(f"recipe {recipe}: {key}={value}")
    if recipe == SMALL_DATA and run["epochs"] is None and count:
        # a few hundred images make few steps per epoch: budget steps, not epochs
        run["epochs"] = -(-SMALL_DATA_STEPS // max(1, count // batch_size))
        notes.append(f"recipe {recipe}: epochs={run['epochs']} (at least {SMALL_DATA_STEPS} "
                     f"steps on {count} images)")
    data, resolution, epochs = run["data"], run["resolution"], run["epochs"]
    augment_names, augment_options = _augmentations(registry, run["augment"], overrides)
    data_name, argument = parse_data_spec(data or "demo", registry)
    data_choice, data_entry, _ = _component(registry, "data", data_name,
                                         overrides.get("data", {}), "--data", argument)
    gen_choice, _, _ = _component(registry, "generator", gen, overrides.get("gen", {}), "--gen")
    disc_choice, _, _ = _component(registry, "discriminator", disc or gen_choice.name,
                                overrides.get("disc", {}), "--disc")
    loss_choice, loss_obj = _loss(registry, loss, loss_object, overrides.get("loss", {}))
    data_cls = data_entry.load_factory()
    data_cls = getattr(data_cls, "__self__", data_cls)  # a classmethod factory -> its class
    if resolution is None:
        resolution = getattr(data_cls, "default_resolution", 64)
    if epochs is None:
        epochs = getattr(data_cls, "default_epochs", 25)
    if channels not in (1, 3):
        raise ConfigError(f"--channels must be 1 (grayscale) or 3 (RGB); got {channels}",
                          "--channels")
    disc_choice, norm_notes = _resolve_norm(disc_choice, loss_obj, loss_choice.name)
    notes += norm_notes
    if compile and getattr(loss_obj, "needs_double_backward", False):
        notes.append(f"--compile: the discriminator stays uncompiled: loss {loss_choice.name!r} "
                     f"needs double backward, which torch.compile does not support")
    elif compile and run["r1"]:
        notes.append("--compile: the discriminator stays uncompiled: the R1 penalty needs "
                     "double backward, which torch.compile does not support")
    recommended = getattr(loss_obj, "optimizer", None)
    n_critic = int(getattr(loss_obj, "n_critic", 1))
    optimizer = optimizer_config(recommended, loss_choice.name, lr, lr_g, lr_d,
                                 name=optimizer, betas=betas)
    _check_ada(ada_target, ada_ramp_images, augment_names)
    metric_choices = _metrics(registry, metrics, overrides)
    _refuse_stray_groups(overrides, {c.name for c in metric_choices} | set(metrics),
                         set(augment_names) | set(augment_options))
    return RunConfig(gen=gen_choice, disc=disc_choice, loss=loss_choice, data=data_choice,
                     resolution=int(resolution), channels=channels, batch_size=batch_size,
                     epochs=int(epochs), max_steps=max_steps, n_critic=n_critic,
                     optimizer=optimizer, device=device, precision=precision, seed=seed,
                     out=out, log_every=log_every, checkpoint_every=checkpoint_every,
                     sample_every=sample_every,
                     plugin_versions=dict(plugin_versions or {}), notes=tuple(notes),
                     metrics=metric_choices, eval_every=eval_every, eval_images=eval_images,
                     eval_real=eval_real, sync_bn=bool(sync_bn), compile=bool(compile),
                     augment=augment_names, augment_options=augment_options,
                     mirror=bool(run["mirror"]), ema=bool(run["ema"]),
                     ema_decay=_checked_decay(0.999 if run["ema_decay"] is None
                                              else run["ema_decay"]),
                     r1=float(run["r1"] or 0.0), r1_every=int(r1_every),
                     ada_target=float(ada_target or 0.0), ada_ramp_images=int(ada_ramp_images))


def _check_ada(target: float | None, ramp_images: int, augment_names: tuple[str, ...]) -> None:
    """ADA needs augmentations to adjust and a target inside (0, 1)."""
    if not target:
        return
    if not 0 < target < 1:
        raise ConfigError(f"--ada-target is the wanted E[sign(D(real))], between 0 and 1 "
                          f"(0.6 is usual); got {target}", "--ada-target")
    if ramp_images < 1:
        raise ConfigError(f"--ada-ramp must be at least 1 image; got {ramp_images}", "--ada-ramp")
    if not augment_names:
        raise ConfigError("--ada-target adjusts how often the --augment augmentations apply, "
                          "but none is on; add --augment color,translation,cutout",
                          "--ada-target")


def _loss(registry: Registry, name: str, loss_object: Any,
          values: dict[str, Any]) -> tuple[Choice, Any]:
    """The loss choice and the loss itself: built from its name, or ``loss_object``."""
    if loss_object is not None:
        return Choice(name), loss_object
    choice, entry, opts = _component(registry, "loss", name, values, "--loss")
    return choice, entry.load_factory()(opts)


def _metrics(registry: Registry, names, overrides: dict[str, dict[str, Any]]) -> tuple[Choice, ...]:
    """The ``--metric`` choices with their options (``-o NAME.KEY=VALUE``), in order."""
    choices = []
    for name in dict.fromkeys(names):
        entry = registry.get("metric", name)
        values = {**overrides.get(name, {}), **overrides.get(entry.name, {})}
        choices.append(_component(registry, "metric", entry.name, values, "--metric")[0])
    if len({c.name for c in choices}) != len(choices):
        raise ConfigError("the same metric was chosen twice (an alias and its name)",
                          "--metric")
    return tuple(choices)



def _count_images(registry: Registry, data: str | None,
                  overrides: dict[str, dict[str, Any]]) -> int | None:
    """How many images ``--data`` holds, if its source can say cheaply (else None).

    A data source class may define ``count_images(argument, options) -> int | None``;
    the folder source counts image files, the demo source (rendered on demand) does not.
    """
    if data is None:
        return None
    name, argument = parse_data_spec(data, registry)
    try:
        entry = registry.get("data", name)
        opts = build_options(entry.options, overrides.get("data", {}), owner=f"--data {name}")
    except (KeyError, OptionError):
        return None  # reported with the right flag below
    cls = entry.load_factory()
    counter = getattr(getattr(cls, "__self__", cls), "count_images", None)
    return None if counter is None else counter(argument, opts)


def _refuse_stray_groups(overrides: dict[str, dict[str, Any]], metrics: set[str],
                         augmentations: set[str]) -> None:
    """``-o NAME.KEY=V`` must name a core group, a chosen metric or a chosen augmentation."""
    stray = sorted(g for g, v in overrides.items() if v and g not in GROUPS
                   and g not in metrics and g not in augmentations)
    if stray:
        raise ConfigError(f"-o {stray[0]}.*: {stray[0]!r} is not a chosen metric or "
                          f"augmentation; add --metric {stray[0]} or --augment {stray[0]}, or "
                          f"use the groups {', '.join(GROUPS)}", "-o")


def _augmentations(registry: Registry, augment: str | tuple[str, ...] | list[str] | None,
                   overrides: dict[str, dict[str, Any]]
                   ) -> tuple[tuple[str, ...], dict[str, dict[str, Any]]]:
    """Canonical augmentation names and each one's options (``-o translation.ratio=0.25``);
    unknown names raise with the registry's hints."""
    if augment is None:
        return (), {}
    names = augment.split(",") if isinstance(augment, str) else list(augment)
    names = list(dict.fromkeys(n.strip() for n in names
                               if n.strip() and n.strip().lower() != "none"))
    canonical, options = [], {}
    for name in names:
        entry = registry.get("augmentation", name)
        values = {**overrides.get(name, {}), **overrides.get(entry.name, {})}
        choice = _component(registry, "augmentation", entry.name, values, "--augment")[0]
        canonical.append(entry.name)
        options[entry.name] = choice.options
    return tuple(canonical), options


def _checked_decay(decay: float) -> float:
    if not 0.0 <= decay < 1.0:
        raise ConfigError(f"--ema-decay must be in [0, 1), got {decay}", "--ema-decay")
    return float(decay)


def _has_option(registry: Registry, group: str, name: str, option_name: str) -> bool:
    kind = {"gen": "generator", "disc": "discriminator", "loss": "loss", "data": "data"}[group]
    fields = dataclasses.fields(registry.get(kind, name).options)
    return any(f.name == option_name for f in fields)


def _resolve_norm(disc: Choice, loss: Any, loss_name: str) -> tuple[Choice, list[str]]:
    """Pick the discriminator's ``norm`` option where it is ``auto``, honouring the loss."""
    norm = disc.options.get("norm")
    if norm is None:
        return disc, []
    forbids = bool(getattr(loss, "forbids_batchnorm", False))
    if forbids and norm == "batch":
        raise ConfigError(
            f"--loss {loss_name} needs a discriminator without BatchNorm (its per-sample "
            f"penalty is wrong when samples in a batch interact); use -o disc.norm=layer "
            f"(or instance / none), or leave disc.norm at auto", "-o")
    if norm != "auto":
        return disc, []
    chosen = "layer" if forbids else "batch"
    notes = [f"disc.norm=layer: loss {loss_name!r} forbids BatchNorm in the discriminator"] \
        if forbids else []
    return dataclasses.replace(disc, options={**disc.options, "norm": chosen}), notes


def optimizer_config(recommended: Any, loss_name: str, lr: float | None, lr_g: float | None,
                     lr_d: float | None, name: str | None = None,
                     betas: tuple[float, float] | None = None) -> OptimizerConfig:
    """The loss's recommended optimiser with what the user set on top (``--optimizer``,
    ``--betas``, ``--lr``/``--lr-g``/``--lr-d``); ``source`` says which is which."""
    recommended_name = getattr(recommended, "name", "adam")
    name = (name or recommended_name).lower()
    if name not in ("adam", "rmsprop"):
        raise ConfigError(f"unknown optimiser {name!r}; choose adam or rmsprop", "--optimizer")
    given = {"optimiser": name if name != recommended_name else None, "betas": betas,
             "learning rate": lr, "lr_g": lr_g, "lr_d": lr_d}
    chosen = [label for label, value in given.items() if value is not None]
    if name == "rmsprop" and betas is not None:
        raise ConfigError("these are Adam's; the optimiser is RMSprop: add --optimizer adam "
                          "to use them", "--betas")
    if name == "adam" and betas is None:
        betas = getattr(recommended, "betas", (0.5, 0.999)) if recommended_name == "adam" \
            else (0.5, 0.999)
    base_lr = getattr(recommended, "lr", 2e-4) if lr is None else lr
    source = f"recommended by loss {loss_name!r}"
    if chosen:
        source += f"; {', '.join(chosen)} set by the user"
    return OptimizerConfig(name=name, lr_g=base_lr if lr_g is None else lr_g,
                           lr_d=base_lr if lr_d is None else lr_d,
                           betas=tuple(betas) if name == "adam" else (),
                           weight_decay=getattr(recommended, "weight_decay", 0.0),
                           source=source)
