"""core.aws: the bulk DynamoDB client writes a BatchWriteItem's body as JSON itself, by orjson
(its parameters are already DynamoDB's wire form); the request DynamoDB gets is the one botocore's own
serializer writes, for every attribute type."""
from __future__ import annotations

import dataclasses
import datetime
import functools
import json
from decimal import Decimal

import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from botocore.serialize import create_serializer
from hypothesis import given, settings
from hypothesis import strategies as st

from cobranza.core import aws
from tests.helpers import RawBody

ITEM = {"tenant_shard": {"S": "t1#07"}, "account_id": {"S": "A-1"}, "balance": {"N": "1234.50"},
        "name": {"S": "José Ñúñez \u2028 \"quoted\" \\ back"}, "photo": {"B": b"\x00\xff\x10"},
        "tags": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2.5"]}, "bs": {"BS": [b"q", b"\x01"]},
        "ok": {"BOOL": False}, "gone": {"NULL": True},
        "m": {"M": {"k": {"L": [{"S": "v"}, {"N": "3"}, {"M": {"deep": {"B": b"zz"}}}]}}}}


@dataclasses.dataclass
class _Dataclass:
    n: int


@functools.cache
def _model(operation: str):
    return botocore.session.get_session().get_service_model("dynamodb").operation_model(operation)


def _botocore_request(parameters: dict, operation: str = "BatchWriteItem") -> dict:
    return create_serializer("json", include_validation=False).serialize_to_request(parameters, _model(operation))


def _wire_request(parameters: dict, operation: str = "BatchWriteItem") -> dict:
    return aws._WireBodies(create_serializer("json", include_validation=False)).serialize_to_request(
        parameters, _model(operation))


def _same(ours: dict, theirs: dict) -> None:
    assert json.loads(ours.pop("body")) == json.loads(theirs.pop("body"))
    assert ours == theirs  # method, url path, headers (target, content type), query string


def test_a_batch_of_every_attribute_type_is_the_body_botocore_writes():
    parameters = {"RequestItems": {"accounts": [{"PutRequest": {"Item": ITEM}},
                                                {"DeleteRequest": {"Key": {"tenant_shard": {"S": "t"}, "account_id": {"S": "B"}}}}]},
                  "ReturnConsumedCapacity": "TOTAL", "ReturnItemCollectionMetrics": "SIZE"}
    _same(_wire_request(parameters), _botocore_request(parameters))


def test_other_operations_go_through_botocores_serializer():
    parameters = {"TableName": "accounts", "Key": {"tenant_shard": {"S": "t"}, "account_id": {"S": "A"}},
                  "UpdateExpression": "SET #a = :a", "ExpressionAttributeNames": {"#a": "a"},
                  "ExpressionAttributeValues": {":a": {"B": b"\x01"}}}
    _same(_wire_request(parameters, "UpdateItem"), _botocore_request(parameters, "UpdateItem"))


@pytest.mark.parametrize("value", [object(), datetime.datetime(2026, 12, 7, 13, 0), datetime.date(2026, 12, 7),
                                   Decimal("1.5"), {1, 2}, _Dataclass(1)], ids=repr)
def test_a_value_that_is_not_a_wire_value_is_refused_not_sent(value):
    with pytest.raises(TypeError):
        _wire_request({"RequestItems": {"t": [{"PutRequest": {"Item": {"n": {"N": value}}}}]}})


def test_what_orjson_refuses_is_written_by_json_dumps_as_botocore_does():
    """A lone surrogate, nesting deeper than orjson writes, a whole number over 64 bits: the same
    body as botocore's all the same; everything else is written as UTF-8, not escaped."""
    deep: dict = {"S": "bottom"}
    for _ in range(300):
        deep = {"M": {"k": deep}}
    parameters = {"RequestItems": {"accounts": [{"PutRequest": {"Item": {"name": {"S": "lone \ud800 surrogate"}}}}]}}
    _same(_wire_request(parameters), _botocore_request(parameters))
    assert json.loads(aws._json_body({"deep": deep})) == {"deep": deep}  # botocore's own recursion fails on it
    assert aws._json_body({"n": 2**70}) == b'{"n": 1180591620717411303424}'
    assert aws._json_body({"n": {"S": "José"}}) == '{"n":{"S":"José"}}'.encode()


VALUES = st.recursive(
    st.one_of(st.text().map(lambda s: {"S": s}), st.decimals(allow_nan=False, allow_infinity=False).map(lambda d: {"N": str(d)}),
              st.binary().map(lambda b: {"B": b}), st.booleans().map(lambda b: {"BOOL": b}),
              st.lists(st.text(), min_size=1, unique=True).map(lambda v: {"SS": v})),
    lambda inner: st.one_of(st.lists(inner, max_size=3).map(lambda v: {"L": v}),
                            st.dictionaries(st.text(max_size=5), inner, max_size=3).map(lambda v: {"M": v})),
    max_leaves=8)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.dictionaries(st.text(min_size=1, max_size=8), VALUES, min_size=1, max_size=6), min_size=1, max_size=25))
def test_any_batch_of_items_is_the_body_botocore_writes(items):
    parameters = {"RequestItems": {"accounts": [{"PutRequest": {"Item": item}} for item in items]}}
    _same(_wire_request(parameters), _botocore_request(parameters))


def test_the_bulk_client_sends_that_body(own_clients):
    """Through the real client: what goes out for a BatchWriteItem is botocore's request with our body."""
    sent: list[tuple[str, bytes]] = []

    def answer(request, **_):
        sent.append((request.headers["X-Amz-Target"].decode(), request.body))
        return AWSResponse(request.url, 200, {}, RawBody(b'{"UnprocessedItems":{}}'))

    client = aws.bulk_client("dynamodb")
    client.meta.events.register_first("before-send.dynamodb.BatchWriteItem", answer)
    parameters = {"RequestItems": {"accounts": [{"PutRequest": {"Item": ITEM}}]}}
    assert client.batch_write_item(**parameters)["UnprocessedItems"] == {}
    assert aws.bulk_client("dynamodb") is client
    aws.bulk_client("dynamodb").batch_write_item(**parameters)
    (target, body), _again = sent
    assert target == "DynamoDB_20120810.BatchWriteItem"
    assert json.loads(body) == json.loads(_botocore_request(parameters)["body"])
    assert isinstance(client._serializer, aws._WireBodies)

