"""SPEC §9: agents' tracks through the HTTP API, on moto.

Given agents created by the admin command and signed in to the pool, when they post pings
around midnight in the tenant's zone (Mexico City, UTC-6), then each valid ping is a point of
the day it was taken on there, kept 30 days (the table's TTL), read back in time order with
``GET /v1/agents/{agent_id}/track?date=``, page by page, by the tenant's key, its supervisors
and the agent itself only.
"""
import json
import random
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from chalice.test import Client

from tests.helpers import load_function

NOW = datetime(2026, 11, 24, 7, 0, tzinfo=timezone.utc)  # 01:00 on Tuesday 24 in Mexico City
LOCAL = timezone(timedelta(hours=-6))
PASSWORD = "Campo2026seguro"


@pytest.fixture
def now():
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
    return response.status_code, json.loads(response.body) if response.body else None


@pytest.fixture
def agents(stack, tenant):
    """Creates agents with the admin command and signs them in; returns name -> {agent_id, token}."""
    from infra.admin import commands
    from infra.admin.target import Target
    from tests.integration.conftest import _reset_caches

    target = Target("local", stack.names(), None, "us-east-1", "no-reply@example.com")

    def make(name, tenant_id="acme", supervisor=False):
        created = commands.create_agent(target, tenant_id, f"{name}@{tenant_id}.mx", PASSWORD, supervisor,
                                        None, ["CDMX"], None, name)
        _reset_caches()
        auth = boto3.client("cognito-idp").initiate_auth(
            ClientId=created["client_id"], AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": created["username"], "PASSWORD": PASSWORD})["AuthenticationResult"]
        return {**created, "token": auth["IdToken"]}

    return make


@pytest.fixture
def team(tenant, agents):
    """Acme's agents Ana and Luis and supervisor Sara; lender Beta's key, agent and supervisor."""
    from cobranza.tenants import store as tenants

    tenants.create_tenant("beta", "Financiera Beta", "America/Mexico_City", ["cobranza@beta.mx"])
    beta_key = tenants.issue_api_key("beta")
    return {"ana": agents("ana"), "luis": agents("luis"), "sara": agents("sara", supervisor=True),
            "key": tenant["api_key"], "beta_key": beta_key, "beto": agents("beto", tenant_id="beta"),
            "boss": agents("boss", tenant_id="beta", supervisor=True)}


def ping(local_time, lat=19.4326, lon=-99.1332, accuracy=12, battery=None, offset=LOCAL):
    """A ping taken at ``local_time`` (Mexico City), written with the phone's ``offset``."""
    moment = local_time.replace(tzinfo=LOCAL).astimezone(offset)
    body = {"lat": lat, "lon": lon, "accuracy_m": accuracy, "captured_at": moment.isoformat()}
    if battery is not None:
        body["battery_pct"] = battery
    return body


def evening(minutes):
    """Pings every 10 minutes from 23:00 on the 23rd (local), ``minutes`` minutes of them."""
    start = datetime(2026, 11, 23, 23, 0)
    return [ping(start + timedelta(minutes=m), lat=19.43 + m / 10_000, battery=90 - m // 10)
            for m in range(0, minutes, 10)]


def post_pings(api, agent, pings):
    status, body = call(api, "post", "/v1/me/locations", token=agent["token"], body={"pings": pings})
    assert status == 200, body
    return body


def track(api, agent_id, query="", **credential):
    return call(api, "get", f"/v1/agents/{agent_id}/track{query}", **credential)


def stored_points():
    from cobranza.core.settings import get_settings

    return boto3.resource("dynamodb").Table(get_settings().tracks_table).scan()["Items"]


@pytest.fixture
def like_dynamodb(monkeypatch):
    """Queries that stop at their Limit as DynamoDB's do: with a LastEvaluatedKey (the last item
    read) even when no item follows, where moto's give none."""
    from cobranza.core import aws

    real = aws.client

    class Client:
        def __init__(self, inner):
            self._inner = inner

        def __getattr__(self, name):
            return getattr(self._inner, name)

        def query(self, **kwargs):
            page = self._inner.query(**kwargs)
            if "Limit" in kwargs and page["ScannedCount"] == kwargs["Limit"] and page["Items"]:
                page.setdefault("LastEvaluatedKey", {k: page["Items"][-1][k] for k in ("track_key", "captured_at")})
            return page

    monkeypatch.setattr(aws, "client", lambda service: Client(real(service)) if service == "dynamodb" else real(service))


# ---------------------------------------------------------------- days, order, idempotence, expiry
def test_pings_across_midnight_land_on_the_tenants_days_in_time_order(api, team):
    ana_pings = evening(120)  # 23:00 to 00:50 local: six on the 23rd, six on the 24th
    ana_pings[3] = ping(datetime(2026, 11, 23, 23, 30), lat=19.433, battery=87, offset=timezone.utc)  # a phone on UTC
    shuffled = random.Random(7).sample(ana_pings, len(ana_pings))
    answer = post_pings(api, team["ana"], shuffled)
    assert answer["accepted"] == 12 and answer["rejected"] == [] and answer["last_position_updated"]
    post_pings(api, team["luis"], [ping(datetime(2026, 11, 23, 23, 55), lat=20.67, lon=-103.35),
                                   ping(datetime(2026, 11, 24, 0, 5), lat=20.68, lon=-103.36, battery=50)])

    ana = team["ana"]["agent_id"]
    status, day = track(api, ana, "?date=2026-11-23", key=team["key"])
    assert status == 200 and day["agent_id"] == ana and day["date"] == "2026-11-23" and day["next_token"] is None
    assert [p["at"] for p in day["points"]] == [f"2026-11-24T05:{m}0:00Z" for m in range(6)]  # 23:00-23:50 local
    assert day["points"][0] == {"at": "2026-11-24T05:00:00Z", "lat": 19.43, "lon": -99.1332, "accuracy_m": 12.0,
                                "battery_pct": 90, "received_at": "2026-11-24T07:00:00Z"}
    assert day["points"][3]["lat"] == 19.433 and day["points"][3]["battery_pct"] == 87

    status, tuesday = track(api, ana, "?date=2026-11-24", key=team["key"])
    assert [p["at"] for p in tuesday["points"]] == [f"2026-11-24T06:{m}0:00Z" for m in range(6)]  # 00:00-00:50
    assert track(api, ana, key=team["key"])[1] == tuesday  # today in the tenant's zone, not UTC's
    assert track(api, ana, "?date=2026-11-22", key=team["key"])[1]["points"] == []
    assert track(api, ana, "?date=2030-01-01", key=team["key"])[1]["points"] == []

    luis = team["luis"]["agent_id"]
    assert [(p["at"], p["battery_pct"]) for p in track(api, luis, "?date=2026-11-23", key=team["key"])[1]["points"]] == [
        ("2026-11-24T05:55:00Z", None)]
    assert [(p["at"], p["battery_pct"]) for p in track(api, luis, "?date=2026-11-24", key=team["key"])[1]["points"]] == [
        ("2026-11-24T06:05:00Z", 50)]

    keys = {p["track_key"] for p in stored_points()}
    assert keys == {f"acme#{ana}#2026-11-23", f"acme#{ana}#2026-11-24",
                    f"acme#{luis}#2026-11-23", f"acme#{luis}#2026-11-24"}


def test_a_resent_batch_is_the_same_points_and_rejected_pings_are_not_kept(api, team, clock):
    pings = evening(60)
    post_pings(api, team["ana"], pings)
    clock["value"] = NOW + timedelta(minutes=3)
    again = post_pings(api, team["ana"], [*pings, pings[0]] + [ping(datetime(2026, 11, 10, 12, 0))])  # too old
    assert again["accepted"] == 7 and [r["index"] for r in again["rejected"]] == [7]
    assert len(stored_points()) == 6
    status, day = track(api, team["ana"]["agent_id"], "?date=2026-11-23", key=team["key"])
    assert [p["at"] for p in day["points"]] == [f"2026-11-24T05:{m}0:00Z" for m in range(6)]
    assert {p["received_at"] for p in day["points"]} == {"2026-11-24T07:03:00Z"}  # the copy resent overwrote


def test_a_point_expires_30_days_after_the_ping_through_the_tables_ttl(api, team, stack):
    from cobranza.core.settings import get_settings

    post_pings(api, team["ana"], [ping(datetime(2026, 11, 23, 23, 40, 30)), ping(datetime(2026, 11, 20, 8, 0))])
    expiries = sorted((p["captured_at"], int(p["expires_at"])) for p in stored_points())
    assert expiries == [
        ("2026-11-20T14:00:00Z", int(datetime(2026, 12, 20, 14, 0, tzinfo=timezone.utc).timestamp())),
        ("2026-11-24T05:40:30Z", int(datetime(2026, 12, 24, 5, 40, 30, tzinfo=timezone.utc).timestamp()))]
    ttl = boto3.client("dynamodb").describe_time_to_live(TableName=get_settings().tracks_table)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")


def test_a_point_past_its_30_days_is_never_served_though_ttl_has_not_deleted_it_yet(api, team, clock, like_dynamodb):
    start = datetime(2026, 11, 23, 8, 0)
    post_pings(api, team["ana"], [ping(start + timedelta(minutes=10 * m)) for m in range(10)])  # 14:00 to 15:30 UTC
    ana = team["ana"]["agent_id"]
    clock["value"] = datetime(2026, 12, 23, 14, 35, tzinfo=timezone.utc)  # 30 days on: four have expired
    assert len(stored_points()) == 10  # TTL deletes them days later (moto: never)
    status, day = track(api, ana, "?date=2026-11-23", key=team["key"])
    assert status == 200 and day["next_token"] is None
    assert [p["at"] for p in day["points"]] == [f"2026-11-23T1{4 + m // 6}:{m % 6}0:00Z" for m in range(4, 10)]

    pages, token = [], None  # pages of three past the expired ones: full, and the last one's token is null
    while True:
        page = track(api, ana, "?date=2026-11-23&limit=3" + (f"&next_token={token}" if token else ""), key=team["key"])[1]
        pages.append([p["at"] for p in page["points"]])
        token = page["next_token"]
        if not token:
            break
    assert [p for page in pages for p in page] == [p["at"] for p in day["points"]] and [len(p) for p in pages] == [3, 3]

    clock["value"] = datetime(2026, 12, 24, tzinfo=timezone.utc)  # every point expired
    assert track(api, ana, "?date=2026-11-23&limit=3", key=team["key"])[1] == {
        "agent_id": ana, "date": "2026-11-23", "points": [], "next_token": None}


# ---------------------------------------------------------------- pages
def test_a_day_of_exactly_a_page_or_of_whole_pages_ends_with_a_null_token(api, team, like_dynamodb):
    start = datetime(2026, 11, 23, 8, 0)
    post_pings(api, team["ana"], [ping(start + timedelta(minutes=m)) for m in range(21)])
    ana = team["ana"]["agent_id"]
    whole = track(api, ana, "?date=2026-11-23&limit=21", key=team["key"])[1]
    assert len(whole["points"]) == 21 and whole["next_token"] is None

    pages, token = [], None
    while True:
        page = track(api, ana, "?date=2026-11-23&limit=7" + (f"&next_token={token}" if token else ""), key=team["key"])[1]
        pages.append(page["points"])
        token = page["next_token"]
        if not token:
            break
    assert [len(p) for p in pages] == [7, 7, 7]  # no empty fourth page
    assert [p for page in pages for p in page] == whole["points"]


def test_pages_of_a_track_are_exact_and_bound_to_their_day_and_agent(api, team):
    start = datetime(2026, 11, 23, 8, 0)
    pings = [ping(start + timedelta(minutes=m), lat=19.4 + m / 100_000) for m in range(0, 25 * 7, 7)]  # 25 pings
    post_pings(api, team["ana"], pings)
    ana = team["ana"]["agent_id"]
    whole = track(api, ana, "?date=2026-11-23", key=team["key"])[1]
    assert len(whole["points"]) == 25 and whole["next_token"] is None

    pages, token = [], None
    while True:
        query = "?date=2026-11-23&limit=7" + (f"&next_token={token}" if token else "")
        status, page = track(api, ana, query, token=team["sara"]["token"])
        assert status == 200, page
        pages.append(page["points"])
        token = page["next_token"]
        if not token:
            break
    assert [len(p) for p in pages] == [7, 7, 7, 4]
    assert [p for page in pages for p in page] == whole["points"]

    first = track(api, ana, "?date=2026-11-23&limit=7", key=team["key"])[1]["next_token"]
    for query in (f"?date=2026-11-22&limit=7&next_token={first}",  # another day
                  f"?limit=7&next_token={first}"):  # today, by default
        status, body = track(api, ana, query, key=team["key"])
        assert (status, body["error"]["details"]) == (400, [{"field": "next_token"}])
    status, _ = track(api, team["luis"]["agent_id"], f"?date=2026-11-23&next_token={first}", key=team["key"])
    assert status == 400  # another agent
    assert track(api, ana, "?limit=0", key=team["key"])[0] == 400
    assert track(api, ana, "?limit=5001", key=team["key"])[0] == 400
    assert len(track(api, ana, "?date=2026-11-23&limit=5000", key=team["key"])[1]["points"]) == 25


def test_the_api_may_only_batch_write_and_query_the_tracks_table():
    from infra.local.template import load_template
    from tests.helpers import ROOT

    policies = load_template(ROOT / "template.yaml")["Resources"]["ApiFunction"]["Properties"]["Policies"]
    assert [p for p in policies if "TracksTable" in json.dumps(p)] == [{"Statement": [{
        "Effect": "Allow", "Action": ["dynamodb:BatchWriteItem", "dynamodb:Query"],
        "Resource": {"Fn::GetAtt": ["TracksTable", "Arn"]}}]}]


# ---------------------------------------------------------------- who may read a track
def test_the_tenant_key_its_supervisors_and_the_agent_itself_read_a_track_no_one_else(api, team):
    post_pings(api, team["ana"], evening(20))
    ana, luis = team["ana"]["agent_id"], team["luis"]["agent_id"]
    query = "?date=2026-11-23"
    for credential in ({"key": team["key"]}, {"token": team["sara"]["token"]}, {"token": team["ana"]["token"]}):
        status, body = track(api, ana, query, **credential)
        assert status == 200 and len(body["points"]) == 2, credential
    status, body = track(api, ana, query, token=team["luis"]["token"])  # another agent of the tenant
    assert status == 403 and body["error"]["code"] == "forbidden"
    assert track(api, "no-such-agent", query, token=team["luis"]["token"])[0] == 403
    assert track(api, luis, query, token=team["luis"]["token"])[1]["points"] == []

    for credential in ({"key": team["beta_key"]}, {"token": team["boss"]["token"]}):  # another tenant's
        status, body = track(api, ana, query, **credential)
        assert (status, body["error"]["code"]) == (404, "not_found"), credential
    assert track(api, team["beto"]["agent_id"], query, key=team["key"])[0] == 404
    assert track(api, team["beto"]["agent_id"], query, token=team["sara"]["token"])[0] == 404
    assert track(api, "no-such-agent", query, key=team["key"])[0] == 404
    assert track(api, "ana%23x", query, key=team["key"])[0] == 404  # not the shape of an agent id

    assert track(api, ana, query)[0] == 401
    assert track(api, ana, query, token="not-a-jwt")[0] == 401
    assert call(api, "post", f"/v1/agents/{ana}/track", key=team["key"], body={})[0] == 405


@pytest.mark.parametrize("day", ["2026-13-01", "2026-11-31", "20261123", "23/11/2026", "1999-12-31", "2101-01-01",
                                 "2026-11-23T00:00:00Z", "x"])
def test_a_malformed_day_or_one_outside_2000_to_2100_is_400(api, team, day):
    status, body = track(api, team["ana"]["agent_id"], f"?date={day}", key=team["key"])
    assert (status, body["error"]["code"]) == (400, "bad_request")
    assert body["error"]["details"][0]["field"] == "date"


def test_the_positions_carry_each_agents_last_position_battery_and_last_seen_time(api, team):
    post_pings(api, team["ana"], evening(120))
    status, positions = call(api, "get", "/v1/agents/positions", token=team["sara"]["token"])
    assert status == 200
    ana = next(a for a in positions["items"] if a["agent_id"] == team["ana"]["agent_id"])
    assert ana["position"] == {"lat": 19.441, "lon": -99.1332, "accuracy_m": 12.0, "battery_pct": 79,
                               "captured_at": "2026-11-24T06:50:00Z"}
    assert ana["last_seen_at"] == "2026-11-24T07:00:00Z"
    luis = next(a for a in positions["items"] if a["agent_id"] == team["luis"]["agent_id"])
    assert luis["position"] is None and luis["last_seen_at"] is None
