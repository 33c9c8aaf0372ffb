"""Geo-verification of a field visit's check-in or result (SPEC §6).

Pure functions of the reported position, the account's coordinates, the agent's earlier fixes
and the policy's ``geo_verification`` section: no clock reads ("received_at" is an argument).

A position is **verified** when every rule holds, **flagged** with every broken rule, or
**rejected** when one of the broken rules is in the reject set (a mock location and a distance
over ``reject_distance_m`` always; the policy may add others with ``reject_reasons``).

Reasons, always listed in this order:

- ``mock_location``: the phone reports a mock (simulated) location.
- ``distance_over_reject_limit``: farther than ``reject_distance_m`` from the target.
- ``outside_radius``: farther than ``radius_m`` but within the reject limit.
- ``low_accuracy``: ``accuracy_m`` above ``max_accuracy_m``.
- ``too_fast``: reaching this position from the agent's fix just before it, or the fix just after
  it, needs more than ``max_speed_kmh``.
- ``captured_in_future``: ``captured_at`` more than ``max_future_minutes`` after ``received_at``.
- ``too_old``: ``captured_at`` more than ``max_age_days`` before ``received_at``.
- ``repeated_coordinates``: exactly the position (7 decimals) of a fix of *another* visit, the
  mark of a replayed, saved position.

Every limit is inclusive: a position exactly at the limit passes. Distances and speeds are
compared at millimetre (and metre-per-hour) precision, so floating-point noise in the haversine
formula does not turn "exactly 150 m" into a flag.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Mapping, Sequence, TypedDict

from ..core.numbers import ACCURACY_PLACES, BATTERY_PLACES, COORDINATE_PLACES, fixed

EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG)

#: The reasons, in the order they are listed.
REASONS = (
    "mock_location",
    "distance_over_reject_limit",
    "outside_radius",
    "low_accuracy",
    "too_fast",
    "captured_in_future",
    "too_old",
    "repeated_coordinates",
)
ALWAYS_REJECT = frozenset({"mock_location", "distance_over_reject_limit"})
#: The reasons that flag by default; a policy may make any of them reject (``reject_reasons``).
FLAG_REASONS = tuple(r for r in REASONS if r not in ALWAYS_REJECT)

#: Used for a key missing from the policy's section (the same values as the default policy).
DEFAULT_RULES: dict[str, Any] = {
    "radius_m": 150,
    "max_accuracy_m": 100,
    "max_speed_kmh": 200,
    "max_future_minutes": 5,
    "max_age_days": 7,
    "reject_distance_m": 1000,
    "reject_reasons": [],
}
#: Fixes farther apart in time than this say nothing about travel speed.
SPEED_WINDOW = timedelta(hours=24)
_COMPARE_DIGITS = 3  # millimetres, metres per hour
_COORDINATE_DIGITS = COORDINATE_PLACES  # about 1 cm


class ReportedPosition(TypedDict):
    lat: Decimal
    lon: Decimal
    accuracy_m: Decimal
    battery_pct: Decimal | None


def reported_position(lat: Any, lon: Any, accuracy_m: Any, battery_pct: Any = None) -> ReportedPosition:
    """A phone's position as it is stored and judged: coordinates to 7 decimals (about a
    centimetre), accuracy and battery to 0.1 (``1e-300`` is 0, never an unreadable number)."""
    return {"lat": fixed(lat, COORDINATE_PLACES), "lon": fixed(lon, COORDINATE_PLACES),
            "accuracy_m": fixed(accuracy_m, ACCURACY_PLACES),
            "battery_pct": None if battery_pct is None else fixed(battery_pct, BATTERY_PLACES)}


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two points given in degrees."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    half_dphi = (phi2 - phi1) / 2
    half_dlambda = math.radians(lon2 - lon1) / 2
    a = math.sin(half_dphi) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(half_dlambda) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True)
class Fix:
    """A past position of the agent: a check-in, a result or a plain location ping."""

    lat: float
    lon: float
    captured_at: datetime  # tz-aware
    accuracy_m: float = 0.0
    visit_id: str | None = None  # None for a plain location ping


@dataclass(frozen=True)
class Verification:
    """The verdict on one position."""

    status: str  # "verified" | "flagged" | "rejected"
    reasons: tuple[str, ...]  # in REASONS order; empty when verified
    distance_m: float | None  # to the target, rounded to 0.1 m; None without a target
    speed_kmh: float | None  # highest speed vs the neighbouring fixes considered, rounded to 0.1

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "reasons": list(self.reasons), "distance_m": self.distance_m,
                "speed_kmh": self.speed_kmh}


def _over(value: float, limit: float) -> bool:
    """``value`` above ``limit``, ignoring floating-point noise below the comparison precision."""
    return round(value, _COMPARE_DIGITS) > limit


def _neighbours(captured_at: datetime, history: Sequence[Fix]) -> list[Fix]:
    """The fixes immediately before (or at) and immediately after ``captured_at``, within 24 h.
    History may arrive in any order (offline phones replay late); fixes sharing the nearest
    instant on one side are all returned."""
    near = [f for f in history if abs(f.captured_at - captured_at) <= SPEED_WINDOW]
    before = [f for f in near if f.captured_at <= captured_at]
    after = [f for f in near if f.captured_at > captured_at]
    chosen: list[Fix] = []
    if before:
        latest = max(f.captured_at for f in before)
        chosen += [f for f in before if f.captured_at == latest]
    if after:
        earliest = min(f.captured_at for f in after)
        chosen += [f for f in after if f.captured_at == earliest]
    return chosen


def _speeds(lat: float, lon: float, accuracy_m: float, captured_at: datetime,
            history: Sequence[Fix]) -> list[float]:
    """Speeds (km/h) to the neighbouring fixes. A pair within GPS noise (distance ≤ both
    accuracies) is left out; a pair at the same instant beyond the noise is ``math.inf``."""
    speeds = []
    for fix in _neighbours(captured_at, history):
        distance = haversine_m(lat, lon, fix.lat, fix.lon)
        if distance <= accuracy_m + fix.accuracy_m:
            continue
        seconds = abs((captured_at - fix.captured_at).total_seconds())
        speeds.append(math.inf if seconds == 0 else distance / seconds * 3.6)
    return speeds


def _same_position(lat: float, lon: float, fix: Fix) -> bool:
    return (round(lat, _COORDINATE_DIGITS) == round(fix.lat, _COORDINATE_DIGITS)
            and round(lon, _COORDINATE_DIGITS) == round(fix.lon, _COORDINATE_DIGITS))


def _distance_reasons(distance: float | None, rule: Mapping[str, Any]) -> set[str]:
    """The distance rule: over the reject limit, else outside the radius (none without a target)."""
    if distance is None:
        return set()
    if _over(distance, rule["reject_distance_m"]):
        return {"distance_over_reject_limit"}
    if _over(distance, rule["radius_m"]):
        return {"outside_radius"}
    return set()


def _time_reasons(captured_at: datetime, received_at: datetime, rule: Mapping[str, Any]) -> set[str]:
    """Captured too far in the future, or too long ago, of the moment it was received."""
    found = set()
    if captured_at - received_at > timedelta(minutes=float(rule["max_future_minutes"])):
        found.add("captured_in_future")
    if received_at - captured_at > timedelta(days=float(rule["max_age_days"])):
        found.add("too_old")
    return found


def _repeats_other_visit(lat: float, lon: float, history: Sequence[Fix], visit_id: str) -> bool:
    """Exactly the position of a fix of *another* visit."""
    return any(f.visit_id is not None and f.visit_id != visit_id and _same_position(lat, lon, f) for f in history)


def _status(found: set[str], rule: Mapping[str, Any]) -> str:
    if not found:
        return "verified"
    reject = ALWAYS_REJECT | set(rule.get("reject_reasons") or ())
    return "rejected" if reject & found else "flagged"


def verify(*, lat: float, lon: float, accuracy_m: float, is_mock: bool, captured_at: datetime,
           received_at: datetime, target: tuple[float, float] | None, history: Sequence[Fix],
           visit_id: str, rules: Mapping[str, Any]) -> Verification:
    """Verify a position reported for ``visit_id`` against ``target`` (the account's coordinates,
    None when it has none: no distance rule) and the agent's earlier ``history``."""
    rule = {**DEFAULT_RULES, **(rules or {})}
    distance = None if target is None else haversine_m(target[0], target[1], lat, lon)
    speeds = _speeds(lat, lon, accuracy_m, captured_at, history)
    found = _distance_reasons(distance, rule) | _time_reasons(captured_at, received_at, rule)
    flags = {
        "mock_location": is_mock,
        "low_accuracy": accuracy_m > rule["max_accuracy_m"],
        "too_fast": any(_over(s, rule["max_speed_kmh"]) for s in speeds),
        "repeated_coordinates": _repeats_other_visit(lat, lon, history, visit_id),
    }
    found |= {reason for reason, broken in flags.items() if broken}
    finite = [s for s in speeds if math.isfinite(s)]
    return Verification(
        status=_status(found, rule),
        reasons=tuple(r for r in REASONS if r in found),
        distance_m=None if distance is None else round(distance, 1),
        speed_kmh=round(max(finite), 1) if finite else None,
    )
