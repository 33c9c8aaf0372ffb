"""infra/local/moto_queries.py: a Query reads only what it asks for, and answers exactly as moto's
own code does (items, order, pages, counts) on the table and on its indexes."""
from __future__ import annotations

import random

import boto3
import pytest
from moto import mock_aws

from infra.local import moto_queries


@pytest.fixture
def table():
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="t", BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("p", "s", "g", "d")],
            KeySchema=[{"AttributeName": "p", "KeyType": "HASH"}, {"AttributeName": "s", "KeyType": "RANGE"}],
            GlobalSecondaryIndexes=[
                {"IndexName": "due", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"},
                                                   {"AttributeName": "d", "KeyType": "RANGE"}],
                 "Projection": {"ProjectionType": "ALL"}},
                {"IndexName": "keys", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                 "Projection": {"ProjectionType": "KEYS_ONLY"}},
            ])
        rng = random.Random(7)
        for i in range(600):
            item = {"p": {"S": f"tenant#{rng.randrange(6)}"}, "s": {"S": f"{rng.randrange(10**6):07d}-{i}"},
                    "n": {"N": str(rng.randrange(100))}}
            if rng.random() < 0.7:  # the indexes are sparse
                item["g"] = {"S": f"g{rng.randrange(3)}"}
                item["d"] = {"S": f"2026-12-{rng.randrange(1, 8):02d}"}  # many items share a date
            client.put_item(TableName="t", Item=item)
        yield client


QUERIES = [
    {"KeyConditionExpression": "p = :p", "ExpressionAttributeValues": {":p": {"S": "tenant#1"}}},
    {"KeyConditionExpression": "p = :p", "ExpressionAttributeValues": {":p": {"S": "tenant#2"}}, "Limit": 7},
    {"KeyConditionExpression": "p = :p AND s >= :s", "ExpressionAttributeValues": {":p": {"S": "tenant#3"}, ":s": {"S": "0500000-"}},
     "Limit": 5, "ScanIndexForward": False},
    {"KeyConditionExpression": "p = :p", "FilterExpression": "n < :n",
     "ExpressionAttributeValues": {":p": {"S": "tenant#4"}, ":n": {"N": "30"}}, "Limit": 9},
    {"KeyConditionExpression": "p = :p", "ExpressionAttributeValues": {":p": {"S": "nobody"}}},
    {"IndexName": "due", "KeyConditionExpression": "g = :g AND d <= :d",
     "ExpressionAttributeValues": {":g": {"S": "g1"}, ":d": {"S": "2026-12-04"}}, "Limit": 11},
    {"IndexName": "due", "KeyConditionExpression": "g = :g", "ExpressionAttributeValues": {":g": {"S": "g2"}},
     "ScanIndexForward": False, "Limit": 13},
    {"IndexName": "keys", "KeyConditionExpression": "g = :g", "ExpressionAttributeValues": {":g": {"S": "g0"}}, "Limit": 17},
]


def _every_page(client, query):
    pages, start = [], None
    while True:
        page = client.query(TableName="t", **query, **({"ExclusiveStartKey": start} if start else {}))
        pages.append((page["Items"], page["Count"], page["ScannedCount"], page.get("LastEvaluatedKey")))
        start = page.get("LastEvaluatedKey")
        if not start:
            return pages


@pytest.mark.parametrize("query", QUERIES, ids=range(len(QUERIES)))
def test_every_page_of_a_query_is_the_same_as_motos(table, query):
    moto_queries.uninstall()
    expected = _every_page(table, query)
    moto_queries.install()
    try:
        assert _every_page(table, query) == expected
    finally:
        moto_queries.uninstall()
    assert sum(len(items) for items, *_ in expected) > 0 or query["ExpressionAttributeValues"][":p"]["S"] == "nobody"


def test_a_table_query_never_lists_the_whole_table_and_scans_still_do(table):
    from moto.dynamodb.models.table import Table

    listed = []
    real = Table.all_items

    def counting(self):
        items = real(self)
        listed.append(len(items))
        return items

    Table.all_items = counting
    moto_queries.install()  # wraps the counting list
    try:
        table.query(TableName="t", KeyConditionExpression="p = :p", ExpressionAttributeValues={":p": {"S": "tenant#1"}})
        assert listed == []  # one partition, read from its own dict
        table.query(TableName="t", IndexName="keys", KeyConditionExpression="g = :g",
                    ExpressionAttributeValues={":g": {"S": "g0"}})
        assert listed == []  # every item, not sorted first
        scanned = table.scan(TableName="t")["Items"]
        assert listed == [600] and len(scanned) == 600
    finally:
        moto_queries.uninstall()
        Table.all_items = real


def test_a_key_value_of_a_set_is_answered_as_moto_answers_it(table):
    moto_queries.install()
    try:
        page = table.query(TableName="t", KeyConditionExpression="p = :p", ExpressionAttributeValues={":p": {"SS": ["a"]}})
    finally:
        moto_queries.uninstall()
    assert page["Items"] == []
