"""Recording payments (SPEC §6b): each one, from a file or the API, in one transaction with its
account and its timeline entry; idempotent by the tenant's payment id."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Iterable

from ..accounts import alarms as alarms_repo
from ..accounts import status as account_status
from ..accounts import store as accounts_repo
from ..accounts import timeline as timeline_repo
from ..core import clock, transactions
from ..core.instants import local_date, utc_stamp
from ..kpis import store as kpis_repo
from ..tenants import store as tenants_repo
from . import rules
from . import store as payments_repo

#: An account written by someone else between our read and our write is read again this often.
MAX_TRIES = 5


@dataclass(frozen=True)
class Outcome:
    payment_id: str
    status: str  # applied, duplicate, conflict, rejected
    reason: str | None = None
    account_status: str | None = None
    balance: Decimal | None = None
    credit: Decimal | None = None
    #: What an applied payment adds to the KPIs: (day paid, segment, aging bucket, amount
    #: recovered (negative for a reversal), how much less is owed, whether it kept the promise).
    kpi: tuple[datetime, str, str | None, Decimal, Decimal, bool] | None = field(default=None, compare=False, repr=False)
    #: The ``promise_broken`` alarm a kept promise resolves (the account's ``broken_alarm_id``).
    resolves: str | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"payment_id": self.payment_id, "status": self.status}
        if self.reason:
            out["reason"] = self.reason
        if self.status == "applied":
            out.update(account_status=self.account_status, balance=f"{self.balance:.2f}", credit=f"{self.credit:.2f}")
        return out


#: TransactWriteItems takes at most 100 items: a chunk holds whole payments up to that.
MAX_ITEMS = 100


@dataclass
class _Planned:
    """One payment's transaction, decided from its account as read (``outcome`` once written)."""

    index: int
    items: list[dict[str, Any]]
    roles: list[str]
    outcome: Outcome


def record(tenant_id: str, payments: Iterable[rules.Payment], source: str, now: str, threads: int = 1) -> list[Outcome]:
    """Records each payment; the outcomes in the order given.

    The payments go in rounds: a round takes the next payment of each account (so an account's
    payments, a payment and its reversal among them, apply in their order) and never one
    payment id twice. A round reads its accounts together (a BatchGetItem per 100), decides each
    payment from its account, and writes the payments in shared transactions of up to 100 items
    (about 30 payments each; ``threads`` of them at once). A transaction refused because one of
    its accounts changed since the read, or a payment id was taken meanwhile, is not lost: each
    of its payments is then recorded alone, reading its account again. A file of 100,000
    payments costs a few thousand requests (bench/payments.py)."""
    batch = list(payments)
    known = payments_repo.get_payments(tenant_id, [p.payment_id for p in batch] + [p.reverses for p in batch if p.reverses])
    outcomes: list[Outcome | None] = [None] * len(batch)
    pending = list(range(len(batch)))
    while pending:
        this_round, later = [], []
        taken: set[tuple[str, str]] = set()
        for index in pending:
            payment = batch[index]
            names = {("account", payment.account_id), ("payment", payment.payment_id)}
            if payment.reverses:
                names.add(("payment", payment.reverses))
            if names & taken:
                later.append(index)
            else:
                this_round.append(index)
            taken |= names
        # stamped when written, not when the file started: the sender compares it with a reminder's planning
        round_now = max(now, utc_stamp(clock.utcnow()))
        _record_round(tenant_id, batch, this_round, source, round_now, known, outcomes, threads)
        pending = later
    recorded = [outcome for outcome in outcomes if outcome is not None]
    _count(tenant_id, recorded)
    return recorded


def _count(tenant_id: str, recorded: list[Outcome]) -> None:
    """The applied payments' KPIs: amount recovered, payments, promises kept, the portfolio's
    owed amount; a request per day and segment, after the payments are stored."""
    counts = kpis_repo.Batch(tenant_id)
    tenant = tenants_repo.get_tenant_cached(tenant_id)
    zone = tenant.timezone if tenant else "America/Mexico_City"
    for outcome in recorded:
        if outcome.status != "applied" or outcome.kpi is None:
            continue
        paid_at, segment, bucket, amount, owed_less, kept = outcome.kpi
        day = local_date(paid_at, zone).isoformat()  # the tenant's day the money came in
        counts.count(day, segment, {"recovered": amount, "payments": 1 if amount > 0 else 0,
                                    "reversals": 1 if amount < 0 else 0, "promises_kept": 1 if kept else 0})
        counts.move_level(segment, bucket, 0, -owed_less)
        if kept and outcome.resolves:  # a promise kept after one was broken: that alarm's cause is gone
            alarms_repo.resolve(tenant_id, outcome.resolves, "promise_broken", "promise_kept", utc_stamp(clock.utcnow()))
    counts.flush()


def _record_round(tenant_id: str, batch: list[rules.Payment], indexes: list[int], source: str, now: str,
                  known: dict[str, dict[str, Any]], outcomes: list[Outcome | None], threads: int) -> None:
    accounts = accounts_repo.read_accounts(tenant_id, {batch[i].account_id for i in indexes})
    planned: list[_Planned] = []
    for index in indexes:
        decided = _decide(tenant_id, batch[index], source, now, known, accounts.get(batch[index].account_id))
        if isinstance(decided, Outcome):
            outcomes[index] = decided
        else:
            planned.append(_Planned(index, *decided))
    chunks = _chunks(planned)

    def write(chunk: list[_Planned]) -> None:
        try:
            transactions.write_together([item for plan in chunk for item in plan.items])
        except transactions.WriteConflict:
            for plan in chunk:  # one account changed or one id was taken meanwhile: each one alone
                outcomes[plan.index] = _record_one(tenant_id, batch[plan.index], source, now, known)
            return
        for plan in chunk:
            outcomes[plan.index] = plan.outcome
            _remember(known, batch[plan.index])

    if threads <= 1 or len(chunks) <= 1:
        for chunk in chunks:
            write(chunk)
    else:
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="payments") as pool:
            list(pool.map(write, chunks))


def _chunks(planned: list[_Planned]) -> list[list[_Planned]]:
    """Whole payments in transactions of at most MAX_ITEMS items."""
    chunks: list[list[_Planned]] = []
    size = 0
    for plan in planned:
        if not chunks or size + len(plan.items) > MAX_ITEMS:
            chunks.append([])
            size = 0
        chunks[-1].append(plan)
        size += len(plan.items)
    return chunks


def _decide(tenant_id: str, payment: rules.Payment, source: str, now: str, known: dict[str, dict[str, Any]],
            account: dict[str, Any] | None) -> Outcome | tuple[list[dict[str, Any]], list[str], Outcome]:
    """What to do with one payment given its account as read: an outcome at once (a repeat, a
    refusal), or its transaction and the outcome it has once written."""
    fingerprint = rules.fingerprint(payment)
    if payment.payment_id in known:
        return _repeat(payment, fingerprint, known[payment.payment_id])
    reversed_payment = known.get(payment.reverses) if payment.reverses else None
    if payment.reverses:
        problem = _reversal_problem(payment, reversed_payment)
        if problem:
            return Outcome(payment.payment_id, "rejected", problem)
    if account is None:
        return Outcome(payment.payment_id, "rejected", "unknown_account")
    return _plan(tenant_id, payment, fingerprint, source, now, reversed_payment, account)


def _remember(known: dict[str, dict[str, Any]], payment: rules.Payment) -> None:
    """A payment just applied is known to the rest of the batch (a repeat, a reversal of it)."""
    known[payment.payment_id] = {"payment_id": payment.payment_id, "fingerprint": rules.fingerprint(payment),
                                 "account_id": payment.account_id, "amount": payment.amount, "status": "applied",
                                 "reverses": payment.reverses}
    if payment.reverses and payment.reverses in known:
        known[payment.reverses] = {**known[payment.reverses], "status": "reversed"}


def _record_one(tenant_id: str, payment: rules.Payment, source: str, now: str,
                known: dict[str, dict[str, Any]]) -> Outcome:
    """One payment alone, reading its account again as long as others keep writing it."""
    for _ in range(MAX_TRIES):
        decided = _decide(tenant_id, payment, source, now, known, accounts_repo.read_account(tenant_id, payment.account_id))
        if isinstance(decided, Outcome):
            return decided
        items, roles, outcome = decided
        try:
            transactions.write_together(items)
        except transactions.WriteConflict as conflict:
            failed = conflict.failed(roles)
            if conflict.retryable and not failed:
                continue  # another transaction on one of its items at that moment: send it again
            if "payment" in failed:
                stored = payments_repo.get_payments(tenant_id, [payment.payment_id]).get(payment.payment_id)
                if stored is not None:
                    return _repeat(payment, rules.fingerprint(payment), stored)
            if "reversed" in failed:
                return Outcome(payment.payment_id, "rejected", "already_reversed")
            continue  # the account changed meanwhile: read it again
        _remember(known, payment)
        return outcome
    return Outcome(payment.payment_id, "rejected", "account_busy")  # nothing written: send it again later


def _plan(tenant_id: str, payment: rules.Payment, fingerprint: str, source: str, now: str,
          reversed_payment: dict[str, Any] | None, account: dict[str, Any]
          ) -> tuple[list[dict[str, Any]], list[str], Outcome]:
    """The transaction of one payment against its account as read, and its outcome once written."""
    before = rules.money_of(account)
    amount = Decimal(str(reversed_payment["amount"])) if reversed_payment else payment.amount
    after = rules.reverse(before, amount) if reversed_payment else rules.apply(before, amount)
    current = account_status.of(account)
    status = rules.status_after(current, before, after)
    promise_paid, kept, upcoming = rules.toward_promise(account, -amount if reversed_payment else amount)
    if kept:  # the open promise is kept: back to the cadence, or paid
        status = "paid" if after.balance == 0 else account_status.DEFAULT
    items, roles = _items(tenant_id, payment, fingerprint, source, now, reversed_payment is not None, amount,
                          after, status if status != current else None, account.get(accounts_repo.REV), promise_paid,
                          upcoming)
    if kept:
        items.append(timeline_repo.promise_event_put(tenant_id, payment.account_id, now, "promise_kept", {
            "amount": account.get("promise_amount"), "promise_date": account.get("promise_date"),
            "paid": promise_paid, "payment_id": payment.payment_id}))
        roles.append("promise")
    in_level = current != "withdrawn"  # a withdrawn account is out of the portfolio's level
    kpi = (payment.paid_at, str(account.get("segment") or "general"), account.get("aging_bucket") if in_level else None,
           -amount if reversed_payment else amount, before.balance - after.balance, kept and not reversed_payment)
    resolves = account.get("broken_alarm_id") if kept and not reversed_payment else None
    return items, roles, Outcome(payment.payment_id, "applied", None, status, after.balance, after.credit, kpi,
                                 resolves)


def _items(tenant_id: str, payment: rules.Payment, fingerprint: str, source: str, now: str, reversal: bool,
           amount: Decimal, after: rules.Money, new_status: str | None, seen_rev: Any,
           promise_paid: Decimal | None = None, promise_next: date | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """The transaction of one payment (or reversal) and the role of each of its items."""
    items = [payments_repo.payment_put(tenant_id, payment, fingerprint, source, now)]
    roles = ["payment"]
    if reversal:
        items.append(payments_repo.reversal_update(tenant_id, payment.reverses or "", payment.account_id,
                                                   payment.payment_id, now))
        roles.append("reversed")
    items.append(payments_repo.account_money_update(tenant_id, payment.account_id, -amount if reversal else amount,
                                                    after, new_status, seen_rev, now, promise_paid, promise_next))
    roles.append("account")
    if reversal:  # SPEC §8: raised with the reversal, once (its id names the reversed payment)
        items.append(alarms_repo.alarm_put(
            tenant_id, "payment_reversed", f"payment#{payment.reverses}",
            f"payment {payment.reverses} of account {payment.account_id} was reversed by {payment.payment_id}", now,
            {"account_id": payment.account_id, "payment_id": payment.payment_id, "amount": str(amount)}))
        roles.append("alarm")
    items.append(timeline_repo.payment_entry_put(tenant_id, payment.account_id, payment.payment_id, {
        "paid_at": payment.paid_at.isoformat().replace("+00:00", "Z"), "amount": payment.amount,
        "method": payment.method, "reverses": payment.reverses, "source": source, "recorded_at": now,
        "balance_after": after.balance, "credit_after": after.credit, "status_after": new_status}))
    return items, roles + ["timeline"]


def _repeat(payment: rules.Payment, fingerprint: str, stored: dict[str, Any]) -> Outcome:
    if stored.get("fingerprint") == fingerprint:
        return Outcome(payment.payment_id, "duplicate")
    return Outcome(payment.payment_id, "conflict", "payment_id_reused_with_other_content")


def _reversal_problem(payment: rules.Payment, reversed_payment: dict[str, Any] | None) -> str | None:
    if reversed_payment is None:
        return "reversed_payment_unknown"
    if reversed_payment.get("account_id") != payment.account_id:
        return "reversed_payment_of_another_account"
    if reversed_payment.get("reverses"):
        return "cannot_reverse_a_reversal"
    if reversed_payment.get("status") != "applied":
        return "already_reversed"
    if Decimal(str(reversed_payment.get("amount"))) != payment.amount:
        return "reversal_amount_mismatch"
    return None
