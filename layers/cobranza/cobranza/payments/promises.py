"""Promises to pay (SPEC §6b): made through the API, a visit or the debtor's link; kept or broken.

- An account has at most one open promise: a new one replaces it (the timeline keeps both).
- The account keeps the promise as ``promise_amount`` (the total), ``promise_date`` (the date
  its next unpaid installment is due: what contact waits for, plus the policy's grace days),
  ``promise_plan`` (the installments of a plan, ``YYYY-MM-DD=amount``), ``promise_paid`` (paid
  toward it so far) and ``promise_made_at``.
- Payments advance it (payments.service): an installment covered moves ``promise_date`` to the
  next one; the last one covered keeps it.
- The nightly run breaks it (``break_if_due``) the day after its date plus the grace days:
  status back to ``active``, alarm ``promise_broken``, the cadence resumes from where the account
  stands. The account is due in the nightly index that day (accounts.service.refresh_derived).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Mapping

from ..accounts import alarms as alarms_repo
from ..accounts import status as account_status
from ..accounts import store as accounts_repo
from ..accounts import timeline as timeline_repo
from ..core import transactions
from ..core.errors import Conflict, Invalid, NotFound, Unprocessable
from ..core.instants import local_date, utc_stamp
from ..kpis import store as kpis_repo
from ..tenants.policy import effective_policy
from . import rules
from . import store as payments_repo
from .rows import PROMISE_SOURCES, to_promise


def grace_days(tenant_policy: Mapping[str, Any] | None) -> int:
    """The days contact stays paused after a promise's date (the policy's contact rules)."""
    return int(effective_policy(tenant_policy)["contact_rules"]["promise_grace_days"])


def parse(body: Any, account: Mapping[str, Any], today: date, field: str = "") -> rules.Promise:
    """The promise of an API or form body on ``account`` (400 / 422 / 409 when it cannot be made)."""
    if not isinstance(body, dict):
        raise Invalid("bad_request", "the body must be a JSON object with amount and due_on")
    if account_status.of(account) in account_status.NO_PROMISE:
        raise Conflict("conflict", f"the account is {account.get('status')}; no promise can be recorded")
    promise, problems = to_promise(body, rules.money_of(account).balance, today, field)
    if promise is None:
        raise Unprocessable("validation_failed", "the promise is not valid", problems)
    return promise


def parse_source(raw: Any, default: str) -> str:
    if raw is None:
        return default
    if raw not in PROMISE_SOURCES:
        raise Unprocessable("validation_failed", "the promise is not valid",
                            [{"field": "source", "message": "one of " + ", ".join(PROMISE_SOURCES)}])
    return str(raw)


def record(tenant_id: str, account: Mapping[str, Any], promise: rules.Promise, source: str, now: datetime,
           grace_days: int) -> dict[str, Any]:
    """Makes ``promise`` the account's open promise (replacing any other) and pauses contact
    until its first date plus ``grace_days``; returns the promise as the API shows it."""
    stamp = utc_stamp(now)
    first_due = promise.installments[0].due_on
    check_on = first_due + timedelta(days=grace_days + 1)
    current_next = account.get("next_action_on")
    next_on = min(check_on.isoformat(), str(current_next)) if current_next else check_on.isoformat()
    fields: dict[str, Any] = {
        "status": "promised", "promise_date": first_due.isoformat(), "promise_amount": promise.amount,
        "promise_paid": 0,  # a new promise: nothing paid toward it yet
        "promise_plan": rules.plan_to_wire(promise) if len(promise.installments) > 1 else None,
        "promise_made_at": stamp, "updated_at": stamp,
        "next_action_on": next_on, "due_shard": accounts_repo.due_shard(tenant_id, account["account_id"]),
    }
    blocked = {":s" + str(i): {"S": s} for i, s in enumerate(sorted(account_status.NO_PROMISE))}
    if not accounts_repo.update_fields(tenant_id, account["account_id"], fields,
                                       condition="NOT #status IN (" + ", ".join(blocked) + ")",
                                       names={"#status": "status"}, values=blocked):
        raise Conflict("conflict", "the account changed; no promise was recorded")
    replaced = _open_promise(account)
    shown = {"amount": f"{promise.amount:.2f}", "due_on": promise.due_on.isoformat(),
             "installments": [{"amount": f"{i.amount:.2f}", "due_on": i.due_on.isoformat()}
                              for i in promise.installments],
             "source": source, "made_at": stamp}
    timeline_repo.put_new({
        "account_key": timeline_repo.account_key(tenant_id, account["account_id"]),
        "entry_id": f"{stamp}#promise#{promise.due_on.isoformat()}#{promise.amount:.2f}", "kind": "promise", "tenant_id": tenant_id,
        "account_id": account["account_id"], "amount": promise.amount, "promise_date": promise.due_on.isoformat(),
        "installments": shown["installments"] if len(promise.installments) > 1 else None,
        "source": source, "status": "recorded", "created_at": stamp, "replaces": replaced,
    })
    kpis_repo.add(tenant_id, local_date(now, str(account.get("timezone") or "America/Mexico_City")).isoformat(),
                  str(account.get("segment") or "general"), {"promises_made": 1})
    return {"account_id": account["account_id"], "status": "promised", "promise": shown, "replaces": replaced,
            "contact_paused_until": (first_due + timedelta(days=grace_days)).isoformat(), "recorded_at": stamp}


def _open_promise(account: Mapping[str, Any]) -> dict[str, str] | None:
    """The promise a new one replaces (None when the account had none open)."""
    if account_status.of(account) != "promised" or account.get("promise_amount") is None:
        return None
    return {"amount": f"{account['promise_amount']:.2f}", "due_on": str(account.get("promise_date"))}


def record_for(tenant_id: str, account_id: str, body: Any, today: date, now: datetime, grace_days: int,
               default_source: str = "api") -> dict[str, Any]:
    """POST /v1/accounts/{account_id}/promises: the promise of ``body`` on the tenant's account."""
    account = accounts_repo.read_account(tenant_id, account_id)
    if account is None:
        raise NotFound("not_found", f"account {account_id} not found")
    promise = parse(body, account, today)
    source = parse_source(body.get("source"), default_source)
    return record(tenant_id, account, promise, source, now, grace_days)


def break_if_due(tenant_id: str, account: Mapping[str, Any], today: date, grace_days: int, now: datetime) -> bool:
    """Breaks the account's open promise when its next installment went unpaid past the grace
    days (status ``active``, alarm ``promise_broken``, a timeline entry, in one transaction);
    True when it did. A rerun, or a payment or new promise recorded meanwhile, finds the
    condition false and changes nothing."""
    if not rules.is_broken(account, today, grace_days):
        return False
    stamp = utc_stamp(now)
    account_id, promise_date = account["account_id"], str(account["promise_date"])
    details = {"amount": account.get("promise_amount"), "promise_date": promise_date,
               "paid": account.get("promise_paid") or 0, "made_at": account.get("promise_made_at")}
    subject = f"promise#{account_id}#{promise_date}"
    try:
        transactions.write_together([
            payments_repo.account_promise_broken_update(tenant_id, account_id, promise_date, today.isoformat(), stamp,
                                                        alarms_repo.alarm_id(stamp, "promise_broken", subject)),
            alarms_repo.alarm_put(tenant_id, "promise_broken", subject,
                                  f"account {account_id} did not pay its promise due {promise_date}", stamp,
                                  {"account_id": account_id}),
            timeline_repo.promise_event_put(tenant_id, account_id, stamp, "promise_broken", details),
        ])
    except transactions.WriteConflict:
        return False
    kpis_repo.add(tenant_id, today.isoformat(), str(account.get("segment") or "general"), {"promises_broken": 1})
    return True
