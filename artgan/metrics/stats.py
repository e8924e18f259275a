"""The maths of FID, KID and the Inception Score, on NumPy arrays in float64.

Every function takes features or probabilities as arrays ``(N, D)`` and returns plain
floats. Nothing here knows about networks or images, so each formula can be checked on
its own (``tests/test_metrics.py`` compares them with independent computations).
"""

from __future__ import annotations

import numpy as np
from scipy.special import softmax, xlogy

from artgan.core.errors import MetricError
from artgan.evaluation.features import as_matrix as _as_matrix
from artgan.evaluation.features import gaussian_stats  # noqa: F401 (part of the maths)


def _psd_sqrt(s: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric PSD matrix (negative round-off eigenvalues -> 0)."""
    vals, vecs = np.linalg.eigh((s + s.T) / 2)
    return (vecs * np.sqrt(np.clip(vals, 0.0, None))) @ vecs.T


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """Frechet distance between the Gaussians N(mu1, sigma1) and N(mu2, sigma2).

    ``Tr sqrt(S1 S2)`` is computed as the sum of the square roots of the eigenvalues of
    ``sqrt(S1) S2 sqrt(S1)``, which is symmetric positive semi-definite and has the same
    eigenvalues as ``S1 S2``. Unlike ``scipy.linalg.sqrtm(S1 @ S2)`` this needs no
    epsilon offset for singular covariances (fewer images than dimensions) and can never
    give a complex or NaN result; round-off eigenvalues below 0 are set to 0.
    """
    mu1, mu2 = (np.asarray(m, dtype=np.float64).reshape(-1) for m in (mu1, mu2))
    s1, s2 = (np.asarray(s, dtype=np.float64) for s in (sigma1, sigma2))
    d = mu1.shape[0]
    if mu2.shape != (d,) or s1.shape != (d, d) or s2.shape != (d, d):
        raise MetricError(f"frechet_distance: shapes do not match: mu {mu1.shape}, "
                          f"{mu2.shape}; sigma {s1.shape}, {s2.shape}")
    if not all(np.isfinite(a).all() for a in (mu1, mu2, s1, s2)):
        raise MetricError("frechet_distance: statistics contain NaN or infinite values")
    root1 = _psd_sqrt(s1)
    middle = root1 @ s2 @ root1
    eig = np.linalg.eigvalsh((middle + middle.T) / 2)
    tr_covmean = np.sqrt(np.clip(eig, 0.0, None)).sum()
    diff = mu1 - mu2
    # FID = ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 sqrt(S1 S2))
    fd = diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr_covmean
    return float(max(fd, 0.0))  # >= 0 in exact arithmetic; clip round-off only


def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The KID kernel k(x, y) = (x.y / d + 1)^3 for all pairs of rows."""
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def mmd2_unbiased(x, y) -> float:
    """Unbiased estimate of MMD^2 between samples ``x`` (m, d) and ``y`` (n, d), cubic kernel."""
    x, y = _as_matrix(x, "x"), _as_matrix(y, "y")
    m, n = len(x), len(y)
    if m < 2 or n < 2:
        raise MetricError(f"unbiased MMD needs at least 2 samples on each side, got {m}, {n}")
    kxx, kyy, kxy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    # MMD^2_u = sum_{i!=j} k(xi,xj)/(m(m-1)) + sum_{i!=j} k(yi,yj)/(n(n-1)) - 2 mean k(xi,yj)
    xx = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    yy = (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
    return float(xx + yy - 2.0 * kxy.mean())


def kernel_inception_distance(real, fake, *, subsets: int = 100, subset_size: int = 1000,
                              seed: int = 0) -> tuple[float, float]:
    """KID (Binkowski et al. 2018): mean and std of unbiased MMD^2 over random subsets.

    Each of ``subsets`` rounds draws ``subset_size`` rows of ``real`` and of ``fake``
    without replacement (``numpy.random.default_rng(seed)``). ``subset_size`` must not
    exceed either set (callers clamp it and report the size used).
    """
    real, fake = _as_matrix(real, "real features"), _as_matrix(fake, "fake features")
    if real.shape[1] != fake.shape[1]:
        raise MetricError(f"KID: feature sizes differ: {real.shape[1]} vs {fake.shape[1]}")
    if not 2 <= subset_size <= min(len(real), len(fake)):
        raise MetricError(f"KID: subset size {subset_size} needs 2 <= size <= the number of "
                          f"images ({len(real)} real, {len(fake)} fake)")
    rng = np.random.default_rng(seed)
    values = np.array([
        mmd2_unbiased(real[rng.choice(len(real), subset_size, replace=False)],
                      fake[rng.choice(len(fake), subset_size, replace=False)])
        for _ in range(subsets)])
    return float(values.mean()), float(values.std())


def inception_score(probs, *, splits: int = 10) -> tuple[float, float]:
    """Inception Score (Salimans et al. 2016): mean and std over ``splits`` of
    exp(E_x KL(p(y|x) || p(y))), p(y) being the mean of p(y|x) within the split.

    ``probs`` are class probabilities (N, K), rows summing to 1. Splits are consecutive
    chunks, as in the original implementation. Use :func:`softmax_probs` for logits.
    """
    p = _as_matrix(probs, "class probabilities")
    if (p < 0).any() or not np.allclose(p.sum(axis=1), 1.0, atol=1e-4):
        raise MetricError("inception_score: rows must be probabilities (>= 0, summing to 1)")
    n = len(p)
    if not 1 <= splits <= n:
        raise MetricError(f"inception_score: {splits} splits need at least {splits} images, "
                          f"got {n}")
    scores = []
    for k in range(splits):
        part = p[k * n // splits:(k + 1) * n // splits]
        p_y = part.mean(axis=0, keepdims=True)
        # IS = exp(E_x sum_y p(y|x) (log p(y|x) - log p(y))); 0 log 0 = 0 via xlogy
        kl = (xlogy(part, part) - xlogy(part, p_y)).sum(axis=1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


def softmax_probs(logits) -> np.ndarray:
    """Row-wise softmax in float64."""
    return softmax(_as_matrix(logits, "logits"), axis=1)
