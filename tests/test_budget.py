"""``--max-minutes``: a training budget in time, ending the run as planned and resumable."""

from artgan.core.checkpoint import load_checkpoint

from .helpers import TINY, artgan, read_stats


def test_a_time_budget_ends_the_run_with_its_final_grid_and_checkpoint(tmp_path):
    run = tmp_path / "run"
    result = artgan("run", *TINY, "--epochs", "100000", "--max-minutes", "0.05", "--out", run)
    assert "Done" in result.output
    step = load_checkpoint(run)["step"]
    assert 0 < step < 100000 * 8  # stopped by the budget, not by the epochs
    assert (run / "samples" / "final.png").exists()
    assert read_stats(run)[-1]["step"] == step  # the last steps were logged
    artgan("run", "--resume", run, "--max-minutes", "0.02")
    assert load_checkpoint(run)["step"] > step  # a resume gets a new budget


def test_the_budget_must_be_positive(tmp_path):
    result = artgan("run", *TINY, "--max-minutes", "0", "--out", tmp_path / "x", expect=2)
    assert "--max-minutes" in result.output
