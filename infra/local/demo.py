"""`make demo`: the whole path on the local stack, as a lender would see it.

1. create the demo tenant (as `python -m infra.admin tenant create` does) and its API key;
2. generate a realistic portfolio and put it in the bucket under portfolios/demo/ (the S3
   event triggers ingestion exactly as in AWS) and wait for the pipeline;
3. read the upload summary and an account through the HTTP API with the tenant's key;
4. run the nightly campaign for a few consecutive simulated days and let the channel workers
   deliver (SES, SNS SMS, the WhatsApp recorder); print reminders by channel, stage and status;
   after the first night, a day of feedback (infra.local.demo_feedback): a payments file, API
   payments, the phone team's outcomes on the day's call list, promises; printed after the
   nights: the reminders each of them stopped, the promises kept and broken, the next call list;
5. a day in the field: agents created with the admin command sign in to the local user pool,
   read their day, and post results (most honest, one far from the address, one from a mock
   location, one replayed twice from an offline phone); print verified/flagged/rejected and the
   emails the lender's team received.
"""
from __future__ import annotations

import json
import math
import os
import sys
import time
import urllib.request
from collections import Counter
from datetime import datetime, timedelta, timezone
from datetime import time as dtime
from pathlib import Path
from typing import Any

from cobranza.core import clock
from infra import sample_data
from infra.admin import commands
from infra.admin.target import Target
from infra.local import demo_alarms, demo_feedback

DEMO_TENANT = "demo"
DEMO_ROWS = int(os.environ.get("DEMO_ROWS", "2000"))
NIGHTS = 4  # the promises of the day of feedback are due that day: broken on the fourth night (2 grace days)
NOTIFY = "cobranza@demo.example.com"
AGENT_PASSWORD = "Gestor2026demo"  # nosec B105  # demo agents in the throwaway local user pool
#: (name, home base, zones): no zones = covers everywhere.
DEMO_AGENTS = (("ana.gestora", (19.4326, -99.1332), ["CDMX", "Mexico"]),
               ("luis.gestor", (20.6767, -103.3475), ["Jalisco"]),
               ("marta.gestora", (25.6866, -100.3161), []))
EXTRA_VISITS = 12


def _target(stack: Any) -> Target:
    os.environ["AWS_ENDPOINT_URL"] = stack.aws_endpoint
    for key, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"), ("AWS_DEFAULT_REGION", "us-east-1")):
        os.environ.setdefault(key, value)
    sender = str(stack.template.parameters.get("SenderEmail", "no-reply@example.com"))
    return Target("local", dict(stack.names), stack.aws_endpoint, stack.template.region, sender)


def create_demo_tenant(stack: Any) -> dict[str, str]:
    return commands.create_tenant(_target(stack), DEMO_TENANT, "Financiera Demo", ["cobranza@demo.example.com"],
                                  "America/Mexico_City")


SUPERVISOR_EMAIL = "supervisora@demo.example.com"


def on_serve(stack: Any) -> None:
    """`make serve`: a demo tenant whose key is printed with the endpoints, its field agents and
    the supervisor who signs in to the console."""
    tenant = create_demo_tenant(stack)
    _create_agents(stack)
    print(f"  demo tenant:   {tenant['tenant_id']}  x-api-key: {tenant['api_key']}")
    print(f"  console:       {stack.api_endpoint}/console/   supervisor: {SUPERVISOR_EMAIL}  password: {AGENT_PASSWORD}")
    print(f"  try:           aws --endpoint-url {stack.aws_endpoint} s3 cp cartera.csv "
          f"s3://{stack.bucket}/portfolios/{DEMO_TENANT}/cartera.csv")
    print(f"                 curl -H 'x-api-key: {tenant['api_key']}' {stack.api_endpoint}/v1/accounts?limit=5")
    sys.stdout.flush()


def _http(stack: Any, path: str, api_key: str) -> tuple[int, Any]:
    request = urllib.request.Request(stack.api_endpoint + path, headers={"x-api-key": api_key})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # nosec B310  # the local stack's http API
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def run(stack: Any) -> int:
    started = time.monotonic()
    out = Path(stack.root) / ".local" / "demo"
    out.mkdir(parents=True, exist_ok=True)
    today = sample_data.today()  # the demo tenant's date (America/Mexico_City), as ingestion reckons it

    tenant = create_demo_tenant(stack)
    key = tenant["api_key"]
    policy_status, _ = _call(stack, "PUT", "/v1/policy", demo_feedback.demo_policy(), key=key)
    if policy_status != 200:
        print(f"[demo] FAILED: PUT /v1/policy answered {policy_status}")
        return 1
    agents = _create_agents(stack)
    portfolio = out / "cartera_demo.csv"
    generated = sample_data.write_portfolio(portfolio, DEMO_ROWS, seed=42, as_of=today)
    print(f"[demo] tenant {DEMO_TENANT} created; portfolio of {generated['rows']} rows generated "
          f"({generated['bytes'] / 1e6:.1f} MB)")

    s3 = stack.client("s3")
    s3_key = f"portfolios/{DEMO_TENANT}/{portfolio.name}"
    t0 = time.monotonic()
    s3.upload_file(str(portfolio), stack.bucket, s3_key)
    stack.wait_idle(timeout=600)
    ingest_seconds = time.monotonic() - t0
    reports = s3.list_objects_v2(Bucket=stack.bucket, Prefix=f"reports/{DEMO_TENANT}/uploads/").get("Contents", [])
    summaries = [o["Key"] for o in reports if o["Key"].endswith("summary.json")]
    if len(summaries) != 1:
        print(f"[demo] FAILED: expected one upload summary, found {len(summaries)} (see .local/logs/)")
        return 1
    summary = json.loads(s3.get_object(Bucket=stack.bucket, Key=summaries[0])["Body"].read())
    status, via_api = _http(stack, f"/v1/uploads/{summary['upload_id']}", key)
    status_account, account = _http(stack, "/v1/accounts?limit=1", key)
    if summary["status"] != "succeeded" or status != 200 or status_account != 200 or not account["items"]:
        print(f"[demo] FAILED: upload {summary['status']}, API answered {status}/{status_account}")
        return 1

    nights = []
    for night in range(NIGHTS):
        day = today + timedelta(days=night)
        # 16:00 UTC is 10:00 in Mexico City and 08:00 in Tijuana: every debtor's window is open.
        # (The stack runs with ClockMode=event, so a simulated day behaves the same at any real hour.)
        stack.fire_schedule("CampaignFunction", datetime.combine(day, dtime(16, 0), tzinfo=timezone.utc))
        stack.wait_idle(timeout=600)  # the night's parts run on NightFunction; the last one writes its summary
        nights.append((day, _night_summary(stack, day)))
        if night == 0:
            feedback = demo_feedback.day_of_feedback(stack, lambda *a, **k: _call(stack, *a, **k), key, day, out)
    after = demo_feedback.report(stack, lambda *a, **k: _call(stack, *a, **k), key, feedback,
                                 [today + timedelta(days=n) for n in range(1, NIGHTS)])
    field = _field_day(stack, key, agents)
    alarms = demo_alarms.run(stack, lambda *a, **k: _call(stack, *a, **k), key, today, today + timedelta(days=NIGHTS),
                             field_day=today)
    data = stack.moto_data()
    emails = len(data.get("ses", {}).get("RawMessage", []))
    sms = len(data.get("sns", {}).get("SMS", {}))
    whatsapp = len(stack.whatsapp.messages) if stack.whatsapp else 0
    outcomes = _attempt_outcomes(stack)
    first = account["items"][0]

    print()
    print("=" * 72)
    print(f" cobranza demo - tenant '{DEMO_TENANT}' on the local stack")
    print("=" * 72)
    print(f" upload {summary['upload_id']} ({summary['format']}, {summary['encoding']}, '{summary['delimiter']}'): "
          f"{summary['status']} in {ingest_seconds:.1f} s")
    print(f"   rows {summary['rows_total']}: accepted {summary['rows_accepted']}, rejected {summary['rows_rejected']}, "
          f"warnings {summary['warnings']}; accounts created {summary['accounts_created']}")
    print(f"   by stage:  {_fmt(summary['by_stage'])}")
    print(f"   by bucket: {_fmt(summary['by_aging_bucket'])}")
    print(f"   by segment: {_fmt(summary['by_segment'])}")
    print(f" GET /v1/accounts?limit=1 -> {first['account_id']}: {first['balance']} {first['currency']}, "
          f"{first['days_past_due']} days past due, {first['stage']}, segment {first['segment']}")
    print(" nightly campaign (planned at 10:00 Mexico City on each simulated day):")
    totals: Counter[str] = Counter()
    for day, result in nights:
        totals.update(result.get("by_channel", {}))
        print(f"   {day}: {result.get('accounts_due', 0)} accounts due; attempts by channel "
              f"{_fmt(result.get('by_channel', {})) or 'none'}; by stage {_fmt(result.get('by_stage', {})) or 'none'}")
        if result.get("skipped_by_reason") or result.get("legal_handoffs") or result.get("visits_created"):
            print(f"              skipped {_fmt(result.get('skipped_by_reason', {})) or 'none'}; "
                  f"legal hand-offs {result.get('legal_handoffs', 0)}; visit tasks {result.get('visits_created', 0)}")
    print(f"   attempts by final status: {_fmt(outcomes)}")
    print(f"   delivered: email (SES) {emails}, SMS (SNS) {sms}, WhatsApp (provider API recorder) {whatsapp}")
    demo_feedback.print_report(feedback, after)
    print(f" a day in the field ({len(agents)} agents signed in to the local user pool):")
    print(f"   visit tasks {field['tasks']} (assigned {field['assigned']}, unassigned {field['unassigned']}); "
          f"results posted {field['posted']}")
    print(f"   verification: {_fmt(field['verification'])}; flag/reject reasons {_fmt(field['reasons']) or 'none'}")
    print(f"   outcomes: {_fmt(field['outcomes'])}")
    print(f"   offline replay: the same result sent twice -> {field['replay']}")
    print(f"   emails to the lender's team ({NOTIFY}): {field['emails']}, one per result")
    demo_alarms.print_report(alarms)
    print(f" total {time.monotonic() - started:.1f} s; logs in .local/logs/")
    print("=" * 72)
    return 0


def _attempt_outcomes(stack: Any) -> dict[str, int]:
    """Every contact attempt of the demo tenant by status (read from the timeline table)."""
    counts: Counter[str] = Counter()
    pages = stack.client("dynamodb").get_paginator("scan").paginate(
        TableName=stack.names["TimelineTable"], ProjectionExpression="#k, #s",
        ExpressionAttributeNames={"#k": "kind", "#s": "status"})
    for page in pages:
        for item in page["Items"]:
            if item.get("kind", {}).get("S") == "contact":
                counts[item.get("status", {}).get("S", "?")] += 1
    return dict(sorted(counts.items()))


def _fmt(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items())


# ---------------------------------------------------------------- a day in the field
def _create_agents(stack: Any) -> list[dict[str, Any]]:
    target = _target(stack)
    agents = []
    for name, home, zones in DEMO_AGENTS:
        agents.append(commands.create_agent(target, DEMO_TENANT, f"{name}@demo.example.com", AGENT_PASSWORD, False,
                                            f"{home[0]},{home[1]}", zones, None, name))
    agents.append(commands.create_agent(target, DEMO_TENANT, SUPERVISOR_EMAIL, AGENT_PASSWORD, True,
                                        None, [], 1, "supervisora"))
    return agents


def _call(stack: Any, method: str, path: str, body: Any = None, key: str | None = None,
          token: str | None = None) -> tuple[int, Any]:
    headers = {"content-type": "application/json"} if body is not None else {}
    if key:
        headers["x-api-key"] = key
    if token:
        headers["authorization"] = f"Bearer {token}"
    request = urllib.request.Request(stack.api_endpoint + path, method=method, headers=headers,
                                     data=json.dumps(body).encode() if body is not None else None)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # nosec B310  # the local stack's http API
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def _moved(lat: float, lon: float, metres: float, bearing_deg: float) -> tuple[float, float]:
    """A point ``metres`` away in direction ``bearing_deg`` (small distances)."""
    dlat = metres * math.cos(math.radians(bearing_deg)) / 111_195.0
    dlon = metres * math.sin(math.radians(bearing_deg)) / (111_195.0 * math.cos(math.radians(lat)))
    return round(lat + dlat, 6), round(lon + dlon, 6)


OUTCOME_CYCLE = ("promise_to_pay", "not_home", "relative_contacted", "paid_reported", "refused", "not_home",
                 "promise_to_pay", "wrong_address", "dispute", "partial_payment_reported")


def _night_summary(stack: Any, day: Any) -> dict:
    """The night's summary, from its record in NightsTable (empty if it did not finish)."""
    from boto3.dynamodb.types import TypeDeserializer

    item = stack.client("dynamodb").get_item(
        TableName=stack.names["NightsTable"],
        Key={"tenant_id": {"S": DEMO_TENANT}, "night": {"S": day.isoformat()}}).get("Item", {})
    summary = TypeDeserializer().deserialize(item["summary"]) if "summary" in item else {}
    return json.loads(json.dumps(summary, default=int))


def _field_day(stack: Any, key: str, agents: list[dict[str, Any]]) -> dict[str, Any]:
    """The lender plans a few more visits; each field agent signs in, reads its day and posts
    results. Returns what happened, counted."""
    status, listed = _call(stack, "GET", "/v1/accounts?stage=extrajudicial&limit=100", key=key)
    candidates = [a for a in (listed or {}).get("items", []) if a.get("location") and a["status"] == "active"]
    for account in candidates[:EXTRA_VISITS]:
        _call(stack, "POST", "/v1/visits", {"account_id": account["account_id"]}, key=key)
    cognito = stack.client("cognito-idp")
    now = clock.utcnow()
    verification: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    posted, replay, n = 0, "not tried", 0
    for agent in agents:
        token = cognito.initiate_auth(ClientId=agent["client_id"], AuthFlow="USER_PASSWORD_AUTH",
                                      AuthParameters={"USERNAME": agent["username"], "PASSWORD": AGENT_PASSWORD}
                                      )["AuthenticationResult"]["IdToken"]
        days = sorted({(now + timedelta(days=d)).date().isoformat() for d in range(-1, NIGHTS + 1)})
        visits = [v for day in days for v in (_call(stack, "GET", f"/v1/me/visits?date={day}", token=token)[1] or {}).get("items", [])
                  if v["status"] in ("assigned", "checked_in") and v.get("location")]
        # one working day, in route order: 15 minutes a visit plus the drive at 30 km/h
        walked_to, here = now - timedelta(hours=10), None
        for visit in visits:
            lat, lon = visit["location"]["lat"], visit["location"]["lon"]
            drive_km = 0.0 if here is None else math.dist(here, (lat, lon)) * 111.2
            walked_to += timedelta(minutes=15 + drive_km * 2)
            here = (lat, lon)
            if walked_to > now - timedelta(minutes=5):
                break  # the rest waits for tomorrow
            n += 1
            distance, mock = 35.0, False  # honest: in front of the house
            if n % 9 == 4:
                distance = 420.0  # posted from the corner café
            if n == 6:
                mock = True  # a fake-GPS app
            spot = _moved(lat, lon, distance, 40.0 * n)
            outcome = OUTCOME_CYCLE[n % len(OUTCOME_CYCLE)]
            captured = walked_to
            body: dict[str, Any] = {
                "idempotency_key": f"demo-{visit['visit_id']}", "captured_at": captured.isoformat(),
                "location": {"lat": spot[0], "lon": spot[1], "accuracy_m": 8 + n % 20, "is_mock": mock,
                             "provider": "gps"},
                "battery_pct": max(15, 95 - 3 * n), "outcome": outcome,
                "answers": {"holder_lives_here": outcome != "moved", "who_answered": "titular" if n % 3 else "familiar",
                            "relationship": None if n % 3 else "hermana", "property_condition": "buena",
                            "zone_risk": ("bajo", "medio", "alto")[n % 3], "best_contact_time": "tarde"},
            }
            if outcome == "promise_to_pay":
                balance = float(visit.get("account", {}).get("balance") or 1000)
                body["promise"] = {"amount": f"{max(100.0, round(balance / 3, 2)):.2f}",
                                   "date": (captured + timedelta(days=7)).date().isoformat()}
            body["answers"] = {k: v for k, v in body["answers"].items() if v is not None}
            code, answer = _call(stack, "POST", f"/v1/me/visits/{visit['visit_id']}/result", body, token=token)
            if code != 201:
                print(f"[demo] result refused ({code}): {json.dumps(answer)[:300]}")
                continue
            posted += 1
            if replay == "not tried":  # the phone lost the answer and sends it again from its buffer
                again = _call(stack, "POST", f"/v1/me/visits/{visit['visit_id']}/result", body, token=token)
                replay = "same answer, stored once" if again == (code, answer) else f"different answer {again[0]}"
            verification[answer["verification"]["status"]] += 1
            reasons.update(answer["verification"]["reasons"])
            outcomes[outcome] += 1
    stack.wait_idle(timeout=120)
    data = stack.moto_data()
    emails = sum(1 for m in data.get("ses", {}).get("Message", [])
                 if NOTIFY in json.dumps(m) and str(m.get("subject", "")).startswith("Visita"))
    tasks = _count_visits(stack)
    return {"tasks": sum(tasks.values()), "assigned": sum(v for k, v in tasks.items() if k != "unassigned"),
            "unassigned": tasks.get("unassigned", 0), "posted": posted, "verification": dict(sorted(verification.items())),
            "reasons": dict(sorted(reasons.items())), "outcomes": dict(sorted(outcomes.items())), "replay": replay,
            "emails": emails}


def _count_visits(stack: Any) -> Counter[str]:
    counts: Counter[str] = Counter()
    for page in stack.client("dynamodb").get_paginator("scan").paginate(
            TableName=stack.names["VisitsTable"], ProjectionExpression="#s", ExpressionAttributeNames={"#s": "status"}):
        counts.update(item["status"]["S"] for item in page["Items"])
    return counts
