"""The serve-mode clock: fires `Schedule`/`ScheduleV2` events when their expression matches.

Minute resolution, like EventBridge. If the thread falls behind (a suspended laptop) it catches up
at most `MAX_CATCH_UP` minutes rather than firing a night's worth of schedules at once.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from infra.local.events import scheduled_event
from infra.local.schedule import At, Cron, Rate, parse_schedule, to_minute
from infra.local.template import LocalTemplate

log = logging.getLogger("infra.local")

MAX_CATCH_UP = 5


@dataclass(frozen=True)
class ScheduleTarget:
    """One schedule event of one function."""

    function_id: str
    event_name: str
    expression: Cron | Rate | At
    rule_arn: str
    enabled: bool
    input: str | None  # a custom Input replaces the Scheduled Event envelope

    def event(self, moment: datetime, *, account_id: str, region: str) -> Any:
        if self.input is not None:
            return json.loads(self.input)
        return scheduled_event(self.rule_arn, moment, account_id=account_id, region=region)


def schedule_targets(template: LocalTemplate) -> list[ScheduleTarget]:
    targets = []
    for function in template.functions.values():
        for name, event in function.events_of_type("Schedule", "ScheduleV2").items():
            props = event.properties
            expression = props.get("Schedule") or props.get("ScheduleExpression")
            state = props.get("State")
            enabled = props.get("Enabled", True) is not False and state not in ("DISABLED",)
            raw_input = props.get("Input")
            targets.append(ScheduleTarget(
                function_id=function.logical_id,
                event_name=name,
                expression=parse_schedule(expression, props.get("ScheduleExpressionTimezone")),
                rule_arn=template.schedule_rule_arn(function.logical_id, name),
                enabled=enabled,
                input=raw_input if isinstance(raw_input, str) else (json.dumps(raw_input) if raw_input else None),
            ))
    return targets


class Clock(threading.Thread):
    """Calls `fire(target, minute)` for every enabled target due in each passing minute."""

    def __init__(self, targets: list[ScheduleTarget], fire: Callable[[ScheduleTarget, datetime], Any],
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        super().__init__(name="local-clock", daemon=True)
        self.targets = targets
        self._fire = fire
        self._now = now
        self.anchor = to_minute(now())
        self._stop_event = threading.Event()

    def due(self, minute: datetime) -> list[ScheduleTarget]:
        return [t for t in self.targets if t.enabled and t.expression.fires_at(minute, self.anchor)]

    def tick(self, minute: datetime) -> list[ScheduleTarget]:
        """Fire what is due in `minute` (also usable by tests, without waiting for the wall clock)."""
        due = self.due(minute)
        for target in due:
            log.info("clock: %s fires %s.%s", target.expression.expression, target.function_id, target.event_name)
            self._fire(target, to_minute(minute))
        return due

    def stop(self) -> None:
        self._stop_event.set()

    def run(self) -> None:
        last = self.anchor
        while not self._stop_event.is_set():
            current = to_minute(self._now())
            if current > last:
                first = max(last + timedelta(minutes=1), current - timedelta(minutes=MAX_CATCH_UP - 1))
                minute = first
                while minute <= current:
                    try:
                        self.tick(minute)
                    except Exception:  # the clock must keep ticking
                        log.exception("clock: firing schedules for %s failed", minute)
                    minute += timedelta(minutes=1)
                last = current
            seconds_left = 60 - self._now().second + 0.05
            self._stop_event.wait(min(seconds_left, 60))
