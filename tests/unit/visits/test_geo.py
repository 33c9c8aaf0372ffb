"""SPEC §6 geo-verification (visits.geo): haversine, and every verification rule at its limit."""
from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cobranza.tenants.policy import DEFAULT_POLICY, PolicyError, effective_policy, validate_policy
from cobranza.visits import geo
from cobranza.visits.geo import EARTH_RADIUS_M, Fix, haversine_m, verify

RULES = DEFAULT_POLICY["geo_verification"]
TARGET = (19.4326, -99.1332)  # Zócalo, Mexico City
NOW = datetime(2026, 11, 23, 17, 0, tzinfo=timezone.utc)


def north_of(point: tuple[float, float], metres: float) -> tuple[float, float]:
    """The point ``metres`` due north of ``point`` (haversine inverted along a meridian)."""
    return point[0] + math.degrees(metres / EARTH_RADIUS_M), point[1]


def check(position=TARGET, *, accuracy_m=10.0, is_mock=False, captured_at=NOW, received_at=NOW,
          target=TARGET, history=(), visit_id="V-1", rules=RULES):
    return verify(lat=position[0], lon=position[1], accuracy_m=accuracy_m, is_mock=is_mock,
                  captured_at=captured_at, received_at=received_at, target=target, history=list(history),
                  visit_id=visit_id, rules=rules)


# ---------------------------------------------------------------- haversine
coordinates = st.tuples(st.floats(-90, 90), st.floats(-180, 180))


@given(coordinates, coordinates)
def test_haversine_is_symmetric(a, b):
    assert haversine_m(*a, *b) == pytest.approx(haversine_m(*b, *a), abs=1e-6)


@given(coordinates)
def test_haversine_of_a_point_to_itself_is_zero(a):
    assert haversine_m(*a, *a) == 0.0


@given(coordinates, coordinates, coordinates)
def test_haversine_obeys_the_triangle_inequality(a, b, c):
    assert haversine_m(*a, *c) <= haversine_m(*a, *b) + haversine_m(*b, *c) + 1e-6


@given(coordinates, coordinates)
def test_haversine_never_exceeds_half_the_circumference(a, b):
    assert 0.0 <= haversine_m(*a, *b) <= math.pi * EARTH_RADIUS_M + 1e-6


@pytest.mark.parametrize("a, b, km", [
    ((19.4326, -99.1332), (20.6767, -103.3475), 461),  # Mexico City - Guadalajara
    ((19.4326, -99.1332), (25.6866, -100.3161), 706),  # Mexico City - Monterrey
    ((51.5074, -0.1278), (48.8566, 2.3522), 344),  # London - Paris
])
def test_haversine_gives_known_city_distances(a, b, km):
    assert haversine_m(*a, *b) / 1000 == pytest.approx(km, rel=0.01)


@given(st.floats(-80, 80), st.floats(-180, 180), st.floats(0, 100_000))
def test_the_test_helper_places_points_at_the_exact_distance(lat, lon, metres):
    assert haversine_m(lat, lon, *north_of((lat, lon), metres)) == pytest.approx(metres, abs=1e-6)


# ---------------------------------------------------------------- the verdict
def test_a_position_at_the_target_is_verified():
    result = check()
    assert (result.status, result.reasons, result.distance_m, result.speed_kmh) == ("verified", (), 0.0, None)


def test_the_verdict_is_json_ready():
    result = check(north_of(TARGET, 200), accuracy_m=101)
    assert json.loads(json.dumps(result.as_dict())) == {
        "status": "flagged", "reasons": ["outside_radius", "low_accuracy"], "distance_m": 200.0, "speed_kmh": None}


def test_missing_rules_take_the_default_policy_values():
    assert geo.DEFAULT_RULES == DEFAULT_POLICY["geo_verification"]
    position = north_of(TARGET, 151)
    assert check(position, rules={}) == check(position, rules=RULES)


# ---------------------------------------------------------------- distance
@pytest.mark.parametrize("metres, status, reasons", [
    (149, "verified", ()),
    (150.0, "verified", ()),
    (150.01, "flagged", ("outside_radius",)),
    (151, "flagged", ("outside_radius",)),
    (1000.0, "flagged", ("outside_radius",)),
    (1000.01, "rejected", ("distance_over_reject_limit",)),
    (5000, "rejected", ("distance_over_reject_limit",)),
])
def test_distance_to_the_target_is_judged_inclusively_at_each_limit(metres, status, reasons):
    # Given a position exactly `metres` north of the account's coordinates
    result = check(north_of(TARGET, metres))
    # Then the radius (150 m) and the reject limit (1 km) include their own value
    assert (result.status, result.reasons) == (status, reasons)
    assert result.distance_m == round(metres, 1)


def test_a_narrower_radius_from_the_policy_applies():
    result = check(north_of(TARGET, 80), rules={**RULES, "radius_m": 50})
    assert (result.status, result.reasons) == ("flagged", ("outside_radius",))


def test_without_target_there_is_no_distance_check():
    # Given an account without coordinates
    result = check((25.0, -100.0), target=None)
    # Then any place verifies and no distance is reported
    assert (result.status, result.reasons, result.distance_m) == ("verified", (), None)


# ---------------------------------------------------------------- accuracy and mock locations
@pytest.mark.parametrize("accuracy, status", [(100, "verified"), (100.4, "flagged"), (101, "flagged")])
def test_accuracy_up_to_100_m_is_accepted(accuracy, status):
    result = check(accuracy_m=accuracy)
    assert result.status == status
    assert result.reasons == (() if status == "verified" else ("low_accuracy",))


def test_a_mock_location_is_always_rejected():
    result = check(is_mock=True)
    assert (result.status, result.reasons) == ("rejected", ("mock_location",))


# ---------------------------------------------------------------- travel speed
def _ride(km_per_hour: float, seconds: float = 180) -> Fix:
    """A fix `seconds` before NOW, as far north of TARGET as `km_per_hour` covers in that time."""
    metres = km_per_hour / 3.6 * seconds
    lat, lon = north_of(TARGET, metres)
    return Fix(lat, lon, NOW - timedelta(seconds=seconds), accuracy_m=5.0, visit_id=None)


@pytest.mark.parametrize("speed, status", [(200, "verified"), (201, "flagged")])
def test_travel_speed_from_the_previous_fix_is_accepted_up_to_200_kmh(speed, status):
    # Given the agent's previous fix, reached at exactly `speed` km/h
    result = check(history=[_ride(speed)])
    # Then 200 km/h passes and 201 km/h is too fast; the speed is reported either way
    assert result.status == status
    assert result.reasons == (() if status == "verified" else ("too_fast",))
    assert result.speed_kmh == float(speed)


def test_positions_within_gps_noise_are_not_a_speed():
    # Given a fix one second earlier, 30 m away, with 20 m accuracy on both sides (108 km/h... or noise)
    lat, lon = north_of(TARGET, 30)
    noisy = Fix(lat, lon, NOW - timedelta(seconds=1), accuracy_m=20)
    # When the pair is within the sum of both accuracies
    result = check(accuracy_m=20, history=[noisy])
    # Then it is not considered at all
    assert (result.status, result.speed_kmh) == ("verified", None)


def test_two_distant_positions_at_the_same_instant_are_too_fast():
    lat, lon = north_of(TARGET, 500)
    result = check(history=[Fix(lat, lon, NOW, accuracy_m=10)])
    assert (result.status, result.reasons, result.speed_kmh) == ("flagged", ("too_fast",), None)


def test_fixes_more_than_a_day_away_say_nothing_about_speed():
    far = Fix(25.6866, -100.3161, NOW - timedelta(hours=24, seconds=1))  # Monterrey
    at_limit = Fix(25.6866, -100.3161, NOW - timedelta(hours=24))
    assert check(history=[far]).status == "verified"
    assert check(history=[at_limit]).speed_kmh == pytest.approx(706 / 24, rel=0.01)


def test_history_in_any_order_is_compared_with_the_fixes_just_before_and_just_after():
    # Given history replayed out of order: a fix 60 s *after* this one, 10 km away (600 km/h),
    # an older fix 100 km away and the fix immediately before, here
    after = Fix(*north_of(TARGET, 10_000), NOW + timedelta(seconds=60), visit_id="V-2")
    long_before = Fix(*north_of(TARGET, 100_000), NOW - timedelta(minutes=20))
    just_before = Fix(*north_of(TARGET, 1_000), NOW - timedelta(minutes=10))
    # When verifying with the later fix arriving first
    result = check(history=[after, long_before, just_before])
    # Then the neighbour after in time is too fast, and the older one is not a neighbour
    assert (result.status, result.reasons, result.speed_kmh) == ("flagged", ("too_fast",), 600.0)
    # And without the later fix only the fix just before counts (1 km in 10 min = 6 km/h)
    result = check(history=[long_before, just_before])
    assert (result.status, result.speed_kmh) == ("verified", 6.0)


# ---------------------------------------------------------------- capture time
@pytest.mark.parametrize("ahead, status", [
    (timedelta(minutes=5), "verified"),
    (timedelta(minutes=5, seconds=1), "flagged"),
])
def test_a_capture_up_to_5_minutes_in_the_future_is_accepted(ahead, status):
    result = check(captured_at=NOW + ahead, received_at=NOW)
    assert result.status == status
    assert result.reasons == (() if status == "verified" else ("captured_in_future",))


@pytest.mark.parametrize("age, status", [
    (timedelta(days=7), "verified"),
    (timedelta(days=7, seconds=1), "flagged"),
])
def test_a_capture_up_to_7_days_old_is_accepted(age, status):
    result = check(captured_at=NOW - age, received_at=NOW)
    assert result.status == status
    assert result.reasons == (() if status == "verified" else ("too_old",))


# ---------------------------------------------------------------- repeated coordinates
def test_the_same_coordinates_as_another_visit_are_flagged():
    # Given a fix of another visit at exactly this position (to the 7th decimal)
    earlier = Fix(TARGET[0] + 2e-8, TARGET[1], NOW - timedelta(days=2), visit_id="V-OTHER")
    # Then the position is a replayed one
    result = check(history=[earlier])
    assert (result.status, result.reasons) == ("flagged", ("repeated_coordinates",))


def test_the_same_coordinates_within_the_same_visit_or_a_ping_are_fine():
    same_visit = Fix(*TARGET, NOW - timedelta(minutes=30), visit_id="V-1")
    ping = Fix(*TARGET, NOW - timedelta(days=3), visit_id=None)
    assert check(history=[same_visit, ping], visit_id="V-1").status == "verified"


def test_coordinates_that_differ_in_the_7th_decimal_are_not_repeated():
    other = Fix(TARGET[0] + 1e-6, TARGET[1], NOW - timedelta(days=2), visit_id="V-OTHER")
    assert check(history=[other]).status == "verified"


# ---------------------------------------------------------------- every reason together
def test_every_broken_rule_is_listed_in_the_documented_order():
    # Given a mock position 2 km away, inaccurate, from the future, reached too fast, on another visit's spot
    position = north_of(TARGET, 2_000)
    history = [Fix(*position, NOW - timedelta(days=1), visit_id="V-OTHER"),
               Fix(*TARGET, NOW + timedelta(minutes=10, seconds=-20), accuracy_m=5)]
    result = check(position, accuracy_m=150, is_mock=True, captured_at=NOW + timedelta(minutes=10),
                   history=history)
    assert result.status == "rejected"
    assert result.reasons == ("mock_location", "distance_over_reject_limit", "low_accuracy", "too_fast",
                              "captured_in_future", "repeated_coordinates")


def test_the_flag_reasons_together_still_only_flag():
    position = north_of(TARGET, 400)
    old = NOW - timedelta(days=8)
    history = [Fix(*position, old - timedelta(days=1), visit_id="V-OTHER"),
               Fix(*north_of(TARGET, 50_000), old - timedelta(minutes=5))]
    result = check(position, accuracy_m=120, captured_at=old, history=history)
    assert result.status == "flagged"
    assert result.reasons == ("outside_radius", "low_accuracy", "too_fast", "too_old", "repeated_coordinates")
    assert list(result.reasons) == [r for r in geo.REASONS if r in result.reasons]


# ---------------------------------------------------------------- policy hardening
def test_the_policy_may_make_a_flag_reason_reject():
    # Given a tenant that rejects inaccurate positions
    rules = {**RULES, "reject_reasons": ["low_accuracy"]}
    # Then low accuracy rejects, while other reasons still flag
    assert check(accuracy_m=101, rules=rules).status == "rejected"
    assert check(north_of(TARGET, 200), rules=rules).status == "flagged"
    assert check(rules=rules).status == "verified"


def test_reject_reasons_in_the_policy_are_validated():
    validate_policy({"geo_verification": {**RULES, "reject_reasons": ["outside_radius", "repeated_coordinates"]}})
    for bad in (["teleported"], ["low_accuracy", "low_accuracy"]):
        with pytest.raises(PolicyError):
            validate_policy({"geo_verification": {**RULES, "reject_reasons": bad}})


def test_a_policy_may_only_harden_the_geo_limits():
    with pytest.raises(PolicyError):
        validate_policy({"geo_verification": {"radius_m": 151}})
    validate_policy(effective_policy({"geo_verification": {"radius_m": 100, "reject_reasons": ["too_old"]}}))
