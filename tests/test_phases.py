"""Phases as data: every schedule against a hand count of updates."""

from __future__ import annotations

import dataclasses

import pytest
import torch

import artgan
from artgan.core.loss import DISCRIMINATOR, GENERATOR, Phase, PhaseInputs
from artgan.core.regularizers import GradientPenalty

TINY = dict(data="demo", resolution=16, batch_size=8, device="cpu",
            options={"gen": {"ngf": 8, "z_dim": 16}, "disc": {"ndf": 8}, "data": {"size": 16}})


def spied(trainer):
    """Record (step, phase name) for every phase objective the trainer runs, and count
    each optimiser's steps."""
    ran, steps = [], {GENERATOR: 0, DISCRIMINATOR: 0}
    for i, phase in enumerate(trainer.phases):
        def spy(inputs, phase=phase):
            ran.append((inputs.step, phase.name))
            return phase.objective(inputs)
        trainer.phases[i] = dataclasses.replace(phase, objective=spy)
    for network, opt in trainer.optimizers.items():
        real_step = opt.step

        def counted(*args, network=network, real_step=real_step, **kwargs):
            steps[network] += 1
            return real_step(*args, **kwargs)
        opt.step = counted
    return ran, steps


def schedule(ran, name):
    return [step for step, phase in ran if phase == name]


def test_n_critic_runs_the_generator_every_k_th_step(tmp_path):
    trainer = artgan.make_trainer(loss="wgan-gp", max_steps=9, out=tmp_path / "run",
                                  **{**TINY, "options": {**TINY["options"],
                                                         "loss": {"n_critic": 3}}})
    ran, steps = spied(trainer)
    trainer.fit()
    assert schedule(ran, "d") == list(range(9))
    assert schedule(ran, "g") == [2, 5, 8]  # the last of each group of three
    assert steps == {DISCRIMINATOR: 9, GENERATOR: 3}


def test_lazy_r1_and_r2_run_every_k_steps_from_step_0(tmp_path):
    trainer = artgan.make_trainer(r1=1.0, r1_every=4, r2=0.5, r2_every=3, max_steps=10,
                                  out=tmp_path / "run", **TINY)
    ran, steps = spied(trainer)
    trainer.fit()
    assert schedule(ran, "r1") == [0, 4, 8]
    assert schedule(ran, "r2") == [0, 3, 6, 9]
    assert schedule(ran, "g") == list(range(10))
    # d every step, plus one D update per regulariser phase
    assert steps == {DISCRIMINATOR: 10 + 3 + 4, GENERATOR: 10}
    # within a step: the loss's phases first, then the regularisers, in order
    assert [name for step, name in ran if step == 0] == ["d", "g", "r1", "r2"]


def test_a_loss_s_own_regulariser_and_an_extra_phase(tmp_path):
    """``regularize_every`` adds a D phase; a loss may add any phase by overriding
    ``phases()`` (here a generator regulariser every 5 steps, at step 4, 9, ...)."""
    base = type(artgan.create("loss", "gan"))

    class Extra(base):
        regularize_every = 3

        def regularizer_loss(self, G, D, real, y, fake=None):
            return {"loss": 0.0 * D(real, y).mean()}

        def phases(self):
            def g_reg(inputs: PhaseInputs):
                return {"loss": 1e-3 * inputs.fake.square().mean()}
            return [*super().phases(), Phase("g-reg", GENERATOR, g_reg, every=5, at=4)]

    trainer = artgan.make_trainer(loss=Extra(), max_steps=10, out=tmp_path / "run", **TINY)
    ran, steps = spied(trainer)
    trainer.fit()
    assert schedule(ran, "reg") == [0, 3, 6, 9]
    assert schedule(ran, "g-reg") == [4, 9]
    assert steps == {DISCRIMINATOR: 10 + 4, GENERATOR: 10 + 2}


def test_r2_matches_the_closed_form_of_a_linear_critic():
    """R2 penalises D's gradient at the generated images: for D(x) = w . x it is ||w||^2."""
    w = torch.randn(3 * 16 * 16, requires_grad=True)

    def D(x, y=None):
        return x.flatten(1) @ w

    fake = torch.randn(5, 3, 16, 16, requires_grad=True)  # detached by the phase
    inputs = PhaseInputs(G=None, D=D, D_module=None, real=torch.zeros_like(fake), fake=fake,
                         y=None, condition=None, step=0)
    out = GradientPenalty("r2", gamma=2.0, every=4).objective(inputs)
    assert out["penalty"].item() == pytest.approx(w.detach().square().sum().item(), rel=1e-5)
    assert out["loss"].item() == pytest.approx(4 * w.detach().square().sum().item(), rel=1e-5)
    out["loss"].backward()
    assert fake.grad is None  # the penalty trains D only


def test_a_phase_refuses_a_schedule_that_never_runs():
    with pytest.raises(ValueError, match="0 <= at < every"):
        Phase("g", GENERATOR, lambda inputs: {}, every=2, at=2)
    with pytest.raises(ValueError, match="network must be"):
        Phase("x", "critic", lambda inputs: {})
