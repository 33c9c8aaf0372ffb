"""SPEC §6b: outcomes of calls and contacts set their next step; the phone team's call list."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from tests.integration.test_campaign_dispatch import drain, plan, rows, send, sent_emails
from tests.integration.test_ingest import accounts

MORNING = datetime(2026, 11, 23, 16, 0, tzinfo=timezone.utc)  # Monday 10:00 in Mexico City
CALL_POLICY = {"cadences": {"administrative": [{"day": 3, "channel": "call"}, {"day": 5, "channel": "email"}]}}


@pytest.fixture
def now():
    return MORNING


@pytest.fixture
def api():
    from chalice.test import Client

    from tests.helpers import load_function

    with Client(load_function("api").app) as client:
        yield client.http


def call(api, method, path, key, body=None):
    from tests.integration.test_api import call as api_call

    return api_call(api, method, path, key, body)


def outcome(api, key, account_id, **fields):
    body = {"channel": "phone", "occurred_at": "2026-11-23T09:55:00-06:00", **fields}
    return call(api, "post", f"/v1/accounts/{account_id}/outcomes", key, body)


def put_policy(document):
    from cobranza.tenants import store as tenants

    tenants.save_policy(tenants.get_tenant("acme"), document)


def timeline(account_id):
    from cobranza.accounts.timeline import list_entries

    return list_entries("acme", account_id, 100, None)[0]


def test_a_call_outcome_is_in_the_timeline_counts_toward_the_caps_and_a_repeat_changes_nothing(
        stack, tenant, upload, clock, api, queues):
    upload("portfolios/acme/a.csv", rows(1))  # due 11-20: the email of day +3 is due tonight
    status, body = outcome(api, tenant["api_key"], "C0", result="no_answer", agent="ana", duration_s=30)
    assert status == 201, body
    assert body["duplicate"] is False and body["next_step"]["account_status"] is None
    again = outcome(api, tenant["api_key"], "C0", result="no_answer", agent="ana", duration_s=30)[1]
    assert again["duplicate"] is True and again["outcome_id"] == body["outcome_id"]
    entries = [e for e in timeline("C0") if e["kind"] == "outcome"]
    assert [(e["channel"], e["result"], e["agent_id"]) for e in entries] == [("phone", "no_answer", "ana")]
    assert len(accounts()["C0"]["contact_log"]) == 1
    night = plan()  # today's email: the call was today's one contact
    assert night["skipped_by_reason"] == {"daily_cap": 1} and drain(queues["email"]) == []
    skipped = next(e for e in timeline("C0") if e["kind"] == "contact")
    assert (skipped["status"], skipped["reason"]) == ("skipped", "daily_cap")


@pytest.fixture
def queues(stack):
    env = stack.function_environment("CampaignFunction")
    return {"email": env["EMAIL_QUEUE_URL"]}


def test_each_result_sets_its_next_step(stack, tenant, upload, clock, api):
    from cobranza.accounts.alarms import list_alarms

    upload("portfolios/acme/a.csv", rows(5))
    key = tenant["api_key"]
    assert outcome(api, key, "C0", result="dispute")[1]["account_status"] == "disputed"
    assert outcome(api, key, "C1", result="wrong_number")[1]["next_step"]["unusable_channels"] == ["sms", "whatsapp", "call"]
    assert outcome(api, key, "C2", result="deceased")[1]["next_step"]["close_contact"] is True
    assert outcome(api, key, "C3", result="paid_reported")[1]["account_status"] == "payment_reported"
    status, promised = outcome(api, key, "C4", result="promise_to_pay",
                               promise={"amount": "400", "due_on": "2026-11-30"})
    assert status == 201 and promised["account_status"] == "promised" and promised["promise"]["source"] == "phone"
    stored = accounts()
    assert stored["C0"]["status"] == "disputed"
    assert set(stored["C1"]["unusable_channels"]) == {"sms", "whatsapp", "call"}
    assert stored["C2"]["contact_closed"] == "deceased"
    assert (stored["C4"]["status"], stored["C4"]["promise_date"]) == ("promised", "2026-11-30")
    assert sorted(a.code for a in list_alarms("acme")) == ["debtor_deceased", "skip_trace"]


def test_a_deceased_debtor_gets_no_reminder_even_one_already_queued(stack, tenant, upload, clock, api, queues):
    upload("portfolios/acme/a.csv", rows(1))
    plan()
    messages = drain(queues["email"])
    assert outcome(api, tenant["api_key"], "C0", result="deceased", channel="in_person")[0] == 201
    send(messages)
    assert sent_emails() == []
    assert next(e for e in timeline("C0") if e["kind"] == "contact")["reason"] == "closed_deceased"


@pytest.mark.parametrize("fields, field", [
    ({"result": "callback_requested"}, "callback_at"),
    ({"result": "callback_requested", "callback_at": "2026-11-24T23:30:00-06:00"}, "callback_at"),  # after 22:00
    ({"result": "no_answer", "callback_at": "2026-11-24T10:00:00-06:00"}, "callback_at"),
    ({"result": "promise_to_pay"}, "promise"),
    ({"result": "hung_up"}, "result"),
    ({"result": "no_answer", "occurred_at": "2026-10-01T10:00:00-06:00"}, "occurred_at"),
    ({"result": "no_answer", "task_id": "call-20261123-C9"}, "task_id"),  # another account's task
])
def test_an_outcome_that_breaks_a_rule_is_refused_with_the_field(stack, tenant, upload, clock, api, fields, field):
    upload("portfolios/acme/a.csv", rows(1))
    status, body = outcome(api, tenant["api_key"], "C0", **fields)
    assert status in (400, 422) and field in json.dumps(body), body
    assert not [e for e in timeline("C0") if e["kind"] == "outcome"]


def test_the_day_s_call_list_orders_broken_promises_first_and_an_outcome_closes_its_task(
        stack, tenant, upload, clock, api):
    from cobranza.accounts import store as accounts_repo

    put_policy(CALL_POLICY)
    header = "cuenta,nombre,saldo,vencimiento,correo,telefono,whatsapp_opt_in,estado"
    lines = [header] + [f"C{i},Persona {i},{1000 * (i + 1)},2026-11-20,d{i}@x.mx,55123456{i:02d},si,CDMX" for i in range(4)]
    lines.append("C9,Sin Telefono,9000,2026-11-20,d9@x.mx,,no,CDMX")
    upload("portfolios/acme/a.csv", ("\n".join(lines) + "\n").encode())
    accounts_repo.update_fields("acme", "C0", {"promise_broken_on": "2026-11-22"})
    night = plan()
    assert night["by_status"].get("call_listed") == 4 and night["skipped_by_reason"] == {"no_address": 1}
    status, page = call(api, "get", "/v1/calls?date=2026-11-23", tenant["api_key"])
    assert status == 200, page
    order = [i["account_id"] for i in page["items"]]
    assert order == ["C0", "C3", "C2", "C1"]  # the broken promise first, then the largest balance
    first = page["items"][0]
    assert first["task_id"] == "call-20261123-C0" and first["priority"] == "promise_broken"
    assert first["window"] == {"start": "07:00", "end": "22:00", "timezone": "America/Mexico_City"}
    assert first["best_hours"]["source"] == "policy_default" and first["phone"] == "+525512345600"
    closed = outcome(api, tenant["api_key"], "C3", result="busy", task_id="call-20261123-C3")[1]
    assert closed["task_closed"] is True
    later = [i["account_id"] for i in call(api, "get", "/v1/calls?date=2026-11-23", tenant["api_key"])[1]["items"]]
    assert later == ["C0", "C2", "C1"]
    accounts_repo.update_fields("acme", "C2", {"status": "disputed"})  # a dispute since the night
    assert [i["account_id"] for i in call(api, "get", "/v1/calls?date=2026-11-23&limit=2",
                                          tenant["api_key"])[1]["items"]] == ["C0"]


def test_a_callback_is_on_that_day_s_list_for_the_agent_who_took_it(stack, tenant, upload, clock, api):
    upload("portfolios/acme/a.csv", rows(2))
    status, body = outcome(api, tenant["api_key"], "C1", result="callback_requested", agent="beto",
                           callback_at="2026-11-24T18:30:00-06:00")
    assert status == 201 and body["callback"] == {"task_id": "call-20261124-C1", "call_at": "2026-11-25T00:30:00Z"}
    mine = call(api, "get", "/v1/calls?date=2026-11-24&agent=beto", tenant["api_key"])[1]
    assert [(i["account_id"], i["source"], i["call_at"]) for i in mine["items"]] == [("C1", "callback",
                                                                                      "2026-11-25T00:30:00Z")]
    assert call(api, "get", "/v1/calls?date=2026-11-24&agent=otra", tenant["api_key"])[1]["items"] == []


def test_best_hours_are_learned_from_the_tenant_s_calls_once_there_are_enough(stack, tenant, upload, clock, api):
    put_policy({**CALL_POLICY, "calls": {"min_attempts": 4}})
    upload("portfolios/acme/a.csv", rows(6))
    key = tenant["api_key"]
    for n, (hour, result) in enumerate([("09", "no_answer"), ("09", "no_answer"), ("12", "right_party_contact"),
                                        ("12", "right_party_contact"), ("17", "busy")]):
        assert outcome(api, key, f"C{n}", result=result, occurred_at=f"2026-11-16T{hour}:10:00-06:00")[0] == 201
    plan()
    items = call(api, "get", "/v1/calls?date=2026-11-23", key)[1]["items"]
    assert items and items[0]["best_hours"]["source"] == "learned"  # Mondays: 5 attempts
    assert items[0]["best_hours"]["hours"][0] == "12:00-13:00"


def test_another_tenant_s_calls_and_accounts_are_not_found(stack, tenant, upload, clock, api):
    from cobranza.tenants import store as tenants

    upload("portfolios/acme/a.csv", rows(1))
    tenants.create_tenant("other", "Otra", "America/Mexico_City", ["x@otra.mx"])
    other = tenants.issue_api_key("other")
    assert outcome(api, other, "C0", result="no_answer")[0] == 404
    outcome(api, tenant["api_key"], "C0", result="callback_requested", callback_at="2026-11-24T10:00:00-06:00")
    assert call(api, "get", "/v1/calls?date=2026-11-24", other)[1]["items"] == []
    assert call(api, "get", "/v1/calls?date=2026-11-24", None)[0] == 401
    assert call(api, "get", "/v1/calls?date=2027-13-01", tenant["api_key"])[0] == 400


def test_the_timeline_shows_payments_promises_outcomes_and_call_tasks_in_the_documented_shape(
        stack, tenant, upload, clock, api):
    import yaml

    from tests.helpers import ROOT
    from tests.integration.test_promises import pay

    validators = pytest.importorskip("openapi_schema_validator")
    put_policy(CALL_POLICY)
    upload("portfolios/acme/a.csv", rows(1))
    key = tenant["api_key"]
    plan()  # day +3: a call step
    outcome(api, key, "C0", result="promise_to_pay", task_id="call-20261123-C0",
            promise={"installments": [{"amount": "100", "due_on": "2026-11-25"}, {"amount": "100", "due_on": "2026-12-05"}]})
    pay("F-1", "C0", "200", "2026-11-23T18:00:00Z")  # keeps it
    status, body = call(api, "get", "/v1/accounts/C0/timeline", key)
    assert status == 200
    kinds = sorted(i["kind"] for i in body["items"])
    assert kinds == ["contact", "outcome", "payment", "promise", "promise_kept"], kinds
    spec = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text(encoding="utf-8"))
    schema = {"$ref": "#/components/schemas/TimelinePage", "components": spec["components"]}
    validators.validate(body, schema, cls=validators.OAS30Validator)
    by_kind = {i["kind"]: i for i in body["items"]}
    assert (by_kind["contact"]["status"], by_kind["contact"]["task_id"]) == ("call_listed", "call-20261123-C0")
    assert by_kind["promise"]["installments"][1] == {"amount": "100.00", "due_on": "2026-12-05"}
    assert (by_kind["payment"]["amount"], by_kind["payment"]["balance_after"]) == ("200.00", "800.00")


def test_a_callback_for_later_today_stays_on_today_s_list_after_the_call_that_took_it(stack, tenant, upload, clock, api):
    put_policy(CALL_POLICY)
    upload("portfolios/acme/a.csv", rows(1))
    plan()  # day +3: C0 on today's list
    status, body = outcome(api, tenant["api_key"], "C0", result="callback_requested", task_id="call-20261123-C0",
                           callback_at="2026-11-23T18:30:00-06:00")
    assert status == 201 and body["task_closed"] is True, body
    items = call(api, "get", "/v1/calls?date=2026-11-23", tenant["api_key"])[1]["items"]
    assert [(i["account_id"], i["source"], i["call_at"]) for i in items] == [("C0", "callback", "2026-11-24T00:30:00Z")]
