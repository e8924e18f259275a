"""Contract checks for artgan components, for the built-ins and for plugin authors.

Each ``check_*`` function builds a component by its registered name at a small size on
the CPU and raises ``AssertionError`` with a specific message when a contract is broken::

    from artgan.testing import check_generator
    def test_my_generator():
        check_generator("my-gen")
"""

from __future__ import annotations

import torch

from .core.loss import Loss
from .core.networks import Discriminator, Generator
from .plugin_host import get_registry

SMALL = {"resolution": 16, "channels": 3}


def _grads(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.grad for p in module.parameters() if p.requires_grad and p.grad is not None]


def _all_finite(tensors: list[torch.Tensor]) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in tensors)


def check_generator(name: str, options: dict | None = None, *, num_classes: int = 0,
                    batch: int = 4, **shape) -> Generator:
    """The generator builds, returns (N, C, R, R) in [-1, 1], and back-propagates."""
    shape = {**SMALL, **shape}
    G = get_registry().build("generator", name, options, num_classes=num_classes, **shape)
    assert isinstance(G, Generator), f"generator {name!r} is not an artgan.core.Generator"
    z = G.sample_z(batch)
    y = torch.arange(batch) % num_classes if G.conditional else None
    out = G(z, y)
    assert out.shape == (batch, shape["channels"], shape["resolution"], shape["resolution"])
    assert out.min() >= -1.0001 and out.max() <= 1.0001, \
        f"generator {name!r} output leaves [-1, 1]: [{out.min():.3f}, {out.max():.3f}]"
    out.square().mean().backward()
    grads = _grads(G)
    assert grads and _all_finite(grads), f"generator {name!r}: missing or non-finite gradients"
    return G


def check_discriminator(name: str, options: dict | None = None, *, num_classes: int = 0,
                        batch: int = 4, **shape) -> Discriminator:
    """The discriminator builds, returns (N,) logits and back-propagates to its input."""
    shape = {**SMALL, **shape}
    D = get_registry().build("discriminator", name, options, num_classes=num_classes, **shape)
    assert isinstance(D, Discriminator), f"discriminator {name!r} is not an artgan.core.Discriminator"
    x = torch.rand(batch, shape["channels"], shape["resolution"], shape["resolution"]) * 2 - 1
    x.requires_grad_(True)
    y = torch.arange(batch) % num_classes if D.conditional else None
    out = D(x, y)
    assert out.shape == (batch,), f"discriminator {name!r} returned {tuple(out.shape)}"
    out.sum().backward()
    assert x.grad is not None and _all_finite([x.grad]), \
        f"discriminator {name!r}: no finite gradient reaches the input images"
    assert _all_finite(_grads(D)), f"discriminator {name!r}: non-finite weight gradients"
    return D


def check_loss(name: str, options: dict | None = None, *, gen: str = "dcgan",
               disc: str = "dcgan", batch: int = 4) -> Loss:
    """Each phase returns a finite scalar "loss" whose gradients reach the right network.

    The discriminator phase must not reach G (fakes are detached); the generator phase
    must reach G.
    """
    loss = get_registry().build("loss", name, options)
    assert isinstance(loss, Loss), f"loss {name!r} is not an artgan.core.Loss"
    G = get_registry().build("generator", gen, None, num_classes=0, **SMALL)
    D = get_registry().build("discriminator", disc, None, num_classes=0, **SMALL)
    real = torch.rand(batch, SMALL["channels"], 16, 16) * 2 - 1
    fake = G(G.sample_z(batch))

    out = loss.discriminator_loss(G, D, real, fake.detach(), None)
    _check_scalar(name, "discriminator_loss", out)
    out["loss"].backward()
    assert not _grads(G), f"loss {name!r}: discriminator_loss sends gradients into G"
    assert _grads(D) and _all_finite(_grads(D)), f"loss {name!r}: no finite D gradients"

    G.zero_grad(set_to_none=True)
    D.zero_grad(set_to_none=True)
    out = loss.generator_loss(G, D, real, G(G.sample_z(batch)), None)
    _check_scalar(name, "generator_loss", out)
    out["loss"].backward()
    assert _grads(G) and _all_finite(_grads(G)), f"loss {name!r}: no finite G gradients"
    return loss


def _check_scalar(name: str, phase: str, out: dict) -> None:
    assert isinstance(out, dict) and "loss" in out, \
        f"loss {name!r}: {phase} must return a dict with a 'loss' entry"
    for key, value in out.items():
        assert isinstance(value, torch.Tensor) and value.ndim == 0, \
            f"loss {name!r}: {phase}[{key!r}] is not a scalar tensor"
        assert torch.isfinite(value), f"loss {name!r}: {phase}[{key!r}] is {value}"


def check_data_source(name: str, argument: str | None = None, options: dict | None = None, *,
                      resolution: int = 16, channels: int = 3, batch: int = 4):
    """Batches are (N, C, R, R) float in [-1, 1]; labels match the class count."""
    data = get_registry().build("data", name, options, argument, resolution=resolution,
                                channels=channels, seed=0)
    assert len(data) > 0, f"data source {name!r} is empty"
    n = min(batch, len(data))
    images, labels = data.load_batch(torch.arange(n))
    assert images.min() >= -1.0001 and images.max() <= 1.0001, \
        f"data source {name!r}: images leave [-1, 1]"
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
