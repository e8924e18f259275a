"""``artgan eval``: metrics registered with their options, scoring folders and
checkpoints from the command line, clean errors."""

import json
import subprocess
import sys

import torch
from click.testing import CliRunner

from artgan import plugin_host
from artgan.core.images import save_each
from artgan.metrics import inception as inc
from artgan.metrics.msssim import MSSSIM
from artgan.metrics.scores import FID, InceptionScore

from .test_metrics import METRICS


# --- Registration and CLI -------------------------------------------------------------------

def test_metrics_are_registered_with_options_and_the_hook_module_is_torch_free():
    registry = plugin_host.get_registry()
    assert registry.names("metric") == sorted(METRICS)
    msssim = registry.build("metric", "ms-ssim", {"num_pairs": "10"})
    assert isinstance(msssim, MSSSIM) and msssim.options.num_pairs == 10
    assert registry.get("metric", "kid").options().subset_size == 1000
    assert registry.get("metric", "is").options().splits == 10
    assert InceptionScore.higher_is_better and not FID.higher_is_better
    out = subprocess.run([sys.executable, "-c", "import sys, artgan.plugins.metrics; "
                          "print('torch' in sys.modules)"], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"


def _eval(*args):
    from artgan.cli import cli

    return CliRunner().invoke(cli, ["eval", *map(str, args)], catch_exceptions=False)


def test_cli_eval_fake_folder_ms_ssim_json(tmp_path):
    save_each(torch.rand(12, 3, 16, 16) * 2 - 1, tmp_path / "fake")
    result = _eval("--fake", tmp_path / "fake", "--real", "demo", "--metric", "ms-ssim",
                   "-o", "data.size=64", "-o", "ms-ssim.num_pairs=50", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    ms = report["metrics"]["ms-ssim"]
    assert 0 <= ms["ms_ssim"] < 0.2 and ms["num_fake"] == 12 and ms["ms_ssim_pairs"] == 50
    assert ms["num_real"] == 64 and report["real"].startswith("demo (64 images, 16px)")


def test_cli_eval_without_weights_is_a_clean_error(tmp_path, no_weights):
    save_each(torch.rand(4, 3, 16, 16) * 2 - 1, tmp_path / "fake")
    result = _eval("--fake", tmp_path / "fake", "--real", "demo", "--metric", "fid")
    assert result.exit_code == 2
    assert result.output.startswith("Error: ") and inc.WEIGHTS_FILENAME in result.output
    missing = tmp_path / "nope.pth"
    result = _eval("--fake", tmp_path / "fake", "--real", "demo", "-m", "kid",
                   "--inception-weights", missing)
    assert result.exit_code == 2 and str(missing) in result.output


def test_cli_eval_checkpoint_defaults_to_its_training_data(tmp_path):
    from .helpers import TINY, artgan

    run = tmp_path / "run"
    artgan("run", *TINY, "--max-steps", "1", "--out", run)
    result = _eval("--ckpt", run, "-m", "ms-ssim", "-n", "20", "-o", "msssim.num_pairs=30")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ms-ssim: ") and "demo (128 images, 16px)" in result.output


def test_cli_eval_scores_exactly_the_images_written_by_sample(tmp_path):
    """`artgan sample` writes only the samples into --out (the grid beside it), and eval
    counts exactly those, both as --fake and as a folder: reference."""
    from .helpers import TINY, artgan

    run, out = tmp_path / "run", tmp_path / "gen"
    artgan("run", *TINY, "--max-steps", "1", "--out", run)
    artgan("sample", "--ckpt", run, "-n", "10", "--out", out)
    assert sorted(p.name for p in out.iterdir()) == [f"sample-{i:04d}.png" for i in range(10)]
    assert (tmp_path / "gen-grid.png").is_file()
    result = _eval("--fake", out, "--real", "demo", "-m", "ms-ssim", "-o", "data.size=64",
                   "-o", "ms-ssim.num_pairs=20", "--json")
    assert result.exit_code == 0, result.output
    ms = json.loads(result.stdout)["metrics"]["ms-ssim"]
    assert ms["num_fake"] == 10 and ms["fake"] == f"--fake {out} (10 images, 16px)"
    result = _eval("--fake", out, "--real", f"folder:{out}", "-m", "ms-ssim",
                   "-o", "ms-ssim.num_pairs=20", "--json")
    assert json.loads(result.stdout)["metrics"]["ms-ssim"]["num_real"] == 10


def test_cli_eval_fake_folder_takes_the_most_common_size_and_reports_the_rest(tmp_path):
    """A folder from an older `artgan sample` holds grid.png (larger, first in name order):
    the samples' size wins, the grid is skipped and named on stderr."""
    from artgan.core.images import save_grid

    images = torch.rand(6, 3, 16, 16) * 2 - 1
    save_each(images, tmp_path / "old")
    save_grid(images, tmp_path / "old" / "grid.png", nrow=2)
    (tmp_path / "old" / "notes.png").write_text("not an image")
    result = _eval("--fake", tmp_path / "old", "-m", "ms-ssim", "-o", "ms-ssim.num_pairs=20",
                   "--json")
    assert result.exit_code == 0, result.output
    ms = json.loads(result.stdout)["metrics"]["ms-ssim"]
    assert ms["num_fake"] == 6 and ms["fake"].endswith("(6 images, 16px)")
    assert "Skipped 2 file(s)" in result.stderr and "grid.png (38x56" in result.stderr
    assert "notes.png (not a readable image)" in result.stderr


def test_cli_eval_says_why_a_file_is_not_a_checkpoint(tmp_path):
    """Not torch's bare "105": empty, damaged, pickled objects, or not a checkpoint."""
    run = tmp_path / "run"
    from .helpers import TINY, artgan

    artgan("run", *TINY, "--max-steps", "1", "--out", run)
    good = (run / "checkpoints" / "last.pt").read_bytes()
    files = {"notackpt.pt": b"i am text, not a checkpoint\n", "empty.pt": b"",
             "cut.pt": good[:len(good) // 2]}
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    torch.save(torch.nn.Linear(2, 2), tmp_path / "module.pt")
    expected = {"notackpt.pt": "not a checkpoint: the file was not written by torch.save",
                "empty.pt": "the file is empty (0 bytes)",
                "cut.pt": "the file is damaged",
                "module.pt": "the file holds pickled Python objects"}
    for name, why in expected.items():
        result = _eval("--ckpt", tmp_path / name, "-m", "ms-ssim")
        assert result.exit_code == 2, result.output
        assert result.output.startswith(f"Error: cannot read checkpoint {tmp_path / name}: {why}")
        assert len(result.output) < 300
    result = _eval("--ckpt", tmp_path / "missing.pt", "-m", "ms-ssim")
    assert result.exit_code == 2 and "does not exist" in result.output
