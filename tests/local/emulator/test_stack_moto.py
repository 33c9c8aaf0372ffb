"""Where the local stack corrects moto to behave as AWS: the signed policy of a POST upload is
enforced, and DynamoDB holds up under concurrent requests (infra/local/moto_server.py)."""

from __future__ import annotations

import base64
import json
import sys
import threading
from xml.etree import ElementTree

import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

MB = 1024 * 1024
TENANT_KEY = "portfolios/t-001/up_0123456789-cartera.csv"
CSV = b"cuenta,saldo\n1,10.00\n"


def _upload_post(stack, key=TENANT_KEY, expires_in=900, max_bytes=MB):
    """A presigned POST as the API's `POST /v1/uploads` issues it (api/routes.py::create_upload)."""
    return stack.client("s3").generate_presigned_post(
        Bucket=stack.bucket, Key=key, Fields={"x-amz-meta-upload-id": "up_0123456789"},
        Conditions=[{"x-amz-meta-upload-id": "up_0123456789"}, ["content-length-range", 1, max_bytes]],
        ExpiresIn=expires_in,
    )


def _photo_post(stack, content_type="image/jpeg", max_bytes=MB):
    """A presigned POST as the API's `POST /v1/me/photos` issues it (visits/tasks.py::photo_upload)."""
    key = "visits/t-001/v-1/ph_0123456789abcdef.jpg"
    return stack.client("s3").generate_presigned_post(
        Bucket=stack.bucket, Key=key, Fields={"Content-Type": content_type},
        Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, max_bytes]], ExpiresIn=300,
    )


def _send(post, fields=None, body=CSV, filename="cartera.csv", content_type="text/csv"):
    form = dict(post["fields"], **(fields or {}))
    return requests.post(post["url"], data=form, files={"file": (filename, body, content_type)}, timeout=30)


def _error(response):
    assert response.headers["Content-Type"] == "application/xml"
    root = ElementTree.fromstring(response.content)
    return {child.tag: child.text for child in root}


def _exists(stack, key):
    try:
        stack.client("s3").head_object(Bucket=stack.bucket, Key=key)
    except ClientError:
        return False
    return True


def test_a_post_that_keeps_to_its_policy_is_stored(stack):
    response = _send(_upload_post(stack))

    assert response.status_code == 204, response.text
    head = stack.client("s3").head_object(Bucket=stack.bucket, Key=TENANT_KEY)
    assert head["Metadata"] == {"upload-id": "up_0123456789"} and head["ContentLength"] == len(CSV)


def test_a_key_changed_to_another_tenants_prefix_is_refused(stack):
    other = "portfolios/t-002/up_0123456789-cartera.csv"

    response = _send(_upload_post(stack), {"key": other})

    assert response.status_code == 403
    error = _error(response)
    assert error["Code"] == "AccessDenied"
    assert error["Message"] == f'Invalid according to Policy: Policy Condition failed: ["eq", "$key", "{TENANT_KEY}"]'
    assert error["RequestId"] and error["HostId"]
    assert not _exists(stack, other)


def test_a_key_outside_a_starts_with_prefix_is_refused_and_one_inside_is_stored(stack):
    post = stack.client("s3").generate_presigned_post(stack.bucket, "portfolios/t-001/${filename}")
    assert json.loads(base64.b64decode(post["fields"]["policy"]))["conditions"][1] == [
        "starts-with", "$key", "portfolios/t-001/"]

    refused = _send(post, {"key": "portfolios/t-002/${filename}"}, filename="robado.csv")
    stored = _send(post, filename="propio.csv")

    assert refused.status_code == 403 and _error(refused)["Message"].endswith(
        '["starts-with", "$key", "portfolios/t-001/"]')
    assert stored.status_code == 204 and _exists(stack, "portfolios/t-001/propio.csv")
    assert not _exists(stack, "portfolios/t-002/robado.csv")


def test_a_file_outside_the_content_length_range_is_refused(stack):
    too_large = _send(_upload_post(stack, max_bytes=10), body=b"x" * 11)
    empty = _send(_upload_post(stack), body=b"")

    assert too_large.status_code == 400 and _error(too_large) | {"RequestId": "", "HostId": ""} == {
        "Code": "EntityTooLarge", "Message": "Your proposed upload exceeds the maximum allowed size",
        "ProposedSize": "11", "MaxSizeAllowed": "10", "RequestId": "", "HostId": ""}
    assert empty.status_code == 400 and _error(empty)["Code"] == "EntityTooSmall"
    assert _error(empty)["MinSizeAllowed"] == "1"


def test_a_photo_with_another_content_type_is_refused(stack):
    post = _photo_post(stack)

    refused = _send(post, {"Content-Type": "text/html"}, body=b"<script>", filename="x.html", content_type="text/html")
    stored = _send(post, body=b"\xff\xd8\xff\xe0", filename="f.jpg", content_type="image/jpeg")

    assert refused.status_code == 403
    assert _error(refused)["Message"].endswith('["eq", "$content-type", "image/jpeg"]')
    assert stored.status_code == 204, stored.text


def test_an_expired_policy_is_refused(stack):
    response = _send(_upload_post(stack, expires_in=-1))

    assert response.status_code == 403
    assert _error(response) | {"RequestId": "", "HostId": ""} == {
        "Code": "AccessDenied", "Message": "Invalid according to Policy: Policy expired.", "RequestId": "", "HostId": ""}


@pytest.mark.parametrize("signature_version", ["s3", "s3v4"])
def test_a_bad_signature_or_a_rewritten_policy_is_refused(stack, signature_version):
    """boto3 signs a POST policy with SigV2 in us-east-1 (the API's clients), SigV4 when configured."""
    import boto3

    s3 = boto3.client("s3", endpoint_url=stack.aws_endpoint, region_name="us-east-1", aws_access_key_id="testing",
                      aws_secret_access_key="testing", config=Config(signature_version=signature_version))
    post = s3.generate_presigned_post(stack.bucket, TENANT_KEY, Conditions=[["content-length-range", 1, MB]])
    signature_field = "signature" if signature_version == "s3" else "x-amz-signature"
    assert signature_field in post["fields"]
    policy = json.loads(base64.b64decode(post["fields"]["policy"]))
    policy["conditions"] = [c if not (isinstance(c, dict) and "key" in c) else {"key": "portfolios/t-002/x.csv"}
                            for c in policy["conditions"]]
    rewritten = base64.b64encode(json.dumps(policy).encode()).decode()

    forged = _send(post, {signature_field: post["fields"][signature_field][::-1]})
    widened = _send(post, {"policy": rewritten, "key": "portfolios/t-002/x.csv"})
    genuine = _send(post)

    for response in (forged, widened):
        assert response.status_code == 403
        assert _error(response)["Code"] == "SignatureDoesNotMatch"
    assert _error(widened)["AWSAccessKeyId"] == "testing"
    assert not _exists(stack, "portfolios/t-002/x.csv")
    assert genuine.status_code == 204, genuine.text


def test_a_field_the_policy_does_not_name_is_refused_unless_it_is_ignored(stack):
    refused = _send(_upload_post(stack), {"x-amz-meta-tenant": "t-002"})
    ignored = _send(_upload_post(stack), {"x-ignore-tracker": "1"})

    assert refused.status_code == 403
    assert _error(refused)["Message"] == "Invalid according to Policy: Extra input fields: x-amz-meta-tenant"
    assert ignored.status_code == 204, ignored.text


def test_a_post_without_a_policy_is_anonymous_and_refused(stack):
    response = requests.post(f"{stack.aws_endpoint}/{stack.bucket}", data={"key": "portfolios/t-001/anon.csv"},
                             files={"file": ("anon.csv", CSV, "text/csv")}, timeout=30)

    assert response.status_code == 403 and _error(response)["Code"] == "AccessDenied"
    assert not _exists(stack, "portfolios/t-001/anon.csv")


def test_dynamodb_answers_concurrent_writes_and_queries_on_one_table(stack):
    """moto's Query walks every item of the table (`Table.all_items()`) while PutItem adds items and
    UpdateItem attributes in other server threads: without the local stack's lock, a thread switch
    inside that walk is a 500 ("dictionary changed size during iteration"). Switching threads as
    often as possible makes that race show within a few hundred requests (a few each run)."""
    config = Config(retries={"total_max_attempts": 1}, max_pool_connections=16)  # a 500 is not retried away
    ddb = stack.client("dynamodb")
    ddb.create_table(TableName="race", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "S"}])
    writes, errors, queries = 150, [], []
    writers_done = threading.Event()

    writers = [threading.Thread(target=_race_writer, args=(stack, config, n, writes, errors)) for n in range(4)]
    readers = [threading.Thread(target=_race_reader, args=(stack, config, writers_done, queries, errors))
               for _ in range(2)]
    _race(writers, readers, writers_done)

    assert errors == []
    assert queries, "no query ran alongside the writes"
    assert ddb.scan(TableName="race", Select="COUNT")["Count"] == 4 * writes + 4
    hot = ddb.query(TableName="race", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "hot"}})
    assert [len(item) for item in hot["Items"]] == [2 + writes // 10] * 4


def _race_client(stack, config):
    import boto3

    return boto3.client("dynamodb", endpoint_url=stack.aws_endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing", config=config)


def _race_writer(stack, config, n: int, writes: int, errors: list) -> None:
    """`writes` new items `p<n>-<i>` in table "race", and every tenth time a new attribute on the hot item `hot/<n>`."""
    db = _race_client(stack, config)
    for i in range(writes):
        try:
            db.put_item(TableName="race", Item={"pk": {"S": f"p{n}-{i}"}, "sk": {"S": "0"}})
            if i % 10 == 0:
                db.update_item(TableName="race", Key={"pk": {"S": "hot"}, "sk": {"S": str(n)}},
                               UpdateExpression="SET #a = :v", ExpressionAttributeNames={"#a": f"a{i}"},
                               ExpressionAttributeValues={":v": {"S": "v"}})
        except ClientError as exc:
            errors.append(f"write: {exc}")


def _race_reader(stack, config, writers_done: threading.Event, queries: list, errors: list) -> None:
    """Queries of the hot items until the writers are done."""
    db = _race_client(stack, config)
    while not writers_done.is_set():
        try:
            db.query(TableName="race", KeyConditionExpression="pk = :p",
                     ExpressionAttributeValues={":p": {"S": "hot"}})
            queries.append(1)
        except ClientError as exc:
            errors.append(f"query: {exc}")


def _race(writers: list[threading.Thread], readers: list[threading.Thread], writers_done: threading.Event) -> None:
    """The writers run to their end and the readers until then, threads switched as often as possible."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        for thread in writers + readers:
            thread.start()
        for thread in writers:
            thread.join()
    finally:
        writers_done.set()
        for thread in readers:
            thread.join()
        sys.setswitchinterval(interval)


@pytest.mark.parametrize("target", ["DynamoDB_20120810.Query", "DynamoDBStreams_20120810.GetRecords"])
def test_dynamodb_requests_are_the_ones_served_one_at_a_time(target):
    from infra.local.moto_server import _serialised

    assert _serialised({"HTTP_X_AMZ_TARGET": target, "PATH_INFO": "/"})
    assert _serialised({"PATH_INFO": "/moto-api/data.json"})
    assert not _serialised({"HTTP_X_AMZ_TARGET": "AmazonSQS.ReceiveMessage", "PATH_INFO": "/"})
    assert not _serialised({"PATH_INFO": "/cobranza-files-123456789012/in/a.csv"})


def _transaction_tables(stack):
    ddb = stack.client("dynamodb")
    for name, stream in (("tx-main", True), ("tx-other", False)):
        ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                               {"AttributeName": "sk", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                         **({"StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}}
                            if stream else {}))
    ddb.put_item(TableName="tx-main", Item={"pk": {"S": "a"}, "sk": {"S": "1"}, "n": {"N": "1"}})
    return ddb


def _stream_records(stack, table):
    streams = stack.client("dynamodbstreams")
    arn = stack.client("dynamodb").describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    return [r["eventName"] for r in streams.get_records(ShardIterator=iterator)["Records"]]


def test_a_cancelled_transaction_leaves_every_item_and_stream_as_it_was(stack):
    """The local server rolls a failed TransactWriteItems back item by item (moto_transactions.py):
    the writes before the failing condition are undone, and their stream records dropped."""
    ddb = _transaction_tables(stack)
    before = _stream_records(stack, "tx-main")
    with pytest.raises(ClientError) as raised:
        ddb.transact_write_items(TransactItems=[
            {"Update": {"TableName": "tx-main", "Key": {"pk": {"S": "a"}, "sk": {"S": "1"}},
                        "UpdateExpression": "SET n = :two", "ExpressionAttributeValues": {":two": {"N": "2"}}}},
            {"Put": {"TableName": "tx-main", "Item": {"pk": {"S": "b"}, "sk": {"S": "1"}}}},
            {"Put": {"TableName": "tx-other", "Item": {"pk": {"S": "c"}, "sk": {"S": "1"}}}},
            {"ConditionCheck": {"TableName": "tx-other", "Key": {"pk": {"S": "missing"}, "sk": {"S": "1"}},
                                "ConditionExpression": "attribute_exists(pk)"}},
        ])
    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
    item = ddb.get_item(TableName="tx-main", Key={"pk": {"S": "a"}, "sk": {"S": "1"}})["Item"]
    assert item["n"] == {"N": "1"}
    assert "Item" not in ddb.get_item(TableName="tx-main", Key={"pk": {"S": "b"}, "sk": {"S": "1"}})
    assert "Item" not in ddb.get_item(TableName="tx-other", Key={"pk": {"S": "c"}, "sk": {"S": "1"}})
    assert _stream_records(stack, "tx-main") == before

    ddb.transact_write_items(TransactItems=[
        {"Update": {"TableName": "tx-main", "Key": {"pk": {"S": "a"}, "sk": {"S": "1"}},
                    "UpdateExpression": "SET n = :two", "ExpressionAttributeValues": {":two": {"N": "2"}}}},
        {"Put": {"TableName": "tx-other", "Item": {"pk": {"S": "c"}, "sk": {"S": "1"}}}},
    ])
    assert ddb.get_item(TableName="tx-main", Key={"pk": {"S": "a"}, "sk": {"S": "1"}})["Item"]["n"] == {"N": "2"}
    assert "Item" in ddb.get_item(TableName="tx-other", Key={"pk": {"S": "c"}, "sk": {"S": "1"}})
    assert _stream_records(stack, "tx-main") == before + ["MODIFY"]
