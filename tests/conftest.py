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

