"""Tenants and their API keys (stored as SHA-256 hashes; the key itself is shown once)."""
from __future__ import annotations

import hashlib
import re
import secrets
import time
from typing import Any

from pynamodb.exceptions import PutError

from ..core import clock
from ..core.tables import ApiKeyModel, TenantModel, bind_models

TENANT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{1,62}$")
_KEY_CACHE_SECONDS = 60
_key_cache: dict[str, tuple[float, str | None]] = {}


class TenantExists(Exception):
    pass


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def create_tenant(tenant_id: str, name: str, timezone_name: str, notify: list[str]) -> TenantModel:
    if not TENANT_ID.match(tenant_id):
        raise ValueError("tenant_id must be 2-63 letters, digits, hyphens or underscores")
    bind_models()
    tenant = TenantModel(
        tenant_id,
        name=name,
        timezone=timezone_name,
        notify_emails=set(notify) or None,
        policy_version=0,
        created_at=clock.utcnow(),
        no_accounts_yet=True,
    )
    try:
        tenant.save(condition=TenantModel.tenant_id.does_not_exist())
    except PutError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            raise TenantExists(tenant_id) from None
        raise
    return tenant


def get_tenant(tenant_id: str) -> TenantModel | None:
    bind_models()
    try:
        return TenantModel.get(tenant_id)
    except TenantModel.DoesNotExist:
        return None


_tenant_cache: dict[str, tuple[float, TenantModel | None]] = {}
TENANT_CACHE_SECONDS = 60


def get_tenant_cached(tenant_id: str, now: float | None = None) -> TenantModel | None:
    """The tenant, cached for a minute per container (workers read it for every message)."""
    now = time.monotonic() if now is None else now
    cached = _tenant_cache.get(tenant_id)
    if cached and cached[0] > now:
        return cached[1]
    tenant = get_tenant(tenant_id)
    _tenant_cache[tenant_id] = (now + TENANT_CACHE_SECONDS, tenant)
    return tenant


def list_tenant_ids() -> list[str]:
    bind_models()
    return [t.tenant_id for t in TenantModel.scan(attributes_to_get=["tenant_id"])]


def issue_api_key(tenant_id: str) -> str:
    """Creates a new key for the tenant and returns it (only its hash is stored)."""
    bind_models()
    api_key = "cbz_" + secrets.token_urlsafe(32)
    ApiKeyModel(
        hash_key(api_key),
        tenant_id=tenant_id,
        key_prefix=api_key[:8],
        created_at=clock.utcnow(),
    ).save()
    return api_key


def tenant_for_key(api_key: str, now: float | None = None) -> str | None:
    """The tenant owning an active key, cached for a minute per container."""
    now = time.monotonic() if now is None else now
    digest = hash_key(api_key)
    cached = _key_cache.get(digest)
    if cached and cached[0] > now:
        return cached[1]
    bind_models()
    try:
        record = ApiKeyModel.get(digest)
        tenant_id = None if record.revoked else record.tenant_id
    except ApiKeyModel.DoesNotExist:
        tenant_id = None
    _key_cache[digest] = (now + _KEY_CACHE_SECONDS, tenant_id)
    return tenant_id


def clear_key_cache() -> None:
    _key_cache.clear()
    _tenant_cache.clear()


class VersionConflict(Exception):
    pass


def save_policy(tenant: TenantModel, document: dict[str, Any], expected_version: int | None = None) -> int:
    """Stores a new policy version; fails if another writer got there first."""
    from pynamodb.exceptions import UpdateError

    current = int(tenant.policy_version or 0)  # a NumberAttribute (float to the type checker) holding a whole number
    if expected_version is not None and int(expected_version) != current:
        raise VersionConflict()
    try:
        tenant.update(
            actions=[TenantModel.policy.set(document), TenantModel.policy_version.set(current + 1)],
            condition=(TenantModel.policy_version == current) | TenantModel.policy_version.does_not_exist(),
        )
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            raise VersionConflict() from None
        raise
    return current + 1


def claim_first_upload(tenant_id: str) -> bool:
    """Takes the tenant's "no account yet" mark (set when it was created), before any account is
    written: True for the one upload that took it, which has no stored account to read back.
    Every later upload, a retry of that one, a concurrent one and every tenant created before the
    mark existed read their accounts back."""
    from pynamodb.exceptions import UpdateError

    bind_models()
    try:
        TenantModel(tenant_id).update(actions=[TenantModel.no_accounts_yet.remove()],
                                      condition=TenantModel.no_accounts_yet.exists())
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def record_snapshot_as_of(tenant_id: str, as_of: str) -> bool:
    """Moves the tenant's newest applied snapshot date forward to ``as_of`` (never back: a
    concurrent older snapshot does not overwrite a newer one); False when it was already newer."""
    from pynamodb.exceptions import UpdateError

    bind_models()
    try:
        TenantModel(tenant_id).update(
            actions=[TenantModel.snapshot_as_of.set(as_of)],
            condition=TenantModel.tenant_id.exists() & (TenantModel.snapshot_as_of.does_not_exist()
                                                        | (TenantModel.snapshot_as_of <= as_of)),
        )
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True
