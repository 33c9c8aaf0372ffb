"""Field agents of a tenant (SPEC §6): one item per agent, keyed (tenant_id, agent_id).

An agent item holds what assignment, routing and geo-verification need:
- ``zones``, ``home_lat``/``home_lon``, ``capacity``: who covers what, from where, how much a day;
- ``load_<YYYY-MM-DD>``: visits assigned for that day (a top-level counter per day, so a slot is
  taken with one conditional increment; days more than a week old are removed when seen);
- ``position_*``: the last location ping, with battery and when it was received;
- ``fixes``: the agent's recent visit fixes (``captured_at|lat|lon|accuracy|visit_id``, newest 50
  within 8 days), which the speed and repeated-coordinates checks compare against; ``fix_version``
  guards them against two results written at once.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Iterable, Mapping

from botocore.exceptions import ClientError

from ..accounts.store import from_wire, to_wire, wire_value
from ..core import aws
from ..core.instants import utc_stamp
from ..core.settings import get_settings

LOAD_PREFIX = "load_"
DEFAULT_CAPACITY = 12
MAX_FIXES = 50
FIX_WINDOW = timedelta(days=8)


class AgentExists(Exception):
    pass


def agent_key(tenant_id: str, agent_id: str) -> str:
    return f"{tenant_id}#{agent_id}"


def item_key(tenant_id: str, agent_id: str) -> dict[str, Any]:
    return {"tenant_id": {"S": tenant_id}, "agent_id": {"S": agent_id}}


def _table() -> str:
    return get_settings().agents_table


def create_agent(item: Mapping[str, Any]) -> None:
    try:
        aws.client("dynamodb").put_item(TableName=_table(), Item=to_wire(item),
                                        ConditionExpression="attribute_not_exists(agent_id)")
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            raise AgentExists(item["agent_id"]) from None
        raise


def get_agent(tenant_id: str, agent_id: str) -> dict[str, Any] | None:
    response = aws.client("dynamodb").get_item(TableName=_table(), Key=item_key(tenant_id, agent_id), ConsistentRead=True)
    return from_wire(response["Item"]) if "Item" in response else None


def list_agents(tenant_id: str) -> list[dict[str, Any]]:
    """Every agent of the tenant (a tenant has tens or hundreds: one query, a few pages at most)."""
    agents: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": _table(), "KeyConditionExpression": "tenant_id = :t",
                              "ExpressionAttributeValues": {":t": {"S": tenant_id}}}
    while True:
        page = aws.client("dynamodb").query(**kwargs)
        agents.extend(from_wire(i) for i in page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return agents
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def load_field(day: date | str) -> str:
    return LOAD_PREFIX + (day if isinstance(day, str) else day.isoformat())


def load_on(agent: Mapping[str, Any], day: date | str) -> int:
    return int(agent.get(load_field(day)) or 0)


def stale_loads(agent: Mapping[str, Any], day: date) -> list[str]:
    """Load counters of days more than a week before ``day`` (to remove when next written)."""
    oldest = load_field(day - timedelta(days=7))
    return sorted(k for k in agent if k.startswith(LOAD_PREFIX) and k < oldest)


def load_update(agent: Mapping[str, Any], day: date) -> tuple[str, list[str], dict[str, str], dict[str, Any]]:
    """What takes one slot of ``day`` in an update: the SET clause, the REMOVE clauses (stale
    counters), names and values."""
    names = {"#load": load_field(day)}
    removes = []
    for i, name in enumerate(stale_loads(agent, day)):
        names[f"#old{i}"] = name
        removes.append(f"#old{i}")
    return "#load = if_not_exists(#load, :zero) + :one", removes, names, {":zero": {"N": "0"}, ":one": {"N": "1"}}


def reserve_slot(agent: Mapping[str, Any], day: date, capacity: int) -> bool:
    """Takes one of the agent's slots for ``day`` if fewer than ``capacity`` are taken."""
    take, removes, names, values = load_update(agent, day)
    expression = "SET " + take + (" REMOVE " + ", ".join(removes) if removes else "")
    values[":cap"] = {"N": str(capacity)}
    try:
        aws.client("dynamodb").update_item(
            TableName=_table(), Key=item_key(agent["tenant_id"], agent["agent_id"]), UpdateExpression=expression,
            ConditionExpression="attribute_exists(agent_id) AND (attribute_not_exists(#load) OR #load < :cap)",
            ExpressionAttributeNames=names, ExpressionAttributeValues=values,
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


def record_position(tenant_id: str, agent_id: str, position: Mapping[str, Any],
                    received_at: str) -> tuple[bool, str | None]:
    """Stores the agent's newest ping unless a newer one is already stored (the agent's last-seen
    time is updated either way). Returns whether it was the newest, and the id of the
    ``agent_silent`` alarm the ping ends (removed from the agent in the same update), if any."""
    values = {":at": {"S": position["captured_at"]}, ":seen": {"S": received_at},
              ":lat": wire_value(position["lat"]), ":lon": wire_value(position["lon"]),
              ":acc": wire_value(position["accuracy_m"])}
    sets = ["position_at = :at", "position_lat = :lat", "position_lon = :lon", "position_accuracy_m = :acc",
            "last_seen_at = :seen"]
    if position.get("battery_pct") is not None:
        values[":bat"] = wire_value(position["battery_pct"])
        sets.append("position_battery_pct = :bat")
    client = aws.client("dynamodb")
    try:
        response = client.update_item(
            TableName=_table(), Key=item_key(tenant_id, agent_id),
            UpdateExpression="SET " + ", ".join(sets) + " REMOVE silent_alarm_id",
            ConditionExpression="attribute_exists(agent_id) AND (attribute_not_exists(position_at) OR position_at < :at)",
            ExpressionAttributeValues=values, ReturnValues="UPDATED_OLD")
        return True, _silent_alarm(response)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
    response = client.update_item(
        TableName=_table(), Key=item_key(tenant_id, agent_id), UpdateExpression="SET last_seen_at = :seen REMOVE silent_alarm_id",
        ConditionExpression="attribute_exists(agent_id)", ExpressionAttributeValues={":seen": {"S": received_at}},
        ReturnValues="UPDATED_OLD")
    return False, _silent_alarm(response)


def _silent_alarm(response: Mapping[str, Any]) -> str | None:
    old = (response.get("Attributes") or {}).get("silent_alarm_id")
    return str(old["S"]) if old else None


def silent_alarm_update(tenant_id: str, agent_id: str, alarm_id: str, last_seen_at: str) -> dict[str, Any]:
    """The transaction item that marks the agent silent (``silent_alarm_id``) together with the
    alarm, only if no ping arrived since it was read (``last_seen_at`` unchanged)."""
    return {"Update": {"TableName": _table(), "Key": item_key(tenant_id, agent_id),
                       "UpdateExpression": "SET silent_alarm_id = :alarm", "ConditionExpression": "last_seen_at = :seen",
                       "ExpressionAttributeValues": {":alarm": {"S": alarm_id}, ":seen": {"S": last_seen_at}}}}


# ---------------------------------------------------------------- fixes
def encode_fix(captured_at: str, lat: Decimal, lon: Decimal, accuracy_m: Decimal, visit_id: str) -> str:
    return f"{captured_at}|{lat}|{lon}|{accuracy_m}|{visit_id}"


def decode_fix(entry: str) -> tuple[str, Decimal, Decimal, Decimal, str]:
    captured_at, lat, lon, accuracy, visit_id = entry.split("|", 4)
    return captured_at, Decimal(lat), Decimal(lon), Decimal(accuracy), visit_id


def merged_fixes(existing: Iterable[str], new: str, oldest: str) -> list[str]:
    """The agent's fixes with ``new`` added: by capture time, newest ``MAX_FIXES`` since ``oldest``."""
    entries = sorted({e for e in existing if e >= oldest} | {new})
    return entries[-MAX_FIXES:]


def visit_fix_update(agent: Mapping[str, Any], visit_id: str, fix: Mapping[str, Any] | None, now: datetime,
                     revisit_day: date | None = None) -> dict[str, Any]:
    """The transaction item of a check-in or a result on the agent: its fixes with this one
    (``captured_at``, ``lat``, ``lon``, ``accuracy_m``; None for a mock location, which is not a place
    the agent was) under the ``fix_version`` read, and a slot of ``revisit_day`` when the revisit
    stays with this agent."""
    version = int(agent.get("fix_version") or 0)
    names: dict[str, str] = {"#v": "fix_version"}
    values: dict[str, Any] = {":v1": {"N": str(version + 1)}}
    sets = ["#v = :v1"]
    if fix is not None:
        oldest = utc_stamp(now - FIX_WINDOW)
        entry = encode_fix(fix["captured_at"], fix["lat"], fix["lon"], fix["accuracy_m"], visit_id)
        values[":fixes"] = {"L": [{"S": e} for e in merged_fixes(agent.get("fixes") or [], entry, oldest)]}
        sets.append("fixes = :fixes")
    removes: list[str] = []
    if revisit_day is not None:
        take, removes, load_names, load_values = load_update(agent, revisit_day)
        sets.append(take)
        names.update(load_names)
        values.update(load_values)
    expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
    if version:
        condition, values[":v0"] = "attribute_exists(agent_id) AND #v = :v0", {"N": str(version)}
    else:
        condition = "attribute_exists(agent_id) AND attribute_not_exists(#v)"
    return {"Update": {"TableName": _table(), "Key": item_key(agent["tenant_id"], agent["agent_id"]),
                       "UpdateExpression": expression, "ConditionExpression": condition,
                       "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}}
