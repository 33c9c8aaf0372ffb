"""``GET /v1/kpis`` (SPEC §8) and the counters each event adds (kpis/store.py)."""
from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any, Mapping

from ..accounts import store as accounts_repo
from ..accounts.money import money_of
from ..core import clock, pagination
from ..core.errors import Invalid
from ..core.instants import local_date
from ..core.tables import TenantModel
from ..tenants.policy import DEFAULT_POLICY, effective_policy
from . import rules
from . import store as kpis_repo

_SEGMENT = re.compile(r"^[^#]{1,64}$")


def _prices(policy: Mapping[str, Any]) -> dict[str, Any]:
    """The tenant's prices over the default ones: a tenant pricing calls keeps the list prices."""
    return {**DEFAULT_POLICY["kpis"]["channel_prices"], **policy["kpis"].get("channel_prices", {})}


def get_kpis(tenant: TenantModel, query: Mapping[str, str]) -> dict[str, Any]:
    """The tenant's KPIs from ``from`` to ``to`` (the last 30 days by default), in total and per
    ``group_by`` period, of one ``segment`` or all: one query per month of the range."""
    today = local_date(clock.utcnow(), tenant.timezone)
    last = pagination.parse_day(query.get("to"), "to") or today
    first = pagination.parse_day(query.get("from"), "from") or last - timedelta(days=29)
    problems = []
    if first > last:
        problems.append({"field": "from", "message": "from must not be after to"})
    elif (last - first).days + 1 > rules.MAX_RANGE_DAYS:
        problems.append({"field": "to", "message": f"a range covers at most {rules.MAX_RANGE_DAYS} days"})
    group_by = query.get("group_by") or None
    if group_by is not None and group_by not in rules.GROUPS:
        problems.append({"field": "group_by", "message": "day, week or month"})
    segment = query.get("segment") or None
    if segment is not None and not _SEGMENT.match(segment):
        problems.append({"field": "segment", "message": "a segment name (1 to 64 characters, no #)"})
    if problems:
        raise Invalid("bad_request", "the KPI query is not valid", problems)
    items, _ = kpis_repo.read_months(tenant.tenant_id, rules.months_between(first, last))
    days = rules.add_up(items, first, last, segment)
    policy = effective_policy(tenant.policy)
    prices = _prices(policy)
    result: dict[str, Any] = {
        "from": first.isoformat(), "to": last.isoformat(), "segment": segment, "group_by": group_by,
        "currency": policy.get("currency", "MXN"), "totals": rules.summarise(days, prices),
        "roll_rates": rules.roll_rates(days), "best_hours": rules.best_hours(days),
    }
    if group_by:
        periods: dict[str, dict[str, rules.Totals]] = {}
        cursor = first
        while cursor <= last:
            key = cursor.isoformat()
            periods.setdefault(rules.period_of(cursor, group_by), {})[key] = days.get(key) or rules.Totals({})
            cursor += timedelta(days=1)
        result["series"] = [{"period": period, **rules.summarise(members, prices)}
                            for period, members in sorted(periods.items())]
    return result


def day_totals(tenant_id: str, policy: Mapping[str, Any], days: list[date]) -> dict[str, dict[str, Any]]:
    """Each day's KPIs (the digest compares yesterday with the day before): a query a month."""
    items, _ = kpis_repo.read_months(tenant_id, rules.months_between(min(days), max(days)))
    return {day.isoformat(): rules.summarise(rules.add_up(items, day, day, None), _prices(policy))
            for day in days}


def report_figures(tenant_id: str, policy: Mapping[str, Any], day: date, hours_days: int, agent_days: int
                   ) -> dict[str, Any]:
    """What the daily report of ``day`` shows (reports.service): the day's KPIs, roll rates, level
    by bucket and visits per agent; the best hours over the ``hours_days`` and the visits per agent
    over the ``agent_days`` ending that day. A query a month (one or two), whatever the portfolio."""
    first = day - timedelta(days=max(hours_days, agent_days) - 1)
    items, _ = kpis_repo.read_months(tenant_id, rules.months_between(first, day))
    the_day = rules.add_up(items, day, day, None)
    hours_from, agents_from = day - timedelta(days=hours_days - 1), day - timedelta(days=agent_days - 1)
    return {"totals": rules.summarise(the_day, _prices(policy)), "roll_rates": rules.roll_rates(the_day),
            "level": rules.level_by_bucket(the_day), "agents": rules.visits_by_agent(the_day),
            "best_hours": {**rules.best_hours(rules.add_up(items, hours_from, day, None)), "from": hours_from.isoformat()},
            "agents_window": {"from": agents_from.isoformat(),
                              "agents": rules.visits_by_agent(rules.add_up(items, agents_from, day, None))}}


def rebuild_level(tenant_id: str) -> dict[str, int]:
    """Counts the tenant's portfolio level again from its accounts (``python -m infra.admin kpis
    rebuild-level``: after an upgrade, or to correct a drift); withdrawn accounts are out of it."""
    batch = kpis_repo.Batch(tenant_id)
    read = 0
    for account in accounts_repo.iter_tenant_accounts(tenant_id):
        read += 1
        if account.get("status") != "withdrawn":
            batch.move_level(account.get("segment"), account.get("aging_bucket"), 1, money_of(account).balance)
    kpis_repo.put_level(tenant_id, batch.level)
    return {"accounts_read": read, "level_values": len(batch.level)}
