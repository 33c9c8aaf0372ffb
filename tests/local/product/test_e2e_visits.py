"""SPEC §6 on the local stack, driven as the mobile app and the lender drive it: the admin command,
`aws cognito-idp initiate-auth`, HTTP with the IdToken as bearer, a presigned photo upload, and the
tenant's email arriving through the visits stream, VisitResultsPipe, the notifications queue and SES.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import date, timedelta

import pytest
import requests

from cobranza.core import clock
from tests.helpers import ROOT, local_today
from tests.local.product.test_e2e import AWS_CLI, admin, aws_cli

PORTFOLIO = """cuenta,nombre,saldo,vencimiento,telefono,estado,ciudad,cp,domicilio,latitud,longitud
F1,Fausto Campo,18000,2026-10-01,5512345678,CDMX,Cuauhtémoc,06700,Madero 10,19.4326,-99.1332
F2,Gina Campo,9000,2026-10-01,,CDMX,Cuauhtémoc,06700,Bolívar 5,19.4350,-99.1380
"""
PASSWORD = "Campo2026seguro"


@pytest.fixture(scope="module")
def stack():
    from infra.local.stack import LocalStack

    with LocalStack(ROOT, aws_port=0, api_port=0, log_dir=ROOT / ".local" / "test-logs-visits") as running:
        yield running


def request(stack, method, path, body=None, key=None, token=None):
    headers = {"content-type": "application/json"} if body is not None else {}
    if key:
        headers["x-api-key"] = key
    if token:
        headers["authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(stack.api_endpoint + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def sign_in(stack, agent):
    out = aws_cli(stack, "cognito-idp", "initiate-auth", "--client-id", agent["client_id"], "--auth-flow",
                  "USER_PASSWORD_AUTH", "--auth-parameters", f"USERNAME={agent['username']},PASSWORD={PASSWORD}")
    return json.loads(out)["AuthenticationResult"]["IdToken"]


@pytest.mark.skipif(AWS_CLI is None, reason="the AWS CLI is not installed")
def test_an_agent_signs_in_does_a_visit_with_a_photo_and_the_lender_is_emailed_once(stack, tmp_path):
    lender = admin(stack, "tenant", "create", "visitas-e2e", "--name", "Financiera Visitas", "--notify", "equipo@visitas.mx")
    key = lender["api_key"]
    portfolio = tmp_path / "cartera.csv"
    portfolio.write_text(PORTFOLIO, encoding="utf-8")
    aws_cli(stack, "s3", "cp", str(portfolio), f"s3://{stack.bucket}/portfolios/visitas-e2e/cartera.csv")
    stack.wait_idle(timeout=120)

    agent = admin(stack, "agent", "create", "visitas-e2e", "Gestor.Uno@Visitas.mx", "--password", PASSWORD,
                  "--home", "19.4400,-99.1400", "--zone", "CDMX")
    assert set(agent) >= {"agent_id", "username", "user_pool_id", "client_id"} and agent["username"] == "gestor.uno@visitas.mx"
    supervisor = admin(stack, "agent", "create", "visitas-e2e", "jefa@visitas.mx", "--password", PASSWORD,
                       "--supervisor", "--home", "19.30,-99.20")
    token, boss = sign_in(stack, agent), sign_in(stack, supervisor)

    status, visit = request(stack, "POST", "/v1/visits", {"account_id": "F1"}, key=key)
    assert status == 201 and visit["agent_id"] == agent["agent_id"]
    today = visit["scheduled_on"]  # the tenant's date (America/Mexico_City) on the stack's clock
    assert today in (local_today().isoformat(), (local_today() - timedelta(days=1)).isoformat())  # 2nd: midnight passed
    status, day = request(stack, "GET", f"/v1/me/visits?date={today}", token=token)
    assert status == 200 and [v["visit_id"] for v in day["items"]] == [visit["visit_id"]]
    assert request(stack, "GET", "/v1/me/visits", token=token + "x")[0] == 401

    status, upload = request(stack, "POST", "/v1/me/photos", {"visit_id": visit["visit_id"], "content_type": "image/jpeg"},
                             token=token)
    assert status == 201
    jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(4096)
    posted = requests.post(upload["upload"]["url"], data=upload["upload"]["fields"],
                           files={"file": ("fachada.jpg", jpeg, "image/jpeg")}, timeout=30)
    assert posted.status_code in (200, 204), posted.text
    stack.wait_idle(timeout=60)  # PhotoFunction checks it and records it on the visit

    captured = (clock.utcnow() - timedelta(minutes=3)).isoformat()  # the platform's clock, as the API's
    # a promise for the day after the visit's: valid even if Mexico City's midnight passes meanwhile
    tomorrow = (date.fromisoformat(today) + timedelta(days=1)).isoformat()
    result = {"idempotency_key": "res-1", "captured_at": captured,
              "location": {"lat": 19.4329, "lon": -99.1332, "accuracy_m": 9, "is_mock": False, "provider": "gps"},
              "battery_pct": 77, "outcome": "promise_to_pay", "promise": {"amount": "3000", "date": tomorrow},
              "answers": {"holder_lives_here": True, "who_answered": "titular", "property_condition": "buena",
                          "zone_risk": "medio", "seemed_truthful": True, "facade_photo": upload["photo_key"]},
              "photos": [upload["photo_key"]]}
    status, answer = request(stack, "POST", f"/v1/me/visits/{visit['visit_id']}/result", result, token=token)
    assert status == 201, answer
    assert answer["verification"]["status"] == "verified" and answer["account"]["status_changed_to"] == "promised"
    replay = request(stack, "POST", f"/v1/me/visits/{visit['visit_id']}/result", result, token=token)
    assert replay == (201, answer)
    stack.wait_idle(timeout=60)

    emails = [m for m in stack.moto_data()["ses"].get("Message", []) if "equipo@visitas.mx" in json.dumps(m)]
    assert len(emails) == 1, stack.moto_data()["ses"].keys()
    body = json.dumps(emails[0])
    assert "Promesa de pago" in body and "/v1/photos/" in body

    status, account = request(stack, "GET", "/v1/accounts/F1", key=key)
    assert account["status"] == "promised"
    status, shown = request(stack, "GET", f"/v1/visits/{visit['visit_id']}", token=boss)
    assert status == 200 and shown["photos"] == [upload["photo_key"]]
    photo_link = shown["photo_urls"][upload["photo_key"]]
    with urllib.request.urlopen(photo_link, timeout=30) as response:  # 302 to S3, followed
        assert response.read() == jpeg

    status, ping = request(stack, "POST", "/v1/me/locations", {"pings": [
        {"lat": 19.433, "lon": -99.133, "accuracy_m": 6, "battery_pct": 70, "captured_at": captured}]}, token=token)
    assert status == 200 and ping["accepted"] == 1
    status, positions = request(stack, "GET", "/v1/agents/positions", token=boss)
    mine = next(a for a in positions["items"] if a["agent_id"] == agent["agent_id"])
    assert mine["position"]["battery_pct"] == 70
