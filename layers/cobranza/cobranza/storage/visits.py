"""Field-visit tasks (SPEC §6). The campaign creates them; the visits service assigns and runs them."""
from __future__ import annotations

from typing import Any, Mapping

from botocore.exceptions import ClientError

from .. import aws
from ..config import get_settings
from .accounts import to_wire


def create_task(task: Mapping[str, Any]) -> bool:
    """Stores a new visit task; False when a task with the same id already exists."""
    try:
        aws.client("dynamodb").put_item(TableName=get_settings().visits_table, Item=to_wire(task),
                                        ConditionExpression="attribute_not_exists(visit_id)")
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True
