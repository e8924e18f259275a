"""The pix2pix loss (Isola et al. 2017, "Image-to-Image Translation with Conditional
Adversarial Networks"): the vanilla (non-saturating) GAN loss plus an L1 term.

``D`` is what the trainer hands the loss: for an image-conditioned discriminator it is
already bound to the step's input images, so ``D(fake, y)`` judges the pair
(input, G(input)) as pix2pix's D(x, G(x)) does. Scores may be a map per image (PatchGAN);
every score counts equally.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from artgan.core.loss import Loss, OptimizerSettings


class Pix2PixLoss(Loss):
    """D: 1/2 (BCE(D(x, y), 1) + BCE(D(x, G(x)), 0)); G: BCE(D(x, G(x)), 1) + lambda L1,
    the L1 optionally weighted by ``hole_weight`` inside a restorer's damage mask.

    pix2pix halves D's objective "to slow down the rate at which D learns relative to G";
    so does this loss. ``real`` is the target image (the clean picture), ``fake`` G's
    output for the step's input image.
    """

    optimizer = OptimizerSettings("adam", lr=2e-4, betas=(0.5, 0.999))

    def __init__(self, options):
        self.l1_weight = float(options.l1_weight)
        self.hole_weight = float(getattr(options, "hole_weight", 1.0))

    def discriminator_loss(self, G, D, real, fake, y):
        real_logits, fake_logits = D(real, y), D(fake, y)
        # -log(sigmoid(D(x, y))) = softplus(-l) ; -log(1 - sigmoid(D(x, G(x)))) = softplus(l)
        loss_real = F.softplus(-real_logits).mean()
        loss_fake = F.softplus(fake_logits).mean()
        # 0.5 * (loss_real + loss_fake), as pix2pix
        return {"loss": 0.5 * (loss_real + loss_fake), "real": real_logits.detach().mean(),
                "fake": fake_logits.detach().mean()}

    def generator_loss(self, G, D, real, fake, y, condition=None):
        # -log(sigmoid(D(x, G(x))))
        adversarial = F.softplus(-D(fake, y)).mean()
        # E[w |y - G(x)|] over pixels and channels; w = hole_weight where the input's
        # mask channel (its last, +1 damaged) marks damage, 1 elsewhere (all 1: plain L1)
        error = (fake - real).abs()
        if self.hole_weight != 1.0 and condition is not None \
                and condition.shape[1] == real.shape[1] + 1:
            damaged = condition[:, -1:] > 0
            error = error * torch.where(damaged, self.hole_weight, 1.0).to(error.dtype)
        l1 = error.mean()
        return {"loss": adversarial + self.l1_weight * l1, "adv": adversarial.detach(),
                "l1": l1.detach()}
