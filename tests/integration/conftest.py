"""Integration tests: the real code against moto in-process, resources created from template.yaml.

Every test here runs at a fixed instant on the platform's one wall clock (``cobranza.core.clock.utcnow``,
the ``clock`` fixture, autouse): ingestion, the planner, the senders, alarms and the API all see the
same "now", whatever the day the suite runs. A module sets its own instant by overriding the ``now``
fixture; a test moves the clock with ``clock["value"] = ...``. JWT expiry stays on the real clock,
as Cognito (moto) issues the tokens on it.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from moto import mock_aws

from infra.local.moto_in_process import dynamodb_one_at_a_time
from infra.local.resources import create_resources
from infra.local.template import LocalTemplate
from tests.helpers import ROOT, LambdaContext, load_function, s3_put_event

TEMPLATE = LocalTemplate(ROOT / "template.yaml")
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=timezone.utc)  # 09:00 in Mexico City, a Monday


@pytest.fixture
def now():
    """The instant the platform's clock starts at in a test (a module overrides it to pick its own)."""
    return NOW


@pytest.fixture(autouse=True)
def clock(monkeypatch, now):
    """The platform's one wall clock, fixed at ``now``; set ``clock["value"]`` to move it."""
    from cobranza.core import clock as platform_clock

    value = {"value": now}
    monkeypatch.setattr(platform_clock, "utcnow", lambda: value["value"])
    return value


def _reset_caches() -> None:
    from cobranza.core import aws
    from cobranza.core.settings import get_settings
    from cobranza.core.tables import unbind_models
    from cobranza.portfolio import pipeline as ingest_pipeline
    from cobranza.tenants.store import clear_key_cache

    get_settings.cache_clear()
    aws.reset()
    unbind_models()
    clear_key_cache()
    ingest_pipeline.forget_plans()


@pytest.fixture
def stack(monkeypatch):
    """Every resource of the template, in moto; the functions' environment set."""
    for function in ("IngestFunction", "CampaignFunction", "NightFunction", "DispatchFunction", "ApiFunction", "FieldApiFunction", "NotifyFunction",
                     "AlarmsFunction"):
        for key, value in TEMPLATE.function_environment(function).items():
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws(), dynamodb_one_at_a_time():  # as the local server: ingestion writes from several threads
        create_resources(TEMPLATE)
        # ids moto assigned at creation (the environment above had the template's placeholders)
        monkeypatch.setenv("AGENT_POOL_ID", TEMPLATE.physical_name("AgentPool"))
        monkeypatch.setenv("AGENT_POOL_CLIENT_ID", TEMPLATE.physical_name("AgentPoolClient"))
        _reset_caches()
        _trust_moto_pool_keys(monkeypatch)
        yield TEMPLATE
    _reset_caches()


def _trust_moto_pool_keys(monkeypatch) -> None:
    """The API fetches the pool's JWKS over HTTP; in-process, it gets moto's published keys."""
    from moto.utilities.utils import load_resource

    from cobranza.tenants import auth

    auth.signing_keys.reset()
    monkeypatch.setattr(auth.signing_keys, "fetch", lambda url: load_resource("cognitoidp/resources/jwks-public.json"))


@pytest.fixture
def bucket(stack):
    return stack.physical_name("DataBucket")


@pytest.fixture
def tenant(stack):
    """A tenant ('acme') and its API key, created as the admin command does."""
    from cobranza.tenants import store as tenants

    tenants.create_tenant("acme", "Financiera Acme", "America/Mexico_City", ["cobranza@acme.mx"])
    return {"tenant_id": "acme", "api_key": tenants.issue_api_key("acme")}


@pytest.fixture
def upload(bucket):
    """Puts a file in the bucket and runs the ingest handler on its S3 event; returns the summary."""
    import boto3

    ingest = load_function("ingest")
    s3 = boto3.client("s3")
    counter = iter(range(10**6))

    def run(key: str, data: bytes, event_repeats: int = 1) -> dict:
        response = s3.put_object(Bucket=bucket, Key=key, Body=data)
        event = s3_put_event(bucket, key, len(data), response["ETag"].strip('"'), f"{next(counter):020X}",
                             response.get("VersionId"))
        results = [ingest.handler(event, LambdaContext()) for _ in range(event_repeats)]
        upload_ids = {r["uploads"][0]["upload_id"] for r in results}
        assert len(upload_ids) == 1, "a redelivered event must map to the same upload"
        summary_key = f"reports/{key.split('/')[1]}/uploads/{upload_ids.pop()}/summary.json"
        return json.loads(s3.get_object(Bucket=bucket, Key=summary_key)["Body"].read())

    return run


@pytest.fixture
def read_report(bucket):
    import boto3

    def read(tenant_id: str, upload_id: str, name: str) -> str:
        key = f"reports/{tenant_id}/uploads/{upload_id}/{name}"
        return boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")

    return read


