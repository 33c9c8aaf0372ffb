"""SPEC §9 in a real browser: Debian's Chromium, driven by Playwright, against the local stack.

A lender's field day is made the way users make it: the admin command creates the tenant, three
field agents and a supervisor; a portfolio is copied with the AWS CLI; the agents' phones post
pings and visit results over HTTP. Then a supervisor signs in to the console and sees the agents
on the map, opens a visit and acknowledges an alarm; and a debtor opens the link of the reminder
emailed to them on a phone-sized screen and opts out by the form, with JavaScript off.

Every page is checked for console errors; screenshots land in `.local/screenshots/`.
"""
from __future__ import annotations

import email
import json
import os
import re
import shutil
import urllib.error
import urllib.request
from datetime import datetime, time, timedelta, timezone
from email import policy as email_policy
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cobranza.core import clock
from tests.helpers import ROOT, local_today
from tests.local.product.test_e2e import AWS_CLI, admin, aws_cli

SHOTS = ROOT / ".local" / "screenshots"
PASSWORD = "Consola2026segura"
TENANT = "paginas-e2e"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
#: (account, debtor, balance, days past due, email, state, city, lat, lon): one agent's area each.
ACCOUNTS = [
    ("C1", "Carmen Centro", 18000, 40, "", "CDMX", "Cuauhtémoc", 19.4326, -99.1332),
    ("C2", "Ciro Roma", 9000, 40, "", "CDMX", "Cuauhtémoc", 19.4150, -99.1600),
    ("G1", "Gloria Tapatía", 12000, 40, "", "Jalisco", "Guadalajara", 20.6767, -103.3475),
    ("G2", "Gael Zapopan", 7000, 40, "", "Jalisco", "Zapopan", 20.6900, -103.3600),
    ("M1", "Mario Regio", 15000, 40, "", "Nuevo León", "Monterrey", 25.6866, -100.3161),
    ("E1", "Elena Correo", 1500, 3, "elena@ejemplo.mx", "CDMX", "Cuauhtémoc", 19.4400, -99.1400),
]
#: (email, home base, zones)
AGENTS = [("ana@paginas.mx", "19.4300,-99.1400", "CDMX"), ("luis@paginas.mx", "20.6700,-103.3500", "Jalisco"),
          ("marta@paginas.mx", "25.6800,-100.3100", "Nuevo León")]



def _portfolio(today) -> str:
    lines = ["cuenta,nombre,saldo,vencimiento,correo,estado,ciudad,cp,domicilio,latitud,longitud"]
    for account_id, name, balance, dpd, mail, state, city, lat, lon in ACCOUNTS:
        due = (today - timedelta(days=dpd)).isoformat()
        lines.append(f"{account_id},{name},{balance},{due},{mail},{state},{city},06700,Calle {account_id} 10,{lat},{lon}")
    return "\n".join(lines) + "\n"


def _request(stack, method: str, path: str, body: Any = None, key: str | None = None,
             token: str | None = None) -> tuple[int, Any]:
    headers = {"content-type": "application/json"} if body is not None else {}
    if key:
        headers["x-api-key"] = key
    if token:
        headers["authorization"] = f"Bearer {token}"
    request = urllib.request.Request(stack.api_endpoint + path, method=method, headers=headers,
                                     data=json.dumps(body).encode() if body is not None else None)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def _sign_in(stack, agent: dict[str, Any]) -> str:
    out = aws_cli(stack, "cognito-idp", "initiate-auth", "--client-id", agent["client_id"], "--auth-flow",
                  "USER_PASSWORD_AUTH", "--auth-parameters", f"USERNAME={agent['username']},PASSWORD={PASSWORD}")
    return json.loads(out)["AuthenticationResult"]["IdToken"]


def _moved(lat: float, lon: float, metres: float) -> tuple[float, float]:
    return round(lat + metres / 111_195.0, 6), lon


@pytest.fixture(scope="module")
def stack():
    from infra.local.stack import LocalStack

    with LocalStack(ROOT, aws_port=0, api_port=0, log_dir=ROOT / ".local" / "test-logs-pages") as running:
        yield running


@pytest.fixture(scope="module")
def field_day(stack, tmp_path_factory) -> dict[str, Any]:
    """The lender's day: agents with pings (and battery), visits done (one far from the house:
    flagged, which raises an alarm), and a reminder emailed to E1 by the night's campaign."""
    if AWS_CLI is None:
        if os.environ.get("CI"):
            pytest.fail("the AWS CLI is not installed (make tools installs it into .tools)")
        pytest.skip("the AWS CLI is not installed (make tools installs it into .tools)")
    local = clock.utcnow().astimezone(ZoneInfo("America/Mexico_City"))
    if (local - local.replace(hour=0, minute=0, second=0, microsecond=0)) < timedelta(minutes=65):
        # the day's pings and results go back an hour: they would land on yesterday, not on the
        # map's day (the tenant's today)
        pytest.skip("the stack's clock is in the first hour of the day in Mexico City; the field day needs one")
    lender = admin(stack, "tenant", "create", TENANT, "--name", "Financiera Páginas", "--notify", "equipo@paginas.mx")
    key = lender["api_key"]
    today = local_today()
    path = tmp_path_factory.mktemp("pages") / "cartera.csv"
    path.write_text(_portfolio(today), encoding="utf-8")
    aws_cli(stack, "s3", "cp", str(path), f"s3://{stack.bucket}/portfolios/{TENANT}/cartera.csv")
    stack.wait_idle(timeout=120)

    agents = [admin(stack, "agent", "create", TENANT, mail, "--password", PASSWORD, "--home", home, "--zone", zone)
              for mail, home, zone in AGENTS]
    supervisor = admin(stack, "agent", "create", TENANT, "jefa@paginas.mx", "--password", PASSWORD, "--supervisor")
    tokens = {agent["agent_id"]: _sign_in(stack, agent) for agent in agents}

    visits = []
    for account_id in ("C1", "C2", "G1", "G2", "M1"):
        status, visit = _request(stack, "POST", "/v1/visits", {"account_id": account_id}, key=key)
        assert status == 201 and visit["agent_id"], visit
        visits.append(visit)
    now = clock.utcnow()
    for n, agent in enumerate(agents):
        token = tokens[agent["agent_id"]]
        lat, lon = (float(x) for x in AGENTS[n][1].split(","))
        pings = [{"lat": lat + 0.001 * i, "lon": lon + 0.001 * i, "accuracy_m": 10, "battery_pct": 90 - 10 * n - i,
                  "captured_at": (now - timedelta(minutes=60 - 10 * i)).isoformat()} for i in range(4)]
        status, answer = _request(stack, "POST", "/v1/me/locations", {"pings": pings}, token=token)
        assert status == 200 and answer["accepted"] == 4, answer
    results = {}
    for k, visit in enumerate(visits):  # one after the other, a few minutes apart
        account = next(a for a in ACCOUNTS if a[0] == visit["account_id"])
        far = visit["account_id"] == "C2"  # posted from 420 m away: flagged, and an alarm
        lat, lon = _moved(account[7], account[8], 420.0 if far else 30.0)
        body = {"idempotency_key": f"pages-{visit['visit_id']}", "captured_at": (now - timedelta(minutes=26 - 5 * k)).isoformat(),
                "location": {"lat": lat, "lon": lon, "accuracy_m": 8, "is_mock": False, "provider": "gps"},
                "battery_pct": 70, "outcome": "not_home" if far else "promise_to_pay",
                "answers": {"holder_lives_here": True, "who_answered": "titular", "property_condition": "buena",
                            "zone_risk": "bajo", "best_contact_time": "tarde"}}
        if not far:
            body["promise"] = {"amount": "500.00", "date": (today + timedelta(days=5)).isoformat()}
        status, answer = _request(stack, "POST", f"/v1/me/visits/{visit['visit_id']}/result", body,
                                  token=tokens[visit["agent_id"]])
        assert status == 201, answer
        results[visit["account_id"]] = (answer["verification"]["status"], answer["verification"]["reasons"])
    assert {account: status for account, (status, _) in results.items()} == {
        "C1": "verified", "C2": "flagged", "G1": "verified", "G2": "verified", "M1": "verified"}, results

    # the night's campaign emails E1 its reminder, with the debtor's self-service link
    stack.fire_schedule("CampaignFunction", datetime.combine(today, time(16, 0), tzinfo=timezone.utc))
    stack.wait_idle(timeout=120)
    raw = [m for m in stack.moto_data()["ses"]["RawMessage"] if "elena@ejemplo.mx" in json.dumps(m)]
    assert raw, "the reminder to E1 was not sent"
    message = email.message_from_string(raw[-1]["raw_data"], policy=email_policy.default)
    text = message.get_body(preferencelist=("plain",)).get_content()
    link = re.search(r"https?://\S+/v1/self/[A-Za-z0-9._~-]+", text)
    assert link, text
    return {"key": key, "today": visits[0]["scheduled_on"], "supervisor": supervisor, "agents": agents,
            "visits": visits, "results": results, "debtor_link": link.group(0)}


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("Debian's chromium is not installed (make system installs it)")
        pytest.skip("chromium is not installed (make system installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield launched
        launched.close()


class Page:
    """A browser tab that records its console errors, failed requests and uncaught exceptions."""

    def __init__(self, browser, **context: Any) -> None:
        self.context = browser.new_context(locale="es-MX", timezone_id="America/Mexico_City", **context)
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on("console", lambda m: self.problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.problems.append(f"uncaught: {e}"))

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    def close(self) -> None:
        self.context.close()


def _sign_in_to_console(tab: Page, stack, field_day) -> None:
    page = tab.page
    page.goto(f"{stack.api_endpoint}/console/")
    page.get_by_label("Correo").fill(field_day["supervisor"]["username"])
    page.get_by_label("Contraseña").fill(PASSWORD)
    page.get_by_role("button", name="Entrar").click()
    page.locator("body[data-map-ready='true']").wait_for(state="attached", timeout=30_000)


def _show_day(tab: Page, day: str, visits: int) -> None:
    """The map of ``day`` (the tenant's date, which the stack's clock may have shifted)."""
    from playwright.sync_api import expect

    page = tab.page
    page.fill("#map-day", day)  # its change event starts a new load, which marks the map not ready
    page.locator("body[data-map-ready='true']").wait_for(state="attached", timeout=30_000)
    expect(page.locator("path.visit-marker")).to_have_count(visits, timeout=30_000)


def test_a_supervisor_sees_the_field_day_on_the_map_opens_a_visit_and_acknowledges_its_alarm(stack, field_day, browser):
    from playwright.sync_api import expect

    tab = Page(browser, viewport={"width": 1366, "height": 900})
    page = tab.page
    _sign_in_to_console(tab, stack, field_day)
    _show_day(tab, field_day["today"], visits=5)

    assert page.locator("path.agent-marker").count() == 3  # the three agents at their last ping
    assert page.locator("path.visit-marker.visit-verified").count() == 4
    assert page.locator("path.visit-marker.visit-flagged").count() == 1
    assert page.locator("path.track-line").count() == 3  # each agent's four pings of the day
    assert "3 gestores con posición · 5 visitas del día · 12 puntos de recorrido" in page.inner_text("#map-summary")
    batteries = page.locator("#agents-table tbody td:nth-child(2)").all_inner_texts()
    assert sorted(batteries) == ["67 %", "77 %", "87 %"]  # each agent's newest ping
    rows = page.locator("#visits-table tbody tr")
    assert rows.count() == 5 and rows.first.inner_text().split() == ["C2", "ana", "Con", "alerta"]  # to look at first
    tab.shot("console-map")

    page.locator("#agents-table").get_by_role("cell", name="ana", exact=True).click()  # the map goes to her position
    page.locator("path.visit-marker.visit-flagged").click()
    panel = page.locator("#visit-panel")
    panel.wait_for(state="visible")
    panel.locator("dl.answers").wait_for()
    assert "Con alerta" in panel.inner_text() and "C2" in panel.inner_text()
    assert "zone_risk" in panel.inner_text() and "not_home" in panel.inner_text()
    tab.shot("console-visit")

    page.get_by_role("link", name="Alarmas").click()
    row = page.locator("#alarms-table tbody tr", has_text="Visita con alertas")  # the code, named for people
    row.wait_for()
    alarm_id = row.get_attribute("data-alarm-id")
    row.get_by_role("button", name="Reconocer").click()
    row.locator(".badge.acknowledged").wait_for()
    tab.shot("console-alarms")
    status, alarms = _request(stack, "GET", "/v1/alarms?status=acknowledged", key=field_day["key"])
    acknowledged = {a["alarm_id"]: a for a in alarms["items"]}
    assert status == 200 and acknowledged[alarm_id]["acknowledged_by"] == f"supervisor:{field_day['supervisor']['agent_id']}"

    page.get_by_role("link", name="Indicadores").click()
    page.locator("#kpi-totals .tile").first.wait_for()
    page.fill("#kpi-from", field_day["today"])  # the tenant's day, on the stack's (maybe shifted) clock
    page.fill("#kpi-to", field_day["today"])
    page.click("#kpi-refresh")
    expect(page.locator("#kpi-totals [data-kpi=visits_done] .value")).to_have_text("5")
    page.locator("#roll-table").wait_for()
    tab.shot("console-kpis")

    page.get_by_role("link", name="Cuentas").click()
    page.fill("#account-id", "C2")
    page.get_by_role("button", name="Buscar").click()
    page.locator("#timeline li", has_text="visit").first.wait_for()
    tab.shot("console-account")

    page.get_by_role("button", name="English").click()
    page.get_by_role("link", name="Accounts").wait_for()
    assert tab.problems == []
    tab.close()


def test_a_console_without_a_supervisor_signs_nobody_in(stack, field_day, browser):
    tab = Page(browser, viewport={"width": 1024, "height": 768})  # a tablet
    page = tab.page
    page.goto(f"{stack.api_endpoint}/console/")
    page.get_by_label("Correo").fill(field_day["agents"][0]["username"])  # an agent, not a supervisor
    page.get_by_label("Contraseña").fill(PASSWORD)
    page.get_by_role("button", name="Entrar").click()
    page.get_by_text("Esta consola es para supervisores.").wait_for()
    assert page.locator("#nav").is_hidden()
    tab.shot("console-agent-refused")
    tab.close()


def test_a_debtor_opens_the_reminder_link_on_a_phone_and_opts_out_by_the_form_without_javascript(stack, field_day, browser):
    link = field_day["debtor_link"]
    assert link.startswith(stack.api_endpoint)  # the stack's own address, as in the email
    tab = Page(browser, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
               java_script_enabled=False, device_scale_factor=2)
    page = tab.page
    response = page.goto(link)
    assert response is not None and response.status == 200
    assert response.headers["content-type"].startswith("text/html")
    text = page.inner_text("body")
    assert "Financiera Páginas" in text and "$1,500.00" in text  # the lender and E1's balance
    assert page.locator("input[name=csrf]").count() == 2  # both forms carry their token
    for form in page.locator("form").all():  # mobile-first: nothing wider than the phone
        box = form.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    tab.shot("debtor-page")

    page.get_by_label("Correo electrónico").check()
    page.get_by_role("button", name="Dejar de recibir mensajes").click()
    page.wait_for_url(re.compile(r"hecho=baja"))
    assert "Ya no te enviaremos mensajes automáticos" in page.inner_text("body")
    tab.shot("debtor-opted-out")
    status, account = _request(stack, "GET", "/v1/accounts/E1", key=field_day["key"])
    assert status == 200 and account["contact"]["opted_out_channels"] == ["email"]
    assert tab.problems == []
    tab.close()
