"""What a payment and a promise do to an account (SPEC §6b). Pure: no I/O, no clock.

- ``apply``: a payment lowers the balance, never below zero; the excess is kept as ``credit``.
- ``reverse``: a reversal restores the amount: first out of the credit it may have created, the
  rest back onto the balance.
- ``promise_state``: a promise (one amount, or a plan of installments) is ``kept`` when the
  payments since it was made reach each amount by its date plus the grace days, ``broken`` at its
  first missed date, else ``open``.
- ``fingerprint``: what makes two submissions of one ``payment_id`` the same payment
  (``duplicate``) or not (``conflict``).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Iterable, Mapping, Sequence

from ..accounts.money import CENTS as CENTS
from ..accounts.money import Money as Money
from ..accounts.money import money_of as money_of
from ..accounts.segmentation import promise_check_on

METHODS = ("spei", "oxxo", "card", "cash", "transfer", "other")


@dataclass(frozen=True)
class Payment:
    payment_id: str
    account_id: str
    amount: Decimal
    paid_at: datetime  # aware, UTC
    method: str | None = None
    reverses: str | None = None


def apply(money: Money, amount: Decimal) -> Money:
    """The balance after a payment of ``amount`` (>= 0): never below zero, the excess as credit."""
    covered = min(money.balance, amount)
    return Money((money.balance - covered).quantize(CENTS), (money.credit + amount - covered).quantize(CENTS))


def reverse(money: Money, amount: Decimal) -> Money:
    """The balance after reversing a payment of ``amount``: the credit it may have left goes
    first, the rest is owed again."""
    from_credit = min(money.credit, amount)
    return Money((money.balance + amount - from_credit).quantize(CENTS), (money.credit - from_credit).quantize(CENTS))


def fingerprint(payment: Payment) -> str:
    """The payment's content (everything but its id), for telling a resubmission (same) from a
    conflicting reuse of the id (different)."""
    content = [payment.account_id, str(payment.amount.quantize(CENTS)), payment.paid_at.isoformat(),
               payment.method or "", payment.reverses or ""]
    return hashlib.sha256(json.dumps(content, separators=(",", ":")).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Installment:
    amount: Decimal
    due_on: date


@dataclass(frozen=True)
class Promise:
    """A promise to pay: ``installments`` in date order (a single promise is one installment)."""

    made_on: date
    installments: tuple[Installment, ...]

    @property
    def amount(self) -> Decimal:
        return sum((i.amount for i in self.installments), Decimal(0))

    @property
    def due_on(self) -> date:
        return self.installments[-1].due_on


def promise_of(made_on: date, amount: Decimal, due_on: date, installments: Sequence[Installment] = ()) -> Promise:
    """A promise as the API takes it: one amount and date, or a plan whose installments add up
    to the amount and whose last date is the due date (callers validate that)."""
    plan = tuple(sorted(installments, key=lambda i: i.due_on)) or (Installment(amount, due_on),)
    return Promise(made_on, plan)


def promise_state(promise: Promise, paid: Iterable[tuple[date, Decimal]], today: date, grace_days: int) -> str:
    """``kept``, ``broken`` or ``open``, as of ``today``, from the payments (local date, amount;
    reversals as negative amounts) since the promise was made. Each installment is met when the
    payments up to its date plus the grace reach the installments due by then; the first one
    missed once its grace is over breaks the promise."""
    payments = sorted((on, amount) for on, amount in paid if on >= promise.made_on)
    owed = Decimal(0)
    for installment in promise.installments:
        owed += installment.amount
        deadline = installment.due_on + timedelta(days=grace_days)
        by_deadline = sum((a for on, a in payments if on <= deadline), Decimal(0))
        if by_deadline >= owed:
            continue
        return "broken" if today > deadline else "open"
    return "kept"


#: Statuses a payment that clears the balance turns into ``paid`` (a dispute or a lawyer's file
#: stays as it is: the payment is recorded, the status is theirs).
PAYABLE = frozenset({"active", "promised", "payment_reported"})


def status_after(status: str, before: Money, after: Money) -> str:
    """The account's status after a payment or a reversal moved its money from ``before`` to ``after``."""
    if after.balance == 0 and before.balance > 0 and status in PAYABLE:
        return "paid"
    if after.balance > 0 and status == "paid":
        return "active"
    if after.balance > 0 and status == "payment_reported" and after.balance < before.balance:
        return "active"  # the payment a visit or a call announced has arrived: the report is resolved
    return status


def plan_to_wire(promise: Promise) -> list[str]:
    """A promise's installments as the account keeps them: ``YYYY-MM-DD=amount`` in date order."""
    return [f"{i.due_on.isoformat()}={i.amount.quantize(CENTS)}" for i in promise.installments]


def plan_of(account: Mapping[str, Any]) -> tuple[Installment, ...]:
    """The open promise's installments: its plan, or its one amount and date."""
    plan = account.get("promise_plan")
    if plan:
        pairs = (str(entry).split("=", 1) for entry in plan)
        return tuple(Installment(Decimal(amount), date.fromisoformat(on)) for on, amount in pairs)
    if account.get("promise_amount") is None or not account.get("promise_date"):
        return ()
    return (Installment(Decimal(str(account["promise_amount"])), date.fromisoformat(str(account["promise_date"]))),)


def next_due(plan: Sequence[Installment], paid: Decimal) -> date | None:
    """The date of the first installment that ``paid`` (toward the promise) does not yet cover
    with the ones before it; None when every installment is covered (the promise is kept)."""
    owed = Decimal(0)
    for installment in plan:
        owed += installment.amount
        if paid < owed:
            return installment.due_on
    return None


def toward_promise(account: Mapping[str, Any], amount: Decimal) -> tuple[Decimal | None, bool, date | None]:
    """A payment on a ``promised`` account counts toward its open promise (a reversal, a negative
    ``amount``, takes its amount back): the amount paid toward it after this payment, whether that
    keeps it, and the date the promise waits for next (its next installment; None when every
    installment is covered). (None, False, None) when no promise is open."""
    plan = plan_of(account)
    if account.get("status") != "promised" or not plan:
        return None, False, None
    paid = max(Decimal(0), Decimal(str(account.get("promise_paid") or 0)) + amount)  # a reversal is negative
    upcoming = next_due(plan, paid)
    return paid, upcoming is None and amount > 0, upcoming


def is_broken(account: Mapping[str, Any], today: date, grace_days: int) -> bool:
    """True when the open promise's next installment went unpaid past its grace days."""
    check_on = promise_check_on(account, grace_days)
    return check_on is not None and today >= check_on
