"""SPEC §8: alarms that reach people, on moto.

Given a tenant with a field team, when time passes (the hourly job) or something happens (an
alarm raised where its event is stored), then each alarm is raised once per cause, listed through
its indexes, acknowledged by a person, resolved by itself when its cause goes away, emailed at once
when urgent and otherwise told once in the 08:00 digest.
"""
import json
from datetime import datetime, timedelta, timezone

import boto3
import pytest

from tests.helpers import LambdaContext, load_function, sqs_event
from tests.integration.test_visits import NOW, ZOCALO, agents, api, call, field, forward_visit_results, plan_visit, post_result, result_body  # noqa: F401  (fixtures)

MONDAY_NOON = datetime(2026, 11, 23, 18, 30, tzinfo=timezone.utc)  # 12:30 in Mexico City


@pytest.fixture
def now():
    return NOW


def hour(at):
    """The tenant's hour as AlarmsFunction runs it from AlarmsQueue."""
    from cobranza.alarms.hourly import run_tenant

    return run_tenant({"tenant_id": "acme", "event_time": at.isoformat().replace("+00:00", "Z")})


def listed(api, key, query=""):
    status, page = call(api, "get", f"/v1/alarms{query}", key=key)
    assert status == 200, page
    return page


def notify_new_alarms(stack, deliveries=1):
    """What AlarmsPipe and NotifyFunction do in AWS: each new alarm's stream record, queued, handled."""
    from infra.local.pipes import forward_once, pipe_specs, streams_client

    (pipe,) = [p for p in pipe_specs(stack) if p.logical_id == "AlarmsPipe"]
    queue = stack.physical_name("NotificationsQueue")
    forward_once(streams_client(), boto3.client("sqs"), pipe, {})
    sqs = boto3.client("sqs")
    bodies = []
    while batch := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
        bodies += [json.loads(m["Body"]) for m in batch]
        sqs.delete_message_batch(QueueUrl=queue, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                          for i, m in enumerate(batch)])
    notify = load_function("notify")
    for _ in range(deliveries):
        for body in bodies:
            assert notify.handler(sqs_event([body], queue="cobranza-NotificationsQueue"),
                                  LambdaContext()) == {"batchItemFailures": []}
    return bodies


def emails():
    from moto.backends import get_backend

    return get_backend("ses")["123456789012"]["us-east-1"].sent_messages


# ---------------------------------------------------------------- time-based alarms
def test_a_visit_past_its_sla_raises_one_alarm_that_its_result_resolves(api, field, stack, clock):
    visit = plan_visit(api, field, "V1")  # today, 2026-11-23: due within 3 days (policy visits.sla_days)
    assert hour(NOW + timedelta(days=3))["visits_overdue"] == 0  # the 26th is its last day
    late = NOW + timedelta(days=4)
    assert hour(late)["visits_overdue"] == 1
    assert hour(late + timedelta(hours=1))["visits_overdue"] == 0  # once per cause, every hour after
    (alarm,) = listed(api, field["key"], "?code=visit_overdue")["items"]
    assert (alarm["status"], alarm["visit_id"], alarm["account_id"], alarm["urgent"]) == ("open", visit["visit_id"], "V1", False)

    clock["value"] = late
    status, _ = post_result(api, field["ana"], visit["visit_id"], result_body(ZOCALO, captured=late - timedelta(minutes=5)))
    assert status == 201
    forward_visit_results(stack)
    queue = stack.physical_name("NotificationsQueue")
    (message,) = boto3.client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    load_function("notify").handler(sqs_event([json.loads(message["Body"])], queue="cobranza-NotificationsQueue"),
                                    LambdaContext())
    (resolved,) = listed(api, field["key"], "?status=resolved")["items"]
    assert resolved["alarm_id"] == alarm["alarm_id"] and resolved["resolution"] == "visit_done"
    assert listed(api, field["key"], "?status=open")["items"] == []


def test_an_agent_silent_two_hours_in_working_hours_raises_one_alarm_and_a_ping_resolves_it(api, field, clock):
    ping = {"pings": [{"lat": 19.43, "lon": -99.13, "accuracy_m": 9, "captured_at": "2026-11-23T15:59:00Z"}]}
    clock["value"] = datetime(2026, 11, 23, 16, 0, tzinfo=timezone.utc)  # 10:00 local
    assert call(api, "post", "/v1/me/locations", token=field["ana"]["token"], body=ping)[0] == 200
    assert hour(datetime(2026, 11, 23, 17, 30, tzinfo=timezone.utc))["agents_silent"] == 0  # 1 h 30 min
    assert hour(MONDAY_NOON)["agents_silent"] == 1  # 2 h 30 min; Luis and the supervisor never pinged
    assert hour(MONDAY_NOON + timedelta(hours=1))["agents_silent"] == 0
    assert hour(datetime(2026, 11, 24, 3, 0, tzinfo=timezone.utc))["agents_silent"] == 0  # 21:00: off hours
    (alarm,) = listed(api, field["key"], "?code=agent_silent&status=open")["items"]
    assert alarm["agent_id"] == field["ana"]["agent_id"] and "since 2026-11-23T16:00:00Z" in alarm["message"]

    clock["value"] = MONDAY_NOON + timedelta(hours=2)
    ping["pings"][0]["captured_at"] = "2026-11-23T20:29:00Z"
    assert call(api, "post", "/v1/me/locations", token=field["ana"]["token"], body=ping)[0] == 200
    (resolved,) = listed(api, field["key"], "?code=agent_silent")["items"]
    assert (resolved["status"], resolved["resolution"]) == ("resolved", "agent_pinged")
    # the next morning the silence is counted from the start of working hours (08:00), not overnight
    assert hour(datetime(2026, 11, 24, 15, 30, tzinfo=timezone.utc))["agents_silent"] == 0  # 09:30
    assert hour(datetime(2026, 11, 24, 16, 5, tzinfo=timezone.utc))["agents_silent"] == 1  # 10:05


def test_an_unassigned_visit_is_given_by_the_hourly_job_to_an_agent_who_covers_it(api, field, agents, upload):
    upload("portfolios/acme/yucatan.csv", ("cuenta,nombre,saldo,vencimiento,telefono,estado,ciudad,cp,domicilio,"
                                           "latitud,longitud\nY1,Yola Pech,9000,2026-10-01,,Yucatán,Mérida,97000,"
                                           "Calle 60,20.9674,-89.5926\n").encode())
    visit = plan_visit(api, field, "Y1")
    assert visit["status"] == "unassigned"  # nobody covers Yucatán
    assert hour(NOW)["visits_assigned"] == 0
    merida = agents("meri", home=(20.97, -89.62), zones=["Yucatán"])
    assert hour(NOW + timedelta(hours=1))["visits_assigned"] == 1
    status, shown = call(api, "get", f"/v1/visits/{visit['visit_id']}", key=field["key"])
    assert status == 200 and (shown["status"], shown["agent_id"]) == ("assigned", merida["agent_id"])


def test_an_hour_with_nothing_to_raise_costs_at_most_five_requests(field):
    from cobranza.core import aws

    before = aws.request_counts.copy()
    assert hour(MONDAY_NOON) == {"tenant_id": "acme", "visits_overdue": 0, "agents_silent": 0, "visits_assigned": 0}
    used = aws.request_counts - before
    assert sum(used.values()) <= 5, used


# ---------------------------------------------------------------- the list, acknowledging
def raise_some():
    from cobranza.accounts.alarms import raise_alarm

    for minute, (code, subject) in enumerate([("skip_trace", "account#V1"), ("skip_trace", "account#V2"),
                                              ("visits_exhausted", "account#V3"), ("skip_trace", "account#V4"),
                                              ("visits_exhausted", "account#G1")]):
        raise_alarm("acme", code, subject, f"{code} {subject}", f"2026-11-23T1{minute}:00:00Z",
                    {"account_id": subject.split("#")[1]})


def test_alarms_are_listed_newest_first_by_filter_each_once_across_pages(api, field):
    raise_some()
    key = field["key"]
    assert [a["account_id"] for a in listed(api, key)["items"]] == ["G1", "V4", "V3", "V2", "V1"]
    assert [a["account_id"] for a in listed(api, key, "?code=skip_trace")["items"]] == ["V4", "V2", "V1"]
    assert [a["account_id"] for a in listed(api, key, "?since=2026-11-23T12:00:00Z")["items"]] == ["G1", "V4", "V3"]
    seen, token = [], None
    while True:
        page = listed(api, key, "?status=open&limit=2" + (f"&next_token={token}" if token else ""))
        assert len(page["items"]) <= 2
        seen += [a["alarm_id"] for a in page["items"]]
        token = page["next_token"]
        if not token:
            break
    assert len(seen) == len(set(seen)) == 5
    for query in ("?status=closed", "?since=yesterday", "?code=Not-A-Code", "?limit=0"):
        assert call(api, "get", f"/v1/alarms{query}", key=key)[0] == 400, query


def test_an_acknowledged_alarm_leaves_the_open_list_and_nobody_else_can_touch_it(api, field, stack):
    from cobranza.tenants import store as tenants

    raise_some()
    key = field["key"]
    target = listed(api, key, "?code=visits_exhausted")["items"][0]
    status, acked = call(api, "post", f"/v1/alarms/{target['alarm_id']}/ack", key=key)
    assert status == 200 and acked["status"] == "acknowledged" and acked["acknowledged_at"] == "2026-11-23T17:00:00Z"
    again = call(api, "post", f"/v1/alarms/{target['alarm_id']}/ack", key=key)
    assert again == (200, acked)
    assert target["alarm_id"] not in [a["alarm_id"] for a in listed(api, key, "?status=open")["items"]]
    assert [a["alarm_id"] for a in listed(api, key, "?status=acknowledged&code=visits_exhausted")["items"]] == [
        target["alarm_id"]]
    tenants.create_tenant("beta", "Beta", "America/Mexico_City", [])
    other = tenants.issue_api_key("beta")
    assert call(api, "post", f"/v1/alarms/{target['alarm_id']}/ack", key=other)[0] == 404
    assert listed(api, other)["items"] == []
    assert call(api, "post", "/v1/alarms/2026-11-23.nothing.0123456789abcdef/ack", key=key)[0] == 404
    assert call(api, "post", "/v1/alarms/digest.2026-11-23/ack", key=key)[0] == 404


# ---------------------------------------------------------------- emails
def test_an_urgent_alarm_is_emailed_once_the_others_wait_for_one_digest_at_eight(api, field, stack, clock):
    from cobranza.accounts.alarms import raise_alarm
    from cobranza.accounts.timeline import list_entries

    raise_alarm("acme", "payment_reversed", "payment#P1", "payment P1 of account V1 was reversed",
                "2026-11-23T17:00:00Z", {"account_id": "V1"})
    raise_alarm("acme", "skip_trace", "account#V2", "account V2: wrong number", "2026-11-23T17:01:00Z",
                {"account_id": "V2"})
    assert len(notify_new_alarms(stack, deliveries=3)) == 2  # each record delivered three times
    sent = emails()
    assert len(sent) == 1 and "Pago revertido" in sent[0].subject and sent[0].destinations["ToAddresses"] == [
        "cobranza@acme.mx"]
    assert "payment P1 of account V1 was reversed" in sent[0].body
    urgent = listed(api, field["key"], "?code=payment_reversed")["items"][0]
    assert urgent["urgent"] is True and urgent["emailed_at"]
    assert [e["code"] for e in list_entries("acme", "V2", 50, None)[0] if e["kind"] == "alarm"] == ["skip_trace"]

    assert "digest" not in hour(datetime(2026, 11, 24, 13, 5, tzinfo=timezone.utc))  # 07:05: not yet
    assert hour(datetime(2026, 11, 24, 14, 5, tzinfo=timezone.utc))["digest"] == "sent"  # 08:05
    assert hour(datetime(2026, 11, 24, 15, 5, tzinfo=timezone.utc))["digest"] == "already_sent"
    digest = emails()[-1]
    assert len(emails()) == 2 and "Resumen diario 2026-11-24" in digest.subject
    assert "account V2: wrong number" in digest.body and "payment P1" not in digest.body  # urgent: already sent
    # the report of the day that ended (tests/integration/test_daily_report.py)
    assert "reports/acme/daily/2026-11-23.html" in digest.body and "/console/#/reports/2026-11-23" in digest.body
    # the next morning nothing new happened: no email
    assert hour(datetime(2026, 11, 25, 14, 5, tzinfo=timezone.utc))["digest"] == "nothing_new"
    assert len(emails()) == 2


def test_a_visit_past_its_sla_cancelled_because_the_account_paid_resolves_its_alarm(api, field, clock):
    from cobranza.api import routes
    from cobranza.tenants import store as tenants

    visit = plan_visit(api, field, "V2")
    late = NOW + timedelta(days=4)
    assert hour(late)["visits_overdue"] == 1
    clock["value"] = late
    routes.record_payments(tenants.get_tenant("acme"), {"payments": [
        {"payment_id": "PAY-V2", "account_id": "V2", "amount": "8000", "paid_at": "2026-11-27"}]})
    status, day = call(api, "get", "/v1/me/visits?date=2026-11-23", token=field["ana"]["token"])
    assert status == 200 and visit["visit_id"] not in [v["visit_id"] for v in day["items"]]  # cancelled as read
    (alarm,) = listed(api, field["key"], "?code=visit_overdue")["items"]
    assert (alarm["status"], alarm["resolution"]) == ("resolved", "visit_cancelled")


def test_an_alarm_stored_before_the_lists_is_found_after_reindex_and_acknowledged(api, field):
    import boto3

    from cobranza.accounts.alarms import backfill_keys
    from cobranza.core.settings import get_settings

    boto3.client("dynamodb").put_item(TableName=get_settings().alarms_table, Item={  # as the old code wrote it
        "tenant_id": {"S": "acme"}, "alarm_id": {"S": "2026-11-20#upload_stopped#upload#up_1"},
        "code": {"S": "upload_stopped"}, "subject": {"S": "upload#up_1"}, "message": {"S": "stopped"},
        "raised_at": {"S": "2026-11-20T10:00:00Z"}})
    assert listed(api, field["key"], "?status=open")["items"] == []
    assert backfill_keys("acme") == {"alarms_read": 1, "alarms_reindexed": 1}
    (alarm,) = listed(api, field["key"], "?status=open")["items"]
    status, acked = call(api, "post", "/v1/alarms/2026-11-20%23upload_stopped%23upload%23up_1/ack", key=field["key"])
    assert status == 200 and acked["status"] == "acknowledged" and acked["alarm_id"] == alarm["alarm_id"]


@pytest.mark.parametrize("since", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-05:00", "2026-13-01", "mañana"])
def test_a_since_outside_the_calendar_is_400_not_500(api, field, since):
    from urllib.parse import quote

    status, body = call(api, "get", f"/v1/alarms?since={quote(since)}", key=field["key"])
    assert status == 400 and body["error"]["details"][0]["field"] == "since", body


def test_a_second_visit_result_the_same_day_does_not_reopen_an_acknowledged_alarm(api, field):
    first = plan_visit(api, field, "V1")
    assert post_result(api, field["ana"], first["visit_id"], result_body(ZOCALO, outcome="wrong_address"))[0] == 201
    (alarm,) = listed(api, field["key"], "?code=skip_trace")["items"]
    assert call(api, "post", f"/v1/alarms/{alarm['alarm_id']}/ack", key=field["key"])[0] == 200
    second = plan_visit(api, field, "V1")
    assert post_result(api, field["ana"], second["visit_id"], result_body(ZOCALO, outcome="moved", key="k2"))[0] == 201
    (again,) = listed(api, field["key"], "?code=skip_trace")["items"]
    assert (again["alarm_id"], again["status"]) == (alarm["alarm_id"], "acknowledged")
