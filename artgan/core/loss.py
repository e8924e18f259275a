"""The Loss interface, and the phases it contributes to a training step.

A loss receives the networks, not only their outputs, so that penalties needing D at
other points (gradient penalties at interpolates) live inside the loss. Each objective
returns a dict of scalar tensors; the key ``"loss"`` is what the trainer
back-propagates, every other key is logged as a statistic (``d/<key>``, ...).

A training step runs a list of :class:`Phase` objects, each saying which network it
updates, how often and with which objective. :meth:`Loss.phases` turns the classic
methods into phases (D every step, G every ``n_critic`` steps, the loss's own
regulariser every ``regularize_every`` steps); regularisers any loss can use (R1, R2)
add theirs (:mod:`artgan.core.regularizers`).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable

import torch

from .networks import Discriminator, Generator

GENERATOR, DISCRIMINATOR = "generator", "discriminator"


@dataclass
class PhaseInputs:
    """What a phase's objective sees in one step.

    ``D`` is what the loss should call: the discriminator behind the step's
    augmentation (when ``--augment`` is on) and bound to the step's input images (for
    image-conditioned discriminators); ``D_module`` is the trained module itself (for
    after-update hooks such as weight clipping). ``fake`` is ``G(z, y, condition)``,
    computed once per step; it carries gradients to G only in generator phases.
    """

    G: Generator
    D: Any
    D_module: Discriminator
    real: torch.Tensor
    fake: torch.Tensor
    y: torch.Tensor | None
    condition: torch.Tensor | None
    step: int


@dataclass(frozen=True)
class Phase:
    """One kind of update: ``objective(inputs)`` is minimised for ``network``
    (``"generator"`` or ``"discriminator"``, each with its own optimiser) at the steps
    where ``step % every == at``. ``after(inputs)`` hooks run after the update and may
    return statistics to log. Stats are logged as ``<name>/<key>``.

    ``main`` marks the loss's adversarial phases: the trainer shows the main
    discriminator phase its real batch (adaptive augmentation, a discriminator's own
    objective on real images) and updates the generator's moving average after the main
    generator phase.
    """

    name: str
    network: str
    objective: Callable[[PhaseInputs], dict[str, torch.Tensor]]
    every: int = 1
    at: int = 0
    after: tuple[Callable[[PhaseInputs], dict[str, torch.Tensor] | None], ...] = ()
    main: bool = False

    def __post_init__(self) -> None:
        if self.network not in (GENERATOR, DISCRIMINATOR):
            raise ValueError(f"phase {self.name!r}: network must be {GENERATOR!r} or "
                             f"{DISCRIMINATOR!r}, got {self.network!r}")
        if self.every < 1 or not 0 <= self.at < self.every:
            raise ValueError(f"phase {self.name!r}: needs every >= 1 and 0 <= at < every, "
                             f"got every={self.every}, at={self.at}")

    def due(self, step: int) -> bool:
        return step % self.every == self.at


@dataclass(frozen=True)
class OptimizerSettings:
    """An optimiser recommendation: ``name`` is ``adam`` or ``rmsprop``."""

    name: str = "adam"
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    weight_decay: float = 0.0
    #: Keep the learning rate until this fraction of the training steps, then decay it
    #: linearly to 0 (CycleGAN: 0.5); None: constant.
    decay_start: float | None = None


def accepts(method: Callable, name: str) -> bool:
    """Whether ``method`` takes a keyword argument ``name`` (or ``**kwargs``)."""
    try:
        params = inspect.signature(method).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == name or p.kind is p.VAR_KEYWORD for p in params)


class Loss:
    """Base class for adversarial losses.

    Implement :meth:`discriminator_loss` and :meth:`generator_loss`. Class attributes a
    loss may override:

    - ``n_critic``: discriminator steps per generator step.
    - ``regularize_every``: run :meth:`regularizer_loss` every k steps (0 = never); it
      updates the discriminator.
    - ``optimizer``: the recommended :class:`OptimizerSettings` for both networks.
    - ``forbids_batchnorm``: the discriminator must not use BatchNorm (per-sample
      penalties such as WGAN-GP's are wrong when samples in a batch interact).
    - ``needs_double_backward``: the loss back-propagates through gradients of D
      (gradient penalties); ``--compile`` then leaves D uncompiled, since
      ``torch.compile`` does not support double backward.

    The methods may also take a keyword argument ``condition`` (the step's input images,
    for image-to-image losses); it is passed only to methods that accept it.
    ``__init__`` receives the options instance; calling ``super().__init__()`` is not
    needed. A loss with state that must survive a resume (an image history, say)
    implements ``state_dict()`` and ``load_state_dict(state)``; the trainer saves them in
    checkpoints. A loss that needs other updates (a generator regulariser) overrides
    :meth:`phases`.
    """

    n_critic: int = 1
    regularize_every: int = 0
    optimizer: OptimizerSettings = OptimizerSettings()
    forbids_batchnorm: bool = False
    needs_double_backward: bool = False
    #: Stamped by the registry: the registered name and who provides it, for messages.
    component_name: str = ""
    component_source: str = ""

    @property
    def who(self) -> str:
        """``loss 'hinge' (built into artgan)``, for messages."""
        name = self.component_name or type(self).__name__
        source = f" ({self.component_source})" if self.component_source else ""
        return f"loss {name!r}{source}"

    def discriminator_loss(self, G: Generator, D: Discriminator, real: torch.Tensor,
                           fake: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """Loss for the discriminator step; ``fake`` is detached from G."""
        raise NotImplementedError

    def generator_loss(self, G: Generator, D: Discriminator, real: torch.Tensor,
                       fake: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """Loss for the generator step; gradients flow through ``fake`` into G.

        ``real`` is the step's real batch, for relativistic losses that compare the two.
        """
        raise NotImplementedError

    def after_discriminator_step(self, D: Discriminator) -> None:
        """Called after each discriminator update (WGAN clips D's weights here)."""

    def regularizer_loss(self, G: Generator, D: Discriminator, real: torch.Tensor,
                         y: torch.Tensor | None, fake: torch.Tensor | None = None
                         ) -> dict[str, torch.Tensor]:
        """Optional extra discriminator objective, run every ``regularize_every`` steps.

        ``fake`` is the step's generated batch, detached (older losses may leave the
        argument out). Return ``{}`` to skip the update this time.
        """
        return {}

    # -- phases ---------------------------------------------------------------------------
    def phases(self) -> list[Phase]:
        """The phases of this loss: the discriminator every step, the generator every
        ``n_critic`` steps (at the last of each group of ``n_critic``), the regulariser
        every ``regularize_every`` steps."""
        n = int(self.n_critic)
        phases = [Phase("d", DISCRIMINATOR, self._d_objective, after=(self._after_d,),
                        main=True),
                  Phase("g", GENERATOR, self._g_objective, every=n, at=n - 1, main=True)]
        if self.regularize_every:
            phases.append(Phase("reg", DISCRIMINATOR, self._reg_objective,
                                every=int(self.regularize_every)))
        return phases

    def _with_condition(self, method: Callable, inputs: PhaseInputs) -> dict[str, Any]:
        if inputs.condition is not None and accepts(method, "condition"):
            return {"condition": inputs.condition}
        return {}

    def _d_objective(self, inputs: PhaseInputs) -> dict[str, torch.Tensor]:
        return self.discriminator_loss(inputs.G, inputs.D, inputs.real, inputs.fake.detach(),
                                       inputs.y, **self._with_condition(
                                           self.discriminator_loss, inputs))

    def _g_objective(self, inputs: PhaseInputs) -> dict[str, torch.Tensor]:
        return self.generator_loss(inputs.G, inputs.D, inputs.real, inputs.fake, inputs.y,
                                   **self._with_condition(self.generator_loss, inputs))

    def _reg_objective(self, inputs: PhaseInputs) -> dict[str, torch.Tensor]:
        extra = self._with_condition(self.regularizer_loss, inputs)
        if accepts(self.regularizer_loss, "fake"):
            extra["fake"] = inputs.fake.detach()
        return self.regularizer_loss(inputs.G, inputs.D, inputs.real, inputs.y, **extra)

    def _after_d(self, inputs: PhaseInputs) -> None:
        self.after_discriminator_step(inputs.D_module)
