"""Bookkeeping of work in progress, so `wait_idle` can tell "done" from "between two steps".

Every invocation (sync or async, including the pauses between async retries) is bracketed by
`begin()`/`end()`. The generation counter moves on every change: a caller that sees the same
generation before and after checking the queues knows nothing started or finished in between.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Activity:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._busy = 0
        self._generation = 0

    def begin(self) -> None:
        with self._lock:
            self._busy += 1
            self._generation += 1

    def end(self) -> None:
        with self._lock:
            self._busy -= 1
            self._generation += 1

    @contextmanager
    def track(self) -> Iterator[None]:
        self.begin()
        try:
            yield
        finally:
            self.end()

    def snapshot(self) -> tuple[int, int]:
        """(work in progress, generation)."""
        with self._lock:
            return self._busy, self._generation
