"""``--data demo``: procedural abstract art in several styles, one class per style.

The default data set of ``artgan run``: nothing to download, rendered in memory at any
resolution (>= 8 px), and fixed by ``data.seed``. Each style differs from the others in
palette *and* structure, so a conditional GAN's classes are easy to tell apart:

- ``mondrian``: off-white canvas, thick black grid lines, cells in primary red/blue/yellow.
- ``kandinsky``: deep navy canvas, overlapping saturated discs and rings, a few thin lines.
- ``stripes``: bold stripes of 2-3 warm colours (orange/pink/purple) at a random angle.
- ``waves``: smooth interfering sine fields mapped to a blue/teal/green palette.
- ``rothko``: 2-3 soft-edged horizontal colour blocks on an earthy tinted field.

Shapes are drawn with exact box-filter coverage (axis-aligned boxes) or clamped signed
distances (everything else), so edges are anti-aliased even at 16 px. Random parameters
come from a local ``numpy.random.Generator`` seeded by (seed, style, chunk of 64 images),
drawn for a full chunk: image j of a style is the same whatever the resolution or size of
the data set, and the global RNG state is never touched.
"""

from __future__ import annotations

import difflib

import numpy as np
import torch

from artgan.core.data import DataSourceError, InMemoryDataSource
from artgan.plugins.data import DemoOptions

STYLES = ("mondrian", "kandinsky", "stripes", "waves", "rothko")
_CHUNK = 64  # images per parameter draw
_PIXELS_PER_BATCH = 2**18  # pixels per rendering batch (at most _CHUNK images)
_LUMA = torch.tensor([0.299, 0.587, 0.114])  # ITU-R BT.601


class _Draw:
    """Per-image random parameters as float32/int64 tensors, rows ``start:stop``.

    Every draw is made for a full chunk of :data:`_CHUNK` images and then sliced, so that
    an image's parameters depend neither on how many images are rendered nor on how a
    chunk is split into rendering batches.
    """

    def __init__(self, rng: np.random.Generator, start: int, stop: int):
        self.rng, self.rows, self.count = rng, slice(start, stop), stop - start

    def uniform(self, low, high, *shape) -> torch.Tensor:
        values = self.rng.uniform(low, high, (_CHUNK, *shape))[self.rows]
        return torch.from_numpy(values).float()

    def integers(self, low, high, *shape) -> torch.Tensor:
        return torch.from_numpy(self.rng.integers(low, high, (_CHUNK, *shape))[self.rows])


def _grid(res: int) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Pixel-centre coordinates in [0, 1]: x (1, 1, R), y (1, R, 1), and the pixel size."""
    c = (torch.arange(res, dtype=torch.float32) + 0.5) / res
    return c.view(1, 1, res), c.view(1, res, 1), 1.0 / res


def _col(t: torch.Tensor) -> torch.Tensor:
    """(B, ...) per-image values -> (B, 1, 1) for broadcasting against (B, R, R)."""
    return t.reshape(-1, 1, 1)


def _paint(canvas: torch.Tensor, cover: torch.Tensor, colour: torch.Tensor) -> None:
    """Blend ``colour`` (B, 3) over ``canvas`` (B, 3, R, R) with coverage (B, R, R)."""
    canvas.lerp_(colour[:, :, None, None].expand_as(canvas), cover.unsqueeze(1))


def _edge(dist: torch.Tensor, px: float) -> torch.Tensor:
    """Coverage of a shape from its signed distance (negative inside), ~1 px soft edge."""
    return (0.5 - dist / px).clamp_(0.0, 1.0)


def _box(x, y, px, x0, y0, x1, y1) -> torch.Tensor:
    """Exact pixel coverage of the axis-aligned boxes [x0, x1] x [y0, y1], each (B,)."""
    ox = torch.minimum(x + px / 2, _col(x1)) - torch.maximum(x - px / 2, _col(x0))
    oy = torch.minimum(y + px / 2, _col(y1)) - torch.maximum(y - px / 2, _col(y0))
    return (ox.clamp(0, px) * oy.clamp(0, px)) / (px * px)


def _hsv(h, s, v) -> torch.Tensor:
    """HSV in [0, 1] -> RGB, stacked on a new last dimension."""
    k = torch.stack([(n + h * 6) % 6 for n in (5.0, 3.0, 1.0)], -1)
    return v[..., None] * (1 - s[..., None] * torch.minimum(k, 4 - k).clamp(0, 1))


def _mondrian(d: _Draw, res: int) -> torch.Tensor:
    """Black grid lines (some stopping at a crossing line) over cells of primary colours."""
    x, y, px = _grid(res)
    n = d.count
    canvas = (torch.tensor([0.95, 0.94, 0.90]) + d.uniform(-0.03, 0.02, 1)).view(n, 3, 1, 1)
    canvas = canvas.expand(n, 3, res, res).clone()
    lines = [d.integers(2, 5), d.integers(2, 5)]  # vertical, horizontal line counts
    pos = [d.uniform(0.1, 0.9, 4), d.uniform(0.1, 0.9, 4)]
    pos = [torch.where(torch.arange(4) < k[:, None], p, 1.0).sort(1).values
           for p, k in zip(pos, lines)]  # unused lines sit on the border
    edges = [torch.cat([torch.zeros(n, 1), p, torch.ones(n, 1)], 1) for p in pos]
    palette = torch.tensor([[0.86, 0.12, 0.10], [0.10, 0.22, 0.62], [0.98, 0.80, 0.10],
                            [0.86, 0.12, 0.10], [0.10, 0.22, 0.62], [0.98, 0.80, 0.10],
                            [0.08, 0.08, 0.09]])  # black is rarer
    cells, colours = d.integers(2, 5), d.integers(0, 7, 4)
    ci = (d.uniform(0, 1, 4) * (lines[0][:, None] + 1)).long()
    cj = (d.uniform(0, 1, 4) * (lines[1][:, None] + 1)).long()
    x0, x1 = edges[0].gather(1, ci), edges[0].gather(1, ci + 1)  # (B, 4) cell bounds
    y0, y1 = edges[1].gather(1, cj), edges[1].gather(1, cj + 1)
    show = (torch.arange(4) < cells[:, None]) & ((x1 - x0) * (y1 - y0) < 0.25)  # no huge
    for c in range(4):
        cover = _box(x, y, px, x0[:, c], y0[:, c], x1[:, c], y1[:, c]) * _col(show[:, c])
        _paint(canvas, cover, palette[colours[:, c]])
    width = d.uniform(0.022, 0.04).clamp(min=1.2 * px) / 2
    ink = torch.tensor([0.06, 0.06, 0.07]).expand(n, 3)
    for axis in (0, 1):
        other = pos[1 - axis]
        partial, side = d.uniform(0, 1, 4) < 0.3, d.uniform(0, 1, 4) < 0.5
        stop = other.gather(1, (d.uniform(0, 1, 4) * lines[1 - axis][:, None]).long())
        lo = torch.where(partial & side, stop, 0.0)
        hi = torch.where(partial & ~side, stop, 1.0)
        for k in range(4):
            a, b = pos[axis][:, k] - width, pos[axis][:, k] + width
            box = (a, lo[:, k], b, hi[:, k]) if axis == 0 else (lo[:, k], a, hi[:, k], b)
            _paint(canvas, _box(x, y, px, *box) * _col(lines[axis] > k), ink)
    return canvas


def _kandinsky(d: _Draw, res: int) -> torch.Tensor:
    """Dark canvas; overlapping translucent discs, rings and concentric circles; lines."""
    x, y, px = _grid(res)
    n, shapes = d.count, 7
    top = torch.tensor([0.03, 0.04, 0.12]) + d.uniform(-0.02, 0.02, 3)
    bottom = top + torch.tensor([0.07, 0.03, 0.08]) * d.uniform(0.3, 1.0, 1)
    canvas = (top[:, :, None, None] * (1 - y) + bottom[:, :, None, None] * y).expand(
        n, 3, res, res).clone()
    count = d.integers(4, shapes + 1)
    centre = d.uniform(0.12, 0.88, shapes, 2)
    radius = d.uniform(0.06, 0.26, shapes).sort(1, descending=True).values  # big first
    colour = _hsv(d.uniform(0, 1, shapes, 2), d.uniform(0.65, 1.0, shapes, 2),
                  d.uniform(0.8, 1.0, shapes, 2))
    alpha = d.uniform(0.75, 1.0, shapes) * (torch.arange(shapes) < count[:, None])
    kind = d.integers(0, 3, shapes)  # 0 disc, 1 ring, 2 disc with an inner disc
    ring = d.uniform(0.015, 0.035, shapes).clamp(min=0.8 * px)
    inner = d.uniform(0.35, 0.65, shapes)
    for s in range(shapes):
        dist = torch.hypot(x - _col(centre[:, s, 0]), y - _col(centre[:, s, 1]))
        r = _col(radius[:, s])
        disc = torch.where(_col(kind[:, s] == 1), (dist - r).abs() - _col(ring[:, s]),
                           dist - r)
        _paint(canvas, _edge(disc, px) * _col(alpha[:, s]), colour[:, s, 0])
        _paint(canvas, _edge(dist - r * _col(inner[:, s]), px) * _col(kind[:, s] == 2),
               colour[:, s, 1])
    ends = d.uniform(0.05, 0.95, 3, 4)
    light = torch.tensor([0.92, 0.90, 0.82]).expand(n, 3)
    width = d.uniform(0.006, 0.012).clamp(min=0.5 * px)
    shown = d.integers(0, 2, 3) == 1
    for k in range(3):  # thin line segments
        ax, ay, bx, by = (_col(ends[:, k, i]) for i in range(4))
        t = (((x - ax) * (bx - ax) + (y - ay) * (by - ay)) /
             ((bx - ax) ** 2 + (by - ay) ** 2 + 1e-6)).clamp(0, 1)
        dist = torch.hypot(x - ax - t * (bx - ax), y - ay - t * (by - ay)) - _col(width)
        _paint(canvas, _edge(dist, px) * _col(shown[:, k]), light)
    return canvas


_DEEP = torch.tensor([[0.50, 0.16, 0.58], [0.78, 0.12, 0.48], [0.34, 0.08, 0.42]])
_BRIGHT = torch.tensor([[0.99, 0.55, 0.12], [0.99, 0.42, 0.34], [0.99, 0.76, 0.30],
                        [0.97, 0.42, 0.64]])  # purple, magenta, plum; orange, coral, gold, pink


def _stripes(d: _Draw, res: int) -> torch.Tensor:
    """Parallel bands cycling through 2-3 warm colours, any angle, random band width."""
    x, y, px = _grid(res)
    deep, bright = d.integers(0, len(_DEEP)), d.integers(0, len(_BRIGHT))
    deep2 = (deep + d.integers(1, len(_DEEP))) % len(_DEEP)  # differs from deep
    bright2 = (bright + d.integers(1, len(_BRIGHT))) % len(_BRIGHT)
    third = torch.where((d.uniform(0, 1) < 0.5)[:, None], _DEEP[deep2], _BRIGHT[bright2])
    colours = torch.stack([_DEEP[deep], _BRIGHT[bright], third], 1)  # dark, light, any
    colours = colours + d.uniform(-0.04, 0.04, 3, 3)
    k = _col(d.integers(2, 4))
    angle = d.uniform(0, np.pi)
    band = d.uniform(0.07, 0.17).clamp(min=2 * px)
    u = (x * _col(angle.cos()) + y * _col(angle.sin())) / _col(band) + _col(
        d.uniform(0, 3))
    index = u.floor()
    f = u - index  # in [0, 1), also where u < 0
    span = _col(band) / px  # band width in pixels
    w_prev, w_next = (0.5 - f * span).clamp(0, 1), (0.5 - (1 - f) * span).clamp(0, 1)
    canvas = torch.zeros(d.count, 3, res, res)
    for shift, w in ((-1, w_prev), (0, 1 - w_prev - w_next), (1, w_next)):
        idx = torch.remainder(index + shift, k).long().view(d.count, 1, -1).expand(-1, 3, -1)
        canvas += colours.transpose(1, 2).gather(2, idx).view_as(canvas) * w.unsqueeze(1)
    return canvas


_COOL = torch.tensor([[0.02, 0.10, 0.32], [0.06, 0.32, 0.62], [0.03, 0.56, 0.60],
                      [0.28, 0.74, 0.56], [0.74, 0.94, 0.90]])


def _waves(d: _Draw, res: int) -> torch.Tensor:
    """A sum of sine waves, slightly domain-warped, mapped through a cool colour ramp."""
    x, y, px = _grid(res)
    waves = 3
    angle, freq = d.uniform(0, 2 * np.pi, waves), d.uniform(0.8, 3.0, waves)
    phase, amp = d.uniform(0, 2 * np.pi, waves), d.uniform(0.4, 1.0, waves)
    warp = _col(d.uniform(0.0, 0.12))
    xw = x + warp * torch.sin(2 * np.pi * 2 * y + _col(phase[:, 0]))
    field = torch.zeros(d.count, res, res)
    for w in range(waves):
        u = xw * _col(angle[:, w].cos()) + y * _col(angle[:, w].sin())
        field += _col(amp[:, w]) * torch.sin(2 * np.pi * _col(freq[:, w]) * u +
                                             _col(phase[:, w]))
    t = (0.5 + 0.8 * field / _col(amp.sum(1))).clamp(0, 1)
    ramp = _COOL + d.uniform(-0.05, 0.05, len(_COOL), 3)  # (B, stops, 3)
    ramp = torch.where(_col(d.integers(0, 2) == 1), ramp.flip(1), ramp)
    pos = t * (len(_COOL) - 1)
    lo = pos.floor().clamp(max=len(_COOL) - 2)
    frac = (pos - lo).unsqueeze(1)
    idx = lo.long().view(d.count, 1, -1).expand(-1, 3, -1)
    stops = ramp.transpose(1, 2)  # (B, 3, stops)
    a = stops.gather(2, idx).view(d.count, 3, res, res)
    b = stops.gather(2, idx + 1).view(d.count, 3, res, res)
    return torch.lerp(a, b, frac)


_EARTH = torch.tensor([[0.50, 0.08, 0.10], [0.76, 0.30, 0.10], [0.86, 0.60, 0.18],
                       [0.30, 0.12, 0.08], [0.12, 0.08, 0.08], [0.62, 0.20, 0.16],
                       [0.36, 0.36, 0.16]])


def _rothko(d: _Draw, res: int) -> torch.Tensor:
    """Two or three stacked soft rectangles with wobbly edges on an earthy field."""
    x, y, px = _grid(res)
    n = d.count
    field = _EARTH[d.integers(0, len(_EARTH))] * d.uniform(0.7, 1.0, 1)
    canvas = field[:, :, None, None].expand(n, 3, res, res).clone()
    blocks = d.integers(2, 4)
    margin, gap = d.uniform(0.07, 0.13, 2), d.uniform(0.04, 0.08)
    weights = d.uniform(0.6, 1.4, 3) * (torch.arange(3) < blocks[:, None])
    heights = weights / weights.sum(1, keepdim=True) * (1 - margin.sum(1, keepdim=True) -
                                                        gap[:, None] * (blocks[:, None] - 1))
    top = margin[:, :1] + torch.cumsum(heights + gap[:, None], 1) - heights - gap[:, None]
    colours = _EARTH[d.integers(0, len(_EARTH), 3)] + d.uniform(-0.05, 0.05, 3, 3)
    soft = _col(d.uniform(0.012, 0.03)).clamp(min=0.6 * px)
    wobble = d.uniform(0, 2 * np.pi, 3)
    side = _col(d.uniform(0.06, 0.12))
    for b in range(3):
        edge = 0.006 * torch.sin(9 * x + _col(wobble[:, b])) + 0.006 * torch.sin(7 * y)
        inside = torch.maximum((x - 0.5).abs() - (0.5 - side),
                               (y - _col(top[:, b] + heights[:, b] / 2)).abs()
                               - _col(heights[:, b] / 2)) + edge
        cover = torch.sigmoid(-inside / soft) * _col(0.92 * (blocks > b))
        _paint(canvas, cover, colours[:, b])
    return canvas


_RENDER = {"mondrian": _mondrian, "kandinsky": _kandinsky, "stripes": _stripes,
           "waves": _waves, "rothko": _rothko}


def _to_uint8(images: torch.Tensor, channels: int) -> torch.Tensor:
    """Float RGB in [0, 1] -> uint8 with ``channels`` channels (1: BT.601 luma; 4: RGB
    and an opaque alpha channel: the demo art has no transparency)."""
    images = images.clamp(0, 1)
    if channels == 1:
        images = torch.einsum("nchw,c->nhw", images, _LUMA).unsqueeze(1)
    elif channels == 4:
        images = torch.cat([images, torch.ones_like(images[:, :1])], dim=1)
    return images.mul_(255).round_().clamp_(0, 255).to(torch.uint8)


def render_style(style: str, count: int, resolution: int, seed: int = 0,
                 channels: int = 3) -> torch.Tensor:
    """Images 0..count-1 of ``style``: uint8 (count, channels, R, R)."""
    index = STYLES.index(style)
    out = torch.empty(count, channels, resolution, resolution, dtype=torch.uint8)
    batch = max(1, _PIXELS_PER_BATCH // resolution**2)  # keep float batches in cache
    for first in range(0, count, _CHUNK):
        for lo in range(0, min(_CHUNK, count - first), batch):
            hi = min(lo + batch, _CHUNK, count - first)
            # A fresh generator per batch: each batch redraws its chunk's parameters.
            rng = np.random.default_rng([seed % 2**63, index, first // _CHUNK])
            images = _RENDER[style](_Draw(rng, lo, hi), resolution)
            out[first + lo:first + hi] = _to_uint8(images, channels)
    return out


class DemoDataSource(InMemoryDataSource):
    """Procedural abstract art: ``options.size`` images, ``options.seed`` fixes them.

    ``--data demo`` renders every style in :data:`STYLES`, image i in style
    ``i % len(STYLES)`` (balanced classes), labelled with class names ``list(STYLES)``.
    ``--data demo:STYLE`` renders only that style and is *unlabelled* (no class names,
    labels None): one class carries no information for a conditional GAN.
    """

    default_resolution = 32
    default_epochs = 10

    def __init__(self, styles: tuple[str, ...] = STYLES, *, size: int = 2048, seed: int = 0,
                 resolution: int = 32, channels: int = 3, labelled: bool = True):
        if int(resolution) < 8:
            raise DataSourceError(f"demo data needs a resolution of at least 8, got {resolution}")
        if channels not in (1, 3, 4):
            raise DataSourceError(f"demo data has 1, 3 or 4 channels (4: opaque alpha), got "
                                  f"{channels}")
        if size < 1:
            raise DataSourceError(f"demo data needs at least one image, got size={size}")
        n, resolution = len(styles), int(resolution)
        images = torch.empty(size, channels, resolution, resolution, dtype=torch.uint8)
        for k, style in enumerate(styles):  # round robin: image i has style i % n
            images[k::n] = render_style(style, len(range(k, size, n)), resolution, seed,
                                        channels)
        labels = torch.arange(size) % n if labelled else None
        super().__init__(images, labels, list(styles) if labelled else [])
        self.styles = tuple(styles)

    @classmethod
    def from_spec(cls, argument: str | None, options: DemoOptions | None, *,
                  resolution: int | None, channels: int, seed: int = 0) -> DemoDataSource:
        """The registered factory: ``argument`` is an optional STYLE from ``demo:STYLE``.

        ``seed`` (the training seed) is ignored so that the data set stays the same from
        one training run to the next; ``options.seed`` chooses the images.
        """
        options = options or DemoOptions()
        common = dict(size=options.size, seed=options.seed, channels=channels,
                      resolution=resolution or cls.default_resolution)
        if not argument:
            return cls(STYLES, **common)
        style = argument.strip().lower()
        if style not in STYLES:
            close = difflib.get_close_matches(style, STYLES, n=1, cutoff=0.5)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise DataSourceError(f"unknown demo style {argument!r}.{hint} "
                                  f"Known styles: {', '.join(STYLES)}.")
        return cls((style,), labelled=False, **common)
