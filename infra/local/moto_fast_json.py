"""DynamoDB's item answers on the local stack at the cost of ``json.dumps``.

moto (5.x) turns every answer into its wire form with a generic serializer that walks the
operation's output shape in Python, node by node: about 20 µs per attribute value, so an answer
of 100 accounts costs moto more than finding them (on the local stack, 80% of a night's time was
moto's serializer). A DynamoDB item answer is already in wire form when moto hands it over
(attribute values as ``{"S": ...}``, numbers as strings), so for the operations below the local
stack writes it with ``json.dumps``: binary values base64-encoded as the serializer does, and
only the output shape's top-level members kept (moto's results carry a few more, which the
serializer drops). Every other operation, and every error, goes through moto's serializer.
``tests/local/emulator/test_moto_fast_json.py`` checks both answer the same. ``install()`` is
idempotent; ``uninstall()`` restores moto's code.
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


def install() -> None:
    from moto.dynamodb.responses import DynamoResult

    if "execute_result" in _ORIGINAL:
        return
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
    from moto.dynamodb.responses import DynamoResult

    if "execute_result" in _ORIGINAL:
        DynamoResult.execute_result = _ORIGINAL.pop("execute_result")  # type: ignore[method-assign]
