"""KPIs from counters (pure; SPEC §8). Every definition is in docs/api.md, "KPIs".

Counters are numbers in items of a tenant x day x segment; their names say what they count:

- ``attempts.<channel>``, ``delivered.<channel>``: reminders tried / accepted by the provider
  (email, sms, whatsapp), calls and other contacts recorded as outcomes (``attempts.call``...).
- ``rpc.<channel>``: right-party contacts (an outcome that reached the debtor).
- ``hour.<channel>.<weekday>_<hh>.a`` / ``.r``: attempts and right-party contacts by the
  debtor's local weekday (0 Monday) and hour: the best-hours matrix.
- ``promises_made``, ``promises_kept``, ``promises_broken``; ``payments``, ``recovered``
  (amount applied, reversals subtracted); ``visits_done``, ``visits_verified``,
  ``visit_agent.<agent_id>`` (visits per agent that day) and ``visit_agent_verified.<agent_id>``
  (the verified ones among them; not counted before the daily report, issue 17).
- ``roll.<from>><to>``: accounts the nightly run saw move between aging buckets.

A day's ``_level`` item (segment ``_level``) is the portfolio as the day's night started:
``n.<segment>.<bucket>`` accounts and ``owed.<segment>.<bucket>`` owed, the roll rates'
denominators and the amount due at the start.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Iterable, Mapping
from zoneinfo import ZoneInfo

from ..accounts.segmentation import AGING_BUCKETS

CHANNELS = ("email", "sms", "whatsapp", "call", "field_visit", "phone", "in_person", "letter", "other")
REMINDER_CHANNELS = ("email", "sms", "whatsapp")
GROUPS = ("day", "week", "month")
#: Outcome channels priced as a policy channel: a phone outcome is a call, in person a visit.
PRICED_AS = {"phone": "call", "in_person": "field_visit"}
MAX_RANGE_DAYS = 400
LEVEL_SEGMENT = "_level"

def hour_slot(moment: datetime, tz: str) -> str:
    """The weekday (0 Monday) and hour of ``moment`` in the debtor's zone: ``<weekday>_<hour>``."""
    local = moment.astimezone(ZoneInfo(tz))
    return f"{local.weekday()}_{local.hour:02d}"


def attempt_counters(channel: str, slot: str, delivered: bool) -> dict[str, int]:
    """A reminder tried (and accepted by the provider)."""
    counters = {f"attempts.{channel}": 1, f"hour.{channel}.{slot}.a": 1}
    if delivered:
        counters[f"delivered.{channel}"] = 1
    return counters


def contact_counters(channel: str, slot: str, right_party: bool) -> dict[str, int]:
    """A call or other contact whose outcome was recorded (a right-party contact or not)."""
    counters = {f"attempts.{channel}": 1, f"hour.{channel}.{slot}.a": 1}
    if right_party:
        counters.update({f"rpc.{channel}": 1, f"hour.{channel}.{slot}.r": 1})
    return counters


def roll_counter(source: str, target: str) -> str:
    return f"roll.{source}>{target}"


def day_item_key(day: str, segment: str, shard: int = 0) -> str:
    return f"{day}#{segment}#{shard}"


def parse_item_key(item_key: str) -> tuple[str, str]:
    """(day, segment) of a counters item (a segment's name may hold ``#``: the shard is last)."""
    day, _, rest = item_key.partition("#")
    segment, _, _ = rest.rpartition("#")
    return day, segment


def months_between(first: date, last: date) -> list[str]:
    """The ``YYYY-MM`` of every month from ``first`` to ``last``: one query each."""
    months, cursor = [], first.replace(day=1)
    while cursor <= last:
        months.append(cursor.strftime("%Y-%m"))
        cursor = (cursor + timedelta(days=32)).replace(day=1)
    return months


def period_of(day: date, group_by: str) -> str:
    if group_by == "week":
        return (day - timedelta(days=day.weekday())).isoformat()
    if group_by == "month":
        return day.strftime("%Y-%m")
    return day.isoformat()


@dataclass
class Totals:
    """One day's counters (of the segment asked for) and its level (None before its first night)."""
    counters: dict[str, Decimal]
    level: dict[str, Decimal] | None = None
    agent_days: int = 0


def add_up(items: Iterable[Mapping[str, Any]], first: date, last: date, segment: str | None) -> dict[str, Totals]:
    """Counters summed by day (``{day: Totals}``); with ``segment``, only that segment's."""
    by_day: dict[str, Totals] = {}
    for item in items:
        day, item_segment = parse_item_key(str(item["item_key"]))
        if not first.isoformat() <= day <= last.isoformat():
            continue
        totals = by_day.setdefault(day, Totals(defaultdict(Decimal)))
        if item_segment == LEVEL_SEGMENT:
            totals.level = _level_of(item, segment)
        elif segment is None or item_segment == segment:
            for name, value in item.items():
                if isinstance(value, (int, Decimal)) and ("." in name or name in COUNTERS):
                    totals.counters[name] += Decimal(value)
    for totals in by_day.values():
        totals.agent_days = sum(1 for name, value in totals.counters.items() if name.startswith("visit_agent.") and value)
    return by_day


def _level_of(item: Mapping[str, Any], segment: str | None) -> dict[str, Decimal]:
    """``n.<bucket>`` and ``owed.<bucket>`` of one segment, or of all added up."""
    level: dict[str, Decimal] = defaultdict(Decimal)
    for name, value in item.items():
        kind, _, rest = name.partition(".")
        if kind not in ("n", "owed") or not isinstance(value, (int, Decimal)):
            continue
        item_segment, _, bucket = rest.rpartition(".")
        if segment is None or item_segment == segment:
            level[f"{kind}.{bucket}"] += Decimal(value)
    return level


COUNTERS = frozenset({"promises_made", "promises_kept", "promises_broken", "payments", "reversals", "recovered",
                      "visits_done", "visits_verified"})


def first_level(days: Mapping[str, Totals]) -> dict[str, Decimal] | None:
    """The level of the range's first day that has one (the start of the range)."""
    return next((days[d].level for d in sorted(days) if days[d].level is not None), None)


def _ratio(numerator: Decimal, denominator: Decimal, places: int = 4) -> float | None:
    return None if not denominator else round(float(numerator / denominator), places)


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def summarise(days: Mapping[str, Totals], prices: Mapping[str, Any]) -> dict[str, Any]:
    """The KPIs of a set of days (a period, or the whole range)."""
    counters: dict[str, Decimal] = defaultdict(Decimal)
    agent_days = 0
    for totals in days.values():
        for name, value in totals.counters.items():
            counters[name] += value
        agent_days += totals.agent_days
    start = first_level(days)
    # never below zero: a count lost between an event and its counter must not show a negative portfolio
    due_start = None if start is None else max(Decimal(0), sum((v for k, v in start.items() if k.startswith("owed.")),
                                                               Decimal(0)))
    recovered = counters["recovered"]
    attempts = {ch: int(counters[f"attempts.{ch}"]) for ch in CHANNELS if counters[f"attempts.{ch}"]}
    delivered = {ch: int(counters[f"delivered.{ch}"]) for ch in CHANNELS if counters[f"delivered.{ch}"]}
    rpc = {ch: int(counters[f"rpc.{ch}"]) for ch in CHANNELS if counters[f"rpc.{ch}"]}
    cost = {ch: Decimal(str(prices.get(PRICED_AS.get(ch, ch), 0))) * counters[f"attempts.{ch}"] for ch in attempts}
    cost_total = sum(cost.values(), Decimal(0))
    kept, broken = counters["promises_kept"], counters["promises_broken"]
    # a reminder cannot reach the right party: the contact rate is over calls, contacts and visits
    contacts = sum(n for ch, n in attempts.items() if ch not in REMINDER_CHANNELS)
    all_rpc = sum(n for ch, n in rpc.items() if ch not in REMINDER_CHANNELS)
    return {
        "amount_due_start": None if due_start is None else _money(due_start),
        "amount_recovered": _money(recovered),
        "recovery_rate": _ratio(recovered, due_start) if due_start else None,
        "payments": int(counters["payments"]), "reversals": int(counters["reversals"]),
        "attempts": attempts, "deliveries": delivered,
        "delivery_rate": _ratio(Decimal(sum(delivered.values())),
                                Decimal(sum(attempts.get(ch, 0) for ch in REMINDER_CHANNELS))),
        "right_party_contacts": rpc, "contact_rate": _ratio(Decimal(all_rpc), Decimal(contacts)),
        "promises_made": int(counters["promises_made"]), "promises_kept": int(kept), "promises_broken": int(broken),
        "kept_rate": _ratio(kept, kept + broken),
        "visits_done": int(counters["visits_done"]), "visits_verified": int(counters["visits_verified"]),
        "verified_rate": _ratio(counters["visits_verified"], counters["visits_done"]),
        "visits_per_agent_day": _ratio(counters["visits_done"], Decimal(agent_days), 2),
        "cost": {ch: _money(value) for ch, value in cost.items()}, "cost_total": _money(cost_total),
        "cost_per_amount_recovered": _ratio(cost_total, recovered),
    }


def roll_rates(days: Mapping[str, Totals]) -> dict[str, Any]:
    """Accounts that moved from bucket to bucket over the range, and as a share of the accounts in
    the first bucket at the range's start (the first day with a level)."""
    moves: dict[tuple[str, str], int] = defaultdict(int)
    for totals in days.values():
        for name, value in totals.counters.items():
            if name.startswith("roll."):
                source, _, target = name[5:].partition(">")
                moves[(source, target)] += int(value)
    start = {name: max(Decimal(0), value) for name, value in (first_level(days) or {}).items()}
    counts = [[moves.get((a, b), 0) for b in AGING_BUCKETS] for a in AGING_BUCKETS]
    rates = [[_ratio(Decimal(counts[i][j]), start.get(f"n.{a}", Decimal(0))) for j in range(len(AGING_BUCKETS))]
             for i, a in enumerate(AGING_BUCKETS)]
    return {"buckets": list(AGING_BUCKETS), "accounts_at_start": [int(start.get(f"n.{a}", 0)) for a in AGING_BUCKETS],
            "moved": counts, "rates": rates}


def best_hours(days: Mapping[str, Totals]) -> dict[str, Any]:
    """Per channel, a weekday (0 Monday) x hour matrix of right-party contacts over attempts."""
    attempts: dict[str, list[list[int]]] = {}
    reached: dict[str, list[list[int]]] = {}
    for totals in days.values():
        for name, value in totals.counters.items():
            if not name.startswith("hour."):
                continue
            _, channel, slot, kind = name.split(".")
            weekday, hour = (int(p) for p in slot.split("_"))
            target = attempts if kind == "a" else reached
            matrix = target.setdefault(channel, [[0] * 24 for _ in range(7)])
            matrix[weekday][hour] += int(value)
    result = {}
    for channel in sorted(attempts):
        tried, got = attempts[channel], reached.get(channel, [[0] * 24 for _ in range(7)])
        result[channel] = {"attempts": tried, "right_party": got,
                           "rate": [[_ratio(Decimal(got[w][h]), Decimal(tried[w][h])) for h in range(24)]
                                    for w in range(7)]}
    return {"weekdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "hours": list(range(24)),
            "channels": result}


def level_by_bucket(days: Mapping[str, Totals]) -> dict[str, Any] | None:
    """The portfolio by aging bucket as the range started (its first level): accounts and amount
    owed, never below zero; None before the tenant's first night."""
    level = first_level(days)
    if level is None:
        return None
    return {"buckets": list(AGING_BUCKETS),
            "accounts": [int(max(Decimal(0), level.get(f"n.{b}", Decimal(0)))) for b in AGING_BUCKETS],
            "owed": [_money(max(Decimal(0), level.get(f"owed.{b}", Decimal(0)))) for b in AGING_BUCKETS]}


AGENT_DONE, AGENT_VERIFIED = "visit_agent.", "visit_agent_verified."


def visits_by_agent(days: Mapping[str, Totals]) -> dict[str, dict[str, int]]:
    """Visits done and verified per agent over the days (``{agent_id: {"done", "verified"}}``)."""
    agents: dict[str, dict[str, int]] = {}
    for totals in days.values():
        for name, value in totals.counters.items():
            for prefix, kind in ((AGENT_DONE, "done"), (AGENT_VERIFIED, "verified")):
                if name.startswith(prefix) and value:
                    counts = agents.setdefault(name[len(prefix):], {"done": 0, "verified": 0})
                    counts[kind] += int(value)
    return agents
