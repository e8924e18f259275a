"""Metrics: the formulas against independent computations, the FID Inception's layout, the
weights policy, MS-SSIM and end to end with a small injected network (``artgan eval``:
tests/test_eval_cmd.py).

No real Inception weights exist here: the network is checked with random weights, and
the scores with a tiny random feature network injected through ``feature_fn``.
"""

import hashlib

import numpy as np
import pytest
import scipy.linalg
import torch
from skimage.metrics import structural_similarity

from artgan import plugin_host
from artgan.metrics import InceptionWeightsError, MetricError
from artgan.metrics import inception as inc
from artgan.evaluation.evaluate import evaluate
from artgan.evaluation.features import FeatureStore, RefStatsCache, extract_features
from artgan.evaluation.image_sets import ImageSet
from artgan.metrics.msssim import MSSSIM, _ssim_terms, ms_ssim, scale_plan
from artgan.metrics.scores import FID, KID, InceptionScore
from artgan.metrics.stats import (frechet_distance, gaussian_stats, inception_score,
                                  kernel_inception_distance, mmd2_unbiased)

METRICS = ["fid", "kid", "is", "ms-ssim"]


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny tensor ops are much slower with two threads on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# --- Frechet distance ----------------------------------------------------------------------

def _fd_scipy(mu1, s1, mu2, s2):
    """Independent reference: the textbook formula with scipy's sqrtm."""
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * np.real(covmean)))


def test_frechet_distance_matches_scipy_on_features():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(400, 12)) @ rng.normal(size=(12, 12))
    b = rng.normal(0.3, 1.5, size=(300, 12)) @ rng.normal(size=(12, 12))
    mu_a, s_a = gaussian_stats(a)
    mu_b, s_b = gaussian_stats(b)
    np.testing.assert_allclose(s_a, np.cov(a.T), rtol=1e-12)
    np.testing.assert_allclose(mu_b, b.mean(0), rtol=1e-12)
    expected = _fd_scipy(a.mean(0), np.cov(a.T), b.mean(0), np.cov(b.T))
    assert frechet_distance(mu_a, s_a, mu_b, s_b) == pytest.approx(expected, rel=1e-8)


def test_frechet_distance_closed_form_for_commuting_covariances():
    rng = np.random.default_rng(1)
    mu1, mu2 = rng.normal(size=8), rng.normal(size=8)
    a, b = rng.uniform(0.1, 4, size=8), rng.uniform(0.1, 4, size=8)
    # ||mu1 - mu2||^2 + sum (sqrt(a) - sqrt(b))^2 for diagonal covariances
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-10)
    q, _ = np.linalg.qr(rng.normal(size=(8, 8)))  # same eigenvectors: same closed form
    got = frechet_distance(mu1, q @ np.diag(a) @ q.T, mu2, q @ np.diag(b) @ q.T)
    assert got == pytest.approx(expected, rel=1e-9)
    assert frechet_distance(mu1, np.diag(a), mu1, np.diag(a)) == pytest.approx(0, abs=1e-10)


def test_frechet_distance_of_rank_deficient_covariances_is_finite_and_real():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(10, 64)), rng.normal(size=(12, 64))  # fewer samples than dims
    mu_x, s_x = gaussian_stats(x)
    mu_y, s_y = gaussian_stats(y)
    value = frechet_distance(mu_x, s_x, mu_y, s_y)
    assert isinstance(value, float) and np.isfinite(value) and value > 0
    assert frechet_distance(mu_x, s_x, mu_x, s_x) == pytest.approx(0, abs=1e-6 * np.trace(s_x))
    zero = np.zeros((64, 64))  # all images identical: covariance 0
    assert frechet_distance(mu_x, zero, mu_y, s_y) == pytest.approx(
        np.sum((mu_x - mu_y) ** 2) + np.trace(s_y))
    with pytest.raises(MetricError):
        frechet_distance(mu_x, s_x, mu_y, np.full((64, 64), np.nan))


# --- KID -----------------------------------------------------------------------------------

def _mmd2_loops(x, y):
    """Independent reference: unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3, by loops."""
    d = x.shape[1]

    def k(a, b):
        return (float(np.dot(a, b)) / d + 1) ** 3

    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_mmd2_matches_a_loop_implementation():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(15, 6)), rng.normal(0.5, 1.2, size=(11, 6))
    assert mmd2_unbiased(x, y) == pytest.approx(_mmd2_loops(x, y), rel=1e-10)
    # subsets as large as the sets: every subset is a permutation, KID = MMD^2, std 0
    mean, std = kernel_inception_distance(x[:11], y, subsets=5, subset_size=11)
    assert mean == pytest.approx(_mmd2_loops(x[:11], y), rel=1e-10) and std < 1e-12


def test_kid_is_near_zero_for_one_distribution_and_positive_for_two():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(600, 32)), rng.normal(size=(600, 32))
    c = rng.normal(0.5, 1.0, size=(600, 32))
    same, same_std = kernel_inception_distance(a, b, subsets=20, subset_size=200)
    diff, _ = kernel_inception_distance(a, c, subsets=20, subset_size=200)
    assert abs(same) < 0.05 * diff and abs(same) < 3 * same_std + 1e-3
    assert diff > 0.1
    with pytest.raises(MetricError):
        kernel_inception_distance(a[:10], b, subset_size=20)


# --- Inception Score ------------------------------------------------------------------------

def test_inception_score_bounds_and_a_hand_computed_case():
    assert inception_score(np.full((100, 7), 1 / 7), splits=10)[0] == pytest.approx(1.0)
    one_hot = np.eye(5)[np.arange(100) % 5]  # each split of 10 holds every class twice
    mean, std = inception_score(one_hot, splits=10)
    assert mean == pytest.approx(5.0) and std == pytest.approx(0.0, abs=1e-12)
    p = np.array([[0.9, 0.1], [0.1, 0.9]])  # p(y) = (0.5, 0.5)
    kl = 0.9 * np.log(0.9 / 0.5) + 0.1 * np.log(0.1 / 0.5)
    assert inception_score(p, splits=1)[0] == pytest.approx(np.exp(kl))
    with pytest.raises(MetricError):
        inception_score(np.full((4, 3), 0.5), splits=1)  # rows do not sum to 1


# --- The FID Inception network ---------------------------------------------------------------

# (key, shape) from the architecture of pt_inception-2015-12-05-6726825d.pth.
EXPECTED_KEYS = {
    "Conv2d_1a_3x3.conv.weight": (32, 3, 3, 3),
    "Conv2d_1a_3x3.bn.weight": (32,),
    "Conv2d_1a_3x3.bn.running_var": (32,),
    "Conv2d_1a_3x3.bn.num_batches_tracked": (),
    "Conv2d_2a_3x3.conv.weight": (32, 32, 3, 3),
    "Conv2d_2b_3x3.conv.weight": (64, 32, 3, 3),
    "Conv2d_3b_1x1.conv.weight": (80, 64, 1, 1),
    "Conv2d_4a_3x3.conv.weight": (192, 80, 3, 3),
    "Mixed_5b.branch1x1.conv.weight": (64, 192, 1, 1),
    "Mixed_5b.branch5x5_2.conv.weight": (64, 48, 5, 5),
    "Mixed_5b.branch_pool.conv.weight": (32, 192, 1, 1),
    "Mixed_5c.branch_pool.conv.weight": (64, 256, 1, 1),
    "Mixed_5d.branch3x3dbl_3.conv.weight": (96, 96, 3, 3),
    "Mixed_6a.branch3x3.conv.weight": (384, 288, 3, 3),
    "Mixed_6b.branch7x7_2.conv.weight": (128, 128, 1, 7),
    "Mixed_6c.branch7x7dbl_2.conv.weight": (160, 160, 7, 1),
    "Mixed_6e.branch7x7dbl_5.conv.weight": (192, 192, 1, 7),
    "Mixed_7a.branch3x3_2.conv.weight": (320, 192, 3, 3),
    "Mixed_7a.branch7x7x3_4.conv.weight": (192, 192, 3, 3),
    "Mixed_7b.branch1x1.conv.weight": (320, 1280, 1, 1),
    "Mixed_7b.branch3x3dbl_1.conv.weight": (448, 1280, 1, 1),
    "Mixed_7b.branch3x3dbl_3a.conv.weight": (384, 384, 1, 3),
    "Mixed_7c.branch3x3_2b.conv.weight": (384, 384, 3, 1),
    "Mixed_7c.branch_pool.conv.weight": (192, 2048, 1, 1),
    "Mixed_7c.branch_pool.bn.running_mean": (192,),
    "fc.weight": (1008, 2048),
    "fc.bias": (1008,),
}
# 94 BasicConv2d (stem 5 + 3 A x 7 + B 4 + 4 C x 10 + D 6 + 2 E x 9), each conv.weight plus
# bn weight, bias, running_mean, running_var, num_batches_tracked (the file has them: loading
# it in PyTorch 0.4.0 fails on unexpected num_batches_tracked keys), plus fc weight and bias.
EXPECTED_TENSORS = 94 * 6 + 2
# torchvision's inception_v3 (27,161,264 parameters) without AuxLogits (3,326,696) and
# with 1008 instead of 1000 classes (+8 x 2049).
EXPECTED_PARAMETERS = 27_161_264 - 3_326_696 + 8 * 2049


@pytest.fixture(scope="module")
def random_inception():
    return inc.FIDInception()


def test_inception_state_dict_matches_the_published_layout(random_inception):
    state = random_inception.state_dict()
    assert len(state) == EXPECTED_TENSORS == 566
    for key, shape in EXPECTED_KEYS.items():
        assert tuple(state[key].shape) == shape, key
    assert sum(p.numel() for p in random_inception.parameters()) == EXPECTED_PARAMETERS
    assert not any(k.startswith("AuxLogits") for k in state)
    blocks = ["Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "Conv2d_3b_1x1",
              "Conv2d_4a_3x3", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b",
              "Mixed_6c", "Mixed_6d", "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c", "fc"]
    assert sorted({k.split(".")[0] for k in state}) == sorted(blocks)


def test_inception_resizes_any_input_and_returns_pool_and_logits(random_inception):
    for size in (8, 16, 64, 300):
        x = torch.rand(1, 3, size, size) * 2 - 1
        assert random_inception.preprocess(x).shape == (1, 3, 299, 299)
    grey = torch.rand(2, 1, 32, 32) * 2 - 1
    out = random_inception(grey)
    assert out["pool"].shape == (2, 2048)
    assert out["logits"].shape == out["logits_unbiased"].shape == (2, 1008)
    assert all(torch.isfinite(v).all() for v in out.values())
    torch.testing.assert_close(out["logits"] - out["logits_unbiased"],
                               random_inception.fc.bias.expand(2, -1))


def test_inception_pool_branches_follow_tensorflow():
    """Mixed_5b's average pool ignores padding: it differs from torchvision's InceptionA
    only at the border, and only in the pool branch's channels."""
    from torchvision.models.inception import InceptionA

    ours, theirs = inc._FIDInceptionA(192, pool_features=32), InceptionA(192, pool_features=32)
    theirs.load_state_dict(ours.state_dict())
    ours.eval(), theirs.eval()
    x = torch.rand(1, 192, 6, 6)
    a, b = ours(x), theirs(x)
    torch.testing.assert_close(a[:, :224], b[:, :224])  # 1x1, 5x5 and 3x3dbl branches
    torch.testing.assert_close(a[:, 224:, 1:-1, 1:-1], b[:, 224:, 1:-1, 1:-1])
    assert not torch.allclose(a[:, 224:, 0], b[:, 224:, 0])
    assert inc.FIDInception().Mixed_7c.max_pool and not inc.FIDInception().Mixed_7b.max_pool


# --- Weights: where they are looked for, hash check -------------------------------------------

def test_missing_weights_error_names_file_hash_paths_and_switches(no_weights):
    with pytest.raises(InceptionWeightsError) as info:
        inc.find_inception_weights()
    message = str(info.value)
    for part in (inc.WEIGHTS_FILENAME, "6726825d", str(no_weights), "ARTGAN_INCEPTION_WEIGHTS",
                 "--inception-weights", "never downloads"):
        assert part in message
    with pytest.raises(InceptionWeightsError):  # building the metric fails at once
        plugin_host.get_registry().build("metric", "fid")


def test_a_named_place_without_the_file_is_an_error_not_a_fallback(no_weights, monkeypatch,
                                                                    tmp_path):
    no_weights.parent.mkdir(parents=True)
    no_weights.write_bytes(b"present in the hub cache")
    monkeypatch.setenv(inc.ENV_VAR, str(tmp_path / "elsewhere.pth"))
    with pytest.raises(InceptionWeightsError, match="elsewhere.pth"):
        inc.find_inception_weights()
    with pytest.raises(InceptionWeightsError, match="given.pth"):
        inc.find_inception_weights(tmp_path / "given.pth")


def test_a_file_with_the_wrong_hash_is_refused(no_weights):
    no_weights.parent.mkdir(parents=True)
    no_weights.write_bytes(b"not the Inception weights")
    assert inc.find_inception_weights() == no_weights
    with pytest.raises(InceptionWeightsError, match="SHA-256"):
        inc.load_inception()


def test_a_verified_file_loads_strictly(tmp_path, random_inception):
    path = tmp_path / "inception.pth"
    torch.save(random_inception.state_dict(), path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    net = inc.load_inception(path, expected_prefix=digest[:8])
    assert net is not random_inception and net.identity.startswith("inception-sha256-")
    for key, value in random_inception.state_dict().items():
        assert torch.equal(net.state_dict()[key], value)
    renamed = tmp_path / "inception-deadbeef.pth"  # torch hub's name convention, wrong hash
    path.rename(renamed)
    with pytest.raises(InceptionWeightsError, match="deadbeef"):
        inc.load_inception(renamed, expected_prefix=digest[:8])


# --- MS-SSIM ---------------------------------------------------------------------------------

def test_ms_ssim_scale_plan_for_small_images():
    assert [scale_plan(s)[0] for s in (16, 32, 64, 128, 176, 256)] == [1, 2, 3, 4, 5, 5]
    assert scale_plan(8) == (1, 7, pytest.approx(1.5 * 7 / 11))


def test_ssim_terms_equal_scikit_image():
    rng = np.random.default_rng(5)
    base = rng.uniform(size=(3, 32, 32))
    a = np.clip(base + rng.normal(0, 0.1, base.shape), 0, 1)
    b = np.clip(base + rng.normal(0, 0.2, base.shape), 0, 1)
    ssim, _ = _ssim_terms(a[None], b[None], 1.5, 5)
    expected = structural_similarity(a, b, channel_axis=0, gaussian_weights=True, sigma=1.5,
                                     use_sample_covariance=False, data_range=1.0)
    assert ssim[0] == pytest.approx(expected, rel=1e-9)


def test_single_scale_ms_ssim_equals_scikit_image_ssim():
    """16-21 px images use one scale: MS-SSIM is then exactly skimage's SSIM per pair."""
    rng = np.random.default_rng(7)
    base = rng.uniform(size=(4, 3, 20, 20))
    a = np.clip(base + rng.normal(0, 0.1, base.shape), 0, 1)
    b = np.clip(base + rng.normal(0, 0.2, base.shape), 0, 1)
    assert scale_plan(20)[0] == 1
    expected = [structural_similarity(x, y, channel_axis=0, gaussian_weights=True, sigma=1.5,
                                      use_sample_covariance=False, data_range=1.0)
                for x, y in zip(a, b)]
    assert min(expected) > 0  # no clipping at 0 involved
    np.testing.assert_allclose(ms_ssim(a, b), expected, rtol=1e-9)


def test_ms_ssim_identical_is_one_and_independent_noise_is_near_zero():
    rng = np.random.default_rng(6)
    for side in (16, 64, 200):
        x = rng.uniform(size=(4, 3, side, side))
        np.testing.assert_allclose(ms_ssim(x, x), 1.0, rtol=1e-9)
        noise = ms_ssim(x, rng.uniform(size=x.shape))
        assert noise.mean() < 0.1 and np.all((noise >= 0) & (noise < 0.2))
    smooth = np.repeat(np.linspace(0, 1, 32)[None, None, None], 32, axis=2)
    noisy = np.clip(smooth + rng.normal(0, 0.05, (2, 1, 32, 32)), 0, 1)
    assert 0.2 < ms_ssim(noisy[:1], noisy[1:])[0] < 1.0


# --- End to end with an injected feature network ----------------------------------------------

class TinyNet(torch.nn.Module):
    """A small random conv net: 64-d 'pool' features and 10 'logits_unbiased'."""

    identity = "tiny-test-net"

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.body = torch.nn.Sequential(torch.nn.Conv2d(3, 32, 3, 2, 1), torch.nn.ReLU(),
                                        torch.nn.Conv2d(32, 64, 3, 2, 1), torch.nn.ReLU(),
                                        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
        self.head = torch.nn.Linear(64, 10)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        pool = self.body(x)
        return {"pool": pool, "logits_unbiased": self.head(pool) * 5}


def _demo(seed, size=256):
    source = plugin_host.get_registry().build("data", "demo", {"size": size, "seed": seed}, None,
                                              resolution=16, channels=3, seed=0)
    return ImageSet.from_data_source(source, spec="demo", options={"size": size, "seed": seed},
                                     batch_size=128)


def test_metrics_end_to_end_real_vs_real_is_small_real_vs_noise_is_large():
    net = TinyNet()
    metrics = {"fid": FID(feature_fn=net), "kid": KID(feature_fn=net),
               "is": InceptionScore(feature_fn=net), "ms-ssim": MSSSIM()}
    metrics["kid"].options = type(metrics["kid"].options)(subsets=10, subset_size=100)
    metrics["ms-ssim"].options = type(metrics["ms-ssim"].options)(num_pairs=100)
    real, other = _demo(0), _demo(1)
    noise = ImageSet.from_tensor(torch.rand(256, 3, 16, 16) * 2 - 1, description="noise")
    close = evaluate(metrics, other, real, cache=None)
    assert net.calls == 2 + 2  # 2 batches per image set, extracted once for fid, kid and is
    far = evaluate(metrics, noise, real, cache=None)
    assert close["fid"]["fid"] * 10 < far["fid"]["fid"]
    assert close["kid"]["kid"] * 10 < far["kid"]["kid"]
    assert close["kid"]["kid_subset_size"] == 100 and close["fid"]["num_real"] == 256
    assert 1.0 <= close["is"]["is"] <= 10.0 and close["is"]["classes"] == 10
    assert far["ms-ssim"]["ms_ssim"] < 0.1
    assert close["ms-ssim"]["ms_ssim_real"] == pytest.approx(far["ms-ssim"]["ms_ssim_real"])
    assert "feature_fn" not in close["fid"]["network"] and close["fid"]["reference"].startswith(
        "demo (256 images")


def test_reference_statistics_are_cached_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("ARTGAN_CACHE_DIR", str(tmp_path / "cache"))
    net = TinyNet()
    fake = ImageSet.from_tensor(torch.rand(64, 3, 16, 16) * 2 - 1)
    first = FID(feature_fn=net).compute(fake, _demo(0), store=FeatureStore())
    files = list((tmp_path / "cache" / "ref-stats").iterdir())
    assert len(files) == 1 and files[0].name.startswith("stats-")
    calls = net.calls
    again = FID(feature_fn=net).compute(fake, _demo(0), store=FeatureStore())
    assert again["fid"] == pytest.approx(first["fid"], rel=1e-12)
    assert net.calls - calls == 1  # only the fake batch: the reference came from disk
    FID(feature_fn=net).compute(fake, _demo(0, size=128), store=FeatureStore())
    assert len(list((tmp_path / "cache" / "ref-stats").iterdir())) == 2  # count is in the key
    net.identity = "random-init"  # an unnamed network is never cached
    FID(feature_fn=net).compute(fake, _demo(1), store=FeatureStore(cache=RefStatsCache()))
    assert len(list((tmp_path / "cache" / "ref-stats").iterdir())) == 2


def test_generated_image_set_equals_sample_images():
    from artgan.core.sampling import sample_images

    G = plugin_host.get_registry().build("generator", "dcgan", {"ngf": 8, "z_dim": 16},
                                         resolution=16, channels=3, num_classes=0).eval()
    images = ImageSet.from_generator(G, 10, seed=3, batch_size=4)
    torch.testing.assert_close(torch.cat(list(images)),
                               sample_images(G, 10, seed=3, batch_size=4))
    feats = extract_features(images, lambda x: x.flatten(1)[:, :5], quantize=False)
    assert feats["*"].shape == (10, 5)
