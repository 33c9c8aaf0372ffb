"""Signed, expiring tokens for the debtors' self-service links (SPEC §7).

A token names one tenant and one account and carries its expiry; it is signed with HMAC-SHA256
so nobody can forge one for another account. ``<payload>.<signature>``, both base64url without
padding; the payload is compact JSON ``[tenant_id, account_id, expires_epoch]``.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime, timedelta

LINK_DAYS = 30
SIGNATURE_BYTES = 16


class InvalidLink(ValueError):
    """The token is malformed, forged, or expired (``reason`` says which)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(key: bytes, payload: str) -> str:
    return _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest()[:SIGNATURE_BYTES])


def sign(key: bytes, tenant_id: str, account_id: str, now: datetime, days: int = LINK_DAYS) -> str:
    expires = int((now + timedelta(days=days)).timestamp())
    payload = _b64(json.dumps([tenant_id, account_id, expires], separators=(",", ":")).encode())
    return f"{payload}.{_signature(key, payload)}"


def verify(key: bytes, token: str, now: datetime, allow_expired: bool = False) -> tuple[str, str]:
    """(tenant_id, account_id) of a valid token; raises InvalidLink otherwise. ``allow_expired``
    accepts a genuine token past its expiry (an opt-out must work from any old message)."""
    payload, _, signature = token.partition(".")
    if not token.isascii() or not payload or not signature or not hmac.compare_digest(_signature(key, payload), signature):
        raise InvalidLink("invalid")
    try:
        tenant_id, account_id, expires = json.loads(_unb64(payload))
    except (ValueError, TypeError):
        raise InvalidLink("invalid") from None
    if now.timestamp() > expires and not allow_expired:
        raise InvalidLink("expired")
    return str(tenant_id), str(account_id)
