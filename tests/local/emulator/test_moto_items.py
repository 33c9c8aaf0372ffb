"""infra/local/moto_items.py: an item is built with one size check, and moto keeps every item and
refuses every oversized one exactly as its own code does (puts, batches, updates)."""
from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from infra.local import moto_items

ITEM = {"p": {"S": "a"}, "s": {"S": "1"}, "n": {"N": "1.50"}, "b": {"B": b"\x00\x01"}, "ss": {"SS": ["a", "b"]},
        "ns": {"NS": ["1", "2"]}, "t": {"BOOL": True}, "z": {"NULL": True}, "nombre": {"S": "Peña Ñúñez"},
        "m": {"M": {"k": {"L": [{"S": "v"}, {"N": "3"}]}, "bb": {"B": b"zz"}}}}


def _session(installed: bool):
    """What moto stores and answers for a put, a batch, an oversized put and an update past the limit."""
    answers = []
    with mock_aws():
        if installed:
            moto_items.install()
        try:
            client = boto3.client("dynamodb", region_name="us-east-1")
            client.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                                AttributeDefinitions=[{"AttributeName": "p", "AttributeType": "S"},
                                                      {"AttributeName": "s", "AttributeType": "S"}],
                                KeySchema=[{"AttributeName": "p", "KeyType": "HASH"}, {"AttributeName": "s", "KeyType": "RANGE"}])
            client.put_item(TableName="t", Item=ITEM)
            client.batch_write_item(RequestItems={"t": [{"PutRequest": {"Item": {**ITEM, "s": {"S": str(i)}}}}
                                                        for i in range(2, 27)]})
            answers.append(client.scan(TableName="t")["Items"])
            for size in (404_000, 406_000):  # moto's limit is 405,000 bytes
                try:
                    client.put_item(TableName="t", Item={"p": {"S": "b"}, "s": {"S": str(size)}, "x": {"S": "x" * size}})
                    answers.append(("stored", size))
                except ClientError as error:
                    answers.append((error.response["Error"]["Code"], error.response["Error"]["Message"]))
            try:
                client.update_item(TableName="t", Key={"p": {"S": "b"}, "s": {"S": "404000"}},
                                   UpdateExpression="SET y = :y", ExpressionAttributeValues={":y": {"S": "y" * 2000}})
                answers.append("updated")
            except ClientError as error:
                answers.append((error.response["Error"]["Code"], error.response["Error"]["Message"]))
        finally:
            moto_items.uninstall()
    return answers


def test_items_and_refusals_are_motos_own():
    expected = _session(installed=False)
    assert len(expected[0]) == 26 and expected[1] == ("stored", 404_000)
    assert expected[2][0] == "ValidationException" and expected[3][0] == "ValidationException"
    assert _session(installed=True) == expected


@pytest.mark.parametrize("attributes", [1, 40, 400])
def test_an_item_checks_its_size_once(attributes):
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict

    calls = []
    real = LimitedSizeDict.__setitem__
    LimitedSizeDict.__setitem__ = lambda self, key, value: (calls.append(key), real(self, key, value))[1]
    moto_items.install()
    try:
        item = Item(DynamoType({"S": "a"}), None, {f"a{i}": {"S": "v"} for i in range(attributes)})
    finally:
        moto_items.uninstall()
        LimitedSizeDict.__setitem__ = real
    assert calls == [] and len(item.attrs) == attributes and isinstance(item.attrs, LimitedSizeDict)


def _every_kind_of_item():
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    attrs = {**ITEM, "e": {"S": ""}, "emoji": {"S": "Ana \U0001f600"}, "f": {"BOOL": False}, "big": {"N": "-12345.678900"},
             "l": {"L": [{"SS": ["x"]}, {"M": {"z": {"NULL": True}}}]}, "añadido": {"S": "ñ"}, "bs": {"BS": [b"\x00", b"zz"]},
             "b64": {"B": "AAE="}, "nofalse": {"NULL": False}}
    item = Item(DynamoType({"S": "a"}), DynamoType({"S": "1"}), attrs)
    item.attrs["added"] = DynamoType({"N": "5"})
    item.attrs["added"].value = 5  # a number moto computed (UpdateItem ADD) rather than parsed
    return item


def test_an_items_size_is_motos_own():
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    item = _every_kind_of_item()
    expected = item.size()
    moto_items.install()
    try:
        assert Item.size is not moto_items._ORIGINAL["size"]
        assert item.size() == expected
        for name, value in item.attrs.items():  # one attribute at a time: each kind's size
            alone = Item(DynamoType({"S": "a"}), None, {name: value.to_json()})
            assert alone.size() == moto_items._ORIGINAL["size"](alone), name
    finally:
        moto_items.uninstall()


def test_an_items_copy_is_motos_own_and_its_own():
    import copy

    item = _every_kind_of_item()
    expected = copy.deepcopy(item)
    moto_items.install()
    try:
        copied = copy.deepcopy(item)
    finally:
        moto_items.uninstall()
    assert copied.to_json() == expected.to_json() == item.to_json()
    assert (copied.hash_key, copied.range_key) == (item.hash_key, item.range_key)
    assert copied.hash_key is not item.hash_key and copied.range_key is not item.range_key
    assert type(copied.attrs) is type(item.attrs)
    for name, value in copied.attrs.items():
        assert value is not item.attrs[name] and value.type == item.attrs[name].type, name
    copied.attrs["ss"].value.append("c")  # a copy's set is its own, as with moto's copy
    copied.attrs["l"].value[0].value.append("y")
    copied.attrs["m"].value["k"].value.append(copied.attrs["n"])
    assert item.attrs["ss"].value == ["a", "b"] and item.attrs["l"].value[0].value == ["x"]
    assert len(item.attrs["m"].value["k"].value) == 2
