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


class Wakeup:
    """Wakes an idle poller when its source gets work.

    moto tells (`moto_wakeups`) when a message is added to a queue (sent, or an S3 notification)
    and when a table's stream gets a record, by the queue's or the table's name. A poller notes
    its source's `generation` before it looks and, finding nothing, `wait`s until that generation
    moves on, it is stopped, or its timeout passes (what nothing announces: a delayed message, a
    visibility timeout running out). Idle pollers then cost about one request a second each
    instead of ten, which kept the local server busy with nothing to do (64 % of a core) and
    slowed everything else on it (issue 14)."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._generations: dict[str, int] = {}

    def generation(self, source: str) -> int:
        with self._changed:
            return self._generations.get(source, 0)

    def notify(self, source: str) -> None:
        with self._changed:
            self._generations[source] = self._generations.get(source, 0) + 1
            self._changed.notify_all()

    def wait(self, source: str, seen: int, timeout: float, stop: threading.Event) -> bool:
        """Whether `source` changed since `seen` (or `stop` was set) within `timeout` seconds."""
        with self._changed:
            return self._changed.wait_for(lambda: self._generations.get(source, 0) != seen or stop.is_set(), timeout)
