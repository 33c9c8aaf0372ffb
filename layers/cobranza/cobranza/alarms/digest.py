"""The daily digest (SPEC §8): one email per tenant at the digest hour (08:00 tenant time by
default) with the alarms that were not urgent, the open alarms by code, yesterday's KPIs against
the day before, and the link to yesterday's daily report (SPEC §9).

Sent once a day: the day's mark is claimed before sending (released if SES fails, so the next
hourly tick sends it). Yesterday's daily report is written first, for every tenant, a quiet day
too (reports.service), before the claim: rendering it is the slow, native part (WeasyPrint), and
a timeout or crash there must leave the mark free for the next tick, which writes the report again
(harmless) and sends the digest. A tick that finds the mark already claimed renders nothing. The
report's failure is logged and counted and the digest goes out all the same. A tenant with nothing
new (no alarm raised since the last digest and no activity yesterday) receives no email; its mark
records why, and what became of the report.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from ..accounts import alarms as alarms_repo
from ..channels.email import templates
from ..core.instants import utc_stamp
from ..core.mail import send_team_email
from ..core.observability import logger, metrics
from ..core.settings import get_settings
from ..core.tables import TenantModel
from ..kpis import service as kpis_service
from ..reports import service as reports
from ..tenants.policy import alarm_settings, team_emails
from . import rules
from . import store as job_store

SUBJECTS = {"es-MX": "Resumen diario {day} - {lender}", "en": "Daily digest {day} - {lender}"}
MAX_LISTED = 200
#: Yesterday's KPIs the digest compares with the day before: (key, es-MX label, en label).
COMPARED = (("amount_recovered", "Monto recuperado", "Amount recovered"), ("payments", "Pagos", "Payments"),
            ("attempts_total", "Intentos de contacto", "Contact attempts"),
            ("rpc_total", "Contactos efectivos", "Right-party contacts"),
            ("promises_made", "Promesas hechas", "Promises made"), ("promises_kept", "Promesas cumplidas", "Promises kept"),
            ("promises_broken", "Promesas incumplidas", "Promises broken"), ("visits_done", "Visitas hechas", "Visits done"),
            ("visits_verified", "Visitas verificadas", "Visits verified"))


def send_digest(tenant: TenantModel, policy: Mapping[str, Any], day: date, now: datetime) -> str:
    """The tenant's digest of ``day``: "sent", "already_sent", "nothing_new" or "no_recipients"."""
    tenant_id, stamp = tenant.tenant_id, utc_stamp(now)
    if job_store.digest_marked(tenant_id, day.isoformat()):  # a later tick of the day: nothing to render
        return "already_sent"
    # before the claim: a render that never returns (timeout, out of memory) leaves no mark behind
    report = _write_report(tenant, policy, day - timedelta(days=1), now)
    if not job_store.claim_digest(tenant_id, day.isoformat(), stamp):
        return "already_sent"
    try:
        outcome = _compose_and_send(tenant, policy, day, now, report)
    except Exception:
        job_store.release_digest(tenant_id, day.isoformat())
        raise
    job_store.record_digest(tenant_id, day.isoformat(), {"outcome": outcome, "finished_at": stamp,
                                                         "report": report["pdf"] if report else "failed"})
    metrics.add_metric(name=f"Digest_{outcome}", unit="Count", value=1)
    logger.info("digest", extra={"tenant_id": tenant_id, "day": day.isoformat(), "outcome": outcome})
    return outcome


def _write_report(tenant: TenantModel, policy: Mapping[str, Any], day: date, now: datetime) -> reports.Written | None:
    """The daily report of ``day`` (the digest's yesterday); None when it could not be written."""
    try:
        return reports.write_daily_report(tenant, policy, day, now)
    except Exception as exc:  # the report is the digest's companion: its failure must not hold the digest back
        logger.warning("daily report not written", extra={"tenant_id": tenant.tenant_id, "day": day.isoformat(),
                                                          "error": type(exc).__name__})
        metrics.add_metric(name="DailyReportFailed", unit="Count", value=1)
        return None


def _compose_and_send(tenant: TenantModel, policy: Mapping[str, Any], day: date, now: datetime,
                      report: reports.Written | None) -> str:
    tenant_id = tenant.tenant_id
    urgent = alarm_settings(policy).urgent_codes
    # since the previous day's digest hour: the same window whichever tick of the hour sends it
    since = datetime.combine(day - timedelta(days=1), time(alarm_settings(policy).digest_hour),
                             tzinfo=ZoneInfo(tenant.timezone))
    raised, _ = alarms_repo.list_page(tenant_id, status=None, code=None, since=utc_stamp(since), limit=MAX_LISTED,
                                      start=None)
    yesterday, before = day - timedelta(days=1), day - timedelta(days=2)
    kpis = kpis_service.day_totals(tenant_id, policy, [before, yesterday])
    then, latest = _compared(kpis[before.isoformat()]), _compared(kpis[yesterday.isoformat()])
    if not raised and not any(_counts(value) for value in latest.values()):
        return "nothing_new"
    recipients = team_emails(tenant.notify_emails, policy)
    if not recipients:
        return "no_recipients"
    locale = rules.locale_of(policy)
    open_alarms = alarms_repo.open_alarms(tenant_id)
    context = {
        "lender": tenant.name, "day": day.isoformat(), "yesterday": yesterday.isoformat(),
        "before": before.isoformat(), "currency": policy.get("currency", "MXN"),
        "digest_alarms": [dict(a, label=rules.label(a["code"], locale)) for a in raised if a["code"] not in urgent],
        "urgent_count": sum(1 for a in raised if a["code"] in urgent),
        "open_by_code": [(rules.label(code, locale), code, count) for code, count in rules.open_by_code(open_alarms)],
        "kpis": [(label_es if locale == "es-MX" else label_en, then[key], latest[key])
                 for key, label_es, label_en in COMPARED],
        # yesterday's report: the link to the console's page, and where its files are
        "report_url": report_link(yesterday), "report_day": yesterday.isoformat(),
        "report_key": report["html_key"] if report else None, "report_pdf_key": report["pdf_key"] if report else None,
    }
    env = templates()
    send_team_email(recipients, SUBJECTS[locale].format(day=day.isoformat(), lender=tenant.name),
                    env.get_template(f"digest_{locale}.txt").render(**context),
                    env.get_template(f"digest_{locale}.html").render(**context))
    return "sent"


def report_link(day: date) -> str:
    """Where the supervisors' console shows the daily report of ``day`` (SPEC §9; the stack's
    public URL): a link that does not expire, behind the console's sign-in."""
    base = (get_settings().self_service_url or "").rstrip("/")
    return f"{base}/console/#/reports/{day.isoformat()}"


def _compared(kpis: Mapping[str, Any]) -> dict[str, Any]:
    """The compared KPIs of one day's totals."""
    values = dict(kpis, attempts_total=sum(kpis["attempts"].values()),
                  rpc_total=sum(kpis["right_party_contacts"].values()))
    return {key: values[key] for key, _, _ in COMPARED}


def _counts(value: Any) -> bool:
    """A KPI that says something happened (money is a string: "0.00" is nothing)."""
    return bool(value) and value != "0.00"
