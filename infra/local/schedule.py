"""EventBridge schedule expressions: `cron(...)`, `rate(...)` and `at(...)`, at minute resolution.

AWS cron has six fields, `Minutes Hours Day-of-month Month Day-of-week Year`, and differs from Unix
cron: day-of-week runs 1-7 with SUN=1, exactly one of day-of-month/day-of-week must be `?`, and
`L`, `W` and `#` are allowed. Expressions are evaluated in UTC unless a time zone is given
(`ScheduleExpressionTimezone` of `ScheduleV2` events).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

MONTHS = {name: i for i, name in enumerate(
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], start=1)}
WEEKDAYS = {name: i for i, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], start=1)}


class ScheduleError(ValueError):
    """An expression EventBridge would reject."""


def to_minute(moment: datetime) -> datetime:
    """`moment` in UTC (naive means UTC), truncated to the minute."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def aws_weekday(day: datetime) -> int:
    """AWS day-of-week number: SUN=1 ... SAT=7."""
    return (day.weekday() + 1) % 7 + 1


@dataclass(frozen=True)
class _Field:
    """One cron field as the set of values it allows (None = any, from `*` or `?`)."""

    values: frozenset[int] | None

    def allows(self, value: int) -> bool:
        return self.values is None or value in self.values


def _parse_field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> _Field:
    if text in ("*", "?"):
        return _Field(None)
    values: set[int] = set()
    for part in text.split(","):
        match = re.fullmatch(r"(\*|[A-Za-z0-9]+)(?:-([A-Za-z0-9]+))?(?:/(\d+))?", part)
        if not match:
            raise ScheduleError(f"invalid cron field {text!r}")
        start_text, end_text, step_text = match.groups()
        if start_text == "*":
            start, end = low, high
        else:
            start = _value(start_text, low, high, names)
            end = _value(end_text, low, high, names) if end_text else (high if step_text else start)
        step = int(step_text) if step_text else 1
        if start > end or step < 1:
            raise ScheduleError(f"invalid cron range {part!r}")
        values.update(range(start, end + 1, step))
    return _Field(frozenset(values))


def _value(text: str, low: int, high: int, names: dict[str, int] | None) -> int:
    upper = text.upper()
    if names and upper in names:
        return names[upper]
    if not text.isdigit():
        raise ScheduleError(f"invalid cron value {text!r}")
    value = int(text)
    if not low <= value <= high:
        raise ScheduleError(f"cron value {value} outside {low}-{high}")
    return value


@dataclass(frozen=True)
class Cron:
    """A parsed AWS cron expression."""

    expression: str
    minutes: _Field
    hours: _Field
    month_days: str  # kept as text: L, W and ? need the actual month to evaluate
    months: _Field
    week_days: str
    years: _Field
    tz: ZoneInfo | None = None

    @classmethod
    def parse(cls, body: str, tz: ZoneInfo | None = None) -> Cron:
        fields = body.split()
        if len(fields) != 6:
            raise ScheduleError(f"cron({body}) needs 6 fields, got {len(fields)}")
        minute, hour, dom, month, dow, year = fields
        if (dom == "?") == (dow == "?"):
            raise ScheduleError(f"cron({body}): exactly one of day-of-month and day-of-week must be '?'")
        cron = cls(
            expression=f"cron({body})",
            minutes=_parse_field(minute, 0, 59),
            hours=_parse_field(hour, 0, 23),
            month_days=dom.upper(),
            months=_parse_field(month, 1, 12, MONTHS),
            week_days=dow.upper(),
            years=_parse_field(year, 1970, 2199),
            tz=tz,
        )
        # Validate the day fields now, not at the first tick.
        sample = datetime(2024, 1, 31, tzinfo=UTC)
        cron._day_matches(sample)
        return cron

    def matches(self, moment: datetime) -> bool:
        """Whether the schedule fires in the minute containing `moment`."""
        local = to_minute(moment)
        if self.tz is not None:
            local = local.astimezone(self.tz)
        return (
            self.minutes.allows(local.minute)
            and self.hours.allows(local.hour)
            and self.months.allows(local.month)
            and self.years.allows(local.year)
            and self._day_matches(local)
        )

    def fires_at(self, minute: datetime, anchor: datetime) -> bool:  # same API as Rate
        return self.matches(minute)

    def _day_matches(self, day: datetime) -> bool:
        if self.month_days != "?":
            return _month_day_matches(self.month_days, day)
        return _week_day_matches(self.week_days, day)


def _month_day_matches(text: str, day: datetime) -> bool:
    last = calendar.monthrange(day.year, day.month)[1]
    if text == "L":
        return day.day == last
    if text == "LW":
        return day.day == _nearest_weekday(day.year, day.month, last)
    if text.endswith("W"):
        return day.day == _nearest_weekday(day.year, day.month, _value(text[:-1], 1, 31, None))
    return _parse_field(text, 1, 31).allows(day.day)


def _week_day_matches(text: str, day: datetime) -> bool:
    weekday = aws_weekday(day)
    if "#" in text:  # 3#2 = the second Tuesday
        wanted, nth = text.split("#", 1)
        return weekday == _value(wanted, 1, 7, WEEKDAYS) and (day.day - 1) // 7 + 1 == int(nth)
    if text.endswith("L") and text != "L":  # 6L = the last Friday
        last = calendar.monthrange(day.year, day.month)[1]
        return weekday == _value(text[:-1], 1, 7, WEEKDAYS) and day.day + 7 > last
    if text == "L":
        return weekday == 7
    return _parse_field(text, 1, 7, WEEKDAYS).allows(weekday)


def _nearest_weekday(year: int, month: int, target: int) -> int:
    """The weekday (Mon-Fri) closest to `target` within the same month (the `W` rule)."""
    last = calendar.monthrange(year, month)[1]
    target = min(target, last)
    weekday = calendar.weekday(year, month, target)  # Monday=0
    if weekday == 5:  # Saturday: Friday before, unless that leaves the month
        return target - 1 if target > 1 else target + 2
    if weekday == 6:  # Sunday: Monday after, unless that leaves the month
        return target + 1 if target < last else target - 2
    return target


@dataclass(frozen=True)
class Rate:
    """`rate(N minutes|hours|days)`: fires every N units after the anchor (the rule's creation)."""

    expression: str
    minutes: int

    @classmethod
    def parse(cls, body: str) -> Rate:
        match = re.fullmatch(r"\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*", body)
        if not match or int(match.group(1)) < 1:
            raise ScheduleError(f"invalid rate({body})")
        value, unit = int(match.group(1)), match.group(2)
        if (value == 1) != (not unit.endswith("s")):
            raise ScheduleError(f"rate({body}): use '1 {unit.rstrip('s')}' or 'N {unit.rstrip('s')}s'")
        factor = {"minute": 1, "hour": 60, "day": 1440}[unit.rstrip("s")]
        return cls(f"rate({body})", value * factor)

    def fires_at(self, minute: datetime, anchor: datetime) -> bool:
        elapsed = int((to_minute(minute) - to_minute(anchor)) / timedelta(minutes=1))
        return elapsed > 0 and elapsed % self.minutes == 0


@dataclass(frozen=True)
class At:
    """`at(yyyy-mm-ddThh:mm:ss)`: a one-time schedule (EventBridge Scheduler)."""

    expression: str
    when: datetime

    def fires_at(self, minute: datetime, anchor: datetime) -> bool:
        return to_minute(minute) == to_minute(self.when)


def parse_schedule(expression: str, timezone: str | None = None) -> Cron | Rate | At:
    """Parse an EventBridge schedule expression; raises ScheduleError when AWS would reject it."""
    match = re.fullmatch(r"\s*(cron|rate|at)\((.*)\)\s*", expression)
    if not match:
        raise ScheduleError(f"not a schedule expression: {expression!r}")
    kind, body = match.groups()
    tz = ZoneInfo(timezone) if timezone else None
    if kind == "cron":
        return Cron.parse(body, tz)
    if kind == "rate":
        return Rate.parse(body)
    try:
        when = datetime.fromisoformat(body.strip())
    except ValueError:
        raise ScheduleError(f"invalid at({body})") from None
    return At(f"at({body})", when.replace(tzinfo=tz or UTC) if when.tzinfo is None else when)
