"""Device, precision and seeding: the one place that decides where tensors live.

Components never call ``.cuda()``; the trainer moves them with :func:`resolve_device`'s
answer, and :class:`Precision` gives the autocast context and grad scaler.
"""

from __future__ import annotations

import contextlib
import random
from dataclasses import dataclass

import torch

from .errors import ArtganError


class DeviceError(ArtganError, ValueError):
    """The requested device or precision is not available on this machine."""


def _mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()


def resolve_device(spec: str = "auto") -> torch.device:
    """``auto`` picks CUDA, then MPS, then CPU; ``cpu``, ``cuda``, ``cuda:N``, ``mps``."""
    spec = (spec or "auto").strip().lower()
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if spec == "mps":
        if not _mps_available():
            raise DeviceError("--device mps: Apple's MPS backend is not available here "
                              "(it needs macOS on Apple silicon); use --device cpu or auto")
        return torch.device("mps")
    if spec == "cuda" or spec.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise DeviceError(f"--device {spec}: CUDA is not available on this machine "
                              f"(no NVIDIA GPU or driver); use --device cpu or auto")
        index = spec.partition(":")[2]
        if index:
            if not index.isdigit() or int(index) >= torch.cuda.device_count():
                raise DeviceError(f"--device {spec}: this machine has "
                                  f"{torch.cuda.device_count()} CUDA device(s), numbered from 0")
            return torch.device("cuda", int(index))
        return torch.device("cuda")
    raise DeviceError(f"--device {spec!r}: expected auto, cpu, cuda, cuda:N or mps")


PRECISIONS = ("fp32", "bf16", "fp16")


@dataclass(frozen=True)
class Precision:
    """Mixed-precision policy for one device: autocast dtype and whether to scale grads."""

    name: str
    device: torch.device

    @property
    def dtype(self) -> torch.dtype | None:
        return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[self.name]

    @property
    def uses_scaler(self) -> bool:
        return self.name == "fp16"

    def autocast(self):
        """Context manager running the forward passes in the chosen precision."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)

    def grad_scaler(self) -> torch.amp.GradScaler:
        """A grad scaler, enabled only for fp16 (a no-op otherwise)."""
        return torch.amp.GradScaler(self.device.type, enabled=self.uses_scaler)


def resolve_precision(name: str, device: torch.device) -> Precision:
    """Check that ``name`` works on ``device``; raise :class:`DeviceError` saying why not."""
    name = (name or "fp32").lower()
    if name not in PRECISIONS:
        raise DeviceError(f"--precision {name!r}: expected one of {', '.join(PRECISIONS)}")
    if name == "fp16" and device.type != "cuda":
        raise DeviceError(f"--precision fp16 needs a CUDA device (it uses a grad scaler); "
                          f"this run is on {device.type}: use --precision bf16 or fp32")
    if name == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise DeviceError("--precision bf16: this GPU does not support bfloat16; "
                          "use --precision fp16 or fp32")
    if name == "bf16" and device.type == "mps":
        raise DeviceError("--precision bf16 is not supported on mps here; use fp32")
    return Precision(name, device)


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's (if installed) and torch's generators on every device."""
    random.seed(seed)
    torch.manual_seed(seed)
    with contextlib.suppress(ImportError):
        import numpy

        numpy.random.seed(seed % 2**32)
