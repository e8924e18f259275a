"""The lock of a run folder: one run writes into a folder at a time.

``runs/<name>/.lock`` is created atomically (``O_EXCL``) and holds the owner's pid, host
and process start time as JSON. A second run finds it and is refused with a message
that names the owner. A lock left by a run that died without releasing it (``kill -9``,
a power cut) is stale: on the same host its pid is gone, is a zombie, or belongs to a
later process (another start time); a stale lock is taken over, with a note. Taking over
is serialised by a second file, ``.lock.takeover`` (also ``O_EXCL``): the stale lock is
removed only by the holder of that file, after reading it again and finding the same
stale owner, so two runs that find one stale lock at once cannot remove the lock that
the faster of them has just made (a takeover file left by a process killed within those
few instructions is ignored after 10 seconds). A lock
from another host is never taken over (its process cannot be checked from here); the
message says how to remove it. The lock is released when the run ends (also on errors
and Ctrl-C) and, at the latest, when the process exits.
"""

from __future__ import annotations

import atexit
import json
import os
import socket
import time
from pathlib import Path
from typing import Any, Callable

from .errors import ArtganError

LOCK = ".lock"
#: An unreadable lock file younger than this may still be being written: not stale.
_YOUNG_SECONDS = 10.0


class RunFolderBusy(ArtganError, RuntimeError):
    """Another run is writing into the run folder."""


def _process_start(pid: int) -> str | None:
    """The start time of process ``pid`` in clock ticks since boot (Linux), else None."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            fields = fh.read().rpartition(")")[2].split()
        return fields[19]
    except (OSError, IndexError):
        return None


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rpartition(")")[2].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return False


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this host (errs on the side of "yes")."""
    if pid <= 0:
        return False
    if os.name == "nt":  # os.kill(pid, 0) would send Ctrl-C there
        import ctypes

        handle = ctypes.windll.kernel32.OpenProcess(0x1000, False, pid)  # query limited
        if not handle:
            return False
        code = ctypes.c_ulong()
        ctypes.windll.kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        ctypes.windll.kernel32.CloseHandle(handle)
        return code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: alive, someone else's
        return True
    return not _zombie(pid)


def _owner() -> dict[str, Any]:
    return {"pid": os.getpid(), "host": socket.gethostname(),
            "process_start": _process_start(os.getpid()),
            "since": time.strftime("%Y-%m-%d %H:%M:%S")}


class RunLock:
    """The lock file of one run folder (see the module docstring)."""

    def __init__(self, root: str | os.PathLike):
        self.path = Path(root) / LOCK
        self.held = False

    def _read(self) -> dict[str, Any] | None:
        try:
            owner = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return owner if isinstance(owner, dict) and isinstance(owner.get("pid"), int) \
            else None

    def _stale(self, owner: dict[str, Any] | None) -> str | None:
        """Why the existing lock is stale ('' for our own process), or None if it holds."""
        if owner is None:
            try:
                age = time.time() - self.path.stat().st_mtime
            except OSError:
                return "it is gone"
            return "it is unreadable" if age > _YOUNG_SECONDS else None
        if owner.get("host") != socket.gethostname():
            return None
        pid = owner["pid"]
        if pid == os.getpid():
            return ""
        if not _pid_alive(pid):
            return f"its process {pid} is gone"
        start = owner.get("process_start")
        if start and _process_start(pid) not in (None, start):
            return f"its process {pid} is gone (the pid now belongs to another process)"
        return None

    def acquire(self, note: Callable[[str], None] | None = None) -> None:
        """Take the lock, or raise :class:`RunFolderBusy` naming its owner. Taking a lock
        this object holds does nothing; a stale lock is taken over (``note`` says so)."""
        if self.held:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(100):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
            except FileExistsError:
                owner = self._read()
                why = self._stale(owner)
                if why is None:
                    raise RunFolderBusy(self._busy(owner)) from None
                if self._remove_stale(owner) and why and note is not None:
                    note(f"{self.path.parent}: took over the lock of a run that stopped "
                         f"without releasing it ({why})")
                continue
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    fh.write(json.dumps(_owner()) + "\n")
            except BaseException:
                self.path.unlink(missing_ok=True)
                raise
            self.held = True
            atexit.register(self.release)
            return
        raise RunFolderBusy(self._busy(self._read()))

    def _remove_stale(self, seen: dict[str, Any] | None) -> bool:
        """Remove the lock file if it still holds the stale owner ``seen``, under the
        takeover file; False if another process is taking over (try again)."""
        guard = self.path.with_name(LOCK + ".takeover")
        try:
            os.close(os.open(guard, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except FileExistsError:
            try:
                if time.time() - guard.stat().st_mtime > _YOUNG_SECONDS:
                    guard.unlink(missing_ok=True)  # left by a process killed meanwhile
            except OSError:
                pass
            time.sleep(0.02)
            return False
        try:
            owner = self._read()
            if owner != seen or self._stale(owner) is None:
                return False  # someone else took it over first: look again
            self.path.unlink(missing_ok=True)
            return True
        finally:
            guard.unlink(missing_ok=True)

    def _busy(self, owner: dict[str, Any] | None) -> str:
        root = self.path.parent
        who = (f"pid {owner['pid']} on {owner.get('host', '?')}, since "
               f"{owner.get('since', '?')}") if owner else "its lock file is being written"
        return (f"{root} is in use by another artgan run ({who}); wait for it to finish or "
                f"choose another --out. If no run uses it (a run on another machine that "
                f"crashed), delete {self.path}")

    def release(self) -> None:
        """Remove the lock file if this object holds it."""
        if not self.held:
            return
        self.held = False
        atexit.unregister(self.release)
        owner = self._read()
        if owner is None or owner.get("pid") == os.getpid():
            self.path.unlink(missing_ok=True)
