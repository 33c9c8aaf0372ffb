"""SPEC §6: field visits through the HTTP API, on moto.

Given agents created by the admin command and signed in to the pool (USER_PASSWORD_AUTH), and a
portfolio with coordinates, when the tenant plans visits and the agents check in and post results
from the field (or from an offline buffer days later), then each visit is verified, flagged or
rejected by where the phone really was, the account follows the outcome, the timeline shows it,
and the tenant's team gets one email per result.
"""
import json
import time
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from chalice.test import Client

from tests.helpers import LambdaContext, load_function, s3_put_event, sqs_event

NOW = datetime(2026, 11, 23, 17, 0, tzinfo=timezone.utc)  # 11:00 in Mexico City
ZOCALO = (19.4326, -99.1332)
M_PER_DEG_LAT = 6_371_008.8 * 3.141592653589793 / 180
ROWS = ("cuenta,nombre,saldo,vencimiento,telefono,estado,ciudad,cp,domicilio,latitud,longitud\n"
        "V1,Ana Pérez,25000,2026-10-01,5512345678,CDMX,Cuauhtémoc,06700,Calle 1,19.4326,-99.1332\n"
        "V2,Beto Ruiz,8000,2026-10-01,,CDMX,Cuauhtémoc,06700,Calle 2,19.4400,-99.1400\n"
        "V3,Caro Díaz,6000,2026-10-01,,CDMX,Cuauhtémoc,06700,Calle 3,,\n"
        "V4,Dani Gil,7000,2026-10-01,,CDMX,Cuauhtémoc,06700,Calle 4,19.4200,-99.1300\n"
        "G1,Gus Luna,9000,2026-10-01,,Jalisco,Guadalajara,44100,Av 1,20.6767,-103.3475\n").encode()
PASSWORD = "Campo2026seguro"


def north_of(point, metres):
    return round(point[0] + metres / M_PER_DEG_LAT, 7), point[1]


@pytest.fixture
def now():
    """The platform's clock (conftest's ``clock``) stands at NOW in every test here."""
    return NOW


@pytest.fixture
def api(stack):
    with Client(load_function("api").app) as client:
        yield client.http


def call(api, method, path, *, key=None, token=None, body=None):
    headers = {}
    if key:
        headers["x-api-key"] = key
    if token:
        headers["authorization"] = f"Bearer {token}"
    if body is not None:
        headers["content-type"] = "application/json"
    response = getattr(api, method)(path, headers=headers, body=json.dumps(body) if body is not None else None)
    return response.status_code, json.loads(response.body or b"null") if response.body else None


@pytest.fixture
def agents(stack, tenant):
    """Creates agents with the admin command and signs them in; returns name -> {agent_id, token}."""
    from infra.admin import commands
    from infra.admin.target import Target
    from tests.integration.conftest import _reset_caches

    target = Target("local", stack.names(), None, "us-east-1", "no-reply@example.com")
    made = {}

    def make(name, tenant_id="acme", supervisor=False, home=None, zones=(), capacity=None):
        created = commands.create_agent(target, tenant_id, f"{name}@{tenant_id}.mx", PASSWORD, supervisor,
                                        f"{home[0]},{home[1]}" if home else None, list(zones), capacity, name)
        _reset_caches()
        auth = boto3.client("cognito-idp").initiate_auth(
            ClientId=created["client_id"], AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": created["username"], "PASSWORD": PASSWORD})["AuthenticationResult"]
        made[name] = {**created, "token": auth["IdToken"]}
        return made[name]

    make.all = made
    return make


@pytest.fixture
def field(tenant, upload, agents, clock):
    """Acme's portfolio, agents Ana (CDMX, home near the Zócalo), Luis (Jalisco) and a supervisor."""
    upload("portfolios/acme/field.csv", ROWS)
    return {"ana": agents("ana", home=north_of(ZOCALO, 2000), zones=["CDMX"]),
            "luis": agents("luis", home=(20.67, -103.35), zones=["Jalisco"]),
            "sup": agents("sup", supervisor=True, zones=["CDMX"], home=north_of(ZOCALO, 50_000)),
            "key": tenant["api_key"]}


def plan_visit(api, field, account_id, **extra):
    status, body = call(api, "post", "/v1/visits", key=field["key"], body={"account_id": account_id, **extra})
    assert status == 201, body
    return body


def result_body(point, outcome="not_home", key="k1", captured=NOW - timedelta(minutes=10), accuracy=12, **extra):
    body = {"idempotency_key": key, "captured_at": captured.isoformat().replace("+00:00", "Z"),
            "location": {"lat": point[0], "lon": point[1], "accuracy_m": accuracy, "is_mock": False, "provider": "gps"},
            "battery_pct": 64, "outcome": outcome,
            "answers": {"holder_lives_here": True, "who_answered": "nadie", "property_condition": "buena",
                        "zone_risk": "bajo"}}
    body.update(extra)
    return body


def post_result(api, agent, visit_id, body):
    return call(api, "post", f"/v1/me/visits/{visit_id}/result", token=agent["token"], body=body)


def account(account_id):
    from cobranza.accounts import store as accounts_repo

    return accounts_repo.read_account("acme", account_id)


def timeline(account_id):
    from cobranza.accounts import timeline as timeline_repo

    return timeline_repo.list_entries("acme", account_id, 100, None)[0]


def alarms():
    from cobranza.accounts.alarms import list_alarms

    return sorted((a.code, a.subject) for a in list_alarms("acme"))


# ---------------------------------------------------------------- agents, auth, assignment
def test_a_visit_goes_to_the_nearest_agent_covering_the_zone_and_appears_in_the_agents_day(api, field):
    visit = plan_visit(api, field, "V1")
    assert visit["status"] == "assigned" and visit["agent_id"] == field["ana"]["agent_id"]  # sup is 50 km away
    jalisco = plan_visit(api, field, "G1")
    assert jalisco["agent_id"] == field["luis"]["agent_id"]

    status, day = call(api, "get", "/v1/me/visits?date=2026-11-23", token=field["ana"]["token"])
    assert status == 200 and [v["visit_id"] for v in day["items"]] == [visit["visit_id"]]
    item = day["items"][0]
    assert item["account"]["debtor_name"] == "Ana Pérez" and item["account"]["balance"] == "25000.00"
    assert item["location"] == {"lat": 19.4326, "lon": -99.1332} and item["address"]["postal_code"] == "06700"
    assert item["questionnaire"]["id"] == "address_verification"
    assert any(q["id"] == "holder_lives_here" for q in item["questionnaire"]["questions"])
    assert day["route_from"] == "home"


def test_a_payment_that_clears_the_balance_cancels_the_open_visit_and_a_partial_one_shows_what_is_owed(api, field):
    from decimal import Decimal

    from cobranza.payments.rules import Payment
    from cobranza.payments.service import record

    paid, partly = plan_visit(api, field, "V1"), plan_visit(api, field, "V2")
    record("acme", [Payment("F-1", "V1", Decimal("25000"), NOW, "spei"),
                    Payment("F-2", "V2", Decimal("100"), NOW, "spei")], "api", "2026-11-23T16:00:00Z")
    status, day = call(api, "get", "/v1/me/visits?date=2026-11-23", token=field["ana"]["token"])
    assert status == 200 and [v["visit_id"] for v in day["items"]] == [partly["visit_id"]]
    owed = Decimal(account("V2")["balance"]) - 100
    assert day["items"][0]["account"]["balance"] == f"{owed:.2f}"
    status, cancelled = call(api, "get", f"/v1/visits/{paid['visit_id']}", key=field["key"])
    assert status == 200 and cancelled["status"] == "cancelled"


def test_the_days_route_starts_at_the_nearest_stop_and_chains_nearest_neighbours(api, field):
    far, near, middle = (plan_visit(api, field, a)["visit_id"] for a in ("V4", "V2", "V1"))
    _, day = call(api, "get", "/v1/me/visits", token=field["ana"]["token"])  # home is 2 km north of the Zócalo
    assert [v["visit_id"] for v in day["items"]] == [near, middle, far]
    assert [v["route_position"] for v in day["items"]] == [1, 2, 3]


def test_a_full_agent_is_skipped_and_with_nobody_left_the_visit_stays_unassigned(api, field, agents):
    solo = agents("solo", zones=["Sonora"], capacity=1)
    plan_visit(api, field, "V1")
    status, body = call(api, "post", "/v1/visits", key=field["key"], body={"account_id": "V2", "agent_id": solo["agent_id"]})
    assert status == 201 and body["agent_id"] == solo["agent_id"]
    status, body = call(api, "post", "/v1/visits", key=field["key"], body={"account_id": "V1", "agent_id": solo["agent_id"]})
    assert status == 409 and "no slot" in body["error"]["message"]
    for account_id in (("V2", "V4", "V1") * 8)[:23]:  # Ana's 12 then the supervisor's 12 fill up
        plan_visit(api, field, account_id)
    status, listed = call(api, "get", "/v1/visits?status=unassigned", key=field["key"])
    assert status == 200 and listed["items"] == []
    extra = plan_visit(api, field, "V4")
    assert extra["status"] == "unassigned" and extra["agent_id"] is None
    _, listed = call(api, "get", "/v1/visits?status=unassigned&date=2026-11-23", key=field["key"])
    assert [v["visit_id"] for v in listed["items"]] == [extra["visit_id"]]


def test_agents_see_only_their_visits_supervisors_their_tenants_and_nobody_another_tenants(api, field, agents):
    from cobranza.tenants import store as tenants

    visit = plan_visit(api, field, "V1")
    other = call(api, "post", f"/v1/me/visits/{visit['visit_id']}/checkin", token=field["luis"]["token"],
                 body={"captured_at": "2026-11-23T16:50:00Z", "location": {"lat": ZOCALO[0], "lon": ZOCALO[1], "accuracy_m": 5}})
    assert other[0] == 404
    assert post_result(api, field["luis"], visit["visit_id"], result_body(ZOCALO))[0] == 404
    assert call(api, "get", "/v1/visits", token=field["ana"]["token"])[0] == 403  # not a supervisor
    status, listed = call(api, "get", f"/v1/visits?agent={field['ana']['agent_id']}", token=field["sup"]["token"])
    assert status == 200 and [v["visit_id"] for v in listed["items"]] == [visit["visit_id"]]
    assert call(api, "get", f"/v1/visits/{visit['visit_id']}", token=field["sup"]["token"])[0] == 200

    tenants.create_tenant("zeta", "Zeta", "America/Mexico_City", [])
    intruder = agents("intruder", tenant_id="zeta", supervisor=True)
    assert call(api, "get", f"/v1/visits/{visit['visit_id']}", token=intruder["token"])[0] == 404
    assert post_result(api, intruder, visit["visit_id"], result_body(ZOCALO))[0] == 404
    _, listed = call(api, "get", "/v1/visits", token=intruder["token"])
    assert listed["items"] == []


def test_a_missing_expired_or_forged_token_gets_401(api, field):
    from joserfc import jwk, jwt
    from moto.utilities.utils import load_resource

    assert call(api, "get", "/v1/me/visits")[0] == 401
    claims = json.loads(__import__("base64").urlsafe_b64decode(field["ana"]["token"].split(".")[1] + "=="))
    moto_key = jwk.RSAKey.import_key(load_resource("cognitoidp/resources/jwks-private.json"))
    expired = jwt.encode({"alg": "RS256", "kid": "dummy"}, dict(claims, exp=int(time.time()) - 60), moto_key)
    status, body = call(api, "get", "/v1/me/visits", token=expired)
    assert status == 401 and "expired" in body["error"]["message"]
    forged = jwt.encode({"alg": "RS256", "kid": "dummy"}, claims, jwk.RSAKey.generate_key(2048))
    assert call(api, "get", "/v1/me/visits", token=forged)[0] == 401
    other_tenant = jwt.encode({"alg": "RS256", "kid": "dummy"}, dict(claims, aud="another-client"), moto_key)
    assert call(api, "get", "/v1/me/visits", token=other_tenant)[0] == 401
    assert call(api, "get", "/v1/me/visits", token="not-a-jwt")[0] == 401


# ---------------------------------------------------------------- check-in and result
def test_a_verified_promise_marks_the_account_promised_and_lands_in_the_timeline(api, field):
    visit = plan_visit(api, field, "V1")
    rev_before = account("V1").get("rev", 0)
    status, checkin = call(api, "post", f"/v1/me/visits/{visit['visit_id']}/checkin", token=field["ana"]["token"],
                           body={"captured_at": "2026-11-23T16:40:00Z",
                                 "location": {"lat": north_of(ZOCALO, 40)[0], "lon": ZOCALO[1], "accuracy_m": 8}})
    assert status == 200 and checkin["status"] == "checked_in" and checkin["verification"]["status"] == "verified"
    body = result_body(north_of(ZOCALO, 60), outcome="promise_to_pay", promise={"amount": "5000", "date": "2026-11-30"})
    status, answer = post_result(api, field["ana"], visit["visit_id"], body)
    assert status == 201, answer
    assert answer["verification"] == {"status": "verified", "reasons": [], "distance_m": pytest.approx(60, abs=0.2),
                                      "speed_kmh": answer["verification"]["speed_kmh"]}
    assert answer["account"]["status_changed_to"] == "promised"
    stored = account("V1")
    assert stored["status"] == "promised" and stored["promise_date"] == "2026-11-30" and str(stored["promise_amount"]) == "5000"
    assert stored["rev"] == rev_before + 1  # a file being ingested meanwhile derives again (accounts.store)
    assert stored["by_status"].startswith("acme#promised#")  # the accounts list's index follows
    entry = [e for e in timeline("V1") if e["kind"] == "visit"][0]
    assert entry["outcome"] == "promise_to_pay" and entry["status"] == "verified" and entry["account_status"] == "promised"
    status, shown = call(api, "get", "/v1/accounts/V1/timeline", key=field["key"])
    assert any(i["kind"] == "visit" and i["amount"] == "5000.00" for i in shown["items"])


@pytest.mark.parametrize("metres, accuracy, mock, expected, reasons", [
    (140, 12, False, "verified", []),
    (300, 12, False, "flagged", ["outside_radius"]),
    (100, 101, False, "flagged", ["low_accuracy"]),
    (1500, 12, False, "rejected", ["distance_over_reject_limit"]),
    (10, 5, True, "rejected", ["mock_location"]),
])
def test_where_the_phone_was_decides_verified_flagged_or_rejected(api, field, metres, accuracy, mock, expected, reasons):
    visit = plan_visit(api, field, "V2")
    body = result_body(north_of((19.44, -99.14), metres), accuracy=accuracy)
    body["location"]["is_mock"] = mock
    status, answer = post_result(api, field["ana"], visit["visit_id"], body)
    assert status == 201
    assert answer["verification"]["status"] == expected and answer["verification"]["reasons"] == reasons
    assert answer["verification"]["distance_m"] == pytest.approx(metres, abs=0.5)
    assert answer["status"] == ("rejected" if expected == "rejected" else "done")
    if expected != "verified":
        assert (f"visit_{expected}", f"visit#{visit['visit_id']}") in alarms()
    if expected == "rejected":
        assert "last_visit_at" not in account("V2")  # a rejected visit changes nothing on the account


def test_identical_coordinates_on_two_visits_are_flagged(api, field):
    first, second = plan_visit(api, field, "V1"), plan_visit(api, field, "V4")
    spot = north_of(ZOCALO, 20)
    post_result(api, field["ana"], first["visit_id"], result_body(spot, key="a", captured=NOW - timedelta(hours=3)))
    # the same saved position replayed for another address 2.5 km away
    status, answer = post_result(api, field["ana"], second["visit_id"], result_body(spot, key="b"))
    assert status == 201 and "repeated_coordinates" in answer["verification"]["reasons"]


def test_an_account_without_coordinates_takes_the_first_verified_visit_as_its_reference(api, field):
    visit = plan_visit(api, field, "V3", agent_id=field["ana"]["agent_id"])  # no coordinates: the least loaded agent
    spot = (19.4350, -99.1450)
    status, answer = post_result(api, field["ana"], visit["visit_id"], result_body(spot))
    assert status == 201 and answer["verification"]["distance_m"] is None and answer["account"]["geo_reference_set"]
    stored = account("V3")
    assert (float(stored["lat"]), float(stored["lon"]), stored["geo_source"]) == (19.435, -99.145, "visit")


# ---------------------------------------------------------------- offline replay
def test_a_replayed_result_gets_the_first_answer_and_another_body_with_the_key_gets_409(api, field):
    visit = plan_visit(api, field, "V1")
    body = result_body(ZOCALO, captured=NOW - timedelta(days=3))  # posted three days late
    first = post_result(api, field["ana"], visit["visit_id"], body)
    assert first[0] == 201 and first[1]["verification"]["status"] == "verified"
    assert post_result(api, field["ana"], visit["visit_id"], body) == first
    changed = dict(body, outcome="refused")
    status, error = post_result(api, field["ana"], visit["visit_id"], changed)
    assert status == 409 and error["error"]["code"] == "idempotency_conflict"
    status, error = post_result(api, field["ana"], visit["visit_id"], dict(body, idempotency_key="other"))
    assert status == 409 and error["error"]["code"] == "conflict"


def test_results_apply_in_captured_order_not_arrival_order(api, field):
    early, late = plan_visit(api, field, "V1"), plan_visit(api, field, "V1")
    # the later visit (a dispute) arrives first; the earlier promise arrives after it from an offline phone
    post_result(api, field["ana"], late["visit_id"], result_body(ZOCALO, outcome="dispute", key="late",
                                                                 captured=NOW - timedelta(hours=1)))
    status, answer = post_result(api, field["ana"], early["visit_id"], result_body(
        ZOCALO, outcome="promise_to_pay", key="early", captured=NOW - timedelta(days=2),
        promise={"amount": "100", "date": "2026-11-25"}))
    assert status == 201 and answer["account"]["status_changed_to"] is None
    assert account("V1")["status"] == "disputed"
    kinds = [(e["kind"], e.get("outcome")) for e in timeline("V1") if e["kind"] == "visit"]
    assert kinds == [("visit", "promise_to_pay"), ("visit", "dispute")]  # by captured_at


# ---------------------------------------------------------------- questionnaires and photos
def test_every_problem_of_a_result_is_listed_in_one_422(api, field):
    visit = plan_visit(api, field, "V1")
    other_visit = "vis_" + "0" * 24
    body = result_body(ZOCALO, outcome="promise_to_pay",
                       answers={"holder_lives_here": "sí", "zone_risk": "extremo", "color": "azul"},
                       photos=[f"visits/acme/{visit['visit_id']}/ph_{'1' * 16}.jpg",
                               f"visits/zeta/{other_visit}/ph_{'2' * 16}.jpg"])
    status, error = post_result(api, field["ana"], visit["visit_id"], body)
    assert status == 422
    fields = {d["field"] for d in error["error"]["details"]}
    assert {"answers.holder_lives_here", "answers.zone_risk", "answers.who_answered",
            "answers.property_condition", "promise", "photos[0]", "photos[1]"} <= fields
    assert "answers.color" not in fields  # a question the questionnaire does not have is kept, not refused


def test_answers_captured_against_an_older_questionnaire_are_kept_as_captured_and_flagged(api, field):
    visit = plan_visit(api, field, "V1")
    body = result_body(north_of(ZOCALO, 30))
    body["answers"] = {**body["answers"], "removed_question": "sí", "relationship": "hermana"}  # asked for familiar
    status, answer = post_result(api, field["ana"], visit["visit_id"], body)
    assert status == 201, answer
    assert sorted(answer["answers_outdated"], key=lambda a: a["field"]) == [
        {"field": "answers.relationship", "reason": "not_asked"},
        {"field": "answers.removed_question", "reason": "unknown_question"}]
    status, stored = call(api, "get", f"/v1/visits/{visit['visit_id']}", key=field["key"])
    assert stored["result"]["answers"]["removed_question"] == "sí"
    assert len(stored["result"]["answers_outdated"]) == 2


def test_a_malformed_result_names_each_field_that_breaks_the_schema(api, field):
    visit = plan_visit(api, field, "V1")
    body = result_body((123.0, -99.13), photos=["fachada.jpg"], notes="x" * 2001, signature="ana")
    status, error = post_result(api, field["ana"], visit["visit_id"], body)
    assert status == 422 and error["error"]["code"] == "validation_failed"
    details = {d["field"]: d for d in error["error"]["details"]}
    assert {"location.lat", "photos[0]", "notes"} <= set(details)
    assert all(len(d["value"]) <= 43 for d in details.values())  # an excerpt, never the whole value
    status, stored = call(api, "get", f"/v1/visits/{visit['visit_id']}", key=field["key"])
    assert status == 200 and stored["status"] == "assigned" and stored["result"] is None


def test_a_photo_is_uploaded_to_the_visits_folder_checked_and_then_referenced(api, field, bucket):
    visit = plan_visit(api, field, "V1")
    status, upload = call(api, "post", "/v1/me/photos", token=field["ana"]["token"],
                          body={"visit_id": visit["visit_id"], "content_type": "image/jpeg"})
    assert status == 201 and upload["photo_key"].startswith(f"visits/acme/{visit['visit_id']}/")
    conditions = json.loads(__import__("base64").b64decode(upload["upload"]["fields"]["policy"]))["conditions"]
    assert ["content-length-range", 1, 10 * 1024 * 1024] in conditions and {"Content-Type": "image/jpeg"} in conditions
    assert call(api, "post", "/v1/me/photos", token=field["luis"]["token"],
                body={"visit_id": visit["visit_id"], "content_type": "image/jpeg"})[0] == 404
    assert call(api, "post", "/v1/me/photos", token=field["ana"]["token"],
                body={"visit_id": visit["visit_id"], "content_type": "image/gif"})[0] == 422

    key = upload["photo_key"]
    data = b"\xff\xd8\xff\xe0" + b"0" * 2000
    etag = boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=data)["ETag"].strip('"')
    photo = load_function("photo")
    assert photo.handler(s3_put_event(bucket, key, len(data), etag, "0A"), LambdaContext()) == {"photos": ["registered"]}
    fake_key = key.replace(".jpg", "b.jpg")
    boto3.client("s3").put_object(Bucket=bucket, Key=fake_key, Body=b"GIF89a....")
    assert photo.handler(s3_put_event(bucket, fake_key, 10, "e", "0B"), LambdaContext()) == {"photos": ["deleted"]}

    from cobranza.core import aws

    before = aws.request_counts.copy()
    status, answer = post_result(api, field["ana"], visit["visit_id"], result_body(ZOCALO, photos=[key]))
    assert status == 201 and answer["photos"] == [key]
    used = aws.request_counts - before
    # BatchGetItem + TransactWriteItems (the photo was already recorded) + UpdateItem (the KPI counters)
    assert used == {"dynamodb.BatchGetItem": 1, "dynamodb.TransactWriteItems": 1, "dynamodb.UpdateItem": 1}, used
    status, shown = call(api, "get", f"/v1/visits/{visit['visit_id']}", key=field["key"])
    link = shown["photo_urls"][key]
    response = api.get(link[link.index("/v1/photos/"):])
    assert response.status_code == 302 and key in response.headers["Location"]


# ---------------------------------------------------------------- outcomes -> next steps
def test_not_home_comes_back_in_three_days_at_most_three_times(api, field):
    from cobranza.visits import store as visits_repo

    visit_id = plan_visit(api, field, "V1")["visit_id"]
    for attempt in (1, 2, 3):
        status, answer = post_result(api, field["ana"], visit_id, result_body(ZOCALO, key=f"try{attempt}"))
        assert status == 201
        if attempt < 3:
            revisit = visits_repo.get_visit("acme", answer["revisit"]["visit_id"])
            assert revisit["scheduled_on"] == "2026-11-26" and revisit["attempt"] == attempt + 1
            assert revisit["agent_id"] == field["ana"]["agent_id"] and revisit["status"] == "assigned"
            visit_id = revisit["visit_id"]
        else:
            assert answer["revisit"] is None
    assert ("visits_exhausted", "account#V1") in alarms()


@pytest.mark.parametrize("outcome, status, alarm", [
    ("paid_reported", "payment_reported", None), ("dispute", "disputed", None),
    ("wrong_address", "active", "skip_trace"), ("moved", "active", "skip_trace"), ("refused", "active", None),
])
def test_each_outcome_moves_the_account_as_the_policy_says(api, field, outcome, status, alarm):
    visit = plan_visit(api, field, "V1")
    assert post_result(api, field["ana"], visit["visit_id"], result_body(ZOCALO, outcome=outcome))[0] == 201
    assert account("V1")["status"] == status
    assert ((alarm, "account#V1") in alarms()) == (alarm is not None)


def test_a_promise_does_not_reopen_a_paid_account(api, field):
    from cobranza.accounts import store as accounts_repo

    visit = plan_visit(api, field, "V1")
    accounts_repo.update_fields("acme", "V1", {"status": "paid"})  # paid after the visit was planned
    status, answer = post_result(api, field["ana"], visit["visit_id"], result_body(
        ZOCALO, outcome="promise_to_pay", promise={"amount": "100", "date": "2026-11-25"}))
    assert status == 201 and answer["account"] == {"account_id": "V1", "status_changed_to": None,
                                                   "note": "the account is paid", "geo_reference_set": False}
    assert account("V1")["status"] == "paid"


# ---------------------------------------------------------------- the tenant's email
def forward_visit_results(stack):
    """What VisitResultsPipe does in AWS: the visits stream, filtered, into NotificationsQueue."""
    from infra.local.pipes import forward_once, pipe_specs, streams_client

    (pipe,) = [p for p in pipe_specs(stack) if p.logical_id == "VisitResultsPipe"]
    return forward_once(streams_client(), boto3.client("sqs"), pipe, {})


def test_each_result_emails_the_tenant_once_whatever_the_redeliveries(api, field, stack):
    from moto.backends import get_backend

    visit = plan_visit(api, field, "V1")
    post_result(api, field["ana"], visit["visit_id"], result_body(ZOCALO, outcome="promise_to_pay",
                                                                  promise={"amount": "2500", "date": "2026-11-28"}))
    queue = stack.physical_name("NotificationsQueue")
    assert forward_visit_results(stack) == 1  # the visit's creation and assignment are filtered out
    messages = boto3.client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 1
    notify = load_function("notify")
    bodies = [json.loads(messages[0]["Body"])] * 3  # delivered three times
    for body in bodies:
        assert notify.handler(sqs_event([body], queue="cobranza-NotificationsQueue"), LambdaContext()) == {"batchItemFailures": []}
    sent = get_backend("ses")["123456789012"]["us-east-1"].sent_messages
    assert len(sent) == 1
    assert sent[0].destinations["ToAddresses"] == ["cobranza@acme.mx"]
    assert "Promesa de pago" in sent[0].body and "2,500.00" in sent[0].body and "V1" in sent[0].subject


# ---------------------------------------------------------------- tracking and the nightly field-visit step
def test_pings_from_the_offline_buffer_give_supervisors_each_agents_last_position(api, field):
    pings = [{"lat": 19.43, "lon": -99.13, "accuracy_m": 9, "battery_pct": 80, "captured_at": "2026-11-23T16:30:00Z"},
             {"lat": 19.44, "lon": -99.14, "accuracy_m": 7, "battery_pct": 71, "captured_at": "2026-11-23T16:55:00Z"},
             {"lat": 19.42, "lon": -99.12, "accuracy_m": 5, "battery_pct": 90, "captured_at": "2026-11-23T16:00:00Z"},
             {"lat": 123, "lon": -99.1, "accuracy_m": 5, "captured_at": "2026-11-23T16:10:00Z"}]
    # a ping that breaks the schema is the app's bug: the batch is refused, naming it, and nothing is stored
    status, error = call(api, "post", "/v1/me/locations", token=field["ana"]["token"], body={"pings": pings})
    assert status == 422 and error["error"]["details"][0]["field"] == "pings[3].lat"
    status, answer = call(api, "post", "/v1/me/locations", token=field["ana"]["token"], body={"pings": pings[:3]})
    assert status == 200 and answer["accepted"] == 3 and answer["rejected"] == []
    # an older batch arriving later does not move the agent back
    call(api, "post", "/v1/me/locations", token=field["ana"]["token"], body={"pings": [pings[2]]})
    for credentials in ({"key": field["key"]}, {"token": field["sup"]["token"]}):
        status, positions = call(api, "get", "/v1/agents/positions", **credentials)
        assert status == 200
        ana = next(a for a in positions["items"] if a["agent_id"] == field["ana"]["agent_id"])
        assert ana["position"] == {"lat": 19.44, "lon": -99.14, "accuracy_m": 7.0, "battery_pct": 71,
                                   "captured_at": "2026-11-23T16:55:00Z"}
        assert ana["last_seen_at"] == "2026-11-23T17:00:00Z"
    assert call(api, "get", "/v1/agents/positions", token=field["ana"]["token"])[0] == 403


def test_a_ping_far_from_a_later_fix_in_time_makes_the_visit_too_fast(api, field):
    visit = plan_visit(api, field, "V1")
    # five minutes before the result the phone was in Guadalajara: 460 km away
    call(api, "post", "/v1/me/locations", token=field["ana"]["token"],
         body={"pings": [{"lat": 20.67, "lon": -103.35, "accuracy_m": 10, "captured_at": "2026-11-23T16:45:00Z"}]})
    status, answer = post_result(api, field["ana"], visit["visit_id"], result_body(ZOCALO))
    assert status == 201 and answer["verification"]["status"] == "flagged"
    assert answer["verification"]["reasons"] == ["too_fast"]


def test_the_nightly_field_visit_step_assigns_the_task_to_the_agent_covering_the_zone(stack, tenant, upload, agents, clock):
    from cobranza.visits import store as visits_repo
    from tests.helpers import run_night

    ana = agents("ana", home=north_of(ZOCALO, 2000), zones=["CDMX"])
    # due 2026-10-19: day +35 (field visit, needs coordinates and tier >= medium) on 2026-11-23
    upload("portfolios/acme/late.csv", ROWS.replace(b"2026-10-01", b"2026-10-19"))
    result = run_night("2026-11-23T08:00:00Z")["tenants"]["acme"]
    # V1, V2, V4 and G1 (V3 has no coordinates); nobody covers Jalisco, so G1 stays unassigned
    assert result["visits_created"] == 4 and result["visits_assigned"] == 3
    items, _ = visits_repo.list_visits("acme", agent_id=ana["agent_id"], day="2026-11-23")
    assert sorted(v["account_id"] for v in items) == ["V1", "V2", "V4"]
    unassigned, _ = visits_repo.list_visits("acme", status="unassigned")
    assert [v["account_id"] for v in unassigned] == ["G1"]
    rerun = run_night("2026-11-23T08:00:00Z")["tenants"]["acme"]
    assert rerun["visits_created"] == 0
    from cobranza.visits import agents as agents_repo

    assert agents_repo.get_agent("acme", ana["agent_id"])["load_2026-11-23"] == 3  # a rerun takes no slot
