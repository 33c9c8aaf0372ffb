"""The tenant's email for each stored visit result (SPEC §6).

Messages come from NotificationsQueue, where VisitResultsPipe puts the visits table's stream
record of each visit whose result was just stored: the record's new image *is* the visit, so
nothing is read to write the email. One email per result whatever the redeliveries: a
conditional ``notified_at`` on the visit is claimed before sending (released if SES fails, so the
message is retried). Photo links go through ``GET /v1/photos/{token}`` and expire after 7 days.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from ..accounts import alarms as alarms_repo
from ..accounts.store import from_wire
from ..channels.email import templates
from ..core import clock
from ..core.instants import parse_instant, utc_stamp
from ..core.mail import send_team_email
from ..core.observability import logger, metrics
from ..tenants import store as tenants_repo
from ..tenants.policy import effective_policy, questionnaire, team_emails
from . import store as visits_repo
from .tasks import PHOTO_LINK_DAYS, photo_url

SUBJECTS = {"es-MX": "Visita {status} - cuenta {account_id} - {outcome}", "en": "Visit {status} - account {account_id} - {outcome}"}
OUTCOME_LABELS = {
    "es-MX": {"promise_to_pay": "Promesa de pago", "paid_reported": "Reporta pago", "partial_payment_reported":
              "Reporta pago parcial", "not_home": "No se encontró", "relative_contacted": "Se contactó a un familiar",
              "refused": "Se negó a atender", "wrong_address": "Domicilio incorrecto", "moved": "Se mudó",
              "abandoned_property": "Domicilio abandonado", "dispute": "Disputa la deuda"},
    "en": {"promise_to_pay": "Promise to pay", "paid_reported": "Payment reported", "partial_payment_reported":
           "Partial payment reported", "not_home": "Not at home", "relative_contacted": "Relative contacted",
           "refused": "Refused", "wrong_address": "Wrong address", "moved": "Moved", "abandoned_property":
           "Abandoned property", "dispute": "Disputes the debt"},
}
VERIFICATION_LABELS = {"es-MX": {"verified": "verificada", "flagged": "con alertas", "rejected": "rechazada"},
                       "en": {"verified": "verified", "flagged": "flagged", "rejected": "rejected"}}
YES_NO = {"es-MX": ("Sí", "No"), "en": ("Yes", "No")}


def handle_message(record: Mapping[str, Any], now: datetime | None = None) -> str:
    """One queued stream record -> "sent", "duplicate" (already emailed) or "no_recipients"."""
    now = now or clock.utcnow()
    image = (record.get("dynamodb") or {}).get("NewImage")
    if not image:
        raise ValueError("not a visits-table stream record with a new image")
    visit = from_wire(image)
    if visit.get("sla_alarm_id"):  # the visit past its SLA is done now: its alarm's cause is gone
        alarms_repo.resolve(visit["tenant_id"], visit["sla_alarm_id"], "visit_overdue", f"visit_{visit['status']}",
                            utc_stamp(now))
    tenant = tenants_repo.get_tenant_cached(visit["tenant_id"])
    if tenant is None:
        logger.warning("visit result of an unknown tenant dropped", extra={"visit_id": visit.get("visit_id")})
        return "no_recipients"
    policy = effective_policy(tenant.policy)
    recipients = team_emails(tenant.notify_emails, policy)
    if not recipients:
        metrics.add_metric(name="VisitEmailsWithoutRecipients", unit="Count", value=1)
        return "no_recipients"
    if not visits_repo.claim_notification(visit["tenant_id"], visit["visit_id"], utc_stamp(now)):
        metrics.add_metric(name="VisitEmailsDuplicate", unit="Count", value=1)
        return "duplicate"
    locale = policy.get("locale", "es-MX") if policy.get("locale") in SUBJECTS else "es-MX"
    context = email_context(visit, tenant.name, tenant.timezone, policy, locale, now)
    env = templates()
    subject = SUBJECTS[locale].format(status=context["status_label"], account_id=visit["account_id"],
                                      outcome=context["outcome_label"])
    try:
        send_team_email(recipients, subject, env.get_template(f"visit_result_{locale}.txt").render(**context),
                               env.get_template(f"visit_result_{locale}.html").render(**context))
    except Exception:
        visits_repo.release_notification(visit["tenant_id"], visit["visit_id"])
        raise
    metrics.add_metric(name="VisitEmailsSent", unit="Count", value=1)
    logger.info("visit result emailed", extra={"visit_id": visit["visit_id"], "recipients": len(recipients)})
    return "sent"


def email_context(visit: Mapping[str, Any], lender: str, timezone: str, policy: Mapping[str, Any], locale: str,
                  now: datetime) -> dict[str, Any]:
    result = visit.get("result") or {}
    snapshot = visit.get("account") or {}
    verification = result.get("verification") or {}
    status = verification.get("status", "rejected" if visit.get("status") == "rejected" else "verified")
    captured = result.get("captured_at")
    captured_local = (parse_instant(captured).astimezone(ZoneInfo(timezone))
                      .strftime("%Y-%m-%d %H:%M %Z")) if captured else "-"
    promise = result.get("promise")
    next_step = result.get("next_step") or {}
    step_text = ", ".join(f"{k}: {v}" for k, v in next_step.items() if v not in (None, False))
    distance = verification.get("distance_m")
    return {
        "lender": lender, "visit_id": visit["visit_id"], "account_id": visit["account_id"],
        "debtor_name": snapshot.get("debtor_name"),
        "address": ", ".join(str(snapshot[k]) for k in ("address", "city", "state", "postal_code") if snapshot.get(k)),
        "agent": visit.get("agent_id"), "attempt": int(visit.get("attempt") or 1), "captured_local": captured_local,
        "status_label": VERIFICATION_LABELS[locale].get(status, status),
        "verification_label": VERIFICATION_LABELS[locale].get(status, status),
        "outcome_label": OUTCOME_LABELS[locale].get(result.get("outcome", ""), result.get("outcome", "-")),
        "distance_m": None if distance is None else f"{Decimal(str(distance)):.0f}",
        "reasons": list(verification.get("reasons") or []),
        "promise": {"amount": f"{Decimal(str(promise['amount'])):,.2f}", "date": promise["date"]} if promise else None,
        "currency": snapshot.get("currency") or policy.get("currency", "MXN"),
        "account_status": result.get("account_status"), "next_step": step_text or None,
        "answers": _answer_lines(visit, result.get("answers") or {}, policy, locale),
        "notes": result.get("notes"),
        "photo_links": [link for link in (photo_url(visit["tenant_id"], key, now) for key in result.get("photos") or []) if link],
        "links_expire": (now + timedelta(days=PHOTO_LINK_DAYS)).astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d"),
    }


def _answer_lines(visit: Mapping[str, Any], answers: Mapping[str, Any], policy: Mapping[str, Any],
                  locale: str) -> list[tuple[str, str]]:
    """(question label, answer) in the questionnaire's order; photo answers are in the photo links."""
    form = questionnaire(policy, visit.get("questionnaire")) or {}
    labels = {q["id"]: (q.get("label") or q["id"], q.get("type")) for q in form.get("questions", [])}
    order = [q["id"] for q in form.get("questions", [])] + sorted(set(answers) - set(labels))
    lines = []
    for question in order:
        if question not in answers or answers[question] is None:
            continue
        label, kind = labels.get(question, (question, None))
        if kind == "photo":
            continue
        value = answers[question]
        if isinstance(value, bool):
            value = YES_NO[locale][0 if value else 1]
        elif isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        lines.append((str(label), str(value)))
    return lines
