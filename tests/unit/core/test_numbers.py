"""core.numbers: every number the platform stores is one DynamoDB keeps and boto3 reads back."""
from decimal import Decimal

import pytest
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from hypothesis import given
from hypothesis import strategies as st

from cobranza.core.numbers import COORDINATE_PLACES, fixed, storable
from cobranza.visits import geo

STRICT_WRITE, STRICT_READ = TypeSerializer(), TypeDeserializer()  # boto3's own: traps what DynamoDB refuses
FINITE = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e125, max_value=1e125)


def round_trip(value: Decimal) -> Decimal:
    return STRICT_READ.deserialize(STRICT_WRITE.serialize(value))


@given(FINITE)
def test_any_finite_number_is_made_storable_and_reads_back_equal(value):
    stored = storable(value)
    assert round_trip(stored) == stored
    if abs(value) < 1e-130:
        assert stored == 0  # below DynamoDB's smallest magnitude
    else:
        assert abs(stored - Decimal(str(value))) <= abs(Decimal(str(value))) * Decimal("1e-37")


@given(FINITE, st.integers(min_value=0, max_value=9))
def test_a_fixed_scale_number_reads_back_equal_and_within_half_a_step(value, places):
    stored = fixed(value, places)
    assert round_trip(stored) == stored
    if abs(value) < 1e20:
        assert abs(stored - Decimal(str(value))) <= Decimal(1).scaleb(-places) / 2


@pytest.mark.parametrize("value, expected", [
    (1e-300, Decimal(0)), (-1e-300, Decimal(0)), (-0.0, Decimal(0)), (0, Decimal(0)),
    (19.43261234567, Decimal("19.4326123")), (-99.13320000004, Decimal("-99.1332000")), (90, Decimal("90.0000000")),
])
def test_coordinates_are_kept_to_seven_decimals_and_tiny_values_are_zero(value, expected):
    stored = fixed(value, COORDINATE_PLACES)
    assert stored == expected and str(stored) != "-0" and "E" not in str(stored).upper()


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "1e400", True, "abc"])
def test_what_no_rounding_makes_storable_is_refused(value):
    with pytest.raises(ValueError):
        storable(value)
    with pytest.raises(ValueError):
        fixed(value, 2)


def test_a_reported_position_is_stored_at_its_scale():
    assert geo.reported_position(1e-300, -99.13321234, 1e-300, 1e-300) == {
        "lat": Decimal(0), "lon": Decimal("-99.1332123"), "accuracy_m": Decimal(0), "battery_pct": Decimal(0)}
    assert geo.reported_position(19.5, -99.1, 12.25, None)["battery_pct"] is None
