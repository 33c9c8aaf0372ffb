"""Upload records: one per portfolio file, keyed by tenant and upload id."""
from __future__ import annotations

import json
from typing import Any

from pynamodb.exceptions import PutError

from .. import aws
from ..config import get_settings
from .models import UploadModel, bind_models


def get_upload(tenant_id: str, upload_id: str) -> UploadModel | None:
    bind_models()
    try:
        return UploadModel.get(tenant_id, upload_id, consistent_read=True)
    except UploadModel.DoesNotExist:
        return None


def claim_upload(tenant_id: str, upload_id: str, key: str, now: str) -> bool:
    """Marks an upload as processing unless it already finished (a redelivered event).

    Returns False when the upload is final: the caller must not process it again.
    """
    bind_models()
    record = UploadModel(tenant_id, upload_id, key=key, status="processing", created_at=now, updated_at=now)
    try:
        record.save(condition=UploadModel.upload_id.does_not_exist() | UploadModel.status.is_in("pending", "processing"))
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
        UpdateExpression="SET parts_total = :totals, part_results = if_not_exists(part_results, :empty), updated_at = :now",
        ExpressionAttributeValues={
            ":totals": {"M": {"chunk": {"N": str(chunks)}, "merge": {"N": str(ranges)}}},
            ":empty": {"M": {}},
            ":now": {"S": now},
        },
    )


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
