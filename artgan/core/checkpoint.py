"""Checkpoints: state dicts plus the resolved config, written atomically, loaded safely.

Files are written to a temporary file in the same folder, flushed to disk and renamed
over the target, so a crash or a full disk never leaves a half-written checkpoint. They
are loaded with ``torch.load(..., weights_only=True)``: a checkpoint can hold tensors,
numbers, strings, lists and dicts, never pickled code.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from .atomic import save_atomic, write_atomic  # noqa: F401 (re-exported)
from .errors import CheckpointError
from .run_folder import checkpoint_file

#: 2: the grouped config (round 2); 1 (round 1, flat config) is still read.
FORMAT_VERSION = 2

__all__ = ["CheckpointError", "FORMAT_VERSION", "load_checkpoint", "save_atomic",
           "write_atomic"]


_ZIP_MAGIC = b"PK\x03\x04"  # torch.save writes a zip archive


def _unreadable(path: Path, exc: Exception) -> CheckpointError:
    """Why ``torch.load`` failed, in words: empty, damaged, code inside, or not one at all.

    torch's own messages are long or cryptic ("105" for a text file), so they are only
    classified here, never shown whole.
    """
    with open(path, "rb") as fh:
        head = fh.read(4)
    if not head:
        why = "the file is empty (0 bytes)"
    elif "unsupported global" in str(exc).lower():  # torch.save of a module, a class...
        why = ("the file holds pickled Python objects, which an artgan checkpoint never "
               "does (it is loaded with weights_only=True, so nothing in it was run)")
    elif head == _ZIP_MAGIC:
        why = ("the file is damaged: it starts like a PyTorch checkpoint but cannot be read "
               "(truncated or corrupt; was it copied completely?)")
    else:
        why = ("not a checkpoint: the file was not written by torch.save (artgan "
               "checkpoints are the .pt files in a run's checkpoints/ folder)")
    return CheckpointError(f"cannot read checkpoint {path}: {why}")


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load an artgan checkpoint safely (``weights_only=True``) and check its format."""
    path = checkpoint_file(path)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # unpickling errors, truncated zip files, ...
        raise _unreadable(path, exc) from exc
    if not isinstance(ckpt, dict) or "generator" not in ckpt or "config" not in ckpt:
        raise CheckpointError(f"{path} is not an artgan checkpoint")
    if ckpt.get("format", 0) > FORMAT_VERSION:
        raise CheckpointError(f"{path} was written by a newer artgan (format "
                              f"{ckpt['format']}); upgrade artgan to load it")
    return ckpt
