"""infra/local/moto_wakeups.py: moto tells the stack's Wakeup when a queue gets a message (sent,
in a batch, or from an S3 notification) and when a table's stream gets a record, by name."""
from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from infra.local import moto_wakeups
from infra.local.activity import Wakeup


@pytest.fixture
def wakeup():
    with mock_aws():
        wakeup = Wakeup()
        moto_wakeups.install(wakeup)
        try:
            yield wakeup
        finally:
            moto_wakeups.uninstall()


def test_a_message_sent_or_notified_moves_its_queue_only(wakeup):
    sqs, s3 = boto3.client("sqs", region_name="us-east-1"), boto3.client("s3", region_name="us-east-1")
    url = sqs.create_queue(QueueName="work")["QueueUrl"]
    sqs.create_queue(QueueName="quiet")
    sqs.send_message(QueueUrl=url, MessageBody="1")
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "2"}, {"Id": "b", "MessageBody": "3"}])
    assert wakeup.generation("work") == 3 and wakeup.generation("quiet") == 0
    s3.create_bucket(Bucket="files")
    s3.put_bucket_notification_configuration(Bucket="files", NotificationConfiguration={"QueueConfigurations": [
        {"QueueArn": "arn:aws:sqs:us-east-1:123456789012:quiet", "Events": ["s3:ObjectCreated:*"]}]})
    before = wakeup.generation("quiet")
    s3.put_object(Bucket="files", Key="a.csv", Body=b"x")
    assert wakeup.generation("quiet") > before


def test_a_write_to_a_table_with_a_stream_moves_the_table(wakeup):
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    dynamodb.create_table(TableName="visits", BillingMode="PAY_PER_REQUEST",
                          AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                          KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                          StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
    dynamodb.put_item(TableName="visits", Item={"k": {"S": "1"}})
    dynamodb.update_item(TableName="visits", Key={"k": {"S": "1"}}, UpdateExpression="SET n = :n",
                         ExpressionAttributeValues={":n": {"N": "1"}})
    assert wakeup.generation("visits") == 2


def test_uninstall_gives_moto_its_code_back():
    from moto.dynamodb.models.table import StreamShard
    from moto.sqs.models import Queue

    before = (Queue.add_message, StreamShard.add)
    moto_wakeups.install(Wakeup())
    assert (Queue.add_message, StreamShard.add) != before
    moto_wakeups.uninstall()
    assert (Queue.add_message, StreamShard.add) == before


def test_a_later_stack_s_wakeup_is_the_one_told(wakeup):
    later = Wakeup()
    moto_wakeups.install(later)
    sqs = boto3.client("sqs", region_name="us-east-1")
    sqs.send_message(QueueUrl=sqs.create_queue(QueueName="work")["QueueUrl"], MessageBody="1")
    assert later.generation("work") == 1 and wakeup.generation("work") == 0
