"""DynamoDB's item answers on the local stack at the cost of ``json.dumps``.

moto (5.x) turns every answer into its wire form with a generic serializer that walks the
operation's output shape in Python, node by node: about 20 µs per attribute value, so an answer
of 100 accounts costs moto more than finding them (on the local stack, 80% of a night's time was
moto's serializer). A DynamoDB item answer is already in wire form when moto hands it over
(attribute values as ``{"S": ...}``, numbers as strings), so for the operations below the local
stack writes it with ``json.dumps``: binary values base64-encoded as the serializer does, and
only the output shape's top-level members kept (moto's results carry a few more, which the
serializer drops). Every other operation, and every error, goes through moto's serializer.

Requests, likewise: moto parses each one through the operation's input shape, and an attribute
value (a structure of ten possible members) costs it a pass over all ten: 41 % of moto's time in
a ``BatchWriteItem`` of new accounts. A map of attribute values (an item, a key, expression
values) is read here value by value: a string, number, boolean, null or string/number set is
already what moto's parser makes of it, so it is copied as is; anything else (binary, a list, a
map, a malformed value) goes through moto's parser.

Before either, moto turns its result into plain data (``dynamo_to_dict``) with a type test, a
``hasattr`` and an import per node of the result (a Query's items are its ``LimitedSizeDict`` of
``DynamoType`` values); here dicts (an item's included), lists, strings, numbers, booleans, nulls
and attribute values holding a string, a boolean or a list of strings are made directly, and
anything else (binary values, moto's other types) goes to moto's function: the same data.

``tests/local/emulator/test_moto_fast_json.py`` checks answers, parses and that data are the same.
``install()`` is idempotent; ``uninstall()`` restores moto's code.
"""

from __future__ import annotations

import base64
import functools
import json
from typing import Any

#: Operations whose answers are attribute values and counts (no timestamps, no nested shapes
#: that the serializer would transform). moto answers BatchWriteItem and TransactWriteItems
#: through other result classes; their answers are small.
FAST_OPERATIONS = frozenset({"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem",
                             "TransactGetItems"})
_ORIGINAL: dict[str, Any] = {}


def _binary(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"{type(value).__name__} has no JSON form here")


def answer(operation: Any, result: Any) -> str:
    """The body of ``result`` for ``operation`` (a botocore OperationModel), as the serializer would write it."""
    members = operation.output_shape.members if operation.output_shape is not None else {}
    kept = {k: v for k, v in result.items() if k in members and v is not None} if isinstance(result, dict) else {}
    return json.dumps(kept, default=_binary, separators=(",", ":"))


#: Attribute value members that moto's parser keeps as they are: (member, the JSON type it holds).
_PLAIN_SCALARS = {"S": str, "N": str, "BOOL": bool, "NULL": bool}
_PLAIN_SETS = ("SS", "NS")


def plain_value(value: Any) -> dict[str, Any] | None:
    """``value`` as moto's parser would make it, when it is a plain attribute value; else None."""
    if type(value) is not dict or len(value) != 1:
        return None
    for member, inner in value.items():
        kind = _PLAIN_SCALARS.get(member)
        if kind is not None:
            return {member: inner} if type(inner) is kind else None
        if member in _PLAIN_SETS and type(inner) is list and all(type(v) is str for v in inner):
            return {member: list(inner)}
    return None


def _install_parser() -> None:
    from moto.core.parse import BaseJSONParser

    original: Any = BaseJSONParser._parse_map
    _ORIGINAL["_parse_map"] = original
    _ORIGINAL["_parse_map_own"] = "_parse_map" in vars(BaseJSONParser)  # else inherited: deleted again

    @functools.wraps(original)
    def parse_map(self: Any, shape: Any, value: Any) -> Any:
        value_shape, key_shape = shape.value, shape.key
        # Keys are attribute names: strings, which this parser keeps as they are.
        if value_shape.name != "AttributeValue" or type(value) is not dict or key_shape.type_name != "string" \
                or hasattr(self, "_parse_string"):
            return original(self, shape, value)
        parsed = self.MAP_TYPE()
        for key, val in value.items():
            if type(val) is dict and len(val) == 1:  # the common case, inline: plain_value() without a call
                for member, inner in val.items():
                    if type(inner) is str and (member == "S" or member == "N"):
                        parsed[key] = {member: inner}
                        break
                else:
                    plain = plain_value(val)
                    parsed[key] = plain if plain is not None else self._parse_shape(value_shape, val)
                continue
            parsed[key] = self._parse_shape(value_shape, val)
        return parsed

    BaseJSONParser._parse_map = parse_map  # type: ignore[method-assign]


def _plain_data(original: Any) -> Any:
    from moto.dynamodb.models.dynamo_type import DynamoType

    @functools.wraps(original)
    def dynamo_to_dict(obj: Any) -> Any:
        kind = type(obj)
        if kind is DynamoType:
            member, value = obj.type, obj.value
            if member != "B" and member != "BS":  # binary: moto decodes it
                inner = type(value)
                if inner is str or inner is bool:
                    return {member: value}
                if inner is list and all(type(v) is str for v in value):
                    return {member: list(value)}
            return original(obj)
        if kind is dict or (isinstance(obj, dict) and not hasattr(obj, "to_json")):  # an item's LimitedSizeDict too
            return {key: dynamo_to_dict(value) for key, value in obj.items()}
        if kind is list:
            return [dynamo_to_dict(value) for value in obj]
        if kind is str or kind is bool or kind is int or obj is None:
            return obj
        return original(obj)  # moto's other types (Item), datetimes, other subclasses

    return dynamo_to_dict


def install() -> None:
    from moto.dynamodb import responses
    from moto.dynamodb.responses import DynamoResult

    if "execute_result" in _ORIGINAL:
        return
    _install_parser()
    _ORIGINAL["dynamo_to_dict"] = responses.dynamo_to_dict
    responses.dynamo_to_dict = _plain_data(responses.dynamo_to_dict)
    original = DynamoResult.execute_result
    _ORIGINAL["execute_result"] = original

    @functools.wraps(original)
    def execute_result(self: Any, context: Any) -> Any:
        operation = context.operation_model
        if operation.name not in FAST_OPERATIONS or isinstance(self.result, Exception):
            return original(self, context)
        return 200, {"Content-Type": "application/x-amz-json-1.0"}, answer(operation, self.result)

    DynamoResult.execute_result = execute_result  # type: ignore[method-assign]


def uninstall() -> None:
    from moto.core.parse import BaseJSONParser
    from moto.dynamodb.responses import DynamoResult

    if "_parse_map" in _ORIGINAL:
        original = _ORIGINAL.pop("_parse_map")
        if _ORIGINAL.pop("_parse_map_own"):
            BaseJSONParser._parse_map = original  # type: ignore[method-assign]
        else:
            del BaseJSONParser._parse_map
    if "execute_result" in _ORIGINAL:
        DynamoResult.execute_result = _ORIGINAL.pop("execute_result")  # type: ignore[method-assign]
    if "dynamo_to_dict" in _ORIGINAL:
        from moto.dynamodb import responses

        responses.dynamo_to_dict = _ORIGINAL.pop("dynamo_to_dict")
