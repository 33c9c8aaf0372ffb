"""SPEC §5 on the local stack, driven as a user drives it: the stock AWS CLI, the schedule, HTTP.

A portfolio copied with `aws s3 cp`, a replayed night (the stack runs with ClockMode=event, so the
night behaves the same whatever the hour on this machine), reminders delivered by the channel
workers to SES, SNS and the WhatsApp recorder, and every decision visible on the HTTP API.

The stack's workers are separate processes on the real clock: ingestion reckons days past due from
today's date in the tenant's zone, so the due dates and the replayed night are set relative to it.
"""
from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from datetime import datetime, time, timedelta, timezone
from time import monotonic

import pytest

from cobranza.accounts.store import DUE_SHARDS
from tests.helpers import ROOT, local_today
from tests.local.product.test_e2e import AWS_CLI, admin, aws_cli, get

# (account, name, balance, days past due today, email, phone, whatsapp opt-in, state)
ACCOUNTS = [("E1", "Ana Email", 1500, 3, "ana@ejemplo.mx", "", "no", "CDMX"),
            ("S1", "Beto Sms", 2500, 1, "", "5511112222", "no", "Quintana Roo"),
            ("W1", "Carla WhatsApp", 3500, 7, "", "5533334444", "si", "Baja California"),
            ("P1", "Dora Preventiva", 900, -3, "dora@ejemplo.mx", "", "no", "Jalisco"),
            ("N1", "Eva Sin Datos", 700, 3, "", "", "no", "CDMX")]


def portfolio(today):
    lines = ["cuenta,nombre,saldo,vencimiento,correo,telefono,whatsapp_opt_in,estado"]
    for account_id, name, balance, days_past_due, email, phone, whatsapp, state in ACCOUNTS:
        due = (today - timedelta(days=days_past_due)).isoformat()
        lines.append(f"{account_id},{name},{balance},{due},{email},{phone},{whatsapp},{state}")
    return "\n".join(lines) + "\n"


def morning(today):
    """16:00 UTC: 10:00 in Mexico City and Jalisco, 11:00 in Quintana Roo, 08:00 or 09:00 in Tijuana."""
    return datetime.combine(today, time(16, 0), tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def stack():
    from infra.local.stack import LocalStack

    with LocalStack(ROOT, aws_port=0, api_port=0, log_dir=ROOT / ".local" / "test-logs-campaign") as running:
        yield running


def night_summary(stack, tenant_id, day):
    """The night's record as an operator reads it (docs/operations.md): `aws dynamodb get-item`."""
    from boto3.dynamodb.types import TypeDeserializer

    key = json.dumps({"tenant_id": {"S": tenant_id}, "night": {"S": day.isoformat()}})
    item = json.loads(aws_cli(stack, "dynamodb", "get-item", "--table-name", stack.names["NightsTable"], "--key", key))["Item"]
    assert item["status"] == {"S": "done"} and item["parts_done"] == item["parts_total"] == {"N": str(DUE_SHARDS)}
    summary = TypeDeserializer().deserialize(item["summary"])
    return json.loads(json.dumps(summary, default=int))


def post(stack, path, body, key=None):
    headers = {"content-type": "application/json", **({"x-api-key": key} if key else {})}
    request = urllib.request.Request(stack.api_endpoint + path, data=json.dumps(body).encode(), headers=headers,
                                     method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


@pytest.mark.skipif(AWS_CLI is None, reason="the AWS CLI is not installed")
def test_a_replayed_night_delivers_each_reminder_on_its_channel_and_the_timeline_shows_it(stack, tmp_path):
    lender = admin(stack, "tenant", "create", "campana-e2e", "--name", "Financiera Campaña")
    key = lender["api_key"]
    today = local_today("America/Mexico_City")  # the tenant's date, as the ingest worker reckons it
    path = tmp_path / "cartera.csv"
    path.write_text(portfolio(today), encoding="utf-8")
    aws_cli(stack, "s3", "cp", str(path), f"s3://{stack.bucket}/portfolios/campana-e2e/cartera.csv")
    stack.wait_idle(timeout=120)

    status, _ = post(stack, "/v1/accounts/P1/opt-outs", {"channels": ["email"]}, key)
    assert status == 201
    started = stack.fire_schedule("CampaignFunction", morning(today))["tenants"]["campana-e2e"]
    assert started == {"date": today.isoformat(), "started": True, "parts": DUE_SHARDS}
    stack.wait_idle(timeout=120)
    night = night_summary(stack, "campana-e2e", today)
    assert night["by_channel"] == {"email": 3, "sms": 1, "whatsapp": 1}
    assert night["skipped_by_reason"] == {"no_address": 1, "opted_out": 1}

    data = stack.moto_data()
    emails = data["ses"]["RawMessage"]
    assert len(emails) == 1
    sms = data["sns"]["SMS"]
    assert len(sms) == 1 and "+525511112222" in json.dumps(sms)
    (whatsapp,) = stack.whatsapp.messages
    assert whatsapp["payload"]["to"] == "525533334444"

    status, timeline = get(stack, "/v1/accounts/E1/timeline", key)
    assert status == 200
    (attempt,) = timeline["items"]
    assert (attempt["channel"], attempt["step"], attempt["status"]) == ("email", "email+3", "sent")
    status, timeline = get(stack, "/v1/accounts/N1/timeline", key)
    assert [(i["status"], i["reason"]) for i in timeline["items"]] == [("skipped", "no_address")]
    status, timeline = get(stack, "/v1/accounts/P1/timeline", key)
    assert [(i["kind"], i.get("reason")) for i in timeline["items"]] == [("contact", "opted_out"), ("opt_out", None)]

    again = stack.fire_schedule("CampaignFunction", morning(today))["tenants"]["campana-e2e"]
    assert again == {"date": today.isoformat(), "started": False, "reason": "already_started"}


@pytest.mark.skipif(AWS_CLI is None, reason="the AWS CLI is not installed")
def test_a_poison_message_ends_in_the_channel_dlq_after_max_receive_count(stack, caplog):
    caplog.set_level(logging.INFO, logger="infra.local")  # every delivery in the report, should this fail
    queue_url = stack.names["SmsQueue"]
    aws_cli(stack, "sqs", "send-message", "--queue-url", queue_url, "--message-body", '{"not": "a reminder"}')
    deadline = monotonic() + 90
    dead: dict = {}
    while not dead.get("Messages") and monotonic() < deadline:  # SQS moves it on the receive after the 10th
        stack.wait_idle(timeout=60)
        output = aws_cli(stack, "sqs", "receive-message", "--queue-url", stack.names["SmsDLQ"],
                         "--attribute-names", "ApproximateReceiveCount", "--wait-time-seconds", "1")
        dead = json.loads(output) if output.strip() else {}
    (message,) = dead["Messages"]
    assert json.loads(message["Body"]) == {"not": "a reminder"}
    assert int(message["Attributes"]["ApproximateReceiveCount"]) >= 10  # maxReceiveCount in template.yaml
    deliveries = [r for r in caplog.records if "DispatchFunction <- cobranza-SmsQueue" in r.getMessage()]
    assert len(deliveries) >= 10  # every receive up to maxReceiveCount (a standard queue may deliver a copy more)
