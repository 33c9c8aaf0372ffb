"""The campaign's nights (SPEC §10), one item per tenant and night in NightsTable.

Keys: (tenant_id, night), night = the tenant's local date. The item holds how many parts the
night was cut into (``parts_total``), each part's counts under ``parts.<n>`` (the first finish of
a part counts; a redelivered part adds nothing) with ``parts_done``, and, once the last part ended,
``status`` done with the night's ``summary``. The parts themselves travel on NightQueue.
"""
from __future__ import annotations

from typing import Any, Mapping

from ..accounts.store import from_wire, to_wire, wire_value
from ..core import aws, queues
from ..core.settings import get_settings


def _table() -> str:
    return get_settings().nights_table


def _key(tenant_id: str, night: str) -> dict[str, Any]:
    return {"tenant_id": {"S": tenant_id}, "night": {"S": night}}


def start(tenant_id: str, night: str, parts: int, started_at: str, event_time: str, replay: bool = False) -> bool:
    """Records that the tenant's night starts in ``parts`` parts, ``queuing`` until they are all
    on the queue (``mark_queued``); False if it already started. A ``replay`` starts it again
    from no part done, keeping the summary of the run before as ``previous_summary``."""
    client = aws.client("dynamodb")
    if replay:
        client.update_item(
            TableName=_table(), Key=_key(tenant_id, night),
            UpdateExpression="SET previous_summary = if_not_exists(summary, :empty), parts = :empty, parts_done = :zero, "
                             "parts_total = :n, #st = :queuing, started_at = :at, event_time = :ev REMOVE summary, finished_at",
            ExpressionAttributeNames={"#st": "status"},
            ExpressionAttributeValues={":empty": {"M": {}}, ":zero": {"N": "0"}, ":n": {"N": str(parts)},
                                       ":queuing": {"S": "queuing"}, ":at": {"S": started_at}, ":ev": {"S": event_time}})
        return True
    item = to_wire({"tenant_id": tenant_id, "night": night, "parts_total": parts, "parts_done": 0,
                    "status": "queuing", "started_at": started_at, "event_time": event_time})
    item["parts"] = {"M": {}}
    try:
        client.put_item(TableName=_table(), Item=item, ConditionExpression="attribute_not_exists(night)")
    except client.exceptions.ConditionalCheckFailedException:
        return False
    return True


def mark_queued(tenant_id: str, night: str) -> None:
    """Every part of the night is on the queue: the night is ``running`` (unless it already ended)."""
    client = aws.client("dynamodb")
    try:
        client.update_item(TableName=_table(), Key=_key(tenant_id, night), UpdateExpression="SET #st = :running",
                           ConditionExpression="#st = :queuing", ExpressionAttributeNames={"#st": "status"},
                           ExpressionAttributeValues={":running": {"S": "running"}, ":queuing": {"S": "queuing"}})
    except client.exceptions.ConditionalCheckFailedException:
        pass


def queue_parts(messages: list[dict[str, Any]]) -> None:
    url = get_settings().night_queue_url
    if not url:
        raise RuntimeError("NIGHT_QUEUE_URL is not set: the night's parts have no queue")
    queues.send_messages(url, messages)


def record_part(tenant_id: str, night: str, part: int, counts: Mapping[str, Any]) -> int | None:
    """Adds a part's counts to its night; how many parts are recorded now, or None when this part
    was already recorded (a redelivery) or the night is unknown. (Only the count comes back: the
    night's record grows with its parts, and every part reading all of it would cost the square.)"""
    client = aws.client("dynamodb")
    try:
        response = client.update_item(
            TableName=_table(), Key=_key(tenant_id, night),
            UpdateExpression="SET parts.#p = :counts ADD parts_done :one",
            ConditionExpression="attribute_exists(night) AND attribute_not_exists(parts.#p)",
            ExpressionAttributeNames={"#p": str(part)},
            ExpressionAttributeValues={":counts": wire_value(dict(counts)), ":one": {"N": "1"}},
            ReturnValues="UPDATED_NEW")
    except client.exceptions.ConditionalCheckFailedException:
        return None
    return int(response["Attributes"]["parts_done"]["N"])


def part_state(tenant_id: str, night: str, part: int) -> dict[str, Any] | None:
    """What a part needs to know of its night, without the other parts' counts: ``status``,
    ``parts_done``, ``parts_total`` and whether this part is ``recorded``; None if no such night."""
    response = aws.client("dynamodb").get_item(
        TableName=_table(), Key=_key(tenant_id, night), ConsistentRead=True,
        ProjectionExpression="#st, parts_done, parts_total, parts.#p",
        ExpressionAttributeNames={"#st": "status", "#p": str(part)})
    if "Item" not in response:
        return None
    item = from_wire(response["Item"])
    return {"status": item.get("status"), "parts_done": int(item.get("parts_done", 0)),
            "parts_total": int(item.get("parts_total", 0)), "recorded": str(part) in item.get("parts", {})}


def finish(tenant_id: str, night: str, summary: Mapping[str, Any], finished_at: str) -> bool:
    """Ends the night with its summary; False when another part already did."""
    client = aws.client("dynamodb")
    try:
        client.update_item(
            TableName=_table(), Key=_key(tenant_id, night),
            UpdateExpression="SET #st = :done, summary = :summary, finished_at = :at",
            ConditionExpression="#st IN (:running, :queuing)", ExpressionAttributeNames={"#st": "status"},
            ExpressionAttributeValues={":done": {"S": "done"}, ":running": {"S": "running"}, ":queuing": {"S": "queuing"},
                                       ":summary": wire_value(dict(summary)), ":at": {"S": finished_at}})
    except client.exceptions.ConditionalCheckFailedException:
        return False
    return True


def get_night(tenant_id: str, night: str) -> dict[str, Any] | None:
    response = aws.client("dynamodb").get_item(TableName=_table(), Key=_key(tenant_id, night), ConsistentRead=True)
    return from_wire(response["Item"]) if "Item" in response else None
