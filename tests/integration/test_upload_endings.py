"""SPEC §3: every upload ends. A duplicate event meanwhile is a no-op, a crash gives the upload back
to the retry at once, and an upload whose processing stopped ends `failed` with its reason,
summary.json and an alarm (the watchdog, IngestWorkerFunction's StaleUploads schedule).
"""
import json
from datetime import timedelta

import boto3
import pytest

from tests.helpers import LambdaContext, load_function, s3_put_event, scheduled_event
from tests.integration.test_snapshot_order import NEWER, csv_bytes
from tests.integration.test_upload_identity import uploads

KEY = "portfolios/acme/cartera_2026-11-30.csv"


@pytest.fixture
def stored(bucket):
    s3 = boto3.client("s3")
    s3.put_object(Bucket=bucket, Key=KEY, Body=csv_bytes(NEWER))
    head = s3.head_object(Bucket=bucket, Key=KEY)
    return s3_put_event(bucket, KEY, head["ContentLength"], head["ETag"].strip('"'), "0001", head.get("VersionId"))


def test_a_duplicate_event_while_the_upload_is_held_is_a_no_op(tenant, stored):
    from cobranza.portfolio import ingest
    from cobranza.portfolio import uploads as uploads_repo

    upload_id = ingest.upload_id_for(ingest.S3Object(**{
        "bucket": stored["Records"][0]["s3"]["bucket"]["name"], "key": KEY,
        "size": stored["Records"][0]["s3"]["object"]["size"], "etag": stored["Records"][0]["s3"]["object"]["eTag"],
        "version_id": stored["Records"][0]["s3"]["object"].get("versionId", "")}))
    assert uploads_repo.claim_upload("acme", upload_id, KEY, "2026-11-23T15:00:00Z", "2026-11-23T15:15:00Z")
    answer = load_function("ingest").handler(stored, LambdaContext())["uploads"][0]
    assert answer == {"upload_id": upload_id, "status": "processing", "rows_total": None, "rows_rejected": None}
    assert uploads_repo.get_upload("acme", upload_id).summary is None  # nothing was read


def test_a_crash_gives_the_upload_back_and_the_retry_finishes_it(tenant, stored, monkeypatch):
    from cobranza.portfolio import ingest

    real = ingest._ingest_whole
    calls = []

    def crash_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("DynamoDB went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(ingest, "_ingest_whole", crash_once)
    handler = load_function("ingest").handler
    with pytest.raises(ConnectionError):
        handler(stored, LambdaContext())
    retry = handler(stored, LambdaContext())["uploads"][0]  # Lambda's retry, a minute later
    assert retry["status"] == "succeeded" and len(calls) == 2 and len(uploads()) == 1


def test_an_upload_whose_processing_stopped_ends_failed_with_its_summary_and_an_alarm(tenant, stack, bucket, clock):
    from cobranza.accounts import alarms as alarms_repo
    from cobranza.portfolio import uploads as uploads_repo

    # a holder that timed out: its lease ran out at 15:15 and no retry came
    assert uploads_repo.claim_upload("acme", "up_" + "a" * 20, KEY, "2026-11-23T15:00:00Z", "2026-11-23T15:15:00Z")
    assert uploads_repo.claim_upload("acme", "up_" + "b" * 20, KEY, "2026-11-23T15:00:00Z", "2026-11-23T18:00:00Z")
    worker = load_function("ingest_worker").handler
    clock["value"] = clock["value"].replace(hour=15, minute=20)  # within the grace: a retry may still come
    assert worker(scheduled_event("2026-11-23T15:20:00Z"), LambdaContext()) == {"stopped_uploads_ended": []}
    clock["value"] = clock["value"] + timedelta(minutes=30)
    assert worker(scheduled_event("2026-11-23T15:50:00Z"), LambdaContext()) == {"stopped_uploads_ended": ["up_" + "a" * 20]}

    ended = uploads_repo.get_upload("acme", "up_" + "a" * 20)
    assert ended.status == "failed" and ended.summary["error"]["code"] == "processing_stopped"
    s3 = boto3.client("s3")
    summary = json.loads(s3.get_object(Bucket=bucket, Key=f"reports/acme/uploads/up_{'a' * 20}/summary.json")["Body"].read())
    assert summary["status"] == "failed" and summary["rows_total"] == 0
    assert s3.get_object(Bucket=bucket, Key=f"reports/acme/uploads/up_{'a' * 20}/rejects.csv")["Body"].read().startswith(b"row_number")
    assert [a.code for a in alarms_repo.list_alarms("acme")] == ["upload_stopped"]
    assert uploads_repo.get_upload("acme", "up_" + "b" * 20).status == "processing"  # still held
    assert worker(scheduled_event("2026-11-23T15:50:00Z"), LambdaContext()) == {"stopped_uploads_ended": []}  # once


class Killed(BaseException):
    """Lambda ending an invocation at its time limit: no code of ours runs after it."""


def test_a_file_that_times_out_on_every_try_ends_failed_and_uploading_it_again_finishes_it(tenant, bucket, clock,
                                                                                           monkeypatch):
    """Injected timeout: the S3-triggered invocation is killed half way through its writes on the
    first try and on Lambda's two retries. The watchdog ends the upload `processing_stopped`;
    the same file uploaded again is a new upload that finishes, and a third event for the
    stopped version changes nothing."""
    import io
    from datetime import date

    from cobranza.accounts import store as accounts_repo
    from cobranza.portfolio import uploads as uploads_repo
    from infra.sample_data import write_portfolio

    data = io.BytesIO()
    write_portfolio(data, 120, seed=3, as_of=date(2026, 11, 23), fmt="csv")
    s3 = boto3.client("s3")
    key = "portfolios/acme/cartera.csv"

    def event_for(version):
        head = s3.head_object(Bucket=bucket, Key=key, VersionId=version)
        return s3_put_event(bucket, key, head["ContentLength"], head["ETag"].strip('"'), "0001", version)

    first = event_for(s3.put_object(Bucket=bucket, Key=key, Body=data.getvalue())["VersionId"])
    handler, worker = load_function("ingest").handler, load_function("ingest_worker").handler
    send = accounts_repo.BatchWriter._send

    def killed_after_one_batch(self, batch):
        if getattr(self, "sent", 0):
            while self._in_flight:  # the first batch written, then the process is killed
                self._collect(self._in_flight.popleft())
            raise Killed()
        self.sent = 1
        send(self, batch)

    with monkeypatch.context() as killing:
        killing.setattr(accounts_repo.BatchWriter, "_send", killed_after_one_batch)
        killing.setattr(uploads_repo, "extend_lease", lambda *args: None)  # a killed process gives nothing back
        with pytest.raises(Killed):
            handler(first, LambdaContext())
        clock["value"] += timedelta(minutes=5)  # a duplicate event and the watchdog meanwhile: the lease holds
        assert handler(first, LambdaContext())["uploads"][0]["status"] == "processing"
        assert worker(scheduled_event("2026-11-23T15:05:00Z"), LambdaContext()) == {"stopped_uploads_ended": []}
        for _ in range(2):  # Lambda's retries come after the time limit, so the lease has run out
            clock["value"] += timedelta(minutes=16)
            with pytest.raises(Killed):
                handler(first, LambdaContext())
    clock["value"] += timedelta(minutes=15 + 11)  # the lease ran out more than the grace ago
    [stopped] = worker(scheduled_event("2026-11-23T16:30:00Z"), LambdaContext())["stopped_uploads_ended"]
    summary = json.loads(s3.get_object(Bucket=bucket, Key=f"reports/acme/uploads/{stopped}/summary.json")["Body"].read())
    assert summary["status"] == "failed" and summary["error"]["code"] == "processing_stopped"
    assert [a["code"] for a in summary["alarms"]] == ["upload_stopped"]
    assert handler(first, LambdaContext())["uploads"][0]["status"] == "failed"  # a late event: nothing new

    again = event_for(s3.put_object(Bucket=bucket, Key=key, Body=data.getvalue())["VersionId"])
    finished = handler(again, LambdaContext())["uploads"][0]
    assert finished["status"] == "succeeded" and finished["upload_id"] != stopped
    assert (finished["rows_total"], finished["rows_rejected"]) == (120, 0)
    assert len(uploads()) == 2 and sum(1 for _ in accounts_repo.iter_tenant_accounts("acme")) == 120
