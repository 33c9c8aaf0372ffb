"""infra/local/moto_batch_writes.py: a BatchWriteItem served on the local stack's moto server
stores, streams and answers exactly what moto's own code does, for plain batches (which it serves)
and for every batch it must leave to moto (errors included)."""
from __future__ import annotations

import json
import urllib.request

import boto3
import pytest
from botocore.config import Config

from cobranza.core import aws
from infra.local import moto_batch_writes
from infra.local.moto_server import MotoServer

ANSWER = moto_batch_writes.answer

PLAIN = {"p": {"S": "a"}, "s": {"S": "1"}, "g": {"S": "gsi"}, "nombre": {"S": "Peña Ñúñez \"x\" \\ \u2028"},
         "n0": {"N": "0"}, "n1": {"N": "-1.50"}, "n38": {"N": "12345678901234567890123456789012345678"},
         "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2.5"]}, "t": {"BOOL": True}, "f": {"BOOL": False},
         "z": {"NULL": True}, "vacío": {"S": ""}}


def _put(table: str = "t", **attrs):
    return {"PutRequest": {"Item": {**PLAIN, **attrs}}}


def _batch(count: int, table: str = "t", **attrs):
    return [_put(table, s={"S": f"{i:03}"}, **attrs) for i in range(count)]


#: (name, RequestItems or whole request, served here?)
CASES = [
    ("25 plain puts", {"t": _batch(25)}, True),
    ("an overwrite streamed with its old image", {"t": [_put(s={"S": "000"}, n0={"N": "7"}), _put(s={"S": "001"})]}, True),
    ("two tables", {"t": [_put(s={"S": "000"}, n0={"N": "7"})],
                    "u": [{"PutRequest": {"Item": {"id": {"S": "x"}, "v": {"N": "1"}}}}]}, False),
    ("the same item into two tables", {"t": [_put()], "t2": [_put()]}, False),
    ("a lone surrogate", {"t": [_put(nombre={"S": "\ud800"})]}, False),
    ("an emoji", {"t": [_put(nombre={"S": "Ana \U0001f600"})]}, False),
    ("Action= in a value", {"t": [_put(nombre={"S": "x&Action=Foo"})]}, False),
    ("a null that is false", {"t": [_put(z={"NULL": False})]}, False),
    ("hash-only table, a new and a replaced item", {"u": [{"PutRequest": {"Item": {"id": {"S": "x"}, "v": {"N": "2"}}}},
                                                          {"PutRequest": {"Item": {"id": {"S": "y"}}}}]}, True),
    ("26 puts", {"t": _batch(26)}, False),
    ("a key twice", {"t": [_put(), _put(n0={"N": "1"})]}, False),
    ("the same item twice", {"t": [_put(), _put()]}, False),
    ("range key missing", {"t": [{"PutRequest": {"Item": {"p": {"S": "a"}}}}]}, False),
    ("hash key of the wrong type", {"t": [_put(p={"N": "1"})]}, False),
    ("empty hash key", {"t": [_put(p={"S": ""})]}, False),
    ("empty index key", {"t": [_put(g={"S": ""})]}, False),
    ("hash key over 2,048 bytes", {"t": [_put(p={"S": "x" * 2049})]}, False),
    ("index hash key over 2,048 bytes", {"t": [_put(g={"S": "ñ" * 1025})]}, False),
    ("range key over 1,024 bytes", {"t": [_put(s={"S": "x" * 1025})]}, False),
    ("a number with an exponent", {"t": [_put(n0={"N": "1E+5"})]}, False),
    ("not a number", {"t": [_put(n0={"N": "abc"})]}, False),
    ("a number with 39 digits", {"t": [_put(n0={"N": "1" * 39})]}, False),
    ("a number with spaces", {"t": [_put(n0={"N": " 1"})]}, False),
    ("a binary value", {"t": [_put(b={"B": "AAE="})]}, False),
    ("a map", {"t": [_put(m={"M": {"k": {"S": "v"}}})]}, False),
    ("a list", {"t": [_put(l={"L": [{"S": "v"}]})]}, False),
    ("an empty set", {"t": [_put(ss={"SS": []})]}, False),
    ("a string set holding a number", {"t": [_put(ss={"SS": [1]})]}, False),
    ("a value of two types", {"t": [_put(n0={"N": "1", "S": "1"})]}, False),
    ("an unknown table", {"nope": _batch(2)}, False),
    ("a delete beside a put", {"t": [_put(), {"DeleteRequest": {"Key": {"p": {"S": "a"}, "s": {"S": "000"}}}}]}, False),
    ("an item just under moto's size limit", {"t": [_put(x={"S": "x" * 404_000})]}, True),
    ("an item over moto's size limit", {"t": [_put(x={"S": "x" * 406_000})]}, False),
    ("a body over the limit, items under it", {"t": [_put(s={"S": str(i)}, x={"S": "x" * 20_000}) for i in range(25)]}, True),
    ("consumed capacity asked", {"RequestItems": {"t": _batch(2)}, "ReturnConsumedCapacity": "TOTAL"}, False),
    ("no puts", {"t": []}, False),
]


@pytest.fixture(scope="module")
def server():
    moto = MotoServer("127.0.0.1", 0)  # bound here to a port nobody holds: no race for a "free" one
    moto.start()
    try:
        yield moto
    finally:
        moto.stop()


def _client(server, **config):
    return boto3.client("dynamodb", endpoint_url=f"http://127.0.0.1:{server.port}", region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing",  # nosec B106  # local stack
                        config=Config(parameter_validation=False, retries={"total_max_attempts": 1}, **config))


def _tables(client):
    client.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("p", "s", "g")],
                        KeySchema=[{"AttributeName": "p", "KeyType": "HASH"}, {"AttributeName": "s", "KeyType": "RANGE"}],
                        GlobalSecondaryIndexes=[{"IndexName": "by-g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                                 "Projection": {"ProjectionType": "ALL"}}],
                        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    client.create_table(TableName="t2", BillingMode="PAY_PER_REQUEST",
                        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("p", "s")],
                        KeySchema=[{"AttributeName": "p", "KeyType": "HASH"}, {"AttributeName": "s", "KeyType": "RANGE"}])
    client.create_table(TableName="u", BillingMode="PAY_PER_REQUEST",
                        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
    client.batch_write_item(RequestItems={"t": [_put(s={"S": "000"})], "u": [{"PutRequest": {"Item": {"id": {"S": "x"}}}}]})


def _state():
    """Every stored item (types and values), and every stream record, of moto's default account."""
    from moto.dynamodb.models import dynamodb_backends

    backend = dynamodb_backends["123456789012"]["us-east-1"]
    items, streams = {}, {}
    for name, table in backend.tables.items():
        items[name] = sorted(json.dumps([item.to_json(), item.hash_key.to_json(), item.range_key and item.range_key.to_json(),
                                         type(item.attrs).__name__, item.hash_key is not item.attrs.get(table.hash_key_attr)],
                                        sort_keys=True, default=repr) for item in table.all_items())
        items[name].append(sorted(json.dumps(key.to_json(), default=repr) for key in table.items))
        records = table.stream_shard.items if table.stream_shard is not None else []
        streams[name] = [(r.record["eventName"], json.dumps({key: value for key, value in r.record["dynamodb"].items()
                                                             if key not in ("ApproximateCreationDateTime", "SequenceNumber", "SizeBytes")},
                                                            sort_keys=True, default=repr))
                         for r in records]
    return items, streams


def _run(server, request, *, fast: bool, monkeypatch):
    """moto's answer (status, body, headers that matter) and state after one batch, with this path
    on or off; and how many requests it served."""
    urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{server.port}/moto-api/reset", method="POST"))  # nosec B310  # local
    served = []

    def counted(environ, body):
        answered = ANSWER(environ, body) if fast else None
        served.append(answered is not None)
        return answered

    monkeypatch.setattr(moto_batch_writes, "answer", counted)
    client = _client(server)
    _tables(client)
    seen = {}

    def keep(http_response, **_):
        headers = {k.lower(): v for k, v in http_response.headers.items() if k.lower() not in ("date", "x-amzn-requestid")}
        seen.update(status=http_response.status_code, body=http_response.content, headers=headers)

    client.meta.events.register("after-call.dynamodb.BatchWriteItem", keep)
    kwargs = request if "RequestItems" in request else {"RequestItems": request}
    try:
        client.batch_write_item(**kwargs)
    except client.exceptions.ClientError:
        pass
    return seen, _state(), served[1:]  # served[0] is the tables' first batch


@pytest.mark.parametrize(("name", "request_items", "served_here"), CASES, ids=[case[0] for case in CASES])
def test_a_batch_is_stored_and_answered_as_moto_does(server, monkeypatch, name, request_items, served_here):
    by_moto = _run(server, request_items, fast=False, monkeypatch=monkeypatch)
    here = _run(server, request_items, fast=True, monkeypatch=monkeypatch)
    assert here[0] == by_moto[0], name  # status, body, headers (CRC32 included)
    assert here[1] == by_moto[1], name  # items and stream records
    assert here[2] == [served_here], name


def test_the_answer_carries_the_crc32_that_botocore_checks(server, monkeypatch):
    seen, (items, streams), served = _run(server, {"t": _batch(3)}, fast=True, monkeypatch=monkeypatch)
    assert served == [True]
    assert seen["status"] == 200 and json.loads(seen["body"])["UnprocessedItems"] == {}
    assert len(items["t"][:-1]) == 3 and [event for event, _ in streams["t"]] == ["INSERT", "MODIFY", "INSERT", "INSERT"]


def test_a_region_or_account_named_another_way_goes_to_moto(server, monkeypatch):
    monkeypatch.setenv("MOTO_ACCOUNT_ID", "123456789012")
    assert _run(server, {"t": _batch(2)}, fast=True, monkeypatch=monkeypatch)[2] == [False]


def _raw(server, *, path="/", query="", content_type="application/x-amz-json-1.0", body=None, **headers):
    """A BatchWriteItem as bytes on the wire, shaped as botocore sends it unless told otherwise."""
    import http.client

    payload = body if body is not None else json.dumps({"RequestItems": {"t": _batch(2)}}).encode()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    sent = {"X-Amz-Target": moto_batch_writes.TARGET, "Content-Type": content_type,
            "Authorization": "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261207/us-east-1/dynamodb/aws4_request, "
                             "SignedHeaders=host, Signature=0", **headers}
    connection.request("POST", path + (f"?{query}" if query else ""), body=payload, headers=sent)
    response = connection.getresponse()
    return response.status, response.read()


RAW = [
    ("as botocore sends it", {}, True),
    ("another path", {"path": "/foo"}, False),
    ("a query string naming a region", {"query": "x=.eu-west-1.amazonaws.com"}, False),
    ("a JSON content type", {"content_type": "application/json"}, False),
    ("a byte order mark", {"body": b"\xef\xbb\xbf" + json.dumps({"RequestItems": {"t": _batch(2)}}).encode()}, False),
    ("UTF-16", {"body": json.dumps({"RequestItems": {"t": _batch(2)}}).encode("utf-16")}, False),
    ("an Origin header", {"Origin": "http://example.com"}, False),
    ("an account header", {"x-moto-account-id": "123456789012"}, False),
    ("a region in the user agent", {"User-Agent": "aws-cli region/eu-west-1"}, False),
    ("not JSON", {"body": b"{"}, False),
    ("a value that is not a map", {"body": json.dumps({"RequestItems": {"t": [_put(z="x")]}}).encode()}, False),
    # the bulk client's body (core.aws._json_body): UTF-8 as it is, where botocore escapes it
    ("UTF-8 unescaped, an emoji and a long key", {"body": aws._json_body({"RequestItems": {"t": [
        _put(s={"S": "000"}, nombre={"S": "Ana 😀 Ñúñez \u2028"}), _put(s={"S": "ñ" * 512}, g={"S": "😀" * 512})]}})}, True),
    ("UTF-8 unescaped, a range key over 1,024 bytes", {"body": aws._json_body({"RequestItems": {"t": [
        _put(s={"S": "😀" * 257})]}})}, False),
]


@pytest.mark.parametrize(("name", "shape", "served_here"), RAW, ids=[case[0] for case in RAW])
def test_a_request_shaped_otherwise_goes_to_moto(server, monkeypatch, name, shape, served_here):
    results = []
    for fast in (False, True):
        urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{server.port}/moto-api/reset", method="POST"))  # nosec B310  # local
        _tables(_client(server))
        served = []

        def counted(environ, body, fast=fast, served=served):
            answered = ANSWER(environ, body) if fast else None
            served.append(answered is not None)
            return answered

        monkeypatch.setattr(moto_batch_writes, "answer", counted)
        status, payload = _raw(server, **shape)
        answer = json.loads(payload) if payload.startswith(b"{") else payload
        results.append((status, answer, _state(), served))
    by_moto, here = results
    assert here[:3] == by_moto[:3], name
    assert here[3] == ([served_here] if here[3] else []), name
