"""Collapse watch: a cheap diversity statistic of the fixed-noise samples.

    diversity = mean_{i<j} ||G(z_i) - G(z_j)||_2 / mean_{i<j} ||x_i - x_j||_2

over the fixed-noise samples (written as the sample grid at the end of an epoch) and a fixed batch
of real images. About 1 means the samples differ from each other as much as real
images do; a collapsing generator, which draws (nearly) the same picture for every z,
falls towards 0. Values above 1 are typical of noisy, untrained generators.
"""

from __future__ import annotations

import torch

#: Below this, the samples are much less varied than the data.
COLLAPSE_THRESHOLD = 0.25
#: No warning before this many steps: a fresh generator's samples in eval mode (BatchNorm
#: running statistics not yet warm) are nearly constant without having collapsed.
WARMUP_STEPS = 100
#: A generator that is still below the threshold after this many steps has not learnt
#: to vary its output (the default demo run is at 0.4 by step 1,000).
STUCK_STEPS = 1000
#: Collapse after progress: the diversity fell below this fraction of its best value.
FALL = 0.5


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


class CollapseWatch:
    """Tells collapse from a generator that is still learning to vary its samples.

    A fresh generator starts with low diversity and rises (the default demo run goes
    0.08, 0.12, 0.15, 0.24, ... 0.6 over 2,000 steps), so a low value alone is no alarm.
    :meth:`check` warns when the ratio is below ``COLLAPSE_THRESHOLD`` and either it
    fell below ``FALL`` times the best value seen after the warm-up (collapse after
    progress), or ``STUCK_STEPS`` steps have passed (it never became varied).
    """

    def __init__(self, best: float = 0.0):
        self.best = best  # the highest ratio seen after WARMUP_STEPS

    def check(self, ratio: float, epoch: int, step: int) -> str | None:
        """Record ``ratio`` at ``step``; the warning to show, or None."""
        if step < WARMUP_STEPS:
            return None
        best, self.best = self.best, max(self.best, ratio)
        if ratio >= COLLAPSE_THRESHOLD:
            return None
        if ratio < FALL * best:
            what = (f"the fixed-noise samples' diversity fell from {best:.2f} to {ratio:.2f}x "
                    f"that of real images")
        elif step >= STUCK_STEPS:
            what = (f"after {step} steps the fixed-noise samples are still only {ratio:.2f}x "
                    f"as varied as real images")
        else:
            return None
        return (f"epoch {epoch}: {what} (below {COLLAPSE_THRESHOLD}); the generator may be "
                f"collapsing. Look at the sample grid; if the images are all alike, try "
                f"--recipe small-data, --augment color,translation,cutout or --r1 1.")
