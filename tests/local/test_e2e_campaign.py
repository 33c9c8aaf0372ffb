"""SPEC §5 on the local stack, driven as a user drives it: the stock AWS CLI, the schedule, HTTP.

A portfolio copied with `aws s3 cp`, a replayed night (the stack runs with ClockMode=event, so the
night behaves the same whatever the hour on this machine), reminders delivered by the channel
workers to SES, SNS and the WhatsApp recorder, and every decision visible on the HTTP API.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import datetime, timezone

import pytest

from tests.helpers import ROOT
from tests.local.test_e2e import AWS_CLI, admin, aws_cli, get

MORNING = datetime(2026, 11, 23, 16, 0, tzinfo=timezone.utc)  # 10:00 in Mexico City, 08:00 in Tijuana
PORTFOLIO = """cuenta,nombre,saldo,vencimiento,correo,telefono,whatsapp_opt_in,estado
E1,Ana Email,1500,2026-11-20,ana@ejemplo.mx,,no,CDMX
S1,Beto Sms,2500,2026-11-22,,5511112222,no,Quintana Roo
W1,Carla WhatsApp,3500,2026-11-16,,5533334444,si,Baja California
P1,Dora Preventiva,900,2026-11-26,dora@ejemplo.mx,,no,Jalisco
N1,Eva Sin Datos,700,2026-11-20,,,no,CDMX
"""


@pytest.fixture(scope="module")
def stack():
    from infra.local.stack import LocalStack

    with LocalStack(ROOT, aws_port=0, api_port=0, log_dir=ROOT / ".local" / "test-logs-campaign") as running:
        yield running


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
    portfolio = tmp_path / "cartera.csv"
    portfolio.write_text(PORTFOLIO, encoding="utf-8")
    aws_cli(stack, "s3", "cp", str(portfolio), f"s3://{stack.bucket}/portfolios/campana-e2e/cartera.csv")
    stack.wait_idle(timeout=120)

    status, _ = post(stack, "/v1/accounts/P1/opt-outs", {"channels": ["email"]}, key)
    assert status == 201
    night = stack.fire_schedule("CampaignFunction", MORNING)["tenants"]["campana-e2e"]
    assert night["by_channel"] == {"email": 3, "sms": 1, "whatsapp": 1}
    assert night["skipped_by_reason"] == {"no_address": 1, "opted_out": 1}
    stack.wait_idle(timeout=120)

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

    again = stack.fire_schedule("CampaignFunction", MORNING)["tenants"]["campana-e2e"]
    assert again["attempts"] == 0 and again["messages_queued"] == 0


@pytest.mark.skipif(AWS_CLI is None, reason="the AWS CLI is not installed")
def test_a_poison_message_ends_in_the_channel_dlq_after_max_receive_count(stack):
    queue_url = stack.names["SmsQueue"]
    aws_cli(stack, "sqs", "send-message", "--queue-url", queue_url, "--message-body", '{"not": "a reminder"}')
    stack.wait_idle(timeout=60)
    dead = json.loads(aws_cli(stack, "sqs", "receive-message", "--queue-url", stack.names["SmsDLQ"],
                              "--attribute-names", "ApproximateReceiveCount"))
    (message,) = dead["Messages"]
    assert json.loads(message["Body"]) == {"not": "a reminder"}
