"""Delivers one planned reminder (a message from a channel's queue), at most once.

The steps, for every message, whatever the number of deliveries:

1. read the attempt and the account together (one strongly consistent BatchGetItem);
2. an attempt that is already final (sent, skipped, failed) is acknowledged without sending;
   one whose id is already in the account's contact log was claimed by another delivery: while
   that claim is young the message comes back later (the other delivery may still be sending);
   an older claim died before recording its outcome, which is marked ``failed:
   outcome_unknown`` and never sent again (never twice beats maybe twice);
3. the contact rules are evaluated again on the fresh account (payment, opt-out, promise,
   caps; a payment recorded after the reminder was planned stops it, even a partial one): a
   stop marks the attempt ``skipped`` with the reason; outside the debtor's contact hours the
   message is held in SQS until the window opens (``Hold``: the handler sets its visibility,
   at most 12 h at a time);
4. the contact is claimed: one conditional write appends it to the account's contact log if
   nobody else changed the log meanwhile and the account is still contactable on the channel;
5. the channel sends; the outcome is written to the attempt. A permanent provider refusal marks
   the channel unusable for the account; a transient one releases the claim and retries later
   with backoff (``RetryLater``), ending in the DLQ after maxReceiveCount.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from ..accounts import store as accounts_repo
from ..accounts import timeline as timeline_repo
from ..accounts.channels import ADDRESS_FIELD, AUTOMATED_CHANNELS
from ..channels import PermanentFailure, Reminder, TransientFailure, UnknownOutcome, get_channel
from ..core import clock
from ..core.instants import local_date, parse_instant, utc_stamp
from ..core.observability import logger, metrics
from ..debtor import selfservice
from ..kpis import rules as kpi_rules
from ..kpis import store as kpis_repo
from ..payments.rules import money_of
from ..tenants import store as tenants_repo
from ..tenants.policy import effective_policy
from . import contact_rules

FINAL = frozenset({"sent", "skipped", "failed"})
#: The KPI counters of the reminders sent or failed, gathered over a batch of messages.
COUNTS = kpis_repo.Batches(shards=kpis_repo.SENDER_SHARDS)
OPEN = ("planned", "deferred")
#: SQS allows 12 h of visibility counted from the receive; keep a margin for the time spent.
MAX_HOLD_S = 12 * 3600 - 15 * 60
#: A claim younger than this may belong to a delivery still sending (the function's timeout
#: with room to spare); an older one died between claim and outcome.
CLAIM_LEASE = timedelta(minutes=5)
#: An attempt not sent within this long after its planned send time is dropped as stale.
EXPIRES_AFTER = timedelta(days=2)
REQUIRED = ("attempt_id", "tenant_id", "account_id", "entry_id", "channel")
CLAIM_TRIES = 3


class Hold(Exception):
    """Keep the message in the queue, invisible for ``seconds`` (the window is closed)."""

    def __init__(self, seconds: int):
        super().__init__(f"held {seconds} s until the contact window opens")
        self.seconds = seconds


class RetryLater(Exception):
    """The provider did not take the message; try again in ``seconds``."""

    def __init__(self, seconds: int, reason: str):
        super().__init__(f"retry in {seconds} s: {reason}")
        self.seconds = seconds


def backoff_seconds(receive_count: int) -> int:
    """30 s, 60 s, 120 s ... capped at 15 minutes."""
    return min(900, 30 * int(2 ** max(0, receive_count - 1)))


def deliver(message: Mapping[str, Any], receive_count: int = 1, real_now: datetime | None = None) -> dict[str, Any]:
    """Delivers one reminder message (see the module docstring); raises Hold or RetryLater when
    the message must come back later, ValueError when it is not a reminder."""
    try:
        return _deliver(message, receive_count, real_now)
    except _Settled as settled:
        return settled.result


def _deliver(message: Mapping[str, Any], receive_count: int, real_now: datetime | None) -> dict[str, Any]:
    _check_message(message)
    now = clock.in_frame(real_now or clock.utcnow(), message.get("clock_offset_s"))
    tenant_id, account_id, entry_id = message["tenant_id"], message["account_id"], message["entry_id"]
    ids = {"attempt_id": message["attempt_id"], "channel": message["channel"], "step": message.get("step")}
    logger.append_keys(tenant_id=tenant_id, attempt_id=message["attempt_id"])

    attempt, account = timeline_repo.read_attempt_and_account(tenant_id, account_id, entry_id)
    if attempt is None:
        raise ValueError("the attempt of this message does not exist")
    if attempt.get("status") in FINAL:
        return {**ids, "status": "duplicate"}
    if account is None:
        return _finish(message, "skipped", reason="account_not_found", now=now)
    log = list(account.get("contact_log") or [])
    _check_claim(message, log, now, receive_count)

    tenant = tenants_repo.get_tenant_cached(tenant_id)
    policy = effective_policy(tenant.policy if tenant else None)
    rules = contact_rules.Rules.from_policy(policy)
    send_at = parse_instant(message["send_at"]) if message.get("send_at") else now
    if now > send_at + EXPIRES_AFTER:
        return _finish(message, "skipped", reason="expired", now=now)
    account = _claim_contact(message, account, log, rules, now, receive_count, str(attempt.get("planned_at") or ""))
    reminder = Reminder(channel=message["channel"], to=_address(account, message["channel"]),
                        locale=policy.get("locale", "es-MX"), attempt_id=message["attempt_id"],
                        context=_context(tenant.name if tenant else tenant_id, account, message, now))
    day = local_date(now, tenant.timezone if tenant else str(account["timezone"])).isoformat()
    return _send(message, reminder, now, receive_count, (day, str(account.get("segment") or "general"),
                                                         kpi_rules.hour_slot(now, str(account["timezone"]))))


def _check_message(message: Mapping[str, Any]) -> None:
    """Raises ValueError unless the message is a reminder (every required key, a known channel)."""
    missing = [k for k in REQUIRED if not message.get(k)]
    if missing or message["channel"] not in AUTOMATED_CHANNELS:
        raise ValueError(f"not a reminder message (missing {', '.join(missing) or 'a known channel'})")


def _claim_contact(message: Mapping[str, Any], account: dict[str, Any], log: list[str], rules: contact_rules.Rules,
                   now: datetime, receive_count: int, planned_at: str) -> dict[str, Any]:
    """Decides on the fresh account and claims the contact (step 3 and 4); returns the account as
    claimed. ``planned_at`` is when the night planned the attempt: a payment recorded since stops
    it. A stop settles the attempt (``_Settled``), a closed window raises Hold, a contact log
    changed by others ``CLAIM_TRIES`` times in a row RetryLater."""
    tenant_id, account_id, channel = message["tenant_id"], message["account_id"], message["channel"]
    for _ in range(CLAIM_TRIES):
        if planned_at and contact_rules.paid_since(account, planned_at):
            raise _Settled(_finish(message, "skipped", reason="payment_recorded", now=now))
        decision = contact_rules.decide(account, channel, now, contact_rules.parse_contacts(log), rules)
        if decision.action == "skip":
            raise _Settled(_finish(message, "skipped", reason=decision.reason, now=now))
        assert decision.send_at is not None  # nosec B101  # type narrowing: decide() dates every send and defer
        if decision.action == "defer":  # the debtor's window is closed: wait in the queue
            raise Hold(max(1, min(MAX_HOLD_S, int((decision.send_at - now).total_seconds()) + 1)))
        new_log = contact_rules.trim_log(log, now) + [contact_rules.log_entry(now, channel, message["attempt_id"])]
        version = int(account.get("contact_version") or 0)
        cutoff = contact_rules.promise_cutoff(decision.send_at.astimezone(ZoneInfo(account["timezone"])).date(), rules)
        if accounts_repo.swap_contact_log(tenant_id, account_id, version, new_log, channel, cutoff, planned_at or None):
            return account
        fresh = accounts_repo.read_account(tenant_id, account_id)  # changed meanwhile: decide again
        if fresh is None:
            raise _Settled(_finish(message, "skipped", reason="account_not_found", now=now))
        account = fresh
        log = list(account.get("contact_log") or [])
        _check_claim(message, log, now, receive_count)
    raise RetryLater(backoff_seconds(receive_count), "contact log busy")


def _send(message: Mapping[str, Any], reminder: Reminder, now: datetime, receive_count: int,
          kpi: tuple[str, str, str]) -> dict[str, Any]:
    """Sends the claimed reminder and records the outcome (step 5); ``kpi``: the day, segment and
    debtor's hour slot the attempt counts in (COUNTS, written once per batch of messages)."""
    tenant_id, account_id, channel = message["tenant_id"], message["account_id"], message["channel"]
    day, segment, slot = kpi
    try:
        provider_id = get_channel(channel).send(reminder)
    except PermanentFailure as exc:
        accounts_repo.add_to_set(tenant_id, account_id, "unusable_channels", [channel], utc_stamp(now))
        _release(tenant_id, account_id, message["attempt_id"])
        result = _finish(message, "failed", reason=exc.reason, now=now)
        COUNTS.of(tenant_id).count(day, segment, kpi_rules.attempt_counters(channel, slot, delivered=False))
        return result
    except UnknownOutcome as exc:
        result = _finish(message, "failed", reason="outcome_unknown", now=now, detail=exc.reason)
        COUNTS.of(tenant_id).count(day, segment, kpi_rules.attempt_counters(channel, slot, delivered=False))
        return result
    except TransientFailure as exc:
        _release(tenant_id, account_id, message["attempt_id"])
        timeline_repo.update_entry(tenant_id, account_id, message["entry_id"],
                                   {"last_error": exc.reason, "updated_at": utc_stamp(now)})
        raise RetryLater(backoff_seconds(receive_count), exc.reason) from exc
    metrics.add_metric(name="RemindersSent", unit="Count", value=1)
    metrics.add_metric(name=f"RemindersSent_{channel}", unit="Count", value=1)
    result = _finish(message, "sent", now=now, provider_message_id=provider_id)
    COUNTS.of(tenant_id).count(day, segment, kpi_rules.attempt_counters(channel, slot, delivered=True))
    return result


def flush_counts() -> int:
    """Writes the KPI counters of the messages handled since the last flush (the dispatch
    function calls it once per SQS batch); the requests it took."""
    return COUNTS.flush()


def _check_claim(message: Mapping[str, Any], log: list[str], now: datetime, receive_count: int) -> None:
    """Another delivery of this attempt already claimed it: wait while that one may still be
    sending; once its lease is over it died before recording the outcome, which stays unknown
    (never sent again). Raises, or returns when the attempt is not claimed."""
    claimed = contact_rules.claimed_at(log, message["attempt_id"])
    if claimed is None:
        return
    if now - claimed < CLAIM_LEASE:
        raise RetryLater(backoff_seconds(receive_count), "another delivery is sending this attempt")
    raise _Settled(_finish(message, "failed", reason="outcome_unknown", now=now))


class _Settled(Exception):
    """The attempt's outcome is decided without sending (carries the result)."""

    def __init__(self, result: dict[str, Any]):
        super().__init__(result.get("status"))
        self.result = result


def _address(account: Mapping[str, Any], channel: str) -> str:
    return str(account.get(ADDRESS_FIELD[channel]) or "")


def _context(lender: str, account: Mapping[str, Any], message: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    links = selfservice.links_for(account["tenant_id"], account["account_id"], message["channel"], now)
    as_of = message.get("planned_for") or now.date().isoformat()
    return {
        "debtor_name": account["debtor_name"],
        "lender": lender,
        "amount": f"{money_of(account).balance:,.2f}",  # what is owed now, after the payments recorded
        "currency": account["currency"],
        "as_of": as_of,
        "due_date": account["due_date"],
        "overdue": str(account["due_date"]) < as_of,  # "venció" / "vence": the tense of the due date
        "payment_reference": account.get("payment_reference"),
        **links,
    }


def _release(tenant_id: str, account_id: str, attempt: str) -> None:
    """Takes an attempt that did not reach the debtor back out of the contact log."""
    for _ in range(CLAIM_TRIES):
        account = accounts_repo.read_account(tenant_id, account_id)
        if account is None:
            return
        log = list(account.get("contact_log") or [])
        kept = [e for e in log if not contact_rules.logged([e], attempt)]
        if kept == log:
            return
        version = int(account.get("contact_version") or 0)
        if accounts_repo.swap_contact_log(tenant_id, account_id, version, kept):
            return
    logger.warning("could not release a contact claim; it counts towards the caps")


def _finish(message: Mapping[str, Any], status: str, *, now: datetime, reason: str | None = None,
            **fields: Any) -> dict[str, Any]:
    """Records the attempt's outcome (only if it is still open: a concurrent delivery wins)."""
    values = {"status": status, "reason": reason, "updated_at": utc_stamp(now), **fields}
    if status == "sent":
        values["sent_at"] = utc_stamp(now)
    recorded = timeline_repo.update_entry(message["tenant_id"], message["account_id"], message["entry_id"],
                                          {k: v for k, v in values.items() if v is not None}, expect_status=OPEN)
    if status != "sent":
        metrics.add_metric(name=f"Reminders{status.capitalize()}", unit="Count", value=1)
    logger.info(f"reminder {status}", extra={"channel": message["channel"], "step": message.get("step"),
                                             "reason": reason, "recorded": recorded})
    return {"attempt_id": message["attempt_id"], "channel": message["channel"], "status": status,
            **({"reason": reason} if reason else {}), **({k: v for k, v in fields.items() if k == "provider_message_id"})}
