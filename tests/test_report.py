"""`artgan report`: one self-contained HTML page per run folder."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from artgan.cli import cli
from artgan.core.errors import ArtganError
from artgan.report import ReportError, write_report
from artgan.report.grids import MAX_GRIDS
from artgan.report.plots import MAX_POINTS, reduce

from .helpers import TINY, artgan

COLOURS = [(200, 30, 30), (30, 200, 30), (30, 30, 200)]


def flat_config(**extra) -> dict:
    """Today's flat config.json layout (RunConfig.to_dict plus what run_cmd adds)."""
    return {
        "gen": {"name": "dcgan", "options": {"z_dim": 100, "ngf": 12345}, "argument": None},
        "disc": {"name": "dcgan", "options": {"ndf": 8, "norm": "batch"}, "argument": None},
        "loss": {"name": "hinge", "options": {}, "argument": None},
        "data": {"name": "folder", "options": {"labels": "auto"}, "argument": "./paintings"},
        "resolution": 16, "channels": 3, "batch_size": 16, "epochs": 5, "max_steps": 60,
        "n_critic": 1,
        "optimizer": {"name": "adam", "lr_g": 0.000123, "lr_d": 0.0002, "betas": [0.5, 0.999],
                      "weight_decay": 0.0, "source": "recommended by loss 'hinge'"},
        "device": "cpu", "seed": 0, "ada_target": 0.6,
        "notes": ["recipe small-data: ema=True"],
        "metrics": [{"name": "ms-ssim", "options": {"num_pairs": 100}, "argument": None}],
        "data_summary": {"images": 200, "classes": [], "skipped": 3,
                         "skipped_examples": [["bad/<b>odd</b>.png", "not an image"],
                                              ["empty.jpg", "empty file"]]},
        **extra,
    }


def write_stats(run: Path, steps=range(4, 61, 4), grid_steps=(12, 24, 36)) -> None:
    lines = []
    for step in steps:
        record = {"step": step, "epoch": step // 12, "images_per_s": 100.0 + step,
                  "d/loss": 1.5 - step / 100, "d/real": 0.1, "d/fake": -0.1,
                  "g/loss": 0.7 + step / 200, "ada/p": step / 600, "ada/r_t": 0.7}
        if step % 16 == 0:
            record.update({"r1/loss": 0.2, "r1/penalty": 0.01})
        if step in grid_steps:
            record["watch/diversity"] = step / 100
        lines.append(json.dumps(record))
    (run / "stats.jsonl").write_text("\n".join(lines) + "\n")


def write_grid(path: Path, colour, size=(20, 20)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)


@pytest.fixture
def run(tmp_path) -> Path:
    """A complete fake run folder: config, stats of several phases, metrics whose best
    is step 40, three grids, final.png and checkpoints."""
    run = tmp_path / "20261122-101500-dcgan-hinge-folder"
    run.mkdir()
    (run / "config.json").write_text(json.dumps(flat_config(), indent=2))
    write_stats(run)
    metrics = [{"step": s, "epoch": s // 12, "ms-ssim": v, "seconds": 0.2, "is_best": b,
                "details": {"ms-ssim": {"ms_ssim": v, "ms_ssim_real": 0.05, "num_fake": 100}}}
               for s, v, b in ((20, 0.5, True), (40, 0.3, True), (60, 0.4, False))]
    (run / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in metrics))
    for epoch, colour in zip((1, 2, 3), COLOURS):
        write_grid(run / "samples" / f"epoch-{epoch:04d}.png", colour)
    write_grid(run / "samples" / "final.png", (250, 250, 0))
    (run / "checkpoints").mkdir()
    for name in ("last.pt", "best.pt"):
        (run / "checkpoints" / name).write_bytes(b"not read by the report")
    return run


def image_uris(html: str) -> list[bytes]:
    return [base64.b64decode(data) for data in
            re.findall(r'<img src="data:image/(?:png|jpeg);base64,([^"]+)"', html)]


def assert_self_contained(html: str) -> None:
    assert "http://" not in html and "https://" not in html
    assert not re.search(r"<(link|iframe|object|embed)\b", html)
    assert "@import" not in html and "@font-face" not in html
    for attribute, value in re.findall(r'\b(src|href)="([^"]*)"', html):
        assert value.startswith("data:" if attribute == "src" else "#"), (attribute, value)
    assert not re.search(r"url\((?!#)", html)  # CSS/SVG url() only to ids in the page
    assert "<script src" not in html
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), "duplicate ids (several SVGs in one page)"
    refs = set(re.findall(r'href="#([^"]+)"', html)) | set(re.findall(r"url\(#([^)]+)\)", html))
    assert refs <= set(ids), refs - set(ids)


def test_report_is_self_contained_and_shows_everything(run):
    path = write_report(run)
    assert path == run / "report.html"
    html = path.read_text(encoding="utf-8")
    assert_self_contained(html)
    assert html.count("<svg") == 5  # losses, diversity, ADA, metrics, other statistics
    for key in ("d/loss", "g/loss", "r1/loss", "ada/p", "ada/r_t", "d/real", "d/fake",
                "r1/penalty", "images_per_s"):
        assert f">{key}" in html, key  # a legend or title inside the SVGs
    # every grid, byte for byte (small PNGs are embedded as they are), and final.png
    embedded = image_uris(html)
    files = [run / "samples" / f"epoch-{e:04d}.png" for e in (1, 2, 3)]
    assert set(embedded) == {f.read_bytes() for f in files + [run / "samples" / "final.png"]}
    assert "epoch-0002.png · epoch 2 · step 24 · diversity 0.240" in html
    # best checkpoint: marked in the plot and the table
    assert "best.pt (step 40)" in html
    assert re.search(r'<tr class=best><td class="num">40</td>', html)
    assert "checkpoints/best.pt: step 40, ms-ssim 0.3" in html
    assert "real images 0.05" in html  # the metric's reference value
    # collapse watch threshold and explanation
    assert "warning threshold 0.25" in html and "collapsing generator" in html
    # header
    assert "dcgan (z_dim=100, ngf=12345)" in html and "folder:./paintings" in html
    assert "60 of 60 steps" in html and "finished" in html and "2026-11-22 10:15:00" in html
    # config values, grouped; notes; data and skipped files (escaped)
    assert "<h3>optimizer</h3>" in html and "0.000123" in html and ">gen.ngf<" in html
    assert "recipe small-data: ema=True" in html
    assert "bad/&lt;b&gt;odd&lt;/b&gt;.png" in html and "<b>odd</b>" not in html
    assert "... and 1 more not listed" in html
    assert "<script>" in html and 'type="range"' in html
    assert not list(run.glob(".report.html.*"))  # written atomically: no temp file left


def test_grouped_config_layout_is_shown_without_knowing_its_keys(run):
    flat = flat_config()
    grouped = {
        "components": {k: flat[k] for k in ("gen", "disc", "loss", "data")},
        "image": {"resolution": 16, "channels": 3},
        "schedule": {"batch_size": 16, "epochs": 5, "max_steps": 60, "brand_new_key": 77777},
        "optimisation": {"g": {"name": "adam", "lr": 0.000456}},
        "regularisation": {"ada": {"target": 0.6}},
        "runtime": {"device": "cpu"},
        "notes": flat["notes"], "data_summary": flat["data_summary"],
    }
    (run / "config.json").write_text(json.dumps(grouped))
    html = write_report(run).read_text()
    for group in grouped:
        if group not in ("notes", "data_summary"):
            assert f"<h3>{group}</h3>" in html, group
    assert "77777" in html and "0.000456" in html
    assert "dcgan (z_dim=100, ngf=12345)" in html  # the header found the components
    assert "60 of 60 steps" in html and "target 0.6" in html
    assert "recipe small-data: ema=True" in html and "empty.jpg" in html


def test_partial_runs(run):
    # a run still writing: the last line of stats.jsonl is half written, no final grid
    with open(run / "stats.jsonl", "a") as fh:
        fh.write('{"step": 64, "epoch": 5, "d/lo')
    (run / "samples" / "final.png").unlink()
    html = write_report(run).read_text()
    assert "the last line is incomplete" in html and "in progress or stopped" in html
    assert html.count("<svg") == 5 and len(image_uris(html)) == 3

    # a bad line in the middle, a broken grid: left out and said so
    lines = (run / "stats.jsonl").read_text().splitlines()
    (run / "stats.jsonl").write_text("\n".join(lines[:3] + ["{oops"] + lines[3:-1]) + "\n")
    (run / "samples" / "epoch-0002.png").write_bytes(b"\x89PNG truncated")
    html = write_report(run).read_text()
    assert "1 unreadable line(s) left out (line 4)" in html
    assert "samples/epoch-0002.png cannot be read as an image" in html
    assert len(image_uris(html)) == 2

    # before the first log line: empty stats, no metrics, no samples
    (run / "stats.jsonl").write_text("")
    (run / "metrics.jsonl").unlink()
    shutil.rmtree(run / "samples")
    html = write_report(run).read_text()
    assert_self_contained(html)
    assert "<svg" not in html and "<img" not in html and "No sample grid yet" in html
    assert "0 of 60 steps" in html and "<h3>optimizer</h3>" in html

    # no config (or a broken one), only stats: still a page
    (run / "config.json").write_text("{not json")
    write_stats(run)
    html = write_report(run).read_text()
    assert "config.json is not valid JSON" in html and html.count("<svg") == 4


def test_resumed_run_relogs_steps(run):
    write_stats(run, steps=list(range(4, 41, 4)) + list(range(24, 61, 4)))
    html = write_report(run).read_text()
    assert "logged again after a resume" in html
    from artgan.report.rundata import read_run

    steps = [r["step"] for r in read_run(run).stats]
    assert steps == sorted(steps) and steps[-1] == 60 and len(steps) == len(set(steps))


def test_long_runs_stay_small(run):
    write_stats(run, steps=range(10, 200_001, 10), grid_steps=())  # 20,000 lines
    for epoch in range(1, 151):
        write_grid(run / "samples" / f"epoch-{epoch:04d}.png", (epoch, 0, 0), (8, 8))
    noise = Image.effect_noise((1200, 1200), 80).convert("RGB")  # a 1200 px grid
    noise.save(run / "samples" / "final.png")
    html = write_report(run).read_text()
    uris = image_uris(html)
    assert len(uris) == MAX_GRIDS + 1
    assert f"Showing {MAX_GRIDS} of 150 grids" in html
    assert "epoch-0001.png" in html and "epoch-0150.png" in html  # first and last kept
    assert "re-encoded" in html and max(len(u) for u in uris) < 2_100_000  # final as JPEG
    svg = sum(len(s) for s in re.findall(r"<svg.*?</svg>", html, flags=re.S))
    assert svg < 1_200_000, svg
    xs, ys, lo, hi = reduce(list(range(20_000)), [float(v % 7) for v in range(20_000)])
    assert len(xs) == MAX_POINTS and min(lo) == 0 and max(hi) == 6


def test_out_option_and_folder(run, tmp_path):
    target = write_report(run, tmp_path / "mail" / "my-run.html")
    assert target == tmp_path / "mail" / "my-run.html" and target.stat().st_size > 1000
    assert write_report(run, tmp_path / "mail") == tmp_path / "mail" / "report.html"


@pytest.mark.parametrize("kind", ["missing", "file", "not-a-run"])
def test_not_a_run_folder_is_a_one_line_error(tmp_path, kind):
    path = tmp_path / "x"
    if kind == "file":
        path.write_text("hello")
    elif kind == "not-a-run":
        (path / "photos").mkdir(parents=True)
    with pytest.raises(ReportError) as info:
        write_report(path)
    assert isinstance(info.value, ArtganError) and str(path) in str(info.value)
    result = CliRunner().invoke(cli, ["report", str(path)])
    assert result.exit_code == 2
    assert result.output.startswith("Error: ") and result.output.count("\n") == 1
    assert "Traceback" not in result.output


def test_cli_report_of_a_real_tiny_run(tmp_path):
    run = tmp_path / "run"
    artgan("run", *TINY, "--max-steps", "8", "--metric", "ms-ssim", "--eval-every", "4",
           "--eval-images", "64", "--out", run)
    result = artgan("report", run)
    assert result.output.strip().startswith(f"Report: {run / 'report.html'} (")
    html = (run / "report.html").read_text()
    assert_self_contained(html)
    assert html.count("<svg") == 4  # losses, diversity, metrics, other (no ADA)
    assert len(image_uris(html)) == len(list((run / "samples").glob("*.png")))
    assert re.search(r"best\.pt \(step [48]\)", html) and "finished" in html
    out = tmp_path / "elsewhere.html"
    assert f"Report: {out}" in artgan("report", run, "--out", out).output


def test_report_help_and_import_stay_light():
    probe = ("import sys; import artgan.report; from artgan.cli import cli\n"
             "cli.main(['report', '--help'], prog_name='artgan', standalone_mode=False)\n"
             "print(sorted(m for m in ('torch', 'matplotlib', 'PIL') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout
    assert "artgan report [OPTIONS] RUN" in out and out.strip().endswith("[]"), out


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") \
    or shutil.which("google-chrome")


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium to render the page")
def test_page_renders_in_a_browser(run, tmp_path):
    """Headless Chromium with the network off: the script runs (one grid under the
    slider), and the screenshot is not blank."""
    page = write_report(run)
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--proxy-server=127.0.0.1:9", "--user-data-dir=" + str(tmp_path / "profile")]
    dom = subprocess.run(flags + ["--dump-dom", page.as_uri()], capture_output=True,
                         text=True, timeout=60).stdout
    frames = re.findall(r'<figure class="frame"( hidden="")?>', dom)
    assert len(frames) == 3 and frames.count(' hidden=""') == 2, frames
    assert 'id="timeline" class="js"' in dom
    shot = tmp_path / "shot.png"
    subprocess.run(flags + ["--window-size=1000,1400", f"--screenshot={shot}", page.as_uri()],
                   capture_output=True, timeout=60, cwd=tmp_path)
    with Image.open(shot) as image:
        colours = image.convert("RGB").resize((100, 140)).getcolors(100 * 140)
    assert colours is not None and len(colours) > 20  # text, plots: not an empty page
