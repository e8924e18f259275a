"""The Metric interface: what ``register_metrics`` plugins provide."""

from __future__ import annotations

from typing import Any, Iterable

import torch

from .errors import MetricError  # noqa: F401 (part of the metric interface)


class Metric:
    """Scores generated images, optionally against real ones.

    A registered metric's factory is called with its options dataclass and returns an
    object with this interface. :meth:`compute` receives generated and real images
    (tensors, iterables of NCHW batches in [-1, 1], or :class:`artgan.metrics.ImageSet`)
    and returns named values plus the protocol behind them, for example
    ``{"fid": 23.4, "num_fake": 10000, "reference": "folder:./paintings (812 images)"}``.

    Attributes:
        key: the headline value in the result (``"fid"``); the trainer ranks checkpoints
            by it and shows it in the progress display.
        higher_is_better: direction of ``key`` (False for FID, KID, MS-SSIM).
        requires_real: whether ``real`` must be given.
    """

    key: str = ""
    higher_is_better: bool = False
    requires_real: bool = True

    def prepare(self, device: torch.device | str = "cpu") -> None:
        """Load what the metric needs (network weights) now, so that a missing file fails
        before any image is generated. Default: nothing to load."""

    def check(self, num_images: int) -> None:
        """Raise :class:`artgan.metrics.MetricError` if this metric, with its options, cannot
        score ``num_images`` generated images (for example 10 IS splits of 8 images).

        Training calls it with ``--eval-images`` before the first step, so an impossible
        setting fails at once instead of at the first evaluation. Default: any count."""

    def compute(self, fake: Iterable[torch.Tensor], real: Iterable[torch.Tensor] | None,
                device: torch.device | str = "cpu", **kwargs: Any) -> dict[str, Any]:
        """Score ``fake`` (against ``real``); the result holds at least ``self.key``.

        Built-in metrics also accept ``store=`` (a shared feature store, so that several
        metrics share one feature pass) and ``progress=``; a plugin may ignore them.
        """
        raise NotImplementedError
