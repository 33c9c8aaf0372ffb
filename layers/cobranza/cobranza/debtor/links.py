"""Signed, expiring tokens for the debtors' self-service links (SPEC §7).

A token names one tenant and one account and carries its expiry; it is signed with HMAC-SHA256
so nobody can forge one for another account. ``<payload>.<signature>``, both base64url without
padding; the payload is compact JSON ``[tenant_id, account_id, expires_epoch]``.

The debtor's page (debtor.page) posts its forms with a form token: ``<issued_epoch>.<signature>``,
an HMAC-SHA256 (same key, its own purpose) over the link token and the instant it was issued,
valid FORM_TOKEN_SECONDS. A cross-site form cannot carry one, so it records nothing.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime, timedelta

LINK_DAYS = 30
SIGNATURE_BYTES = 16
FORM_TOKEN_SECONDS = 2 * 3600
#: A form token issued this far in the future still passes (clocks of two instances may differ).
FORM_TOKEN_SKEW_SECONDS = 300
_FORM_PURPOSE = "debtor-page-form"


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


def _form_signature(key: bytes, link_token: str, issued: int) -> str:
    # a purpose and newlines: never the message of a link's or a page token's signature (base64url)
    message = f"{_FORM_PURPOSE}\n{link_token}\n{issued}"
    return _b64(hmac.new(key, message.encode(), hashlib.sha256).digest()[:SIGNATURE_BYTES])


def form_token(key: bytes, link_token: str, now: datetime) -> str:
    """The hidden field of the page's forms for ``link_token``, issued ``now``."""
    issued = int(now.timestamp())
    return f"{issued}.{_form_signature(key, link_token, issued)}"


def form_token_valid(key: bytes, link_token: str, token: object, now: datetime) -> bool:
    """True when ``token`` was issued by ``form_token`` for this link token, at most
    FORM_TOKEN_SECONDS ago."""
    if not isinstance(token, str) or not token.isascii() or len(token) > 64:
        return False
    issued_text, _, signature = token.partition(".")
    if not issued_text.isdigit() or len(issued_text) > 12 or not signature:
        return False
    issued = int(issued_text)
    if not hmac.compare_digest(_form_signature(key, link_token, issued), signature):
        return False
    age = now.timestamp() - issued
    return -FORM_TOKEN_SKEW_SECONDS <= age <= FORM_TOKEN_SECONDS
