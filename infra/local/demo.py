"""`make demo`: the whole path on the local stack, as a lender would see it.

1. create the demo tenant (as `python -m infra.admin tenant create` does) and its API key;
2. generate a realistic portfolio and put it in the bucket under portfolios/demo/ (the S3
   event triggers ingestion exactly as in AWS) and wait for the pipeline;
3. read the upload summary and an account through the HTTP API with the tenant's key;
4. run the nightly campaign for a few consecutive simulated days and let the channel workers
   deliver (SES, SNS SMS, the WhatsApp recorder); print reminders by channel, stage and status.
"""
from __future__ import annotations

import json
import os
import sys
import time
import urllib.request
from collections import Counter
from datetime import datetime, time as dtime, timedelta, timezone
from pathlib import Path
from typing import Any

from infra import sample_data
from infra.admin import commands
from infra.admin.target import Target

DEMO_TENANT = "demo"
DEMO_ROWS = int(os.environ.get("DEMO_ROWS", "2000"))
NIGHTS = 3


def _target(stack: Any) -> Target:
    os.environ["AWS_ENDPOINT_URL"] = stack.aws_endpoint
    for key, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"), ("AWS_DEFAULT_REGION", "us-east-1")):
        os.environ.setdefault(key, value)
    sender = str(stack.template.parameters.get("SenderEmail", "no-reply@example.com"))
    return Target("local", dict(stack.names), stack.aws_endpoint, stack.template.region, sender)


def create_demo_tenant(stack: Any) -> dict[str, str]:
    return commands.create_tenant(_target(stack), DEMO_TENANT, "Financiera Demo", ["cobranza@demo.example.com"],
                                  "America/Mexico_City")


def on_serve(stack: Any) -> None:
    """`make serve`: a demo tenant whose key is printed with the endpoints."""
    tenant = create_demo_tenant(stack)
    print(f"  demo tenant:   {tenant['tenant_id']}  x-api-key: {tenant['api_key']}")
    print(f"  try:           aws --endpoint-url {stack.aws_endpoint} s3 cp cartera.csv "
          f"s3://{stack.bucket}/portfolios/{DEMO_TENANT}/cartera.csv")
    print(f"                 curl -H 'x-api-key: {tenant['api_key']}' {stack.api_endpoint}/v1/accounts?limit=5")
    sys.stdout.flush()


def _http(stack: Any, path: str, api_key: str) -> tuple[int, Any]:
    request = urllib.request.Request(stack.api_endpoint + path, headers={"x-api-key": api_key})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def run(stack: Any) -> int:
    started = time.monotonic()
    out = Path(stack.root) / ".local" / "demo"
    out.mkdir(parents=True, exist_ok=True)
    today = datetime.now(timezone.utc).date()

    tenant = create_demo_tenant(stack)
    key = tenant["api_key"]
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
        result = stack.fire_schedule("CampaignFunction", datetime.combine(day, dtime(16, 0), tzinfo=timezone.utc))
        stack.wait_idle(timeout=600)
        nights.append((day, (result or {}).get("tenants", {}).get(DEMO_TENANT, {})))
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
