"""A DynamoDB item built on the local stack at the cost of its size, not its size squared.

moto (5.x) builds an item attribute by attribute into a ``LimitedSizeDict`` that checks the
400 KB limit on each insertion by adding up the size of every attribute already there: an
account of 39 attributes costs 780 attribute sizes to build, 65 % of moto's time in a
``BatchWriteItem`` of new accounts (issue 14). Here the item's attributes are typed once, the limit
is checked once on their total (the same test as moto's last insertion, as sizes only add), and
they go into the same ``LimitedSizeDict``, so later updates are still checked as moto checks
them.

Reading items back costs moto, per item of a Query page, its size twice (for the 1 MB page
limit: a method call per attribute through its type tests) and a deep copy (a ``deepcopy``
dispatch per attribute): 57 % of the stack's time when a second day's file of 200,000 accounts
is read back (py-spy). Here an item's size adds up a string's, number's, boolean's or null's
size inline and asks moto for any other; a copy makes each string, number, boolean, null or
binary attribute anew with the same value (immutable) and the same type, copies a set's list,
and leaves anything else to moto's ``deepcopy``. Sizes and copies are the same as moto's.

``install()`` is idempotent; ``uninstall()`` restores moto's code.
tests/local/emulator/test_moto_items.py checks that items, refusals, sizes and copies are moto's own.
"""

from __future__ import annotations

import copy
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


_SCALARS = frozenset({"S", "N", "B", "BOOL", "NULL"})
_SETS = frozenset({"SS", "NS", "BS"})


def size(item: Any) -> int:
    """moto's ``Item.size()``: UTF-8 bytes of names and strings, characters of numbers, 1 for a
    boolean or null, bytes of binary; moto's own ``DynamoType.size`` for anything else."""
    total = 0
    for name, value in item.attrs.items():
        total += len(name) if name.isascii() else len(name.encode("utf-8"))
        kind, content = value.type, value.value
        if kind == "S" and type(content) is str:
            total += len(content) if content.isascii() else len(content.encode("utf-8"))
        elif kind == "N":
            total += len(str(content))
        elif type(content) is bool:  # BOOL, and NULL (moto keeps True)
            total += 1
        else:
            total += value.size()
    return total


def _deepcopy(original: Any) -> Any:
    from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict

    new_value = DynamoType.__new__

    @functools.wraps(original)
    def deepcopy(self: Any, memo: dict[int, Any]) -> Any:
        if id(self) in memo:
            return memo[id(self)]
        result = self.__class__.__new__(self.__class__)
        memo[id(self)] = result
        result.hash_key = copy.deepcopy(self.hash_key, memo)
        result.range_key = copy.deepcopy(self.range_key, memo)
        attrs = LimitedSizeDict.__new__(LimitedSizeDict)
        dict.__init__(attrs)
        for name, value in self.attrs.items():
            kind = value.type
            if id(value) in memo:  # shared with a key (or another attribute): shared in the copy, as with moto
                copied = memo[id(value)]
            elif kind in _SCALARS and type(value) is DynamoType:
                copied = new_value(DynamoType)
                copied.type, copied.value = kind, value.value  # str, bool or bytes: immutable
            elif kind in _SETS and type(value) is DynamoType and type(value.value) is list:
                copied = new_value(DynamoType)
                copied.type, copied.value = kind, list(value.value)  # as moto copies a set
            else:
                copied = copy.deepcopy(value, memo)
            memo[id(value)] = copied
            dict.__setitem__(attrs, name, copied)
        result.attrs = attrs
        return result

    return deepcopy


def install() -> None:
    from moto.dynamodb.models.dynamo_type import Item

    if _ORIGINAL:
        return
    _ORIGINAL.update(init=Item.__init__, size=Item.size, deepcopy=Item.__deepcopy__)
    Item.__init__ = _init(Item.__init__)  # type: ignore[method-assign]
    Item.size = size  # type: ignore[method-assign]
    Item.__deepcopy__ = _deepcopy(Item.__deepcopy__)  # type: ignore[method-assign]


def uninstall() -> None:
    from moto.dynamodb.models.dynamo_type import Item

    if not _ORIGINAL:
        return
    Item.__init__ = _ORIGINAL.pop("init")  # type: ignore[method-assign]
    Item.size = _ORIGINAL.pop("size")  # type: ignore[method-assign]
    Item.__deepcopy__ = _ORIGINAL.pop("deepcopy")  # type: ignore[method-assign]
