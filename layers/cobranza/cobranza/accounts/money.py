"""What an account owes now (pure): the file's balance less the payments recorded since the
file last wrote it. The one definition the API, reminders, the debtor's page, the agent's day,
the call list and the KPIs read."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Mapping

CENTS = Decimal("0.01")


@dataclass(frozen=True)
class Money:
    """An account's balance and credit (both >= 0; at most one of them is above zero after a payment)."""

    balance: Decimal
    credit: Decimal = Decimal(0)


def money_of(account: Mapping[str, Any]) -> Money:
    """What the account owes now and its credit: the file's balance less the payments recorded
    since the file last wrote it (``paid_total`` - ``paid_seen``; see docs/design-issue-15.md)."""
    balance = Decimal(str(account.get("balance") or 0))
    since_file = Decimal(str(account.get("paid_total") or 0)) - Decimal(str(account.get("paid_seen") or 0))
    owed = balance - since_file
    return Money(max(owed, Decimal(0)).quantize(CENTS), Decimal(str(account.get("credit") or 0)).quantize(CENTS))
