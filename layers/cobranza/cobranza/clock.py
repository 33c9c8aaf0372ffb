"""The platform's wall clock, in one place so tests and demos can pass another one.

In AWS (``CLOCK_MODE=real``) contact hours are always judged on the real clock. A local stack
started for a demo or a test may use ``CLOCK_MODE=event``: a night replayed with an arbitrary
event ``time`` then runs in that night's frame (the planner stamps the offset between the event
time and the real clock on each message, and the sender adds it back), so a replayed night
behaves the same whatever the hour on the developer's laptop.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from .config import get_settings


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def frame_offset(event_time: datetime, real_now: datetime) -> float:
    """Seconds to add to the real clock to be in ``event_time``'s frame (0 in real mode)."""
    if get_settings().clock_mode != "event":
        return 0.0
    return (event_time - real_now).total_seconds()


def in_frame(real_now: datetime, offset_seconds: float | int | None) -> datetime:
    if get_settings().clock_mode != "event" or not offset_seconds:
        return real_now
    return real_now + timedelta(seconds=float(offset_seconds))
