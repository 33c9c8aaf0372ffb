"""Recording payments (SPEC §6b): each one, from a file or the API, in one transaction with its
account and its timeline entry; idempotent by the tenant's payment id."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Iterable

from ..accounts import alarms as alarms_repo
from ..accounts import status as account_status
from ..accounts import store as accounts_repo
from ..accounts import timeline as timeline_repo
from ..core import transactions
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

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"payment_id": self.payment_id, "status": self.status}
        if self.reason:
            out["reason"] = self.reason
        if self.status == "applied":
            out.update(account_status=self.account_status, balance=f"{self.balance:.2f}", credit=f"{self.credit:.2f}")
        return out


def record(tenant_id: str, payments: Iterable[rules.Payment], source: str, now: str, threads: int = 1) -> list[Outcome]:
    """Records each payment; the outcomes in the order given. The payments of one account are
    recorded in their order (a payment and its reversal in one batch apply in that order);
    different accounts side by side on ``threads`` threads (a payments file)."""
    batch = list(payments)
    known = payments_repo.get_payments(tenant_id, [p.payment_id for p in batch] + [p.reverses for p in batch if p.reverses])
    by_account: dict[str, list[int]] = {}
    for index, payment in enumerate(batch):
        by_account.setdefault(payment.account_id, []).append(index)
    outcomes: list[Outcome | None] = [None] * len(batch)

    def account_payments(indexes: list[int]) -> None:
        for index in indexes:
            outcomes[index] = _record_one(tenant_id, batch[index], source, now, known)

    if threads <= 1 or len(by_account) <= 1:
        for indexes in by_account.values():
            account_payments(indexes)
    else:
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="payments") as pool:
            list(pool.map(account_payments, by_account.values()))
    return [outcome for outcome in outcomes if outcome is not None]


def _record_one(tenant_id: str, payment: rules.Payment, source: str, now: str,
                known: dict[str, dict[str, Any]]) -> Outcome:
    fingerprint = rules.fingerprint(payment)
    if payment.payment_id in known:
        return _repeat(payment, fingerprint, known[payment.payment_id])
    reversed_payment = known.get(payment.reverses) if payment.reverses else None
    if payment.reverses:
        problem = _reversal_problem(payment, reversed_payment)
        if problem:
            return Outcome(payment.payment_id, "rejected", problem)
    for _ in range(MAX_TRIES):
        outcome = _try(tenant_id, payment, fingerprint, source, now, reversed_payment)
        if outcome is None:
            continue  # the account changed meanwhile: read it again
        if outcome.status == "applied":
            known[payment.payment_id] = {"payment_id": payment.payment_id, "fingerprint": fingerprint,
                                         "account_id": payment.account_id, "amount": payment.amount,
                                         "status": "applied", "reverses": payment.reverses}
            if reversed_payment is not None:
                known[payment.reverses or ""] = {**reversed_payment, "status": "reversed"}
        return outcome
    raise RuntimeError(f"account kept changing while payment {payment.payment_id} was recorded")


def _try(tenant_id: str, payment: rules.Payment, fingerprint: str, source: str, now: str,
         reversed_payment: dict[str, Any] | None) -> Outcome | None:
    """One attempt at recording the payment against the account as read now; None when the
    account changed between the read and the write."""
    account = accounts_repo.read_account(tenant_id, payment.account_id)
    if account is None:
        return Outcome(payment.payment_id, "rejected", "unknown_account")
    before = rules.money_of(account)
    amount = Decimal(str(reversed_payment["amount"])) if reversed_payment else payment.amount
    after = rules.reverse(before, amount) if reversed_payment else rules.apply(before, amount)
    current = account_status.of(account)
    status = rules.status_after(current, before, after)
    promise_paid, kept, upcoming = (None, False, None) if reversed_payment else rules.toward_promise(account, amount)
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
    try:
        transactions.write_together(items)
    except transactions.WriteConflict as conflict:
        failed = conflict.failed(roles)
        if "payment" in failed:
            stored = payments_repo.get_payments(tenant_id, [payment.payment_id]).get(payment.payment_id)
            if stored is not None:
                return _repeat(payment, fingerprint, stored)
        if "reversed" in failed:
            return Outcome(payment.payment_id, "rejected", "already_reversed")
        return None
    return Outcome(payment.payment_id, "applied", None, status, after.balance, after.credit)


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
    return None
