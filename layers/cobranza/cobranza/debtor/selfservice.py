"""Opt-outs, promises and the debtor's self-service link (SPEC §5, §7).

Opt-outs arrive three ways and all end in ``record_opt_out``: the tenant's systems
(``POST /v1/accounts/{id}/opt-outs``, e.g. relaying an SMS "BAJA" reply), the debtor's signed
link (``POST /v1/self/{token}/opt-out``), and the email's one-click unsubscribe header, which
posts to the same link. An opt-out is one atomic ADD to the account's set of opted-out
channels: the sender's claim is conditioned on that set, so it takes effect before the next send.

The link opened in a browser shows the debtor's page (debtor.page, SPEC §9): ``page_view``
gathers it; its forms post to the same two routes with a form token (``links.form_token``),
which ``promise_from_form`` and ``opt_out_from_form`` check before they record anything.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Mapping

from ..accounts import status as account_status
from ..accounts import store as accounts_repo
from ..accounts import timeline as timeline_repo
from ..accounts.channels import AUTOMATED_CHANNELS
from ..core import clock
from ..core.errors import Forbidden, Invalid, NotFound, Unauthenticated, Unprocessable
from ..core.instants import local_date, utc_stamp
from ..core.settings import get_settings
from ..core.signing import link_key
from ..payments import promises
from ..payments import rows as payment_rows
from ..payments.rules import money_of
from ..tenants import store as tenants_repo
from ..tenants.policy import effective_policy, payment_instructions
from . import links, page

OPT_OUT_SOURCES = ("api", "sms_keyword", "email_link", "debtor_link", "agent", "phone_call")
MAX_PROMISE_DAYS = 30
BLOCKED_FOR_PROMISE = account_status.NO_PROMISE


def links_for(tenant_id: str, account_id: str, channel: str, now: datetime) -> dict[str, str]:
    """The self-service and opt-out links of a reminder (none when links are not configured)."""
    base, key = get_settings().self_service_url, link_key()
    if not base or not key:
        return {}
    token = links.sign(key, tenant_id, account_id, now)
    root = f"{base.rstrip('/')}/v1/self/{token}"
    return {"self_service_url": root, "opt_out_url": f"{root}/opt-out?channel={channel}"}


def parse_channels(raw: Any) -> list[str]:
    """The channels of an opt-out request: a list of names, "all", or nothing (= all)."""
    if raw in (None, "", "all", ["all"]):
        return sorted(AUTOMATED_CHANNELS)
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not raw or any(c not in AUTOMATED_CHANNELS for c in raw):
        raise Unprocessable("validation_failed", "channels must be a list of email, sms, whatsapp (or \"all\")",
                       [{"field": "channels", "allowed": sorted(AUTOMATED_CHANNELS)}])
    return sorted(set(raw))


def record_opt_out(tenant_id: str, account_id: str, channels: Iterable[str], source: str,
                   now: datetime | None = None) -> dict[str, Any]:
    now = now or clock.utcnow()
    channels = sorted(set(channels))
    stamp = utc_stamp(now)
    if not accounts_repo.add_to_set(tenant_id, account_id, "opted_out_channels", channels, stamp):
        raise NotFound("not_found", f"account {account_id} not found")
    timeline_repo.put_new({
        "account_key": timeline_repo.account_key(tenant_id, account_id),
        "entry_id": f"{stamp}#opt_out#{'+'.join(channels)}", "kind": "opt_out", "tenant_id": tenant_id,
        "account_id": account_id, "channels": channels, "source": source, "status": "recorded", "created_at": stamp,
    })
    account = accounts_repo.read_account(tenant_id, account_id) or {}
    return {"account_id": account_id, "opted_out_channels": sorted(account.get("opted_out_channels") or channels),
            "recorded_at": stamp, "source": source}


def account_opt_out(tenant_id: str, account_id: str, body: Mapping[str, Any] | None) -> dict[str, Any]:
    body = body or {}
    if not isinstance(body, dict):
        raise Invalid("bad_request", "the body must be a JSON object")
    source = body.get("source") or "api"
    if source not in OPT_OUT_SOURCES:
        raise Unprocessable("validation_failed", "unknown opt-out source",
                       [{"field": "source", "allowed": list(OPT_OUT_SOURCES)}])
    return record_opt_out(tenant_id, account_id, parse_channels(body.get("channels")), source)


# ---------------------------------------------------------------- the debtor's link
class LinkExpired(Unauthenticated):
    """A genuine link past its expiry (opting out still takes it)."""


def check_link(token: str, now: datetime | None = None, allow_expired: bool = False) -> tuple[str, str]:
    """(tenant_id, account_id) of a genuine link token, without reading anything: the link is
    the debtor's credential, so its routes check it before they read the body."""
    key = link_key()
    if key is None:
        raise NotFound("not_found", "self-service links are not enabled")
    try:
        return links.verify(key, token, now or clock.utcnow(), allow_expired)
    except links.InvalidLink as exc:
        if exc.reason == "expired":
            raise LinkExpired("unauthorized", "this link has expired") from None
        raise Unauthenticated("unauthorized", "this link is not valid") from None


def _from_token(token: str, now: datetime, allow_expired: bool = False) -> tuple[Any, dict[str, Any]]:
    tenant_id, account_id = check_link(token, now, allow_expired)
    tenant = tenants_repo.get_tenant(tenant_id)
    account = accounts_repo.read_account(tenant_id, account_id)
    if tenant is None or account is None:
        raise NotFound("not_found", "this account is no longer available")
    return tenant, account


def self_view(token: str, now: datetime | None = None) -> dict[str, Any]:
    """What the debtor sees: the balance and what they can do (no other personal data)."""
    now = now or clock.utcnow()
    tenant, account = _from_token(token, now)
    return {
        "lender": tenant.name,
        "balance": f"{money_of(account).balance:.2f}",
        "currency": account["currency"],
        "due_date": account["due_date"],
        "payment_reference": account.get("payment_reference"),
        "status": account_status.of(account),
        "promise": {"amount": f"{Decimal(account['promise_amount']):.2f}", "date": account.get("promise_date")}
        if account.get("status") == "promised" and account.get("promise_amount") is not None else None,
        "opted_out_channels": sorted(account.get("opted_out_channels") or []),
        "actions": {"promise": f"/v1/self/{token}/promise", "opt_out": f"/v1/self/{token}/opt-out"},
    }


def self_opt_out(token: str, channels: Any, now: datetime | None = None) -> dict[str, Any]:
    now = now or clock.utcnow()
    tenant, account = _from_token(token, now, allow_expired=True)  # opting out never expires
    result = record_opt_out(tenant.tenant_id, account["account_id"], parse_channels(channels), "debtor_link", now)
    return {"opted_out_channels": result["opted_out_channels"], "recorded_at": result["recorded_at"]}


def self_promise(token: str, body: Mapping[str, Any] | None, now: datetime | None = None) -> dict[str, Any]:
    now = now or clock.utcnow()
    tenant, account = _from_token(token, now)
    promise = promises.parse(body, account, local_date(now, tenant.timezone))
    recorded = promises.record(tenant.tenant_id, account, promise, "debtor_link", now, promises.grace_days(tenant.policy))
    return {"status": "promised", "promise": {"amount": recorded["promise"]["amount"],
                                              "date": recorded["promise"]["due_on"]},
            "recorded_at": recorded["recorded_at"]}


def parse_promise(body: Mapping[str, Any], balance: Decimal, today: date,
                  field: str = "") -> tuple[Decimal, date, list[dict[str, str]]]:
    """A promise's amount (positive, at most the balance) and date (today to 30 days ahead),
    with the problems found (``field`` prefixes their names)."""
    problems = []
    try:
        amount = Decimal(str(body.get("amount")))
        if not amount.is_finite() or amount <= 0 or amount > balance:
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        amount = Decimal(0)
        problems.append({"field": field + "amount", "message": "a positive amount, at most the balance"})
    try:
        on = date.fromisoformat(str(body.get("date")))
        if not today <= on <= today + timedelta(days=MAX_PROMISE_DAYS):
            raise ValueError
    except ValueError:
        on = today
        problems.append({"field": field + "date", "message": f"an ISO date from today to {MAX_PROMISE_DAYS} days ahead"})
    return amount, on, problems


# ---------------------------------------------------------------- the debtor's page (SPEC §9)
def _day(text: Any) -> date | None:
    try:
        return date.fromisoformat(str(text))
    except ValueError:
        return None


def page_view(token: str, now: datetime | None = None, expired: bool = False) -> page.Page:
    """What the debtor's page shows, with a fresh form token; ``expired`` takes a link past its
    expiry (the page then offers opting out only). ``root`` is the token: the caller answering
    a form post sets it to ``../<token>``."""
    now = now or clock.utcnow()
    tenant, account = _from_token(token, now, allow_expired=expired)
    key = link_key()
    assert key is not None  # nosec B101  # _from_token checked the link with it
    today = local_date(now, tenant.timezone)
    promise = None
    if account_status.of(account) == "promised" and account.get("promise_amount") is not None:
        promised_on = _day(account.get("promise_date"))
        promise = page.Promise(Decimal(account["promise_amount"]), promised_on) if promised_on else None
    return page.Page(
        root=token, form_token=links.form_token(key, token, now), lender=tenant.name, today=today,
        max_promise_date=today + timedelta(days=payment_rows.MAX_PROMISE_DAYS),
        balance=money_of(account).balance, currency=str(account.get("currency") or "MXN"),
        due_date=_day(account.get("due_date")), payment_reference=account.get("payment_reference") or None,
        payment_instructions=payment_instructions(effective_policy(tenant.policy)),
        status=account_status.of(account), promise=promise,
        opted_out=frozenset(account.get("opted_out_channels") or ()), expired=expired)


def check_form_token(token: str, form: Mapping[str, Any], now: datetime) -> None:
    """403 unless the form carries a form token this link's page issued lately: a form posted
    from another site (or an old tab) records nothing."""
    key = link_key()
    if key is None or not links.form_token_valid(key, token, form.get("csrf"), now):
        raise Forbidden("forbidden", "the form is stale or did not come from the debtor's page")


def promise_from_form(token: str, form: Mapping[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """The page's promise form (``amount``, ``date``, ``csrf``)."""
    now = now or clock.utcnow()
    check_link(token, now)
    check_form_token(token, form, now)
    return self_promise(token, {"amount": form.get("amount"), "date": form.get("date")}, now)


def opt_out_from_form(token: str, form: Mapping[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """The page's opt-out form: a checkbox ``channel_<name>`` (value ``1``) per channel, and ``csrf``."""
    now = now or clock.utcnow()
    check_link(token, now, allow_expired=True)  # opting out never expires
    check_form_token(token, form, now)
    channels = [name for name in sorted(AUTOMATED_CHANNELS) if form.get(page.CHANNEL_FIELD + name) == "1"]
    if not channels:
        raise Unprocessable("validation_failed", "choose at least one channel",
                            [{"field": "channels", "allowed": sorted(AUTOMATED_CHANNELS)}])
    return self_opt_out(token, channels, now)
