"""How the platform writes an instant: UTC, whole seconds, ``Z`` (``2026-11-23T08:00:00Z``)."""
from __future__ import annotations

from datetime import datetime, timezone


def utc_stamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
