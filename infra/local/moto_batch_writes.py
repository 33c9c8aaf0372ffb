"""A ``BatchWriteItem`` of plain puts on the local stack at the cost of storing its items.

A first upload of 200,000 accounts sends 8,000 ``BatchWriteItem`` requests of 25 new accounts,
and moto spent most of its time around them rather than in them (py-spy on ``make serve``,
issue 14): Flask and moto's dispatch about a quarter, request parsing a fifth, and in the
batch itself a JSON dump of every item to look for duplicates, and per item a walk of every value
for its type and of every key for its size, all before the item is stored.

``answer`` serves such a request directly, under the server's DynamoDB lock, when it can show
that moto would store every item and answer success:

- the request is a botocore-style POST to ``/`` (no query string, a ``x-amz-json`` content type,
  no ``Origin``), its body strict UTF-8 JSON ``{"RequestItems": ...}`` only, naming one table that
  exists, each entry a ``PutRequest`` of an ``Item``, 1 to 25 of them, with no key twice; no
  escaped surrogate (moto fails on a lone one) and no ``Action=`` in the body (moto's form
  parsing would read it as the operation). The body is read by orjson (131 us for a batch of 25
  accounts, against 228 us for ``json.loads``, moto's reader). orjson is the stricter (no
  ``NaN`` or ``Infinity``; a whole number over 64 bits read as a float, which no plain value
  is), and what it refuses goes to moto;
- every attribute value is plain: a string, a number written as a plain decimal of at most 38
  digits each side of the point (so moto's number check passes), a boolean, a null, or a
  non-empty set of strings or of such numbers;
- each item has its table's keys, of the key's type, not empty and within the key size limits,
  and no index key attribute holds an empty string;
- the region and account are read as moto reads them (the ``Authorization`` header's scope and
  access key); a request that names them any other way (``MOTO_ACCOUNT_ID``, an
  ``x-moto-account-id`` header, an AWS host name or a region in the user agent) goes to moto, as
  does every request while moto's IAM checks or its CORS switch are configured.

The items are then stored as moto's ``Table.put_item`` stores them: one moto ``Item`` each
(attributes typed as moto types them, in a ``LimitedSizeDict``), in the request's order, each
table's stream told of the old and the new image. The item size limit needs no count when the
body is shorter than it: moto's size of an item (UTF-8 bytes of names and strings, the digits of
numbers, 1 for a boolean or null) never exceeds the JSON that carries it; in a longer body each
item is built by moto's ``Item`` (``moto_items``' single count), and an oversized one sends the
request to moto. The answer is moto's, byte for byte, with its headers (request id, CRC32).

Anything else returns None and the request goes to moto, which answers as it always has,
errors included: nothing has been stored by then. ``tests/local/emulator/test_moto_batch_writes.py``
compares stored items, streams and answers with moto's own for batches of every kind.
"""
from __future__ import annotations

import json
import os
import re
import zlib
from typing import Any

import orjson

from infra.local.moto_items import ITEM_SIZE_LIMIT

TARGET = "DynamoDB_20120810.BatchWriteItem"
MAX_PUTS = 25
#: A number moto's check accepts as it is: at most 38 digits before and after the point, no exponent.
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]{0,37})(?:\.[0-9]{1,38})?")
_SCOPE = re.compile(r"^AWS4-HMAC-SHA256 Credential=[A-Za-z0-9]+/[0-9]{8}/([a-z0-9-]+)/dynamodb/aws4_request,")
_HASH_KEY_MAX_BYTES = 2048
_RANGE_KEY_MAX_BYTES = 1024


class _NotPlain(Exception):
    """The request is not one this path serves: moto answers it."""


_JSON_TYPES = ("application/x-amz-json-1.0", "application/x-amz-json-1.1")


def answer(environ: dict, body: bytes) -> tuple[str, list[tuple[str, str]], bytes] | None:
    """(status, headers, payload) of a BatchWriteItem stored here, or None: moto must answer it.

    Call with the server's DynamoDB lock held and the whole body read."""
    if (environ.get("REQUEST_METHOD") != "POST" or environ.get("PATH_INFO") != "/" or environ.get("QUERY_STRING")
            or environ.get("CONTENT_TYPE") not in _JSON_TYPES or environ.get("HTTP_ORIGIN")
            or b"\\ud" in body.lower() or b"Action=" in body):
        return None
    try:
        backend, region_account = _backend(environ)
        puts = _puts(orjson.loads(body), backend, large=len(body) > ITEM_SIZE_LIMIT)
    except (_NotPlain, ValueError, TypeError, AttributeError, KeyError):
        return None
    from moto.iam.models import mark_account_as_visited

    mark_account_as_visited(account_id=region_account[1], access_key=region_account[2], service="dynamodb",
                            region=region_account[0])
    tables: list[str] = []
    for table, item in puts:
        _store(table, item)
        if table.name not in tables:
            tables.append(table.name)
    return _success(tables)


def _backend(environ: dict) -> tuple[Any, tuple[str, str, str]]:
    from moto import settings
    from moto.core.responses import BaseResponse
    from moto.dynamodb.models import dynamodb_backends
    from moto.iam.models import get_account_id_from

    if "MOTO_ACCOUNT_ID" in os.environ or "HTTP_X_MOTO_ACCOUNT_ID" in environ:
        raise _NotPlain
    if settings.INITIAL_NO_AUTH_ACTION_COUNT != float("inf") or settings.DISABLE_GLOBAL_CORS:
        raise _NotPlain  # moto's IAM checks count and check requests; its CORS headers differ
    host = environ.get("HTTP_HOST") or ""
    if BaseResponse.region_regex.search(f"http://{host}{environ.get('PATH_INFO') or ''}"):
        raise _NotPlain
    if BaseResponse.region_from_useragent_regex.search(environ.get("HTTP_USER_AGENT") or ""):
        raise _NotPlain
    authorization = environ.get("HTTP_AUTHORIZATION") or ""
    scope = _SCOPE.match(authorization)
    if scope is None:
        raise _NotPlain
    key = BaseResponse.access_key_regex.search(authorization)
    access_key, region = (key.group(1) if key else "AKIAEXAMPLE"), scope.group(1)  # as moto's get_access_key
    account = get_account_id_from(access_key)
    return dynamodb_backends[account][region], (region, account, access_key)


def _puts(request: Any, backend: Any, *, large: bool) -> list[tuple[Any, Any]]:
    """Every put of the request as (moto table, moto Item), or _NotPlain."""
    if type(request) is not dict or request.keys() != {"RequestItems"} or type(request["RequestItems"]) is not dict:
        raise _NotPlain
    if len(request["RequestItems"]) != 1:
        raise _NotPlain  # moto looks for the same item twice across tables: one table here
    puts: list[tuple[Any, Any]] = []
    for table_name, writes in request["RequestItems"].items():
        table = backend.tables.get(table_name)
        if table is None or type(writes) is not list or not writes:
            raise _NotPlain
        rules = _Rules(table)
        seen: set[tuple[Any, Any]] = set()
        for write in writes:
            if type(write) is not dict or write.keys() != {"PutRequest"}:
                raise _NotPlain
            if len(puts) == MAX_PUTS:
                raise _NotPlain
            put = write["PutRequest"]
            if type(put) is not dict or put.keys() != {"Item"} or type(put["Item"]) is not dict:
                raise _NotPlain
            item = _item(rules, put["Item"], large=large)
            key = (item.hash_key, item.range_key)
            if key in seen:
                raise _NotPlain  # moto decides what a batch with a key twice means
            seen.add(key)
            puts.append((table, item))
    return puts


class _Rules:
    """What moto checks of a put into `table`: its keys, and the key attributes of its indexes."""

    def __init__(self, table: Any) -> None:
        self.table = table
        self.index_keys = set(table.attribute_keys)  # none may be an empty string
        # moto checks the size of every index key attribute too, as a hash or a range key
        self.sized = [(name, _HASH_KEY_MAX_BYTES) for name in table.hash_key_names]
        self.sized += [(name, _RANGE_KEY_MAX_BYTES) for name in table.range_key_names]


def _item(rules: _Rules, attrs: dict, *, large: bool) -> Any:
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict

    table, index_keys = rules.table, rules.index_keys

    typed = {}
    for name, value in attrs.items():
        if type(value) is not dict or len(value) != 1:
            raise _NotPlain
        ((kind, content),) = value.items()
        if not _plain(kind, content) or (kind == "S" and content == "" and name in index_keys):
            raise _NotPlain
        dynamo = DynamoType.__new__(DynamoType)  # what DynamoType(value) makes of a plain value
        dynamo.type, dynamo.value = kind, content
        typed[name] = dynamo
    for name, max_bytes in rules.sized:
        value = typed.get(name)
        if value is not None and value.size() > max_bytes:
            raise _NotPlain
    hash_key = _key(typed, table.hash_key_attr, table.hash_key_type)
    range_key = _key(typed, table.range_key_attr, table.range_key_type) if table.range_key_attr is not None else None
    if large:
        from moto.dynamodb.exceptions import ItemSizeTooLarge

        try:
            return Item(hash_key, range_key, attrs)  # moto's own count of the size (moto_items' when installed)
        except ItemSizeTooLarge:
            raise _NotPlain from None  # moto refuses it, with its own answer
    item = Item.__new__(Item)
    item.hash_key, item.range_key = hash_key, range_key
    item.attrs = LimitedSizeDict()
    dict.update(item.attrs, typed)  # no size check per attribute: the body is within the limit
    return item


def _plain(kind: str, content: Any) -> bool:
    if kind == "S":
        return type(content) is str
    if kind == "N":
        return type(content) is str and _NUMBER.fullmatch(content) is not None
    if kind == "BOOL":
        return type(content) is bool
    if kind == "NULL":
        return content is True
    if kind == "SS":
        return type(content) is list and bool(content) and all(type(member) is str for member in content)
    if kind == "NS":
        return (type(content) is list and bool(content)
                and all(type(member) is str and _NUMBER.fullmatch(member) is not None for member in content))
    return False


def _key(typed: dict, name: str, kind: str) -> Any:
    from moto.dynamodb.models.dynamo_type import DynamoType

    value = typed.get(name)
    if value is None or value.type != kind or value.value == "":
        raise _NotPlain
    key = DynamoType.__new__(DynamoType)  # its own object, as moto's DynamoType(item[name])
    key.type, key.value = value.type, value.value
    return key


def _store(table: Any, item: Any) -> None:
    """What moto's Table.put_item does with an item it accepted (no condition, no expectation)."""
    if item.range_key is not None:
        partition = table.items[item.hash_key]
        current = partition.get(item.range_key)
        partition[item.range_key] = item
    else:
        current = table.items.get(item.hash_key)
        table.items[item.hash_key] = item
    if table.stream_shard is not None:
        table.stream_shard.add(current, item)


def _success(tables: list[str]) -> tuple[str, list[tuple[str, str]], bytes]:
    from moto.utilities.aws_headers import gen_amzn_requestid_long

    payload = json.dumps({
        "UnprocessedItems": {},
        "ItemCollectionMetrics": {},
        "ConsumedCapacity": [{"TableName": name, "CapacityUnits": 1.0, "Table": {"CapacityUnits": 1.0}}
                             for name in tables],
    }).encode()
    return "200 OK", [
        ("Content-Type", "application/x-amz-json-1.0"),
        ("server", "amazon.com"),
        ("x-amzn-requestid", gen_amzn_requestid_long()),
        ("x-amz-crc32", str(zlib.crc32(payload) & 0xFFFFFFFF)),
        ("Content-Length", str(len(payload))),
        ("Access-Control-Allow-Origin", "*"),
    ], payload
