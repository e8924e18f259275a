"""Optimisers and the learning-rate schedule."""

from __future__ import annotations

import torch


def build_optimizer(params, name: str, lr: float, betas: tuple[float, float],
                    weight_decay: float) -> torch.optim.Optimizer:
    """Adam (the fused single-kernel implementation where the device has one; why:
    bench/README.md) or RMSprop (multi-tensor)."""
    params = list(params)
    if name == "adam":
        try:
            return torch.optim.Adam(params, lr=lr, betas=betas, weight_decay=weight_decay,
                                    fused=True)
        except RuntimeError:  # no fused kernel for this device
            return torch.optim.Adam(params, lr=lr, betas=betas, weight_decay=weight_decay,
                                    foreach=True)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, weight_decay=weight_decay, foreach=True)
    raise ValueError(f"unknown optimiser {name!r}; expected adam or rmsprop")


def lr_factor(step: int, total: int, decay_start: float | None) -> float:
    """The learning-rate multiplier at ``step`` of ``total``: 1 until ``decay_start`` of
    the steps, then linearly down to 0 at the end (CycleGAN); always 1 without decay.

        factor = min(1, (total - step) / (total - start)),  start = decay_start * total
    """
    if decay_start is None or decay_start >= 1:
        return 1.0
    start = decay_start * total
    if step < start:
        return 1.0
    return max(0.0, (total - step) / max(total - start, 1e-9))


def set_learning_rate(opt: torch.optim.Optimizer, base: float, factor: float) -> None:
    """Set every parameter group of ``opt`` to ``base * factor``."""
    for group in opt.param_groups:
        group["lr"] = base * factor
