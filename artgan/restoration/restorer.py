"""Restore a damaged picture with a trained image-to-image network (``--gen unet``
trained on ``--data damage:SPEC``).

The network's input follows the damage source's contract
(:mod:`artgan.plugins.damage_impl`): the damaged image (C channels in [-1, 1]) and one
mask channel, +1 where a pixel is known to be damaged (a hole, a stroke, a crack, a
scratch) and -1 elsewhere. It runs fully convolutionally at the picture's own size: the
picture is padded to the network's ``size_multiple`` and, when larger than ``tile``,
processed in overlapping tiles that are blended (:func:`artgan.core.tiles.apply_tiled`).

What is kept of the input (``keep_unmasked``): with a mask, the pixels outside it are
known to be intact apart from global degradations, so by default they are returned
exactly as given and only the masked pixels come from the network (the inpainting rule:
a restorer never repaints what is known). Without a mask nothing is known to be damaged,
and the network's output is the point (it undoes blur, noise, JPEG artefacts, fading and
colour casts everywhere), so the whole output is returned. ``keep_unmasked=False`` with
a mask returns the network's output everywhere too: holes filled *and* global damage
undone.
"""

from __future__ import annotations

import torch

from artgan.core.networks import Generator
from artgan.core.tiles import apply_tiled


def _mask_batch(mask: torch.Tensor | None, n: int, h: int, w: int) -> torch.Tensor:
    """The mask as (N, 1, H, W) bool on the CPU, True where damaged."""
    if mask is None:
        return torch.zeros(n, 1, h, w, dtype=torch.bool)
    m = torch.as_tensor(mask)
    while m.ndim < 4:
        m = m[None]
    if m.shape[1] != 1 or m.shape[2:] != (h, w) or m.shape[0] not in (1, n):
        raise ValueError(f"the mask must be (H, W), (1, H, W) or (N, 1, H, W) for an image "
                         f"of {h}x{w}; got {tuple(torch.as_tensor(mask).shape)}")
    m = m if m.dtype == torch.bool else m > 0
    return m.expand(n, 1, h, w).cpu()


def restore_with_network(G: Generator, image: torch.Tensor, mask: torch.Tensor | None = None,
                         *, tile: int = 512, overlap: int = 32,
                         keep_unmasked: bool | None = None) -> torch.Tensor:
    """The restored ``image`` ((C, H, W) or (N, C, H, W), float in [-1, 1], any size).

    ``mask`` marks the pixels known to be damaged: (H, W), (1, H, W) or (N, 1, H, W),
    bool or numbers (> 0 is damaged, so {0, 1} and the condition's {-1, +1} both work);
    None: none known. ``G`` is an image-to-image generator whose input
    is the image and the mask (``condition_channels = C + 1``); it runs in eval mode
    under ``torch.no_grad()`` on its own device (its mode is restored afterwards), on
    tiles of at most ``tile`` pixels sharing ``overlap`` pixels when the image is
    larger. ``keep_unmasked`` (default: True when a mask is given) returns the pixels
    outside the mask exactly as given; see the module docstring. The result has the
    input's shape, dtype and device.
    """
    single = image.ndim == 3
    x = image[None] if single else image
    if x.ndim != 4 or not x.is_floating_point():
        raise ValueError(f"expected a float image (C, H, W) or (N, C, H, W) in [-1, 1]; got "
                         f"{tuple(image.shape)} {image.dtype}")
    n, c, h, w = x.shape
    if not G.image_conditioned or G.condition_channels != c + 1:
        raise ValueError(f"{G.who} takes {G.condition_channels} input channels; a restorer "
                         f"for {c}-channel images takes {c + 1} (the image and its mask): "
                         f"train it with --gen unet --data damage:SPEC")
    damaged = _mask_batch(mask, n, h, w)
    if keep_unmasked is None:
        keep_unmasked = mask is not None
    param = next(G.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    condition = torch.cat([x.float().cpu(), damaged.float() * 2 - 1], 1).to(device)

    def run(piece: torch.Tensor) -> torch.Tensor:
        return G(G.sample_z(piece.shape[0], device=piece.device), None, piece)

    was_training = G.training
    G.eval()
    try:
        with torch.no_grad():
            out = apply_tiled(run, condition, tile=tile, overlap=overlap,
                              multiple=getattr(G, "size_multiple", 1))
    finally:
        G.train(was_training)
    out = out.clamp(-1, 1).to(device=x.device, dtype=x.dtype)
    if keep_unmasked:
        out = torch.where(damaged.to(x.device), out, x)
    return out[0] if single else out
