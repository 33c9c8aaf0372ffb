"""core.aws: the bulk DynamoDB client reads a Query's page with ``json.loads`` (its items are
DynamoDB's wire form); the answer a store gets is the one botocore's own parser makes, for every
attribute type, and anything else is botocore's."""
from __future__ import annotations

import functools
import json
import zlib

import botocore.session
from botocore.awsrequest import AWSResponse
from botocore.parsers import create_parser
from hypothesis import given, settings
from hypothesis import strategies as st

from cobranza.core import aws
from tests.helpers import RawBody

ITEM = {"tenant_shard": {"S": "t1#07"}, "account_id": {"S": "A-1"}, "balance": {"N": "1234.50"},
        "name": {"S": "José Ñúñez \u2028 \"quoted\" \\ back 😀"}, "tags": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2.5"]},
        "ok": {"BOOL": False}, "gone": {"NULL": True},
        "m": {"M": {"k": {"L": [{"S": "v"}, {"N": "3"}, {"M": {"deep": {"BOOL": True}}}]}}}}
BINARY = {"photo": {"B": "AP8Q"}, "bs": {"BS": ["cQ==", "AQ=="]}}
HEADERS = {"x-amzn-requestid": "REQ", "content-type": "application/x-amz-json-1.0", "x-amz-crc32": "1"}


@functools.cache
def _shape(operation: str):
    return botocore.session.get_session().get_service_model("dynamodb").operation_model(operation).output_shape


def _response(body: dict | bytes, status: int = 200) -> dict:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return {"status_code": status, "headers": dict(HEADERS), "body": raw, "context": {}}


def _both(body, operation: str = "Query", status: int = 200):
    ours = aws._WireAnswers(botocore.parsers.ResponseParserFactory()).create_parser("json")
    return ours.parse(_response(body, status), _shape(operation)), create_parser("json").parse(_response(body, status), _shape(operation))


def test_a_page_of_every_plain_attribute_type_is_botocores_answer(monkeypatch):
    page = {"Items": [ITEM, {"tenant_shard": {"S": "t"}, "account_id": {"S": "B"}}], "Count": 2, "ScannedCount": 2,
            "LastEvaluatedKey": {"tenant_shard": {"S": "t"}, "account_id": {"S": "B"}}}
    ours, theirs = _both(page)
    assert ours == theirs and ours["ResponseMetadata"]["RequestId"] == "REQ"
    walked = []
    real = botocore.parsers.BaseJSONParser._handle_structure
    monkeypatch.setattr(botocore.parsers.BaseJSONParser, "_handle_structure",
                        lambda self, shape, value: (walked.append(shape.name), real(self, shape, value))[1])
    ours = aws._WireAnswers(botocore.parsers.ResponseParserFactory()).create_parser("json").parse(_response(page), _shape("Query"))
    assert ours == theirs and walked.count("AttributeValue") == 0  # ours: read as it came
    create_parser("json").parse(_response(page), _shape("Query"))
    assert walked.count("AttributeValue") > 10  # botocore's: every value walked


def test_binary_values_and_other_members_are_botocores_own():
    for page in ({"Items": [{**ITEM, **BINARY}], "Count": 1, "ScannedCount": 1},
                 b'{"Items": [{"photo": {"\\u0042": "AP8Q"}}], "Count": 1, "ScannedCount": 1}',
                 {"Items": [ITEM], "Count": 1, "ScannedCount": 1, "LastEvaluatedKey": None},
                 {"Items": [{"x": {"S": None, "N": "1"}}], "Count": 1, "ScannedCount": 1},
                 {"Items": [ITEM], "Count": 1, "ScannedCount": 1, "ConsumedCapacity": {"TableName": "t", "CapacityUnits": 0.5}},
                 {"Items": [ITEM], "Count": 1, "ScannedCount": 1, "Unknown": {"x": 1}}):
        ours, theirs = _both(page)
        assert ours == theirs
    ours, _ = _both({"Items": [BINARY], "Count": 1, "ScannedCount": 1})
    assert ours["Items"][0]["photo"]["B"] == b"\x00\xff\x10"  # decoded, as botocore does


def test_errors_and_other_operations_are_botocores_own():
    error = {"__type": "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException", "message": "no table"}
    ours, theirs = _both(error, status=400)
    assert ours == theirs and ours["Error"]["Code"] == "ResourceNotFoundException"
    ours, theirs = _both({"Items": [ITEM], "Count": 1, "ScannedCount": 1}, operation="Scan")
    assert ours == theirs
    ours, theirs = _both(b"not json")
    assert ours == theirs
    ours, theirs = _both(b'{"Items": [{"x": {"S": "lone \\ud800"}}], "Count": 1, "ScannedCount": 1}')
    assert ours == theirs and ours["Items"][0]["x"]["S"] == "lone \ud800"  # orjson refuses it: botocore's


VALUES = st.recursive(
    st.one_of(st.text().map(lambda s: {"S": s}), st.decimals(allow_nan=False, allow_infinity=False).map(lambda d: {"N": str(d)}),
              st.booleans().map(lambda b: {"BOOL": b}), st.just({"NULL": True}),
              st.lists(st.text(), min_size=1, unique=True).map(lambda v: {"SS": v})),
    lambda inner: st.one_of(st.lists(inner, max_size=3).map(lambda v: {"L": v}),
                            st.dictionaries(st.text(max_size=5), inner, max_size=3).map(lambda v: {"M": v})),
    max_leaves=8)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.dictionaries(st.text(min_size=1, max_size=8), VALUES, min_size=1, max_size=6), max_size=25),
       st.booleans())
def test_any_page_of_items_is_botocores_answer(items, last):
    page = {"Items": items, "Count": len(items), "ScannedCount": len(items)}
    if last and items:
        page["LastEvaluatedKey"] = items[-1]
    ours, theirs = _both(page)
    assert ours == theirs


def test_the_bulk_client_reads_pages_that_way(own_clients):
    """Through the real client: a Query's answer is botocore's, and its parser is the wire one."""
    page = {"Items": [ITEM], "Count": 1, "ScannedCount": 1, "LastEvaluatedKey": {"account_id": {"S": "A-1"}}}
    body = json.dumps(page).encode()
    parsed = []

    def answer(request, **_):
        return AWSResponse(request.url, 200, {**HEADERS, "x-amz-crc32": str(zlib.crc32(body))}, RawBody(body))

    client = aws.bulk_client("dynamodb")
    client.meta.events.register_first("before-send.dynamodb.Query", answer)
    client.meta.events.register("before-parse.dynamodb.Query", lambda **kwargs: parsed.append(1))
    got = client.query(TableName="t", KeyConditionExpression="p = :p", ExpressionAttributeValues={":p": {"S": "x"}})
    assert isinstance(client._endpoint._response_parser_factory, aws._WireAnswers) and parsed == [1]
    assert not isinstance(aws.client("dynamodb")._endpoint._response_parser_factory, aws._WireAnswers)
    expected = create_parser("json").parse(_response(page), _shape("Query"))
    assert {k: v for k, v in got.items() if k != "ResponseMetadata"} == {k: v for k, v in expected.items() if k != "ResponseMetadata"}
    assert got["ResponseMetadata"]["RequestId"] == "REQ"

