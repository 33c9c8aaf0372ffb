"""Which full snapshot is the newest (SPEC §3: the newest full snapshot decides).

A snapshot's as-of date comes from, in this order:

1. a column ``as_of`` / ``fecha_corte`` / ``fecha_de_corte`` / ``corte`` (header matched like
   every other column), read from the first data row;
2. a date in the file name: ``cartera_2026-11-30.csv``, ``cartera_20261130.xlsx``,
   ``corte 30-11-2026.csv`` or ``30_11_2026`` (day first, as Mexican lenders write it);
3. the time the object was stored, in the tenant's time zone.

A snapshot older than the newest one applied is stale: it ends ``failed`` and changes nothing, so
a file replayed late never rolls balances back or withdraws accounts a newer file holds. One of
the same as-of date is applied (a corrected file of the same day).

Pure functions: no AWS, no clock.
"""
from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any, Sequence

from ..core.instants import local_date
from .rows import FieldError, parse_date

#: Column names (after the header normalisation of SPEC §3) that carry the snapshot's date.
AS_OF_COLUMNS = ("as_of", "fecha_corte", "corte", "fecha_cartera")
_ISO_IN_NAME = re.compile(r"(?<!\d)(\d{4})[-_.]?(\d{2})[-_.]?(\d{2})(?!\d)")
_UPLOAD_PREFIX = re.compile(r"^up_[0-9a-f]{20}-")
_DAY_FIRST_IN_NAME = re.compile(r"(?<!\d)(\d{2})[-_.](\d{2})[-_.](\d{4})(?!\d)")


def as_of_column(attribute_names: Sequence[str | None]) -> int | None:
    """The index of the column that names the snapshot's date, if the file has one."""
    for index, name in enumerate(attribute_names):
        if name in AS_OF_COLUMNS:
            return index
    return None


def date_in_name(name: str) -> date | None:
    """The first valid calendar date in a file name (``2026-11-30``, ``20261130``, ``30-11-2026``);
    the ``up_<20 hex>-`` prefix of a file sent through ``POST /v1/uploads`` is not part of it."""
    name = _UPLOAD_PREFIX.sub("", name)
    for pattern, order in ((_ISO_IN_NAME, (0, 1, 2)), (_DAY_FIRST_IN_NAME, (2, 1, 0))):
        for match in pattern.finditer(name):
            year, month, day = (int(match.group(i + 1)) for i in order)
            try:
                found = date(year, month, day)
            except ValueError:
                continue
            if 1950 <= found.year <= 2100:
                return found
    return None


def snapshot_as_of(column_value: Any, file_name: str, stored_at: datetime, timezone: str,
                   date_epoch: date | None = None) -> tuple[date, str]:
    """(as-of date, where it came from: ``column`` | ``file_name`` | ``stored_at``);
    ``date_epoch``: a workbook's, for a date stored as a serial number."""
    if column_value not in (None, ""):
        try:
            return parse_date(column_value, date_epoch), "column"
        except FieldError:
            pass  # an unreadable as-of cell: the next source decides (the rows are judged on their own)
    from_name = date_in_name(file_name)
    if from_name is not None:
        return from_name, "file_name"
    return local_date(stored_at, timezone), "stored_at"


def is_stale(as_of: date, newest_applied: str | None) -> bool:
    """True when a newer snapshot was already applied (the same day is not stale)."""
    return bool(newest_applied) and as_of.isoformat() < str(newest_applied)
