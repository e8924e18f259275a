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
from .config import RunConfig
from .config_check import config_problem
from .errors import CheckpointError
from .registry import UnknownComponentError
from .run_folder import checkpoint_file

#: 2: the grouped config (round 2); 1 (round 1, flat config) is still read.
FORMAT_VERSION = 2

__all__ = ["CheckpointError", "FORMAT_VERSION", "load_checkpoint", "checkpoint_config",
           "check_resumable", "damaged", "named_component", "save_atomic", "write_atomic"]

#: What resuming needs besides the generator and the config.
RESUME_KEYS = ("discriminator", "opt_g", "opt_d", "step", "rng")


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
    version = ckpt.get("format", 0)
    if not isinstance(version, int):
        raise damaged(path, f"its format is {version!r}, not a number")
    if version > FORMAT_VERSION:
        raise CheckpointError(f"{path} was written by a newer artgan (format "
                              f"{ckpt['format']}); upgrade artgan to load it")
    return ckpt


def damaged(path: str | os.PathLike, detail: str) -> CheckpointError:
    """The error for a checkpoint that loads but cannot be used as it is."""
    return CheckpointError(f"checkpoint {path} is damaged or from an incompatible version: "
                           f"{detail}")


def checkpoint_config(ckpt: dict[str, Any], path: str | os.PathLike,
                      required: tuple[str, ...] | None = None):
    """The :class:`~artgan.core.config.RunConfig` of a loaded checkpoint, each field
    checked against its declaration (:mod:`artgan.core.config_check`); ``required``:
    the fields that must be set (default: all a run needs)."""
    try:
        config = RunConfig.from_dict(ckpt["config"])
    except Exception as exc:  # a config of another shape: any error, reported in words
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise damaged(path, f"its config cannot be read ({type(exc).__name__}: "
                            f"{detail[:120]})") from None
    problem = config_problem(config, required)
    if problem:
        raise damaged(path, f"in its config, {problem}")
    return config


def named_component(registry, kind: str, name: str, path: str | os.PathLike):
    """The registry entry of a component a checkpoint's config names; one that is not
    installed is reported as named by the checkpoint, with the package that provides it
    when registry.toml knows it."""
    try:
        return registry.get(kind, name)
    except UnknownComponentError:
        if name.startswith("python:"):
            raise UnknownComponentError(
                f"checkpoint {path} was trained with a Python object as its {kind} "
                f"({name}), not a registered one: load it from Python") from None
        raise UnknownComponentError(
            f"checkpoint {path} was trained with {kind} {name!r}, which is not installed "
            f"here. {registry.hints(kind, name)}") from None


def check_resumable(ckpt: dict[str, Any], path: str | os.PathLike) -> None:
    """Refuse a checkpoint that lacks what resuming needs (optimiser states, the step)."""
    missing = [key for key in RESUME_KEYS if key not in ckpt]
    if missing:
        raise damaged(path, f"it has no {', '.join(missing)}, which resuming needs (a "
                            f"checkpoint for sampling only can still be sampled from)")
    if not isinstance(ckpt["step"], int) or ckpt["step"] < 0:
        raise damaged(path, f"its step is {ckpt['step']!r}")
