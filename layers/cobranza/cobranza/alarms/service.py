"""``GET /v1/alarms`` and ``POST /v1/alarms/{alarm_id}/ack`` (SPEC §8)."""
from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from ..accounts import alarms as alarms_repo
from ..core import clock, pagination
from ..core.errors import Invalid, NotFound
from ..core.instants import parse_instant, utc_stamp
from ..core.tables import TenantModel
from ..tenants.policy import alarm_settings, effective_policy
from . import rules

CODE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
VIEW_FIELDS = ("alarm_id", "code", "subject", "message", "status", "raised_at", "account_id", "visit_id", "agent_id",
               "upload_id", "payment_id", "acknowledged_at", "acknowledged_by", "resolved_at", "resolution", "emailed_at")


def alarm_view(item: Mapping[str, Any], urgent_codes: frozenset[str], locale: str) -> dict[str, Any]:
    view: dict[str, Any] = {name: str(item[name]) for name in VIEW_FIELDS if item.get(name) not in (None, "")}
    view.setdefault("status", "open")  # an alarm stored before statuses were kept
    view["urgent"] = item["code"] in urgent_codes
    view["label"] = rules.label(str(item["code"]), locale)  # as the emails and the digest name it
    return view


def _since(raw: str | None, zone: str) -> str | None:
    """``since`` as a UTC stamp: a date is the start of that day in the tenant's zone."""
    if not raw:
        return None
    try:
        moment = (datetime.combine(date.fromisoformat(raw), time(0), tzinfo=ZoneInfo(zone)) if len(raw) == 10
                  else parse_instant(raw))
        if not 2000 <= moment.year <= 2100:
            raise ValueError("out of range")
        return utc_stamp(moment)
    except (ValueError, OverflowError):
        raise Invalid("bad_request", "since must be a date (YYYY-MM-DD) or an RFC 3339 date-time with its offset, "
                      "from 2000 to 2100", [{"field": "since", "value": raw[:40]}]) from None


def list_alarms(tenant: TenantModel, query: Mapping[str, str]) -> dict[str, Any]:
    """A page of the tenant's alarms, newest first, filtered by status, code and since."""
    limit = pagination.parse_limit(query.get("limit"))
    status, code = query.get("status") or None, query.get("code") or None
    if status is not None and status not in alarms_repo.STATUSES:
        raise Invalid("bad_request", "status must be open, acknowledged or resolved", [{"field": "status"}])
    if code is not None and not CODE.match(code):
        raise Invalid("bad_request", "code is an alarm code (lowercase letters, digits and _)", [{"field": "code"}])
    since = _since(query.get("since"), tenant.timezone)
    scope = pagination.scope("alarms", tenant.tenant_id, status=status, code=code, since=since)
    items, last = alarms_repo.list_page(tenant.tenant_id, status=status, code=code, since=since, limit=limit,
                                        start=pagination.start_of(scope, query))
    policy = effective_policy(tenant.policy)
    urgent, locale = alarm_settings(policy).urgent_codes, rules.locale_of(policy)
    return {"items": [alarm_view(i, urgent, locale) for i in items], "next_token": pagination.next_token(scope, last)}


def acknowledge(tenant: TenantModel, alarm_id: str, by: str, now: datetime | None = None) -> dict[str, Any]:
    """Acknowledges an open alarm; an alarm already acknowledged or resolved is answered as it is."""
    alarm = alarms_repo.get_alarm(tenant.tenant_id, alarm_id) if len(alarm_id) <= 200 else None
    if alarm is None or not alarm.get("code"):
        raise NotFound("not_found", "alarm not found")
    if alarm.get("status", "open") == "open":
        alarm = alarms_repo.acknowledge(tenant.tenant_id, alarm, by, utc_stamp(now or clock.utcnow())) or \
            alarms_repo.get_alarm(tenant.tenant_id, alarm_id) or alarm
    policy = effective_policy(tenant.policy)
    return alarm_view(alarm, alarm_settings(policy).urgent_codes, rules.locale_of(policy))
