"""Shared test helpers: load a function's handler by path, a Lambda context, AWS-shaped events."""
from __future__ import annotations

import importlib.util
import json
import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import ModuleType
from urllib.parse import quote_plus
from zoneinfo import ZoneInfo

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT.parent / "shared" / "samples"


def needs_sample(path: Path) -> pytest.MarkDecorator:
    """A test that reads a shared sample (``../shared/samples``): skipped on a machine without
    it, but never under CI (``CI=true``), where a missing sample must fail the run."""
    on_ci = os.environ.get("CI", "").lower() == "true"
    return pytest.mark.skipif(not on_ci and not path.exists(), reason=f"shared sample {path.name} not present")


def local_today(zone: str = "America/Mexico_City") -> date:
    """Today's date in ``zone`` on the platform's clock, as the local stack's workers (separate
    processes: never patched, shifted only by ``COBRANZA_CLOCK_SHIFT_DAYS``) reckon it.
    Integration tests fix the platform's clock instead (their ``clock`` fixture)."""
    from cobranza.core import clock

    return clock.utcnow().astimezone(ZoneInfo(zone)).date()


def load_function(name: str) -> ModuleType:
    """functions/<name>/app.py as a fresh module (each function's module is called `app`)."""
    path = ROOT / "functions" / name / "app.py"
    spec = importlib.util.spec_from_file_location(f"function_{name}_{uuid.uuid4().hex[:6]}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class LambdaContext:
    function_name: str = "cobranza-test"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:cobranza-test"
    aws_request_id: str = "req-test"
    timeout_ms: int = 900_000  # the template's longest function timeout
    started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        """As Lambda's: the time left before the invocation's deadline."""
        return max(0, self.timeout_ms - int((time.monotonic() - self.started) * 1000))


def s3_put_event(bucket: str, key: str, size: int = 100, etag: str = "etag", sequencer: str = "0062D3F1A2B3C4D5E6",
                 version_id: str | None = None) -> dict:
    """An S3 ObjectCreated:Put notification as AWS sends it (key URL-encoded; a versioned
    bucket's events carry the object's version id)."""
    return {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-11-23T15:00:00.000Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:EXAMPLE"}, "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": "R", "x-amz-id-2": "I"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "PortfolioUploaded",
               "bucket": {"name": bucket, "ownerIdentity": {"principalId": "EXAMPLE"}, "arn": f"arn:aws:s3:::{bucket}"},
               "object": {"key": quote_plus(key), "size": size, "eTag": etag, "sequencer": sequencer,
                          **({"versionId": version_id} if version_id else {})}},
    }]}


def scheduled_event(time: str, detail: dict | None = None) -> dict:
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "123456789012", "time": time, "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/cobranza-CampaignFunction-Nightly"],
            "detail": detail or {}}


def run_night(time: str, replay: bool = True) -> dict:
    """A night as the stack runs it, in this process (moto): CampaignFunction's tick (a replay by
    default, so a test may run the same night again), then NightFunction on every part it queued,
    as the event source would. Returns ``{"tenants": {tenant: the night's summary, or why it did
    not start}}``."""
    import boto3

    from cobranza.campaign import store as nights_repo
    from cobranza.campaign.nights import night_counts
    from cobranza.core.settings import get_settings

    started = load_function("campaign").handler(scheduled_event(time, {"replay": True} if replay else None),
                                                LambdaContext())["tenants"]
    sqs, url = boto3.client("sqs"), get_settings().night_queue_url or ""
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            break
        for message in messages:
            load_function("night").handler(sqs_event([json.loads(message["Body"])], "cobranza-NightQueue"), LambdaContext())
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    results = {}
    for tenant_id, start in started.items():
        night = nights_repo.get_night(tenant_id, start["date"]) if start.get("started") else None
        results[tenant_id] = night_counts(night["summary"]) if night and "summary" in night else start
    return {"tenants": results}


def sqs_event(bodies: list[dict], queue: str = "cobranza-EmailQueue", receive_count: int = 1) -> dict:
    return {"Records": [{
        "messageId": str(uuid.uuid4()), "receiptHandle": "rh-" + str(i), "body": json.dumps(body),
        "attributes": {"ApproximateReceiveCount": str(receive_count), "SentTimestamp": "1763900000000",
                       "SenderId": "AIDAEXAMPLE", "ApproximateFirstReceiveTimestamp": "1763900000001"},
        "messageAttributes": {}, "md5OfBody": "x", "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:{queue}", "awsRegion": "us-east-1",
    } for i, body in enumerate(bodies)]}


class RawBody:
    """An HTTP response body for botocore's AWSResponse."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_):
        yield self._body
