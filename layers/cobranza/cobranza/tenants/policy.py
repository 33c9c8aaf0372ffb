"""The tenant policy (SPEC §4): one JSON document, validated by a schema, with a default.

A tenant's stored policy is a *partial* document: whatever it sets replaces the default's
top-level section of the same name, so a tenant can change its cadences without restating
its thresholds. ``effective_policy`` returns the merged, validated document.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from datetime import time, timedelta
from typing import Any, Iterable, Mapping

from aws_lambda_powertools.utilities.validation import SchemaValidationError, validate

from ..accounts.segmentation import AGING_BUCKETS, AMOUNT_TIERS, STAGES
from ..accounts.status import ALL as ACCOUNT_STATUSES
from ..visits.geo import DEFAULT_RULES as DEFAULT_GEO_RULES
from ..visits.geo import FLAG_REASONS
from ..visits.questionnaires import (
    DEFAULT_QUESTIONNAIRE_ID,
    DEFAULT_QUESTIONNAIRES,
    QUESTION_ID_PATTERN,
    QUESTIONNAIRE_SCHEMA,
    questionnaire_problems,
)
from ..visits.rules import DEFAULT_OUTCOME_RULES, OUTCOME_RULES_SCHEMA

CHANNELS = ["email", "sms", "whatsapp", "field_visit", "call"]

DEFAULT_POLICY: dict[str, Any] = {
    "locale": "es-MX",
    "currency": "MXN",
    "timezone": "America/Mexico_City",
    "phone_region": "MX",
    "amount_tiers": {"medium_from": 5000, "high_from": 20000},
    "default_segment": "general",
    # First matching rule wins (conditions in accounts.segmentation.compile_rules).
    "segments": [
        {"name": "legal_handoff", "when": {"stage": ["judicial"]}},
        {"name": "high_value_late", "when": {"stage": ["extrajudicial"], "amount_tier": ["high", "medium"]}},
        {"name": "late", "when": {"stage": ["extrajudicial"]}},
        {"name": "high_risk_early", "when": {"stage": ["preventive", "administrative"], "min_risk_score": 600}},
        {"name": "early", "when": {"stage": ["preventive", "administrative"]}},
    ],
    # Days relative to the due date (SPEC §5).
    "cadences": {
        "preventive": [
            {"day": -3, "channel": "email"},
            {"day": -1, "channel": "sms"},
        ],
        "administrative": [
            {"day": 1, "channel": "sms"},
            {"day": 3, "channel": "email"},
            {"day": 7, "channel": "whatsapp"},
            {"day": 15, "channel": "email"},
            {"day": 25, "channel": "sms"},
        ],
        "extrajudicial": [
            {"day": 31, "channel": "email"},
            {"day": 35, "channel": "field_visit", "requires_location": True, "min_amount_tier": "medium"},
            {"day": 45, "channel": "whatsapp"},
            {"day": 59, "channel": "email", "repeat_every_days": 14, "repeat_until_day": 90},
        ],
        "judicial": [],
    },
    "contact_rules": {
        "window_start": "07:00",
        "window_end": "22:00",
        "max_per_day": 1,
        "max_per_7_days": 7,
        "promise_grace_days": 2,
    },
    # reject_reasons: reasons that reject instead of flag (mock locations and distances over
    # reject_distance_m always reject).
    "geo_verification": copy.deepcopy(DEFAULT_GEO_RULES),
    "visits": {
        "capacity_per_day": 12,
        "questionnaire": DEFAULT_QUESTIONNAIRE_ID,
        "sla_days": 3,
        "photo_max_mb": 10,
    },
    # Questionnaire id -> definition (visits.questionnaires).
    "questionnaires": copy.deepcopy(DEFAULT_QUESTIONNAIRES),
    # Visit outcome -> next step (visits.rules.next_step).
    "outcome_rules": copy.deepcopy(DEFAULT_OUTCOME_RULES),
    # urgent_codes: emailed at once (the others go in the 08:00 digest); an agent with no ping
    # for agent_silence_hours inside working hours (tenant zone, ISO weekdays) raises agent_silent.
    "alarms": {"upload_reject_share": 0.05, "snapshot_max_withdraw_share": 0.5,
               "urgent_codes": ["promise_broken", "visit_rejected", "judicial_handoff", "payment_reversed"],
               "agent_silence_hours": 2, "working_start": "08:00", "working_end": "19:00",
               "working_days": [1, 2, 3, 4, 5, 6], "digest_hour": 8},
    "notifications": {"emails": []},
    # The phone team's day (call_rules.best_hours): the hours offered until a segment's calls
    # on a weekday reach min_attempts, then the hours learned from its outcomes.
    "calls": {"default_best_hours": ["10:00-11:00", "12:00-13:00", "18:00-19:00"], "min_attempts": 30},
    # The KPIs' cost by channel: a price per attempt in the policy's currency. Defaults: the
    # providers' list prices at 18 MXN to the dollar (SES 0.10 USD per 1,000 emails, SMS to
    # Mexico about 0.027 USD, a WhatsApp utility template in Mexico about 0.008 USD); calls and
    # visits are the tenant's own staff, 0 until set.
    "kpis": {"channel_prices": {"email": 0.0018, "sms": 0.48, "whatsapp": 0.15, "call": 0, "field_visit": 0}},
    # The debtor's page (debtor.page): how to pay, in the tenant's words (plain text, one
    # paragraph a line); empty, the page says to pay with the reference through the lender.
    "debtor_page": {"payment_instructions": ""},
}

#: The longest payment instructions the debtor's page shows.
MAX_PAYMENT_INSTRUCTIONS = 2000

#: Amounts in a policy (tiers, balances): up to a trillion in the tenant's currency.
MAX_AMOUNT = 10**12
_AMOUNT = {"type": "number", "minimum": 0, "maximum": MAX_AMOUNT}
_DAYS = {"type": "integer", "minimum": -3650, "maximum": 36500}
_NAME = {"type": "string", "minLength": 1, "maxLength": 64}
_HHMM = {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$", "maxLength": 5}


def _one_of(values: Any) -> dict[str, Any]:
    return {"type": "array", "maxItems": len(values), "uniqueItems": True, "items": {"type": "string", "enum": list(values)}}


def _names(max_items: int = 100) -> dict[str, Any]:
    return {"type": "array", "maxItems": max_items, "items": {"type": "string", "minLength": 1, "maxLength": 100}}


POLICY_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "locale": {"type": "string", "enum": ["es-MX", "en"]},
        "currency": {"type": "string", "pattern": "^[A-Z]{3}$", "maxLength": 3},
        "timezone": {"type": "string", "minLength": 3, "maxLength": 64},
        "phone_region": {"type": "string", "pattern": "^[A-Z]{2}$", "maxLength": 2},
        "amount_tiers": {
            "type": "object",
            "additionalProperties": False,
            "required": ["medium_from", "high_from"],
            "properties": {"medium_from": _AMOUNT, "high_from": _AMOUNT},
        },
        "default_segment": _NAME,
        "segments": {
            "type": "array",
            "maxItems": 100,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "when"],
                "properties": {
                    "name": _NAME,
                    "when": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "stage": _one_of(STAGES),
                            "aging_bucket": _one_of(AGING_BUCKETS),
                            "amount_tier": _one_of(AMOUNT_TIERS),
                            "product": _names(),
                            "state": _names(),
                            "status": _one_of(ACCOUNT_STATUSES),
                            "min_days_past_due": _DAYS,
                            "max_days_past_due": _DAYS,
                            "min_balance": _AMOUNT,
                            "max_balance": _AMOUNT,
                            "min_risk_score": {"type": "integer", "minimum": 0, "maximum": 1000},
                            "max_risk_score": {"type": "integer", "minimum": 0, "maximum": 1000},
                        },
                    },
                },
            },
        },
        "cadences": {
            "type": "object",
            "description": "A stage's (or a segment's) steps, by its name.",
            "maxProperties": 100,
            "additionalProperties": {
                "type": "array",
                "maxItems": 50,
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["day", "channel"],
                    "properties": {
                        "day": {"type": "integer", "minimum": -60, "maximum": 3650},
                        "channel": {"type": "string", "enum": CHANNELS},
                        "template": _NAME,
                        "requires_location": {"type": "boolean"},
                        "min_amount_tier": {"type": "string", "enum": ["low", "medium", "high"]},
                        "repeat_every_days": {"type": "integer", "minimum": 1, "maximum": 365},
                        "repeat_until_day": {"type": "integer", "minimum": -60, "maximum": 3650},
                    },
                },
            },
        },
        "contact_rules": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "window_start": _HHMM,
                "window_end": _HHMM,
                "max_per_day": {"type": "integer", "minimum": 0, "maximum": 1},
                "max_per_7_days": {"type": "integer", "minimum": 0, "maximum": 7},
                "promise_grace_days": {"type": "integer", "minimum": 0, "maximum": 30},
            },
        },
        "geo_verification": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "radius_m": {"type": "number", "minimum": 10, "maximum": 150},
                "max_accuracy_m": {"type": "number", "minimum": 1, "maximum": 100},
                "max_speed_kmh": {"type": "number", "minimum": 1, "maximum": 200},
                "max_future_minutes": {"type": "integer", "minimum": 0, "maximum": 5},
                "max_age_days": {"type": "integer", "minimum": 0, "maximum": 7},
                "reject_distance_m": {"type": "number", "minimum": 150, "maximum": 1000},
                "reject_reasons": _one_of(FLAG_REASONS),
            },
        },
        "visits": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "capacity_per_day": {"type": "integer", "minimum": 1, "maximum": 100},
                "questionnaire": {"type": "string", "pattern": QUESTION_ID_PATTERN, "maxLength": 64},
                "sla_days": {"type": "integer", "minimum": 1, "maximum": 30},
                "photo_max_mb": {"type": "integer", "minimum": 1, "maximum": 10},
            },
        },
        "questionnaires": {
            "type": "object",
            "maxProperties": 20,
            "additionalProperties": QUESTIONNAIRE_SCHEMA,
        },
        "outcome_rules": OUTCOME_RULES_SCHEMA,
        "alarms": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "upload_reject_share": {"type": "number", "minimum": 0, "maximum": 1},
                "snapshot_max_withdraw_share": {"type": "number", "minimum": 0, "maximum": 1},
                "urgent_codes": {"type": "array", "maxItems": 50, "uniqueItems": True,
                                 "items": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$", "maxLength": 64}},
                "agent_silence_hours": {"type": "integer", "minimum": 1, "maximum": 24},
                "working_start": _HHMM,
                "working_end": _HHMM,
                "working_days": {"type": "array", "maxItems": 7, "uniqueItems": True,
                                 "items": {"type": "integer", "minimum": 1, "maximum": 7}},
                "digest_hour": {"type": "integer", "minimum": 0, "maximum": 23},
            },
        },
        "notifications": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"emails": {"type": "array", "maxItems": 20,
                                      "items": {"type": "string", "format": "email", "maxLength": 254}}},
        },
        "kpis": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "channel_prices": {"type": "object", "additionalProperties": False, "properties": {
                    channel: {"type": "number", "minimum": 0, "maximum": 100000}
                    for channel in ("email", "sms", "whatsapp", "call", "field_visit")}},
            },
        },
        "calls": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "default_best_hours": {"type": "array", "maxItems": 24, "items": {
                    "type": "string", "maxLength": 11,
                    "pattern": "^([01][0-9]|2[0-3]):00-([01][0-9]|2[0-4]):00$"}},
                "min_attempts": {"type": "integer", "minimum": 1, "maximum": 100000},
            },
        },
        "debtor_page": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "payment_instructions": {"type": "string", "maxLength": MAX_PAYMENT_INSTRUCTIONS},
            },
        },
    },
}


_QUESTIONNAIRE_ID = re.compile(QUESTION_ID_PATTERN)


class PolicyError(ValueError):
    """The policy document breaks the schema; ``details`` say where."""

    def __init__(self, message: str, details: list[dict[str, str]]):
        super().__init__(message)
        self.details = details


def validate_policy(document: Mapping[str, Any]) -> None:
    try:
        validate(event=dict(document), schema=POLICY_SCHEMA)
    except SchemaValidationError as exc:
        field = ".".join(str(p) for p in (exc.path or [])) or (exc.name or "policy")
        raise PolicyError("invalid policy", [{"field": field, "message": str(exc.message)}]) from exc
    tiers = document.get("amount_tiers")
    if tiers and tiers["medium_from"] > tiers["high_from"]:
        raise PolicyError(
            "invalid policy",
            [{"field": "amount_tiers", "message": "medium_from must not exceed high_from"}],
        )
    rules = document.get("contact_rules") or {}
    if rules.get("window_start", "07:00") < "07:00" or rules.get("window_end", "22:00") > "22:00":
        raise PolicyError(
            "invalid policy",
            [{"field": "contact_rules", "message": "the contact window may only narrow 07:00-22:00"}],
        )
    if rules.get("window_start", "07:00") >= rules.get("window_end", "22:00"):
        raise PolicyError(
            "invalid policy",
            [{"field": "contact_rules", "message": "window_start must be before window_end"}],
        )
    alarms = document.get("alarms") or {}
    if alarms.get("working_start", "08:00") >= alarms.get("working_end", "19:00"):
        raise PolicyError(
            "invalid policy",
            [{"field": "alarms", "message": "working_start must be before working_end"}],
        )
    problems = _questionnaire_problems(document)
    if problems:
        raise PolicyError("invalid policy", problems)


def _questionnaire_problems(document: Mapping[str, Any]) -> list[dict[str, str]]:
    """Every questionnaire's definition errors, and a ``visits.questionnaire`` that names none.
    A section the document leaves out is the default's (as in ``effective_policy``)."""
    questionnaires = document.get("questionnaires", DEFAULT_QUESTIONNAIRES)
    problems = []
    for qid, questionnaire in questionnaires.items():
        if not _QUESTIONNAIRE_ID.match(qid):
            problems.append({"field": f"questionnaires.{qid}", "message": "questionnaire ids are snake_case"})
        for problem in questionnaire_problems(questionnaire):
            field = ".".join(part for part in ("questionnaires", qid, problem["field"]) if part)
            problems.append({"field": field, "message": problem["message"]})
    chosen = (document.get("visits") or {}).get("questionnaire", DEFAULT_QUESTIONNAIRE_ID)
    if chosen not in questionnaires:
        problems.append({"field": "visits.questionnaire",
                         "message": f"no questionnaire {chosen!r} in questionnaires"})
    return problems


#: Sections of settings: a tenant's section is laid over the default's key by key, so a key it
#: leaves out keeps the default (and a changed default reaches it). ``outcome_rules`` is merged
#: by outcome. Every other section (``cadences``, ``segments``, ``questionnaires``, the tiers and
#: the scalars) is replaced whole: it is a collection the tenant states in full.
MERGED_BY_KEY = frozenset({"contact_rules", "geo_verification", "visits", "alarms", "notifications", "outcome_rules",
                           "calls", "kpis", "debtor_page"})


def effective_policy(stored: Mapping[str, Any] | None) -> dict[str, Any]:
    """The default policy with the tenant's sections laid over it (MERGED_BY_KEY by key)."""
    merged = copy.deepcopy(DEFAULT_POLICY)
    for section, value in (stored or {}).items():
        if section in MERGED_BY_KEY and isinstance(value, Mapping) and isinstance(merged.get(section), dict):
            merged[section].update(copy.deepcopy(dict(value)))
        else:
            merged[section] = copy.deepcopy(value)
    return merged


# ---------------------------------------------------------------- typed reads of an effective policy
@dataclass(frozen=True)
class VisitSettings:
    capacity_per_day: int
    questionnaire: str
    sla_days: int
    photo_max_bytes: int


def visit_settings(policy: Mapping[str, Any]) -> VisitSettings:
    section = policy["visits"]
    return VisitSettings(capacity_per_day=int(section["capacity_per_day"]), questionnaire=str(section["questionnaire"]),
                         sla_days=int(section["sla_days"]), photo_max_bytes=int(section["photo_max_mb"]) * 1024 * 1024)


def questionnaire(policy: Mapping[str, Any], form_id: str | None) -> dict[str, Any] | None:
    """A questionnaire by id (the policy's default questionnaire when None); a visit made before
    its tenant replaced the questionnaires still finds a built-in one. None if unknown."""
    chosen = form_id or visit_settings(policy).questionnaire
    form: dict[str, Any] | None = policy["questionnaires"].get(chosen) or DEFAULT_QUESTIONNAIRES.get(chosen)
    return form


def geo_rules(policy: Mapping[str, Any]) -> dict[str, Any]:
    rules: dict[str, Any] = policy["geo_verification"]
    return rules


def outcome_rules(policy: Mapping[str, Any]) -> dict[str, Any]:
    rules: dict[str, Any] = policy["outcome_rules"]
    return rules


@dataclass(frozen=True)
class AlarmSettings:
    urgent_codes: frozenset[str]
    silence: timedelta
    working_start: time
    working_end: time
    working_days: frozenset[int]
    digest_hour: int


def alarm_settings(policy: Mapping[str, Any]) -> AlarmSettings:
    section = policy["alarms"]
    return AlarmSettings(urgent_codes=frozenset(section["urgent_codes"]),
                         silence=timedelta(hours=int(section["agent_silence_hours"])),
                         working_start=time.fromisoformat(section["working_start"]),
                         working_end=time.fromisoformat(section["working_end"]),
                         working_days=frozenset(int(d) for d in section["working_days"]),
                         digest_hour=int(section["digest_hour"]))


def notification_emails(policy: Mapping[str, Any]) -> list[str]:
    return [str(address) for address in policy["notifications"].get("emails") or []]


def payment_instructions(policy: Mapping[str, Any]) -> str | None:
    """The tenant's own words on how to pay (None when it has none)."""
    text = str((policy.get("debtor_page") or {}).get("payment_instructions") or "").strip()
    return text or None


def team_emails(tenant_emails: Iterable[str] | None, policy: Mapping[str, Any]) -> list[str]:
    """Who at the tenant receives visit results and alarms: the tenant's own notification
    addresses and the policy's, once each."""
    return sorted(set(tenant_emails or []) | set(notification_emails(policy)))
