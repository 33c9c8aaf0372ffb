"""Calls store: the phone team's call tasks and the tenant's call statistics (CallsTable).

- A call task: ``list_key`` ``<tenant_id>#<YYYY-MM-DD>``, ``item_key`` the account id (one task
  per account and day). While it is open it carries ``rank_key`` (its place in the day's list,
  call_rules.priority_key) and, when assigned, ``agent_list_key`` ``<tenant_id>#<day>#<agent>``:
  the two sparse indexes list only open tasks, in order, whatever was closed before.
- The statistics of a segment's calls: ``list_key`` ``<tenant_id>#hours``, ``item_key`` the
  segment, one counter per weekday and hour (``a_<weekday>_<hour>`` attempts,
  ``r_<weekday>_<hour>`` right-party contacts), added to by each outcome (one UpdateItem).
"""
from __future__ import annotations

from datetime import date
from typing import Any, Iterable, Mapping

from ..accounts import store as accounts_store
from ..accounts.store import from_wire, to_wire
from ..core import aws
from ..core.settings import get_settings

OPEN = "open"


def _table() -> str:
    return get_settings().calls_table


def day_key(tenant_id: str, on: date) -> str:
    return f"{tenant_id}#{on.isoformat()}"


def _key(tenant_id: str, on: date, account_id: str) -> dict[str, Any]:
    return {"list_key": {"S": day_key(tenant_id, on)}, "item_key": {"S": account_id}}


def put_task(tenant_id: str, on: date, task: Mapping[str, Any]) -> bool:
    """Stores a new open call task for the account and day; False when the account already has
    that day's task (a rerun of the night, or a callback already planned)."""
    item = {**to_wire({**task, "status": OPEN}), **_key(tenant_id, on, task["account_id"])}
    client = aws.client("dynamodb")
    try:
        client.put_item(TableName=_table(), Item=item, ConditionExpression="attribute_not_exists(item_key)")
    except client.exceptions.ConditionalCheckFailedException:
        return False
    return True


def plan_callback(tenant_id: str, on: date, task: Mapping[str, Any]) -> None:
    """Makes the account's task of ``on`` a callback at ``task["call_at"]`` (created, or the
    day's open task given the debtor's time; a closed task is opened again for it)."""
    fields = {**task, "status": OPEN}
    names = {f"#f{i}": name for i, name in enumerate(fields)}
    values = {f":f{i}": accounts_store.wire_value(value) for i, value in enumerate(fields.values())}
    aws.client("dynamodb").update_item(
        TableName=_table(), Key=_key(tenant_id, on, task["account_id"]),
        UpdateExpression="SET " + ", ".join(f"#f{i} = :f{i}" for i in range(len(fields))),
        ExpressionAttributeNames=names, ExpressionAttributeValues=values)


def get_task(tenant_id: str, on: date, account_id: str) -> dict[str, Any] | None:
    response = aws.client("dynamodb").get_item(TableName=_table(), Key=_key(tenant_id, on, account_id),
                                               ConsistentRead=True)
    return from_wire(response["Item"]) if "Item" in response else None


def close_task(tenant_id: str, on: date, account_id: str, outcome: Mapping[str, Any]) -> bool:
    """Closes the open task with the outcome that ended it (its result, when, the entry id); it
    leaves the list indexes. False when there is no such open task."""
    client = aws.client("dynamodb")
    values = {":open": {"S": OPEN}, ":closed": {"S": "closed"},
              ":outcome": accounts_store.wire_value(dict(outcome))}
    try:
        client.update_item(
            TableName=_table(), Key=_key(tenant_id, on, account_id),
            UpdateExpression="SET #st = :closed, outcome = :outcome REMOVE rank_key, agent_list_key",
            ConditionExpression="#st = :open", ExpressionAttributeNames={"#st": "status"},
            ExpressionAttributeValues=values)
    except client.exceptions.ConditionalCheckFailedException:
        return False
    return True


def list_open(tenant_id: str, on: date, agent: str | None, limit: int,
              start: Mapping[str, Any] | None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """One page of the day's open tasks in priority order (an agent's, with ``agent``), and the
    key to continue from (None at the end)."""
    if agent is None:
        index, condition, key = "rank-index", "list_key = :k", day_key(tenant_id, on)
    else:
        index, condition, key = "agent-index", "agent_list_key = :k", f"{day_key(tenant_id, on)}#{agent}"
    kwargs: dict[str, Any] = {"TableName": _table(), "IndexName": index, "KeyConditionExpression": condition,
                              "ExpressionAttributeValues": {":k": {"S": key}}, "Limit": limit}
    if start:
        kwargs["ExclusiveStartKey"] = to_wire(start)
    page = aws.client("dynamodb").query(**kwargs)
    last = page.get("LastEvaluatedKey")
    return [from_wire(item) for item in page.get("Items", [])], from_wire(last) if last else None


# ---------------------------------------------------------------- statistics
def _stats_key(tenant_id: str, segment: str) -> dict[str, Any]:
    return {"list_key": {"S": f"{tenant_id}#hours"}, "item_key": {"S": segment}}


def count_call(tenant_id: str, segment: str, slot: str, right_party: bool) -> None:
    """One more call attempt in the segment's weekday-hour ``slot`` (and right-party contact)."""
    names = {"#a": f"a_{slot}"}
    update = "ADD #a :one"
    if right_party:
        names["#r"] = f"r_{slot}"
        update += ", #r :one"
    aws.client("dynamodb").update_item(TableName=_table(), Key=_stats_key(tenant_id, segment),
                                       UpdateExpression=update, ExpressionAttributeNames=names,
                                       ExpressionAttributeValues={":one": {"N": "1"}})


def hour_stats(tenant_id: str, segments: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The call statistics of each segment (one BatchGetItem for a page's segments)."""
    wanted = sorted(set(segments))
    if not wanted:
        return {}
    table = _table()
    found = accounts_store.batch_get({table: [_stats_key(tenant_id, s) for s in wanted]})[table]
    return {item["item_key"]: item for item in found}
