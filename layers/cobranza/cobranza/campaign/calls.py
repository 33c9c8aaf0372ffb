"""The phone team's day (SPEC §6b): the night's call tasks, callbacks, and the day's call list.

- The night makes a call task for each cadence step with channel ``call`` that the contact rules
  allow (``plan_call``); an outcome ``callback_requested`` plans one at the debtor's time
  (``plan_callback``). One task per account and day.
- ``GET /v1/calls`` (``call_list``) reads the day's open tasks in priority order (broken
  promises first, then amount x risk) and checks each account again as it is now: only those that
  may still be called today under the contact rules are listed (status, opt-outs, a usable
  phone, 1 contact a day, 7 in 7 days, the debtor's hours), with the phone, the local window
  and the best hours to call (call_rules.best_hours).
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from ..accounts import store as accounts_repo
from ..core import clock, pagination
from ..core.errors import Invalid
from ..core.instants import local_date, utc_stamp
from ..core.pagination import parse_limit
from ..core.tables import TenantModel
from ..payments.rules import money_of
from ..tenants.policy import effective_policy
from . import call_rules, contact_rules
from . import calls_store as calls_repo

#: Call tasks are kept this long after their day (the table's TTL).
KEEP_DAYS = 90


def task_item(account: Mapping[str, Any], on: date, source: str, agent: str | None = None,
              call_at: datetime | None = None) -> dict[str, Any]:
    """A new call task for ``account`` on ``on`` (its list position from the account as it is)."""
    tenant_id, account_id = account["tenant_id"], account["account_id"]
    rank = call_rules.priority_key(account, money_of(account).balance, on)
    item: dict[str, Any] = {
        "task_id": call_rules.task_id(on, account_id), "tenant_id": tenant_id, "account_id": account_id,
        "date": on.isoformat(), "source": source, "rank_key": rank, "priority": "promise_broken" if rank[0] == "0"
        else "amount_risk", "segment": account.get("segment") or "general",
        "expires_at": int(datetime.combine(on + timedelta(days=KEEP_DAYS), time()).timestamp()),
    }
    if agent:
        item["agent_id"] = agent
        item["agent_list_key"] = f"{calls_repo.day_key(tenant_id, on)}#{agent}"
    if call_at:
        item["call_at"] = utc_stamp(call_at)
    return item


def plan_call(account: Mapping[str, Any], on: date, step_id: str) -> str:
    """The night's call task of a cadence step; returns its id (the same on a rerun)."""
    task = task_item(account, on, f"cadence:{step_id}")
    calls_repo.put_task(account["tenant_id"], on, task)
    return str(task["task_id"])


def plan_callback(account: Mapping[str, Any], call_at: datetime, agent: str | None) -> dict[str, str]:
    """The call the debtor asked for at ``call_at`` (inside their contact window), on that day's list."""
    on = local_date(call_at, account.get("timezone") or "America/Mexico_City")
    task = task_item(account, on, "callback", agent, call_at)
    calls_repo.plan_callback(account["tenant_id"], on, task)
    return {"task_id": task["task_id"], "call_at": task["call_at"]}


def call_list(tenant: TenantModel, query: Mapping[str, str], now: datetime | None = None) -> dict[str, Any]:
    """GET /v1/calls: a page of the day's callable accounts, in priority order."""
    now = now or clock.utcnow()
    today = local_date(now, tenant.timezone)
    try:
        on = date.fromisoformat(query["date"]) if query.get("date") else today
    except ValueError:
        raise Invalid("bad_request", "date must be an ISO date (YYYY-MM-DD)") from None
    agent = query.get("agent") or None
    limit = parse_limit(query.get("limit"))
    scope = pagination.scope("calls", tenant.tenant_id, date=on.isoformat(), agent=agent or "")
    tasks, last = calls_repo.list_open(tenant.tenant_id, on, agent, limit, pagination.start_of(scope, query))
    policy = effective_policy(tenant.policy)
    rules = contact_rules.Rules.from_policy(policy)
    accounts = accounts_repo.read_accounts(tenant.tenant_id, [t["account_id"] for t in tasks])
    stats = calls_repo.hour_stats(tenant.tenant_id, {t.get("segment") or "general" for t in tasks})
    items = []
    for task in tasks:
        account = accounts.get(task["account_id"])
        if account is None:
            continue
        reason = _not_callable(account, on, now, rules, callback=task.get("source") == "callback")
        if reason is None:
            items.append(_view(task, account, on, rules, policy, stats.get(task.get("segment") or "general", {})))
    return {"date": on.isoformat(), "items": items, "next_token": pagination.next_token(scope, last)}


def _not_callable(account: Mapping[str, Any], on: date, now: datetime, rules: contact_rules.Rules,
                  callback: bool = False) -> str | None:
    """Why the account may not be called on ``on`` (None: it may): the stops of every channel,
    the caps counted at the window's opening that day (or now, today), the day's window over. A
    callback the debtor asked for is not held back by that day's earlier contact (the call that
    took the request), only by the 7 in 7 days."""
    tz = account.get("timezone") or "America/Mexico_City"
    reason = contact_rules.stop_reason(account, "call", on, rules)
    if reason:
        return reason
    opening = datetime.combine(on, rules.window_start, ZoneInfo(tz))
    moment = max(now, opening)
    if moment >= contact_rules.window_closing(opening, tz, rules):
        return "window_closed"
    reason = contact_rules.cap_reason(contact_rules.parse_contacts(account.get("contact_log")), moment, tz, rules)
    return None if callback and reason == "daily_cap" else reason


def _view(task: Mapping[str, Any], account: Mapping[str, Any], on: date, rules: contact_rules.Rules,
          policy: Mapping[str, Any], stats: Mapping[str, Any]) -> dict[str, Any]:
    calls_policy = policy["calls"]
    tz = account.get("timezone") or "America/Mexico_City"
    return {
        "task_id": task["task_id"], "account_id": account["account_id"], "debtor_name": account.get("debtor_name"),
        "phone": account.get("phone"), "balance": f"{money_of(account).balance:.2f}",
        "currency": account.get("currency") or policy.get("currency", "MXN"),
        "days_past_due": account.get("days_past_due"), "segment": task.get("segment"),
        "priority": task.get("priority"), "source": task.get("source"), "call_at": task.get("call_at"),
        "agent_id": task.get("agent_id"),
        "window": {"start": rules.window_start.strftime("%H:%M"), "end": rules.window_end.strftime("%H:%M"),
                   "timezone": tz},
        "best_hours": call_rules.best_hours(stats, on.weekday(), (rules.window_start, rules.window_end),
                                            calls_policy["default_best_hours"], int(calls_policy["min_attempts"])),
    }
