"""Adversarial loss implementations. Each phase returns {"loss": ..., other stats}."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from artgan.core.loss import Loss, OptimizerSettings


class NonSaturatingGAN(Loss):
    """Goodfellow et al. 2014, with the non-saturating generator loss, on logits."""

    n_critic = 1
    optimizer = OptimizerSettings("adam", lr=2e-4, betas=(0.5, 0.999))

    def __init__(self, options=None):
        self.real_target = 1.0 - (options.label_smoothing if options is not None else 0.0)

    def discriminator_loss(self, G, D, real, fake, y):
        real_logits, fake_logits = D(real, y), D(fake, y)
        # BCE(l, t) = softplus(l) - t*l ; with t = 1: -log(sigmoid(D(x))) ; t = 0: -log(1 - sigmoid(D(G(z))))
        loss_real = (F.softplus(real_logits) - self.real_target * real_logits).mean()
        loss_fake = F.softplus(fake_logits).mean()
        return {"loss": loss_real + loss_fake, "real": real_logits.detach().mean(),
                "fake": fake_logits.detach().mean()}

    def generator_loss(self, G, D, fake, y):
        logits = D(fake, y)
        # -log(sigmoid(D(G(z))))
        return {"loss": F.softplus(-logits).mean()}
