"""Rich progress display for training: the only place that prints during a run."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)

from ..core.trainer import TrainerCallbacks

console = Console()


def describe_run(config) -> str:
    c, o, s, r = config.components, config.optimisation, config.schedule, config.regularisation
    lines = [
        f"[bold]artgan run[/] -> {config.runtime.out}",
        f"  gen {c.gen.name} {c.gen.options}",
        f"  disc {c.disc.name} {c.disc.options}",
        f"  loss {c.loss.name} {c.loss.options}  n_critic={s.n_critic}",
        f"  data {c.data.spec} {c.data.options}",
        f"  {config.image.resolution}px x{config.image.channels}, batch {s.batch_size}, "
        f"{s.epochs} epochs" + (f", max {s.max_steps} steps" if s.max_steps else "")
        + (f", max {s.max_minutes:g} min" if s.max_minutes else ""),
        f"  optimiser {o.optimizer} lr_g={o.lr_g:g} lr_d={o.lr_d:g}"
        + (f" betas={tuple(o.betas)}" if o.optimizer == "adam" else "")
        + (f", linear decay from {o.lr_decay:g} of the steps" if o.lr_decay is not None else "")
        + f" ({o.source})",
        f"  device {config.runtime.device}, precision {config.runtime.precision}, "
        f"seed {config.runtime.seed}",
    ]
    extras = [f"augment {','.join(a.name for a in r.augment)}" if r.augment else "",
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
        lines.append(f"  metrics {names}: every {e.eval_every} steps, "
                     f"{e.eval_images} images; best.pt by {e.metrics[0].name}")
    lines += [f"  [cyan]note[/] {note}" for note in config.notes]
    return "\n".join(lines)


def describe_data(data) -> str:
    kind = f"{data.num_classes} classes ({', '.join(data.class_names)})" if data.labelled \
        else "unlabelled"
    text = f"Data: {len(data)} images, {kind}."
    skipped = data.skipped
    if skipped.count:
        examples = "\n".join(f"    {path}: {reason}" for path, reason in skipped.examples)
        more = f"\n    ... and {skipped.count - len(skipped.examples)} more" \
            if skipped.count > len(skipped.examples) else ""
        text += f"\n[yellow]Skipped {skipped.count} unusable file(s):[/]\n{examples}{more}"
    return text


class RichProgress(TrainerCallbacks):
    """A progress bar over steps with epoch, losses, images/s and ETA."""

    def __init__(self) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"), TimeElapsedColumn(), TextColumn("eta"),
            TimeRemainingColumn(), console=console)
        self.task = None
        self.latest_metrics = ""
        self.eval_tasks: list = []  # bars of the evaluation under way

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)

    def on_start(self, trainer) -> None:
        self.epochs = trainer.config.schedule.epochs
        self.task = self.progress.add_task(self._epoch(trainer.epoch), total=trainer.total_steps,
                                           completed=trainer.step, stats="")

    def _epoch(self, epoch: int) -> str:
        return f"epoch {min(epoch + 1, self.epochs)}/{self.epochs}"

    def on_log(self, record) -> None:
        stats = "  ".join(f"{k}={v:.3f}" for k, v in record.items()
                          if k.endswith("/loss"))
        if "ada/p" in record:
            stats += f"  ada p={record['ada/p']:.2f}"
        self.progress.update(self.task, completed=record["step"],
                             description=self._epoch(record["epoch"]),
                             stats=f"{stats}  {record['images_per_s']:.0f} img/s"
                                   f"{self.latest_metrics}")

    def eval_progress(self, label: str, total: int | None):
        """A bar under the training bar for each pass of an evaluation (features of the
        generated and of the reference images, MS-SSIM pairs); removed when the evaluation ends."""
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
        self.progress.console.print(f"step {record['step']}: {text} "
                                    f"({record['seconds']:.0f} s){best}")

    def on_warning(self, message: str) -> None:
        self._clear_eval_tasks()  # a failed evaluation leaves no bars behind
        self.progress.console.print(f"[yellow]warning:[/] {message}")

    def on_epoch_end(self, epoch: int, grid) -> None:
        self.progress.console.print(f"epoch {epoch}/{self.epochs}: samples in {grid}")
