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


DECIMAL_SHAPES = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False),
    st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=Decimal("-1e9"), max_value=Decimal("1e9")),
    st.sampled_from([Decimal("0"), Decimal("-0"), Decimal("0E-7"), Decimal("-0.00"), Decimal("1E+2"), Decimal("1.0E-7"),
                     Decimal("0.000001"), Decimal("0.0000001"), Decimal("1" * 38), Decimal("1" * 39), Decimal("-" + "9" * 37),
                     Decimal("1." + "5" * 37), Decimal("1." + "5" * 36), Decimal("123.4500"), Decimal("-98.1987650")]),
)


@given(DECIMAL_SHAPES)
def test_a_decimal_is_written_as_storable_makes_it(value):
    """Amounts and coordinates skip storable() when it would not change them; the text is the same."""
    try:
        expected = {"v": {"N": str(storable(value))}}
    except ValueError:  # too large to store: refused either way
        expected = None
    try:
        assert to_wire({"v": value}) == expected
    except ValueError:
        assert expected is None


def test_what_no_number_can_be_is_refused():
    for value in (Decimal("NaN"), Decimal("sNaN"), Decimal("Infinity"), Decimal("-Infinity"), Decimal("1E+200")):
        try:
            to_wire({"v": value})
        except ValueError:
            continue
        raise AssertionError(f"{value} was written")


def test_decimals_are_written_the_same_whatever_the_contexts_capitals():
    from decimal import localcontext

    with localcontext() as context:
        context.capitals = 0  # str() writes "1e-200"
        assert to_wire({"v": Decimal("1e-200"), "w": Decimal("12.50")}) == {"v": {"N": "0"}, "w": {"N": "12.50"}}
        try:
            to_wire({"v": Decimal("1e+200")})
        except ValueError:
            return
        raise AssertionError("1e+200 was written")
