"""accounts.store.to_wire: an account's attributes as DynamoDB stores them, written by hand for
strings and numbers; the same as boto3's serializer gives (numbers made storable first), and
empty values left out."""
from __future__ import annotations

from decimal import Decimal

from boto3.dynamodb.types import TypeSerializer
from hypothesis import given
from hypothesis import strategies as st

from cobranza.accounts.store import from_wire, to_wire
from cobranza.core.numbers import storable

NUMBERS = st.one_of(st.integers(min_value=-10**60, max_value=10**60),
                    st.decimals(allow_nan=False, allow_infinity=False, min_value=Decimal("-1e100"), max_value=Decimal("1e100")))
VALUES = st.one_of(st.none(), st.text(max_size=6), NUMBERS, st.booleans(), st.just({}),
                   st.lists(st.text(max_size=3), max_size=2), st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2))


def _boto3(value):
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        value = storable(value)
    return TypeSerializer().serialize(value)


@given(st.dictionaries(st.text(min_size=1, max_size=6), VALUES, max_size=12))
def test_every_value_is_what_boto3s_serializer_writes_and_empty_ones_are_left_out(item):
    expected = {k: _boto3(v) for k, v in item.items() if v is not None and v != "" and v != {}}
    assert to_wire(item) == expected


def test_a_whole_number_of_39_digits_is_rounded_as_dynamodb_keeps_it():
    assert to_wire({"n": 10**38 + 1}) == {"n": {"N": str(storable(10**38 + 1))}}
    assert len(str(storable(10**38 + 1)).split("E")[0].replace(".", "")) == 38
    assert to_wire({"n": 10**38 - 1}) == {"n": {"N": str(10**38 - 1)}}
    assert from_wire(to_wire({"n": -(10**38) + 1, "zero": 0, "neg": Decimal("-0.00")})) == {
        "n": Decimal(-(10**38) + 1), "zero": 0, "neg": 0}
