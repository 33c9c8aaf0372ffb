"""Outcomes of calls and contacts, and the phone team's day (SPEC §6b). Pure: no I/O, no clock.

- ``to_outcome``: one validation of an outcome posted through the API.
- ``next_step``: what a result sets in motion, from the policy's ``outcome_rules`` (the one
  table visits use too; visits.rules holds it).
- ``priority_key``: the order of a day's call list: broken promises first, then amount x risk.
- ``best_hours``: the hours of the day whose calls reached the debtor most often, learned from
  the tenant's own outcomes by segment (right-party contacts over attempts, weekday x hour);
  the policy's default hours until there are enough attempts.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any, Mapping

from ..core.instants import parse_instant
from ..visits import rules as visit_rules
from ..visits.rules import CONTACT_RESULTS, DEFAULT_OUTCOME_RULES

OUTCOME_CHANNELS = ("phone", "email", "sms", "whatsapp", "in_person", "letter", "other")
#: A call is an attempt to reach the debtor whatever its result: it counts toward the caps.
CALL_CHANNEL = "phone"
#: The channels that use the account's phone (a wrong number makes them all unusable).
PHONE_CHANNELS = ("sms", "whatsapp", "call")
#: Results that reached the debtor in person on the line (the best-hours numerator).
RIGHT_PARTY = visit_rules.RIGHT_PARTY
MAX_NOTES = 2000
MAX_DURATION_S = 6 * 3600
#: How far back an outcome may be dated (phones post late) and ahead (clock skew).
MAX_AGE = timedelta(days=30)
MAX_SKEW = timedelta(minutes=5)
MAX_CALLBACK_DAYS = 30


@dataclass(frozen=True)
class Outcome:
    channel: str
    result: str
    occurred_at: datetime  # aware, UTC
    agent: str | None = None
    duration_s: int | None = None
    notes: str | None = None
    callback_at: datetime | None = None
    task_id: str | None = None


@dataclass(frozen=True)
class NextStep:
    """What a contact's result sets in motion."""

    account_status: str | None  # the new status (None: unchanged)
    unusable: tuple[str, ...]  # channels whose address proved wrong
    callback: bool  # a call is planned at the time the debtor asked for
    close_contact: bool  # no contact of any kind from now on
    alarm: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"account_status": self.account_status, "unusable_channels": list(self.unusable),
                "callback": self.callback, "close_contact": self.close_contact, "alarm": self.alarm}


def next_step(result: str, rules: Mapping[str, Any] | None) -> NextStep:
    """The next step of ``result`` under the policy's ``outcome_rules`` (a result the tenant's
    rules do not name follows the default rule)."""
    if result not in CONTACT_RESULTS:
        raise ValueError(f"unknown contact result {result!r}")
    rule = (rules or {}).get(result, DEFAULT_OUTCOME_RULES[result])
    unusable = PHONE_CHANNELS if rule.get("unusable") == "phone" else ("email",) if rule.get("unusable") == "email" else ()
    return NextStep(rule.get("status"), unusable, bool(rule.get("callback")), bool(rule.get("close_contact")),
                    rule.get("alarm"))


def to_outcome(body: Any, now: datetime) -> tuple[Outcome | None, list[dict[str, Any]]]:
    """The outcome of an API body, or every problem found (``promise`` is checked by payments)."""
    if not isinstance(body, dict):
        return None, [{"field": "body", "message": "a JSON object"}]
    problems: list[dict[str, Any]] = []
    channel, result = body.get("channel"), body.get("result")
    if channel not in OUTCOME_CHANNELS:
        problems.append({"field": "channel", "message": "one of the channels", "allowed": list(OUTCOME_CHANNELS)})
    if result not in CONTACT_RESULTS:
        problems.append({"field": "result", "message": "one of the results", "allowed": list(CONTACT_RESULTS)})
    occurred_at = _instant(body.get("occurred_at"))
    if occurred_at is None or not now - MAX_AGE <= occurred_at <= now + MAX_SKEW:
        problems.append({"field": "occurred_at", "message": "an ISO date-time with its offset, within the last 30 days"})
    callback_at = _instant(body.get("callback_at")) if body.get("callback_at") is not None else None
    if result == "callback_requested":
        if callback_at is None or not now <= callback_at <= now + timedelta(days=MAX_CALLBACK_DAYS):
            problems.append({"field": "callback_at", "message": "required: an ISO date-time from now to 30 days ahead"})
    elif body.get("callback_at") is not None:
        problems.append({"field": "callback_at", "message": "only with the result callback_requested"})
    if (body.get("promise") is None) != (result != "promise_to_pay"):
        problems.append({"field": "promise", "message": "required with promise_to_pay, and only with it"})
    problems += _optional_problems(body)
    if problems or occurred_at is None:
        return None, problems
    return Outcome(str(channel), str(result), occurred_at, body.get("agent"), body.get("duration_s"),
                   body.get("notes"), callback_at, body.get("task_id")), []


def _optional_problems(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    problems = []
    agent, duration, notes, task = body.get("agent"), body.get("duration_s"), body.get("notes"), body.get("task_id")
    if agent is not None and (not isinstance(agent, str) or not 1 <= len(agent) <= 128):
        problems.append({"field": "agent", "message": "text of 1 to 128 characters"})
    if duration is not None and (type(duration) is not int or not 0 <= duration <= MAX_DURATION_S):
        problems.append({"field": "duration_s", "message": f"whole seconds from 0 to {MAX_DURATION_S}"})
    if notes is not None and (not isinstance(notes, str) or len(notes) > MAX_NOTES):
        problems.append({"field": "notes", "message": f"text of at most {MAX_NOTES} characters"})
    if task is not None and (not isinstance(task, str) or parse_task_id(task) is None):
        problems.append({"field": "task_id", "message": "a call task's id, as GET /v1/calls lists it"})
    return problems


def _instant(raw: Any) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        moment = parse_instant(raw)
    except ValueError:
        return None
    return moment.astimezone(timezone.utc) if moment.tzinfo is not None else None


# ---------------------------------------------------------------- call tasks
def task_id(on: date, account_id: str) -> str:
    """A call task's id: one task per account and day (``call-YYYYMMDD-<account_id>``)."""
    return f"call-{on.strftime('%Y%m%d')}-{account_id}"


def parse_task_id(raw: str) -> tuple[date, str] | None:
    """The day and account of a task id (None when it is not one)."""
    prefix, _, rest = raw.partition("-")
    day, _, account_id = rest.partition("-")
    if prefix != "call" or len(day) != 8 or not day.isdigit() or not account_id:
        return None
    try:
        return date(int(day[:4]), int(day[4:6]), int(day[6:])), account_id
    except ValueError:
        return None


#: How recently a promise must have broken to put its account first in the list.
BROKEN_RECENTLY = timedelta(days=30)


def priority_key(account: Mapping[str, Any], owed: Decimal, today: date) -> str:
    """The sort key of an account in the day's call list (ascending is first): accounts whose
    promise broke in the last 30 days first, then by amount owed x risk score, largest first."""
    broken_on = account.get("promise_broken_on")
    first = broken_on is not None and today - date.fromisoformat(str(broken_on)) <= BROKEN_RECENTLY
    risk = Decimal(str(account.get("risk_score") or 500)) / 1000
    score = min(int(owed * risk * 100), 10**15 - 1)
    return f"{0 if first else 1}#{10**15 - 1 - score:015d}#{account['account_id']}"


# ---------------------------------------------------------------- best hours
def best_hours(stats: Mapping[str, Any], weekday: int, window: tuple[time, time], default: list[str],
               min_attempts: int, top: int = 3) -> dict[str, Any]:
    """The ``top`` hours of ``weekday`` inside ``window`` whose calls reached the right party most
    often (``stats``: ``a_<weekday>_<hour>`` attempts and ``r_<weekday>_<hour>`` right-party
    contacts), best first, as ``HH:00-HH+1:00``; the policy's ``default`` hours while the weekday
    has fewer than ``min_attempts`` attempts. Rates are smoothed (one success in two tries
    added) so an hour tried once does not outrank one tried a hundred times."""
    hours = [h for h in range(24) if window[0] <= time(h) and time(h) < window[1]]
    attempts = {h: int(stats.get(f"a_{weekday}_{h:02d}") or 0) for h in hours}
    if sum(attempts.values()) < min_attempts:
        return {"hours": list(default), "source": "policy_default", "attempts": sum(attempts.values())}
    rate = {h: (int(stats.get(f"r_{weekday}_{h:02d}") or 0) + 1) / (attempts[h] + 2) for h in hours if attempts[h]}
    ranked = sorted(rate, key=lambda h: (-rate[h], h))[:top]
    return {"hours": [f"{h:02d}:00-{h + 1:02d}:00" for h in ranked], "source": "learned",
            "attempts": sum(attempts.values())}
