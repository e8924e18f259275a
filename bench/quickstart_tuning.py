"""How the quick start's settings were chosen: one training run, scored along the way.

Trains in-process through ``make_trainer`` and, every ``--every`` steps, scores 500
samples (seed 1) of the raw generator, of the EMA generator where the run has one, and of
each with its BatchNorm statistics recomputed on 640 fresh samples, with the style
classifier of bench/style_classifier.py (the same line as bench/quickstart.py prints).
For the raw generator it also prints the **diversity by intended label**: the mean, over
the five styles, of the spread (bench/quickstart.py's ``spread``) of the first 40 samples
drawn for that style over the spread of 40 real images of it. This differs from
bench/quickstart.py's figure, which groups samples by the class the judge gives them and
so also works for unconditional generators. The times printed leave the scoring out.
``--grids DIR`` saves ten samples per style at every check.

    python bench/quickstart_tuning.py --name chosen --every 320 --threads 1 \\
        --kw '{"gen": "cgan", "loss": "hinge", "resolution": 32, "epochs": 50,
               "lr_decay": 0.5, "seed": 0}' \\
        --opts '{"gen": {"ngf": 32, "embed_dim": 10},
                 "disc": {"ndf": 32, "spectral_norm": true}}'

``--kw`` takes ``make_trainer``'s settings (data defaults to demo), ``--opts`` its
component options. bench/README.md's tuning table lists the runs.
"""

from __future__ import annotations

import argparse
import copy
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from artgan.api import make_trainer  # noqa: E402
from artgan.core.callbacks import TrainerCallbacks  # noqa: E402
from artgan.core.sampling import sample_images  # noqa: E402
from bench.quickstart import describe, spread  # noqa: E402
from bench.style_classifier import demo_set, style_shares, train_style_classifier  # noqa: E402

PER_STYLE = 40


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def recomputed_batchnorm(G):
    """A copy of ``G`` whose BatchNorm statistics are the average over 640 fresh samples."""
    G = copy.deepcopy(G)
    norms = [m for m in G.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a plain average over the batches
    G.train()
    with torch.no_grad():
        sample_images(G, 640, seed=99)
    return G.eval()


def label_diversity(images: torch.Tensor, styles: int, resolution: int) -> float:
    """Diversity by intended label (see the module docstring); labels cycle 0..K-1."""
    labels = torch.arange(len(images)) % styles
    real, real_labels = demo_set(PER_STYLE, resolution, 777)
    return sum(spread(images[labels == c][:PER_STYLE]) / spread(real[real_labels == c])
               for c in range(styles)) / styles


class Checks(TrainerCallbacks):
    def __init__(self, args, clf, resolution: int):
        self.args, self.clf, self.resolution = args, clf, resolution
        self.trainer, self.done = None, set()
        self.start, self.start_cpu = time.perf_counter(), cpu_seconds()
        self.scoring, self.scoring_cpu = 0.0, 0.0

    def on_start(self, trainer) -> None:
        self.trainer = trainer

    def on_log(self, record) -> None:
        step = self.trainer.step
        if step % self.args.every or step in self.done:
            return
        self.done.add(step)
        wall, cpu = time.perf_counter(), cpu_seconds()
        minutes = (f"{(wall - self.start - self.scoring) / 60:.2f} min, "
                   f"{(cpu - self.start_cpu - self.scoring_cpu) / 60:.2f} CPU-min")
        ema = self.trainer.ema.module if self.trainer.ema is not None else None
        for which, G in (("raw", self.trainer.G), ("ema", ema)):
            if G is None:
                continue
            for variant, net in ((which, G), (f"{which}, BN recomputed", recomputed_batchnorm(G))):
                was = net.training
                net.eval()
                with torch.no_grad():
                    images = sample_images(net, 500, seed=1)
                net.train(was)
                line = describe(f"step {step} {variant}", style_shares(self.clf, images))
                if variant == "raw" and net.conditional:
                    diversity = label_diversity(images, net.num_classes, self.resolution)
                    line += f"; diversity by label {diversity:.2f}"
                    self._grid(images, step)
                print(f"{self.args.name}: {line} ({minutes})", flush=True)
        self.scoring += time.perf_counter() - wall
        self.scoring_cpu += cpu_seconds() - cpu

    def _grid(self, images: torch.Tensor, step: int) -> None:
        if self.args.grids is None:
            return
        import torchvision.utils as vutils

        labels = torch.arange(len(images)) % self.trainer.G.num_classes
        order = torch.cat([torch.nonzero(labels == c).flatten()[:10]
                           for c in range(self.trainer.G.num_classes)])
        self.args.grids.mkdir(parents=True, exist_ok=True)
        vutils.save_image(images[order] * 0.5 + 0.5,
                          self.args.grids / f"{self.args.name}-{step}.png", nrow=10, padding=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="run")
    parser.add_argument("--every", type=int, default=320, help="Steps between checks.")
    parser.add_argument("--kw", default="{}", help="make_trainer settings, as JSON.")
    parser.add_argument("--opts", default="{}", help="Component options, as JSON.")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default).")
    parser.add_argument("--grids", type=Path, default=None, help="Save sample grids here.")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    settings, options = json.loads(args.kw), json.loads(args.opts)
    settings.setdefault("data", "demo")
    resolution = settings.get("resolution", 32)
    clf = train_style_classifier(resolution=resolution, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        make_trainer(out=Path(tmp) / "run", callbacks=Checks(args, clf, resolution),
                     options=options, **settings).fit()


if __name__ == "__main__":
    main()
