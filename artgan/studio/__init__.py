"""``artgan studio``: a local web page to play with a trained model.

The page shows a grid of fresh samples (a new seed, a class for conditional models),
an interpolation between any two of them under a slider, full-size PNG downloads, and
uploads that are projected into the model or restored by it. Pieces:

- :class:`~artgan.studio.session.Studio`: the model and everything it makes (torch);
  its methods run on the worker thread only.
- :class:`~artgan.studio.worker.Worker`: one thread and a job queue for all torch work;
  quick jobs (grids, frames) run between the steps of a long one (a projection), so the
  page stays responsive.
- :class:`~artgan.studio.server.StudioServer`: ``http.server`` with a JSON API, PNG
  responses and one self-contained HTML page; loopback by default, an access token
  otherwise; every request is bounded (:class:`~artgan.studio.limits.Limits`).

Torch-free at import time: the names below load on first use.
"""

from importlib import import_module

from ..core.errors import ArtganError


class StudioError(ArtganError, ValueError):
    """A request the studio refuses; ``status`` is its HTTP status (400 by default)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


_EXPORTS = {
    "Limits": "artgan.studio.limits",
    "Studio": "artgan.studio.session",
    "Worker": "artgan.studio.worker",
    "StudioServer": "artgan.studio.server",
    "make_server": "artgan.studio.server",
    "token_matches": "artgan.studio.server",
    "is_loopback": "artgan.studio.server",
}

__all__ = ["StudioError", *sorted(_EXPORTS)]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'artgan.studio' has no attribute {name!r}")
