"""Tracks store: every location ping of an agent, by day (TracksTable, SPEC §9).

- ``track_key`` ``<tenant_id>#<agent_id>#<YYYY-MM-DD>`` (the day in the tenant's time zone) holds
  one agent's day: a day's track is one query, and no partition holds a tenant (an agent pings a
  few thousand times a day at most).
- ``captured_at`` (the range key) is the ping's instant, UTC, whole seconds: the points come back
  in time order, and a ping sent again (the phone resends its buffer) overwrites itself.
- ``expires_at`` (the table's TTL) removes a point 30 days after it was taken. TTL deletes an
  expired item days later, so the reads filter on it: an expired point is never served.
"""
from __future__ import annotations

import random
import time
from datetime import datetime
from typing import Any, Callable, Iterable, Mapping

from ..accounts.store import from_wire, owned_start, to_wire
from ..core import aws
from ..core.settings import get_settings

BATCH_SIZE = 25
MAX_UNPROCESSED_RETRIES = 8


def _table() -> str:
    return get_settings().tracks_table


def track_key(tenant_id: str, agent_id: str, day: str) -> str:
    return f"{tenant_id}#{agent_id}#{day}"


def put_points(tenant_id: str, agent_id: str, points: Iterable[Mapping[str, Any]],
               sleep: Callable[[float], None] = time.sleep) -> int:
    """Stores points (``day``, ``captured_at`` and the rest of the item) with BatchWriteItem, 25 a
    request, unprocessed ones retried with backoff; two points of one instant are one (the last
    given). Returns how many items were written."""
    unique: dict[tuple[str, str], dict[str, Any]] = {}
    for point in points:
        item = {k: v for k, v in point.items() if k != "day"}
        item["track_key"] = track_key(tenant_id, agent_id, point["day"])
        unique[(item["track_key"], item["captured_at"])] = item
    requests = [{"PutRequest": {"Item": to_wire(item)}} for item in unique.values()]
    client = aws.client("dynamodb")
    for start in range(0, len(requests), BATCH_SIZE):
        batch, attempt = requests[start:start + BATCH_SIZE], 0
        while batch:
            response = client.batch_write_item(RequestItems={_table(): batch})
            batch = response.get("UnprocessedItems", {}).get(_table(), [])
            if batch:
                attempt += 1
                if attempt > MAX_UNPROCESSED_RETRIES:
                    raise RuntimeError(f"{len(batch)} track points still unprocessed after {attempt} retries")
                sleep(min(2.0, 0.05 * 2**attempt) * random.uniform(0.5, 1.0))  # nosec B311  # retry jitter, not security
    return len(requests)


def read_day(tenant_id: str, agent_id: str, day: str, limit: int, start: Mapping[str, Any] | None = None, *,
             now: datetime) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Up to ``limit`` points of the agent's day not expired at ``now``, in time order, from after
    ``start`` (a key this function returned), and the key the next page starts after: None when no
    point follows (the query asks for one point more than the page to know)."""
    key = track_key(tenant_id, agent_id, day)
    kwargs: dict[str, Any] = {"TableName": _table(), "KeyConditionExpression": "#k = :k",
                              "FilterExpression": "#e > :now",
                              "ExpressionAttributeNames": {"#k": "track_key", "#e": "expires_at"},
                              "ExpressionAttributeValues": {":k": {"S": key}, ":now": {"N": str(int(now.timestamp()))}}}
    last = owned_start(start, {"track_key": {"S": key}})
    items: list[dict[str, Any]] = []
    while len(items) <= limit:
        if last:
            kwargs["ExclusiveStartKey"] = last
        # Limit counts the points read before the filter; a 1 MB page may stop short too
        page = aws.client("dynamodb").query(**kwargs, Limit=limit + 1 - len(items))
        items.extend(from_wire(i) for i in page.get("Items", []))
        last = page.get("LastEvaluatedKey")
        if not last:
            break
    if len(items) <= limit:
        return items, None
    del items[limit:]
    return items, {"track_key": {"S": key}, "captured_at": {"S": items[-1]["captured_at"]}}
