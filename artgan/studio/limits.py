"""What one studio request may ask for: image counts, upload and body sizes, pixels."""

from __future__ import annotations

from dataclasses import asdict, dataclass

#: Settings the page starts with, and of the upload actions when it does not say (the
#: projection's are ``artgan project``'s defaults).
DEFAULTS = {"grid": 16, "frames": 32, "steps": 300, "restarts": 4, "feature_weight": 0.1}


@dataclass(frozen=True)
class Limits:
    """Bounds on every request; anything beyond is refused with a 4xx and a message."""

    grid: int = 64                  # images per grid
    frames: int = 128               # frames per interpolation
    upload_bytes: int = 20_000_000  # one uploaded file
    upload_pixels: int = 25_000_000  # decoded width x height (decompression-bomb guard)
    json_bytes: int = 65_536        # a JSON request body
    steps: int = 2_000              # projection / restoration optimisation steps
    restarts: int = 16              # projection random starts
    uploads_kept: int = 8           # uploads held at once (oldest dropped first)
    image_cache_bytes: int = 256_000_000  # generated PNGs held for the page
    queued_jobs: int = 4            # long jobs (projections, restorations) waiting or running
    queued_quick: int = 32          # grids and interpolations waiting
    wait_s: float = 300.0           # how long a request waits for its grid or frames
    connections: int = 32           # requests handled at once

    def to_json(self) -> dict:
        return asdict(self)
