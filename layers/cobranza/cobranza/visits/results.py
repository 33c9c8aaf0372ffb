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
from ..accounts import store as accounts_repo
from ..accounts import timeline as timeline_repo
from ..accounts.store import to_wire
from ..core import aws, clock
from ..core.errors import Conflict, Forbidden, Invalid, NotFound, Unprocessable
from ..core.instants import utc_stamp
from ..core.observability import logger, metrics
from ..core.settings import get_settings
from ..debtor.selfservice import BLOCKED_FOR_PROMISE, parse_promise
from ..tenants import store as tenants_repo
from ..tenants.auth import Agent
from . import agents as agents_repo
from . import geo, questionnaires
from . import rules as visit_rules
from . import store as visits_repo
from .tasks import Assigner, campaign_visit_id, location_problems, new_task, parse_instant, photo_prefix, tenant_policy

MAX_TRIES = 5
MAX_PHOTOS = 20
OPEN = ("assigned", "checked_in")
#: An outcome's status change does not apply to an account that is already closed.
BLOCKED_FOR_STATUS = account_status.CLOSED
_w = accounts_repo.wire_value


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
        settings = get_settings()
        keys: dict[str, list[dict[str, Any]]] = {
            settings.visits_table: [visits_repo.key(self.principal.tenant_id, self.visit_id)],
            settings.agents_table: [agents_repo.item_key(self.principal.tenant_id, self.principal.agent_id)],
        }
        if self.fresh_account and self.visit is not None:
            keys[settings.accounts_table] = [{"tenant_id": {"S": self.principal.tenant_id},
                                              "account_id": {"S": self.visit["account_id"]}}]
        found = accounts_repo.batch_get(keys)
        visits, agents = found[settings.visits_table], found[settings.agents_table]
        self.visit = visits[0] if visits else None
        if self.visit is None or self.visit.get("agent_id") != self.principal.agent_id:
            raise NotFound("not_found", f"visit {self.visit_id} not found")
        if not agents:
            raise Forbidden("forbidden", "this user is not registered as a field agent of the tenant")
        self.agent = agents[0]
        accounts = found.get(settings.accounts_table) or []
        self.account = accounts[0] if accounts else None
        if self.fresh_account and self.account is None:
            raise Conflict("conflict", "the visit's account no longer exists")

    def target(self) -> tuple[float, float] | None:
        return _target(self.account if self.fresh_account else (self.visit or {}).get("account"))


def _agent_update(agent: Mapping[str, Any], fix: _Fix, visit_id: str, now: datetime,
                  revisit_day: date | None = None) -> dict[str, Any]:
    """The agent's fixes with this one (a mock location is not a place the agent was), and a slot
    of the revisit's day when the revisit stays with this agent."""
    settings = get_settings()
    version = int(agent.get("fix_version") or 0)
    names: dict[str, str] = {"#v": "fix_version"}
    values: dict[str, Any] = {":v1": {"N": str(version + 1)}}
    sets = ["#v = :v1"]
    if not fix.is_mock:
        oldest = utc_stamp(now - agents_repo.FIX_WINDOW)
        entry = agents_repo.encode_fix(fix.stamp, fix.lat, fix.lon, fix.accuracy_m, visit_id)
        values[":fixes"] = {"L": [{"S": e} for e in agents_repo.merged_fixes(agent.get("fixes") or [], entry, oldest)]}
        sets.append("fixes = :fixes")
    removes: list[str] = []
    if revisit_day is not None:
        take, removes, load_names, load_values = agents_repo.load_update(agent, revisit_day)
        sets.append(take)
        names.update(load_names)
        values.update(load_values)
    expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
    if version:
        condition, values[":v0"] = "attribute_exists(agent_id) AND #v = :v0", {"N": str(version)}
    else:
        condition = "attribute_exists(agent_id) AND attribute_not_exists(#v)"
    return {"Update": {"TableName": settings.agents_table, "Key": agents_repo.item_key(agent["tenant_id"], agent["agent_id"]),
                       "UpdateExpression": expression, "ConditionExpression": condition,
                       "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}}


# ---------------------------------------------------------------- check-in
def check_in(principal: Agent, visit_id: str, body: Any, now: datetime | None = None) -> dict[str, Any]:
    now = now or clock.utcnow()
    if not isinstance(body, dict):
        raise Invalid("bad_request", "the body must be a JSON object with location and captured_at")
    rules = tenant_policy(principal.tenant_id).get("geo_verification", {})
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
        index = visits_repo.index_fields(principal.tenant_id, status, principal.agent_id)
        settings = get_settings()
        visit_update = {"Update": {
            "TableName": settings.visits_table, "Key": visits_repo.key(principal.tenant_id, visit_id),
            "UpdateExpression": "SET checkin = :c, #st = :st, status_key = :sk",
            "ConditionExpression": "agent_id = :me AND #st IN (:a, :ci)",
            "ExpressionAttributeNames": {"#st": "status"},
            "ExpressionAttributeValues": {":c": _w(checkin), ":st": _w(status), ":sk": _w(index["status_key"]),
                                          ":me": _w(principal.agent_id), ":a": _w("assigned"), ":ci": _w("checked_in")},
        }}
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
            fix, outcome, answers, promise, photos = _validate(principal, visit, body, now, policy, tenant.timezone)
            validated = True
        plan = _Plan(principal, reader, fix, outcome, answers, promise, photos, body, key, digest, now, policy,
                     ZoneInfo(tenant.timezone))
        try:
            visits_repo.write_together(plan.items)
        except visits_repo.WriteConflict as conflict:
            plan.explain(conflict)
            continue
        metrics.add_metric(name=f"VisitResults{plan.verification.status.title()}", unit="Count", value=1)
        logger.info("visit result stored", extra={"visit_id": visit_id, "outcome": outcome,
                                                  "verification": plan.verification.status})
        return 201, plan.answer
    raise Conflict("conflict", "the visit changed while saving the result; send it again")


def _replay(visit: Mapping[str, Any], key: str, digest: str) -> tuple[int, dict[str, Any]] | None:
    if not visit.get("result_key"):
        return None
    if visit["result_key"] == key and visit.get("result_hash") == digest:
        return 201, json.loads(visit["result_response"])
    if visit["result_key"] == key:
        raise Conflict("idempotency_conflict", "this idempotency_key was already used with a different result",
                       [{"field": "idempotency_key"}])
    raise Conflict("conflict", "the visit already has a result")


def _validate(principal: Agent, visit: Mapping[str, Any], body: Mapping[str, Any], now: datetime,  # noqa: C901  (complexity over 10: to be split, issue 13)
              policy: Mapping[str, Any], timezone: str) -> tuple[_Fix, str, dict[str, Any], dict[str, Any] | None, list[str]]:
    """Every problem of the result at once (422), or its parsed parts."""
    rules = policy.get("geo_verification", {})
    fix, problems = _parse_fix(body, now, rules)
    outcome = body.get("outcome")
    if outcome not in visit_rules.OUTCOMES:
        problems.append({"field": "outcome", "message": "one of the visit outcomes", "allowed": list(visit_rules.OUTCOMES)})
    photos = body.get("photos") or []
    prefix = photo_prefix(principal.tenant_id, visit["visit_id"])
    if not isinstance(photos, list) or len(photos) > MAX_PHOTOS or not all(isinstance(p, str) for p in photos):
        problems.append({"field": "photos", "message": f"a list of at most {MAX_PHOTOS} photo keys"})
        photos = []
    for i, photo in enumerate(photos):
        if not photo.startswith(prefix) or "/" in photo[len(prefix):] or ".." in photo:
            problems.append({"field": f"photos[{i}]", "message": f"not a photo of this visit (keys start with {prefix})"})
    missing = _missing_photos(visit, [p for p in photos if p.startswith(prefix)], prefix)
    for photo in missing:
        problems.append({"field": f"photos[{photos.index(photo)}]", "message": "this photo was not uploaded"})
    answers = body.get("answers") if body.get("answers") is not None else {}
    form_id = visit.get("questionnaire") or questionnaires.DEFAULT_QUESTIONNAIRE_ID
    form = policy.get("questionnaires", {}).get(form_id) or questionnaires.DEFAULT_QUESTIONNAIRES.get(form_id)
    if not isinstance(answers, dict):
        problems.append({"field": "answers", "message": "an object: question id -> answer"})
        answers = {}
    elif form:
        problems.extend(questionnaires.validate_answers(form, answers, set(photos)))
    promise = None
    if outcome == "promise_to_pay" or body.get("promise") is not None:
        raw = body.get("promise")
        if outcome != "promise_to_pay":
            problems.append({"field": "promise", "message": "only with the outcome promise_to_pay"})
        elif not isinstance(raw, dict):
            problems.append({"field": "promise", "message": "required for promise_to_pay: {amount, date}"})
        else:
            visited_on = fix.captured_at.astimezone(ZoneInfo(timezone)).date() if fix else now.date()
            balance = Decimal(str((visit.get("account") or {}).get("balance") or "0"))
            amount, on, promise_problems = parse_promise(raw, balance, visited_on, field="promise.")
            problems.extend(promise_problems)
            promise = {"amount": amount, "date": on.isoformat()}
    notes = body.get("notes")
    if notes is not None and (not isinstance(notes, str) or len(notes) > 2000):
        problems.append({"field": "notes", "message": "text of at most 2000 characters"})
    unknown = sorted(set(body) - {"idempotency_key", "captured_at", "location", "battery_pct", "outcome", "answers",
                                  "promise", "photos", "notes"})
    for name in unknown:
        problems.append({"field": name, "message": "unknown field"})
    if problems:
        raise Unprocessable("validation_failed", "the result is not valid", problems)
    assert fix is not None  # nosec B101  # type narrowing: an invalid fix was a problem, raised above
    return fix, str(outcome), _exact(answers), promise, photos


def _missing_photos(visit: Mapping[str, Any], photos: list[str], prefix: str) -> list[str]:
    """Photos not known to exist: PhotoFunction records each upload on its visit; one just
    uploaded may not be recorded yet, so the bucket is asked (one list) only then."""
    registered = set(visit.get("photos") or [])
    unknown = [p for p in photos if p not in registered]
    if not unknown:
        return []
    listed = aws.client("s3").list_objects_v2(Bucket=get_settings().data_bucket, Prefix=prefix, MaxKeys=1000)
    present = {o["Key"] for o in listed.get("Contents", [])}
    return [p for p in unknown if p not in present]


class _Plan:
    """The writes of one result, decided from what was read."""

    def __init__(self, principal: Agent, reader: _Reader, fix: _Fix, outcome: str, answers: dict[str, Any],  # noqa: C901  (complexity over 10: to be split, issue 13)
                 promise: dict[str, Any] | None, photos: list[str], body: Mapping[str, Any], key: str, digest: str,
                 now: datetime, policy: Mapping[str, Any], zone: ZoneInfo):
        self.reader = reader
        visit = reader.visit
        assert visit is not None  # nosec B101  # type narrowing: read() raised 404 when there is none
        settings = get_settings()
        tenant_id, account_id, visit_id = principal.tenant_id, visit["account_id"], visit["visit_id"]
        stamp, captured = utc_stamp(now), fix.stamp
        target = reader.target()
        self.verification = _verify(fix, target, reader.agent, visit_id, now, policy.get("geo_verification", {}))
        accepted = self.verification.status != "rejected"
        visited_on = fix.captured_at.astimezone(zone).date()
        attempt = int(visit.get("attempt") or 1)
        step = visit_rules.next_step(outcome, policy.get("outcome_rules", {}), attempt, visited_on) if accepted else None

        # the account: what the outcome changes, if it still may
        account = reader.account if reader.fresh_account else None
        superseded = bool(account and account.get("last_visit_at") and account["last_visit_at"] > captured)
        new_status = step.account_status if step else None
        status_note = None
        if new_status and account is not None:
            current = account_status.of(account)
            blocked = BLOCKED_FOR_PROMISE if new_status == "promised" else BLOCKED_FOR_STATUS
            if superseded:
                new_status, status_note = None, "a later visit already set the account's status"
            elif current in blocked:
                new_status, status_note = None, f"the account is {current}"
        geo_reference = (fix.lat, fix.lon) if accepted and target is None and self.verification.status == "verified" else None
        self.items: list[dict[str, Any]] = []
        self.roles: list[str] = []

        # the revisit (not_home, ...): with the same agent when it has a slot that day
        revisit = None
        revisit_day = step.revisit_on if step else None
        if revisit_day is not None:
            snapshot = dict(visit.get("account") or {}, account_id=account_id)
            if geo_reference:
                snapshot.update(lat=geo_reference[0], lon=geo_reference[1], geo_source="visit")
            revisit = new_task(tenant_id, snapshot, campaign_visit_id(tenant_id, account_id, f"revisit:{visit_id}", revisit_day),
                               revisit_day, "revisit", now, policy, attempt=attempt + 1,
                               questionnaire=visit.get("questionnaire"), previous_visit_id=visit_id)
            assigner = Assigner(tenant_id, policy)
            if agents_repo.load_on(reader.agent, revisit_day) < assigner.capacity(reader.agent):
                revisit.update(visits_repo.index_fields(tenant_id, "assigned", principal.agent_id), assigned_at=stamp)
            else:
                revisit_day = None  # stays unassigned: no slot taken

        status = "done" if accepted else "rejected"
        next_step = step.as_dict() if step else None
        if next_step is not None:
            next_step = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in next_step.items()}
        self.answer = {
            "visit_id": visit_id, "account_id": account_id, "status": status, "outcome": outcome,
            "captured_at": captured, "received_at": stamp, "verification": self.verification.as_dict(),
            "account": {"account_id": account_id, "status_changed_to": new_status, "note": status_note,
                        "geo_reference_set": geo_reference is not None},
            "promise": {"amount": f"{promise['amount']:.2f}", "date": promise["date"]} if promise and new_status == "promised" else None,
            "next_step": next_step,
            "revisit": {"visit_id": revisit["visit_id"], "scheduled_on": revisit["scheduled_on"],
                        "status": revisit["status"]} if revisit else None,
            "photos": photos,
        }
        result = {"outcome": outcome, **fix.as_item(), "received_at": stamp, "answers": answers,
                  "promise": promise, "photos": photos, "notes": body.get("notes"),
                  "verification": _exact(self.verification.as_dict()), "next_step": _exact(next_step),
                  "account_status": new_status, "account_note": status_note}
        index = visits_repo.index_fields(tenant_id, status, principal.agent_id)
        self._add("visit", {"Update": {
            "TableName": settings.visits_table, "Key": visits_repo.key(tenant_id, visit_id),
            "UpdateExpression": "SET #st = :st, status_key = :sk, #r = :r, result_key = :k, result_hash = :h, "
                                "result_response = :resp, completed_at = :now, outcome = :o"
                                + (", revisit_visit_id = :rv" if revisit else ""),
            "ConditionExpression": "agent_id = :me AND #st IN (:a, :ci) AND attribute_not_exists(result_key)",
            "ExpressionAttributeNames": {"#st": "status", "#r": "result"},
            "ExpressionAttributeValues": {
                ":st": _w(status), ":sk": _w(index["status_key"]), ":r": {"M": to_wire(result)}, ":k": _w(key),
                ":h": _w(digest), ":resp": _w(json.dumps(self.answer, separators=(",", ":"))), ":now": _w(stamp),
                ":o": _w(outcome), ":me": _w(principal.agent_id), ":a": _w("assigned"), ":ci": _w("checked_in"),
                **({":rv": _w(revisit["visit_id"])} if revisit else {}),
            },
        }})
        self._add("agent", _agent_update(reader.agent, fix, visit_id, now, revisit_day))
        if accepted:
            self._account_update(tenant_id, account_id, target, new_status, promise, geo_reference, captured, outcome,
                                 stamp, account, superseded)
        self._add("timeline", {"Put": {"TableName": settings.timeline_table, "Item": to_wire({
            "account_key": timeline_repo.account_key(tenant_id, account_id),
            "entry_id": f"{captured}#visit#{visit_id}", "kind": "visit", "tenant_id": tenant_id, "account_id": account_id,
            "visit_id": visit_id, "agent_id": principal.agent_id, "status": self.verification.status, "outcome": outcome,
            "reasons": list(self.verification.reasons) or None, "distance_m": _exact(self.verification.distance_m),
            "account_status": new_status, "amount": promise["amount"] if promise and new_status == "promised" else None,
            "promise_date": promise["date"] if promise and new_status == "promised" else None,
            "revisit_visit_id": revisit["visit_id"] if revisit else None, "captured_at": captured, "created_at": stamp,
        })}})
        for code, subject, message in self._alarms(visit_id, account_id, outcome, step):
            self._add("alarm", {"Put": {"TableName": settings.alarms_table, "Item": to_wire({
                "tenant_id": tenant_id, "alarm_id": f"{stamp[:10]}#{code}#{subject}", "code": code, "subject": subject,
                "message": message, "status": "open", "raised_at": stamp, "visit_id": visit_id,
            })}})
        if revisit:
            self._add("revisit", {"Put": {"TableName": settings.visits_table, "Item": to_wire(revisit),
                                          "ConditionExpression": "attribute_not_exists(visit_id)"}})

    def _add(self, role: str, item: dict[str, Any]) -> None:
        self.roles.append(role)
        self.items.append(item)

    def _account_update(self, tenant_id: str, account_id: str, target: tuple[float, float] | None,
                        new_status: str | None, promise: dict[str, Any] | None, geo_reference: tuple[Decimal, Decimal] | None,
                        captured: str, outcome: str, stamp: str, account: Mapping[str, Any] | None, superseded: bool) -> None:
        names = {"#st": "status"}
        values: dict[str, Any] = {":now": _w(stamp)}
        sets = ["updated_at = :now"]
        conditions = ["attribute_exists(account_id)"]
        if target is None:
            conditions.append("attribute_not_exists(lat)")
        else:
            conditions.append("lat = :tlat AND lon = :tlon")
            values[":tlat"], values[":tlon"] = _w(Decimal(str(target[0]))), _w(Decimal(str(target[1])))
        if account is None:  # from the snapshot: the conditions check what it assumed
            conditions.append("(attribute_not_exists(last_visit_at) OR last_visit_at <= :cap)")
            values[":cap"] = _w(captured)
            if new_status:
                blocked = sorted(BLOCKED_FOR_PROMISE if new_status == "promised" else BLOCKED_FOR_STATUS)
                values.update({f":b{i}": _w(s) for i, s in enumerate(blocked)})
                conditions.append("NOT #st IN (" + ", ".join(f":b{i}" for i in range(len(blocked))) + ")")
        else:  # from a fresh read: nothing may have changed since
            if account.get("last_visit_at"):
                conditions.append("last_visit_at = :seen_visit")
                values[":seen_visit"] = _w(account["last_visit_at"])
            else:
                conditions.append("attribute_not_exists(last_visit_at)")
            conditions.append("#st = :seen_status")
            values[":seen_status"] = _w(account_status.of(account))
        if not superseded:
            sets += ["last_visit_at = :cap", "last_visit_outcome = :o"]
            values[":cap"], values[":o"] = _w(captured), _w(outcome)
        if new_status:
            sets.append("#st = :new")
            values[":new"] = _w(new_status)
            if new_status == "promised" and promise:
                sets += ["promise_date = :pd", "promise_amount = :pa"]
                values[":pd"], values[":pa"] = _w(promise["date"]), _w(promise["amount"])
        if geo_reference:
            sets += ["lat = :glat", "lon = :glon", "geo_source = :gs"]
            values.update({":glat": _w(geo_reference[0]), ":glon": _w(geo_reference[1]), ":gs": _w("visit")})
        if not any("#st" in part for part in sets + conditions):
            names = {}
        self._add("account", {"Update": {
            "TableName": get_settings().accounts_table,
            "Key": {"tenant_id": {"S": tenant_id}, "account_id": {"S": account_id}},
            "UpdateExpression": "SET " + ", ".join(sets), "ConditionExpression": " AND ".join(conditions),
            **({"ExpressionAttributeNames": names} if names else {}), "ExpressionAttributeValues": values,
        }})

    def _alarms(self, visit_id: str, account_id: str, outcome: str,
                step: visit_rules.NextStep | None) -> list[tuple[str, str, str]]:
        alarms = []
        verification = self.verification
        if verification.status in ("flagged", "rejected"):
            alarms.append((f"visit_{verification.status}", f"visit#{visit_id}",
                           f"visit {visit_id} was {verification.status}: {', '.join(verification.reasons)}"))
        if step and step.alarm:
            alarms.append((step.alarm, f"account#{account_id}", f"visit {visit_id} to account {account_id}: {outcome}"))
        return alarms

    def explain(self, conflict: visits_repo.WriteConflict) -> None:
        """After a cancelled transaction: read again, with the account when its conditions failed."""
        failed = {role for role, reason in zip(self.roles, conflict.reasons) if reason not in ("None", "")}
        if "revisit" in failed and failed <= {"revisit"}:
            raise Conflict("conflict", "the revisit task already exists")
        if "account" in failed:
            self.reader.fresh_account = True
