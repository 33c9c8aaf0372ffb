"""SPEC §8: KPIs kept as events happen, read with a query a month, on moto.

Given a portfolio, a night, its reminders sent, payments, call outcomes and a promise, when the
tenant asks for its KPIs, then each event is counted once where it happened, and reading them
costs one query per month of the range, whatever the portfolio's size.
"""
from datetime import datetime, timezone

import pytest

from tests.integration.test_campaign_dispatch import drain, plan, queues, rows, send  # noqa: F401  (fixture)
from tests.integration.test_outcomes_and_calls import call, outcome

MORNING = datetime(2026, 11, 23, 16, 0, tzinfo=timezone.utc)  # Monday 10:00 in Mexico City
PAYMENTS = {"payments": [
    {"payment_id": "P-1", "account_id": "C0", "amount": "400", "paid_at": "2026-11-23T09:00:00-06:00"},
    {"payment_id": "P-2", "account_id": "C1", "amount": "1000", "paid_at": "2026-11-23T09:30:00-06:00"}]}


@pytest.fixture
def now():
    return MORNING


@pytest.fixture
def api(stack):
    from chalice.test import Client

    from tests.helpers import load_function

    with Client(load_function("api").app) as client:
        yield client.http


def kpis(api, key, query):
    status, body = call(api, "get", f"/v1/kpis{query}", key)
    assert status == 200, body
    return body


@pytest.fixture
def day_of_work(stack, tenant, upload, clock, api, queues):  # noqa: F811  (fixtures)
    """Four accounts owing 1,000 each (due 2026-11-20), a night, its emails sent, two payments,
    two calls and a promise on 2026-11-23."""
    upload("portfolios/acme/a.csv", rows(4))
    plan()
    emails = drain(queues["email"])
    assert send(emails)["batchItemFailures"] == []
    status, body = call(api, "post", "/v1/payments", tenant["api_key"], PAYMENTS)
    assert status == 200 and {r["status"] for r in body["results"]} == {"applied"}
    assert outcome(api, tenant["api_key"], "C2", result="right_party_contact")[0] == 201
    assert outcome(api, tenant["api_key"], "C3", result="no_answer")[0] == 201
    status, _ = call(api, "post", "/v1/accounts/C2/promises", tenant["api_key"],
                     {"amount": "500", "due_on": "2026-11-27", "source": "phone"})
    assert status == 201
    return {"key": tenant["api_key"], "emails": emails}


def test_each_event_of_the_day_is_counted_once_in_the_day_s_kpis(api, day_of_work):
    key = day_of_work["key"]
    body = kpis(api, key, "?from=2026-11-23&to=2026-11-23")
    totals = body["totals"]
    assert (totals["amount_due_start"], totals["amount_recovered"], totals["recovery_rate"]) == ("4000.00", "1400.00", 0.35)
    assert totals["payments"] == 2 and totals["reversals"] == 0
    assert totals["attempts"] == {"email": 4, "phone": 2} and totals["deliveries"] == {"email": 4}
    assert totals["right_party_contacts"] == {"phone": 1} and totals["contact_rate"] == 0.5  # 1 of 2 calls
    assert (totals["promises_made"], totals["promises_kept"], totals["promises_broken"]) == (1, 0, 0)
    assert totals["cost"] == {"email": "0.01", "phone": "0.00"} and totals["cost_per_amount_recovered"] == 0.0
    phone = body["best_hours"]["channels"]["phone"]
    assert phone["attempts"][0][9] == 2 and phone["right_party"][0][9] == 1 and phone["rate"][0][9] == 0.5
    assert body["roll_rates"]["accounts_at_start"] == [0, 4, 0, 0, 0, 0]  # all in 1-30 when the night started
    # nothing counted twice: the emails delivered again, the payments and the outcome sent again
    assert send(day_of_work["emails"])["batchItemFailures"] == []  # each one a duplicate
    assert {r["status"] for r in call(api, "post", "/v1/payments", key, PAYMENTS)[1]["results"]} == {"duplicate"}
    assert outcome(api, key, "C2", result="right_party_contact")[1]["duplicate"] is True
    assert kpis(api, key, "?from=2026-11-23&to=2026-11-23")["totals"] == totals


def test_a_segment_a_grouping_and_a_year_read_with_one_query_a_month(api, day_of_work):
    from cobranza.core import aws

    key = day_of_work["key"]
    by_day = kpis(api, key, "?from=2026-11-20&to=2026-11-26&group_by=day")
    assert [p["period"] for p in by_day["series"]] == [f"2026-11-{d}" for d in range(20, 27)]
    assert [p["payments"] for p in by_day["series"]] == [0, 0, 0, 2, 0, 0, 0]
    assert kpis(api, key, "?from=2026-11-23&to=2026-11-23&segment=nobody")["totals"]["payments"] == 0
    for query, months in (("?from=2026-11-01&to=2026-11-30", 1), ("?from=2026-11-15&to=2026-12-14", 2),
                          ("?from=2025-11-24&to=2026-11-23&group_by=month", 13)):
        before = aws.request_counts.copy()
        kpis(api, key, query)
        used = aws.request_counts - before
        assert used["dynamodb.Query"] == months and sum(used.values()) <= months + 2, (query, used)  # + tenant, key


@pytest.mark.parametrize("query", ["?from=2026-11-24&to=2026-11-23", "?from=2025-01-01&to=2026-11-23",
                                   "?group_by=year", "?from=23/11/2026", "?segment=" + "x" * 65, "?to=2026-02-30"])
def test_a_range_backwards_too_long_or_malformed_is_400(stack, tenant, api, query):
    status, body = call(api, "get", f"/v1/kpis{query}", tenant["api_key"])
    assert status == 400, (query, body)


def test_the_nights_count_the_accounts_that_roll_into_the_next_bucket(stack, tenant, upload, clock, api):
    upload("portfolios/acme/a.csv", rows(3, due="2026-10-25"))  # 29 days past due on the 23rd: 1-30
    plan("2026-11-23T08:00:00Z")
    plan("2026-11-25T08:00:00Z")  # 31 days: 31-60
    rolls = kpis(api, tenant["api_key"], "?from=2026-11-23&to=2026-11-25")["roll_rates"]
    assert rolls["accounts_at_start"] == [0, 3, 0, 0, 0, 0]
    assert rolls["moved"][1][2] == 3 and rolls["rates"][1][2] == 1.0
    plan("2026-11-26T08:00:00Z")  # the next night starts from the level the rolls moved
    level = kpis(api, tenant["api_key"], "?from=2026-11-26&to=2026-11-26")["roll_rates"]["accounts_at_start"]
    assert level == [0, 0, 3, 0, 0, 0]


def schema_check(name, instance):
    import yaml

    from tests.unit.api.test_openapi import OPENAPI, _validate

    _validate(yaml.safe_load(OPENAPI.read_text(encoding="utf-8")), name, instance)


def test_a_reversal_late_at_night_counts_on_the_tenant_s_day_and_every_answer_matches_the_document(api, day_of_work,
                                                                                                   clock):
    key = day_of_work["key"]
    status, body = call(api, "post", "/v1/payments", key, {"payments": [
        # 21:30 on the 23rd in Mexico City, the 24th in UTC: the tenant's day is the 23rd
        {"payment_id": "P-3", "account_id": "C3", "amount": "250", "paid_at": "2026-11-24T03:30:00Z"},
        {"payment_id": "R-2", "account_id": "C1", "amount": "1000", "paid_at": "2026-11-23T11:00:00-06:00",
         "reverses": "P-2"}]})
    assert status == 200 and [r["status"] for r in body["results"]] == ["applied", "applied"], body
    day = kpis(api, key, "?from=2026-11-23&to=2026-11-24&group_by=day")
    assert [(p["period"], p["payments"], p["reversals"], p["amount_recovered"]) for p in day["series"]] == [
        ("2026-11-23", 3, 1, "650.00"), ("2026-11-24", 0, 0, "0.00")]
    schema_check("Kpis", day)
    clock["value"] = datetime(2026, 11, 25, 18, 0, tzinfo=timezone.utc)
    status, reversed_only = call(api, "post", "/v1/payments", key, {"payments": [
        {"payment_id": "R-3", "account_id": "C3", "amount": "250", "paid_at": "2026-11-25T10:00:00-06:00",
         "reverses": "P-3"}]})
    assert status == 200 and reversed_only["results"][0]["status"] == "applied", reversed_only
    negative = kpis(api, key, "?from=2026-11-25&to=2026-11-25")
    assert negative["totals"]["amount_recovered"] == "-250.00"
    schema_check("Kpis", negative)


@pytest.mark.parametrize("query", ["?to=0001-01-05", "?from=9999-12-01&to=9999-12-31", "?from=1999-12-31"])
def test_dates_outside_the_years_kpis_can_hold_are_400_not_500(stack, tenant, api, query):
    status, body = call(api, "get", f"/v1/kpis{query}", tenant["api_key"])
    assert status == 400 and body["error"]["details"][0]["field"] in ("from", "to"), body


def test_the_level_counted_again_from_the_accounts_matches_the_one_kept_as_events_happen(api, day_of_work):
    from cobranza.kpis import service
    from cobranza.kpis import store as kpis_repo

    kept = kpis_repo.read_months("acme", ["level"])[0]  # the tenant's running level item
    assert service.rebuild_level("acme") == {"accounts_read": 4, "level_values": 2}  # n and owed of one bucket
    rebuilt = kpis_repo.read_months("acme", ["level"])[0]
    assert rebuilt == kept  # 4 accounts, 2,600.00 owed after the day's payments
    assert sum(v for k, v in rebuilt[0].items() if k.startswith("owed.")) == 2600
