"""An account's status: the one list of statuses, the named sets the rules ask about, and the
transitions a portfolio file makes (SPEC §3, §5, §6). Pure: every rule and every store's
condition reads its sets from here.

- ``active``: being worked; ``promised``: a promise to pay is open; ``payment_reported``: the
  debtor or an agent said it was paid, not confirmed yet; ``disputed``: the debtor disputes it;
  ``legal``: handed to the lawyers; ``paid`` / ``settled``: nothing is owed (a payment, or a
  file with balance 0); ``withdrawn``: the lender took it back (absent from a snapshot).
"""
from __future__ import annotations

from typing import Any, Mapping

DEFAULT = "active"
ALL = ("active", "promised", "payment_reported", "paid", "settled", "disputed", "withdrawn", "legal")

#: Still being worked: a full snapshot that lacks such an account withdraws it.
WORKED = frozenset({"active", "promised", "payment_reported", "disputed", "legal"})
#: Nothing left to collect here: no visit, no promise, no reminder.
CLOSED = frozenset({"paid", "settled", "withdrawn", "legal"})
#: Every automated contact stops (a promise stops it until its date, see contact_rules).
STOPS_CONTACT = frozenset({"paid", "settled", "disputed", "withdrawn", "legal", "payment_reported"})
#: No new promise may be made.
NO_PROMISE = CLOSED | {"disputed"}
#: Their days past due still move with the calendar, so the nightly run keeps them indexed.
ON_SCHEDULE = frozenset({"active", "promised", "payment_reported"})
#: A file that brings the account back with a balance makes it ``active`` again.
REOPENABLE = frozenset({"withdrawn", "settled"})


def of(account: Mapping[str, Any]) -> str:
    """The account's status (an account written before statuses existed is ``active``)."""
    return str(account.get("status") or DEFAULT)


def after_file(current: str | None, settled: bool) -> str:
    """The status a portfolio row gives an account: ``settled`` at balance 0; a withdrawn or
    settled account with a balance is ``active`` again; any other status is kept."""
    if settled:
        return "settled"
    if current is None or current in REOPENABLE:
        return DEFAULT
    return current
