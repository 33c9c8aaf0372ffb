"""Field-visit tasks (SPEC §6), one item per visit in the visits table.

Keys: (tenant_id, visit_id). Three indexes serve the lists: ``agent-index`` (an agent's day:
``agent_key`` = ``<tenant>#<agent>``), ``status-index`` (``status_key`` = ``<tenant>#<status>``)
and ``date-index`` (the tenant's visits of a day); all sort by ``scheduled_on``.

A visit carries a snapshot of its account taken when it was created (name, address,
coordinates, balance): enough to verify and report a result without reading the account. The
result transaction re-checks the snapshot's coordinates against the account, so a stale snapshot
costs a retry, never a wrong verification.
"""
from __future__ import annotations

from typing import Any, Mapping

from botocore.exceptions import ClientError

from ..accounts.store import from_wire, owned_start, to_wire
from ..core import aws
from ..core.settings import get_settings

OPEN_STATUSES = ("assigned", "checked_in", "unassigned")
STATUSES = ("unassigned", "assigned", "checked_in", "done", "rejected", "cancelled")


def _table() -> str:
    return get_settings().visits_table


def key(tenant_id: str, visit_id: str) -> dict[str, Any]:
    return {"tenant_id": {"S": tenant_id}, "visit_id": {"S": visit_id}}


def index_fields(tenant_id: str, status: str, agent_id: str | None) -> dict[str, Any]:
    """The index attributes that follow from a visit's status and agent."""
    return {"status": status, "status_key": f"{tenant_id}#{status}",
            "agent_id": agent_id, "agent_key": f"{tenant_id}#{agent_id}" if agent_id else None}


def create_task(task: Mapping[str, Any]) -> bool:
    """Stores a new visit task; False when a task with the same id already exists."""
    try:
        aws.client("dynamodb").put_item(TableName=_table(), Item=to_wire(task),
                                        ConditionExpression="attribute_not_exists(visit_id)")
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


def save_assignment(task: Mapping[str, Any]) -> bool:
    """Records the agent an unassigned task was given to; False if it is no longer unassigned."""
    try:
        aws.client("dynamodb").update_item(
            TableName=_table(), Key=key(task["tenant_id"], task["visit_id"]),
            UpdateExpression="SET #st = :st, status_key = :sk, agent_id = :a, agent_key = :ak, assigned_at = :at",
            ConditionExpression="#st = :unassigned", ExpressionAttributeNames={"#st": "status"},
            ExpressionAttributeValues={":st": {"S": task["status"]}, ":sk": {"S": task["status_key"]},
                                       ":a": {"S": task["agent_id"]}, ":ak": {"S": task["agent_key"]},
                                       ":at": {"S": task["assigned_at"]}, ":unassigned": {"S": "unassigned"}},
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


def get_visit(tenant_id: str, visit_id: str) -> dict[str, Any] | None:
    response = aws.client("dynamodb").get_item(TableName=_table(), Key=key(tenant_id, visit_id), ConsistentRead=True)
    return from_wire(response["Item"]) if "Item" in response else None


def list_visits(tenant_id: str, *, status: str | None = None, agent_id: str | None = None, day: str | None = None,
                limit: int = 50, start: Mapping[str, Any] | None = None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """A page of the tenant's visits, by the most selective index the filters allow, and the key
    the next page starts after."""
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    filters: list[str] = []
    kwargs: dict[str, Any] = {"TableName": _table(), "Limit": limit}
    if agent_id:
        kwargs["IndexName"], hash_name, hash_value = "agent-index", "agent_key", f"{tenant_id}#{agent_id}"
        if status:
            names["#st"], values[":st"] = "status", {"S": status}
            filters.append("#st = :st")
    elif status:
        kwargs["IndexName"], hash_name, hash_value = "status-index", "status_key", f"{tenant_id}#{status}"
    elif day:
        kwargs["IndexName"], hash_name, hash_value = "date-index", "tenant_id", tenant_id
    else:
        hash_name, hash_value = "tenant_id", tenant_id
    names["#h"], values[":h"] = hash_name, {"S": hash_value}
    condition = "#h = :h"
    if day:
        names["#d"], values[":d"] = "scheduled_on", {"S": day}
        condition += " AND #d = :d"
    kwargs.update(KeyConditionExpression=condition, ExpressionAttributeNames=names, ExpressionAttributeValues=values)
    if filters:
        kwargs["FilterExpression"] = " AND ".join(filters)
    start = owned_start(start, {hash_name: {"S": hash_value}})
    if start:
        kwargs["ExclusiveStartKey"] = start
    page = aws.client("dynamodb").query(**kwargs)
    return [from_wire(i) for i in page.get("Items", [])], page.get("LastEvaluatedKey")


def agent_day(tenant_id: str, agent_id: str, day: str) -> list[dict[str, Any]]:
    """Every visit of an agent scheduled on ``day`` (at most its capacity: one query)."""
    items, last = list_visits(tenant_id, agent_id=agent_id, day=day, limit=100)
    while last:
        more, last = list_visits(tenant_id, agent_id=agent_id, day=day, limit=100, start=last)
        items.extend(more)
    return items


class WriteConflict(Exception):
    """A transaction was cancelled; ``reasons`` has one code per item ("None" for items that were fine)."""

    def __init__(self, reasons: list[str]):
        super().__init__(", ".join(reasons))
        self.reasons = reasons


def write_together(items: list[dict[str, Any]]) -> None:
    """One TransactWriteItems: every write happens, or none (WriteConflict says which condition failed)."""
    client = aws.client("dynamodb")
    try:
        client.transact_write_items(TransactItems=items)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "TransactionCanceledException":
            raise
        reasons = [r.get("Code", "None") for r in exc.response.get("CancellationReasons") or []]
        if not reasons:  # moto puts them in the message only
            message = exc.response["Error"].get("Message", "")
            inside = message[message.find("[") + 1:message.rfind("]")]
            reasons = [r.strip() for r in inside.split(",")] if inside else []
        raise WriteConflict(reasons) from None
