"""Contract checks for artgan components, for the built-ins and for plugin authors.

Each ``check_*`` function builds a component by its registered name at a small size on
the CPU and raises ``AssertionError`` with a specific message when a contract is broken::

    from artgan.testing import check_generator
    def test_my_generator():
        check_generator("my-gen")

Checks: generators, discriminators, losses (conditional ones with ``num_classes``), data
sources, metrics and augmentations.

To check a plugin from a checkout, without installing its package, register its hook
module for the test with :func:`plugin`::

    import my_plugin
    def test_my_generator():
        with plugin(my_plugin):
            check_generator("my-gen")
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import json
import math
import numbers

import torch

from .core.loss import Loss, accepts
from .core.metric import Metric
from .core.networks import Discriminator, Generator
from .core.view import DiscriminatorView
from . import plugin_host
from .plugin_host import get_registry

SMALL = {"resolution": 16, "channels": 3}


@contextlib.contextmanager
def plugin(module, name: str | None = None):
    """Within: ``module`` (a hook module, or its import path) is loaded as a plugin, as if
    its package were installed; the registry is rebuilt on entry and on exit."""
    if isinstance(module, str):
        module = importlib.import_module(module)
    name = name or module.__name__
    plugin_host.add_plugin(module, name)
    try:
        yield get_registry()
    finally:
        plugin_host.remove_plugin(name)


def supported_resolution(kind: str, name: str, resolution: int) -> int:
    """``resolution`` if component ``name`` supports it, else the smallest entry of the
    ``resolutions`` its class declares (fastgan: 64 for a requested 16). A component
    that declares none (``resolutions = None``) is built at the requested size."""
    factory = get_registry().get(kind, name).load_factory()
    owner = factory if isinstance(factory, type) else getattr(factory, "__self__", None)
    sizes = getattr(owner, "resolutions", None) if isinstance(owner, type) else None
    if not sizes or resolution in sizes:
        return resolution
    return min(sizes)


def _common_resolution(resolution: int, *components: tuple[str, str]) -> int:
    """The first size all ``(kind, name)`` components support: ``resolution``, else the
    smallest size that one of them falls back to and the others accept."""
    fallbacks = {supported_resolution(kind, name, resolution) for kind, name in components}
    for size in [resolution, *sorted(fallbacks)]:
        if all(supported_resolution(kind, name, size) == size for kind, name in components):
            return size
    raise AssertionError(f"no resolution suits all of "
                         f"{', '.join(f'{kind} {name!r}' for kind, name in components)}")


def _grads(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.grad for p in module.parameters() if p.requires_grad and p.grad is not None]


def _all_finite(tensors: list[torch.Tensor]) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in tensors)


def _condition_channels(name: str, channels: int) -> int:
    """The input-image channels generator ``name`` expects for ``channels``-channel images
    (its class's ``condition_channels_for``; 0 for generators that start from noise)."""
    cls = get_registry().get("generator", name).component_class()
    return cls.condition_channels_for(channels) if hasattr(cls, "condition_channels_for") \
        else 0


def check_generator(name: str, options: dict | None = None, *, num_classes: int = 0,
                    condition_channels: int | None = None, batch: int = 4,
                    **shape) -> Generator:
    """The generator builds, returns (N, C, R, R) in [-1, 1], and back-propagates.

    An image-to-image generator gets random input images (condition) of
    ``condition_channels`` channels; by default as many as its class's
    ``Generator.condition_channels_for(channels)`` says (a restorer: the image and a mask).
    A generator that declares ``resolutions`` without the requested size is checked at
    its smallest declared one.
    """
    shape = {**SMALL, **shape}
    shape["resolution"] = supported_resolution("generator", name, shape["resolution"])
    if condition_channels is None:
        condition_channels = _condition_channels(name, shape["channels"])
    conditioned = {"condition_channels": condition_channels} if condition_channels else {}
    G = get_registry().build("generator", name, options, num_classes=num_classes,
                             **conditioned, **shape)
    assert isinstance(G, Generator), f"generator {name!r} is not an artgan.core.Generator"
    z = G.sample_z(batch)
    y = torch.arange(batch) % num_classes if G.conditional else None
    condition = _condition(G, batch, shape["resolution"])
    out = G(z, y, condition) if condition is not None else G(z, y)
    assert out.shape == (batch, shape["channels"], shape["resolution"], shape["resolution"])
    assert out.min() >= -1.0001 and out.max() <= 1.0001, \
        f"generator {name!r} output leaves [-1, 1]: [{out.min():.3f}, {out.max():.3f}]"
    out.square().mean().backward()
    grads = _grads(G)
    assert grads and _all_finite(grads), f"generator {name!r}: missing or non-finite gradients"
    return G


def _condition(G: Generator, batch: int, resolution: int) -> torch.Tensor | None:
    """An input image for an image-to-image generator (None for the others)."""
    if not G.image_conditioned:
        return None
    return torch.rand(batch, G.condition_channels, resolution, resolution) * 2 - 1


def _networks_for(name: str, family: str) -> tuple[str, str]:
    """The generator and discriminator to check loss ``name`` on: a generator registered
    with ``defaults={"loss": name}`` (a translation loss needs its own networks) and its
    default critic, else the ``family`` networks."""
    for entry in get_registry().entries("generator"):
        defaults = dict(entry.defaults)
        if defaults.get("loss") == name:
            return entry.name, defaults.get("disc", entry.name)
    return family, family


def check_discriminator(name: str, options: dict | None = None, *, num_classes: int = 0,
                        batch: int = 4, **shape) -> Discriminator:
    """The discriminator builds, returns (N,) logits ((N, P) for patch discriminators) and
    back-propagates to its input. A discriminator that declares ``resolutions``
    without the requested size is checked at its smallest declared one."""
    shape = {**SMALL, **shape}
    shape["resolution"] = supported_resolution("discriminator", name, shape["resolution"])
    D = get_registry().build("discriminator", name, options, num_classes=num_classes, **shape)
    assert isinstance(D, Discriminator), f"discriminator {name!r} is not an artgan.core.Discriminator"
    x = torch.rand(batch, shape["channels"], shape["resolution"], shape["resolution"]) * 2 - 1
    x.requires_grad_(True)
    y = torch.arange(batch) % num_classes if D.conditional else None
    out = D(x, y)
    wanted = "(N, P) patch scores" if D.patch_scores else "(N,) scores"
    assert (out.ndim == 2 if D.patch_scores else out.ndim == 1) and out.shape[0] == batch, \
        f"discriminator {name!r} returned {tuple(out.shape)}, expected {wanted}"
    out.sum().backward()
    assert x.grad is not None and _all_finite([x.grad]), \
        f"discriminator {name!r}: no finite gradient reaches the input images"
    assert _all_finite(_grads(D)), f"discriminator {name!r}: non-finite weight gradients"
    return D


def check_loss(name: str, options: dict | None = None, *, gen: str | None = None,
               disc: str | None = None, disc_options: dict | None = None,
               num_classes: int = 0, batch: int = 4) -> Loss:
    """Each phase returns a finite scalar "loss" whose gradients reach the right network.

    The discriminator phase must not reach G (fakes are detached); the generator phase
    must reach G; the regulariser (when ``regularize_every`` > 0) must reach D. The critic
    honours the loss's requirements: when the loss sets ``forbids_batchnorm``, a ``norm``
    option of the discriminator defaults to ``layer`` (and a critic with BatchNorm is
    refused). A loss that a generator names in its registered ``defaults`` (``cyclegan``,
    ``pix2pix``) is checked on that generator and its default critic, with input images
    (``condition``) when the generator is image-to-image. ``num_classes`` > 0 checks a
    conditional loss with labels, by default on the ``cgan`` networks. The networks are
    built at 16 px, or at the smallest size both support when one declares
    ``resolutions`` without 16 (``disc="fastgan"``: 64 px).
    """
    loss = get_registry().build("loss", name, options)
    assert isinstance(loss, Loss), f"loss {name!r} is not an artgan.core.Loss"
    family = "cgan" if num_classes else "dcgan"
    if gen is None and disc is None:
        gen, disc = _networks_for(get_registry().get("loss", name).name, family)
    gen, disc = gen or family, disc or family
    size = _common_resolution(SMALL["resolution"], ("generator", gen), ("discriminator", disc))
    shape = {**SMALL, "resolution": size}
    channels = _condition_channels(gen, shape["channels"])
    conditioned = {"condition_channels": channels} if channels else {}
    G = get_registry().build("generator", gen, None, num_classes=num_classes, **conditioned,
                             **shape)
    D = _critic_for(loss, name, disc, disc_options, num_classes, {**shape, **conditioned})
    y = torch.arange(batch) % num_classes if num_classes else None
    real = torch.rand(batch, shape["channels"], size, size) * 2 - 1
    condition = _condition(G, batch, size)
    if D.image_conditioned:  # what the trainer hands the loss: D bound to the input images
        D = DiscriminatorView(D)
        D.condition = condition

    def generate():
        return G(G.sample_z(batch), y, condition) if condition is not None else \
            G(G.sample_z(batch), y)

    def extra(method):  # the step's input images, for losses that take them
        return {"condition": condition} if condition is not None and \
            accepts(method, "condition") else {}

    out = loss.discriminator_loss(G, D, real, generate().detach(), y,
                                  **extra(loss.discriminator_loss))
    _check_scalar(name, "discriminator_loss", out)
    out["loss"].backward()
    assert not _grads(G), f"loss {name!r}: discriminator_loss sends gradients into G"
    assert _grads(D) and _all_finite(_grads(D)), f"loss {name!r}: no finite D gradients"
    loss.after_discriminator_step(D)

    _zero(G, D)
    out = loss.generator_loss(G, D, real, generate(), y, **extra(loss.generator_loss))
    _check_scalar(name, "generator_loss", out)
    out["loss"].backward()
    assert _grads(G) and _all_finite(_grads(G)), f"loss {name!r}: no finite G gradients"
    _check_regularizer(loss, name, G, D, real, y)
    return loss


def _zero(*modules: torch.nn.Module) -> None:
    """Forget the gradients of each module (as the optimisers do between phases)."""
    for module in modules:
        module.zero_grad(set_to_none=True)


def _critic_for(loss: Loss, name: str, disc: str, disc_options: dict | None,
                num_classes: int, shape: dict) -> Discriminator:
    """Build ``disc`` for ``loss``: no BatchNorm when the loss forbids it; judging (input
    image, image) pairs when ``shape`` has ``condition_channels``."""
    forbids = bool(getattr(loss, "forbids_batchnorm", False))
    options = dict(disc_options or {})
    fields = dataclasses.fields(get_registry().get("discriminator", disc).options)
    if any(f.name == "norm" for f in fields) and options.get("norm", "auto") == "auto":
        options["norm"] = "layer" if forbids else "batch"
    D = get_registry().build("discriminator", disc, options, num_classes=num_classes, **shape)
    if forbids and any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
                       for m in D.modules()):
        raise ValueError(f"loss {name!r} forbids BatchNorm in the discriminator, but "
                         f"{disc!r} with options {options} has BatchNorm layers; pass "
                         f"disc= / disc_options= for a critic without it")
    return D


def _check_regularizer(loss: Loss, name: str, G, D, real, y) -> None:
    """When the loss declares ``regularize_every``, its regulariser trains D only."""
    if not getattr(loss, "regularize_every", 0):
        return
    _zero(G, D)
    out = loss.regularizer_loss(G, D, real, y)
    if not out:  # an empty dict: nothing to regularise this time (as the trainer reads it)
        return
    _check_scalar(name, "regularizer_loss", out)
    out["loss"].backward()
    assert _all_finite(_grads(D)), f"loss {name!r}: regularizer_loss gives non-finite D grads"


def _check_scalar(name: str, phase: str, out: dict) -> None:
    assert isinstance(out, dict) and "loss" in out, \
        f"loss {name!r}: {phase} must return a dict with a 'loss' entry"
    for key, value in out.items():
        assert isinstance(value, torch.Tensor) and value.ndim == 0, \
            f"loss {name!r}: {phase}[{key!r}] is not a scalar tensor"
        assert torch.isfinite(value), f"loss {name!r}: {phase}[{key!r}] is {value}"


def check_data_source(name: str, argument: str | None = None, options: dict | None = None, *,
                      resolution: int = 16, channels: int = 3, batch: int = 4):
    """Batches are (N, C, R, R) float in [-1, 1]; labels match the class count; input
    images (with ``condition_channels``) are in [-1, 1] too."""
    data = get_registry().build("data", name, options, argument, resolution=resolution,
                                channels=channels, seed=0)
    assert len(data) > 0, f"data source {name!r} is empty"
    n = min(batch, len(data))
    images, labels, condition = data.load(torch.arange(n))
    assert images.min() >= -1.0001 and images.max() <= 1.0001, \
        f"data source {name!r}: images leave [-1, 1]"
    if data.condition_channels:
        assert condition.min() >= -1.0001 and condition.max() <= 1.0001, \
            f"data source {name!r}: input images (condition) leave [-1, 1]"
    if data.labelled:
        assert labels.dtype == torch.int64 and int(labels.max()) < data.num_classes
    else:
        assert labels is None, f"data source {name!r} is unlabelled but returned labels"
    return data


def check_augmentation(name: str, options: dict | None = None, *, batch: int = 6,
                       **shape) -> torch.nn.Module:
    """The augmentation keeps shape and range, draws per-sample parameters and passes
    gradients back to its input (DiffAugment's requirement: G learns through it)."""
    shape = {**SMALL, **shape}
    aug = get_registry().build("augmentation", name, options)
    assert isinstance(aug, torch.nn.Module), f"augmentation {name!r} is not an nn.Module"
    x = (torch.rand(batch, shape["channels"], shape["resolution"], shape["resolution"]) * 2 - 1)
    x.requires_grad_(True)
    out = aug(x)
    assert out.shape == x.shape, f"augmentation {name!r} returned {tuple(out.shape)}"
    assert out.min() >= -1.0001 and out.max() <= 1.0001, \
        f"augmentation {name!r} output leaves [-1, 1]: [{out.min():.3f}, {out.max():.3f}]"
    out.square().sum().backward()
    assert x.grad is not None and _all_finite([x.grad]) and x.grad.abs().sum() > 0, \
        f"augmentation {name!r} does not pass gradients to its input"
    return aug


class _Once:
    """Image batches that a metric may iterate only once (the Metric contract)."""

    def __init__(self, images: torch.Tensor, name: str, what: str, batch: int):
        self.images, self.name, self.what, self.batch = images, name, what, batch
        self.passes = 0

    def __iter__(self):
        self.passes += 1
        assert self.passes == 1, f"metric {self.name!r} iterates the {self.what} images twice"
        return iter(self.images.split(self.batch))


def _declares(metric: Metric, attr: str) -> bool:
    """Whether ``attr`` is set by the metric itself, not inherited from the base class."""
    return attr in vars(metric) or any(attr in vars(cls) for cls in type(metric).__mro__
                                       if cls is not Metric and cls is not object)


def check_metric(name: "str | Metric", options: dict | None = None, *, images: int = 32,
                 batch: int = 16, **shape) -> Metric:
    """The metric declares ``key`` and its direction, and scores random images finitely.

    ``name`` is a registered metric or a built instance (to inject, say, a small feature
    network in place of downloaded weights). ``fake`` and ``real`` are given as batches
    (N, C, R, R) in [-1, 1] that may be iterated once; ``prepare`` runs first; the result
    must be a dict holding a finite real number under ``key``, and must be JSON-able the
    way ``metrics.jsonl`` is written. A metric with ``requires_real = False`` is also
    scored without real images.
    """
    shape = {**SMALL, **shape}
    metric = get_registry().build("metric", name, options) if isinstance(name, str) else name
    label = name if isinstance(name, str) else type(name).__name__
    assert isinstance(metric, Metric), f"metric {label!r} is not an artgan.core.Metric"
    _check_metric_attributes(metric, label)
    metric.prepare("cpu")
    size = (images, shape["channels"], shape["resolution"], shape["resolution"])
    gen = torch.Generator().manual_seed(0)
    fake, real = (torch.rand(size, generator=gen) * 2 - 1 for _ in range(2))
    runs = [_Once(real, label, "real", batch)]
    if not metric.requires_real:
        runs.append(None)
    for reference in runs:
        result = metric.compute(_Once(fake, label, "generated", batch), reference, "cpu")
        _check_metric_result(metric, label, result, with_real=reference is not None)
    return metric


def _check_metric_attributes(metric: Metric, label: str) -> None:
    assert isinstance(metric.key, str) and metric.key, \
        f"metric {label!r}: set `key`, the name of the headline value in the result"
    assert _declares(metric, "higher_is_better") and isinstance(metric.higher_is_better, bool), \
        f"metric {label!r}: declare `higher_is_better = True` or `False` (the direction)"
    assert isinstance(metric.requires_real, bool), \
        f"metric {label!r}: `requires_real` must be True or False"


def _check_metric_result(metric: Metric, label: str, result: dict, *, with_real: bool) -> None:
    given = "with" if with_real else "without"
    assert isinstance(result, dict) and metric.key in result, \
        f"metric {label!r}: compute() ({given} real images) must return a dict holding " \
        f"{metric.key!r}, got {type(result).__name__} {result!r:.200}"
    value = result[metric.key]
    assert isinstance(value, numbers.Real) and not isinstance(value, bool), \
        f"metric {label!r}: result[{metric.key!r}] must be a number, got {type(value).__name__}"
    assert math.isfinite(value), f"metric {label!r}: result[{metric.key!r}] is {value}"
    json.dumps(result, default=str)
