"""Field-visit tasks (SPEC §6), one item per visit in the visits table.

Keys: (tenant_id, visit_id). Three indexes serve the lists: ``agent-index`` (an agent's day:
``agent_key`` = ``<tenant>#<agent>``), ``status-index`` (``status_key`` = ``<tenant>#<status>``)
and ``date-index`` (the tenant's visits of a day); all sort by ``scheduled_on``.

A visit carries a snapshot of its account taken when it was created (name, address,
coordinates, balance): enough to verify and report a result without reading the account. The
result transaction re-checks the snapshot's coordinates against the account, so a stale snapshot
costs a retry, never a wrong verification.

This module builds every item of the check-in and result transactions that is not the agent's
(``agents.visit_fix_update``), the timeline's (``accounts.timeline.visit_entry_put``) or an alarm
(``accounts.alarms.alarm_put``): the visit's update, the account's update and the revisit task;
``write_together`` sends them in one TransactWriteItems. It also holds the visit's email claim and
the email itself (SES), the last I/O of the visit results.
"""
from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Collection, Iterable, Mapping

from botocore.exceptions import ClientError

from ..accounts import status as account_status
from ..accounts import store as accounts_store
from ..accounts.store import from_wire, owned_start, to_wire, wire_value
from ..core import aws, transactions
from ..core.settings import get_settings
from . import agents

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


def sla_alarm_update(tenant_id: str, visit_id: str, alarm_id: str) -> dict[str, Any]:
    """The transaction item that marks an open visit as alarmed past its SLA (``sla_alarm_id``,
    once: a visit is overdue once) together with the alarm."""
    return {"Update": {"TableName": _table(), "Key": key(tenant_id, visit_id), "UpdateExpression": "SET sla_alarm_id = :alarm",
                       "ConditionExpression": "attribute_not_exists(sla_alarm_id) AND #st IN (:a, :c, :u)",
                       "ExpressionAttributeNames": {"#st": "status"},
                       "ExpressionAttributeValues": {":alarm": {"S": alarm_id}, ":a": {"S": "assigned"},
                                                     ":c": {"S": "checked_in"}, ":u": {"S": "unassigned"}}}}


def list_open_before(tenant_id: str, status: str, before: str) -> list[dict[str, Any]]:
    """Every visit of ``status`` scheduled before the day ``before`` (status-index, every page)."""
    return _query_all({"IndexName": "status-index", "KeyConditionExpression": "status_key = :k AND scheduled_on < :d",
                       "ExpressionAttributeValues": {":k": {"S": f"{tenant_id}#{status}"}, ":d": {"S": before}}})


def list_with_status(tenant_id: str, status: str) -> list[dict[str, Any]]:
    """Every visit of ``status`` (status-index, every page): the unassigned ones, hourly."""
    return _query_all({"IndexName": "status-index", "KeyConditionExpression": "status_key = :k",
                       "ExpressionAttributeValues": {":k": {"S": f"{tenant_id}#{status}"}}})


def _query_all(kwargs: dict[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs = {"TableName": _table(), **kwargs}
    while True:
        page = aws.client("dynamodb").query(**kwargs)
        items.extend(from_wire(i) for i in page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def cancel_open(tenant_id: str, visit_id: str, reason: str, at: str) -> tuple[bool, str | None]:
    """Cancels a task nobody has checked in to yet (``reason``: why): whether it did (False when
    it is no longer assigned or unassigned), and the ``visit_overdue`` alarm it carried."""
    try:
        response = aws.client("dynamodb").update_item(
            TableName=_table(), Key=key(tenant_id, visit_id),
            UpdateExpression="SET #st = :cancelled, status_key = :sk, cancel_reason = :r, cancelled_at = :at",
            ConditionExpression="#st IN (:assigned, :unassigned)", ExpressionAttributeNames={"#st": "status"},
            ExpressionAttributeValues={":cancelled": {"S": "cancelled"}, ":sk": {"S": f"{tenant_id}#cancelled"},
                                       ":r": {"S": reason}, ":at": {"S": at}, ":assigned": {"S": "assigned"},
                                       ":unassigned": {"S": "unassigned"}},
            ReturnValues="ALL_OLD",
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False, None
        raise
    alarm = response.get("Attributes", {}).get("sla_alarm_id")
    return True, str(alarm["S"]) if alarm else None


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


# one TransactWriteItems for several stores: core.transactions
WriteConflict = transactions.WriteConflict
write_together = transactions.write_together


# ---------------------------------------------------------------- reads of the check-in and the result
def _first(items: list[dict[str, Any]]) -> dict[str, Any] | None:
    return items[0] if items else None


def read_visit_and_agent(tenant_id: str, visit_id: str, agent_id: str,
                         account_id: str | None = None) -> tuple[dict[str, Any] | None, dict[str, Any] | None, dict[str, Any] | None]:
    """The visit, the agent and (with ``account_id``) the account, in one strongly consistent
    BatchGetItem; None for any that does not exist."""
    settings = get_settings()
    keys: dict[str, list[dict[str, Any]]] = {
        settings.visits_table: [key(tenant_id, visit_id)],
        settings.agents_table: [agents.item_key(tenant_id, agent_id)],
    }
    if account_id is not None:
        keys[settings.accounts_table] = [accounts_store.wire_key(tenant_id, account_id)]
    found = accounts_store.batch_get(keys)
    return (_first(found[settings.visits_table]), _first(found[settings.agents_table]),
            _first(found.get(settings.accounts_table) or []))


def accounts_by_id(tenant_id: str, account_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The tenant's accounts of ``account_ids`` that exist, by id (one BatchGetItem per 100)."""
    table = get_settings().accounts_table
    found: dict[str, dict[str, Any]] = {}
    ids = sorted(account_ids)
    for i in range(0, len(ids), 100):
        keys = [accounts_store.wire_key(tenant_id, a) for a in ids[i:i + 100]]
        found.update({item["account_id"]: item for item in accounts_store.batch_get({table: keys})[table]})
    return found


# ---------------------------------------------------------------- items of the check-in and result transactions
_OPEN_FOR_AGENT = "agent_id = :me AND #st IN (:a, :ci)"


def _open_values(agent_id: str) -> dict[str, Any]:
    return {":me": wire_value(agent_id), ":a": wire_value("assigned"), ":ci": wire_value("checked_in")}


def checkin_update(tenant_id: str, visit_id: str, agent_id: str, checkin: Mapping[str, Any], status: str) -> dict[str, Any]:
    """The check-in on the visit and its (new) status, while the visit is the agent's and open."""
    index = index_fields(tenant_id, status, agent_id)
    return {"Update": {
        "TableName": _table(), "Key": key(tenant_id, visit_id),
        "UpdateExpression": "SET checkin = :c, #st = :st, status_key = :sk",
        "ConditionExpression": _OPEN_FOR_AGENT,
        "ExpressionAttributeNames": {"#st": "status"},
        "ExpressionAttributeValues": {":c": wire_value(checkin), ":st": wire_value(status),
                                      ":sk": wire_value(index["status_key"]), **_open_values(agent_id)},
    }}


def stored_answer(visit: Mapping[str, Any]) -> Any:
    """The answer stored with the visit's result (what a replay of it gets)."""
    return json.loads(visit["result_response"])


def result_update(tenant_id: str, visit_id: str, agent_id: str, *, status: str, outcome: str, result: Mapping[str, Any],
                  idempotency_key: str, digest: str, answer: Mapping[str, Any], completed_at: str,
                  revisit_visit_id: str | None) -> dict[str, Any]:
    """The visit's result, status and stored answer (with the idempotency key and the body's
    digest, for replays), on a visit still the agent's, open and without a result."""
    index = index_fields(tenant_id, status, agent_id)
    return {"Update": {
        "TableName": _table(), "Key": key(tenant_id, visit_id),
        "UpdateExpression": "SET #st = :st, status_key = :sk, #r = :r, result_key = :k, result_hash = :h, "
                            "result_response = :resp, completed_at = :now, outcome = :o"
                            + (", revisit_visit_id = :rv" if revisit_visit_id else ""),
        "ConditionExpression": _OPEN_FOR_AGENT + " AND attribute_not_exists(result_key)",
        "ExpressionAttributeNames": {"#st": "status", "#r": "result"},
        "ExpressionAttributeValues": {
            ":st": wire_value(status), ":sk": wire_value(index["status_key"]), ":r": {"M": to_wire(result)},
            ":k": wire_value(idempotency_key), ":h": wire_value(digest),
            ":resp": wire_value(json.dumps(answer, separators=(",", ":"))), ":now": wire_value(completed_at),
            ":o": wire_value(outcome), **_open_values(agent_id),
            **({":rv": wire_value(revisit_visit_id)} if revisit_visit_id else {}),
        },
    }}


def new_task_put(task: Mapping[str, Any]) -> dict[str, Any]:
    """A new visit task (a revisit), refused if a task with its id exists."""
    return {"Put": {"TableName": _table(), "Item": to_wire(task), "ConditionExpression": "attribute_not_exists(visit_id)"}}


def _number(value: float) -> dict[str, Any]:
    return wire_value(Decimal(str(value)))


def _snapshot_conditions(captured_at: str, new_status: str | None, blocked: Collection[str],
                         values: dict[str, Any]) -> list[str]:
    """What the visit's snapshot assumed of the account: no later visit applied, and a status the
    new one may replace (not one of ``blocked``)."""
    conditions = ["(attribute_not_exists(last_visit_at) OR last_visit_at <= :cap)"]
    values[":cap"] = wire_value(captured_at)
    if new_status:
        ordered = sorted(blocked)
        values.update({f":b{i}": wire_value(s) for i, s in enumerate(ordered)})
        conditions.append("NOT #st IN (" + ", ".join(f":b{i}" for i in range(len(ordered))) + ")")
    return conditions


def _seen_conditions(seen: Mapping[str, Any], values: dict[str, Any]) -> list[str]:
    """That the account read is still as read: the same last visit and status."""
    conditions = []
    if seen.get("last_visit_at"):
        conditions.append("last_visit_at = :seen_visit")
        values[":seen_visit"] = wire_value(seen["last_visit_at"])
    else:
        conditions.append("attribute_not_exists(last_visit_at)")
    conditions.append("#st = :seen_status")
    values[":seen_status"] = wire_value(account_status.of(seen))
    return conditions


def _result_sets(captured_at: str, outcome: str, superseded: bool, new_status: str | None,
                 promise: Mapping[str, Any] | None, geo_reference: tuple[Decimal, Decimal] | None,
                 values: dict[str, Any]) -> list[str]:
    """What a result changes on the account: its last visit (unless a later one was applied), its
    status, the promise it keeps (given only when the account becomes promised), and its
    coordinates when the visit gives its geo reference."""
    sets = []
    if not superseded:
        sets += ["last_visit_at = :cap", "last_visit_outcome = :o"]
        values[":cap"], values[":o"] = wire_value(captured_at), wire_value(outcome)
    if new_status:
        sets.append("#st = :new")
        values[":new"] = wire_value(new_status)
    if promise:
        sets += ["promise_date = :pd", "promise_amount = :pa", "promise_paid = :pp"]  # a new promise: nothing paid toward it yet
        values[":pd"], values[":pa"] = wire_value(promise["date"]), wire_value(promise["amount"])
        values[":pp"] = {"N": "0"}
    if geo_reference:
        sets += ["lat = :glat", "lon = :glon", "geo_source = :gs"]
        values.update({":glat": wire_value(geo_reference[0]), ":glon": wire_value(geo_reference[1]),
                       ":gs": wire_value("visit")})
    return sets


def account_result_update(tenant_id: str, account_id: str, *, target: tuple[float, float] | None, seen: Mapping[str, Any] | None,
                          blocked: Collection[str], captured_at: str, outcome: str, updated_at: str, superseded: bool,
                          new_status: str | None, promise: Mapping[str, Any] | None,
                          geo_reference: tuple[Decimal, Decimal] | None) -> dict[str, Any]:
    """A visit result on its account, on the condition that the account is what the result was
    decided from: the ``target`` coordinates (None: none), and either the visit's snapshot
    (``seen`` None: no later visit applied, a status not in ``blocked``) or the account ``seen``
    (read again after such a condition failed: unchanged since). ``promise`` is the one the account
    keeps (None unless it becomes promised)."""
    values: dict[str, Any] = {":now": wire_value(updated_at)}
    conditions = ["attribute_exists(account_id)"]
    if target is None:
        conditions.append("attribute_not_exists(lat)")
    else:
        conditions.append("lat = :tlat AND lon = :tlon")
        values[":tlat"], values[":tlon"] = _number(target[0]), _number(target[1])
    if seen is None:
        conditions += _snapshot_conditions(captured_at, new_status, blocked, values)
    else:
        conditions += _seen_conditions(seen, values)
    sets = ["updated_at = :now"] + _result_sets(captured_at, outcome, superseded, new_status, promise, geo_reference, values)
    if new_status:  # the accounts list's status index follows (accounts.store.LIST_INDEXES)
        sets.append("by_status = :bys")
        values[":bys"] = wire_value(accounts_store.list_keys(tenant_id, account_id, {"status": new_status})["by_status"])
    values[":one"] = {"N": "1"}
    names = {"#rev": accounts_store.REV}
    if any("#st" in part for part in sets + conditions):
        names["#st"] = "status"
    return {"Update": {  # like every account writer, one more on the revision (accounts.store)
        "TableName": get_settings().accounts_table, "Key": accounts_store.wire_key(tenant_id, account_id),
        "UpdateExpression": "SET " + ", ".join(sets) + " ADD #rev :one", "ConditionExpression": " AND ".join(conditions),
        "ExpressionAttributeNames": names, "ExpressionAttributeValues": values,
    }}


# ---------------------------------------------------------------- photos and the tenant's email
def add_photo(tenant_id: str, visit_id: str, photo_key: str) -> bool:
    """Records an uploaded photo on its visit; False when there is no such visit."""
    try:
        aws.client("dynamodb").update_item(
            TableName=_table(), Key=key(tenant_id, visit_id),
            UpdateExpression="ADD photos :k", ConditionExpression="attribute_exists(visit_id)",
            ExpressionAttributeValues={":k": {"SS": [photo_key]}},
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


def claim_notification(tenant_id: str, visit_id: str, at: str) -> bool:
    """Marks the visit's result as being emailed (``notified_at``); False when it already was."""
    try:
        aws.client("dynamodb").update_item(
            TableName=_table(), Key=key(tenant_id, visit_id),
            UpdateExpression="SET notified_at = :now", ConditionExpression="attribute_exists(visit_id) AND attribute_not_exists(notified_at)",
            ExpressionAttributeValues={":now": {"S": at}},
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


def release_notification(tenant_id: str, visit_id: str) -> None:
    """Gives the claim back (the email was not sent), so a redelivery sends it."""
    aws.client("dynamodb").update_item(TableName=_table(), Key=key(tenant_id, visit_id), UpdateExpression="REMOVE notified_at")
