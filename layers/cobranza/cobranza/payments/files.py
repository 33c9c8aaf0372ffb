"""A payments file (SPEC §6b): ``portfolios/<tenant_id>/payments/<name>.csv|.csv.gz|.xlsx``, read
like a portfolio (``portfolio.ingest`` with these columns), each row recorded as a payment."""
from __future__ import annotations

from datetime import date
from typing import Any, Iterable

from ..portfolio.reports import ProblemLog
from ..portfolio.rows import Header, Problem
from ..portfolio.steps import Job, Tally
from . import rows, service
from .rules import Payment

#: Accounts recorded side by side (each account's payments in file order).
THREADS = 16


class PaymentsFile:
    """The ``payments`` kind of file for ``portfolio.ingest.ingest_object``."""

    columns = rows.PAYMENT_COLUMNS

    def apply(self, job: Job, header: Header, records: Iterable[tuple[int, Any]], tally: Tally,
              problems: ProblemLog, date_epoch: date | None) -> None:
        accepted: list[tuple[int, Payment]] = []
        for row_number, values in records:
            tally.rows_total += 1
            payment, row_problems = rows.validate_row(header, row_number, values, job.tenant_timezone, date_epoch,
                                                      job.day)
            if payment is None:
                tally.rows_rejected += 1
                problems.add(row_problems)
            else:
                accepted.append((row_number, payment))
        outcomes = service.record(job.tenant_id, [p for _, p in accepted], f"file:{job.upload_id}", job.started_at,
                                  threads=THREADS)
        for (row_number, payment), outcome in zip(accepted, outcomes):
            _count(tally, problems, row_number, payment, outcome)


def _count(tally: Tally, problems: ProblemLog, row_number: int, payment: Payment, outcome: service.Outcome) -> None:
    if outcome.status == "applied":
        tally.rows_accepted += 1
        if payment.reverses:
            tally.payments_reversed += 1
        else:
            tally.payments_applied += 1
            tally.amount_applied_cents += int(payment.amount * 100)
    elif outcome.status == "duplicate":
        tally.rows_accepted += 1
        tally.payments_duplicate += 1
    else:
        tally.rows_rejected += 1
        field = "account_id" if outcome.reason == "unknown_account" else (
            "reverses" if payment.reverses and outcome.reason != "payment_id_reused_with_other_content" else "payment_id")
        problems.add_late(Problem(row_number, "error", payment.account_id, field, outcome.reason or outcome.status,
                                  _MESSAGES.get(outcome.reason or "", outcome.status), _raw(payment, field)))


_MESSAGES = {
    "unknown_account": "no account with this account_id: upload it in a portfolio file first",
    "payment_id_reused_with_other_content": "payment_id already recorded with other content",
    "reversed_payment_unknown": "reverses names a payment that was never recorded",
    "reversed_payment_of_another_account": "reverses names a payment of another account",
    "cannot_reverse_a_reversal": "reverses names a reversal",
    "already_reversed": "the payment it reverses was already reversed",
}


def _raw(payment: Payment, field: str) -> str:
    value: Any = {"account_id": payment.account_id, "reverses": payment.reverses, "payment_id": payment.payment_id}[field]
    return str(value or "")


