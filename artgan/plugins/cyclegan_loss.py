"""``--loss cyclegan``: CycleGAN's objective (Zhu et al. 2017) and its image history.

Notation: A, B are real images of the two domains (A is the step's input image, the
``condition``; B the real batch), ``a2b``/``b2a`` the two generators, ``d_b``/``d_a`` the
discriminators of domain B and A. Adversarial terms are least squares (Mao et al. 2017).

The trainer gives one generator and one discriminator, each with one optimiser. The
generator phase's objective sums every term of both generators and the discriminator
phase's both discriminators' (Adam works per parameter, so one Adam over both networks'
parameters is two Adams with the same settings, as in the CycleGAN code).
"""

from __future__ import annotations

from typing import Any

import torch

from artgan.core.errors import ArtganError
from artgan.core.loss import Loss, OptimizerSettings
from artgan.core.view import DiscriminatorView


class CycleGANSetupError(ArtganError, ValueError):
    """The cyclegan loss was paired with networks or data it cannot train."""


class ImagePool:
    """A history of generated images (Shrivastava et al. 2017; CycleGAN's ``ImagePool``).

    :meth:`query` takes a batch of new images and returns a batch of the same shape.
    Until ``size`` images are stored, each new image is stored and returned. Once full,
    each new image is, with probability 0.5, swapped for a stored one chosen uniformly
    (the stored image is returned, the new one takes its place), else returned as it is.
    The coins come from torch's global CPU generator (seeded and checkpointed by artgan),
    two draws per image per query, so a resumed run draws the same ones.
    """

    def __init__(self, size: int = 50):
        self.size = int(size)
        self.count = 0
        self.images: torch.Tensor | None = None  # (size, C, H, W) once the first query came

    def query(self, images: torch.Tensor) -> torch.Tensor:
        """The images the discriminator should see instead of ``images`` (detached)."""
        images = images.detach()
        if self.size == 0:
            return images
        n = images.shape[0]
        coins, slots = torch.rand(n), torch.randint(self.size, (n,))  # global CPU generator
        self._match(images)
        out = images.clone()
        for i in range(n):
            if self.count < self.size:  # filling up: keep it, return it
                self.images[self.count] = images[i]
                self.count += 1
            elif coins[i] < 0.5:  # full: return a stored image, store the new one
                j = int(slots[i])
                out[i] = self.images[j]
                self.images[j] = images[i]
        return out

    def _match(self, images: torch.Tensor) -> None:
        """Allocate the store, or move it to the device and dtype of ``images``."""
        shape = (self.size, *images.shape[1:])
        if self.images is None or tuple(self.images.shape) != shape:
            stored = self.images[:self.count] if self.images is not None else None
            self.images = images.new_zeros(shape)
            if stored is not None and tuple(stored.shape[1:]) == shape[1:]:
                self.images[:self.count] = stored
            else:
                self.count = 0  # images of another size: start a new history
        elif self.images.device != images.device or self.images.dtype != images.dtype:
            self.images = self.images.to(images)

    def state_dict(self) -> dict[str, Any]:
        """``{"count": int, "images": (count, C, H, W)}``: tensors and numbers only."""
        stored = self.images[:self.count].clone() if self.images is not None else \
            torch.zeros(0)
        return {"count": self.count, "images": stored}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        count = int(state["count"])
        images = state["images"]
        if count > self.size or (count and images.shape[0] != count):
            raise ValueError(f"image pool state holds {images.shape[0]} images (count "
                             f"{count}); this pool keeps at most {self.size}")
        self.count = count
        self.images = None
        if count:
            self.images = images.new_zeros((self.size, *images.shape[1:]))
            self.images[:count] = images


def lsgan_d(D, real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor,
                                                                  torch.Tensor]:
    """CycleGAN's discriminator term and the mean scores on real and fake images."""
    real_scores, fake_scores = D(real), D(fake)
    # 1/2 (E[(D(x) - 1)^2] + E[D(G(.))^2])
    loss = 0.5 * ((real_scores - 1).square().mean() + fake_scores.square().mean())
    return loss, real_scores.detach().mean(), fake_scores.detach().mean()


def lsgan_g(D, fake: torch.Tensor) -> torch.Tensor:
    """E[(D(G(.)) - 1)^2] (CycleGAN's generator target: real)."""
    return (D(fake) - 1).square().mean()  # E[(D(G(.)) - 1)^2]


def translators(G) -> tuple[Any, Any]:
    """``(a2b, b2a)`` of a translation generator, or a clear error naming ``--gen``."""
    directions = getattr(G, "directions", ())
    if not (hasattr(G, "in_direction") and "a2b" in directions and "b2a" in directions):
        name = getattr(G, "component_name", type(G).__name__)
        raise CycleGANSetupError(
            f"--loss cyclegan trains two generators (a2b and b2a), but --gen {name} is not "
            f"a translation model with both directions: use --gen cyclegan")
    return G.in_direction("a2b"), G.in_direction("b2a")


class _Augmented(torch.nn.Module):
    """``critic(augment(x))``: a domain critic behind the trainer's augmentation."""

    def __init__(self, critic, augment):
        super().__init__()
        self.critic, self.augment = critic, augment

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.critic(self.augment(x))


def domain_critics(D) -> tuple[Any, Any]:
    """``(d_a, d_b)`` of a two-domain discriminator, or a clear error naming ``--disc``.

    Under the trainer ``D`` is a :class:`~artgan.core.view.DiscriminatorView`, whose
    attributes fall through to the raw discriminator: ``D.d_a`` would skip ``--augment``.
    So ``d_b`` is the view itself (the composite's forward judges domain B: augmented,
    and observed by adaptive augmentation) and ``d_a`` the raw ``d_a`` behind the view's
    augmentation; every image either critic sees is augmented, as for any other loss.
    """
    if not (hasattr(D, "d_a") and hasattr(D, "d_b")):
        name = getattr(D, "component_name", type(D).__name__)
        raise CycleGANSetupError(
            f"--loss cyclegan needs a discriminator per domain (d_a and d_b), but --disc "
            f"{name} has one: use --disc cyclegan")
    if isinstance(D, DiscriminatorView):
        d_a = D.d_a if D.augment is None else _Augmented(D.d_a, D.augment)
        return d_a, D
    return D.d_a, D.d_b


def _domain_a(condition: torch.Tensor | None) -> torch.Tensor:
    if condition is None:
        raise CycleGANSetupError("--loss cyclegan needs the images of domain A with each "
                                 "batch: train on --data unpaired:folder:A,folder:B")
    return condition


class CycleGANLoss(Loss):
    """CycleGAN: least-squares GAN both ways + cycle consistency + identity.

    Generator phase (``fake`` = a2b(A), with gradients)::

        (d_b(a2b(A)) - 1)^2 + (d_a(b2a(B)) - 1)^2
          + lambda (|b2a(a2b(A)) - A|_1 + |a2b(b2a(B)) - B|_1)
          + identity * lambda (|a2b(B) - B|_1 + |b2a(A) - A|_1)

    Discriminator phase: each discriminator's 1/2 ((D(real) - 1)^2 + D(fake)^2), the
    fakes drawn from that domain's :class:`ImagePool`. b2a(B) is computed again here
    (without gradients), because the trainer runs the discriminator phase first and only
    hands it a2b(A).

    The pools are loss state (:meth:`state_dict`), saved in checkpoints so that a resumed
    run continues identically. Logged: ``d/real_b``, ``d/fake_b``, ``d/real_a``,
    ``d/fake_a`` (mean scores), ``g/adv_b``, ``g/adv_a``, and the unweighted L1 terms
    ``g/cycle_a``, ``g/cycle_b``, ``g/idt_a``, ``g/idt_b``.
    """

    optimizer = OptimizerSettings("adam", lr=2e-4, betas=(0.5, 0.999), decay_start=0.5)

    def __init__(self, options):
        self.cycle = float(options.cycle)
        self.identity = float(options.identity)
        self.pool_b = ImagePool(options.pool_size)  # fakes of domain B: a2b(A), for d_b
        self.pool_a = ImagePool(options.pool_size)  # fakes of domain A: b2a(B), for d_a

    @staticmethod
    def check_networks(G, D) -> None:
        """Raise :class:`CycleGANSetupError` unless G translates both ways and D has a
        critic per domain (for a check before training starts)."""
        translators(G)
        domain_critics(D)

    def discriminator_loss(self, G, D, real, fake, y=None, *, condition=None):
        real_a, real_b = _domain_a(condition), real
        _, b2a = translators(G)
        d_a, d_b = domain_critics(D)
        with torch.no_grad():
            fake_a = b2a(real_b)
        loss_b, real_b_score, fake_b_score = lsgan_d(d_b, real_b, self.pool_b.query(fake))
        loss_a, real_a_score, fake_a_score = lsgan_d(d_a, real_a, self.pool_a.query(fake_a))
        return {"loss": loss_b + loss_a, "real_b": real_b_score, "fake_b": fake_b_score,
                "real_a": real_a_score, "fake_a": fake_a_score}

    def generator_loss(self, G, D, real, fake, y=None, *, condition=None):
        real_a, real_b, fake_b = _domain_a(condition), real, fake
        a2b, b2a = translators(G)
        d_a, d_b = domain_critics(D)
        fake_a = b2a(real_b)
        adv_b = lsgan_g(d_b, fake_b)  # (d_b(a2b(A)) - 1)^2
        adv_a = lsgan_g(d_a, fake_a)  # (d_a(b2a(B)) - 1)^2
        cycle_a = (b2a(fake_b) - real_a).abs().mean()  # |b2a(a2b(A)) - A|_1
        cycle_b = (a2b(fake_a) - real_b).abs().mean()  # |a2b(b2a(B)) - B|_1
        loss = adv_b + adv_a + self.cycle * (cycle_a + cycle_b)
        stats = {"adv_b": adv_b.detach(), "adv_a": adv_a.detach(),
                 "cycle_a": cycle_a.detach(), "cycle_b": cycle_b.detach()}
        if self.identity > 0:
            idt_b = (a2b(real_b) - real_b).abs().mean()  # |a2b(B) - B|_1
            idt_a = (b2a(real_a) - real_a).abs().mean()  # |b2a(A) - A|_1
            loss = loss + self.identity * self.cycle * (idt_a + idt_b)
            stats.update(idt_a=idt_a.detach(), idt_b=idt_b.detach())
        return {"loss": loss, **stats}

    def state_dict(self) -> dict[str, Any]:
        """Both image histories (tensors and numbers only: loads with weights_only)."""
        return {"pool_a": self.pool_a.state_dict(), "pool_b": self.pool_b.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.pool_a.load_state_dict(state["pool_a"])
        self.pool_b.load_state_dict(state["pool_b"])
