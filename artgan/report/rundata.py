"""Read a run folder for the report, tolerating runs that are partial, still being
written or from another artgan version.

Nothing here trusts a file to be complete: a missing ``stats.jsonl`` is an empty
history, an unparseable line is skipped and counted (the last one is usually a line
the trainer is writing right now), and ``config.json`` is searched by key name rather
than read by a fixed layout, so flat and grouped layouts both work.
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from ..core.errors import ArtganError
from ..core.run_layout import BEST, CHECKPOINTS, CONFIG, FINAL_GRID, LAST, METRICS, SAMPLES, \
    STATS

#: What makes a folder a run folder: any one of these.
RUN_MARKERS = (CONFIG, STATS, METRICS, SAMPLES, CHECKPOINTS)
_GRID_RE = re.compile(r"^epoch-(\d+)\.png$")
_STAMP_RE = re.compile(r"^(\d{8}-\d{6})(?:-|$)")  # runs/<YYYYmmdd-HHMMSS>-<gen>-<loss>


class ReportError(ArtganError, ValueError):
    """The folder is not a run folder, or one of its files cannot be read."""


@dataclass
class Grid:
    """One sample grid: ``samples/epoch-NNNN.png`` (``epoch`` set) or ``final.png``."""

    path: Path
    label: str
    epoch: int | None = None
    step: int | None = None  # from the stats record of the collapse watch, when known
    diversity: float | None = None


@dataclass
class RunData:
    """Everything the report shows, as read from the folder."""

    path: Path
    config: dict[str, Any] = field(default_factory=dict)
    stats: list[dict[str, Any]] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    grids: list[Grid] = field(default_factory=list)
    final: Grid | None = None
    checkpoints: dict[str, Path] = field(default_factory=dict)  # "last" / "best" -> file
    problems: list[str] = field(default_factory=list)  # shown on the page
    times: dict[str, float] = field(default_factory=dict)  # "start", "last_write"

    # -- what the header needs --------------------------------------------------------
    def find(self, *names: str, kind: type | tuple[type, ...] | None = None) -> Any:
        """The value of the first of ``names`` found in the config, at the top level or
        in any group (breadth first), optionally only values of type ``kind``."""
        return find_key(self.config, names, kind)

    @property
    def data_summary(self) -> dict[str, Any]:
        value = self.find("data_summary", kind=dict)
        return value if value is not None else {}

    @property
    def notes(self) -> list[str]:
        value = self.find("notes", kind=(list, tuple))
        return [str(v) for v in value] if value else []

    @property
    def steps_done(self) -> int | None:
        steps = [r["step"] for r in self.stats + self.metrics if _is_number(r.get("step"))]
        return int(max(steps)) if steps else None

    @property
    def steps_per_epoch(self) -> int | None:
        """Full batches per epoch: images // batch size, as the trainer counts them."""
        images, batch = self.data_summary.get("images"), self.find("batch_size")
        if _is_number(images) and _is_number(batch) and batch > 0:
            return max(1, int(images) // int(batch))
        return None

    @property
    def steps_planned(self) -> int | None:
        epochs, max_steps, per_epoch = (self.find("epochs"), self.find("max_steps"),
                                        self.steps_per_epoch)
        planned = [int(v) for v in (max_steps,) if _is_number(v)]
        if _is_number(epochs) and per_epoch:
            planned.append(int(epochs) * per_epoch)
        return min(planned) if planned else None

    @property
    def finished(self) -> bool:
        """``samples/final.png`` is written last, after the final evaluation; on a
        resumed, longer run an old one stays until the new end, so compare steps too."""
        if self.final is None:
            return False
        done, planned = self.steps_done, self.steps_planned
        return done is None or planned is None or done >= planned

    @property
    def best(self) -> dict[str, Any] | None:
        """The metrics record of ``checkpoints/best.pt``: the last one marked is_best."""
        marked = [r for r in self.metrics if r.get("is_best") is True]
        return marked[-1] if marked else None

    @property
    def metric_names(self) -> list[str]:
        names: list[str] = []
        for record in self.metrics:
            for key, value in record.items():
                if key not in METRIC_META and _is_number(value) and key not in names:
                    names.append(key)
        return names

    def series(self, key: str) -> tuple[list[float], list[float]]:
        """(steps, values) of ``key`` over the stats records with a finite value of it."""
        steps, values = [], []
        for record in self.stats:
            value = record.get(key)
            if is_finite(record.get("step")) and is_finite(value):
                steps.append(float(record["step"]))
                values.append(float(value))
        return steps, values

    @property
    def stat_keys(self) -> list[str]:
        """Every numeric key of the stats records, in order of first appearance."""
        keys: list[str] = []
        for record in self.stats:
            for key, value in record.items():
                if key not in ("step", "epoch") and _is_number(value) and key not in keys:
                    keys.append(key)
        return keys


METRIC_META = ("step", "epoch", "seconds", "is_best", "details")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_finite(value: Any) -> bool:
    return _is_number(value) and math.isfinite(value)


def find_key(tree: Any, names: Iterable[str], kind=None, depth: int = 3) -> Any:
    """Breadth-first search of nested dicts for the first key in ``names``."""
    names = tuple(names)
    level = [tree] if isinstance(tree, dict) else []
    for _ in range(depth):
        for name in names:
            for node in level:
                if name in node and (kind is None or isinstance(node[name], kind)):
                    return node[name]
        level = [v for node in level for v in node.values() if isinstance(v, dict)]
    return None


def read_run(run_dir: str | Path) -> RunData:
    """Read ``run_dir``; raise :class:`ReportError` if it is not a run folder."""
    path = Path(run_dir)
    if not path.exists():
        raise ReportError(f"{path} does not exist: give a run folder (what `artgan run` "
                          f"wrote, e.g. runs/<name>)")
    if not path.is_dir():
        raise ReportError(f"{path} is a file, not a run folder: give the folder that "
                          f"`artgan run` wrote (it holds config.json and stats.jsonl)")
    if not any((path / marker).exists() for marker in RUN_MARKERS):
        raise ReportError(f"{path} is not a run folder: it has none of "
                          f"{', '.join(RUN_MARKERS)}; give the folder that `artgan run` wrote")
    run = RunData(path=path)
    run.config = _read_config(path / CONFIG, run.problems)
    run.stats = _resumed(_read_jsonl(path / STATS, run.problems), STATS,
                         run.problems)
    run.metrics = _resumed(_read_jsonl(path / METRICS, run.problems), METRICS,
                           run.problems)
    run.grids, run.final = _find_grids(path / SAMPLES, run.stats)
    run.checkpoints = {file.rpartition(".")[0]: path / CHECKPOINTS / file
                       for file in (LAST, BEST) if (path / CHECKPOINTS / file).is_file()}
    run.times = _times(path)
    return run


def _read_text(file: Path) -> str | None:
    """The file's text, None if missing; ReportError if it exists but cannot be read."""
    try:
        return file.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ReportError(f"cannot read {file}: {exc.strerror or exc}") from exc


def _read_config(file: Path, problems: list[str]) -> dict[str, Any]:
    text = _read_text(file)
    if text is None:
        problems.append("config.json is missing: the run's settings are not shown")
        return {}
    try:
        config = json.loads(text)
    except ValueError as exc:
        problems.append(f"config.json is not valid JSON ({exc}); the run's settings are "
                        f"not shown")
        return {}
    if not isinstance(config, dict):
        problems.append("config.json does not hold a JSON object; the run's settings are "
                        "not shown")
        return {}
    return config


def _read_jsonl(file: Path, problems: list[str]) -> list[dict[str, Any]]:
    """The JSON objects of ``file``, one a line; bad lines are skipped and reported."""
    text = _read_text(file)
    if text is None:
        return []
    lines = text.split("\n")
    complete = text.endswith("\n")
    records, bad = [], []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if isinstance(record, dict):
            records.append(record)
        elif number == len(lines) and not complete:
            problems.append(f"{file.name}: the last line is incomplete (the run may still "
                            f"be writing it); it is left out")
        else:
            bad.append(number)
    if bad:
        shown = ", ".join(map(str, bad[:5])) + (", ..." if len(bad) > 5 else "")
        problems.append(f"{file.name}: {len(bad)} unreadable line(s) left out "
                        f"(line {shown})")
    return records


def _resumed(records: list[dict[str, Any]], name: str,
             problems: list[str]) -> list[dict[str, Any]]:
    """Records in step order as the run last saw them: a run resumed from a checkpoint
    older than its last record logs those steps again, and the later lines win."""
    kept: list[dict[str, Any]] = []
    replaced = 0
    for record in records:
        step = record.get("step")
        if not _is_number(step):
            continue
        while kept and kept[-1]["step"] >= step:
            kept.pop()
            replaced += 1
        kept.append(record)
    if replaced:
        problems.append(f"{name}: {replaced} record(s) were logged again after a resume "
                        f"from an earlier checkpoint; the later ones are shown")
    return kept


def _find_grids(samples: Path, stats: list[dict[str, Any]]) -> tuple[list[Grid], Grid | None]:
    """The epoch grids in epoch order and final.png, each with its step and collapse-watch
    value where a stats record tells them (the watch runs with every grid, and its record
    carries the grid's epoch number)."""
    watched: dict[int, dict[str, Any]] = {}
    for record in stats:
        if _is_number(record.get("watch/diversity")) and _is_number(record.get("epoch")):
            watched[int(record["epoch"])] = record
    grids = []
    if samples.is_dir():
        for file in samples.iterdir():
            match = _GRID_RE.match(file.name)
            if match and file.is_file():
                epoch = int(match.group(1))
                record = watched.get(epoch, {})
                grids.append(Grid(file, f"epoch {epoch}", epoch, _int(record.get("step")),
                                  _float(record.get("watch/diversity"))))
    grids.sort(key=lambda g: g.epoch)
    final = samples / FINAL_GRID
    final_grid = None
    if final.is_file():
        steps = [r["step"] for r in stats if _is_number(r.get("step"))]
        final_grid = Grid(final, "final", None, int(max(steps)) if steps else None)
    return grids, final_grid


def _int(value: Any) -> int | None:
    return int(value) if _is_number(value) else None


def _float(value: Any) -> float | None:
    return float(value) if _is_number(value) else None


def _times(path: Path) -> dict[str, float]:
    """When the run started (the folder name's stamp, else config.json's time: written
    before step 0, and again on --resume) and when it last wrote something."""
    times: dict[str, float] = {}
    match = _STAMP_RE.match(path.name)
    if match:
        try:
            times["start"] = time.mktime(time.strptime(match.group(1), "%Y%m%d-%H%M%S"))
        except ValueError:
            pass
    files = [path / CONFIG, path / STATS, path / METRICS, path / SAMPLES / FINAL_GRID,
             path / CHECKPOINTS / LAST]
    mtimes = {}
    for file in files:
        try:
            mtimes[file.name] = file.stat().st_mtime
        except OSError:
            pass
    if "start" not in times and CONFIG in mtimes:
        times["config_written"] = mtimes[CONFIG]
    if mtimes:
        times["last_write"] = max(mtimes.values())
    return times
