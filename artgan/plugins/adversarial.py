"""Adversarial loss implementations. Each phase returns {"loss": ..., other stats}.

Notation: D(x) are the critic's raw scores (logits), x real images, G(z) generated ones.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from artgan.core.loss import Loss, OptimizerSettings
from artgan.core.regularizers import per_image_score


def _scores(D, real, fake, y):
    real_scores, fake_scores = D(real, y), D(fake, y)
    stats = {"real": real_scores.detach().mean(), "fake": fake_scores.detach().mean()}
    return real_scores, fake_scores, stats


class NonSaturatingGAN(Loss):
    """Goodfellow et al. 2014, with the non-saturating generator loss, on logits."""

    optimizer = OptimizerSettings("adam", lr=2e-4, betas=(0.5, 0.999))

    def __init__(self, options=None):
        self.real_target = 1.0 - (options.label_smoothing if options is not None else 0.0)

    def discriminator_loss(self, G, D, real, fake, y):
        real_logits, fake_logits, stats = _scores(D, real, fake, y)
        # BCE(l, t) = softplus(l) - t*l ; with t = 1: -log(sigmoid(D(x))) ; t = 0: -log(1 - sigmoid(D(G(z))))
        loss_real = (F.softplus(real_logits) - self.real_target * real_logits).mean()
        loss_fake = F.softplus(fake_logits).mean()
        return {"loss": loss_real + loss_fake, **stats}

    def generator_loss(self, G, D, real, fake, y):
        # -log(sigmoid(D(G(z))))
        return {"loss": F.softplus(-D(fake, y)).mean()}


class Hinge(Loss):
    """Hinge loss (Lim & Ye 2017; Miyato et al. 2018), as in SN-GAN and SAGAN."""

    optimizer = OptimizerSettings("adam", lr=2e-4, betas=(0.0, 0.9))

    def __init__(self, options=None):
        pass

    def discriminator_loss(self, G, D, real, fake, y):
        real_scores, fake_scores, stats = _scores(D, real, fake, y)
        # E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))]
        loss = F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()
        return {"loss": loss, **stats}

    def generator_loss(self, G, D, real, fake, y):
        # -E[D(G(z))]
        return {"loss": -D(fake, y).mean()}


class LeastSquares(Loss):
    """LSGAN (Mao et al. 2017) with targets a=0 (fake), b=1 (real), c=1 (G's target)."""

    optimizer = OptimizerSettings("adam", lr=2e-4, betas=(0.5, 0.999))

    def __init__(self, options=None):
        pass

    def discriminator_loss(self, G, D, real, fake, y):
        real_scores, fake_scores, stats = _scores(D, real, fake, y)
        # 1/2 E[(D(x) - 1)^2] + 1/2 E[D(G(z))^2]
        loss = 0.5 * (real_scores - 1).square().mean() + 0.5 * fake_scores.square().mean()
        return {"loss": loss, **stats}

    def generator_loss(self, G, D, real, fake, y):
        # 1/2 E[(D(G(z)) - 1)^2]
        return {"loss": 0.5 * (D(fake, y) - 1).square().mean()}


class Wasserstein(Loss):
    """WGAN (Arjovsky et al. 2017): critic weights clipped to [-c, c] after each update."""

    optimizer = OptimizerSettings("rmsprop", lr=5e-5, betas=(0.0, 0.0))

    def __init__(self, options):
        self.clip = options.clip
        self.n_critic = options.n_critic

    def discriminator_loss(self, G, D, real, fake, y):
        real_scores, fake_scores, stats = _scores(D, real, fake, y)
        wdist = real_scores.mean() - fake_scores.mean()
        # E[D(G(z))] - E[D(x)] = -(critic's Wasserstein estimate)
        return {"loss": -wdist, "wdist": wdist.detach(), **stats}

    def generator_loss(self, G, D, real, fake, y):
        # -E[D(G(z))]
        return {"loss": -D(fake, y).mean()}

    @torch.no_grad()
    def after_discriminator_step(self, D):
        for p in D.parameters():
            p.clamp_(-self.clip, self.clip)


def gradient_penalty(D, real, fake, y):
    """E[(||grad_x D(x_hat)||_2 - 1)^2] at x_hat = eps*x + (1-eps)*G(z), eps ~ U[0, 1].

    D(x_hat) is the image's score: the mean over its patches for a patch discriminator
    (:func:`artgan.core.regularizers.per_image_score`), so the penalty does not grow with
    the number of patches."""
    eps = torch.rand(real.shape[0], 1, 1, 1, device=real.device, dtype=real.dtype)
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    scores = per_image_score(D(x_hat, y))
    (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
    return (grad.float().flatten(1).norm(2, dim=1) - 1).square().mean()


class WassersteinGP(Wasserstein):
    """WGAN-GP (Gulrajani et al. 2017): lambda * (||grad D(x_hat)||_2 - 1)^2 on interpolates."""

    optimizer = OptimizerSettings("adam", lr=1e-4, betas=(0.0, 0.9))
    forbids_batchnorm = True
    needs_double_backward = True  # the penalty differentiates grad_x D(x_hat)

    def __init__(self, options):
        self.gp_weight = options.gp_weight
        self.n_critic = options.n_critic

    def discriminator_loss(self, G, D, real, fake, y):
        out = super().discriminator_loss(G, D, real, fake, y)
        gp = gradient_penalty(D, real, fake, y)
        # -(E[D(x)] - E[D(G(z))]) + lambda * E[(||grad D(x_hat)|| - 1)^2]
        return {**out, "loss": out["loss"] + self.gp_weight * gp, "gp": gp.detach()}

    def after_discriminator_step(self, D):
        pass  # no clipping: the penalty replaces it
