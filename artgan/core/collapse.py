"""Collapse watch: a cheap diversity statistic of the fixed-noise samples.

    diversity = mean_{i<j} ||G(z_i) - G(z_j)||_2 / mean_{i<j} ||x_i - x_j||_2

over the fixed-noise samples (written as the sample grid at the end of an epoch) and a fixed batch
of real images. About 1 means the samples differ from each other as much as real
images do; a collapsing generator, which draws (nearly) the same picture for every z,
falls towards 0. Values above 1 are typical of noisy, untrained generators.
"""

from __future__ import annotations

import torch

#: Below this, the trainer warns that the generator may be collapsing.
COLLAPSE_THRESHOLD = 0.25
#: No warning before this many steps: a fresh generator's samples in eval mode (BatchNorm
#: running statistics not yet warm) are nearly constant without having collapsed.
WARMUP_STEPS = 100


def mean_pairwise_distance(images: torch.Tensor) -> float:
    """Mean L2 distance between distinct pairs of images (N, C, H, W); 0 if N < 2."""
    flat = images.detach().float().flatten(1)
    n = flat.shape[0]
    if n < 2:
        return 0.0
    dist = torch.cdist(flat[None], flat[None])[0]
    return float(dist.sum() / (n * (n - 1)))


def diversity_ratio(fake: torch.Tensor, real: torch.Tensor) -> float:
    """Mean pairwise distance of ``fake`` relative to that of ``real`` (see module doc)."""
    return mean_pairwise_distance(fake) / max(mean_pairwise_distance(real), 1e-8)


def collapse_warning(ratio: float, epoch: int, step: int = WARMUP_STEPS) -> str | None:
    """The warning to show for a diversity ``ratio``, or None if it looks healthy (or it
    is too early to tell)."""
    if ratio >= COLLAPSE_THRESHOLD or step < WARMUP_STEPS:
        return None
    return (f"epoch {epoch}: the fixed-noise samples are {ratio:.2f}x as varied as real "
            f"images (below {COLLAPSE_THRESHOLD}); the generator may be collapsing. Look at "
            f"the sample grid; if the images are all alike, try --recipe small-data, "
            f"--augment color,translation,cutout or --r1 1.")
