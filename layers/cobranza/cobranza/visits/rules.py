"""Field visits (SPEC §6): what follows a visit's outcome, which agents may take a visit, and
the order in which an agent should make the day's visits.

- **Outcomes** map to a next step through the policy's ``outcome_rules``: a new account status,
  a revisit some days later (up to a number of attempts), a business alarm.
- **Zones**: an agent's zones are free strings, a state (``CDMX``, ``Jalisco``), a city
  (``Guadalajara``), a postal code (``06700``) or a postal prefix (``06*``). Matching ignores
  accents and case, and knows the state aliases of ``core.mexico`` (``CDMX``, ``DF``,
  ``Distrito Federal`` and ``Ciudad de México`` are one zone). An agent with no zones covers
  every account.
- **Assignment**: the nearest active agent covering the zone with capacity left.
- **Routes**: greedy nearest neighbour.

Pure functions: no AWS, no clock ("visited_on" is an argument).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Mapping, Sequence

from ..accounts import status as account_status
from ..core.mexico import canonical_state
from ..core.text import normalize_key
from .geo import haversine_m

OUTCOMES = ("promise_to_pay", "paid_reported", "partial_payment_reported", "not_home", "relative_contacted",
            "refused", "wrong_address", "moved", "abandoned_property", "dispute")
#: The results of a call, message, letter or office visit (SPEC §6b, campaign.call_rules); the policy's
#: ``outcome_rules`` is one table for them and for the visit outcomes.
#: Outcomes of a visit or contact that reached the debtor (KPIs: right-party contacts).
RIGHT_PARTY = frozenset({"promise_to_pay", "paid_reported", "partial_payment_reported", "refused", "dispute",
                         "right_party_contact", "callback_requested"})
CONTACT_RESULTS = ("right_party_contact", "third_party_contact", "no_answer", "busy", "voicemail", "wrong_number",
                   "promise_to_pay", "paid_reported", "refused", "dispute", "callback_requested", "deceased")
RULED_OUTCOMES = OUTCOMES + tuple(r for r in CONTACT_RESULTS if r not in OUTCOMES)

#: SPEC §4 account statuses (an outcome rule may set any of them).
ACCOUNT_STATUSES = account_status.ALL

#: Raised when an outcome's revisits are used up.
VISITS_EXHAUSTED = "visits_exhausted"

DEFAULT_OUTCOME_RULES: dict[str, dict[str, Any]] = {
    "promise_to_pay": {"status": "promised"},
    "paid_reported": {"status": "payment_reported"},
    "partial_payment_reported": {},
    "not_home": {"revisit_after_days": 3, "max_attempts": 3},
    "relative_contacted": {"revisit_after_days": 7, "max_attempts": 2},
    "refused": {},
    "wrong_address": {"alarm": "skip_trace"},
    "moved": {"alarm": "skip_trace"},
    "abandoned_property": {"alarm": "skip_trace"},
    "dispute": {"status": "disputed"},
    "right_party_contact": {},
    "third_party_contact": {},
    "no_answer": {},
    "busy": {},
    "voicemail": {},
    "wrong_number": {"unusable": "phone", "alarm": "skip_trace"},
    "callback_requested": {"callback": True},
    "deceased": {"close_contact": True, "alarm": "debtor_deceased"},
}

_OUTCOME_RULE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "status": {"type": "string", "enum": list(ACCOUNT_STATUSES)},
        "revisit_after_days": {"type": "integer", "minimum": 1, "maximum": 60},
        "max_attempts": {"type": "integer", "minimum": 1, "maximum": 10},
        "alarm": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$", "maxLength": 64},
        # for the results of calls and contacts (call_rules.next_step)
        "unusable": {"type": "string", "enum": ["phone", "email"]},
        "callback": {"type": "boolean"},
        "close_contact": {"type": "boolean"},
    },
}
#: JSON schema of the policy's ``outcome_rules`` section.
OUTCOME_RULES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {outcome: copy.deepcopy(_OUTCOME_RULE_SCHEMA) for outcome in RULED_OUTCOMES},
}


# ---------------------------------------------------------------- outcomes
@dataclass(frozen=True)
class NextStep:
    """What a visit's outcome sets in motion."""

    account_status: str | None  # new account status, None = unchanged
    store_promise: bool  # the result's promise becomes the account's promise
    revisit_on: date | None  # a new visit task for this date (None = no revisit)
    alarm: str | None  # business alarm code to raise, e.g. "skip_trace"

    def as_dict(self) -> dict[str, Any]:
        return {"account_status": self.account_status, "store_promise": self.store_promise,
                "revisit_on": self.revisit_on.isoformat() if self.revisit_on else None, "alarm": self.alarm}


def next_step(outcome: str, rules: Mapping[str, Any], attempt: int, visited_on: date) -> NextStep:
    """The next step after a visit with ``outcome``, the ``attempt``-th visit (1-based) for it.

    ``rules`` is the policy's ``outcome_rules``; an outcome it does not name follows the default
    rule. A revisit is planned while ``attempt < max_attempts``; the last attempt plans none and
    raises ``visits_exhausted`` (unless the rule names its own alarm). The promise is stored when
    the new status is ``promised``."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown visit outcome {outcome!r}")
    if attempt < 1:
        raise ValueError(f"attempt is 1-based, got {attempt}")
    rules = rules or {}
    rule = rules[outcome] if outcome in rules else DEFAULT_OUTCOME_RULES[outcome]
    status = rule.get("status")
    alarm = rule.get("alarm")
    revisit_on = None
    days = rule.get("revisit_after_days")
    if days:
        limit = rule.get("max_attempts")
        if limit is None or attempt < limit:
            revisit_on = visited_on + timedelta(days=days)
        else:
            alarm = alarm or VISITS_EXHAUSTED
    return NextStep(account_status=status, store_promise=status == "promised", revisit_on=revisit_on, alarm=alarm)


# ---------------------------------------------------------------- zones
_CDMX = "Ciudad de México"


def _zone_key(text: str) -> str:
    """A state's spellings and aliases give the canonical state's key; anything else its own."""
    return normalize_key(canonical_state(text) or text)


def zone_keys(state: str | None, city: str | None, postal_code: str | None) -> set[str]:
    """The keys an account's zone matches (accent-free, lower case, trimmed): its state (and the
    state's aliases), its city and its postal code."""
    keys = set()
    if state and state.strip():
        keys.add(_zone_key(state))
    if city and city.strip():
        keys.add(normalize_key(city))
        if canonical_state(city) == _CDMX:  # "CDMX" written as the city
            keys.add(normalize_key(_CDMX))
    if postal_code and postal_code.strip():
        keys.add(normalize_key(postal_code))
    keys.discard("")
    return keys


def covers(zones: Sequence[str], keys: set[str], postal_code: str | None) -> bool:
    """An agent with ``zones`` covers an account with ``keys`` (``zone_keys``) and ``postal_code``."""
    if not zones:
        return True
    code = (postal_code or "").strip()
    for zone in zones:
        zone = zone.strip()
        if zone.endswith("*"):
            prefix = zone[:-1].strip()
            if prefix and code.startswith(prefix):
                return True
        elif zone and _zone_key(zone) in keys:
            return True
    return False


# ---------------------------------------------------------------- assignment and routes
@dataclass(frozen=True)
class AgentSlot:
    """An agent as assignment sees it on one day."""

    agent_id: str
    zones: tuple[str, ...]
    home: tuple[float, float] | None
    capacity: int
    load: int  # visits already assigned to it on the day in question
    active: bool = True


def rank_agents(agents: Sequence[AgentSlot], target: tuple[float, float] | None, keys: set[str],
                postal_code: str | None) -> list[str]:
    """Ids of the agents that may take a visit at ``target``, best first: active, covering the
    zone, with capacity left; nearest home first (agents without a home after those with one),
    then lowest load, then id."""
    def order(agent: AgentSlot) -> tuple[bool, float, int, str]:
        if target is None or agent.home is None:
            return (target is not None, 0.0, agent.load, agent.agent_id)
        return (False, haversine_m(agent.home[0], agent.home[1], target[0], target[1]), agent.load, agent.agent_id)

    eligible = [a for a in agents
                if a.active and a.load < a.capacity and covers(a.zones, keys, postal_code)]
    return [a.agent_id for a in sorted(eligible, key=order)]


def nearest_neighbour_route(start: tuple[float, float] | None,
                            stops: Sequence[tuple[str, float | None, float | None]]) -> list[str]:
    """Visit ids in route order: from ``start`` (or else the first stop with coordinates) always
    to the nearest stop not yet visited (ties by id); stops without coordinates go last, in
    their given order."""
    located = [(visit_id, lat, lon) for visit_id, lat, lon in stops if lat is not None and lon is not None]
    unlocated = [visit_id for visit_id, lat, lon in stops if lat is None or lon is None]
    route: list[str] = []
    here = start
    if here is None and located:
        first = located.pop(0)
        route.append(first[0])
        here = (first[1], first[2])
    while located:
        assert here is not None  # nosec B101  # type narrowing: start, or else the first located stop
        origin = here
        nearest = min(located, key=lambda s: (haversine_m(origin[0], origin[1], s[1], s[2]), s[0]))
        located.remove(nearest)
        route.append(nearest[0])
        here = (nearest[1], nearest[2])
    return route + unlocated
