"""The KPI counters' I/O (SPEC §8): one ``UpdateItem ... ADD`` per batch of events, one query per month.

Keys: ``kpi_key`` = ``<tenant>#<YYYY-MM>`` (a month of a tenant), ``item_key`` =
``<day>#<segment>#<shard>``. Reminders, the busiest writers, spread over ``SENDER_SHARDS`` items
a day and segment; a reader adds the shards up. The portfolio's level is one item per tenant
(``<tenant>#level``), copied into the day's ``_level`` item when the tenant's night starts.

Counters are written after the event they count is stored, never before: a crash in between
loses that count (at most once), a redelivered event is not counted again (the event's own
write is the idempotent one and the count follows only a first write).
"""
from __future__ import annotations

import random
import threading
from collections import defaultdict
from decimal import Decimal
from typing import Any, Iterable, Mapping

from botocore.exceptions import BotoCoreError, ClientError

from ..accounts.store import from_wire
from ..core import aws
from ..core.observability import logger, metrics
from ..core.settings import get_settings
from .rules import LEVEL_SEGMENT, day_item_key

SENDER_SHARDS = 4
LEVEL_KEY = "level"
Counters = Mapping[str, int | Decimal]


def _table() -> str:
    return get_settings().kpis_table


def _add(key: dict[str, Any], counters: Counters) -> bool:
    """Adds the counters (one UpdateItem). Best effort: a count must never fail the event it
    counts, stored already; a failed write is logged and counted (KpiWritesFailed), and lost."""
    live = {name: value for name, value in counters.items() if value}
    if not live:
        return True
    names = {f"#c{i}": name for i, name in enumerate(live)}
    values = {f":c{i}": {"N": str(value)} for i, value in enumerate(live.values())}
    try:
        aws.client("dynamodb").update_item(
            TableName=_table(), Key=key, UpdateExpression="ADD " + ", ".join(f"#c{i} :c{i}" for i in range(len(live))),
            ExpressionAttributeNames=names, ExpressionAttributeValues=values)
    except (ClientError, BotoCoreError) as exc:
        logger.warning("KPI counters not written", extra={"error": type(exc).__name__, "counters": len(live)})
        metrics.add_metric(name="KpiWritesFailed", unit="Count", value=1)
        return False
    return True


def add(tenant_id: str, day: str, segment: str, counters: Counters, shard: int = 0) -> None:
    """Adds ``counters`` to the tenant's day and segment: one request."""
    _add({"kpi_key": {"S": f"{tenant_id}#{day[:7]}"}, "item_key": {"S": day_item_key(day, segment, shard)}}, counters)


class Batch:
    """Counters of many events gathered, then written one request per day and segment."""

    def __init__(self, tenant_id: str, shards: int = 1):
        self.tenant_id = tenant_id
        self.shard = random.randrange(shards)  # nosec B311  # spreads writes, no secret
        self.counters: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        self.level: dict[str, Decimal] = defaultdict(Decimal)
        self._lock = threading.Lock()  # the night counts from its writer threads

    def count(self, day: str, segment: str | None, counters: Counters) -> None:
        with self._lock:
            target = self.counters[(day, segment or "general")]
            for name, value in counters.items():
                target[name] += Decimal(value)

    def move_level(self, segment: str | None, bucket: str | None, accounts: int, owed: Decimal | int) -> None:
        """The portfolio's level: ``accounts`` and ``owed`` more (or fewer) in a segment's bucket."""
        if bucket:
            with self._lock:
                self.level[f"n.{segment or 'general'}.{bucket}"] += accounts
                self.level[f"owed.{segment or 'general'}.{bucket}"] += Decimal(owed)

    def flush(self) -> int:
        """Writes what was gathered (taken out first: a failed write is never sent again); the
        number of requests it took."""
        with self._lock:
            counters, self.counters = self.counters, defaultdict(lambda: defaultdict(Decimal))
            level, self.level = self.level, defaultdict(Decimal)
        requests = 0
        for (day, segment), values in sorted(counters.items()):
            if any(values.values()):
                add(self.tenant_id, day, segment, values, self.shard)
                requests += 1
        if any(level.values()):
            _add(_level_key(self.tenant_id), level)
            requests += 1
        return requests


class Batches:
    """A ``Batch`` per tenant: what one invocation (a batch of queued reminders) counted."""

    def __init__(self, shards: int = 1):
        self.shards = shards
        self.by_tenant: dict[str, Batch] = {}

    def of(self, tenant_id: str) -> Batch:
        if tenant_id not in self.by_tenant:
            self.by_tenant[tenant_id] = Batch(tenant_id, self.shards)
        return self.by_tenant[tenant_id]

    def flush(self) -> int:
        requests = sum(batch.flush() for batch in self.by_tenant.values())
        self.by_tenant.clear()
        return requests


def _level_key(tenant_id: str) -> dict[str, Any]:
    return {"kpi_key": {"S": f"{tenant_id}#{LEVEL_KEY}"}, "item_key": {"S": LEVEL_KEY}}


def put_level(tenant_id: str, level: Mapping[str, Decimal | int]) -> None:
    """Replaces the tenant's level (``kpis rebuild-level``: counted again from its accounts)."""
    aws.client("dynamodb").put_item(TableName=_table(), Item={
        **_level_key(tenant_id), **{name: {"N": str(value)} for name, value in level.items() if value}})


def snapshot_level(tenant_id: str, day: str) -> bool:
    """Copies the portfolio's level into ``day``'s ``_level`` item (once: a later copy the same
    day keeps the first). False when there was nothing to copy or it was already copied."""
    client = aws.client("dynamodb")
    try:
        level = client.get_item(TableName=_table(), Key=_level_key(tenant_id), ConsistentRead=True).get("Item")
    except (ClientError, BotoCoreError) as exc:  # the night must start all the same
        logger.warning("KPI level not read", extra={"error": type(exc).__name__})
        return False
    if not level:
        return False
    item = {name: value for name, value in level.items() if name not in ("kpi_key", "item_key")}
    item.update({"kpi_key": {"S": f"{tenant_id}#{day[:7]}"}, "item_key": {"S": day_item_key(day, LEVEL_SEGMENT)}})
    try:
        client.put_item(TableName=_table(), Item=item, ConditionExpression="attribute_not_exists(item_key)")
    except (ClientError, BotoCoreError) as exc:
        if not (isinstance(exc, ClientError) and exc.response["Error"]["Code"] == "ConditionalCheckFailedException"):
            logger.warning("KPI level not copied", extra={"error": type(exc).__name__})
        return False
    return True


def read_months(tenant_id: str, months: Iterable[str]) -> tuple[list[dict[str, Any]], int]:
    """Every counters item of the months (one query each, more only past 1 MB) and the requests."""
    items: list[dict[str, Any]] = []
    requests = 0
    for month in months:
        kwargs: dict[str, Any] = {"TableName": _table(), "KeyConditionExpression": "kpi_key = :k",
                                  "ExpressionAttributeValues": {":k": {"S": f"{tenant_id}#{month}"}}}
        while True:
            page = aws.client("dynamodb").query(**kwargs)
            requests += 1
            items.extend(from_wire(i) for i in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return items, requests
