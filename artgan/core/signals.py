"""Stop on SIGINT/SIGTERM after the current step: the trainer saves, then stops.

The first signal only sets :attr:`StopSignals.received`; a second one, later, restores
the previous handler and interrupts at once. Under torchrun a Ctrl-C reaches each worker
twice (from the terminal and forwarded by the agent): repeats within ``grace`` seconds
count as the same request.
"""

from __future__ import annotations

import signal
import threading
import time


class StopSignals:
    """A context manager: inside, SIGINT and SIGTERM ask for a stop (``received``)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, grace: float = 0.0):
        self.grace = grace
        self.received: int | None = None
        self._first = 0.0
        self._previous: dict = {}

    def _handler(self, signum, frame) -> None:
        if self.received is not None:
            if time.monotonic() - self._first < self.grace:
                return
            signal.signal(signum, self._previous[signum])
            raise KeyboardInterrupt
        self.received, self._first = signum, time.monotonic()

    def __enter__(self) -> "StopSignals":
        if threading.current_thread() is threading.main_thread():  # handlers live there
            self._previous = {s: signal.getsignal(s) for s in self.SIGNALS}
            for s in self.SIGNALS:
                signal.signal(s, self._handler)
        return self

    def __exit__(self, *exc) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous = {}
