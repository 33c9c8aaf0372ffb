"""What raises a time-based alarm, what is urgent, and what the emails say (pure; SPEC §8).

- A visit is past its SLA once its ``due_on`` (scheduled day + ``visits.sla_days``) is before the
  tenant's today and it is still open (unassigned, assigned or checked in).
- An agent is silent when, inside the policy's working hours and days (tenant zone), no ping
  arrived for ``alarms.agent_silence_hours``: counted from the last ping or from the start of
  today's working hours, whichever is later, so a night off raises nothing. An agent who never
  sent a ping, or is inactive, is not watched.
- The digest goes out on the first hourly tick at or after ``alarms.digest_hour`` (tenant zone).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Iterable, Mapping
from zoneinfo import ZoneInfo

from ..core.instants import parse_instant
from ..tenants.policy import AlarmSettings

OPEN_VISIT_STATUSES = ("unassigned", "assigned", "checked_in")
#: Hours after the digest hour in which a tick that missed it still sends it.
DIGEST_CATCH_UP_HOURS = 4

LABELS: dict[str, dict[str, str]] = {
    "es-MX": {
        "promise_broken": "Promesa incumplida", "visit_overdue": "Visita fuera de plazo",
        "visit_flagged": "Visita con alertas", "visit_rejected": "Visita rechazada", "skip_trace": "Localizar al deudor",
        "visits_exhausted": "Visitas agotadas", "high_tier_stage_change": "Cuenta de monto alto cambió de etapa",
        "judicial_handoff": "Pase a jurídico", "agent_silent": "Gestor sin señal",
        "upload_rejects_high": "Archivo con muchos rechazos", "snapshot_withdrawals_held": "Bajas de cartera retenidas",
        "upload_stopped": "Carga detenida", "payment_reversed": "Pago revertido", "debtor_deceased": "Deudor fallecido",
    },
    "en": {
        "promise_broken": "Broken promise", "visit_overdue": "Visit past its SLA", "visit_flagged": "Visit flagged",
        "visit_rejected": "Visit rejected", "skip_trace": "Skip-trace the debtor", "visits_exhausted": "Visits exhausted",
        "high_tier_stage_change": "High-amount account changed stage", "judicial_handoff": "Judicial hand-off",
        "agent_silent": "Agent without pings", "upload_rejects_high": "Upload with many rejected rows",
        "snapshot_withdrawals_held": "Portfolio withdrawals held back", "upload_stopped": "Upload stopped",
        "payment_reversed": "Payment reversed", "debtor_deceased": "Debtor deceased",
    },
}


def locale_of(policy: Mapping[str, Any]) -> str:
    return "en" if policy.get("locale") == "en" else "es-MX"


def label(code: str, locale: str) -> str:
    return LABELS.get(locale, LABELS["es-MX"]).get(code, code.replace("_", " "))


def visit_due_on(visit: Mapping[str, Any], sla_days: int) -> date:
    """The last day a visit may be done in: its ``due_on``, else its day plus the SLA."""
    if visit.get("due_on"):
        return date.fromisoformat(str(visit["due_on"]))
    return date.fromisoformat(str(visit["scheduled_on"])) + timedelta(days=sla_days)


def overdue_visits(visits: Iterable[Mapping[str, Any]], today: date, sla_days: int) -> list[Mapping[str, Any]]:
    """The open visits past their SLA not yet alarmed (``sla_alarm_id``), oldest first."""
    late = [v for v in visits if v.get("status") in OPEN_VISIT_STATUSES and not v.get("sla_alarm_id")
            and visit_due_on(v, sla_days) < today]
    return sorted(late, key=lambda v: (str(v["scheduled_on"]), str(v["visit_id"])))


def in_working_hours(moment: datetime, zone: str, settings: AlarmSettings) -> bool:
    local = moment.astimezone(ZoneInfo(zone))
    return local.isoweekday() in settings.working_days and settings.working_start <= local.time() < settings.working_end


@dataclass(frozen=True)
class Silence:
    agent_id: str
    since: datetime  # the last ping, or the start of today's working hours if later
    last_seen_at: str  # as stored: the alarm's write is conditioned on it


def silent_agents(agents: Iterable[Mapping[str, Any]], now: datetime, zone: str,
                  settings: AlarmSettings) -> list[Silence]:
    """The agents silent for the policy's hours inside today's working hours (none outside them)."""
    if not in_working_hours(now, zone, settings):
        return []
    local = now.astimezone(ZoneInfo(zone))
    workday_start = datetime.combine(local.date(), settings.working_start, tzinfo=ZoneInfo(zone))
    silent = []
    for agent in agents:
        seen = agent.get("last_seen_at")
        if not seen or agent.get("active", True) is False or agent.get("silent_alarm_id"):
            continue
        since = max(parse_instant(str(seen)), workday_start)
        if now - since >= settings.silence:
            silent.append(Silence(str(agent["agent_id"]), since, str(seen)))
    return sorted(silent, key=lambda s: s.agent_id)


def digest_due(now: datetime, zone: str, settings: AlarmSettings) -> date | None:
    """The tenant-local day whose digest this tick should send: the last digest hour, if it was
    less than DIGEST_CATCH_UP_HOURS ago (a digest at 23:00 is still caught up after midnight)."""
    local = now.astimezone(ZoneInfo(zone))
    start = local.replace(hour=settings.digest_hour, minute=0, second=0, microsecond=0)
    if start > local:
        start -= timedelta(days=1)
    return start.date() if local - start < timedelta(hours=DIGEST_CATCH_UP_HOURS) else None


def open_by_code(alarms: Iterable[Mapping[str, Any]]) -> list[tuple[str, int]]:
    """Open alarms counted by code, the most frequent first."""
    counts: dict[str, int] = {}
    for alarm in alarms:
        counts[str(alarm["code"])] = counts.get(str(alarm["code"]), 0) + 1
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))
