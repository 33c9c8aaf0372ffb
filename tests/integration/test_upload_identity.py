"""SPEC §3, idempotent uploads: one object version is one upload, whatever events or retries arrive.

Given one object in the bucket, when S3 (or a local stack) delivers several events for it (a
redelivery, a `Put` and a `CompleteMultipartUpload`, events with other sequencers), then exactly
one upload record exists and the file is read once; a new version of the key is a new upload.
"""
import json

import boto3

from tests.helpers import LambdaContext, load_function, s3_put_event
from tests.integration.test_snapshot_order import NEWER, csv_bytes


def uploads(tenant_id="acme"):
    from cobranza.core.tables import UploadModel, bind_models

    bind_models()
    return list(UploadModel.query(tenant_id))


def events_for(bucket, key, head, names_and_sequencers):
    for name, sequencer in names_and_sequencers:
        event = s3_put_event(bucket, key, head["ContentLength"], head["ETag"].strip('"'), sequencer)
        record = event["Records"][0]
        record["eventName"] = name
        record["s3"]["object"]["versionId"] = head.get("VersionId", "")
        yield event


def test_every_event_of_one_object_version_is_the_same_upload_and_reads_the_file_once(stack, tenant, bucket, monkeypatch):
    from cobranza.portfolio import ingest

    s3 = boto3.client("s3")
    key = "portfolios/acme/cartera_2026-11-30.csv"
    s3.put_object(Bucket=bucket, Key=key, Body=csv_bytes(NEWER))
    head = s3.head_object(Bucket=bucket, Key=key)
    reads = []
    real_ingest_whole = ingest._ingest_whole
    monkeypatch.setattr(ingest, "_ingest_whole", lambda *args: reads.append(1) or real_ingest_whole(*args))

    handler = load_function("ingest").handler
    answers = [handler(event, LambdaContext())["uploads"][0] for event in events_for(bucket, key, head, [
        ("ObjectCreated:Put", "0001"), ("ObjectCreated:CompleteMultipartUpload", "0002"),
        ("ObjectCreated:Put", "0001"), ("ObjectCreated:Copy", "00A3")])]
    assert len({a["upload_id"] for a in answers}) == 1 and len(reads) == 1
    assert [u.upload_id for u in uploads()] == [answers[0]["upload_id"]]

    s3.put_object(Bucket=bucket, Key=key, Body=csv_bytes(NEWER[:2]))  # a new version of the same key
    newer = s3.head_object(Bucket=bucket, Key=key)
    (event,) = events_for(bucket, key, newer, [("ObjectCreated:Put", "0004")])
    again = handler(event, LambdaContext())["uploads"][0]
    assert again["upload_id"] != answers[0]["upload_id"] and len(uploads()) == 2
    summary = json.loads(s3.get_object(Bucket=bucket, Key=f"reports/acme/uploads/{again['upload_id']}/summary.json")["Body"].read())
    assert summary["accounts_withdrawn"] == 1
