"""Synthetic damage, one kind per function, on one image (C, H, W) in [-1, 1].

Every function is ``kind(image, gen, strength) -> (damaged, mask)``: ``gen`` is the
``torch.Generator`` all its random draws come from (so the damage is a pure function of
the generator's seed), ``strength`` the kind's option (see
:class:`artgan.plugins.damage.DamageOptions`), ``damaged`` a new (C, H, W) tensor in
[-1, 1] and ``mask`` a (1, H, W) bool tensor, True where the kind damaged the pixel:

- local kinds (holes, strokes, cracks, scratches) change pixels only where they set the
  mask;
- global kinds (blur, noise, jpeg, fading, cast) may change any pixel and leave the mask
  empty: the restorer is not told where they are.

:class:`DamagePlan` combines them per image, as ``--data damage:SPEC`` does.
"""

from __future__ import annotations

import difflib
import io
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from artgan.core.data import DataSourceError
from artgan.plugins.damage import KINDS

Damage = Callable[[torch.Tensor, torch.Generator, float], tuple[torch.Tensor, torch.Tensor]]
_LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601
_PALE = (0.92, 0.88, 0.76)  # the pale, yellowed tone old paint fades towards, in [0, 1]


def _uniform(gen: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=gen))


def _randint(gen: torch.Generator, low: int, high: int) -> int:
    """An integer in [low, high], both included."""
    return int(torch.randint(low, high + 1, (), generator=gen))


def _no_mask(image: torch.Tensor) -> torch.Tensor:
    return torch.zeros(1, *image.shape[1:], dtype=torch.bool)


def _luma(image: torch.Tensor) -> torch.Tensor:
    """(1, H, W) brightness of a (C, H, W) image (the image itself when C is 1)."""
    if image.shape[0] != 3:
        return image.mean(0, keepdim=True)
    return torch.einsum("c,chw->hw", image.new_tensor(_LUMA), image)[None]


def segments_mask(height: int, width: int, segments: list[tuple[float, float, float, float]],
                  radius: torch.Tensor | list[float]) -> torch.Tensor:
    """(H, W) bool: pixel centres within ``radius[s]`` pixels of segment s, each
    ``(x0, y0, x1, y1)`` in pixels (round-capped thick lines, as a brush draws them).
    Each segment is measured only over the pixels of its bounding box."""
    mask = torch.zeros(height, width, dtype=torch.bool)
    radii = torch.as_tensor(radius, dtype=torch.float32).expand(len(segments)).tolist()
    for (x0, y0, x1, y1), r in zip(segments, radii):
        left, right = max(0, math.floor(min(x0, x1) - r)), min(width, math.ceil(max(x0, x1) + r))
        top, bottom = max(0, math.floor(min(y0, y1) - r)), min(height, math.ceil(max(y0, y1) + r))
        if left >= right or top >= bottom:
            continue
        px = torch.arange(left, right, dtype=torch.float32) + 0.5 - x0  # (w,) p - a
        py = torch.arange(top, bottom, dtype=torch.float32)[:, None] + 0.5 - y0  # (h, 1)
        dx, dy = x1 - x0, y1 - y0
        # t = clamp(<p - a, b - a> / |b - a|^2, 0, 1): the closest point of the segment
        t = ((px * dx + py * dy) / max(dx * dx + dy * dy, 1e-8)).clamp(0, 1)
        inside = (px - t * dx).square() + (py - t * dy).square() <= r * r
        mask[top:bottom, left:right] |= inside
    return mask


def _paint(image: torch.Tensor, mask: torch.Tensor, colour: torch.Tensor,
           amount: float = 1.0) -> torch.Tensor:
    """``image`` with the pixels of ``mask`` (H, W) moved ``amount`` of the way to
    ``colour`` (C,); the others untouched."""
    target = image.lerp(colour.view(-1, 1, 1).to(image).expand_as(image), amount)
    return torch.where(mask, target, image)


def _line_radius(image: torch.Tensor) -> float:
    """Half-width of a crack or scratch: about one pixel wide up to 256 px, then wider."""
    return 0.6 * max(1.0, min(image.shape[1:]) / 256)


# -- local kinds ---------------------------------------------------------------------------

def holes(image: torch.Tensor, gen: torch.Generator, size: float = 0.4):
    """1-3 rectangular holes (LaMa's box masks), each filled with a flat random colour
    (the ground showing where the paint is lost); sides from ``size``/4 to ``size`` of
    the image's."""
    _, h, w = image.shape
    mask = torch.zeros(h, w, dtype=torch.bool)
    out = image.clone()
    for _ in range(_randint(gen, 1, 3)):
        hh = max(1, round(_uniform(gen, size / 4, size) * h))
        ww = max(1, round(_uniform(gen, size / 4, size) * w))
        top, left = _randint(gen, 0, h - hh), _randint(gen, 0, w - ww)
        hole = torch.zeros(h, w, dtype=torch.bool)
        hole[top:top + hh, left:left + ww] = True
        out = _paint(out, hole, torch.rand(image.shape[0], generator=gen) * 2 - 1)
        mask |= hole
    return out, mask[None]


def strokes(image: torch.Tensor, gen: torch.Generator, width: float = 0.1):
    """1-4 free-form brush strokes (DeepFill v2's mask generator): polylines of 4-10
    segments turning by up to 72 degrees at each vertex, round-capped, each of one brush
    width up to ``width`` of the image side and one flat random colour."""
    _, h, w = image.shape
    side = min(h, w)
    mask = torch.zeros(h, w, dtype=torch.bool)
    out = image.clone()
    for _ in range(_randint(gen, 1, 4)):
        radius = max(0.5, _uniform(gen, 0.3, 1.0) * width * side / 2)
        x, y = _uniform(gen, 0, w), _uniform(gen, 0, h)
        angle = _uniform(gen, 0, 2 * math.pi)
        segments = []
        for _ in range(_randint(gen, 4, 10)):
            angle += _uniform(gen, -0.4 * math.pi, 0.4 * math.pi)
            length = _uniform(gen, 0.04, 0.2) * side
            nx = min(max(x + length * math.cos(angle), 0.0), float(w))
            ny = min(max(y + length * math.sin(angle), 0.0), float(h))
            segments.append((x, y, nx, ny))
            x, y = nx, ny
        stroke = segments_mask(h, w, segments, [radius])
        out = _paint(out, stroke, torch.rand(image.shape[0], generator=gen) * 2 - 1)
        mask |= stroke
    return out, mask[None]


def _crack_segments(gen: torch.Generator, h: int, w: int) -> list:
    """Segments of 1-3 branching random walks (craquelure), at most 400."""
    step = max(1.0, min(h, w) / 40)
    walks = [(_uniform(gen, 0, w), _uniform(gen, 0, h), _uniform(gen, 0, 2 * math.pi),
              _randint(gen, 8, 25)) for _ in range(_randint(gen, 1, 3))]
    segments = []
    while walks and len(segments) < 400:
        x, y, angle, steps = walks.pop()
        for left in range(steps, 0, -1):
            angle += _uniform(gen, -0.5, 0.5)
            nx, ny = x + step * math.cos(angle), y + step * math.sin(angle)
            segments.append((x, y, nx, ny))
            x, y = nx, ny
            if not (0 <= x <= w and 0 <= y <= h):
                break
            if left > 3 and float(torch.rand((), generator=gen)) < 0.12:  # a branch
                turn = _uniform(gen, 0.5, 1.2) * (1 if float(torch.rand((), generator=gen))
                                                  < 0.5 else -1)
                walks.append((x, y, angle + turn, left // 2))
    return segments


def cracks(image: torch.Tensor, gen: torch.Generator, darkness: float = 0.8):
    """Thin branching dark lines (craquelure): pixels of the cracks move between
    ``darkness``/2 and ``darkness`` of the way to black."""
    _, h, w = image.shape
    mask = segments_mask(h, w, _crack_segments(gen, h, w), [_line_radius(image)])
    amount = _uniform(gen, darkness / 2, darkness)
    return _paint(image, mask, -torch.ones(image.shape[0]), amount), mask[None]


def scratches(image: torch.Tensor, gen: torch.Generator, brightness: float = 0.8):
    """1-4 long thin light lines, nearly straight: pixels move between ``brightness``/2
    and ``brightness`` of the way to white."""
    _, h, w = image.shape
    side = min(h, w)
    segments = []
    for _ in range(_randint(gen, 1, 4)):
        x, y = _uniform(gen, 0, w), _uniform(gen, 0, h)
        angle, length = _uniform(gen, 0, 2 * math.pi), _uniform(gen, 0.3, 1.0) * side
        for _ in range(4):
            angle += _uniform(gen, -0.1, 0.1)
            nx, ny = x + length / 4 * math.cos(angle), y + length / 4 * math.sin(angle)
            segments.append((x, y, nx, ny))
            x, y = nx, ny
    mask = segments_mask(h, w, segments, [_line_radius(image)])
    amount = _uniform(gen, brightness / 2, brightness)
    return _paint(image, mask, torch.ones(image.shape[0]), amount), mask[None]


# -- global kinds --------------------------------------------------------------------------

def blur(image: torch.Tensor, gen: torch.Generator, sigma: float = 1.5):
    """Gaussian blur with a sigma (pixels) drawn up to ``sigma``; reflected borders."""
    s = _uniform(gen, min(0.3, sigma), sigma)
    radius = min(math.ceil(3 * s), min(image.shape[1:]) - 1)
    if radius < 1:
        return image.clone(), _no_mask(image)
    taps = torch.arange(-radius, radius + 1, dtype=image.dtype)
    kernel = torch.exp(-taps.square() / (2 * s * s))
    kernel = kernel / kernel.sum()  # exp(-t^2 / 2 s^2), normalised: a convex combination
    c = image.shape[0]
    x = F.pad(image[None], (radius,) * 4, mode="reflect")
    x = F.conv2d(x, kernel.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    x = F.conv2d(x, kernel.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)
    return x[0].clamp(-1, 1), _no_mask(image)


def noise(image: torch.Tensor, gen: torch.Generator, std: float = 0.1):
    """Additive Gaussian noise, standard deviation drawn from ``std``/4 to ``std``."""
    s = _uniform(gen, std / 4, std)
    grain = torch.randn(image.shape, generator=gen, dtype=image.dtype) * s
    return (image + grain).clamp(-1, 1), _no_mask(image)


def jpeg(image: torch.Tensor, gen: torch.Generator, quality: float = 10):
    """JPEG artefacts: encoded and decoded by Pillow at a quality from ``quality`` to 50."""
    low = int(quality)
    q = _randint(gen, low, max(low, 50))
    pixels = ((image + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
    array = pixels.permute(1, 2, 0).numpy()
    picture = Image.fromarray(array[..., 0] if image.shape[0] == 1 else array)
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=q)
    decoded = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert(picture.mode))
    out = torch.from_numpy(decoded.copy()).to(image.dtype).div(127.5).sub(1)
    return out.reshape(array.shape).permute(2, 0, 1).contiguous(), _no_mask(image)


def fading(image: torch.Tensor, gen: torch.Generator, amount: float = 0.6):
    """Faded paint: saturation and contrast lowered towards a pale tone by ``a``, drawn
    from ``amount``/3 to ``amount``: x' = lerp(lerp(x, luma(x), a), tone, a)."""
    a = _uniform(gen, amount / 3, amount)
    tone = torch.tensor(_PALE) + (torch.rand(3, generator=gen) - 0.5) * 0.08
    tone = tone * 2 - 1
    if image.shape[0] != 3:
        tone = _luma(tone.view(3, 1, 1)).view(1).expand(image.shape[0])
    grey = image.lerp(_luma(image).expand_as(image), a)  # saturation * (1 - a)
    out = grey.lerp(tone.view(-1, 1, 1).to(image).expand_as(image), a)  # contrast * (1 - a)
    return out.clamp(-1, 1), _no_mask(image)


def cast(image: torch.Tensor, gen: torch.Generator, shift: float = 0.25):
    """Colour cast: every channel shifted by its own amount, the largest between
    ``shift``/2 and ``shift`` (grayscale: a brightness shift)."""
    direction = torch.randn(image.shape[0], generator=gen)
    direction = direction / direction.abs().max().clamp_min(1e-6)
    offset = direction * _uniform(gen, shift / 2, shift)
    return (image + offset.view(-1, 1, 1).to(image)).clamp(-1, 1), _no_mask(image)


#: kind name -> (function, the DamageOptions field holding its strength), in the order
#: of :data:`~artgan.plugins.damage.KINDS`
DAMAGES: dict[str, tuple[Damage, str]] = {
    "fading": (fading, "fading"), "cast": (cast, "cast"),
    "cracks": (cracks, "crack_darkness"), "scratches": (scratches, "scratch_brightness"),
    "strokes": (strokes, "stroke_width"), "holes": (holes, "hole_size"),
    "blur": (blur, "blur_sigma"), "noise": (noise, "noise_std"),
    "jpeg": (jpeg, "jpeg_quality"),
}


def parse_kinds(text: str, default_p: float) -> tuple[tuple[str, float], ...]:
    """``"holes:0.8,cracks"`` -> (("cracks", p), ("holes", 0.8)) in the application
    order of :data:`KINDS`; ``all`` is every kind. Bad entries raise DataSourceError
    naming ``-o data.kinds``."""
    chosen: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, prob = item.partition(":")
        name = name.strip().lower()
        names = KINDS if name == "all" else (name,)
        if name != "all" and name not in KINDS:
            close = difflib.get_close_matches(name, KINDS, n=1, cutoff=0.5)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise DataSourceError(f"-o data.kinds: unknown damage kind {name!r}.{hint} "
                                  f"Kinds: {', '.join(KINDS)} (or all).")
        try:
            p = float(prob) if sep else default_p
        except ValueError:
            p = -1.0
        if not 0.0 <= p <= 1.0:
            raise DataSourceError(f"-o data.kinds: {item!r}: the probability after ':' must "
                                  f"be a number from 0 to 1")
        for kind in names:
            chosen[kind] = p
    if not chosen:
        raise DataSourceError(f"-o data.kinds is empty: name at least one damage kind "
                              f"({', '.join(KINDS)}, or all)")
    return tuple((kind, chosen[kind]) for kind in KINDS if kind in chosen)


@dataclass(frozen=True)
class DamagePlan:
    """Which kinds to apply, with what probability and strength: ``(kind, p, strength)``
    in application order. :meth:`__call__` damages one image."""

    kinds: tuple[tuple[str, float, float], ...]

    @classmethod
    def from_options(cls, options) -> DamagePlan:
        """The plan of a :class:`~artgan.plugins.damage.DamageOptions`."""
        return cls(tuple((kind, p, float(getattr(options, DAMAGES[kind][1])))
                         for kind, p in parse_kinds(options.kinds, options.p)))

    def __call__(self, image: torch.Tensor, gen: torch.Generator
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """(damaged, mask (1, H, W) bool) of ``image`` (C, H, W): each kind applies with
        its probability; an image that draws none (while some kind has p > 0) gets one of
        those, chosen uniformly, so every image is damaged somehow."""
        fired = [float(torch.rand((), generator=gen)) < p for _, p, _ in self.kinds]
        candidates = [i for i, (_, p, _) in enumerate(self.kinds) if p > 0]
        if candidates and not any(fired):
            fired[candidates[_randint(gen, 0, len(candidates) - 1)]] = True
        out, mask = image, _no_mask(image)
        for (kind, _, strength), on in zip(self.kinds, fired):
            if on:
                out, kind_mask = DAMAGES[kind][0](out, gen, strength)
                mask |= kind_mask
        return out, mask
