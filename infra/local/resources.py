"""Create the template's resources in moto, from the template itself (never re-declared by hand).

Works against the moto server (clients with an `endpoint_url`) and inside moto's in-process
`mock_aws()` (plain clients), so integration tests and the local stack share one definition.

Each supported resource type has a small creator registered with `@creates(...)`; resources are
created in dependency order (a dead-letter queue before the queue whose RedrivePolicy names it, a
user pool before its clients), and identifiers AWS assigns at creation (Cognito ids, stream ARNs)
are recorded with `LocalTemplate.bind` so later `!Ref`s and `!GetAtt`s resolve to them. CloudFormation properties are passed
through to the API after renaming the few that differ and dropping what the API does not take
(checked against botocore's model); IAM and resource policies are not emulated.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import boto3

from infra.local.template import LocalTemplate, Resource, TemplateError

log = logging.getLogger("infra.local")

ClientFactory = Callable[[str], Any]
Creator = Callable[["_Context", Resource], None]

CREATORS: dict[str, Creator] = {}


def creates(*resource_types: str) -> Callable[[Creator], Creator]:
    """Register a creator for CloudFormation resource types (the extension point)."""

    def register(creator: Creator) -> Creator:
        for resource_type in resource_types:
            CREATORS[resource_type] = creator
        return creator

    return register


class _Context:
    def __init__(self, template: LocalTemplate, clients: ClientFactory) -> None:
        self.template = template
        self.client = clients

    def properties(self, resource: Resource) -> dict:
        return self.template.resolve(resource.properties) or {}


def create_resources(
    template: LocalTemplate,
    session_or_clients: boto3.Session | ClientFactory | Mapping[str, Any] | None = None,
    *,
    endpoint_url: str | None = None,
    ses_identity_parameters: Iterable[str] = ("SenderEmail",),
) -> dict[str, str]:
    """Create every supported resource of `template`; returns `{logical_id: !Ref value}`.

    `session_or_clients`: a boto3 Session (clients get `endpoint_url`, None inside mock_aws), a
    callable `service -> client`, or a mapping of service name to client. Also verifies the SES
    identities named by `ses_identity_parameters` (moto only sends from verified senders).
    """
    ctx = _Context(template, client_factory(session_or_clients, endpoint_url=endpoint_url, region=template.region))
    created: dict[str, str] = {}
    for logical_id in creation_order(template):
        resource = template.resources[logical_id]
        log.debug("creating %s %s", resource.type, logical_id)
        CREATORS[resource.type](ctx, resource)
        created[logical_id] = template.physical_name(logical_id)
    for parameter in ses_identity_parameters:
        identity = template.parameters.get(parameter)
        if identity:
            _verify_ses_identity(ctx, str(identity))
    return created


def client_factory(
    target: boto3.Session | ClientFactory | Mapping[str, Any] | None,
    *,
    endpoint_url: str | None = None,
    region: str = "us-east-1",
) -> ClientFactory:
    """Normalise the accepted client sources into a cached `service -> client` callable."""
    if isinstance(target, Mapping):
        return lambda service: target[service]
    if callable(target) and not isinstance(target, boto3.Session):
        return target
    session = target or boto3.Session(region_name=region)
    cache: dict[str, Any] = {}

    def make(service: str) -> Any:
        if service not in cache:
            cache[service] = session.client(
                service, endpoint_url=endpoint_url, region_name=session.region_name or region
            )
        return cache[service]

    return make


def creation_order(template: LocalTemplate) -> list[str]:
    """Creatable resources, dependencies first, otherwise in declaration order."""
    creatable = [lid for lid, r in template.resources.items() if r.type in CREATORS]
    wanted = set(creatable)
    deps = {lid: _references(template.resources[lid].properties) & wanted - {lid} for lid in creatable}
    ordered: list[str] = []
    visiting: set[str] = set()

    def visit(lid: str) -> None:
        if lid in ordered:
            return
        if lid in visiting:
            raise TemplateError(f"circular reference involving {lid}")
        visiting.add(lid)
        for dep in sorted(deps[lid], key=creatable.index):
            visit(dep)
        visiting.discard(lid)
        ordered.append(lid)

    for lid in creatable:
        visit(lid)
    return ordered


def _references(value: Any) -> set[str]:
    """Logical ids a template fragment refers to (Ref, GetAtt, Sub variables)."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= _references(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                found.add(item)
            elif key == "Fn::GetAtt":
                found.add(item[0] if isinstance(item, list) else str(item).split(".", 1)[0])
            elif key == "Fn::Sub":
                text = item[0] if isinstance(item, list) else item
                for expression in LocalTemplate._SUB_VARIABLE.findall(str(text)):
                    found.add(expression.split(".", 1)[0])
                if isinstance(item, list) and len(item) > 1:
                    found |= _references(item[1])
            else:
                found |= _references(item)
    return found


def fit_to_shape(client: Any, operation: str, params: Mapping[str, Any]) -> dict:
    """Keep only what `operation` accepts (recursively), coercing CloudFormation's string scalars."""
    shape = client.meta.service_model.operation_model(operation).input_shape
    fitted = _fit(dict(params), shape)
    dropped = sorted(set(params) - set(fitted))
    if dropped:
        log.debug("%s: not emulated locally: %s", operation, ", ".join(dropped))
    return fitted


def _fit(value: Any, shape: Any) -> Any:
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {k: _fit(v, shape.members[k]) for k, v in value.items() if k in shape.members}
    if kind == "list" and isinstance(value, list):
        return [_fit(item, shape.member) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {k: _fit(v, shape.value) for k, v in value.items()}
    if kind == "boolean" and isinstance(value, str):
        return value.lower() == "true"
    if kind in ("integer", "long") and isinstance(value, str):
        return int(value)
    if kind == "string" and isinstance(value, (int, float, bool)):
        return str(value).lower() if isinstance(value, bool) else str(value)
    return value


def _renamed(props: Mapping[str, Any], names: Mapping[str, str]) -> dict:
    return {names.get(key, key): value for key, value in props.items()}


def _tag_list(tags: Any) -> list[dict]:
    """CloudFormation tags come as a list of Key/Value or (SSM, Cognito) a plain map."""
    if isinstance(tags, dict):
        return [{"Key": k, "Value": str(v)} for k, v in tags.items()]
    return list(tags or [])


# --------------------------------------------------------------------------- DynamoDB


@creates("AWS::DynamoDB::Table")
def _create_table(ctx: _Context, resource: Resource) -> None:
    props = ctx.properties(resource)
    client = ctx.client("dynamodb")
    name = ctx.template.base_name(resource.logical_id)
    params = dict(props, TableName=name)
    if "SSESpecification" in params:
        params["SSESpecification"] = _renamed(params["SSESpecification"], {"SSEEnabled": "Enabled"})
    if "StreamSpecification" in params:
        params["StreamSpecification"] = dict(params["StreamSpecification"], StreamEnabled=True)
    if "BillingMode" not in params and "ProvisionedThroughput" not in params:
        params["BillingMode"] = "PAY_PER_REQUEST"
    table = client.create_table(**fit_to_shape(client, "CreateTable", params))["TableDescription"]
    if table.get("LatestStreamArn"):  # its label is the creation time: known only now
        ctx.template.bind(resource.logical_id, StreamArn=table["LatestStreamArn"])
    ttl = props.get("TimeToLiveSpecification")
    if ttl and _truthy(ttl.get("Enabled")):
        client.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True}
        )
    pitr = props.get("PointInTimeRecoverySpecification") or {}
    if _truthy(pitr.get("PointInTimeRecoveryEnabled")):
        client.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


# --------------------------------------------------------------------------- S3


@creates("AWS::S3::Bucket")
def _create_bucket(ctx: _Context, resource: Resource) -> None:
    props = ctx.properties(resource)
    s3 = ctx.client("s3")
    name = ctx.template.base_name(resource.logical_id)
    if ctx.template.region == "us-east-1":
        s3.create_bucket(Bucket=name)
    else:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": ctx.template.region})
    if "VersioningConfiguration" in props:
        status = props["VersioningConfiguration"]["Status"]
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": status})
    if "BucketEncryption" in props:
        rules = [
            _renamed(rule, {"ServerSideEncryptionByDefault": "ApplyServerSideEncryptionByDefault"})
            for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        ]
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
    if "PublicAccessBlockConfiguration" in props:
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"])
    if "OwnershipControls" in props:
        s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=props["OwnershipControls"])
    if "CorsConfiguration" in props:
        rules = [
            _renamed(rule, {"ExposedHeaders": "ExposeHeaders", "MaxAge": "MaxAgeSeconds"})
            for rule in props["CorsConfiguration"]["CorsRules"]
        ]
        s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": rules})
    if "LifecycleConfiguration" in props:
        rules = [_lifecycle_rule(rule) for rule in props["LifecycleConfiguration"]["Rules"]]
        s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": rules})
    if "Tags" in props:
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": _tag_list(props["Tags"])})
    notifications = declared_notifications(props.get("NotificationConfiguration") or {})
    if notifications:
        s3.put_bucket_notification_configuration(Bucket=name, NotificationConfiguration=notifications)


def _lifecycle_rule(rule: Mapping[str, Any]) -> dict:
    """A CloudFormation lifecycle rule in the S3 API's shape (the two differ in most field names)."""
    out: dict[str, Any] = {"Status": rule["Status"], "Filter": {"Prefix": rule.get("Prefix", "")}}
    if "Id" in rule:
        out["ID"] = rule["Id"]
    expiration = {
        api: rule[cfn]
        for cfn, api in (("ExpirationInDays", "Days"), ("ExpirationDate", "Date"),
                         ("ExpiredObjectDeleteMarker", "ExpiredObjectDeleteMarker"))
        if cfn in rule
    }
    if expiration:
        out["Expiration"] = expiration
    if "NoncurrentVersionExpiration" in rule:
        out["NoncurrentVersionExpiration"] = rule["NoncurrentVersionExpiration"]
    elif "NoncurrentVersionExpirationInDays" in rule:
        out["NoncurrentVersionExpiration"] = {"NoncurrentDays": rule["NoncurrentVersionExpirationInDays"]}
    if "AbortIncompleteMultipartUpload" in rule:
        out["AbortIncompleteMultipartUpload"] = rule["AbortIncompleteMultipartUpload"]
    if "Transitions" in rule:
        out["Transitions"] = [
            _renamed(t, {"TransitionInDays": "Days", "TransitionDate": "Date"}) for t in rule["Transitions"]
        ]
    if "NoncurrentVersionTransitions" in rule:
        out["NoncurrentVersionTransitions"] = [
            _renamed(t, {"TransitionInDays": "NoncurrentDays"}) for t in rule["NoncurrentVersionTransitions"]
        ]
    return out


def declared_notifications(config: Mapping[str, Any]) -> dict:
    """The bucket's own `NotificationConfiguration` (queues and topics) in the S3 API's shape."""
    out: dict[str, list] = {}
    for cfn_key, api_key, target_key, api_target in (
        ("QueueConfigurations", "QueueConfigurations", "Queue", "QueueArn"),
        ("TopicConfigurations", "TopicConfigurations", "Topic", "TopicArn"),
    ):
        for item in config.get(cfn_key) or []:
            entry = {api_target: item[target_key], "Events": [item["Event"]]}
            rules = ((item.get("Filter") or {}).get("S3Key") or {}).get("Rules")
            if rules:
                entry["Filter"] = {"Key": {"FilterRules": rules}}
            out.setdefault(api_key, []).append(entry)
    return out


# --------------------------------------------------------------------------- SQS & SNS


@creates("AWS::SQS::Queue")
def _create_queue(ctx: _Context, resource: Resource) -> None:
    props = ctx.properties(resource)
    attributes = {}
    for key, value in props.items():
        if key in ("QueueName", "Tags"):
            continue
        if isinstance(value, (dict, list)):
            value = json.dumps(value)
        elif isinstance(value, bool):
            value = "true" if value else "false"
        attributes[key] = str(value)
    params: dict[str, Any] = {"QueueName": ctx.template.base_name(resource.logical_id), "Attributes": attributes}
    if props.get("Tags"):
        params["tags"] = {tag["Key"]: tag["Value"] for tag in _tag_list(props["Tags"])}
    ctx.client("sqs").create_queue(**params)


@creates("AWS::SNS::Topic")
def _create_topic(ctx: _Context, resource: Resource) -> None:
    props = ctx.properties(resource)
    attributes = {
        key: ("true" if value is True else "false" if value is False else str(value))
        for key, value in props.items()
        if key in ("DisplayName", "KmsMasterKeyId", "FifoTopic", "ContentBasedDeduplication", "SignatureVersion")
    }
    params: dict[str, Any] = {"Name": ctx.template.base_name(resource.logical_id), "Attributes": attributes}
    if props.get("Tags"):
        params["Tags"] = _tag_list(props["Tags"])
    ctx.client("sns").create_topic(**params)


@creates("AWS::SNS::Subscription")
def _create_subscription(ctx: _Context, resource: Resource) -> None:
    props = ctx.properties(resource)
    ctx.client("sns").subscribe(
        TopicArn=props["TopicArn"], Protocol=props["Protocol"], Endpoint=str(props.get("Endpoint", ""))
    )


# --------------------------------------------------------------------------- Cognito


@creates("AWS::Cognito::UserPool")
def _create_user_pool(ctx: _Context, resource: Resource) -> None:
    client = ctx.client("cognito-idp")
    props = _renamed(ctx.properties(resource), {"UserPoolName": "PoolName"})
    props["PoolName"] = ctx.template.base_name(resource.logical_id)
    pool = client.create_user_pool(**fit_to_shape(client, "CreateUserPool", props))["UserPool"]
    ctx.template.bind(resource.logical_id, ref=pool["Id"], Arn=pool["Arn"])


@creates("AWS::Cognito::UserPoolClient")
def _create_user_pool_client(ctx: _Context, resource: Resource) -> None:
    client = ctx.client("cognito-idp")
    props = ctx.properties(resource)
    props.setdefault("ClientName", ctx.template.base_name(resource.logical_id))
    created = client.create_user_pool_client(**fit_to_shape(client, "CreateUserPoolClient", props))["UserPoolClient"]
    extra = {"ClientSecret": created["ClientSecret"]} if created.get("ClientSecret") else {}
    ctx.template.bind(resource.logical_id, ref=created["ClientId"], **extra)


@creates("AWS::Cognito::UserPoolGroup")
def _create_user_pool_group(ctx: _Context, resource: Resource) -> None:
    client = ctx.client("cognito-idp")
    props = ctx.properties(resource)
    props["GroupName"] = ctx.template.base_name(resource.logical_id)
    client.create_group(**fit_to_shape(client, "CreateGroup", props))


# --------------------------------------------------------------------------- EventBridge Pipes


@creates("AWS::Pipes::Pipe")
def _create_pipe(ctx: _Context, resource: Resource) -> None:
    """Recorded in moto (ListPipes, DescribePipe); `infra.local.pipes` moves the records."""
    client = ctx.client("pipes")
    props = dict(ctx.properties(resource), Name=ctx.template.base_name(resource.logical_id))
    if isinstance(props.get("Tags"), list):
        props["Tags"] = {tag["Key"]: str(tag["Value"]) for tag in props["Tags"]}
    client.create_pipe(**fit_to_shape(client, "CreatePipe", props))


# --------------------------------------------------------------------------- SSM & SES


@creates("AWS::SSM::Parameter")
def _create_parameter(ctx: _Context, resource: Resource) -> None:
    client = ctx.client("ssm")
    props = ctx.properties(resource)
    props["Name"] = ctx.template.base_name(resource.logical_id)
    props["Value"] = str(props.get("Value", ""))
    if "Tags" in props:
        props["Tags"] = _tag_list(props["Tags"])
    client.put_parameter(**fit_to_shape(client, "PutParameter", props))


@creates("AWS::SecretsManager::Secret")
def _create_secret(ctx: _Context, resource: Resource) -> None:
    """A secret with its given SecretString, or a random one shaped by GenerateSecretString."""
    props = ctx.properties(resource)
    value = props.get("SecretString")
    if value is None:
        spec = props.get("GenerateSecretString") or {}
        value = secrets.token_urlsafe(int(spec.get("PasswordLength", 32)))[: int(spec.get("PasswordLength", 32))]
        if spec.get("SecretStringTemplate") and spec.get("GenerateStringKey"):
            value = json.dumps({**json.loads(spec["SecretStringTemplate"]), spec["GenerateStringKey"]: value})
    params: dict[str, Any] = {"Name": ctx.template.base_name(resource.logical_id), "SecretString": str(value)}
    if props.get("Description"):
        params["Description"] = str(props["Description"])
    ctx.client("secretsmanager").create_secret(**params)


@creates("AWS::SES::EmailIdentity")
def _create_email_identity(ctx: _Context, resource: Resource) -> None:
    _verify_ses_identity(ctx, str(ctx.properties(resource)["EmailIdentity"]))


def _verify_ses_identity(ctx: _Context, identity: str) -> None:
    ses = ctx.client("ses")
    if "@" in identity:
        ses.verify_email_identity(EmailAddress=identity)
    else:
        ses.verify_domain_identity(Domain=identity)


def bind_existing_ids(template: LocalTemplate, session_or_clients: Any = None, *, endpoint_url: str | None = None) -> None:
    """Bind the ids AWS assigned when a running stack created its Cognito pools and clients,
    found by name (for commands that reach a stack they did not start, without its state file)."""
    clients = client_factory(session_or_clients, endpoint_url=endpoint_url, region=template.region)
    pools = template.of_type("AWS::Cognito::UserPool")
    if not pools:
        return
    idp = clients("cognito-idp")
    existing = {pool["Name"]: pool["Id"] for pool in idp.list_user_pools(MaxResults=60)["UserPools"]}
    for logical_id in pools:
        if template.base_name(logical_id) in existing:
            template.bind(logical_id, ref=existing[template.base_name(logical_id)])
    for logical_id, resource in template.of_type("AWS::Cognito::UserPoolClient").items():
        props = template.resolve(resource.properties)
        if props["UserPoolId"] not in existing.values():
            continue
        name = props.get("ClientName", template.base_name(logical_id))
        listed = idp.list_user_pool_clients(UserPoolId=props["UserPoolId"], MaxResults=60)["UserPoolClients"]
        client_id = next((c["ClientId"] for c in listed if c["ClientName"] == name), None)
        if client_id:
            template.bind(logical_id, ref=client_id)
