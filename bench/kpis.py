"""KPIs and the alarms job (issue 16, SPEC §8): ``python -m bench kpis``.

Everything runs in moto through the use cases the functions call, every request built and sent by
boto3 and counted by ``core.aws`` (by operation) and by a hook on the KPI table's name:

- ``kpis_dynamodb_requests_<days>d_<n>_accounts``: the DynamoDB requests of ``GET /v1/kpis`` over
  30 and 365 days, with a year of counters written as the events would (every day, 8 segments,
  every reminder shard, a level item a day), for portfolios of 10,000 and 100,000 accounts;
- ``kpi_writes_per_reminder``: requests to the KPI table per reminder sent, a night's reminders
  handled by the dispatch function's path in batches of 10 (its SQS batch);
- ``kpi_writes_per_payment``: the same per payment, ``POST /v1/payments`` with 100 payments;
- ``kpi_writes_per_visit_result``: the same per visit result stored;
- ``alarms_job_requests_<n>_accounts_working_hours`` / ``..._off_hours``: every AWS request of
  one tenant's hour with nothing to raise.
"""
from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SEGMENTS = ("early", "late", "high_value_late", "legal_handoff", "general", "preventive", "vip", "small")
NOW = datetime(2026, 11, 23, 18, 0, tzinfo=timezone.utc)  # Monday 12:00 in Mexico City


class _KpiWrites:
    """Counts the requests sent to the KPI table (a botocore hook on the request's TableName)."""

    def __init__(self, table: str):
        from cobranza.core import aws

        self.table, self.count = table, 0
        aws.botocore_session().register("provide-client-params.dynamodb.*", self._seen)

    def _seen(self, params: dict[str, Any], **_: Any) -> None:
        if params.get("TableName") == self.table:
            self.count += 1


def _year_of_counters(tenant_id: str, last: date) -> None:
    """A year of counters as the events write them (the table's size a busy tenant reaches)."""
    from cobranza.core import aws
    from cobranza.core.settings import get_settings
    from cobranza.kpis.rules import LEVEL_SEGMENT, day_item_key

    table, client = get_settings().kpis_table, aws.client("dynamodb")
    requests = []
    for back in range(366):
        day = (last - timedelta(days=back)).isoformat()
        for segment in SEGMENTS:
            for shard in range(4):
                item = {"kpi_key": {"S": f"{tenant_id}#{day[:7]}"}, "item_key": {"S": day_item_key(day, segment, shard)},
                        **{f"attempts.{ch}": {"N": "120"} for ch in ("email", "sms", "whatsapp")},
                        **{f"delivered.{ch}": {"N": "117"} for ch in ("email", "sms", "whatsapp")},
                        **{f"hour.{ch}.{d}_{h:02d}.a": {"N": "3"} for ch in ("email", "sms") for d in (0, 3)
                           for h in range(8, 20)},
                        "recovered": {"N": "18250.50"}, "payments": {"N": "14"}, "promises_made": {"N": "6"},
                        "roll.1-30>31-60": {"N": "9"}}
                requests.append({"PutRequest": {"Item": item}})
        level = {f"n.{s}.{b}": {"N": "1000"} for s in SEGMENTS for b in ("current", "1-30", "31-60")}
        requests.append({"PutRequest": {"Item": {"kpi_key": {"S": f"{tenant_id}#{day[:7]}"},
                                                 "item_key": {"S": day_item_key(day, LEVEL_SEGMENT)}, **level}}})
    for start in range(0, len(requests), 25):
        client.batch_write_item(RequestItems={table: requests[start:start + 25]})


def _seed_accounts(count: int, start: int = 0) -> None:
    """Accounts derived as ingestion does: the first 1,000 due 2026-11-20 (the email of day +3 is
    due on the 23rd), the others next month (nothing due)."""
    from cobranza.accounts import store
    from cobranza.accounts.service import refresh_derived
    from cobranza.tenants.policy import DEFAULT_POLICY

    with store.BatchWriter() as writer:
        for i in range(start, count):
            writer.put(refresh_derived({
                "tenant_id": "bench", "account_id": f"{4_000_000 + i}", "debtor_name": "x", "balance": 1000,
                "currency": "MXN", "due_date": "2026-11-20" if i < 1000 else "2026-12-20", "timezone": "America/Mexico_City", "status": "active",
                "email": f"d{i}@example.mx", "phone": "+525512345678", "state": "CDMX"}, DEFAULT_POLICY, NOW.date()))


def _reads(figures: dict[str, Any], tenant: Any, size: int) -> None:
    from cobranza.core import aws
    from cobranza.kpis import service

    for days in (30, 365):
        query = {"from": (NOW.date() - timedelta(days=days - 1)).isoformat(), "to": NOW.date().isoformat(),
                 "group_by": "day"}
        aws.request_counts.clear()
        service.get_kpis(tenant, query)
        figures[f"kpis_dynamodb_requests_{days}d_{size}_accounts"] = sum(
            n for name, n in aws.request_counts.items() if name.startswith("dynamodb."))


def _hour(figures: dict[str, Any], size: int) -> None:
    from cobranza.alarms.hourly import run_tenant
    from cobranza.core import aws

    for label, moment in (("working_hours", NOW), ("off_hours", NOW.replace(hour=4))):
        aws.request_counts.clear()
        run_tenant({"tenant_id": "bench", "event_time": moment.isoformat().replace("+00:00", "Z")})
        figures[f"alarms_job_requests_{size}_accounts_{label}"] = sum(aws.request_counts.values())
        figures[f"alarms_job_breakdown_{label}"] = dict(aws.request_counts)


def _reminders(figures: dict[str, Any], writes: _KpiWrites) -> None:
    """A night planned for the seeded accounts, its email reminders handled ten at a time."""
    import boto3

    from cobranza.campaign import planner, sender
    from cobranza.core import clock
    from cobranza.core.settings import get_settings

    night = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)
    planner.run_for_tenant("bench", night, night)
    sqs, url = boto3.client("sqs"), get_settings().email_queue_url
    clock.utcnow = lambda: datetime(2026, 11, 23, 16, 0, tzinfo=timezone.utc)  # type: ignore[assignment]
    before, sent = writes.count, Counter[str]()
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in batch:
            sent[sender.deliver(json.loads(message["Body"]))["status"]] += 1
        sender.flush_counts()
        sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                        for i, m in enumerate(batch)])
    figures["kpi_reminders_handled"] = dict(sent)
    figures["kpi_writes_per_reminder"] = round((writes.count - before) / max(1, sum(sent.values())), 3)


def _payments(figures: dict[str, Any], tenant: Any, writes: _KpiWrites) -> None:
    from cobranza.api import routes

    body = {"payments": [{"payment_id": f"KPI-{i}", "account_id": f"{4_000_000 + 2000 + i}", "amount": "100",
                          "paid_at": "2026-11-23"} for i in range(100)]}
    before = writes.count
    applied = sum(1 for r in routes.record_payments(tenant, body)["results"] if r["status"] == "applied")
    figures["kpi_writes_per_payment"] = round((writes.count - before) / applied, 3)


def _visit(figures: dict[str, Any], template: Any, writes: _KpiWrites) -> None:
    from cobranza.accounts import store
    from cobranza.tenants.auth import Agent
    from cobranza.visits import agents as agents_repo
    from cobranza.visits import results, tasks

    agents_repo.create_agent({"tenant_id": "bench", "agent_id": "ana", "email": "ana@example.mx", "role": "agent",
                           "active": True, "zones": [], "capacity": 50})
    created = 0
    for n in range(20):
        store.update_fields("bench", f"{4_000_000 + n}", {"lat": Decimal("19.4326"), "lon": Decimal("-99.1332")})
        task = tasks.create_visit("bench", {"account_id": f"{4_000_000 + n}", "agent_id": "ana"})
        before = writes.count
        status, _ = results.submit_result(
            Agent(tenant_id="bench", agent_id="ana", email="ana@example.mx", groups=frozenset({"agents"})),
            task["visit_id"], {"idempotency_key": f"k{n}", "captured_at": "2026-11-23T17:55:00Z",
                               "location": {"lat": 19.4326, "lon": -99.1332, "accuracy_m": 10, "is_mock": False,
                                            "provider": "gps"}, "battery_pct": 60, "outcome": "not_home",
                               "answers": {"holder_lives_here": True, "who_answered": "nadie",
                                           "property_condition": "buena", "zone_risk": "bajo"}}, now=NOW)
        if status == 201:
            created += writes.count - before
    figures["kpi_writes_per_visit_result"] = round(created / 20, 3)


def _in_moto() -> dict[str, Any]:
    from bench.campaign import moto_stack

    figures: dict[str, Any] = {}
    with moto_stack() as template:
        from cobranza.core import clock
        from cobranza.core.settings import get_settings
        from cobranza.tenants import store as tenants

        clock.utcnow = lambda: NOW  # type: ignore[assignment]
        tenants.create_tenant("bench", "Bench", "America/Mexico_City", [])
        tenant = tenants.get_tenant("bench")
        writes = _KpiWrites(get_settings().kpis_table)
        _year_of_counters("bench", NOW.date())
        _seed_accounts(10_000)
        _reads(figures, tenant, 10_000)
        _hour(figures, 10_000)
        _reminders(figures, writes)
        _payments(figures, tenant, writes)
        _visit(figures, template, writes)
        _seed_accounts(100_000, 10_000)
        _reads(figures, tenant, 100_000)
        _hour(figures, 100_000)
    return figures


def run() -> dict[str, Any]:
    result = subprocess.run([sys.executable, "-m", "bench.kpis", "moto"], cwd=ROOT, capture_output=True, text=True,
                            env={**__import__("os").environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'layers' / 'cobranza'}"})
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    if sys.argv[1] == "moto":
        print(json.dumps(_in_moto()))
