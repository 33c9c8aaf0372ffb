"""SPEC §6b: a promise's input, its installments and the day it breaks."""
from __future__ import annotations

from datetime import date
from decimal import Decimal as D

from cobranza.payments.rows import to_promise
from cobranza.payments.rules import Installment, is_broken, next_due, plan_of, plan_to_wire, toward_promise

TODAY = date(2026, 11, 19)


def test_one_amount_and_date_is_a_promise_of_one_installment():
    promise, problems = to_promise({"amount": "1,500.00", "due_on": "2026-11-30"}, D("2000"), TODAY)
    assert problems == [] and promise is not None
    assert promise.installments == (Installment(D("1500.00"), date(2026, 11, 30)),) and promise.made_on == TODAY


def test_a_plan_gives_its_amount_and_due_date_and_is_kept_in_date_order():
    promise, problems = to_promise({"installments": [{"amount": 300, "due_on": "2027-01-10"},
                                                     {"amount": "200.50", "due_on": "2026-12-10"}]}, D("900"), TODAY)
    assert problems == [] and promise is not None
    assert (promise.amount, promise.due_on) == (D("500.50"), date(2027, 1, 10))
    assert plan_to_wire(promise) == ["2026-12-10=200.50", "2027-01-10=300.00"]


def test_every_problem_is_named_at_once():
    _, problems = to_promise({"amount": "-5", "due_on": "mañana"}, D("100"), TODAY, field="promise.")
    assert [p["field"] for p in problems] == ["promise.amount", "promise.due_on"]
    _, problems = to_promise({"amount": True, "installments": "3 pagos"}, D("100"), TODAY)
    assert [p["field"] for p in problems] == ["installments", "amount"]
    _, problems = to_promise({"amount": "100", "date": "2026-11-18"}, D("100"), TODAY)  # the form's name
    assert [p["field"] for p in problems] == ["date"]


def test_a_plan_may_reach_a_year_but_a_single_promise_only_a_month():
    assert to_promise({"amount": "10", "due_on": "2026-12-20"}, D("100"), TODAY)[1][0]["field"] == "due_on"
    promise, problems = to_promise({"installments": [{"amount": "10", "due_on": "2027-11-19"}]}, D("100"), TODAY)
    assert problems == [] and promise is not None


def test_each_installment_covered_moves_the_promise_to_the_next_and_the_last_keeps_it():
    account = {"status": "promised", "promise_amount": D("600"), "promise_date": "2026-11-25", "promise_paid": D("0"),
               "promise_plan": ["2026-11-25=300.00", "2026-12-10=300.00"]}
    assert plan_of(account)[1] == Installment(D("300.00"), date(2026, 12, 10))
    assert toward_promise(account, D("299.99")) == (D("299.99"), False, date(2026, 11, 25))
    assert toward_promise(account, D("300")) == (D("300"), False, date(2026, 12, 10))
    assert toward_promise({**account, "promise_paid": D("300")}, D("300")) == (D("600"), True, None)
    assert next_due(plan_of(account), D("0")) == date(2026, 11, 25)
    assert toward_promise({**account, "status": "active"}, D("10")) == (None, False, None)


def test_a_promise_breaks_the_day_after_its_date_plus_the_grace_days():
    account = {"status": "promised", "promise_date": "2026-11-20", "promise_amount": D("100")}
    assert not is_broken(account, date(2026, 11, 22), 2)
    assert is_broken(account, date(2026, 11, 23), 2)
    assert not is_broken({**account, "status": "active"}, date(2026, 12, 1), 2)


def test_a_payment_resolves_a_reported_payment_and_the_status_follows_the_money():
    from cobranza.payments.rules import Money, status_after

    assert status_after("payment_reported", Money(D("100")), Money(D("40"))) == "active"
    assert status_after("payment_reported", Money(D("100")), Money(D("0"))) == "paid"
    assert status_after("paid", Money(D("0")), Money(D("50"))) == "active"  # a reversal
    assert status_after("disputed", Money(D("100")), Money(D("0"))) == "disputed"


def test_a_reversal_takes_its_amount_back_from_the_promise():
    account = {"status": "promised", "promise_amount": D("600"), "promise_date": "2026-12-10", "promise_paid": D("300"),
               "promise_plan": ["2026-11-25=300.00", "2026-12-10=300.00"]}
    assert toward_promise(account, D("-300")) == (D("0"), False, date(2026, 11, 25))
    assert toward_promise({**account, "promise_paid": D("100")}, D("-300")) == (D("0"), False, date(2026, 11, 25))
