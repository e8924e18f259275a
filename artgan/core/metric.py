"""The Metric interface (built-in metrics arrive with the metrics issue)."""

from __future__ import annotations

from typing import Iterable

import torch


class Metric:
    """Scores generated images against a data source.

    ``higher_is_better`` tells which checkpoint is best. :meth:`compute` receives
    batches of generated images and of real images, float in [-1, 1], NCHW, and returns
    named values (for example ``{"fid": 23.4}``).
    """

    higher_is_better: bool = False

    def compute(self, fake: Iterable[torch.Tensor], real: Iterable[torch.Tensor],
                device: torch.device) -> dict[str, float]:
        raise NotImplementedError
