"""A DynamoDB item built on the local stack at the cost of its size, not its size squared.

moto (5.x) builds an item attribute by attribute into a ``LimitedSizeDict`` that checks the
400 KB limit on each insertion by adding up the size of every attribute already there: an
account of 39 attributes costs 780 attribute sizes to build, 65 % of moto's time in a
``BatchWriteItem`` of new accounts (issue 14). Here the item's attributes are typed once, the limit
is checked once on their total (the same test as moto's last insertion, as sizes only add), and
they go into the same ``LimitedSizeDict``, so later updates are still checked as moto checks
them. ``install()`` is idempotent; ``uninstall()`` restores moto's code.
tests/local/emulator/test_moto_items.py checks that items and refusals are moto's own.
"""

from __future__ import annotations

import functools
from typing import Any

_ORIGINAL: dict[str, Any] = {}
#: moto's limit (its LimitedSizeDict): between DynamoDB's documented 400 KB and what it accepts.
ITEM_SIZE_LIMIT = 405_000


def _init(original: Any) -> Any:
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict
    from moto.dynamodb.models.utilities import bytesize

    @functools.wraps(original)
    def init(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
        self.hash_key = hash_key
        self.range_key = range_key
        typed = {key: DynamoType(value) for key, value in attrs.items()}
        if sum(bytesize(key) + value.size() for key, value in typed.items()) > ITEM_SIZE_LIMIT:
            raise ItemSizeTooLarge
        self.attrs = LimitedSizeDict()
        dict.update(self.attrs, typed)  # dict's own update: no check per attribute

    return init


def install() -> None:
    from moto.dynamodb.models.dynamo_type import Item

    if _ORIGINAL:
        return
    _ORIGINAL["init"] = Item.__init__
    Item.__init__ = _init(Item.__init__)  # type: ignore[method-assign]


def uninstall() -> None:
    from moto.dynamodb.models.dynamo_type import Item

    if not _ORIGINAL:
        return
    Item.__init__ = _ORIGINAL.pop("init")  # type: ignore[method-assign]
