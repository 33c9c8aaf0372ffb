"""Check-ins and results of field visits (SPEC §6).

A result costs two DynamoDB requests on its normal path:

1. one consistent ``BatchGetItem`` of the visit (with the snapshot of its account) and the agent
   (recent fixes, for the speed and repeated-coordinates checks);
2. one ``TransactWriteItems`` that writes everything together: the visit's result and
   verification, the account's update (status, promise, geo reference), the timeline entry, any
   alarm, the revisit task and the agent's fixes. The visits table's stream turns the stored
   result into the tenant's email (VisitResultsPipe -> NotificationsQueue -> NotifyFunction), so
   the notification is part of the same transaction: there is no result without its email.

The account is not read: the transaction's conditions check what the snapshot assumed (the
coordinates, no later visit already applied, a status the outcome may change). When one fails the
account is read and the result planned again from it, so a stale snapshot costs a retry, never a
wrong answer. Results replayed from an offline phone carry their ``idempotency_key``: the same
key and body return the first answer (stored on the visit), another body gets 409. Results are
ordered by ``captured_at``: one captured before the account's last visit is stored and reported
but does not override the later visit's status.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from ..accounts import status as account_status
from ..accounts import timeline as timeline_repo
from ..accounts.alarms import alarm_put, raise_alarm
from ..core import clock
from ..core.errors import Conflict, Forbidden, Invalid, NotFound, Unprocessable
from ..core.instants import local_date, utc_stamp
from ..core.observability import logger, metrics
from ..debtor.selfservice import BLOCKED_FOR_PROMISE, parse_promise
from ..kpis import rules as kpi_rules
from ..kpis import store as kpis_repo
from ..tenants import store as tenants_repo
from ..tenants.auth import Agent
from ..tenants.policy import geo_rules, outcome_rules, questionnaire
from . import agents as agents_repo
from . import geo, questionnaires
from . import photos as photo_store
from . import rules as visit_rules
from . import store as visits_repo
from .tasks import Assigner, campaign_visit_id, location_problems, new_task, parse_instant, tenant_policy

MAX_TRIES = 5
MAX_PHOTOS = 20
OPEN = ("assigned", "checked_in")
#: An outcome's status change does not apply to an account that is already closed.
BLOCKED_FOR_STATUS = account_status.CLOSED


def _exact(value: Any) -> Any:
    """JSON numbers as Decimal (DynamoDB takes no floats)."""
    return json.loads(json.dumps(value), parse_float=Decimal)


@dataclass
class _Fix:
    lat: Decimal
    lon: Decimal
    accuracy_m: Decimal
    is_mock: bool
    provider: str | None
    captured_at: datetime
    battery_pct: Decimal | None

    @property
    def stamp(self) -> str:
        return utc_stamp(self.captured_at)

    def as_item(self) -> dict[str, Any]:
        return {"lat": self.lat, "lon": self.lon, "accuracy_m": self.accuracy_m, "is_mock": self.is_mock,
                "provider": self.provider, "captured_at": self.stamp, "battery_pct": self.battery_pct}


def _parse_fix(body: Mapping[str, Any], now: datetime, rules: Mapping[str, Any]) -> tuple[_Fix | None, list[dict[str, Any]]]:
    location = body.get("location")
    merged = dict(location, captured_at=body.get("captured_at"), battery_pct=body.get("battery_pct")) \
        if isinstance(location, dict) else location
    problems = location_problems(merged, now, rules, check_age=False)  # age is judged (flagged), not refused
    for name in ("captured_at", "battery_pct"):
        for problem in problems:
            if problem["field"] == f"location.{name}":
                problem["field"] = name
    if isinstance(location, dict):
        if not isinstance(location.get("is_mock", False), bool):
            problems.append({"field": "location.is_mock", "message": "true or false"})
        if location.get("provider") is not None and not isinstance(location.get("provider"), str):
            problems.append({"field": "location.provider", "message": "text, e.g. gps, network, fused"})
    if problems:
        return None, problems
    assert isinstance(location, dict)  # nosec B101  # type narrowing: any other location was a problem, returned above
    position = geo.reported_position(location["lat"], location["lon"], location["accuracy_m"], body.get("battery_pct"))
    return _Fix(lat=position["lat"], lon=position["lon"], accuracy_m=position["accuracy_m"],
                is_mock=bool(location.get("is_mock", False)), provider=location.get("provider"),
                captured_at=parse_instant(body["captured_at"]), battery_pct=position["battery_pct"]), []


def _history(agent: Mapping[str, Any]) -> list[geo.Fix]:
    fixes = []
    for entry in agent.get("fixes") or []:
        stamp, lat, lon, accuracy, visit_id = agents_repo.decode_fix(entry)
        fixes.append(geo.Fix(float(lat), float(lon), parse_instant(stamp), float(accuracy), visit_id or None))
    if agent.get("position_lat") is not None and agent.get("position_at"):
        fixes.append(geo.Fix(float(agent["position_lat"]), float(agent["position_lon"]), parse_instant(agent["position_at"]),
                             float(agent.get("position_accuracy_m") or 0), None))
    return fixes


def _verify(fix: _Fix, target: tuple[float, float] | None, agent: Mapping[str, Any], visit_id: str,
            now: datetime, rules: Mapping[str, Any]) -> geo.Verification:
    return geo.verify(lat=float(fix.lat), lon=float(fix.lon), accuracy_m=float(fix.accuracy_m), is_mock=fix.is_mock,
                      captured_at=fix.captured_at, received_at=now, target=target, history=_history(agent),
                      visit_id=visit_id, rules=rules)


def _target(coordinates: Mapping[str, Any] | None) -> tuple[float, float] | None:
    if not coordinates or coordinates.get("lat") is None:
        return None
    return float(coordinates["lat"]), float(coordinates["lon"])


class _Reader:
    """The visit, the agent and (once a condition on it failed) the account, in one BatchGetItem."""

    def __init__(self, agent: Agent, visit_id: str):
        self.principal, self.visit_id = agent, visit_id
        self.fresh_account = False
        self.visit: dict[str, Any] | None = None
        self.agent: dict[str, Any] = {}
        self.account: dict[str, Any] | None = None

    def read(self) -> None:
        account_id = str(self.visit["account_id"]) if self.fresh_account and self.visit is not None else None
        self.visit, agent, self.account = visits_repo.read_visit_and_agent(
            self.principal.tenant_id, self.visit_id, self.principal.agent_id, account_id)
        if self.visit is None or self.visit.get("agent_id") != self.principal.agent_id:
            raise NotFound("not_found", f"visit {self.visit_id} not found")
        if agent is None:
            raise Forbidden("forbidden", "this user is not registered as a field agent of the tenant")
        self.agent = agent
        if self.fresh_account and self.account is None:
            raise Conflict("conflict", "the visit's account no longer exists")

    def target(self) -> tuple[float, float] | None:
        return _target(self.account if self.fresh_account else (self.visit or {}).get("account"))


def _agent_update(agent: Mapping[str, Any], fix: _Fix, visit_id: str, now: datetime,
                  revisit_day: date | None = None) -> dict[str, Any]:
    """The agent's fixes with this one (a mock location is not a place the agent was), and a slot
    of the revisit's day when the revisit stays with this agent."""
    return agents_repo.visit_fix_update(agent, visit_id, None if fix.is_mock else fix.as_item(), now, revisit_day)


# ---------------------------------------------------------------- check-in
def check_in(principal: Agent, visit_id: str, body: Any, now: datetime | None = None) -> dict[str, Any]:
    now = now or clock.utcnow()
    if not isinstance(body, dict):
        raise Invalid("bad_request", "the body must be a JSON object with location and captured_at")
    rules = geo_rules(tenant_policy(principal.tenant_id))
    fix, problems = _parse_fix(body, now, rules)
    if fix is None:
        raise Unprocessable("validation_failed", "the check-in is not valid", problems)
    reader = _Reader(principal, visit_id)
    for _ in range(MAX_TRIES):
        reader.read()
        visit = reader.visit
        assert visit is not None  # nosec B101  # type narrowing: read() raised 404 when there is none
        if visit["status"] not in OPEN:
            raise Conflict("conflict", f"the visit is {visit['status']}; it takes no check-in")
        verification = _verify(fix, reader.target(), reader.agent, visit_id, now, rules)
        checkin = dict(fix.as_item(), verification=_exact(verification.as_dict()), received_at=utc_stamp(now))
        status = "checked_in" if verification.status != "rejected" else visit["status"]
        visit_update = visits_repo.checkin_update(principal.tenant_id, visit_id, principal.agent_id, checkin, status)
        try:
            visits_repo.write_together([visit_update, _agent_update(reader.agent, fix, visit_id, now)])
        except visits_repo.WriteConflict:
            continue
        metrics.add_metric(name=f"CheckIns{verification.status.title()}", unit="Count", value=1)
        return {"visit_id": visit_id, "status": status, "verification": verification.as_dict(),
                "captured_at": fix.stamp, "received_at": utc_stamp(now)}
    raise Conflict("conflict", "the visit changed while saving the check-in; send it again")


# ---------------------------------------------------------------- result
def body_hash(body: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def submit_result(principal: Agent, visit_id: str, body: Any, now: datetime | None = None) -> tuple[int, dict[str, Any]]:
    """Stores a visit's result; (201, answer), or the first answer again for a replay."""
    now = now or clock.utcnow()
    if not isinstance(body, dict):
        raise Invalid("bad_request", "the body must be a JSON object (idempotency_key, captured_at, location, outcome, ...)")
    key = body.get("idempotency_key")
    if not isinstance(key, str) or not 1 <= len(key) <= 128:
        raise Unprocessable("validation_failed", "the result is not valid",
                       [{"field": "idempotency_key", "message": "required: 1 to 128 characters, unique per result"}])
    digest = body_hash(body)
    tenant = tenants_repo.get_tenant_cached(principal.tenant_id)
    if tenant is None:
        raise NotFound("not_found", "tenant not found")
    policy = tenant_policy(principal.tenant_id)
    reader = _Reader(principal, visit_id)
    validated = False
    for _ in range(MAX_TRIES):
        reader.read()
        visit = reader.visit
        assert visit is not None  # nosec B101  # type narrowing: read() raised 404 when there is none
        replay = _replay(visit, key, digest)
        if replay is not None:
            return replay
        if visit["status"] not in OPEN:
            raise Conflict("conflict", f"the visit is {visit['status']}; it takes no result")
        if not validated:
            fix, outcome, answers, promise, photos, outdated = _validate(principal, visit, body, now, policy,
                                                                         tenant.timezone)
            validated = True
        plan = _Plan(principal, reader, fix, outcome, (answers, outdated), promise, photos, body, key, digest, now,
                     policy, ZoneInfo(tenant.timezone))
        try:
            visits_repo.write_together(plan.items)
        except visits_repo.WriteConflict as conflict:
            plan.explain(conflict)
            continue
        metrics.add_metric(name=f"VisitResults{plan.verification.status.title()}", unit="Count", value=1)
        _count(principal, visit, fix.captured_at, outcome, plan, tenant.timezone)
        plan.raise_account_alarm(principal.tenant_id, visit_id, visit["account_id"], utc_stamp(now))
        logger.info("visit result stored", extra={"visit_id": visit_id, "outcome": outcome,
                                                  "verification": plan.verification.status})
        return 201, plan.answer
    raise Conflict("conflict", "the visit changed while saving the result; send it again")


def _count(principal: Agent, visit: Mapping[str, Any], captured_at: datetime, outcome: str, plan: _Plan,
           timezone: str) -> None:
    """The stored result's KPIs (one request): a visit done (verified or not) by its agent, a
    field contact by the debtor's hour (right party or not), a promise made."""
    snapshot = visit.get("account") or {}
    slot = kpi_rules.hour_slot(captured_at, str(snapshot.get("timezone") or timezone))
    verified = 1 if plan.verification.status == "verified" else 0
    counters = {"visits_done": 1, "visits_verified": verified, f"visit_agent.{principal.agent_id}": 1,
                f"visit_agent_verified.{principal.agent_id}": verified, "promises_made": 1 if plan.promised else 0,
                **kpi_rules.contact_counters("field_visit", slot, outcome in visit_rules.RIGHT_PARTY)}
    kpis_repo.add(principal.tenant_id, local_date(captured_at, timezone).isoformat(),
                  str(snapshot.get("segment") or "general"), counters)


def _replay(visit: Mapping[str, Any], key: str, digest: str) -> tuple[int, dict[str, Any]] | None:
    if not visit.get("result_key"):
        return None
    if visit["result_key"] == key and visit.get("result_hash") == digest:
        return 201, visits_repo.stored_answer(visit)
    if visit["result_key"] == key:
        raise Conflict("idempotency_conflict", "this idempotency_key was already used with a different result",
                       [{"field": "idempotency_key"}])
    raise Conflict("conflict", "the visit already has a result")


_RESULT_FIELDS = frozenset({"idempotency_key", "captured_at", "location", "battery_pct", "outcome", "answers", "promise",
                            "photos", "notes"})


def _validate(principal: Agent, visit: Mapping[str, Any], body: Mapping[str, Any], now: datetime,
              policy: Mapping[str, Any], timezone: str
              ) -> tuple[_Fix, str, dict[str, Any], dict[str, Any] | None, list[str], list[dict[str, str]]]:
    """Every problem of the result at once (422), or its parsed parts and the answers that differ
    from the questionnaire as it is now (kept as captured: the agent cannot go back to the door)."""
    fix, problems = _parse_fix(body, now, geo_rules(policy))
    outcome = body.get("outcome")
    if outcome not in visit_rules.OUTCOMES:
        problems.append({"field": "outcome", "message": "one of the visit outcomes", "allowed": list(visit_rules.OUTCOMES)})
    photos, photo_problems = _parse_photos(principal, visit, body.get("photos") or [])
    answers, answer_problems = _parse_answers(visit, body.get("answers"), policy, photos)
    answer_problems, outdated = questionnaires.split_outdated(answer_problems)
    promise, promise_problems = _parse_promise(visit, outcome, body.get("promise"), fix, now, timezone)
    problems += photo_problems + answer_problems + promise_problems + _other_problems(body)
    if problems:
        raise Unprocessable("validation_failed", "the result is not valid", problems)
    assert fix is not None  # nosec B101  # type narrowing: an invalid fix was a problem, raised above
    return fix, str(outcome), _exact(answers), promise, photos, outdated


def _parse_photos(principal: Agent, visit: Mapping[str, Any], photos: Any) -> tuple[list[str], list[dict[str, Any]]]:
    """The result's photo keys (``[]`` when they are not a list of keys), and their problems:
    a key outside the visit's folder, or a photo not uploaded."""
    if not isinstance(photos, list) or len(photos) > MAX_PHOTOS or not all(isinstance(p, str) for p in photos):
        return [], [{"field": "photos", "message": f"a list of at most {MAX_PHOTOS} photo keys"}]
    tenant_id, visit_id = principal.tenant_id, str(visit["visit_id"])
    prefix = photo_store.prefix(tenant_id, visit_id)
    problems: list[dict[str, Any]] = [
        {"field": f"photos[{i}]", "message": f"not a photo of this visit (keys start with {prefix})"}
        for i, photo in enumerate(photos) if not photo_store.is_of_visit(tenant_id, visit_id, photo)]
    missing = _missing_photos(tenant_id, visit, [p for p in photos if p.startswith(prefix)])
    problems += [{"field": f"photos[{photos.index(photo)}]", "message": "this photo was not uploaded"} for photo in missing]
    return photos, problems


def _parse_answers(visit: Mapping[str, Any], answers: Any, policy: Mapping[str, Any],
                   photos: list[str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The answers to the visit's questionnaire (``{}`` when none or not an object), and their problems."""
    if answers is None:
        answers = {}
    form = questionnaire(policy, visit.get("questionnaire"))
    if not isinstance(answers, dict):
        return {}, [{"field": "answers", "message": "an object: question id -> answer"}]
    problems = questionnaires.validate_answers(form, answers, set(photos)) if form else []
    return answers, list(problems)


def _parse_promise(visit: Mapping[str, Any], outcome: Any, raw: Any, fix: _Fix | None, now: datetime,
                   timezone: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The promise of a ``promise_to_pay`` result (None for any other outcome), and its problems;
    its date is judged from the day of the visit (of the fix, else of ``now``)."""
    if outcome != "promise_to_pay":
        return None, [] if raw is None else [{"field": "promise", "message": "only with the outcome promise_to_pay"}]
    if not isinstance(raw, dict):
        return None, [{"field": "promise", "message": "required for promise_to_pay: {amount, date}"}]
    visited_on = local_date(fix.captured_at, timezone) if fix else now.date()
    balance = Decimal(str((visit.get("account") or {}).get("balance") or "0"))
    amount, on, problems = parse_promise(raw, balance, visited_on, field="promise.")
    return {"amount": amount, "date": on.isoformat()}, list(problems)


def _other_problems(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The notes' problem, and one for each unknown field."""
    problems: list[dict[str, Any]] = []
    notes = body.get("notes")
    if notes is not None and (not isinstance(notes, str) or len(notes) > 2000):
        problems.append({"field": "notes", "message": "text of at most 2000 characters"})
    problems += [{"field": name, "message": "unknown field"} for name in sorted(set(body) - _RESULT_FIELDS)]
    return problems


def _missing_photos(tenant_id: str, visit: Mapping[str, Any], photos: list[str]) -> list[str]:
    """Photos not known to exist: PhotoFunction records each upload on its visit; one just
    uploaded may not be recorded yet, so the bucket is asked (one list) only then."""
    registered = set(visit.get("photos") or [])
    unknown = [p for p in photos if p not in registered]
    if not unknown:
        return []
    present = photo_store.keys_of_visit(tenant_id, str(visit["visit_id"]))
    return [p for p in unknown if p not in present]


@dataclass(frozen=True)
class _Submission:
    """One valid result, as the agent sent it, for the visit it was read with."""

    principal: Agent
    visit: Mapping[str, Any]
    fix: _Fix
    outcome: str
    answers: dict[str, Any]
    outdated: list[dict[str, str]]  # answers that differ from the questionnaire as it is now
    promise: dict[str, Any] | None
    photos: list[str]
    notes: Any
    key: str
    digest: str
    now: datetime

    @property
    def tenant_id(self) -> str:
        return self.principal.tenant_id

    @property
    def account_id(self) -> str:
        return str(self.visit["account_id"])

    @property
    def visit_id(self) -> str:
        return str(self.visit["visit_id"])

    @property
    def stamp(self) -> str:
        return utc_stamp(self.now)


@dataclass(frozen=True)
class _Decision:
    """What a result decides from its verification and (read again after a failed condition) the
    account; ``account`` is None when the visit's snapshot stood for it."""

    accepted: bool  # the verification did not reject the position
    step: visit_rules.NextStep | None  # None for a rejected result
    account: Mapping[str, Any] | None
    superseded: bool  # the account has a later visit already
    new_status: str | None  # what the account's status becomes; None: unchanged
    status_note: str | None  # why the step's status change does not apply
    geo_reference: tuple[Decimal, Decimal] | None  # the account gets the visit's coordinates

    @property
    def status(self) -> str:
        return "done" if self.accepted else "rejected"

    def kept_promise(self, promise: dict[str, Any] | None) -> dict[str, Any] | None:
        """The promise, when the account becomes promised."""
        return promise if promise and self.new_status == "promised" else None


def _status_change(new_status: str | None, account: Mapping[str, Any] | None,
                   superseded: bool) -> tuple[str | None, str | None]:
    """The step's status change and, when it does not apply to the (freshly read) account, why not."""
    if not new_status or account is None:
        return new_status, None
    current = account_status.of(account)
    blocked = BLOCKED_FOR_PROMISE if new_status == "promised" else BLOCKED_FOR_STATUS
    if superseded:
        return None, "a later visit already set the account's status"
    if current in blocked:
        return None, f"the account is {current}"
    return new_status, None


def _decide(verification: geo.Verification, fix: _Fix, target: tuple[float, float] | None,
            account: Mapping[str, Any] | None, outcome: str, attempt: int, rules: Mapping[str, Any],
            zone: ZoneInfo) -> _Decision:
    """What the result changes (no I/O): the next step of its outcome, the account's status, the
    account's geo reference (a verified visit to an account without coordinates)."""
    accepted = verification.status != "rejected"
    visited_on = fix.captured_at.astimezone(zone).date()
    step = visit_rules.next_step(outcome, rules, attempt, visited_on) if accepted else None
    superseded = bool(account and account.get("last_visit_at") and account["last_visit_at"] > fix.stamp)
    new_status, status_note = _status_change(step.account_status if step else None, account, superseded)
    geo_reference = (fix.lat, fix.lon) if accepted and target is None and verification.status == "verified" else None
    return _Decision(accepted=accepted, step=step, account=account, superseded=superseded, new_status=new_status,
                     status_note=status_note, geo_reference=geo_reference)


def _revisit(sub: _Submission, decision: _Decision, agent: Mapping[str, Any],
             policy: Mapping[str, Any]) -> tuple[dict[str, Any] | None, date | None]:
    """The revisit task the step plans (not_home, ...), with the same agent when it has a slot that
    day; and the day of the slot it takes (None: no revisit, or it stays unassigned)."""
    revisit_day = decision.step.revisit_on if decision.step else None
    if revisit_day is None:
        return None, None
    tenant_id, account_id, visit_id = sub.tenant_id, sub.account_id, sub.visit_id
    snapshot = dict(sub.visit.get("account") or {}, account_id=account_id)
    if decision.geo_reference:
        snapshot.update(lat=decision.geo_reference[0], lon=decision.geo_reference[1], geo_source="visit")
    attempt = int(sub.visit.get("attempt") or 1)
    revisit = new_task(tenant_id, snapshot, campaign_visit_id(tenant_id, account_id, f"revisit:{visit_id}", revisit_day),
                       revisit_day, "revisit", sub.now, policy, attempt=attempt + 1,
                       questionnaire=sub.visit.get("questionnaire"), previous_visit_id=visit_id)
    if agents_repo.load_on(agent, revisit_day) < Assigner(tenant_id, policy).capacity(agent):
        revisit.update(visits_repo.index_fields(tenant_id, "assigned", sub.principal.agent_id), assigned_at=sub.stamp)
        return revisit, revisit_day
    return revisit, None  # stays unassigned: no slot taken


def _next_step_view(step: visit_rules.NextStep | None) -> dict[str, Any] | None:
    if step is None:
        return None
    return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in step.as_dict().items()}


def _answer(sub: _Submission, verification: geo.Verification, decision: _Decision, next_step: dict[str, Any] | None,
            revisit: Mapping[str, Any] | None) -> dict[str, Any]:
    """What the agent is answered (and is stored on the visit, for a replay)."""
    promise = decision.kept_promise(sub.promise)
    return {
        "visit_id": sub.visit_id, "account_id": sub.account_id, "status": decision.status, "outcome": sub.outcome,
        "captured_at": sub.fix.stamp, "received_at": sub.stamp, "verification": verification.as_dict(),
        "account": {"account_id": sub.account_id, "status_changed_to": decision.new_status, "note": decision.status_note,
                    "geo_reference_set": decision.geo_reference is not None},
        "promise": {"amount": f"{promise['amount']:.2f}", "date": promise["date"]} if promise else None,
        "next_step": next_step,
        "revisit": {"visit_id": revisit["visit_id"], "scheduled_on": revisit["scheduled_on"],
                    "status": revisit["status"]} if revisit else None,
        "photos": sub.photos,
        "answers_outdated": sub.outdated,
    }


def _visit_update(sub: _Submission, verification: geo.Verification, decision: _Decision,
                  next_step: dict[str, Any] | None, revisit: Mapping[str, Any] | None,
                  answer: Mapping[str, Any]) -> dict[str, Any]:
    """The visit's result, status and stored answer, on a visit still open and without a result."""
    result = {"outcome": sub.outcome, **sub.fix.as_item(), "received_at": sub.stamp, "answers": sub.answers,
              "promise": sub.promise, "photos": sub.photos, "notes": sub.notes, "answers_outdated": sub.outdated or None,
              "verification": _exact(verification.as_dict()), "next_step": _exact(next_step),
              "account_status": decision.new_status, "account_note": decision.status_note}
    return visits_repo.result_update(sub.tenant_id, sub.visit_id, sub.principal.agent_id, status=decision.status,
                                     outcome=sub.outcome, result=result, idempotency_key=sub.key, digest=sub.digest,
                                     answer=answer, completed_at=sub.stamp,
                                     revisit_visit_id=revisit["visit_id"] if revisit else None)


def _timeline_put(sub: _Submission, verification: geo.Verification, decision: _Decision,
                  revisit: Mapping[str, Any] | None) -> dict[str, Any]:
    """The visit's entry on the account's timeline."""
    promise = decision.kept_promise(sub.promise)
    return timeline_repo.visit_entry_put(sub.tenant_id, sub.account_id, sub.visit_id, {
        "agent_id": sub.principal.agent_id, "status": verification.status, "outcome": sub.outcome,
        "reasons": list(verification.reasons) or None, "distance_m": _exact(verification.distance_m),
        "account_status": decision.new_status, "amount": promise["amount"] if promise else None,
        "promise_date": promise["date"] if promise else None,
        "revisit_visit_id": revisit["visit_id"] if revisit else None, "captured_at": sub.fix.stamp, "created_at": sub.stamp,
    })


def _alarm_put(sub: _Submission, code: str, subject: str, message: str) -> dict[str, Any]:
    return alarm_put(sub.tenant_id, code, subject, message, sub.stamp,
                     {"visit_id": sub.visit_id, "account_id": sub.account_id})


def _account_update(sub: _Submission, target: tuple[float, float] | None, decision: _Decision) -> dict[str, Any]:
    """The result on its account, on the condition that the account is still what the decision
    was made from (the visit's snapshot, or the account read again)."""
    return visits_repo.account_result_update(
        sub.tenant_id, sub.account_id, target=target, seen=decision.account,
        blocked=BLOCKED_FOR_PROMISE if decision.new_status == "promised" else BLOCKED_FOR_STATUS,
        captured_at=sub.fix.stamp, outcome=sub.outcome, updated_at=sub.stamp, superseded=decision.superseded,
        new_status=decision.new_status, promise=decision.kept_promise(sub.promise), geo_reference=decision.geo_reference)


class _Plan:
    """The writes of one result, decided from what was read: decide (pure), plan the revisit,
    build the answer, then the transaction's items (visit, agent, account, timeline, alarms, revisit)."""

    def __init__(self, principal: Agent, reader: _Reader, fix: _Fix, outcome: str,
                 answers: tuple[dict[str, Any], list[dict[str, str]]], promise: dict[str, Any] | None, photos: list[str],
                 body: Mapping[str, Any], key: str, digest: str, now: datetime, policy: Mapping[str, Any], zone: ZoneInfo):
        self.reader = reader
        visit = reader.visit
        assert visit is not None  # nosec B101  # type narrowing: read() raised 404 when there is none
        sub = _Submission(principal=principal, visit=visit, fix=fix, outcome=outcome, answers=answers[0],
                          outdated=answers[1], promise=promise,
                          photos=photos, notes=body.get("notes"), key=key, digest=digest, now=now)
        target = reader.target()
        self.verification = _verify(fix, target, reader.agent, sub.visit_id, now, geo_rules(policy))
        decision = _decide(self.verification, fix, target, reader.account if reader.fresh_account else None, outcome,
                           int(visit.get("attempt") or 1), outcome_rules(policy), zone)
        revisit, revisit_day = _revisit(sub, decision, reader.agent, policy)
        next_step = _next_step_view(decision.step)
        self.answer = _answer(sub, self.verification, decision, next_step, revisit)
        self.promised = decision.accepted and decision.new_status == "promised"
        self.account_alarm: tuple[str, str, str] | None = None
        self.items: list[dict[str, Any]] = []
        self.roles: list[str] = []
        self._add("visit", _visit_update(sub, self.verification, decision, next_step, revisit, self.answer))
        self._add("agent", _agent_update(reader.agent, fix, sub.visit_id, now, revisit_day))
        if decision.accepted:
            self._add("account", _account_update(sub, target, decision))
        self._add("timeline", _timeline_put(sub, self.verification, decision, revisit))
        for code, subject, message in self._alarms(sub.visit_id, sub.account_id, outcome, decision.step):
            self._add("alarm", _alarm_put(sub, code, subject, message))
        if revisit:
            self._add("revisit", visits_repo.new_task_put(revisit))

    def _add(self, role: str, item: dict[str, Any]) -> None:
        self.roles.append(role)
        self.items.append(item)

    def _alarms(self, visit_id: str, account_id: str, outcome: str,
                step: visit_rules.NextStep | None) -> list[tuple[str, str, str]]:
        alarms = []
        verification = self.verification
        if verification.status in ("flagged", "rejected"):
            alarms.append((f"visit_{verification.status}", f"visit#{visit_id}",
                           f"visit {visit_id} was {verification.status}: {', '.join(verification.reasons)}"))
        if step and step.alarm:  # about the account: raised once the result is stored (raise_account_alarm)
            self.account_alarm = (step.alarm, f"account#{account_id}",
                                  f"visit {visit_id} to account {account_id}: {outcome}")
        return alarms

    def raise_account_alarm(self, sub_tenant: str, visit_id: str, account_id: str, stamp: str) -> None:
        """The outcome rule's alarm (``skip_trace``, ``visits_exhausted``...), with a conditional put
        of its own: a second result to the account the same day neither raises it twice nor reopens
        one a person acknowledged."""
        if self.account_alarm is not None:
            code, subject, message = self.account_alarm
            raise_alarm(sub_tenant, code, subject, message, stamp, {"visit_id": visit_id, "account_id": account_id})

    def explain(self, conflict: visits_repo.WriteConflict) -> None:
        """After a cancelled transaction: read again, with the account when its conditions failed."""
        failed = conflict.failed(self.roles)
        if "revisit" in failed and failed <= {"revisit"}:
            raise Conflict("conflict", "the revisit task already exists")
        if "account" in failed:
            self.reader.fresh_account = True
