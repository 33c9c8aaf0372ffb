"""The hourly alarms job (SPEC §8): the schedule fans out, one message a tenant; each finds its
tenant's time-based alarms, retries its unassigned visits and, at the digest hour, writes the
daily report of the day that ended (SPEC §9) and sends its digest (alarms/digest.py).

- ``start_hour`` (AlarmsFunction, EventBridge hourly): one message per tenant on AlarmsQueue,
  with the tick's time (every tenant is judged at the same instant, in its own zone).
- ``run_tenant`` (AlarmsFunction, AlarmsQueue): reads only what may be late or silent: the
  tenant, its unassigned visits, its assigned and checked-in visits scheduled before today, and
  its agents while working hours last (4 to 5 requests when there is nothing to raise). Each
  alarm is raised once per cause, in one transaction with the mark that names it on its subject
  (the visit's ``sla_alarm_id``, the agent's ``silent_alarm_id``): the mark is what resolves it
  later (a visit done, a ping), and what a rerun of the hour finds. A redelivered message raises
  nothing twice.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Iterable, Mapping

from ..accounts import alarms as alarms_repo
from ..core import transactions
from ..core.instants import local_date, parse_instant, utc_stamp
from ..core.observability import logger, metrics
from ..tenants import store as tenants_repo
from ..tenants.policy import alarm_settings, effective_policy, visit_settings
from ..visits import agents as agents_repo
from ..visits import store as visits_repo
from ..visits.tasks import Assigner
from . import digest, rules
from . import store as job_store


def start_hour(event_time: datetime, tenant_ids: Iterable[str] | None = None) -> dict[str, Any]:
    """Queues the hour's work, one message per tenant."""
    messages = [{"tenant_id": tenant_id, "event_time": utc_stamp(event_time)}
                for tenant_id in (tenant_ids if tenant_ids is not None else tenants_repo.list_tenant_ids())]
    queued = job_store.queue_tenants(messages) if messages else 0
    logger.info("alarms hour queued", extra={"tenants": queued, "event_time": utc_stamp(event_time)})
    return {"tenants_queued": queued}


def run_tenant(message: Mapping[str, Any]) -> dict[str, Any]:
    """One tenant's hour: its time-based alarms, its unassigned visits retried, its digest."""
    tenant_id, now = str(message["tenant_id"]), parse_instant(str(message["event_time"]))
    tenant = tenants_repo.get_tenant(tenant_id)
    if tenant is None:
        return {"tenant_id": tenant_id, "dropped": "unknown_tenant"}
    policy = effective_policy(tenant.policy)
    settings, sla_days = alarm_settings(policy), visit_settings(policy).sla_days
    today = local_date(now, tenant.timezone)
    stamp = utc_stamp(now)
    counts: dict[str, Any] = {"visits_overdue": 0, "agents_silent": 0, "visits_assigned": 0}

    unassigned = visits_repo.list_with_status(tenant_id, "unassigned")
    late = [v for status in ("assigned", "checked_in")
            for v in visits_repo.list_open_before(tenant_id, status, today.isoformat())]
    for visit in rules.overdue_visits([*unassigned, *late], today, sla_days):
        counts["visits_overdue"] += _raise_overdue(tenant_id, visit, stamp)

    agents = agents_repo.list_agents(tenant_id) if rules.in_working_hours(now, tenant.timezone, settings) else None
    for silence in rules.silent_agents(agents or [], now, tenant.timezone, settings):
        counts["agents_silent"] += _raise_silent(tenant_id, silence, stamp)

    waiting = [v for v in unassigned if str(v["scheduled_on"]) >= today.isoformat()]
    if waiting:
        counts["visits_assigned"] = _retry_assignment(tenant_id, policy, agents, waiting, stamp)

    day = rules.digest_due(now, tenant.timezone, settings)
    if day is not None:
        counts["digest"] = digest.send_digest(tenant, policy, day, now)
    for name, value in counts.items():
        if isinstance(value, int) and value:
            metrics.add_metric(name=f"Alarms_{name}", unit="Count", value=value)
    return {"tenant_id": tenant_id, **counts}


def _raise_overdue(tenant_id: str, visit: Mapping[str, Any], stamp: str) -> int:
    """``visit_overdue`` with ``sla_alarm_id`` on the visit (0: done, cancelled or alarmed meanwhile)."""
    visit_id, account_id = str(visit["visit_id"]), str(visit["account_id"])
    message = (f"visit {visit_id} to account {account_id} (scheduled {visit['scheduled_on']}, "
               f"agent {visit.get('agent_id') or 'none'}) is past its SLA and still {visit['status']}")
    return _raise_marked(tenant_id, "visit_overdue", f"visit#{visit_id}", message, stamp,
                         {"visit_id": visit_id, "account_id": account_id, "agent_id": visit.get("agent_id")},
                         lambda alarm_id: visits_repo.sla_alarm_update(tenant_id, visit_id, alarm_id))


def _raise_silent(tenant_id: str, silence: rules.Silence, stamp: str) -> int:
    """``agent_silent`` with ``silent_alarm_id`` on the agent (0: it pinged meanwhile, or this
    silence was already raised)."""
    since = utc_stamp(silence.since)
    return _raise_marked(tenant_id, "agent_silent", f"agent#{silence.agent_id}#{since}",
                         f"agent {silence.agent_id} sent no location since {since} during working hours", stamp,
                         {"agent_id": silence.agent_id, "silent_since": since},
                         lambda alarm_id: agents_repo.silent_alarm_update(tenant_id, silence.agent_id, alarm_id,
                                                                          silence.last_seen_at))


def _raise_marked(tenant_id: str, code: str, subject: str, message: str, stamp: str, details: Mapping[str, Any],
                  mark: Callable[[str], dict[str, Any]]) -> int:
    """Raises a new alarm in one transaction with the mark that names it on its subject (what
    resolves it later); 1 if raised, 0 when the subject changed or the alarm exists already."""
    try:
        transactions.write_together([
            alarms_repo.alarm_put(tenant_id, code, subject, message, stamp, details, new_only=True),
            mark(alarms_repo.alarm_id(stamp, code, subject))])
    except transactions.WriteConflict:
        return 0
    return 1


def _retry_assignment(tenant_id: str, policy: Mapping[str, Any], agents: list[dict[str, Any]] | None,
                      waiting: list[dict[str, Any]], stamp: str) -> int:
    """Gives the waiting unassigned tasks (today or later) to the nearest agent with a slot, as
    their creation did; the ones still without one wait for the next hour."""
    assigner = Assigner(tenant_id, policy, agents)
    assigned = 0
    for task in sorted(waiting, key=lambda v: (str(v["scheduled_on"]), str(v["visit_id"]))):
        task = dict(task, created_at=stamp)  # assigned_at: now
        if assigner.assign(task)["status"] == "assigned" and visits_repo.save_assignment(task):
            assigned += 1
    return assigned
