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
