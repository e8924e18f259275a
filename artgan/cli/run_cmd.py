"""``artgan run``: turn the flags into a run request, resolve it, train.

The flags of run settings come from their declarations (:mod:`artgan.core.config`);
only the command's own flags (``--resume``, ``--dry-run``, ``--nproc``) are declared
here. This module does not import torch: training lives in :mod:`.run_train`.
"""

from __future__ import annotations

import click
from click.core import ParameterSource

from ..core.config import RESUMABLE, SETTINGS
from .settings_options import setting_options

#: Flags that may be given with --resume: the resumable settings and the command's own;
#: --out only for a checkpoint file outside a run folder (run_train.resume_plan checks).
RESUME_ALLOWED = frozenset({*RESUMABLE, "resume", "dry_run", "nproc", "out"})


@click.command("run")
@setting_options(SETTINGS)
@click.option("--nproc", type=click.IntRange(1), default=1, show_default=True,
              help="Train with this many processes (one per GPU, or gloo on the CPU) by "
                   "re-launching through torchrun.")
@click.option("--resume", type=click.Path(exists=True), default=None,
              help="Continue a run: its folder or a checkpoint file.")
@click.option("--dry-run", is_flag=True, help="Print the resolved config and exit.")
@click.pass_context
def run_command(ctx: click.Context, **kw) -> None:
    """Train a GAN. With no options: DCGAN on the built-in demo art (a few minutes on a CPU).

    \b
    Examples:
      artgan run
      artgan run --data folder:./paintings --resolution 64 --epochs 100
      artgan run --gen cgan --loss hinge --data folder:./wikiart-styles
    """
    from . import run_train

    chosen = {name: kw[name] for name in SETTINGS
              if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE}
    if kw["resume"]:
        refused = [SETTINGS[name].flag for name in chosen if name not in RESUME_ALLOWED]
        if refused:
            raise click.UsageError(f"{', '.join(refused)} cannot be changed when resuming: "
                                   f"the run continues with its saved config. Start a new "
                                   f"run to change them.")
        plan, checkpoint = run_train.resume_plan(kw["resume"], chosen)
    else:
        plan, checkpoint = run_train.new_plan(chosen), None
    if kw["dry_run"]:
        run_train.dry_run(plan)
        return
    if kw["nproc"] > 1:
        run_train.launch(plan, kw["nproc"])
    run_train.train(plan, checkpoint)
