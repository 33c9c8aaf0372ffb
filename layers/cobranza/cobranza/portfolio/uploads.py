"""Upload records: one per portfolio file, keyed by tenant and upload id."""
from __future__ import annotations

import json
from typing import Any

from pynamodb.exceptions import PutError

from ..core import aws
from ..core.settings import get_settings
from ..core.tables import UploadModel, bind_models


def get_upload(tenant_id: str, upload_id: str) -> UploadModel | None:
    bind_models()
    try:
        return UploadModel.get(tenant_id, upload_id, consistent_read=True)
    except UploadModel.DoesNotExist:
        return None


#: ``watch`` of a processing upload: the hash key of the sparse ``stale-index`` (the few uploads
#: in flight across tenants; a final upload has no ``watch`` and leaves the index).
WATCHED = "processing"
STALE_INDEX = "stale-index"


def claim_upload(tenant_id: str, upload_id: str, key: str, now: str, lease_until: str) -> bool:
    """Marks an upload as processing, held until ``lease_until``, unless it is final (a
    redelivered event) or another invocation holds it now (a duplicate event for the same object
    version). A lease that ran out (the holder timed out or crashed) may be taken over.

    Returns False when the caller must not process the upload."""
    bind_models()
    record = UploadModel(tenant_id, upload_id, key=key, status="processing", created_at=now, updated_at=now,
                         lease_until=lease_until, watch=WATCHED)
    free = UploadModel.upload_id.does_not_exist() | (UploadModel.status == "pending")
    expired = (UploadModel.status == "processing") & (UploadModel.lease_until.does_not_exist()
                                                      | (UploadModel.lease_until < now))
    try:
        record.save(condition=free | expired)
    except PutError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def extend_lease(tenant_id: str, upload_id: str, lease_until: str) -> None:
    """A processing upload's holder (a pipeline part) is still at work until ``lease_until``;
    also ends a lease early (``lease_until`` = now) so a retry may take over at once."""
    try:
        aws.client("dynamodb").update_item(
            TableName=get_settings().uploads_table,
            Key={"tenant_id": {"S": tenant_id}, "upload_id": {"S": upload_id}},
            UpdateExpression="SET lease_until = :until",
            ConditionExpression="#s = :processing",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":until": {"S": lease_until}, ":processing": {"S": "processing"}},
        )
    except aws.client("dynamodb").exceptions.ConditionalCheckFailedException:
        pass  # already final: nothing to hold


def stale_uploads(now: str, limit: int = 100) -> list[dict[str, Any]]:
    """Processing uploads whose lease ran out before ``now`` (oldest first), from the sparse index."""
    page = aws.client("dynamodb").query(
        TableName=get_settings().uploads_table, IndexName=STALE_INDEX, Limit=limit,
        KeyConditionExpression="watch = :w AND lease_until < :now",
        ExpressionAttributeValues={":w": {"S": WATCHED}, ":now": {"S": now}},
    )
    return [{name: item[name]["S"] for name in ("tenant_id", "upload_id", "key", "created_at", "lease_until")
             if name in item} for item in page.get("Items", [])]


def fail_stale(tenant_id: str, upload_id: str, key: str, summary: dict[str, Any], now: str) -> bool:
    """Ends a stale upload ``failed`` with ``summary``, unless its holder came back meanwhile
    (a part that resumed extended the lease): False then."""
    bind_models()
    record = get_upload(tenant_id, upload_id)
    if record is None or record.status != "processing":
        return False
    ended = UploadModel(tenant_id, upload_id, key=key, status="failed", summary=summary, created_at=record.created_at,
                        updated_at=now)
    try:
        ended.save(condition=(UploadModel.status == "processing") & (UploadModel.lease_until < now))
    except PutError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def create_pending(tenant_id: str, upload_id: str, key: str, now: str) -> None:
    bind_models()
    UploadModel(tenant_id, upload_id, key=key, status="pending", created_at=now, updated_at=now).save()


def finish_upload(tenant_id: str, upload_id: str, key: str, summary: dict[str, Any], now: str) -> None:
    bind_models()
    record = get_upload(tenant_id, upload_id)
    created = record.created_at if record else now
    UploadModel(
        tenant_id, upload_id, key=key, status=summary["status"], summary=summary, created_at=created, updated_at=now
    ).save()


# ---------------------------------------------------------------- the parallel pipeline's progress
def begin_pipeline(tenant_id: str, upload_id: str, chunks: int, ranges: int, now: str) -> None:
    """Records how many chunk and range parts a split upload has (the number of withdraw parts
    is set once the merge decides); their results arrive later."""
    aws.client("dynamodb").update_item(
        TableName=get_settings().uploads_table,
        Key={"tenant_id": {"S": tenant_id}, "upload_id": {"S": upload_id}},
        UpdateExpression="SET parts_total = :totals, part_results = if_not_exists(part_results, :empty), "
                         "part_progress = if_not_exists(part_progress, :empty), updated_at = :now",
        ExpressionAttributeValues={
            ":totals": {"M": {"chunk": {"N": str(chunks)}, "merge": {"N": str(ranges)}}},
            ":empty": {"M": {}},
            ":now": {"S": now},
        },
    )


def save_progress(tenant_id: str, upload_id: str, phase: str, part: int, progress: dict[str, Any]) -> None:
    """A part's checkpoint: where it would resume if its invocation ended now."""
    aws.client("dynamodb").update_item(
        TableName=get_settings().uploads_table,
        Key={"tenant_id": {"S": tenant_id}, "upload_id": {"S": upload_id}},
        UpdateExpression="SET part_progress.#part = :progress",
        ExpressionAttributeNames={"#part": f"{phase}-{part:05d}"},
        ExpressionAttributeValues={":progress": {"S": json.dumps(progress, separators=(",", ":"))}},
    )


def start_progress(tenant_id: str, upload_id: str, phase: str, part: int, progress: dict[str, Any]) -> bool:
    """A part's first checkpoint, saved only if the part has none yet: False when another
    attempt of the part saved one first."""
    client = aws.client("dynamodb")
    try:
        client.update_item(
            TableName=get_settings().uploads_table,
            Key={"tenant_id": {"S": tenant_id}, "upload_id": {"S": upload_id}},
            UpdateExpression="SET part_progress.#part = :progress",
            ConditionExpression="attribute_not_exists(part_progress.#part)",
            ExpressionAttributeNames={"#part": f"{phase}-{part:05d}"},
            ExpressionAttributeValues={":progress": {"S": json.dumps(progress, separators=(",", ":"))}},
        )
    except client.exceptions.ConditionalCheckFailedException:
        return False
    return True


def progress_of(tenant_id: str, upload_id: str, phase: str, part: int) -> dict[str, Any] | None:
    """The part's last checkpoint (None before the first)."""
    name = f"{phase}-{part:05d}"
    item = aws.client("dynamodb").get_item(
        TableName=get_settings().uploads_table,
        Key={"tenant_id": {"S": tenant_id}, "upload_id": {"S": upload_id}},
        ConsistentRead=True, ProjectionExpression="part_progress.#part",
        ExpressionAttributeNames={"#part": name},
    ).get("Item", {})
    value = item.get("part_progress", {}).get("M", {}).get(name)
    return json.loads(value["S"]) if value else None


def record_part(tenant_id: str, upload_id: str, phase: str, part: int, result: dict[str, Any]) -> dict[str, dict[str, Any]] | None:
    """Stores one part's result (idempotent: a retried part overwrites its own entry).

    Returns every result of ``phase`` once all its parts are in, else None. A retried last part
    sees them all again: the next phase must tolerate starting twice.
    """
    response = aws.client("dynamodb").update_item(
        TableName=get_settings().uploads_table,
        Key={"tenant_id": {"S": tenant_id}, "upload_id": {"S": upload_id}},
        UpdateExpression="SET part_results.#part = :result",
        ExpressionAttributeNames={"#part": f"{phase}-{part:05d}"},
        ExpressionAttributeValues={":result": {"S": json.dumps(result, separators=(",", ":"))}},
        ReturnValues="ALL_NEW",
    )
    item = response["Attributes"]
    total = int(item["parts_total"]["M"][phase]["N"])
    mine = {name: json.loads(value["S"]) for name, value in item["part_results"]["M"].items() if name.startswith(phase + "-")}
    return mine if len(mine) >= total else None


def set_parts_total(tenant_id: str, upload_id: str, phase: str, total: int) -> None:
    aws.client("dynamodb").update_item(
        TableName=get_settings().uploads_table,
        Key={"tenant_id": {"S": tenant_id}, "upload_id": {"S": upload_id}},
        UpdateExpression="SET parts_total.#phase = :total",
        ExpressionAttributeNames={"#phase": phase},
        ExpressionAttributeValues={":total": {"N": str(total)}},
    )


def part_results(tenant_id: str, upload_id: str) -> dict[str, dict[int, dict[str, Any]]]:
    """Every recorded part result by phase and part number."""
    item = aws.client("dynamodb").get_item(
        TableName=get_settings().uploads_table,
        Key={"tenant_id": {"S": tenant_id}, "upload_id": {"S": upload_id}},
        ConsistentRead=True,
        ProjectionExpression="part_results",
    ).get("Item", {})
    results: dict[str, dict[int, dict[str, Any]]] = {}
    for name, value in item.get("part_results", {}).get("M", {}).items():
        phase, part = name.rsplit("-", 1)
        results.setdefault(phase, {})[int(part)] = json.loads(value["S"])
    return results


def is_final(tenant_id: str, upload_id: str) -> bool:
    record = get_upload(tenant_id, upload_id)
    return record is None or record.status in ("succeeded", "failed")
