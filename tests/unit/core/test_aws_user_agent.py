"""core.aws: every client sends one User-Agent, built once (botocore would build it again for every
request), naming the SDK, Python, the Lambda runtime and the platform."""
from __future__ import annotations

import boto3
from botocore.awsrequest import AWSResponse

from cobranza.core import aws
from tests.helpers import RawBody


def _sent_user_agents(client, operation: str, call, body: bytes = b"{}", times: int = 2) -> list[str]:
    sent: list[str] = []

    def answer(request, **_):
        sent.append(request.headers["User-Agent"].decode())
        return AWSResponse(request.url, 200, {}, RawBody(body))

    client.meta.events.register_first(f"before-send.{client.meta.service_model.endpoint_prefix}.{operation}", answer)
    for _ in range(times):
        call()
    return sent


def test_every_client_sends_the_same_user_agent_each_time(own_clients, monkeypatch):
    expected = aws._CONFIG.user_agent  # built once, when core.aws was imported
    # what it was built from may change afterwards (Chalice adds itself to AWS_EXECUTION_ENV for
    # each app it makes): the header does not
    monkeypatch.setenv("AWS_EXECUTION_ENV", "changed-later")
    dynamodb = aws.bulk_client("dynamodb")
    sent = _sent_user_agents(dynamodb, "BatchWriteItem", lambda: dynamodb.batch_write_item(RequestItems={"t": []}))
    plain = aws.client("dynamodb")
    sent += _sent_user_agents(plain, "DescribeTable", lambda: plain.describe_table(TableName="t"))
    sns = aws.send_client("sns")
    sent += _sent_user_agents(sns, "Publish", lambda: sns.publish(TopicArn="arn:aws:sns:us-east-1:1:t", Message="m"),
                              b"<PublishResponse><PublishResult><MessageId>1</MessageId></PublishResult></PublishResponse>")
    assert len(sent) == 6 and len(set(sent)) == 1
    assert sent[0].startswith(expected)  # botocore adds its own name after it
    assert " m/" not in sent[0]  # no per-request list of SDK features
    assert "changed-later" not in sent[0]
    assert expected.startswith(f"Boto3/{boto3.__version__} ") and expected.endswith(" app/cobranza")


def test_the_user_agent_names_the_lambda_runtime(monkeypatch):
    monkeypatch.setenv("AWS_EXECUTION_ENV", "AWS_Lambda_python3.12")
    assert " exec-env/AWS_Lambda_python3.12 " in aws._user_agent()
    monkeypatch.delenv("AWS_EXECUTION_ENV")
    assert "exec-env" not in aws._user_agent()
