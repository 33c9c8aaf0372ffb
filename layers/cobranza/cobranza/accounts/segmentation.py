"""Derived fields of an account (SPEC §4) and the date on which they next change.

Everything is a function of the account's facts, the tenant's policy and ``today`` (a date in
the tenant's time zone), so the nightly run can recompute exactly what ingestion computed.
"""
from __future__ import annotations

from bisect import bisect_left
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Iterable, Mapping

from . import status

AGING_BUCKETS = ("current", "1-30", "31-60", "61-90", "91-120", "120+")
STAGES = ("preventive", "administrative", "extrajudicial", "judicial")
AMOUNT_TIERS = ("low", "medium", "high")

#: Days past due at which the aging bucket changes (first day of 1-30, 31-60, ...).
BUCKET_STARTS = (1, 31, 61, 91, 121)
#: Days past due at which the stage changes (administrative, extrajudicial, judicial).
STAGE_STARTS = (1, 31, 91)

#: Statuses that still need the nightly run (the others never change by the passage of time).
STATUSES_ON_SCHEDULE = status.ON_SCHEDULE


def days_past_due(due_date: date, today: date) -> int:
    """Days since the due date; negative before it."""
    return (today - due_date).days


def aging_bucket(dpd: int) -> str:
    if dpd <= 0:
        return "current"
    if dpd <= 30:
        return "1-30"
    if dpd <= 60:
        return "31-60"
    if dpd <= 90:
        return "61-90"
    if dpd <= 120:
        return "91-120"
    return "120+"


def stage(dpd: int) -> str:
    if dpd <= 0:
        return "preventive"
    if dpd <= 30:
        return "administrative"
    if dpd <= 90:
        return "extrajudicial"
    return "judicial"


def amount_tier(balance: Decimal, medium_from: Decimal, high_from: Decimal) -> str:
    if balance >= high_from:
        return "high"
    if balance >= medium_from:
        return "medium"
    return "low"


def computed_risk_score(
    dpd: int,
    balance: Decimal,
    original_amount: Decimal | None,
    has_phone: bool,
    has_email: bool,
    has_location: bool,
) -> int:
    """Risk of non-payment, 0 (low) to 1000 (high), when the file brings no score.

    risk = 1000 * (0.45 * lateness + 0.25 * size + 0.20 * unreachability + 0.10 * unpaid_share)

    - lateness: days past due capped at 180, over 180 (0 before the due date);
    - size: balance capped at MXN 50,000, over 50,000;
    - unreachability: 1 - (0.5 if a phone + 0.3 if an email + 0.2 if coordinates);
    - unpaid_share: balance / original amount (capped at 1), 0.5 when the original is unknown.
    """
    lateness = min(max(dpd, 0), 180) / 180
    size = float(min(balance, Decimal(50000))) / 50000
    reach = (0.5 if has_phone else 0) + (0.3 if has_email else 0) + (0.2 if has_location else 0)
    if original_amount and original_amount > 0:
        unpaid = float(min(balance / original_amount, Decimal(1)))
    else:
        unpaid = 0.5
    score = 0.45 * lateness + 0.25 * size + 0.20 * (1 - reach) + 0.10 * unpaid
    return round(1000 * score)


@dataclass(frozen=True)
class Derived:
    days_past_due: int
    aging_bucket: str
    stage: str
    amount_tier: str
    risk_score: int
    segment: str


Rules = tuple[tuple[str, tuple[tuple[str, str, Any], ...]], ...]


def compile_rules(rules: Iterable[Mapping[str, Any]]) -> Rules:
    """Segment rules as (name, conditions); each condition is ("in", fact, allowed values) or
    ("min"/"max", fact, inclusive Decimal bound). Conditions: a list (stage, aging_bucket,
    amount_tier, product, state, status), or ``min_<fact>``/``max_<fact>`` on numbers
    (days_past_due, balance, risk_score)."""
    compiled: list[tuple[str, tuple[tuple[str, str, Any], ...]]] = []
    for rule in rules:
        conditions: list[tuple[str, str, Any]] = []
        for name, expected in rule.get("when", {}).items():
            if name.startswith(("min_", "max_")):
                conditions.append((name[:3], name[4:], Decimal(str(expected))))
            else:
                conditions.append(("in", name, frozenset(expected)))
        compiled.append((rule["name"], tuple(conditions)))
    return tuple(compiled)


def first_match(rules: Rules, facts: Mapping[str, Any], fallback: str) -> str:
    """The name of the first rule whose every condition holds (a fact without a value holds none)."""
    for name, conditions in rules:
        for kind, fact, expected in conditions:
            value = facts.get(fact)
            if value is None:
                break
            if kind == "in":
                if value not in expected:
                    break
            elif (value < expected) if kind == "min" else (value > expected):
                break
        else:
            return name
    return fallback


def segment_for(rules: Iterable[Mapping[str, Any]], facts: Mapping[str, Any], fallback: str) -> str:
    return first_match(compile_rules(rules), facts, fallback)


@dataclass(frozen=True)
class _Compiled:
    """A policy's numbers parsed once (ingestion derives a million accounts with one policy)."""

    policy: Mapping[str, Any]            # kept so that its id() is not reused while cached
    medium_from: Decimal
    high_from: Decimal
    rules: Rules
    default_segment: str
    change_offsets: tuple[int, ...]


_COMPILED: OrderedDict[int, _Compiled] = OrderedDict()


def _compiled(policy: Mapping[str, Any]) -> _Compiled:
    """The compiled form of ``policy`` (policies are not mutated once built)."""
    found = _COMPILED.get(id(policy))
    if found is not None and found.policy is policy:
        return found
    tiers = policy["amount_tiers"]
    found = _Compiled(
        policy,
        Decimal(str(tiers["medium_from"])),
        Decimal(str(tiers["high_from"])),
        compile_rules(policy.get("segments", [])),
        policy.get("default_segment", "general"),
        tuple(sorted(set(BUCKET_STARTS) | set(STAGE_STARTS) | set(cadence_offsets(policy)))),
    )
    _COMPILED[id(policy)] = found
    while len(_COMPILED) > 32:
        _COMPILED.popitem(last=False)
    return found


def derive(
    *,
    due_date: date,
    balance: Decimal,
    today: date,
    policy: Mapping[str, Any],
    product: str | None = None,
    state: str | None = None,
    status: str = "active",
    given_risk_score: int | None = None,
    original_amount: Decimal | None = None,
    has_phone: bool = False,
    has_email: bool = False,
    has_location: bool = False,
) -> Derived:
    dpd = days_past_due(due_date, today)
    compiled = _compiled(policy)
    tier = amount_tier(balance, compiled.medium_from, compiled.high_from)
    risk = given_risk_score
    if risk is None:
        risk = computed_risk_score(dpd, balance, original_amount, has_phone, has_email, has_location)
    bucket = aging_bucket(dpd)
    stage_ = stage(dpd)
    facts: dict[str, object] = {
        "days_past_due": dpd,
        "aging_bucket": bucket,
        "stage": stage_,
        "amount_tier": tier,
        "risk_score": risk,
        "balance": balance,
        "product": product,
        "state": state,
        "status": status,
    }
    seg = first_match(compiled.rules, facts, compiled.default_segment)
    return Derived(dpd, bucket, stage_, tier, risk, seg)


def cadence_offsets(policy: Mapping[str, Any]) -> list[int]:
    """Every day offset (relative to the due date) on which some cadence step is due."""
    offsets: set[int] = set()
    for steps in policy.get("cadences", {}).values():
        for step in steps:
            offsets.update(_step_days(step))
    return sorted(offsets)


def next_action_on(due_date: date, on_or_after: date, policy: Mapping[str, Any], status: str) -> date | None:
    """The first date on or after ``on_or_after`` on which the account's stage, bucket or
    next cadence step changes; None when nothing will change by the passage of time.

    Ingestion passes today (an account loaded after tonight's run still gets today's step on
    the next run); the nightly run, having handled today, passes tomorrow.
    """
    if status not in STATUSES_ON_SCHEDULE:
        return None
    dpd = days_past_due(due_date, on_or_after)
    offsets = _compiled(policy).change_offsets
    position = bisect_left(offsets, dpd)
    return due_date + timedelta(days=offsets[position]) if position < len(offsets) else None


def promise_check_on(account: Mapping[str, Any], grace_days: int) -> date | None:
    """The first day a ``promised`` account's promise is broken if nothing more is paid: the day
    after its next installment's date plus the grace days (None when no promise is open)."""
    if account.get("status") != "promised" or not account.get("promise_date"):
        return None
    return date.fromisoformat(str(account["promise_date"])) + timedelta(days=grace_days + 1)


@dataclass(frozen=True)
class Step:
    """One cadence step due on a given day."""

    stage: str
    day: int
    channel: str

    @property
    def step_id(self) -> str:
        return f"{self.channel}{self.day:+d}"


def cadence_for(policy: Mapping[str, Any], stage_: str, segment: str | None) -> list[Mapping[str, Any]]:
    """The steps that apply to an account: the cadence named after its segment when the policy
    has one, else the cadence of its stage."""
    cadences: Mapping[str, list[Mapping[str, Any]]] = policy.get("cadences", {})
    if segment and segment in cadences and segment not in STAGES:
        return cadences[segment]
    return cadences.get(stage_, [])


def _step_days(step: Mapping[str, Any]) -> list[int]:
    day = int(step["day"])
    every = step.get("repeat_every_days")
    if not every:
        return [day]
    until = max(day, int(step.get("repeat_until_day", 90)))  # a step always fires on its first day
    return list(range(day, until + 1, int(every)))


def steps_due(policy: Mapping[str, Any], due_date: date, today: date, amount_tier_: str, has_location: bool,
              *, since: date | None = None, segment: str | None = None) -> list[Step]:
    """The cadence steps due for the account today.

    A step is due when its day falls between ``since`` (the first day the planner has not yet
    handled, default today) and today. When several days fall in that range (a missed night),
    only the newest day's steps are returned: one up-to-date reminder, not a burst of old ones.
    Conditions: ``requires_location`` and ``min_amount_tier``.
    """
    dpd = days_past_due(due_date, today)
    first = days_past_due(due_date, min(since or today, today))
    current = stage(dpd)
    candidates: list[Step] = []
    for step in cadence_for(policy, current, segment):
        days = [d for d in _step_days(step) if first <= d <= dpd]
        if not days:
            continue
        if step.get("requires_location") and not has_location:
            continue
        minimum = step.get("min_amount_tier")
        if minimum and AMOUNT_TIERS.index(amount_tier_) < AMOUNT_TIERS.index(minimum):
            continue
        candidates.append(Step(current, max(days), step["channel"]))
    newest = max((s.day for s in candidates), default=None)
    return [s for s in candidates if s.day == newest]


def escalated_high_tier(stage_before: str | None, account: Mapping[str, Any]) -> str | None:
    """The later stage a high-tier account just entered (alarm ``high_tier_stage_change``), or
    None: not high tier, no stage before (a new account), or the same or an earlier stage."""
    stage = account.get("stage")
    if account.get("amount_tier") != "high" or stage_before not in STAGES or stage not in STAGES:
        return None
    return str(stage) if STAGES.index(stage) > STAGES.index(stage_before) else None
