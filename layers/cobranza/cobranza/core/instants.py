"""Instants and days: how the platform writes an instant (UTC, whole seconds, ``Z``:
``2026-11-23T08:00:00Z``), reads one back, and finds the day it is somewhere. Pure."""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo


def utc_stamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_instant(text: str) -> datetime:
    """An RFC 3339 instant (``Z`` or an offset, in either case); ValueError when it is not one or
    has no offset (a phone's clock zone is never guessed)."""
    value = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError("no offset")
    return value


def local_date(moment: datetime, zone: str) -> date:
    """The calendar day ``moment`` falls on in ``zone`` (a tenant's "today", a visit's day)."""
    return moment.astimezone(ZoneInfo(zone)).date()
