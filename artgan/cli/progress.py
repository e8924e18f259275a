"""Rich progress display for training: the only place that prints during a run.

On a terminal: a live progress bar. Elsewhere (a log file, nohup, a cluster job): plain
lines, one per stats line, never wrapped or cut, so paths and figures stay whole. Text
from the config or from files is printed through :mod:`.safe_text`.
"""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)

from ..core.trainer import TrainerCallbacks
from .safe_text import markup

#: The width of output that is not a terminal: lines are never wrapped or cut there.
LOG_WIDTH = 100_000


def make_console() -> Console:
    """A console for the current standard output: a terminal's own width, else one that
    never wraps (a log read later, or by a program, needs whole lines)."""
    console = Console()
    if console.is_terminal:
        return console
    return Console(width=LOG_WIDTH, soft_wrap=True)


def describe_run(config) -> str:
    c, o, s, r = config.components, config.optimisation, config.schedule, config.regularisation
    lines = [
        f"[bold]artgan run[/] -> {markup(config.runtime.out)}",
        f"  gen {markup(c.gen.name)} {markup(c.gen.options)}",
        f"  disc {markup(c.disc.name)} {markup(c.disc.options)}",
        f"  loss {markup(c.loss.name)} {markup(c.loss.options)}  n_critic={s.n_critic}",
        f"  data {markup(c.data.spec)} {markup(c.data.options)}",
        f"  {config.image.size_text} x{config.image.channels}, batch {s.batch_size}, "
        f"{s.epochs} epochs" + (f", max {s.max_steps} steps" if s.max_steps else "")
        + (f", max {s.max_minutes:g} min" if s.max_minutes else ""),
        f"  optimiser {o.optimizer} lr_g={o.lr_g:g} lr_d={o.lr_d:g}"
        + (f" betas={tuple(o.betas)}" if o.optimizer == "adam" else "")
        + (f", linear decay from {o.lr_decay:g} of the steps" if o.lr_decay is not None else "")
        + f" ({markup(o.source)})",
        f"  device {config.runtime.device}, precision {config.runtime.precision}, "
        f"seed {config.runtime.seed}",
    ]
    extras = [f"augment {markup(','.join(a.name for a in r.augment))}" if r.augment else "",
              "mirror" if r.mirror else "",
              f"ema decay {r.ema_decay:g}" if r.ema else "",
              f"r1 gamma {r.r1:g} every {r.r1_every}" if r.r1 else "",
              f"r2 gamma {r.r2:g} every {r.r2_every}" if r.r2 else "",
              f"ada target {r.ada_target:g}" if r.ada_target else ""]
    if any(extras):
        lines.append("  " + ", ".join(e for e in extras if e))
    e = config.evaluation
    if e.metrics:
        names = ", ".join(f"{m.name} {m.options}" if m.options else m.name for m in e.metrics)
        lines.append(f"  metrics {markup(names)}: every {e.eval_every} steps, "
                     f"{e.eval_images} images; best.pt by {markup(e.metrics[0].name)}")
    lines += [f"  [cyan]note[/] {markup(note, newlines=False)}" for note in config.notes]
    return "\n".join(lines)


def describe_data(data) -> str:
    kind = f"{data.num_classes} classes ({markup(', '.join(data.class_names))})" \
        if data.labelled else "unlabelled"
    text = f"Data: {len(data)} images, {kind}."
    for note in getattr(data, "notes", ()):
        text += f"\n  [cyan]note[/] {markup(note, newlines=False)}"
    skipped = data.skipped
    if skipped.count:
        examples = "\n".join(f"    {markup(path, newlines=False)}: "
                             f"{markup(reason, newlines=False)}"
                             for path, reason in skipped.examples)
        more = f"\n    ... and {skipped.count - len(skipped.examples)} more" \
            if skipped.count > len(skipped.examples) else ""
        text += f"\n[yellow]Skipped {skipped.count} unusable file(s):[/]\n{examples}{more}"
    return text


class RichProgress(TrainerCallbacks):
    """A progress bar over steps with epoch, losses, images/s and ETA; where the output
    is not a terminal, a plain line per stats line instead (see the module doc)."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or make_console()
        self.live = self.console.is_terminal
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"), TimeElapsedColumn(), TextColumn("eta"),
            TimeRemainingColumn(), console=self.console, disable=not self.live)
        self.task = None
        self.latest_metrics = ""
        self.eval_tasks: list = []  # bars of the evaluation under way
        self._start = (time.perf_counter(), 0)

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)

    def on_start(self, trainer) -> None:
        self.epochs, self.total = trainer.config.schedule.epochs, trainer.total_steps
        self._start = (time.perf_counter(), trainer.step)
        self.task = self.progress.add_task(self._epoch(trainer.epoch), total=trainer.total_steps,
                                           completed=trainer.step, stats="")

    def _epoch(self, epoch: int) -> str:
        return f"epoch {min(epoch + 1, self.epochs)}/{self.epochs}"

    def on_log(self, record) -> None:
        stats = "  ".join(f"{k}={v:.3f}" for k, v in record.items()
                          if k.endswith("/loss"))
        if "ada/p" in record:
            stats += f"  ada p={record['ada/p']:.2f}"
        stats = f"{stats}  {record['images_per_s']:.0f} img/s{self.latest_metrics}"
        if not self.live:
            self.console.print(f"{self._epoch(record['epoch'])}  step {record['step']}/"
                               f"{self.total}  {stats}  {self._times(record['step'])}",
                               markup=False, highlight=False)
            return
        self.progress.update(self.task, completed=record["step"],
                             description=self._epoch(record["epoch"]), stats=markup(stats))

    def _times(self, step: int) -> str:
        """``elapsed 0:01:02 eta 0:03:00`` for a plain log line."""
        began, first = self._start
        elapsed = time.perf_counter() - began
        left = elapsed / (step - first) * (self.total - step) if step > first else None

        def clock(seconds: float | None) -> str:
            if seconds is None:
                return "-:--:--"
            seconds = int(seconds)
            return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
        return f"elapsed {clock(elapsed)} eta {clock(left)}"

    def eval_progress(self, label: str, total: int | None):
        """A bar under the training bar for each pass of an evaluation (features of the
        generated and of the reference images, MS-SSIM pairs); removed when the evaluation
        ends. None where the output is not a terminal."""
        if not self.live:
            return None
        task = self.progress.add_task(f"  eval: {label}", total=total, stats="")
        self.eval_tasks.append(task)
        return lambda n: self.progress.advance(task, n)

    def _clear_eval_tasks(self) -> None:
        for task in self.eval_tasks:
            self.progress.remove_task(task)
        self.eval_tasks.clear()

    def on_eval(self, record) -> None:
        self._clear_eval_tasks()
        values = {k: v for k, v in record.items()
                  if k not in ("step", "epoch", "seconds", "is_best", "details")}
        text = "  ".join(f"{k}={v:.4g}" for k, v in values.items())
        self.latest_metrics = f"  [{text}]"
        best = "  [green](best so far: checkpoints/best.pt)[/]" if record["is_best"] else ""
        self.console.print(f"step {record['step']}: {markup(text)} "
                           f"({record['seconds']:.0f} s){best}")

    def on_warning(self, message: str) -> None:
        self._clear_eval_tasks()  # a failed evaluation leaves no bars behind
        self.console.print(f"[yellow]warning:[/] {markup(message)}")

    def on_epoch_end(self, epoch: int, grid) -> None:
        self.console.print(f"epoch {epoch}/{self.epochs}: samples in {markup(grid)}")
