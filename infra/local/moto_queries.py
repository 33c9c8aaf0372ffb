"""DynamoDB Query on the local stack at the cost of what it reads, not of the whole table.

moto (5.x) answers every Query from ``Table.all_items()``: a list of every item of the table,
sorted by its key, built anew for each request. The query then keeps the items of the asked
partition (or, on an index, those whose index key matches) and sorts them again by the key it
answers in. A 200,000-account portfolio read back shard by shard by ingestion then sorts the
whole table for each page: the local stack spent 73 % of its time there, and a copy of a lender's
file took 500 s from ``aws s3 cp`` to its summary, growing with every account stored (issue 14).

Here moto's own query code runs unchanged; only the list it starts from changes, while one of its
queries runs:
- a query of the table reads only the asked partition's items (``Table.items`` is keyed by the
  partition key's value), which moto then sorts by the sort key, as before;
- a query of an index still looks at every item, but without the first sort: moto sorts what
  matches by the index's key and then the table's, which orders any two items (a table's key is
  unique), so the answer and its pages are the same.
Scans and everything else still get moto's sorted list. ``install()`` is idempotent;
``uninstall()`` restores moto's code. tests/local/emulator/test_moto_queries.py compares the
answers with moto's own on the same tables.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

_ORIGINAL: dict[str, Any] = {}
#: The query running on this thread: (table, partition key value or None for an index query).
_running = threading.local()


def _query(original: Any) -> Any:
    @functools.wraps(original)
    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name") if len(args) < 7 else args[6]
        if not index_name and not _hashable(hash_key):  # none, or a set, list or map: moto's own way
            return original(self, hash_key, *args, **kwargs)
        _running.scope = (self, None if index_name else hash_key)
        try:
            return original(self, hash_key, *args, **kwargs)
        finally:
            _running.scope = None

    return query


def _hashable(value: Any) -> bool:
    if value is None:
        return False
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _all_items(original: Any) -> Any:
    @functools.wraps(original)
    def all_items(self: Any) -> Any:
        scope = getattr(_running, "scope", None)
        if scope is None or scope[0] is not self:
            return original(self)
        hash_key = scope[1]
        if hash_key is None:  # an index query: every item, moto sorts those that match
            if not self.range_key_attr:
                return list(self.items.values())
            return [item for partition in self.items.values() for item in partition.values()]
        partition = self.items.get(hash_key)
        if partition is None:
            return []
        return list(partition.values()) if self.range_key_attr else [partition]

    return all_items


def install() -> None:
    from moto.dynamodb.models.table import Table

    if _ORIGINAL:
        return
    _ORIGINAL["query"], _ORIGINAL["all_items"] = Table.query, Table.all_items
    Table.query = _query(Table.query)  # type: ignore[method-assign]
    Table.all_items = _all_items(Table.all_items)  # type: ignore[method-assign]


def uninstall() -> None:
    from moto.dynamodb.models.table import Table

    if not _ORIGINAL:
        return
    Table.query = _ORIGINAL.pop("query")  # type: ignore[method-assign]
    Table.all_items = _ORIGINAL.pop("all_items")  # type: ignore[method-assign]
