"""infra/local/moto_fast_json.py answers DynamoDB's item operations exactly as moto's serializer
would: the same JSON for every operation it takes over, on items with every attribute type."""
from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from infra.local import moto_fast_json

ITEM = {"p": {"S": "a"}, "s": {"S": "1"}, "g": {"S": "x"}, "n": {"N": "1.50"}, "b": {"B": b"\x00\x01"},
        "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2"]}, "bs": {"BS": [b"q"]}, "t": {"BOOL": True}, "z": {"NULL": True},
        "m": {"M": {"k": {"L": [{"S": "v"}, {"N": "3"}, {"BOOL": False}, {"NULL": True}]}, "bb": {"B": b"zz"}}}}
KEY = {"p": {"S": "a"}, "s": {"S": "1"}}


@pytest.fixture
def answers():
    """Every answer to an operation moto_fast_json takes over: (operation, moto's body, fast body)."""
    from moto.dynamodb.responses import DynamoResult

    seen: list[tuple[str, str, str]] = []
    original = DynamoResult.execute_result

    def both(self, context):
        status, headers, body = original(self, context)
        if context.operation_model.name in moto_fast_json.FAST_OPERATIONS and not isinstance(self.result, Exception):
            seen.append((context.operation_model.name, body, moto_fast_json.answer(context.operation_model, self.result)))
        return status, headers, body

    DynamoResult.execute_result = both
    try:
        yield seen
    finally:
        DynamoResult.execute_result = original


def test_every_item_answer_is_the_same_json_as_motos(answers):
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        ddb.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("p", "s", "g")],
                         KeySchema=[{"AttributeName": "p", "KeyType": "HASH"}, {"AttributeName": "s", "KeyType": "RANGE"}],
                         GlobalSecondaryIndexes=[{"IndexName": "gix", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                                  "Projection": {"ProjectionType": "KEYS_ONLY"}}])
        ddb.put_item(TableName="t", Item=ITEM, ReturnValues="NONE")
        ddb.get_item(TableName="t", Key=KEY)
        ddb.get_item(TableName="t", Key={"p": {"S": "none"}, "s": {"S": "1"}})
        ddb.get_item(TableName="t", Key=KEY, ProjectionExpression="m.k, n")
        ddb.query(TableName="t", KeyConditionExpression="p = :p", ExpressionAttributeValues={":p": {"S": "a"}}, Limit=1)
        ddb.query(TableName="t", IndexName="gix", KeyConditionExpression="g = :g", ExpressionAttributeValues={":g": {"S": "x"}})
        ddb.update_item(TableName="t", Key=KEY, UpdateExpression="ADD n :one", ExpressionAttributeValues={":one": {"N": "1"}},
                        ReturnValues="UPDATED_NEW")
        ddb.update_item(TableName="t", Key=KEY, UpdateExpression="SET q = :q", ExpressionAttributeValues={":q": {"S": "w"}},
                        ReturnValues="ALL_NEW")
        ddb.batch_get_item(RequestItems={"t": {"Keys": [KEY, {"p": {"S": "none"}, "s": {"S": "1"}}]}})
        ddb.batch_write_item(RequestItems={"t": [{"PutRequest": {"Item": {"p": {"S": "b"}, "s": {"S": "1"}}}}]})
        ddb.scan(TableName="t")
        ddb.transact_write_items(TransactItems=[{"Put": {"TableName": "t", "Item": {"p": {"S": "c"}, "s": {"S": "1"}}}}])
        ddb.transact_get_items(TransactItems=[{"Get": {"TableName": "t", "Key": KEY}}])
        ddb.delete_item(TableName="t", Key={"p": {"S": "c"}, "s": {"S": "1"}}, ReturnValues="ALL_OLD")
    operations = {name for name, _, _ in answers}
    assert operations == moto_fast_json.FAST_OPERATIONS
    for name, moto_body, fast_body in answers:
        assert json.loads(fast_body) == (json.loads(moto_body) if moto_body else {}), name


# ---------------------------------------------------------------- requests
WEIRD_VALUES = {"int_s": {"S": 1}, "none_s": {"S": None}, "two": {"N": "1", "S": "x"}, "empty": {}, "mixed_ss": {"SS": ["a", 1]},
                "unknown": {"X": "y"}, "bool_str": {"BOOL": "true"}, "null_false": {"NULL": False},
                "empty_ss": {"SS": []}, "l_of_weird": {"L": [{"S": 2}, {"M": {"x": {"N": 5}}}]}}


def _outcome(operation: str, body: dict) -> object:
    """What moto's parser makes of ``body``: the parameters, or the kind of error it raises."""
    try:
        return _parse(operation, body)
    except Exception as error:  # noqa: BLE001  # the kind of failure is what is compared
        return type(error).__name__


def _parse(operation: str, body: dict) -> dict:
    from moto.core.parse import JSONParser
    from moto.core.responses import get_service_model

    model = get_service_model("dynamodb").operation_model(operation)
    return JSONParser(model).parse({"method": "POST", "values": {}, "headers": {}, "body": json.dumps(body).encode(),
                                    "url_path": "/", "url_params": {}})


REQUESTS = [
    ("PutItem", {"TableName": "t", "Item": json.loads(json.dumps(ITEM, default=moto_fast_json._binary))}),
    ("PutItem", {"TableName": "t", "Item": {**KEY, **WEIRD_VALUES}}),
    ("PutItem", {"TableName": "t", "Item": {**KEY, "bad": "plain"}}),
    ("BatchWriteItem", {"RequestItems": {"t": [{"PutRequest": {"Item": {**KEY, "n": {"N": "2"}, "ss": {"SS": ["a"]}}}},
                                              {"DeleteRequest": {"Key": KEY}}]}}),
    ("UpdateItem", {"TableName": "t", "Key": KEY, "UpdateExpression": "SET a = :a, b = :b",
                    "ExpressionAttributeNames": {"#a": "a"}, "ExpressionAttributeValues": {":a": {"S": "x"}, ":b": {"B": "AAE="},
                                                                                           ":w": {"NS": ["1", 2]}}}),
    ("Query", {"TableName": "t", "KeyConditionExpression": "p = :p", "ExpressionAttributeValues": {":p": {"S": "a"}},
               "ExclusiveStartKey": KEY}),
    ("TransactWriteItems", {"TransactItems": [{"Put": {"TableName": "t", "Item": {**KEY, "m": {"M": {"k": {"N": "1"}}}}}}]}),
]


@pytest.mark.parametrize(("operation", "body"), REQUESTS, ids=[f"{o}-{i}" for i, (o, _) in enumerate(REQUESTS)])
def test_every_request_is_parsed_as_motos_parser_parses_it(operation, body):
    moto_fast_json.uninstall()
    expected = _outcome(operation, body)
    moto_fast_json.install()
    try:
        assert _outcome(operation, body) == expected
    finally:
        moto_fast_json.uninstall()


def test_plain_attribute_values_skip_motos_structure_walk(monkeypatch):
    from moto.core.parse import BaseJSONParser

    walked: list[str] = []
    original = BaseJSONParser._parse_structure
    monkeypatch.setattr(BaseJSONParser, "_parse_structure",
                        lambda self, shape, value: walked.append(shape.name) or original(self, shape, value))
    item = {**KEY, "n": {"N": "1"}, "t": {"BOOL": True}, "z": {"NULL": True}, "ss": {"SS": ["a"]}, "ns": {"NS": ["1"]}}
    moto_fast_json.install()
    try:
        _parse("PutItem", {"TableName": "t", "Item": item})
    finally:
        moto_fast_json.uninstall()
    assert "AttributeValue" not in walked
    walked.clear()
    _parse("PutItem", {"TableName": "t", "Item": item})
    assert walked.count("AttributeValue") == len(item)


def test_a_result_becomes_the_same_plain_data_as_with_moto():
    from datetime import datetime
    from decimal import Decimal

    from moto.dynamodb import responses
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    items = [Item(DynamoType({"S": "a"}), DynamoType({"S": str(i)}), {**ITEM, "s": {"S": str(i)}}) for i in range(3)]
    result = {"Items": [item.attrs for item in items], "Count": 3, "ScannedCount": 3,  # what moto's Query hands over
              "LastEvaluatedKey": {"p": DynamoType({"S": "a"}), "b": DynamoType({"B": "AAE="})}, "When": datetime(2026, 12, 7),
              "Item": items[0], "Plain": item_json(items[0]), "Ratio": 1.5, "Exact": Decimal("1.5"), "Nothing": None, "Yes": True}
    expected = responses.dynamo_to_dict(result)
    moto_fast_json.install()
    try:
        original = moto_fast_json._ORIGINAL["dynamo_to_dict"]
        calls = []
        moto_fast_json._ORIGINAL["dynamo_to_dict"] = original
        responses.dynamo_to_dict = moto_fast_json._plain_data(
            lambda obj: (calls.append(getattr(obj, "type", type(obj).__name__)), original(obj))[1])
        assert responses.dynamo_to_dict(result) == expected
        # moto's function only for what is not plain: binary values (and bytes), maps, a whole Item, a datetime, numbers
        assert sorted(calls) == sorted(["B"] * 4 + ["BS"] * 3 + ["M"] * 3 + ["bytes"] * 3 + ["Item", "datetime", "float", "Decimal"])
    finally:
        moto_fast_json.uninstall()
    assert responses.dynamo_to_dict(result) == expected


def item_json(item):
    return item.to_json()["Attributes"]
