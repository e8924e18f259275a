"""Generator and Discriminator interfaces, with checks at their boundaries.

Subclasses implement ``forward``; calling the module goes through ``__call__`` here, which
checks inputs and outputs and names the component (and the package that provides it)
in any error, so a plugin's bug reads "generator 'pixelnoise' from package
artgan-pixelnoise 0.1 failed in forward: ..." instead of a traceback deep in the trainer.

Three kinds of conditioning, each optional:

- labels ``y`` (N,) int64, for class-conditional networks (``num_classes`` > 0);
- an input image ``condition`` (N, condition_channels, H, W) in [-1, 1], for
  image-to-image networks (``condition_channels`` > 0): a restorer gets the damaged
  image and its mask, a translator the photo to restyle. Such generators are fully
  convolutional: the output has the condition's height and width;
- the latent ``z`` (N, z_dim); image-to-image generators may have ``z_dim = 0``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .errors import ArtganError, guarded


class ComponentShapeError(ArtganError, ValueError):
    """A network received or produced a tensor of the wrong shape or dtype."""


class _Checked(nn.Module):
    kind = "component"
    #: The image sizes the network supports, smallest first (``None``: any size). artgan
    #: checks ``--resolution`` against it before loading any data, and contract tests
    #: build the network at its smallest size.
    resolutions: tuple[int, ...] | None = None

    #: Whether the network can make or judge non-square images (``--aspect``); such a
    #: network's constructor accepts ``width`` (artgan passes it only when it differs
    #: from ``resolution``, the height). See :meth:`shape_problem`.
    non_square: bool = False
    #: On the CPU artgan stores the network channels-last (oneDNN's convolutions prefer
    #: it, bench/README.md) unless this says otherwise: False, or the ``--precision``
    #: values to do it for (FastGAN: ``("fp32",)``).
    cpu_channels_last: bool | tuple[str, ...] = True

    def __init__(self, *, resolution: int, channels: int, num_classes: int = 0,
                 condition_channels: int = 0, width: int | None = None):
        super().__init__()
        self.resolution = int(resolution)
        #: Image width in pixels; ``resolution`` is the height (square: the same).
        self.width = self.resolution if width is None else int(width)
        self.channels = int(channels)
        self.num_classes = int(num_classes)
        self.condition_channels = int(condition_channels)
        self.component_name = type(self).__name__
        #: Who provides the component ("built into artgan", "package NAME VERSION"),
        #: stamped by the registry; used in messages.
        self.component_source = ""

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(channels, height, width) of the images."""
        return (self.channels, self.resolution, self.width)

    @classmethod
    def shape_problem(cls, resolution: int, width: int) -> str | None:
        """Why the network cannot work on images ``resolution`` px high and ``width`` px
        wide, or None. Checked before any data loads. Default: square images only,
        unless :attr:`non_square`."""
        if width != resolution and not cls.non_square:
            return "makes and judges square images only"
        return None

    @property
    def conditional(self) -> bool:
        """Class-conditional: takes labels."""
        return self.num_classes > 0

    @property
    def image_conditioned(self) -> bool:
        """Image-to-image: takes an input image (``condition``)."""
        return self.condition_channels > 0

    @property
    def who(self) -> str:
        """``generator 'dcgan' (built into artgan)``, for messages."""
        source = f" ({self.component_source})" if self.component_source else ""
        return f"{self.kind} {self.component_name!r}{source}"

    def _fail(self, message: str) -> None:
        raise ComponentShapeError(f"{self.who}: {message}")

    def _check_labels(self, y: torch.Tensor | None, n: int) -> None:
        if y is None:
            if self.conditional:
                self._fail(f"is conditional ({self.num_classes} classes) but got no labels")
            return
        if y.shape != (n,) or y.dtype not in (torch.int64, torch.int32):
            self._fail(f"expected labels of shape ({n},) and an integer dtype, "
                       f"got {tuple(y.shape)} {y.dtype}")

    def _check_condition(self, condition: torch.Tensor | None, n: int) -> None:
        if not self.image_conditioned:
            if condition is not None:
                self._fail("takes no input image, but was given one (condition)")
            return
        if condition is None or condition.ndim != 4 or condition.shape[0] != n or \
                condition.shape[1] != self.condition_channels:
            got = None if condition is None else tuple(condition.shape)
            self._fail(f"expected an input image (condition) of shape ({n}, "
                       f"{self.condition_channels}, H, W), got {got}")

    def _forward(self, *args: torch.Tensor | None) -> Any:
        """nn.Module's call of ``forward``, guarded; the condition is passed only to
        image-conditioned networks (older plugins' ``forward`` takes two arguments)."""
        if not self.image_conditioned:
            args = args[:2]
        return guarded(self.who, "forward", super().__call__, *args)


class Generator(_Checked):
    """Maps latent vectors ``z`` of shape (N, z_dim) (and labels y, and an input image)
    to images in [-1, 1].

    Subclasses call ``super().__init__(z_dim=..., resolution=..., channels=...,
    num_classes=..., condition_channels=...)`` and implement ``forward(z, y=None)``
    (image-to-image generators: ``forward(z, y=None, condition=None)``) returning
    (N, C, H, W): H = ``resolution``, W = ``width`` (the same unless the generator sets
    ``non_square`` and was built with a ``width``), or the condition's height and width.

    Randomness of its own (noise inputs, dropout) should come from torch's global
    generator: artgan seeds it, checkpoints it and draws ``z`` from it, so samples and
    resumed runs are reproducible. Samples, grids and metrics run the generator in
    ``eval()`` mode under ``torch.no_grad()``.
    """

    kind = "generator"

    def __init__(self, *, z_dim: int, resolution: int, channels: int, num_classes: int = 0,
                 condition_channels: int = 0, width: int | None = None):
        super().__init__(resolution=resolution, channels=channels, num_classes=num_classes,
                         condition_channels=condition_channels, width=width)
        self.z_dim = int(z_dim)

    @property
    def output_shape(self) -> tuple[int, int, int]:
        return self.image_shape

    #: True when :meth:`mix` is implemented (style mixing, ``artgan sample --mix``).
    can_mix: bool = False

    #: True for a restorer (image + mask in) whose output equals its input outside the
    #: mask, exactly: ``artgan restore`` then needs a mask and keeps every unmasked
    #: pixel instead of blending the repaired tile in.
    keeps_unmasked: bool = False

    @classmethod
    def condition_channels_for(cls, channels: int) -> int:
        """The input-image channels this generator expects for ``channels``-channel
        images: 0 for generators that start from noise (the default); a restorer that
        takes the image and a mask says ``channels + 1``. Checks and tools use it to
        build the generator without data."""
        return 0

    def mix(self, z_content: torch.Tensor, z_style: torch.Tensor,
            y: torch.Tensor | None = None) -> torch.Tensor:
        """Images with the layout of ``z_content`` and the style of ``z_style`` (style
        mixing; FastGAN swaps the skip-layer excitation inputs). Set ``can_mix = True``
        when implemented; called in eval mode like ``forward``."""
        raise NotImplementedError(f"{self.who} does not support style mixing")

    def style_mix(self, z_content: torch.Tensor, z_style: torch.Tensor,
                  y: torch.Tensor | None = None) -> torch.Tensor:
        """:meth:`mix` with the checks of ``__call__``."""
        for z in (z_content, z_style):
            if z.ndim != 2 or z.shape != z_content.shape or z.shape[1] != self.z_dim:
                self._fail(f"mix needs two z of the same shape (N, {self.z_dim}), got "
                           f"{tuple(z_content.shape)} and {tuple(z_style.shape)}")
        self._check_labels(y, z_content.shape[0])
        out = guarded(self.who, "mix", self.mix, z_content, z_style, y)
        expected = (z_content.shape[0], *self.output_shape)
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != expected:
            self._fail(f"mix returned {getattr(out, 'shape', type(out).__name__)}, "
                       f"expected {expected}")
        return out

    def preview_rows(self, z: torch.Tensor, y: torch.Tensor | None = None,
                     condition: torch.Tensor | None = None) -> list[torch.Tensor]:
        """The rows of the sample grid written during training, each (N, C, H, W).

        Default: the generated images; an image-to-image generator shows the input
        image's first ``channels`` channels above its output. A translation model may
        add a reconstruction row (CycleGAN: source, translated, translated back).
        """
        out = self(z, y, condition)
        if condition is None:
            return [out]
        return [condition[:, :self.channels], out]

    def sample_z(self, n: int, *, device: torch.device | str | None = None,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw ``n`` latent vectors from N(0, I): (n, z_dim), (n, 0) without a latent."""
        return torch.randn(n, self.z_dim, device=device, generator=generator)

    def __call__(self, z: torch.Tensor, y: torch.Tensor | None = None,
                 condition: torch.Tensor | None = None) -> torch.Tensor:
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            self._fail(f"expected z of shape (N, {self.z_dim}), got {tuple(z.shape)}")
        n = z.shape[0]
        self._check_labels(y, n)
        self._check_condition(condition, n)
        out = self._forward(z, y, condition)
        size = tuple(condition.shape[2:]) if condition is not None else \
            (self.resolution, self.width)
        expected = (n, self.channels, *size)
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != expected:
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            self._fail(f"returned {shape}, expected {expected}")
        if not out.is_floating_point():
            self._fail(f"returned dtype {out.dtype}, expected a floating-point tensor")
        return out


class Discriminator(_Checked):
    """Maps images (N, C, H, W) (and labels y, and an input image) to raw scores (logits).

    ``forward(x, y=None)`` (image-conditioned: ``forward(x, y=None, condition=None)``)
    returns (N,) or (N, 1); callers receive (N,). A discriminator that sets
    ``patch_scores = True`` returns a map of scores instead, (N, ...) such as PatchGAN's
    (N, 1, h, w), and callers receive (N, P). Losses average over all scores, so a
    patch discriminator works with every built-in loss.

    An extra objective on the real images (a self-supervised discriminator's
    reconstruction loss, say) goes into :meth:`forward_real`.
    """

    kind = "discriminator"
    #: True: ``forward`` returns a map of scores per image (PatchGAN), see above.
    patch_scores: bool = False

    def _check_input(self, x: torch.Tensor, condition: torch.Tensor | None) -> None:
        if x.ndim != 4 or tuple(x.shape[1:]) != self.image_shape:
            self._fail(f"expected images of shape (N, {', '.join(map(str, self.image_shape))}), "
                       f"got {tuple(x.shape)}")
        self._check_condition(condition, x.shape[0])
        if condition is not None and condition.shape[2:] != x.shape[2:]:
            self._fail(f"the input image (condition) is {tuple(condition.shape[2:])}, the "
                       f"images {tuple(x.shape[2:])}: they must be the same size")

    def _scores(self, out: Any, n: int) -> torch.Tensor:
        single = isinstance(out, torch.Tensor) and tuple(out.shape) in ((n,), (n, 1))
        patches = isinstance(out, torch.Tensor) and out.ndim >= 2 and out.shape[0] == n
        if self.patch_scores and patches:
            return out.reshape(n, -1)
        if not single:
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            expected = f"patch scores ({n}, ...)" if self.patch_scores else f"({n},) or ({n}, 1)"
            self._fail(f"returned {shape}, expected {expected}")
        return out.reshape(n)

    def __call__(self, x: torch.Tensor, y: torch.Tensor | None = None,
                 condition: torch.Tensor | None = None) -> torch.Tensor:
        self._check_input(x, condition)
        self._check_labels(y, x.shape[0])
        return self._scores(self._forward(x, y, condition), x.shape[0])

    def forward_real(self, x: torch.Tensor, y: torch.Tensor | None = None,
                     condition: torch.Tensor | None = None
                     ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Scores of the real images of the discriminator step, and an extra objective.

        Called instead of ``forward`` for exactly those images (after augmentation, when
        augmentation is on), once per step. Return ``(scores, extra)``: ``extra`` maps
        names to scalar tensors; ``extra["loss"]``, if present, is added to the
        discriminator's loss in the same backward pass, and every entry is logged as
        ``d/<name>`` (``d/aux_loss`` for ``"loss"``). Default: ``forward`` and no extra.
        Computing both in one pass saves a second forward over the real batch.
        """
        args = (x, y, condition) if self.image_conditioned else (x, y)
        return nn.Module.__call__(self, *args), {}  # hooks and torch.compile apply

    def score_real(self, x: torch.Tensor, y: torch.Tensor | None = None,
                   condition: torch.Tensor | None = None
                   ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """:meth:`forward_real` with the checks of ``__call__``: (scores, extra)."""
        self._check_input(x, condition)
        self._check_labels(y, x.shape[0])
        out = guarded(self.who, "forward_real", self.forward_real, x, y, condition)
        if not (isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], dict)):
            self._fail("forward_real must return (scores, extra dict)")
        scores, extra = out
        for key, value in extra.items():
            if not isinstance(value, torch.Tensor) or value.ndim != 0:
                self._fail(f"forward_real's extra[{key!r}] is not a scalar tensor")
        return self._scores(scores, x.shape[0]), extra
