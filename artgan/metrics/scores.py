"""The Inception metrics ``fid``, ``kid`` and ``is``.

Each metric implements :class:`artgan.core.Metric` plus a few attributes the CLI and the
trainer use: ``key`` (the headline value in the result), ``requires_real`` and
:meth:`prepare` (loads the network; raises before any image is made when the weights are
missing). :meth:`compute` returns the value(s) and the protocol behind them: image
counts, network, resize filter, reference set.

The network is the FID Inception (:mod:`artgan.metrics.inception`) unless a
``feature_fn`` is injected: any callable mapping (N, C, H, W) images in [-1, 1] to a
tensor or a dict of tensors (``pool`` for FID and KID, ``logits_unbiased`` for IS). Tests
use a small random network this way.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch

from artgan.core.metric import Metric

from artgan.core.errors import MetricError
from artgan.evaluation.features import FeatureStore
from artgan.evaluation.image_sets import ImageSet, Progress

from . import InceptionWeightsError
from .options import FIDOptions, ISOptions, KIDOptions
from .inception import (find_inception_weights, is_torchscript_weights, load_inception,
                        no_logits_message, verify_weights)
from .stats import (frechet_distance, inception_score, kernel_inception_distance,
                    softmax_probs)


class InceptionMetric(Metric):
    """What FID, KID and IS share: the feature network and the protocol they report."""

    higher_is_better = False
    requires_real = True
    key = ""
    component_name = ""

    def __init__(self, options=None, *, feature_fn: Callable | None = None):
        self.options = options if options is not None else self._default_options()
        self.feature_fn = feature_fn
        self.weights_path = self.weights_sha256 = None
        if feature_fn is None:  # fail now, before anything is generated or loaded
            self.weights_path = find_inception_weights(self.options.inception_weights)
            self.weights_sha256 = verify_weights(self.weights_path)


    @staticmethod
    def _default_options():
        raise NotImplementedError

    def network(self, device: str | torch.device = "cpu") -> Callable:
        """The feature network on ``device`` (the injected ``feature_fn`` if any)."""
        if self.feature_fn is not None:
            return self.feature_fn
        return load_inception(self.weights_path, device=device)

    def prepare(self, device: str | torch.device = "cpu") -> None:
        """Load the network now, so that a broken weights file fails before any work."""
        self.network(device)

    def compute(self, fake, real=None, device: str | torch.device = "cpu", *,
                store: FeatureStore | None = None,
                progress: Progress | None = None) -> dict[str, float | int | str]:
        """Score ``fake`` against ``real`` (ImageSets, tensors or iterables of batches)."""
        store = store or FeatureStore(device, progress=progress)
        fake = ImageSet.wrap(fake, "generated images")
        if real is not None:
            real = ImageSet.wrap(real, "real images")
        elif self.requires_real:
            raise MetricError(f"{self.component_name or self.key} needs real images "
                              f"(a reference set such as --real demo)")
        net = self.network(store.device)
        out = self._score(store, net, fake, real)
        out.update({
            "network": getattr(net, "identity", None) or
            f"feature_fn {getattr(net, '__name__', type(net).__name__)}",
            "resize": getattr(net, "resize", "none (feature_fn)"),
            "quantized_8bit": int(store.quantize), "fake": fake.description})
        if real is not None and self.requires_real:
            out["reference"] = real.description
        return out

    def _score(self, store: FeatureStore, net, fake: ImageSet,
               real: ImageSet | None) -> dict[str, Any]:
        raise NotImplementedError


class FID(InceptionMetric):
    """Frechet Inception Distance between pool3 features of fake and real images."""

    key = "fid"
    component_name = "fid"

    @staticmethod
    def _default_options():
        return FIDOptions()

    def _score(self, store, net, fake, real):
        mu_f, sigma_f, n_f = store.stats(fake, net, "pool")
        mu_r, sigma_r, n_r = store.stats(real, net, "pool")
        # FID = ||mu_f - mu_r||^2 + Tr(S_f + S_r - 2 sqrt(S_f S_r))
        out: dict[str, Any] = {"fid": frechet_distance(mu_f, sigma_f, mu_r, sigma_r),
                               "num_fake": n_f, "num_real": n_r, "feature_dims": len(mu_f)}
        if min(n_f, n_r) < len(mu_f):
            out["note"] = (f"FID from fewer images than feature dimensions ({len(mu_f)}) is "
                           f"strongly biased upwards; compare runs only at equal counts "
                           f"(papers use 10000-50000 images)")
        return out


class KID(InceptionMetric):
    """Kernel Inception Distance: unbiased MMD^2 (cubic kernel) over random subsets."""

    key = "kid"
    component_name = "kid"

    @staticmethod
    def _default_options():
        return KIDOptions()

    def _score(self, store, net, fake, real):
        f_fake = store.features(fake, net, "pool")
        f_real = store.features(real, net, "pool")
        size = min(self.options.subset_size, len(f_fake), len(f_real))
        # KID = mean over subsets of MMD^2_u with k(x, y) = (x.y / d + 1)^3
        mean, std = kernel_inception_distance(f_real, f_fake, subsets=self.options.subsets,
                                              subset_size=size, seed=self.options.seed)
        return {"kid": mean, "kid_std": std, "kid_subsets": self.options.subsets,
                "kid_subset_size": size, "num_fake": len(f_fake), "num_real": len(f_real)}


class InceptionScore(InceptionMetric):
    """Inception Score of the fake images (real images are not used)."""

    key = "is"
    component_name = "is"
    higher_is_better = True
    requires_real = False

    def __init__(self, options=None, *, feature_fn: Callable | None = None):
        super().__init__(options, feature_fn=feature_fn)
        if is_torchscript_weights(self.weights_sha256):  # pool features only: say so now
            raise InceptionWeightsError(no_logits_message(self.weights_path, self.key))

    @staticmethod
    def _default_options():
        return ISOptions()

    def check(self, num_images: int) -> None:
        """Every split needs at least one image."""
        if num_images < self.options.splits:
            raise MetricError(f"is: {self.options.splits} splits (option is.splits) need at "
                              f"least {self.options.splits} generated images, got "
                              f"{num_images}; use more images or -o is.splits=N with "
                              f"N <= {num_images}")

    def _score(self, store, net, fake, real):
        # softmax without the fc bias, like the original IS code (pool3 @ W)
        probs = softmax_probs(store.features(fake, net, "logits_unbiased").astype(np.float64))
        # IS = exp(E_x KL(p(y|x) || p(y))), mean and std over splits
        mean, std = inception_score(probs, splits=self.options.splits)
        return {"is": mean, "is_std": std, "is_splits": self.options.splits,
                "num_fake": len(probs), "classes": probs.shape[1]}
