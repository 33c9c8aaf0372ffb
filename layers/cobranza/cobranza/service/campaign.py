"""The nightly run (SPEC §5): per tenant, only the accounts whose next-action date has come.

For each due account: recompute its derived fields as of the tenant's today, queue the cadence
steps due today (one message per step, deterministic attempt id), and move its next-action
date forward. Reading the sparse due-index keeps the work proportional to what is due, not
to the portfolio.
"""
from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any, Iterable, Iterator
from zoneinfo import ZoneInfo

from .. import aws
from ..config import get_settings
from ..domain import segmentation
from ..domain.policy import effective_policy
from ..observability import logger, metrics
from ..storage import accounts as accounts_repo
from ..storage import tenants as tenants_repo
from .accounts import refresh_derived

REMINDER_CHANNELS = ("email", "sms", "whatsapp")
SQS_BATCH = 10
#: Accounts whose reminders are queued, then whose next dates are written, together.
CHUNK = 250


def attempt_id(tenant_id: str, account_id: str, step_id: str, on: date) -> str:
    seed = f"{tenant_id}|{account_id}|{step_id}|{on.isoformat()}"
    return "att_" + hashlib.sha256(seed.encode()).hexdigest()[:24]


def run_nightly(event_time: datetime, tenant_ids: Iterable[str] | None = None) -> dict[str, Any]:
    results = {}
    for tenant_id in tenant_ids or tenants_repo.list_tenant_ids():
        results[tenant_id] = run_for_tenant(tenant_id, event_time)
    return {"tenants": results}


def run_for_tenant(tenant_id: str, event_time: datetime) -> dict[str, Any]:
    tenant = tenants_repo.get_tenant(tenant_id)
    if tenant is None:
        return {"error": "unknown tenant"}
    policy = effective_policy(tenant.policy)
    today = event_time.astimezone(ZoneInfo(tenant.timezone)).date()
    logger.append_keys(tenant_id=tenant_id, run_date=today.isoformat())
    counts: Counter[str] = Counter({"accounts_due": 0, "accounts_moved": 0, "messages_queued": 0})
    chunk: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    with accounts_repo.BatchWriter() as writer:

        def commit_chunk() -> None:
            # Reminders first, then the accounts' next dates: a crash in between re-plans the
            # same attempt ids on the rerun, and dispatch sends each attempt once.
            counts["messages_queued"] += _enqueue(messages)
            for account in chunk:
                writer.put(account)
            writer.flush()
            chunk.clear()
            messages.clear()

        for item in accounts_repo.due_accounts(tenant_id, today):
            counts["accounts_due"] += 1
            previous = (item.get("stage"), item.get("aging_bucket"))
            refresh_derived(item, policy, today, next_from=today + timedelta(days=1))
            if (item["stage"], item["aging_bucket"]) != previous:
                counts["accounts_moved"] += 1
            if item.get("status") == "active":
                for step in segmentation.steps_due(
                    policy, date.fromisoformat(item["due_date"]), today, item["amount_tier"], item.get("lat") is not None
                ):
                    counts[f"planned_{step.channel}"] += 1
                    if step.channel in REMINDER_CHANNELS:  # field visits go to the visits service
                        messages.append(_message(tenant_id, item, step, today))
            if item.get("stage") == "judicial" and previous[0] != "judicial":
                counts["legal_handoffs"] += 1
            chunk.append(item)
            if len(chunk) >= CHUNK:
                commit_chunk()
        commit_chunk()
    metrics.add_metric(name="RemindersQueued", unit="Count", value=counts["messages_queued"])
    logger.info("nightly run finished", extra={"counts": dict(counts)})
    return {"date": today.isoformat(), **dict(sorted(counts.items()))}  # zeros kept: "nothing due" is an answer


def _message(tenant_id: str, item: dict[str, Any], step: segmentation.Step, today: date) -> dict[str, Any]:
    return {
        "attempt_id": attempt_id(tenant_id, item["account_id"], step.step_id, today),
        "tenant_id": tenant_id,
        "account_id": item["account_id"],
        "channel": step.channel,
        "step": step.step_id,
        "stage": step.stage,
        "planned_for": today.isoformat(),
    }


def _batches(items: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _enqueue(messages: list[dict[str, Any]]) -> int:
    sqs = aws.client("sqs")
    queue_url = get_settings().reminder_queue_url
    sent = 0
    for batch in _batches(messages, SQS_BATCH):
        entries = [
            {"Id": str(i), "MessageBody": json.dumps(m), "MessageAttributes": {"channel": {"DataType": "String", "StringValue": m["channel"]}}}
            for i, m in enumerate(batch)
        ]
        for _ in range(5):
            response = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
            failed = {f["Id"] for f in response.get("Failed", [])}
            sent += len(entries) - len(failed)
            entries = [e for e in entries if e["Id"] in failed]
            if not entries:
                break
        if entries:
            raise RuntimeError(f"{len(entries)} reminder messages could not be queued")
    return sent
