"""Projection: the latent (and class) with which a trained generator reproduces an image.

For a target x (and a mask k of known pixels, 1 where the pixel may be used) the
latent z, and for a conditional generator the class y, minimise

    pixel   = sum k (G(z, y) - x)^2 / sum k                       (mean squared error)
    ssim    = 1 - MS-SSIM(G(z, y), k x + (1 - k) G(z, y))         (holes filled with G's own)
    feature = mean_l |D_l(G) - D_l(k x + (1 - k) G)|^2 / |D_l(k x + (1 - k) G)|^2
    loss    = pixel + ssim + feature_weight * feature

where D_l are the activations of the run's own discriminator's convolutions (taken with
forward hooks: there are no pretrained feature networks here, and that discriminator
learned exactly the features that tell the artist's images apart). Filling the holes with
the current generation (not differentiated) makes the SSIM and feature terms blind to
the damaged pixels, as the pixel term is through k.

Adam optimises ``restarts`` random starts at once (for a conditional generator: every
class times ``restarts``, the best ``restarts`` of them kept after a quarter of the
steps), with the learning rate ramped up over the first 5% of the steps and down
(cosine) over the last 25%, as in StyleGAN2's projector. z has a Gaussian prior whose
mass lies near the sphere of radius sqrt(z_dim); after each step the norm of z is
clamped to sqrt(z_dim) +- 3 / sqrt(2) (three standard deviations of the chi
distribution), so z stays where the generator was trained without being forced onto
the sphere (a sample's own z is rarely exactly on it). The candidate with the lowest
loss wins.

This optimises z, the one latent every artgan generator has; an architecture with an
intermediate latent (StyleGAN's W) would need a hook of its own.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from ..core.checkpoint import load_checkpoint, save_atomic
from ..core.errors import ArtganError
from ..core.run_folder import checkpoint_file
from ..core.networks import Discriminator, Generator
from ..core.ssim import WINDOW, ms_ssim
from . import RestoreError

LATENT_KIND, LATENT_FORMAT = "artgan-latent", 1


# -- what is read from a run's config ---------------------------------------------------

def discriminator_choice(config) -> tuple[str, dict[str, Any]]:
    """The discriminator's registered name and options from a run's
    :class:`~artgan.core.config.RunConfig`: the only place in artgan.restoration that
    knows the config's layout (resolution, channels and classes come from the generator)."""
    return config.components.disc.name, dict(config.components.disc.options)


# -- discriminator features -------------------------------------------------------------

class FeatureLoss:
    """A perceptual distance from a discriminator's intermediate activations: the outputs
    of all its ``nn.Conv2d`` layers but the last (which makes the score)."""

    def __init__(self, D: Discriminator):
        convs = [m for m in D.modules() if isinstance(m, nn.Conv2d)]
        self.layers = convs[:-1] if len(convs) > 1 else convs
        if not self.layers:
            raise ValueError(f"{D.who} has no convolutions to take features from")
        self.D = D.eval().requires_grad_(False)

    def features(self, x: torch.Tensor, y: torch.Tensor | None) -> list[torch.Tensor]:
        captured: list[torch.Tensor] = []
        # clone: a following in-place activation (LeakyReLU(inplace=True)) would change it
        handles = [m.register_forward_hook(lambda _m, _i, out: captured.append(out.clone()))
                   for m in self.layers]
        try:
            self.D(x, y if self.D.conditional else None)
        finally:
            for handle in handles:
                handle.remove()
        return captured

    def distance(self, x: torch.Tensor, y: torch.Tensor | None,
                 target: list[torch.Tensor]) -> torch.Tensor:
        """Per image (N,): mean over layers of |D_l(x) - t_l|^2 / |t_l|^2."""
        terms = [(f - t).pow(2).flatten(1).mean(1) / t.pow(2).flatten(1).mean(1).clamp_min(1e-8)
                 for f, t in zip(self.features(x, y), target)]
        return torch.stack(terms, 1).mean(1)


def discriminator_features(path: str | os.PathLike, config, registry,
                           G: Generator) -> tuple[FeatureLoss | None, str]:
    """Rebuild the checkpoint's discriminator (by its registered name, at ``G``'s
    resolution, channels and classes, on ``G``'s device) as a :class:`FeatureLoss`.
    Returns (None, why) when that is impossible: the feature term is then left out and
    projection still works."""
    name, options = discriminator_choice(config)
    try:
        D = registry.build("discriminator", name, options, resolution=G.resolution,
                           channels=G.channels, num_classes=G.num_classes)
        if not isinstance(D, Discriminator) or D.image_conditioned:
            return None, "no discriminator features (the discriminator judges image pairs)"
        D.load_state_dict(load_checkpoint(path)["discriminator"])
        return FeatureLoss(D.to(next(G.parameters()).device)), \
            f"features of discriminator {name!r}"
    except (KeyError, ArtganError, RuntimeError, ValueError) as exc:
        why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return None, f"no discriminator features ({why[:160]})"


# -- the optimisation ---------------------------------------------------------------------

@dataclass
class Projection:
    """The best candidate: its latent (1, z_dim) and class, its image (1, C, R, R) in
    [-1, 1], its loss, and PSNR (dB) and MS-SSIM against the target's known pixels."""

    z: torch.Tensor
    y: int | None
    image: torch.Tensor
    loss: float
    psnr: float
    ms_ssim: float | None
    candidates: int = 1
    notes: list[str] = field(default_factory=list)


def _lr_at(t: float, lr: float) -> float:
    """StyleGAN2 projector schedule: ramp up over 5%, cosine down over the last 25%."""
    ramp = min(1.0, (1.0 - t) / 0.25)
    ramp = 0.5 - 0.5 * math.cos(ramp * math.pi)
    return lr * ramp * min(1.0, t / 0.05)


def clamp_norm(z: torch.Tensor) -> torch.Tensor:
    """Clamp each row's norm to sqrt(z_dim) +- 3/sqrt(2), in place (see the docstring)."""
    radius, spread = math.sqrt(z.shape[1]), 3 / math.sqrt(2)
    norm = z.norm(dim=1, keepdim=True).clamp_min(1e-8)
    z.mul_(norm.clamp(max(radius - spread, 0.1 * radius), radius + spread) / norm)
    return z


def objective(image: torch.Tensor, target: torch.Tensor, known: torch.Tensor,
              features: FeatureLoss | None, y: torch.Tensor | None, *,
              feature_weight: float) -> torch.Tensor:
    """The loss of each candidate (N,), see the module docstring."""
    channels = image.shape[1]
    counted = (known.sum((1, 2, 3)) * channels).clamp_min(1)
    loss = ((image - target).pow(2) * known).sum((1, 2, 3)) / counted
    composite = known * target + (1 - known) * image.detach()
    if min(image.shape[-2:]) >= WINDOW:
        loss = loss + (1 - ms_ssim(image, composite.expand_as(image)))
    if features is not None and feature_weight > 0:
        with torch.no_grad():
            reference = features.features(composite.expand_as(image), y)
        loss = loss + feature_weight * features.distance(image, y, reference)
    return loss


def psnr(image: torch.Tensor, target: torch.Tensor, known: torch.Tensor | None = None) -> float:
    """PSNR in dB of images in [-1, 1] (peak 1 on the [0, 1] scale) over known pixels."""
    if known is None:
        known = torch.ones_like(target[:, :1])
    se = ((image - target) / 2).pow(2) * known
    mse = se.sum() / (known.sum() * image.shape[1]).clamp_min(1)
    return float(10 * torch.log10(1 / mse.clamp_min(1e-12)))


class _FrozenGenerator:
    """Generator weights need no gradients while z is optimised; restored afterwards."""

    def __init__(self, G: Generator):
        self.G, self.flags = G, [p.requires_grad for p in G.parameters()]

    def __enter__(self):
        self.G.eval().requires_grad_(False)

    def __exit__(self, *exc):
        for p, flag in zip(self.G.parameters(), self.flags):
            p.requires_grad_(flag)


def project(G: Generator, target: torch.Tensor, *, known: torch.Tensor | None = None,
            features: FeatureLoss | None = None, steps: int = 300, restarts: int = 4,
            seed: int = 0, classes: list[int] | None = None, lr: float = 0.05,
            feature_weight: float = 0.1,
            on_step: Callable[[], None] | None = None) -> Projection:
    """Find the latent (and class) with which ``G`` best reproduces ``target``.

    ``target`` (1, C, R, R) in [-1, 1] at the generator's resolution; ``known``
    (1, 1, R, R), 1 where the target's pixel counts (default: everywhere); ``classes``:
    the classes to try for a conditional generator (default: all). ``on_step`` is called
    after each of the ``steps`` steps (progress bars). Deterministic for a ``seed`` on
    the CPU.
    """
    if G.image_conditioned or G.z_dim < 1:
        raise RestoreError(f"{G.who} is an image-to-image network without a latent space "
                           f"to project into")
    if steps < 1 or restarts < 1:
        raise RestoreError("projection needs at least one step and one restart")
    expected = (1, *G.output_shape)
    if tuple(target.shape) != expected:
        raise RestoreError(f"the target is {tuple(target.shape)}, the generator makes "
                           f"{expected}")
    device = next(G.parameters()).device
    target = target.to(device).float()
    known = torch.ones_like(target[:, :1]) if known is None else known.to(device).float()
    if float(known.sum()) < 1:
        raise RestoreError("no known pixel left to project from")
    if G.conditional:
        tried = list(range(G.num_classes)) if classes is None else list(classes)
        labels = torch.tensor(tried, device=device).repeat_interleave(restarts)
    else:
        labels = None
    count = len(labels) if labels is not None else restarts
    generator = torch.Generator().manual_seed(seed)
    z = clamp_norm(torch.randn(count, G.z_dim, generator=generator)).to(device)
    z.requires_grad_(True)
    optimizer = torch.optim.Adam([z], lr=lr)
    prune_at = steps // 4 if count > restarts else -1
    with _FrozenGenerator(G):
        for step in range(steps):
            for group in optimizer.param_groups:
                group["lr"] = _lr_at((step + 1) / steps, lr)
            losses = objective(G(z, labels), target, known, features, labels,
                               feature_weight=feature_weight)
            optimizer.zero_grad(set_to_none=True)
            losses.sum().backward()
            optimizer.step()
            with torch.no_grad():
                clamp_norm(z)
            if step + 1 == prune_at:  # keep the best `restarts` (class, start) pairs
                keep = losses.detach().argsort()[:restarts]
                z = z.detach()[keep].clone().requires_grad_(True)
                labels = labels[keep]
                optimizer = torch.optim.Adam([z], lr=lr)
            if on_step is not None:
                on_step()
        with torch.no_grad():
            images = G(z, labels).float()
            losses = objective(images, target, known, features, labels,
                               feature_weight=feature_weight)
    best = int(losses.argmin())
    image = images[best:best + 1]
    similarity = None
    if min(image.shape[-2:]) >= WINDOW:
        composite = known * target + (1 - known) * image
        similarity = float(ms_ssim(image, composite)[0])
    return Projection(z=z.detach()[best:best + 1].cpu(),
                      y=None if labels is None else int(labels[best]),
                      image=image.cpu(), loss=float(losses[best]),
                      psnr=psnr(image, target, known), ms_ssim=similarity,
                      candidates=count)


# -- latent files -------------------------------------------------------------------------

@dataclass
class Latent:
    """A latent read by :func:`load_latent`: z (1, z_dim), the class (or None) and what
    the file says about where it came from."""

    z: torch.Tensor
    y: int | None
    checkpoint: str
    generator: str
    meta: dict[str, Any]

    def labels(self, n: int) -> torch.Tensor | None:
        return None if self.y is None else torch.full((n,), self.y, dtype=torch.long)


def save_latent(path: str | os.PathLike, projection: Projection, *, checkpoint: str,
                generator: str, class_names: list[str] | None = None,
                **extra: Any) -> Path:
    """Write a projection's latent as a ``.pt`` file (atomically; plain tensors, numbers
    and strings, read back with ``torch.load(weights_only=True)``)."""
    y = projection.y
    names = list(class_names or [])
    data = {"kind": LATENT_KIND, "format": LATENT_FORMAT,
            "z": projection.z.detach().float().cpu().reshape(1, -1), "y": y,
            "class_name": (names[y] if names and y is not None and y < len(names) else None),
            "checkpoint": str(checkpoint), "generator": generator,
            "z_dim": int(projection.z.shape[-1]), "loss": float(projection.loss),
            "psnr": float(projection.psnr), "ms_ssim": projection.ms_ssim, **extra}
    return save_atomic(data, path)


def load_latent(path: str | os.PathLike, G: Generator) -> Latent:
    """Read a latent written by :func:`save_latent` and check that it fits ``G``: the
    same generator architecture (registered name), z size and conditioning."""
    path = Path(path)
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # not a torch file, damaged, pickled code
        raise RestoreError(f"cannot read latent {path}: not a latent file written by "
                           f"`artgan project` ({type(exc).__name__})") from None
    if not isinstance(data, dict) or data.get("kind") != LATENT_KIND:
        what = "a checkpoint" if isinstance(data, dict) and "generator" in data and \
            "config" in data else "not a latent"
        raise RestoreError(f"{path} is {what}: give the latent.pt that `artgan project` "
                           f"writes")
    if data.get("format", 0) > LATENT_FORMAT:
        raise RestoreError(f"{path} was written by a newer artgan; upgrade to read it")
    z = data.get("z")
    name = str(data.get("generator", "?"))
    if name != G.component_name:
        raise RestoreError(f"latent {path.name} was projected into a {name!r} generator, this "
                           f"checkpoint's is {G.component_name!r}: project the image into this "
                           f"checkpoint with `artgan project`")
    if not isinstance(z, torch.Tensor) or z.ndim != 2 or z.shape[0] != 1 or \
            not z.is_floating_point():
        raise RestoreError(f"latent {path}: 'z' is not a (1, z_dim) float tensor")
    if z.shape[1] != G.z_dim:
        raise RestoreError(f"latent {path.name} has z_dim {z.shape[1]}, this checkpoint's "
                           f"generator takes z_dim {G.z_dim}: it was projected into another "
                           f"model")
    y = data.get("y")
    if G.conditional and y is None:
        raise RestoreError(f"latent {path.name} comes from an unconditional model, this "
                           f"checkpoint's generator is conditional ({G.num_classes} classes)")
    if not G.conditional and y is not None:
        raise RestoreError(f"latent {path.name} comes from a conditional model (class {y}), "
                           f"this checkpoint's generator is unconditional")
    if y is not None and not 0 <= int(y) < G.num_classes:
        raise RestoreError(f"latent {path.name} has class {y}, this generator has "
                           f"{G.num_classes} classes")
    return Latent(z.float(), None if y is None else int(y), str(data.get("checkpoint", "")),
                  name, data)


def latent_note(latent: Latent, checkpoint: str | os.PathLike) -> str:
    """A note when a latent was projected into another checkpoint than ``checkpoint``
    (same architecture, other weights: it then shows another picture)."""
    try:
        same = Path(latent.checkpoint).resolve() == checkpoint_file(checkpoint).resolve()
    except ArtganError:
        same = False
    return "" if same or not latent.checkpoint else (
        f"note: the latent was projected into {latent.checkpoint}; with other weights it "
        f"shows another picture")


def latent_variations(z: torch.Tensor, n: int, spread: float, seed: int = 0) -> torch.Tensor:
    """``n`` latents around ``z`` (1, z_dim): the first is ``z`` itself, the others
    sqrt(1 - s^2) z + s e with e ~ N(0, I) from ``seed`` (s = ``spread`` in [0, 1]: 0 the
    same picture, 1 unrelated ones; the mix keeps the prior's scale)."""
    if not 0 <= spread <= 1:
        raise RestoreError(f"--spread must be between 0 and 1, got {spread}")
    noise = torch.randn(n, z.shape[1], generator=torch.Generator().manual_seed(seed))
    out = math.sqrt(1 - spread ** 2) * z.reshape(1, -1) + spread * noise
    out[0] = z.reshape(-1)
    return out


@torch.no_grad()
def generate(G: Generator, z: torch.Tensor, labels: torch.Tensor | None = None, *,
             batch_size: int = 64) -> torch.Tensor:
    """Images of ``G`` for latents ``z`` (N, z_dim) (and labels), on the CPU in [-1, 1]."""
    device = next(G.parameters()).device
    out = []
    for start in range(0, z.shape[0], batch_size):
        yb = None if labels is None else labels[start:start + batch_size].to(device)
        out.append(G(z[start:start + batch_size].to(device), yb).float().cpu())
    return torch.cat(out)
