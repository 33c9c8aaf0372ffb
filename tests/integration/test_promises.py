"""SPEC §6b: promises to pay (one open per account, installment plans), kept by payments and
broken by the night after their grace days."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal as D

import pytest

from tests.integration.test_campaign_dispatch import plan, rows
from tests.integration.test_ingest import accounts

MORNING = datetime(2026, 11, 19, 16, 0, tzinfo=timezone.utc)  # 10:00 in Mexico City


@pytest.fixture
def now():
    return MORNING


@pytest.fixture
def api():
    from chalice.test import Client

    from tests.helpers import load_function

    with Client(load_function("api").app) as client:
        yield client.http


def post(api, key, account_id, body):
    from tests.integration.test_api import call

    return call(api, "post", f"/v1/accounts/{account_id}/promises", key, body)


def timeline_kinds(account_id):
    from cobranza.accounts.timeline import list_entries

    return [e["kind"] for e in list_entries("acme", account_id, 100, None)[0]]


def pay(payment_id, account_id, amount, recorded_at="2026-11-19T17:00:00Z"):
    from cobranza.payments.rules import Payment
    from cobranza.payments.service import record

    paid_at = datetime.fromisoformat(recorded_at.replace("Z", "+00:00"))
    return record("acme", [Payment(payment_id, account_id, D(amount), paid_at, "spei")], "api", recorded_at)[0]


def test_a_promise_pauses_contact_and_a_new_one_replaces_it(stack, tenant, upload, clock, api):
    upload("portfolios/acme/a.csv", rows(1))  # C0 owes 1000, due 2026-11-20
    status, body = post(api, tenant["api_key"], "C0", {"amount": "600", "due_on": "2026-11-25", "source": "phone"})
    assert status == 201, body
    assert body["status"] == "promised" and body["replaces"] is None
    assert body["promise"]["installments"] == [{"amount": "600.00", "due_on": "2026-11-25"}]
    assert body["contact_paused_until"] == "2026-11-27"  # the policy's 2 grace days
    status, again = post(api, tenant["api_key"], "C0", {"amount": "1000.00", "due_on": "2026-11-28"})
    assert status == 201 and again["replaces"] == {"amount": "600.00", "due_on": "2026-11-25"}
    stored = accounts()["C0"]
    assert (stored["status"], stored["promise_date"], stored["promise_amount"]) == ("promised", "2026-11-28", 1000)
    assert timeline_kinds("C0").count("promise") == 2


@pytest.mark.parametrize("body, field", [
    ({"amount": "1000.01", "due_on": "2026-11-25"}, "amount"),  # more than is owed
    ({"amount": "100", "due_on": "2026-11-18"}, "due_on"),  # yesterday
    ({"amount": "100", "due_on": "2027-01-05"}, "due_on"),  # a single promise within 30 days
    ({"amount": "100"}, "due_on"),
    ({"amount": "500", "installments": [{"amount": "200", "due_on": "2026-11-25"},
                                        {"amount": "200", "due_on": "2026-12-25"}]}, "amount"),  # adds up to 400
    ({"installments": [{"amount": "200", "due_on": "2026-11-25"}, {"amount": "0", "due_on": "2026-12-25"}]},
     "installments[1].amount"),
    ({"installments": [{"amount": "200", "due_on": "2026-11-25"}, {"amount": "200", "due_on": "2026-11-25"}]},
     "installments"),
])
def test_a_promise_that_breaks_a_rule_is_refused_with_the_field(stack, tenant, upload, clock, api, body, field):
    upload("portfolios/acme/a.csv", rows(1))
    status, answer = post(api, tenant["api_key"], "C0", body)
    assert status == 422 and field in [d["field"] for d in answer["error"]["details"]], answer
    assert accounts()["C0"]["status"] == "active"


def test_unknown_accounts_and_other_tenants_accounts_are_not_found_and_paid_ones_conflict(stack, tenant, upload, clock, api):
    from cobranza.tenants import store as tenants

    upload("portfolios/acme/a.csv", rows(2))
    tenants.create_tenant("other", "Otra", "America/Mexico_City", ["x@otra.mx"])
    other_key = tenants.issue_api_key("other")
    good = {"amount": "100", "due_on": "2026-11-25"}
    assert post(api, tenant["api_key"], "NOPE", good)[0] == 404
    assert post(api, other_key, "C0", good)[0] == 404
    assert post(api, None, "C0", good)[0] == 401
    assert pay("F-1", "C1", "1000").account_status == "paid"
    status, answer = post(api, tenant["api_key"], "C1", good)
    assert status == 409 and answer["error"]["code"] == "conflict"


def test_an_installment_plan_moves_with_each_installment_paid_and_is_kept_by_the_last(stack, tenant, upload, clock, api):
    upload("portfolios/acme/a.csv", rows(1))
    plan_body = {"source": "phone", "installments": [{"amount": "300", "due_on": "2026-11-25"},
                                                     {"amount": "300", "due_on": "2026-12-10"}]}
    status, body = post(api, tenant["api_key"], "C0", plan_body)
    assert status == 201 and body["promise"]["amount"] == "600.00" and body["promise"]["due_on"] == "2026-12-10"
    assert pay("F-1", "C0", "200").account_status == "promised"
    assert accounts()["C0"]["promise_date"] == "2026-11-25"  # 100 short of the first installment
    assert pay("F-2", "C0", "150").account_status == "promised"
    assert accounts()["C0"]["promise_date"] == "2026-12-10"  # the first is covered: waits for the second
    kept = pay("F-3", "C0", "250")
    assert (kept.account_status, kept.balance) == ("active", D("400.00"))
    assert timeline_kinds("C0").count("promise_kept") == 1


def test_a_promise_unpaid_past_its_grace_days_is_broken_by_the_night_once(stack, tenant, upload, clock, api):
    from cobranza.accounts.alarms import list_alarms

    upload("portfolios/acme/a.csv", rows(2))  # due 2026-11-20: the email of day +3 goes out on 11-23
    for account_id in ("C0", "C1"):
        assert post(api, tenant["api_key"], account_id, {"amount": "500", "due_on": "2026-11-20"})[0] == 201
    pay("F-1", "C1", "500", "2026-11-21T17:00:00Z")  # C1 keeps its promise
    assert plan("2026-11-22T08:00:00Z")["promises_broken"] == 0  # 11-20 plus 2 grace days: not yet
    night = plan("2026-11-23T08:00:00Z")
    assert night["promises_broken"] == 1 and night["attempts"] == 2  # C0's cadence resumes with C1's
    stored = accounts()
    assert stored["C0"]["status"] == "active" and stored["C1"]["status"] == "active"
    assert [(a.code, a.subject) for a in list_alarms("acme")] == [("promise_broken", "promise#C0#2026-11-20")]
    kinds = timeline_kinds("C0")
    assert kinds.count("promise_broken") == 1 and "contact" in kinds
    assert "promise_broken" not in timeline_kinds("C1")
    again = plan("2026-11-23T08:00:00Z")  # the same night again
    assert again["promises_broken"] == 0 and len(list_alarms("acme")) == 1
    # a new promise, kept: the broken promise's alarm resolves by itself
    assert post(api, tenant["api_key"], "C0", {"amount": "300", "due_on": "2026-11-26"})[0] == 201
    assert pay("F-2", "C0", "300", "2026-11-23T17:00:00Z").account_status == "active"
    (alarm,) = list_alarms("acme")
    assert (alarm.status, alarm.subject) == ("resolved", "promise#C0#2026-11-20")


def test_the_debtor_s_link_and_the_api_record_the_same_promise(stack, tenant, upload, clock, api):
    from cobranza.core.signing import link_key
    from cobranza.debtor import links

    upload("portfolios/acme/a.csv", rows(1))
    token = links.sign(link_key(), "acme", "C0", MORNING)
    response = api.post(f"/v1/self/{token}/promise", headers={"content-type": "application/json"},
                        body='{"amount": "250", "date": "2026-11-26"}')
    assert response.status_code == 201, response.body
    stored = accounts()["C0"]
    assert (stored["status"], stored["promise_date"], stored["promise_amount"]) == ("promised", "2026-11-26", 250)
    assert stored["next_action_on"] <= "2026-11-29"  # the night that would break it
    status, body = post(api, tenant["api_key"], "C0", {"amount": "300", "due_on": "2026-11-27"})
    assert status == 201 and body["replaces"] == {"amount": "250.00", "due_on": "2026-11-26"}
