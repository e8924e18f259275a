"""Bring existing images into a trained model: projection and masked restoration.

- :func:`project` finds the latent (and class) with which a generator best reproduces
  an image; :func:`save_latent` / :func:`load_latent` keep it for ``artgan walk --from``
  and ``artgan sample --latent``.
- :func:`restore_with_generator` fills the damaged pixels of an image of any size with
  a trained generator: each hole is restored in a crop at the model's resolution by
  projecting the crop's undamaged pixels, then blended in with a feathered seam.
- :mod:`.masks` reads and checks masks, finds simple damage (``--mask auto``) and blends.

Torch-free at import time: the names above load on first use. User errors are
:class:`RestoreError` (an :class:`~artgan.core.errors.ArtganError`, one line in the CLI).
"""

from importlib import import_module

from ..core.errors import ArtganError


class RestoreError(ArtganError, ValueError):
    """An image, mask, latent or model cannot be used for projection or restoration."""


_EXPORTS = {
    "project": "artgan.restoration.projection",
    "Projection": "artgan.restoration.projection",
    "FeatureLoss": "artgan.restoration.projection",
    "discriminator_features": "artgan.restoration.projection",
    "save_latent": "artgan.restoration.projection",
    "load_latent": "artgan.restoration.projection",
    "latent_variations": "artgan.restoration.projection",
    "restore": "artgan.restoration.inpaint",
    "restore_with_generator": "artgan.restoration.inpaint",
    "restore_with_restorer": "artgan.restoration.inpaint",
    "plan_crops": "artgan.restoration.inpaint",
    "read_image": "artgan.restoration.images",
    "load_mask": "artgan.restoration.masks",
    "auto_mask": "artgan.restoration.masks",
    "feather_weights": "artgan.restoration.masks",
    "blend": "artgan.restoration.masks",
}

__all__ = ["RestoreError", *sorted(_EXPORTS)]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'artgan.restoration' has no attribute {name!r}")
