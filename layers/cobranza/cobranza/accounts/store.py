"""Accounts repository.

The ingest path works on plain dicts (fast, streamable): new accounts are written with
BatchWriteItem, changed ones with one conditional UpdateItem each that sets and removes only what
the file changed. The API reads through the PynamoDB model. ``tests/integration`` checks that
both agree on the item shape.

Writers never overwrite each other (SPEC §10). Every write to an account changes only the
attributes its writer owns and adds one to the account's revision, ``rev``. The two writers that
derive fields from the whole account (ingestion and the nightly planner) write only if ``rev`` is
still the one they read; when it moved, they read the account again and derive again
(``BatchWriter.update``, ``update_fields(seen_rev=...)``). An opt-out, a claim, a promise or a
visit result recorded between their read and their write is therefore never lost.

Keys (SPEC §10): the table's partition key is ``tenant_shard``, ``<tenant_id>#<shard>`` with the
account's shard one of ACCOUNT_SHARDS (a hash of its id), and its sort key ``account_id``. No
partition key value holds more than about 1/64 of a tenant, and a file's writes spread over every
partition of the tenant. A tenant's accounts are read back shard after shard, each in id order:
``placement`` is an account's position in that order, the order ingestion sorts a file in to merge
it with them.
"""
from __future__ import annotations

import random
import time
import zlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from decimal import Decimal, DecimalException
from typing import Any, Callable, Iterable, Iterator, Mapping

from boto3.dynamodb.types import DYNAMODB_CONTEXT, TypeDeserializer, TypeSerializer

from ..core import aws
from ..core.errors import Invalid
from ..core.numbers import storable
from ..core.settings import get_settings
from ..core.tables import AccountModel, bind_models
from . import status as account_status


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
#: The account's revision: every writer adds one (see the module docstring).
REV = "rev"
#: BatchWriteItem requests of new accounts sent at once by this many threads while the next batches
#: are built, so building them and the service's answer overlap; at most twice as many are in flight.
PUT_THREADS = 4
#: Conditional updates of changed accounts sent together, by this many threads.
UPDATE_BATCH = 64
UPDATE_THREADS = 16
#: A derived write whose account keeps changing underneath gives up after this many reads.
MAX_REDERIVE = 5
#: The table's partition key attribute, and the attributes every account item has for its key.
PARTITION = "tenant_shard"
KEY_FIELDS = (PARTITION, "tenant_id", "account_id")
#: Shards of a tenant's accounts: of the table's partition key, the due index and the list indexes.
ACCOUNT_SHARDS = 64
#: What ``BatchWriter.update``'s ``redo`` gets (the account as stored now) and gives back (the
#: item to store instead, or None when there is nothing left to write).
Redo = Callable[[dict[str, Any]], "dict[str, Any] | None"]


def account_shard(account_id: str) -> int:
    return zlib.crc32(account_id.encode()) % ACCOUNT_SHARDS


def shard_key(tenant_id: str, shard: int) -> str:
    return f"{tenant_id}#{shard:02d}"


def partition_of(tenant_id: str, account_id: str) -> str:
    """The account's partition key value (also its due-index shard)."""
    return shard_key(tenant_id, account_shard(account_id))


def wire_key(tenant_id: str, account_id: str) -> dict[str, Any]:
    return {PARTITION: {"S": partition_of(tenant_id, account_id)}, "account_id": {"S": account_id}}


def placement(account_id: str) -> str:
    """The account's position in the order a tenant's accounts are stored and read back
    (``iter_tenant_accounts``): its shard, then its id."""
    return f"{account_shard(account_id):02d}|{account_id}"


def to_wire(item: Mapping[str, Any]) -> dict[str, Any]:
    """Plain dict -> DynamoDB attribute values; None and empty values are left out. Strings,
    numbers and booleans (most of an account) are written here directly, the rest by boto3's serializer (same
    result, a fraction of the time: this runs for every attribute of every account written)."""
    wire: dict[str, Any] = {}
    for name, value in item.items():
        kind = type(value)
        if kind is str:
            if value:
                wire[name] = {"S": value}
        elif kind is int and -_INT_DIGITS < value < _INT_DIGITS:
            wire[name] = {"N": str(value)}  # what storable() gives a whole number of up to 38 digits
        elif (kind is Decimal and value.is_finite() and value and len(text := str(value)) <= 38
              and "E" not in text and "e" not in text):  # ("e": a context with capitals=0)
            wire[name] = {"N": text}  # what storable() gives: at most 38 digits, no exponent, not zero
        elif kind is Decimal or kind is int:
            wire[name] = {"N": str(storable(value))}
        elif kind is bool:
            wire[name] = {"BOOL": value}
        elif value is not None and value != {}:
            wire[name] = _serializer.serialize(value)
    return wire


#: Whole numbers below this magnitude keep every digit in DynamoDB (38 significant digits).
_INT_DIGITS = 10**38


def _wire(value: Any) -> dict[str, Any]:
    """One value's attribute value: strings and numbers directly, the rest through boto3's
    serializer."""
    kind = type(value)
    if kind is str:
        return {"S": value}
    if kind is Decimal or kind is int:
        return {"N": str(storable(value))}
    wire: dict[str, Any] = _serializer.serialize(value)
    return wire


def wire_value(value: Any) -> dict[str, Any]:
    """One plain value -> its DynamoDB attribute value (for expressions)."""
    wire: dict[str, Any] = _serializer.serialize(value)
    return wire


def from_wire(item: Mapping[str, Any]) -> dict[str, Any]:
    """DynamoDB attribute values -> plain dict. Strings, numbers and booleans (most of an account)
    are read here directly, as boto3's deserializer reads them, and the rest by it: the same
    result in a quarter of the time (5.6 against 21.2 us for an account of 19 attributes; a
    chunked upload reads every accepted row back through this)."""
    plain: dict[str, Any] = {}
    for name, value in item.items():
        if type(value) is dict and len(value) == 1:
            if "S" in value:
                plain[name] = value["S"]
                continue
            text = value.get("N")
            if type(text) is str:
                try:  # what the deserializer does first
                    plain[name] = DYNAMODB_CONTEXT.create_decimal(text)
                    continue
                except DecimalException:  # inexact or out of range: the deserializer's answer
                    pass
            if "BOOL" in value:
                plain[name] = value["BOOL"]
                continue
        plain[name] = _deserializer.deserialize(value)
    return plain


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
    """A tenant's accounts in ``placement`` order (shard after shard, each in id order): every
    one, or those placed at ``low`` or after and before ``high`` (either bound may be None)."""
    first = int(low[:2]) if low is not None else 0
    last = min(int(high[:2]), ACCOUNT_SHARDS - 1) if high is not None else ACCOUNT_SHARDS - 1
    for shard in range(first, last + 1):
        after = low[3:] if low is not None and shard == first else None
        before = high[3:] if high is not None and shard == int(high[:2]) else None
        yield from _shard_accounts(tenant_id, shard, after, before)


def _shard_accounts(tenant_id: str, shard: int, low: str | None, high: str | None) -> Iterator[dict[str, Any]]:
    """One shard's accounts in id order, those with ``low <= account_id < high``: read in bulk
    (the bulk client reads a page's items as they come, ``core.aws._WireAnswers``)."""
    client = aws.bulk_client("dynamodb")
    kwargs: dict[str, Any] = {
        "TableName": get_settings().accounts_table,
        "KeyConditionExpression": f"{PARTITION} = :p",
        "ExpressionAttributeValues": {":p": {"S": shard_key(tenant_id, shard)}},
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
    """Writes a file's accounts: ``put`` new ones, 25 per BatchWriteItem (sent by PUT_THREADS
    threads while the next are built; unprocessed items retried with exponential backoff and
    jitter; botocore already retries throttled requests), and
    ``update`` changed ones, each with a conditional UpdateItem of only what changed (sent
    ``UPDATE_BATCH`` at a time by ``UPDATE_THREADS`` threads; see the module docstring)."""

    def __init__(self, table: str | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        self.table = table or get_settings().accounts_table
        self._pending: list[dict[str, Any]] = []
        self._updates: list[tuple[dict[str, Any], dict[str, Any], Redo | None]] = []
        self._pool: ThreadPoolExecutor | None = None
        self._put_pool: ThreadPoolExecutor | None = None
        self._in_flight: deque[Future[int]] = deque()
        self._sleep = sleep
        self.written = 0
        self.rederived = 0

    def put(self, item: Mapping[str, Any]) -> None:
        """A new account (nobody else writes an account before it exists)."""
        self._pending.append({"PutRequest": {"Item": to_wire(with_keys(item))}})
        if len(self._pending) >= BATCH_SIZE:
            self._send(self._take_batch())

    def update(self, seen: dict[str, Any], item: dict[str, Any], redo: Redo | None = None) -> None:
        """A stored account (``seen``, as read) to become ``item``. When somebody else wrote the
        account meanwhile, ``redo`` gets it as stored now and says what to store instead."""
        self._updates.append((seen, item, redo))
        if len(self._updates) >= UPDATE_BATCH:
            self._flush_updates()

    def flush(self) -> None:
        """Sends everything still held and waits for every request (raising the first failure)."""
        self._flush_puts()
        self._flush_updates()

    def _take_batch(self) -> list[dict[str, Any]]:
        batch, self._pending = self._pending[:BATCH_SIZE], self._pending[BATCH_SIZE:]
        return batch

    def _send(self, batch: list[dict[str, Any]]) -> None:
        if self._put_pool is None:
            self._put_pool = ThreadPoolExecutor(max_workers=PUT_THREADS, thread_name_prefix="account-put")
        while len(self._in_flight) >= 2 * PUT_THREADS:
            self._collect(self._in_flight.popleft())
        self._in_flight.append(self._put_pool.submit(self._write_batch, batch))

    def _collect(self, request: "Future[int]") -> None:
        self.written += request.result()

    def _flush_puts(self) -> None:
        while self._pending:
            self._send(self._take_batch())
        while self._in_flight:
            self._collect(self._in_flight.popleft())

    def _write_batch(self, batch: list[dict[str, Any]]) -> int:
        """One BatchWriteItem, its unprocessed items sent again until none is left: how many were written."""
        client = aws.bulk_client("dynamodb")
        written, attempt = 0, 0
        while batch:
            response = client.batch_write_item(RequestItems={self.table: batch})
            unprocessed = response.get("UnprocessedItems", {}).get(self.table, [])
            written += len(batch) - len(unprocessed)
            batch = unprocessed
            if batch:
                attempt += 1
                if attempt > MAX_UNPROCESSED_RETRIES:
                    raise RuntimeError(f"{len(batch)} items still unprocessed after {attempt} retries")
                self._sleep(min(5.0, 0.05 * 2**attempt) * random.uniform(0.5, 1.0))  # nosec B311  # retry jitter, not security
        return written

    def _flush_updates(self) -> None:
        updates, self._updates = self._updates, []
        if not updates:
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=UPDATE_THREADS, thread_name_prefix="account-update")
        for written, rederived in self._pool.map(lambda u: _write_changes(self.table, *u), updates):
            self.written += written
            self.rederived += rederived

    def __enter__(self) -> "BatchWriter":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: Any) -> None:
        failed = exc_type is not None
        try:
            if not failed:
                self.flush()
        except BaseException:
            failed = True
            raise
        finally:  # after a failure, batches not yet started are dropped (the retry writes them)
            for pool in (self._put_pool, self._pool):
                if pool is not None:
                    pool.shutdown(cancel_futures=failed)


def reindex(tenant_id: str) -> dict[str, int]:
    """Gives each of the tenant's accounts the list-index keys of its current values, where they
    are missing or stale (the migration in docs/deploy.md); conditional on the revision read, like
    every derived write. Safe to run again."""
    read = 0
    with BatchWriter() as writer:
        for account in iter_tenant_accounts(tenant_id):
            read += 1
            if with_keys(account) != account:
                writer.update(account, account, redo=lambda fresh: fresh)
    return {"accounts_read": read, "accounts_reindexed": writer.written}


def copy_from(source_table: str, segment: int = 0, total_segments: int = 1) -> dict[str, int]:
    """Copies every account of ``source_table`` (a table of an earlier key schema, kept by the
    replacement: the migration in docs/deploy.md) into the accounts table with today's keys
    (partition, due shard and list-index keys); one scan segment of ``total_segments`` (run them
    side by side for a large table). Each account is put whole: run it once, in the migration's
    window (a second run would put the old copies back over anything written since)."""
    client = aws.client("dynamodb")
    kwargs: dict[str, Any] = {"TableName": source_table, "Segment": segment, "TotalSegments": total_segments}
    read = 0
    with BatchWriter() as writer:
        while True:
            page = client.scan(**kwargs)
            for raw in page.get("Items", []):
                account = from_wire(raw)
                read += 1
                if account.get("due_shard"):
                    account["due_shard"] = due_shard(account["tenant_id"], account["account_id"])
                writer.put(account)
            if not page.get("LastEvaluatedKey"):
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return {"accounts_read": read, "accounts_written": writer.written}


def changes(seen: Mapping[str, Any], item: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """What turns ``seen`` into ``item``: the attributes to set and those to remove (keys and the
    revision aside). Empty values are removals, as ``to_wire`` leaves them out."""
    sets = {k: v for k, v in item.items()
            if k not in KEY_FIELDS and k != REV and v is not None and v != "" and v != {} and seen.get(k) != v}
    removes = [k for k, v in seen.items()
               if k not in KEY_FIELDS and k != REV and k not in sets and v not in (None, "", {})
               and item.get(k) in (None, "", {})]
    return sets, sorted(removes)


def _write_changes(table: str, seen: dict[str, Any], item: dict[str, Any], redo: Redo | None) -> tuple[int, int]:
    """Writes ``seen`` -> ``item`` if the account's revision is still ``seen``'s, else derives
    again from the account as stored now. Returns (accounts written, times derived again)."""
    for attempt in range(MAX_REDERIVE):
        sets, removes = changes(seen, with_keys(item))
        if not sets and not removes:
            return 0, attempt
        if _update_if_unchanged(table, seen, sets, removes):
            return 1, attempt
        fresh = read_account(seen["tenant_id"], seen["account_id"])
        next_item = redo(fresh) if (fresh is not None and redo is not None) else None
        if fresh is None or next_item is None:
            return 0, attempt + 1
        seen, item = fresh, next_item
    raise RuntimeError(f"account kept changing while it was written ({MAX_REDERIVE} reads)")


def _update_if_unchanged(table: str, seen: Mapping[str, Any], sets: Mapping[str, Any], removes: list[str]) -> bool:
    names, values, clauses = _assignments(sets, removes)
    condition, rev_values = _rev_condition(seen.get(REV))
    client = aws.bulk_client("dynamodb")
    try:
        client.update_item(
            TableName=table, Key=wire_key(seen["tenant_id"], seen["account_id"]), UpdateExpression=clauses,
            ConditionExpression=f"attribute_exists(account_id) AND {condition}",
            ExpressionAttributeNames=names, ExpressionAttributeValues={**values, **rev_values})
    except client.exceptions.ConditionalCheckFailedException:
        return False
    return True


def _assignments(sets: Mapping[str, Any], removes: list[str]) -> tuple[dict[str, str], dict[str, Any], str]:
    """Names, values and the update expression that set ``sets``, remove ``removes`` and add one
    to the revision."""
    names: dict[str, str] = {"#rev": REV}
    values: dict[str, Any] = {":one": {"N": "1"}}
    set_parts, remove_parts = [], []
    for i, (name, value) in enumerate(sets.items()):
        names[f"#f{i}"] = name
        values[f":f{i}"] = _wire(value)
        set_parts.append(f"#f{i} = :f{i}")
    for i, name in enumerate(removes):
        names[f"#r{i}"] = name
        remove_parts.append(f"#r{i}")
    expression = ("SET " + ", ".join(set_parts) if set_parts else "") + \
        (" REMOVE " + ", ".join(remove_parts) if remove_parts else "") + " ADD #rev :one"
    return names, values, expression.strip()


def _rev_condition(seen_rev: Any) -> tuple[str, dict[str, Any]]:
    """The condition that the account's revision is still ``seen_rev`` (None: never written since
    its file created it)."""
    if seen_rev is None:
        return "attribute_not_exists(#rev)", {}
    return "#rev = :seen_rev", {":seen_rev": {"N": str(int(seen_rev))}}


def get_account(tenant_id: str, account_id: str) -> AccountModel | None:
    bind_models()
    try:
        return AccountModel.get(wire_key(tenant_id, account_id)[PARTITION]["S"], account_id)
    except AccountModel.DoesNotExist:
        return None


FILTERABLE = ("stage", "segment", "aging_bucket", "status")
#: Each filter of the accounts list has its own sparse, sharded index (KEYS_ONLY): the attribute
#: ``<tenant_id>#<value>#<shard>`` and the index's name. A page reads the shards one after the
#: other, so its cost follows the page, not the portfolio or how rare the value is; 64 shards keep
#: even a value every account has under 2% of a tenant per partition key value.
LIST_INDEXES = {"status": ("by_status", "status-index"), "stage": ("by_stage", "stage-index"),
                "segment": ("by_segment", "segment-index"), "aging_bucket": ("by_bucket", "bucket-index")}
#: The order in which filters pick the index when a query has several (the others filter the page).
LIST_INDEX_ORDER = ("status", "stage", "segment", "aging_bucket")
def list_key(tenant_id: str, value: str, shard: int) -> str:
    return f"{tenant_id}#{value}#{shard:02d}"


def list_keys(tenant_id: str, account_id: str, fields: Mapping[str, Any], *,
              with_status: bool = False) -> dict[str, str | None]:
    """The list-index attributes that follow from those of ``fields`` that have an index (a
    status removed, or left out when ``with_status``, is the default status)."""
    keys: dict[str, str | None] = {}
    shard = account_shard(account_id)
    for field, (attribute, _index) in LIST_INDEXES.items():
        if field not in fields and not (with_status and field == "status"):
            continue
        value = fields.get(field) or (account_status.DEFAULT if field == "status" else None)
        keys[attribute] = list_key(tenant_id, str(value), shard) if value else None
    return keys


def with_keys(item: Mapping[str, Any]) -> dict[str, Any]:
    """The account item with its partition key and the list-index attributes of its current values."""
    tenant_id, account_id = item["tenant_id"], item["account_id"]
    return {**item, PARTITION: partition_of(tenant_id, account_id),
            **list_keys(tenant_id, account_id, item, with_status=True)}


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
    where the next page starts (None at the end). Unfiltered: the tenant's accounts in
    ``placement`` order. Filtered: through the first filter's index (LIST_INDEX_ORDER), shard
    after shard."""
    if not filters:
        return _list_all(tenant_id, limit, start)
    field = next(f for f in LIST_INDEX_ORDER if f in filters)
    return _ListPage(tenant_id, field, filters, limit).read(start)


def _list_all(tenant_id: str, limit: int, start: Mapping[str, Any] | None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """A page of the table's shards of the tenant, one after the other."""
    shard, position = _token_shard(start, tenant_id, PARTITION, f"{tenant_id}#")
    items: list[dict[str, Any]] = []
    while shard < ACCOUNT_SHARDS:
        kwargs: dict[str, Any] = {"TableName": get_settings().accounts_table, "KeyConditionExpression": f"{PARTITION} = :p",
                                  "ExpressionAttributeValues": {":p": {"S": shard_key(tenant_id, shard)}},
                                  "Limit": limit - len(items)}
        if position:
            kwargs["ExclusiveStartKey"] = position
        page = aws.client("dynamodb").query(**kwargs)
        items.extend(from_wire(raw) for raw in page.get("Items", []))
        position = page.get("LastEvaluatedKey")
        if not position:
            shard += 1
        if len(items) >= limit:
            return items, position or _shard_start(shard, PARTITION, shard_key(tenant_id, shard))
    return items, None


def _shard_start(shard: int, attribute: str, key: str) -> dict[str, Any] | None:
    """The position at the start of ``shard`` (whose ``attribute`` is ``key``); None past the last."""
    return {attribute: {"S": key}} if shard < ACCOUNT_SHARDS else None


def _token_shard(start: Mapping[str, Any] | None, tenant_id: str, attribute: str, prefix: str) -> tuple[int, dict[str, Any] | None]:
    """The shard and the key a page's position points at (400 when it is not this list's: its
    ``attribute`` must be ``prefix`` and a shard number, and any table key the caller's tenant's)."""
    if not start:
        return 0, None
    tenant_prefix = f"{tenant_id}#"
    strings = {name: value.get("S") if isinstance(value, dict) else None for name, value in start.items()}
    suffix = (strings.get(attribute) or "")[len(prefix):]
    valid = ((strings.get(attribute) or "").startswith(prefix) and len(suffix) == 2 and suffix.isdigit()
             and int(suffix) < ACCOUNT_SHARDS and all(isinstance(v, str) for v in strings.values())
             and str(strings.get(PARTITION) or tenant_prefix).startswith(tenant_prefix))
    if not valid:
        raise Invalid("bad_request", "next_token is not valid for this list", [{"field": "next_token"}])
    return int(suffix), dict(start) if "account_id" in start else None


#: Index keys read per query when the page has filters besides the indexed one (they may not
#: match), and the most keys one page examines before it answers short, with its position.
KEY_BATCH = 100
MAX_KEYS_EXAMINED = 1_000


class _ListPage:
    """One page read through a list index: index keys shard by shard, then their accounts in one
    BatchGetItem per query, kept only if they still match (the index is eventually consistent;
    further filters are checked here). The position is the index key of the last account
    examined, so pages never repeat or skip an account; a page examines at most
    MAX_KEYS_EXAMINED keys, so a rare combination of filters answers a short page, not a timeout."""

    def __init__(self, tenant_id: str, field: str, filters: Mapping[str, str], limit: int) -> None:
        self.tenant_id, self.filters, self.limit = tenant_id, dict(filters), limit
        self.attribute, self.index = LIST_INDEXES[field]
        self.value = filters[field]
        self.items: list[dict[str, Any]] = []
        self.examined = 0

    def read(self, start: Mapping[str, Any] | None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        shard, position = self._start(start)
        while shard < ACCOUNT_SHARDS:
            wanted = self.limit - len(self.items) if len(self.filters) == 1 else KEY_BATCH
            keys, last = self._keys(shard, position, wanted)
            filled_at = self._fetch(keys)
            if filled_at is not None:
                return self.items, filled_at
            if last is None:
                shard, position = shard + 1, None
            else:
                position = last
            if self.examined >= MAX_KEYS_EXAMINED:
                return self.items, position or self._shard_start(shard)
        return self.items, None

    def _start(self, start: Mapping[str, Any] | None) -> tuple[int, dict[str, Any] | None]:
        """The shard and index key a token points at (400 when it is not this list's)."""
        return _token_shard(start, self.tenant_id, self.attribute, f"{self.tenant_id}#{self.value}#")

    def _shard_start(self, shard: int) -> dict[str, Any] | None:
        return _shard_start(shard, self.attribute, list_key(self.tenant_id, self.value, shard))

    def _keys(self, shard: int, position: dict[str, Any] | None, count: int) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """Up to ``count`` index entries of the shard after ``position``, and where the shard goes on."""
        kwargs: dict[str, Any] = {
            "TableName": get_settings().accounts_table, "IndexName": self.index, "Limit": count,
            "KeyConditionExpression": "#k = :k", "ExpressionAttributeNames": {"#k": self.attribute},
            "ExpressionAttributeValues": {":k": {"S": list_key(self.tenant_id, self.value, shard)}},
        }
        if position:
            kwargs["ExclusiveStartKey"] = position
        page = aws.client("dynamodb").query(**kwargs)
        return list(page.get("Items", [])), page.get("LastEvaluatedKey")

    def _fetch(self, entries: list[dict[str, Any]]) -> dict[str, Any] | None:
        """Keeps the accounts of ``entries`` that still match, in order; the entry at which the
        page filled up (the next page's position), or None."""
        if not entries:
            return None
        table = get_settings().accounts_table
        keys = [{PARTITION: e[PARTITION], "account_id": e["account_id"]} for e in entries]
        found = {a["account_id"]: a for a in batch_get({table: keys})[table]}
        for entry in entries:
            self.examined += 1
            account = found.get(entry["account_id"]["S"])
            if account is not None and _matches(account, self.filters):
                self.items.append(account)
                if len(self.items) >= self.limit:
                    return dict(entry)
        return None


def _matches(account: Mapping[str, Any], filters: Mapping[str, str]) -> bool:
    """Whether the account (as stored now) has every filtered value."""
    return all((account_status.of(account) if field == "status" else account.get(field)) == value
               for field, value in filters.items())


#: The due index's shards: the account's own (a night plans each in a part of its own).
DUE_SHARDS = ACCOUNT_SHARDS


def due_shard(tenant_id: str, account_id: str) -> str:
    """Spreads a tenant's due accounts over DUE_SHARDS index partitions."""
    return partition_of(tenant_id, account_id)


def due_accounts(tenant_id: str, today: Any, shards: Iterable[int] | None = None) -> Iterator[dict[str, Any]]:
    """Accounts whose next-action date is on or before ``today``, from the given due-index shards
    (default: every one; a part of the night reads one)."""
    client = aws.client("dynamodb")
    table = get_settings().accounts_table
    for shard in range(DUE_SHARDS) if shards is None else shards:
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


_ANY_REV = object()


def update_fields(tenant_id: str, account_id: str, fields: Mapping[str, Any], *, condition: str | None = None,
                  names: Mapping[str, str] | None = None, values: Mapping[str, Any] | None = None,
                  seen_rev: Any = _ANY_REV) -> bool:
    """SETs the non-empty ``fields`` and REMOVEs the empty ones on an existing account, adding one
    to its revision; False when the account is gone, the extra ``condition`` (with its ``names`` and
    wire ``values``) failed, or (with ``seen_rev``) somebody wrote it since that revision was read."""
    fields = {**fields, **list_keys(tenant_id, account_id, fields)}
    sets = {k: v for k, v in fields.items() if v is not None and v != ""}
    assigned_names, assigned_values, expression = _assignments(sets, [k for k in fields if k not in sets])
    conditions = ["attribute_exists(account_id)"] + ([f"({condition})"] if condition else [])
    rev_values: dict[str, Any] = {}
    if seen_rev is not _ANY_REV:
        rev_condition, rev_values = _rev_condition(seen_rev)
        conditions.append(rev_condition)
    client = aws.bulk_client("dynamodb")  # every writer's, the planner's above all: built here, by code
    try:
        client.update_item(
            TableName=get_settings().accounts_table, Key=wire_key(tenant_id, account_id), UpdateExpression=expression,
            ConditionExpression=" AND ".join(conditions), ExpressionAttributeNames={**dict(names or {}), **assigned_names},
            ExpressionAttributeValues={**dict(values or {}), **assigned_values, **rev_values})
    except client.exceptions.ConditionalCheckFailedException:
        return False
    return True


def add_to_set(tenant_id: str, account_id: str, field: str, members: list[str], stamp: str) -> bool:
    """Adds ``members`` to a string-set field (opt-outs, unusable channels); False if no account."""
    try:
        aws.client("dynamodb").update_item(
            TableName=get_settings().accounts_table, Key=wire_key(tenant_id, account_id),
            UpdateExpression="ADD #s :m, #rev :one SET updated_at = :t", ConditionExpression="attribute_exists(account_id)",
            ExpressionAttributeNames={"#s": field, "#rev": REV},
            ExpressionAttributeValues={":m": {"SS": sorted(set(members))}, ":t": {"S": stamp}, ":one": {"N": "1"}},
        )
    except aws.client("dynamodb").exceptions.ConditionalCheckFailedException:
        return False
    return True


def read_accounts(tenant_id: str, account_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The tenant's accounts among ``account_ids``, by id (strongly consistent; a BatchGetItem
    per 100 ids)."""
    ids, table = sorted(set(account_ids)), get_settings().accounts_table
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), 100):
        for item in batch_get({table: [wire_key(tenant_id, i) for i in ids[start:start + 100]]})[table]:
            found[item["account_id"]] = item
    return found


def read_account(tenant_id: str, account_id: str) -> dict[str, Any] | None:
    """The stored account as a plain dict (strongly consistent)."""
    response = aws.client("dynamodb").get_item(TableName=get_settings().accounts_table,
                                               Key=wire_key(tenant_id, account_id), ConsistentRead=True)
    return from_wire(response["Item"]) if "Item" in response else None


def swap_contact_log(tenant_id: str, account_id: str, seen_version: int, log: list[str],
                     channel: str | None = None, promise_cutoff: str | None = None,
                     planned_at: str | None = None) -> bool:
    """Replaces the account's contact log if nobody changed it since ``seen_version`` was read.

    With ``channel`` (a claim before sending), only while the account may still be contacted on
    it: status active, or promised with a promise dated before ``promise_cutoff`` (its grace
    is over), not closed for contact, the channel not opted out, and no payment recorded since the reminder was planned
    (``planned_at``). That makes the claim the send-time guard against a payment, a promise or an
    opt-out recorded a moment before.
    """
    names = {"#v": "contact_version", "#rev": REV}
    values: dict[str, Any] = {":log": {"L": [{"S": e} for e in log]}, ":next": {"N": str(seen_version + 1)},
                              ":one": {"N": "1"}}
    if seen_version:
        condition = "attribute_exists(account_id) AND #v = :seen"
        values[":seen"] = {"N": str(seen_version)}
    else:
        condition = "attribute_exists(account_id) AND attribute_not_exists(#v)"
    if channel is not None:
        condition += (" AND (#st = :active OR (#st = :promised AND #pd < :cutoff))"
                      " AND NOT contains(#oo, :ch) AND NOT contains(#oo, :all) AND attribute_not_exists(contact_closed)")
        names.update({"#st": "status", "#oo": "opted_out_channels", "#pd": "promise_date"})
        values.update({":active": {"S": "active"}, ":promised": {"S": "promised"}, ":ch": {"S": channel},
                       ":all": {"S": "all"}, ":cutoff": {"S": promise_cutoff or "0000-00-00"}})
    if channel is not None and planned_at:
        condition += " AND (attribute_not_exists(#paid) OR #paid < :planned)"
        names["#paid"] = "payment_recorded_at"
        values[":planned"] = {"S": planned_at}
    try:
        aws.client("dynamodb").update_item(
            TableName=get_settings().accounts_table, Key=wire_key(tenant_id, account_id),
            UpdateExpression="SET contact_log = :log, #v = :next ADD #rev :one", ConditionExpression=condition,
            ExpressionAttributeNames=names, ExpressionAttributeValues=values,
        )
    except aws.client("dynamodb").exceptions.ConditionalCheckFailedException:
        return False
    return True
