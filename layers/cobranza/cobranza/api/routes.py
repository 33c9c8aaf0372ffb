"""Use cases behind the tenant HTTP API (SPEC §7). Framework-free: the Chalice app in
functions/api only parses requests and shapes responses."""
from __future__ import annotations

import re
import secrets
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Mapping

from ..accounts import status as account_status
from ..accounts import store as accounts_repo
from ..accounts import timeline as timeline_repo
from ..accounts.service import derive_for_item
from ..campaign import calls, outcomes
from ..core import clock, pagination
from ..core.errors import Conflict, Invalid, NotFound, Unprocessable
from ..core.instants import local_date, utc_stamp
from ..core.pagination import parse_limit
from ..core.settings import get_settings
from ..core.tables import TenantModel
from ..debtor import selfservice
from ..payments import promises
from ..payments import rows as payment_rows
from ..payments import rules as payment_rules
from ..payments import service as payments_service
from ..portfolio import files as portfolio_files
from ..portfolio import uploads as uploads_repo
from ..tenants import store as tenants_repo
from ..tenants.policy import PolicyError, effective_policy, validate_policy

UPLOAD_URL_SECONDS = 3600
REPORT_URL_SECONDS = 900
MAX_UPLOAD_BYTES = 5 * 1024**3  # a presigned POST allows up to 5 GB
_FILENAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$")
_UPLOAD_SUFFIXES = (".csv", ".csv.gz", ".xlsx", ".txt")
ACCOUNT_FILTERS = {"stage": "stage", "segment": "segment", "bucket": "aging_bucket", "status": "status"}


def tenant_today(tenant: TenantModel, now: datetime | None = None) -> date:
    now = now or clock.utcnow()
    return local_date(now, tenant.timezone)


def _money(value: Any) -> str | None:
    return None if value is None else f"{Decimal(value):.2f}"


def account_view(item: Mapping[str, Any], policy: Mapping[str, Any], today: date) -> dict[str, Any]:
    """The API shape of an account, with its derived fields as of ``today``."""
    derived = derive_for_item(item, policy, today)
    lat, lon = item.get("lat"), item.get("lon")
    money = payment_rules.money_of(item)
    return {
        "account_id": item["account_id"],
        "debtor_name": item["debtor_name"],
        "status": account_status.of(item),
        "balance": _money(money.balance),
        "credit": _money(money.credit),
        "original_amount": _money(item.get("original_amount")),
        "currency": item["currency"],
        "due_date": item["due_date"],
        "as_of": today.isoformat(),
        "days_past_due": derived.days_past_due,
        "aging_bucket": derived.aging_bucket,
        "stage": derived.stage,
        "amount_tier": derived.amount_tier,
        "risk_score": derived.risk_score,
        "segment": derived.segment,
        "product": item.get("product"),
        "payment_reference": item.get("payment_reference"),
        "contact": {
            "phone": item.get("phone"),
            "email": item.get("email"),
            "whatsapp_opt_in": item.get("whatsapp_opt_in"),
            "opted_out_channels": sorted(item.get("opted_out_channels") or []),
        },
        "address": {
            "street": item.get("address"),
            "city": item.get("city"),
            "state": item.get("state"),
            "postal_code": item.get("postal_code"),
            "timezone": item["timezone"],
        },
        # lat and lon are stored together (portfolio.rows drops a lone one)
        "location": None if lat is None or lon is None else {"lat": float(lat), "lon": float(lon), "source": item.get("geo_source")},
        "attributes": dict(item.get("attributes") or {}),
        "next_action_on": item.get("next_action_on"),
        "created_at": item.get("created_at"),
        "updated_at": item.get("updated_at"),
    }


def get_account(tenant: TenantModel, account_id: str) -> dict[str, Any]:
    model = accounts_repo.get_account(tenant.tenant_id, account_id)
    if model is None:
        raise NotFound("not_found", f"account {account_id} not found")
    item = {name: getattr(model, name) for name in model.get_attributes()}
    if item.get("attributes") is not None:
        item["attributes"] = item["attributes"].as_dict()
    return account_view(item, effective_policy(tenant.policy), tenant_today(tenant))


def list_accounts(tenant: TenantModel, query: Mapping[str, str]) -> dict[str, Any]:
    """A page of accounts (the query is checked against the document by the API)."""
    limit = parse_limit(query.get("limit"))
    filters = {ACCOUNT_FILTERS[k]: v for k, v in query.items() if k in ACCOUNT_FILTERS and v}
    scope = pagination.scope("accounts", tenant.tenant_id, **filters)
    items, last = accounts_repo.list_accounts(tenant.tenant_id, filters, limit, pagination.start_of(scope, query))
    policy, today = effective_policy(tenant.policy), tenant_today(tenant)
    return {"items": [account_view(i, policy, today) for i in items], "next_token": pagination.next_token(scope, last)}


# ---------------------------------------------------------------- uploads
def create_upload(tenant: TenantModel, body: Mapping[str, Any] | None, now: datetime | None = None) -> dict[str, Any]:
    body = body or {}
    filename = str(body.get("filename") or "")
    mode = str(body.get("mode") or "snapshot")
    problems = []
    if not _FILENAME.match(filename) or not filename.lower().endswith(_UPLOAD_SUFFIXES):
        problems.append({"field": "filename", "message": "a plain file name ending in .csv, .csv.gz, .txt or .xlsx"})
    if mode not in ("snapshot", "delta"):
        problems.append({"field": "mode", "message": "snapshot or delta"})
    if problems:
        raise Unprocessable("validation_failed", "the upload request is not valid", problems)
    now = now or clock.utcnow()
    upload_id = "up_" + secrets.token_hex(10)
    key = portfolio_files.upload_key(tenant.tenant_id, mode, upload_id, filename)
    bucket = get_settings().data_bucket
    post = portfolio_files.presigned_post(bucket, key, upload_id, MAX_UPLOAD_BYTES, UPLOAD_URL_SECONDS)
    put_url, put_headers = portfolio_files.presigned_put(bucket, key, upload_id, UPLOAD_URL_SECONDS)
    stamp = utc_stamp(now)
    uploads_repo.create_pending(tenant.tenant_id, upload_id, key, stamp)
    return {
        "upload_id": upload_id,
        "key": key,
        "mode": mode,
        "expires_at": utc_stamp(now + timedelta(seconds=UPLOAD_URL_SECONDS)),
        "post": {"url": post["url"], "fields": post["fields"]},
        "put": {"url": put_url, "headers": put_headers},
    }


def get_upload(tenant: TenantModel, upload_id: str) -> dict[str, Any]:
    record = uploads_repo.get_upload(tenant.tenant_id, upload_id)
    if record is None:
        raise NotFound("not_found", f"upload {upload_id} not found")
    result: dict[str, Any] = {"upload_id": upload_id, "key": record.key, "status": record.status}
    if record.summary:
        result.update(record.summary)
        result["status"] = record.status
        result["rejects_url"] = portfolio_files.rejects_url(get_settings().data_bucket, tenant.tenant_id, upload_id, REPORT_URL_SECONDS)
    return result


# ---------------------------------------------------------------- policy
def get_policy(tenant: TenantModel) -> dict[str, Any]:
    return {"version": tenant.policy_version or 0, "policy": effective_policy(tenant.policy),
            "customized": sorted((tenant.policy or {}).keys())}


def put_policy(tenant: TenantModel, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise Invalid("bad_request", "the body must be a JSON object (the policy, or {\"policy\": ...})")
    document = body.get("policy", body) if set(body) <= {"policy", "version"} else body
    if not isinstance(document, dict):
        raise Invalid("bad_request", "the policy must be a JSON object")
    version = body.get("version") if "policy" in body else None
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        raise Invalid("bad_request", "version must be a whole number", [{"field": "version"}])
    try:
        validate_policy(document)
        validate_policy(effective_policy(document))
    except PolicyError as exc:
        raise Unprocessable("invalid_policy", str(exc), exc.details) from None
    try:
        version = tenants_repo.save_policy(tenant, document, version)
    except tenants_repo.VersionConflict:
        raise Conflict("version_conflict", "the policy changed since you read it; read it again") from None
    return {"version": version, "policy": effective_policy(document), "customized": sorted(document)}


# ---------------------------------------------------------------- contacts
TIMELINE_FIELDS = ("kind", "status", "reason", "channel", "step", "stage", "segment", "attempt_id", "planned_for",
                   "planned_at", "send_at", "sent_at", "updated_at", "provider_message_id", "last_error", "visit_id", "rules",
                   "channels", "source", "amount", "promise_date", "created_at", "outcome", "agent_id", "reasons",
                   "distance_m", "account_status", "revisit_visit_id", "captured_at",
                   # payments, promises, outcomes and call tasks (SPEC §6b)
                   "payment_id", "paid_at", "method", "reverses", "recorded_at", "balance_after", "credit_after",
                   "status_after", "paid", "installments", "replaces", "made_at", "result", "occurred_at",
                   "duration_s", "notes", "task_id",
                   # alarms about the account (SPEC §8)
                   "alarm_id", "code")
_TIMELINE_MONEY = ("amount", "balance_after", "credit_after", "paid")
_TIMELINE_AT = ("captured_at", "occurred_at", "paid_at", "sent_at", "send_at", "planned_at", "recorded_at", "created_at")


def timeline_view(entry: Mapping[str, Any]) -> dict[str, Any]:
    view = {k: entry[k] for k in TIMELINE_FIELDS if entry.get(k) not in (None, "")}
    for name in _TIMELINE_MONEY:
        if isinstance(view.get(name), Decimal):
            view[name] = f"{view[name]:.2f}"
    if isinstance(view.get("distance_m"), Decimal):
        view["distance_m"] = float(view["distance_m"])
    if isinstance(view.get("duration_s"), Decimal):
        view["duration_s"] = int(view["duration_s"])
    view["at"] = next((entry[k] for k in _TIMELINE_AT if entry.get(k)), None)
    return view


def get_timeline(tenant: TenantModel, account_id: str, query: Mapping[str, str]) -> dict[str, Any]:
    limit = parse_limit(query.get("limit"))
    scope = pagination.scope("timeline", tenant.tenant_id, account=account_id)
    start = pagination.start_of(scope, query)
    if accounts_repo.get_account(tenant.tenant_id, account_id) is None:
        raise NotFound("not_found", f"account {account_id} not found")
    entries, last = timeline_repo.list_entries(tenant.tenant_id, account_id, limit, start)
    return {"account_id": account_id, "items": [timeline_view(e) for e in entries],
            "next_token": pagination.next_token(scope, last)}


def record_payments(tenant: TenantModel, body: Any) -> dict[str, Any]:
    """POST /v1/payments: each item validated on its own (a broken one is ``rejected``), the rest recorded in order."""
    moment = clock.utcnow()
    now, today = utc_stamp(moment), tenant_today(tenant, moment)
    results: list[dict[str, Any] | None] = []
    valid = []
    for raw in body["payments"]:
        payment, errors = payment_rows.to_payment(raw if isinstance(raw, dict) else {}, tenant.timezone, today=today)
        if payment is None:
            field, error = errors[0]
            results.append({"payment_id": str((raw or {}).get("payment_id") or "") if isinstance(raw, dict) else "",
                            "status": "rejected", "reason": f"{field}: {error.code}"})
        else:
            results.append(None)
            valid.append(payment)
    recorded = iter(payments_service.record(tenant.tenant_id, valid, "api", now))
    return {"results": [r if r is not None else next(recorded).to_dict() for r in results]}


def make_promise(tenant: TenantModel, account_id: str, body: Any) -> dict[str, Any]:
    """POST /v1/accounts/{account_id}/promises: the account's open promise (replacing any other)."""
    now = clock.utcnow()
    return promises.record_for(tenant.tenant_id, account_id, body, tenant_today(tenant, now), now,
                               promises.grace_days(tenant.policy))


def record_outcome(tenant: TenantModel, account_id: str, body: Any) -> dict[str, Any]:
    """POST /v1/accounts/{account_id}/outcomes: a call's or contact's result and its next step."""
    return outcomes.record(tenant, account_id, body, clock.utcnow())


def list_calls(tenant: TenantModel, query: Mapping[str, str]) -> dict[str, Any]:
    """GET /v1/calls: the day's call list."""
    return calls.call_list(tenant, query)


def opt_out(tenant: TenantModel, account_id: str, body: Any) -> dict[str, Any]:
    return selfservice.account_opt_out(tenant.tenant_id, account_id, body)
