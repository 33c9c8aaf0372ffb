"""EventBridge patterns and the pipe forwarding step, without a running stack (moto in-process)."""

from __future__ import annotations

import json
import textwrap

import boto3
import pytest
from moto import mock_aws

from infra.local.patterns import PatternError, filter_patterns, matches, matches_any, parse_pattern
from infra.local.pipes import forward_once, pipe_specs, streams_client
from infra.local.resources import create_resources
from infra.local.template import LocalTemplate

VISIT_RESULT = {
    "eventName": ["MODIFY"],
    "dynamodb": {
        "NewImage": {"status": {"S": ["done", "rejected"]}},
        "OldImage": {"status": {"S": [{"anything-but": ["done", "rejected"]}]}},
    },
}


def _record(event_name="MODIFY", new=None, old=None):
    dynamodb = {"Keys": {"id": {"S": "v1"}}, "SequenceNumber": "1", "SizeBytes": 10}
    if new is not None:
        dynamodb["NewImage"] = {"status": {"S": new}}
    if old is not None:
        dynamodb["OldImage"] = {"status": {"S": old}}
    return {"eventName": event_name, "eventSource": "aws:dynamodb", "dynamodb": dynamodb}


@pytest.mark.parametrize(("record", "expected"), [
    (_record(new="done", old="pending"), True),
    (_record(new="rejected", old="assigned"), True),
    (_record(new="done", old="done"), False),  # already stored: not a new result
    (_record(new="pending", old="assigned"), False),
    (_record("INSERT", new="done"), False),
    (_record(new="done"), False),  # the OldImage key is absent: anything-but does not match absence
])
def test_the_visit_result_pattern(record, expected):
    assert matches(VISIT_RESULT, record) is expected
    assert matches(json.dumps(VISIT_RESULT), record) is expected


def test_matchers():
    event = {"a": "Hello", "n": 5, "flag": True, "none": None, "tags": ["x", "y"], "obj": {"k": "v"}}
    assert matches({"a": [{"prefix": "He"}]}, event)
    assert not matches({"a": [{"prefix": "he"}]}, event)
    assert matches({"a": [{"prefix": {"equals-ignore-case": "he"}}]}, event)
    assert matches({"a": [{"suffix": "lo"}]}, event)
    assert matches({"a": [{"equals-ignore-case": "hello"}]}, event)
    assert matches({"a": [{"wildcard": "H*o"}]}, event)
    assert matches({"a": [{"anything-but": "x"}]}, event)
    assert not matches({"a": [{"anything-but": ["Hello", "x"]}]}, event)
    assert not matches({"a": [{"anything-but": {"prefix": "He"}}]}, event)
    assert matches({"n": [5.0]}, event) and not matches({"n": ["5"]}, event)
    assert matches({"n": [{"numeric": [">", 0, "<=", 5]}]}, event)
    assert not matches({"n": [{"numeric": [">", 5]}]}, event)
    assert matches({"flag": [True]}, event) and not matches({"flag": [1]}, event)
    assert matches({"none": [None]}, event) and not matches({"missing": [None]}, event)
    assert matches({"tags": ["y"]}, event)  # an array matches when any element does
    assert matches({"obj": {"k": ["v"]}}, event)
    assert matches({"missing": [{"exists": False}]}, event)
    assert not matches({"missing": [{"exists": True}]}, event)
    assert matches({"obj": {"gone": [{"exists": False}]}}, event)
    assert matches({"absent": {"deeper": [{"exists": False}]}}, event)
    assert not matches({"absent": {"deeper": ["x"]}}, event)
    assert matches({"$or": [{"a": ["nope"]}, {"n": [5]}]}, event)
    assert not matches({"a": ["Hello"], "n": [6]}, event)  # every key must match


def test_filter_criteria_pass_a_record_when_any_pattern_matches():
    patterns = filter_patterns({"Filters": [{"Pattern": '{"a": ["1"]}'}, {"Pattern": '{"a": ["2"]}'}]})
    assert matches_any(patterns, {"a": "2"})
    assert not matches_any(patterns, {"a": "3"})
    assert matches_any([], {"a": "3"})  # no filter criteria: everything passes


@pytest.mark.parametrize("pattern", [
    '{"a": [{"cidr": "10.0.0.0/24"}]}',
    '{"a": "not a list"}',
    '{"a": [{"numeric": [">"]}]}',
    '{"a": [{"exists": "yes"}]}',
    '{"a": [{"prefix": "x", "suffix": "y"}]}',
    "not json",
])
def test_unsupported_or_malformed_patterns_are_rejected_up_front(pattern):
    with pytest.raises(PatternError):
        parse_pattern(pattern)


TEMPLATE = """
    Transform: AWS::Serverless-2016-10-31
    Resources:
      Visits:
        Type: AWS::DynamoDB::Table
        Properties:
          BillingMode: PAY_PER_REQUEST
          StreamSpecification: {StreamViewType: NEW_AND_OLD_IMAGES}
          AttributeDefinitions: [{AttributeName: visit_id, AttributeType: S}]
          KeySchema: [{AttributeName: visit_id, KeyType: HASH}]
      Results:
        Type: AWS::SQS::Queue
      ResultsDLQ:
        Type: AWS::SQS::Queue
      ResultsPipe:
        Type: AWS::Pipes::Pipe
        Properties:
          RoleArn: !Sub "arn:aws:iam::${AWS::AccountId}:role/pipe"
          Source: !GetAtt Visits.StreamArn
          SourceParameters:
            DynamoDBStreamParameters:
              StartingPosition: TRIM_HORIZON
              BatchSize: 2
              MaximumRetryAttempts: 1
              DeadLetterConfig: {Arn: !GetAtt ResultsDLQ.Arn}
            FilterCriteria:
              Filters:
                - Pattern: '{"dynamodb": {"NewImage": {"status": {"S": ["done"]}}}}'
          Target: !GetAtt Results.Arn
"""


@pytest.fixture
def aws(monkeypatch, tmp_path):
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    (tmp_path / "template.yaml").write_text(textwrap.dedent(TEMPLATE), encoding="utf-8")
    with mock_aws():
        template = LocalTemplate(tmp_path / "template.yaml")
        create_resources(template, lambda service: boto3.client(service, region_name="us-east-1"))
        yield template


def _messages(sqs, url):
    out = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in batch:
            out.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return out


def test_forward_once_sends_the_matching_stream_records_to_the_queue(aws):
    template = aws
    ddb, sqs = boto3.client("dynamodb"), boto3.client("sqs")
    streams = streams_client()
    (pipe,) = pipe_specs(template)
    table = template.physical_name("Visits")
    state: dict = {}
    assert forward_once(streams, sqs, pipe, state) == 0
    for index in range(5):
        ddb.put_item(TableName=table, Item={"visit_id": {"S": f"v{index}"},
                                            "status": {"S": "done" if index % 2 == 0 else "pending"}})

    assert forward_once(streams, sqs, pipe, state) == 3  # batches of 2, all read in one poll
    assert forward_once(streams, sqs, pipe, state) == 0

    records = _messages(sqs, template.physical_name("Results"))
    assert [r["dynamodb"]["Keys"]["visit_id"]["S"] for r in records] == ["v0", "v2", "v4"]
    assert records[0]["eventSourceARN"] == template.attribute("Visits", "StreamArn")
    assert records[0]["eventSourceARN"] == ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]


def test_forward_once_retries_a_failing_batch_then_describes_it_in_the_dead_letter_queue(aws):
    template = aws
    ddb, sqs = boto3.client("dynamodb"), boto3.client("sqs")
    streams = streams_client()
    (pipe,) = pipe_specs(template)
    state: dict = {}
    forward_once(streams, sqs, pipe, state)
    sqs.delete_queue(QueueUrl=template.physical_name("Results"))
    ddb.put_item(TableName=template.physical_name("Visits"), Item={"visit_id": {"S": "v1"}, "status": {"S": "done"}})

    assert forward_once(streams, sqs, pipe, state) == 0  # failed: kept for a retry
    assert _messages(sqs, template.physical_name("ResultsDLQ")) == []
    assert forward_once(streams, sqs, pipe, state) == 0  # MaximumRetryAttempts: 1 -> dead letter

    (dead,) = _messages(sqs, template.physical_name("ResultsDLQ"))
    assert dead["context"]["condition"] == "RetryAttemptsExhausted"
    assert dead["context"]["approximateInvokeCount"] == 2
    assert dead["DDBStreamBatchInfo"]["batchSize"] == 1
    assert dead["DDBStreamBatchInfo"]["streamArn"] == pipe.source_arn
    assert forward_once(streams, sqs, pipe, state) == 0  # the shard moved on
    assert _messages(sqs, template.physical_name("ResultsDLQ")) == []
