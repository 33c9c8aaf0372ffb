"""EventBridge Pipes (DynamoDB stream -> SQS) in the running local stack, from a template of its own."""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path

import pytest

VISIT_RESULT = (
    '{"eventName": ["MODIFY"], "dynamodb": {"NewImage": {"status": {"S": ["done", "rejected"]}}, '
    '"OldImage": {"status": {"S": [{"anything-but": ["done", "rejected"]}]}}}}'
)

TEMPLATE = f"""\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.12
    Timeout: 10
    Environment:
      Variables:
        PROBE_QUEUE_URL: !Ref Probe
Resources:
  Visits:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      SSESpecification: {{SSEEnabled: true}}
      StreamSpecification: {{StreamViewType: NEW_AND_OLD_IMAGES}}
      AttributeDefinitions: [{{AttributeName: tenant_id, AttributeType: S}}, {{AttributeName: visit_id, AttributeType: S}}]
      KeySchema: [{{AttributeName: tenant_id, KeyType: HASH}}, {{AttributeName: visit_id, KeyType: RANGE}}]
  Audit:
    Type: AWS::DynamoDB::Table
    Properties:
      StreamSpecification: {{StreamViewType: NEW_IMAGE}}
      AttributeDefinitions: [{{AttributeName: id, AttributeType: S}}]
      KeySchema: [{{AttributeName: id, KeyType: HASH}}]
  Ledger:
    Type: AWS::DynamoDB::Table
    Properties:
      StreamSpecification: {{StreamViewType: KEYS_ONLY}}
      AttributeDefinitions: [{{AttributeName: id, AttributeType: S}}]
      KeySchema: [{{AttributeName: id, KeyType: HASH}}]
  Probe:
    Type: AWS::SQS::Queue
  Results:
    Type: AWS::SQS::Queue
  ResultsDLQ:
    Type: AWS::SQS::Queue
  AuditQueue:
    Type: AWS::SQS::Queue
  LedgerDLQ:
    Type: AWS::SQS::Queue
  PipeRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement: [{{Effect: Allow, Principal: {{Service: pipes.amazonaws.com}}, Action: sts:AssumeRole}}]
  ResultsPipe:
    Type: AWS::Pipes::Pipe
    Properties:
      RoleArn: !GetAtt PipeRole.Arn
      Source: !GetAtt Visits.StreamArn
      SourceParameters:
        DynamoDBStreamParameters:
          StartingPosition: LATEST
          BatchSize: 2
          MaximumBatchingWindowInSeconds: 1
          MaximumRetryAttempts: 10
          DeadLetterConfig: {{Arn: !GetAtt ResultsDLQ.Arn}}
        FilterCriteria:
          Filters:
            - Pattern: '{VISIT_RESULT}'
      Target: !GetAtt Results.Arn
  AuditPipe:
    Type: AWS::Pipes::Pipe
    Properties:
      RoleArn: !GetAtt PipeRole.Arn
      Source: !GetAtt Audit.StreamArn
      SourceParameters:
        DynamoDBStreamParameters: {{StartingPosition: TRIM_HORIZON}}
      Target: !GetAtt AuditQueue.Arn
  LedgerPipe:
    Type: AWS::Pipes::Pipe
    Properties:
      RoleArn: !GetAtt PipeRole.Arn
      Source: !GetAtt Ledger.StreamArn
      SourceParameters:
        DynamoDBStreamParameters:
          StartingPosition: TRIM_HORIZON
          MaximumRetryAttempts: 2
          DeadLetterConfig: {{Arn: !GetAtt LedgerDLQ.Arn}}
      Target: !Sub "arn:aws:sqs:${{AWS::Region}}:${{AWS::AccountId}}:no-such-queue"
  AuditFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/audit/
      Handler: app.handler
      Events:
        Audit:
          Type: SQS
          Properties:
            Queue: !GetAtt AuditQueue.Arn
            BatchSize: 10
"""

AUDIT_HANDLER = """
    import os
    import time

    import boto3

    sqs = boto3.client("sqs")


    def handler(event, context):
        time.sleep(0.3)  # slow enough for wait_idle to have to wait for it
        for record in event["Records"]:
            sqs.send_message(QueueUrl=os.environ["PROBE_QUEUE_URL"], MessageBody=record["body"])
"""

RECORD_KEYS = ["eventID", "eventName", "eventVersion", "eventSource", "awsRegion", "dynamodb", "eventSourceARN"]
DYNAMODB_KEYS = ["ApproximateCreationDateTime", "Keys", "NewImage", "OldImage", "SequenceNumber", "SizeBytes",
                 "StreamViewType"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    from infra.local.stack import LocalStack

    root: Path = tmp_path_factory.mktemp("pipes_app")
    (root / "template.yaml").write_text(TEMPLATE, encoding="utf-8")
    handler = root / "functions" / "audit" / "app.py"
    handler.parent.mkdir(parents=True)
    handler.write_text(textwrap.dedent(AUDIT_HANDLER).lstrip(), encoding="utf-8")
    with LocalStack(root, aws_port=0, api_port=0) as running:
        yield running


def _drain(stack, logical_id, wait=0):
    sqs, url, out = stack.client("sqs"), stack.names[logical_id], []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait).get("Messages", [])
        if not batch:
            return out
        for message in batch:
            out.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        wait = 0


def _visit(stack, visit_id, status):
    stack.client("dynamodb").put_item(TableName=stack.names["Visits"], Item={
        "tenant_id": {"S": "t1"}, "visit_id": {"S": visit_id}, "status": {"S": status},
    })


def test_getatt_stream_arn_is_the_tables_real_stream_and_the_pipe_exists_in_moto(stack):
    table = stack.client("dynamodb").describe_table(TableName=stack.names["Visits"])["Table"]
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert stack.template.attribute("Visits", "StreamArn") == table["LatestStreamArn"]
    assert "1970-01-01" not in table["LatestStreamArn"]
    pipe = stack.client("pipes").describe_pipe(Name=stack.names["ResultsPipe"])
    assert pipe["Source"] == table["LatestStreamArn"]
    assert pipe["Target"].endswith(":cobranza-Results")


def test_a_stored_visit_result_reaches_the_queue_within_a_second_as_the_record_pipes_delivers(stack):
    _visit(stack, "v1", "assigned")
    started = time.monotonic()
    stack.client("dynamodb").update_item(
        TableName=stack.names["Visits"], Key={"tenant_id": {"S": "t1"}, "visit_id": {"S": "v1"}},
        UpdateExpression="SET #s = :s, notes = :n", ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": "done"}, ":n": {"S": "paid 50%"}},
    )
    (record,) = _drain(stack, "Results", wait=2)
    assert time.monotonic() - started < 1.5

    assert list(record) == RECORD_KEYS
    assert record["eventName"] == "MODIFY" and record["eventSource"] == "aws:dynamodb"
    assert record["awsRegion"] == "us-east-1"
    assert record["eventSourceARN"] == stack.template.attribute("Visits", "StreamArn")
    ddb = record["dynamodb"]
    assert list(ddb) == DYNAMODB_KEYS
    assert abs(ddb["ApproximateCreationDateTime"] - time.time()) < 60
    assert ddb["Keys"] == {"tenant_id": {"S": "t1"}, "visit_id": {"S": "v1"}}
    assert ddb["NewImage"]["status"] == {"S": "done"} and ddb["NewImage"]["notes"] == {"S": "paid 50%"}
    assert ddb["OldImage"]["status"] == {"S": "assigned"} and "notes" not in ddb["OldImage"]
    assert ddb["StreamViewType"] == "NEW_AND_OLD_IMAGES" and int(ddb["SequenceNumber"]) > 0


def test_records_that_do_not_match_the_filter_are_not_forwarded(stack):
    _visit(stack, "v2", "done")  # an INSERT
    _visit(stack, "v3", "assigned")
    _visit(stack, "v3", "pending")  # a MODIFY to a status that is not a result
    _visit(stack, "v2", "rejected")  # done -> rejected: the result was already stored
    _visit(stack, "v4", "pending")
    _visit(stack, "v4", "rejected")  # the one that passes
    stack.wait_idle(timeout=10)

    records = _drain(stack, "Results", wait=1)
    assert [(r["dynamodb"]["Keys"]["visit_id"]["S"], r["dynamodb"]["NewImage"]["status"]["S"]) for r in records] \
        == [("v4", "rejected")]


def test_wait_idle_waits_for_the_pipe_and_the_function_behind_its_queue(stack):
    ddb = stack.client("dynamodb")
    for index in range(3):
        ddb.put_item(TableName=stack.names["Audit"], Item={"id": {"S": f"a{index}"}})

    stack.wait_idle(timeout=20)

    records = _drain(stack, "Probe")
    assert sorted(r["dynamodb"]["Keys"]["id"]["S"] for r in records) == ["a0", "a1", "a2"]
    assert all(r["eventName"] == "INSERT" and list(r["dynamodb"]) ==
               ["ApproximateCreationDateTime", "Keys", "NewImage", "SequenceNumber", "SizeBytes", "StreamViewType"]
               for r in records)


def test_a_batch_that_cannot_be_sent_is_retried_then_described_in_the_dead_letter_queue(stack):
    stack.client("dynamodb").put_item(TableName=stack.names["Ledger"], Item={"id": {"S": "l1"}})

    stack.wait_idle(timeout=20)  # the stream counts as busy until the batch is dead-lettered

    (dead,) = _drain(stack, "LedgerDLQ")
    assert dead["context"]["condition"] == "RetryAttemptsExhausted"
    assert dead["context"]["approximateInvokeCount"] == 3  # the first try + MaximumRetryAttempts: 2
    assert dead["context"]["pipeArn"].endswith(":pipe/cobranza-LedgerPipe")
    info = dead["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1 and info["streamArn"] == stack.template.attribute("Ledger", "StreamArn")
    assert info["startSequenceNumber"] == info["endSequenceNumber"]
