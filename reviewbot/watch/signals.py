"""Stop cleanly: SIGTERM or SIGINT lets the current item finish, then the watcher exits."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

Handler = Callable[[int, FrameType | None], Any] | int | None


class Stopper:
    """A stop request that loops check between items and sleeps wake up for."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.signal_name: str | None = None
        self._previous: dict[signal.Signals, Handler] = {}

    def install(self) -> None:
        """Handle SIGTERM and SIGINT by requesting a stop (main thread only)."""
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._previous[sig] = signal.signal(sig, self._handle)

    def uninstall(self) -> None:
        """Put the previous handlers back."""
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        self.signal_name = signal.Signals(signum).name
        self._event.set()

    def request(self, reason: str = "requested") -> None:
        """Ask the loops to stop after the current item."""
        self.signal_name = self.signal_name or reason
        self._event.set()

    def requested(self) -> bool:
        """Whether a stop was asked for."""
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True when woken by a stop request."""
        return self._event.wait(max(0.0, seconds))
