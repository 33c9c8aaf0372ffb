"""The local stack's heap, settled while nothing runs.

The stack process holds every table, queue and object moto keeps: millions of Python objects
once a portfolio is loaded. CPython's full (oldest-generation) collections walk all of them, and
while one runs every thread of the process waits: results posted at that moment took about
4.8 s instead of half a second (`bench visits`, 8 clients; p99 0.76 s with the heap settled).

So once the stack has been idle for a moment after some activity, `HeapSettler` collects once
and then freezes what is left (`gc.freeze`): the data moto keeps moves to the permanent
generation, which later collections skip; new objects are collected as usual until the next
settle. Reference counting frees everything as before; only cyclic garbage among frozen objects
waits for `gc.unfreeze`, which `stop` calls (a test process starts many stacks).
"""
from __future__ import annotations

import gc
import threading
import time

from infra.local.activity import Activity


class HeapSettler:
    def __init__(self, activity: Activity, idle_seconds: float = 1.0, interval: float = 0.5) -> None:
        self._activity = activity
        self._idle_seconds = idle_seconds
        self._interval = interval
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heap-settler", daemon=True)
        self.settled = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        gc.unfreeze()

    def _run(self) -> None:
        settled_generation: int | None = None
        quiet: tuple[float, int] | None = None
        while not self._stopping.wait(self._interval):
            busy, generation = self._activity.snapshot()
            if busy or generation == settled_generation:
                quiet = None
                continue
            if quiet is None or quiet[1] != generation:
                quiet = (time.monotonic(), generation)
            elif time.monotonic() - quiet[0] >= self._idle_seconds:
                gc.collect()
                gc.freeze()
                settled_generation, quiet = generation, None
                self.settled += 1
