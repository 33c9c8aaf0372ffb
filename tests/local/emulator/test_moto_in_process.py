"""infra/local/moto_in_process.py: in-process moto answers one DynamoDB request at a time (as the
local server does), and leaves other services alone."""
from __future__ import annotations

import threading

import boto3
from moto import mock_aws

from infra.local import moto_in_process


def _table(ddb) -> None:
    ddb.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "p", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "p", "KeyType": "HASH"}])


def test_a_dynamodb_request_waits_while_another_is_answered_and_sqs_does_not():
    with mock_aws(), moto_in_process.dynamodb_one_at_a_time():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        _table(ddb)
        queue = sqs.create_queue(QueueName="q")["QueueUrl"]
        done = {"put": threading.Event(), "send": threading.Event()}
        threads = [threading.Thread(target=lambda: (ddb.put_item(TableName="t", Item={"p": {"S": "a"}}), done["put"].set())),
                   threading.Thread(target=lambda: (sqs.send_message(QueueUrl=queue, MessageBody="x"), done["send"].set()))]
        with moto_in_process._lock:  # as if another thread's DynamoDB request were being answered
            for thread in threads:
                thread.start()
            assert done["send"].wait(10)
            assert not done["put"].wait(0.5)
        assert done["put"].wait(10)
        for thread in threads:
            thread.join()
        assert ddb.get_item(TableName="t", Key={"p": {"S": "a"}})["Item"] == {"p": {"S": "a"}}


def test_puts_from_many_threads_beside_a_paged_scan_all_land():
    with mock_aws(), moto_in_process.dynamodb_one_at_a_time():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        _table(ddb)
        errors: list[BaseException] = []

        def put(first: int) -> None:
            try:
                for i in range(first, first + 100):
                    ddb.put_item(TableName="t", Item={"p": {"S": f"k{i:04d}"}})
            except BaseException as error:  # noqa: BLE001  # reported below
                errors.append(error)

        threads = [threading.Thread(target=put, args=(n * 100,)) for n in range(4)]
        for thread in threads:
            thread.start()
        while any(t.is_alive() for t in threads):
            ddb.scan(TableName="t", Limit=50)
        assert not errors
        assert ddb.scan(TableName="t", Select="COUNT")["Count"] == 400


def test_outside_it_moto_is_as_before():
    from moto.core.botocore_stubber import BotocoreStubber

    original = BotocoreStubber.process_request
    with moto_in_process.dynamodb_one_at_a_time():
        assert BotocoreStubber.process_request is not original
    assert BotocoreStubber.process_request is original
