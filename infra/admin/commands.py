"""The admin commands, on top of the platform's own repositories."""
from __future__ import annotations

import os
from decimal import Decimal
from typing import Any

from cobranza.accounts import alarms
from cobranza.accounts import store as accounts
from cobranza.core import clock
from cobranza.core.instants import utc_stamp
from cobranza.core.tables import bind_models
from cobranza.kpis import service as kpis
from cobranza.portfolio.rows import FieldError, normalize_email, valid_timezone
from cobranza.tenants import store as tenants
from cobranza.visits import agents

from .target import Target


class AdminError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def _bind(target: Target) -> None:
    """Points the platform's code at the target stack (models and plain repositories alike)."""
    from cobranza.core import aws
    from cobranza.core.settings import get_settings

    settings = target.settings()
    os.environ.update(settings.environment())
    get_settings.cache_clear()
    aws.reset()
    bind_models(settings)


def create_tenant(target: Target, tenant_id: str, name: str | None, notify: list[str], timezone: str) -> dict[str, Any]:
    if not tenants.TENANT_ID.match(tenant_id):
        raise AdminError("invalid_tenant_id", "tenant_id: 2-63 letters, digits, hyphens or underscores, starting with a letter or digit")
    if not valid_timezone(timezone):
        raise AdminError("invalid_timezone", f"{timezone} is not an IANA time zone")
    try:
        emails = [normalize_email(e) for e in notify]
    except FieldError:
        raise AdminError("invalid_email", "--notify takes valid email addresses") from None
    _bind(target)
    try:
        tenants.create_tenant(tenant_id, name or tenant_id, timezone, emails)
    except tenants.TenantExists:
        raise AdminError("tenant_exists", f"tenant {tenant_id} already exists; use `tenant key` for another key") from None
    return {"tenant_id": tenant_id, "api_key": tenants.issue_api_key(tenant_id)}


def issue_key(target: Target, tenant_id: str) -> dict[str, Any]:
    _bind(target)
    if tenants.get_tenant(tenant_id) is None:
        raise AdminError("not_found", f"no tenant {tenant_id}")
    return {"tenant_id": tenant_id, "api_key": tenants.issue_api_key(tenant_id)}


def reindex_accounts(target: Target, tenant_id: str | None) -> dict[str, Any]:
    """The accounts list's index keys for one tenant's accounts, or every tenant's (docs/deploy.md)."""
    _bind(target)
    if tenant_id is not None and tenants.get_tenant(tenant_id) is None:
        raise AdminError("not_found", f"no tenant {tenant_id}")
    ids = [tenant_id] if tenant_id else list(tenants.list_tenant_ids())
    return {"tenants": {t: accounts.reindex(t) for t in ids}}


def _tenant_ids(tenant_id: str | None) -> list[str]:
    if tenant_id is not None and tenants.get_tenant(tenant_id) is None:
        raise AdminError("not_found", f"no tenant {tenant_id}")
    return [tenant_id] if tenant_id else list(tenants.list_tenant_ids())


def reindex_alarms(target: Target, tenant_id: str | None) -> dict[str, Any]:
    """The alarm lists' keys for alarms stored before them (docs/deploy.md)."""
    _bind(target)
    return {"tenants": {t: alarms.backfill_keys(t) for t in _tenant_ids(tenant_id)}}


def rebuild_kpi_level(target: Target, tenant_id: str | None) -> dict[str, Any]:
    """The KPIs' portfolio level counted again from the accounts (docs/deploy.md)."""
    _bind(target)
    return {"tenants": {t: kpis.rebuild_level(t) for t in _tenant_ids(tenant_id)}}


def copy_accounts(target: Target, source_table: str, segment: int, total_segments: int) -> dict[str, Any]:
    """Every account of an accounts table of an earlier key schema, copied into the stack's
    (docs/deploy.md, "Upgrading a deployed stack")."""
    _bind(target)
    if not 0 <= segment < total_segments:
        raise AdminError("invalid_segment", "--segment must be 0 to --total-segments - 1")
    return accounts.copy_from(source_table, segment, total_segments)


def parse_home(raw: str | None) -> tuple[Decimal, Decimal] | None:
    """``--home LAT,LON`` as decimals (None when not given)."""
    if raw is None:
        return None
    try:
        lat, lon = (Decimal(part.strip()) for part in raw.split(","))
    except (ValueError, ArithmeticError):
        raise AdminError("invalid_home", "--home takes LAT,LON, e.g. 19.4326,-99.1332") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise AdminError("invalid_home", "--home: latitude -90..90, longitude -180..180")
    return lat, lon


def create_agent(target: Target, tenant_id: str, email: str, password: str, supervisor: bool, home: str | None,
                 zones: list[str], capacity: int | None, name: str | None) -> dict[str, Any]:
    """A Cognito user (custom:tenant_id, groups) and its agent record (home base, zones, capacity)."""
    try:
        email = normalize_email(email).lower()  # the sign-in name: one spelling, whatever the case typed
    except FieldError:
        raise AdminError("invalid_email", f"{email} is not a valid email address") from None
    home_base = parse_home(home)
    if capacity is not None and not 1 <= capacity <= 100:
        raise AdminError("invalid_capacity", "--capacity: visits a day, 1 to 100")
    zones = [z.strip() for z in zones if z.strip()]
    _bind(target)
    settings = target.settings()
    if not settings.agent_pool_id or not settings.agent_pool_client_id:
        raise AdminError("no_user_pool", "the stack has no AgentPool/AgentPoolClient (deploy the current template)")
    if tenants.get_tenant(tenant_id) is None:
        raise AdminError("not_found", f"no tenant {tenant_id}")
    from cobranza.core import aws

    cognito = aws.client("cognito-idp")
    pool = settings.agent_pool_id
    try:
        user = cognito.admin_create_user(
            UserPoolId=pool, Username=email, MessageAction="SUPPRESS",
            UserAttributes=[{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"},
                            {"Name": "custom:tenant_id", "Value": tenant_id}],
        )["User"]
    except cognito.exceptions.UsernameExistsException:
        raise AdminError("agent_exists", f"a user {email} already exists in the agents' pool") from None
    username = user["Username"]
    try:
        cognito.admin_set_user_password(UserPoolId=pool, Username=username, Password=password, Permanent=True)
    except cognito.exceptions.InvalidPasswordException as exc:
        cognito.admin_delete_user(UserPoolId=pool, Username=username)
        raise AdminError("invalid_password", exc.response["Error"].get("Message", "the password breaks the pool's policy")) from None
    groups = ["agents", "supervisors"] if supervisor else ["agents"]
    for group in groups:
        cognito.admin_add_user_to_group(UserPoolId=pool, Username=username, GroupName=group)
    attributes = {a["Name"]: a["Value"] for a in user.get("Attributes", [])}
    agent_id = attributes.get("sub") or username
    agents.create_agent({
        "tenant_id": tenant_id, "agent_id": agent_id, "email": email, "name": name or email.split("@")[0],
        "role": "supervisor" if supervisor else "agent", "zones": zones or None,
        "home_lat": home_base[0] if home_base else None, "home_lon": home_base[1] if home_base else None,
        "capacity": capacity, "active": True, "created_at": utc_stamp(clock.utcnow()),
    })
    return {"agent_id": agent_id, "username": email, "user_pool_id": pool, "client_id": settings.agent_pool_client_id,
            "tenant_id": tenant_id, "groups": groups}
