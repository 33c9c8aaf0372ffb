"""What a new alarm does at once (SPEC §8): its entry on the account's timeline and, for an
urgent code, one email to the tenant's team.

Messages come from NotificationsQueue, where AlarmsPipe puts the alarms table's stream record of
each new alarm: the record's new image *is* the alarm, so nothing is read to write either. One
email per alarm whatever the redeliveries: ``emailed_at`` is claimed on the alarm before sending
(released if SES fails, so the message is retried, within minutes).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from ..accounts import alarms as alarms_repo
from ..accounts import timeline as timeline_repo
from ..accounts.store import from_wire
from ..channels.email import templates
from ..core import clock
from ..core.instants import parse_instant, utc_stamp
from ..core.mail import send_team_email
from ..core.observability import logger, metrics
from ..tenants import store as tenants_repo
from ..tenants.policy import alarm_settings, effective_policy, team_emails
from . import rules

SUBJECTS = {"es-MX": "Alarma urgente: {label} - {lender}", "en": "Urgent alarm: {label} - {lender}"}


def is_alarm_record(record: Mapping[str, Any]) -> bool:
    image = (record.get("dynamodb") or {}).get("NewImage") or {}
    return "alarm_id" in image and "code" in image


def handle_alarm_record(record: Mapping[str, Any], now: datetime | None = None) -> str:
    """One queued stream record of a new alarm -> "sent", "duplicate", "not_urgent" or "no_recipients"."""
    now = now or clock.utcnow()
    alarm = from_wire(record["dynamodb"]["NewImage"])
    metrics.add_metric(name=f"AlarmsRaised_{alarm['code']}", unit="Count", value=1)  # the dashboard's
    if alarm.get("account_id"):
        timeline_repo.put_new(timeline_repo.alarm_entry(alarm))
    tenant = tenants_repo.get_tenant_cached(alarm["tenant_id"])
    if tenant is None:
        logger.warning("alarm of an unknown tenant dropped", extra={"alarm_id": alarm.get("alarm_id")})
        return "no_recipients"
    policy = effective_policy(tenant.policy)
    if alarm["code"] not in alarm_settings(policy).urgent_codes:
        return "not_urgent"  # in the next digest
    recipients = team_emails(tenant.notify_emails, policy)
    if not recipients:
        metrics.add_metric(name="AlarmEmailsWithoutRecipients", unit="Count", value=1)
        return "no_recipients"
    if not alarms_repo.claim_email(alarm["tenant_id"], alarm["alarm_id"], utc_stamp(now)):
        metrics.add_metric(name="AlarmEmailsDuplicate", unit="Count", value=1)
        return "duplicate"
    locale = rules.locale_of(policy)
    context = {"lender": tenant.name, "label": rules.label(alarm["code"], locale), "alarm": alarm,
               "raised_local": parse_instant(alarm["raised_at"]).astimezone(ZoneInfo(tenant.timezone))
               .strftime("%Y-%m-%d %H:%M %Z")}
    env = templates()
    try:
        send_team_email(recipients, SUBJECTS[locale].format(label=context["label"], lender=tenant.name),
                        env.get_template(f"alarm_urgent_{locale}.txt").render(**context),
                        env.get_template(f"alarm_urgent_{locale}.html").render(**context))
    except Exception:
        alarms_repo.release_email(alarm["tenant_id"], alarm["alarm_id"])
        raise
    metrics.add_metric(name="AlarmEmailsSent", unit="Count", value=1)
    logger.info("urgent alarm emailed", extra={"alarm_id": alarm["alarm_id"], "code": alarm["code"],
                                               "recipients": len(recipients)})
    return "sent"
