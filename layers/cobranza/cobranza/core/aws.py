"""The one AWS client factory.

Every AWS call of the platform goes through clients made here, all from one botocore session,
so a single hook counts every HTTP request sent (benchmarks and tests read ``request_counts``).
PynamoDB is given the same session, so DynamoDB calls made through models are counted too.
Endpoints come from botocore's own ``AWS_ENDPOINT_URL`` support: handlers never know whether
they run against AWS or the local stack.
"""
from __future__ import annotations

import base64
import json
import os
import platform
import re
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import boto3
import botocore.session
import orjson
from botocore.config import Config

request_counts: Counter[str] = Counter()
#: Items DynamoDB read (evaluated, before any filter) per operation: what reads cost.
items_read: Counter[str] = Counter()
_lock = threading.Lock()
_count_lock = threading.Lock()
_session: botocore.session.Session | None = None
_boto3_session: boto3.session.Session | None = None
_clients: dict[str, Any] = {}



def _user_agent() -> str:
    """The User-Agent header of every request: the SDK's name and version, Python's, the Lambda
    runtime's and ours, fixed once. Left to itself, botocore builds its header again for every
    request, twice (to list the SDK features that request used): about 190 us of a
    BatchWriteItem's 950 us of CPU here, 4 % of a new account's ingestion (bench/scale.py)."""
    runtime = os.environ.get("AWS_EXECUTION_ENV")
    return " ".join([f"Boto3/{boto3.__version__}", f"md/Botocore#{botocore.__version__}", "ua/2.1",
                     f"lang/python#{platform.python_version()}", f"md/pyimpl#{platform.python_implementation()}",
                     *([f"exec-env/{runtime}"] if runtime else []), "app/cobranza"])


_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=5,
    read_timeout=30,
    max_pool_connections=32,
    user_agent=_user_agent(),
)


def _count(event_name: str, **_: Any) -> None:
    # event_name is "before-send.<service>.<Operation>"
    _before_send, service, operation = event_name.split(".", 2)
    count_request(f"{service}.{operation}")


def count_request(name: str) -> None:
    """One more request ``<service>.<Operation>`` (the stores send from several threads at once)."""
    with _count_lock:
        request_counts[name] += 1


def _count_items(event_name: str, parsed: Any = None, **_: Any) -> None:
    # event_name is "after-call.dynamodb.<Operation>"
    operation = event_name.rsplit(".", 1)[-1]
    if not isinstance(parsed, dict):
        return
    with _count_lock:
        _add_items_read(operation, parsed)


def _add_items_read(operation: str, parsed: dict[str, Any]) -> None:
    if "ScannedCount" in parsed:
        items_read[operation] += int(parsed["ScannedCount"])
    elif operation == "GetItem":
        items_read[operation] += int("Item" in parsed)
    elif operation == "BatchGetItem":
        items_read[operation] += sum(len(v) for v in (parsed.get("Responses") or {}).values())


def botocore_session() -> botocore.session.Session:
    """The process-wide botocore session, with the request counter registered once."""
    global _session, _boto3_session
    if _session is None:
        with _lock:
            if _session is None:
                session = botocore.session.get_session()
                session.register("before-send.*.*", _count)
                session.register("after-call.dynamodb.*", _count_items)
                _boto3_session = boto3.session.Session(botocore_session=session)
                _session = session
    return _session


def client(service: str) -> Any:
    """A cached boto3 client for ``service`` (thread-safe to use once created)."""
    return _cached(service, service, _CONFIG)


def _cached(key: str, service: str, config: Config, prepare: Callable[[Any], None] | None = None) -> Any:
    """The client cached under ``key``; made once, and ``prepare``d before any thread can get it."""
    found = _clients.get(key)
    if found is None:
        botocore_session()
        with _lock:
            found = _clients.get(key)
            if found is None:
                assert _boto3_session is not None  # nosec B101  # type narrowing: botocore_session() above sets it
                found = _boto3_session.client(service, config=config)
                if prepare is not None:
                    prepare(found)
                _clients[key] = found
    return found


_SEND_CONFIG = _CONFIG.merge(Config(retries={"mode": "standard", "total_max_attempts": 1}, read_timeout=10))


def send_client(service: str) -> Any:
    """A client for sending messages to people (SES, SNS): one attempt, never retried by botocore
    (``total_max_attempts`` 1; ``max_attempts`` would count retries), because a
    retried request whose first try timed out could deliver the message twice. The sender
    retries through SQS when the provider clearly did not take the message."""
    return _cached(f"send:{service}", service, _SEND_CONFIG)


_BULK_CONFIG = _CONFIG.merge(Config(parameter_validation=False))
#: Operations of the bulk DynamoDB client whose parameters the stores hand over already in
#: DynamoDB's wire form (attribute values as ``{"S": ...}``, numbers as strings).
WIRE_OPERATIONS = frozenset({"BatchWriteItem"})
#: Answers of the bulk DynamoDB client that are read as they come (``_WireAnswers``): their items
#: are DynamoDB's wire form, which is what the stores read.
WIRE_ANSWERS = frozenset({"QueryOutput"})
_PLAIN_ANSWER_MEMBERS = frozenset({"Items", "Count", "ScannedCount", "LastEvaluatedKey"})
#: Bodies read by botocore after all: a binary value (base64 to bytes), an escaped "B" or "BS"
#: member name, or a null (botocore drops null members). DynamoDB writes none of the last two.
_NOT_PLAIN_ANSWER = re.compile(rb'"BS?"\s*:|\\u0042|:\s*null')


def bulk_client(service: str) -> Any:
    """A client for requests the stores build by code in bulk (ingestion's BatchWriteItem and
    UpdateItem, every account update, the timeline's new entries, queue batches): botocore's
    client-side parameter validation is skipped, which was 43% of the time of a new account's
    write (bench/scale.py); the service still validates every request. For DynamoDB, the body of
    a WIRE_OPERATIONS request is written as JSON as it is (``_WireBodies``), and a WIRE_ANSWERS
    answer read as JSON (``_WireAnswers``)."""
    return _cached(f"bulk:{service}", service, _BULK_CONFIG, _wire_form if service == "dynamodb" else None)


def _wire_form(client: Any) -> None:
    client._serializer = _WireBodies(client._serializer)
    client._endpoint._response_parser_factory = _WireAnswers(client._endpoint._response_parser_factory)


def _base64(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"{type(value).__name__} is not a DynamoDB wire value")


#: Types orjson would write by itself that are no DynamoDB wire value: handed to ``_base64``,
#: which refuses them, as ``json.dumps`` did. (orjson also writes a UUID, an Enum and a float, which
#: no store puts in a wire form: ``to_wire`` and boto3's serializer refuse them.)
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def _json_body(parameters: Any) -> bytes:
    """The request's JSON: by orjson, 2.5 times as fast as ``json.dumps`` on a batch of accounts
    (non-ASCII characters as UTF-8, where ``json.dumps`` escapes them: the same JSON). What orjson
    refuses (a lone surrogate, nesting over 255 levels, a whole number over 64 bits, a value that
    is not a wire value) goes to ``json.dumps``, as before: written the same, or refused with the
    same TypeError. ``json.dumps`` runs without its circular-reference check, whose bookkeeping
    was 40 % of the dump's time (a store's wire form has no cycles; one would still end in
    RecursionError)."""
    try:
        return orjson.dumps(parameters, default=_base64, option=_ORJSON_OPTIONS)
    except orjson.JSONEncodeError:
        return json.dumps(parameters, default=_base64, check_circular=False).encode("utf-8")


class _WireBodies:
    """botocore's JSON serializer, except for WIRE_OPERATIONS: their parameters are already the
    request's JSON (DynamoDB's attribute values are JSON), so the body is them written as JSON
    (``_json_body``; binary values base64-encoded, as botocore does), and botocore's serializer only writes the
    rest of the request (method, target and content-type headers). botocore's serializer walks
    every attribute value through the operation's shapes in Python: for a new account of 39
    attributes it was 40% of ingestion's time with the SDK (bench/scale.py). A wrapper of the
    client's ``_serializer`` (botocore has no public hook in place of serialization);
    ``tests/unit/core/test_aws_wire_bodies.py`` checks the bodies equal botocore's own."""

    def __init__(self, serializer: Any) -> None:
        self._serializer = serializer

    def serialize_to_request(self, parameters: Any, operation_model: Any) -> Any:
        if operation_model.name not in WIRE_OPERATIONS:
            return self._serializer.serialize_to_request(parameters, operation_model)
        request = self._serializer.serialize_to_request({}, operation_model)
        if not str(request["headers"].get("Content-Type", "")).startswith("application/x-amz-json"):
            return self._serializer.serialize_to_request(parameters, operation_model)  # another protocol
        request["body"] = _json_body(parameters)
        return request

    def __getattr__(self, name: str) -> Any:
        return getattr(self._serializer, name)


class _WireAnswers:
    """botocore's response parsers for the bulk client's endpoint, except for the body of a
    WIRE_ANSWERS answer that holds only items, counts and a last key, and no binary value: it is
    read by ``orjson.loads``, as DynamoDB's items already are the wire form the stores read (an
    attribute value's members are kept as DynamoDB writes them, where botocore would drop a member
    its model does not know).
    botocore's parser walks every attribute value through the output's shapes in Python: 113 µs
    per account of 39 attributes against 10 µs for ``json.loads`` (a page of 600; orjson takes a
    quarter less than ``json.loads``), so ingestion's
    read-back of a tenant's 200,000 accounts spent 22 s there. Errors, metadata (request id,
    status, headers), binary values (base64 to bytes) and every other answer stay botocore's.
    A wrapper of the endpoint's parser factory (botocore has no public hook in place of
    parsing); ``tests/unit/core/test_aws_wire_answers.py`` checks the answers equal botocore's."""

    def __init__(self, factory: Any) -> None:
        self._factory = factory

    def create_parser(self, protocol: str) -> Any:
        parser = self._factory.create_parser(protocol)
        handle = getattr(parser, "_handle_json_body", None)
        if handle is None:
            return parser

        def json_body(raw_body: bytes, shape: Any) -> Any:
            if shape is not None and shape.name in WIRE_ANSWERS and raw_body and not _NOT_PLAIN_ANSWER.search(raw_body):
                try:
                    # what orjson refuses (a lone surrogate) is botocore's; a whole number over
                    # 64 bits, which orjson reads as a float, is never a member of these answers
                    # (numbers in items are strings; counts are page sizes)
                    parsed = orjson.loads(raw_body)
                except ValueError:
                    return handle(raw_body, shape)
                if type(parsed) is dict and parsed.keys() <= _PLAIN_ANSWER_MEMBERS:
                    return parsed
            return handle(raw_body, shape)

        parser._handle_json_body = json_body
        return parser

    def __getattr__(self, name: str) -> Any:
        return getattr(self._factory, name)


def secret(secret_id: str, max_age: int = 300) -> str:
    """A Secrets Manager secret's string, cached ``max_age`` seconds (Powertools parameters)."""
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    provider = _clients.get("secrets-provider")
    if provider is None:
        provider = _clients.setdefault("secrets-provider", SecretsProvider(boto3_client=client("secretsmanager")))
    return str(provider.get(secret_id, max_age=max_age))


def reset() -> None:
    """Forget cached clients and counts (tests switch endpoints between cases)."""
    global _session, _boto3_session
    with _lock:
        _clients.clear()
        request_counts.clear()
        items_read.clear()
        _session = None
        _boto3_session = None
