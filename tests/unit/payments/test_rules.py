"""SPEC §6b: what a payment and a promise do to an account's money and contact."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal as D

import pytest

from cobranza.payments.rules import Installment, Money, Payment, apply, fingerprint, promise_of, promise_state, reverse


def test_a_partial_payment_lowers_the_balance_and_an_overpayment_is_kept_as_credit():
    assert apply(Money(D("1000.00")), D("250.50")) == Money(D("749.50"), D("0.00"))
    assert apply(Money(D("100.00")), D("130.00")) == Money(D("0.00"), D("30.00"))
    assert apply(Money(D("0.00"), D("5.00")), D("10.00")) == Money(D("0.00"), D("15.00"))


def test_a_reversal_takes_back_the_credit_first_then_the_balance_is_owed_again():
    paid = apply(Money(D("100.00")), D("130.00"))
    assert reverse(paid, D("130.00")) == Money(D("100.00"), D("0.00"))
    assert reverse(Money(D("400.00")), D("100.00")) == Money(D("500.00"), D("0.00"))


def test_the_same_content_is_the_same_payment_and_any_difference_a_conflict():
    at = datetime(2026, 11, 23, 17, 0, tzinfo=timezone.utc)
    one = Payment("F-1", "A1", D("100"), at, "spei")
    assert fingerprint(one) == fingerprint(Payment("F-1", "A1", D("100.00"), at, "spei"))
    for other in (Payment("F-1", "A2", D("100"), at, "spei"), Payment("F-1", "A1", D("100.01"), at, "spei"),
                  Payment("F-1", "A1", D("100"), at, "oxxo"), Payment("F-1", "A1", D("100"), at, "spei", "F-0")):
        assert fingerprint(other) != fingerprint(one)


PROMISE = promise_of(date(2026, 11, 20), D("600.00"), date(2026, 11, 30))


@pytest.mark.parametrize(("paid", "today", "state"), [
    ([], date(2026, 11, 30), "open"),                                             # due today
    ([], date(2026, 12, 2), "open"),                                              # inside the grace
    ([], date(2026, 12, 3), "broken"),                                            # grace over
    ([(date(2026, 11, 25), D("600.00"))], date(2026, 11, 25), "kept"),
    ([(date(2026, 11, 25), D("400.00")), (date(2026, 12, 2), D("200.00"))], date(2026, 12, 9), "kept"),
    ([(date(2026, 11, 25), D("599.99"))], date(2026, 12, 3), "broken"),          # partially kept is broken
    ([(date(2026, 11, 19), D("600.00"))], date(2026, 12, 3), "broken"),          # paid before the promise
    ([(date(2026, 11, 25), D("600.00")), (date(2026, 11, 26), D("-600.00"))], date(2026, 12, 3), "broken"),
    ([(date(2026, 12, 3), D("600.00"))], date(2026, 12, 3), "broken"),           # too late
])
def test_a_promise_is_kept_by_its_date_plus_grace_or_broken(paid, today, state):
    assert promise_state(PROMISE, paid, today, grace_days=2) == state


def test_an_installment_plan_breaks_at_its_first_missed_installment():
    plan = promise_of(date(2026, 11, 1), D("900.00"), date(2027, 1, 15), [
        Installment(D("300.00"), date(2026, 12, 15)), Installment(D("300.00"), date(2026, 11, 15)),
        Installment(D("300.00"), date(2027, 1, 15))])
    assert plan.installments[0].due_on == date(2026, 11, 15) and plan.amount == D("900.00")
    first_paid = [(date(2026, 11, 14), D("300.00"))]
    assert promise_state(plan, first_paid, date(2026, 12, 10), grace_days=0) == "open"
    assert promise_state(plan, first_paid, date(2026, 12, 16), grace_days=0) == "broken"
    all_paid = first_paid + [(date(2026, 12, 15), D("300.00")), (date(2027, 1, 10), D("300.00"))]
    assert promise_state(plan, all_paid, date(2027, 1, 10), grace_days=0) == "kept"
    ahead = [(date(2026, 11, 10), D("600.00"))]  # two installments paid at once, ahead of time
    assert promise_state(plan, ahead, date(2026, 12, 20), grace_days=0) == "open"


def test_the_file_balance_less_the_payments_since_the_file_is_what_is_owed():
    from cobranza.payments.rules import money_of, status_after

    account = {"balance": D("1000.00"), "paid_total": D("700.00"), "paid_seen": D("400.00"), "credit": D("0")}
    assert money_of(account) == Money(D("700.00"), D("0.00"))
    assert money_of({"balance": D("100")}) == Money(D("100.00"), D("0.00"))
    assert status_after("active", Money(D("10")), Money(D("0"), D("5"))) == "paid"
    assert status_after("disputed", Money(D("10")), Money(D("0"))) == "disputed"
    assert status_after("paid", Money(D("0")), Money(D("10"))) == "active"
    assert status_after("promised", Money(D("10")), Money(D("4"))) == "promised"
