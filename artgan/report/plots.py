"""The report's plots: matplotlib figures rendered to inline SVG.

SVG keeps the page self-contained and small (text stays text, lines stay vectors, no
JavaScript), sharp at any zoom and printable. Figures are built with
:class:`matplotlib.figure.Figure` directly, never pyplot, so nothing global changes
in the caller's process and no GUI backend is touched.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Sequence

from .rundata import RunData, is_finite

#: Collapse watch: artgan run warns below this ``watch/diversity`` (artgan.core.collapse).
DIVERSITY_WARNING = 0.25
#: Points drawn per line at most; longer histories are averaged in buckets, with their
#: min-max band, so a 100,000-step run still makes a small page.
MAX_POINTS = 800
D_COLOUR, G_COLOUR = "#1f77b4", "#ff7f0e"


@dataclass
class Plot:
    key: str  # the section's HTML id
    title: str
    svg: str
    caption: str = ""


def make_plots(run: RunData) -> list[Plot]:
    """Every plot the run's data allows, in page order."""
    from matplotlib import rc_context

    plots = []
    for key, build in (("losses", _losses), ("diversity", _diversity), ("ada", _ada),
                       ("metrics", _metrics), ("other", _other)):
        # a salt per plot: matplotlib's SVG ids (clip paths, markers) then differ between
        # the plots that share one HTML page
        with rc_context({"svg.fonttype": "none", "svg.hashsalt": f"artgan-{key}",
                         "font.size": 9, "axes.spines.top": False,
                         "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3,
                         "legend.frameon": False}):
            made = build(run)
            if made is not None:  # rendered inside the context: savefig reads the svg.* rc
                title, figure, caption = made
                plots.append(Plot(key, title, to_svg(figure, f"plot-{key}"), caption))
    return plots


# -- helpers --------------------------------------------------------------------------
def _figure(rows: int = 1, cols: int = 1, height: float = 2.8, sharex: bool = True):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.5, height * rows), layout="constrained")
    axes = fig.subplots(rows, cols, sharex=sharex, squeeze=False)
    return fig, [ax for row in axes for ax in row]


def to_svg(fig, prefix: str = "plot") -> str:
    """The figure as an ``<svg>`` element to paste into HTML: no XML prolog, DOCTYPE
    (it names the W3C DTD by URL), metadata or namespace declarations (HTML's parser
    puts ``<svg>`` in the SVG namespace by itself), and every id prefixed, since
    matplotlib numbers ``figure_1``, ``line2d_1``... afresh in each figure and one page
    holds several."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    svg = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg)
    svg = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}-\1"', svg)
    svg = re.sub(r'href="#([^"]+)"', rf'href="#{prefix}-\1"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", rf"url(#{prefix}-\1)", svg)
    return svg.strip()


def reduce(steps: Sequence[float], values: Sequence[float], max_points: int = MAX_POINTS):
    """(steps, means, mins, maxs) in at most ``max_points`` buckets of consecutive points
    (mins/maxs None when every point is kept)."""
    n = len(values)
    if n <= max_points:
        return list(steps), list(values), None, None
    xs, means, lows, highs = [], [], [], []
    for i in range(max_points):
        lo, hi = i * n // max_points, (i + 1) * n // max_points
        chunk = [v for v in values[lo:hi] if is_finite(v)]
        xs.append(sum(steps[lo:hi]) / (hi - lo))
        means.append(sum(chunk) / len(chunk) if chunk else float("nan"))
        lows.append(min(chunk) if chunk else float("nan"))
        highs.append(max(chunk) if chunk else float("nan"))
    return xs, means, lows, highs


def smooth(values: Sequence[float], window: int) -> list[float]:
    """Centred moving average over the finite values (the ends use shorter windows)."""
    half, out = window // 2, []
    for i in range(len(values)):
        chunk = [v for v in values[max(0, i - half):i + half + 1] if is_finite(v)]
        out.append(sum(chunk) / len(chunk) if chunk else float("nan"))
    return out


def _line(ax, steps, values, label: str, colour: str | None = None, noisy: bool = True):
    """A stats series: faint raw values (or a min-max band) and a bold moving average
    when it is long enough to be noisy; a single point gets a marker."""
    xs, ys, lows, highs = reduce(steps, values)
    if lows is not None:
        ax.fill_between(xs, lows, highs, color=colour, alpha=0.15, linewidth=0)
    sparse = len(xs) < 30
    if noisy and not sparse:
        ax.plot(xs, ys, color=colour, alpha=0.3, linewidth=0.8)
        ax.plot(xs, smooth(ys, max(5, len(xs) // 25)), color=colour, linewidth=1.6,
                label=label)
    else:
        ax.plot(xs, ys, color=colour, linewidth=1.4, label=label,
                marker="o" if sparse else None, markersize=3)


#: Colours for the other phases (r1, reg, a plugin's), in order of appearance.
OTHER_COLOURS = ("#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


def _colours(keys: Sequence[str]) -> dict[str, str]:
    """D blue and G orange in every plot; other phases get the next free colours."""
    colours, others = {}, iter(OTHER_COLOURS * (1 + len(keys) // len(OTHER_COLOURS)))
    for key in keys:
        phase = key.split("/")[0]
        colours[key] = D_COLOUR if phase == "d" else G_COLOUR if phase == "g" else next(others)
    return colours


# -- the plots ------------------------------------------------------------------------
def _losses(run: RunData):
    keys = [k for k in run.stat_keys if k.endswith("/loss")]
    if not keys:
        return None
    fig, (ax,) = _figure(height=3.2)
    colours = _colours(keys)
    for key in keys:
        _line(ax, *run.series(key), key, colours[key])
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.legend(loc="best")
    return ("Losses", fig, "Every <code>*/loss</code> in stats.jsonl, one point per "
            "<code>--log-every</code> steps (long series: faint values, bold moving "
            "average; very long ones averaged in buckets with their min-max band). "
            "D is blue and G orange in every plot.")


def _diversity(run: RunData):
    steps, values = run.series("watch/diversity")
    if not steps:
        return None
    fig, (ax,) = _figure()
    _line(ax, steps, values, "watch/diversity", "#2ca02c", noisy=False)
    ax.axhline(DIVERSITY_WARNING, color="#d62728", linestyle="--", linewidth=1,
               label=f"warning threshold {DIVERSITY_WARNING}")
    ax.axhline(1.0, color="grey", linestyle=":", linewidth=1,
               label="as varied as the real images")
    ax.set_ylim(bottom=0, top=max(1.1, max(v for v in values if is_finite(v)) * 1.05)
                if any(is_finite(v) for v in values) else 1.1)
    ax.set_xlabel("step")
    ax.set_ylabel("diversity ratio")
    ax.legend(loc="best")
    return ("Collapse watch: watch/diversity", fig,
            "Mean pairwise distance of the 64 fixed-noise samples divided by that of 64 real "
            "images, with every sample grid. Around 1 the samples differ as much as your "
            "images do; a collapsing generator falls towards 0. A fresh generator starts "
            "low and climbs; <code>artgan run</code> warns when it is below "
            f"{DIVERSITY_WARNING} and has fallen to less than half its best, or is still "
            "there after 1,000 steps.")


def _ada(run: RunData):
    steps, p = run.series("ada/p")
    if not steps:
        return None
    fig, (ax,) = _figure()
    _line(ax, steps, p, "ada/p (augmentation probability)", "#9467bd", noisy=False)
    rt_steps, rt = run.series("ada/r_t")
    if rt_steps:
        _line(ax, rt_steps, rt, "ada/r_t (mean sign of D on reals)", "#8c564b")
    target = run.find("ada_target")
    if target is None:  # a grouped layout may say {"ada": {"target": ...}}
        target = (run.find("ada", kind=dict) or {}).get("target")
    if is_finite(target) and target > 0:
        ax.axhline(target, color="#8c564b", linestyle="--", linewidth=1,
                   label=f"target {target:g}")
    ax.set_ylim(bottom=min(0.0, min((v for v in rt if is_finite(v)), default=0.0)) - 0.02)
    ax.set_xlabel("step")
    ax.legend(loc="best")
    return ("Adaptive augmentation (ADA)", fig,
            "p rises while D is over-confident on the real images (r_t above the target) "
            "and falls below it.")


def _metrics(run: RunData):
    names = run.metric_names
    if not names:
        return None
    best = run.best
    fig, axes = _figure(rows=len(names), height=2.4)
    for ax, name in zip(axes, names):
        points = [(r["step"], r[name]) for r in run.metrics
                  if is_finite(r.get("step")) and is_finite(r.get(name))]
        ax.plot([s for s, _ in points], [v for _, v in points], marker="o", markersize=4,
                linewidth=1.4, color="#17becf", label=name)
        real = _real_reference(run.metrics, name)
        if real is not None:
            ax.axhline(real, color="grey", linestyle=":", linewidth=1,
                       label=f"real images {real:.4g}")
        if best is not None and is_finite(best.get("step")):
            ax.axvline(best["step"], color="#2ca02c", linestyle="--", linewidth=1,
                       label=f"best.pt (step {best['step']})")
            if is_finite(best.get(name)):
                ax.plot([best["step"]], [best[name]], marker="*", markersize=13,
                        color="#2ca02c", linestyle="none")
        ax.set_ylabel(name)
        ax.legend(loc="best")
    axes[-1].set_xlabel("step")
    return ("Metrics", fig, "One point per evaluation (metrics.jsonl). The dashed line and "
                            "the star mark the evaluation that wrote checkpoints/best.pt "
                            "(ranked by the first metric).")


def _real_reference(records, name: str) -> float | None:
    """The value of the real images where a metric reports one (``ms_ssim_real``)."""
    for record in reversed(records):
        details = record.get("details")
        details = details.get(name) if isinstance(details, dict) else None
        if isinstance(details, dict):
            for key, value in details.items():
                if key.endswith("_real") and is_finite(value):
                    return float(value)
    return None


def _other(run: RunData):
    shown = {"watch/diversity", "ada/p", "ada/r_t"}
    keys = [k for k in run.stat_keys if not k.endswith("/loss") and k not in shown]
    if not keys:
        return None
    cols = 3 if len(keys) > 4 else 2 if len(keys) > 1 else 1
    rows = -(-len(keys) // cols)
    fig, axes = _figure(rows=rows, cols=cols, height=2.0, sharex=False)
    colours = _colours(keys)
    for ax, key in zip(axes, keys):
        _line(ax, *run.series(key), key, colours[key])
        ax.set_title(key, fontsize=9)
    for ax in axes[len(keys):]:
        ax.set_visible(False)
    for ax in axes[len(keys) - cols:len(keys)]:
        ax.set_xlabel("step")
    return ("Other statistics", fig,
            "The rest of stats.jsonl: D's mean scores on real and generated images "
            "(<code>d/real</code> climbing while <code>d/fake</code> falls: D wins outright), "
            "regularisers, throughput.")
