"""The alarms job's own I/O: its per-tenant queue and the digest's once-a-day mark.

The alarms themselves are ``accounts.alarms`` (every capability raises them); the digest's mark
is an item of the alarms table (``digest.<day>``) with none of the index keys, so no list shows it.
"""
from __future__ import annotations

from typing import Any, Sequence

from botocore.exceptions import ClientError

from ..core import aws, queues
from ..core.settings import get_settings

DIGEST_PREFIX = "digest."


def queue_tenants(messages: Sequence[dict[str, Any]]) -> int:
    url = get_settings().alarms_queue_url
    if not url:
        raise RuntimeError("ALARMS_QUEUE_URL is not set: the hourly alarms job has no queue")
    return queues.send_messages(url, messages)


def digest_marked(tenant_id: str, day: str) -> bool:
    """Whether the tenant's digest of ``day`` is claimed (being sent, or sent): one eventually
    consistent read of the mark's key. A stale False costs a report written again, never a second
    digest (``claim_digest`` decides)."""
    item = aws.client("dynamodb").get_item(
        TableName=get_settings().alarms_table, ProjectionExpression="alarm_id",
        Key={"tenant_id": {"S": tenant_id}, "alarm_id": {"S": DIGEST_PREFIX + day}}).get("Item")
    return item is not None


def claim_digest(tenant_id: str, day: str, at: str) -> bool:
    """Marks the tenant's digest of ``day`` as being sent; False when it already was."""
    try:
        aws.client("dynamodb").put_item(
            TableName=get_settings().alarms_table,
            Item={"tenant_id": {"S": tenant_id}, "alarm_id": {"S": DIGEST_PREFIX + day}, "claimed_at": {"S": at}},
            ConditionExpression="attribute_not_exists(alarm_id)")
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


def release_digest(tenant_id: str, day: str) -> None:
    """Gives the mark back after a failed send, so the next tick sends it."""
    aws.client("dynamodb").delete_item(TableName=get_settings().alarms_table,
                                       Key={"tenant_id": {"S": tenant_id}, "alarm_id": {"S": DIGEST_PREFIX + day}})


def record_digest(tenant_id: str, day: str, fields: dict[str, Any]) -> None:
    """What the digest said (or that there was nothing to say), on its mark."""
    names = {f"#f{i}": name for i, name in enumerate(fields)}
    values = {f":v{i}": {"S": str(value)} for i, value in enumerate(fields.values())}
    aws.client("dynamodb").update_item(
        TableName=get_settings().alarms_table,
        Key={"tenant_id": {"S": tenant_id}, "alarm_id": {"S": DIGEST_PREFIX + day}},
        UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields))),
        ExpressionAttributeNames=names, ExpressionAttributeValues=values)
