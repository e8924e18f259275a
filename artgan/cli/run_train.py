"""What ``artgan run`` does once its flags are read: resolve, check, launch, train."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from ..builder import build_metrics, build_run
from ..core.checkpoint import (check_resumable, checkpoint_config, damaged, load_checkpoint,
                               named_component)
from ..core.device import resolve_device, resolve_precision
from ..core.distributed import check_launch, launched, setup
from ..core.errors import ConfigError
from ..core.options import OptionError
from ..core.registry import UnknownComponentError
from ..core.request import RunRequest, parse_overrides
from ..core.resolve import RunPlan, resolve
from ..core.resolve_parts import check_out_outside_data, check_resolution
from ..core.run_folder import CHECKPOINTS, RunFolder, checkpoint_file, folder_of_checkpoint
from ..core.trainer import TrainerCallbacks, TrainingDiverged, TrainingInterrupted
from ..plugin_host import get_registry, plugin_versions
from ..report import write_report
from .progress import RichProgress, describe_data, describe_run, make_console
from .safe_text import markup


@contextlib.contextmanager
def flag_errors():
    """Resolution errors as Click errors naming the flag (``Error: Invalid value for
    '--gen': ...``)."""
    try:
        yield
    except (ConfigError, UnknownComponentError, OptionError) as exc:
        hint = getattr(exc, "param", None) or ("-o" if isinstance(exc, OptionError) else None)
        raise click.BadParameter(str(exc), param_hint=hint) from None


def new_plan(chosen: dict[str, Any]) -> RunPlan:
    """Resolve the flags the user gave; refuse a folder that already holds a run."""
    with flag_errors():
        options = parse_overrides(chosen.pop("overrides", ()))
        plan = resolve(RunRequest(chosen, options=options), get_registry(),
                       plugin_versions=plugin_versions())
    out = plan.config.runtime.out
    if RunFolder(out).holds_run():
        raise click.BadParameter(f"{out} already holds a run; continue it with "
                                 f"--resume {out}, or choose another --out", param_hint="--out")
    return plan


def resume_plan(path: str, chosen: dict[str, Any]) -> tuple[RunPlan, dict[str, Any]]:
    """The saved config of a checkpoint (a run folder or a .pt file), with the resumable
    settings the user changed; and the checkpoint, checked as untrusted input (its keys,
    every config field, the components it names, the resolution they support)."""
    checkpoint = load_checkpoint(path)
    check_resumable(checkpoint, path)
    config = checkpoint_config(checkpoint, path)
    registry = get_registry()
    components = config.components
    named = [("generator", components.gen), ("discriminator", components.disc),
             ("loss", components.loss), ("data", components.data),
             *(("metric", m) for m in config.evaluation.metrics),
             *(("augmentation", a) for a in config.regularisation.augment)]
    entries = {kind: named_component(registry, kind, choice.name, path)
               for kind, choice in named}
    try:
        check_resolution(config.image.resolution,
                         (entries["generator"], entries["discriminator"]))
    except ConfigError as exc:
        raise damaged(path, str(exc)) from None
    out, loose = _resume_folder(path, chosen.pop("out", None))
    if loose:
        with flag_errors():
            check_out_outside_data(out, components.data, entries["data"])
        config = config.replace(notes=(*config.notes, f"continued from {path} (a checkpoint "
                                                      f"file outside a run folder) in {out}"))
    return RunPlan(config.replace(out=out, **chosen)), checkpoint


def _resume_folder(path: str, out: str | None) -> tuple[str, bool]:
    """Where a resumed run writes: its own run folder; for a checkpoint file outside a
    run folder (a copied ``final.pt``: ``loose``), the new folder ``--out`` names."""
    if Path(path).is_dir() or checkpoint_file(path).parent.name == CHECKPOINTS:
        root = str(folder_of_checkpoint(path).root)
        if out is not None and Path(out).resolve() != Path(root).resolve():
            raise click.UsageError(f"--out cannot be changed when resuming a run folder: "
                                   f"the run continues in {root}. Start a new run to write "
                                   f"elsewhere.")
        return root, False
    if out is None:
        raise click.BadParameter(
            f"{path} is a checkpoint file outside a run folder (not in a {CHECKPOINTS}/ "
            f"folder), so there is no run folder to continue in; add --out FOLDER, a new "
            f"folder for the continued run's checkpoints, samples and stats",
            param_hint="--resume")
    if RunFolder(out).holds_run():
        raise click.BadParameter(f"{out} already holds a run; choose a new folder for the "
                                 f"run continued from {path}", param_hint="--out")
    return out, True


def dry_run(plan: RunPlan) -> None:
    """Build everything a run needs without training, so that --dry-run refuses what a
    real run would; print the resolved config with the networks' parameter counts."""
    trainer = build_run(plan, get_registry(), dry_run=True)
    counts = {"generator": _parameters(trainer.G), "discriminator": _parameters(trainer.D)}
    click.echo(json.dumps({**trainer.config.to_dict(), "parameters": counts}, indent=2))


def _parameters(module) -> int:
    return sum(p.numel() for p in module.parameters())


def launch(plan: RunPlan, nproc: int) -> None:
    """What every worker would refuse, refused once, before torchrun starts them (the
    batch split, the device, the precision and the metrics' weights); then relaunch."""
    config = plan.config
    batch = config.schedule.batch_size
    if batch % nproc:
        raise click.BadParameter(f"{batch} is the global batch and must be divisible by "
                                 f"--nproc {nproc}", param_hint="--batch-size")
    check_launch(config.runtime.device, nproc)
    resolve_precision(config.runtime.precision, resolve_device(config.runtime.device))
    build_metrics(plan, get_registry())
    _relaunch_with_torchrun(nproc)


def train(plan: RunPlan, checkpoint: dict[str, Any] | None) -> None:
    """Join torchrun's process group (else one process), build the run and fit it."""
    dist = setup(plan.config.runtime.device)
    try:
        # the ranks may have stamped different default folders: rank 0's wins
        out = dist.broadcast_object(plan.config.runtime.out)
        _train_rank(RunPlan(plan.config.replace(out=out), plan.objects), checkpoint, dist)
    finally:
        dist.close()


def _train_rank(plan: RunPlan, checkpoint, dist) -> None:
    config = plan.config
    console = make_console()
    say = console.print if dist.is_main else (lambda *args, **kwargs: None)
    resolve_precision(config.runtime.precision, dist.device)  # fail before loading data
    say(describe_run(config))
    if dist.enabled:
        say(f"  {dist.world_size} processes ({'NCCL' if dist.device.type == 'cuda' else 'gloo'}"
            f"), {config.schedule.batch_size // dist.world_size} images per process and step"
            f"{', synchronised BatchNorm' if config.runtime.sync_bn else ''}")
    progress = RichProgress(console) if dist.is_main else TrainerCallbacks()
    trainer = build_run(plan, get_registry(), callbacks=progress, dist=dist,
                        checkpoint=checkpoint)
    say(describe_data(trainer.data))
    folder = trainer.folder
    root = markup(folder.root)
    if checkpoint is not None:
        say(f"Resuming {root} at step {trainer.step} (epoch {trainer.epoch + 1}).")
    start = time.perf_counter()
    try:
        with progress if dist.is_main else contextlib.nullcontext():
            trainer.fit()
    except TrainingInterrupted as exc:
        say(f"[yellow]Stopped at step {exc.step}; checkpoint saved to "
            f"{markup(exc.checkpoint)}.[/] Continue with: artgan run --resume {root}")
        _report(folder, say, dist)
        sys.exit(128 + exc.signum)
    except TrainingDiverged:
        _report(folder, say, dist)
        raise
    minutes = (time.perf_counter() - start) / 60
    say(f"[green]Done[/] in {minutes:.1f} min: {trainer.step} steps. "
        f"Samples: {markup(folder.final_grid)}\n"
        f"More samples: artgan sample --ckpt {root} -n 64 --out "
        f"{markup(Path(folder.root) / 'generated')}")
    _report(folder, say, dist)


def _report(folder: RunFolder, say, dist) -> None:
    """``report.html`` at the end of a run (also a stopped one); it never fails the run."""
    if not dist.is_main:
        return
    try:
        say(f"Report: {write_report(folder.root)}")
    except Exception as exc:  # a convenience: it must not change the run's outcome
        say(f"[yellow]warning:[/] report.html not written: {exc} "
            f"(try: artgan report {folder.root})")


def _relaunch_with_torchrun(nproc: int) -> None:
    """Run ``torchrun --standalone --nproc-per-node N -m artgan ...`` (this process is its
    agent) with the same arguments minus ``--nproc``; exit with the workers' status."""
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run as torchrun

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


