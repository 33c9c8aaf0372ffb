"""An account's timeline: contact attempts, opt-outs, hand-offs, visit tasks (SPEC §7).

One item per entry in the timeline table, keyed by ``<tenant_id>#<account_id>`` (a tenant id
never holds ``#``, so one account's entries can never mix with another tenant's) and an entry
id that starts with the date. A contact attempt's entry id is ``<date>#contact#<step>``: the
same account, step and night always name the same item, which is what makes planning
idempotent.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from botocore.exceptions import ClientError

from ..core import aws
from ..core.settings import get_settings
from .store import batch_get, from_wire, owned_start, to_wire, wire_key


def account_key(tenant_id: str, account_id: str) -> str:
    return f"{tenant_id}#{account_id}"


def attempt_entry_id(on: str, step_id: str) -> str:
    return f"{on}#contact#{step_id}"


def visit_entry_id(captured_at: str, visit_id: str) -> str:
    return f"{captured_at}#visit#{visit_id}"


def _table() -> str:
    return get_settings().timeline_table


def put_new(item: Mapping[str, Any]) -> dict[str, Any] | None:
    """Stores a new entry; when one with the same key exists, returns it untouched instead."""
    try:
        aws.bulk_client("dynamodb").put_item(  # a night puts one per reminder: built here, by code
            TableName=_table(), Item=to_wire(item), ConditionExpression="attribute_not_exists(entry_id)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return from_wire(exc.response.get("Item") or {}) or dict(item)
        raise
    return None


def visit_entry_put(tenant_id: str, account_id: str, visit_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The transaction item that stores a visit result's entry (kind ``visit``) on the account's
    timeline; ``fields`` are the entry's other attributes, ``captured_at`` among them."""
    return {"Put": {"TableName": _table(), "Item": to_wire({
        "account_key": account_key(tenant_id, account_id), "entry_id": visit_entry_id(fields["captured_at"], visit_id),
        "kind": "visit", "tenant_id": tenant_id, "account_id": account_id, "visit_id": visit_id, **fields,
    })}}


def payment_entry_id(paid_at: str, payment_id: str) -> str:
    return f"{paid_at}#payment#{payment_id}"


def payment_entry_put(tenant_id: str, account_id: str, payment_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The transaction item that stores a payment (or a reversal: kind ``payment_reversal``) on
    the account's timeline; ``fields`` are the entry's other attributes, ``paid_at`` among them."""
    kind = "payment_reversal" if fields.get("reverses") else "payment"
    return {"Put": {"TableName": _table(), "Item": to_wire({
        "account_key": account_key(tenant_id, account_id), "entry_id": payment_entry_id(fields["paid_at"], payment_id),
        "kind": kind, "tenant_id": tenant_id, "account_id": account_id, "payment_id": payment_id, **fields,
    })}}


def promise_event_put(tenant_id: str, account_id: str, at: str, kind: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The transaction item that records, on the account's timeline, what became of its promise
    (``kind``: ``promise_kept`` or ``promise_broken``)."""
    return {"Put": {"TableName": _table(), "Item": to_wire({
        "account_key": account_key(tenant_id, account_id), "entry_id": f"{at}#{kind}",
        "kind": kind, "tenant_id": tenant_id, "account_id": account_id, "created_at": at, **fields,
    })}}


def alarm_entry(alarm: Mapping[str, Any]) -> dict[str, Any]:
    """The timeline entry (kind ``alarm``) of an alarm about an account: one per alarm."""
    tenant_id, account_id = alarm["tenant_id"], alarm["account_id"]
    return {"account_key": account_key(tenant_id, account_id), "entry_id": f"{alarm['raised_at']}#alarm#{alarm['alarm_id']}",
            "kind": "alarm", "tenant_id": tenant_id, "account_id": account_id, "alarm_id": alarm["alarm_id"],
            "code": alarm["code"], "created_at": alarm["raised_at"]}


def get_entry(tenant_id: str, account_id: str, entry_id: str) -> dict[str, Any] | None:
    response = aws.client("dynamodb").get_item(
        TableName=_table(), ConsistentRead=True,
        Key={"account_key": {"S": account_key(tenant_id, account_id)}, "entry_id": {"S": entry_id}},
    )
    return from_wire(response["Item"]) if "Item" in response else None


def read_attempt_and_account(tenant_id: str, account_id: str, entry_id: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """An attempt and its account in one strongly consistent BatchGetItem."""
    settings = get_settings()
    found = batch_get({
        settings.timeline_table: [{"account_key": {"S": account_key(tenant_id, account_id)}, "entry_id": {"S": entry_id}}],
        settings.accounts_table: [wire_key(tenant_id, account_id)],
    })
    attempt, account = found[settings.timeline_table], found[settings.accounts_table]
    return (attempt[0] if attempt else None, account[0] if account else None)


def update_entry(tenant_id: str, account_id: str, entry_id: str, fields: Mapping[str, Any],
                 expect_status: Iterable[str] | None = None) -> bool:
    """Sets ``fields`` on an existing entry, only if its status is one of ``expect_status``
    (when given); False when that condition did not hold."""
    names, values, sets = {}, {}, []
    for i, (name, value) in enumerate(fields.items()):
        names[f"#f{i}"] = name
        values[f":v{i}"] = to_wire({"v": value})["v"] if value is not None and value != "" else {"NULL": True}
        sets.append(f"#f{i} = :v{i}")
    condition = "attribute_exists(entry_id)"
    if expect_status is not None:
        allowed = sorted(expect_status)
        names["#status"] = "status"
        for i, status in enumerate(allowed):
            values[f":s{i}"] = {"S": status}
        condition += " AND #status IN (" + ", ".join(f":s{i}" for i in range(len(allowed))) + ")"
    try:
        aws.client("dynamodb").update_item(
            TableName=_table(),
            Key={"account_key": {"S": account_key(tenant_id, account_id)}, "entry_id": {"S": entry_id}},
            UpdateExpression="SET " + ", ".join(sets), ConditionExpression=condition,
            ExpressionAttributeNames=names, ExpressionAttributeValues=values,
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


def list_entries(tenant_id: str, account_id: str, limit: int,
                 start: Mapping[str, Any] | None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """A page of the account's timeline, oldest first, and the key the next page starts after."""
    kwargs: dict[str, Any] = {
        "TableName": _table(),
        "KeyConditionExpression": "account_key = :k",
        "ExpressionAttributeValues": {":k": {"S": account_key(tenant_id, account_id)}},
        "Limit": limit,
    }
    start = owned_start(start, {"account_key": {"S": account_key(tenant_id, account_id)}})
    if start:
        kwargs["ExclusiveStartKey"] = start
    page = aws.client("dynamodb").query(**kwargs)
    return [from_wire(i) for i in page.get("Items", [])], page.get("LastEvaluatedKey")
