"""Nightly campaign benchmarks (issue 4), on moto in process with the template's resources.

- ``items_read_per_due``: DynamoDB items the planner reads (``ScannedCount`` of its queries, so
  nothing read and filtered out is hidden) over the accounts due, with 10,000 accounts due among
  1,000 and among 200,000 that are not due. Goal: at most 1.2, and the same in both portfolios.
- ``sqs_requests_per_1000_reminders``: SQS requests our code makes per 1,000 reminders sent
  (the planner's SendMessageBatch, the sender's visibility changes). Goal: at most 101.
  moto's SQS slows down quadratically with the messages a queue holds, so the planner's
  SendMessageBatch calls are answered by a recorder (``QueueRecorder``, a botocore
  ``before-call`` hook: same request, a success answer, the messages kept) and the messages are
  handed to the sender in batches of 10, as the event source mapping does.
- ``dynamodb_requests_per_reminder``: every DynamoDB request of the planner and of the sender
  per reminder sent, end to end.
- ``infra_cost_share_of_ses`` and ``cost_model``: dollars per month for 1,000,000 accounts with
  20% reminded each night (6,000,000 emails a month), from the counted requests, the measured
  item sizes, log bytes and handler time, at AWS list prices (us-east-1, on-demand). The
  infrastructure (everything but the provider's per-message price) against what SES charges for
  the same emails. Goal: under 5%.
"""
from __future__ import annotations

import contextlib
import io
import json
import math
import os
import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TODAY = date(2026, 11, 23)
PLANNED_AT = datetime(2026, 11, 23, 16, 0, tzinfo=timezone.utc)  # 10:00 in Mexico City: sent at once
DUE = 10_000
NOT_DUE = (1_000, 200_000)

# AWS list prices, us-east-1 (USD).
PRICE = {
    "dynamodb_wru": 0.625 / 1e6,  # on-demand write request unit
    "dynamodb_rru": 0.125 / 1e6,  # on-demand read request unit
    "dynamodb_gb_month": 0.25,
    "sqs_request": 0.40 / 1e6,  # standard queue, per 64 KB chunk
    "lambda_gb_s_arm": 0.0000133334,
    "lambda_request": 0.20 / 1e6,
    "logs_ingest_gb": 0.50,
    "secrets_api_call": 0.05 / 10_000,
    "ses_email": 0.10 / 1000,
}
ACCOUNTS_MONTH = 1_000_000
REMINDED_SHARE = 0.20
NIGHTS = 30
RETENTION_DAYS = 180  # the template's TimelineRetentionDays default


@contextlib.contextmanager
def moto_stack():
    """The template's resources in moto, the functions' environment set, caches reset."""
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1",
                      AWS_REGION="us-east-1", POWERTOOLS_METRICS_DISABLED="true", POWERTOOLS_TRACE_DISABLED="true",
                      POWERTOOLS_LOG_LEVEL="WARNING")
    os.environ.pop("AWS_ENDPOINT_URL", None)
    from moto import mock_aws

    from cobranza.core import aws
    from cobranza.core.settings import get_settings
    from cobranza.core.tables import unbind_models
    from cobranza.tenants.store import clear_key_cache
    from infra.local.moto_in_process import dynamodb_one_at_a_time
    from infra.local.resources import create_resources
    from infra.local.template import LocalTemplate

    template = LocalTemplate(ROOT / "template.yaml")
    with mock_aws(), dynamodb_one_at_a_time():
        create_resources(template)
        for function in template.functions:
            os.environ.update(template.function_environment(function))
        get_settings.cache_clear()
        aws.reset()
        unbind_models()
        clear_key_cache()
        yield template


def _item_size(item: dict) -> int:
    """DynamoDB's item size: attribute names plus values (close enough for pricing)."""
    from cobranza.accounts.store import to_wire

    return sum(len(name) + len(json.dumps(value)) for name, value in to_wire(item).items())


def _seed(tenant_id: str, due: int, not_due: int) -> int:
    """Accounts due today (day +3 of their due date: the "email+3" step) and accounts due in the
    future; returns the average item size in bytes."""
    from cobranza.accounts.service import refresh_derived
    from cobranza.accounts.store import BatchWriter
    from cobranza.tenants.policy import effective_policy

    policy = effective_policy(None)
    sizes = []
    with BatchWriter() as writer:
        for i in range(due + not_due):
            is_due = i < due
            item = {
                "tenant_id": tenant_id, "account_id": f"{'D' if is_due else 'N'}{i:07d}",
                "debtor_name": f"Persona Número {i}", "balance": Decimal("12345.67"), "currency": "MXN",
                "due_date": (TODAY - timedelta(days=3) if is_due else TODAY + timedelta(days=200)).isoformat(),
                "timezone": "America/Mexico_City", "email": f"persona{i}@ejemplo.mx", "phone": "+525512345678",
                "address": "Av. Insurgentes Sur 1234, Col. Del Valle", "city": "Benito Juárez", "state": "CDMX",
                "postal_code": "03100", "product": "credito_personal", "payment_reference": f"REF{i:010d}",
                "status": "active", "row_hash": "x" * 16, "source_upload_id": "up_bench",
                "created_at": "2026-11-01T00:00:00Z", "updated_at": "2026-11-01T00:00:00Z",
            }
            refresh_derived(item, policy, TODAY if is_due else TODAY)
            if is_due:
                item["next_action_on"] = TODAY.isoformat()
            writer.put(item)
            if i % 997 == 0:
                sizes.append(_item_size(item))
    return round(sum(sizes) / len(sizes))


class QueueRecorder:
    """Answers SendMessageBatch in place of moto, keeping the messages (see the module docstring)."""

    def __init__(self) -> None:
        self.messages: list[dict] = []
        self.requests = 0

    def capture(self, params: dict, **_: object) -> None:  # before-parameter-build: the API parameters
        self._entries = params["Entries"]

    def __call__(self, **_: object) -> tuple:  # before-call: answer instead of moto
        self.requests += 1
        entries = self._entries
        self.messages.extend(json.loads(e["MessageBody"]) for e in entries)
        answer = {"Successful": [{"Id": e["Id"], "MessageId": f"m{len(self.messages)}-{e['Id']}",
                                  "MD5OfMessageBody": "-"} for e in entries], "Failed": []}
        return _Http200(), answer


class _Http200:
    status_code = 200
    headers: dict = {}


def _plan(tenant_id: str) -> dict:
    from cobranza.campaign.planner import run_for_tenant
    from cobranza.core import aws

    recorder = QueueRecorder()
    events = aws.client("sqs").meta.events
    events.register("before-parameter-build.sqs.SendMessageBatch", recorder.capture)
    events.register("before-call.sqs.SendMessageBatch", recorder)
    aws.request_counts.clear()
    aws.items_read.clear()
    started = time.perf_counter()
    try:
        result = run_for_tenant(tenant_id, PLANNED_AT, PLANNED_AT)
    finally:
        events.unregister("before-call.sqs.SendMessageBatch", recorder)
        events.unregister("before-parameter-build.sqs.SendMessageBatch", recorder.capture)
    requests = dict(aws.request_counts)
    requests["sqs.SendMessageBatch"] = requests.get("sqs.SendMessageBatch", 0) + recorder.requests
    return {"result": result, "seconds": time.perf_counter() - started, "messages": recorder.messages,
            "requests": requests, "items_read": dict(aws.items_read)}


def _dispatch(messages: list[dict], queue_name: str) -> dict:
    """The sender's handler over the planned messages in batches of 10, as the event source
    mapping delivers them; counts requests, handler time and log bytes."""
    from cobranza.core import aws, clock
    from cobranza.core.observability import logger
    from tests.helpers import LambdaContext, load_function, sqs_event

    batches = [messages[i:i + 10] for i in range(0, len(messages), 10)]
    dispatch = load_function("dispatch")
    clock.utcnow = lambda: PLANNED_AT + timedelta(minutes=5)
    logger.setLevel("INFO")
    out = io.StringIO()
    handler = getattr(logger, "registered_handler", None)
    previous = handler.setStream(out) if handler is not None else None
    aws.request_counts.clear()
    aws.items_read.clear()
    started = time.perf_counter()
    failures = 0
    try:
        with contextlib.redirect_stdout(out):
            for batch in batches:
                failures += len(dispatch.handler(sqs_event(batch, queue=queue_name), LambdaContext())["batchItemFailures"])
    finally:
        if handler is not None:
            handler.setStream(previous)
        logger.setLevel("WARNING")
    return {"messages": sum(len(b) for b in batches), "batches": len(batches), "failures": failures,
            "seconds": time.perf_counter() - started, "requests": dict(aws.request_counts),
            "items_read": dict(aws.items_read), "log_bytes": len(out.getvalue().encode())}


def _sum(requests: dict, service: str) -> int:
    return sum(v for k, v in requests.items() if k.startswith(service + "."))


def _attempt_bytes(template) -> int:
    """Average size of stored attempt items (after sending: their largest)."""
    from cobranza.accounts.store import from_wire
    from cobranza.core import aws

    items = aws.client("dynamodb").scan(TableName=template.physical_name("TimelineTable"), Limit=200)["Items"]
    return round(sum(_item_size(from_wire(i)) for i in items) / len(items))


def _cost_model(plan: dict, send: dict, account_bytes: int, attempt_bytes: int, sent: int) -> dict:
    """Monthly dollars for ACCOUNTS_MONTH accounts, REMINDED_SHARE reminded each night."""
    reminders = ACCOUNTS_MONTH * REMINDED_SHARE * NIGHTS
    kb = lambda size: max(1, math.ceil(size / 1024))  # noqa: E731
    # per reminder, from what each request touches
    wru = (kb(attempt_bytes)  # planner: attempt put
           + kb(account_bytes)  # planner: account update (derived fields, next date)
           + kb(account_bytes + 80)  # sender: contact-log claim on the account
           + kb(attempt_bytes + 120))  # sender: the attempt's outcome
    rru = (0.5 * account_bytes / 4096  # planner: the due-index query (eventually consistent, 4 KB units)
           + 1 + 1)  # sender: attempt and account, strongly consistent
    sqs_requests = (plan["requests"].get("sqs.SendMessageBatch", 0) + _sum(send["requests"], "sqs")) / sent
    sqs_requests += 2 / 10  # the event source mapping's ReceiveMessage and DeleteMessageBatch per batch of 10
    lambda_gb_s = (plan["seconds"] * 1.0 + send["seconds"] * 0.5) / sent  # 1024 MB planner, 512 MB sender
    lambda_requests = send["batches"] / sent
    log_gb = send["log_bytes"] / sent / 1e9
    per_reminder = {
        "dynamodb_writes": wru * PRICE["dynamodb_wru"],
        "dynamodb_reads": rru * PRICE["dynamodb_rru"],
        "sqs": sqs_requests * PRICE["sqs_request"],
        "lambda_compute": lambda_gb_s * PRICE["lambda_gb_s_arm"],
        "lambda_requests": lambda_requests * PRICE["lambda_request"],
        "cloudwatch_logs": log_gb * PRICE["logs_ingest_gb"],
    }
    monthly = {k: round(v * reminders, 2) for k, v in per_reminder.items()}
    # storage: the accounts, and one attempt item per reminder, kept TimelineRetentionDays (TTL)
    retention_months = RETENTION_DAYS / 30
    monthly["dynamodb_storage"] = round((ACCOUNTS_MONTH * account_bytes + retention_months * reminders * attempt_bytes)
                                        / 1e9 * PRICE["dynamodb_gb_month"], 2)
    monthly["secrets_manager_api"] = round(NIGHTS * 24 * 12 * 5 * PRICE["secrets_api_call"], 2)  # 5 warm senders
    infra = round(sum(monthly.values()), 2)
    ses = round(reminders * PRICE["ses_email"], 2)
    return {
        "accounts": ACCOUNTS_MONTH, "reminders_per_month": int(reminders), "timeline_retention_days": RETENTION_DAYS,
        "item_bytes": {"account": account_bytes, "attempt": attempt_bytes},
        "per_reminder_units": {"dynamodb_wru": wru, "dynamodb_rru": round(rru, 3),
                               "sqs_requests": round(sqs_requests, 3), "lambda_gb_s": round(lambda_gb_s, 5),
                               "log_bytes": round(send["log_bytes"] / sent)},
        "monthly_usd": dict(sorted(monthly.items())), "infra_usd": infra, "ses_usd": ses,
        "note": "Lambda time measured on moto in process (includes moto's own work): an upper bound.",
    }


def run() -> dict:
    from cobranza.tenants import store as tenants

    figures: dict = {}
    reads = {}
    with moto_stack() as template:
        for not_due in NOT_DUE:
            tenant_id = f"bench{not_due}"
            tenants.create_tenant(tenant_id, "Financiera Bench", "America/Mexico_City", [])
            account_bytes = _seed(tenant_id, DUE, not_due)
            plan = _plan(tenant_id)
            due = plan["result"]["accounts_due"]
            reads[not_due] = plan["items_read"].get("Query", 0)
            figures[f"items_read_per_due_{not_due}_not_due"] = round(reads[not_due] / due, 3)
            if not_due == NOT_DUE[0]:
                send = _dispatch(plan["messages"], template.base_name("EmailQueue"))
                sent_plan = plan
        sent = send["messages"] - send["failures"]
        sqs_total = _sum(sent_plan["requests"], "sqs") + _sum(send["requests"], "sqs")
        dynamo_total = _sum(sent_plan["requests"], "dynamodb") + _sum(send["requests"], "dynamodb")
        cost = _cost_model(sent_plan, send, account_bytes, _attempt_bytes(template), sent)
    figures.update({
        "accounts_due": DUE,
        "items_read_per_due": max(figures[f"items_read_per_due_{n}_not_due"] for n in NOT_DUE),
        "planner_items_read_same_for_1k_and_200k_not_due": reads[NOT_DUE[0]] == reads[NOT_DUE[1]],
        "reminders_sent": sent,
        "sqs_requests_per_1000_reminders": round(sqs_total * 1000 / sent, 1),
        "dynamodb_requests_per_reminder": round(dynamo_total / sent, 2),
        "planner_seconds_10k_due": round(sent_plan["seconds"], 1),
        "sender_ms_per_reminder_on_moto": round(send["seconds"] * 1000 / sent, 2),
        "requests_breakdown": {"planner": dict(sorted(sent_plan["requests"].items())),
                               "sender": dict(sorted(send["requests"].items()))},
        "cost_model": cost,
        "infra_cost_share_of_ses": round(cost["infra_usd"] / cost["ses_usd"], 4),
    })
    return figures
