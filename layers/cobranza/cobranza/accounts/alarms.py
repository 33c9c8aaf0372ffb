"""Business alarms (SPEC §8): one item per tenant and alarm in the alarms table, raised once per cause.

An alarm's id is ``<day raised>.<code>.<digest of code and subject>``: deterministic (the same
cause raised again the same day names the same item, so a conditional put raises it once) and
URL-safe (``POST /v1/alarms/{alarm_id}/ack``). What it is about is its ``subject``
(``upload#<id>``, ``account#<id>...``, ``visit#<id>``, ``agent#<id>#<last seen>``), with the
``account_id``, ``visit_id`` or ``agent_id`` it names as attributes of their own.

Lists read indexes, newest first, never the table: ``raised-index`` (all of a tenant's alarms),
``status-index`` (``<tenant>#<status>``), ``code-index`` (``<tenant>#<code>``) and
``status-code-index`` (``<tenant>#<status>#<code>``), each sorted by ``raised_at``. A change of
status rewrites the keys that hold it in the same update.

Status: ``open`` -> ``acknowledged`` (a person saw it) and either -> ``resolved`` (the cause went
away: a visit done, an agent pinging again, a later promise kept). An urgent alarm's email is
claimed with ``emailed_at`` before it is sent, so a redelivered stream record sends nothing twice.
"""
from __future__ import annotations

import hashlib
from typing import Any, Mapping

from botocore.exceptions import BotoCoreError, ClientError

from ..core import aws
from ..core.observability import logger, metrics
from ..core.settings import get_settings
from ..core.tables import AlarmModel, bind_models
from .store import from_wire, to_wire

STATUSES = ("open", "acknowledged", "resolved")
#: Index and hash key of each combination of list filters (status, code).
_INDEXES = {(False, False): ("raised-index", "tenant_id"), (True, False): ("status-index", "status_key"),
            (False, True): ("code-index", "code_key"), (True, True): ("status-code-index", "status_code_key")}


def _table() -> str:
    return get_settings().alarms_table


def alarm_id(raised_at: str, code: str, subject: str) -> str:
    """An alarm's id: the day it was raised, its code and a digest of its cause (one a cause a day)."""
    digest = hashlib.sha256(f"{code}#{subject}".encode()).hexdigest()[:16]
    return f"{raised_at[:10]}.{code}.{digest}"


def status_keys(tenant_id: str, status: str, code: str) -> dict[str, str]:
    """The index keys that follow from an alarm's status."""
    return {"status": status, "status_key": f"{tenant_id}#{status}", "status_code_key": f"{tenant_id}#{status}#{code}"}


def alarm_item(tenant_id: str, code: str, subject: str, message: str, raised_at: str,
               details: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A new open alarm as a plain item (``details``: the ``account_id``, ``visit_id``... it names)."""
    return {"tenant_id": tenant_id, "alarm_id": alarm_id(raised_at, code, subject), "code": code, "subject": subject,
            "message": message, "raised_at": raised_at, "code_key": f"{tenant_id}#{code}",
            **status_keys(tenant_id, "open", code), **(details or {})}


def raise_alarm(tenant_id: str, code: str, subject: str, message: str, raised_at: str,
                details: Mapping[str, Any] | None = None) -> bool:
    """Stores the alarm unless the same code was already raised for the subject that day; True if new."""
    try:
        aws.client("dynamodb").put_item(TableName=_table(), Item=to_wire(alarm_item(
            tenant_id, code, subject, message, raised_at, details)), ConditionExpression="attribute_not_exists(alarm_id)")
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


def alarm_put(tenant_id: str, code: str, subject: str, message: str, raised_at: str,
              details: Mapping[str, Any] | None = None, *, new_only: bool = False) -> dict[str, Any]:
    """The transaction item that raises an open alarm together with other writes (a visit's
    result, a broken promise); ``details`` are extra attributes (its ``visit_id``). With
    ``new_only`` the transaction fails if the alarm already exists."""
    put: dict[str, Any] = {"TableName": _table(), "Item": to_wire(alarm_item(tenant_id, code, subject, message,
                                                                             raised_at, details))}
    if new_only:
        put["ConditionExpression"] = "attribute_not_exists(alarm_id)"
    return {"Put": put}


def _key(tenant_id: str, alarm_id_: str) -> dict[str, Any]:
    return {"tenant_id": {"S": tenant_id}, "alarm_id": {"S": alarm_id_}}


def get_alarm(tenant_id: str, alarm_id_: str) -> dict[str, Any] | None:
    response = aws.client("dynamodb").get_item(TableName=_table(), Key=_key(tenant_id, alarm_id_), ConsistentRead=True)
    return from_wire(response["Item"]) if "Item" in response else None


def list_page(tenant_id: str, *, status: str | None, code: str | None, since: str | None, limit: int,
              start: Mapping[str, Any] | None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """A page of the tenant's alarms, newest first, through the index the filters name; and the
    key the next page starts after (None at the end)."""
    index, hash_name = _INDEXES[(status is not None, code is not None)]
    hash_value = {"tenant_id": tenant_id, "status_key": f"{tenant_id}#{status}", "code_key": f"{tenant_id}#{code}",
                  "status_code_key": f"{tenant_id}#{status}#{code}"}[hash_name]
    condition = "#h = :h" + (" AND raised_at >= :since" if since else "")
    values: dict[str, Any] = {":h": {"S": hash_value}}
    if since:
        values[":since"] = {"S": since}
    kwargs: dict[str, Any] = {"TableName": _table(), "IndexName": index, "KeyConditionExpression": condition,
                              "ExpressionAttributeNames": {"#h": hash_name}, "ExpressionAttributeValues": values,
                              "ScanIndexForward": False, "Limit": limit}
    if start:
        kwargs["ExclusiveStartKey"] = start
    response = aws.client("dynamodb").query(**kwargs)
    return [from_wire(item) for item in response.get("Items", [])], response.get("LastEvaluatedKey")


def _change_status(tenant_id: str, alarm_id_: str, code: str, status: str, sets: Mapping[str, Any],
                   allowed_from: tuple[str, ...]) -> dict[str, Any] | None:
    """Moves an alarm to ``status`` (with ``sets``) if it is in one of ``allowed_from``; the item
    after the change, or None when it was not in those statuses (or does not exist)."""
    fields = {**status_keys(tenant_id, status, code), **sets}
    names = {f"#f{i}": name for i, name in enumerate(fields)}
    values = {f":v{i}": {"S": str(value)} for i, value in enumerate(fields.values())}
    values.update({f":from{i}": {"S": s} for i, s in enumerate(allowed_from)})
    names["#st"] = "status"
    try:
        response = aws.client("dynamodb").update_item(
            TableName=_table(), Key=_key(tenant_id, alarm_id_),
            UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields))),
            ConditionExpression="attribute_exists(alarm_id) AND (#st IN (" +
                                ", ".join(f":from{i}" for i in range(len(allowed_from))) + ")" +
                                (" OR attribute_not_exists(#st))" if "open" in allowed_from else ")"),
            ExpressionAttributeNames=names, ExpressionAttributeValues=values, ReturnValues="ALL_NEW")
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return None
        raise
    return from_wire(response["Attributes"])


def backfill_keys(tenant_id: str) -> dict[str, int]:
    """Gives the tenant's alarms stored before the list indexes their status and keys (open),
    so every list finds them (``python -m infra.admin alarms reindex``); safe to run again."""
    client, read, updated = aws.client("dynamodb"), 0, 0
    kwargs: dict[str, Any] = {"TableName": _table(), "KeyConditionExpression": "tenant_id = :t",
                              "ExpressionAttributeValues": {":t": {"S": tenant_id}}}
    while True:
        page = client.query(**kwargs)
        for item in (from_wire(i) for i in page.get("Items", [])):
            read += 1
            if item.get("code") and not item.get("status_key"):
                status = item.get("status") or "open"
                fields = {**status_keys(tenant_id, status, item["code"]), "code_key": f"{tenant_id}#{item['code']}"}
                names = {f"#f{i}": name for i, name in enumerate(fields)}
                values = {f":v{i}": {"S": value} for i, value in enumerate(fields.values())}
                client.update_item(TableName=_table(), Key=_key(tenant_id, item["alarm_id"]),
                                   UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields))),
                                   ExpressionAttributeNames=names, ExpressionAttributeValues=values)
                updated += 1
        if "LastEvaluatedKey" not in page:
            return {"alarms_read": read, "alarms_reindexed": updated}
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def acknowledge(tenant_id: str, alarm: Mapping[str, Any], by: str, at: str) -> dict[str, Any] | None:
    """Marks an open alarm acknowledged (by whom, when); None when it was not open any more."""
    return _change_status(tenant_id, alarm["alarm_id"], alarm["code"], "acknowledged",
                          {"acknowledged_at": at, "acknowledged_by": by}, ("open",))


def resolve(tenant_id: str, alarm_id_: str, code: str, reason: str, at: str) -> bool:
    """Resolves an open or acknowledged alarm (its cause went away); False if it was not. Best
    effort: it follows an event already stored (a ping, a payment, a cancelled visit), which a
    failure here must not fail; the alarm then stays open for a person to close."""
    try:
        return _change_status(tenant_id, alarm_id_, code, "resolved", {"resolved_at": at, "resolution": reason},
                              ("open", "acknowledged")) is not None
    except (ClientError, BotoCoreError) as exc:
        logger.warning("alarm not resolved", extra={"alarm_id": alarm_id_, "error": type(exc).__name__})
        metrics.add_metric(name="AlarmResolutionsFailed", unit="Count", value=1)
        return False


def claim_email(tenant_id: str, alarm_id_: str, at: str) -> bool:
    """Claims the alarm's urgent email (``emailed_at``); False when it was already claimed."""
    try:
        aws.client("dynamodb").update_item(
            TableName=_table(), Key=_key(tenant_id, alarm_id_), UpdateExpression="SET emailed_at = :at",
            ConditionExpression="attribute_exists(alarm_id) AND attribute_not_exists(emailed_at)",
            ExpressionAttributeValues={":at": {"S": at}})
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


def release_email(tenant_id: str, alarm_id_: str) -> None:
    """Gives the claim back after a failed send, so the redelivered record sends it."""
    aws.client("dynamodb").update_item(TableName=_table(), Key=_key(tenant_id, alarm_id_),
                                       UpdateExpression="REMOVE emailed_at")


def open_alarms(tenant_id: str, limit: int = 1000) -> list[dict[str, Any]]:
    """The tenant's open alarms, newest first (the digest), up to ``limit``."""
    items, _ = list_page(tenant_id, status="open", code=None, since=None, limit=limit, start=None)
    return items


def list_alarms(tenant_id: str, limit: int = 100) -> list[AlarmModel]:
    bind_models()
    return list(AlarmModel.query(tenant_id, scan_index_forward=False, limit=limit))
