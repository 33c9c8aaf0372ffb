"""The result of a call, message, letter or office visit (SPEC §6b), and the next step it sets.

``POST /v1/accounts/{account_id}/outcomes`` records it in the account's timeline and acts on it
through the policy's ``outcome_rules`` (call_rules.next_step, the table visits use too):

- a call (channel ``phone``) is a contact: it joins the account's contact log, so it counts
  toward the caps (1 a day across channels, 7 in 7 days), and the tenant's call statistics by
  segment, weekday and hour (the best hours to call);
- ``promise_to_pay`` records its ``promise`` as the account's open promise (payments.promises);
- a rule's ``status`` (``dispute``: disputed, which stops contact until resolved;
  ``paid_reported``: payment_reported), ``unusable`` (``wrong_number``: every channel of the
  phone), ``close_contact`` (``deceased``: no contact of any kind), ``callback``
  (``callback_requested``: a call task at ``callback_at``, inside the debtor's window) and
  ``alarm`` (raised once per account and cause);
- ``task_id`` closes the call task it answers.

Posting the same outcome again (same channel, result, time, agent and task) changes nothing and
answers the first recording.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from ..accounts import alarms as alarms_repo
from ..accounts import status as account_status
from ..accounts import store as accounts_repo
from ..accounts import timeline as timeline_repo
from ..core.errors import Conflict, NotFound, Unprocessable
from ..core.instants import local_date, parse_instant, utc_stamp
from ..core.tables import TenantModel
from ..kpis import rules as kpi_rules
from ..kpis import store as kpis_repo
from ..payments import promises
from ..tenants.policy import effective_policy
from . import call_rules, calls, contact_rules
from . import calls_store as calls_repo

#: Tries at appending a call to the contact log while other writers change it.
LOG_TRIES = 5
#: A recording of the same outcome younger than this may still be running (the API's timeout
#: with room to spare); an older one without its answer died and is done again.
CLAIM_LEASE = timedelta(minutes=2)
#: Promise sources by the channel the promise was made on.
_PROMISE_SOURCE = {"phone": "phone", "in_person": "branch", "email": "email", "sms": "sms", "whatsapp": "whatsapp"}


def record(tenant: TenantModel, account_id: str, body: Any, now: datetime) -> dict[str, Any]:
    """Records one outcome and its next step; returns what was done (201).

    Everything is checked first (a 4xx records nothing). Then the timeline entry is claimed (a
    conditional put): a copy of the same outcome posted meanwhile finds it and answers the first
    recording, or 409 while that one is still running; a recording that died before its answer
    is done again after CLAIM_LEASE. The effects follow, and the entry keeps the answer."""
    outcome, problems = call_rules.to_outcome(body, now)
    if outcome is None:
        raise Unprocessable("validation_failed", "the outcome is not valid", problems)
    account = accounts_repo.read_account(tenant.tenant_id, account_id)
    if account is None:
        raise NotFound("not_found", f"account {account_id} not found")
    policy = effective_policy(tenant.policy)
    rules = contact_rules.Rules.from_policy(policy)
    tz = account.get("timezone") or tenant.timezone
    _check_task_and_callback(outcome, account_id, tz, rules)
    step = call_rules.next_step(outcome.result, policy.get("outcome_rules"))
    promise = (promises.parse(body.get("promise"), account, local_date(outcome.occurred_at, tenant.timezone),
                              field="promise.") if outcome.result == "promise_to_pay" else None)
    outcome_id = _outcome_id(account_id, outcome)
    entry_id = f"{utc_stamp(outcome.occurred_at)}#outcome#{outcome_id}"
    stamp = utc_stamp(now)
    earlier = timeline_repo.put_new({
        "account_key": timeline_repo.account_key(tenant.tenant_id, account_id), "entry_id": entry_id,
        "kind": "outcome", "tenant_id": tenant.tenant_id, "account_id": account_id, "status": "recorded",
        "channel": outcome.channel, "result": outcome.result, "occurred_at": utc_stamp(outcome.occurred_at),
        "agent_id": outcome.agent, "duration_s": outcome.duration_s, "notes": outcome.notes,
        "task_id": outcome.task_id, "created_at": stamp,
    })
    if earlier is not None:
        if earlier.get("answer"):
            return {**earlier["answer"], "duplicate": True}
        if now - parse_instant(str(earlier["created_at"])) < CLAIM_LEASE:
            raise Conflict("conflict", "this outcome is being recorded; send it again in a moment")
    answer = _act(tenant, account, outcome, outcome_id, step, promise, tz, now)
    timeline_repo.update_entry(tenant.tenant_id, account_id, entry_id, {"answer": answer})
    return {**answer, "duplicate": False}


def _act(tenant: TenantModel, account: dict[str, Any], outcome: call_rules.Outcome, outcome_id: str,
         step: call_rules.NextStep, promise: Any, tz: str, now: datetime) -> dict[str, Any]:
    """The outcome's effects, each its owner's write; returns the answer."""
    tenant_id, account_id, stamp = tenant.tenant_id, account["account_id"], utc_stamp(now)
    shown = None
    if promise is not None:
        source = _PROMISE_SOURCE.get(outcome.channel, "other")
        shown = promises.record(tenant_id, account, promise, source, now, promises.grace_days(tenant.policy))["promise"]
    status = _apply(tenant_id, account, outcome, outcome_id, step, stamp)
    task_closed = False
    if outcome.task_id:  # before a callback, which may reopen that day's task for the debtor's time
        on, _ = call_rules.parse_task_id(outcome.task_id) or (None, None)
        if on is not None:
            task_closed = calls_repo.close_task(tenant_id, on, account_id, {
                "result": outcome.result, "occurred_at": utc_stamp(outcome.occurred_at), "outcome_id": outcome_id})
    callback = calls.plan_callback(account, outcome.callback_at, outcome.agent) if step.callback and outcome.callback_at else None
    if step.alarm:
        alarms_repo.raise_alarm(tenant_id, step.alarm, f"account#{account_id}#{outcome.result}",
                                f"account {account_id}: {outcome.result.replace('_', ' ')} ({outcome.channel})", stamp,
                                {"account_id": account_id})
    slot, right_party = kpi_rules.hour_slot(outcome.occurred_at, tz), outcome.result in call_rules.RIGHT_PARTY
    if outcome.channel == call_rules.CALL_CHANNEL:
        calls_repo.count_call(tenant_id, account.get("segment") or "general", slot, right_party)
    kpis_repo.add(tenant_id, local_date(outcome.occurred_at, tenant.timezone).isoformat(),
                  account.get("segment") or "general", kpi_rules.contact_counters(outcome.channel, slot, right_party))
    return {
        "outcome_id": outcome_id, "account_id": account_id, "channel": outcome.channel, "result": outcome.result,
        "occurred_at": utc_stamp(outcome.occurred_at), "account_status": status, "next_step": step.as_dict(),
        "promise": shown, "callback": callback, "task_closed": task_closed, "recorded_at": stamp,
    }


def _outcome_id(account_id: str, outcome: call_rules.Outcome) -> str:
    content = [account_id, outcome.channel, outcome.result, utc_stamp(outcome.occurred_at), outcome.agent or "",
               outcome.task_id or ""]
    return "out_" + hashlib.sha256(json.dumps(content).encode()).hexdigest()[:20]


def _check_task_and_callback(outcome: call_rules.Outcome, account_id: str, tz: str, rules: contact_rules.Rules) -> None:
    problems = []
    if outcome.task_id and (call_rules.parse_task_id(outcome.task_id) or (None, ""))[1] != account_id:
        problems.append({"field": "task_id", "message": "a call task of this account"})
    if outcome.callback_at and not contact_rules.in_window(outcome.callback_at, tz, rules):
        problems.append({"field": "callback_at", "message": "inside the debtor's contact hours "
                         f"({rules.window_start:%H:%M}-{rules.window_end:%H:%M} {tz})"})
    if problems:
        raise Unprocessable("validation_failed", "the outcome is not valid", problems)


def _apply(tenant_id: str, account: dict[str, Any], outcome: call_rules.Outcome, outcome_id: str,
           step: call_rules.NextStep, stamp: str) -> str:
    """The outcome's effects on the account (each one its own owner's write); returns its status."""
    account_id = account["account_id"]
    status = account_status.of(account)
    if step.account_status and step.account_status != status and outcome.result != "promise_to_pay":
        blocked = {":s" + str(i): {"S": s} for i, s in enumerate(sorted(account_status.CLOSED))}
        if accounts_repo.update_fields(tenant_id, account_id, {"status": step.account_status, "updated_at": stamp},
                                       condition="NOT #status IN (" + ", ".join(blocked) + ")",
                                       names={"#status": "status"}, values=blocked):
            status = step.account_status
        elif status not in account_status.CLOSED:
            raise Conflict("conflict", "the account changed; try again")
    elif outcome.result == "promise_to_pay":
        status = "promised"
    if step.unusable:
        accounts_repo.add_to_set(tenant_id, account_id, "unusable_channels", list(step.unusable), stamp)
    if step.close_contact:
        accounts_repo.update_fields(tenant_id, account_id, {"contact_closed": outcome.result, "updated_at": stamp})
    if outcome.channel == call_rules.CALL_CHANNEL:
        _log_call(tenant_id, account, outcome, outcome_id)
    return status


def _log_call(tenant_id: str, account: dict[str, Any], outcome: call_rules.Outcome, outcome_id: str) -> None:
    """Appends the call to the account's contact log (the caps count it), once."""
    for _ in range(LOG_TRIES):
        log = list(account.get("contact_log") or [])
        if contact_rules.logged(log, outcome_id):
            return
        new_log = contact_rules.trim_log(log + [contact_rules.log_entry(outcome.occurred_at, "call", outcome_id)],
                                         outcome.occurred_at)
        if accounts_repo.swap_contact_log(tenant_id, account["account_id"], int(account.get("contact_version") or 0),
                                          sorted(new_log)):
            return
        account = accounts_repo.read_account(tenant_id, account["account_id"]) or account
    raise Conflict("conflict", "the account's contact log kept changing; try again")
