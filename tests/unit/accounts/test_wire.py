"""accounts.store.to_wire: an account's attributes as DynamoDB stores them, written by hand for
strings and numbers; the same as boto3's serializer gives (numbers made storable first), and
empty values left out."""
from __future__ import annotations

from decimal import Decimal

from boto3.dynamodb.types import TypeSerializer
from hypothesis import example, given
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


# ---------------------------------------------------------------- from_wire
def _deserialized(value):
    """boto3's deserializer as the store configures it (a number it cannot read exactly reads as itself)."""
    from cobranza.accounts.store import _deserializer

    try:
        return ("value", _deserializer.deserialize(value))
    except Exception as error:  # noqa: BLE001  # the same failure is expected of from_wire
        return ("error", type(error))


def _read(value):
    try:
        return ("value", from_wire({"v": value})["v"])
    except Exception as error:  # noqa: BLE001
        return ("error", type(error))


NUMBER_TEXTS = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.sampled_from(["0", "-0", "0.00", "1E+2", "1e-300", "1" * 38, "1" * 39, "-" + "9" * 37, "0." + "0" * 36 + "1",
                     "12.50", "NaN", "Infinity", "-Infinity", " 7 ", "1_000", "abc", "", "1.2.3", "٣"]),
    st.text(max_size=40),
)
WIRE_VALUES = st.one_of(
    st.builds(lambda t: {"S": t}, st.text(max_size=8)),
    st.builds(lambda t: {"N": t}, NUMBER_TEXTS),
    st.builds(lambda b: {"BOOL": b}, st.booleans()),
    st.just({"NULL": True}),
    st.builds(lambda t: {"SS": t}, st.lists(st.text(max_size=3), min_size=1, max_size=3)),
    st.builds(lambda t: {"NS": t}, st.lists(st.sampled_from(["1", "2.5", "-3"]), min_size=1, max_size=3, unique=True)),
    st.builds(lambda t: {"L": [{"S": x} for x in t]}, st.lists(st.text(max_size=3), max_size=3)),
    st.builds(lambda t: {"M": {k: {"N": "1"} for k in t}}, st.lists(st.text(max_size=3), max_size=3)),
    st.just({"B": b"\x00\x01"}),
    st.just({"S": "x", "N": "1"}),  # not a value DynamoDB sends: whatever the deserializer makes of it
    st.just({"N": 5}),
    st.just({}),
    st.sampled_from([5, True, "S", ["S"], None]),  # not a value at all: the deserializer's failure
)


@given(WIRE_VALUES)
@example({"N": "12.50"})
@example({"N": "0.00"})
@example({"N": "-0"})
@example({"N": "1" * 39})
@example({"N": "1e-300"})
@example({"N": "abc"})
@example({"N": " 7 "})
@example({"N": "1_000"})
@example({"NULL": True})
@example({"S": "x", "N": "1"})
@example({"N": "1", "S": "x"})
@example({"BOOL": 1})
@example({"BOOL": "x"})
@example({"S": None})
@example(5)
@example(["S"])
def test_every_value_reads_as_boto3s_deserializer_reads_it(value):
    """from_wire reads strings, plain numbers and booleans by hand; the value, its type and (for a
    number) its exact digits and exponent are the deserializer's, and so is any failure."""
    expected, got = _deserialized(value), _read(value)
    assert got == expected or (got[0] == expected[0] == "value" and got[1] != got[1] and expected[1] != expected[1])
    assert type(got[1]) is type(expected[1])
    if isinstance(expected[1], Decimal):
        assert repr(got[1]) == repr(expected[1])


def test_an_account_reads_back_as_it_was_written():
    account = {"account_id": "A-1", "debtor_name": "Verónica Ramos", "balance": Decimal("10929.90"),
               "lat": Decimal("27.481290"), "lon": Decimal("-109.929857"), "given_risk_score": 55,
               "whatsapp_opt_in": False, "tags": ["a"], "attributes": {"plan": "b"}}
    assert from_wire(to_wire(account)) == account
    assert repr(from_wire(to_wire(account))["balance"]) == "Decimal('10929.90')"
