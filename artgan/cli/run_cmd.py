"""``artgan run``: resolve the config, build the components, train, save."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from pathlib import Path

import click
from click.core import ParameterSource

from ..core.config import ConfigError
from ..core.recipes import RECIPES
from .errors import DEVICE_HELP, SEED

# Options that may be given together with --resume (they extend or relocate a run).
_RESUME_ALLOWED = {"resume", "epochs", "max_steps", "device", "precision", "dry_run",
                   "log_every", "checkpoint_every", "sample_every", "eval_every", "sync_bn",
                   "compile", "nproc"}


@click.command("run")
@click.option("--gen", default="dcgan", show_default=True, help="Generator name (artgan list gen).")
@click.option("--disc", default=None, help="Discriminator name [default: the generator's family].")
@click.option("--loss", default="gan", show_default=True, help="Loss name (artgan list loss).")
@click.option("--data", default=None, metavar="NAME[:ARG]",
              help="Data source, e.g. folder:./paintings or demo:waves [default: demo].")
@click.option("--resolution", type=click.IntRange(8, 1024), default=None,
              help="Image size in pixels [default: the data source's, 64 for folders].")
@click.option("--channels", type=click.Choice(["3", "1"]), default="3", show_default=True,
              help="3 for RGB, 1 for grayscale.")
@click.option("--batch-size", type=click.IntRange(1), default=64, show_default=True,
              help="Images per step, over all processes (split evenly between them).")
@click.option("--epochs", type=click.IntRange(1), default=None,
              help="Passes over the data [default: the data source's, 25 for folders].")
@click.option("--max-steps", type=click.IntRange(1), default=None,
              help="Stop after this many steps (a step is one batch).")
@click.option("--lr", type=click.FloatRange(0, min_open=True), default=None,
              help="Learning rate of both networks [default: the loss's recommendation].")
@click.option("--lr-g", type=click.FloatRange(0, min_open=True), default=None,
              help="Generator learning rate (overrides --lr).")
@click.option("--lr-d", type=click.FloatRange(0, min_open=True), default=None,
              help="Discriminator learning rate (overrides --lr).")
@click.option("--optimizer", type=click.Choice(["adam", "rmsprop"]), default=None,
              help="Optimiser of both networks [default: the loss's recommendation].")
@click.option("--betas", type=(click.FloatRange(0, 1, max_open=True),) * 2, default=None,
              metavar="B1 B2", help="Adam's betas, e.g. --betas 0 0.9 [default: the loss's "
                                    "recommendation, else 0.5 0.999].")
@click.option("--device", default="auto", show_default=True, help=DEVICE_HELP)
@click.option("--precision", type=click.Choice(["fp32", "bf16", "fp16"]), default="fp32",
              show_default=True, help="fp16 needs CUDA (uses a grad scaler).")
@click.option("--seed", type=SEED, default=0, show_default=True,
              help="Seeds the weights, data order, noise and augmentations.")
@click.option("--nproc", type=click.IntRange(1), default=1, show_default=True,
              help="Train with this many processes (one per GPU, or gloo on the CPU) by "
                   "re-launching through torchrun.")
@click.option("--sync-bn", is_flag=True,
              help="With several processes, BatchNorm statistics over the global batch "
                   "instead of each process's share (slower; for small per-process batches).")
@click.option("--compile", "compile_", is_flag=True,
              help="torch.compile the generator and discriminator (slow start; PyTorch 2).")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Run folder [default: runs/<time>-<gen>-<loss>].")
@click.option("--resume", type=click.Path(exists=True), default=None,
              help="Continue a run: its folder or a checkpoint file.")
@click.option("--dry-run", is_flag=True, help="Print the resolved config and exit.")
@click.option("-o", "overrides", multiple=True, metavar="GROUP.KEY=VALUE",
              help="Component option, e.g. -o gen.ngf=32 -o loss.label_smoothing=0.1 "
                   "(groups: gen, disc, loss, data, and each chosen metric or augmentation, "
                   "e.g. -o translation.ratio=0.25).")
@click.option("--recipe", default="auto", show_default=True,
              type=click.Choice(["auto", *RECIPES]),
              help="Defaults for a situation, applied only where you chose nothing: "
                   "quickstart (demo art, 32 px, half-width nets; when --data is omitted), "
                   "small-data (augmentation, EMA, R1, 3,000+ steps; for folders under "
                   "2,000 images) or none. auto picks one of them.")
@click.option("--metric", "metrics", multiple=True, metavar="NAME",
              help="Evaluate during training (repeatable), e.g. fid, kid, is, ms-ssim "
                   "(artgan list metric: all installed). Writes metrics.jsonl; the first "
                   "metric picks checkpoints/best.pt.")
@click.option("--eval-every", type=click.IntRange(1), default=500, show_default=True,
              help="Steps between evaluations (one more runs at the end).")
@click.option("--eval-images", type=click.IntRange(2), default=1000, show_default=True,
              help="Generated images per evaluation (papers use 10000-50000 for FID).")
@click.option("--inception-weights", type=click.Path(dir_okay=False), default=None,
              help="FID Inception weights file for fid/kid/is (else $ARTGAN_INCEPTION_WEIGHTS "
                   "or torch hub's cache). Never downloaded.")
@click.option("--augment", default=None, metavar="NAMES",
              help="Differentiable augmentations of every image D sees, comma-separated, "
                   "e.g. color,translation,cutout (artgan list aug); none: off.")
@click.option("--mirror/--no-mirror", default=None,
              help="Random left-right flips of the real images.")
@click.option("--ema/--no-ema", default=None,
              help="Keep an exponential moving average of the generator for samples.")
@click.option("--ema-decay", type=click.FloatRange(0, 1, max_open=True), default=None,
              help="EMA decay, ramped up: min(decay, (1+t)/(10+t)) at step t "
                   "[default: 0.999; small-data recipe: 0.99].")
@click.option("--r1", type=click.FloatRange(0), default=None, metavar="GAMMA",
              help="R1 penalty gamma/2 E||grad D(x)||^2 at real images (0: off).")
@click.option("--r1-every", type=click.IntRange(1), default=16, show_default=True,
              help="Apply R1 every K steps (scaled by K; lazy regularisation).")
@click.option("--ada-target", type=click.FloatRange(0, 1, max_open=True), default=0.0,
              metavar="T", help="Adaptive augmentation (ADA): apply each --augment augmentation "
                                "with a probability p that rises while E[sign(D(real))] > T "
                                "and falls below it; 0.6 is usual (0: off, always apply).")
@click.option("--ada-ramp", "ada_ramp_images", type=click.IntRange(1), default=100_000,
              show_default=True, metavar="IMAGES",
              help="ADA speed: images for p to go from 0 to 1.")
@click.option("--log-every", type=click.IntRange(1), default=10, show_default=True,
              help="Steps between stats lines.")
@click.option("--checkpoint-every", type=click.IntRange(1), default=500, show_default=True,
              help="Steps between checkpoints (one is also saved with each sample grid).")
@click.option("--sample-every", type=click.IntRange(1), default=50, show_default=True,
              help="End-of-epoch sample grid, collapse watch and checkpoint at most this "
                   "often in steps: every k-th epoch when epochs are shorter (small folders); "
                   "the first and last epochs always.")
@click.pass_context
def run_command(ctx: click.Context, **kw) -> None:
    """Train a GAN. With no options: DCGAN on the built-in demo art (a few minutes on a CPU).

    \b
    Examples:
      artgan run
      artgan run --data folder:./paintings --resolution 64 --epochs 100
      artgan run --gen cgan --loss hinge --data folder:./wikiart-styles
    """
    from ..core.options import OptionError, parse_overrides
    from ..plugin_host import get_registry, plugin_versions
    from ..core.config import resolve_config

    registry = get_registry()
    if kw["resume"]:
        config, run_dir, ckpt = _resume_config(ctx, kw)
    else:
        try:
            groups = (*kw["metrics"], *registry.names("augmentation"))
            overrides = parse_overrides(kw["overrides"], extra_groups=groups)
        except OptionError as exc:
            raise click.BadParameter(str(exc), param_hint="-o") from None
        config = _resolve(resolve_config, registry, kw, overrides, plugin_versions())
        run_dir, ckpt = Path(config.out), None
    if kw["dry_run"]:
        _check(config, registry)
        click.echo(json.dumps(config.to_dict(), indent=2))
        return
    if kw["nproc"] > 1:
        _check_before_launch(config, registry, kw["nproc"])
        _relaunch_with_torchrun(kw["nproc"])
    _train(config, registry, run_dir, ckpt)


def _check(config, registry) -> None:
    """Build everything a run needs without training, so that --dry-run refuses what a
    real run would (a conditional model on unlabelled data, BatchNorm under wgan-gp)."""
    from ..core.session import build_data, build_metrics, build_trainer

    build_metrics(config, registry)
    data = build_data(config, registry)
    build_trainer(config, registry, run_dir=config.out, data=data, metrics={})


def _check_before_launch(config, registry, nproc: int) -> None:
    """What every worker would refuse, refused once, before torchrun starts them: the
    batch split, the device, the precision and the metrics' weights."""
    from ..core.device import resolve_device, resolve_precision
    from ..core.distributed import check_launch
    from ..core.session import build_metrics

    if config.batch_size % nproc:
        raise click.BadParameter(f"{config.batch_size} is the global batch and must be "
                                 f"divisible by --nproc {nproc}", param_hint="--batch-size")
    check_launch(config.device, nproc)
    resolve_precision(config.precision, resolve_device(config.device))
    build_metrics(config, registry)


def _relaunch_with_torchrun(nproc: int) -> None:
    """Run ``torchrun --standalone --nproc-per-node N -m artgan ...`` (this process is its
    agent) with the same arguments minus ``--nproc``; exit with the workers' status."""
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run as torchrun

    from ..core.distributed import launched

    if launched():
        raise click.BadParameter("already running under torchrun; drop --nproc",
                                 param_hint="--nproc")
    argv, rest = [], iter(sys.argv[1:])
    for arg in rest:
        if arg == "--nproc":
            next(rest, None)
        elif not arg.startswith("--nproc="):
            argv.append(arg)
    if len(argv) == len(sys.argv) - 1:  # not called from the command line (e.g. a test)
        raise click.UsageError("--nproc works from the command line only; in Python, "
                               "launch your script with torchrun")
    args = get_args_parser().parse_args(["--standalone", f"--nproc-per-node={nproc}",
                                         "-m", "artgan", *argv])
    try:
        torchrun(args)
    except SignalException as exc:  # Ctrl-C / SIGTERM: the workers saved a checkpoint
        sys.exit(128 + int(exc.sigval))
    except ChildFailedError as exc:  # the workers printed why
        sys.exit(_worker_status(exc.failures))
    sys.exit(0)


def _worker_status(failures) -> int:
    """The exit status of the first worker that failed by itself; torchrun then stops the
    others with SIGTERM (negative exit codes), which says nothing about the cause."""
    codes = [failure.exitcode for _, failure in sorted(failures.items())]
    return next((code for code in codes if code > 0), 1)


def _resolve(resolve_config, registry, kw, overrides, versions):
    from ..core.registry import UnknownComponentError

    params = dict(gen=kw["gen"], disc=kw["disc"], loss=kw["loss"], data=kw["data"],
                  resolution=kw["resolution"], channels=int(kw["channels"]),
                  batch_size=kw["batch_size"], epochs=kw["epochs"], max_steps=kw["max_steps"],
                  lr=kw["lr"], lr_g=kw["lr_g"], lr_d=kw["lr_d"], optimizer=kw["optimizer"],
                  betas=kw["betas"], device=kw["device"],
                  precision=kw["precision"], seed=kw["seed"], overrides=overrides,
                  log_every=kw["log_every"], checkpoint_every=kw["checkpoint_every"],
                  sample_every=kw["sample_every"],
                  plugin_versions=versions, recipe=kw["recipe"], metrics=kw["metrics"],
                  eval_every=kw["eval_every"], eval_images=kw["eval_images"],
                  sync_bn=kw["sync_bn"], compile=kw["compile_"], augment=kw["augment"],
                  mirror=kw["mirror"], ema=kw["ema"], ema_decay=kw["ema_decay"], r1=kw["r1"],
                  r1_every=kw["r1_every"], ada_target=kw["ada_target"],
                  ada_ramp_images=kw["ada_ramp_images"])
    try:
        _add_inception_weights(registry, kw["metrics"], kw["inception_weights"], overrides)
        config = resolve_config(registry, **params)
    except UnknownComponentError as exc:
        flag = {"generator": "--gen", "discriminator": "--disc", "loss": "--loss",
                "data": "--data", "metric": "--metric",
                "augmentation": "--augment"}.get(str(exc).split()[1], None)
        raise click.BadParameter(str(exc), param_hint=flag) from None
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint=exc.param) from None
    out = kw["out"] or _default_run_dir(config)
    if (Path(out) / "checkpoints" / "last.pt").exists():
        raise click.BadParameter(f"{out} already holds a run; continue it with "
                                 f"--resume {out}, or choose another --out", param_hint="--out")
    return config.replace(out=str(out))


def _add_inception_weights(registry, metrics, path, overrides) -> None:
    """``--inception-weights PATH`` sets the option of every chosen metric that has it."""
    import dataclasses

    for name in metrics if path else ():
        fields = dataclasses.fields(registry.get("metric", name).options)
        if any(f.name == "inception_weights" for f in fields):
            overrides[name].setdefault("inception_weights", path)


def _default_run_dir(config) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return str(Path("runs") / f"{stamp}-{config.gen.name}-{config.loss.name}-{config.data.name}")


def _resume_config(ctx: click.Context, kw):
    from ..core.checkpoint import load_checkpoint, resolve_checkpoint_path
    from ..core.config import RunConfig

    changed = [name for name in kw if name not in _RESUME_ALLOWED and
               ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE]
    if changed:
        flag = {p.name: p.opts[0] for p in ctx.command.params}  # metrics -> --metric
        flags = ", ".join(flag[name] for name in changed)
        raise click.UsageError(f"{flags} cannot be changed when resuming: the run continues "
                               f"with its saved config. Start a new run to change them.")
    path = resolve_checkpoint_path(kw["resume"])
    ckpt = load_checkpoint(path)
    config = RunConfig.from_dict(ckpt["config"])
    updates = {k: kw[k] for k in ("epochs", "max_steps", "device", "precision", "eval_every",
                                  "sync_bn", "log_every", "checkpoint_every", "sample_every")
               if ctx.get_parameter_source(k) == ParameterSource.COMMANDLINE}
    if ctx.get_parameter_source("compile_") == ParameterSource.COMMANDLINE:
        updates["compile"] = kw["compile_"]
    run_dir = path.parent.parent if path.parent.name == "checkpoints" else path.parent
    config = config.replace(out=str(run_dir), **updates)
    return config, run_dir, ckpt


def _train(config, registry, run_dir: Path, ckpt) -> None:
    from ..core.distributed import setup

    dist = setup(config.device)  # joins torchrun's process group; else one process
    try:
        # the ranks may have stamped different default folders: rank 0's wins
        run_dir = Path(dist.broadcast_object(str(run_dir)))
        _train_rank(config.replace(out=str(run_dir)), registry, run_dir, ckpt, dist)
    finally:
        dist.close()


def _train_rank(config, registry, run_dir: Path, ckpt, dist) -> None:
    from ..core.device import resolve_precision
    from ..core.session import build_data, build_metrics, build_trainer, data_summary, write_config
    from ..core.trainer import TrainerCallbacks, TrainingInterrupted
    from .progress import RichProgress, console, describe_data, describe_run

    say = console.print if dist.is_main else (lambda *args, **kwargs: None)
    resolve_precision(config.precision, dist.device)  # fail before loading data
    say(describe_run(config))
    if dist.enabled:
        say(f"  {dist.world_size} processes ({'NCCL' if dist.device.type == 'cuda' else 'gloo'}"
            f"), {config.batch_size // dist.world_size} images per process and step"
            f"{', synchronised BatchNorm' if config.sync_bn else ''}")
    # only rank 0 evaluates (the others wait at the next step's gradient exchange);
    # missing weights fail here, before the data loads
    metrics = build_metrics(config, registry) if dist.is_main else {}
    data = build_data(config, registry)
    say(describe_data(data))
    progress = RichProgress() if dist.is_main else TrainerCallbacks()
    trainer = build_trainer(config, registry, run_dir=run_dir, data=data, callbacks=progress,
                            metrics=metrics, dist=dist)
    if ckpt is not None:
        trainer.load_state_dict(ckpt)
        say(f"Resuming {run_dir} at step {trainer.step} (epoch {trainer.epoch + 1}).")
    if dist.is_main:
        write_config(config, run_dir, {"data_summary": data_summary(data),
                                       "world_size": dist.world_size})
    start = time.perf_counter()
    try:
        with progress if dist.is_main else contextlib.nullcontext():
            trainer.fit()
    except TrainingInterrupted as exc:
        say(f"[yellow]Stopped at step {exc.step}; checkpoint saved to "
            f"{exc.checkpoint}.[/] Continue with: artgan run --resume {run_dir}")
        sys.exit(128 + exc.signum)
    minutes = (time.perf_counter() - start) / 60
    say(f"[green]Done[/] in {minutes:.1f} min: {trainer.step} steps. "
        f"Samples: {run_dir / 'samples' / 'final.png'}\n"
        f"More samples: artgan sample --ckpt {run_dir} -n 64 --out {run_dir / 'generated'}")
