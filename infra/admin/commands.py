"""The admin commands, on top of the platform's own repositories."""
from __future__ import annotations

from typing import Any

from cobranza.domain.portfolio import normalize_email, valid_timezone, FieldError
from cobranza.storage import tenants
from cobranza.storage.models import bind_models

from .target import Target


class AdminError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def _bind(target: Target) -> None:
    from cobranza import aws

    aws.reset()
    bind_models(target.settings())


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
