"""External sort: items spill to sorted runs on local disk and come back merged.

Ingestion sorts a file's accounts by account_id with this so it can merge them with the
tenant's stored accounts (which DynamoDB returns in the same order) in constant memory.
"""
from __future__ import annotations

import heapq
import pickle
import tempfile
from typing import Any, Iterator

RUN_SIZE = 50_000


class SortedRuns:
    def __init__(self, run_size: int = RUN_SIZE, directory: str | None = None):
        self._run_size = run_size
        self._dir = tempfile.TemporaryDirectory(prefix="runs-", dir=directory)
        self._buffer: list[tuple[Any, ...]] = []
        self._files: list[str] = []
        self.count = 0

    def add(self, sort_key: tuple[Any, ...], item: Any) -> None:
        self._buffer.append((*sort_key, item))
        self.count += 1
        if len(self._buffer) >= self._run_size:
            self._spill()

    def _spill(self) -> None:
        self._buffer.sort(key=lambda entry: entry[:-1])
        path = f"{self._dir.name}/run-{len(self._files):05d}"
        with open(path, "wb") as fh:
            pickler = pickle.Pickler(fh, protocol=pickle.HIGHEST_PROTOCOL)
            for entry in self._buffer:
                pickler.dump(entry)
        self._files.append(path)
        self._buffer = []

    def merged(self) -> Iterator[tuple[Any, ...]]:
        """Every entry as (*sort_key, item), in sort-key order."""
        self._buffer.sort(key=lambda entry: entry[:-1])
        streams = [_read_run(path) for path in self._files] + [iter(self._buffer)]
        return heapq.merge(*streams, key=lambda entry: entry[:-1])

    def close(self) -> None:
        self._dir.cleanup()

    def __enter__(self) -> "SortedRuns":
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()


def _read_run(path: str) -> Iterator[tuple[Any, ...]]:
    with open(path, "rb") as fh:
        unpickler = pickle.Unpickler(fh)
        while True:
            try:
                yield unpickler.load()
            except EOFError:
                return


class ItemSpool:
    """Items appended to a local temporary file and read back in the same order (constant memory)."""

    def __init__(self, directory: str | None = None):
        self._file = tempfile.TemporaryFile(dir=directory)
        self._pickler = pickle.Pickler(self._file, protocol=pickle.HIGHEST_PROTOCOL)
        self.count = 0

    def add(self, item: Any) -> None:
        self._pickler.dump(item)
        self._pickler.clear_memo()
        self.count += 1

    def __iter__(self) -> Iterator[Any]:
        self._file.flush()
        self._file.seek(0)
        unpickler = pickle.Unpickler(self._file)
        for _ in range(self.count):
            yield unpickler.load()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "ItemSpool":
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()
