"""Accounts repository.

The ingest path works on plain dicts (fast, streamable) written with BatchWriteItem; the API
reads through the PynamoDB model. ``tests/integration`` checks that both agree on the item shape.
"""
from __future__ import annotations

import random
import time
import zlib
from decimal import Decimal, DecimalException
from typing import Any, Callable, Iterator, Mapping

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from ..core import aws
from ..core.numbers import storable
from ..core.settings import get_settings
from ..core.tables import AccountModel, bind_models


class _Serializer(TypeSerializer):  # type: ignore[misc]  # boto3 ships no type hints: its classes are Any
    """boto3's serializer, with every number made storable first (core.numbers): a value
    DynamoDB would refuse, or keep and then fail to read back, never leaves this process."""

    def _serialize_n(self, value: Any) -> str:
        return str(storable(value))


class _Deserializer(TypeDeserializer):  # type: ignore[misc]  # boto3 ships no type hints: its classes are Any
    """boto3's deserializer, but a number stored before values were normalised (``1e-300``)
    reads as itself instead of failing the whole item."""

    def _deserialize_n(self, value: str) -> Decimal:
        try:
            number: Decimal = super()._deserialize_n(value)
            return number
        except DecimalException:
            return Decimal(value)


_serializer = _Serializer()
_deserializer = _Deserializer()

BATCH_SIZE = 25
MAX_UNPROCESSED_RETRIES = 8


def to_wire(item: Mapping[str, Any]) -> dict[str, Any]:
    """Plain dict -> DynamoDB attribute values; None and empty values are left out."""
    return {k: _serializer.serialize(v) for k, v in item.items() if v is not None and v != "" and v != {}}


def wire_value(value: Any) -> dict[str, Any]:
    """One plain value -> its DynamoDB attribute value (for expressions)."""
    wire: dict[str, Any] = _serializer.serialize(value)
    return wire


def from_wire(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _deserializer.deserialize(v) for k, v in item.items()}


def batch_get(keys: Mapping[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """Items of several tables in one strongly consistent BatchGetItem (plus a retry of any
    unprocessed keys): ``{table: [wire key, ...]}`` -> ``{table: [plain item, ...]}``."""
    request = {table: {"Keys": list(k), "ConsistentRead": True} for table, k in keys.items() if k}
    found: dict[str, list[dict[str, Any]]] = {table: [] for table in keys}
    for _ in range(5):
        response = aws.client("dynamodb").batch_get_item(RequestItems=request)
        for table, items in response.get("Responses", {}).items():
            found[table].extend(from_wire(i) for i in items)
        request = response.get("UnprocessedKeys") or {}
        if not request:
            return found
    raise RuntimeError("DynamoDB kept the reads unprocessed")


def iter_tenant_accounts(tenant_id: str, low: str | None = None, high: str | None = None) -> Iterator[dict[str, Any]]:
    """A tenant's accounts in account_id order (DynamoDB's sort-key order): every one, or those
    with ``low <= account_id < high`` (either bound may be None)."""
    client = aws.client("dynamodb")
    table = get_settings().accounts_table
    kwargs: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "tenant_id = :t",
        "ExpressionAttributeValues": {":t": {"S": tenant_id}},
        "ConsistentRead": True,
    }
    if low is not None:
        kwargs["KeyConditionExpression"] += " AND account_id >= :low"
        kwargs["ExpressionAttributeValues"][":low"] = {"S": low}
    while True:
        page = client.query(**kwargs)
        for item in page.get("Items", []):
            if high is not None and item["account_id"]["S"] >= high:
                return
            yield from_wire(item)
        last = page.get("LastEvaluatedKey")
        if not last:
            return
        kwargs["ExclusiveStartKey"] = last


class BatchWriter:
    """Puts items 25 at a time, retrying unprocessed items with exponential backoff and jitter
    (botocore already retries throttled requests)."""

    def __init__(self, table: str | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        self.table = table or get_settings().accounts_table
        self._pending: list[dict[str, Any]] = []
        self._sleep = sleep
        self.written = 0

    def put(self, item: Mapping[str, Any]) -> None:
        self._pending.append({"PutRequest": {"Item": to_wire(item)}})
        if len(self._pending) >= BATCH_SIZE:
            self.flush()

    def flush(self) -> None:
        client = aws.client("dynamodb")
        while self._pending:
            batch, self._pending = self._pending[:BATCH_SIZE], self._pending[BATCH_SIZE:]
            attempt = 0
            while batch:
                response = client.batch_write_item(RequestItems={self.table: batch})
                unprocessed = response.get("UnprocessedItems", {}).get(self.table, [])
                self.written += len(batch) - len(unprocessed)
                batch = unprocessed
                if batch:
                    attempt += 1
                    if attempt > MAX_UNPROCESSED_RETRIES:
                        raise RuntimeError(f"{len(batch)} items still unprocessed after {attempt} retries")
                    self._sleep(min(5.0, 0.05 * 2**attempt) * random.uniform(0.5, 1.0))  # nosec B311  # retry jitter, not security

    def __enter__(self) -> "BatchWriter":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: Any) -> None:
        if exc_type is None:
            self.flush()


def get_account(tenant_id: str, account_id: str) -> AccountModel | None:
    bind_models()
    try:
        return AccountModel.get(tenant_id, account_id)
    except AccountModel.DoesNotExist:
        return None


FILTERABLE = ("stage", "segment", "aging_bucket", "status")


def owned_start(start: Mapping[str, Any] | None, owner: Mapping[str, Any]) -> dict[str, Any] | None:
    """A page's start key, checked to carry ``owner`` (the wire key attributes of the caller,
    e.g. its tenant): a position is never a way into another tenant's items."""
    if not start:
        return None
    if any(start.get(name) != value for name, value in owner.items()):
        raise ValueError("next_token is not valid for this list")
    return dict(start)


def list_accounts(
    tenant_id: str, filters: Mapping[str, str], limit: int, start: Mapping[str, Any] | None
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """A page of a tenant's accounts matching every filter (equality on FILTERABLE fields), and
    the key the next page starts after (None at the end)."""
    client = aws.client("dynamodb")
    kwargs: dict[str, Any] = {
        "TableName": get_settings().accounts_table,
        "KeyConditionExpression": "tenant_id = :t",
        "ExpressionAttributeValues": {":t": {"S": tenant_id}},
        "Limit": limit,
    }
    start = owned_start(start, {"tenant_id": {"S": tenant_id}})
    if start:
        kwargs["ExclusiveStartKey"] = start
    if filters:
        names, conditions = {}, []
        for i, (name, value) in enumerate(sorted(filters.items())):
            names[f"#f{i}"] = name
            kwargs["ExpressionAttributeValues"][f":v{i}"] = {"S": value}
            conditions.append(f"#f{i} = :v{i}")
        kwargs["ExpressionAttributeNames"] = names
        kwargs["FilterExpression"] = " AND ".join(conditions)
    items: list[dict[str, Any]] = []
    # A filter can leave a page short: keep reading until the page is full or the data ends.
    # The token always points just after the last item returned, so nothing is skipped.
    while True:
        kwargs["Limit"] = max(limit, 100) if filters else limit - len(items)
        page = client.query(**kwargs)
        page_items = page.get("Items", [])
        for position, raw in enumerate(page_items):
            items.append(from_wire(raw))
            if len(items) == limit:
                rest_of_page = position + 1 < len(page_items)
                if rest_of_page or page.get("LastEvaluatedKey"):
                    return items, {"tenant_id": raw["tenant_id"], "account_id": raw["account_id"]}
                return items, None
        last = page.get("LastEvaluatedKey")
        if not last:
            return items, None
        kwargs["ExclusiveStartKey"] = last


DUE_SHARDS = 16


def shard_key(tenant_id: str, shard: int) -> str:
    return f"{tenant_id}#{shard:02d}"


def due_shard(tenant_id: str, account_id: str) -> str:
    """Spreads a tenant's due accounts over DUE_SHARDS index partitions."""
    return shard_key(tenant_id, zlib.crc32(account_id.encode()) % DUE_SHARDS)


def due_accounts(tenant_id: str, today: Any) -> Iterator[dict[str, Any]]:
    """Accounts whose next-action date is on or before ``today``, from every due-index shard."""
    client = aws.client("dynamodb")
    table = get_settings().accounts_table
    for shard in range(DUE_SHARDS):
        kwargs: dict[str, Any] = {
            "TableName": table,
            "IndexName": "due-index",
            "KeyConditionExpression": "due_shard = :s AND next_action_on <= :d",
            "ExpressionAttributeValues": {":s": {"S": shard_key(tenant_id, shard)}, ":d": {"S": today.isoformat()}},
        }
        while True:
            page = client.query(**kwargs)
            for item in page.get("Items", []):
                yield from_wire(item)
            if not page.get("LastEvaluatedKey"):
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


# ---------------------------------------------------------------- lifecycle updates (campaigns, API)
#: Fields the nightly run recomputes; it never rewrites the rest of the item (an opt-out or a
#: payment recorded meanwhile stays).
PLANNER_FIELDS = ("days_past_due", "aging_bucket", "stage", "amount_tier", "risk_score", "segment", "derived_on",
                  "next_action_on", "due_shard", "legal_handoff_on")


def _key(tenant_id: str, account_id: str) -> dict[str, Any]:
    return {"tenant_id": {"S": tenant_id}, "account_id": {"S": account_id}}


def update_fields(tenant_id: str, account_id: str, fields: Mapping[str, Any], *, condition: str | None = None,
                  names: Mapping[str, str] | None = None, values: Mapping[str, Any] | None = None) -> bool:
    """SETs the non-empty ``fields`` and REMOVEs the empty ones on an existing account; False when
    the account is gone or the extra ``condition`` (with its ``names`` and wire ``values``) failed."""
    names = dict(names or {})
    values = dict(values or {})
    sets, removes = [], []
    for i, (name, value) in enumerate(fields.items()):
        names[f"#f{i}"] = name
        if value is None or value == "":
            removes.append(f"#f{i}")
        else:
            values[f":f{i}"] = _serializer.serialize(value)
            sets.append(f"#f{i} = :f{i}")
    expression = ("SET " + ", ".join(sets) if sets else "") + (" REMOVE " + ", ".join(removes) if removes else "")
    full_condition = "attribute_exists(account_id)" + (f" AND ({condition})" if condition else "")
    kwargs: dict[str, Any] = {"TableName": get_settings().accounts_table, "Key": _key(tenant_id, account_id),
                              "UpdateExpression": expression.strip(), "ConditionExpression": full_condition,
                              "ExpressionAttributeNames": names}
    if values:
        kwargs["ExpressionAttributeValues"] = values
    try:
        aws.client("dynamodb").update_item(**kwargs)
    except aws.client("dynamodb").exceptions.ConditionalCheckFailedException:
        return False
    return True


def add_to_set(tenant_id: str, account_id: str, field: str, members: list[str], stamp: str) -> bool:
    """Adds ``members`` to a string-set field (opt-outs, unusable channels); False if no account."""
    try:
        aws.client("dynamodb").update_item(
            TableName=get_settings().accounts_table, Key=_key(tenant_id, account_id),
            UpdateExpression="ADD #s :m SET updated_at = :t", ConditionExpression="attribute_exists(account_id)",
            ExpressionAttributeNames={"#s": field},
            ExpressionAttributeValues={":m": {"SS": sorted(set(members))}, ":t": {"S": stamp}},
        )
    except aws.client("dynamodb").exceptions.ConditionalCheckFailedException:
        return False
    return True


def read_account(tenant_id: str, account_id: str) -> dict[str, Any] | None:
    """The stored account as a plain dict (strongly consistent)."""
    response = aws.client("dynamodb").get_item(TableName=get_settings().accounts_table,
                                               Key=_key(tenant_id, account_id), ConsistentRead=True)
    return from_wire(response["Item"]) if "Item" in response else None


def swap_contact_log(tenant_id: str, account_id: str, seen_version: int, log: list[str],
                     channel: str | None = None, promise_cutoff: str | None = None) -> bool:
    """Replaces the account's contact log if nobody changed it since ``seen_version`` was read.

    With ``channel`` (a claim before sending), only while the account may still be contacted on
    it: status active, or promised with a promise dated before ``promise_cutoff`` (its grace
    is over), and the channel not opted out. That makes the claim the send-time guard against a
    payment, a promise or an opt-out recorded a moment before.
    """
    names = {"#v": "contact_version"}
    values: dict[str, Any] = {":log": {"L": [{"S": e} for e in log]}, ":next": {"N": str(seen_version + 1)}}
    if seen_version:
        condition = "attribute_exists(account_id) AND #v = :seen"
        values[":seen"] = {"N": str(seen_version)}
    else:
        condition = "attribute_exists(account_id) AND attribute_not_exists(#v)"
    if channel is not None:
        condition += (" AND (#st = :active OR (#st = :promised AND #pd < :cutoff))"
                      " AND NOT contains(#oo, :ch) AND NOT contains(#oo, :all)")
        names.update({"#st": "status", "#oo": "opted_out_channels", "#pd": "promise_date"})
        values.update({":active": {"S": "active"}, ":promised": {"S": "promised"}, ":ch": {"S": channel},
                       ":all": {"S": "all"}, ":cutoff": {"S": promise_cutoff or "0000-00-00"}})
    try:
        aws.client("dynamodb").update_item(
            TableName=get_settings().accounts_table, Key=_key(tenant_id, account_id),
            UpdateExpression="SET contact_log = :log, #v = :next", ConditionExpression=condition,
            ExpressionAttributeNames=names, ExpressionAttributeValues=values,
        )
    except aws.client("dynamodb").exceptions.ConditionalCheckFailedException:
        return False
    return True
