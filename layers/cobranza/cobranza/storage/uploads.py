"""Upload records: one per portfolio file, keyed by tenant and upload id."""
from __future__ import annotations

from typing import Any

from pynamodb.exceptions import PutError

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
