"""Business alarms (SPEC §8): one record per tenant, code and subject, raised at most once."""
from __future__ import annotations

from typing import Any, Mapping

from pynamodb.exceptions import PutError

from ..core.settings import get_settings
from ..core.tables import AlarmModel, bind_models
from .store import to_wire


def alarm_id(raised_at: str, code: str, subject: str) -> str:
    """An alarm's id: the day it was raised, its code and its subject (one alarm per cause a day)."""
    return f"{raised_at[:10]}#{code}#{subject}"


def raise_alarm(tenant_id: str, code: str, subject: str, message: str, raised_at: str) -> bool:
    """Stores the alarm unless the same code was already raised for the subject; True if new.

    The id starts with the day it was raised, so a tenant's alarms list newest last and a
    redelivered event (same subject, same day) does not raise it twice.
    """
    bind_models()
    alarm = AlarmModel(tenant_id, alarm_id(raised_at, code, subject), code=code, subject=subject,
                       message=message, raised_at=raised_at)
    try:
        alarm.save(condition=AlarmModel.alarm_id.does_not_exist())
    except PutError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def alarm_put(tenant_id: str, code: str, subject: str, message: str, raised_at: str,
              details: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The transaction item that raises an open alarm together with other writes (a visit's
    result); ``details`` are extra attributes (its ``visit_id``)."""
    return {"Put": {"TableName": get_settings().alarms_table, "Item": to_wire({
        "tenant_id": tenant_id, "alarm_id": alarm_id(raised_at, code, subject), "code": code, "subject": subject,
        "message": message, "status": "open", "raised_at": raised_at, **(details or {}),
    })}}


def list_alarms(tenant_id: str, limit: int = 100) -> list[AlarmModel]:
    bind_models()
    return list(AlarmModel.query(tenant_id, scan_index_forward=False, limit=limit))
