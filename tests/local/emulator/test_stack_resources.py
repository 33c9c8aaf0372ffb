"""`create_resources` builds what the template declares, in moto's in-process mock as on the server."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from infra.local.resources import create_resources
from infra.local.template import LocalTemplate

ROOT = Path(__file__).resolve().parents[3]

IDENTITY_TEMPLATE = """
    Transform: AWS::Serverless-2016-10-31
    Resources:
      Pool:
        Type: AWS::Cognito::UserPool
        Properties:
          UserPoolName: !Sub "${AWS::StackName}-agents"
          UsernameAttributes: [email]
          Schema:
            - {Name: tenant_id, AttributeDataType: String, Mutable: true}
      Client:
        Type: AWS::Cognito::UserPoolClient
        Properties:
          UserPoolId: !Ref Pool
          ExplicitAuthFlows: [ALLOW_USER_PASSWORD_AUTH, ALLOW_REFRESH_TOKEN_AUTH]
      Agents:
        Type: AWS::Cognito::UserPoolGroup
        Properties: {GroupName: agents, UserPoolId: !Ref Pool}
      Issuer:
        Type: AWS::SSM::Parameter
        Properties: {Name: /cobranza/issuer, Type: String, Value: !GetAtt Pool.ProviderURL}
      Fn:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: .
          Handler: app.handler
          Environment:
            Variables: {USER_POOL_ID: !Ref Pool, CLIENT_ID: !Ref Client}
"""


@pytest.fixture
def aws(monkeypatch):
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        yield lambda service: boto3.client(service, region_name="us-east-1")


def test_the_templates_tables_bucket_queues_and_sender_exist_with_their_properties(aws):
    template = LocalTemplate(ROOT / "template.yaml")

    created = create_resources(template)

    assert created["EmailQueue"] == template.physical_name("EmailQueue")
    accounts = aws("dynamodb").describe_table(TableName="cobranza-AccountsTable")["Table"]
    assert [k["AttributeName"] for k in accounts["KeySchema"]] == ["tenant_shard", "account_id"]
    assert accounts["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    indexes = {i["IndexName"]: i["Projection"]["ProjectionType"] for i in accounts["GlobalSecondaryIndexes"]}
    assert indexes == {"due-index": "ALL", "status-index": "KEYS_ONLY", "stage-index": "KEYS_ONLY",
                       "segment-index": "KEYS_ONLY", "bucket-index": "KEYS_ONLY"}
    ttl = aws("dynamodb").describe_time_to_live(TableName="cobranza-TimelineTable")["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")
    queue = aws("sqs").get_queue_attributes(QueueUrl=created["EmailQueue"], AttributeNames=["All"])["Attributes"]
    assert (queue["VisibilityTimeout"], queue["MessageRetentionPeriod"]) == ("720", "345600")
    assert json.loads(queue["RedrivePolicy"]) == {
        "deadLetterTargetArn": template.arn("EmailDLQ"), "maxReceiveCount": 10,
    }
    bucket = created["DataBucket"]
    assert aws("s3").get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert aws("s3").get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]["BlockPublicAcls"]
    assert "no-reply@example.com" in aws("ses").list_identities()["Identities"]


def test_cognito_ids_assigned_at_creation_flow_into_references(aws, tmp_path):
    (tmp_path / "template.yaml").write_text(textwrap.dedent(IDENTITY_TEMPLATE), encoding="utf-8")
    template = LocalTemplate(tmp_path / "template.yaml")

    created = create_resources(template)

    pool = aws("cognito-idp").describe_user_pool(UserPoolId=created["Pool"])["UserPool"]
    assert pool["Name"] == "cobranza-agents" and pool["UsernameAttributes"] == ["email"]
    assert "custom:tenant_id" in [a["Name"] for a in pool["SchemaAttributes"]]
    client = aws("cognito-idp").describe_user_pool_client(UserPoolId=created["Pool"], ClientId=created["Client"])
    assert "ALLOW_USER_PASSWORD_AUTH" in client["UserPoolClient"]["ExplicitAuthFlows"]
    assert [g["GroupName"] for g in aws("cognito-idp").list_groups(UserPoolId=created["Pool"])["Groups"]] == ["agents"]
    issuer = aws("ssm").get_parameter(Name="/cobranza/issuer")["Parameter"]["Value"]
    assert issuer == f"https://cognito-idp.us-east-1.amazonaws.com/{created['Pool']}"
    assert template.function_environment("Fn") == {"USER_POOL_ID": created["Pool"], "CLIENT_ID": created["Client"]}
