"""The report's HTML: one file, its styles, plots (inline SVG), grids (data URIs) and a
few lines of script inside it, and no reference to anything outside it."""

from __future__ import annotations

import json
import statistics
import time
from html import escape
from typing import Any, Iterable

from .assets import CSS, SCRIPT
from .grids import Embedded
from .plots import Plot
from .rundata import RunData, is_finite

#: Config keys shown in their own sections rather than in the config tables.
SHOWN_ELSEWHERE = ("data_summary", "notes")


def render(run: RunData, plots: list[Plot], timeline: list[Embedded], total_grids: int,
           final: Embedded | None, *, version: str, plot_library: str) -> str:
    """The whole page as a string."""
    by_key = {plot.key: plot for plot in plots}
    sections = [
        ("summary", "Summary", _summary(run)),
        ("notices", "Notices", _notices(run.problems)),
        ("losses", "Losses", _plot(by_key.get("losses"))),
        ("diversity", "Collapse watch", _plot(by_key.get("diversity"))),
        ("ada", "ADA", _plot(by_key.get("ada"))),
        ("metrics", "Metrics", _metrics(run, by_key.get("metrics"))),
        ("other", "Other statistics", _plot(by_key.get("other"))),
        ("samples", "Samples", _samples(run, timeline, total_grids, final)),
        ("data", "Data", _data(run)),
        ("notes", "Notes", _notes(run.notes)),
        ("config", "Config", _config(run.config)),
    ]
    sections = [(key, title, body) for key, title, body in sections if body]
    nav = " · ".join(f'<a href="#{key}">{escape(title)}</a>' for key, title, _ in sections)
    body = "\n".join(f'<section id="{key}">\n{content}\n</section>'
                     for key, _, content in sections)
    made = time.strftime("%Y-%m-%d %H:%M:%S")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="artgan {escape(version)}">
<title>{escape(run.path.name)}: artgan report</title>
<style>{CSS}</style>
</head>
<body>
<header>
<h1>{escape(run.path.name)}</h1>
<p class="status">{_status(run)}</p>
<nav>{nav}</nav>
</header>
<main>
{body}
</main>
<footer>Written by <code>artgan report</code> (artgan {escape(version)}) on {made} from
<code>{escape(str(run.path))}</code>. Plots: {escape(plot_library)}, inline SVG. This file
holds everything it shows; it needs no network and no other file.</footer>
{SCRIPT if len(timeline) > 1 else ""}
</body>
</html>
"""


# -- pieces ---------------------------------------------------------------------------
def _table(rows: Iterable[tuple[str, str]], raw: bool = False) -> str:
    """A two-column table; values are escaped unless ``raw``."""
    body = "".join(f"<tr><th>{escape(k)}</th><td>{v if raw else escape(v)}</td></tr>"
                   for k, v in rows)
    return f"<table>{body}</table>" if body else ""


def _fmt(value: Any) -> str:
    """A config or stats value as text: strings as they are, numbers compactly."""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and is_finite(value):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)) and all(not isinstance(v, (dict, list)) for v in value):
        return ", ".join(_fmt(v) for v in value) if value else "(none)"
    return json.dumps(value, default=str)


def _choice(value: Any) -> str | None:
    """``dcgan (ngf=64, z_dim=100)`` for a component choice {"name", "options", ...}."""
    if isinstance(value, str):
        return value
    if not (isinstance(value, dict) and isinstance(value.get("name"), str)):
        return None
    name = value["name"] + (f":{value['argument']}" if value.get("argument") else "")
    options = value.get("options")
    if isinstance(options, dict) and options:
        name += " (" + ", ".join(f"{k}={_fmt(v)}" for k, v in options.items()) + ")"
    return name


def _when(seconds: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds)) if seconds else ""


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def _status(run: RunData) -> str:
    done, planned = run.steps_done, run.steps_planned
    steps = f"{done if done is not None else 0:,}" + (f" of {planned:,}" if planned else "") \
        + " steps"
    # a resumed, longer run keeps the old final.png until its new end
    badge = '<span class="badge done">finished</span>' if run.finished else \
        '<span class="badge open">in progress or stopped</span>'
    gen, loss = _choice(run.find("gen", "generator")), run.find("loss")
    loss = loss.get("name") if isinstance(loss, dict) else loss
    what = " · ".join(escape(str(v).split(" (")[0]) for v in (gen, loss) if v)
    return f"{badge} {steps}" + (f" · {what}" if what else "")


def _summary(run: RunData) -> str:
    rows: list[tuple[str, str]] = []
    for label, names in (("generator", ("gen", "generator")),
                         ("discriminator", ("disc", "discriminator")), ("loss", ("loss",)),
                         ("data", ("data", "dataset"))):
        text = _choice(run.find(*names))
        if text:
            rows.append((label, text))
    resolution, channels = run.find("resolution"), run.find("channels")
    if resolution is not None:
        rows.append(("image size", f"{resolution} px" + (f", {channels} channels"
                                                         if channels is not None else "")))
    batch = run.find("batch_size")
    if batch is not None:
        rows.append(("batch", _fmt(batch)))
    done, planned = run.steps_done, run.steps_planned
    progress = f"{done if done is not None else 0:,}"
    if planned:
        progress += f" of {planned:,} planned"
        parts = [f"{run.find('epochs')} epochs" if run.find("epochs") is not None else "",
                 f"max {run.find('max_steps')} steps" if run.find("max_steps") else ""]
        progress += " (" + ", ".join(p for p in parts if p) + ")" if any(parts) else ""
    rows.append(("steps", progress))
    epochs = [r["epoch"] for r in run.stats if is_finite(r.get("epoch"))]
    if epochs:
        rows.append(("epochs reached", f"{int(max(epochs))}"))
    times = run.times
    if "start" in times:
        rows.append(("started", _when(times["start"]) + " (from the folder name)"))
    elif "config_written" in times:
        rows.append(("config written", _when(times["config_written"])
                     + " (the start, or the last --resume)"))
    if "last_write" in times:
        since = times.get("start", times.get("config_written"))
        span = f" ({_duration(times['last_write'] - since)} later)" \
            if since and times["last_write"] >= since else ""
        rows.append(("last written", _when(times["last_write"]) + span))
    rates = [r["images_per_s"] for r in run.stats if is_finite(r.get("images_per_s"))
             and r["images_per_s"] > 0]
    if rates:
        rows.append(("images/s", f"{statistics.median(rates):,.0f} median, "
                                  f"{rates[-1]:,.0f} last"))
    best = run.best
    if best is not None:
        first = run.metric_names[0] if run.metric_names else None
        value = f", {first} {best[first]:.4g}" if first and is_finite(best.get(first)) else ""
        rows.append(("best checkpoint", f"checkpoints/best.pt: step {best['step']}{value}"))
    if run.checkpoints:
        rows.append(("checkpoints", ", ".join(f"checkpoints/{p.name}"
                                              for p in run.checkpoints.values())))
    device, precision = run.find("device"), run.find("precision")
    if device is not None:
        rows.append(("device", f"{device}" + (f", {precision}" if precision else "")))
    return "<h2>Summary</h2>\n" + _table(rows)


def _notices(problems: list[str]) -> str:
    if not problems:
        return ""
    return "<h2>Notices</h2>\n" + "\n".join(f'<p class="notice">{escape(p)}</p>'
                                             for p in problems)


def _plot(plot: Plot | None, heading: bool = True) -> str:
    if plot is None:
        return ""
    title = f"<h2>{escape(plot.title)}</h2>\n" if heading else ""
    caption = f'<p class="caption">{plot.caption}</p>' if plot.caption else ""
    return f'{title}<div class="plot">{plot.svg}</div>\n{caption}'


def _metrics(run: RunData, plot: Plot | None) -> str:
    if not run.metrics:
        return ""
    names, best = run.metric_names, run.best
    head = "".join(f"<th>{escape(h)}</th>" for h in ["step", "epoch", *names, "seconds", ""])
    rows = []
    for record in run.metrics:
        mark = "best.pt" if record is best else ("improved" if record.get("is_best") else "")
        cells = [record.get("step"), record.get("epoch"), *(record.get(n) for n in names),
                 record.get("seconds")]
        tds = "".join(f'<td class="num">{escape(_num(v))}</td>' for v in cells)
        rows.append(f'<tr{" class=best" if record is best else ""}>{tds}'
                    f"<td>{mark}</td></tr>")
    table = f"<table><tr>{head}</tr>{''.join(rows)}</table>"
    table = table if len(rows) <= 20 else \
        f"<details><summary>All {len(rows)} evaluations</summary>{table}</details>"
    best_line = (f"<p><b>checkpoints/best.pt</b> is from step {escape(_num(best.get('step')))}"
                 + (f" ({escape(names[0])} {escape(_num(best.get(names[0])))})" if names else "")
                 + ".</p>") if best is not None else \
        '<p class="muted">No evaluation was marked best (no finite value yet).</p>'
    protocol = _protocol(run.metrics[-1])
    return (f"<h2>Metrics</h2>\n{best_line}\n{_plot(plot, heading=False)}\n{table}\n"
            f"{protocol}")


def _num(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _protocol(record: dict[str, Any]) -> str:
    """Every detail of the last evaluation: image counts, networks, reference set."""
    details = record.get("details")
    if not isinstance(details, dict) or not details:
        return ""
    parts = []
    for name, values in details.items():
        rows = [(k, _fmt(v)) for k, v in values.items()] if isinstance(values, dict) \
            else [("value", _fmt(values))]
        parts.append(f"<h3>{escape(str(name))}</h3>{_table(rows)}")
    return (f"<details><summary>Protocol and details of the last evaluation (step "
            f"{escape(_num(record.get('step')))})</summary>{''.join(parts)}</details>")


def _samples(run: RunData, timeline: list[Embedded], total: int,
             final: Embedded | None) -> str:
    if not timeline and final is None:
        return ('<h2>Samples</h2>\n<p class="muted">No sample grid yet: the first one is '
                "written at the end of the first epoch (samples/epoch-0001.png).</p>")
    parts = ["<h2>Samples</h2>"]
    if final is not None:
        parts.append(f'<h3>Final grid</h3>\n<figure class="final">{_img(final, 640)}'
                     f"<figcaption>samples/final.png{_step(final.grid.step)} · the same "
                     f"fixed noise as every grid below{_recoded(final)}</figcaption></figure>")
    if timeline:
        note = f" Showing {len(timeline)} of {total} grids, evenly spaced over the run " \
               f"(the first and last always); all are in samples/." if total > len(timeline) \
            else ""
        recoded = sum(e.recoded for e in timeline)
        if recoded:
            note += f" {recoded} large grid(s) were downscaled or re-encoded (JPEG) to keep " \
                    f"this file small; the originals are in samples/."
        frames = "".join(
            f'<figure class="frame">{_img(e, 560)}<figcaption>'
            f"{escape(e.grid.path.name)} · {escape(e.grid.label)}{_step(e.grid.step)}"
            + (f" · diversity {e.grid.diversity:.3f}" if e.grid.diversity is not None else "")
            + "</figcaption></figure>" for e in timeline)
        parts.append(
            f'<h3>Timeline</h3>\n<p class="caption">The fixed-noise grid after each epoch '
            f"that got one: progress is the same 64 pictures becoming sharper and more like "
            f"your images while staying different from each other.{note}</p>\n"
            f'<div id="timeline"><div class="controls" hidden><button type="button">Play'
            f'</button><input type="range" min="0" max="{len(timeline) - 1}" '
            f'value="{len(timeline) - 1}" aria-label="grid"><span class="frame-label">'
            f"</span></div>\n<div class=\"frames\">{frames}</div></div>")
    return "\n".join(parts)


def _img(embedded: Embedded, target: int) -> str:
    """An <img>; small grids are shown at a whole multiple of their size (crisp pixels)."""
    w, h = embedded.size
    k = max(1, target // max(w, h))
    return (f'<img src="{embedded.uri}" width="{w * k}" height="{h * k}" '
            f'alt="{escape(embedded.grid.path.name)}">')


def _step(step: int | None) -> str:
    return f" · step {step:,}" if step is not None else ""


def _recoded(e: Embedded) -> str:
    if not e.recoded:
        return ""
    return f" · shown at {e.size[0]}x{e.size[1]} (the file is {e.original_size[0]}x" \
           f"{e.original_size[1]})" if e.size != e.original_size else " · re-encoded"


def _data(run: RunData) -> str:
    summary = run.data_summary
    if not summary:
        return ""
    rows = []
    if "images" in summary:
        rows.append(("images", _fmt(summary["images"])))
    classes = summary.get("classes")
    if isinstance(classes, list):
        rows.append(("classes", f"{len(classes)}: {', '.join(map(str, classes))}"
                     if classes else "none (unlabelled)"))
    skipped = summary.get("skipped")
    examples = summary.get("skipped_examples")
    examples = [e for e in examples if isinstance(e, (list, tuple)) and e] \
        if isinstance(examples, list) else []
    count = skipped if isinstance(skipped, int) else len(examples)
    rows.append(("skipped files", _fmt(count)))
    for key, value in summary.items():
        if key not in ("images", "classes", "skipped", "skipped_examples"):
            rows.append((key, _fmt(value)))
    parts = ["<h2>Data</h2>", _table(rows)]
    if examples:
        body = "".join(f"<tr><td class=value>{escape(str(e[0]))}</td>"
                       f"<td>{escape(str(e[1]) if len(e) > 1 else '')}</td></tr>"
                       for e in examples)
        more = f'<p class="muted">... and {count - len(examples)} more not listed.</p>' \
            if count > len(examples) else ""
        parts.append(f"<h3>Skipped files</h3><table><tr><th>file</th><th>why</th></tr>"
                     f"{body}</table>{more}")
    elif count:
        parts.append('<p class="muted">config.json does not list which files were skipped; '
                     "<code>artgan run</code> printed them when it started.</p>")
    return "\n".join(parts)


def _notes(notes: list[str]) -> str:
    if not notes:
        return ""
    items = "".join(f"<li>{escape(n)}</li>" for n in notes)
    return ("<h2>Notes</h2>\n<p class=\"caption\">Choices made for you (recipes, what a loss "
            f"requires); anything you set yourself wins.</p><ul>{items}</ul>")


# -- the resolved config --------------------------------------------------------------
def _config(config: dict[str, Any]) -> str:
    """Every group of the config (a top-level object) as a table, top-level values in a
    first 'run' table: whatever the layout, nothing is hidden and nothing is assumed."""
    if not config:
        return ""
    loose = [(k, v) for k, v in config.items()
             if not isinstance(v, dict) and k not in SHOWN_ELSEWHERE]
    groups = [("run", loose)] if loose else []
    groups += [(k, list(v.items())) for k, v in config.items()
               if isinstance(v, dict) and k not in SHOWN_ELSEWHERE]
    html = []
    for name, items in groups:
        choice = _is_choice(dict(items))
        rows = _rows(items, "" if not choice else name, choice_parent=choice)
        if rows:
            html.append(f"<div><h3>{escape(name)}</h3>"
                        + _table([(k, f'<span class="value">{escape(v)}</span>')
                                  for k, v in rows], raw=True) + "</div>")
    return ('<h2>Config</h2>\n<p class="caption">The resolved config.json: every choice '
            "and option the run used (component options as <code>-o NAME.KEY=VALUE</code> "
            f'would set them).</p>\n<div class="config-groups">{"".join(html)}</div>')


def _is_choice(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("name"), str) and \
        set(value) <= {"name", "options", "argument"}


def _rows(items: list[tuple[str, Any]], prefix: str = "",
          choice_parent: bool = False) -> list[tuple[str, str]]:
    """Flatten nested values to ``a.b.c`` rows; a component choice {"name", "options"}
    becomes ``gen: dcgan`` plus ``gen.ngf`` rows."""
    rows: list[tuple[str, str]] = []
    if choice_parent:  # the group itself is a choice, e.g. "gen" in the flat layout
        value = dict(items)
        return _choice_rows(prefix, value)
    for key, value in items:
        if key in SHOWN_ELSEWHERE:
            continue
        name = f"{prefix}.{key}" if prefix else str(key)
        if _is_choice(value):
            rows += _choice_rows(name, value)
        elif isinstance(value, dict):
            rows += _rows(list(value.items()), name) if value else [(name, "(none)")]
        elif isinstance(value, list) and value and all(_is_choice(v) for v in value):
            rows.append((name, "; ".join(_choice(v) for v in value)))
        else:
            rows.append((name, _fmt(value)))
    return rows


def _choice_rows(name: str, value: dict[str, Any]) -> list[tuple[str, str]]:
    spec = value["name"] + (f":{value['argument']}" if value.get("argument") else "")
    rows = [(name, spec)]
    options = value.get("options")
    if isinstance(options, dict):
        rows += _rows(list(options.items()), name)
    return rows

