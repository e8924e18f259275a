"""What a trainer draws between updates: the fixed-noise samples of the sample grid and
the collapse watch, image-to-image previews, and the grid files (a mixin of
:class:`~artgan.core.trainer.Trainer`).

Samples are drawn in eval mode (BatchNorm running statistics), with the EMA generator
when there is one, under the generator's own seeded noise, so the grid of a step is the
same whatever the training's random state (and the training's stream is untouched)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import torch

from .sampling import seeded_noise

GRID_ROW = 8  # images per row of the sample grid


class TrainerSamples:
    """Sampling for the :class:`~artgan.core.trainer.Trainer` (a mixin of it)."""

    @torch.no_grad()
    def generate(self, z: torch.Tensor, y: torch.Tensor | None = None,
                 condition: torch.Tensor | None = None) -> torch.Tensor:
        """Generate images in eval mode (BatchNorm running statistics), with the EMA
        generator when there is one."""
        with self._sampling() as G, self.precision.autocast():
            return G(z, y, condition).float()

    def _fixed_noise(self):
        """The generator's own noise for the fixed samples: the same at every grid, and
        the training's random stream is left as it was (:func:`seeded_noise`)."""
        return seeded_noise(self.config.runtime.seed + 12345, 0, self.device)

    def _fixed_samples(self) -> torch.Tensor:
        """The 64 fixed-latent samples of the grid and the collapse watch."""
        with self._fixed_noise():
            return self.generate(self.fixed_z, self.fixed_y)

    @contextlib.contextmanager
    def _sampling(self):
        G = self.ema.module if self.ema is not None else self.G
        was_training = G.training
        G.eval()
        try:
            yield G
        finally:
            G.train(was_training)

    @torch.no_grad()
    def _grid_images(self) -> tuple[torch.Tensor, int]:
        """The sample grid's images and row length: the fixed samples, or each row of an
        image-to-image model's preview (input, output, ...)."""
        if self.fixed_condition is None:
            return self._fixed_samples(), GRID_ROW
        with self._sampling() as G, self.precision.autocast(), self._fixed_noise():
            rows = G.preview_rows(self.fixed_z, self.fixed_y, self.fixed_condition)
        return torch.cat([row.float() for row in rows]), len(self.fixed_z)

    def _write_grid(self, path: Path, images: torch.Tensor | None = None) -> Path:
        if self.dist.is_main:  # generate() syncs nothing, so the other ranks need not wait
            nrow = GRID_ROW
            if images is None:
                images, nrow = self._grid_images()
            self.folder.save_grid(images, path, nrow=nrow)
        return path
