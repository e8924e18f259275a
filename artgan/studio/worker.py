"""One worker thread for all of the studio's torch work, with two job queues.

Request threads never run the model. A *quick* job (a grid, interpolation frames) is
handed over with :meth:`Worker.call`, and the request thread waits for its result. A
*long* job (a projection, a restoration) is queued with :meth:`Worker.submit` and runs
in the background while the page polls its :class:`Job` for progress. Long jobs call
:meth:`Job.advance` after each optimisation step; the worker runs any waiting quick
jobs right there, between two steps, so a grid request is answered within a step even
while a projection runs. One thread means one model forward at a time (no locks around
the generator) and no torch work on the server's threads.
"""

from __future__ import annotations

import secrets
import sys
import threading
import time
import traceback
from collections import OrderedDict, deque
from concurrent.futures import Future, TimeoutError as FutureTimeout
from typing import Any, Callable

from ..core.errors import ArtganError
from . import StudioError

#: Finished jobs kept for the page to read their results.
KEPT_JOBS = 64


class Cancelled(Exception):
    """Raised inside a long job by :meth:`Job.advance` once it is cancelled."""


class Job:
    """A long job: its state (``queued``, ``running``, ``done``, ``failed``,
    ``cancelled``), progress (``done`` of ``total`` steps) and result or error."""

    def __init__(self, kind: str, fn: Callable[["Job"], Any], total: int = 0):
        self.id = secrets.token_hex(6)
        self.kind, self.fn, self.total = kind, fn, int(total)
        self.state, self.done = "queued", 0
        self.result: Any = None
        self.error: str | None = None
        self.status = 200
        self.created = time.time()
        self.started: float | None = None
        self.finished: float | None = None
        self.cancel_requested = False
        self._between_steps: Callable[[], None] = lambda: None

    def advance(self, steps: int = 1) -> None:
        """One step done: run waiting quick jobs, stop here if cancelled."""
        self.done += steps
        self._between_steps()
        if self.cancel_requested:
            raise Cancelled()

    def to_json(self) -> dict:
        out = {"id": self.id, "kind": self.kind, "state": self.state, "done": self.done,
               "total": self.total}
        if self.started is not None:
            out["seconds"] = round((self.finished or time.time()) - self.started, 2)
        if self.error is not None:
            out["error"] = self.error
        if self.state == "done" and self.result is not None:
            out["result"] = self.result
        return out


class Worker:
    """The thread and its queues (see the module docstring)."""

    def __init__(self, *, queued_jobs: int = 4, queued_quick: int = 32,
                 name: str = "artgan-studio-worker"):
        self.queued_jobs, self.queued_quick, self.name = queued_jobs, queued_quick, name
        self._cond = threading.Condition()
        self._quick: deque[tuple[Callable[[], Any], Future]] = deque()
        self._long: deque[Job] = deque()
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._current: Job | None = None
        self._stopping = False
        self._thread: threading.Thread | None = None

    # -- life ------------------------------------------------------------------------
    def start(self) -> "Worker":
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Cancel what runs, refuse what waits, and join the thread."""
        with self._cond:
            self._stopping = True
            if self._current is not None:
                self._current.cancel_requested = True
            for job in self._long:
                job.state, job.error = "cancelled", "the studio stopped"
            self._long.clear()
            while self._quick:
                _fn, future = self._quick.popleft()
                future.set_exception(StudioError("the studio is stopping", 503))
            self._cond.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- quick jobs ------------------------------------------------------------------
    def call(self, fn: Callable[[], Any], timeout: float = 300.0) -> Any:
        """Run ``fn()`` on the worker thread and return its result (its exception is
        raised here). On the worker thread itself ``fn`` runs at once."""
        if threading.current_thread() is self._thread:
            return fn()
        future: Future = Future()
        with self._cond:
            if self._stopping or not self.alive:
                raise StudioError("the studio is stopping", 503)
            if len(self._quick) >= self.queued_quick:
                raise StudioError(f"the studio is busy ({len(self._quick)} requests "
                                  f"waiting); try again in a moment", 503)
            self._quick.append((fn, future))
            self._cond.notify_all()
        try:
            return future.result(timeout)
        except FutureTimeout:
            future.cancel()
            raise StudioError(f"the model took longer than {timeout:g} s to answer; "
                              f"try fewer images", 503) from None

    def _run_quick(self) -> None:
        while True:
            with self._cond:
                if not self._quick:
                    return
                fn, future = self._quick.popleft()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as exc:  # handed to the waiting request thread
                future.set_exception(exc)

    # -- long jobs -------------------------------------------------------------------
    def submit(self, kind: str, fn: Callable[[Job], Any], total: int = 0) -> Job:
        """Queue ``fn(job)``; it reports progress with ``job.advance()``."""
        job = Job(kind, fn, total)
        with self._cond:
            if self._stopping:
                raise StudioError("the studio is stopping", 503)
            waiting = len(self._long) + (self._current is not None)
            if waiting >= self.queued_jobs:
                raise StudioError(f"{waiting} projections or restorations are already "
                                  f"running or waiting; wait for one to finish", 503)
            self._long.append(job)
            self._remember(job)
            self._cond.notify_all()
        return job

    def job(self, job_id: str) -> Job | None:
        with self._cond:
            return self._jobs.get(job_id)

    def cancel(self, job_id: str) -> Job | None:
        with self._cond:
            job = self._jobs.get(job_id)
            if job is None:
                return None
            if job.state == "queued":
                self._long.remove(job)
                job.state, job.finished = "cancelled", time.time()
            elif job.state == "running":
                job.cancel_requested = True
            return job

    def _remember(self, job: Job) -> None:
        self._jobs[job.id] = job
        while len(self._jobs) > KEPT_JOBS:
            oldest = next((key for key, j in self._jobs.items()
                           if j.state not in ("queued", "running")), None)
            if oldest is None:
                break
            del self._jobs[oldest]

    def _run_long(self, job: Job) -> tuple[str, Any, str | None, int]:
        """Run ``job``; returns its final (state, result, error, HTTP status)."""
        job._between_steps = self._run_quick
        job.state, job.started = "running", time.time()
        try:
            return "done", job.fn(job), None, 200
        except Cancelled:
            return "cancelled", None, "cancelled", 200
        except (ArtganError, OSError) as exc:
            return "failed", None, str(exc), getattr(exc, "status", 400)
        except Exception as exc:  # a bug: say so on the page and in the terminal
            traceback.print_exc(file=sys.stderr)
            return "failed", None, f"internal error: {type(exc).__name__}: {exc}", 500
        finally:
            job._between_steps = lambda: None

    # -- the thread ------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            with self._cond:
                while not (self._stopping or self._quick or self._long):
                    self._cond.wait()
                if self._stopping:
                    return
                job = None if self._quick else self._long.popleft()
                self._current = job
            if job is None:
                self._run_quick()
                continue
            outcome = ("failed", None, "the worker stopped", 500)
            try:
                outcome = self._run_long(job)
            finally:
                with self._cond:  # the job ends and the worker frees up at once
                    state, job.result, job.error, job.status = outcome
                    job.finished = time.time()
                    job.state = state  # last: a reader that sees it sees the result
                    self._current = None
