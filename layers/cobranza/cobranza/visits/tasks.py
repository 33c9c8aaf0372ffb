"""Field-visit tasks (SPEC §6): creation, assignment, lists, the agent's day, photos, pings.

Check-ins and results are in ``visit_results``. A task is created by the campaign's field-visit
step or by ``POST /v1/visits`` and assigned at once to the nearest agent covering the account's
zone with a slot left that day (``visits.rules.rank_agents``; the slot is one conditional
increment on the agent), else it stays ``unassigned``.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from ..accounts import alarms as alarms_repo
from ..accounts import status as account_status
from ..accounts import store as accounts_repo
from ..core import clock, instants, pagination
from ..core.errors import Conflict, Invalid, NotFound, Unauthenticated, Unprocessable
from ..core.instants import utc_stamp
from ..core.observability import logger
from ..core.settings import get_settings
from ..core.signing import link_key
from ..debtor import links
from ..payments.rules import money_of
from ..tenants import store as tenants_repo
from ..tenants.auth import Agent
from ..tenants.policy import effective_policy, geo_rules, visit_settings
from . import agents as agents_repo
from . import geo, questionnaires, tracks
from . import photos as photo_store
from . import rules as visit_rules
from . import store as visits_repo

MAX_SCHEDULE_DAYS = 60
PHOTO_TYPES = {"image/jpeg": "jpg", "image/png": "png"}
PHOTO_URL_SECONDS = 900
PHOTO_GET_SECONDS = 300
PHOTO_LINK_DAYS = 7
MAX_PINGS = 500
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def tenant_policy(tenant_id: str) -> dict[str, Any]:
    tenant = tenants_repo.get_tenant_cached(tenant_id)
    if tenant is None:
        raise NotFound("not_found", "tenant not found")
    return effective_policy(tenant.policy)


def tenant_zone(tenant_id: str) -> ZoneInfo:
    tenant = tenants_repo.get_tenant_cached(tenant_id)
    return ZoneInfo(tenant.timezone if tenant else "America/Mexico_City")


def tenant_today(tenant_id: str, now: datetime) -> date:
    return now.astimezone(tenant_zone(tenant_id)).date()


# ---------------------------------------------------------------- tasks
def account_snapshot(account: Mapping[str, Any]) -> dict[str, Any]:
    """What a visit keeps of its account: enough to find, verify and report it."""
    return {name: account.get(name) for name in ("debtor_name", "address", "city", "state", "postal_code", "lat",
                                                  "lon", "geo_source", "balance", "currency", "timezone", "phone", "segment")}


def new_task(tenant_id: str, account: Mapping[str, Any], visit_id: str, scheduled_on: date, source: str,
             now: datetime, policy: Mapping[str, Any], *, attempt: int = 1, notes: str | None = None,
             questionnaire: str | None = None, previous_visit_id: str | None = None) -> dict[str, Any]:
    settings = visit_settings(policy)
    return {
        "tenant_id": tenant_id, "visit_id": visit_id, "account_id": account["account_id"],
        **visits_repo.index_fields(tenant_id, "unassigned", None),
        "scheduled_on": scheduled_on.isoformat(), "due_on": (scheduled_on + timedelta(days=settings.sla_days)).isoformat(),
        "source": source, "attempt": attempt, "notes": notes, "previous_visit_id": previous_visit_id,
        "questionnaire": questionnaire or settings.questionnaire,
        "account": account_snapshot(account), "created_at": utc_stamp(now),
    }


class Assigner:
    """Assigns a tenant's new tasks; reads the tenant's agents once (a night's run, a request)."""

    def __init__(self, tenant_id: str, policy: Mapping[str, Any], agents: list[dict[str, Any]] | None = None):
        self.tenant_id = tenant_id
        self.default_capacity = visit_settings(policy).capacity_per_day
        self._agents: dict[str, dict[str, Any]] | None = None if agents is None else {a["agent_id"]: a for a in agents}

    @property
    def agents(self) -> dict[str, dict[str, Any]]:
        if self._agents is None:
            self._agents = {a["agent_id"]: a for a in agents_repo.list_agents(self.tenant_id)}
        return self._agents

    def capacity(self, agent: Mapping[str, Any]) -> int:
        return int(agent.get("capacity") or self.default_capacity)

    def assign(self, task: dict[str, Any], agent_id: str | None = None) -> dict[str, Any]:
        """Sets the task's agent (the one asked for, else the best with a slot) or leaves it unassigned."""
        day = date.fromisoformat(task["scheduled_on"])
        if agent_id:
            candidates = [agent_id] if agent_id in self.agents else []
        else:
            account = task["account"]
            slots = [visit_rules.AgentSlot(
                agent_id=a["agent_id"], zones=tuple(a.get("zones") or ()),
                home=(float(a["home_lat"]), float(a["home_lon"])) if a.get("home_lat") is not None else None,
                capacity=self.capacity(a), load=agents_repo.load_on(a, day), active=a.get("active", True) is not False,
            ) for a in self.agents.values()]
            target = (float(account["lat"]), float(account["lon"])) if account.get("lat") is not None else None
            keys = visit_rules.zone_keys(account.get("state"), account.get("city"), account.get("postal_code"))
            candidates = visit_rules.rank_agents(slots, target, keys, account.get("postal_code"))
        for candidate in candidates:
            agent = self.agents[candidate]
            if agents_repo.reserve_slot(agent, day, self.capacity(agent)):
                agent[agents_repo.load_field(day)] = agents_repo.load_on(agent, day) + 1
                task.update(visits_repo.index_fields(self.tenant_id, "assigned", candidate),
                            assigned_at=task["created_at"])
                return task
            agent[agents_repo.load_field(day)] = self.capacity(agent)  # full after all: skip it from now on
        return task


def _scheduled_on(raw: Any, today: date) -> date | None:
    """The requested day (today when none), or None when it is not a day from today to the limit."""
    if raw is None:
        return today
    try:
        day = date.fromisoformat(str(raw))
    except ValueError:
        return None
    return day if today <= day <= today + timedelta(days=MAX_SCHEDULE_DAYS) else None


def _visit_request_problems(body: Mapping[str, Any], policy: Mapping[str, Any],
                            scheduled_on: date | None) -> list[dict[str, Any]]:
    """Every problem of a ``POST /v1/visits`` body, in field order."""
    problems: list[dict[str, Any]] = []
    account_id = body.get("account_id")
    if not isinstance(account_id, str) or not account_id:
        problems.append({"field": "account_id", "message": "required"})
    if scheduled_on is None:
        problems.append({"field": "scheduled_on", "message": f"an ISO date from today to {MAX_SCHEDULE_DAYS} days ahead"})
    notes = body.get("notes")
    if notes is not None and (not isinstance(notes, str) or len(notes) > 500):
        problems.append({"field": "notes", "message": "text of at most 500 characters"})
    form = body.get("questionnaire")
    if form is not None and form not in policy["questionnaires"]:
        problems.append({"field": "questionnaire", "message": "the id of a questionnaire of the policy",
                         "allowed": sorted(policy["questionnaires"])})
    agent_id = body.get("agent_id")
    if agent_id is not None and not isinstance(agent_id, str):
        problems.append({"field": "agent_id", "message": "an agent id"})
    return problems


def _open_account(tenant_id: str, account_id: str) -> dict[str, Any]:
    """The account a visit is planned for: it exists and is not closed."""
    account = accounts_repo.read_account(tenant_id, account_id)
    if account is None:
        raise NotFound("not_found", f"account {account_id} not found")
    if account_status.of(account) in account_status.CLOSED:
        raise Conflict("conflict", f"the account is {account['status']}; no visit can be planned")
    return account


def create_visit(tenant_id: str, body: Any, now: datetime | None = None) -> dict[str, Any]:
    """``POST /v1/visits``: a visit task for an account, assigned at once when an agent can take it."""
    now = now or clock.utcnow()
    if not isinstance(body, dict):
        raise Invalid("bad_request", "the body must be a JSON object with account_id")
    policy, today = tenant_policy(tenant_id), tenant_today(tenant_id, now)
    scheduled_on = _scheduled_on(body.get("scheduled_on"), today)
    problems = _visit_request_problems(body, policy, scheduled_on)
    if problems:
        raise Unprocessable("validation_failed", "the visit request is not valid", problems)
    assert scheduled_on is not None  # nosec B101  # type narrowing: an invalid day was a problem, raised above
    account = _open_account(tenant_id, body["account_id"])
    assigner = Assigner(tenant_id, policy)
    agent_id = body.get("agent_id")
    if agent_id and agent_id not in assigner.agents:
        raise Unprocessable("validation_failed", "the visit request is not valid",
                       [{"field": "agent_id", "message": "no such agent"}])
    task = new_task(tenant_id, account, "vis_" + secrets.token_hex(12), scheduled_on, "api", now, policy,
                    notes=body.get("notes"), questionnaire=body.get("questionnaire"))
    assigner.assign(task, agent_id)
    if agent_id and task["status"] != "assigned":
        raise Conflict("conflict", f"agent {agent_id} has no slot left on {scheduled_on.isoformat()}")
    visits_repo.create_task(task)
    return visit_view(task)


def campaign_visit_id(tenant_id: str, account_id: str, step_id: str, on: date) -> str:
    seed = f"{tenant_id}|{account_id}|{step_id}|{on.isoformat()}"
    return "vis_" + hashlib.sha256(seed.encode()).hexdigest()[:24]


# ---------------------------------------------------------------- views and lists
def visit_view(visit: Mapping[str, Any], photo_links: str | None = None) -> dict[str, Any]:
    snapshot = visit.get("account") or {}
    view = {
        "visit_id": visit["visit_id"], "account_id": visit["account_id"], "status": visit["status"],
        "agent_id": visit.get("agent_id"), "scheduled_on": visit.get("scheduled_on"), "due_on": visit.get("due_on"),
        "source": visit.get("source"), "attempt": int(visit.get("attempt") or 1), "notes": visit.get("notes"),
        "questionnaire": visit.get("questionnaire"), "previous_visit_id": visit.get("previous_visit_id"),
        "debtor_name": snapshot.get("debtor_name"),
        "address": {k: snapshot.get(k) for k in ("address", "city", "state", "postal_code")},
        "location": {"lat": float(snapshot["lat"]), "lon": float(snapshot["lon"])} if snapshot.get("lat") is not None else None,
        "created_at": visit.get("created_at"), "assigned_at": visit.get("assigned_at"),
        "checkin": _json_ready(visit.get("checkin")),
        "result": _result_view(visit.get("result")),
        "revisit_visit_id": visit.get("revisit_visit_id"),
        "photos": sorted(visit.get("photos") or []),
    }
    if photo_links and view["photos"]:
        view["photo_urls"] = {key: photo_url(visit["tenant_id"], key, base=photo_links) for key in view["photos"]}
    return view


def _result_view(result: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not result:
        return None
    view: dict[str, Any] = _json_ready(result)  # a mapping stays a dict
    if result.get("promise"):
        view["promise"] = {"amount": f"{Decimal(str(result['promise']['amount'])):.2f}", "date": result["promise"]["date"]}
    return view


def _json_ready(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, set, tuple)):
        return [_json_ready(v) for v in (sorted(value) if isinstance(value, set) else value)]
    return value


def parse_day(raw: str | None, field: str = "date") -> str | None:
    if raw in (None, ""):
        return None
    try:
        if not _ISO_DAY.match(str(raw)):
            raise ValueError(raw)
        return date.fromisoformat(str(raw)).isoformat()
    except ValueError:
        raise Invalid("bad_request", f"{field} must be an ISO date (YYYY-MM-DD)", [{"field": field}]) from None


def list_visits(tenant_id: str, query: Mapping[str, str], limit: int) -> dict[str, Any]:
    """A page of the tenant's visits (the query is checked against the document by the API)."""
    status = query.get("status") or None
    if status and status not in visits_repo.STATUSES:
        raise Invalid("bad_request", "unknown status", [{"field": "status", "allowed": list(visits_repo.STATUSES)}])
    filters = {"status": status, "agent": query.get("agent") or None, "date": parse_day(query.get("date"))}
    scope = pagination.scope("visits", tenant_id, **filters)
    items, last = visits_repo.list_visits(tenant_id, status=filters["status"], agent_id=filters["agent"],
                                          day=filters["date"], limit=limit, start=pagination.start_of(scope, query))
    return {"items": [visit_view(v) for v in items], "next_token": pagination.next_token(scope, last)}


def get_visit(tenant_id: str, visit_id: str, agent: Agent | None = None, base_url: str | None = None) -> dict[str, Any]:
    """One visit with links to its photos (``base_url``: the API's public URL)."""
    visit = visits_repo.get_visit(tenant_id, visit_id)
    if visit is None or (agent is not None and not agent.is_supervisor and visit.get("agent_id") != agent.agent_id):
        raise NotFound("not_found", f"visit {visit_id} not found")
    return visit_view(visit, photo_links=get_settings().self_service_url or base_url or "")


def my_visits(agent: Agent, query: Mapping[str, str], now: datetime | None = None) -> dict[str, Any]:
    """The agent's visits of a day, in route order, each with its account and questionnaire."""
    now = now or clock.utcnow()  # the query was checked against the document (cobranza.api.contract)
    day = parse_day(query.get("date")) or tenant_today(agent.tenant_id, now).isoformat()
    policy = tenant_policy(agent.tenant_id)
    me = agents_repo.get_agent(agent.tenant_id, agent.agent_id) or {}
    visits = [v for v in visits_repo.agent_day(agent.tenant_id, agent.agent_id, day) if v["status"] != "cancelled"]
    accounts = visits_repo.accounts_by_id(agent.tenant_id, {v["account_id"] for v in visits})
    visits = [v for v in visits if not _cancelled_for_account(v, accounts.get(v["account_id"]), now)]
    start, start_from = _route_start(me, day, tenant_zone(agent.tenant_id))
    stops = [(v["visit_id"], *_coordinates(v, accounts.get(v["account_id"]))) for v in visits]
    order = {vid: i for i, vid in enumerate(visit_rules.nearest_neighbour_route(start, stops))}
    forms = policy["questionnaires"]
    items = []
    for visit in sorted(visits, key=lambda v: order[v["visit_id"]]):
        view = visit_view(visit)
        account = accounts.get(visit["account_id"])
        if account is not None:
            lat_lon = _coordinates(visit, account)
            view["location"] = {"lat": lat_lon[0], "lon": lat_lon[1]} if lat_lon[0] is not None else None
            view["account"] = {
                "account_id": account["account_id"], "debtor_name": account.get("debtor_name"),
                "status": account_status.of(account), "balance": f"{money_of(account).balance:.2f}",
                "currency": account.get("currency"),
                "days_past_due": None if account.get("days_past_due") is None else int(account["days_past_due"]),
                "stage": account.get("stage"), "phone": account.get("phone"),
                "promise": {"amount": f"{account['promise_amount']:.2f}", "date": account.get("promise_date")}
                if account.get("promise_amount") is not None else None,
            }
        form_id = visit.get("questionnaire") or questionnaires.DEFAULT_QUESTIONNAIRE_ID
        view["questionnaire"] = {"id": form_id, **forms.get(form_id, questionnaires.DEFAULT_QUESTIONNAIRES.get(form_id, {}))}
        view["route_position"] = order[visit["visit_id"]] + 1
        items.append(view)
    return {"date": day, "agent_id": agent.agent_id, "route_from": start_from,
            "start": {"lat": start[0], "lon": start[1]} if start else None, "items": items}


def _cancelled_for_account(visit: Mapping[str, Any], account: Mapping[str, Any] | None, now: datetime) -> bool:
    """Cancels a task not yet started whose account owes nothing now or was closed since it was
    planned (paid by a payment, settled or withdrawn by a file): no visit to a debtor who paid.
    True when the task is now cancelled (False: someone checked in meanwhile, it goes on)."""
    if account is None or visit["status"] not in ("assigned", "unassigned"):
        return False
    current = account_status.of(account)
    if current not in account_status.CLOSED - {"legal"} and money_of(account).balance > 0:
        return False
    reason = "account_paid" if current in ("paid", "active", "promised", "payment_reported") else f"account_{current}"
    cancelled, overdue_alarm = visits_repo.cancel_open(visit["tenant_id"], visit["visit_id"], reason, utc_stamp(now))
    if overdue_alarm:  # the visit past its SLA is no longer needed: its alarm's cause is gone
        alarms_repo.resolve(visit["tenant_id"], overdue_alarm, "visit_overdue", "visit_cancelled", utc_stamp(now))
    return cancelled


def _coordinates(visit: Mapping[str, Any], account: Mapping[str, Any] | None) -> tuple[float | None, float | None]:
    source = account if account is not None and account.get("lat") is not None else visit.get("account") or {}
    if source.get("lat") is None:
        return None, None
    return float(source["lat"]), float(source["lon"])


def _route_start(agent: Mapping[str, Any], day: str, zone: ZoneInfo) -> tuple[tuple[float, float] | None, str | None]:
    """Where the day's route starts: the agent's last position if it is from that (local) day, else home."""
    at = agent.get("position_at")
    if agent.get("position_lat") is not None and at and parse_instant(at).astimezone(zone).date().isoformat() == day:
        return (float(agent["position_lat"]), float(agent["position_lon"])), "last_position"
    if agent.get("home_lat") is not None:
        return (float(agent["home_lat"]), float(agent["home_lon"])), "home"
    return None, None


# ---------------------------------------------------------------- photos
def photo_upload(agent: Agent, body: Any, now: datetime | None = None) -> dict[str, Any]:
    """A presigned POST for one photo of one of the agent's open visits (JPEG or PNG, size-capped)."""
    now = now or clock.utcnow()
    if not isinstance(body, dict):
        raise Invalid("bad_request", "the body must be a JSON object with visit_id and content_type")
    content_type = body.get("content_type")
    if content_type not in PHOTO_TYPES:
        raise Unprocessable("validation_failed", "the photo request is not valid",
                       [{"field": "content_type", "message": "image/jpeg or image/png", "allowed": sorted(PHOTO_TYPES)}])
    visit = own_visit(agent, str(body.get("visit_id") or ""))
    if visit["status"] not in ("assigned", "checked_in"):
        raise Conflict("conflict", f"the visit is {visit['status']}; photos go with an open visit")
    max_bytes = visit_settings(tenant_policy(agent.tenant_id)).photo_max_bytes
    key = photo_store.new_key(agent.tenant_id, visit["visit_id"], PHOTO_TYPES[content_type])
    post = photo_store.upload_form(key, content_type, max_bytes, PHOTO_URL_SECONDS)
    return {"photo_key": key, "visit_id": visit["visit_id"], "content_type": content_type, "max_bytes": max_bytes,
            "expires_at": utc_stamp(now + timedelta(seconds=PHOTO_URL_SECONDS)),
            "upload": {"url": post["url"], "fields": post["fields"]}}


def own_visit(agent: Agent, visit_id: str) -> dict[str, Any]:
    """One of the agent's own visits; 404 for anyone else's (of its tenant or another)."""
    visit = visits_repo.get_visit(agent.tenant_id, visit_id) if visit_id else None
    if visit is None or visit.get("agent_id") != agent.agent_id:
        raise NotFound("not_found", f"visit {visit_id} not found")
    return visit


def photo_url(tenant_id: str, key: str, now: datetime | None = None, base: str | None = None) -> str | None:
    """An expiring link to a visit photo (``GET /v1/photos/{token}``), for emails and views."""
    base, secret = base or get_settings().self_service_url, link_key()
    if not base or not secret:
        return None
    token = links.sign(secret, tenant_id, key, now or clock.utcnow(), days=PHOTO_LINK_DAYS)
    return f"{base.rstrip('/')}/v1/photos/{token}"


def open_photo(token: str, now: datetime | None = None) -> str:
    """The short-lived S3 URL behind a photo link (the route redirects to it)."""
    secret = link_key()
    if secret is None:
        raise NotFound("not_found", "photo links are not enabled")
    try:
        tenant_id, key = links.verify(secret, token, now or clock.utcnow())
    except links.InvalidLink as exc:
        raise Unauthenticated("unauthorized", "this link has expired" if exc.reason == "expired" else "this link is not valid") from None
    if not photo_store.is_of_tenant(tenant_id, key):
        raise NotFound("not_found", "no such photo")
    return photo_store.download_url(key, PHOTO_GET_SECONDS)


# ---------------------------------------------------------------- pings and positions
def record_locations(agent: Agent, body: Any, now: datetime | None = None) -> dict[str, Any]:
    """A batch of pings from the phone's buffer: the valid ones count, each is kept as a point of
    the agent's track of its day (``tracks``), the newest becomes the agent's last position;
    invalid ones are listed (so the app can drop them) and never block the rest."""
    now = now or clock.utcnow()
    pings = body.get("pings") if isinstance(body, dict) else None
    if not isinstance(pings, list) or not 1 <= len(pings) <= MAX_PINGS:
        raise Unprocessable("validation_failed", f"pings must be a list of 1 to {MAX_PINGS} locations",
                       [{"field": "pings"}])
    policy = geo_rules(tenant_policy(agent.tenant_id))
    accepted, rejected = [], []
    for index, ping in enumerate(pings):
        problems = location_problems(ping, now, policy, prefix=f"pings[{index}]")
        if problems:
            rejected.append({"index": index, "problems": problems})
        else:
            accepted.append(ping)
    newest = None
    if accepted:
        tracks.record(agent.tenant_id, agent.agent_id, accepted, now)  # first: a failure is a 500, the phone resends
        newest = max(accepted, key=lambda p: parse_instant(p["captured_at"]))
        position = {"captured_at": utc_stamp(parse_instant(newest["captured_at"])),
                    **geo.reported_position(newest["lat"], newest["lon"], newest.get("accuracy_m", 0),
                                            newest.get("battery_pct"))}
        newer, silent_alarm = agents_repo.record_position(agent.tenant_id, agent.agent_id, position, utc_stamp(now))
        if not newer:
            newest = None  # a newer position was already stored
        if silent_alarm:  # the agent pings again: the silence it was alarmed for is over
            alarms_repo.resolve(agent.tenant_id, silent_alarm, "agent_silent", "agent_pinged", utc_stamp(now))
    return {"accepted": len(accepted), "rejected": rejected,
            "last_position_updated": newest is not None, "received_at": utc_stamp(now)}


def agent_positions(tenant_id: str, now: datetime | None = None) -> dict[str, Any]:
    items = []
    for agent in sorted(agents_repo.list_agents(tenant_id), key=lambda a: a.get("email") or a["agent_id"]):
        has = agent.get("position_lat") is not None
        items.append({
            "agent_id": agent["agent_id"], "email": agent.get("email"), "name": agent.get("name"),
            "role": agent.get("role", "agent"), "zones": sorted(agent.get("zones") or []),
            "position": {"lat": float(agent["position_lat"]), "lon": float(agent["position_lon"]),
                         "accuracy_m": float(agent.get("position_accuracy_m") or 0),
                         "battery_pct": _json_ready(agent.get("position_battery_pct")),
                         "captured_at": agent.get("position_at")} if has else None,
            "last_seen_at": agent.get("last_seen_at"),
        })
    return {"items": items, "as_of": utc_stamp(now or clock.utcnow())}


# ---------------------------------------------------------------- shared input checks
def parse_instant(raw: Any) -> datetime:
    """An RFC 3339 instant with its offset, from a request's JSON value."""
    if not isinstance(raw, str):
        raise ValueError("not a string")
    return instants.parse_instant(raw)


def location_problems(raw: Any, now: datetime, rules: Mapping[str, Any], prefix: str = "location",
                      check_age: bool = True) -> list[dict[str, str]]:
    """Problems of a location (lat, lon, accuracy_m, captured_at, battery_pct); [] when valid."""
    if not isinstance(raw, dict):
        return [{"field": prefix, "message": "an object with lat, lon, accuracy_m and captured_at"}]
    problems = []
    for name, low, high in (("lat", -90, 90), ("lon", -180, 180)):
        value = raw.get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            problems.append({"field": f"{prefix}.{name}", "message": f"a number from {low} to {high}"})
    accuracy = raw.get("accuracy_m")
    if isinstance(accuracy, bool) or not isinstance(accuracy, (int, float)) or not 0 <= accuracy <= 100_000:
        problems.append({"field": f"{prefix}.accuracy_m", "message": "metres, a number from 0"})
    battery = raw.get("battery_pct")
    if battery is not None and (isinstance(battery, bool) or not isinstance(battery, (int, float)) or not 0 <= battery <= 100):
        problems.append({"field": f"{prefix}.battery_pct", "message": "a number from 0 to 100"})
    if "captured_at" in raw:
        try:
            captured = parse_instant(raw["captured_at"])
            if check_age and captured > now + timedelta(minutes=int(rules.get("max_future_minutes", 5))):
                problems.append({"field": f"{prefix}.captured_at", "message": "in the future"})
            elif check_age and captured < now - timedelta(days=int(rules.get("max_age_days", 7))):
                problems.append({"field": f"{prefix}.captured_at", "message": "older than the replay window"})
        except ValueError:
            problems.append({"field": f"{prefix}.captured_at", "message": "an ISO 8601 instant with offset, e.g. 2026-11-23T10:15:00-06:00"})
    else:
        problems.append({"field": f"{prefix}.captured_at", "message": "required"})
    return problems


# ---------------------------------------------------------------- uploaded photos (PhotoFunction)
_MAGIC = {"jpg": (b"\xff\xd8\xff",), "png": (b"\x89PNG\r\n\x1a\n",)}


def register_photo(key: str, size: int) -> str:
    """Checks one object put under ``visits/`` and records it on its visit: "registered",
    "deleted" (not JPEG/PNG by its bytes, too big, or no such visit: it must not stay) or
    "missing" (already gone)."""
    owner, extension = photo_store.owner(key), photo_store.extension(key)
    verdict = None
    if owner is None or extension not in _MAGIC:
        verdict = "unexpected key"
    elif not 0 < size <= 10 * 1024 * 1024:
        verdict = "size"
    else:
        head = photo_store.head(key, 16)
        if head is None:
            return "missing"  # deleted again before this event came
        if not head.startswith(_MAGIC[extension]):
            verdict = "content is not " + extension
    if verdict is None:
        assert owner is not None  # nosec B101  # type narrowing: a key without an owner has a verdict
        if visits_repo.add_photo(*owner, key):
            return "registered"
        verdict = "no such visit"
    photo_store.delete(key)
    logger.warning("visit photo refused and deleted", extra={"reason": verdict, "size": size})
    return "deleted"
