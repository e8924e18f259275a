"""Atomic file writes: a temporary file in the same folder, flushed to disk, then renamed
over the target, so a crash or a full disk never leaves a half-written file.

The temporary file gets the mode any other new file would get (``0o666`` less the
umask), not ``mkstemp``'s private ``0o600``, so checkpoints, grids and GIFs are as
readable as ``config.json``. A write that runs out of space (``ENOSPC``, ``EDQUOT``,
also when torch's zip writer reports it as a short write) removes the temporary file
and raises :class:`DiskFullError`, one line that names the file and says the previous
version is intact.
"""

from __future__ import annotations

import errno
import os
import re
import tempfile
from pathlib import Path
from typing import IO, Any, Callable

from .errors import ArtganError

#: ``errno`` values that mean "no space left" (a full disk, a user's quota).
NO_SPACE = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})
#: The names of the temporary files of :func:`write_atomic`: ``.<name>.<random>.tmp``.
TEMP_NAME = re.compile(r"^\.(?P<target>.+)\.[A-Za-z0-9_]{6,12}\.tmp$")


def _current_umask() -> int:
    """The process umask, read without changing it where the system allows
    (``/proc/self/status``), else set and restored at once (at import)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


#: The mode of the files written here: what ``open()`` would create.
FILE_MODE = 0o666 & ~_current_umask()


class DiskFullError(ArtganError, OSError):
    """A write ran out of disk space (or quota); the previous file, if any, is intact."""

    def __init__(self, path: str | os.PathLike, code: int = errno.ENOSPC):
        path = Path(path)
        if path.exists():
            kept = "the previous checkpoint is intact" if path.suffix == ".pt" else \
                f"the previous {path.name} is intact"
        else:
            kept = "nothing was written"
        self.message = f"disk full at {path} ({os.strerror(code)}); {kept}. Free some space " \
                       f"and try again"
        super().__init__(code, self.message)
        self.path = path

    def __str__(self) -> str:
        return self.message


def no_space(exc: BaseException) -> int | None:
    """The errno if ``exc`` (or an exception it was raised from or while handling) says
    the disk is full, else None. torch's zip writer turns a failed ``write`` into
    ``RuntimeError: ... unexpected pos``, with the ``OSError`` as its context."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, DiskFullError):
            return exc.errno
        if isinstance(exc, OSError) and exc.errno in NO_SPACE:
            return exc.errno
        exc = exc.__cause__ or exc.__context__
    return None


class _Recording:
    """A binary file that remembers the first ``OSError`` of a ``write`` (torch's zip
    writer swallows it and reports a short write instead)."""

    def __init__(self, fh: IO[bytes]):
        self._fh, self.error = fh, None

    def write(self, data) -> int:
        try:
            return self._fh.write(data)
        except OSError as exc:
            self.error = self.error or exc
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fh, name)


def _open(fd: int, path: Path) -> IO[bytes]:
    """The temporary file of ``path`` as a binary file (tests replace this to fill the
    disk)."""
    return os.fdopen(fd, "wb")


def write_atomic(path: str | os.PathLike, write: Callable[[IO[bytes]], Any]) -> Path:
    """Create ``path`` with ``write(binary_file)``: into a temporary file in the same
    folder, flushed to disk, then renamed over ``path``; on failure nothing is left.
    Raises :class:`DiskFullError` when the disk (or the quota) is full."""
    path = Path(path)
    tmp = recording = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            os.fchmod(fd, FILE_MODE)
        except (AttributeError, OSError):  # Windows: no fchmod; modes mean little there
            pass
        with _open(fd, path) as fh:
            recording = _Recording(fh)
            write(recording)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        code = no_space(exc)
        if code is None and recording is not None and recording.error is not None:
            code = no_space(recording.error)
        if code is not None:
            raise DiskFullError(path, code) from exc
        raise
    return path


def save_atomic(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` to ``path`` via a temporary file and an atomic rename."""
    import torch

    return write_atomic(path, lambda fh: torch.save(obj, fh))


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 text atomically."""
    return write_atomic(path, lambda fh: fh.write(text.encode("utf-8")))


def why_unwritable(folder: str | os.PathLike, exc: OSError) -> str:
    """Why files cannot be written into ``folder``, in words: a file in the way of the
    folder, a full disk, or the system's reason."""
    folder = Path(folder)
    for parent in (folder, *folder.parents):
        if os.path.lexists(parent):
            if not parent.is_dir():
                return f"{parent} is a file, not a folder"
            break
    if isinstance(exc, DiskFullError):
        return exc.message.partition(";")[0]
    return exc.strerror or str(exc)


def remove_stale_temps(folder: str | os.PathLike, *, keep: tuple[str, ...] = ()) -> int:
    """Delete the temporary files of :func:`write_atomic` in ``folder`` (not below it)
    left by killed writes, except those for targets named in ``keep``. Only call this
    when no other process writes there (a locked run folder). Returns how many."""
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        match = TEMP_NAME.match(entry.name)
        if match and match.group("target") not in keep and entry.is_file(follow_symlinks=False):
            try:
                os.unlink(entry.path)
                removed += 1
            except OSError:
                pass
    return removed
