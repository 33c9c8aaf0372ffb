"""Who is calling the API (SPEC §1, §7): a tenant's systems (``x-api-key``) or a field agent
(``Authorization: Bearer <Cognito IdToken>``).

The JWT is verified here, not by an API Gateway authorizer, so the same code runs in AWS and
on the local stack: RS256 signature against the user pool's JWKS (fetched once and cached; a
token signed with an unknown key id refreshes it, at most once a minute), issuer, audience (the
mobile app's client), ``token_use`` "id", expiry, and the ``custom:tenant_id`` and groups claims.
"""
from __future__ import annotations

import base64
import json
import threading
import time
import urllib.request
from dataclasses import dataclass
from typing import Callable, Mapping

from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwk import KeySet, KeySetSerialization

from ..core.errors import Forbidden, Unauthenticated
from ..core.settings import get_settings
from ..core.tables import TenantModel
from . import store as tenants_repo

AGENT_GROUPS = frozenset({"agents", "supervisors"})
JWKS_SECONDS = 3600
JWKS_REFRESH_SECONDS = 60


@dataclass(frozen=True)
class Agent:
    """A signed-in field agent (or supervisor)."""

    tenant_id: str
    agent_id: str  # the Cognito sub
    email: str | None
    groups: frozenset[str]

    @property
    def is_supervisor(self) -> bool:
        return "supervisors" in self.groups


def authenticate_tenant(headers: Mapping[str, str]) -> TenantModel:
    """The tenant of the request's ``x-api-key`` (401 without a valid one)."""
    api_key = headers.get("x-api-key") or ""
    if not api_key:
        raise Unauthenticated("unauthorized", "missing x-api-key header")
    tenant_id = tenants_repo.tenant_for_key(api_key)
    tenant = tenants_repo.get_tenant(tenant_id) if tenant_id else None
    if tenant is None:
        raise Unauthenticated("unauthorized", "invalid API key")
    return tenant


def authenticate_agent(headers: Mapping[str, str], now: float | None = None) -> Agent:
    """The agent of the request's bearer IdToken (401 when missing, forged or expired)."""
    scheme, _, token = (headers.get("authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("unauthorized", "missing bearer token (Authorization: Bearer <IdToken>)")
    return verify_token(token.strip(), now)


def authenticate_tenant_or_agent(headers: Mapping[str, str]) -> tuple[str, Agent | None]:
    """Routes open to the tenant's systems and to any of its agents, the use case deciding what an
    agent may see (its own track): (tenant_id, the agent or None). With an ``Authorization``
    header the token is what counts, not ``x-api-key``."""
    if headers.get("authorization"):
        agent = authenticate_agent(headers)
        return agent.tenant_id, agent
    return authenticate_tenant(headers).tenant_id, None


def authenticate_tenant_or_supervisor(headers: Mapping[str, str]) -> tuple[str, Agent | None]:
    """Routes open to the tenant's systems and its supervisors: (tenant_id, the supervisor or None)."""
    if headers.get("authorization"):
        agent = authenticate_agent(headers)
        if not agent.is_supervisor:
            raise Forbidden("forbidden", "only supervisors (or the tenant's API key) may use this route")
        return agent.tenant_id, agent
    return authenticate_tenant(headers).tenant_id, None


def authenticate_tenant_or_supervisor_model(headers: Mapping[str, str]) -> tuple[TenantModel, Agent | None]:
    """As ``authenticate_tenant_or_supervisor``, with the tenant itself (a supervisor's tenant that
    no longer exists is 401, like a revoked key)."""
    if not headers.get("authorization"):
        return authenticate_tenant(headers), None
    tenant_id, supervisor = authenticate_tenant_or_supervisor(headers)
    tenant = tenants_repo.get_tenant(tenant_id)
    if tenant is None:
        raise Unauthenticated("unauthorized", "this account's tenant no longer exists")
    return tenant, supervisor


# ---------------------------------------------------------------- JWT
def pool_issuer(region: str, pool_id: str) -> str:
    return f"https://cognito-idp.{region}.amazonaws.com/{pool_id}"


def jwks_url() -> str:
    """Where the pool publishes its keys: Cognito in AWS, the embedded AWS locally."""
    settings = get_settings()
    if settings.endpoint_url:
        return f"{settings.endpoint_url.rstrip('/')}/{settings.agent_pool_id}/.well-known/jwks.json"
    return pool_issuer(settings.region, settings.agent_pool_id or "") + "/.well-known/jwks.json"


def _http_json(url: str) -> KeySetSerialization:
    with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310 # nosec B310  # a fixed https/local URL
        document: KeySetSerialization = json.loads(response.read())
    return document


class _Keys:
    """The pool's signing keys, cached per container."""

    def __init__(self) -> None:
        self.fetch: Callable[[str], KeySetSerialization] = _http_json
        self._lock = threading.Lock()
        self._keys: KeySet | None = None
        self._kids: frozenset[object] = frozenset()  # the keys' "kid" values, as published
        self._fetched_at = 0.0

    def for_kid(self, kid: str | None) -> KeySet:
        now = time.monotonic()
        with self._lock:
            stale = self._keys is None or now - self._fetched_at > JWKS_SECONDS
            unknown = kid not in self._kids and now - self._fetched_at > JWKS_REFRESH_SECONDS
            if stale or unknown:
                document = self.fetch(jwks_url())
                self._keys = KeySet.import_key_set(document)
                self._kids = frozenset(k.get("kid") for k in document.get("keys", []))
                self._fetched_at = now
            assert self._keys is not None  # nosec B101  # type narrowing: set above, or the fetch raised
            return self._keys

    def reset(self) -> None:
        with self._lock:
            self._keys, self._kids, self._fetched_at = None, frozenset(), 0.0


signing_keys = _Keys()


def _header_kid(token: str) -> str | None:
    try:
        header = json.loads(_b64decode(token.split(".", 1)[0]))
    except (ValueError, IndexError):
        raise Unauthenticated("unauthorized", "the bearer token is not a JWT") from None
    return header.get("kid") if isinstance(header, dict) else None


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_token(token: str, now: float | None = None) -> Agent:
    settings = get_settings()
    if not settings.agent_pool_id or not settings.agent_pool_client_id:
        raise Unauthenticated("unauthorized", "agent sign-in is not configured")
    keys = signing_keys.for_kid(_header_kid(token))
    try:
        decoded = jwt.decode(token, keys, algorithms=["RS256"])
        jwt.JWTClaimsRegistry(
            now=int(now if now is not None else time.time()),
            leeway=0,
            iss={"essential": True, "value": pool_issuer(settings.region, settings.agent_pool_id)},
            aud={"essential": True, "value": settings.agent_pool_client_id},
            token_use={"essential": True, "value": "id"},
            sub={"essential": True},
            exp={"essential": True},
        ).validate(decoded.claims)
    except ExpiredTokenError:
        raise Unauthenticated("unauthorized", "the token has expired; sign in again") from None
    except (JoseError, ValueError, TypeError):
        raise Unauthenticated("unauthorized", "the token is not valid") from None
    claims = decoded.claims
    tenant_id = claims.get("custom:tenant_id")
    groups = frozenset(claims.get("cognito:groups") or []) & AGENT_GROUPS
    if not isinstance(tenant_id, str) or not tenant_id or not groups:
        raise Forbidden("forbidden", "this user is not a field agent of a tenant")
    return Agent(tenant_id=tenant_id, agent_id=str(claims["sub"]), email=claims.get("email"), groups=groups)
