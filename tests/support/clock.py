"""An injected clock: tests move time, nothing sleeps."""

from __future__ import annotations

import threading

START = 1_800_000_000.0


class FakeClock:
    def __init__(self, now: float = START) -> None:
        self._now = now
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds

    def set(self, now: float) -> None:
        with self._lock:
            self._now = now
