"""A judge for the demo styles: a small CNN trained from scratch on demo images.

The benchmarks use it to say whether generated or translated images look like one of the
five demo styles (mondrian, kandinsky, stripes, waves, rothko) and which. No pretrained
weights exist here, so it learns from the demo renderer itself (seconds on a CPU).

It has a sixth class, ``other``, trained on images that are in no style: smooth random
noise, flat colour, heavily blurred or pixel-scrambled demo images and half-and-half
blends of two styles. A sample whose best class has probability under ``threshold`` also
counts as ``other``. So "assigned to a style" means "looks like that style and like no
other", not merely "closest to it".

    clf = train_style_classifier(resolution=32, seed=0)
    clf.accuracy                    # held-out accuracy on fresh demo and other images
    shares = style_shares(clf, images)  # images in [-1, 1], (N, 3, R, R)
    shares["stripes"]["share"], shares["stripes"]["confidence"], shares[OTHER]["share"]
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from artgan.plugins.demo import STYLES, render_style

OTHER = "other"
CLASSES = (*STYLES, OTHER)


def demo_set(per_style: int, resolution: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``per_style`` demo images of every style, in [-1, 1], and their style indices."""
    images = torch.cat([render_style(s, per_style, resolution, seed) for s in STYLES])
    labels = torch.arange(len(STYLES)).repeat_interleave(per_style)
    return images.float() / 127.5 - 1, labels


def other_set(count: int, resolution: int, seed: int) -> torch.Tensor:
    """``count`` images in no demo style, in [-1, 1] (see the module docstring)."""
    g = torch.Generator().manual_seed(seed)
    styled, _ = demo_set(-(-count // len(STYLES)) * 2, resolution, seed + 1)
    styled = styled[torch.randperm(len(styled), generator=g)]
    kinds = []
    n = -(-count // 5)
    low = torch.rand(n, 3, 4, 4, generator=g) * 2 - 1  # smooth noise
    kinds.append(F.interpolate(low, size=resolution, mode="bicubic").clamp(-1, 1))
    kinds.append((torch.rand(n, 3, 1, 1, generator=g) * 2 - 1).expand(n, 3, resolution,
                                                                      resolution))
    blur = F.avg_pool2d(styled[:n], 7, 1, 3, count_include_pad=False)
    kinds.append(F.avg_pool2d(blur, 7, 1, 3, count_include_pad=False))
    pixels = styled[n:2 * n].flatten(2)
    kinds.append(pixels[:, :, torch.randperm(resolution**2, generator=g)].view_as(styled[:n]))
    half = torch.zeros(1, 1, resolution, resolution)
    half[..., : resolution // 2] = 1
    kinds.append(styled[2 * n:3 * n] * half + styled[3 * n:4 * n].flip(0) * (1 - half))
    return torch.cat(kinds)[torch.randperm(5 * n, generator=g)][:count].contiguous()


class _Net(nn.Module):
    def __init__(self, classes: int):
        super().__init__()
        layers, width = [], 3
        for out in (16, 32, 64):
            layers += [nn.Conv2d(width, out, 3, padding=1), nn.BatchNorm2d(out),
                       nn.ReLU(), nn.MaxPool2d(2)]
            width = out
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(width * 2, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x)
        return self.head(torch.cat([h.mean((2, 3)), h.amax((2, 3))], 1))


class StyleClassifier:
    """A trained judge: :meth:`probabilities` and :meth:`predict` of images in [-1, 1]."""

    def __init__(self, net: nn.Module, resolution: int, threshold: float):
        self.net, self.resolution, self.threshold = net.eval(), resolution, threshold
        self.accuracy = float("nan")

    @torch.no_grad()
    def probabilities(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 6) class probabilities; images are resized to the classifier's resolution."""
        images = images[:, :3].float().clamp(-1, 1)
        if images.shape[1] == 1:
            images = images.expand(-1, 3, -1, -1)
        if images.shape[-1] != self.resolution or images.shape[-2] != self.resolution:
            images = F.interpolate(images, size=(self.resolution, self.resolution),
                                   mode="bilinear", antialias=True, align_corners=False)
        return torch.cat([self.net(b).softmax(1) for b in images.split(256)])

    def predict(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Class index (``OTHER``'s when the best probability is under the threshold) and
        the best probability, per image."""
        confidence, index = self.probabilities(images).max(1)
        index = torch.where(confidence < self.threshold, len(STYLES), index)
        return index, confidence


def train_style_classifier(resolution: int = 32, seed: int = 0, per_style: int = 300,
                           epochs: int = 6, threshold: float = 0.5) -> StyleClassifier:
    """Trains on fresh demo images (and ``other`` images) and measures held-out accuracy
    on images drawn with another seed; deterministic for a seed."""
    torch.manual_seed(seed)
    images, labels = demo_set(per_style, resolution, seed=10_000 + seed)
    other = other_set(per_style, resolution, seed=20_000 + seed)
    x = torch.cat([images, other])
    y = torch.cat([labels, torch.full((len(other),), len(STYLES))])
    net = _Net(len(CLASSES))
    opt = torch.optim.Adam(net.parameters(), 2e-3)
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        net.train()
        for idx in torch.randperm(len(x), generator=g).split(64):
            batch = x[idx]
            flip = torch.rand(len(idx), generator=g) < 0.5  # styles are mirror-symmetric
            batch = torch.where(flip[:, None, None, None], batch.flip(3), batch)
            loss = F.cross_entropy(net(batch), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    clf = StyleClassifier(net, resolution, threshold)
    test_x, test_y = demo_set(60, resolution, seed=30_000 + seed)
    test_other = other_set(60, resolution, seed=40_000 + seed)
    test_x = torch.cat([test_x, test_other])
    test_y = torch.cat([test_y, torch.full((60,), len(STYLES))])
    clf.accuracy = float((clf.predict(test_x)[0] == test_y).float().mean())
    return clf


def style_shares(clf: StyleClassifier, images: torch.Tensor) -> dict[str, dict[str, float]]:
    """For every class (the five styles and ``OTHER``): the share of ``images`` (in
    [-1, 1]) assigned to it and the mean best-class probability of those images."""
    index, confidence = clf.predict(images)
    shares = {}
    for i, name in enumerate(CLASSES):
        chosen = index == i
        shares[name] = {"share": float(chosen.float().mean()),
                        "confidence": float(confidence[chosen].mean()) if chosen.any() else 0.0}
    return shares
