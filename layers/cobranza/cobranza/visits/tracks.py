"""Agents' tracks (SPEC §9): every valid location ping is kept 30 days as a point of its agent's
day, and ``GET /v1/agents/{agent_id}/track?date=`` gives the console a day's points.

``POST /v1/me/locations`` (``tasks.record_locations``) hands its valid pings to ``record``; the
day of a point is the day its ``captured_at`` falls on in the tenant's time zone, so a track
crosses midnight where the tenant's day does, whatever the phone's offset. Storage:
``tracks_store``.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Iterable, Mapping
from zoneinfo import ZoneInfo

from ..core import clock, pagination
from ..core.errors import Forbidden, NotFound
from ..core.instants import parse_instant, utc_stamp
from ..tenants import store as tenants_repo
from ..tenants.auth import Agent
from . import agents as agents_repo
from . import geo, tracks_store

#: Days a point is kept after it was taken (the table's TTL).
KEEP_DAYS = 30
#: A page of a day's track: a day of pings every 30 seconds (2,880 points) is three pages at the
#: default, one at the maximum.
DEFAULT_LIMIT, MAX_LIMIT = 1000, 5000


def _zone(tenant_id: str) -> ZoneInfo:
    tenant = tenants_repo.get_tenant_cached(tenant_id)
    return ZoneInfo(tenant.timezone if tenant else "America/Mexico_City")


def track_point(ping: Mapping[str, Any], zone: ZoneInfo, received_at: datetime) -> dict[str, Any]:
    """The stored point of a valid ping (``lat``, ``lon``, ``accuracy_m``, ``captured_at`` with its
    offset, ``battery_pct`` optional): its day in ``zone``, the instant in UTC, the position as
    the last position is stored (geo.reported_position), when it arrived and when it expires."""
    captured = parse_instant(ping["captured_at"])
    position = geo.reported_position(ping["lat"], ping["lon"], ping.get("accuracy_m", 0), ping.get("battery_pct"))
    return {"day": captured.astimezone(zone).date().isoformat(), "captured_at": utc_stamp(captured),
            **position, "received_at": utc_stamp(received_at),
            "expires_at": int((captured + timedelta(days=KEEP_DAYS)).timestamp())}


def record(tenant_id: str, agent_id: str, pings: Iterable[Mapping[str, Any]], now: datetime) -> int:
    """Keeps the valid pings of a batch as points of the agent's tracks (a ping sent again
    overwrites itself); returns how many points were written."""
    zone = _zone(tenant_id)
    points = [track_point(ping, zone, now) for ping in pings]
    return tracks_store.put_points(tenant_id, agent_id, points) if points else 0


def _day(raw: str | None, today: date) -> date:
    return pagination.parse_day(raw, "date") or today


def _number(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def point_view(point: Mapping[str, Any]) -> dict[str, Any]:
    return {"at": point["captured_at"], "lat": float(point["lat"]), "lon": float(point["lon"]),
            "accuracy_m": float(point.get("accuracy_m") or 0), "battery_pct": _number(point.get("battery_pct")),
            "received_at": point.get("received_at")}


def agent_track(tenant_id: str, caller: Agent | None, agent_id: str, query: Mapping[str, str],
                now: datetime | None = None) -> dict[str, Any]:
    """A page of an agent's track of a day (today in the tenant's zone by default), in time order.

    The tenant's key (``caller`` None) and its supervisors read any of its agents' tracks; an
    agent, only its own. An agent that is not the tenant's (of another tenant, or none) is 404."""
    if caller is not None and not caller.is_supervisor and caller.agent_id != agent_id:
        raise Forbidden("forbidden", "an agent may read only its own track (supervisors and the tenant's key read any)")
    zone, now = _zone(tenant_id), now or clock.utcnow()
    day = _day(query.get("date"), now.astimezone(zone).date()).isoformat()
    limit = pagination.parse_limit(query.get("limit"), DEFAULT_LIMIT, MAX_LIMIT)
    if agents_repo.get_agent(tenant_id, agent_id) is None:
        raise NotFound("not_found", f"agent {agent_id} not found")
    scope = pagination.scope("track", tenant_id, agent=agent_id, date=day)
    points, last = tracks_store.read_day(tenant_id, agent_id, day, limit, pagination.start_of(scope, query), now=now)
    return {"agent_id": agent_id, "date": day, "points": [point_view(p) for p in points],
            "next_token": pagination.next_token(scope, last)}
