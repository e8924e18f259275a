"""Exponential moving average (EMA) of the generator's weights.

Samples from an average of the recent generator weights are smoother and more stable
than those of the last step (Karras et al. 2018, Yazici et al. 2019). With ramp-up:

    decay_t = min(decay, (1 + t) / (10 + t))        t = the trainer step of the update
    theta_ema <- decay_t * theta_ema + (1 - decay_t) * theta

so early on, when the average would be dominated by the random initialisation, it
follows the generator closely (decay_0 = 0.1). Floating-point buffers (BatchNorm
running statistics) are averaged the same way, as timm's ModelEmaV2 does, so that the
averaged weights are normalised with statistics from the same stretch of training;
copying the latest statistics onto averaged weights made the EMA samples of a DCGAN
generator far less varied than the raw generator's (bench/README.md). Integer buffers
(``num_batches_tracked``) are copied.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


def ema_decay_at(step: int, decay: float) -> float:
    """The ramped decay: min(decay, (1 + step) / (10 + step))."""
    return min(decay, (1.0 + step) / (10.0 + step))


class GeneratorEMA:
    """A frozen, eval-mode copy of ``G`` updated with :meth:`update` after G steps."""

    def __init__(self, G: nn.Module, decay: float = 0.999):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay = float(decay)
        self.module = copy.deepcopy(G).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, G: nn.Module, step: int) -> None:
        d = ema_decay_at(step, self.decay)
        for e, p in zip(self.module.parameters(), G.parameters()):
            e.lerp_(p.detach().to(e.dtype), 1.0 - d)  # e + (1-d)(p - e) = d*e + (1-d)*p
        for b_ema, b in zip(self.module.buffers(), G.buffers()):
            if b_ema.is_floating_point():
                b_ema.lerp_(b.detach().to(b_ema.dtype), 1.0 - d)
            else:
                b_ema.copy_(b)

    def state_dict(self) -> dict:
        return self.module.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.module.load_state_dict(state)
