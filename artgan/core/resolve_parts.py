"""Parts of resolution (:mod:`artgan.core.resolve`): the optimiser, augmentations, metrics
and the checks that span several choices."""

from __future__ import annotations

import dataclasses
import math
import os
import types
import typing
from pathlib import Path
from typing import Any

from .config import SETTINGS, Choice, Optimisation, Regularisation, RunConfig
from .errors import ConfigError
from .objects import python_name
from .settings import SettingInfo

#: The functions below take the resolver (:class:`artgan.core.resolve._Resolver`) as
#: ``r``: its ``value(name)``, ``entry(kind, name)``, ``choice(...)``, ``options`` and
#: ``objects``.
_Resolver = Any


def checked(info: SettingInfo, value: Any) -> Any:
    """``value`` of setting ``info`` as its declared type, within its declared range and
    choices (the CLI checks these too; Python callers get the same messages)."""
    if value is None:
        return None
    base = _base_type(info.type)
    try:
        if base is bool:
            if not isinstance(value, bool):
                raise TypeError
        elif base in (int, float):
            if isinstance(value, bool) or (base is int and float(value) != int(value)):
                raise TypeError
            value = base(value)
        elif typing.get_origin(base) is tuple and not info.multiple:
            value = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise ConfigError(f"{info.flag}: expected {_type_name(base)}, got {value!r}",
                          info.flag) from None
    for number in value if isinstance(value, tuple) and not info.multiple else (value,):
        if isinstance(number, (int, float)) and not isinstance(number, bool):
            _check_range(info, number)  # finiteness: check_finite, before resolution
    if info.choices is not None and value not in info.choices:
        raise ConfigError(f"{info.flag}: expected one of "
                          f"{', '.join(map(str, info.choices))}, got {value!r}", info.flag)
    return value


def _base_type(tp: Any) -> Any:
    if typing.get_origin(tp) is typing.Union or isinstance(tp, types.UnionType):
        return next(a for a in typing.get_args(tp) if a is not type(None))
    return tp


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _check_range(info: SettingInfo, number: float) -> None:
    low, high = info.minimum, info.maximum
    too_low = low is not None and (number <= low if info.min_open else number < low)
    too_high = high is not None and (number >= high if info.max_open else number > high)
    if too_low or too_high:
        bounds = " and ".join(b for b in (
            f"{'>' if info.min_open else '>='} {low}" if low is not None else "",
            f"{'<' if info.max_open else '<='} {high}" if high is not None else "") if b)
        raise ConfigError(f"{info.flag} must be {bounds}; got {number!r}", info.flag)


def optimisation(r: _Resolver, loss: Any, loss_name: str) -> Optimisation:
    """The loss's recommended optimiser with what the user set on top (``--optimizer``,
    ``--betas``, ``--lr``/``--lr-g``/``--lr-d``, ``--lr-decay``); ``source`` says which
    is which."""
    recommended = getattr(loss, "optimizer", None)
    recommended_name = getattr(recommended, "name", "adam")
    def value(name):
        return checked(SETTINGS[name], r.value(name))

    name = (value("optimizer") or recommended_name).lower()
    betas, lr = value("betas"), value("lr")
    lr_g, lr_d, decay = value("lr_g"), value("lr_d"), value("lr_decay")
    given = {("optimiser", "optimizer"): name if name != recommended_name else None,
             ("betas", "betas"): betas, ("learning rate", "lr"): lr, ("lr_g", "lr_g"): lr_g,
             ("lr_d", "lr_d"): lr_d, ("lr decay", "lr_decay"): decay}
    chosen = [label for (label, key), v in given.items() if v is not None and key in r.request]
    by_recipe = [label for (label, key), v in given.items() if v is not None and
                 key not in r.request and key in r.recipe.settings()]
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
    if by_recipe:
        source += f"; {', '.join(by_recipe)} set by recipe {r.recipe.name!r}"
    return Optimisation(optimizer=name, lr_g=float(base_lr if lr_g is None else lr_g),
                        lr_d=float(base_lr if lr_d is None else lr_d),
                        betas=tuple(float(b) for b in betas) if name == "adam" else (),
                        lr_decay=getattr(recommended, "decay_start", None) if decay is None
                        else float(decay),
                        weight_decay=float(getattr(recommended, "weight_decay", 0.0)),
                        source=source)


def _names(value: Any) -> list:
    """Names (a comma-separated string or a list) and objects, in order; none/'' dropped."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else \
        list(value) if isinstance(value, (list, tuple)) else [value]
    out = []
    for item in items:
        if isinstance(item, str):
            item = item.strip()
            if not item or item.lower() == "none":
                continue
        out.append(item)
    return out


def _chosen(r: _Resolver, kind: str, items: list, key: str) -> tuple[Choice, ...]:
    """Choices of ``kind`` (metric, augmentation) for names and objects; objects go to
    ``r.objects[key]`` as {name: object} (names map to None: built by name)."""
    choices: dict[str, Choice] = {}
    objects: dict[str, Any] = {}
    for item in items:
        if isinstance(item, str):
            entry = r.entry(kind, item)
            alias = r.options.pop(item, {}) if item != entry.name else {}
            r.options[entry.name] = {**alias, **r.options.get(entry.name, {})}
            choice = r.choice(kind, entry, entry.name)
            obj = None
        else:
            choice, obj = Choice(python_name(item)), item
        if choice.name in choices:
            if obj is not None or kind == "metric":
                raise ConfigError(f"the same {kind} was chosen twice ({choice.name}): give "
                                  f"each once", "--metric" if kind == "metric" else "--augment")
            continue
        choices[choice.name], objects[choice.name] = choice, obj
    if any(obj is not None for obj in objects.values()):
        r.objects[key] = objects
    return tuple(choices.values())


def augment_choices(r: _Resolver, value: Any) -> tuple[Choice, ...]:
    """``--augment color,translation`` (or objects): the augmentations with options."""
    return _chosen(r, "augmentation", _names(value), "augment")


def metric_choices(r: _Resolver, values: Any) -> tuple[Choice, ...]:
    """``--metric`` names (or objects) with their options; ``--inception-weights`` sets
    the option of every chosen metric that has one."""
    weights = r.value("inception_weights")
    items = _names(values)
    for item in items:
        if weights and isinstance(item, str):
            entry = r.entry("metric", item)
            if any(f.name == "inception_weights" for f in dataclasses.fields(entry.options)):
                r.options.setdefault(entry.name, {}).setdefault("inception_weights", weights)
    return _chosen(r, "metric", items, "metrics")


def check_ada(reg: Regularisation) -> None:
    """ADA needs augmentations to adjust and a target inside (0, 1)."""
    if not reg.ada_target:
        return
    if not 0 < reg.ada_target < 1:
        raise ConfigError(f"--ada-target is the wanted E[sign(D(real))], between 0 and 1 "
                          f"(0.6 is usual); got {reg.ada_target}", "--ada-target")
    if not reg.augment:
        raise ConfigError("--ada-target adjusts how often the --augment augmentations apply, "
                          "but none is on; add --augment color,translation,cutout",
                          "--ada-target")


def check_resolution(resolution: int, entries) -> None:
    """Refuse a size the networks do not support before any data is loaded."""
    for entry in entries:
        if entry is None:
            continue
        sizes = getattr(entry.component_class(), "resolutions", None)
        if sizes and resolution not in sizes:
            powers = all(s & (s - 1) == 0 for s in sizes)
            kind = f" (power-of-two resolutions from {sizes[0]} to {sizes[-1]})" if powers else ""
            raise ConfigError(f"{entry.kind} {entry.name!r} supports {', '.join(map(str, sizes))} "
                              f"px{kind}; got {resolution}", "--resolution")


def check_shape(resolution: int, width: int, aspect: str, entries, data_cls,
                data_spec: str) -> None:
    """Refuse a non-square ``--aspect`` that the networks or the data source cannot do,
    before any data is loaded (each network's ``shape_problem``; the data source's
    ``non_square``)."""
    if width == resolution:
        return
    for entry in entries:
        check = getattr(entry.component_class(), "shape_problem", None) if entry else None
        problem = check(resolution, width) if check else None
        if problem:
            flag = "--gen" if entry.kind == "generator" else "--disc"
            hint = "" if getattr(entry.component_class(), "non_square", False) else \
                " (networks that can: --gen fastgan)"
            raise ConfigError(f"--aspect {aspect} ({width}x{resolution} px): {flag} "
                              f"{entry.name} {problem}{hint}", "--aspect")
    if data_cls is not None and not getattr(data_cls, "non_square", False):
        raise ConfigError(f"--aspect {aspect}: --data {data_spec} gives square images only; "
                          f"non-square training needs --data folder:PATH (cropped or padded "
                          f"to the aspect)", "--aspect")


def check_out_outside_data(out: str, data: Choice, entry) -> None:
    """Refuse a run folder inside (or equal to) a folder the data comes from: the next run
    on that folder would train on this run's sample grids."""
    from .data import input_folders_of

    if entry is None:
        return
    target = Path(os.path.expanduser(out)).resolve()
    for folder in input_folders_of(entry, data.argument):
        root = Path(folder).expanduser().resolve()
        if target == root or root in target.parents:
            raise ConfigError(f"--out {out} is inside the data folder {folder} (--data "
                              f"{data.spec}): the next run on that folder would train on "
                              f"this run's sample grids; choose an --out outside it", "--out")


def check_finite(name: str, value: Any) -> None:
    """Refuse NaN and infinities in a float setting given from Python (the CLI's float
    flags already refuse them)."""
    for v in value if isinstance(value, (tuple, list)) else (value,):
        if isinstance(v, float) and not math.isfinite(v):
            flag = SETTINGS[name].flag or name
            raise ConfigError(f"{flag} must be a finite number; got {name}={v}", flag)


def refuse_stray_groups(options: dict[str, dict[str, Any]], config: RunConfig,
                        component_groups: set[str]) -> None:
    """``-o NAME.KEY=V`` must name a component group, a chosen metric or augmentation."""
    chosen = {c.name for c in (*config.evaluation.metrics, *config.regularisation.augment)}
    stray = sorted(g for g, v in options.items() if v and g not in component_groups
                   and g not in chosen)
    if stray:
        raise ConfigError(f"-o {stray[0]}.*: {stray[0]!r} is not a chosen metric or "
                          f"augmentation; add --metric {stray[0]} or --augment {stray[0]}, or "
                          f"use the groups {', '.join(sorted(component_groups))}", "-o")


def resolve_norm(disc: Choice, loss: Any, loss_name: str) -> tuple[Choice, list[str]]:
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
