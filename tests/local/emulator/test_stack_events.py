"""Template events reach the handlers as AWS delivers them: S3 notifications, SQS batches, schedules."""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import subprocess
import time
from collections import Counter
from datetime import UTC, datetime

import pytest
import requests
from boto3.s3.transfer import TransferConfig

S3_RECORD_KEYS = [
    "eventVersion", "eventSource", "awsRegion", "eventTime", "eventName", "userIdentity",
    "requestParameters", "responseElements", "s3",
]
SQS_RECORD_KEYS = [
    "messageId", "receiptHandle", "body", "attributes", "messageAttributes", "md5OfBody",
    "eventSource", "eventSourceARN", "awsRegion",
]


def test_an_object_put_under_the_prefix_reaches_the_handler_as_a_full_aws_s3_record(stack, probe):
    s3 = stack.client("s3")
    put = s3.put_object(Bucket=stack.bucket, Key="in/cartera marzo+2026.csv", Body=b"cuenta,saldo\n")
    s3.put_object(Bucket=stack.bucket, Key="elsewhere/ignored.csv", Body=b"x")  # outside the prefix filter

    stack.wait_idle(timeout=30)

    (event,) = probe("s3")
    (record,) = event["Records"]
    assert list(record) == S3_RECORD_KEYS
    assert record["eventVersion"] == "2.1" and record["eventSource"] == "aws:s3"
    assert record["awsRegion"] == "us-east-1" and record["eventName"] == "ObjectCreated:Put"
    assert record["eventTime"].endswith("Z") and record["userIdentity"]["principalId"]
    assert record["requestParameters"] == {"sourceIPAddress": "127.0.0.1"}
    assert set(record["responseElements"]) == {"x-amz-request-id", "x-amz-id-2"}
    s3_part = record["s3"]
    assert s3_part["s3SchemaVersion"] == "1.0" and s3_part["configurationId"] == "S3Function-Upload"
    assert s3_part["bucket"]["name"] == stack.bucket
    assert s3_part["bucket"]["arn"] == f"arn:aws:s3:::{stack.bucket}"
    assert s3_part["bucket"]["ownerIdentity"]["principalId"]
    obj = s3_part["object"]
    assert list(obj) == ["key", "size", "eTag", "versionId", "sequencer"]
    assert obj["key"] == "in/cartera+marzo%2B2026.csv"  # URL-encoded, slashes kept, as AWS sends it
    assert obj["size"] == len(b"cuenta,saldo\n")
    assert obj["eTag"] == put["ETag"].strip('"')
    assert obj["versionId"] == put["VersionId"]
    assert len(obj["sequencer"]) >= 16 and int(obj["sequencer"], 16) > 0


def test_each_put_is_its_own_event_and_sequencers_increase(stack, probe):
    s3 = stack.client("s3")
    etags = [s3.put_object(Bucket=stack.bucket, Key="in/same-key.csv", Body=body)["ETag"].strip('"')
             for body in (b"first", b"second", b"third")]

    stack.wait_idle(timeout=30)

    events = probe("s3")  # asynchronous invocations: arrival order is not guaranteed, as in AWS
    assert [len(event["Records"]) for event in events] == [1, 1, 1]
    sequencer_of = {e["Records"][0]["s3"]["object"]["eTag"]: e["Records"][0]["s3"]["object"]["sequencer"]
                    for e in events}
    assert [int(sequencer_of[etag], 16) for etag in etags] == sorted(int(s, 16) for s in sequencer_of.values())


AWS_CLI = shutil.which("aws")
MB = 1024 * 1024


def _one_record_per_key(events: list[dict]) -> dict[str, dict]:
    """`{decoded key: record}`, after checking that every event has one record and every key one event."""
    assert all(len(event["Records"]) == 1 for event in events)
    records = [event["Records"][0] for event in events]
    keys = [record["s3"]["object"]["key"] for record in records]
    assert len(keys) == len(set(keys)), f"more than one event for one object: {sorted(keys)}"
    return {key: record for key, record in zip(keys, records, strict=True)}


def _multipart_etag(body: bytes, part_size: int) -> str:
    """S3's ETag of a multipart upload: the MD5 of the parts' MD5s, then `-<number of parts>`."""
    parts = [body[start:start + part_size] for start in range(0, len(body), part_size)]
    return hashlib.md5(b"".join(hashlib.md5(part).digest() for part in parts)).hexdigest() + f"-{len(parts)}"


def _assert_is_the_stored_object(stack, record: dict, key: str) -> None:
    """size, eTag and versionId are those of the object S3 stores under `key`."""
    head = stack.client("s3").head_object(Bucket=stack.bucket, Key=key)
    obj = record["s3"]["object"]
    assert list(obj) == ["key", "size", "eTag", "versionId", "sequencer"]
    assert (obj["size"], obj["eTag"], obj["versionId"]) == (head["ContentLength"], head["ETag"].strip('"'),
                                                            head["VersionId"])
    assert re.fullmatch(r"[0-9A-F]{16,}", obj["sequencer"])


def test_each_kind_of_upload_fires_the_one_event_aws_fires(stack, probe):
    s3 = stack.client("s3")
    small = b"cuenta,saldo\n1,10.00\n"
    s3.put_object(Bucket=stack.bucket, Key="in/put one.csv", Body=small)
    post = s3.generate_presigned_post(stack.bucket, "in/post+one.csv", Fields={"Content-Type": "text/csv"},
                                      Conditions=[{"Content-Type": "text/csv"}, ["content-length-range", 1, MB]])
    posted = requests.post(post["url"], data=post["fields"], files={"file": ("post.csv", small, "text/csv")},
                           timeout=30)
    assert posted.status_code == 204, posted.text
    s3.copy_object(Bucket=stack.bucket, Key="in/copy one.csv", CopySource={"Bucket": stack.bucket, "Key": "in/put one.csv"})
    big = os.urandom(11 * MB)
    s3.upload_fileobj(io.BytesIO(big), stack.bucket, "in/multi part.bin",
                      Config=TransferConfig(multipart_threshold=5 * MB, multipart_chunksize=5 * MB))

    stack.wait_idle(timeout=60)

    records = _one_record_per_key(probe("s3"))
    assert {key: record["eventName"] for key, record in records.items()} == {
        "in/put+one.csv": "ObjectCreated:Put",
        "in/post%2Bone.csv": "ObjectCreated:Post",
        "in/copy+one.csv": "ObjectCreated:Copy",
        "in/multi+part.bin": "ObjectCreated:CompleteMultipartUpload",
    }
    for encoded, key in (("in/put+one.csv", "in/put one.csv"), ("in/post%2Bone.csv", "in/post+one.csv"),
                         ("in/copy+one.csv", "in/copy one.csv"), ("in/multi+part.bin", "in/multi part.bin")):
        _assert_is_the_stored_object(stack, records[encoded], key)
    assert records["in/put+one.csv"]["s3"]["object"]["eTag"] == hashlib.md5(small).hexdigest()
    assert records["in/multi+part.bin"]["s3"]["object"]["eTag"] == _multipart_etag(big, 5 * MB)  # 3 parts
    assert records["in/multi+part.bin"]["s3"]["object"]["size"] == len(big)


@pytest.mark.skipif(AWS_CLI is None, reason="the AWS CLI is not installed")
def test_the_aws_clis_multipart_upload_and_multipart_copy_fire_one_event_each(stack, probe, tmp_path):
    path = tmp_path / "cartera grande.csv"
    path.write_bytes(os.urandom(9 * MB))  # over the CLI's 8 MB multipart threshold: two parts
    env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1",
               AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    env.pop("AWS_ENDPOINT_URL", None)
    env.pop("AWS_PROFILE", None)
    for source, target in ((str(path), f"s3://{stack.bucket}/in/cli/cartera grande.csv"),
                           (f"s3://{stack.bucket}/in/cli/cartera grande.csv", f"s3://{stack.bucket}/in/cli/copia.csv")):
        result = subprocess.run([AWS_CLI, "--endpoint-url", stack.aws_endpoint, "s3", "cp", source, target],
                                capture_output=True, text=True, env=env, timeout=300)
        assert result.returncode == 0, result.stderr

    stack.wait_idle(timeout=60)

    records = _one_record_per_key(probe("s3"))
    assert {key: record["eventName"] for key, record in records.items()} == {
        "in/cli/cartera+grande.csv": "ObjectCreated:CompleteMultipartUpload",
        "in/cli/copia.csv": "ObjectCreated:CompleteMultipartUpload",  # the CLI copies large objects in parts too
    }
    _assert_is_the_stored_object(stack, records["in/cli/cartera+grande.csv"], "in/cli/cartera grande.csv")
    _assert_is_the_stored_object(stack, records["in/cli/copia.csv"], "in/cli/copia.csv")
    assert records["in/cli/cartera+grande.csv"]["s3"]["object"]["eTag"] == _multipart_etag(path.read_bytes(), 8 * MB)
    assert records["in/cli/cartera+grande.csv"]["s3"]["object"]["size"] == 9 * MB


def test_a_failing_s3_event_is_retried_then_sent_to_the_on_failure_destination(stack, probe, drain):
    stack.client("s3").put_object(Bucket=stack.bucket, Key="in/fail.csv", Body=b"broken")

    stack.wait_idle(timeout=30)

    attempts = probe("s3")
    assert len(attempts) == 2  # the first try + MaximumRetryAttempts: 1
    assert attempts[0] == attempts[1]  # the same event, retried
    (failure,) = drain("FailedEvents")
    record = failure["Json"]
    assert list(record) == ["version", "timestamp", "requestContext", "requestPayload", "responseContext",
                            "responsePayload"]
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["requestContext"]["functionArn"] == (
        "arn:aws:lambda:us-east-1:123456789012:function:cobranza-S3Function:$LATEST"
    )
    assert record["requestPayload"] == attempts[0]
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert record["responsePayload"]["errorType"] == "RuntimeError"
    assert record["responsePayload"]["errorMessage"] == "cannot read in/fail.csv"


def test_sqs_records_have_the_lambda_event_shape(stack, probe):
    sqs = stack.client("sqs")
    sqs.send_message(QueueUrl=stack.names["WorkQueue"], MessageBody="ok-shape",
                     MessageAttributes={"tenant": {"DataType": "String", "StringValue": "t1"}})

    stack.wait_idle(timeout=30)

    (batch,) = probe("sqs")
    (record,) = batch["Records"]
    assert list(record) == SQS_RECORD_KEYS
    assert record["body"] == "ok-shape"
    assert record["md5OfBody"] == hashlib.md5(b"ok-shape").hexdigest()  # SQS's checksum
    assert list(record["attributes"])[:4] == [
        "ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp",
    ]
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["messageAttributes"] == {
        "tenant": {"stringValue": "t1", "stringListValues": [], "binaryListValues": [], "dataType": "String"}
    }
    assert record["eventSource"] == "aws:sqs" and record["awsRegion"] == "us-east-1"
    assert record["eventSourceARN"] == "arn:aws:sqs:us-east-1:123456789012:cobranza-WorkQueue"


def test_reported_item_failures_are_retried_and_then_redriven_to_the_dlq(stack, probe, drain):
    sqs = stack.client("sqs")
    for body in ("ok-1", "fail-1", "ok-2"):
        sqs.send_message(QueueUrl=stack.names["WorkQueue"], MessageBody=body)

    stack.wait_idle(timeout=30)

    deliveries = Counter(record["body"] for batch in probe("sqs") for record in batch["Records"])
    assert deliveries == {"ok-1": 1, "ok-2": 1, "fail-1": 2}  # maxReceiveCount: 2
    assert [m["Body"] for m in drain("WorkDLQ")] == ["fail-1"]
    assert drain("WorkQueue") == []


def test_an_error_keeps_the_whole_batch_until_redrive(stack, probe, drain):
    stack.client("sqs").send_message(QueueUrl=stack.names["PlainQueue"], MessageBody="raise-1")

    stack.wait_idle(timeout=30)

    receive_counts = [r["attributes"]["ApproximateReceiveCount"] for b in probe("sqs") for r in b["Records"]]
    assert receive_counts == ["1", "2"]
    assert [m["Body"] for m in drain("PlainDLQ")] == ["raise-1"]


def test_a_visibility_change_made_by_the_handler_is_respected(stack, probe, drain):
    started = time.monotonic()
    stack.client("sqs").send_message(QueueUrl=stack.names["WorkQueue"], MessageBody="defer-1")

    stack.wait_idle(timeout=30)

    deliveries = [r for b in probe("sqs") for r in b["Records"] if r["body"] == "defer-1"]
    assert [r["attributes"]["ApproximateReceiveCount"] for r in deliveries] == ["1", "2"]
    assert time.monotonic() - started >= 3  # the handler's 3 s, not the local 1 s retry delay
    assert drain("WorkDLQ") == []


def test_fire_schedule_delivers_the_eventbridge_scheduled_event(stack, probe):
    result = stack.fire_schedule("ScheduleFunction", datetime(2026, 3, 1, 8, 0, 30, tzinfo=UTC))

    assert result == {"time": "2026-03-01T08:00:30Z", "function": "cobranza-ScheduleFunction"}
    (event,) = probe("schedule")
    assert list(event) == ["version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"]
    assert {k: v for k, v in event.items() if k != "id"} == {
        "version": "0",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-03-01T08:00:30Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/cobranza-ScheduleFunction-Nightly"],
        "detail": {},
    }


def test_the_clock_fires_a_cron_schedule_in_its_minute_only(stack, probe):
    assert stack.clock.tick(datetime(2026, 3, 2, 7, 59, tzinfo=UTC)) == []
    fired = stack.clock.tick(datetime(2026, 3, 2, 8, 0, 42, tzinfo=UTC))

    stack.wait_idle(timeout=30)

    assert [(t.function_id, t.event_name) for t in fired] == [("ScheduleFunction", "Nightly")]
    (event,) = probe("schedule")
    assert event["time"] == "2026-03-02T08:00:00Z"
