"""The resolved run configuration: what the user asked for, checked, complete and grouped.

:func:`artgan.core.resolve.resolve` turns a :class:`~artgan.core.request.RunRequest` (the
user's raw choices) into a :class:`RunConfig`: components with their full options, the
image shape, the schedule, the optimisation, the regularisation, the evaluation and the
runtime. It is frozen, written into the run folder and into every checkpoint, so a run
can be reproduced and resumed from it alone.

Each field that the user can set is declared here once, with :func:`setting`: its flag,
default, help, range and whether ``--resume`` may change it (see
:mod:`artgan.core.settings`). Fields without a setting are derived during resolution.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from .errors import ConfigError
from .recipes import RECIPES
from .settings import SettingInfo, declared, setting

__all__ = ["Choice", "Components", "ImageShape", "Schedule", "Optimisation",
           "Regularisation", "Evaluation", "Runtime", "RequestOnly", "RunConfig",
           "ConfigError", "SETTINGS", "parse_data_spec"]

FORMAT = 2  # config layout; 1 was flat (round 1), still read by RunConfig.from_dict


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
class Components:
    group = "components"
    gen: Choice = setting("dcgan", "Generator name (artgan list gen).", type=str)
    disc: Choice = setting(None, "Discriminator name [default: the one the generator pairs "
                                 "with, else its family's].", type=str)
    loss: Choice = setting(None, "Loss name (artgan list loss) [default: the one the "
                                 "generator pairs with, else gan].", type=str)
    data: Choice = setting(None, "Data source, e.g. folder:./paintings or demo:waves "
                                 "[default: demo].", type=str, metavar="NAME[:ARG]")
    recipe: str = setting("auto", "Defaults for a situation, applied only where you chose "
                                  "nothing: quickstart (demo art, 32 px, a conditional "
                                  "GAN of its styles; when --data is omitted), small-data "
                                  "(augmentation, EMA, R1, 3,000+ steps, fastgan from 64 px; "
                                  "for folders under 2,000 images), large-data (augmentation "
                                  "under ADA, EMA, fastgan on a GPU; "
                                  "larger folders) or none. auto picks one of them.",
                          choices=("auto", *RECIPES))


@dataclass(frozen=True)
class ImageShape:
    group = "image"
    resolution: int = setting(None, "Image size in pixels [default: the data source's, 64 "
                                    "for folders].", min=8, max=1024)
    channels: int = setting(3, "3 for RGB, 1 for grayscale, 4 for RGBA (folders keep the "
                               "transparency; samples are RGBA PNGs).", choices=(3, 1, 4))
    aspect: str = setting("1:1", "Width:height of the images, e.g. 3:2 (landscape) or 3:4 "
                                 "(portrait), for networks that can (fastgan: a width that is "
                                 "a multiple of a quarter of the height); --resolution is the "
                                 "height. Folders are centre-cropped to it (-o data.fit=pad "
                                 "pads instead).", metavar="W:H")

    @property
    def width(self) -> int:
        """Image width in pixels: ``resolution * W / H`` (checked to be whole)."""
        return image_width(self.resolution, self.aspect)

    @property
    def square(self) -> bool:
        return self.width == self.resolution

    @property
    def size_text(self) -> str:
        """``64px`` or, non-square, ``96x64px`` (width x height)."""
        return f"{self.resolution}px" if self.square else f"{self.width}x{self.resolution}px"


_ASPECT_RE = re.compile(r"^\s*(\d+)\s*[:/x]\s*(\d+)\s*$")


def parse_aspect(text: str | float) -> Fraction:
    """``"3:2"`` (or ``3/2``, ``1.5``) -> Fraction(3, 2); ConfigError naming --aspect."""
    match = _ASPECT_RE.match(str(text))
    try:
        ratio = Fraction(int(match.group(1)), int(match.group(2))) if match else \
            Fraction(str(text).strip())
    except (ValueError, ZeroDivisionError):
        ratio = None
    if ratio is None or ratio <= 0:
        raise ConfigError(f"--aspect {text}: expected WIDTH:HEIGHT such as 3:2 or 3:4", "--aspect")
    return ratio


def aspect_text(ratio: Fraction) -> str:
    """Fraction(3, 2) -> ``"3:2"``."""
    return f"{ratio.numerator}:{ratio.denominator}"


def image_width(resolution: int, aspect: str | float) -> int:
    """The width of images ``resolution`` px high at ``aspect``; it must be whole."""
    width = int(resolution) * parse_aspect(aspect)
    if width.denominator != 1:
        raise ConfigError(f"--aspect {aspect} at --resolution {resolution} (the height) gives "
                          f"a width of {float(width):.2f} px; choose an aspect or resolution "
                          f"that gives whole pixels", "--aspect")
    return int(width)


@dataclass(frozen=True)
class Schedule:
    group = "schedule"
    batch_size: int = setting(64, "Images per step, over all processes (split evenly "
                                  "between them).", min=1)
    epochs: int = setting(None, "Passes over the data [default: the data source's, 25 for "
                                "folders].", min=1, resume=True)
    max_steps: int | None = setting(None, "Stop after this many steps (a step is one "
                                          "batch).", min=1, resume=True)
    max_minutes: float | None = setting(None, "Stop after this many minutes of training in "
                                              "this invocation (the budget you can give; "
                                              "resume for more).", min=0, min_open=True,
                                        resume=True)
    n_critic: int = 1  # discriminator steps per generator step (the loss's)
    log_every: int = setting(10, "Steps between stats lines.", min=1, resume=True)
    checkpoint_every: int = setting(500, "Steps between checkpoints (one is also saved with "
                                         "each sample grid).", min=1, resume=True)
    sample_every: int = setting(50, "End-of-epoch sample grid, collapse watch and "
                                    "checkpoint at most this often in steps: every k-th "
                                    "epoch when epochs are shorter (small folders); the "
                                    "first and last epochs always.", min=1, resume=True)


@dataclass(frozen=True)
class Optimisation:
    group = "optimisation"
    optimizer: str = setting(None, "Optimiser of both networks [default: the loss's "
                                   "recommendation].", choices=("adam", "rmsprop"))
    lr_g: float = setting(None, "Generator learning rate (overrides --lr).", min=0,
                          min_open=True)
    lr_d: float = setting(None, "Discriminator learning rate (overrides --lr).", min=0,
                          min_open=True)
    betas: tuple[float, float] = setting(None, "Adam's betas, e.g. --betas 0 0.9 [default: "
                                               "the loss's recommendation, else 0.5 0.999].",
                                         min=0, max=1, max_open=True, metavar="B1 B2")
    lr_decay: float | None = setting(None, "Keep the learning rates until this fraction of "
                                           "the steps, then decay them linearly to 0 "
                                           "[default: the loss's recommendation, e.g. "
                                           "cyclegan 0.5; else constant].", min=0, max=1)
    weight_decay: float = 0.0
    source: str = ""  # who chose these settings, e.g. "recommended by loss 'gan'"


@dataclass(frozen=True)
class Regularisation:
    group = "regularisation"
    augment: tuple[Choice, ...] = setting(None, "Differentiable augmentations of every image "
                                                "D sees, comma-separated, e.g. color,"
                                                "translation,cutout (artgan list aug); none: "
                                                "off.", type=str, metavar="NAMES")
    mirror: bool = setting(False, "Random left-right flips of the real images.")
    ema: bool = setting(False, "Keep an exponential moving average of the generator for "
                               "samples (small-data recipe: on).")
    ema_decay: float = setting(0.999, "EMA decay, ramped up: min(decay, (1+t)/(10+t)) at "
                                      "step t (small-data recipe: 0.99).", min=0, max=1,
                               max_open=True)
    r1: float = setting(0.0, "R1 penalty gamma/2 E||grad D(x)||^2 at real images (0: off; "
                             "small-data recipe: 1).", min=0, metavar="GAMMA")
    r1_every: int = setting(16, "Apply R1 every K steps (scaled by K; lazy regularisation).",
                            min=1)
    r2: float = setting(0.0, "R2 penalty gamma/2 E||grad D(G(z))||^2 at generated images "
                             "(0: off).", min=0, metavar="GAMMA")
    r2_every: int = setting(16, "Apply R2 every K steps (scaled by K).", min=1)
    ada_target: float = setting(0.0, "Adaptive augmentation (ADA): apply each --augment "
                                     "augmentation with a probability p that rises while "
                                     "E[sign(D(real))] > T and falls below it; 0.6 is usual "
                                     "(0: off, always apply).", min=0, max=1, max_open=True,
                                metavar="T")
    ada_ramp_images: int = setting(100_000, "ADA speed: images for p to go from 0 to 1.",
                                   min=1, flag="--ada-ramp", metavar="IMAGES")


@dataclass(frozen=True)
class Evaluation:
    group = "evaluation"
    metrics: tuple[Choice, ...] = setting((), "Evaluate during training (repeatable), e.g. "
                                              "fid, kid, is, ms-ssim (artgan list metric: all "
                                              "installed). Writes metrics.jsonl; the first "
                                              "metric picks checkpoints/best.pt.", type=str,
                                          flag="--metric", multiple=True, metavar="NAME")
    eval_every: int = setting(500, "Steps between evaluations (one more runs at the end).",
                              min=1, resume=True)
    eval_images: int = setting(1000, "Generated images per evaluation (papers use "
                                     "10000-50000 for FID).", min=2)
    eval_real: int | None = setting(None, "Reference images: the first N of the data "
                                          "[default: all].", min=2)


@dataclass(frozen=True)
class Runtime:
    group = "runtime"
    device: str = setting("auto", "auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps.",
                          resume=True)
    precision: str = setting("fp32", "fp16 needs CUDA (uses a grad scaler).",
                             choices=("fp32", "bf16", "fp16"), resume=True)
    seed: int = setting(0, "Seeds the weights, data order, noise and augmentations.", min=0,
                        max=2**63 - 1)
    out: str = setting("", "Run folder [default: runs/<time>-<gen>-<loss>-<data>].",
                       path="dir")
    sync_bn: bool = setting(False, "With several processes, BatchNorm statistics over the "
                                   "global batch instead of each process's share (slower; "
                                   "for small per-process batches).", resume=True)
    compile: bool = setting(False, "torch.compile the generator and discriminator (slow "
                                   "start; PyTorch 2).", resume=True)
    plugin_versions: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RequestOnly:
    """Settings that shape the resolution but are not config fields themselves."""

    group = "request"
    lr: float | None = setting(None, "Learning rate of both networks [default: the loss's "
                                     "recommendation].", min=0, min_open=True)
    inception_weights: str | None = setting(None, "FID Inception weights file for fid/kid/is "
                                                  "(else $ARTGAN_INCEPTION_WEIGHTS or torch "
                                                  "hub's cache). Never downloaded.",
                                            path="file")
    overrides: tuple[str, ...] = setting((), "Component option, e.g. -o gen.ngf=32 -o "
                                             "loss.label_smoothing=0.1 (groups: gen, disc, "
                                             "loss, data, and each chosen metric or "
                                             "augmentation, e.g. -o translation.ratio=0.25).",
                                         flag="-o", multiple=True, metavar="GROUP.KEY=VALUE")


GROUPS = (Components, ImageShape, Schedule, Optimisation, Regularisation, Evaluation, Runtime)
#: Every run setting by name: the CLI's flags, make_trainer's keywords.
SETTINGS: dict[str, SettingInfo] = declared(*GROUPS, RequestOnly)
#: The settings ``--resume`` may change (its other flags are refused).
RESUMABLE = tuple(name for name, info in SETTINGS.items() if info.resume)


def _group_field(name: str) -> tuple[str, str]:
    """(group attribute of RunConfig, field) of a config setting."""
    return _FIELD_GROUP[name], name


@dataclass(frozen=True)
class RunConfig:
    """Everything a run needs. Round-trips through :meth:`to_dict` / :meth:`from_dict`."""

    components: Components
    image: ImageShape
    schedule: Schedule
    optimisation: Optimisation
    regularisation: Regularisation
    evaluation: Evaluation
    runtime: Runtime
    notes: tuple[str, ...] = ()  # decisions made for the user, e.g. a norm a loss required

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, **_plain(dataclasses.asdict(self))}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunConfig":
        """Read a config written by :meth:`to_dict` (or a round-1 flat one)."""
        if d.get("format", 1) < 2:
            d = _from_flat(d)
        groups = {}
        for f in dataclasses.fields(cls):
            if f.name == "notes":
                continue
            group_cls = _GROUP_CLASSES[f.name]
            groups[f.name] = _group_from_dict(group_cls, d.get(f.name, {}))
        return cls(**groups, notes=tuple(d.get("notes", ())))

    def replace(self, **changes: Any) -> "RunConfig":
        """A copy with settings changed by name (``epochs=50``, ``out="runs/x"``) or groups
        replaced (``schedule=...``); ``notes`` too."""
        by_group: dict[str, dict[str, Any]] = {}
        direct = {}
        for key, value in changes.items():
            if key in _GROUP_CLASSES or key == "notes":
                direct[key] = value
            else:
                group, name = _group_field(key)
                by_group.setdefault(group, {})[name] = value
        for group, values in by_group.items():
            direct[group] = dataclasses.replace(direct.get(group, getattr(self, group)),
                                                **values)
        return dataclasses.replace(self, **direct)

    def value(self, name: str) -> Any:
        """The resolved value of setting ``name`` (``config.value("epochs")``)."""
        group, field_name = _group_field(name)
        return getattr(getattr(self, group), field_name)


_GROUP_CLASSES = {"components": Components, "image": ImageShape, "schedule": Schedule,
                  "optimisation": Optimisation, "regularisation": Regularisation,
                  "evaluation": Evaluation, "runtime": Runtime}
_FIELD_GROUP = {f.name: attr for attr, cls in _GROUP_CLASSES.items()
                for f in dataclasses.fields(cls)}
_CHOICE_FIELDS = {"gen", "disc", "loss", "data"}
_CHOICE_TUPLES = {"augment", "metrics"}


def _plain(value: Any) -> Any:
    """JSON-friendly: tuples become lists, recursively."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _group_from_dict(cls: type, values: dict[str, Any]):
    known = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in values.items():
        if key not in known:
            continue  # a field from a newer artgan: ignored
        if key in _CHOICE_FIELDS:
            value = Choice(**value)
        elif key in _CHOICE_TUPLES:
            value = tuple(Choice(**v) for v in value)
        elif key in ("betas",) and value is not None:
            value = tuple(value)
        kwargs[key] = value
    return cls(**kwargs)


def _from_flat(d: dict[str, Any]) -> dict[str, Any]:
    """A round-1 flat config as the grouped layout (same field names, a few renamed)."""
    flat = dict(d)
    optimizer = dict(flat.pop("optimizer", {}) or {})
    flat.update({"optimizer": optimizer.pop("name", "adam"), **optimizer})
    options = flat.pop("augment_options", {}) or {}
    flat["augment"] = [{"name": n, "options": options.get(n, {})}
                       for n in flat.get("augment", ())]
    flat.setdefault("recipe", "auto")
    grouped: dict[str, Any] = {"notes": flat.pop("notes", ())}
    for key, value in flat.items():
        if key in _FIELD_GROUP:
            grouped.setdefault(_FIELD_GROUP[key], {})[key] = value
    return grouped


_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9_-]*):(.*)$", re.S)


def parse_data_spec(spec: str, registry: Any = None) -> tuple[str, str | None]:
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
