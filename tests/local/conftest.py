"""Fixtures of the local-stack mechanics tests (`test_stack_*.py`).

They run a real LocalStack on free ports over a tiny project of their own (written to a tmp dir),
so they pin the stack's behaviour without depending on the product's functions. Handlers report
what they received to `ProbeQueue` (through a layer module, which also proves layers are on the
path); tests read it back with `probe()`.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  SenderEmail:
    Type: String
    Default: sender@example.com
Globals:
  Function:
    Runtime: python3.12
    Timeout: 10
    MemorySize: 256
    Layers: [!Ref ProbeLayer]
    Environment:
      Variables:
        PROBE_QUEUE_URL: !Ref ProbeQueue
        FILES_BUCKET: !Ref Files
        STAGE: !Ref AWS::StackName
Resources:
  Files:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Sub "${AWS::StackName}-files-${AWS::AccountId}"
      VersioningConfiguration: {Status: Enabled}
  ProbeQueue:
    Type: AWS::SQS::Queue
  FailedEvents:
    Type: AWS::SQS::Queue
  WorkDLQ:
    Type: AWS::SQS::Queue
  WorkQueue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 60
      RedrivePolicy: {deadLetterTargetArn: !GetAtt WorkDLQ.Arn, maxReceiveCount: 2}
  PlainDLQ:
    Type: AWS::SQS::Queue
  PlainQueue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 60
      RedrivePolicy: {deadLetterTargetArn: !GetAtt PlainDLQ.Arn, maxReceiveCount: 2}
  ProbeLayer:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: layer/
  S3Function:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/s3/
      Handler: app.handler
      EventInvokeConfig:
        MaximumRetryAttempts: 1
        DestinationConfig:
          OnFailure: {Type: SQS, Destination: !GetAtt FailedEvents.Arn}
      Events:
        Upload:
          Type: S3
          Properties:
            Bucket: !Ref Files
            Events: s3:ObjectCreated:*
            Filter: {S3Key: {Rules: [{Name: prefix, Value: in/}]}}
  SqsFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/sqs/
      Handler: app.handler
      Events:
        Work:
          Type: SQS
          Properties:
            Queue: !GetAtt WorkQueue.Arn
            BatchSize: 10
            FunctionResponseTypes: [ReportBatchItemFailures]
        Plain:
          Type: SQS
          Properties:
            Queue: !GetAtt PlainQueue.Arn
            BatchSize: 5
  ScheduleFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/schedule/
      Handler: app.handler
      Events:
        Nightly:
          Type: Schedule
          Properties:
            Schedule: cron(0 8 * * ? *)
  ApiFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/api/
      Handler: app.handler
      Events:
        ListItems: {Type: Api, Properties: {RestApiId: !Ref ProbeApi, Path: /v1/items, Method: get}}
        CreateItem: {Type: Api, Properties: {RestApiId: !Ref ProbeApi, Path: /v1/items, Method: post}}
        GetItem: {Type: Api, Properties: {RestApiId: !Ref ProbeApi, Path: "/v1/items/{item_id}", Method: get}}
        Crash: {Type: Api, Properties: {RestApiId: !Ref ProbeApi, Path: /v1/crash, Method: get}}
  ProbeApi:
    Type: AWS::Serverless::Api
    Properties:
      StageName: api
      BinaryMediaTypes: ["application~1octet-stream"]
      GatewayResponses:
        MISSING_AUTHENTICATION_TOKEN:
          StatusCode: "404"
          ResponseTemplates:
            application/json: '{"error": {"code": "not_found", "message": "No such route.", "details": []}}'
        DEFAULT_5XX:
          ResponseTemplates:
            application/json: '{"error": {"code": "internal", "message": "Internal error.", "details": []}}'
  ToolFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/tool/
      Handler: app.handler
      Timeout: 2
      MemorySize: 384
"""

FILES = {
    "layer/probe.py": """
        import json
        import os

        import boto3

        _sqs = None


        def record(kind, payload):
            global _sqs
            _sqs = _sqs or boto3.client("sqs")
            body = json.dumps({"kind": kind, "payload": payload})
            _sqs.send_message(QueueUrl=os.environ["PROBE_QUEUE_URL"], MessageBody=body)
    """,
    "functions/s3/app.py": """
        from urllib.parse import unquote_plus

        import probe


        def handler(event, context):
            probe.record("s3", event)
            key = unquote_plus(event["Records"][0]["s3"]["object"]["key"])
            if key.startswith("in/fail"):
                raise RuntimeError(f"cannot read {key}")
            return {"key": key}
    """,
    "functions/sqs/app.py": """
        import boto3

        import probe

        sqs = boto3.client("sqs")


        def handler(event, context):
            probe.record("sqs", event)
            failures = []
            for record in event["Records"]:
                body = record["body"]
                if body.startswith("raise"):
                    raise RuntimeError("the whole batch fails")
                if body.startswith("fail"):
                    failures.append({"itemIdentifier": record["messageId"]})
                if body.startswith("defer") and record["attributes"]["ApproximateReceiveCount"] == "1":
                    queue_url = sqs.get_queue_url(QueueName=record["eventSourceARN"].rsplit(":", 1)[1])["QueueUrl"]
                    sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=record["receiptHandle"],
                                                  VisibilityTimeout=3)
                    failures.append({"itemIdentifier": record["messageId"]})
            return {"batchItemFailures": failures}
    """,
    "functions/schedule/app.py": """
        import probe


        def handler(event, context):
            probe.record("schedule", event)
            return {"time": event["time"], "function": context.function_name}
    """,
    "functions/api/app.py": """
        from chalice import Chalice, Response

        import probe

        app = Chalice(app_name="probe-api")


        @app.route("/v1/items")
        def list_items():
            return {"query": app.current_request.query_params}


        @app.route("/v1/items/{item_id}")
        def get_item(item_id):
            return {"item_id": item_id, "stage": app.current_request.context["stage"]}


        @app.route("/v1/items", methods=["POST"], content_types=["application/json", "application/octet-stream"])
        def create_item():
            raw = app.current_request.raw_body
            return Response(body={"created": True, "bytes": len(raw)}, status_code=201,
                            headers={"Location": "/v1/items/1"})


        def handler(event, context):
            probe.record("api", event)
            if event["path"] == "/v1/crash":
                raise RuntimeError("the handler crashed")
            return app(event, context)
    """,
    "functions/tool/app.py": """
        import os
        import sys
        import time

        COLD = {"pid": os.getpid()}


        def handler(event, context):
            action = event.get("action")
            if action == "sleep":
                time.sleep(event["seconds"])
            if action == "raise":
                raise ValueError("asked to fail")
            if action == "exit":
                os._exit(3)
            return {
                "pid": COLD["pid"],
                "env": {k: v for k, v in os.environ.items() if k.startswith(("AWS_", "POWERTOOLS_", "COBRANZA_"))
                        or k in ("TZ", "PROBE_QUEUE_URL", "FILES_BUCKET", "STAGE", "_HANDLER", "LAMBDA_TASK_ROOT")},
                "sys_path": sys.path[:3],
                "cwd": os.getcwd(),
                "context": {
                    "function_name": context.function_name,
                    "memory_limit_in_mb": context.memory_limit_in_mb,
                    "invoked_function_arn": context.invoked_function_arn,
                    "aws_request_id": context.aws_request_id,
                    "remaining_ms": context.get_remaining_time_in_millis(),
                },
            }
    """,
}


@pytest.fixture(scope="session")
def stack_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A throwaway SAM project exercising every event type the local stack supports."""
    root = tmp_path_factory.mktemp("stack_app")
    (root / "template.yaml").write_text(TEMPLATE, encoding="utf-8")
    for relative, source in FILES.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source).lstrip(), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def stack(stack_project: Path):
    from infra.local.stack import LocalStack

    with LocalStack(stack_project, aws_port=0, api_port=0, write_state_file=True) as running:
        yield running


def _drain(stack: Any, queue_logical_id: str) -> list[dict]:
    sqs = stack.client("sqs")
    url = stack.names[queue_logical_id]
    out = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30,
                                       MessageSystemAttributeNames=["All"]).get("Messages", [])
        if not messages:
            return out
        for message in messages:
            try:
                message["Json"] = json.loads(message["Body"])
            except ValueError:
                message["Json"] = None
            out.append(message)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def drain(stack: Any) -> Callable[[str], list[dict]]:
    """`drain("WorkDLQ")`: every message now in that queue (removed), with `Json` = parsed body."""
    return lambda queue_logical_id: _drain(stack, queue_logical_id)


@pytest.fixture
def probe(stack: Any) -> Callable[[str], list[Any]]:
    """`probe("s3")`: what handlers of that kind reported since the last read, in arrival order.

    Starts empty: whatever earlier tests left in ProbeQueue is discarded first."""
    _drain(stack, "ProbeQueue")

    def read(kind: str) -> list[Any]:
        return [m["Json"]["payload"] for m in _drain(stack, "ProbeQueue") if m["Json"]["kind"] == kind]

    return read
