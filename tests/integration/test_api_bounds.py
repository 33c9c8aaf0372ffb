"""SPEC §7, bounded input: no request, however malformed, gets a 5xx, and nothing unreadable is stored.

Given the tenant's key, an agent's and a supervisor's tokens, when requests carry extreme numbers,
oversized or deeply nested bodies, forged or foreign tokens of any shape, then each gets a clear
4xx naming the field (with a short excerpt of the value), and whatever was accepted reads back
through every read route, the visit email and the nightly run.
"""
import json
from datetime import timedelta

import pytest

from tests.helpers import LambdaContext, load_function, run_night, sqs_event
from tests.integration.test_visits import (  # noqa: F401  (fixtures used by name)
    NOW,
    ZOCALO,
    agents,
    api,
    call,
    field,
    forward_visit_results,
    now,
    plan_visit,
    post_result,
    result_body,
)

TINY = 1e-300  # a float; DynamoDB keeps nothing below 1E-130
KEY_ROUTES = [("post", "/v1/accounts/V1/opt-outs"), ("post", "/v1/uploads"), ("put", "/v1/policy"),
              ("post", "/v1/visits")]
AGENT_ROUTES = [("post", "/v1/me/visits/vis_000000000000000000000000/checkin"),
                ("post", "/v1/me/visits/vis_000000000000000000000000/result"), ("post", "/v1/me/photos"),
                ("post", "/v1/me/locations")]


def raw_call(api, method, path, raw: bytes, *, key=None, token=None, content_type="application/json"):
    headers = {"content-type": content_type}
    if key:
        headers["x-api-key"] = key
    if token:
        headers["authorization"] = f"Bearer {token}"
    response = getattr(api, method)(path, headers=headers, body=raw)
    return response.status_code, json.loads(response.body) if response.body else None, len(response.body or b"")


def credentials(field, path):
    return {"token": field["ana"]["token"]} if path.startswith("/v1/me/") else {"key": field["key"]}


def self_link_token(account_id="V1"):
    from cobranza.core import clock
    from cobranza.core.signing import link_key
    from cobranza.debtor import links

    return links.sign(link_key(), "acme", account_id, clock.utcnow())


# ---------------------------------------------------------------- bodies: size, depth, shape
@pytest.mark.parametrize("method, path", KEY_ROUTES + AGENT_ROUTES)
def test_a_body_over_one_megabyte_is_413_and_a_deep_one_400_on_every_route(api, field, method, path):
    who = credentials(field, path)
    big = json.dumps({"notes": "x" * (1024 * 1024)}).encode()
    status, error, _ = raw_call(api, method, path, big, **who)
    assert status == 413 and error["error"]["code"] == "payload_too_large"
    deep = b"[" * 10_000 + b"]" * 10_000
    status, error, _ = raw_call(api, method, path, deep, **who)
    assert status == 400 and "32" in error["error"]["message"]
    for raw in (b"{nope", b'{"a": NaN}', b'{"a": 1e400}', b"\xff\xfe"):
        status, error, _ = raw_call(api, method, path, raw, **who)
        assert status == 400 and error["error"]["code"] == "bad_request", raw


def test_json_up_to_32_levels_is_read_and_one_more_is_refused(api, field):
    nested = 31 * '{"a":' + "1" + 31 * "}"  # 31 objects inside the body's object: 32 levels
    status, error, _ = raw_call(api, "put", "/v1/policy", ('{"locale":' + nested + "}").encode(), key=field["key"])
    assert status == 422 and error["error"]["details"][0]["field"] == "locale"  # parsed, then judged by the schema
    status, error, _ = raw_call(api, "put", "/v1/policy", ('{"locale":{"a":' + nested + "}}").encode(), key=field["key"])
    assert status == 400


def test_a_policy_over_200_kb_is_413_and_an_error_never_echoes_a_large_value(api, field):
    key = field["key"]
    huge = {"default_segment": "s" * 300_000}
    status, error, _ = raw_call(api, "put", "/v1/policy", json.dumps(huge).encode(), key=key)
    assert status == 413
    long_name = {"default_segment": "s" * 150_000}
    status, error, size = raw_call(api, "put", "/v1/policy", json.dumps(long_name).encode(), key=key)
    assert status == 422 and error["error"]["code"] == "invalid_policy" and size < 1_000
    assert error["error"]["details"][0]["field"] == "default_segment"
    assert len(error["error"]["details"][0]["value"]) <= 43


@pytest.mark.parametrize("body, field_name", [
    ({"account_id": "V1", "questionnaire": {}}, "questionnaire"),
    ({"account_id": "V1", "scheduled_on": ""}, "scheduled_on"),
    ({"account_id": "V1", "colour": "red"}, "body"),
    ({"account_id": 5}, "account_id"),
])
def test_a_visit_request_that_breaks_the_schema_is_422_naming_the_field(api, field, body, field_name):
    status, error = call(api, "post", "/v1/visits", key=field["key"], body=body)
    assert status == 422 and error["error"]["details"][0]["field"] == field_name


def test_an_opt_out_source_must_be_one_of_the_documented_values(api, field):
    status, error = call(api, "post", "/v1/accounts/V1/opt-outs", key=field["key"], body={"channels": ["sms"], "source": {}})
    assert status == 422 and error["error"]["details"][0]["field"] == "source"
    status, error = call(api, "get", "/v1/accounts?status=AAA", key=field["key"])
    assert status == 400 and error["error"]["details"][0]["field"] == "status"


# ---------------------------------------------------------------- tokens and ids of any shape
@pytest.mark.parametrize("token", ["é.ü", "%C3%A9h%C2%AC.x", "a" * 600 + ".b", "no-dot", "a.b", "..", "a.b.c"])
def test_a_link_token_of_any_shape_is_401_before_the_body_is_read(api, field, token):
    from urllib.parse import quote

    deep = b"[" * 10_000 + b"]" * 10_000
    for method, path in (("post", f"/v1/self/{quote(token, safe='')}/promise"),
                         ("post", f"/v1/self/{quote(token, safe='')}/opt-out")):
        status, error, _ = raw_call(api, method, path, deep)
        assert status == 401 and error["error"]["code"] == "unauthorized", (path, status)
    for path in (f"/v1/self/{quote(token, safe='')}", f"/v1/photos/{quote(token, safe='')}"):
        status, error = call(api, "get", path)
        assert status == 401, (path, status)


@pytest.mark.parametrize("visit_id", ["vis_1", "VIS_" + "0" * 24, "vis_" + "é" * 24, "x" * 300])
def test_a_visit_id_of_any_shape_is_404(api, field, visit_id):
    from urllib.parse import quote

    status, _ = call(api, "get", f"/v1/visits/{quote(visit_id, safe='')}", key=field["key"])
    assert status == 404
    status, _ = call(api, "post", f"/v1/me/visits/{quote(visit_id, safe='')}/checkin", token=field["ana"]["token"],
                     body={"captured_at": "2026-11-23T16:50:00Z", "location": {"lat": 1, "lon": 1, "accuracy_m": 1}})
    assert status == 404


@pytest.mark.parametrize("key", ["é", "cbz_" + "x" * 5000, "", " ", "cbz_\u0000"])
def test_an_api_key_of_any_shape_is_401(api, field, key):
    response = api.get("/v1/accounts", headers={"x-api-key": key} if key else {})
    assert response.status_code == 401


@pytest.mark.parametrize("token", ["é", "a.b.c", "x" * 9000, "eyJhbGciOiJub25lIn0.e30.", "Bearer"])
def test_a_bearer_token_of_any_shape_is_401(api, field, token):
    response = api.get("/v1/me/visits", headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 401


# ---------------------------------------------------------------- pagination tokens
def page(api, path, **who):
    status, body = call(api, "get", path, **who)
    assert status == 200, body
    return body


def test_a_next_token_works_only_for_its_route_tenant_and_filters(api, field, agents):
    from cobranza.tenants import store as tenants

    key = field["key"]
    accounts_token = page(api, "/v1/accounts?limit=1", key=key)["next_token"]
    filtered_token = page(api, "/v1/accounts?limit=1&stage=extrajudicial", key=key)["next_token"]
    assert accounts_token and filtered_token
    assert len(page(api, f"/v1/accounts?limit=1&next_token={accounts_token}", key=key)["items"]) == 1
    for _ in range(3):
        plan_visit(api, field, "V2")
    visits_token = page(api, "/v1/visits?limit=1", key=key)["next_token"]
    assert visits_token

    tenants.create_tenant("zeta", "Zeta", "America/Mexico_City", [])
    zeta = tenants.issue_api_key("zeta")
    payload, _, signature = accounts_token.partition(".")
    refused = {
        "another route": ("/v1/visits?next_token=" + accounts_token, {"key": key}),
        "another route's token": ("/v1/accounts?next_token=" + visits_token, {"key": key}),
        "another account's timeline": ("/v1/accounts/V2/timeline?next_token=" + accounts_token, {"key": key}),
        "other filters": ("/v1/accounts?limit=1&stage=administrative&next_token=" + filtered_token, {"key": key}),
        "no filters": ("/v1/accounts?limit=1&next_token=" + filtered_token, {"key": key}),
        "another tenant": ("/v1/accounts?next_token=" + accounts_token, {"key": zeta}),
        "an altered signature": (f"/v1/accounts?next_token={payload}.{signature[::-1]}", {"key": key}),
        "an altered position": (f"/v1/accounts?next_token={payload[:-2]}AA.{signature}", {"key": key}),
        "not a token": ("/v1/accounts?next_token=%C3%A9%C3%A9", {"key": key}),
        "a supervisor with the key's token": ("/v1/visits?next_token=" + accounts_token,
                                              {"token": field["sup"]["token"]}),
    }
    for reason, (path, who) in refused.items():
        status, error = call(api, "get", path, **who)
        assert status == 400 and error["error"]["details"][0]["field"] == "next_token", reason


# ---------------------------------------------------------------- extreme numbers: stored readable
NUMBER_FORM = {"conteo": {"title": "Conteo", "questions": [
    {"id": "medidores", "type": "number", "label": "Medidores", "min": -1e12, "max": 1e12, "required": True}]}}


def test_extreme_numbers_through_every_write_route_read_back_through_every_read_route_and_the_night(api, field, stack):
    from cobranza.visits.questionnaires import DEFAULT_QUESTIONNAIRES

    key, ana, sup = field["key"], field["ana"], field["sup"]
    policy = {"amount_tiers": {"medium_from": TINY, "high_from": 1e12},
              "segments": [{"name": "tiny", "when": {"min_balance": TINY, "max_balance": 1e12, "min_days_past_due": -3650}}],
              "questionnaires": {**DEFAULT_QUESTIONNAIRES, **NUMBER_FORM}}
    status, body = call(api, "put", "/v1/policy", key=key, body=policy)
    assert status == 200, body

    captured = (NOW - timedelta(minutes=2)).isoformat().replace("+00:00", "Z")
    pings = [{"lat": TINY, "lon": -TINY, "accuracy_m": TINY, "battery_pct": TINY, "captured_at": captured},
             {"lat": -0.0, "lon": 179.99999999999997, "accuracy_m": 100000, "battery_pct": 100,
              "captured_at": (NOW - timedelta(minutes=3)).isoformat()}]
    status, body = call(api, "post", "/v1/me/locations", token=ana["token"], body={"pings": pings})
    assert status == 200 and body["accepted"] == 2, body

    visit = plan_visit(api, field, "V1", questionnaire="conteo")
    checkin = {"captured_at": captured, "battery_pct": TINY,
               "location": {"lat": ZOCALO[0] + TINY, "lon": ZOCALO[1], "accuracy_m": TINY, "is_mock": False}}
    status, body = call(api, "post", f"/v1/me/visits/{visit['visit_id']}/checkin", token=ana["token"], body=checkin)
    assert status == 200, body
    result = result_body(ZOCALO, outcome="promise_to_pay", answers={"medidores": TINY},
                         promise={"amount": "0.01", "date": NOW.date().isoformat()}, battery_pct=TINY)
    result["location"]["accuracy_m"] = TINY
    status, body = post_result(api, ana, visit["visit_id"], result)
    assert status == 201, body

    link = self_link_token("V2")
    status, body = call(api, "post", f"/v1/self/{link}/promise", body={"amount": "0.01", "date": NOW.date().isoformat()})
    assert status == 201, body

    # every read route answers, with the numbers as they were stored
    reads = [("/v1/agents/positions", {"key": key}), ("/v1/agents/positions", {"token": sup["token"]}),
             ("/v1/visits", {"key": key}), (f"/v1/visits/{visit['visit_id']}", {"key": key}),
             (f"/v1/me/visits?date={NOW.date().isoformat()}", {"token": ana["token"]}),
             ("/v1/accounts", {"key": key}), ("/v1/accounts/V1", {"key": key}), ("/v1/accounts/V1/timeline", {"key": key}),
             ("/v1/accounts/V2/timeline", {"key": key}), ("/v1/policy", {"key": key}), (f"/v1/self/{link}", {})]
    answers = {path: call(api, "get", path, **who) for path, who in reads}
    assert {path: status for path, (status, _) in answers.items()} == {path: 200 for path, _ in reads}
    ana_now = next(a for a in answers["/v1/agents/positions"][1]["items"] if a["agent_id"] == ana["agent_id"])
    assert ana_now["position"]["lat"] == 0 and ana_now["position"]["battery_pct"] == 0
    shown = answers[f"/v1/visits/{visit['visit_id']}"][1]
    assert shown["result"]["answers"] == {"medidores": 0} and shown["checkin"]["accuracy_m"] == 0

    # the tenant's email and the nightly run read the same items
    assert forward_visit_results(stack) == 1
    message = json.loads(__import__("boto3").client("sqs").receive_message(
        QueueUrl=stack.physical_name("NotificationsQueue"))["Messages"][0]["Body"])
    notify = load_function("notify").handler(sqs_event([message], queue="cobranza-NotificationsQueue"), LambdaContext())
    assert notify == {"batchItemFailures": []}
    night = run_night(NOW.isoformat().replace("+00:00", "Z"))
    assert "accounts_due" in night["tenants"]["acme"]
