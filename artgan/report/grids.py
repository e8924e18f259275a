"""Sample grids for the page: chosen evenly when there are many, embedded as data URIs,
downscaled or re-encoded when large, so the page stays a file one can mail."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from typing import Sequence

from .rundata import Grid

#: Grids on the timeline at most; more are sampled evenly (first and last always shown).
MAX_GRIDS = 48
#: Bytes (before base64, which adds a third) for all timeline grids together; each grid
#: gets its share, at most PER_GRID.
TIMELINE_BUDGET = 4_500_000
PER_GRID = 200_000
#: Longest side of a timeline grid (an 8x8 grid of 64 px images is 530 px).
MAX_SIDE = 768
#: The final grid is shown larger and kept as it is up to this size.
FINAL_BUDGET, FINAL_SIDE = 1_500_000, 1600


@dataclass
class Embedded:
    grid: Grid
    uri: str
    size: tuple[int, int]  # pixels as shown
    original_size: tuple[int, int]
    recoded: bool  # downscaled or re-encoded


def choose(grids: Sequence[Grid], limit: int = MAX_GRIDS) -> list[Grid]:
    """At most ``limit`` grids, evenly spaced over the list, keeping the first and last."""
    if len(grids) <= limit:
        return list(grids)
    if limit == 1:
        return [grids[-1]]
    picks = sorted({round(i * (len(grids) - 1) / (limit - 1)) for i in range(limit)})
    return [grids[i] for i in picks]


def embed(grid: Grid, budget: int, max_side: int) -> Embedded:
    """``grid`` as a data URI of at most about ``budget`` bytes (the file as it is when
    it fits; else downscaled to ``max_side`` and, if still too big, JPEG). Raises
    OSError/ValueError if the file is not a readable image."""
    from PIL import Image

    raw = grid.path.read_bytes()
    with Image.open(io.BytesIO(raw)) as image:
        image.load()
        original = image.size
        if len(raw) <= budget and max(original) <= max_side and image.format == "PNG":
            return Embedded(grid, _uri("png", raw), original, original, False)
        image = image.convert("RGB")
    scale = min(1.0, max_side / max(original))
    while True:
        size = (max(1, round(original[0] * scale)), max(1, round(original[1] * scale)))
        shown = image if size == original else image.resize(size, Image.LANCZOS)
        data, kind = _encode(shown, "PNG"), "png"
        if len(data) > budget:
            data, kind = _encode(shown, "JPEG"), "jpeg"
        if len(data) <= budget or max(size) <= 192:
            return Embedded(grid, _uri(kind, data), size, original, True)
        scale *= 0.75


def _encode(image, kind: str) -> bytes:
    buf = io.BytesIO()
    if kind == "JPEG":
        image.save(buf, format="JPEG", quality=88, optimize=True)
    else:
        image.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def _uri(kind: str, data: bytes) -> str:
    return f"data:image/{kind};base64,{base64.b64encode(data).decode('ascii')}"


def embed_all(grids: Sequence[Grid], problems: list[str]) -> list[Embedded]:
    """The chosen timeline grids, each within its share of the budget; unreadable files
    are left out and reported in ``problems``."""
    if not grids:
        return []
    share = min(PER_GRID, TIMELINE_BUDGET // len(grids))
    out = []
    for grid in grids:
        try:
            out.append(embed(grid, share, MAX_SIDE))
        except (OSError, ValueError) as exc:  # PIL's UnidentifiedImageError is an OSError
            problems.append(f"{grid.path.parent.name}/{grid.path.name} cannot be read as an "
                            f"image ({type(exc).__name__}); left out")
    return out


def embed_final(grid: Grid | None, problems: list[str]) -> Embedded | None:
    if grid is None:
        return None
    try:
        return embed(grid, FINAL_BUDGET, FINAL_SIDE)
    except (OSError, ValueError) as exc:
        problems.append(f"samples/final.png cannot be read as an image "
                        f"({type(exc).__name__}); left out")
        return None
