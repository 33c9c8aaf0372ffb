"""SPEC §10: the schedule only starts nights; each tenant's night starts in its own zone, once,
and is planned in parts (one per due-index shard) by queue-driven workers; the part that ends it
writes the night's summary."""
from __future__ import annotations

import json

import boto3
import pytest

from cobranza.accounts.store import DUE_SHARDS
from tests.helpers import LambdaContext, load_function, run_night, scheduled_event, sqs_event
from tests.integration.test_ingest import csv_bytes

ROWS = [(f"N{i:03d}", "Nombre", "100", "2026-11-20", f"n{i}@ejemplo.mx") for i in range(40)]  # day +3: email+3


@pytest.fixture
def night_queue(stack):
    return stack.physical_name("NightQueue")


def tick(time, replay=False):
    detail = {"replay": True} if replay else None
    return load_function("campaign").handler(scheduled_event(time, detail), LambdaContext())["tenants"]


def queued(url):
    sqs, messages = boto3.client("sqs"), []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return messages
        for message in batch:
            messages.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def run_part(body):
    return load_function("night").handler(sqs_event([body], "cobranza-NightQueue"), LambdaContext())


def test_each_tenants_night_starts_at_2_in_its_own_zone_and_only_once(stack, tenant, night_queue):
    from cobranza.tenants import store as tenants

    tenants.create_tenant("norte", "Norte", "America/Tijuana", [])
    first = tick("2026-11-23T07:00:00Z")  # 01:00 in Mexico City, 23:00 (the 22nd) in Tijuana
    assert first["acme"] == {"date": "2026-11-23", "started": False, "reason": "before_night_start"}
    assert first["norte"] == {"date": "2026-11-22", "started": False, "reason": "night_window_over"}
    assert queued(night_queue) == []
    at_two = tick("2026-11-23T08:00:00Z")  # 02:00 in Mexico City
    assert at_two["acme"] == {"date": "2026-11-23", "started": True, "parts": DUE_SHARDS}
    assert at_two["norte"]["started"] is False
    parts = queued(night_queue)
    assert sorted(p["part"] for p in parts) == list(range(DUE_SHARDS)) and {p["tenant_id"] for p in parts} == {"acme"}
    later = tick("2026-11-23T10:00:00Z")  # 02:00 in Tijuana; Mexico City's night already started
    assert later["acme"] == {"date": "2026-11-23", "started": False, "reason": "already_started"}
    assert later["norte"] == {"date": "2026-11-23", "started": True, "parts": DUE_SHARDS}
    assert {p["tenant_id"] for p in queued(night_queue)} == {"norte"}


def test_the_parts_add_up_to_the_whole_night_and_the_last_one_writes_the_summary(stack, tenant, upload):
    from cobranza.campaign import store as nights_repo

    upload("portfolios/acme/a.csv", csv_bytes(ROWS))
    summary = run_night("2026-11-23T08:00:00Z", replay=False)["tenants"]["acme"]
    assert summary["accounts_due"] == 40 and summary["attempts"] == 40 and summary["messages_queued"] == 40
    assert summary["by_channel"] == {"email": 40} and summary["date"] == "2026-11-23"
    night = nights_repo.get_night("acme", "2026-11-23")
    assert night["status"] == "done" and night["parts_done"] == night["parts_total"] == DUE_SHARDS


def test_a_redelivered_part_plans_nothing_twice_and_counts_once(stack, tenant, upload, night_queue):
    from cobranza.accounts import timeline
    from cobranza.campaign import store as nights_repo

    upload("portfolios/acme/a.csv", csv_bytes(ROWS))
    tick("2026-11-23T08:00:00Z")
    parts = queued(night_queue)
    for body in parts:
        assert run_part(body) == {"batchItemFailures": []}
    done = nights_repo.get_night("acme", "2026-11-23")
    assert run_part(parts[0]) == {"batchItemFailures": []}  # SQS delivers at least once
    assert nights_repo.get_night("acme", "2026-11-23")["summary"] == done["summary"]
    attempts = [e for a in ("N000", "N001") for e in timeline.list_entries("acme", a, 50, None)[0] if e["kind"] == "contact"]
    assert len(attempts) == 2


def test_a_part_of_no_started_night_or_no_shard_changes_nothing(stack, tenant, upload):
    from cobranza.campaign import store as nights_repo

    upload("portfolios/acme/a.csv", csv_bytes(ROWS))
    body = {"tenant_id": "acme", "night": "2026-11-23", "part": 3, "event_time": "2026-11-23T08:00:00Z",
            "real_now": "2026-11-23T08:00:00Z"}
    assert run_part(body) == {"batchItemFailures": []}
    assert nights_repo.get_night("acme", "2026-11-23") is None
    failed = run_part(dict(body, part=99))
    assert len(failed["batchItemFailures"]) == 1  # not a shard: retried, then NightDLQ


def test_a_tick_that_stopped_before_queuing_every_part_is_finished_by_the_next_tick(stack, tenant, upload, night_queue,
                                                                                    monkeypatch):
    from cobranza.campaign import store as nights_repo

    upload("portfolios/acme/a.csv", csv_bytes(ROWS))
    real_queue = nights_repo.queue_parts

    def dies(messages):
        real_queue(messages[:6])  # the first batch went out, then the invocation died
        raise TimeoutError("the tick ran out of time")

    monkeypatch.setattr(nights_repo, "queue_parts", dies)
    with pytest.raises(TimeoutError):
        tick("2026-11-23T08:00:00Z")
    assert nights_repo.get_night("acme", "2026-11-23")["status"] == "queuing"
    monkeypatch.setattr(nights_repo, "queue_parts", real_queue)
    assert tick("2026-11-23T09:00:00Z")["acme"] == {"date": "2026-11-23", "started": True, "parts": DUE_SHARDS}
    parts = queued(night_queue)
    assert len(parts) == 6 + DUE_SHARDS and {p["event_time"] for p in parts} == {"2026-11-23T08:00:00Z"}
    for body in parts:
        assert run_part(body) == {"batchItemFailures": []}
    night = nights_repo.get_night("acme", "2026-11-23")
    assert night["status"] == "done" and night["summary"]["attempts"] == 40


def test_a_night_whose_last_part_died_after_recording_is_finished_by_its_redelivery(stack, tenant, upload, night_queue,
                                                                                    monkeypatch):
    from cobranza.campaign import store as nights_repo

    upload("portfolios/acme/a.csv", csv_bytes(ROWS))
    tick("2026-11-23T08:00:00Z")
    parts = queued(night_queue)
    for body in parts[:-1]:
        run_part(body)
    real_finish = nights_repo.finish
    monkeypatch.setattr(nights_repo, "finish", lambda *a: (_ for _ in ()).throw(ConnectionError("gone")))
    assert len(run_part(parts[-1])["batchItemFailures"]) == 1
    assert nights_repo.get_night("acme", "2026-11-23")["parts_done"] == DUE_SHARDS
    monkeypatch.setattr(nights_repo, "finish", real_finish)
    assert run_part(parts[-1]) == {"batchItemFailures": []}  # SQS's redelivery
    night = nights_repo.get_night("acme", "2026-11-23")
    assert night["status"] == "done" and night["summary"]["attempts"] == 40


def test_a_replay_keeps_the_summary_of_the_run_before(stack, tenant, upload):
    from cobranza.campaign import store as nights_repo

    upload("portfolios/acme/a.csv", csv_bytes(ROWS))
    run_night("2026-11-23T08:00:00Z", replay=False)
    run_night("2026-11-23T08:00:00Z", replay=True)
    night = nights_repo.get_night("acme", "2026-11-23")
    assert night["previous_summary"]["attempts"] == 40 and night["summary"]["attempts"] == 0
