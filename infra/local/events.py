"""The exact event shapes AWS services hand to Lambda, built from local inputs.

Handlers are tested against these shapes, so they follow what AWS sends (and what
`sam local generate-event` prints), key order included, not what is convenient locally.
Everything here is pure: time, ids and counters are arguments or generated fresh.
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus, unquote, unquote_plus

# Placeholders for identities AWS fills with the caller's; stable so tests can compare them.
S3_PRINCIPAL_ID = "AWS:AIDACKCEVSQ6C2EXAMPLE"
S3_OWNER_ID = "A3NL1KOZZKEXAMPLE"


def iso_seconds(moment: datetime) -> str:
    """`YYYY-MM-DDTHH:MM:SSZ` in UTC, the format of EventBridge's `time` (naive means UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_millis(moment: datetime) -> str:
    """`YYYY-MM-DDTHH:MM:SS.mmmZ` in UTC, the format of S3's `eventTime` and Lambda destinations."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# --------------------------------------------------------------------------- EventBridge


def scheduled_event(rule_arn: str, moment: datetime, *, account_id: str, region: str) -> dict:
    """The "Scheduled Event" EventBridge sends to a schedule rule's Lambda target."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account_id,
        "time": iso_seconds(moment),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }


# --------------------------------------------------------------------------- S3


class Sequencer:
    """S3 `sequencer` values: upper-case hex, at least 16 digits, increasing with every event.

    Time-based so values keep increasing across stack restarts, as they do in AWS for one key.
    """

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def next(self) -> str:
        with self._lock:
            self._last = max(self._last + 1, time.time_ns())
            return f"{self._last:018X}"


def s3_event_key(key: str) -> str:
    """An object key encoded the way S3 notifications carry it: `quote_plus`, slashes kept.

    ("in/a b+c.csv" -> "in/a+b%2Bc.csv".) moto also encodes the slashes (%2F); AWS does not, and a
    handler that checks a prefix before decoding would behave differently, so we follow AWS.
    """
    return quote_plus(key, safe="/")


def s3_record(moto_record: Mapping[str, Any]) -> dict:
    """Rebuild a record of moto's S3 notification into the full shape AWS delivers.

    moto leaves out the identity, request and owner fields; the local stack's hook into moto
    (`infra.local.moto_server`) adds the object's `versionId` (versioned buckets only) and its
    `sequencer` when the event happens. The key stays URL-encoded, as AWS sends it: handlers must
    `unquote_plus` it.
    """
    s3 = moto_record["s3"]
    bucket = s3["bucket"]
    obj = s3["object"]
    rebuilt_object: dict[str, Any] = {
        "key": s3_event_key(unquote_plus(obj["key"])),
        "size": obj.get("size", 0),
        "eTag": obj.get("eTag", ""),
    }
    version_id = obj.get("versionId")
    if version_id and version_id != "null":
        rebuilt_object["versionId"] = version_id
    if obj.get("sequencer"):
        rebuilt_object["sequencer"] = obj["sequencer"]
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": moto_record.get("awsRegion", "us-east-1"),
        "eventTime": moto_record.get("eventTime") or iso_millis(datetime.now(UTC)),
        "eventName": moto_record["eventName"],
        "userIdentity": {"principalId": S3_PRINCIPAL_ID},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {
            "x-amz-request-id": secrets.token_hex(8).upper(),
            "x-amz-id-2": base64.b64encode(secrets.token_bytes(56)).decode(),
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": s3.get("configurationId", ""),
            "bucket": {
                "name": bucket["name"],
                "ownerIdentity": {"principalId": S3_OWNER_ID},
                "arn": bucket.get("arn") or f"arn:aws:s3:::{bucket['name']}",
            },
            "object": rebuilt_object,
        },
    }


# --------------------------------------------------------------------------- SQS

_LAMBDA_SQS_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
    "AWSTraceHeader",
    "DeadLetterQueueSourceArn",
)


def sqs_record(message: Mapping[str, Any], *, queue_arn: str, region: str) -> dict:
    """One `Records` item of the Lambda SQS event, from a `ReceiveMessage` result message."""
    attributes = message.get("Attributes") or {}
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": {name: attributes[name] for name in _LAMBDA_SQS_ATTRIBUTES if name in attributes},
        "messageAttributes": {
            name: _lambda_message_attribute(value) for name, value in (message.get("MessageAttributes") or {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def _lambda_message_attribute(value: Mapping[str, Any]) -> dict:
    """SQS API attribute (`StringValue`, ...) to Lambda's camelCase shape."""
    out: dict[str, Any] = {}
    if "StringValue" in value:
        out["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        raw = value["BinaryValue"]
        out["binaryValue"] = base64.b64encode(raw).decode() if isinstance(raw, bytes) else raw
    out["stringListValues"] = list(value.get("StringListValues") or [])
    out["binaryListValues"] = [
        base64.b64encode(item).decode() if isinstance(item, bytes) else item
        for item in value.get("BinaryListValues") or []
    ]
    out["dataType"] = value.get("DataType", "String")
    return out


def failed_item_ids(response: Any, message_ids: Iterable[str]) -> set[str] | None:
    """Message ids to keep from a `ReportBatchItemFailures` response; None = treat all as failed.

    Like Lambda: a missing/empty/null `batchItemFailures` means full success, and an entry with
    a missing, empty or unknown `itemIdentifier` fails the whole batch.
    """
    ids = set(message_ids)
    if not isinstance(response, dict) or not response.get("batchItemFailures"):
        return set()
    failures = response["batchItemFailures"]
    if not isinstance(failures, list):
        return None
    kept = set()
    for item in failures:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not identifier or identifier not in ids:
            return None
        kept.add(identifier)
    return kept


# --------------------------------------------------------------------------- DynamoDB streams


def dynamodb_stream_record(record: Mapping[str, Any], *, stream_arn: str, region: str) -> dict:
    """A `GetRecords` record (as boto3 returns it) in the shape Pipes and Lambda hand on.

    `ApproximateCreationDateTime` becomes epoch seconds, binary attribute values base64 text, and
    the stream ARN is added as `eventSourceARN` (moto's records also say us-east-1 everywhere).
    """
    ddb = record["dynamodb"]
    created = ddb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        created = int(created.timestamp())
    inner: dict[str, Any] = {"ApproximateCreationDateTime": created, "Keys": _json_attributes(ddb.get("Keys") or {})}
    for image in ("NewImage", "OldImage"):
        if image in ddb:
            inner[image] = _json_attributes(ddb[image])
    inner["SequenceNumber"] = ddb["SequenceNumber"]
    inner["SizeBytes"] = ddb.get("SizeBytes", 0)
    inner["StreamViewType"] = ddb.get("StreamViewType")
    return {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": record.get("eventVersion", "1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": inner,
        "eventSourceARN": stream_arn,
    }


def _json_attributes(value: Any) -> Any:
    """DynamoDB JSON as it travels in events: botocore's decoded `B`/`BS` bytes back to base64."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, Mapping):
        return {key: _json_attributes(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_attributes(item) for item in value]
    return value


# --------------------------------------------------------------------------- Lambda destinations


def destination_record(
    *,
    function_arn: str,
    request_id: str,
    request_payload: Any,
    response_payload: Any,
    condition: str,
    approximate_invoke_count: int,
    function_error: str | None,
    moment: datetime | None = None,
) -> dict:
    """What Lambda sends to an `OnFailure`/`OnSuccess` destination after an async invocation."""
    response_context: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
    if function_error:
        response_context["functionError"] = function_error
    return {
        "version": "1.0",
        "timestamp": iso_millis(moment or datetime.now(UTC)),
        "requestContext": {
            "requestId": request_id,
            "functionArn": f"{function_arn}:$LATEST",
            "condition": condition,
            "approximateInvokeCount": approximate_invoke_count,
        },
        "requestPayload": request_payload,
        "responseContext": response_context,
        "responsePayload": response_payload,
    }


# --------------------------------------------------------------------------- API Gateway (REST, v1)


def api_gateway_event(
    *,
    method: str,
    path: str,
    resource: str,
    path_parameters: Mapping[str, str],
    query: Iterable[tuple[str, str]],
    headers: Iterable[tuple[str, str]],
    body: bytes,
    binary: bool,
    source_ip: str,
    stage: str,
    api_id: str,
    account_id: str,
    moment: datetime | None = None,
) -> dict:
    """The REST API (payload v1) Lambda proxy event for one request.

    `path` is the decoded request path without the stage; `requestContext.path` carries the stage,
    as with the execute-api domain. Single-value maps keep the last value, as API Gateway does.
    """
    moment = moment or datetime.now(UTC)
    single_headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in headers:
        single_headers[name] = value
        multi_headers.setdefault(name, []).append(value)
    single_query: dict[str, str] = {}
    multi_query: dict[str, list[str]] = {}
    for name, value in query:
        single_query[name] = value
        multi_query.setdefault(name, []).append(value)
    host = single_headers.get("Host") or next(
        (v for k, v in single_headers.items() if k.lower() == "host"), f"{api_id}.execute-api.local"
    )
    user_agent = next((v for k, v in single_headers.items() if k.lower() == "user-agent"), None)
    if body:
        body_text: str | None = base64.b64encode(body).decode() if binary else body.decode("utf-8")
    else:
        body_text = None
    request_id = str(uuid.uuid4())
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": single_headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": single_query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": dict(path_parameters) or None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": secrets.token_hex(3),
            "resourcePath": resource,
            "httpMethod": method,
            "extendedRequestId": base64.b64encode(secrets.token_bytes(12)).decode(),
            "requestTime": moment.astimezone(UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "path": f"/{stage}{path}",
            "accountId": account_id,
            "protocol": "HTTP/1.1",
            "stage": stage,
            "domainPrefix": host.split(".")[0].split(":")[0],
            "requestTimeEpoch": int(moment.timestamp() * 1000),
            "requestId": request_id,
            "identity": {
                "cognitoIdentityPoolId": None,
                "accountId": None,
                "cognitoIdentityId": None,
                "caller": None,
                "sourceIp": source_ip,
                "principalOrgId": None,
                "accessKey": None,
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "userArn": None,
                "userAgent": user_agent,
                "user": None,
            },
            "domainName": host,
            "apiId": api_id,
        },
        "body": body_text,
        "isBase64Encoded": bool(body) and binary,
    }


def split_raw_path(raw_path: str) -> list[str]:
    """Path segments, each percent-decoded after splitting (so `%2F` stays inside its segment)."""
    return [unquote(segment) for segment in raw_path.split("?", 1)[0].strip("/").split("/") if segment]
