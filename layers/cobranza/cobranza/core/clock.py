"""The platform's wall clock, in one place so tests and demos can pass another one.

In AWS (``CLOCK_MODE=real``) contact hours are always judged on the real clock. A local stack
started for a demo or a test may use ``CLOCK_MODE=event``: a night replayed with an arbitrary
event ``time`` then runs in that night's frame (the planner stamps the offset between the event
time and the real clock on each message, and the sender adds it back), so a replayed night
behaves the same whatever the hour on the developer's laptop.

Platform code reads the time only through :func:`utcnow` (rules get "today" as an argument), so a
test fixes it by patching this one function. ``COBRANZA_CLOCK_SHIFT_DAYS`` (tests only, never set
in AWS) moves it by that many days, in every process that inherits the variable: the shifted test
run (``make test-shifted``) sets it so the local stack's workers live on another day too.
"""
from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

from .settings import get_settings

SHIFT_ENV = "COBRANZA_CLOCK_SHIFT_DAYS"


def utcnow() -> datetime:
    """Now, in UTC: the real clock, moved by ``COBRANZA_CLOCK_SHIFT_DAYS`` days when that is set."""
    now = datetime.now(timezone.utc)
    shift = os.environ.get(SHIFT_ENV)
    if not shift:
        return now
    try:
        return now + timedelta(days=float(shift))
    except ValueError:
        raise ValueError(f"{SHIFT_ENV} must be a number of days, not {shift!r}") from None


def frame_offset(event_time: datetime, real_now: datetime) -> float:
    """Seconds to add to the real clock to be in ``event_time``'s frame (0 in real mode)."""
    if get_settings().clock_mode != "event":
        return 0.0
    return (event_time - real_now).total_seconds()


def in_frame(real_now: datetime, offset_seconds: float | int | None) -> datetime:
    if get_settings().clock_mode != "event" or not offset_seconds:
        return real_now
    return real_now + timedelta(seconds=float(offset_seconds))
