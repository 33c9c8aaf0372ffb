"""Field agents' resources in the running local stack: the Cognito pool of the template (sign-in,
tokens, JWKS), one bucket notifying two functions by prefix, and the admin command's target."""

from __future__ import annotations

import base64
import json
import textwrap
import urllib.request
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.12
    Timeout: 10
    CodeUri: functions/probe/
    Handler: app.handler
    Environment:
      Variables:
        PROBE_QUEUE_URL: !Ref Probe
Resources:
  DataBucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Sub "${AWS::StackName}-data-${AWS::AccountId}"
  Probe:
    Type: AWS::SQS::Queue
  IngestFunction:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        PortfolioUploaded:
          Type: S3
          Properties:
            Bucket: !Ref DataBucket
            Events: s3:ObjectCreated:*
            Filter: {S3Key: {Rules: [{Name: prefix, Value: portfolios/}]}}
  PhotoFunction:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        PhotoUploaded:
          Type: S3
          Properties:
            Bucket: !Ref DataBucket
            Events: s3:ObjectCreated:*
            Filter: {S3Key: {Rules: [{Name: prefix, Value: visits/}]}}
  ApiFunction:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables:
          AGENT_POOL_ID: !Ref AgentPool
          AGENT_POOL_CLIENT_ID: !Ref AgentPoolClient
  AgentPool:
    Type: AWS::Cognito::UserPool
    Properties:
      UsernameAttributes: [email]
      AdminCreateUserConfig: {AllowAdminCreateUserOnly: true}
      AccountRecoverySetting:
        RecoveryMechanisms: [{Name: admin_only, Priority: 1}]
      Policies:
        PasswordPolicy: {MinimumLength: 10, RequireLowercase: true, RequireUppercase: true,
                         RequireNumbers: true, RequireSymbols: false}
      Schema:
        - Name: tenant_id
          AttributeDataType: String
          Mutable: false
          StringAttributeConstraints: {MinLength: "2", MaxLength: "63"}
      UserPoolTags: {app: cobranza}
  AgentPoolClient:
    Type: AWS::Cognito::UserPoolClient
    Properties:
      UserPoolId: !Ref AgentPool
      ClientName: mobile
      GenerateSecret: false
      ExplicitAuthFlows: [ALLOW_USER_PASSWORD_AUTH, ALLOW_USER_SRP_AUTH, ALLOW_REFRESH_TOKEN_AUTH]
      PreventUserExistenceErrors: ENABLED
      EnableTokenRevocation: true
      IdTokenValidity: 60
      AccessTokenValidity: 60
      RefreshTokenValidity: 30
      TokenValidityUnits: {IdToken: minutes, AccessToken: minutes, RefreshToken: days}
      ReadAttributes: [email, custom:tenant_id]
      WriteAttributes: [email]
  AgentsGroup:
    Type: AWS::Cognito::UserPoolGroup
    Properties: {GroupName: agents, Description: Field agents., UserPoolId: !Ref AgentPool}
  SupervisorsGroup:
    Type: AWS::Cognito::UserPoolGroup
    Properties: {GroupName: supervisors, UserPoolId: !Ref AgentPool}
"""

PROBE_HANDLER = """
    import json
    import os
    from urllib.parse import unquote_plus

    import boto3

    sqs = boto3.client("sqs")


    def handler(event, context):
        if "Records" not in event:
            return {k: v for k, v in os.environ.items() if k.startswith("AGENT_POOL")}
        record = event["Records"][0]
        key = unquote_plus(record["s3"]["object"]["key"])
        body = json.dumps({"function": context.function_name, "key": key, "event": record["eventName"],
                           "object": record["s3"]["object"]})
        sqs.send_message(QueueUrl=os.environ["PROBE_QUEUE_URL"], MessageBody=body)
"""

EMAIL, PASSWORD = "ana.agent@example.com", "Correct1horse"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    from infra.local.stack import LocalStack

    root: Path = tmp_path_factory.mktemp("agents_app")
    (root / "template.yaml").write_text(TEMPLATE, encoding="utf-8")
    handler = root / "functions" / "probe" / "app.py"
    handler.parent.mkdir(parents=True)
    handler.write_text(textwrap.dedent(PROBE_HANDLER).lstrip(), encoding="utf-8")
    with LocalStack(root, aws_port=0, api_port=0) as running:
        yield running


@pytest.fixture(scope="module")
def agent(stack):
    """An agent of tenant t-001 in the agents group, as the admin command creates one."""
    idp, pool = stack.client("cognito-idp"), stack.names["AgentPool"]
    idp.admin_create_user(UserPoolId=pool, Username=EMAIL, MessageAction="SUPPRESS", UserAttributes=[
        {"Name": "email", "Value": EMAIL}, {"Name": "email_verified", "Value": "true"},
        {"Name": "custom:tenant_id", "Value": "t-001"},
    ])
    idp.admin_set_user_password(UserPoolId=pool, Username=EMAIL, Password=PASSWORD, Permanent=True)
    idp.admin_add_user_to_group(UserPoolId=pool, Username=EMAIL, GroupName="agents")
    return EMAIL


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_an_object_reaches_only_the_function_whose_prefix_it_has(stack):
    s3 = stack.client("s3")
    s3.put_object(Bucket=stack.bucket, Key="visits/t-001/v-1/photo 1.jpg", Body=b"\xff\xd8\xff")
    s3.put_object(Bucket=stack.bucket, Key="portfolios/t-001/march.csv", Body=b"account,balance\n")
    s3.put_object(Bucket=stack.bucket, Key="exports/t-001/ignored.csv", Body=b"x")

    stack.wait_idle(timeout=30)

    sqs, url, seen = stack.client("sqs"), stack.names["Probe"], []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            seen.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert sorted((m["function"], m["key"]) for m in seen) == [
        ("cobranza-IngestFunction", "portfolios/t-001/march.csv"),
        ("cobranza-PhotoFunction", "visits/t-001/v-1/photo 1.jpg"),
    ]
    for message in seen:  # the bucket is not versioned: no versionId, as in AWS
        assert message["event"] == "ObjectCreated:Put"
        assert list(message["object"]) == ["key", "size", "eTag", "sequencer"]


def test_the_pool_client_and_groups_are_created_as_declared(stack):
    idp, pool_id = stack.client("cognito-idp"), stack.names["AgentPool"]
    pool = idp.describe_user_pool(UserPoolId=pool_id)["UserPool"]
    assert pool["UsernameAttributes"] == ["email"]
    assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] == 10
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    (tenant,) = [a for a in pool["SchemaAttributes"] if a["Name"] == "custom:tenant_id"]
    assert tenant["Mutable"] is False and tenant["StringAttributeConstraints"] == {"MinLength": "2", "MaxLength": "63"}
    assert pool["UserPoolTags"] == {"app": "cobranza"}
    client = idp.describe_user_pool_client(UserPoolId=pool_id, ClientId=stack.names["AgentPoolClient"])["UserPoolClient"]
    assert client["ClientName"] == "mobile" and "ClientSecret" not in client
    assert client["ExplicitAuthFlows"] == ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    assert client["TokenValidityUnits"] == {"IdToken": "minutes", "AccessToken": "minutes", "RefreshToken": "days"}
    assert sorted(g["GroupName"] for g in idp.list_groups(UserPoolId=pool_id)["Groups"]) == ["agents", "supervisors"]
    assert stack.invoke("ApiFunction", {}) == {
        "AGENT_POOL_ID": pool_id, "AGENT_POOL_CLIENT_ID": stack.names["AgentPoolClient"],
    }


def test_an_agent_signs_in_and_gets_an_id_token_with_tenant_and_groups_signed_by_the_pools_jwks(stack, agent):
    pool_id, client_id = stack.names["AgentPool"], stack.names["AgentPoolClient"]
    result = stack.client("cognito-idp").initiate_auth(
        ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": agent, "PASSWORD": PASSWORD},
    )["AuthenticationResult"]

    header, payload, signature = result["IdToken"].split(".")
    claims = json.loads(_b64(payload))
    assert claims["token_use"] == "id" and claims["aud"] == client_id
    assert claims["iss"].endswith(f"/{pool_id}")
    assert claims["email"] == agent
    assert claims["custom:tenant_id"] == "t-001"
    assert claims["cognito:groups"] == ["agents"]

    with urllib.request.urlopen(f"{stack.aws_endpoint}/{pool_id}/.well-known/jwks.json", timeout=10) as response:
        keys = {key["kid"]: key for key in json.load(response)["keys"]}
    jwk = keys[json.loads(_b64(header))["kid"]]
    public_key = rsa.RSAPublicNumbers(int.from_bytes(_b64(jwk["e"]), "big"),
                                      int.from_bytes(_b64(jwk["n"]), "big")).public_key()
    public_key.verify(_b64(signature), f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())


def test_a_wrong_password_is_refused(stack, agent):
    idp = stack.client("cognito-idp")
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        idp.initiate_auth(ClientId=stack.names["AgentPoolClient"], AuthFlow="USER_PASSWORD_AUTH",
                          AuthParameters={"USERNAME": agent, "PASSWORD": "Wrong1password"})


@pytest.fixture
def admin_env(monkeypatch):
    """`_local` points the process's AWS settings at the stack; restore them afterwards."""
    for key, value in (("AWS_ENDPOINT_URL", "http://127.0.0.1:1"), ("AWS_ACCESS_KEY_ID", "testing"),
                       ("AWS_SECRET_ACCESS_KEY", "testing"), ("AWS_DEFAULT_REGION", "us-east-1")):
        monkeypatch.setenv(key, value)
    return monkeypatch


def test_the_admin_target_finds_the_pool_moto_created_when_no_state_file_names_it(stack, admin_env):
    from infra.admin import target
    from infra.local import state

    admin_env.setattr(state, "read_state", lambda root: (_ for _ in ()).throw(state.NoRunningStack("none")))
    resolved = target._local(stack.aws_endpoint)

    assert resolved.resources["AgentPool"] == stack.names["AgentPool"]
    assert resolved.resources["AgentPoolClient"] == stack.names["AgentPoolClient"]
    assert resolved.settings().agent_pool_id == stack.names["AgentPool"]


def test_the_admin_target_takes_the_ids_from_the_running_stacks_state_file(stack, admin_env):
    from infra.admin import target
    from infra.local import state

    published = {"aws_endpoint": stack.aws_endpoint + "/", "resources": {"AgentPool": "us-east-1_fromstate"}}
    admin_env.setattr(state, "read_state", lambda root: published)
    resolved = target._local(stack.aws_endpoint)

    assert resolved.resources["AgentPool"] == "us-east-1_fromstate"
    assert resolved.resources["AccountsTable"] == "cobranza-AccountsTable"  # the rest from the template
